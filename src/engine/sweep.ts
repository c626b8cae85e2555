import type { Aws } from './clients.js';
import type { Config } from '../config/schema.js';
import { STACK_TAG } from './tags.js';

export interface Leftover {
  arn: string;
  region: string;
  /** `ec2:natgateway`, `kms:key`, `logs:log-group`, … */
  type: string;
  /** Kept on purpose (KMS key pending deletion, final snapshot): not a failure. */
  kept: boolean;
  note?: string;
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

/**
 * After destroy: everything still tagged `cloudmart:stack=<stack>` in the stack's regions
 * (Resource Groups Tagging API), plus leftovers that services create without our tags (log
 * groups RDS and VPC Flow Logs write into). The Tagging API lags behind deletes, so resources
 * it still lists are checked once more where that is cheap.
 */
export async function sweep(aws: Aws, config: Config): Promise<Leftover[]> {
  const { GetResourcesCommand } = await import('@aws-sdk/client-resource-groups-tagging-api');
  const regions = [...new Set([config.region, config.drRegion, config.edgeRegion])];
  const leftovers: Leftover[] = [];
  for (const region of regions) {
    const tagging = await aws.get('tagging', region);
    let token: string | undefined;
    do {
      const out = await tagging.send(
        new GetResourcesCommand({
          TagFilters: [{ Key: STACK_TAG, Values: [config.stack] }],
          ...(token ? { PaginationToken: token } : {}),
        }),
      );
      for (const r of out.ResourceTagMappingList ?? []) {
        if (r.ResourceARN)
          leftovers.push({ arn: r.ResourceARN, region, type: typeOf(r.ResourceARN), kept: false });
      }
      token = out.PaginationToken || undefined;
    } while (token);
  }

  const confirmed: Leftover[] = [];
  for (const l of leftovers) {
    const live = await stillThere(aws, l);
    if (live === false) continue;
    confirmed.push(live === 'kept' ? { ...l, kept: true, note: keptNote(l) } : l);
  }
  for (const g of await untaggedLogGroups(aws, config)) {
    if (!confirmed.some((c) => c.arn === g.arn)) confirmed.push(g);
  }
  return confirmed;
}

function keptNote(l: Leftover): string {
  if (l.type === 'kms:key') return 'scheduled for deletion (KMS keys cannot be deleted at once)';
  if (l.type === 'rds:snapshot') return 'final snapshot kept on purpose (destroy.finalSnapshot)';
  return 'kept on purpose';
}

/** true: still exists; false: gone (the Tagging API lagged); 'kept': exists but on purpose. */
async function stillThere(aws: Aws, l: Leftover): Promise<boolean | 'kept'> {
  try {
    if (l.type === 'kms:key') {
      const { DescribeKeyCommand } = await import('@aws-sdk/client-kms');
      const kms = await aws.get('kms', l.region);
      const out = await kms.send(new DescribeKeyCommand({ KeyId: l.arn }));
      return out.KeyMetadata?.KeyState === 'PendingDeletion' ? 'kept' : true;
    }
    if (l.type === 'ec2:natgateway') {
      const { DescribeNatGatewaysCommand } = await import('@aws-sdk/client-ec2');
      const ec2 = await aws.get('ec2', l.region);
      const id = l.arn.split('/').pop()!;
      const out = await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [id] }));
      const state = out.NatGateways?.[0]?.State;
      return state !== undefined && state !== 'deleted';
    }
    if (l.type === 'ec2:instance') {
      const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
      const ec2 = await aws.get('ec2', l.region);
      const id = l.arn.split('/').pop()!;
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
      return state !== undefined && state !== 'terminated';
    }
    if (l.type === 'rds:snapshot') return l.arn.includes('-final-') ? 'kept' : true;
  } catch (e) {
    if (/NotFound|NotExist|Invalid.*\.NotFound/i.test((e as Error).name)) return false;
    return true;
  }
  return true;
}

/** Log groups that AWS services create by themselves carry no cloudmart tag. */
async function untaggedLogGroups(aws: Aws, config: Config): Promise<Leftover[]> {
  const { DescribeLogGroupsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const logs = await aws.get('logs');
  const prefixes = [
    `/aws/rds/instance/${config.stack}-db/`,
    config.network.flowLogs.logGroup,
    config.monitoring.logs.backend.name,
  ];
  const found: Leftover[] = [];
  for (const prefix of prefixes) {
    const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix }));
    for (const g of out.logGroups ?? []) {
      if (g.arn && !found.some((f) => f.arn === g.arn)) {
        found.push({
          arn: g.arn.replace(/:\*$/, ''),
          region: config.region,
          type: 'logs:log-group',
          kept: false,
          note: g.logGroupName,
        });
      }
    }
  }
  // Dashboards cannot carry tags: look for ours by name.
  const { ListDashboardsCommand } = await import('@aws-sdk/client-cloudwatch');
  const cloudwatch = await aws.get('cloudwatch');
  const dashboards = await cloudwatch.send(
    new ListDashboardsCommand({ DashboardNamePrefix: config.monitoring.dashboardName }),
  );
  for (const d of dashboards.DashboardEntries ?? []) {
    if (d.DashboardName === config.monitoring.dashboardName && d.DashboardArn) {
      found.push({
        arn: d.DashboardArn,
        region: config.region,
        type: 'cloudwatch:dashboard',
        kept: false,
        note: d.DashboardName,
      });
    }
  }
  return found;
}
