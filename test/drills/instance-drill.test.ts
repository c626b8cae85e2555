import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { DrillTimeoutError } from '../../src/drills/context.js';
import { drillRecord, drillVerdict } from '../../src/drills/index.js';
import { runInstanceDrill, type InstanceDrillResult } from '../../src/drills/instance-drill.js';
import { awsError, strictMock } from '../helpers/context.js';
import {
  BASE_URL,
  HEALTHY,
  OUTPUTS,
  TG_ARN,
  db,
  drillContext,
  group,
  instance,
  replacementNeverHealthy,
  target,
  targets,
} from './fixtures.js';

describe('instance drill', () => {
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  let rds: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds: string[] }) =>
      Promise.resolve({
        TerminatingInstances: input.InstanceIds.map((id) => ({
          InstanceId: id,
          PreviousState: { Code: 16, Name: 'running' },
          CurrentState: { Code: 32, Name: 'shutting-down' },
        })),
      }),
    );
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    rds = strictMock(RDSClient);
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
  });

  const A = 'ap-northeast-2a';
  const C = 'ap-northeast-2c';

  /**
   * What AWS shows after `aws ec2 terminate-instances` on i-a, one answer per 5 s poll: the ALB
   * keeps routing to i-a until its health checks fail (5 s), then sees the instance terminated
   * (unused, Target.InvalidState); the group notices, launches i-c and deregisters i-a.
   */
  function replacementSequence() {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // preflight
      .resolvesOnce(HEALTHY.group) // 0 s: nobody has noticed yet
      .resolvesOnce(group([instance('i-a', A, 'InService', 'Unhealthy'), instance('i-b', C)])) // 5 s
      .resolvesOnce(
        group([
          instance('i-a', A, 'Terminating', 'Unhealthy'),
          instance('i-b', C),
          instance('i-c', A, 'Pending'),
        ]),
      ) // 10 s
      .resolvesOnce(group([instance('i-b', C), instance('i-c', A)])) // 15 s
      .resolves(group([instance('i-b', C), instance('i-c', A)])); // 20 s
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets) // preflight
      .resolvesOnce(targets(target('i-a', 'healthy'), target('i-b', 'healthy'))) // 0 s
      .resolvesOnce(
        targets(target('i-a', 'unhealthy', 'Target.FailedHealthChecks'), target('i-b', 'healthy')),
      ) // 5 s
      .resolvesOnce(
        targets(target('i-a', 'unused', 'Target.InvalidState'), target('i-b', 'healthy')),
      ) // 10 s
      .resolvesOnce(
        targets(target('i-a', 'draining'), target('i-b', 'healthy'), target('i-c', 'initial')),
      ) // 15 s
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy'))); // 20 s
  }

  it('terminates one InService instance with EC2 TerminateInstances and measures unhealthy → replaced → healthy', async () => {
    replacementSequence();
    // Until the ALB marks i-a unhealthy (5 s), the requests it sends there fail.
    const ctx = drillContext({
      answer: (t) =>
        t >= 400 && t < 4_600 && Math.round(t / 200) % 2 === 0
          ? { ok: false, status: 502, ms: 3 }
          : { ok: true, ms: 3 },
    });

    const r = await runInstanceDrill(ctx);

    // The seed's "aws ec2 terminate-instances": the group is not told (no Auto Scaling call).
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input).toEqual({
      InstanceIds: ['i-a'],
    });
    expect(asg.calls().map((c) => c.args[0].constructor.name)).toEqual(
      Array(6).fill('DescribeAutoScalingGroupsCommand'),
    );
    expect(r).toMatchObject({
      drill: 'instance',
      dryRun: false,
      instanceId: 'i-a',
      availabilityZone: A,
      terminationState: 'shutting-down',
      replacementId: 'i-c',
      replacementAvailabilityZone: A,
      unhealthyAfterSeconds: 5,
      takenOutAs: 'unhealthy',
      replacementInServiceAfterSeconds: 15,
      replacementHealthyAfterSeconds: 20,
      // The outage users saw: first failed request (0.4 s) to the success after the last (4.6 s).
      rtoSeconds: 4.2,
      failedRequests: 11,
      timedOut: false,
      timedOutAfterSeconds: null,
    });
    expect(r.targetStates).toEqual([
      { afterSeconds: 0, state: 'healthy', reason: null },
      { afterSeconds: 5, state: 'unhealthy', reason: 'Target.FailedHealthChecks' },
      { afterSeconds: 10, state: 'unused', reason: 'Target.InvalidState' },
      { afterSeconds: 15, state: 'draining', reason: null },
      { afterSeconds: 20, state: 'not registered', reason: null },
    ]);
    expect(r.probe).toMatchObject({
      url: `${BASE_URL}/api/products`,
      perSecond: 5,
      failed: 11,
      firstFailureSeconds: 0.4,
      recoveredSeconds: 4.6,
      lastError: 'HTTP 502',
    });
    // A light load: 5 requests a second over the 20 s, plus the preflight and the one at the start.
    expect(r.probe!.sent).toBeGreaterThanOrEqual(100);
    expect(r.probe!.sent).toBeLessThanOrEqual(103);
    expect(ctx.elapsed()).toBe(20_000);
    expect(ctx.progressLog.some((l) => l.includes('replacement i-c Pending'))).toBe(true);
    expect(elb.commandCalls(DescribeTargetHealthCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG_ARN,
    });

    const verdict = drillVerdict(r);
    expect(verdict.rtoOk).toBe(true);
    expect(verdict.ok).toBe(false); // 11 requests failed: the seed expects none
    expect(drillRecord(r)).toMatchObject({
      at: r.at,
      rtoSeconds: 4.2,
      replacementHealthyAfterSeconds: 20,
      failedRequests: 11,
      takenOutAs: 'unhealthy',
      passed: false,
    });
    expect(drillRecord(r)).not.toHaveProperty('plan');
  });

  it('says so when the target had left the target group before the ALB was seen to mark it', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolvesOnce(group([instance('i-b', C), instance('i-c', A, 'Pending')])) // 0 s
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(targets(target('i-b', 'healthy'))) // 0 s: i-a is gone already
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    const r = await runInstanceDrill(drillContext());
    expect(r).toMatchObject({
      unhealthyAfterSeconds: 0,
      takenOutAs: 'deregistered',
      replacementId: 'i-c',
      replacementHealthyAfterSeconds: 5,
      rtoSeconds: 0,
    });
  });

  it('records "unused" when the ALB sees the instance terminated before its health checks fail', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolvesOnce(HEALTHY.group) // 0 s
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(
        targets(target('i-a', 'unused', 'Target.InvalidState'), target('i-b', 'healthy')),
      ) // 0 s
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    const r = await runInstanceDrill(drillContext());
    expect(r).toMatchObject({ unhealthyAfterSeconds: 0, takenOutAs: 'unused', rtoSeconds: 0 });
    expect(r.targetStates[0]).toEqual({
      afterSeconds: 0,
      state: 'unused',
      reason: 'Target.InvalidState',
    });
  });

  it('is not done while the ALB still counts the terminated instance healthy', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolves(group([instance('i-a', A), instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(
        targets(target('i-a', 'healthy'), target('i-b', 'healthy'), target('i-c', 'healthy')),
      ) // 0 s
      .resolves(
        targets(
          target('i-a', 'unhealthy', 'Target.Timeout'),
          target('i-b', 'healthy'),
          target('i-c', 'healthy'),
        ),
      ); // 5 s
    const r = await runInstanceDrill(drillContext());
    expect(r).toMatchObject({ unhealthyAfterSeconds: 5, takenOutAs: 'unhealthy', rtoSeconds: 0 });
  });

  it('terminates the instance given with --instance-id', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolves(group([instance('i-a', A), instance('i-d', C)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-a', 'healthy'), target('i-d', 'healthy')));
    const r = await runInstanceDrill(drillContext(), { instanceId: 'i-b' });
    expect(r.instanceId).toBe('i-b');
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input).toEqual({
      InstanceIds: ['i-b'],
    });
    expect(r).toMatchObject({ replacementId: 'i-d', takenOutAs: 'deregistered', rtoSeconds: 0 });
  });

  it('refuses an --instance-id that is not a healthy instance of the group, and terminates nothing', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    // An instance of another group (EC2 would terminate it all the same).
    await expect(runInstanceDrill(drillContext(), { instanceId: 'i-zzz' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('candidates: i-a, i-b'),
    });
    expect(ec2.calls()).toHaveLength(0);
  });

  it('refuses an --instance-id of the group that is not InService, and terminates nothing', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(
        group([instance('i-a', A), instance('i-b', C), instance('i-x', A, 'Terminating:Wait')]),
      );
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    await expect(runInstanceDrill(drillContext(), { instanceId: 'i-x' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining(
        'i-x is not an InService, healthy instance of cloudmart-asg',
      ),
    });
    expect(ec2.calls()).toHaveLength(0);
  });

  it('dry run says what it would do and sends no mutating call', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const r = await runInstanceDrill(drillContext(), { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.plan[0]).toContain('Terminate i-a');
    expect(r.plan[0]).toContain('EC2 TerminateInstances');
    expect(r.rtoSeconds).toBeNull();
    expect(ec2.calls()).toHaveLength(0);
  });

  it('refuses to run when a target is unhealthy, listing every problem, and changes nothing', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(group([instance('i-a', A), instance('i-b', C, 'InService', 'Unhealthy')]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolves(targets(target('i-a', 'healthy'), target('i-b', 'unhealthy', 'Target.Timeout')));
    await expect(runInstanceDrill(drillContext())).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringMatching(
        /target i-b is unhealthy \(Target.Timeout\)[\s\S]*only 1 healthy target/,
      ),
    });
    expect(ec2.calls()).toHaveLength(0);
  });

  it('refuses to run when RDS is not available and Multi-AZ, or the app does not answer', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    rds
      .on(DescribeDBInstancesCommand)
      .resolves(db({ DBInstanceStatus: 'modifying', MultiAZ: false }));
    const ctx = drillContext({ answer: () => ({ ok: false, error: 'ECONNREFUSED', ms: 1 }) });
    const err = (await runInstanceDrill(ctx).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'NOT_READY' });
    expect(err.message).toContain('RDS cloudmart-db is modifying, not available');
    expect(err.message).toContain('RDS cloudmart-db is not Multi-AZ');
    expect(err.message).toContain(
      `the app does not answer at ${BASE_URL}/api/products (ECONNREFUSED)`,
    );
    expect(ec2.calls()).toHaveLength(0);
  });

  it('refuses to run when the stack is not built (outputs missing), before any AWS call', async () => {
    const ctx = drillContext({ outputs: { 'app.alb': OUTPUTS['app.alb']! } });
    await expect(runInstanceDrill(ctx)).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringContaining('app.asg, data.rds are not done'),
      hint: expect.stringContaining('cloudmart up --phase 1'),
    });
    expect(asg.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('gives up with TIMEOUT when the replacement never turns healthy, keeping what it measured', async () => {
    replacementNeverHealthy(asg, elb);
    const ctx = drillContext({
      answer: (t) => ({
        ok: t === 0 || t >= 1_000,
        status: t === 0 || t >= 1_000 ? 200 : 502,
        ms: 1,
      }),
    });
    const err = (await runInstanceDrill(ctx, { timeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    )) as DrillTimeoutError<InstanceDrillResult>;
    expect(err).toBeInstanceOf(DrillTimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', exitCode: 1 });
    expect(err.message).toContain('Gave up waiting for replacement of i-a');
    expect(ctx.elapsed()).toBe(60_000);
    expect(err.result).toMatchObject({
      drill: 'instance',
      instanceId: 'i-a',
      unhealthyAfterSeconds: 0,
      takenOutAs: 'unused',
      replacementId: 'i-c',
      replacementInServiceAfterSeconds: 0,
      replacementHealthyAfterSeconds: null,
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
      failedRequests: 4,
    });
    expect(err.result.probe).toMatchObject({ failed: 4, recoveredSeconds: 1 });
    const verdict = drillVerdict(err.result);
    expect(verdict).toMatchObject({ rtoOk: false, ok: false });
    expect(verdict.findings[0]).toBe(
      'RTO not measured: gave up waiting for the recovery after 60 s',
    );
    expect(drillRecord(err.result)).toMatchObject({
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
      passed: false,
    });
  });

  it('keeps polling through throttling', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .rejectsOnce(awsError('Throttling', 'Rate exceeded'))
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    const r = await runInstanceDrill(drillContext());
    expect(r.replacementHealthyAfterSeconds).toBe(5);
    expect(r.rtoSeconds).toBe(0);
  });

  it('stops on abort (Ctrl-C) while waiting', async () => {
    replacementSequence();
    const controller = new AbortController();
    const ctx = drillContext({
      signal: controller.signal,
      onTick: (t) => t >= 7_000 && controller.abort(),
    });
    await expect(runInstanceDrill(ctx)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(ctx.elapsed()).toBeLessThan(10_000);
  });
});
