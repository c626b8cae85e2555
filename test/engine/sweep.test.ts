import { readdirSync, readFileSync } from 'node:fs';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { BackupClient, DescribeBackupVaultCommand } from '@aws-sdk/client-backup';
import { CloudWatchClient, ListDashboardsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeNatGatewaysCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  sweep as sweepSteps,
  SweepIncompleteError,
  type Leftover,
} from '../../src/engine/sweep.js';
import { registry } from '../../src/steps/registry.js';
import type { Config } from '../../src/config/schema.js';
import type { Step } from '../../src/engine/step.js';
import { dbSettings } from '../../src/steps/phase1-foundation/rds-database.js';
import { ACCOUNT, awsError, strictMock, TestAws, testConfig } from '../helpers/context.js';
import { FakeCloud, type ServiceName } from '../helpers/fake-cloud/index.js';

type Stub = ReturnType<typeof strictMock>;
/** The sweep as destroy runs it: asking every step of the registry. */
const sweep = (aws: TestAws, config: Config) => sweepSteps(aws, config, registry);
const R = 'ap-northeast-2';
const arn = (s: string) => `arn:aws:${s}`;

describe('destroy sweep', () => {
  let tagging: Stub;
  let logs: Stub;
  let kms: Stub;
  let ec2: Stub;
  let cloudwatch: Stub;
  let autoscaling: Stub;
  let iam: Stub;
  let rds: Stub;
  let backup: Stub;
  beforeEach(() => {
    tagging = strictMock(ResourceGroupsTaggingAPIClient);
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    logs = strictMock(CloudWatchLogsClient);
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    kms = strictMock(KMSClient);
    ec2 = strictMock(EC2Client);
    cloudwatch = strictMock(CloudWatchClient);
    cloudwatch.on(ListDashboardsCommand).resolves({ DashboardEntries: [] });
    autoscaling = strictMock(AutoScalingClient);
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    iam = strictMock(IAMClient);
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException', 'role not found', 404));
    iam
      .on(GetInstanceProfileCommand)
      .rejects(awsError('NoSuchEntityException', 'profile not found', 404));
    rds = strictMock(RDSClient);
    backup = strictMock(BackupClient);
  });

  /** The Tagging API lists these ARNs in the main region, nothing elsewhere. */
  const taggedInMainRegion = (...arns: string[]) => {
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({ ResourceTagMappingList: arns.map((ResourceARN) => ({ ResourceARN })) })
      .resolves({ ResourceTagMappingList: [] });
  };
  const summary = (found: Leftover[]) => found.map((f) => `${f.type} kept=${f.kept}`);

  it('finds nothing, after asking the Tagging API in every region and looking up by tag and name what it cannot list', async () => {
    const config = testConfig();
    expect(await sweep(new TestAws(), config)).toEqual([]);

    expect(tagging.commandCalls(GetResourcesCommand).map((c) => c.args[0].input)).toEqual([
      { TagFilters: [{ Key: 'cloudmart:stack', Values: ['cloudmart'] }] },
      { TagFilters: [{ Key: 'cloudmart:stack', Values: ['cloudmart'] }] },
      { TagFilters: [{ Key: 'cloudmart:stack', Values: ['cloudmart'] }] },
    ]);
    // main region, DR region and us-east-1 (CloudFront, WAF and ACM of the edge)
    expect(new Set([config.region, config.drRegion, config.edgeRegion]).size).toBe(3);
    // Auto Scaling groups: the Tagging API answers empty for them.
    expect(autoscaling.commandCalls(DescribeAutoScalingGroupsCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'tag:cloudmart:stack', Values: ['cloudmart'] }],
    });
    // IAM roles: not supported by the Tagging API; the steps' role names.
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([
      'cloudmart-ec2-role',
      'cloudmart-backup-role',
      'cloudmart-flow-logs-role',
    ]);
    expect(iam.commandCalls(GetInstanceProfileCommand)[0]!.args[0].input).toEqual({
      InstanceProfileName: 'cloudmart-ec2-profile',
    });
    expect(
      logs
        .commandCalls(DescribeLogGroupsCommand)
        .map((c) => c.args[0].input.logGroupNamePrefix)
        .sort(),
    ).toEqual(
      [
        '/aws/rds/instance/cloudmart-db/',
        config.network.flowLogs.logGroup,
        config.monitoring.logs.backend.name,
      ].sort(),
    );
    expect(cloudwatch.commandCalls(ListDashboardsCommand)[0]!.args[0].input).toEqual({
      DashboardNamePrefix: config.monitoring.dashboardName,
    });
  });

  it('looks for the RDS log groups under the instance id as the RDS step names it (lower case)', async () => {
    // A stack name from before names had to be lower case: RDS still stores the id lower-cased.
    const config: Config = { ...testConfig(), stack: 'Shop' };
    expect(dbSettings(config).instanceId).toBe('shop-db');
    await sweep(new TestAws(), config);
    expect(logs.commandCalls(DescribeLogGroupsCommand)[0]!.args[0].input).toEqual({
      logGroupNamePrefix: '/aws/rds/instance/shop-db/',
    });
  });

  it('reports leftovers, keeps a KMS key pending deletion as "kept", drops a NAT that is already deleted', async () => {
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({
        ResourceTagMappingList: [
          { ResourceARN: arn(`ec2:${R}:${ACCOUNT}:security-group/sg-1`) },
          { ResourceARN: arn(`kms:${R}:${ACCOUNT}:key/k-1`) },
          { ResourceARN: arn(`ec2:${R}:${ACCOUNT}:natgateway/nat-1`) },
        ],
        PaginationToken: 'next',
      })
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('s3:::cloudmart-frontend') }] })
      .resolves({ ResourceTagMappingList: [] });
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: 'k-1', KeyState: 'PendingDeletion' } });
    ec2
      .on(DescribeNatGatewaysCommand)
      .resolves({ NatGateways: [{ NatGatewayId: 'nat-1', State: 'deleted' }] });
    logs
      .on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/aws/rds/instance/cloudmart-db/' })
      .resolves({
        logGroups: [
          {
            logGroupName: '/aws/rds/instance/cloudmart-db/postgresql',
            arn: `arn:aws:logs:${R}:1:log-group:/aws/rds/instance/cloudmart-db/postgresql:*`,
          },
        ],
      });
    cloudwatch.on(ListDashboardsCommand).resolves({
      DashboardEntries: [
        {
          DashboardName: 'CloudMart-Production',
          DashboardArn: 'arn:aws:cloudwatch::1:dashboard/CloudMart-Production',
        },
      ],
    });

    const found = await sweep(new TestAws(), testConfig());

    // Per region, keys come last (whether they are kept depends on the backups kept there).
    expect(summary(found)).toEqual([
      'ec2:security-group kept=false',
      's3:bucket kept=false',
      'kms:key kept=true',
      'logs:log-group kept=false',
      'cloudwatch:dashboard kept=false',
    ]);
    expect(found[2]!.note).toContain('scheduled for deletion');
    expect(found[3]!.arn).toBe(
      `arn:aws:logs:${R}:1:log-group:/aws/rds/instance/cloudmart-db/postgresql`,
    );
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)[0]!.args[0].input).toEqual({
      NatGatewayIds: ['nat-1'],
    });
    expect(tagging.commandCalls(GetResourcesCommand)[1]!.args[0].input.PaginationToken).toBe(
      'next',
    );
  });

  it('checks a listed VPC by id: a live one remains, a gone one is dropped, the default VPC is kept and said so', async () => {
    taggedInMainRegion(
      arn(`ec2:${R}:${ACCOUNT}:vpc/vpc-busy`),
      arn(`ec2:${R}:${ACCOUNT}:vpc/vpc-gone`),
      arn(`ec2:${R}:${ACCOUNT}:vpc/vpc-default`),
    );
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-busy'] })
      .resolves({ Vpcs: [{ VpcId: 'vpc-busy', State: 'available', IsDefault: false }] });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-gone'] })
      .rejects(awsError('InvalidVpcID.NotFound', "The vpc ID 'vpc-gone' does not exist"));
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-default'] })
      .resolves({ Vpcs: [{ VpcId: 'vpc-default', State: 'available', IsDefault: true }] });

    const found = await sweep(new TestAws(), testConfig());

    expect(found.map((f) => [f.arn.split('/').at(-1), f.kept, f.unconfirmed])).toEqual([
      ['vpc-busy', false, undefined],
      ['vpc-default', true, undefined],
    ]);
    expect(found[0]!.note).toContain('holds resources');
    expect(found[1]!.note).toContain('default VPC');
    expect(found[1]!.note).toContain('delete-tags');
  });

  it('reports an Auto Scaling group of the stack, which the Tagging API never lists', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolvesOnce({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'cloudmart-asg',
          AutoScalingGroupARN: arn(
            `autoscaling:${R}:${ACCOUNT}:autoScalingGroup:u-1:autoScalingGroupName/cloudmart-asg`,
          ),
          Status: 'Delete in progress',
          Tags: [{ Key: 'cloudmart:stack', Value: 'cloudmart' }],
        } as never,
      ],
      NextToken: 'page-2',
    });
    autoscaling.on(DescribeAutoScalingGroupsCommand, { NextToken: 'page-2' }).resolves({
      AutoScalingGroups: [
        // Not ours (an API that ignored the filter would still not make it a leftover).
        {
          AutoScalingGroupName: 'other-asg',
          AutoScalingGroupARN: arn(`autoscaling:${R}:${ACCOUNT}:autoScalingGroup:u-2:x`),
          Tags: [{ Key: 'cloudmart:stack', Value: 'other' }],
        } as never,
      ],
    });

    const found = await sweep(new TestAws(), testConfig());

    expect(found).toEqual([
      {
        arn: arn(
          `autoscaling:${R}:${ACCOUNT}:autoScalingGroup:u-1:autoScalingGroupName/cloudmart-asg`,
        ),
        region: R,
        type: 'autoscaling:autoScalingGroup',
        kept: false,
        note: 'cloudmart-asg (Delete in progress)',
      },
    ]);
    expect(autoscaling.commandCalls(DescribeAutoScalingGroupsCommand)[1]!.args[0].input).toEqual({
      Filters: [{ Name: 'tag:cloudmart:stack', Values: ['cloudmart'] }],
      NextToken: 'page-2',
    });
  });

  it('reports the IAM roles and the instance profile the steps create when they are still there', async () => {
    iam.on(GetRoleCommand, { RoleName: 'cloudmart-ec2-role' }).resolves({
      Role: {
        RoleName: 'cloudmart-ec2-role',
        Arn: `arn:aws:iam::${ACCOUNT}:role/cloudmart-ec2-role`,
      } as never,
    });
    iam.on(GetRoleCommand, { RoleName: 'cloudmart-flow-logs-role' }).resolves({
      Role: {
        RoleName: 'cloudmart-flow-logs-role',
        Arn: `arn:aws:iam::${ACCOUNT}:role/cloudmart-flow-logs-role`,
      } as never,
    });
    iam.on(GetInstanceProfileCommand).resolves({
      InstanceProfile: {
        InstanceProfileName: 'cloudmart-ec2-profile',
        Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/cloudmart-ec2-profile`,
      } as never,
    });

    const found = await sweep(new TestAws(), testConfig());

    // In the order the steps found them (each step's lookups are its own).
    expect(found.map((f) => `${f.type} ${f.region} ${f.note} kept=${f.kept}`).sort()).toEqual(
      [
        'iam:role global cloudmart-ec2-role kept=false',
        'iam:role global cloudmart-flow-logs-role kept=false',
        'iam:instance-profile global cloudmart-ec2-profile kept=false',
      ].sort(),
    );
  });

  describe('what the config keeps on purpose', () => {
    const manual = arn(`rds:${R}:${ACCOUNT}:snapshot:cloudmart-db-snapshot-day5`);
    const final = arn(`rds:${R}:${ACCOUNT}:snapshot:cloudmart-db-final-20250101-000000`);
    const backupSnapshot = arn(`rds:${R}:${ACCOUNT}:snapshot:awsbackup:job-1234`);
    const ami = arn(`ec2:${R}::image/ami-0123`);
    const point = arn(`backup:${R}:${ACCOUNT}:recovery-point:rp-1`);
    const vault = arn(`backup:${R}:${ACCOUNT}:backup-vault:cloudmart-vault`);
    const key = arn(`kms:${R}:${ACCOUNT}:key/k-1`);
    const autoBackups = arn(`rds:${R}:${ACCOUNT}:auto-backup:ab-0123`);

    /**
     * What lives under the key, as the key step's `dataEncryptedWith` lists it: the region's
     * snapshots and retained automated backups (by KmsKeyId), the vault (by its key). A
     * snapshot asked for by identifier (the Tagging API's lag check) is always there.
     */
    const liveData = (
      o: {
        snapshots?: { id: string; type: string; key?: string }[];
        autoBackups?: string[];
        vaultPoints?: number;
      } = {},
    ) => {
      rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available' }] });
      rds.on(DescribeDBSnapshotsCommand, { MaxRecords: 100 }).resolves({
        DBSnapshots: (o.snapshots ?? []).map((x) => ({
          DBSnapshotIdentifier: x.id,
          SnapshotType: x.type,
          Status: 'available',
          KmsKeyId: x.key ?? key,
        })),
      });
      rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
        DBInstanceAutomatedBackups: (o.autoBackups ?? []).map((id) => ({
          DBInstanceIdentifier: id,
          Status: 'retained',
          KmsKeyId: key,
        })),
      });
      backup
        .on(DescribeBackupVaultCommand)
        .resolves({ NumberOfRecoveryPoints: o.vaultPoints ?? 0, EncryptionKeyArn: key });
    };

    beforeEach(() => {
      liveData();
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', KeyState: 'Enabled' } });
    });

    it('keeps the manual and final snapshots, the recovery points, their vault and the key that encrypts them', async () => {
      taggedInMainRegion(manual, final, autoBackups, backupSnapshot, ami, point, vault, key);
      liveData({
        snapshots: [
          { id: 'cloudmart-db-snapshot-day5', type: 'manual' },
          { id: 'cloudmart-db-final-20250101-000000', type: 'manual' },
        ],
        autoBackups: ['cloudmart-db'],
        vaultPoints: 2,
      });
      const config = testConfig({
        destroy: { finalSnapshot: true, deleteManualSnapshots: false, deleteRecoveryPoints: false },
      });

      const found = await sweep(new TestAws(), config);

      expect(found.filter((f) => !f.kept)).toEqual([]);
      const note = (a: string) => found.find((f) => f.arn === a)?.note;
      expect(note(manual)).toContain('destroy.deleteManualSnapshots: false');
      expect(note(final)).toContain('destroy.finalSnapshot');
      expect(note(autoBackups)).toContain('retained RDS automated backups');
      for (const a of [backupSnapshot, ami, point])
        expect(note(a)).toContain('AWS Backup recovery point kept on purpose');
      expect(note(vault)).toBe(
        'backup vault cloudmart-vault kept on purpose: it holds 2 kept recovery point(s) (destroy.deleteRecoveryPoints: false)',
      );
      expect(note(key)).toBe(
        'kept on purpose: RDS snapshot cloudmart-db-snapshot-day5 (manual), RDS snapshot cloudmart-db-final-20250101-000000 (manual), retained automated backups of RDS cloudmart-db, AWS Backup vault cloudmart-vault (2 recovery points) are encrypted with it ($1/month until you schedule its deletion)',
      );
      // Snapshots are checked to exist (the Tagging API lags behind deletes), by identifier;
      // then the key's data is listed the way the key step lists it.
      expect(rds.commandCalls(DescribeDBSnapshotsCommand).map((c) => c.args[0].input)).toEqual([
        { DBSnapshotIdentifier: 'cloudmart-db-snapshot-day5' },
        { DBSnapshotIdentifier: 'cloudmart-db-final-20250101-000000' },
        { MaxRecords: 100 },
      ]);
      expect(
        rds.commandCalls(DescribeDBInstanceAutomatedBackupsCommand).map((c) => c.args[0].input),
      ).toEqual([{ DBInstanceAutomatedBackupsArn: autoBackups }, { MaxRecords: 100 }]);
      expect(backup.commandCalls(DescribeBackupVaultCommand).map((c) => c.args[0].input)).toEqual([
        { BackupVaultName: 'cloudmart-vault' },
        { BackupVaultName: 'cloudmart-vault' },
      ]);
    });

    it('keeps only what the config keeps: the manual snapshot kept, the recovery points are leftovers', async () => {
      taggedInMainRegion(manual, backupSnapshot, point, vault, key);
      liveData({
        snapshots: [
          { id: 'cloudmart-db-snapshot-day5', type: 'manual' },
          // Under another key: not a reason to keep this one.
          { id: 'other-db-snapshot', type: 'manual', key: 'arn:aws:kms:x:1:key/other' },
        ],
        vaultPoints: 2,
      });
      const config = testConfig({ destroy: { deleteManualSnapshots: false } });

      const found = await sweep(new TestAws(), config);

      expect(found.map((f) => [f.arn, f.kept])).toEqual([
        [manual, true],
        [backupSnapshot, false],
        [point, false],
        [vault, false],
        [key, true],
      ]);
      // The key stays while data is encrypted with it, as the key step keeps it: the kept
      // snapshot, and the recovery points destroy failed to delete (reported above).
      expect(found[4]!.note).toBe(
        'kept on purpose: RDS snapshot cloudmart-db-snapshot-day5 (manual), AWS Backup vault cloudmart-vault (2 recovery points) are encrypted with it ($1/month until you schedule its deletion)',
      );
    });

    it('keeps no enabled key for backups the config would keep when none exists (the Backup job never ran)', async () => {
      taggedInMainRegion(vault, key);
      const config = testConfig({
        destroy: { finalSnapshot: true, deleteManualSnapshots: false, deleteRecoveryPoints: false },
      });

      const found = await sweep(new TestAws(), config);

      expect(found.map((f) => [f.type, f.kept, f.note])).toEqual([
        ['backup:backup-vault', false, 'backup vault cloudmart-vault, 0 recovery point(s)'],
        ['kms:key', false, 'key state Enabled'],
      ]);
    });

    it('reports an enabled key as still there when what is encrypted with it cannot be listed', async () => {
      taggedInMainRegion(key);
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .rejects(awsError('AccessDenied', 'no rds:DescribeDBInstanceAutomatedBackups', 403));
      const found = await sweep(new TestAws(), testConfig({ destroy: { finalSnapshot: true } }));
      expect(found.map((f) => [f.type, f.kept, f.note])).toEqual([
        [
          'kms:key',
          false,
          'key state Enabled; could not check what is encrypted with it (AccessDenied: no rds:DescribeDBInstanceAutomatedBackups)',
        ],
      ]);
    });

    it('with the defaults nothing is kept: a manual snapshot or an enabled key still there is a leftover', async () => {
      taggedInMainRegion(manual, key);
      const found = await sweep(new TestAws(), testConfig());
      expect(found.map((f) => [f.type, f.kept, f.note])).toEqual([
        ['rds:snapshot', false, 'snapshot cloudmart-db-snapshot-day5'],
        ['kms:key', false, 'key state Enabled'],
      ]);
    });

    it('keeps no enabled key of another region for the backups the config keeps in the main one', async () => {
      tagging
        .on(GetResourcesCommand)
        .resolvesOnce({ ResourceTagMappingList: [] })
        .resolvesOnce({
          ResourceTagMappingList: [{ ResourceARN: arn(`kms:ap-northeast-1:${ACCOUNT}:key/k-2`) }],
        })
        .resolves({ ResourceTagMappingList: [] });
      const found = await sweep(
        new TestAws(),
        testConfig({ drRegion: 'ap-northeast-1', destroy: { finalSnapshot: true } }),
      );
      expect(found.map((f) => [f.region, f.type, f.kept, f.note])).toEqual([
        ['ap-northeast-1', 'kms:key', false, 'key state Enabled'],
      ]);
    });

    it('keeps the enabled key a final snapshot from an earlier destroy is encrypted with, whatever the config says now', async () => {
      taggedInMainRegion(key, final);
      liveData({ snapshots: [{ id: 'cloudmart-db-final-20250101-000000', type: 'manual' }] });
      const found = await sweep(new TestAws(), testConfig());
      expect(found.map((f) => [f.type, f.kept])).toEqual([
        ['rds:snapshot', true],
        ['kms:key', true],
      ]);
      expect(found[1]!.note).toBe(
        'kept on purpose: RDS snapshot cloudmart-db-final-20250101-000000 (manual) is encrypted with it ($1/month until you schedule its deletion)',
      );
    });

    it('drops a snapshot and a vault the Tagging API still lists but that are gone', async () => {
      taggedInMainRegion(manual, vault);
      rds
        .on(DescribeDBSnapshotsCommand)
        .rejects(awsError('DBSnapshotNotFoundFault', 'DBSnapshot not found', 404));
      backup
        .on(DescribeBackupVaultCommand)
        .rejects(awsError('ResourceNotFoundException', 'vault not found', 404));
      expect(await sweep(new TestAws(), testConfig())).toEqual([]);
    });

    it('an empty vault is not kept even when recovery points are', async () => {
      taggedInMainRegion(vault);
      backup.on(DescribeBackupVaultCommand).resolves({ NumberOfRecoveryPoints: 0 });
      const found = await sweep(
        new TestAws(),
        testConfig({ destroy: { deleteRecoveryPoints: false } }),
      );
      expect(summary(found)).toEqual(['backup:backup-vault kept=false']);
    });
  });

  describe('a lookup that fails', () => {
    it('does not stop the others: SweepIncompleteError carries what was found and why the check is incomplete', async () => {
      cloudwatch
        .on(ListDashboardsCommand)
        .rejects(
          awsError(
            'AccessDeniedException',
            'User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudwatch:ListDashboards',
            403,
          ),
        );
      iam.on(GetRoleCommand, { RoleName: 'cloudmart-ec2-role' }).resolves({
        Role: { Arn: `arn:aws:iam::${ACCOUNT}:role/cloudmart-ec2-role` } as never,
      });

      const error = await sweep(new TestAws(), testConfig()).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(SweepIncompleteError);
      const e = error as SweepIncompleteError;
      expect(e.problems).toEqual([
        'CloudWatch dashboard: AccessDeniedException: User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudwatch:ListDashboards',
      ]);
      expect(summary(e.found)).toEqual(['iam:role kept=false']);
      // The lookups after the failing one still ran… and the ones before it too.
      expect(logs.commandCalls(DescribeLogGroupsCommand)).toHaveLength(3);
    });

    it('names every region whose Tagging API call failed and goes on with the others', async () => {
      tagging
        .on(GetResourcesCommand)
        .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
        .resolvesOnce({
          ResourceTagMappingList: [{ ResourceARN: arn(`ec2:ap-northeast-1:${ACCOUNT}:vpc/vpc-1`) }],
        })
        .resolves({ ResourceTagMappingList: [] });
      const config = testConfig();

      const e = (await sweep(new TestAws(), config).catch(
        (x: unknown) => x,
      )) as SweepIncompleteError;

      expect(e.problems).toEqual([
        `resources tagged cloudmart:stack=cloudmart in ${config.region}: ThrottlingException: Rate exceeded`,
      ]);
      expect(summary(e.found)).toEqual(['ec2:vpc kept=false']);
    });

    it('a resource that cannot be checked again stays reported, saying why', async () => {
      taggedInMainRegion(arn(`kms:${R}:${ACCOUNT}:key/k-1`));
      kms
        .on(DescribeKeyCommand)
        .rejects(awsError('AccessDeniedException', 'no kms:DescribeKey', 403));
      const found = await sweep(new TestAws(), testConfig());
      expect(found).toEqual([
        expect.objectContaining({
          type: 'kms:key',
          kept: false,
          note: 'still listed by the Tagging API; could not check it (AccessDeniedException: no kms:DescribeKey)',
        }),
      ]);
    });
  });
});

describe('destroy sweep against the fake cloud', () => {
  let cloud: FakeCloud | undefined;
  afterEach(() => cloud?.uninstall());

  it('finds a leftover Auto Scaling group and IAM role that the Tagging API does not list', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the fake's answers are read loosely
    const call = (service: ServiceName, command: string, input: object): Promise<any> =>
      cloud!.call(service, command, input, R);
    const stackTag = { Key: 'cloudmart:stack', Value: 'cloudmart' };
    // An instance role and profile as the instance-role step makes them, and a group using them.
    await call('iam', 'CreateRole', {
      RoleName: 'cloudmart-ec2-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'ec2.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
      Tags: [stackTag],
    });
    await call('iam', 'CreateInstanceProfile', { InstanceProfileName: 'cloudmart-ec2-profile' });
    await call('iam', 'AddRoleToInstanceProfile', {
      InstanceProfileName: 'cloudmart-ec2-profile',
      RoleName: 'cloudmart-ec2-role',
    });
    const vpc = (await call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' })).Vpc.VpcId;
    const subnet = (
      await call('ec2', 'CreateSubnet', {
        VpcId: vpc,
        CidrBlock: '10.0.1.0/24',
        AvailabilityZone: `${R}a`,
      })
    ).Subnet.SubnetId;
    const lt = (
      await call('ec2', 'CreateLaunchTemplate', {
        LaunchTemplateName: 'cloudmart-lt',
        LaunchTemplateData: {
          ImageId: 'ami-0123456789abcdef0',
          InstanceType: 't3.micro',
          IamInstanceProfile: { Name: 'cloudmart-ec2-profile' },
        },
      })
    ).LaunchTemplate.LaunchTemplateId;
    await call('autoscaling', 'CreateAutoScalingGroup', {
      AutoScalingGroupName: 'cloudmart-asg',
      LaunchTemplate: { LaunchTemplateId: lt, Version: '$Latest' },
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 0,
      VPCZoneIdentifier: subnet,
      Tags: [{ ...stackTag, PropagateAtLaunch: true }],
    });
    // As in AWS, the Tagging API lists neither (IAM answers in us-east-1).
    for (const region of [R, 'us-east-1']) {
      const out = (await cloud.call(
        'tagging',
        'GetResources',
        { TagFilters: [{ Key: 'cloudmart:stack' }] },
        region,
      )) as { ResourceTagMappingList: Array<{ ResourceARN: string }> };
      const arns = out.ResourceTagMappingList.map((m) => m.ResourceARN);
      expect(arns.filter((a) => /:role\/|autoScalingGroup/.test(a))).toEqual([]);
    }

    const found = await sweep(new TestAws(), testConfig());

    expect(found.map((f) => `${f.type} ${f.note}`).sort()).toEqual(
      [
        'autoscaling:autoScalingGroup cloudmart-asg',
        'iam:role cloudmart-ec2-role',
        'iam:instance-profile cloudmart-ec2-profile',
      ].sort(),
    );
  });
});

describe('the sweep asks the steps', () => {
  it("uses a new step's discover without any change to the engine: what it finds is reported, what it keeps is kept", async () => {
    const tagging = strictMock(ResourceGroupsTaggingAPIClient);
    const listed = `arn:aws:sqs:${R}:${ACCOUNT}:cloudmart-orders`;
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: listed }] })
      .resolves({ ResourceTagMappingList: [] });
    const asked: string[] = [];
    const queueStep = {
      id: 'app.queue',
      phase: 1,
      title: 'Order queue',
      needs: [],
      actions: [],
      describe: () => [],
      create: () => Promise.resolve({}),
      verify: () => Promise.resolve([]),
      teardown: () => Promise.resolve(),
      discover: {
        what: 'order queue and its dead letters',
        find: (_aws: unknown, config: Config) => {
          asked.push(`find ${config.stack}`);
          return Promise.resolve([
            {
              arn: `arn:aws:sqs:${R}:${ACCOUNT}:cloudmart-dlq`,
              region: R,
              type: 'sqs:queue',
              kept: false,
              note: 'cloudmart-dlq',
            },
          ]);
        },
        keeps: (_aws: unknown, _config: Config, l: Leftover) => {
          asked.push(`keeps ${l.arn.split(':').at(-1)}`);
          return Promise.resolve(
            l.arn === listed ? 'kept on purpose: orders not yet shipped' : undefined,
          );
        },
      },
    } satisfies Step;
    const failing = {
      ...queueStep,
      id: 'app.other',
      discover: {
        what: 'something else',
        find: () => Promise.reject(new Error('no access')),
      },
    } satisfies Step;

    const e = (await sweepSteps(new TestAws(), testConfig(), [queueStep, failing]).catch(
      (x: unknown) => x,
    )) as SweepIncompleteError;

    expect(e).toBeInstanceOf(SweepIncompleteError);
    expect(e.problems).toEqual(['something else: no access']);
    expect(asked).toEqual(['keeps cloudmart-orders', 'find cloudmart']);
    expect(e.found.map((f) => `${f.arn.split(':').at(-1)} kept=${f.kept} ${f.note}`)).toEqual([
      'cloudmart-orders kept=true kept on purpose: orders not yet shipped',
      'cloudmart-dlq kept=false cloudmart-dlq',
    ]);
  });

  it('the engine imports no step module: what a resource is and how to find it lives in its step', () => {
    const dir = new URL('../../src/engine/', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      expect(text, file).not.toMatch(/from '\.\.\/steps\//);
      expect(text, file).not.toMatch(/import\('\.\.\/steps\//);
    }
  });
});
