import type { Step } from './step.js';

/** Calls the tool itself makes outside any step (credentials check, sweep, cost lookup). */
const TOOL_ACTIONS = ['sts:GetCallerIdentity', 'tag:GetResources', 'pricing:GetProducts'];

/**
 * The IAM policy the person running cloudmart needs: exactly the actions the steps declare,
 * one statement per service so it reads well and stays under IAM's size limits.
 */
export function operatorPolicy(steps: readonly Step[]): {
  Version: string;
  Statement: Array<Record<string, unknown>>;
} {
  const byService = new Map<string, Set<string>>();
  for (const action of [...TOOL_ACTIONS, ...steps.flatMap((s) => s.actions)]) {
    const [service] = action.split(':');
    if (!service) continue;
    if (!byService.has(service)) byService.set(service, new Set());
    byService.get(service)!.add(action);
  }
  const statements = [...byService.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([service, actions]) => ({
      Sid: `Cloudmart${service.replace(/[^A-Za-z0-9]/g, '').replace(/^./, (c) => c.toUpperCase())}`,
      Effect: 'Allow',
      Action: [...actions].sort(),
      Resource: '*',
    }));
  return { Version: '2012-10-17', Statement: statements };
}
