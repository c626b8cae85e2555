import type { In, Resource, ServiceName } from '../types.js';
import { globMatch } from '../util.js';
import type { World } from '../world.js';

/** Values a filter name reads from a resource (strings, lists, booleans, numbers). */
export type Fields = Record<string, unknown>;

/**
 * EC2-style filters: `tag:Key`, `tag-key` and the type's own fields; a name the type does not
 * know is refused as EC2 refuses it, so a step with a typo in a filter fails loudly.
 */
export function applyFilters(
  w: World,
  service: ServiceName,
  items: Resource[],
  filters: In,
  fields: (r: Resource) => Fields,
): Resource[] {
  const list = (filters ?? []) as Array<{ Name?: string; Values?: string[] }>;
  if (list.length === 0) return items;
  return items.filter((r) =>
    list.every((f) => {
      const name = f.Name ?? '';
      const values = f.Values ?? [];
      let have: unknown;
      if (name.startsWith('tag:')) {
        const key = name.slice(4);
        have = key in r.tags ? r.tags[key] : undefined;
      } else if (name === 'tag-key') {
        have = Object.keys(r.tags);
      } else if (name === 'tag-value') {
        have = Object.values(r.tags);
      } else {
        const all = fields(r);
        if (!(name in all)) {
          throw w.error(service, 'InvalidParameterValue', `The filter '${name}' is invalid`);
        }
        have = all[name];
      }
      const haves = (Array.isArray(have) ? have : [have])
        .filter((v) => v !== undefined && v !== null)
        .map(String);
      return values.some((v) => haves.some((h) => globMatch(v, h)));
    }),
  );
}

/** `[{Key, Value}]` for responses. */
export function tags(r: Resource): Array<{ Key: string; Value: string }> {
  return Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value }));
}

export function date(ms: number | undefined): Date | undefined {
  return ms === undefined ? undefined : new Date(ms);
}

/** Is this KMS key reference usable in `region`? Returns the key resource or undefined. */
export function findKey(w: World, region: string, ref: string | undefined): Resource | undefined {
  if (!ref) return undefined;
  const keyRegion = ref.startsWith('arn:') ? (ref.split(':')[3] ?? region) : region;
  if (keyRegion !== region) return undefined;
  let id = ref;
  if (ref.startsWith('arn:')) {
    const res = ref.split(':').slice(5).join(':');
    if (res.startsWith('alias/')) id = res;
    else id = res.replace(/^key\//, '');
  }
  if (id.startsWith('alias/')) {
    const alias = w.live('kms:alias', region, id);
    if (!alias) return undefined;
    id = alias.data.targetKeyId as string;
  }
  return w.get('kms:key', region, id);
}

/** A key that exists and is Enabled, or undefined. */
export function usableKey(w: World, region: string, ref: string | undefined): Resource | undefined {
  const k = findKey(w, region, ref);
  return k && k.state === 'Enabled' ? k : undefined;
}
