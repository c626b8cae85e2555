import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AwsClientFactory, type ServiceName } from '../aws/clients.js';
import { explainAwsError, isAccessDenied, isCredentialsError } from '../aws/errors.js';
import { CloudmartError, formatIssue } from '../errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { EngineOptions } from '../engine/engine.js';
import { LOCK_SUFFIX, parseS3Url, S3Backend, type S3StateLocation } from '../state/s3.js';
import { StateStore, defaultStatePath } from '../state/store.js';
import { registry } from '../steps/registry.js';
import type { Io } from './io.js';
import type { Reporter } from './reporters.js';

/** Options every command takes. */
export interface GlobalOptions {
  config: string;
  region?: string;
  profile?: string;
  state?: string;
  json?: boolean;
  debug?: boolean;
}

/** The config, validated; with `io`, its warnings (valid but risky settings) go to stderr. */
export async function readConfig(opts: GlobalOptions, io?: Io): Promise<Config> {
  return loadConfig(opts.config, {
    region: opts.region,
    fallbackRegion: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
    onWarning: io ? (w) => io.err(`! ${opts.config}: ${formatIssue(w)}`) : undefined,
  });
}

/** The local state file: --state (a path), else `.cloudmart/<stack>.state.json` next to the config. */
export function statePath(opts: GlobalOptions, config: Config): string {
  return opts.state !== undefined && !opts.state.startsWith('s3://')
    ? opts.state
    : defaultStatePath(config.stack, join(dirname(opts.config), '.cloudmart'));
}

/** The default key of a remote state: one object per stack, so stacks can share a bucket. */
export function defaultStateKey(stack: string): string {
  return `cloudmart/${stack}.state.json`;
}

/**
 * The remote state, if this run uses one: `--state s3://bucket/key` (a local --state path
 * means local, whatever the config says), else the config's `state:` block with backend s3.
 */
export function remoteState(opts: GlobalOptions, config: Config): S3StateLocation | undefined {
  const region =
    config.state?.backend === 's3' ? (config.state.region ?? config.region) : config.region;
  if (opts.state !== undefined) {
    if (!opts.state.startsWith('s3://')) return undefined;
    const where = parseS3Url(opts.state);
    if (!where || where.key.endsWith(LOCK_SUFFIX)) {
      throw new CloudmartError(
        'USAGE',
        `--state ${opts.state}: an S3 state is s3://<bucket>/<key>, and the key must not end in ".lock" (the lock is <key>.lock)`,
        {
          exitCode: 2,
          hint: 'For example --state s3://my-team-state/cloudmart/cloudmart.state.json',
        },
      );
    }
    return { ...where, region };
  }
  if (config.state?.backend !== 's3') return undefined;
  return {
    bucket: config.state.bucket,
    key: config.state.key ?? defaultStateKey(config.stack),
    region,
  };
}

/**
 * The state store this run uses: the local file, or the S3 object (its client from `aws`, or a
 * factory of its own). With `io`, a state bucket found in another region than configured is
 * reported there.
 */
export function openStore(
  opts: GlobalOptions,
  config: Config,
  io?: Io,
  aws?: AwsClientFactory,
): StateStore {
  const remote = remoteState(opts, config);
  if (!remote) return new StateStore(statePath(opts, config));
  const factory = aws ?? awsFactory(opts, config);
  return new StateStore(s3Backend(remote, factory, io));
}

/** The S3 backend of `remote`, its clients from `factory`; a region redirect is told to `io`. */
export function s3Backend(remote: S3StateLocation, factory: AwsClientFactory, io?: Io): S3Backend {
  return new S3Backend(remote, (region) => factory.get('s3', region), {
    onRegion: (actual, configured) =>
      io?.err(
        `! The state bucket ${remote.bucket} is in ${actual}, not ${configured}: cloudmart follows S3's redirect there. Set region: ${actual} in the config's state: block to go there directly.`,
      ),
  });
}

export function awsFactory(
  opts: GlobalOptions,
  config: Config,
  signal?: AbortSignal,
): AwsClientFactory {
  return new AwsClientFactory({
    signal,
    region: config.region,
    profile: opts.profile,
    endpoint: process.env.AWS_ENDPOINT_URL,
    // An emulator's S3 (AWS_ENDPOINT_URL or only AWS_ENDPOINT_URL_S3) wants path-style URLs.
    s3PathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3),
  });
}

/**
 * The SDK's service id of every service cloudmart calls: the SDK reads
 * AWS_ENDPOINT_URL_<ID upper-cased, spaces as underscores> for that service's endpoint.
 */
export const SDK_SERVICE_IDS: Record<ServiceName, string> = {
  acm: 'ACM',
  autoscaling: 'Auto Scaling',
  backup: 'Backup',
  cloudfront: 'CloudFront',
  cloudtrail: 'CloudTrail',
  cloudwatch: 'CloudWatch',
  logs: 'CloudWatch Logs',
  ec2: 'EC2',
  elasticache: 'ElastiCache',
  elbv2: 'Elastic Load Balancing v2',
  iam: 'IAM',
  kms: 'KMS',
  pricing: 'Pricing',
  rds: 'RDS',
  tagging: 'Resource Groups Tagging API',
  route53: 'Route 53',
  s3: 'S3',
  secretsmanager: 'Secrets Manager',
  sns: 'SNS',
  ssm: 'SSM',
  sts: 'STS',
  wafv2: 'WAFV2',
};

export interface ServiceEndpoint {
  /** The SDK's service id, e.g. `Elastic Load Balancing v2`. */
  service: string;
  /** The environment variable that sets it, e.g. `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2`. */
  variable: string;
  url: string;
}

/**
 * The service-specific endpoints set in the environment (AWS_ENDPOINT_URL_<SERVICE>) for the
 * services cloudmart calls, and whether the SDK ignores them
 * (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true). Without AWS_ENDPOINT_URL, the SDK sends that
 * service's requests there instead of to AWS.
 */
export function serviceEndpoints(env: NodeJS.ProcessEnv = process.env): {
  endpoints: ServiceEndpoint[];
  ignored: boolean;
} {
  const endpoints: ServiceEndpoint[] = [];
  for (const service of Object.values(SDK_SERVICE_IDS)) {
    const variable = `AWS_ENDPOINT_URL_${service.toUpperCase().split(' ').join('_')}`;
    const url = env[variable];
    if (url) endpoints.push({ service, variable, url });
  }
  return { endpoints, ignored: env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true' };
}

/**
 * Say where requests go, so nobody mistakes an emulator run for a real one (or the reverse).
 * AWS_ENDPOINT_URL is passed to every client and beats everything else; without it, the SDK
 * itself applies AWS_ENDPOINT_URL_<SERVICE>, named here service by service. (An `endpoint_url`
 * in the shared AWS config file is not detected.)
 */
export function announceTarget(
  io: Io,
  aws: AwsClientFactory,
  opts: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const profile = opts.profile ?? env.AWS_PROFILE;
  const { endpoints, ignored } = serviceEndpoints(env);
  const names = endpoints.map((e) => e.variable).join(', ');
  if (aws.endpoint) {
    io.err(
      `Region ${aws.region}; requests go to the endpoint ${aws.endpoint} (AWS_ENDPOINT_URL: an emulator, not real AWS).` +
        (endpoints.length > 0 ? ` It overrides ${names} for every service.` : ''),
    );
    return;
  }
  const real = `real AWS${profile ? ` (profile ${profile})` : ''}`;
  if (endpoints.length === 0 || ignored) {
    io.err(
      `Region ${aws.region}; requests go to ${real}.` +
        (endpoints.length > 0
          ? ` ${names} ${endpoints.length === 1 ? 'is' : 'are'} ignored (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).`
          : ''),
    );
    return;
  }
  io.err(
    `Region ${aws.region}; requests go to ${real}, except for these services, whose endpoints the environment sets (not real AWS):`,
  );
  for (const e of endpoints) io.err(`  ${e.service} → ${e.url} (${e.variable})`);
}

/** Fail fast, before any step, when there are no usable credentials. */
export async function checkCredentials(
  aws: Pick<AwsClientFactory, 'accountId' | 'profile'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  try {
    return await aws.accountId();
  } catch (e) {
    if (
      isCredentialsError(e) ||
      isAccessDenied(e) ||
      (e as Error).name === 'CredentialsProviderError'
    ) {
      const profile = aws.profile ?? env.AWS_PROFILE;
      if (profile && /Could not load credentials/i.test((e as Error).message))
        throw profileProblem(profile, e, env);
      throw explainAwsError(
        Object.assign(e as Error, { name: 'CredentialsProviderError' }),
        'Checking AWS credentials',
      );
    }
    throw explainAwsError(e, 'Checking AWS credentials (sts:GetCallerIdentity)');
  }
}

/**
 * No credentials with a profile named: the SDK then tries every other source and ends with
 * "Could not load credentials from any providers", which hides whether the profile exists.
 * Say which it is, from the shared files the SDK reads (AWS_CONFIG_FILE,
 * AWS_SHARED_CREDENTIALS_FILE, ~/.aws/config and ~/.aws/credentials).
 */
function profileProblem(profile: string, e: unknown, env: NodeJS.ProcessEnv): Error {
  const home = homedir();
  const profiles = new Set<string>();
  const sections = (file: string) => {
    try {
      return [...readFileSync(file, 'utf8').matchAll(/^\s*\[\s*([^\]]+?)\s*\]/gm)].map(
        (m) => m[1]!,
      );
    } catch {
      return [];
    }
  };
  // The config file names profiles "[profile x]" (and "[default]"); the credentials file "[x]".
  for (const s of sections(env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'))) {
    if (s === 'default') profiles.add(s);
    else if (/^profile\s/.test(s)) profiles.add(s.replace(/^profile\s+/, ''));
  }
  for (const s of sections(env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials')))
    profiles.add(s);
  if (!profiles.has(profile)) {
    // The same words the SDK uses when it does report a missing profile.
    return explainAwsError(
      Object.assign(new Error(`Profile ${profile} could not be found in the shared AWS files`), {
        name: 'CredentialsProviderError',
        cause: e,
      }),
      'Checking AWS credentials',
    );
  }
  const explained = explainAwsError(
    Object.assign(e as Error, { name: 'CredentialsProviderError' }),
    'Checking AWS credentials',
  );
  return new CloudmartError(
    'CREDENTIALS',
    `${explained.message.replace('AWS credentials are missing or expired', `the AWS profile "${profile}" gave no credentials`)}`,
    {
      cause: e,
      hint: `Give the profile keys ("aws configure --profile ${profile}"), or log in if it is an SSO profile ("aws sso login --profile ${profile}"); then run the command again.`,
    },
  );
}

/**
 * Ctrl-C once: stop starting steps, let in-flight calls end (they see the abort), save state.
 * Ctrl-C twice: exit at once (state writes already on disk stay). `onForce` runs first and
 * must be synchronous: nothing asynchronous gets to run after it (release the lock with
 * StateStore.unlockSync).
 */
export function interruptible(
  io: Io,
  onForce: () => void,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      io.err(
        '\nStopping: no new steps start, calls in flight are cancelled, the state is saved (Ctrl-C again to quit now).',
      );
      controller.abort();
    } else {
      onForce();
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export interface Session {
  config: Config;
  aws: AwsClientFactory;
  store: StateStore;
  signal: AbortSignal;
  reporter: Reporter;
  engine(concurrency?: number): EngineOptions;
  close(): Promise<void>;
}

/** Config → client factory → locked state → reporter, for the commands that run steps. */
export async function openSession(
  io: Io,
  opts: GlobalOptions,
  command: string,
  options: { lock: boolean; forceUnlock?: boolean },
): Promise<Session> {
  const config = await readConfig(opts, io);
  // A remote state's calls get a factory of their own: releasing the lock after a Ctrl-C must
  // not be cancelled with the run's calls.
  const store = openStore(opts, config, io);
  if (options.lock) {
    await store.lock(command, {
      force: options.forceUnlock ?? false,
      onStale: (info) =>
        io.err(`! Taking over a stale lock of "${info.command}" (pid ${info.pid} is not running).`),
    });
  }
  // Read the state only once the lock is ours: what another run wrote until then is included.
  try {
    await store.load(config.stack, config.region);
  } catch (e) {
    await store.unlock().catch(() => undefined);
    throw e;
  }
  const { createReporter } = await import('./reporters.js');
  const reporter = await createReporter(io, opts.json ?? false);
  const interrupt = interruptible(io, () => {
    reporter.close();
    store.unlockSync();
  });
  // The first Ctrl-C aborts the AWS calls in flight too, so nothing waits on a silent endpoint.
  const aws = awsFactory(opts, config, interrupt.signal);
  return {
    config,
    aws,
    store,
    signal: interrupt.signal,
    reporter,
    engine: (concurrency) => ({
      config,
      aws,
      store,
      steps: registry,
      signal: interrupt.signal,
      concurrency: concurrency ?? 8,
      emit: (e) => reporter.handle(e),
    }),
    async close() {
      reporter.close();
      interrupt.dispose();
      // The lock is released even when the last state write failed (an S3 lock left behind
      // would refuse every teammate until --force-unlock).
      try {
        await store.flush();
      } finally {
        try {
          await store.unlock();
        } finally {
          await aws.destroy();
        }
      }
    },
  };
}
