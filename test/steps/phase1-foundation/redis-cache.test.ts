import {
  CreateCacheSubnetGroupCommand,
  CreateReplicationGroupCommand,
  DeleteCacheSubnetGroupCommand,
  DeleteReplicationGroupCommand,
  DescribeCacheClustersCommand,
  DescribeCacheSubnetGroupsCommand,
  DescribeReplicationGroupsCommand,
  ModifyCacheSubnetGroupCommand,
  ElastiCacheClient,
  ModifyReplicationGroupCommand,
  type ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import type { Outputs } from '../../../src/engine/step.js';
import {
  cacheSettings,
  redisCacheStep,
  windowsOverlap,
} from '../../../src/steps/phase1-foundation/redis-cache.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/1111-2222`;
const SECRET_NAME = 'cloudmart/cloudmart/redis-auth';
const SECRET_ARN = `arn:aws:secretsmanager:ap-northeast-2:${ACCOUNT}:secret:${SECRET_NAME}-AbCdEf`;
/** What GetRandomPassword hands out: it must never show up anywhere but the two requests. */
const TOKEN = 'Zq7Xk2Lm9Pw4Rt6Yv8Bn3Cd5Fg1Hj0KsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwX';
const PRIMARY = 'master.cloudmart-redis.abc123.apn2.cache.amazonaws.com';
const READER = 'replica.cloudmart-redis.abc123.apn2.cache.amazonaws.com';

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

/** A live replication group exactly as the default config wants it. */
function liveGroup(overrides: Partial<ReplicationGroup> = {}): ReplicationGroup {
  return {
    ReplicationGroupId: 'cloudmart-redis',
    Status: 'available',
    Engine: 'redis',
    CacheNodeType: 'cache.t3.micro',
    MemberClusters: ['cloudmart-redis-001', 'cloudmart-redis-002'],
    NodeGroups: [
      {
        NodeGroupId: '0001',
        PrimaryEndpoint: { Address: PRIMARY, Port: 6379 },
        ReaderEndpoint: { Address: READER, Port: 6379 },
        NodeGroupMembers: [
          {
            CacheClusterId: 'cloudmart-redis-001',
            PreferredAvailabilityZone: 'ap-northeast-2a',
            CurrentRole: 'primary',
          },
          {
            CacheClusterId: 'cloudmart-redis-002',
            PreferredAvailabilityZone: 'ap-northeast-2c',
            CurrentRole: 'replica',
          },
        ],
      },
    ],
    AutomaticFailover: 'enabled',
    MultiAZ: 'enabled',
    SnapshotRetentionLimit: 1,
    SnapshotWindow: '06:00-07:00',
    AuthTokenEnabled: true,
    TransitEncryptionEnabled: true,
    TransitEncryptionMode: 'required',
    AtRestEncryptionEnabled: true,
    KmsKeyId: KEY_ARN,
    ...overrides,
  };
}

const expectedOutputs = {
  replicationGroupId: 'cloudmart-redis',
  primaryEndpoint: PRIMARY,
  readerEndpoint: READER,
  port: 6379,
  authSecretArn: SECRET_ARN,
  cacheSubnetGroupName: 'cloudmart-cache-subnets',
  memberClusters: ['cloudmart-redis-001', 'cloudmart-redis-002'],
};

const groupNotFound = () =>
  awsError('ReplicationGroupNotFoundFault', 'ReplicationGroup cloudmart-redis not found', 404);
const secretNotFound = () =>
  awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

describe('data.redis', () => {
  let ec: ReturnType<typeof strictMock>;
  let sm: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec = strictMock(ElastiCacheClient);
    sm = strictMock(SecretsManagerClient);
  });

  const ctx = (config?: Config, previous?: Outputs) =>
    testContext({ stepId: redisCacheStep.id, config, outputs: needs, previous });

  function subnetGroupConverged() {
    ec.on(DescribeCacheSubnetGroupsCommand).resolves({
      CacheSubnetGroups: [
        {
          CacheSubnetGroupName: 'cloudmart-cache-subnets',
          Subnets: [{ SubnetIdentifier: 'subnet-d1' }, { SubnetIdentifier: 'subnet-d2' }],
        },
      ],
    });
  }

  /** Every trace a run leaves that a user or the state file could see. */
  function visibleTraces(c: ReturnType<typeof ctx>, out?: unknown, error?: unknown): string {
    const e = error as (Error & { cause?: unknown }) | undefined;
    return [
      JSON.stringify(out ?? null),
      ...c.progressLog,
      ...c.warnings,
      e?.message ?? '',
      e?.stack ?? '',
      String(e ?? ''),
      JSON.stringify(e ?? null),
      String((e?.cause as Error | undefined)?.message ?? ''),
    ].join('\n');
  }

  const calls = () => [
    ...ec.calls().map((c) => (c.args[0] as object).constructor.name),
    ...sm.calls().map((c) => (c.args[0] as object).constructor.name),
  ];

  describe('create', () => {
    function freshAccount() {
      ec.on(DescribeCacheSubnetGroupsCommand).rejects(
        awsError('CacheSubnetGroupNotFoundFault', 'not found', 404),
      );
      ec.on(CreateCacheSubnetGroupCommand).resolves({});
      ec.on(DescribeReplicationGroupsCommand)
        .rejectsOnce(groupNotFound())
        .resolvesOnce({ ReplicationGroups: [liveGroup({ Status: 'creating', NodeGroups: [] })] })
        .resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).rejects(secretNotFound());
      sm.on(GetRandomPasswordCommand).resolves({ RandomPassword: TOKEN });
      sm.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN, Name: SECRET_NAME });
    }

    it('generates the AUTH token, stores it in Secrets Manager and creates the encrypted Multi-AZ group', async () => {
      freshAccount();
      ec.on(CreateReplicationGroupCommand).resolves({});

      const c = ctx();
      const out = await redisCacheStep.create(c);

      expect(out).toEqual(expectedOutputs);
      expect(sm.commandCalls(GetRandomPasswordCommand)[0]!.args[0].input).toEqual({
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
        RequireEachIncludedType: true,
      });
      expect(sm.commandCalls(CreateSecretCommand)[0]!.args[0].input).toEqual({
        Name: SECRET_NAME,
        Description: expect.any(String),
        KmsKeyId: KEY_ARN,
        SecretString: TOKEN,
        Tags: expect.arrayContaining([
          { Key: 'Name', Value: SECRET_NAME },
          { Key: 'cloudmart:stack', Value: 'cloudmart' },
        ]),
      });
      const create = ec.commandCalls(CreateReplicationGroupCommand);
      expect(create).toHaveLength(1);
      expect(create[0]!.args[0].input).toEqual({
        ReplicationGroupId: 'cloudmart-redis',
        ReplicationGroupDescription: expect.any(String),
        Engine: 'redis',
        EngineVersion: '7.1',
        CacheNodeType: 'cache.t3.micro',
        NumCacheClusters: 2,
        PreferredCacheClusterAZs: ['ap-northeast-2a', 'ap-northeast-2c'],
        AutomaticFailoverEnabled: true,
        MultiAZEnabled: true,
        AtRestEncryptionEnabled: true,
        KmsKeyId: KEY_ARN,
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AuthToken: TOKEN,
        CacheSubnetGroupName: 'cloudmart-cache-subnets',
        SecurityGroupIds: ['sg-redis'],
        Port: 6379,
        SnapshotRetentionLimit: 1,
        SnapshotWindow: '06:00-07:00',
        PreferredMaintenanceWindow: 'sun:08:00-sun:09:00',
        AutoMinorVersionUpgrade: true,
        Tags: expect.arrayContaining([
          { Key: 'Name', Value: 'cloudmart-redis' },
          { Key: 'cloudmart:step', Value: 'data.redis' },
          { Key: 'Project', Value: 'CloudMart' },
        ]),
      });
      expect(ec.commandCalls(CreateCacheSubnetGroupCommand)[0]!.args[0].input).toEqual({
        CacheSubnetGroupName: 'cloudmart-cache-subnets',
        CacheSubnetGroupDescription: expect.any(String),
        SubnetIds: ['subnet-d1', 'subnet-d2'],
        Tags: expect.arrayContaining([{ Key: 'Name', Value: 'cloudmart-cache-subnets' }]),
      });
      // The secret exists before the group that uses its token.
      const order = calls();
      expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(1);
      expect(order).not.toContain('GetSecretValueCommand');
      expect(ec.commandCalls(ModifyReplicationGroupCommand)).toHaveLength(0);
      expect(c.progressLog.some((l) => l.includes('ElastiCache cloudmart-redis: creating'))).toBe(
        true,
      );
      // The token is in no output, progress line or warning.
      expect(visibleTraces(c, out)).not.toContain(TOKEN);
    });

    it('creates a Valkey group with a version ElastiCache offers for Valkey (8.0 by default)', async () => {
      freshAccount();
      ec.on(CreateReplicationGroupCommand).resolves({});
      const valkey = testConfig({ cache: { engine: 'valkey' } });

      await redisCacheStep.create(ctx(valkey));

      const create = ec.commandCalls(CreateReplicationGroupCommand);
      expect(create).toHaveLength(1);
      expect(create[0]!.args[0].input).toMatchObject({
        ReplicationGroupId: 'cloudmart-redis',
        Engine: 'valkey',
        EngineVersion: '8.0',
        TransitEncryptionEnabled: true,
        AuthToken: TOKEN,
      });
      expect(redisCacheStep.describe(valkey).join('\n')).toContain('ElastiCache valkey 8.0');
    });

    it('sends the Valkey version named in the config as it is', async () => {
      freshAccount();
      ec.on(CreateReplicationGroupCommand).resolves({});
      await redisCacheStep.create(
        ctx(testConfig({ cache: { engine: 'valkey', engineVersion: '7.2' } })),
      );
      expect(ec.commandCalls(CreateReplicationGroupCommand)[0]!.args[0].input).toMatchObject({
        Engine: 'valkey',
        EngineVersion: '7.2',
      });
    });

    it('never lets the token out through an error, even when AWS echoes it', async () => {
      freshAccount();
      const echo = awsError('InvalidParameterValueException', `Invalid AuthToken: ${TOKEN}`);
      ec.on(CreateReplicationGroupCommand).rejects(echo);

      const c = ctx();
      const error = await redisCacheStep.create(c).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/InvalidParameterValueException: Invalid AuthToken/);
      expect(visibleTraces(c, undefined, error)).not.toContain(TOKEN);
    });

    it('scrubs the token from an error cause and from a failed secret create', async () => {
      freshAccount();
      const wrapped = new Error('request failed', {
        cause: new Error(`body: SecretString=${TOKEN}`),
      });
      sm.on(CreateSecretCommand).rejects(wrapped);

      const c = ctx();
      const error = await redisCacheStep.create(c).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect((error as Error).message).toMatch(/request failed/);
      expect(visibleTraces(c, undefined, error)).not.toContain(TOKEN);
      expect(ec.commandCalls(CreateReplicationGroupCommand)).toHaveLength(0);
    });

    it('passes an AWS error that does not carry the token through unchanged', async () => {
      freshAccount();
      const capacity = awsError('InsufficientCacheClusterCapacityFault', 'no cache.t3.micro left');
      ec.on(CreateReplicationGroupCommand).rejects(capacity);

      await expect(redisCacheStep.create(ctx())).rejects.toBe(capacity);
    });

    it('reads the stored token back only when the group must be created', async () => {
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand)
        .rejectsOnce(groupNotFound())
        .resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({
        ARN: SECRET_ARN,
        Name: SECRET_NAME,
        KmsKeyId: KEY_ARN,
      });
      sm.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: TOKEN });
      ec.on(CreateReplicationGroupCommand).resolves({});

      const c = ctx();
      const out = await redisCacheStep.create(c);

      expect(out.authSecretArn).toBe(SECRET_ARN);
      expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({
        SecretId: SECRET_ARN,
      });
      expect(sm.commandCalls(GetRandomPasswordCommand)).toHaveLength(0);
      expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
      expect(ec.commandCalls(CreateReplicationGroupCommand)[0]!.args[0].input.AuthToken).toBe(
        TOKEN,
      );
      expect(ec.commandCalls(CreateCacheSubnetGroupCommand)).toHaveLength(0);
      expect(visibleTraces(c, out)).not.toContain(TOKEN);
    });

    it('restores a secret scheduled for deletion instead of making a second token', async () => {
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand)
        .rejectsOnce(groupNotFound())
        .resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, DeletedDate: new Date(0) });
      sm.on(RestoreSecretCommand).resolves({});
      sm.on(GetSecretValueCommand).resolves({ SecretString: TOKEN });
      ec.on(CreateReplicationGroupCommand).resolves({});

      await redisCacheStep.create(ctx());

      expect(sm.commandCalls(RestoreSecretCommand)).toHaveLength(1);
      expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
    });

    it('waits while a just force-deleted secret name is still being purged', async () => {
      freshAccount();
      sm.on(CreateSecretCommand)
        .rejectsOnce(
          awsError(
            'InvalidRequestException',
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          ),
        )
        .resolves({ ARN: SECRET_ARN });
      ec.on(CreateReplicationGroupCommand).resolves({});

      await redisCacheStep.create(ctx());
      expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(2);
      expect(sm.commandCalls(GetRandomPasswordCommand)).toHaveLength(1);
    });

    it('adopts a converged group: no create, no mutating call, no token read', async () => {
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });

      const c = ctx();
      const out = await redisCacheStep.create(c);

      expect(out).toEqual(expectedOutputs);
      expect(calls().filter((n) => !n.startsWith('Describe'))).toEqual([]);
      expect(c.warnings).toEqual([]);
    });

    it('moves an existing cache subnet group onto the data subnets', async () => {
      ec.on(DescribeCacheSubnetGroupsCommand).resolves({
        CacheSubnetGroups: [
          {
            CacheSubnetGroupName: 'cloudmart-cache-subnets',
            Subnets: [{ SubnetIdentifier: 'subnet-a1' }, { SubnetIdentifier: 'subnet-d2' }],
          },
        ],
      });
      ec.on(ModifyCacheSubnetGroupCommand).resolves({});
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });

      await redisCacheStep.create(ctx());

      expect(ec.commandCalls(ModifyCacheSubnetGroupCommand)[0]!.args[0].input).toMatchObject({
        CacheSubnetGroupName: 'cloudmart-cache-subnets',
        SubnetIds: ['subnet-d1', 'subnet-d2'],
      });
    });

    it('converges snapshot retention, failover and Multi-AZ in one modify and waits for it', async () => {
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand)
        .resolvesOnce({
          ReplicationGroups: [
            liveGroup({
              SnapshotRetentionLimit: 0,
              SnapshotWindow: '03:00-04:00',
              AutomaticFailover: 'disabled',
              MultiAZ: 'disabled',
            }),
          ],
        })
        .resolvesOnce({ ReplicationGroups: [liveGroup({ Status: 'modifying' })] })
        .resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });
      ec.on(ModifyReplicationGroupCommand).resolves({});

      const c = ctx();
      await redisCacheStep.create(c);

      const modify = ec.commandCalls(ModifyReplicationGroupCommand);
      expect(modify).toHaveLength(1);
      expect(modify[0]!.args[0].input).toEqual({
        ReplicationGroupId: 'cloudmart-redis',
        ApplyImmediately: true,
        SnapshotRetentionLimit: 1,
        SnapshotWindow: '06:00-07:00',
        AutomaticFailoverEnabled: true,
        MultiAZEnabled: true,
      });
      expect(c.progressLog.some((l) => l.includes('ElastiCache cloudmart-redis: modifying'))).toBe(
        true,
      );
      expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    });

    it('turns Multi-AZ on for a group that has automatic failover but not Multi-AZ', async () => {
      // A state AWS allows (failover alone); the seed wants both ("어떤 AZ가 장애 나도").
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand)
        .resolvesOnce({
          ReplicationGroups: [liveGroup({ AutomaticFailover: 'enabled', MultiAZ: 'disabled' })],
        })
        .resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });
      ec.on(ModifyReplicationGroupCommand).resolves({});

      await redisCacheStep.create(ctx());

      expect(ec.commandCalls(ModifyReplicationGroupCommand).map((m) => m.args[0].input)).toEqual([
        {
          ReplicationGroupId: 'cloudmart-redis',
          ApplyImmediately: true,
          AutomaticFailoverEnabled: true,
          MultiAZEnabled: true,
        },
      ]);
    });

    it('replaces a lost token secret by rotating a new token in, without showing it', async () => {
      subnetGroupConverged();
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).rejects(secretNotFound());
      sm.on(GetRandomPasswordCommand).resolves({ RandomPassword: TOKEN });
      sm.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN });
      ec.on(ModifyReplicationGroupCommand).resolves({});

      const c = ctx();
      const out = await redisCacheStep.create(c);

      expect(ec.commandCalls(ModifyReplicationGroupCommand)[0]!.args[0].input).toEqual({
        ReplicationGroupId: 'cloudmart-redis',
        AuthToken: TOKEN,
        AuthTokenUpdateStrategy: 'ROTATE',
        ApplyImmediately: true,
      });
      expect(c.warnings).toHaveLength(1);
      expect(visibleTraces(c, out)).not.toContain(TOKEN);
    });

    it('fails when the group ends in create-failed', async () => {
      freshAccount();
      ec.on(DescribeReplicationGroupsCommand)
        .rejectsOnce(groupNotFound())
        .resolves({ ReplicationGroups: [liveGroup({ Status: 'create-failed' })] });
      ec.on(CreateReplicationGroupCommand).resolves({});

      await expect(redisCacheStep.create(ctx())).rejects.toThrow(/create-failed/);
    });
  });

  describe('settings', () => {
    it('keeps the snapshot window clear of the RDS backup window and the maintenance window', () => {
      expect(cacheSettings(testConfig())).toMatchObject({
        replicationGroupId: 'cloudmart-redis',
        subnetGroupName: 'cloudmart-cache-subnets',
        secretName: SECRET_NAME,
        snapshotWindow: '06:00-07:00',
        maintenanceWindow: 'sun:08:00-sun:09:00',
      });
      const late = cacheSettings(testConfig({ database: { backupWindow: '22:00-23:30' } }));
      expect(late.snapshotWindow).toBe('01:30-02:30');
      expect(late.maintenanceWindow).toBe('sun:03:30-sun:04:30');
      const wrap = cacheSettings(testConfig({ database: { backupWindow: '19:00-20:30' } }));
      expect(wrap.snapshotWindow).toBe('22:30-23:30');
      expect(wrap.maintenanceWindow).toBe('mon:00:30-mon:01:30');
      expect(windowsOverlap(late.snapshotWindow, '22:00-23:30')).toBe(false);
    });

    it('detects overlapping daily windows, also across midnight', () => {
      expect(windowsOverlap('03:00-04:00', '03:30-04:30')).toBe(true);
      expect(windowsOverlap('03:00-04:00', '04:00-05:00')).toBe(false);
      expect(windowsOverlap('23:30-00:30', '00:00-01:00')).toBe(true);
      expect(windowsOverlap('23:30-00:30', '01:00-02:00')).toBe(false);
    });

    it('describes the plan offline', () => {
      const lines = redisCacheStep.describe(testConfig()).join('\n');
      expect(lines).toMatch(/cloudmart-redis/);
      expect(lines).toMatch(/2 nodes in ap-northeast-2a and ap-northeast-2c/);
      expect(lines).toMatch(/in transit/);
      expect(calls()).toHaveLength(0);
    });
  });

  describe('verify', () => {
    function liveMembers(sg = 'sg-redis', subnetGroup = 'cloudmart-cache-subnets') {
      ec.on(DescribeCacheClustersCommand).callsFake((input: { CacheClusterId: string }) =>
        Promise.resolve({
          CacheClusters: [
            {
              CacheClusterId: input.CacheClusterId,
              CacheSubnetGroupName: subnetGroup,
              SecurityGroups: [{ SecurityGroupId: sg, Status: 'active' }],
            },
          ],
        }),
      );
    }

    it('passes every check on a compliant group', async () => {
      subnetGroupConverged();
      liveMembers();
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });

      const checks = await redisCacheStep.verify(ctx());

      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['data.redis.exists', 'pass'],
        ['data.redis.multi-az-nodes', 'pass'],
        ['data.redis.failover', 'pass'],
        ['data.redis.encryption-at-rest', 'pass'],
        ['data.redis.encryption-in-transit', 'pass'],
        ['data.redis.auth', 'pass'],
        ['data.redis.subnets', 'pass'],
        ['data.redis.security-group', 'pass'],
        ['data.redis.snapshots', 'pass'],
      ]);
      expect(calls().every((n) => n.startsWith('Describe'))).toBe(true);
    });

    it('reports one AZ, no failover, no encryption, no AUTH and a foreign security group', async () => {
      subnetGroupConverged();
      liveMembers('sg-open');
      const base = liveGroup();
      ec.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [
          liveGroup({
            NodeGroups: [
              {
                ...base.NodeGroups![0]!,
                NodeGroupMembers: base.NodeGroups![0]!.NodeGroupMembers!.map((m) => ({
                  ...m,
                  PreferredAvailabilityZone: 'ap-northeast-2a',
                })),
              },
            ],
            AutomaticFailover: 'disabled',
            MultiAZ: 'disabled',
            AtRestEncryptionEnabled: false,
            KmsKeyId: undefined,
            TransitEncryptionEnabled: false,
            TransitEncryptionMode: undefined,
            AuthTokenEnabled: false,
            SnapshotRetentionLimit: 0,
          }),
        ],
      });
      sm.on(DescribeSecretCommand).rejects(secretNotFound());

      const checks = await redisCacheStep.verify(ctx());
      const status = Object.fromEntries(checks.map((c) => [c.id, c.status]));

      expect(status).toEqual({
        'data.redis.exists': 'pass',
        'data.redis.multi-az-nodes': 'fail',
        'data.redis.failover': 'fail',
        'data.redis.encryption-at-rest': 'fail',
        'data.redis.encryption-in-transit': 'fail',
        'data.redis.auth': 'fail',
        'data.redis.subnets': 'pass',
        'data.redis.security-group': 'fail',
        'data.redis.snapshots': 'fail',
      });
      const atRest = checks.find((c) => c.id === 'data.redis.encryption-at-rest')!;
      expect(atRest.criterion).toBe('encryption');
      expect(atRest.fix).toMatch(/re-create/);
    });

    it('fails the AUTH check when the token secret exists but the group has AUTH off', async () => {
      subnetGroupConverged();
      liveMembers();
      ec.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [liveGroup({ AuthTokenEnabled: false })],
      });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });

      const checks = await redisCacheStep.verify(ctx());

      const auth = checks.find((c) => c.id === 'data.redis.auth');
      expect(auth?.status).toBe('fail');
      expect(auth?.evidence).toMatch(
        /^AuthTokenEnabled=false; secret cloudmart\/cloudmart\/redis-auth /,
      );
      expect(checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual([
        'data.redis.auth',
      ]);
    });

    it('reports a snapshot window that collides with the RDS backup window', async () => {
      subnetGroupConverged();
      liveMembers();
      ec.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [liveGroup({ SnapshotWindow: '03:30-04:30' })],
      });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });

      const checks = await redisCacheStep.verify(ctx());
      expect(checks.find((c) => c.id === 'data.redis.snapshots')?.status).toBe('fail');
    });

    it('says "unknown", not fail, when the member clusters cannot be read (mid-failover)', async () => {
      subnetGroupConverged();
      ec.on(DescribeCacheClustersCommand).rejects(
        awsError('CacheClusterNotFoundFault', 'CacheCluster not found: cloudmart-redis-001', 404),
      );
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, KmsKeyId: KEY_ARN });
      const checks = await redisCacheStep.verify(ctx());
      for (const id of ['data.redis.subnets', 'data.redis.security-group']) {
        const check = checks.find((c) => c.id === id)!;
        expect(check.status).toBe('unknown');
        expect(check.evidence).toContain('no member cluster could be read');
      }
      // What the group itself says is still judged.
      expect(checks.find((c) => c.id === 'data.redis.failover')?.status).toBe('pass');
    });

    it('reports a missing group', async () => {
      ec.on(DescribeReplicationGroupsCommand).rejects(groupNotFound());
      const checks = await redisCacheStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({ id: 'data.redis.exists', status: 'fail' }),
      ]);
    });
  });

  describe('teardown', () => {
    it('deletes the group (no final snapshot), waits, then the subnet group, then the secret', async () => {
      ec.on(DescribeReplicationGroupsCommand)
        .resolvesOnce({ ReplicationGroups: [liveGroup()] })
        .resolvesOnce({ ReplicationGroups: [liveGroup({ Status: 'deleting' })] })
        .rejects(groupNotFound());
      ec.on(DeleteReplicationGroupCommand).resolves({});
      ec.on(DeleteCacheSubnetGroupCommand)
        .rejectsOnce(awsError('CacheSubnetGroupInUse', 'in use by cloudmart-redis-001'))
        .resolves({});
      sm.on(DeleteSecretCommand).resolves({});

      const c = ctx();
      await redisCacheStep.teardown(c);

      expect(ec.commandCalls(DeleteReplicationGroupCommand)[0]!.args[0].input).toEqual({
        ReplicationGroupId: 'cloudmart-redis',
        RetainPrimaryCluster: false,
      });
      expect(ec.commandCalls(DeleteCacheSubnetGroupCommand)).toHaveLength(2);
      expect(ec.commandCalls(DeleteCacheSubnetGroupCommand)[0]!.args[0].input).toEqual({
        CacheSubnetGroupName: 'cloudmart-cache-subnets',
      });
      expect(sm.commandCalls(DeleteSecretCommand)[0]!.args[0].input).toEqual({
        SecretId: SECRET_NAME,
        ForceDeleteWithoutRecovery: true,
      });
      const order = ec.calls().map((x) => (x.args[0] as object).constructor.name);
      expect(order.indexOf('DeleteReplicationGroupCommand')).toBeLessThan(
        order.indexOf('DeleteCacheSubnetGroupCommand'),
      );
      // The group is confirmed gone before its subnet group is touched.
      expect(order.lastIndexOf('DescribeReplicationGroupsCommand')).toBeLessThan(
        order.indexOf('DeleteCacheSubnetGroupCommand'),
      );
      expect(c.progressLog.some((l) => l.includes('ElastiCache cloudmart-redis: deleting'))).toBe(
        true,
      );
      expect(c.warnings).toEqual([]);
    });

    it('retries while the group is still creating and refuses the delete', async () => {
      ec.on(DescribeReplicationGroupsCommand)
        .resolvesOnce({ ReplicationGroups: [liveGroup({ Status: 'creating' })] })
        .rejects(groupNotFound());
      ec.on(DeleteReplicationGroupCommand)
        .rejectsOnce(
          awsError(
            'InvalidReplicationGroupStateFault',
            'Replication group must be in available state',
          ),
        )
        .resolves({});
      ec.on(DeleteCacheSubnetGroupCommand).resolves({});
      sm.on(DeleteSecretCommand).resolves({});

      await redisCacheStep.teardown(ctx());
      expect(ec.commandCalls(DeleteReplicationGroupCommand)).toHaveLength(2);
    });

    it('deletes the secret of an older state by its ARN as well', async () => {
      ec.on(DescribeReplicationGroupsCommand).rejects(groupNotFound());
      ec.on(DeleteCacheSubnetGroupCommand).resolves({});
      sm.on(DeleteSecretCommand).resolves({});
      const other = `arn:aws:secretsmanager:ap-northeast-2:${ACCOUNT}:secret:old/redis-auth-XyZ`;

      await redisCacheStep.teardown(ctx(undefined, { ...expectedOutputs, authSecretArn: other }));
      expect(sm.commandCalls(DeleteSecretCommand).map((x) => x.args[0].input.SecretId)).toEqual([
        SECRET_NAME,
        other,
      ]);
    });

    it('succeeds when everything is already gone', async () => {
      ec.on(DescribeReplicationGroupsCommand).rejects(groupNotFound());
      ec.on(DeleteCacheSubnetGroupCommand).rejects(
        awsError('CacheSubnetGroupNotFoundFault', 'not found', 404),
      );
      sm.on(DeleteSecretCommand).rejects(secretNotFound());

      await expect(redisCacheStep.teardown(ctx())).resolves.toBeUndefined();
      await expect(
        redisCacheStep.teardown(ctx(undefined, { ...expectedOutputs })),
      ).resolves.toBeUndefined();
      expect(ec.commandCalls(DeleteReplicationGroupCommand)).toHaveLength(0);
    });

    it('keeps the secret when the group could not be deleted', async () => {
      ec.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [liveGroup()] });
      ec.on(DeleteReplicationGroupCommand).rejects(awsError('AccessDenied', 'not allowed', 403));

      await expect(redisCacheStep.teardown(ctx())).rejects.toThrow(/not allowed/);
      expect(sm.commandCalls(DeleteSecretCommand)).toHaveLength(0);
      expect(ec.commandCalls(DeleteCacheSubnetGroupCommand)).toHaveLength(0);
    });
  });
});
