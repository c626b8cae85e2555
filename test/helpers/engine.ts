import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineOptions } from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { Outputs, Phase, Step, StepContext } from '../../src/engine/step.js';
import { StateStore } from '../../src/state/store.js';
import { TestAws, testConfig } from './context.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cloudmart-test-'));
}

export interface FakeStepOptions {
  phase?: Phase;
  needs?: string[];
  cleanupRank?: number;
  teardownKeeps?: string[];
  enabled?: boolean;
  /** Called inside create; default resolves at once. */
  create?: (ctx: StepContext) => Promise<Outputs | void>;
  teardown?: (ctx: StepContext) => Promise<void>;
}

/** A step that records its calls; no AWS. */
export function fakeStep(id: string, o: FakeStepOptions = {}): Step & { calls: string[] } {
  const calls: string[] = [];
  return {
    id,
    phase: o.phase ?? 1,
    title: `Fake ${id}`,
    needs: o.needs ?? [],
    cleanupRank: o.cleanupRank,
    ...(o.teardownKeeps ? { teardownKeeps: o.teardownKeeps } : {}),
    enabled: o.enabled === undefined ? undefined : () => o.enabled!,
    describe: () => [`fake ${id}`],
    actions: [`fake:${id}`],
    calls,
    async create(ctx) {
      calls.push('create');
      const out = o.create ? await o.create(ctx) : undefined;
      return out ?? { id };
    },
    verify() {
      calls.push('verify');
      return Promise.resolve([]);
    },
    async teardown(ctx) {
      calls.push('teardown');
      if (o.teardown) await o.teardown(ctx);
    },
  };
}

/** Resolves after `ms` of real time (engine tests use a few ms to prove overlap). */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function engineFor(
  steps: Step[],
  options: { dir?: string; signal?: AbortSignal; concurrency?: number } = {},
): Promise<{ options: EngineOptions; events: EngineEvent[]; store: StateStore }> {
  const config = testConfig();
  const dir = options.dir ?? tempDir();
  const store = new StateStore(join(dir, 'state.json'));
  await store.load(config.stack, config.region);
  const events: EngineEvent[] = [];
  return {
    store,
    events,
    options: {
      config,
      aws: new TestAws(),
      store,
      steps,
      emit: (e) => events.push(e),
      signal: options.signal ?? new AbortController().signal,
      concurrency: options.concurrency ?? 8,
      sleep: () => Promise.resolve(),
    },
  };
}
