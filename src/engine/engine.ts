import { closest } from '../config/load.js';
import {
  describeCall,
  explainAwsError,
  isAlreadyExists,
  isThrottled,
  isTransient,
} from '../aws/errors.js';
import { tagSet } from '../aws/tags.js';
import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import { CloudmartError, InterruptedError } from '../errors.js';
import { realSleep } from '../sleep.js';
import { stepCriteria } from '../verify/rubric.js';
import { currentUser, type StateStore } from '../state/store.js';
import { hostname } from 'node:os';
import type { Action, Emit } from './events.js';
import { schedule, type GraphNode } from './scheduler.js';
import type { Check, Outputs, Phase, Step, StepContext } from './step.js';

export interface EngineOptions {
  config: Config;
  aws: Aws;
  store: StateStore;
  steps: readonly Step[];
  emit: Emit;
  signal: AbortSignal;
  /** Operations in flight at once (default 8). */
  concurrency?: number;
  /** Overridable for tests and the benchmark's simulated clock. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  /**
   * `up`: run the waits steps hand off with `ctx.settle` (backup replication, the manual
   * snapshot, CloudFront's deployment) while the run goes on, and wait for them at its end
   * (`up --drills`, whose verify should find everything finished). Default: they are not
   * waited for; the run names each one as still settling, and `verify` scores it once AWS is done.
   */
  awaitSettling?: boolean;
}

export interface Selection {
  phases?: Phase[];
  stepIds?: string[];
  /** Steps left out of this run (e.g. the drills when nobody agreed to them). */
  excludeStepIds?: string[];
}

export interface RunResult {
  ok: boolean;
  failed: string[];
  skipped: string[];
  /** Skipped because the user declined their phase (or a phase they need): not a failure. */
  declined: string[];
  interrupted: boolean;
  errors: Map<string, Error>;
  /** Waits handed off with `ctx.settle` that this run did not wait for ("<step>: <what>"). */
  settling: string[];
}

/** A wait a step handed off (`ctx.settle`); started at once when the run waits for it. */
interface Settling {
  id: string;
  what: string;
  outcome: Promise<Error | undefined> | undefined;
}

/** The waits of one `up` run that no later step needs. */
class Settler {
  private readonly tasks = new Map<string, Settling>();
  constructor(private readonly run: boolean) {}

  add(id: string, what: string, wait: () => Promise<void>): void {
    const outcome = this.run
      ? wait().then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        )
      : undefined;
    // A step re-run after a transient error hands the same wait off again: keep the newest.
    this.tasks.set(`${id}\n${what}`, { id, what, outcome });
  }

  list(): Settling[] {
    return [...this.tasks.values()];
  }
}

export function isEnabled(step: Step, config: Config): boolean {
  return step.enabled ? step.enabled(config) : true;
}

/** The steps a selection names, in registry order. */
export function selectSteps(
  steps: readonly Step[],
  config: Config,
  selection: Selection = {},
): Step[] {
  const known = new Set(steps.map((s) => s.id));
  for (const id of selection.stepIds ?? []) {
    if (!known.has(id)) {
      const near = closest(id, [...known]);
      throw new CloudmartError(
        'USAGE',
        `Unknown step "${id}"${near ? `; did you mean "${near}"?` : ''}`,
        { exitCode: 2, hint: 'Run "cloudmart plan" for the list of step ids.' },
      );
    }
  }
  return steps.filter(
    (s) =>
      isEnabled(s, config) &&
      (!selection.phases || selection.phases.includes(s.phase)) &&
      (!selection.stepIds || selection.stepIds.includes(s.id)) &&
      !(selection.excludeStepIds ?? []).includes(s.id),
  );
}

/** How the steps of one `up` run ended, for steps that wait on one they do not need (`ctx.whenDone`). */
class Outcomes {
  private readonly entries = new Map<
    string,
    { promise: Promise<boolean>; resolve: (ok: boolean) => void }
  >();
  constructor(
    private readonly inRun: ReadonlySet<string>,
    private readonly doneBefore: (id: string) => boolean,
  ) {}

  private entry(id: string) {
    let e = this.entries.get(id);
    if (!e) {
      let resolve!: (ok: boolean) => void;
      const promise = new Promise<boolean>((r) => (resolve = r));
      e = { promise, resolve };
      this.entries.set(id, e);
    }
    return e;
  }

  finished(id: string, ok: boolean): void {
    this.entry(id).resolve(ok);
  }

  when(id: string, signal: AbortSignal): Promise<boolean> {
    if (!this.inRun.has(id)) return Promise.resolve(this.doneBefore(id));
    const outcome = this.entry(id).promise;
    return new Promise<boolean>((resolve, reject) => {
      if (signal.aborted) return reject(new InterruptedError());
      const onAbort = () => reject(new InterruptedError());
      signal.addEventListener('abort', onAbort, { once: true });
      void outcome.then((ok) => {
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      });
    });
  }
}

/** Every node for a step context: outputs from state, progress and warnings as events. */
function makeContext(
  options: EngineOptions,
  step: Step,
  run?: { settler: Settler; outcomes: Outcomes },
): StepContext {
  const { config, aws, store, emit, signal } = options;
  const sleep = options.sleep ?? realSleep;
  const disabled = new Set(options.steps.filter((s) => !isEnabled(s, config)).map((s) => s.id));
  return {
    config,
    aws,
    stepId: step.id,
    outputs<T extends Outputs>(id: string): T {
      const o = store.current.steps[id];
      if (o?.status !== 'done' || !o.outputs) {
        throw new CloudmartError(
          'NOT_READY',
          `${step.id} needs the outputs of ${id}, which is not done`,
          {
            hint: disabled.has(id)
              ? `${id} is disabled by the config.`
              : 'Run "cloudmart up" for the earlier phases first.',
          },
        );
      }
      return o.outputs as T;
    },
    maybeOutputs<T extends Outputs>(id: string): T | undefined {
      const o = store.current.steps[id];
      return o?.status === 'done' ? (o.outputs as T | undefined) : undefined;
    },
    previous: store.current.steps[step.id]?.outputs,
    tags: tagSet(config, step.id),
    progress: (message) => emit({ type: 'step-progress', id: step.id, message }),
    warn: (message) => emit({ type: 'warning', id: step.id, message }),
    signal,
    sleep: (ms) => sleep(ms, signal),
    now: options.now ?? Date.now,
    results: () => store.current.results,
    ...(run
      ? {
          settle: (what: string, wait: () => Promise<void>) => run.settler.add(step.id, what, wait),
          whenDone: (id: string) => run.outcomes.when(id, signal),
        }
      : {}),
  };
}

/** Delays before re-running a step whose call still failed transiently after the SDK's own retries. */
export const STEP_RETRY_DELAYS_MS = [5_000, 20_000];

/**
 * The SDK retries each call (adaptive, 8 attempts); when throttling or a 5xx outlasts that, the
 * step is run again from the top — safe, because create and teardown are idempotent. An
 * "already exists" answer means an earlier attempt's create was applied though its answer was
 * lost: running the step again makes its lookup adopt that resource.
 */
async function withTransientRetry<T>(ctx: StepContext, run: () => Promise<T>): Promise<T> {
  let adoptions = 0;
  for (let attempt = 0; ;) {
    try {
      return await run();
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      // Each create of a multi-resource step can meet this once; three re-runs is plenty.
      if (isAlreadyExists(e) && adoptions < 3) {
        adoptions++;
        ctx.progress(`AWS says it already exists (${(e as Error).name}): looking it up again`);
        continue;
      }
      const delay = STEP_RETRY_DELAYS_MS[attempt++];
      if (delay === undefined || !isTransient(e)) throw e;
      // Throttling is AWS being busy; a 5xx or a dropped connection is a failure, said as such.
      const why = isThrottled(e)
        ? `AWS is busy (${(e as Error).name})`
        : `AWS failed the request (${describeCall(e) || (e as Error).name}: ${(e as Error).name})`;
      ctx.progress(`${why}; trying the step again in ${delay / 1000}s`);
      await ctx.sleep(delay);
    }
  }
}

function toError(e: unknown, step: Step, action: Action): Error {
  if (e instanceof CloudmartError) return e;
  return explainAwsError(e, `${step.title} (${step.id}) ${action}`);
}

/**
 * `up`: run the selected steps' create as soon as their needs are met. A need outside the
 * selection must already be done in the state (or disabled by config).
 */
export async function runUp(
  options: EngineOptions,
  selection: Selection = {},
  confirmPhase?: (phase: Phase, steps: Step[]) => Promise<boolean>,
): Promise<RunResult> {
  const { config, store, emit, signal } = options;
  const selected = selectSteps(options.steps, config, selection);
  const selectedIds = new Set(selected.map((s) => s.id));
  const byId = new Map(options.steps.map((s) => [s.id, s]));

  // Needs that are neither selected nor done: say so now, before anything is sent to AWS.
  const missing: string[] = [];
  for (const step of selected) {
    for (const need of step.needs) {
      const dep = byId.get(need);
      if (!dep) throw new CloudmartError('INTERNAL', `${step.id} needs unknown step ${need}`);
      if (selectedIds.has(need) || !isEnabled(dep, config)) continue;
      if (store.current.steps[need]?.status !== 'done') missing.push(`${step.id} needs ${need}`);
    }
  }
  if (missing.length > 0) {
    const phases = [...new Set(missing.map((m) => byId.get(m.split(' needs ')[1]!)!.phase))].sort();
    throw new CloudmartError(
      'NOT_READY',
      `Some selected steps need steps that are not done:\n  ${missing.join('\n  ')}`,
      {
        exitCode: 2,
        hint: `Run "cloudmart up --phase ${phases.join(',')}" first, or select those phases too.`,
      },
    );
  }

  const phaseAnswers = new Map<Phase, Promise<boolean>>();
  const gate = confirmPhase
    ? (id: string) => {
        const step = byId.get(id)!;
        let answer = phaseAnswers.get(step.phase);
        if (!answer) {
          answer = confirmPhase(
            step.phase,
            selected.filter((s) => s.phase === step.phase),
          );
          phaseAnswers.set(step.phase, answer);
        }
        return answer;
      }
    : undefined;

  // Checks that need the account, before the first billable create (see Step.preflight), for the
  // confirmed phases only: the read-only ones first, then those that make something free.
  const preflights = selected.filter(
    (s) => s.preflight && store.current.steps[s.id]?.status !== 'done',
  );
  const byPhase = (a: Step, b: Step) => a.phase - b.phase;
  for (const step of [
    ...preflights.filter((s) => !s.preflightCreates).sort(byPhase),
    ...preflights.filter((s) => s.preflightCreates).sort(byPhase),
  ]) {
    if (signal.aborted) throw new InterruptedError();
    // A declined phase creates nothing, so nothing of it is checked (and nothing refused).
    if (gate && !(await gate(step.id))) continue;
    try {
      await step.preflight!(makeContext(options, step));
    } catch (e) {
      // A refusal stops the run; a check that could not be made (throttled, a network blip)
      // does not: the step itself meets the same condition later and reports it.
      if (e instanceof CloudmartError || signal.aborted) throw e;
      emit({
        type: 'warning',
        id: step.id,
        message: `could not check the account before starting (${(e as Error).name}: ${(e as Error).message}); going on`,
      });
    }
  }

  const hooks = {
    settler: new Settler(options.awaitSettling === true),
    outcomes: new Outcomes(selectedIds, (id) => store.current.steps[id]?.status === 'done'),
  };
  return execute(options, 'up', 'create', upGraph(selected), gate, hooks, async (step) => {
    const ctx = makeContext(options, step, hooks);
    const previous = store.current.steps[step.id];
    const resumed = previous?.status === 'done';
    const started = Date.now();
    emit({
      type: 'step-start',
      id: step.id,
      title: step.title,
      phase: step.phase,
      action: 'create',
      resumed,
    });
    // A step already done is only re-checked: its record (first start, attempts) stays as it was.
    if (!resumed) {
      await store.update((s) => {
        s.steps[step.id] = {
          ...(previous ?? { attempts: 0 }),
          status: 'in_progress',
          startedAt: new Date(started).toISOString(),
          attempts: (previous?.attempts ?? 0) + 1,
        };
      });
    }
    try {
      const outputs = await withTransientRetry(ctx, () => step.create(ctx));
      if (signal.aborted) throw new InterruptedError();
      await store.update((s) => {
        s.steps[step.id] = {
          ...s.steps[step.id]!,
          status: 'done',
          outputs,
          finishedAt: resumed ? s.steps[step.id]!.finishedAt : new Date().toISOString(),
          lastError: undefined,
        };
      });
      emit({
        type: 'step-done',
        id: step.id,
        action: 'create',
        durationMs: Date.now() - started,
        resumed,
      });
    } catch (e) {
      const error =
        signal.aborted && !(e instanceof CloudmartError)
          ? new InterruptedError()
          : toError(e, step, 'create');
      await store.update((s) => {
        s.steps[step.id] = {
          ...s.steps[step.id]!,
          // A step that was done keeps its status and outputs when its re-check fails (its
          // resources still exist); a step that never finished is re-run next time.
          status: resumed ? 'done' : 'failed',
          finishedAt: new Date().toISOString(),
          lastError: {
            code: error instanceof CloudmartError ? error.code : 'AWS_ERROR',
            message: error.message,
          },
        };
      });
      emit({
        type: 'step-failed',
        id: step.id,
        action: 'create',
        error,
        durationMs: Date.now() - started,
      });
      throw error;
    }
  });
}

/**
 * The order `up` follows: a step waits for its needs to succeed (hard edges) and, ordering
 * only, for its `runsAfter` steps and, with `runsAfterEarlierPhases`, for every selected step of
 * an earlier phase to finish, whatever their outcome (soft edges).
 */
export function upGraph(selected: readonly Step[]): GraphNode[] {
  return selected.map((s) => ({
    id: s.id,
    after: [
      ...new Set([
        ...s.needs,
        ...(s.runsAfter ?? []),
        ...(s.runsAfterEarlierPhases
          ? selected.filter((o) => o.phase < s.phase).map((o) => o.id)
          : []),
      ]),
    ],
    requires: s.needs,
  }));
}

export interface DestroySelection {
  /** Tear down only these phases (default: everything). */
  phases?: Phase[];
}

/** The needs a step's failed teardown keeps alive (see `Step.teardownKeeps`). */
export function teardownKeeps(step: Step): string[] {
  return step.teardownKeeps ?? (step.cleanupRank !== undefined ? [] : step.needs);
}

/**
 * The order destroy follows: steps with a cleanup rank first (the seed's list: trail, alarms,
 * dashboard, Backup plan, RDS snapshots), one after another, then every other step once all
 * steps that need it are gone.
 *
 * A reversed need is a hard edge only when the dependent keeps it (`teardownKeeps`: by default
 * every need of an ordinary step, none of a cleanup step): a step whose dependent could not be
 * torn down is kept, since that dependent still uses it. Everything else is soft: the seed's
 * order, `teardownAfter`, and the needs a dependent does not keep. A step starts once those
 * have finished, whatever their outcome, so a failed cleanup step (an AccessDenied on
 * DeleteAlarms or DeleteTrail, or on stopping the RDS backup replication) never leaves the NAT
 * gateways, RDS and the ALB billing.
 */
export function destroyGraph(steps: Step[]): GraphNode[] {
  const ids = new Set(steps.map((s) => s.id));
  const ranked = steps
    .filter((s) => s.cleanupRank !== undefined)
    .sort((a, b) => a.cleanupRank! - b.cleanupRank!);
  const rankedIds = ranked.map((s) => s.id);
  const keeps = new Map(steps.map((s) => [s.id, teardownKeeps(s)]));
  const dependents = new Map<string, string[]>();
  for (const s of steps) {
    for (const n of s.needs)
      if (ids.has(n)) dependents.set(n, [...(dependents.get(n) ?? []), s.id]);
  }
  return steps.map((s) => {
    const rank = rankedIds.indexOf(s.id);
    const own = s.teardownAfter ?? [];
    // The seed's cleanup steps run first, one after another, in the seed's order (they do not
    // wait for their dependents: the seed removes them before anything else).
    if (rank !== -1) {
      return {
        id: s.id,
        after: [...new Set([...(rank > 0 ? [rankedIds[rank - 1]!] : []), ...own])],
        requires: [],
      };
    }
    const users = dependents.get(s.id) ?? [];
    const hard = users.filter((d) => (keeps.get(d) ?? []).includes(s.id));
    return { id: s.id, after: [...new Set([...users, ...rankedIds, ...own])], requires: hard };
  });
}

/** `destroy`: teardown in the seed's cleanup order, then reverse dependencies. */
export async function runDestroy(
  options: EngineOptions,
  selection: DestroySelection = {},
): Promise<RunResult> {
  const { config, store, emit } = options;
  const steps = options.steps.filter((s) => {
    if (selection.phases && !selection.phases.includes(s.phase)) return false;
    const st = store.current.steps[s.id];
    // Enabled steps are always visited (they find their resources by tag when the state is
    // lost); a disabled step only when the state says it once created something.
    return (
      isEnabled(s, config) ||
      (st !== undefined && st.status !== 'destroyed' && st.status !== 'pending')
    );
  });
  const byId = new Map(steps.map((s) => [s.id, s]));
  const failedTeardowns = new Set<string>();
  return execute(
    options,
    'destroy',
    'teardown',
    destroyGraph(steps),
    undefined,
    undefined,
    async (step) => {
      const ctx = makeContext(options, step);
      const started = Date.now();
      // A failed dependent that does not keep this step lets it go (see destroyGraph): say so.
      const leftBehind = steps.filter(
        (d) => failedTeardowns.has(d.id) && d.needs.includes(step.id),
      );
      for (const d of leftBehind) {
        emit({
          type: 'warning',
          id: step.id,
          message: `${step.id} is torn down although ${d.id} could not be: what ${d.id} left is cleaned up by running "cloudmart destroy" again`,
        });
      }
      emit({
        type: 'step-start',
        id: step.id,
        title: byId.get(step.id)!.title,
        phase: step.phase,
        action: 'teardown',
        resumed: false,
      });
      try {
        await withTransientRetry(ctx, () => step.teardown(ctx));
        if (options.signal.aborted) throw new InterruptedError();
        await store.update((s) => {
          const prev = s.steps[step.id];
          s.steps[step.id] = {
            attempts: prev?.attempts ?? 0,
            status: 'destroyed',
            finishedAt: new Date().toISOString(),
          };
        });
        emit({
          type: 'step-done',
          id: step.id,
          action: 'teardown',
          durationMs: Date.now() - started,
          resumed: false,
        });
      } catch (e) {
        const error =
          options.signal.aborted && !(e instanceof CloudmartError)
            ? new InterruptedError()
            : toError(e, step, 'teardown');
        failedTeardowns.add(step.id);
        await store.update((s) => {
          const prev = s.steps[step.id];
          if (prev)
            prev.lastError = {
              code: error instanceof CloudmartError ? error.code : 'AWS_ERROR',
              message: error.message,
            };
        });
        emit({
          type: 'step-failed',
          id: step.id,
          action: 'teardown',
          error,
          durationMs: Date.now() - started,
        });
        throw error;
      }
    },
  );
}

async function execute(
  options: EngineOptions,
  command: string,
  action: Action,
  nodes: GraphNode[],
  gate: ((id: string) => Promise<boolean>) | undefined,
  hooks: { settler: Settler; outcomes: Outcomes } | undefined,
  run: (step: Step) => Promise<void>,
): Promise<RunResult> {
  const settler = hooks?.settler;
  const { store, emit, signal } = options;
  const concurrency = options.concurrency ?? 8;
  const byId = new Map(options.steps.map((s) => [s.id, s]));
  const started = Date.now();
  const runIndex = store.current.runs.length;
  await store.update((s) => {
    // Who ran it: with a shared (S3) state, teammates see each other's runs in `status`.
    s.runs.push({
      command,
      startedAt: new Date(started).toISOString(),
      host: hostname(),
      user: currentUser(),
    });
  });
  emit({ type: 'run-start', command, steps: nodes.map((n) => n.id), concurrency });

  const errors = new Map<string, Error>();
  const phasesStarted = new Set<Phase>();
  const result = await schedule(nodes, {
    concurrency,
    signal,
    gate,
    onSkip: (id, reason) => {
      hooks?.outcomes.finished(id, false);
      emit({ type: 'step-skipped', id, reason });
    },
    run: async (id) => {
      const step = byId.get(id)!;
      if (!phasesStarted.has(step.phase) && action === 'create') {
        phasesStarted.add(step.phase);
        emit({ type: 'phase-start', phase: step.phase });
      }
      try {
        await run(step);
        hooks?.outcomes.finished(id, true);
      } catch (e) {
        hooks?.outcomes.finished(id, false);
        errors.set(id, e as Error);
        throw e;
      }
    },
  });

  // Only waits of steps that finished count: a failed step's wait is moot.
  const handedOff = (settler?.list() ?? []).filter(
    (t) =>
      result.outcomes.get(t.id) === 'succeeded' && store.current.steps[t.id]?.status === 'done',
  );
  const settling: string[] = [];
  const settleFailed: string[] = [];
  for (const t of handedOff) {
    if (!t.outcome) {
      settling.push(`${t.id}: ${t.what}`);
      emit({
        type: 'warning',
        id: t.id,
        message: `${t.what} is still settling on AWS; "cloudmart verify" scores it once it is done ("cloudmart up --drills" waits for it)`,
      });
      continue;
    }
    emit({ type: 'step-progress', id: t.id, message: `waiting for ${t.what}` });
    const error = await t.outcome;
    if (!error) {
      emit({ type: 'step-progress', id: t.id, message: `${t.what}: done` });
      continue;
    }
    if (signal.aborted) continue;
    const step = byId.get(t.id)!;
    const wrapped = toError(error, step, action);
    errors.set(t.id, wrapped);
    settleFailed.push(t.id);
    await store.update((s) => {
      const st = s.steps[t.id];
      if (st) {
        // Not finished after all: the next `up` runs the step again (it adopts what exists).
        st.status = 'failed';
        st.lastError = {
          code: wrapped instanceof CloudmartError ? wrapped.code : 'AWS_ERROR',
          message: wrapped.message,
        };
      }
    });
    emit({ type: 'step-failed', id: t.id, action, error: wrapped, durationMs: 0 });
  }

  const failed = [
    ...[...result.outcomes].filter(([, o]) => o === 'failed').map(([id]) => id),
    ...settleFailed,
  ];
  const skipped = [...result.outcomes].filter(([, o]) => o === 'skipped').map(([id]) => id);
  const interrupted = signal.aborted;
  // Steps of a declined phase, and the steps that need them, were left out on purpose.
  const declined = new Set(skipped.filter((id) => result.reasons.get(id) === 'declined'));
  for (let grew = true; grew;) {
    grew = false;
    for (const id of skipped) {
      const blocker = /^(\S+) was skipped$/.exec(result.reasons.get(id) ?? '')?.[1];
      if (!declined.has(id) && blocker !== undefined && declined.has(blocker)) {
        declined.add(id);
        grew = true;
      }
    }
  }
  const ok = failed.length === 0 && skipped.every((id) => declined.has(id)) && !interrupted;
  await store.update((s) => {
    const r = s.runs[runIndex];
    if (r) {
      r.finishedAt = new Date().toISOString();
      r.outcome = interrupted ? 'interrupted' : ok ? 'succeeded' : 'failed';
    }
    // Keep the run log short.
    if (s.runs.length > 50) s.runs.splice(0, s.runs.length - 50);
  });
  emit({
    type: 'run-done',
    command,
    ok,
    failed,
    skipped,
    interrupted,
    durationMs: Date.now() - started,
  });
  void action;
  return { ok, failed, skipped, declined: [...declined], interrupted, errors, settling };
}

/**
 * What a step whose verify threw stands for: one `unknown` check per criterion it reports on
 * (one `other` check when it declares none), so the score loses those points with the reason.
 */
export function couldNotCheck(
  step: Pick<Step, 'id' | 'title' | 'criteria'>,
  error: Error,
): Check[] {
  const criteria = stepCriteria(step);
  const hint = error instanceof CloudmartError ? error.hint : undefined;
  const fix = hint ?? `fix the cause (see the evidence), then run "cloudmart verify" again`;
  if (criteria.length === 0) {
    return [
      {
        id: `${step.id}.verify`,
        title: `${step.title}: could not be checked`,
        criterion: 'other',
        status: 'unknown',
        evidence: error.message,
        fix,
      },
    ];
  }
  return criteria.map((criterion) => ({
    id: `${step.id}.verify.${criterion}`,
    title: `${step.title}: could not be checked (${criterion})`,
    criterion,
    status: 'unknown',
    evidence: error.message,
    fix,
  }));
}

export interface VerifyResult {
  checks: Array<Check & { step: string }>;
  errors: Map<string, Error>;
}

/** `verify`: every enabled step's read-only checks, concurrently; nothing is written to AWS or state. */
export async function runVerify(
  options: EngineOptions,
  selection: Selection = {},
): Promise<VerifyResult> {
  const steps = selectSteps(options.steps, options.config, selection);
  const checks: Array<Check & { step: string }> = [];
  const errors = new Map<string, Error>();
  await schedule(
    steps.map((s) => ({ id: s.id, after: [] })),
    {
      concurrency: options.concurrency ?? 8,
      signal: options.signal,
      run: async (id) => {
        const step = steps.find((s) => s.id === id)!;
        try {
          const result = await step.verify(makeContext(options, step));
          for (const c of result) checks.push({ ...c, step: id });
          options.emit({ type: 'checks', id, checks: result });
        } catch (e) {
          const error = toError(e, step, 'verify');
          errors.set(id, error);
          const unchecked = couldNotCheck(step, error);
          for (const c of unchecked) checks.push({ ...c, step: id });
          options.emit({ type: 'checks', id, checks: unchecked });
          if (
            error instanceof CloudmartError &&
            (error.code === 'CREDENTIALS' || error.code === 'ACCESS_DENIED')
          )
            throw error;
        }
      },
    },
  );
  const order = new Map(steps.map((s, i) => [s.id, i]));
  checks.sort((a, b) => order.get(a.step)! - order.get(b.step)!);
  return { checks, errors };
}
