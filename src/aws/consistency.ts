import type { StepContext } from '../engine/step.js';
import { isNotFound } from './errors.js';
import { retryWhile, type PollResult } from './wait.js';

/**
 * EC2 is eventually consistent: for a short while after a create, describes and follow-up calls
 * on the new resource may answer `Invalid*.NotFound` ("Eventual consistency in the Amazon EC2
 * API"). These helpers tolerate that, within a bound, and only where the step itself has just
 * created the resource: in an adopt lookup NotFound means absent and is never retried.
 */

/** How long NotFound about a resource created moments ago is taken for "not visible yet". */
export const CONSISTENCY_WINDOW_MS = 2 * 60_000;

type Ctx = Pick<StepContext, 'progress' | 'signal' | 'sleep' | 'now'>;

/**
 * Whether a resource AWS dates `created` is young enough that AWS may not show it everywhere
 * yet: made by this run, or by one that died right after its create.
 */
export function justCreated(ctx: Pick<StepContext, 'now'>, created: Date | undefined): boolean {
  return created !== undefined && ctx.now() - created.getTime() < CONSISTENCY_WINDOW_MS;
}

export interface AfterCreateOptions {
  /** What is being done: "enabling DNS hostnames on vpc-1". */
  what: string;
  /** Give up after this long (ms); the last NotFound is thrown. Default: 2 minutes. */
  timeoutMs?: number;
}

/**
 * Run a follow-up call on a resource created moments ago (ModifyVpcAttribute, CreateTags,
 * AuthorizeSecurityGroupIngress, CreateRoute, …), retrying while AWS says NotFound, with
 * progress and a bound. Pass `created = false` for an adopted resource: the call runs once.
 */
export function afterCreate<T>(
  ctx: Ctx,
  created: boolean,
  fn: () => Promise<T>,
  options: AfterCreateOptions,
): Promise<T> {
  if (!created) return fn();
  return retryWhile(ctx, fn, {
    what: `${options.what} (just created; AWS may not show it yet)`,
    when: isNotFound,
    timeoutMs: options.timeoutMs ?? CONSISTENCY_WINDOW_MS,
    minDelayMs: 1_000,
    maxDelayMs: 5_000,
  });
}

/**
 * A `waitUntil` poll for a resource created moments ago: NotFound during the first
 * `windowMs` reads as "not visible yet" (pending), not as a fatal error. After the window, or
 * when `created` is false, NotFound is thrown as usual.
 */
export function pendingWhileNotFound(
  ctx: Pick<StepContext, 'now'>,
  created: boolean,
  poll: () => Promise<PollResult>,
  windowMs = CONSISTENCY_WINDOW_MS,
): () => Promise<PollResult> {
  if (!created) return poll;
  const start = ctx.now();
  return async () => {
    try {
      return await poll();
    } catch (e) {
      if (isNotFound(e) && ctx.now() - start < windowMs) {
        return { done: false, status: `not visible yet (${(e as Error).name})` };
      }
      throw e;
    }
  };
}
