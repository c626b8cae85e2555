import { runVerify, type EngineOptions, type Selection } from '../engine/engine.js';
import { InterruptedError } from '../errors.js';
import { resultChecks } from './criteria.js';
import type { VerifyReport } from './report.js';
import { score } from './rubric.js';

/**
 * Every step's read-only checks plus the recorded results (load test, drills, cost), scored
 * with the seed's rubric. Sends no mutating call and writes nothing. Throws InterruptedError
 * when the run was stopped before every check ran.
 */
export async function verifyStack(
  options: EngineOptions,
  selection: Selection = {},
): Promise<VerifyReport> {
  const { checks } = await runVerify(options, selection);
  // Stopped part-way (Ctrl-C): the checks that did not run would score as missing, so a
  // partial score must never pass for the verdict.
  if (options.signal.aborted) {
    throw new InterruptedError('verify was interrupted before every check ran: no score');
  }
  const fromResults = resultChecks(options.store.current, options.config).map((c) => ({
    ...c,
    step: 'results',
  }));
  // A step that already reports a criterion from its own outputs wins over the recorded copy.
  const covered = new Set(checks.map((c) => c.id));
  const all = [...checks, ...fromResults.filter((c) => !covered.has(c.id))];
  return {
    stack: options.config.stack,
    region: options.config.region,
    at: new Date().toISOString(),
    checks: all,
    score: score(all),
    ok: all.every((c) => c.status === 'pass' || c.status === 'warn'),
  };
}
