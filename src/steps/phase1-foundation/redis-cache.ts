import type {
  CacheCluster,
  ModifyReplicationGroupMessage,
  ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import { ignoreNotFound, isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { cacheEngineVersion, cacheTakesTransitMode, type Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { ensureSubnetGroup, sameSet } from './subnet-group.js';
import {
  STEP,
  type KmsOutputs,
  type RedisOutputs,
  type SecurityGroupsOutputs,
  type SubnetsOutputs,
} from '../outputs.js';

const cacheSdk = () => import('@aws-sdk/client-elasticache');
const secretsSdk = () => import('@aws-sdk/client-secrets-manager');

const CREATE_TIMEOUT_MS = 60 * 60_000;
const DELETE_TIMEOUT_MS = 45 * 60_000;
const PORT = 6379;
const FIX = 'cloudmart up --phase 1';
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Everything about the cache that follows from the config alone (also used by `plan`). */
export interface CacheSettings {
  replicationGroupId: string;
  subnetGroupName: string;
  /** Secrets Manager name of the AUTH token; its SecretString is the token itself. */
  secretName: string;
  /** Daily snapshot window, two hours after the RDS backup window ends so the two never meet. */
  snapshotWindow: string;
  /** Weekly maintenance window, after the snapshot window (ElastiCache refuses overlaps). */
  maintenanceWindow: string;
}

export function cacheSettings(config: Config): CacheSettings {
  const [, rdsEnd = '04:00'] = config.database.backupWindow.split('-');
  const snapStart = (minutesOf(rdsEnd) + 120) % 1440;
  const maintStart = snapStart + 120;
  return {
    // ElastiCache stores ids in lower case.
    replicationGroupId: names.of(config, 'redis').toLowerCase(),
    subnetGroupName: names.of(config, 'cache-subnets').toLowerCase(),
    secretName: `${names.secretPrefix(config)}/redis-auth`,
    snapshotWindow: `${hhmm(snapStart)}-${hhmm(snapStart + 60)}`,
    maintenanceWindow: `${weekly(maintStart)}-${weekly(maintStart + 60)}`,
  };
}

function minutesOf(t: string): number {
  const [h = 0, m = 0] = t.split(':').map(Number);
  return h * 60 + m;
}
function hhmm(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
function weekly(minutes: number): string {
  return `${DAYS[Math.floor(minutes / 1440) % 7]}:${hhmm(minutes)}`;
}

/** Do two daily "HH:MM-HH:MM" windows (UTC, possibly across midnight) share a minute? */
export function windowsOverlap(a: string, b: string): boolean {
  const span = (w: string): Array<[number, number]> => {
    const [s = '00:00', e = '00:00'] = w.split('-');
    const start = minutesOf(s);
    const end = minutesOf(e);
    return end > start
      ? [[start, end]]
      : [
          [start, 1440],
          [0, end],
        ];
  };
  return span(a).some(([s1, e1]) => span(b).some(([s2, e2]) => s1 < e2 && s2 < e1));
}

async function findGroup(ctx: StepContext, id: string): Promise<ReplicationGroup | undefined> {
  const { DescribeReplicationGroupsCommand } = await cacheSdk();
  const ec = await ctx.aws.get('elasticache');
  return (
    await ignoreNotFound(ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id })))
  )?.ReplicationGroups?.[0];
}

interface SecretInfo {
  arn: string;
  kmsKeyId: string | undefined;
  /** Scheduled for deletion (a recovery window is running). */
  deleted: boolean;
}

async function findSecret(ctx: StepContext, name: string): Promise<SecretInfo | undefined> {
  const { DescribeSecretCommand } = await secretsSdk();
  const sm = await ctx.aws.get('secretsmanager');
  try {
    const out = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    if (!out.ARN) return undefined;
    return { arn: out.ARN, kmsKeyId: out.KmsKeyId, deleted: out.DeletedDate !== undefined };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * Secrets Manager makes the token: 64 letters and digits. Only a few punctuation marks are
 * valid in an ElastiCache AUTH token, so none are used at all.
 */
async function newToken(ctx: StepContext): Promise<string> {
  const { GetRandomPasswordCommand } = await secretsSdk();
  const sm = await ctx.aws.get('secretsmanager');
  const out = await sm.send(
    new GetRandomPasswordCommand({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
      RequireEachIncludedType: true,
    }),
  );
  if (!out.RandomPassword || !/^[A-Za-z0-9]{16,128}$/.test(out.RandomPassword)) {
    throw new CloudmartError(
      'AWS_ERROR',
      'Secrets Manager GetRandomPassword returned no usable token',
    );
  }
  return out.RandomPassword;
}

async function readToken(ctx: StepContext, arn: string): Promise<string> {
  const { GetSecretValueCommand } = await secretsSdk();
  const sm = await ctx.aws.get('secretsmanager');
  const out = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
  if (!out.SecretString) {
    throw new CloudmartError('AWS_ERROR', `secret ${arn} holds no AUTH token`, {
      hint: `Delete the secret, then run ${FIX} again.`,
    });
  }
  return out.SecretString;
}

/** Create the secret holding `token`; a name still being purged after a destroy is waited out. */
async function createSecret(
  ctx: StepContext,
  name: string,
  keyArn: string,
  token: string,
): Promise<string> {
  const { CreateSecretCommand } = await secretsSdk();
  const sm = await ctx.aws.get('secretsmanager');
  ctx.progress(`creating secret ${name} for the Redis AUTH token`);
  const out = await retryWhile(
    ctx,
    () =>
      sm.send(
        new CreateSecretCommand({
          Name: name,
          Description: `cloudmart ${ctx.config.stack}: ElastiCache AUTH token`,
          KmsKeyId: keyArn,
          SecretString: token,
          Tags: ctx.tags.list(name),
        }),
      ),
    {
      what: `secret ${name}`,
      when: (e) =>
        (e as Error | null)?.name === 'InvalidRequestException' &&
        /scheduled for deletion/i.test((e as Error).message),
      timeoutMs: 5 * 60_000,
    },
  );
  if (!out.ARN) throw new CloudmartError('AWS_ERROR', `CreateSecret ${name} returned no ARN`);
  return out.ARN;
}

/**
 * The token for a replication group about to be created: read back from the secret when a
 * previous run made it, otherwise generated and stored before it is used anywhere.
 */
async function tokenForCreate(
  ctx: StepContext,
  name: string,
  keyArn: string,
): Promise<{ arn: string; token: string }> {
  const { RestoreSecretCommand } = await secretsSdk();
  const sm = await ctx.aws.get('secretsmanager');
  let secret = await findSecret(ctx, name);
  if (secret?.deleted) {
    ctx.progress(`secret ${name} is scheduled for deletion; restoring it`);
    await sm.send(new RestoreSecretCommand({ SecretId: secret.arn }));
  }
  if (!secret) {
    const token = await newToken(ctx);
    try {
      return { arn: await createSecret(ctx, name, keyArn, token), token };
    } catch (e) {
      if (!isAlreadyExists(e)) throw scrub(e, token);
      // Another run created it between our look-up and our create: use theirs.
      secret = await findSecret(ctx, name);
      if (!secret) throw scrub(e, token);
    }
  }
  return { arn: secret.arn, token: await readToken(ctx, secret.arn) };
}

/**
 * Never let the token leave in an error: if any part of `e` (message, stack, cause chain)
 * contains it, replace the error by one that says the same without it.
 */
function scrub(e: unknown, secret: string): unknown {
  const leaks = (x: unknown, depth: number): boolean => {
    if (depth > 5 || x === null || x === undefined) return false;
    if (typeof x === 'string') return x.includes(secret);
    if (x instanceof Error) {
      return (
        x.message.includes(secret) ||
        (x.stack ?? '').includes(secret) ||
        leaks((x as { cause?: unknown }).cause, depth + 1) ||
        leaks(safeJson(x), depth + 1)
      );
    }
    return leaks(safeJson(x), depth + 1);
  };
  if (!leaks(e, 0)) return e;
  const name = (e as Error | null)?.name ?? 'Error';
  const message = ((e as Error | null)?.message ?? String(e)).split(secret).join('***');
  return new CloudmartError('AWS_ERROR', `${name}: ${message}`);
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x) ?? '';
  } catch {
    return '';
  }
}

async function ensureCacheSubnetGroup(ctx: StepContext, s: CacheSettings, subnetIds: string[]) {
  const {
    DescribeCacheSubnetGroupsCommand,
    CreateCacheSubnetGroupCommand,
    ModifyCacheSubnetGroupCommand,
  } = await cacheSdk();
  const ec = await ctx.aws.get('elasticache');
  const name = s.subnetGroupName;
  const description = `cloudmart ${ctx.config.stack}: ElastiCache in the data subnets`;
  await ensureSubnetGroup(
    ctx,
    {
      what: 'cache subnet group',
      name,
      description,
      describe: async () =>
        (
          (await ec.send(new DescribeCacheSubnetGroupsCommand({ CacheSubnetGroupName: name })))
            .CacheSubnetGroups?.[0]?.Subnets ?? []
        ).map((x) => x.SubnetIdentifier ?? ''),
      create: (tags) =>
        ec.send(
          new CreateCacheSubnetGroupCommand({
            CacheSubnetGroupName: name,
            CacheSubnetGroupDescription: description,
            SubnetIds: subnetIds,
            Tags: tags,
          }),
        ),
      modify: () =>
        ec.send(
          new ModifyCacheSubnetGroupCommand({
            CacheSubnetGroupName: name,
            CacheSubnetGroupDescription: description,
            SubnetIds: subnetIds,
          }),
        ),
    },
    subnetIds,
  );
}

async function waitAvailable(ctx: StepContext, id: string): Promise<ReplicationGroup> {
  const start = ctx.now();
  let last: ReplicationGroup | undefined;
  await waitUntil(
    ctx,
    async () => {
      last = await findGroup(ctx, id);
      const status = last?.Status ?? 'not visible yet';
      if (!last && ctx.now() - start > 120_000) return { done: false, status, failed: 'gone' };
      if (status === 'create-failed') return { done: false, status, failed: status };
      return { done: status === 'available', status };
    },
    {
      what: `ElastiCache ${id}`,
      minDelayMs: 5_000,
      maxDelayMs: 15_000,
      timeoutMs: CREATE_TIMEOUT_MS,
    },
  );
  return last!;
}

async function waitGone(ctx: StepContext, id: string): Promise<void> {
  await waitUntil(
    ctx,
    async () => {
      const g = await findGroup(ctx, id);
      return { done: !g, status: g?.Status ?? 'deleted' };
    },
    {
      what: `ElastiCache ${id}`,
      minDelayMs: 5_000,
      maxDelayMs: 15_000,
      timeoutMs: DELETE_TIMEOUT_MS,
    },
  );
}

function sameKey(actual: string | undefined, wanted: string): boolean {
  if (!actual) return false;
  const id = (v: string) => v.split('/').pop() ?? v;
  return actual === wanted || id(actual) === id(wanted);
}

function isInvalidGroupState(e: unknown): boolean {
  return (e as Error | null)?.name === 'InvalidReplicationGroupStateFault';
}

function outputsOf(g: ReplicationGroup, s: CacheSettings, authSecretArn: string): RedisOutputs {
  const node = g.NodeGroups?.[0];
  const primary = node?.PrimaryEndpoint ?? g.ConfigurationEndpoint;
  if (!primary?.Address) {
    throw new CloudmartError(
      'AWS_ERROR',
      `ElastiCache ${s.replicationGroupId} is available but reports no primary endpoint`,
      { hint: `Run ${FIX} again in a minute.` },
    );
  }
  return {
    replicationGroupId: g.ReplicationGroupId ?? s.replicationGroupId,
    primaryEndpoint: primary.Address,
    readerEndpoint: node?.ReaderEndpoint?.Address ?? primary.Address,
    port: primary.Port ?? PORT,
    authSecretArn,
    cacheSubnetGroupName: s.subnetGroupName,
    memberClusters: g.MemberClusters ?? [],
  };
}

export const redisCacheStep = defineStep<RedisOutputs>({
  id: STEP.redis,
  phase: 1,
  title: 'ElastiCache Redis (Multi-AZ, encrypted, AUTH)',
  needs: [STEP.subnets, STEP.securityGroups, STEP.kms],
  actions: [
    'elasticache:DescribeCacheSubnetGroups',
    'elasticache:CreateCacheSubnetGroup',
    'elasticache:ModifyCacheSubnetGroup',
    'elasticache:DeleteCacheSubnetGroup',
    'elasticache:DescribeReplicationGroups',
    'elasticache:CreateReplicationGroup',
    'elasticache:ModifyReplicationGroup',
    'elasticache:DeleteReplicationGroup',
    'elasticache:DescribeCacheClusters',
    'elasticache:AddTagsToResource',
    'secretsmanager:DescribeSecret',
    'secretsmanager:GetRandomPassword',
    'secretsmanager:CreateSecret',
    'secretsmanager:GetSecretValue',
    'secretsmanager:RestoreSecret',
    'secretsmanager:DeleteSecret',
    'secretsmanager:TagResource',
    // At-rest encryption of the nodes and of the secret with the stack's key.
    'kms:DescribeKey',
    'kms:CreateGrant',
    'kms:Decrypt',
    'kms:GenerateDataKey',
    // The first cache of an account creates the AWSServiceRoleForElastiCache role.
    'iam:CreateServiceLinkedRole',
  ],
  describe: (config) => {
    const s = cacheSettings(config);
    const c = config.cache;
    return [
      `Secret ${s.secretName}: a generated 64-character AUTH token, encrypted with the stack KMS key`,
      `Cache subnet group ${s.subnetGroupName} over the data subnets ${config.network.dataSubnets.join(', ')}`,
      `ElastiCache ${c.engine} ${cacheEngineVersion(c)} ${c.nodeType} ${s.replicationGroupId}: 2 nodes in ${config.availabilityZones.join(' and ')}, automatic failover, Multi-AZ, encrypted at rest (stack KMS key) and in transit (required), AUTH`,
      `  snapshots kept ${c.snapshotRetentionDays} day(s) in ${s.snapshotWindow} UTC, maintenance ${s.maintenanceWindow} (~12 min)`,
    ];
  },

  async create(ctx) {
    const { CreateReplicationGroupCommand, ModifyReplicationGroupCommand } = await cacheSdk();
    const ec = await ctx.aws.get('elasticache');
    const s = cacheSettings(ctx.config);
    const c = ctx.config.cache;
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const { redisSgId } = ctx.outputs<SecurityGroupsOutputs>(STEP.securityGroups);
    const { keyArn } = ctx.outputs<KmsOutputs>(STEP.kms);
    const id = s.replicationGroupId;

    await ensureCacheSubnetGroup(ctx, s, subnets.dataSubnetIds);

    let group = await findGroup(ctx, id);
    if (group?.Status === 'deleting') {
      ctx.progress(`ElastiCache ${id} is being deleted; waiting before re-creating it`);
      await waitGone(ctx, id);
      group = undefined;
    }

    let secretArn: string;
    let created = false;
    if (!group) {
      const { arn, token } = await tokenForCreate(ctx, s.secretName, keyArn);
      secretArn = arn;
      ctx.progress(
        `creating ElastiCache ${c.engine} ${id} (2 nodes, ${ctx.config.availabilityZones.join(' + ')}): ~12 min`,
      );
      try {
        await ec.send(
          new CreateReplicationGroupCommand({
            ReplicationGroupId: id,
            ReplicationGroupDescription: `cloudmart ${ctx.config.stack}: sessions and cache`,
            Engine: c.engine,
            EngineVersion: cacheEngineVersion(c),
            CacheNodeType: c.nodeType,
            NumCacheClusters: 2,
            PreferredCacheClusterAZs:
              subnets.azs.length === 2 ? subnets.azs : ctx.config.availabilityZones,
            AutomaticFailoverEnabled: true,
            MultiAZEnabled: true,
            AtRestEncryptionEnabled: true,
            KmsKeyId: keyArn,
            // An AUTH token is only accepted together with in-transit encryption.
            TransitEncryptionEnabled: true,
            // Only Redis OSS 7.0+ / Valkey 7.2+ take a mode; older versions refuse the
            // parameter and, with transit encryption on, accept TLS connections only anyway.
            ...(cacheTakesTransitMode(c) ? { TransitEncryptionMode: 'required' as const } : {}),
            AuthToken: token,
            CacheSubnetGroupName: s.subnetGroupName,
            SecurityGroupIds: [redisSgId],
            Port: PORT,
            SnapshotRetentionLimit: c.snapshotRetentionDays,
            SnapshotWindow: s.snapshotWindow,
            PreferredMaintenanceWindow: s.maintenanceWindow,
            AutoMinorVersionUpgrade: true,
            Tags: ctx.tags.list(id),
          }),
        );
        created = true;
      } catch (e) {
        // No client token on this API: the deterministic id is the guard against duplicates.
        if (!isAlreadyExists(e)) throw scrub(e, token);
      }
    } else {
      // Adopting: the token stays where it is, cloudmart only needs the secret's ARN.
      const secret = await findSecret(ctx, s.secretName);
      if (secret && !secret.deleted) {
        secretArn = secret.arn;
      } else if (secret?.deleted) {
        const { RestoreSecretCommand } = await secretsSdk();
        const sm = await ctx.aws.get('secretsmanager');
        ctx.progress(`secret ${s.secretName} is scheduled for deletion; restoring it`);
        await sm.send(new RestoreSecretCommand({ SecretId: secret.arn }));
        secretArn = secret.arn;
      } else {
        secretArn = await replaceLostToken(ctx, s, group, keyArn);
        group = await waitAvailable(ctx, id);
      }
    }

    group = !created && group?.Status === 'available' ? group : await waitAvailable(ctx, id);

    if (!created) {
      const changes: Partial<ModifyReplicationGroupMessage> = {};
      const what: string[] = [];
      if (group.SnapshotRetentionLimit !== c.snapshotRetentionDays) {
        changes.SnapshotRetentionLimit = c.snapshotRetentionDays;
        what.push(
          `snapshot retention ${group.SnapshotRetentionLimit ?? 0}→${c.snapshotRetentionDays}`,
        );
      }
      if (group.SnapshotWindow !== s.snapshotWindow) {
        changes.SnapshotWindow = s.snapshotWindow;
        what.push(`snapshot window ${group.SnapshotWindow ?? 'none'}→${s.snapshotWindow}`);
      }
      const failoverOn =
        group.AutomaticFailover === 'enabled' || group.AutomaticFailover === 'enabling';
      const multiAzOn = group.MultiAZ === 'enabled';
      if (!failoverOn || !multiAzOn) {
        // Multi-AZ requires automatic failover: always send both.
        changes.AutomaticFailoverEnabled = true;
        changes.MultiAZEnabled = true;
        what.push(
          `automatic failover ${group.AutomaticFailover ?? '?'}, Multi-AZ ${group.MultiAZ ?? '?'}→enabled`,
        );
      }
      if (what.length > 0) {
        ctx.progress(`ElastiCache ${id}: converging ${what.join(', ')}`);
        await ec.send(
          new ModifyReplicationGroupCommand({
            ReplicationGroupId: id,
            ApplyImmediately: true,
            ...changes,
          }),
        );
        group = await waitAvailable(ctx, id);
      }
    }
    return outputsOf(group, s, secretArn);
  },

  async verify(ctx) {
    const s = cacheSettings(ctx.config);
    const id = previousStrings(ctx).replicationGroupId ?? s.replicationGroupId;
    const group = await findGroup(ctx, id);
    if (!group) {
      return [
        {
          id: 'data.redis.exists',
          title: 'ElastiCache replication group exists',
          criterion: 'multi-az',
          status: 'fail',
          evidence: `no replication group ${id}`,
          fix: FIX,
        },
      ];
    }
    const { DescribeCacheClustersCommand } = await cacheSdk();
    const ec = await ctx.aws.get('elasticache');
    const keyArn = ctx.maybeOutputs<KmsOutputs>(STEP.kms)?.keyArn;
    const dataSubnets = ctx.maybeOutputs<SubnetsOutputs>(STEP.subnets)?.dataSubnetIds;
    const redisSgId = ctx.maybeOutputs<SecurityGroupsOutputs>(STEP.securityGroups)?.redisSgId;

    const members: CacheCluster[] = [];
    for (const cid of group.MemberClusters ?? []) {
      try {
        const out = await ec.send(new DescribeCacheClustersCommand({ CacheClusterId: cid }));
        if (out.CacheClusters?.[0]) members.push(out.CacheClusters[0]);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    // During a failover or a node replacement a member can be missing for a while: what cannot
    // be read is not known, neither a pass nor a failure.
    const unread = (group.MemberClusters ?? []).filter(
      (cid) => !members.some((m) => m.CacheClusterId === cid),
    );
    const noMembers =
      members.length === 0
        ? `no member cluster could be read (${unread.join(', ') || 'none listed'}): a failover or node replacement may be in progress; run verify again in a few minutes`
        : undefined;
    const unreadNote = unread.length > 0 ? ` (not readable now: ${unread.join(', ')})` : '';

    const status = group.Status ?? '?';
    const checks: Check[] = [
      {
        id: 'data.redis.exists',
        title: 'ElastiCache replication group is available',
        criterion: 'multi-az',
        status: status === 'available' ? 'pass' : status === 'create-failed' ? 'fail' : 'warn',
        evidence: `${id} ${group.Engine ?? '?'} ${group.CacheNodeType ?? '?'} ${status}`,
        fix: FIX,
      },
    ];

    const nodeAzs = (group.NodeGroups?.[0]?.NodeGroupMembers ?? []).map(
      (m) =>
        `${m.CacheClusterId ?? '?'}@${m.PreferredAvailabilityZone ?? '?'}(${m.CurrentRole ?? '?'})`,
    );
    const azs = new Set(
      (group.NodeGroups?.[0]?.NodeGroupMembers ?? [])
        .map((m) => m.PreferredAvailabilityZone)
        .filter((a): a is string => !!a),
    );
    checks.push({
      id: 'data.redis.multi-az-nodes',
      title: 'Two cache nodes in two availability zones',
      criterion: 'multi-az',
      status: nodeAzs.length >= 2 && azs.size >= 2 ? 'pass' : 'fail',
      evidence: nodeAzs.join(', ') || 'no nodes',
      fix: 'destroy and re-create the replication group ("cloudmart destroy", then "cloudmart up --phase 1")',
    });

    checks.push({
      id: 'data.redis.failover',
      title: 'Automatic failover and Multi-AZ on',
      criterion: 'multi-az',
      status:
        group.AutomaticFailover === 'enabled' && group.MultiAZ === 'enabled' ? 'pass' : 'fail',
      evidence: `AutomaticFailover=${group.AutomaticFailover ?? '?'} MultiAZ=${group.MultiAZ ?? '?'}`,
      fix: FIX,
    });

    const keyOk = keyArn === undefined ? undefined : sameKey(group.KmsKeyId, keyArn);
    checks.push({
      id: 'data.redis.encryption-at-rest',
      title: 'Cache encrypted at rest with the stack KMS key',
      criterion: 'encryption',
      status:
        group.AtRestEncryptionEnabled !== true || keyOk === false
          ? 'fail'
          : keyOk === undefined
            ? 'warn'
            : 'pass',
      evidence: `AtRestEncryptionEnabled=${String(group.AtRestEncryptionEnabled ?? false)} KmsKeyId=${group.KmsKeyId ?? 'none'}`,
      fix: 'at-rest encryption is chosen at creation: destroy and re-create the replication group ("cloudmart destroy", then "cloudmart up --phase 1")',
    });

    checks.push({
      id: 'data.redis.encryption-in-transit',
      title: 'Cache requires TLS in transit',
      criterion: 'encryption',
      status:
        group.TransitEncryptionEnabled === true &&
        (group.TransitEncryptionMode ?? 'required') === 'required'
          ? 'pass'
          : 'fail',
      evidence: `TransitEncryptionEnabled=${String(group.TransitEncryptionEnabled ?? false)} mode=${group.TransitEncryptionMode ?? '?'}`,
      fix: 'destroy and re-create the replication group ("cloudmart destroy", then "cloudmart up --phase 1")',
    });

    const secret = await findSecret(ctx, s.secretName);
    checks.push({
      id: 'data.redis.auth',
      title: 'Redis AUTH on, token kept in Secrets Manager',
      criterion: 'security-design',
      status:
        group.AuthTokenEnabled === true && secret && !secret.deleted
          ? keyArn !== undefined && !sameKey(secret.kmsKeyId, keyArn)
            ? 'warn'
            : 'pass'
          : 'fail',
      evidence: `AuthTokenEnabled=${String(group.AuthTokenEnabled ?? false)}; secret ${secret ? `${s.secretName}${secret.deleted ? ' (scheduled for deletion)' : ''} encrypted with ${secret.kmsKeyId ?? 'the AWS managed key'}` : `${s.secretName} missing`}`,
      fix: FIX,
    });

    const groupsUsed = [...new Set(members.map((m) => m.CacheSubnetGroupName ?? '?'))];
    let subnetIds: string[] | undefined;
    if (groupsUsed.length === 1 && groupsUsed[0] !== '?') {
      const { DescribeCacheSubnetGroupsCommand } = await cacheSdk();
      try {
        const out = await ec.send(
          new DescribeCacheSubnetGroupsCommand({ CacheSubnetGroupName: groupsUsed[0] }),
        );
        subnetIds = (out.CacheSubnetGroups?.[0]?.Subnets ?? []).map(
          (x) => x.SubnetIdentifier ?? '',
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    checks.push({
      id: 'data.redis.subnets',
      title: 'Cache nodes are in the private data subnets',
      criterion: 'security-design',
      status:
        dataSubnets === undefined || noMembers
          ? 'unknown'
          : subnetIds !== undefined && sameSet(subnetIds, dataSubnets)
            ? 'pass'
            : 'fail',
      evidence:
        noMembers ??
        `subnet group ${groupsUsed.join(', ') || '?'}: ${subnetIds?.join(', ') ?? '?'}${dataSubnets ? `; data subnets ${dataSubnets.join(', ')}` : ''}${unreadNote}`,
      fix: FIX,
    });

    const sgs = [
      ...new Set(
        members.flatMap((m) => (m.SecurityGroups ?? []).map((g) => g.SecurityGroupId ?? '')),
      ),
    ];
    checks.push({
      id: 'data.redis.security-group',
      title: 'Cache reachable only through the Redis security group',
      criterion: 'security-design',
      status:
        redisSgId === undefined || noMembers
          ? 'unknown'
          : sameSet(sgs, [redisSgId])
            ? 'pass'
            : 'fail',
      evidence:
        noMembers ??
        `security groups ${sgs.join(', ') || 'none'}${redisSgId ? `; expected ${redisSgId}` : ''}${unreadNote}`,
      fix: FIX,
    });

    const retention = group.SnapshotRetentionLimit ?? 0;
    const window = group.SnapshotWindow;
    const clash = window !== undefined && windowsOverlap(window, ctx.config.database.backupWindow);
    checks.push({
      id: 'data.redis.snapshots',
      title: 'Daily cache snapshots, outside the RDS backup window',
      criterion: 'backup',
      status: retention >= 1 && !clash ? 'pass' : 'fail',
      evidence: `SnapshotRetentionLimit=${retention} SnapshotWindow=${window ?? 'none'} (RDS backups ${ctx.config.database.backupWindow})`,
      fix: FIX,
    });
    return checks;
  },

  async teardown(ctx) {
    const { DeleteReplicationGroupCommand, DeleteCacheSubnetGroupCommand } = await cacheSdk();
    const { DeleteSecretCommand } = await secretsSdk();
    const ec = await ctx.aws.get('elasticache');
    const sm = await ctx.aws.get('secretsmanager');
    const s = cacheSettings(ctx.config);
    const prev = previousStrings(ctx);
    const id = prev.replicationGroupId ?? s.replicationGroupId;

    const group = await findGroup(ctx, id);
    if (group && group.Status !== 'deleting') {
      ctx.progress(`deleting ElastiCache ${id} (no final snapshot)`);
      try {
        // The whole group, not a member cluster; refused while it is creating or modifying.
        await retryWhile(
          ctx,
          () =>
            ec.send(
              new DeleteReplicationGroupCommand({
                ReplicationGroupId: id,
                RetainPrimaryCluster: false,
              }),
            ),
          {
            what: `ElastiCache ${id}`,
            when: (e) =>
              isInvalidGroupState(e) && !/being deleted|is deleting/i.test((e as Error).message),
            timeoutMs: DELETE_TIMEOUT_MS,
          },
        );
      } catch (e) {
        if (!isNotFound(e) && !/being deleted|is deleting/i.test((e as Error).message)) throw e;
      }
    }
    // The subnet group stays in use until every node of the group is gone.
    if (group) await waitGone(ctx, id);

    const subnetGroup = prev.cacheSubnetGroupName ?? s.subnetGroupName;
    try {
      await retryWhile(
        ctx,
        () => ec.send(new DeleteCacheSubnetGroupCommand({ CacheSubnetGroupName: subnetGroup })),
        { what: `deleting cache subnet group ${subnetGroup}`, timeoutMs: 10 * 60_000 },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }

    // Last: while the group existed, its token had to stay readable.
    const secretIds = [s.secretName];
    if (prev.authSecretArn && !prev.authSecretArn.includes(`:secret:${s.secretName}-`)) {
      secretIds.push(prev.authSecretArn);
    }
    for (const secretId of secretIds) {
      try {
        await sm.send(
          new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
        );
      } catch (e) {
        if (isNotFound(e)) continue;
        if (
          (e as Error | null)?.name === 'InvalidRequestException' &&
          /scheduled for deletion|marked for deletion/i.test((e as Error).message)
        ) {
          continue;
        }
        throw e;
      }
    }
  },
});

/**
 * The group exists but its token's secret is gone (deleted by hand): the token cannot be
 * recovered, so generate a new one, store it, and ROTATE it in (the old one stays valid
 * until a later SET; nobody knows it any more).
 */
async function replaceLostToken(
  ctx: StepContext,
  s: CacheSettings,
  group: ReplicationGroup,
  keyArn: string,
): Promise<string> {
  const id = s.replicationGroupId;
  if (group.AuthTokenEnabled !== true || group.TransitEncryptionEnabled !== true) {
    throw new CloudmartError(
      'AWS_ERROR',
      `ElastiCache ${id} has no AUTH token (in-transit encryption ${group.TransitEncryptionEnabled ? 'on' : 'off'}) and secret ${s.secretName} does not exist`,
      {
        hint: 'AUTH needs in-transit encryption, which is set at creation: run "cloudmart destroy" and "cloudmart up --phase 1" to re-create the cache.',
      },
    );
  }
  const { ModifyReplicationGroupCommand } = await cacheSdk();
  const ec = await ctx.aws.get('elasticache');
  await waitAvailable(ctx, id);
  const token = await newToken(ctx);
  try {
    const arn = await createSecret(ctx, s.secretName, keyArn, token);
    ctx.warn(
      `secret ${s.secretName} was missing: a new Redis AUTH token was generated, stored there and rotated into ${id}`,
    );
    await ec.send(
      new ModifyReplicationGroupCommand({
        ReplicationGroupId: id,
        AuthToken: token,
        AuthTokenUpdateStrategy: 'ROTATE',
        ApplyImmediately: true,
      }),
    );
    return arn;
  } catch (e) {
    throw scrub(e, token);
  }
}

/** String fields of this step's outputs in the state file (which is JSON: trust no type). */
function previousStrings(ctx: StepContext): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(ctx.previous ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]),
  );
}
