import { and, asc, desc, eq, gt, inArray, lt } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { purposes, purposeVersions } from './purposes.table.js';

export type PurposeRow = typeof purposes.$inferSelect;
export type PurposeVersionRow = typeof purposeVersions.$inferSelect;
export type PurposeContent = Omit<typeof purposeVersions.$inferInsert, 'tenantId' | 'key' | 'version' | 'createdAt'>;

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
    async publishVersion(tenantId: string, key: string, version: number, content: PurposeContent, tx: Tx): Promise<PurposeRow> {
      const now = new Date();
      await tx.insert(purposeVersions).values({ tenantId, key, version, ...content, createdAt: now });
      const [row] = await tx
        .update(purposes)
        .set({ version, ...content, updatedAt: now })
        .where(and(eq(purposes.tenantId, tenantId), eq(purposes.key, key)))
        .returning();
      return row!;
    },
    async versions(tenantId: string, key: string, opts: { before?: number; limit: number }, tx: Tx = db): Promise<PurposeVersionRow[]> {
      const base = and(eq(purposeVersions.tenantId, tenantId), eq(purposeVersions.key, key));
      return tx
        .select()
        .from(purposeVersions)
        .where(opts.before !== undefined ? and(base, lt(purposeVersions.version, opts.before)) : base)
        .orderBy(desc(purposeVersions.version))
        .limit(opts.limit);
    },
  };
}
export type PurposesRepo = ReturnType<typeof createPurposesRepo>;
