import type { ConfigIssue } from '../errors.js';
import { contains, hasHostBits, overlaps } from './cidr.js';
import {
  describeLimit,
  PREFIX_LIST_WEIGHTS,
  RESERVED_TAG_KEYS,
  SG_INBOUND_RULES_DEFAULT_QUOTA,
  stackLimit,
  TAGS_PER_RESOURCE,
} from './limits.js';
import { configNames } from './names.js';
import { REGIONS, regionInfo } from './regions.js';
import { isInstanceTypeName, SNS_SMS_REGIONS } from './aws-names.js';
import { CACHE_DEFAULT_VERSION, type Config } from './schema.js';

/**
 * Whether every given path holds a value that passed the schema. The rules run on a config
 * whose failed parts are missing (see salvage in load.ts), so each rule first asks for the
 * paths it reads and is skipped when one of them failed: schema and cross-field problems are
 * then reported in one run, and no rule reports a consequence of a value already reported.
 */
export type Valid = (...paths: string[]) => boolean;

export const allValid: Valid = () => true;

/** A `Valid` for a config whose `invalid` paths failed the schema (a failed parent covers its children). */
export function validExcept(invalid: readonly string[]): Valid {
  const clash = (p: string, q: string) =>
    q === '' || p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`);
  return (...paths) => paths.every((p) => !invalid.some((q) => clash(p, q)));
}

/** Rules that span several fields. Returns every problem among the fields that are valid. */
export function crossFieldIssues(config: Config, valid: Valid = allValid): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const { network } = config;

  if (valid('network.vpcCidr')) {
    if (hasHostBits(network.vpcCidr)) {
      issues.push({ path: 'network.vpcCidr', message: `${network.vpcCidr} has host bits set` });
    }
    const vpcPrefix = Number(network.vpcCidr.split('/')[1]);
    if (vpcPrefix < 16 || vpcPrefix > 28) {
      issues.push({ path: 'network.vpcCidr', message: 'a VPC block must be between /16 and /28' });
    }
  }
  const subnets: Array<[string, string]> = (['publicSubnets', 'appSubnets', 'dataSubnets'] as const)
    .filter((tier) => valid(`network.${tier}`))
    .flatMap((tier) => network[tier].map((c, i): [string, string] => [`network.${tier}.${i}`, c]));
  for (const [path, c] of subnets) {
    const prefix = Number(c.split('/')[1]);
    if (hasHostBits(c)) issues.push({ path, message: `${c} has host bits set` });
    if (prefix < 16 || prefix > 28)
      issues.push({ path, message: 'a subnet must be between /16 and /28' });
    if (valid('network.vpcCidr') && !contains(network.vpcCidr, c)) {
      issues.push({ path, message: `${c} is not inside the VPC block ${network.vpcCidr}` });
    }
  }
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const [pa, a] = subnets[i]!;
      const [pb, b] = subnets[j]!;
      if (overlaps(a, b)) issues.push({ path: pb, message: `${b} overlaps ${pa} (${a})` });
    }
  }

  // A region outside the table cannot be priced, zoned or paired for backups: a typo
  // ("ap-northeast-9") must not be built, priced at $0 and called within the budget.
  for (const path of ['region', 'drRegion'] as const) {
    if (valid(path) && !regionInfo(config[path])) {
      issues.push({
        path,
        message: `${config[path]} is not an AWS region cloudmart knows (${Object.keys(REGIONS).length} commercial regions, e.g. ap-northeast-2, us-east-1, eu-west-1)`,
      });
    }
  }
  for (const [path, read, prefix, example] of [
    ['app.instanceType', () => config.app.instanceType, '', 't3.micro'],
    ['database.instanceClass', () => config.database.instanceClass, 'db.', 'db.t3.micro'],
    ['cache.nodeType', () => config.cache.nodeType, 'cache.', 'cache.t3.micro'],
  ] as const) {
    // Read only once the path is known valid: a broken section is missing from `config`.
    const value = valid(path) ? read() : undefined;
    if (value !== undefined && !isInstanceTypeName(value, prefix)) {
      issues.push({
        path,
        message: `${value} is not an instance type: AWS names them ${prefix}<family>.<size>, e.g. ${example} (sizes: nano, micro, small, medium, large, xlarge, 2xlarge, …)`,
      });
    }
  }
  if (
    valid('alerts.phone', 'region') &&
    config.alerts.phone !== null &&
    regionInfo(config.region)
  ) {
    if (!SNS_SMS_REGIONS.includes(config.region)) {
      issues.push({
        path: 'alerts.phone',
        message: `Amazon SNS does not send SMS from ${config.region}, so the alarms could not reach ${config.alerts.phone}: set alerts.phone to null (the email still gets every alarm), or use a region SNS sends SMS from (${SNS_SMS_REGIONS.slice(0, 4).join(', ')}, ap-northeast-1, …)`,
      });
    }
  }

  if (valid('availabilityZones', 'region')) {
    config.availabilityZones.forEach((az, i) => {
      if (!az.startsWith(config.region)) {
        issues.push({
          path: `availabilityZones.${i}`,
          message: `${az} is not in the region ${config.region}`,
        });
      }
    });
  }
  if (valid('availabilityZones') && config.availabilityZones[0] === config.availabilityZones[1]) {
    issues.push({ path: 'availabilityZones.1', message: 'the two availability zones must differ' });
  }
  if (valid('drRegion', 'region') && config.drRegion === config.region) {
    issues.push({ path: 'drRegion', message: 'the DR region must differ from the main region' });
  }

  // Names built from the stack name: the bucket names also hold the account id and the region.
  if (valid('stack', 'region')) {
    const limit = stackLimit(config.region);
    if (config.stack.length > limit.max) {
      issues.push({
        path: 'stack',
        message: `is too long for ${config.region}: at most ${limit.max} characters there, since ${describeLimit(limit, config.region)}`,
      });
    }
  }
  // A prefix derived from the stack name is covered by the stack's own limit above.
  if (
    valid('security.auditBucketPrefix', 'region', 'stack') &&
    config.security.auditBucketPrefix !== configNames(config.stack)['security.auditBucketPrefix']
  ) {
    const prefix = config.security.auditBucketPrefix;
    // names.bucket: <prefix>-<12-digit account id>-<region>
    const max = 63 - `--123456789012${config.region}`.length;
    if (prefix.length > max) {
      issues.push({
        path: 'security.auditBucketPrefix',
        message: `is too long for ${config.region}: at most ${max} characters, since the bucket name <prefix>-<account id>-${config.region} must fit in 63`,
      });
    }
  }

  const { app } = config;
  if (valid('app.minSize', 'app.desiredCapacity') && app.minSize > app.desiredCapacity) {
    issues.push({
      path: 'app.desiredCapacity',
      message: `must be at least minSize (${app.minSize})`,
    });
  }
  if (valid('app.desiredCapacity', 'app.maxSize') && app.desiredCapacity > app.maxSize) {
    issues.push({
      path: 'app.maxSize',
      message: `must be at least desiredCapacity (${app.desiredCapacity})`,
    });
  }
  if (valid('app.ami') && !/^ami-[0-9a-f]{8,17}$/.test(app.ami) && !app.ami.startsWith('/')) {
    issues.push({
      path: 'app.ami',
      message: 'must be an AMI id (ami-…) or an SSM parameter path (/aws/…)',
    });
  }

  const { backup, database } = config;
  if (
    valid('backup.s3.noncurrentExpireDays', 'backup.s3.noncurrentToGlacierDays') &&
    backup.s3.noncurrentExpireDays <= backup.s3.noncurrentToGlacierDays
  ) {
    issues.push({
      path: 'backup.s3.noncurrentExpireDays',
      message: `must be later than noncurrentToGlacierDays (${backup.s3.noncurrentToGlacierDays})`,
    });
  }
  if (valid('database.backupWindow')) {
    const [bStart, bEnd] = database.backupWindow.split('-');
    if (
      bStart &&
      bEnd &&
      minutesOf(bEnd) - minutesOf(bStart) < 30 &&
      minutesOf(bEnd) > minutesOf(bStart)
    ) {
      issues.push({ path: 'database.backupWindow', message: 'must be at least 30 minutes long' });
    }
  }

  if (valid('cache.engine', 'cache.engineVersion') && config.cache.engineVersion !== null) {
    const { engine, engineVersion } = config.cache;
    const v = majorMinor(engineVersion);
    if (engine === 'valkey' && v < majorMinor('7.2')) {
      issues.push({
        path: 'cache.engineVersion',
        message: `ElastiCache offers Valkey from 7.2 on, not ${engineVersion}: use 7.2 or later, or null for ${CACHE_DEFAULT_VERSION.valkey}`,
      });
    }
    if (engine === 'redis' && v > majorMinor('7.1')) {
      issues.push({
        path: 'cache.engineVersion',
        message: `ElastiCache offers Redis OSS up to 7.1, not ${engineVersion}: for 7.2 and later set cache.engine to valkey`,
      });
    }
  }

  if (valid('tags')) {
    // cloudmart adds Name, cloudmart:stack, cloudmart:step and, on instances and volumes, the
    // backup selection tag: the config's tags share AWS's 50 per resource with them.
    const room = TAGS_PER_RESOURCE - RESERVED_TAG_KEYS.length - 1;
    const count = Object.keys(config.tags).length;
    if (count > room) {
      issues.push({
        path: 'tags',
        message: `has ${count} tags; at most ${room} fit next to the ${RESERVED_TAG_KEYS.length + 1} cloudmart adds (AWS allows ${TAGS_PER_RESOURCE} per resource)`,
      });
    }
  }

  if (valid('network.allowedCidrs', 'network.securityGroupRuleQuota')) {
    const rules = albInboundRuleEstimate(config);
    if (rules > config.network.securityGroupRuleQuota) {
      const n = config.network.allowedCidrs.length;
      const parts = [`${n} CIDR${n === 1 ? '' : 's'} × ports 80 and 443 = ${2 * n}`];
      if (!config.network.allowedCidrs.includes('0.0.0.0/0')) {
        parts.push(
          `plus CloudFront's origin-facing prefix list, which counts as ${PREFIX_LIST_WEIGHTS.cloudfront}`,
        );
      }
      issues.push({
        path: 'network.allowedCidrs',
        message: `the ALB security group needs ${rules} inbound rules (${parts.join(', ')}), more than the quota of ${config.network.securityGroupRuleQuota} (network.securityGroupRuleQuota; AWS's default is ${SG_INBOUND_RULES_DEFAULT_QUOTA}): "cloudmart up" would stop at the security groups (RulesPerSecurityGroupLimitExceeded). Shorten the allow-list (merge addresses into wider blocks), or raise the Amazon VPC quota "Inbound or outbound rules per security group" in Service Quotas first and set network.securityGroupRuleQuota to it`,
      });
    }
  }
  if (
    valid('dns.domain', 'dns.hostedZoneId', 'dns.createHostedZone') &&
    config.dns.domain === null &&
    (config.dns.hostedZoneId !== null || config.dns.createHostedZone)
  ) {
    issues.push({
      path: 'dns.domain',
      message: 'is required when hostedZoneId or createHostedZone is set',
    });
  }
  return issues;
}

/**
 * Inbound rules the ALB security group needs, counted the way the VPC quota counts them: one
 * per CIDR and port (80 and 443), and a prefix-list reference as the list's maximum entries.
 * With a narrowed allow-list the group also admits CloudFront's origin-facing list (the /api/*
 * origin). The Route 53 health checkers' list (weight 25) goes in a group of its own
 * (`alb-health`), so it does not count here.
 * Keep in step with wantedRules in src/steps/phase1-foundation/security-groups.ts
 * (test/config/rules.test.ts compares the two).
 */
export function albInboundRuleEstimate(config: Pick<Config, 'network'>): number {
  const { allowedCidrs } = config.network;
  const narrowed = !allowedCidrs.includes('0.0.0.0/0');
  return 2 * allowedCidrs.length + (narrowed ? PREFIX_LIST_WEIGHTS.cloudfront : 0);
}

/** Settings that work but may hit an adjustable AWS quota: said, not refused. */
export function configWarnings(config: Config, valid: Valid = allValid): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const zones = valid('region') ? regionInfo(config.region)?.zones : undefined;
  if (zones && valid('availabilityZones')) {
    config.availabilityZones.forEach((az, i) => {
      const letter = az.slice(config.region.length);
      if (az.startsWith(config.region) && !zones.includes(letter)) {
        warnings.push({
          path: `availabilityZones.${i}`,
          message: `${az} is not one of the zones AWS gives accounts in ${config.region} (${zones.map((z) => config.region + z).join(', ')}): "cloudmart up" would stop at the subnets unless your account has it ("aws ec2 describe-availability-zones --region ${config.region}" lists yours)`,
        });
      }
    });
  }
  return warnings;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** A comparable number for a version's major.minor: "7.2.6" → 7002, "8.10" → 8010. */
function majorMinor(version: string): number {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major * 1000 + minor;
}
