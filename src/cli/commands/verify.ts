import type { Phase } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { renderText } from '../../verify/report.js';
import { verifyStack } from '../../verify/run.js';
import type { Io } from '../io.js';
import { makeOutputDir, outputPathError } from '../output.js';
import { announceTarget, checkCredentials, openSession, type GlobalOptions } from '../runtime.js';

/** `verify`: the live stack against the success criteria, scored with the seed's rubric. */
export async function verifyCommand(
  io: Io,
  opts: { json?: boolean; report?: string; lang?: 'en' | 'ko'; phase?: number[] },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  const what = 'the report folder';
  // The report is written after the checks: a path mistake is reported before they start.
  if (opts.report) await makeOutputDir(opts.report, what);
  // Read-only: no lock and no state writes; engine events are not shown (the report is the output).
  const session = await openSession(io, { ...g, json: false }, 'verify', { lock: false });
  try {
    // Nothing recorded as built: there is nothing to check, and no reason to ask AWS.
    const built = Object.values(session.store.current.steps).some(
      (st) => st !== undefined && st.status !== 'pending' && st.status !== 'destroyed',
    );
    if (!built) {
      throw new CloudmartError(
        'NOT_READY',
        `Nothing of stack "${session.config.stack}" is recorded as built in ${session.store.path}: there is nothing to verify`,
        {
          hint: 'Build it with "cloudmart up" (or point --state at the state file of the stack you built), then run "cloudmart verify".',
        },
      );
    }
    if (!opts.json) announceTarget(io, session.aws, g);
    await checkCredentials(session.aws);
    const engine = { ...session.engine(), emit: () => undefined };
    const report = await verifyStack(engine, opts.phase ? { phases: opts.phase as Phase[] } : {});
    if (opts.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of renderText(report)) io.out(line);
    if (opts.report) {
      // Drawing libraries load only now, so every other command starts as fast as before.
      const { buildHandIn } = await import('../../report/model.js');
      const { writeHandIn } = await import('../../report/write.js');
      const { model, assets } = await buildHandIn({
        report,
        state: session.store.current,
        config: session.config,
        lang: opts.lang ?? 'en',
        aws: session.aws,
      });
      try {
        await writeHandIn(opts.report, model, assets);
      } catch (e) {
        throw outputPathError(e, opts.report, what) ?? e;
      }
      const pictures = model.sections.reduce((n, s) => n + s.pictures.length, 0);
      io.err(
        `Report written to ${opts.report}/index.html and report.md (${pictures} pictures); "cloudmart destroy --report ${opts.report}" adds the cleanup receipt.`,
      );
    }
    return report.ok ? 0 : 1;
  } finally {
    await session.close();
  }
}
