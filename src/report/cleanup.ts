import type { Config } from '../config/schema.js';
import type { Leftover } from '../engine/sweep.js';
import type { StepState } from '../state/store.js';
import { registry } from '../steps/registry.js';
import type { Lang } from './i18n.js';
import { withCleanup } from './model.js';
import type { CleanupReceipt } from './pictures.js';
import { readHandIn, writeHandIn } from './write.js';

/** Output keys that name a resource (ids, names, ARNs), shown on the receipt. */
const ID_KEY = /(Id|Ids|Name|Arn|Identifier)$/;

function resourceIds(outputs: Record<string, unknown> | undefined): string[] {
  if (!outputs) return [];
  const ids: string[] = [];
  for (const [k, v] of Object.entries(outputs)) {
    if (!ID_KEY.test(k)) continue;
    for (const x of Array.isArray(v) ? v : [v])
      if (typeof x === 'string' && x && !ids.includes(x)) ids.push(x);
  }
  // ARNs repeat what the ids say; keep the short names when both are there.
  const short = ids.filter((i) => !i.startsWith('arn:'));
  return (short.length ? short : ids).slice(0, 6);
}

/**
 * What `destroy` did, step by step: every step that held something before (or whose teardown
 * ran), whether it is gone now, when its teardown started and ended, and the ids it held; then
 * what the sweep found kept on purpose, still there, or could not check.
 */
export function cleanupReceipt(input: {
  before: Record<string, StepState>;
  after: Record<string, StepState>;
  timings: Map<string, { startedAt?: string; finishedAt?: string }>;
  startedAt: string;
  kept: Leftover[];
  remaining: Leftover[];
  incomplete: string[];
  finishedAt?: string;
}): CleanupReceipt {
  const held = (s: StepState | undefined) =>
    s !== undefined && s.status !== 'pending' && s.status !== 'destroyed';
  const steps = registry
    .filter((s) => held(input.before[s.id]) || input.timings.has(s.id))
    .map((s) => {
      const t = input.timings.get(s.id) ?? {};
      return {
        id: s.id,
        title: s.title,
        status:
          input.after[s.id]?.status === 'destroyed'
            ? 'destroyed'
            : (input.after[s.id]?.status ?? 'pending'),
        ...(t.startedAt ? { startedAt: t.startedAt } : {}),
        ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
        ids: resourceIds(input.before[s.id]?.outputs),
      };
    })
    .sort((a, b) => (a.startedAt ?? '~').localeCompare(b.startedAt ?? '~'));
  const leftover = (l: Leftover) => ({
    arn: l.arn,
    region: l.region,
    ...(l.type ? { type: l.type } : {}),
    ...(l.note ? { note: l.note } : {}),
  });
  return {
    startedAt: input.startedAt,
    finishedAt: input.finishedAt ?? new Date().toISOString(),
    steps,
    kept: input.kept.map(leftover),
    remaining: input.remaining.map(leftover),
    incomplete: input.incomplete,
  };
}

/** Add the receipt to the report in `dir` (a new report holding only the receipt if none is there). */
export async function addCleanupToReport(
  dir: string,
  receipt: CleanupReceipt,
  config: Config,
  lang: Lang,
): Promise<void> {
  const existing = await readHandIn(dir);
  const { model, assets } = withCleanup(existing, receipt, {
    stack: config.stack,
    region: config.region,
    lang,
  });
  await writeHandIn(dir, model, assets);
}
