import { ignoreNotFound, isAlreadyExists } from '../../aws/errors.js';
import type { StepContext } from '../../engine/step.js';

/** Same members, in any order. */
export function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));
}

/** One service's subnet-group calls (RDS DB subnet groups, ElastiCache cache subnet groups). */
export interface SubnetGroupApi {
  /** "DB subnet group", "cache subnet group": for progress lines. */
  what: string;
  name: string;
  description: string;
  /** The group's subnet ids; rejects with the service's "not found" when there is none. */
  describe(): Promise<string[]>;
  create(tags: { Key: string; Value: string }[]): Promise<unknown>;
  modify(): Promise<unknown>;
}

/**
 * The data tier's subnet group: adopted when present (nothing sent when its subnets are right),
 * created tagged when absent, moved to the data subnets when it drifted.
 */
export async function ensureSubnetGroup(
  ctx: StepContext,
  api: SubnetGroupApi,
  subnetIds: string[],
): Promise<void> {
  const existing = await ignoreNotFound(api.describe());
  if (existing === undefined) {
    ctx.progress(`creating ${api.what} ${api.name}`);
    try {
      await api.create(ctx.tags.list(api.name));
    } catch (e) {
      if (!isAlreadyExists(e)) throw e; // a create whose answer was lost
    }
    return;
  }
  if (!sameSet(existing, subnetIds)) {
    ctx.progress(`${api.what} ${api.name}: moving to the data subnets`);
    await api.modify();
  }
}
