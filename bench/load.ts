/**
 * `load_vs_ab` and `load_vs_ab_keepalive`: requests per second of cloudmart's load runner
 * (`runLoadTest`, what `cloudmart load` runs) ÷ ApacheBench against the same local server, same
 * concurrency, same number of requests, in both of ab's modes: one connection per request
 * (`ab -n -c`, cloudmart's default) and kept-alive connections (`ab -k`, `--keep-alive`).
 * Trials alternate (ours then ab, ab then ours, …) and the median of each side is compared.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { median, round } from './critical-path.js';

export interface LoadModeResult {
  ratio: number | null;
  cloudmart_rps: number;
  ab_rps: number | null;
  requests: number;
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
  notes: string[];
}

export function abAvailable(): boolean {
  const r = spawnSync('ab', ['-V'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

async function startServer(root: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/target-server.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

function runAb(
  url: string,
  requests: number,
  concurrency: number,
  keepAlive: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const flags = [...(keepAlive ? ['-k'] : []), '-q', '-n', String(requests)];
    const child = spawn('ab', [...flags, '-c', String(concurrency), url]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const m = /Requests per second:\s+([\d.]+)/.exec(out);
      const failed = /Failed requests:\s+(\d+)/.exec(out);
      if (code !== 0 || !m)
        return reject(new Error(`ab exited ${String(code)}: ${out.slice(-400)}`));
      if (failed && Number(failed[1]) > 0)
        return reject(new Error(`ab: ${failed[1]} failed requests`));
      resolve(Number(m[1]));
    });
  });
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
  const trials = options.trials ?? 3;
  const notes: string[] = [];
  const { runLoadTest } = await import('../src/load/load-test.js');
  const hasAb = abAvailable();
  if (!hasAb)
    notes.push(
      'ab (ApacheBench) is not installed: load_vs_ab and load_vs_ab_keepalive are null. On Debian/Ubuntu: apt-get install apache2-utils',
    );
  const { url, child } = await startServer(root);
  try {
    const mode = async (keepAlive: boolean, n: number): Promise<LoadModeResult> => {
      const ours: number[] = [];
      const theirs: number[] = [];
      const runOurs = async (count: number) => {
        const r = await runLoadTest({ url, requests: count, concurrency, keepAlive });
        if (r.errors > 0 || r.non2xx > 0)
          throw new Error(`runLoadTest: ${r.errors} errors, ${r.non2xx} non-2xx`);
        return r.rps;
      };
      // Warm-up of both (JIT, sockets), not counted.
      await runOurs(Math.min(n, 2_000));
      if (hasAb) await runAb(url, Math.min(n, 2_000), concurrency, keepAlive);
      // Alternate which client goes first, so a machine that gets busier or quieter during the
      // run does not favour one of them.
      for (let i = 0; i < trials; i++) {
        if (hasAb && i % 2 === 1) theirs.push(await runAb(url, n, concurrency, keepAlive));
        ours.push(await runOurs(n));
        if (hasAb && i % 2 === 0) theirs.push(await runAb(url, n, concurrency, keepAlive));
      }
      const oursRps = median(ours);
      const abRps = hasAb ? median(theirs) : null;
      return {
        ratio: abRps ? round(oursRps / abRps, 3) : null,
        cloudmart_rps: round(oursRps, 0),
        ab_rps: abRps === null ? null : round(abRps, 0),
        requests: n,
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
      notes,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
