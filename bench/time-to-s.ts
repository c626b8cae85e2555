/**
 * The figures of issue 19, all on the fake cloud's VIRTUAL clock (the latency model's timings,
 * time that moves only while cloudmart waits), so they do not depend on how busy the machine
 * is:
 *
 * - `up_simulated_minutes`: `up --yes` (Phases 1-4, as the bench's other `up`);
 * - `up_vs_physical_path`: that ÷ the longest chain of the model's own AWS latencies through
 *   the dependency graph (`PHYSICAL` below), whatever cloudmart's steps choose to wait;
 * - `up_instant_s`: the same `up` when every latency of the model is 0: the time cloudmart
 *   sleeps by its own choice (first polls, propagation waits, back-offs);
 * - `time_to_s_simulated_minutes`: `up --drills --yes` (every phase, waiting at its end for
 *   what is still settling) and then `verify`, until the score is S (≥ 90).
 */
import { existsSync } from 'node:fs';
import type { Config } from '../src/config/schema.js';
import type { ProbeOutcome } from '../src/drills/context.js';
import { runUp, selectSteps, type EngineOptions, type Selection } from '../src/engine/engine.js';
import type { Step } from '../src/engine/step.js';
import type { LoadOptions, LoadResult } from '../src/load/load-test.js';
import type { StateStore } from '../src/state/store.js';
import { STEP, type AlbOutputs, type RdsOutputs } from '../src/steps/outputs.js';
import { registry } from '../src/steps/registry.js';
import { makeDrillsStep } from '../src/steps/phase5-validation/drills.js';
import { makeLoadTestStep } from '../src/steps/phase5-validation/load-test.js';
import { verifyStack } from '../src/verify/run.js';
import type { FakeCloud } from '../test/helpers/fake-cloud/index.js';
import { LATENCY_TIMINGS, type Timings } from '../test/helpers/fake-cloud/timings.js';
import { BENCH_SELECTION, harness, type Harness } from './cloud.js';
import { criticalPath, round } from './critical-path.js';

type TimingKey = keyof Timings;

/** Real ms without a call to the fake cloud before its virtual clock may move (see simulation). */
export const QUIET_MS = 15;

/**
 * What AWS makes each step wait, in the latency model's own terms: the time from the step's
 * first call until what its dependents need is ready, with every poll answered at once.
 * `after` adds physical edges the `needs` graph does not show (the app on the instances starts
 * only once app.settings names a database that answers). A step not listed costs nothing
 * (API calls only). Waits that no later step needs (backup replication, the manual snapshot,
 * CloudFront's deployment) are not on `up`'s path: `up` hands them off and verify scores them.
 */
export const PHYSICAL: Record<string, { ms: TimingKey[]; after?: string[] }> = {
  [STEP.vpc]: { ms: ['ec2Basic'] },
  [STEP.subnets]: { ms: ['ec2Basic'] },
  [STEP.nat]: { ms: ['natCreate'] },
  [STEP.instanceRole]: { ms: ['iamPropagation'] },
  [STEP.rds]: { ms: ['rdsCreate', 'rdsFirstBackup'] },
  [STEP.redis]: { ms: ['redisCreate'] },
  [STEP.alb]: { ms: ['albActive'] },
  // Boot, InService, the first health checks; and the app itself once its settings exist.
  [STEP.asg]: {
    ms: ['instanceRunning', 'instanceInService', 'targetHealthy'],
    after: [STEP.appSettings],
  },
};

/** The physical chain: longest path of PHYSICAL latencies through needs (+ `after`). */
export function physicalPath(steps: readonly Step[]): { ms: number; path: string[] } {
  const ids = new Set(steps.map((s) => s.id));
  const nodes = steps.map((s) => ({
    id: s.id,
    after: [...s.needs, ...(PHYSICAL[s.id]?.after ?? [])].filter((n) => ids.has(n)),
  }));
  const durations = new Map<string, number>();
  for (const s of steps) {
    const p = PHYSICAL[s.id];
    durations.set(
      s.id,
      (p?.ms ?? []).reduce((sum, k) => sum + LATENCY_TIMINGS[k], 0),
    );
  }
  // A step with `after` is ready once its own chain (from its needs) AND the app's start after
  // those steps are: `<id> (boot)` carries its latency, `<id> (app start)` follows `after`, and
  // the step itself joins both at no cost, so its dependents wait for both.
  for (const s of steps) {
    const extra = (PHYSICAL[s.id]?.after ?? []).filter((n) => ids.has(n));
    if (extra.length === 0) continue;
    const node = nodes.find((n) => n.id === s.id)!;
    const boot = `${s.id} (boot)`;
    const start = `${s.id} (app start)`;
    nodes.push({ id: boot, after: node.after.filter((a) => !extra.includes(a)) });
    durations.set(boot, durations.get(s.id) ?? 0);
    nodes.push({ id: start, after: extra });
    durations.set(start, LATENCY_TIMINGS.appStart);
    node.after = [boot, start];
    durations.set(s.id, 0);
  }
  const cp = criticalPath(nodes, durations);
  return { ms: cp.length, path: cp.path };
}

type Sim = Harness;

async function simulation(
  config: Config,
  mode: 'virtual' | 'instant',
  steps: readonly Step[] = registry,
): Promise<Sim> {
  // Virtual time moves once nothing has called the cloud for quietMs of real time. Real work
  // between calls (the state file's fsync, a busy machine) must not pass for cloudmart waiting:
  // a wider window and the state file in memory (tmpfs) keep the figures independent of load.
  const sim = await harness(config, {
    mode,
    steps,
    stateRoot: existsSync('/dev/shm') ? '/dev/shm' : undefined,
  });
  sim.cloud.clock.quietMs = QUIET_MS;
  sim.options.emit = () => undefined;
  return sim;
}

export interface UpSimulation {
  ok: boolean;
  errors: Record<string, string>;
  simulated_minutes: number;
  physical_path_minutes: number;
  physical_path: string[];
  vs_physical_path: number;
  /** Waits `up` handed off and did not wait for. */
  settling: string[];
  /** Simulated minute each step finished at. */
  finished: Record<string, number>;
}

/** `up --yes` of Phases 1-4 on the virtual clock. */
export async function simulateUp(config: Config): Promise<UpSimulation> {
  const sim = await simulation(config, 'virtual');
  try {
    const t0 = sim.cloud.now();
    const finished: Record<string, number> = {};
    const result = await runUp(
      {
        ...sim.options,
        emit: (e) => {
          if (e.type === 'step-done') finished[e.id] = round((sim.cloud.now() - t0) / 60_000, 2);
        },
      },
      BENCH_SELECTION,
    );
    const minutes = (sim.cloud.now() - t0) / 60_000;
    const physical = physicalPath(selectSteps(registry, config, BENCH_SELECTION));
    return {
      ok: result.ok,
      errors: Object.fromEntries([...result.errors].map(([id, e]) => [id, e.message])),
      simulated_minutes: round(minutes, 2),
      physical_path_minutes: round(physical.ms / 60_000, 2),
      physical_path: physical.path,
      vs_physical_path: round((minutes * 60_000) / physical.ms, 3),
      settling: result.settling,
      finished,
    };
  } finally {
    sim.dispose();
  }
}

/** `up --yes` of Phases 1-4 with every latency 0: simulated seconds cloudmart sleeps by choice. */
export async function simulateInstantUp(
  config: Config,
): Promise<{ ok: boolean; seconds: number; errors: Record<string, string> }> {
  const sim = await simulation(config, 'instant');
  try {
    const t0 = sim.cloud.now();
    const result = await runUp(sim.options, BENCH_SELECTION);
    return {
      ok: result.ok,
      seconds: round((sim.cloud.now() - t0) / 1000, 1),
      errors: Object.fromEntries([...result.errors].map(([id, e]) => [id, e.message])),
    };
  } finally {
    sim.dispose();
  }
}

/**
 * Phase 5 on the fake cloud: the HTTP the load test and the drills' probe would send is
 * answered from the fake's own state. The app answers when a target of the stack's target
 * group is healthy; its deep `/health` also needs the database (not while RDS reboots).
 */
function phase5Steps(cloud: FakeCloud, config: Config, state: () => StateStore): Step[] {
  const region = config.region;
  const serving = async (deep: boolean): Promise<boolean> => {
    const steps = state().current.steps;
    const tg = (steps[STEP.alb]?.outputs as AlbOutputs | undefined)?.targetGroupArn;
    if (!tg) return false;
    const health = (await cloud.call(
      'elbv2',
      'DescribeTargetHealth',
      { TargetGroupArn: tg },
      region,
    )) as { TargetHealthDescriptions?: Array<{ TargetHealth?: { State?: string } }> };
    const up = (health.TargetHealthDescriptions ?? []).some(
      (t) => t.TargetHealth?.State === 'healthy',
    );
    if (!up || !deep) return up;
    const id = (steps[STEP.rds]?.outputs as RdsOutputs | undefined)?.dbInstanceIdentifier;
    if (!id) return false;
    const db = (await cloud.call(
      'rds',
      'DescribeDBInstances',
      { DBInstanceIdentifier: id },
      region,
    )) as {
      DBInstances?: Array<{ DBInstanceStatus?: string }>;
    };
    return ['available', 'backing-up', 'modifying'].includes(
      db.DBInstances?.[0]?.DBInstanceStatus ?? '',
    );
  };
  const probe = async (url: string): Promise<ProbeOutcome> => {
    const ok = await serving(url.includes('/health'));
    return ok ? { ok, status: 200, ms: 5 } : { ok, status: 503, ms: 5 };
  };
  // ab -n 1000 -c 100 against an ALB takes a few seconds; the figures are a healthy app's.
  const load = async (o: LoadOptions): Promise<LoadResult> => {
    await cloud.sleep(10_000, o.signal);
    const ok = await serving(false);
    const requests = o.requests ?? 1000;
    return {
      url: o.url,
      requests,
      responses: requests,
      ok: ok ? requests : 0,
      errorCodes: {},
      errors: 0,
      timeouts: 0,
      non2xx: ok ? 0 : requests,
      statusCodes: ok ? { '200': requests } : { '503': requests },
      rps: 100,
      average: 50,
      p50: 45,
      p90: 80,
      p95: 95,
      p99: 150,
      min: 10,
      max: 300,
      quantiles: [],
      durationSeconds: 10,
      concurrency: o.concurrency ?? 100,
      mode: 'requests',
      keepAlive: false,
      timeoutSeconds: 30,
      histogram: [],
      timeline: [],
      at: new Date(cloud.now()).toISOString(),
      aborted: false,
      timedOut: false,
      bailedOut: null,
    };
  };
  return [makeLoadTestStep(load), makeDrillsStep(probe)];
}

export interface TimeToS {
  ok: boolean;
  /** Simulated minutes from `up --drills --yes` until `verify` scored S; null when it did not. */
  minutes: number | null;
  up_minutes: number;
  score: number;
  grade: string;
  lost: string[];
  errors: Record<string, string>;
}

/** `up --drills --yes` (every phase) then `verify`, on the virtual clock. */
export async function simulateTimeToS(config: Config): Promise<TimeToS> {
  const steps = registry.filter((s) => s.phase < 5);
  const sim = await simulation(config, 'virtual', steps);
  const store = sim.options.store;
  const withPhase5 = [...steps, ...phase5Steps(sim.cloud, config, () => store)];
  const options: EngineOptions = { ...sim.options, steps: withPhase5, awaitSettling: true };
  try {
    const t0 = sim.cloud.now();
    const selection: Selection = {};
    const result = await runUp(options, selection);
    const upMinutes = (sim.cloud.now() - t0) / 60_000;
    // The email subscription is confirmed by a person; the fake confirms it as they would.
    sim.cloud.confirmSubscriptions();
    const report = await verifyStack(options);
    const minutes = (sim.cloud.now() - t0) / 60_000;
    const s = report.score;
    return {
      ok: result.ok,
      minutes: s.total >= 90 ? round(minutes, 2) : null,
      up_minutes: round(upMinutes, 2),
      score: s.total,
      grade: s.grade,
      lost: s.items.flatMap((i) => i.lost.map((l) => `${i.item}: ${l.reason}`)),
      errors: Object.fromEntries([...result.errors].map(([id, e]) => [id, e.message])),
    };
  } finally {
    sim.dispose();
  }
}
