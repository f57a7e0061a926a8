import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { tenants } from './tenants.table.js';

export type TenantRow = typeof tenants.$inferSelect;
export type NewTenantRow = typeof tenants.$inferInsert;

export function createTenantsRepo(db: Tx) {
  return {
    async insert(row: NewTenantRow, tx: Tx = db): Promise<TenantRow> {
      const [created] = await tx.insert(tenants).values(row).returning();
      return created!;
    },
    async findById(id: string, tx: Tx = db): Promise<TenantRow | undefined> {
      const [row] = await tx.select().from(tenants).where(eq(tenants.id, id)).limit(1);
      return row;
    },
    async update(id: string, patch: Partial<NewTenantRow>, tx: Tx = db): Promise<TenantRow | undefined> {
      const [row] = await tx.update(tenants).set({ ...patch, updatedAt: new Date() }).where(eq(tenants.id, id)).returning();
      return row;
    },
  };
}
export type TenantsRepo = ReturnType<typeof createTenantsRepo>;
