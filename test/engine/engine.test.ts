import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { destroyGraph, runDestroy, runUp, runVerify } from '../../src/engine/engine.js';
import { CloudmartError, InterruptedError } from '../../src/errors.js';
import { StateStore } from '../../src/state/store.js';
import { delay, engineFor, fakeStep, tempDir } from '../helpers/engine.js';

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

  it('builds an acyclic graph where unranked steps wait for every ranked one', () => {
    const graph = destroyGraph([fakeStep('a'), fakeStep('t', { cleanupRank: 1, needs: ['a'] })]);
    expect(graph).toEqual([
      { id: 'a', after: ['t'] },
      { id: 't', after: [] },
    ]);
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
