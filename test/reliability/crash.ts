/**
 * Crash anywhere, in-process: `up` is interrupted at a random call (seeded), then `up` runs
 * again on the state that was on disk at the crash, then `destroy`. Shared by the crash test
 * files, which split the trials so vitest can run them in parallel workers.
 */
import { FakeCloud, type FakeCloudOptions } from '../helpers/fake-cloud/index.js';
import { testConfig } from '../helpers/context.js';
import {
  Rng,
  crashAt,
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
import { join } from 'node:path';

export interface Calibration {
  /** Calls of a clean `up` (reads and mutating). */
  calls: number;
  mutating: number;
  /** Live resources per type after a clean `up` (what "one of each" means). */
  inventory: Record<string, number>;
}

/**
 * `ready`: resources are ready at once (`instant`), or move through their real states with
 * AWS's typical timings on the simulated clock (`timed`: RDS creating for 15 simulated
 * minutes…) on the fake's virtual clock, which costs no real time: the clock jumps to the next
 * wake-up whenever every step is waiting. With
 * `timed`, crash points also land in the middle of waits, and the resumed run adopts
 * resources that are still being created.
 */
export type Readiness = 'instant' | 'timed';

export function cloudOptions(ready: Readiness): FakeCloudOptions {
  return { mode: ready === 'timed' ? 'virtual' : 'instant' };
}

/** A clean run: how many calls `up` makes, and what the complete stack holds. */
export async function calibrate(ready: Readiness = 'instant'): Promise<Calibration> {
  const cloud = await new FakeCloud(cloudOptions(ready)).install();
  const dir = tempDir();
  try {
    const run = await engineRun(cloud, join(dir, 'state.json'));
    const result = await up(run);
    if (!result.ok) throw new Error(`a clean up failed:\n${errorsOf(result)}`);
    return {
      calls: cloud.calls.length,
      mutating: cloud.mutatingCalls().length,
      inventory: inventory(cloud),
    };
  } finally {
    cloud.uninstall();
    removeDir(dir);
  }
}

export interface TrialOutcome {
  trial: number;
  where: string;
  crashed: boolean;
  /** Resources with the same Name twice or more after the resumed `up`. */
  duplicates: string[];
  /** Types whose count differs from a clean run ("one of each"). */
  countDiff: string[];
  stateProblems: string[];
  resumeError: string;
  destroyError: string;
  /** What destroy left (besides what is kept on purpose). */
  orphans: string[];
  /** Warnings of the destroy run, when it left something (diagnostics). */
  destroyWarnings?: string[];
}

export function failed(o: TrialOutcome): boolean {
  return (
    !o.crashed ||
    o.duplicates.length > 0 ||
    o.countDiff.length > 0 ||
    o.stateProblems.length > 0 ||
    o.resumeError !== '' ||
    o.destroyError !== '' ||
    o.orphans.length > 0
  );
}

export interface CrashTarget {
  phase: 'before' | 'after';
  index: number;
  mutatingOnly: boolean;
}

/**
 * A crash point: with probability 0.6 right after the k-th mutating call was applied (its
 * response lost, nothing written to state), otherwise before the j-th call of any kind (a
 * read of a waiter, a lookup, a create) reached AWS. Drawn within 95 % of a clean run's
 * counts, which vary a little with the interleaving of concurrent steps.
 */
export function drawTarget(rng: Rng, cal: Calibration): CrashTarget {
  return rng.next() < 0.6
    ? { phase: 'after', index: rng.between(1, Math.floor(cal.mutating * 0.95)), mutatingOnly: true }
    : { phase: 'before', index: rng.between(1, Math.floor(cal.calls * 0.95)), mutatingOnly: false };
}

/** One trial: crash at `target`, resume, check, destroy, check. */
export async function trial(
  n: number,
  target: CrashTarget,
  cal: Calibration,
  ready: Readiness,
): Promise<TrialOutcome> {
  const config = testConfig();
  const cloud = await new FakeCloud(cloudOptions(ready)).install();
  const dir = tempDir();
  const statePath = join(dir, 'state.json');
  try {
    const first = await engineRun(cloud, statePath);
    const crash = crashAt(cloud, first, target);
    await up(first);
    // The resumed run starts at once (no simulated time passes): the harshest case, e.g. for
    // IAM propagation of a role the crashed run had just created.
    await crash.restoreDisk();

    const second = await engineRun(cloud, statePath);
    const resumed = await up(second);
    const dups = cloud.duplicates().map((d) => `${d.type} ${d.name} ×${d.ids.length}`);
    const inv = inventory(cloud);
    const countDiff = [...new Set([...Object.keys(inv), ...Object.keys(cal.inventory)])]
      .filter((t) => inv[t] !== cal.inventory[t])
      .map((t) => `${t}: ${inv[t] ?? 0} instead of ${cal.inventory[t] ?? 0}`);
    const problems = stateProblems(second.store, cloud, config);

    const third = await engineRun(cloud, statePath);
    const destroyed = await destroy(third);
    const left = orphans(cloud, config.stack).map(
      (l) => `${l.type} ${l.name ?? l.id} (${l.region}, ${l.state})`,
    );
    const warnings = third.events.flatMap((e) =>
      e.type === 'warning' ? [`${e.id ?? ''}: ${e.message}`] : [],
    );
    return {
      trial: n,
      where: crash.where() || `${target.phase} #${target.index} (not reached)`,
      crashed: crash.crashed(),
      duplicates: dups,
      countDiff,
      stateProblems: problems,
      resumeError: resumed.ok ? '' : errorsOf(resumed) || 'not ok',
      destroyError: destroyed.ok ? '' : errorsOf(destroyed) || 'not ok',
      orphans: left,
      ...(left.length > 0 ? { destroyWarnings: warnings } : {}),
    };
  } finally {
    cloud.uninstall();
    removeDir(dir);
  }
}

/** Run `count` trials whose crash points come from `seed`, and print the figures. */
export async function crashTrials(
  label: string,
  seed: number,
  count: number,
  ready: Readiness,
): Promise<TrialOutcome[]> {
  const cal = await calibrate(ready);
  const rng = new Rng(seed);
  const outcomes: TrialOutcome[] = [];
  for (let n = 1; n <= count; n++) {
    // A run that ends before its crash point (fewer calls this time) proves nothing: draw again.
    let outcome = await trial(n, drawTarget(rng, cal), cal, ready);
    for (let redraw = 0; !outcome.crashed && redraw < 5; redraw++)
      outcome = await trial(n, drawTarget(rng, cal), cal, ready);
    outcomes.push(outcome);
  }
  const after = outcomes.filter((o) => o.where.startsWith('after')).length;
  const dups = outcomes.reduce((s, o) => s + o.duplicates.length + o.countDiff.length, 0);
  const orphanCount = outcomes.reduce((s, o) => s + o.orphans.length, 0);
  console.log(
    `[crash ${label}] N=${outcomes.length} crash points (resources ready ${ready === 'timed' ? 'after AWS-like times on the simulated clock' : 'at once'}; seed ${seed}; ${after} right after a mutating call before the state write, ${outcomes.length - after} before a call); clean up = ${cal.calls} calls, ${cal.mutating} mutating; duplicates=${dups} orphans=${orphanCount}; failed trials=${outcomes.filter(failed).length}`,
  );
  for (const o of outcomes.filter(failed)) console.log(`[crash ${label}] ${JSON.stringify(o)}`);
  return outcomes;
}
