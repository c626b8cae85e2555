import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/**
 * The CLI as a user runs it, against the stateful fake cloud (instant mode): up, verify with
 * the score, and a destroy that still removes everything after the state file was lost.
 */
describe('cloudmart against the fake cloud', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    return { code, io };
  };

  it('up → verify (score, --json, --report) → destroy after the state file is lost', async () => {
    const dir = tempDir();
    const state = join(dir, 'cloudmart.state.json');
    const common = ['--state', state];

    // Phases 1-4 (the load test of Phase 5 needs a real HTTP endpoint behind the ALB).
    const up = await run(['up', '--yes', '--to', '4', ...common]);
    expect(up.code, up.io.text()).toBe(0);
    expect(up.io.text()).toContain('Estimated cost in ap-northeast-2');
    expect(up.io.text()).toContain('Done. Next: cloudmart verify');
    expect(up.io.text()).toMatch(
      /Dashboard: https:\/\/ap-northeast-2\.console\.aws\.amazon\.com\/cloudwatch/,
    );
    expect(cloud.duplicates()).toEqual([]);

    const report = join(dir, 'report');
    const verify = await run(['verify', '--json', '--report', report, ...common]);
    const result = JSON.parse(verify.io.stdout.join('\n'));
    // Built and healthy, but the load test and the drills have not run: never a pass, exit 1.
    expect(verify.code).toBe(1);
    // The one failure: EBS encryption by default is off in the region (not opted in).
    expect(
      result.checks
        .filter((c: { status: string }) => c.status === 'fail')
        .map((c: { id: string }) => c.id),
    ).toEqual(['security.encryption.ebs-default']);
    expect(
      result.checks.find((c: { id: string }) => c.id === 'criteria.performance.average').status,
    ).toBe('unknown');
    expect(result.score.total).toBeGreaterThanOrEqual(80);
    // Readiness (failover enabled, health checks) is not a recovery test: only drills earn these points.
    expect(
      result.score.items.find((i: { criterion: string }) => i.criterion === 'failure-recovery')
        .earned,
    ).toBe(0);
    expect(readFileSync(join(report, 'report.md'), 'utf8')).toContain(
      `**Score: ${result.score.total}/100 — grade ${result.score.grade}**`,
    );

    const text = await run(['verify', ...common]);
    expect(text.io.stdout.join('\n')).toMatch(/Score: [\d.]+\/100 — grade [SABCF]/);
    // The grade line names what was not measured: no drill ran in this test.
    expect(text.io.stdout.join('\n')).toMatch(
      /grade [SABCF]; not measured: .*Failure recovery test \(10 points: cloudmart drill instance/,
    );

    // A lost state file: destroy finds the stack by its tags and names.
    rmSync(state);
    const destroy = await run(['destroy', '--yes', ...common]);
    expect(destroy.code, destroy.io.text()).toBe(0);
    expect(destroy.io.text()).toContain('kept: arn:aws:kms');
    expect(cloud.leftovers('cloudmart').filter((r) => !r.kept)).toEqual([]);
    expect(existsSync(state)).toBe(true);
  });

  it('in a terminal, asks for every phase before anything starts and skips a declined one', async () => {
    const state = join(tempDir(), 's.json');
    const io = recordingIo({ interactive: true, answers: [true, false] });
    const code = await main(['node', 'cloudmart', 'up', '--to', '2', '--state', state], io);
    expect(code, io.text()).toBe(0);
    const text = io.stderr.join('\n');
    // Both questions come before the first step starts.
    expect(text.indexOf('Phase 2 — Monitoring')).toBeLessThan(text.indexOf(' ready ('));
    expect(text.indexOf(' ready (')).toBeGreaterThan(0);
    expect(text).toContain('Done, except 4 steps of the phases you declined');
    // The live block drew the running steps on its own stream, not into the messages.
    expect(io.progress.join('')).toContain('data.rds');
    expect(text).not.toMatch(/^- /m);
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.steps['data.rds'].status).toBe('done');
    expect(saved.steps['monitoring.sns']).toBeUndefined();
  });
});
