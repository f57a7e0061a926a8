import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { withTenant } from '../../db/tenant-scope.js';
import { createBatcher } from './outbox.batcher.js';
import { outbox } from './outbox.table.js';

export type OutboxRow = typeof outbox.$inferSelect;
/**
 * A row the relay claimed or found, with its tenant: `attempts` counts its claims, so (id, attempts) names one
 * hand-over; `jobId` names the queue job that carries it, alone or with other rows of its tenant and topic.
 */
export type QueuedRow = { id: string; tenantId: string; topic: string; attempts: number; jobId: string };
/** The job of a row handed over alone: re-adding it dedupes, and a later claim is a new job. */
const jobIdOf = (row: { id: string; attempts: number }) => `ob-${row.id}-${row.attempts}`;
type QueuedRecord = { id: string; tenant_id: string; topic: string; attempts: number; job_id: string | null };
const queued = (r: QueuedRecord): QueuedRow => ({ id: r.id, tenantId: r.tenant_id, topic: r.topic, attempts: r.attempts, jobId: r.job_id ?? jobIdOf(r) });

// "The row is in flight", written so that the planner cannot answer it from the partial index `outbox_in_flight`.
// Every statement that names its rows by id must find them through the primary key; but the outbox's statistics lag
// its churn (a backlog claimed since the last ANALYZE still counts as pending), and with `status = 'enqueued'` the
// planner then reads the whole in-flight index as if it held a row or two: measured at 4.7 ms for a one-row take with
// 20,000 rows in flight, against 0.3 ms by the key.
const inFlight = sql`(${outbox.status} || '') = 'enqueued'`;

/** What a row gets when its work is done: the `SET` of every statement that finishes rows, here or in another module's. */
export const OUTBOX_DONE = sql.raw(`status = 'done', last_error = NULL, locked_until = NULL, finished_at = now()`);

export type NewOutboxRow = { id?: string; tenantId: string; topic: string; payload: Record<string, unknown>; availableAt?: Date; refId?: string };

export function createOutboxRepo(db: Tx) {
  /** Takes rows for holdMs, in one statement: one answer per id, in order (null: finished or held elsewhere). */
  async function takeMany(ids: string[], holdMs: number, tx: Tx): Promise<(OutboxRow | null)[]> {
    const rows = await tx
      .update(outbox)
      .set({ lockedUntil: sql`now() + make_interval(secs => ${holdMs / 1000})` })
      .where(and(sql`${outbox.id} = ANY(${sql.param(ids)}::uuid[])`, inFlight, sql`(${outbox.lockedUntil} IS NULL OR ${outbox.lockedUntil} < now())`))
      .returning();
    const byId = new Map(rows.map((r) => [r.id, r]));
    // A row asked for twice in one batch (two jobs of one row) goes to the first asker only: one holder at a time.
    return ids.map((id) => {
      const row = byId.get(id) ?? null;
      byId.delete(id);
      return row;
    });
  }
  // The worker's processors take and complete rows through these, many jobs to a statement (outbox.batcher.ts),
  // each statement in the scope of its calls' tenant.
  const takeBatched = createBatcher(async (calls: { id: string; holdMs: number }[]) => {
    const holds = [...new Set(calls.map((c) => c.holdMs))];
    const answers = await Promise.all(holds.map((h) => takeMany(calls.filter((c) => c.holdMs === h).map((c) => c.id), h, db)));
    const next = holds.map(() => 0);
    return calls.map((c) => {
      const k = holds.indexOf(c.holdMs);
      return answers[k]![next[k]!++]!;
    });
  });
  const completeBatched = createBatcher(async (calls: { id: string; attempts: number }[]) => {
    await db.execute(sql`
      UPDATE outbox SET ${OUTBOX_DONE}
        FROM unnest(${sql.param(calls.map((c) => c.id))}::uuid[], ${sql.param(calls.map((c) => c.attempts))}::int[]) AS v(id, attempts)
       WHERE outbox.id = v.id AND ${inFlight} AND outbox.attempts = v.attempts`);
    return calls.map(() => undefined);
  });

  return {
    /** Called inside the transaction of the change it announces. */
    async insert(rows: NewOutboxRow[], tx: Tx): Promise<string[]> {
      if (rows.length === 0) return [];
      const values = rows.map((r) => ({ ...r, id: r.id ?? crypto.randomUUID() }));
      await tx.insert(outbox).values(values);
      return values.map((v) => v.id);
    },

    // The relay works for every tenant: it claims and finds rows through functions that answer ids and tenants
    // only (migrations/0013_row_level_security.sql), and touches each row it was given in that row's tenant scope.

    /**
     * Claims due rows for the queue: SKIP LOCKED lets several relays run without taking the same row. The rows of one
     * tenant and topic go to jobs of up to `rowsPerJob` rows each (their `jobId`); a row alone keeps its own job id.
     */
    async claimDue(limit: number, now: Date, rowsPerJob = 1): Promise<QueuedRow[]> {
      const result = await db.execute<QueuedRecord>(
        sql`SELECT id, tenant_id, topic, attempts, job_id FROM rightful_outbox_claim(${limit}, ${now.toISOString()}::timestamptz, ${rowsPerJob})`,
      );
      return result.rows.map(queued);
    },

    /** Puts rows back when they could not be handed to the queue. */
    async release(rows: Pick<QueuedRow, 'id' | 'tenantId'>[], error: string): Promise<void> {
      for (const tenantId of new Set(rows.map((r) => r.tenantId))) {
        const ids = rows.filter((r) => r.tenantId === tenantId).map((r) => r.id);
        // Awaited inside the scope: a query builder runs when awaited, and takes the scope it is awaited in.
        await withTenant(tenantId, async () => {
          await db
            .update(outbox)
            .set({ status: 'pending', enqueuedAt: null, lastError: error })
            .where(and(inArray(outbox.id, ids), inFlight));
        });
      }
    },

    /** Rows handed to the queue longer ago than the visibility timeout: their jobs may have vanished. */
    async overdueInFlight(olderThanMs: number, limit: number): Promise<QueuedRow[]> {
      const result = await db.execute<QueuedRecord>(
        sql`SELECT id, tenant_id, topic, attempts, job_id FROM rightful_outbox_overdue(${Math.round(olderThanMs)}, ${limit})`,
      );
      return result.rows.map(queued);
    },

    async requeue(row: Pick<QueuedRow, 'id' | 'tenantId' | 'attempts'>): Promise<void> {
      await withTenant(row.tenantId, async () => {
        await db
          .update(outbox)
          .set({ status: 'pending', enqueuedAt: null, lockedUntil: null })
          // A row a processor holds right now is not lost, whatever the queue said a moment ago: it is left alone.
          .where(
            and(
              eq(outbox.id, row.id),
              inFlight,
              eq(outbox.attempts, row.attempts),
              sql`(${outbox.lockedUntil} IS NULL OR ${outbox.lockedUntil} < now())`,
            ),
          );
      });
    },

    /** A processor takes the row for holdMs; null when it is finished or another processor holds it. */
    async take(id: string, holdMs: number, tx: Tx = db): Promise<OutboxRow | null> {
      if (tx === db) return takeBatched({ id, holdMs });
      return (await takeMany([id], holdMs, tx))[0]!;
    },

    /** Takes a job's rows for holdMs, in one statement (shared with the takes made at once): one answer per id, in order. */
    takeAll(ids: string[], holdMs: number): Promise<(OutboxRow | null)[]> {
      return Promise.all(takeBatched.many(ids.map((id) => ({ id, holdMs }))));
    },

    async findById(id: string, tx: Tx = db): Promise<OutboxRow | undefined> {
      const [row] = await tx.select().from(outbox).where(eq(outbox.id, id)).limit(1);
      return row;
    },

    async finish(id: string, status: 'done' | 'dead' | 'cancelled', error: string | null, tx: Tx = db): Promise<void> {
      await tx.update(outbox).set({ status, lastError: error, lockedUntil: null, finishedAt: new Date() }).where(eq(outbox.id, id));
    },

    /** Lets go of a row whose handler failed, so the queue's retry can take it at once; it stays in flight. */
    async unhold(id: string, attempts: number, error: string, tx: Tx = db): Promise<void> {
      await tx
        .update(outbox)
        .set({ lockedUntil: null, lastError: error })
        .where(and(eq(outbox.id, id), inFlight, eq(outbox.attempts, attempts)));
    },

    /** Done, unless its handler finished or rescheduled it meanwhile, or it went back to the queue (a later attempt). */
    async complete(id: string, attempts: number, tx: Tx = db): Promise<void> {
      if (tx === db) return completeBatched({ id, attempts });
      await tx
        .update(outbox)
        .set({ status: 'done', lastError: null, lockedUntil: null, finishedAt: new Date() })
        .where(and(eq(outbox.id, id), inFlight, eq(outbox.attempts, attempts)));
    },

    /** Schedules the row again (a webhook retry): it goes back to pending, due at `at`. */
    async retryAt(id: string, at: Date, error: string, tx: Tx = db): Promise<void> {
      await tx
        .update(outbox)
        .set({ status: 'pending', availableAt: at, enqueuedAt: null, lockedUntil: null, lastError: error })
        .where(eq(outbox.id, id));
    },

    /** Cancels the pending rows about `refId` (optionally only some topics or event types), in the caller's transaction. */
    async cancelPendingFor(refId: string, eventTypes: string[], tx: Tx): Promise<number> {
      const result = await tx.execute(sql`
        UPDATE outbox SET status = 'cancelled', finished_at = now(), last_error = 'superseded'
         WHERE ref_id = ${refId} AND status = 'pending' AND payload->>'type' = ANY(${sql.param(eventTypes)}::text[])`);
      return result.rowCount ?? 0;
    },

    async overdueCount(tenantId: string, tx: Tx = db): Promise<number> {
      const result = await tx.execute<{ n: number }>(sql`
        SELECT count(*)::int AS n FROM outbox
         WHERE tenant_id = ${tenantId} AND status = 'pending' AND available_at < now() - interval '1 minute'`);
      return result.rows[0]?.n ?? 0;
    },

    async countsByStatus(tenantId: string, tx: Tx = db): Promise<Record<string, number>> {
      const rows = await tx
        .select({ status: outbox.status, n: sql<number>`count(*)::int` })
        .from(outbox)
        .where(eq(outbox.tenantId, tenantId))
        .groupBy(outbox.status);
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
  };
}
export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
