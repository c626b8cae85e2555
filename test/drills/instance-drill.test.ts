import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { drillRecord, drillVerdict } from '../../src/drills/index.js';
import { runInstanceDrill } from '../../src/drills/instance-drill.js';
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
  target,
  targets,
} from './fixtures.js';

describe('instance drill', () => {
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  let rds: ReturnType<typeof strictMock>;
  beforeEach(() => {
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    rds = strictMock(RDSClient);
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
  });

  const A = 'ap-northeast-2a';
  const C = 'ap-northeast-2c';

  /** The describe sequence of a replacement: preflight, then one answer per 5 s poll. */
  function replacementSequence() {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // preflight
      .resolvesOnce(group([instance('i-a', A, 'Terminating', 'Unhealthy'), instance('i-b', C)])) // 0 s
      .resolvesOnce(group([instance('i-a', A, 'Terminating', 'Unhealthy'), instance('i-b', C)])) // 5 s
      .resolvesOnce(group([instance('i-b', C), instance('i-c', A, 'Pending')])) // 10 s
      .resolvesOnce(group([instance('i-b', C), instance('i-c', A)])) // 15 s
      .resolves(group([instance('i-b', C), instance('i-c', A)])); // 20 s
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets) // preflight
      .resolvesOnce(targets(target('i-a', 'healthy'), target('i-b', 'healthy'))) // 0 s
      .resolvesOnce(targets(target('i-a', 'draining'), target('i-b', 'healthy'))) // 5 s
      .resolvesOnce(targets(target('i-b', 'healthy'))) // 10 s
      .resolvesOnce(targets(target('i-b', 'healthy'), target('i-c', 'initial'))) // 15 s
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy'))); // 20 s
  }

  it('terminates one InService instance, keeps the desired capacity, and measures unhealthy → replaced → healthy', async () => {
    replacementSequence();
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    // Requests sent between 2 s and 3 s after the termination fail (the ALB still routes to it).
    const ctx = drillContext({
      answer: (t) =>
        t >= 2_000 && t < 3_000 ? { ok: false, status: 502, ms: 3 } : { ok: true, ms: 3 },
    });

    const r = await runInstanceDrill(ctx);

    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]!.args[0].input).toEqual({
      InstanceId: 'i-a',
      ShouldDecrementDesiredCapacity: false,
    });
    expect(r).toMatchObject({
      drill: 'instance',
      dryRun: false,
      instanceId: 'i-a',
      availabilityZone: A,
      replacementId: 'i-c',
      replacementAvailabilityZone: A,
      unhealthyAfterSeconds: 5,
      replacementInServiceAfterSeconds: 15,
      replacementHealthyAfterSeconds: 20,
      rtoSeconds: 20,
      failedRequests: 5,
    });
    expect(r.probe).toMatchObject({
      url: `${BASE_URL}/api/products`,
      perSecond: 5,
      failed: 5,
      firstFailureSeconds: 2,
      recoveredSeconds: 3,
      outageSeconds: 1,
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
    expect(verdict.ok).toBe(false); // 5 requests failed: the seed expects none
    expect(drillRecord(r)).toMatchObject({ at: r.at, rtoSeconds: 20, failedRequests: 5 });
    expect(drillRecord(r)).not.toHaveProperty('plan');
  });

  it('terminates the instance given with --instance-id', async () => {
    replacementSequence();
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    const r = await runInstanceDrill(drillContext(), { instanceId: 'i-b' });
    expect(r.instanceId).toBe('i-b');
    expect(
      asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]!.args[0].input.InstanceId,
    ).toBe('i-b');
  });

  it('refuses an --instance-id that is not a healthy instance of the group', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    await expect(runInstanceDrill(drillContext(), { instanceId: 'i-zzz' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('candidates: i-a, i-b'),
    });
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
  });

  it('dry run says what it would do and sends no mutating call', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const r = await runInstanceDrill(drillContext(), { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.plan[0]).toContain('Terminate i-a');
    expect(r.plan[0]).toContain('ShouldDecrementDesiredCapacity=false');
    expect(r.rtoSeconds).toBeNull();
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
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
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
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
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
  });

  it('refuses to run when the stack is not built (outputs missing), before any AWS call', async () => {
    const ctx = drillContext({ outputs: { 'app.alb': OUTPUTS['app.alb']! } });
    await expect(runInstanceDrill(ctx)).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringContaining('app.asg, data.rds are not done'),
      hint: expect.stringContaining('cloudmart up --phase 1'),
    });
    expect(asg.calls()).toHaveLength(0);
  });

  it('gives up with TIMEOUT when the replacement never turns healthy', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'unhealthy')));
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    const ctx = drillContext();
    await expect(runInstanceDrill(ctx, { timeoutMs: 60_000 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    expect(ctx.elapsed()).toBe(60_000);
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
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    const r = await runInstanceDrill(drillContext());
    expect(r.rtoSeconds).toBe(5);
  });

  it('stops on abort (Ctrl-C) while waiting', async () => {
    replacementSequence();
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    const controller = new AbortController();
    const ctx = drillContext({
      signal: controller.signal,
      onTick: (t) => t >= 7_000 && controller.abort(),
    });
    await expect(runInstanceDrill(ctx)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(ctx.elapsed()).toBeLessThan(10_000);
  });
});
