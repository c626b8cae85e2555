import { setImmediate } from 'node:timers';
import { afterEach, describe, expect, it } from 'vitest';
import { retry, start } from '../src/app.js';
import { captureLogger, fakeCache, fakeClock, fakeDb, send } from './helpers.js';

let app;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

function failingFirst(n, db) {
  let left = n;
  db.migrate = async () => {
    db.calls.migrate++;
    if (left-- > 0)
      throw Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    return 20;
  };
  return db;
}

describe('start', () => {
  it('retries the database setup with growing delays (RDS may be failing over), then listens', async () => {
    const clock = fakeClock();
    const logger = captureLogger(clock);
    const db = failingFirst(4, fakeDb(clock));
    const cache = fakeCache(clock);
    app = await start({ db, cache, logger, clock, port: 0, host: '127.0.0.1' });
    expect(db.calls.migrate).toBe(5);
    expect(clock.sleeps).toEqual([2000, 4000, 8000, 15_000]);
    const retries = logger.entries().filter((e) => e.msg === 'database setup failed, retrying');
    expect(retries).toHaveLength(4);
    expect(retries[0]).toMatchObject({ level: 'ERROR', attempt: 1 });
    expect(retries[0].error).toBe('57P03: the database system is starting up');
    expect(logger.entries().at(-1)).toMatchObject({ level: 'INFO', msg: 'listening', seeded: 20 });

    const res = await send(app.server.address().port, '/health');
    expect(res.body).toEqual({ status: 'ok', db: 'ok', redis: 'ok' });
  });

  it('gives up after its time budget so that the service manager restarts it', async () => {
    const clock = fakeClock();
    const db = failingFirst(Infinity, fakeDb(clock));
    await expect(
      start({
        db,
        cache: fakeCache(clock),
        logger: captureLogger(clock),
        clock,
        port: 0,
        host: '127.0.0.1',
        initMs: 60_000,
      }),
    ).rejects.toThrow('starting up');
    // attempts at 0, 2, 6, 14, 29, 44, 59 s fail inside the 60 s budget; the one at 74 s ends it
    expect(clock.sleeps).toEqual([2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000]);
  });

  it('stops gracefully: closes the server, then the database pool and Redis, once', async () => {
    const clock = fakeClock();
    const db = fakeDb(clock);
    const cache = fakeCache(clock);
    const logger = captureLogger(clock);
    const started = await start({ db, cache, logger, clock, port: 0, host: '127.0.0.1' });
    const { port } = started.server.address();
    const first = started.stop();
    expect(started.stop()).toBe(first);
    await first;
    expect(started.server.listening).toBe(false);
    expect(db.calls.close).toBe(1);
    expect(cache.calls.close).toBe(1);
    await expect(send(port, '/health')).rejects.toThrow(/ECONNREFUSED/);
    expect(logger.entries().some((e) => e.msg === 'shutting down')).toBe(true);
  });

  it('lets an in-flight request finish during a graceful stop', async () => {
    const clock = fakeClock();
    const db = fakeDb(clock);
    let release;
    db.list = () => new Promise((resolve) => (release = () => resolve([])));
    const started = await start({
      db,
      cache: fakeCache(clock),
      logger: captureLogger(clock),
      clock,
      port: 0,
      host: '127.0.0.1',
    });
    const pending = send(started.server.address().port, '/api/products');
    await new Promise((resolve) => {
      const poll = () => (release ? resolve() : setImmediate(poll));
      poll();
    });
    const stopping = started.stop();
    release();
    expect((await pending).status).toBe(200);
    await stopping;
    expect(db.calls.close).toBe(1);
  });

  it('rejects when the port is taken', async () => {
    const clock = fakeClock();
    const deps = () => ({
      db: fakeDb(clock),
      cache: fakeCache(clock),
      logger: captureLogger(clock),
      clock,
      host: '127.0.0.1',
    });
    app = await start({ ...deps(), port: 0 });
    await expect(start({ ...deps(), port: app.server.address().port })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe('retry', () => {
  it('returns at once when the first attempt succeeds', async () => {
    const clock = fakeClock();
    const logger = captureLogger(clock);
    const value = await retry(async () => 'ok', { clock, logger, timeoutMs: 1000, what: 'x' });
    expect(value).toBe('ok');
    expect(clock.sleeps).toEqual([]);
    expect(logger.lines).toEqual([]);
  });
});
