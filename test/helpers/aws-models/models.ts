import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * AWS's own API models (botocore's `service-2.json`, `waiters-2.json`, `paginators-1.json`)
 * for the 22 services cloudmart calls, read at test time from `../shared/aws-models/` next to
 * the repository (never copied into it). Each file is parsed once per process.
 */
export const MODELS_DIR = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'aws-models');

/** cloudmart's service name (src/aws/clients.ts) → the model folder (botocore's service id). */
export const MODEL_FOLDER: Record<string, string> = {
  acm: 'acm',
  autoscaling: 'autoscaling',
  backup: 'backup',
  cloudfront: 'cloudfront',
  cloudtrail: 'cloudtrail',
  cloudwatch: 'cloudwatch',
  logs: 'logs',
  ec2: 'ec2',
  elasticache: 'elasticache',
  elbv2: 'elbv2',
  iam: 'iam',
  kms: 'kms',
  pricing: 'pricing',
  rds: 'rds',
  tagging: 'resourcegroupstaggingapi',
  route53: 'route53',
  s3: 's3',
  secretsmanager: 'secretsmanager',
  sns: 'sns',
  ssm: 'ssm',
  sts: 'sts',
  wafv2: 'wafv2',
};

/** `@aws-sdk/client-<package>` → cloudmart's service name. */
export const PACKAGE_SERVICE: Record<string, string> = {
  acm: 'acm',
  'auto-scaling': 'autoscaling',
  backup: 'backup',
  cloudfront: 'cloudfront',
  cloudtrail: 'cloudtrail',
  cloudwatch: 'cloudwatch',
  'cloudwatch-logs': 'logs',
  ec2: 'ec2',
  'elastic-load-balancing-v2': 'elbv2',
  elasticache: 'elasticache',
  iam: 'iam',
  kms: 'kms',
  pricing: 'pricing',
  rds: 'rds',
  'resource-groups-tagging-api': 'tagging',
  'route-53': 'route53',
  s3: 's3',
  'secrets-manager': 'secretsmanager',
  sns: 'sns',
  ssm: 'ssm',
  sts: 'sts',
  wafv2: 'wafv2',
};

/** The SDK client class of each service, as aws-sdk-client-mock sees it. */
export const SERVICE_OF_CLIENT: Record<string, string> = {
  ACMClient: 'acm',
  AutoScalingClient: 'autoscaling',
  BackupClient: 'backup',
  CloudFrontClient: 'cloudfront',
  CloudTrailClient: 'cloudtrail',
  CloudWatchClient: 'cloudwatch',
  CloudWatchLogsClient: 'logs',
  EC2Client: 'ec2',
  ElastiCacheClient: 'elasticache',
  ElasticLoadBalancingV2Client: 'elbv2',
  IAMClient: 'iam',
  KMSClient: 'kms',
  PricingClient: 'pricing',
  RDSClient: 'rds',
  ResourceGroupsTaggingAPIClient: 'tagging',
  Route53Client: 'route53',
  S3Client: 's3',
  SecretsManagerClient: 'secretsmanager',
  SNSClient: 'sns',
  SSMClient: 'ssm',
  STSClient: 'sts',
  WAFV2Client: 'wafv2',
};

export interface ShapeRef {
  shape: string;
  idempotencyToken?: boolean;
  location?: string;
  locationName?: string;
  streaming?: boolean;
  documentation?: string;
}

export interface Shape {
  type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'float'
    | 'double'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  union?: boolean;
  streaming?: boolean;
  document?: boolean;
  exception?: boolean;
}

export interface Operation {
  name: string;
  input?: ShapeRef;
  output?: ShapeRef;
}

export interface ServiceModel {
  metadata: { protocol: string; serviceId: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

export interface Paginator {
  input_token: string | string[];
  output_token: string | string[];
  limit_key?: string;
  result_key?: string | string[];
  more_results?: string;
}

export interface Acceptor {
  state: 'success' | 'failure' | 'retry';
  matcher: 'path' | 'pathAll' | 'pathAny' | 'status' | 'error';
  argument?: string;
  expected: unknown;
}

export interface Waiter {
  operation: string;
  acceptors: Acceptor[];
}

interface Loaded {
  service?: ServiceModel;
  paginators?: Record<string, Paginator>;
  waiters?: Record<string, Waiter>;
}

/** One cache per process, kept on globalThis so every test file in a worker shares it. */
const CACHE_KEY = Symbol.for('cloudmart.aws-models.cache');
const cache: Map<string, Loaded> = ((globalThis as Record<symbol, unknown>)[CACHE_KEY] ??= new Map<
  string,
  Loaded
>()) as Map<string, Loaded>;

function entry(service: string): Loaded {
  let e = cache.get(service);
  if (!e) cache.set(service, (e = {}));
  return e;
}

function folder(service: string): string {
  const f = MODEL_FOLDER[service];
  if (!f) throw new Error(`aws-models: no model folder for service '${service}'`);
  return join(MODELS_DIR, f);
}

let available: boolean | undefined;
export function modelsAvailable(): boolean {
  return (available ??= existsSync(join(MODELS_DIR, 'ec2', 'service-2.json')));
}

export function serviceModel(service: string): ServiceModel {
  const e = entry(service);
  e.service ??= JSON.parse(
    readFileSync(join(folder(service), 'service-2.json'), 'utf8'),
  ) as ServiceModel;
  return e.service;
}

export function paginators(service: string): Record<string, Paginator> {
  const e = entry(service);
  if (!e.paginators) {
    const file = join(folder(service), 'paginators-1.json');
    e.paginators = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { pagination: Record<string, Paginator> })
          .pagination
      : {};
  }
  return e.paginators;
}

export function waiters(service: string): Record<string, Waiter> {
  const e = entry(service);
  if (!e.waiters) {
    const file = join(folder(service), 'waiters-2.json');
    e.waiters = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { waiters: Record<string, Waiter> }).waiters
      : {};
  }
  return e.waiters;
}

export function operation(service: string, name: string): Operation | undefined {
  return serviceModel(service).operations[name];
}

export interface Violation {
  /** `Filters[0].Name` */
  path: string;
  message: string;
}

type Direction = 'input' | 'output';

/**
 * Members the SDK accepts although the model does not list them, or fills by itself.
 * Route 53: the SDK strips `/hostedzone/`, `/change/` and `/delegationset/` from `Id`,
 * `HostedZoneId` and `DelegationSetId` (and from alias targets in ChangeResourceRecordSets)
 * before sending (@aws-sdk/middleware-sdk-route53), so the model's length limit applies to
 * what is left.
 */
const ROUTE53_PREFIX = /^\/(hostedzone|change|delegationset)\//;
const ROUTE53_ID_MEMBERS = new Set(['Id', 'HostedZoneId', 'DelegationSetId']);

/**
 * Members botocore types as strings that the SDK for JavaScript v3 types (and serialises) as
 * numbers: Route 53's and CloudFront's `MaxItems` (`MaxItems?: number` in the SDK's models).
 */
const SDK_NUMBER_MEMBERS = new Set(['route53.MaxItems', 'cloudfront.MaxItems']);

/**
 * ECMAScript versions of the models' (Java-flavoured) patterns, matched against the whole
 * value as AWS's services do (IAM's `[\w+=,.@-]+` refuses a role name with a space: "with no
 * spaces", https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html); null when
 * JavaScript cannot read one.
 */
const patterns = new Map<string, RegExp | null>();
function regex(p: string): RegExp | null {
  let r = patterns.get(p);
  if (r === undefined) {
    r = null;
    for (const flags of ['u', '']) {
      try {
        r = new RegExp(`^(?:${p})$`, flags);
        break;
      } catch {
        // try the next flavour; give up on patterns JavaScript cannot express
      }
    }
    patterns.set(p, r);
  }
  return r;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a Date';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '…' : v)}`;
  return `${typeof v} ${typeof v === 'object' ? '' : JSON.stringify(v)}`.trim();
}

/**
 * Check a value against a shape of `service`'s model. Input checks what AWS validates on a
 * request (required members, unknown members, enums, lengths, patterns, ranges, list sizes);
 * output checks what the SDK would hand back (only members AWS sends, right types, enum values).
 */
export function validate(
  service: string,
  shapeName: string,
  value: unknown,
  direction: Direction,
): Violation[] {
  const model = serviceModel(service);
  const out: Violation[] = [];
  walk(model, service, model.shapes[shapeName]!, shapeName, value, '', direction, out, undefined);
  return out;
}

function walk(
  model: ServiceModel,
  service: string,
  shape: Shape,
  shapeName: string,
  value: unknown,
  path: string,
  dir: Direction,
  out: Violation[],
  ref: ShapeRef | undefined,
): void {
  const at = path || '(request)';
  const bad = (message: string): void => {
    out.push({ path: at, message });
  };
  switch (shape.type) {
    case 'structure': {
      if (shape.document) return;
      if (!isPlainObject(value))
        return bad(`expected a structure (${shapeName}), got ${describe(value)}`);
      const members = shape.members ?? {};
      const present: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (dir === 'output' && k === '$metadata' && path === '') continue;
        if (v === undefined || v === null) continue;
        const m = members[k];
        const p = path ? `${path}.${k}` : k;
        if (!m) {
          out.push({
            path: p,
            message:
              dir === 'input'
                ? `is not a member of ${shapeName} (AWS's model lists: ${Object.keys(members).join(', ') || 'none'})`
                : `is not a member AWS sends in ${shapeName} (members: ${Object.keys(members).join(', ') || 'none'})`,
          });
          continue;
        }
        present.push(k);
        let child: unknown = v;
        if (
          service === 'route53' &&
          dir === 'input' &&
          ROUTE53_ID_MEMBERS.has(k) &&
          typeof v === 'string'
        )
          child = v.replace(ROUTE53_PREFIX, '');
        walk(model, service, model.shapes[m.shape]!, m.shape, child, p, dir, out, m);
      }
      if (dir === 'input') {
        for (const r of shape.required ?? []) {
          const v = value[r];
          if ((v === undefined || v === null) && !members[r]?.idempotencyToken)
            out.push({
              path: path ? `${path}.${r}` : r,
              message: `is required by ${shapeName} and missing`,
            });
        }
      }
      if (shape.union && present.length !== 1)
        bad(`${shapeName} is a union: exactly one member must be set, got ${present.length}`);
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) return bad(`expected a list, got ${describe(value)}`);
      if (dir === 'input') {
        if (shape.min !== undefined && value.length < shape.min)
          bad(`has ${value.length} items; AWS requires at least ${shape.min}`);
        if (shape.max !== undefined && value.length > shape.max)
          bad(`has ${value.length} items; AWS allows at most ${shape.max}`);
      }
      const m = shape.member!;
      value.forEach((item, i) =>
        walk(model, service, model.shapes[m.shape]!, m.shape, item, `${at}[${i}]`, dir, out, m),
      );
      return;
    }
    case 'map': {
      if (!isPlainObject(value)) return bad(`expected a map, got ${describe(value)}`);
      const entries = Object.entries(value);
      if (dir === 'input') {
        if (shape.min !== undefined && entries.length < shape.min)
          bad(`has ${entries.length} entries; AWS requires at least ${shape.min}`);
        if (shape.max !== undefined && entries.length > shape.max)
          bad(`has ${entries.length} entries; AWS allows at most ${shape.max}`);
      }
      const k = shape.key!;
      const v = shape.value!;
      for (const [key, item] of entries) {
        walk(model, service, model.shapes[k.shape]!, k.shape, key, `${at}{${key}}`, dir, out, k);
        walk(model, service, model.shapes[v.shape]!, v.shape, item, `${at}.${key}`, dir, out, v);
      }
      return;
    }
    case 'string': {
      if (
        typeof value === 'number' &&
        Number.isInteger(value) &&
        SDK_NUMBER_MEMBERS.has(`${service}.${/([A-Za-z0-9_]+)(\[\d+\])*$/.exec(path)?.[1] ?? ''}`)
      )
        return;
      if (typeof value !== 'string') return bad(`expected a string, got ${describe(value)}`);
      // A value outside the enum passes only where the member's own documentation names it
      // (EC2: an internet gateway's attachment is "available", not in AttachmentStatus).
      if (
        shape.enum &&
        !shape.enum.includes(value) &&
        !(ref?.documentation ?? '').includes(`<code>${value}</code>`)
      )
        return bad(`${describe(value)} is not one of ${shapeName}: ${shape.enum.join(', ')}`);
      if (dir === 'output') return;
      const length = [...value].length;
      if (shape.min !== undefined && length < shape.min)
        bad(`is ${length} characters; AWS requires at least ${shape.min}`);
      if (shape.max !== undefined && length > shape.max)
        bad(`is ${length} characters; AWS allows at most ${shape.max}`);
      if (shape.pattern) {
        const r = regex(shape.pattern);
        if (r && !r.test(value))
          bad(`${describe(value)} does not match ${shapeName}'s pattern ${shape.pattern}`);
      }
      return;
    }
    case 'integer':
    case 'long':
    case 'float':
    case 'double': {
      if (typeof value !== 'number' || Number.isNaN(value))
        return bad(`expected a number, got ${describe(value)}`);
      if ((shape.type === 'integer' || shape.type === 'long') && !Number.isInteger(value))
        return bad(`expected a whole number, got ${value}`);
      if (dir === 'output') return;
      if (shape.min !== undefined && value < shape.min)
        bad(`is ${value}; AWS requires ≥ ${shape.min}`);
      if (shape.max !== undefined && value > shape.max)
        bad(`is ${value}; AWS allows ≤ ${shape.max}`);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') bad(`expected a boolean, got ${describe(value)}`);
      return;
    case 'timestamp':
      // The SDK takes and returns timestamps as Date objects.
      if (!(value instanceof Date) || Number.isNaN(value.getTime()))
        bad(`expected a Date (timestamp), got ${describe(value)}`);
      return;
    case 'blob': {
      const streaming = shape.streaming || ref?.streaming;
      if (dir === 'input') {
        // The SDK serialises strings and byte arrays (and streams where the model streams).
        if (typeof value === 'string' || value instanceof Uint8Array) return;
        if (streaming && typeof value === 'object' && value !== null) return;
        return bad(`expected bytes (Uint8Array or string), got ${describe(value)}`);
      }
      // The SDK hands back bytes, or for a streaming body an object with transformToString().
      if (value instanceof Uint8Array) return;
      if (
        streaming &&
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { transformToString?: unknown }).transformToString === 'function'
      )
        return;
      return bad(
        `expected ${streaming ? 'a stream with transformToString()' : 'bytes (Uint8Array)'}, got ${describe(value)}`,
      );
    }
    default:
      return;
  }
}

/** `DescribeDBInstancesCommand` → `DescribeDBInstances`; checks the model knows it. */
export function operationOfCommand(command: string): string {
  return command.replace(/Command$/, '');
}

/**
 * Every value AWS's model names for a state: enum values of the member's shape, values its
 * documentation names (`<code>available</code>`), and the `expected` values of waiter
 * acceptors whose path ends in that member.
 */
export function documentedStates(service: string, member: string): Set<string> {
  const model = serviceModel(service);
  const states = new Set<string>();
  for (const shape of Object.values(model.shapes)) {
    const ref = shape.members?.[member];
    if (!ref) continue;
    const target = model.shapes[ref.shape];
    for (const v of target?.enum ?? []) states.add(v);
    // "The current state of this replication group - <code>creating</code>, …"
    for (const m of (ref.documentation ?? '').matchAll(/<code>([^<]+)<\/code>/g)) states.add(m[1]!);
  }
  for (const w of Object.values(waiters(service))) {
    for (const a of w.acceptors) {
      if (a.matcher === 'status' || a.matcher === 'error') continue;
      const last = (a.argument ?? '')
        .split(/[.[\]|& ]+/)
        .filter(Boolean)
        .pop();
      if (last === member && typeof a.expected === 'string') states.add(a.expected);
    }
  }
  return states;
}
