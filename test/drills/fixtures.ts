import type { InstanceDrillResult } from '../../src/drills/instance-drill.js';
import { DescribeAutoScalingGroupsCommand, type Instance } from '@aws-sdk/client-auto-scaling';
import {
  DescribeTargetHealthCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsStub } from 'aws-sdk-client-mock';
import type { DrillContext, MarkerRequest, Probe, ProbeOutcome } from '../../src/drills/context.js';
import type { Outputs } from '../../src/engine/step.js';
import { TestAws, testConfig } from '../helpers/context.js';

export const START = 1_700_000_000_000;
export const TG_ARN =
  'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/cloudmart-tg/abc';

export const OUTPUTS: Record<string, Outputs> = {
  'app.alb': {
    loadBalancerArn:
      'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/cloudmart-alb/1',
    loadBalancerDimension: 'app/cloudmart-alb/1',
    dnsName: 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com',
    canonicalHostedZoneId: 'ZWKZPGTI48KDX',
    targetGroupArn: TG_ARN,
    targetGroupName: 'cloudmart-tg',
    targetGroupDimension: 'targetgroup/cloudmart-tg/abc',
    listenerArns: [],
    httpsEnabled: false,
  },
  'app.asg': {
    autoScalingGroupName: 'cloudmart-asg',
    targetTrackingPolicyArn: 'arn:policy/cpu',
    scaleOutPolicyArn: 'arn:policy/out',
  },
  'data.rds': {
    dbInstanceIdentifier: 'cloudmart-db',
    dbInstanceArn: 'arn:aws:rds:ap-northeast-2:123456789012:db:cloudmart-db',
    endpoint: 'cloudmart-db.x.ap-northeast-2.rds.amazonaws.com',
    port: 5432,
    engine: 'postgres',
    dbName: 'cloudmart',
    masterUserSecretArn: 'arn:secret',
    dbSubnetGroupName: 'cloudmart-db-subnets',
    parameterGroupName: 'cloudmart-db-params',
  },
};

export const BASE_URL = 'http://cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com';

export interface FakeDrillContext extends DrillContext {
  readonly progressLog: string[];
  /** ms since the start of the test clock. */
  elapsed(): number;
  /** Every probe sent: url and the test clock when it was sent. */
  readonly probes: Array<{ url: string; at: number }>;
}

/**
 * A drill context on a fake clock: sleep advances the clock at once; the probe answers from
 * `answer(elapsedMs)` (default: always 200).
 */
export function drillContext(
  options: {
    outputs?: Record<string, Outputs>;
    answer?: (elapsedMs: number) => ProbeOutcome;
    signal?: AbortSignal;
    /** Called on every sleep, with the clock after it (to abort at a given time, …). */
    onTick?: (elapsedMs: number) => void;
    /** The app's marker route (default: a database that keeps every marker written). */
    marker?: MarkerRequest;
  } = {},
): FakeDrillContext {
  const config = testConfig();
  const outputs = options.outputs ?? OUTPUTS;
  let clock = START;
  const progressLog: string[] = [];
  const probes: Array<{ url: string; at: number }> = [];
  const answer = options.answer ?? (() => ({ ok: true, status: 200, ms: 5 }));
  const probe: Probe = (url) => {
    probes.push({ url, at: clock - START });
    return Promise.resolve(answer(clock - START));
  };
  const rows = new Set<string>();
  const marker: MarkerRequest =
    options.marker ??
    ((method, url) => {
      if (method === 'PUT') rows.add(url);
      return Promise.resolve({ status: method === 'PUT' ? 201 : rows.has(url) ? 200 : 404 });
    });
  return {
    config,
    marker,
    aws: new TestAws(config.region),
    outputs: <T extends Outputs>(id: string) => outputs[id] as T | undefined,
    progress: (m) => progressLog.push(m),
    signal: options.signal ?? new AbortController().signal,
    sleep: (ms) => {
      clock += ms;
      options.onTick?.(clock - START);
      return Promise.resolve();
    },
    now: () => clock,
    probe,
    progressLog,
    probes,
    elapsed: () => clock - START,
  };
}

export const instance = (
  id: string,
  az: string,
  lifecycle = 'InService',
  health = 'Healthy',
): Instance => ({
  InstanceId: id,
  AvailabilityZone: az,
  LifecycleState: lifecycle as Instance['LifecycleState'],
  HealthStatus: health,
  LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' },
  ProtectedFromScaleIn: false,
});

export const group = (instances: Instance[], extra: Record<string, unknown> = {}) => ({
  AutoScalingGroups: [
    {
      AutoScalingGroupName: 'cloudmart-asg',
      MinSize: 2,
      MaxSize: 4,
      DesiredCapacity: 2,
      DefaultCooldown: 300,
      AvailabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
      HealthCheckType: 'ELB',
      CreatedTime: new Date(START),
      Instances: instances,
      ...extra,
    },
  ],
});

export const target = (id: string, state: string, reason?: string): TargetHealthDescription => ({
  Target: { Id: id, Port: 8080 },
  TargetHealth: {
    State: state as NonNullable<TargetHealthDescription['TargetHealth']>['State'],
    ...(reason ? { Reason: reason as 'Target.Timeout' } : {}),
  },
});

export const targets = (...list: TargetHealthDescription[]) => ({
  TargetHealthDescriptions: list,
});

export const db = (extra: Record<string, unknown> = {}) => ({
  DBInstances: [
    {
      DBInstanceIdentifier: 'cloudmart-db',
      DBInstanceStatus: 'available',
      MultiAZ: true,
      AvailabilityZone: 'ap-northeast-2a',
      SecondaryAvailabilityZone: 'ap-northeast-2c',
      ...extra,
    },
  ],
});

/** The healthy two-AZ stack the drills start from. */
export const HEALTHY = {
  group: group([instance('i-a', 'ap-northeast-2a'), instance('i-b', 'ap-northeast-2c')]),
  targets: targets(target('i-a', 'healthy'), target('i-b', 'healthy')),
  db: db(),
};

/**
 * The instance drill's world once i-a is terminated: healthy at the first look, then i-a is
 * out (unused) and its replacement i-c never turns healthy, so the drill times out.
 */
export function replacementNeverHealthy(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  asg: AwsStub<any, any, any>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  elb: AwsStub<any, any, any>,
): void {
  asg
    .on(DescribeAutoScalingGroupsCommand)
    .resolvesOnce(HEALTHY.group)
    .resolves(group([instance('i-b', 'ap-northeast-2c'), instance('i-c', 'ap-northeast-2a')]));
  elb
    .on(DescribeTargetHealthCommand)
    .resolvesOnce(HEALTHY.targets)
    .resolves(
      targets(
        target('i-a', 'unused', 'Target.InvalidState'),
        target('i-b', 'healthy'),
        target('i-c', 'unhealthy', 'Target.ResponseCodeMismatch'),
      ),
    );
}

/** A finished instance drill: the replacement healthy after 170 s, no failed request. */
export const instanceDrillResult = (at: string): InstanceDrillResult => ({
  drill: 'instance',
  at,
  dryRun: false,
  plan: [],
  autoScalingGroupName: 'cloudmart-asg',
  instanceId: 'i-a',
  availabilityZone: 'ap-northeast-2a',
  terminationState: 'shutting-down',
  replacementId: 'i-c',
  replacementAvailabilityZone: 'ap-northeast-2a',
  unhealthyAfterSeconds: 20,
  takenOutAs: 'unhealthy',
  targetStates: [],
  replacementInServiceAfterSeconds: 120,
  replacementHealthyAfterSeconds: 170,
  rtoSeconds: 170,
  failedRequests: 0,
  probe: null,
  timedOut: false,
  timedOutAfterSeconds: null,
});
