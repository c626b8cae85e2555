import { describe, expect, it, vi } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import { testConfig } from '../../helpers/context.js';

// `plan` and `--help` load the registry: no step module may load an SDK package at import time.
for (const pkg of [
  '@aws-sdk/client-rds',
  '@aws-sdk/client-kms',
  '@aws-sdk/client-resource-groups-tagging-api',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-backup',
  '@aws-sdk/client-iam',
]) {
  vi.doMock(pkg, () => {
    throw new Error(`${pkg} was loaded`);
  });
}

describe('phase 3 steps', () => {
  it('are listed in order with the graph and cleanup ranks of the seed, without loading the SDK', async () => {
    const { phase3Steps } = await import('../../../src/steps/phase3-backup/index.js');
    expect(
      phase3Steps.map((s) => ({ id: s.id, phase: s.phase, needs: s.needs, rank: s.cleanupRank })),
    ).toEqual([
      { id: STEP.rdsBackup, phase: 3, needs: [STEP.rds], rank: undefined },
      { id: STEP.rdsSnapshot, phase: 3, needs: [STEP.rds], rank: 5 },
      {
        id: STEP.s3Lifecycle,
        phase: 3,
        needs: [STEP.frontendBucket, STEP.albLogBucket],
        rank: undefined,
      },
      { id: STEP.backupPlan, phase: 3, needs: [STEP.kms], rank: 4 },
    ]);
    const config = testConfig();
    for (const step of phase3Steps) {
      expect(step.describe(config).length).toBeGreaterThan(0);
      expect(step.actions.length).toBeGreaterThan(0);
      expect(step.actions.every((a) => /^[a-z0-9-]+:[A-Za-z]+$/.test(a))).toBe(true);
    }
  });

  it('plan describes the seed settings', async () => {
    const { phase3Steps } = await import('../../../src/steps/phase3-backup/index.js');
    const text = phase3Steps.flatMap((s) => s.describe(testConfig())).join('\n');
    expect(text).toContain('7-day retention, window 03:00-04:00');
    expect(text).toContain('replication to ap-northeast-1');
    expect(text).toContain('cloudmart-db-snapshot-day5');
    expect(text).toContain('GLACIER after 30 d, expired after 90 d');
    expect(text).toContain('CloudMart-Daily-Backup: cron(0 2 * * ? *)');
  });
});
