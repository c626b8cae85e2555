import { runUp, selectSteps, type Selection } from '../../engine/engine.js';
import type { Phase, Step } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { announceTarget, checkCredentials, openSession, type GlobalOptions } from '../runtime.js';
import { printRunSummary } from './summary.js';

const DRILLS_STEP = 'validation.drills';

export interface UpOptions {
  phase?: number[];
  to?: number;
  step?: string[];
  yes?: boolean;
  drills?: boolean;
  concurrency: number;
  forceUnlock?: boolean;
  json?: boolean;
  acceptCost?: boolean;
}

const PHASE_NAMES: Record<Phase, string> = {
  1: 'Foundation: network, compute, data, edge',
  2: 'Monitoring: SNS, logs, dashboard, alarms',
  3: 'Backup: RDS backups and snapshot, S3 versioning, AWS Backup',
  4: 'Security: encryption, CloudTrail, VPC Flow Logs',
  5: 'Validation: load test and failure drills',
};

export function selectionFrom(opts: { phase?: number[]; to?: number; step?: string[] }): Selection {
  if (opts.phase && opts.to) {
    throw new CloudmartError('USAGE', 'Use either --phase or --to, not both', { exitCode: 2 });
  }
  const phases = opts.phase ?? (opts.to ? [1, 2, 3, 4, 5].filter((p) => p <= opts.to!) : undefined);
  return {
    ...(phases ? { phases: phases as Phase[] } : {}),
    ...(opts.step ? { stepIds: opts.step } : {}),
  };
}

/** `up`: validate → ask → execute. */
export async function upCommand(
  io: Io,
  opts: UpOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = { ...cmd.optsWithGlobals(), json: opts.json };
  const selection = selectionFrom(opts);
  // A drill never runs by surprise (see below): naming it without consent is a mistake to
  // report, not a selection that silently comes out empty.
  if (opts.yes && !opts.drills && opts.step?.includes(DRILLS_STEP)) {
    throw new CloudmartError(
      'USAGE',
      `--step ${DRILLS_STEP} names the failure drills, and under --yes they run only with --drills`,
      {
        exitCode: 2,
        hint: `Add --drills to run them (they terminate one instance and force an RDS failover), or run "cloudmart up --step ${DRILLS_STEP}" in a terminal to be asked.`,
      },
    );
  }
  if (!opts.yes && !io.interactive) {
    throw new CloudmartError(
      'USAGE',
      'up asks which phases to run, and there is no terminal to answer',
      {
        exitCode: 2,
        hint: 'Pass --yes to build without asking (CI), or run it in a terminal.',
      },
    );
  }
  const session = await openSession(io, g, 'up', {
    lock: true,
    forceUnlock: opts.forceUnlock ?? false,
  });
  try {
    // A drill never runs by surprise: only with --drills under --yes; in a terminal it is asked
    // right after Phase 5 itself (below).
    let drillsLeftOut = false;
    const drillsSelected = selectSteps(registry, session.config, selection).some(
      (s) => s.id === DRILLS_STEP,
    );
    if (drillsSelected && opts.yes && opts.drills !== true) {
      selection.excludeStepIds = [DRILLS_STEP];
      drillsLeftOut = true;
    }
    const selected = selectSteps(registry, session.config, selection);
    if (selected.length === 0) {
      io.err('Nothing to do: the selection names no enabled step.');
      return 0;
    }
    // Before any AWS call: a stack over the budget, or one cloudmart cannot price, is built
    // only when the user says so.
    const { budgetRefusal } = await import('./cost.js');
    const refusal = budgetRefusal(session.config, opts.acceptCost ?? false);
    if (selected.some((s) => s.phase === 1) && !opts.json) {
      for (const line of refusal.lines) io.err(line);
      if (!refusal.error)
        io.err('Remember: "cloudmart destroy" when you are done, so nothing keeps billing.\n');
    }
    if (refusal.error) throw refusal.error;
    announceTarget(io, session.aws, g);
    const account = await checkCredentials(session.aws);
    io.err(`Account ${account}; stack "${session.config.stack}"; ${selected.length} steps.`);

    // Ask for every phase before anything starts: phases overlap (a Phase 2 step starts as soon
    // as what it needs is ready), so a question in the middle of the run would interleave with
    // its progress. A declined phase is skipped with everything that needs it.
    let confirm: ((phase: Phase) => Promise<boolean>) | undefined;
    if (!opts.yes) {
      const answers = new Map<Phase, boolean>();
      for (const phase of [...new Set(selected.map((s) => s.phase))].sort()) {
        const steps: Step[] = selected.filter((s) => s.phase === phase);
        io.err(
          `\nPhase ${phase} — ${PHASE_NAMES[phase]} (${steps.length} steps: ${steps.map((s) => s.id).join(', ')})`,
        );
        answers.set(phase, await io.prompter.confirm(`Run Phase ${phase}?`, { default: true }));
        if (phase === 5 && drillsSelected && answers.get(5)) {
          const drills = await io.prompter.confirm(
            'Phase 5 can also run the failure drills: terminate one instance and force an RDS failover (the service should stay up). Run them?',
            { default: false },
          );
          if (!drills) {
            selection.excludeStepIds = [DRILLS_STEP];
            drillsLeftOut = true;
          }
        }
      }
      if (![...answers.values()].some(Boolean)) {
        io.err('Nothing to do: every phase was declined.');
        return 0;
      }
      confirm = (phase) => Promise.resolve(answers.get(phase) ?? false);
    }
    // With the drills, verify right after should find everything finished: wait (in parallel
    // with Phase 5) for what steps left settling, e.g. backup replication and the snapshot.
    const awaitSettling = selected.some((s) => s.id === DRILLS_STEP);
    const result = await runUp(
      { ...session.engine(opts.concurrency), awaitSettling },
      selection,
      confirm,
    );
    const code = printRunSummary(io, 'up', result, session.store.path);
    // Say what was left out, and what verify will withhold for it.
    if (drillsLeftOut && !result.interrupted)
      io.err(
        `\nThe failure drills were not run${opts.yes ? ' (--yes without --drills)' : ''}: verify withholds the 10 points of "Failure recovery test" until they are. Run them with: cloudmart drill instance && cloudmart drill rds-failover   (or: cloudmart up --phase 5 --drills --yes)`,
      );
    for (const line of endpoints(session.store.current.steps)) io.err(line);
    return code;
  } finally {
    await session.close();
  }
}

/** Where to look once it is up: the site, the API and the dashboard. */
export function endpoints(
  steps: Record<string, { status: string; outputs?: Record<string, unknown> } | undefined>,
): string[] {
  const out = (id: string, key: string): string | undefined => {
    const st = steps[id];
    const v = st?.status === 'done' ? st.outputs?.[key] : undefined;
    return typeof v === 'string' ? v : undefined;
  };
  const lines: string[] = [];
  const site = out('edge.dns', 'siteRecord') ?? out('edge.cdn', 'domainName');
  if (site) lines.push(`  Site:      https://${site}/`);
  const alb = out('app.alb', 'dnsName');
  if (alb) {
    const https = steps['app.alb']?.outputs?.httpsEnabled === true;
    const api = out('edge.dns', 'apiRecord') ?? alb;
    lines.push(`  API:       ${https ? 'https' : 'http'}://${api}/api/products`);
  }
  const dashboard = out('monitoring.dashboard', 'consoleUrl');
  if (dashboard) lines.push(`  Dashboard: ${dashboard}`);
  return lines.length ? ['', 'Endpoints:', ...lines] : [];
}
