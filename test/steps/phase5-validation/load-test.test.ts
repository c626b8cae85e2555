import { describe, expect, it } from 'vitest';
import type { Outputs, StepContext } from '../../../src/engine/step.js';
import type { LoadOptions, LoadResult } from '../../../src/load/load-test.js';
import type { Results } from '../../../src/state/store.js';
import { phase5Steps } from '../../../src/steps/phase5-validation/index.js';
import { loadTestStep, makeLoadTestStep } from '../../../src/steps/phase5-validation/load-test.js';
import { testConfig, testContext } from '../../helpers/context.js';
import { loadResult } from '../../helpers/load-result.js';

const ALB = {
  loadBalancerArn: 'arn:lb',
  loadBalancerDimension: 'app/cloudmart-alb/1',
  dnsName: 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com',
  canonicalHostedZoneId: 'Z1',
  targetGroupArn: 'arn:tg',
  targetGroupDimension: 'targetgroup/cloudmart-tg/1',
  listenerArns: [],
  httpsEnabled: false,
};
const ASG = {
  autoScalingGroupName: 'cloudmart-asg',
  targetTrackingPolicyArn: 'a',
  scaleOutPolicyArn: 'b',
};

function result(overrides: Partial<LoadResult> = {}): LoadResult {
  return loadResult({
    rps: 480.5,
    average: 180.2,
    p50: 150,
    p90: 300,
    p95: 420,
    p99: 700,
    min: 20,
    max: 900,
    durationSeconds: 2.1,
    at: '2025-05-01T10:00:00.000Z',
    ...overrides,
  });
}

/** A fake runner that records the options it got. */
function runner(r: LoadResult) {
  const calls: LoadOptions[] = [];
  const run = (o: LoadOptions) => {
    calls.push(o);
    o.onProgress?.({
      done: 500,
      rps: 400,
      errors: 0,
      non2xx: 0,
      connections: 100,
      elapsedSeconds: 6,
    });
    return Promise.resolve(r);
  };
  return { calls, run };
}

const ctx = (
  o: {
    previous?: Outputs;
    outputs?: Record<string, Outputs>;
    config?: ReturnType<typeof testConfig>;
  } = {},
) =>
  testContext({
    stepId: loadTestStep.id,
    outputs: o.outputs ?? { 'app.alb': ALB, 'app.asg': ASG },
    ...(o.previous ? { previous: o.previous } : {}),
    ...(o.config ? { config: o.config } : {}),
  });

const withResults = (c: StepContext, results: Results): StepContext =>
  Object.assign(Object.create(c) as StepContext, { results: () => results });

const status = (checks: Array<{ id: string; status: string }>, id: string) =>
  checks.find((c) => c.id === id)?.status;

describe('validation.load', () => {
  it('is Phase 5, needs the ALB, the ASG and the API record, runs once the database, the cache and their settings are ready, and is listed in phase5Steps', () => {
    expect(loadTestStep).toMatchObject({
      id: 'validation.load',
      phase: 5,
      // edge.dns is disabled (so ignored) without a domain.
      needs: ['app.alb', 'app.asg', 'edge.dns'],
      runsAfter: ['data.rds', 'data.redis', 'backup.rds'],
    });
    // It measures the serving path: nothing only verify needs holds it back.
    expect(loadTestStep.runsAfterEarlierPhases).toBeUndefined();
    expect(phase5Steps.map((s) => s.id)).toEqual(['validation.load', 'validation.drills']);
  });

  it("runs the seed's ab -n 1000 -c 100 against http://<ALB>/api/products and returns the figures", async () => {
    const { calls, run } = runner(result());
    const c = ctx();
    const out = await makeLoadTestStep(run).create(c);

    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: 'http://cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com/api/products',
      requests: 1000,
      concurrency: 100,
      signal: c.signal,
    });
    expect(calls[0]).not.toHaveProperty('users');
    expect(out).toMatchObject({
      url: 'http://x/api/products',
      at: '2025-05-01T10:00:00.000Z',
      requests: 1000,
      responses: 1000,
      ok: 1000,
      concurrency: 100,
      keepAlive: false,
      errors: 0,
      timeouts: 0,
      non2xx: 0,
      rps: 480.5,
      average: 180.2,
      p50: 150,
      p95: 420,
      p99: 700,
      min: 20,
      max: 900,
      durationSeconds: 2.1,
      mode: 'requests',
      // Rich enough for the report to draw: histogram, per-second timeline, quantiles.
      histogram: [],
      timeline: [],
      quantiles: [],
    });
    expect(c.progressLog.some((l) => l.includes("meets the seed's criteria"))).toBe(true);
    expect(c.progressLog.some((l) => l.includes('500/1000 requests, 400 req/s'))).toBe(true);
  });

  it('with a domain goes through https://api.<domain> (the certificate does not name the ALB)', async () => {
    const { calls, run } = runner(result());
    const config = testConfig({ dns: { domain: 'shop.example.com' } });
    await makeLoadTestStep(run).create(
      ctx({
        config,
        outputs: {
          'app.alb': { ...ALB, httpsEnabled: true },
          'app.asg': ASG,
          'edge.dns': {
            siteRecord: 'shop.example.com.',
            apiRecord: 'api.shop.example.com.',
            healthCheckId: 'h',
          },
        },
      }),
    );
    expect(calls[0]!.url).toBe('https://api.shop.example.com/api/products');
  });

  it('fails with the fix when nothing answered, and stops on abort', async () => {
    await expect(
      makeLoadTestStep(
        runner(result({ requests: 1000, responses: 0, ok: 0, errors: 1000 })).run,
      ).create(ctx()),
    ).rejects.toMatchObject({ code: 'NOT_READY', message: expect.stringContaining('no response') });
    await expect(
      makeLoadTestStep(runner(result({ aborted: true })).run).create(ctx()),
    ).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });

  it('verify says "not measured yet" (unknown, never pass) before any run', async () => {
    const checks = await loadTestStep.verify(withResults(ctx(), {}));
    expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
      ['criteria.performance.average', 'unknown', 'performance'],
      ['criteria.performance.p95', 'unknown', 'performance'],
      ['criteria.performance.concurrency', 'unknown', 'performance'],
      ['validation.load.errors', 'unknown', 'performance'],
    ]);
    expect(checks.find((c) => c.id === 'criteria.performance.concurrency')!.fix).toBe(
      'cloudmart load --users 1000',
    );
  });

  it('verify passes avg < 500 ms and P95 < 1 s, and reports drift above them', async () => {
    const good = await loadTestStep.verify(withResults(ctx({ previous: { ...result() } }), {}));
    expect(status(good, 'criteria.performance.average')).toBe('pass');
    expect(status(good, 'criteria.performance.p95')).toBe('pass');
    expect(status(good, 'validation.load.errors')).toBe('pass');
    expect(status(good, 'criteria.performance.concurrency')).toBe('unknown');
    expect(good.find((c) => c.id === 'criteria.performance.average')!.evidence).toContain(
      'average 180.2 ms',
    );
    expect(good.find((c) => c.id === 'criteria.performance.concurrency')!.evidence).toContain(
      'measured at 100 concurrent connections only',
    );

    const slow = await loadTestStep.verify(
      withResults(ctx({ previous: { ...result({ average: 650, p95: 1400, non2xx: 1 }) } }), {}),
    );
    expect(status(slow, 'criteria.performance.average')).toBe('fail');
    expect(status(slow, 'criteria.performance.p95')).toBe('fail');
    expect(status(slow, 'validation.load.errors')).toBe('warn');
    expect(slow.find((c) => c.id === 'criteria.performance.p95')!.fix).toBe('cloudmart load');
  });

  it('verify fails fast latencies of an all-503 run, with the reason', async () => {
    const all503 = result({
      ok: 0,
      non2xx: 1000,
      statusCodes: { '503': 1000 },
      average: 4,
      p95: 9,
    });
    const checks = await loadTestStep.verify(withResults(ctx({ previous: { ...all503 } }), {}));
    for (const id of ['criteria.performance.average', 'criteria.performance.p95']) {
      const check = checks.find((c) => c.id === id)!;
      expect(check.status).toBe('fail');
      expect(check.evidence).toContain('no successful response: 1000 of 1000 requests failed');
    }
  });

  it('verify reads the newer of its own figures and the recorded "cloudmart load" result, and keeps the 1,000-user run', async () => {
    const c = withResults(ctx({ previous: { ...result({ average: 650 }) } }), {
      load: {
        ...result({ average: 90, at: '2025-05-02T10:00:00.000Z' }),
        usersRun: { ...result({ concurrency: 1000, average: 300, p95: 800, requests: 20_000 }) },
      },
    });
    const checks = await loadTestStep.verify(c);
    expect(status(checks, 'criteria.performance.average')).toBe('pass');
    expect(status(checks, 'criteria.performance.concurrency')).toBe('pass');

    const older = withResults(
      ctx({ previous: { ...result({ average: 650, at: '2025-05-03T00:00:00.000Z' }) } }),
      { load: { ...result({ average: 90, at: '2025-05-02T10:00:00.000Z' }) } },
    );
    expect(status(await loadTestStep.verify(older), 'criteria.performance.average')).toBe('fail');

    const overloaded = withResults(ctx(), {
      load: { ...result({ concurrency: 1000, requests: 20_000, errors: 900 }) },
    });
    expect(status(await loadTestStep.verify(overloaded), 'criteria.performance.concurrency')).toBe(
      'fail',
    );
  });

  it('verify leaves the criteria to the recorded-results checks when it cannot see the recorded results', async () => {
    // Its own outputs may be older than a later `cloudmart load`: it must not report them.
    expect(await loadTestStep.verify(ctx({ previous: { ...result({ average: 650 }) } }))).toEqual(
      [],
    );
  });

  it('teardown is a no-op (nothing was created)', async () => {
    await expect(loadTestStep.teardown(ctx())).resolves.toBeUndefined();
  });

  it('describe names the seed command for plan', () => {
    expect(loadTestStep.describe(testConfig()).join('\n')).toContain('ab -n 1000 -c 100');
  });
});
