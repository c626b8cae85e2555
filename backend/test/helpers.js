import { request } from 'node:http';
import { createLogger } from '../src/app.js';

/** A clock that only moves when told to; `sleep` moves it at once and records the delay. */
export function fakeClock(start = Date.UTC(2025, 0, 1)) {
  const clock = {
    t: start,
    sleeps: [],
    now: () => clock.t,
    advance: (ms) => {
      clock.t += ms;
    },
    sleep: async (ms) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const PRODUCTS = [
  { id: 1, name: 'Mouse', category: 'Electronics', price: 19.99, stock: 10 },
  { id: 2, name: 'Keyboard', category: 'Electronics', price: 89, stock: 17 },
  { id: 3, name: 'Chair', category: 'Office', price: 289, stock: 24 },
];

/**
 * The `db` interface of createApp. `down` makes every call reject like a dropped connection,
 * `hang` makes calls never settle, `listDelayMs` moves the fake clock during a list (a slow query).
 */
export function fakeDb(clock, over = {}) {
  const db = {
    down: false,
    hang: false,
    listDelayMs: 0,
    calls: { ping: 0, list: 0, get: 0, migrate: 0, close: 0, putMarker: 0, getMarker: 0 },
    markers: new Map(),
    markersFull: false,
    gate: null,
    ...over,
    async call(name) {
      db.calls[name]++;
      if (db.hang) return new Promise(() => {});
      if (db.down)
        throw Object.assign(new Error('connect ECONNREFUSED 10.0.21.5:5432'), {
          code: 'ECONNREFUSED',
        });
    },
    ping: async () => {
      await db.call('ping');
      return [{ '?column?': 1 }];
    },
    list: async () => {
      await db.call('list');
      if (db.gate) await db.gate;
      clock.advance(db.listDelayMs);
      return PRODUCTS.map((p) => ({ ...p }));
    },
    get: async (id) => {
      await db.call('get');
      return PRODUCTS.find((p) => p.id === id) ?? null;
    },
    migrate: async () => {
      await db.call('migrate');
      return 20;
    },
    putMarker: async (id, writtenAt) => {
      await db.call('putMarker');
      if (db.markersFull) return false;
      db.markers.set(id, writtenAt);
      return true;
    },
    getMarker: async (id) => {
      await db.call('getMarker');
      return db.markers.has(id) ? { id, writtenAt: db.markers.get(id) } : null;
    },
    close: async () => {
      db.calls.close++;
    },
  };
  return db;
}

/** The `cache` interface with TTLs on the fake clock; `down` rejects, `hang` never answers. */
export function fakeCache(clock, over = {}) {
  const store = new Map();
  const cache = {
    store,
    down: false,
    hang: false,
    calls: { get: 0, set: 0, ping: 0, close: 0 },
    sets: [],
    ...over,
    async call(name) {
      cache.calls[name]++;
      if (cache.hang) return new Promise(() => {});
      if (cache.down)
        throw Object.assign(new Error('The client is offline'), { code: 'ECONNREFUSED' });
    },
    get: async (key) => {
      await cache.call('get');
      const hit = store.get(key);
      return hit && hit.expires > clock.now() ? hit.value : null;
    },
    set: async (key, value, ttl) => {
      await cache.call('set');
      cache.sets.push({ key, ttl });
      store.set(key, { value, expires: clock.now() + ttl * 1000 });
    },
    ping: async () => {
      await cache.call('ping');
      return 'PONG';
    },
    close: async () => {
      cache.calls.close++;
    },
  };
  return cache;
}

/** A real logger (createLogger) writing into an array; `entries()` parses the lines. */
export function captureLogger(clock) {
  const lines = [];
  const logger = createLogger((line) => lines.push(line), clock);
  logger.lines = lines;
  logger.entries = () => lines.map((l) => JSON.parse(l));
  logger.requests = () => logger.entries().filter((e) => e.method);
  return logger;
}

/** Listens on 127.0.0.1:0; `close()` ends every connection so that no test hangs. */
export async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One HTTP request without keep-alive, bounded by a timeout. Parses JSON bodies. */
export function send(port, path, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers, agent: false, timeout: 5000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            text,
            body: text ? JSON.parse(text) : undefined,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
