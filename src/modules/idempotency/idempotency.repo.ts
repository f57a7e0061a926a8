import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { idempotencyKeys } from './idempotency.table.js';

export function createIdempotencyRepo() {
  return {
    /** Serialises requests that carry the same key in one tenant until the holding transaction ends. */
    async lock(tenantId: string, key: string, tx: Tx): Promise<void> {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${tenantId}:${key}`}, 7))`);
    },
    async find(tenantId: string, key: string, tx: Tx) {
      const [row] = await tx
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key)))
        .limit(1);
      return row;
    },
    async insert(row: typeof idempotencyKeys.$inferInsert, tx: Tx): Promise<void> {
      await tx.insert(idempotencyKeys).values(row);
    },
  };
}
export type IdempotencyRepo = ReturnType<typeof createIdempotencyRepo>;
