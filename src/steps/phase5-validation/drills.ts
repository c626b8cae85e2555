import { drillContextFromStep, httpProbe, type Probe } from '../../drills/context.js';
import {
  drillRecord,
  isDrillTimeout,
  type DrillOptions,
  type DrillResult,
} from '../../drills/index.js';
import { runInstanceDrill } from '../../drills/instance-drill.js';
import { runRdsFailoverDrill } from '../../drills/rds-failover-drill.js';
import { RPO_TARGET_SECONDS, RTO_TARGET_SECONDS } from '../../drills/context.js';
import { defineStep, type Check, type Step, type StepContext } from '../../engine/step.js';
import { waitUntil } from '../../aws/wait.js';
import { describeDbInstance } from '../phase1-foundation/rds-database.js';
import { STEP, type DrillsOutputs, type RdsOutputs } from '../outputs.js';
import { latest, num, recordedResults } from './results.js';

type DrillRecord = Record<string, unknown> & { at: string };

/** The newest record of one drill: this step's last outputs or the last `cloudmart drill`. */
export function latestDrill(ctx: StepContext, name: string): DrillRecord | undefined {
  const own = (ctx.previous as Record<string, DrillRecord | undefined> | undefined)?.[name];
  return latest(own, recordedResults(ctx)?.drills?.[name]);
}

const rtoCheck = (
  id: string,
  title: string,
  record: DrillRecord | undefined,
  fix: string,
  evidence: (r: DrillRecord) => string,
): Check => {
  if (!record)
    return {
      id,
      title,
      criterion: 'failure-recovery',
      status: 'unknown',
      evidence: 'not measured yet',
      fix,
    };
  const rto = num(record, 'rtoSeconds');
  return {
    id,
    title,
    criterion: 'failure-recovery',
    status: rto !== undefined && rto < RTO_TARGET_SECONDS ? 'pass' : 'fail',
    evidence: `${rto !== undefined ? `RTO ${rto} s` : record.timedOut === true ? 'RTO not reached' : 'RTO not measured'}; ${evidence(record)} (${record.at})`,
    fix,
  };
};

/**
 * Checks of the recorded drills against the seed: RTO < 5 min, no interruption, RPO < 5 min.
 * The RTO checks carry the ids of the recorded-results checks in src/verify/criteria.ts, so
 * verify shows each criterion once.
 */
export function drillChecks(records: {
  instance?: DrillRecord | undefined;
  rdsFailover?: DrillRecord | undefined;
  az?: DrillRecord | undefined;
}): Check[] {
  const { instance, rdsFailover, az } = records;
  const checks: Check[] = [
    rtoCheck(
      'criteria.recovery.instance',
      'Instance loss recovered (RTO < 5 min)',
      instance,
      'cloudmart drill instance',
      (r) => {
        const out = num(r, 'unhealthyAfterSeconds');
        const probe = r.probe as Record<string, unknown> | undefined;
        const failed = num(r, 'failedRequests');
        const users =
          num(r, 'rtoSeconds') === undefined
            ? ''
            : failed === 0
              ? 'no request of the background probe failed (no outage); '
              : `the outage users saw: ${failed ?? '?'} of ${num(probe, 'sent') ?? '?'} probe requests failed between ${num(probe, 'firstFailureSeconds') ?? '?'} s and ${num(probe, 'recoveredSeconds') ?? '?'} s; `;
        return `${users}${String(r.instanceId)} terminated; ${
          out === undefined
            ? 'the ALB never took it out'
            : `ALB took it out after ${out} s (${String(r.takenOutAs)})`
        }; ${
          r.timedOut === true
            ? `replacement ${String(r.replacementId)} not healthy: gave up after ${String(r.timedOutAfterSeconds)} s`
            : `replacement ${String(r.replacementId)} healthy after ${String(r.replacementHealthyAfterSeconds)} s`
        }`;
      },
    ),
  ];
  if (instance) {
    const failed = num(instance, 'failedRequests');
    const sent = num(instance.probe as Record<string, unknown> | undefined, 'sent');
    checks.push({
      id: 'validation.drills.instance.no-interruption',
      title: 'Instance loss: no failed request',
      criterion: 'failure-recovery',
      status: failed === 0 ? 'pass' : 'warn',
      evidence: `${failed ?? '?'} of ${sent ?? '?'} background request(s) failed during the drill`,
      fix: 'cloudmart drill instance',
    });
  }
  checks.push(
    rtoCheck(
      'criteria.recovery.rds-failover',
      'RDS failover recovered (RTO < 5 min)',
      rdsFailover,
      'cloudmart drill rds-failover',
      (r) =>
        `primary ${String(r.primaryAzBefore)} → ${String(r.primaryAzAfter)}; ${
          r.timedOut === true
            ? `gave up after ${String(r.timedOutAfterSeconds)} s`
            : `available after ${String(r.availableAfterSeconds)} s`
        }; app outage ${String(r.appOutageSeconds)} s`,
    ),
  );
  if (rdsFailover) {
    const rpo = num(rdsFailover, 'rpoSeconds');
    const rpoOk = rdsFailover.rpoOk;
    const measuredByMarker = typeof rdsFailover.rpoEvidence === 'string';
    checks.push({
      id: 'validation.drills.rds-failover.rpo',
      title: 'RDS failover: no data lost (RPO < 5 min)',
      criterion: 'failure-recovery',
      // Only a marker read back (or found gone) measures the RPO; an older record that read
      // it from the restorable time says nothing about lost data.
      status:
        !measuredByMarker || rpoOk === null || rpoOk === undefined
          ? 'unknown'
          : rpoOk === true && rpo !== undefined && rpo < RPO_TARGET_SECONDS
            ? 'pass'
            : 'fail',
      evidence: measuredByMarker
        ? `${String(rdsFailover.rpoEvidence)} (${rdsFailover.at})`
        : `not measured by this record: it read the latest restorable time, which is no measure of lost data (${rdsFailover.at})`,
      fix: 'cloudmart drill rds-failover',
    });
    const lag = num(rdsFailover, 'restorableLagSeconds');
    const band = rdsFailover.restorableLagStatus;
    checks.push({
      id: 'validation.drills.rds-failover.backup-lag',
      title: 'RDS backups keep up (latest restorable time within 5 min, warning to 15 min)',
      criterion: 'backup',
      status: band === 'pass' || band === 'warn' || band === 'fail' ? band : 'unknown',
      evidence:
        lag === undefined
          ? 'no latest restorable time was read'
          : `latest restorable time ${String(rdsFailover.latestRestorableTime)}, ${lag} s before the end of the drill`,
      fix: 'cloudmart up --phase 3',
    });
  }
  if (az) {
    const stayedUp = az.serviceStayedUp === true;
    checks.push({
      id: 'validation.drills.az',
      title: 'AZ loss (simulation): service stayed up and was restored',
      criterion: 'multi-az',
      status: stayedUp && az.restored === true ? 'pass' : 'fail',
      evidence: `without ${String(az.availabilityZone)}: ${String(az.failedRequests)} failed request(s); restored=${String(az.restored)} (${az.at})`,
      fix: 'cloudmart drill az',
    });
  }
  return checks;
}

/** Wait (up to 30 min) until the stack's RDS instance is available, as the failover needs. */
async function waitRdsAvailable(ctx: StepContext): Promise<void> {
  const id = ctx.outputs<RdsOutputs>(STEP.rds).dbInstanceIdentifier;
  const rds = await ctx.aws.get('rds');
  await waitUntil(
    ctx,
    async () => {
      const status = (await describeDbInstance(rds, id))?.DBInstanceStatus ?? 'missing';
      return { done: status === 'available', status };
    },
    { what: `RDS ${id} to be available for the failover drill`, timeoutMs: 30 * 60_000 },
  );
}

/**
 * A drill's figures, also when it gave up waiting for the recovery: then they carry
 * `timedOut: true` and no RTO (a failed drill, which `up --drills` records like `cloudmart drill`
 * does). Any other error (refused by the preflight, interrupted, AWS) is thrown.
 */
async function figures<R extends DrillResult>(run: Promise<R>): Promise<R> {
  try {
    return await run;
  } catch (e) {
    if (isDrillTimeout(e)) return e.result as R;
    throw e;
  }
}

/**
 * `validation.drills`: the instance-loss drill, then the RDS failover drill; their figures are
 * the outputs. `up` runs it only after an explicit confirmation (or `--drills --yes`).
 * `probe` and the drill options are injectable for tests.
 */
export function makeDrillsStep(
  probe: Probe = httpProbe,
  options: DrillOptions = {},
): Step<DrillsOutputs> {
  return defineStep<DrillsOutputs>({
    id: STEP.drills,
    phase: 5,
    title: 'Failure drills (instance loss, RDS failover)',
    // The preflight probes https://api.<domain> when there is a domain.
    needs: [STEP.asg, STEP.alb, STEP.rds, STEP.dns],
    // Never on a serving path still being built or changed, and never during the load test (a
    // killed instance would land in its figures). The snapshot must have started: RDS refuses
    // to snapshot an instance that is rebooting.
    runsAfter: [STEP.load, STEP.redis, STEP.rdsBackup, STEP.rdsSnapshot],
    // The AZ simulation (`cloudmart drill az`) also deregisters targets and pauses processes.
    actions: [
      'autoscaling:DescribeAutoScalingGroups',
      'ec2:TerminateInstances',
      'autoscaling:SuspendProcesses',
      'autoscaling:ResumeProcesses',
      'elasticloadbalancing:DescribeTargetHealth',
      'elasticloadbalancing:DeregisterTargets',
      'elasticloadbalancing:RegisterTargets',
      // RegisterTargets also checks these with the caller's permissions ("Elastic Load Balancing
      // API permissions", elb-api-permissions.html in the ELB user guide).
      'ec2:DescribeInstances',
      'ec2:DescribeInternetGateways',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
      'rds:DescribeDBInstances',
      'rds:RebootDBInstance',
    ],
    describe: () => [
      'Instance drill: terminate one InService instance of the group with EC2 TerminateInstances (as the seed), measure until the ALB stops counting it healthy (marked unhealthy/unused, or deregistered: the record says which) and until the replacement is healthy, count failed requests of a 5 req/s probe (RTO < 5 min)',
      'RDS failover drill: RebootDBInstance with ForceFailover, time until available, primary AZ before/after, app outage through /health, RPO from a marker row written through the app before the failover and read back after it; the latest restorable time as backup health',
      'Runs only after an explicit confirmation (or "up --drills --yes")',
    ],

    async create(ctx) {
      const dctx = drillContextFromStep(ctx, probe);
      ctx.progress('instance drill: terminating one instance');
      const instance = await figures(runInstanceDrill(dctx, options));
      if (instance.timedOut) {
        // The engine keeps no outputs of a failed step: return the record, so verify shows a
        // failed RTO (not "not run yet"), and say loudly that the drill failed.
        ctx.warn(
          `instance drill FAILED: gave up after ${instance.timedOutAfterSeconds ?? '?'} s waiting for ${instance.autoScalingGroupName} to replace ${instance.instanceId} with a healthy instance (replacement: ${instance.replacementId ?? 'none launched'}); recorded as a failed RTO, and the RDS failover drill was not run. Check the group's scaling activities and the target health, then run "cloudmart drill instance".`,
        );
        const earlier = ctx.previous?.['rds-failover'] as DrillsOutputs['rds-failover'] | undefined;
        return {
          at: instance.at,
          instance: drillRecord(instance),
          // The RDS drill did not run this time: its last record (if any) stays as it was.
          ...(earlier ? { 'rds-failover': earlier } : {}),
          skipped: ['rds-failover'],
        };
      }
      ctx.progress(
        `instance drill: RTO ${instance.rtoSeconds} s, ${instance.failedRequests} failed request(s)`,
      );
      // The snapshot or the backup replication that up has just started may hold the instance
      // in backing-up or modifying for a while; the failover needs it available.
      await waitRdsAvailable(ctx);
      ctx.progress('RDS failover drill: rebooting with failover');
      const rds = await figures(runRdsFailoverDrill(dctx, options));
      if (rds.timedOut) {
        ctx.warn(
          `RDS failover drill FAILED: gave up after ${rds.timedOutAfterSeconds ?? '?'} s waiting for ${rds.dbInstanceIdentifier} to be available again (primary ${rds.primaryAzBefore} → ${rds.primaryAzAfter ?? '?'}); recorded as a failed RTO. Check the RDS events, then run "cloudmart drill rds-failover".`,
        );
      } else {
        ctx.progress(
          `RDS failover drill: RTO ${rds.rtoSeconds} s, primary ${rds.primaryAzBefore} → ${rds.primaryAzAfter}, RPO ${rds.rpoSeconds ?? 'not measured'}${rds.rpoSeconds === null ? '' : ' s'} (${rds.rpoEvidence})`,
        );
      }
      return {
        at: instance.at,
        instance: drillRecord(instance),
        'rds-failover': drillRecord(rds),
      };
    },

    verify(ctx) {
      // Without the recorded results a later `cloudmart drill` may be newer than this step's
      // outputs; the recorded-results checks of src/verify/criteria.ts stand for it then.
      if (!recordedResults(ctx)) return Promise.resolve([]);
      return Promise.resolve(
        drillChecks({
          instance: latestDrill(ctx, 'instance'),
          rdsFailover: latestDrill(ctx, 'rds-failover'),
          az: latestDrill(ctx, 'az'),
        }),
      );
    },

    async teardown() {
      // The drills leave nothing behind: the group and RDS repair themselves.
    },
  });
}

export const drillsStep = makeDrillsStep();
