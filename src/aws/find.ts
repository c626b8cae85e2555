import type { LogGroup, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { IAMClient, Role } from '@aws-sdk/client-iam';
import { ignoreNotFound } from './errors.js';

/**
 * Lookups by exact name that several steps (and destroy's leftover check) share. The SDK
 * packages are imported lazily: loading this module loads no SDK.
 */

/** An IAM role by name, or undefined. */
export async function findRole(iam: IAMClient, name: string): Promise<Role | undefined> {
  const { GetRoleCommand } = await import('@aws-sdk/client-iam');
  return (await ignoreNotFound(iam.send(new GetRoleCommand({ RoleName: name }))))?.Role;
}

/** A log group by exact name (the API matches prefixes), or undefined. */
export async function findLogGroup(
  logs: CloudWatchLogsClient,
  name: string,
): Promise<LogGroup | undefined> {
  const { DescribeLogGroupsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  return out.logGroups?.find((g) => g.logGroupName === name);
}
