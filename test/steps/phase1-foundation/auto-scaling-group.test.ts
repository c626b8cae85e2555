import {
  AttachLoadBalancerTargetGroupsCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribePoliciesCommand,
  DescribeScalingActivitiesCommand,
  EnableMetricsCollectionCommand,
  PutScalingPolicyCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
  type ScalingPolicy,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import {
  autoScalingGroupStep,
  DEFAULT_INSTANCE_WARMUP,
} from '../../../src/steps/phase1-foundation/auto-scaling-group.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const TG_ARN =
  'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/cloudmart-tg/73e2d6bc24d8a067';
const CPU_ARN =
  'arn:aws:autoscaling:ap-northeast-2:123456789012:scalingPolicy:1:autoScalingGroupName/cloudmart-asg:policyName/cloudmart-cpu-target';
const OUT_ARN =
  'arn:aws:autoscaling:ap-northeast-2:123456789012:scalingPolicy:2:autoScalingGroupName/cloudmart-asg:policyName/cloudmart-scale-out';

const OUTPUTS = {
  [STEP.launchTemplate]: {
    launchTemplateId: 'lt-0123',
    launchTemplateName: 'cloudmart-lt',
    version: '3',
    amiId: 'ami-1',
  },
  [STEP.alb]: {
    loadBalancerArn: 'arn:lb',
    loadBalancerDimension: 'app/cloudmart-alb/1',
    dnsName: 'alb.example',
    canonicalHostedZoneId: 'Z',
    targetGroupArn: TG_ARN,
    targetGroupDimension: 'targetgroup/cloudmart-tg/73e2d6bc24d8a067',
    listenerArns: [],
    httpsEnabled: false,
  },
  [STEP.subnets]: {
    azs: ['ap-northeast-2a', 'ap-northeast-2c'],
    publicSubnetIds: ['subnet-pub-a', 'subnet-pub-c'],
    appSubnetIds: ['subnet-app-a', 'subnet-app-c'],
    dataSubnetIds: ['subnet-data-a', 'subnet-data-c'],
  },
  [STEP.routes]: { publicRouteTableId: 'rtb-pub', privateRouteTableIds: ['rtb-a', 'rtb-c'] },
  [STEP.appSettings]: { parameterPrefix: '/cloudmart/cloudmart' },
};

const instance = (id: string, az: string, version = '3', state = 'InService') => ({
  InstanceId: id,
  AvailabilityZone: az,
  LifecycleState: state as 'InService',
  HealthStatus: 'Healthy',
  ProtectedFromScaleIn: false,
  LaunchTemplate: { LaunchTemplateId: 'lt-0123', Version: version },
});
const activity = (StatusCode: 'InProgress' | 'Failed', StatusMessage?: string) => ({
  ActivityId: 'act-1',
  AutoScalingGroupName: 'cloudmart-asg',
  Cause: 'launching a new instance',
  StartTime: new Date(0),
  StatusCode,
  ...(StatusMessage ? { StatusMessage } : {}),
});
const group = (over: Partial<AutoScalingGroup> = {}): AutoScalingGroup => ({
  AutoScalingGroupName: 'cloudmart-asg',
  LaunchTemplate: { LaunchTemplateId: 'lt-0123', Version: '$Latest' },
  MinSize: 2,
  MaxSize: 4,
  DesiredCapacity: 2,
  DefaultCooldown: 300,
  AvailabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
  VPCZoneIdentifier: 'subnet-app-c,subnet-app-a',
  TargetGroupARNs: [TG_ARN],
  HealthCheckType: 'ELB',
  HealthCheckGracePeriod: 300,
  DefaultInstanceWarmup: 210,
  EnabledMetrics: [{ Metric: 'GroupInServiceInstances', Granularity: '1Minute' }],
  CreatedTime: new Date(0),
  Instances: [instance('i-a', 'ap-northeast-2a'), instance('i-c', 'ap-northeast-2c')],
  ...over,
});
const POLICIES: ScalingPolicy[] = [
  {
    PolicyName: 'cloudmart-cpu-target',
    PolicyARN: CPU_ARN,
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingConfiguration: {
      PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
      TargetValue: 70,
      DisableScaleIn: false,
    },
  },
  {
    PolicyName: 'cloudmart-scale-out',
    PolicyARN: OUT_ARN,
    PolicyType: 'SimpleScaling',
    AdjustmentType: 'ChangeInCapacity',
    ScalingAdjustment: 1,
    Cooldown: 300,
  },
];
const healthy = (...ids: string[]) => ({
  TargetHealthDescriptions: ids.map((Id) => ({
    Target: { Id, Port: 8080 },
    TargetHealth: { State: 'healthy' as const },
  })),
});

const names = (stub: ReturnType<typeof strictMock>) =>
  stub.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
const mutating = (stub: ReturnType<typeof strictMock>) =>
  names(stub).filter((n) => !/^Describe/.test(n));

describe('app.asg', () => {
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    ec2 = strictMock(EC2Client);
  });

  const ctx = (
    options: { config?: ReturnType<typeof testConfig>; previous?: Record<string, unknown> } = {},
  ) => testContext({ stepId: autoScalingGroupStep.id, outputs: OUTPUTS, ...options });

  /** A running, converged group. */
  function converged(over: Partial<AutoScalingGroup> = {}) {
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group(over)] });
    asg.on(DescribePoliciesCommand).resolves({ ScalingPolicies: POLICIES });
    asg.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a', 'i-c'));
  }

  it('creates the group across both app subnets behind the target group, with both policies, waits for 2/2 healthy, then switches to ELB health checks', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [] })
      .resolvesOnce({ AutoScalingGroups: [group({ Instances: [], HealthCheckType: 'EC2' })] })
      .resolves({ AutoScalingGroups: [group({ HealthCheckType: 'EC2' })] });
    asg.on(CreateAutoScalingGroupCommand).resolves({});
    asg.on(UpdateAutoScalingGroupCommand).resolves({});
    asg.on(EnableMetricsCollectionCommand).resolves({});
    asg.on(DescribePoliciesCommand).resolves({ ScalingPolicies: [] });
    asg
      .on(PutScalingPolicyCommand, { PolicyName: 'cloudmart-cpu-target' })
      .resolves({ PolicyARN: CPU_ARN })
      .on(PutScalingPolicyCommand, { PolicyName: 'cloudmart-scale-out' })
      .resolves({ PolicyARN: OUT_ARN });
    asg.on(DescribeScalingActivitiesCommand).resolves({ Activities: [activity('InProgress')] });
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce({ TargetHealthDescriptions: [] })
      .resolvesOnce(healthy('i-a'))
      .resolves(healthy('i-a', 'i-c'));

    const c = ctx();
    const out = await autoScalingGroupStep.create(c);

    expect(asg.commandCalls(CreateAutoScalingGroupCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      LaunchTemplate: { LaunchTemplateId: 'lt-0123', Version: '$Latest' },
      MinSize: 2,
      MaxSize: 4,
      DesiredCapacity: 2,
      VPCZoneIdentifier: 'subnet-app-a,subnet-app-c',
      TargetGroupARNs: [TG_ARN],
      // EC2 health checks while the instances wait for the database: ELB ones would replace
      // them once the grace period ends.
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 300,
      DefaultInstanceWarmup: 210,
      Tags: expect.arrayContaining([
        {
          Key: 'Name',
          Value: 'cloudmart-asg',
          ResourceId: 'cloudmart-asg',
          ResourceType: 'auto-scaling-group',
          PropagateAtLaunch: false,
        },
        {
          Key: 'cloudmart:stack',
          Value: 'cloudmart',
          ResourceId: 'cloudmart-asg',
          ResourceType: 'auto-scaling-group',
          PropagateAtLaunch: true,
        },
        {
          Key: 'Project',
          Value: 'CloudMart',
          ResourceId: 'cloudmart-asg',
          ResourceType: 'auto-scaling-group',
          PropagateAtLaunch: true,
        },
      ]),
    });
    expect(asg.commandCalls(EnableMetricsCollectionCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      Granularity: '1Minute',
    });
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand).map((x) => x.args[0].input)).toEqual([
      { AutoScalingGroupName: 'cloudmart-asg', HealthCheckType: 'ELB' },
    ]);
    expect(asg.commandCalls(PutScalingPolicyCommand).map((x) => x.args[0].input)).toEqual([
      {
        AutoScalingGroupName: 'cloudmart-asg',
        PolicyName: 'cloudmart-cpu-target',
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
          TargetValue: 70,
          DisableScaleIn: false,
        },
      },
      {
        AutoScalingGroupName: 'cloudmart-asg',
        PolicyName: 'cloudmart-scale-out',
        PolicyType: 'SimpleScaling',
        AdjustmentType: 'ChangeInCapacity',
        ScalingAdjustment: 1,
        Cooldown: 300,
      },
    ]);
    expect(c.progressLog).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^cloudmart-asg instances: 0\/2 healthy/),
        expect.stringMatching(/^cloudmart-asg instances: 1\/2 healthy/),
      ]),
    );
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out).toEqual({
      autoScalingGroupName: 'cloudmart-asg',
      targetTrackingPolicyArn: CPU_ARN,
      scaleOutPolicyArn: OUT_ARN,
      launchTemplateVersion: '3',
      desiredCapacity: 2,
    });
  });

  it('adopts a converged group: no create, no update, no policy write, no refresh', async () => {
    converged();
    const out = await autoScalingGroupStep.create(
      ctx({ previous: { desiredCapacity: 2, launchTemplateVersion: '3' } }),
    );
    expect(mutating(asg)).toEqual([]);
    expect(out.targetTrackingPolicyArn).toBe(CPU_ARN);
    expect(out.scaleOutPolicyArn).toBe(OUT_ARN);
  });

  it('leaves a scaled-out desired capacity to target tracking', async () => {
    converged({
      DesiredCapacity: 3,
      Instances: [
        instance('i-a', 'ap-northeast-2a'),
        instance('i-c', 'ap-northeast-2c'),
        instance('i-b', 'ap-northeast-2a'),
      ],
    });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a', 'i-c', 'i-b'));
    await autoScalingGroupStep.create(ctx({ previous: { desiredCapacity: 2 } }));
    expect(mutating(asg)).toEqual([]);
  });

  it('updates only what changed in the config (sizes), and the target value of the CPU policy', async () => {
    converged();
    asg.on(UpdateAutoScalingGroupCommand).resolves({});
    asg.on(PutScalingPolicyCommand).resolves({ PolicyARN: CPU_ARN });
    const config = testConfig({
      app: { minSize: 2, desiredCapacity: 3, maxSize: 6, cpuTarget: 60 },
    });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a', 'i-c', 'i-b'));
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        group({ Instances: [...group().Instances!, instance('i-b', 'ap-northeast-2a')] }),
      ],
    });
    await autoScalingGroupStep.create(ctx({ config, previous: { desiredCapacity: 2 } }));
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand).map((x) => x.args[0].input)).toEqual([
      { AutoScalingGroupName: 'cloudmart-asg', MaxSize: 6, DesiredCapacity: 3 },
    ]);
    expect(
      asg.commandCalls(PutScalingPolicyCommand).map((x) => x.args[0].input.PolicyName),
    ).toEqual(['cloudmart-cpu-target']);
    expect(
      asg.commandCalls(PutScalingPolicyCommand)[0]!.args[0].input.TargetTrackingConfiguration
        ?.TargetValue,
    ).toBe(60);
  });

  it('puts a group that drifted into one subnet back into both app subnets (one per AZ)', async () => {
    converged({ VPCZoneIdentifier: 'subnet-app-a', AvailabilityZones: ['ap-northeast-2a'] });
    asg.on(UpdateAutoScalingGroupCommand).resolves({});
    await autoScalingGroupStep.create(ctx({ previous: { desiredCapacity: 2 } }));
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand).map((x) => x.args[0].input)).toEqual([
      { AutoScalingGroupName: 'cloudmart-asg', VPCZoneIdentifier: 'subnet-app-a,subnet-app-c' },
    ]);
  });

  it('re-attaches the target group and turns metrics on when they were removed', async () => {
    converged({ TargetGroupARNs: [], EnabledMetrics: [] });
    asg.on(AttachLoadBalancerTargetGroupsCommand).resolves({});
    asg.on(EnableMetricsCollectionCommand).resolves({});
    await autoScalingGroupStep.create(ctx());
    expect(mutating(asg)).toEqual([
      'AttachLoadBalancerTargetGroupsCommand',
      'EnableMetricsCollectionCommand',
    ]);
    expect(asg.commandCalls(AttachLoadBalancerTargetGroupsCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      TargetGroupARNs: [TG_ARN],
    });
  });

  it('starts an instance refresh when the instances run an older template version, and waits for it', async () => {
    converged({
      Instances: [instance('i-a', 'ap-northeast-2a', '2'), instance('i-c', 'ap-northeast-2c', '2')],
    });
    asg
      .on(DescribeInstanceRefreshesCommand, { MaxRecords: 1 })
      .resolves({ InstanceRefreshes: [{ InstanceRefreshId: 'old', Status: 'Successful' }] });
    asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-1' });
    asg
      .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] })
      .resolvesOnce({
        InstanceRefreshes: [
          { InstanceRefreshId: 'ir-1', Status: 'InProgress', PercentageComplete: 50 },
        ],
      })
      .resolves({
        InstanceRefreshes: [
          { InstanceRefreshId: 'ir-1', Status: 'Successful', PercentageComplete: 100 },
        ],
      });

    const c = ctx();
    await autoScalingGroupStep.create(c);

    expect(asg.commandCalls(StartInstanceRefreshCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      Strategy: 'Rolling',
      Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200, SkipMatching: true },
    });
    expect(c.progressLog.some((l) => l.includes('instance refresh InProgress 50%'))).toBe(true);
  });

  it('refreshes instances launched from a template that was re-created under the same name', async () => {
    converged({
      Instances: [
        {
          ...instance('i-a', 'ap-northeast-2a', '3'),
          LaunchTemplate: { LaunchTemplateId: 'lt-old', Version: '3' },
        },
        instance('i-c', 'ap-northeast-2c', '3'),
      ],
    });
    asg.on(DescribeInstanceRefreshesCommand, { MaxRecords: 1 }).resolves({ InstanceRefreshes: [] });
    asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-2' });
    asg
      .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-2'] })
      .resolves({ InstanceRefreshes: [{ Status: 'Successful' }] });
    await autoScalingGroupStep.create(ctx());
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(1);
  });

  it('joins a refresh already in progress instead of starting another', async () => {
    converged({
      Instances: [instance('i-a', 'ap-northeast-2a', '2'), instance('i-c', 'ap-northeast-2c', '3')],
    });
    asg
      .on(DescribeInstanceRefreshesCommand)
      .resolvesOnce({ InstanceRefreshes: [{ InstanceRefreshId: 'ir-0', Status: 'InProgress' }] })
      .resolves({ InstanceRefreshes: [{ InstanceRefreshId: 'ir-0', Status: 'Successful' }] });
    await autoScalingGroupStep.create(ctx());
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(asg.commandCalls(DescribeInstanceRefreshesCommand)[1]!.args[0].input).toEqual({
      AutoScalingGroupName: 'cloudmart-asg',
      InstanceRefreshIds: ['ir-0'],
    });
  });

  it('fails when the instance refresh fails', async () => {
    converged({
      Instances: [instance('i-a', 'ap-northeast-2a', '2'), instance('i-c', 'ap-northeast-2c', '2')],
    });
    asg.on(DescribeInstanceRefreshesCommand, { MaxRecords: 1 }).resolves({ InstanceRefreshes: [] });
    asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-1' });
    asg.on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] }).resolves({
      InstanceRefreshes: [{ Status: 'Failed', StatusReason: 'health checks failed' }],
    });
    await expect(autoScalingGroupStep.create(ctx())).rejects.toThrow(
      /Failed \(health checks failed\)/,
    );
  });

  it('retries the create while the instance profile propagates', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [] })
      .resolves({ AutoScalingGroups: [group()] });
    asg
      .on(CreateAutoScalingGroupCommand)
      .rejectsOnce(
        awsError(
          'ValidationError',
          'You must use a valid fully-formed launch template. Value (cloudmart-app) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
        ),
      )
      .resolves({});
    asg.on(EnableMetricsCollectionCommand).resolves({});
    asg.on(DescribePoliciesCommand).resolves({ ScalingPolicies: POLICIES });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a', 'i-c'));
    await autoScalingGroupStep.create(ctx());
    expect(asg.commandCalls(CreateAutoScalingGroupCommand)).toHaveLength(2);
  });

  it('times out with the last launch failure in the hint when instances never launch', async () => {
    converged({ Instances: [] });
    elb.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    asg.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [activity('Failed', 'Client.InternalError: Client error on launch')],
    });
    const c = ctx();
    const err = await autoScalingGroupStep.create(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudmartError);
    expect((err as CloudmartError).code).toBe('TIMEOUT');
    expect((err as CloudmartError).hint).toContain('Client.InternalError: Client error on launch');
    expect(c.progressLog.at(-1)).toMatch(
      /0\/2 healthy \(last launch failed: Client\.InternalError/,
    );
    // Short polls all along: never more than 15 s between two.
    expect(c.slept()).toBeGreaterThanOrEqual(20 * 60_000);
  });

  it('waits for a group still being deleted before creating it again', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group({ Status: 'Delete in progress' })] })
      .resolvesOnce({ AutoScalingGroups: [group({ Status: 'Delete in progress', Instances: [] })] })
      .resolvesOnce({ AutoScalingGroups: [] })
      .resolves({ AutoScalingGroups: [group()] });
    asg.on(CreateAutoScalingGroupCommand).resolves({});
    asg.on(EnableMetricsCollectionCommand).resolves({});
    asg.on(DescribePoliciesCommand).resolves({ ScalingPolicies: POLICIES });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a', 'i-c'));
    await autoScalingGroupStep.create(ctx());
    expect(asg.commandCalls(CreateAutoScalingGroupCommand)).toHaveLength(1);
    expect(names(asg).indexOf('CreateAutoScalingGroupCommand')).toBe(3);
  });

  it('verify passes on a healthy stack and reads the live instances and volumes', async () => {
    converged();
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-a',
              MetadataOptions: { HttpTokens: 'required' },
              PrivateIpAddress: '10.0.11.5',
            },
            {
              InstanceId: 'i-c',
              MetadataOptions: { HttpTokens: 'required' },
              PrivateIpAddress: '10.0.12.5',
            },
          ],
        },
      ],
    });
    ec2.on(DescribeVolumesCommand).resolves({
      Volumes: [
        {
          VolumeId: 'vol-a',
          Encrypted: true,
          KmsKeyId: 'arn:aws:kms:ap-northeast-2:123456789012:key/k',
        },
        {
          VolumeId: 'vol-c',
          Encrypted: true,
          KmsKeyId: 'arn:aws:kms:ap-northeast-2:123456789012:key/k',
        },
      ],
    });
    const checks = await autoScalingGroupStep.verify(ctx());
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['app.asg.multi-az', 'pass'],
      ['app.asg.capacity', 'pass'],
      ['app.asg.targets-healthy', 'pass'],
      ['app.asg.elb-health-check', 'pass'],
      ['app.asg.cpu-policy', 'pass'],
      ['app.asg.scale-out-policy', 'pass'],
      ['app.asg.imdsv2', 'pass'],
      ['app.asg.ebs-encrypted', 'pass'],
      ['app.asg.no-public-ip', 'pass'],
    ]);
    expect(ec2.commandCalls(DescribeVolumesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'attachment.instance-id', Values: ['i-a', 'i-c'] }],
    });
    expect(checks.find((c) => c.id === 'app.asg.cpu-policy')?.criterion).toBe('auto-scaling');
  });

  it('verify reports one AZ, an unhealthy target, a wrong CPU target, IMDSv1, an unencrypted volume and a public IP', async () => {
    converged({
      Instances: [instance('i-a', 'ap-northeast-2a'), instance('i-b', 'ap-northeast-2a')],
    });
    asg.on(DescribePoliciesCommand).resolves({
      ScalingPolicies: [
        {
          ...POLICIES[0]!,
          TargetTrackingConfiguration: {
            ...POLICIES[0]!.TargetTrackingConfiguration!,
            TargetValue: 50,
          },
        },
      ],
    });
    elb.on(DescribeTargetHealthCommand).resolves(healthy('i-a'));
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-a', MetadataOptions: { HttpTokens: 'optional' } },
            {
              InstanceId: 'i-b',
              MetadataOptions: { HttpTokens: 'required' },
              PublicIpAddress: '3.35.1.2',
            },
          ],
        },
      ],
    });
    ec2.on(DescribeVolumesCommand).resolves({
      Volumes: [
        { VolumeId: 'vol-a', Encrypted: false },
        { VolumeId: 'vol-b', Encrypted: true },
      ],
    });
    const by = Object.fromEntries((await autoScalingGroupStep.verify(ctx())).map((c) => [c.id, c]));
    expect(by['app.asg.multi-az']).toMatchObject({
      status: 'fail',
      evidence: '2 InService instance(s) in ap-northeast-2a',
    });
    expect(by['app.asg.targets-healthy']?.status).toBe('fail');
    expect(by['app.asg.cpu-policy']).toMatchObject({ status: 'fail' });
    expect(by['app.asg.cpu-policy']?.evidence).toContain('target 50');
    expect(by['app.asg.scale-out-policy']?.status).toBe('fail');
    expect(by['app.asg.imdsv2']).toMatchObject({
      status: 'fail',
      evidence: 'IMDSv1 allowed on i-a',
    });
    expect(by['app.asg.ebs-encrypted']).toMatchObject({
      status: 'fail',
      evidence: 'unencrypted: vol-a',
    });
    expect(by['app.asg.no-public-ip']).toMatchObject({
      status: 'fail',
      evidence: 'public IPs on i-b=3.35.1.2',
    });
  });

  it('verify fails when the group does not exist', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    const checks = await autoScalingGroupStep.verify(ctx());
    expect(checks).toEqual([expect.objectContaining({ id: 'app.asg.exists', status: 'fail' })]);
  });

  it('teardown force-deletes the group, retrying while a scaling activity runs, and waits until it is gone', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group()] })
      .resolvesOnce({ AutoScalingGroups: [group({ Status: 'Delete in progress' })] })
      .resolvesOnce({ AutoScalingGroups: [group({ Status: 'Delete in progress', Instances: [] })] })
      .resolves({ AutoScalingGroups: [] });
    asg
      .on(DeleteAutoScalingGroupCommand)
      .rejectsOnce(awsError('ScalingActivityInProgressFault', 'scaling activity in progress'))
      .resolves({});
    const c = testContext({ stepId: autoScalingGroupStep.id });
    await autoScalingGroupStep.teardown(c);
    expect(asg.commandCalls(DeleteAutoScalingGroupCommand).map((x) => x.args[0].input)).toEqual([
      { AutoScalingGroupName: 'cloudmart-asg', ForceDelete: true },
      { AutoScalingGroupName: 'cloudmart-asg', ForceDelete: true },
    ]);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(4);
    expect(c.progressLog).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/to be deleted: deleting, 2 instance\(s\) terminating/),
      ]),
    );
  });

  it('teardown only waits when a delete is already in progress', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group({ Status: 'Delete in progress' })] })
      .resolves({ AutoScalingGroups: [] });
    await autoScalingGroupStep.teardown(testContext({ stepId: autoScalingGroupStep.id }));
    expect(asg.commandCalls(DeleteAutoScalingGroupCommand)).toHaveLength(0);
  });

  it('teardown succeeds when the group is already gone', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(
      autoScalingGroupStep.teardown(testContext({ stepId: autoScalingGroupStep.id })),
    ).resolves.toBeUndefined();
    expect(mutating(asg)).toEqual([]);
  });
});

describe('app.asg boot timing', () => {
  it('warms instances up for their estimated boot plus the health checks, and the default grace period leaves a margin over it', async () => {
    const { BOOT_ESTIMATE_SECONDS } =
      await import('../../../src/steps/phase1-foundation/user-data.js');
    const { HEALTH_CHECK } = await import('../../../src/steps/phase1-foundation/load-balancer.js');
    const ready = BOOT_ESTIMATE_SECONDS + HEALTH_CHECK.healthy * HEALTH_CHECK.intervalSeconds;
    expect(DEFAULT_INSTANCE_WARMUP).toBe(ready);
    // A replacement that boots a third slower than estimated still passes its checks in time.
    expect(testConfig().app.healthCheckGracePeriod).toBeGreaterThanOrEqual(ready * 1.4);
  });
});
