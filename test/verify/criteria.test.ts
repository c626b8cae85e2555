import { describe, expect, it } from 'vitest';
import { emptyState } from '../../src/state/store.js';
import { resultChecks } from '../../src/verify/criteria.js';
import { testConfig } from '../helpers/context.js';

const byId = (checks: ReturnType<typeof resultChecks>) =>
  Object.fromEntries(checks.map((c) => [c.id, c]));

describe('result criteria', () => {
  it('says "not measured yet" (unknown, never pass) before any load test or drill', () => {
    const c = byId(resultChecks(emptyState('cloudmart', 'ap-northeast-2'), testConfig()));
    expect(c['criteria.performance.average']).toMatchObject({
      status: 'unknown',
      evidence: 'not measured yet',
      fix: 'cloudmart load',
    });
    expect(c['criteria.performance.p95']?.status).toBe('unknown');
    expect(c['criteria.performance.concurrency']?.status).toBe('unknown');
    expect(c['criteria.recovery.instance']).toMatchObject({
      status: 'unknown',
      fix: 'cloudmart drill instance',
    });
    expect(c['criteria.recovery.rds-failover']?.status).toBe('unknown');
  });

  it('judges the newest load result against avg < 500 ms and P95 < 1 s', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: '2026-01-01T00:00:00Z',
      average: 120,
      p95: 400,
      requests: 1000,
      errors: 0,
      non2xx: 0,
      concurrency: 100,
    };
    state.steps['validation.load'] = {
      status: 'done',
      attempts: 1,
      outputs: {
        at: '2026-01-02T00:00:00Z',
        average: 650,
        p95: 1200,
        requests: 1000,
        concurrency: 100,
      },
    };
    const c = byId(resultChecks(state, testConfig()));
    expect(c['criteria.performance.average']).toMatchObject({
      status: 'fail',
      evidence:
        'average 650 ms (limit 500 ms) over 1000 requests at 100 concurrent (up (validation.load) run at 2026-01-02T00:00:00Z)',
    });
    expect(c['criteria.performance.p95']).toMatchObject({
      status: 'fail',
      evidence:
        'P95 1200 ms (limit 1000 ms) over 1000 requests at 100 concurrent (up (validation.load) run at 2026-01-02T00:00:00Z)',
    });
    expect(c['criteria.performance.concurrency']).toMatchObject({
      status: 'unknown',
      evidence:
        'measured at 100 concurrent connections only (up (validation.load) run at 2026-01-02T00:00:00Z)',
    });
  });

  it('passes 1,000 concurrent users only when measured at 1,000 with under 1 % errors', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: 'x',
      average: 300,
      p95: 800,
      requests: 5000,
      errors: 10,
      non2xx: 20,
      concurrency: 1000,
    };
    expect(
      byId(resultChecks(state, testConfig()))['criteria.performance.concurrency']?.status,
    ).toBe('pass');
    state.results.load = { ...state.results.load, errors: 100 };
    expect(
      byId(resultChecks(state, testConfig()))['criteria.performance.concurrency']?.status,
    ).toBe('fail');
  });

  it('judges recorded drills against RTO < 5 min', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.drills = {
      instance: { at: 'x', rtoSeconds: 190 },
      'rds-failover': { at: 'x', rtoSeconds: 320 },
    };
    const c = byId(resultChecks(state, testConfig()));
    expect(c['criteria.recovery.instance']).toMatchObject({
      status: 'pass',
      evidence: expect.stringContaining('190 s'),
    });
    expect(c['criteria.recovery.rds-failover']?.status).toBe('fail');
  });

  it('judges the budget on the time the stack has been up (from the state), counting what exists', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const upFor = (minutes: number, steps: string[]) => {
      const state = emptyState('cloudmart', 'ap-northeast-2');
      const startedAt = new Date(now - minutes * 60_000).toISOString();
      for (const id of steps) state.steps[id] = { status: 'done', attempts: 1, startedAt };
      return byId(resultChecks(state, testConfig(), now))['criteria.cost.budget']!;
    };
    const all = ['network.nat', 'app.alb', 'app.asg', 'data.rds', 'data.redis', 'security.kms'];
    // Up 20 minutes: within the $0.80, whatever the configured window says.
    expect(upFor(20, all)).toMatchObject({
      status: 'pass',
      evidence: expect.stringContaining('20 min up so far'),
    });
    // Left up for 3 hours: over the budget, though the configured 50-minute window is not.
    expect(upFor(180, all)).toMatchObject({
      status: 'fail',
      title: 'Cost so far within the $0.80 budget',
    });
    // Only the NAT gateways exist after 3 hours: they alone are counted.
    expect(upFor(180, ['network.nat']).status).toBe('pass');
  });

  it('checks the cost estimate against the budget', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    expect(byId(resultChecks(state, testConfig()))['criteria.cost.budget']?.status).toBe('pass');
    expect(
      byId(resultChecks(state, testConfig({ budget: { usd: 0.1 } })))['criteria.cost.budget']
        ?.status,
    ).toBe('fail');
  });
});

describe('result criteria: runs at scale', () => {
  it('keeps judging 1,000 users on the last run at scale after a smaller run', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: '2026-01-02T00:00:00Z',
      average: 100,
      p95: 200,
      requests: 1000,
      errors: 0,
      non2xx: 0,
      concurrency: 100,
      usersRun: {
        at: '2026-01-01T00:00:00Z',
        concurrency: 1000,
        requests: 5000,
        errors: 0,
        non2xx: 3,
        average: 300,
        p95: 800,
      },
    };
    const c = byId(resultChecks(state, testConfig()));
    expect(c['criteria.performance.concurrency']).toMatchObject({
      status: 'pass',
      evidence:
        '1000 connections, 3 errors or non-2xx of 5000 requests; average 300 ms, P95 800 ms (cloudmart load run at 2026-01-01T00:00:00Z)',
    });
  });

  it('keeps the 1,000-user run of "cloudmart load" when a newer up re-ran the 100-connection test', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: '2026-01-01T00:00:00Z',
      average: 310,
      p95: 900,
      requests: 20000,
      errors: 0,
      non2xx: 40,
      concurrency: 1000,
      usersRun: {
        at: '2026-01-01T00:00:00Z',
        average: 310,
        p95: 900,
        requests: 20000,
        errors: 0,
        non2xx: 40,
        concurrency: 1000,
      },
    };
    // Every `up` runs the seed's ab -n 1000 -c 100 again: newer, but not at scale.
    state.steps['validation.load'] = {
      status: 'done',
      attempts: 2,
      outputs: {
        at: '2026-01-03T00:00:00Z',
        average: 95,
        p95: 180,
        requests: 1000,
        errors: 0,
        non2xx: 0,
        concurrency: 100,
      },
    };
    const c = byId(resultChecks(state, testConfig()));
    // Response times from the newest run, 1,000 users from the newest run that measured it.
    expect(c['criteria.performance.average']).toMatchObject({
      status: 'pass',
      evidence: expect.stringContaining('average 95 ms over 1000 requests at 100 concurrent (up'),
    });
    expect(c['criteria.performance.concurrency']).toMatchObject({
      status: 'pass',
      evidence:
        '1000 connections, 40 errors or non-2xx of 20000 requests; average 310 ms, P95 900 ms (cloudmart load run at 2026-01-01T00:00:00Z)',
    });
  });

  it('judges 1,000 users on the newest run at scale, wherever it was recorded', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: '2026-01-05T00:00:00Z',
      requests: 1000,
      concurrency: 100,
      average: 90,
      p95: 150,
      usersRun: {
        at: '2026-01-01T00:00:00Z',
        requests: 5000,
        errors: 0,
        non2xx: 0,
        concurrency: 1000,
      },
    };
    state.steps['validation.load'] = {
      status: 'done',
      attempts: 1,
      outputs: {
        at: '2026-01-02T00:00:00Z',
        usersRun: {
          at: '2026-01-02T00:00:00Z',
          requests: 5000,
          errors: 400,
          non2xx: 0,
          concurrency: 1000,
        },
      },
    };
    expect(
      byId(resultChecks(state, testConfig()))['criteria.performance.concurrency'],
    ).toMatchObject({
      status: 'fail',
      evidence:
        '1000 connections: 7.4 % of requests failed or were not 2xx (400 errors, 0 of them timeouts, 0 non-2xx of 5400; at most 1 % allowed) (up (validation.load) run at 2026-01-02T00:00:00Z)',
    });
  });

  it('ignores a record that measured nothing (0 requests)', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.load = {
      at: '2026-01-01T00:00:00Z',
      requests: 1000,
      average: 200,
      p95: 400,
      concurrency: 100,
    };
    state.steps['validation.load'] = {
      status: 'done',
      attempts: 1,
      outputs: { at: '2026-01-02T00:00:00Z', requests: 0, average: 0, p95: 0, concurrency: 100 },
    };
    expect(byId(resultChecks(state, testConfig()))['criteria.performance.average']).toMatchObject({
      status: 'pass',
      evidence: expect.stringContaining('(cloudmart load run at 2026-01-01T00:00:00Z)'),
    });
  });
});

describe('result criteria: drills that did not recover', () => {
  it('a timed-out drill is a failed RTO, not "drill not run yet"', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.drills = {
      instance: {
        at: '2026-01-01T00:00:00.000Z',
        rtoSeconds: null,
        timedOut: true,
        timedOutAfterSeconds: 900,
        replacementId: 'i-c',
        passed: false,
      },
      'rds-failover': { at: '2026-01-01T00:00:00.000Z', rtoSeconds: null, timedOut: false },
    };
    const c = byId(resultChecks(state, testConfig()));
    expect(c['criteria.recovery.instance']).toMatchObject({
      status: 'fail',
      evidence:
        'no recovery: the drill gave up after 900 s, RTO not reached (2026-01-01T00:00:00.000Z)',
    });
    expect(c['criteria.recovery.rds-failover']).toMatchObject({
      status: 'fail',
      evidence: 'RTO not measured: no recovery seen (2026-01-01T00:00:00.000Z)',
    });
  });

  it('a newer successful drill replaces an older timed-out one', () => {
    const state = emptyState('cloudmart', 'ap-northeast-2');
    state.results.drills = {
      instance: { at: '2026-01-01T00:00:00.000Z', rtoSeconds: null, timedOut: true },
    };
    state.steps['validation.drills'] = {
      status: 'done',
      attempts: 1,
      outputs: {
        at: '2026-01-02T00:00:00.000Z',
        instance: { at: '2026-01-02T00:00:00.000Z', rtoSeconds: 180, timedOut: false },
      },
    };
    expect(byId(resultChecks(state, testConfig()))['criteria.recovery.instance']).toMatchObject({
      status: 'pass',
      evidence: 'RTO 180 s (2026-01-02T00:00:00.000Z)',
    });
  });
});
