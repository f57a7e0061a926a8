// All SQL of exports: the package row, the parts and their sealed chunks.
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { readBytea } from '../../db/copy-bytea.js';
import { systems } from '../systems/systems.table.js';
import { exportPackages, exportPartChunks, exportParts } from './exports.table.js';

export type PackageRow = typeof exportPackages.$inferSelect;
export type PartRow = typeof exportParts.$inferSelect;
export type PartWithSystem = PartRow & { systemName: string | null };

export function createExportsRepo(db: Tx) {
  return {
    async insertPackage(row: typeof exportPackages.$inferInsert, tx: Tx): Promise<PackageRow> {
      const [created] = await tx.insert(exportPackages).values(row).returning();
      return created!;
    },
    async find(tenantId: string, requestId: string, tx: Tx = db): Promise<PackageRow | undefined> {
      const [row] = await tx
        .select()
        .from(exportPackages)
        .where(and(eq(exportPackages.tenantId, tenantId), eq(exportPackages.requestId, requestId)))
        .limit(1);
      return row;
    },
    /** The export, under its row lock (copies and links of one export are counted one at a time). */
    async lock(tenantId: string, requestId: string, tx: Tx): Promise<PackageRow | undefined> {
      const [row] = await tx
        .select()
        .from(exportPackages)
        .where(and(eq(exportPackages.tenantId, tenantId), eq(exportPackages.requestId, requestId)))
        .for('update')
        .limit(1);
      return row;
    },
    async update(tenantId: string, requestId: string, patch: Partial<typeof exportPackages.$inferInsert>, tx: Tx): Promise<PackageRow> {
      const [row] = await tx
        .update(exportPackages)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(exportPackages.tenantId, tenantId), eq(exportPackages.requestId, requestId)))
        .returning();
      return row!;
    },
    /** One more copy handed out; returns the new count. */
    async countCopy(tenantId: string, requestId: string, tx: Tx): Promise<number> {
      const [row] = await tx
        .update(exportPackages)
        .set({ copies: sql`${exportPackages.copies} + 1`, updatedAt: new Date() })
        .where(and(eq(exportPackages.tenantId, tenantId), eq(exportPackages.requestId, requestId)))
        .returning({ copies: exportPackages.copies });
      return row!.copies;
    },
    async insertPart(row: typeof exportParts.$inferInsert, tx: Tx): Promise<void> {
      await tx.insert(exportParts).values(row);
    },
    async finishPart(tenantId: string, partId: string, patch: { bytes: number; chunks: number; sha256: string }, tx: Tx): Promise<void> {
      await tx.update(exportParts).set(patch).where(and(eq(exportParts.tenantId, tenantId), eq(exportParts.id, partId)));
    },
    async insertChunk(row: typeof exportPartChunks.$inferInsert, tx: Tx): Promise<void> {
      await tx.insert(exportPartChunks).values(row);
    },
    async partOfTask(tenantId: string, taskId: string, tx: Tx = db): Promise<PartRow | undefined> {
      const [row] = await tx.select().from(exportParts).where(and(eq(exportParts.tenantId, tenantId), eq(exportParts.taskId, taskId))).limit(1);
      return row;
    },
    async parts(tenantId: string, requestId: string, tx: Tx = db): Promise<PartWithSystem[]> {
      const rows = await tx
        .select({ part: exportParts, systemName: systems.name })
        .from(exportParts)
        .leftJoin(systems, eq(systems.id, exportParts.systemId))
        .where(and(eq(exportParts.tenantId, tenantId), eq(exportParts.requestId, requestId)))
        .orderBy(asc(exportParts.uploadedAt), asc(exportParts.id));
      return rows.map((r) => ({ ...r.part, systemName: r.systemName }));
    },
    /** One sealed chunk, read as bytes (src/db/copy-bytea.ts: no hex text in between). */
    async chunk(tenantId: string, partId: string, seq: number): Promise<Buffer | undefined> {
      if (!Number.isInteger(seq) || seq < 0) throw new Error('chunk seq must be a non-negative integer');
      return readBytea(
        (db as Db).$client,
        (literal) => `SELECT sealed FROM export_part_chunks WHERE tenant_id = ${literal(tenantId)} AND part_id = ${literal(partId)} AND seq = ${seq}`,
      );
    },
    /** Deletes the gathered data of these requests (the parts, their chunks by cascade) and marks it deleted. */
    async deleteData(tenantId: string, requestIds: string[], at: Date, tx: Tx): Promise<number> {
      if (requestIds.length === 0) return 0;
      await tx.delete(exportParts).where(and(eq(exportParts.tenantId, tenantId), inArray(exportParts.requestId, requestIds)));
      const marked = await tx
        .update(exportPackages)
        .set({ dataDeletedAt: at, updatedAt: at })
        .where(and(eq(exportPackages.tenantId, tenantId), inArray(exportPackages.requestId, requestIds), isNull(exportPackages.dataDeletedAt)))
        .returning({ id: exportPackages.requestId });
      return marked.length;
    },
    /** The requests of a subject that have an export. */
    async requestsOfSubject(tenantId: string, subjectId: string, tx: Tx): Promise<string[]> {
      const result = await tx.execute<{ request_id: string }>(sql`
        SELECT p.request_id FROM export_packages p JOIN rights_requests r ON r.id = p.request_id AND r.tenant_id = p.tenant_id
         WHERE p.tenant_id = ${tenantId} AND r.subject_id = ${subjectId}`);
      return result.rows.map((r) => r.request_id);
    },
  };
}
export type ExportsRepo = ReturnType<typeof createExportsRepo>;
