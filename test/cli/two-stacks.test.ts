import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/**
 * Teams in a class share an account: two stacks with different names in one account and
 * region must never touch each other's resources. Stack "cloudmart" (the seed's names) is up;
 * then "team2" is brought up, verified and destroyed next to it, and every resource of the
 * first stack must be exactly as it was: same id, same settings, same state.
 */
describe('two stacks in one account and region', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    return { code, text: io.text(), stdout: io.stdout.join('\n') };
  };

  /** Every resource the cloud holds, as JSON, by type/region/id (timelines left out). */
  const snapshot = () =>
    new Map(
      cloud.world
        .all()
        .filter((r) => !r.gone && !r.system)
        .map((r) => [
          `${r.type}|${r.region}|${r.id}`,
          JSON.stringify({ name: r.name, tags: r.tags, state: r.state, data: r.data }),
        ]),
    );

  it('up, verify and destroy of one leave the other untouched', async () => {
    const dir = tempDir();
    const configA = join(dir, 'a.yaml');
    const configB = join(dir, 'b.yaml');
    writeFileSync(configA, 'alerts:\n  email: ops@example.com\n');
    writeFileSync(configB, 'stack: team2\nalerts:\n  email: team2@example.com\n');
    const a = ['--config', configA, '--state', join(dir, 'a.json')];
    const b = ['--config', configB, '--state', join(dir, 'b.json')];

    const upA = await run(['up', '--yes', '--to', '4', ...a]);
    expect(upA.code, upA.text).toBe(0);
    const before = snapshot();
    const verifyA = JSON.parse((await run(['verify', '--json', ...a])).stdout) as {
      score: { total: number };
    };

    const upB = await run(['up', '--yes', '--to', '4', ...b]);
    expect(upB.code, upB.text).toBe(0);
    // team2 has its own trail, dashboard, backup plan, log groups, alarms and audit bucket.
    const names = cloud.resources({ live: true }).map((r) => r.name ?? r.id);
    for (const name of [
      'team2-Audit-Trail',
      'team2-Production',
      'team2-Daily-Backup',
      '/aws/ec2/team2-backend',
      '/aws/vpc/team2-flow-logs',
      'team2-EC2-HighCPU',
    ])
      expect(names, name).toContain(name);
    expect(names.some((n) => n.startsWith('team2-audit-logs-'))).toBe(true);

    const verifyB = await run(['verify', '--json', ...b]);
    expect(
      JSON.parse(verifyB.stdout)
        .checks.filter((c: { status: string }) => c.status === 'fail')
        // The one check a default config fails on purpose: the region's EBS default is left off.
        .map((c: { id: string }) => c.id),
    ).toEqual(['security.encryption.ebs-default']);

    const destroyB = await run(['destroy', '--yes', ...b]);
    expect(destroyB.code, destroyB.text).toBe(0);
    // leftovers() counts untagged resources too: those of stack A were there before team2.
    expect(
      cloud
        .leftovers('team2')
        .filter((r) => !r.kept && !before.has(`${r.type}|${r.region}|${r.id}`)),
    ).toEqual([]);

    // Stack A: every resource still there, unchanged.
    const after = snapshot();
    const changed = [...before].filter(([key, json]) => after.get(key) !== json).map(([k]) => k);
    expect(changed).toEqual([]);
    const again = JSON.parse((await run(['verify', '--json', ...a])).stdout) as {
      score: { total: number };
    };
    expect(again.score.total).toBe(verifyA.score.total);
  });
});
