// Child process of the events baseline (bench/events-baseline.ts): one BullMQ Worker whose processor does what a
// webhook delivery must do and nothing else: build the event body (the size and shape of a consent.granted delivery),
// sign it the Standard Webhooks way (src/lib/webhook-signing.ts, the signer Rightful uses) and POST it over a
// keep-alive agent to the bench's receiver, failing the job unless the answer is 2xx. It reports
// { completed, first, last } (completed jobs, wall-clock ms of the first processor call and of the latest completion)
// to its parent over IPC every 20 ms, and closes on the parent's "stop" message (or when the parent goes away).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { signatureHeader } from '../src/lib/webhook-signing.js';

const { BASELINE_REDIS_URL, BASELINE_QUEUE, BASELINE_PREFIX, BASELINE_CONCURRENCY, BASELINE_TARGET_URL, BASELINE_SECRET } = process.env;
if (!BASELINE_REDIS_URL || !BASELINE_QUEUE || !BASELINE_PREFIX || !BASELINE_TARGET_URL || !BASELINE_SECRET || !process.send) {
  throw new Error('run by bench/events-baseline.ts');
}
const target = new URL(BASELINE_TARGET_URL);
const secret = BASELINE_SECRET;
// The sender's agent settings (webhook-endpoints.sender.ts): keep-alive, 64 sockets.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4000 });

function post(headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: 'POST',
      agent,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), 'user-agent': 'baseline/1' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.end(body);
  });
}

const connection = new Redis(BASELINE_REDIS_URL, { maxRetriesPerRequest: null });
let completed = 0;
let first = 0;
let last = 0;
const worker = new Worker(
  BASELINE_QUEUE,
  async (job: Job<{ outbox_id: string }>) => {
    if (!first) first = Date.now();
    const at = new Date();
    const timestamp = Math.floor(at.getTime() / 1000);
    // A consent.granted body, field for field (random ids of the same length as Rightful's).
    const body = JSON.stringify({
      type: 'consent.granted',
      timestamp: at.toISOString(),
      data: { subject_id: randomUUID(), purpose: 'newsletter', purpose_version: 1, source: 'api', occurred_at: at.toISOString(), ledger_event_id: job.data.outbox_id },
    });
    const id = `msg_${job.data.outbox_id}`;
    const status = await post({ 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureHeader([secret], id, timestamp, body) }, body);
    if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
  },
  {
    connection,
    prefix: BASELINE_PREFIX,
    concurrency: Number(BASELINE_CONCURRENCY ?? 32),
    // Same retention as the outbox worker, so both keep the same bookkeeping in Redis.
    removeOnComplete: { age: 86_400 },
    autorun: false,
  },
);
worker.on('completed', () => {
  completed++;
  last = Date.now();
});
await worker.waitUntilReady();
const report = () => process.send?.({ completed, first, last });
const timer = setInterval(report, 20);
process.send({ ready: true });

async function stop() {
  clearInterval(timer);
  report();
  await worker.close();
  agent.destroy();
  connection.disconnect();
  process.exit(0);
}
process.on('message', (m) => {
  if (m === 'start') void worker.run();
  if (m === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
