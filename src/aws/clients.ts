import { CloudmartError } from '../errors.js';
import type { ACMClient } from '@aws-sdk/client-acm';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { BackupClient } from '@aws-sdk/client-backup';
import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { PricingClient } from '@aws-sdk/client-pricing';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { WAFV2Client } from '@aws-sdk/client-wafv2';

/** Every AWS service cloudmart talks to, by the short name steps use. */
export interface ServiceClients {
  acm: ACMClient;
  autoscaling: AutoScalingClient;
  backup: BackupClient;
  cloudfront: CloudFrontClient;
  cloudtrail: CloudTrailClient;
  cloudwatch: CloudWatchClient;
  logs: CloudWatchLogsClient;
  ec2: EC2Client;
  elasticache: ElastiCacheClient;
  elbv2: ElasticLoadBalancingV2Client;
  iam: IAMClient;
  kms: KMSClient;
  pricing: PricingClient;
  rds: RDSClient;
  tagging: ResourceGroupsTaggingAPIClient;
  route53: Route53Client;
  s3: S3Client;
  secretsmanager: SecretsManagerClient;
  sns: SNSClient;
  ssm: SSMClient;
  sts: STSClient;
  wafv2: WAFV2Client;
}
export type ServiceName = keyof ServiceClients;

type Ctor<T> = new (config: Record<string, unknown>) => T;

/**
 * A service's SDK package is imported the first time a step asks for its client, so that
 * `--help` and `plan` never pay for loading 22 SDK packages.
 */
const loaders: { [K in ServiceName]: () => Promise<Ctor<ServiceClients[K]>> } = {
  acm: async () => (await import('@aws-sdk/client-acm')).ACMClient,
  autoscaling: async () => (await import('@aws-sdk/client-auto-scaling')).AutoScalingClient,
  backup: async () => (await import('@aws-sdk/client-backup')).BackupClient,
  cloudfront: async () => (await import('@aws-sdk/client-cloudfront')).CloudFrontClient,
  cloudtrail: async () => (await import('@aws-sdk/client-cloudtrail')).CloudTrailClient,
  cloudwatch: async () => (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient,
  logs: async () => (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogsClient,
  ec2: async () => (await import('@aws-sdk/client-ec2')).EC2Client,
  elasticache: async () => (await import('@aws-sdk/client-elasticache')).ElastiCacheClient,
  elbv2: async () =>
    (await import('@aws-sdk/client-elastic-load-balancing-v2')).ElasticLoadBalancingV2Client,
  iam: async () => (await import('@aws-sdk/client-iam')).IAMClient,
  kms: async () => (await import('@aws-sdk/client-kms')).KMSClient,
  pricing: async () => (await import('@aws-sdk/client-pricing')).PricingClient,
  rds: async () => (await import('@aws-sdk/client-rds')).RDSClient,
  tagging: async () =>
    (await import('@aws-sdk/client-resource-groups-tagging-api')).ResourceGroupsTaggingAPIClient,
  route53: async () => (await import('@aws-sdk/client-route-53')).Route53Client,
  s3: async () => (await import('@aws-sdk/client-s3')).S3Client,
  secretsmanager: async () =>
    (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient,
  sns: async () => (await import('@aws-sdk/client-sns')).SNSClient,
  ssm: async () => (await import('@aws-sdk/client-ssm')).SSMClient,
  sts: async () => (await import('@aws-sdk/client-sts')).STSClient,
  wafv2: async () => (await import('@aws-sdk/client-wafv2')).WAFV2Client,
};

/** A call that got no answer before its deadline: what happened, where, and the fix. */
export function unanswered(target: CallTarget, ms: number, cause: unknown): CloudmartError {
  const where = describeTarget(target);
  return new CloudmartError(
    'AWS_UNREACHABLE',
    `${target.service} ${target.command} got no answer from ${where} within ${Math.round(ms / 1000)} s`,
    {
      cause,
      hint: target.endpoint
        ? `Check that the emulator at ${target.endpoint} is running and answering, or unset AWS_ENDPOINT_URL to use real AWS; then run the command again (it resumes where it stopped).`
        : `Check the network: a firewall or proxy may be dropping traffic to *.amazonaws.com on port 443 (the AWS SDK does not use HTTPS_PROXY). Then run the command again (it resumes where it stopped).`,
    },
  );
}

/** Services whose API lives in one region whatever the stack's region. */
const GLOBAL_REGION: Partial<Record<ServiceName, string>> = {
  iam: 'us-east-1',
  cloudfront: 'us-east-1',
  route53: 'us-east-1',
  pricing: 'us-east-1',
};

export interface AwsOptions {
  region: string;
  profile?: string | undefined;
  /** Endpoint override (AWS_ENDPOINT_URL), e.g. LocalStack. */
  endpoint?: string | undefined;
  /** S3 path-style addressing (emulators); on by default with an endpoint override. */
  s3PathStyle?: boolean;
  /** Total attempts per call, including the first. Throttling backs off adaptively. */
  maxAttempts?: number;
  /** Aborts every call in flight at once (the first Ctrl-C or SIGTERM). */
  signal?: AbortSignal | undefined;
  /** How long to wait for AWS (tests shorten them). */
  timeouts?: Partial<AwsTimeouts>;
}

/**
 * Without these the SDK waits for ever on an endpoint that accepts a connection and never
 * answers (a firewall that drops packets, a stuck emulator): the SDK's NodeHttpHandler sets no
 * connection or request timeout by default.
 */
export interface AwsTimeouts {
  /** TCP (and TLS) connection set-up, per attempt. */
  connectMs: number;
  /** One attempt, request sent to response read (AWS answers API calls in about a second). */
  attemptMs: number;
  /** One call with all its retries: past it, the call fails naming the endpoint. */
  callMs: number;
}

export const DEFAULT_TIMEOUTS: AwsTimeouts = {
  connectMs: 5_000,
  attemptMs: 15_000,
  callMs: 50_000,
};

/** Where a call's requests went, for messages: an override, else the service's AWS endpoint. */
export interface CallTarget {
  service: ServiceName;
  region: string;
  command: string;
  /** The endpoint override (AWS_ENDPOINT_URL) the call used, if any. */
  endpoint?: string | undefined;
}

/** The call an SDK error came from (set by the factory's clients on every error they throw). */
export function callTargetOf(e: unknown): CallTarget | undefined {
  return (e as { $cloudmartCall?: CallTarget } | null)?.$cloudmartCall;
}

/** "the endpoint http://127.0.0.1:4566 (AWS_ENDPOINT_URL)" or "AWS EC2 in ap-northeast-2 (ec2.ap-northeast-2.amazonaws.com)". */
export function describeTarget(t: CallTarget): string {
  return t.endpoint
    ? `the endpoint ${t.endpoint} (AWS_ENDPOINT_URL)`
    : `AWS ${t.service} in ${t.region} (${t.service}.${t.region}.amazonaws.com)`;
}

/**
 * Every error a client throws carries the call that failed (a `CreateDistribution` call → the
 * operation, its region and the resource it named), so the message a user reads names them:
 * the SDK's own errors say neither.
 */
export function withCallContext<T>(client: T, region: string): T {
  const stack = (client as { middlewareStack?: { add: (...a: unknown[]) => void } })
    .middlewareStack;
  const serviceId = (client as { config?: { serviceId?: string } }).config?.serviceId;
  stack?.add(
    (
      next: (a: { input: Record<string, unknown> }) => Promise<unknown>,
      context: { commandName?: string },
    ) =>
      async (args: { input: Record<string, unknown> }) => {
        try {
          return await next(args);
        } catch (e) {
          if (e && typeof e === 'object') {
            Object.assign(e, {
              $call: {
                operation: (context.commandName ?? '').replace(/Command$/, ''),
                region,
                resource: resourceNamed(args.input),
                service: serviceId,
              },
            });
            if (e instanceof Error) readable(e);
          }
          throw e;
        }
      },
    { step: 'initialize', name: 'cloudmartCallContext', override: true },
  );
  return client;
}

/**
 * A body the SDK cannot parse (an HTML error page from a proxy, a captive portal, an emulator
 * in between) comes as "Unexpected token '<'… Deserialization error: to see the raw response,
 * inspect the hidden field {error}.$response on this object", named SyntaxError: words for a
 * developer, not a user. Every message built from the error (step failures, verify evidence,
 * the leftover sweep) gets what happened instead; the raw text stays in `$sdkMessage` (debug).
 */
function readable(e: Error): void {
  if (!/hidden field \{error\}\.\$response|Deserialization error/i.test(e.message)) return;
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  Object.defineProperty(e, '$sdkMessage', { value: e.message, configurable: true });
  e.message = `AWS answered${status !== undefined ? ` HTTP ${status}` : ''} with a body that is not an AWS response (often a proxy or an emulator in between)`;
  e.name = 'UnreadableResponse';
}

/** The identifier a request names (`DBInstanceIdentifier`, `Bucket`, `LoadBalancerArn`, …), if any. */
function resourceNamed(input: Record<string, unknown> | undefined): string | undefined {
  if (!input) return undefined;
  for (const [k, v] of Object.entries(input)) {
    if (typeof v !== 'string' || v === '') continue;
    if (/^(Bucket|Name|Id|.*(Identifier|Arn|Name|Id))$/.test(k) && !/Token|Password|Secret/.test(k))
      return v;
  }
  return undefined;
}

/** What steps see: clients by service and region, and the account id. */
export interface Aws {
  readonly region: string;
  readonly endpoint: string | undefined;
  get<K extends ServiceName>(service: K, region?: string): Promise<ServiceClients[K]>;
  accountId(): Promise<string>;
  /** The partition-aware ARN prefix pieces for policies. */
  partition(): string;
}

/** The one client factory: one client per service and region, created on first use. */
export class AwsClientFactory implements Aws {
  readonly region: string;
  readonly endpoint: string | undefined;
  /** --profile, when given (the SDK reads AWS_PROFILE itself). */
  readonly profile: string | undefined;
  private readonly maxAttempts: number;
  private readonly s3PathStyle: boolean;
  private readonly cache = new Map<string, Promise<unknown>>();
  private account: Promise<string> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly timeouts: AwsTimeouts;

  constructor(options: AwsOptions) {
    this.region = options.region;
    this.profile = options.profile;
    this.endpoint = options.endpoint;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.s3PathStyle = options.s3PathStyle ?? Boolean(options.endpoint);
    this.signal = options.signal;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  get<K extends ServiceName>(service: K, region?: string): Promise<ServiceClients[K]> {
    const r = GLOBAL_REGION[service] ?? region ?? this.region;
    const key = `${service}@${r}`;
    let client = this.cache.get(key) as Promise<ServiceClients[K]> | undefined;
    if (!client) {
      client = loaders[service]().then((Client) =>
        withCallContext(
          this.guard(
            new Client({
              region: r,
              maxAttempts: this.maxAttempts,
              retryMode: 'adaptive',
              customUserAgent: 'cloudmart',
              // NodeHttpHandler options (the SDK accepts them in place of a handler).
              requestHandler: {
                connectionTimeout: this.timeouts.connectMs,
                requestTimeout: this.timeouts.attemptMs,
                throwOnRequestTimeout: true,
              },
              ...(this.profile ? { profile: this.profile } : {}),
              ...(this.endpoint ? { endpoint: this.endpoint } : {}),
              ...(this.s3PathStyle && service === 's3' ? { forcePathStyle: true } : {}),
            }),
            service,
            r,
          ),
          r,
        ),
      );
      this.cache.set(key, client);
    }
    return client;
  }

  /**
   * Every call of the client gets an abort signal: the run's (Ctrl-C ends calls in flight, the
   * SDK stops retrying) and a deadline for the call with its retries. An error says which
   * endpoint it came from; past the deadline it is an error naming the endpoint and the fix.
   * The prototype's `send` is looked up on each call, so test mocks installed later apply.
   */
  private guard<C extends object>(client: C, service: ServiceName, region: string): C {
    const timeouts = this.timeouts;
    const signal = this.signal;
    const endpoint = this.endpoint;
    const send = function (
      this: C,
      command: { constructor: { name: string } },
      options?: { abortSignal?: AbortSignal },
    ): Promise<unknown> {
      const proto = Object.getPrototypeOf(client) as {
        send: (c: unknown, o?: unknown) => Promise<unknown>;
      };
      const deadline = AbortSignal.timeout(timeouts.callMs);
      const signals = [deadline];
      if (signal) signals.push(signal);
      if (options?.abortSignal) signals.push(options.abortSignal);
      const target: CallTarget = {
        service,
        region,
        command: command.constructor.name.replace(/Command$/, ''),
        endpoint,
      };
      // Promise.resolve: a test double may answer with a plain value.
      return Promise.resolve()
        .then(() =>
          proto.send.call(client, command, { ...options, abortSignal: AbortSignal.any(signals) }),
        )
        .catch((e: unknown) => {
          if (deadline.aborted && !signal?.aborted && !options?.abortSignal?.aborted)
            throw unanswered(target, timeouts.callMs, e);
          if (typeof e === 'object' && e !== null)
            Object.defineProperty(e, '$cloudmartCall', { value: target, configurable: true });
          throw e;
        });
    };
    Object.defineProperty(client, 'send', { value: send, configurable: true, writable: true });
    return client;
  }

  accountId(): Promise<string> {
    this.account ??= (async () => {
      const sts = await this.get('sts');
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
      const out = await sts.send(new GetCallerIdentityCommand({}));
      if (!out.Account) throw new Error('STS GetCallerIdentity returned no account id');
      return out.Account;
    })();
    this.account.catch(() => (this.account = undefined));
    return this.account;
  }

  partition(): string {
    return this.region.startsWith('cn-')
      ? 'aws-cn'
      : this.region.startsWith('us-gov-')
        ? 'aws-us-gov'
        : 'aws';
  }

  /** Close every client's sockets so the process can exit promptly. */
  async destroy(): Promise<void> {
    for (const c of this.cache.values()) {
      try {
        ((await c) as { destroy?: () => void }).destroy?.();
      } catch {
        // a client that failed to load has nothing to close
      }
    }
  }
}
