import type { RunResult } from '../../engine/engine.js';
import { CloudmartError } from '../../errors.js';
import type { Io } from '../io.js';

/** The end of an `up` or `destroy`: what failed and why, and what to run next. Returns the exit code. */
export function printRunSummary(
  io: Io,
  command: 'up' | 'destroy',
  result: RunResult,
  statePath: string,
): number {
  if (result.interrupted) {
    io.err(`\nInterrupted. State is saved in ${statePath}.`);
    io.err(`→ Run "cloudmart ${command}" again to resume where it stopped.`);
    return 130;
  }
  if (result.ok && result.declined.length > 0) {
    io.err(
      `\nDone, except ${result.declined.length} step${result.declined.length === 1 ? '' : 's'} of the phases you declined. Run "cloudmart ${command}" again to build them.`,
    );
    return 0;
  }
  if (result.ok) {
    io.err(
      command === 'up'
        ? '\nDone. Next: cloudmart verify   (and cloudmart destroy when you are finished, so nothing keeps billing)'
        : '\nDone: every step was torn down.',
    );
    return 0;
  }
  io.err(
    `\n${result.failed.length} step${result.failed.length === 1 ? '' : 's'} failed, ${result.skipped.length} skipped. State is saved in ${statePath}.`,
  );
  for (const [id, error] of result.errors) {
    io.err(`  ✖ ${id}: ${error.message.split('\n')[0]}`);
    if (error instanceof CloudmartError && error.hint) io.err(`    → ${error.hint}`);
  }
  io.err(`→ Fix the cause and run "cloudmart ${command}" again: finished steps are not repeated.`);
  return 1;
}
