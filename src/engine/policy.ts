import type { Step } from './step.js';
import { ACTION_RESOURCE_TYPES } from '../aws/iam-reference.js';

/**
 * Calls the tool itself makes outside any step: the credentials check, destroy's final sweep
 * (src/engine/sweep.ts), `cost --live` and the hand-in report's pictures (src/report/).
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
  // the sweep confirms what the Tagging API lists and bills (it lags deletes)
  'rds:DescribeDBInstances',
  'elasticache:DescribeReplicationGroups',
  'elasticache:DescribeCacheClusters',
  'elasticloadbalancing:DescribeLoadBalancers',
  'elasticloadbalancing:DescribeListeners',
  'elasticloadbalancing:DescribeTargetGroups',
  'ec2:DescribeVolumes',
  'ec2:DescribeAddresses',
  'cloudfront:GetDistribution',
  's3:ListBucket',
  'cloudwatch:DescribeAlarms',
  // cost --live
  'pricing:GetProducts',
  'cloudtrail:DescribeTrails',
  // verify --report: CloudWatch draws the dashboard's and the alarms' graphs; the architecture
  // picture reads the live instances, database, cache nodes and NAT gateways
  'cloudwatch:GetMetricWidgetImage',
  'cloudwatch:GetDashboard',
  'cloudwatch:DescribeAlarms',
  'rds:DescribeDBInstances',
  'elasticache:DescribeReplicationGroups',
];

/** IAM's quota for one customer managed policy, whitespace not counted. */
export const MANAGED_POLICY_MAX_CHARS = 6144;
/** IAM's default quota of managed policies attached to one user or role. */
export const MANAGED_POLICIES_PER_PRINCIPAL = 10;

export type Condition = Record<string, Record<string, string | string[] | boolean>>;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  /** "*" only for actions IAM offers no resource-level permission for. */
  Resource: string | string[];
  Condition?: Condition;
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

/**
 * How the operator policy tells one stack's resources of an IAM resource type (`service:type`,
 * the Service Authorization Reference's names) from everything else in the account:
 * - `name`: the ARN names the stack's resource (IAM roles, buckets, the ALB, RDS…);
 * - `tag`: the ids are AWS's (VPC, subnets, KMS keys…); the resources carry `cloudmart:stack`
 *   and a request must find it on them (`aws:ResourceTag/cloudmart:stack`);
 * - `foreign`: AWS's own resources cloudmart only reads or refers to (AMIs, managed policies…);
 * - `type`: neither is possible (AWS's ids and no tag condition): the whole type is allowed,
 *   and `cloudmart policy` says so.
 */
export type ScopeKind = 'name' | 'tag' | 'foreign' | 'type';

export interface TypeScope {
  kind: ScopeKind;
  /** ARN patterns (IAM wildcards `*` and `?`). */
  arns: string[];
  /** Plain words for `cloudmart policy`: what these ARNs are. */
  what: string;
}

/** A statement written by hand (iam:PassRole, service-linked roles, …). */
export interface ExtraStatement {
  Sid: string;
  Action: string[];
  Resource: string[];
  Condition?: Condition;
  /** Plain words for `cloudmart policy`. */
  what: string;
}

/** What the stack's resources are called, for the policy to name them (src/steps/permissions.ts). */
export interface OperatorScope {
  stack: string;
  /** The tag key every resource of the stack carries. */
  tagKey: string;
  /** `service:type` → how the stack's resources of that type are named. */
  types: Record<string, TypeScope>;
  /**
   * Create actions → the resource types they create (`*` for a create with no resource type):
   * the request must carry the stack tag (`aws:RequestTag/cloudmart:stack`).
   */
  creates: Record<string, string[]>;
  /**
   * Per action and type, a different answer than `types` gives: `none` drops the tag condition
   * (the request can neither carry nor find it), a TypeScope replaces the ARNs.
   */
  overrides: Record<string, Record<string, 'none' | TypeScope>>;
  /** Statements written by hand; their actions are not scoped again. */
  extra: ExtraStatement[];
  /**
   * The remote state's statements (a config with `state: { backend: s3 }`): added as written,
   * on the state bucket and objects only; the same actions keep their stack-scoped grants.
   */
  state?: ExtraStatement[];
  /** Conditions an action's scoped grants must meet besides their own (the role boundary). */
  conditions?: Record<string, Condition>;
  /** Explicit Deny statements, added as written: they win over any Allow of any policy. */
  deny?: ExtraStatement[];
}

/** Two conditions together: keys of the same operator are merged. */
export function withCondition(
  a: Condition | undefined,
  b: Condition | undefined,
): Condition | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: Condition = { ...a };
  for (const [op, keys] of Object.entries(b)) out[op] = { ...(out[op] ?? {}), ...keys };
  return out;
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

const serviceOf = (action: string) => action.split(':')[0]!;
const capital = (service: string) =>
  service.replace(/[^A-Za-z0-9]/g, '').replace(/^./, (c) => c.toUpperCase());

const documentOf = (statements: PolicyStatement[]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: statements,
});

/**
 * Actions that add tags: they must add the stack tag (`aws:RequestTag`). They also run as part of
 * a create (CloudFront's CreateDistributionWithTags, IAM's CreateRole with Tags), when the new
 * resource has no tag yet to find.
 */
const TAGGING =
  /:(TagResource|AddTags\w*|CreateOrUpdateTags|TagRole|TagInstanceProfile|ChangeTagsForResource)$/;

interface Grant {
  service: string;
  resources: string[] | '*';
  condition?: Condition;
  /** Sid suffix: what the statement is scoped by. */
  by: 'Any' | 'Create' | 'Tagged' | 'Named' | 'Aws' | 'Type';
  /** Sid suffix of a grant under an action's own condition (OperatorScope.conditions). */
  also?: string;
  actions: Set<string>;
}

/**
 * The scoped grants: for every action, each resource type AWS checks for it, named as the stack
 * names it (ACTION_RESOURCE_TYPES, OperatorScope). Actions with the same resources and condition
 * share a statement.
 */
function grants(steps: readonly Step[], scope: OperatorScope): Grant[] {
  const byKey = new Map<string, Grant>();
  const add = (scoped: Omit<Grant, 'actions'>, action: string) => {
    const extra = scope.conditions?.[action];
    const condition = withCondition(scoped.condition, extra);
    const g = {
      ...scoped,
      ...(condition ? { condition } : {}),
      ...(extra ? { also: 'Bounded' } : {}),
    };
    const key = JSON.stringify([g.service, g.resources, g.condition ?? null]);
    const found = byKey.get(key) ?? { ...g, actions: new Set<string>() };
    found.actions.add(action);
    byKey.set(key, found);
  };
  const requestTag = { StringEquals: { [`aws:RequestTag/${scope.tagKey}`]: scope.stack } };
  const resourceTag = { StringEquals: { [`aws:ResourceTag/${scope.tagKey}`]: scope.stack } };
  const handWritten = new Set(scope.extra.flatMap((e) => e.Action));
  for (const action of operatorActions(steps)) {
    if (handWritten.has(action)) continue;
    const service = serviceOf(action);
    const types = ACTION_RESOURCE_TYPES[action];
    if (!types)
      throw new Error(
        `${action}: not in the Service Authorization Reference table (src/aws/iam-reference.ts)`,
      );
    const created = scope.creates[action] ?? [];
    if (types.length === 0) {
      const create = created.includes('*');
      add(
        {
          service,
          resources: '*',
          by: create ? 'Create' : 'Any',
          ...(create ? { condition: requestTag } : {}),
        },
        action,
      );
      continue;
    }
    for (const type of types) {
      const override = scope.overrides[action]?.[type];
      const ts = typeof override === 'object' ? override : scope.types[`${service}:${type}`];
      if (!ts)
        throw new Error(
          `${action}: no scope for the resource type ${service}:${type} (src/steps/permissions.ts)`,
        );
      const resources = [...ts.arns].sort();
      if (override === 'none' || ts.kind === 'foreign' || ts.kind === 'type')
        add({ service, resources, by: ts.kind === 'foreign' ? 'Aws' : 'Type' }, action);
      else if (created.includes(type) || TAGGING.test(action))
        add({ service, resources, by: 'Create', condition: requestTag }, action);
      else if (ts.kind === 'tag')
        add({ service, resources, by: 'Tagged', condition: resourceTag }, action);
      else add({ service, resources, by: 'Named' }, action);
    }
  }
  return [...byKey.values()];
}

/** The policy's statements: scoped grants, then the hand-written ones, in service order. */
function statements(
  steps: readonly Step[],
  scope: OperatorScope,
  maxChars: number,
): PolicyStatement[] {
  const wanted = new Set(operatorActions(steps));
  const out: Array<PolicyStatement & { service: string }> = [];
  const sids = new Map<string, number>();
  const sidFor = (base: string) => {
    const n = (sids.get(base) ?? 0) + 1;
    sids.set(base, n);
    return n === 1 ? base : `${base}${n}`;
  };
  const order = ['Any', 'Create', 'Named', 'Tagged', 'Aws', 'Type'];
  const all = grants(steps, scope).sort(
    (a, b) => a.service.localeCompare(b.service) || order.indexOf(a.by) - order.indexOf(b.by),
  );
  for (const g of all) {
    const base = `Cloudmart${capital(g.service)}${g.by}${g.also ?? ''}`;
    const actions = [...g.actions].sort();
    // A statement too big for one document is split over several, actions in order.
    let current: string[] = [];
    const statement = (list: string[]): PolicyStatement & { service: string } => ({
      service: g.service,
      Sid: '',
      Effect: 'Allow',
      Action: list,
      Resource: g.resources,
      ...(g.condition ? { Condition: g.condition } : {}),
    });
    for (const action of actions) {
      if (
        current.length > 0 &&
        policySize(documentOf([statement([...current, action])])) > maxChars
      ) {
        out.push({ ...statement(current), Sid: sidFor(base) });
        current = [];
      }
      current.push(action);
    }
    out.push({ ...statement(current), Sid: sidFor(base) });
  }
  for (const e of scope.extra) {
    const actions = e.Action.filter((a) => wanted.has(a));
    if (actions.length === 0) continue;
    out.push({
      service: serviceOf(actions[0]!),
      Sid: e.Sid,
      Effect: 'Allow',
      Action: actions,
      Resource: e.Resource,
      ...(e.Condition ? { Condition: e.Condition } : {}),
    });
  }
  // Statements written whole (the denies, and the state backend's allows): every action must
  // be in the reference table, and they are kept as written.
  for (const [effect, written] of [
    ['Deny', scope.deny ?? []],
    ['Allow', scope.state ?? []],
  ] as const) {
    for (const e of written) {
      for (const action of e.Action)
        if (!ACTION_RESOURCE_TYPES[action])
          throw new Error(
            `${action}: not in the Service Authorization Reference table (src/aws/iam-reference.ts)`,
          );
      out.push({
        service: serviceOf(e.Action[0]!),
        Sid: e.Sid,
        Effect: effect,
        Action: [...e.Action].sort(),
        Resource: e.Resource,
        ...(e.Condition ? { Condition: e.Condition } : {}),
      });
    }
  }
  return out
    .sort((a, b) => a.service.localeCompare(b.service))
    .map(({ service: _service, ...s }) => s);
}

/**
 * The IAM policy the person running cloudmart needs, as one document: exactly the actions the
 * steps declare plus the tool's own, each on the stack's resources only (as narrowly as IAM
 * allows for the action). Too big for one managed policy: `operatorPolicies` splits it.
 */
export function operatorPolicy(steps: readonly Step[], scope: OperatorScope): PolicyDocument {
  return documentOf(statements(steps, scope, MANAGED_POLICY_MAX_CHARS));
}

/**
 * The same statements as customer managed policies IAM accepts: each document at most
 * `maxChars` characters (IAM: 6,144, whitespace not counted), filled with whole statements in
 * service order.
 */
export function operatorPolicies(
  steps: readonly Step[],
  scope: OperatorScope,
  maxChars = MANAGED_POLICY_MAX_CHARS,
): NamedPolicy[] {
  const groups: PolicyStatement[][] = [];
  let current: PolicyStatement[] = [];
  for (const s of statements(steps, scope, maxChars)) {
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
      services: [...new Set(group.flatMap((s) => s.Action.map(serviceOf)))],
      characters: policySize(document),
      document,
    };
  });
}

/** Per service, in plain words: what the policy scopes to the stack, and what it cannot. */
export interface ServiceScopeReport {
  service: string;
  /** Named by the stack's names, or by the stack tag. */
  scoped: string[];
  /** AWS's own resources cloudmart only reads or refers to. */
  aws: string[];
  /** Allowed for a whole resource type: no name or tag tells the stack's apart. */
  wholeType: string[];
  /** Actions IAM offers no resource-level permission for: allowed on "*". */
  anyResource: string[];
}

export function scopeReport(steps: readonly Step[], scope: OperatorScope): ServiceScopeReport[] {
  const wanted = new Set(operatorActions(steps));
  const by = new Map<string, ServiceScopeReport>();
  const of = (service: string) => {
    const r = by.get(service) ?? { service, scoped: [], aws: [], wholeType: [], anyResource: [] };
    by.set(service, r);
    return r;
  };
  const push = (list: string[], what: string) => {
    if (!list.includes(what)) list.push(what);
  };
  const handWritten = new Set(scope.extra.flatMap((e) => e.Action));
  for (const action of wanted) {
    const service = serviceOf(action);
    const r = of(service);
    if (handWritten.has(action)) continue;
    const types = ACTION_RESOURCE_TYPES[action] ?? [];
    if (types.length === 0) {
      const create = (scope.creates[action] ?? []).includes('*');
      r.anyResource.push(
        action.split(':')[1]! +
          (create ? ` (only with ${scope.tagKey}=${scope.stack} on what it creates)` : ''),
      );
      continue;
    }
    for (const type of types) {
      const override = scope.overrides[action]?.[type];
      const ts = typeof override === 'object' ? override : scope.types[`${service}:${type}`];
      if (!ts) continue;
      if (override === 'none') push(r.wholeType, `${ts.what}, for ${action}`);
      else if (ts.kind === 'foreign') push(r.aws, ts.what);
      else if (ts.kind === 'type') push(r.wholeType, ts.what);
      else
        push(
          r.scoped,
          ts.kind === 'tag' ? `${ts.what} tagged ${scope.tagKey}=${scope.stack}` : ts.what,
        );
    }
  }
  for (const e of scope.extra) {
    const actions = e.Action.filter((a) => wanted.has(a));
    if (actions.length > 0) push(of(serviceOf(actions[0]!)).scoped, e.what);
  }
  for (const e of scope.state ?? []) push(of(serviceOf(e.Action[0]!)).scoped, e.what);
  for (const e of scope.deny ?? []) push(of(serviceOf(e.Action[0]!)).scoped, e.what);
  for (const r of by.values()) r.anyResource.sort();
  return [...by.values()].sort((a, b) => a.service.localeCompare(b.service));
}
