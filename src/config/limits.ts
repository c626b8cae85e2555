/**
 * AWS limits the config is checked against, so a value AWS would reject in the middle of `up`
 * is a config error (exit 2) before anything is sent.
 */

/** Any 12-digit account id: bucket names embed the account, and every account id has 12 digits. */
const ANY_ACCOUNT = '123456789012';

/** A name cloudmart derives from the stack name, and the longest one AWS accepts. */
export interface DerivedName {
  /** What AWS calls it, for the message. */
  what: string;
  /** The longest name AWS accepts. */
  max: number;
  /** The name as the steps build it (see the step named in `from`). */
  name: (stack: string, region: string) => string;
  /** Where the steps build it. */
  from: string;
  /** Whether the name contains the region (so the longest stack name depends on it). */
  perRegion?: boolean;
}

/**
 * The stack-derived names with the tightest AWS limits. Names with a limit of 128 characters
 * or more (security groups, launch template, ASG, KMS aliases, log groups, SSM parameters,
 * secrets, alarms) can never be the shortest fit and are left out.
 * test/config/limits.test.ts checks each entry against the step that builds the name.
 */
export const DERIVED_NAMES: readonly DerivedName[] = [
  {
    what: 'Elastic Load Balancing load balancer name',
    max: 32,
    name: (s) => `${s}-alb`,
    from: 'load-balancer.ts albName',
  },
  {
    what: 'Elastic Load Balancing target group name',
    max: 32,
    name: (s) => `${s}-tg`,
    from: 'load-balancer.ts targetGroupName',
  },
  {
    what: 'ElastiCache replication group id',
    max: 40,
    name: (s) => `${s}-redis`,
    from: 'redis-cache.ts cacheSettings',
  },
  {
    what: 'AWS Backup selection name',
    max: 50,
    name: (s) => `${s}-tagged`,
    from: 'backup-plan.ts backupNames',
  },
  {
    what: 'AWS Backup vault name',
    max: 50,
    name: (s) => `${s}-vault`,
    from: 'backup-plan.ts backupNames',
  },
  {
    what: 'RDS DB instance identifier',
    max: 63,
    name: (s) => `${s}-db`,
    from: 'rds-database.ts dbSettings',
  },
  {
    what: 'IAM role name',
    max: 64,
    name: (s) => `${s}-flow-logs-role`,
    from: 'flow-logs.ts flowLogsRoleName',
  },
  {
    what: 'IAM role name',
    max: 64,
    name: (s) => `${s}-backup-role`,
    from: 'backup-plan.ts backupNames',
  },
  {
    what: 'IAM role name',
    max: 64,
    name: (s) => `${s}-ec2-role`,
    from: 'instance-role.ts roleName',
  },
  {
    what: 'CloudFront origin access control name',
    max: 64,
    name: (s) => `${s}-oac`,
    from: 'distribution.ts oacName',
  },
  {
    what: 'Route 53 health check caller reference',
    max: 64,
    name: (s) => `cloudmart-${s}-hc-${'0'.repeat(16)}`,
    from: 'dns-records.ts healthCheckReference',
  },
  {
    what: 'S3 bucket name',
    max: 63,
    name: (s, region) => `${s}-alb-logs-${ANY_ACCOUNT}-${region}`,
    from: 'alb-log-bucket.ts albLogBucketName',
    perRegion: true,
  },
  {
    what: 'S3 bucket name',
    max: 63,
    name: (s, region) => `${s}-frontend-${ANY_ACCOUNT}-${region}`,
    from: 'frontend-bucket.ts frontendBucketName',
    perRegion: true,
  },
  {
    what: 'S3 bucket name',
    max: 63,
    name: (s, region) => `${s}-audit-logs-${ANY_ACCOUNT}-${region}`,
    from: 'audit-bucket.ts auditBucketName (security.auditBucketPrefix unset)',
    perRegion: true,
  },
];

export interface StackLimit {
  /** The longest stack name for which every derived name fits. */
  max: number;
  /** The derived name that sets it. */
  by: DerivedName;
}

/**
 * The longest stack name whose derived names all fit. Without a region, only the names that
 * do not contain it count (the schema's bound); with one, the bucket names count too.
 */
export function stackLimit(region?: string): StackLimit {
  let best: StackLimit | undefined;
  for (const d of DERIVED_NAMES) {
    if (d.perRegion && region === undefined) continue;
    const max = d.max - d.name('', region ?? '').length;
    if (!best || max < best.max) best = { max, by: d };
  }
  return best!;
}

/** "the load balancer name <stack>-alb must fit in 32 characters (Elastic Load Balancing)". */
export function describeLimit(limit: StackLimit, region?: string): string {
  const shape = limit.by.name('<stack>', region ?? '').replace(ANY_ACCOUNT, '<account id>');
  return `the ${limit.by.what} ${shape} must fit in ${limit.by.max} characters`;
}

/** S3 refuses general purpose bucket names that start with these. */
export const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'] as const;

/**
 * Tags: what every tagging API accepts (IAM, ELB, RDS, ElastiCache, Backup… are stricter than
 * EC2): Unicode letters, digits and spaces, and `_ . : / = + - @`.
 */
export const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;
/** User-defined tags per resource. */
export const TAGS_PER_RESOURCE = 50;
/** Keys cloudmart sets on every resource (src/aws/tags.ts); a config tag with them is lost. */
export const RESERVED_TAG_KEYS = ['Name', 'cloudmart:stack', 'cloudmart:step'] as const;

/**
 * Security group rules (VPC quota "inbound rules per security group", default 60, adjustable).
 * A rule that references a prefix list counts as the list's maximum entries (its "weight").
 */
export const SG_INBOUND_RULES_DEFAULT_QUOTA = 60;
export const PREFIX_LIST_WEIGHTS = {
  /** com.amazonaws.global.cloudfront.origin-facing */
  cloudfront: 55,
  /** com.amazonaws.<region>.route53-healthchecks */
  route53HealthChecks: 25,
} as const;
