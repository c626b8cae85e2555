import type { AutoScalingGroupsType, PoliciesType } from '@aws-sdk/client-auto-scaling';
import type { GetBackupPlanOutput, GetBackupSelectionOutput } from '@aws-sdk/client-backup';
import type { BackupPlansListMember, BackupSelectionsListMember } from '@aws-sdk/client-backup';
import type { ListDistributionsResult } from '@aws-sdk/client-cloudfront';
import type {
  DescribeTrailsResponse,
  GetEventSelectorsResponse,
  GetTrailStatusResponse,
} from '@aws-sdk/client-cloudtrail';
import type { DescribeAlarmsOutput, GetDashboardOutput } from '@aws-sdk/client-cloudwatch';
import type {
  DescribeLogGroupsResponse,
  DescribeMetricFiltersResponse,
} from '@aws-sdk/client-cloudwatch-logs';
import type {
  DescribeFlowLogsResult,
  DescribeNatGatewaysResult,
  DescribeRouteTablesResult,
  DescribeSecurityGroupsResult,
  DescribeSubnetsResult,
  DescribeVolumesResult,
  DescribeVpcsResult,
  RouteTable,
} from '@aws-sdk/client-ec2';
import type { DescribeLoadBalancerAttributesOutput } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DescribeLoadBalancersOutput } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ReplicationGroupMessage } from '@aws-sdk/client-elasticache';
import type {
  DBInstanceAutomatedBackupMessage,
  DBInstanceMessage,
  DBParameterGroupDetails,
  DBSnapshotMessage,
} from '@aws-sdk/client-rds';
import type {
  GetBucketEncryptionOutput,
  GetBucketLifecycleConfigurationOutput,
  GetBucketPolicyOutput,
  GetBucketVersioningOutput,
} from '@aws-sdk/client-s3';
import type { ListSubscriptionsByTopicResponse } from '@aws-sdk/client-sns';
import type { GetWebACLResponse, ListWebACLsResponse } from '@aws-sdk/client-wafv2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The only import from src/: the CLI entry, run as a user runs it. Everything expected below
// is a literal written from the challenge text, never a constant or a config of cloudmart's.
import { main } from '../../src/cli/main.js';
import { FakeCloud, type ServiceName } from '../helpers/fake-cloud/index.js';

/**
 * Seed conformance: after a whole `cloudmart up` of the example config against the fake
 * cloud, read what the cloud holds (through its AWS API, not cloudmart's state or outputs)
 * and hold it against the challenge's literal requirements.
 *
 * `verify` builds what it expects from the same config and constants as `create`, so a value
 * changed in src/ changes both sides; this table is written once, by hand, from
 * ../shared/seed/000_10b66f2009ae760b.txt (Korean) and ../shared/DESIGN.md (its English
 * reading). Where they differ the seed wins, and a comment says so. Where the seed is silent
 * (a period it does not give, a statistic) the value is marked "not in the seed": it is
 * cloudmart's documented choice, pinned here so that changing it is a deliberate act.
 */
const SEED = {
  region: 'ap-northeast-2',
  drRegion: 'ap-northeast-1', // "Copy to Another Region: ap-northeast-1 (도쿄)"
  vpcCidr: '10.0.0.0/16',
  azs: 2,
  alertEmail: 'ops@example.com', // the example config's address ("SNS → Email")

  // Phase 2-2, "필수 알람 5개".
  alarms: {
    'CloudMart-EC2-HighCPU': {
      // "CPUUtilization, > 80% for 2 periods (10분)": two 5-minute periods.
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      dimension: 'AutoScalingGroupName',
      Statistic: 'Average', // not in the seed
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80,
      Period: 300,
      EvaluationPeriods: 2,
      scales: false,
    },
    'CloudMart-RDS-HighConnections': {
      // "DatabaseConnections, > 80". No period in the seed: 2 × 5 minutes (not in the seed).
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnections',
      dimension: 'DBInstanceIdentifier',
      Statistic: 'Average', // not in the seed
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80,
      Period: 300,
      EvaluationPeriods: 2,
      scales: false,
    },
    'CloudMart-ALB-SlowResponse': {
      // "TargetResponseTime, > 1 second for 3 periods; SNS → Email + Auto Scaling".
      // The period length is not in the seed: 1 minute.
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'TargetResponseTime',
      dimension: 'LoadBalancer',
      Statistic: 'Average', // not in the seed
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 1,
      Period: 60,
      EvaluationPeriods: 3,
      scales: true,
    },
    'CloudMart-UnhealthyHosts': {
      // "UnHealthyHostCount, >= 1, SNS → Email (즉시)": at once, i.e. one 1-minute period.
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'UnHealthyHostCount',
      dimension: 'TargetGroup',
      Statistic: 'Maximum', // not in the seed; "immediately" rules out an average
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      Period: 60,
      EvaluationPeriods: 1,
      scales: false,
    },
    'CloudMart-RDS-LowStorage': {
      // "FreeStorageSpace, < 2 GB". The metric is in bytes; RDS sizes storage in GiB, so
      // 2 GB is read as 2 GiB. The period is not in the seed: 5 minutes, once.
      Namespace: 'AWS/RDS',
      MetricName: 'FreeStorageSpace',
      dimension: 'DBInstanceIdentifier',
      Statistic: 'Minimum', // not in the seed
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 2 * 1024 ** 3,
      Period: 300,
      EvaluationPeriods: 1,
      scales: false,
    },
  },

  // Phase 2-3 and 4-3: log groups and their retention in days.
  logGroups: {
    '/aws/ec2/cloudmart-backend': 7,
    '/aws/alb/cloudmart-alb': 30,
    '/aws/rds/cloudmart-db': 7,
    '/aws/vpc/cloudmart-flow-logs': 7,
  },
  backendLogGroup: '/aws/ec2/cloudmart-backend',
  // "Metric Filters: ErrorCount: [ERROR]; SlowQuery: { $.query_time > 1 }". The backend logs
  // JSON lines, so the seed's "[ERROR]" is read as "events at level ERROR": the filter's
  // pattern must name ERROR. SlowQuery is given verbatim.
  errorFilter: { name: 'ErrorCount', mentions: 'ERROR' },
  slowQueryFilter: { name: 'SlowQuery', pattern: '{ $.query_time > 1 }' },
  // "Slow Query Log: Enabled" on the database, with the same 1-second bar as SlowQuery.
  slowQueryMs: '1000',

  // Phase 2-1: "Dashboard Name: CloudMart-Production" and its five widget groups.
  dashboard: {
    name: 'CloudMart-Production',
    groups: {
      'AWS/ApplicationELB': [
        'RequestCount',
        'TargetResponseTime',
        'HealthyHostCount',
        'UnHealthyHostCount',
      ],
      'AWS/EC2': ['CPUUtilization', 'NetworkIn', 'NetworkOut', 'StatusCheckFailed'],
      'AWS/RDS': [
        'CPUUtilization',
        'DatabaseConnections',
        'ReadLatency',
        'WriteLatency',
        'FreeStorageSpace',
      ],
      'AWS/ElastiCache': [
        'CPUUtilization',
        'CacheHits',
        'CacheMisses',
        'NetworkBytesIn',
        'NetworkBytesOut',
      ],
    },
    // "Custom Metrics: API Response Time (from logs), Error Rate, Active Users".
    custom: [/\bapi response time/i, /\berror rate/i, /\bactive users/i],
  },

  // Phase 3-1: RDS automated backup.
  rds: {
    multiAz: true,
    backupRetentionDays: 7,
    // "Backup Window: 03:00-04:00 (새벽)". RDS takes the window in UTC and the seed gives no
    // zone; the literal is kept as written (DESIGN.md agrees: UTC).
    backupWindow: '03:00-04:00',
    // "Point-in-Time Recovery: Enabled, Granularity: 5 minutes".
    pitrMinutes: 5,
    snapshot: 'cloudmart-db-snapshot-day5',
    // "Manual Snapshot … Retention: 30 days". AWS keeps a manual snapshot until it is deleted,
    // so the 30 days can only travel as a label on it.
    snapshotRetentionDays: '30',
    // Phase 4-1: "Encryption in Transit: SSL/TLS Required" (PostgreSQL, the default engine).
    forceSsl: { name: 'rds.force_ssl', value: '1' },
  },

  // Phase 3-2: S3 versioning and lifecycle.
  s3: {
    versioning: 'Enabled',
    noncurrentToGlacierDays: 30,
    noncurrentExpireDays: 90,
    abortMultipartDays: 7,
    sse: 'AES256', // "Default Encryption: Enabled (SSE-S3)"
  },

  // Phase 3-3: AWS Backup.
  backup: {
    plan: 'CloudMart-Daily-Backup',
    // "Schedule: Daily at 02:00". No zone in the seed: AWS Backup's default, UTC.
    schedule: 'cron(0 2 * * ? *)',
    retentionDays: 7,
    tag: { key: 'Backup', value: 'true' }, // 'All EC2 volumes with tag "Backup=true"'
  },

  // Phase 4-2: CloudTrail.
  trail: {
    name: 'CloudMart-Audit-Trail',
    // "S3 Bucket: cloudmart-audit-logs". S3 bucket names are global, so the literal name may
    // belong to another account; DESIGN.md makes it unique with a suffix. The seed's name is
    // kept as the prefix.
    bucketPrefix: 'cloudmart-audit-logs',
    readWrite: 'All', // "Management Events: Read/Write"
    // "Data Events: S3 bucket (cloudmart-frontend)": unique-suffixed like the audit bucket.
    dataEventsBucketPrefix: 'cloudmart-frontend',
  },
  // Phase 4-3: "Filter: All (Accept + Reject), Destination: CloudWatch Logs".
  flowLog: {
    trafficType: 'ALL',
    destination: 'cloud-watch-logs',
    logGroup: '/aws/vpc/cloudmart-flow-logs',
  },

  // Success criteria: "CPU 70% 초과 시 자동 스케일링".
  cpuTarget: 70,
} as const;

// ---------------------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE_CONFIG = join(ROOT, 'cloudmart.config.yaml');

type Io = NonNullable<Parameters<typeof main>[1]>;

/** The CLI's output, recorded; no terminal, so any question fails the run. */
function quietIo(): Io & { text: () => string } {
  const lines: string[] = [];
  const refuse = (message: string) => Promise.reject(new Error(`unexpected prompt: ${message}`));
  return {
    interactive: false,
    color: false,
    out: (t) => lines.push(t),
    err: (t) => lines.push(t),
    prompter: { confirm: refuse, input: refuse, select: refuse },
    text: () => lines.join('\n'),
  };
}

let cloud: FakeCloud;
let dir: string;
let upCode: number;
let upText: string;

/**
 * `cloudmart up --yes --to 4` (the load test of Phase 5 needs a real HTTP endpoint behind the
 * ALB) on a fresh fake cloud, with the config `configText` gives (undefined: the example
 * config as shipped).
 */
async function upOnFreshCloud(configText: string | undefined): Promise<void> {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  dir = mkdtempSync(join(tmpdir(), 'cloudmart-conformance-'));
  let config = EXAMPLE_CONFIG;
  if (configText !== undefined) {
    config = join(dir, 'cloudmart.config.yaml');
    writeFileSync(config, configText);
  }
  const io = quietIo();
  const common = ['--config', config, '--state', join(dir, 'state.json')];
  upCode = await main(['node', 'cloudmart', 'up', '--yes', '--to', '4', ...common], io);
  upText = io.text();
}

function tearDown(): void {
  cloud?.uninstall();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** One read against the fake cloud, answered as AWS's API answers it (every page of a list). */
function aws<T>(service: ServiceName, command: string, input: object = {}, region?: string) {
  return cloud.callAll(service, command, input, region ?? SEED.region) as Promise<T>;
}

const tags = (
  list: Array<{ Key?: string; Value?: string }> | undefined,
): Record<string, string | undefined> =>
  Object.fromEntries((list ?? []).map((t) => [t.Key ?? '', t.Value]));

/** The VPC with the seed's CIDR (exactly one). */
async function seedVpc() {
  const { Vpcs = [] } = await aws<DescribeVpcsResult>('ec2', 'DescribeVpcs');
  const vpcs = Vpcs.filter((v) => v.CidrBlock === SEED.vpcCidr);
  expect(vpcs, `one VPC ${SEED.vpcCidr}`).toHaveLength(1);
  return vpcs[0]!.VpcId!;
}

/** Subnets of the VPC by what their route table makes of them (not by cloudmart's tags). */
async function subnetsByKind(vpcId: string) {
  const [{ Subnets = [] }, { RouteTables = [] }] = await Promise.all([
    aws<DescribeSubnetsResult>('ec2', 'DescribeSubnets', {
      Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
    }),
    aws<DescribeRouteTablesResult>('ec2', 'DescribeRouteTables', {
      Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
    }),
  ]);
  const main = RouteTables.find((t) => t.Associations?.some((a) => a.Main));
  const tableOf = (subnetId: string): RouteTable | undefined =>
    RouteTables.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId)) ?? main;
  const defaultRoute = (t: RouteTable | undefined) =>
    t?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole');
  return Subnets.map((s) => {
    const table = tableOf(s.SubnetId!);
    const route = defaultRoute(table);
    const kind = route?.GatewayId?.startsWith('igw-')
      ? 'public'
      : route?.NatGatewayId
        ? 'private'
        : 'isolated';
    return {
      id: s.SubnetId!,
      az: s.AvailabilityZone!,
      kind,
      tableId: table?.RouteTableId,
      nat: route?.NatGatewayId,
    };
  });
}

/** The one resource of a kind: the seed stack has exactly one of each. */
function theOne<T>(what: string, items: T[] | undefined): T {
  expect(items, `one ${what}`).toHaveLength(1);
  return items![0]!;
}

const theLoadBalancer = async () =>
  theOne(
    'ALB',
    (await aws<DescribeLoadBalancersOutput>('elbv2', 'DescribeLoadBalancers')).LoadBalancers,
  );
/** The ALB as CloudWatch names it in the `LoadBalancer` dimension (`app/<name>/<id>`). */
const albDimension = (lb: { LoadBalancerArn?: string }) =>
  lb.LoadBalancerArn?.split(':loadbalancer/')[1];
const theDatabase = async () =>
  theOne('DB instance', (await aws<DBInstanceMessage>('rds', 'DescribeDBInstances')).DBInstances);
const theReplicationGroup = async () =>
  theOne(
    'replication group',
    (await aws<ReplicationGroupMessage>('elasticache', 'DescribeReplicationGroups'))
      .ReplicationGroups,
  );
const theAutoScalingGroup = async () =>
  theOne(
    'Auto Scaling group',
    (await aws<AutoScalingGroupsType>('autoscaling', 'DescribeAutoScalingGroups'))
      .AutoScalingGroups,
  );
const theDistribution = async () =>
  theOne(
    'distribution',
    (await aws<ListDistributionsResult>('cloudfront', 'ListDistributions')).DistributionList?.Items,
  );

/** The frontend bucket: the S3 origin of the distribution (not cloudmart's naming). */
async function frontendBucket(): Promise<string> {
  const origin = (await theDistribution()).Origins?.Items?.find((o) =>
    /\.s3\./.test(o.DomainName ?? ''),
  );
  expect(origin, 'an S3 origin').toBeDefined();
  return origin!.DomainName!.split('.s3.')[0]!;
}

async function backendMetricFilters() {
  const { metricFilters = [] } = await aws<DescribeMetricFiltersResponse>(
    'logs',
    'DescribeMetricFilters',
    { logGroupName: SEED.backendLogGroup },
  );
  return metricFilters;
}

// The example config as shipped, and a config that says only what is required: every other
// setting's default must be the seed's too.
describe.each([
  { label: 'the example config', configText: undefined },
  {
    label: 'a config with only alerts.email',
    configText: `alerts:\n  email: ${SEED.alertEmail}\n`,
  },
])('the seed stack as the fake cloud holds it after `cloudmart up` of $label', ({ configText }) => {
  beforeAll(() => upOnFreshCloud(configText), 60_000);
  afterAll(tearDown);

  it('was built: up exits 0', () => {
    expect(upCode, upText).toBe(0);
  });

  it('VPC 10.0.0.0/16 over two AZs: a public and a private subnet in each, one NAT gateway per AZ, a private route table per AZ', async () => {
    const vpcId = await seedVpc();
    const subnets = await subnetsByKind(vpcId);
    const azs = [...new Set(subnets.map((s) => s.az))].sort();
    expect(azs).toHaveLength(SEED.azs);
    for (const az of azs) {
      const here = subnets.filter((s) => s.az === az);
      expect(
        here.filter((s) => s.kind === 'public').length,
        `public subnets in ${az}`,
      ).toBeGreaterThanOrEqual(1);
      expect(
        here.filter((s) => s.kind === 'private').length,
        `private subnets in ${az}`,
      ).toBeGreaterThanOrEqual(1);
    }
    const { NatGateways = [] } = await aws<DescribeNatGatewaysResult>(
      'ec2',
      'DescribeNatGateways',
      {
        Filter: [{ Name: 'vpc-id', Values: [vpcId] }],
      },
    );
    const nats = NatGateways.filter((n) => n.State === 'available');
    const azOf = (subnetId: string | undefined) => subnets.find((s) => s.id === subnetId)?.az;
    // "2개 AZ에 각각 NAT Gateway": one per AZ, each in a public subnet of its AZ.
    expect(nats.map((n) => azOf(n.SubnetId)).sort()).toEqual(azs);
    for (const n of nats) {
      expect(subnets.find((s) => s.id === n.SubnetId)?.kind, `${n.NatGatewayId} subnet`).toBe(
        'public',
      );
    }
    // "Private Route Table 분리 (AZ별)": every private subnet leaves through the NAT of its own
    // AZ, and the two AZs do not share a table.
    const privateSubnets = subnets.filter((s) => s.kind === 'private');
    for (const s of privateSubnets) {
      const nat = nats.find((n) => n.NatGatewayId === s.nat);
      expect(azOf(nat?.SubnetId), `NAT used by ${s.id} (${s.az})`).toBe(s.az);
    }
    const tablesPerAz = azs.map(
      (az) => new Set(privateSubnets.filter((s) => s.az === az).map((s) => s.tableId)),
    );
    expect(tablesPerAz.map((t) => t.size)).toEqual([1, 1]);
    expect([...tablesPerAz[0]!][0]).not.toBe([...tablesPerAz[1]!][0]);
  });

  it('the five alarms, each exactly as the seed defines it, on the live resources, notifying the email topic', async () => {
    const names = Object.keys(SEED.alarms);
    const { MetricAlarms = [] } = await aws<DescribeAlarmsOutput>('cloudwatch', 'DescribeAlarms', {
      AlarmNames: names,
    });
    expect(MetricAlarms.map((a) => a.AlarmName).sort()).toEqual([...names].sort());

    const group = await theAutoScalingGroup();
    const { ScalingPolicies = [] } = await aws<PoliciesType>('autoscaling', 'DescribePolicies', {
      AutoScalingGroupName: group.AutoScalingGroupName,
    });
    const lbDimension = albDimension(await theLoadBalancer());
    const liveDimension: Record<string, string | undefined> = {
      AutoScalingGroupName: group.AutoScalingGroupName,
      DBInstanceIdentifier: (await theDatabase()).DBInstanceIdentifier,
      LoadBalancer: lbDimension,
      TargetGroup: group.TargetGroupARNs?.[0]?.split(':').pop(),
    };

    for (const alarm of MetricAlarms) {
      const want = SEED.alarms[alarm.AlarmName as keyof typeof SEED.alarms];
      expect(
        {
          Namespace: alarm.Namespace,
          MetricName: alarm.MetricName,
          Statistic: alarm.Statistic,
          ComparisonOperator: alarm.ComparisonOperator,
          Threshold: alarm.Threshold,
          Period: alarm.Period,
          EvaluationPeriods: alarm.EvaluationPeriods,
          // Every period of the window must breach (AWS's default when it is not set).
          DatapointsToAlarm: alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods,
          ActionsEnabled: alarm.ActionsEnabled,
        },
        alarm.AlarmName,
      ).toEqual({
        Namespace: want.Namespace,
        MetricName: want.MetricName,
        Statistic: want.Statistic,
        ComparisonOperator: want.ComparisonOperator,
        Threshold: want.Threshold,
        Period: want.Period,
        EvaluationPeriods: want.EvaluationPeriods,
        DatapointsToAlarm: want.EvaluationPeriods,
        ActionsEnabled: true,
      });
      // It watches the live resource, not a stale or made-up one.
      const dims = Object.fromEntries((alarm.Dimensions ?? []).map((d) => [d.Name, d.Value]));
      expect(dims[want.dimension], `${alarm.AlarmName} ${want.dimension}`).toBe(
        liveDimension[want.dimension],
      );
      if (want.dimension === 'TargetGroup') expect(dims.LoadBalancer).toBe(lbDimension);

      // "Action: SNS → Email": a topic with the operator's email subscribed.
      const topics = (alarm.AlarmActions ?? []).filter((a) => a.includes(':sns:'));
      expect(topics, `${alarm.AlarmName} SNS action`).toHaveLength(1);
      const { Subscriptions = [] } = await aws<ListSubscriptionsByTopicResponse>(
        'sns',
        'ListSubscriptionsByTopic',
        { TopicArn: topics[0] },
      );
      expect(Subscriptions.map((s) => `${s.Protocol}:${s.Endpoint}`)).toContain(
        `email:${SEED.alertEmail}`,
      );
      // "SNS → Email + Auto Scaling" for the slow-response alarm only: a policy of the group
      // that adds capacity.
      const scaling = (alarm.AlarmActions ?? []).filter((a) => a.includes(':autoscaling:'));
      if (want.scales) {
        expect(scaling, `${alarm.AlarmName} scaling action`).toHaveLength(1);
        const policy = ScalingPolicies.find((p) => p.PolicyARN === scaling[0]);
        expect(policy?.ScalingAdjustment ?? 0, 'the policy adds instances').toBeGreaterThan(0);
      } else {
        expect(scaling, `${alarm.AlarmName} scaling action`).toEqual([]);
      }
    }
  });

  it('log groups with the seed retentions, the ErrorCount and SlowQuery filters, ALB logs exported to S3, the RDS slow query log', async () => {
    const { logGroups = [] } = await aws<DescribeLogGroupsResponse>('logs', 'DescribeLogGroups');
    const retention = Object.fromEntries(logGroups.map((g) => [g.logGroupName, g.retentionInDays]));
    for (const [name, days] of Object.entries(SEED.logGroups)) {
      expect(retention[name], `${name} retention`).toBe(days);
    }

    const byName = new Map((await backendMetricFilters()).map((f) => [f.filterName, f]));
    expect(byName.get(SEED.errorFilter.name)?.filterPattern).toContain(SEED.errorFilter.mentions);
    expect(byName.get(SEED.errorFilter.name)?.metricTransformations?.[0]?.metricName).toBe(
      SEED.errorFilter.name,
    );
    expect(byName.get(SEED.slowQueryFilter.name)?.filterPattern).toBe(SEED.slowQueryFilter.pattern);

    // "/aws/alb/cloudmart-alb … S3 Export: Enabled (장기 보관)": the ALB's access logs go to S3.
    const { Attributes = [] } = await aws<DescribeLoadBalancerAttributesOutput>(
      'elbv2',
      'DescribeLoadBalancerAttributes',
      { LoadBalancerArn: (await theLoadBalancer()).LoadBalancerArn },
    );
    const attr = Object.fromEntries(Attributes.map((a) => [a.Key, a.Value]));
    expect(attr['access_logs.s3.enabled']).toBe('true');
    expect(attr['access_logs.s3.bucket']).toBeTruthy();

    // "/aws/rds/cloudmart-db … Slow Query Log: Enabled": statements over 1 s logged and
    // exported to CloudWatch Logs.
    const db = await theDatabase();
    expect(db.EnabledCloudwatchLogsExports).toContain('postgresql');
    const params = await dbParameters(db.DBParameterGroups?.[0]?.DBParameterGroupName);
    expect(params.log_min_duration_statement).toBe(SEED.slowQueryMs);
  });

  it('the CloudMart-Production dashboard shows the five widget groups of the seed, on the live resources', async () => {
    const { DashboardBody } = await aws<GetDashboardOutput>('cloudwatch', 'GetDashboard', {
      DashboardName: SEED.dashboard.name,
    });
    const body = JSON.parse(DashboardBody ?? '{}') as {
      widgets: Array<{ type: string; properties: { title?: string; metrics?: unknown[][] } }>;
    };
    const metricRows = (w: (typeof body.widgets)[number]) =>
      (w.properties.metrics ?? []).filter((row) => typeof row[0] === 'string') as string[][];
    const shown = new Map<string, Set<string>>();
    const dimensionValues = new Map<string, Set<string>>();
    for (const w of body.widgets) {
      for (const row of metricRows(w)) {
        const [ns, metric, ...rest] = row;
        if (!shown.has(ns!)) shown.set(ns!, new Set());
        shown.get(ns!)!.add(metric!);
        for (let i = 0; i + 1 < rest.length; i += 2) {
          if (typeof rest[i] !== 'string' || typeof rest[i + 1] !== 'string') break;
          const key = `${ns} ${rest[i]}`;
          if (!dimensionValues.has(key)) dimensionValues.set(key, new Set());
          dimensionValues.get(key)!.add(rest[i + 1]!);
        }
      }
    }
    for (const [ns, metrics] of Object.entries(SEED.dashboard.groups)) {
      for (const m of metrics)
        expect(shown.get(ns)?.has(m), `${ns} ${m} on the dashboard`).toBe(true);
    }

    // The widgets point at this stack's resources.
    expect([...(dimensionValues.get('AWS/ApplicationELB LoadBalancer') ?? [])]).toEqual([
      albDimension(await theLoadBalancer()),
    ]);
    expect([...(dimensionValues.get('AWS/RDS DBInstanceIdentifier') ?? [])]).toEqual([
      (await theDatabase()).DBInstanceIdentifier,
    ]);
    expect([...(dimensionValues.get('AWS/ElastiCache CacheClusterId') ?? [])].sort()).toEqual(
      [...((await theReplicationGroup()).MemberClusters ?? [])].sort(),
    );
    expect(dimensionValues.get('AWS/EC2 AutoScalingGroupName')).toEqual(
      new Set([(await theAutoScalingGroup()).AutoScalingGroupName]),
    );

    // "5. Custom Metrics: API Response Time (from logs), Error Rate, Active Users": a widget
    // for each, fed by metric filters on the backend's log group.
    const fromLogs = new Set(
      (await backendMetricFilters()).flatMap((f) =>
        (f.metricTransformations ?? []).map((t) => `${t.metricNamespace} ${t.metricName}`),
      ),
    );
    for (const title of SEED.dashboard.custom) {
      const widget = body.widgets.find((w) => title.test(w.properties.title ?? ''));
      expect(widget, `a dashboard widget titled ${title}`).toBeDefined();
      const rows = metricRows(widget!);
      expect(rows.length, `${title} plots metrics`).toBeGreaterThan(0);
      for (const [ns, metric] of rows) {
        expect(fromLogs, `${title}: ${ns} ${metric} comes from the backend logs`).toContain(
          `${ns} ${metric}`,
        );
      }
    }
  });

  it('RDS: Multi-AZ, private, KMS-encrypted, TLS required, 7-day backups in 03:00-04:00, PITR within 5 minutes, copied to ap-northeast-1, the manual snapshot', async () => {
    const db = await theDatabase();
    expect({
      MultiAZ: db.MultiAZ,
      PubliclyAccessible: db.PubliclyAccessible,
      StorageEncrypted: db.StorageEncrypted,
      BackupRetentionPeriod: db.BackupRetentionPeriod,
      PreferredBackupWindow: db.PreferredBackupWindow,
    }).toEqual({
      MultiAZ: SEED.rds.multiAz,
      PubliclyAccessible: false,
      StorageEncrypted: true,
      BackupRetentionPeriod: SEED.rds.backupRetentionDays,
      PreferredBackupWindow: SEED.rds.backupWindow,
    });
    // "Storage Encryption: Enabled (KMS)".
    expect(db.KmsKeyId).toMatch(/^arn:aws:kms:/);
    // The standby lives in the other AZ.
    expect(db.SecondaryAvailabilityZone).toBeDefined();
    expect(db.SecondaryAvailabilityZone).not.toBe(db.AvailabilityZone);

    // "Encryption in Transit: SSL/TLS Required".
    const params = await dbParameters(db.DBParameterGroups?.[0]?.DBParameterGroupName);
    expect(params[SEED.rds.forceSsl.name]).toBe(SEED.rds.forceSsl.value);

    // "Point-in-Time Recovery: Granularity: 5 minutes".
    const restorable = db.LatestRestorableTime?.getTime() ?? 0;
    expect(cloud.now() - restorable).toBeLessThanOrEqual(SEED.rds.pitrMinutes * 60_000);

    // "Copy to Another Region: ap-northeast-1": the automated backups replicate there.
    const { DBInstanceAutomatedBackups = [] } = await aws<DBInstanceAutomatedBackupMessage>(
      'rds',
      'DescribeDBInstanceAutomatedBackups',
      { DbiResourceId: db.DbiResourceId },
      SEED.drRegion,
    );
    // AWS's documentation and its answers spell this status in different cases.
    expect(DBInstanceAutomatedBackups.map((b) => b.Status?.toLowerCase())).toEqual(['replicating']);
    expect(DBInstanceAutomatedBackups[0]!.BackupRetentionPeriod).toBe(SEED.rds.backupRetentionDays);

    // "Manual Snapshot: Create Now: cloudmart-db-snapshot-day5, Retention: 30 days".
    const { DBSnapshots = [] } = await aws<DBSnapshotMessage>('rds', 'DescribeDBSnapshots', {
      DBSnapshotIdentifier: SEED.rds.snapshot,
    });
    expect(DBSnapshots.map((s) => [s.SnapshotType, s.Status, s.Encrypted])).toEqual([
      ['manual', 'available', true],
    ]);
    expect(Object.values(tags(DBSnapshots[0]!.TagList))).toContain(SEED.rds.snapshotRetentionDays);

    // "Private Subnet에 민감 리소스 배치": the DB subnet group holds private subnets only, in both AZs.
    const vpcId = await seedVpc();
    const subnets = await subnetsByKind(vpcId);
    const dbSubnets = (db.DBSubnetGroup?.Subnets ?? []).map((s) =>
      subnets.find((x) => x.id === s.SubnetIdentifier),
    );
    expect(dbSubnets.map((s) => s?.kind === 'public')).not.toContain(true);
    expect(new Set(dbSubnets.map((s) => s?.az)).size).toBe(SEED.azs);
  });

  it('Redis: a node in each AZ, automatic failover and Multi-AZ, encrypted at rest and in transit, AUTH on', async () => {
    const g = await theReplicationGroup();
    expect({
      AutomaticFailover: g.AutomaticFailover,
      MultiAZ: g.MultiAZ,
      AtRestEncryptionEnabled: g.AtRestEncryptionEnabled,
      TransitEncryptionEnabled: g.TransitEncryptionEnabled,
      TransitEncryptionMode: g.TransitEncryptionMode ?? 'required',
      AuthTokenEnabled: g.AuthTokenEnabled,
    }).toEqual({
      AutomaticFailover: 'enabled',
      MultiAZ: 'enabled',
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AuthTokenEnabled: true,
    });
    const azs = (g.NodeGroups ?? []).flatMap((n) =>
      (n.NodeGroupMembers ?? []).map((m) => m.PreferredAvailabilityZone),
    );
    expect(new Set(azs).size).toBe(SEED.azs);
  });

  it('the frontend bucket behind CloudFront: versioned, lifecycle 30 → Glacier / 90 expire / 7 multipart, SSE-S3, HTTPS only; WAF on the distribution', async () => {
    const dist = await theDistribution();
    const bucket = await frontendBucket();

    const versioning = await aws<GetBucketVersioningOutput>('s3', 'GetBucketVersioning', {
      Bucket: bucket,
    });
    expect(versioning.Status).toBe(SEED.s3.versioning);

    const { Rules = [] } = await aws<GetBucketLifecycleConfigurationOutput>(
      's3',
      'GetBucketLifecycleConfiguration',
      { Bucket: bucket },
    );
    const enabled = Rules.filter((r) => r.Status === 'Enabled');
    // Rule 1 "Archive Old Versions": current versions kept, previous ones to Glacier after 30
    // days and deleted after 90.
    expect(enabled.flatMap((r) => r.NoncurrentVersionTransitions ?? [])).toEqual([
      expect.objectContaining({
        NoncurrentDays: SEED.s3.noncurrentToGlacierDays,
        StorageClass: 'GLACIER',
      }),
    ]);
    expect(
      enabled.map((r) => r.NoncurrentVersionExpiration?.NoncurrentDays).filter(Boolean),
    ).toEqual([SEED.s3.noncurrentExpireDays]);
    expect(enabled.filter((r) => r.Expiration || r.Transitions?.length)).toEqual([]);
    // Rule 2 "Incomplete Multipart Uploads: Delete after 7 days".
    expect(
      enabled.map((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation).filter(Boolean),
    ).toEqual([SEED.s3.abortMultipartDays]);
    // Both apply to the whole bucket.
    for (const r of enabled) expect(r.Filter?.Prefix ?? r.Prefix ?? '').toBe('');

    const encryption = await aws<GetBucketEncryptionOutput>('s3', 'GetBucketEncryption', {
      Bucket: bucket,
    });
    expect(
      encryption.ServerSideEncryptionConfiguration?.Rules?.map(
        (r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
      ),
    ).toEqual([SEED.s3.sse]);

    // "Bucket Policy: Enforce HTTPS only": a Deny of every action on the bucket and its
    // objects when aws:SecureTransport is false.
    const { Policy } = await aws<GetBucketPolicyOutput>('s3', 'GetBucketPolicy', {
      Bucket: bucket,
    });
    const statements = (JSON.parse(Policy ?? '{}') as { Statement: PolicyStatement[] }).Statement;
    const denyHttp = statements.find(
      (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
    );
    expect(denyHttp, 'a Deny on aws:SecureTransport=false').toBeDefined();
    expect([denyHttp!.Action].flat()).toContain('s3:*');
    expect([denyHttp!.Resource].flat().sort()).toEqual(
      [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`].sort(),
    );

    // "CloudFront (CDN + WAF)": a web ACL of scope CLOUDFRONT (global, us-east-1) on it.
    expect(dist.WebACLId).toMatch(/^arn:aws:wafv2:us-east-1:\d{12}:global\/webacl\//);
    const { WebACLs = [] } = await aws<ListWebACLsResponse>(
      'wafv2',
      'ListWebACLs',
      { Scope: 'CLOUDFRONT' },
      'us-east-1',
    );
    const acl = WebACLs.find((a) => a.ARN === dist.WebACLId);
    expect(acl, 'the distribution’s web ACL exists in CLOUDFRONT scope').toBeDefined();
    const { WebACL } = await aws<GetWebACLResponse>(
      'wafv2',
      'GetWebACL',
      { Scope: 'CLOUDFRONT', Name: acl!.Name, Id: acl!.Id },
      'us-east-1',
    );
    expect(WebACL?.Rules?.length ?? 0).toBeGreaterThan(0);
  });

  it('AWS Backup: CloudMart-Daily-Backup, daily at 02:00, kept 7 days, selecting Backup=true, and the app volumes carry the tag', async () => {
    const { BackupPlansList = [] } = await aws<{ BackupPlansList?: BackupPlansListMember[] }>(
      'backup',
      'ListBackupPlans',
    );
    const plans = BackupPlansList.filter((p) => p.BackupPlanName === SEED.backup.plan);
    expect(plans).toHaveLength(1);
    const { BackupPlan } = await aws<GetBackupPlanOutput>('backup', 'GetBackupPlan', {
      BackupPlanId: plans[0]!.BackupPlanId,
    });
    expect(
      BackupPlan?.Rules?.map((r) => ({
        schedule: r.ScheduleExpression,
        zone: r.ScheduleExpressionTimezone ?? 'Etc/UTC',
        days: r.Lifecycle?.DeleteAfterDays,
      })),
    ).toEqual([
      { schedule: SEED.backup.schedule, zone: 'Etc/UTC', days: SEED.backup.retentionDays },
    ]);

    const { BackupSelectionsList = [] } = await aws<{
      BackupSelectionsList?: BackupSelectionsListMember[];
    }>('backup', 'ListBackupSelections', { BackupPlanId: plans[0]!.BackupPlanId });
    expect(BackupSelectionsList).toHaveLength(1);
    const { BackupSelection } = await aws<GetBackupSelectionOutput>(
      'backup',
      'GetBackupSelection',
      {
        BackupPlanId: plans[0]!.BackupPlanId,
        SelectionId: BackupSelectionsList[0]!.SelectionId,
      },
    );
    const byTag = [
      ...(BackupSelection?.ListOfTags ?? []).map((t) => `${t.ConditionKey}=${t.ConditionValue}`),
      ...(BackupSelection?.Conditions?.StringEquals ?? []).map(
        (c) => `${c.ConditionKey?.replace(/^aws:ResourceTag\//, '')}=${c.ConditionValue}`,
      ),
    ];
    expect(byTag).toContain(`${SEED.backup.tag.key}=${SEED.backup.tag.value}`);

    // "Resources: All EC2 volumes with tag Backup=true": the app instances' volumes have it.
    const instanceIds = ((await theAutoScalingGroup()).Instances ?? []).map((i) => i.InstanceId!);
    expect(instanceIds.length).toBeGreaterThan(0);
    const { Volumes = [] } = await aws<DescribeVolumesResult>('ec2', 'DescribeVolumes', {
      Filters: [{ Name: 'attachment.instance-id', Values: instanceIds }],
    });
    expect(Volumes.length).toBeGreaterThanOrEqual(instanceIds.length);
    for (const v of Volumes)
      expect(tags(v.Tags)[SEED.backup.tag.key], v.VolumeId).toBe(SEED.backup.tag.value);
  });

  it('CloudTrail: CloudMart-Audit-Trail, all regions, read/write management events, S3 data events on the frontend bucket, validation, logging', async () => {
    const { trailList = [] } = await aws<DescribeTrailsResponse>('cloudtrail', 'DescribeTrails', {
      trailNameList: [SEED.trail.name],
    });
    expect(trailList).toHaveLength(1);
    const t = trailList[0]!;
    expect({
      IsMultiRegionTrail: t.IsMultiRegionTrail,
      IncludeGlobalServiceEvents: t.IncludeGlobalServiceEvents,
      LogFileValidationEnabled: t.LogFileValidationEnabled,
    }).toEqual({
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      LogFileValidationEnabled: true,
    });
    expect(t.S3BucketName?.startsWith(SEED.trail.bucketPrefix), t.S3BucketName).toBe(true);

    const status = await aws<GetTrailStatusResponse>('cloudtrail', 'GetTrailStatus', {
      Name: SEED.trail.name,
    });
    expect(status.IsLogging).toBe(true);

    const frontend = await frontendBucket();
    expect(frontend.startsWith(SEED.trail.dataEventsBucketPrefix), frontend).toBe(true);
    const selectors = await aws<GetEventSelectorsResponse>('cloudtrail', 'GetEventSelectors', {
      TrailName: SEED.trail.name,
    });
    const basic = selectors.EventSelectors ?? [];
    const advanced = selectors.AdvancedEventSelectors ?? [];
    const management =
      basic.some((s) => s.IncludeManagementEvents && s.ReadWriteType === SEED.trail.readWrite) ||
      advanced.some(
        (s) =>
          s.FieldSelectors?.some(
            (f) => f.Field === 'eventCategory' && f.Equals?.includes('Management'),
          ) && !s.FieldSelectors?.some((f) => f.Field === 'readOnly'),
      );
    expect(management, 'read and write management events').toBe(true);
    const objectArns = [
      ...basic.flatMap((s) =>
        (s.DataResources ?? [])
          .filter((d) => d.Type === 'AWS::S3::Object')
          .flatMap((d) => d.Values ?? []),
      ),
      ...advanced.flatMap((s) =>
        s.FieldSelectors?.some(
          (f) => f.Field === 'resources.type' && f.Equals?.includes('AWS::S3::Object'),
        )
          ? (s.FieldSelectors.find((f) => f.Field === 'resources.ARN')?.StartsWith ?? [])
          : [],
      ),
    ];
    expect(objectArns, 'S3 data events on the frontend bucket').toContain(
      `arn:aws:s3:::${frontend}/`,
    );
  });

  it('VPC Flow Logs of all traffic (accept + reject) into /aws/vpc/cloudmart-flow-logs', async () => {
    const vpcId = await seedVpc();
    const { FlowLogs = [] } = await aws<DescribeFlowLogsResult>('ec2', 'DescribeFlowLogs', {
      Filter: [{ Name: 'resource-id', Values: [vpcId] }],
    });
    expect(
      FlowLogs.map((f) => ({
        TrafficType: f.TrafficType,
        LogDestinationType: f.LogDestinationType ?? 'cloud-watch-logs',
        LogGroupName: f.LogGroupName,
        FlowLogStatus: f.FlowLogStatus,
      })),
    ).toEqual([
      {
        TrafficType: SEED.flowLog.trafficType,
        LogDestinationType: SEED.flowLog.destination,
        LogGroupName: SEED.flowLog.logGroup,
        FlowLogStatus: 'ACTIVE',
      },
    ]);
  });

  it('Auto Scaling across the private subnets of both AZs with target tracking on CPU 70 %; minimum-privilege security groups', async () => {
    const vpcId = await seedVpc();
    const subnets = await subnetsByKind(vpcId);
    const g = await theAutoScalingGroup();
    const groupSubnets = (g.VPCZoneIdentifier ?? '').split(',').filter(Boolean);
    const kinds = groupSubnets.map((id) => subnets.find((s) => s.id === id));
    expect(kinds.map((s) => s?.kind)).toEqual(groupSubnets.map(() => 'private'));
    expect(new Set(kinds.map((s) => s?.az)).size, 'AZs of the group').toBe(SEED.azs);
    expect(
      new Set((g.Instances ?? []).map((i) => i.AvailabilityZone)).size,
      'AZs of the instances',
    ).toBe(SEED.azs);
    expect(g.HealthCheckType).toBe('ELB');

    const { ScalingPolicies = [] } = await aws<PoliciesType>('autoscaling', 'DescribePolicies', {
      AutoScalingGroupName: g.AutoScalingGroupName,
    });
    const tracking = ScalingPolicies.filter((p) => p.PolicyType === 'TargetTrackingScaling');
    expect(
      tracking.map((p) => [
        p.TargetTrackingConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType,
        p.TargetTrackingConfiguration?.TargetValue,
      ]),
    ).toEqual([['ASGAverageCPUUtilization', SEED.cpuTarget]]);

    // "불필요한 포트 모두 차단": no SSH or anything but the ALB's 80/443 open to the world; the
    // data tier admits security groups only.
    const { SecurityGroups = [] } = await aws<DescribeSecurityGroupsResult>(
      'ec2',
      'DescribeSecurityGroups',
      {
        Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
      },
    );
    for (const sg of SecurityGroups) {
      for (const p of sg.IpPermissions ?? []) {
        const world = (p.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0');
        if (world)
          expect([80, 443], `${sg.GroupName} open to the world on ${p.FromPort}`).toContain(
            p.FromPort,
          );
        if (world) expect(p.ToPort).toBe(p.FromPort);
      }
    }
    const dbGroups = ((await theDatabase()).VpcSecurityGroups ?? []).map(
      (g) => g.VpcSecurityGroupId,
    );
    for (const sg of SecurityGroups.filter((s) => dbGroups.includes(s.GroupId))) {
      for (const p of sg.IpPermissions ?? []) {
        expect(p.IpRanges ?? [], `${sg.GroupName} admits CIDRs`).toEqual([]);
        expect((p.UserIdGroupPairs ?? []).length).toBeGreaterThan(0);
      }
    }
  });
});

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: { Bool?: Record<string, string> };
}

async function dbParameters(
  group: string | undefined,
): Promise<Record<string, string | undefined>> {
  const { Parameters = [] } = await aws<DBParameterGroupDetails>('rds', 'DescribeDBParameters', {
    DBParameterGroupName: group,
  });
  return Object.fromEntries(Parameters.map((p) => [p.ParameterName ?? '', p.ParameterValue]));
}
