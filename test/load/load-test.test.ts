import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  assertFdLimit,
  histogramOf,
  planLoad,
  loadRecord,
  percentile,
  renderHistogram,
  resolveHost,
  runLoadTest,
  type LoadProgress,
  type LoadResult,
} from '../../src/load/load-test.js';
import { judgeLoad } from '../../src/load/verdict.js';
import { ResponseParser } from '../../src/load/http-client.js';
import { loadResult } from '../helpers/load-result.js';
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
const rawServers: NetServer[] = [];
afterEach(async () => {
  for (const s of rawServers.splice(0)) await new Promise((resolve) => s.close(resolve));
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
    // The figures add up: responses ÷ elapsed, per-second counts sum to the total.
    expect(Math.abs(r.rps - r.responses / r.durationSeconds)).toBeLessThanOrEqual(0.05);
    expect(r.timeline.reduce((n, s) => n + s.responses, 0)).toBe(200);
    expect(r.quantiles).toHaveLength(101);
    expect(r.quantiles[95]).toBe(r.p95);
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
    // Every response took about 30 ms or more: nothing in a bucket that ends below 25 ms.
    const fast = r.histogram.filter((b) => b.le !== null && b.le < 25);
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
    expect(r.responses).toBe(0);
  });

  it('ends when nothing listens (connection errors), with no responses', async () => {
    const { url, server } = await serve(ok);
    servers.splice(servers.indexOf(server), 1);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const r = await runLoadTest({ url, requests: 10, concurrency: 1, maxSeconds: 5 });
    expect(r.responses).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorCodes).toHaveProperty('ECONNREFUSED');
    expect(r.timedOut).toBe(false);
  });

  it('opens one connection per request by default (ab -n -c), and reuses them with keepAlive (ab -k)', async () => {
    const { url, server } = await serve(ok);
    let opened = 0;
    server.on('connection', () => opened++);
    const close = await runLoadTest({ url, requests: 60, concurrency: 5 });
    expect(close.keepAlive).toBe(false);
    expect(close.responses).toBe(60);
    expect(opened).toBe(60);
    opened = 0;
    const kept = await runLoadTest({ url, requests: 60, concurrency: 5, keepAlive: true });
    expect(kept.keepAlive).toBe(true);
    expect(kept.responses).toBe(60);
    expect(opened).toBeLessThanOrEqual(5);
  });

  describe('a connection per request, as ab without -k', () => {
    /** A raw TCP server: `answer` gets each connection and its number, once the request is in. */
    async function rawServer(answer: (socket: Socket, n: number) => void): Promise<string> {
      let n = 0;
      const server = createNetServer((socket) => {
        const i = n++;
        socket.once('data', () => answer(socket, i));
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      rawServers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/products`;
    }
    const ANSWER = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';

    it('frees the slot only once the server has closed the connection, as ab reads to the close', async () => {
      let open = 0;
      let overlapped = false;
      const url = await rawServer((socket) => {
        open++;
        if (open > 1) overlapped = true;
        socket.write(ANSWER);
        // The answer is complete, but the connection stays open a while before the server closes it.
        setTimeout(() => {
          open--;
          socket.end();
        }, 30);
      });
      const r = await runLoadTest({ url, requests: 4, concurrency: 1 });
      expect([r.ok, r.errors, r.timeouts]).toEqual([4, 0, 0]);
      expect(overlapped).toBe(false);
    });

    it('counts an answer whose server never closes as answered at the timeout, not as a timeout', async () => {
      const url = await rawServer((socket) => socket.write(ANSWER));
      const r = await runLoadTest({ url, requests: 2, concurrency: 2, timeoutSeconds: 0.2 });
      expect([r.ok, r.errors, r.timeouts]).toEqual([2, 0, 0]);
    });

    it('closes the connection itself when the server answers keep-alive to a request to close', async () => {
      const url = await rawServer((socket) =>
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}'),
      );
      const r = await runLoadTest({ url, requests: 6, concurrency: 2, timeoutSeconds: 5 });
      expect([r.ok, r.errors, r.timeouts]).toEqual([6, 0, 0]);
      expect(r.max).toBeLessThan(5_000);
    });

    it('reads a head split over several reads while other connections read in between', async () => {
      // Every connection's reads share one buffer: a partial head must be copied out of it.
      const url = await rawServer((socket, i) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-');
        setTimeout(
          () =>
            socket.end(
              `Length: 10\r\nConnection: close\r\n\r\n{"n":${String(i % 10).padStart(4, '0')}}`,
            ),
          5,
        );
      });
      for (const keepAlive of [false, true]) {
        const r = await runLoadTest({ url, requests: 40, concurrency: 8, keepAlive });
        expect([r.ok, r.errors]).toEqual([40, 0]);
      }
    });
  });

  it('reads chunked and close-delimited bodies to the end', async () => {
    const { url } = await serve((req, res) => {
      if (req.url === '/chunked') {
        res.write('{"products":');
        setTimeout(() => res.end('[]}'), 5);
      } else {
        // No length, not chunked: the body ends when the server closes the connection.
        res.shouldKeepAlive = false;
        res.useChunkedEncodingByDefault = false;
        res.end('{"products":[]}');
      }
    });
    for (const keepAlive of [false, true]) {
      const chunked = await runLoadTest({
        url: `${url}/chunked`,
        requests: 20,
        concurrency: 2,
        keepAlive,
      });
      expect([chunked.ok, chunked.errors]).toEqual([20, 0]);
      const eof = await runLoadTest({ url: `${url}/eof`, requests: 20, concurrency: 2, keepAlive });
      expect([eof.ok, eof.errors]).toEqual([20, 0]);
    }
  });

  it('all-503 server: fast answers, yet every verdict fails and says why', async () => {
    const { url } = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('{"error":"unavailable"}');
    });
    const r = await runLoadTest({ url, requests: 100, concurrency: 10 });
    expect([r.responses, r.ok, r.non2xx]).toEqual([100, 0, 100]);
    expect(r.average).toBeLessThan(500);
    const v = judgeLoad(r);
    expect(v.average).toEqual({
      status: 'fail',
      reason: expect.stringContaining('no successful response: 100 of 100 requests failed'),
    });
    expect(v.p95.status).toBe('fail');
    expect(v.average.reason).toContain('100 × 503');
  });

  it('black-holed URL: timeouts count at the timeout, the run stops after a round of them and fails', async () => {
    // Accepts the connection and never answers.
    const { url } = await serve(() => undefined);
    const r = await runLoadTest({ url, requests: 100, concurrency: 10, timeoutSeconds: 0.3 });
    expect(r.responses).toBe(0);
    expect(r.timeouts).toBeGreaterThanOrEqual(10);
    expect(r.errors).toBe(r.timeouts);
    expect(r.requests).toBeLessThan(100);
    expect(r.bailedOut).toContain('no response to the first');
    // Not "0 ms": each timeout counts at the timeout.
    expect(r.p95).toBeGreaterThanOrEqual(300);
    expect(r.average).toBeGreaterThanOrEqual(300);
    const v = judgeLoad(r);
    expect([v.average.status, v.p95.status]).toEqual(['fail', 'fail']);
    expect(v.p95.reason).toContain('no successful response');
  });

  it('a few hanging requests raise the P99 to the timeout and fail the 1 % rule', async () => {
    let n = 0;
    const { url } = await serve((req, res) => {
      if (++n % 20 === 0) return; // 5 % never answered
      ok(req, res);
    });
    const r = await runLoadTest({ url, requests: 100, concurrency: 5, timeoutSeconds: 0.3 });
    expect(r.timeouts).toBe(5);
    expect(r.requests).toBe(100);
    expect(r.responses + r.errors).toBe(100);
    expect(r.p99).toBeGreaterThanOrEqual(300);
    expect(r.max).toBeGreaterThanOrEqual(300);
    const v = judgeLoad(r);
    expect(v.p95.status).toBe('fail');
    expect(v.p95.reason).toContain('5.0 % of requests failed');
  });

  it('ramps --users up to N connections for a duration and reports progress', async () => {
    const { url } = await serve(ok);
    const progress: LoadProgress[] = [];
    const r = await runLoadTest({
      url,
      users: 20,
      durationSeconds: 3,
      rampSeconds: 1,
      onProgress: (p) => progress.push(p),
    });
    expect(r.mode).toBe('users');
    expect(r.concurrency).toBe(20);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.durationSeconds).toBeLessThan(6);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    // The last step starts at 1 s; a progress report after it counts every connection.
    expect(Math.max(...progress.map((p) => p.connections))).toBe(20);
    expect(r.rampSeconds).toBe(1);
    expect(r.timeline.at(-1)!.connections).toBe(20);
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
  const result = (counts: Array<[number | null, number]>): Pick<LoadResult, 'histogram'> => ({
    histogram: counts.map(([le, count]) => ({ le, count })),
  });

  it('draws the buckets from the first to the last non-empty one, scaled to the peak', () => {
    const lines = renderHistogram(
      result([
        [5, 0],
        [10, 10],
        [20, 0],
        [50, 30],
        [null, 0],
      ]),
      30,
    );
    expect(lines).toEqual([
      `  ≤ 10 ms │${'█'.repeat(10)}${' '.repeat(20)}│ 10  25.0%`,
      `  ≤ 20 ms │${' '.repeat(30)}│  0   0.0%`,
      `  ≤ 50 ms │${'█'.repeat(30)}│ 30  75.0%`,
    ]);
  });

  it('labels seconds and the overflow bucket', () => {
    const lines = renderHistogram(
      result([
        [2000, 1],
        [10_000, 0],
        [null, 1],
      ]),
      10,
    );
    expect(lines[0]).toContain('≤ 2 s');
    expect(lines.at(-1)).toContain('> 10 s');
  });

  it('says so when there was no response', () => {
    expect(renderHistogram(result([]))).toEqual(['  (no responses)']);
  });
});

describe('histogramOf', () => {
  it('spreads samples that fixed 1-2-5 buckets would put in two bars', () => {
    // A local server: everything between 1 and 3 ms.
    const sorted = Array.from({ length: 1000 }, (_, i) => 1 + (2 * i) / 999);
    const h = histogramOf(sorted);
    expect(h.reduce((n, b) => n + b.count, 0)).toBe(1000);
    expect(h.filter((b) => b.count > 0).length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...h.map((b) => b.count))).toBeLessThan(200);
  });

  it('keeps the slowest 1 % in the overflow bucket so outliers do not squash the rest', () => {
    const sorted = [
      ...Array.from({ length: 990 }, (_, i) => 10 + i / 10),
      ...Array(10).fill(10_000),
    ];
    const h = histogramOf(sorted);
    expect(h.at(-1)).toEqual({ le: null, count: 10 });
    expect(Math.max(...h.slice(0, -1).map((b) => b.count))).toBeLessThan(200);
  });

  it('is empty without samples', () => {
    expect(histogramOf([])).toEqual([]);
  });
});

describe('planLoad: the ramp does what it announces', () => {
  it('reaches the peak exactly at rampSeconds, in steps about a second apart', () => {
    const plan = planLoad({ users: 300, durationSeconds: 30 });
    expect(plan.rampSeconds).toBe(10);
    expect(plan.stages.reduce((n, s) => n + s.connections, 0)).toBe(300);
    expect(plan.stages[0]!.startMs).toBe(0);
    expect(plan.stages.at(-1)!.startMs).toBe(10_000);
    const gaps = plan.stages.slice(1).map((s, i) => s.startMs - plan.stages[i]!.startMs);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000);
    // Connections open before the end of the ramp: less than the peak.
    const before = plan.stages.filter((s) => s.startMs < 10_000);
    expect(before.reduce((n, s) => n + s.connections, 0)).toBeLessThan(300);
  });

  it('honours an explicit ramp, at most half the duration', () => {
    expect(planLoad({ users: 100, durationSeconds: 60, rampSeconds: 20 }).rampSeconds).toBe(20);
    expect(planLoad({ users: 100, durationSeconds: 10, rampSeconds: 20 }).rampSeconds).toBe(5);
    expect(planLoad({ users: 5, durationSeconds: 10, rampSeconds: 0 }).stages).toEqual([
      { connections: 5, startMs: 0 },
    ]);
  });
});

describe('verdicts and records', () => {
  it('judges the seed criteria, and never passes an empty run', () => {
    const good = judgeLoad(loadResult({ average: 120, p95: 400 }));
    expect([good.average.status, good.p95.status]).toEqual(['pass', 'pass']);
    const slow = judgeLoad(loadResult({ average: 700, p95: 1200 }));
    expect([slow.average.status, slow.p95.status]).toEqual(['fail', 'fail']);
    const empty = judgeLoad(loadResult({ requests: 0, responses: 0, ok: 0 }));
    expect([empty.average.status, empty.p95.status]).toEqual(['unknown', 'unknown']);
  });

  it('fails fast latencies when more than 1 % of the requests failed or were not 2xx', () => {
    const r = loadResult({ responses: 1000, ok: 985, non2xx: 15, average: 20, p95: 40 });
    const v = judgeLoad(r);
    expect(v.average).toEqual({ status: 'fail', reason: expect.stringContaining('1.5 %') });
    expect(v.p95.status).toBe('fail');
    // At 1 % exactly it passes.
    const edge = judgeLoad(loadResult({ ok: 990, non2xx: 10, average: 20, p95: 40 }));
    expect([edge.average.status, edge.p95.status]).toEqual(['pass', 'pass']);
  });

  it('fails every verdict of a run with no successful response, and says why', () => {
    const r = loadResult({
      concurrency: 1000,
      ok: 0,
      non2xx: 1000,
      statusCodes: { '503': 1000 },
      average: 3,
      p95: 5,
    });
    const v = judgeLoad(r);
    for (const verdict of [v.average, v.p95, v.users]) {
      expect(verdict.status).toBe('fail');
      expect(verdict.reason).toContain('no successful response');
    }
    expect(v.average.reason).toContain('1000 × 503');
  });

  it('keeps the last 1,000-user run when a smaller run is recorded after it', () => {
    const users = loadRecord(loadResult({ concurrency: 1000, at: '2025-01-01T00:00:00.000Z' }), {});
    expect(users.usersRun?.concurrency).toBe(1000);
    const later = loadRecord(
      loadResult({ concurrency: 100, at: '2025-01-02T00:00:00.000Z' }),
      users,
    );
    expect(later.concurrency).toBe(100);
    expect(later.usersRun).toEqual(users.usersRun);
    expect(later).not.toHaveProperty('samples');
  });
});

describe('ResponseParser', () => {
  const head = (status: number, length: number, connection: string) =>
    `HTTP/1.1 ${status} OK\r\ncontent-length: ${length}\r\nconnection: ${connection}\r\n\r\n`;

  it('reads each head again when it differs from the last, even at the same length', () => {
    const p = new ResponseParser();
    const answers: Array<[string, number, boolean]> = [
      [head(200, 2, 'keep-alive') + 'ok', 200, false],
      [head(200, 2, 'keep-alive') + 'ok', 200, false],
      [head(503, 3, 'close     ') + 'bad', 503, true],
      [head(200, 2, 'keep-alive') + 'ok', 200, false],
    ];
    for (const [text, status, close] of answers) {
      p.reset();
      expect(p.feed(Buffer.from(text, 'latin1'))).toBe(true);
      expect([p.status, p.close]).toEqual([status, close]);
    }
    // The body length comes from the head just read: 3 bytes, not the 2 of the head before.
    p.reset();
    expect(p.feed(Buffer.from(head(503, 3, 'close     ') + 'ba', 'latin1'))).toBe(false);
    expect(p.feed(Buffer.from('d', 'latin1'))).toBe(true);
  });
});
