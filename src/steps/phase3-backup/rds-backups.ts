import type { KMSClient, KeyMetadata } from '@aws-sdk/client-kms';
import type { DBInstanceAutomatedBackup, RDSClient } from '@aws-sdk/client-rds';
import { ignoreNotFound, isNotFound } from '../../aws/errors.js';
import { taggedKeyArns } from '../../aws/find.js';
import { allPages } from '../../aws/pages.js';
import { STACK_TAG, STEP_TAG, tagValue } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, settleLater, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { describeDbInstance, waitAvailable } from '../phase1-foundation/rds-database.js';
import { STEP, type RdsOutputs } from '../outputs.js';

const rdsSdk = () => import('@aws-sdk/client-rds');
const kmsSdk = () => import('@aws-sdk/client-kms');

export interface RdsBackupOutputs {
  dbInstanceIdentifier: string;
  dbInstanceArn: string;
  dbiResourceId: string;
  backupRetentionPeriod: number;
  backupWindow: string;
  /** Set when automated backups are replicated to the DR region. */
  drRegion?: string;
  drKeyArn?: string;
  drKeyAlias?: string;
  replicatedBackupArn?: string;
  [k: string]: unknown;
}

/**
 * Backup health, not the RPO (the drill measures the data actually lost): RDS keeps the latest
 * restorable time "typically within 5 minutes of the current time" (RDS User Guide,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html). Up to 5 minutes
 * behind passes; up to 15 is a warning (a slow log upload, not yet a broken backup); beyond
 * it, backups are not keeping up.
 */
export const RESTORABLE_LAG = { passMs: 5 * 60_000, warnMs: 15 * 60_000 } as const;

/** The backup-health verdict of a restorable-time lag (ms). */
export function restorableLagStatus(lagMs: number): 'pass' | 'warn' | 'fail' {
  return lagMs <= RESTORABLE_LAG.passMs ? 'pass' : lagMs <= RESTORABLE_LAG.warnMs ? 'warn' : 'fail';
}
/**
 * LatestRestorableTime only appears once the first automated snapshot of a new instance has
 * finished (several minutes after it becomes available). Within this grace period after the
 * instance was created, a missing or stale restorable time is a warning, not a failure: the
 * RPO cannot be judged yet. After it, the check fails.
 */
export const PITR_GRACE_MS = 30 * 60_000;

const ACTIVE_REPLICATION = new Set(['replicating', 'pending']);

/**
 * A replicated backup's status in lower case: RDS answers "Pending"/"Replicating" as well as
 * "pending"/"replicating" (terraform-provider-aws #32597 and #33362, fixed in PR #33369).
 */
function replicationStatus(b: DBInstanceAutomatedBackup | undefined): string {
  return (b?.Status ?? '').toLowerCase();
}
const isActive = (b: DBInstanceAutomatedBackup | undefined) =>
  ACTIVE_REPLICATION.has(replicationStatus(b));

/**
 * StopDBInstanceAutomatedBackupsReplication on an instance whose backups are not replicated to
 * this region answers InvalidDBInstanceStateFault "... not replicating to the current region":
 * the replication is already stopped (terraform-provider-aws treats it so as well).
 */
function isNotReplicating(e: unknown): boolean {
  return (
    (e as Error | null)?.name === 'InvalidDBInstanceStateFault' &&
    /not replicating to the current region/i.test((e as Error).message)
  );
}

/** States RDS passes through after a replication stop; a final snapshot waits them out. */
const SETTLING = new Set(['modifying', 'backing-up', 'configuring-log-exports', 'rebooting']);

export const drKeyAlias = (stack: string): string => `alias/${stack}-dr`;

/** Wait until the source instance has left the states a replication stop puts it in. */
async function waitSettled(ctx: StepContext, rds: RDSClient, id: string): Promise<void> {
  await waitUntil(
    ctx,
    async () => {
      const status = (await describeDbInstance(rds, id))?.DBInstanceStatus ?? 'deleted';
      return { done: !SETTLING.has(status), status };
    },
    {
      what: `RDS ${id} to settle after the replication stop`,
      minDelayMs: 5_000,
      timeoutMs: 30 * 60_000,
    },
  );
}

/**
 * The replicated automated backups in the DR region: by the source's DbiResourceId when known
 * (it is the same id in both regions), else every automated backup tagged with this stack.
 */
async function findReplicas(
  ctx: StepContext,
  drRds: RDSClient,
  dbiResourceId: string | undefined,
): Promise<DBInstanceAutomatedBackup[]> {
  const { paginateDescribeDBInstanceAutomatedBackups } = await rdsSdk();
  let found: DBInstanceAutomatedBackup[];
  try {
    found = await allPages(
      paginateDescribeDBInstanceAutomatedBackups(
        { client: drRds },
        dbiResourceId ? { DbiResourceId: dbiResourceId } : {},
      ),
      (page) => page.DBInstanceAutomatedBackups,
    );
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
  if (dbiResourceId) return found.filter((b) => b.DbiResourceId === dbiResourceId);
  return found.filter(
    (b) =>
      tagValue(b.TagList, STACK_TAG) === ctx.config.stack &&
      tagValue(b.TagList, STEP_TAG) === STEP.rdsBackup,
  );
}

async function describeKey(kms: KMSClient, keyId: string): Promise<KeyMetadata | undefined> {
  const { DescribeKeyCommand } = await kmsSdk();
  return (await ignoreNotFound(kms.send(new DescribeKeyCommand({ KeyId: keyId }))))?.KeyMetadata;
}

/**
 * A key created by an earlier run that crashed before CreateAlias: found by its tags, so a
 * crash between the two calls never leaves a second key behind.
 */
async function findUnaliasedKey(
  ctx: StepContext,
  kms: KMSClient,
  except?: string,
): Promise<KeyMetadata | undefined> {
  for (const arn of await taggedKeyArns(ctx.aws, ctx.config, STEP.rdsBackup, ctx.config.drRegion)) {
    const key = await describeKey(kms, arn);
    if (key?.KeyState === 'Enabled' && key.KeyId !== except) return key;
  }
  return undefined;
}

/** The customer-managed key in the DR region that encrypts the replicated backups. */
async function ensureDrKey(ctx: StepContext): Promise<KeyMetadata> {
  const {
    CancelKeyDeletionCommand,
    CreateAliasCommand,
    CreateKeyCommand,
    EnableKeyCommand,
    EnableKeyRotationCommand,
    GetKeyRotationStatusCommand,
    ScheduleKeyDeletionCommand,
  } = await kmsSdk();
  const dr = ctx.config.drRegion;
  const kms = await ctx.aws.get('kms', dr);
  const alias = drKeyAlias(ctx.config.stack);

  let key = await describeKey(kms, alias);
  if (key?.KeyState === 'PendingDeletion') {
    // A destroy within the last 7 days scheduled it; the alias still points at it. Reuse it.
    ctx.progress(`KMS ${alias} (${dr}): cancelling its scheduled deletion`);
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
  } else if (key?.KeyState === 'Disabled') {
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
  }
  if (!key) {
    key = await findUnaliasedKey(ctx, kms);
    if (!key) {
      ctx.progress(`creating KMS key ${alias} in ${dr}`);
      const out = await kms.send(
        new CreateKeyCommand({
          Description: `cloudmart ${ctx.config.stack}: RDS automated backups replicated to ${dr}`,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          Tags: ctx.tags
            .list(`${ctx.config.stack}-dr`)
            .map(({ Key, Value }) => ({ TagKey: Key, TagValue: Value })),
        }),
      );
      key = out.KeyMetadata;
      if (!key?.KeyId) throw new Error('KMS CreateKey returned no key id');
      // A lost CreateKey answer retried by the SDK makes a second key: schedule the other one.
      for (let i = 0; i < 5; i++) {
        const stray = await findUnaliasedKey(ctx, kms, key.KeyId);
        if (!stray?.KeyId) break;
        await kms.send(
          new ScheduleKeyDeletionCommand({ KeyId: stray.KeyId, PendingWindowInDays: 7 }),
        );
      }
    }
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
  }
  const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
  if (rotation.KeyRotationEnabled !== true) {
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
  }
  return key;
}

/** A string this step recorded in the state file on its last run (resume, teardown). */
function previousString(ctx: StepContext, key: keyof RdsBackupOutputs): string | undefined {
  const v = ctx.previous?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function sourceArn(ctx: StepContext, account: string, id: string): string {
  return `arn:${ctx.aws.partition()}:rds:${ctx.config.region}:${account}:db:${id}`;
}

function minutes(ms: number): string {
  return `${(ms / 60_000).toFixed(1)} min`;
}

export const rdsBackupsStep = defineStep<RdsBackupOutputs>({
  id: STEP.rdsBackup,
  phase: 3,
  title: 'RDS automated backups, PITR and cross-region replication',
  needs: [STEP.rds],
  // A failed stop of the replication must not keep the Multi-AZ instance billing: deleting the
  // source ends the replication by itself and RDS keeps the copies (status "retained"), which
  // the next destroy deletes.
  teardownKeeps: [],
  actions: [
    'rds:DescribeDBInstances',
    'rds:ModifyDBInstance',
    'rds:DescribeDBInstanceAutomatedBackups',
    'rds:StartDBInstanceAutomatedBackupsReplication',
    'rds:StopDBInstanceAutomatedBackupsReplication',
    'rds:DeleteDBInstanceAutomatedBackup',
    'rds:AddTagsToResource',
    'kms:DescribeKey',
    'kms:CreateKey',
    'kms:CreateAlias',
    'kms:TagResource',
    'kms:GetKeyRotationStatus',
    'kms:EnableKeyRotation',
    'kms:EnableKey',
    'kms:CancelKeyDeletion',
    'kms:ScheduleKeyDeletion',
    'kms:CreateGrant',
    'tag:GetResources',
  ],
  describe: (config) => [
    `RDS automated backups: ${config.database.backupRetentionDays}-day retention, window ${config.database.backupWindow} UTC, point-in-time recovery (RPO < 5 min)`,
    ...(config.database.crossRegionBackup
      ? [
          `Automated-backup replication to ${config.drRegion}, encrypted with KMS key ${drKeyAlias(config.stack)} (rotation on)`,
        ]
      : []),
  ],

  async create(ctx) {
    const { ModifyDBInstanceCommand, StartDBInstanceAutomatedBackupsReplicationCommand } =
      await rdsSdk();
    const { database, drRegion } = ctx.config;
    const id = ctx.outputs<RdsOutputs>(STEP.rds).dbInstanceIdentifier;
    const rds = await ctx.aws.get('rds');

    const instance = await describeDbInstance(rds, id);
    if (!instance?.DBInstanceArn || !instance.DbiResourceId) {
      throw new CloudmartError('NOT_READY', `RDS ${id} was not found: backups cannot be set up`, {
        hint: 'cloudmart up --phase 1',
      });
    }

    // Only a drifted setting is written: a second run sends no ModifyDBInstance at all.
    let modified = false;
    if (
      instance.BackupRetentionPeriod !== database.backupRetentionDays ||
      instance.PreferredBackupWindow !== database.backupWindow
    ) {
      ctx.progress(
        `RDS ${id}: backup retention ${instance.BackupRetentionPeriod ?? '?'} → ${database.backupRetentionDays} days, window ${instance.PreferredBackupWindow ?? '?'} → ${database.backupWindow}`,
      );
      await rds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: id,
          BackupRetentionPeriod: database.backupRetentionDays,
          PreferredBackupWindow: database.backupWindow,
          ApplyImmediately: true,
        }),
      );
      modified = true;
      // Right after the modify RDS can still describe the old settings as `available`.
      await waitAvailable(
        ctx,
        id,
        (db) =>
          db.BackupRetentionPeriod === database.backupRetentionDays &&
          db.PreferredBackupWindow === database.backupWindow,
      );
    }

    const outputs: RdsBackupOutputs = {
      dbInstanceIdentifier: id,
      dbInstanceArn: instance.DBInstanceArn,
      dbiResourceId: instance.DbiResourceId,
      backupRetentionPeriod: database.backupRetentionDays,
      backupWindow: database.backupWindow,
    };
    if (!database.crossRegionBackup) return outputs;

    const key = await ensureDrKey(ctx);
    const drRds = await ctx.aws.get('rds', drRegion);
    const dbiResourceId = instance.DbiResourceId;
    let replica = (await findReplicas(ctx, drRds, dbiResourceId)).find(isActive);
    if (!replica) {
      // Replication starts only from an available instance (not modifying or backing up).
      if (!modified && instance.DBInstanceStatus !== 'available') await waitAvailable(ctx, id);
      const source = instance.DBInstanceArn;
      ctx.progress(`RDS ${id}: starting automated-backup replication to ${drRegion}`);
      // The replication API is called in the DESTINATION region; the SDK presigns the source call.
      const out = await retryWhile(
        ctx,
        () =>
          drRds.send(
            new StartDBInstanceAutomatedBackupsReplicationCommand({
              SourceDBInstanceArn: source,
              KmsKeyId: key.Arn,
              BackupRetentionPeriod: database.backupRetentionDays,
              Tags: ctx.tags.list(`${id}-${drRegion}`),
            }),
          ),
        {
          // Right after a modify the instance can still report available for a moment.
          what: `starting backup replication of ${id}`,
          when: (e) => /InvalidDBInstanceState/i.test((e as Error).name),
          minDelayMs: 10_000,
          timeoutMs: 30 * 60_000,
        },
      );
      replica = out.DBInstanceAutomatedBackup;
    }

    // Nothing later needs the replication running: the wait runs off the critical path
    // (verify scores it once it is replicating).
    if (replicationStatus(replica) !== 'replicating') {
      await settleLater(ctx, `backup replication of ${id} to ${drRegion}`, () =>
        waitUntil(
          ctx,
          async () => {
            const all = await findReplicas(ctx, drRds, dbiResourceId);
            const live = all.find(isActive) ?? all[0];
            replica = live ?? replica;
            const status = live ? replicationStatus(live) : 'pending';
            return {
              done: status === 'replicating',
              failed: ACTIVE_REPLICATION.has(status) ? undefined : status,
              status,
            };
          },
          {
            what: `backup replication of ${id} to ${drRegion}`,
            minDelayMs: 5_000,
            timeoutMs: 45 * 60_000,
          },
        ),
      );
    }

    return {
      ...outputs,
      drRegion,
      drKeyArn: key.Arn ?? '',
      drKeyAlias: drKeyAlias(ctx.config.stack),
      ...(replica?.DBInstanceAutomatedBackupsArn
        ? { replicatedBackupArn: replica.DBInstanceAutomatedBackupsArn }
        : {}),
    };
  },

  async verify(ctx) {
    const { database, drRegion } = ctx.config;
    const id =
      ctx.maybeOutputs<RdsOutputs>(STEP.rds)?.dbInstanceIdentifier ??
      previousString(ctx, 'dbInstanceIdentifier');
    const instance = id ? await describeDbInstance(await ctx.aws.get('rds'), id) : undefined;
    if (!instance) {
      return [
        {
          id: 'backup.rds.instance',
          title: 'RDS instance exists for its backups to be checked',
          criterion: 'backup',
          status: 'fail',
          evidence: id ? `RDS ${id} not found` : 'no RDS instance recorded',
          fix: 'cloudmart up --phase 1',
        },
      ];
    }
    const fix = 'cloudmart up --phase 3';
    const checks: Check[] = [
      {
        id: 'backup.rds.retention',
        title: `Automated backups kept ${database.backupRetentionDays} days`,
        criterion: 'backup',
        status: instance.BackupRetentionPeriod === database.backupRetentionDays ? 'pass' : 'fail',
        evidence: `BackupRetentionPeriod=${instance.BackupRetentionPeriod ?? 0}`,
        fix,
      },
      {
        id: 'backup.rds.window',
        title: `Backup window ${database.backupWindow} UTC`,
        criterion: 'backup',
        status: instance.PreferredBackupWindow === database.backupWindow ? 'pass' : 'fail',
        evidence: `PreferredBackupWindow=${instance.PreferredBackupWindow ?? 'none'}`,
        fix,
      },
    ];

    // Backup health: the newest point the instance can be restored to is recent.
    const now = ctx.now();
    const latest = instance.LatestRestorableTime?.getTime();
    const age = instance.InstanceCreateTime
      ? now - instance.InstanceCreateTime.getTime()
      : Infinity;
    const lag = latest === undefined ? undefined : now - latest;
    const lagStatus = lag === undefined ? undefined : restorableLagStatus(lag);
    checks.push({
      id: 'backup.rds.pitr-rpo',
      title:
        'Latest restorable time is recent (backup health: AWS keeps it typically within 5 min)',
      criterion: 'backup',
      status:
        lagStatus === 'pass'
          ? 'pass'
          : age < PITR_GRACE_MS || lagStatus === 'warn'
            ? 'warn'
            : 'fail',
      evidence:
        lag === undefined
          ? `no LatestRestorableTime yet (instance created ${minutes(age)} ago)`
          : lag < 0
            ? // AWS's clock is ahead of this machine's: the restore point is as recent as can be.
              `LatestRestorableTime ${instance.LatestRestorableTime!.toISOString()} is ${minutes(-lag)} ahead of this machine's clock (its clock is behind AWS's): 0 min old (pass ≤ 5 min, warning ≤ 15 min)`
            : `LatestRestorableTime ${instance.LatestRestorableTime!.toISOString()} is ${minutes(lag)} old (pass ≤ 5 min, warning ≤ 15 min)`,
      fix:
        lagStatus === 'pass'
          ? undefined
          : age < PITR_GRACE_MS
            ? 'The first automated backup of a new instance is still running: run cloudmart verify again in a few minutes.'
            : lagStatus === 'warn'
              ? 'Usually transient (transaction logs are uploaded every 5 minutes): run cloudmart verify again later; if it stays, check the instance events in the RDS console.'
              : 'Automated backups are not keeping up: check that backup retention is above 0 (cloudmart up --phase 3) and the instance events in the RDS console.',
    });

    if (database.crossRegionBackup) {
      const replicas = await findReplicas(
        ctx,
        await ctx.aws.get('rds', drRegion),
        instance.DbiResourceId,
      );
      const active = replicas.find(isActive);
      const status = active ? replicationStatus(active) : undefined;
      checks.push({
        id: 'backup.rds.cross-region',
        title: `Automated backups replicated to ${drRegion}`,
        criterion: 'backup',
        status: status === 'replicating' ? 'pass' : status === 'pending' ? 'warn' : 'fail',
        evidence: status
          ? `replicated backup in ${drRegion}: ${status}`
          : `replication off: no replicating automated backup of ${id} in ${drRegion}${replicas.length ? ` (found: ${replicas.map((r) => r.Status ?? '?').join(', ')})` : ''}`,
        fix,
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const {
      DeleteDBInstanceAutomatedBackupCommand,
      StopDBInstanceAutomatedBackupsReplicationCommand,
    } = await rdsSdk();
    const { ScheduleKeyDeletionCommand } = await kmsSdk();
    const { drRegion } = ctx.config;
    const previousKeyArn = previousString(ctx, 'drKeyArn');
    if (!ctx.config.database.crossRegionBackup && !previousKeyArn) return;

    const id =
      ctx.maybeOutputs<RdsOutputs>(STEP.rds)?.dbInstanceIdentifier ??
      previousString(ctx, 'dbInstanceIdentifier');
    const instance = id ? await describeDbInstance(await ctx.aws.get('rds'), id) : undefined;
    const dbiResourceId = instance?.DbiResourceId ?? previousString(ctx, 'dbiResourceId');
    const drRds = await ctx.aws.get('rds', drRegion);

    // 1. Stop the replication (it is managed from the DR region). Every copy that is not
    // already retained is stopped, whatever the spelling or novelty of its status: RDS refuses
    // to delete a copy that still replicates.
    const replicas = await findReplicas(ctx, drRds, dbiResourceId);
    let stopped = false;
    for (const r of replicas.filter(
      (b) => !['retained', 'deleting'].includes(replicationStatus(b)),
    )) {
      const arn =
        r.DBInstanceArn ??
        instance?.DBInstanceArn ??
        (id ? sourceArn(ctx, await ctx.aws.accountId(), id) : undefined);
      if (!arn) continue;
      ctx.progress(`stopping backup replication of ${r.DBInstanceIdentifier ?? id} to ${drRegion}`);
      try {
        await drRds.send(
          new StopDBInstanceAutomatedBackupsReplicationCommand({ SourceDBInstanceArn: arn }),
        );
        stopped = true;
      } catch (e) {
        if (!isNotFound(e) && !isNotReplicating(e)) throw e;
      }
    }
    // After the stop RDS modifies the source instance for a while, and DeleteDBInstance with a
    // final snapshot is refused until it is available again (terraform-provider-aws PR #46687).
    if (stopped && id) await waitSettled(ctx, await ctx.aws.get('rds'), id);

    // 2. Delete the copies in the DR region; RDS refuses while replication is still stopping.
    for (const r of replicas) {
      if (!r.DbiResourceId) continue;
      const dbi = r.DbiResourceId;
      try {
        await retryWhile(
          ctx,
          () => drRds.send(new DeleteDBInstanceAutomatedBackupCommand({ DbiResourceId: dbi })),
          {
            what: `deleting replicated backups ${dbi} in ${drRegion}`,
            when: (e) => /InvalidDBInstanceAutomatedBackupState/i.test((e as Error).name),
            timeoutMs: 15 * 60_000,
          },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      await waitUntil(
        ctx,
        async () => {
          const left = (await findReplicas(ctx, drRds, dbi))[0];
          return { done: !left, status: left?.Status ?? 'deleted' };
        },
        { what: `replicated backups ${dbi} in ${drRegion} to be deleted`, timeoutMs: 15 * 60_000 },
      );
    }

    // 3. The DR key: KMS only schedules deletion, 7 days is the shortest window.
    const kms = await ctx.aws.get('kms', drRegion);
    const alias = drKeyAlias(ctx.config.stack);
    const key =
      (await describeKey(kms, alias)) ??
      (previousKeyArn ? await describeKey(kms, previousKeyArn) : undefined);
    if (key?.KeyId && key.KeyState !== 'PendingDeletion') {
      try {
        await kms.send(
          new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }),
        );
        ctx.warn(
          `KMS key ${alias} in ${drRegion} is scheduled for deletion in 7 days (KMS keys cannot be deleted at once); until then it can be restored with CancelKeyDeletion.`,
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    // A CreateKey whose answer was lost (the SDK retried it) leaves a second tagged key no alias
    // names: schedule every other tagged key of this step too, so none keeps billing.
    for (;;) {
      const stray = await findUnaliasedKey(ctx, kms);
      if (!stray?.KeyId || stray.KeyId === key?.KeyId) break;
      await kms.send(
        new ScheduleKeyDeletionCommand({ KeyId: stray.KeyId, PendingWindowInDays: 7 }),
      );
    }
  },
});
