// The worker process's runtime: the relay plus a BullMQ worker whose processors act on outbox rows.
// API and worker share the same factories; src/worker.ts only loads config, starts this and handles signals.
import http from 'node:http';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import type { Config } from '../../config.js';
import { createDb, createPool } from '../../db/client.js';
import { createKeyring } from '../../lib/keyring.js';
import { createDpoAlerts, EMAIL_TOPIC } from '../rights-requests/rights-requests.alerts.js';
import { createTenantsRepo } from '../tenants/tenants.repo.js';
import { createWebhookJobs } from '../webhook-endpoints/webhook-endpoints.jobs.js';
import { createWebhookEndpointsRepo } from '../webhook-endpoints/webhook-endpoints.repo.js';
import { createSender } from '../webhook-endpoints/webhook-endpoints.sender.js';
import { DELIVERY_TOPIC, EVENT_TOPIC } from './outbox.events.js';
import { createRelay, OUTBOX_QUEUE } from './outbox.relay.js';
import { createOutboxRepo } from './outbox.repo.js';

// A processor holds its row this long; longer than the webhook timeout, so a live delivery is never taken twice.
const HOLD_MARGIN_MS = 5_000;
// An event with at most this many subscribed endpoints gets its first delivery attempts from the fan-out's processor.
const INLINE_DELIVERIES_MAX = 8;

export type WorkerRuntime = {
  /** Stop taking work, let jobs in hand finish (up to the deadline), close every connection. */
  stop(deadlineMs?: number): Promise<void>;
  port: number | null;
};

/** `clock` decides when outbox rows are due (tests move it forward to reach a reminder); deliveries keep real time. */
export async function startWorker(config: Config, opts: { log?: Logger; clock?: () => Date; healthPort?: number | null } = {}): Promise<WorkerRuntime> {
  const log = opts.log ?? pino({ level: config.logLevel, base: { process: 'worker' } });
  // One connection per job the worker may run at once, and two for the relay. Commits are asynchronous: every
  // write the worker makes is bookkeeping that a crash can only undo, and undone work is redone (a row not marked
  // done is delivered again under the same webhook-id; a fan-out re-run creates nothing twice).
  const pool = createPool({ ...config.database, poolMax: Math.max(config.database.poolMax, config.worker.concurrency + 2) }, log, {
    applicationName: 'rightful-worker',
    asyncCommit: true,
  });
  const db = createDb(pool);
  const outbox = createOutboxRepo(db);
  const endpoints = createWebhookEndpointsRepo(db);
  const sender = createSender({ timeoutMs: config.webhooks.timeoutMs, allowPrivate: config.webhooks.allowPrivate });
  const jobs = createWebhookJobs({
    db,
    outbox,
    endpoints,
    sender,
    keyring: createKeyring(config),
    policy: { retryDelaysMs: config.webhooks.retryDelaysMs, disableAfterMs: config.webhooks.disableAfterMs, jitter: config.webhooks.jitter },
    log,
  });

  const alerts = createDpoAlerts({ db, outbox, tenants: createTenantsRepo(db), smtp: config.smtp, retryDelaysMs: config.webhooks.retryDelaysMs, log });

  const redisOptions = { connectTimeout: 2000, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
  // The producer fails fast while Redis is down (the relay puts rows back); the worker connection waits it out.
  const producer = new Redis(config.redis.url, { ...redisOptions, enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  const consumer = new Redis(config.redis.url, { ...redisOptions, maxRetriesPerRequest: null });
  for (const c of [producer, consumer]) c.on('error', (err) => log.debug({ err: { message: err.message } }, 'redis error'));
  // BullMQ initialises a queue with its first commands; without an offline queue they must find Redis connected.
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.connect();
      break;
    } catch (err) {
      if (attempt === 1) log.warn({ err: { message: (err as Error).message } }, 'waiting for redis');
      producer.disconnect();
      await new Promise((r) => setTimeout(r, Math.min(attempt * 250, 2000)));
    }
  }

  const queue = new Queue(OUTBOX_QUEUE, {
    connection: producer,
    prefix: config.redis.prefix,
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 604_800 },
    },
  });
  queue.on('error', (err) => log.debug({ err: { message: err.message } }, 'queue error'));

  const holdMs = config.webhooks.timeoutMs + HOLD_MARGIN_MS;
  const processor = async (job: Job<{ outbox_id: string }>) => {
    const row = await outbox.take(job.data.outbox_id, holdMs);
    if (!row) return 'skipped'; // finished already, or another processor holds it
    if (row.topic === EVENT_TOPIC) {
      // First attempts right here, on delivery rows this processor holds: an event crosses the queue once.
      const held = await jobs.fanOut(row, await alerts.rowsFor(row), { holdMs, max: INLINE_DELIVERIES_MAX });
      const failed = (await Promise.allSettled(held.map((d) => jobs.deliver(d)))).find((r) => r.status === 'rejected');
      // The event is fanned out already; a delivery left held is recovered once its hold expires, like a lost job.
      if (failed) throw (failed as PromiseRejectedResult).reason;
    } else if (row.topic === DELIVERY_TOPIC) await jobs.deliver(row);
    else if (row.topic === EMAIL_TOPIC) await alerts.send(row);
    else await outbox.finish(row.id, 'dead', `no processor for topic ${row.topic}`);
    return 'done';
  };

  const worker = new Worker(OUTBOX_QUEUE, processor, {
    connection: consumer,
    prefix: config.redis.prefix,
    concurrency: config.worker.concurrency,
    lockDuration: 30_000,
    stalledInterval: 30_000,
    maxStalledCount: 3,
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 604_800 },
  });
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'worker error'));
  worker.on('failed', (job, err) => log.warn({ job_id: job?.id, err: { message: err.message } }, 'job failed'));

  const relay = createRelay({
    repo: outbox,
    queue,
    log,
    clock: opts.clock,
    options: {
      sweepMs: config.worker.sweepMs,
      reconcileMs: config.worker.reconcileMs,
      visibilityTimeoutMs: config.worker.visibilityTimeoutMs,
      batch: 100,
      databaseUrl: config.database.url,
    },
  });
  relay.start();

  // Liveness for orchestrators: the worker has no HTTP API, only this.
  let server: http.Server | null = null;
  let port: number | null = null;
  const healthPort = opts.healthPort === undefined ? config.worker.healthPort : opts.healthPort;
  if (healthPort !== null) {
    server = http.createServer((req, res) => {
      const ok = req.url === '/healthz' && worker.isRunning();
      res.writeHead(ok ? 200 : req.url === '/healthz' ? 503 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
    });
    await new Promise<void>((resolve) => server!.listen(healthPort, config.host, resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : null;
  }

  let stopping: Promise<void> | null = null;
  return {
    port,
    stop(deadlineMs = 25_000) {
      stopping ??= (async () => {
        await relay.stop();
        // Jobs in hand get until the deadline to finish; then they are abandoned (their rows are recovered later).
        const graceful = worker.close();
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadlineMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') await worker.close(true);
        await queue.close().catch(() => {});
        sender.close();
        alerts.close();
        producer.disconnect();
        consumer.disconnect();
        await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
        await pool.end();
      })();
      return stopping;
    },
  };
}
