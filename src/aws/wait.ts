import { CloudmartError, InterruptedError } from '../errors.js';
import type { StepContext } from '../engine/step.js';
import { isDependencyViolation, isTransient, retryingStatus } from './errors.js';

export interface PollResult {
  /** The resource reached the wanted state. */
  done: boolean;
  /** The resource reached a state it will not leave (e.g. "failed"): stop waiting. */
  failed?: string;
  /** Current state, shown in progress ("creating", "2/2 healthy"). */
  status: string;
}

export interface WaitOptions {
  /** What is being waited for: "RDS cloudmart-db to be available". */
  what: string;
  /** First delay between polls (ms). */
  minDelayMs?: number;
  /** Longest delay between polls (ms). Kept short: AWS's own waiters back off to 30 minutes. */
  maxDelayMs?: number;
  /** Give up after this long (ms). */
  timeoutMs: number;
}

export const DEFAULT_MIN_DELAY_MS = 2_000;
export const DEFAULT_MAX_DELAY_MS = 15_000;

/**
 * Poll until `poll` says done. Delays grow ×1.5 from minDelay to maxDelay (≤ 15 s by default),
 * every poll reports progress with the elapsed time, and the abort signal stops the wait.
 * Transient errors (throttling, 5xx) during a poll are retried, not fatal.
 */
export async function waitUntil(
  ctx: Pick<StepContext, 'progress' | 'signal' | 'sleep' | 'now'>,
  poll: () => Promise<PollResult>,
  options: WaitOptions,
): Promise<void> {
  const start = ctx.now();
  let delay = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  const maxDelay = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  for (;;) {
    if (ctx.signal.aborted) throw new InterruptedError();
    let result: PollResult;
    try {
      result = await poll();
    } catch (e) {
      if (!isTransient(e)) throw e;
      result = { done: false, status: retryingStatus(e) };
    }
    const elapsed = ctx.now() - start;
    if (result.failed !== undefined) {
      throw new CloudmartError('AWS_ERROR', `${options.what}: the resource is ${result.failed}`);
    }
    if (result.done) return;
    ctx.progress(`${options.what}: ${result.status} (${formatDuration(elapsed)})`);
    if (elapsed >= options.timeoutMs) {
      throw new CloudmartError(
        'TIMEOUT',
        `${options.what}: still ${result.status} after ${formatDuration(elapsed)}`,
        {
          hint: 'Check the resource in the AWS console, then run the same command again to resume.',
        },
      );
    }
    await ctx.sleep(delay);
    delay = Math.min(maxDelay, Math.round(delay * 1.5));
  }
}

export interface RetryOptions {
  what: string;
  /** Which errors mean "try again later" (default: DependencyViolation and friends). */
  when?: (e: unknown) => boolean;
  timeoutMs: number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Run `fn` until it stops failing with a retryable error, within a bound. Used for deletes
 * that AWS refuses while ENIs of an ALB, RDS or Redis are still being released, and for
 * IAM propagation after a role is created.
 */
export async function retryWhile<T>(
  ctx: Pick<StepContext, 'progress' | 'signal' | 'sleep' | 'now'>,
  fn: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const when = options.when ?? isDependencyViolation;
  const start = ctx.now();
  let delay = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  const maxDelay = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  for (;;) {
    if (ctx.signal.aborted) throw new InterruptedError();
    try {
      return await fn();
    } catch (e) {
      if (!when(e)) throw e;
      const elapsed = ctx.now() - start;
      if (elapsed >= options.timeoutMs) throw e;
      ctx.progress(`${options.what}: waiting (${(e as Error).name}) (${formatDuration(elapsed)})`);
      await ctx.sleep(delay);
      delay = Math.min(maxDelay, Math.round(delay * 1.5));
    }
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(s % 60).padStart(2, '0')}s`;
}
