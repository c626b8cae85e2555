import type { Config } from '../config/schema.js';
import { costSoFar, estimateCost, upSince, usd } from '../cost/estimate.js';
import type { Check } from '../engine/step.js';
import { performanceChecks, runCounts } from '../load/verdict.js';
import type { StateFile } from '../state/store.js';

type Figures = Record<string, unknown> & { at?: string };

/** The newest of several recorded results (by their `at` timestamp). */
function newest<T extends Figures>(...candidates: Array<T | undefined>): T | undefined {
  return candidates
    .filter((c): c is T => c !== undefined && c !== null && typeof c === 'object')
    .sort((a, b) => String(b.at ?? '').localeCompare(String(a.at ?? '')))[0];
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/** One recorded load-test run and where it was recorded. */
type LoadRun = Figures & { source: string };

/**
 * Every load-test run the state holds: the last `cloudmart load` and the last `up`
 * (validation.load), each with the last run at 1,000 users kept under `usersRun`.
 */
function loadRuns(state: StateFile): LoadRun[] {
  const runs: LoadRun[] = [];
  const add = (record: unknown, source: string) => {
    if (!record || typeof record !== 'object') return;
    const r = record as Figures;
    runs.push({ ...r, source });
    if (r.usersRun && typeof r.usersRun === 'object')
      runs.push({ ...(r.usersRun as Figures), source });
  };
  add(state.results.load, 'cloudmart load');
  add(state.steps['validation.load']?.outputs, 'up (validation.load)');
  return runs;
}

const measured = (r: Figures): boolean => runCounts(r).total > 0;
const connections = (r: Figures): number => runCounts(r).connections;
const which = (r: object): string => {
  const run = r as LoadRun;
  return `${run.source} run at ${String(run.at ?? '?')}`;
};

/**
 * The success criteria that come from recorded results rather than from a resource: the load
 * test (avg < 500 ms, P95 < 1 s, 1,000 concurrent users: the one rule of src/load/verdict.ts),
 * the drills (RTO < 5 min) and the cost estimate against the budget. "Not measured yet" is
 * `unknown`, never a pass. The latency criteria are judged on the newest run; the concurrency
 * criterion on the newest run at 1,000 connections or more, named in the evidence: a later
 * small run (every `up` repeats the seed's 100-connection test) does not hide it.
 */
export function resultChecks(state: StateFile, config: Config, now = Date.now()): Check[] {
  const runs = loadRuns(state).filter(measured);
  const latest = newest(...runs);
  const atScale = newest(...runs.filter((r) => connections(r) >= 1000));
  const checks: Check[] = performanceChecks(latest, atScale, which);

  const drillOutputs = state.steps['validation.drills']?.outputs as
    Record<string, Figures | undefined> | undefined;
  for (const [name, title] of [
    ['instance', 'Instance loss recovered (RTO < 5 min)'],
    ['rds-failover', 'RDS failover recovered (RTO < 5 min)'],
  ] as const) {
    const r = newest(state.results.drills?.[name], drillOutputs?.[name]);
    const rto = num(r?.rtoSeconds);
    let status: Check['status'];
    let evidence: string;
    if (!r) {
      status = 'unknown';
      evidence = 'drill not run yet';
    } else if (rto === undefined) {
      // The drill ran but never saw the recovery (it timed out, or the app never came back).
      status = 'fail';
      const waited = num(r.timedOutAfterSeconds);
      evidence =
        r.timedOut === true
          ? `no recovery: the drill gave up after ${waited === undefined ? '?' : `${waited.toFixed(0)} s`}, RTO not reached (${String(r.at ?? '')})`
          : `RTO not measured: no recovery seen (${String(r.at ?? '')})`;
    } else {
      status = rto < 300 ? 'pass' : 'fail';
      evidence = `RTO ${rto.toFixed(0)} s (${String(r.at ?? '')})`;
    }
    checks.push({
      id: `criteria.recovery.${name}`,
      title,
      criterion: 'failure-recovery',
      status,
      evidence,
      fix: `cloudmart drill ${name}`,
    });
  }

  // The budget as AWS bills it: for the time the stack has been up (from the state), only what
  // exists; before anything is built, the estimate for the configured window.
  const since = upSince(state.steps);
  if (since) {
    const hours = Math.max(0, (now - Date.parse(since)) / 3_600_000);
    const estimate = estimateCost(config, hours);
    const soFar = costSoFar(
      estimate,
      (id) => state.steps[id]?.status === 'done',
      config.budget.hours,
    );
    const unpriced = estimate.unpriced.filter((r) => soFar.lines.some((l) => l.resource === r));
    checks.push({
      id: 'criteria.cost.budget',
      title: `Cost so far within the ${usd(config.budget.usd)} budget`,
      criterion: 'cost',
      status: soFar.usd > config.budget.usd ? 'fail' : unpriced.length ? 'warn' : 'pass',
      evidence: `about ${usd(soFar.usd)} for ${Math.round(hours * 60)} min up so far (since ${since}; NAT gateway and load balancer hours billed per started hour)${unpriced.length ? `; unpriced: ${unpriced.join(', ')}` : ''}`,
      fix: 'cloudmart destroy when you are done, so nothing keeps billing',
    });
  } else {
    const estimate = estimateCost(config);
    checks.push({
      id: 'criteria.cost.budget',
      title: `Estimated cost within the ${usd(config.budget.usd)} budget`,
      criterion: 'cost',
      status: estimate.withinBudget ? (estimate.unpriced.length ? 'warn' : 'pass') : 'fail',
      evidence: `nothing built yet: ${usd(estimate.total)} estimated for the configured ${Math.round(estimate.hours * 60)} min (${usd(estimate.totalPerHour)}/hour)${estimate.unpriced.length ? `; unpriced: ${estimate.unpriced.join(', ')}` : ''}`,
      fix: 'cloudmart cost',
    });
  }
  return checks;
}
