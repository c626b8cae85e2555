import type { LogGroup, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AttachedPolicy, IAMClient, Role } from '@aws-sdk/client-iam';
import type { Config } from '../config/schema.js';
import type { Aws } from './clients.js';
import { ignoreNotFound } from './errors.js';
import { allPages, firstInPages } from './pages.js';
import { STACK_TAG, STEP_TAG } from './tags.js';

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

/**
 * The ARNs of the KMS keys the Tagging API lists with this stack's and this step's tags, every
 * page, in `region`.
 */
export async function taggedKeyArns(
  aws: Aws,
  config: Config,
  step: string,
  region?: string,
): Promise<string[]> {
  const { paginateGetResources } = await import('@aws-sdk/client-resource-groups-tagging-api');
  const tagged = await allPages(
    paginateGetResources(
      { client: await aws.get('tagging', region) },
      {
        ResourceTypeFilters: ['kms:key'],
        TagFilters: [
          { Key: STACK_TAG, Values: [config.stack] },
          { Key: STEP_TAG, Values: [step] },
        ],
      },
    ),
    (page) => page.ResourceTagMappingList,
  );
  return tagged.flatMap((r) => (r.ResourceARN ? [r.ResourceARN] : []));
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
