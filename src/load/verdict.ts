import type { Check } from '../engine/step.js';

/**
 * The one rule for the seed's load criteria, shared by `cloudmart load`, the Phase 5 step
 * (`validation.load`) and `verify`:
 * - a latency verdict (average < 500 ms, P95 < 1 s) passes only when errors, timeouts and
 *   non-2xx responses together are at most 1 % of the requests (a fast 503 is not a fast shop);
 * - a run with no successful (2xx) response fails every verdict, and says why;
 * - "1,000 concurrent users served" needs a run at 1,000 connections or more that passes both
 *   latency verdicts under the same 1 % rule.
 * Latencies count every response and every timeout at the timeout (src/load/load-test.ts).
 */
export const LOAD_CRITERIA = { averageMs: 500, p95Ms: 1000, users: 1000, maxFailedShare: 0.01 };

/** A recorded run as the state keeps it (older records lack `responses`, `ok`, `timeouts`). */
export type RunFigures = object;

const num = (r: RunFigures | undefined, key: string): number | undefined => {
  const v = (r as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

export interface RunCounts {
  /** Requests that finished: responses + errors. */
  total: number;
  responses: number;
  ok: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** errors + non2xx */
  failed: number;
  connections: number;
}

/** The counts of a run, from a fresh result or an older record (`requests` = responses then). */
export function runCounts(r: RunFigures): RunCounts {
  const responses = num(r, 'responses') ?? num(r, 'requests') ?? 0;
  const errors = num(r, 'errors') ?? 0;
  const non2xx = num(r, 'non2xx') ?? 0;
  return {
    total: responses + errors,
    responses,
    ok: num(r, 'ok') ?? Math.max(0, responses - non2xx),
    errors,
    timeouts: num(r, 'timeouts') ?? 0,
    non2xx,
    failed: errors + non2xx,
    connections: Math.max(num(r, 'concurrency') ?? 0, num(r, 'users') ?? 0),
  };
}

export type VerdictStatus = 'pass' | 'fail' | 'unknown';
export interface Verdict {
  status: VerdictStatus;
  /** Why, in a few words ("P95 812 ms", "no successful response: 1000 × 503"). */
  reason: string;
}
export interface LoadJudgement {
  average: Verdict;
  p95: Verdict;
  /** The 1,000-users criterion, judged on this run (unknown below 1,000 connections). */
  users: Verdict;
  counts: RunCounts;
}

const pct = (share: number) => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)} %`;

function codes(r: RunFigures): string {
  const list = (key: string) =>
    Object.entries(
      ((r as Record<string, unknown>)[key] as Record<string, number> | undefined) ?? {},
    ).map(([code, n]) => `${n} × ${code}`);
  return [...list('statusCodes'), ...list('errorCodes')].join(', ');
}

/** Judge one run against the seed's load criteria. */
export function judgeLoad(r: RunFigures): LoadJudgement {
  const c = runCounts(r);
  if (c.total === 0) {
    const none: Verdict = { status: 'unknown', reason: 'not measured yet' };
    return { average: none, p95: none, users: none, counts: c };
  }
  let blocked: string | undefined;
  if (c.ok === 0) {
    const detail = codes(r);
    blocked = `no successful response: ${c.failed} of ${c.total} requests failed${c.timeouts ? ` (${c.timeouts} timeouts)` : ''}${detail ? `; ${detail}` : ''}`;
  } else if (c.failed > c.total * LOAD_CRITERIA.maxFailedShare) {
    blocked = `${pct(c.failed / c.total)} of requests failed or were not 2xx (${c.errors} errors, ${c.timeouts} of them timeouts, ${c.non2xx} non-2xx of ${c.total}; at most 1 % allowed)`;
  }
  const latency = (value: number | undefined, limit: number, label: string): Verdict => {
    if (blocked) return { status: 'fail', reason: blocked };
    if (value === undefined) return { status: 'unknown', reason: `${label} not recorded` };
    return {
      status: value < limit ? 'pass' : 'fail',
      reason: `${label} ${value} ms${value < limit ? '' : ` (limit ${limit} ms)`} over ${c.total} requests at ${c.connections} concurrent`,
    };
  };
  const average = latency(num(r, 'average'), LOAD_CRITERIA.averageMs, 'average');
  const p95 = latency(num(r, 'p95'), LOAD_CRITERIA.p95Ms, 'P95');
  let users: Verdict;
  if (c.connections < LOAD_CRITERIA.users) {
    users = {
      status: 'unknown',
      reason: `measured at ${c.connections} concurrent connections only`,
    };
  } else if (average.status === 'fail' || p95.status === 'fail') {
    users = {
      status: 'fail',
      reason: `${c.connections} connections: ${average.status === 'fail' ? average.reason : p95.reason}`,
    };
  } else {
    users = {
      status: average.status === 'pass' && p95.status === 'pass' ? 'pass' : 'unknown',
      reason: `${c.connections} connections, ${c.failed} errors or non-2xx of ${c.total} requests; average ${String(num(r, 'average') ?? '?')} ms, P95 ${String(num(r, 'p95') ?? '?')} ms`,
    };
  }
  return { average, p95, users, counts: c };
}

/**
 * The three performance checks of verify: average and P95 judged on the newest run, the
 * 1,000-users criterion on the newest run at 1,000 connections or more. `describe` names a run
 * in the evidence ("cloudmart load run at …").
 */
export function performanceChecks(
  newest: RunFigures | undefined,
  atScale: RunFigures | undefined,
  describe: (r: RunFigures) => string,
  fix = 'cloudmart load',
): Check[] {
  const check = (
    id: string,
    title: string,
    v: Verdict,
    run: RunFigures | undefined,
    fixWith: string,
  ): Check => ({
    id,
    title,
    criterion: 'performance',
    status: v.status,
    evidence: run ? `${v.reason} (${describe(run)})` : v.reason,
    fix: fixWith,
  });
  const notMeasured: LoadJudgement = judgeLoad({});
  const latest = newest ? judgeLoad(newest) : notMeasured;
  const usersFix = `cloudmart load --users ${LOAD_CRITERIA.users}`;
  const scale = atScale ? judgeLoad(atScale) : undefined;
  const users: Verdict =
    scale?.users ??
    (newest && latest.counts.total > 0
      ? {
          status: 'unknown',
          reason: `measured at ${latest.counts.connections} concurrent connections only`,
        }
      : { status: 'unknown', reason: 'not measured yet' });
  return [
    check(
      'criteria.performance.average',
      'Average response time < 500 ms',
      latest.average,
      newest,
      fix,
    ),
    check('criteria.performance.p95', 'P95 response time < 1 s', latest.p95, newest, fix),
    check(
      'criteria.performance.concurrency',
      '1,000 concurrent users served',
      users,
      atScale ?? newest,
      usersFix,
    ),
  ];
}
