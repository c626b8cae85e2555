import type { In, Resource, ServiceModule } from '../types.js';
import { arnType, clone, page, tagMap } from '../util.js';
import type { World } from '../world.js';
import { gridPng } from '../png.js';
import { registerPublicImage } from './ec2.js';
import { date, usableKey } from './shared.js';

/** STS, the Resource Groups Tagging API, SSM Parameter Store, SNS and CloudWatch. */

// ---------------------------------------------------------------------------------------------
// STS
// ---------------------------------------------------------------------------------------------

export function stsService(w: World): ServiceModule {
  return {
    service: 'sts',
    handlers: {
      GetCallerIdentity: () => ({
        UserId: 'AIDAFAKECLOUDMART0001',
        Account: w.account,
        Arn: `arn:aws:iam::${w.account}:user/cloudmart-operator`,
      }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Pricing
// ---------------------------------------------------------------------------------------------

/** The Price List API without prices: callers fall back to their own table. */
export function pricingService(): ServiceModule {
  return {
    service: 'pricing',
    handlers: {
      GetProducts: () => ({ FormatVersion: 'aws_v1', PriceList: [] }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Resource Groups Tagging API
// ---------------------------------------------------------------------------------------------

/**
 * What GetResources never returns, as in AWS ("Services that support the Resource Groups
 * Tagging API"): IAM roles are not supported, and Auto Scaling groups get an empty answer.
 */
const NOT_LISTED_BY_TAGGING = new Set(['iam:role', 'autoscaling:autoScalingGroup']);

/**
 * GetResources over every tagged resource of the region (global services answer in
 * us-east-1), except the types AWS leaves out (NOT_LISTED_BY_TAGGING). A `deleted` NAT
 * gateway, a `terminated` instance and every tagged resource deleted within the last hour are
 * still listed, as the real API lags behind deletes (minutes to hours).
 */
export function taggingService(w: World): ServiceModule {
  return {
    service: 'tagging',
    handlers: {
      GetResources(ctx, input) {
        const filters = (input.TagFilters ?? []) as Array<{ Key: string; Values?: string[] }>;
        const types = (input.ResourceTypeFilters ?? []) as string[];
        const arns = input.ResourceARNList as string[] | undefined;
        const list = [
          ...w
            .all(undefined, ctx.region)
            // A deleted NAT gateway or a terminated instance stays listed for a while, as in AWS.
            .filter((r) => !r.gone || r.type === 'ec2:natgateway' || r.type === 'ec2:instance'),
          // So does every other tagged resource deleted within the lag (TAGGING_LAG_MS).
          ...w.ghostsIn(ctx.region).map((g) => ({ ...g, system: false })),
        ]
          // An AWS-owned or pre-existing resource (the default VPC) is listed once a user tags it, as in AWS.
          .filter(
            (r) => r.arn && Object.keys(r.tags).some((k) => !r.system || !k.startsWith('aws:')),
          )
          .filter((r) => !NOT_LISTED_BY_TAGGING.has(arnType(r.arn!)))
          .filter((r) => !arns?.length || arns.includes(r.arn!))
          .filter((r) =>
            filters.every(
              (f) => f.Key in r.tags && (!f.Values?.length || f.Values.includes(r.tags[f.Key]!)),
            ),
          )
          .filter((r) => {
            if (types.length === 0) return true;
            const t = arnType(r.arn!);
            return types.some((x) => (x.includes(':') ? t === x : t.startsWith(`${x}:`)));
          });
        const p = page(
          list,
          input.PaginationToken as string | undefined,
          input.ResourcesPerPage as number | undefined,
          100,
        );
        return {
          ResourceTagMappingList: p.items.map((r) => ({
            ResourceARN: r.arn,
            Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          })),
          PaginationToken: p.next ?? '',
        };
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// SSM Parameter Store
// ---------------------------------------------------------------------------------------------

export const PARAMETER = 'ssm:parameter';

export function ssmService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('ssm', code, message);

  /** Public parameters AWS publishes (latest AMIs), created on first read. */
  function publicParameter(region: string, name: string): Resource | undefined {
    if (!name.startsWith('/aws/service/')) return undefined;
    const existing = w.live(PARAMETER, region, name);
    if (existing) return existing;
    if (!/ami/.test(name)) return undefined;
    const amiId = `ami-0${w.rng.hex(16)}`;
    // Amazon Linux boots from /dev/xvda; Ubuntu (Canonical), Debian and most others /dev/sda1.
    registerPublicImage(
      w,
      region,
      amiId,
      /amazon-linux|al2023|amzn/.test(name) ? '/dev/xvda' : '/dev/sda1',
    );
    return w.add({
      service: 'ssm',
      type: PARAMETER,
      region,
      id: name,
      arn: `arn:aws:ssm:${region}::parameter${name}`,
      name,
      state: 'available',
      system: true,
      data: {
        type: 'String',
        value: amiId,
        version: 1,
        dataType: 'aws:ec2:image',
      },
    });
  }

  const get = (region: string, name: string): Resource | undefined =>
    w.live(PARAMETER, region, name) ?? publicParameter(region, name);

  function shape(r: Resource): In {
    return {
      Name: r.id,
      Type: r.data.type,
      Value: r.data.value,
      Version: r.data.version,
      LastModifiedDate: date((r.data.modifiedAt as number | undefined) ?? r.createdAt),
      ARN: r.arn,
      DataType: r.data.dataType ?? 'text',
    };
  }

  return {
    service: 'ssm',
    handlers: {
      PutParameter(ctx, input) {
        const name = input.Name as string;
        if (name.startsWith('/aws/') || name.startsWith('aws') || name.startsWith('ssm')) {
          throw err(
            'ValidationException',
            `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`,
          );
        }
        if (input.Overwrite && input.Tags?.length) {
          throw err(
            'ValidationException',
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
          );
        }
        const type = (input.Type as string | undefined) ?? 'String';
        // "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit
        // of 8 KB." (PutParameter, Value); the fake keeps every parameter in the standard tier.
        if (
          input.Tier !== 'Advanced' &&
          input.Tier !== 'Intelligent-Tiering' &&
          Buffer.byteLength(String(input.Value ?? '')) > 4096
        )
          throw err(
            'ValidationException',
            'Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.',
          );
        const existing = w.live(PARAMETER, ctx.region, name);
        if (existing && !input.Overwrite)
          throw err(
            'ParameterAlreadyExists',
            'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
          );
        if (
          type === 'SecureString' &&
          input.KeyId &&
          !usableKey(w, ctx.region, input.KeyId as string)
        ) {
          throw err('InvalidKeyId', 'Invalid KMS key');
        }
        if (existing) {
          existing.data.value = input.Value;
          existing.data.type = type;
          existing.data.version = (existing.data.version as number) + 1;
          existing.data.modifiedAt = w.now();
          if (input.Description !== undefined) existing.data.description = input.Description;
          return { Version: existing.data.version, Tier: 'Standard' };
        }
        w.add({
          service: 'ssm',
          type: PARAMETER,
          region: ctx.region,
          id: name,
          arn: w.arn('ssm', ctx.region, `parameter/${name.replace(/^\//, '')}`),
          name,
          tags: tagMap(input.Tags),
          state: 'available',
          data: {
            type,
            value: input.Value,
            version: 1,
            description: input.Description,
            keyId: input.KeyId,
          },
        });
        return { Version: 1, Tier: 'Standard' };
      },
      GetParameter(ctx, input) {
        const r = get(ctx.region, input.Name as string);
        if (!r) throw err('ParameterNotFound', `Parameter ${String(input.Name)} not found.`);
        return { Parameter: shape(r) };
      },
      GetParameters(ctx, input) {
        const names = (input.Names ?? []) as string[];
        if (names.length > 10)
          throw err(
            'ValidationException',
            `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`,
          );
        const found: In[] = [];
        const invalid: string[] = [];
        for (const n of names) {
          const r = get(ctx.region, n);
          if (r) found.push(shape(r));
          else invalid.push(n);
        }
        return { Parameters: found, InvalidParameters: invalid };
      },
      DeleteParameter(ctx, input) {
        const r = w.live(PARAMETER, ctx.region, input.Name as string);
        if (!r) throw err('ParameterNotFound', `Parameter ${String(input.Name)} not found.`);
        w.remove(r);
        return {};
      },
      DeleteParameters(ctx, input) {
        const names = (input.Names ?? []) as string[];
        if (names.length > 10)
          throw err('ValidationException', 'Member must have length less than or equal to 10');
        const deleted: string[] = [];
        const invalid: string[] = [];
        for (const n of names) {
          const r = w.live(PARAMETER, ctx.region, n);
          if (r) {
            w.remove(r);
            deleted.push(n);
          } else invalid.push(n);
        }
        return { DeletedParameters: deleted, InvalidParameters: invalid };
      },
      AddTagsToResource(ctx, input) {
        const r = w.live(PARAMETER, ctx.region, input.ResourceId as string);
        if (!r) throw err('InvalidResourceId', 'The resource ID is not valid.');
        Object.assign(r.tags, tagMap(input.Tags));
        return {};
      },
      ListTagsForResource(ctx, input) {
        const r = w.live(PARAMETER, ctx.region, input.ResourceId as string);
        if (!r) throw err('InvalidResourceId', 'The resource ID is not valid.');
        return { TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// SNS
// ---------------------------------------------------------------------------------------------

export const TOPIC = 'sns:topic';

export function snsService(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) =>
    w.error('sns', code, message, status);

  const topic = (region: string, arn: string): Resource => {
    const r = w.live(TOPIC, region, arn);
    if (!r) throw err('NotFoundException', 'Topic does not exist', 404);
    return r;
  };

  function defaultPolicy(arn: string): string {
    return JSON.stringify({
      Version: '2008-10-17',
      Id: '__default_policy_ID',
      Statement: [
        {
          Sid: '__default_statement_ID',
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: [
            'SNS:GetTopicAttributes',
            'SNS:SetTopicAttributes',
            'SNS:AddPermission',
            'SNS:RemovePermission',
            'SNS:DeleteTopic',
            'SNS:Subscribe',
            'SNS:ListSubscriptionsByTopic',
            'SNS:Publish',
          ],
          Resource: arn,
          Condition: { StringEquals: { 'AWS:SourceOwner': w.account } },
        },
      ],
    });
  }

  const ATTRS = [
    'Policy',
    'DisplayName',
    'DeliveryPolicy',
    'KmsMasterKeyId',
    'TracingConfig',
    'SignatureVersion',
    'ArchivePolicy',
    'DataProtectionPolicy',
  ];

  return {
    service: 'sns',
    handlers: {
      CreateTopic(ctx, input) {
        const name = input.Name as string;
        if (!/^[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(name))
          throw err('InvalidParameterException', 'Invalid parameter: Topic Name');
        const arn = w.arn('sns', ctx.region, name);
        const attrs = (input.Attributes ?? {}) as Record<string, string>;
        for (const k of Object.keys(attrs)) {
          if (!ATTRS.includes(k) && k !== 'FifoTopic' && k !== 'ContentBasedDeduplication') {
            throw err(
              'InvalidParameterException',
              `Invalid parameter: Attributes Reason: Unknown attribute ${k}`,
            );
          }
        }
        const existing = w.live(TOPIC, ctx.region, arn);
        if (existing) {
          const differs = Object.entries(attrs).some(
            ([k, v]) => (existing.data.attributes as Record<string, string>)[k] !== v,
          );
          if (differs)
            throw err(
              'InvalidParameterException',
              'Invalid parameter: Attributes Reason: Topic already exists with different attributes',
            );
          return { TopicArn: arn };
        }
        if (
          attrs.KmsMasterKeyId &&
          !usableKey(w, ctx.region, attrs.KmsMasterKeyId) &&
          !attrs.KmsMasterKeyId.startsWith('alias/aws/')
        ) {
          throw err('InvalidParameterException', 'Invalid parameter: KmsMasterKeyId');
        }
        w.add({
          service: 'sns',
          type: TOPIC,
          region: ctx.region,
          id: arn,
          arn,
          name,
          tags: tagMap(input.Tags),
          state: 'available',
          data: {
            attributes: { Policy: defaultPolicy(arn), DisplayName: '', ...attrs },
            subscriptions: [],
          },
        });
        return { TopicArn: arn };
      },
      GetTopicAttributes(ctx, input) {
        const r = topic(ctx.region, input.TopicArn as string);
        const subs = r.data.subscriptions as In[];
        return {
          Attributes: {
            ...(r.data.attributes as Record<string, string>),
            TopicArn: r.arn!,
            Owner: w.account,
            SubscriptionsConfirmed: String(subs.filter((s) => s.confirmed).length),
            SubscriptionsPending: String(subs.filter((s) => !s.confirmed).length),
            SubscriptionsDeleted: '0',
            EffectiveDeliveryPolicy: JSON.stringify({
              http: { defaultHealthyRetryPolicy: { numRetries: 3 } },
            }),
          },
        };
      },
      SetTopicAttributes(ctx, input) {
        const r = topic(ctx.region, input.TopicArn as string);
        const name = input.AttributeName as string;
        if (!ATTRS.includes(name))
          throw err('InvalidParameterException', `Invalid parameter: AttributeName`);
        if (name === 'Policy') {
          try {
            JSON.parse(String(input.AttributeValue));
          } catch {
            throw err('InvalidParameterException', 'Invalid parameter: Policy Error: null');
          }
        }
        (r.data.attributes as Record<string, string>)[name] = String(input.AttributeValue ?? '');
        return {};
      },
      Subscribe(ctx, input) {
        const r = topic(ctx.region, input.TopicArn as string);
        const protocol = input.Protocol as string;
        const endpoint = input.Endpoint as string;
        if (
          ![
            'email',
            'email-json',
            'sms',
            'sqs',
            'lambda',
            'http',
            'https',
            'application',
            'firehose',
          ].includes(protocol)
        ) {
          throw err(
            'InvalidParameterException',
            'Invalid parameter: Amazon SNS does not support this protocol string',
          );
        }
        const subs = r.data.subscriptions as In[];
        let sub = subs.find((s) => s.protocol === protocol && s.endpoint === endpoint);
        if (!sub) {
          sub = {
            arn: `${r.arn!}:${w.rng.uuid()}`,
            protocol,
            endpoint,
            confirmed: !protocol.startsWith('email'),
          };
          subs.push(sub);
        }
        const visible = sub.confirmed || input.ReturnSubscriptionArn === true;
        return { SubscriptionArn: visible ? sub.arn : 'pending confirmation' };
      },
      Unsubscribe(ctx, input) {
        for (const t of w.find(TOPIC, ctx.region)) {
          t.data.subscriptions = (t.data.subscriptions as In[]).filter(
            (s) => s.arn !== input.SubscriptionArn,
          );
        }
        return {};
      },
      // A new account is in the SMS sandbox of every region (AWS: "When you start using Amazon
      // SNS to send SMS messages, your AWS account is in the SMS sandbox"); tests set
      // regionSettings(region).smsSandbox = false (out) and .smsSandboxNumbers
      // ([{ PhoneNumber, Status: 'Pending' | 'Verified' }]).
      GetSMSSandboxAccountStatus(ctx) {
        return { IsInSandbox: w.regionSettings(ctx.region).smsSandbox !== false };
      },
      ListSMSSandboxPhoneNumbers(ctx) {
        const numbers = (w.regionSettings(ctx.region).smsSandboxNumbers ?? []) as In[];
        return { PhoneNumbers: clone(numbers) };
      },
      ListSubscriptionsByTopic(ctx, input) {
        const r = topic(ctx.region, input.TopicArn as string);
        const p = page(
          r.data.subscriptions as In[],
          input.NextToken as string | undefined,
          100,
          100,
        );
        return {
          Subscriptions: p.items.map((s) => ({
            SubscriptionArn: s.confirmed ? s.arn : 'PendingConfirmation',
            Owner: w.account,
            Protocol: s.protocol,
            Endpoint: s.endpoint,
            TopicArn: r.arn,
          })),
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      DeleteTopic(ctx, input) {
        // DeleteTopic is idempotent: deleting a topic that does not exist succeeds.
        const r = w.live(TOPIC, ctx.region, input.TopicArn as string);
        if (r) w.remove(r);
        return {};
      },
      ListTagsForResource(ctx, input) {
        const r = topic(ctx.region, input.ResourceArn as string);
        return { Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
      },
      TagResource(ctx, input) {
        Object.assign(topic(ctx.region, input.ResourceArn as string).tags, tagMap(input.Tags));
        return {};
      },
    },
  };
}

/** Confirm every pending email subscription (what clicking the link in the email does). */
export function confirmSubscriptions(w: World): number {
  let n = 0;
  for (const t of w.find(TOPIC, undefined)) {
    for (const s of t.data.subscriptions as In[]) {
      if (!s.confirmed) {
        s.confirmed = true;
        n++;
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// CloudWatch
// ---------------------------------------------------------------------------------------------

/**
 * What CloudWatch refuses in a dashboard body, as the dashboard body structure documents it
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
 * a `widgets` array of at most 500 widgets on a 24-column grid (x 0-23, width 1-24); a metric
 * widget names its `region` and holds `metrics` rows; an alarm widget lists `alarms`. Each
 * metrics row is either `[Namespace, MetricName, (DimensionName, DimensionValue)..., {options}?]`
 * or a metric math expression alone in its row: `[{ "expression": ..., "id": ... }]`. An `id`
 * starts with a lower-case letter and holds letters, digits and underscores, and is unique in
 * its widget; a SEARCH expression also carries its `label` (the legend of every line it finds).
 * Returned in AWS's shape: `{ dataPath, message }`, one per problem.
 */
export function dashboardBodyErrors(body: unknown): Array<{ dataPath: string; message: string }> {
  const errors: Array<{ dataPath: string; message: string }> = [];
  const e = (dataPath: string, message: string) => errors.push({ dataPath, message });
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    e('', 'Should be object');
    return errors;
  }
  const widgets = (body as In).widgets as unknown;
  if (!Array.isArray(widgets)) {
    e('', "Should have required property 'widgets'");
    return errors;
  }
  if (widgets.length > 500) e('/widgets', 'Should NOT have more than 500 items');
  const int = (v: unknown, path: string, min: number, max: number) => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v)) e(path, 'Should be integer');
    else if (v < min) e(path, `Should be >= ${min}`);
    else if (v > max) e(path, `Should be <= ${max}`);
  };
  widgets.forEach((w: unknown, i) => {
    const at = `/widgets/${i}`;
    if (!w || typeof w !== 'object') return e(at, 'Should be object');
    const widget = w as In;
    if (typeof widget.type !== 'string') return e(at, "Should have required property 'type'");
    int(widget.x, `${at}/x`, 0, 23);
    int(widget.y, `${at}/y`, 0, Number.MAX_SAFE_INTEGER);
    int(widget.width, `${at}/width`, 1, 24);
    int(widget.height, `${at}/height`, 1, 1000);
    const props = widget.properties as Record<string, unknown> | undefined;
    if (widget.type === 'alarm') {
      const alarms = props?.alarms;
      if (!Array.isArray(alarms)) e(`${at}/properties`, "Should have required property 'alarms'");
      else if (alarms.length > 100)
        e(`${at}/properties/alarms`, 'Should NOT have more than 100 items');
      return;
    }
    if (widget.type !== 'metric') return;
    if (!props || typeof props !== 'object')
      return e(at, "Should have required property 'properties'");
    if (typeof props.region !== 'string')
      e(`${at}/properties`, "Should have required property 'region'");
    const metrics = props.metrics;
    if (metrics === undefined) return;
    errors.push(...metricsRowsErrors(metrics, `${at}/properties/metrics`, 'dashboard'));
  });
  return errors;
}

/**
 * What CloudWatch refuses in a `metrics` array of a dashboard widget or of GetMetricWidgetImage's
 * MetricWidget. Each row is `[Namespace, MetricName, (DimensionName, DimensionValue)..., {options}?]`
 * or a math expression alone in its row, `[{ "expression": ... }]`; an `id` starts with a
 * lower-case letter, holds letters, digits and underscores, and is unique in the widget. A
 * dashboard also wants each expression's `id`, and a SEARCH's `label` (dashboard body structure);
 * the MetricWidget page's own example graphs an expression with no id ("RATE(e1)"), and SEARCH is
 * a math expression like any other there ("Search expressions are a type of math expression",
 * CloudWatch User Guide, using-search-expressions; the MetricWidget `metrics` "can include both
 * raw metric and metric math expressions",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Metric-Widget-Structure.html).
 */
export function metricsRowsErrors(
  metrics: unknown,
  at: string,
  kind: 'dashboard' | 'image',
): Array<{ dataPath: string; message: string }> {
  const errors: Array<{ dataPath: string; message: string }> = [];
  const e = (dataPath: string, message: string) => errors.push({ dataPath, message });
  if (!Array.isArray(metrics)) {
    e(at, 'Should be array');
    return errors;
  }
  const ids = new Set<string>();
  metrics.forEach((row: unknown, j) => {
    const rowAt = `${at}/${j}`;
    if (!Array.isArray(row)) return e(rowAt, 'Should be array');
    const objects = row.filter((c) => c !== null && typeof c === 'object' && !Array.isArray(c));
    type Entry = Record<string, unknown>;
    const expression = (objects as Entry[]).find((o) => o.expression !== undefined);
    const idOf = (o: Entry | undefined, path: string) => {
      if (o?.id === undefined) return;
      if (typeof o.id !== 'string' || !/^[a-z][a-zA-Z0-9_]*$/.test(o.id))
        return e(`${path}/id`, 'Should match pattern "^[a-z][a-zA-Z0-9_]*$"');
      if (ids.has(o.id)) e(`${path}/id`, `Duplicate id "${o.id}"`);
      ids.add(o.id);
    };
    if (expression) {
      const exprAt = `${rowAt}/0`;
      if (row.length !== 1) e(rowAt, 'Should NOT have more than 1 items');
      if (typeof expression.expression !== 'string' || expression.expression.trim() === '')
        e(`${exprAt}/expression`, 'Should be a non-empty string');
      if (kind === 'dashboard' && expression.id === undefined)
        e(exprAt, "Should have required property 'id'");
      idOf(expression, exprAt);
      if (
        kind === 'dashboard' &&
        typeof expression.expression === 'string' &&
        /^\s*SEARCH\(/.test(expression.expression) &&
        typeof expression.label !== 'string'
      )
        e(exprAt, "Should have required property 'label'");
      return;
    }
    const last = row.length - 1;
    row.forEach((c, k) => {
      if (typeof c === 'string') return;
      if (k === last && objects.length === 1 && k >= 2) return idOf(c as Entry, `${rowAt}/${k}`);
      e(`${rowAt}/${k}`, 'Should be string');
    });
    const strings = row.filter((c) => typeof c === 'string').length;
    if (strings < 2) e(rowAt, 'Should NOT have fewer than 2 items');
    else if (strings % 2 !== 0) e(rowAt, 'A dimension name needs its value');
  });
  return errors;
}

export const ALARM = 'cloudwatch:alarm';
export const DASHBOARD = 'cloudwatch:dashboard';

export function cloudwatchService(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) =>
    w.error('cloudwatch', code, message, status);

  function alarmShape(r: Resource): In {
    const d: In = clone(r.data);
    return {
      ...d,
      AlarmArn: r.arn,
      StateValue: r.state,
      StateReason: 'Unchecked: Initial alarm creation',
      StateUpdatedTimestamp: date(r.createdAt),
      AlarmConfigurationUpdatedTimestamp: date(
        (r.data.updatedAt as number | undefined) ?? r.createdAt,
      ),
      updatedAt: undefined,
    };
  }

  const FIELDS = [
    'AlarmName',
    'AlarmDescription',
    'ActionsEnabled',
    'OKActions',
    'AlarmActions',
    'InsufficientDataActions',
    'MetricName',
    'Namespace',
    'Statistic',
    'ExtendedStatistic',
    'Dimensions',
    'Period',
    'Unit',
    'EvaluationPeriods',
    'DatapointsToAlarm',
    'Threshold',
    'ComparisonOperator',
    'TreatMissingData',
    'EvaluateLowSampleCountPercentile',
    'Metrics',
    'ThresholdMetricId',
  ];

  return {
    service: 'cloudwatch',
    handlers: {
      PutMetricAlarm(ctx, input) {
        const name = input.AlarmName as string;
        if (!input.EvaluationPeriods || !input.ComparisonOperator) {
          throw err('ValidationError', 'EvaluationPeriods and ComparisonOperator are required');
        }
        if (
          !input.Metrics &&
          (!input.MetricName || !input.Namespace || (!input.Statistic && !input.ExtendedStatistic))
        ) {
          throw err(
            'ValidationError',
            'Exactly one of Statistic or ExtendedStatistic, and MetricName and Namespace, must be specified',
          );
        }
        for (const a of [
          ...((input.AlarmActions ?? []) as string[]),
          ...((input.OKActions ?? []) as string[]),
        ]) {
          if (!/^arn:aws:(sns|autoscaling|automate|ssm|lambda)/.test(a))
            throw err('ValidationError', `Invalid action ${a}`);
        }
        const data: In = {
          ActionsEnabled: true,
          OKActions: [],
          AlarmActions: [],
          InsufficientDataActions: [],
          Dimensions: [],
        };
        for (const f of FIELDS) if (input[f] !== undefined) data[f] = clone(input[f]);
        const existing = w.live(ALARM, ctx.region, name);
        if (existing) {
          existing.data = { ...data, updatedAt: w.now() };
          return {};
        }
        w.add({
          service: 'cloudwatch',
          type: ALARM,
          region: ctx.region,
          id: name,
          arn: w.arn('cloudwatch', ctx.region, `alarm:${name}`),
          name,
          // Tags only take effect when the alarm is created.
          tags: tagMap(input.Tags),
          state: 'INSUFFICIENT_DATA',
          data,
        });
        return {};
      },
      DescribeAlarms(ctx, input) {
        const names = input.AlarmNames as string[] | undefined;
        const types = (input.AlarmTypes as string[] | undefined) ?? ['MetricAlarm'];
        let list = w.find(ALARM, ctx.region);
        if (names?.length) list = list.filter((a) => names.includes(a.id));
        if (input.AlarmNamePrefix)
          list = list.filter((a) => a.id.startsWith(input.AlarmNamePrefix as string));
        if (input.StateValue) list = list.filter((a) => a.state === input.StateValue);
        if (!types.includes('MetricAlarm')) list = [];
        list.sort((a, b) => (a.id < b.id ? -1 : 1));
        const p = page(
          list,
          input.NextToken as string | undefined,
          input.MaxRecords as number | undefined,
          100,
        );
        return {
          MetricAlarms: p.items.map(alarmShape),
          CompositeAlarms: [],
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      DeleteAlarms(ctx, input) {
        const names = (input.AlarmNames ?? []) as string[];
        const missing = names.filter((n) => !w.live(ALARM, ctx.region, n));
        // One unknown name and nothing is deleted.
        if (missing.length > 0)
          throw err(
            'ResourceNotFound',
            `1 validation error detected: alarm(s) ${missing.join(', ')} do not exist`,
            404,
          );
        for (const n of names) w.remove(w.live(ALARM, ctx.region, n)!);
        return {};
      },
      ListTagsForResource(ctx, input) {
        const r = w.byArn(input.ResourceARN as string);
        if (!r)
          throw err('ResourceNotFoundException', 'The specified resource does not exist', 404);
        return { Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
      },
      TagResource(ctx, input) {
        const r = w.byArn(input.ResourceARN as string);
        if (!r)
          throw err('ResourceNotFoundException', 'The specified resource does not exist', 404);
        Object.assign(r.tags, tagMap(input.Tags));
        return {};
      },
      /** The fake records no metric data: every query answers Complete with no points. */
      GetMetricData(_ctx, input) {
        return {
          MetricDataResults: ((input.MetricDataQueries ?? []) as In[]).map((q) => ({
            Id: q.Id,
            Label: q.Label ?? q.MetricStat?.Metric?.MetricName ?? q.Id,
            Timestamps: [],
            Values: [],
            StatusCode: 'Complete',
          })),
          Messages: [],
        };
      },
      /**
       * A picture of a metric graph. The fake records no metric data, so it draws an empty
       * graph of the requested size; the request is checked as CloudWatch documents the
       * MetricWidget JSON (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Metric-Widget-Structure.html):
       * 1-100 metrics, each row a metric or a math expression (SEARCH included) as
       * `metricsRowsErrors` reads them, `region` (optional) only the local Region, width and
       * height 1-2000 px (default 600 x 400), at most 100 KB. That page lists no widget feature
       * it leaves out, and the API reference says the graph "can include all CloudWatch metric
       * graph features, including metric math"
       * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricWidgetImage.html).
       */
      GetMetricWidgetImage(ctx, input) {
        const text = input.MetricWidget;
        if (typeof text !== 'string') throw err('ValidationError', 'MetricWidget is required');
        if (Buffer.byteLength(text) > 100 * 1024)
          throw err('InvalidParameterInput', 'The MetricWidget payload exceeds 100 KB');
        if (input.OutputFormat !== undefined && input.OutputFormat !== 'png')
          throw err('InvalidParameterInput', 'Only the png output format is supported by the SDK');
        let widget: In;
        try {
          widget = JSON.parse(text);
        } catch {
          throw err('InvalidParameterInput', 'The field MetricWidget must be a valid JSON object');
        }
        const metrics = widget.metrics as unknown;
        if (!Array.isArray(metrics) || metrics.length < 1 || metrics.length > 100)
          throw err('InvalidParameterInput', 'The field metrics must hold 1 to 100 metrics');
        for (const m of metrics)
          if (!Array.isArray(m)) throw err('InvalidParameterInput', 'Each metric must be an array');
        const invalid = metricsRowsErrors(metrics, '/metrics', 'image');
        if (invalid.length > 0)
          throw err(
            'InvalidParameterInput',
            `The MetricWidget is invalid, there are ${invalid.length} validation errors: ${JSON.stringify(invalid)}`,
          );
        if (widget.region !== undefined && widget.region !== ctx.region)
          throw err(
            'InvalidParameterInput',
            `The field region must be the local Region (${ctx.region}), not ${String(widget.region)}`,
          );
        const size = (v: unknown, fallback: number, field: string): number => {
          if (v === undefined) return fallback;
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2000)
            throw err(
              'InvalidParameterInput',
              `The field ${field} must be an integer of 1 to 2000`,
            );
          return v;
        };
        const width = size(widget.width, 600, 'width');
        const height = size(widget.height, 400, 'height');
        return { MetricWidgetImage: gridPng(width, height) };
      },
      PutDashboard(ctx, input) {
        const name = input.DashboardName as string;
        let body: In;
        try {
          body = JSON.parse(String(input.DashboardBody));
        } catch {
          throw err('InvalidParameterInput', 'The field DashboardBody must be a valid JSON object');
        }
        const invalid = dashboardBodyErrors(body);
        if (invalid.length > 0) {
          throw err(
            'InvalidParameterInput',
            `The dashboard body is invalid, there are ${invalid.length} validation errors: ${JSON.stringify(invalid)}`,
          );
        }
        const existing = w.live(DASHBOARD, 'global', name);
        if (existing) {
          existing.data.body = input.DashboardBody;
          existing.data.updatedAt = w.now();
        } else {
          w.add({
            service: 'cloudwatch',
            type: DASHBOARD,
            region: 'global',
            id: name,
            arn: `arn:aws:cloudwatch::${w.account}:dashboard/${name}`,
            name,
            state: 'available',
            data: { body: input.DashboardBody, homeRegion: ctx.region },
          });
        }
        return { DashboardValidationMessages: [] };
      },
      GetDashboard(ctx, input) {
        const r = w.live(DASHBOARD, 'global', input.DashboardName as string);
        if (!r)
          throw err(
            'ResourceNotFound',
            `Dashboard ${String(input.DashboardName)} does not exist`,
            404,
          );
        return { DashboardArn: r.arn, DashboardBody: r.data.body, DashboardName: r.id };
      },
      ListDashboards(ctx, input) {
        const list = w
          .find(DASHBOARD, 'global')
          .filter(
            (d) =>
              !input.DashboardNamePrefix || d.id.startsWith(input.DashboardNamePrefix as string),
          );
        return {
          DashboardEntries: list.map((d) => ({
            DashboardName: d.id,
            DashboardArn: d.arn,
            LastModified: date((d.data.updatedAt as number | undefined) ?? d.createdAt),
            Size: String(d.data.body).length,
          })),
        };
      },
      DeleteDashboards(ctx, input) {
        const names = (input.DashboardNames ?? []) as string[];
        const missing = names.filter((n) => !w.live(DASHBOARD, 'global', n));
        if (missing.length > 0)
          throw err('ResourceNotFound', `Dashboard ${missing.join(', ')} does not exist`, 404);
        for (const n of names) w.remove(w.live(DASHBOARD, 'global', n)!);
        return {};
      },
    },
  };
}
