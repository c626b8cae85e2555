/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, page, tagMap } from '../util.js';
import type { World } from '../world.js';
import { createEni, EC2_TYPES, releaseEnis } from './ec2.js';
import { createLogGroupIfMissing } from './logs.js';
import { createManagedSecret, deleteManagedSecret } from './secretsmanager.js';
import { date, findKey, usableKey } from './shared.js';

/**
 * RDS: subnet groups, parameter groups (with the engines' parameter names), Multi-AZ
 * instances (creating → backing-up → available, modifying, deleting → gone, with their
 * network interfaces, the managed master-password secret and the log groups they export to),
 * manual snapshots, and automated-backup replication to another region.
 */

const T = {
  db: 'rds:db',
  subnetGroup: 'rds:subgrp',
  paramGroup: 'rds:pg',
  snapshot: 'rds:snapshot',
  autoBackup: 'rds:auto-backup',
} as const;
export const RDS_TYPES = T;

/** How many describes after a ModifyDBInstance still show the instance as it was. */
const STALE_READS_AFTER_MODIFY = 1;

const KNOWN_PARAMETERS: Record<string, string[]> = {
  postgres: [
    'rds.force_ssl',
    'log_min_duration_statement',
    'log_statement',
    'log_connections',
    'log_disconnections',
    'max_connections',
    'shared_preload_libraries',
    'work_mem',
    'ssl_min_protocol_version',
  ],
  mysql: [
    'require_secure_transport',
    'slow_query_log',
    'long_query_time',
    'log_output',
    'general_log',
    'max_connections',
    'tls_version',
  ],
};

/**
 * End of RDS standard support per engine major ("Supported MySQL major versions on Amazon RDS",
 * the RDS for PostgreSQL release calendar). After it an instance enrolled in Extended Support
 * (CreateDBInstance's default) bills extra; one created with
 * `open-source-rds-extended-support-disabled` is refused.
 */
const END_OF_STANDARD_SUPPORT: Record<string, number> = {
  'postgres:13': Date.UTC(2026, 1, 28),
  'postgres:14': Date.UTC(2027, 1, 28),
  'postgres:15': Date.UTC(2028, 1, 29),
  'postgres:16': Date.UTC(2029, 1, 28),
  'postgres:17': Date.UTC(2030, 1, 28),
  'mysql:5.7': Date.UTC(2024, 1, 29),
  'mysql:8.0': Date.UTC(2026, 6, 31),
  'mysql:8.4': Date.UTC(2029, 6, 31),
};

const DEFAULT_VERSIONS: Record<string, string> = {
  '16': '16.4',
  '15': '15.8',
  '14': '14.13',
  '17': '17.2',
  '8.0': '8.0.39',
  '8.4': '8.4.3',
};

function familyEngine(family: string): string | undefined {
  if (/^postgres\d+(\.\d+)?$/.test(family)) return 'postgres';
  if (/^mysql\d\.\d$/.test(family)) return 'mysql';
  return undefined;
}

export function rdsService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('rds', code, message);

  const instance = (region: string, id: string): Resource => {
    const r = w.live(T.db, region, String(id).toLowerCase());
    if (!r) throw err('DBInstanceNotFoundFault', `DBInstance ${String(id)} not found.`);
    return r;
  };

  function subnetGroupShape(r: Resource): In {
    return {
      DBSubnetGroupName: r.id,
      DBSubnetGroupDescription: r.data.description,
      VpcId: r.data.vpcId,
      SubnetGroupStatus: 'Complete',
      Subnets: (r.data.subnets as string[]).map((s) => ({
        SubnetIdentifier: s,
        SubnetAvailabilityZone: { Name: w.get(EC2_TYPES.subnet, r.region, s)?.data.az },
        SubnetOutpost: {},
        SubnetStatus: 'Active',
      })),
      DBSubnetGroupArn: r.arn,
      SupportedNetworkTypes: ['IPV4'],
    };
  }

  function instanceShape(r: Resource): In {
    const d = r.data;
    const sg = w.get(T.subnetGroup, r.region, d.subnetGroup as string);
    const available = !['creating'].includes(r.state);
    return {
      DBInstanceIdentifier: r.id,
      DBInstanceArn: r.arn,
      DbiResourceId: d.dbiResourceId,
      DBInstanceClass: d.instanceClass,
      Engine: d.engine,
      EngineVersion: d.engineVersion,
      DBInstanceStatus: r.state,
      MasterUsername: d.masterUsername,
      DBName: d.dbName,
      ...(available && d.endpoint
        ? { Endpoint: { Address: d.endpoint, Port: d.port, HostedZoneId: 'ZLA2NUCOLGUUR' } }
        : {}),
      AllocatedStorage: d.allocatedStorage,
      StorageType: d.storageType,
      ...(d.instanceCreateTime ? { InstanceCreateTime: date(d.instanceCreateTime as number) } : {}),
      PreferredBackupWindow: d.backupWindow,
      BackupRetentionPeriod: d.backupRetention,
      VpcSecurityGroups: (d.securityGroups as string[]).map((g) => ({
        VpcSecurityGroupId: g,
        Status: 'active',
      })),
      DBParameterGroups: [
        { DBParameterGroupName: d.parameterGroup, ParameterApplyStatus: d.parameterApplyStatus },
      ],
      AvailabilityZone: d.az,
      DBSubnetGroup: sg ? subnetGroupShape(sg) : { DBSubnetGroupName: d.subnetGroup },
      PreferredMaintenanceWindow: d.maintenanceWindow,
      PendingModifiedValues: {},
      ...(latestRestorable(r) !== undefined
        ? { LatestRestorableTime: date(latestRestorable(r)) }
        : {}),
      MultiAZ: d.multiAz === true,
      ...(d.multiAz && d.secondaryAz ? { SecondaryAvailabilityZone: d.secondaryAz } : {}),
      AutoMinorVersionUpgrade: d.autoMinorVersionUpgrade !== false,
      PubliclyAccessible: d.publiclyAccessible === true,
      StorageEncrypted: d.storageEncrypted === true,
      ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
      CopyTagsToSnapshot: d.copyTagsToSnapshot === true,
      EnabledCloudwatchLogsExports: [...(d.logExports as string[])],
      DeletionProtection: d.deletionProtection === true,
      EngineLifecycleSupport: d.engineLifecycleSupport ?? 'open-source-rds-extended-support',
      ...(d.secretArn
        ? {
            MasterUserSecret: {
              SecretArn: d.secretArn,
              SecretStatus: 'active',
              KmsKeyId: d.secretKmsKeyId,
            },
          }
        : {}),
      DBInstanceAutomatedBackupsReplications: ((d.replications ?? []) as string[]).map((a) => ({
        DBInstanceAutomatedBackupsArn: a,
      })),
      TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
      NetworkType: 'IPV4',
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    };
  }

  /**
   * What DescribeDBInstances answers. Right after a ModifyDBInstance RDS can still describe the
   * instance as it was — `available`, the old settings — before it shows `modifying` (the race
   * terraform-provider-aws waits out with three `available` reads in a row after a modify,
   * internal/service/rds/instance.go): the first STALE_READS_AFTER_MODIFY describes answer that.
   */
  function describedShape(r: Resource): In {
    const stale = r.data.staleView as { data: Resource['data']; reads: number } | undefined;
    if (!stale) return instanceShape(r);
    if (stale.reads <= 0 || ['deleting', 'rebooting'].includes(r.state)) {
      delete r.data.staleView;
      return instanceShape(r);
    }
    stale.reads -= 1;
    return instanceShape({ ...r, state: 'available', data: stale.data });
  }

  /** PITR: the newest restorable point trails "now" by a few minutes once backups run. */
  function latestRestorable(r: Resource): number | undefined {
    const first = r.data.firstBackupAt as number | undefined;
    if (!first || (r.data.backupRetention as number) <= 0 || w.now() < first) return undefined;
    return Math.max(first, w.now() - 2 * 60_000);
  }

  function snapshotShape(r: Resource): In {
    const d = r.data;
    return {
      DBSnapshotIdentifier: r.id,
      DBInstanceIdentifier: d.instanceId,
      DBSnapshotArn: r.arn,
      SnapshotCreateTime: date(r.createdAt),
      Engine: d.engine,
      EngineVersion: d.engineVersion,
      AllocatedStorage: d.allocatedStorage,
      Status: r.state,
      PercentProgress: r.state === 'available' ? 100 : 0,
      Port: d.port,
      AvailabilityZone: d.az,
      VpcId: d.vpcId,
      MasterUsername: d.masterUsername,
      SnapshotType: d.snapshotType,
      Encrypted: d.encrypted === true,
      ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
      DbiResourceId: d.dbiResourceId,
      TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
    };
  }

  /**
   * RDS spells the replication states both ways: "Pending"/"Replicating" as well as
   * "pending"/"replicating" (terraform-provider-aws #32597, #33362; it compares them
   * case-insensitively since PR #33369). The fake answers StartDBInstanceAutomatedBackups-
   * Replication in lower case and describes in title case, so a case-sensitive client fails.
   */
  function autoBackupShape(r: Resource, spelling: 'lower' | 'title' = 'title'): In {
    const d = r.data;
    const status =
      spelling === 'title' && ['pending', 'replicating'].includes(r.state)
        ? r.state[0]!.toUpperCase() + r.state.slice(1)
        : r.state;
    return {
      DBInstanceArn: d.sourceArn,
      DbiResourceId: d.dbiResourceId,
      Region: d.sourceRegion,
      DBInstanceIdentifier: d.instanceId,
      Status: status,
      Engine: d.engine,
      EngineVersion: d.engineVersion,
      AllocatedStorage: d.allocatedStorage,
      Encrypted: true,
      KmsKeyId: d.kmsKeyId,
      BackupRetentionPeriod: d.retention,
      DBInstanceAutomatedBackupsArn: r.arn,
      InstanceCreateTime: date(r.createdAt),
      RestoreWindow: { EarliestTime: date(r.createdAt), LatestTime: date(w.now()) },
      TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
    };
  }

  w.onEvent('rds.available', (r) => {
    r.data.instanceCreateTime ??= r.createdAt;
    r.data.endpoint ??= `${r.id}.c${w.rng.chars(11, 'abcdefghijklmnopqrstuvwxyz0123456789')}.${r.region}.rds.amazonaws.com`;
    // RDS creates the groups it exports into (untagged, no retention) unless they exist.
    // (The upgrade log only gets a group when an engine upgrade writes one.)
    for (const t of (r.data.logExports as string[]).filter((x) => x !== 'upgrade')) {
      createLogGroupIfMissing(w, r.region, `/aws/rds/instance/${r.id}/${t}`);
    }
  });
  w.onEvent('rds.backedup', (r) => {
    r.data.firstBackupAt ??= w.now();
  });
  w.onEvent('rds.gone', (r) => {
    releaseEnis(w, r.region, `rds:${r.id}`, w.t('eniRelease'));
    if (r.data.secretArn) deleteManagedSecret(w, r.region, r.data.secretArn as string);
    for (const b of w.find(
      T.autoBackup,
      undefined,
      (x) => x.data.sourceArn === r.arn && ['pending', 'replicating'].includes(x.state),
    )) {
      w.cancel(b);
      b.state = 'retained';
    }
  });

  function modify(r: Resource, input: In, delay: number): void {
    const d = r.data;
    if (input.MultiAZ !== undefined) {
      d.multiAz = input.MultiAZ;
      if (input.MultiAZ && !d.secondaryAz) d.secondaryAz = otherAz(r);
    }
    if (input.BackupRetentionPeriod !== undefined) d.backupRetention = input.BackupRetentionPeriod;
    if (input.PreferredBackupWindow !== undefined) d.backupWindow = input.PreferredBackupWindow;
    if (input.PreferredMaintenanceWindow !== undefined)
      d.maintenanceWindow = String(input.PreferredMaintenanceWindow).toLowerCase();
    if (input.DeletionProtection !== undefined) d.deletionProtection = input.DeletionProtection;
    if (input.PubliclyAccessible !== undefined) d.publiclyAccessible = input.PubliclyAccessible;
    if (input.CopyTagsToSnapshot !== undefined) d.copyTagsToSnapshot = input.CopyTagsToSnapshot;
    if (input.AutoMinorVersionUpgrade !== undefined)
      d.autoMinorVersionUpgrade = input.AutoMinorVersionUpgrade;
    if (input.VpcSecurityGroupIds !== undefined) {
      for (const g of input.VpcSecurityGroupIds as string[]) {
        if (!w.live(EC2_TYPES.sg, r.region, g))
          throw err('InvalidParameterValue', `Invalid security group , groupId= ${g}`);
      }
      d.securityGroups = [...(input.VpcSecurityGroupIds as string[])];
      for (const e of w.find(EC2_TYPES.eni, r.region, (x) => x.owner === `rds:${r.id}`))
        e.data.groups = [...d.securityGroups];
    }
    if (input.DBParameterGroupName !== undefined) {
      if (!w.live(T.paramGroup, r.region, String(input.DBParameterGroupName).toLowerCase())) {
        throw err(
          'DBParameterGroupNotFoundFault',
          `DBParameterGroup not found: ${String(input.DBParameterGroupName)}`,
        );
      }
      d.parameterGroup = String(input.DBParameterGroupName).toLowerCase();
      d.parameterApplyStatus = 'pending-reboot';
    }
    const logs = input.CloudwatchLogsExportConfiguration;
    if (logs) {
      const set = new Set(d.logExports as string[]);
      for (const l of logs.EnableLogTypes ?? []) set.add(l as string);
      for (const l of logs.DisableLogTypes ?? []) set.delete(l as string);
      d.logExports = [...set];
    }
    if (input.ManageMasterUserPassword === true && !d.secretArn) {
      const key = input.MasterUserSecretKmsKeyId as string | undefined;
      d.secretArn = createManagedSecret(w, r.region, r, key);
      d.secretKmsKeyId = key ?? w.arn('kms', r.region, 'alias/aws/secretsmanager');
    }
    if (input.AllocatedStorage !== undefined) d.allocatedStorage = input.AllocatedStorage;
    if (input.DBInstanceClass !== undefined) d.instanceClass = input.DBInstanceClass;
    if (delay >= 0) {
      r.state = 'modifying';
      w.schedule(r, delay, { state: 'available' });
    }
  }

  function otherAz(r: Resource): string | undefined {
    const sg = w.get(T.subnetGroup, r.region, r.data.subnetGroup as string);
    const azs = ((sg?.data.subnets ?? []) as string[]).map(
      (s) => w.get(EC2_TYPES.subnet, r.region, s)?.data.az as string,
    );
    return azs.find((a) => a !== r.data.az);
  }

  function parseSourceArn(arn: string): { region: string; id: string } {
    const parts = arn.split(':');
    return { region: parts[3] ?? '', id: parts.slice(6).join(':') };
  }

  const handlers: ServiceModule['handlers'] = {
    // -- Subnet groups ---------------------------------------------------------------------
    CreateDBSubnetGroup(ctx, input) {
      const name = String(input.DBSubnetGroupName).toLowerCase();
      if (w.live(T.subnetGroup, ctx.region, name))
        throw err(
          'DBSubnetGroupAlreadyExistsFault',
          `The DB subnet group '${name}' already exists.`,
        );
      const subnets = checkSubnets(ctx.region, input.SubnetIds as string[]);
      const r = w.add({
        service: 'rds',
        type: T.subnetGroup,
        region: ctx.region,
        id: name,
        arn: w.arn('rds', ctx.region, `subgrp:${name}`),
        name,
        tags: tagMap(input.Tags),
        state: 'Complete',
        data: {
          description: input.DBSubnetGroupDescription,
          subnets,
          vpcId: w.get(EC2_TYPES.subnet, ctx.region, subnets[0]!)?.data.vpcId,
        },
      });
      return { DBSubnetGroup: subnetGroupShape(r) };
    },
    DescribeDBSubnetGroups(ctx, input) {
      if (input.DBSubnetGroupName) {
        const r = w.live(T.subnetGroup, ctx.region, String(input.DBSubnetGroupName).toLowerCase());
        if (!r)
          throw err(
            'DBSubnetGroupNotFoundFault',
            `DBSubnetGroup '${String(input.DBSubnetGroupName)}' not found.`,
          );
        return { DBSubnetGroups: [subnetGroupShape(r)] };
      }
      return { DBSubnetGroups: w.find(T.subnetGroup, ctx.region).map(subnetGroupShape) };
    },
    ModifyDBSubnetGroup(ctx, input) {
      const r = w.live(T.subnetGroup, ctx.region, String(input.DBSubnetGroupName).toLowerCase());
      if (!r)
        throw err(
          'DBSubnetGroupNotFoundFault',
          `DBSubnetGroup '${String(input.DBSubnetGroupName)}' not found.`,
        );
      r.data.subnets = checkSubnets(ctx.region, input.SubnetIds as string[]);
      if (input.DBSubnetGroupDescription) r.data.description = input.DBSubnetGroupDescription;
      return { DBSubnetGroup: subnetGroupShape(r) };
    },
    DeleteDBSubnetGroup(ctx, input) {
      const name = String(input.DBSubnetGroupName).toLowerCase();
      const r = w.live(T.subnetGroup, ctx.region, name);
      if (!r) throw err('DBSubnetGroupNotFoundFault', `DBSubnetGroup '${name}' not found.`);
      const users = w.all(T.db, ctx.region).filter((db) => db.data.subnetGroup === name);
      if (users.length > 0) {
        throw err(
          'InvalidDBSubnetGroupStateFault',
          `Cannot delete the subnet group '${name}' because at least one database instance: ${users[0]!.id} is still using it.`,
        );
      }
      w.remove(r);
      return {};
    },

    // -- Parameter groups ------------------------------------------------------------------
    CreateDBParameterGroup(ctx, input) {
      const name = String(input.DBParameterGroupName).toLowerCase();
      if (w.live(T.paramGroup, ctx.region, name))
        throw err('DBParameterGroupAlreadyExistsFault', `Parameter group ${name} already exists`);
      const family = input.DBParameterGroupFamily as string;
      if (!familyEngine(family))
        throw err('InvalidParameterValue', `Invalid DB parameter group family: ${family}`);
      const r = w.add({
        service: 'rds',
        type: T.paramGroup,
        region: ctx.region,
        id: name,
        arn: w.arn('rds', ctx.region, `pg:${name}`),
        name,
        tags: tagMap(input.Tags),
        state: 'available',
        data: { family, description: input.Description, parameters: {} },
      });
      return {
        DBParameterGroup: {
          DBParameterGroupName: name,
          DBParameterGroupFamily: family,
          Description: r.data.description,
          DBParameterGroupArn: r.arn,
        },
      };
    },
    DescribeDBParameterGroups(ctx, input) {
      const list = input.DBParameterGroupName
        ? [w.live(T.paramGroup, ctx.region, String(input.DBParameterGroupName).toLowerCase())]
        : w.find(T.paramGroup, ctx.region);
      if (list[0] === undefined)
        throw err(
          'DBParameterGroupNotFoundFault',
          `DBParameterGroup not found: ${String(input.DBParameterGroupName)}`,
        );
      return {
        DBParameterGroups: (list as Resource[]).map((r) => ({
          DBParameterGroupName: r.id,
          DBParameterGroupFamily: r.data.family,
          Description: r.data.description,
          DBParameterGroupArn: r.arn,
        })),
      };
    },
    DescribeDBParameters(ctx, input) {
      const r = w.live(T.paramGroup, ctx.region, String(input.DBParameterGroupName).toLowerCase());
      if (!r)
        throw err(
          'DBParameterGroupNotFoundFault',
          `DBParameterGroup not found: ${String(input.DBParameterGroupName)}`,
        );
      const engine = familyEngine(r.data.family as string) ?? 'postgres';
      const user = r.data.parameters as Record<string, string>;
      const source = input.Source as string | undefined;
      const all = (KNOWN_PARAMETERS[engine] ?? []).map((name) => ({
        ParameterName: name,
        ...(name in user ? { ParameterValue: user[name] } : {}),
        Source: name in user ? 'user' : 'engine-default',
        ApplyType: 'dynamic',
        DataType: 'string',
        IsModifiable: true,
        ApplyMethod: 'pending-reboot',
      }));
      const list = source ? all.filter((p) => p.Source === source) : all;
      const p = page(
        list,
        input.Marker as string | undefined,
        input.MaxRecords as number | undefined,
        100,
      );
      return { Parameters: p.items, ...(p.next ? { Marker: p.next } : {}) };
    },
    ModifyDBParameterGroup(ctx, input) {
      const r = w.live(T.paramGroup, ctx.region, String(input.DBParameterGroupName).toLowerCase());
      if (!r)
        throw err(
          'DBParameterGroupNotFoundFault',
          `DBParameterGroup not found: ${String(input.DBParameterGroupName)}`,
        );
      const engine = familyEngine(r.data.family as string) ?? 'postgres';
      const params = (input.Parameters ?? []) as In[];
      if (params.length === 0 || params.length > 20)
        throw err('InvalidParameterValue', 'Between 1 and 20 parameters can be modified at a time');
      for (const p of params) {
        if (!(KNOWN_PARAMETERS[engine] ?? []).includes(p.ParameterName as string)) {
          throw err(
            'InvalidParameterValue',
            `Could not find parameter with name: ${String(p.ParameterName)}`,
          );
        }
      }
      for (const p of params)
        (r.data.parameters as Record<string, string>)[p.ParameterName as string] = String(
          p.ParameterValue,
        );
      return { DBParameterGroupName: r.id };
    },
    DeleteDBParameterGroup(ctx, input) {
      const name = String(input.DBParameterGroupName).toLowerCase();
      const r = w.live(T.paramGroup, ctx.region, name);
      if (!r) throw err('DBParameterGroupNotFoundFault', `DBParameterGroup not found: ${name}`);
      if (w.all(T.db, ctx.region).some((db) => db.data.parameterGroup === name)) {
        throw err(
          'InvalidDBParameterGroupStateFault',
          'One or more database instances are still members of this parameter group, so the group cannot be deleted',
        );
      }
      w.remove(r);
      return {};
    },

    // -- Instances -------------------------------------------------------------------------
    CreateDBInstance(ctx, input) {
      const id = String(input.DBInstanceIdentifier).toLowerCase();
      if (w.get(T.db, ctx.region, id))
        throw err('DBInstanceAlreadyExistsFault', 'DB instance already exists');
      const engine = input.Engine as string;
      if (!['postgres', 'mysql'].includes(engine))
        throw err('InvalidParameterValue', `Invalid DB engine: ${engine}`);
      const sgName = String(input.DBSubnetGroupName ?? 'default').toLowerCase();
      const subnetGroup = w.live(T.subnetGroup, ctx.region, sgName);
      if (!subnetGroup)
        throw err('DBSubnetGroupNotFoundFault', `DBSubnetGroup '${sgName}' not found.`);
      const pgName = String(input.DBParameterGroupName ?? `default.${engine}`).toLowerCase();
      const pg = w.live(T.paramGroup, ctx.region, pgName);
      if (input.DBParameterGroupName && !pg)
        throw err('DBParameterGroupNotFoundFault', `DBParameterGroup not found: ${pgName}`);
      if (pg && familyEngine(pg.data.family as string) !== engine) {
        throw err(
          'InvalidParameterCombination',
          `The parameter group ${pgName} with DBParameterGroupFamily ${String(pg.data.family)} cannot be used for this instance. Please use a Parameter Group with DBParameterGroupFamily ${engine}`,
        );
      }
      for (const g of (input.VpcSecurityGroupIds ?? []) as string[]) {
        if (!w.live(EC2_TYPES.sg, ctx.region, g))
          throw err('InvalidParameterValue', `Invalid security group , groupId= ${g}, groupName=.`);
      }
      if (input.ManageMasterUserPassword && input.MasterUserPassword) {
        throw err(
          'InvalidParameterCombination',
          'You cannot specify both ManageMasterUserPassword and MasterUserPassword.',
        );
      }
      if (!input.ManageMasterUserPassword && !input.MasterUserPassword) {
        throw err(
          'InvalidParameterValue',
          'The parameter MasterUserPassword must be provided and must not be blank.',
        );
      }
      let kmsKeyId: string | undefined;
      if (input.StorageEncrypted) {
        const key = usableKey(w, ctx.region, (input.KmsKeyId as string | undefined) ?? undefined);
        if (input.KmsKeyId && !key)
          throw err(
            'KMSKeyNotAccessibleFault',
            'The specified KMS key does not exist, is not enabled or you do not have permissions to access it.',
          );
        kmsKeyId = key?.arn ?? w.arn('kms', ctx.region, 'key/aws-rds-default');
      } else if (input.KmsKeyId) {
        throw err(
          'InvalidParameterCombination',
          'Encryption key is specified but StorageEncrypted is not set to true.',
        );
      }
      const subnets = subnetGroup.data.subnets as string[];
      const azs = subnets.map((s) => w.get(EC2_TYPES.subnet, ctx.region, s)?.data.az as string);
      const multiAz = input.MultiAZ === true;
      const az = (input.AvailabilityZone as string | undefined) ?? azs[0];
      const version = String(input.EngineVersion ?? (engine === 'postgres' ? '16' : '8.4'));
      const major =
        engine === 'postgres' ? version.split('.')[0] : version.split('.').slice(0, 2).join('.');
      const lifecycle = String(input.EngineLifecycleSupport ?? 'open-source-rds-extended-support');
      const standardEnds = END_OF_STANDARD_SUPPORT[`${engine}:${major}`];
      if (
        lifecycle === 'open-source-rds-extended-support-disabled' &&
        standardEnds !== undefined &&
        w.now() > standardEnds
      ) {
        throw err(
          'InvalidParameterCombination',
          `${engine} ${major} is past the end of RDS standard support; create it with EngineLifecycleSupport open-source-rds-extended-support, or choose a newer major version.`,
        );
      }
      const r = w.add({
        service: 'rds',
        type: T.db,
        region: ctx.region,
        id,
        arn: w.arn('rds', ctx.region, `db:${id}`),
        name: id,
        tags: tagMap(input.Tags),
        state: 'creating',
        data: {
          dbiResourceId: `db-${w.rng.chars(26, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
          instanceClass: input.DBInstanceClass,
          engine,
          engineVersion: DEFAULT_VERSIONS[version] ?? version,
          masterUsername: input.MasterUsername,
          dbName: input.DBName,
          port: input.Port ?? (engine === 'postgres' ? 5432 : 3306),
          allocatedStorage: input.AllocatedStorage,
          storageType: input.StorageType ?? 'gp2',
          backupWindow: input.PreferredBackupWindow ?? '17:00-17:30',
          backupRetention: input.BackupRetentionPeriod ?? 1,
          maintenanceWindow: String(
            input.PreferredMaintenanceWindow ?? 'sun:05:00-sun:05:30',
          ).toLowerCase(),
          securityGroups: [...((input.VpcSecurityGroupIds ?? []) as string[])],
          parameterGroup: pgName,
          parameterApplyStatus: 'in-sync',
          subnetGroup: sgName,
          az,
          secondaryAz: multiAz ? azs.find((a) => a !== az) : undefined,
          multiAz,
          autoMinorVersionUpgrade: input.AutoMinorVersionUpgrade !== false,
          publiclyAccessible: input.PubliclyAccessible === true,
          storageEncrypted: input.StorageEncrypted === true,
          kmsKeyId,
          copyTagsToSnapshot: input.CopyTagsToSnapshot === true,
          logExports: [...((input.EnableCloudwatchLogsExports ?? []) as string[])],
          deletionProtection: input.DeletionProtection === true,
          replications: [],
          engineLifecycleSupport: lifecycle,
        },
      });
      if (input.ManageMasterUserPassword) {
        const key = input.MasterUserSecretKmsKeyId as string | undefined;
        r.data.secretArn = createManagedSecret(w, ctx.region, r, key);
        r.data.secretKmsKeyId = key
          ? (findKey(w, ctx.region, key)?.arn ?? key)
          : w.arn('kms', ctx.region, 'alias/aws/secretsmanager');
      }
      const primary =
        subnets.find((s) => w.get(EC2_TYPES.subnet, ctx.region, s)?.data.az === az) ?? subnets[0]!;
      createEni(w, {
        region: ctx.region,
        subnetId: primary,
        groups: r.data.securityGroups as string[],
        description: 'RDSNetworkInterface',
        interfaceType: 'interface',
        requesterId: 'amazon-rds',
        owner: `rds:${id}`,
      });
      const backup = (r.data.backupRetention as number) > 0;
      w.schedule(r, w.t('rdsCreate'), {
        state: backup ? 'backing-up' : 'available',
        event: 'rds.available',
      });
      if (backup)
        w.schedule(r, w.t('rdsCreate') + w.t('rdsFirstBackup'), {
          state: 'available',
          event: 'rds.backedup',
        });
      return { DBInstance: instanceShape(r) };
    },
    DescribeDBInstances(ctx, input) {
      if (input.DBInstanceIdentifier) {
        const id = String(input.DBInstanceIdentifier);
        const arnId = id.startsWith('arn:') ? id.split(':').slice(6).join(':') : id.toLowerCase();
        return { DBInstances: [describedShape(instance(ctx.region, arnId))] };
      }
      const p = page(
        w.find(T.db, ctx.region),
        input.Marker as string | undefined,
        input.MaxRecords as number | undefined,
        100,
      );
      return { DBInstances: p.items.map(describedShape), ...(p.next ? { Marker: p.next } : {}) };
    },
    ModifyDBInstance(ctx, input) {
      const r = instance(ctx.region, input.DBInstanceIdentifier as string);
      if (r.state !== 'available')
        throw err(
          'InvalidDBInstanceStateFault',
          `Database instance ${r.id} is not in available state.`,
        );
      delete r.data.staleView;
      const before = clone(r.data);
      modify(r, input, input.ApplyImmediately ? w.t('rdsModify') : w.t('rdsModify'));
      r.data.staleView = { data: before, reads: STALE_READS_AFTER_MODIFY };
      return { DBInstance: instanceShape(r) };
    },
    RebootDBInstance(ctx, input) {
      const r = instance(ctx.region, input.DBInstanceIdentifier as string);
      if (r.state !== 'available')
        throw err(
          'InvalidDBInstanceStateFault',
          `Database instance ${r.id} is not in available state.`,
        );
      if (input.ForceFailover) {
        if (!r.data.multiAz)
          throw err('InvalidParameterCombination', 'Cannot failover a single-AZ instance');
        const [a, b] = [r.data.az, r.data.secondaryAz];
        r.data.az = b;
        r.data.secondaryAz = a;
      }
      r.data.parameterApplyStatus = 'in-sync';
      r.state = 'rebooting';
      w.schedule(r, w.t('rdsReboot'), { state: 'available' });
      return { DBInstance: instanceShape(r) };
    },
    DeleteDBInstance(ctx, input) {
      const r = instance(ctx.region, input.DBInstanceIdentifier as string);
      if (r.state === 'deleting')
        throw err('InvalidDBInstanceStateFault', `Instance ${r.id} is already being deleted.`);
      if (r.data.deletionProtection) {
        throw err(
          'InvalidParameterCombination',
          'Cannot delete protected DB Instance, please disable deletion protection and try again.',
        );
      }
      if (!input.SkipFinalSnapshot && !input.FinalDBSnapshotIdentifier) {
        throw err(
          'InvalidParameterCombination',
          'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
        );
      }
      if (
        ['creating', 'modifying', 'backing-up', 'rebooting'].includes(r.state) &&
        input.FinalDBSnapshotIdentifier
      ) {
        throw err('InvalidDBInstanceStateFault', `Instance ${r.id} is not in available state.`);
      }
      if (['modifying', 'rebooting'].includes(r.state)) {
        throw err(
          'InvalidDBInstanceStateFault',
          `Instance ${r.id} is currently ${r.state}, it cannot be deleted.`,
        );
      }
      if (input.FinalDBSnapshotIdentifier)
        createSnapshot(
          r,
          String(input.FinalDBSnapshotIdentifier),
          r.data.copyTagsToSnapshot ? { ...r.tags } : {},
          'manual',
        );
      w.cancel(r);
      r.state = 'deleting';
      w.schedule(r, w.t('rdsDelete'), { event: 'rds.gone', remove: true });
      return { DBInstance: instanceShape(r) };
    },

    // -- Snapshots -------------------------------------------------------------------------
    CreateDBSnapshot(ctx, input) {
      const r = instance(ctx.region, input.DBInstanceIdentifier as string);
      const name = String(input.DBSnapshotIdentifier).toLowerCase();
      if (w.get(T.snapshot, ctx.region, name))
        throw err(
          'DBSnapshotAlreadyExistsFault',
          `Cannot create the snapshot because a snapshot with the identifier ${name} already exists.`,
        );
      if (r.state !== 'available')
        throw err(
          'InvalidDBInstanceStateFault',
          `Cannot create a snapshot because the database instance ${r.id} is not currently in the available state.`,
        );
      const s = createSnapshot(r, name, tagMap(input.Tags), 'manual');
      return { DBSnapshot: snapshotShape(s) };
    },
    DescribeDBSnapshots(ctx, input) {
      if (input.DBSnapshotIdentifier) {
        const s = w.live(T.snapshot, ctx.region, String(input.DBSnapshotIdentifier).toLowerCase());
        if (!s)
          throw err(
            'DBSnapshotNotFoundFault',
            `DBSnapshot not found: ${String(input.DBSnapshotIdentifier)}`,
          );
        return { DBSnapshots: [snapshotShape(s)] };
      }
      const list = w.find(
        T.snapshot,
        ctx.region,
        (s) =>
          !input.DBInstanceIdentifier ||
          s.data.instanceId === String(input.DBInstanceIdentifier).toLowerCase(),
      );
      return { DBSnapshots: list.map(snapshotShape) };
    },
    DeleteDBSnapshot(ctx, input) {
      const s = w.live(T.snapshot, ctx.region, String(input.DBSnapshotIdentifier).toLowerCase());
      if (!s)
        throw err(
          'DBSnapshotNotFoundFault',
          `DBSnapshot not found: ${String(input.DBSnapshotIdentifier)}`,
        );
      if (s.state !== 'available')
        throw err(
          'InvalidDBSnapshotStateFault',
          `Cannot delete the snapshot because it is not in the available state.`,
        );
      s.state = 'deleted';
      w.schedule(s, w.t('quick'), { remove: true });
      return { DBSnapshot: snapshotShape(s) };
    },
    AddTagsToResource(ctx, input) {
      const r = w.byArn(input.ResourceName as string);
      if (!r || r.service !== 'rds')
        throw err('DBInstanceNotFoundFault', `Resource ${String(input.ResourceName)} not found`);
      Object.assign(r.tags, tagMap(input.Tags));
      return {};
    },
    RemoveTagsFromResource(ctx, input) {
      const r = w.byArn(input.ResourceName as string);
      if (!r || r.service !== 'rds')
        throw err('DBInstanceNotFoundFault', `Resource ${String(input.ResourceName)} not found`);
      for (const k of (input.TagKeys ?? []) as string[]) delete r.tags[k];
      return {};
    },
    ListTagsForResource(ctx, input) {
      const r = w.byArn(input.ResourceName as string);
      if (!r || r.service !== 'rds')
        throw err('DBInstanceNotFoundFault', `Resource ${String(input.ResourceName)} not found`);
      return { TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
    },

    // -- Automated-backup replication (called in the DESTINATION region) -------------------
    StartDBInstanceAutomatedBackupsReplication(ctx, input) {
      const src = parseSourceArn(input.SourceDBInstanceArn as string);
      const source = w.live(T.db, src.region, src.id);
      if (!source) throw err('DBInstanceNotFoundFault', `DBInstance ${src.id} not found.`);
      if (src.region === ctx.region)
        throw err('InvalidParameterValue', 'The source and destination Regions must be different.');
      if (source.state !== 'available')
        throw err(
          'InvalidDBInstanceStateFault',
          `DB instance ${source.id} is not in available state.`,
        );
      if ((source.data.backupRetention as number) <= 0)
        throw err(
          'InvalidDBInstanceStateFault',
          'Automated backups are not enabled for the source instance.',
        );
      const key = input.KmsKeyId as string | undefined;
      if (source.data.storageEncrypted && !usableKey(w, ctx.region, key)) {
        throw err(
          'KMSKeyNotAccessibleFault',
          `The KMS key ${key ?? '(none)'} is not accessible in ${ctx.region}.`,
        );
      }
      const active = w.find(
        T.autoBackup,
        ctx.region,
        (b) =>
          b.data.dbiResourceId === source.data.dbiResourceId &&
          ['pending', 'replicating'].includes(b.state),
      );
      if (active.length > 0)
        throw err(
          'DBInstanceAutomatedBackupQuotaExceededFault',
          `Automated backups of ${source.id} are already replicated to ${ctx.region}.`,
        );
      const id = `ab-${w.rng.chars(26, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;
      const b = w.add({
        service: 'rds',
        type: T.autoBackup,
        region: ctx.region,
        id,
        arn: w.arn('rds', ctx.region, `auto-backup:${id}`),
        tags: tagMap(input.Tags),
        state: 'pending',
        data: {
          sourceArn: source.arn,
          sourceRegion: src.region,
          dbiResourceId: source.data.dbiResourceId,
          instanceId: source.id,
          engine: source.data.engine,
          engineVersion: source.data.engineVersion,
          allocatedStorage: source.data.allocatedStorage,
          kmsKeyId: usableKey(w, ctx.region, key)?.arn ?? key,
          retention: input.BackupRetentionPeriod ?? 7,
        },
      });
      (source.data.replications as string[]).push(b.arn!);
      w.schedule(b, w.t('rdsReplication'), { state: 'replicating' });
      return { DBInstanceAutomatedBackup: autoBackupShape(b, 'lower') };
    },
    StopDBInstanceAutomatedBackupsReplication(ctx, input) {
      const src = parseSourceArn(input.SourceDBInstanceArn as string);
      const source = w.live(T.db, src.region, src.id);
      if (!source) throw err('DBInstanceNotFoundFault', `DBInstance ${src.id} not found.`);
      const active = w.find(
        T.autoBackup,
        ctx.region,
        (b) =>
          b.data.sourceArn === input.SourceDBInstanceArn &&
          ['pending', 'replicating'].includes(b.state),
      );
      // What AWS answers for an instance whose backups are not (or no longer) replicated here;
      // terraform-provider-aws treats exactly this as "already stopped".
      if (active.length === 0)
        throw err(
          'InvalidDBInstanceStateFault',
          `Automated backups for the DB instance ${src.id} are not replicating to the current region.`,
        );
      for (const b of active) {
        w.cancel(b);
        b.state = 'retained';
      }
      source.data.replications = (source.data.replications as string[]).filter(
        (a) => !active.some((b) => b.arn === a),
      );
      // RDS then modifies the source for a while, and refuses DeleteDBInstance with a final
      // snapshot until it is available again (terraform-provider-aws PR #46687).
      if (source.state === 'available') {
        source.state = 'modifying';
        w.schedule(source, w.t('rdsModify'), { state: 'available' });
      }
      return { DBInstanceAutomatedBackup: autoBackupShape(active[0]!) };
    },
    DescribeDBInstanceAutomatedBackups(ctx, input) {
      let list = w.find(T.autoBackup, ctx.region);
      if (input.DbiResourceId)
        list = list.filter((b) => b.data.dbiResourceId === input.DbiResourceId);
      if (input.DBInstanceIdentifier)
        list = list.filter((b) => b.data.instanceId === input.DBInstanceIdentifier);
      if (input.DBInstanceAutomatedBackupsArn)
        list = list.filter((b) => b.arn === input.DBInstanceAutomatedBackupsArn);
      if (
        (input.DbiResourceId ||
          input.DBInstanceIdentifier ||
          input.DBInstanceAutomatedBackupsArn) &&
        list.length === 0
      ) {
        throw err(
          'DBInstanceAutomatedBackupNotFoundFault',
          `No automated backup found for ${String(input.DbiResourceId ?? input.DBInstanceIdentifier)}`,
        );
      }
      const p = page(
        list,
        input.Marker as string | undefined,
        input.MaxRecords as number | undefined,
        100,
      );
      return {
        DBInstanceAutomatedBackups: p.items.map((b) => autoBackupShape(b)),
        ...(p.next ? { Marker: p.next } : {}),
      };
    },
    DeleteDBInstanceAutomatedBackup(ctx, input) {
      const b = w.find(
        T.autoBackup,
        ctx.region,
        (x) =>
          x.data.dbiResourceId === input.DbiResourceId ||
          x.arn === input.DBInstanceAutomatedBackupsArn,
      )[0];
      if (!b)
        throw err(
          'DBInstanceAutomatedBackupNotFoundFault',
          `No automated backup found for ${String(input.DbiResourceId)}`,
        );
      if (b.state !== 'retained') {
        throw err(
          'InvalidDBInstanceAutomatedBackupStateFault',
          `The automated backup is in the ${b.state} state; stop the replication first.`,
        );
      }
      b.state = 'deleting';
      w.schedule(b, w.t('quick'), { remove: true });
      return { DBInstanceAutomatedBackup: autoBackupShape(b) };
    },
  };

  function checkSubnets(region: string, ids: string[]): string[] {
    const subs = (ids ?? []).map((s) => {
      const sub = w.live(EC2_TYPES.subnet, region, s);
      if (!sub) throw err('InvalidSubnet', `The subnet ID '${s}' does not exist`);
      return sub;
    });
    if (new Set(subs.map((s) => s.data.vpcId)).size > 1)
      throw err('InvalidSubnet', 'Subnets must belong to the same VPC');
    if (new Set(subs.map((s) => s.data.az)).size < 2) {
      throw err(
        'DBSubnetGroupDoesNotCoverEnoughAZs',
        "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. Current AZ coverage: " +
          [...new Set(subs.map((s) => String(s.data.az)))].join(', ') +
          '. Add subnets to cover at least 2 AZs.',
      );
    }
    return subs.map((s) => s.id);
  }

  function createSnapshot(
    r: Resource,
    name: string,
    tagsIn: Record<string, string>,
    type: string,
  ): Resource {
    const s = w.add({
      service: 'rds',
      type: T.snapshot,
      region: r.region,
      id: name,
      arn: w.arn('rds', r.region, `snapshot:${name}`),
      name,
      tags: tagsIn,
      state: 'creating',
      data: {
        instanceId: r.id,
        engine: r.data.engine,
        engineVersion: r.data.engineVersion,
        allocatedStorage: r.data.allocatedStorage,
        port: r.data.port,
        az: r.data.az,
        vpcId: w.get(T.subnetGroup, r.region, r.data.subnetGroup as string)?.data.vpcId,
        masterUsername: r.data.masterUsername,
        snapshotType: type,
        encrypted: r.data.storageEncrypted,
        kmsKeyId: r.data.kmsKeyId,
        dbiResourceId: r.data.dbiResourceId,
      },
    });
    w.schedule(s, w.t('rdsSnapshot'), { state: 'available' });
    return s;
  }

  void clone;
  return { service: 'rds', handlers };
}
