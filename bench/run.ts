/**
 * cloudmart's benchmark: `npm run bench` (a table) or `npm run bench -- --json` (one JSON
 * object on stdout; progress goes to stderr). See bench/README.md for what each figure means.
 *
 *   --json                 print one JSON object
 *   --check                exit 1 when a measured figure misses its goal (for CI)
 *   --no-build             measure dist/ as it is (default: npm run build first)
 *   --only a,b             only these parts: sim, cloud, startup, load
 *   --ms-per-minute N      fake cloud speed: real ms per simulated minute (default 100)
 *   --waiters W            cloudmart | sdk | both (default both): also run up with the SDK's
 *                          default waiter back-off to show what the short waiters save
 *   --runs N               start-up runs per command (default 9, median)
 *   --requests N           requests per load trial (default 20000), --trials N (default 5)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  json: boolean;
  check: boolean;
  build: boolean;
  only: Set<string>;
  msPerMinute: number;
  waiters: 'cloudmart' | 'sdk' | 'both';
  runs: number;
  requests: number;
  trials: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    json: false,
    check: false,
    build: true,
    only: new Set(['sim', 'cloud', 'startup', 'load']),
    msPerMinute: 100,
    waiters: 'both',
    runs: 9,
    requests: 20_000,
    trials: 5,
  };
  const num = (v: string | undefined, flag: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') args.json = true;
    else if (a === '--check') args.check = true;
    else if (a === '--no-build') args.build = false;
    else if (a === '--only') args.only = new Set(argv[++i]?.split(',') ?? []);
    else if (a === '--ms-per-minute') args.msPerMinute = num(argv[++i], a);
    else if (a === '--runs') args.runs = Math.round(num(argv[++i], a));
    else if (a === '--requests') args.requests = Math.round(num(argv[++i], a));
    else if (a === '--trials') args.trials = Math.round(num(argv[++i], a));
    else if (a === '--waiters') {
      const w = argv[++i];
      if (w !== 'cloudmart' && w !== 'sdk' && w !== 'both')
        throw new Error('--waiters is cloudmart, sdk or both');
      args.waiters = w;
    } else throw new Error(`unknown option ${a} (see the top of bench/run.ts)`);
  }
  return args;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

const GOALS: Record<string, [string, (v: number) => boolean]> = {
  up_simulated_minutes: ['≤ 16.5', (v) => v <= 16.5],
  up_vs_physical_path: ['≤ 1.10', (v) => v <= 1.1],
  time_to_s_simulated_minutes: ['≤ 24', (v) => v <= 24],
  up_instant_s: ['≤ 30', (v) => v <= 30],
  up_vs_critical_path: ['≤ 1.10', (v) => v <= 1.1],
  destroy_vs_critical_path: ['≤ 1.15', (v) => v <= 1.15],
  noop_mutating_calls: ['0', (v) => v === 0],
  noop_reads_per_resource: ['≤ 1.5', (v) => v <= 1.5],
  help_vs_node: ['≤ 2', (v) => v <= 2],
  plan_vs_node: ['≤ 5', (v) => v <= 5],
  load_vs_ab: ['≥ 1.0', (v) => v >= 1.0],
  load_vs_ab_keepalive: ['≥ 1.0', (v) => v >= 1.0],
};

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const result: Record<string, unknown> = {};
  const notes: string[] = [];
  const { availableParallelism, loadavg } = await import('node:os');
  const cpus = availableParallelism();
  const load = loadavg()[0]!;
  result.machine = { cpus, load_1m: Math.round(load * 100) / 100, node: process.version };
  if (load > cpus / 2)
    notes.push(
      `the machine was busy when the bench started (load ${load.toFixed(2)} on ${cpus} CPUs): wall-time figures and load_vs_ab suffer first`,
    );

  if (args.only.has('sim')) {
    const { loadConfig } = await import('../src/config/load.js');
    const sim = await import('./time-to-s.js');
    const config = await loadConfig(join(root, 'cloudmart.config.yaml'));
    log('up on the virtual clock (the latency model, time moves only while cloudmart waits) …');
    const up = await sim.simulateUp(config);
    if (!up.ok) notes.push(`simulated up failed: ${JSON.stringify(up.errors)}`);
    log('up with every latency 0 …');
    const instant = await sim.simulateInstantUp(config);
    if (!instant.ok) notes.push(`instant up failed: ${JSON.stringify(instant.errors)}`);
    log('up --drills --yes, then verify, on the virtual clock …');
    const s = await sim.simulateTimeToS(config);
    if (!s.ok) notes.push(`up --drills failed: ${JSON.stringify(s.errors)}`);
    if (s.minutes === null)
      notes.push(`verify scored ${s.score} (${s.grade}) after up --drills: ${s.lost.join('; ')}`);
    Object.assign(result, {
      up_simulated_minutes: up.simulated_minutes,
      up_vs_physical_path: up.vs_physical_path,
      up_physical_path_minutes: up.physical_path_minutes,
      up_physical_path: up.physical_path,
      up_settling: up.settling,
      up_instant_s: instant.seconds,
      time_to_s_simulated_minutes: s.minutes,
      time_to_s_up_minutes: s.up_minutes,
      time_to_s_score: s.score,
    });
  }

  if (args.only.has('cloud')) {
    const { loadConfig } = await import('../src/config/load.js');
    const cloud = await import('./cloud.js');
    const config = await loadConfig(join(root, 'cloudmart.config.yaml'));
    const mpm = args.msPerMinute;
    result.ms_per_simulated_minute = mpm;

    if (args.waiters !== 'sdk') {
      log(`up against the fake cloud (latency mode, 1 simulated minute = ${mpm} ms) …`);
      const h = await cloud.harness(config, { msPerMinute: mpm });
      try {
        const up = await cloud.measure('up', h, mpm);
        if (!up.ok) notes.push(`up failed: ${JSON.stringify(up.errors)}`);
        log(`re-running up on the complete stack (no-op) …`);
        const noop = await cloud.measureNoop(h);
        log(`destroy …`);
        const destroy = await cloud.measure('destroy', h, mpm);
        if (!destroy.ok) notes.push(`destroy failed: ${JSON.stringify(destroy.errors)}`);
        const leftovers = h.cloud.leftovers(config.stack).filter((l) => !l.kept);
        Object.assign(result, {
          up_vs_critical_path: up.vs_critical_path,
          up_vs_sequential: up.vs_sequential,
          up_wall_ms: up.wall_ms,
          up_critical_path_ms: up.critical_path_ms,
          up_sequential_ms: up.sequential_ms,
          up_wall_simulated_minutes: up.simulated_minutes,
          up_critical_path: up.critical_path,
          up_ok: up.ok,
          destroy_vs_critical_path: destroy.vs_critical_path,
          destroy_vs_sequential: destroy.vs_sequential,
          destroy_wall_ms: destroy.wall_ms,
          destroy_critical_path_ms: destroy.critical_path_ms,
          destroy_sequential_ms: destroy.sequential_ms,
          destroy_simulated_minutes: destroy.simulated_minutes,
          destroy_critical_path: destroy.critical_path,
          destroy_ok: destroy.ok,
          destroy_leftovers: leftovers.map((l) => `${l.type} ${l.name ?? l.id} (${l.region})`),
          noop_mutating_calls: noop.mutating_calls,
          noop_reads_per_resource: noop.reads_per_resource,
          noop_wall_ms: noop.wall_ms,
          noop_read_calls: noop.read_calls,
          noop_resources: noop.resources,
          noop_ok: noop.ok,
          ...(noop.mutating.length ? { noop_mutating: noop.mutating } : {}),
          up_step_ms: up.durations,
        });
      } finally {
        h.dispose();
      }
    }

    if (args.waiters !== 'cloudmart') {
      log(
        `up again with the SDK's default waiter back-off (RDS 30 s/1800 s, CloudFront 60 s/2100 s, others 15 s/120 s) …`,
      );
      const { registry } = await import('../src/steps/registry.js');
      const steps = cloud.withSdkBackoff(registry, 42);
      const h = await cloud.harness(config, { msPerMinute: mpm, steps });
      try {
        const up = await cloud.measure('up', h, mpm);
        if (!up.ok) notes.push(`up with SDK back-off failed: ${JSON.stringify(up.errors)}`);
        const ours = result.up_step_ms as Record<string, number> | undefined;
        const lost: Record<string, number> = {};
        if (ours) {
          for (const [id, d] of Object.entries(up.durations)) {
            const extra = (d - (ours[id] ?? d)) / mpm;
            if (extra >= 0.25) lost[id] = Math.round(extra * 10) / 10;
          }
        }
        result.sdk_backoff = {
          up_wall_ms: up.wall_ms,
          up_simulated_minutes: up.simulated_minutes,
          ...(typeof result.up_critical_path_ms === 'number'
            ? {
                up_vs_cloudmart_critical_path:
                  Math.round((up.wall_ms / result.up_critical_path_ms) * 1000) / 1000,
              }
            : {}),
          up_vs_own_critical_path: up.vs_critical_path,
          lost_simulated_minutes_by_step: lost,
          ok: up.ok,
        };
      } finally {
        h.dispose();
      }
    }
    delete result.up_step_ms;
  }

  if (args.only.has('startup')) {
    const startup = await import('./startup.js');
    if (args.build) {
      log('npm run build …');
      const b = startup.build(root);
      if (b.note) notes.push(b.note);
      if (!b.ok) throw new Error(b.note);
    } else notes.push('--no-build: measured dist/ as it was');
    log(`start-up: node -e '', cloudmart --help, cloudmart plan (${args.runs} runs each) …`);
    const s = startup.measureStartup(root, args.runs);
    Object.assign(result, {
      help_vs_node: s.help_vs_node,
      plan_vs_node: s.plan_vs_node,
      node_ms: s.node_ms,
      help_ms: s.help_ms,
      plan_ms: s.plan_ms,
    });
  }

  if (args.only.has('load')) {
    log(
      `load: cloudmart's runner vs ab (a connection per request) and ab -k, 100 concurrent, ${args.trials} trials each …`,
    );
    const { measureLoad } = await import('./load.js');
    const l = await measureLoad(root, { requests: args.requests, trials: args.trials });
    notes.push(...l.notes);
    Object.assign(result, {
      load_vs_ab: l.load_vs_ab,
      load_vs_ab_keepalive: l.load_vs_ab_keepalive,
      load_cloudmart_rps: l.close.cloudmart_rps,
      load_ab_rps: l.close.ab_rps,
      load_requests: l.close.requests,
      load_keepalive_cloudmart_rps: l.keepalive.cloudmart_rps,
      load_keepalive_ab_rps: l.keepalive.ab_rps,
      load_keepalive_requests: l.keepalive.requests,
      load_concurrency: l.concurrency,
      load_pinned: l.pinned,
      load_cloudmart_cpu_us_per_request: l.close.cloudmart_cpu_us_per_request,
      load_keepalive_cloudmart_cpu_us_per_request: l.keepalive.cloudmart_cpu_us_per_request,
    });
  }

  const goals: Record<string, { goal: string; met: boolean | null }> = {};
  for (const [key, [goal, ok]] of Object.entries(GOALS)) {
    if (!(key in result)) continue;
    const v = result[key];
    // A figure the run could not produce (null: S never reached) misses its goal.
    goals[key] = { goal, met: typeof v === 'number' ? ok(v) : v === null ? false : null };
  }
  result.goals = goals;
  result.notes = notes;

  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    printTable(result, goals);
  }
  const missed = Object.entries(goals).filter(([, g]) => g.met === false);
  if (args.check && missed.length > 0) {
    log(`bench --check: missed ${missed.map(([k, g]) => `${k} (${g.goal})`).join(', ')}`);
    return 1;
  }
  return 0;
}

function printTable(
  result: Record<string, unknown>,
  goals: Record<string, { goal: string; met: boolean | null }>,
): void {
  const rows: Array<[string, string, string, string]> = [];
  const fmt = (v: unknown) =>
    v === null || v === undefined ? 'n/a' : typeof v === 'number' ? String(v) : JSON.stringify(v);
  const add = (key: string, extra = '') => {
    if (!(key in result)) return;
    const g = goals[key];
    rows.push([
      key,
      fmt(result[key]) + extra,
      g?.goal ?? '',
      g ? (g.met === null ? '–' : g.met ? 'yes' : 'NO') : '',
    ]);
  };
  const ms = (key: string) => (typeof result[key] === 'number' ? ` (${fmt(result[key])} ms)` : '');
  add('up_simulated_minutes');
  add('up_vs_physical_path');
  add('up_instant_s');
  add('time_to_s_simulated_minutes');
  add('up_vs_critical_path', ms('up_wall_ms'));
  add('up_vs_sequential');
  add('destroy_vs_critical_path', ms('destroy_wall_ms'));
  add('destroy_vs_sequential');
  add('noop_mutating_calls');
  add('noop_reads_per_resource');
  add('noop_wall_ms');
  add('help_vs_node', ms('help_ms'));
  add('plan_vs_node', ms('plan_ms'));
  add('node_ms');
  add('load_vs_ab');
  add('load_cloudmart_rps');
  add('load_ab_rps');
  add('load_vs_ab_keepalive');
  add('load_keepalive_cloudmart_rps');
  add('load_keepalive_ab_rps');
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...[['figure', 'value', 'goal', 'met'], ...rows].map((r) => r[i]!.length)),
  );
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(['figure', 'value', 'goal', 'met']));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  const sdk = result.sdk_backoff as Record<string, unknown> | undefined;
  if (result.up_critical_path) {
    console.log(
      `\nup: critical path ${fmt(result.up_critical_path_ms)} ms = ${(result.up_critical_path as string[]).join(' → ')}`,
    );
    console.log(
      `up: ${fmt(result.up_wall_simulated_minutes)} simulated minutes of wall time; destroy: ${fmt(result.destroy_simulated_minutes)}`,
    );
  }
  if (sdk) {
    console.log(
      `\nWaiters: cloudmart polls from 2 s, ×1.5, at most 15 s (src/aws/wait.ts). With the SDK's default back-off instead, up took ${fmt(sdk.up_wall_ms)} ms (${fmt(sdk.up_simulated_minutes)} simulated minutes) = ${fmt(sdk.up_vs_cloudmart_critical_path)} × the critical path; simulated minutes lost per step: ${fmt(sdk.lost_simulated_minutes_by_step)}`,
    );
  }
  if (Array.isArray(result.up_physical_path)) {
    console.log(
      `\nup's physical path (${fmt(result.up_physical_path_minutes)} min): ${(result.up_physical_path as string[]).join(' → ')}`,
    );
  }
  if (Array.isArray(result.up_settling) && result.up_settling.length > 0) {
    console.log(`up left settling (verify scores it once done): ${result.up_settling.join('; ')}`);
  }
  const leftovers = result.destroy_leftovers as string[] | undefined;
  if (leftovers?.length) console.log(`\ndestroy left: ${leftovers.join(', ')}`);
  for (const n of result.notes as string[]) console.log(`note: ${n}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    log(`bench failed: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  },
);
