/**
 * `load_vs_ab` and `load_vs_ab_keepalive`: requests per second of cloudmart's load runner
 * (`runLoadTest`, what `cloudmart load` runs) ÷ ApacheBench against the same local server, same
 * concurrency, same number of requests, in both of ab's modes: one connection per request
 * (`ab -n -c`, cloudmart's default) and kept-alive connections (`ab -k`, `--keep-alive`).
 *
 * On a machine with two CPUs or more and `taskset` (util-linux), the server is pinned to the
 * first CPU and both clients to the second, so neither client shares a CPU with the server and
 * the scheduler moving processes between CPUs does not decide the figure. cloudmart's runner
 * runs in a process of its own per trial (`bench/load-client.ts`: a warm-up, then the measured
 * run), as `ab` does. Trials alternate (ours then ab, ab then ours, …) and the median of each
 * side is compared.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { median, round } from './critical-path.js';

export interface LoadModeResult {
  ratio: number | null;
  cloudmart_rps: number;
  ab_rps: number | null;
  requests: number;
  /** CPU time of cloudmart's runner per request (user + system), µs: median over the trials. */
  cloudmart_cpu_us_per_request: number;
}

export interface LoadBenchResult {
  /** One connection per request: cloudmart's default vs `ab -n -c`. */
  load_vs_ab: number | null;
  /** Kept-alive connections: `--keep-alive` vs `ab -k`. */
  load_vs_ab_keepalive: number | null;
  close: LoadModeResult;
  keepalive: LoadModeResult;
  concurrency: number;
  trials: number;
  /** Server on CPU 0, both clients on CPU 1 (taskset). */
  pinned: boolean;
  notes: string[];
}

const available = (command: string, args: string[]): boolean => {
  const r = spawnSync(command, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
};

export function abAvailable(): boolean {
  return available('ab', ['-V']);
}

/** `taskset -c <cpu> command args…` when pinning, else the command itself. */
function pinnedCommand(
  pin: boolean,
  cpu: number,
  command: string,
  args: string[],
): [string, string[]] {
  return pin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

async function startServer(
  root: string,
  pin: boolean,
): Promise<{ url: string; child: ChildProcess }> {
  const [cmd, args] = pinnedCommand(pin, 0, process.execPath, [
    '--import',
    'tsx',
    'bench/target-server.ts',
  ]);
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) resolve(Number(line));
    });
    child.once('exit', (code) => reject(new Error(`the target server exited (${String(code)})`)));
    setTimeout(() => reject(new Error('the target server did not start within 20 s')), 20_000);
  });
  return { url: `http://127.0.0.1:${port}/api/products`, child };
}

/** Run a command to its end; its stdout and stderr together. */
function run(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function runAb(
  pin: boolean,
  url: string,
  requests: number,
  concurrency: number,
  keepAlive: boolean,
): Promise<number> {
  const flags = [...(keepAlive ? ['-k'] : []), '-q', '-n', String(requests)];
  const [cmd, args] = pinnedCommand(pin, 1, 'ab', [...flags, '-c', String(concurrency), url]);
  const { code, out } = await run(cmd, args);
  const m = /Requests per second:\s+([\d.]+)/.exec(out);
  const failed = /Failed requests:\s+(\d+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`ab exited ${String(code)}: ${out.slice(-400)}`);
  if (failed && Number(failed[1]) > 0) throw new Error(`ab: ${failed[1]} failed requests`);
  return Number(m[1]);
}

async function runOurs(
  root: string,
  pin: boolean,
  url: string,
  requests: number,
  concurrency: number,
  keepAlive: boolean,
): Promise<{ rps: number; cpu: number }> {
  const [cmd, args] = pinnedCommand(pin, 1, process.execPath, [
    '--import',
    'tsx',
    'bench/load-client.ts',
    url,
    String(requests),
    String(concurrency),
    keepAlive ? 'keepalive' : 'close',
    String(Math.min(requests, 2_000)),
  ]);
  const { code, out } = await run(cmd, args, root);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line)
    throw new Error(`load-client exited ${String(code)}: ${out.slice(-400)}`);
  const r = JSON.parse(line) as {
    rps: number;
    errors: number;
    non2xx: number;
    cpuUsPerRequest: number;
  };
  if (r.errors > 0 || r.non2xx > 0)
    throw new Error(`runLoadTest: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return { rps: r.rps, cpu: r.cpuUsPerRequest };
}

export async function measureLoad(
  root: string,
  options: { requests?: number; concurrency?: number; trials?: number } = {},
): Promise<LoadBenchResult> {
  const requests = options.requests ?? 20_000;
  // A connection per request leaves each port in TIME_WAIT for a minute: fewer requests, so
  // both clients' trials stay well inside the local port range.
  const closeRequests = Math.max(1_000, Math.round(requests / 4));
  const concurrency = options.concurrency ?? 100;
  const trials = options.trials ?? 5;
  const notes: string[] = [];
  const hasAb = abAvailable();
  if (!hasAb)
    notes.push(
      'ab (ApacheBench) is not installed: load_vs_ab and load_vs_ab_keepalive are null. On Debian/Ubuntu: apt-get install apache2-utils',
    );
  const pin = availableParallelism() >= 2 && available('taskset', ['-V']);
  if (!pin)
    notes.push(
      availableParallelism() < 2
        ? 'one CPU: the load server and the clients share it, so load_vs_ab measures the clients’ CPU as much as their speed'
        : 'taskset (util-linux) is not installed: the load server and the clients are not pinned to CPUs of their own, so load_vs_ab varies more',
    );
  const { url, child } = await startServer(root, pin);
  try {
    const mode = async (keepAlive: boolean, n: number): Promise<LoadModeResult> => {
      const ours: number[] = [];
      const cpu: number[] = [];
      const theirs: number[] = [];
      const oneOfOurs = async () => {
        const r = await runOurs(root, pin, url, n, concurrency, keepAlive);
        ours.push(r.rps);
        cpu.push(r.cpu);
      };
      // Warm the server up (its JIT), not counted.
      if (hasAb) await runAb(pin, url, Math.min(n, 2_000), concurrency, keepAlive);
      else await runOurs(root, pin, url, Math.min(n, 2_000), concurrency, keepAlive);
      // Alternate which client goes first, so a machine that gets busier or quieter during the
      // run does not favour one of them.
      for (let i = 0; i < trials; i++) {
        if (hasAb && i % 2 === 1) theirs.push(await runAb(pin, url, n, concurrency, keepAlive));
        await oneOfOurs();
        if (hasAb && i % 2 === 0) theirs.push(await runAb(pin, url, n, concurrency, keepAlive));
      }
      const oursRps = median(ours);
      const abRps = hasAb ? median(theirs) : null;
      return {
        ratio: abRps ? round(oursRps / abRps, 3) : null,
        cloudmart_rps: round(oursRps, 0),
        ab_rps: abRps === null ? null : round(abRps, 0),
        requests: n,
        cloudmart_cpu_us_per_request: round(median(cpu), 1),
      };
    };
    const close = await mode(false, closeRequests);
    const keepalive = await mode(true, requests);
    return {
      load_vs_ab: close.ratio,
      load_vs_ab_keepalive: keepalive.ratio,
      close,
      keepalive,
      concurrency,
      trials,
      pinned: pin,
      notes,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
