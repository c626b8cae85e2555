import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  ResumeProcessesCommand,
  SuspendProcessesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { runAzDrill, type AzDrillResult } from '../../src/drills/az-drill.js';
import { DrillTimeoutError } from '../../src/drills/context.js';
import { drillRecord, drillVerdict } from '../../src/drills/index.js';
import { awsError, strictMock } from '../helpers/context.js';
import { HEALTHY, TG_ARN, drillContext, group, instance, target, targets } from './fixtures.js';

const ALL = ['HealthCheck', 'ReplaceUnhealthy', 'AZRebalance'];

describe('AZ drill (simulation)', () => {
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  /** Target i-b (ap-northeast-2c) as the target group reports it. */
  let ib: 'healthy' | 'draining' | 'gone' | 'initial';
  let deregisteredAt: number | undefined;

  beforeEach(() => {
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    const rds = strictMock(RDSClient);
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    asg.on(SuspendProcessesCommand).resolves({});
    asg.on(ResumeProcessesCommand).resolves({});
    ib = 'healthy';
    deregisteredAt = undefined;
  });

  /** A target group where i-b drains for 30 s after deregistration and is healthy 10 s after it is registered again. */
  function targetGroup(ctx: () => { now(): number }) {
    let registeredAt: number | undefined;
    elb.on(DeregisterTargetsCommand).callsFake(() => {
      deregisteredAt = ctx().now();
      return Promise.resolve({});
    });
    elb.on(RegisterTargetsCommand).callsFake(() => {
      registeredAt = ctx().now();
      return Promise.resolve({});
    });
    elb.on(DescribeTargetHealthCommand).callsFake(() => {
      const now = ctx().now();
      if (registeredAt !== undefined) ib = now - registeredAt >= 10_000 ? 'healthy' : 'initial';
      else if (deregisteredAt !== undefined)
        ib = now - deregisteredAt >= 30_000 ? 'gone' : 'draining';
      const list = [target('i-a', 'healthy')];
      if (ib !== 'gone') list.push(target('i-b', ib));
      return Promise.resolve(targets(...list));
    });
  }

  it('takes one AZ out, shows the service stays up, then restores targets and processes', async () => {
    const ctx = drillContext();
    targetGroup(() => ctx);

    const r = await runAzDrill(ctx);

    expect(asg.commandCalls(SuspendProcessesCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      ScalingProcesses: ALL,
    });
    expect(elb.commandCalls(DeregisterTargetsCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG_ARN,
      Targets: [{ Id: 'i-b', Port: 8080 }],
    });
    expect(elb.commandCalls(RegisterTargetsCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG_ARN,
      Targets: [{ Id: 'i-b', Port: 8080 }],
    });
    expect(asg.commandCalls(ResumeProcessesCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      ScalingProcesses: ALL,
    });
    expect(r).toMatchObject({
      drill: 'az',
      simulation: true,
      availabilityZone: 'ap-northeast-2c',
      targetsRemoved: ['i-b'],
      processesPaused: ALL,
      drainedAfterSeconds: 30,
      minHealthyRemaining: 1,
      failedRequests: 0,
      serviceStayedUp: true,
      rtoSeconds: 0,
      restored: true,
      restoredHealthyAfterSeconds: 10,
    });
    expect(r.plan[0]).toMatch(/^SIMULATION/);
    expect(ib).toBe('healthy');
    expect(drillVerdict(r)).toMatchObject({ ok: true, rtoOk: true });
  });

  it('resumes only the processes it paused', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(
      group([instance('i-a', 'ap-northeast-2a'), instance('i-b', 'ap-northeast-2c')], {
        SuspendedProcesses: [{ ProcessName: 'AZRebalance', SuspensionReason: 'by user' }],
      }),
    );
    const ctx = drillContext();
    targetGroup(() => ctx);
    await runAzDrill(ctx);
    expect(asg.commandCalls(ResumeProcessesCommand)[0]!.args[0].input.ScalingProcesses).toEqual([
      'HealthCheck',
      'ReplaceUnhealthy',
    ]);
  });

  it('restores even when an AWS call fails in the middle, then reports the error', async () => {
    const ctx = drillContext();
    targetGroup(() => ctx);
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets) // preflight
      .rejects(awsError('AccessDenied', 'not allowed', 403));

    await expect(runAzDrill(ctx)).rejects.toMatchObject({ name: 'AccessDenied' });

    expect(elb.commandCalls(DeregisterTargetsCommand)).toHaveLength(1);
    expect(elb.commandCalls(RegisterTargetsCommand)[0]!.args[0].input.Targets).toEqual([
      { Id: 'i-b', Port: 8080 },
    ]);
    expect(asg.commandCalls(ResumeProcessesCommand)).toHaveLength(1);
    expect(ctx.progressLog.some((l) => l.startsWith('restored: registered i-b'))).toBe(true);
  });

  it('restores on Ctrl-C (abort) during the simulation', async () => {
    const controller = new AbortController();
    const ctx = drillContext({
      signal: controller.signal,
      onTick: (t) => t >= 12_000 && controller.abort(),
    });
    targetGroup(() => ctx);

    await expect(runAzDrill(ctx)).rejects.toMatchObject({
      code: 'INTERRUPTED',
      message: expect.stringContaining('restored'),
    });
    expect(elb.commandCalls(RegisterTargetsCommand)).toHaveLength(1);
    expect(asg.commandCalls(ResumeProcessesCommand)).toHaveLength(1);
    // Nothing waits on the aborted signal: it stopped right away.
    expect(ctx.elapsed()).toBeLessThan(15_000);
  });

  it('restores the processes when the deregistration itself fails', async () => {
    const ctx = drillContext();
    targetGroup(() => ctx);
    elb.on(DeregisterTargetsCommand).rejects(awsError('InvalidTargetException', 'bad target'));
    await expect(runAzDrill(ctx)).rejects.toMatchObject({ name: 'InvalidTargetException' });
    expect(asg.commandCalls(ResumeProcessesCommand)).toHaveLength(1);
  });

  it('says how to restore by hand when the restore fails', async () => {
    const controller = new AbortController();
    const ctx = drillContext({
      signal: controller.signal,
      onTick: (t) => t >= 5_000 && controller.abort(),
    });
    targetGroup(() => ctx);
    elb.on(RegisterTargetsCommand).rejects(awsError('ServiceUnavailable', 'try later', 503));
    await expect(runAzDrill(ctx)).rejects.toMatchObject({
      code: 'AWS_ERROR',
      message: expect.stringContaining('could not put everything back'),
      hint: expect.stringContaining(
        `aws elbv2 register-targets --target-group-arn ${TG_ARN} --targets Id=i-b,Port=8080`,
      ),
    });
    // The processes were still resumed.
    expect(asg.commandCalls(ResumeProcessesCommand)).toHaveLength(1);
  });

  it('reports failed requests when the service did not stay up', async () => {
    const ctx = drillContext({
      answer: (t) =>
        t >= 10_000 && t < 12_000 ? { ok: false, status: 502, ms: 1 } : { ok: true, ms: 1 },
    });
    targetGroup(() => ctx);
    const r = await runAzDrill(ctx);
    expect(r.serviceStayedUp).toBe(false);
    expect(r.failedRequests).toBe(10);
    expect(r.rtoSeconds).toBe(2);
    expect(r.restored).toBe(true);
    expect(drillVerdict(r).ok).toBe(false);
  });

  it('records a timeout (restored) when the targets never leave the target group', async () => {
    const ctx = drillContext();
    elb.on(DeregisterTargetsCommand).resolves({});
    elb.on(RegisterTargetsCommand).resolves({});
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets); // i-b never drains
    const err = (await runAzDrill(ctx, { holdMs: 30_000 }).catch(
      (e: unknown) => e,
    )) as DrillTimeoutError<AzDrillResult>;
    expect(err).toBeInstanceOf(DrillTimeoutError);
    expect(elb.commandCalls(RegisterTargetsCommand)).toHaveLength(1);
    expect(asg.commandCalls(ResumeProcessesCommand)).toHaveLength(1);
    expect(err.result).toMatchObject({
      drill: 'az',
      restored: true,
      drainedAfterSeconds: null,
      serviceStayedUp: true,
      failedRequests: 0,
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 330,
    });
    expect(drillRecord(err.result)).toMatchObject({ timedOut: true, passed: false });
  });

  it('records a timeout when the restored targets do not turn healthy again', async () => {
    const ctx = drillContext();
    targetGroup(() => ctx);
    // Registered again, but the target never passes its health checks.
    elb.on(DescribeTargetHealthCommand).callsFake(() => {
      const registered = elb.commandCalls(RegisterTargetsCommand).length > 0;
      const draining = deregisteredAt !== undefined && ctx.now() - deregisteredAt < 30_000;
      const ib = registered
        ? [target('i-b', 'unhealthy', 'Target.Timeout')]
        : deregisteredAt === undefined
          ? [target('i-b', 'healthy')]
          : draining
            ? [target('i-b', 'draining')]
            : [];
      return Promise.resolve(targets(target('i-a', 'healthy'), ...ib));
    });
    const err = (await runAzDrill(ctx, { restoreTimeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    )) as DrillTimeoutError<AzDrillResult>;
    expect(err).toBeInstanceOf(DrillTimeoutError);
    expect(err.message).toContain('targets of ap-northeast-2c to be healthy again');
    expect(err.result).toMatchObject({
      restored: true,
      serviceStayedUp: true,
      rtoSeconds: 0,
      restoredHealthyAfterSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
    });
    const verdict = drillVerdict(err.result);
    expect(verdict).toMatchObject({ rtoOk: true, ok: false });
    expect(verdict.findings).toContain('gave up waiting after 60 s');
  });

  it('dry run sends no mutating call', async () => {
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const r = await runAzDrill(drillContext(), { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.plan.join('\n')).toContain('Deregister i-b (ap-northeast-2c)');
    for (const c of [SuspendProcessesCommand, ResumeProcessesCommand])
      expect(asg.commandCalls(c)).toHaveLength(0);
    for (const c of [DeregisterTargetsCommand, RegisterTargetsCommand])
      expect(elb.commandCalls(c)).toHaveLength(0);
  });

  it('refuses when every healthy target is in one AZ (the service would go down)', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(group([instance('i-a', 'ap-northeast-2a'), instance('i-b', 'ap-northeast-2a')]));
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    await expect(runAzDrill(drillContext())).rejects.toMatchObject({ code: 'NOT_READY' });
    expect(asg.commandCalls(SuspendProcessesCommand)).toHaveLength(0);
    expect(elb.commandCalls(DeregisterTargetsCommand)).toHaveLength(0);
  });
});
