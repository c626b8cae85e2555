/**
 * Regenerates docs/example-report/: a whole up → load → drills → verify → destroy run of the
 * seed stack against the fake cloud (test/helpers/fake-cloud), with the hand-in report that
 * `verify --report` writes and the cleanup receipt `destroy --report` adds.
 *
 *   npm run example-report            # writes docs/example-report/
 *   node --import tsx scripts/example-report.ts <dir> [--lang ko]
 *
 * Deterministic, so test/report/example-report.test.ts can tell when the committed copy is
 * stale: the fake cloud's ids come from a fixed seed, and the clock is simulated (it starts at
 * START and moves by what each AWS call takes in the latency model, one step at a time).
 * The fake cloud serves no HTTP, so the load test's responses come from a seeded model of the
 * app (recorded through the same code as `cloudmart load`), and the drills' probe asks the fake
 * cloud whether a healthy target (or an available database) would answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AwsClientFactory } from '../src/aws/clients.js';
import { main } from '../src/cli/main.js';
import { loadConfig } from '../src/config/load.js';
import type { DrillContext } from '../src/drills/context.js';
import { drillRecord, runDrill } from '../src/drills/index.js';
import { histogramOf, loadRecord, percentile, type LoadResult } from '../src/load/load-test.js';
import { StateStore } from '../src/state/store.js';
import { FakeCloud, LATENCY_TIMINGS as L } from '../test/helpers/fake-cloud/index.js';
import { recordingIo } from '../test/helpers/io.js';

export const START = Date.parse('2026-03-02T05:00:00.000Z');
const REPO = resolve(fileURLToPath(import.meta.url), '../..');

/** What each write takes on the simulated clock (the latency model; 1 s for any other write). */
const TAKES: Record<string, number> = {
  CreateNatGateway: L.natCreate,
  DeleteNatGateway: L.natDelete,
  CreateLoadBalancer: L.albActive,
  DeleteLoadBalancer: L.albDelete,
  CreateAutoScalingGroup: L.instanceInService + L.targetHealthy,
  DeleteAutoScalingGroup: L.asgDelete,
  CreateDBInstance: L.rdsCreate + L.rdsFirstBackup,
  DeleteDBInstance: L.rdsDelete,
  CreateDBSnapshot: L.rdsSnapshot,
  CreateReplicationGroup: L.redisCreate,
  DeleteReplicationGroup: L.redisDelete,
  CreateDistribution: L.cloudfrontDeploy,
  UpdateDistribution: L.cloudfrontDeploy,
};

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A load run of the seeded app model: log-normal latencies, a few slow and failed requests. */
export function modelLoadRun(opts: {
  requests: number;
  concurrency: number;
  seconds: number;
  at: string;
  seed: number;
}): LoadResult {
  const rnd = prng(opts.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const samples: number[] = [];
  const seconds = Array.from({ length: opts.seconds }, (_, second) => ({
    second,
    responses: 0,
    ok: 0,
    non2xx: 0,
    errors: 0,
    sum: 0,
  }));
  let errors = 0;
  let non2xx = 0;
  for (let i = 0; i < opts.requests; i++) {
    const sec = seconds[Math.min(opts.seconds - 1, Math.floor(rnd() * opts.seconds))]!;
    if (rnd() < 0.001) {
      errors++;
      sec.errors++;
      continue;
    }
    const ms =
      Math.round(Math.exp(Math.log(95 + opts.concurrency / 20) + 0.45 * normal()) * 100) / 100;
    samples.push(ms);
    sec.responses++;
    sec.sum += ms;
    if (rnd() < 0.002) {
      non2xx++;
      sec.non2xx++;
    } else sec.ok++;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  const responses = samples.length;
  return {
    url: 'http://cloudmart-alb.ap-northeast-2.elb.amazonaws.com/api/products',
    requests: responses + errors,
    responses,
    ok: responses - non2xx,
    errors,
    timeouts: 0,
    non2xx,
    statusCodes: { '200': responses - non2xx, ...(non2xx ? { '503': non2xx } : {}) },
    errorCodes: errors ? { ECONNRESET: errors } : {},
    rps: r2(responses / opts.seconds),
    average: r2(samples.reduce((s, x) => s + x, 0) / responses),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
    quantiles: Array.from({ length: 101 }, (_, p) => percentile(sorted, p)),
    durationSeconds: opts.seconds,
    concurrency: opts.concurrency,
    mode: opts.concurrency >= 1000 ? 'users' : 'requests',
    keepAlive: false,
    timeoutSeconds: 10,
    histogram: histogramOf(sorted),
    timeline: seconds.map(({ sum, ...s }) => ({
      ...s,
      averageMs: s.responses ? r2(sum / s.responses) : null,
      connections: opts.concurrency,
    })),
    at: opts.at,
    aborted: false,
    timedOut: false,
    bailedOut: null,
  };
}

/** Run the whole exercise and write the report into `dir`. */
export async function generateExampleReport(dir: string, lang: 'en' | 'ko' = 'en'): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'cloudmart-example-'));
  const state = join(work, 'cloudmart.state.json');
  const config = join(REPO, 'cloudmart.config.yaml');
  const cloud = await new FakeCloud({ mode: 'instant', startAt: START, seed: 1 }).install();
  const RealDate = Date;
  // The simulated clock, for everything that reads the time.
  class SimulatedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(cloud.now());
      else super(...(args as [string]));
    }
    static override now(): number {
      return cloud.now();
    }
  }
  globalThis.Date = SimulatedDate as DateConstructor;
  let ticking = true;
  const stopTicking = cloud.onCall((c) => {
    if (!ticking || c.phase !== 'after') return;
    // Reads take no simulated time: verify reads concurrently, in an order that may vary.
    if (c.mutating) cloud.advance(TAKES[c.command] ?? 1_000);
  });
  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(
      ['node', 'cloudmart', ...args, '--config', config, '--state', state],
      io,
    );
    return { code, text: io.text() };
  };
  const must = (what: string, r: { code: number; text: string }, ok = [0]) => {
    if (!ok.includes(r.code)) throw new Error(`${what} exited ${r.code}:\n${r.text}`);
  };
  try {
    // Phases 1-4, one step at a time so the simulated clock is the same on every run.
    must('up', await run(['up', '--yes', '--to', '4', '--concurrency', '1']));
    cloud.confirmSubscriptions();

    // Phase 5: the load test, as `cloudmart load` records it (the seed's run, then 1,000 users).
    const store = new StateStore(state);
    const cfg = await loadConfig(config);
    await store.load(cfg.stack, cfg.region);
    for (const r of [
      modelLoadRun({
        requests: 1000,
        concurrency: 100,
        seconds: 4,
        at: new Date().toISOString(),
        seed: 7,
      }),
      modelLoadRun({
        requests: 24000,
        concurrency: 1000,
        seconds: 30,
        at: new Date(cloud.now() + 60_000).toISOString(),
        seed: 11,
      }),
    ]) {
      await store.update((s) => {
        s.results.load = { ...loadRecord(r, s.results.load), at: r.at };
      });
    }
    cloud.advance(120_000);

    // The drills on the simulated clock, with the latency model's instance and reboot times.
    ticking = false;
    Object.assign(cloud.timings, {
      instanceRunning: L.instanceRunning,
      instanceInService: L.instanceInService,
      targetHealthy: L.targetHealthy,
      rdsReboot: L.rdsReboot,
    });
    const aws = new AwsClientFactory({ region: cfg.region, maxAttempts: 1 });
    const outputs = <T>(id: string) => {
      const st = store.current.steps[id];
      return st?.status === 'done' ? (st.outputs as T) : undefined;
    };
    const healthy = async () => {
      const tg = outputs<{ targetGroupArn: string }>('app.alb')!.targetGroupArn;
      const out = (await cloud.call(
        'elbv2',
        'DescribeTargetHealth',
        { TargetGroupArn: tg },
        cfg.region,
      )) as Record<string, unknown>;
      return (out.TargetHealthDescriptions as Array<{ TargetHealth?: { State?: string } }>).some(
        (t) => t.TargetHealth?.State === 'healthy',
      );
    };
    const dbUp = async () => {
      const id = outputs<{ dbInstanceIdentifier: string }>('data.rds')!.dbInstanceIdentifier;
      const out = (await cloud.call(
        'rds',
        'DescribeDBInstances',
        { DBInstanceIdentifier: id },
        cfg.region,
      )) as Record<string, unknown>;
      return (
        (out.DBInstances as Array<{ DBInstanceStatus?: string }>)[0]?.DBInstanceStatus ===
        'available'
      );
    };
    const markers = new Set<string>();
    for (const [name, up] of [
      ['instance', healthy],
      ['rds-failover', async () => (await healthy()) && (await dbUp())],
    ] as const) {
      const signal = new AbortController().signal;
      const ctx: DrillContext = {
        config: cfg,
        aws,
        outputs,
        progress: () => undefined,
        signal,
        sleep: (ms) => cloud.sleep(ms, signal),
        now: cloud.now,
        // The app's marker rows live in the database, which a Multi-AZ failover keeps.
        marker: async (method, url) => {
          if (!(await dbUp())) return { status: 503 };
          if (method === 'PUT') markers.add(url);
          return { status: method === 'PUT' || markers.has(url) ? 200 : 404 };
        },
        probe: async () =>
          (await up()) ? { ok: true, status: 200, ms: 12 } : { ok: false, status: 502, ms: 3 },
      };
      const result = await runDrill(name, ctx, {});
      await store.update((s) => {
        s.results.drills ??= {};
        s.results.drills[name] = drillRecord(result);
      });
      cloud.advance(60_000);
    }
    await store.flush();
    await aws.destroy();
    ticking = true;

    // verify writes the report; destroy adds the cleanup receipt to it.
    must('verify', await run(['verify', '--report', dir, '--lang', lang]), [0, 1]);
    must('destroy', await run(['destroy', '--yes', '--concurrency', '1', '--report', dir]));
  } finally {
    stopTicking();
    globalThis.Date = RealDate;
    cloud.uninstall();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const lang = args.includes('--lang') ? (args[args.indexOf('--lang') + 1] as 'en' | 'ko') : 'en';
  const dir =
    args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--lang') ??
    join(REPO, 'docs/example-report');
  await generateExampleReport(resolve(dir), lang);
  process.stdout.write(`example report written to ${dir}\n`);
}
