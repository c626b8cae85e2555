import { STACK_TAG } from '../../aws/tags.js';
import type {
  AutoScalingGroup,
  ScalingPolicy,
  UpdateAutoScalingGroupCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { isNotFound } from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import type { Config } from '../../config/schema.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import {
  STEP,
  type AlbOutputs,
  type AsgOutputs,
  type LaunchTemplateOutputs,
  type SubnetsOutputs,
} from '../outputs.js';
import { isProfilePropagation } from './launch-template.js';
import { HEALTH_CHECK } from './load-balancer.js';
import { BOOT_ESTIMATE_SECONDS } from './user-data.js';

const asgsdk = () => import('@aws-sdk/client-auto-scaling');
const elbsdk = () => import('@aws-sdk/client-elastic-load-balancing-v2');
const ec2sdk = () => import('@aws-sdk/client-ec2');

export const asgName = (config: Config): string => names.of(config, 'asg');
export const cpuPolicyName = (config: Config): string => names.of(config, 'cpu-target');
export const scaleOutPolicyName = (config: Config): string => names.of(config, 'scale-out');
/** Seconds between two ALB-SlowResponse scale-outs. */
export const SCALE_OUT_COOLDOWN = 300;
/**
 * Seconds a new instance's metrics are kept out of target tracking: its boot (estimated, see
 * BOOT_ESTIMATE_SECONDS) plus the health checks that put it in service.
 */
export const DEFAULT_INSTANCE_WARMUP =
  BOOT_ESTIMATE_SECONDS + HEALTH_CHECK.healthy * HEALTH_CHECK.intervalSeconds;

const IN_FLIGHT_REFRESH = ['Pending', 'InProgress', 'Cancelling', 'Baking', 'RollbackInProgress'];
const FAILED_REFRESH = ['Failed', 'Cancelled', 'RollbackFailed', 'RollbackSuccessful'];

async function findGroup(ctx: StepContext): Promise<AutoScalingGroup | undefined> {
  const { DescribeAutoScalingGroupsCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const out = await asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName(ctx.config)] }),
  );
  return out.AutoScalingGroups?.[0];
}

function isDeleting(group: AutoScalingGroup | undefined): boolean {
  return group?.Status?.startsWith('Delete') === true;
}

/** DeleteAutoScalingGroup answers these while a scaling activity or refresh is still running. */
function isBusy(e: unknown): boolean {
  return /ScalingActivityInProgress|ResourceInUse/.test((e as Error | null)?.name ?? '');
}

async function waitGone(ctx: StepContext): Promise<void> {
  await waitUntil(
    ctx,
    async () => {
      const group = await findGroup(ctx);
      if (!group) return { done: true, status: 'deleted' };
      const left = group.Instances?.length ?? 0;
      return { done: false, status: `deleting, ${left} instance(s) terminating` };
    },
    {
      what: `Auto Scaling group ${asgName(ctx.config)} to be deleted`,
      minDelayMs: 10_000,
      maxDelayMs: 15_000,
      timeoutMs: 15 * 60_000,
    },
  );
}

function groupTags(ctx: StepContext, name: string) {
  // Every tag but Name reaches the instances; they keep the launch template's Name.
  return ctx.tags.list(name).map((t) => ({
    ...t,
    ResourceId: name,
    ResourceType: 'auto-scaling-group',
    PropagateAtLaunch: t.Key !== 'Name',
  }));
}

async function createGroup(
  ctx: StepContext,
  lt: LaunchTemplateOutputs,
  alb: AlbOutputs,
  subnets: SubnetsOutputs,
): Promise<void> {
  const { CreateAutoScalingGroupCommand, EnableMetricsCollectionCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const { app } = ctx.config;
  const name = asgName(ctx.config);
  ctx.progress(
    `creating ${name} (${app.minSize}/${app.desiredCapacity}/${app.maxSize}) in ${subnets.appSubnetIds.join(', ')}`,
  );
  await retryWhile(
    ctx,
    () =>
      asg.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          LaunchTemplate: { LaunchTemplateId: lt.launchTemplateId, Version: '$Latest' },
          MinSize: app.minSize,
          MaxSize: app.maxSize,
          DesiredCapacity: app.desiredCapacity,
          VPCZoneIdentifier: subnets.appSubnetIds.join(','),
          TargetGroupARNs: [alb.targetGroupArn],
          // The instances launch before the database exists (they start the app once app.settings
          // has written its endpoints). ELB health checks from the start would replace every
          // instance whose app is still waiting once the grace period ends; they are switched
          // on once the targets are healthy (useElbHealthChecks).
          HealthCheckType: 'EC2',
          HealthCheckGracePeriod: app.healthCheckGracePeriod,
          DefaultInstanceWarmup: DEFAULT_INSTANCE_WARMUP,
          Tags: groupTags(ctx, name),
        }),
      ),
    // A fresh instance profile is not yet visible to Auto Scaling for a few seconds.
    { what: `creating ${name}`, when: isProfilePropagation, timeoutMs: 120_000 },
  );
  await asg.send(
    new EnableMetricsCollectionCommand({ AutoScalingGroupName: name, Granularity: '1Minute' }),
  );
}

/**
 * Bring an adopted group to the config. Desired capacity belongs to target tracking once the
 * group runs: it is reset only when the config's value changed since the last run or it falls
 * outside the new min/max.
 */
async function convergeGroup(
  ctx: StepContext,
  group: AutoScalingGroup,
  lt: LaunchTemplateOutputs,
  alb: AlbOutputs,
  subnets: SubnetsOutputs,
): Promise<void> {
  const {
    UpdateAutoScalingGroupCommand,
    AttachLoadBalancerTargetGroupsCommand,
    EnableMetricsCollectionCommand,
  } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const { app } = ctx.config;
  const name = asgName(ctx.config);
  const update: Partial<UpdateAutoScalingGroupCommandInput> = {};

  if (
    group.LaunchTemplate?.LaunchTemplateId !== lt.launchTemplateId ||
    group.LaunchTemplate?.Version !== '$Latest'
  ) {
    update.LaunchTemplate = { LaunchTemplateId: lt.launchTemplateId, Version: '$Latest' };
  }
  if (group.MinSize !== app.minSize) update.MinSize = app.minSize;
  if (group.MaxSize !== app.maxSize) update.MaxSize = app.maxSize;
  const desired = group.DesiredCapacity ?? 0;
  const previousDesired = ctx.previous?.desiredCapacity;
  const configChanged =
    typeof previousDesired === 'number' && previousDesired !== app.desiredCapacity;
  if (configChanged || desired < app.minSize || desired > app.maxSize) {
    if (desired !== app.desiredCapacity) update.DesiredCapacity = app.desiredCapacity;
  }
  const liveSubnets = (group.VPCZoneIdentifier ?? '').split(',').filter(Boolean).sort();
  if (JSON.stringify(liveSubnets) !== JSON.stringify([...subnets.appSubnetIds].sort())) {
    update.VPCZoneIdentifier = subnets.appSubnetIds.join(',');
  }
  if (group.HealthCheckGracePeriod !== app.healthCheckGracePeriod) {
    update.HealthCheckGracePeriod = app.healthCheckGracePeriod;
  }
  if (group.DefaultInstanceWarmup !== DEFAULT_INSTANCE_WARMUP) {
    update.DefaultInstanceWarmup = DEFAULT_INSTANCE_WARMUP;
  }
  if (Object.keys(update).length > 0) {
    ctx.progress(`${name}: updating ${Object.keys(update).join(', ')}`);
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, ...update }));
  }
  if (!(group.TargetGroupARNs ?? []).includes(alb.targetGroupArn)) {
    ctx.progress(`${name}: attaching target group ${alb.targetGroupDimension}`);
    await asg.send(
      new AttachLoadBalancerTargetGroupsCommand({
        AutoScalingGroupName: name,
        TargetGroupARNs: [alb.targetGroupArn],
      }),
    );
  }
  if ((group.EnabledMetrics ?? []).length === 0) {
    await asg.send(
      new EnableMetricsCollectionCommand({ AutoScalingGroupName: name, Granularity: '1Minute' }),
    );
  }
}

/** ELB health checks, once the targets are healthy (the group is created with EC2 ones). */
async function useElbHealthChecks(ctx: StepContext): Promise<void> {
  const group = await findGroup(ctx);
  if (!group || group.HealthCheckType === 'ELB') return;
  const { UpdateAutoScalingGroupCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const name = asgName(ctx.config);
  ctx.progress(`${name}: targets healthy; switching to ELB health checks`);
  await asg.send(
    new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, HealthCheckType: 'ELB' }),
  );
}

async function describePolicies(ctx: StepContext): Promise<ScalingPolicy[]> {
  const { DescribePoliciesCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const out = await asg.send(
    new DescribePoliciesCommand({
      AutoScalingGroupName: asgName(ctx.config),
      PolicyNames: [cpuPolicyName(ctx.config), scaleOutPolicyName(ctx.config)],
    }),
  );
  return out.ScalingPolicies ?? [];
}

function cpuPolicyMatches(p: ScalingPolicy | undefined, target: number): boolean {
  const t = p?.TargetTrackingConfiguration;
  return (
    p?.PolicyType === 'TargetTrackingScaling' &&
    t?.PredefinedMetricSpecification?.PredefinedMetricType === 'ASGAverageCPUUtilization' &&
    t.TargetValue === target &&
    t.DisableScaleIn !== true
  );
}

function scaleOutMatches(p: ScalingPolicy | undefined): boolean {
  return (
    p?.PolicyType === 'SimpleScaling' &&
    p.AdjustmentType === 'ChangeInCapacity' &&
    p.ScalingAdjustment === 1 &&
    p.Cooldown === SCALE_OUT_COOLDOWN
  );
}

/** PutScalingPolicy creates or replaces; it is sent only when the live policy differs. */
async function ensurePolicies(ctx: StepContext): Promise<{ cpu: string; scaleOut: string }> {
  const { PutScalingPolicyCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const group = asgName(ctx.config);
  const live = await describePolicies(ctx);
  const cpuName = cpuPolicyName(ctx.config);
  const outName = scaleOutPolicyName(ctx.config);
  const cpuLive = live.find((p) => p.PolicyName === cpuName);
  const outLive = live.find((p) => p.PolicyName === outName);

  let cpu = cpuLive?.PolicyARN;
  if (!cpuPolicyMatches(cpuLive, ctx.config.app.cpuTarget)) {
    ctx.progress(`${group}: target tracking on average CPU ${ctx.config.app.cpuTarget}%`);
    const out = await asg.send(
      new PutScalingPolicyCommand({
        AutoScalingGroupName: group,
        PolicyName: cpuName,
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
          TargetValue: ctx.config.app.cpuTarget,
          DisableScaleIn: false,
        },
      }),
    );
    cpu = out.PolicyARN;
  }
  let scaleOut = outLive?.PolicyARN;
  if (!scaleOutMatches(outLive)) {
    ctx.progress(`${group}: scale-out policy for the ALB-SlowResponse alarm`);
    const out = await asg.send(
      new PutScalingPolicyCommand({
        AutoScalingGroupName: group,
        PolicyName: outName,
        PolicyType: 'SimpleScaling',
        AdjustmentType: 'ChangeInCapacity',
        ScalingAdjustment: 1,
        Cooldown: SCALE_OUT_COOLDOWN,
      }),
    );
    scaleOut = out.PolicyARN;
  }
  if (!cpu || !scaleOut) throw new Error('PutScalingPolicy returned no policy ARN');
  return { cpu, scaleOut };
}

/**
 * Roll the instances onto the newest template version: only when an InService instance runs
 * another version (or, when AWS does not say, when the version changed since the last run).
 */
async function refreshIfStale(
  ctx: StepContext,
  group: AutoScalingGroup,
  lt: LaunchTemplateOutputs,
): Promise<void> {
  const version = lt.version;
  const inService = (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService');
  if (inService.length === 0) return;
  // A template re-created under the same name has a new id: its instances are stale too.
  const otherTemplate = inService.some(
    (i) =>
      i.LaunchTemplate?.LaunchTemplateId &&
      i.LaunchTemplate.LaunchTemplateId !== lt.launchTemplateId,
  );
  const versions = inService.map((i) => i.LaunchTemplate?.Version ?? '');
  const known = versions.filter((v) => /^\d+$/.test(v));
  const previous = ctx.previous?.launchTemplateVersion;
  const stale =
    otherTemplate ||
    (known.length > 0
      ? known.some((v) => v !== version)
      : typeof previous === 'string' && previous !== version);
  if (!stale) return;

  const { DescribeInstanceRefreshesCommand, StartInstanceRefreshCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const name = asgName(ctx.config);
  const latest = (
    await asg.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: name, MaxRecords: 1 }),
    )
  ).InstanceRefreshes?.[0];
  let id = latest?.InstanceRefreshId;
  if (!latest || !IN_FLIGHT_REFRESH.includes(latest.Status ?? '')) {
    ctx.progress(
      `${name}: launch template v${version} is newer than the instances; starting an instance refresh`,
    );
    const out = await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: name,
        Strategy: 'Rolling',
        Preferences: {
          // Launch before terminate: capacity never drops below desired during the roll.
          MinHealthyPercentage: 100,
          MaxHealthyPercentage: 200,
          SkipMatching: true,
        },
      }),
    );
    id = out.InstanceRefreshId;
  }
  await waitUntil(
    ctx,
    async () => {
      const out = await asg.send(
        new DescribeInstanceRefreshesCommand({
          AutoScalingGroupName: name,
          ...(id ? { InstanceRefreshIds: [id] } : { MaxRecords: 1 }),
        }),
      );
      const r = out.InstanceRefreshes?.[0];
      const status = r?.Status ?? 'Pending';
      if (FAILED_REFRESH.includes(status)) {
        return {
          done: false,
          failed: `${status} (${r?.StatusReason ?? 'no reason given'})`,
          status,
        };
      }
      return {
        done: status === 'Successful',
        status: `instance refresh ${status} ${r?.PercentageComplete ?? 0}%`,
      };
    },
    {
      what: `${name} instance refresh`,
      minDelayMs: 10_000,
      maxDelayMs: 15_000,
      timeoutMs: 40 * 60_000,
    },
  );
}

/** Healthy = InService in the group and healthy in the target group. */
async function healthyCount(
  ctx: StepContext,
  group: AutoScalingGroup,
  targetGroupArn: string,
): Promise<number> {
  const { DescribeTargetHealthCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  const healthy = new Set(
    (out.TargetHealthDescriptions ?? [])
      .filter((t) => t.TargetHealth?.State === 'healthy')
      .map((t) => t.Target?.Id),
  );
  return (group.Instances ?? []).filter(
    (i) => i.LifecycleState === 'InService' && healthy.has(i.InstanceId),
  ).length;
}

async function lastLaunchFailure(ctx: StepContext): Promise<string | undefined> {
  const { DescribeScalingActivitiesCommand } = await asgsdk();
  const asg = await ctx.aws.get('autoscaling');
  const out = await asg.send(
    new DescribeScalingActivitiesCommand({
      AutoScalingGroupName: asgName(ctx.config),
      MaxRecords: 1,
    }),
  );
  const a = out.Activities?.[0];
  return a?.StatusCode === 'Failed' || a?.StatusCode === 'Cancelled'
    ? (a.StatusMessage ?? a.Description)
    : undefined;
}

async function waitHealthy(ctx: StepContext, targetGroupArn: string): Promise<void> {
  const name = asgName(ctx.config);
  let lastFailure: string | undefined;
  try {
    await waitUntil(
      ctx,
      async () => {
        const group = await findGroup(ctx);
        if (!group) return { done: false, failed: 'gone', status: 'missing' };
        const desired = group.DesiredCapacity ?? 0;
        const healthy = await healthyCount(ctx, group, targetGroupArn);
        const inService = (group.Instances ?? []).filter(
          (i) => i.LifecycleState === 'InService',
        ).length;
        // Instances that never launch (bad KMS grant, no capacity) show only in the activities.
        lastFailure = inService < desired ? await lastLaunchFailure(ctx) : undefined;
        return {
          done: healthy >= desired,
          status: `${healthy}/${desired} healthy${lastFailure ? ` (last launch failed: ${lastFailure})` : ''}`,
        };
      },
      {
        what: `${name} instances`,
        minDelayMs: 10_000,
        maxDelayMs: 15_000,
        timeoutMs: (ctx.config.app.healthCheckGracePeriod + 15 * 60) * 1000,
      },
    );
  } catch (e) {
    if (e instanceof CloudmartError && e.code === 'TIMEOUT') {
      throw new CloudmartError('TIMEOUT', e.message, {
        cause: e,
        hint: lastFailure
          ? `Auto Scaling reports: ${lastFailure}`
          : `Check the instances' /var/log/cloud-init-output.log (SSM Session Manager) and the target group's health reasons, then run "cloudmart up --phase 1" again.`,
      });
    }
    throw e;
  }
}

export const autoScalingGroupStep = defineStep<AsgOutputs>({
  id: STEP.asg,
  phase: 1,
  title: 'Auto Scaling group',
  // Not app.settings: the instances boot while RDS and ElastiCache are still being created
  // and start the app once the settings exist; create waits for them (ctx.whenDone) before it
  // waits for healthy targets.
  needs: [STEP.launchTemplate, STEP.alb, STEP.subnets, STEP.routes],
  actions: [
    'autoscaling:DescribeAutoScalingGroups',
    'autoscaling:CreateAutoScalingGroup',
    'autoscaling:UpdateAutoScalingGroup',
    'autoscaling:CreateOrUpdateTags',
    'autoscaling:AttachLoadBalancerTargetGroups',
    'autoscaling:EnableMetricsCollection',
    'autoscaling:DescribePolicies',
    'autoscaling:PutScalingPolicy',
    'autoscaling:DescribeInstanceRefreshes',
    'autoscaling:StartInstanceRefresh',
    'autoscaling:DescribeScalingActivities',
    'autoscaling:DeleteAutoScalingGroup',
    'elasticloadbalancing:DescribeTargetHealth',
    'ec2:DescribeInstances',
    'ec2:DescribeVolumes',
    'ec2:RunInstances',
    'ec2:CreateTags',
    'iam:PassRole',
    'iam:CreateServiceLinkedRole',
  ],
  describe: (config) => [
    `Auto Scaling group ${asgName(config)}: ${config.app.minSize}/${config.app.desiredCapacity}/${config.app.maxSize} (min/desired/max) in both private app subnets, launch template $Latest, behind the ALB target group; launched while the database is still being created, with ELB health checks (grace ${config.app.healthCheckGracePeriod} s) once its targets are healthy`,
    `Target tracking ${cpuPolicyName(config)}: average CPU ${config.app.cpuTarget}%; simple scaling ${scaleOutPolicyName(config)}: +1 instance (cooldown ${SCALE_OUT_COOLDOWN} s) for the ALB-SlowResponse alarm`,
    `Waits until ${config.app.desiredCapacity} instances are InService and healthy in the target group`,
  ],

  // The Tagging API answers empty for Auto Scaling groups: ask Auto Scaling, by the stack tag
  // (checked on the answer too).
  discover: {
    what: 'Auto Scaling groups',
    async find(aws, config) {
      const { paginateDescribeAutoScalingGroups } = await import('@aws-sdk/client-auto-scaling');
      const autoscaling = await aws.get('autoscaling', config.region);
      const groups = await allPages(
        paginateDescribeAutoScalingGroups(
          { client: autoscaling },
          { Filters: [{ Name: `tag:${STACK_TAG}`, Values: [config.stack] }] },
        ),
        (page) => page.AutoScalingGroups,
      );
      return groups
        .filter(
          (g) =>
            g.AutoScalingGroupName &&
            (g.Tags ?? []).some((t) => t.Key === STACK_TAG && t.Value === config.stack),
        )
        .map((g) => ({
          arn: g.AutoScalingGroupARN ?? g.AutoScalingGroupName!,
          region: config.region,
          type: 'autoscaling:autoScalingGroup',
          kept: false,
          note: g.Status ? `${g.AutoScalingGroupName} (${g.Status})` : g.AutoScalingGroupName,
        }));
    },
  },
  async create(ctx) {
    const lt = ctx.outputs<LaunchTemplateOutputs>(STEP.launchTemplate);
    const alb = ctx.outputs<AlbOutputs>(STEP.alb);
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const name = asgName(ctx.config);

    let group = await findGroup(ctx);
    if (isDeleting(group)) {
      ctx.progress(
        `${name} is still being deleted by an earlier destroy; waiting before re-creating it`,
      );
      await waitGone(ctx);
      group = undefined;
    }
    if (!group) {
      await createGroup(ctx, lt, alb, subnets);
    } else {
      await convergeGroup(ctx, group, lt, alb, subnets);
    }
    const policies = await ensurePolicies(ctx);
    if (ctx.whenDone) {
      ctx.progress(
        `${name}: instances booting; the app starts once the database and the cache are ready (${STEP.appSettings})`,
      );
      if (!(await ctx.whenDone(STEP.appSettings))) {
        throw new CloudmartError(
          'NOT_READY',
          `${STEP.appSettings} did not finish, so the instances of ${name} have no database or cache to start the app with`,
          {
            hint: `Fix what stopped ${STEP.appSettings} (see above), then run "cloudmart up" again.`,
          },
        );
      }
    }
    if (group) await refreshIfStale(ctx, group, lt);
    await waitHealthy(ctx, alb.targetGroupArn);
    ctx.progress(`${name}: instances healthy in ${alb.targetGroupDimension}`);
    await useElbHealthChecks(ctx);

    return {
      autoScalingGroupName: name,
      targetTrackingPolicyArn: policies.cpu,
      scaleOutPolicyArn: policies.scaleOut,
      launchTemplateVersion: lt.version,
      desiredCapacity: ctx.config.app.desiredCapacity,
    };
  },

  async verify(ctx) {
    const name = asgName(ctx.config);
    const fix = 'cloudmart up --phase 1';
    const group = await findGroup(ctx);
    if (!group || isDeleting(group)) {
      return [
        {
          id: 'app.asg.exists',
          title: 'Auto Scaling group exists',
          criterion: 'auto-scaling',
          status: 'fail',
          evidence: group ? `${name} is being deleted` : `no Auto Scaling group named ${name}`,
          fix,
        },
      ];
    }
    const { app } = ctx.config;
    const inService = (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService');
    const ids = inService.map((i) => i.InstanceId!).filter(Boolean);
    const azs = [...new Set(inService.map((i) => i.AvailabilityZone ?? '?'))].sort();
    const targetGroupArn =
      ctx.maybeOutputs<AlbOutputs>(STEP.alb)?.targetGroupArn ?? group.TargetGroupARNs?.[0];
    const healthy = targetGroupArn ? await healthyCount(ctx, group, targetGroupArn) : 0;
    const policies = await describePolicies(ctx);
    const cpu = policies.find((p) => p.PolicyName === cpuPolicyName(ctx.config));
    const scaleOut = policies.find((p) => p.PolicyName === scaleOutPolicyName(ctx.config));

    const checks: Check[] = [
      {
        id: 'app.asg.multi-az',
        title: 'App instances run in both Availability Zones',
        criterion: 'multi-az',
        status: azs.length >= 2 ? 'pass' : 'fail',
        evidence: `${inService.length} InService instance(s) in ${azs.join(', ') || 'no zone'}`,
        fix,
      },
      {
        id: 'app.asg.capacity',
        title: `Group sized ${app.minSize}-${app.maxSize} (desired ${app.desiredCapacity})`,
        criterion: 'scalability',
        status: group.MinSize === app.minSize && group.MaxSize === app.maxSize ? 'pass' : 'fail',
        evidence: `${name} min=${group.MinSize ?? '?'} desired=${group.DesiredCapacity ?? '?'} max=${group.MaxSize ?? '?'}`,
        fix,
      },
      {
        id: 'app.asg.targets-healthy',
        title: 'Instances healthy behind the ALB',
        criterion: 'auto-scaling',
        status:
          targetGroupArn && healthy >= Math.max(1, group.DesiredCapacity ?? 1) ? 'pass' : 'fail',
        evidence: targetGroupArn
          ? `${healthy}/${group.DesiredCapacity ?? '?'} healthy in ${targetGroupArn.split(':').pop() ?? ''}`
          : `${name} has no target group attached`,
        fix,
      },
      {
        id: 'app.asg.elb-health-check',
        title: 'Unhealthy instances are replaced (ELB health checks)',
        criterion: 'auto-scaling',
        status: group.HealthCheckType === 'ELB' ? 'pass' : 'fail',
        evidence: `HealthCheckType=${group.HealthCheckType ?? '?'} grace=${group.HealthCheckGracePeriod ?? '?'} s`,
        fix,
      },
      {
        id: 'app.asg.cpu-policy',
        title: `Target tracking on average CPU ${app.cpuTarget}%`,
        criterion: 'auto-scaling',
        status: cpuPolicyMatches(cpu, app.cpuTarget) ? 'pass' : 'fail',
        evidence: cpu
          ? `${cpu.PolicyName ?? ''} ${cpu.TargetTrackingConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType ?? '?'} target ${cpu.TargetTrackingConfiguration?.TargetValue ?? '?'}`
          : `no policy ${cpuPolicyName(ctx.config)}`,
        fix,
      },
      {
        id: 'app.asg.scale-out-policy',
        title: 'Scale-out policy for the slow-response alarm',
        criterion: 'scalability',
        status: scaleOut ? 'pass' : 'fail',
        evidence: scaleOut
          ? `${scaleOut.PolicyName ?? ''} ${scaleOut.PolicyType ?? '?'} +${scaleOut.ScalingAdjustment ?? '?'} cooldown ${scaleOut.Cooldown ?? '?'} s`
          : `no policy ${scaleOutPolicyName(ctx.config)}`,
        fix,
      },
    ];
    checks.push(...(await instanceChecks(ctx, ids, fix)));
    return checks;
  },

  async teardown(ctx) {
    const { DeleteAutoScalingGroupCommand } = await asgsdk();
    const asg = await ctx.aws.get('autoscaling');
    const name = asgName(ctx.config);
    const group = await findGroup(ctx);
    if (!group) return;
    if (!isDeleting(group)) {
      ctx.progress(`deleting ${name} and its ${group.Instances?.length ?? 0} instance(s)`);
      try {
        await retryWhile(
          ctx,
          () =>
            asg.send(
              new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: name, ForceDelete: true }),
            ),
          { what: `deleting ${name}`, when: isBusy, timeoutMs: 5 * 60_000 },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    // The target group and the ALB can only go once the instances are terminated.
    await waitGone(ctx);
  },
});

/** What the live instances really run with: IMDSv2, encrypted volumes, no public address. */
async function instanceChecks(ctx: StepContext, ids: string[], fix: string): Promise<Check[]> {
  if (ids.length === 0) {
    return ['imdsv2', 'ebs-encrypted', 'no-public-ip'].map((k) => ({
      id: `app.asg.${k}`,
      title: `Instances: ${k}`,
      criterion: k === 'ebs-encrypted' ? ('encryption' as const) : ('security-design' as const),
      status: 'unknown' as const,
      evidence: 'no InService instances to inspect',
      fix,
    }));
  }
  const { DescribeInstancesCommand, paginateDescribeVolumes } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const [instancesOut, volumes] = await Promise.all([
    ec2.send(new DescribeInstancesCommand({ InstanceIds: ids })),
    allPages(
      paginateDescribeVolumes(
        { client: ec2 },
        { Filters: [{ Name: 'attachment.instance-id', Values: ids }] },
      ),
      (page) => page.Volumes,
    ),
  ]);
  const instances = (instancesOut.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  const optional = instances.filter((i) => i.MetadataOptions?.HttpTokens !== 'required');
  const unencrypted = volumes.filter((v) => v.Encrypted !== true);
  const publicIps = instances.filter((i) => i.PublicIpAddress);
  return [
    {
      id: 'app.asg.imdsv2',
      title: 'Instances enforce IMDSv2',
      criterion: 'security-design',
      status: instances.length > 0 && optional.length === 0 ? 'pass' : 'fail',
      evidence:
        optional.length === 0
          ? `${instances.length} instance(s) with HttpTokens=required`
          : `IMDSv1 allowed on ${optional.map((i) => i.InstanceId).join(', ')}`,
      fix,
    },
    {
      id: 'app.asg.ebs-encrypted',
      title: 'Instance volumes are encrypted',
      criterion: 'encryption',
      status: volumes.length > 0 && unencrypted.length === 0 ? 'pass' : 'fail',
      evidence:
        unencrypted.length === 0
          ? `${volumes.length} volume(s) encrypted (${[...new Set(volumes.map((v) => v.KmsKeyId?.split('/').pop() ?? '?'))].join(', ')})`
          : `unencrypted: ${unencrypted.map((v) => v.VolumeId).join(', ')}`,
      fix,
    },
    {
      id: 'app.asg.no-public-ip',
      title: 'App instances have no public IP',
      criterion: 'security-design',
      status: publicIps.length === 0 ? 'pass' : 'fail',
      evidence:
        publicIps.length === 0
          ? `${instances.length} instance(s), none with a public address`
          : `public IPs on ${publicIps.map((i) => `${i.InstanceId ?? '?'}=${i.PublicIpAddress ?? ''}`).join(', ')}`,
      fix,
    },
  ];
}
