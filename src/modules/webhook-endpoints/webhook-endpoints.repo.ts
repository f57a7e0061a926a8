import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { olderThan, type CreatedPosition } from '../../db/keyset.js';
import { DELIVERY_TOPIC } from '../outbox/outbox.events.js';
import type { OutboxRow } from '../outbox/outbox.repo.js';
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
    async list(tenantId: string, opts: { before?: CreatedPosition; limit: number }, tx: Tx = db): Promise<EndpointRow[]> {
      const cursor = olderThan(webhookEndpoints.createdAt, webhookEndpoints.id, opts.before);
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
    /**
     * The fan-out of one event in one statement (atomic on its own): a delivery and its outbox row per subscribed
     * endpoint, and the event row done. A re-run creates nothing twice. With `inline` and at most `inline.max`
     * endpoints, the outbox rows are written taken by the caller (held for `inline.holdMs`) and returned.
     * An addressed event (`toEndpointId`) goes to that endpoint of the tenant alone, if it is not deleted, whatever
     * its event types (a disabled one gets a delivery that fails at once, so the miss shows in its log).
     */
    async fanOut(
      event: { id: string; tenantId: string; type: string; availableAt: Date; toEndpointId: string | null },
      body: string,
      inline: { holdMs: number; max: number } | null,
      tx: Tx = db,
    ): Promise<OutboxRow[]> {
      const max = inline?.max ?? -1;
      const hold = (inline?.holdMs ?? 0) / 1000;
      const to = event.toEndpointId;
      const result = await tx.execute<Record<string, unknown>>(sql`
        WITH targets AS (
          SELECT id FROM webhook_endpoints
           WHERE tenant_id = ${event.tenantId} AND deleted_at IS NULL
             AND CASE WHEN ${to}::uuid IS NULL THEN status = 'active' AND (${event.type} = ANY(event_types) OR '*' = ANY(event_types))
                      ELSE id = ${to}::uuid END
        ), d AS (
          INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, body)
          SELECT gen_random_uuid(), ${event.tenantId}, targets.id, ${event.id}, ${event.type}, ${body} FROM targets
          ON CONFLICT (event_id, endpoint_id) DO NOTHING
          RETURNING id
        ), o AS (
          INSERT INTO outbox (id, tenant_id, topic, payload, available_at, status, attempts, enqueued_at, locked_until)
          SELECT gen_random_uuid(), ${event.tenantId}, ${DELIVERY_TOPIC}, jsonb_build_object('delivery_id', d.id),
                 ${event.availableAt.toISOString()}::timestamptz, inl.status, inl.attempts, inl.enqueued_at, inl.locked_until
            FROM d CROSS JOIN (
              SELECT CASE WHEN t.n <= ${max} THEN 'enqueued' ELSE 'pending' END AS status,
                     CASE WHEN t.n <= ${max} THEN 1 ELSE 0 END AS attempts,
                     CASE WHEN t.n <= ${max} THEN now() END AS enqueued_at,
                     CASE WHEN t.n <= ${max} THEN now() + make_interval(secs => ${hold}) END AS locked_until
                FROM (SELECT count(*) AS n FROM targets) t) inl
          RETURNING *
        ), done AS (
          UPDATE outbox SET status = 'done', locked_until = NULL, finished_at = now(),
                 last_error = CASE WHEN ${to}::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM targets)
                                   THEN 'the addressed endpoint does not exist in the tenant, or is deleted' END
           WHERE id = ${event.id}
          RETURNING 1
        )
        SELECT o.* FROM o WHERE o.status = 'enqueued'`);
      return result.rows.map((r) => ({
        id: r.id as string,
        tenantId: r.tenant_id as string,
        topic: r.topic as string,
        payload: r.payload as Record<string, unknown>,
        refId: (r.ref_id as string | null) ?? null,
        availableAt: new Date(r.available_at as string),
        status: r.status as OutboxRow['status'],
        attempts: r.attempts as number,
        enqueuedAt: r.enqueued_at ? new Date(r.enqueued_at as string) : null,
        lockedUntil: r.locked_until ? new Date(r.locked_until as string) : null,
        lastError: (r.last_error as string | null) ?? null,
        createdAt: new Date(r.created_at as string),
        finishedAt: r.finished_at ? new Date(r.finished_at as string) : null,
      }));
    },
    /** A delivery and its endpoint, in one round trip. */
    async deliveryWithEndpoint(deliveryId: string, tx: Tx = db): Promise<{ delivery: DeliveryRow; endpoint: EndpointRow } | undefined> {
      const [row] = await tx
        .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(eq(webhookDeliveries.id, deliveryId))
        .limit(1);
      return row;
    },
    /** A successful attempt, in one statement: the attempt logged, the delivery succeeded, the endpoint's failing
     * streak ended, the outbox row done. */
    async recordSuccess(
      a: { outboxId: string; deliveryId: string; endpointId: string; tenantId: string; attemptedAt: Date; durationMs: number; statusCode: number; attemptNo: number; finishedAt: Date },
      tx: Tx = db,
    ): Promise<void> {
      await tx.execute(sql`
        WITH a AS (
          INSERT INTO webhook_attempts (delivery_id, tenant_id, attempted_at, duration_ms, status_code, error)
          VALUES (${a.deliveryId}, ${a.tenantId}, ${a.attemptedAt.toISOString()}::timestamptz, ${a.durationMs}, ${a.statusCode}, NULL)
          RETURNING 1
        ), d AS (
          UPDATE webhook_deliveries SET status = 'succeeded', attempt_count = ${a.attemptNo}, last_status_code = ${a.statusCode},
                 finished_at = ${a.finishedAt.toISOString()}::timestamptz, next_attempt_at = NULL
           WHERE id = ${a.deliveryId}
          RETURNING 1
        ), e AS (
          UPDATE webhook_endpoints SET failing_since = NULL, updated_at = now()
           WHERE id = ${a.endpointId} AND failing_since IS NOT NULL
          RETURNING 1
        ), o AS (
          UPDATE outbox SET status = 'done', last_error = NULL, locked_until = NULL, finished_at = now() WHERE id = ${a.outboxId}
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM a) AS attempts`);
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
    async updateDelivery(id: string, patch: Partial<typeof webhookDeliveries.$inferInsert>, tx: Tx = db): Promise<void> {
      await tx.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id));
    },
    async insertAttempt(row: typeof webhookAttempts.$inferInsert, tx: Tx = db): Promise<void> {
      await tx.insert(webhookAttempts).values(row);
    },
    async deliveries(
      tenantId: string,
      endpointId: string,
      opts: { before?: CreatedPosition; limit: number },
      tx: Tx = db,
    ): Promise<DeliveryRow[]> {
      const cursor = olderThan(webhookDeliveries.createdAt, webhookDeliveries.id, opts.before);
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
