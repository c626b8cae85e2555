import { request } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metricFilterSpecs } from '../../../src/steps/phase2-monitoring/log-groups.js';
import { testConfig } from '../../helpers/context.js';
import { matchesFilterPattern } from '../../helpers/filter-pattern.js';

/** The reference backend (plain JS), loaded by path so the typecheck does not need its types. */
const BACKEND = '../../../backend/src/app.js';

interface Shop {
  get(path: string): Promise<number>;
  lines: string[];
  setDbDown(down: boolean): void;
  setCacheDown(down: boolean): void;
  close(): Promise<void>;
}

/** The real backend on 127.0.0.1 with an in-memory database and cache; its log lines kept. */
async function startShop(): Promise<Shop> {
  const { createApp, createLogger } = (await import(BACKEND)) as {
    createApp: (deps: Record<string, unknown>) => Server;
    createLogger: (write: (line: string) => void) => unknown;
  };
  const lines: string[] = [];
  let dbDown = false;
  let cacheDown = false;
  const refuse = () =>
    Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  const store = new Map<string, string>();
  const db = {
    ping: () => (dbDown ? refuse() : Promise.resolve([{ 1: 1 }])),
    list: () => (dbDown ? refuse() : Promise.resolve([{ id: 1, name: 'Mug', price: 12 }])),
    get: (id: number) => (dbDown ? refuse() : Promise.resolve(id === 1 ? { id: 1 } : null)),
  };
  const cache = {
    ping: () => (cacheDown ? refuse() : Promise.resolve('PONG')),
    get: (k: string) => (cacheDown ? refuse() : Promise.resolve(store.get(k) ?? null)),
    set: (k: string, v: string) => (cacheDown ? refuse() : Promise.resolve(void store.set(k, v))),
  };
  const server = createApp({
    db,
    cache,
    logger: createLogger((line) => lines.push(line.trim())),
    healthMs: 200,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, agent: false, timeout: 5_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
      req.on('error', reject);
      req.end();
    });
  return {
    get,
    lines,
    setDbDown: (d) => (dbDown = d),
    setCacheDown: (d) => (cacheDown = d),
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** How many of `lines` each metric filter counts. */
function counts(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const spec of metricFilterSpecs(testConfig()))
    out[spec.filterName] = lines.filter((l) => matchesFilterPattern(spec.filterPattern, l)).length;
  return out;
}

describe('custom metrics from the backend log (metric filters)', () => {
  it("an idle shop's log lines (health checks, a failed /health, a cache error) count no request, user or error", async () => {
    const shop = await startShop();
    try {
      // The ALB checks /health/live on each instance; Route 53's checkers call /health.
      for (let i = 0; i < 8; i++) expect(await shop.get('/health/live')).toBe(200);
      for (let i = 0; i < 8; i++) expect(await shop.get('/health')).toBe(200);
      // A database blip: /health answers 503 (an ERROR line), still not a shop request.
      shop.setDbDown(true);
      expect(await shop.get('/health')).toBe(503);
      shop.setDbDown(false);
      expect(shop.lines.length).toBe(17);
      expect(shop.lines.some((l) => l.includes('"level":"ERROR"'))).toBe(true);
      expect(counts(shop.lines)).toEqual({
        ErrorCount: 0,
        SlowQuery: 0,
        ApiResponseTime: 0,
        RequestCount: 0,
        ActiveUsers: 0,
      });
    } finally {
      await shop.close();
    }
  });

  it('counts API requests, their users and their 5xx answers, not the ERROR line of a cache fallback', async () => {
    const shop = await startShop();
    try {
      shop.setCacheDown(true);
      // Served from the database after the cache failed: 200, with an ERROR "cache read failed".
      expect(await shop.get('/api/products')).toBe(200);
      shop.setCacheDown(false);
      expect(await shop.get('/api/products')).toBe(200);
      expect(await shop.get('/api/products/999')).toBe(404);
      shop.setDbDown(true);
      expect(await shop.get('/api/products/1')).toBe(503);
      shop.setDbDown(false);
      await shop.get('/health/live');
      expect(shop.lines.filter((l) => l.includes('cache read failed'))).toHaveLength(1);
      expect(counts(shop.lines)).toMatchObject({
        RequestCount: 4,
        ActiveUsers: 4,
        ApiResponseTime: 4,
        ErrorCount: 1,
      });
    } finally {
      await shop.close();
    }
  });
});
