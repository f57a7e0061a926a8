// The worker entry: load config → start the worker (src/worker-runtime.ts) → on SIGTERM/SIGINT stop taking work,
// let jobs in hand finish (25 s), close connections; a hard exit at 30 s. Same build and image as the API. It needs
// Redis and an external Postgres: without REDIS_URL the API process runs the worker itself, and this entry refuses
// to start (as it does without DATABASE_URL: the embedded Postgres belongs to the API process).
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startWorker } from './worker-runtime.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.redis) throw new ConfigError('REDIS_URL is not set: without Redis the API runs the worker in its own process; start this worker only with Redis');
  // A worker of its own serves an external Postgres shared with the API; the embedded one belongs to the API process.
  if (config.database.embedded) throw new ConfigError('DATABASE_URL is not set: the embedded Postgres is the API\'s own; start this worker with the DATABASE_URL the API uses');
  const log = pino({ level: config.logLevel, base: { process: 'worker' } });
  const runtime = await startWorker(config, { log });
  // The rows in hand when the hard stop comes are recovered by the next worker (their holds expire).
  closeWithGrace({ delay: 30_000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'worker closing after an uncaught error');
    else log.info({ signal }, 'worker closing');
    await runtime.stop(25_000);
  });
}

main().catch((err: unknown) => {
  // Before the configuration is known (or when it is invalid), log at the default level.
  const log = pino({ base: { process: 'worker' } });
  if (err instanceof ConfigError) log.fatal(err.message);
  else log.fatal({ err }, 'worker failed to start');
  process.exit(1);
});
