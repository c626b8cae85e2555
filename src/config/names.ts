/**
 * The names of the stack's resources that the config lets a user set, derived from the stack
 * name when the config leaves them out. The seed's names (CloudMart-Production,
 * /aws/ec2/cloudmart-backend, …) are what they give for the default stack `cloudmart`; any other
 * stack gets its own, so two stacks in one account and region never share a resource.
 * The other names (VPC, ALB, roles, …) are `<stack>-<suffix>` (src/steps/names.ts).
 */

import { configSchema } from './schema.js';

/** The stack the seed describes: its names are the seed's. */
export const DEFAULT_STACK = 'cloudmart';

/** "CloudMart" for the default stack (the seed's capitalised names), the stack name otherwise. */
export function stackTitle(stack: string): string {
  return stack === DEFAULT_STACK ? 'CloudMart' : stack;
}

export interface ConfigNames {
  'network.flowLogs.logGroup': string;
  'database.snapshotName': string;
  'monitoring.dashboardName': string;
  'monitoring.namespace': string;
  'monitoring.logs.backend.name': string;
  'monitoring.logs.alb.name': string;
  'monitoring.logs.rds.name': string;
  'backup.planName': string;
  'security.trailName': string;
  'security.auditBucketPrefix': string;
}

/** Every name setting of the config and the value it takes from the stack name when unset. */
export function configNames(stack: string): ConfigNames {
  const title = stackTitle(stack);
  return {
    'network.flowLogs.logGroup': `/aws/vpc/${stack}-flow-logs`,
    'database.snapshotName': `${stack}-db-snapshot-day5`,
    'monitoring.dashboardName': `${title}-Production`,
    // Custom metrics carry no stack dimension: a namespace of its own keeps two stacks apart.
    'monitoring.namespace': title,
    'monitoring.logs.backend.name': `/aws/ec2/${stack}-backend`,
    'monitoring.logs.alb.name': `/aws/alb/${stack}-alb`,
    'monitoring.logs.rds.name': `/aws/rds/${stack}-db`,
    'backup.planName': `${title}-Daily-Backup`,
    'security.trailName': `${title}-Audit-Trail`,
    'security.auditBucketPrefix': `${stack}-audit-logs`,
  };
}

/**
 * Fill in the name settings `data` (a parsed config document) leaves out, from its stack name
 * (or the default's). Returns a copy; parts that are not objects are left for the schema to
 * report.
 */
export function withStackNames(data: Record<string, unknown>): Record<string, unknown> {
  const stack = data.stack === undefined ? DEFAULT_STACK : data.stack;
  // A bad stack name is reported once, as itself, not again through every name built from it.
  if (!configSchema.shape.stack.safeParse(stack).success) return data;
  const name = stack as string;
  const out: Record<string, unknown> = { ...data };
  for (const [path, value] of Object.entries(configNames(name))) {
    const keys = path.split('.');
    let node = out;
    let ok = true;
    for (const key of keys.slice(0, -1)) {
      const child = node[key] === undefined ? {} : node[key];
      if (typeof child !== 'object' || child === null || Array.isArray(child)) {
        ok = false;
        break;
      }
      node[key] = { ...(child as Record<string, unknown>) };
      node = node[key] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1]!;
    if (ok && node[last] === undefined) node[last] = value;
  }
  return out;
}
