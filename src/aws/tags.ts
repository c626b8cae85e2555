import type { Config } from '../config/schema.js';
import type { TagSet } from '../engine/step.js';

export const STACK_TAG = 'cloudmart:stack';
export const STEP_TAG = 'cloudmart:step';

/** The tag set every taggable resource gets at creation. */
export function tagSet(config: Config, stepId: string): TagSet {
  const map = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({
    ...config.tags,
    ...extra,
    Name: name,
    [STACK_TAG]: config.stack,
    [STEP_TAG]: stepId,
  });
  return {
    map,
    list: (name, extra) => Object.entries(map(name, extra)).map(([Key, Value]) => ({ Key, Value })),
  };
}

/** EC2-style filters that find this stack's resources of one step (and optionally one Name). */
export function stackFilters(
  config: Config,
  stepId: string,
  name?: string,
): Array<{ Name: string; Values: string[] }> {
  const filters = [
    { Name: `tag:${STACK_TAG}`, Values: [config.stack] },
    { Name: `tag:${STEP_TAG}`, Values: [stepId] },
  ];
  if (name !== undefined) filters.push({ Name: 'tag:Name', Values: [name] });
  return filters;
}

/** Read a tag from an SDK `Tags` list. */
export function tagValue(
  tags: Array<{ Key?: string; Value?: string }> | undefined,
  key: string,
): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** Deterministic resource names: `<stack>-<suffix>`. */
export function resourceName(config: Config, suffix: string): string {
  return `${config.stack}-${suffix}`;
}
