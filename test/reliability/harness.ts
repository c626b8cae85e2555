/**
 * Shared pieces of the reliability suite: a whole-stack engine run against the fake cloud,
 * a seeded RNG, a simulated crash, and the checks every scenario ends with (one of each
 * resource, a consistent state, nothing left after destroy).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClientFactory } from '../../src/aws/clients.js';
import type { Config } from '../../src/config/schema.js';
import {
  runDestroy,
  runUp,
  selectSteps,
  type EngineOptions,
  type RunResult,
  type Selection,
} from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { Step } from '../../src/engine/step.js';
import { StateStore } from '../../src/state/store.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import type { FakeCloud, Leftover } from '../helpers/fake-cloud/index.js';

/** Phase 5 is left out: the load test needs a reachable ALB, the drills need consent. */
export const SELECTION: Selection = { excludeStepIds: ['validation.load', 'validation.drills'] };

export function tempDir(prefix = 'cloudmart-rel-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** mulberry32: reproducible random numbers from a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed | 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** 1..n inclusive. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

/** What a crash looks like in-process: a thrown error nothing retries. */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = 'SimulatedCrash';
  }
}

export interface Run {
  options: EngineOptions;
  store: StateStore;
  events: EngineEvent[];
  controller: AbortController;
}

/**
 * Engine options as `cloudmart up --yes` builds them (registry, concurrency 8, the CLI's client
 * factory), with the fake cloud's clock. `maxAttempts` is the SDK's attempts per call: the
 * fake replays the SDK's retries of transient errors up to it (the CLI uses 8).
 */
export async function engineRun(
  cloud: FakeCloud,
  statePath: string,
  options: { config?: Config; maxAttempts?: number; steps?: readonly Step[] } = {},
): Promise<Run> {
  const config = options.config ?? testConfig();
  const store = new StateStore(statePath);
  await store.load(config.stack, config.region);
  const events: EngineEvent[] = [];
  const controller = new AbortController();
  const aws = new AwsClientFactory({
    region: config.region,
    maxAttempts: options.maxAttempts ?? 8,
  });
  return {
    store,
    events,
    controller,
    options: {
      config,
      aws,
      store,
      steps: options.steps ?? registry,
      emit: (e) => events.push(e),
      signal: controller.signal,
      concurrency: 8,
      sleep: cloud.sleep,
      now: cloud.now,
    },
  };
}

export async function up(run: Run): Promise<RunResult> {
  const result = await runUp(run.options, SELECTION);
  await run.store.flush();
  return result;
}

export async function destroy(run: Run): Promise<RunResult> {
  const result = await runDestroy(run.options);
  await run.store.flush();
  return result;
}

export function errorsOf(result: RunResult): string {
  return [...result.errors].map(([id, e]) => `${id}: ${e.message}`).join('\n');
}

/**
 * Crash the "process" at one call: from that moment nothing more reaches the cloud (every
 * later call fails as if the process were gone), the run is aborted, and the state file is
 * put back to what was on disk at the crash (the in-process engine still records the
 * failures; a killed process would not). `phase: 'after'` crashes once the cloud has applied a
 * mutating call and before its response reaches the step: before the state could be written.
 */
export function crashAt(
  cloud: FakeCloud,
  run: Run,
  target: {
    phase: 'before' | 'after';
    /** 1-based, among the calls that match. */
    index: number;
    mutatingOnly: boolean;
    /** Only calls of this operation (`CreateVpc`). */
    command?: string;
  },
): { crashed: () => boolean; where: () => string; restoreDisk: () => Promise<void> } {
  let count = 0;
  let crashed = false;
  let where = '';
  let disk: string | null = null;
  const path = run.store.path;
  const remove = cloud.onCall((e) => {
    if (crashed) throw new SimulatedCrash('(the process is gone)');
    if (e.phase !== target.phase || (target.mutatingOnly && !e.mutating)) return;
    if (target.command !== undefined && e.command !== target.command) return;
    if (++count !== target.index) return;
    crashed = true;
    where = `${target.phase} ${e.service}.${e.command} (#${count}${target.mutatingOnly ? ' mutating' : ''})`;
    disk = existsSync(path) ? readFileSync(path, 'utf8') : null;
    run.controller.abort();
    throw new SimulatedCrash(where);
  });
  return {
    crashed: () => crashed,
    where: () => where,
    async restoreDisk() {
      remove();
      await run.store.flush();
      if (!crashed) return;
      if (disk === null) rmSync(path, { force: true });
      else writeFileSync(path, disk);
    },
  };
}

/** EC2-style ids (vpc-…, subnet-…, sg-…) anywhere in a step's outputs. */
const EC2_ID = /^(vpc|subnet|igw|nat|rtb|sg|eipalloc|lt|i|vol|eni|fl)-[0-9a-f]{8,17}$/;

function idsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (EC2_ID.test(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) idsIn(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) idsIn(v, out);
  }
  return out;
}

/**
 * The state is consistent with the cloud: every selected step is done with outputs, and every
 * EC2 id those outputs name is a live resource. Returns the problems (empty when consistent).
 */
export function stateProblems(store: StateStore, cloud: FakeCloud, config: Config): string[] {
  const problems: string[] = [];
  const live = new Set(cloud.resources({ live: true }).map((r) => r.id));
  for (const step of selectSteps(registry, config, SELECTION)) {
    const st = store.current.steps[step.id];
    if (st?.status !== 'done') {
      problems.push(`${step.id} is ${st?.status ?? 'missing'}`);
      continue;
    }
    for (const id of idsIn(st.outputs)) {
      if (!live.has(id)) problems.push(`${step.id} names ${id}, which does not exist`);
    }
  }
  return problems;
}

/** Live, non-system resources per type, without what AWS made on its own (instances, ENIs…). */
export function inventory(cloud: FakeCloud): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of cloud.resources({ live: true })) {
    if (r.system || r.owner !== undefined) continue;
    out[r.type] = (out[r.type] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * What destroy left that still matters: the fake's leftovers minus what is kept on purpose
 * (KMS keys pending deletion and their aliases, secrets in their recovery window).
 */
export function orphans(cloud: FakeCloud, stack: string): Leftover[] {
  return cloud.leftovers(stack).filter((l) => !l.kept);
}
