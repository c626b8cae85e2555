import http from 'node:http';
import { createHash } from 'node:crypto';

export const systemClock = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

const fail = (status, message, cause) => Object.assign(new Error(message, { cause }), { status });

export function withTimeout(fn, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what} timeout`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([(async () => fn())(), timeout]).finally(() => clearTimeout(timer));
}

export const errText = (e) => (e?.code ? `${e.code}: ` : '') + (e?.message || e);

export function createLogger(write, clock = systemClock) {
  const log = (level, fields) => {
    try {
      write(JSON.stringify({ ts: new Date(clock.now()).toISOString(), level, ...fields }) + '\n');
    } catch {
      // never fail a request over a log line
    }
  };
  return {
    info: (msg, extra) => log('INFO', { msg, ...extra }),
    error: (msg, err, extra) => log('ERROR', { msg, error: errText(err), ...extra }),
    request: (fields) => log(fields.status >= 500 ? 'ERROR' : 'INFO', fields),
  };
}

export function createApp({ db, cache, logger, clock = systemClock, ...o }) {
  const { ttlSeconds = 30, cacheMs = 300, dbMs = 5000, healthMs = 2000 } = o;
  const inflight = new Map();
  // one query per key at a time: no stampede under load
  const load = async (ctx, key, fn) => {
    const t0 = clock.now();
    if (!inflight.has(key)) {
      inflight.set(
        key,
        withTimeout(fn, dbMs, 'db').finally(() => inflight.delete(key)),
      );
    }
    try {
      return await inflight.get(key);
    } catch (err) {
      throw fail(503, 'database unavailable', err);
    } finally {
      ctx.queryMs += clock.now() - t0;
    }
  };
  const cached = async (ctx, key, fn) => {
    try {
      const hit = await withTimeout(() => cache.get(key), cacheMs, 'cache get');
      ctx.cache = hit == null ? 'miss' : 'hit';
      if (hit != null) return JSON.parse(hit);
    } catch (err) {
      ctx.cache = 'error';
      logger.error('cache read failed', err, { key });
    }
    const value = await load(ctx, key, fn);
    if (value && ctx.cache === 'miss') {
      await withTimeout(
        () => cache.set(key, JSON.stringify(value), ttlSeconds),
        cacheMs,
        'cache set',
      ).catch((err) => logger.error('cache write failed', err, { key }));
    }
    return value;
  };
  const health = async (ctx) => {
    const check = (what, fn) =>
      withTimeout(fn, healthMs, what).then(
        () => 'ok',
        (err) => (ctx.errors.push(`${what}: ${errText(err)}`), 'error'),
      );
    const [dbState, redis] = await Promise.all([
      check('db', () => db.ping()),
      check('redis', () => cache.ping()),
    ]);
    const ok = dbState === 'ok' && redis === 'ok';
    return [ok ? 200 : 503, { status: ok ? 'ok' : 'error', db: dbState, redis }];
  };
  const product = async (ctx, id) => {
    const found = await cached(ctx, `products:v1:${+id}`, () => db.get(+id));
    if (!found) throw fail(404, 'product not found');
    return found;
  };
  // drill markers: straight to the database, never the cache
  const marker = async (ctx, id) => {
    const found = await load(ctx, `m:${id}`, () => db.getMarker(id));
    if (!found) throw fail(404, 'marker not found');
    return found;
  };
  const putMarker = async (ctx, id) => {
    const writtenAt = clock.now();
    if (!(await load(ctx, `m+${id}`, () => db.putMarker(id, writtenAt))))
      throw fail(429, 'too many drill markers');
    return [201, { id, writtenAt }];
  };
  const routes = [
    [/^\/health$/, health],
    [/^\/health\/live$/, () => ({ status: 'ok' })],
    [
      /^\/api\/products$/,
      async (ctx) => ({ products: await cached(ctx, 'products:v1', () => db.list()) }),
    ],
    [/^\/api\/products\/(\d{1,9})$/, product],
    [/^\/api\/drill-markers\/([\w-]{8,64})$/, marker, putMarker],
  ];

  const handle = async (req, res) => {
    const start = clock.now();
    const ctx = { queryMs: 0, errors: [] };
    const path = req.url.split('?')[0].slice(0, 200);
    const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    let status = 200;
    let body;
    try {
      const route = routes.find(([re]) => re.test(path));
      if (!route) throw fail(404, 'not found');
      const put = req.method === 'PUT' && route[2];
      if (!['GET', 'HEAD'].includes(req.method) && !put) {
        headers.allow = route[2] ? 'GET, HEAD, PUT' : 'GET, HEAD';
        throw fail(405, 'method not allowed');
      }
      body = await (put || route[1])(ctx, ...path.match(route[0]).slice(1));
      if (Array.isArray(body)) [status, body] = body;
    } catch (err) {
      status = err.status || 500;
      body = { error: status === 500 ? 'internal error' : err.message };
      if (status > 499) ctx.errors.push(errText(err.cause ?? err));
    }
    const json = JSON.stringify(body);
    res.writeHead(status, headers).end(json);
    logger.request({
      method: req.method,
      path,
      status,
      duration_ms: clock.now() - start,
      query_time: ctx.queryMs / 1000,
      user: createHash('sha256')
        .update(req.headers['x-forwarded-for']?.split(',')[0] || req.socket.remoteAddress || '')
        .digest('hex')
        .slice(0, 16),
      cache: ctx.cache,
      error: ctx.errors.join('; ') || undefined,
    });
  };

  const server = http.createServer((req, res) =>
    handle(req, res).catch((err) => {
      logger.error('request failed', err);
      res.destroy();
    }),
  );
  // above the ALB's 60 s idle timeout, or it reuses closed connections (502s)
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

export async function retry(fn, { clock = systemClock, logger, timeoutMs, what }) {
  const deadline = clock.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (clock.now() >= deadline) throw err;
      const delay = Math.min(1000 * 2 ** attempt, 15_000);
      logger.error(`${what} failed, retrying`, err, { attempt });
      await clock.sleep(delay);
    }
  }
}

export async function start({ port, host, initMs = 600_000, graceMs = 10_000, ...deps }) {
  const { db, cache, logger, clock } = deps;
  const what = 'database setup';
  const seeded = await retry(() => db.migrate(), { clock, logger, timeoutMs: initMs, what });
  const server = createApp(deps);
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  logger.info('listening', { port: server.address().port, seeded });
  let stopping;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('shutting down');
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      await new Promise((resolve) => server.close(resolve));
      clearTimeout(force);
      await Promise.allSettled([db.close(), cache.close()]);
    })());
  return { server, stop };
}
