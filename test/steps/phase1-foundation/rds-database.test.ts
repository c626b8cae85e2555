import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSubnetGroupCommand,
  DeleteDBInstanceCommand,
  DeleteDBParameterGroupCommand,
  DeleteDBSubnetGroupCommand,
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBParametersCommand,
  DescribeDBSubnetGroupsCommand,
  ModifyDBInstanceCommand,
  ModifyDBParameterGroupCommand,
  ModifyDBSubnetGroupCommand,
  RDSClient,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import type { Outputs } from '../../../src/engine/step.js';
import { dbSettings, rdsDatabaseStep } from '../../../src/steps/phase1-foundation/rds-database.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/1111-2222`;
const SECRET_ARN = `arn:aws:secretsmanager:ap-northeast-2:${ACCOUNT}:secret:rds!db-abc-XyZ123`;
const DB_ARN = `arn:aws:rds:ap-northeast-2:${ACCOUNT}:db:cloudmart-db`;
const ENDPOINT = 'cloudmart-db.c0abc.ap-northeast-2.rds.amazonaws.com';

const needs: Record<string, Outputs> = {
  [STEP.subnets]: {
    azs: ['ap-northeast-2a', 'ap-northeast-2c'],
    publicSubnetIds: ['subnet-p1', 'subnet-p2'],
    appSubnetIds: ['subnet-a1', 'subnet-a2'],
    dataSubnetIds: ['subnet-d1', 'subnet-d2'],
  },
  [STEP.securityGroups]: {
    albSgId: 'sg-alb',
    appSgId: 'sg-app',
    dbSgId: 'sg-db',
    redisSgId: 'sg-redis',
  },
  [STEP.kms]: { keyId: '1111-2222', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' },
};

/** A live instance exactly as the default config wants it. */
function liveDb(overrides: Partial<DBInstance> = {}): DBInstance {
  return {
    DBInstanceIdentifier: 'cloudmart-db',
    DBInstanceArn: DB_ARN,
    DBInstanceStatus: 'available',
    Engine: 'postgres',
    EngineVersion: '16.4',
    DBName: 'cloudmart',
    Endpoint: { Address: ENDPOINT, Port: 5432 },
    MultiAZ: true,
    AvailabilityZone: 'ap-northeast-2a',
    SecondaryAvailabilityZone: 'ap-northeast-2c',
    StorageEncrypted: true,
    KmsKeyId: KEY_ARN,
    PubliclyAccessible: false,
    BackupRetentionPeriod: 7,
    PreferredBackupWindow: '03:00-04:00',
    PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
    DeletionProtection: false,
    CopyTagsToSnapshot: true,
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db', Status: 'active' }],
    DBParameterGroups: [
      { DBParameterGroupName: 'cloudmart-postgres16', ParameterApplyStatus: 'in-sync' },
    ],
    EnabledCloudwatchLogsExports: ['postgresql', 'upgrade'],
    MasterUserSecret: { SecretArn: SECRET_ARN, SecretStatus: 'active', KmsKeyId: KEY_ARN },
    DBSubnetGroup: {
      DBSubnetGroupName: 'cloudmart-db-subnets',
      Subnets: [{ SubnetIdentifier: 'subnet-d1' }, { SubnetIdentifier: 'subnet-d2' }],
    },
    ...overrides,
  };
}

const expectedOutputs = {
  dbInstanceIdentifier: 'cloudmart-db',
  dbInstanceArn: DB_ARN,
  endpoint: ENDPOINT,
  port: 5432,
  engine: 'postgres',
  dbName: 'cloudmart',
  masterUserSecretArn: SECRET_ARN,
  dbSubnetGroupName: 'cloudmart-db-subnets',
  parameterGroupName: 'cloudmart-postgres16',
};

const notFound = () =>
  awsError('DBInstanceNotFoundFault', 'DBInstance cloudmart-db not found.', 404);

describe('data.rds', () => {
  let rds: ReturnType<typeof strictMock>;
  beforeEach(() => {
    rds = strictMock(RDSClient);
  });

  const ctx = (config?: Config, previous?: Outputs) =>
    testContext({ stepId: rdsDatabaseStep.id, config, outputs: needs, previous });

  /** The subnet group and parameter group already exist and are converged. */
  function groupsConverged() {
    rds.on(DescribeDBSubnetGroupsCommand).resolves({
      DBSubnetGroups: [
        {
          DBSubnetGroupName: 'cloudmart-db-subnets',
          Subnets: [{ SubnetIdentifier: 'subnet-d2' }, { SubnetIdentifier: 'subnet-d1' }],
        },
      ],
    });
    rds.on(DescribeDBParameterGroupsCommand).resolves({
      DBParameterGroups: [
        { DBParameterGroupName: 'cloudmart-postgres16', DBParameterGroupFamily: 'postgres16' },
      ],
    });
    rds.on(DescribeDBParametersCommand).resolves({
      Parameters: [
        { ParameterName: 'rds.force_ssl', ParameterValue: '1', Source: 'user' },
        { ParameterName: 'log_min_duration_statement', ParameterValue: '1000', Source: 'user' },
      ],
    });
  }

  const callOrder = () => rds.calls().map((c) => (c.args[0] as object).constructor.name);

  describe('create', () => {
    it('creates subnet group, TLS parameter group and a Multi-AZ encrypted instance with the seed settings', async () => {
      rds
        .on(DescribeDBSubnetGroupsCommand)
        .rejects(awsError('DBSubnetGroupNotFoundFault', 'not found', 404));
      rds.on(CreateDBSubnetGroupCommand).resolves({});
      rds
        .on(DescribeDBParameterGroupsCommand)
        .rejects(awsError('DBParameterGroupNotFoundFault', 'not found', 404));
      rds.on(CreateDBParameterGroupCommand).resolves({});
      rds.on(DescribeDBParametersCommand).resolves({ Parameters: [] });
      rds.on(ModifyDBParameterGroupCommand).resolves({});
      rds
        .on(DescribeDBInstancesCommand)
        .rejectsOnce(notFound())
        .resolvesOnce({
          DBInstances: [liveDb({ DBInstanceStatus: 'creating', Endpoint: undefined })],
        })
        .resolvesOnce({
          DBInstances: [liveDb({ DBInstanceStatus: 'backing-up', Endpoint: undefined })],
        })
        .resolves({ DBInstances: [liveDb()] });
      rds
        .on(CreateDBInstanceCommand)
        .resolves({ DBInstance: liveDb({ DBInstanceStatus: 'creating' }) });

      const c = ctx();
      const out = await rdsDatabaseStep.create(c);

      expect(out).toEqual(expectedOutputs);
      const create = rds.commandCalls(CreateDBInstanceCommand);
      expect(create).toHaveLength(1);
      expect(create[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        Engine: 'postgres',
        EngineVersion: '16',
        EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        StorageType: 'gp3',
        MultiAZ: true,
        StorageEncrypted: true,
        KmsKeyId: KEY_ARN,
        DBName: 'cloudmart',
        MasterUsername: 'cloudmart',
        ManageMasterUserPassword: true,
        MasterUserSecretKmsKeyId: KEY_ARN,
        PubliclyAccessible: false,
        VpcSecurityGroupIds: ['sg-db'],
        DBSubnetGroupName: 'cloudmart-db-subnets',
        DBParameterGroupName: 'cloudmart-postgres16',
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '03:00-04:00',
        PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
        CopyTagsToSnapshot: true,
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
        DeletionProtection: false,
        AutoMinorVersionUpgrade: true,
        Tags: expect.arrayContaining([
          { Key: 'Name', Value: 'cloudmart-db' },
          { Key: 'cloudmart:stack', Value: 'cloudmart' },
          { Key: 'cloudmart:step', Value: 'data.rds' },
          { Key: 'Project', Value: 'CloudMart' },
        ]),
      });
      // No password ever passes through cloudmart.
      expect(create[0]!.args[0].input).not.toHaveProperty('MasterUserPassword');

      expect(rds.commandCalls(CreateDBSubnetGroupCommand)[0]!.args[0].input).toEqual({
        DBSubnetGroupName: 'cloudmart-db-subnets',
        DBSubnetGroupDescription: expect.any(String),
        SubnetIds: ['subnet-d1', 'subnet-d2'],
        Tags: expect.arrayContaining([{ Key: 'Name', Value: 'cloudmart-db-subnets' }]),
      });
      expect(rds.commandCalls(CreateDBParameterGroupCommand)[0]!.args[0].input).toEqual({
        DBParameterGroupName: 'cloudmart-postgres16',
        DBParameterGroupFamily: 'postgres16',
        Description: expect.any(String),
        Tags: expect.arrayContaining([{ Key: 'Name', Value: 'cloudmart-postgres16' }]),
      });
      expect(rds.commandCalls(DescribeDBParametersCommand)[0]!.args[0].input).toEqual({
        DBParameterGroupName: 'cloudmart-postgres16',
        Source: 'user',
      });
      expect(rds.commandCalls(ModifyDBParameterGroupCommand)[0]!.args[0].input).toEqual({
        DBParameterGroupName: 'cloudmart-postgres16',
        Parameters: [
          { ParameterName: 'rds.force_ssl', ParameterValue: '1', ApplyMethod: 'immediate' },
          {
            ParameterName: 'log_min_duration_statement',
            ParameterValue: '1000',
            ApplyMethod: 'immediate',
          },
        ],
      });
      // The groups exist before the instance that uses them.
      const order = callOrder();
      expect(order.indexOf('CreateDBSubnetGroupCommand')).toBeLessThan(
        order.indexOf('CreateDBInstanceCommand'),
      );
      expect(order.indexOf('ModifyDBParameterGroupCommand')).toBeLessThan(
        order.indexOf('CreateDBInstanceCommand'),
      );
      // A fresh instance is not "converged" a second time.
      expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
      // Progress shows the RDS status while waiting, and the wait polls briskly.
      expect(c.progressLog.some((l) => /RDS cloudmart-db: creating/.test(l))).toBe(true);
      expect(c.progressLog.some((l) => /RDS cloudmart-db: backing-up/.test(l))).toBe(true);
      expect(c.slept()).toBeLessThanOrEqual(30_000);
    });

    it('builds a MySQL parameter group with require_secure_transport and the slow query log', async () => {
      const config = testConfig({ database: { engine: 'mysql' } });
      rds.on(DescribeDBSubnetGroupsCommand).resolves({
        DBSubnetGroups: [
          {
            Subnets: [{ SubnetIdentifier: 'subnet-d1' }, { SubnetIdentifier: 'subnet-d2' }],
          },
        ],
      });
      rds
        .on(DescribeDBParameterGroupsCommand)
        .rejects(awsError('DBParameterGroupNotFoundFault', 'not found', 404));
      rds.on(CreateDBParameterGroupCommand).resolves({});
      rds.on(DescribeDBParametersCommand).resolves({ Parameters: [] });
      rds.on(ModifyDBParameterGroupCommand).resolves({});
      const mysql = liveDb({
        Engine: 'mysql',
        Endpoint: { Address: ENDPOINT, Port: 3306 },
        DBParameterGroups: [{ DBParameterGroupName: 'cloudmart-mysql8-4' }],
        EnabledCloudwatchLogsExports: ['error', 'slowquery'],
      });
      rds
        .on(DescribeDBInstancesCommand)
        .rejectsOnce(notFound())
        .resolves({ DBInstances: [mysql] });
      rds.on(CreateDBInstanceCommand).resolves({});

      const out = await rdsDatabaseStep.create(ctx(config));

      expect(out.parameterGroupName).toBe('cloudmart-mysql8-4');
      expect(out.port).toBe(3306);
      expect(rds.commandCalls(CreateDBParameterGroupCommand)[0]!.args[0].input).toMatchObject({
        DBParameterGroupName: 'cloudmart-mysql8-4',
        DBParameterGroupFamily: 'mysql8.4',
      });
      expect(rds.commandCalls(ModifyDBParameterGroupCommand)[0]!.args[0].input.Parameters).toEqual([
        {
          ParameterName: 'require_secure_transport',
          ParameterValue: '1',
          ApplyMethod: 'immediate',
        },
        { ParameterName: 'slow_query_log', ParameterValue: '1', ApplyMethod: 'immediate' },
        { ParameterName: 'long_query_time', ParameterValue: '1', ApplyMethod: 'immediate' },
        { ParameterName: 'log_output', ParameterValue: 'FILE', ApplyMethod: 'immediate' },
      ]);
      expect(rds.commandCalls(CreateDBInstanceCommand)[0]!.args[0].input).toMatchObject({
        Engine: 'mysql',
        EngineVersion: '8.4',
        // 8.0's standard support ended 2026-07-31: never enrolled in paid Extended Support.
        EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
        EnableCloudwatchLogsExports: ['error', 'slowquery'],
        DBParameterGroupName: 'cloudmart-mysql8-4',
      });
      // The subnet group already had the data subnets: nothing sent for it.
      expect(rds.commandCalls(CreateDBSubnetGroupCommand)).toHaveLength(0);
      expect(rds.commandCalls(ModifyDBSubnetGroupCommand)).toHaveLength(0);
    });

    it('adopts a converged instance and sends no mutating call at all', async () => {
      groupsConverged();
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [liveDb()] });

      const c = ctx();
      const out = await rdsDatabaseStep.create(c);

      expect(out).toEqual(expectedOutputs);
      const mutating = callOrder().filter((n) => !n.startsWith('Describe'));
      expect(mutating).toEqual([]);
      expect(c.warnings).toEqual([]);
      expect(rds.commandCalls(DescribeDBInstancesCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
      });
    });

    it('converges drift with one ModifyDBInstance (ApplyImmediately) and waits for it', async () => {
      groupsConverged();
      rds.on(DescribeDBParametersCommand).resolves({
        Parameters: [
          { ParameterName: 'rds.force_ssl', ParameterValue: '0', Source: 'user' },
          { ParameterName: 'log_min_duration_statement', ParameterValue: '1000', Source: 'user' },
        ],
      });
      rds.on(ModifyDBParameterGroupCommand).resolves({});
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({
          DBInstances: [
            liveDb({
              MultiAZ: false,
              SecondaryAvailabilityZone: undefined,
              BackupRetentionPeriod: 1,
              PreferredBackupWindow: '18:00-18:30',
              EnabledCloudwatchLogsExports: ['postgresql'],
            }),
          ],
        })
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'modifying' })] })
        .resolves({ DBInstances: [liveDb()] });
      rds.on(ModifyDBInstanceCommand).resolves({});

      const c = ctx();
      await rdsDatabaseStep.create(c);

      const modify = rds.commandCalls(ModifyDBInstanceCommand);
      expect(modify).toHaveLength(1);
      expect(modify[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        ApplyImmediately: true,
        MultiAZ: true,
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '03:00-04:00',
        CloudwatchLogsExportConfiguration: { EnableLogTypes: ['upgrade'] },
      });
      expect(rds.commandCalls(ModifyDBParameterGroupCommand)[0]!.args[0].input.Parameters).toEqual([
        { ParameterName: 'rds.force_ssl', ParameterValue: '1', ApplyMethod: 'immediate' },
      ]);
      expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
      expect(c.progressLog.some((l) => l.includes('MultiAZ false→true'))).toBe(true);
      expect(c.progressLog.some((l) => l.includes('modifying'))).toBe(true);
    });

    it('warns that an unencrypted adopted instance cannot be encrypted in place', async () => {
      groupsConverged();
      rds
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [liveDb({ StorageEncrypted: false, KmsKeyId: undefined })] });

      const c = ctx();
      await rdsDatabaseStep.create(c);

      expect(c.warnings).toHaveLength(1);
      expect(c.warnings[0]).toMatch(/not encrypted at rest.*cannot be turned on in place/);
      expect(c.warnings[0]).toMatch(/snapshot/);
      expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    });

    it('adopts the instance when a concurrent or crashed run already created it', async () => {
      groupsConverged();
      rds
        .on(DescribeDBInstancesCommand)
        .rejectsOnce(notFound())
        .resolves({ DBInstances: [liveDb()] });
      rds
        .on(CreateDBInstanceCommand)
        .rejects(awsError('DBInstanceAlreadyExistsFault', 'DB instance already exists'));

      await expect(rdsDatabaseStep.create(ctx())).resolves.toEqual(expectedOutputs);
      expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    });

    it('waits out an instance still being deleted, then creates a fresh one', async () => {
      groupsConverged();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'deleting' })] })
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'deleting' })] })
        .rejectsOnce(notFound())
        .resolves({ DBInstances: [liveDb()] });
      rds.on(CreateDBInstanceCommand).resolves({});

      await rdsDatabaseStep.create(ctx());

      expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(1);
    });

    it('fails clearly when the instance lands in a state it will not leave', async () => {
      groupsConverged();
      rds
        .on(DescribeDBInstancesCommand)
        .rejectsOnce(notFound())
        .resolves({ DBInstances: [liveDb({ DBInstanceStatus: 'incompatible-parameters' })] });
      rds.on(CreateDBInstanceCommand).resolves({});

      await expect(rdsDatabaseStep.create(ctx())).rejects.toThrow(/incompatible-parameters/);
    });

    it('passes an AWS error from CreateDBInstance through', async () => {
      groupsConverged();
      rds.on(DescribeDBInstancesCommand).rejects(notFound());
      rds
        .on(CreateDBInstanceCommand)
        .rejects(awsError('InsufficientDBInstanceCapacityFault', 'no capacity in ap-northeast-2a'));

      await expect(rdsDatabaseStep.create(ctx())).rejects.toThrow(/no capacity/);
    });

    it('refuses a parameter group of another family instead of using it', async () => {
      rds.on(DescribeDBSubnetGroupsCommand).resolves({
        DBSubnetGroups: [
          { Subnets: [{ SubnetIdentifier: 'subnet-d1' }, { SubnetIdentifier: 'subnet-d2' }] },
        ],
      });
      rds.on(DescribeDBParameterGroupsCommand).resolves({
        DBParameterGroups: [{ DBParameterGroupFamily: 'postgres15' }],
      });

      await expect(rdsDatabaseStep.create(ctx())).rejects.toThrow(/postgres15, not postgres16/);
      expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
    });

    it('moves an existing subnet group onto the data subnets', async () => {
      groupsConverged();
      rds.on(DescribeDBSubnetGroupsCommand).resolves({
        DBSubnetGroups: [
          { Subnets: [{ SubnetIdentifier: 'subnet-a1' }, { SubnetIdentifier: 'subnet-d2' }] },
        ],
      });
      rds.on(ModifyDBSubnetGroupCommand).resolves({});
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [liveDb()] });

      await rdsDatabaseStep.create(ctx());

      expect(rds.commandCalls(ModifyDBSubnetGroupCommand)[0]!.args[0].input).toMatchObject({
        DBSubnetGroupName: 'cloudmart-db-subnets',
        SubnetIds: ['subnet-d1', 'subnet-d2'],
      });
    });
  });

  describe('settings', () => {
    it('derives family and version from the engine', () => {
      expect(dbSettings(testConfig())).toMatchObject({
        engineVersion: '16',
        family: 'postgres16',
        parameterGroupName: 'cloudmart-postgres16',
      });
      expect(dbSettings(testConfig({ database: { engineVersion: '15.7' } }))).toMatchObject({
        engineVersion: '15.7',
        family: 'postgres15',
        parameterGroupName: 'cloudmart-postgres15',
      });
      expect(
        dbSettings(testConfig({ database: { engine: 'mysql', engineVersion: '8.4.3' } })),
      ).toMatchObject({ family: 'mysql8.4', parameterGroupName: 'cloudmart-mysql8-4' });
    });

    it('describes the plan offline', () => {
      const lines = rdsDatabaseStep.describe(testConfig()).join('\n');
      expect(lines).toMatch(/cloudmart-db-subnets/);
      expect(lines).toMatch(/rds\.force_ssl=1/);
      expect(lines).toMatch(/Multi-AZ/);
      expect(lines).toMatch(/03:00-04:00/);
      expect(rds.calls()).toHaveLength(0);
    });
  });

  describe('verify', () => {
    it('passes every check on a compliant instance', async () => {
      groupsConverged();
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [liveDb()] });

      const checks = await rdsDatabaseStep.verify(ctx());

      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['data.rds.exists', 'pass'],
        ['data.rds.multi-az', 'pass'],
        ['data.rds.encrypted', 'pass'],
        ['data.rds.private', 'pass'],
        ['data.rds.subnets', 'pass'],
        ['data.rds.tls', 'pass'],
        ['data.rds.backup-retention', 'pass'],
        ['data.rds.backup-window', 'pass'],
        ['data.rds.log-exports', 'pass'],
        ['data.rds.master-secret', 'pass'],
        ['data.rds.deletion-protection', 'pass'],
      ]);
      expect(checks.find((c) => c.id === 'data.rds.multi-az')?.criterion).toBe('rds-multi-az');
      expect(callOrder().every((n) => n.startsWith('Describe'))).toBe(true);
    });

    it('reports Multi-AZ off, encryption off, TLS not forced and a public instance', async () => {
      groupsConverged();
      rds.on(DescribeDBParametersCommand).resolves({ Parameters: [] });
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          liveDb({
            MultiAZ: false,
            SecondaryAvailabilityZone: undefined,
            StorageEncrypted: false,
            KmsKeyId: undefined,
            PubliclyAccessible: true,
            BackupRetentionPeriod: 1,
          }),
        ],
      });

      const checks = await rdsDatabaseStep.verify(ctx());
      const byId = (id: string) => checks.find((c) => c.id === id)!;

      expect(byId('data.rds.multi-az')).toMatchObject({
        status: 'fail',
        criterion: 'rds-multi-az',
      });
      expect(byId('data.rds.multi-az').evidence).toMatch(/MultiAZ=false.*standby=none/);
      expect(byId('data.rds.encrypted')).toMatchObject({ status: 'fail', criterion: 'encryption' });
      expect(byId('data.rds.encrypted').fix).toMatch(/snapshot.*copy.*restore/);
      expect(byId('data.rds.tls').status).toBe('fail');
      expect(byId('data.rds.private').status).toBe('fail');
      expect(byId('data.rds.backup-retention').status).toBe('fail');
      expect(byId('data.rds.subnets').status).toBe('pass');
    });

    it('reports an instance encrypted with another key', async () => {
      groupsConverged();
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [liveDb({ KmsKeyId: `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/other` })],
      });
      const checks = await rdsDatabaseStep.verify(ctx());
      expect(checks.find((c) => c.id === 'data.rds.encrypted')?.status).toBe('fail');
    });

    it('reports a missing instance', async () => {
      rds.on(DescribeDBInstancesCommand).rejects(notFound());
      const checks = await rdsDatabaseStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({
          id: 'data.rds.exists',
          status: 'fail',
          fix: 'cloudmart up --phase 1',
        }),
      ]);
    });
  });

  describe('teardown', () => {
    function groupsDeletable() {
      rds.on(DeleteDBSubnetGroupCommand).resolves({});
      rds.on(DeleteDBParameterGroupCommand).resolves({});
    }

    it('turns deletion protection off first, deletes without a final snapshot, waits, then the groups', async () => {
      groupsDeletable();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb({ DeletionProtection: true })] })
        .resolvesOnce({ DBInstances: [liveDb({ DeletionProtection: true })] })
        .resolvesOnce({ DBInstances: [liveDb({ DeletionProtection: false })] })
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'deleting' })] })
        .rejects(notFound());
      rds.on(ModifyDBInstanceCommand).resolves({});
      rds.on(DeleteDBInstanceCommand).resolves({});

      const c = ctx();
      await rdsDatabaseStep.teardown(c);

      expect(rds.commandCalls(ModifyDBInstanceCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        DeletionProtection: false,
        ApplyImmediately: true,
      });
      expect(rds.commandCalls(DeleteDBInstanceCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      });
      expect(rds.commandCalls(DeleteDBSubnetGroupCommand)[0]!.args[0].input).toEqual({
        DBSubnetGroupName: 'cloudmart-db-subnets',
      });
      expect(rds.commandCalls(DeleteDBParameterGroupCommand)[0]!.args[0].input).toEqual({
        DBParameterGroupName: 'cloudmart-postgres16',
      });
      const order = callOrder();
      const modify = order.indexOf('ModifyDBInstanceCommand');
      const del = order.indexOf('DeleteDBInstanceCommand');
      // Protection is confirmed off (a describe between the two) before the delete is sent.
      expect(order.slice(modify, del)).toContain('DescribeDBInstancesCommand');
      expect(modify).toBeLessThan(del);
      // The instance is gone before its subnet group is deleted.
      expect(order.lastIndexOf('DescribeDBInstancesCommand')).toBeLessThan(
        order.indexOf('DeleteDBSubnetGroupCommand'),
      );
      expect(c.progressLog.some((l) => l.includes('deleting'))).toBe(true);
      expect(c.warnings).toEqual([]);
    });

    it('keeps a final snapshot when configured and says so', async () => {
      groupsDeletable();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb()] })
        .rejects(notFound());
      rds.on(DeleteDBInstanceCommand).resolves({});

      const c = ctx(testConfig({ destroy: { finalSnapshot: true } }));
      await rdsDatabaseStep.teardown(c);

      expect(rds.commandCalls(DeleteDBInstanceCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        FinalDBSnapshotIdentifier: 'cloudmart-db-final-20231114221320',
        DeleteAutomatedBackups: false,
      });
      expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
      expect(c.warnings.join('\n')).toMatch(/cloudmart-db-final-20231114221320/);
    });

    it('skips the final snapshot of a failed instance even when one is configured', async () => {
      groupsDeletable();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'failed' })] })
        .rejects(notFound());
      rds.on(DeleteDBInstanceCommand).resolves({});

      const c = ctx(testConfig({ destroy: { finalSnapshot: true } }));
      await rdsDatabaseStep.teardown(c);

      expect(rds.commandCalls(DeleteDBInstanceCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: false,
      });
      expect(c.warnings.join('\n')).toMatch(/failed.*without a final snapshot/);
    });

    it('retries the delete while the instance is still in a state that refuses it', async () => {
      groupsDeletable();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'backing-up' })] })
        .rejects(notFound());
      rds
        .on(DeleteDBInstanceCommand)
        .rejectsOnce(
          awsError(
            'InvalidDBInstanceStateFault',
            'Instance cloudmart-db is not in available state',
          ),
        )
        .resolves({});

      const c = ctx();
      await rdsDatabaseStep.teardown(c);
      expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(2);
      expect(c.progressLog.some((l) => l.includes('InvalidDBInstanceStateFault'))).toBe(true);
    });

    it('retries the subnet and parameter groups while RDS still holds them', async () => {
      rds.on(DescribeDBInstancesCommand).rejects(notFound());
      rds
        .on(DeleteDBSubnetGroupCommand)
        .rejectsOnce(awsError('InvalidDBSubnetGroupStateFault', 'in use'))
        .resolves({});
      rds
        .on(DeleteDBParameterGroupCommand)
        .rejectsOnce(awsError('InvalidDBParameterGroupStateFault', 'in use'))
        .resolves({});

      await rdsDatabaseStep.teardown(ctx());
      expect(rds.commandCalls(DeleteDBSubnetGroupCommand)).toHaveLength(2);
      expect(rds.commandCalls(DeleteDBParameterGroupCommand)).toHaveLength(2);
    });

    it('only waits for an instance already being deleted', async () => {
      groupsDeletable();
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'deleting' })] })
        .resolvesOnce({ DBInstances: [liveDb({ DBInstanceStatus: 'deleting' })] })
        .rejects(notFound());

      await rdsDatabaseStep.teardown(ctx());
      expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
      expect(rds.commandCalls(DeleteDBSubnetGroupCommand)).toHaveLength(1);
    });

    it('succeeds when everything is already gone, with or without state', async () => {
      rds.on(DescribeDBInstancesCommand).rejects(notFound());
      rds
        .on(DeleteDBSubnetGroupCommand)
        .rejects(awsError('DBSubnetGroupNotFoundFault', 'not found', 404));
      rds
        .on(DeleteDBParameterGroupCommand)
        .rejects(awsError('DBParameterGroupNotFoundFault', 'not found', 404));

      await expect(rdsDatabaseStep.teardown(ctx())).resolves.toBeUndefined();
      await expect(
        rdsDatabaseStep.teardown(ctx(undefined, { ...expectedOutputs })),
      ).resolves.toBeUndefined();
      expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    });

    it('propagates an unexpected delete error', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [liveDb()] });
      rds.on(DeleteDBInstanceCommand).rejects(awsError('AccessDenied', 'not allowed', 403));
      await expect(rdsDatabaseStep.teardown(ctx())).rejects.toThrow(/not allowed/);
      expect(rds.commandCalls(DeleteDBSubnetGroupCommand)).toHaveLength(0);
    });
  });
});
