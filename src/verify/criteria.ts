import type { Config } from '../config/schema.js';
import { estimateCost, usd } from '../cost/estimate.js';
import type { Check } from '../engine/step.js';
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

const measured = (r: Figures): boolean => (num(r.requests) ?? 0) > 0;
const connections = (r: Figures): number => Math.max(num(r.concurrency) ?? 0, num(r.users) ?? 0);
const which = (r: LoadRun): string => `${r.source} run at ${String(r.at ?? '?')}`;

/**
 * The success criteria that come from recorded results rather than from a resource: the load
 * test (avg < 500 ms, P95 < 1 s, 1,000 concurrent users), the drills (RTO < 5 min) and the
 * cost estimate against the budget. "Not measured yet" is `unknown`, never a pass. Each
 * criterion is judged on the newest run that measured it, named in the evidence: a later
 * small run (every `up` repeats the seed's 100-connection test) does not hide the last run at
 * 1,000 users.
 */
export function resultChecks(state: StateFile, config: Config): Check[] {
  const checks: Check[] = [];
  const runs = loadRuns(state).filter(measured);
  const notMeasured = 'not measured yet';
  const avgRun = newest(...runs.filter((r) => num(r.average) !== undefined));
  const avg = num(avgRun?.average);
  checks.push({
    id: 'criteria.performance.average',
    title: 'Average response time < 500 ms',
    criterion: 'performance',
    status: avg === undefined ? 'unknown' : avg < 500 ? 'pass' : 'fail',
    evidence:
      avg === undefined || !avgRun
        ? notMeasured
        : `${avg.toFixed(1)} ms over ${num(avgRun.requests) ?? '?'} requests at ${connections(avgRun)} concurrent (${which(avgRun)})`,
    fix: 'cloudmart load',
  });
  const p95Run = newest(...runs.filter((r) => num(r.p95) !== undefined));
  const p95 = num(p95Run?.p95);
  checks.push({
    id: 'criteria.performance.p95',
    title: 'P95 response time < 1 s',
    criterion: 'performance',
    status: p95 === undefined ? 'unknown' : p95 < 1000 ? 'pass' : 'fail',
    evidence:
      p95 === undefined || !p95Run ? notMeasured : `P95 ${p95.toFixed(1)} ms (${which(p95Run)})`,
    fix: 'cloudmart load',
  });
  // The concurrency criterion: the newest run at 1,000 connections or more, whichever record
  // keeps it.
  const atScale = newest(...runs.filter((r) => connections(r) >= 1000));
  const latest = newest(...runs);
  let concurrency: Pick<Check, 'status' | 'evidence'>;
  if (atScale) {
    const requests = num(atScale.requests) ?? 0;
    const errors = (num(atScale.errors) ?? 0) + (num(atScale.non2xx) ?? 0);
    concurrency = {
      status: errors <= requests * 0.01 ? 'pass' : 'fail',
      evidence: `${connections(atScale)} connections, ${errors} errors or non-2xx of ${requests} requests (${which(atScale)})`,
    };
  } else {
    concurrency = {
      status: 'unknown',
      evidence: latest
        ? `measured at ${connections(latest)} concurrent connections only (${which(latest)})`
        : notMeasured,
    };
  }
  checks.push({
    id: 'criteria.performance.concurrency',
    title: '1,000 concurrent users served',
    criterion: 'performance',
    ...concurrency,
    fix: 'cloudmart load --users 1000',
  });

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

  const estimate = estimateCost(config);
  checks.push({
    id: 'criteria.cost.budget',
    title: `Estimated cost within the ${usd(config.budget.usd)} budget`,
    criterion: 'cost',
    status: estimate.withinBudget ? (estimate.unpriced.length ? 'warn' : 'pass') : 'fail',
    evidence: `${usd(estimate.total)} for ${Math.round(estimate.hours * 60)} min (${usd(estimate.totalPerHour)}/hour)${estimate.unpriced.length ? `; unpriced: ${estimate.unpriced.join(', ')}` : ''}`,
    fix: 'cloudmart cost',
  });
  return checks;
}
