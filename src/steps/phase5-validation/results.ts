import type { StepContext } from '../../engine/step.js';
import type { Results } from '../../state/store.js';

/**
 * The Phase 5 results `cloudmart load` and `cloudmart drill` recorded in the state file
 * (`results.load`, `results.drills`), when the engine's context exposes them as
 * `results()`; undefined otherwise (then only the step's own last outputs count).
 */
export function recordedResults(ctx: StepContext): Results | undefined {
  return ctx.results?.();
}

/** The most recent of several records (by their ISO `at`). */
export function latest<T extends { at: string }>(...records: Array<T | undefined>): T | undefined {
  let best: T | undefined;
  for (const r of records) {
    if (!r || typeof r.at !== 'string') continue;
    if (!best || Date.parse(r.at) > Date.parse(best.at)) best = r;
  }
  return best;
}

/** A number from a loosely typed record, or undefined. */
export function num(record: Record<string, unknown> | undefined, key: string): number | undefined {
  const v = record?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
