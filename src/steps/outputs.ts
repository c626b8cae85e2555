/**
 * The step ids and the outputs each step hands to the steps that need it. This file is the
 * contract between step modules: a step reads another's outputs only through these types
 * (`ctx.outputs<VpcOutputs>(STEP.vpc)`), so renaming a field breaks the type-check, not AWS.
 * Outputs are ids, ARNs and names: never a secret value.
 */
export const STEP = {
  // Phase 1: network, keys and identity (issue 3)
  kms: 'security.kms',
  vpc: 'network.vpc',
  subnets: 'network.subnets',
  igw: 'network.igw',
  nat: 'network.nat',
  routes: 'network.routes',
  securityGroups: 'network.security-groups',
  instanceRole: 'iam.instance-role',
  // Phase 1: data and edge (issue 5)
  certificates: 'edge.certificates',
  rds: 'data.rds',
  redis: 'data.redis',
  frontendBucket: 'edge.frontend-bucket',
  waf: 'edge.waf',
  cdn: 'edge.cdn',
  dns: 'edge.dns',
  // Phase 1: application tier (issue 4)
  albLogBucket: 'app.alb-log-bucket',
  alb: 'app.alb',
  appSettings: 'app.settings',
  launchTemplate: 'app.launch-template',
  asg: 'app.asg',
  // Phase 2: monitoring (issue 6)
  sns: 'monitoring.sns',
  logs: 'monitoring.logs',
  dashboard: 'monitoring.dashboard',
  alarms: 'monitoring.alarms',
  // Phase 3: backup (issue 7)
  rdsBackup: 'backup.rds',
  rdsSnapshot: 'backup.rds-snapshot',
  s3Lifecycle: 'backup.s3',
  backupPlan: 'backup.plan',
  // Phase 4: security (issue 7)
  encryption: 'security.encryption',
  auditBucket: 'security.audit-bucket',
  trail: 'security.cloudtrail',
  flowLogs: 'security.flow-logs',
  // Phase 5: validation (issue 9)
  load: 'validation.load',
  drills: 'validation.drills',
} as const;
export type StepId = (typeof STEP)[keyof typeof STEP];

export interface KmsOutputs {
  keyId: string;
  keyArn: string;
  aliasName: string;
  [k: string]: unknown;
}
export interface VpcOutputs {
  vpcId: string;
  cidr: string;
  [k: string]: unknown;
}
export interface SubnetsOutputs {
  azs: string[];
  /** The VPC the subnets are in (for steps that need the VPC id but not network.vpc). */
  vpcId?: string;
  /** Index i is in azs[i]. */
  publicSubnetIds: string[];
  appSubnetIds: string[];
  dataSubnetIds: string[];
  [k: string]: unknown;
}
export interface IgwOutputs {
  internetGatewayId: string;
  [k: string]: unknown;
}
export interface NatOutputs {
  /** Index i is in azs[i]. */
  natGatewayIds: string[];
  allocationIds: string[];
  publicIps: string[];
  [k: string]: unknown;
}
export interface RoutesOutputs {
  publicRouteTableId: string;
  /** Index i routes azs[i]'s private subnets through natGatewayIds[i]. */
  privateRouteTableIds: string[];
  [k: string]: unknown;
}
export interface SecurityGroupsOutputs {
  albSgId: string;
  appSgId: string;
  dbSgId: string;
  redisSgId: string;
  [k: string]: unknown;
}
export interface InstanceRoleOutputs {
  roleName: string;
  roleArn: string;
  instanceProfileName: string;
  instanceProfileArn: string;
  [k: string]: unknown;
}
export interface CertificatesOutputs {
  hostedZoneId: string;
  domain: string;
  /** Certificate in the stack's region, for the ALB. */
  regionalCertificateArn: string;
  /** Certificate in us-east-1, for CloudFront. */
  edgeCertificateArn: string;
  [k: string]: unknown;
}
export interface RdsOutputs {
  dbInstanceIdentifier: string;
  dbInstanceArn: string;
  endpoint: string;
  port: number;
  engine: string;
  dbName: string;
  /** The Secrets Manager secret RDS manages for the master password (ARN only). */
  masterUserSecretArn: string;
  dbSubnetGroupName: string;
  parameterGroupName: string;
  [k: string]: unknown;
}
export interface RedisOutputs {
  replicationGroupId: string;
  primaryEndpoint: string;
  readerEndpoint: string;
  port: number;
  /** The Secrets Manager secret holding the AUTH token (ARN only). */
  authSecretArn: string;
  cacheSubnetGroupName: string;
  /** Member cluster ids, for CloudWatch dimensions. */
  memberClusters: string[];
  [k: string]: unknown;
}
export interface BucketOutputs {
  bucketName: string;
  bucketArn: string;
  /** bucket.s3.<region>.amazonaws.com */
  regionalDomainName?: string;
  [k: string]: unknown;
}
export interface WafOutputs {
  webAclArn: string;
  webAclId: string;
  webAclName: string;
  [k: string]: unknown;
}
export interface CdnOutputs {
  distributionId: string;
  distributionArn: string;
  domainName: string;
  originAccessControlId: string;
  [k: string]: unknown;
}
export interface DnsOutputs {
  siteRecord: string;
  apiRecord: string;
  healthCheckId: string;
  [k: string]: unknown;
}
export interface AlbOutputs {
  loadBalancerArn: string;
  /** `app/<name>/<id>`: the CloudWatch LoadBalancer dimension. */
  loadBalancerDimension: string;
  dnsName: string;
  canonicalHostedZoneId: string;
  targetGroupArn: string;
  /** `targetgroup/<name>/<id>`: the CloudWatch TargetGroup dimension. */
  targetGroupDimension: string;
  listenerArns: string[];
  httpsEnabled: boolean;
  loadBalancerName?: string;
  targetGroupName?: string;
  [k: string]: unknown;
}
export interface AppSettingsOutputs {
  /** SSM parameter path prefix the instances read their settings from. */
  parameterPrefix: string;
  /** Full names of the parameters this step wrote. */
  parameterNames?: string[];
  [k: string]: unknown;
}
export interface LaunchTemplateOutputs {
  launchTemplateId: string;
  launchTemplateName: string;
  version: string;
  amiId: string;
  /** SSM parameter holding the CloudWatch agent config the instances load. */
  agentParameter?: string;
  /** Digest of the user data (changes exactly when the instance bootstrap does). */
  userDataDigest?: string;
  [k: string]: unknown;
}
export interface AsgOutputs {
  autoScalingGroupName: string;
  targetTrackingPolicyArn: string;
  /** Simple/step scaling policy the ALB-SlowResponse alarm triggers. */
  scaleOutPolicyArn: string;
  /** Launch template version the instances were last rolled to. */
  launchTemplateVersion?: string;
  /** The configured desired capacity last applied (target tracking owns it in between). */
  desiredCapacity?: number;
  [k: string]: unknown;
}
export interface SnsOutputs {
  topicArn: string;
  topicName?: string;
  /** us-east-1 topic for the Route 53 health-check alarm; only with a domain. */
  edgeTopicArn?: string;
  [k: string]: unknown;
}
export interface LogsOutputs {
  backendLogGroup: string;
  albLogGroup: string;
  rdsLogGroup: string;
  /** The groups RDS itself exports into (/aws/rds/instance/<db>/<log type>), pre-created with KMS. */
  rdsExportLogGroups?: string[];
  /** Namespace of the custom metrics the backend's metric filters publish. */
  metricNamespace?: string;
  [k: string]: unknown;
}
/** Phase 5 (issue 9): the seed's load test figures (ms, requests per second). */
export interface LoadOutputs {
  url: string;
  at: string;
  requests: number;
  concurrency: number;
  errors: number;
  non2xx: number;
  rps: number;
  average: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  durationSeconds: number;
  [k: string]: unknown;
}
/** Phase 5 (issue 9): the figures of the instance-loss and RDS failover drills. */
export interface DrillsOutputs {
  at: string;
  /** `results.drills` records: `{ at, rtoSeconds, …figures }` per drill. */
  instance: Record<string, unknown> & { at: string; rtoSeconds: number | null };
  /** Absent when the instance drill timed out before any RDS drill ran (`skipped` says so). */
  'rds-failover'?: Record<string, unknown> & { at: string; rtoSeconds: number | null };
  [k: string]: unknown;
}
