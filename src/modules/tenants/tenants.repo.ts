import { eq } from 'drizzle-orm';
import { inTransaction, type Tx } from '../../db/client.js';
import { bringPurgesForward } from '../subjects/subjects.purge.js';
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
      return inTransaction(tx, async (t) => {
        const [row] = await t.update(tenants).set({ ...patch, updatedAt: new Date() }).where(eq(tenants.id, id)).returning();
        // A shorter accountability period applies to the people already erased: their purges come forward with it.
        if (row && patch.accountabilityDays !== undefined) await bringPurgesForward(id, t);
        return row;
      });
    },
  };
}
export type TenantsRepo = ReturnType<typeof createTenantsRepo>;
