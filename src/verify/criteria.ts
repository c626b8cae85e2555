import type { Config } from '../config/schema.js';
import { estimateCost, usd } from '../cost/estimate.js';
import type { Check } from '../engine/step.js';
import type { StateFile } from '../state/store.js';

type Figures = Record<string, unknown> & { at?: string };

/** The newest of several recorded results (by their `at` timestamp). */
function newest(...candidates: Array<Figures | undefined>): Figures | undefined {
  return candidates
    .filter((c): c is Figures => c !== undefined && typeof c === 'object')
    .sort((a, b) => String(b.at ?? '').localeCompare(String(a.at ?? '')))[0];
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/**
 * The success criteria that come from recorded results rather than from a resource: the load
 * test (avg < 500 ms, P95 < 1 s, 1,000 concurrent users), the drills (RTO < 5 min) and the
 * cost estimate against the budget. "Not measured yet" is `unknown`, never a pass.
 */
export function resultChecks(state: StateFile, config: Config): Check[] {
  const checks: Check[] = [];
  const load = newest(state.results.load, state.steps['validation.load']?.outputs);
  const avg = num(load?.average);
  const p95 = num(load?.p95);
  const notMeasured = 'not measured yet';
  checks.push({
    id: 'criteria.performance.average',
    title: 'Average response time < 500 ms',
    criterion: 'performance',
    status: avg === undefined ? 'unknown' : avg < 500 ? 'pass' : 'fail',
    evidence:
      avg === undefined
        ? notMeasured
        : `${avg.toFixed(1)} ms over ${num(load?.requests) ?? '?'} requests (${String(load?.at ?? '')})`,
    fix: 'cloudmart load',
  });
  checks.push({
    id: 'criteria.performance.p95',
    title: 'P95 response time < 1 s',
    criterion: 'performance',
    status: p95 === undefined ? 'unknown' : p95 < 1000 ? 'pass' : 'fail',
    evidence: p95 === undefined ? notMeasured : `P95 ${p95.toFixed(1)} ms`,
    fix: 'cloudmart load',
  });
  // The concurrency criterion is judged on the last run at scale, which a later small run keeps
  // under `usersRun`.
  const atScale =
    (num(load?.concurrency) ?? 0) >= 1000 ? load : (load?.usersRun as Figures | undefined);
  const users = Math.max(
    num(atScale?.concurrency) ?? 0,
    num(atScale?.users) ?? 0,
    num(load?.concurrency) ?? 0,
  );
  const requests = num(atScale?.requests) ?? 0;
  const errors = (num(atScale?.errors) ?? 0) + (num(atScale?.non2xx) ?? 0);
  checks.push({
    id: 'criteria.performance.concurrency',
    title: '1,000 concurrent users served',
    criterion: 'performance',
    status:
      load === undefined || users < 1000 ? 'unknown' : errors <= requests * 0.01 ? 'pass' : 'fail',
    evidence:
      load === undefined
        ? notMeasured
        : users < 1000
          ? `measured at ${users} concurrent connections only`
          : `${users} connections, ${errors} errors or non-2xx of ${requests} requests`,
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
    checks.push({
      id: `criteria.recovery.${name}`,
      title,
      criterion: 'failure-recovery',
      status: rto === undefined ? 'unknown' : rto < 300 ? 'pass' : 'fail',
      evidence:
        rto === undefined
          ? 'drill not run yet'
          : `RTO ${rto.toFixed(0)} s (${String(r?.at ?? '')})`,
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
