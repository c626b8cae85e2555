import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  destroyGraph,
  runDestroy,
  runUp,
  runVerify,
  selectSteps,
  upGraph,
} from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { schedule } from '../../src/engine/scheduler.js';
import { settleLater, type Step } from '../../src/engine/step.js';
import { CloudmartError, InterruptedError } from '../../src/errors.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { STEP_CRITERIA } from '../../src/verify/rubric.js';
import { StateStore } from '../../src/state/store.js';
import { testConfig } from '../helpers/context.js';
import { delay, engineFor, fakeStep, tempDir } from '../helpers/engine.js';

/** A few event-loop turns: long enough for every other runnable step to start meanwhile. */
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Index of a step's start / end (done or failed) event: positions give the order. */
function timeline(events: EngineEvent[]) {
  const find = (id: string, types: string[]) => {
    const i = events.findIndex((e) => types.includes(e.type) && 'id' in e && e.id === id);
    if (i === -1) throw new Error(`no ${types.join('/')} event for ${id}`);
    return i;
  };
  return {
    start: (id: string) => find(id, ['step-start']),
    end: (id: string) => find(id, ['step-done', 'step-failed']),
  };
}

/** Runs a graph with a run that yields for a while, recording start and end of each node. */
async function traceSchedule(nodes: Parameters<typeof schedule>[0], fail: string[] = []) {
  const log: string[] = [];
  const result = await schedule(nodes, {
    concurrency: 64,
    signal: new AbortController().signal,
    run: async (id) => {
      log.push(`start ${id}`);
      await ticks();
      log.push(`end ${id}`);
      if (fail.includes(id)) throw new Error('boom');
    },
  });
  const at = (e: string) => {
    const i = log.indexOf(e);
    if (i === -1) throw new Error(`${e} never happened`);
    return i;
  };
  return { result, at };
}

describe('engine: up', () => {
  it('runs a step only after everything it needs is done, and passes outputs along', async () => {
    const order: string[] = [];
    const a = fakeStep('a', { create: async () => (order.push('a'), { vpcId: 'vpc-1' }) });
    const b = fakeStep('b', {
      needs: ['a'],
      create: async (ctx) => {
        order.push('b');
        return { got: ctx.outputs<{ vpcId: string }>('a').vpcId };
      },
    });
    const c = fakeStep('c', { needs: ['b'], create: async () => void order.push('c') });
    const { options, store } = await engineFor([c, b, a]);

    const result = await runUp(options);

    expect(result.ok).toBe(true);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(store.current.steps.b).toMatchObject({ status: 'done', outputs: { got: 'vpc-1' } });
  });

  it('overlaps independent steps and never exceeds the concurrency limit', async () => {
    // Each step holds its slot until three are in flight at once (or a safety timeout), so the
    // test depends on ordering, not on timing: a limit below 3 never reaches the peak.
    let inFlight = 0;
    let peak = 0;
    const slow = (id: string) =>
      fakeStep(id, {
        create: async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          const deadline = Date.now() + 2000;
          while (peak < 3 && Date.now() < deadline) await delay(1);
          await delay(1);
          inFlight--;
        },
      });
    const steps = ['a', 'b', 'c', 'd', 'e', 'f'].map(slow);
    const { options } = await engineFor(steps, { concurrency: 3 });
    await runUp(options);
    expect(peak).toBe(3);
  });

  it('has no barrier per phase: a phase 2 step starts while an unrelated phase 1 step still runs', async () => {
    let releaseSlow: () => void = () => undefined;
    const p2Started = new Promise<void>((resolve) => (releaseSlow = resolve));
    let slowRunning = false;
    let sawSlowRunning = false;
    const slow = fakeStep('slow', {
      create: async () => {
        slowRunning = true;
        // Finishes when p2 has started (or after a safety timeout, which fails the test).
        await Promise.race([p2Started, delay(2000)]);
        slowRunning = false;
      },
    });
    const fast = fakeStep('fast');
    const p2 = fakeStep('p2', {
      phase: 2,
      needs: ['fast'],
      create: async () => {
        sawSlowRunning = slowRunning;
        releaseSlow();
      },
    });
    const { options } = await engineFor([slow, fast, p2]);
    await runUp(options);
    expect(sawSlowRunning).toBe(true);
  });

  it('writes the state after every transition (in progress, then done)', async () => {
    const dir = tempDir();
    let seenInProgress = false;
    const a = fakeStep('a', {
      create: async () => {
        const onDisk = JSON.parse(readFileSync(`${dir}/state.json`, 'utf8'));
        seenInProgress = onDisk.steps.a.status === 'in_progress';
        return { x: 1 };
      },
    });
    const { options } = await engineFor([a], { dir });
    await runUp(options);
    expect(seenInProgress).toBe(true);
    const onDisk = JSON.parse(readFileSync(`${dir}/state.json`, 'utf8'));
    expect(onDisk.steps.a).toMatchObject({ status: 'done', outputs: { x: 1 }, attempts: 1 });
    expect(onDisk.runs[0]).toMatchObject({ command: 'up', outcome: 'succeeded' });
  });

  it('skips the dependents of a failed step, goes on with other branches and reports every failure', async () => {
    const bad = fakeStep('bad', { create: () => Promise.reject(new Error('boom')) });
    const child = fakeStep('child', { needs: ['bad'] });
    const other = fakeStep('other');
    const { options, store, events } = await engineFor([bad, child, other]);

    const result = await runUp(options);

    expect(result.ok).toBe(false);
    expect(result.failed).toEqual(['bad']);
    expect(result.skipped).toEqual(['child']);
    expect(other.calls).toEqual(['create']);
    expect(child.calls).toEqual([]);
    expect(store.current.steps.bad).toMatchObject({
      status: 'failed',
      lastError: { code: 'AWS_ERROR' },
    });
    expect(events.find((e) => e.type === 'step-skipped')).toMatchObject({
      id: 'child',
      reason: 'bad failed',
    });
  });

  it('resumes after a failure: done steps are re-checked through create, the failed one re-runs', async () => {
    const dir = tempDir();
    let fail = true;
    const a = fakeStep('a');
    const b = fakeStep('b', {
      needs: ['a'],
      create: async () => (fail ? Promise.reject(new Error('x')) : { ok: 1 }),
    });
    const first = await engineFor([a, b], { dir });
    expect((await runUp(first.options)).ok).toBe(false);

    fail = false;
    const second = await engineFor([a, b], { dir });
    const result = await runUp(second.options);
    expect(result.ok).toBe(true);
    expect(second.events.find((e) => e.type === 'step-start' && e.id === 'a')).toMatchObject({
      resumed: true,
    });
    expect(second.store.current.steps.b).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('resumes after a kill mid-step: an in_progress step is run again', async () => {
    const dir = tempDir();
    const store = new StateStore(`${dir}/state.json`);
    await store.load('cloudmart', 'ap-northeast-2');
    await store.update((s) => {
      s.steps.a = { status: 'in_progress', attempts: 1, startedAt: new Date().toISOString() };
    });
    const a = fakeStep('a');
    const { options, store: st } = await engineFor([a], { dir });
    await runUp(options);
    expect(a.calls).toEqual(['create']);
    expect(st.current.steps.a).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('Ctrl-C: starts no new step, lets the running one finish, records the interruption', async () => {
    const controller = new AbortController();
    const a = fakeStep('a', {
      create: async () => {
        controller.abort();
        await delay(5);
        return { done: true };
      },
    });
    const b = fakeStep('b', { needs: ['a'] });
    const { options, store } = await engineFor([a, b], { signal: controller.signal });

    const result = await runUp(options);

    expect(result.interrupted).toBe(true);
    expect(b.calls).toEqual([]);
    // The step whose create returned after the abort is recorded failed (interrupted) and re-runs next time.
    expect(store.current.steps.a?.lastError?.code).toBe('INTERRUPTED');
    expect(store.current.runs.at(-1)?.outcome).toBe('interrupted');
    expect(result.errors.get('a')).toBeInstanceOf(InterruptedError);
  });

  it('refuses, before any call, to run a step whose need is neither selected nor done', async () => {
    const a = fakeStep('a');
    const b = fakeStep('b', { phase: 2, needs: ['a'] });
    const { options } = await engineFor([a, b]);
    await expect(runUp(options, { phases: [2] })).rejects.toThrow(/b needs a/);
    expect(a.calls).toEqual([]);
    expect(b.calls).toEqual([]);
  });

  it('treats a need on a step disabled by config as satisfied', async () => {
    const off = fakeStep('off', { enabled: false });
    const b = fakeStep('b', {
      needs: ['off'],
      create: async (ctx) => ({ saw: ctx.maybeOutputs('off') ?? null }),
    });
    const { options, store } = await engineFor([off, b]);
    expect((await runUp(options)).ok).toBe(true);
    expect(off.calls).toEqual([]);
    expect(store.current.steps.b?.outputs).toEqual({ saw: null });
  });

  it('asks before each phase and skips a declined phase with everything that needs it', async () => {
    const a = fakeStep('a');
    const b = fakeStep('b', { phase: 2, needs: ['a'] });
    const c = fakeStep('c', { phase: 3, needs: ['b'] });
    const { options } = await engineFor([a, b, c]);
    const asked: number[] = [];
    const result = await runUp(options, {}, (phase) => {
      asked.push(phase);
      return Promise.resolve(phase !== 2);
    });
    expect(asked).toEqual([1, 2]);
    expect(a.calls).toEqual(['create']);
    expect(b.calls).toEqual([]);
    expect(result.skipped.sort()).toEqual(['b', 'c']);
    // Declining is not failing.
    expect(result.declined.sort()).toEqual(['b', 'c']);
    expect(result.ok).toBe(true);
  });

  it('runs no account check (preflight) for a declined phase, so it cannot refuse the run', async () => {
    const a = fakeStep('a');
    const refusing = fakeStep('refusing', { phase: 2 });
    const checked: string[] = [];
    refusing.preflight = () => {
      checked.push('refusing');
      return Promise.reject(new CloudmartError('QUOTA', 'no room', { exitCode: 2 }));
    };
    const { options } = await engineFor([a, refusing]);
    const result = await runUp(options, {}, (phase) => Promise.resolve(phase !== 2));
    expect(checked).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.declined).toEqual(['refusing']);
    // Confirmed, the same check refuses before anything is created.
    await expect(runUp(options, {}, () => Promise.resolve(true))).rejects.toThrow('no room');
    expect(checked).toEqual(['refusing']);
  });

  it('starts a step that runs after earlier phases only once every selected earlier step has finished, even a failed one', async () => {
    const a = fakeStep('a');
    const slow = fakeStep('slow', { phase: 3, needs: ['a'], create: () => ticks(10) });
    const bad = fakeStep('bad', {
      phase: 4,
      create: async () => (await ticks(3), Promise.reject(new Error('boom'))),
    });
    const load = Object.assign(
      fakeStep('load', { phase: 5, needs: ['a'], create: () => ticks(5) }),
      { runsAfterEarlierPhases: true },
    );
    const drills = Object.assign(fakeStep('drills', { phase: 5, needs: ['a'] }), {
      runsAfterEarlierPhases: true,
      runsAfter: ['load'],
    });
    const { options, events } = await engineFor([a, slow, bad, load, drills]);

    const result = await runUp(options);

    const t = timeline(events);
    for (const earlier of ['a', 'slow', 'bad']) {
      expect(t.start('load'), `load after ${earlier}`).toBeGreaterThan(t.end(earlier));
      expect(t.start('drills'), `drills after ${earlier}`).toBeGreaterThan(t.end(earlier));
    }
    // The drills never overlap the load test.
    expect(t.start('drills')).toBeGreaterThan(t.end('load'));
    // Ordering only: a failed earlier step is reported but does not skip Phase 5.
    expect(result.failed).toEqual(['bad']);
    expect(result.skipped).toEqual([]);
    expect(load.calls).toEqual(['create']);
    expect(drills.calls).toEqual(['create']);
    expect(result.ok).toBe(false);
  });

  it("orders the registry's Phase 5 after the serving path (ALB, instances, database, cache) and what changes it, not after what only verify needs", async () => {
    const config = testConfig({ dns: { domain: 'shop.example.com', createHostedZone: true } });
    const selected = selectSteps(registry, config);
    const graph = upGraph(selected);
    // The load test and the drills read the API record's outputs: a real need (hard).
    for (const id of [STEP.load, STEP.drills]) {
      expect(graph.find((n) => n.id === id)!.requires).toContain(STEP.dns);
    }
    const { result, at } = await traceSchedule(graph);
    expect([...result.outcomes.values()].every((o) => o === 'succeeded')).toBe(true);
    const servingPath = [STEP.alb, STEP.asg, STEP.rds, STEP.redis, STEP.dns, STEP.rdsBackup];
    for (const id of servingPath) {
      expect(at(`start ${STEP.load}`), `load after ${id}`).toBeGreaterThan(at(`end ${id}`));
      expect(at(`start ${STEP.drills}`), `drills after ${id}`).toBeGreaterThan(at(`end ${id}`));
    }
    // The snapshot must have been started before a drill reboots the instance.
    expect(at(`start ${STEP.drills}`)).toBeGreaterThan(at(`end ${STEP.rdsSnapshot}`));
    expect(at(`start ${STEP.drills}`)).toBeGreaterThan(at(`end ${STEP.load}`));
    // Monitoring, audit and the edge's deployment do not hold Phase 5 back.
    for (const id of [STEP.alarms, STEP.dashboard, STEP.trail, STEP.flowLogs, STEP.encryption]) {
      const load = graph.find((n) => n.id === STEP.load)!.after;
      expect(load, `load does not wait for ${id}`).not.toContain(id);
    }
  });

  it('runs a wait a step hands off (ctx.settle) off the critical path: later steps start at once, and up --drills waits for it at its end', async () => {
    const order: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const snapshot = fakeStep('snapshot', {
      create: async (ctx) => {
        await settleLater(ctx, 'snapshot to be available', async () => {
          await released;
          order.push('snapshot available');
        });
        return { id: 'snap' };
      },
    });
    const drill = fakeStep('drill', {
      needs: ['snapshot'],
      create: async () => {
        order.push('drill');
        release();
        await delay(1);
        return { id: 'drill' };
      },
    });
    const { options, events } = await engineFor([snapshot, drill]);
    const result = await runUp({ ...options, awaitSettling: true });
    expect(result.ok).toBe(true);
    expect(result.settling).toEqual([]);
    expect(order).toEqual(['drill', 'snapshot available']);
    const done = events.findIndex((e) => e.type === 'run-done');
    const waited = events.findIndex(
      (e) => e.type === 'step-progress' && e.message === 'snapshot to be available: done',
    );
    expect(waited).toBeGreaterThan(-1);
    expect(waited).toBeLessThan(done);
  });

  it('plain up does not run a handed-off wait: it names it as still settling, and the run is ok', async () => {
    let ran = false;
    const snapshot = fakeStep('snapshot', {
      create: async (ctx) => {
        await settleLater(ctx, 'snapshot to be available', () => {
          ran = true;
          return Promise.resolve();
        });
        return { id: 'snap' };
      },
    });
    const { options, events, store } = await engineFor([snapshot]);
    const result = await runUp(options);
    expect(result.ok).toBe(true);
    expect(ran).toBe(false);
    expect(result.settling).toEqual(['snapshot: snapshot to be available']);
    expect(store.current.steps.snapshot?.status).toBe('done');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'warning',
        id: 'snapshot',
        message: expect.stringContaining('snapshot to be available is still settling'),
      }),
    );
  });

  it('a handed-off wait that fails fails its step (re-run by the next up) and the run', async () => {
    const snapshot = fakeStep('snapshot', {
      create: async (ctx) => {
        await settleLater(ctx, 'snapshot to be available', () =>
          Promise.reject(new Error('snapshot failed')),
        );
        return { id: 'snap' };
      },
    });
    const { options, store } = await engineFor([snapshot]);
    const result = await runUp({ ...options, awaitSettling: true });
    expect(result.ok).toBe(false);
    expect(result.failed).toEqual(['snapshot']);
    expect(store.current.steps.snapshot?.status).toBe('failed');
    expect(store.current.steps.snapshot?.lastError?.message).toContain('snapshot failed');
  });

  it('a step context without settle (unit tests) waits inline', async () => {
    let ran = false;
    await settleLater({} as Parameters<typeof settleLater>[0], 'x', () => {
      ran = true;
      return Promise.resolve();
    });
    expect(ran).toBe(true);
  });

  it('rejects an unknown --step with a usage error', async () => {
    const { options } = await engineFor([fakeStep('a')]);
    await expect(runUp(options, { stepIds: ['nope'] })).rejects.toBeInstanceOf(CloudmartError);
  });
});

describe('engine: destroy', () => {
  it('tears down the seed cleanup steps first, in rank order, then reverse dependencies', async () => {
    const order: string[] = [];
    const rec = (id: string, o: Parameters<typeof fakeStep>[1] = {}) =>
      fakeStep(id, { ...o, teardown: async () => void order.push(id) });
    const vpc = rec('vpc');
    const subnets = rec('subnets', { needs: ['vpc'] });
    const rds = rec('rds', { needs: ['subnets'] });
    const snapshot = rec('snapshot', { needs: ['rds'], cleanupRank: 5 });
    const trail = rec('trail', { cleanupRank: 1 });
    const alarms = rec('alarms', { needs: ['rds'], cleanupRank: 2 });
    const { options, store } = await engineFor([vpc, subnets, rds, snapshot, trail, alarms], {
      concurrency: 1,
    });

    const result = await runDestroy(options);

    expect(result.ok).toBe(true);
    expect(order).toEqual(['trail', 'alarms', 'snapshot', 'rds', 'subnets', 'vpc']);
    expect(store.current.steps.vpc?.status).toBe('destroyed');
  });

  it('keeps a failed step in the state, keeps what it needs, and still tears down other branches', async () => {
    const vpc = fakeStep('vpc');
    const rds = fakeStep('rds', {
      needs: ['vpc'],
      teardown: () => Promise.reject(new Error('still deleting')),
    });
    const topic = fakeStep('topic');
    const { options, store } = await engineFor([vpc, rds, topic]);
    await runUp(options);

    const result = await runDestroy(options);

    expect(result.failed).toEqual(['rds']);
    expect(result.skipped).toEqual(['vpc']);
    expect(topic.calls).toContain('teardown');
    expect(store.current.steps.rds).toMatchObject({
      status: 'done',
      lastError: { message: expect.stringContaining('still deleting') },
    });
    expect(store.current.steps.topic?.status).toBe('destroyed');
  });

  it('builds an acyclic graph where unranked steps wait for every ranked one, ordering only', () => {
    const steps = [
      fakeStep('a'),
      fakeStep('b', { needs: ['a'] }),
      fakeStep('c'),
      fakeStep('t', { cleanupRank: 1, needs: ['a', 'c'] }),
      fakeStep('u', { cleanupRank: 2 }),
    ];
    expect(destroyGraph(steps)).toEqual([
      // Only the reversed needs of unranked steps are required to succeed; a ranked
      // dependent (t) is waited for, ordering only.
      { id: 'a', after: ['b', 't', 'u'], requires: ['b'] },
      { id: 'b', after: ['t', 'u'], requires: [] },
      { id: 'c', after: ['t', 'u'], requires: [] },
      { id: 't', after: [], requires: [] },
      { id: 'u', after: ['t'], requires: [] },
    ]);
    // A need a ranked step keeps (it is still in use while the ranked step exists) stays hard.
    const kept = destroyGraph(
      steps.map((x) => (x.id === 't' ? { ...x, teardownKeeps: ['c'] } : x)),
    );
    expect(kept.find((n) => n.id === 'c')).toEqual({ id: 'c', after: ['t', 'u'], requires: ['t'] });
    expect(kept.find((n) => n.id === 'a')!.requires).toEqual(['b']);
  });

  it('goes on with every other teardown when a seed cleanup step fails, in the same order, and reports it', async () => {
    const rec = (id: string, o: Parameters<typeof fakeStep>[1] = {}) =>
      fakeStep(id, { teardown: () => ticks(), ...o });
    const vpc = rec('vpc');
    const nat = rec('nat', { needs: ['vpc'] });
    const rds = rec('rds', { needs: ['vpc'] });
    const trail = rec('trail', {
      cleanupRank: 1,
      teardown: async () => (await ticks(), Promise.reject(new Error('AccessDenied'))),
    });
    const alarms = rec('alarms', { needs: ['rds'], cleanupRank: 2 });
    const snapshot = rec('snapshot', { needs: ['rds'], cleanupRank: 5 });
    const steps = [vpc, nat, rds, trail, alarms, snapshot];
    const { options, store, events } = await engineFor(steps);
    await runUp(options);
    events.length = 0;

    const result = await runDestroy(options);

    expect(result.failed).toEqual(['trail']);
    expect(result.skipped).toEqual([]);
    expect(result.ok).toBe(false);
    expect(result.errors.get('trail')?.message).toContain('AccessDenied');
    for (const s of [vpc, nat, rds, alarms, snapshot]) {
      expect(store.current.steps[s.id]?.status, s.id).toBe('destroyed');
    }
    expect(store.current.steps.trail?.status).toBe('done');
    const t = timeline(events);
    expect(t.start('alarms')).toBeGreaterThan(t.end('trail'));
    expect(t.start('snapshot')).toBeGreaterThan(t.end('alarms'));
    for (const id of ['nat', 'rds', 'vpc']) {
      expect(t.start(id), id).toBeGreaterThan(t.end('snapshot'));
    }
    expect(t.start('vpc')).toBeGreaterThan(Math.max(t.end('nat'), t.end('rds')));
  });

  it('tears down what a failed ranked step needs, except what it keeps (still in use while it exists)', async () => {
    const vpc = fakeStep('vpc');
    const nat = fakeStep('nat', { needs: ['vpc'] });
    const rds = fakeStep('rds', { needs: ['vpc'] });
    const bucket = fakeStep('bucket');
    const alarms = fakeStep('alarms', {
      needs: ['rds', 'nat'],
      cleanupRank: 2,
      teardown: () => Promise.reject(new Error('AccessDenied')),
    });
    const trail = fakeStep('trail', {
      needs: ['bucket'],
      cleanupRank: 1,
      teardown: () => Promise.reject(new Error('AccessDenied')),
    });
    const { options, events } = await engineFor([vpc, nat, rds, bucket, alarms, trail]);
    const result = await runDestroy(options);
    expect(result.failed.sort()).toEqual(['alarms', 'trail']);
    expect(result.ok).toBe(false);
    // Without teardownKeeps on the fake trail, nothing is held back.
    expect(result.skipped).toEqual([]);
    for (const s of [vpc, nat, rds, bucket]) expect(s.calls, s.id).toEqual(['teardown']);
    const t = timeline(events);
    for (const id of ['nat', 'rds']) expect(t.start(id), id).toBeGreaterThan(t.end('alarms'));

    // The same graph with the trail keeping its bucket: only the bucket stays.
    const graph = destroyGraph([
      vpc,
      nat,
      rds,
      bucket,
      alarms,
      { ...trail, teardownKeeps: ['bucket'] },
    ]);
    const { result: traced } = await traceSchedule(graph, ['alarms', 'trail']);
    expect([...traced.outcomes].filter(([, o]) => o === 'skipped')).toEqual([
      ['bucket', 'skipped'],
    ]);
    expect(traced.reasons.get('bucket')).toBe('trail failed');
    for (const id of ['vpc', 'nat', 'rds']) expect(traced.outcomes.get(id), id).toBe('succeeded');
  });

  it('tears a step down after its teardownAfter steps, whatever their outcome', async () => {
    const run = async (rdsFails: boolean) => {
      const rds = fakeStep('rds', {
        teardown: async () => {
          await ticks(10);
          if (rdsFails) throw new Error('still deleting');
        },
      });
      const logs = Object.assign(fakeStep('logs'), { teardownAfter: ['rds'] });
      const other = fakeStep('other');
      const { options, events } = await engineFor([logs, other, rds]);
      const result = await runDestroy(options);
      const t = timeline(events);
      expect(t.start('logs')).toBeGreaterThan(t.end('rds'));
      // Not a barrier: an unrelated step does not wait.
      expect(t.start('other')).toBeLessThan(t.end('rds'));
      return { result, logs };
    };
    expect((await run(false)).result.ok).toBe(true);
    const failed = await run(true);
    expect(failed.result.failed).toEqual(['rds']);
    expect(failed.logs.calls).toEqual(['teardown']);
  });

  it("the registry's destroy graph is acyclic, keeps the seed order soft, and deletes the RDS log groups after the instance", async () => {
    const config = testConfig({ dns: { domain: 'shop.example.com', createHostedZone: true } });
    const steps = selectSteps(registry, config);
    const graph = destroyGraph(steps);
    const node = (id: string) => graph.find((n) => n.id === id)!;
    expect(node(STEP.logs).after).toContain(STEP.rds);
    expect(node(STEP.logs).requires).not.toContain(STEP.rds);
    const ranked = [STEP.trail, STEP.alarms, STEP.dashboard, STEP.backupPlan, STEP.rdsSnapshot];
    // The trail and the Backup plan fail: only the audit bucket the trail logs into is kept;
    // the frontend bucket, the KMS key, the NAT gateways, RDS, Redis and the ALB are torn down.
    const failing = [STEP.trail, STEP.backupPlan];
    const { result, at } = await traceSchedule(graph, failing);
    const outcome = (o: string) =>
      [...result.outcomes].filter(([, x]) => x === o).map(([id]) => id);
    expect(outcome('failed').sort()).toEqual([...failing].sort());
    expect(outcome('skipped')).toEqual([STEP.auditBucket]);
    for (const id of [STEP.nat, STEP.rds, STEP.redis, STEP.alb, STEP.asg, STEP.kms]) {
      expect(result.outcomes.get(id), id).toBe('succeeded');
    }
    for (let i = 1; i < ranked.length; i++) {
      expect(at(`start ${ranked[i]}`)).toBeGreaterThan(at(`end ${ranked[i - 1]}`));
    }
    for (const s of steps.filter((x) => x.cleanupRank === undefined)) {
      if (result.outcomes.get(s.id) === 'skipped') continue;
      expect(at(`start ${s.id}`), s.id).toBeGreaterThan(at(`end ${STEP.rdsSnapshot}`));
    }
    expect(at(`start ${STEP.logs}`)).toBeGreaterThan(at(`end ${STEP.rds}`));
  });

  it("the registry's destroy graph keeps nothing billing when a step that only configures the database or the buckets fails", async () => {
    const config = testConfig({ dns: { domain: 'shop.example.com', createHostedZone: true } });
    const graph = destroyGraph(selectSteps(registry, config));
    for (const failing of [STEP.rdsBackup, STEP.appSettings, STEP.s3Lifecycle]) {
      const { result } = await traceSchedule(graph, [failing]);
      const skipped = [...result.outcomes].filter(([, x]) => x === 'skipped');
      expect(skipped, failing).toEqual([]);
    }
    // The encryption step keeps only the KMS key (the account's EBS default may name it).
    const { result } = await traceSchedule(graph, [STEP.encryption]);
    const skipped = [...result.outcomes].filter(([, x]) => x === 'skipped').map(([id]) => id);
    expect(skipped).not.toContain(STEP.rds);
    expect(skipped).not.toContain(STEP.redis);
    expect(skipped).toContain(STEP.kms);
  });

  it('warns when a step is torn down although a dependent that does not keep it failed', async () => {
    const rds = fakeStep('rds');
    const backup = fakeStep('backup', {
      needs: ['rds'],
      teardownKeeps: [],
      teardown: () => Promise.reject(new Error('AccessDenied')),
    });
    const { options, events } = await engineFor([rds, backup]);
    const result = await runDestroy(options);
    expect(result.failed).toEqual(['backup']);
    expect(rds.calls).toEqual(['teardown']);
    expect(events).toContainEqual({
      type: 'warning',
      id: 'rds',
      message: expect.stringContaining('although backup could not be'),
    });
  });

  it("the registry's destroy graph holds nothing back when the alarms, the dashboard or the RDS snapshot teardown fails", async () => {
    const config = testConfig({ dns: { domain: 'shop.example.com', createHostedZone: true } });
    const graph = destroyGraph(selectSteps(registry, config));
    // The only hard edge out of a cleanup step: the trail keeps the bucket it logs into.
    for (const n of graph) {
      const ranked = [STEP.trail, STEP.alarms, STEP.dashboard, STEP.backupPlan, STEP.rdsSnapshot];
      const hardFromRanked = (n.requires ?? []).filter((r) => ranked.includes(r as never));
      expect(hardFromRanked, n.id).toEqual(n.id === STEP.auditBucket ? [STEP.trail] : []);
    }
    for (const failing of [STEP.alarms, STEP.dashboard, STEP.rdsSnapshot]) {
      const { result } = await traceSchedule(graph, [failing]);
      const skipped = [...result.outcomes].filter(([, x]) => x === 'skipped');
      expect(skipped, failing).toEqual([]);
      for (const id of [STEP.nat, STEP.rds, STEP.redis, STEP.alb, STEP.asg, STEP.sns, STEP.vpc]) {
        expect(result.outcomes.get(id), `${failing}: ${id}`).toBe('succeeded');
      }
    }
  });
});

describe('engine: verify', () => {
  it('collects checks from every enabled step and turns a verify error into an unknown check', async () => {
    const good = fakeStep('good');
    good.verify = () =>
      Promise.resolve([
        { id: 'good.x', title: 'x', criterion: 'other', status: 'pass', evidence: 'fine' },
      ]);
    const broken = fakeStep('broken');
    broken.verify = () => Promise.reject(new Error('describe failed'));
    const { options } = await engineFor([good, broken]);
    const { checks } = await runVerify(options);
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['good.x', 'pass'],
      ['broken.verify', 'unknown'],
    ]);
  });

  it('turns a throwing verify into one unknown check per criterion the step reports on', async () => {
    const broken: Step = {
      ...fakeStep('broken'),
      criteria: ['multi-az', 'encryption'],
      verify: () =>
        Promise.reject(
          new CloudmartError('AWS_ERROR', 'DescribeReplicationGroups failed', {
            hint: 'Check the ElastiCache permissions',
          }),
        ),
    };
    const { options, events } = await engineFor([broken]);
    const { checks, errors } = await runVerify(options);
    expect(errors.get('broken')?.message).toBe('DescribeReplicationGroups failed');
    expect(checks).toEqual([
      {
        id: 'broken.verify.multi-az',
        title: 'Fake broken: could not be checked (multi-az)',
        criterion: 'multi-az',
        status: 'unknown',
        evidence: 'DescribeReplicationGroups failed',
        fix: 'Check the ElastiCache permissions',
        step: 'broken',
      },
      {
        id: 'broken.verify.encryption',
        title: 'Fake broken: could not be checked (encryption)',
        criterion: 'encryption',
        status: 'unknown',
        evidence: 'DescribeReplicationGroups failed',
        fix: 'Check the ElastiCache permissions',
        step: 'broken',
      },
    ]);
    expect(events.find((e) => e.type === 'checks')).toMatchObject({ id: 'broken' });
  });

  it("takes a registry step's criteria from STEP_CRITERIA when the step declares none", async () => {
    const redis = fakeStep(STEP.redis);
    redis.verify = () => Promise.reject(new Error('throttled for good'));
    const { options } = await engineFor([redis]);
    const { checks } = await runVerify(options);
    expect(checks.map((c) => c.criterion)).toEqual([...STEP_CRITERIA[STEP.redis]]);
    expect(checks.every((c) => c.status === 'unknown' && c.fix)).toBe(true);
  });
});

describe('engine: transient errors', () => {
  const throttled = () =>
    Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });

  it('runs a step again when AWS keeps throttling beyond the SDK retries, then succeeds', async () => {
    let calls = 0;
    const a = fakeStep('a', {
      create: async () => (++calls < 3 ? Promise.reject(throttled()) : { ok: true }),
    });
    const { options, events } = await engineFor([a]);
    const result = await runUp(options);
    expect(result.ok).toBe(true);
    expect(calls).toBe(3);
    expect(
      events
        .filter((e) => e.type === 'step-progress')
        .map((e) => (e as { message: string }).message),
    ).toEqual([
      'AWS is busy (ThrottlingException); trying the step again in 5s',
      'AWS is busy (ThrottlingException); trying the step again in 20s',
    ]);
  });

  it('gives up after the bounded retries and does not retry a non-transient error', async () => {
    let calls = 0;
    const a = fakeStep('a', { create: async () => (calls++, Promise.reject(throttled())) });
    const b = fakeStep('b', {
      create: async () => (calls++, Promise.reject(new Error('InvalidParameterValue'))),
    });
    const { options, store } = await engineFor([a]);
    expect((await runUp(options)).failed).toEqual(['a']);
    expect(calls).toBe(3);
    expect(store.current.steps.a?.lastError?.code).toBe('THROTTLED');
    calls = 0;
    const second = await engineFor([b]);
    await runUp(second.options);
    expect(calls).toBe(1);
  });
});

describe('engine: lost create answers', () => {
  it('runs a step once more when AWS says the resource already exists, so its lookup adopts it', async () => {
    let calls = 0;
    const dup = Object.assign(new Error('exists'), { name: 'InvalidGroup.Duplicate' });
    const a = fakeStep('a', {
      create: async () => (++calls === 1 ? Promise.reject(dup) : { adopted: true }),
    });
    const { options, store } = await engineFor([a]);
    expect((await runUp(options)).ok).toBe(true);
    expect(calls).toBe(2);
    expect(store.current.steps.a?.outputs).toEqual({ adopted: true });
  });

  it('keeps a done step done (with its outputs) when its re-check fails', async () => {
    const dir = tempDir();
    let fail = false;
    const a = fakeStep('a', {
      create: async () => (fail ? Promise.reject(new Error('AccessDenied')) : { id: 'x' }),
    });
    await runUp((await engineFor([a], { dir })).options);
    fail = true;
    const second = await engineFor([a], { dir });
    expect((await runUp(second.options)).failed).toEqual(['a']);
    expect(second.store.current.steps.a).toMatchObject({
      status: 'done',
      outputs: { id: 'x' },
      lastError: { message: expect.stringContaining('AccessDenied') },
    });
  });
});
