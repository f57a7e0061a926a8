// The relay's transport when there is no Redis: claimed rows run through the dispatcher in this process, at most
// `concurrency` at once, with the same attempts and backoff as a BullMQ job. Nothing is held only in memory: a row
// is claimed in Postgres before it gets here, and a row whose job is lost with the process (a crash, a stop past its
// deadline) is found by the relay's reconciler once its visibility timeout has passed, as a job lost with Redis is.
import type { Logger } from 'pino';
import type { ProcessResult } from './outbox.dispatcher.js';
import type { ClaimedRow, OutboxTransport } from './outbox.relay.js';
import { withTenant } from '../../db/tenant-scope.js';
import type { OutboxRepo } from './outbox.repo.js';

type Job = { row: ClaimedRow; tries: number; state: 'waiting' | 'delayed' | 'active'; timer?: NodeJS.Timeout };

export type InProcessTransport = OutboxTransport & {
  /** Stops taking rows, puts the rows that wait (for a slot or a retry) back to pending, and waits up to the
   * deadline for the jobs that run; jobs still running then are abandoned (their holds expire, the row is recovered). */
  drain(deadlineMs: number): Promise<void>;
};

export function createInProcessTransport(deps: {
  dispatcher: { process(outboxId: string, opts: { tenantId: string; lastTry?: boolean }): Promise<ProcessResult> };
  repo: OutboxRepo;
  log: Logger;
  concurrency: number;
  /** Runs of one claim before it is left to the reconciler (BullMQ's `attempts`); the last is the dispatcher's `lastTry`. */
  attempts: number;
  /** The first retry's delay; each next one doubles (BullMQ's exponential backoff). */
  backoffMs: number;
}): InProcessTransport {
  const { dispatcher, repo, log, concurrency, attempts, backoffMs } = deps;
  // Keyed by row and claim, as BullMQ job ids are: a row claimed again while its older job still runs is a new job.
  const jobs = new Map<string, Job>();
  const waiting: Job[] = [];
  const roomListeners: (() => void)[] = [];
  let active = 0;
  let closed = false;
  let idle: (() => void) | null = null;

  const keyOf = (row: ClaimedRow) => `${row.id}-${row.attempts}`;

  function pump(): void {
    while (!closed && active < concurrency && waiting.length > 0) void run(waiting.shift()!);
  }

  async function run(job: Job): Promise<void> {
    job.state = 'active';
    active++;
    job.tries++;
    const { row } = job;
    try {
      if (job.tries > 1) {
        // Another process's reconciler may have given this row to a newer claim while this retry waited: let it go.
        const current = await withTenant(row.tenantId, () => repo.findById(row.id));
        if (!current || current.status !== 'enqueued' || current.attempts !== row.attempts) {
          jobs.delete(keyOf(row));
          return;
        }
      }
      await dispatcher.process(row.id, { tenantId: row.tenantId, lastTry: job.tries >= attempts });
      jobs.delete(keyOf(row));
    } catch (err) {
      log.warn({ outbox_id: row.id, topic: row.topic, try: job.tries, err: { message: (err as Error).message } }, 'job failed');
      if (job.tries >= attempts || closed) {
        // The row stays in flight without a hold; the reconciler hands it over again after the visibility timeout.
        jobs.delete(keyOf(row));
      } else {
        job.state = 'delayed';
        job.timer = setTimeout(
          () => {
            job.timer = undefined;
            job.state = 'waiting';
            waiting.push(job);
            pump();
          },
          backoffMs * 2 ** (job.tries - 1),
        );
      }
    } finally {
      active--;
      if (active === 0) idle?.();
      for (const fn of roomListeners) fn();
      pump();
    }
  }

  return {
    async add(rows) {
      if (closed) throw new Error('the in-process worker is stopping');
      for (const row of rows) {
        if (jobs.has(keyOf(row))) continue;
        const job: Job = { row, tries: 0, state: 'waiting' };
        jobs.set(keyOf(row), job);
        waiting.push(job);
      }
      pump();
    },

    async isQueued(row) {
      const state = jobs.get(keyOf(row))?.state;
      return state === 'waiting' || state === 'delayed';
    },

    room() {
      return closed ? 0 : Math.max(0, concurrency - active - waiting.length);
    },

    onRoom(fn) {
      roomListeners.push(fn);
    },

    async drain(deadlineMs) {
      closed = true;
      const parked = [...jobs.values()].filter((j) => j.state !== 'active');
      for (const job of parked) {
        clearTimeout(job.timer);
        jobs.delete(keyOf(job.row));
      }
      waiting.length = 0;
      // Back to pending at once, so the next worker need not wait out the visibility timeout; a row another claim
      // or processor has meanwhile is left alone.
      for (const job of parked) await repo.requeue(job.row).catch(() => {});
      if (active === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (idle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
      clearTimeout(timer);
      if (active > 0) log.warn({ abandoned: active }, 'in-process worker stopped with jobs running; their rows are recovered later');
    },
  };
}
