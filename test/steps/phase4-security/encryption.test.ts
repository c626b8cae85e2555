import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeLaunchTemplateVersionsCommand,
  DescribeVolumesCommand,
  DisableEbsEncryptionByDefaultCommand,
  EC2Client,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  ResetEbsDefaultKmsKeyIdCommand,
} from '@aws-sdk/client-ec2';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import {
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { beforeEach, describe, expect, it } from 'vitest';
import { httpsOnlyStatement } from '../../../src/aws/s3.js';
import type { Check } from '../../../src/engine/step.js';
import { STEP } from '../../../src/steps/outputs.js';
import { encryptionStep } from '../../../src/steps/phase4-security/encryption.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/k-1`;
const AWS_EBS = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:alias/aws/ebs`;
const BUCKET = 'cloudmart-frontend-x';
const TOPIC = `arn:aws:sns:ap-northeast-2:${ACCOUNT}:cloudmart-alerts`;
const kms = { keyId: 'k-1', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' };

const phase1 = {
  [STEP.kms]: kms,
  [STEP.rds]: {
    dbInstanceIdentifier: 'cloudmart-db',
    engine: 'postgres',
    parameterGroupName: 'cloudmart-pg',
  },
  [STEP.redis]: { replicationGroupId: 'cloudmart-redis' },
  [STEP.frontendBucket]: { bucketName: BUCKET },
  [STEP.launchTemplate]: {
    launchTemplateId: 'lt-1',
    launchTemplateName: 'cloudmart-lt',
    version: '3',
  },
};
const phase2 = {
  [STEP.sns]: { topicArn: TOPIC },
  [STEP.logs]: {
    backendLogGroup: '/aws/ec2/cloudmart-backend',
    albLogGroup: '/aws/alb/cloudmart-alb',
    rdsLogGroup: '/aws/rds/cloudmart-db',
  },
};

const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

describe('security.encryption', () => {
  let ec2: ReturnType<typeof strictMock>;
  let rds: ReturnType<typeof strictMock>;
  let cache: ReturnType<typeof strictMock>;
  let s3: ReturnType<typeof strictMock>;
  let sns: ReturnType<typeof strictMock>;
  let logs: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
    rds = strictMock(RDSClient);
    cache = strictMock(ElastiCacheClient);
    s3 = strictMock(S3Client);
    sns = strictMock(SNSClient);
    logs = strictMock(CloudWatchLogsClient);
  });

  const ctx = (
    opts: {
      optIn?: boolean;
      previous?: Record<string, unknown>;
      outputs?: Record<string, Record<string, unknown>>;
    } = {},
  ) =>
    testContext({
      stepId: encryptionStep.id,
      config: testConfig({ security: { ebsEncryptionByDefault: opts.optIn ?? false } }),
      outputs: opts.outputs ?? { ...phase1, ...phase2 },
      ...(opts.previous ? { previous: opts.previous } : {}),
    });

  describe('create', () => {
    it('only reads the account-wide EBS setting when the config does not opt in', async () => {
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: false });
      const out = await encryptionStep.create(ctx());
      expect(out).toEqual({
        ebsEncryptionByDefaultManaged: false,
        ebsEncryptionByDefault: false,
        ebsEncryptionEnabledByCloudmart: false,
        ebsDefaultKeyChangedByCloudmart: false,
      });
      expect(ec2.calls()).toHaveLength(1);
    });

    it('on opt-in only turns EBS encryption by default on, leaving the default key (aws/ebs) alone', async () => {
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: false });
      ec2.on(EnableEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });

      const out = await encryptionStep.create(ctx({ optIn: true }));

      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)[0]!.args[0].input).toEqual({});
      // Not even read: the region's default key is the account's business, not the stack's.
      expect(ec2.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual([
        'GetEbsEncryptionByDefaultCommand',
        'EnableEbsEncryptionByDefaultCommand',
      ]);
      expect(out).toEqual({
        ebsEncryptionByDefaultManaged: true,
        ebsEncryptionByDefault: true,
        ebsEncryptionEnabledByCloudmart: true,
        ebsDefaultKeyChangedByCloudmart: false,
      });
    });

    it('a second run changes nothing and keeps what the first run recorded', async () => {
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      const previous = { ebsEncryptionEnabledByCloudmart: true };
      const out = await encryptionStep.create(ctx({ optIn: true, previous }));
      expect(ec2.calls()).toHaveLength(1);
      expect(out).toMatchObject({ ...previous, ebsDefaultKeyChangedByCloudmart: false });
    });

    it('undoes a default key an earlier version pointed at the stack key', async () => {
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: KEY_ARN });
      ec2.on(ResetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: AWS_EBS });
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      const previous = {
        ebsEncryptionEnabledByCloudmart: true,
        ebsDefaultKeyChangedByCloudmart: true,
        previousEbsDefaultKmsKeyId: AWS_EBS,
      };

      const out = await encryptionStep.create(ctx({ optIn: true, previous }));

      expect(ec2.commandCalls(ResetEbsDefaultKmsKeyIdCommand)).toHaveLength(1);
      expect(ec2.commandCalls(ModifyEbsDefaultKmsKeyIdCommand)).toHaveLength(0);
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(0);
      expect(out).toEqual({
        ebsEncryptionByDefaultManaged: true,
        ebsEncryptionByDefault: true,
        ebsEncryptionEnabledByCloudmart: true,
        ebsDefaultKeyChangedByCloudmart: false,
      });
    });

    it('does not claim a setting that was already on before cloudmart', async () => {
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      const out = await encryptionStep.create(ctx({ optIn: true }));
      expect(out.ebsEncryptionEnabledByCloudmart).toBe(false);
      expect(out.ebsDefaultKeyChangedByCloudmart).toBe(false);
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(0);
    });
  });

  describe('verify', () => {
    /** A stack built the way the seed wants it. */
    function compliant() {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          {
            Engine: 'postgres',
            StorageEncrypted: true,
            KmsKeyId: KEY_ARN,
            DBParameterGroups: [
              { DBParameterGroupName: 'cloudmart-pg', ParameterApplyStatus: 'in-sync' },
            ],
          },
        ],
      });
      rds
        .on(DescribeDBParametersCommand)
        .resolvesOnce({
          Parameters: [{ ParameterName: 'max_connections', ParameterValue: '100' }],
          Marker: 'm',
        })
        .resolves({ Parameters: [{ ParameterName: 'rds.force_ssl', ParameterValue: '1' }] });
      cache.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [
          {
            AtRestEncryptionEnabled: true,
            KmsKeyId: KEY_ARN,
            TransitEncryptionEnabled: true,
            TransitEncryptionMode: 'required',
            AuthTokenEnabled: true,
          },
        ],
      });
      s3.on(GetPublicAccessBlockCommand).resolves({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      });
      s3.on(GetBucketEncryptionCommand).resolves({
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
      s3.on(GetBucketOwnershipControlsCommand).resolves({
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      s3.on(GetBucketVersioningCommand).resolves({ Status: 'Enabled' });
      s3.on(GetBucketPolicyCommand).resolves({
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [httpsOnlyStatement(BUCKET)] }),
      });
      s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
      ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
        LaunchTemplateVersions: [
          {
            LaunchTemplateData: {
              BlockDeviceMappings: [
                { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, KmsKeyId: KEY_ARN } },
              ],
            },
          },
        ],
      });
      ec2
        .on(DescribeVolumesCommand)
        .resolves({ Volumes: [{ VolumeId: 'vol-1', Encrypted: true }] });
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: AWS_EBS });
      sns
        .on(GetTopicAttributesCommand)
        .resolves({ Attributes: { KmsMasterKeyId: 'alias/cloudmart' } });
      logs.on(DescribeLogGroupsCommand).callsFake((input: { logGroupNamePrefix: string }) => ({
        logGroups: [{ logGroupName: input.logGroupNamePrefix, kmsKeyId: KEY_ARN }],
      }));
    }

    it('passes every check of a compliant stack, reading the right resources', async () => {
      compliant();
      const checks = await encryptionStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['security.encryption.rds-storage', 'pass'],
        ['security.encryption.rds-tls', 'pass'],
        ['security.encryption.redis-at-rest', 'pass'],
        ['security.encryption.redis-in-transit', 'pass'],
        ['security.encryption.redis-auth', 'pass'],
        ['security.encryption.s3-default', 'pass'],
        ['security.encryption.s3-https-only', 'pass'],
        ['security.encryption.launch-template', 'pass'],
        ['security.encryption.ebs-volumes', 'pass'],
        ['security.encryption.ebs-default', 'pass'],
        ['security.encryption.sns', 'pass'],
        ['security.encryption.log-groups', 'pass'],
      ]);
      expect(checks.every((c) => c.criterion === 'encryption')).toBe(true);
      expect(rds.commandCalls(DescribeDBParametersCommand)[1]!.args[0].input).toEqual({
        DBParameterGroupName: 'cloudmart-pg',
        MaxRecords: 100,
        Marker: 'm',
      });
      expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0]!.args[0].input).toEqual({
        LaunchTemplateId: 'lt-1',
        Versions: ['3'],
      });
      expect(ec2.commandCalls(DescribeVolumesCommand)[0]!.args[0].input.Filters).toEqual([
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
      ]);
      expect(
        logs
          .commandCalls(DescribeLogGroupsCommand)
          .map((c) => c.args[0].input.logGroupNamePrefix)
          .sort(),
      ).toEqual(['/aws/alb/cloudmart-alb', '/aws/ec2/cloudmart-backend', '/aws/rds/cloudmart-db']);
      // Nothing is changed by verify.
      expect(ec2.commandCalls(ModifyEbsDefaultKmsKeyIdCommand)).toHaveLength(0);
    });

    it('fails creation-only encryption with a fix that says how, never faking it', async () => {
      compliant();
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          {
            Engine: 'postgres',
            StorageEncrypted: false,
            DBParameterGroups: [{ DBParameterGroupName: 'cloudmart-pg' }],
          },
        ],
      });
      rds
        .on(DescribeDBParametersCommand)
        .resolves({ Parameters: [{ ParameterName: 'rds.force_ssl', ParameterValue: '0' }] });
      cache.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [
          {
            AtRestEncryptionEnabled: false,
            TransitEncryptionEnabled: true,
            TransitEncryptionMode: 'preferred',
            AuthTokenEnabled: false,
          },
        ],
      });
      s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy'));
      ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
        LaunchTemplateVersions: [
          {
            LaunchTemplateData: {
              BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: false } }],
            },
          },
        ],
      });
      ec2
        .on(DescribeVolumesCommand)
        .resolves({ Volumes: [{ VolumeId: 'vol-plain', Encrypted: false }] });

      const c = byId(await encryptionStep.verify(ctx()));
      expect(c['security.encryption.rds-storage']).toMatchObject({ status: 'fail' });
      expect(c['security.encryption.rds-storage']?.fix).toMatch(
        /only be chosen when the instance is created/,
      );
      expect(c['security.encryption.rds-tls']?.status).toBe('fail');
      expect(c['security.encryption.rds-tls']?.evidence).toContain('rds.force_ssl=0');
      expect(c['security.encryption.redis-at-rest']?.fix).toMatch(
        /only be chosen when the group is created/,
      );
      expect(c['security.encryption.redis-at-rest']?.status).toBe('fail');
      expect(c['security.encryption.redis-in-transit']?.status).toBe('fail');
      expect(c['security.encryption.redis-auth']?.status).toBe('fail');
      expect(c['security.encryption.s3-https-only']?.status).toBe('fail');
      expect(c['security.encryption.launch-template']?.status).toBe('fail');
      expect(c['security.encryption.ebs-volumes']?.evidence).toContain('vol-plain');
    });

    it('checks require_secure_transport on MySQL and warns until a reboot applies it', async () => {
      compliant();
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          {
            Engine: 'mysql',
            StorageEncrypted: true,
            KmsKeyId: KEY_ARN,
            DBParameterGroups: [
              { DBParameterGroupName: 'cloudmart-mysql', ParameterApplyStatus: 'pending-reboot' },
            ],
          },
        ],
      });
      rds.on(DescribeDBParametersCommand).resolves({
        Parameters: [{ ParameterName: 'require_secure_transport', ParameterValue: '1' }],
      });
      const c = byId(await encryptionStep.verify(ctx()));
      expect(c['security.encryption.rds-tls']?.status).toBe('warn');
      expect(c['security.encryption.rds-tls']?.fix).toContain('reboot-db-instance');
    });

    it('reports unknown for SNS and log groups when Phase 2 has not run', async () => {
      compliant();
      const checks = byId(await encryptionStep.verify(ctx({ outputs: phase1 })));
      expect(checks['security.encryption.sns']).toMatchObject({
        status: 'unknown',
        fix: 'cloudmart up --phase 2',
      });
      expect(checks['security.encryption.log-groups']?.status).toBe('unknown');
      expect(sns.calls()).toHaveLength(0);
      expect(logs.calls()).toHaveLength(0);
    });

    it('fails an unencrypted topic and a log group without a key', async () => {
      compliant();
      sns.on(GetTopicAttributesCommand).resolves({ Attributes: {} });
      logs.on(DescribeLogGroupsCommand).callsFake((input: { logGroupNamePrefix: string }) => ({
        logGroups: [{ logGroupName: input.logGroupNamePrefix }],
      }));
      const checks = byId(await encryptionStep.verify(ctx()));
      expect(checks['security.encryption.sns']?.status).toBe('fail');
      expect(checks['security.encryption.log-groups']?.status).toBe('fail');
      expect(checks['security.encryption.log-groups']?.evidence).toContain('not encrypted');
    });

    it('fails EbsEncryptionByDefault=false even when the config leaves it alone, with the fix', async () => {
      compliant();
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: false });
      const checks = byId(await encryptionStep.verify(ctx()));
      expect(checks['security.encryption.ebs-default']).toMatchObject({ status: 'fail' });
      expect(checks['security.encryption.ebs-default']?.evidence).toMatch(
        /EbsEncryptionByDefault=false: a volume created outside the stack's launch template/,
      );
      expect(checks['security.encryption.ebs-default']?.fix).toContain(
        'security.ebsEncryptionByDefault: true',
      );
      // The per-volume checks it points at are the ones that score the stack's volumes.
      expect(checks['security.encryption.launch-template']?.status).toBe('pass');
      expect(checks['security.encryption.ebs-volumes']?.status).toBe('pass');
      expect(ec2.commandCalls(GetEbsDefaultKmsKeyIdCommand)).toHaveLength(0);
      expect(
        byId(await encryptionStep.verify(ctx({ optIn: true })))['security.encryption.ebs-default']
          ?.status,
      ).toBe('fail');
    });

    it('on opt-in passes with aws/ebs as default key and warns when it is the stack key', async () => {
      compliant();
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: AWS_EBS });
      const ok = byId(await encryptionStep.verify(ctx({ optIn: true })))[
        'security.encryption.ebs-default'
      ];
      expect(ok).toMatchObject({ status: 'pass' });
      expect(ok?.evidence).toBe(`EbsEncryptionByDefault=true, default key ${AWS_EBS}`);

      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: KEY_ARN });
      const bad = byId(await encryptionStep.verify(ctx({ optIn: true })))[
        'security.encryption.ebs-default'
      ];
      expect(bad).toMatchObject({ status: 'warn' });
      expect(bad?.evidence).toContain('destroy deletes');
      expect(bad?.fix).toContain('aws ec2 reset-ebs-default-kms-key-id --region ap-northeast-2');
    });

    it('turns an unreadable group into unknown checks instead of failing verify', async () => {
      compliant();
      cache.on(DescribeReplicationGroupsCommand).rejects(awsError('AccessDenied', 'denied', 403));
      const checks = await encryptionStep.verify(ctx());
      expect(byId(checks)['security.encryption.redis-at-rest']).toMatchObject({
        status: 'unknown',
      });
      expect(byId(checks)['security.encryption.rds-storage']?.status).toBe('pass');
    });
  });

  describe('teardown', () => {
    it('reverts only what cloudmart turned on: default key reset, encryption by default off', async () => {
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: KEY_ARN });
      ec2.on(ResetEbsDefaultKmsKeyIdCommand).resolves({});
      ec2.on(DisableEbsEncryptionByDefaultCommand).resolves({});
      await encryptionStep.teardown(
        ctx({
          optIn: true,
          previous: {
            ebsEncryptionEnabledByCloudmart: true,
            ebsDefaultKeyChangedByCloudmart: true,
            previousEbsDefaultKmsKeyId: AWS_EBS,
          },
        }),
      );
      expect(ec2.commandCalls(ResetEbsDefaultKmsKeyIdCommand)).toHaveLength(1);
      expect(ec2.commandCalls(DisableEbsEncryptionByDefaultCommand)).toHaveLength(1);
    });

    it('restores a customer key that was the default before', async () => {
      const before = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/theirs`;
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: KEY_ARN });
      ec2.on(ModifyEbsDefaultKmsKeyIdCommand).resolves({});
      await encryptionStep.teardown(
        ctx({
          optIn: true,
          previous: { ebsDefaultKeyChangedByCloudmart: true, previousEbsDefaultKmsKeyId: before },
        }),
      );
      expect(ec2.commandCalls(ModifyEbsDefaultKmsKeyIdCommand)[0]!.args[0].input).toEqual({
        KmsKeyId: before,
      });
      expect(ec2.commandCalls(DisableEbsEncryptionByDefaultCommand)).toHaveLength(0);
    });

    it('leaves a setting that was on before cloudmart, with a warning', async () => {
      ec2.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: AWS_EBS });
      const c = ctx({ optIn: true });
      await encryptionStep.teardown(c);
      expect(ec2.commandCalls(DisableEbsEncryptionByDefaultCommand)).toHaveLength(0);
      expect(ec2.commandCalls(ResetEbsDefaultKmsKeyIdCommand)).toHaveLength(0);
      expect(c.warnings[0]).toMatch(/stays on/);
    });

    it('sends nothing when cloudmart never touched the account-wide setting', async () => {
      await encryptionStep.teardown(ctx());
      expect(ec2.calls()).toHaveLength(0);
    });
  });
});
