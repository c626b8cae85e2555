import { isEnabled } from '../../engine/engine.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { emptyState, type StateFile } from '../../state/store.js';
import { openStore, readConfig, type GlobalOptions } from '../runtime.js';

const PHASE_NAMES: Record<number, string> = {
  1: 'Foundation',
  2: 'Monitoring',
  3: 'Backup',
  4: 'Security',
  5: 'Validation',
};

/** `plan`: what `up` would do, from the config and the state (if any). Offline with a local state. */
export async function planCommand(
  io: Io,
  opts: { json?: boolean; acceptCost?: boolean },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  const config = await readConfig(g, io);
  const store = openStore(g, config, io);
  // A state in S3 is read with the caller's credentials: without them (or offline) the plan is
  // still shown, as if no step were done, and says so.
  const remote = store.path.startsWith('s3://');
  let state: StateFile;
  try {
    state = await store.load(config.stack, config.region);
  } catch (e) {
    if (!remote) throw e;
    io.err(
      `! Could not read the state at ${store.path} (${(e as Error).name}: ${(e as Error).message}): the plan shows every step as not done yet.`,
    );
    state = emptyState(config.stack, config.region);
  }

  const steps = registry.map((s) => {
    const enabled = isEnabled(s, config);
    const status = state.steps[s.id]?.status;
    return {
      id: s.id,
      phase: s.phase,
      title: s.title,
      needs: s.needs,
      enabled,
      action: !enabled ? 'skip' : status === 'done' ? 'check' : 'create',
      creates: enabled ? s.describe(config) : [],
      // What up checks in the account before anything bills (plan itself sends nothing).
      checks: enabled && status !== 'done' ? (s.preflightChecks?.(config) ?? []) : [],
    };
  });

  if (opts.json) {
    const { budgetRefusal } = await import('./cost.js');
    const refusal = budgetRefusal(config, opts.acceptCost ?? false);
    io.out(JSON.stringify({ stack: config.stack, region: config.region, steps }, null, 2));
    if (refusal.error) throw refusal.error;
    return 0;
  }
  io.out(
    `Plan for stack "${config.stack}" in ${config.region} (AZs ${config.availabilityZones.join(', ')})`,
  );
  for (const phase of [1, 2, 3, 4, 5]) {
    const inPhase = steps.filter((s) => s.phase === phase);
    if (inPhase.length === 0) continue;
    io.out(`\nPhase ${phase}: ${PHASE_NAMES[phase]}`);
    for (const s of inPhase) {
      const tag =
        s.action === 'skip'
          ? '(skipped by config)'
          : s.action === 'check'
            ? '(done: will be checked)'
            : '';
      io.out(
        `  ${s.action === 'skip' ? '-' : s.action === 'check' ? '=' : '+'} ${s.id}  ${s.title} ${tag}`.trimEnd(),
      );
      for (const line of s.creates) io.out(`      ${line}`);
    }
  }
  const checks = steps.flatMap((s) => s.checks);
  if (checks.length > 0) {
    io.out(
      `\nBefore anything bills, up checks the account (plan sends nothing to AWS${remote ? ' but the read of its state in S3' : ''}):`,
    );
    for (const line of checks) io.out(`  - ${line}`);
  }
  const creates = steps.filter((s) => s.action === 'create').length;
  io.out(
    `\n${creates} step${creates === 1 ? '' : 's'} to run, ${steps.filter((s) => s.action === 'check').length} already done.`,
  );
  // What up would refuse, plan refuses too (exit 2): over the budget, or not priced.
  const { budgetRefusal } = await import('./cost.js');
  const refusal = budgetRefusal(config, opts.acceptCost ?? false);
  for (const line of refusal.lines) io.out(line);
  if (refusal.error) throw refusal.error;
  io.out(
    `Next: cloudmart up${opts.acceptCost ? ' --accept-cost' : ''}   (asks which phases to run, all before it starts; --yes to skip the questions)`,
  );
  return 0;
}
