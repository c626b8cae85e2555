import { setImmediate } from 'node:timers';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { captureLogger, deferred, fakeCache, fakeClock, fakeDb, listen, send } from './helpers.js';

let clock, db, cache, logger, srv;

async function startApp(options = {}) {
  srv = await listen(createApp({ db, cache, logger, clock, ...options }));
  return (path, init) => send(srv.port, path, init);
}

beforeEach(() => {
  clock = fakeClock();
  db = fakeDb(clock);
  cache = fakeCache(clock);
  logger = captureLogger(clock);
});

afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

describe('GET /health', () => {
  it('answers 200 when the database and Redis both answer', async () => {
    const get = await startApp();
    const res = await get('/health');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ status: 'ok', db: 'ok', redis: 'ok' });
    expect(db.calls.ping).toBe(1);
    expect(cache.calls.ping).toBe(1);
  });

  it('answers 503 naming the database when it is down, and logs an ERROR line', async () => {
    db.down = true;
    const get = await startApp();
    const res = await get('/health');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'error', db: 'error', redis: 'ok' });
    const [line] = logger.requests();
    expect(line).toMatchObject({ level: 'ERROR', path: '/health', status: 503 });
    expect(line.error).toContain('db: ECONNREFUSED');
  });

  it('answers 503 naming Redis when it is down', async () => {
    cache.down = true;
    const get = await startApp();
    const res = await get('/health');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'error', db: 'ok', redis: 'error' });
  });

  it('answers 503 within its timeout when the database hangs (half-open connection)', async () => {
    db.hang = true;
    cache.hang = true;
    const get = await startApp({ healthMs: 30 });
    const res = await get('/health');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'error', db: 'error', redis: 'error' });
    expect(logger.requests()[0].error).toMatch(/db: ETIMEDOUT.*redis: ETIMEDOUT/);
  });

  it('serves a dependency-free liveness check on /health/live', async () => {
    db.down = true;
    const get = await startApp();
    const res = await get('/health/live');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(db.calls.ping).toBe(0);
  });

  it('answers HEAD without a body', async () => {
    const get = await startApp();
    const res = await get('/health', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });
});

describe('GET /api/products', () => {
  it('reads from the database on a miss and caches the result for 30 s', async () => {
    const get = await startApp();
    const res = await get('/api/products');
    expect(res.status).toBe(200);
    expect(res.body.products.map((p) => p.id)).toEqual([1, 2, 3]);
    expect(res.body.products[0]).toEqual({
      id: 1,
      name: 'Mouse',
      category: 'Electronics',
      price: 19.99,
      stock: 10,
    });
    expect(db.calls.list).toBe(1);
    expect(cache.sets).toEqual([{ key: 'products:v1', ttl: 30 }]);
    expect(logger.requests()[0].cache).toBe('miss');
  });

  it('serves a hit from Redis without touching the database', async () => {
    const get = await startApp();
    const first = await get('/api/products');
    const second = await get('/api/products');
    expect(second.body).toEqual(first.body);
    expect(db.calls.list).toBe(1);
    expect(cache.calls.set).toBe(1);
    expect(logger.requests().map((l) => l.cache)).toEqual(['miss', 'hit']);
  });

  it('reads the database again once the TTL has passed', async () => {
    const get = await startApp();
    await get('/api/products');
    clock.advance(29_000);
    await get('/api/products');
    expect(db.calls.list).toBe(1);
    clock.advance(2_000);
    await get('/api/products');
    expect(db.calls.list).toBe(2);
  });

  it('honours a configured TTL', async () => {
    const get = await startApp({ ttlSeconds: 5 });
    await get('/api/products');
    expect(cache.sets[0].ttl).toBe(5);
  });

  it('still answers 200 from the database when Redis is down, and logs the cache failure', async () => {
    cache.down = true;
    const get = await startApp();
    const res = await get('/api/products');
    expect(res.status).toBe(200);
    expect(res.body.products).toHaveLength(3);
    expect(cache.calls.set).toBe(0); // no second wait on a cache known to be failing
    const entries = logger.entries();
    expect(entries.find((e) => e.msg === 'cache read failed')).toMatchObject({
      level: 'ERROR',
      key: 'products:v1',
    });
    expect(logger.requests()[0]).toMatchObject({ level: 'INFO', status: 200, cache: 'error' });
  });

  it('still answers 200 when Redis hangs, after the short cache timeout', async () => {
    cache.hang = true;
    const get = await startApp({ cacheMs: 20 });
    const res = await get('/api/products');
    expect(res.status).toBe(200);
    expect(logger.entries().find((e) => e.msg === 'cache read failed').error).toMatch(/ETIMEDOUT/);
  });

  it('answers 200 when only the cache write fails', async () => {
    const get = await startApp();
    cache.set = async () => {
      throw new Error("READONLY You can't write against a read only replica.");
    };
    const res = await get('/api/products');
    expect(res.status).toBe(200);
    expect(logger.entries().find((e) => e.msg === 'cache write failed').error).toMatch(/READONLY/);
  });

  it('treats a corrupt cache entry as a miss', async () => {
    const get = await startApp();
    cache.store.set('products:v1', { value: '{not json', expires: Infinity });
    const res = await get('/api/products');
    expect(res.status).toBe(200);
    expect(db.calls.list).toBe(1);
  });

  it('answers 503 when the database is down and nothing is cached', async () => {
    db.down = true;
    const get = await startApp();
    const res = await get('/api/products');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'database unavailable' });
    expect(logger.requests()[0]).toMatchObject({ level: 'ERROR', status: 503 });
    expect(logger.requests()[0].error).toMatch(/ECONNREFUSED/);
  });

  it('answers 503 when a query hangs past the database timeout', async () => {
    db.hang = true;
    const get = await startApp({ dbMs: 20 });
    const res = await get('/api/products');
    expect(res.status).toBe(503);
  });

  it('keeps serving cached products while the database fails over', async () => {
    const get = await startApp();
    await get('/api/products');
    db.down = true;
    const res = await get('/api/products');
    expect(res.status).toBe(200);
  });

  it('sends one query for concurrent misses of the same key', async () => {
    const gate = deferred();
    db.gate = gate.promise;
    const get = await startApp();
    const pending = Array.from({ length: 5 }, () => get('/api/products'));
    await vi.waitFor(() => expect(cache.calls.get).toBe(5));
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve();
    const all = await Promise.all(pending);
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(db.calls.list).toBe(1);
  });
});

describe('GET /api/products/:id', () => {
  it('returns one product and caches it under its own key', async () => {
    const get = await startApp();
    const res = await get('/api/products/3');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 3, name: 'Chair', price: 289 });
    expect(cache.sets).toEqual([{ key: 'products:v1:3', ttl: 30 }]);
    await get('/api/products/3');
    expect(db.calls.get).toBe(1);
  });

  it('answers 404 for a product that does not exist, without caching it', async () => {
    const get = await startApp();
    const res = await get('/api/products/999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'product not found' });
    expect(cache.sets).toEqual([]);
    expect(logger.requests()[0]).toMatchObject({ level: 'INFO', status: 404 });
  });

  it('answers 404 for an id that is not a number', async () => {
    const get = await startApp();
    expect((await get('/api/products/abc')).status).toBe(404);
    expect((await get('/api/products/1e3')).status).toBe(404);
    expect(db.calls.get).toBe(0);
  });
});

describe('other routes', () => {
  it('answers unknown routes with a JSON 404', async () => {
    const get = await startApp();
    for (const path of ['/', '/nope', '/api/products/', '/healthz']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual({ error: 'not found' });
    }
  });

  it('answers other methods with 405 and an Allow header', async () => {
    const get = await startApp();
    const res = await get('/api/products', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(db.calls.list).toBe(0);
  });
});

describe('request log lines', () => {
  it('logs one JSON line per request with the fields the metric filters read', async () => {
    const get = await startApp();
    await get('/api/products?page=2');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0].endsWith('\n')).toBe(true);
    const line = JSON.parse(logger.lines[0]);
    expect(Object.keys(line)).toEqual([
      'ts',
      'level',
      'method',
      'path',
      'status',
      'duration_ms',
      'query_time',
      'user',
      'cache',
    ]);
    expect(line).toMatchObject({
      ts: '2025-01-01T00:00:00.000Z',
      level: 'INFO',
      method: 'GET',
      path: '/api/products', // no query string in the logs
      status: 200,
      duration_ms: 0,
      query_time: 0,
    });
    expect(line.user).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reports query_time in seconds, so a slow query matches `$.query_time > 1`', async () => {
    db.listDelayMs = 1500;
    const get = await startApp();
    await get('/api/products');
    const [line] = logger.requests();
    expect(line.query_time).toBe(1.5);
    expect(line.duration_ms).toBe(1500);
    expect(line.level).toBe('INFO');
  });

  it('keeps query_time at 0 on a cache hit', async () => {
    db.listDelayMs = 1500;
    const get = await startApp();
    await get('/api/products');
    await get('/api/products');
    expect(logger.requests()[1].query_time).toBe(0);
  });

  it('identifies users by a hash of the first forwarded address and never logs the address', async () => {
    const get = await startApp();
    await get('/api/products', { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.1.17' } });
    await get('/api/products', { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.2.4' } });
    await get('/api/products', { headers: { 'x-forwarded-for': '198.51.100.7' } });
    const users = logger.requests().map((l) => l.user);
    expect(users[0]).toBe(createHash('sha256').update('203.0.113.9').digest('hex').slice(0, 16));
    expect(users[1]).toBe(users[0]);
    expect(users[2]).not.toBe(users[0]);
    expect(logger.lines.join('')).not.toContain('203.0.113.9');
  });

  it('uses ERROR for 5xx and INFO for everything else', async () => {
    const get = await startApp();
    await get('/health');
    await get('/missing');
    db.down = true;
    await get('/api/products');
    expect(logger.requests().map((l) => [l.status, l.level])).toEqual([
      [200, 'INFO'],
      [404, 'INFO'],
      [503, 'ERROR'],
    ]);
  });

  it('keeps answering when the log destination fails', async () => {
    const failing = captureLogger(clock);
    srv = await listen(
      createApp({
        db,
        cache,
        clock,
        logger: { ...failing, request: () => failing.request({ status: 200, bad: 1n }) },
      }),
    );
    const res = await send(srv.port, '/health');
    expect(res.status).toBe(200);
  });
});

describe('/api/drill-markers/:id', () => {
  it('PUT writes a marker through the database and GET reads it back; an unknown one is 404', async () => {
    const get = await startApp();
    const put = await get('/api/drill-markers/drill-1234abcd', { method: 'PUT' });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({ id: 'drill-1234abcd', writtenAt: clock.now() });
    const read = await get('/api/drill-markers/drill-1234abcd');
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ id: 'drill-1234abcd', writtenAt: put.body.writtenAt });
    expect((await get('/api/drill-markers/drill-lost0000')).status).toBe(404);
    expect(db.calls.putMarker).toBe(1);
    expect(db.calls.getMarker).toBe(2);
  });

  it('answers 503 when the database is down, and refuses other methods and bad ids', async () => {
    const get = await startApp();
    db.down = true;
    expect((await get('/api/drill-markers/drill-1234abcd', { method: 'PUT' })).status).toBe(503);
    db.down = false;
    const del = await get('/api/drill-markers/drill-1234abcd', { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD, PUT');
    expect((await get('/api/drill-markers/x', { method: 'PUT' })).status).toBe(404);
    expect((await get('/api/products', { method: 'PUT' })).status).toBe(405);
  });

  it('answers 429 when the database keeps as many markers as it will (the route is open)', async () => {
    const get = await startApp();
    db.markersFull = true;
    const put = await get('/api/drill-markers/drill-1234abcd', { method: 'PUT' });
    expect(put.status).toBe(429);
    expect(put.body).toEqual({ error: 'too many drill markers' });
    expect(db.markers.size).toBe(0);
  });
});
