/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, page } from '../util.js';
import type { World } from '../world.js';
import { EC2_TYPES, launchInstance, terminateInstance } from './ec2.js';
import { deregisterTargets, registerTargets } from './elbv2.js';
import { date, usableKey } from './shared.js';

/**
 * Auto Scaling: groups that launch real (fake) EC2 instances from a launch template, spread
 * over their subnets, Pending → InService, registered in their target groups; scaling
 * policies (target tracking makes its two CloudWatch alarms), metrics collection, instance
 * refreshes, scaling activities, and ForceDelete that terminates everything.
 */

export const ASG = 'autoscaling:autoScalingGroup';

const ALL_METRICS = [
  'GroupMinSize',
  'GroupMaxSize',
  'GroupDesiredCapacity',
  'GroupInServiceInstances',
  'GroupPendingInstances',
  'GroupStandbyInstances',
  'GroupTerminatingInstances',
  'GroupTotalInstances',
  'GroupInServiceCapacity',
  'GroupPendingCapacity',
  'GroupStandbyCapacity',
  'GroupTerminatingCapacity',
  'GroupTotalCapacity',
  'WarmPoolDesiredCapacity',
  'WarmPoolWarmedCapacity',
  'WarmPoolPendingCapacity',
  'WarmPoolTerminatingCapacity',
  'WarmPoolTotalCapacity',
  'GroupAndWarmPoolDesiredCapacity',
  'GroupAndWarmPoolTotalCapacity',
];

const SLR = 'AWSServiceRoleForAutoScaling';

/** The service-linked role Auto Scaling creates on first use (AWS-owned: not a leftover). */
export function ensureAutoScalingRole(w: World): Resource {
  const existing = w.live('iam:role', 'us-east-1', SLR);
  if (existing) return existing;
  return w.add({
    service: 'iam',
    type: 'iam:role',
    region: 'us-east-1',
    id: SLR,
    arn: `arn:aws:iam::${w.account}:role/aws-service-role/autoscaling.amazonaws.com/${SLR}`,
    name: SLR,
    state: 'available',
    system: true,
    data: {
      path: '/aws-service-role/autoscaling.amazonaws.com/',
      roleId: 'AROA' + w.rng.chars(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
      trust: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'autoscaling.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
      description:
        'Default Service-Linked Role enables access to AWS Services and Resources used or managed by Auto Scaling',
      maxSessionDuration: 3600,
      attached: ['arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy'],
      inline: {},
      serviceLinked: true,
    },
  });
}

export function autoscalingService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('autoscaling', code, message);

  const group = (region: string, name: string): Resource => {
    const r = w.live(ASG, region, name);
    if (!r)
      throw err(
        'ValidationError',
        `AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`,
      );
    return r;
  };

  const instancesOf = (g: Resource): Resource[] =>
    w.all(EC2_TYPES.instance, g.region).filter((i) => i.owner === g.id && !i.gone);

  function activity(
    g: Resource,
    description: string,
    status: string,
    cause: string,
    message?: string,
  ): void {
    const list = g.data.activities as In[];
    list.unshift({
      ActivityId: w.rng.uuid(),
      AutoScalingGroupName: g.id,
      AutoScalingGroupARN: g.arn,
      Description: description,
      Cause: cause,
      StartTime: w.now(),
      EndTime: w.now(),
      StatusCode: status,
      ...(message ? { StatusMessage: message } : {}),
      Progress: 100,
      Details: '{}',
    });
    if (list.length > 100) list.length = 100;
  }

  /** Why a launch from this template would fail now (IAM propagation, a key not usable). */
  function launchProblem(region: string, data: In): string | undefined {
    const profile =
      data.IamInstanceProfile?.Name ??
      String(data.IamInstanceProfile?.Arn ?? '')
        .split('/')
        .pop();
    if (profile) {
      const p = w.live('iam:instance-profile', 'us-east-1', profile as string);
      if (
        !p ||
        w.now() - p.createdAt < w.t('iamPropagation') ||
        (p.data.roles as string[]).length === 0
      ) {
        return `Value (${String(profile)}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`;
      }
    }
    for (const m of (data.BlockDeviceMappings ?? []) as In[]) {
      if (m.Ebs?.Encrypted && m.Ebs.KmsKeyId && !usableKey(w, region, m.Ebs.KmsKeyId as string)) {
        return 'Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state';
      }
    }
    return undefined;
  }

  function templateOf(g: Resource): { lt: Resource; version: In } | undefined {
    const spec = g.data.launchTemplate;
    const lt = spec.id
      ? w.live(EC2_TYPES.lt, g.region, spec.id as string)
      : w.find(EC2_TYPES.lt, g.region, (x) => x.data.name === spec.name)[0];
    if (!lt) return undefined;
    const s = String(spec.version ?? '$Default');
    const n =
      s === '$Latest'
        ? lt.data.latestVersion
        : s === '$Default'
          ? lt.data.defaultVersion
          : Number(s);
    const version = (lt.data.versions as In[]).find((v) => v.number === n);
    return version ? { lt, version } : undefined;
  }

  /** Launch or terminate until the group holds its desired capacity. */
  function reconcile(g: Resource): void {
    if (g.data.deleting) return;
    const live = instancesOf(g).filter((i) => i.data.asgLifecycle !== 'Terminating');
    const desired = g.data.desired as number;
    if (live.length < desired) {
      if ((g.data.suspended as string[]).includes('Launch')) return;
      if (
        (g.data.nextLaunchAt as number | undefined) !== undefined &&
        w.now() < (g.data.nextLaunchAt as number)
      )
        return;
      const t = templateOf(g);
      const problem = t
        ? launchProblem(g.region, t.version.data)
        : 'The specified launch template does not exist.';
      if (problem) {
        activity(
          g,
          'Launching a new EC2 instance.  Status Reason: ' + problem,
          'Failed',
          'an instance was started in response to a difference between desired and actual capacity',
          problem,
        );
        g.data.nextLaunchAt = w.now() + 10_000;
        return;
      }
      const subnets = g.data.subnets as string[];
      for (let n = live.length; n < desired; n++) {
        const counts = subnets.map((s) => live.filter((i) => i.data.subnetId === s).length);
        const subnetId = subnets[counts.indexOf(Math.min(...counts))]!;
        const tags: Record<string, string> = { 'aws:autoscaling:groupName': g.id };
        for (const tag of g.data.tags as In[])
          if (tag.PropagateAtLaunch) tags[tag.Key as string] = tag.Value as string;
        const i = launchInstance(w, {
          region: g.region,
          subnetId,
          templateId: t!.lt.id,
          templateVersion: t!.version.number as number,
          templateData: t!.version.data,
          extraTags: tags,
          owner: g.id,
        });
        i.data.asgLifecycle = 'Pending';
        i.data.asgHealth = 'Healthy';
        live.push(i);
        w.schedule(i, w.t('instanceInService'), {
          patch: { asgLifecycle: 'InService' },
          event: 'asg.inservice',
        });
        activity(
          g,
          `Launching a new EC2 instance: ${i.id}`,
          'Successful',
          'an instance was started in response to a difference between desired and actual capacity',
        );
      }
    } else if (live.length > desired) {
      const victims = [...live]
        .sort((a, b) => a.createdAt - b.createdAt)
        .slice(0, live.length - desired);
      for (const i of victims)
        retire(
          g,
          i,
          'an instance was taken out of service in response to a difference between desired and actual capacity',
        );
    }
  }

  function retire(g: Resource, i: Resource, cause: string): void {
    i.data.asgLifecycle = 'Terminating';
    for (const tg of g.data.targetGroups as string[]) deregisterTargets(w, g.region, tg, [i.id]);
    terminateInstance(w, g.region, i.id, w.t('instanceRunning'));
    activity(g, `Terminating EC2 instance: ${i.id}`, 'Successful', cause);
  }

  /**
   * The group's EC2 health check: an instance that is no longer pending or running (terminated
   * behind the group's back with EC2 TerminateInstances, or it died) is Unhealthy; the group
   * then takes it out of service like any other (retire(): Terminating, deregistered from its
   * target groups, which drain it; the instance is already shutting down, so that comes after
   * the termination), and reconcile() launches the replacement: the desired capacity is kept.
   * Suspended HealthCheck: nobody notices; suspended ReplaceUnhealthy: marked, not replaced.
   */
  function healthCheck(g: Resource): void {
    if (g.data.deleting) return;
    const suspended = g.data.suspended as string[];
    for (const i of w.all(EC2_TYPES.instance, g.region)) {
      if (i.owner !== g.id || i.data.asgLifecycle === 'Terminating') continue;
      const lost = i.gone || (i.state !== 'pending' && i.state !== 'running');
      if (lost && !suspended.includes('HealthCheck')) i.data.asgHealth = 'Unhealthy';
      if (i.data.asgHealth === 'Unhealthy' && !suspended.includes('ReplaceUnhealthy'))
        retire(
          g,
          i,
          'an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped',
        );
    }
  }

  w.onEvent('asg.inservice', (i) => {
    const g = w.live(ASG, i.region, i.owner ?? '');
    if (!g || i.gone) return;
    for (const tg of g.data.targetGroups as string[]) registerTargets(w, g.region, tg, [i.id]);
  });
  w.onEvent('asg.deleted', (g) => {
    for (const p of g.data.policies as In[]) removePolicyAlarms(g.region, p);
  });
  w.onEvent('asg.refreshed', (g) => {
    const t = templateOf(g);
    if (!t) return;
    for (const i of instancesOf(g)) {
      if (i.data.templateVersion !== t.version.number && i.data.asgLifecycle !== 'Terminating') {
        retire(g, i, 'instance refresh');
      }
    }
    g.data.nextLaunchAt = undefined;
    reconcile(g);
    for (const i of instancesOf(g)) {
      if (i.data.asgLifecycle === 'Pending') {
        w.cancel(i);
        i.state = 'running';
        i.data.asgLifecycle = 'InService';
        for (const tg of g.data.targetGroups as string[]) registerTargets(w, g.region, tg, [i.id]);
      }
    }
  });

  // Groups keep converging (a failed launch is retried; an instance that died is replaced).
  w.onTick(() => {
    for (const g of w.find(ASG, undefined)) {
      healthCheck(g);
      reconcile(g);
    }
  });

  function groupShape(g: Resource): In {
    const d = g.data;
    const spec = d.launchTemplate;
    const lt = spec.id ? w.get(EC2_TYPES.lt, g.region, spec.id as string) : undefined;
    return {
      AutoScalingGroupName: g.id,
      AutoScalingGroupARN: g.arn,
      LaunchTemplate: {
        LaunchTemplateId: spec.id,
        LaunchTemplateName: lt?.data.name ?? spec.name,
        Version: spec.version,
      },
      MinSize: d.min,
      MaxSize: d.max,
      DesiredCapacity: d.desired,
      DefaultCooldown: d.cooldown,
      AvailabilityZones: [
        ...new Set(
          (d.subnets as string[]).map((s) => w.get(EC2_TYPES.subnet, g.region, s)?.data.az),
        ),
      ],
      LoadBalancerNames: [],
      TargetGroupARNs: [...(d.targetGroups as string[])],
      HealthCheckType: d.healthCheckType,
      HealthCheckGracePeriod: d.grace,
      Instances: w
        .all(EC2_TYPES.instance, g.region)
        .filter((i) => i.owner === g.id && !i.gone)
        .map((i) => ({
          InstanceId: i.id,
          InstanceType: i.data.instanceType,
          AvailabilityZone: i.data.az,
          LifecycleState: i.data.asgLifecycle,
          HealthStatus: i.data.asgHealth,
          LaunchTemplate: {
            LaunchTemplateId: spec.id,
            LaunchTemplateName: lt?.data.name,
            Version: String(i.data.templateVersion),
          },
          ProtectedFromScaleIn: false,
        })),
      CreatedTime: date(g.createdAt),
      SuspendedProcesses: (d.suspended as string[]).map((p) => ({
        ProcessName: p,
        SuspensionReason: 'User suspended at ' + new Date(w.now()).toISOString(),
      })),
      VPCZoneIdentifier: (d.subnets as string[]).join(','),
      EnabledMetrics: (d.enabledMetrics as string[]).map((m) => ({
        Metric: m,
        Granularity: '1Minute',
      })),
      Tags: (d.tags as In[]).map((t) => ({
        ...t,
        ResourceId: g.id,
        ResourceType: 'auto-scaling-group',
      })),
      TerminationPolicies: ['Default'],
      NewInstancesProtectedFromScaleIn: false,
      ServiceLinkedRoleARN: `arn:aws:iam::${w.account}:role/aws-service-role/autoscaling.amazonaws.com/${SLR}`,
      CapacityRebalance: false,
      ...(d.warmup !== undefined ? { DefaultInstanceWarmup: d.warmup } : {}),
      ...(d.deleting ? { Status: 'Delete in progress' } : {}),
    };
  }

  function removePolicyAlarms(region: string, p: In): void {
    for (const a of (p.alarms ?? []) as In[]) {
      const alarm = w.get('cloudwatch:alarm', region, a.AlarmName as string);
      if (alarm) w.remove(alarm);
    }
  }

  function policyShape(g: Resource, p: In): In {
    return {
      AutoScalingGroupName: g.id,
      PolicyName: p.name,
      PolicyARN: p.arn,
      PolicyType: p.type,
      ...(p.adjustmentType ? { AdjustmentType: p.adjustmentType } : {}),
      ...(p.scalingAdjustment !== undefined ? { ScalingAdjustment: p.scalingAdjustment } : {}),
      ...(p.cooldown !== undefined ? { Cooldown: p.cooldown } : {}),
      ...(p.targetTracking ? { TargetTrackingConfiguration: clone(p.targetTracking) } : {}),
      Alarms: clone(p.alarms ?? []),
      Enabled: true,
    };
  }

  const handlers: ServiceModule['handlers'] = {
    CreateAutoScalingGroup(ctx, input) {
      const name = input.AutoScalingGroupName as string;
      if (w.get(ASG, ctx.region, name))
        throw err(
          'AlreadyExistsFault',
          `AutoScalingGroup by this name already exists - A group with the name ${name} already exists`,
        );
      const spec = input.LaunchTemplate ?? {};
      const lt = spec.LaunchTemplateId
        ? w.live(EC2_TYPES.lt, ctx.region, spec.LaunchTemplateId as string)
        : w.find(EC2_TYPES.lt, ctx.region, (x) => x.data.name === spec.LaunchTemplateName)[0];
      if (!lt) {
        throw err(
          'ValidationError',
          `You must use a valid fully-formed launch template. The specified launch template, with template ID ${String(spec.LaunchTemplateId ?? spec.LaunchTemplateName)}, does not exist.`,
        );
      }
      const subnets = String(input.VPCZoneIdentifier ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (subnets.length === 0)
        throw err(
          'ValidationError',
          'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.',
        );
      for (const s of subnets) {
        if (!w.live(EC2_TYPES.subnet, ctx.region, s))
          throw err('ValidationError', `The subnet ID '${s}' does not exist`);
      }
      for (const tg of (input.TargetGroupARNs ?? []) as string[]) {
        if (!w.live('elasticloadbalancing:targetgroup', ctx.region, tg))
          throw err(
            'ValidationError',
            `Provided Target Groups may not be valid. Please ensure they exist and try again.`,
          );
      }
      const min = input.MinSize as number;
      const max = input.MaxSize as number;
      const desired = (input.DesiredCapacity as number | undefined) ?? min;
      if (min > max || desired < min || desired > max) {
        throw err(
          'ValidationError',
          `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`,
        );
      }
      const versionSpec = String(spec.Version ?? '$Default');
      const n =
        versionSpec === '$Latest'
          ? lt.data.latestVersion
          : versionSpec === '$Default'
            ? lt.data.defaultVersion
            : Number(versionSpec);
      const version = (lt.data.versions as In[]).find((v) => v.number === n);
      const problem = version
        ? launchProblem(ctx.region, version.data)
        : 'launch template version not found';
      if (problem && /iamInstanceProfile/.test(problem)) {
        throw err(
          'ValidationError',
          `You must use a valid fully-formed launch template. ${problem}`,
        );
      }
      ensureAutoScalingRole(w);
      const tags = ((input.Tags ?? []) as In[]).map((t) => ({
        Key: t.Key,
        Value: t.Value,
        PropagateAtLaunch: t.PropagateAtLaunch === true,
      }));
      const g = w.add({
        service: 'autoscaling',
        type: ASG,
        region: ctx.region,
        id: name,
        arn: w.arn(
          'autoscaling',
          ctx.region,
          `autoScalingGroup:${w.rng.uuid()}:autoScalingGroupName/${name}`,
        ),
        name,
        tags: Object.fromEntries(tags.map((t) => [t.Key as string, t.Value as string])),
        state: 'active',
        data: {
          launchTemplate: { id: lt.id, name: lt.data.name, version: spec.Version ?? '$Default' },
          min,
          max,
          desired,
          cooldown: input.DefaultCooldown ?? 300,
          subnets,
          targetGroups: [...((input.TargetGroupARNs ?? []) as string[])],
          healthCheckType: input.HealthCheckType ?? 'EC2',
          grace: input.HealthCheckGracePeriod ?? (input.HealthCheckType === 'ELB' ? 300 : 0),
          warmup: input.DefaultInstanceWarmup,
          enabledMetrics: [],
          suspended: [],
          tags,
          policies: [],
          activities: [],
          refreshes: [],
        },
      });
      reconcile(g);
      return {};
    },
    DescribeAutoScalingGroups(ctx, input) {
      const names = input.AutoScalingGroupNames as string[] | undefined;
      const list = w.find(ASG, ctx.region, (g) => !names?.length || names.includes(g.id));
      const p = page(
        list,
        input.NextToken as string | undefined,
        input.MaxRecords as number | undefined,
        100,
      );
      return {
        AutoScalingGroups: p.items.map(groupShape),
        ...(p.next ? { NextToken: p.next } : {}),
      };
    },
    UpdateAutoScalingGroup(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const d = g.data;
      if (d.deleting) throw err('ScalingActivityInProgressFault', 'The group is being deleted');
      if (input.LaunchTemplate) {
        d.launchTemplate = {
          id: input.LaunchTemplate.LaunchTemplateId,
          name: input.LaunchTemplate.LaunchTemplateName,
          version: input.LaunchTemplate.Version ?? '$Default',
        };
      }
      if (input.MinSize !== undefined) d.min = input.MinSize;
      if (input.MaxSize !== undefined) d.max = input.MaxSize;
      if (input.DesiredCapacity !== undefined) d.desired = input.DesiredCapacity;
      d.desired = Math.min(Math.max(d.desired as number, d.min as number), d.max as number);
      if (input.VPCZoneIdentifier !== undefined)
        d.subnets = String(input.VPCZoneIdentifier).split(',').filter(Boolean);
      if (input.HealthCheckType !== undefined) d.healthCheckType = input.HealthCheckType;
      if (input.HealthCheckGracePeriod !== undefined) d.grace = input.HealthCheckGracePeriod;
      if (input.DefaultInstanceWarmup !== undefined) d.warmup = input.DefaultInstanceWarmup;
      if (input.DefaultCooldown !== undefined) d.cooldown = input.DefaultCooldown;
      reconcile(g);
      return {};
    },
    DeleteAutoScalingGroup(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      if (g.data.deleting)
        throw err(
          'ScalingActivityInProgressFault',
          'An AutoScalingGroup deletion is already in progress',
        );
      const instances = instancesOf(g);
      if (instances.length > 0 && input.ForceDelete !== true) {
        throw err(
          'ResourceInUseFault',
          'You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.',
        );
      }
      g.data.deleting = true;
      g.state = 'deleting';
      for (const i of instances) {
        i.data.asgLifecycle = 'Terminating';
        for (const tg of g.data.targetGroups as string[])
          deregisterTargets(w, g.region, tg, [i.id]);
        terminateInstance(w, g.region, i.id, Math.round(w.t('asgDelete') * 0.8));
      }
      w.schedule(g, w.t('asgDelete'), { event: 'asg.deleted', remove: true });
      return {};
    },
    AttachLoadBalancerTargetGroups(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      for (const tg of (input.TargetGroupARNs ?? []) as string[]) {
        if (!w.live('elasticloadbalancing:targetgroup', ctx.region, tg))
          throw err('ValidationError', 'Provided Target Groups may not be valid.');
        if (!(g.data.targetGroups as string[]).includes(tg))
          (g.data.targetGroups as string[]).push(tg);
        registerTargets(
          w,
          ctx.region,
          tg,
          instancesOf(g)
            .filter((i) => i.data.asgLifecycle === 'InService')
            .map((i) => i.id),
        );
      }
      return {};
    },
    EnableMetricsCollection(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const metrics = (input.Metrics as string[] | undefined)?.length
        ? (input.Metrics as string[])
        : ALL_METRICS;
      g.data.enabledMetrics = [...new Set([...(g.data.enabledMetrics as string[]), ...metrics])];
      return {};
    },
    PutScalingPolicy(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const name = input.PolicyName as string;
      const policies = g.data.policies as In[];
      const existing = policies.find((p) => p.name === name);
      const type = (input.PolicyType as string | undefined) ?? 'SimpleScaling';
      const arn =
        existing?.arn ??
        w.arn(
          'autoscaling',
          ctx.region,
          `scalingPolicy:${w.rng.uuid()}:autoScalingGroupName/${g.id}:policyName/${name}`,
        );
      if (existing) removePolicyAlarms(ctx.region, existing);
      const p: In = { name, arn, type };
      if (type === 'TargetTrackingScaling') {
        if (!input.TargetTrackingConfiguration)
          throw err('ValidationError', 'TargetTrackingConfiguration is required');
        p.targetTracking = clone(input.TargetTrackingConfiguration);
        p.alarms = ['AlarmHigh', 'AlarmLow'].map((suffix) => {
          const alarmName = `TargetTracking-${g.id}-${suffix}-${w.rng.uuid()}`;
          const alarmArn = w.arn('cloudwatch', ctx.region, `alarm:${alarmName}`);
          w.add({
            service: 'cloudwatch',
            type: 'cloudwatch:alarm',
            region: ctx.region,
            id: alarmName,
            arn: alarmArn,
            name: alarmName,
            state: 'INSUFFICIENT_DATA',
            owner: arn,
            data: {
              AlarmName: alarmName,
              AlarmArn: alarmArn,
              AlarmDescription: `DO NOT EDIT OR DELETE. For TargetTrackingScaling policy ${arn}.`,
              ActionsEnabled: true,
              AlarmActions: [arn],
              OKActions: [],
              InsufficientDataActions: [],
              Namespace: 'AWS/EC2',
              MetricName: 'CPUUtilization',
              Statistic: 'Average',
              Dimensions: [{ Name: 'AutoScalingGroupName', Value: g.id }],
              Period: 60,
              EvaluationPeriods: suffix === 'AlarmHigh' ? 3 : 15,
              DatapointsToAlarm: suffix === 'AlarmHigh' ? 3 : 15,
              Threshold:
                (input.TargetTrackingConfiguration.TargetValue as number) *
                (suffix === 'AlarmHigh' ? 1 : 0.9),
              ComparisonOperator:
                suffix === 'AlarmHigh' ? 'GreaterThanThreshold' : 'LessThanThreshold',
              TreatMissingData: 'missing',
            },
          });
          return { AlarmName: alarmName, AlarmARN: alarmArn };
        });
      } else {
        p.adjustmentType = input.AdjustmentType;
        p.scalingAdjustment = input.ScalingAdjustment;
        p.cooldown = input.Cooldown;
        p.alarms = [];
      }
      g.data.policies = [...policies.filter((x) => x.name !== name), p];
      return { PolicyARN: arn, Alarms: clone(p.alarms) };
    },
    DescribePolicies(ctx, input) {
      const groups = input.AutoScalingGroupName
        ? ([w.live(ASG, ctx.region, input.AutoScalingGroupName as string)].filter(
            Boolean,
          ) as Resource[])
        : w.find(ASG, ctx.region);
      const names = input.PolicyNames as string[] | undefined;
      const types = input.PolicyTypes as string[] | undefined;
      const out = groups.flatMap((g) =>
        (g.data.policies as In[])
          .filter(
            (p) =>
              (!names?.length || names.includes(p.name as string)) &&
              (!types?.length || types.includes(p.type as string)),
          )
          .map((p) => policyShape(g, p)),
      );
      return { ScalingPolicies: out };
    },
    DeletePolicy(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const p = (g.data.policies as In[]).find(
        (x) => x.name === input.PolicyName || x.arn === input.PolicyName,
      );
      if (p) removePolicyAlarms(ctx.region, p);
      g.data.policies = (g.data.policies as In[]).filter((x) => x !== p);
      return {};
    },
    StartInstanceRefresh(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const refreshes = g.data.refreshes as In[];
      if (refreshes.some((r) => ['Pending', 'InProgress'].includes(r.status as string))) {
        throw err(
          'InstanceRefreshInProgressFault',
          'An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.',
        );
      }
      const id = w.rng.uuid();
      const done = w.now() + w.t('instanceRefresh');
      refreshes.unshift({
        id,
        status: 'InProgress',
        start: w.now(),
        end: done,
        preferences: clone(input.Preferences ?? {}),
      });
      w.schedule(g, w.t('instanceRefresh'), { event: 'asg.refreshed' });
      return { InstanceRefreshId: id };
    },
    DescribeInstanceRefreshes(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const ids = input.InstanceRefreshIds as string[] | undefined;
      const now = w.now();
      const list = (g.data.refreshes as In[])
        .filter((r) => !ids?.length || ids.includes(r.id as string))
        .map((r) => {
          const finished = now >= (r.end as number);
          const total = Math.max(1, (r.end as number) - (r.start as number));
          return {
            AutoScalingGroupName: g.id,
            InstanceRefreshId: r.id,
            Status: finished ? 'Successful' : r.status,
            StartTime: date(r.start as number),
            ...(finished ? { EndTime: date(r.end as number) } : {}),
            PercentageComplete: finished
              ? 100
              : Math.floor(((now - (r.start as number)) / total) * 100),
            InstancesToUpdate: 0,
            Preferences: clone(r.preferences),
          };
        });
      const max = (input.MaxRecords as number | undefined) ?? 50;
      return { InstanceRefreshes: list.slice(0, max) };
    },
    DescribeScalingActivities(ctx, input) {
      const g = w.get(ASG, ctx.region, input.AutoScalingGroupName as string);
      const list = ((g?.data.activities ?? []) as In[]).map((a) => ({
        ...a,
        StartTime: date(a.StartTime as number),
        EndTime: date(a.EndTime as number),
      }));
      const max = (input.MaxRecords as number | undefined) ?? 100;
      return { Activities: list.slice(0, max) };
    },
    TerminateInstanceInAutoScalingGroup(ctx, input) {
      const i = w.live(EC2_TYPES.instance, ctx.region, input.InstanceId as string);
      const g = i?.owner ? w.live(ASG, ctx.region, i.owner) : undefined;
      if (!i || !g)
        throw err(
          'ValidationError',
          `Instance Id not found - No managed instance found for instance ID: ${String(input.InstanceId)}`,
        );
      if (input.ShouldDecrementDesiredCapacity === true)
        g.data.desired = Math.max(g.data.min as number, (g.data.desired as number) - 1);
      retire(g, i, 'an instance was taken out of service in response to a user request');
      reconcile(g);
      return { Activity: { ...(g.data.activities as In[])[0], StartTime: date(w.now()) } };
    },
    SuspendProcesses(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const all = [
        'Launch',
        'Terminate',
        'AddToLoadBalancer',
        'AlarmNotification',
        'AZRebalance',
        'HealthCheck',
        'InstanceRefresh',
        'ReplaceUnhealthy',
        'ScheduledActions',
      ];
      const list = (input.ScalingProcesses as string[] | undefined)?.length
        ? (input.ScalingProcesses as string[])
        : all;
      g.data.suspended = [...new Set([...(g.data.suspended as string[]), ...list])];
      return {};
    },
    ResumeProcesses(ctx, input) {
      const g = group(ctx.region, input.AutoScalingGroupName as string);
      const list = input.ScalingProcesses as string[] | undefined;
      g.data.suspended = list?.length
        ? (g.data.suspended as string[]).filter((p) => !list.includes(p))
        : [];
      reconcile(g);
      return {};
    },
  };
  return { service: 'autoscaling', handlers };
}
