import { logGroupLeftovers } from '../discover.js';
import type {
  DBInstance,
  ModifyDBInstanceMessage,
  Parameter,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  ignoreNotFound,
  isAlreadyExists,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { allPages } from '../../aws/pages.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { ensureSubnetGroup, sameSet } from './subnet-group.js';
import {
  STEP,
  type KmsOutputs,
  type RdsOutputs,
  type SecurityGroupsOutputs,
  type SubnetsOutputs,
} from '../outputs.js';

const rdsSdk = () => import('@aws-sdk/client-rds');

const CREATE_TIMEOUT_MS = 60 * 60_000;
const DELETE_TIMEOUT_MS = 60 * 60_000;
const FIX = 'cloudmart up --phase 1';

/**
 * States the instance will not leave by itself: waiting for `available` is pointless.
 * (`stopped` needs a StartDBInstance; the others need an operator.)
 */
const STUCK_STATES = new Set([
  'failed',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-parameters',
  'incompatible-restore',
  'inaccessible-encryption-credentials',
  'restore-error',
  'storage-full',
  'stopped',
]);

/** RDS refuses a final snapshot of an instance in these states: only SkipFinalSnapshot works. */
const NO_SNAPSHOT_STATES = new Set([
  'failed',
  'incompatible-network',
  'incompatible-restore',
  'inaccessible-encryption-credentials',
  'restore-error',
]);

/**
 * The engine version when the config names none: majors within RDS standard support for
 * years (MySQL 8.0's ended 2026-07-31; after it RDS bills Extended Support per vCPU-hour).
 */
export const DEFAULT_ENGINE_VERSION = { postgres: '16', mysql: '8.4' } as const;

/**
 * Never enrolled in RDS Extended Support (CreateDBInstance's default enrols, and bills it once
 * the major version leaves standard support): past that date RDS refuses the create instead,
 * which the budget prefers ("Amazon RDS Extended Support", EngineLifecycleSupport).
 */
export const ENGINE_LIFECYCLE = 'open-source-rds-extended-support-disabled';

/** Everything about the database that follows from the config alone (also used by `plan`). */
export interface DbSettings {
  instanceId: string;
  subnetGroupName: string;
  engine: 'postgres' | 'mysql';
  /** What CreateDBInstance gets: the configured version or the engine's major default. */
  engineVersion: string;
  /** DB parameter group family: postgres16, mysql8.0, … */
  family: string;
  parameterGroupName: string;
  /** The parameters cloudmart sets in its group: TLS required and the slow-query log. */
  parameters: Record<string, string>;
  logExports: string[];
}

export function dbSettings(config: Config): DbSettings {
  const { database } = config;
  const engine = database.engine;
  const engineVersion = database.engineVersion ?? DEFAULT_ENGINE_VERSION[engine];
  const [major = '', minor = '0'] = engineVersion.split('.');
  // PostgreSQL 10+ families are named by major version only; MySQL by major.minor.
  const family =
    engine === 'postgres'
      ? `postgres${Number(major) >= 10 ? major : `${major}.${minor}`}`
      : `mysql${major}.${minor}`;
  const parameters: Record<string, string> =
    engine === 'postgres'
      ? { 'rds.force_ssl': '1', log_min_duration_statement: '1000' }
      : {
          // An RDS *instance* parameter group takes 0/1 here (ON/OFF is the Aurora cluster form).
          require_secure_transport: '1',
          slow_query_log: '1',
          long_query_time: '1',
          log_output: 'FILE',
        };
  return {
    instanceId: names.of(config, 'db').toLowerCase(),
    subnetGroupName: names.of(config, 'db-subnets').toLowerCase(),
    engine,
    engineVersion,
    family,
    // Parameter group names take letters, digits and hyphens only: mysql8.0 → mysql8-0.
    parameterGroupName: names.of(config, family.replace(/\./g, '-')).toLowerCase(),
    parameters,
    logExports: engine === 'postgres' ? ['postgresql', 'upgrade'] : ['error', 'slowquery'],
  };
}

/** ON/1 and OFF/0 are the same setting; compare values the way RDS means them. */
function sameValue(a: string | undefined, b: string): boolean {
  const norm = (v: string) => {
    const l = v.trim().toLowerCase();
    return l === 'on' || l === 'true' ? '1' : l === 'off' || l === 'false' ? '0' : l;
  };
  return a !== undefined && norm(a) === norm(b);
}

function tlsParameter(s: DbSettings): string {
  return s.engine === 'postgres' ? 'rds.force_ssl' : 'require_secure_transport';
}

/** The DB instance by identifier, or undefined when there is none (also used by Phase 3). */
export async function describeDbInstance(
  rds: RDSClient,
  id: string,
): Promise<DBInstance | undefined> {
  const { DescribeDBInstancesCommand } = await rdsSdk();
  return (
    await ignoreNotFound(rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))
  )?.DBInstances?.[0];
}

async function findInstance(ctx: StepContext, id: string): Promise<DBInstance | undefined> {
  return describeDbInstance(await ctx.aws.get('rds'), id);
}

/** Parameters of the group that were set by a user (cloudmart), across pages. */
async function userParameters(ctx: StepContext, groupName: string): Promise<Parameter[]> {
  const { paginateDescribeDBParameters } = await rdsSdk();
  const rds = await ctx.aws.get('rds');
  return allPages(
    paginateDescribeDBParameters(
      { client: rds },
      { DBParameterGroupName: groupName, Source: 'user' },
    ),
    (page) => page.Parameters,
  );
}

async function ensureDbSubnetGroup(ctx: StepContext, s: DbSettings, subnetIds: string[]) {
  const { DescribeDBSubnetGroupsCommand, CreateDBSubnetGroupCommand, ModifyDBSubnetGroupCommand } =
    await rdsSdk();
  const rds = await ctx.aws.get('rds');
  const name = s.subnetGroupName;
  const description = `cloudmart ${ctx.config.stack}: RDS in the data subnets`;
  await ensureSubnetGroup(
    ctx,
    {
      what: 'DB subnet group',
      name,
      description,
      describe: async () =>
        (
          (await rds.send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: name })))
            .DBSubnetGroups?.[0]?.Subnets ?? []
        ).map((x) => x.SubnetIdentifier ?? ''),
      create: (tags) =>
        rds.send(
          new CreateDBSubnetGroupCommand({
            DBSubnetGroupName: name,
            DBSubnetGroupDescription: description,
            SubnetIds: subnetIds,
            Tags: tags,
          }),
        ),
      modify: () =>
        rds.send(
          new ModifyDBSubnetGroupCommand({
            DBSubnetGroupName: name,
            DBSubnetGroupDescription: description,
            SubnetIds: subnetIds,
          }),
        ),
    },
    subnetIds,
  );
}

async function ensureParameterGroup(ctx: StepContext, s: DbSettings) {
  const {
    DescribeDBParameterGroupsCommand,
    CreateDBParameterGroupCommand,
    ModifyDBParameterGroupCommand,
  } = await rdsSdk();
  const rds = await ctx.aws.get('rds');
  let family: string | undefined;
  try {
    const out = await rds.send(
      new DescribeDBParameterGroupsCommand({ DBParameterGroupName: s.parameterGroupName }),
    );
    family = out.DBParameterGroups?.[0]?.DBParameterGroupFamily;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (family === undefined) {
    ctx.progress(`creating DB parameter group ${s.parameterGroupName} (${s.family})`);
    try {
      await rds.send(
        new CreateDBParameterGroupCommand({
          DBParameterGroupName: s.parameterGroupName,
          DBParameterGroupFamily: s.family,
          Description: `cloudmart ${ctx.config.stack}: TLS required, slow queries logged`,
          Tags: ctx.tags.list(s.parameterGroupName),
        }),
      );
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  } else if (family !== s.family) {
    throw new CloudmartError(
      'AWS_ERROR',
      `DB parameter group ${s.parameterGroupName} is of family ${family}, not ${s.family}`,
      { hint: `Delete the parameter group (or fix database.engineVersion), then run ${FIX}.` },
    );
  }

  const current = new Map(
    (await userParameters(ctx, s.parameterGroupName)).map((p) => [p.ParameterName, p]),
  );
  const changes = Object.entries(s.parameters)
    .filter(([name, value]) => !sameValue(current.get(name)?.ParameterValue, value))
    // All of these are dynamic parameters: they apply without a reboot.
    .map(([name, value]) => ({
      ParameterName: name,
      ParameterValue: value,
      ApplyMethod: 'immediate' as const,
    }));
  if (changes.length > 0) {
    ctx.progress(
      `DB parameter group ${s.parameterGroupName}: setting ${changes.map((c) => `${c.ParameterName}=${c.ParameterValue}`).join(', ')}`,
    );
    await rds.send(
      new ModifyDBParameterGroupCommand({
        DBParameterGroupName: s.parameterGroupName,
        Parameters: changes,
      }),
    );
  }
}

interface Wanted {
  settings: DbSettings;
  keyArn: string;
  dbSgId: string;
}

/** The ModifyDBInstance fields that differ from what the config wants (empty: converged). */
function drift(
  ctx: StepContext,
  db: DBInstance,
  w: Wanted,
): { input: Partial<ModifyDBInstanceMessage>; what: string[] } {
  const d = ctx.config.database;
  const input: Partial<ModifyDBInstanceMessage> = {};
  const what: string[] = [];
  const note = (field: string, from: unknown, to: unknown) =>
    what.push(`${field} ${String(from)}→${String(to)}`);

  if ((db.MultiAZ ?? false) !== d.multiAz) {
    input.MultiAZ = d.multiAz;
    note('MultiAZ', db.MultiAZ, d.multiAz);
  }
  if (db.BackupRetentionPeriod !== d.backupRetentionDays) {
    input.BackupRetentionPeriod = d.backupRetentionDays;
    note('BackupRetentionPeriod', db.BackupRetentionPeriod, d.backupRetentionDays);
  }
  if (db.PreferredBackupWindow !== d.backupWindow) {
    input.PreferredBackupWindow = d.backupWindow;
    note('PreferredBackupWindow', db.PreferredBackupWindow, d.backupWindow);
  }
  if (db.PreferredMaintenanceWindow?.toLowerCase() !== d.maintenanceWindow.toLowerCase()) {
    input.PreferredMaintenanceWindow = d.maintenanceWindow;
    note('PreferredMaintenanceWindow', db.PreferredMaintenanceWindow, d.maintenanceWindow);
  }
  if ((db.DeletionProtection ?? false) !== d.deletionProtection) {
    input.DeletionProtection = d.deletionProtection;
    note('DeletionProtection', db.DeletionProtection, d.deletionProtection);
  }
  if (db.PubliclyAccessible !== false) {
    input.PubliclyAccessible = false;
    note('PubliclyAccessible', db.PubliclyAccessible, false);
  }
  if (db.CopyTagsToSnapshot !== true) {
    input.CopyTagsToSnapshot = true;
    note('CopyTagsToSnapshot', db.CopyTagsToSnapshot, true);
  }
  const sgs = (db.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? '');
  if (!sameSet(sgs, [w.dbSgId])) {
    input.VpcSecurityGroupIds = [w.dbSgId];
    note('VpcSecurityGroupIds', sgs.join(',') || 'none', w.dbSgId);
  }
  const pg = db.DBParameterGroups?.[0]?.DBParameterGroupName;
  if (pg !== w.settings.parameterGroupName) {
    input.DBParameterGroupName = w.settings.parameterGroupName;
    note('DBParameterGroupName', pg, w.settings.parameterGroupName);
  }
  const exported = db.EnabledCloudwatchLogsExports ?? [];
  const missing = w.settings.logExports.filter((l) => !exported.includes(l));
  if (missing.length > 0) {
    // Only enable what is missing: log types someone added on purpose stay.
    input.CloudwatchLogsExportConfiguration = { EnableLogTypes: missing };
    note(
      'EnabledCloudwatchLogsExports',
      exported.join('+') || 'none',
      w.settings.logExports.join('+'),
    );
  }
  if (!db.MasterUserSecret?.SecretArn) {
    input.ManageMasterUserPassword = true;
    input.MasterUserSecretKmsKeyId = w.keyArn;
    note('ManageMasterUserPassword', false, true);
  }
  return { input, what };
}

/**
 * Wait until the instance is `available`. After a ModifyDBInstance pass `shows`, what the
 * change looks like once applied: RDS can still describe the instance as it was (`available`,
 * the old values) for a moment before it turns `modifying`, so the first `available` proves
 * nothing. The wait then ends once the instance is available and shows the change, or has been
 * through another state since and is back. (terraform-provider-aws guards the same race after
 * a modify by waiting a minute, then for three `available` reads in a row:
 * internal/service/rds/instance.go, waitDBInstanceAvailable, ContinuousTargetOccurence 3.)
 */
export async function waitAvailable(
  ctx: StepContext,
  id: string,
  shows?: (db: DBInstance) => boolean,
): Promise<DBInstance> {
  const start = ctx.now();
  let last: DBInstance | undefined;
  let left = false;
  await waitUntil(
    ctx,
    async () => {
      last = await findInstance(ctx, id);
      const status = last?.DBInstanceStatus ?? 'not visible yet';
      // A just-created instance can take a moment to show up; one that stays gone was deleted.
      if (!last && ctx.now() - start > 120_000) return { done: false, status, failed: 'gone' };
      if (last && STUCK_STATES.has(status)) return { done: false, status, failed: status };
      if (last && status !== 'available') left = true;
      if (last && status === 'available' && shows && !left && !shows(last)) {
        return { done: false, status: 'available, the change not visible yet' };
      }
      return { done: status === 'available', status };
    },
    { what: `RDS ${id}`, minDelayMs: 5_000, maxDelayMs: 15_000, timeoutMs: CREATE_TIMEOUT_MS },
  );
  return last!;
}

async function waitGone(ctx: StepContext, id: string): Promise<void> {
  await waitUntil(
    ctx,
    async () => {
      const db = await findInstance(ctx, id);
      return { done: !db, status: db?.DBInstanceStatus ?? 'deleted' };
    },
    { what: `RDS ${id}`, minDelayMs: 5_000, maxDelayMs: 15_000, timeoutMs: DELETE_TIMEOUT_MS },
  );
}

function isInvalidInstanceState(e: unknown): boolean {
  return (e as Error | null)?.name === 'InvalidDBInstanceStateFault';
}

/** "2023-11-14T22:13:20.000Z" → "20231114221320": snapshot ids take letters, digits, hyphens. */
function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\D/g, '').slice(0, 14);
}

function outputsOf(db: DBInstance, s: DbSettings): RdsOutputs {
  const secretArn = db.MasterUserSecret?.SecretArn;
  if (!db.Endpoint?.Address || !db.DBInstanceArn || !secretArn) {
    throw new CloudmartError(
      'AWS_ERROR',
      `RDS ${s.instanceId} is available but reports no ${!db.Endpoint?.Address ? 'endpoint' : !db.DBInstanceArn ? 'ARN' : 'master user secret'}`,
      { hint: `Run ${FIX} again in a minute.` },
    );
  }
  return {
    dbInstanceIdentifier: db.DBInstanceIdentifier ?? s.instanceId,
    dbInstanceArn: db.DBInstanceArn,
    endpoint: db.Endpoint.Address,
    port: db.Endpoint.Port ?? (s.engine === 'postgres' ? 5432 : 3306),
    engine: db.Engine ?? s.engine,
    dbName: db.DBName ?? '',
    masterUserSecretArn: secretArn,
    dbSubnetGroupName: db.DBSubnetGroup?.DBSubnetGroupName ?? s.subnetGroupName,
    parameterGroupName: s.parameterGroupName,
  };
}

export const rdsDatabaseStep = defineStep<RdsOutputs>({
  id: STEP.rds,
  phase: 1,
  title: 'RDS database (Multi-AZ)',
  needs: [STEP.subnets, STEP.securityGroups, STEP.kms],
  actions: [
    'rds:DescribeDBSubnetGroups',
    'rds:CreateDBSubnetGroup',
    'rds:ModifyDBSubnetGroup',
    'rds:DeleteDBSubnetGroup',
    'rds:DescribeDBParameterGroups',
    'rds:DescribeDBParameters',
    'rds:CreateDBParameterGroup',
    'rds:ModifyDBParameterGroup',
    'rds:DeleteDBParameterGroup',
    'rds:DescribeDBInstances',
    'rds:CreateDBInstance',
    'rds:ModifyDBInstance',
    'rds:DeleteDBInstance',
    'rds:CreateDBSnapshot',
    'rds:AddTagsToResource',
    // Encryption with the stack's key and the RDS-managed master password secret.
    'kms:DescribeKey',
    'kms:CreateGrant',
    'kms:Decrypt',
    'kms:GenerateDataKey',
    'secretsmanager:CreateSecret',
    'secretsmanager:TagResource',
    // The first RDS instance of an account creates the AWSServiceRoleForRDS role.
    'iam:CreateServiceLinkedRole',
  ],
  describe: (config) => {
    const s = dbSettings(config);
    const d = config.database;
    return [
      `DB subnet group ${s.subnetGroupName} over the data subnets ${config.network.dataSubnets.join(', ')}`,
      `DB parameter group ${s.parameterGroupName} (${s.family}): ${Object.entries(s.parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
      `RDS ${s.engine} ${s.engineVersion} ${d.instanceClass} ${s.instanceId}: ${d.multiAz ? 'Multi-AZ' : 'single-AZ'}, ${d.allocatedStorageGiB} GiB gp3 encrypted with the stack KMS key, master password managed by RDS in Secrets Manager, not public`,
      `  backups ${d.backupRetentionDays} days in ${d.backupWindow} UTC, maintenance ${d.maintenanceWindow}, logs ${s.logExports.join(' + ')} to CloudWatch Logs, deletion protection ${d.deletionProtection ? 'on' : 'off'} (~15 min)`,
    ];
  },

  discover: {
    what: 'RDS log groups',
    // RDS creates its export groups untagged, named after the instance id it stores in lower case.
    find: (aws, config) =>
      logGroupLeftovers(aws, config, `/aws/rds/instance/${dbSettings(config).instanceId}/`),
    // destroy never deletes a final snapshot: it exists only because destroy.finalSnapshot was on.
    keeps: (_aws, config, listed) => {
      const id = listed.arn.split(':').slice(6).join(':');
      return Promise.resolve(
        listed.type === 'rds:snapshot' && id.startsWith(`${dbSettings(config).instanceId}-final-`)
          ? `final snapshot ${id} kept on purpose (destroy.finalSnapshot); it bills until you delete it`
          : undefined,
      );
    },
  },
  async create(ctx) {
    const { CreateDBInstanceCommand, ModifyDBInstanceCommand } = await rdsSdk();
    const rds = await ctx.aws.get('rds');
    const s = dbSettings(ctx.config);
    const d = ctx.config.database;
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const { dbSgId } = ctx.outputs<SecurityGroupsOutputs>(STEP.securityGroups);
    const { keyArn } = ctx.outputs<KmsOutputs>(STEP.kms);

    await ensureDbSubnetGroup(ctx, s, subnets.dataSubnetIds);
    await ensureParameterGroup(ctx, s);

    let db = await findInstance(ctx, s.instanceId);
    if (db?.DBInstanceStatus === 'deleting') {
      // A destroy is still running: let it finish, then build a fresh instance.
      ctx.progress(`RDS ${s.instanceId} is being deleted; waiting before re-creating it`);
      await waitGone(ctx, s.instanceId);
      db = undefined;
    }
    let created = false;
    if (!db) {
      ctx.progress(
        `creating RDS ${s.instanceId} (${s.engine} ${s.engineVersion}, ${d.multiAz ? 'Multi-AZ' : 'single-AZ'}): ~15 min`,
      );
      try {
        await rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: s.instanceId,
            Engine: s.engine,
            EngineVersion: s.engineVersion,
            EngineLifecycleSupport: ENGINE_LIFECYCLE,
            DBInstanceClass: d.instanceClass,
            AllocatedStorage: d.allocatedStorageGiB,
            StorageType: 'gp3',
            MultiAZ: d.multiAz,
            StorageEncrypted: true,
            KmsKeyId: keyArn,
            DBName: d.dbName,
            MasterUsername: d.masterUsername,
            // RDS generates the password and keeps it in Secrets Manager; cloudmart never sees it.
            ManageMasterUserPassword: true,
            MasterUserSecretKmsKeyId: keyArn,
            PubliclyAccessible: false,
            VpcSecurityGroupIds: [dbSgId],
            DBSubnetGroupName: s.subnetGroupName,
            DBParameterGroupName: s.parameterGroupName,
            BackupRetentionPeriod: d.backupRetentionDays,
            PreferredBackupWindow: d.backupWindow,
            PreferredMaintenanceWindow: d.maintenanceWindow,
            CopyTagsToSnapshot: true,
            EnableCloudwatchLogsExports: s.logExports,
            DeletionProtection: d.deletionProtection,
            AutoMinorVersionUpgrade: true,
            Tags: ctx.tags.list(s.instanceId),
          }),
        );
        created = true;
      } catch (e) {
        // CreateDBInstance has no client token; the deterministic identifier is the guard.
        if (!isAlreadyExists(e)) throw e;
      }
    }

    // An adopted instance that is already available needs no wait (and no second describe).
    db =
      !created && db?.DBInstanceStatus === 'available'
        ? db
        : await waitAvailable(ctx, s.instanceId);

    if (!created) {
      if (db.StorageEncrypted !== true) {
        ctx.warn(
          `RDS ${s.instanceId} is not encrypted at rest, and encryption cannot be turned on in place: snapshot it, copy the snapshot with the stack KMS key, restore from the copy (or destroy and re-create the database)`,
        );
      }
      const { input, what } = drift(ctx, db, { settings: s, keyArn, dbSgId });
      if (what.length > 0) {
        ctx.progress(`RDS ${s.instanceId}: converging ${what.join(', ')}`);
        await rds.send(
          new ModifyDBInstanceCommand({
            DBInstanceIdentifier: s.instanceId,
            ApplyImmediately: true,
            ...input,
          }),
        );
        if (input.DBParameterGroupName) {
          ctx.warn(
            `RDS ${s.instanceId} now uses parameter group ${s.parameterGroupName}; it takes full effect after a reboot (aws rds reboot-db-instance --db-instance-identifier ${s.instanceId})`,
          );
        }
        const wanted = { settings: s, keyArn, dbSgId };
        db = await waitAvailable(
          ctx,
          s.instanceId,
          (now) => drift(ctx, now, wanted).what.length === 0,
        );
      }
    }
    return outputsOf(db, s);
  },

  async verify(ctx) {
    const s = dbSettings(ctx.config);
    const d = ctx.config.database;
    const id = previousStrings(ctx).dbInstanceIdentifier ?? s.instanceId;
    const db = await findInstance(ctx, id);
    if (!db) {
      return [
        {
          id: 'data.rds.exists',
          title: 'RDS instance exists',
          criterion: 'rds-multi-az',
          status: 'fail',
          evidence: `no DB instance ${id}`,
          fix: FIX,
        },
      ];
    }
    const keyArn = ctx.maybeOutputs<KmsOutputs>(STEP.kms)?.keyArn;
    const dataSubnets = ctx.maybeOutputs<SubnetsOutputs>(STEP.subnets)?.dataSubnetIds;
    const status = db.DBInstanceStatus ?? '?';
    const checks: Check[] = [
      {
        id: 'data.rds.exists',
        title: 'RDS instance is available',
        criterion: 'rds-multi-az',
        status: status === 'available' ? 'pass' : STUCK_STATES.has(status) ? 'fail' : 'warn',
        evidence: `${id} ${db.Engine ?? '?'} ${db.EngineVersion ?? '?'} ${status}`,
        fix: FIX,
      },
    ];

    const multiAz = db.MultiAZ === true && !!db.SecondaryAvailabilityZone;
    checks.push({
      id: 'data.rds.multi-az',
      title: 'RDS is Multi-AZ with a standby in a second AZ',
      criterion: 'rds-multi-az',
      status: multiAz ? 'pass' : 'fail',
      evidence: `MultiAZ=${String(db.MultiAZ ?? false)} primary=${db.AvailabilityZone ?? '?'} standby=${db.SecondaryAvailabilityZone ?? 'none'}`,
      fix: d.multiAz ? FIX : `set database.multiAz: true, then ${FIX}`,
    });

    const encrypted = db.StorageEncrypted === true;
    const keyOk = keyArn === undefined ? undefined : sameKey(db.KmsKeyId, keyArn);
    checks.push({
      id: 'data.rds.encrypted',
      title: 'RDS storage encrypted with the stack KMS key',
      criterion: 'encryption',
      status: !encrypted
        ? 'fail'
        : keyOk === false
          ? 'fail'
          : keyOk === undefined
            ? 'warn'
            : 'pass',
      evidence: `StorageEncrypted=${String(encrypted)} KmsKeyId=${db.KmsKeyId ?? 'none'}${keyArn ? ` (stack key ${keyArn})` : ' (stack key unknown)'}`,
      fix: 'encryption can only be chosen at creation: snapshot the instance, copy the snapshot with the stack KMS key, restore from the encrypted copy (or "cloudmart destroy" and "cloudmart up --phase 1" to re-create it)',
    });

    checks.push({
      id: 'data.rds.private',
      title: 'RDS is not publicly accessible',
      criterion: 'security-design',
      status: db.PubliclyAccessible === false ? 'pass' : 'fail',
      evidence: `PubliclyAccessible=${String(db.PubliclyAccessible)}`,
      fix: FIX,
    });

    const inSubnets = (db.DBSubnetGroup?.Subnets ?? []).map((x) => x.SubnetIdentifier ?? '');
    checks.push({
      id: 'data.rds.subnets',
      title: 'RDS is in the private data subnets',
      criterion: 'security-design',
      status:
        dataSubnets === undefined ? 'unknown' : sameSet(inSubnets, dataSubnets) ? 'pass' : 'fail',
      evidence: `subnet group ${db.DBSubnetGroup?.DBSubnetGroupName ?? '?'}: ${inSubnets.join(', ') || 'none'}${dataSubnets ? `; data subnets ${dataSubnets.join(', ')}` : ''}`,
      fix: FIX,
    });

    const pg = db.DBParameterGroups?.[0];
    const tls = tlsParameter(s);
    let tlsValue: string | undefined;
    if (pg?.DBParameterGroupName) {
      try {
        tlsValue = (await userParameters(ctx, pg.DBParameterGroupName)).find(
          (p) => p.ParameterName === tls,
        )?.ParameterValue;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    checks.push({
      id: 'data.rds.tls',
      title: 'RDS requires TLS for every connection',
      criterion: 'encryption',
      status: sameValue(tlsValue, '1') ? 'pass' : 'fail',
      evidence: `parameter group ${pg?.DBParameterGroupName ?? 'none'} (${pg?.ParameterApplyStatus ?? '?'}): ${tls}=${tlsValue ?? 'default'}`,
      fix: FIX,
    });

    const retention = db.BackupRetentionPeriod ?? 0;
    checks.push({
      id: 'data.rds.backup-retention',
      title: `RDS automated backups kept ${d.backupRetentionDays} days`,
      criterion: 'backup',
      status: retention >= d.backupRetentionDays ? 'pass' : 'fail',
      evidence: `BackupRetentionPeriod=${retention}`,
      fix: FIX,
    });
    checks.push({
      id: 'data.rds.backup-window',
      title: `RDS backup window ${d.backupWindow} UTC, maintenance outside it`,
      criterion: 'backup',
      status:
        db.PreferredBackupWindow === d.backupWindow &&
        db.PreferredMaintenanceWindow?.toLowerCase() === d.maintenanceWindow.toLowerCase()
          ? 'pass'
          : 'fail',
      evidence: `PreferredBackupWindow=${db.PreferredBackupWindow ?? '?'} PreferredMaintenanceWindow=${db.PreferredMaintenanceWindow ?? '?'}`,
      fix: FIX,
    });

    const exported = db.EnabledCloudwatchLogsExports ?? [];
    const missing = s.logExports.filter((l) => !exported.includes(l));
    checks.push({
      id: 'data.rds.log-exports',
      title: `RDS exports ${s.logExports.join(' and ')} logs to CloudWatch Logs`,
      criterion: 'other',
      status: missing.length === 0 ? 'pass' : 'fail',
      evidence: `EnabledCloudwatchLogsExports=${exported.join(',') || 'none'}`,
      fix: FIX,
    });

    const secret = db.MasterUserSecret;
    checks.push({
      id: 'data.rds.master-secret',
      title: 'RDS master password managed in Secrets Manager',
      criterion: 'security-design',
      status: secret?.SecretArn
        ? keyArn !== undefined && !sameKey(secret.KmsKeyId, keyArn)
          ? 'warn'
          : 'pass'
        : 'fail',
      evidence: secret?.SecretArn
        ? `secret ${secret.SecretArn} (${secret.SecretStatus ?? '?'}) encrypted with ${secret.KmsKeyId ?? '?'}`
        : 'ManageMasterUserPassword is off',
      fix: FIX,
    });

    checks.push({
      id: 'data.rds.deletion-protection',
      title: `RDS deletion protection ${d.deletionProtection ? 'on' : 'off'} as configured`,
      criterion: 'other',
      status: (db.DeletionProtection ?? false) === d.deletionProtection ? 'pass' : 'warn',
      evidence: `DeletionProtection=${String(db.DeletionProtection ?? false)}`,
      fix: FIX,
    });
    return checks;
  },

  async teardown(ctx) {
    const {
      ModifyDBInstanceCommand,
      DeleteDBInstanceCommand,
      DeleteDBSubnetGroupCommand,
      DeleteDBParameterGroupCommand,
    } = await rdsSdk();
    const rds = await ctx.aws.get('rds');
    const s = dbSettings(ctx.config);
    const prev = previousStrings(ctx);
    const id = prev.dbInstanceIdentifier ?? s.instanceId;

    const db = await findInstance(ctx, id);
    if (db && db.DBInstanceStatus !== 'deleting') {
      if (db.DeletionProtection) {
        ctx.progress(`RDS ${id}: turning deletion protection off`);
        await retryWhile(
          ctx,
          () =>
            rds.send(
              new ModifyDBInstanceCommand({
                DBInstanceIdentifier: id,
                DeletionProtection: false,
                ApplyImmediately: true,
              }),
            ),
          { what: `RDS ${id}`, when: isInvalidInstanceState, timeoutMs: DELETE_TIMEOUT_MS },
        );
        await waitUntil(
          ctx,
          async () => {
            const now = await findInstance(ctx, id);
            return {
              done: !now || now.DeletionProtection === false,
              status: `deletion protection ${now?.DeletionProtection ? 'on' : 'off'}`,
            };
          },
          { what: `RDS ${id}`, timeoutMs: 10 * 60_000 },
        );
      }

      const status = db.DBInstanceStatus ?? '';
      const keepSnapshot = ctx.config.destroy.finalSnapshot;
      const canSnapshot = !NO_SNAPSHOT_STATES.has(status);
      const snapshotId = `${id}-final-${timestamp(ctx.now())}`;
      if (keepSnapshot && !canSnapshot) {
        ctx.warn(
          `RDS ${id} is ${status}: RDS only deletes it without a final snapshot, so none is kept`,
        );
      }
      const withSnapshot = keepSnapshot && canSnapshot;
      ctx.progress(
        `deleting RDS ${id}${withSnapshot ? ` with final snapshot ${snapshotId}` : ' without a final snapshot'}`,
      );
      try {
        // Deletes are refused while the instance is creating, modifying or backing up: wait it out.
        await retryWhile(
          ctx,
          () =>
            rds.send(
              new DeleteDBInstanceCommand({
                DBInstanceIdentifier: id,
                ...(withSnapshot
                  ? { FinalDBSnapshotIdentifier: snapshotId, DeleteAutomatedBackups: false }
                  : { SkipFinalSnapshot: true, DeleteAutomatedBackups: !keepSnapshot }),
              }),
            ),
          {
            what: `RDS ${id}`,
            when: (e) =>
              isInvalidInstanceState(e) && !/already being deleted/i.test((e as Error).message),
            timeoutMs: DELETE_TIMEOUT_MS,
          },
        );
      } catch (e) {
        if (!isNotFound(e) && !/already being deleted/i.test((e as Error).message)) throw e;
      }
      if (withSnapshot) {
        ctx.warn(
          `final snapshot ${snapshotId} of RDS ${id} is kept and bills until you delete it (aws rds delete-db-snapshot --db-snapshot-identifier ${snapshotId}); it is encrypted with the stack KMS key, which destroy therefore keeps too (about $1/month)`,
        );
      }
    }
    // The subnet group and the parameter group stay in use until the instance is gone.
    if (db) await waitGone(ctx, id);

    const subnetGroup = prev.dbSubnetGroupName ?? s.subnetGroupName;
    await deleteIgnoringNotFound(ctx, `DB subnet group ${subnetGroup}`, () =>
      rds.send(new DeleteDBSubnetGroupCommand({ DBSubnetGroupName: subnetGroup })),
    );
    const groups = new Set([s.parameterGroupName]);
    if (prev.parameterGroupName) groups.add(prev.parameterGroupName);
    for (const group of groups) {
      await deleteIgnoringNotFound(ctx, `DB parameter group ${group}`, () =>
        rds.send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: group })),
      );
    }
  },
});

async function deleteIgnoringNotFound(
  ctx: StepContext,
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  try {
    await retryWhile(ctx, fn, {
      what: `deleting ${what}`,
      when: (e) =>
        isDependencyViolation(e) || /InvalidDBParameterGroupState/.test((e as Error).name),
      timeoutMs: 10 * 60_000,
    });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** A key ARN and a key id (or alias-free ARN) name the same key when their ids match. */
function sameKey(actual: string | undefined, wanted: string): boolean {
  if (!actual) return false;
  const id = (v: string) => v.split('/').pop() ?? v;
  return actual === wanted || id(actual) === id(wanted);
}

/** String fields of this step's outputs in the state file (which is JSON: trust no type). */
function previousStrings(ctx: StepContext): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(ctx.previous ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]),
  );
}
