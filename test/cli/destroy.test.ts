import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/engine.js';
import { awsError, FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';

/** `cloudmart destroy` and its final sweep, as a user runs them, against the fake cloud. */
describe('cloudmart destroy: the leftover check', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    return { code, io, err: io.stderr.join('\n') };
  };

  function setup(extra = ''): string[] {
    const dir = tempDir();
    const config = join(dir, 'cloudmart.config.yaml');
    writeFileSync(config, `alerts:\n  email: ops@example.com\n${extra}`);
    return ['--config', config, '--state', join(dir, 'cloudmart.state.json')];
  }

  it('a sweep call IAM denies does not crash destroy: the teardown report stays, the check says it is incomplete, exit 1', async () => {
    const common = setup();
    cloud.onCall((c) => {
      if (c.phase === 'before' && c.service === 'cloudwatch' && c.command === 'ListDashboards')
        throw awsError(
          'cloudwatch',
          'AccessDenied',
          'User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudwatch:ListDashboards',
          403,
        );
    });

    const text = await run(['destroy', '--yes', ...common]);

    expect(text.code, text.err).toBe(1);
    expect(text.err).toContain('Done: every step was torn down.');
    expect(text.err).toContain(
      '✖ leftover check incomplete: CloudWatch dashboard: AccessDenied: User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudwatch:ListDashboards',
    );
    expect(text.err).toContain('"cloudmart policy"');
    expect(text.err).not.toContain('Nothing remains');
    expect(text.err).not.toContain('Unexpected error');

    const json = await run(['destroy', '--yes', '--json', ...common]);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.io.stdout.at(-1)!);
    expect(result).toMatchObject({ ok: false, remaining: [], kept: [] });
    expect(result.incomplete).toEqual([
      expect.stringContaining('CloudWatch dashboard: AccessDenied'),
    ]);
  });

  it('what the config keeps on purpose is listed as kept and does not fail destroy', async () => {
    const common = setup(
      'destroy:\n  finalSnapshot: true\n  deleteManualSnapshots: false\n  deleteRecoveryPoints: false\n',
    );
    const up = await run(['up', '--yes', '--to', '3', ...common]);
    expect(up.code, up.err).toBe(0);
    // A finished backup job of the database: a recovery point in the stack's vault.
    const db = cloud.resources({ type: 'rds:db', live: true })[0]!;
    cloud.addRecoveryPoint('ap-northeast-2', 'cloudmart-vault', db.arn!);

    const destroy = await run(['destroy', '--yes', ...common]);

    expect(destroy.code, destroy.err).toBe(0);
    const kept = destroy.err.split('\n').filter((l) => l.startsWith('  kept: '));
    const keptLine = (what: RegExp) => kept.find((l) => what.test(l));
    expect(keptLine(/snapshot:cloudmart-db-snapshot-day5 /)).toContain(
      'destroy.deleteManualSnapshots: false',
    );
    expect(keptLine(/snapshot:cloudmart-db-final-/)).toContain('destroy.finalSnapshot');
    expect(keptLine(/backup-vault:cloudmart-vault /)).toContain('holds 1 kept recovery point(s)');
    expect(keptLine(/:key\//)).toBeDefined();
    expect(destroy.err).not.toContain('still exist');
    expect(destroy.err).toContain(
      'Nothing else remains: nothing of this stack keeps billing except what is listed as kept.',
    );
  });
});
