import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from './webhook-endpoints.table.js';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

export function createWebhookEndpointsRepo(db: Tx) {
  const live = (tenantId: string) => and(eq(webhookEndpoints.tenantId, tenantId), isNull(webhookEndpoints.deletedAt));
  return {
    async insert(row: typeof webhookEndpoints.$inferInsert, tx: Tx = db): Promise<EndpointRow> {
      const [created] = await tx.insert(webhookEndpoints).values(row).returning();
      return created!;
    },
    async find(tenantId: string, id: string, tx: Tx = db): Promise<EndpointRow | undefined> {
      const [row] = await tx.select().from(webhookEndpoints).where(and(live(tenantId), eq(webhookEndpoints.id, id))).limit(1);
      return row;
    },
    async findForUpdate(tenantId: string, id: string, tx: Tx): Promise<EndpointRow | undefined> {
      const [row] = await tx.select().from(webhookEndpoints).where(and(live(tenantId), eq(webhookEndpoints.id, id))).for('update').limit(1);
      return row;
    },
    async list(tenantId: string, opts: { before?: { createdAt: string; id: string }; limit: number }, tx: Tx = db): Promise<EndpointRow[]> {
      const cursor = opts.before
        ? or(
            lt(webhookEndpoints.createdAt, new Date(opts.before.createdAt)),
            and(eq(webhookEndpoints.createdAt, new Date(opts.before.createdAt)), lt(webhookEndpoints.id, opts.before.id)),
          )
        : undefined;
      return tx
        .select()
        .from(webhookEndpoints)
        .where(and(live(tenantId), cursor))
        .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
        .limit(opts.limit);
    },
    async update(tenantId: string, id: string, patch: Partial<typeof webhookEndpoints.$inferInsert>, tx: Tx = db): Promise<EndpointRow | undefined> {
      const [row] = await tx
        .update(webhookEndpoints)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(live(tenantId), eq(webhookEndpoints.id, id)))
        .returning();
      return row;
    },
    /** Active endpoints of the tenant subscribed to the event type ("*" subscribes to every type). */
    async subscribers(tenantId: string, eventType: string, tx: Tx = db): Promise<EndpointRow[]> {
      return tx
        .select()
        .from(webhookEndpoints)
        .where(
          and(
            live(tenantId),
            eq(webhookEndpoints.status, 'active'),
            sql`(${eventType} = ANY(${webhookEndpoints.eventTypes}) OR '*' = ANY(${webhookEndpoints.eventTypes}))`,
          ),
        );
    },
    /** Inserts deliveries; returns only those that are new (a re-run fan-out creates nothing twice). */
    async insertDeliveries(rows: (typeof webhookDeliveries.$inferInsert)[], tx: Tx): Promise<DeliveryRow[]> {
      if (rows.length === 0) return [];
      return tx.insert(webhookDeliveries).values(rows).onConflictDoNothing().returning();
    },
    async findDelivery(tenantId: string, id: string, tx: Tx = db): Promise<DeliveryRow | undefined> {
      const [row] = await tx
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.id, id)))
        .limit(1);
      return row;
    },
    async deliveryById(id: string, tx: Tx = db): Promise<DeliveryRow | undefined> {
      const [row] = await tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).limit(1);
      return row;
    },
    async endpointById(id: string, tx: Tx = db): Promise<EndpointRow | undefined> {
      const [row] = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).limit(1);
      return row;
    },
    async updateDelivery(id: string, patch: Partial<typeof webhookDeliveries.$inferInsert>, tx: Tx = db): Promise<void> {
      await tx.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id));
    },
    async insertAttempt(row: typeof webhookAttempts.$inferInsert, tx: Tx = db): Promise<void> {
      await tx.insert(webhookAttempts).values(row);
    },
    async deliveries(
      tenantId: string,
      endpointId: string,
      opts: { before?: { createdAt: string; id: string }; limit: number },
      tx: Tx = db,
    ): Promise<DeliveryRow[]> {
      const cursor = opts.before
        ? or(
            lt(webhookDeliveries.createdAt, new Date(opts.before.createdAt)),
            and(eq(webhookDeliveries.createdAt, new Date(opts.before.createdAt)), lt(webhookDeliveries.id, opts.before.id)),
          )
        : undefined;
      return tx
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.endpointId, endpointId), cursor))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(opts.limit);
    },
    async attemptsOf(deliveryIds: string[], tx: Tx = db): Promise<AttemptRow[]> {
      if (deliveryIds.length === 0) return [];
      return tx
        .select()
        .from(webhookAttempts)
        .where(sql`${webhookAttempts.deliveryId} = ANY(${sql.param(deliveryIds)}::uuid[])`)
        .orderBy(webhookAttempts.attemptedAt);
    },
    async deliveryCounts(tenantId: string, tx: Tx = db) {
      return tx
        .select({
          endpointId: webhookDeliveries.endpointId,
          status: webhookDeliveries.status,
          n: sql<number>`count(*)::int`,
        })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.tenantId, tenantId))
        .groupBy(webhookDeliveries.endpointId, webhookDeliveries.status);
    },
  };
}
export type WebhookEndpointsRepo = ReturnType<typeof createWebhookEndpointsRepo>;
