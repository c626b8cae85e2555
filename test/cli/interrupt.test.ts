import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/**
 * Ctrl-C as the user presses it: the handler the command registered for SIGINT is called (no
 * real signal is sent to the test process).
 */
describe('Ctrl-C', () => {
  let cloud: FakeCloud;
  let before: Set<NodeJS.SignalsListener>;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    before = new Set(process.listeners('SIGINT'));
  });
  afterEach(() => {
    cloud.uninstall();
    vi.restoreAllMocks();
  });

  /** The command's own SIGINT handler (registered after the test started). */
  const ctrlC = () => {
    const added = process.listeners('SIGINT').filter((l) => !before.has(l));
    expect(added).toHaveLength(1);
    added[0]!('SIGINT');
  };

  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    return { code, io, err: io.stderr.join('\n') };
  };

  const common = () => {
    const dir = tempDir();
    return { dir, state: join(dir, 'cloudmart.state.json') };
  };

  it('during verify: exit 130, no score on stdout and no report written (text, --json, --report)', async () => {
    const { dir, state } = common();
    const up = await run(['up', '--yes', '--to', '1', '--state', state]);
    expect(up.code, up.err).toBe(0);

    for (const extra of [[], ['--json']]) {
      const report = join(dir, `report${extra.length}`);
      let reads = 0;
      const off = cloud.onCall((c) => {
        // Part-way through the checks: some steps have been verified, others not yet.
        if (c.phase === 'before' && c.service !== 'sts' && ++reads === 5) ctrlC();
      });
      const verify = await run(['verify', ...extra, '--report', report, '--state', state]);
      off();

      expect(reads).toBeGreaterThan(5);
      expect(verify.code, verify.err).toBe(130);
      expect(verify.io.stdout).toEqual([]);
      expect(verify.err).toContain('Stopping:');
      expect(verify.err).toContain('✖ verify was interrupted before every check ran: no score');
      expect(verify.err).not.toMatch(/Score|grade/);
      expect(existsSync(join(report, 'report.md'))).toBe(false);
      expect(existsSync(join(report, 'index.html'))).toBe(false);
    }

    // Not interrupted, the same command scores and writes the report.
    const report = join(dir, 'report');
    const whole = await run(['verify', '--report', report, '--state', state]);
    expect(whole.io.stdout.join('\n')).toMatch(/Score: [\d.]+\/100/);
    expect(readFileSync(join(report, 'report.md'), 'utf8')).toContain('**Score:');
  });

  it('twice during up: the lock file is gone before the process exits', async () => {
    const { state } = common();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    let lockSeenBefore: boolean | undefined;
    let lockAfterSecond: boolean | undefined;
    let n = 0;
    const off = cloud.onCall((c) => {
      if (c.phase !== 'before' || c.service === 'sts' || ++n !== 3) return;
      lockSeenBefore = existsSync(`${state}.lock`);
      ctrlC();
      ctrlC();
      // process.exit(130) runs right after the handler: nothing asynchronous gets to run.
      lockAfterSecond = existsSync(`${state}.lock`);
    });
    const up = await run(['up', '--yes', '--to', '1', '--state', state]);
    off();

    expect(lockSeenBefore).toBe(true);
    expect(exit).toHaveBeenCalledWith(130);
    expect(lockAfterSecond).toBe(false);
    // (process.exit was a no-op here, so the run ended on the first Ctrl-C as usual.)
    expect(up.code).toBe(130);
  });
});
