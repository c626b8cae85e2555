import { isTransient, retryingStatus } from '../aws/errors.js';
import { formatDuration } from '../aws/wait.js';
import { CloudmartError, InterruptedError } from '../errors.js';
import { seconds, type DrillContext, type ProbeOutcome } from './context.js';

/** What the background probe saw, relative to the moment the drill broke something. */
export interface ProbeSummary {
  url: string;
  /** Requests per second the probe aimed at. */
  perSecond: number;
  sent: number;
  failed: number;
  /** Sum of every window from a failure to the next success, seconds. */
  outageSeconds: number;
  longestOutageSeconds: number;
  /** When the first request failed (s after the drill's action), null when none did. */
  firstFailureSeconds: number | null;
  /** When the first request after the last failure succeeded, null when none failed (or none recovered). */
  recoveredSeconds: number | null;
  /**
   * The outage the users saw: from the first failed request to the first success after the
   * last failure, seconds; 0 when no request failed, null when it had not recovered at the end.
   */
  outageWindowSeconds: number | null;
  /** The last failure's status or error, for the report. */
  lastError: string | null;
}

interface Entry {
  at: number;
  ok: boolean;
  detail?: string;
}

/**
 * A light background load through the ALB: `fire()` sends one request without waiting for it
 * (so a slow or hanging request does not lower the rate), and every answer is filed under the
 * time it was sent. The drill loop calls `fire()` on its own clock.
 */
export class Prober {
  private readonly entries: Entry[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private origin: number;

  constructor(
    private readonly ctx: DrillContext,
    readonly url: string,
    readonly intervalMs: number,
    readonly timeoutMs: number,
  ) {
    this.origin = ctx.now();
  }

  /** Times are reported relative to this moment (the drill's action). */
  setOrigin(at: number): void {
    this.origin = at;
  }

  fire(): void {
    const at = this.ctx.now();
    let sent: Promise<ProbeOutcome>;
    try {
      sent = this.ctx.probe(this.url, this.timeoutMs);
    } catch (e) {
      // A probe that throws instead of answering is a failed request too.
      sent = Promise.reject(e instanceof Error ? e : new Error('the probe failed'));
    }
    const p = sent
      .catch((e: unknown): ProbeOutcome => ({ ok: false, error: (e as Error).message, ms: 0 }))
      .then((o) => {
        this.entries.push({
          at,
          ok: o.ok,
          ...(o.ok ? {} : { detail: o.status !== undefined ? `HTTP ${o.status}` : o.error }),
        });
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private sorted(): Entry[] {
    return [...this.entries].sort((a, b) => a.at - b.at);
  }

  /** Consecutive successes at the end of what has been answered so far. */
  streak(): number {
    const list = this.sorted();
    let n = 0;
    for (let i = list.length - 1; i >= 0 && list[i]!.ok; i--) n++;
    return n;
  }

  failures(): number {
    return this.entries.filter((e) => !e.ok).length;
  }

  /** Wait for requests in flight (each has its own timeout), then sum up. */
  async settle(): Promise<ProbeSummary> {
    await Promise.all([...this.inflight]);
    return this.summary();
  }

  summary(): ProbeSummary {
    const list = this.sorted();
    const rel = (t: number) => seconds(t - this.origin);
    let outage = 0;
    let longest = 0;
    let windowStart: number | undefined;
    let firstFailure: number | undefined;
    let recovered: number | undefined;
    let lastError: string | null = null;
    for (const e of list) {
      if (!e.ok) {
        firstFailure ??= e.at;
        windowStart ??= e.at;
        lastError = e.detail ?? 'failed';
        recovered = undefined;
      } else if (windowStart !== undefined) {
        const length = e.at - windowStart;
        outage += length;
        longest = Math.max(longest, length);
        windowStart = undefined;
        recovered = e.at;
      }
    }
    // Still failing at the end: the outage lasts until the last request sent.
    if (windowStart !== undefined && list.length > 0) {
      const length = list[list.length - 1]!.at - windowStart;
      outage += length;
      longest = Math.max(longest, length);
    }
    return {
      url: this.url,
      perSecond: Math.round((1000 / this.intervalMs) * 10) / 10,
      sent: list.length,
      failed: list.filter((e) => !e.ok).length,
      outageSeconds: seconds(outage),
      longestOutageSeconds: seconds(longest),
      firstFailureSeconds: firstFailure === undefined ? null : rel(firstFailure),
      recoveredSeconds: recovered === undefined ? null : rel(recovered),
      outageWindowSeconds:
        firstFailure === undefined
          ? 0
          : recovered === undefined
            ? null
            : seconds(recovered - firstFailure),
      lastError,
    };
  }
}

export interface PollStatus {
  done: boolean;
  /** Shown in progress: "i-1 draining; replacement i-9 Pending". */
  status: string;
}

export interface ObserveOptions {
  /** "instance i-1 to be replaced". */
  what: string;
  pollEveryMs: number;
  timeoutMs: number;
  /** Fired on its own interval between polls. */
  prober?: Prober;
  /** `elapsedMs` since the observation started. */
  poll(elapsedMs: number): Promise<PollStatus>;
}

/**
 * The drills' one loop, on the context's clock: fire the probe on its interval, poll AWS on
 * another, stop when the poll says done, on timeout (TIMEOUT) or on abort (INTERRUPTED).
 * A throttled or 5xx poll is retried at the next interval.
 */
export async function observe(ctx: DrillContext, o: ObserveOptions): Promise<number> {
  const start = ctx.now();
  let nextPoll = start;
  let nextProbe = start;
  let lastStatus = '';
  let lastReport = start;
  for (;;) {
    if (ctx.signal.aborted) throw new InterruptedError(`Interrupted while waiting for ${o.what}`);
    const t = ctx.now();
    if (o.prober && t >= nextProbe) {
      o.prober.fire();
      nextProbe = Math.max(nextProbe + o.prober.intervalMs, t + 1);
    }
    if (t >= nextPoll) {
      const elapsed = t - start;
      let result: PollStatus;
      try {
        result = await o.poll(elapsed);
      } catch (e) {
        if (!isTransient(e)) throw e;
        result = { done: false, status: retryingStatus(e) };
      }
      if (result.done) return ctx.now() - start;
      if (result.status !== lastStatus || t - lastReport >= 30_000) {
        ctx.progress(`${o.what}: ${result.status} (${formatDuration(elapsed)})`);
        lastStatus = result.status;
        lastReport = t;
      }
      if (elapsed >= o.timeoutMs) {
        throw new CloudmartError(
          'TIMEOUT',
          `Gave up waiting for ${o.what} after ${formatDuration(elapsed)}: ${result.status}`,
          { hint: 'Look at the Auto Scaling group, target group and RDS events in the console.' },
        );
      }
      nextPoll = ctx.now() + o.pollEveryMs;
    }
    const wake = Math.min(nextPoll, o.prober ? nextProbe : Number.POSITIVE_INFINITY);
    await ctx.sleep(Math.max(0, wake - ctx.now()));
  }
}
