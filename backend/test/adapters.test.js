import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  loadSettings,
  mysqlOptions,
  openDb,
  openRedis,
  pgOptions,
  secretReader,
} from '../src/adapters.js';
import { createApp } from '../src/app.js';
import { createRepo } from '../src/db.js';
import { captureLogger, fakeCache, fakeClock, listen, send } from './helpers.js';

const ENV = {
  PORT: '8080',
  DB_ENGINE: 'postgres',
  DB_HOST: 'cloudmart-db.abc123.ap-northeast-2.rds.amazonaws.com',
  DB_PORT: '5432',
  DB_NAME: 'cloudmart',
  DB_USER: 'cloudmart',
  DB_PASSWORD: 's3cr3t-Passw0rd',
  DB_CA_FILE: '/etc/cloudmart/rds-ca.pem',
  REDIS_HOST: 'master.cloudmart-redis.abc123.apn2.cache.amazonaws.com',
  REDIS_PORT: '6379',
  REDIS_TLS: '1',
  REDIS_AUTH_TOKEN: 'token-0123456789abcdef',
  LOG_FILE: '/var/log/cloudmart/app.log',
};

describe('loadSettings', () => {
  it('reads the environment the launch template writes', () => {
    expect(loadSettings(ENV)).toEqual({
      port: 8080,
      logFile: '/var/log/cloudmart/app.log',
      db: {
        engine: 'postgres',
        tls: true,
        caFile: '/etc/cloudmart/rds-ca.pem',
        host: ENV.DB_HOST,
        port: 5432,
        database: 'cloudmart',
        user: 'cloudmart',
        password: 's3cr3t-Passw0rd',
      },
      redis: {
        host: ENV.REDIS_HOST,
        port: 6379,
        tls: true,
        password: 'token-0123456789abcdef',
      },
    });
  });

  it('defaults PORT, DB_ENGINE and the ports; TLS stays on; Redis TLS only with REDIS_TLS=1', () => {
    const s = loadSettings({
      DB_HOST: 'localhost',
      DB_NAME: 'shop',
      DB_USER: 'me',
      REDIS_HOST: 'localhost',
    });
    expect(s.port).toBe(8080);
    expect(s.logFile).toBeUndefined();
    expect(s.db).toMatchObject({ engine: 'postgres', port: 5432, tls: true });
    expect(s.redis).toMatchObject({ port: 6379, tls: false, password: undefined });
    const mysql = loadSettings({ ...ENV, DB_ENGINE: 'mysql', DB_PORT: '' });
    expect(mysql.db).toMatchObject({ engine: 'mysql', port: 3306 });
  });

  it('turns database TLS off only with DB_TLS=0 (a local database)', () => {
    expect(loadSettings({ ...ENV, DB_TLS: '0' }).db.tls).toBe(false);
    expect(loadSettings({ ...ENV, DB_TLS: 'false' }).db.tls).toBe(true);
    expect(loadSettings({ ...ENV, REDIS_TLS: 'true' }).redis.tls).toBe(false);
  });

  it('names every missing variable at once, and never echoes a value', () => {
    expect(() => loadSettings({ DB_PASSWORD: 'hunter2' })).toThrow(
      'missing environment variables: DB_HOST, DB_NAME, DB_USER, REDIS_HOST',
    );
  });

  it('rejects an unknown engine and a bad port', () => {
    expect(() => loadSettings({ ...ENV, DB_ENGINE: 'oracle' })).toThrow(/DB_ENGINE/);
    for (const bad of ['0', '70000', 'http', '80.5', '-1']) {
      expect(() => loadSettings({ ...ENV, PORT: bad })).toThrow('PORT is not a port');
    }
    expect(() => loadSettings({ ...ENV, REDIS_PORT: 'x' })).toThrow('REDIS_PORT is not a port');
  });
});

describe('database TLS options', () => {
  const db = loadSettings(ENV).db;
  const read = (path) => {
    if (path !== '/etc/cloudmart/rds-ca.pem') throw new Error(`unexpected read of ${path}`);
    return '-----BEGIN CERTIFICATE-----\nRDS\n-----END CERTIFICATE-----\n';
  };

  it('pg: verifies the server against the RDS CA bundle, with pool timeouts and keep-alive', () => {
    expect(pgOptions(db, read)).toEqual({
      host: ENV.DB_HOST,
      port: 5432,
      database: 'cloudmart',
      user: 'cloudmart',
      password: 's3cr3t-Passw0rd',
      ssl: { ca: read(ENV.DB_CA_FILE), rejectUnauthorized: true, verifyIdentity: true },
      max: 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      query_timeout: 10_000,
      keepAlive: true,
    });
  });

  it('mysql2: verifies the certificate and the host name (verifyIdentity)', () => {
    const o = mysqlOptions({ ...db, engine: 'mysql', port: 3306 }, read);
    expect(o.ssl).toEqual({
      ca: read(ENV.DB_CA_FILE),
      rejectUnauthorized: true,
      verifyIdentity: true,
    });
    expect(o).toMatchObject({ connectionLimit: 10, connectTimeout: 5000, enableKeepAlive: true });
    expect(o).not.toHaveProperty('engine');
  });

  it('without DB_CA_FILE still verifies, against the default trust store', () => {
    const o = pgOptions({ ...db, caFile: undefined }, read);
    expect(o.ssl).toEqual({ rejectUnauthorized: true, verifyIdentity: true });
  });

  it('never turns verification off, whatever the settings', () => {
    for (const settings of [db, { ...db, caFile: undefined }, { ...db, tls: false }]) {
      for (const o of [pgOptions(settings, read), mysqlOptions(settings, read)]) {
        expect(JSON.stringify(o)).not.toContain('"rejectUnauthorized":false');
      }
    }
  });

  it('sends no TLS only when DB_TLS=0', () => {
    expect(pgOptions({ ...db, tls: false }, read).ssl).toBe(false);
    expect(mysqlOptions({ ...db, tls: false }, read).ssl).toBe(false);
  });
});

function fakePg() {
  const pools = [];
  class Pool extends EventEmitter {
    constructor(options) {
      super();
      this.options = options;
      this.ended = false;
      this.sent = [];
      pools.push(this);
    }
    async query(sql, params) {
      this.sent.push({ sql, params });
      return { rows: [{ id: 1 }], rowCount: 1 };
    }
    async end() {
      this.ended = true;
    }
  }
  return { Pool, pools };
}

function fakeMysql() {
  const made = [];
  return {
    made,
    createPool(options) {
      const pool = {
        options,
        pool: new EventEmitter(),
        sent: [],
        ended: false,
        async query(q, params) {
          pool.sent.push({ q, params });
          return [[{ id: 1 }], []];
        },
        async end() {
          pool.ended = true;
        },
      };
      made.push(pool);
      return pool;
    },
  };
}

describe('openDb', () => {
  const settings = { ...loadSettings(ENV).db, caFile: undefined };

  it('pg: returns rows, and an idle client dying (failover) is logged, not fatal', async () => {
    const logger = captureLogger(fakeClock());
    const lib = fakePg();
    const conn = await openDb(settings, logger, lib);
    const [pool] = lib.pools;
    expect(pool.options).toMatchObject({ host: ENV.DB_HOST, max: 10, keepAlive: true });
    expect(await conn.query('SELECT $1', [1])).toEqual([{ id: 1 }]);
    expect(pool.sent).toEqual([{ sql: 'SELECT $1', params: [1] }]);
    // An EventEmitter throws on an 'error' nobody listens to: this would crash the process.
    expect(() =>
      pool.emit(
        'error',
        Object.assign(new Error('terminating connection due to administrator command'), {
          code: '57P01',
        }),
      ),
    ).not.toThrow();
    expect(logger.entries()).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        msg: 'db connection lost',
        error: '57P01: terminating connection due to administrator command',
      }),
    ]);
    await conn.close();
    expect(pool.ended).toBe(true);
  });

  it('mysql2: returns rows with a query timeout, and a dying connection is logged, not fatal', async () => {
    const logger = captureLogger(fakeClock());
    const lib = fakeMysql();
    const conn = await openDb({ ...settings, engine: 'mysql', port: 3306 }, logger, lib);
    const [pool] = lib.made;
    expect(pool.options).toMatchObject({ host: ENV.DB_HOST, port: 3306, connectionLimit: 10 });
    expect(await conn.query('SELECT ?', [1])).toEqual([{ id: 1 }]);
    expect(pool.sent).toEqual([{ q: { sql: 'SELECT ?', timeout: 10_000 }, params: [1] }]);
    const connection = new EventEmitter();
    pool.pool.emit('connection', connection);
    expect(() =>
      connection.emit('error', new Error('Connection lost: The server closed the connection.')),
    ).not.toThrow();
    expect(logger.entries()[0]).toMatchObject({ level: 'ERROR', msg: 'db connection lost' });
    await conn.close();
    expect(pool.ended).toBe(true);
  });
});

function fakeRedis() {
  const clients = [];
  const createClient = (options) => {
    const client = new EventEmitter();
    Object.assign(client, {
      options,
      destroyed: false,
      closed: false,
      next: null, // what the next command does: an Error to throw, 'hang', or undefined
      store: new Map(),
      connect: async () => client,
      async run(value) {
        const next = client.next;
        client.next = null;
        if (next === 'hang') return new Promise(() => {});
        if (next) throw next;
        return value;
      },
      get: (key) => client.run(client.store.get(key) ?? null),
      setEx: (key, ttl, value) => {
        client.store.set(key, value);
        client.lastTtl = ttl;
        return client.run('OK');
      },
      ping: () => client.run('PONG'),
      destroy: () => {
        client.destroyed = true;
      },
      close: async () => {
        client.closed = true;
      },
    });
    clients.push(client);
    return client;
  };
  return { createClient, clients };
}

describe('openRedis', () => {
  const settings = loadSettings(ENV).redis;

  it('connects with TLS and the AUTH token, failing fast while disconnected', async () => {
    const lib = fakeRedis();
    await openRedis(settings, captureLogger(fakeClock()), lib);
    const { options } = lib.clients[0];
    expect(options).toMatchObject({
      socket: { host: ENV.REDIS_HOST, port: 6379, tls: true, connectTimeout: 3000 },
      password: 'token-0123456789abcdef',
      disableOfflineQueue: true,
    });
    expect(options.socket.reconnectStrategy(0)).toBe(100);
    expect(options.socket.reconnectStrategy(3)).toBe(800);
    expect(options.socket.reconnectStrategy(50)).toBe(5000); // keeps retrying, every 5 s at most
  });

  it('stores with a TTL (SETEX), reads and pings', async () => {
    const lib = fakeRedis();
    const cache = await openRedis(settings, captureLogger(fakeClock()), lib);
    expect(await cache.set('products:v1', '[]', 30)).toBe('OK');
    expect(lib.clients[0].lastTtl).toBe(30);
    expect(await cache.get('products:v1')).toBe('[]');
    expect(await cache.ping()).toBe('PONG');
    await cache.close();
    expect(lib.clients[0].closed).toBe(true);
  });

  it('logs connection errors instead of crashing', async () => {
    const logger = captureLogger(fakeClock());
    const lib = fakeRedis();
    await openRedis(settings, logger, lib);
    expect(() => lib.clients[0].emit('error', new Error('getaddrinfo ENOTFOUND'))).not.toThrow();
    expect(logger.entries()[0]).toMatchObject({ level: 'ERROR', msg: 'redis error' });
  });

  it('reconnects after a READONLY answer (still on the demoted primary after a failover)', async () => {
    const logger = captureLogger(fakeClock());
    const lib = fakeRedis();
    const cache = await openRedis(settings, logger, lib);
    lib.clients[0].next = new Error("READONLY You can't write against a read only replica.");
    await expect(cache.set('k', 'v', 30)).rejects.toThrow(/^READONLY/);
    expect(lib.clients).toHaveLength(2);
    expect(lib.clients[0].destroyed).toBe(true);
    expect(await cache.set('k', 'v', 30)).toBe('OK');
    expect(lib.clients[1].store.get('k')).toBe('v');
    expect(logger.entries().some((e) => e.msg === 'redis reconnecting')).toBe(true);
  });

  it('reconnects when a command hangs (half-open connection)', async () => {
    const lib = fakeRedis();
    const cache = await openRedis(settings, captureLogger(fakeClock()), lib, 20);
    lib.clients[0].next = 'hang';
    await expect(cache.get('k')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(lib.clients).toHaveLength(2);
    expect(await cache.ping()).toBe('PONG');
  });

  it('keeps the client on other errors (node-redis reconnects by itself)', async () => {
    const lib = fakeRedis();
    const cache = await openRedis(settings, captureLogger(fakeClock()), lib);
    lib.clients[0].next = new Error('The client is offline');
    await expect(cache.get('k')).rejects.toThrow('offline');
    expect(lib.clients).toHaveLength(1);
    expect(lib.clients[0].destroyed).toBe(false);
  });
});

/**
 * RDS after it rotated the managed password: the server takes only `server.password`. Sessions
 * opened before the rotation keep working (the first pool holds one, which answers one
 * statement at a time, as pg-pool and mysql2 reuse an idle connection); every new connection
 * logs in with its pool's password and is refused with the engine's error otherwise.
 */
function rotatedDb(engine) {
  const server = { password: 'before-rotation' };
  const pools = [];
  const refused = () =>
    engine === 'mysql'
      ? Object.assign(new Error("Access denied for user 'cloudmart'@'10.0.11.5'"), {
          code: 'ER_ACCESS_DENIED_ERROR',
          errno: 1045,
        })
      : Object.assign(new Error('password authentication failed for user "cloudmart"'), {
          code: '28P01',
        });
  const run = async (pool) => {
    if (pool.idle > 0) {
      pool.idle--;
      await new Promise((resolve) => setTimeout(resolve, 1));
      pool.idle++;
      return [{ ok: 1 }];
    }
    if (pool.options.password !== server.password) throw refused();
    return [{ ok: 1 }];
  };
  const made = (pool) => Object.assign(pool, { idle: pools.length === 0 ? 1 : 0, ended: false });
  class Pool extends EventEmitter {
    constructor(options) {
      super();
      pools.push(made(Object.assign(this, { options })));
    }
    async query() {
      return { rows: await run(this) };
    }
    async end() {
      this.ended = true;
    }
  }
  const lib =
    engine === 'mysql'
      ? {
          createPool(options) {
            const pool = made({ options, pool: new EventEmitter() });
            pool.query = async () => [await run(pool), []];
            pool.end = async () => (pool.ended = true);
            pools.push(pool);
            return pool;
          },
        }
      : { Pool };
  return { server, pools, lib };
}

describe('openDb after RDS rotated the master password', () => {
  const settings = { ...loadSettings(ENV).db, caFile: undefined, password: 'before-rotation' };
  const NEW = 'aFt3r-R0tat1on';

  for (const engine of ['postgres', 'mysql']) {
    it(`${engine}: re-reads the secret once, replaces the pool and retries the refused queries`, async () => {
      const logger = captureLogger(fakeClock());
      const { server, pools, lib } = rotatedDb(engine);
      let reads = 0;
      const readPassword = async () => (reads++, server.password);
      const conn = await openDb({ ...settings, engine }, logger, lib, readPassword);
      expect(await conn.query('SELECT 1')).toEqual([{ ok: 1 }]);
      server.password = NEW;

      // Under load: one query rides the old session, the others need new connections.
      const answers = await Promise.all([1, 2, 3].map(() => conn.query('SELECT 1')));

      expect(answers).toEqual([[{ ok: 1 }], [{ ok: 1 }], [{ ok: 1 }]]);
      expect(reads).toBe(1);
      expect(pools).toHaveLength(2);
      expect(pools[0].ended).toBe(true);
      expect(pools[1].options.password).toBe(NEW);
      expect(logger.entries()).toEqual([
        expect.objectContaining({
          level: 'ERROR',
          msg: 'db password refused',
          error: expect.stringMatching(engine === 'mysql' ? /^ER_ACCESS_DENIED_ERROR/ : /^28P01/),
        }),
      ]);
      expect(logger.lines.join('')).not.toContain(NEW);
      // Other errors are the caller's (the app answers 503): no read, no new pool.
      pools[1].query = async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      };
      await expect(conn.query('SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(reads).toBe(1);
      await conn.close();
      expect(pools[1].ended).toBe(true);
    });
  }

  it('/health answers 503, not 200 from a session opened before the rotation, when the secret cannot be read', async () => {
    const clock = fakeClock();
    const logger = captureLogger(clock);
    const { server, pools, lib } = rotatedDb('postgres');
    const unreadable = async () => {
      throw Object.assign(new Error('Could not connect to the endpoint URL'), {
        code: 'ENOTFOUND',
      });
    };
    const conn = await openDb(settings, logger, lib, unreadable);
    const app = createApp({
      db: createRepo('postgres', conn),
      cache: fakeCache(clock),
      logger,
      clock,
    });
    const srv = await listen(app);
    try {
      server.password = NEW;
      // While a long request holds the old session, another one needs a new connection.
      pools[0].idle = 0;
      expect((await send(srv.port, '/api/products/1')).status).toBe(503);
      pools[0].idle = 1; // the long request is done: its session is idle again

      const health = await send(srv.port, '/health');

      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ db: 'error' });
      expect(logger.entries().map((e) => e.msg)).toEqual(
        expect.arrayContaining(['db password refused', 'db secret']),
      );
    } finally {
      await srv.close();
    }
  });
});

describe('secretReader', () => {
  it('reads the managed secret with the aws CLI in the stack region and returns its password', async () => {
    const calls = [];
    const run = async (file, args) => {
      calls.push([file, ...args]);
      return { stdout: '{"username":"cloudmart","password":"n3w-pa$$"}\n' };
    };
    const env = {
      DB_SECRET_ARN: 'arn:aws:secretsmanager:ap-northeast-2:1:secret:rds!db-1',
      AWS_REGION: 'ap-northeast-2',
    };
    expect(await secretReader(env, run)()).toBe('n3w-pa$$');
    expect(calls).toEqual([
      [
        'aws',
        'secretsmanager',
        'get-secret-value',
        '--region',
        'ap-northeast-2',
        '--secret-id',
        env.DB_SECRET_ARN,
        '--output',
        'text',
        '--query',
        'SecretString',
      ],
    ]);
    // Without a secret ARN (a local database) nothing is read again.
    expect(secretReader({}, run)).toBeFalsy();
  });
});
