import { S3_BUCKET_ACTIONS } from '../aws/s3.js';
import { STACK_TAG } from '../aws/tags.js';
import type { Config } from '../config/schema.js';
import {
  withCondition,
  type Condition,
  type ExtraStatement,
  type OperatorScope,
  type TypeScope,
} from '../engine/policy.js';
import { LOCK_SUFFIX, type S3StateLocation } from '../state/s3.js';
import { names } from './names.js';
import { albName, targetGroupName } from './phase1-foundation/load-balancer.js';
import { asgName } from './phase1-foundation/auto-scaling-group.js';
import { aliasName } from './phase1-foundation/kms-key.js';
import { dbSettings } from './phase1-foundation/rds-database.js';
import { cacheSettings } from './phase1-foundation/redis-cache.js';
import { profileName, roleName, SSM_CORE_POLICY } from './phase1-foundation/instance-role.js';
import { alarmNames } from './phase2-monitoring/alarms.js';
import { edgeTopicName, topicName } from './phase2-monitoring/alerts-topic.js';
import { logGroupSpecs, rdsExportLogGroups } from './phase2-monitoring/log-groups.js';
import {
  backupNames,
  BACKUP_MANAGED_POLICIES,
  DEFAULT_BACKUP_ROLE,
} from './phase3-backup/backup-plan.js';
import { drKeyAlias } from './phase3-backup/rds-backups.js';
import { deliveryPolicy, flowLogsRoleName, logGroupArnOf } from './phase4-security/flow-logs.js';
import { instancePolicy } from './phase1-foundation/instance-role.js';
import type {
  PolicyDocument as RolePolicyDocument,
  PolicyStatement as RoleStatement,
} from '../aws/policy.js';
import { boundaryArnPattern, boundaryName } from './role-boundary.js';

/** The condition that a request carries or finds the stack tag. */
export const requestTagCondition = (stack: string) => ({
  StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: stack },
});
export const resourceTagCondition = (stack: string) => ({
  StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: stack },
});

/**
 * Bucket names are `<prefix>-<12-digit account>-<region>`: twelve `?` match the account and
 * nothing longer, so the stack `shop` never matches `shop-frontend-…`'s buckets of a stack
 * named `shop-frontend`.
 */
const bucketArns = (prefix: string): string[] => [`arn:aws:s3:::${prefix}-????????????-*`];

/** The services cloudmart lets create their service-linked roles on first use. */
export const SERVICE_LINKED_ROLES: Record<string, string> = {
  'autoscaling.amazonaws.com': 'AWSServiceRoleForAutoScaling',
  'elasticloadbalancing.amazonaws.com': 'AWSServiceRoleForElasticLoadBalancing',
  'rds.amazonaws.com': 'AWSServiceRoleForRDS',
  'elasticache.amazonaws.com': 'AWSServiceRoleForElastiCache',
};

/**
 * The remote state's calls (src/state/s3.ts, `init --remote-state`, `state push/pull`), on that
 * bucket and key only. Included only when the run uses the S3 backend: a team on local state
 * grants nothing on a bucket it does not use, and the bucket's name is only known from the
 * config (or --state).
 */
export function stateStatements(where: S3StateLocation): ExtraStatement[] {
  const bucket = `arn:aws:s3:::${where.bucket}`;
  const state = `${bucket}/${where.key}`;
  const lock = `${state}${LOCK_SUFFIX}`;
  return [
    {
      Sid: 'CloudmartStateObjects',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: [state, lock],
      what: `reading and writing (conditionally) only the state s3://${where.bucket}/${where.key} and its lock`,
    },
    {
      Sid: 'CloudmartStateUnlock',
      Action: ['s3:DeleteObject'],
      Resource: [lock],
      what: `deleting only the state's lock s3://${where.bucket}/${where.key}${LOCK_SUFFIX}`,
    },
    {
      // Also what makes a missing state object a 404 rather than a 403.
      Sid: 'CloudmartStateBucket',
      Action: [...STATE_BUCKET_SETUP_ACTIONS],
      Resource: [bucket],
      what: `creating and securing only the state bucket ${where.bucket} (init --remote-state); never deleting it`,
    },
  ];
}

/**
 * What `init --remote-state` calls on the state bucket: ensureSecureBucket and the policy write
 * (the shared bucket helpers' actions, without any delete and the reads it does not make).
 */
export const STATE_BUCKET_SETUP_ACTIONS = S3_BUCKET_ACTIONS.filter(
  (a) => !/^s3:(Delete|ListBucketVersions|GetBucketPolicyStatus)/.test(a),
);

/** Everything that names the stack's resources, from the same functions the steps name them with. */
export function operatorScope(config: Config, remote?: S3StateLocation): OperatorScope {
  const s = config.stack;
  const ec2 = (type: string, what: string): TypeScope => ({
    kind: 'tag',
    arns: [`arn:aws:ec2:*:*:${type}/*`],
    what,
  });
  const role = (name: string) => `arn:aws:iam::*:role/${name}`;
  const roles = [roleName(config), backupNames(config).role, flowLogsRoleName(config)];
  const managedPolicies = [
    `arn:aws:iam::aws:policy/${SSM_CORE_POLICY}`,
    ...BACKUP_MANAGED_POLICIES('aws'),
  ];
  const db = dbSettings(config);
  const cache = cacheSettings(config);
  // logGroupSpecs already holds RDS's export groups: each name once, in the policy and its summary.
  const logGroups = [
    ...new Set([
      ...logGroupSpecs(config).map((g) => g.name),
      ...rdsExportLogGroups(config),
      config.network.flowLogs.logGroup,
    ]),
  ];
  const alarms = Object.values(alarmNames(config));
  const buckets = [
    ...bucketArns(`${s}-frontend`),
    ...bucketArns(`${s}-alb-logs`),
    ...bucketArns(config.security.auditBucketPrefix),
  ];
  const ownEc2 = [
    'vpc',
    'subnet',
    'security-group',
    'route-table',
    'internet-gateway',
    'natgateway',
    'elastic-ip',
    'launch-template',
    'vpc-flow-log',
    'instance',
    'volume',
    'network-interface',
  ];
  const ec2Creates: Record<string, string[]> = {
    'ec2:CreateVpc': ['vpc'],
    'ec2:CreateSubnet': ['subnet'],
    'ec2:CreateSecurityGroup': ['security-group'],
    'ec2:CreateRouteTable': ['route-table'],
    'ec2:CreateInternetGateway': ['internet-gateway'],
    'ec2:CreateNatGateway': ['natgateway'],
    'ec2:AllocateAddress': ['elastic-ip'],
    'ec2:CreateLaunchTemplate': ['launch-template'],
    'ec2:CreateFlowLogs': ['vpc-flow-log'],
    'ec2:RunInstances': ['instance', 'volume', 'network-interface'],
  };
  const noCondition = (...types: string[]) =>
    Object.fromEntries(types.map((t) => [t, 'none' as const]));

  // Role writes only on a role that carries (or, for CreateRole and PutRolePermissionsBoundary,
  // is given) the boundary: the delegation pattern of "Permissions boundaries for IAM
  // entities" (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html,
  // "Delegating responsibility to others using permissions boundaries"); `iam:PermissionsBoundary`
  // is the condition key IAM offers on exactly these actions (Service Authorization Reference,
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
  const boundary = boundaryArnPattern(config);
  const withBoundary: Condition = { ArnLike: { 'iam:PermissionsBoundary': boundary } };
  const boundedRoleWrites = [
    'iam:CreateRole',
    'iam:PutRolePolicy',
    'iam:AttachRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:DetachRolePolicy',
    'iam:PutRolePermissionsBoundary',
  ];

  return {
    stack: s,
    tagKey: STACK_TAG,
    ...(remote ? { state: stateStatements(remote) } : {}),
    conditions: Object.fromEntries(boundedRoleWrites.map((a) => [a, withBoundary])),
    deny: [
      {
        // The Allows above are not enough: any other Allow the holder has would bypass their
        // condition. An explicit Deny wins over every Allow, and a *Not* operator holds when the
        // key is absent (a CreateRole without a boundary), so it denies that too ("IAM JSON
        // policy elements: Condition operators",
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
        Sid: 'CloudmartIamRoleWritesOnlyWithBoundary',
        Action: boundedRoleWrites,
        Resource: roles.map(role),
        Condition: { ArnNotLike: { 'iam:PermissionsBoundary': boundary } },
        what: `no role write on the stack's roles without the permissions boundary ${boundaryName(config)}, whatever else allows it`,
      },
      {
        // The boundary caps what a role may do, not who may assume it, and no condition key
        // ties UpdateAssumeRolePolicy to the boundary (Service Authorization Reference for
        // IAM): whoever may rewrite the trust policy may make the role trust themselves and
        // assume it. up never rewrites it when a boundary is configured (an administrator does).
        Sid: 'CloudmartIamNeverRewriteRoleTrust',
        Action: ['iam:UpdateAssumeRolePolicy'],
        Resource: roles.map(role),
        what: `never rewriting the trust policy of the stack's roles`,
      },
      {
        Sid: 'CloudmartIamNeverRemoveRoleBoundary',
        Action: ['iam:DeleteRolePermissionsBoundary'],
        Resource: roles.map(role),
        what: `never removing the permissions boundary from the stack's roles`,
      },
      {
        // Whoever can rewrite the boundary can lift it: only an administrator changes it.
        Sid: 'CloudmartIamNeverChangeBoundaryPolicy',
        Action: [
          'iam:CreatePolicy',
          'iam:CreatePolicyVersion',
          'iam:DeletePolicy',
          'iam:DeletePolicyVersion',
          'iam:SetDefaultPolicyVersion',
        ],
        Resource: [boundary],
        what: `never creating, changing or deleting the boundary policy ${boundaryName(config)}`,
      },
    ],
    types: {
      // EC2: ids are AWS's; every resource cloudmart makes carries the stack tag.
      'ec2:vpc': ec2('vpc', 'the VPC'),
      'ec2:subnet': ec2('subnet', 'subnets'),
      'ec2:security-group': ec2('security-group', 'security groups'),
      'ec2:security-group-rule': {
        kind: 'type',
        arns: ['arn:aws:ec2:*:*:security-group-rule/*'],
        what: "security-group rules (AWS's default egress rule carries no tag; every request also names its group, which must be the stack's)",
      },
      'ec2:route-table': ec2('route-table', 'route tables'),
      'ec2:internet-gateway': ec2('internet-gateway', 'the internet gateway'),
      'ec2:natgateway': ec2('natgateway', 'NAT gateways'),
      'ec2:elastic-ip': ec2('elastic-ip', 'Elastic IPs'),
      'ec2:launch-template': ec2('launch-template', 'the launch template'),
      'ec2:vpc-flow-log': ec2('vpc-flow-log', 'the flow log'),
      'ec2:instance': ec2('instance', 'instances'),
      'ec2:volume': ec2('volume', 'volumes'),
      'ec2:network-interface': ec2('network-interface', 'network interfaces'),
      'ec2:image': {
        kind: 'foreign',
        arns: ['arn:aws:ec2:*::image/*'],
        what: 'AMIs (Amazon Linux, read from the public SSM parameter)',
      },
      'ec2:prefix-list': {
        kind: 'foreign',
        arns: ['arn:aws:ec2:*:aws:prefix-list/*'],
        what: "AWS-managed prefix lists (CloudFront's origin-facing addresses)",
      },
      'autoscaling:autoScalingGroup': {
        kind: 'name',
        arns: [
          `arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${asgName(config)}`,
        ],
        what: `the Auto Scaling group ${asgName(config)}`,
      },
      'elasticloadbalancing:loadbalancer/app/': {
        kind: 'name',
        arns: [`arn:aws:elasticloadbalancing:*:*:loadbalancer/app/${albName(config)}/*`],
        what: `the load balancer ${albName(config)}`,
      },
      'elasticloadbalancing:loadbalancer': {
        kind: 'name',
        arns: [`arn:aws:elasticloadbalancing:*:*:loadbalancer/app/${albName(config)}/*`],
        what: `the load balancer ${albName(config)}`,
      },
      'elasticloadbalancing:listener/app': {
        kind: 'name',
        arns: [`arn:aws:elasticloadbalancing:*:*:listener/app/${albName(config)}/*`],
        what: `listeners of ${albName(config)}`,
      },
      'elasticloadbalancing:targetgroup': {
        kind: 'name',
        arns: [`arn:aws:elasticloadbalancing:*:*:targetgroup/${targetGroupName(config)}/*`],
        what: `the target group ${targetGroupName(config)}`,
      },
      'rds:db': {
        kind: 'name',
        arns: [`arn:aws:rds:*:*:db:${db.instanceId}`],
        what: `the database ${db.instanceId}`,
      },
      'rds:subgrp': {
        kind: 'name',
        arns: [`arn:aws:rds:*:*:subgrp:${db.subnetGroupName}`],
        what: `the subnet group ${db.subnetGroupName}`,
      },
      'rds:pg': {
        kind: 'name',
        arns: [`arn:aws:rds:*:*:pg:${db.parameterGroupName}`],
        what: `the parameter group ${db.parameterGroupName}`,
      },
      'rds:og': {
        kind: 'foreign',
        arns: ['arn:aws:rds:*:*:og:default:*'],
        what: "RDS's default option groups",
      },
      // By name, not tag: adopting looks the snapshot up before it exists, and a request on a
      // resource that does not exist finds no tag (AWS would answer AccessDenied, not NotFound).
      'rds:snapshot': {
        kind: 'name',
        arns: [`arn:aws:rds:*:*:snapshot:${config.database.snapshotName}`],
        what: `the snapshot ${config.database.snapshotName}`,
      },
      'rds:auto-backup': {
        kind: 'tag',
        arns: ['arn:aws:rds:*:*:auto-backup:*'],
        what: 'replicated automated backups',
      },
      'elasticache:replicationgroup': {
        kind: 'name',
        arns: [`arn:aws:elasticache:*:*:replicationgroup:${cache.replicationGroupId}`],
        what: `the replication group ${cache.replicationGroupId}`,
      },
      'elasticache:cluster': {
        kind: 'name',
        arns: [`arn:aws:elasticache:*:*:cluster:${cache.replicationGroupId}-*`],
        what: `the nodes of ${cache.replicationGroupId}`,
      },
      'elasticache:subnetgroup': {
        kind: 'name',
        arns: [`arn:aws:elasticache:*:*:subnetgroup:${cache.subnetGroupName}`],
        what: `the subnet group ${cache.subnetGroupName}`,
      },
      'elasticache:parametergroup': {
        kind: 'foreign',
        arns: ['arn:aws:elasticache:*:*:parametergroup:default.*'],
        what: "ElastiCache's default parameter groups",
      },
      'iam:role': {
        kind: 'name',
        arns: roles.map(role),
        what: `the roles ${roles.join(', ')} (created and their policies written only with the permissions boundary ${boundaryName(config)})`,
      },
      'iam:instance-profile': {
        kind: 'name',
        arns: [`arn:aws:iam::*:instance-profile/${profileName(config)}`],
        what: `the instance profile ${profileName(config)}`,
      },
      'iam:policy': {
        kind: 'foreign',
        // …and the roles' boundary, which up reads before anything bills and verify reads whole.
        arns: [...managedPolicies, boundary],
        what: `the AWS managed policies cloudmart attaches, and the boundary policy ${boundaryName(config)}`,
      },
      'kms:key': {
        kind: 'tag',
        arns: ['arn:aws:kms:*:*:key/*'],
        what: 'KMS keys',
      },
      'kms:alias': {
        kind: 'name',
        arns: [aliasName(config), drKeyAlias(s)].map((a) => `arn:aws:kms:*:*:${a}`),
        what: `the aliases ${aliasName(config)}, ${drKeyAlias(s)}`,
      },
      'logs:log-group': {
        kind: 'name',
        arns: logGroups.flatMap((g) => [
          `arn:aws:logs:*:*:log-group:${g}`,
          `arn:aws:logs:*:*:log-group:${g}:*`,
        ]),
        what: `the log groups ${logGroups.join(', ')}`,
      },
      's3:bucket': {
        kind: 'name',
        arns: buckets,
        what: 'the frontend, ALB-log and audit buckets',
      },
      's3:object': {
        kind: 'name',
        arns: buckets.map((b) => `${b}/*`),
        what: 'objects in those buckets',
      },
      'secretsmanager:Secret': {
        kind: 'name',
        arns: [`arn:aws:secretsmanager:*:*:secret:${names.secretPrefix(config)}/*`],
        what: `secrets under ${names.secretPrefix(config)}/`,
      },
      'ssm:parameter': {
        kind: 'name',
        arns: [`arn:aws:ssm:*:*:parameter${names.parameterPrefix(config)}/*`],
        what: `parameters under ${names.parameterPrefix(config)}/`,
      },
      'sns:topic': {
        kind: 'name',
        arns: [topicName(config), edgeTopicName(config)].map((t) => `arn:aws:sns:*:*:${t}`),
        what: `the topics ${topicName(config)}, ${edgeTopicName(config)}`,
      },
      'cloudwatch:alarm': {
        kind: 'name',
        arns: alarms.map((a) => `arn:aws:cloudwatch:*:*:alarm:${a}`),
        what: `the alarms ${alarms.join(', ')}`,
      },
      'cloudwatch:dashboard': {
        kind: 'name',
        arns: [`arn:aws:cloudwatch::*:dashboard/${config.monitoring.dashboardName}`],
        what: `the dashboard ${config.monitoring.dashboardName}`,
      },
      'cloudtrail:trail': {
        kind: 'name',
        arns: [`arn:aws:cloudtrail:*:*:trail/${config.security.trailName}`],
        what: `the trail ${config.security.trailName}`,
      },
      'backup:backupVault': {
        kind: 'name',
        arns: [`arn:aws:backup:*:*:backup-vault:${backupNames(config).vault}`],
        what: `the vault ${backupNames(config).vault}`,
      },
      'backup:backupPlan': {
        kind: 'tag',
        arns: ['arn:aws:backup:*:*:backup-plan:*'],
        what: 'backup plans',
      },
      'backup:recoveryPoint': {
        kind: 'type',
        arns: ['arn:aws:ec2:*::snapshot/*', 'arn:aws:rds:*:*:snapshot:awsbackup:*'],
        what: 'recovery points (EBS and RDS snapshots AWS Backup made; named by AWS, not tagged by cloudmart)',
      },
      'cloudfront:distribution': {
        kind: 'tag',
        arns: ['arn:aws:cloudfront::*:distribution/*'],
        what: 'distributions',
      },
      'cloudfront:origin-access-control': {
        kind: 'type',
        arns: ['arn:aws:cloudfront::*:origin-access-control/*'],
        what: 'origin access controls (CloudFront takes no tags on them)',
      },
      'wafv2:webacl': {
        kind: 'name',
        arns: [`arn:aws:wafv2:*:*:global/webacl/${names.of(config, 'web-acl')}/*`],
        what: `the web ACL ${names.of(config, 'web-acl')}`,
      },
      'wafv2:managedruleset': {
        kind: 'foreign',
        arns: ['arn:aws:wafv2:*:*:global/managedruleset/*/*'],
        what: 'AWS-managed rule groups',
      },
      'acm:certificate': {
        kind: 'tag',
        arns: ['arn:aws:acm:*:*:certificate/*'],
        what: 'certificates',
      },
      'route53:hostedzone': {
        kind: 'type',
        arns: ['arn:aws:route53:::hostedzone/*'],
        what: "hosted zones (the domain's zone may be the user's own; Route 53 offers no tag condition)",
      },
      'route53:healthcheck': {
        kind: 'type',
        arns: ['arn:aws:route53:::healthcheck/*'],
        what: 'health checks (Route 53 offers no tag condition)',
      },
      'route53:change': {
        kind: 'type',
        arns: ['arn:aws:route53:::change/*'],
        what: 'change status',
      },
    },
    creates: {
      ...ec2Creates,
      'autoscaling:CreateAutoScalingGroup': ['autoScalingGroup'],
      'elasticloadbalancing:CreateLoadBalancer': ['loadbalancer/app/'],
      'elasticloadbalancing:CreateTargetGroup': ['targetgroup'],
      'rds:CreateDBInstance': ['db'],
      'rds:CreateDBSubnetGroup': ['subgrp'],
      'rds:CreateDBParameterGroup': ['pg'],
      'rds:CreateDBSnapshot': ['snapshot'],
      'rds:StartDBInstanceAutomatedBackupsReplication': ['auto-backup'],
      'elasticache:CreateCacheSubnetGroup': ['subnetgroup'],
      'elasticache:CreateReplicationGroup': ['replicationgroup', 'cluster'],
      'iam:CreateRole': ['role'],
      'iam:CreateInstanceProfile': ['instance-profile'],
      'kms:CreateKey': ['*'],
      'logs:CreateLogGroup': ['log-group'],
      's3:CreateBucket': ['bucket'],
      'secretsmanager:CreateSecret': ['Secret'],
      'sns:CreateTopic': ['topic'],
      'cloudwatch:PutMetricAlarm': ['alarm'],
      'cloudtrail:CreateTrail': ['trail'],
      'backup:CreateBackupVault': ['backupVault'],
      'backup:CreateBackupPlan': ['backupPlan'],
      'cloudfront:CreateDistribution': ['*'],
      'wafv2:CreateWebACL': ['webacl'],
      'acm:RequestCertificate': ['*'],
      'ssm:PutParameter': ['parameter'],
    },
    overrides: {
      // A snapshot is deleted only when it carries the stack tag: a student's own snapshot of
      // the same name stays.
      'rds:DeleteDBSnapshot': {
        snapshot: {
          kind: 'tag',
          arns: [`arn:aws:rds:*:*:snapshot:${config.database.snapshotName}`],
          what: `the snapshot ${config.database.snapshotName}`,
        },
      },
      // The AMI id comes from AWS's public parameter.
      'ssm:GetParameter': {
        parameter: {
          kind: 'name',
          arns: [
            `arn:aws:ssm:*:*:parameter${names.parameterPrefix(config)}/*`,
            'arn:aws:ssm:*::parameter/aws/service/ami-amazon-linux-latest/*',
          ],
          what: `parameters under ${names.parameterPrefix(config)}/ and the public Amazon Linux AMI parameters`,
        },
      },
      // ELB authorizes AddTags on whatever is tagged: the load balancer and the target group.
      'elasticloadbalancing:AddTags': {
        loadbalancer: {
          kind: 'name',
          arns: [
            `arn:aws:elasticloadbalancing:*:*:loadbalancer/app/${albName(config)}/*`,
            `arn:aws:elasticloadbalancing:*:*:targetgroup/${targetGroupName(config)}/*`,
          ],
          what: `the load balancer ${albName(config)} and target group ${targetGroupName(config)}`,
        },
      },
      // Auto Scaling launches the instances; the operator's RunInstances is checked when the group
      // is created from the launch template, before any instance exists. Its subnets, security
      // groups and template must still be the stack's.
      'ec2:RunInstances': noCondition('instance', 'volume', 'network-interface'),
      'iam:GetRole': {
        role: {
          kind: 'foreign',
          arns: [
            ...roles.map(role),
            // IAM authorizes GetRole of a role that does not exist yet by the bare name (no
            // path): both forms, or a fresh account gets AccessDenied instead of NoSuchEntity.
            ...Object.entries(SERVICE_LINKED_ROLES).flatMap(([svc, name]) => [
              role(`aws-service-role/${svc}/${name}`),
              role(name),
            ]),
            role(`service-role/${DEFAULT_BACKUP_ROLE}`),
            role(DEFAULT_BACKUP_ROLE),
          ],
          what: `the stack's roles, the service-linked roles and ${DEFAULT_BACKUP_ROLE} cloudmart checks for`,
        },
      },
    },
    extra: [
      ...passRole(config),
      {
        Sid: 'CloudmartIamServiceLinkedRoles',
        Action: ['iam:CreateServiceLinkedRole'],
        Resource: Object.entries(SERVICE_LINKED_ROLES).map(([svc, name]) =>
          role(`aws-service-role/${svc}/${name}`),
        ),
        Condition: {
          StringEquals: { 'iam:AWSServiceName': Object.keys(SERVICE_LINKED_ROLES) },
        },
        what: `creating the service-linked roles of ${Object.keys(SERVICE_LINKED_ROLES).join(', ')} on their first use in the account`,
      },
      {
        Sid: 'CloudmartIamAttachManagedPolicies',
        Action: ['iam:AttachRolePolicy'],
        Resource: roles.map(role),
        Condition: withCondition({ ArnEquals: { 'iam:PolicyARN': managedPolicies } }, withBoundary),
        what: `attaching only ${managedPolicies.map((p) => p.split('/').at(-1)).join(', ')} to the stack's roles`,
      },
      {
        // Services (RDS, ElastiCache, AWS Backup, EBS) create grants on the stack's keys for the
        // resources they encrypt, with the operator's permissions; nobody else gets one.
        Sid: 'CloudmartKmsGrantsForAwsResources',
        Action: ['kms:CreateGrant'],
        Resource: ['arn:aws:kms:*:*:key/*'],
        Condition: {
          ...resourceTagCondition(s),
          Bool: { 'kms:GrantIsForAWSResource': true },
        },
        what: 'grants on the stack key, only for the AWS services that encrypt its resources',
      },
      {
        // Tags on an EC2 create (TagSpecifications) are authorized as ec2:CreateTags of the new
        // resource: only from those creates, and only with the stack tag.
        // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html
        Sid: 'CloudmartEc2TagOnCreate',
        Action: ['ec2:CreateTags'],
        Resource: ownEc2.map((t) => `arn:aws:ec2:*:*:${t}/*`),
        Condition: {
          StringEquals: {
            'ec2:CreateAction': Object.keys(ec2Creates).map((a) => a.split(':')[1]!),
            [`aws:RequestTag/${STACK_TAG}`]: s,
          },
        },
        what: 'tagging EC2 resources only as they are created, with the stack tag',
      },
    ],
  };
}

/** iam:PassRole: each stack role only to the one service it is for. */
function passRole(config: Config): OperatorScope['extra'] {
  const to: Array<[string, string, string]> = [
    ['Ec2', roleName(config), 'ec2.amazonaws.com'],
    ['Backup', backupNames(config).role, 'backup.amazonaws.com'],
    ['FlowLogs', flowLogsRoleName(config), 'vpc-flow-logs.amazonaws.com'],
  ];
  return to.map(([sid, name, service]) => ({
    Sid: `CloudmartIamPassRoleTo${sid}`,
    Action: ['iam:PassRole'],
    Resource: [`arn:aws:iam::*:role/${name}`],
    Condition: { StringEquals: { 'iam:PassedToService': service } },
    what: `passing ${name} to ${service} only`,
  }));
}

/**
 * What AmazonSSMManagedInstanceCore grants the instances besides parameter reads (AWS managed
 * policy reference, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html):
 * the SSM agent's own calls and Session Manager's channels. Parameter reads stay limited to the
 * stack's prefix by the inline policy's statements, which the boundary repeats.
 */
export const SSM_AGENT_ACTIONS = [
  'ssm:DescribeAssociation',
  'ssm:GetDeployablePatchSnapshotForInstance',
  'ssm:GetDocument',
  'ssm:DescribeDocument',
  'ssm:GetManifest',
  'ssm:ListAssociations',
  'ssm:ListInstanceAssociations',
  'ssm:PutInventory',
  'ssm:PutComplianceItems',
  'ssm:PutConfigurePackageResult',
  'ssm:UpdateAssociationStatus',
  'ssm:UpdateInstanceAssociationStatus',
  'ssm:UpdateInstanceInformation',
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
  'ec2messages:AcknowledgeMessage',
  'ec2messages:DeleteMessage',
  'ec2messages:FailMessage',
  'ec2messages:GetEndpoint',
  'ec2messages:GetMessages',
  'ec2messages:SendReply',
];

/**
 * The permissions boundary of the stack's roles (`cloudmart policy --boundary`): the union of
 * what each role is given, each part valid only for its own role (`aws:PrincipalArn`), so a
 * role given `Action: "*"` still gets no more than its part, and no role gets another's.
 * - the instance role: its inline policy as written (the stack's log group, metric namespaces,
 *   parameters, secrets, its key through SSM and Secrets Manager only), and the SSM agent's
 *   calls of AmazonSSMManagedInstanceCore;
 * - the flow-logs role: its delivery policy (the flow-log group only);
 * - the AWS Backup role: what AWS Backup's managed policies do for what the stack's selection
 *   backs up, the stack's EBS volumes: snapshot and restore them, its vault, its key (for AWS
 *   resources). The managed policies allow far more (every service AWS Backup supports): the
 *   boundary keeps the stack's share.
 * No IAM, STS or Organizations action, and no `*` action, for any role.
 */
export function boundaryPolicy(config: Config): RolePolicyDocument {
  const s = config.stack;
  const region = config.region;
  const principal = (name: string): RoleStatement['Condition'] => ({
    ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::*:role/${name}` },
  });
  const forRole = (name: string, sid: string, statements: RoleStatement[]): RoleStatement[] =>
    compact(
      statements.map((st) => ({
        ...st,
        Condition: withCondition(anyAccount(st.Condition), principal(name)),
      })),
    ).map((st, i) => ({ ...st, Sid: `${sid}${i + 1}` }));
  const stackTag = { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: s } };

  // The instance role's inline policy in any account; its key is the one tagged with the stack.
  // Its Deny is left out: the boundary allows no parameter outside the stack's prefix anyway,
  // and AWS's public ones (/aws/service/*, which AmazonSSMManagedInstanceCore lets the
  // instances read) are added to the parameters it allows.
  const instance = instancePolicy(config, '*', 'aws', `arn:aws:kms:${region}:*:key/*`)
    .Statement.filter((st) => st.Effect === 'Allow')
    .map((st) => {
      const actions = asArray(st.Action);
      if (actions.includes('kms:Decrypt'))
        return { ...st, Condition: withCondition(st.Condition, stackTag) };
      if (actions.includes('ssm:GetParameter'))
        return {
          ...st,
          Resource: [...asArray(st.Resource), 'arn:aws:ssm:*::parameter/aws/service/*'],
        };
      // The CloudWatch agent's describes and the SSM agent's calls: both on "*".
      if (actions.includes('ec2:DescribeTags'))
        return { ...st, Sid: 'AgentsOnAnyResource', Action: [...actions, ...SSM_AGENT_ACTIONS] };
      return st;
    });
  const flowLogs = deliveryPolicy(
    logGroupArnOf('aws', region, '*', config.network.flowLogs.logGroup),
  ).Statement as RoleStatement[];
  const vault = `arn:aws:backup:*:*:backup-vault:${backupNames(config).vault}`;
  const snapshots = 'arn:aws:ec2:*::snapshot/*';
  const volumes = 'arn:aws:ec2:*:*:volume/*';
  const backup: RoleStatement[] = [
    {
      // The volumes the selection picks carry the stack tag (Backup=true AND cloudmart:stack).
      Sid: 'BackupSnapshotStackVolumes',
      Effect: 'Allow',
      Action: ['ec2:CreateSnapshot'],
      Resource: volumes,
      Condition: stackTag,
    },
    {
      Sid: 'BackupSnapshots',
      Effect: 'Allow',
      Action: ['ec2:CreateSnapshot', 'ec2:CopySnapshot', 'ec2:CreateTags'],
      Resource: snapshots,
    },
    {
      // Only snapshots AWS Backup made (it tags them aws:backup:source-resource), as in
      // AWSBackupServiceRolePolicyForBackup.
      Sid: 'BackupDeletesItsSnapshots',
      Effect: 'Allow',
      Action: ['ec2:DeleteSnapshot'],
      Resource: snapshots,
      Condition: { Null: { 'aws:ResourceTag/aws:backup:source-resource': 'false' } },
    },
    {
      // A restore makes a volume from a recovery point.
      Sid: 'BackupRestoresVolumes',
      Effect: 'Allow',
      Action: ['ec2:CreateVolume', 'ec2:CreateTags'],
      Resource: [volumes, snapshots],
    },
    {
      Sid: 'BackupDescribes',
      Effect: 'Allow',
      Action: [
        'ec2:DescribeSnapshots',
        'ec2:DescribeVolumes',
        'ec2:DescribeTags',
        'ec2:DescribeInstances',
        'tag:GetResources',
      ],
      Resource: '*',
    },
    {
      Sid: 'BackupStackVault',
      Effect: 'Allow',
      Action: ['backup:DescribeBackupVault', 'backup:CopyIntoBackupVault'],
      Resource: vault,
    },
    {
      // The stack key encrypts the volumes and the vault.
      Sid: 'BackupStackKey',
      Effect: 'Allow',
      Action: [
        'kms:DescribeKey',
        'kms:Decrypt',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
      ],
      Resource: `arn:aws:kms:*:*:key/*`,
      Condition: stackTag,
    },
    {
      Sid: 'BackupStackKeyGrants',
      Effect: 'Allow',
      Action: ['kms:CreateGrant'],
      Resource: `arn:aws:kms:*:*:key/*`,
      Condition: { ...stackTag, Bool: { 'kms:GrantIsForAWSResource': true } },
    },
  ];
  return {
    Version: '2012-10-17',
    Statement: [
      ...forRole(roleName(config), 'Instances', instance),
      ...forRole(flowLogsRoleName(config), 'FlowLogs', flowLogs),
      ...forRole(backupNames(config).role, 'Backup', backup),
    ],
  };
}

const asArray = (x: string | string[] | undefined): string[] =>
  x === undefined ? [] : Array.isArray(x) ? x : [x];

/**
 * Fewer statements for the 6,144 characters of one managed policy: statements with the same
 * effect and condition become one when they share no service and are both on "*" or both on
 * named ARNs, so no action meets a resource it was not given (an ARN names one service's
 * resource; "*" would name all of them).
 */
function compact(statements: RoleStatement[]): RoleStatement[] {
  const services = (st: RoleStatement) => new Set(asArray(st.Action).map((a) => a.split(':')[0]));
  const kind = (st: RoleStatement) => {
    const r = asArray(st.Resource);
    if (st.NotResource) return 'other';
    if (r.length === 1 && r[0] === '*') return 'any';
    return r.includes('*') ? 'other' : 'named';
  };
  const out: RoleStatement[] = [];
  for (const st of statements) {
    const into = out.find(
      (o) =>
        o.Effect === st.Effect &&
        kind(o) !== 'other' &&
        kind(o) === kind(st) &&
        JSON.stringify(o.Condition) === JSON.stringify(st.Condition) &&
        ![...services(st)].some((x) => services(o).has(x)),
    );
    if (!into) {
      out.push({ ...st, Action: asArray(st.Action), Resource: asArray(st.Resource) });
      continue;
    }
    into.Action = [...asArray(into.Action), ...asArray(st.Action)];
    into.Resource = [...new Set([...asArray(into.Resource), ...asArray(st.Resource)])];
  }
  return out;
}

/**
 * The roles' own conditions name their account; the boundary names any account (`*`), which
 * only a Like operator reads as a wildcard.
 */
function anyAccount(condition: RoleStatement['Condition']): RoleStatement['Condition'] {
  if (!condition?.StringEquals) return condition;
  const like: Record<string, string | string[] | boolean> = {};
  const equals: Record<string, string | string[] | boolean> = {};
  for (const [k, v] of Object.entries(condition.StringEquals))
    (asArray(typeof v === 'boolean' ? undefined : v).some((x) => x.includes(':*:'))
      ? like
      : equals)[k] = v;
  if (Object.keys(like).length === 0) return condition;
  const { StringEquals: _e, ...rest } = condition;
  return withCondition(
    { ...rest, ...(Object.keys(equals).length > 0 ? { StringEquals: equals } : {}) },
    { StringLike: like },
  );
}
