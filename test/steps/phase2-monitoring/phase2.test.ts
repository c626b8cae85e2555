import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  DescribeMetricFiltersCommand,
  ListTagsForResourceCommand,
  PutMetricFilterCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
  type LogGroup,
  type MetricFilter,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Outputs } from '../../../src/engine/step.js';
import { phase2Steps } from '../../../src/steps/phase2-monitoring/index.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testContext } from '../../helpers/context.js';
import { asgResponse, KMS, PHASE1, REDIS } from './fixtures.js';

/**
 * `cloudmart up --phase 2` against small in-memory fakes of SNS, CloudWatch Logs and
 * CloudWatch: the first run creates everything from the Phase 1 outputs, the second sends no
 * write, verify passes (but for the unconfirmed email), and teardown leaves nothing behind.
 */
const WRITES = new Set([
  'CreateTopicCommand',
  'SetTopicAttributesCommand',
  'SubscribeCommand',
  'CreateLogGroupCommand',
  'PutRetentionPolicyCommand',
  'AssociateKmsKeyCommand',
  'TagResourceCommand',
  'PutMetricFilterCommand',
  'PutDashboardCommand',
  'PutMetricAlarmCommand',
]);

describe('phase 2 against in-memory fakes', () => {
  const topics = new Map<string, Record<string, string>>();
  const subs: Array<{
    TopicArn: string;
    Protocol: string;
    Endpoint: string;
    SubscriptionArn: string;
  }> = [];
  const groups = new Map<string, LogGroup & { tags: Record<string, string> }>();
  const filters = new Map<string, MetricFilter>();
  const dashboards = new Map<string, string>();
  const alarms = new Map<string, MetricAlarm>();
  const sent: string[] = [];
  const mocks: Array<ReturnType<typeof strictMock>> = [];
  let phase1Live = true;

  beforeEach(() => {
    for (const m of [topics, groups, filters, dashboards, alarms]) m.clear();
    subs.length = 0;
    sent.length = 0;
    const sns = strictMock(SNSClient);
    const logs = strictMock(CloudWatchLogsClient);
    const cw = strictMock(CloudWatchClient);
    const asg = strictMock(AutoScalingClient);
    const rds = strictMock(RDSClient);
    const elb = strictMock(ElasticLoadBalancingV2Client);
    const cache = strictMock(ElastiCacheClient);
    mocks.splice(0, mocks.length, sns, logs, cw, asg, rds, elb, cache);

    sns.on(GetTopicAttributesCommand).callsFake(({ TopicArn }: { TopicArn: string }) => {
      const t = topics.get(TopicArn);
      if (!t) throw awsError('NotFoundException');
      return { Attributes: { TopicArn, ...t } };
    });
    sns
      .on(CreateTopicCommand)
      .callsFake(({ Name, Attributes }: { Name: string; Attributes: Record<string, string> }) => {
        const arn = `arn:aws:sns:ap-northeast-2:${ACCOUNT}:${Name}`;
        topics.set(arn, { ...Attributes });
        return { TopicArn: arn };
      });
    sns
      .on(SetTopicAttributesCommand)
      .callsFake((i: { TopicArn: string; AttributeName: string; AttributeValue: string }) => {
        topics.get(i.TopicArn)![i.AttributeName] = i.AttributeValue;
        return {};
      });
    sns.on(ListSubscriptionsByTopicCommand).callsFake(({ TopicArn }: { TopicArn: string }) => ({
      Subscriptions: subs.filter((s) => s.TopicArn === TopicArn),
    }));
    sns
      .on(SubscribeCommand)
      .callsFake((i: { TopicArn: string; Protocol: string; Endpoint: string }) => {
        subs.push({ ...i, SubscriptionArn: 'PendingConfirmation' });
        return { SubscriptionArn: `${i.TopicArn}:new` };
      });
    sns.on(DeleteTopicCommand).callsFake(({ TopicArn }: { TopicArn: string }) => {
      topics.delete(TopicArn);
      return {};
    });

    const arnOf = (n: string) => `arn:aws:logs:ap-northeast-2:${ACCOUNT}:log-group:${n}`;
    logs
      .on(DescribeLogGroupsCommand)
      .callsFake(({ logGroupIdentifiers }: { logGroupIdentifiers: string[] }) => ({
        logGroups: logGroupIdentifiers.filter((n) => groups.has(n)).map((n) => groups.get(n)),
      }));
    logs
      .on(CreateLogGroupCommand)
      .callsFake((i: { logGroupName: string; kmsKeyId: string; tags: Record<string, string> }) => {
        groups.set(i.logGroupName, {
          logGroupName: i.logGroupName,
          logGroupArn: arnOf(i.logGroupName),
          kmsKeyId: i.kmsKeyId,
          tags: i.tags,
        });
        return {};
      });
    logs
      .on(PutRetentionPolicyCommand)
      .callsFake((i: { logGroupName: string; retentionInDays: number }) => {
        groups.get(i.logGroupName)!.retentionInDays = i.retentionInDays;
        return {};
      });
    logs.on(AssociateKmsKeyCommand).callsFake((i: { logGroupName: string; kmsKeyId: string }) => {
      groups.get(i.logGroupName)!.kmsKeyId = i.kmsKeyId;
      return {};
    });
    logs.on(ListTagsForResourceCommand).callsFake(({ resourceArn }: { resourceArn: string }) => ({
      tags: [...groups.values()].find((g) => g.logGroupArn === resourceArn)?.tags ?? {},
    }));
    logs.on(TagResourceCommand).callsFake(() => ({}));
    logs
      .on(DescribeMetricFiltersCommand)
      .callsFake(({ logGroupName }: { logGroupName: string }) => ({
        metricFilters: [...filters.values()].filter((f) => f.logGroupName === logGroupName),
      }));
    logs.on(PutMetricFilterCommand).callsFake((i: MetricFilter) => {
      filters.set(`${i.logGroupName}|${i.filterName}`, structuredClone(i));
      return {};
    });
    logs.on(DeleteLogGroupCommand).callsFake(({ logGroupName }: { logGroupName: string }) => {
      if (!groups.delete(logGroupName)) throw awsError('ResourceNotFoundException');
      return {};
    });
    // Phase 1 as verify sees it (the dashboard checks that what it plots exists); gone again
    // for teardown, as after destroy's Phase 1.
    phase1Live = true;
    rds.on(DescribeDBInstancesCommand).callsFake(({ DBInstanceIdentifier: id }) => {
      if (!phase1Live) throw awsError('DBInstanceNotFoundFault');
      return { DBInstances: [{ DBInstanceIdentifier: id, DBInstanceStatus: 'available' }] };
    });
    elb
      .on(DescribeLoadBalancersCommand)
      .callsFake(({ LoadBalancerArns }: { LoadBalancerArns: string[] }) => ({
        LoadBalancers: LoadBalancerArns.map((LoadBalancerArn) => ({ LoadBalancerArn })),
      }));
    elb
      .on(DescribeTargetGroupsCommand)
      .callsFake(({ TargetGroupArns }: { TargetGroupArns: string[] }) => ({
        TargetGroups: TargetGroupArns.map((TargetGroupArn) => ({ TargetGroupArn })),
      }));
    cache.on(DescribeReplicationGroupsCommand).resolves({
      ReplicationGroups: [{ Status: 'available', MemberClusters: REDIS.memberClusters }],
    });

    cw.on(GetDashboardCommand).callsFake(({ DashboardName }: { DashboardName: string }) => {
      const body = dashboards.get(DashboardName);
      if (!body) throw awsError('ResourceNotFound');
      return {
        DashboardName,
        DashboardBody: body,
        DashboardArn: `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${DashboardName}`,
      };
    });
    cw.on(PutDashboardCommand).callsFake(
      ({ DashboardName, DashboardBody }: { DashboardName: string; DashboardBody: string }) => {
        // CloudWatch keeps the text; give it back re-serialised to prove the comparison is parsed.
        dashboards.set(DashboardName, JSON.stringify(JSON.parse(DashboardBody), null, 1));
        return { DashboardValidationMessages: [] };
      },
    );
    cw.on(DeleteDashboardsCommand).callsFake(({ DashboardNames }: { DashboardNames: string[] }) => {
      for (const n of DashboardNames) dashboards.delete(n);
      return {};
    });
    cw.on(DescribeAlarmsCommand).callsFake(({ AlarmNames }: { AlarmNames: string[] }) => ({
      MetricAlarms: AlarmNames.filter((n) => alarms.has(n)).map((n) => alarms.get(n)),
    }));
    cw.on(PutMetricAlarmCommand).callsFake(
      ({ Tags: _t, ...a }: MetricAlarm & { Tags: unknown }) => {
        alarms.set(a.AlarmName!, { ...structuredClone(a), StateValue: 'OK' });
        return {};
      },
    );
    cw.on(DeleteAlarmsCommand).callsFake(({ AlarmNames }: { AlarmNames: string[] }) => {
      for (const n of AlarmNames) alarms.delete(n);
      return {};
    });
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(asgResponse(['i-0aaaaaaaaaaaaaaaa', 'i-0bbbbbbbbbbbbbbbb']));
  });

  const writesSent = () =>
    mocks
      .flatMap((m) =>
        m.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name),
      )
      .filter((n) => WRITES.has(n));

  async function up(outputs: Record<string, Outputs>): Promise<Record<string, Outputs>> {
    const all: Record<string, Outputs> = { ...outputs };
    for (const step of phase2Steps) {
      all[step.id] = await step.create(testContext({ stepId: step.id, outputs: all }));
    }
    return all;
  }

  it('creates all of Phase 2 from the Phase 1 outputs; a second run sends no write', async () => {
    const first = await up({ ...PHASE1, [STEP.kms]: KMS });
    expect(writesSent().length).toBeGreaterThan(0);
    expect(topics.size).toBe(1);
    expect(groups.size).toBe(5);
    expect(filters.size).toBe(5);
    expect(dashboards.size).toBe(1);
    expect(alarms.size).toBe(5);
    expect(first[STEP.dashboard]!.consoleUrl).toContain('#dashboards:name=CloudMart-Production');

    for (const m of mocks) m.resetHistory();
    await up({ ...PHASE1, [STEP.kms]: KMS });
    expect(writesSent()).toEqual([]);

    const checks = (
      await Promise.all(
        phase2Steps.map((s) => s.verify(testContext({ stepId: s.id, outputs: first }))),
      )
    ).flat();
    const notPassing = checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}:${c.status}`);
    expect(notPassing).toEqual(['monitoring.sns.subscription.email:warn']);

    phase1Live = false;
    for (const step of [...phase2Steps].sort(
      (a, b) => (a.cleanupRank ?? 99) - (b.cleanupRank ?? 99),
    )) {
      await step.teardown(
        testContext({ stepId: step.id, outputs: first, previous: first[step.id] }),
      );
    }
    expect([topics.size, groups.size, dashboards.size, alarms.size]).toEqual([0, 0, 0, 0]);
  });
});
