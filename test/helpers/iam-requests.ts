import { ACTION_RESOURCE_TYPES } from '../../src/aws/iam-reference.js';
import type { AuthRequest, ContextValue } from './iam-evaluator.js';
import type { FakeCloud } from './fake-cloud/index.js';
import type { CallEvent, InventoryItem } from './fake-cloud/types.js';

/** The fake cloud's (and src/aws/clients.ts's) service names → IAM service prefixes. */
export const IAM_PREFIX: Record<string, string> = {
  acm: 'acm',
  autoscaling: 'autoscaling',
  backup: 'backup',
  cloudfront: 'cloudfront',
  cloudtrail: 'cloudtrail',
  cloudwatch: 'cloudwatch',
  logs: 'logs',
  ec2: 'ec2',
  elasticache: 'elasticache',
  elbv2: 'elasticloadbalancing',
  iam: 'iam',
  kms: 'kms',
  pricing: 'pricing',
  rds: 'rds',
  tagging: 'tag',
  route53: 'route53',
  s3: 's3',
  secretsmanager: 'secretsmanager',
  sns: 'sns',
  ssm: 'ssm',
  sts: 'sts',
  wafv2: 'wafv2',
};

/**
 * Operations whose IAM actions are not `<prefix>:<Operation>` (S3's API and IAM names differ;
 * some calls need more than one action). From the Service Authorization Reference.
 */
export const ACTIONS_OF: Record<string, string[]> = {
  's3:HeadBucket': ['s3:ListBucket'],
  's3:HeadObject': ['s3:GetObject'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:ListObjectVersions': ['s3:ListBucketVersions'],
  // cloudmart empties versioned buckets: DeleteObjects with version ids.
  's3:DeleteObjects': ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  's3:GetPublicAccessBlock': ['s3:GetBucketPublicAccessBlock'],
  's3:PutPublicAccessBlock': ['s3:PutBucketPublicAccessBlock'],
  's3:GetBucketEncryption': ['s3:GetEncryptionConfiguration'],
  's3:PutBucketEncryption': ['s3:PutEncryptionConfiguration'],
  's3:GetBucketLifecycleConfiguration': ['s3:GetLifecycleConfiguration'],
  's3:PutBucketLifecycleConfiguration': ['s3:PutLifecycleConfiguration'],
  's3:DeleteBucketLifecycle': ['s3:PutLifecycleConfiguration'],
  'cloudfront:CreateDistributionWithTags': [
    'cloudfront:CreateDistribution',
    'cloudfront:TagResource',
  ],
};

export const actionsOf = (service: string, command: string): string[] => {
  const op = `${IAM_PREFIX[service]}:${command}`;
  return ACTIONS_OF[op] ?? [op];
};

/** Role actions whose `iam:PermissionsBoundary` is the boundary the role already carries. */
const BOUNDARY_CHECKED = new Set([
  'iam:PutRolePolicy',
  'iam:AttachRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:DeleteRolePermissionsBoundary',
]);

/** The fake's resource types → IAM resource types (`service:type`). */
const IAM_TYPE: Record<string, string[]> = {
  'elasticloadbalancing:loadbalancer': [
    'elasticloadbalancing:loadbalancer/app/',
    'elasticloadbalancing:loadbalancer',
  ],
  'elasticloadbalancing:listener': ['elasticloadbalancing:listener/app'],
  'secretsmanager:secret': ['secretsmanager:Secret'],
  'backup:backup-vault': ['backup:backupVault'],
  'backup:backup-plan': ['backup:backupPlan'],
  'backup:recovery-point': ['backup:recoveryPoint'],
};
const iamTypes = (fakeType: string) => IAM_TYPE[fakeType] ?? [fakeType];

interface Found {
  iamType: string;
  arn: string;
  tags: Record<string, string>;
  /** Made by this very call. */
  created: boolean;
}

/** Every string in a request or response, nested ones included (long documents left out). */
function strings(x: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 6) return out;
  if (typeof x === 'string') {
    if (x.length <= 300) out.push(x);
  } else if (Array.isArray(x)) {
    for (const v of x) strings(v, out, depth + 1);
  } else if (x && typeof x === 'object') {
    for (const v of Object.values(x)) strings(v, out, depth + 1);
  }
  return out;
}

const TAG_FIELDS = new Set([
  'Tags',
  'TagsList',
  'tags',
  'BackupVaultTags',
  'BackupPlanTags',
  'AddTags',
  'TagList',
]);

/** The tags a request carries, wherever the service puts them. */
export function requestTags(input: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  const take = (v: unknown) => {
    if (Array.isArray(v)) {
      // [{ Key, Value }], or KMS's [{ TagKey, TagValue }].
      for (const t of v as Array<{
        Key?: string;
        Value?: string;
        TagKey?: string;
        TagValue?: string;
      }>) {
        const key = t?.Key ?? t?.TagKey;
        if (typeof key === 'string') tags[key] = t.Value ?? t.TagValue ?? '';
      }
    } else if (v && typeof v === 'object') {
      const items = (v as { Items?: unknown }).Items;
      if (Array.isArray(items)) take(items);
      else
        for (const [k, val] of Object.entries(v as Record<string, unknown>))
          if (typeof val === 'string') tags[k] = val;
    }
  };
  const walk = (x: unknown, depth: number) => {
    if (depth > 5 || !x || typeof x !== 'object') return;
    if (Array.isArray(x)) return x.forEach((v) => walk(v, depth + 1));
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      if (TAG_FIELDS.has(k)) take(v);
      else if (k === 'TagSpecifications' && Array.isArray(v))
        for (const spec of v as Array<{ Tags?: unknown }>) take(spec.Tags);
      else walk(v, depth + 1);
    }
  };
  walk(input, 0);
  return tags;
}

const tagContext = (prefix: string, tags: Record<string, string>): Record<string, ContextValue> =>
  Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));

/**
 * The authorization requests AWS evaluates for one call: for each IAM action, one request per
 * resource of a type the Service Authorization Reference lists for it (or "*"), with the
 * request's tags and the resource's tags as AWS sees them when the call arrives.
 */
export class RequestMapper {
  private before = new Map<number, InventoryItem[]>();
  /** Calls whose resources could not be told: `service.Command type`. */
  readonly unresolved = new Set<string>();

  constructor(
    private readonly cloud: FakeCloud,
    private readonly account = '123456789012',
  ) {}

  /** Call in the `before` phase: what exists, with its tags, as the call arrives. */
  snapshot(e: CallEvent): void {
    this.before.set(e.seq, this.cloud.resources({}));
  }

  /**
   * Call in the `after` phase of a successful call (`record`: note the types it could not name),
   * or in the `before` phase for what a call asks as it arrives (a call that then fails).
   */
  requests(e: CallEvent, record = true): AuthRequest[] {
    const before = this.before.get(e.seq) ?? [];
    this.before.delete(e.seq);
    const beforeIds = new Set(before.map((r) => `${r.type}|${r.region}|${r.id}`));
    let found = this.resolve(e, before, beforeIds);
    const wanted = actionsOf(e.service, e.command).flatMap((a) =>
      (ACTION_RESOURCE_TYPES[a] ?? []).map((t) => `${a.split(':')[0]}:${t}`),
    );
    if (wanted.length > 0 && !wanted.some((t) => found.some((f) => f.iamType === t)))
      found = [...found, ...this.byData(e, before)];
    const reqTags = requestTags(e.input);
    const out: AuthRequest[] = [];
    for (const action of actionsOf(e.service, e.command)) {
      const service = action.split(':')[0]!;
      const types = ACTION_RESOURCE_TYPES[action];
      const base: Record<string, ContextValue> = {
        ...tagContext('aws:RequestTag', reqTags),
        ...(Object.keys(reqTags).length > 0 ? { 'aws:TagKeys': Object.keys(reqTags) } : {}),
        ...this.actionContext(action, e.input),
      };
      if (!types || types.length === 0) {
        out.push({ action, resource: '*', context: base });
        continue;
      }
      let any = false;
      for (const type of types) {
        const matches = found.filter((f) => f.iamType === `${service}:${type}`);
        for (const m of matches) {
          any = true;
          out.push({
            action,
            resource: m.arn,
            context: { ...base, ...(m.created ? {} : tagContext('aws:ResourceTag', m.tags)) },
          });
        }
      }
      if (!any && record) this.unresolved.add(`${e.service}.${e.command} ${types.join('|')}`);
    }
    for (const [role, service] of this.passedRoles(e, before))
      out.push({
        action: 'iam:PassRole',
        resource: role,
        context: { 'iam:PassedToService': service },
      });
    return out;
  }

  /**
   * Roles a call hands to a service, which IAM authorizes as iam:PassRole: the flow log's
   * delivery role, the Backup selection's role, and the instance profile's role of the launch
   * template an Auto Scaling group is created from ("Amazon EC2 Auto Scaling API permissions").
   */
  private passedRoles(e: CallEvent, before: InventoryItem[]): Array<[string, string]> {
    const i = e.input as Record<string, unknown>;
    if (
      e.service === 'ec2' &&
      e.command === 'CreateFlowLogs' &&
      typeof i.DeliverLogsPermissionArn === 'string'
    )
      return [[i.DeliverLogsPermissionArn, 'vpc-flow-logs.amazonaws.com']];
    if (e.service === 'backup' && e.command === 'CreateBackupSelection') {
      const arn = (i.BackupSelection as { IamRoleArn?: string } | undefined)?.IamRoleArn;
      return arn ? [[arn, 'backup.amazonaws.com']] : [];
    }
    if (e.service === 'autoscaling' && e.command === 'CreateAutoScalingGroup') {
      const values = new Set(strings(i));
      const template = before.find(
        (r) =>
          r.type === 'ec2:launch-template' &&
          (values.has(r.id) || (r.name !== undefined && values.has(r.name))),
      );
      const data =
        template && this.cloud.resource(template.type, template.region, template.id)?.data;
      const profiles = before.filter(
        (r) => r.type === 'iam:instance-profile' && strings(data).includes(r.id),
      );
      return profiles.flatMap((p) =>
        (
          (this.cloud.resource(p.type, p.region, p.id)?.data as { roles?: string[] }).roles ?? []
        ).map((role): [string, string] => [
          `arn:aws:iam::${this.account}:role/${role}`,
          'ec2.amazonaws.com',
        ]),
      );
    }
    return [];
  }

  private actionContext(action: string, input: unknown): Record<string, ContextValue> {
    const i = input as Record<string, unknown>;
    if (action === 'iam:CreateServiceLinkedRole')
      return { 'iam:AWSServiceName': String(i.AWSServiceName) };
    return { ...this.policyArnContext(action, i), ...this.boundaryContext(action, i) };
  }

  private policyArnContext(
    action: string,
    i: Record<string, unknown>,
  ): Record<string, ContextValue> {
    if (action === 'iam:AttachRolePolicy' || action === 'iam:DetachRolePolicy')
      return { 'iam:PolicyARN': String(i.PolicyArn) };
    return {};
  }

  /**
   * `iam:PermissionsBoundary` (Service Authorization Reference for IAM): the boundary a
   * CreateRole or PutRolePermissionsBoundary sets, or the one the role carries for the calls
   * that change its policies; absent when there is none.
   */
  private boundaryContext(
    action: string,
    i: Record<string, unknown>,
  ): Record<string, ContextValue> {
    if (action === 'iam:CreateRole' || action === 'iam:PutRolePermissionsBoundary')
      return typeof i.PermissionsBoundary === 'string'
        ? { 'iam:PermissionsBoundary': i.PermissionsBoundary }
        : {};
    if (BOUNDARY_CHECKED.has(action) && typeof i.RoleName === 'string') {
      const boundary = this.cloud.resource('iam:role', 'us-east-1', i.RoleName)?.data.boundary;
      return typeof boundary === 'string' ? { 'iam:PermissionsBoundary': boundary } : {};
    }
    return {};
  }

  private resolve(e: CallEvent, before: InventoryItem[], beforeIds: Set<string>): Found[] {
    const now = this.cloud.resources({});
    const values = new Set(strings(e.input));
    const outputs = new Set(strings(e.output));
    const found: Found[] = [];
    const seen = new Set<string>();
    const add = (r: InventoryItem, created: boolean) => {
      const arn = r.arn ?? this.arnOf(r);
      if (!arn) return;
      for (const iamType of iamTypes(r.type)) {
        const key = `${iamType}|${arn}`;
        if (seen.has(key)) continue;
        seen.add(key);
        found.push({ iamType, arn, tags: r.tags, created });
      }
    };
    const names = (r: InventoryItem) => [r.id, r.arn, r.name].filter((x): x is string => !!x);
    for (const r of before) if (names(r).some((n) => values.has(n))) add(r, false);
    for (const r of now)
      if (
        !beforeIds.has(`${r.type}|${r.region}|${r.id}`) &&
        names(r).some((n) => outputs.has(n) || values.has(n))
      )
        add(r, true);
    found.push(...this.special(e, found));
    return found;
  }

  /**
   * Resources named by a value only their data holds (a route table's association id, an RDS
   * instance's DbiResourceId), and the key behind a KMS alias.
   */
  private byData(e: CallEvent, before: InventoryItem[]): Found[] {
    const values = new Set(strings(e.input));
    const out: Found[] = [];
    for (const r of before) {
      const raw = this.cloud.resource(r.type, r.region, r.id);
      if (!raw || !strings(raw.data).some((v) => values.has(v))) continue;
      const arn = r.arn ?? this.arnOf(r);
      if (arn)
        for (const iamType of iamTypes(r.type))
          out.push({ iamType, arn, tags: r.tags, created: false });
    }
    for (const r of before) {
      if (r.type !== 'kms:alias' || !(values.has(r.id) || (r.arn && values.has(r.arn)))) continue;
      const target = (this.cloud.resource(r.type, r.region, r.id)?.data as { targetKeyId?: string })
        ?.targetKeyId;
      const key = before.find(
        (k) => k.type === 'kms:key' && k.region === r.region && k.id === target,
      );
      if (key?.arn) out.push({ iamType: 'kms:key', arn: key.arn, tags: key.tags, created: false });
    }
    return out;
  }

  private arnOf(r: InventoryItem): string | undefined {
    const [service, kind] = r.type.split(':');
    if (service === 'iam') return `arn:aws:iam::${this.account}:${kind}/${r.id}`;
    if (service === 's3' && kind === 'bucket') return `arn:aws:s3:::${r.id}`;
    return undefined;
  }

  /** Resources the fake does not hold as such: S3 objects, cache nodes, roles by name, … */
  private special(e: CallEvent, found: Found[]): Found[] {
    const i = e.input as Record<string, unknown>;
    const out: Found[] = [];
    const tagsOf = (type: string) => found.find((f) => f.iamType === type)?.tags ?? {};
    if (e.service === 's3' && typeof i.Bucket === 'string') {
      const keys: string[] = [];
      if (typeof i.Key === 'string') keys.push(i.Key);
      const del = (i.Delete as { Objects?: Array<{ Key: string }> } | undefined)?.Objects;
      for (const o of del ?? []) keys.push(o.Key);
      for (const k of keys)
        out.push({
          iamType: 's3:object',
          arn: `arn:aws:s3:::${i.Bucket}/${k}`,
          tags: tagsOf('s3:bucket'),
          created: false,
        });
      if (!found.some((f) => f.iamType === 's3:bucket'))
        out.push({
          iamType: 's3:bucket',
          arn: `arn:aws:s3:::${i.Bucket}`,
          tags: {},
          created: e.command === 'CreateBucket',
        });
    }
    const acct = `${e.region}:${this.account}`;
    if (e.service === 'cloudwatch') {
      for (const a of (i.AlarmNames as string[] | undefined) ?? [])
        if (!found.some((f) => f.arn.endsWith(`:alarm:${a}`)))
          out.push({
            iamType: 'cloudwatch:alarm',
            arn: `arn:aws:cloudwatch:${acct}:alarm:${a}`,
            tags: {},
            created: false,
          });
    }
    if (e.service === 'ssm') {
      const names = [
        ...((i.Names as string[] | undefined) ?? []),
        ...(typeof i.Name === 'string' ? [i.Name] : []),
      ];
      for (const n of names)
        if (
          !found.some(
            (f) =>
              f.iamType === 'ssm:parameter' &&
              f.arn.endsWith(`parameter${n.startsWith('/') ? n : `/${n}`}`),
          )
        )
          out.push({
            iamType: 'ssm:parameter',
            arn: `arn:aws:ssm:${acct}:parameter${n.startsWith('/') ? n : `/${n}`}`,
            tags: {},
            created: e.command === 'PutParameter',
          });
    }
    if (e.service === 'route53' && e.command === 'GetChange')
      out.push({
        iamType: 'route53:change',
        arn: `arn:aws:route53:::change/${String(i.Id).replace(/^\/?change\//, '')}`,
        tags: {},
        created: false,
      });
    if (
      e.service === 'rds' &&
      typeof i.DBSnapshotIdentifier === 'string' &&
      !found.some((f) => f.iamType === 'rds:snapshot')
    )
      out.push({
        iamType: 'rds:snapshot',
        arn: `arn:aws:rds:${acct}:snapshot:${i.DBSnapshotIdentifier}`,
        tags: {},
        created: e.command === 'CreateDBSnapshot',
      });
    if (e.service === 'elasticache' && typeof i.CacheClusterId === 'string')
      out.push({
        iamType: 'elasticache:cluster',
        arn: `arn:aws:elasticache:${e.region}:${this.account}:cluster:${i.CacheClusterId}`,
        tags: {},
        created: false,
      });
    if (e.service === 'iam') {
      if (typeof i.RoleName === 'string' && !found.some((f) => f.iamType === 'iam:role'))
        out.push({
          iamType: 'iam:role',
          arn: `arn:aws:iam::${this.account}:role/${i.RoleName}`,
          tags: {},
          created: e.command === 'CreateRole',
        });
      if (
        typeof i.InstanceProfileName === 'string' &&
        !found.some((f) => f.iamType === 'iam:instance-profile')
      )
        out.push({
          iamType: 'iam:instance-profile',
          arn: `arn:aws:iam::${this.account}:instance-profile/${i.InstanceProfileName}`,
          tags: {},
          created: e.command === 'CreateInstanceProfile',
        });
      if (typeof i.PolicyArn === 'string' && !found.some((f) => f.iamType === 'iam:policy'))
        out.push({ iamType: 'iam:policy', arn: i.PolicyArn, tags: {}, created: false });
      if (e.command === 'CreateServiceLinkedRole') {
        const svc = String(i.AWSServiceName);
        const role = (e.output as { Role?: { Arn?: string } } | undefined)?.Role?.Arn;
        out.push({
          iamType: 'iam:role',
          arn: role ?? `arn:aws:iam::${this.account}:role/aws-service-role/${svc}/*`,
          tags: {},
          created: true,
        });
      }
    }
    return out;
  }
}
