// The relay: claims due outbox rows and hands them to a transport (woken by LISTEN/NOTIFY and by a short poll), and
// re-enqueues rows whose job vanished (Redis restarted empty, a worker killed mid-job) once the visibility timeout has
// passed. Two transports sit behind it: BullMQ on Redis (any number of workers), and the dispatcher run in this
// process (outbox.in-process.ts, when there is no Redis). The claiming, the retries and the recovery are the same.
import type { Queue } from 'bullmq';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { OutboxRepo, QueuedRow } from './outbox.repo.js';

export const OUTBOX_CHANNEL = 'rightful_outbox';
export const OUTBOX_QUEUE = 'outbox';
/** Rows one job carries at most (the claim's grouping, and what a job's data is checked against). */
export const JOB_ROWS_MAX = 100;
/**
 * A job of the outbox queue: named by its rows' topic, it carries their ids (one tenant's) and nothing else (INV-6).
 * The tenant names the scope the rows are processed in; a job queued without one is left to the reconciler, which
 * hands its rows over again with it. `outbox_id`: a job of one row, as releases before grouped jobs queued them.
 */
export const OutboxJobSchema = z.union([
  z.object({ outbox_ids: z.array(z.uuid()).min(1).max(JOB_ROWS_MAX), tenant_id: z.uuid() }),
  z.object({ outbox_id: z.uuid(), tenant_id: z.uuid() }),
]);
export type OutboxJob = z.infer<typeof OutboxJobSchema>;
/** The ids of a job's rows, whichever shape it was queued in. */
export const rowsOfJob = (job: OutboxJob): string[] => ('outbox_ids' in job ? job.outbox_ids : [job.outbox_id]);

export type RelayOptions = { sweepMs: number; reconcileMs: number; visibilityTimeoutMs: number; batch: number; databaseUrl: string };

/** A row the relay claimed: `attempts` counts its claims, so (id, attempts) names one hand-over. */
export type ClaimedRow = QueuedRow;

/** Where the relay hands claimed rows: the queue that runs the dispatcher on them. */
export type OutboxTransport = {
  /** Takes the rows or throws (the relay then puts them back to pending); a row handed over twice runs once. */
  add(rows: ClaimedRow[]): Promise<void>;
  /** Whether the row's job still waits to run (for a slot or a retry): the reconciler leaves such rows alone. */
  isQueued(row: ClaimedRow): Promise<boolean>;
  /** Rows of one tenant and topic that one job may carry (claimed together, named by `jobId`). Absent: 1. */
  rowsPerJob?: number;
  /** How many rows it takes now; the relay claims no more. Absent: a whole batch. */
  room?(): number;
  /** Calls `fn` when room frees up, so rows left due for want of room are claimed at once. */
  onRoom?(fn: () => void): void;
};

/**
 * BullMQ as the transport: one job per group the claim made (up to `rowsPerJob` rows of one tenant and topic), named
 * by the topic, with the id the claim gave its rows (`ob-<first id>-<attempts>`): re-adding a claim dedupes.
 */
export function createBullmqTransport(queue: Queue, opts: { rowsPerJob?: number } = {}): OutboxTransport {
  return {
    rowsPerJob: Math.min(Math.max(1, opts.rowsPerJob ?? 1), JOB_ROWS_MAX),
    async add(rows) {
      const jobs = new Map<string, ClaimedRow[]>();
      for (const r of rows) jobs.set(r.jobId, [...(jobs.get(r.jobId) ?? []), r]);
      await queue.addBulk(
        [...jobs].map(([jobId, group]) => ({
          name: group[0]!.topic,
          data: { outbox_ids: group.map((r) => r.id), tenant_id: group[0]!.tenantId } satisfies OutboxJob,
          opts: { jobId },
        })),
      );
    },
    async isQueued(row) {
      const job = await queue.getJob(row.jobId);
      const state = job ? await job.getState() : 'missing';
      return state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
    },
  };
}

export function createRelay(deps: { repo: OutboxRepo; queue: OutboxTransport; log: Logger; options: RelayOptions; clock?: () => Date }) {
  const { repo, queue, log, options } = deps;
  // Due-ness follows the injected clock, so tests can move time forward to a reminder without waiting for it.
  const clock = deps.clock ?? (() => new Date());
  let running = false;
  let wake: (() => void) | null = null;
  // A NOTIFY that arrives while a sweep runs must not wait for the next poll.
  let notified = false;
  let listener: pg.Client | null = null;
  let loops: Promise<void>[] = [];
  let lastReconcile = 0;
  // The last sweep claimed as much as the transport had room for: more rows may be due.
  let wantsRoom = false;

  const poke = () => {
    if (wake) wake();
    else notified = true;
  };
  queue.onRoom?.(() => {
    if (!wantsRoom) return;
    wantsRoom = false;
    poke();
  });

  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      if (notified) {
        notified = false;
        return resolve();
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  async function listen(): Promise<void> {
    if (!running || listener) return;
    const client = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 2000 });
    client.on('error', () => {
      // A lost LISTEN connection only costs latency: the poll still runs. Reconnect on the next loop.
      listener = null;
      client.end().catch(() => {});
    });
    client.on('notification', poke);
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      listener = client;
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'outbox LISTEN unavailable; polling only');
      client.end().catch(() => {});
    }
  }

  /** Claims one batch (no more than the transport has room for) and hands it over; returns how many rows it moved. */
  async function sweep(): Promise<number> {
    const limit = Math.max(0, Math.min(options.batch, queue.room?.() ?? options.batch));
    wantsRoom = limit < options.batch;
    if (limit === 0) return 0;
    const rows = await repo.claimDue(limit, clock(), queue.rowsPerJob ?? 1);
    if (rows.length < limit) wantsRoom = false;
    if (rows.length === 0) return 0;
    try {
      await queue.add(rows);
    } catch (err) {
      // Redis is down or refused, or the transport is closing: the rows go back to pending and nothing is lost.
      await repo.release(rows, 'enqueue failed');
      throw err;
    }
    return rows.length;
  }

  async function reconcile(): Promise<number> {
    const rows = await repo.overdueInFlight(options.visibilityTimeoutMs, 500);
    let requeued = 0;
    for (const r of rows) {
      // Only a job still queued is left alone. Any other state means the row's job is gone or its processor is:
      // finished without finishing the row, failed, vanished with Redis (or with the process that held it), or
      // active past the visibility timeout with no hold on the row (a processor takes its row first thing; the
      // row's hold has expired, or was never taken because the processor died). A processor that is merely slow
      // then fails its take, harmlessly.
      if (!(await queue.isQueued(r))) {
        await repo.requeue(r);
        requeued++;
      }
    }
    if (requeued) log.info({ requeued }, 'outbox rows re-enqueued after their jobs vanished');
    return requeued;
  }

  async function loop(): Promise<void> {
    let backoff = 0;
    while (running) {
      try {
        await listen();
        notified = false;
        const moved = await sweep();
        if (Date.now() - lastReconcile >= options.reconcileMs) {
          lastReconcile = Date.now();
          await reconcile();
        }
        backoff = 0;
        // A full batch: more rows are due now. Fewer: nap until NOTIFY, the poll, or (short of room) a free slot.
        if (moved < options.batch) await nap(options.sweepMs);
      } catch (err) {
        backoff = Math.min(backoff ? backoff * 2 : 250, 5000);
        log.warn({ err: { message: (err as Error).message } }, 'outbox relay pass failed; retrying');
        await nap(backoff);
      }
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loops = [loop()];
    },
    async stop(): Promise<void> {
      running = false;
      wake?.();
      await Promise.all(loops);
      await listener?.end().catch(() => {});
      listener = null;
    },
    sweep,
    reconcile,
  };
}
export type Relay = ReturnType<typeof createRelay>;
