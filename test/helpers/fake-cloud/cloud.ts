import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AwsStub } from 'aws-sdk-client-mock';
import { checkAnswer } from '../aws-models/check.js';
import { Clock, type ClockState } from './clock.js';
import { allPagesOf, withPaging } from './paging.js';
import { FakeNotImplementedError, registerErrorClasses, sdkRetries } from './errors.js';
import { addRecoveryPoint, backupService, cloudtrailService } from './services/audit.js';
import { autoscalingService } from './services/autoscaling.js';
import { ec2Service } from './services/ec2.js';
import { acmService, cloudfrontService, route53Service, wafv2Service } from './services/edge.js';
import { elasticacheService } from './services/elasticache.js';
import { elbv2Service } from './services/elbv2.js';
import { iamService } from './services/iam.js';
import { kmsService } from './services/kms.js';
import { logsService } from './services/logs.js';
import { rdsService } from './services/rds.js';
import { s3Service } from './services/s3.js';
import { secretsmanagerService } from './services/secretsmanager.js';
import {
  cloudwatchService,
  confirmSubscriptions,
  pricingService,
  snsService,
  ssmService,
  stsService,
  taggingService,
} from './services/small.js';
import { INSTANT_TIMINGS, LATENCY_TIMINGS, type Timings } from './timings.js';
import type {
  CallEvent,
  CallHook,
  CallRecord,
  Duplicate,
  In,
  InventoryItem,
  Leftover,
  Resource,
  ServiceModule,
  ServiceName,
} from './types.js';
import { clone } from './util.js';
import { World, type WorldJSON } from './world.js';

/**
 * - `instant` (default): every timing is 0, so everything is ready at once; sleeps cost no
 *   real time (virtual clock, see clock.ts).
 * - `virtual`: the latency model's timings on the same virtual clock: RDS still takes 15
 *   simulated minutes, NAT gateways 2, ENIs linger after their owner, but no real time passes.
 *   Every wait and retry path runs, in a fraction of a second.
 * - `latency`: the latency model's timings on a real clock scaled down (`msPerMinute`).
 */
export type FakeCloudMode = 'instant' | 'virtual' | 'latency';

export interface FakeCloudOptions {
  mode?: FakeCloudMode;
  /** Real milliseconds per simulated minute in latency mode (default 100: 600× faster than AWS). */
  msPerMinute?: number;
  /** Override single timings (simulated ms), in either mode. */
  timings?: Partial<Timings>;
  /** Account id (default 123456789012, the tests' ACCOUNT). */
  account?: string;
  /** Seed of the id generator (default 1): the same calls give the same ids. */
  seed?: number;
  /** Simulated epoch ms at start (default: the real time now). */
  startAt?: number;
  /** Mirror the cloud into this file after every mutating call (see saveTo). */
  file?: string;
  /**
   * Most items per page of any paginated list (paging.ts): 2 by default in instant and virtual
   * mode, so a reader of the first page only misses items; 100 in latency mode (the benchmark
   * counts calls); Infinity turns paging off.
   */
  pageSize?: number;
}

export interface FakeCloudJSON {
  version: 1;
  mode: FakeCloudMode;
  clock: ClockState;
  timings: Timings;
  seq: number;
  world: WorldJSON;
}

/** The SDK package and client class of each service (the same table as src/aws/clients.ts). */
const CLIENTS: Record<ServiceName, [string, string]> = {
  acm: ['@aws-sdk/client-acm', 'ACMClient'],
  autoscaling: ['@aws-sdk/client-auto-scaling', 'AutoScalingClient'],
  backup: ['@aws-sdk/client-backup', 'BackupClient'],
  cloudfront: ['@aws-sdk/client-cloudfront', 'CloudFrontClient'],
  cloudtrail: ['@aws-sdk/client-cloudtrail', 'CloudTrailClient'],
  cloudwatch: ['@aws-sdk/client-cloudwatch', 'CloudWatchClient'],
  logs: ['@aws-sdk/client-cloudwatch-logs', 'CloudWatchLogsClient'],
  ec2: ['@aws-sdk/client-ec2', 'EC2Client'],
  elasticache: ['@aws-sdk/client-elasticache', 'ElastiCacheClient'],
  elbv2: ['@aws-sdk/client-elastic-load-balancing-v2', 'ElasticLoadBalancingV2Client'],
  iam: ['@aws-sdk/client-iam', 'IAMClient'],
  kms: ['@aws-sdk/client-kms', 'KMSClient'],
  pricing: ['@aws-sdk/client-pricing', 'PricingClient'],
  rds: ['@aws-sdk/client-rds', 'RDSClient'],
  tagging: ['@aws-sdk/client-resource-groups-tagging-api', 'ResourceGroupsTaggingAPIClient'],
  route53: ['@aws-sdk/client-route-53', 'Route53Client'],
  s3: ['@aws-sdk/client-s3', 'S3Client'],
  secretsmanager: ['@aws-sdk/client-secrets-manager', 'SecretsManagerClient'],
  sns: ['@aws-sdk/client-sns', 'SNSClient'],
  ssm: ['@aws-sdk/client-ssm', 'SSMClient'],
  sts: ['@aws-sdk/client-sts', 'STSClient'],
  wafv2: ['@aws-sdk/client-wafv2', 'WAFV2Client'],
};

/** Services whose client always talks to one region (src/aws/clients.ts GLOBAL_REGION). */
const GLOBAL_REGION: Partial<Record<ServiceName, string>> = {
  iam: 'us-east-1',
  cloudfront: 'us-east-1',
  route53: 'us-east-1',
  pricing: 'us-east-1',
};

/** Operations that only read, whatever their verb. */
const READ = /^(Describe|Get|List|Head|Lookup|Search|Select|Preview|Test)/;

/** Operations whose SDK model fills an idempotency token when the caller leaves it out. */
const AUTO_TOKEN: Record<string, string> = {
  'ec2.CreateNatGateway': 'ClientToken',
  'ec2.CreateRouteTable': 'ClientToken',
  'ec2.CreateLaunchTemplate': 'ClientToken',
  'ec2.CreateLaunchTemplateVersion': 'ClientToken',
  'ec2.CreateFlowLogs': 'ClientToken',
  'ec2.RunInstances': 'ClientToken',
  'secretsmanager.CreateSecret': 'ClientRequestToken',
};

/** Kept on purpose by a destroy and no longer billed: not a failure of the teardown. */
/** Where the stubbed clients' calls go: service, client region, operation, input, attempts. */
export type SendFn = (
  service: ServiceName,
  region: string,
  command: string,
  input: unknown,
  maxAttempts: number,
) => Promise<unknown>;

/**
 * Replace `send` of every SDK client class cloudmart uses with `send` (aws-sdk-client-mock):
 * what FakeCloud.install does with its own dispatch, and what a child process does to reach a
 * cloud served by another (test/reliability/shared-cloud.ts). Returns the undo.
 */
export async function installSend(send: SendFn): Promise<() => void> {
  const { mockClient } = await import('aws-sdk-client-mock');
  const entries = Object.entries(CLIENTS) as Array<[ServiceName, [string, string]]>;
  const modules = await Promise.all(
    entries.map(([, [pkg]]) => import(pkg) as Promise<Record<string, unknown>>),
  );
  const stubs: AwsStub<In, In, In>[] = [];
  entries.forEach(([service, [, className]], i) => {
    const mod = modules[i]!;
    registerErrorClasses(service, mod);
    const Client = mod[className] as new (...args: unknown[]) => unknown;
    const stub = mockClient(Client as never) as unknown as AwsStub<In, In, In>;
    stub.send.callsFake(async function (this: In, command: In) {
      const config = (this?.config ?? {}) as Record<string, unknown>;
      const region =
        GLOBAL_REGION[service] ?? (await resolve<string>(config.region)) ?? 'us-east-1';
      const maxAttempts = (await resolve<number>(config.maxAttempts)) ?? 3;
      const name = String(command?.constructor?.name ?? '').replace(/Command$/, '');
      return send(service, region, name, command?.input ?? {}, maxAttempts);
    });
    stubs.push(stub);
  });
  return () => {
    for (const s of stubs) s.restore();
  };
}

/**
 * The SDK hands an object's body back as a stream with `transformToString()` /
 * `transformToByteArray()` (S3 GetObject); handlers return bytes, which become that here.
 */
function streamingBody(out: Record<string, unknown>): Record<string, unknown> {
  const body = out.Body;
  if (!(body instanceof Uint8Array)) return out;
  const bytes = new Uint8Array(body);
  return {
    ...out,
    Body: {
      transformToString: (encoding: BufferEncoding = 'utf8') =>
        Promise.resolve(Buffer.from(bytes).toString(encoding)),
      transformToByteArray: () => Promise.resolve(new Uint8Array(bytes)),
    },
  };
}

function isKept(world: World, r: Resource): boolean {
  if (r.type === 'kms:key') return r.state === 'PendingDeletion';
  // An alias goes with its key when the key is finally deleted; until then it may lead a
  // later run back to the key (to cancel the deletion).
  if (r.type === 'kms:alias')
    return (
      world.get('kms:key', r.region, r.data.targetKeyId as string)?.state === 'PendingDeletion'
    );
  return r.type === 'secretsmanager:secret' && r.state === 'scheduled-for-deletion';
}

/**
 * A stateful, in-memory AWS for cloudmart's tests, benchmark and reliability suite. See
 * test/helpers/fake-cloud/README.md for what it models and how to use it.
 */
export class FakeCloud {
  readonly world: World;
  readonly clock: Clock;
  readonly timings: Timings;
  readonly mode: FakeCloudMode;
  /** Every call the fake saw (one entry per attempt), oldest first. */
  readonly calls: CallRecord[] = [];
  private readonly services = new Map<ServiceName, ServiceModule>();
  private readonly hooks: CallHook[] = [];
  private restore: (() => void) | undefined;
  private seq = 0;
  private file: string | undefined;
  /** Most items per page of a paginated list (FakeCloudOptions.pageSize). */
  pageSize: number;

  constructor(options: FakeCloudOptions = {}) {
    this.mode = options.mode ?? 'instant';
    this.clock = new Clock(
      this.mode === 'latency' ? 'latency' : 'instant',
      options.msPerMinute ?? 100,
      options.startAt ?? Date.now(),
    );
    this.timings = {
      ...(this.mode === 'instant' ? INSTANT_TIMINGS : LATENCY_TIMINGS),
      ...options.timings,
    };
    this.world = new World(
      options.account ?? '123456789012',
      this.clock,
      this.timings,
      options.seed ?? 1,
    );
    for (const make of [
      ec2Service,
      elbv2Service,
      autoscalingService,
      rdsService,
      elasticacheService,
      s3Service,
      iamService,
      kmsService,
      logsService,
      secretsmanagerService,
      stsService,
      taggingService,
      ssmService,
      snsService,
      cloudwatchService,
      cloudfrontService,
      wafv2Service,
      acmService,
      route53Service,
      cloudtrailService,
      backupService,
      pricingService,
    ]) {
      const m = make(this.world);
      this.services.set(m.service, m);
    }
    this.file = options.file;
    this.pageSize = options.pageSize ?? (this.mode === 'latency' ? 100 : 2);
  }

  get account(): string {
    return this.world.account;
  }

  // -------------------------------------------------------------------------------------------
  // Clock: pass these to the engine (EngineOptions.sleep / now)
  // -------------------------------------------------------------------------------------------

  /** Simulated epoch ms. */
  readonly now = (): number => this.clock.now();

  /** Sleep SIMULATED ms (real wait = ms × msPerMinute / 60 000; instant mode: none). */
  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    this.clock.sleep(ms, signal);

  /** Move simulated time forward (instant mode), then apply whatever became due. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.world.advance();
  }

  // -------------------------------------------------------------------------------------------
  // Installation
  // -------------------------------------------------------------------------------------------

  /**
   * Replace `send` of every SDK client class cloudmart uses (aws-sdk-client-mock). Clients
   * created before or after are served by this cloud, in any region, until `uninstall()`.
   */
  async install(): Promise<this> {
    this.uninstall();
    this.restore = await installSend((s, region, name, input, attempts) =>
      this.send(s, region, name, input, attempts),
    );
    return this;
  }

  /** Give `send` back to the SDK classes. */
  uninstall(): void {
    this.restore?.();
    this.restore = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch
  // -------------------------------------------------------------------------------------------

  /**
   * One SDK call: the fake replays the SDK's retries of transient errors (throttling, 5xx,
   * connection resets) up to the client's `maxAttempts`, with simulated back-off.
   */
  async send(
    service: ServiceName,
    region: string,
    command: string,
    input: unknown,
    maxAttempts = 1,
  ): Promise<unknown> {
    const module = this.services.get(service);
    const handler = module?.handlers[command];
    if (!handler) throw new FakeNotImplementedError(service, command);
    const request = clone(input ?? {}) as In;
    const token = AUTO_TOKEN[`${service}.${command}`];
    if (token && request[token] === undefined) request[token] = this.world.rng.uuid();
    for (let attempt = 1; ; attempt++) {
      // Yield once, as a network call would: concurrent steps interleave realistically.
      await new Promise<void>((r) => setImmediate(r));
      try {
        const out = this.attempt(service, region, command, request, attempt);
        return out;
      } catch (e) {
        if (attempt < maxAttempts && sdkRetries(e)) {
          const delay = Math.min(20_000, 100 * 2 ** attempt);
          await this.clock.sleep(delay);
          continue;
        }
        const meta = (e as { $metadata?: Record<string, unknown> } | null)?.$metadata;
        if (meta && typeof meta === 'object') meta.attempts = attempt;
        throw e;
      }
    }
  }

  /** Whether the fake models this operation (`implements('ec2', 'CreateVpc')`). */
  implements(service: ServiceName, command: string): boolean {
    return this.services.get(service)?.handlers[command] !== undefined;
  }

  /** Call an operation directly, without an SDK client (for the fake's own tests and scripts). */
  call(
    service: ServiceName,
    command: string,
    input: unknown = {},
    region = 'ap-northeast-2',
  ): Promise<unknown> {
    return this.send(service, GLOBAL_REGION[service] ?? region, command, input, 1);
  }

  /** Like `call`, with every page of a paginated list merged into one answer. */
  callAll(
    service: ServiceName,
    command: string,
    input: In = {},
    region = 'ap-northeast-2',
  ): Promise<Record<string, unknown>> {
    return allPagesOf(service, command, input, (i) => this.call(service, command, i, region));
  }

  private attempt(
    service: ServiceName,
    region: string,
    command: string,
    input: In,
    attempt: number,
  ): unknown {
    this.clock.touch();
    this.world.advance();
    const mutating = !READ.test(command);
    const record: CallRecord = {
      seq: ++this.seq,
      service,
      region,
      command,
      input: clone(input),
      mutating,
      attempt,
      at: this.clock.now(),
    };
    this.calls.push(record);
    const event: CallEvent = {
      phase: 'before',
      seq: record.seq,
      service,
      region,
      command,
      input: record.input,
      mutating,
      attempt,
    };
    try {
      for (const h of [...this.hooks]) h(event);
      const handler = this.services.get(service)!.handlers[command]!;
      const out = withPaging(
        service,
        command,
        input,
        this.pageSize,
        () => handler({ service, region, command }, clone(input)) as Record<string, unknown>,
      );
      // What the fake answers must be something AWS could send (its own API model).
      checkAnswer(service, command, out);
      // The check (a model's first load above all) is test time, not quiet time for the clock.
      this.clock.touch();
      if (mutating) this.persist();
      const response = {
        ...streamingBody(clone(out) ?? {}),
        $metadata: {
          httpStatusCode: 200,
          requestId: `fake-${record.seq}`,
          attempts: attempt,
          totalRetryDelay: 0,
        },
      };
      const after: CallEvent = { ...event, phase: 'after', output: response };
      for (const h of [...this.hooks]) h(after);
      return response;
    } catch (e) {
      record.error = (e as Error | null)?.name ?? 'Error';
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Hooks and call log
  // -------------------------------------------------------------------------------------------

  /** Observe or sabotage calls (see CallHook). Returns a function that removes the hook. */
  onCall(hook: CallHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /**
   * Calls that change something, optionally since a sequence number. Failed attempts count
   * too unless `succeeded` is set: their number varies with retries (waiting out IAM
   * propagation, dependency errors), the number of successful ones does not.
   */
  mutatingCalls(since = 0, options: { succeeded?: boolean } = {}): CallRecord[] {
    return this.calls.filter(
      (c) => c.mutating && c.seq > since && !(options.succeeded && c.error !== undefined),
    );
  }

  /** The sequence number of the last call (use as a mark: `mutatingCalls(mark)`). */
  get lastSeq(): number {
    return this.seq;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  // -------------------------------------------------------------------------------------------
  // Inventory
  // -------------------------------------------------------------------------------------------

  /** Every resource the cloud holds, live and visible-but-gone, after due transitions. */
  resources(
    filter: { type?: string; region?: string; live?: boolean; system?: boolean } = {},
  ): InventoryItem[] {
    this.world.advance();
    return this.world
      .all(filter.type, filter.region)
      .filter((r) => filter.live === undefined || filter.live === !r.gone)
      .filter((r) => filter.system === undefined || filter.system === (r.system === true))
      .map((r) => ({
        service: r.service,
        type: r.type,
        region: r.region,
        id: r.id,
        ...(r.arn !== undefined ? { arn: r.arn } : {}),
        ...(r.name !== undefined ? { name: r.name } : {}),
        tags: { ...r.tags },
        state: r.state,
        live: !r.gone,
        system: r.system === true,
        ...(r.owner !== undefined ? { owner: r.owner } : {}),
      }));
  }

  /** The raw resource (tests may inspect or change `data`; keep it JSON). */
  resource(type: string, region: string, id: string): Resource | undefined {
    this.world.advance();
    return this.world.get(type, region, id);
  }

  /** Live, non-system resources per type. */
  countByType(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.resources({ live: true })) {
      if (r.system) continue;
      out[r.type] = (out[r.type] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Resources of the same type and region carrying the same `Name` tag twice or more (live,
   * not system, not created by another resource, not kept pending deletion): what a crash
   * between a create and the state write must never produce.
   */
  duplicates(): Duplicate[] {
    const groups = new Map<string, InventoryItem[]>();
    for (const r of this.resources({ live: true })) {
      if (r.system || r.owner !== undefined || r.state === 'PendingDeletion') continue;
      const name = r.tags.Name;
      if (!name) continue;
      const key = `${r.type}|${r.region}|${name}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    return [...groups.values()]
      .filter((g) => g.length > 1)
      .map((g) => ({
        type: g[0]!.type,
        region: g[0]!.region,
        name: g[0]!.tags.Name!,
        ids: g.map((r) => r.id),
      }));
  }

  /**
   * What a destroy of `stack` left: live, non-system resources tagged with the stack or with
   * no stack tag at all (things AWS services made for it, such as RDS log groups). `kept`
   * marks what stays on purpose (KMS keys pending deletion, secrets in their recovery window).
   */
  leftovers(stack: string): Leftover[] {
    const index = new Map(this.world.all().map((r) => [`${r.type}|${r.region}|${r.id}`, r]));
    return this.resources({ live: true })
      .filter((r) => {
        if (r.system) return false;
        const owner = this.stackOf(index.get(`${r.type}|${r.region}|${r.id}`)!);
        return owner === stack || owner === undefined;
      })
      .map((r) => ({
        ...r,
        kept: isKept(this.world, index.get(`${r.type}|${r.region}|${r.id}`)!),
      }));
  }

  /** The stack a resource belongs to: its own tag, else the tag of what created it. */
  private stackOf(r: Resource, depth = 0): string | undefined {
    const own = r.tags['cloudmart:stack'];
    if (own !== undefined || r.owner === undefined || depth > 3) return own;
    const ref = r.owner.replace(/^(rds|elasticache):/, '');
    const owner = this.world
      .all()
      .find((x) => x !== r && (x.id === ref || x.arn === ref || x.arn === r.owner));
    return owner ? this.stackOf(owner, depth + 1) : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Scenario helpers
  // -------------------------------------------------------------------------------------------

  /** Click every pending SNS email confirmation link. */
  confirmSubscriptions(): number {
    return confirmSubscriptions(this.world);
  }

  /** Make a bucket name belong to another account (CreateBucket → BucketAlreadyExists, HeadBucket → 403). */
  reserveBucketName(name: string): void {
    const g = (this.world.settings.global ??= {});
    g.foreignBuckets = [...((g.foreignBuckets ?? []) as string[]), name];
  }

  /** A finished AWS Backup job's recovery point in a vault. */
  addRecoveryPoint(region: string, vaultName: string, resourceArn: string): string {
    return addRecoveryPoint(this.world, region, vaultName, resourceArn).arn!;
  }

  // -------------------------------------------------------------------------------------------
  // JSON and files
  // -------------------------------------------------------------------------------------------

  toJSON(): FakeCloudJSON {
    return {
      version: 1,
      mode: this.mode,
      clock: this.clock.state(),
      timings: { ...this.timings },
      seq: this.seq,
      world: clone(this.world.toJSON()),
    };
  }

  /** A cloud in the state `json` describes; `options` may override the mode or timings. */
  static fromJSON(
    json: FakeCloudJSON,
    options: Omit<FakeCloudOptions, 'account' | 'seed' | 'startAt'> = {},
  ): FakeCloud {
    if (json?.version !== 1)
      throw new Error(
        `fake cloud JSON: unknown version ${String((json as { version?: unknown } | undefined)?.version)}`,
      );
    const cloud = new FakeCloud({
      mode: options.mode ?? json.mode,
      msPerMinute: options.msPerMinute ?? json.clock.msPerMinute,
      timings: { ...json.timings, ...options.timings },
      account: json.world.account,
      startAt: json.clock.now,
      ...(options.file ? { file: options.file } : {}),
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
    });
    cloud.world.load(clone(json.world));
    cloud.seq = json.seq;
    return cloud;
  }

  /** Write the cloud to `file` now and after every mutating call (atomically: temp file + rename). */
  saveTo(file: string): void {
    this.file = file;
    this.persist();
  }

  /** A cloud read from a file written by saveTo, which keeps mirroring into the same file. */
  static loadFrom(
    file: string,
    options: Omit<FakeCloudOptions, 'account' | 'seed' | 'startAt' | 'file'> = {},
  ): FakeCloud {
    const json = JSON.parse(readFileSync(file, 'utf8')) as FakeCloudJSON;
    return FakeCloud.fromJSON(json, { ...options, file });
  }

  private persist(): void {
    if (!this.file) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.toJSON()));
    renameSync(tmp, this.file);
  }
}

async function resolve<T>(v: unknown): Promise<T | undefined> {
  if (typeof v === 'function') return await (v as () => Promise<T> | T)();
  return v as T | undefined;
}
