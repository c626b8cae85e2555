/**
 * Faults: throttling (each service's own code: ThrottlingException, Throttling,
 * RequestLimitExceeded, SlowDown), 500/503 and connection resets on a share of calls
 * (the fake cloud's `randomFaults`, seeded).
 *
 * Two settings, because aws-sdk-client-mock replaces `send` and so the SDK's own retry
 * middleware never runs:
 *  - "SDK retries": the fake replays the SDK's retries of transient errors up to the client's
 *    maxAttempts (8, what cloudmart's client factory sets), as the real SDK would.
 *  - "no SDK retries" (maxAttempts 1): every injected fault reaches cloudmart's own code; this
 *    is what happens once the SDK has given up, and shows what the tool itself copes with
 *    (waitUntil retries transient errors of a poll; the engine does not retry a step).
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  faults,
  FakeCloud,
  randomFaults,
  type FaultCounter,
  type FaultKind,
} from '../helpers/fake-cloud/index.js';
import { testConfig } from '../helpers/context.js';
import {
  Rng,
  destroy,
  engineRun,
  errorsOf,
  inventory,
  orphans,
  removeDir,
  stateProblems,
  tempDir,
  up,
} from './harness.js';
import { calibrate } from './crash.js';

const KINDS: FaultKind[] = ['throttling', 'server', 'unavailable', 'reset'];

interface Injector {
  hook: FaultCounter;
  stop(): void;
}

/** Fail `share` of call attempts before they reach the cloud (no effect applied). */
function injectFaults(cloud: FakeCloud, seed: number, share: number): Injector {
  const hook = randomFaults({ share, seed, kinds: KINDS });
  return { hook, stop: cloud.onCall(hook) };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

it('10 % of calls fail with throttling, 5xx or a connection reset: with the SDK retries, up and destroy complete in one run', async () => {
  const config = testConfig();
  const cal = await calibrate();
  const rows: string[] = [];
  for (const seed of [1, 2, 3]) {
    const cloud = await new FakeCloud({ mode: 'instant' }).install();
    const dir = tempDir();
    dirs.push(dir);
    const statePath = join(dir, 'state.json');
    try {
      const faulty = injectFaults(cloud, seed, 0.1);
      const run = await engineRun(cloud, statePath, { maxAttempts: 8 });
      const upResult = await up(run);
      const upCalls = cloud.calls.length;
      const upFaults = faulty.hook.total();
      expect(upResult.ok, errorsOf(upResult)).toBe(true);
      expect(cloud.duplicates()).toEqual([]);
      expect(inventory(cloud)).toEqual(cal.inventory);
      expect(stateProblems(run.store, cloud, config)).toEqual([]);

      const destroyed = await destroy(await engineRun(cloud, statePath, { maxAttempts: 8 }));
      expect(destroyed.ok, errorsOf(destroyed)).toBe(true);
      faulty.stop();
      expect(orphans(cloud, config.stack)).toEqual([]);
      rows.push(
        `seed ${seed}: up ${upFaults} faults in ${upCalls} attempts (${JSON.stringify(faulty.hook.injected)} in all), up ok in 1 run, destroy ok in 1 run, duplicates 0, orphans 0`,
      );
    } finally {
      cloud.uninstall();
    }
  }
  console.log(`[faults, SDK retries (maxAttempts 8), share 10 %]\n  ${rows.join('\n  ')}`);
}, 120_000);

interface Attempt {
  share: number;
  seed: number;
  upRuns: number;
  upDone: boolean;
  destroyRuns: number;
  destroyDone: boolean;
  firstFailure: string;
}

/** Run `fn` until it succeeds, at most `max` times; how many runs it took. */
async function untilOk(
  max: number,
  fn: () => Promise<{ ok: boolean; failure: string }>,
): Promise<{ runs: number; done: boolean; firstFailure: string }> {
  let firstFailure = '';
  for (let runs = 1; runs <= max; runs++) {
    const r = await fn();
    if (r.ok) return { runs, done: true, firstFailure };
    firstFailure ||= r.failure;
  }
  return { runs: max, done: false, firstFailure };
}

it('without SDK retries (maxAttempts 1): how often one run completes, whether re-running resumes, and nothing is ever duplicated or orphaned', async () => {
  const config = testConfig();
  const cal = await calibrate();
  const MAX_RUNS = 15;
  const results: Attempt[] = [];
  for (const share of [0.01, 0.03, 0.1]) {
    for (const seed of [11, 12, 13]) {
      const cloud = await new FakeCloud({ mode: 'instant' }).install();
      const dir = tempDir();
      dirs.push(dir);
      const statePath = join(dir, 'state.json');
      try {
        const faulty = injectFaults(cloud, seed * 100 + share * 1000, share);
        const upRuns = await untilOk(MAX_RUNS, async () => {
          const r = await up(await engineRun(cloud, statePath, { maxAttempts: 1 }));
          return { ok: r.ok, failure: errorsOf(r).split('\n')[0] ?? '' };
        });
        // Whatever happened under faults: nothing duplicated, and a fault-free run finishes.
        expect(cloud.duplicates()).toEqual([]);
        faulty.stop();
        const clean = await up(await engineRun(cloud, statePath, { maxAttempts: 1 }));
        expect(clean.ok, errorsOf(clean)).toBe(true);
        expect(inventory(cloud)).toEqual(cal.inventory);
        const store = (await engineRun(cloud, statePath)).store;
        expect(stateProblems(store, cloud, config)).toEqual([]);

        const faulty2 = injectFaults(cloud, seed * 7 + 1, share);
        const destroyRuns = await untilOk(MAX_RUNS, async () => {
          const r = await destroy(await engineRun(cloud, statePath, { maxAttempts: 1 }));
          return { ok: r.ok, failure: errorsOf(r).split('\n')[0] ?? '' };
        });
        faulty2.stop();
        const cleanDestroy = await destroy(await engineRun(cloud, statePath, { maxAttempts: 1 }));
        expect(cleanDestroy.ok, errorsOf(cleanDestroy)).toBe(true);
        expect(orphans(cloud, config.stack)).toEqual([]);
        results.push({
          share,
          seed,
          upRuns: upRuns.runs,
          upDone: upRuns.done,
          destroyRuns: destroyRuns.runs,
          destroyDone: destroyRuns.done,
          firstFailure: upRuns.firstFailure || destroyRuns.firstFailure,
        });
      } finally {
        cloud.uninstall();
      }
    }
  }
  const lines = results.map(
    (r) =>
      `share ${r.share * 100} % seed ${r.seed}: up ${r.upDone ? `completed in ${r.upRuns} run(s)` : `not complete after ${r.upRuns} runs`}, destroy ${r.destroyDone ? `completed in ${r.destroyRuns} run(s)` : `not complete after ${r.destroyRuns} runs`}${r.firstFailure ? `; first failure: ${r.firstFailure.slice(0, 160)}` : ''}`,
  );
  const byShare = [0.01, 0.03, 0.1].map((share) => {
    const rs = results.filter((r) => r.share === share);
    return `${share * 100} %: up in one run ${rs.filter((r) => r.upDone && r.upRuns === 1).length}/${rs.length}, up finished by resuming ${rs.filter((r) => r.upDone).length}/${rs.length}; destroy in one run ${rs.filter((r) => r.destroyDone && r.destroyRuns === 1).length}/${rs.length}, finished by re-running ${rs.filter((r) => r.destroyDone).length}/${rs.length}`;
  });
  console.log(
    `[faults, no SDK retries (maxAttempts 1), up to ${MAX_RUNS} runs under faults, then one fault-free run]\n  ${byShare.join('\n  ')}\n  ${lines.join('\n  ')}\n  duplicates 0, orphans 0 in every case`,
  );
}, 240_000);

/**
 * A 5xx or connection reset that arrives AFTER AWS applied a create ("lost response") makes the
 * SDK retry the create. APIs without an idempotency token make a second resource (KMS CreateKey:
 * the step schedules the stray key at once), others answer AlreadyExists (InvalidGroup.Duplicate,
 * RouteAlreadyExists, …) and the engine runs the step again so its lookup adopts the resource.
 */
it('lost responses (5xx after the create was applied, SDK retries on) never leave a duplicate', async () => {
  const config = testConfig();
  const found: string[] = [];
  for (const seed of [1, 2, 3, 4, 5]) {
    const cloud = await new FakeCloud({ mode: 'instant' }).install();
    const dir = tempDir();
    dirs.push(dir);
    const statePath = join(dir, 'state.json');
    try {
      const rng = new Rng(seed);
      const stop = cloud.onCall((e) => {
        if (e.phase === 'after' && e.mutating && rng.next() < 0.05)
          throw faults.serverError(e.service, 500);
      });
      const first = await up(await engineRun(cloud, statePath, { maxAttempts: 8 }));
      stop();
      const resumed = await up(await engineRun(cloud, statePath, { maxAttempts: 8 }));
      const dups = cloud.duplicates();
      await destroy(await engineRun(cloud, statePath, { maxAttempts: 8 }));
      const left = orphans(cloud, config.stack);
      found.push(
        `seed ${seed}: first run ok=${first.ok} (${first.failed.join(', ') || '-'}), resumed ok=${resumed.ok}, duplicates ${dups.map((d) => `${d.type} ${d.name} ×${d.ids.length}`).join(', ') || 'none'}, orphans after destroy ${left.map((l) => `${l.type} ${l.name ?? l.id}`).join(', ') || 'none'}`,
      );
      expect(dups).toEqual([]);
      expect(left).toEqual([]);
    } finally {
      cloud.uninstall();
      console.log(`[faults, lost responses on 5 % of mutating calls]\n  ${found.join('\n  ')}`);
    }
  }
}, 120_000);
