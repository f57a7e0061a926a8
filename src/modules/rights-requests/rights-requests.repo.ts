import { and, asc, desc, eq, gt, inArray, isNotNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { olderThan, type CreatedPosition } from '../../db/keyset.js';
import { rightsRequestEvents, rightsRequests } from './rights-requests.table.js';

export type RequestRow = typeof rightsRequests.$inferSelect;
export type RequestEventRow = typeof rightsRequestEvents.$inferSelect;

import { OPEN_STATUSES as OPEN } from './rights-requests.transitions.js';

export type RequestFilters = {
  status?: RequestRow['status'];
  type?: RequestRow['type'];
  subjectId?: string;
  assignee?: string;
  overdue?: boolean;
  dueBefore?: string;
};

/** Open and restricting: a restriction request, or an objection restricting meanwhile (Art. 18(1)(d)). */
const openRestricting = () => and(inArray(rightsRequests.status, [...OPEN]), isNotNull(rightsRequests.restrictionGround));
/** A restriction granted (the request completed) and not lifted since (Art. 18(3)): the lift is in its outcome. */
const grantedRestriction = () =>
  and(eq(rightsRequests.type, 'restriction'), eq(rightsRequests.status, 'completed'), sql`NOT coalesce(${rightsRequests.outcome} ? 'restriction_lifted', false)`);

export function createRightsRequestsRepo(db: Tx) {
  return {
    async insert(row: typeof rightsRequests.$inferInsert, tx: Tx): Promise<RequestRow> {
      const [created] = await tx.insert(rightsRequests).values(row).returning();
      return created!;
    },
    async find(tenantId: string, id: string, tx: Tx = db): Promise<RequestRow | undefined> {
      const [row] = await tx.select().from(rightsRequests).where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.id, id))).limit(1);
      return row;
    },
    /** Takes the request's row lock: its transitions are serialised. */
    async lock(tenantId: string, id: string, tx: Tx): Promise<RequestRow | undefined> {
      const [row] = await tx
        .select()
        .from(rightsRequests)
        .where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.id, id)))
        .for('update')
        .limit(1);
      return row;
    },
    async update(id: string, patch: Partial<typeof rightsRequests.$inferInsert>, tx: Tx): Promise<RequestRow> {
      const [row] = await tx.update(rightsRequests).set({ ...patch, updatedAt: new Date() }).where(eq(rightsRequests.id, id)).returning();
      return row!;
    },
    async list(tenantId: string, f: RequestFilters, now: Date, page: { before?: CreatedPosition; limit: number }, tx: Tx = db) {
      const conds: (SQL | undefined)[] = [eq(rightsRequests.tenantId, tenantId)];
      if (f.status) conds.push(eq(rightsRequests.status, f.status));
      if (f.type) conds.push(eq(rightsRequests.type, f.type));
      if (f.subjectId) conds.push(eq(rightsRequests.subjectId, f.subjectId));
      if (f.assignee) conds.push(eq(rightsRequests.assignee, f.assignee));
      if (f.dueBefore) conds.push(lte(rightsRequests.dueDate, f.dueBefore));
      const overdue = and(inArray(rightsRequests.status, [...OPEN]), lt(rightsRequests.dueAt, now));
      if (f.overdue === true) conds.push(overdue);
      // Parenthesised: and() does not wrap its parts, so a bare OR would escape the tenant and the other filters.
      if (f.overdue === false) conds.push(sql`(NOT (${overdue ?? sql`false`}) OR ${rightsRequests.dueAt} IS NULL)`);
      conds.push(olderThan(rightsRequests.createdAt, rightsRequests.id, page.before));
      return tx
        .select()
        .from(rightsRequests)
        .where(and(...conds))
        .orderBy(desc(rightsRequests.createdAt), desc(rightsRequests.id))
        .limit(page.limit);
    },
    /** How many requests of the subject, other than `exceptId`, hold its restricted flag: open ones with a
     * restriction ground (restriction requests, objections restricting meanwhile) and restrictions granted and not
     * lifted since. */
    async restrictionHolders(tenantId: string, subjectId: string, exceptId: string, tx: Tx): Promise<number> {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(rightsRequests)
        .where(
          and(
            eq(rightsRequests.tenantId, tenantId),
            eq(rightsRequests.subjectId, subjectId),
            ne(rightsRequests.id, exceptId),
            or(openRestricting(), grantedRestriction()),
          ),
        );
      return row?.n ?? 0;
    },
    /** How many open requests of the subject restrict its processing (restriction requests, objections restricting
     * meanwhile): while one does, the restriction cannot be lifted. */
    async openRestrictionHolders(tenantId: string, subjectId: string, tx: Tx): Promise<number> {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(rightsRequests)
        .where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.subjectId, subjectId), openRestricting()));
      return row?.n ?? 0;
    },
    /** The subject's restrictions granted and not lifted, oldest first, each under its row lock. */
    async lockGrantedRestrictions(tenantId: string, subjectId: string, tx: Tx): Promise<RequestRow[]> {
      return tx
        .select()
        .from(rightsRequests)
        .where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.subjectId, subjectId), grantedRestriction()))
        .orderBy(asc(rightsRequests.closedAt), asc(rightsRequests.createdAt), asc(rightsRequests.id))
        .for('update');
    },
    /** Whether the request's audit trail has a line of `action` whose facts hold `facts`. */
    async hasEvent(tenantId: string, requestId: string, action: string, facts: Record<string, unknown>, tx: Tx = db): Promise<boolean> {
      const rows = await tx
        .select({ id: rightsRequestEvents.id })
        .from(rightsRequestEvents)
        .where(
          and(
            eq(rightsRequestEvents.tenantId, tenantId),
            eq(rightsRequestEvents.requestId, requestId),
            eq(rightsRequestEvents.action, action),
            sql`${rightsRequestEvents.facts} @> ${JSON.stringify(facts)}::jsonb`,
          ),
        )
        .limit(1);
      return rows.length > 0;
    },
    async nextSeq(requestId: string, tx: Tx): Promise<number> {
      const [row] = await tx
        .select({ n: sql<number>`coalesce(max(${rightsRequestEvents.seq}), 0)::int` })
        .from(rightsRequestEvents)
        .where(eq(rightsRequestEvents.requestId, requestId));
      return (row?.n ?? 0) + 1;
    },
    async insertEvent(row: typeof rightsRequestEvents.$inferInsert, tx: Tx): Promise<void> {
      await tx.insert(rightsRequestEvents).values(row);
    },
    /**
     * Appends a line that is not a status change to a request's audit trail (a task's, an export's): its id, the next
     * sequence number, recorded at `at`. The caller holds the request's row lock, so lines take distinct numbers.
     */
    async appendNote(
      r: { tenantId: string; id: string },
      line: { action: string; actor: string; at: Date; facts: Record<string, unknown>; id?: string; noteSealed?: Buffer | null },
      tx: Tx,
    ): Promise<void> {
      await tx.insert(rightsRequestEvents).values({
        id: line.id ?? crypto.randomUUID(),
        tenantId: r.tenantId,
        requestId: r.id,
        seq: await this.nextSeq(r.id, tx),
        action: line.action,
        fromStatus: null,
        toStatus: null,
        at: line.at,
        recordedAt: line.at,
        actor: line.actor,
        facts: line.facts,
        noteSealed: line.noteSealed ?? null,
      });
    },
    async events(tenantId: string, requestId: string, afterSeq: number, limit: number, tx: Tx = db): Promise<RequestEventRow[]> {
      return tx
        .select()
        .from(rightsRequestEvents)
        .where(and(eq(rightsRequestEvents.tenantId, tenantId), eq(rightsRequestEvents.requestId, requestId), gt(rightsRequestEvents.seq, afterSeq)))
        .orderBy(asc(rightsRequestEvents.seq))
        .limit(limit);
    },
    /** Requests, across every tenant, that still hold free text in plaintext (written before it was sealed). */
    async withPlaintextTexts(limit: number, tx: Tx = db): Promise<RequestRow[]> {
      return tx
        .select()
        .from(rightsRequests)
        .where(sql`${rightsRequests.extensionReason} IS NOT NULL OR ${rightsRequests.outcome} ?| array['resolution', 'detail']`)
        .orderBy(asc(rightsRequests.id))
        .limit(limit);
    },
    /** Moves a request's plaintext free text into its sealed texts; the audit trail keeps that a reason was given. */
    async replacePlaintextTexts(r: RequestRow, textsSealed: Buffer | null, tx: Tx): Promise<void> {
      await tx
        .update(rightsRequests)
        .set({ extensionReason: null, outcome: sql`nullif(${rightsRequests.outcome} - 'resolution' - 'detail', '{}'::jsonb)`, textsSealed })
        .where(and(eq(rightsRequests.tenantId, r.tenantId), eq(rightsRequests.id, r.id)));
      await tx
        .update(rightsRequestEvents)
        .set({ facts: sql`(${rightsRequestEvents.facts} - 'reason') || '{"reason_given": true}'::jsonb` })
        .where(and(eq(rightsRequestEvents.tenantId, r.tenantId), eq(rightsRequestEvents.requestId, r.id), sql`${rightsRequestEvents.facts} ? 'reason'`));
    },
    /** Erasure: the subject's sealed details and texts go (the key that could read them is destroyed too). */
    async forgetTextsOf(tenantId: string, subjectId: string, tx: Tx): Promise<void> {
      await tx
        .update(rightsRequests)
        .set({ detailsSealed: null, textsSealed: null, extensionReason: null })
        .where(and(eq(rightsRequests.tenantId, tenantId), eq(rightsRequests.subjectId, subjectId)));
    },
    async stats(tenantId: string, now: Date, tx: Tx = db) {
      const result = await tx.execute<{ status: string; type: string; n: number; overdue: number; due_soon: number }>(sql`
        SELECT status, type, count(*)::int AS n,
               count(*) FILTER (WHERE due_at < ${now.toISOString()}::timestamptz)::int AS overdue,
               count(*) FILTER (WHERE due_at >= ${now.toISOString()}::timestamptz
                                  AND due_at < ${now.toISOString()}::timestamptz + interval '7 days')::int AS due_soon
          FROM rights_requests
         WHERE tenant_id = ${tenantId} AND status = ANY(${sql.param([...OPEN])}::text[])
         GROUP BY status, type`);
      return result.rows;
    },
  };
}
export type RightsRequestsRepo = ReturnType<typeof createRightsRequestsRepo>;
