import { runVerify } from '../../engine/engine.js';
import type { Check, Phase } from '../../engine/step.js';
import type { Io } from '../io.js';
import { announceTarget, checkCredentials, openSession, type GlobalOptions } from '../runtime.js';

const MARK: Record<Check['status'], string> = { pass: '✔', fail: '✖', warn: '!', unknown: '?' };

/** `verify`: every step's read-only checks against the live stack. */
export async function verifyCommand(
  io: Io,
  opts: { json?: boolean; report?: string; phase?: number[] },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  // Read-only: no lock, no state writes; events are not shown (the report is the output).
  const session = await openSession(io, { ...g, json: false }, 'verify', { lock: false });
  try {
    if (!opts.json) announceTarget(io, session.aws, g);
    await checkCredentials(session.aws);
    const engine = { ...session.engine(), emit: () => undefined };
    const { checks } = await runVerify(engine, opts.phase ? { phases: opts.phase as Phase[] } : {});
    const failed = checks.filter((c) => c.status === 'fail');
    if (opts.json) {
      io.out(
        JSON.stringify(
          {
            stack: session.config.stack,
            region: session.config.region,
            ok: failed.length === 0,
            checks,
          },
          null,
          2,
        ),
      );
    } else {
      let step = '';
      for (const c of checks) {
        if (c.step !== step) {
          step = c.step;
          io.out(`\n${step}`);
        }
        io.out(`  ${MARK[c.status]} ${c.title}: ${c.evidence}`);
        if (c.status !== 'pass' && c.fix) io.out(`      fix: ${c.fix}`);
      }
      const count = (s: Check['status']) => checks.filter((c) => c.status === s).length;
      io.out(
        `\n${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('unknown')} unknown`,
      );
    }
    if (opts.report) {
      const { writeFile } = await import('node:fs/promises');
      const lines = [
        `# CloudMart verification: ${session.config.stack}`,
        '',
        `Region ${session.config.region}, ${new Date().toISOString()}`,
        '',
      ];
      for (const c of checks)
        lines.push(
          `- ${MARK[c.status]} **${c.title}** (${c.step}): ${c.evidence}${c.status !== 'pass' && c.fix ? ` — fix: \`${c.fix}\`` : ''}`,
        );
      await writeFile(opts.report, lines.join('\n') + '\n');
      io.err(`Report written to ${opts.report}`);
    }
    return failed.length === 0 ? 0 : 1;
  } finally {
    await session.close();
  }
}
