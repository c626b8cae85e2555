import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DescribeDBInstancesCommand,
  RDSClient,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Outputs, StepContext } from '../../../src/engine/step.js';
import type { Results } from '../../../src/state/store.js';
import { drillsStep, makeDrillsStep } from '../../../src/steps/phase5-validation/drills.js';
import { strictMock, testConfig, testContext } from '../../helpers/context.js';
import {
  HEALTHY,
  OUTPUTS,
  db,
  group,
  instance,
  replacementNeverHealthy,
  target,
  targets,
} from '../../drills/fixtures.js';

const ok = () => Promise.resolve({ ok: true, status: 200, ms: 1 });

const ctx = (previous?: Outputs) =>
  testContext({ stepId: drillsStep.id, outputs: OUTPUTS, ...(previous ? { previous } : {}) });

const withResults = (c: StepContext, results: Results): StepContext =>
  Object.assign(Object.create(c) as StepContext, { results: () => results });

const status = (checks: Array<{ id: string; status: string }>, id: string) =>
  checks.find((c) => c.id === id)?.status;

describe('validation.drills', () => {
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  let rds: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    rds = strictMock(RDSClient);
  });

  it('is Phase 5, needs the ASG, the ALB, RDS and the API record, and runs after the load test and what changes the serving path', () => {
    expect(drillsStep).toMatchObject({
      id: 'validation.drills',
      phase: 5,
      // edge.dns is disabled (so ignored) without a domain.
      needs: ['app.asg', 'app.alb', 'data.rds', 'edge.dns'],
      runsAfter: ['validation.load', 'data.redis', 'backup.rds', 'backup.rds-snapshot'],
    });
    expect(drillsStep.runsAfterEarlierPhases).toBeUndefined();
    expect(drillsStep.actions).toEqual(
      expect.arrayContaining([
        'ec2:TerminateInstances',
        'rds:RebootDBInstance',
        'elasticloadbalancing:RegisterTargets',
      ]),
    );
    // The drill terminates with EC2 TerminateInstances, as the seed does.
    expect(drillsStep.actions).not.toContain('autoscaling:TerminateInstanceInAutoScalingGroup');
    expect(drillsStep.describe(testConfig())[0]).toMatch(
      /^Instance drill: terminate one InService instance of the group with EC2 TerminateInstances/,
    );
  });

  it('create runs the instance drill, then the RDS failover drill, and outputs their figures', async () => {
    const A = 'ap-northeast-2a';
    const C = 'ap-northeast-2c';
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // instance drill preflight
      .resolvesOnce(group([instance('i-a', A, 'Terminating', 'Unhealthy'), instance('i-b', C)]))
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(targets(target('i-a', 'draining'), target('i-b', 'healthy')))
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    ec2.on(TerminateInstancesCommand).resolves({
      TerminatingInstances: [{ InstanceId: 'i-a', CurrentState: { Name: 'shutting-down' } }],
    });
    rds
      .on(DescribeDBInstancesCommand)
      .resolvesOnce(HEALTHY.db) // instance drill preflight
      .resolvesOnce(db({ DBInstanceStatus: 'backing-up' })) // up's snapshot is being taken
      .resolvesOnce(HEALTHY.db) // … and is done: the failover may start
      .resolvesOnce(HEALTHY.db) // RDS drill preflight
      .resolvesOnce(db({ DBInstanceStatus: 'rebooting' }))
      .resolves(
        db({
          AvailabilityZone: C,
          SecondaryAvailabilityZone: A,
          LatestRestorableTime: new Date(1_700_000_000_000),
        }),
      );
    rds.on(RebootDBInstanceCommand).resolves({});
    const c = ctx();

    const out = await makeDrillsStep(ok).create(c);

    expect(out.instance).toMatchObject({
      instanceId: 'i-a',
      replacementId: 'i-c',
      replacementHealthyAfterSeconds: 5,
      rtoSeconds: 0,
    });
    expect(out['rds-failover']).toMatchObject({
      primaryAzBefore: A,
      primaryAzAfter: C,
      availableAfterSeconds: 5,
      // The probe never failed: the users saw no outage (RDS's 5 s is recorded beside it).
      rtoSeconds: 0,
    });
    expect(out['rds-failover']).not.toHaveProperty('plan');
    expect(ec2.commandCalls(TerminateInstancesCommand).map((x) => x.args[0].input)).toEqual([
      { InstanceIds: ['i-a'] },
    ]);
    expect(rds.commandCalls(RebootDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'cloudmart-db',
      ForceFailover: true,
    });
  });

  it('records a timed-out instance drill as a failed RTO, skips the RDS drill and warns', async () => {
    replacementNeverHealthy(asg, elb);
    ec2.on(TerminateInstancesCommand).resolves({
      TerminatingInstances: [{ InstanceId: 'i-a', CurrentState: { Name: 'shutting-down' } }],
    });
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db); // instance drill preflight
    // An earlier "up --drills" recorded an RDS failover drill.
    const earlier = { at: '2025-05-01T10:10:00.000Z', rtoSeconds: 60, rpoSeconds: 100 };
    const c = ctx({
      at: '2025-05-01T10:00:00.000Z',
      instance: { at: '2025-05-01T10:00:00.000Z', rtoSeconds: 170 },
      'rds-failover': earlier,
    });

    const out = await makeDrillsStep(ok, { timeoutMs: 60_000 }).create(c);

    expect(out.instance).toMatchObject({
      instanceId: 'i-a',
      takenOutAs: 'unused',
      replacementId: 'i-c',
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
      passed: false,
    });
    expect(out.instance).not.toHaveProperty('plan');
    // The RDS drill was not started; its earlier record stays as it was.
    expect(out['rds-failover']).toEqual(earlier);
    expect(out.skipped).toEqual(['rds-failover']);
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(
      /^instance drill FAILED: gave up after 60 s .* replace i-a .*i-c.*failed RTO.*RDS failover drill was not run/,
    );

    // What verify then makes of these outputs: a failed RTO, not "not measured yet".
    const checks = await drillsStep.verify(withResults(ctx(out), {}));
    const rto = checks.find((x) => x.id === 'criteria.recovery.instance')!;
    expect(rto.status).toBe('fail');
    expect(rto.evidence).toMatch(/^RTO not reached; i-a terminated; /);
    expect(rto.evidence).toContain('ALB took it out after 0 s (unused)');
    expect(rto.evidence).toContain('replacement i-c not healthy: gave up after 60 s');
    expect(status(checks, 'criteria.recovery.rds-failover')).toBe('pass');
  });

  it('leaves rds-failover out of the outputs when the instance drill times out before any RDS drill', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolves(group([instance('i-b', 'ap-northeast-2c')]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy')));
    ec2.on(TerminateInstancesCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);

    const out = await makeDrillsStep(ok, { timeoutMs: 30_000 }).create(ctx());

    expect(out.instance).toMatchObject({ replacementId: null, rtoSeconds: null, timedOut: true });
    expect(out).not.toHaveProperty('rds-failover');
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
  });

  it('records a timed-out RDS failover drill as a failed RTO and warns', async () => {
    const A = 'ap-northeast-2a';
    const C = 'ap-northeast-2c';
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group)
      .resolves(group([instance('i-b', C), instance('i-c', A)]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    ec2.on(TerminateInstancesCommand).resolves({});
    rds
      .on(DescribeDBInstancesCommand)
      .resolvesOnce(HEALTHY.db) // instance drill preflight
      .resolvesOnce(HEALTHY.db) // available for the failover
      .resolvesOnce(HEALTHY.db) // RDS drill preflight
      .resolves(db({ DBInstanceStatus: 'rebooting' }));
    rds.on(RebootDBInstanceCommand).resolves({});
    const c = ctx();

    const out = await makeDrillsStep(ok, { timeoutMs: 60_000 }).create(c);

    expect(out.instance).toMatchObject({ rtoSeconds: 0, timedOut: false, passed: true });
    expect(out['rds-failover']).toMatchObject({
      primaryAzBefore: A,
      availableAfterSeconds: null,
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
      passed: false,
    });
    expect(c.warnings).toEqual([
      expect.stringMatching(/^RDS failover drill FAILED: gave up after 60 s/),
    ]);
    const checks = await drillsStep.verify(withResults(ctx(out), {}));
    const rto = checks.find((x) => x.id === 'criteria.recovery.rds-failover')!;
    expect(rto.status).toBe('fail');
    expect(rto.evidence).toContain('gave up after 60 s');
  });

  it('does not start the RDS drill when the instance drill is refused', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(targets(target('i-a', 'healthy')));
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
    await expect(makeDrillsStep(ok).create(ctx())).rejects.toMatchObject({ code: 'NOT_READY' });
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
  });

  it('verify is "not measured yet" before any drill, never pass', async () => {
    const checks = await drillsStep.verify(withResults(ctx(), {}));
    expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
      ['criteria.recovery.instance', 'unknown', 'failure-recovery'],
      ['criteria.recovery.rds-failover', 'unknown', 'failure-recovery'],
    ]);
    expect(checks[0]!.fix).toBe('cloudmart drill instance');
  });

  it('verify turns the recorded figures into RTO < 5 min, no-interruption and RPO checks', async () => {
    const checks = await drillsStep.verify(
      withResults(
        ctx({
          at: '2025-05-01T10:00:00.000Z',
          instance: {
            at: '2025-05-01T10:00:00.000Z',
            rtoSeconds: 212,
            instanceId: 'i-a',
            failedRequests: 3,
            probe: { sent: 1060 },
          },
          'rds-failover': {
            at: '2025-05-01T10:10:00.000Z',
            rtoSeconds: 420,
            rpoSeconds: 0,
            rpoOk: true,
            rpoEvidence: 'a marker row written 1 s before the failover was read back after it',
            latestRestorableTime: '2025-05-01T10:08:00.000Z',
            restorableLagSeconds: 130,
            restorableLagStatus: 'pass',
          },
        }),
        {},
      ),
    );
    expect(status(checks, 'criteria.recovery.instance')).toBe('pass');
    expect(checks.find((c) => c.id === 'criteria.recovery.instance')!.evidence).toContain(
      'RTO 212 s',
    );
    expect(status(checks, 'validation.drills.instance.no-interruption')).toBe('warn');
    expect(
      checks.find((c) => c.id === 'validation.drills.instance.no-interruption')!.evidence,
    ).toContain('3 of 1060');
    expect(status(checks, 'criteria.recovery.rds-failover')).toBe('fail');
    expect(status(checks, 'validation.drills.rds-failover.rpo')).toBe('pass');
    expect(status(checks, 'validation.drills.rds-failover.backup-lag')).toBe('pass');
  });

  it('verify leaves the RPO unknown on an older record that read it from the restorable time', async () => {
    const checks = await drillsStep.verify(
      withResults(
        ctx({
          at: '2025-05-01T10:00:00.000Z',
          instance: { at: '2025-05-01T10:00:00.000Z', rtoSeconds: 0, failedRequests: 0 },
          'rds-failover': {
            at: '2025-05-01T10:10:00.000Z',
            rtoSeconds: 60,
            rpoSeconds: 130,
            rpoOk: true,
            latestRestorableTime: '2025-05-01T10:08:00.000Z',
          },
        }),
        {},
      ),
    );
    expect(status(checks, 'validation.drills.rds-failover.rpo')).toBe('unknown');
  });

  it('verify prefers a newer "cloudmart drill" record and shows the AZ simulation when run', async () => {
    const c = withResults(
      ctx({
        at: '2025-05-01T10:00:00.000Z',
        instance: { at: '2025-05-01T10:00:00.000Z', rtoSeconds: 400, failedRequests: 0 },
      }),
      {
        drills: {
          instance: { at: '2025-05-02T10:00:00.000Z', rtoSeconds: 180, failedRequests: 0 },
          az: {
            at: '2025-05-02T11:00:00.000Z',
            rtoSeconds: 0,
            availabilityZone: 'ap-northeast-2c',
            serviceStayedUp: true,
            failedRequests: 0,
            restored: true,
          },
        },
      },
    );
    const checks = await drillsStep.verify(c);
    expect(status(checks, 'criteria.recovery.instance')).toBe('pass');
    expect(status(checks, 'validation.drills.instance.no-interruption')).toBe('pass');
    expect(status(checks, 'validation.drills.az')).toBe('pass');
  });

  it('verify leaves the criteria to the recorded-results checks when it cannot see the recorded results', async () => {
    const own = {
      at: '2025-05-01T10:00:00.000Z',
      instance: { at: '2025-05-01T10:00:00.000Z', rtoSeconds: 400 },
    };
    expect(await drillsStep.verify(ctx(own))).toEqual([]);
  });

  it('teardown sends nothing', async () => {
    await expect(drillsStep.teardown(ctx())).resolves.toBeUndefined();
    expect(asg.calls()).toHaveLength(0);
    expect(rds.calls()).toHaveLength(0);
  });
});
