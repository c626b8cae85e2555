import { relative } from 'node:path';
import {
  modelsAvailable,
  operation,
  paginators,
  serviceModel,
  validate,
  type Violation,
} from './models.js';

/**
 * The one place every AWS request a test sends is checked against AWS's own model, and every
 * answer the fake cloud gives against the operation's output shape. aws-sdk-client-mock (the
 * strict mocks and the fake cloud alike) replaces `send` with a sinon stub; `install()` in
 * setup.ts instruments every such stub, so no test has to opt in.
 */

export type ViolationKind = 'request' | 'answer' | 'unpaginated' | 'unknown-operation';

export interface Finding {
  kind: ViolationKind;
  service: string;
  operation: string;
  /** Where in src/ the command was sent from (file:line), or the test file. */
  where: string;
  path: string;
  message: string;
}

export interface Stats {
  requests: number;
  operations: Set<string>;
  answers: number;
  paginated: Set<string>;
  findings: Finding[];
}

const STATE_KEY = Symbol.for('cloudmart.aws-models.state');
interface State {
  /** Set by the vitest setup file: outside vitest (bench, child processes) nothing is checked. */
  enabled: boolean;
  stats: Stats;
  /** Findings since the current test started (the setup file fails the test on them). */
  pending: Finding[];
}
const state: State = ((globalThis as Record<symbol, unknown>)[STATE_KEY] ??= {
  stats: { requests: 0, operations: new Set(), answers: 0, paginated: new Set(), findings: [] },
  pending: [],
}) as State;

export function enableChecks(): void {
  state.enabled = true;
}

export function stats(): Stats {
  return state.stats;
}

/** Findings since the last call, then forgets them (per test). */
export function takePending(): Finding[] {
  return state.pending.splice(0);
}

/** For the validator's own tests: findings provoked on purpose, left out of the report too. */
export function takeExpected(): Finding[] {
  const found = takePending();
  const all = state.stats.findings;
  for (const f of found) {
    const i = all.indexOf(f);
    if (i >= 0) all.splice(i, 1);
  }
  return found;
}

function record(f: Finding): void {
  state.stats.findings.push(f);
  state.pending.push(f);
}

const ROOT = relative('/', `${import.meta.dirname}/../../..`);

/** The stack here, deep enough to reach the step through sinon's and the SDK's frames. */
export function captureStack(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  try {
    return new Error().stack ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The first frame of the stack in src/ past the client factory (the step that sent it), else in test/. */
export function callSite(stack = new Error().stack ?? ''): string {
  const frames = stack
    .split('\n')
    .map((l) => /\(?(\/[^():]+):(\d+):\d+\)?$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: relative(`/${ROOT}`, m[1]!), line: m[2]! }))
    .filter((f) => !f.file.startsWith('..') && !f.file.includes('node_modules'));
  // The client factory's wrapper around send (timeouts, abort) is not the caller.
  const src = frames.find((f) => f.file.startsWith('src/') && f.file !== 'src/aws/clients.ts');
  const test = frames.find(
    (f) => f.file.startsWith('test/') && !f.file.startsWith('test/helpers/'),
  );
  const at = src ?? test ?? frames[0];
  return at ? `${at.file}:${at.line}` : '(unknown)';
}

/**
 * Paginated operations that provably answer in one page when called this way: the request
 * names the resources it wants by identifier, so AWS answers at most one item per identifier
 * (EC2: "specify a list of resource IDs in your describe calls", and MaxResults cannot be
 * combined with IDs: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-pagination.html).
 * Anything else that has a paginator in paginators-1.json must read every page through the
 * SDK's paginateXxx helper.
 */
const has =
  (...members: string[]) =>
  (input: Record<string, unknown>) =>
    members.some((m) => {
      const v = input[m];
      return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null && v !== '';
    });
const ONE_PAGE: Record<string, (input: Record<string, unknown>) => boolean> = {
  'rds.DescribeDBInstances': has('DBInstanceIdentifier'),
  'rds.DescribeDBSnapshots': has('DBSnapshotIdentifier'),
  'rds.DescribeDBSubnetGroups': has('DBSubnetGroupName'),
  'rds.DescribeDBParameterGroups': has('DBParameterGroupName'),
  'rds.DescribeDBInstanceAutomatedBackups': has('DbiResourceId', 'DBInstanceAutomatedBackupsArn'),
  'elasticache.DescribeReplicationGroups': has('ReplicationGroupId'),
  'elasticache.DescribeCacheClusters': has('CacheClusterId'),
  'elasticache.DescribeCacheSubnetGroups': has('CacheSubnetGroupName'),
  'elbv2.DescribeLoadBalancers': has('LoadBalancerArns', 'Names'),
  'elbv2.DescribeTargetGroups': has('TargetGroupArns', 'Names'),
  'elbv2.DescribeListeners': has('ListenerArns'),
  'ec2.DescribeVpcs': has('VpcIds'),
  'ec2.DescribeSubnets': has('SubnetIds'),
  'ec2.DescribeNatGateways': has('NatGatewayIds'),
  'ec2.DescribeInstances': has('InstanceIds'),
  'ec2.DescribeSecurityGroups': has('GroupIds'),
  'ec2.DescribeSecurityGroupRules': has('SecurityGroupRuleIds'),
  'ec2.DescribeRouteTables': has('RouteTableIds'),
  'ec2.DescribeInternetGateways': has('InternetGatewayIds'),
  'ec2.DescribeNetworkInterfaces': has('NetworkInterfaceIds'),
  'ec2.DescribeVolumes': has('VolumeIds'),
  'ec2.DescribeFlowLogs': has('FlowLogIds'),
  'ec2.DescribeLaunchTemplates': has('LaunchTemplateIds', 'LaunchTemplateNames'),
  'ec2.DescribeLaunchTemplateVersions': has('Versions'),
  'ec2.DescribeManagedPrefixLists': has('PrefixListIds'),
  'autoscaling.DescribeAutoScalingGroups': has('AutoScalingGroupNames'),
  'autoscaling.DescribePolicies': has('PolicyNames'),
  // The newest activity only (Auto Scaling lists them newest first): one item asked for.
  'autoscaling.DescribeScalingActivities': (i) => has('ActivityIds')(i) || i.MaxRecords === 1,
  'cloudwatch.DescribeAlarms': has('AlarmNames'),
  // A point lookup: the records from one name and type on, as many as MaxItems says.
  'route53.ListResourceRecordSets': (i) => has('StartRecordName')(i) && has('MaxItems')(i),
};

/**
 * Paginated in AWS's model but without a paginateXxx helper in the SDK (their tokens are
 * pairs), so cloudmart pages them by hand; the fake cloud pages them too.
 */
export const NO_SDK_PAGINATOR = new Set([
  'route53.ListResourceRecordSets',
  's3.ListObjectVersions',
]);

export function paginatorOf(service: string, op: string) {
  return paginators(service)[op];
}

/** A request an SDK client sent (through a strict mock or the fake cloud). */
export function checkRequest(
  service: string,
  command: string,
  input: unknown,
  stack?: string,
): Finding[] {
  if (!state.enabled || !modelsAvailable()) return [];
  // The stack is read only when needed (a paginated list, a finding): it is the slow part.
  const trace = () => (stack ??= captureStack());
  const op = command.replace(/Command$/, '');
  const found: Array<Omit<Finding, 'where'>> = [];
  state.stats.requests++;
  state.stats.operations.add(`${service}.${op}`);
  const model = operation(service, op);
  if (!model) {
    found.push({
      kind: 'unknown-operation',
      service,
      operation: op,
      path: '',
      message: `AWS's ${serviceModel(service).metadata.serviceId} model has no operation ${op}`,
    });
  } else if (model.input) {
    for (const v of validate(service, model.input.shape, input ?? {}, 'input'))
      found.push({ kind: 'request', service, operation: op, ...v });
  }
  const pager = paginators(service)[op];
  if (pager) {
    state.stats.paginated.add(`${service}.${op}`);
    // cloudmart's calls (src/) must read every page; a test may ask for one on purpose.
    if (
      !onePage(service, op, (input ?? {}) as Record<string, unknown>) &&
      !NO_SDK_PAGINATOR.has(`${service}.${op}`) &&
      !/\bmakePagedClientRequest\b|\bpaginateOperation\b/.test(trace()) &&
      callSite(trace()).startsWith('src/')
    )
      found.push({
        kind: 'unpaginated',
        service,
        operation: op,
        path: '',
        message: `${op} pages its results (paginators-1.json: ${JSON.stringify(pager.output_token)}); read every page with paginate${op}, or name one resource`,
      });
  }
  return finish(found, trace);
}

/** Whether a request provably needs no second page (it names the resources it wants). */
export function onePage(service: string, op: string, input: Record<string, unknown>): boolean {
  const proof = ONE_PAGE[`${service}.${op}`];
  return proof !== undefined && proof(input);
}

function finish(found: Array<Omit<Finding, 'where'>>, trace: () => string): Finding[] {
  if (found.length === 0) return [];
  const where = callSite(trace());
  const out = found.map((f) => ({ ...f, where }));
  for (const f of out) record(f);
  return out;
}

/** An answer the fake cloud gave. */
export function checkAnswer(service: string, command: string, output: unknown): Finding[] {
  if (!state.enabled || !modelsAvailable()) return [];
  const op = command.replace(/Command$/, '');
  const model = operation(service, op);
  state.stats.answers++;
  if (!model) return [];
  const found: Array<Omit<Finding, 'where'>> = [];
  if (model.output) {
    for (const v of validate(service, model.output.shape, output ?? {}, 'output'))
      found.push({ kind: 'answer', service, operation: op, ...v });
  } else {
    const extra = Object.keys(output ?? {}).filter(
      (k) => k !== '$metadata' && (output as Record<string, unknown>)[k] !== undefined,
    );
    if (extra.length > 0)
      found.push({
        kind: 'answer',
        service,
        operation: op,
        path: extra.join(', '),
        message: `${op} answers nothing but metadata`,
      });
  }
  return finish(found, captureStack);
}

export function formatFinding(f: Finding): string {
  const what =
    f.kind === 'answer'
      ? 'fake-cloud answer'
      : f.kind === 'unpaginated'
        ? 'unpaginated call'
        : 'request';
  return `${f.where}: ${f.service}.${f.operation} ${what}${f.path ? ` ${f.path}` : ''}: ${f.message}`;
}

/** Sinon stubs of SDK clients' `send`, by service; instrumented once each. */
const INSTRUMENTED = Symbol.for('cloudmart.aws-models.instrumented');

/**
 * Make a sinon stub of `Client.prototype.send` check each command before answering.
 * aws-sdk-client-mock's `mockClient` creates the stub with `sinon.stub(prototype, 'send')`;
 * sinon proxies every call through the stub's own `invoke`, which we wrap.
 */
export function instrumentSendStub(service: string, stub: Record<PropertyKey, unknown>): void {
  if (stub[INSTRUMENTED]) return;
  stub[INSTRUMENTED] = true;
  const invoke = stub.invoke as (func: unknown, thisValue: unknown, args: unknown[]) => unknown;
  stub.invoke = function (this: unknown, func: unknown, thisValue: unknown, args: unknown[]) {
    const command = args[0] as { constructor?: { name?: string }; input?: unknown } | undefined;
    const name = command?.constructor?.name;
    if (name && name.endsWith('Command')) checkRequest(service, name, command?.input);
    return invoke.call(this, func, thisValue, args);
  };
}

export type { Violation };
