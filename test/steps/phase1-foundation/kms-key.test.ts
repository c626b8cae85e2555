import {
  CreateServiceLinkedRoleCommand,
  GetRoleCommand,
  IAMClient,
  type Role,
} from '@aws-sdk/client-iam';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  type KeyMetadata,
} from '@aws-sdk/client-kms';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { BackupClient, DescribeBackupVaultCommand } from '@aws-sdk/client-backup';
import {
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyPolicy, kmsKeyStep } from '../../../src/steps/phase1-foundation/kms-key.js';
import type { PolicyDocument } from '../../../src/aws/policy.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

type Stub = ReturnType<typeof strictMock>;

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/${KEY_ID}`;
const SLR = `arn:aws:iam::${ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;

const mutating = (stub: Stub) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

const seedPolicy = () => JSON.stringify(keyPolicy(testConfig(), ACCOUNT, 'aws'));
const enabledKey = (over: Partial<KeyMetadata> = {}): { KeyMetadata: KeyMetadata } => ({
  KeyMetadata: { KeyId: KEY_ID, Arn: KEY_ARN, KeyState: 'Enabled', Enabled: true, ...over },
});
const slrRole: Role = {
  RoleName: 'AWSServiceRoleForAutoScaling',
  Arn: SLR,
  Path: '/aws-service-role/autoscaling.amazonaws.com/',
  RoleId: 'AROAEXAMPLE',
  CreateDate: new Date(0),
};

describe('security.kms', () => {
  let kms: Stub;
  let iam: Stub;
  let tagging: Stub;
  beforeEach(() => {
    kms = strictMock(KMSClient);
    iam = strictMock(IAMClient);
    tagging = strictMock(ResourceGroupsTaggingAPIClient);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({ stepId: kmsKeyStep.id, ...over });

  /** An adopted key that is exactly as cloudmart wants it. */
  function convergedKey() {
    kms.on(DescribeKeyCommand).resolves(enabledKey());
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: seedPolicy(), PolicyName: 'default' });
  }

  it('creates a symmetric key with rotation, its alias, tags and a key policy with no wildcard principal', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    iam.on(GetRoleCommand).resolves({ Role: slrRole });
    kms.on(CreateKeyCommand).resolves(enabledKey());
    kms.on(CreateAliasCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
    kms.on(EnableKeyRotationCommand).resolves({});
    kms.on(GetKeyPolicyCommand).resolves({ Policy: seedPolicy() });

    const out = await kmsKeyStep.create(ctx());

    expect(out).toEqual({ keyId: KEY_ID, keyArn: KEY_ARN, aliasName: 'alias/cloudmart' });
    expect(kms.commandCalls(DescribeKeyCommand)[0]!.args[0].input).toEqual({
      KeyId: 'alias/cloudmart',
    });
    const input = kms.commandCalls(CreateKeyCommand)[0]!.args[0].input;
    expect(input).toEqual({
      Description: expect.stringContaining('CloudMart'),
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
      MultiRegion: false,
      Policy: expect.any(String),
      Tags: expect.arrayContaining([
        { TagKey: 'Name', TagValue: 'alias/cloudmart' },
        { TagKey: 'cloudmart:stack', TagValue: 'cloudmart' },
        { TagKey: 'cloudmart:step', TagValue: 'security.kms' },
        { TagKey: 'Project', TagValue: 'CloudMart' },
      ]),
    });

    const policy = JSON.parse(input.Policy!) as PolicyDocument;
    const sid = (s: string) => policy.Statement.find((x) => x.Sid === s);
    for (const s of policy.Statement) {
      expect(s.Principal).toBeTypeOf('object');
      expect(Object.values(s.Principal!).flat()).not.toContain('*');
    }
    expect(sid('AccountManagesKeyThroughIam')).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
    });
    expect(sid('CloudWatchLogsEncryptsStackLogGroups')).toMatchObject({
      Principal: { Service: 'logs.ap-northeast-2.amazonaws.com' },
      Condition: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:ap-northeast-2:${ACCOUNT}:log-group:*`,
        },
      },
    });
    expect(sid('CloudWatchAlarmsPublishToEncryptedTopic')).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
    });
    expect(sid('AutoScalingUsesKeyForEbs')).toMatchObject({
      Principal: { AWS: SLR },
      Action: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncrypt*',
        'kms:GenerateDataKey*',
        'kms:DescribeKey',
      ],
    });
    expect(sid('AutoScalingGrantsForEbs')).toMatchObject({
      Principal: { AWS: SLR },
      Action: 'kms:CreateGrant',
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
    expect(sid('AwsServicesUseKeyForThisAccount')!.Condition!.StringEquals).toEqual({
      'kms:CallerAccount': ACCOUNT,
      'kms:ViaService': expect.arrayContaining([
        'rds.ap-northeast-2.amazonaws.com',
        'elasticache.ap-northeast-2.amazonaws.com',
        'secretsmanager.ap-northeast-2.amazonaws.com',
      ]),
    });

    expect(kms.commandCalls(CreateAliasCommand)[0]!.args[0].input).toEqual({
      AliasName: 'alias/cloudmart',
      TargetKeyId: KEY_ID,
    });
    expect(kms.commandCalls(EnableKeyRotationCommand)[0]!.args[0].input).toEqual({ KeyId: KEY_ID });
    expect(kms.commandCalls(PutKeyPolicyCommand)).toHaveLength(0);
    expect(iam.commandCalls(CreateServiceLinkedRoleCommand)).toHaveLength(0);
  });

  it('adopts the key behind the alias and sends no mutating call', async () => {
    convergedKey();
    const out = await kmsKeyStep.create(ctx());
    expect(out.keyId).toBe(KEY_ID);
    expect(mutating(kms)).toEqual([]);
    expect(tagging.calls()).toHaveLength(0);
    expect(iam.calls()).toHaveLength(0);
  });

  it('after a crash between CreateKey and CreateAlias, finds the key by its tags and only adds the alias', async () => {
    kms.on(DescribeKeyCommand, { KeyId: 'alias/cloudmart' }).rejects(awsError('NotFoundException'));
    kms
      .on(DescribeKeyCommand, { KeyId: `${KEY_ARN}-old` })
      .resolves(enabledKey({ KeyId: 'old', KeyState: 'PendingDeletion' }));
    kms.on(DescribeKeyCommand, { KeyId: KEY_ARN }).resolves(enabledKey());
    tagging.on(GetResourcesCommand).resolves({
      ResourceTagMappingList: [{ ResourceARN: `${KEY_ARN}-old` }, { ResourceARN: KEY_ARN }],
    });
    kms.on(CreateAliasCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: seedPolicy() });

    const out = await kmsKeyStep.create(ctx());

    expect(out.keyId).toBe(KEY_ID);
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
    expect(mutating(kms)).toEqual(['CreateAliasCommand']);
    expect(tagging.commandCalls(GetResourcesCommand)[0]!.args[0].input).toEqual({
      ResourceTypeFilters: ['kms:key'],
      TagFilters: [
        { Key: 'cloudmart:stack', Values: ['cloudmart'] },
        { Key: 'cloudmart:step', Values: ['security.kms'] },
      ],
    });
  });

  it('turns rotation back on and restores a key policy someone widened', async () => {
    const widened = JSON.parse(seedPolicy()) as { Statement: unknown[] };
    widened.Statement.push({
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    kms.on(DescribeKeyCommand).resolves(enabledKey());
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
    kms.on(EnableKeyRotationCommand).resolves({});
    kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify(widened, null, 2) });
    kms.on(PutKeyPolicyCommand).resolves({});
    iam.on(GetRoleCommand).resolves({ Role: slrRole });

    await kmsKeyStep.create(ctx());

    expect(mutating(kms)).toEqual(['EnableKeyRotationCommand', 'PutKeyPolicyCommand']);
    const put = kms.commandCalls(PutKeyPolicyCommand)[0]!.args[0].input;
    expect(put.PolicyName).toBe('default');
    expect(JSON.parse(put.Policy!)).toEqual(JSON.parse(seedPolicy()));
  });

  it('brings back a key a destroy scheduled for deletion instead of creating a second one', async () => {
    kms
      .on(DescribeKeyCommand)
      .resolves(enabledKey({ KeyState: 'PendingDeletion', Enabled: false }));
    kms.on(CancelKeyDeletionCommand).resolves({});
    kms.on(EnableKeyCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: seedPolicy() });

    await kmsKeyStep.create(ctx());

    expect(mutating(kms)).toEqual(['CancelKeyDeletionCommand', 'EnableKeyCommand']);
  });

  it('creates the Auto Scaling service-linked role the policy names, and waits for IAM to propagate it', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntity'));
    iam.on(CreateServiceLinkedRoleCommand).resolves({ Role: slrRole });
    kms
      .on(CreateKeyCommand)
      .rejectsOnce(awsError('MalformedPolicyDocumentException', 'invalid principals'))
      .resolves(enabledKey());
    kms.on(CreateAliasCommand).resolves({});
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: seedPolicy() });
    const c = ctx();

    await kmsKeyStep.create(c);

    expect(iam.commandCalls(CreateServiceLinkedRoleCommand)[0]!.args[0].input).toEqual({
      AWSServiceName: 'autoscaling.amazonaws.com',
    });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(2);
    expect(c.slept()).toBeGreaterThan(0);
  });

  it('retries a malformed-policy answer while IAM propagates the role, then surfaces it', async () => {
    // The role may have been created by a run killed moments ago: KMS may not see it yet.
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    iam.on(GetRoleCommand).resolves({ Role: slrRole });
    kms.on(CreateKeyCommand).rejects(awsError('MalformedPolicyDocumentException'));
    const c = ctx();
    await expect(kmsKeyStep.create(c)).rejects.toThrow('MalformedPolicyDocumentException');
    expect(kms.commandCalls(CreateKeyCommand).length).toBeGreaterThan(1);
    // Bounded: about a minute of retries, not forever.
    expect(c.slept()).toBeGreaterThanOrEqual(60_000);
    expect(c.slept()).toBeLessThan(80_000);
  });

  it('refuses a key behind the alias that cannot be used, instead of creating a second one', async () => {
    kms.on(DescribeKeyCommand).resolves(enabledKey({ KeyState: 'PendingImport' }));
    await expect(kmsKeyStep.create(ctx())).rejects.toThrow(/PendingImport/);
    expect(mutating(kms)).toEqual([]);
  });

  it('uses the partition and region of the stack in the policy', () => {
    const policy = keyPolicy(
      // The config knows only the commercial regions; the policy is partition-aware anyway.
      { ...testConfig(), region: 'cn-north-1', availabilityZones: ['cn-north-1a', 'cn-north-1b'] },
      ACCOUNT,
      'aws-cn',
    );
    const text = JSON.stringify(policy);
    expect(text).toContain(`arn:aws-cn:iam::${ACCOUNT}:root`);
    expect(text).toContain('logs.cn-north-1.amazonaws.com');
    expect(text).not.toContain('arn:aws:');
  });

  describe('verify', () => {
    it('passes on an enabled, rotating key with the policy cloudmart sets', async () => {
      convergedKey();
      const checks = await kmsKeyStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
        ['security.kms.enabled', 'pass', 'encryption'],
        ['security.kms.rotation', 'pass', 'encryption'],
        ['security.kms.policy', 'pass', 'encryption'],
      ]);
    });

    it('reports rotation off, a disabled key and a wildcard principal', async () => {
      const widened = JSON.parse(seedPolicy()) as { Statement: unknown[] };
      widened.Statement.push({
        Sid: 'OpenToAll',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'kms:Decrypt',
        Resource: '*',
      });
      kms.on(DescribeKeyCommand).resolves(enabledKey({ KeyState: 'Disabled' }));
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
      kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify(widened) });

      const checks = await kmsKeyStep.verify(ctx());
      const by = (id: string) => checks.find((c) => c.id === id)!;

      expect(by('security.kms.enabled')).toMatchObject({
        status: 'fail',
        evidence: `${KEY_ID} Disabled`,
      });
      expect(by('security.kms.rotation')).toMatchObject({
        status: 'fail',
        evidence: 'KeyRotationEnabled=false',
      });
      expect(by('security.kms.policy')).toMatchObject({
        status: 'fail',
        evidence: 'statements open to everyone: OpenToAll',
      });
    });

    it('warns when the policy drifted without opening it to everyone', async () => {
      const changed = JSON.parse(seedPolicy()) as { Statement: unknown[] };
      changed.Statement.pop();
      kms.on(DescribeKeyCommand).resolves(enabledKey());
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
      kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify(changed) });
      const checks = await kmsKeyStep.verify(ctx());
      expect(checks.find((c) => c.id === 'security.kms.policy')!.status).toBe('warn');
    });

    it('fails when there is no key behind the alias', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
      const checks = await kmsKeyStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({ id: 'security.kms.exists', status: 'fail' }),
      ]);
    });
  });

  it('says in the plan when destroy will keep the key for the backups it keeps', () => {
    expect(kmsKeyStep.describe(testConfig()).join('\n')).not.toContain('destroy keeps');
    for (const destroy of [
      { finalSnapshot: true },
      { deleteManualSnapshots: false },
      { deleteRecoveryPoints: false },
    ]) {
      expect(kmsKeyStep.describe(testConfig({ destroy })).at(-1)).toContain(
        'destroy keeps this key (about $1/month)',
      );
    }
  });

  describe('teardown', () => {
    let rds: Stub;
    let backup: Stub;
    beforeEach(() => {
      // By default no stray key: the one behind the alias (or the state) is the only one.
      tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
      // By default destroy kept nothing encrypted with the key.
      rds = strictMock(RDSClient);
      backup = strictMock(BackupClient);
      rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
      rds
        .on(DescribeDBInstanceAutomatedBackupsCommand)
        .resolves({ DBInstanceAutomatedBackups: [] });
      backup
        .on(DescribeBackupVaultCommand)
        .rejects(awsError('ResourceNotFoundException', 'vault not found', 404));
    });

    const OTHER_KEY = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/other`;

    it('keeps the key (and its alias) when the manual snapshot destroy kept is encrypted with it', async () => {
      kms.on(DescribeKeyCommand).resolves(enabledKey());
      rds.on(DescribeDBSnapshotsCommand).resolves({
        DBSnapshots: [
          {
            DBSnapshotIdentifier: 'cloudmart-db-snapshot-day5',
            SnapshotType: 'manual',
            Status: 'available',
            KmsKeyId: KEY_ARN,
          },
        ],
      });
      const c = ctx({
        config: testConfig({ destroy: { deleteManualSnapshots: false } }),
      });

      await kmsKeyStep.teardown(c);

      expect(mutating(kms)).toEqual([]);
      expect(c.warnings).toEqual([
        `Kept KMS key ${KEY_ID} (alias/cloudmart) because RDS snapshot cloudmart-db-snapshot-day5 (manual) is encrypted with it; deleting the key would make it impossible to restore. ` +
          `It costs about $1/month while it exists. After deleting it, schedule its deletion with: aws kms schedule-key-deletion --key-id ${KEY_ID} --pending-window-in-days 7 --region ap-northeast-2`,
      ]);
      expect(c.progressLog.some((l) => l.startsWith(`keeping KMS key ${KEY_ID}`))).toBe(true);
    });

    it('lists a final snapshot, retained automated backups and kept recovery points, across pages', async () => {
      kms.on(DescribeKeyCommand).resolves(enabledKey());
      rds
        .on(DescribeDBSnapshotsCommand)
        .resolvesOnce({
          DBSnapshots: [
            // Someone else's snapshot under another key, and one being deleted: not a reason.
            { DBSnapshotIdentifier: 'other-db-snap', Status: 'available', KmsKeyId: OTHER_KEY },
            { DBSnapshotIdentifier: 'going', Status: 'deleting', KmsKeyId: KEY_ARN },
          ],
          Marker: 'page-2',
        })
        .resolves({
          DBSnapshots: [
            {
              DBSnapshotIdentifier: 'cloudmart-db-final-20260301',
              SnapshotType: 'manual',
              Status: 'creating',
              KmsKeyId: KEY_ARN,
            },
          ],
        });
      rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
        DBInstanceAutomatedBackups: [
          { DBInstanceIdentifier: 'cloudmart-db', Status: 'retained', KmsKeyId: KEY_ARN },
        ],
      });
      backup.on(DescribeBackupVaultCommand).resolves({
        BackupVaultName: 'cloudmart-vault',
        EncryptionKeyArn: KEY_ARN,
        NumberOfRecoveryPoints: 3,
      });
      const c = ctx({
        config: testConfig({ destroy: { finalSnapshot: true, deleteRecoveryPoints: false } }),
      });

      await kmsKeyStep.teardown(c);

      expect(mutating(kms)).toEqual([]);
      // Two pages; the SDK's paginator sends one input object, with the next Marker each time.
      const pages = rds.commandCalls(DescribeDBSnapshotsCommand).map((x) => x.args[0].input);
      expect(pages).toHaveLength(2);
      expect(pages[1]).toEqual({ MaxRecords: 100, Marker: 'page-2' });
      expect(backup.commandCalls(DescribeBackupVaultCommand)[0]!.args[0].input).toEqual({
        BackupVaultName: 'cloudmart-vault',
      });
      expect(c.warnings[0]).toContain(
        'because RDS snapshot cloudmart-db-final-20260301 (manual), retained automated backups of RDS cloudmart-db and AWS Backup vault cloudmart-vault (3 recovery points) are encrypted with it',
      );
    });

    it('schedules deletion when what remains is under other keys, being deleted, or an empty vault', async () => {
      kms.on(DescribeKeyCommand).resolves(enabledKey());
      kms.on(ScheduleKeyDeletionCommand).resolves({ DeletionDate: new Date('2026-03-08') });
      kms.on(DeleteAliasCommand).resolves({});
      rds.on(DescribeDBSnapshotsCommand).resolves({
        DBSnapshots: [
          { DBSnapshotIdentifier: 'x', Status: 'available', KmsKeyId: OTHER_KEY },
          { DBSnapshotIdentifier: 'y', Status: 'deleting', KmsKeyId: KEY_ARN },
        ],
      });
      rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
        DBInstanceAutomatedBackups: [{ Status: 'deleting', KmsKeyId: KEY_ARN }],
      });
      backup.on(DescribeBackupVaultCommand).resolves({
        EncryptionKeyArn: KEY_ARN,
        NumberOfRecoveryPoints: 0,
      });

      await kmsKeyStep.teardown(ctx());

      expect(mutating(kms)).toEqual(['ScheduleKeyDeletionCommand', 'DeleteAliasCommand']);
    });

    it('warns how to cancel when a key already pending deletion still protects kept backups', async () => {
      kms.on(DescribeKeyCommand).resolves(
        enabledKey({
          KeyState: 'PendingDeletion',
          DeletionDate: new Date('2026-03-08T00:00:00Z'),
        }),
      );
      rds.on(DescribeDBSnapshotsCommand).resolves({
        DBSnapshots: [
          {
            DBSnapshotIdentifier: 'cloudmart-db-snapshot-day5',
            Status: 'available',
            KmsKeyId: KEY_ID,
          },
        ],
      });
      const c = ctx();

      await kmsKeyStep.teardown(c);

      expect(mutating(kms)).toEqual([]);
      expect(c.warnings[0]).toContain('already pending deletion until 2026-03-08');
      expect(c.warnings[0]).toContain(
        `aws kms cancel-key-deletion --key-id ${KEY_ID} --region ap-northeast-2 && aws kms enable-key --key-id ${KEY_ID} --region ap-northeast-2`,
      );
    });

    it('also schedules a stray tagged key a lost CreateKey answer left behind', async () => {
      const STRAY = 'ffffffff-12ab-34cd-56ef-1234567890ab';
      kms.on(DescribeKeyCommand, { KeyId: 'alias/cloudmart' }).resolves(enabledKey());
      kms
        .on(DescribeKeyCommand, { KeyId: `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/${STRAY}` })
        .resolves(enabledKey({ KeyId: STRAY }));
      kms.on(DescribeKeyCommand, { KeyId: KEY_ARN }).resolves(enabledKey());
      tagging.on(GetResourcesCommand).resolves({
        ResourceTagMappingList: [
          { ResourceARN: KEY_ARN },
          { ResourceARN: `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/${STRAY}` },
        ],
      });
      kms
        .on(ScheduleKeyDeletionCommand)
        .resolves({ DeletionDate: new Date('2026-03-08T00:00:00Z') });
      kms.on(DeleteAliasCommand).resolves({});

      await kmsKeyStep.teardown(ctx());

      expect(
        kms
          .commandCalls(ScheduleKeyDeletionCommand)
          .map((c) => c.args[0].input.KeyId)
          .sort(),
      ).toEqual([KEY_ID, STRAY].sort());
    });

    it('schedules deletion with the 7-day window, then deletes the alias, and warns about it', async () => {
      kms.on(DescribeKeyCommand).resolves(enabledKey());
      kms.on(ScheduleKeyDeletionCommand).resolves({
        KeyId: KEY_ID,
        DeletionDate: new Date('2026-03-08T00:00:00Z'),
        PendingWindowInDays: 7,
      });
      kms.on(DeleteAliasCommand).resolves({});
      const c = ctx();

      await kmsKeyStep.teardown(c);

      expect(mutating(kms)).toEqual(['ScheduleKeyDeletionCommand', 'DeleteAliasCommand']);
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]!.args[0].input).toEqual({
        KeyId: KEY_ID,
        PendingWindowInDays: 7,
      });
      expect(kms.commandCalls(DeleteAliasCommand)[0]!.args[0].input).toEqual({
        AliasName: 'alias/cloudmart',
      });
      expect(c.warnings).toHaveLength(1);
      expect(c.warnings[0]).toContain('pending deletion until 2026-03-08');
      expect(c.warnings[0]).toContain('$1/month');
      expect(c.warnings[0]).toContain(`aws kms cancel-key-deletion --key-id ${KEY_ID}`);
    });

    it('only removes the alias when a previous destroy already scheduled the key', async () => {
      kms.on(DescribeKeyCommand).resolves(
        enabledKey({
          KeyState: 'PendingDeletion',
          DeletionDate: new Date('2026-03-08T00:00:00Z'),
        }),
      );
      kms.on(DeleteAliasCommand).resolves({});
      const c = ctx();
      await kmsKeyStep.teardown(c);
      expect(mutating(kms)).toEqual(['DeleteAliasCommand']);
      expect(c.warnings[0]).toContain('2026-03-08');
    });

    it('finds the key from the state when the alias is gone', async () => {
      kms
        .on(DescribeKeyCommand, { KeyId: 'alias/cloudmart' })
        .rejects(awsError('NotFoundException'));
      kms.on(DescribeKeyCommand, { KeyId: KEY_ID }).resolves(enabledKey());
      kms
        .on(ScheduleKeyDeletionCommand)
        .resolves({ DeletionDate: new Date('2026-03-08T00:00:00Z') });

      await kmsKeyStep.teardown(
        ctx({ previous: { keyId: KEY_ID, keyArn: KEY_ARN, aliasName: 'alias/cloudmart' } }),
      );

      expect(mutating(kms)).toEqual(['ScheduleKeyDeletionCommand']);
    });

    it('succeeds when the key is already gone', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
      tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
      const c = ctx();
      await expect(kmsKeyStep.teardown(c)).resolves.toBeUndefined();
      expect(mutating(kms)).toEqual([]);
      expect(c.warnings).toEqual([]);
    });
  });
});
