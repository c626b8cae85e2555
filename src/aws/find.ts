import type { LogGroup, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AttachedPolicy, IAMClient, Role } from '@aws-sdk/client-iam';
import { ignoreNotFound } from './errors.js';
import { allPages, firstInPages } from './pages.js';

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
  const { paginateDescribeLogGroups } = await import('@aws-sdk/client-cloudwatch-logs');
  return firstInPages(
    paginateDescribeLogGroups({ client: logs }, { logGroupNamePrefix: name }),
    (page) => page.logGroups,
    (g) => g.logGroupName === name,
  );
}

/** The managed policies attached to a role, every page. */
export async function attachedRolePolicies(
  iam: IAMClient,
  role: string,
): Promise<AttachedPolicy[]> {
  const { paginateListAttachedRolePolicies } = await import('@aws-sdk/client-iam');
  return allPages(
    paginateListAttachedRolePolicies({ client: iam }, { RoleName: role }),
    (page) => page.AttachedPolicies,
  );
}

/** The names of a role's inline policies, every page. */
export async function inlineRolePolicyNames(iam: IAMClient, role: string): Promise<string[]> {
  const { paginateListRolePolicies } = await import('@aws-sdk/client-iam');
  return allPages(
    paginateListRolePolicies({ client: iam }, { RoleName: role }),
    (page) => page.PolicyNames,
  );
}
