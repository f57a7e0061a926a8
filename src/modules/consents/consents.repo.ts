import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { subjects } from '../subjects/subjects.table.js';
import { consentEventCorrections, consentEvents, consentState, objections, softOptIns } from './consents.table.js';

export type CorrectionRow = typeof consentEventCorrections.$inferSelect;
/** A ledger row as stored, with its correction when its occurred_at was repaired. */
export type ConsentEventRow = typeof consentEvents.$inferSelect & { correction?: CorrectionRow | null };
export type ConsentStateRow = typeof consentState.$inferSelect;

export type ObjectionRow = typeof objections.$inferSelect;
export type SoftOptInRow = typeof softOptIns.$inferSelect;

export type CheckRow = {
  ord: number;
  subject_id: string;
  status: string;
  origin: 'crm' | 'rights_request';
  marketing_objection: boolean;
  automated_decision_objection: boolean;
  restricted: boolean;
  consent: string | null;
  consent_version: number | null;
  /** When the consent state last changed (a grant after a suppression is a fresh opt-in). */
  consent_changed_ms: number | null;
  /** An upheld objection to this purpose (Art. 21(1) or 21(2)). */
  purpose_objection: boolean;
  soft_opt_in: boolean;
  erasure_pending: boolean;
};

export type SubjectStateRow = Pick<ConsentStateRow, 'purposeKey' | 'status' | 'purposeVersion' | 'since' | 'eventId'>;

export type LedgerHead = {
  id: string;
  status: 'active' | 'erased';
  ledgerSeq: number;
  ledgerHead: string | null;
  dataKeyWrapped: Buffer | null;
  keyId: string | null;
  purposes: { key: string; version: number; legalBasis: string; directMarketing: boolean }[];
};

type NewEvent = typeof consentEvents.$inferInsert & { evidenceSealed: Buffer | null; prevHash: string | null };
type NewState = typeof consentState.$inferInsert;
type NewOutbox = { id: string; tenantId: string; topic: string; payload: Record<string, unknown>; availableAt: Date };

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
    /**
     * The first statement of a consent write: takes the subject's row lock (every write to one subject's ledger
     * queues behind it) and reads, with it, the purposes the decisions name. Undefined when the subject is not
     * in the tenant.
     */
    async lockForRecord(tenantId: string, subjectId: string, purposeKeys: string[], tx: Tx): Promise<LedgerHead | undefined> {
      const result = await tx.execute<{
        id: string;
        status: 'active' | 'erased';
        ledger_seq: number;
        ledger_head: string | null;
        data_key_wrapped: Buffer | null;
        key_id: string | null;
        purposes: { key: string; version: number; legal_basis: string; direct_marketing: boolean }[];
      }>(sql`
        SELECT s.id, s.status, s.ledger_seq, s.ledger_head, s.data_key_wrapped, s.key_id,
               (SELECT coalesce(json_agg(json_build_object('key', p.key, 'version', p.version, 'legal_basis', p.legal_basis, 'direct_marketing', p.direct_marketing)), '[]'::json)
                  FROM purposes p WHERE p.tenant_id = s.tenant_id AND p.key = ANY(${sql.param(purposeKeys)}::text[])) AS purposes
          FROM subjects s
         WHERE s.tenant_id = ${tenantId} AND s.id = ${subjectId}
           FOR UPDATE OF s`);
      const r = result.rows[0];
      if (!r) return undefined;
      return {
        id: r.id,
        status: r.status,
        ledgerSeq: r.ledger_seq,
        ledgerHead: r.ledger_head,
        dataKeyWrapped: r.data_key_wrapped,
        keyId: r.key_id,
        purposes: r.purposes.map((p) => ({ key: p.key, version: p.version, legalBasis: p.legal_basis, directMarketing: p.direct_marketing })),
      };
    },

    /**
     * The second statement of a consent write: the events, the state projection (keeping the decision that
     * occurred last, whatever order decisions are recorded in), the new chain head and the outbox rows.
     */
    async append(
      tenantId: string,
      subjectId: string,
      w: { events: NewEvent[]; states: NewState[]; head: { seq: number; hash: string }; outbox: NewOutbox[] },
      tx: Tx,
    ): Promise<void> {
      const col = <T, V>(rows: T[], f: (r: T) => V) => sql.param(rows.map(f));
      const e = w.events;
      const st = w.states;
      const ob = w.outbox;
      await tx.execute(sql`
        WITH ev AS (
          INSERT INTO consent_events (id, tenant_id, subject_id, seq, purpose_key, purpose_version, action, source,
                                      evidence_sealed, occurred_at, recorded_at, prev_hash, hash)
          SELECT id, ${tenantId}::uuid, ${subjectId}::uuid, seq, purpose_key, purpose_version, action, source,
                 evidence_sealed, occurred_at, recorded_at, prev_hash, hash
            FROM unnest(${col(e, (r) => r.id)}::uuid[], ${col(e, (r) => r.seq)}::int[], ${col(e, (r) => r.purposeKey)}::text[],
                        ${col(e, (r) => r.purposeVersion)}::int[], ${col(e, (r) => r.action)}::text[], ${col(e, (r) => r.source)}::text[],
                        ${col(e, (r) => r.evidenceSealed)}::bytea[], ${col(e, (r) => r.occurredAt)}::timestamptz[],
                        ${col(e, (r) => r.recordedAt)}::timestamptz[], ${col(e, (r) => r.prevHash)}::text[], ${col(e, (r) => r.hash)}::text[])
                 AS t(id, seq, purpose_key, purpose_version, action, source, evidence_sealed, occurred_at, recorded_at, prev_hash, hash)
          RETURNING 1
        ), st AS (
          INSERT INTO consent_state (tenant_id, subject_id, purpose_key, status, purpose_version, since, event_id)
          SELECT ${tenantId}::uuid, ${subjectId}::uuid, purpose_key, status, purpose_version, since, event_id
            FROM unnest(${col(st, (r) => r.purposeKey)}::text[], ${col(st, (r) => r.status)}::text[], ${col(st, (r) => r.purposeVersion)}::int[],
                        ${col(st, (r) => r.since)}::timestamptz[], ${col(st, (r) => r.eventId)}::uuid[])
                 AS t(purpose_key, status, purpose_version, since, event_id)
          ON CONFLICT (subject_id, purpose_key) DO UPDATE
            SET status = excluded.status, purpose_version = excluded.purpose_version, since = excluded.since,
                event_id = excluded.event_id, updated_at = now()
            WHERE consent_state.since <= excluded.since
          RETURNING 1
        ), hd AS (
          UPDATE subjects SET ledger_seq = ${w.head.seq}, ledger_head = ${w.head.hash}
           WHERE tenant_id = ${tenantId} AND id = ${subjectId}
          RETURNING 1
        ), ob AS (
          INSERT INTO outbox (id, tenant_id, topic, payload, available_at)
          SELECT id, ${tenantId}::uuid, topic, payload::jsonb, available_at
            FROM unnest(${col(ob, (r) => r.id)}::uuid[], ${col(ob, (r) => r.topic)}::text[], ${col(ob, (r) => JSON.stringify(r.payload))}::text[],
                        ${col(ob, (r) => r.availableAt)}::timestamptz[])
                 AS t(id, topic, payload, available_at)
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM hd) AS heads`);
    },

    /** The subject's current state per purpose; null when the tenant has no such subject. */
    async subjectState(tenantId: string, subjectId: string): Promise<SubjectStateRow[] | null> {
      const rows = await subjectState.execute({ tenantId, subjectId });
      if (rows.length === 0) return null;
      // A subject with no decision yet comes back as one row of nulls from the outer join.
      return rows.filter((r): r is typeof r & SubjectStateRow => r.purposeKey !== null);
    },
    async state(tenantId: string, subjectId: string, tx: Tx = db): Promise<ConsentStateRow[]> {
      return tx
        .select()
        .from(consentState)
        .where(and(eq(consentState.tenantId, tenantId), eq(consentState.subjectId, subjectId)))
        .orderBy(asc(consentState.purposeKey));
    },
    async events(tenantId: string, subjectId: string, opts: { afterSeq: number; limit: number }, tx: Tx = db): Promise<ConsentEventRow[]> {
      const rows = await tx
        .select({ event: consentEvents, correction: consentEventCorrections })
        .from(consentEvents)
        .leftJoin(consentEventCorrections, and(eq(consentEventCorrections.tenantId, consentEvents.tenantId), eq(consentEventCorrections.eventId, consentEvents.id)))
        .where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId), gt(consentEvents.seq, opts.afterSeq)))
        .orderBy(asc(consentEvents.seq))
        .limit(opts.limit);
      return rows.map((r) => ({ ...r.event, correction: r.correction }));
    },
    async eventsByIds(tenantId: string, subjectId: string, ids: string[], tx: Tx = db): Promise<ConsentEventRow[]> {
      if (ids.length === 0) return [];
      return tx
        .select()
        .from(consentEvents)
        .where(and(eq(consentEvents.tenantId, tenantId), eq(consentEvents.subjectId, subjectId), inArray(consentEvents.id, ids)))
        .orderBy(asc(consentEvents.seq));
    },
    /**
     * Repairs ledgers written before client instants were held to 1970-01-01..9999-12-31, across every tenant (an
     * operator command, not a request path). Events never change, so each chain still verifies: an event whose
     * occurred_at is out of range gets a correction to its recorded_at (the latest moment the decision can have
     * happened), and the state projection of the subjects concerned is recomputed from the corrected times with the
     * rule every write follows (the decision that occurred last wins; among equal times, the one recorded last).
     * Idempotent: a corrected event is not corrected again. Returns the events corrected and the subjects touched.
     */
    async repairOutOfRangeInstants(tx: Tx = db): Promise<{ events: number; subjects: number }> {
      const corrected = await tx.execute<{ subject_id: string }>(sql`
        INSERT INTO consent_event_corrections (event_id, tenant_id, subject_id, recorded_occurred_at, occurred_at, reason)
        SELECT e.id, e.tenant_id, e.subject_id, e.occurred_at, e.recorded_at,
               'occurred_at lies outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z; the recorded_at is used instead'
          FROM consent_events e
         WHERE (e.occurred_at < '1970-01-01T00:00:00Z' OR e.occurred_at > '9999-12-31T23:59:59.999Z')
           AND NOT EXISTS (SELECT 1 FROM consent_event_corrections c WHERE c.event_id = e.id)
        RETURNING subject_id`);
      const subjectIds = [...new Set(corrected.rows.map((r) => r.subject_id))];
      if (subjectIds.length === 0) return { events: 0, subjects: 0 };
      await tx.execute(sql`
        WITH effective AS (
          SELECT DISTINCT ON (e.subject_id, e.purpose_key)
                 e.subject_id, e.purpose_key, e.id, e.action, e.purpose_version, coalesce(c.occurred_at, e.occurred_at) AS occurred_at
            FROM consent_events e
            LEFT JOIN consent_event_corrections c ON c.event_id = e.id
           WHERE e.subject_id = ANY(${sql.param(subjectIds)}::uuid[])
           ORDER BY e.subject_id, e.purpose_key, coalesce(c.occurred_at, e.occurred_at) DESC, e.seq DESC
        )
        UPDATE consent_state cs
           SET status = CASE WHEN effective.action = 'grant' THEN 'granted' ELSE 'withdrawn' END,
               purpose_version = effective.purpose_version, since = effective.occurred_at, event_id = effective.id, updated_at = now()
          FROM effective
         WHERE cs.subject_id = effective.subject_id AND cs.purpose_key = effective.purpose_key`);
      return { events: corrected.rows.length, subjects: subjectIds.length };
    },

    /**
     * The campaign check in one round trip: identifiers (in order) → subject flags, consent, objections, soft opt-in
     * and open erasure for one purpose. The EXISTS probes use the primary key or an index on the subject.
     */
    async check(tenantId: string, purposeKey: string, types: string[], blindIndexesHex: string[], tx: Tx = db): Promise<CheckRow[]> {
      const result = await tx.execute<CheckRow>(sql`
        SELECT t.ord::int AS ord, s.id AS subject_id, s.status, s.origin, s.marketing_objection, s.automated_decision_objection,
               s.restricted, cs.status AS consent, cs.purpose_version AS consent_version, (extract(epoch FROM cs.updated_at) * 1000)::float8 AS consent_changed_ms,
               EXISTS (SELECT 1 FROM objections o
                        WHERE o.subject_id = s.id AND o.purpose_key = ${purposeKey} AND o.status = 'upheld') AS purpose_objection,
               EXISTS (SELECT 1 FROM soft_opt_ins so WHERE so.subject_id = s.id AND so.purpose_key = ${purposeKey}) AS soft_opt_in,
               EXISTS (SELECT 1 FROM rights_requests rr
                        WHERE rr.subject_id = s.id AND rr.type = 'erasure'
                          AND rr.status IN ('received', 'awaiting_approval', 'awaiting_identity', 'in_progress')) AS erasure_pending
          FROM unnest(${sql.param(types)}::text[], ${sql.param(blindIndexesHex)}::text[]) WITH ORDINALITY AS t(type, bidx, ord)
          JOIN subject_identifiers si
            ON si.tenant_id = ${tenantId} AND si.type = t.type AND si.blind_index = decode(t.bidx, 'hex')
          JOIN subjects s ON s.id = si.subject_id AND s.tenant_id = ${tenantId}
          LEFT JOIN consent_state cs ON cs.subject_id = s.id AND cs.purpose_key = ${purposeKey}`);
      return result.rows;
    },

    /** Records objections; an upheld one stays as it is (the first time is kept), a pending or refused one is
     * replaced by the new one. Returns the rows this call wrote. */
    async recordObjections(rows: (typeof objections.$inferInsert)[], tx: Tx): Promise<ObjectionRow[]> {
      if (rows.length === 0) return [];
      return tx
        .insert(objections)
        .values(rows)
        .onConflictDoUpdate({
          target: [objections.subjectId, objections.purposeKey, objections.scope],
          set: {
            status: sql`excluded.status`,
            requestId: sql`excluded.request_id`,
            occurredAt: sql`excluded.occurred_at`,
            decidedAt: sql`excluded.decided_at`,
          },
          setWhere: sql`${objections.status} <> 'upheld'`,
        })
        .returning();
    },
    /** Decides the pending objections a rights request carries. */
    async decideObjections(tenantId: string, requestId: string, status: 'upheld' | 'refused' | 'withdrawn', at: Date, tx: Tx): Promise<ObjectionRow[]> {
      return tx
        .update(objections)
        .set({ status, decidedAt: at })
        .where(and(eq(objections.tenantId, tenantId), eq(objections.requestId, requestId), eq(objections.status, 'pending')))
        .returning();
    },
    async objectionsOfRequest(tenantId: string, requestId: string, tx: Tx = db): Promise<ObjectionRow[]> {
      return tx
        .select()
        .from(objections)
        .where(and(eq(objections.tenantId, tenantId), eq(objections.requestId, requestId)))
        .orderBy(asc(objections.purposeKey));
    },
    async objectionsOf(tenantId: string, subjectId: string, tx: Tx = db): Promise<ObjectionRow[]> {
      return tx
        .select()
        .from(objections)
        .where(and(eq(objections.tenantId, tenantId), eq(objections.subjectId, subjectId)))
        .orderBy(asc(objections.purposeKey), asc(objections.scope));
    },
    /** Whether the person refused direct marketing: an objection to a direct-marketing purpose, or a consent to
     * one withdrawn. */
    async refusedMarketing(tenantId: string, subjectId: string, tx: Tx): Promise<boolean> {
      const result = await tx.execute<{ refused: boolean }>(sql`
        SELECT EXISTS (SELECT 1 FROM objections o WHERE o.tenant_id = ${tenantId} AND o.subject_id = ${subjectId}
                          AND o.scope = 'direct_marketing' AND o.status = 'upheld')
            OR EXISTS (SELECT 1 FROM consent_state cs JOIN purposes p ON p.tenant_id = cs.tenant_id AND p.key = cs.purpose_key
                        WHERE cs.tenant_id = ${tenantId} AND cs.subject_id = ${subjectId} AND cs.status = 'withdrawn' AND p.direct_marketing) AS refused`);
      return result.rows[0]?.refused === true;
    },
    /** Puts the keyed hashes of the subject's identifiers on the suppression list (before they are erased). */
    async suppress(tenantId: string, subjectId: string, requestId: string, tx: Tx): Promise<void> {
      await tx.execute(sql`
        INSERT INTO suppressions (tenant_id, type, blind_index, purpose_key, request_id)
        SELECT tenant_id, type, blind_index, '*', ${requestId}::uuid FROM subject_identifiers
         WHERE tenant_id = ${tenantId} AND subject_id = ${subjectId}
        ON CONFLICT DO NOTHING`);
    },
    /** Which of these identifiers (by ordinal) are suppressed from direct marketing, and since when. */
    async suppressed(tenantId: string, types: string[], blindIndexesHex: string[], tx: Tx = db): Promise<{ ord: number; since: Date }[]> {
      const result = await tx.execute<{ ord: number; since_ms: number }>(sql`
        SELECT t.ord::int AS ord, (extract(epoch FROM max(sp.created_at)) * 1000)::float8 AS since_ms
          FROM unnest(${sql.param(types)}::text[], ${sql.param(blindIndexesHex)}::text[]) WITH ORDINALITY AS t(type, bidx, ord)
          JOIN suppressions sp ON sp.tenant_id = ${tenantId} AND sp.type = t.type AND sp.blind_index = decode(t.bidx, 'hex') AND sp.purpose_key = '*'
         GROUP BY t.ord`);
      return result.rows.map((r) => ({ ord: r.ord, since: new Date(r.since_ms) }));
    },
    /** Records (or renews) a soft opt-in; returns the row. */
    async recordSoftOptIn(row: typeof softOptIns.$inferInsert, tx: Tx = db): Promise<SoftOptInRow> {
      const [saved] = await tx
        .insert(softOptIns)
        .values(row)
        .onConflictDoUpdate({
          target: [softOptIns.subjectId, softOptIns.purposeKey],
          set: { relationshipRef: row.relationshipRef, collectedAt: row.collectedAt, recordedAt: sql`now()` },
        })
        .returning();
      return saved!;
    },
  };
}
export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
