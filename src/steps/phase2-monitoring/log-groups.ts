import { logGroupLeftovers } from '../discover.js';
import type {
  CloudWatchLogsClient,
  LogGroup,
  MetricFilter,
  MetricTransformation,
} from '@aws-sdk/client-cloudwatch-logs';
import { isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { STACK_TAG } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { dbSettings } from '../phase1-foundation/rds-database.js';
import { STEP, type KmsOutputs, type LogsOutputs, type RdsOutputs } from '../outputs.js';

const logsSdk = () => import('@aws-sdk/client-cloudwatch-logs');
const rdsSdk = () => import('@aws-sdk/client-rds');

type Config = StepContext['config'];

/**
 * `monitoring.logs`: the seed's log groups, KMS-encrypted with the stack key and with its
 * retentions, and the metric filters that turn the backend's JSON log lines into the custom
 * metrics of the dashboard.
 *
 * How the ALB's logs relate to `/aws/alb/cloudmart-alb`: an Application Load Balancer can
 * deliver access logs only to S3, never to CloudWatch Logs. The bucket of
 * `app.alb-log-bucket` therefore IS the long-term store the seed calls "S3 export" (its
 * lifecycle is `backup.s3`'s job). The log group is the 30-day, searchable CloudWatch side:
 * whatever forwards those S3 objects into CloudWatch (a Lambda or Firehose on the bucket's
 * object events; cloudmart does not install one) lands there, and its retention keeps that copy
 * from growing. Nothing is lost without a forwarder: the S3 copy is complete.
 *
 * RDS: the seed names `/aws/rds/cloudmart-db` (kept, 7 days), but RDS exports its logs only to
 * `/aws/rds/instance/<db>/<type>` (one per exported log type), a group it
 * creates itself, unencrypted and never expiring, unless it already exists. This step
 * pre-creates those groups with the key and 7 days, and converges them (retention, key) when RDS
 * got there first.
 */

export interface LogGroupSpec {
  /** Stable key for check ids: backend, alb, rds, rds-export-postgresql, … */
  key: string;
  name: string;
  retentionDays: number;
  purpose: string;
}

/**
 * The groups RDS writes its exported logs into: one per log type that `data.rds` exports
 * (postgresql and upgrade; error and slowquery for MySQL), named after its instance id. Both
 * come from that step's own settings so the two can never disagree.
 */
export function rdsExportLogGroups(config: Config, dbInstanceIdentifier?: string): string[] {
  const db = dbSettings(config);
  return db.logExports.map(
    (t) => `/aws/rds/instance/${dbInstanceIdentifier ?? db.instanceId}/${t}`,
  );
}

export function logGroupSpecs(config: Config): LogGroupSpec[] {
  const l = config.monitoring.logs;
  return [
    {
      key: 'backend',
      name: l.backend.name,
      retentionDays: l.backend.retentionDays,
      purpose: 'backend application logs (JSON lines from the CloudWatch agent)',
    },
    {
      key: 'alb',
      name: l.alb.name,
      retentionDays: l.alb.retentionDays,
      purpose: 'CloudWatch copy of the ALB access logs (the ALB itself delivers only to S3)',
    },
    {
      key: 'rds',
      name: l.rds.name,
      retentionDays: l.rds.retentionDays,
      purpose: "the seed's RDS log group",
    },
    ...rdsExportLogGroups(config).map((name) => ({
      key: `rds-export-${name.slice(name.lastIndexOf('/') + 1)}`,
      name,
      retentionDays: l.rds.retentionDays,
      purpose: 'where RDS exports its database/slow-query log',
    })),
  ];
}

export interface MetricFilterSpec {
  filterName: string;
  filterPattern: string;
  transformation: MetricTransformation;
}

/**
 * Metric filters on the backend's JSON lines
 * `{"ts","level","method","path","status","duration_ms","query_time","user"}`, publishing to
 * `config.monitoring.namespace`. The request metrics count API requests only (`/api/*`): an
 * idle shop still logs the ALB's and Route 53's health checks (`/health/live`, `/health`,
 * about 16 a minute) and diagnostic lines, which are neither users, requests nor errors of
 * the shop. ErrorCount counts API answers with a 5xx status, not every ERROR line (a cache
 * miss that fell back to the database is logged as ERROR and answered 200). Counters carry a default of 0 so that the dashboard's
 * error-rate math (ErrorCount / RequestCount) has a value in quiet periods; the response time
 * has none, because a 0 would drag its average down.
 */
export function metricFilterSpecs(config: Config): MetricFilterSpec[] {
  const ns = config.monitoring.namespace;
  const counter = (metricName: string, filterPattern: string, withDefault = true) => ({
    filterName: metricName,
    filterPattern,
    transformation: {
      metricName,
      metricNamespace: ns,
      metricValue: '1',
      ...(withDefault ? { defaultValue: 0 } : {}),
      unit: 'Count' as const,
    },
  });
  return [
    counter('ErrorCount', '{ ($.level = "ERROR") && ($.path = "/api/*") }'),
    counter('SlowQuery', '{ $.query_time > 1 }'),
    {
      filterName: 'ApiResponseTime',
      filterPattern: '{ $.path = "/api/*" }',
      transformation: {
        metricName: 'ApiResponseTime',
        metricNamespace: ns,
        metricValue: '$.duration_ms',
        unit: 'Milliseconds',
      },
    },
    // Request lines carry their path; start-up and diagnostic lines do not.
    counter('RequestCount', '{ $.path = "/api/*" }'),
    // An approximation, stated plainly: a metric filter cannot count DISTINCT values, so this
    // counts requests that carry a user (value 1 each). The reference backend's `user` is a
    // hash of the client IP, so every request line has one: per period this is an upper bound
    // of the active users (exact only when each user makes one request per period), and one
    // NAT or office IP counts as one "user". SampleCount and Sum are the same number here. No
    // default, so idle periods show no data rather than 0 samples. An exact count needs a
    // Contributor Insights rule on $.user (UniqueContributors) or the backend publishing its
    // own distinct count.
    counter('ActiveUsers', '{ ($.path = "/api/*") && ($.user = "*") }', false),
  ];
}

function sameTransformation(a: MetricTransformation, b: MetricTransformation | undefined): boolean {
  if (!b) return false;
  const dims = (d: Record<string, string> | undefined) => JSON.stringify(d ?? {});
  return (
    a.metricName === b.metricName &&
    a.metricNamespace === b.metricNamespace &&
    a.metricValue === b.metricValue &&
    (a.defaultValue ?? null) === (b.defaultValue ?? null) &&
    (a.unit ?? 'None') === (b.unit ?? 'None') &&
    dims(a.dimensions) === dims(b.dimensions)
  );
}

/** Differences between a wanted filter and the live one ([] when equal). */
export function filterDiff(spec: MetricFilterSpec, live: MetricFilter | undefined): string[] {
  if (!live) return ['missing'];
  const diffs: string[] = [];
  if ((live.filterPattern ?? '').trim() !== spec.filterPattern) {
    diffs.push(`pattern ${JSON.stringify(live.filterPattern ?? '')}`);
  }
  const t = live.metricTransformations ?? [];
  if (t.length !== 1 || !sameTransformation(spec.transformation, t[0])) {
    diffs.push(
      `metric ${t.map((x) => `${x.metricNamespace}/${x.metricName}=${x.metricValue}`).join(',') || '(none)'}`,
    );
  }
  return diffs;
}

function isStackKeyArn(live: string | undefined, kms: KmsOutputs): boolean {
  return live !== undefined && (live === kms.keyArn || live.endsWith(`:key/${kms.keyId}`));
}

async function describeGroups(
  logs: CloudWatchLogsClient,
  groupNames: string[],
): Promise<Map<string, LogGroup>> {
  const { paginateDescribeLogGroups } = await logsSdk();
  const found = new Map<string, LogGroup>();
  for await (const out of paginateDescribeLogGroups(
    { client: logs },
    { logGroupIdentifiers: groupNames },
  )) {
    for (const g of out.logGroups ?? []) {
      // Exact names only: emulators that ignore logGroupIdentifiers return every group.
      if (g.logGroupName && groupNames.includes(g.logGroupName)) found.set(g.logGroupName, g);
    }
  }
  return found;
}

async function describeFilters(
  logs: CloudWatchLogsClient,
  logGroupName: string,
): Promise<Map<string, MetricFilter>> {
  const { paginateDescribeMetricFilters } = await logsSdk();
  const found = new Map<string, MetricFilter>();
  for await (const out of paginateDescribeMetricFilters({ client: logs }, { logGroupName })) {
    for (const f of out.metricFilters ?? []) if (f.filterName) found.set(f.filterName, f);
  }
  return found;
}

/** Create one group (key and tags at creation) or converge an existing one; never both. */
async function ensureGroup(
  ctx: StepContext,
  logs: CloudWatchLogsClient,
  spec: LogGroupSpec,
  existing: LogGroup | undefined,
  kms: KmsOutputs,
): Promise<void> {
  const {
    CreateLogGroupCommand,
    PutRetentionPolicyCommand,
    AssociateKmsKeyCommand,
    ListTagsForResourceCommand,
    TagResourceCommand,
  } = await logsSdk();
  let group = existing;
  if (!group) {
    ctx.progress(`creating log group ${spec.name} (${spec.retentionDays} days, KMS)`);
    try {
      await logs.send(
        new CreateLogGroupCommand({
          logGroupName: spec.name,
          kmsKeyId: kms.keyArn,
          tags: ctx.tags.map(spec.name),
        }),
      );
      // CreateLogGroup takes no retention: without this call the group never expires.
      await logs.send(
        new PutRetentionPolicyCommand({
          logGroupName: spec.name,
          retentionInDays: spec.retentionDays,
        }),
      );
      return;
    } catch (e) {
      // RDS (or the CloudWatch agent) created it between our read and our create.
      if (!isAlreadyExists(e)) throw e;
      group = (await describeGroups(logs, [spec.name])).get(spec.name);
      if (!group) throw e;
    }
  }

  const arn = group.logGroupArn ?? group.arn?.replace(/:\*$/, '');
  if (arn) {
    const { tags } = await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    const owner = tags?.[STACK_TAG];
    if (owner === undefined) {
      // Adopted from RDS or the agent: tag it so destroy's leftover scan can find it.
      await logs.send(new TagResourceCommand({ resourceArn: arn, tags: ctx.tags.map(spec.name) }));
    } else if (owner !== ctx.config.stack) {
      // Another stack's group: neither re-pointed to this stack's key nor changed at all.
      ctx.warn(
        `Log group ${spec.name} is tagged for stack "${owner}": left as it is (this stack neither changes nor deletes it). Give this stack its own names under monitoring.logs.`,
      );
      return;
    }
  }

  if (group.retentionInDays !== spec.retentionDays) {
    ctx.progress(
      `log group ${spec.name}: retention ${group.retentionInDays ?? 'never expire'} → ${spec.retentionDays} days`,
    );
    await logs.send(
      new PutRetentionPolicyCommand({
        logGroupName: spec.name,
        retentionInDays: spec.retentionDays,
      }),
    );
  }
  if (!isStackKeyArn(group.kmsKeyId, kms)) {
    // Only data ingested from now on is encrypted with the key; AWS does not re-encrypt.
    ctx.progress(`log group ${spec.name}: associating the stack KMS key`);
    await logs.send(new AssociateKmsKeyCommand({ logGroupName: spec.name, kmsKeyId: kms.keyArn }));
  }
}

/** The `cloudmart:stack` tag of a group (undefined: untagged). */
async function stackOf(logs: CloudWatchLogsClient, group: LogGroup): Promise<string | undefined> {
  const { ListTagsForResourceCommand } = await logsSdk();
  const arn = group.logGroupArn ?? group.arn?.replace(/:\*$/, '');
  if (!arn) return undefined;
  const { tags } = await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  return tags?.[STACK_TAG];
}

/**
 * Delete one group if this stack owns it: tagged with this stack, or (`untaggedIsOurs`, for
 * the groups RDS creates untagged for this stack's instance) carrying no stack tag at all.
 * Gone already is fine, a concurrent operation on it is waited out.
 */
async function deleteGroup(
  ctx: StepContext,
  logs: CloudWatchLogsClient,
  logGroupName: string,
  group?: LogGroup,
  untaggedIsOurs = false,
): Promise<void> {
  const { DeleteLogGroupCommand } = await logsSdk();
  const live = group ?? (await describeGroups(logs, [logGroupName])).get(logGroupName);
  if (!live) return;
  let owner: string | undefined;
  try {
    owner = await stackOf(logs, live);
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
  if (owner !== ctx.config.stack && !(owner === undefined && untaggedIsOurs)) {
    ctx.warn(
      `Left log group ${logGroupName}: it is not tagged ${STACK_TAG}=${ctx.config.stack} (${owner === undefined ? 'no stack tag' : `tagged for stack "${owner}"`}), so destroy does not delete it.`,
    );
    return;
  }
  try {
    await retryWhile(ctx, () => logs.send(new DeleteLogGroupCommand({ logGroupName })), {
      what: `deleting log group ${logGroupName}`,
      when: (e) => (e as Error).name === 'OperationAbortedException',
      timeoutMs: 2 * 60_000,
    });
    ctx.progress(`deleted log group ${logGroupName}`);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** How long an instance already being deleted is waited for (data.rds's teardown waits it out). */
export const DB_GONE_CHECK_MS = 5 * 60_000;

/**
 * RDS recreates its export group (unencrypted, never expiring) as long as the instance runs.
 * This step's teardown is ordered after data.rds's (`teardownAfter`), which waits until the
 * instance is gone, so this is only a safety check: gone → true; still being deleted → a short
 * bounded wait; still running (data.rds's teardown failed or was not part of this destroy) →
 * false at once.
 */
async function dbIsGone(ctx: StepContext, dbInstanceIdentifier: string): Promise<boolean> {
  const { DescribeDBInstancesCommand } = await rdsSdk();
  const rds = await ctx.aws.get('rds');
  const status = async (): Promise<string | undefined> => {
    try {
      const out = await rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: dbInstanceIdentifier }),
      );
      return out.DBInstances?.[0]?.DBInstanceStatus;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const first = await status();
  if (first === undefined) return true;
  if (first !== 'deleting') return false;
  try {
    await waitUntil(
      ctx,
      async () => {
        const now = await status();
        if (now === undefined) return { done: true, status: 'gone' };
        return { done: false, status: `RDS ${dbInstanceIdentifier} still ${now}` };
      },
      {
        what: `log groups of RDS ${dbInstanceIdentifier}: waiting for the instance to be deleted`,
        minDelayMs: 5_000,
        timeoutMs: DB_GONE_CHECK_MS,
      },
    );
    return true;
  } catch (e) {
    if (e instanceof CloudmartError && e.code === 'TIMEOUT') return false;
    throw e;
  }
}

export const logGroupsStep = defineStep<LogsOutputs>({
  id: STEP.logs,
  phase: 2,
  title: 'CloudWatch log groups and metric filters',
  needs: [STEP.kms],
  // RDS recreates its export groups while the instance exists: delete them after it is gone.
  teardownAfter: [STEP.rds],
  actions: [
    'logs:DescribeLogGroups',
    'logs:CreateLogGroup',
    'logs:TagResource',
    'logs:ListTagsForResource',
    'logs:PutRetentionPolicy',
    'logs:AssociateKmsKey',
    'logs:DescribeMetricFilters',
    'logs:PutMetricFilter',
    'logs:DeleteLogGroup',
    'rds:DescribeDBInstances',
  ],
  describe: (config) => {
    const l = config.monitoring.logs;
    return [
      `log group ${l.backend.name} (${l.backend.retentionDays} days, KMS) with metric filters ${metricFilterSpecs(
        config,
      )
        .map((f) => f.filterName)
        .join(', ')} → namespace ${config.monitoring.namespace}`,
      `log group ${l.alb.name} (${l.alb.retentionDays} days, KMS): the CloudWatch side of the ALB logs; the ALB delivers access logs only to S3 (the app.alb-log-bucket bucket is the long-term "S3 export"), anything forwarded from there lands in this group`,
      `log group ${l.rds.name} (${l.rds.retentionDays} days, KMS) and ${rdsExportLogGroups(config).join(', ')} (${l.rds.retentionDays} days, KMS), pre-created so the RDS log export is encrypted and expires`,
    ];
  },

  discover: {
    what: 'backend log group',
    // The instances' agent may create it untagged.
    find: (aws, config) => logGroupLeftovers(aws, config, config.monitoring.logs.backend.name),
  },
  async create(ctx) {
    const kms = ctx.outputs<KmsOutputs>(STEP.kms);
    const logs = await ctx.aws.get('logs');
    const specs = logGroupSpecs(ctx.config);
    const live = await describeGroups(
      logs,
      specs.map((s) => s.name),
    );
    for (const spec of specs) await ensureGroup(ctx, logs, spec, live.get(spec.name), kms);

    const { PutMetricFilterCommand } = await logsSdk();
    const backend = ctx.config.monitoring.logs.backend.name;
    const filters = live.has(backend)
      ? await describeFilters(logs, backend)
      : new Map<string, MetricFilter>();
    for (const spec of metricFilterSpecs(ctx.config)) {
      if (filterDiff(spec, filters.get(spec.filterName)).length === 0) continue;
      ctx.progress(`metric filter ${spec.filterName} on ${backend}`);
      await logs.send(
        new PutMetricFilterCommand({
          logGroupName: backend,
          filterName: spec.filterName,
          filterPattern: spec.filterPattern,
          metricTransformations: [spec.transformation],
        }),
      );
    }

    return {
      backendLogGroup: backend,
      albLogGroup: ctx.config.monitoring.logs.alb.name,
      rdsLogGroup: ctx.config.monitoring.logs.rds.name,
      rdsExportLogGroups: rdsExportLogGroups(ctx.config),
      metricNamespace: ctx.config.monitoring.namespace,
    };
  },

  async verify(ctx) {
    const logs = await ctx.aws.get('logs');
    const kms = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
    const specs = logGroupSpecs(ctx.config);
    const live = await describeGroups(
      logs,
      specs.map((s) => s.name),
    );
    const checks: Check[] = [];
    for (const spec of specs) {
      const g = live.get(spec.name);
      checks.push({
        id: `monitoring.logs.${spec.key}.retention`,
        title: `Log group ${spec.name} keeps ${spec.retentionDays} days`,
        criterion: 'other',
        status: g?.retentionInDays === spec.retentionDays ? 'pass' : 'fail',
        evidence: g
          ? `retentionInDays=${g.retentionInDays ?? 'never expire'}`
          : `log group ${spec.name} does not exist`,
        fix: 'cloudmart up --phase 2',
      });
      const encrypted = kms ? isStackKeyArn(g?.kmsKeyId, kms) : Boolean(g?.kmsKeyId);
      checks.push({
        id: `monitoring.logs.${spec.key}.kms`,
        title: `Log group ${spec.name} encrypted with the stack KMS key`,
        criterion: 'encryption',
        status: encrypted ? 'pass' : 'fail',
        evidence: g
          ? `kmsKeyId=${g.kmsKeyId ?? '(none)'}`
          : `log group ${spec.name} does not exist`,
        fix: 'cloudmart up --phase 2',
      });
    }
    const backend = ctx.config.monitoring.logs.backend.name;
    const filters = live.has(backend)
      ? await describeFilters(logs, backend)
      : new Map<string, MetricFilter>();
    for (const spec of metricFilterSpecs(ctx.config)) {
      const f = filters.get(spec.filterName);
      const diffs = filterDiff(spec, f);
      checks.push({
        id: `monitoring.logs.filter.${spec.filterName}`,
        title: `Metric filter ${spec.filterName} on ${backend}`,
        criterion: 'dashboard',
        status: diffs.length === 0 ? 'pass' : 'fail',
        evidence:
          diffs.length === 0
            ? `${spec.filterPattern} → ${spec.transformation.metricNamespace}/${spec.transformation.metricName}`
            : `${diffs.join('; ')} (want ${spec.filterPattern} → ${spec.transformation.metricNamespace}/${spec.transformation.metricName})`,
        fix: 'cloudmart up --phase 2',
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const logs = await ctx.aws.get('logs');
    const l = ctx.config.monitoring.logs;
    const names = [l.backend.name, l.alb.name, l.rds.name];
    const groups = await describeGroups(logs, names);
    for (const name of names) {
      const group = groups.get(name);
      // The backend's group may have been made, untagged, by this stack's own CloudWatch agent
      // before Phase 2 (the instance role may create that one group).
      if (group) await deleteGroup(ctx, logs, name, group, name === l.backend.name);
    }
    const dbId =
      ctx.maybeOutputs<RdsOutputs>(STEP.rds)?.dbInstanceIdentifier ??
      dbSettings(ctx.config).instanceId;
    const exportGroups =
      (ctx.previous?.rdsExportLogGroups as string[] | undefined) ??
      rdsExportLogGroups(ctx.config, dbId);
    const present = await describeGroups(logs, exportGroups);
    if (present.size === 0) return;
    if (!(await dbIsGone(ctx, dbId))) {
      ctx.warn(
        `Left ${[...present.keys()].join(', ')}: RDS ${dbId} still exists and would recreate them. Delete them once it is gone ("cloudmart destroy" again, or "aws logs delete-log-group --log-group-name <name>").`,
      );
      return;
    }
    // RDS creates these for this stack's instance untagged (when it got there first).
    for (const [name, group] of present) await deleteGroup(ctx, logs, name, group, true);
  },
});
