import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { CloudmartError, InterruptedError } from '../errors.js';
import { realSleep } from '../sleep.js';
import type { LoadOutputs } from '../steps/outputs.js';
import { judgeLoad, type LoadJudgement, type RunFigures } from './verdict.js';
import { buildRequest, Connection, type ClientTarget, type Outcome } from './http-client.js';

/**
 * The seed's load test (`ab -n 1000 -c 100 http://<ALB>/api/products`) run in-process on a lean
 * HTTP client (src/load/http-client.ts). Like `ab -n -c` it opens one connection per request
 * by default; `keepAlive` reuses connections like `ab -k`. Every outcome is recorded here:
 * responses of any status, connection errors and timeouts (a timeout counts at the timeout in
 * the latency figures), per second and per latency bucket.
 */

/** The seed's figures: `ab -n 1000 -c 100`. */
export const SEED_LOAD = { requests: 1000, concurrency: 100, path: '/api/products' } as const;
import { LOAD_CRITERIA } from './verdict.js';
export { LOAD_CRITERIA };

export interface LoadProgress {
  /** Requests finished so far (responses, errors and timeouts). */
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
  /** Requests to send (`ab -n`); ignored when `durationSeconds` or `users` is given. */
  requests?: number;
  /** Concurrent connections (`ab -c`). */
  concurrency?: number;
  /** Reuse connections (`ab -k`); default: one connection per request, as `ab -n -c`. */
  keepAlive?: boolean;
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

/** One second of the run (second 0 is the first), for the report's throughput timeline. */
export interface LoadSecond {
  second: number;
  /** Responses of any status that ended in this second. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts that ended in this second. */
  errors: number;
  /** Mean latency of what ended in this second (responses and timeouts), ms; null when none. */
  averageMs: number | null;
  /** Connections open (or planned open) at the end of the second. */
  connections: number;
}

export interface LoadResult {
  url: string;
  /** Requests sent and finished: responses + errors (timeouts included). */
  requests: number;
  /** Responses received (any status). */
  responses: number;
  /** 2xx responses. */
  ok: number;
  /** Requests that got no response (connection errors and timeouts). */
  errors: number;
  timeouts: number;
  /** Responses whose status is not 2xx. */
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors by code (ECONNREFUSED, ECONNRESET…). */
  errorCodes: Record<string, number>;
  /** Responses per second: responses ÷ durationSeconds. */
  rps: number;
  /**
   * Latency over every response and every timeout (a timeout counts at the timeout), ms.
   * Connection errors have no latency; they count against the error rate.
   */
  average: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  /** The 0th…100th percentiles (101 values), for a latency curve; [] when none. */
  quantiles: number[];
  /** From the start until the last request finished, seconds. */
  durationSeconds: number;
  /** Concurrent connections at the peak. */
  concurrency: number;
  mode: 'requests' | 'duration' | 'users';
  /** Connections reused (`ab -k`) or one per request (`ab`). */
  keepAlive: boolean;
  /** The --users ramp: the peak is reached this many seconds after the start. */
  rampSeconds?: number;
  timeoutSeconds: number;
  histogram: HistogramBucket[];
  timeline: LoadSecond[];
  /** ISO time the run started. */
  at: string;
  /** Stopped early (Ctrl-C) or cut at the time bound. */
  aborted: boolean;
  timedOut: boolean;
  /** Why the run stopped before its end on its own (nothing answered), else null. */
  bailedOut: string | null;
}

/** Keep at most this many latencies; beyond it a uniform sample (reservoir) stands for them. */
const MAX_SAMPLES = 1_000_000;
const DEFAULT_DURATION_USERS = 30;

/** Everything the outcomes tell, folded as they arrive. */
class Recorder {
  responses = 0;
  ok = 0;
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  /** Latency samples counted (responses + timeouts). */
  timed = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  samples: number[] = [];
  readonly statusCodes: Record<string, number> = {};
  readonly errorCodes: Record<string, number> = {};
  readonly seconds: Array<
    Omit<LoadSecond, 'averageMs' | 'connections'> & { sum: number; timed: number }
  > = [];
  /** performance.now() of the last outcome. */
  lastAt = 0;

  constructor(
    private readonly t0: number,
    private readonly timeoutMs: number,
  ) {}

  get finished(): number {
    return this.responses + this.errors;
  }

  private second(now: number) {
    const i = Math.max(0, Math.floor((now - this.t0) / 1000));
    while (this.seconds.length <= i)
      this.seconds.push({
        second: this.seconds.length,
        responses: 0,
        ok: 0,
        non2xx: 0,
        errors: 0,
        sum: 0,
        timed: 0,
      });
    return this.seconds[i]!;
  }

  outcome(o: Outcome): void {
    const now = performance.now();
    this.lastAt = now;
    const sec = this.second(now);
    if (o.kind === 'response') {
      this.responses++;
      sec.responses++;
      if (o.status >= 200 && o.status < 300) {
        this.ok++;
        sec.ok++;
      } else {
        this.non2xx++;
        sec.non2xx++;
      }
      this.statusCodes[String(o.status)] = (this.statusCodes[String(o.status)] ?? 0) + 1;
      this.sample(o.ms, sec);
    } else {
      this.errors++;
      sec.errors++;
      if (o.kind === 'timeout') {
        this.timeouts++;
        // A timeout counts at the timeout: the user waited at least that long.
        this.sample(Math.max(o.ms, this.timeoutMs), sec);
      } else this.errorCodes[o.error] = (this.errorCodes[o.error] ?? 0) + 1;
    }
  }

  private sample(ms: number, sec: { sum: number; timed: number }): void {
    this.timed++;
    this.sum += ms;
    sec.sum += ms;
    sec.timed++;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < MAX_SAMPLES) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.timed);
      if (j < MAX_SAMPLES) this.samples[j] = ms;
    }
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
const dnsLookup = async (host: string) =>
  (await import('node:dns/promises')).lookup(host, { all: true });

/** The addresses a lookup answered (`{ address }` or a list of them); [] when it says none. */
function addressesOf(answer: unknown): string[] {
  const list = Array.isArray(answer) ? answer : [answer];
  return list
    .map((a) => (a && typeof a === 'object' ? (a as { address?: unknown }).address : undefined))
    .filter((a): a is string => typeof a === 'string');
}

/**
 * Resolve the target's host, retrying for `dnsWaitSeconds`; a clear error when it never does.
 * Returns the addresses to connect to (the host itself when the lookup gave none), so the run
 * does one lookup rather than one per connection, as `ab` does.
 */
export async function resolveHost(
  host: string,
  options: Pick<LoadOptions, 'dnsWaitSeconds' | 'lookup' | 'signal'> = {},
): Promise<string[]> {
  // An address needs no lookup; URL keeps an IPv6 literal in brackets ("[::1]").
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) !== 0) return [bare];
  const lookup = options.lookup ?? dnsLookup;
  const signal = options.signal;
  const deadline = Date.now() + (options.dnsWaitSeconds ?? 0) * 1000;
  // One lookup, bounded to 10 s; Ctrl-C ends it at once with an InterruptedError.
  const lookupOnce = async (): Promise<unknown> => {
    const timer = new AbortController();
    const stop = () => timer.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      return await Promise.race([
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
      const found = addressesOf(await lookupOnce());
      return found.length > 0 ? found : [bare];
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

/** Refuse a run the local open-file limit cannot carry, with the fix. */
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

export interface LoadPlan {
  mode: LoadResult['mode'];
  /** Connections added at each moment (ms after the start): the ramp. */
  stages: Array<{ connections: number; startMs: number }>;
  durationSeconds: number | undefined;
  requests: number | undefined;
  peak: number;
  /** When the peak is reached (users mode), seconds after the start; 0 otherwise. */
  rampSeconds: number;
}

/**
 * What a run will do, from its options (pure). A --users ramp adds connections in equal steps
 * about a second apart, the last step exactly at `rampSeconds`, then holds the peak until the
 * end of the duration: the ramp does what `cloudmart load` announces.
 */
export function planLoad(o: Omit<LoadOptions, 'url'>): LoadPlan {
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
  if (o.rampSeconds !== undefined && !(o.rampSeconds >= 0))
    throw new CloudmartError('USAGE', `ramp must be 0 seconds or more`, { exitCode: 2 });

  if (o.users !== undefined) {
    const users = o.users;
    const duration = o.durationSeconds ?? DEFAULT_DURATION_USERS;
    const ramp = Math.min(o.rampSeconds ?? Math.min(20, duration / 3), duration / 2);
    const steps = ramp === 0 ? 1 : Math.min(users, Math.max(2, Math.ceil(ramp) + 1));
    const stages = Array.from({ length: steps }, (_, i) => ({
      connections: Math.floor(users / steps) + (i < users % steps ? 1 : 0),
      startMs: steps === 1 ? 0 : Math.round((ramp * 1000 * i) / (steps - 1)),
    }));
    return {
      mode: 'users',
      stages,
      durationSeconds: duration,
      requests: undefined,
      peak: users,
      rampSeconds: ramp,
    };
  }
  const concurrency = o.concurrency ?? SEED_LOAD.concurrency;
  if (o.durationSeconds !== undefined) {
    return {
      mode: 'duration',
      stages: [{ connections: concurrency, startMs: 0 }],
      durationSeconds: o.durationSeconds,
      requests: undefined,
      peak: concurrency,
      rampSeconds: 0,
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
    rampSeconds: 0,
  };
}

/** Histogram bucket widths: 1-2-5 steps. */
function niceWidth(raw: number): number {
  const exp = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * exp >= raw) return m * exp;
  return 10 * exp;
}

/**
 * Buckets that spread the samples: about `target` equal, round-width buckets from the fastest
 * sample to the P99, and one overflow bucket for the slowest 1 % (so a few slow outliers do
 * not squash everything else into one bar).
 */
export function histogramOf(sorted: readonly number[], target = 12): HistogramBucket[] {
  if (sorted.length === 0) return [];
  const lo = sorted[0]!;
  const hi = percentile(sorted, 99);
  const width = niceWidth(Math.max((hi - lo) / target, 0.01));
  const bounds: number[] = [];
  let b = Math.floor(lo / width) * width;
  do {
    b = Math.round((b + width) * 1000) / 1000;
    bounds.push(b);
  } while (b < hi);
  const buckets: HistogramBucket[] = bounds.map((le) => ({ le, count: 0 }));
  buckets.push({ le: null, count: 0 });
  let i = 0;
  for (const v of sorted) {
    while (i < bounds.length && v > bounds[i]!) i++;
    buckets[i]!.count++;
  }
  return buckets;
}

/**
 * Run the load test. Bounded: by the number of requests (plus `maxSeconds`), or by the
 * duration. An abort stops every connection and resolves with what was measured so far
 * (`aborted: true`). When nothing answers at all, it stops after a round of failures
 * (`bailedOut` says why) rather than waiting out every request.
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
  const plan = planLoad(options);
  if (plan.peak > 200) await assertFdLimit(plan.peak, options.fdLimit);
  // One lookup first: against a name that does not resolve, every connection would wait for
  // its own DNS failure (minutes in all).
  const addresses = await resolveHost(target.hostname, options);
  const keepAlive = options.keepAlive === true;
  const https = target.protocol === 'https:';
  const clientTarget: ClientTarget = {
    addresses,
    port: Number(target.port) || (https ? 443 : 80),
    tls: https,
    servername: target.hostname.replace(/^\[(.*)\]$/, '$1'),
    request: buildRequest(target, keepAlive),
  };

  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const timeoutMs = timeoutSeconds * 1000;
  const maxSeconds =
    options.maxSeconds ??
    (plan.durationSeconds !== undefined ? plan.durationSeconds + timeoutSeconds + 30 : 600);
  const signal = options.signal;
  const startedAt = new Date();
  const t0 = performance.now();
  const rec = new Recorder(t0, timeoutMs);
  const endAt = plan.durationSeconds !== undefined ? t0 + plan.durationSeconds * 1000 : Infinity;
  const connections: Connection[] = [];
  const timers: NodeJS.Timeout[] = [];
  let sent = 0;
  let stopped = false;
  let aborted = false;
  let timedOut = false;
  let bailedOut: string | null = null;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const wantMore = () =>
    !stopped && (plan.requests !== undefined ? sent < plan.requests : performance.now() < endAt);
  const inFlight = () => sent - rec.finished;
  let pendingStages = 0;
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    for (const t of timers) clearTimeout(t);
    for (const c of connections) c.destroy();
    finish();
  };
  const next = (conn: Connection) => {
    if (wantMore()) {
      sent++;
      conn.send();
    } else if (inFlight() === 0 && pendingStages === 0 && !stopped) {
      stopped = true;
      finish();
    }
  };
  const onDone = (conn: Connection, outcome: Outcome) => {
    if (stopped) return;
    rec.outcome(outcome);
    // Nothing ever answered and a whole round of requests failed: the server is not there.
    if (rec.responses === 0 && rec.errors >= Math.max(plan.peak, 10)) {
      const codes = Object.entries(rec.errorCodes).map(([c, n]) => `${c}×${n}`);
      if (rec.timeouts) codes.push(`timeout×${rec.timeouts}`);
      bailedOut = `no response to the first ${rec.errors} requests (${codes.join(', ')})`;
      stopAll();
      return;
    }
    next(conn);
  };
  const addConnections = (n: number) => {
    for (let i = 0; i < n; i++) {
      const conn = new Connection(clientTarget, keepAlive, onDone, connections.length);
      connections.push(conn);
      next(conn);
    }
  };

  // Timeouts: one sweep instead of a timer per request.
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const c of connections) if (c.busy && now - c.startedAt >= timeoutMs) c.expire();
      // A duration run whose connections are all idle past the end (nothing left to send).
      if (plan.requests === undefined && now >= endAt && inFlight() === 0 && pendingStages === 0) {
        stopped = true;
        finish();
      }
    },
    Math.max(10, Math.min(100, timeoutMs / 10)),
  );
  let last = { at: t0, count: 0 };
  const ticker = options.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const rps = ((rec.responses - last.count) * 1000) / Math.max(1, now - last.at);
        last = { at: now, count: rec.responses };
        options.onProgress!({
          done: rec.finished,
          rps: Math.round(rps),
          errors: rec.errors,
          non2xx: rec.non2xx,
          connections: connections.length,
          elapsedSeconds: Math.round((now - t0) / 1000),
        });
      }, 1_000)
    : undefined;

  const onAbort = () => {
    aborted = true;
    stopAll();
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const bound = setTimeout(() => {
    timedOut = true;
    stopAll();
  }, maxSeconds * 1000);

  /** Connections planned to be open at each second (the ramp), for the timeline. */
  const plannedAt = (second: number) =>
    plan.stages
      .filter((s) => s.startMs <= (second + 1) * 1000)
      .reduce((n, s) => n + s.connections, 0);
  try {
    if (!stopped) {
      for (const stage of plan.stages) {
        if (stage.startMs === 0) addConnections(stage.connections);
        else {
          pendingStages++;
          timers.push(
            setTimeout(() => {
              pendingStages--;
              if (!stopped) addConnections(stage.connections);
            }, stage.startMs),
          );
        }
      }
    }
    await finished;
  } finally {
    clearInterval(sweep);
    if (ticker) clearInterval(ticker);
    clearTimeout(bound);
    for (const t of timers) clearTimeout(t);
    for (const c of connections) c.destroy();
    signal?.removeEventListener('abort', onAbort);
  }

  const end = rec.finished > 0 ? rec.lastAt : performance.now();
  // Rounded once, so the printed figures add up: rps = responses ÷ durationSeconds.
  const durationSeconds = round((end - t0) / 1000, 3);
  const sorted = Float64Array.from(rec.samples).sort();
  const list = Array.from(sorted);
  const lastSecond = Math.max(0, Math.ceil(durationSeconds) - 1);
  const timeline: LoadSecond[] = [];
  for (let i = 0; i <= lastSecond; i++) {
    const s = rec.seconds[i];
    timeline.push({
      second: i,
      responses: s?.responses ?? 0,
      ok: s?.ok ?? 0,
      non2xx: s?.non2xx ?? 0,
      errors: s?.errors ?? 0,
      averageMs: s && s.timed > 0 ? round(s.sum / s.timed) : null,
      connections: Math.min(plannedAt(i), plan.peak),
    });
  }
  return {
    url: target.toString(),
    requests: rec.finished,
    responses: rec.responses,
    ok: rec.ok,
    errors: rec.errors,
    timeouts: rec.timeouts,
    non2xx: rec.non2xx,
    statusCodes: rec.statusCodes,
    errorCodes: rec.errorCodes,
    rps: round(durationSeconds > 0 ? rec.responses / durationSeconds : 0, 1),
    average: round(rec.timed > 0 ? rec.sum / rec.timed : 0),
    p50: round(percentile(list, 50)),
    p90: round(percentile(list, 90)),
    p95: round(percentile(list, 95)),
    p99: round(percentile(list, 99)),
    min: round(rec.timed > 0 ? rec.min : 0),
    max: round(rec.max),
    quantiles: list.length ? Array.from({ length: 101 }, (_, p) => round(percentile(list, p))) : [],
    durationSeconds,
    concurrency: plan.peak,
    mode: plan.mode,
    keepAlive,
    ...(plan.mode === 'users' ? { rampSeconds: plan.rampSeconds } : {}),
    timeoutSeconds,
    histogram: histogramOf(list),
    timeline,
    at: startedAt.toISOString(),
    aborted,
    timedOut,
    bailedOut,
  };
}

function bucketLabel(le: number | null, previous: number | undefined): string {
  const ms = (n: number) =>
    n >= 1000 ? `${+(n / 1000).toPrecision(4)} s` : `${+n.toPrecision(4)} ms`;
  if (le === null) return `> ${ms(previous ?? 0)}`;
  return `≤ ${ms(le)}`;
}

/**
 * The latency histogram as terminal lines, from the first to the last non-empty bucket:
 * `  ≤ 50 ms │██████████░░░░│   412  41.2%`. Pure: no colours, no I/O.
 */
export function renderHistogram(result: Pick<LoadResult, 'histogram'>, width = 40): string[] {
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

/** The seed's performance verdicts for a result: the one rule of src/load/verdict.ts. */
export function loadVerdicts(result: RunFigures): LoadJudgement {
  return judgeLoad(result);
}

/**
 * The figures kept in state and step outputs: every count and latency figure, the histogram,
 * the per-second timeline and the latency quantiles (the HTML report draws them), not the
 * raw samples.
 */
export function loadFigures(r: LoadResult): LoadOutputs {
  return {
    url: r.url,
    at: r.at,
    requests: r.requests,
    responses: r.responses,
    ok: r.ok,
    concurrency: r.concurrency,
    keepAlive: r.keepAlive,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes: r.statusCodes,
    errorCodes: r.errorCodes,
    rps: r.rps,
    average: r.average,
    p50: r.p50,
    p90: r.p90,
    p95: r.p95,
    p99: r.p99,
    min: r.min,
    max: r.max,
    durationSeconds: r.durationSeconds,
    timeoutSeconds: r.timeoutSeconds,
    mode: r.mode,
    ...(r.rampSeconds !== undefined ? { rampSeconds: r.rampSeconds } : {}),
    ...(r.bailedOut ? { bailedOut: r.bailedOut } : {}),
    histogram: r.histogram,
    timeline: r.timeline,
    quantiles: r.quantiles,
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
