import type { SNSClient, Subscription } from '@aws-sdk/client-sns';
import { ignoreNotFound, isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type KmsOutputs, type SnsOutputs } from '../outputs.js';
import { samePolicyValue } from '../../aws/policy.js';
import { parseJson } from './compare.js';

const snsSdk = () => import('@aws-sdk/client-sns');

/**
 * `monitoring.sns`: the topic every alarm notifies, encrypted with the stack's KMS key, with
 * the operator's email (and SMS when a phone is configured) subscribed.
 *
 * With a domain there is a second topic, `<stack>-alerts-edge` in us-east-1: Route 53 publishes
 * health-check metrics only there, an alarm can only notify a topic in its own region, and the
 * stack's KMS key is regional. That topic is NOT KMS-encrypted, deliberately: the AWS managed
 * key `alias/aws/sns` cannot be used (its key policy cannot grant cloudwatch.amazonaws.com, so
 * the alarm's publish would fail), and a second customer-managed key in us-east-1 costs $1 a
 * month with a 7-day minimum deletion window, beyond the exercise's $0.80 budget. It carries
 * only alarm state changes, no customer data; verify says so in the evidence.
 */

/**
 * Whether SNS can text the alarms to the phone. A new account is in the SMS sandbox of each
 * region and SNS then sends SMS only to verified destination numbers
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-sms-sandbox.html): the subscription looks
 * fine and no message ever arrives. A warning with the fix, never a failure (the email still
 * gets every alarm); `unknown` when SNS does not say.
 */
export async function smsSandboxCheck(
  ctx: StepContext,
  phone: string,
  /** The sandbox is per region: the edge topic's region (us-east-1) has its own. */
  region = ctx.config.region,
): Promise<Check> {
  const { GetSMSSandboxAccountStatusCommand, paginateListSMSSandboxPhoneNumbers } = await snsSdk();
  const edge = region !== ctx.config.region;
  const id = edge ? 'monitoring.sns.sms-sandbox.edge' : 'monitoring.sns.sms-sandbox';
  const title = edge
    ? `SMS alerts of the Route 53 health check (${region}) can reach ${phone}`
    : `SMS alerts can reach ${phone}`;
  const fix = `verify the number in the SMS sandbox (aws sns create-sms-sandbox-phone-number --phone-number ${phone} --region ${region}, then aws sns verify-sms-sandbox-phone-number with the code it texts), or ask AWS to move the account out of the SMS sandbox (SNS console → Text messaging (SMS) → Exit SMS sandbox)`;
  try {
    const sns = await ctx.aws.get('sns', region);
    const status = await sns.send(new GetSMSSandboxAccountStatusCommand({}));
    if (!status.IsInSandbox) {
      return {
        id,
        title,
        criterion: 'alarms',
        status: 'pass',
        evidence: `the account is out of the SMS sandbox in ${region}`,
      };
    }
    const numbers = await allPages(
      paginateListSMSSandboxPhoneNumbers({ client: sns }, {}),
      (page) => page.PhoneNumbers,
    );
    const entry = numbers.find((n) => n.PhoneNumber === phone);
    const verified = entry?.Status === 'Verified';
    return {
      id,
      title,
      criterion: 'alarms',
      status: verified ? 'pass' : 'warn',
      evidence: verified
        ? `the account is in the SMS sandbox in ${region}; ${phone} is a verified destination`
        : `the account is in the SMS sandbox in ${region} and ${phone} is ${entry ? `${entry.Status ?? 'not verified'} there` : 'not one of its verified destinations'}: SNS sends it no SMS`,
      ...(verified ? {} : { fix }),
    };
  } catch (e) {
    return {
      id,
      title,
      criterion: 'alarms',
      status: 'unknown',
      evidence: `could not read the SMS sandbox status in ${region}: ${(e as Error).name}: ${(e as Error).message}`,
      fix,
    };
  }
}

export function topicName(config: StepContext['config']): string {
  return names.of(config, 'alerts');
}
export function edgeTopicName(config: StepContext['config']): string {
  return names.of(config, 'alerts-edge');
}

function topicArnOf(partition: string, region: string, account: string, name: string): string {
  return `arn:${partition}:sns:${region}:${account}:${name}`;
}

/** Only CloudWatch alarms of this account may publish (confused-deputy guard on both keys). */
export function topicPolicy(
  topicArn: string,
  account: string,
  partition: string,
  region: string,
): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Id: 'cloudmart-alerts',
    Statement: [
      {
        Sid: 'AllowCloudWatchAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topicArn,
        Condition: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      },
    ],
  };
}

/** Whether a topic's KmsMasterKeyId names the stack key (by id, ARN, alias name or alias ARN). */
export function isStackKey(live: string | undefined, kms: KmsOutputs): boolean {
  if (!live) return false;
  return (
    live === kms.keyArn ||
    live === kms.keyId ||
    live === kms.aliasName ||
    live.endsWith(`:${kms.aliasName}`) ||
    live.endsWith(`:key/${kms.keyId}`)
  );
}

export type SubscriptionProtocol = 'email' | 'sms';

export interface WantedSubscription {
  protocol: SubscriptionProtocol;
  endpoint: string;
}

export function wantedSubscriptions(config: StepContext['config']): WantedSubscription[] {
  const subs: WantedSubscription[] = [{ protocol: 'email', endpoint: config.alerts.email }];
  if (config.alerts.phone) subs.push({ protocol: 'sms', endpoint: config.alerts.phone });
  return subs;
}

function sameEndpoint(want: WantedSubscription, sub: Subscription): boolean {
  if (sub.Protocol !== want.protocol || !sub.Endpoint) return false;
  return want.protocol === 'email'
    ? sub.Endpoint.toLowerCase() === want.endpoint.toLowerCase()
    : sub.Endpoint === want.endpoint;
}

/** Subscription states as ListSubscriptionsByTopic shows them (pending ones have no ARN yet). */
function stateOf(sub: Subscription | undefined): 'confirmed' | 'pending' | 'missing' {
  const arn = sub?.SubscriptionArn;
  if (!arn || arn === 'Deleted') return 'missing';
  if (arn === 'PendingConfirmation') return 'pending';
  return 'confirmed';
}

async function getTopicAttributes(
  sns: SNSClient,
  topicArn: string,
): Promise<Record<string, string> | undefined> {
  const { GetTopicAttributesCommand } = await snsSdk();
  const out = await ignoreNotFound(sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn })));
  return out ? (out.Attributes ?? {}) : undefined;
}

async function listSubscriptions(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const { paginateListSubscriptionsByTopic } = await snsSdk();
  return allPages(
    paginateListSubscriptionsByTopic({ client: sns }, { TopicArn: topicArn }),
    (page) => page.Subscriptions,
  );
}

interface TopicTarget {
  region: string;
  name: string;
  /** Stack key for SSE; undefined for the us-east-1 edge topic (see the module comment). */
  kms: KmsOutputs | undefined;
}

/** Find-or-create one topic, converge its key and policy, and subscribe the wanted endpoints. */
async function ensureTopic(ctx: StepContext, target: TopicTarget): Promise<string> {
  const { CreateTopicCommand, SetTopicAttributesCommand, SubscribeCommand } = await snsSdk();
  const sns = await ctx.aws.get('sns', target.region);
  const account = await ctx.aws.accountId();
  const partition = ctx.aws.partition();
  let topicArn = topicArnOf(partition, target.region, account, target.name);
  const policy = topicPolicy(topicArn, account, partition, target.region);

  // The ARN is deterministic, so a read finds the topic; CreateTopic would also return an
  // existing topic, but it is a write and a converged re-run must send none.
  let attrs = await getTopicAttributes(sns, topicArn);
  if (!attrs) {
    ctx.progress(`creating SNS topic ${target.name} in ${target.region}`);
    try {
      const out = await sns.send(
        new CreateTopicCommand({
          Name: target.name,
          Attributes: {
            ...(target.kms ? { KmsMasterKeyId: target.kms.keyArn } : {}),
            Policy: JSON.stringify(policy),
          },
          Tags: ctx.tags.list(target.name),
        }),
      );
      topicArn = out.TopicArn ?? topicArn;
    } catch (e) {
      // Created meanwhile with other attributes ("Topic already exists with different
      // attributes"): read it again and converge it like an adopted one.
      if (!isAlreadyExists(e) && !/already exists/i.test((e as Error).message)) throw e;
      attrs = await getTopicAttributes(sns, topicArn);
      if (!attrs) throw e;
    }
  }
  if (attrs) {
    if (target.kms && !isStackKey(attrs.KmsMasterKeyId, target.kms)) {
      ctx.progress(`SNS topic ${target.name}: encrypting with the stack KMS key`);
      await sns.send(
        new SetTopicAttributesCommand({
          TopicArn: topicArn,
          AttributeName: 'KmsMasterKeyId',
          AttributeValue: target.kms.keyArn,
        }),
      );
    }
    if (!samePolicyValue(parseJson(attrs.Policy), policy)) {
      ctx.progress(`SNS topic ${target.name}: setting the CloudWatch publish policy`);
      await sns.send(
        new SetTopicAttributesCommand({
          TopicArn: topicArn,
          AttributeName: 'Policy',
          AttributeValue: JSON.stringify(policy),
        }),
      );
    }
  }

  const subs = attrs ? await listSubscriptions(sns, topicArn) : [];
  for (const want of wantedSubscriptions(ctx.config)) {
    const existing = subs.find((s) => sameEndpoint(want, s) && stateOf(s) !== 'missing');
    if (!existing) {
      ctx.progress(`SNS topic ${target.name}: subscribing ${want.protocol} ${want.endpoint}`);
      await sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: want.protocol,
          Endpoint: want.endpoint,
          ReturnSubscriptionArn: true,
        }),
      );
      if (want.protocol === 'email') {
        ctx.warn(
          `AWS sent a confirmation email to ${want.endpoint} for ${target.name}: alarms reach it only after the link in that email is clicked.`,
        );
      }
    } else if (want.protocol === 'email' && stateOf(existing) === 'pending') {
      ctx.warn(
        `The email subscription of ${want.endpoint} to ${target.name} is still waiting for confirmation: click the link in the AWS Notifications email (AWS drops unconfirmed subscriptions after 3 days; the next "cloudmart up" subscribes again).`,
      );
    }
  }
  // Subscriptions added by hand are left alone: removing them could silence someone.
  for (const s of subs) {
    if (
      (s.Protocol === 'email' || s.Protocol === 'sms') &&
      stateOf(s) !== 'missing' &&
      !wantedSubscriptions(ctx.config).some((w) => sameEndpoint(w, s))
    ) {
      ctx.warn(
        `SNS topic ${target.name} also notifies ${s.Protocol} ${s.Endpoint ?? '?'}, which is not in the config; it was left in place.`,
      );
    }
  }
  return topicArn;
}

export interface SubscriptionStatus {
  topicArn: string;
  region: string;
  protocol: SubscriptionProtocol;
  endpoint: string;
  status: 'confirmed' | 'pending' | 'missing';
}

/**
 * For `cloudmart status`: each configured endpoint of each alerts topic and whether it is
 * confirmed, still waiting for the email link to be clicked, or missing. Read-only.
 */
export async function subscriptionStatus(
  ctx: Pick<StepContext, 'config' | 'aws'>,
): Promise<SubscriptionStatus[]> {
  const account = await ctx.aws.accountId();
  const partition = ctx.aws.partition();
  const topics = [{ region: ctx.config.region, name: topicName(ctx.config) }];
  if (ctx.config.dns.domain) {
    topics.push({ region: ctx.config.edgeRegion, name: edgeTopicName(ctx.config) });
  }
  const result: SubscriptionStatus[] = [];
  for (const t of topics) {
    const sns = await ctx.aws.get('sns', t.region);
    const topicArn = topicArnOf(partition, t.region, account, t.name);
    let subs: Subscription[] = [];
    try {
      subs = await listSubscriptions(sns, topicArn);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    for (const want of wantedSubscriptions(ctx.config)) {
      const states = subs.filter((s) => sameEndpoint(want, s)).map(stateOf);
      const status = states.includes('confirmed')
        ? 'confirmed'
        : states.includes('pending')
          ? 'pending'
          : 'missing';
      result.push({ topicArn, region: t.region, ...want, status });
    }
  }
  return result;
}

function policyAllowsCloudWatch(policyText: string | undefined): boolean {
  const doc = parseJson(policyText) as { Statement?: unknown } | undefined;
  const statements = ([] as unknown[]).concat(doc?.Statement ?? []) as Array<{
    Effect?: string;
    Principal?: { Service?: string | string[] };
    Action?: string | string[];
  }>;
  return statements.some(
    (s) =>
      s.Effect === 'Allow' &&
      ([] as string[]).concat(s.Principal?.Service ?? []).includes('cloudwatch.amazonaws.com') &&
      ([] as string[]).concat(s.Action ?? []).some((a) => a === 'sns:Publish' || a === 'sns:*'),
  );
}

export const alertsTopicStep = defineStep<SnsOutputs>({
  id: STEP.sns,
  phase: 2,
  title: 'SNS alerts topic and subscriptions',
  needs: [STEP.kms],
  actions: [
    'sns:GetTopicAttributes',
    'sns:CreateTopic',
    'sns:TagResource',
    'sns:SetTopicAttributes',
    'sns:ListSubscriptionsByTopic',
    'sns:Subscribe',
    'sns:DeleteTopic',
    // verify: whether SMS alerts can reach the phone (the account's SMS sandbox)
    'sns:GetSMSSandboxAccountStatus',
    'sns:ListSMSSandboxPhoneNumbers',
  ],
  describe: (config) => {
    const lines = [
      `SNS topic ${topicName(config)} encrypted with the stack KMS key; only CloudWatch alarms of this account may publish`,
      `email subscription ${config.alerts.email} (AWS sends a confirmation link that must be clicked)`,
    ];
    if (config.alerts.phone) lines.push(`SMS subscription ${config.alerts.phone}`);
    if (config.dns.domain) {
      lines.push(
        `SNS topic ${edgeTopicName(config)} in ${config.edgeRegion} for the Route 53 health-check alarm (same subscriptions; not KMS-encrypted: the stack key is regional)`,
      );
    }
    return lines;
  },

  async create(ctx) {
    const kms = ctx.outputs<KmsOutputs>(STEP.kms);
    const topicArn = await ensureTopic(ctx, {
      region: ctx.config.region,
      name: topicName(ctx.config),
      kms,
    });
    const outputs: SnsOutputs = { topicArn, topicName: topicName(ctx.config) };
    if (ctx.config.dns.domain) {
      outputs.edgeTopicArn = await ensureTopic(ctx, {
        region: ctx.config.edgeRegion,
        name: edgeTopicName(ctx.config),
        kms: undefined,
      });
    }
    return outputs;
  },

  async verify(ctx) {
    const sns = await ctx.aws.get('sns');
    const account = await ctx.aws.accountId();
    const name = topicName(ctx.config);
    const topicArn = topicArnOf(ctx.aws.partition(), ctx.config.region, account, name);
    const attrs = await getTopicAttributes(sns, topicArn);
    if (!attrs) {
      return [
        {
          id: 'monitoring.sns.topic',
          title: `SNS topic ${name} exists`,
          criterion: 'alarms',
          status: 'fail',
          evidence: `no topic ${topicArn}`,
          fix: 'cloudmart up --phase 2',
        },
      ];
    }
    const kms = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
    const keyId = attrs.KmsMasterKeyId;
    const encrypted = kms
      ? isStackKey(keyId, kms)
      : keyId !== undefined && keyId !== '' && !keyId.endsWith('alias/aws/sns');
    const checks: Check[] = [
      {
        id: 'monitoring.sns.topic',
        title: `SNS topic ${name} exists`,
        criterion: 'alarms',
        status: 'pass',
        evidence: topicArn,
      },
      {
        id: 'monitoring.sns.encrypted',
        title: 'Alerts topic encrypted with the stack KMS key',
        criterion: 'encryption',
        status: encrypted ? 'pass' : 'fail',
        evidence: `KmsMasterKeyId=${keyId || '(none)'}`,
        fix: 'cloudmart up --phase 2',
      },
      {
        id: 'monitoring.sns.policy',
        title: 'CloudWatch alarms may publish to the alerts topic',
        criterion: 'alarms',
        status: policyAllowsCloudWatch(attrs.Policy) ? 'pass' : 'fail',
        evidence: policyAllowsCloudWatch(attrs.Policy)
          ? 'topic policy allows cloudwatch.amazonaws.com sns:Publish'
          : 'topic policy has no Allow for cloudwatch.amazonaws.com sns:Publish',
        fix: 'cloudmart up --phase 2',
      },
    ];
    const states = await subscriptionStatus(ctx);
    for (const s of states.filter((x) => x.topicArn === topicArn)) {
      checks.push({
        id: `monitoring.sns.subscription.${s.protocol}`,
        title: `${s.protocol === 'email' ? 'Email' : 'SMS'} subscription confirmed`,
        criterion: 'alarms',
        status: s.status === 'confirmed' ? 'pass' : s.status === 'pending' ? 'warn' : 'fail',
        evidence: `${s.endpoint}: ${s.status === 'pending' ? 'PendingConfirmation' : s.status}`,
        fix:
          s.status === 'pending'
            ? `click the confirmation link AWS emailed to ${s.endpoint}`
            : 'cloudmart up --phase 2',
      });
    }
    if (ctx.config.alerts.phone) checks.push(await smsSandboxCheck(ctx, ctx.config.alerts.phone));
    if (ctx.config.dns.domain) {
      // The edge topic texts the same phone from its own region, with its own SMS sandbox.
      if (ctx.config.alerts.phone && ctx.config.edgeRegion !== ctx.config.region)
        checks.push(await smsSandboxCheck(ctx, ctx.config.alerts.phone, ctx.config.edgeRegion));
      const edge = states.filter((x) => x.region === ctx.config.edgeRegion);
      const edgeSns = await ctx.aws.get('sns', ctx.config.edgeRegion);
      const edgeArn = topicArnOf(
        ctx.aws.partition(),
        ctx.config.edgeRegion,
        account,
        edgeTopicName(ctx.config),
      );
      const edgeAttrs = await getTopicAttributes(edgeSns, edgeArn);
      const pending = edge.filter((s) => s.status !== 'confirmed');
      checks.push({
        id: 'monitoring.sns.edge-topic',
        title: `${ctx.config.edgeRegion} topic for the Route 53 health-check alarm`,
        criterion: 'alarms',
        status: !edgeAttrs ? 'fail' : pending.length > 0 ? 'warn' : 'pass',
        evidence: !edgeAttrs
          ? `no topic ${edgeArn}`
          : `${edgeArn}; subscriptions: ${edge.map((s) => `${s.endpoint} ${s.status}`).join(', ')}; not KMS-encrypted by design (the stack key is regional and alias/aws/sns cannot be used by CloudWatch)`,
        fix: !edgeAttrs
          ? 'cloudmart up --phase 2'
          : 'click the confirmation link AWS emailed for the edge topic',
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteTopicCommand } = await snsSdk();
    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const targets: Array<{ region: string; arn: string }> = [
      {
        region: ctx.config.region,
        arn:
          (ctx.previous?.topicArn as string | undefined) ??
          topicArnOf(partition, ctx.config.region, account, topicName(ctx.config)),
      },
    ];
    const previousEdge = ctx.previous?.edgeTopicArn as string | undefined;
    if (ctx.config.dns.domain || previousEdge) {
      targets.push({
        region: ctx.config.edgeRegion,
        arn:
          previousEdge ??
          topicArnOf(partition, ctx.config.edgeRegion, account, edgeTopicName(ctx.config)),
      });
    }
    for (const t of targets) {
      const sns = await ctx.aws.get('sns', t.region);
      try {
        // Deleting the topic removes its subscriptions with it.
        await sns.send(new DeleteTopicCommand({ TopicArn: t.arn }));
        ctx.progress(`deleted SNS topic ${t.arn}`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  },
});
