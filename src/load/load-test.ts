import { execFile } from 'node:child_process';
import type { Instance } from 'autocannon';
import { isIP } from 'node:net';
import { CloudmartError, InterruptedError } from '../errors.js';
import { realSleep } from '../sleep.js';
import type { LoadOutputs } from '../steps/outputs.js';

/**
 * The seed's load test (`ab -n 1000 -c 100 http://<ALB>/api/products`) run in-process on
 * autocannon. Every latency is recorded here (autocannon keeps only 2xx latencies and has no
 * P95), so the figures are the seed's: average, P50/P95/P99 over every response received.
 */

/** The seed's figures: `ab -n 1000 -c 100`. */
export const SEED_LOAD = { requests: 1000, concurrency: 100, path: '/api/products' } as const;
/** The seed's success criteria (ms). */
export const LOAD_CRITERIA = { averageMs: 500, p95Ms: 1000, users: 1000 } as const;

export interface LoadProgress {
  /** Responses received so far. */
  done: number;
  /** Responses per second over the last second. */
  rps: number;
  errors: number;
  non2xx: number;
  /** Connections open now (grows during a --users ramp). */
  connections: number;
  elapsedSeconds: number;
}

export interface LoadOptions {
  url: string;
  /** Responses to collect (`ab -n`); ignored when `durationSeconds` or `users` is given. */
  requests?: number;
  /** Concurrent connections (`ab -c`). */
  concurrency?: number;
  /** Run for this long instead of a number of requests. */
  durationSeconds?: number;
  /** Ramp up to this many concurrent connections (the seed's 1,000 users); duration-bound. */
  users?: number;
  /** How long the --users ramp takes (default: a third of the duration, at most 20 s). */
  rampSeconds?: number;
  /** Per-request timeout (s). */
  timeoutSeconds?: number;
  /** Hard bound on the whole run (s), whatever the other settings. */
  maxSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  /** The open-file limit (tests replace it); undefined when it cannot be read. */
  fdLimit?: () => Promise<number | undefined>;
  /**
   * How long to keep trying to resolve the host before giving up (s; default 0: one try).
   * A load balancer's DNS name can take a minute or two to resolve after it is created.
   */
  dnsWaitSeconds?: number;
  /** Resolves a host name (tests replace it); rejects when it does not resolve. */
  lookup?: (host: string) => Promise<unknown>;
}

export interface HistogramBucket {
  /** Upper bound in ms; null for the last (overflow) bucket. */
  le: number | null;
  count: number;
}

export interface LoadResult {
  url: string;
  /** Responses received (any status). */
  requests: number;
  /** Requests that got no response (connection errors and timeouts). */
  errors: number;
  timeouts: number;
  /** Responses whose status is not 2xx. */
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Responses per second over the whole run. */
  rps: number;
  /** Latency over every response, ms. */
  average: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  durationSeconds: number;
  /** Concurrent connections at the peak. */
  concurrency: number;
  mode: 'requests' | 'duration' | 'users';
  histogram: HistogramBucket[];
  /** ISO time the run started. */
  at: string;
  /** Stopped early (Ctrl-C) or cut at the time bound. */
  aborted: boolean;
  timedOut: boolean;
}

/** Bucket bounds in ms (1-2-5 steps); anything slower lands in the overflow bucket. */
export const HISTOGRAM_BOUNDS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000,
] as const;

/** Keep at most this many latencies; beyond it a uniform sample (reservoir) stands for them. */
const MAX_SAMPLES = 1_000_000;
const DEFAULT_DURATION_USERS = 30;

/** Everything the responses tell, folded as they arrive. */
class Recorder {
  count = 0;
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  readonly samples: number[] = [];
  readonly buckets = new Array<number>(HISTOGRAM_BOUNDS.length + 1).fill(0);
  readonly statusCodes: Record<string, number> = {};
  /** performance.now() of the last response (rps is over the time responses kept coming). */
  lastAt = 0;

  response(status: number, ms: number): void {
    this.count++;
    this.lastAt = performance.now();
    if (status < 200 || status >= 300) this.non2xx++;
    this.statusCodes[String(status)] = (this.statusCodes[String(status)] ?? 0) + 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    const i = HISTOGRAM_BOUNDS.findIndex((b) => ms <= b);
    this.buckets[i === -1 ? HISTOGRAM_BOUNDS.length : i]!++;
    if (this.samples.length < MAX_SAMPLES) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.count);
      if (j < MAX_SAMPLES) this.samples[j] = ms;
    }
  }

  error(timeout: boolean): void {
    this.errors++;
    if (timeout) this.timeouts++;
  }
}

const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The open-file limit of this process (`ulimit -n`), or undefined when it cannot be read. */
export function readFdLimit(): Promise<number | undefined> {
  if (process.platform === 'win32') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile('sh', ['-c', 'ulimit -n'], { timeout: 2_000 }, (error, stdout) => {
      if (error) return resolve(undefined);
      const text = stdout.trim();
      if (text === 'unlimited') return resolve(Number.POSITIVE_INFINITY);
      const n = Number(text);
      resolve(Number.isFinite(n) && n > 0 ? n : undefined);
    });
  });
}

/** File descriptors needed for `connections` sockets, plus what Node and the SDK keep open. */
export function fdNeeded(connections: number): number {
  return connections + 64;
}

/** Refuse a run the local open-file limit cannot carry, with the fix. */
const dnsLookup = async (host: string) => (await import('node:dns/promises')).lookup(host);

/** Resolve the target's host, retrying for `dnsWaitSeconds`; a clear error when it never does. */
export async function resolveHost(
  host: string,
  options: Pick<LoadOptions, 'dnsWaitSeconds' | 'lookup' | 'signal'> = {},
): Promise<void> {
  // An address needs no lookup; URL keeps an IPv6 literal in brackets ("[::1]").
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) !== 0) return;
  const lookup = options.lookup ?? dnsLookup;
  const signal = options.signal;
  const deadline = Date.now() + (options.dnsWaitSeconds ?? 0) * 1000;
  // One lookup, bounded to 10 s; Ctrl-C ends it at once with an InterruptedError.
  const lookupOnce = async () => {
    const timer = new AbortController();
    const stop = () => timer.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      await Promise.race([
        lookup(bare),
        realSleep(10_000, timer.signal).then(() => {
          throw new Error('no answer within 10 s');
        }),
      ]);
    } finally {
      timer.abort();
      signal?.removeEventListener('abort', stop);
    }
  };
  for (;;) {
    try {
      await lookupOnce();
      return;
    } catch (e) {
      if (e instanceof InterruptedError || signal?.aborted) throw new InterruptedError();
      if (Date.now() + 2_000 > deadline) {
        const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new CloudmartError('NOT_READY', `Cannot resolve ${host} (${reason})`, {
          hint: 'Check the URL and your DNS. A load balancer created a minute ago may not resolve yet: wait a little and run the command again.',
        });
      }
      await realSleep(2_000, signal);
    }
  }
}

export async function assertFdLimit(
  connections: number,
  read: () => Promise<number | undefined> = readFdLimit,
): Promise<void> {
  const limit = await read();
  const need = fdNeeded(connections);
  if (limit === undefined || limit >= need) return;
  const suggest = Math.max(4096, 2 ** Math.ceil(Math.log2(need)));
  throw new CloudmartError(
    'USAGE',
    `Cannot open ${connections} connections: the open-file limit of this shell is ${limit}, and ${connections} concurrent connections need about ${need} file descriptors`,
    {
      exitCode: 2,
      hint: `Raise the limit in this shell with "ulimit -n ${suggest}", then run the same command again.`,
    },
  );
}

interface Plan {
  mode: LoadResult['mode'];
  /** Connections each autocannon instance opens, and when it starts (ms after the start). */
  stages: Array<{ connections: number; startMs: number }>;
  durationSeconds: number | undefined;
  requests: number | undefined;
  peak: number;
}

function planRun(o: LoadOptions): Plan {
  const positive = (n: number | undefined, what: string) => {
    if (n !== undefined && (!Number.isFinite(n) || n <= 0 || !Number.isInteger(n)))
      throw new CloudmartError('USAGE', `${what} must be a whole number of at least 1, not ${n}`, {
        exitCode: 2,
      });
  };
  positive(o.requests, 'requests');
  positive(o.concurrency, 'concurrency');
  positive(o.users, 'users');
  if (o.durationSeconds !== undefined && !(o.durationSeconds > 0))
    throw new CloudmartError('USAGE', `duration must be more than 0 seconds`, { exitCode: 2 });

  if (o.users !== undefined) {
    const duration = o.durationSeconds ?? DEFAULT_DURATION_USERS;
    const ramp = Math.min(o.rampSeconds ?? Math.min(20, duration / 3), duration / 2);
    // At most 10 steps of the ramp, one autocannon instance each, all running to the end.
    const steps = Math.min(10, o.users);
    const stages = Array.from({ length: steps }, (_, i) => ({
      connections: Math.floor(o.users! / steps) + (i < o.users! % steps ? 1 : 0),
      startMs: Math.round((ramp * 1000 * i) / steps),
    }));
    return { mode: 'users', stages, durationSeconds: duration, requests: undefined, peak: o.users };
  }
  const concurrency = o.concurrency ?? SEED_LOAD.concurrency;
  if (o.durationSeconds !== undefined) {
    return {
      mode: 'duration',
      stages: [{ connections: concurrency, startMs: 0 }],
      durationSeconds: o.durationSeconds,
      requests: undefined,
      peak: concurrency,
    };
  }
  const requests = o.requests ?? SEED_LOAD.requests;
  if (concurrency > requests)
    throw new CloudmartError(
      'USAGE',
      `concurrency (${concurrency}) cannot be more than the number of requests (${requests})`,
      { exitCode: 2 },
    );
  return {
    mode: 'requests',
    stages: [{ connections: concurrency, startMs: 0 }],
    durationSeconds: undefined,
    requests,
    peak: concurrency,
  };
}

/**
 * Run the load test. Bounded: by the number of requests (plus `maxSeconds`), or by the
 * duration. An abort stops every connection and resolves with what was measured so far
 * (`aborted: true`).
 */
export async function runLoadTest(options: LoadOptions): Promise<LoadResult> {
  let target: URL;
  try {
    target = new URL(options.url);
  } catch {
    throw new CloudmartError('USAGE', `"${options.url}" is not a URL`, {
      exitCode: 2,
      hint: 'Pass a full URL such as http://my-alb-123.ap-northeast-2.elb.amazonaws.com/api/products.',
    });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new CloudmartError('USAGE', `"${options.url}" is not an http:// or https:// URL`, {
      exitCode: 2,
    });
  const plan = planRun(options);
  if (plan.peak > 200) await assertFdLimit(plan.peak, options.fdLimit);
  // One lookup first: against a name that does not resolve, every connection would wait for
  // its own DNS failure (minutes in all), and the lookups still queued would hold the process.
  await resolveHost(target.hostname, options);

  const { default: autocannon } = await import('autocannon');
  const rec = new Recorder();
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const maxSeconds =
    options.maxSeconds ??
    (plan.durationSeconds !== undefined ? plan.durationSeconds + timeoutSeconds + 30 : 600);
  const signal = options.signal;
  const startedAt = new Date();
  const t0 = performance.now();
  const instances: Instance[] = [];
  const timers: NodeJS.Timeout[] = [];
  let connections = 0;
  let aborted = false;
  let timedOut = false;
  let stopped = false;

  const pending: Array<() => void> = [];
  const stopAll = () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    for (const i of instances) i.stop();
    for (const resolve of pending) resolve();
  };
  const onAbort = () => {
    aborted = true;
    stopAll();
  };

  const startStage = (stage: Plan['stages'][number]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const remaining =
        plan.durationSeconds !== undefined
          ? Math.max(1, plan.durationSeconds - stage.startMs / 1000)
          : undefined;
      const instance = autocannon(
        {
          url: target.toString(),
          connections: stage.connections,
          ...(plan.requests !== undefined
            ? // An unreachable server answers every connection attempt with an error:
              // stop once there were as many errors as requests wanted.
              { amount: plan.requests, bailout: Math.max(plan.requests, 100) }
            : { duration: remaining! }),
          timeout: timeoutSeconds,
          // autocannon checks for the end once per sample: 100 ms instead of 1 s.
          sampleInt: 100,
          // Keep every response in our own figures (the seed counts them all).
          excludeErrorStats: false,
        },
        (err) => (err ? reject(err as Error) : resolve()),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) =>
        rec.response(statusCode, responseTime),
      );
      instance.on('reqError', (e: unknown) =>
        rec.error(/timed out/i.test((e as Error | undefined)?.message ?? '')),
      );
      instances.push(instance);
      connections += stage.connections;
      if (stopped) instance.stop();
    });

  let last = { at: t0, count: 0 };
  const ticker = options.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const rps = ((rec.count - last.count) * 1000) / Math.max(1, now - last.at);
        last = { at: now, count: rec.count };
        options.onProgress!({
          done: rec.count,
          rps: Math.round(rps),
          errors: rec.errors,
          non2xx: rec.non2xx,
          connections,
          elapsedSeconds: Math.round((now - t0) / 1000),
        });
      }, 1_000)
    : undefined;

  if (signal?.aborted) aborted = true;
  signal?.addEventListener('abort', onAbort, { once: true });
  const bound = setTimeout(() => {
    timedOut = true;
    stopAll();
  }, maxSeconds * 1000);
  timers.push(bound);

  try {
    if (!aborted) {
      const runs = plan.stages.map((stage) =>
        stage.startMs === 0
          ? startStage(stage)
          : new Promise<void>((resolve, reject) => {
              // A stage that never starts (stopped during the ramp) must not hold the run open.
              pending.push(resolve);
              const t = setTimeout(() => {
                if (stopped) return resolve();
                startStage(stage).then(resolve, reject);
              }, stage.startMs);
              timers.push(t);
            }),
      );
      await Promise.all(runs);
    }
  } catch (e) {
    stopAll();
    throw e;
  } finally {
    if (ticker) clearInterval(ticker);
    clearTimeout(bound);
    for (const t of timers) clearTimeout(t);
    signal?.removeEventListener('abort', onAbort);
  }

  const durationSeconds = (performance.now() - t0) / 1000;
  const activeSeconds = rec.count > 0 ? (rec.lastAt - t0) / 1000 : durationSeconds;
  const sorted = [...rec.samples].sort((a, b) => a - b);
  return {
    url: target.toString(),
    requests: rec.count,
    errors: rec.errors,
    timeouts: rec.timeouts,
    non2xx: rec.non2xx,
    statusCodes: rec.statusCodes,
    rps: round(activeSeconds > 0 ? rec.count / activeSeconds : 0, 1),
    average: round(rec.count > 0 ? rec.sum / rec.count : 0),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    min: round(rec.count > 0 ? rec.min : 0),
    max: round(rec.max),
    durationSeconds: round(durationSeconds, 3),
    concurrency: plan.peak,
    mode: plan.mode,
    histogram: rec.buckets.map((count, i) => ({ le: HISTOGRAM_BOUNDS[i] ?? null, count })),
    at: startedAt.toISOString(),
    aborted,
    timedOut,
  };
}

function bucketLabel(le: number | null, previous: number | undefined): string {
  const ms = (n: number) => (n >= 1000 ? `${n / 1000} s` : `${n} ms`);
  if (le === null) return `> ${ms(previous ?? 0)}`;
  return `≤ ${ms(le)}`;
}

/**
 * The latency histogram as terminal lines, from the first to the last non-empty bucket:
 * `  ≤ 50 ms │██████████░░░░│   412  41.2%`. Pure: no colours, no I/O.
 */
export function renderHistogram(
  result: Pick<LoadResult, 'histogram' | 'requests'>,
  width = 40,
): string[] {
  const h = result.histogram;
  const first = h.findIndex((b) => b.count > 0);
  if (first === -1) return ['  (no responses)'];
  let lastIndex = h.length - 1;
  while (lastIndex > first && h[lastIndex]!.count === 0) lastIndex--;
  const peak = Math.max(...h.map((b) => b.count));
  const total = h.reduce((n, b) => n + b.count, 0);
  const rows = h.slice(first, lastIndex + 1).map((b, k) => {
    const i = first + k;
    return { label: bucketLabel(b.le, h[i - 1]?.le ?? undefined), count: b.count };
  });
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  const countWidth = String(peak).length;
  return rows.map((r) => {
    const bar = r.count === 0 ? 0 : Math.max(1, Math.round((r.count / peak) * width));
    const pct = total > 0 ? ((r.count / total) * 100).toFixed(1) : '0.0';
    return `  ${r.label.padStart(labelWidth)} │${'█'.repeat(bar)}${' '.repeat(width - bar)}│ ${String(r.count).padStart(countWidth)} ${pct.padStart(5)}%`;
  });
}

/** The seed's performance verdicts for a result. */
export function loadVerdicts(result: Pick<LoadResult, 'average' | 'p95' | 'requests'>): {
  average: boolean;
  p95: boolean;
} {
  const measured = result.requests > 0;
  return {
    average: measured && result.average < LOAD_CRITERIA.averageMs,
    p95: measured && result.p95 < LOAD_CRITERIA.p95Ms,
  };
}

/** The figures kept in state and step outputs (no histogram, no status table). */
export function loadFigures(r: LoadResult): LoadOutputs {
  return {
    url: r.url,
    at: r.at,
    requests: r.requests,
    concurrency: r.concurrency,
    errors: r.errors,
    non2xx: r.non2xx,
    rps: r.rps,
    average: r.average,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    min: r.min,
    max: r.max,
    durationSeconds: r.durationSeconds,
    mode: r.mode,
  };
}

/**
 * The `results.load` record: the latest run's figures, and the latest run at the seed's
 * 1,000 concurrent users kept under `usersRun` (a later smaller run does not erase it).
 */
export function loadRecord(
  r: LoadResult,
  previous: Record<string, unknown> | undefined,
): LoadOutputs & { usersRun?: LoadOutputs } {
  const figures = loadFigures(r);
  const usersRun =
    r.concurrency >= LOAD_CRITERIA.users
      ? figures
      : (previous?.usersRun as LoadOutputs | undefined);
  return { ...figures, ...(usersRun ? { usersRun } : {}) };
}
