import type { Aws } from '../aws/clients.js';
import type { StateFile } from '../state/store.js';
import {
  STEP,
  type AlbOutputs,
  type AsgOutputs,
  type BucketOutputs,
  type CdnOutputs,
  type NatOutputs,
  type RdsOutputs,
  type RedisOutputs,
  type SubnetsOutputs,
  type VpcOutputs,
  type WafOutputs,
} from '../steps/outputs.js';

/** What the architecture picture shows: this stack's ids, AZs and states. */
export interface LiveView {
  azs: string[];
  vpc?: { id: string; cidr: string };
  publicSubnets: string[];
  appSubnets: string[];
  dataSubnets: string[];
  nats: Array<{ id: string; state: string }>;
  alb?: { name: string; dns: string };
  instances: Array<{ id: string; az: string; state: string; health: string }>;
  rds?: { id: string; status: string; az?: string; standbyAz?: string };
  redis?: { id: string; nodes: Array<{ id: string; az: string; role: string }> };
  bucket?: string;
  cdn?: { id: string; domain: string };
  waf?: string;
  domain?: string;
  /** Reads that failed (the picture falls back to the recorded ids). */
  problems: string[];
}

function outputs<T>(state: StateFile, id: string): T | undefined {
  const s = state.steps[id];
  return s && s.status === 'done' ? (s.outputs as T | undefined) : undefined;
}

/**
 * The recorded ids of every resource, then four read-only calls for what changes while the
 * stack runs (instances, the database's primary AZ, the cache nodes' roles, NAT states).
 */
export async function liveView(aws: Aws | undefined, state: StateFile): Promise<LiveView> {
  const subnets = outputs<SubnetsOutputs>(state, STEP.subnets);
  const vpc = outputs<VpcOutputs>(state, STEP.vpc);
  const nat = outputs<NatOutputs>(state, STEP.nat);
  const alb = outputs<AlbOutputs>(state, STEP.alb);
  const asg = outputs<AsgOutputs>(state, STEP.asg);
  const rds = outputs<RdsOutputs>(state, STEP.rds);
  const redis = outputs<RedisOutputs>(state, STEP.redis);
  const bucket = outputs<BucketOutputs>(state, STEP.frontendBucket);
  const cdn = outputs<CdnOutputs>(state, STEP.cdn);
  const waf = outputs<WafOutputs>(state, STEP.waf);
  const view: LiveView = {
    azs: subnets?.azs ?? [],
    ...(vpc ? { vpc: { id: vpc.vpcId, cidr: vpc.cidr } } : {}),
    publicSubnets: subnets?.publicSubnetIds ?? [],
    appSubnets: subnets?.appSubnetIds ?? [],
    dataSubnets: subnets?.dataSubnetIds ?? [],
    nats: (nat?.natGatewayIds ?? []).map((id) => ({ id, state: 'recorded' })),
    ...(alb
      ? { alb: { name: alb.loadBalancerName ?? alb.loadBalancerDimension, dns: alb.dnsName } }
      : {}),
    instances: [],
    ...(rds ? { rds: { id: rds.dbInstanceIdentifier, status: 'recorded' } } : {}),
    ...(redis
      ? {
          redis: {
            id: redis.replicationGroupId,
            nodes: redis.memberClusters.map((id) => ({ id, az: '', role: '' })),
          },
        }
      : {}),
    ...(bucket ? { bucket: bucket.bucketName } : {}),
    ...(cdn ? { cdn: { id: cdn.distributionId, domain: cdn.domainName } } : {}),
    ...(waf ? { waf: waf.webAclName } : {}),
    problems: [],
  };
  if (!aws) return view;
  const read = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      view.problems.push(
        `${what}: ${(e as Error).name ?? ''} ${(e as Error).message ?? ''}`.trim(),
      );
    }
  };
  await Promise.all([
    asg &&
      read('Auto Scaling group', async () => {
        const { DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
        const c = await aws.get('autoscaling');
        const out = await c.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: [asg.autoScalingGroupName],
          }),
        );
        view.instances = (out.AutoScalingGroups?.[0]?.Instances ?? [])
          .map((i) => ({
            id: i.InstanceId ?? '?',
            az: i.AvailabilityZone ?? '?',
            state: i.LifecycleState ?? '?',
            health: i.HealthStatus ?? '?',
          }))
          .sort((a, b) => a.id.localeCompare(b.id));
      }),
    rds &&
      read('RDS', async () => {
        const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
        const c = await aws.get('rds');
        const db = (
          await c.send(
            new DescribeDBInstancesCommand({ DBInstanceIdentifier: rds.dbInstanceIdentifier }),
          )
        ).DBInstances?.[0];
        if (db)
          view.rds = {
            id: rds.dbInstanceIdentifier,
            status: db.DBInstanceStatus ?? '?',
            ...(db.AvailabilityZone ? { az: db.AvailabilityZone } : {}),
            ...(db.SecondaryAvailabilityZone ? { standbyAz: db.SecondaryAvailabilityZone } : {}),
          };
      }),
    redis &&
      read('ElastiCache', async () => {
        const { DescribeReplicationGroupsCommand } = await import('@aws-sdk/client-elasticache');
        const c = await aws.get('elasticache');
        const g = (
          await c.send(
            new DescribeReplicationGroupsCommand({ ReplicationGroupId: redis.replicationGroupId }),
          )
        ).ReplicationGroups?.[0];
        const members = g?.NodeGroups?.flatMap((n) => n.NodeGroupMembers ?? []) ?? [];
        if (members.length)
          view.redis = {
            id: redis.replicationGroupId,
            nodes: members.map((m) => ({
              id: m.CacheClusterId ?? '?',
              az: m.PreferredAvailabilityZone ?? '',
              role: m.CurrentRole ?? '',
            })),
          };
      }),
    nat &&
      nat.natGatewayIds.length > 0 &&
      read('NAT gateways', async () => {
        const { DescribeNatGatewaysCommand } = await import('@aws-sdk/client-ec2');
        const c = await aws.get('ec2');
        const out = await c.send(
          new DescribeNatGatewaysCommand({ NatGatewayIds: nat.natGatewayIds }),
        );
        view.nats = nat.natGatewayIds.map((id) => ({
          id,
          state: out.NatGateways?.find((n) => n.NatGatewayId === id)?.State ?? 'not found',
        }));
      }),
  ]);
  return view;
}
