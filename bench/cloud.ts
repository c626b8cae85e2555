/**
 * `up`, the no-op re-run and `destroy` of the whole stack against the fake cloud in latency
 * mode (test/helpers/fake-cloud: AWS's typical timings from ../shared/latency-model.md, one
 * simulated minute = 100 ms of real time by default), through the engine exactly as
 * `cloudmart up --yes` / `destroy --yes` drive it (same registry, concurrency 8, same state
 * store), with the fake cloud's clock as the engine's `sleep` and `now`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClientFactory } from '../src/aws/clients.js';
import type { Config } from '../src/config/schema.js';
import {
  destroyGraph,
  runDestroy,
  runUp,
  selectSteps,
  type EngineOptions,
  type RunResult,
  type Selection,
} from '../src/engine/engine.js';
import type { EngineEvent } from '../src/engine/events.js';
import type { GraphNode } from '../src/engine/scheduler.js';
import type { Step, StepContext } from '../src/engine/step.js';
import { StateStore } from '../src/state/store.js';
import { registry } from '../src/steps/registry.js';
import { FakeCloud } from '../test/helpers/fake-cloud/index.js';
import {
  criticalPath,
  durationsOf,
  round,
  sequentialTotal,
  type StepTiming,
} from './critical-path.js';

/** Phase 5 is left out: the load test needs a real ALB and the drills need consent. */
export const BENCH_SELECTION: Selection = {
  excludeStepIds: ['validation.load', 'validation.drills'],
};

export interface RunMeasure {
  ok: boolean;
  failed: string[];
  wall_ms: number;
  critical_path_ms: number;
  sequential_ms: number;
  /** Wall time ÷ critical path (goal ≤ 1.10 for up, ≤ 1.15 for destroy). */
  vs_critical_path: number;
  /** Wall time ÷ the one-at-a-time total (1 = no overlap at all; lower is better). */
  vs_sequential: number;
  /** Simulated minutes of the wall time (wall ÷ msPerMinute). */
  simulated_minutes: number;
  critical_path: string[];
  steps: number;
  durations: Record<string, number>;
  errors: Record<string, string>;
}

/**
 * The SDK's default waiter back-off, for comparison (@smithy/util-waiter: the delay before
 * poll n is uniform in [min, min·2^(n-1)], capped at max; after the ceiling always max).
 * Service defaults from the SDK's own waiters: RDS 30 s / 1 800 s, CloudFront 60 s / 2 100 s,
 * everything else (EC2, ELB, ElastiCache, Auto Scaling…) 15 s / 120 s.
 */
export function sdkBackoff(stepId: string): { minMs: number; maxMs: number } {
  if (stepId === 'data.rds' || stepId.startsWith('backup.rds'))
    return { minMs: 30_000, maxMs: 1_800_000 };
  if (stepId === 'edge.cdn') return { minMs: 60_000, maxMs: 2_100_000 };
  return { minMs: 15_000, maxMs: 120_000 };
}

/** mulberry32, so the jitter of the SDK back-off run is reproducible. */
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A waiter's progress line: "<what>: <status> (<elapsed>)" (src/aws/wait.ts). */
const WAIT_LINE = /^(.*): (.*) \((\d+s|\d+m\d\ds)\)$/;

/**
 * The same steps, with every waiter sleep replaced by the SDK's default back-off. A waiter
 * (waitUntil) reports progress right before each sleep; its "what" identifies the wait and an
 * elapsed time of 0 s starts a new one. retryWhile's sleeps ("waiting (Name)") are left alone:
 * the SDK has no equivalent.
 */
export function withSdkBackoff(steps: readonly Step[], seed: number): Step[] {
  return steps.map((step) => {
    // One jitter sequence per step, so concurrent steps do not take each other's numbers.
    let h = seed;
    for (const c of step.id) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
    const random = seededRandom(h);
    const wrap = (ctx: StepContext): StepContext => {
      const attempts = new Map<string, number>();
      let pending: string | undefined;
      const { minMs, maxMs } = sdkBackoff(step.id);
      return Object.assign(Object.create(ctx) as StepContext, {
        progress(message: string) {
          const m = WAIT_LINE.exec(message);
          if (m && !m[2]!.startsWith('waiting (')) {
            if (m[3] === '0s') attempts.delete(m[1]!);
            pending = m[1]!;
          } else pending = undefined;
          ctx.progress(message);
        },
        sleep(ms: number) {
          if (pending === undefined) return ctx.sleep(ms);
          const attempt = (attempts.get(pending) ?? 0) + 1;
          attempts.set(pending, attempt);
          pending = undefined;
          const ceiling = Math.log(maxMs / minMs) / Math.log(2) + 1;
          const delay =
            attempt > ceiling
              ? maxMs
              : minMs + random() * (Math.min(maxMs, minMs * 2 ** (attempt - 1)) - minMs);
          return ctx.sleep(Math.round(delay));
        },
      });
    };
    return {
      ...step,
      create: (ctx: StepContext) => step.create(wrap(ctx)),
      teardown: (ctx: StepContext) => step.teardown(wrap(ctx)),
      verify: (ctx: StepContext) => step.verify(ctx),
    };
  });
}

export interface Harness {
  cloud: FakeCloud;
  options: EngineOptions;
  events: EngineEvent[];
  dispose(): void;
}

/** A fresh fake cloud (latency mode by default), a temp state file, the engine options `up --yes` would use. */
export async function harness(
  config: Config,
  options: {
    msPerMinute?: number;
    steps?: readonly Step[];
    seed?: number;
    /** Default latency; virtual and instant for the simulated figures (bench/time-to-s.ts). */
    mode?: 'latency' | 'virtual' | 'instant';
    /** Where the state file goes (default: the OS temp directory). */
    stateRoot?: string;
  },
): Promise<Harness> {
  const cloud = await new FakeCloud({
    mode: options.mode ?? 'latency',
    msPerMinute: options.msPerMinute ?? 100,
    seed: options.seed ?? 1,
  }).install();
  const dir = mkdtempSync(join(options.stateRoot ?? tmpdir(), 'cloudmart-bench-'));
  const store = new StateStore(join(dir, `${config.stack}.state.json`));
  await store.load(config.stack, config.region);
  const events: EngineEvent[] = [];
  const aws = new AwsClientFactory({ region: config.region });
  return {
    cloud,
    events,
    options: {
      config,
      aws,
      store,
      steps: options.steps ?? registry,
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      concurrency: 8,
      sleep: cloud.sleep,
      now: cloud.now,
    },
    dispose() {
      cloud.uninstall();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run `up` or `destroy`, timing every step from the engine's events. */
export async function measure(
  kind: 'up' | 'destroy',
  h: Harness,
  msPerMinute: number,
): Promise<RunMeasure> {
  const timings = new Map<string, StepTiming>();
  const emit = h.options.emit;
  const options: EngineOptions = {
    ...h.options,
    emit: (e) => {
      const at = performance.now();
      if (e.type === 'step-start') timings.set(e.id, { id: e.id, start: at, end: at });
      if (e.type === 'step-done' || e.type === 'step-failed') {
        const t = timings.get(e.id);
        if (t) t.end = at;
      }
      emit(e);
    },
  };
  const t0 = performance.now();
  const result: RunResult =
    kind === 'up' ? await runUp(options, BENCH_SELECTION) : await runDestroy(options);
  const wall = performance.now() - t0;

  const ran = [...timings.keys()];
  let nodes: GraphNode[];
  if (kind === 'up') {
    nodes = selectSteps(h.options.steps, h.options.config, BENCH_SELECTION).map((s) => ({
      id: s.id,
      after: s.needs,
    }));
  } else {
    nodes = destroyGraph(h.options.steps.filter((s) => timings.has(s.id)));
  }
  const durations = durationsOf([...timings.values()]);
  const cp = criticalPath(nodes, durations);
  const seq = sequentialTotal(durations);
  return {
    ok: result.ok,
    failed: result.failed,
    wall_ms: round(wall, 1),
    critical_path_ms: round(cp.length, 1),
    sequential_ms: round(seq, 1),
    vs_critical_path: round(wall / cp.length, 3),
    vs_sequential: round(wall / seq, 3),
    simulated_minutes: round(wall / msPerMinute, 1),
    critical_path: cp.path,
    steps: ran.length,
    durations: Object.fromEntries([...durations].map(([id, d]) => [id, round(d, 1)])),
    errors: Object.fromEntries([...result.errors].map(([id, e]) => [id, e.message])),
  };
}

export interface NoopMeasure {
  ok: boolean;
  wall_ms: number;
  mutating_calls: number;
  mutating: string[];
  read_calls: number;
  resources: number;
  reads_per_resource: number;
}

/** `up` again on the complete stack: nothing may change, and it should read little. */
export async function measureNoop(h: Harness): Promise<NoopMeasure> {
  const mark = h.cloud.lastSeq;
  const t0 = performance.now();
  const result = await runUp(h.options, BENCH_SELECTION);
  const wall = performance.now() - t0;
  const calls = h.cloud.calls.filter((c) => c.seq > mark);
  const mutating = calls.filter((c) => c.mutating);
  const reads = calls.length - mutating.length;
  const resources = h.cloud.resources({ live: true }).filter((r) => !r.system).length;
  return {
    ok: result.ok,
    wall_ms: round(wall, 1),
    mutating_calls: mutating.length,
    mutating: mutating.map((c) => `${c.service}.${c.command}`),
    read_calls: reads,
    resources,
    reads_per_resource: round(reads / Math.max(1, resources), 3),
  };
}
