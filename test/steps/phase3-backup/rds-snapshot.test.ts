import {
  AddTagsToResourceCommand,
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import { rdsSnapshotStep } from '../../../src/steps/phase3-backup/rds-snapshot.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const NOW = 1_700_000_000_000;
const NAME = 'cloudmart-db-snapshot-day5';
const ARN = `arn:aws:rds:ap-northeast-2:${ACCOUNT}:snapshot:${NAME}`;
const notFound = () => awsError('DBSnapshotNotFoundFault', 'not found', 404);

const snapshot = (Status: string, over: Record<string, unknown> = {}) => ({
  DBSnapshotIdentifier: NAME,
  DBSnapshotArn: ARN,
  DBInstanceIdentifier: 'cloudmart-db',
  Status,
  PercentProgress: Status === 'available' ? 100 : 40,
  SnapshotCreateTime: new Date(NOW - 3_600_000),
  TagList: [
    { Key: 'cloudmart:stack', Value: 'cloudmart' },
    { Key: 'cloudmart:retention-days', Value: '30' },
  ],
  ...over,
});

describe('backup.rds-snapshot', () => {
  let rds: ReturnType<typeof strictMock>;
  beforeEach(() => {
    rds = strictMock(RDSClient);
  });

  const ctx = (config = testConfig()) =>
    testContext({
      stepId: rdsSnapshotStep.id,
      config,
      outputs: { [STEP.rds]: { dbInstanceIdentifier: 'cloudmart-db' } },
    });

  it('is torn down in the seed cleanup order, after the Backup plan', () => {
    expect(rdsSnapshotStep.cleanupRank).toBe(5);
    expect(rdsSnapshotStep.needs).toEqual([STEP.rds]);
  });

  it('creates the snapshot tagged with its retention intent and waits until available, showing percent', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .rejectsOnce(notFound())
      .resolvesOnce({ DBSnapshots: [snapshot('creating', { PercentProgress: 40 })] })
      .resolves({ DBSnapshots: [snapshot('available')] });
    rds
      .on(CreateDBSnapshotCommand)
      .resolves({ DBSnapshot: snapshot('creating', { PercentProgress: 0 }) });

    const c = ctx();
    const out = await rdsSnapshotStep.create(c);

    const create = rds.commandCalls(CreateDBSnapshotCommand);
    expect(create).toHaveLength(1);
    expect(create[0]!.args[0].input).toEqual({
      DBSnapshotIdentifier: NAME,
      DBInstanceIdentifier: 'cloudmart-db',
      Tags: expect.arrayContaining([
        { Key: 'cloudmart:retention-days', Value: '30' },
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'backup.rds-snapshot' },
        { Key: 'Name', Value: NAME },
      ]),
    });
    expect(c.progressLog.some((l) => l.includes('creating 40%'))).toBe(true);
    expect(out).toEqual({
      snapshotIdentifier: NAME,
      snapshotArn: ARN,
      dbInstanceIdentifier: 'cloudmart-db',
      retentionDays: 30,
    });
  });

  it('retries the create while the instance is busy with its own backup', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .rejectsOnce(notFound())
      .resolves({ DBSnapshots: [snapshot('available')] });
    rds
      .on(CreateDBSnapshotCommand)
      .rejectsOnce(awsError('InvalidDBInstanceStateFault'))
      .resolves({ DBSnapshot: snapshot('creating') });
    await rdsSnapshotStep.create(ctx());
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(2);
  });

  it('adopts an available snapshot and sends no mutating call', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [snapshot('available')] });
    const out = await rdsSnapshotStep.create(ctx());
    expect(out.snapshotArn).toBe(ARN);
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    expect(rds.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
    expect(rds.commandCalls(DescribeDBSnapshotsCommand)[0]!.args[0].input).toEqual({
      DBSnapshotIdentifier: NAME,
    });
  });

  it('adds the retention tag to an adopted snapshot that lacks it', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [snapshot('available', { TagList: [] })] });
    rds.on(AddTagsToResourceCommand).resolves({});
    await rdsSnapshotStep.create(ctx());
    expect(rds.commandCalls(AddTagsToResourceCommand)[0]!.args[0].input).toEqual({
      ResourceName: ARN,
      Tags: [{ Key: 'cloudmart:retention-days', Value: '30' }],
    });
  });

  it('refuses to adopt a snapshot of another instance', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [snapshot('available', { DBInstanceIdentifier: 'someone-else' })] });
    await expect(rdsSnapshotStep.create(ctx())).rejects.toThrow(/someone-else/);
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it('fails when the snapshot fails', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .rejectsOnce(notFound())
      .resolves({ DBSnapshots: [snapshot('failed')] });
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: snapshot('creating') });
    await expect(rdsSnapshotStep.create(ctx())).rejects.toThrow(/failed/);
  });

  it('verify reports a missing snapshot and a missing retention tag', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejects(notFound());
    const missing = await rdsSnapshotStep.verify(ctx());
    expect(missing).toEqual([
      expect.objectContaining({
        id: 'backup.rds-snapshot.available',
        status: 'fail',
        criterion: 'backup',
      }),
    ]);

    rds
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [snapshot('available', { TagList: [] })] });
    const untagged = await rdsSnapshotStep.verify(ctx());
    expect(untagged.map((c) => [c.id, c.status])).toEqual([
      ['backup.rds-snapshot.available', 'pass'],
      ['backup.rds-snapshot.retention', 'warn'],
    ]);
  });

  it('teardown deletes the snapshot and waits until it is gone', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [snapshot('available')] })
      .resolvesOnce({ DBSnapshots: [snapshot('deleting')] })
      .rejects(notFound());
    rds.on(DeleteDBSnapshotCommand).resolves({});
    const c = ctx();
    await rdsSnapshotStep.teardown(c);
    expect(rds.commandCalls(DeleteDBSnapshotCommand)[0]!.args[0].input).toEqual({
      DBSnapshotIdentifier: NAME,
    });
    // One lookup before the delete, then polls until NotFound.
    expect(rds.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(3);
    expect(c.progressLog.some((l) => l.includes('deleting'))).toBe(true);
  });

  it('teardown retries while the snapshot is still being created', async () => {
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [snapshot('creating')] })
      .rejects(notFound());
    rds
      .on(DeleteDBSnapshotCommand)
      .rejectsOnce(awsError('InvalidDBSnapshotStateFault'))
      .resolves({});
    await rdsSnapshotStep.teardown(ctx());
    expect(rds.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(2);
  });

  it('teardown succeeds when the snapshot is already gone', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejects(notFound());
    await expect(rdsSnapshotStep.teardown(ctx())).resolves.toBeUndefined();
    expect(rds.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
  });

  it('teardown keeps the snapshot, with a warning, when the config says so', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [snapshot('available')] });
    const c = ctx(testConfig({ destroy: { deleteManualSnapshots: false } }));
    await rdsSnapshotStep.teardown(c);
    expect(rds.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
    expect(c.warnings[0]).toMatch(/keeps billing/);
    // Not "the backup survives" on its own: the key it needs is kept too.
    expect(c.warnings[0]).toContain('destroy keeps that key too (about $1/month)');
  });
});
