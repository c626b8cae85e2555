import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  DeleteDashboardsCommand,
  GetDashboardCommand,
  PutDashboardCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { agentConfig } from '../../../src/steps/phase1-foundation/user-data.js';
import { agentSeries } from '../../helpers/cloudwatch-agent.js';
import {
  cpuSearch,
  dashboardBody,
  dashboardStep,
  memorySearch,
  widgetMetrics,
  widgetSearches,
  type DashboardBody,
  type DashboardInput,
  type MetricWidget,
} from '../../../src/steps/phase2-monitoring/dashboard.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { ALB, ASG, asgResponse, PHASE1, RDS, REDIS } from './fixtures.js';

const NAME = 'CloudMart-Production';
const DASHBOARD_ARN = `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${NAME}`;
const I_B = 'i-0bbbbbbbbbbbbbbbb';
const I_A = 'i-0aaaaaaaaaaaaaaaa';
const INSTANCES: string[] = [I_B, I_A];
const ALARM_ARNS = [
  'CloudMart-EC2-HighCPU',
  'CloudMart-RDS-HighConnections',
  'CloudMart-ALB-SlowResponse',
  'CloudMart-UnhealthyHosts',
  'CloudMart-RDS-LowStorage',
].map((n) => `arn:aws:cloudwatch:ap-northeast-2:${ACCOUNT}:alarm:${n}`);

const INPUT: DashboardInput = {
  region: 'ap-northeast-2',
  namespace: 'CloudMart',
  alarmArns: ALARM_ARNS,
  loadBalancerDimension: ALB.loadBalancerDimension,
  targetGroupDimension: ALB.targetGroupDimension,
  autoScalingGroupName: ASG.autoScalingGroupName,
  dbInstanceIdentifier: RDS.dbInstanceIdentifier,
  cacheClusterIds: REDIS.memberClusters,
};

const asgWith = (ids: string[]) => asgResponse(ids);

/** What cloudmart wrote before: a CPU line per instance id on the EC2 CPU widget. */
function withInstanceLines(body: DashboardBody, ...ids: string[]): DashboardBody {
  const cpu = body.widgets.find(
    (w): w is MetricWidget =>
      w.type === 'metric' && w.properties.title === 'EC2 CPU utilization (%)',
  )!;
  for (const id of ids) {
    cpu.properties.metrics.push([
      'AWS/EC2',
      'CPUUtilization',
      'InstanceId',
      id,
      { stat: 'Average', label: id },
    ]);
  }
  return body;
}

const metricsOf = (body: unknown, title: string) =>
  widgetMetrics({
    widgets: (body as { widgets: MetricWidget[] }).widgets.filter(
      (w) => w.properties.title === title,
    ),
  });

describe('dashboardBody', () => {
  const body = dashboardBody(INPUT);
  const all = widgetMetrics(body);

  it('binds every AWS metric to the ids of this stack', () => {
    const dimsByNamespace = (ns: string) =>
      all.filter((m) => m.namespace === ns).map((m) => m.dimensions);
    for (const d of dimsByNamespace('AWS/ApplicationELB')) {
      expect(d.LoadBalancer).toBe(ALB.loadBalancerDimension);
    }
    for (const d of dimsByNamespace('AWS/RDS'))
      expect(d).toEqual({ DBInstanceIdentifier: 'cloudmart-db' });
    for (const d of dimsByNamespace('AWS/ElastiCache')) {
      expect(REDIS.memberClusters).toContain(d.CacheClusterId);
    }
    for (const d of [...dimsByNamespace('AWS/EC2'), ...dimsByNamespace('CWAgent')]) {
      expect(d).toEqual({ AutoScalingGroupName: 'cloudmart-asg' });
    }
  });

  it('names no instance id anywhere, so replacing an instance leaves it right', () => {
    expect(JSON.stringify(body)).not.toMatch(/i-0/);
    expect(all.filter((m) => m.dimensions.InstanceId)).toEqual([]);
  });

  it('has the ALB widgets with the seed metrics and the target group on the health counts', () => {
    expect(metricsOf(body, 'ALB requests')).toEqual([
      {
        widget: 'ALB requests',
        namespace: 'AWS/ApplicationELB',
        metricName: 'RequestCount',
        dimensions: { LoadBalancer: ALB.loadBalancerDimension },
      },
    ]);
    const rt = (body.widgets as MetricWidget[]).find(
      (w) => w.properties.title === 'ALB target response time (s)',
    )!;
    expect(rt.properties.metrics.map((r) => (r.at(-1) as { stat: string }).stat)).toEqual([
      'p50',
      'p95',
      'Average',
    ]);
    expect(metricsOf(body, 'ALB target health').map((m) => [m.metricName, m.dimensions])).toEqual([
      [
        'HealthyHostCount',
        { LoadBalancer: ALB.loadBalancerDimension, TargetGroup: ALB.targetGroupDimension },
      ],
      [
        'UnHealthyHostCount',
        { LoadBalancer: ALB.loadBalancerDimension, TargetGroup: ALB.targetGroupDimension },
      ],
    ]);
  });

  it('plots the group CPU (average and hottest instance), one CPU and one memory line per instance by SEARCH, network and status checks', () => {
    const cpu = (body.widgets as MetricWidget[]).find(
      (w) => w.properties.title === 'EC2 CPU utilization (%)',
    )!;
    expect(cpu.properties.metrics).toEqual([
      [
        'AWS/EC2',
        'CPUUtilization',
        'AutoScalingGroupName',
        'cloudmart-asg',
        { stat: 'Average', label: 'ASG average' },
      ],
      [
        'AWS/EC2',
        'CPUUtilization',
        'AutoScalingGroupName',
        'cloudmart-asg',
        { stat: 'Maximum', label: 'Hottest instance' },
      ],
    ]);
    const cpuPerInstance = (body.widgets as MetricWidget[]).find(
      (w) => w.properties.title === 'EC2 CPU per instance (%)',
    )!;
    expect(cpuPerInstance.properties.metrics).toEqual([
      [
        {
          id: 'cpuPerInstance',
          expression:
            'SEARCH(\'{CWAgent,AutoScalingGroupName,InstanceId,cpu} MetricName="cpu_usage_active" AutoScalingGroupName="cloudmart-asg" cpu="cpu-total"\', \'Average\', 300)',
          label: "${PROP('Dim.InstanceId')}",
        },
      ],
    ]);
    expect(cpuPerInstance.properties.yAxis).toEqual({ left: { min: 0, max: 100 } });
    const memory = (body.widgets as MetricWidget[]).find(
      (w) => w.properties.title === 'EC2 memory per instance (%)',
    )!;
    expect(memory.properties.metrics).toEqual([
      [
        {
          id: 'memPerInstance',
          expression:
            'SEARCH(\'{CWAgent,AutoScalingGroupName,InstanceId} MetricName="mem_used_percent" AutoScalingGroupName="cloudmart-asg"\', \'Average\', 300)',
          label: "${PROP('Dim.InstanceId')}",
        },
      ],
      [
        'CWAgent',
        'mem_used_percent',
        'AutoScalingGroupName',
        'cloudmart-asg',
        { stat: 'Average', label: 'ASG average' },
      ],
    ]);
    expect(widgetSearches(body)).toEqual([
      {
        widget: 'EC2 CPU per instance (%)',
        expression: cpuSearch('cloudmart-asg'),
        namespace: 'CWAgent',
        dimensionNames: ['AutoScalingGroupName', 'InstanceId', 'cpu'],
        terms: {
          MetricName: 'cpu_usage_active',
          AutoScalingGroupName: 'cloudmart-asg',
          cpu: 'cpu-total',
        },
      },
      {
        widget: 'EC2 memory per instance (%)',
        expression: memorySearch('cloudmart-asg'),
        namespace: 'CWAgent',
        dimensionNames: ['AutoScalingGroupName', 'InstanceId'],
        terms: { MetricName: 'mem_used_percent', AutoScalingGroupName: 'cloudmart-asg' },
      },
    ]);
    expect(metricsOf(body, 'EC2 network (bytes)').map((m) => m.metricName)).toEqual([
      'NetworkIn',
      'NetworkOut',
    ]);
    expect(metricsOf(body, 'EC2 status checks failed').map((m) => m.metricName)).toEqual([
      'StatusCheckFailed',
    ]);
  });

  it('searches exactly the dimensions the CloudWatch agent config publishes, per instance, in the group', () => {
    const agent = agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' });
    const published = agentSeries(agent);
    const searches = widgetSearches(body);
    expect(searches.map((q) => q.terms.MetricName)).toEqual([
      'cpu_usage_active',
      'mem_used_percent',
    ]);
    for (const q of searches) {
      expect(q.namespace).toBe((agent as { metrics: { namespace: string } }).metrics.namespace);
      // A schema finds only the series with exactly its dimensions: one per instance of the group.
      const series = published.filter(
        (x) =>
          x.metricName === q.terms.MetricName &&
          x.dimensionNames.join() === [...q.dimensionNames].sort().join(),
      );
      expect(series, q.expression).toHaveLength(1);
      expect(series[0]!.dimensionNames).toEqual(
        expect.arrayContaining(['AutoScalingGroupName', 'InstanceId']),
      );
      // The values the config pins (cpu="cpu-total") are the ones the search asks for.
      for (const [k, v] of Object.entries(series[0]!.fixed)) expect(q.terms[k]).toBe(v);
      expect(q.terms.AutoScalingGroupName).toBe('cloudmart-asg');
    }
    // The CPU series carries the cpu input's own tag; the total only, never one per core.
    expect(published.filter((x) => x.metricName === 'cpu_usage_active')).toEqual([
      {
        metricName: 'cpu_usage_active',
        dimensionNames: ['AutoScalingGroupName', 'InstanceId', 'cpu'],
        fixed: { cpu: 'cpu-total' },
      },
      { metricName: 'cpu_usage_active', dimensionNames: ['AutoScalingGroupName'], fixed: {} },
    ]);
    // The group-wide memory line is the agent's aggregation.
    expect(published).toContainEqual({
      metricName: 'mem_used_percent',
      dimensionNames: ['AutoScalingGroupName'],
      fixed: {},
    });
  });

  it('a schema without the cpu dimension would find no CPU series of the agent', () => {
    const published = agentSeries(agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' }));
    expect(
      published.filter(
        (x) =>
          x.metricName === 'cpu_usage_active' &&
          x.dimensionNames.join() === 'AutoScalingGroupName,InstanceId',
      ),
    ).toEqual([]);
  });

  it('has the RDS and per-node ElastiCache widgets', () => {
    expect(all.filter((m) => m.namespace === 'AWS/RDS').map((m) => m.metricName)).toEqual([
      'CPUUtilization',
      'DatabaseConnections',
      'ReadLatency',
      'WriteLatency',
      'FreeStorageSpace',
    ]);
    const ec = all.filter((m) => m.namespace === 'AWS/ElastiCache');
    for (const metric of [
      'CPUUtilization',
      'CacheHits',
      'CacheMisses',
      'NetworkBytesIn',
      'NetworkBytesOut',
    ]) {
      expect(
        ec.filter((m) => m.metricName === metric).map((m) => m.dimensions.CacheClusterId),
      ).toEqual(REDIS.memberClusters);
    }
  });

  it('computes the error rate with metric math over ErrorCount and RequestCount, and shows the custom metrics', () => {
    const w = (body.widgets as MetricWidget[]).find(
      (x) => x.properties.title === 'Error rate (%)',
    )!;
    expect(w.properties.metrics).toEqual([
      ['CloudMart', 'ErrorCount', { id: 'errors', stat: 'Sum', visible: false }],
      ['CloudMart', 'RequestCount', { id: 'requests', stat: 'Sum', visible: false }],
      [
        {
          id: 'errorRate',
          expression: 'IF(requests > 0, 100 * errors / requests, 0)',
          label: 'Errors per 100 requests',
        },
      ],
    ]);
    const custom = all.filter((m) => m.namespace === 'CloudMart').map((m) => m.metricName);
    expect(custom).toEqual(
      expect.arrayContaining(['ApiResponseTime', 'ActiveUsers', 'ErrorCount', 'RequestCount']),
    );
  });

  it('starts with the alarm status of the five alarms and lays widgets on the 24-column grid', () => {
    expect(body.widgets[0]).toEqual({
      type: 'alarm',
      x: 0,
      y: 0,
      width: 24,
      height: 3,
      properties: { title: 'Alarm status', alarms: ALARM_ARNS },
    });
    for (const w of body.widgets) {
      expect(w.x + w.width).toBeLessThanOrEqual(24);
      if (w.type === 'metric') expect(w.properties.region).toBe('ap-northeast-2');
    }
  });

  it('is the same for the same ids in another order', () => {
    expect(
      dashboardBody({ ...INPUT, cacheClusterIds: [...REDIS.memberClusters].reverse() }),
    ).toEqual(body);
  });

  it('widgetMetrics resolves the console "." shorthand', () => {
    expect(
      widgetMetrics({
        widgets: [
          {
            type: 'metric',
            properties: {
              title: 't',
              metrics: [
                ['AWS/RDS', 'CPUUtilization', 'DBInstanceIdentifier', 'db-a'],
                ['.', 'DatabaseConnections', '.', '.'],
              ],
            },
          },
        ],
      }),
    ).toEqual([
      {
        widget: 't',
        namespace: 'AWS/RDS',
        metricName: 'CPUUtilization',
        dimensions: { DBInstanceIdentifier: 'db-a' },
      },
      {
        widget: 't',
        namespace: 'AWS/RDS',
        metricName: 'DatabaseConnections',
        dimensions: { DBInstanceIdentifier: 'db-a' },
      },
    ]);
  });
});

describe('monitoring.dashboard', () => {
  let cw: ReturnType<typeof strictMock>;
  let autoscaling: ReturnType<typeof strictMock>;
  beforeEach(() => {
    cw = strictMock(CloudWatchClient);
    autoscaling = strictMock(AutoScalingClient);
  });

  const ctx = (
    outputs: Record<string, Record<string, unknown>> = PHASE1,
    previous?: Record<string, unknown>,
  ) => testContext({ stepId: dashboardStep.id, outputs, ...(previous ? { previous } : {}) });

  it('creates the dashboard from the ids of the stack and returns the console URL', async () => {
    cw.on(GetDashboardCommand).rejects(
      awsError('ResourceNotFound', 'Dashboard does not exist', 404),
    );
    cw.on(PutDashboardCommand).resolves({ DashboardValidationMessages: [] });

    const out = await dashboardStep.create(ctx());

    expect(out).toEqual({
      dashboardName: NAME,
      dashboardArn: DASHBOARD_ARN,
      consoleUrl:
        'https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#dashboards:name=CloudMart-Production',
    });
    // The body names no instance: the group's instances are not read.
    expect(autoscaling.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(0);
    const put = cw.commandCalls(PutDashboardCommand);
    expect(put).toHaveLength(1);
    expect(put[0]!.args[0].input.DashboardName).toBe(NAME);
    expect(JSON.parse(put[0]!.args[0].input.DashboardBody!)).toEqual(dashboardBody(INPUT));
  });

  it('sends no write when the live body is the same (whatever its formatting)', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
    cw.on(GetDashboardCommand).resolves({
      DashboardArn: DASHBOARD_ARN,
      DashboardName: NAME,
      DashboardBody: JSON.stringify(dashboardBody(INPUT), null, 2),
    });

    const out = await dashboardStep.create(ctx());

    expect(cw.commandCalls(PutDashboardCommand)).toHaveLength(0);
    expect(out.dashboardArn).toBe(DASHBOARD_ARN);
  });

  it('rewrites a dashboard of an older cloudmart that named instance ids', async () => {
    const legacy = withInstanceLines(dashboardBody(INPUT), I_A);
    cw.on(GetDashboardCommand).resolves({
      DashboardArn: DASHBOARD_ARN,
      DashboardBody: JSON.stringify(legacy),
    });
    cw.on(PutDashboardCommand).resolves({});

    await dashboardStep.create(ctx());

    const body: unknown = JSON.parse(
      cw.commandCalls(PutDashboardCommand)[0]!.args[0].input.DashboardBody!,
    );
    expect(body).toEqual(dashboardBody(INPUT));
  });

  it('passes the validation messages of PutDashboard on as warnings', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
    cw.on(GetDashboardCommand).rejects(awsError('ResourceNotFound'));
    cw.on(PutDashboardCommand).resolves({
      DashboardValidationMessages: [
        { DataPath: '/widgets/0', Message: 'Should NOT have more than 100 items' },
      ],
    });
    const c = ctx();
    await dashboardStep.create(c);
    expect(c.warnings).toEqual([
      `Dashboard ${NAME}: /widgets/0 Should NOT have more than 100 items`,
    ]);
  });

  it('surfaces an invalid body error', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
    cw.on(GetDashboardCommand).rejects(awsError('ResourceNotFound'));
    cw.on(PutDashboardCommand).rejects(
      awsError('InvalidParameterInput', 'The field DashboardBody must be a valid JSON object'),
    );
    await expect(dashboardStep.create(ctx())).rejects.toThrow(/DashboardBody/);
  });

  describe('verify', () => {
    let elb: ReturnType<typeof strictMock>;
    let rds: ReturnType<typeof strictMock>;
    let cache: ReturnType<typeof strictMock>;
    /** The resources the widgets plot all exist (each test removes what it needs gone). */
    beforeEach(() => {
      elb = strictMock(ElasticLoadBalancingV2Client);
      rds = strictMock(RDSClient);
      cache = strictMock(ElastiCacheClient);
      elb
        .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ALB.loadBalancerArn] })
        .resolves({ LoadBalancers: [{ LoadBalancerArn: ALB.loadBalancerArn }] });
      elb
        .on(DescribeTargetGroupsCommand, { TargetGroupArns: [ALB.targetGroupArn] })
        .resolves({ TargetGroups: [{ TargetGroupArn: ALB.targetGroupArn }] });
      rds
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: RDS.dbInstanceIdentifier })
        .resolves({
          DBInstances: [
            { DBInstanceIdentifier: RDS.dbInstanceIdentifier, DBInstanceStatus: 'available' },
          ],
        });
      cache
        .on(DescribeReplicationGroupsCommand, { ReplicationGroupId: REDIS.replicationGroupId })
        .resolves({
          ReplicationGroups: [
            {
              ReplicationGroupId: REDIS.replicationGroupId,
              Status: 'available',
              MemberClusters: REDIS.memberClusters,
            },
          ],
        });
    });

    it('passes a dashboard bound to the stack, reading each plotted resource live', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(dashboardBody(INPUT)) });
      const checks = await dashboardStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
        ['monitoring.dashboard.exists', 'pass', 'dashboard'],
        ['monitoring.dashboard.widgets', 'pass', 'dashboard'],
        ['monitoring.dashboard.dimensions', 'pass', 'dashboard'],
        ['monitoring.dashboard.instances', 'pass', 'dashboard'],
      ]);
      // The ARNs are rebuilt from the dashboard's own dimension values.
      expect(elb.commandCalls(DescribeLoadBalancersCommand)[0]!.args[0].input).toEqual({
        LoadBalancerArns: [ALB.loadBalancerArn],
      });
      expect(elb.commandCalls(DescribeTargetGroupsCommand)[0]!.args[0].input).toEqual({
        TargetGroupArns: [ALB.targetGroupArn],
      });
      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
      expect(cache.commandCalls(DescribeReplicationGroupsCommand)).toHaveLength(1);
      expect(checks[2]!.evidence).toContain('(all exist)');
    });

    it('fails when the ALB, target group, RDS instance and replication group it plots are gone', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(dashboardBody(INPUT)) });
      elb
        .on(DescribeLoadBalancersCommand)
        .rejects(awsError('LoadBalancerNotFoundException', 'not found'));
      elb
        .on(DescribeTargetGroupsCommand)
        .rejects(awsError('TargetGroupNotFoundException', 'not found'));
      rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'gone', 404));
      cache
        .on(DescribeReplicationGroupsCommand)
        .rejects(awsError('ReplicationGroupNotFoundFault', 'gone', 404));

      const dims = (await dashboardStep.verify(ctx())).find(
        (c) => c.id === 'monitoring.dashboard.dimensions',
      )!;

      expect(dims.status).toBe('fail');
      expect(dims.evidence).toBe(
        `no longer exist: load balancer ${ALB.loadBalancerDimension}, target group ${ALB.targetGroupDimension}, RDS instance cloudmart-db, replication group cloudmart-redis`,
      );
      expect(dims.fix).toContain('cloudmart up --phase 1');
    });

    it('fails a replaced cache node and a deleted ASG, and is unknown when a read is denied', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(dashboardBody(INPUT)) });
      cache.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [
          { Status: 'available', MemberClusters: ['cloudmart-redis-001', 'cloudmart-redis-003'] },
        ],
      });
      const dims = async () =>
        (await dashboardStep.verify(ctx())).find(
          (c) => c.id === 'monitoring.dashboard.dimensions',
        )!;
      expect(await dims()).toMatchObject({
        status: 'fail',
        evidence:
          'no longer exist: Auto Scaling group cloudmart-asg, cache cluster cloudmart-redis-002 (not a member of cloudmart-redis)',
      });

      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      cache.on(DescribeReplicationGroupsCommand).resolves({
        ReplicationGroups: [{ Status: 'available', MemberClusters: REDIS.memberClusters }],
      });
      rds.on(DescribeDBInstancesCommand).rejects(awsError('AccessDenied', 'denied', 403));
      expect(await dims()).toMatchObject({
        status: 'unknown',
        evidence: 'could not be read: RDS instance cloudmart-db (AccessDenied)',
      });
    });

    it('fails metrics that point at another load balancer, and stays right when the ASG replaced an instance', async () => {
      autoscaling
        .on(DescribeAutoScalingGroupsCommand)
        .resolves(asgWith([I_B, 'i-0eeeeeeeeeeeeeeee']));
      const stale = dashboardBody({ ...INPUT, loadBalancerDimension: 'app/old-alb/1234' });
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(stale) });

      const checks = await dashboardStep.verify(ctx());
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));

      expect(byId['monitoring.dashboard.dimensions']?.status).toBe('fail');
      expect(byId['monitoring.dashboard.dimensions']?.evidence).toContain(
        'RequestCount LoadBalancer=app/old-alb/1234',
      );
      expect(byId['monitoring.dashboard.instances']).toMatchObject({
        status: 'pass',
        evidence: `EC2 CPU per instance (%): ${cpuSearch('cloudmart-asg')}; EC2 memory per instance (%): ${memorySearch('cloudmart-asg')}; the group holds i-0bbbbbbbbbbbbbbbb, i-0eeeeeeeeeeeeeeee now`,
      });
    });

    it('fails a SEARCH scoped to another Auto Scaling group', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      const other = dashboardBody(INPUT);
      other.widgets = other.widgets.map((w) =>
        w.type === 'metric' && w.properties.title === 'EC2 memory per instance (%)'
          ? (JSON.parse(JSON.stringify(w).replace(/cloudmart-asg/g, 'other-asg')) as typeof w)
          : w,
      );
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(other) });
      const byId = Object.fromEntries((await dashboardStep.verify(ctx())).map((c) => [c.id, c]));
      expect(byId['monitoring.dashboard.dimensions']).toMatchObject({
        status: 'fail',
        evidence:
          'not this stack\'s resources: EC2 memory per instance (%): mem_used_percent AutoScalingGroupName=other-asg; EC2 memory per instance (%): SEARCH AutoScalingGroupName="other-asg"',
      });
      expect(byId['monitoring.dashboard.instances']?.status).toBe('fail');
    });

    it('fails a CPU SEARCH scoped to another group, or whose schema finds no agent series', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      const withCpu = (expression: string) => {
        const b = dashboardBody(INPUT);
        const w = b.widgets.find(
          (x): x is MetricWidget =>
            x.type === 'metric' && x.properties.title === 'EC2 CPU per instance (%)',
        )!;
        (w.properties.metrics[0]![0] as { expression: string }).expression = expression;
        return b;
      };
      const verifyWith = async (b: DashboardBody) => {
        cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(b) });
        return Object.fromEntries((await dashboardStep.verify(ctx())).map((c) => [c.id, c]));
      };
      const missingCpu =
        'no SEARCH over {CWAgent,AutoScalingGroupName,InstanceId,cpu} for MetricName="cpu_usage_active" AutoScalingGroupName="cloudmart-asg"';

      const other = await verifyWith(withCpu(cpuSearch('other-asg')));
      expect(other['monitoring.dashboard.dimensions']).toMatchObject({
        status: 'fail',
        evidence:
          'not this stack\'s resources: EC2 CPU per instance (%): SEARCH AutoScalingGroupName="other-asg"',
      });
      expect(other['monitoring.dashboard.instances']?.status).toBe('fail');
      expect(other['monitoring.dashboard.instances']?.evidence).toContain(missingCpu);

      // The schema of the memory search: the agent's CPU series also carry `cpu`, so it finds none.
      const noCpuDim = await verifyWith(
        withCpu(
          `SEARCH('{CWAgent,AutoScalingGroupName,InstanceId} MetricName="cpu_usage_active" AutoScalingGroupName="cloudmart-asg"', 'Average', 300)`,
        ),
      );
      expect(noCpuDim['monitoring.dashboard.dimensions']?.status).toBe('pass');
      expect(noCpuDim['monitoring.dashboard.instances']).toMatchObject({
        status: 'fail',
        evidence: expect.stringContaining(missingCpu),
      });

      // The dashboard the previous cloudmart wrote: memory per instance only.
      const memoryOnly = dashboardBody(INPUT);
      memoryOnly.widgets = memoryOnly.widgets.filter(
        (w) => w.type !== 'metric' || w.properties.title !== 'EC2 CPU per instance (%)',
      );
      const older = await verifyWith(memoryOnly);
      expect(older['monitoring.dashboard.instances']).toMatchObject({
        status: 'fail',
        evidence: `${missingCpu}; EC2 memory per instance (%): ${memorySearch('cloudmart-asg')}; the group holds i-0aaaaaaaaaaaaaaaa, i-0bbbbbbbbbbbbbbbb now`,
      });

      expect(
        (await verifyWith(dashboardBody(INPUT)))['monitoring.dashboard.instances']?.status,
      ).toBe('pass');
    });

    it('fails a per-instance SEARCH that is not the one the step writes: another cpu, NOT/OR the group, a hidden line', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      const cpuRow = (b: DashboardBody) =>
        b.widgets.find(
          (x): x is MetricWidget =>
            x.type === 'metric' && x.properties.title === 'EC2 CPU per instance (%)',
        )!.properties.metrics[0]![0] as { expression: string; visible?: boolean };
      const verifyWith = async (b: DashboardBody) => {
        cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(b) });
        return Object.fromEntries((await dashboardStep.verify(ctx())).map((c) => [c.id, c]));
      };
      const terms = 'MetricName="cpu_usage_active" AutoScalingGroupName="cloudmart-asg"';
      for (const expression of [
        // A per-core series: the agent config collects the total only, so the graph is empty.
        cpuSearch('cloudmart-asg').replace('cpu-total', 'cpu0'),
        `SEARCH('{CWAgent,AutoScalingGroupName,InstanceId,cpu} MetricName="cpu_usage_active" NOT AutoScalingGroupName="cloudmart-asg" cpu="cpu-total"', 'Average', 300)`,
        `SEARCH('{CWAgent,AutoScalingGroupName,InstanceId,cpu} ${terms} OR AutoScalingGroupName="other-asg" cpu="cpu-total"', 'Average', 300)`,
      ]) {
        const b = dashboardBody(INPUT);
        cpuRow(b).expression = expression;
        const byId = await verifyWith(b);
        expect(byId['monitoring.dashboard.instances'], expression).toMatchObject({
          status: 'fail',
          evidence: expect.stringContaining(`has ${expression}, not ${cpuSearch('cloudmart-asg')}`),
        });
      }
      const hidden = dashboardBody(INPUT);
      cpuRow(hidden).visible = false;
      expect((await verifyWith(hidden))['monitoring.dashboard.instances']).toMatchObject({
        status: 'fail',
        evidence: expect.stringContaining(`hides ${cpuSearch('cloudmart-asg')}`),
      });
      // Whitespace is not part of the search.
      const spaced = dashboardBody(INPUT);
      cpuRow(spaced).expression =
        `  ${cpuSearch('cloudmart-asg').replace(' MetricName', '   MetricName')} `;
      expect((await verifyWith(spaced))['monitoring.dashboard.instances']?.status).toBe('pass');
    });

    it('fails a dashboard without the per-instance SEARCH, and warns about a line naming a replaced instance', async () => {
      autoscaling
        .on(DescribeAutoScalingGroupsCommand)
        .resolves(asgWith([I_B, 'i-0eeeeeeeeeeeeeeee']));
      // What cloudmart wrote before: a CPU line per instance id, no per-instance SEARCH.
      const legacy = dashboardBody(INPUT);
      legacy.widgets = legacy.widgets.filter(
        (w) =>
          w.type !== 'metric' ||
          !['EC2 memory per instance (%)', 'EC2 CPU per instance (%)'].includes(w.properties.title),
      );
      withInstanceLines(legacy, I_A, I_B);
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(legacy) });

      const byId = Object.fromEntries((await dashboardStep.verify(ctx())).map((c) => [c.id, c]));

      expect(byId['monitoring.dashboard.widgets']).toMatchObject({
        status: 'fail',
        evidence: 'missing CWAgent/mem_used_percent',
      });
      expect(byId['monitoring.dashboard.instances']).toMatchObject({
        status: 'fail',
        evidence:
          'no SEARCH over {CWAgent,AutoScalingGroupName,InstanceId,cpu} for MetricName="cpu_usage_active" AutoScalingGroupName="cloudmart-asg"; no SEARCH over {CWAgent,AutoScalingGroupName,InstanceId} for MetricName="mem_used_percent" AutoScalingGroupName="cloudmart-asg"; names instances no longer in the ASG: i-0aaaaaaaaaaaaaaaa; the group holds i-0bbbbbbbbbbbbbbbb, i-0eeeeeeeeeeeeeeee now',
      });

      // With the SEARCH back, the stale line is a warning (half the points), not a failure.
      const both = withInstanceLines(dashboardBody(INPUT), I_A);
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(both) });
      const again = (await dashboardStep.verify(ctx())).find(
        (c) => c.id === 'monitoring.dashboard.instances',
      )!;
      expect(again.status).toBe('warn');
      expect(again.evidence).toContain('names instances no longer in the ASG: i-0aaaaaaaaaaaaaaaa');
    });

    it('fails a dashboard missing seed metrics', async () => {
      autoscaling.on(DescribeAutoScalingGroupsCommand).resolves(asgWith(INSTANCES));
      const body = dashboardBody(INPUT);
      body.widgets = body.widgets.filter(
        (w) => w.type !== 'metric' || !w.properties.title.startsWith('ElastiCache'),
      );
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(body) });
      const checks = await dashboardStep.verify(ctx());
      const widgets = checks.find((c) => c.id === 'monitoring.dashboard.widgets')!;
      expect(widgets.status).toBe('fail');
      expect(widgets.evidence).toBe(
        'missing AWS/ElastiCache/CPUUtilization, AWS/ElastiCache/CacheHits, AWS/ElastiCache/CacheMisses, AWS/ElastiCache/NetworkBytesIn, AWS/ElastiCache/NetworkBytesOut',
      );
    });

    it('fails when the dashboard does not exist', async () => {
      cw.on(GetDashboardCommand).rejects(awsError('ResourceNotFound'));
      expect(await dashboardStep.verify(ctx())).toEqual([
        expect.objectContaining({ id: 'monitoring.dashboard.exists', status: 'fail' }),
      ]);
    });

    it('cannot check dimensions without the Phase 1 outputs', async () => {
      cw.on(GetDashboardCommand).resolves({ DashboardBody: JSON.stringify(dashboardBody(INPUT)) });
      const checks = await dashboardStep.verify(ctx({}));
      expect(checks.find((c) => c.id === 'monitoring.dashboard.dimensions')?.status).toBe(
        'unknown',
      );
    });
  });

  describe('teardown', () => {
    it('deletes the dashboard', async () => {
      cw.on(DeleteDashboardsCommand).resolves({});
      await dashboardStep.teardown(ctx({}));
      expect(cw.commandCalls(DeleteDashboardsCommand)[0]!.args[0].input).toEqual({
        DashboardNames: [NAME],
      });
    });

    it('succeeds when the dashboard is already gone', async () => {
      cw.on(DeleteDashboardsCommand).rejects(
        awsError('ResourceNotFound', 'Dashboard does not exist', 404),
      );
      await expect(dashboardStep.teardown(ctx({}))).resolves.toBeUndefined();
    });

    it('throws other errors', async () => {
      cw.on(DeleteDashboardsCommand).rejects(awsError('AccessDenied', 'denied', 403));
      await expect(dashboardStep.teardown(ctx({}))).rejects.toThrow('denied');
    });
  });
});

// The step reads exactly the ids of the steps it needs.
describe('monitoring.dashboard contract', () => {
  it('needs the ALB, ASG, RDS and Redis steps and is the seed cleanup step 3', () => {
    expect(dashboardStep.needs).toEqual([STEP.alb, STEP.asg, STEP.rds, STEP.redis]);
    expect(dashboardStep.cleanupRank).toBe(3);
  });
  it('uses the configured dashboard name', () => {
    expect(
      dashboardStep.describe(testConfig({ monitoring: { dashboardName: 'Shop-Prod' } })).join('\n'),
    ).toContain('dashboards:name=Shop-Prod');
  });
});
