import { describe, expect, it, vi } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import { testConfig } from '../../helpers/context.js';

// `plan` and `--help` load the registry: no step module may load an SDK package at import time.
for (const pkg of [
  '@aws-sdk/client-s3',
  '@aws-sdk/client-cloudtrail',
  '@aws-sdk/client-ec2',
  '@aws-sdk/client-iam',
  '@aws-sdk/client-cloudwatch-logs',
  '@aws-sdk/client-rds',
  '@aws-sdk/client-elasticache',
  '@aws-sdk/client-sns',
]) {
  vi.doMock(pkg, () => {
    throw new Error(`${pkg} was loaded`);
  });
}

describe('phase 4 steps', () => {
  it('are listed with the graph of the seed; the trail is the first thing destroyed', async () => {
    const { phase4Steps } = await import('../../../src/steps/phase4-security/index.js');
    expect(
      phase4Steps.map((s) => ({ id: s.id, phase: s.phase, needs: s.needs, rank: s.cleanupRank })),
    ).toEqual([
      {
        id: STEP.encryption,
        phase: 4,
        needs: [STEP.kms, STEP.rds, STEP.redis, STEP.frontendBucket, STEP.launchTemplate],
        rank: undefined,
      },
      { id: STEP.auditBucket, phase: 4, needs: [], rank: undefined },
      { id: STEP.trail, phase: 4, needs: [STEP.auditBucket, STEP.frontendBucket], rank: 1 },
      { id: STEP.flowLogs, phase: 4, needs: [STEP.vpc, STEP.kms], rank: undefined },
    ]);
    const { phase3Steps } = await import('../../../src/steps/phase3-backup/index.js');
    // Seed cleanup order: trail (1) → alarms (2) → dashboard (3) → Backup plan (4) → RDS snapshots (5).
    const ranked = [...phase3Steps, ...phase4Steps]
      .filter((s) => s.cleanupRank !== undefined)
      .sort((a, b) => a.cleanupRank! - b.cleanupRank!)
      .map((s) => s.id);
    expect(ranked).toEqual([STEP.trail, STEP.backupPlan, STEP.rdsSnapshot]);
    const config = testConfig();
    for (const step of phase4Steps) {
      expect(step.describe(config).length).toBeGreaterThan(0);
      expect(step.actions.every((a) => /^[a-z0-9-]+:[A-Za-z]+$/.test(a))).toBe(true);
    }
  });

  it('plan says whether the account-wide EBS default is touched', async () => {
    const { encryptionStep } = await import('../../../src/steps/phase4-security/encryption.js');
    expect(encryptionStep.describe(testConfig()).join('\n')).toContain('Leave the account-wide');
    expect(
      encryptionStep
        .describe(testConfig({ security: { ebsEncryptionByDefault: true } }))
        .join('\n'),
    ).toContain('Turn on EBS encryption by default');
  });
});
