import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { purposes, purposeVersions } from './purposes.table.js';

/** The current version of a purpose, with `reconsentFromVersion` and `channels`: what a consent write or a campaign
 * check needs (a grant of a version before `reconsentFromVersion` no longer counts, Art. 7; email and sms need a
 * soft opt-in on any basis but consent, ePrivacy Art. 13(2)). */
export type PurposeRow = typeof purposes.$inferSelect;
/** What a consent decision or a campaign check reads of a purpose; `find` and `findMany` return it (and more). */
export type PurposeFacts = Pick<
  PurposeRow,
  'key' | 'version' | 'legalBasis' | 'directMarketing' | 'automatedDecisions' | 'channels' | 'reconsentFromVersion'
>;
/** One published version, with the re-consent threshold as it stood when this version was current. */
export type PurposeVersionRow = typeof purposeVersions.$inferSelect & { reconsentFromVersion: number | null };
export type PurposeContent = Omit<typeof purposeVersions.$inferInsert, 'tenantId' | 'key' | 'version' | 'createdAt'>;

/** True when consent given for `grantedVersion` no longer counts because a later version asked for it anew. */
export function reconsentNeeded(purpose: Pick<PurposeRow, 'reconsentFromVersion'>, grantedVersion: number): boolean {
  return purpose.reconsentFromVersion !== null && grantedVersion < purpose.reconsentFromVersion;
}

export function createPurposesRepo(db: Tx) {
  return {
    async find(tenantId: string, key: string, tx: Tx = db): Promise<PurposeRow | undefined> {
      const [row] = await tx.select().from(purposes).where(and(eq(purposes.tenantId, tenantId), eq(purposes.key, key))).limit(1);
      return row;
    },
    async findForUpdate(tenantId: string, key: string, tx: Tx): Promise<PurposeRow | undefined> {
      const [row] = await tx
        .select()
        .from(purposes)
        .where(and(eq(purposes.tenantId, tenantId), eq(purposes.key, key)))
        .for('update')
        .limit(1);
      return row;
    },
    async findMany(tenantId: string, keys: string[], tx: Tx = db): Promise<PurposeRow[]> {
      if (keys.length === 0) return [];
      return tx.select().from(purposes).where(and(eq(purposes.tenantId, tenantId), inArray(purposes.key, keys)));
    },
    async list(tenantId: string, opts: { after?: string; limit: number }, tx: Tx = db): Promise<PurposeRow[]> {
      const where = opts.after ? and(eq(purposes.tenantId, tenantId), gt(purposes.key, opts.after)) : eq(purposes.tenantId, tenantId);
      return tx.select().from(purposes).where(where).orderBy(asc(purposes.key)).limit(opts.limit);
    },
    async listAll(tenantId: string, tx: Tx = db): Promise<PurposeRow[]> {
      return tx.select().from(purposes).where(eq(purposes.tenantId, tenantId)).orderBy(asc(purposes.key));
    },
    /** Inserts the purpose and its first version; false when the key exists already. */
    async insert(tenantId: string, key: string, content: PurposeContent, tx: Tx): Promise<PurposeRow | undefined> {
      const now = new Date();
      const [row] = await tx
        .insert(purposes)
        .values({ tenantId, key, version: 1, ...content, createdAt: now, updatedAt: now })
        .onConflictDoNothing()
        .returning();
      if (!row) return undefined;
      await tx.insert(purposeVersions).values({ tenantId, key, version: 1, ...content, createdAt: now });
      return row;
    },
    /** Publishes `version`; when it requires fresh consent it becomes the purpose's re-consent threshold. */
    async publishVersion(tenantId: string, key: string, version: number, content: PurposeContent, tx: Tx): Promise<PurposeRow> {
      const now = new Date();
      await tx.insert(purposeVersions).values({ tenantId, key, version, ...content, createdAt: now });
      const [row] = await tx
        .update(purposes)
        .set({ version, ...content, ...(content.requiresReconsent ? { reconsentFromVersion: version } : {}), updatedAt: now })
        .where(and(eq(purposes.tenantId, tenantId), eq(purposes.key, key)))
        .returning();
      return row!;
    },
    async versions(tenantId: string, key: string, opts: { before?: number; limit: number }, tx: Tx = db): Promise<PurposeVersionRow[]> {
      const base = and(eq(purposeVersions.tenantId, tenantId), eq(purposeVersions.key, key));
      return tx
        .select({
          ...getTableColumns(purposeVersions),
          reconsentFromVersion: sql<number | null>`(
            SELECT max(r.version) FROM purpose_versions r
             WHERE r.tenant_id = "purpose_versions"."tenant_id" AND r.key = "purpose_versions"."key"
               AND r.version <= "purpose_versions"."version" AND r.requires_reconsent)`,
        })
        .from(purposeVersions)
        .where(opts.before !== undefined ? and(base, lt(purposeVersions.version, opts.before)) : base)
        .orderBy(desc(purposeVersions.version))
        .limit(opts.limit);
    },
  };
}
export type PurposesRepo = ReturnType<typeof createPurposesRepo>;
