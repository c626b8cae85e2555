import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
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
import { DrillTimeoutError } from '../../src/drills/context.js';
import { drillRecord, drillVerdict } from '../../src/drills/index.js';
import { drillChecks } from '../../src/steps/phase5-validation/drills.js';
import {
  runRdsFailoverDrill,
  type RdsFailoverDrillResult,
} from '../../src/drills/rds-failover-drill.js';
import { strictMock } from '../helpers/context.js';
import { BASE_URL, HEALTHY, START, db, drillContext, type FakeDrillContext } from './fixtures.js';

describe('RDS failover drill', () => {
  let rds: ReturnType<typeof strictMock>;
  beforeEach(() => {
    const asg = strictMock(AutoScalingClient);
    const elb = strictMock(ElasticLoadBalancingV2Client);
    rds = strictMock(RDSClient);
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
  });

  /**
   * RDS as time passes after the reboot: `available` for a moment, `rebooting` until
   * `availableAt`, then available in the other AZ with a latest restorable time 2 min back.
   */
  function failover(
    ctx: () => FakeDrillContext,
    availableAt: number,
    moves = true,
    restorableLagMs = 120_000,
  ) {
    let rebootAt: number | undefined;
    rds.on(RebootDBInstanceCommand).callsFake(() => {
      rebootAt = ctx().now();
      return Promise.resolve({});
    });
    rds.on(DescribeDBInstancesCommand).callsFake(() => {
      const now = ctx().now();
      if (rebootAt === undefined) return Promise.resolve(HEALTHY.db);
      const t = now - rebootAt;
      if (t < 3_000) return Promise.resolve(HEALTHY.db);
      if (t < availableAt) return Promise.resolve(db({ DBInstanceStatus: 'rebooting' }));
      return Promise.resolve(
        db({
          AvailabilityZone: moves ? 'ap-northeast-2c' : 'ap-northeast-2a',
          SecondaryAvailabilityZone: moves ? 'ap-northeast-2a' : 'ap-northeast-2c',
          LatestRestorableTime: new Date(now - restorableLagMs),
        }),
      );
    });
  }

  it('forces a failover and measures: available again, primary AZ before/after, app outage, RTO, RPO', async () => {
    // /health fails from 4 s to 40 s after the reboot (the app reconnects after that).
    const ctx = drillContext({
      answer: (t) =>
        t >= 4_000 && t < 40_000
          ? { ok: false, status: 503, ms: 2 }
          : { ok: true, status: 200, ms: 2 },
    });
    failover(() => ctx, 60_000);

    const r = await runRdsFailoverDrill(ctx);

    expect(rds.commandCalls(RebootDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'cloudmart-db',
      ForceFailover: true,
    });
    expect(r).toMatchObject({
      drill: 'rds-failover',
      dbInstanceIdentifier: 'cloudmart-db',
      primaryAzBefore: 'ap-northeast-2a',
      standbyAzBefore: 'ap-northeast-2c',
      primaryAzAfter: 'ap-northeast-2c',
      failedOver: true,
      availableAfterSeconds: 60,
      appOutageSeconds: 36,
      appRecoveredAfterSeconds: 40,
      // The outage /health saw (4 s → 40 s), not RDS's own "available again" (60 s).
      rtoSeconds: 36,
      // The marker written before the reboot was read back: nothing lost.
      dataLost: false,
      rpoSeconds: 0,
      rpoOk: true,
      latestRestorableTime: new Date(START + 60_000 - 120_000).toISOString(),
      restorableLagSeconds: 120,
      restorableLagStatus: 'pass',
    });
    expect(r.marker).toMatchObject({
      url: expect.stringMatching(new RegExp(`^${BASE_URL}/api/drill-markers/drill-[a-z0-9-]+$`)),
      writtenBeforeSeconds: 0,
      found: true,
    });
    expect(r.rpoEvidence).toContain('read back after it: no data lost');
    expect(r.probe).toMatchObject({ url: `${BASE_URL}/health`, perSecond: 1, failed: 36 });
    // /health every second.
    const healthProbes = ctx.probes.filter((p) => p.url === `${BASE_URL}/health`);
    expect(healthProbes.length).toBeGreaterThanOrEqual(60);
    expect(drillVerdict(r)).toMatchObject({ rtoOk: true, ok: true });
  });

  it('a healthy failover with a 4-minute restorable-time lag: no data lost, RPO 0, backups healthy', async () => {
    const ctx = drillContext();
    failover(() => ctx, 90_000, true, 4 * 60_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r).toMatchObject({
      rpoSeconds: 0,
      rpoOk: true,
      dataLost: false,
      restorableLagSeconds: 240,
      restorableLagStatus: 'pass',
    });
    expect(drillVerdict(r).ok).toBe(true);
    const checks = drillChecks({ rdsFailover: drillRecord(r) });
    expect(checks.find((c) => c.id === 'validation.drills.rds-failover.rpo')?.status).toBe('pass');
    expect(checks.find((c) => c.id === 'validation.drills.rds-failover.backup-lag')?.status).toBe(
      'pass',
    );
  });

  it('a 7-minute restorable-time lag is a backup-health warning, not a failed RPO', async () => {
    const ctx = drillContext();
    failover(() => ctx, 90_000, true, 7 * 60_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r).toMatchObject({ rpoSeconds: 0, rpoOk: true, restorableLagStatus: 'warn' });
    const checks = drillChecks({ rdsFailover: drillRecord(r) });
    expect(checks.find((c) => c.id === 'validation.drills.rds-failover.rpo')?.status).toBe('pass');
    expect(checks.find((c) => c.id === 'validation.drills.rds-failover.backup-lag')?.status).toBe(
      'warn',
    );
  });

  it('a marker that is gone after the failover is data lost: the RPO fails', async () => {
    const ctx = drillContext({
      // The write is acknowledged, but after the failover the row is not there.
      marker: (method) => Promise.resolve({ status: method === 'PUT' ? 201 : 404 }),
    });
    failover(() => ctx, 60_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r).toMatchObject({ dataLost: true, rpoOk: false });
    expect(r.rpoEvidence).toContain('is gone after it: committed data was lost');
    expect(drillVerdict(r).ok).toBe(false);
    const rpo = drillChecks({ rdsFailover: drillRecord(r) }).find(
      (c) => c.id === 'validation.drills.rds-failover.rpo',
    );
    expect(rpo?.status).toBe('fail');
  });

  it('an app without the marker route leaves the RPO unknown, never passed', async () => {
    const ctx = drillContext({ marker: () => Promise.resolve({ status: 404 }) });
    failover(() => ctx, 60_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r).toMatchObject({ rpoSeconds: null, rpoOk: null, dataLost: null });
    expect(r.rpoEvidence).toContain('the app has no marker route');
    const rpo = drillChecks({ rdsFailover: drillRecord(r) }).find(
      (c) => c.id === 'validation.drills.rds-failover.rpo',
    );
    expect(rpo?.status).toBe('unknown');
  });

  it('waits for the app to reconnect after RDS is back: the RTO is the outage /health saw', async () => {
    // RDS is back at 50 s, the app only answers again from 95 s.
    const ctx = drillContext({
      answer: (t) =>
        t >= 2_000 && t < 95_000 ? { ok: false, error: 'timeout', ms: 3000 } : { ok: true, ms: 2 },
    });
    failover(() => ctx, 50_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r.availableAfterSeconds).toBe(50);
    expect(r.appRecoveredAfterSeconds).toBe(95);
    expect(r.rtoSeconds).toBe(93);
    expect(r.appOutageSeconds).toBe(93);
  });

  it('an app that never failed had no outage: RTO 0, with RDS available again after 4 minutes beside it', async () => {
    // RDS reports "rebooting" for 4 minutes, but the users never saw a failure.
    const ctx = drillContext();
    failover(() => ctx, 240_000);
    const r = await runRdsFailoverDrill(ctx);
    expect(r).toMatchObject({ availableAfterSeconds: 240, appOutageSeconds: 0, rtoSeconds: 0 });
    expect(drillVerdict(r).rtoOk).toBe(true);
  });

  it('an RDS that never leaves "available" counts as back only after 2 minutes', async () => {
    const ctx = drillContext();
    rds.on(RebootDBInstanceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
    const r = await runRdsFailoverDrill(ctx);
    expect(r.availableAfterSeconds).toBe(120);
    expect(r.failedOver).toBe(false);
    // The marker survived (nothing failed over); no restorable time was read.
    expect(r.rpoSeconds).toBe(0);
    expect(r.restorableLagSeconds).toBeNull();
    expect(drillVerdict(r).ok).toBe(false);
  });

  it('refuses a single-AZ instance (a forced failover needs Multi-AZ) and reboots nothing', async () => {
    rds.on(DescribeDBInstancesCommand).resolves(db({ MultiAZ: false }));
    await expect(runRdsFailoverDrill(drillContext())).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringContaining('not Multi-AZ'),
    });
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
  });

  it('dry run reads the AZs and sends no reboot', async () => {
    rds.on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
    const r = await runRdsFailoverDrill(drillContext(), { dryRun: true });
    expect(r.plan[0]).toContain('ForceFailover=true');
    expect(r.plan[0]).toContain('ap-northeast-2c');
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
  });

  it('gives up with TIMEOUT when RDS stays rebooting, keeping what it measured', async () => {
    const ctx = drillContext({
      answer: (t) => (t >= 4_000 ? { ok: false, status: 503, ms: 2 } : { ok: true, ms: 2 }),
    });
    failover(() => ctx, Number.POSITIVE_INFINITY);
    const err = (await runRdsFailoverDrill(ctx, { timeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    )) as DrillTimeoutError<RdsFailoverDrillResult>;
    expect(err).toBeInstanceOf(DrillTimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(err.result).toMatchObject({
      drill: 'rds-failover',
      primaryAzBefore: 'ap-northeast-2a',
      // Still rebooting: the AZ read afterwards is the old one, no failover seen.
      primaryAzAfter: 'ap-northeast-2a',
      failedOver: false,
      availableAfterSeconds: null,
      appRecoveredAfterSeconds: null,
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 60,
    });
    expect(err.result.appOutageSeconds).toBeGreaterThanOrEqual(55);
    expect(err.result.probe!.failed).toBeGreaterThan(50);
    expect(drillRecord(err.result)).toMatchObject({ timedOut: true, passed: false });
  });

  it('keeps the timeout record when the read after a timeout fails too', async () => {
    const ctx = drillContext();
    let reboots = 0;
    rds.on(RebootDBInstanceCommand).callsFake(() => {
      reboots++;
      return Promise.resolve({});
    });
    // Polls at 0, 5, …, 60 s say rebooting; the read after the timeout fails.
    let polls = 0;
    rds.on(DescribeDBInstancesCommand).callsFake(() => {
      if (reboots === 0) return Promise.resolve(HEALTHY.db);
      return ++polls > 13
        ? Promise.reject(new Error('socket hang up'))
        : Promise.resolve(db({ DBInstanceStatus: 'rebooting' }));
    });
    const err = (await runRdsFailoverDrill(ctx, { timeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    )) as DrillTimeoutError<RdsFailoverDrillResult>;
    expect(err).toBeInstanceOf(DrillTimeoutError);
    expect(err.result).toMatchObject({ timedOut: true, primaryAzAfter: null, rtoSeconds: null });
    expect(polls).toBe(14);
  });

  it('stops on abort while RDS is rebooting', async () => {
    const controller = new AbortController();
    const ctx = drillContext({
      signal: controller.signal,
      onTick: (t) => t >= 20_000 && controller.abort(),
    });
    failover(() => ctx, 60_000);
    await expect(runRdsFailoverDrill(ctx)).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });
});
