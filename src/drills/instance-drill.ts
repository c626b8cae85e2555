import { CloudmartError } from '../errors.js';
import { SEED_LOAD } from '../load/load-test.js';
import { joinUrl } from '../load/target.js';
import { seconds, type DrillContext } from './context.js';
import { observe, Prober, type ProbeSummary } from './observe.js';
import { describeGroup, describeTargets, isServing, preflight, targetState } from './preflight.js';

const asgsdk = () => import('@aws-sdk/client-auto-scaling');

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

export interface InstanceDrillResult {
  drill: 'instance';
  at: string;
  dryRun: boolean;
  plan: string[];
  autoScalingGroupName: string;
  instanceId: string;
  availabilityZone: string;
  replacementId: string | null;
  replacementAvailabilityZone: string | null;
  /** Seconds from the termination until the ALB no longer counted the instance healthy. */
  unhealthyAfterSeconds: number | null;
  /** Seconds until the replacement was InService in the group. */
  replacementInServiceAfterSeconds: number | null;
  /** Seconds until the replacement was InService and healthy in the target group: the RTO. */
  replacementHealthyAfterSeconds: number | null;
  rtoSeconds: number | null;
  /** Requests of the background probe that failed (the seed expects none). */
  failedRequests: number;
  probe: ProbeSummary | null;
}

/**
 * Instance loss: terminate one InService instance of the Auto Scaling group (without lowering
 * the desired capacity), then measure when the ALB takes it out, when the group's replacement is
 * InService and healthy, and how many requests of a light background load failed meanwhile.
 * Nothing to restore: the group replaces the instance itself.
 */
export async function runInstanceDrill(
  ctx: DrillContext,
  options: InstanceDrillOptions = {},
): Promise<InstanceDrillResult> {
  const snap = await preflight(ctx, 'instance', SEED_LOAD.path);
  const groupName = snap.asg.autoScalingGroupName;
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
  const plan = [
    `Terminate ${instanceId} (${az}) of ${groupName} with TerminateInstanceInAutoScalingGroup, ShouldDecrementDesiredCapacity=false (the group keeps ${snap.group.DesiredCapacity} desired and launches a replacement)`,
    `Watch target group ${String(snap.alb.targetGroupName ?? snap.alb.targetGroupArn)} until the ALB takes ${instanceId} out (unhealthy, draining or deregistered)`,
    `Wait until the replacement is InService and healthy in the target group (up to ${Math.round((options.timeoutMs ?? 15 * 60_000) / 60_000)} min): that time is the RTO`,
    `Meanwhile GET ${url} ${Math.round(1000 / probeIntervalMs)} times a second and count failed requests (the seed expects none)`,
  ];
  const base: InstanceDrillResult = {
    drill: 'instance',
    at: new Date(ctx.now()).toISOString(),
    dryRun: options.dryRun === true,
    plan,
    autoScalingGroupName: groupName,
    instanceId,
    availabilityZone: az,
    replacementId: null,
    replacementAvailabilityZone: null,
    unhealthyAfterSeconds: null,
    replacementInServiceAfterSeconds: null,
    replacementHealthyAfterSeconds: null,
    rtoSeconds: null,
    failedRequests: 0,
    probe: null,
  };
  if (options.dryRun) return base;

  const before = new Set((snap.group.Instances ?? []).map((i) => i.InstanceId));
  const prober = new Prober(ctx, url, probeIntervalMs, 2_000);
  const { TerminateInstanceInAutoScalingGroupCommand } = await asgsdk();
  const client = await ctx.aws.get('autoscaling');
  ctx.progress(`terminating ${instanceId} (${az})`);
  prober.fire();
  await client.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: instanceId,
      ShouldDecrementDesiredCapacity: false,
    }),
  );
  const t0 = ctx.now();
  prober.setOrigin(t0);
  const result = { ...base, at: new Date(t0).toISOString() };

  await observe(ctx, {
    what: `replacement of ${instanceId}`,
    pollEveryMs: options.pollIntervalMs ?? 5_000,
    timeoutMs: options.timeoutMs ?? 15 * 60_000,
    prober,
    poll: async () => {
      const elapsed = ctx.now() - t0;
      const [group, targets] = await Promise.all([
        describeGroup(ctx, groupName),
        describeTargets(ctx, snap.alb.targetGroupArn),
      ]);
      const victimState = targetState(targets, instanceId);
      if (result.unhealthyAfterSeconds === null && victimState !== 'healthy')
        result.unhealthyAfterSeconds = seconds(elapsed);
      const replacement = (group?.Instances ?? []).find((i) => !before.has(i.InstanceId));
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
          result.replacementInServiceAfterSeconds = seconds(elapsed);
        if (replacement.LifecycleState === 'InService' && state === 'healthy') {
          result.replacementHealthyAfterSeconds = seconds(elapsed);
          result.unhealthyAfterSeconds ??= seconds(elapsed);
          return { done: true, status };
        }
      }
      return { done: false, status };
    },
  });
  const probe = await prober.settle();
  return {
    ...result,
    rtoSeconds: result.replacementHealthyAfterSeconds,
    failedRequests: probe.failed,
    probe,
  };
}
