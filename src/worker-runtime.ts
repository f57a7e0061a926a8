// The worker's composition root, as services.ts is the API's: the pool, the dispatcher with every module's jobs, the
// outbox relay and the transport it hands rows to. `startWorker` is the worker process: BullMQ on Redis and a small
// health server (src/worker.ts starts it and closes it gracefully). `startInProcessWorker` is the same worker inside
// the API process when there is no Redis: the relay hands rows straight to the dispatcher. Tests start both.
import http from 'node:http';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { createDb, createPool, type Db } from './db/client.js';
import { createKeyring, type Keyring } from './lib/keyring.js';
import { workerMetrics, type MetricsHandler } from './lib/metrics.js';
import { REQUEST_TYPES } from './modules/rights-requests/rights-requests.table.js';
import { OPEN_STATUSES } from './modules/rights-requests/rights-requests.transitions.js';
import { createDispatcher, type Dispatcher } from './modules/outbox/outbox.dispatcher.js';
import type { EventBodies } from './modules/outbox/outbox.events.js';
import { createInProcessTransport } from './modules/outbox/outbox.in-process.js';
import { createBullmqTransport, createRelay, OUTBOX_QUEUE, OutboxJobSchema, rowsOfJob, type OutboxTransport } from './modules/outbox/outbox.relay.js';
import { createOutboxRepo, type OutboxRepo } from './modules/outbox/outbox.repo.js';
import { registerRightsRequestsJobs } from './modules/rights-requests/rights-requests.jobs.js';
import { registerWebhookJobs } from './modules/webhook-endpoints/webhook-endpoints.jobs.js';
import { registerTasksJobs } from './modules/tasks/tasks.jobs.js';
import { registerExportsJobs } from './modules/exports/exports.jobs.js';
import { registerSubjectsJobs } from './modules/subjects/subjects.jobs.js';
import { createServices } from './services.js';

// A processor holds its row this long; longer than the webhook timeout, so a live delivery is never taken twice.
const HOLD_MARGIN_MS = 5_000;
// Runs of one claimed row before it is left to the reconciler, and the first retry's delay (doubling after), under
// either transport; the dispatcher's `lastTry` is the last of them.
const QUEUE_ATTEMPTS = 5;
const QUEUE_BACKOFF_MS = 1000;
// Rows of one tenant and topic that one BullMQ job carries at most. Rows claimed together (a backlog, a burst) share
// a job, and the dispatcher takes, fans out and records them in shared statements: measured in `npm run bench:backlog`
// (README "Benchmarks"). A row that falls due alone is a job of its own, as before.
const JOB_ROWS = 16;

/** What every module's jobs may be built from. */
export type WorkerDeps = {
  config: Config;
  db: Db;
  outbox: OutboxRepo;
  keyring: Keyring;
  log: Logger;
  /** Body builders by event type, run by the webhook delivery at each send: a module adds its own with `bodies.set`. */
  bodies: EventBodies;
  /** The clock outbox rows fall due by (tests move it forward); webhook deliveries keep real time. */
  clock?: () => Date;
};

/** Each module's jobs: adding a consumer is one line here (and its `<module>.jobs.ts`). */
function registerJobs(dispatcher: Dispatcher, deps: WorkerDeps): void {
  const services = createServices({
    db: deps.db,
    keyring: deps.keyring,
    allowPrivateWebhooks: deps.config.webhooks.allowPrivate,
    publicBaseUrl: deps.config.publicBaseUrl,
    clock: deps.clock,
  });
  registerWebhookJobs(dispatcher, deps);
  registerRightsRequestsJobs(dispatcher, deps);
  registerTasksJobs(dispatcher, { tasks: services.tasks, bodies: deps.bodies, config: deps.config, db: deps.db });
  registerExportsJobs(dispatcher, { exports: services.exports });
  registerSubjectsJobs(dispatcher, deps);
}

export type WorkerRuntime = {
  /** Stop taking work, let jobs in hand finish (up to the deadline), close every connection. */
  stop(deadlineMs?: number): Promise<void>;
  port: number | null;
};

export type StartWorkerOptions = {
  log?: Logger;
  /** Decides when outbox rows are due (tests move it forward to reach a reminder); deliveries keep real time. */
  clock?: () => Date;
  /** The health server's port; null: none. Default: WORKER_HEALTH_PORT. */
  healthPort?: number | null;
  /** More jobs beside the modules' (tests use it to stand in for a consumer). */
  register?: (dispatcher: Dispatcher, deps: WorkerDeps) => void;
};

/** What both transports share: the pool, the dispatcher with every module's jobs, and a relay for a transport. */
function createCore(config: Config, opts: StartWorkerOptions) {
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
  const deps: WorkerDeps = { config, db, outbox, keyring: createKeyring(config), log, bodies: new Map(), clock: opts.clock };
  const dispatcher = createDispatcher({ outbox, log, holdMs: config.webhooks.timeoutMs + HOLD_MARGIN_MS });
  registerJobs(dispatcher, deps);
  opts.register?.(dispatcher, deps);
  const relayFor = (transport: OutboxTransport) =>
    createRelay({
      repo: outbox,
      queue: transport,
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
  return { log, pool, outbox, dispatcher, relayFor };
}

/** The worker process: the relay enqueues into BullMQ on Redis, whose workers (here and in other processes) run the rows. */
export async function startWorker(config: Config, opts: StartWorkerOptions = {}): Promise<WorkerRuntime> {
  if (!config.redis) throw new Error('REDIS_URL is not set: without Redis the API process runs the worker (startInProcessWorker)');
  const redisConfig = config.redis;
  const { log, pool, dispatcher, relayFor } = createCore(config, opts);

  const redisOptions = { connectTimeout: 2000, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
  // The producer fails fast while Redis is down (the relay puts rows back); the worker connection waits it out.
  const producer = new Redis(redisConfig.url, { ...redisOptions, enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  const consumer = new Redis(redisConfig.url, { ...redisOptions, maxRetriesPerRequest: null });
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
    prefix: redisConfig.prefix,
    defaultJobOptions: {
      attempts: QUEUE_ATTEMPTS,
      backoff: { type: 'exponential', delay: QUEUE_BACKOFF_MS },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 604_800 },
    },
  });
  queue.on('error', (err) => log.debug({ err: { message: err.message } }, 'queue error'));

  const processor = async (job: Job) => {
    const data = OutboxJobSchema.safeParse(job.data);
    if (!data.success) return 'invalid job';
    return dispatcher.processMany(rowsOfJob(data.data), { tenantId: data.data.tenant_id, lastTry: job.attemptsMade + 1 >= (job.opts.attempts ?? QUEUE_ATTEMPTS) });
  };
  const worker = new Worker(OUTBOX_QUEUE, processor, {
    connection: consumer,
    prefix: redisConfig.prefix,
    concurrency: config.worker.concurrency,
    lockDuration: 30_000,
    stalledInterval: 30_000,
    maxStalledCount: 3,
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 604_800 },
  });
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'worker error'));
  worker.on('failed', (job, err) => log.warn({ job_id: job?.id, err: { message: err.message } }, 'job failed'));

  const relay = relayFor(createBullmqTransport(queue, { rowsPerJob: JOB_ROWS }));
  relay.start();

  const healthPort = opts.healthPort === undefined ? config.worker.healthPort : opts.healthPort;
  const health = healthPort === null ? null : await startHealthServer(healthPort, config.host, () => worker.isRunning(), workerMetrics(config.metrics, { pool, log, clock: opts.clock, requests: { types: REQUEST_TYPES, openStatuses: OPEN_STATUSES }, queues: { [OUTBOX_QUEUE]: () => queue.getJobCounts('waiting', 'active', 'delayed') } }));
  log.info({ topics: dispatcher.topics(), health_port: health?.port ?? null }, 'worker started');

  let stopping: Promise<void> | null = null;
  return {
    port: health?.port ?? null,
    stop(deadlineMs = 25_000) {
      stopping ??= (async () => {
        await relay.stop();
        // Jobs in hand get until the deadline to finish; then they are abandoned (their rows are recovered later).
        const graceful = worker.close();
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadlineMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') await worker.close(true);
        await queue.close().catch(() => {});
        await dispatcher.close();
        producer.disconnect();
        consumer.disconnect();
        await health?.close();
        await pool.end();
        log.info('worker closed');
      })();
      return stopping;
    },
  };
}

export type StartInProcessWorkerOptions = Omit<StartWorkerOptions, 'healthPort'>;

/**
 * The worker inside the API process, for a deployment without Redis: the same jobs, dispatcher, relay, claiming
 * (FOR UPDATE SKIP LOCKED), retries and reconciler as `startWorker`, but the relay hands each claimed row to the
 * dispatcher here, at most WORKER_CONCURRENCY at once. Several such processes on one database never run a row at the
 * same time; the API's own /readyz and /healthz stand for it (no health server of its own).
 */
export async function startInProcessWorker(config: Config, opts: StartInProcessWorkerOptions = {}): Promise<WorkerRuntime> {
  const { log, pool, outbox, dispatcher, relayFor } = createCore(config, opts);
  const transport = createInProcessTransport({
    dispatcher,
    repo: outbox,
    log,
    concurrency: config.worker.concurrency,
    attempts: QUEUE_ATTEMPTS,
    backoffMs: QUEUE_BACKOFF_MS,
  });
  const relay = relayFor(transport);
  relay.start();
  log.info({ topics: dispatcher.topics(), transport: 'in-process' }, 'worker started');

  let stopping: Promise<void> | null = null;
  return {
    port: null,
    stop(deadlineMs = 25_000) {
      stopping ??= (async () => {
        await relay.stop();
        // Rows waiting for a slot or a retry go back to pending; jobs in hand get until the deadline to finish.
        await transport.drain(deadlineMs);
        await dispatcher.close();
        await pool.end();
        log.info('worker closed');
      })();
      return stopping;
    },
  };
}

/** Liveness for orchestrators (the worker has no HTTP API, only this): GET /healthz is 200 while it takes work.
 * GET /metrics when metrics are on (README "Metrics"). */
async function startHealthServer(port: number, host: string, running: () => boolean, metrics: MetricsHandler | null = null): Promise<{ port: number | null; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (metrics && req.url?.split('?')[0] === '/metrics') return metrics(req, res);
    const ok = req.url === '/healthz' && running();
    res.writeHead(ok ? 200 : req.url === '/healthz' ? 503 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : null,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
