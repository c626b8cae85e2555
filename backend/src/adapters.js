import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { withTimeout } from './app.js';

const port = (env, key, def) => {
  const v = Number(env[key] || def);
  if (v % 1 || !(v > 0 && v < 65536)) throw new Error(`${key} is not a port`);
  return v;
};

export function loadSettings(env) {
  const engine = env.DB_ENGINE || 'postgres';
  if (!/^(postgres|mysql)$/.test(engine)) throw new Error('DB_ENGINE must be postgres or mysql');
  const missing = ['DB_HOST', 'DB_NAME', 'DB_USER', 'REDIS_HOST'].filter((k) => !env[k]);
  if (missing.length) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  return {
    port: port(env, 'PORT', 8080),
    logFile: env.LOG_FILE,
    db: {
      engine,
      tls: env.DB_TLS !== '0',
      caFile: env.DB_CA_FILE,
      host: env.DB_HOST,
      port: port(env, 'DB_PORT', engine === 'mysql' ? 3306 : 5432),
      database: env.DB_NAME,
      user: env.DB_USER,
      password: env.DB_PASSWORD,
    },
    redis: {
      host: env.REDIS_HOST,
      port: port(env, 'REDIS_PORT', 6379),
      tls: env.REDIS_TLS === '1',
      password: env.REDIS_AUTH_TOKEN || undefined,
    },
  };
}

// Verified TLS: `ca` replaces Node's CAs (RDS needs its own bundle, DB_CA_FILE);
// verifyIdentity turns on mysql2's host name check (pg always checks).
const conn = ({ engine: _e, tls, caFile, ...o }, read = readFileSync) => ({
  ...o,
  ssl: tls && {
    ...(caFile && { ca: read(caFile, 'utf8') }),
    rejectUnauthorized: true,
    verifyIdentity: true,
  },
});

export const pgOptions = (db, read) => ({
  ...conn(db, read),
  max: 10,
  connectionTimeoutMillis: 5000,
  idleTimeoutMillis: 30_000,
  query_timeout: 10_000,
  keepAlive: true,
});

export const mysqlOptions = (db, read) => ({
  ...conn(db, read),
  connectionLimit: 10,
  connectTimeout: 5000,
  enableKeepAlive: true,
});

// RDS's managed secret, read again with the instance role
export const secretReader = (env, run = promisify(execFile)) =>
  env.DB_SECRET_ARN &&
  (async () => {
    const a = ['--region', env.AWS_REGION, '--secret-id', env.DB_SECRET_ARN, '--output', 'text'];
    const { stdout } = await run('aws', [
      'secretsmanager',
      'get-secret-value',
      ...a,
      '--query',
      'SecretString',
    ]);
    return JSON.parse(stdout).password;
  });

export async function openDb(db, logger, lib, readPassword) {
  // an idle connection that dies (failover) emits 'error': unhandled, it kills the process
  const lost = (e) => logger.error('db connection lost', e);
  const open = async (o) => {
    if (o.engine === 'mysql') {
      const p = (lib ?? (await import('mysql2/promise')).default).createPool(mysqlOptions(o));
      p.pool.on('connection', (c) => c.on('error', lost));
      return {
        query: async (sql, params) => (await p.query({ sql, timeout: 10_000 }, params))[0],
        close: () => p.end(),
      };
    }
    const p = new (lib ?? (await import('pg')).default).Pool(pgOptions(o)).on('error', lost);
    return {
      query: async (sql, params) => (await p.query(sql, params)).rows,
      close: () => p.end(),
    };
  };
  // RDS rotates the password every 7 days: old sessions live on, new ones are refused
  // (28P01 / 1045). Re-read it, replace the pool (no old session hides it from /health), retry
  let pool = await open(db);
  let { password } = db;
  let reopening;
  const reopen = async (old, err) => {
    logger.error('db password refused', err);
    password = await readPassword().catch((e) => (logger.error('db secret', e), password));
    pool = await open({ ...db, password });
    old.close().catch(() => {});
  };
  return {
    async query(sql, params) {
      const p = pool;
      try {
        return await p.query(sql, params);
      } catch (err) {
        if (!readPassword || !(err?.code === '28P01' || err?.errno === 1045)) throw err;
        if (p === pool) reopening ??= reopen(p, err).finally(() => (reopening = undefined));
        await reopening;
        return pool.query(sql, params);
      }
    },
    close: () => pool.close(),
  };
}

export const redisOptions = ({ host, port, tls, password }) => ({
  socket: {
    host,
    port,
    tls,
    connectTimeout: 3000,
    reconnectStrategy: (n) => Math.min(2 ** n, 50) * 100,
  },
  password,
  disableOfflineQueue: true, // fail fast: fall back to the DB
});

export async function openRedis(r, logger, lib, timeoutMs = 500) {
  const { createClient } = lib ?? (await import('redis'));
  let client;
  const open = () => {
    client = createClient(redisOptions(r)).on('error', (e) => logger.error('redis error', e));
    client.connect().catch(() => {}); // reported by 'error' and retried
  };
  open();
  // after a failover the old primary may hang or answer READONLY: reconnect to the endpoint
  const run = async (fn) => {
    const c = client;
    try {
      return await withTimeout(() => fn(c), timeoutMs, 'redis');
    } catch (err) {
      if (c === client && (err.code === 'ETIMEDOUT' || /^READONLY/.test(err.message))) {
        logger.error('redis reconnecting', err);
        c.destroy();
        open();
      }
      throw err;
    }
  };
  return {
    get: (key) => run((c) => c.get(key)),
    set: (key, value, ttl) => run((c) => c.setEx(key, ttl, value)),
    ping: () => run((c) => c.ping()),
    close: () => client.close(),
  };
}
