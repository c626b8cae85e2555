import { formatDuration } from '../../aws/wait.js';
import { isEnabled } from '../../engine/engine.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import type { SubscriptionStatus } from '../../steps/phase2-monitoring/alerts-topic.js';
import { awsFactory, openStore, readConfig, type GlobalOptions } from '../runtime.js';

/** `status`: the state file as a table (no AWS calls). */
export async function statusCommand(
  io: Io,
  opts: { json?: boolean; offline?: boolean },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  const config = await readConfig(g);
  const store = openStore(g, config, io);
  const exists = await store.exists();
  const state = await store.load(config.stack, config.region);
  const rows = registry.map((s) => {
    const st = state.steps[s.id];
    const duration =
      st?.startedAt && st.finishedAt
        ? Date.parse(st.finishedAt) - Date.parse(st.startedAt)
        : undefined;
    return {
      id: s.id,
      phase: s.phase,
      title: s.title,
      enabled: isEnabled(s, config),
      status: st?.status ?? 'pending',
      startedAt: st?.startedAt,
      finishedAt: st?.finishedAt,
      durationMs: duration,
      attempts: st?.attempts ?? 0,
      lastError: st?.lastError,
    };
  });
  const { costSoFar: soFarOf, estimateCost, upSince, usd } = await import('../../cost/estimate.js');
  const firstCreate = upSince(state.steps);
  const liveHours = firstCreate ? (Date.now() - Date.parse(firstCreate)) / 3_600_000 : 0;
  // Only what exists bills: the lines whose steps are done, for the time up so far (NAT and
  // ALB per started hour); usage items count in proportion to the window that has passed.
  const costSoFar = firstCreate
    ? soFarOf(
        estimateCost(config, liveHours),
        (id) => state.steps[id]?.status === 'done',
        config.budget.hours,
      ).usd
    : 0;
  const alerts =
    opts.offline || state.steps['monitoring.sns']?.status !== 'done'
      ? undefined
      : await alertSubscriptions(config, g);
  const summary = {
    stack: config.stack,
    region: config.region,
    stateFile: store.path,
    stateExists: exists,
    upSince: firstCreate ?? null,
    estimatedCostSoFarUsd: costSoFar,
    lastRun: state.runs.at(-1) ?? null,
    runs: state.runs,
    steps: rows,
    results: state.results,
    alertSubscriptions: alerts ?? null,
  };
  if (opts.json) {
    io.out(JSON.stringify(summary, null, 2));
    return 0;
  }
  if (!exists) {
    io.out(
      `No state for stack "${config.stack}" yet (${store.path}). Next: cloudmart plan, then cloudmart up`,
    );
    return 0;
  }
  io.out(`Stack "${config.stack}" in ${config.region} — state ${store.path}`);
  // The last few runs, with who ran them: a shared state shows every teammate's.
  const recent = state.runs.slice(-5);
  if (recent.length > 0) {
    io.out(
      `Runs (${recent.length === state.runs.length ? 'all' : `last ${recent.length} of ${state.runs.length}`}):`,
    );
    for (const r of recent) {
      const who = r.host ? ` by ${r.user ? `${r.user} on ` : ''}${r.host}` : '';
      io.out(`  ${r.command} ${r.outcome ?? 'did not finish'} (${r.startedAt}${who})`);
    }
  }
  const results = [
    ...(state.results.load ? [`load test ${state.results.load.at}`] : []),
    ...Object.entries(state.results.drills ?? {}).map(([name, d]) => `drill ${name} ${d.at}`),
  ];
  if (results.length > 0) io.out(`Recorded results: ${results.join(', ')}`);
  if (firstCreate) {
    io.out(
      `Up since ${firstCreate} (${formatDuration(Date.now() - Date.parse(firstCreate))}): about ${usd(costSoFar)} so far by the "cloudmart cost" estimate (budget ${usd(config.budget.usd)})`,
    );
  }
  io.out('');
  const width = Math.max(...rows.map((r) => r.id.length));
  for (const r of rows) {
    const status = r.enabled ? r.status : 'disabled';
    const time = r.durationMs !== undefined ? formatDuration(r.durationMs) : '';
    io.out(
      `  ${r.id.padEnd(width)}  P${r.phase}  ${status.padEnd(11)} ${time.padStart(7)}${r.lastError && r.status !== 'done' ? `  ${r.lastError.message.split('\n')[0]}` : ''}`,
    );
  }
  if (alerts && 'error' in alerts)
    io.out(`\nAlert subscriptions: could not be checked (${alerts.error})`);
  else if (alerts) {
    io.out('');
    for (const a of alerts) {
      const note =
        a.status === 'pending'
          ? ' — waiting for confirmation: open the email from AWS Notifications and click "Confirm subscription"'
          : a.status === 'missing'
            ? ' — missing: run cloudmart up --phase 2'
            : '';
      io.out(`Alerts ${a.protocol} ${a.endpoint}: ${a.status}${note}`);
    }
  }
  const failed = rows.filter((r) => r.status === 'failed' || r.status === 'in_progress');
  io.out('');
  if (failed.length > 0)
    io.out(
      `Next: cloudmart up   (resumes ${failed.length} unfinished step${failed.length === 1 ? '' : 's'})`,
    );
  else if (rows.some((r) => r.status === 'done')) io.out('Next: cloudmart verify');
  else io.out('Next: cloudmart up');
  return 0;
}

/** Best effort: whether the alert email/SMS subscriptions are confirmed (never fails `status`). */
async function alertSubscriptions(
  config: Awaited<ReturnType<typeof readConfig>>,
  g: GlobalOptions,
): Promise<SubscriptionStatus[] | { error: string }> {
  const aws = awsFactory(g, config);
  try {
    const { subscriptionStatus } = await import('../../steps/phase2-monitoring/alerts-topic.js');
    return await Promise.race([
      subscriptionStatus({ config, aws }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref(),
      ),
    ]);
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] ?? 'unknown error' };
  } finally {
    await aws.destroy();
  }
}
