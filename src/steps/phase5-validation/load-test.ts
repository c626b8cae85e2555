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
import { judgeLoad, performanceChecks, runCounts } from '../../load/verdict.js';
import { latest, recordedResults } from './results.js';

const FIX = 'cloudmart load';

function seedUrl(config: Config, alb: AlbOutputs, dns: DnsOutputs | undefined): string {
  return joinUrl(stackBaseUrl(config, alb, dns), SEED_LOAD.path);
}

function describeRun(run: object): string {
  const r = run as Record<string, unknown>;
  const c = runCounts(r);
  return `${c.total} requests at ${c.connections} concurrent, ${c.errors} errors, ${c.non2xx} non-2xx, ${String(r.rps)} req/s, ${String(r.at)}`;
}

/**
 * Checks of the latest figures against the seed (avg < 500 ms, P95 < 1 s, 1,000 users: the one
 * rule of src/load/verdict.ts), and whether any request failed. The criterion ids are those of
 * the recorded-results checks in src/verify/criteria.ts, so verify shows each criterion once (a
 * step's check replaces the recorded copy).
 */
export function loadChecks(figures: Record<string, unknown> | undefined): Check[] {
  const usersRun = figures?.usersRun as Record<string, unknown> | undefined;
  const measured = figures && runCounts(figures).total > 0 ? figures : undefined;
  // The run at 1,000 users: this one, or the last one kept under `usersRun`.
  const atScale =
    measured && runCounts(measured).connections >= LOAD_CRITERIA.users ? measured : usersRun;
  const checks = performanceChecks(
    measured,
    atScale && runCounts(atScale).total > 0 ? atScale : undefined,
    describeRun,
    FIX,
  );
  if (!measured) {
    checks.push({
      id: 'validation.load.errors',
      title: 'No failed requests under load',
      criterion: 'performance',
      status: 'unknown',
      evidence: 'not measured yet',
      fix: FIX,
    });
  } else {
    const c = runCounts(measured);
    checks.push({
      id: 'validation.load.errors',
      title: 'No failed requests under load',
      criterion: 'performance',
      status: c.failed === 0 ? 'pass' : 'warn',
      evidence: `${c.failed} of ${c.total} request(s) failed or were not 2xx`,
      fix: FIX,
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
    // It measures the serving path (ALB, instances, database, cache) once it is ready and no
    // step is still changing it (backup.rds converges the instance's settings), not the waits
    // only verify needs (backup replication, the snapshot, CloudFront's deployment).
    runsAfter: [STEP.rds, STEP.redis, STEP.rdsBackup],
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
      if (result.responses === 0) {
        throw new CloudmartError(
          'NOT_READY',
          `The load test got no response from ${url} (${result.bailedOut ?? `${result.errors} connection errors`})`,
          {
            hint: 'Check that the targets are healthy ("cloudmart verify --phase 1"), then run "cloudmart up --phase 5" again.',
          },
        );
      }
      const v = judgeLoad(result);
      ctx.progress(
        `average ${result.average} ms, P95 ${result.p95} ms, P99 ${result.p99} ms, ${result.rps} req/s, ${result.errors} errors, ${result.non2xx} non-2xx: ${v.average.status === 'pass' && v.p95.status === 'pass' ? "meets the seed's criteria" : `misses the seed's criteria (${(v.average.status === 'pass' ? v.p95 : v.average).reason})`}`,
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
