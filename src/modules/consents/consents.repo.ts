import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { subjects } from '../subjects/subjects.table.js';
import { consentEvents, consentState } from './consents.table.js';

export type ConsentEventRow = typeof consentEvents.$inferSelect;
export type ConsentStateRow = typeof consentState.$inferSelect;

export type CheckRow = {
  ord: number;
  subject_id: string;
  status: string;
  marketing_objection: boolean;
  automated_decision_objection: boolean;
  restricted: boolean;
  consent: string | null;
};

export type SubjectStateRow = Pick<ConsentStateRow, 'purposeKey' | 'status' | 'purposeVersion' | 'since' | 'eventId'>;

export function createConsentsRepo(db: Tx) {
  // The state read is the hottest single-subject read: one round trip (the subject's existence and its state rows
  // together) as a named prepared statement, so neither drizzle nor Postgres re-plans it on every call.
  const subjectState = db
    .select({
      subjectId: subjects.id,
      purposeKey: consentState.purposeKey,
      status: consentState.status,
      purposeVersion: consentState.purposeVersion,
      since: consentState.since,
      eventId: consentState.eventId,
    })
    .from(subjects)
    .leftJoin(consentState, and(eq(consentState.tenantId, subjects.tenantId), eq(consentState.subjectId, subjects.id)))
    .where(and(eq(subjects.tenantId, sql.placeholder('tenantId')), eq(subjects.id, sql.placeholder('subjectId'))))
    .orderBy(asc(consentState.purposeKey))
    .prepare('consents_subject_state');

  return {
    /** The subject's current state per purpose; null when the tenant has no such subject. */
    async subjectState(tenantId: string, subjectId: string): Promise<SubjectStateRow[] | null> {
      const rows = await subjectState.execute({ tenantId, subjectId });
      if (rows.length === 0) return null;
      // A subject with no decision yet comes back as one row of nulls from the outer join.
      return rows.filter((r): r is typeof r & SubjectStateRow => r.purposeKey !== null);
    },
    async insertEvents(rows: (typeof consentEvents.$inferInsert)[], tx: Tx): Promise<void> {
      await tx.insert(consentEvents).values(rows);
    },
    /** The projection keeps the decision that occurred last, whatever order decisions were recorded in. */
    async upsertState(rows: (typeof consentState.$inferInsert)[], tx: Tx): Promise<void> {
      await tx
        .insert(consentState)
        .values(rows)
        .onConflictDoUpdate({
          target: [consentState.subjectId, consentState.purposeKey],
          set: {
            status: sql`excluded.status`,
            purposeVersion: sql`excluded.purpose_version`,
            since: sql`excluded.since`,
            eventId: sql`excluded.event_id`,
            updatedAt: sql`now()`,
          },
          setWhere: sql`${consentState.since} <= excluded.since`,
        });
    },
    async advanceHead(tenantId: string, subjectId: string, seq: number, hash: string, tx: Tx): Promise<void> {
      await tx
        .update(subjects)
        .set({ ledgerSeq: seq, ledgerHead: hash })
        .where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, subjectId)));
    },
    async state(tenantId: string, subjectId: string, tx: Tx = db): Promise<ConsentStateRow[]> {
      return tx
        .select()
        .from(consentState)
        .where(and(eq(consentState.tenantId, tenantId), eq(consentState.subjectId, subjectId)))
        .orderBy(asc(consentState.purposeKey));
    },
    async events(tenantId: string, subjectId: string, opts: { afterSeq: number; limit: number }, tx: Tx = db): Promise<ConsentEventRow[]> {
      return tx
        .select()
        .from(consentEvents)
        .where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId), gt(consentEvents.seq, opts.afterSeq)))
        .orderBy(asc(consentEvents.seq))
        .limit(opts.limit);
    },
    async eventsByIds(tenantId: string, subjectId: string, ids: string[], tx: Tx = db): Promise<ConsentEventRow[]> {
      if (ids.length === 0) return [];
      return tx
        .select()
        .from(consentEvents)
        .where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId), inArray(consentEvents.id, ids)))
        .orderBy(asc(consentEvents.seq));
    },
    /** The campaign check in one round trip: identifiers (in order) → subject flags and consent for one purpose. */
    async check(tenantId: string, purposeKey: string, types: string[], blindIndexesHex: string[], tx: Tx = db): Promise<CheckRow[]> {
      const result = await tx.execute<CheckRow>(sql`
        SELECT t.ord::int AS ord, s.id AS subject_id, s.status, s.marketing_objection, s.automated_decision_objection,
               s.restricted, cs.status AS consent
          FROM unnest(${sql.param(types)}::text[], ${sql.param(blindIndexesHex)}::text[]) WITH ORDINALITY AS t(type, bidx, ord)
          JOIN subject_identifiers si
            ON si.tenant_id = ${tenantId} AND si.type = t.type AND si.blind_index = decode(t.bidx, 'hex')
          JOIN subjects s ON s.id = si.subject_id AND s.tenant_id = ${tenantId}
          LEFT JOIN consent_state cs ON cs.subject_id = s.id AND cs.purpose_key = ${purposeKey}`);
      return result.rows;
    },
  };
}
export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
