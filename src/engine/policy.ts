import type { Step } from './step.js';

/**
 * Calls the tool itself makes outside any step: the credentials check, destroy's final sweep
 * (src/engine/sweep.ts) and `cost --live`.
 */
const TOOL_ACTIONS = [
  'sts:GetCallerIdentity',
  // sweep
  'tag:GetResources',
  'autoscaling:DescribeAutoScalingGroups',
  'backup:DescribeBackupVault',
  'backup:ListBackupVaults',
  'rds:DescribeDBInstanceAutomatedBackups',
  'cloudwatch:ListDashboards',
  'ec2:DescribeInstances',
  'ec2:DescribeNatGateways',
  'iam:GetInstanceProfile',
  'iam:GetRole',
  'kms:DescribeKey',
  'logs:DescribeLogGroups',
  'rds:DescribeDBSnapshots',
  // cost --live
  'pricing:GetProducts',
  'cloudtrail:DescribeTrails',
];

/** IAM's quota for one customer managed policy, whitespace not counted. */
export const MANAGED_POLICY_MAX_CHARS = 6144;
/** IAM's default quota of managed policies attached to one user or role. */
export const MANAGED_POLICIES_PER_PRINCIPAL = 10;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: '*';
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface NamedPolicy {
  /** Name to create it under: cloudmart-operator-1, -2, … */
  name: string;
  /** The services (IAM prefixes) it grants actions of. */
  services: string[];
  /** Its size as IAM counts it (no whitespace). */
  characters: number;
  document: PolicyDocument;
}

/** Every action the operator needs: the steps' declared actions and the tool's own, sorted. */
export function operatorActions(steps: readonly Step[]): string[] {
  return [...new Set([...TOOL_ACTIONS, ...steps.flatMap((s) => s.actions)])]
    .filter((a) => a.split(':')[0])
    .sort();
}

/** The size IAM checks against its quota: the JSON without whitespace. */
export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).replace(/\s/g, '').length;
}

const sidOf = (service: string, part: number) =>
  `Cloudmart${service.replace(/[^A-Za-z0-9]/g, '').replace(/^./, (c) => c.toUpperCase())}` +
  (part > 1 ? `Part${part}` : '');

const documentOf = (statements: PolicyStatement[]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: statements,
});

/** One statement per service, in service order: the whole policy in one document. */
function statements(steps: readonly Step[], maxChars: number): PolicyStatement[] {
  const byService = new Map<string, string[]>();
  for (const action of operatorActions(steps)) {
    const service = action.split(':')[0]!;
    byService.set(service, [...(byService.get(service) ?? []), action]);
  }
  const out: PolicyStatement[] = [];
  for (const [service, actions] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    // A service with more actions than one document holds is split over several statements.
    let part = 1;
    let current: string[] = [];
    const statement = (list: string[], n: number): PolicyStatement => ({
      Sid: sidOf(service, n),
      Effect: 'Allow',
      Action: list,
      Resource: '*',
    });
    for (const action of actions) {
      if (
        current.length > 0 &&
        policySize(documentOf([statement([...current, action], part)])) > maxChars
      ) {
        out.push(statement(current, part++));
        current = [];
      }
      current.push(action);
    }
    out.push(statement(current, part));
  }
  return out;
}

/**
 * The IAM policy the person running cloudmart needs, as one document: exactly the actions the
 * steps declare plus the tool's own, one statement per service. Too big for one managed
 * policy: `operatorPolicies` splits it.
 */
export function operatorPolicy(steps: readonly Step[]): PolicyDocument {
  return documentOf(statements(steps, MANAGED_POLICY_MAX_CHARS));
}

/**
 * The same actions as customer managed policies IAM accepts: each document at most
 * `maxChars` characters (IAM: 6,144, whitespace not counted), filled with whole service
 * statements in service order, so a service is never spread over two policies unless it
 * alone is too big for one.
 */
export function operatorPolicies(
  steps: readonly Step[],
  maxChars = MANAGED_POLICY_MAX_CHARS,
): NamedPolicy[] {
  const groups: PolicyStatement[][] = [];
  let current: PolicyStatement[] = [];
  for (const s of statements(steps, maxChars)) {
    if (current.length > 0 && policySize(documentOf([...current, s])) > maxChars) {
      groups.push(current);
      current = [];
    }
    current.push(s);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((group, i) => {
    const document = documentOf(group);
    return {
      name: `cloudmart-operator-${i + 1}`,
      services: [...new Set(group.flatMap((s) => s.Action.map((a) => a.split(':')[0]!)))],
      characters: policySize(document),
      document,
    };
  });
}
