import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { olderThan, type CreatedPosition } from '../../db/keyset.js';
import { createBatcher } from '../outbox/outbox.batcher.js';
import { DELIVERY_TOPIC } from '../outbox/outbox.events.js';
import { OUTBOX_DONE, type OutboxRow } from '../outbox/outbox.repo.js';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from './webhook-endpoints.table.js';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

export type FanOutEvent = { id: string; tenantId: string; type: string; availableAt: Date; toEndpointId: string | null };
export type InlineHold = { holdMs: number; max: number };
/** A delivery row a fan-out wrote taken by its caller, with the delivery and its endpoint as the fan-out saw them. */
export type HeldDelivery = { row: OutboxRow; delivery: DeliveryRow; endpoint: EndpointRow };
export type Success = {
  outboxId: string;
  deliveryId: string;
  endpointId: string;
  tenantId: string;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number;
  attemptNo: number;
  finishedAt: Date;
};

/** An event whose first attempts all succeeded before anything of it was written, with what each attempt met. */
export type DeliveredEvent = {
  eventId: string;
  tenantId: string;
  type: string;
  body: string;
  sends: { endpointId: string; attemptedAt: Date; durationMs: number; statusCode: number; finishedAt: Date }[];
};

const iso = (d: Date) => d.toISOString();

function outboxRowOf(r: Record<string, unknown>): OutboxRow {
  return {
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
    jobId: (r.job_id as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    finishedAt: r.finished_at ? new Date(r.finished_at as string) : null,
  };
}

const dateOrNull = (v: unknown) => (v ? new Date(v as string) : null);

// The endpoint's columns as the statements below return them beside other rows (`w` is the endpoint).
const ENDPOINT_COLUMNS = sql.raw(`w.id AS w_id, w.tenant_id AS w_tenant_id, w.url AS w_url, w.event_types AS w_event_types,
  w.description AS w_description, w.status AS w_status, w.disabled_reason AS w_disabled_reason, w.secret_sealed AS w_secret_sealed,
  w.previous_secret_sealed AS w_previous_secret_sealed, w.previous_secret_expires_at AS w_previous_secret_expires_at,
  w.key_id AS w_key_id, w.failing_since AS w_failing_since, w.deleted_at AS w_deleted_at, w.created_at AS w_created_at,
  w.updated_at AS w_updated_at`);

// An endpoint (`w`) receives an event (`ev`) it was not addressed: active, and subscribed to its type or to '*'.
const SUBSCRIBED = sql.raw(`w.status = 'active' AND (ev.type = ANY(w.event_types) OR '*' = ANY(w.event_types))`);

// What a success ends, in the statements that record successes: the failing streak of each endpoint in `v`
// (`v.endpoint_id`). The outbox rows they finish get the outbox's own OUTBOX_DONE.
const STREAKS_ENDED = sql.raw(`UPDATE webhook_endpoints SET failing_since = NULL, updated_at = now()
   WHERE id IN (SELECT endpoint_id FROM v) AND failing_since IS NOT NULL RETURNING 1`);

function endpointOf(r: Record<string, unknown>): EndpointRow {
  return {
    id: r.w_id as string,
    tenantId: r.w_tenant_id as string,
    url: r.w_url as string,
    eventTypes: r.w_event_types as string[],
    description: (r.w_description as string | null) ?? null,
    status: r.w_status as EndpointRow['status'],
    disabledReason: (r.w_disabled_reason as string | null) ?? null,
    secretSealed: r.w_secret_sealed as Buffer,
    previousSecretSealed: (r.w_previous_secret_sealed as Buffer | null) ?? null,
    previousSecretExpiresAt: dateOrNull(r.w_previous_secret_expires_at),
    keyId: r.w_key_id as string,
    failingSince: dateOrNull(r.w_failing_since),
    deletedAt: dateOrNull(r.w_deleted_at),
    createdAt: new Date(r.w_created_at as string),
    updatedAt: new Date(r.w_updated_at as string),
  };
}

function heldOf(r: Record<string, unknown>, body: string, type: string): HeldDelivery {
  const row = outboxRowOf(r);
  const delivery: DeliveryRow = {
    id: String(row.payload.delivery_id),
    tenantId: row.tenantId,
    endpointId: r.d_endpoint_id as string,
    eventId: r.d_event_id as string,
    eventType: type,
    body,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: null,
    lastStatusCode: null,
    createdAt: new Date(r.d_created_at as string),
    finishedAt: null,
  };
  return { row, delivery, endpoint: endpointOf(r) };
}

/** Splits calls by a key, runs each group, and puts the answers back in the calls' order. */
async function byKey<I, O>(calls: I[], key: (c: I) => string, run: (group: I[]) => Promise<O[]>): Promise<O[]> {
  const groups = new Map<string, number[]>();
  calls.forEach((c, i) => groups.set(key(c), [...(groups.get(key(c)) ?? []), i]));
  const out = new Array<O>(calls.length);
  await Promise.all(
    [...groups.values()].map(async (idx) => {
      const answers = await run(idx.map((i) => calls[i]!));
      idx.forEach((i, k) => (out[i] = answers[k]!));
    }),
  );
  return out;
}

export function createWebhookEndpointsRepo(db: Tx) {
  const live = (tenantId: string) => and(eq(webhookEndpoints.tenantId, tenantId), isNull(webhookEndpoints.deletedAt));

  /** Fan-outs of several events (one inline setting) in one statement; per call, the rows written taken. */
  async function fanOutSame(calls: { event: FanOutEvent; body: string; inline: InlineHold | null }[], tx: Tx): Promise<HeldDelivery[][]> {
    const inline = calls[0]!.inline;
    const max = inline?.max ?? -1;
    const hold = (inline?.holdMs ?? 0) / 1000;
    const col = <T>(f: (c: (typeof calls)[number]) => T) => sql.param(calls.map(f));
    const result = await tx.execute<Record<string, unknown>>(sql`
      WITH ev AS (
        SELECT * FROM unnest(${col((c) => c.event.id)}::uuid[], ${col((c) => c.event.tenantId)}::uuid[], ${col((c) => c.event.type)}::text[],
                             ${col((c) => iso(c.event.availableAt))}::timestamptz[], ${col((c) => c.event.toEndpointId)}::uuid[], ${col((c) => c.body)}::text[])
                   AS ev(id, tenant_id, type, available_at, to_endpoint_id, body)
      ), targets AS (
        SELECT ev.id AS event_id, w.id AS endpoint_id
          FROM ev JOIN webhook_endpoints w ON w.tenant_id = ev.tenant_id AND w.deleted_at IS NULL
           AND CASE WHEN ev.to_endpoint_id IS NULL THEN ${SUBSCRIBED} ELSE w.id = ev.to_endpoint_id END
      ), counts AS (
        SELECT ev.id AS event_id, count(t.endpoint_id) AS n FROM ev LEFT JOIN targets t ON t.event_id = ev.id GROUP BY ev.id
      ), d AS (
        INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, body)
        SELECT gen_random_uuid(), ev.tenant_id, t.endpoint_id, ev.id, ev.type, ev.body FROM targets t JOIN ev ON ev.id = t.event_id
        ON CONFLICT (event_id, endpoint_id) DO NOTHING
        RETURNING id, event_id, endpoint_id, created_at
      ), o AS (
        INSERT INTO outbox (id, tenant_id, topic, payload, available_at, status, attempts, enqueued_at, locked_until)
        SELECT gen_random_uuid(), ev.tenant_id, ${DELIVERY_TOPIC}, jsonb_build_object('delivery_id', d.id), ev.available_at,
               CASE WHEN c.n <= ${max} THEN 'enqueued' ELSE 'pending' END,
               CASE WHEN c.n <= ${max} THEN 1 ELSE 0 END,
               CASE WHEN c.n <= ${max} THEN now() END,
               CASE WHEN c.n <= ${max} THEN now() + make_interval(secs => ${hold}) END
          FROM d JOIN ev ON ev.id = d.event_id JOIN counts c ON c.event_id = d.event_id
        RETURNING *, (payload->>'delivery_id')::uuid AS delivery_id
      ), done AS (
        UPDATE outbox SET status = 'done', locked_until = NULL, finished_at = now(),
               last_error = CASE WHEN ev.to_endpoint_id IS NOT NULL AND c.n = 0
                                 THEN 'the addressed endpoint does not exist in the tenant, or is deleted' END
          FROM ev JOIN counts c ON c.event_id = ev.id
         WHERE outbox.id = ev.id
        RETURNING 1
      )
      SELECT o.*, d.event_id AS d_event_id, d.endpoint_id AS d_endpoint_id, d.created_at AS d_created_at, ${ENDPOINT_COLUMNS}
        FROM o JOIN d ON d.id = o.delivery_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
       WHERE o.status = 'enqueued'`);
    const byEvent = new Map<string, HeldDelivery[]>();
    const callOf = new Map(calls.map((c) => [c.event.id, c]));
    for (const r of result.rows) {
      const c = callOf.get(r.d_event_id as string)!;
      byEvent.set(c.event.id, [...(byEvent.get(c.event.id) ?? []), heldOf(r, c.body, c.event.type)]);
    }
    return calls.map((c) => byEvent.get(c.event.id) ?? []);
  }

  async function fanOutMany(calls: { event: FanOutEvent; body: string; inline: InlineHold | null }[], tx: Tx): Promise<HeldDelivery[][]> {
    // One event twice in a statement (never expected: a processor holds its row) would share its rows: one at a time.
    if (new Set(calls.map((c) => c.event.id)).size < calls.length) {
      const out: HeldDelivery[][] = [];
      for (const c of calls) out.push(...(await fanOutSame([c], tx)));
      return out;
    }
    return byKey(calls, (c) => `${c.inline?.max ?? -1}:${c.inline?.holdMs ?? 0}`, (group) => fanOutSame(group, tx));
  }

  async function deliveriesWithEndpoints(ids: string[], tx: Tx): Promise<({ delivery: DeliveryRow; endpoint: EndpointRow } | undefined)[]> {
    const rows = await tx
      .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .where(inArray(webhookDeliveries.id, ids));
    const byId = new Map(rows.map((r) => [r.delivery.id, r]));
    return ids.map((id) => byId.get(id));
  }

  /** The endpoints each event goes to unaddressed (active, subscribed), in the scope's tenant: one answer per event. */
  async function targetsOf(events: { id: string; type: string }[], tx: Tx): Promise<EndpointRow[][]> {
    const result = await tx.execute<Record<string, unknown>>(sql`
      SELECT ev.id AS event_id, ${ENDPOINT_COLUMNS}
        FROM unnest(${sql.param(events.map((e) => e.id))}::uuid[], ${sql.param(events.map((e) => e.type))}::text[]) AS ev(id, type)
        JOIN webhook_endpoints w ON w.deleted_at IS NULL AND ${SUBSCRIBED}`);
    const byEvent = new Map<string, EndpointRow[]>();
    for (const r of result.rows) byEvent.set(r.event_id as string, [...(byEvent.get(r.event_id as string) ?? []), endpointOf(r)]);
    return events.map((e) => byEvent.get(e.id) ?? []);
  }

  async function recordDelivered(events: DeliveredEvent[], tx: Tx): Promise<void> {
    const sends = events.flatMap((e) => e.sends.map((s) => ({ ...s, e })));
    const col = <T>(f: (a: (typeof sends)[number]) => T) => sql.param(sends.map(f));
    await tx.execute(sql`
      WITH v AS (
        SELECT * FROM unnest(${col((a) => a.e.eventId)}::uuid[], ${col((a) => a.endpointId)}::uuid[], ${col((a) => a.e.tenantId)}::uuid[],
                             ${col((a) => a.e.type)}::text[], ${col((a) => a.e.body)}::text[], ${col((a) => iso(a.attemptedAt))}::timestamptz[],
                             ${col((a) => a.durationMs)}::int[], ${col((a) => a.statusCode)}::int[], ${col((a) => iso(a.finishedAt))}::timestamptz[])
                   AS v(event_id, endpoint_id, tenant_id, type, body, attempted_at, duration_ms, status_code, finished_at)
      ), d AS (
        INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, body, status, attempt_count, last_status_code, finished_at)
        SELECT gen_random_uuid(), tenant_id, endpoint_id, event_id, type, body, 'succeeded', 1, status_code, finished_at FROM v
        ON CONFLICT (event_id, endpoint_id) DO NOTHING
        RETURNING id, event_id, endpoint_id
      ), a AS (
        INSERT INTO webhook_attempts (delivery_id, tenant_id, attempted_at, duration_ms, status_code, error)
        SELECT d.id, v.tenant_id, v.attempted_at, v.duration_ms, v.status_code, NULL
          FROM d JOIN v ON v.event_id = d.event_id AND v.endpoint_id = d.endpoint_id
        RETURNING 1
      ), e AS (${STREAKS_ENDED}), done AS (
        UPDATE outbox SET ${OUTBOX_DONE} WHERE id = ANY(${sql.param(events.map((e) => e.eventId))}::uuid[]) RETURNING 1
      )
      SELECT (SELECT count(*) FROM a) AS attempts`);
  }

  async function recordSuccesses(all: Success[], tx: Tx): Promise<void> {
    const col = <T>(f: (a: Success) => T) => sql.param(all.map(f));
    await tx.execute(sql`
      WITH v AS (
        SELECT * FROM unnest(${col((a) => a.outboxId)}::uuid[], ${col((a) => a.deliveryId)}::uuid[], ${col((a) => a.endpointId)}::uuid[],
                             ${col((a) => a.tenantId)}::uuid[], ${col((a) => iso(a.attemptedAt))}::timestamptz[], ${col((a) => a.durationMs)}::int[],
                             ${col((a) => a.statusCode)}::int[], ${col((a) => a.attemptNo)}::int[], ${col((a) => iso(a.finishedAt))}::timestamptz[])
                   AS v(outbox_id, delivery_id, endpoint_id, tenant_id, attempted_at, duration_ms, status_code, attempt_no, finished_at)
      ), a AS (
        INSERT INTO webhook_attempts (delivery_id, tenant_id, attempted_at, duration_ms, status_code, error)
        SELECT delivery_id, tenant_id, attempted_at, duration_ms, status_code, NULL FROM v
        RETURNING 1
      ), d AS (
        UPDATE webhook_deliveries SET status = 'succeeded', attempt_count = v.attempt_no, last_status_code = v.status_code,
               finished_at = v.finished_at, next_attempt_at = NULL
          FROM v WHERE webhook_deliveries.id = v.delivery_id
        RETURNING 1
      ), e AS (${STREAKS_ENDED}), o AS (
        UPDATE outbox SET ${OUTBOX_DONE} WHERE id IN (SELECT outbox_id FROM v) RETURNING 1
      )
      SELECT (SELECT count(*) FROM a) AS attempts`);
  }

  // The worker's deliveries go through these: the calls of the jobs running at once share a statement each.
  const fanOutBatched = createBatcher((calls: { event: FanOutEvent; body: string; inline: InlineHold | null }[]) => fanOutMany(calls, db));
  const readBatched = createBatcher((ids: string[]) => deliveriesWithEndpoints(ids, db));
  const targetsBatched = createBatcher((events: { id: string; type: string }[]) => targetsOf(events, db));
  const deliveredBatched = createBatcher(async (events: DeliveredEvent[]) => {
    await recordDelivered(events, db);
    return events.map(() => undefined);
  });
  const successBatched = createBatcher(async (all: Success[]) => {
    await recordSuccesses(all, db);
    return all.map(() => undefined);
  });

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
     * endpoints, the outbox rows are written taken by the caller (held for `inline.holdMs`) and returned, each with its
     * delivery and endpoint (so the first attempt needs no read of its own). An addressed event (`toEndpointId`) goes to that endpoint of the tenant alone, if it is not deleted, whatever
     * its event types (a disabled one gets a delivery that fails at once, so the miss shows in its log).
     * Without a transaction, the fan-outs of the events processed at once share one statement.
     */
    async fanOut(event: FanOutEvent, body: string, inline: InlineHold | null, tx: Tx = db): Promise<HeldDelivery[]> {
      if (tx === db) return fanOutBatched({ event, body, inline });
      return (await fanOutMany([{ event, body, inline }], tx))[0]!;
    },
    /** The fan-outs of several events made at once (a job's), sharing one statement: one answer per event, in order. */
    fanOutEach(calls: { event: FanOutEvent; body: string; inline: InlineHold | null }[]): Promise<HeldDelivery[]>[] {
      return fanOutBatched.many(calls);
    },
    /**
     * The endpoints that receive each event unaddressed (active and subscribed to its type, or to '*'), read without
     * writing anything: the events read at once (a job's) share the statement. One answer per event, in order.
     */
    targetsEach(events: { id: string; type: string }[]): Promise<EndpointRow[]>[] {
      return targetsBatched.many(events);
    },
    /**
     * Events whose first attempts all succeeded before anything of them was written, recorded in one statement (shared
     * with the events recorded at once): per send a delivery written succeeded and its attempt, the endpoints' failing
     * streaks ended, and the event rows done. A delivery that exists already is left as it is.
     */
    recordDelivered(event: DeliveredEvent): Promise<void> {
      return deliveredBatched(event);
    },
    /** A delivery and its endpoint, in one round trip (shared with the other deliveries read at once). */
    async deliveryWithEndpoint(deliveryId: string, tx: Tx = db): Promise<{ delivery: DeliveryRow; endpoint: EndpointRow } | undefined> {
      if (tx === db) return readBatched(deliveryId);
      return (await deliveriesWithEndpoints([deliveryId], tx))[0];
    },
    /** A successful attempt, in one statement: the attempt logged, the delivery succeeded, the endpoint's failing
     * streak ended, the outbox row done. Without a transaction, the successes recorded at once share the statement. */
    async recordSuccess(a: Success, tx: Tx = db): Promise<void> {
      if (tx === db) return successBatched(a);
      await recordSuccesses([a], tx);
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
