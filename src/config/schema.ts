import { z } from 'zod';
import {
  describeLimit,
  RESERVED_BUCKET_PREFIXES,
  RESERVED_TAG_KEYS,
  stackLimit,
  TAG_CHARACTERS,
  TAG_KEY_MAX,
  TAG_VALUE_MAX,
} from './limits.js';

/**
 * The single source of cloudmart's config types. Every default is the seed's value
 * (../shared/DESIGN.md §1), so a config with only the required fields builds the stack
 * the challenge describes. The name settings' defaults here are the seed's names, those of the
 * default stack `cloudmart`; for any other stack the loader derives them from the stack name
 * first (src/config/names.ts), so they are only the fallback of a direct parse.
 */

/** Lower-case letters and digits, single hyphens inside: "shop", "shop-prod-2". */
export const STACK_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const TAG_CHARSET_TEXT =
  'may use only letters, digits, spaces and _ . : / = + - @ (what every AWS tagging API accepts)';

const cidr = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/,
    'must be an IPv4 CIDR block such as 10.0.0.0/16',
  );

const STACK_MAX = stackLimit().max;

/**
 * The stack name prefixes every resource name. RDS and ElastiCache ids allow no upper case, no
 * "--" and no trailing hyphen, and S3 bucket names are lower case: the strictest of them rules.
 * Its length is checked against every derived name (src/config/limits.ts); the per-region
 * bucket names are checked by the cross-field rules.
 */
const stackName = z
  .string()
  .min(1, 'must not be empty')
  .max(
    STACK_MAX,
    `is too long: at most ${STACK_MAX} characters, since ${describeLimit(stackLimit())}`,
  )
  .regex(
    STACK_PATTERN,
    'must start with a letter and use only lower-case letters, digits and single hyphens, not at the end (RDS, ElastiCache and S3 names are built from it)',
  )
  .refine((s) => !RESERVED_BUCKET_PREFIXES.some((p) => `${s}-`.startsWith(p)), {
    message: `must not start with ${RESERVED_BUCKET_PREFIXES.map((p) => `"${p}"`).join(', ')}: S3 refuses bucket names that do`,
  });

/** A tag key every AWS tagging API accepts, not one AWS or cloudmart reserves. */
const tagKey = z
  .string()
  .min(1, 'a tag key must not be empty')
  .max(TAG_KEY_MAX, `a tag key is at most ${TAG_KEY_MAX} characters`)
  .regex(TAG_CHARACTERS, `a tag key ${TAG_CHARSET_TEXT}`)
  .refine((k) => !/^aws:/i.test(k), {
    message: 'a tag key must not start with "aws:": AWS reserves that prefix',
  });

const tagValue = z
  .string()
  .max(TAG_VALUE_MAX, `a tag value is at most ${TAG_VALUE_MAX} characters`)
  .regex(TAG_CHARACTERS, `a tag value ${TAG_CHARSET_TEXT}`);

const retentionDays = z
  .union(
    [
      z.literal(1),
      z.literal(3),
      z.literal(5),
      z.literal(7),
      z.literal(14),
      z.literal(30),
      z.literal(60),
      z.literal(90),
      z.literal(120),
      z.literal(150),
      z.literal(180),
      z.literal(365),
    ],
    {
      error:
        'must be one of the retentions CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180 or 365 days',
    },
  )
  .describe('CloudWatch Logs retention in days (one of the values CloudWatch accepts)');

const logGroup = (defName: string, defDays: number) =>
  z
    .strictObject({
      name: z
        .string()
        .startsWith('/')
        .default(defName)
        .describe(`Default: ${defName.replace('cloudmart', '<stack>')}`),
      retentionDays: retentionDays.default(defDays as 7),
    })
    .prefault({});

export const networkSchema = z
  .strictObject({
    vpcCidr: cidr.default('10.0.0.0/16').describe('The VPC address range'),
    publicSubnets: z
      .array(cidr)
      .length(2, 'exactly two CIDR blocks, one per availability zone')
      .default(['10.0.1.0/24', '10.0.2.0/24'])
      .describe('One public subnet per AZ (ALB, NAT gateways)'),
    appSubnets: z
      .array(cidr)
      .length(2, 'exactly two CIDR blocks, one per availability zone')
      .default(['10.0.11.0/24', '10.0.12.0/24'])
      .describe('One private subnet per AZ for the EC2 instances'),
    dataSubnets: z
      .array(cidr)
      .length(2, 'exactly two CIDR blocks, one per availability zone')
      .default(['10.0.21.0/24', '10.0.22.0/24'])
      .describe('One private subnet per AZ for RDS and ElastiCache'),
    allowedCidrs: z
      .array(cidr)
      .min(1)
      .default(['0.0.0.0/0'])
      .describe('Who may reach the ALB on 80/443 (the IP allow-list)'),
    securityGroupRuleQuota: z
      .number()
      .int()
      .min(60)
      .max(1000)
      .default(60)
      .describe(
        "Your account's VPC quota of inbound rules per security group (AWS's default 60); raise it in Service Quotas before raising it here",
      ),
    flowLogs: z
      .strictObject({
        logGroup: z
          .string()
          .default('/aws/vpc/cloudmart-flow-logs')
          .describe('Default: /aws/vpc/<stack>-flow-logs'),
        retentionDays: retentionDays.default(7),
        trafficType: z.enum(['ALL', 'ACCEPT', 'REJECT']).default('ALL'),
      })
      .prefault({}),
  })
  .prefault({});

export const appSchema = z
  .strictObject({
    port: z
      .number()
      .int()
      .min(1024)
      .max(65535)
      .default(8080)
      .describe('Port the backend listens on'),
    instanceType: z
      .string()
      .regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'must be an EC2 instance type such as t3.micro')
      .default('t3.micro'),
    ami: z
      .string()
      .default('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64')
      .describe('An AMI id (ami-…) or the SSM public parameter that names the latest one'),
    image: z
      .string()
      .nullable()
      .default(null)
      .describe("Run this container image instead of cloudmart's reference backend"),
    minSize: z.number().int().min(1).default(2),
    desiredCapacity: z.number().int().min(1).default(2),
    maxSize: z.number().int().min(1).default(4),
    cpuTarget: z.number().min(10).max(95).default(70).describe('Target tracking on average CPU %'),
    healthCheckGracePeriod: z.number().int().min(0).default(300),
    rootVolumeGiB: z.number().int().min(8).max(100).default(8),
    healthCheckPath: z
      .string()
      .startsWith('/')
      .default('/health/live')
      .describe(
        'ALB target health check. A liveness path on purpose: with the deep /health (DB + Redis), a 1-2 minute RDS failover marks every instance unhealthy and the ASG replaces them all. /health stays the deep check for Route 53, the drills and verify.',
      ),
  })
  .prefault({});

export const databaseSchema = z
  .strictObject({
    engine: z.enum(['postgres', 'mysql']).default('postgres'),
    engineVersion: z
      .string()
      .nullable()
      .default(null)
      .describe(
        'null: 16 for postgres, 8.4 for mysql (versions in RDS standard support; cloudmart never enrols in paid Extended Support)',
      ),
    instanceClass: z.string().startsWith('db.').default('db.t3.micro'),
    allocatedStorageGiB: z.number().int().min(20).max(1000).default(20),
    multiAz: z.boolean().default(true),
    dbName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/)
      .max(63)
      .default('cloudmart'),
    masterUsername: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/)
      .max(16)
      .default('cloudmart'),
    backupRetentionDays: z.number().int().min(1).max(35).default(7),
    backupWindow: z
      .string()
      .regex(/^\d\d:\d\d-\d\d:\d\d$/, 'must look like 03:00-04:00 (UTC)')
      .default('03:00-04:00'),
    maintenanceWindow: z.string().default('sun:05:00-sun:06:00'),
    deletionProtection: z.boolean().default(false),
    crossRegionBackup: z
      .boolean()
      .default(true)
      .describe('Replicate automated backups to drRegion'),
    snapshotName: z
      .string()
      .default('cloudmart-db-snapshot-day5')
      .describe('Default: <stack>-db-snapshot-day5'),
    snapshotRetentionDays: z.number().int().min(1).default(30),
  })
  .prefault({});

/** The cache engine version when the config names none (as database.engineVersion does). */
export const CACHE_DEFAULT_VERSION = { redis: '7.1', valkey: '8.0' } as const;

export const cacheSchema = z
  .strictObject({
    engine: z.enum(['redis', 'valkey']).default('redis'),
    engineVersion: z
      .string()
      .regex(/^\d+\.\d+(\.\d+)?$/, 'must be an engine version such as 7.1 or 8.0')
      .nullable()
      .default(null)
      .describe(
        `null: ${CACHE_DEFAULT_VERSION.redis} for redis, ${CACHE_DEFAULT_VERSION.valkey} for valkey (ElastiCache offers Redis OSS up to 7.1, Valkey from 7.2)`,
      ),
    nodeType: z.string().startsWith('cache.').default('cache.t3.micro'),
    snapshotRetentionDays: z.number().int().min(1).max(35).default(1),
  })
  .prefault({});

export const cdnSchema = z
  .strictObject({
    priceClass: z
      .enum(['PriceClass_100', 'PriceClass_200', 'PriceClass_All'])
      .default('PriceClass_200'),
    wafRateLimit: z.number().int().min(100).default(2000).describe('Requests per 5 min per IP'),
  })
  .prefault({});

export const dnsSchema = z
  .strictObject({
    domain: z
      .string()
      .regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, 'must be a domain name such as shop.example.com')
      .nullable()
      .default(null)
      .describe('null: no Route 53, no ACM; the ALB serves plain HTTP'),
    hostedZoneId: z.string().nullable().default(null),
    createHostedZone: z.boolean().default(false),
    apiSubdomain: z.string().default('api'),
  })
  .prefault({});

export const alertsSchema = z.strictObject({
  email: z.email('must be an email address').describe('Receives the alarm notifications'),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be in E.164 form, e.g. +821012345678')
    .nullable()
    .default(null),
});

export const monitoringSchema = z
  .strictObject({
    dashboardName: z
      .string()
      .default('CloudMart-Production')
      .describe('Default: <stack>-Production (CloudMart-Production for the stack cloudmart)'),
    namespace: z
      .string()
      .default('CloudMart')
      .describe(
        'Custom metrics namespace. Default: the stack name (CloudMart for the stack cloudmart)',
      ),
    alarms: z
      .strictObject({
        ec2HighCpuPercent: z.number().default(80),
        rdsHighConnections: z.number().default(80),
        albSlowResponseSeconds: z.number().default(1),
        unhealthyHosts: z.number().int().default(1),
        rdsLowStorageGiB: z.number().default(2),
      })
      .prefault({}),
    logs: z
      .strictObject({
        backend: logGroup('/aws/ec2/cloudmart-backend', 7),
        alb: logGroup('/aws/alb/cloudmart-alb', 30),
        rds: logGroup('/aws/rds/cloudmart-db', 7),
      })
      .prefault({}),
  })
  .prefault({});

export const backupSchema = z
  .strictObject({
    planName: z
      .string()
      .default('CloudMart-Daily-Backup')
      .describe('Default: <stack>-Daily-Backup (CloudMart-Daily-Backup for the stack cloudmart)'),
    schedule: z.string().default('cron(0 2 * * ? *)').describe('Daily at 02:00 UTC'),
    retentionDays: z.number().int().min(1).default(7),
    selectionTag: z
      .strictObject({ key: tagKey.default('Backup'), value: tagValue.default('true') })
      .prefault({}),
    s3: z
      .strictObject({
        noncurrentToGlacierDays: z.number().int().min(1).default(30),
        noncurrentExpireDays: z.number().int().min(1).default(90),
        abortMultipartDays: z.number().int().min(1).default(7),
      })
      .prefault({}),
  })
  .prefault({});

export const securitySchema = z
  .strictObject({
    trailName: z
      .string()
      .default('CloudMart-Audit-Trail')
      .describe('Default: <stack>-Audit-Trail (CloudMart-Audit-Trail for the stack cloudmart)'),
    auditBucketPrefix: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]*$/,
        'must start with a lower-case letter or digit and use only lower-case letters, digits and -',
      )
      .refine((s) => !RESERVED_BUCKET_PREFIXES.some((p) => `${s}-`.startsWith(p)), {
        message: `must not start with ${RESERVED_BUCKET_PREFIXES.map((p) => `"${p}"`).join(', ')}: S3 refuses bucket names that do`,
      })
      .default('cloudmart-audit-logs')
      .describe(
        'The audit bucket is <prefix>-<account id>-<region>, at most 63 characters. Default: <stack>-audit-logs',
      ),
    ebsEncryptionByDefault: z
      .boolean()
      .default(false)
      .describe('Turns on EBS encryption by default for the whole region (account-wide)'),
    permissionsBoundary: z
      .string()
      .regex(
        /^(?:[\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::\d{12}:policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128})$/,
        'must be the name of a customer managed IAM policy (letters, digits and + = , . @ _ -) or its ARN arn:aws:iam::<12-digit account>:policy/<name>',
      )
      .nullable()
      .default(null)
      .describe(
        "Customer managed IAM policy (name or ARN) set as the permissions boundary of every role cloudmart creates. An administrator creates it once from `cloudmart policy --boundary`; required when cloudmart runs with the operator policy of `cloudmart policy`. Default: none (roles without a boundary, for an administrator's own account)",
      ),
  })
  .prefault({});

export const budgetSchema = z
  .strictObject({
    usd: z.number().positive().default(0.8),
    hours: z
      .number()
      .positive()
      .default(50 / 60)
      .describe('How long the exercise runs'),
  })
  .prefault({});

export const destroySchema = z
  .strictObject({
    finalSnapshot: z.boolean().default(false).describe('Keep a final RDS snapshot on destroy'),
    deleteRecoveryPoints: z.boolean().default(true).describe('Delete AWS Backup recovery points'),
    deleteManualSnapshots: z.boolean().default(true),
  })
  .prefault({});

/**
 * Where the state and its lock live. `local` (the default): `.cloudmart/<stack>.state.json`
 * next to the config. `s3`: one object in a bucket the team shares (`cloudmart init
 * --remote-state` creates it), locked with S3's conditional writes (src/state/s3.ts).
 */
export const stateSchema = z.discriminatedUnion('backend', [
  z.strictObject({ backend: z.literal('local') }),
  z.strictObject({
    backend: z.literal('s3'),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        'must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens',
      )
      .describe('The bucket that holds the state (cloudmart init --remote-state creates it)'),
    key: z
      .string()
      .min(1)
      .max(1000)
      .regex(/^[^/]/, 'must not start with "/"')
      .refine((k) => !k.endsWith('.lock'), 'must not end in ".lock" (the lock is <key>.lock)')
      .optional()
      .describe('The state object; default cloudmart/<stack>.state.json. Its lock is <key>.lock'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as ap-northeast-2')
      .optional()
      .describe("The bucket's region; default the stack's region"),
  }),
]);

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  stack: stackName
    .default('cloudmart')
    .describe('Stack name: prefix of every resource name and the cloudmart:stack tag'),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as ap-northeast-2')
    .default('ap-northeast-2'),
  drRegion: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/)
    .default('ap-northeast-1'),
  edgeRegion: z
    .literal('us-east-1')
    .default('us-east-1')
    .describe('CloudFront certificates and WAF live here'),
  availabilityZones: z
    .array(
      z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an AZ name such as ap-northeast-2a'),
    )
    .length(2, 'exactly two availability zones')
    .default(['ap-northeast-2a', 'ap-northeast-2c']),
  network: networkSchema,
  app: appSchema,
  database: databaseSchema,
  cache: cacheSchema,
  cdn: cdnSchema,
  dns: dnsSchema,
  alerts: alertsSchema,
  monitoring: monitoringSchema,
  backup: backupSchema,
  security: securitySchema,
  budget: budgetSchema,
  tags: z
    .record(
      tagKey.refine((k) => !(RESERVED_TAG_KEYS as readonly string[]).includes(k), {
        message: `cloudmart sets ${RESERVED_TAG_KEYS.join(', ')} on every resource itself`,
      }),
      tagValue,
    )
    .default({ Project: 'CloudMart', Environment: 'production' })
    .describe('Added to every resource, next to Name, cloudmart:stack and cloudmart:step'),
  destroy: destroySchema,
  state: stateSchema
    .optional()
    .describe('Where the state and its lock live: local files (default) or an S3 object'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/**
 * Whether ElastiCache takes `TransitEncryptionMode` for this engine version: Redis OSS 7.0 and
 * later, Valkey 7.2 and later ("Enabling in-transit encryption": the preferred/required modes
 * came with Redis OSS 7). Older versions with TransitEncryptionEnabled are always "required".
 */
export function cacheTakesTransitMode(cache: Config['cache']): boolean {
  const [major = 0, minor = 0] = cacheEngineVersion(cache).split('.').map(Number);
  return cache.engine === 'valkey' ? major > 7 || (major === 7 && minor >= 2) : major >= 7;
}

/** The cache engine version: the configured one, else the engine's default. */
export function cacheEngineVersion(cache: Config['cache']): string {
  return cache.engineVersion ?? CACHE_DEFAULT_VERSION[cache.engine];
}
