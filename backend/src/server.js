import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createLogger, start } from './app.js';
import { loadSettings, openDb, openRedis, secretReader } from './adapters.js';
import { createRepo } from './db.js';

let logger = createLogger((line) => process.stdout.write(line));
try {
  const settings = loadSettings(process.env);
  if (settings.logFile) {
    mkdirSync(dirname(settings.logFile), { recursive: true });
    const fd = openSync(settings.logFile, 'a');
    logger = createLogger((line) => writeSync(fd, line)); // sync: no line lost at exit
  }
  process.on('unhandledRejection', (err) => logger.error('unhandled rejection', err));
  const db = createRepo(
    settings.db.engine,
    await openDb(settings.db, logger, undefined, secretReader(process.env)),
  );
  const cache = await openRedis(settings.redis, logger);
  const app = await start({ db, cache, logger, port: settings.port });
  const stop = (signal) => {
    logger.info('stopping', { signal });
    setTimeout(() => process.exit(1), 15_000).unref();
    app.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
} catch (err) {
  logger.error('startup failed', err);
  process.exit(1);
}
