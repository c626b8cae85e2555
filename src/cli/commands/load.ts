import type { AwsClientFactory } from '../../aws/clients.js';
import { explainAwsError } from '../../aws/errors.js';
import type { Config } from '../../config/schema.js';
import { realSleep } from '../../sleep.js';
import { CloudmartError, ConfigError, formatIssue } from '../../errors.js';
import {
  LOAD_CRITERIA,
  assertFdLimit,
  loadRecord,
  loadVerdicts,
  planLoad,
  renderHistogram,
  runLoadTest,
  type LoadResult,
} from '../../load/load-test.js';
import type { GroupCounts, ScalingView } from '../../load/scaling-view.js';
import { checkTargetUrl, joinUrl, stackBaseUrl, withDefaultPath } from '../../load/target.js';
import type { StateStore } from '../../state/store.js';
import { type StateFile } from '../../state/store.js';
import { STEP, type AlbOutputs, type AsgOutputs, type DnsOutputs } from '../../steps/outputs.js';
import type { Io } from '../io.js';
import {
  announceTarget,
  awsFactory,
  checkCredentials,
  readConfig,
  openStore,
  type GlobalOptions,
} from '../runtime.js';

export interface LoadCommandOptions {
  requests: number;
  concurrency: number;
  keepAlive?: boolean;
  path: string;
  duration?: number;
  url?: string;
  users?: number;
  watchScaling?: boolean;
  record?: boolean;
  json?: boolean;
  /** Take the state lock to record the result even if another run seems to hold it. */
  forceUnlock?: boolean;
}

interface Target {
  url: string;
  /** The URL is this stack's ALB (or API record): record the result, show the CloudWatch view. */
  isStack: boolean;
  config?: Config;
  store?: StateStore;
  state?: StateFile;
  asgName?: string;
  notes: string[];
}

function doneOutputs<T>(state: StateFile | undefined, id: string): T | undefined {
  const s = state?.steps[id];
  return s?.status === 'done' ? (s.outputs as T | undefined) : undefined;
}

/** Config and state when there are some; with --url neither is required. */
async function resolveTarget(io: Io, g: GlobalOptions, opts: LoadCommandOptions): Promise<Target> {
  const notes: string[] = [];
  let config: Config | undefined;
  try {
    config = await readConfig(g);
  } catch (e) {
    if (!opts.url) throw e;
    const issue = e instanceof ConfigError ? e.issues[0] : undefined;
    notes.push(
      issue?.path === '' && issue.message.startsWith('file not found')
        ? `No config file (${g.config}), so the result is not recorded.`
        : `No usable config (${g.config}: ${issue ? formatIssue(issue) : (e as Error).message}), so the result is not recorded.`,
    );
  }
  let store: StateStore | undefined;
  let state: StateFile | undefined;
  if (config) {
    store = openStore(g, config, io);
    if (opts.url && !(await store.exists())) {
      notes.push(`No state file (${store.path}), so the result is not recorded.`);
      store = undefined;
    } else {
      state = await store.load(config.stack, config.region);
    }
  }
  const alb = doneOutputs<AlbOutputs>(state, STEP.alb);
  const asg = doneOutputs<AsgOutputs>(state, STEP.asg);
  const stackBase =
    config && alb ? stackBaseUrl(config, alb, doneOutputs<DnsOutputs>(state, STEP.dns)) : undefined;

  if (!opts.url) {
    if (!stackBase) {
      throw new CloudmartError(
        'NOT_READY',
        `There is no load balancer in the state (${store?.path ?? 'no state'}): app.alb is not done`,
        {
          exitCode: 2,
          hint: 'Build it with "cloudmart up --phase 1", or test any server with --url http://host:port.',
        },
      );
    }
    return {
      url: joinUrl(stackBase, opts.path),
      isStack: true,
      config,
      store,
      state,
      asgName: asg?.autoScalingGroupName,
      notes,
    };
  }
  const url = withDefaultPath(opts.url, opts.path);
  const isStack = stackBase !== undefined && new URL(url).host === new URL(stackBase).host;
  if (store && !isStack && !opts.record) {
    notes.push(
      `${new URL(url).host} is not this stack's load balancer, so the result is not recorded (pass --record to record it anyway).`,
    );
  }
  return {
    url,
    isStack,
    config,
    ...(store && (isStack || opts.record) ? { store, state } : {}),
    ...(isStack ? { asgName: asg?.autoScalingGroupName } : {}),
    notes,
  };
}

/** Ctrl-C once stops the test and reports what was measured; twice quits at once. */
function stopOnSigint(io: Io, onForce: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    if (++count === 1) {
      io.err('\nStopping the load test (Ctrl-C again to quit now).');
      controller.abort();
    } else {
      onForce();
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const mark = (status: 'pass' | 'fail' | 'unknown') =>
  status === 'pass' ? '✔' : status === 'fail' ? '✖' : '?';

/** "like ab -n 1000 -c 100" / "like ab -k …" / ramp or duration. */
function describeRun(r: LoadResult): string {
  const conn = r.keepAlive
    ? 'connections kept alive (ab -k)'
    : 'one connection per request (ab without -k)';
  if (r.mode === 'requests')
    return `${r.concurrency} concurrent, ${conn}: like "ab${r.keepAlive ? ' -k' : ''} -n ${r.requests} -c ${r.concurrency}"`;
  if (r.mode === 'users')
    return `ramped to ${r.concurrency} connections over ${r.rampSeconds ?? 0} s, ${conn}`;
  return `${r.concurrency} concurrent for a fixed time, ${conn}`;
}

function printResult(io: Io, r: LoadResult): void {
  const v = loadVerdicts(r);
  io.out(`Load test: ${r.url}`);
  io.out(
    `  ${r.requests} requests in ${r.durationSeconds} s, ${describeRun(r)}${r.aborted ? ' — stopped early' : ''}${r.timedOut ? ' — cut at the time bound' : ''}`,
  );
  if (r.bailedOut) io.out(`  Stopped: ${r.bailedOut}`);
  const codes = Object.entries(r.statusCodes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  const errs = Object.entries(r.errorCodes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  io.out(
    `  Responses    ${r.responses} (${r.ok} 2xx, ${r.non2xx} non-2xx${codes ? `; status ${codes}` : ''})`,
  );
  io.out(
    `  Errors       ${r.errors} without a response (${r.timeouts} timeouts at ${r.timeoutSeconds} s${errs ? `; ${errs}` : ''})`,
  );
  io.out(`  Requests/s   ${r.rps} (${r.responses} responses ÷ ${r.durationSeconds} s)`);
  io.out(`  Latency ms   avg ${r.average}  p50 ${r.p50}  p95 ${r.p95}  p99 ${r.p99}`);
  io.out(
    `               min ${r.min}  max ${r.max}${r.timeouts ? '  (timeouts count at the timeout)' : ''}`,
  );
  io.out('');
  io.out('Latency histogram');
  for (const line of renderHistogram(r)) io.out(line);
  io.out('');
  io.out(`${mark(v.average.status)} Average < ${LOAD_CRITERIA.averageMs} ms: ${v.average.reason}`);
  io.out(`${mark(v.p95.status)} P95 < ${LOAD_CRITERIA.p95Ms / 1000} s: ${v.p95.reason}`);
  if (r.concurrency >= LOAD_CRITERIA.users)
    io.out(
      `${mark(v.users.status)} ${LOAD_CRITERIA.users} concurrent users served: ${v.users.reason}`,
    );
}

function printScaling(io: Io, view: ScalingView): void {
  const counts = (c: GroupCounts | null) =>
    c ? `desired ${c.desired}, in service ${c.inService} (min ${c.min}, max ${c.max})` : '?';
  io.out('');
  io.out(`Auto Scaling group ${view.autoScalingGroupName}`);
  io.out(`  before: ${counts(view.before)}`);
  io.out(`  after:  ${counts(view.after)}`);
  io.out(
    `  CPU:    ${view.cpuAverage === null ? 'no datapoint yet (EC2 metrics arrive every 1–5 min)' : `average ${view.cpuAverage}%, max ${view.cpuMax}% (${view.cpuDatapoints} one-minute points)`}`,
  );
  io.out(`  Scaling ${view.scaled ? 'happened' : 'did not happen'} during the test`);
  for (const a of view.activities) io.out(`    ${a.at} ${a.status}: ${a.description}`);
}

/** `load`: the seed's load test against the stack's ALB (or any --url). */
export async function loadCommand(
  io: Io,
  opts: LoadCommandOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  if (opts.users !== undefined && opts.users < 1)
    throw new CloudmartError('USAGE', '--users must be at least 1', { exitCode: 2 });
  if (opts.url !== undefined) checkTargetUrl(opts.url);
  if (opts.users === undefined && opts.duration === undefined && opts.concurrency > opts.requests)
    throw new CloudmartError(
      'USAGE',
      `--concurrency ${opts.concurrency} is more than --requests ${opts.requests}: each connection needs at least one request`,
      {
        exitCode: 2,
        hint: `Pass --concurrency ${opts.requests} or less with --requests ${opts.requests} (--concurrency defaults to 100), or more --requests.`,
      },
    );
  // Say it before anything else when this shell cannot open that many sockets.
  const peak = opts.users ?? opts.concurrency;
  if (peak > 200) await assertFdLimit(peak);
  const target = await resolveTarget(io, g, opts);
  for (const n of target.notes) io.err(n);

  // The CloudWatch view needs the stack's group and working credentials; without them the
  // test still runs.
  let aws: AwsClientFactory | undefined;
  let before: GroupCounts | null = null;
  if (target.isStack && target.config && target.asgName) {
    const factory = awsFactory(g, target.config);
    try {
      if (!opts.json) announceTarget(io, factory, g);
      await checkCredentials(factory);
      const { groupCounts } = await import('../../load/scaling-view.js');
      before = await groupCounts(factory, target.asgName);
      aws = factory;
    } catch (e) {
      io.err(
        `The Auto Scaling and CloudWatch view is skipped: ${explainAwsError(e, 'Reading the Auto Scaling group').message}`,
      );
      await factory.destroy();
    }
  }

  // Announce what the run will do, from the same plan the run follows.
  const plan = planLoad({
    requests: opts.requests,
    concurrency: opts.concurrency,
    ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
    ...(opts.users !== undefined ? { users: opts.users } : {}),
  });
  const conn = opts.keepAlive ? 'connections kept alive' : 'one connection per request';
  const mode =
    plan.mode === 'users'
      ? `ramping to ${plan.peak} connections over ${plan.rampSeconds} s, then holding them until ${plan.durationSeconds} s`
      : plan.mode === 'duration'
        ? `${plan.peak} connections for ${plan.durationSeconds} s`
        : `${plan.requests} requests, ${plan.peak} concurrent`;
  io.err(`Load test against ${target.url}: ${mode}, ${conn}.`);
  // Quitting at once while the result is being recorded must not leave the lock behind.
  const interrupt = stopOnSigint(io, () => target.store?.unlockSync());
  try {
    const total = opts.users === undefined && opts.duration === undefined ? opts.requests : 0;
    const result = await runLoadTest({
      url: target.url,
      requests: opts.requests,
      concurrency: opts.concurrency,
      keepAlive: opts.keepAlive === true,
      ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
      ...(opts.users !== undefined ? { users: opts.users } : {}),
      signal: interrupt.signal,
      onProgress: (p) =>
        io.err(
          `  ${String(p.elapsedSeconds).padStart(4)}s  ${p.done}${total ? `/${total}` : ''} responses  ${p.rps} req/s  ${p.errors} errors  ${p.non2xx} non-2xx${opts.users !== undefined ? `  ${p.connections} connections` : ''}`,
        ),
    });

    let view: ScalingView | undefined;
    if (aws && target.asgName && !result.aborted) {
      try {
        const { scalingView, watchScaling } = await import('../../load/scaling-view.js');
        if (opts.watchScaling) {
          io.err(`Watching ${target.asgName} for scaling (up to 10 min; Ctrl-C stops)…`);
          await watchScaling(
            {
              aws,
              signal: interrupt.signal,
              sleep: (ms) => realSleep(ms, interrupt.signal),
              now: Date.now,
              report: (line) => io.err(line),
            },
            target.asgName,
            before,
          ).catch((e: unknown) => {
            if (!(e instanceof CloudmartError && e.code === 'INTERRUPTED')) throw e;
          });
        }
        view = await scalingView(aws, target.asgName, {
          start: new Date(result.at),
          end: new Date(),
          before,
        });
      } catch (e) {
        io.err(`The CloudWatch view failed: ${explainAwsError(e, 'Reading CloudWatch').message}`);
      }
    }

    if (opts.json) {
      io.out(JSON.stringify({ ...result, ...(view ? { scaling: view } : {}) }, null, 2));
    } else {
      printResult(io, result);
      if (view) printScaling(io, view);
    }

    if (result.aborted) {
      io.err('Stopped early: the result is not recorded.');
      return 130;
    }
    // A failing run is recorded too: verify must see the failure, not an older pass.
    if (target.store && target.config)
      await record(io, target.store, target.config, result, opts.forceUnlock ?? false);
    if (result.responses === 0) {
      throw new CloudmartError(
        'NOT_READY',
        `No response from ${target.url}: ${result.bailedOut ?? `${result.errors} connection error(s)`}`,
        { hint: 'Check the URL, or that the targets are healthy ("cloudmart verify --phase 1").' },
      );
    }
    const v = loadVerdicts(result);
    const failed = [
      v.average,
      v.p95,
      ...(result.concurrency >= LOAD_CRITERIA.users ? [v.users] : []),
    ].filter((x) => x.status === 'fail');
    if (failed.length > 0) {
      io.err(`The run misses the seed's criteria: ${failed[0]!.reason}.`);
      return 1;
    }
    return 0;
  } finally {
    interrupt.dispose();
    await aws?.destroy();
  }
}

/** Write `results.load` under the lock, on a fresh read of the state (others may have written). */
async function record(
  io: Io,
  store: StateStore,
  config: Config,
  result: LoadResult,
  forceUnlock: boolean,
): Promise<void> {
  try {
    await store.lock('load', {
      force: forceUnlock,
      onStale: (info) =>
        io.err(`! Taking over a stale lock of "${info.command}" (pid ${info.pid} is not running).`),
    });
  } catch (e) {
    if (e instanceof CloudmartError && e.code === 'STATE_LOCKED') {
      io.err(`! The result is not recorded: ${e.message}`);
      if (e.hint) io.err(`→ ${e.hint}`);
      return;
    }
    throw e;
  }
  try {
    await store.load(config.stack, config.region);
    await store.update((s) => {
      s.results.load = { ...loadRecord(result, s.results.load), at: result.at };
    });
    io.err(`Recorded in ${store.path}; "cloudmart verify" reads it.`);
  } finally {
    await store.unlock();
  }
}
