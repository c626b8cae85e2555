import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import type { Outputs, StepContext } from '../engine/step.js';
import { CloudmartError } from '../errors.js';

/** The seed's recovery objectives. */
export const RTO_TARGET_SECONDS = 300;
export const RPO_TARGET_SECONDS = 300;

export type DrillName = 'instance' | 'rds-failover' | 'az';
export const DRILL_NAMES: readonly DrillName[] = ['instance', 'rds-failover', 'az'];

/** One HTTP request through the ALB. */
export interface ProbeOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  /** Wall time of the request, ms. */
  ms: number;
}

/** Sends one request; never throws (a failure is `ok: false`). Tests replace it. */
export type Probe = (url: string, timeoutMs: number) => Promise<ProbeOutcome>;

/**
 * Writes (PUT) or reads (GET) a drill marker through the app (`/api/drill-markers/:id` of the
 * reference backend); never throws: `status` is the HTTP status, `error` a transport failure.
 */
export type MarkerRequest = (
  method: 'PUT' | 'GET',
  url: string,
  timeoutMs: number,
) => Promise<{ status?: number; error?: string }>;

/** The marker request over Node's fetch with a hard timeout. */
export const httpMarker: MarkerRequest = async (method, url, timeoutMs) => {
  try {
    const res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'cloudmart-drill', 'cache-control': 'no-cache' },
    });
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return {
      error:
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `timeout after ${timeoutMs} ms`
          : (err.cause?.code ?? err.message),
    };
  }
};

/**
 * What a drill may use: the stack's clients and step outputs, progress, the abort signal, and
 * the clock, sleep and HTTP probe, all injectable so the drills run on a fake clock in tests.
 */
export interface DrillContext {
  readonly config: Config;
  readonly aws: Aws;
  /** Outputs of a step that is done, else undefined. */
  outputs<T extends Outputs>(stepId: string): T | undefined;
  progress(message: string): void;
  readonly signal: AbortSignal;
  /** Abortable sleep (rejects with InterruptedError on abort). */
  sleep(ms: number): Promise<void>;
  now(): number;
  readonly probe: Probe;
  /** Writes and reads the RDS drill's marker; without it the RPO is not measured. */
  readonly marker?: MarkerRequest;
}

/** GET `url` with Node's fetch and a hard timeout; 2xx is success. */
export const httpProbe: Probe = async (url, timeoutMs) => {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'cloudmart-drill', 'cache-control': 'no-cache' },
    });
    // Read the body so the connection is released for the next probe.
    await res.arrayBuffer().catch(() => undefined);
    return {
      ok: res.status >= 200 && res.status < 300,
      status: res.status,
      ms: performance.now() - started,
    };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const error =
      err.name === 'TimeoutError' || err.name === 'AbortError'
        ? `timeout after ${timeoutMs} ms`
        : (err.cause?.code ?? err.message);
    return { ok: false, error, ms: performance.now() - started };
  }
};

/** A drill context from a step's context (the Phase 5 step runs drills through the engine). */
export function drillContextFromStep(
  ctx: StepContext,
  probe: Probe = httpProbe,
  marker: MarkerRequest = httpMarker,
): DrillContext {
  return {
    marker,
    config: ctx.config,
    aws: ctx.aws,
    outputs: <T extends Outputs>(id: string) => ctx.maybeOutputs<T>(id),
    progress: (m) => ctx.progress(m),
    signal: ctx.signal,
    sleep: (ms) => ctx.sleep(ms),
    now: () => ctx.now(),
    probe,
  };
}

export const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** What every drill result carries about a timeout. */
export interface TimeoutFigures {
  /** The drill gave up waiting for the recovery: the RTO is longer than it waited (a fail). */
  timedOut: boolean;
  /** How long it waited before giving up (a lower bound of the RTO), seconds. */
  timedOutAfterSeconds: number | null;
}

/**
 * A drill that gave up waiting for the recovery. It still carries what was measured until then
 * (`result`, with `timedOut: true` and no RTO), so the caller can record the drill as failed
 * instead of "not run yet".
 */
export class DrillTimeoutError<R = unknown> extends CloudmartError {
  readonly result: R;

  constructor(result: R, cause: CloudmartError) {
    super('TIMEOUT', cause.message, {
      cause,
      exitCode: cause.exitCode,
      ...(cause.hint ? { hint: cause.hint } : {}),
    });
    this.name = 'DrillTimeoutError';
    this.result = result;
  }
}

/** observe()'s TIMEOUT (not an interrupt, not an AWS error). */
export const isTimeout = (e: unknown): e is CloudmartError =>
  e instanceof CloudmartError && e.code === 'TIMEOUT';
