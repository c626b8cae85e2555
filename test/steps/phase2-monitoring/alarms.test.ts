import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  alarmDefinitions,
  alarmDiff,
  alarmNames,
  alarmsStep,
} from '../../../src/steps/phase2-monitoring/alarms.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import {
  ALB,
  DNS,
  EDGE_TOPIC_ARN,
  PHASE1,
  regionOf,
  SCALE_OUT_ARN,
  SNS,
  TOPIC_ARN,
} from './fixtures.js';

const NOTIFY = { ActionsEnabled: true, AlarmActions: [TOPIC_ARN], OKActions: [TOPIC_ARN] };

/** The five alarms of the seed, every field written out. */
const EXPECTED = [
  {
    AlarmName: 'CloudMart-EC2-HighCPU',
    AlarmDescription:
      'Average CPU of the cloudmart-asg instances above 80% for 2 consecutive 5-minute periods (10 minutes).',
    ...NOTIFY,
    Namespace: 'AWS/EC2',
    MetricName: 'CPUUtilization',
    Statistic: 'Average',
    Dimensions: [{ Name: 'AutoScalingGroupName', Value: 'cloudmart-asg' }],
    Period: 300,
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    Threshold: 80,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
  },
  {
    AlarmName: 'CloudMart-RDS-HighConnections',
    AlarmDescription:
      'More than 80 connections to cloudmart-db (average) for 2 consecutive 5-minute periods.',
    ...NOTIFY,
    Namespace: 'AWS/RDS',
    MetricName: 'DatabaseConnections',
    Statistic: 'Average',
    Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'cloudmart-db' }],
    Period: 300,
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    Threshold: 80,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
  },
  {
    AlarmName: 'CloudMart-ALB-SlowResponse',
    AlarmDescription:
      'Average target response time above 1 s for 3 consecutive 1-minute periods; notifies and scales the Auto Scaling group out.',
    ActionsEnabled: true,
    AlarmActions: [TOPIC_ARN, SCALE_OUT_ARN],
    OKActions: [TOPIC_ARN],
    Namespace: 'AWS/ApplicationELB',
    MetricName: 'TargetResponseTime',
    Statistic: 'Average',
    Dimensions: [{ Name: 'LoadBalancer', Value: ALB.loadBalancerDimension }],
    Period: 60,
    EvaluationPeriods: 3,
    DatapointsToAlarm: 3,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
  },
  {
    AlarmName: 'CloudMart-UnhealthyHosts',
    AlarmDescription:
      'At least 1 unhealthy target behind the ALB (maximum over 1 minute): notifies immediately.',
    ...NOTIFY,
    Namespace: 'AWS/ApplicationELB',
    MetricName: 'UnHealthyHostCount',
    Statistic: 'Maximum',
    Dimensions: [
      { Name: 'LoadBalancer', Value: ALB.loadBalancerDimension },
      { Name: 'TargetGroup', Value: ALB.targetGroupDimension },
    ],
    Period: 60,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
  },
  {
    AlarmName: 'CloudMart-RDS-LowStorage',
    AlarmDescription:
      'Free storage of cloudmart-db below 2 GiB (2147483648 bytes, minimum over 5 minutes).',
    ...NOTIFY,
    Namespace: 'AWS/RDS',
    MetricName: 'FreeStorageSpace',
    Statistic: 'Minimum',
    Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'cloudmart-db' }],
    Period: 300,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: 2147483648,
    ComparisonOperator: 'LessThanThreshold',
    TreatMissingData: 'missing',
  },
];

const tagsOf = (name: string) => [
  { Key: 'Project', Value: 'CloudMart' },
  { Key: 'Environment', Value: 'production' },
  { Key: 'Name', Value: name },
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'monitoring.alarms' },
];

/** How DescribeAlarms returns a converged alarm: state fields added, lists in AWS's order. */
const live = (def: (typeof EXPECTED)[number]): MetricAlarm => ({
  ...(def as MetricAlarm),
  AlarmArn: `arn:aws:cloudwatch:ap-northeast-2:${ACCOUNT}:alarm:${def.AlarmName}`,
  StateValue: 'OK',
  StateReason: 'Threshold Crossed',
  InsufficientDataActions: [],
  Dimensions: [...def.Dimensions].reverse(),
  AlarmActions: [...def.AlarmActions].reverse(),
  AlarmConfigurationUpdatedTimestamp: new Date(0),
});

describe('alarm names', () => {
  it('are the seed names for the default stack and <stack>- otherwise', () => {
    expect(alarmNames(testConfig())).toEqual({
      ec2HighCpu: 'CloudMart-EC2-HighCPU',
      rdsHighConnections: 'CloudMart-RDS-HighConnections',
      albSlowResponse: 'CloudMart-ALB-SlowResponse',
      unhealthyHosts: 'CloudMart-UnhealthyHosts',
      rdsLowStorage: 'CloudMart-RDS-LowStorage',
      route53HealthCheck: 'CloudMart-Route53-HealthCheck',
    });
    expect(alarmNames(testConfig({ stack: 'shop' })).ec2HighCpu).toBe('shop-EC2-HighCPU');
  });
});

describe('alarmDiff', () => {
  const [cpu] = alarmDefinitions(testConfig(), {
    topicArn: TOPIC_ARN,
    autoScalingGroupName: 'cloudmart-asg',
    scaleOutPolicyArn: SCALE_OUT_ARN,
    loadBalancerDimension: ALB.loadBalancerDimension,
    targetGroupDimension: ALB.targetGroupDimension,
    dbInstanceIdentifier: 'cloudmart-db',
  });

  it('treats AWS defaults (no DatapointsToAlarm, no TreatMissingData) as the values cloudmart sets', () => {
    const l = live(EXPECTED[0]!);
    delete l.DatapointsToAlarm;
    delete l.TreatMissingData;
    expect(alarmDiff(cpu!, l)).toEqual([]);
  });

  it.each([
    ['Period', 60],
    ['EvaluationPeriods', 3],
    ['Threshold', 90],
    ['ComparisonOperator', 'GreaterThanOrEqualToThreshold'],
    ['Statistic', 'Maximum'],
    ['MetricName', 'CPUCreditBalance'],
    ['Namespace', 'CWAgent'],
  ] as const)('flags a live %s that differs from the seed definition', (field, value) => {
    const l = { ...live(EXPECTED[0]!), [field]: value };
    expect(alarmDiff(cpu!, l)).toEqual([
      `${field} ${JSON.stringify(value)} (want ${JSON.stringify(EXPECTED[0]![field])})`,
    ]);
  });

  it('flags a unit, an extra action and a percentile that a write would drop', () => {
    const l = {
      ...live(EXPECTED[0]!),
      Unit: 'Seconds' as const,
      InsufficientDataActions: ['arn:x'],
      ExtendedStatistic: 'p99',
    };
    expect(alarmDiff(cpu!, l).map((d) => d.split(' ')[0])).toEqual([
      'InsufficientDataActions',
      'ExtendedStatistic',
      'Unit',
    ]);
  });
});

describe('monitoring.alarms', () => {
  let cw: ReturnType<typeof strictMock>;
  beforeEach(() => {
    cw = strictMock(CloudWatchClient);
  });

  const ctx = (
    config = testConfig(),
    outputs: Record<string, Record<string, unknown>> = PHASE1,
    previous?: Record<string, unknown>,
  ) => testContext({ stepId: alarmsStep.id, config, outputs, ...(previous ? { previous } : {}) });

  it('creates the five alarms exactly as the seed defines them, tagged', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    cw.on(PutMetricAlarmCommand).resolves({});

    const out = await alarmsStep.create(ctx());

    expect(cw.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input).toEqual({
      AlarmNames: EXPECTED.map((e) => e.AlarmName),
      AlarmTypes: ['MetricAlarm'],
      NextToken: undefined,
    });
    const puts = cw.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input);
    expect(puts).toEqual(EXPECTED.map((e) => ({ ...e, Tags: tagsOf(e.AlarmName) })));
    expect(out).toEqual({
      alarmNames: EXPECTED.map((e) => e.AlarmName),
      alarmArns: EXPECTED.map(
        (e) => `arn:aws:cloudwatch:ap-northeast-2:${ACCOUNT}:alarm:${e.AlarmName}`,
      ),
    });
  });

  it('sends no write when every alarm is already as wanted', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.map(live) });
    await alarmsStep.create(ctx());
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });

  it('rewrites only the alarm whose threshold drifted', async () => {
    const alarms = EXPECTED.map(live);
    alarms[0] = { ...alarms[0]!, Threshold: 90 };
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: alarms });
    cw.on(PutMetricAlarmCommand).resolves({});
    const c = ctx();

    await alarmsStep.create(c);

    const puts = cw.commandCalls(PutMetricAlarmCommand).map((x) => x.args[0].input);
    expect(puts).toEqual([{ ...EXPECTED[0], Tags: tagsOf('CloudMart-EC2-HighCPU') }]);
    expect(c.progressLog).toContain('updating alarm CloudMart-EC2-HighCPU: Threshold 90 (want 80)');
  });

  it('creates only the missing alarm and follows DescribeAlarms pages', async () => {
    const alarms = EXPECTED.map(live);
    cw.on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({ MetricAlarms: alarms.slice(0, 2), NextToken: 'p2' })
      .on(DescribeAlarmsCommand, { NextToken: 'p2' })
      .resolves({ MetricAlarms: alarms.slice(2, 4) });
    cw.on(PutMetricAlarmCommand).resolves({});
    await alarmsStep.create(ctx());
    expect(cw.commandCalls(PutMetricAlarmCommand).map((x) => x.args[0].input.AlarmName)).toEqual([
      'CloudMart-RDS-LowStorage',
    ]);
  });

  it('follows the config thresholds', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    cw.on(PutMetricAlarmCommand).resolves({});
    await alarmsStep.create(
      ctx(testConfig({ monitoring: { alarms: { ec2HighCpuPercent: 75, rdsLowStorageGiB: 5 } } })),
    );
    const byName = Object.fromEntries(
      cw
        .commandCalls(PutMetricAlarmCommand)
        .map((x) => [x.args[0].input.AlarmName, x.args[0].input]),
    );
    expect(byName['CloudMart-EC2-HighCPU']!.Threshold).toBe(75);
    expect(byName['CloudMart-RDS-LowStorage']!.Threshold).toBe(5 * 1024 ** 3);
  });

  it('surfaces a PutMetricAlarm failure', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    cw.on(PutMetricAlarmCommand).rejects(awsError('LimitExceededFault', 'too many alarms'));
    await expect(alarmsStep.create(ctx())).rejects.toThrow('too many alarms');
  });

  describe('with a domain', () => {
    const config = testConfig({ dns: { domain: 'shop.example.com' } });
    const ROUTE53 = {
      AlarmName: 'CloudMart-Route53-HealthCheck',
      AlarmDescription: `Route 53 health check ${DNS.healthCheckId} of shop.example.com reports the endpoint unhealthy.`,
      ActionsEnabled: true,
      AlarmActions: [EDGE_TOPIC_ARN],
      OKActions: [EDGE_TOPIC_ARN],
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
      Statistic: 'Minimum',
      Dimensions: [{ Name: 'HealthCheckId', Value: DNS.healthCheckId }],
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      Tags: tagsOf('CloudMart-Route53-HealthCheck'),
    };

    it('adds the Route 53 health-check alarm in us-east-1 on the edge topic', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
      cw.on(PutMetricAlarmCommand).resolves({});
      const out = await alarmsStep.create(
        ctx(config, {
          ...PHASE1,
          [STEP.sns]: { ...SNS, edgeTopicArn: EDGE_TOPIC_ARN },
          [STEP.dns]: DNS,
        }),
      );
      const calls = cw.commandCalls(PutMetricAlarmCommand);
      expect(calls).toHaveLength(6);
      expect(calls[5]!.args[0].input).toEqual(ROUTE53);
      expect(await regionOf(calls[5]!)).toBe('us-east-1');
      expect(await regionOf(calls[0]!)).toBe('ap-northeast-2');
      expect(out.edgeAlarmName).toBe('CloudMart-Route53-HealthCheck');
      expect(out.alarmArns.at(-1)).toBe(
        `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:CloudMart-Route53-HealthCheck`,
      );
    });

    it('skips the Route 53 alarm with a warning when there is no edge topic', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.map(live) });
      const c = ctx(config, { ...PHASE1, [STEP.dns]: DNS });
      const out = await alarmsStep.create(c);
      expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
      expect(out.edgeAlarmName).toBeUndefined();
      expect(c.warnings[0]).toMatch(/No us-east-1 alerts topic recorded/);
    });

    it('verify warns when the health check is not recorded', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.map(live) });
      const checks = await alarmsStep.verify(ctx(config));
      expect(checks.find((c) => c.id === 'monitoring.alarms.route53-health-check')).toMatchObject({
        status: 'warn',
        evidence: 'cannot check: no Route 53 health check recorded',
      });
    });
  });

  describe('verify', () => {
    it('passes the five alarms as defined', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.map(live) });
      const checks = await alarmsStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
        ['monitoring.alarms.ec2-high-cpu', 'pass', 'alarms'],
        ['monitoring.alarms.rds-high-connections', 'pass', 'alarms'],
        ['monitoring.alarms.alb-slow-response', 'pass', 'alarms'],
        ['monitoring.alarms.unhealthy-hosts', 'pass', 'alarms'],
        ['monitoring.alarms.rds-low-storage', 'pass', 'alarms'],
      ]);
      expect(checks[0]!.evidence).toBe(
        'AWS/EC2/CPUUtilization Average > 80 for 2×300s → sns; state OK',
      );
    });

    it('fails SlowResponse without its scaling action, a wrong dimension and a missing alarm', async () => {
      const alarms = EXPECTED.map(live);
      alarms[2] = { ...alarms[2]!, AlarmActions: [TOPIC_ARN] };
      alarms[3] = {
        ...alarms[3]!,
        Dimensions: [{ Name: 'LoadBalancer', Value: ALB.loadBalancerDimension }],
      };
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: alarms.slice(0, 4) });

      const checks = await alarmsStep.verify(ctx());
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));

      expect(byId['monitoring.alarms.alb-slow-response']?.status).toBe('fail');
      expect(byId['monitoring.alarms.alb-slow-response']?.evidence).toContain(SCALE_OUT_ARN);
      expect(byId['monitoring.alarms.unhealthy-hosts']?.evidence).toMatch(/^Dimensions /);
      expect(byId['monitoring.alarms.rds-low-storage']).toMatchObject({
        status: 'fail',
        evidence: 'no alarm CloudMart-RDS-LowStorage',
      });
      expect(byId['monitoring.alarms.ec2-high-cpu']?.status).toBe('pass');
    });

    it('reports unknown, not pass, when the Phase 1 outputs are missing', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.map(live) });
      const checks = await alarmsStep.verify(ctx(testConfig(), { [STEP.sns]: SNS }));
      expect(new Set(checks.map((c) => c.status))).toEqual(new Set(['unknown']));
      expect(checks[0]!.evidence).toContain(`no outputs for ${STEP.alb}, ${STEP.asg}, ${STEP.rds}`);
    });
  });

  describe('teardown', () => {
    it('deletes only the alarms that exist (DeleteAlarms deletes none if one name is unknown)', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: EXPECTED.slice(0, 3).map(live) });
      cw.on(DeleteAlarmsCommand).resolves({});
      await alarmsStep.teardown(ctx(testConfig(), {}));
      expect(cw.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input)).toEqual([
        {
          AlarmNames: [
            'CloudMart-EC2-HighCPU',
            'CloudMart-RDS-HighConnections',
            'CloudMart-ALB-SlowResponse',
          ],
        },
      ]);
    });

    it('succeeds when the alarms are already gone', async () => {
      cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
      await expect(alarmsStep.teardown(ctx(testConfig(), {}))).resolves.toBeUndefined();
      expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(0);
    });

    it('treats an alarm deleted meanwhile as done and also removes the us-east-1 alarm of a previous run', async () => {
      cw.on(DescribeAlarmsCommand)
        .resolves({ MetricAlarms: EXPECTED.map(live) })
        .on(DescribeAlarmsCommand, { AlarmNames: ['CloudMart-Route53-HealthCheck'] })
        .resolves({ MetricAlarms: [{ AlarmName: 'CloudMart-Route53-HealthCheck' }] });
      cw.on(DeleteAlarmsCommand)
        .rejectsOnce(awsError('ResourceNotFound', 'alarm does not exist', 404))
        .resolves({});
      await alarmsStep.teardown(
        ctx(testConfig(), {}, { edgeAlarmName: 'CloudMart-Route53-HealthCheck' }),
      );
      const deletes = cw.commandCalls(DeleteAlarmsCommand);
      expect(deletes).toHaveLength(2);
      expect(deletes[1]!.args[0].input).toEqual({ AlarmNames: ['CloudMart-Route53-HealthCheck'] });
      expect(await regionOf(deletes[1]!)).toBe('us-east-1');
    });
  });
});

describe('monitoring.alarms contract', () => {
  it('is the seed cleanup step 2 and waits for the DNS health check when there is one', () => {
    expect(alarmsStep.cleanupRank).toBe(2);
    expect(alarmsStep.needs).toEqual([STEP.sns, STEP.alb, STEP.asg, STEP.rds, STEP.dns]);
  });
});
