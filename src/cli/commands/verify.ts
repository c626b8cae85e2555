import type { Phase } from '../../engine/step.js';
import { renderMarkdown, renderText } from '../../verify/report.js';
import { verifyStack } from '../../verify/run.js';
import type { Io } from '../io.js';
import { assertWritable, writeOutputFile } from '../output.js';
import { announceTarget, checkCredentials, openSession, type GlobalOptions } from '../runtime.js';

/** `verify`: the live stack against the success criteria, scored with the seed's rubric. */
export async function verifyCommand(
  io: Io,
  opts: { json?: boolean; report?: string; phase?: number[] },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  const what = 'the Markdown report';
  // The report is written after the checks: a path mistake is reported before they start.
  if (opts.report) await assertWritable(opts.report, what);
  // Read-only: no lock and no state writes; engine events are not shown (the report is the output).
  const session = await openSession(io, { ...g, json: false }, 'verify', { lock: false });
  try {
    if (!opts.json) announceTarget(io, session.aws, g);
    await checkCredentials(session.aws);
    const engine = { ...session.engine(), emit: () => undefined };
    const report = await verifyStack(engine, opts.phase ? { phases: opts.phase as Phase[] } : {});
    if (opts.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of renderText(report)) io.out(line);
    if (opts.report) {
      await writeOutputFile(opts.report, renderMarkdown(report), what);
      io.err(`Markdown report written to ${opts.report}`);
    }
    return report.ok ? 0 : 1;
  } finally {
    await session.close();
  }
}
