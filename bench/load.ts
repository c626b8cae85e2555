/**
 * `load_vs_ab`: requests per second of cloudmart's load runner (`runLoadTest`, what
 * `cloudmart load` runs) ÷ ApacheBench `ab -k` against the same local server, same
 * concurrency, same number of requests. Trials alternate (ours, ab, ours, ab, …) and the
 * median of each side is compared.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { median, round } from './critical-path.js';

export interface LoadBenchResult {
  load_vs_ab: number | null;
  cloudmart_rps: number;
  ab_rps: number | null;
  requests: number;
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

function runAb(url: string, requests: number, concurrency: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ab', ['-k', '-q', '-n', String(requests), '-c', String(concurrency), url]);
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
  const concurrency = options.concurrency ?? 100;
  const trials = options.trials ?? 3;
  const notes: string[] = [];
  const { runLoadTest } = await import('../src/load/load-test.js');
  const hasAb = abAvailable();
  if (!hasAb)
    notes.push(
      'ab (ApacheBench) is not installed: load_vs_ab is null. On Debian/Ubuntu: apt-get install apache2-utils',
    );
  const { url, child } = await startServer(root);
  try {
    const ours: number[] = [];
    const theirs: number[] = [];
    const runOurs = async (n: number) => {
      const r = await runLoadTest({ url, requests: n, concurrency });
      if (r.errors > 0 || r.non2xx > 0)
        throw new Error(`runLoadTest: ${r.errors} errors, ${r.non2xx} non-2xx`);
      return r.rps;
    };
    // Warm-up of both (JIT, sockets), not counted.
    await runOurs(Math.min(requests, 2_000));
    if (hasAb) await runAb(url, Math.min(requests, 2_000), concurrency);
    for (let i = 0; i < trials; i++) {
      ours.push(await runOurs(requests));
      if (hasAb) theirs.push(await runAb(url, requests, concurrency));
    }
    const oursRps = median(ours);
    const abRps = hasAb ? median(theirs) : null;
    return {
      load_vs_ab: abRps ? round(oursRps / abRps, 3) : null,
      cloudmart_rps: round(oursRps, 0),
      ab_rps: abRps === null ? null : round(abRps, 0),
      requests,
      concurrency,
      trials,
      notes,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
