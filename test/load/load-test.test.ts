import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  HISTOGRAM_BOUNDS,
  assertFdLimit,
  loadRecord,
  loadVerdicts,
  percentile,
  renderHistogram,
  resolveHost,
  runLoadTest,
  type LoadProgress,
  type LoadResult,
} from '../../src/load/load-test.js';
import { CloudmartError, InterruptedError } from '../../src/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local HTTP server on 127.0.0.1, port 0; records the paths it served. */
async function serve(handler: Handler): Promise<{ url: string; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const ok: Handler = (_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end('{"products":[]}');
};

describe('runLoadTest', () => {
  it('sends exactly the requested number of requests and computes ordered figures', async () => {
    const { url, paths } = await serve(ok);
    const r = await runLoadTest({ url: `${url}/api/products`, requests: 200, concurrency: 10 });

    expect(r.requests).toBe(200);
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(r.statusCodes).toEqual({ '200': 200 });
    expect(paths.filter((p) => p === '/api/products').length).toBeGreaterThanOrEqual(200);
    expect(r.mode).toBe('requests');
    expect(r.concurrency).toBe(10);
    expect(r.min).toBeGreaterThan(0);
    expect(r.min).toBeLessThanOrEqual(r.p50);
    expect(r.p50).toBeLessThanOrEqual(r.p90);
    expect(r.p90).toBeLessThanOrEqual(r.p95);
    expect(r.p95).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.max);
    expect(r.average).toBeGreaterThanOrEqual(r.min);
    expect(r.average).toBeLessThanOrEqual(r.max);
    expect(r.rps).toBeGreaterThan(0);
    expect(r.histogram.reduce((n, b) => n + b.count, 0)).toBe(200);
    expect(r.histogram).toHaveLength(HISTOGRAM_BOUNDS.length + 1);
    expect(r.aborted).toBe(false);
    expect(Date.parse(r.at)).not.toBeNaN();
  });

  it('measures the latency the server adds', async () => {
    const { url } = await serve((req, res) => setTimeout(() => ok(req, res), 30));
    const r = await runLoadTest({ url, requests: 40, concurrency: 4 });
    expect(r.requests).toBe(40);
    expect(r.min).toBeGreaterThanOrEqual(25);
    expect(r.p50).toBeGreaterThanOrEqual(25);
    expect(r.average).toBeGreaterThanOrEqual(25);
    // Every response took about 30 ms or more: nothing in the buckets up to 20 ms.
    const fast = r.histogram.filter((b) => b.le !== null && b.le <= 20);
    expect(fast.every((b) => b.count === 0)).toBe(true);
    expect(r.histogram.reduce((n, b) => n + b.count, 0)).toBe(40);
  });

  it('counts non-2xx answers (500 on some paths) apart from errors', async () => {
    let n = 0;
    const { url } = await serve((req, res) => {
      n++;
      if (req.url === '/fail' || n % 4 === 0) {
        res.statusCode = 500;
        res.end('boom');
      } else ok(req, res);
    });
    const all = await runLoadTest({ url: `${url}/fail`, requests: 50, concurrency: 5 });
    expect(all.requests).toBe(50);
    expect(all.non2xx).toBe(50);
    expect(all.statusCodes).toEqual({ '500': 50 });
    expect(all.errors).toBe(0);

    const some = await runLoadTest({ url: `${url}/api/products`, requests: 100, concurrency: 5 });
    expect(some.requests).toBe(100);
    expect(some.non2xx).toBeGreaterThan(0);
    expect(some.non2xx).toBeLessThan(100);
    expect(some.non2xx).toBe(some.statusCodes['500']);
    expect(some.statusCodes['200']! + some.statusCodes['500']!).toBe(100);
  });

  it('stops on abort and returns what was measured', async () => {
    const { url } = await serve((req, res) => setTimeout(() => ok(req, res), 100));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const r = await runLoadTest({
      url,
      requests: 10_000,
      concurrency: 5,
      signal: controller.signal,
    });
    expect(r.aborted).toBe(true);
    expect(r.requests).toBeLessThan(10_000);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('is bounded in time even when the server never answers', async () => {
    const { url } = await serve(() => undefined);
    const r = await runLoadTest({ url, requests: 10, concurrency: 2, maxSeconds: 0.5 });
    expect(r.timedOut).toBe(true);
    expect(r.requests).toBe(0);
  });

  it('ends when nothing listens (connection errors), with no responses', async () => {
    const { url, server } = await serve(ok);
    servers.splice(servers.indexOf(server), 1);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const r = await runLoadTest({ url, requests: 10, concurrency: 1, maxSeconds: 5 });
    expect(r.requests).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.timedOut).toBe(false);
  });

  it('ramps --users up to N connections for a duration and reports progress', async () => {
    const { url } = await serve(ok);
    const progress: LoadProgress[] = [];
    const r = await runLoadTest({
      url,
      users: 20,
      durationSeconds: 2,
      rampSeconds: 1,
      onProgress: (p) => progress.push(p),
    });
    expect(r.mode).toBe('users');
    expect(r.concurrency).toBe(20);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.durationSeconds).toBeLessThan(5);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)!.connections).toBe(20);
  });

  it('refuses 1,000 users when the open-file limit is too low, before any request', async () => {
    const { url, paths } = await serve(ok);
    await expect(
      runLoadTest({ url, users: 1000, durationSeconds: 1, fdLimit: async () => 256 }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      exitCode: 2,
      message: expect.stringContaining('open-file limit of this shell is 256'),
      hint: expect.stringContaining('ulimit -n 4096'),
    });
    expect(paths).toHaveLength(0);
  });

  it('rejects bad input with a usage error', async () => {
    await expect(runLoadTest({ url: 'not a url' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runLoadTest({ url: 'ftp://x/' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      runLoadTest({ url: 'http://127.0.0.1:9/', requests: 5, concurrency: 10 }),
    ).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('concurrency') });
  });
});

describe('resolveHost', () => {
  const notFound = () =>
    Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));

  it('fails at once with a clear error for a host that does not resolve, before any connection', async () => {
    let looked = 0;
    const started = Date.now();
    const err = await runLoadTest({
      url: 'http://cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com/api/products',
      requests: 10,
      concurrency: 2,
      lookup: () => (looked++, notFound()),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudmartError);
    expect((err as CloudmartError).code).toBe('NOT_READY');
    expect((err as Error).message).toBe(
      'Cannot resolve cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com (ENOTFOUND)',
    );
    expect(looked).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('looks up no address: IPv4 and bracketed IPv6 literals go straight through', async () => {
    const lookup = () => Promise.reject(new Error('should not be called'));
    await resolveHost('127.0.0.1', { lookup });
    await resolveHost('[::1]', { lookup });
  });

  it('stops waiting at once on Ctrl-C, as an interruption rather than a failure', async () => {
    const ac = new AbortController();
    const waiting = resolveHost('slow.example', {
      dnsWaitSeconds: 120,
      signal: ac.signal,
      lookup: () => new Promise(() => undefined), // never answers
    });
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
  });

  it('tries again within dnsWaitSeconds (a new load balancer resolves after a while)', async () => {
    vi.useFakeTimers();
    try {
      let looked = 0;
      const resolving = resolveHost('new-alb.example', {
        dnsWaitSeconds: 30,
        lookup: () => (++looked < 3 ? notFound() : Promise.resolve({ address: '192.0.2.1' })),
      });
      await vi.advanceTimersByTimeAsync(4_000);
      await resolving;
      expect(looked).toBe(3);
      // And gives up once the wait is over.
      const giving = resolveHost('never.example', { dnsWaitSeconds: 5, lookup: notFound });
      const settled = giving.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(((await settled) as Error).message).toBe('Cannot resolve never.example (ENOTFOUND)');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('assertFdLimit', () => {
  it('passes when the limit is high enough, unlimited or unknown', async () => {
    await expect(assertFdLimit(1000, async () => 4096)).resolves.toBeUndefined();
    await expect(assertFdLimit(1000, async () => Infinity)).resolves.toBeUndefined();
    await expect(assertFdLimit(1000, async () => undefined)).resolves.toBeUndefined();
    await expect(assertFdLimit(1000, async () => 1024)).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBe(0);
  });
});

describe('renderHistogram', () => {
  const result = (counts: Record<string, number>): Pick<LoadResult, 'histogram' | 'requests'> => {
    const histogram = [...HISTOGRAM_BOUNDS, null].map((le) => ({
      le,
      count: counts[String(le)] ?? 0,
    }));
    return { histogram, requests: histogram.reduce((n, b) => n + b.count, 0) };
  };

  it('draws the buckets from the first to the last non-empty one, scaled to the peak', () => {
    const lines = renderHistogram(result({ '10': 10, '20': 0, '50': 30 }), 30);
    expect(lines).toEqual([
      `  ≤ 10 ms │${'█'.repeat(10)}${' '.repeat(20)}│ 10  25.0%`,
      `  ≤ 20 ms │${' '.repeat(30)}│  0   0.0%`,
      `  ≤ 50 ms │${'█'.repeat(30)}│ 30  75.0%`,
    ]);
  });

  it('labels seconds and the overflow bucket', () => {
    const lines = renderHistogram(result({ '2000': 1, null: 1 }), 10);
    expect(lines[0]).toContain('≤ 2 s');
    expect(lines.at(-1)).toContain('> 10 s');
  });

  it('says so when there was no response', () => {
    expect(renderHistogram(result({}))).toEqual(['  (no responses)']);
  });
});

describe('verdicts and records', () => {
  it('judges the seed criteria, and never passes an empty run', () => {
    expect(loadVerdicts({ average: 120, p95: 400, requests: 1000 })).toEqual({
      average: true,
      p95: true,
    });
    expect(loadVerdicts({ average: 700, p95: 1200, requests: 1000 })).toEqual({
      average: false,
      p95: false,
    });
    expect(loadVerdicts({ average: 0, p95: 0, requests: 0 })).toEqual({
      average: false,
      p95: false,
    });
  });

  it('keeps the last 1,000-user run when a smaller run is recorded after it', () => {
    const base = {
      url: 'http://x/api/products',
      requests: 1000,
      errors: 0,
      timeouts: 0,
      non2xx: 0,
      statusCodes: {},
      rps: 100,
      average: 100,
      p50: 90,
      p90: 150,
      p95: 200,
      p99: 300,
      min: 10,
      max: 400,
      durationSeconds: 10,
      mode: 'requests' as const,
      histogram: [],
      aborted: false,
      timedOut: false,
    };
    const users = loadRecord({ ...base, concurrency: 1000, at: '2025-01-01T00:00:00.000Z' }, {});
    expect(users.usersRun?.concurrency).toBe(1000);
    const later = loadRecord({ ...base, concurrency: 100, at: '2025-01-02T00:00:00.000Z' }, users);
    expect(later.concurrency).toBe(100);
    expect(later.usersRun).toEqual(users.usersRun);
    expect(later).not.toHaveProperty('histogram');
  });
});
