import { stackTitle } from '../../config/names.js';
import type {
  CloudWatchClient,
  ComparisonOperator,
  Dimension,
  MetricAlarm,
  PutMetricAlarmInput,
  Statistic,
} from '@aws-sdk/client-cloudwatch';
import { isNotFound } from '../../aws/errors.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import {
  STEP,
  type AlbOutputs,
  type AsgOutputs,
  type DnsOutputs,
  type RdsOutputs,
  type SnsOutputs,
} from '../outputs.js';

const cwSdk = () => import('@aws-sdk/client-cloudwatch');

type Config = StepContext['config'];

/**
 * `monitoring.alarms`: the seed's five alarms, and with a domain the Route 53 health-check
 * alarm in us-east-1 (Route 53 publishes its metrics only there; the alarm notifies the
 * `<stack>-alerts-edge` topic that `monitoring.sns` creates in that region).
 *
 * PutMetricAlarm is an upsert that replaces the whole definition, so create reads every alarm
 * first and writes only those whose live definition differs from the wanted one: a re-run on a
 * converged stack sends no write.
 */

export interface AlarmOutputs {
  alarmNames: string[];
  alarmArns: string[];
  /** The us-east-1 Route 53 health-check alarm, when a domain is configured. */
  edgeAlarmName?: string;
  [k: string]: unknown;
}

export const ALARM_KEYS = [
  'ec2HighCpu',
  'rdsHighConnections',
  'albSlowResponse',
  'unhealthyHosts',
  'rdsLowStorage',
] as const;
export type AlarmKey = (typeof ALARM_KEYS)[number];

/** Stable check-id slugs per alarm. */
const SLUG: Record<AlarmKey, string> = {
  ec2HighCpu: 'ec2-high-cpu',
  rdsHighConnections: 'rds-high-connections',
  albSlowResponse: 'alb-slow-response',
  unhealthyHosts: 'unhealthy-hosts',
  rdsLowStorage: 'rds-low-storage',
};

/** The seed's names (`CloudMart-…`) for the default stack, `<stack>-…` for any other. */
export function alarmPrefix(stack: string): string {
  return `${stackTitle(stack)}-`;
}

export function alarmNames(config: Config): Record<AlarmKey | 'route53HealthCheck', string> {
  const p = alarmPrefix(config.stack);
  return {
    ec2HighCpu: `${p}EC2-HighCPU`,
    rdsHighConnections: `${p}RDS-HighConnections`,
    albSlowResponse: `${p}ALB-SlowResponse`,
    unhealthyHosts: `${p}UnhealthyHosts`,
    rdsLowStorage: `${p}RDS-LowStorage`,
    route53HealthCheck: `${p}Route53-HealthCheck`,
  };
}

export function alarmArn(partition: string, region: string, account: string, name: string): string {
  return `arn:${partition}:cloudwatch:${region}:${account}:alarm:${name}`;
}

/** Exactly the fields cloudmart sets on an alarm (Tags are added when writing). */
export interface AlarmDefinition extends Omit<PutMetricAlarmInput, 'Tags'> {
  AlarmName: string;
  AlarmDescription: string;
  ActionsEnabled: boolean;
  AlarmActions: string[];
  OKActions: string[];
  Namespace: string;
  MetricName: string;
  Statistic: Statistic;
  Dimensions: Dimension[];
  Period: number;
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  Threshold: number;
  ComparisonOperator: ComparisonOperator;
  TreatMissingData: 'missing' | 'notBreaching' | 'breaching' | 'ignore';
}

export interface AlarmInputs {
  topicArn: string;
  autoScalingGroupName: string;
  scaleOutPolicyArn: string;
  loadBalancerDimension: string;
  targetGroupDimension: string;
  dbInstanceIdentifier: string;
}

const GIB = 1024 ** 3;

/** The five alarms of the seed (Phase 2-2), from the live ids. Pure. */
export function alarmDefinitions(
  config: Config,
  ids: AlarmInputs,
): Array<AlarmDefinition & { key: AlarmKey }> {
  const n = alarmNames(config);
  const a = config.monitoring.alarms;
  // Every alarm notifies on ALARM and on OK, so the operator also learns that it recovered.
  const notify = { ActionsEnabled: true, AlarmActions: [ids.topicArn], OKActions: [ids.topicArn] };
  return [
    {
      key: 'ec2HighCpu',
      AlarmName: n.ec2HighCpu,
      AlarmDescription: `Average CPU of the ${ids.autoScalingGroupName} instances above ${a.ec2HighCpuPercent}% for 2 consecutive 5-minute periods (10 minutes).`,
      ...notify,
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Statistic: 'Average',
      Dimensions: [{ Name: 'AutoScalingGroupName', Value: ids.autoScalingGroupName }],
      Period: 300,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: a.ec2HighCpuPercent,
      ComparisonOperator: 'GreaterThanThreshold',
      // A gap (group briefly empty during an instance refresh, a late basic-monitoring
      // datapoint) says nothing about load either way: do not let it page or clear the alarm.
      TreatMissingData: 'missing',
    },
    {
      key: 'rdsHighConnections',
      AlarmName: n.rdsHighConnections,
      AlarmDescription: `More than ${a.rdsHighConnections} connections to ${ids.dbInstanceIdentifier} (average) for 2 consecutive 5-minute periods.`,
      ...notify,
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnections',
      Statistic: 'Average',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: ids.dbInstanceIdentifier }],
      // The seed gives no period. 2 × 5 minutes, like the CPU alarm: the reconnect storm after
      // a deploy or a Multi-AZ failover lasts a minute or two and must not page; connections
      // held above the limit for 10 minutes are a leak or real saturation of db.t3.micro.
      Period: 300,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: a.rdsHighConnections,
      ComparisonOperator: 'GreaterThanThreshold',
      // RDS reports every minute; a gap means a reboot or failover, not a connection count.
      TreatMissingData: 'missing',
    },
    {
      key: 'albSlowResponse',
      AlarmName: n.albSlowResponse,
      AlarmDescription: `Average target response time above ${a.albSlowResponseSeconds} s for 3 consecutive 1-minute periods; notifies and scales the Auto Scaling group out.`,
      ActionsEnabled: true,
      // The scale-out policy only on ALARM: as an OK action it would scale out on recovery.
      AlarmActions: [ids.topicArn, ids.scaleOutPolicyArn],
      OKActions: [ids.topicArn],
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'TargetResponseTime',
      Statistic: 'Average',
      Dimensions: [{ Name: 'LoadBalancer', Value: ids.loadBalancerDimension }],
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: a.albSlowResponseSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
      // The ALB publishes TargetResponseTime only while requests flow: an idle shop has no
      // datapoints, and nothing is slow then.
      TreatMissingData: 'notBreaching',
    },
    {
      key: 'unhealthyHosts',
      AlarmName: n.unhealthyHosts,
      AlarmDescription: `At least ${a.unhealthyHosts} unhealthy target behind the ALB (maximum over 1 minute): notifies immediately.`,
      ...notify,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'UnHealthyHostCount',
      Statistic: 'Maximum',
      Dimensions: [
        { Name: 'LoadBalancer', Value: ids.loadBalancerDimension },
        { Name: 'TargetGroup', Value: ids.targetGroupDimension },
      ],
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: a.unhealthyHosts,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      // ELB documents that it reports metrics only while requests flow; `breaching` would page
      // every quiet night. Instances that die while idle are caught by the ASG's health checks
      // and show up here with the first request.
      TreatMissingData: 'notBreaching',
    },
    {
      key: 'rdsLowStorage',
      AlarmName: n.rdsLowStorage,
      AlarmDescription: `Free storage of ${ids.dbInstanceIdentifier} below ${a.rdsLowStorageGiB} GiB (${a.rdsLowStorageGiB * GIB} bytes, minimum over 5 minutes).`,
      ...notify,
      Namespace: 'AWS/RDS',
      MetricName: 'FreeStorageSpace',
      Statistic: 'Minimum',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: ids.dbInstanceIdentifier }],
      Period: 300,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      // FreeStorageSpace is in bytes; the seed's "2 GB" is read as 2 GiB.
      Threshold: a.rdsLowStorageGiB * GIB,
      ComparisonOperator: 'LessThanThreshold',
      // A gap is a reboot or failover; the disk did not fill up because of it.
      TreatMissingData: 'missing',
    },
  ];
}

/** The Route 53 health-check alarm (us-east-1). Pure. */
export function route53AlarmDefinition(
  config: Config,
  healthCheckId: string,
  edgeTopicArn: string,
): AlarmDefinition {
  return {
    AlarmName: alarmNames(config).route53HealthCheck,
    AlarmDescription: `Route 53 health check ${healthCheckId} of ${config.dns.domain ?? 'the site'} reports the endpoint unhealthy.`,
    ActionsEnabled: true,
    AlarmActions: [edgeTopicArn],
    OKActions: [edgeTopicArn],
    Namespace: 'AWS/Route53',
    MetricName: 'HealthCheckStatus',
    Statistic: 'Minimum',
    Dimensions: [{ Name: 'HealthCheckId', Value: healthCheckId }],
    Period: 60,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: 1,
    ComparisonOperator: 'LessThanThreshold',
    // Route 53 reports every minute while the check exists: silence means it is gone or broken.
    TreatMissingData: 'breaching',
  };
}

const sorted = (xs: string[] | undefined) => [...(xs ?? [])].sort();
const dims = (ds: Dimension[] | undefined) =>
  [...(ds ?? [])]
    .map((d) => `${d.Name}=${d.Value}`)
    .sort()
    .join(',');

/**
 * The fields where the live alarm differs from the wanted one ([] when equal; ['missing'] when
 * there is none). Compares what cloudmart sets, normalised (action and dimension order,
 * AWS's defaults for DatapointsToAlarm and TreatMissingData), and flags what it never sets
 * (Unit, ExtendedStatistic, metric math) since a write would drop them.
 */
export function alarmDiff(want: AlarmDefinition, live: MetricAlarm | undefined): string[] {
  if (!live) return ['missing'];
  const diffs: string[] = [];
  const cmp = (field: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      diffs.push(`${field} ${JSON.stringify(got)} (want ${JSON.stringify(expected)})`);
    }
  };
  cmp('AlarmDescription', live.AlarmDescription ?? '', want.AlarmDescription);
  cmp('ActionsEnabled', live.ActionsEnabled ?? true, want.ActionsEnabled);
  cmp('AlarmActions', sorted(live.AlarmActions), sorted(want.AlarmActions));
  cmp('OKActions', sorted(live.OKActions), sorted(want.OKActions));
  cmp('InsufficientDataActions', sorted(live.InsufficientDataActions), []);
  cmp('Namespace', live.Namespace, want.Namespace);
  cmp('MetricName', live.MetricName, want.MetricName);
  cmp('Statistic', live.Statistic, want.Statistic);
  cmp('ExtendedStatistic', live.ExtendedStatistic, undefined);
  cmp('Dimensions', dims(live.Dimensions), dims(want.Dimensions));
  cmp('Period', live.Period, want.Period);
  cmp('EvaluationPeriods', live.EvaluationPeriods, want.EvaluationPeriods);
  cmp(
    'DatapointsToAlarm',
    live.DatapointsToAlarm ?? live.EvaluationPeriods,
    want.DatapointsToAlarm,
  );
  cmp('Threshold', live.Threshold, want.Threshold);
  cmp('ComparisonOperator', live.ComparisonOperator, want.ComparisonOperator);
  cmp('TreatMissingData', live.TreatMissingData ?? 'missing', want.TreatMissingData);
  cmp('Unit', live.Unit, undefined);
  cmp('Metrics', (live.Metrics ?? []).length, 0);
  return diffs;
}

async function describeAlarms(
  cw: CloudWatchClient,
  alarmNameList: string[],
): Promise<Map<string, MetricAlarm>> {
  const { paginateDescribeAlarms } = await cwSdk();
  const found = new Map<string, MetricAlarm>();
  for await (const out of paginateDescribeAlarms(
    { client: cw },
    { AlarmNames: alarmNameList, AlarmTypes: ['MetricAlarm'] },
  )) {
    for (const a of out.MetricAlarms ?? []) if (a.AlarmName) found.set(a.AlarmName, a);
  }
  return found;
}

/** Write only the alarms whose live definition differs; returns how many were written. */
async function upsertAlarms(
  ctx: StepContext,
  region: string,
  wanted: AlarmDefinition[],
): Promise<number> {
  const { PutMetricAlarmCommand } = await cwSdk();
  const cw = await ctx.aws.get('cloudwatch', region);
  const live = await describeAlarms(
    cw,
    wanted.map((w) => w.AlarmName),
  );
  let written = 0;
  for (const w of wanted) {
    const diffs = alarmDiff(w, live.get(w.AlarmName));
    if (diffs.length === 0) continue;
    ctx.progress(
      diffs[0] === 'missing'
        ? `creating alarm ${w.AlarmName}`
        : `updating alarm ${w.AlarmName}: ${diffs.join('; ')}`,
    );
    const { key: _key, ...definition } = w as AlarmDefinition & { key?: string };
    // Tags only take effect when the alarm is created; on an update AWS ignores them.
    await cw.send(new PutMetricAlarmCommand({ ...definition, Tags: ctx.tags.list(w.AlarmName) }));
    written++;
  }
  return written;
}

function idsFrom(
  sns: SnsOutputs | undefined,
  alb: AlbOutputs | undefined,
  asg: AsgOutputs | undefined,
  rds: RdsOutputs | undefined,
): AlarmInputs | string {
  const missing = [!sns && STEP.sns, !alb && STEP.alb, !asg && STEP.asg, !rds && STEP.rds].filter(
    Boolean,
  );
  if (!sns || !alb || !asg || !rds) return `no outputs for ${missing.join(', ')}`;
  return {
    topicArn: sns.topicArn,
    autoScalingGroupName: asg.autoScalingGroupName,
    scaleOutPolicyArn: asg.scaleOutPolicyArn,
    loadBalancerDimension: alb.loadBalancerDimension,
    targetGroupDimension: alb.targetGroupDimension,
    dbInstanceIdentifier: rds.dbInstanceIdentifier,
  };
}

const OP: Record<string, string> = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '≥',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

function summary(a: MetricAlarm): string {
  const actions = (a.AlarmActions ?? []).map((x) => x.split(':')[2]).join('+');
  return `${a.Namespace}/${a.MetricName} ${a.Statistic} ${OP[a.ComparisonOperator ?? ''] ?? a.ComparisonOperator} ${a.Threshold} for ${a.EvaluationPeriods}×${a.Period}s → ${actions}; state ${a.StateValue ?? '?'}`;
}

export const alarmsStep = defineStep<AlarmOutputs>({
  id: STEP.alarms,
  phase: 2,
  title: 'CloudWatch alarms',
  // edge.dns is read only for the optional Route 53 alarm; without a domain the step is
  // disabled and counts as done, with one this waits for the health check to exist.
  needs: [STEP.sns, STEP.alb, STEP.asg, STEP.rds, STEP.dns],
  cleanupRank: 2,
  actions: [
    'cloudwatch:DescribeAlarms',
    'cloudwatch:PutMetricAlarm',
    'cloudwatch:TagResource',
    'cloudwatch:DeleteAlarms',
  ],
  describe: (config) => {
    const n = alarmNames(config);
    const a = config.monitoring.alarms;
    const lines = [
      `alarm ${n.ec2HighCpu}: EC2 CPUUtilization (ASG average) > ${a.ec2HighCpuPercent}% for 2×5 min → SNS`,
      `alarm ${n.rdsHighConnections}: RDS DatabaseConnections > ${a.rdsHighConnections} for 2×5 min → SNS`,
      `alarm ${n.albSlowResponse}: ALB TargetResponseTime > ${a.albSlowResponseSeconds} s for 3×1 min → SNS + ASG scale-out policy`,
      `alarm ${n.unhealthyHosts}: ALB UnHealthyHostCount ≥ ${a.unhealthyHosts} (1 min) → SNS`,
      `alarm ${n.rdsLowStorage}: RDS FreeStorageSpace < ${a.rdsLowStorageGiB} GiB → SNS`,
    ];
    if (config.dns.domain) {
      lines.push(
        `alarm ${n.route53HealthCheck} in ${config.edgeRegion}: Route 53 HealthCheckStatus < 1 → SNS ${config.stack}-alerts-edge`,
      );
    }
    return lines;
  },

  async create(ctx) {
    const sns = ctx.outputs<SnsOutputs>(STEP.sns);
    const alb = ctx.outputs<AlbOutputs>(STEP.alb);
    const asg = ctx.outputs<AsgOutputs>(STEP.asg);
    const ids: AlarmInputs = {
      topicArn: sns.topicArn,
      autoScalingGroupName: asg.autoScalingGroupName,
      scaleOutPolicyArn: asg.scaleOutPolicyArn,
      loadBalancerDimension: alb.loadBalancerDimension,
      targetGroupDimension: alb.targetGroupDimension,
      dbInstanceIdentifier: ctx.outputs<RdsOutputs>(STEP.rds).dbInstanceIdentifier,
    };
    const wanted = alarmDefinitions(ctx.config, ids);
    await upsertAlarms(ctx, ctx.config.region, wanted);

    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const outputs: AlarmOutputs = {
      alarmNames: wanted.map((w) => w.AlarmName),
      alarmArns: wanted.map((w) => alarmArn(partition, ctx.config.region, account, w.AlarmName)),
    };

    if (ctx.config.dns.domain) {
      const dns = ctx.maybeOutputs<DnsOutputs>(STEP.dns);
      if (!dns?.healthCheckId) {
        ctx.warn(
          `No Route 53 health check recorded for ${ctx.config.dns.domain}: the health-check alarm was not created. Run "cloudmart up --phase 1" first.`,
        );
      } else if (!sns.edgeTopicArn) {
        ctx.warn(
          `No ${ctx.config.edgeRegion} alerts topic recorded: the Route 53 health-check alarm was not created. Run "cloudmart up --phase 2" again.`,
        );
      } else {
        const edge = route53AlarmDefinition(ctx.config, dns.healthCheckId, sns.edgeTopicArn);
        await upsertAlarms(ctx, ctx.config.edgeRegion, [edge]);
        outputs.edgeAlarmName = edge.AlarmName;
        outputs.alarmArns.push(alarmArn(partition, ctx.config.edgeRegion, account, edge.AlarmName));
      }
    }
    return outputs;
  },

  async verify(ctx) {
    const ids = idsFrom(
      ctx.maybeOutputs<SnsOutputs>(STEP.sns),
      ctx.maybeOutputs<AlbOutputs>(STEP.alb),
      ctx.maybeOutputs<AsgOutputs>(STEP.asg),
      ctx.maybeOutputs<RdsOutputs>(STEP.rds),
    );
    const names = alarmNames(ctx.config);
    const cw = await ctx.aws.get('cloudwatch');
    const live = await describeAlarms(
      cw,
      ALARM_KEYS.map((k) => names[k]),
    );
    const wanted =
      typeof ids === 'string'
        ? undefined
        : new Map(alarmDefinitions(ctx.config, ids).map((w) => [w.key, w]));
    const checks: Check[] = ALARM_KEYS.map((key) => {
      const name = names[key];
      const l = live.get(name);
      const w = wanted?.get(key);
      const diffs = !l ? ['missing'] : w ? alarmDiff(w, l) : [];
      const status = diffs.length > 0 ? 'fail' : w ? 'pass' : 'unknown';
      return {
        id: `monitoring.alarms.${SLUG[key]}`,
        title: `Alarm ${name}`,
        criterion: 'alarms',
        status,
        evidence: !l
          ? `no alarm ${name}`
          : diffs.length > 0
            ? diffs.join('; ')
            : w
              ? summary(l)
              : `${summary(l)}; expected definition unknown (${ids as string})`,
        fix: 'cloudmart up --phase 2',
      };
    });

    if (ctx.config.dns.domain) {
      const dns = ctx.maybeOutputs<DnsOutputs>(STEP.dns);
      const sns = ctx.maybeOutputs<SnsOutputs>(STEP.sns);
      const name = names.route53HealthCheck;
      const edgeCw = await ctx.aws.get('cloudwatch', ctx.config.edgeRegion);
      const l = (await describeAlarms(edgeCw, [name])).get(name);
      const w =
        dns?.healthCheckId && sns?.edgeTopicArn
          ? route53AlarmDefinition(ctx.config, dns.healthCheckId, sns.edgeTopicArn)
          : undefined;
      const diffs = !l ? ['missing'] : w ? alarmDiff(w, l) : [];
      checks.push({
        id: 'monitoring.alarms.route53-health-check',
        title: `Alarm ${name} (${ctx.config.edgeRegion})`,
        criterion: 'alarms',
        status: !w ? 'warn' : diffs.length > 0 ? 'fail' : 'pass',
        evidence: !w
          ? `cannot check: ${!dns?.healthCheckId ? 'no Route 53 health check recorded' : `no ${ctx.config.edgeRegion} alerts topic recorded`}${l ? `; live: ${summary(l)}` : ''}`
          : diffs.length > 0
            ? diffs.join('; ')
            : summary(l!),
        fix: !w ? 'cloudmart up --phase 1, then cloudmart up --phase 2' : 'cloudmart up --phase 2',
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteAlarmsCommand } = await cwSdk();
    const names = alarmNames(ctx.config);
    const targets: Array<{ region: string; alarms: string[] }> = [
      { region: ctx.config.region, alarms: ALARM_KEYS.map((k) => names[k]) },
    ];
    if (ctx.config.dns.domain || ctx.previous?.edgeAlarmName) {
      targets.push({
        region: ctx.config.edgeRegion,
        alarms: [(ctx.previous?.edgeAlarmName as string | undefined) ?? names.route53HealthCheck],
      });
    }
    for (const t of targets) {
      const cw = await ctx.aws.get('cloudwatch', t.region);
      // DeleteAlarms deletes nothing when any name is unknown: send only those that exist.
      const existing = [...(await describeAlarms(cw, t.alarms)).keys()];
      if (existing.length === 0) continue;
      try {
        await cw.send(new DeleteAlarmsCommand({ AlarmNames: existing }));
        ctx.progress(`deleted alarms ${existing.join(', ')}`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  },
});
