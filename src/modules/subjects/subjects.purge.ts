// The accountability period and the purge (Art. 5(1)(e) storage limitation, Art. 5(2) accountability). An erased
// person's tombstone, unreadable consent ledger and request history are kept so the controller can show what it did
// (that consent was given, that the erasure was asked for and carried out, and when); once the tenant's
// `accountability_days` have passed since the erasure they are no longer needed, and go. A `subject_purges` row
// records each purge (when, and the chain's length and head hash as they stood), so a later verification answers
// "purged" instead of "unknown" or "broken". Suppression-list entries stay: they honour the person's objection after
// the erasure (Art. 21(3)) and hold only keyed hashes.
//
// The erasure writes one outbox row of topic `subject.purge`, due when the period ends. Its handler re-reads the
// tenant's setting (it may have changed since), purges, or schedules the row again: at the new due time, or a day
// later while the person still has an open request or task (an erasure task exempt until a date reopens then, and
// the request's history must stay while the system's part is outstanding).
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { z } from 'zod';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { consentEventCorrections, consentEvents, consentState, objections, softOptIns } from '../consents/consents.table.js';
import { exportLinks, exportPackages, exportParts } from '../exports/exports.table.js';
import { idempotencyKeys } from '../idempotency/idempotency.table.js';
import { eventRow } from '../outbox/outbox.events.js';
import type { NewOutboxRow, OutboxRepo, OutboxRow } from '../outbox/outbox.repo.js';
import { outbox } from '../outbox/outbox.table.js';
import { rightsRequestEvents, rightsRequests } from '../rights-requests/rights-requests.table.js';
import { OPEN_STATUSES } from '../rights-requests/rights-requests.transitions.js';
import { OPEN_TASK_STATUSES } from '../tasks/tasks.repo.js';
import { systemTasks } from '../tasks/tasks.table.js';
import { tenants } from '../tenants/tenants.table.js';
import { createSubjectsRepo, type SubjectRow } from './subjects.repo.js';
import { subjectIdentifiers, subjectPurges, subjects } from './subjects.table.js';

export const PURGE_TOPIC = 'subject.purge';
/** A purge row's payload: the subject's id only (the tenant is the row's). */
export const PurgePayloadSchema = z.object({ subject_id: z.uuid() });

const DAY_MS = 86_400_000;
/** While the person has an open request or task, the purge is looked at again this much later. */
export const PURGE_POSTPONE_MS = DAY_MS;
/** How many due purges one `runDue` pass takes at most (the CLI runs passes until none is left). */
const DUE_BATCH = 500;

export type PurgeRecordRow = typeof subjectPurges.$inferSelect;

/** When the accountability period of a person erased at `erasedAt` ends. */
export function purgeDueAt(erasedAt: Date, accountabilityDays: number): Date {
  return new Date(erasedAt.getTime() + accountabilityDays * DAY_MS);
}

/** The purge row an erasure writes in its own transaction, due when the tenant's accountability period ends. */
export function purgeRow(tenantId: string, subjectId: string, erasedAt: Date, accountabilityDays: number): NewOutboxRow {
  return { tenantId, topic: PURGE_TOPIC, payload: { subject_id: subjectId }, refId: subjectId, availableAt: purgeDueAt(erasedAt, accountabilityDays) };
}

/** Reads and writes of the purge: every table that names the subject or one of its requests (derived from the
 * schema's foreign keys and id columns), in one transaction under the subject's row lock. */
export function createPurgesRepo(db: Tx) {
  return {
    /** The record of a purge, if the subject was purged. */
    async find(tenantId: string, subjectId: string, tx: Tx = db): Promise<PurgeRecordRow | undefined> {
      const [row] = await tx
        .select()
        .from(subjectPurges)
        .where(and(eq(subjectPurges.tenantId, tenantId), eq(subjectPurges.subjectId, subjectId)))
        .limit(1);
      return row;
    },

    async accountabilityDays(tenantId: string, tx: Tx = db): Promise<number | undefined> {
      const [row] = await tx.select({ days: tenants.accountabilityDays }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
      return row?.days;
    },

    /**
     * What still holds the person's history: open requests, and open tasks of any of their requests. An erasure
     * task exempt until a date counts as open until the day after that date (it reopens then, Art. 17(3)).
     */
    async openWork(tenantId: string, subjectId: string, now: Date, tx: Tx): Promise<{ requests: number; tasks: number }> {
      const result = await tx.execute<{ requests: number; tasks: number }>(sql`
        SELECT
          (SELECT count(*)::int FROM ${rightsRequests}
            WHERE tenant_id = ${tenantId} AND subject_id = ${subjectId} AND status = ANY(${sql.param([...OPEN_STATUSES])}::text[])) AS requests,
          (SELECT count(*)::int FROM ${systemTasks} t JOIN ${rightsRequests} r ON r.id = t.request_id AND r.tenant_id = t.tenant_id
            WHERE t.tenant_id = ${tenantId} AND r.subject_id = ${subjectId}
              AND (t.status = ANY(${sql.param([...OPEN_TASK_STATUSES])}::text[])
                   OR (t.status = 'exempt' AND t.exemption->>'until' IS NOT NULL
                       AND (t.exemption->>'until')::date >= (${now.toISOString()}::timestamptz AT TIME ZONE 'UTC')::date - 1))) AS tasks`);
      return result.rows[0] ?? { requests: 0, tasks: 0 };
    },

    /** Erased subjects whose accountability period has ended by `now`, in one tenant or all: a page in the order of
     * erasure, after the one `after` names. */
    async due(
      now: Date,
      limit: number,
      opts: { tenantId?: string; after?: { erasedAt: string; subjectId: string } } = {},
      tx: Tx = db,
    ): Promise<{ tenantId: string; subjectId: string; erasedAt: string }[]> {
      const result = await tx.execute<{ tenant_id: string; id: string; erased_at: string }>(sql`
        SELECT s.tenant_id, s.id, s.erased_at::text AS erased_at FROM ${subjects} s JOIN ${tenants} tn ON tn.id = s.tenant_id
         WHERE s.status = 'erased' AND s.erased_at IS NOT NULL
           AND s.erased_at + make_interval(days => tn.accountability_days) <= ${now.toISOString()}::timestamptz
           ${opts.tenantId ? sql`AND s.tenant_id = ${opts.tenantId}` : sql``}
           ${opts.after ? sql`AND (s.erased_at, s.id) > (${opts.after.erasedAt}::timestamptz, ${opts.after.subjectId}::uuid)` : sql``}
         ORDER BY s.erased_at, s.id LIMIT ${limit}`);
      return result.rows.map((r) => ({ tenantId: r.tenant_id, subjectId: r.id, erasedAt: r.erased_at }));
    },

    /**
     * Deletes everything about the subject but the suppression list, and records the purge. The caller holds the
     * subject's row lock and has checked it is erased, due and without open work. Returns the purge record.
     */
    async purge(subject: SubjectRow, purgedAt: Date, tx: Tx): Promise<PurgeRecordRow> {
      const tenantId = subject.tenantId;
      const subjectId = subject.id;
      const requestIds = (
        await tx
          .select({ id: rightsRequests.id })
          .from(rightsRequests)
          .where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.subjectId, subjectId)))
      ).map((r) => r.id);
      const eventIds = (
        await tx
          .select({ id: consentEvents.id })
          .from(consentEvents)
          .where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId)))
      ).map((r) => r.id);

      if (requestIds.length) {
        // Export chunks go with their parts (ON DELETE CASCADE); parts name the requests' tasks, so they go first.
        await tx.delete(exportParts).where(and(eq(exportParts.tenantId, tenantId), inArray(exportParts.requestId, requestIds)));
        await tx.delete(exportLinks).where(and(eq(exportLinks.tenantId, tenantId), inArray(exportLinks.requestId, requestIds)));
        await tx.delete(exportPackages).where(and(eq(exportPackages.tenantId, tenantId), inArray(exportPackages.requestId, requestIds)));
        await tx.delete(systemTasks).where(and(eq(systemTasks.tenantId, tenantId), inArray(systemTasks.requestId, requestIds)));
        await tx.delete(rightsRequestEvents).where(and(eq(rightsRequestEvents.tenantId, tenantId), inArray(rightsRequestEvents.requestId, requestIds)));
        // Finished work about the requests (events announced, tasks sent, reminders cancelled, alerts mailed).
        await tx
          .delete(outbox)
          .where(and(eq(outbox.tenantId, tenantId), inArray(outbox.refId, requestIds), inArray(outbox.status, ['done', 'dead', 'cancelled'])));
      }
      // Stored answers to Idempotency-Key retries that name the subject, its requests or its ledger events.
      const named = [subjectId, ...requestIds];
      await tx.delete(idempotencyKeys).where(
        and(
          eq(idempotencyKeys.tenantId, tenantId),
          or(
            sql`${idempotencyKeys.response}->>'id' = ANY(${sql.param(named)}::text[])`,
            sql`${idempotencyKeys.response}->>'request_id' = ANY(${sql.param(named)}::text[])`,
            eventIds.length
              ? sql`(jsonb_typeof(${idempotencyKeys.response}->'event_ids') = 'array' AND jsonb_exists_any(${idempotencyKeys.response}->'event_ids', ${sql.param(eventIds)}::text[]))`
              : sql`false`,
          ),
        ),
      );
      await tx.delete(objections).where(and(eq(objections.tenantId, tenantId), eq(objections.subjectId, subjectId)));
      if (requestIds.length) await tx.delete(rightsRequests).where(and(eq(rightsRequests.tenantId, tenantId), inArray(rightsRequests.id, requestIds)));
      // The ledger is append-only (a trigger refuses DELETE) except in a transaction that declares an erasure.
      await tx.execute(sql`SET LOCAL rightful.erasure = 'on'`);
      await tx.delete(consentEventCorrections).where(and(eq(consentEventCorrections.tenantId, tenantId), eq(consentEventCorrections.subjectId, subjectId)));
      await tx.delete(consentState).where(and(eq(consentState.tenantId, tenantId), eq(consentState.subjectId, subjectId)));
      await tx.delete(consentEvents).where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId)));
      await tx.execute(sql`SET LOCAL rightful.erasure = 'off'`);
      await tx.delete(softOptIns).where(and(eq(softOptIns.tenantId, tenantId), eq(softOptIns.subjectId, subjectId)));
      await tx.delete(subjectIdentifiers).where(and(eq(subjectIdentifiers.tenantId, tenantId), eq(subjectIdentifiers.subjectId, subjectId)));
      await tx.delete(subjects).where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, subjectId)));
      const [record] = await tx
        .insert(subjectPurges)
        .values({
          tenantId,
          subjectId,
          erasedAt: subject.erasedAt!,
          purgedAt,
          ledgerSeq: subject.ledgerSeq,
          ledgerHead: subject.ledgerHead,
          requests: requestIds.length,
        })
        .returning();
      return record!;
    },

    /** Other purge rows of the subject still waiting (the CLI purged it first): their work is done. */
    async settleWaitingRows(tenantId: string, subjectId: string, exceptId: string | null, tx: Tx): Promise<void> {
      await tx.execute(sql`
        UPDATE ${outbox} SET status = 'done', finished_at = now(), last_error = 'purged', locked_until = NULL, enqueued_at = NULL
         WHERE tenant_id = ${tenantId} AND topic = ${PURGE_TOPIC} AND ref_id = ${subjectId} AND status = 'pending'
           ${exceptId ? sql`AND id <> ${exceptId}` : sql``}`);
    },
  };
}
export type PurgesRepo = ReturnType<typeof createPurgesRepo>;

/**
 * After the tenant's period was shortened: its waiting purge rows due later than the new period's end are brought
 * forward to it (a lengthened period needs nothing here: each row re-reads the setting when it falls due and waits
 * again). Run in the transaction that changes the setting.
 */
export async function bringPurgesForward(tenantId: string, tx: Tx): Promise<number> {
  const result = await tx.execute(sql`
    UPDATE ${outbox} o SET available_at = s.erased_at + make_interval(days => tn.accountability_days)
      FROM ${subjects} s JOIN ${tenants} tn ON tn.id = s.tenant_id
     WHERE o.tenant_id = ${tenantId} AND o.topic = ${PURGE_TOPIC} AND o.status = 'pending'
       AND s.tenant_id = o.tenant_id AND s.id = o.ref_id AND s.erased_at IS NOT NULL
       AND o.available_at > s.erased_at + make_interval(days => tn.accountability_days)`);
  return result.rowCount ?? 0;
}

/** What one look at a subject's purge found. */
export type PurgeOutcome =
  | { result: 'purged'; record: PurgeRecordRow }
  /** Purged before: nothing left to do. */
  | { result: 'already_purged' }
  /** No such subject in the tenant (and no purge record), or it is not erased: nothing to purge. */
  | { result: 'not_erased' }
  | { result: 'not_due'; dueAt: Date }
  | { result: 'postponed'; reason: 'open_request' | 'open_task'; retryAt: Date };

export function createPurgeService(deps: { db: Db; outbox: OutboxRepo; clock?: () => Date; log?: Pick<Logger, 'info'> }) {
  const { db, outbox } = deps;
  const clock = deps.clock ?? (() => new Date());
  const repo = createPurgesRepo(db);
  const subjectsRepo = createSubjectsRepo(db);

  /** Looks at one subject under its row lock and purges it when due; `rowId`: the purge row being handled. */
  async function purgeLocked(tenantId: string, subjectId: string, now: Date, rowId: string | null, tx: Tx): Promise<PurgeOutcome> {
    const subject = await subjectsRepo.lock(tenantId, subjectId, tx);
    if (!subject) return (await repo.find(tenantId, subjectId, tx)) ? { result: 'already_purged' } : { result: 'not_erased' };
    if (subject.status !== 'erased' || !subject.erasedAt) return { result: 'not_erased' };
    // The tenant's setting as it is now: a period lengthened or shortened since the erasure counts.
    const days = await repo.accountabilityDays(tenantId, tx);
    if (days === undefined) return { result: 'not_erased' };
    const dueAt = purgeDueAt(subject.erasedAt, days);
    if (now < dueAt) return { result: 'not_due', dueAt };
    const open = await repo.openWork(tenantId, subjectId, now, tx);
    if (open.requests > 0 || open.tasks > 0) {
      return { result: 'postponed', reason: open.requests > 0 ? 'open_request' : 'open_task', retryAt: new Date(now.getTime() + PURGE_POSTPONE_MS) };
    }
    const record = await repo.purge(subject, now, tx);
    await repo.settleWaitingRows(tenantId, subjectId, rowId, tx);
    await outbox.insert([eventRow(tenantId, 'subject.purged', { subject_id: subjectId, purged_at: now.toISOString() }, now)], tx);
    return { result: 'purged', record };
  }

  return {
    /** The record of a purge, if the subject was purged. */
    findRecord: (tenantId: string, subjectId: string) => repo.find(tenantId, subjectId),

    /**
     * Handles a purge row, in one transaction with what it decides: purged (the row done), or scheduled again (at
     * the period's new end, or a day later while a request or task is open; last_error says why, ids only).
     */
    async handle(row: OutboxRow, subjectId: string): Promise<PurgeOutcome> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const outcome = await purgeLocked(row.tenantId, subjectId, now, row.id, tx);
        switch (outcome.result) {
          case 'purged':
          case 'already_purged':
            await outbox.finish(row.id, 'done', null, tx);
            break;
          case 'not_erased':
            await outbox.finish(row.id, 'cancelled', 'the subject is not an erased subject of this tenant', tx);
            break;
          case 'not_due':
            await outbox.retryAt(row.id, outcome.dueAt, `not due: the accountability period ends at ${outcome.dueAt.toISOString()}`, tx);
            break;
          case 'postponed':
            await outbox.retryAt(
              row.id,
              outcome.retryAt,
              `postponed: the subject has an ${outcome.reason === 'open_request' ? 'open rights request' : 'open system task'}; looked at again at ${outcome.retryAt.toISOString()}`,
              tx,
            );
            break;
        }
        return outcome;
      });
    },

    /**
     * Runs every purge that is due now (in one tenant, or all), whether or not a worker handled its row: for
     * operators whose worker was down, and for people erased before purge rows were written. Counts only.
     */
    async runDue(opts: { tenantId?: string } = {}): Promise<{ due: number; purged: number; postponed: number }> {
      const now = clock();
      const counts = { due: 0, purged: 0, postponed: 0 };
      let after: { erasedAt: string; subjectId: string } | undefined;
      for (;;) {
        const batch = await repo.due(now, DUE_BATCH, { tenantId: opts.tenantId, after });
        if (batch.length === 0) break;
        after = { erasedAt: batch.at(-1)!.erasedAt, subjectId: batch.at(-1)!.subjectId };
        for (const d of batch) {
          counts.due++;
          const outcome = await inTransaction(db, (tx) => purgeLocked(d.tenantId, d.subjectId, now, null, tx));
          if (outcome.result === 'purged') counts.purged++;
          else if (outcome.result === 'postponed') counts.postponed++;
        }
      }
      deps.log?.info(counts, 'due purges run');
      return counts;
    },
  };
}
export type PurgeService = ReturnType<typeof createPurgeService>;
