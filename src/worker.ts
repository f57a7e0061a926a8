// The worker entry: load config → start the relay and the BullMQ processors → on SIGTERM stop taking work,
// let jobs in hand finish (25 s), close connections. Same build and image as the API, another command.
import { ConfigError, loadConfig } from './config.js';
import { startWorker } from './modules/outbox/outbox.worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await startWorker(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.error(JSON.stringify({ level: 30, msg: 'worker closing', signal }));
    // A hard stop after 30 s whatever happens: the rows in hand are recovered by the next worker.
    setTimeout(() => process.exit(1), 30_000).unref();
    runtime.stop(25_000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
