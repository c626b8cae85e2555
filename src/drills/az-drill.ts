import type { TargetDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudmartError, InterruptedError } from '../errors.js';
import { SEED_LOAD } from '../load/load-test.js';
import { joinUrl } from '../load/target.js';
import {
  DrillTimeoutError,
  isTimeout,
  seconds,
  type DrillContext,
  type TimeoutFigures,
} from './context.js';
import { observe, Prober, type ProbeSummary } from './observe.js';
import { describeTargets, isServing, preflight, targetState } from './preflight.js';

const asgsdk = () => import('@aws-sdk/client-auto-scaling');
const elbsdk = () => import('@aws-sdk/client-elastic-load-balancing-v2');

/**
 * Auto Scaling processes paused while one AZ's targets are out of the target group, so the group
 * does not "repair" the simulation by replacing or rebalancing instances.
 */
export const PAUSED_PROCESSES = ['HealthCheck', 'ReplaceUnhealthy', 'AZRebalance'] as const;

export interface AzDrillOptions {
  /** The AZ to take out (default: the config's second AZ, or whichever has targets). */
  availabilityZone?: string;
  dryRun?: boolean;
  /** How long the service must keep answering without that AZ (default 90 s). */
  holdMs?: number;
  probeIntervalMs?: number;
  pollIntervalMs?: number;
  /** Bound on waiting for the restored targets to be healthy again (default 5 min). */
  restoreTimeoutMs?: number;
}

export interface AzDrillResult extends TimeoutFigures {
  drill: 'az';
  simulation: true;
  at: string;
  dryRun: boolean;
  plan: string[];
  availabilityZone: string;
  targetsRemoved: string[];
  processesPaused: string[];
  /** Fewest healthy targets left in the other AZ during the hold. */
  minHealthyRemaining: number | null;
  /** Seconds until the removed targets had left the target group (deregistration delay). */
  drainedAfterSeconds: number | null;
  /** Time the service was down seen by the probe (0 = it stayed up): the RTO of this drill. */
  rtoSeconds: number | null;
  failedRequests: number;
  serviceStayedUp: boolean | null;
  /** Everything changed was put back. */
  restored: boolean;
  /** Seconds from the restore until the re-registered targets were healthy again. */
  restoredHealthyAfterSeconds: number | null;
  probe: ProbeSummary | null;
}

interface Changes {
  deregistered: TargetDescription[];
  paused: string[];
}

/**
 * Put back what the drill changed. Runs on success, error and abort alike (from `finally`), so
 * it never waits on the abort signal; each call is tried even if the other failed.
 */
async function restore(
  ctx: DrillContext,
  groupName: string,
  targetGroupArn: string,
  changes: Changes,
): Promise<string[]> {
  const failures: string[] = [];
  if (changes.deregistered.length > 0) {
    const { RegisterTargetsCommand } = await elbsdk();
    const elb = await ctx.aws.get('elbv2');
    try {
      await elb.send(
        new RegisterTargetsCommand({
          TargetGroupArn: targetGroupArn,
          Targets: changes.deregistered,
        }),
      );
      ctx.progress(
        `restored: registered ${changes.deregistered.map((t) => t.Id).join(', ')} again`,
      );
    } catch (e) {
      failures.push(
        `register ${changes.deregistered.map((t) => t.Id).join(', ')} with ${targetGroupArn}: ${(e as Error).message}`,
      );
    }
  }
  if (changes.paused.length > 0) {
    const { ResumeProcessesCommand } = await asgsdk();
    const asg = await ctx.aws.get('autoscaling');
    try {
      await asg.send(
        new ResumeProcessesCommand({
          AutoScalingGroupName: groupName,
          ScalingProcesses: changes.paused,
        }),
      );
      ctx.progress(`restored: resumed ${changes.paused.join(', ')} on ${groupName}`);
    } catch (e) {
      failures.push(`resume ${changes.paused.join(', ')} on ${groupName}: ${(e as Error).message}`);
    }
  }
  return failures;
}

/**
 * AZ loss, SIMULATED: the app tier's targets in one AZ are deregistered from the target group
 * (and the group's repair processes paused), the probe shows whether the service stays up on
 * the other AZ, then everything is put back: always, also on error or Ctrl-C.
 * The real AZ, its subnets, NAT gateway, RDS and Redis nodes are not touched.
 */
export async function runAzDrill(
  ctx: DrillContext,
  options: AzDrillOptions = {},
): Promise<AzDrillResult> {
  const snap = await preflight(ctx, 'az', SEED_LOAD.path);
  const groupName = snap.asg.autoScalingGroupName;
  const tgArn = snap.alb.targetGroupArn;
  const serving = (snap.group.Instances ?? []).filter(
    (i) => isServing(i) && targetState(snap.targets, i.InstanceId!) === 'healthy',
  );
  const azsWithTargets = [...new Set(serving.map((i) => i.AvailabilityZone ?? '?'))];
  const az =
    options.availabilityZone ??
    [...ctx.config.availabilityZones].reverse().find((z) => azsWithTargets.includes(z)) ??
    azsWithTargets[0] ??
    '?';
  const inAz = serving.filter((i) => i.AvailabilityZone === az);
  const remaining = serving.filter((i) => i.AvailabilityZone !== az);
  if (inAz.length === 0 || remaining.length === 0) {
    throw new CloudmartError(
      'NOT_READY',
      `The AZ drill needs healthy targets in ${az} and in another AZ; healthy targets are in: ${azsWithTargets.join(', ') || 'none'}`,
      { exitCode: 2, hint: 'Wait until the Auto Scaling group spreads over both AZs.' },
    );
  }
  const targets: TargetDescription[] = inAz.map((i) => {
    const registered = snap.targets.find((t) => t.Target?.Id === i.InstanceId)?.Target;
    return { Id: i.InstanceId!, ...(registered?.Port ? { Port: registered.Port } : {}) };
  });
  const alreadyPaused = new Set((snap.group.SuspendedProcesses ?? []).map((p) => p.ProcessName));
  const toPause = PAUSED_PROCESSES.filter((p) => !alreadyPaused.has(p));
  const holdMs = options.holdMs ?? 90_000;
  const url = joinUrl(snap.baseUrl, SEED_LOAD.path);
  const probeIntervalMs = options.probeIntervalMs ?? 200;
  const plan = [
    `SIMULATION of losing ${az}: nothing in the AZ itself is touched`,
    `Pause ${toPause.join(', ') || 'nothing (already paused)'} on ${groupName} so it does not replace or rebalance during the simulation`,
    `Deregister ${targets.map((t) => t.Id).join(', ')} (${az}) from the target group; ${remaining.map((i) => i.InstanceId).join(', ')} keep serving`,
    `For ${Math.round(holdMs / 1000)} s GET ${url} ${Math.round(1000 / probeIntervalMs)} times a second: the service must stay up`,
    `Then ALWAYS restore (also on error or Ctrl-C): register the targets again, resume the paused processes, wait until they are healthy`,
  ];
  const result: AzDrillResult = {
    drill: 'az',
    simulation: true,
    at: new Date(ctx.now()).toISOString(),
    dryRun: options.dryRun === true,
    plan,
    availabilityZone: az,
    targetsRemoved: targets.map((t) => t.Id!),
    processesPaused: [...toPause],
    minHealthyRemaining: null,
    drainedAfterSeconds: null,
    rtoSeconds: null,
    failedRequests: 0,
    serviceStayedUp: null,
    restored: true,
    restoredHealthyAfterSeconds: null,
    probe: null,
    timedOut: false,
    timedOutAfterSeconds: null,
  };
  if (options.dryRun) return result;

  const { SuspendProcessesCommand } = await asgsdk();
  const { DeregisterTargetsCommand } = await elbsdk();
  const asg = await ctx.aws.get('autoscaling');
  const elb = await ctx.aws.get('elbv2');
  const changes: Changes = { deregistered: [], paused: [] };
  const prober = new Prober(ctx, url, probeIntervalMs, 2_000);
  let failure: unknown;
  let t0 = ctx.now();
  try {
    if (toPause.length > 0) {
      // Recorded before the call: if the call fails half-way, resuming is harmless.
      changes.paused = [...toPause];
      await asg.send(
        new SuspendProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: toPause }),
      );
    }
    ctx.progress(
      `SIMULATION: taking ${az} out of the app tier (${result.targetsRemoved.join(', ')})`,
    );
    changes.deregistered = targets;
    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tgArn, Targets: targets }));
    t0 = ctx.now();
    prober.setOrigin(t0);
    result.at = new Date(t0).toISOString();
    const remainingIds = remaining.map((i) => i.InstanceId!);
    await observe(ctx, {
      what: `service without ${az} (simulation)`,
      pollEveryMs: options.pollIntervalMs ?? 5_000,
      timeoutMs: holdMs + 5 * 60_000,
      prober,
      poll: async () => {
        const elapsed = ctx.now() - t0;
        const now = await describeTargets(ctx, tgArn);
        const left = targets.filter(
          (t) => !['unused', 'not registered'].includes(targetState(now, t.Id!)),
        );
        if (left.length === 0 && result.drainedAfterSeconds === null)
          result.drainedAfterSeconds = seconds(elapsed);
        const healthy = remainingIds.filter((id) => targetState(now, id) === 'healthy').length;
        result.minHealthyRemaining = Math.min(result.minHealthyRemaining ?? healthy, healthy);
        const status = `${left.length} of ${targets.length} target(s) of ${az} still draining; ${healthy} healthy elsewhere; ${prober.failures()} failed request(s)`;
        return { done: elapsed >= holdMs && left.length === 0, status };
      },
    });
  } catch (e) {
    // Every error, abort included, ends here: the restore below always runs.
    failure = e;
  }
  const failedAt = ctx.now();
  const failures = await restore(ctx, groupName, tgArn, changes);
  if (failures.length > 0) {
    result.restored = false;
    // A failed restore outranks the original error: the user must act on it.
    throw new CloudmartError(
      'AWS_ERROR',
      `The AZ simulation could not put everything back:\n  - ${failures.join('\n  - ')}`,
      {
        cause: failure,
        hint: `Restore by hand: aws elbv2 register-targets --target-group-arn ${tgArn} --targets ${changes.deregistered.map((t) => `Id=${t.Id}${t.Port ? `,Port=${t.Port}` : ''}`).join(' ')}; aws autoscaling resume-processes --auto-scaling-group-name ${groupName}${changes.paused.length ? ` --scaling-processes ${changes.paused.join(' ')}` : ''}`,
      },
    );
  }
  if (failure !== undefined) {
    if (isTimeout(failure)) {
      // The targets never left the target group: record it (restored) as a failed drill.
      const probe = await prober.settle();
      throw new DrillTimeoutError<AzDrillResult>(
        {
          ...result,
          probe,
          failedRequests: probe.failed,
          serviceStayedUp: probe.failed === 0,
          timedOut: true,
          timedOutAfterSeconds: seconds(failedAt - t0),
        },
        failure,
      );
    }
    if (failure instanceof InterruptedError) {
      throw new InterruptedError(
        `Interrupted: the AZ simulation was stopped and restored (targets registered again; they turn healthy in about 30 s)`,
      );
    }
    throw failure instanceof Error ? failure : new Error('the AZ simulation failed');
  }

  const probe = await prober.settle();
  result.probe = probe;
  result.failedRequests = probe.failed;
  result.serviceStayedUp = probe.failed === 0;
  result.rtoSeconds = probe.outageSeconds;

  // Wait until the restored targets serve again, so the next drill starts from a whole stack.
  const restoredAt = ctx.now();
  try {
    await observe(ctx, {
      what: `targets of ${az} to be healthy again`,
      pollEveryMs: options.pollIntervalMs ?? 5_000,
      timeoutMs: options.restoreTimeoutMs ?? 5 * 60_000,
      poll: async () => {
        const now = await describeTargets(ctx, tgArn);
        const healthy = targets.filter((t) => targetState(now, t.Id!) === 'healthy').length;
        return {
          done: healthy === targets.length,
          status: `${healthy} of ${targets.length} restored target(s) healthy`,
        };
      },
    });
  } catch (e) {
    if (!isTimeout(e)) throw e;
    // Registered again but not healthy in time: the service part was measured, keep it.
    throw new DrillTimeoutError<AzDrillResult>(
      { ...result, timedOut: true, timedOutAfterSeconds: seconds(ctx.now() - restoredAt) },
      e,
    );
  }
  result.restoredHealthyAfterSeconds = seconds(ctx.now() - restoredAt);
  return result;
}
