import type { Aws } from '../aws/clients.js';
import { findRole } from '../aws/find.js';
import { allPages } from '../aws/pages.js';
import type { Config } from '../config/schema.js';
import type { Leftover } from '../engine/step.js';

/**
 * Lookups the steps' `discover` members share: what the Resource Groups Tagging API cannot
 * list, found by the names the steps' creates adopt with.
 */

/** IAM roles by name (the Tagging API does not list IAM). */
export async function roleLeftovers(aws: Aws, names: string[]): Promise<Leftover[]> {
  const iam = await aws.get('iam');
  const found: Leftover[] = [];
  for (const name of names) {
    const role = await findRole(iam, name);
    if (role?.Arn)
      found.push({ arn: role.Arn, region: 'global', type: 'iam:role', kept: false, note: name });
  }
  return found;
}

/** Log groups under a prefix: the ones AWS services create by themselves carry no tag. */
export async function logGroupLeftovers(
  aws: Aws,
  config: Config,
  prefix: string,
): Promise<Leftover[]> {
  const { paginateDescribeLogGroups } = await import('@aws-sdk/client-cloudwatch-logs');
  const logs = await aws.get('logs');
  const groups = await allPages(
    paginateDescribeLogGroups({ client: logs }, { logGroupNamePrefix: prefix }),
    (page) => page.logGroups,
  );
  return groups.flatMap((g) => {
    const arn = g.arn?.replace(/:\*$/, '');
    return arn
      ? [{ arn, region: config.region, type: 'logs:log-group', kept: false, note: g.logGroupName }]
      : [];
  });
}
