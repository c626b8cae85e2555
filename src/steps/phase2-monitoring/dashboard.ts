import { allPages } from '../../aws/pages.js';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { isNotFound } from '../../aws/errors.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import {
  STEP,
  type AlbOutputs,
  type AsgOutputs,
  type RdsOutputs,
  type RedisOutputs,
} from '../outputs.js';
import { describeDbInstance } from '../phase1-foundation/rds-database.js';
import { AGENT_CPU_TOTAL, AGENT_NAMESPACE } from '../phase1-foundation/user-data.js';
import { ALARM_KEYS, alarmArn, alarmNames } from './alarms.js';
import { canonicalJson, parseJson, sameJson } from './compare.js';

const cwSdk = () => import('@aws-sdk/client-cloudwatch');
const asgSdk = () => import('@aws-sdk/client-auto-scaling');
const elbSdk = () => import('@aws-sdk/client-elastic-load-balancing-v2');
const cacheSdk = () => import('@aws-sdk/client-elasticache');

type Config = StepContext['config'];

/**
 * `monitoring.dashboard`: the seed's `CloudMart-Production` dashboard, built by a pure function
 * from the ids that live as long as the stack (ALB and target group dimensions, the ASG's name,
 * RDS instance, Redis member clusters). PutDashboard replaces the whole body, so create compares
 * the parsed live body with the wanted one and writes only when they differ.
 *
 * The dashboard never names an EC2 instance id, so it stays right when the Auto Scaling group
 * replaces an instance (the instance drill, a failed health check, a scale-out):
 * - EC2 CPU, network and status checks use the AWS/EC2 metrics per AutoScalingGroupName, which
 *   EC2 publishes for the instances of a group ("AutoScalingGroupName" dimension, EC2 User
 *   Guide, viewing-metrics-with-cloudwatch); Maximum of CPU is the hottest instance.
 * - One line per instance comes from SEARCH expressions over the CloudWatch agent's memory and
 *   CPU metrics in the group. The agent config (user-data.ts `agentConfig`) appends
 *   AutoScalingGroupName and InstanceId to every metric and then drops the `host` dimension
 *   ("If append_dimensions are applied, then remove the host dimension", the agent's ec2tagger
 *   processor), so each instance's mem_used_percent has exactly the dimensions
 *   {AutoScalingGroupName, InstanceId}; its cpu_usage_active also keeps the cpu input's own `cpu`
 *   tag (`cpu-total` with totalcpu and no per-core resources, see AGENT_CPU_TOTAL): exactly
 *   {AutoScalingGroupName, InstanceId, cpu}. A SEARCH schema matches only metrics with exactly
 *   its dimensions ("CloudWatch search expression syntax", metric schema:
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html),
 *   so each search names exactly those. aggregation_dimensions [["AutoScalingGroupName"]] adds
 *   one series per group (CloudWatch agent configuration file, metrics section). A SEARCH over
 *   AWS/EC2 per InstanceId cannot be limited to the group: those metrics carry no group dimension.
 * - A SEARCH sits alone in its metrics row, with an `id` and a `label` (dashboard body
 *   structure: a math expression row is `[{ "expression": ..., "id": ..., "label": ... }]`).
 */

export interface DashboardOutputs {
  dashboardName: string;
  dashboardArn: string;
  /** Printed by the CLI. */
  consoleUrl: string;
  [k: string]: unknown;
}

export interface DashboardInput {
  region: string;
  namespace: string;
  alarmArns: string[];
  loadBalancerDimension: string;
  targetGroupDimension: string;
  autoScalingGroupName: string;
  dbInstanceIdentifier: string;
  cacheClusterIds: string[];
}

type MetricRow = Array<string | Record<string, unknown>>;

export interface MetricWidget {
  type: 'metric';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: {
    title: string;
    region: string;
    view: 'timeSeries';
    stacked: boolean;
    period: number;
    metrics: MetricRow[];
    yAxis?: Record<string, unknown>;
  };
}

export interface AlarmWidget {
  type: 'alarm';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title: string; alarms: string[] };
}

export type Widget = MetricWidget | AlarmWidget;

export interface DashboardBody {
  widgets: Widget[];
}

/** One memory line per instance of the group, whichever instances it holds now. */
export function memorySearch(autoScalingGroupName: string): string {
  return `SEARCH('{${AGENT_NAMESPACE},AutoScalingGroupName,InstanceId} MetricName="mem_used_percent" AutoScalingGroupName="${autoScalingGroupName}"', 'Average', 300)`;
}

/** One CPU line per instance of the group: the agent's whole-instance series (cpu="cpu-total"). */
export function cpuSearch(autoScalingGroupName: string): string {
  return `SEARCH('{${AGENT_NAMESPACE},AutoScalingGroupName,InstanceId,cpu} MetricName="cpu_usage_active" AutoScalingGroupName="${autoScalingGroupName}" cpu="${AGENT_CPU_TOTAL}"', 'Average', 300)`;
}

/**
 * The per-instance SEARCHes the dashboard must hold: the agent metric and the exact dimensions
 * the agent publishes it with (a schema with one dimension more or less finds nothing).
 */
export const INSTANCE_SEARCHES: ReadonlyArray<{ metricName: string; dimensionNames: string[] }> = [
  { metricName: 'cpu_usage_active', dimensionNames: ['AutoScalingGroupName', 'InstanceId', 'cpu'] },
  { metricName: 'mem_used_percent', dimensionNames: ['AutoScalingGroupName', 'InstanceId'] },
];

export function consoleUrl(region: string, dashboardName: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${dashboardName}`;
}

/** The dashboard body for the given live ids. Pure: the same ids give the same body. */
export function dashboardBody(input: DashboardInput): DashboardBody {
  const widgets: Widget[] = [];
  let y = 0;
  const metricRow = (
    cells: Array<Omit<MetricWidget['properties'], 'region' | 'view' | 'stacked'>>,
  ) => {
    const width = 24 / cells.length;
    cells.forEach((p, i) =>
      widgets.push({
        type: 'metric',
        x: i * width,
        y,
        width,
        height: 6,
        properties: { view: 'timeSeries', stacked: false, region: input.region, ...p },
      }),
    );
    y += 6;
  };

  widgets.push({
    type: 'alarm',
    x: 0,
    y,
    width: 24,
    height: 3,
    properties: { title: 'Alarm status', alarms: input.alarmArns },
  });
  y += 3;

  const ELB = 'AWS/ApplicationELB';
  const lb = ['LoadBalancer', input.loadBalancerDimension];
  const lbTg = [...lb, 'TargetGroup', input.targetGroupDimension];
  metricRow([
    {
      title: 'ALB requests',
      period: 60,
      metrics: [[ELB, 'RequestCount', ...lb, { stat: 'Sum', label: 'Requests' }]],
    },
    {
      title: 'ALB target response time (s)',
      period: 60,
      metrics: [
        [ELB, 'TargetResponseTime', ...lb, { stat: 'p50', label: 'p50' }],
        [ELB, 'TargetResponseTime', ...lb, { stat: 'p95', label: 'p95' }],
        [ELB, 'TargetResponseTime', ...lb, { stat: 'Average', label: 'Average' }],
      ],
    },
    {
      title: 'ALB target health',
      period: 60,
      metrics: [
        [ELB, 'HealthyHostCount', ...lbTg, { stat: 'Minimum', label: 'Healthy' }],
        [ELB, 'UnHealthyHostCount', ...lbTg, { stat: 'Maximum', label: 'Unhealthy' }],
      ],
    },
  ]);

  const asg = ['AutoScalingGroupName', input.autoScalingGroupName];
  const perInstance = "${PROP('Dim.InstanceId')}";
  metricRow([
    {
      title: 'EC2 CPU utilization (%)',
      period: 300,
      metrics: [
        ['AWS/EC2', 'CPUUtilization', ...asg, { stat: 'Average', label: 'ASG average' }],
        ['AWS/EC2', 'CPUUtilization', ...asg, { stat: 'Maximum', label: 'Hottest instance' }],
      ],
      yAxis: { left: { min: 0, max: 100 } },
    },
    {
      title: 'EC2 CPU per instance (%)',
      period: 300,
      metrics: [
        [
          {
            id: 'cpuPerInstance',
            expression: cpuSearch(input.autoScalingGroupName),
            label: perInstance,
          },
        ],
      ],
      yAxis: { left: { min: 0, max: 100 } },
    },
    {
      title: 'EC2 memory per instance (%)',
      period: 300,
      metrics: [
        [
          {
            id: 'memPerInstance',
            expression: memorySearch(input.autoScalingGroupName),
            label: perInstance,
          },
        ],
        [AGENT_NAMESPACE, 'mem_used_percent', ...asg, { stat: 'Average', label: 'ASG average' }],
      ],
      yAxis: { left: { min: 0, max: 100 } },
    },
  ]);
  metricRow([
    {
      title: 'EC2 network (bytes)',
      period: 300,
      metrics: [
        ['AWS/EC2', 'NetworkIn', ...asg, { stat: 'Sum', label: 'NetworkIn' }],
        ['AWS/EC2', 'NetworkOut', ...asg, { stat: 'Sum', label: 'NetworkOut' }],
      ],
    },
    {
      title: 'EC2 status checks failed',
      period: 300,
      metrics: [
        ['AWS/EC2', 'StatusCheckFailed', ...asg, { stat: 'Maximum', label: 'StatusCheckFailed' }],
      ],
    },
  ]);

  const RDS = 'AWS/RDS';
  const db = ['DBInstanceIdentifier', input.dbInstanceIdentifier];
  metricRow([
    {
      title: 'RDS CPU utilization (%)',
      period: 60,
      metrics: [[RDS, 'CPUUtilization', ...db, { stat: 'Average', label: 'CPU' }]],
    },
    {
      title: 'RDS connections',
      period: 60,
      metrics: [[RDS, 'DatabaseConnections', ...db, { stat: 'Average', label: 'Connections' }]],
    },
    {
      title: 'RDS read / write latency (s)',
      period: 60,
      metrics: [
        [RDS, 'ReadLatency', ...db, { stat: 'Average', label: 'ReadLatency' }],
        [RDS, 'WriteLatency', ...db, { stat: 'Average', label: 'WriteLatency' }],
      ],
    },
    {
      title: 'RDS free storage (bytes)',
      period: 300,
      metrics: [[RDS, 'FreeStorageSpace', ...db, { stat: 'Minimum', label: 'FreeStorageSpace' }]],
    },
  ]);

  const EC = 'AWS/ElastiCache';
  const clusters = [...input.cacheClusterIds].sort();
  const perCluster = (metric: string, stat: string): MetricRow[] =>
    clusters.map((c) => [EC, metric, 'CacheClusterId', c, { stat, label: `${metric} ${c}` }]);
  metricRow([
    {
      title: 'ElastiCache CPU utilization (%)',
      period: 60,
      metrics: perCluster('CPUUtilization', 'Average'),
    },
    {
      title: 'ElastiCache hits / misses',
      period: 60,
      metrics: [...perCluster('CacheHits', 'Sum'), ...perCluster('CacheMisses', 'Sum')],
    },
    {
      title: 'ElastiCache network (bytes)',
      period: 60,
      metrics: [...perCluster('NetworkBytesIn', 'Sum'), ...perCluster('NetworkBytesOut', 'Sum')],
    },
  ]);

  const ns = input.namespace;
  metricRow([
    {
      title: 'API response time (ms)',
      period: 60,
      metrics: [
        [ns, 'ApiResponseTime', { stat: 'Average', label: 'Average' }],
        [ns, 'ApiResponseTime', { stat: 'Maximum', label: 'Maximum' }],
      ],
    },
    {
      title: 'Error rate (%)',
      period: 60,
      metrics: [
        [ns, 'ErrorCount', { id: 'errors', stat: 'Sum', visible: false }],
        [ns, 'RequestCount', { id: 'requests', stat: 'Sum', visible: false }],
        [
          {
            id: 'errorRate',
            expression: 'IF(requests > 0, 100 * errors / requests, 0)',
            label: 'Errors per 100 requests',
          },
        ],
      ],
    },
    {
      title: 'Active users',
      period: 300,
      // Requests that carry a user: an upper bound of distinct users (see log-groups.ts).
      metrics: [[ns, 'ActiveUsers', { stat: 'SampleCount', label: 'Authenticated requests' }]],
    },
    {
      title: 'Slow queries (> 1 s)',
      period: 60,
      metrics: [[ns, 'SlowQuery', { stat: 'Sum', label: 'Slow queries' }]],
    },
  ]);

  return { widgets };
}

export interface WidgetMetric {
  widget: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

/**
 * Every metric a dashboard body plots, with its dimensions. Understands the console's `"."`
 * shorthand (same value as the row above) so a dashboard edited by hand is read correctly.
 */
export function widgetMetrics(body: unknown): WidgetMetric[] {
  const result: WidgetMetric[] = [];
  for (const { title, rows } of metricWidgets(body)) {
    let previous: string[] = [];
    for (const row of rows) {
      const cells = row.filter((c): c is string => typeof c === 'string');
      if (cells.length < 2) continue; // an expression row
      const resolved = cells.map((c, i) => (c === '.' ? (previous[i] ?? c) : c));
      previous = resolved;
      const dimensions: Record<string, string> = {};
      for (let i = 2; i + 1 < resolved.length; i += 2) dimensions[resolved[i]!] = resolved[i + 1]!;
      result.push({ widget: title, namespace: resolved[0]!, metricName: resolved[1]!, dimensions });
    }
  }
  return result;
}

/** The metric widgets of a dashboard body: each one's title and its metrics rows (arrays). */
function metricWidgets(body: unknown): Array<{ title: string; rows: unknown[][] }> {
  const widgets = (body as { widgets?: unknown } | undefined)?.widgets;
  if (!Array.isArray(widgets)) return [];
  return (widgets as Array<{ type?: string; properties?: Record<string, unknown> }>)
    .filter((w) => w.type === 'metric' && Array.isArray(w.properties?.metrics))
    .map((w) => ({
      title: typeof w.properties!.title === 'string' ? w.properties!.title : '(untitled)',
      rows: (w.properties!.metrics as unknown[]).filter((r): r is unknown[] => Array.isArray(r)),
    }));
}

export interface WidgetSearch {
  widget: string;
  expression: string;
  /** The schema's namespace and dimension names: `{CWAgent,AutoScalingGroupName,InstanceId}`. */
  namespace: string;
  dimensionNames: string[];
  /** `Name="value"` terms of the search (MetricName and dimension filters). */
  terms: Record<string, string>;
  /** The row sets `"visible": false`: the console draws none of its lines. */
  hidden?: true;
}

const SEARCH_RE = /^SEARCH\(\s*'\s*\{([^}]*)\}([^']*)'/;

/**
 * Every SEARCH expression a dashboard body plots, with its schema and its exact-match terms. A
 * SEARCH in any other form (no schema, partial terms) is returned with what could be read.
 */
export function widgetSearches(body: unknown): WidgetSearch[] {
  const result: WidgetSearch[] = [];
  for (const { title, rows } of metricWidgets(body)) {
    for (const cell of rows.flat()) {
      const expression = (cell as { expression?: unknown } | null)?.expression;
      if (typeof expression !== 'string' || !/^\s*SEARCH\(/.test(expression)) continue;
      const m = SEARCH_RE.exec(expression.trim());
      const schema = (m?.[1] ?? '').split(',').map((x) => x.trim().replace(/^"|"$/g, ''));
      const terms: Record<string, string> = {};
      for (const t of (m?.[2] ?? '').matchAll(/([A-Za-z0-9_.:-]+)\s*=\s*"([^"]*)"/g)) {
        terms[t[1]!] = t[2]!;
      }
      result.push({
        widget: title,
        expression,
        namespace: schema[0] ?? '',
        dimensionNames: schema.slice(1).filter(Boolean),
        terms,
        ...((cell as { visible?: unknown }).visible === false ? { hidden: true as const } : {}),
      });
    }
  }
  return result;
}

/** The metrics the seed's dashboard must show, by widget group. */
export function requiredMetrics(config: Config): Array<[string, string]> {
  const ns = config.monitoring.namespace;
  return [
    ['AWS/ApplicationELB', 'RequestCount'],
    ['AWS/ApplicationELB', 'TargetResponseTime'],
    ['AWS/ApplicationELB', 'HealthyHostCount'],
    ['AWS/ApplicationELB', 'UnHealthyHostCount'],
    ['AWS/EC2', 'CPUUtilization'],
    ['AWS/EC2', 'NetworkIn'],
    ['AWS/EC2', 'NetworkOut'],
    ['AWS/EC2', 'StatusCheckFailed'],
    [AGENT_NAMESPACE, 'mem_used_percent'],
    ['AWS/RDS', 'CPUUtilization'],
    ['AWS/RDS', 'DatabaseConnections'],
    ['AWS/RDS', 'ReadLatency'],
    ['AWS/RDS', 'WriteLatency'],
    ['AWS/RDS', 'FreeStorageSpace'],
    ['AWS/ElastiCache', 'CPUUtilization'],
    ['AWS/ElastiCache', 'CacheHits'],
    ['AWS/ElastiCache', 'CacheMisses'],
    ['AWS/ElastiCache', 'NetworkBytesIn'],
    ['AWS/ElastiCache', 'NetworkBytesOut'],
    [ns, 'ApiResponseTime'],
    [ns, 'ErrorCount'],
    [ns, 'RequestCount'],
    [ns, 'ActiveUsers'],
  ];
}

async function getDashboard(
  cw: CloudWatchClient,
  name: string,
): Promise<{ arn: string | undefined; body: unknown } | undefined> {
  const { GetDashboardCommand } = await cwSdk();
  try {
    const out = await cw.send(new GetDashboardCommand({ DashboardName: name }));
    return { arn: out.DashboardArn, body: parseJson(out.DashboardBody) };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The ASG's current instances (leaving ones excluded), sorted; `exists` false when it is gone. */
async function describeAsg(
  ctx: StepContext,
  autoScalingGroupName: string,
): Promise<{ exists: boolean; instanceIds: string[] }> {
  const { DescribeAutoScalingGroupsCommand } = await asgSdk();
  const autoscaling = await ctx.aws.get('autoscaling');
  const out = await autoscaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }),
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === autoScalingGroupName);
  return {
    exists: group !== undefined,
    instanceIds: (group?.Instances ?? [])
      .filter((i) => i.InstanceId && !/^(Terminat|Detach)/.test(i.LifecycleState ?? ''))
      .map((i) => i.InstanceId!)
      .sort(),
  };
}

/** Every value the dashboard's metrics give a dimension, sorted. */
function dimensionValues(metrics: WidgetMetric[], dimension: string): string[] {
  return [
    ...new Set(metrics.map((m) => m.dimensions[dimension]).filter((v): v is string => !!v)),
  ].sort();
}

/**
 * Read-only: which of the resources the dashboard's widgets plot no longer exist. Works from
 * the dashboard's own dimension values (the load balancer and target group ARNs are built from
 * them), so a widget bound to a deleted ALB fails even when the state file still names it.
 */
async function goneResources(
  ctx: StepContext,
  metrics: WidgetMetric[],
  asgExists: boolean,
  asgName: string,
  redis: RedisOutputs,
): Promise<{ gone: string[]; unreadable: string[] }> {
  const { DescribeLoadBalancersCommand, DescribeTargetGroupsCommand } = await elbSdk();
  const { DescribeReplicationGroupsCommand } = await cacheSdk();
  const gone: string[] = [];
  const unreadable: string[] = [];
  /** true: exists; false: AWS says it is not there; other errors are noted as unreadable. */
  const probe = async (what: string, read: () => Promise<boolean>) => {
    try {
      if (!(await read())) gone.push(what);
    } catch (e) {
      if (isNotFound(e)) gone.push(what);
      else unreadable.push(`${what} (${(e as Error).name})`);
    }
  };
  const account = await ctx.aws.accountId();
  const elbArn = (resource: string) =>
    `arn:${ctx.aws.partition()}:elasticloadbalancing:${ctx.config.region}:${account}:${resource}`;

  const elb = await ctx.aws.get('elbv2');
  for (const lb of dimensionValues(metrics, 'LoadBalancer')) {
    await probe(`load balancer ${lb}`, async () => {
      const out = await elb.send(
        new DescribeLoadBalancersCommand({ LoadBalancerArns: [elbArn(`loadbalancer/${lb}`)] }),
      );
      return (out.LoadBalancers ?? []).length > 0;
    });
  }
  for (const tg of dimensionValues(metrics, 'TargetGroup')) {
    await probe(`target group ${tg}`, async () => {
      const out = await elb.send(
        new DescribeTargetGroupsCommand({ TargetGroupArns: [elbArn(tg)] }),
      );
      return (out.TargetGroups ?? []).length > 0;
    });
  }
  if (!asgExists) gone.push(`Auto Scaling group ${asgName}`);

  const rds = await ctx.aws.get('rds');
  for (const db of dimensionValues(metrics, 'DBInstanceIdentifier')) {
    await probe(`RDS instance ${db}`, async () => {
      const instance = await describeDbInstance(rds, db);
      return instance !== undefined && instance.DBInstanceStatus !== 'deleting';
    });
  }

  const clusters = dimensionValues(metrics, 'CacheClusterId');
  if (clusters.length > 0) {
    const cache = await ctx.aws.get('elasticache');
    try {
      const out = await cache.send(
        new DescribeReplicationGroupsCommand({ ReplicationGroupId: redis.replicationGroupId }),
      );
      const group = out.ReplicationGroups?.[0];
      if (!group || group.Status === 'deleting') {
        gone.push(`replication group ${redis.replicationGroupId}`);
      } else {
        const members = group.MemberClusters ?? [];
        for (const c of clusters.filter((x) => !members.includes(x))) {
          gone.push(`cache cluster ${c} (not a member of ${redis.replicationGroupId})`);
        }
      }
    } catch (e) {
      if (isNotFound(e)) gone.push(`replication group ${redis.replicationGroupId}`);
      else unreadable.push(`replication group ${redis.replicationGroupId} (${(e as Error).name})`);
    }
  }
  return { gone, unreadable };
}

async function alarmArns(ctx: StepContext): Promise<string[]> {
  const account = await ctx.aws.accountId();
  const n = alarmNames(ctx.config);
  return ALARM_KEYS.map((k) => alarmArn(ctx.aws.partition(), ctx.config.region, account, n[k]));
}

/**
 * The per-instance lines: SEARCHes over the agent's CPU and memory metrics scoped to the group
 * show whichever instances it holds, so replacing one changes nothing on the dashboard. Without
 * both (each exactly the SEARCH this step writes, shown) the dashboard does not show the
 * instances (fail); a line that names an instance the group no longer holds
 * (a hand-made or an older cloudmart dashboard) is stale (warn).
 */
function instancesCheck(
  asgName: string,
  instances: string[],
  metrics: WidgetMetric[],
  searches: WidgetSearch[],
): Check {
  const sameNames = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().join() === [...b].sort().join();
  // The search must be the one this step writes, whitespace aside: read as loose Name="value"
  // terms, `cpu="cpu0"` (a per-core series the agent does not publish), `NOT
  // AutoScalingGroupName=…` or `… OR …` (other groups) would pass while the graph is wrong.
  const collapse = (x: string) => x.replace(/\s+/g, ' ').trim();
  const written: Record<string, string> = {
    cpu_usage_active: cpuSearch(asgName),
    mem_used_percent: memorySearch(asgName),
  };
  const found = INSTANCE_SEARCHES.map((want) => {
    const exact = collapse(written[want.metricName]!);
    const search = searches.find((q) => !q.hidden && collapse(q.expression) === exact);
    const near = search
      ? undefined
      : searches.find(
          (q) =>
            q.namespace === AGENT_NAMESPACE &&
            sameNames(q.dimensionNames, want.dimensionNames) &&
            q.terms.MetricName === want.metricName,
        );
    return { want, search, near };
  });
  const missing = found.filter((f) => !f.search);
  const named = [
    ...new Set(metrics.map((m) => m.dimensions.InstanceId).filter((i): i is string => !!i)),
  ].sort();
  const stale = named.filter((i) => !instances.includes(i));
  const now = `the group holds ${instances.join(', ') || 'no instance'} now`;
  return {
    id: 'monitoring.dashboard.instances',
    title: 'Dashboard shows CPU and memory of every instance of the ASG, whichever the ASG holds',
    criterion: 'dashboard',
    status: missing.length > 0 ? 'fail' : stale.length > 0 ? 'warn' : 'pass',
    evidence: [
      ...found.map(({ want, search, near }) =>
        search
          ? `${search.widget}: ${search.expression}`
          : `no SEARCH over {${[AGENT_NAMESPACE, ...want.dimensionNames].join(',')}} for MetricName="${want.metricName}" AutoScalingGroupName="${asgName}"` +
            (near
              ? ` (${near.widget} ${near.hidden ? 'hides' : 'has'} ${near.expression}, not ${written[want.metricName]!})`
              : ''),
      ),
      ...(stale.length > 0 ? [`names instances no longer in the ASG: ${stale.join(', ')}`] : []),
      now,
    ].join('; '),
    fix: 'cloudmart up --phase 2 (writes the dashboard with the SEARCHes; it names no instance)',
  };
}

export const dashboardStep = defineStep<DashboardOutputs>({
  id: STEP.dashboard,
  phase: 2,
  title: 'CloudWatch dashboard',
  needs: [STEP.alb, STEP.asg, STEP.rds, STEP.redis],
  cleanupRank: 3,
  actions: [
    'cloudwatch:GetDashboard',
    'cloudwatch:PutDashboard',
    'cloudwatch:DeleteDashboards',
    'autoscaling:DescribeAutoScalingGroups',
    'elasticloadbalancing:DescribeLoadBalancers',
    'elasticloadbalancing:DescribeTargetGroups',
    'rds:DescribeDBInstances',
    'elasticache:DescribeReplicationGroups',
  ],
  describe: (config) => [
    `dashboard ${config.monitoring.dashboardName}: alarm status; ALB RequestCount, TargetResponseTime p50/p95/avg, Healthy/UnHealthyHostCount; EC2 CPU (ASG average and hottest instance), CPU and memory per instance (SEARCH over the ASG's agent metrics, no instance ids), NetworkIn/Out, StatusCheckFailed; RDS CPU, connections, read/write latency, free storage; ElastiCache CPU, hits/misses, network per node; ${config.monitoring.namespace} API response time, error rate, active users, slow queries`,
    `console: ${consoleUrl(config.region, config.monitoring.dashboardName)}`,
  ],

  // Dashboards cannot carry tags: ours by name.
  discover: {
    what: 'CloudWatch dashboard',
    async find(aws, config) {
      const { paginateListDashboards } = await import('@aws-sdk/client-cloudwatch');
      const cloudwatch = await aws.get('cloudwatch');
      const entries = await allPages(
        paginateListDashboards(
          { client: cloudwatch },
          { DashboardNamePrefix: config.monitoring.dashboardName },
        ),
        (page) => page.DashboardEntries,
      );
      return entries
        .filter((d) => d.DashboardName === config.monitoring.dashboardName && d.DashboardArn)
        .map((d) => ({
          arn: d.DashboardArn!,
          region: config.region,
          type: 'cloudwatch:dashboard',
          kept: false,
          note: d.DashboardName,
        }));
    },
  },
  async create(ctx) {
    const alb = ctx.outputs<AlbOutputs>(STEP.alb);
    const asg = ctx.outputs<AsgOutputs>(STEP.asg);
    const rds = ctx.outputs<RdsOutputs>(STEP.rds);
    const redis = ctx.outputs<RedisOutputs>(STEP.redis);
    const name = ctx.config.monitoring.dashboardName;
    const body = dashboardBody({
      region: ctx.config.region,
      namespace: ctx.config.monitoring.namespace,
      alarmArns: await alarmArns(ctx),
      loadBalancerDimension: alb.loadBalancerDimension,
      targetGroupDimension: alb.targetGroupDimension,
      autoScalingGroupName: asg.autoScalingGroupName,
      dbInstanceIdentifier: rds.dbInstanceIdentifier,
      cacheClusterIds: redis.memberClusters,
    });

    const cw = await ctx.aws.get('cloudwatch');
    const live = await getDashboard(cw, name);
    if (!live || !sameJson(live.body, body)) {
      const { PutDashboardCommand } = await cwSdk();
      ctx.progress(`${live ? 'updating' : 'creating'} dashboard ${name}`);
      const out = await cw.send(
        new PutDashboardCommand({ DashboardName: name, DashboardBody: canonicalJson(body) }),
      );
      for (const m of out.DashboardValidationMessages ?? []) {
        ctx.warn(`Dashboard ${name}: ${m.DataPath ?? ''} ${m.Message ?? ''}`.trim());
      }
    }
    const account = await ctx.aws.accountId();
    return {
      dashboardName: name,
      dashboardArn:
        live?.arn ?? `arn:${ctx.aws.partition()}:cloudwatch::${account}:dashboard/${name}`,
      consoleUrl: consoleUrl(ctx.config.region, name),
    };
  },

  async verify(ctx) {
    const name = ctx.config.monitoring.dashboardName;
    const cw = await ctx.aws.get('cloudwatch');
    const live = await getDashboard(cw, name);
    if (!live) {
      return [
        {
          id: 'monitoring.dashboard.exists',
          title: `Dashboard ${name} exists`,
          criterion: 'dashboard',
          status: 'fail',
          evidence: `no dashboard ${name}`,
          fix: 'cloudmart up --phase 2',
        },
      ];
    }
    const metrics = widgetMetrics(live.body);
    const widgetCount = ((live.body as { widgets?: unknown[] } | undefined)?.widgets ?? []).length;
    const checks: Check[] = [
      {
        id: 'monitoring.dashboard.exists',
        title: `Dashboard ${name} exists`,
        criterion: 'dashboard',
        status: 'pass',
        evidence: `${name}: ${widgetCount} widgets, ${metrics.length} metrics`,
      },
    ];

    const missing = requiredMetrics(ctx.config).filter(
      ([ns, m]) => !metrics.some((x) => x.namespace === ns && x.metricName === m),
    );
    checks.push({
      id: 'monitoring.dashboard.widgets',
      title: 'Dashboard shows every metric the seed lists',
      criterion: 'dashboard',
      status: missing.length === 0 ? 'pass' : 'fail',
      evidence:
        missing.length === 0
          ? `${requiredMetrics(ctx.config).length} required metrics present`
          : `missing ${missing.map(([ns, m]) => `${ns}/${m}`).join(', ')}`,
      fix: 'cloudmart up --phase 2',
    });

    const alb = ctx.maybeOutputs<AlbOutputs>(STEP.alb);
    const asg = ctx.maybeOutputs<AsgOutputs>(STEP.asg);
    const rds = ctx.maybeOutputs<RdsOutputs>(STEP.rds);
    const redis = ctx.maybeOutputs<RedisOutputs>(STEP.redis);
    if (!alb || !asg || !rds || !redis) {
      checks.push({
        id: 'monitoring.dashboard.dimensions',
        title: 'Dashboard metrics point at the stack’s resources',
        criterion: 'dashboard',
        status: 'unknown',
        evidence: 'the Phase 1 outputs (ALB, ASG, RDS, Redis) are not recorded',
        fix: 'cloudmart up --phase 1',
      });
      return checks;
    }
    const { exists: asgExists, instanceIds: instances } = await describeAsg(
      ctx,
      asg.autoScalingGroupName,
    );
    const expected: Record<string, string[]> = {
      LoadBalancer: [alb.loadBalancerDimension],
      TargetGroup: [alb.targetGroupDimension],
      AutoScalingGroupName: [asg.autoScalingGroupName],
      DBInstanceIdentifier: [rds.dbInstanceIdentifier],
      CacheClusterId: redis.memberClusters,
    };
    const wrong = new Set<string>();
    for (const m of metrics) {
      for (const [dim, value] of Object.entries(m.dimensions)) {
        if (expected[dim] && !expected[dim].includes(value)) {
          wrong.add(`${m.widget}: ${m.metricName} ${dim}=${value}`);
        }
      }
    }
    const searches = widgetSearches(live.body);
    for (const q of searches) {
      for (const [dim, value] of Object.entries(q.terms)) {
        if (expected[dim] && !expected[dim].includes(value)) {
          wrong.add(`${q.widget}: SEARCH ${dim}="${value}"`);
        }
      }
    }
    const { gone, unreadable } = await goneResources(
      ctx,
      metrics,
      asgExists,
      asg.autoScalingGroupName,
      redis,
    );
    const problems = [
      ...(wrong.size > 0 ? [`not this stack's resources: ${[...wrong].join('; ')}`] : []),
      ...(gone.length > 0 ? [`no longer exist: ${gone.join(', ')}`] : []),
      ...(unreadable.length > 0 ? [`could not be read: ${unreadable.join(', ')}`] : []),
    ];
    checks.push({
      id: 'monitoring.dashboard.dimensions',
      title: 'Dashboard metrics point at the stack’s resources, and those exist',
      criterion: 'dashboard',
      status:
        wrong.size > 0 || gone.length > 0 ? 'fail' : unreadable.length > 0 ? 'unknown' : 'pass',
      evidence:
        problems.length === 0
          ? `LoadBalancer ${alb.loadBalancerDimension}, TargetGroup ${alb.targetGroupDimension}, ASG ${asg.autoScalingGroupName}, RDS ${rds.dbInstanceIdentifier}, ElastiCache ${redis.memberClusters.join(', ')} (all exist)`
          : problems.join('; '),
      fix:
        gone.length > 0
          ? 'cloudmart up --phase 1 (recreates what is gone), then cloudmart up --phase 2 (rebinds the dashboard)'
          : 'cloudmart up --phase 2',
    });
    checks.push(instancesCheck(asg.autoScalingGroupName, instances, metrics, searches));
    return checks;
  },

  async teardown(ctx) {
    const { DeleteDashboardsCommand } = await cwSdk();
    const cw = await ctx.aws.get('cloudwatch');
    const name =
      (ctx.previous?.dashboardName as string | undefined) ?? ctx.config.monitoring.dashboardName;
    try {
      await cw.send(new DeleteDashboardsCommand({ DashboardNames: [name] }));
      ctx.progress(`deleted dashboard ${name}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
});
