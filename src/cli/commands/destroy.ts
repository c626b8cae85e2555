import type { Leftover } from '../../engine/sweep.js';
import { destroyGraph, isEnabled, runDestroy } from '../../engine/engine.js';
import type { Config } from '../../config/schema.js';
import { CloudmartError } from '../../errors.js';
import type { StateFile, StepStatus } from '../../state/store.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { announceTarget, checkCredentials, openSession, type GlobalOptions } from '../runtime.js';
import { printRunSummary } from './summary.js';

export interface DestroyOptions {
  yes?: boolean;
  dryRun?: boolean;
  concurrency: number;
  forceUnlock?: boolean;
  json?: boolean;
  /** Add the cleanup receipt to the hand-in report in this folder. */
  report?: string;
  lang?: 'en' | 'ko';
}

/** The teardown order as levels, for --dry-run. */
export function destroyOrder(ids: string[]): string[][] {
  const steps = registry.filter((s) => ids.includes(s.id));
  const graph = destroyGraph(steps);
  const level = new Map<string, number>();
  const depth = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    const after = graph.find((n) => n.id === id)!.after.filter((a) => ids.includes(a));
    const d = after.length === 0 ? 0 : 1 + Math.max(...after.map(depth));
    level.set(id, d);
    return d;
  };
  const levels: string[][] = [];
  for (const id of ids) (levels[depth(id)] ??= []).push(id);
  return levels.filter(Boolean);
}

/** One step of `destroy --dry-run --json`, in teardown order. */
export interface DryRunStep {
  /** 1-based; the steps of one level are torn down side by side, after every earlier level. */
  level: number;
  id: string;
  phase: number;
  title: string;
  /** What the state file records for it (`none`: not recorded; found by tags and names). */
  recorded: StepStatus | 'none';
  /** What the step manages, and so what its teardown deletes if it exists. */
  deletes: string[];
}

/** `destroy --dry-run --json`: the teardown order, step by step. */
export function dryRunPlan(
  config: Config,
  levels: string[][],
  state: StateFile,
): { stack: string; region: string; steps: DryRunStep[] } {
  const byId = new Map(registry.map((s) => [s.id, s]));
  return {
    stack: config.stack,
    region: config.region,
    steps: levels.flatMap((level, i) =>
      level.map((id) => {
        const step = byId.get(id)!;
        return {
          level: i + 1,
          id,
          phase: step.phase,
          title: step.title,
          recorded: state.steps[id]?.status ?? 'none',
          deletes: step.describe(config),
        };
      }),
    ),
  };
}

/** The ids, names and ARNs a step's recorded outputs hold, as "key: value" lines. */
function recordedIds(outputs: Record<string, unknown> | undefined): string[] {
  return Object.entries(outputs ?? {}).flatMap(([key, v]) =>
    typeof v === 'string' && v !== ''
      ? [`${key}: ${v}`]
      : Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')
        ? [`${key}: ${v.join(', ')}`]
        : [],
  );
}

/** `destroy`: confirm by typing the stack name, tear down, report. */
export async function destroyCommand(
  io: Io,
  opts: DestroyOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = { ...cmd.optsWithGlobals(), json: opts.json };
  const session = await openSession(io, g, 'destroy', {
    lock: !opts.dryRun,
    forceUnlock: opts.forceUnlock ?? false,
  });
  try {
    const ids = registry
      .filter(
        (s) =>
          isEnabled(s, session.config) ||
          (session.store.current.steps[s.id]?.status ?? 'pending') !== 'pending',
      )
      .map((s) => s.id);
    if (opts.dryRun) {
      const levels = destroyOrder(ids);
      if (opts.json) {
        io.out(JSON.stringify(dryRunPlan(session.config, levels, session.store.current), null, 2));
        return 0;
      }
      const state = session.store.current;
      const recorded = Object.values(state.steps).some((st) => st && st.status !== 'pending');
      io.out(
        `destroy would remove stack "${session.config.stack}" in ${session.config.region} in this order (steps of one level side by side), ${
          recorded
            ? `with what the state file ${session.store.path} records:`
            : `looking each resource up by its tags and names (the state file ${session.store.path} records nothing):`
        }`,
      );
      for (const step of dryRunPlan(session.config, levels, state).steps) {
        io.out(
          `  ${step.level}. ${step.id}: ${step.title} (${step.recorded === 'none' ? 'not recorded' : step.recorded})`,
        );
        const ids = recordedIds(state.steps[step.id]?.outputs);
        for (const line of ids.length > 0 ? ids : step.deletes.map((d) => `if it exists: ${d}`))
          io.out(`       ${line}`);
      }
      return 0;
    }
    announceTarget(io, session.aws, g);
    if (!opts.yes) {
      if (!io.interactive) {
        throw new CloudmartError(
          'USAGE',
          'destroy needs a confirmation and there is no terminal to give it',
          {
            exitCode: 2,
            hint: 'Pass --yes to destroy without asking (CI), or run it in a terminal.',
          },
        );
      }
      const answer = await io.prompter.input(
        `This deletes every resource of stack "${session.config.stack}" in ${session.config.region}. Type the stack name to confirm`,
        { default: '' },
      );
      if (answer.trim() !== session.config.stack) {
        io.err('Not confirmed: nothing was deleted.');
        return 1;
      }
    }
    // A path mistake is a usage error before anything is deleted.
    if (opts.report) {
      const { makeOutputDir } = await import('../output.js');
      await makeOutputDir(opts.report, 'the report folder');
    }
    await checkCredentials(session.aws);
    // For the cleanup receipt: what each step held before, and when its teardown ran.
    const before = structuredClone(session.store.current.steps);
    const destroyStarted = new Date().toISOString();
    const timings = new Map<string, { startedAt?: string; finishedAt?: string }>();
    const engine = session.engine(opts.concurrency);
    const show = engine.emit;
    engine.emit = (e) => {
      if (e.type === 'step-start' || e.type === 'step-done' || e.type === 'step-failed') {
        const t = timings.get(e.id) ?? {};
        if (e.type === 'step-start') t.startedAt = new Date().toISOString();
        else t.finishedAt = new Date().toISOString();
        timings.set(e.id, t);
      }
      show(e);
    };
    const result = await runDestroy(engine);
    const code = printRunSummary(io, 'destroy', result, session.store.path);
    if (result.interrupted) return code;

    // Whatever the state said: look for anything still tagged with the stack.
    io.err('\nSweeping for anything still tagged cloudmart:stack=' + session.config.stack + ' …');
    const { sweep, SweepIncompleteError } = await import('../../engine/sweep.js');
    let leftovers: Leftover[];
    let incomplete: string[] = [];
    try {
      leftovers = await sweep(session.aws, session.config, registry);
    } catch (e) {
      // The teardown is done and reported: a failed look-around must not hide that.
      if (e instanceof SweepIncompleteError) {
        leftovers = e.found;
        incomplete = e.problems;
      } else {
        leftovers = [];
        incomplete = [(e as Error).message ?? String(e)];
      }
    }
    const kept = leftovers.filter((l) => l.kept);
    // Listed by the Tagging API only, which lags deletes: said, never a failure.
    const listed = leftovers.filter((l) => !l.kept && l.unconfirmed);
    const remaining = leftovers.filter((l) => !l.kept && !l.unconfirmed);
    for (const l of kept) io.err(`  kept: ${l.arn} (${l.region}) — ${l.note ?? ''}`);
    if (listed.length > 0) {
      io.err(
        `${listed.length} deleted resource${listed.length === 1 ? ' is' : 's are'} still listed by the Tagging API (it lags deletes by minutes to hours; not confirmed, nothing that bills by the hour):`,
      );
      for (const l of listed) io.err(`  ? ${l.type} ${l.arn} (${l.region})`);
    }
    if (remaining.length > 0) {
      io.err(
        `${remaining.length} resource${remaining.length === 1 ? '' : 's'} still exist${remaining.length === 1 ? 's' : ''}:`,
      );
      for (const l of remaining)
        io.err(`  ✖ ${l.type} ${l.arn} (${l.region})${l.note ? ` — ${l.note}` : ''}`);
      io.err(
        '→ Run "cloudmart destroy" again (deletes that AWS was still finishing are retried), or delete these in the console.',
      );
    }
    if (incomplete.length > 0) {
      io.err(`✖ leftover check incomplete: ${incomplete.join('; ')}`);
      io.err(
        '→ Something may still exist and bill: run "cloudmart policy" for the permissions the check needs, then "cloudmart destroy" again, or look in the console.',
      );
    } else if (remaining.length === 0) {
      io.err(
        kept.length
          ? 'Nothing else remains: nothing of this stack keeps billing except what is listed as kept.'
          : 'Nothing remains: nothing of this stack keeps billing.',
      );
    }
    if (opts.report) {
      const { cleanupReceipt, addCleanupToReport } = await import('../../report/cleanup.js');
      const receipt = cleanupReceipt({
        before,
        after: session.store.current.steps,
        timings,
        startedAt: destroyStarted,
        kept,
        remaining,
        incomplete,
      });
      await addCleanupToReport(opts.report, receipt, session.config, opts.lang ?? 'en');
      io.err(`Cleanup receipt added to ${opts.report}/index.html and report.md.`);
    }
    if (opts.json)
      io.out(
        JSON.stringify({
          ok: code === 0 && remaining.length === 0 && incomplete.length === 0,
          failed: result.failed,
          skipped: result.skipped,
          kept,
          remaining,
          listed,
          ...(incomplete.length > 0 ? { incomplete } : {}),
        }),
      );
    return code !== 0 ? code : remaining.length > 0 || incomplete.length > 0 ? 1 : 0;
  } finally {
    await session.close();
  }
}
