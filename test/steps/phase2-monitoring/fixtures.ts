import type { AutoScalingGroup, Instance, LifecycleState } from '@aws-sdk/client-auto-scaling';
import type {
  AlbOutputs,
  AsgOutputs,
  DnsOutputs,
  KmsOutputs,
  RdsOutputs,
  RedisOutputs,
  SnsOutputs,
} from '../../../src/steps/outputs.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT } from '../../helpers/context.js';

/** Phase 1 outputs as the state file would hold them for the default stack. */
export const KMS: KmsOutputs = {
  keyId: '1111aaaa-2222-bbbb-3333-cccc4444dddd',
  keyArn: `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd`,
  aliasName: 'alias/cloudmart',
};
export const TOPIC_ARN = `arn:aws:sns:ap-northeast-2:${ACCOUNT}:cloudmart-alerts`;
export const EDGE_TOPIC_ARN = `arn:aws:sns:us-east-1:${ACCOUNT}:cloudmart-alerts-edge`;
export const SNS: SnsOutputs = { topicArn: TOPIC_ARN, topicName: 'cloudmart-alerts' };
export const ALB: AlbOutputs = {
  loadBalancerArn: `arn:aws:elasticloadbalancing:ap-northeast-2:${ACCOUNT}:loadbalancer/app/cloudmart-alb/50dc6c495c0c9188`,
  loadBalancerDimension: 'app/cloudmart-alb/50dc6c495c0c9188',
  dnsName: 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com',
  canonicalHostedZoneId: 'ZWKZPGTI48KDX',
  targetGroupArn: `arn:aws:elasticloadbalancing:ap-northeast-2:${ACCOUNT}:targetgroup/cloudmart-tg/73e2d6bc24d8a067`,
  targetGroupDimension: 'targetgroup/cloudmart-tg/73e2d6bc24d8a067',
  listenerArns: [],
  httpsEnabled: false,
};
export const SCALE_OUT_ARN = `arn:aws:autoscaling:ap-northeast-2:${ACCOUNT}:scalingPolicy:0b1c:autoScalingGroupName/cloudmart-asg:policyName/cloudmart-scale-out`;
export const ASG: AsgOutputs = {
  autoScalingGroupName: 'cloudmart-asg',
  targetTrackingPolicyArn: `arn:aws:autoscaling:ap-northeast-2:${ACCOUNT}:scalingPolicy:0a1b:autoScalingGroupName/cloudmart-asg:policyName/cloudmart-cpu70`,
  scaleOutPolicyArn: SCALE_OUT_ARN,
};
export const RDS: RdsOutputs = {
  dbInstanceIdentifier: 'cloudmart-db',
  dbInstanceArn: `arn:aws:rds:ap-northeast-2:${ACCOUNT}:db:cloudmart-db`,
  endpoint: 'cloudmart-db.abc.ap-northeast-2.rds.amazonaws.com',
  port: 5432,
  engine: 'postgres',
  dbName: 'cloudmart',
  masterUserSecretArn: `arn:aws:secretsmanager:ap-northeast-2:${ACCOUNT}:secret:rds!db-1`,
  dbSubnetGroupName: 'cloudmart-db-subnets',
  parameterGroupName: 'cloudmart-db-params',
};
export const REDIS: RedisOutputs = {
  replicationGroupId: 'cloudmart-redis',
  primaryEndpoint: 'master.cloudmart-redis.abc.apn2.cache.amazonaws.com',
  readerEndpoint: 'replica.cloudmart-redis.abc.apn2.cache.amazonaws.com',
  port: 6379,
  authSecretArn: `arn:aws:secretsmanager:ap-northeast-2:${ACCOUNT}:secret:cloudmart/cloudmart/redis-auth`,
  cacheSubnetGroupName: 'cloudmart-redis-subnets',
  memberClusters: ['cloudmart-redis-001', 'cloudmart-redis-002'],
};
export const DNS: DnsOutputs = {
  siteRecord: 'shop.example.com',
  apiRecord: 'api.shop.example.com',
  healthCheckId: 'abcdef01-2345-6789-abcd-ef0123456789',
};

export const PHASE1 = {
  [STEP.kms]: KMS,
  [STEP.alb]: ALB,
  [STEP.asg]: ASG,
  [STEP.rds]: RDS,
  [STEP.redis]: REDIS,
  [STEP.sns]: SNS,
};

/** The region an aws-sdk-client-mock call was sent to (the client instance's config). */
export async function regionOf(call: { thisValue: unknown }): Promise<string> {
  const client = call.thisValue as { config: { region: () => Promise<string> } };
  return client.config.region();
}

/** An Auto Scaling group instance as DescribeAutoScalingGroups returns it. */
export function asgInstance(
  InstanceId: string,
  LifecycleState: LifecycleState = 'InService',
): Instance {
  return {
    InstanceId,
    LifecycleState,
    AvailabilityZone: 'ap-northeast-2a',
    HealthStatus: 'Healthy',
    ProtectedFromScaleIn: false,
  };
}

/** A DescribeAutoScalingGroups response for cloudmart-asg with these instances. */
export function asgResponse(instances: Array<string | Instance>): {
  AutoScalingGroups: AutoScalingGroup[];
} {
  return {
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'cloudmart-asg',
        MinSize: 2,
        MaxSize: 4,
        DesiredCapacity: 2,
        DefaultCooldown: 300,
        AvailabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
        HealthCheckType: 'ELB',
        CreatedTime: new Date(0),
        Instances: instances.map((i) => (typeof i === 'string' ? asgInstance(i) : i)),
      },
    ],
  };
}
