import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import { describeBackupVault } from '../aws/backup.js';
import { ignoreNotFound, isNotFound } from '../aws/errors.js';
import { STACK_TAG } from '../aws/tags.js';
import type { Leftover, Step } from './step.js';

export type { Leftover } from './step.js';

/**
 * The sweep could not look everywhere (AccessDenied, throttling that outlasted the retries…).
 * `found` holds what the lookups that worked did find; `problems` says which lookups failed.
 */
export class SweepIncompleteError extends Error {
  constructor(
    readonly found: Leftover[],
    readonly problems: string[],
  ) {
    super(`leftover check incomplete: ${problems.join('; ')}`);
    this.name = 'SweepIncompleteError';
  }
}

/** ARNs without a resource type (`arn:aws:s3:::bucket`, `arn:aws:sns:…:topic`) name their kind here. */
const PLAIN_KIND: Record<string, string> = { s3: 'bucket', sns: 'topic' };

function typeOf(arn: string): string {
  const [, , service = '', , , ...rest] = arn.split(':');
  const resource = rest.join(':');
  const kind = /[/:]/.test(resource)
    ? (resource.split(/[/:]/)[0] ?? '')
    : (PLAIN_KIND[service] ?? resource);
  return `${service}:${kind}`;
}

/** The resource part after `type:` or `type/` (`snapshot:awsbackup:job-1` → `awsbackup:job-1`). */
function resourceId(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  return resource.replace(/^[^/:]+[/:]/, '');
}

function reason(e: unknown): string {
  const err = e as { name?: string; message?: string };
  const name = err?.name && err.name !== 'Error' ? `${err.name}: ` : '';
  return `${name}${err?.message ?? String(e)}`;
}

/**
 * After destroy: everything still tagged `cloudmart:stack=<stack>` in the stack's regions
 * (Resource Groups Tagging API), then what that API cannot see, as each step finds it
 * (`Step.discover.find`: Auto Scaling groups, IAM roles, the log groups and dashboard that
 * carry no tag). The Tagging API lags behind deletes, so what it still lists is checked once
 * more where that is cheap. What the config keeps on purpose (snapshots, recovery points and
 * the key they are encrypted with; `Step.discover.keeps`) comes back as `kept`.
 *
 * Every lookup runs even when another one fails; if any failed, SweepIncompleteError carries
 * what was found and why the check is incomplete.
 */
export async function sweep(aws: Aws, config: Config, steps: readonly Step[]): Promise<Leftover[]> {
  const problems: string[] = [];
  const found: Leftover[] = [];
  const add = (l: Leftover) => {
    if (!found.some((f) => f.arn === l.arn)) found.push(l);
  };
  const attempt = async (what: string, lookup: () => Promise<Leftover[]>) => {
    try {
      for (const l of await lookup()) add(l);
    } catch (e) {
      problems.push(`${what}: ${reason(e)}`);
    }
  };

  const regions = [...new Set([config.region, config.drRegion, config.edgeRegion])];
  for (const region of regions) {
    await attempt(`resources tagged ${STACK_TAG}=${config.stack} in ${region}`, async () => {
      const listed = await tagged(aws, config, region);
      const confirmed: Leftover[] = [];
      for (const l of listed.filter((x) => x.type !== 'kms:key')) {
        const live = await confirm(aws, config, steps, l);
        if (live) confirmed.push(live);
      }
      // Keys last: destroy keeps the key that backups kept here are encrypted with.
      const keptHere = confirmed.filter((c) => c.kept);
      for (const l of listed.filter((x) => x.type === 'kms:key')) {
        const live = await confirm(aws, config, steps, l, keptHere);
        if (live) confirmed.push(live);
      }
      return confirmed;
    });
  }
  for (const { discover: d } of steps) {
    if (d?.find) await attempt(d.what, () => d.find!(aws, config));
  }

  if (problems.length > 0) throw new SweepIncompleteError(found, problems);
  return found;
}

async function tagged(aws: Aws, config: Config, region: string): Promise<Leftover[]> {
  const { paginateGetResources } = await import('@aws-sdk/client-resource-groups-tagging-api');
  const tagging = await aws.get('tagging', region);
  const list: Leftover[] = [];
  for await (const page of paginateGetResources(
    { client: tagging },
    { TagFilters: [{ Key: STACK_TAG, Values: [config.stack] }] },
  )) {
    for (const r of page.ResourceTagMappingList ?? []) {
      if (r.ResourceARN)
        list.push({ arn: r.ResourceARN, region, type: typeOf(r.ResourceARN), kept: false });
    }
  }
  return list;
}

/** Kept backups in words. */
const KIND: Record<string, string> = {
  'rds:snapshot': 'RDS snapshot',
  'rds:auto-backup': 'RDS automated backups',
  'backup:backup-vault': 'backup vault',
  'backup:recovery-point': 'recovery point',
  'ec2:image': 'AMI',
  'ec2:snapshot': 'EBS snapshot',
};

const RECOVERY_POINT_NOTE =
  'AWS Backup recovery point kept on purpose (destroy.deleteRecoveryPoints: false); it bills until it expires or you delete it';

/**
 * The tagged resource checked once more: false when it is gone (the Tagging API lagged), else
 * the leftover, marked kept when the config keeps it on purpose (an enabled key: when data is
 * still encrypted with it, found as destroy's key step finds it in the main region, or among
 * `keptHere`, the backups kept in its region, elsewhere). A check that fails reports the
 * resource as still there, saying why.
 */
async function confirm(
  aws: Aws,
  config: Config,
  steps: readonly Step[],
  l: Leftover,
  keptHere: Leftover[] = [],
): Promise<Leftover | false> {
  const kept = (note: string): Leftover => ({ ...l, kept: true, note });
  const there = (note?: string): Leftover => (note ? { ...l, note } : l);
  const keepPoints = !config.destroy.deleteRecoveryPoints;
  try {
    switch (l.type) {
      case 'kms:key': {
        const { DescribeKeyCommand } = await import('@aws-sdk/client-kms');
        const kms = await aws.get('kms', l.region);
        const out = await kms.send(new DescribeKeyCommand({ KeyId: l.arn }));
        const state = out.KeyMetadata?.KeyState;
        if (state === 'PendingDeletion' || state === 'PendingReplicaDeletion')
          return kept('scheduled for deletion (KMS keys cannot be deleted at once)');
        if (state !== 'Enabled') return there(state ? `key state ${state}` : undefined);
        // Kept for what is actually encrypted with it, never for config flags alone (a Backup
        // job that never ran leaves nothing to keep the key for): the key step says so for
        // its own key, so the sweep and the step agree; elsewhere the kept backups found.
        let why: string | undefined;
        try {
          why = await keptBy(steps, aws, config, l);
        } catch (e) {
          return there(
            `key state Enabled; could not check what is encrypted with it (${reason(e)})`,
          );
        }
        if (why) return kept(why);
        const data =
          l.region === config.region
            ? []
            : keptHere.map((k) => `the kept ${KIND[k.type] ?? k.type} ${resourceId(k.arn)}`);
        if (data.length > 0)
          return kept(
            `kept on purpose: ${data.join(', ')} ${data.length === 1 ? 'is' : 'are'} encrypted with it ($1/month until you schedule its deletion)`,
          );
        return there('key state Enabled');
      }
      case 'ec2:natgateway': {
        const { DescribeNatGatewaysCommand } = await import('@aws-sdk/client-ec2');
        const ec2 = await aws.get('ec2', l.region);
        const out = await ec2.send(
          new DescribeNatGatewaysCommand({ NatGatewayIds: [resourceId(l.arn)] }),
        );
        const state = out.NatGateways?.[0]?.State;
        return state !== undefined && state !== 'deleted' && there(state);
      }
      case 'ec2:instance': {
        const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
        const ec2 = await aws.get('ec2', l.region);
        const out = await ec2.send(
          new DescribeInstancesCommand({ InstanceIds: [resourceId(l.arn)] }),
        );
        const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
        return state !== undefined && state !== 'terminated' && there(state);
      }
      // AWS Backup's recovery points: EC2 instances become AMIs and EBS snapshots.
      case 'backup:recovery-point':
      case 'ec2:image':
      case 'ec2:snapshot':
        return keepPoints ? kept(RECOVERY_POINT_NOTE) : there();
      case 'backup:backup-vault': {
        const backup = await aws.get('backup', l.region);
        const name = resourceId(l.arn);
        const out = await describeBackupVault(backup, name);
        if (!out) return false;
        const points = out.NumberOfRecoveryPoints ?? 0;
        if (keepPoints && points > 0)
          return kept(
            `backup vault ${name} kept on purpose: it holds ${points} kept recovery point(s) (destroy.deleteRecoveryPoints: false)`,
          );
        return there(`backup vault ${name}, ${points} recovery point(s)`);
      }
      case 'rds:snapshot':
        return await rdsSnapshot(aws, config, steps, l);
      case 'rds:db': {
        const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
        const rds = await aws.get('rds', l.region);
        const out = await rds.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: resourceId(l.arn) }),
        );
        const db = out.DBInstances?.[0];
        return db !== undefined && there(db.DBInstanceStatus);
      }
      case 'elasticache:replicationgroup': {
        const { DescribeReplicationGroupsCommand } = await import('@aws-sdk/client-elasticache');
        const ec = await aws.get('elasticache', l.region);
        const out = await ec.send(
          new DescribeReplicationGroupsCommand({ ReplicationGroupId: resourceId(l.arn) }),
        );
        const g = out.ReplicationGroups?.[0];
        return g !== undefined && there(g.Status);
      }
      case 'elasticache:cluster': {
        const { DescribeCacheClustersCommand } = await import('@aws-sdk/client-elasticache');
        const ec = await aws.get('elasticache', l.region);
        const out = await ec.send(
          new DescribeCacheClustersCommand({ CacheClusterId: resourceId(l.arn) }),
        );
        const c = out.CacheClusters?.[0];
        return c !== undefined && there(c.CacheClusterStatus);
      }
      case 'elasticloadbalancing:loadbalancer': {
        const { DescribeLoadBalancersCommand } =
          await import('@aws-sdk/client-elastic-load-balancing-v2');
        const elb = await aws.get('elbv2', l.region);
        const out = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [l.arn] }));
        const lb = out.LoadBalancers?.[0];
        return lb !== undefined && there(lb.State?.Code);
      }
      case 'elasticloadbalancing:listener': {
        const { DescribeListenersCommand } =
          await import('@aws-sdk/client-elastic-load-balancing-v2');
        const elb = await aws.get('elbv2', l.region);
        const out = await elb.send(new DescribeListenersCommand({ ListenerArns: [l.arn] }));
        return (out.Listeners ?? []).length > 0 && there();
      }
      case 'elasticloadbalancing:targetgroup': {
        const { DescribeTargetGroupsCommand } =
          await import('@aws-sdk/client-elastic-load-balancing-v2');
        const elb = await aws.get('elbv2', l.region);
        const out = await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [l.arn] }));
        return (out.TargetGroups ?? []).length > 0 && there();
      }
      case 'ec2:volume': {
        const { DescribeVolumesCommand } = await import('@aws-sdk/client-ec2');
        const ec2 = await aws.get('ec2', l.region);
        const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [resourceId(l.arn)] }));
        const state = out.Volumes?.[0]?.State;
        return state !== undefined && state !== 'deleted' && there(state);
      }
      case 'ec2:elastic-ip': {
        const { DescribeAddressesCommand } = await import('@aws-sdk/client-ec2');
        const ec2 = await aws.get('ec2', l.region);
        const out = await ec2.send(
          new DescribeAddressesCommand({ AllocationIds: [resourceId(l.arn)] }),
        );
        return (out.Addresses ?? []).length > 0 && there();
      }
      case 'cloudfront:distribution': {
        const { GetDistributionCommand } = await import('@aws-sdk/client-cloudfront');
        const cf = await aws.get('cloudfront');
        const out = await cf.send(new GetDistributionCommand({ Id: resourceId(l.arn) }));
        return out.Distribution !== undefined && there(out.Distribution.Status);
      }
      case 's3:bucket': {
        const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
        const s3 = await aws.get('s3', l.region);
        await s3.send(new HeadBucketCommand({ Bucket: resourceId(l.arn) }));
        return there();
      }
      case 'cloudwatch:alarm': {
        const { DescribeAlarmsCommand } = await import('@aws-sdk/client-cloudwatch');
        const cw = await aws.get('cloudwatch', l.region);
        const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [resourceId(l.arn)] }));
        return (out.MetricAlarms ?? []).length + (out.CompositeAlarms ?? []).length > 0 && there();
      }
      default: {
        for (const step of steps) {
          const checked = await step.discover?.confirm?.(aws, config, l);
          if (checked !== undefined) return checked;
        }
        const why = await keptBy(steps, aws, config, l);
        if (why) return kept(why);
        // Nothing that bills by the hour: said as listed, not counted as left behind.
        return {
          ...l,
          unconfirmed: true,
          note: 'listed by the Tagging API, not confirmed: the Tagging API keeps listing deleted resources for minutes to hours',
        };
      }
      case 'rds:auto-backup': {
        const { DescribeDBInstanceAutomatedBackupsCommand } = await import('@aws-sdk/client-rds');
        const rds = await aws.get('rds', l.region);
        const out = await rds.send(
          new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceAutomatedBackupsArn: l.arn }),
        );
        if ((out.DBInstanceAutomatedBackups ?? []).length === 0) return false;
        // destroy.finalSnapshot deletes the instance with DeleteAutomatedBackups: false.
        return config.destroy.finalSnapshot
          ? kept(
              'retained RDS automated backups, kept with the final snapshot (destroy.finalSnapshot)',
            )
          : there();
      }
    }
  } catch (e) {
    if (isNotFound(e)) return false;
    return there(`still listed by the Tagging API; could not check it (${reason(e)})`);
  }
  return l;
}

async function rdsSnapshot(
  aws: Aws,
  config: Config,
  steps: readonly Step[],
  l: Leftover,
): Promise<Leftover | false> {
  const id = resourceId(l.arn);
  // AWS Backup's RDS recovery points are snapshots named awsbackup:job-….
  if (id.startsWith('awsbackup:'))
    return config.destroy.deleteRecoveryPoints
      ? l
      : { ...l, kept: true, note: RECOVERY_POINT_NOTE };
  const { DescribeDBSnapshotsCommand } = await import('@aws-sdk/client-rds');
  const rds = await aws.get('rds', l.region);
  const out = await ignoreNotFound(
    rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id })),
  );
  if (!out?.DBSnapshots?.length) return false;
  // The final snapshot (destroy.finalSnapshot), the seed's manual one: as their steps keep them.
  const why = await keptBy(steps, aws, config, l);
  return why ? { ...l, kept: true, note: why } : { ...l, note: `snapshot ${id}` };
}

/** The first step that keeps this listed resource on purpose says why. */
async function keptBy(
  steps: readonly Step[],
  aws: Aws,
  config: Config,
  l: Leftover,
): Promise<string | undefined> {
  for (const step of steps) {
    const why = await step.discover?.keeps?.(aws, config, l);
    if (why) return why;
  }
  return undefined;
}
