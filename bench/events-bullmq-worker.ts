// Child process of bench/events.ts for the raw BullMQ baseline: one BullMQ Worker with an empty processor. It
// reports { completed, last } (count of completed jobs, wall-clock ms of the latest completion) to its parent over
// IPC every 20 ms, and closes on the parent's "stop" message (or when the parent goes away).
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { BASELINE_REDIS_URL, BASELINE_QUEUE, BASELINE_PREFIX, BASELINE_CONCURRENCY } = process.env;
if (!BASELINE_REDIS_URL || !BASELINE_QUEUE || !BASELINE_PREFIX || !process.send) throw new Error('run by bench/events.ts');

const connection = new Redis(BASELINE_REDIS_URL, { maxRetriesPerRequest: null });
let completed = 0;
let last = 0;
const worker = new Worker(BASELINE_QUEUE, async () => undefined, {
  connection,
  prefix: BASELINE_PREFIX,
  concurrency: Number(BASELINE_CONCURRENCY ?? 32),
  // Same retention as the outbox worker, so both keep the same bookkeeping in Redis.
  removeOnComplete: { age: 86_400 },
});
worker.on('completed', () => {
  completed++;
  last = Date.now();
});
await worker.waitUntilReady();
const report = () => process.send?.({ completed, last });
const timer = setInterval(report, 20);
process.send({ ready: true });

async function stop() {
  clearInterval(timer);
  report();
  await worker.close();
  connection.disconnect();
  process.exit(0);
}
process.on('message', (m) => {
  if (m === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
