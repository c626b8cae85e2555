import type { EC2Client } from '@aws-sdk/client-ec2';
import { isDependencyViolation, isNotFound } from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { retryWhile } from '../../aws/wait.js';
import type { Check, Criterion, Outputs, StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';

/**
 * Shared by the Phase 1 steps of issue 3: the lazy EC2 SDK import, the tags that make per-AZ
 * lookups exact, and delete/verify helpers (NotFound as absent, bounded DependencyViolation
 * retries that name the ENIs still holding a resource) that the KMS and IAM steps use too.
 */
export const ec2sdk = () => import('@aws-sdk/client-ec2');

/** public | app | data (subnets), public | private (route tables). */
export const TIER_TAG = 'cloudmart:tier';
/** Index into config.availabilityZones, so per-AZ resources are found exactly. */
export const AZ_INDEX_TAG = 'cloudmart:az-index';

/** How long a delete waits out ENIs of an ALB, RDS or Redis that AWS releases minutes late. */
export const ENI_RELEASE_TIMEOUT_MS = 15 * 60_000;

export const FIX_PHASE1 = 'cloudmart up --phase 1';

export function ec2(ctx: StepContext): Promise<EC2Client> {
  return ctx.aws.get('ec2');
}

/** Which network interfaces still sit in a subnet or security group (for a clear error). */
export async function eniHolders(
  ctx: StepContext,
  filter: 'subnet-id' | 'group-id',
  id: string,
): Promise<string> {
  const { paginateDescribeNetworkInterfaces } = await ec2sdk();
  try {
    const enis = await allPages(
      paginateDescribeNetworkInterfaces(
        { client: await ec2(ctx) },
        { Filters: [{ Name: filter, Values: [id] }] },
      ),
      (page) => page.NetworkInterfaces,
    );
    if (enis.length === 0) return 'no network interface is left';
    return enis
      .map(
        (n) =>
          `${n.NetworkInterfaceId ?? '?'} (${n.Description || n.InterfaceType || n.RequesterId || 'unknown owner'})`,
      )
      .join(', ');
  } catch {
    return 'the network interfaces could not be listed';
  }
}

/**
 * A delete that AWS refuses with DependencyViolation while ENIs are released: retry with a
 * bounded back-off (progress on every retry), treat NotFound as done, and when the bound is
 * reached say which ENIs still hold the resource.
 */
export async function deleteRetrying(
  ctx: StepContext,
  what: string,
  del: () => Promise<unknown>,
  holders?: () => Promise<string>,
  timeoutMs = ENI_RELEASE_TIMEOUT_MS,
): Promise<void> {
  try {
    await retryWhile(ctx, del, { what, timeoutMs });
  } catch (e) {
    if (isNotFound(e)) return;
    if (isDependencyViolation(e) && holders) {
      throw new CloudmartError(
        'AWS_ERROR',
        `${what} failed: still in use after ${Math.round(timeoutMs / 60_000)} min: held by ${await holders()}`,
        {
          cause: e,
          hint: 'Delete whatever owns those network interfaces, then run "cloudmart destroy" again.',
        },
      );
    }
    throw e;
  }
}

/** This step's outputs from the state file, if any, typed as the step's outputs (all optional). */
export function previousOutputs<T extends Outputs>(ctx: StepContext): Partial<T> | undefined {
  return ctx.previous as Partial<T> | undefined;
}

/** A failed check for a resource that is not there at all. */
export function missing(id: string, title: string, criterion: Criterion, evidence: string): Check {
  return { id, title, criterion, status: 'fail', evidence, fix: FIX_PHASE1 };
}
