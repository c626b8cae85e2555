import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RDSClient } from '@aws-sdk/client-rds';
import { findLogGroup } from '../../aws/find.js';
import { describeBucketSecurity, hasHttpsOnlyDeny } from '../../aws/s3.js';
import { STACK_TAG } from '../../aws/tags.js';
import { allPages, firstInPages } from '../../aws/pages.js';
import { defineStep, type Check, type Criterion, type StepContext } from '../../engine/step.js';
import {
  STEP,
  type BucketOutputs,
  type KmsOutputs,
  type LaunchTemplateOutputs,
  type LogsOutputs,
  type RdsOutputs,
  type RedisOutputs,
  type SnsOutputs,
} from '../outputs.js';

const ec2sdk = () => import('@aws-sdk/client-ec2');
const rdsSdk = () => import('@aws-sdk/client-rds');
const cacheSdk = () => import('@aws-sdk/client-elasticache');
const snsSdk = () => import('@aws-sdk/client-sns');

export interface EncryptionOutputs {
  /** security.ebsEncryptionByDefault at the last run. */
  ebsEncryptionByDefaultManaged: boolean;
  /** The region's EBS encryption-by-default setting as last read. */
  ebsEncryptionByDefault: boolean;
  /** cloudmart turned EBS encryption by default on (teardown turns it off only then). */
  ebsEncryptionEnabledByCloudmart: boolean;
  /**
   * An earlier cloudmart version pointed the region's default EBS key at the stack key (this
   * one never does, and undoes it on the next up or destroy; then it is false again).
   */
  ebsDefaultKeyChangedByCloudmart: boolean;
  /** The default EBS key before that earlier version changed it (restored when undoing). */
  previousEbsDefaultKmsKeyId?: string;
  [k: string]: unknown;
}

/** The parameter that makes RDS refuse unencrypted connections, per engine. */
export const TLS_PARAMETER: Record<string, { name: string; on: string[] }> = {
  postgres: { name: 'rds.force_ssl', on: ['1'] },
  mysql: { name: 'require_secure_transport', on: ['1', 'ON', 'on'] },
};

const AWS_MANAGED_EBS_KEY = /alias\/aws\/ebs$/;

/** True when a key reference (ARN, id, alias, alias ARN) names the stack key. */
export function isStackKey(ref: string | undefined, key: KmsOutputs | undefined): boolean {
  if (!ref || !key) return false;
  return (
    ref === key.keyArn ||
    ref === key.keyId ||
    ref === key.aliasName ||
    ref.endsWith(`:key/${key.keyId}`) ||
    ref.endsWith(`:${key.aliasName}`)
  );
}

const FIX_RECREATE_RDS =
  'RDS storage encryption can only be chosen when the instance is created: snapshot it, copy the snapshot with the stack KMS key (CopyDBSnapshot --kms-key-id), restore a new instance from the copy, or run cloudmart destroy and cloudmart up.';
const FIX_RECREATE_REDIS =
  'ElastiCache at-rest encryption can only be chosen when the group is created: take a backup and restore it into a new encrypted group, or run cloudmart destroy and cloudmart up.';

/** What an earlier run changed account-wide, from the state file (all false when there is none). */
function recorded(ctx: StepContext): {
  ebsEncryptionEnabledByCloudmart: boolean;
  ebsDefaultKeyChangedByCloudmart: boolean;
  previousEbsDefaultKmsKeyId: string | undefined;
} {
  const p = ctx.previous ?? {};
  return {
    ebsEncryptionEnabledByCloudmart: p.ebsEncryptionEnabledByCloudmart === true,
    ebsDefaultKeyChangedByCloudmart: p.ebsDefaultKeyChangedByCloudmart === true,
    previousEbsDefaultKmsKeyId:
      typeof p.previousEbsDefaultKmsKeyId === 'string' ? p.previousEbsDefaultKmsKeyId : undefined,
  };
}

/**
 * When the region's default EBS key is the stack key: point it back at the key it was before
 * (a customer key cloudmart recorded), else reset it to aws/ebs. Without the stack key's
 * outputs, only a change cloudmart recorded is undone.
 */
async function restoreDefaultKey(
  ctx: StepContext,
  ec2: EC2Client,
  key: KmsOutputs | undefined,
  prev: ReturnType<typeof recorded>,
): Promise<void> {
  const {
    GetEbsDefaultKmsKeyIdCommand,
    ModifyEbsDefaultKmsKeyIdCommand,
    ResetEbsDefaultKmsKeyIdCommand,
  } = await ec2sdk();
  const current = (await ec2.send(new GetEbsDefaultKmsKeyIdCommand({}))).KmsKeyId;
  if (!isStackKey(current, key) && !(prev.ebsDefaultKeyChangedByCloudmart && !key)) return;
  const before = prev.previousEbsDefaultKmsKeyId;
  if (before && !AWS_MANAGED_EBS_KEY.test(before) && !isStackKey(before, key)) {
    ctx.progress(`restoring the default EBS key of ${ctx.config.region} to ${before}`);
    await ec2.send(new ModifyEbsDefaultKmsKeyIdCommand({ KmsKeyId: before }));
  } else {
    ctx.progress(`resetting the default EBS key of ${ctx.config.region} to aws/ebs`);
    await ec2.send(new ResetEbsDefaultKmsKeyIdCommand({}));
  }
}

type Group = (ctx: StepContext) => Promise<Check[]>;

/** A check group that cannot read AWS (denied, throttled) reports unknown instead of aborting verify. */
function guarded(id: string, title: string, criterion: Criterion, group: Group): Group {
  return async (ctx) => {
    try {
      return await group(ctx);
    } catch (e) {
      return [
        {
          id,
          title,
          criterion,
          status: 'unknown',
          evidence: `could not read: ${(e as Error).name}: ${(e as Error).message}`,
        },
      ];
    }
  };
}

function notBuilt(id: string, title: string, what: string, fix: string): Check[] {
  return [
    {
      id,
      title,
      criterion: 'encryption',
      status: 'unknown',
      evidence: `${what} has not been created`,
      fix,
    },
  ];
}

async function rdsParameter(
  rds: RDSClient,
  group: string,
  name: string,
): Promise<string | undefined> {
  const { paginateDescribeDBParameters } = await rdsSdk();
  // DescribeDBParameters has no working filter: page through the group.
  const p = await firstInPages(
    paginateDescribeDBParameters({ client: rds }, { DBParameterGroupName: group, MaxRecords: 100 }),
    (page) => page.Parameters,
    (x) => x.ParameterName === name,
  );
  return p?.ParameterValue;
}

const rdsChecks: Group = async (ctx) => {
  const { DescribeDBInstancesCommand } = await rdsSdk();
  const out = ctx.maybeOutputs<RdsOutputs>(STEP.rds);
  const key = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
  if (!out)
    return notBuilt(
      'security.encryption.rds-storage',
      'RDS storage encrypted with the stack key',
      'the RDS instance',
      'cloudmart up --phase 1',
    );
  const rds = await ctx.aws.get('rds');
  const db = (
    await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: out.dbInstanceIdentifier }),
    )
  ).DBInstances?.[0];
  const checks: Check[] = [
    {
      id: 'security.encryption.rds-storage',
      title: 'RDS storage encrypted with the stack KMS key',
      criterion: 'encryption',
      status:
        db?.StorageEncrypted !== true ? 'fail' : isStackKey(db.KmsKeyId, key) ? 'pass' : 'warn',
      evidence: `${out.dbInstanceIdentifier}: StorageEncrypted=${db?.StorageEncrypted === true}, key ${db?.KmsKeyId ?? 'none'}`,
      ...(db?.StorageEncrypted !== true ? { fix: FIX_RECREATE_RDS } : {}),
    },
  ];
  const engine = (db?.Engine ?? out.engine).startsWith('mysql') ? 'mysql' : 'postgres';
  const tls = TLS_PARAMETER[engine]!;
  const pg = db?.DBParameterGroups?.[0];
  const groupName = pg?.DBParameterGroupName ?? out.parameterGroupName;
  const value = await rdsParameter(rds, groupName, tls.name);
  const on = value !== undefined && tls.on.includes(value);
  const applied = (pg?.ParameterApplyStatus ?? 'in-sync') === 'in-sync';
  checks.push({
    id: 'security.encryption.rds-tls',
    title: 'RDS requires TLS connections',
    criterion: 'encryption',
    status: on ? (applied ? 'pass' : 'warn') : 'fail',
    evidence: `${groupName}: ${tls.name}=${value ?? 'unset'}${applied ? '' : ` (${pg?.ParameterApplyStatus ?? '?'}: reboot to apply)`}`,
    fix: on
      ? `aws rds reboot-db-instance --db-instance-identifier ${out.dbInstanceIdentifier}`
      : 'cloudmart up --phase 1',
  });
  return checks;
};

const redisChecks: Group = async (ctx) => {
  const { DescribeReplicationGroupsCommand } = await cacheSdk();
  const out = ctx.maybeOutputs<RedisOutputs>(STEP.redis);
  const key = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
  if (!out)
    return notBuilt(
      'security.encryption.redis-at-rest',
      'Redis encrypted at rest',
      'the Redis replication group',
      'cloudmart up --phase 1',
    );
  const cache = await ctx.aws.get('elasticache');
  const rg = (
    await cache.send(
      new DescribeReplicationGroupsCommand({ ReplicationGroupId: out.replicationGroupId }),
    )
  ).ReplicationGroups?.[0];
  const id = out.replicationGroupId;
  const mode = rg?.TransitEncryptionMode;
  return [
    {
      id: 'security.encryption.redis-at-rest',
      title: 'Redis encrypted at rest with the stack KMS key',
      criterion: 'encryption',
      status:
        rg?.AtRestEncryptionEnabled !== true
          ? 'fail'
          : isStackKey(rg.KmsKeyId, key)
            ? 'pass'
            : 'warn',
      evidence: `${id}: AtRestEncryptionEnabled=${rg?.AtRestEncryptionEnabled === true}, key ${rg?.KmsKeyId ?? 'AWS managed'}`,
      ...(rg?.AtRestEncryptionEnabled !== true ? { fix: FIX_RECREATE_REDIS } : {}),
    },
    {
      id: 'security.encryption.redis-in-transit',
      title: 'Redis requires TLS in transit',
      criterion: 'encryption',
      status:
        rg?.TransitEncryptionEnabled === true && (mode === undefined || mode === 'required')
          ? 'pass'
          : 'fail',
      evidence: `${id}: TransitEncryptionEnabled=${rg?.TransitEncryptionEnabled === true}, mode ${mode ?? 'n/a'}`,
      fix: `Turn in-transit encryption on: aws elasticache modify-replication-group --replication-group-id ${id} --transit-encryption-enabled --transit-encryption-mode preferred --apply-immediately, then again with --transit-encryption-mode required.`,
    },
    {
      id: 'security.encryption.redis-auth',
      title: 'Redis AUTH token required',
      criterion: 'encryption',
      status: rg?.AuthTokenEnabled === true ? 'pass' : 'fail',
      evidence: `${id}: AuthTokenEnabled=${rg?.AuthTokenEnabled === true}`,
      fix: 'An AUTH token needs in-transit encryption; set one with modify-replication-group --auth-token <token from Secrets Manager> --auth-token-update-strategy SET, or run cloudmart destroy and cloudmart up.',
    },
  ];
};

const s3Checks: Group = async (ctx) => {
  const bucket = ctx.maybeOutputs<BucketOutputs>(STEP.frontendBucket)?.bucketName;
  if (!bucket)
    return notBuilt(
      'security.encryption.s3-default',
      'Frontend bucket encrypted by default',
      'the frontend bucket',
      'cloudmart up --phase 1',
    );
  const sec = await describeBucketSecurity(ctx, bucket);
  return [
    {
      id: 'security.encryption.s3-default',
      title: 'Frontend bucket encrypted by default (SSE)',
      criterion: 'encryption',
      status: sec.encryption ? 'pass' : 'fail',
      evidence: `${bucket}: ${sec.encryption ? `${sec.encryption.algorithm}${sec.encryption.kmsKeyId ? ` ${sec.encryption.kmsKeyId}` : ''}` : 'no default encryption'}`,
      fix: 'cloudmart up --phase 1',
    },
    {
      id: 'security.encryption.s3-https-only',
      title: 'Frontend bucket denies non-HTTPS requests',
      criterion: 'encryption',
      status: hasHttpsOnlyDeny(sec.policy, bucket) ? 'pass' : 'fail',
      evidence: `${bucket}: aws:SecureTransport=false deny ${hasHttpsOnlyDeny(sec.policy, bucket) ? 'present' : 'missing'}`,
      fix: 'cloudmart up --phase 1',
    },
  ];
};

const ebsChecks: Group = async (ctx) => {
  const {
    DescribeLaunchTemplateVersionsCommand,
    paginateDescribeVolumes,
    GetEbsDefaultKmsKeyIdCommand,
    GetEbsEncryptionByDefaultCommand,
  } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const key = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
  const checks: Check[] = [];

  const lt = ctx.maybeOutputs<LaunchTemplateOutputs>(STEP.launchTemplate);
  if (!lt) {
    checks.push(
      ...notBuilt(
        'security.encryption.launch-template',
        'Launch template volumes encrypted',
        'the launch template',
        'cloudmart up --phase 1',
      ),
    );
  } else {
    const out = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: lt.launchTemplateId,
        Versions: [lt.version || '$Latest'],
      }),
    );
    const mappings = out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.BlockDeviceMappings ?? [];
    const ebs = mappings.filter((m) => m.Ebs);
    const encrypted = ebs.length > 0 && ebs.every((m) => m.Ebs?.Encrypted === true);
    const withKey = encrypted && ebs.every((m) => isStackKey(m.Ebs?.KmsKeyId, key));
    checks.push({
      id: 'security.encryption.launch-template',
      title: 'Launch template root volume encrypted with the stack KMS key',
      criterion: 'encryption',
      status: withKey ? 'pass' : encrypted ? 'warn' : 'fail',
      evidence: ebs.length
        ? ebs
            .map(
              (m) =>
                `${m.DeviceName ?? '?'}: Encrypted=${m.Ebs?.Encrypted === true} key ${m.Ebs?.KmsKeyId ?? 'default'}`,
            )
            .join('; ')
        : `${lt.launchTemplateName} v${lt.version}: no EBS block device mapping`,
      fix: 'cloudmart up --phase 1 (a new launch template version), then start an instance refresh so running instances get encrypted volumes',
    });
  }

  const volumes = await allPages(
    paginateDescribeVolumes(
      { client: ec2 },
      { Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.config.stack] }] },
    ),
    (page) => page.Volumes,
  );
  const plain = volumes.filter((v) => v.Encrypted !== true);
  checks.push({
    id: 'security.encryption.ebs-volumes',
    title: "The stack's EBS volumes are encrypted",
    criterion: 'encryption',
    status: volumes.length === 0 ? 'unknown' : plain.length === 0 ? 'pass' : 'fail',
    evidence:
      volumes.length === 0
        ? `no EBS volume tagged ${STACK_TAG}=${ctx.config.stack}`
        : plain.length === 0
          ? `${volumes.length} volume(s), all encrypted`
          : `unencrypted: ${plain.map((v) => v.VolumeId ?? '?').join(', ')}`,
    fix: 'EBS volumes cannot be encrypted in place: fix the launch template (cloudmart up --phase 1) and replace the instances with an instance refresh.',
  });

  const def = await ec2.send(new GetEbsEncryptionByDefaultCommand({}));
  const on = def.EbsEncryptionByDefault === true;
  if (!ctx.config.security.ebsEncryptionByDefault) {
    // Not opted in (the setting is account-wide, so cloudmart does not turn it on unasked).
    // The stack's own volumes are checked above; this check still says what the region does:
    // a new volume created outside the launch template is unencrypted while it is off.
    checks.push({
      id: 'security.encryption.ebs-default',
      title: `EBS encryption by default in ${ctx.config.region}`,
      criterion: 'encryption',
      status: on ? 'pass' : 'fail',
      evidence: on
        ? `EbsEncryptionByDefault=true (turned on outside cloudmart; security.ebsEncryptionByDefault is false)`
        : `EbsEncryptionByDefault=false: a volume created outside the stack's launch template in ${ctx.config.region} is not encrypted (security.ebsEncryptionByDefault is false)`,
      ...(on
        ? {}
        : {
            fix: 'set security.ebsEncryptionByDefault: true and run cloudmart up --phase 4 (it turns the region-wide setting on; destroy turns it off again only if cloudmart turned it on)',
          }),
    });
    return checks;
  }
  // The default key is left alone; it is read only to flag one that points at the stack key
  // (set by an earlier cloudmart version or by hand): destroy deletes that key.
  const defKey = (await ec2.send(new GetEbsDefaultKmsKeyIdCommand({}))).KmsKeyId;
  const onStackKey = isStackKey(defKey, key);
  checks.push({
    id: 'security.encryption.ebs-default',
    title: `EBS encryption by default in ${ctx.config.region}`,
    criterion: 'encryption',
    status: !on ? 'fail' : onStackKey ? 'warn' : 'pass',
    evidence: `EbsEncryptionByDefault=${on}, default key ${defKey ?? 'aws/ebs'}${onStackKey ? ' (the stack key: every new volume in the region depends on a key destroy deletes)' : ''}`,
    fix: onStackKey
      ? `aws ec2 reset-ebs-default-kms-key-id --region ${ctx.config.region} (back to aws/ebs), or cloudmart up --phase 4 if cloudmart changed it`
      : 'cloudmart up --phase 4',
  });
  return checks;
};

async function findLogGroupKey(
  logs: CloudWatchLogsClient,
  name: string,
): Promise<{ exists: boolean; kmsKeyId?: string }> {
  const g = await findLogGroup(logs, name);
  return g ? { exists: true, ...(g.kmsKeyId ? { kmsKeyId: g.kmsKeyId } : {}) } : { exists: false };
}

const monitoringChecks: Group = async (ctx) => {
  const { GetTopicAttributesCommand } = await snsSdk();
  const key = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
  const checks: Check[] = [];
  const fix = 'cloudmart up --phase 2';

  const topicArn = ctx.maybeOutputs<SnsOutputs>(STEP.sns)?.topicArn;
  if (!topicArn) {
    checks.push(
      ...notBuilt(
        'security.encryption.sns',
        'SNS topic encrypted with the stack key',
        'the alarm topic (Phase 2)',
        fix,
      ),
    );
  } else {
    const sns = await ctx.aws.get('sns');
    let keyId: string | undefined;
    let exists = true;
    try {
      keyId = (await sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes
        ?.KmsMasterKeyId;
    } catch (e) {
      if (!/NotFound/i.test((e as Error).name)) throw e;
      exists = false;
    }
    checks.push({
      id: 'security.encryption.sns',
      title: 'SNS alarm topic encrypted with the stack KMS key',
      criterion: 'encryption',
      status: !exists || !keyId ? 'fail' : isStackKey(keyId, key) ? 'pass' : 'warn',
      evidence: exists
        ? `${topicArn}: KmsMasterKeyId ${keyId ?? 'none'}`
        : `topic ${topicArn} not found`,
      fix,
    });
  }

  const groups = ctx.maybeOutputs<LogsOutputs>(STEP.logs);
  if (!groups) {
    checks.push(
      ...notBuilt(
        'security.encryption.log-groups',
        'Log groups encrypted with the stack key',
        'the log groups (Phase 2)',
        fix,
      ),
    );
  } else {
    const logs = await ctx.aws.get('logs');
    const names = [groups.backendLogGroup, groups.albLogGroup, groups.rdsLogGroup].filter(Boolean);
    const found = await Promise.all(
      names.map(async (n) => ({ n, ...(await findLogGroupKey(logs, n)) })),
    );
    const bad = found.filter((g) => !g.exists || !g.kmsKeyId);
    const otherKey = found.filter((g) => g.kmsKeyId && !isStackKey(g.kmsKeyId, key));
    checks.push({
      id: 'security.encryption.log-groups',
      title: 'Log groups encrypted with the stack KMS key',
      criterion: 'encryption',
      status: bad.length > 0 ? 'fail' : otherKey.length > 0 ? 'warn' : 'pass',
      evidence: found
        .map((g) => `${g.n}: ${g.exists ? (g.kmsKeyId ?? 'not encrypted') : 'missing'}`)
        .join('; '),
      fix,
    });
  }
  return checks;
};

export const encryptionStep = defineStep<EncryptionOutputs>({
  id: STEP.encryption,
  phase: 4,
  title: 'Encryption everywhere (verified; EBS default only on opt-in)',
  needs: [STEP.kms, STEP.rds, STEP.redis, STEP.frontendBucket, STEP.launchTemplate],
  // Only the KMS key must outlive a failed teardown (the account's EBS default may still name
  // it); the database, the cache, the bucket and the template are only read.
  teardownKeeps: [STEP.kms],
  actions: [
    'ec2:GetEbsEncryptionByDefault',
    'ec2:EnableEbsEncryptionByDefault',
    'ec2:DisableEbsEncryptionByDefault',
    'ec2:GetEbsDefaultKmsKeyId',
    'ec2:ModifyEbsDefaultKmsKeyId',
    'ec2:ResetEbsDefaultKmsKeyId',
    'ec2:DescribeLaunchTemplateVersions',
    'ec2:DescribeVolumes',
    'rds:DescribeDBInstances',
    'rds:DescribeDBParameters',
    'elasticache:DescribeReplicationGroups',
    's3:GetEncryptionConfiguration',
    's3:GetBucketPolicy',
    's3:GetBucketPolicyStatus',
    's3:GetBucketPublicAccessBlock',
    's3:GetBucketOwnershipControls',
    's3:GetBucketVersioning',
    'sns:GetTopicAttributes',
    'logs:DescribeLogGroups',
  ],
  describe: (config) => [
    'Verify encryption: RDS (stack KMS key, TLS required), Redis (at rest, in transit, AUTH), S3 (SSE, HTTPS only), EBS (launch template and volumes), SNS and log groups (stack KMS key)',
    config.security.ebsEncryptionByDefault
      ? `Turn on EBS encryption by default in ${config.region} (account-wide; the region's default key, aws/ebs, is left as it is; turned off again by destroy only if cloudmart turned it on)`
      : `Leave the account-wide EBS encryption-by-default setting of ${config.region} as it is (security.ebsEncryptionByDefault: false)`,
  ],

  async create(ctx) {
    const { EnableEbsEncryptionByDefaultCommand, GetEbsEncryptionByDefaultCommand } =
      await ec2sdk();
    const ec2 = await ctx.aws.get('ec2');
    const prev = recorded(ctx);
    const optIn = ctx.config.security.ebsEncryptionByDefault;
    // What an earlier run changed stays recorded, so teardown still knows what to undo.
    const out: EncryptionOutputs = {
      ebsEncryptionByDefaultManaged: optIn,
      ebsEncryptionByDefault: false,
      ebsEncryptionEnabledByCloudmart: prev.ebsEncryptionEnabledByCloudmart,
      ebsDefaultKeyChangedByCloudmart: prev.ebsDefaultKeyChangedByCloudmart,
      ...(prev.previousEbsDefaultKmsKeyId
        ? { previousEbsDefaultKmsKeyId: prev.previousEbsDefaultKmsKeyId }
        : {}),
    };

    // Earlier versions also pointed the region's default EBS key at the stack key. That puts
    // every other workload's new volumes in the region under a key destroy deletes: undo it.
    if (prev.ebsDefaultKeyChangedByCloudmart) {
      await restoreDefaultKey(ctx, ec2, ctx.maybeOutputs<KmsOutputs>(STEP.kms), prev);
      out.ebsDefaultKeyChangedByCloudmart = false;
      delete out.previousEbsDefaultKmsKeyId;
    }

    const enabled =
      (await ec2.send(new GetEbsEncryptionByDefaultCommand({}))).EbsEncryptionByDefault === true;
    out.ebsEncryptionByDefault = enabled;
    // Everything else is fixed at creation by the steps that own the resources: verify checks it.
    if (!optIn) return out;

    // Only the switch: new volumes get the region's default key (aws/ebs unless the account
    // chose another). The stack's own volumes name the stack key in the launch template.
    if (!enabled) {
      ctx.progress(`turning on EBS encryption by default in ${ctx.config.region} (account-wide)`);
      await ec2.send(new EnableEbsEncryptionByDefaultCommand({}));
      out.ebsEncryptionByDefault = true;
      out.ebsEncryptionEnabledByCloudmart = true;
    }
    return out;
  },

  async verify(ctx) {
    const groups: Group[] = [
      guarded('security.encryption.rds-storage', 'RDS encryption', 'encryption', rdsChecks),
      guarded('security.encryption.redis-at-rest', 'Redis encryption', 'encryption', redisChecks),
      guarded('security.encryption.s3-default', 'S3 encryption', 'encryption', s3Checks),
      guarded('security.encryption.launch-template', 'EBS encryption', 'encryption', ebsChecks),
      guarded(
        'security.encryption.sns',
        'SNS and log group encryption',
        'encryption',
        monitoringChecks,
      ),
    ];
    return (await Promise.all(groups.map((g) => g(ctx)))).flat();
  },

  async teardown(ctx) {
    const { DisableEbsEncryptionByDefaultCommand } = await ec2sdk();
    const prev = recorded(ctx);
    const optIn = ctx.config.security.ebsEncryptionByDefault;
    if (!optIn && !prev.ebsDefaultKeyChangedByCloudmart && !prev.ebsEncryptionEnabledByCloudmart) {
      return; // cloudmart never touched the account-wide setting
    }
    const ec2 = await ctx.aws.get('ec2');

    // cloudmart no longer changes the default key, but a state from an earlier version may say
    // it did, and a default still pointing at the stack key would break every new encrypted
    // volume in the region once that key is deleted.
    await restoreDefaultKey(ctx, ec2, ctx.maybeOutputs<KmsOutputs>(STEP.kms), prev);

    if (prev.ebsEncryptionEnabledByCloudmart) {
      ctx.progress(`turning EBS encryption by default off again in ${ctx.config.region}`);
      await ec2.send(new DisableEbsEncryptionByDefaultCommand({}));
    } else if (optIn) {
      ctx.warn(
        `EBS encryption by default stays on in ${ctx.config.region}: it was on before cloudmart ran (or the state that says otherwise is gone). It is account-wide; turn it off in the EC2 console if you want.`,
      );
    }
  },
});
