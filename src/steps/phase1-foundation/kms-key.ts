import type { KeyMetadata } from '@aws-sdk/client-kms';
import { BACKUP_VAULT_LOOKUP_ACTIONS, describeBackupVault } from '../../aws/backup.js';
import type { Aws } from '../../aws/clients.js';
import { ignoreNotFound, isNotFound } from '../../aws/errors.js';
import { taggedKeyArns } from '../../aws/find.js';
import { retryWhile } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type KmsOutputs } from '../outputs.js';
import { FIX_PHASE1, missing } from './ec2-lookup.js';
import {
  canonicalJson,
  decodePolicy,
  samePolicy,
  wildcardPrincipals,
  type PolicyDocument,
} from '../../aws/policy.js';

const kmsSdk = () => import('@aws-sdk/client-kms');
const iamSdk = () => import('@aws-sdk/client-iam');
const rdsSdk = () => import('@aws-sdk/client-rds');

/** The shortest waiting period AWS allows; a key can never be deleted at once. */
export const DELETION_WINDOW_DAYS = 7;
const AUTOSCALING_SLR = 'AWSServiceRoleForAutoScaling';

export function aliasName(config: Config): string {
  return `alias/${config.stack}`;
}

function keyDescription(config: Config): string {
  return `CloudMart ${config.stack}: RDS, ElastiCache, EBS, SNS and CloudWatch Logs encryption`;
}

/**
 * The key policy: the account (so IAM policies decide who administers and uses the key) and,
 * each scoped by a condition, the AWS services that use the key on the stack's behalf. No
 * statement names `*` as principal.
 */
export function keyPolicy(config: Config, account: string, partition: string): PolicyDocument {
  const region = config.region;
  const root = `arn:${partition}:iam::${account}:root`;
  // Auto Scaling launches the instances with its service-linked role: without these two
  // statements, instances with encrypted EBS volumes fail to launch.
  const asgRole = `arn:${partition}:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/${AUTOSCALING_SLR}`;
  const use = [
    'kms:Encrypt',
    'kms:Decrypt',
    'kms:ReEncrypt*',
    'kms:GenerateDataKey*',
    'kms:DescribeKey',
  ];
  return {
    Version: '2012-10-17',
    Id: `${config.stack}-key-policy`,
    Statement: [
      {
        Sid: 'AccountManagesKeyThroughIam',
        Effect: 'Allow',
        Principal: { AWS: root },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        // KMS already delegates to IAM through the statement above; this one states which
        // services use the key on the account's behalf, so a reader of the policy sees it.
        Sid: 'AwsServicesUseKeyForThisAccount',
        Effect: 'Allow',
        Principal: { AWS: root },
        Action: [...use, 'kms:CreateGrant', 'kms:ListGrants'],
        Resource: '*',
        Condition: {
          StringEquals: {
            'kms:CallerAccount': account,
            // RDS, ElastiCache and Secrets Manager use the key through grants they create.
            'kms:ViaService': ['rds', 'elasticache', 'secretsmanager', 'ssm', 'sns', 'ec2'].map(
              (s) => `${s}.${region}.amazonaws.com`,
            ),
          },
        },
      },
      {
        Sid: 'CloudWatchLogsEncryptsStackLogGroups',
        Effect: 'Allow',
        Principal: { Service: `logs.${region}.amazonaws.com` },
        Action: [
          'kms:Encrypt*',
          'kms:Decrypt*',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:Describe*',
        ],
        Resource: '*',
        Condition: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*`,
          },
        },
      },
      {
        Sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      },
      {
        Sid: 'AutoScalingUsesKeyForEbs',
        Effect: 'Allow',
        Principal: { AWS: asgRole },
        Action: use,
        Resource: '*',
      },
      {
        Sid: 'AutoScalingGrantsForEbs',
        Effect: 'Allow',
        Principal: { AWS: asgRole },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
    ],
  };
}

async function describeKey(ctx: StepContext, keyId: string): Promise<KeyMetadata | undefined> {
  const { DescribeKeyCommand } = await kmsSdk();
  const kms = await ctx.aws.get('kms');
  const out = await ignoreNotFound(kms.send(new DescribeKeyCommand({ KeyId: keyId })));
  return out?.KeyMetadata;
}

/**
 * CreateKey has no client token and the alias is a second call: after a crash between the two,
 * the key is found by the tags it got at creation. Keys a destroy scheduled for deletion are
 * history and not adopted.
 */
/** Every usable key tagged as this step's (normally one; more after a lost CreateKey answer). */
async function taggedKeys(ctx: StepContext): Promise<KeyMetadata[]> {
  const keys: KeyMetadata[] = [];
  for (const arn of await taggedKeyArns(ctx.aws, ctx.config, STEP.kms)) {
    const key = await describeKey(ctx, arn);
    if (key && (key.KeyState === 'Enabled' || key.KeyState === 'Disabled')) keys.push(key);
  }
  return keys;
}

async function findTaggedKey(ctx: StepContext): Promise<KeyMetadata | undefined> {
  return (await taggedKeys(ctx))[0];
}

/**
 * The key policy names Auto Scaling's service-linked role, and KMS rejects a policy whose
 * principal does not exist; in a fresh account the role appears only with the first group.
 * Returns true when the role was just created (IAM needs a few seconds to propagate it).
 */
async function ensureAutoScalingRole(ctx: StepContext): Promise<boolean> {
  const { GetRoleCommand, CreateServiceLinkedRoleCommand } = await iamSdk();
  const iam = await ctx.aws.get('iam');
  const role = await ignoreNotFound(iam.send(new GetRoleCommand({ RoleName: AUTOSCALING_SLR })));
  if (role?.Role) return false;
  ctx.progress(`creating the ${AUTOSCALING_SLR} service-linked role the key policy names`);
  try {
    await iam.send(
      new CreateServiceLinkedRoleCommand({ AWSServiceName: 'autoscaling.amazonaws.com' }),
    );
  } catch (e) {
    // Someone (an ASG elsewhere in the account) created it in the meantime.
    if (!/has been taken|already exists/i.test((e as Error).message ?? '')) throw e;
  }
  return true;
}

/** True when a key reference (ARN or id) names the key. */
function isKey(ref: string | undefined, key: { keyId: string; keyArn: string }): boolean {
  return !!ref && (ref === key.keyArn || ref === key.keyId || ref.endsWith(`:key/${key.keyId}`));
}

/**
 * What still holds data encrypted with the stack key in the stack's region, for destroy to
 * keep the key (deleting it would make these impossible to restore while they keep billing):
 * RDS snapshots (the manual snapshot, a final snapshot), retained RDS automated backups, and
 * the stack's AWS Backup vault with its recovery points (EBS snapshots under the volumes' key,
 * the vault under its own). Read-only; snapshots being deleted do not count. The replicated
 * backups in the DR region are under their own key and always deleted by `backup.rds`.
 */
export async function dataEncryptedWith(
  aws: Aws,
  config: Config,
  key: { keyId: string; keyArn: string },
): Promise<string[]> {
  const { paginateDescribeDBSnapshots, paginateDescribeDBInstanceAutomatedBackups } =
    await rdsSdk();
  const found: string[] = [];

  const rds = await aws.get('rds', config.region);
  for await (const out of paginateDescribeDBSnapshots({ client: rds }, { MaxRecords: 100 })) {
    for (const s of out.DBSnapshots ?? []) {
      if (isKey(s.KmsKeyId, key) && s.Status !== 'deleting') {
        found.push(`RDS snapshot ${s.DBSnapshotIdentifier ?? '?'} (${s.SnapshotType ?? '?'})`);
      }
    }
  }

  for await (const out of paginateDescribeDBInstanceAutomatedBackups(
    { client: rds },
    { MaxRecords: 100 },
  )) {
    for (const b of out.DBInstanceAutomatedBackups ?? []) {
      if (isKey(b.KmsKeyId, key) && b.Status !== 'deleting') {
        found.push(`retained automated backups of RDS ${b.DBInstanceIdentifier ?? '?'}`);
      }
    }
  }

  const backup = await aws.get('backup', config.region);
  const vaultName = names.of(config, 'vault');
  const vault = await describeBackupVault(backup, vaultName);
  const points = vault?.NumberOfRecoveryPoints ?? 0;
  if (vault && isKey(vault.EncryptionKeyArn, key) && points > 0) {
    found.push(
      `AWS Backup vault ${vaultName} (${points} recovery point${points === 1 ? '' : 's'})`,
    );
  }
  return found;
}

/** "a, b and 3 more" for a warning line. */
function listed(items: string[], max = 4): string {
  const shown = items.slice(0, max);
  const more = items.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length < 2) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)!}`;
}

const isMalformedPolicy = (e: unknown) =>
  (e as { name?: string } | null)?.name === 'MalformedPolicyDocumentException';

export const kmsKeyStep = defineStep<KmsOutputs>({
  id: STEP.kms,
  phase: 1,
  title: 'KMS customer-managed key',
  needs: [],
  actions: [
    'kms:DescribeKey',
    'kms:CreateKey',
    'kms:TagResource',
    'kms:CreateAlias',
    'kms:DeleteAlias',
    'kms:GetKeyRotationStatus',
    'kms:EnableKeyRotation',
    'kms:GetKeyPolicy',
    'kms:PutKeyPolicy',
    'kms:EnableKey',
    'kms:CancelKeyDeletion',
    'kms:ScheduleKeyDeletion',
    'tag:GetResources',
    'iam:GetRole',
    'iam:CreateServiceLinkedRole',
    'rds:DescribeDBSnapshots',
    'rds:DescribeDBInstanceAutomatedBackups',
    ...BACKUP_VAULT_LOOKUP_ACTIONS,
  ],
  describe: (config) => [
    `KMS key ${aliasName(config)} (symmetric, yearly rotation) for RDS, ElastiCache, EBS, SNS and CloudWatch Logs`,
    'Key policy: the account through IAM; CloudWatch Logs, CloudWatch alarms and Auto Scaling, each scoped by a condition',
    ...(config.destroy.finalSnapshot ||
    !config.destroy.deleteManualSnapshots ||
    !config.destroy.deleteRecoveryPoints
      ? [
          'destroy keeps this key (about $1/month) while the backups it keeps are encrypted with it, so they stay restorable',
        ]
      : []),
  ],

  discover: {
    what: 'KMS key',
    // The stack key stays while data is still encrypted with it, as teardown keeps it.
    keeps: async (aws, config, listed) => {
      if (listed.type !== 'kms:key' || listed.region !== config.region) return undefined;
      const keyId = listed.arn
        .split(':')
        .slice(5)
        .join(':')
        .replace(/^key\//, '');
      const data = await dataEncryptedWith(aws, config, { keyId, keyArn: listed.arn });
      return data.length > 0
        ? `kept on purpose: ${data.join(', ')} ${data.length === 1 ? 'is' : 'are'} encrypted with it ($1/month until you schedule its deletion)`
        : undefined;
    },
  },
  async create(ctx) {
    const {
      CreateKeyCommand,
      CreateAliasCommand,
      CancelKeyDeletionCommand,
      EnableKeyCommand,
      GetKeyRotationStatusCommand,
      EnableKeyRotationCommand,
      GetKeyPolicyCommand,
      PutKeyPolicyCommand,
      ScheduleKeyDeletionCommand,
    } = await kmsSdk();
    const kms = await ctx.aws.get('kms');
    const alias = aliasName(ctx.config);
    const account = await ctx.aws.accountId();
    const policy = keyPolicy(ctx.config, account, ctx.aws.partition());

    let key = await describeKey(ctx, alias);
    const hasAlias = key !== undefined;
    key ??= await findTaggedKey(ctx);
    if (!key) {
      ctx.progress(`creating KMS key ${alias}`);
      await ensureAutoScalingRole(ctx);
      const create = () =>
        kms.send(
          new CreateKeyCommand({
            Description: keyDescription(ctx.config),
            KeyUsage: 'ENCRYPT_DECRYPT',
            KeySpec: 'SYMMETRIC_DEFAULT',
            Origin: 'AWS_KMS',
            MultiRegion: false,
            Policy: JSON.stringify(policy),
            Tags: ctx.tags.list(alias).map((t) => ({ TagKey: t.Key, TagValue: t.Value })),
          }),
        );
      // A service-linked role created moments ago (by this run, or by a run that was killed
      // right after creating it) is not yet visible to KMS's policy validation: retry a while.
      const out = await retryWhile(ctx, create, {
        what: `creating KMS key ${alias} (waiting for IAM to propagate ${AUTOSCALING_SLR})`,
        when: isMalformedPolicy,
        timeoutMs: 60_000,
        minDelayMs: 2_000,
        maxDelayMs: 10_000,
      });
      key = out.KeyMetadata;
      // A CreateKey answer lost on the way back is retried by the SDK and makes a second key:
      // keep the one we got, schedule any other key tagged as ours.
      for (const stray of await taggedKeys(ctx)) {
        if (!stray.KeyId || stray.KeyId === key?.KeyId) continue;
        ctx.progress(`scheduling the stray KMS key ${stray.KeyId} for deletion`);
        await kms.send(
          new ScheduleKeyDeletionCommand({
            KeyId: stray.KeyId,
            PendingWindowInDays: DELETION_WINDOW_DAYS,
          }),
        );
      }
    }
    if (!key?.KeyId) throw new Error(`KMS key ${alias}: AWS returned no key id`);
    const keyId = key.KeyId;

    if (key.KeyState === 'PendingDeletion') {
      // The alias still names a key a destroy scheduled for deletion: bring it back rather than
      // paying for a second key. Cancelling leaves it disabled.
      ctx.progress(`KMS key ${keyId} was scheduled for deletion: cancelling the deletion`);
      await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
      await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    } else if (key.KeyState === 'Disabled') {
      await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    } else if (key.KeyState !== 'Enabled' && key.KeyState !== undefined) {
      throw new CloudmartError(
        'AWS_ERROR',
        `KMS key ${keyId} (${alias}) is ${key.KeyState}: it cannot encrypt anything in that state`,
        { hint: 'Check the key in the KMS console, then run the same command again.' },
      );
    }
    if (!hasAlias) {
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    }

    const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    if (rotation.KeyRotationEnabled !== true) {
      await kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
    }
    const current = await kms.send(
      new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }),
    );
    if (!samePolicy(decodePolicy(current.Policy), policy)) {
      ctx.progress(`KMS key ${alias}: restoring the key policy`);
      await ensureAutoScalingRole(ctx);
      await kms.send(
        new PutKeyPolicyCommand({
          KeyId: keyId,
          PolicyName: 'default',
          Policy: JSON.stringify(policy),
        }),
      );
    }

    return {
      keyId,
      keyArn:
        key.Arn ?? `arn:${ctx.aws.partition()}:kms:${ctx.config.region}:${account}:key/${keyId}`,
      aliasName: alias,
    };
  },

  async verify(ctx) {
    const { GetKeyRotationStatusCommand, GetKeyPolicyCommand } = await kmsSdk();
    const kms = await ctx.aws.get('kms');
    const alias = aliasName(ctx.config);
    const key = await describeKey(ctx, alias);
    if (!key?.KeyId) {
      return [
        missing(
          'security.kms.exists',
          `KMS key ${alias} exists`,
          'encryption',
          `no key behind ${alias}`,
        ),
      ];
    }
    const keyId = key.KeyId;
    const [rotation, policyOut] = await Promise.all([
      kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId })),
      kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' })),
    ]);
    const policy = decodePolicy(policyOut.Policy);
    const wild = policy ? wildcardPrincipals(policy) : [];
    const account = await ctx.aws.accountId();
    const drift = !samePolicy(policy, keyPolicy(ctx.config, account, ctx.aws.partition()));

    const checks: Check[] = [
      {
        id: 'security.kms.enabled',
        title: `KMS key ${alias} is enabled`,
        criterion: 'encryption',
        status: key.KeyState === 'Enabled' ? 'pass' : 'fail',
        evidence: `${keyId} ${key.KeyState ?? '?'}${key.DeletionDate ? ` (deletion on ${key.DeletionDate.toISOString()})` : ''}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'security.kms.rotation',
        title: 'Automatic key rotation is on',
        criterion: 'encryption',
        status: rotation.KeyRotationEnabled === true ? 'pass' : 'fail',
        evidence: `KeyRotationEnabled=${rotation.KeyRotationEnabled === true}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'security.kms.policy',
        title: 'Key policy grants no wildcard principal',
        criterion: 'encryption',
        status: !policy || wild.length > 0 ? 'fail' : drift ? 'warn' : 'pass',
        evidence: !policy
          ? 'the key policy could not be read'
          : wild.length > 0
            ? `statements open to everyone: ${wild.map((s) => s.Sid ?? canonicalJson(s)).join('; ')}`
            : `${policy.Statement.length} statements, principals: ${[
                ...new Set(policy.Statement.flatMap((s) => principalNames(s.Principal))),
              ].join(', ')}${drift ? ' (differs from the policy cloudmart sets)' : ''}`,
        fix: FIX_PHASE1,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const { ScheduleKeyDeletionCommand, DeleteAliasCommand } = await kmsSdk();
    const kms = await ctx.aws.get('kms');
    const alias = aliasName(ctx.config);
    const previousId = ctx.previous?.keyId as string | undefined;

    const byAlias = await describeKey(ctx, alias);
    const key =
      byAlias ??
      (previousId ? await describeKey(ctx, previousId) : undefined) ??
      (await findTaggedKey(ctx));
    // A CreateKey whose answer was lost (and retried by the SDK) can leave a second tagged key
    // that no alias names: schedule those too, so none keeps billing.
    const extras = (await taggedKeys(ctx)).filter((k) => k.KeyId && k.KeyId !== key?.KeyId);
    for (const extra of extras) {
      ctx.progress(`scheduling the stray KMS key ${extra.KeyId!} for deletion`);
      await ignoreNotFound(
        kms.send(
          new ScheduleKeyDeletionCommand({
            KeyId: extra.KeyId!,
            PendingWindowInDays: DELETION_WINDOW_DAYS,
          }),
        ),
      );
    }
    if (!key?.KeyId) return;
    const keyId = key.KeyId;
    const region = ctx.config.region;
    const keyArn =
      key.Arn ??
      `arn:${ctx.aws.partition()}:kms:${region}:${await ctx.aws.accountId()}:key/${keyId}`;

    // Backups destroy keeps (destroy.finalSnapshot, deleteManualSnapshots: false,
    // deleteRecoveryPoints: false), or any other snapshot made under this key, can only be
    // restored while the key exists: then the key is kept too, alias and all.
    const kept = await dataEncryptedWith(ctx.aws, ctx.config, { keyId, keyArn });
    if (kept.length > 0) {
      const what = `${listed(kept)} ${kept.length === 1 ? 'is' : 'are'} encrypted with it`;
      const them = kept.length === 1 ? 'it' : 'them';
      if (key.KeyState === 'PendingDeletion' || key.KeyState === 'PendingReplicaDeletion') {
        const when = key.DeletionDate?.toISOString().slice(0, 10) ?? 'soon';
        ctx.warn(
          `KMS key ${keyId} (${alias}) is already pending deletion until ${when}, but ${what}: once the key is deleted, ${them} can never be restored. ` +
            `To keep them usable: aws kms cancel-key-deletion --key-id ${keyId} --region ${region} && aws kms enable-key --key-id ${keyId} --region ${region}`,
        );
        return;
      }
      ctx.progress(`keeping KMS key ${keyId} (${alias}): ${what}`);
      ctx.warn(
        `Kept KMS key ${keyId} (${alias}) because ${what}; deleting the key would make ${them} impossible to restore. ` +
          `It costs about $1/month while it exists. After deleting ${them}, schedule its deletion with: aws kms schedule-key-deletion --key-id ${keyId} --pending-window-in-days ${DELETION_WINDOW_DAYS} --region ${region}`,
      );
      return;
    }

    // Schedule first, alias second: if the run stops in between, the alias still leads the next
    // destroy to the key.
    let deletionDate = key.DeletionDate;
    if (key.KeyState !== 'PendingDeletion' && key.KeyState !== 'PendingReplicaDeletion') {
      ctx.progress(`scheduling KMS key ${keyId} for deletion in ${DELETION_WINDOW_DAYS} days`);
      try {
        const out = await kms.send(
          new ScheduleKeyDeletionCommand({
            KeyId: keyId,
            PendingWindowInDays: DELETION_WINDOW_DAYS,
          }),
        );
        deletionDate = out.DeletionDate;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return;
      }
    }
    if (byAlias) await ignoreNotFound(kms.send(new DeleteAliasCommand({ AliasName: alias })));

    const when = deletionDate
      ? deletionDate.toISOString().slice(0, 10)
      : `in ${DELETION_WINDOW_DAYS} days`;
    ctx.warn(
      `KMS key ${keyId} (${alias}) is pending deletion until ${when}: AWS never deletes a key at once, ${DELETION_WINDOW_DAYS} days is the shortest wait. ` +
        'A key pending deletion is not billed (an active one costs $1/month, prorated); data still encrypted with it becomes unreadable afterwards. ' +
        `To keep it: aws kms cancel-key-deletion --key-id ${keyId}`,
    );
  },
});

function principalNames(p: PolicyDocument['Statement'][number]['Principal']): string[] {
  if (p === undefined) return [];
  if (p === '*') return ['*'];
  return Object.values(p).flatMap((v) => (Array.isArray(v) ? v : [v]));
}
