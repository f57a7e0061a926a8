import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { subjectIdentifiers, subjects } from './subjects.table.js';

export type SubjectRow = typeof subjects.$inferSelect;
export type IdentifierRow = typeof subjectIdentifiers.$inferSelect;
export type IndexedIdentifier = { type: IdentifierRow['type']; blindIndex: Buffer };

export function createSubjectsRepo(db: Tx) {
  return {
    async find(tenantId: string, id: string, tx: Tx = db): Promise<SubjectRow | undefined> {
      const [row] = await tx.select().from(subjects).where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, id))).limit(1);
      return row;
    },
    async findMany(tenantId: string, ids: string[], tx: Tx = db): Promise<SubjectRow[]> {
      if (ids.length === 0) return [];
      return tx.select().from(subjects).where(and(eq(subjects.tenantId, tenantId), inArray(subjects.id, ids)));
    },
    /** Takes the subject's row lock: every write to one subject's ledger is serialised behind it. */
    async lock(tenantId: string, id: string, tx: Tx): Promise<SubjectRow | undefined> {
      const [row] = await tx
        .select()
        .from(subjects)
        .where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, id)))
        .for('update')
        .limit(1);
      return row;
    },
    async findByExternalRef(tenantId: string, ref: string, tx: Tx = db): Promise<SubjectRow | undefined> {
      const [row] = await tx.select().from(subjects).where(and(eq(subjects.tenantId, tenantId), eq(subjects.externalRef, ref))).limit(1);
      return row;
    },
    /** Serialises creations that involve the same identifiers (sorted to avoid deadlocks). */
    async lockIdentifiers(tenantId: string, keys: string[], tx: Tx): Promise<void> {
      for (const k of [...new Set(keys)].sort()) {
        await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${tenantId}:${k}`}, 11))`);
      }
    },
    async matchIdentifiers(tenantId: string, ids: IndexedIdentifier[], tx: Tx = db): Promise<{ subjectId: string; type: string }[]> {
      if (ids.length === 0) return [];
      const conds = ids.map((i) => and(eq(subjectIdentifiers.type, i.type), eq(subjectIdentifiers.blindIndex, i.blindIndex)));
      return tx
        .select({ subjectId: subjectIdentifiers.subjectId, type: subjectIdentifiers.type })
        .from(subjectIdentifiers)
        .where(and(eq(subjectIdentifiers.tenantId, tenantId), or(...conds)));
    },
    async identifiersOf(tenantId: string, subjectId: string, tx: Tx = db): Promise<IdentifierRow[]> {
      return tx
        .select()
        .from(subjectIdentifiers)
        .where(and(eq(subjectIdentifiers.tenantId, tenantId), eq(subjectIdentifiers.subjectId, subjectId)))
        .orderBy(subjectIdentifiers.createdAt);
    },
    async insertSubject(row: typeof subjects.$inferInsert, tx: Tx): Promise<SubjectRow> {
      const [created] = await tx.insert(subjects).values(row).returning();
      return created!;
    },
    async insertIdentifiers(rows: (typeof subjectIdentifiers.$inferInsert)[], tx: Tx): Promise<void> {
      if (rows.length) await tx.insert(subjectIdentifiers).values(rows).onConflictDoNothing();
    },
    /** The subject's identifiers of one type go (a rectification replaces them with the corrected value). */
    async deleteIdentifiersOfType(tenantId: string, subjectId: string, type: IdentifierRow['type'], tx: Tx): Promise<void> {
      await tx
        .delete(subjectIdentifiers)
        .where(and(eq(subjectIdentifiers.tenantId, tenantId), eq(subjectIdentifiers.subjectId, subjectId), eq(subjectIdentifiers.type, type)));
    },
    /** Crypto-shredding: the identifiers go, the data key is destroyed, the row stays as an erased tombstone. */
    async erase(tenantId: string, id: string, at: Date, tx: Tx): Promise<void> {
      await tx.delete(subjectIdentifiers).where(and(eq(subjectIdentifiers.tenantId, tenantId), eq(subjectIdentifiers.subjectId, id)));
      await tx
        .update(subjects)
        .set({ status: 'erased', erasedAt: at, dataKeyWrapped: null, keyId: null, externalRef: null, updatedAt: at })
        .where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, id)));
    },
    async setFlags(
      tenantId: string,
      id: string,
      flags: Partial<
        Pick<
          SubjectRow,
          | 'marketingObjection'
          | 'marketingObjectionAt'
          | 'marketingObjectionSource'
          | 'marketingObjectionEvidenceSealed'
          | 'automatedDecisionObjection'
          | 'automatedDecisionObjectionAt'
          | 'automatedDecisionObjectionSource'
          | 'automatedDecisionObjectionEvidenceSealed'
          | 'restricted'
          | 'restrictedAt'
        >
      >,
      tx: Tx,
    ): Promise<SubjectRow> {
      const [row] = await tx
        .update(subjects)
        .set({ ...flags, updatedAt: new Date() })
        .where(and(eq(subjects.tenantId, tenantId), eq(subjects.id, id)))
        .returning();
      return row!;
    },
  };
}
export type SubjectsRepo = ReturnType<typeof createSubjectsRepo>;
