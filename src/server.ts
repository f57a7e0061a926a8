// The API entry: load config → the database (DATABASE_URL, or the embedded Postgres started and migrated here) →
// build → the in-process worker when REDIS_URL is unset → listen. SIGTERM/SIGINT close gracefully: in-flight
// requests and jobs in hand finish, then the embedded Postgres (when this process started it) stops.
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { pathToFileURL } from 'node:url';
import pino, { type Logger } from 'pino';
import { buildApp, loggerOptions } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { EmbeddedPostgresError, openDatabase, type OpenedDatabase } from './db/embedded.js';
import { limitHeapGrowth } from './lib/heap.js';
import { startInProcessWorker, startWorker, type WorkerRuntime } from './worker-runtime.js';

export type RunningApi = {
  app: FastifyInstance;
  /** The config in force (with the embedded Postgres's address when it serves). */
  config: Config;
  database: OpenedDatabase;
  /** The worker running inside this process (always without REDIS_URL), or null when separate workers share Redis. */
  worker: WorkerRuntime | null;
  /** Requests drain, jobs in hand finish, then the embedded Postgres stops. Idempotent. */
  close(): Promise<void>;
};

/**
 * Starts the API as `npm start` and the quick start run it, closing it on SIGTERM/SIGINT. The worker runs inside
 * the process when REDIS_URL is unset; with Redis, separate workers (`npm run worker`) do, unless `workerWithRedis`
 * asks for one here too (the quick start's single process).
 */
export async function startApi(loaded: Config, opts: { log?: Logger; workerWithRedis?: boolean } = {}): Promise<RunningApi> {
  const log = opts.log ?? pino(loggerOptions(loaded));
  limitHeapGrowth(loaded.heapGrowingPercent);
  const database = await openDatabase(loaded, { mode: 'own', log: (m) => log.info(m) });
  const config = database.config;
  let app: FastifyInstance | undefined;
  let worker: WorkerRuntime | null = null;
  try {
    app = await buildApp(config);
    const workerLog = pino({ level: config.logLevel, base: { process: 'worker' } });
    if (!config.redis) worker = await startInProcessWorker(config, { log: workerLog });
    else if (opts.workerWithRedis) worker = await startWorker(config, { log: workerLog, healthPort: null });
  } catch (err) {
    await worker?.stop(5000);
    await app?.close();
    await database.stop();
    throw err;
  }
  const api = app;
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      try {
        await Promise.all([api.close(), worker?.stop(20_000)]);
      } finally {
        await database.stop();
      }
    })());
  // Past the deadline, or on a second uncaught error, the process exits at once: the embedded Postgres is told to
  // stop first (a later start would take it over anyway).
  const stopNow = () => database.embedded?.stopNow();
  const grace = closeWithGrace({ delay: 30_000, skip: ['SIGINT', 'SIGTERM'], onTimeout: stopNow, onSecondError: stopNow }, async ({ err }) => {
    if (err) api.log.error({ err }, 'closing after an uncaught error');
    await close();
  });
  // Signals are handled here rather than by close-with-grace: one Ctrl-C reaches the process several times (from the
  // terminal, then relayed by npm and tsx), and only a signal well after the first one means "exit now".
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalledAt) {
      signalledAt = Date.now();
      api.log.info({ signal }, 'closing');
      grace.close();
    } else if (Date.now() - signalledAt > 2000) {
      api.log.error({ signal }, 'second signal: exiting now');
      stopNow();
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await api.listen({ host: config.host, port: config.port });
  } catch (err) {
    await close();
    throw err;
  }
  api.log.info({ database: database.describe, worker: !worker ? 'separate (REDIS_URL)' : config.redis ? 'in this process, on Redis' : 'in-process' }, 'serving');
  return { app: api, config, database, worker, close };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  Promise.resolve()
    .then(() => startApi(loadConfig()))
    .catch((err: unknown) => {
      console.error(err instanceof ConfigError || err instanceof EmbeddedPostgresError ? err.message : err);
      process.exit(1);
    });
}
