import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import {
  DeleteDBInstanceAutomatedBackupCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  StartDBInstanceAutomatedBackupsReplicationCommand,
  StopDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import {
  rdsBackupsStep,
  restorableLagStatus,
} from '../../../src/steps/phase3-backup/rds-backups.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { mutatingCalls, regionOf, seq } from './helpers.js';

const NOW = 1_700_000_000_000; // the test context's clock
const DB = 'cloudmart-db';
const DB_ARN = `arn:aws:rds:ap-northeast-2:${ACCOUNT}:db:${DB}`;
const DBI = 'db-ABCDEFGHIJ';
const KEY_ARN = `arn:aws:kms:ap-northeast-1:${ACCOUNT}:key/k-dr`;
const REPLICA_ARN = `arn:aws:rds:ap-northeast-1:${ACCOUNT}:auto-backup:ab-xyz`;

const rdsOutputs = {
  dbInstanceIdentifier: DB,
  dbInstanceArn: DB_ARN,
  endpoint: 'db.example',
  port: 5432,
  engine: 'postgres',
  dbName: 'cloudmart',
  masterUserSecretArn: 'arn:secret',
  dbSubnetGroupName: 'cloudmart-db-subnets',
  parameterGroupName: 'cloudmart-pg',
};

function instance(over: Record<string, unknown> = {}) {
  return {
    DBInstanceIdentifier: DB,
    DBInstanceArn: DB_ARN,
    DbiResourceId: DBI,
    DBInstanceStatus: 'available',
    StorageEncrypted: true,
    BackupRetentionPeriod: 7,
    PreferredBackupWindow: '03:00-04:00',
    InstanceCreateTime: new Date(NOW - 2 * 3_600_000),
    LatestRestorableTime: new Date(NOW - 60_000),
    ...over,
  };
}

const replica = (Status: string, over: Record<string, unknown> = {}) => ({
  DbiResourceId: DBI,
  DBInstanceArn: DB_ARN,
  DBInstanceIdentifier: DB,
  Region: 'ap-northeast-2',
  Status,
  DBInstanceAutomatedBackupsArn: REPLICA_ARN,
  ...over,
});

describe('backup.rds', () => {
  let rds: ReturnType<typeof strictMock>;
  let kms: ReturnType<typeof strictMock>;
  let tagging: ReturnType<typeof strictMock>;
  beforeEach(() => {
    rds = strictMock(RDSClient);
    kms = strictMock(KMSClient);
    tagging = strictMock(ResourceGroupsTaggingAPIClient);
  });

  const ctx = (
    opts: {
      config?: ReturnType<typeof testConfig>;
      previous?: Record<string, unknown>;
      outputs?: boolean;
    } = {},
  ) =>
    testContext({
      stepId: rdsBackupsStep.id,
      ...(opts.config ? { config: opts.config } : {}),
      ...(opts.previous ? { previous: opts.previous } : {}),
      outputs: opts.outputs === false ? {} : { [STEP.rds]: rdsOutputs },
    });

  const enabledKey = () =>
    kms
      .on(DescribeKeyCommand, { KeyId: 'alias/cloudmart-dr' })
      .resolves({ KeyMetadata: { KeyId: 'k-dr', Arn: KEY_ARN, KeyState: 'Enabled' } });

  it('converges drifted backup settings, creates the DR key and starts replication in the DR region', async () => {
    const drifted = {
      DBInstances: [instance({ BackupRetentionPeriod: 1, PreferredBackupWindow: '18:00-18:30' })],
    };
    // Right after the modify RDS still describes the old settings as available once.
    rds
      .on(DescribeDBInstancesCommand)
      .resolvesOnce(drifted)
      .resolvesOnce(drifted)
      .resolvesOnce({ DBInstances: [instance({ DBInstanceStatus: 'modifying' })] })
      .resolves({ DBInstances: [instance()] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-dr', Arn: KEY_ARN } });
    kms.on(CreateAliasCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
    kms.on(EnableKeyRotationCommand).resolves({});
    rds
      .on(DescribeDBInstanceAutomatedBackupsCommand)
      .resolvesOnce({ DBInstanceAutomatedBackups: [] })
      .resolvesOnce({ DBInstanceAutomatedBackups: [replica('pending')] })
      .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });
    rds
      .on(StartDBInstanceAutomatedBackupsReplicationCommand)
      .resolves({ DBInstanceAutomatedBackup: replica('pending') });

    const c = ctx();
    const out = await rdsBackupsStep.create(c);

    expect(rds.commandCalls(ModifyDBInstanceCommand).map((x) => x.args[0].input)).toEqual([
      {
        DBInstanceIdentifier: DB,
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '03:00-04:00',
        ApplyImmediately: true,
      },
    ]);
    const createKey = kms.commandCalls(CreateKeyCommand);
    expect(createKey).toHaveLength(1);
    expect(await regionOf(createKey[0]!)).toBe('ap-northeast-1');
    expect(createKey[0]!.args[0].input.Tags).toEqual(
      expect.arrayContaining([
        { TagKey: 'cloudmart:stack', TagValue: 'cloudmart' },
        { TagKey: 'cloudmart:step', TagValue: 'backup.rds' },
      ]),
    );
    expect(kms.commandCalls(CreateAliasCommand)[0]!.args[0].input).toEqual({
      AliasName: 'alias/cloudmart-dr',
      TargetKeyId: 'k-dr',
    });
    expect(kms.commandCalls(EnableKeyRotationCommand)[0]!.args[0].input).toEqual({ KeyId: 'k-dr' });

    const start = rds.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand);
    expect(start).toHaveLength(1);
    expect(await regionOf(start[0]!)).toBe('ap-northeast-1');
    expect(start[0]!.args[0].input).toEqual({
      SourceDBInstanceArn: DB_ARN,
      KmsKeyId: KEY_ARN,
      BackupRetentionPeriod: 7,
      Tags: expect.arrayContaining([{ Key: 'cloudmart:stack', Value: 'cloudmart' }]),
    });
    // The replicated backups are looked up in the DR region, by the source's resource id.
    const lookups = rds.commandCalls(DescribeDBInstanceAutomatedBackupsCommand);
    expect(await regionOf(lookups[0]!)).toBe('ap-northeast-1');
    expect(lookups[0]!.args[0].input).toEqual({ DbiResourceId: DBI });
    // Modified settings: it waited for the instance before starting the replication.
    const describes = rds.commandCalls(DescribeDBInstancesCommand);
    expect(describes.length).toBeGreaterThanOrEqual(4);
    expect(await regionOf(describes[0]!)).toBe('ap-northeast-2');
    expect(c.progressLog.some((l) => l.includes('pending'))).toBe(true);

    expect(out).toEqual({
      dbInstanceIdentifier: DB,
      dbInstanceArn: DB_ARN,
      dbiResourceId: DBI,
      backupRetentionPeriod: 7,
      backupWindow: '03:00-04:00',
      drRegion: 'ap-northeast-1',
      drKeyArn: KEY_ARN,
      drKeyAlias: 'alias/cloudmart-dr',
      replicatedBackupArn: REPLICA_ARN,
    });
  });

  it('adopts converged settings, the aliased key and the running replication without a mutating call', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    enabledKey();
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
      DBInstanceAutomatedBackups: [
        replica('retained', { DbiResourceId: 'db-OLD' }),
        replica('replicating'),
      ],
    });

    const out = await rdsBackupsStep.create(ctx());

    expect(out.replicatedBackupArn).toBe(REPLICA_ARN);
    expect(mutatingCalls(rds)).toEqual([]);
    expect(mutatingCalls(kms)).toEqual([]);
    expect(tagging.commandCalls(GetResourcesCommand)).toHaveLength(0);
  });

  it('revives a DR key that a recent destroy scheduled for deletion instead of creating another', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: 'k-dr', Arn: KEY_ARN, KeyState: 'PendingDeletion' } });
    kms.on(CancelKeyDeletionCommand).resolves({});
    kms.on(EnableKeyCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    rds
      .on(DescribeDBInstanceAutomatedBackupsCommand)
      .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });

    await rdsBackupsStep.create(ctx());

    expect(kms.commandCalls(CancelKeyDeletionCommand)[0]!.args[0].input).toEqual({ KeyId: 'k-dr' });
    expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  it('adopts a tagged key left without its alias by a crash instead of creating a second one', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    kms
      .on(DescribeKeyCommand, { KeyId: 'alias/cloudmart-dr' })
      .rejects(awsError('NotFoundException'));
    kms
      .on(DescribeKeyCommand, { KeyId: KEY_ARN })
      .resolves({ KeyMetadata: { KeyId: 'k-dr', Arn: KEY_ARN, KeyState: 'Enabled' } });
    tagging
      .on(GetResourcesCommand)
      .resolves({ ResourceTagMappingList: [{ ResourceARN: KEY_ARN }] });
    kms.on(CreateAliasCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    rds
      .on(DescribeDBInstanceAutomatedBackupsCommand)
      .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });

    await rdsBackupsStep.create(ctx());

    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
    expect(kms.commandCalls(CreateAliasCommand)[0]!.args[0].input).toEqual({
      AliasName: 'alias/cloudmart-dr',
      TargetKeyId: 'k-dr',
    });
    const lookup = tagging.commandCalls(GetResourcesCommand)[0]!;
    expect(await regionOf(lookup)).toBe('ap-northeast-1');
    expect(lookup.args[0].input.TagFilters).toEqual([
      { Key: 'cloudmart:stack', Values: ['cloudmart'] },
      { Key: 'cloudmart:step', Values: ['backup.rds'] },
    ]);
  });

  it('retries the start while the instance is still modifying', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    enabledKey();
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    rds
      .on(DescribeDBInstanceAutomatedBackupsCommand)
      .resolvesOnce({ DBInstanceAutomatedBackups: [] })
      .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });
    rds
      .on(StartDBInstanceAutomatedBackupsReplicationCommand)
      .rejectsOnce(awsError('InvalidDBInstanceStateFault'))
      .resolves({ DBInstanceAutomatedBackup: replica('replicating') });

    await rdsBackupsStep.create(ctx());
    expect(rds.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand)).toHaveLength(2);
  });

  it('fails when the replication ends in a state it will not leave', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    enabledKey();
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    rds
      .on(DescribeDBInstanceAutomatedBackupsCommand)
      .resolvesOnce({ DBInstanceAutomatedBackups: [] })
      .resolves({ DBInstanceAutomatedBackups: [replica('failed')] });
    rds
      .on(StartDBInstanceAutomatedBackupsReplicationCommand)
      .resolves({ DBInstanceAutomatedBackup: replica('pending') });

    await expect(rdsBackupsStep.create(ctx())).rejects.toThrow(/failed/);
  });

  it('touches no KMS key and no DR region when cross-region backup is off', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const config = testConfig({ database: { crossRegionBackup: false } });
    const out = await rdsBackupsStep.create(ctx({ config }));
    expect(out.drRegion).toBeUndefined();
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(0);
    expect(rds.commandCalls(DescribeDBInstanceAutomatedBackupsCommand)).toHaveLength(0);
  });

  it('fails with a hint when the RDS instance does not exist', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(awsError('DBInstanceNotFoundFault', 'not found', 404));
    await expect(rdsBackupsStep.create(ctx())).rejects.toMatchObject({
      code: 'NOT_READY',
      hint: 'cloudmart up --phase 1',
    });
  });

  describe('verify', () => {
    it('judges the restorable-time lag in bands: ≤ 5 min pass, ≤ 15 min warning, beyond it a failure', () => {
      expect(restorableLagStatus(4 * 60_000)).toBe('pass');
      expect(restorableLagStatus(5 * 60_000)).toBe('pass');
      expect(restorableLagStatus(6 * 60_000)).toBe('warn');
      expect(restorableLagStatus(15 * 60_000)).toBe('warn');
      expect(restorableLagStatus(16 * 60_000)).toBe('fail');
    });

    it('reports drifted retention and window, a stale restore point and replication off', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          instance({
            BackupRetentionPeriod: 1,
            PreferredBackupWindow: '18:00-18:30',
            LatestRestorableTime: new Date(NOW - 12 * 60_000),
          }),
        ],
      });
      rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
        DBInstanceAutomatedBackups: [replica('retained')],
      });
      const checks = await rdsBackupsStep.verify(ctx());
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
      expect(byId['backup.rds.retention']?.status).toBe('fail');
      expect(byId['backup.rds.window']?.status).toBe('fail');
      // 12 min behind: a warning band (AWS keeps it "typically" within 5 min), not yet a failure.
      expect(byId['backup.rds.pitr-rpo']).toMatchObject({ status: 'warn', criterion: 'backup' });
      expect(byId['backup.rds.pitr-rpo']?.evidence).toContain('12.0 min old');
      expect(byId['backup.rds.cross-region']).toMatchObject({
        status: 'fail',
        fix: 'cloudmart up --phase 3',
      });
      expect(byId['backup.rds.cross-region']?.evidence).toMatch(/replication off/);
    });

    it('passes a converged instance restorable to within the 5-minute RPO', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });
      const checks = await rdsBackupsStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['backup.rds.retention', 'pass'],
        ['backup.rds.window', 'pass'],
        ['backup.rds.pitr-rpo', 'pass'],
        ['backup.rds.cross-region', 'pass'],
      ]);
    });

    it('says a restore point ahead of this machine\'s clock is clock skew, not "-3.0 min old"', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [instance({ LatestRestorableTime: new Date(NOW + 3 * 60_000) })],
      });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolves({ DBInstanceAutomatedBackups: [replica('replicating')] });
      const checks = await rdsBackupsStep.verify(ctx());
      const pitr = checks.find((c) => c.id === 'backup.rds.pitr-rpo');
      expect(pitr?.status).toBe('pass');
      expect(pitr?.evidence).toContain("3.0 min ahead of this machine's clock");
      expect(pitr?.evidence).not.toMatch(/-\d+\.\d min/);
    });

    it('only warns about the RPO while a new instance takes its first backup', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          instance({
            InstanceCreateTime: new Date(NOW - 4 * 60_000),
            LatestRestorableTime: undefined,
          }),
        ],
      });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolves({ DBInstanceAutomatedBackups: [replica('pending')] });
      const checks = await rdsBackupsStep.verify(ctx());
      expect(checks.find((c) => c.id === 'backup.rds.pitr-rpo')?.status).toBe('warn');
      expect(checks.find((c) => c.id === 'backup.rds.cross-region')?.status).toBe('warn');
    });
  });

  describe('teardown', () => {
    beforeEach(() => {
      // No stray DR key unless a test says so.
      tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    });

    it('stops replication and deletes the copies in the DR region, then schedules the DR key', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolvesOnce({ DBInstanceAutomatedBackups: [replica('replicating')] })
        .resolvesOnce({ DBInstanceAutomatedBackups: [replica('deleting')] })
        .rejects(awsError('DBInstanceAutomatedBackupNotFoundFault', 'gone', 404));
      rds.on(StopDBInstanceAutomatedBackupsReplicationCommand).resolves({});
      rds
        .on(DeleteDBInstanceAutomatedBackupCommand)
        .rejectsOnce(awsError('InvalidDBInstanceAutomatedBackupStateFault'))
        .resolves({});
      enabledKey();
      kms.on(ScheduleKeyDeletionCommand).resolves({});

      const c = ctx({
        previous: { dbInstanceIdentifier: DB, dbiResourceId: DBI, drKeyArn: KEY_ARN },
      });
      await rdsBackupsStep.teardown(c);

      const stop = rds.commandCalls(StopDBInstanceAutomatedBackupsReplicationCommand);
      expect(stop).toHaveLength(1);
      expect(await regionOf(stop[0]!)).toBe('ap-northeast-1');
      expect(stop[0]!.args[0].input).toEqual({ SourceDBInstanceArn: DB_ARN });
      const del = rds.commandCalls(DeleteDBInstanceAutomatedBackupCommand);
      expect(del).toHaveLength(2); // refused once while replication was still stopping
      expect(await regionOf(del[1]!)).toBe('ap-northeast-1');
      expect(del[1]!.args[0].input).toEqual({ DbiResourceId: DBI });
      // Stop before delete, delete before the key.
      expect(seq(stop[0])).toBeLessThan(seq(del[0]));
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]!.args[0].input).toEqual({
        KeyId: 'k-dr',
        PendingWindowInDays: 7,
      });
      expect(c.warnings.some((w) => w.includes('7 days'))).toBe(true);
      expect(c.progressLog.some((l) => l.includes('to be deleted'))).toBe(true);
    });

    it('finds the copies by tag when the state and the source instance are gone', async () => {
      rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'gone', 404));
      const ours = replica('retained', {
        TagList: [
          { Key: 'cloudmart:stack', Value: 'cloudmart' },
          { Key: 'cloudmart:step', Value: 'backup.rds' },
        ],
      });
      const theirs = replica('retained', {
        DbiResourceId: 'db-OTHER',
        TagList: [{ Key: 'cloudmart:stack', Value: 'other' }],
      });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand, {})
        .resolves({ DBInstanceAutomatedBackups: [ours, theirs] });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand, { DbiResourceId: DBI })
        .resolves({ DBInstanceAutomatedBackups: [] });
      rds.on(DeleteDBInstanceAutomatedBackupCommand).resolves({});
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));

      await rdsBackupsStep.teardown(ctx({ outputs: false }));

      expect(rds.commandCalls(StopDBInstanceAutomatedBackupsReplicationCommand)).toHaveLength(0);
      expect(
        rds.commandCalls(DeleteDBInstanceAutomatedBackupCommand).map((x) => x.args[0].input),
      ).toEqual([{ DbiResourceId: DBI }]);
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)).toHaveLength(0);
    });

    it('succeeds when everything is already gone', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolves({ DBInstanceAutomatedBackups: [] });
      kms
        .on(DescribeKeyCommand)
        .resolves({ KeyMetadata: { KeyId: 'k-dr', Arn: KEY_ARN, KeyState: 'PendingDeletion' } });
      const c = ctx();
      await expect(rdsBackupsStep.teardown(c)).resolves.toBeUndefined();
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)).toHaveLength(0);
      expect(c.warnings).toEqual([]);
    });
  });
});
