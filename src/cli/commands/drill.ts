import type { Outputs } from '../../engine/step.js';
import { realSleep } from '../../sleep.js';
import { CloudmartError } from '../../errors.js';
import type { DrillContext, DrillName, Probe } from '../../drills/context.js';
import type { DrillResult } from '../../drills/index.js';
import type { ProbeSummary } from '../../drills/observe.js';
import type { Io } from '../io.js';
import {
  announceTarget,
  awsFactory,
  checkCredentials,
  readConfig,
  openStore,
  type GlobalOptions,
} from '../runtime.js';

export interface DrillCommandOptions {
  dryRun?: boolean;
  yes?: boolean;
  instanceId?: string;
  json?: boolean;
  /** Take the state lock even if another run seems to hold it. */
  forceUnlock?: boolean;
}

const NAMES: readonly DrillName[] = ['instance', 'rds-failover', 'az'];

const WHAT: Record<DrillName, string> = {
  instance: 'terminates one instance of the Auto Scaling group with EC2 TerminateInstances',
  'rds-failover': 'forces a Multi-AZ failover of the RDS instance (a short database outage)',
  az: 'SIMULATES the loss of one AZ by taking its targets out of the load balancer, then restores them',
};

/**
 * Ctrl-C once: stop the drill (it restores what it changed). While the AZ simulation restores,
 * further Ctrl-C are refused once with a warning; only a third one quits.
 */
function interrupts(io: Io, onForce: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      io.err('\nStopping the drill: putting back what it changed (Ctrl-C twice more to quit now).');
      controller.abort();
    } else if (count === 2) {
      io.err('Still restoring; quitting now can leave the stack changed. Ctrl-C again to quit.');
    } else {
      onForce();
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const s = (v: number | null) => (v === null ? '—' : `${v} s`);

function probeLine(p: ProbeSummary | null): string {
  if (!p) return 'no probe';
  return `${p.failed} of ${p.sent} request(s) failed (${p.perSecond}/s to ${p.url})${p.failed > 0 ? `; outage ${p.outageSeconds} s, last error ${p.lastError}` : ''}`;
}

const TAKEN_OUT: Record<string, string> = {
  unhealthy: 'marked unhealthy: its health checks failed',
  unused: 'marked unused: it saw the instance terminated',
  draining: 'draining: the Auto Scaling group deregistered it',
  deregistered: 'already out of the target group when looked at',
};

function figureLines(r: DrillResult): string[] {
  switch (r.drill) {
    case 'instance':
      return [
        `Terminated          ${r.instanceId} (${r.availabilityZone}) of ${r.autoScalingGroupName}`,
        `ALB took it out     after ${s(r.unhealthyAfterSeconds)}${r.takenOutAs ? ` (${TAKEN_OUT[r.takenOutAs] ?? r.takenOutAs})` : ''}`,
        `Replacement         ${r.replacementId ?? '—'} (${r.replacementAvailabilityZone ?? '—'}): InService after ${s(r.replacementInServiceAfterSeconds)}, healthy after ${s(r.replacementHealthyAfterSeconds)}`,
        `Background load     ${probeLine(r.probe)}`,
        `RTO                 ${s(r.rtoSeconds)} (the outage the background load saw; the replacement's time is beside it)`,
      ];
    case 'rds-failover':
      return [
        `Database            ${r.dbInstanceIdentifier}`,
        `Primary AZ          ${r.primaryAzBefore} → ${r.primaryAzAfter ?? '?'}${r.failedOver === false ? ' (did not move!)' : ''}`,
        `Available again     after ${s(r.availableAfterSeconds)}`,
        `App (/health)       outage ${s(r.appOutageSeconds)}, answering again after ${s(r.appRecoveredAfterSeconds)}; ${probeLine(r.probe)}`,
        `RTO                 ${s(r.rtoSeconds)} (the outage /health saw; RDS's own "available again" is beside it)`,
        `RPO                 ${s(r.rpoSeconds)}: ${r.rpoEvidence}`,
        `Backups             latest restorable time ${r.latestRestorableTime ?? '—'}, ${s(r.restorableLagSeconds)} behind (${r.restorableLagStatus ?? 'not read'})`,
      ];
    case 'az':
      return [
        `SIMULATION of       losing ${r.availabilityZone}: ${r.targetsRemoved.join(', ')} taken out; ${r.processesPaused.join(', ') || 'no process'} paused`,
        `Drained after       ${s(r.drainedAfterSeconds)}; fewest healthy targets left ${r.minHealthyRemaining ?? '—'}`,
        `Service             ${r.serviceStayedUp ? 'stayed up' : 'was interrupted'}: ${probeLine(r.probe)}`,
        `Restored            ${r.restored ? 'yes' : 'NO'}; targets healthy again after ${s(r.restoredHealthyAfterSeconds)}`,
      ];
  }
}

/** `drill instance|rds-failover|az`: validate → ask → execute → record. */
export async function drillCommand(
  io: Io,
  name: string,
  opts: DrillCommandOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  if (!NAMES.includes(name as DrillName)) {
    throw new CloudmartError('USAGE', `Unknown drill "${name}"`, {
      exitCode: 2,
      hint: `Choose one of: ${NAMES.join(', ')}.`,
    });
  }
  const drill = name as DrillName;
  if (opts.instanceId && drill !== 'instance') {
    throw new CloudmartError('USAGE', '--instance-id only applies to the instance drill', {
      exitCode: 2,
    });
  }
  if (!opts.dryRun && !opts.yes && !io.interactive) {
    throw new CloudmartError(
      'USAGE',
      `The ${drill} drill asks for confirmation, and there is no terminal to answer`,
      {
        exitCode: 2,
        hint: `Pass --yes to run it without asking, or --dry-run to only see what it would do.`,
      },
    );
  }

  const config = await readConfig(g);
  const store = openStore(g, config, io);
  if (!(await store.exists())) {
    throw new CloudmartError(
      'NOT_READY',
      `There is no state file (${store.path}): no stack to drill`,
      {
        exitCode: 2,
        hint: 'Build the stack first: cloudmart up --phase 1',
      },
    );
  }
  await store.load(config.stack, config.region);
  // Quitting at once must not leave the lock behind (an async unlock would never run).
  const interrupt = interrupts(io, () => store.unlockSync());
  const aws = awsFactory(g, config, interrupt.signal);
  try {
    if (!opts.json) announceTarget(io, aws, g);
    await checkCredentials(aws);
    const { httpProbe, httpMarker } = await import('../../drills/context.js');
    const { runDrill, drillVerdict, drillRecord, isDrillTimeout } =
      await import('../../drills/index.js');
    const context = (probe: Probe): DrillContext => ({
      config,
      aws,
      outputs: <T extends Outputs>(id: string) => {
        const st = store.current.steps[id];
        return st?.status === 'done' ? (st.outputs as T | undefined) : undefined;
      },
      progress: (m) => io.err(`  ${m}`),
      signal: interrupt.signal,
      sleep: (ms) => realSleep(ms, interrupt.signal),
      now: Date.now,
      probe,
      marker: httpMarker,
    });
    const options = opts.instanceId ? { instanceId: opts.instanceId } : {};

    // Validate against the live stack and show the plan before anything is changed.
    const preview = await runDrill(drill, context(httpProbe), { ...options, dryRun: true });
    if (opts.dryRun) {
      if (opts.json) io.out(JSON.stringify(preview, null, 2));
      else {
        io.out(`Drill ${drill} (dry run: nothing is changed). It would:`);
        preview.plan.forEach((line, i) => io.out(`  ${i + 1}. ${line}`));
      }
      return 0;
    }
    if (!opts.json) {
      io.err(`\nThe ${drill} drill ${WHAT[drill]}:`);
      preview.plan.forEach((line, i) => io.err(`  ${i + 1}. ${line}`));
    }
    if (!opts.yes) {
      const ok = await io.prompter.confirm(
        `Run the ${drill} drill on stack "${config.stack}" in ${config.region} now?`,
        { default: false },
      );
      if (!ok) {
        io.err('Not confirmed: nothing was changed.');
        return 1;
      }
    }

    // One drill at a time, and never during up or destroy.
    await store.lock(`drill ${drill}`, {
      force: opts.forceUnlock ?? false,
      onStale: (info) =>
        io.err(`! Taking over a stale lock of "${info.command}" (pid ${info.pid} is not running).`),
    });
    try {
      await store.load(config.stack, config.region);
      let result: DrillResult;
      let timeout: Error | undefined;
      try {
        result = await runDrill(drill, context(httpProbe), options);
      } catch (e) {
        // Gave up waiting for the recovery: still a drill that ran, recorded as failed.
        if (!isDrillTimeout(e)) throw e;
        timeout = e;
        result = e.result;
      }
      const verdict = drillVerdict(result);
      await store.update((st) => {
        st.results.drills ??= {};
        st.results.drills[drill] = drillRecord(result);
      });
      if (opts.json) {
        io.out(JSON.stringify({ ...result, verdict }, null, 2));
      } else {
        io.out(`Drill ${drill}${drill === 'az' ? ' (simulation)' : ''} at ${result.at}`);
        for (const line of figureLines(result)) io.out(`  ${line}`);
        io.out('');
        io.out(
          `${verdict.rtoOk ? '✔' : '✖'} RTO < 5 min: ${result.rtoSeconds === null ? (result.timedOut ? `not reached: gave up after ${result.timedOutAfterSeconds ?? '?'} s` : 'not measured') : `${result.rtoSeconds} s`}`,
        );
        for (const f of verdict.findings.slice(1)) io.out(`  ${f}`);
        io.err(`Recorded in ${store.path}; "cloudmart verify" reads it.`);
      }
      if (timeout) throw timeout;
      return verdict.rtoOk ? 0 : 1;
    } finally {
      await store.unlock();
    }
  } finally {
    interrupt.dispose();
    await aws.destroy();
  }
}
