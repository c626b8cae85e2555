import type { Instance } from '@aws-sdk/client-auto-scaling';
import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudmartError } from '../errors.js';
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
import { describeGroup, describeTargets, isServing, preflight, targetState } from './preflight.js';

const ec2sdk = () => import('@aws-sdk/client-ec2');

export interface InstanceDrillOptions {
  /** Terminate this instance (must be InService and healthy); default: one is picked. */
  instanceId?: string;
  /** Only say what would happen. */
  dryRun?: boolean;
  /** Give up waiting for the replacement after this long (default 15 min). */
  timeoutMs?: number;
  /** Background probe interval (default 200 ms: 5 requests a second). */
  probeIntervalMs?: number;
  /** AWS poll interval (default 5 s). */
  pollIntervalMs?: number;
}

/**
 * How the ALB stopped sending traffic to the terminated instance, as first seen:
 * - `unhealthy`: its health checks failed (Target.FailedHealthChecks / Target.Timeout);
 * - `unused`: the ALB saw the instance stopped or terminated (Target.InvalidState);
 * - `draining`: the Auto Scaling group deregistered it (it noticed the loss first);
 * - `deregistered`: it had already left the target group when the drill looked.
 */
export type TakenOutAs = string;

/** One change of the terminated instance's state in the target group. */
export interface TargetStateChange {
  /** Seconds after the termination (as first seen by a poll). */
  afterSeconds: number;
  state: string;
  reason: string | null;
}

export interface InstanceDrillResult extends TimeoutFigures {
  drill: 'instance';
  at: string;
  dryRun: boolean;
  plan: string[];
  autoScalingGroupName: string;
  instanceId: string;
  availabilityZone: string;
  /** The EC2 state TerminateInstances answered (shutting-down). */
  terminationState: string | null;
  replacementId: string | null;
  replacementAvailabilityZone: string | null;
  /**
   * Seconds from the termination until the ALB no longer counted the instance healthy: marked
   * unhealthy or unused, or out of the target group; `takenOutAs` says which.
   */
  unhealthyAfterSeconds: number | null;
  takenOutAs: TakenOutAs | null;
  /** The terminated instance's target states as the polls saw them change. */
  targetStates: TargetStateChange[];
  /** Seconds until the replacement was InService in the group. */
  replacementInServiceAfterSeconds: number | null;
  /** Seconds until the replacement was InService and healthy in the target group. */
  replacementHealthyAfterSeconds: number | null;
  /**
   * The outage the users saw: the background probe's window from the first failed request to
   * the first success after the last one (0 when none failed; with two AZs the service may
   * never be down). null when the drill gave up or the probe had not recovered.
   */
  rtoSeconds: number | null;
  /** Requests of the background probe that failed (the seed expects none). */
  failedRequests: number;
  probe: ProbeSummary | null;
}

const health = (targets: TargetHealthDescription[], id: string) =>
  targets.find((t) => t.Target?.Id === id)?.TargetHealth;

/** `targetState` in the words of `TakenOutAs`. */
const takenOutAs = (state: string): TakenOutAs =>
  state === 'not registered' ? 'deregistered' : state;

/**
 * Instance loss as the seed does it (`aws ec2 terminate-instances`): terminate one InService,
 * healthy instance of the stack's Auto Scaling group with EC2 TerminateInstances, so neither the
 * group nor the ALB is told beforehand (no deregistration, no connection draining). Then measure
 * when the ALB stops counting the target healthy (its health checks fail, or the group
 * deregisters it), when the group's replacement is InService and healthy, and how many requests
 * of a light background load failed meanwhile: the window in which they failed is the RTO. Nothing to restore: the group replaces
 * the instance itself.
 */
export async function runInstanceDrill(
  ctx: DrillContext,
  options: InstanceDrillOptions = {},
): Promise<InstanceDrillResult> {
  const snap = await preflight(ctx, 'instance', SEED_LOAD.path);
  const groupName = snap.asg.autoScalingGroupName;
  // Only an instance of this stack's group, InService and healthy there and in the target group:
  // TerminateInstances itself would terminate any instance id it is given.
  const candidates = (snap.group.Instances ?? [])
    .filter((i) => isServing(i) && targetState(snap.targets, i.InstanceId!) === 'healthy')
    .sort((a, b) => a.InstanceId!.localeCompare(b.InstanceId!));
  const victim = options.instanceId
    ? candidates.find((i) => i.InstanceId === options.instanceId)
    : candidates[0];
  if (!victim) {
    throw new CloudmartError(
      'USAGE',
      options.instanceId
        ? `${options.instanceId} is not an InService, healthy instance of ${groupName} (candidates: ${candidates.map((i) => i.InstanceId).join(', ') || 'none'})`
        : `${groupName} has no InService instance that is healthy in the target group`,
      { exitCode: 2 },
    );
  }
  const instanceId = victim.InstanceId!;
  const az = victim.AvailabilityZone ?? '?';
  const url = joinUrl(snap.baseUrl, SEED_LOAD.path);
  const probeIntervalMs = options.probeIntervalMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const plan = [
    `Terminate ${instanceId} (${az}), an InService and healthy instance of ${groupName}, with EC2 TerminateInstances (the seed's "aws ec2 terminate-instances"): no deregistration or draining first; the group must notice the loss and launch a replacement to keep ${snap.group.DesiredCapacity} desired`,
    `Watch target group ${String(snap.alb.targetGroupName ?? snap.alb.targetGroupArn)} until the ALB stops counting ${instanceId} healthy: marked unhealthy or unused, or taken out of the target group (the record says which)`,
    `Wait until the replacement is InService and healthy in the target group (up to ${Math.round(timeoutMs / 60_000)} min), and record that time beside the RTO`,
    `Meanwhile GET ${url} ${Math.round(1000 / probeIntervalMs)} times a second and count failed requests (the seed expects none): the RTO is the outage those requests saw`,
  ];
  const base: InstanceDrillResult = {
    drill: 'instance',
    at: new Date(ctx.now()).toISOString(),
    dryRun: options.dryRun === true,
    plan,
    autoScalingGroupName: groupName,
    instanceId,
    availabilityZone: az,
    terminationState: null,
    replacementId: null,
    replacementAvailabilityZone: null,
    unhealthyAfterSeconds: null,
    takenOutAs: null,
    targetStates: [],
    replacementInServiceAfterSeconds: null,
    replacementHealthyAfterSeconds: null,
    rtoSeconds: null,
    failedRequests: 0,
    probe: null,
    timedOut: false,
    timedOutAfterSeconds: null,
  };
  if (options.dryRun) return base;

  const before = new Set((snap.group.Instances ?? []).map((i) => i.InstanceId));
  const prober = new Prober(ctx, url, probeIntervalMs, 2_000);
  const { TerminateInstancesCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  ctx.progress(`terminating ${instanceId} (${az}) with EC2 TerminateInstances`);
  prober.fire();
  const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  const t0 = ctx.now();
  prober.setOrigin(t0);
  const result: InstanceDrillResult = {
    ...base,
    at: new Date(t0).toISOString(),
    terminationState:
      out.TerminatingInstances?.find((i) => i.InstanceId === instanceId)?.CurrentState?.Name ??
      null,
  };

  try {
    await observe(ctx, {
      what: `replacement of ${instanceId}`,
      pollEveryMs: options.pollIntervalMs ?? 5_000,
      timeoutMs,
      prober,
      poll: async () => {
        const elapsed = seconds(ctx.now() - t0);
        const [group, targets] = await Promise.all([
          describeGroup(ctx, groupName),
          describeTargets(ctx, snap.alb.targetGroupArn),
        ]);
        const victimState = targetState(targets, instanceId);
        const last = result.targetStates[result.targetStates.length - 1];
        if (last?.state !== victimState)
          result.targetStates.push({
            afterSeconds: elapsed,
            state: victimState,
            reason: health(targets, instanceId)?.Reason ?? null,
          });
        const takenOut = victimState !== 'healthy';
        if (takenOut && result.unhealthyAfterSeconds === null) {
          result.unhealthyAfterSeconds = elapsed;
          result.takenOutAs = takenOutAs(victimState);
        }
        const replacement = pickReplacement(group?.Instances ?? [], before, targets);
        let status = `${instanceId} ${victimState}; replacement not launched yet`;
        if (replacement?.InstanceId) {
          result.replacementId = replacement.InstanceId;
          result.replacementAvailabilityZone = replacement.AvailabilityZone ?? null;
          const state = targetState(targets, replacement.InstanceId);
          status = `${instanceId} ${victimState}; replacement ${replacement.InstanceId} ${replacement.LifecycleState}, target ${state}`;
          if (
            result.replacementInServiceAfterSeconds === null &&
            replacement.LifecycleState === 'InService'
          )
            result.replacementInServiceAfterSeconds = elapsed;
          // Done once the ALB has let go of the old instance and serves from the new one.
          if (takenOut && replacement.LifecycleState === 'InService' && state === 'healthy') {
            result.replacementHealthyAfterSeconds = elapsed;
            return { done: true, status };
          }
        }
        return { done: false, status };
      },
    });
  } catch (e) {
    if (!isTimeout(e)) throw e;
    // Still record what was seen: the drill failed (no RTO), it did not "not run".
    const probe = await prober.settle();
    throw new DrillTimeoutError<InstanceDrillResult>(
      {
        ...result,
        rtoSeconds: null,
        failedRequests: probe.failed,
        probe,
        timedOut: true,
        timedOutAfterSeconds: seconds(ctx.now() - t0),
      },
      e,
    );
  }
  const probe = await prober.settle();
  return {
    ...result,
    // The RTO is the outage the users saw, not the replacement time (recorded beside it).
    rtoSeconds: probe.outageWindowSeconds,
    failedRequests: probe.failed,
    probe,
  };
}

/**
 * The group's replacement: an instance that was not there before the termination, preferring
 * one that is already InService and healthy in the target group (a scale-out during the drill
 * may launch more than one).
 */
function pickReplacement(
  instances: Instance[],
  before: Set<string | undefined>,
  targets: TargetHealthDescription[],
): Instance | undefined {
  const fresh = instances.filter((i) => !before.has(i.InstanceId));
  return (
    fresh.find(
      (i) => i.LifecycleState === 'InService' && targetState(targets, i.InstanceId!) === 'healthy',
    ) ?? fresh[0]
  );
}
