import { defineStep, type Check, type Step, type StepContext } from '../../engine/step.js';
import { CloudmartError, InterruptedError } from '../../errors.js';
import {
  LOAD_CRITERIA,
  SEED_LOAD,
  loadFigures,
  runLoadTest,
  type LoadOptions,
  type LoadResult,
} from '../../load/load-test.js';
import { joinUrl, stackBaseUrl } from '../../load/target.js';
import type { Config } from '../../config/schema.js';
import { STEP, type AlbOutputs, type DnsOutputs, type LoadOutputs } from '../outputs.js';
import { latest, num, recordedResults } from './results.js';

const FIX = 'cloudmart load';

function seedUrl(config: Config, alb: AlbOutputs, dns: DnsOutputs | undefined): string {
  return joinUrl(stackBaseUrl(config, alb, dns), SEED_LOAD.path);
}

function describeRun(r: Record<string, unknown>): string {
  return `${String(r.requests)} requests at ${String(r.concurrency)} concurrent, ${String(r.errors)} errors, ${String(r.non2xx)} non-2xx, ${String(r.rps)} req/s (${String(r.at)})`;
}

function verdict(
  value: number | undefined,
  limit: number,
): Pick<Check, 'status'> & { shown: string } {
  if (value === undefined) return { status: 'unknown', shown: '?' };
  return { status: value < limit ? 'pass' : 'fail', shown: `${value} ms` };
}

/**
 * Checks of the latest figures against the seed (avg < 500 ms, P95 < 1 s, 1,000 users, no
 * errors). The criterion ids are those of the recorded-results checks in src/verify/criteria.ts,
 * so verify shows each criterion once (a step's check replaces the recorded copy).
 */
export function loadChecks(figures: Record<string, unknown> | undefined): Check[] {
  const notMeasured = (id: string, title: string, fix = FIX): Check => ({
    id,
    title,
    criterion: 'performance',
    status: 'unknown',
    evidence: 'not measured yet',
    fix,
  });
  const usersRun = figures?.usersRun as Record<string, unknown> | undefined;
  const checks: Check[] = [];
  if (!figures || !num(figures, 'requests')) {
    checks.push(
      notMeasured('criteria.performance.average', 'Average response time < 500 ms'),
      notMeasured('criteria.performance.p95', 'P95 response time < 1 s'),
      notMeasured('validation.load.errors', 'No failed requests under load'),
    );
  } else {
    const avg = verdict(num(figures, 'average'), LOAD_CRITERIA.averageMs);
    const p95 = verdict(num(figures, 'p95'), LOAD_CRITERIA.p95Ms);
    const failed = (num(figures, 'errors') ?? 0) + (num(figures, 'non2xx') ?? 0);
    checks.push(
      {
        id: 'criteria.performance.average',
        title: 'Average response time < 500 ms',
        criterion: 'performance',
        status: avg.status,
        evidence: `average ${avg.shown} over ${describeRun(figures)}`,
        fix: FIX,
      },
      {
        id: 'criteria.performance.p95',
        title: 'P95 response time < 1 s',
        criterion: 'performance',
        status: p95.status,
        evidence: `P95 ${p95.shown}, P99 ${String(figures.p99)} ms over ${describeRun(figures)}`,
        fix: FIX,
      },
      {
        id: 'validation.load.errors',
        title: 'No failed requests under load',
        criterion: 'performance',
        status: failed === 0 ? 'pass' : 'warn',
        evidence: `${failed} of ${String(figures.requests)} request(s) failed or were not 2xx`,
        fix: FIX,
      },
    );
  }
  // The run at 1,000 users: this one, or the last one kept under `usersRun`.
  const atScale = (num(figures, 'concurrency') ?? 0) >= LOAD_CRITERIA.users ? figures : usersRun;
  const usersFix = `cloudmart load --users ${LOAD_CRITERIA.users}`;
  if (!atScale || !num(atScale, 'requests')) {
    checks.push({
      ...notMeasured('criteria.performance.concurrency', '1,000 concurrent users served', usersFix),
      ...(figures && num(figures, 'requests')
        ? { evidence: `measured at ${String(figures.concurrency)} concurrent connections only` }
        : {}),
    });
  } else {
    const requests = num(atScale, 'requests') ?? 0;
    const failed = (num(atScale, 'errors') ?? 0) + (num(atScale, 'non2xx') ?? 0);
    checks.push({
      id: 'criteria.performance.concurrency',
      title: '1,000 concurrent users served',
      criterion: 'performance',
      // The same rule as the recorded-results check: at most 1 % failed or non-2xx.
      status: failed <= requests * 0.01 ? 'pass' : 'fail',
      evidence: `${String(atScale.concurrency)} connections: ${failed} errors or non-2xx of ${requests} requests; average ${String(atScale.average)} ms, P95 ${String(atScale.p95)} ms (${String(atScale.at)})`,
      fix: usersFix,
    });
  }
  return checks;
}

/**
 * The latest figures: this step's last outputs or the last `cloudmart load`, whichever is
 * newer; undefined as "cannot tell" when the context does not expose the recorded results.
 */
export function latestLoad(
  ctx: StepContext,
): { figures: Record<string, unknown> | undefined } | undefined {
  const results = recordedResults(ctx);
  if (!results) return undefined;
  const recorded = results.load;
  const previous = ctx.previous as (Record<string, unknown> & { at: string }) | undefined;
  const newest = latest(previous, recorded);
  // The 1,000-user run is only recorded by `cloudmart load --users`; keep it whichever is newer.
  const usersRun = recorded?.usersRun ?? previous?.usersRun;
  return { figures: newest ? { ...newest, ...(usersRun ? { usersRun } : {}) } : undefined };
}

/**
 * `validation.load`: the seed's `ab -n 1000 -c 100 http://<ALB>/api/products`, run on every
 * `up` (it changes nothing on AWS). `run` is injectable for tests.
 */
export function makeLoadTestStep(
  run: (options: LoadOptions) => Promise<LoadResult> = runLoadTest,
): Step<LoadOutputs> {
  return defineStep<LoadOutputs>({
    id: STEP.load,
    phase: 5,
    title: 'Load test (ab -n 1000 -c 100)',
    // With a domain the target is https://api.<domain>: the record must exist first.
    needs: [STEP.alb, STEP.asg, STEP.dns],
    // It measures the finished stack, not one whose DB is still being modified or backed up.
    runsAfterEarlierPhases: true,
    // `cloudmart load` reads the Auto Scaling and CloudWatch view after the test.
    actions: [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeScalingActivities',
      'cloudwatch:GetMetricData',
    ],
    describe: (config) => [
      `Load test like "ab -n ${SEED_LOAD.requests} -c ${SEED_LOAD.concurrency}" against ${config.dns.domain ? `https://${config.dns.apiSubdomain}.${config.dns.domain}` : 'http://<ALB DNS name>'}${SEED_LOAD.path}; records avg, P50/P95/P99, errors (criteria: avg < ${LOAD_CRITERIA.averageMs} ms, P95 < ${LOAD_CRITERIA.p95Ms / 1000} s)`,
    ],

    async create(ctx) {
      const alb = ctx.outputs<AlbOutputs>(STEP.alb);
      ctx.outputs(STEP.asg);
      const url = seedUrl(ctx.config, alb, ctx.maybeOutputs<DnsOutputs>(STEP.dns));
      ctx.progress(
        `${SEED_LOAD.requests} requests, ${SEED_LOAD.concurrency} concurrent, against ${url}`,
      );
      let reported = 0;
      const result = await run({
        url,
        requests: SEED_LOAD.requests,
        concurrency: SEED_LOAD.concurrency,
        signal: ctx.signal,
        dnsWaitSeconds: 120,
        onProgress: (p) => {
          if (p.elapsedSeconds - reported < 5) return;
          reported = p.elapsedSeconds;
          ctx.progress(
            `${p.done}/${SEED_LOAD.requests} requests, ${p.rps} req/s, ${p.errors} errors, ${p.non2xx} non-2xx`,
          );
        },
      });
      if (result.aborted) throw new InterruptedError('Interrupted during the load test');
      if (result.requests === 0) {
        throw new CloudmartError(
          'NOT_READY',
          `The load test got no response from ${url} (${result.errors} connection errors)`,
          {
            hint: 'Check that the targets are healthy ("cloudmart verify --phase 1"), then run "cloudmart up --phase 5" again.',
          },
        );
      }
      ctx.progress(
        `average ${result.average} ms, P95 ${result.p95} ms, P99 ${result.p99} ms, ${result.rps} req/s, ${result.errors} errors, ${result.non2xx} non-2xx`,
      );
      return loadFigures(result);
    },

    verify(ctx) {
      // Without the recorded results this step cannot know the latest figures (a later
      // `cloudmart load` may have replaced its own); the recorded-results checks of
      // src/verify/criteria.ts, which read both, stand for it then.
      const latestFigures = latestLoad(ctx);
      return Promise.resolve(latestFigures ? loadChecks(latestFigures.figures) : []);
    },

    async teardown() {
      // Nothing was created on AWS.
    },
  });
}

export const loadTestStep = makeLoadTestStep();
