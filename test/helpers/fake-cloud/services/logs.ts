/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, page, statements } from '../util.js';
import type { World } from '../world.js';
import { findKey } from './shared.js';

/**
 * CloudWatch Logs: log groups (retention, KMS key checked against the key policy, tags) and
 * metric filters. Services that export logs create their groups untagged and never expiring.
 */

export const LOG_GROUP = 'logs:log-group';

const RETENTIONS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/** What RDS and VPC Flow Logs do: create the group as they first write, untagged, no expiry. */
export function createLogGroupIfMissing(w: World, region: string, name: string): void {
  if (w.live(LOG_GROUP, region, name)) return;
  addGroup(w, region, name, {}, undefined);
}

function addGroup(
  w: World,
  region: string,
  name: string,
  tags: Record<string, string>,
  kmsKeyId: string | undefined,
): Resource {
  return w.add({
    service: 'logs',
    type: LOG_GROUP,
    region,
    id: name,
    arn: w.arn('logs', region, `log-group:${name}`),
    name,
    tags,
    state: 'available',
    data: { ...(kmsKeyId ? { kmsKeyId } : {}), filters: {} },
  });
}

export function logsService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('logs', code, message);

  const group = (region: string, name: string): Resource => {
    const r = w.live(LOG_GROUP, region, name);
    if (!r) throw err('ResourceNotFoundException', 'The specified log group does not exist.');
    return r;
  };

  /** CloudWatch Logs may only use a key whose policy lets the regional logs principal use it. */
  function checkKey(region: string, ref: string, groupName: string): string {
    const key = findKey(w, region, ref);
    const arn = w.arn('logs', region, `log-group:${groupName}`);
    const allowed =
      key?.state === 'Enabled' &&
      statements(key.data.policy).some((s) => {
        const principal = JSON.stringify(s.Principal ?? '');
        return (
          s.Effect === 'Allow' &&
          (principal.includes(`logs.${region}.amazonaws.com`) ||
            principal.includes('logs.amazonaws.com'))
        );
      });
    if (!allowed || !ref.startsWith('arn:')) {
      throw err(
        'InvalidParameterException',
        `The specified KMS key does not exist or is not allowed to be used with Arn '${arn}'`,
      );
    }
    return ref;
  }

  function shape(r: Resource): In {
    return {
      logGroupName: r.id,
      creationTime: r.createdAt,
      ...(r.data.retentionInDays !== undefined ? { retentionInDays: r.data.retentionInDays } : {}),
      metricFilterCount: Object.keys(r.data.filters as object).length,
      arn: `${r.arn!}:*`,
      logGroupArn: r.arn,
      storedBytes: 0,
      ...(r.data.kmsKeyId ? { kmsKeyId: r.data.kmsKeyId } : {}),
      logGroupClass: 'STANDARD',
    };
  }

  const nameOfArn = (arn: string) => arn.replace(/:\*$/, '').split(':log-group:')[1] ?? '';

  const handlers: ServiceModule['handlers'] = {
    CreateLogGroup(ctx, input) {
      const name = input.logGroupName as string;
      if (!/^[.\-_/#A-Za-z0-9]{1,512}$/.test(name))
        throw err(
          'InvalidParameterException',
          `1 validation error detected: Value '${name}' at 'logGroupName' failed to satisfy constraint`,
        );
      if (w.live(LOG_GROUP, ctx.region, name))
        throw err('ResourceAlreadyExistsException', 'The specified log group already exists');
      const key = input.kmsKeyId ? checkKey(ctx.region, input.kmsKeyId as string, name) : undefined;
      addGroup(w, ctx.region, name, { ...((input.tags ?? {}) as Record<string, string>) }, key);
      return {};
    },
    DescribeLogGroups(ctx, input) {
      if (input.logGroupNamePrefix && input.logGroupIdentifiers) {
        throw err(
          'InvalidParameterException',
          'LogGroup name prefix and LogGroup identifiers cannot be specified at the same time',
        );
      }
      let list = w.find(LOG_GROUP, ctx.region).sort((a, b) => (a.id < b.id ? -1 : 1));
      if (input.logGroupNamePrefix)
        list = list.filter((g) => g.id.startsWith(input.logGroupNamePrefix as string));
      if (input.logGroupNamePattern)
        list = list.filter((g) => g.id.includes(input.logGroupNamePattern as string));
      if (input.logGroupIdentifiers) {
        const ids = (input.logGroupIdentifiers as string[]).map((x) =>
          x.startsWith('arn:') ? nameOfArn(x) : x,
        );
        list = list.filter((g) => ids.includes(g.id));
      }
      const p = page(
        list,
        input.nextToken as string | undefined,
        input.limit as number | undefined,
        50,
      );
      return { logGroups: p.items.map(shape), ...(p.next ? { nextToken: p.next } : {}) };
    },
    DeleteLogGroup(ctx, input) {
      w.remove(group(ctx.region, input.logGroupName as string));
      return {};
    },
    PutRetentionPolicy(ctx, input) {
      const r = group(ctx.region, input.logGroupName as string);
      if (!RETENTIONS.includes(input.retentionInDays as number)) {
        throw err(
          'InvalidParameterException',
          `1 validation error detected: Value '${String(input.retentionInDays)}' at 'retentionInDays' failed to satisfy constraint`,
        );
      }
      r.data.retentionInDays = input.retentionInDays;
      return {};
    },
    DeleteRetentionPolicy(ctx, input) {
      delete group(ctx.region, input.logGroupName as string).data.retentionInDays;
      return {};
    },
    AssociateKmsKey(ctx, input) {
      const r = group(ctx.region, input.logGroupName as string);
      r.data.kmsKeyId = checkKey(ctx.region, input.kmsKeyId as string, r.id);
      return {};
    },
    DisassociateKmsKey(ctx, input) {
      delete group(ctx.region, input.logGroupName as string).data.kmsKeyId;
      return {};
    },
    PutMetricFilter(ctx, input) {
      const r = group(ctx.region, input.logGroupName as string);
      const filters = r.data.filters as Record<string, In>;
      if (!filters[input.filterName as string] && Object.keys(filters).length >= 100)
        throw err('LimitExceededException', 'Resource limit exceeded.');
      filters[input.filterName as string] = {
        filterName: input.filterName,
        filterPattern: input.filterPattern,
        metricTransformations: clone(input.metricTransformations),
        creationTime: w.now(),
        logGroupName: r.id,
      };
      return {};
    },
    DescribeMetricFilters(ctx, input) {
      const groups = input.logGroupName
        ? [group(ctx.region, input.logGroupName as string)]
        : w.find(LOG_GROUP, ctx.region);
      let list = groups.flatMap((g) => Object.values(g.data.filters as Record<string, In>));
      if (input.filterNamePrefix)
        list = list.filter((f) =>
          String(f.filterName).startsWith(input.filterNamePrefix as string),
        );
      const p = page(
        list,
        input.nextToken as string | undefined,
        input.limit as number | undefined,
        50,
      );
      return { metricFilters: clone(p.items), ...(p.next ? { nextToken: p.next } : {}) };
    },
    DeleteMetricFilter(ctx, input) {
      const r = group(ctx.region, input.logGroupName as string);
      delete (r.data.filters as Record<string, In>)[input.filterName as string];
      return {};
    },
    ListTagsForResource(ctx, input) {
      const r = group(ctx.region, nameOfArn(input.resourceArn as string));
      return { tags: { ...r.tags } };
    },
    TagResource(ctx, input) {
      const r = group(ctx.region, nameOfArn(input.resourceArn as string));
      Object.assign(r.tags, input.tags ?? {});
      return {};
    },
    UntagResource(ctx, input) {
      const r = group(ctx.region, nameOfArn(input.resourceArn as string));
      for (const k of (input.tagKeys ?? []) as string[]) delete r.tags[k];
      return {};
    },
  };
  return { service: 'logs', handlers };
}
