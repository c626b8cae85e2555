import {
  type LifecycleRule,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import {
  MULTIPART_RULE_ID,
  NONCURRENT_RULE_ID,
  s3LifecycleStep,
} from '../../../src/steps/phase3-backup/s3-lifecycle.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';
import { seq } from './helpers.js';

const FRONTEND = 'cloudmart-frontend-123456789012-ap-northeast-2';
const LOGS = 'cloudmart-alb-logs-123456789012-ap-northeast-2';

const ours: LifecycleRule[] = [
  {
    ID: NONCURRENT_RULE_ID,
    Status: 'Enabled',
    Filter: { Prefix: '' },
    NoncurrentVersionTransitions: [{ NoncurrentDays: 30, StorageClass: 'GLACIER' }],
    NoncurrentVersionExpiration: { NoncurrentDays: 90 },
  },
  {
    ID: MULTIPART_RULE_ID,
    Status: 'Enabled',
    Filter: { Prefix: '' },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
  },
];
/** The log bucket's own rule, written by its step: must survive our writes. */
const logExpiry: LifecycleRule = {
  ID: 'alb-logs-expiry',
  Status: 'Enabled',
  Filter: { Prefix: '' },
  Expiration: { Days: 30 },
};

describe('backup.s3', () => {
  let s3: ReturnType<typeof strictMock>;
  beforeEach(() => {
    s3 = strictMock(S3Client);
  });

  const ctx = () =>
    testContext({
      stepId: s3LifecycleStep.id,
      outputs: {
        [STEP.frontendBucket]: { bucketName: FRONTEND, bucketArn: `arn:aws:s3:::${FRONTEND}` },
        [STEP.albLogBucket]: { bucketName: LOGS, bucketArn: `arn:aws:s3:::${LOGS}` },
      },
    });

  it('turns versioning on and writes the lifecycle rules on both buckets, keeping foreign rules', async () => {
    s3.on(GetBucketVersioningCommand).resolves({});
    s3.on(PutBucketVersioningCommand).resolves({});
    s3.on(GetBucketLifecycleConfigurationCommand, { Bucket: FRONTEND }).rejects(
      awsError('NoSuchLifecycleConfiguration', 'none', 404),
    );
    s3.on(GetBucketLifecycleConfigurationCommand, { Bucket: LOGS }).resolves({
      Rules: [logExpiry],
    });
    s3.on(PutBucketLifecycleConfigurationCommand).resolves({});

    const out = await s3LifecycleStep.create(ctx());

    expect(out).toEqual({ buckets: [FRONTEND, LOGS] });
    expect(s3.commandCalls(PutBucketVersioningCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: FRONTEND, VersioningConfiguration: { Status: 'Enabled' } },
      { Bucket: LOGS, VersioningConfiguration: { Status: 'Enabled' } },
    ]);
    const puts = s3
      .commandCalls(PutBucketLifecycleConfigurationCommand)
      .map((c) => c.args[0].input);
    expect(puts).toEqual([
      { Bucket: FRONTEND, LifecycleConfiguration: { Rules: ours } },
      { Bucket: LOGS, LifecycleConfiguration: { Rules: [logExpiry, ...ours] } },
    ]);
    // Versioning before lifecycle on each bucket: noncurrent rules need versions.
    const firstVersioning = seq(s3.commandCalls(PutBucketVersioningCommand)[0]);
    const firstLifecycle = seq(s3.commandCalls(PutBucketLifecycleConfigurationCommand)[0]);
    expect(firstVersioning).toBeLessThan(firstLifecycle);
  });

  it('sends no mutating call when versioning and rules are already as configured', async () => {
    s3.on(GetBucketVersioningCommand).resolves({ Status: 'Enabled' });
    // AWS echoes extra fields; the order of rules does not matter either.
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({
      Rules: [logExpiry, { ...ours[1]!, Prefix: undefined }, { ...ours[0]! }],
      TransitionDefaultMinimumObjectSize: 'all_storage_classes_128K',
    });
    await s3LifecycleStep.create(ctx());
    expect(s3.commandCalls(PutBucketVersioningCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(0);
  });

  it('rewrites a drifted rule (Glacier after 60 days instead of 30)', async () => {
    s3.on(GetBucketVersioningCommand).resolves({ Status: 'Enabled' });
    const drifted: LifecycleRule = {
      ...ours[0]!,
      NoncurrentVersionTransitions: [{ NoncurrentDays: 60, StorageClass: 'GLACIER' }],
    };
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [drifted, ours[1]!] });
    s3.on(PutBucketLifecycleConfigurationCommand).resolves({});
    await s3LifecycleStep.create(ctx());
    const puts = s3.commandCalls(PutBucketLifecycleConfigurationCommand);
    expect(puts).toHaveLength(2);
    expect(puts[0]!.args[0].input.LifecycleConfiguration!.Rules).toEqual(ours);
  });

  it('verify reports suspended versioning and a missing lifecycle rule', async () => {
    s3.on(GetBucketVersioningCommand, { Bucket: FRONTEND }).resolves({ Status: 'Suspended' });
    s3.on(GetBucketVersioningCommand, { Bucket: LOGS }).resolves({ Status: 'Enabled' });
    s3.on(GetBucketLifecycleConfigurationCommand, { Bucket: FRONTEND }).resolves({ Rules: ours });
    s3.on(GetBucketLifecycleConfigurationCommand, { Bucket: LOGS }).resolves({
      Rules: [ours[0]!], // multipart abort rule missing
    });

    const checks = await s3LifecycleStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['backup.s3.frontend.versioning']).toMatchObject({
      status: 'fail',
      criterion: 'backup',
      fix: 'cloudmart up --phase 3',
    });
    expect(byId['backup.s3.frontend.versioning']?.evidence).toContain('Suspended');
    expect(byId['backup.s3.frontend.lifecycle']?.status).toBe('pass');
    expect(byId['backup.s3.alb-logs.versioning']?.status).toBe('pass');
    expect(byId['backup.s3.alb-logs.lifecycle']?.status).toBe('fail');
    expect(byId['backup.s3.alb-logs.lifecycle']?.evidence).toContain('abort incomplete multipart');
  });

  it('verify treats a bucket without lifecycle configuration as every rule missing', async () => {
    s3.on(GetBucketVersioningCommand).resolves({ Status: 'Enabled' });
    s3.on(GetBucketLifecycleConfigurationCommand).rejects(awsError('NoSuchLifecycleConfiguration'));
    const checks = await s3LifecycleStep.verify(ctx());
    const lifecycle = checks.find((c) => c.id === 'backup.s3.frontend.lifecycle');
    expect(lifecycle?.status).toBe('fail');
    expect(lifecycle?.evidence).toMatch(/GLACIER.*expiry.*multipart/);
  });

  it('teardown is a no-op: the buckets belong to their own steps', async () => {
    await expect(s3LifecycleStep.teardown(ctx())).resolves.toBeUndefined();
    expect(s3.calls()).toHaveLength(0);
  });
});
