import { stackTitle } from '../config/names.js';
import type { Config } from '../config/schema.js';

/** Deterministic names, so a lost state file never hides a resource from adopt or destroy. */
export const names = {
  /** `<stack>-<suffix>`, e.g. cloudmart-vpc. */
  of: (config: Config, suffix: string): string => `${config.stack}-${suffix}`,
  /** SSM parameters the instances read: /cloudmart/<stack>/… */
  parameterPrefix: (config: Config): string => `/cloudmart/${config.stack}`,
  /** Secrets Manager names: cloudmart/<stack>/… */
  secretPrefix: (config: Config): string => `cloudmart/${config.stack}`,
  /**
   * Globally unique bucket names: prefix, account and region, lower case, at most 63 chars.
   */
  bucket: (prefix: string, account: string, region: string): string =>
    `${prefix}-${account}-${region}`.toLowerCase().slice(0, 63).replace(/-+$/, ''),
};

/**
 * Every name the stack's resources carry, in one table: what scopes a policy or a lookup to
 * one stack. Everything cloudmart names starts with one of the prefixes, or is one of the
 * config's name settings (which derive from the stack name unless the file sets them:
 * src/config/names.ts).
 */
export function stackNames(config: Config) {
  return {
    /** names.of: VPC, subnets, route tables, gateways, security groups, ALB, target group,
     * launch template, ASG, IAM roles and profile, KMS alias, vault, SNS topics, web ACL, OAC,
     * RDS/ElastiCache ids, buckets (`<stack>-…-<account>-<region>`). */
    resourcePrefix: `${config.stack}-`,
    /** Alarms (`CloudMart-EC2-HighCPU` for the default stack, `<stack>-EC2-HighCPU` otherwise). */
    titlePrefix: `${stackTitle(config.stack)}-`,
    parameterPrefix: `${names.parameterPrefix(config)}/`,
    secretPrefix: `${names.secretPrefix(config)}/`,
    dashboard: config.monitoring.dashboardName,
    metricNamespace: config.monitoring.namespace,
    backupPlan: config.backup.planName,
    trail: config.security.trailName,
    auditBucketPrefix: `${config.security.auditBucketPrefix}-`,
    snapshot: config.database.snapshotName,
    logGroups: [
      config.monitoring.logs.backend.name,
      config.monitoring.logs.alb.name,
      config.monitoring.logs.rds.name,
      config.network.flowLogs.logGroup,
    ],
  };
}
