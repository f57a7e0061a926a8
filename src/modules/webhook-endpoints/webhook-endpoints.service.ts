import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { open, seal } from '../../lib/crypto.js';
import { decodeCreatedCursor, pageOf } from '../../lib/cursor.js';
import { Conflict, ValidationFailed } from '../../lib/errors.js';
import type { Keyring } from '../../lib/keyring.js';
import { checkWebhookUrlResolved } from '../../lib/ssrf.js';
import { newWebhookSecret } from '../../lib/webhook-signing.js';
import { DELIVERY_TOPIC } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import { DeliveryNotFound, EndpointDisabled, EndpointNotFound } from './webhook-endpoints.errors.js';
import { secretAad } from './webhook-endpoints.jobs.js';
import type { AttemptRow, DeliveryRow, EndpointRow, WebhookEndpointsRepo } from './webhook-endpoints.repo.js';
import type { Delivery, Endpoint, OutboxStats } from './webhook-endpoints.schemas.js';

const ROTATION_GRACE_MS = 24 * 3_600_000;

function toEndpoint(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    url: r.url,
    event_types: r.eventTypes,
    description: r.description,
    status: r.status,
    disabled_reason: r.disabledReason,
    failing_since: r.failingSince?.toISOString() ?? null,
    previous_secret_expires_at: r.previousSecretExpiresAt?.toISOString() ?? null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

function toDelivery(d: DeliveryRow, attempts: AttemptRow[]): Delivery {
  return {
    id: d.id,
    webhook_id: `msg_${d.eventId}`,
    event_type: d.eventType,
    status: d.status,
    attempt_count: d.attemptCount,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
    created_at: d.createdAt.toISOString(),
    finished_at: d.finishedAt?.toISOString() ?? null,
    attempts: attempts.map((a) => ({ attempted_at: a.attemptedAt.toISOString(), duration_ms: a.durationMs, status_code: a.statusCode, error: a.error })),
  };
}

export function createWebhookEndpointsService(deps: {
  db: Db;
  repo: WebhookEndpointsRepo;
  outbox: OutboxRepo;
  keyring: Keyring;
  allowPrivate: boolean;
  clock?: () => Date;
}) {
  const { db, repo, outbox, keyring, allowPrivate } = deps;
  const clock = deps.clock ?? (() => new Date());

  /** The URL as stored, after the same checks the sender makes at connect time (its host name resolved now). */
  async function checkedUrl(url: string): Promise<string> {
    const verdict = await checkWebhookUrlResolved(url, allowPrivate);
    if (!verdict.ok) throw new ValidationFailed([{ field: 'url', message: verdict.reason }]);
    return verdict.url.toString();
  }

  /** Re-enabling re-checks the stored URL: its name may resolve elsewhere now, or the operator's rules changed. */
  async function checkStoredUrl(url: string): Promise<void> {
    const verdict = await checkWebhookUrlResolved(url, allowPrivate);
    if (!verdict.ok) throw new ValidationFailed([{ field: 'url', message: `the current url ${verdict.reason}; send a new url to re-enable the endpoint` }]);
  }

  async function mustFind(tenantId: string, id: string): Promise<EndpointRow> {
    const row = await repo.find(tenantId, id);
    if (!row) throw new EndpointNotFound();
    return row;
  }

  return {
    /** `tx`: the Idempotency-Key transaction, so the endpoint and the stored answer commit together. */
    async create(tenantId: string, input: { url: string; event_types: string[]; description?: string }, tx: Tx = db) {
      const url = await checkedUrl(input.url);
      const id = crypto.randomUUID();
      const secret = newWebhookSecret();
      const row = await repo.insert({
        id,
        tenantId,
        url,
        eventTypes: [...new Set(input.event_types)],
        description: input.description ?? null,
        secretSealed: seal(keyring.current.key, Buffer.from(secret), secretAad(id, 'current')),
        keyId: keyring.current.id,
      }, tx);
      return { ...toEndpoint(row), secret };
    },

    /**
     * Idempotent-replay storage for a create answer: the secret is sealed like the endpoint's own copy, so
     * idempotency_keys never holds it in plaintext; a replay opens it and returns the first answer unchanged.
     */
    createdReplay: {
      store(body: Endpoint & { secret: string }): object {
        const { secret, ...rest } = body;
        const sealed = seal(keyring.current.key, Buffer.from(secret), secretAad(body.id, 'idempotency'));
        return { ...rest, secret_sealed: sealed.toString('base64'), key_id: keyring.current.id };
      },
      async replay(stored: unknown): Promise<Endpoint & { secret: string }> {
        const { secret_sealed: sealed, key_id: keyId, ...rest } = stored as Endpoint & { secret_sealed: string; key_id: string };
        const master = keyring.all.get(keyId);
        if (!master) throw new Error(`master key ${keyId} is not configured`);
        return { ...rest, secret: open(master, Buffer.from(sealed, 'base64'), secretAad(rest.id, 'idempotency')).toString('utf8') };
      },
    },

    async get(tenantId: string, id: string): Promise<Endpoint> {
      return toEndpoint(await mustFind(tenantId, id));
    },

    async list(tenantId: string, page: { limit: number; cursor?: string }) {
      const rows = await repo.list(tenantId, { before: decodeCreatedCursor('webhook-endpoints', page.cursor), limit: page.limit + 1 });
      const { items, next_cursor } = pageOf('webhook-endpoints', rows, page.limit);
      return { items: items.map(toEndpoint), next_cursor };
    },

    async update(tenantId: string, id: string, patch: { url?: string; event_types?: string[]; description?: string | null; enabled?: boolean }) {
      const current = await mustFind(tenantId, id);
      const url = patch.url === undefined ? undefined : await checkedUrl(patch.url);
      if (patch.enabled === true && url === undefined) await checkStoredUrl(current.url);
      const row = await repo.update(tenantId, id, {
        url,
        eventTypes: patch.event_types ? [...new Set(patch.event_types)] : undefined,
        description: patch.description,
        ...(patch.enabled === true ? { status: 'active' as const, disabledReason: null, failingSince: null } : {}),
        ...(patch.enabled === false ? { status: 'disabled' as const, disabledReason: 'disabled by request' } : {}),
      });
      if (!row) throw new EndpointNotFound();
      return toEndpoint(row);
    },

    /** Deleting stops every pending delivery to the endpoint; its delivery log is kept. */
    async remove(tenantId: string, id: string): Promise<void> {
      await mustFind(tenantId, id);
      await repo.update(tenantId, id, { deletedAt: clock(), status: 'disabled', disabledReason: 'deleted' });
    },

    /** A new secret; the old one keeps signing beside it for 24 hours so receivers can switch without a gap. */
    async rotateSecret(tenantId: string, id: string) {
      const secret = newWebhookSecret();
      const row = await inTransaction(db, async (tx) => {
        const current = await repo.findForUpdate(tenantId, id, tx);
        if (!current) throw new EndpointNotFound();
        const master = keyring.all.get(current.keyId);
        if (!master) throw new Error(`master key ${current.keyId} is not configured`);
        const old = open(master, current.secretSealed, secretAad(id, 'current'));
        return repo.update(
          tenantId,
          id,
          {
            secretSealed: seal(keyring.current.key, Buffer.from(secret), secretAad(id, 'current')),
            previousSecretSealed: seal(keyring.current.key, old, secretAad(id, 'previous')),
            previousSecretExpiresAt: new Date(clock().getTime() + ROTATION_GRACE_MS),
            keyId: keyring.current.id,
          },
          tx,
        );
      });
      return { ...toEndpoint(row!), secret };
    },

    /** Sends a `ping` event to this endpoint alone. */
    async test(tenantId: string, id: string) {
      const endpoint = await mustFind(tenantId, id);
      if (endpoint.status !== 'active') throw new EndpointDisabled();
      const eventId = crypto.randomUUID();
      const body = JSON.stringify({ type: 'ping', timestamp: clock().toISOString(), data: { endpoint_id: id } });
      const deliveryId = crypto.randomUUID();
      await inTransaction(db, async (tx) => {
        await repo.insertDeliveries([{ id: deliveryId, tenantId, endpointId: id, eventId, eventType: 'ping', body }], tx);
        await outbox.insert([{ tenantId, topic: DELIVERY_TOPIC, payload: { delivery_id: deliveryId } }], tx);
      });
      return { delivery_id: deliveryId, webhook_id: `msg_${eventId}` };
    },

    async deliveries(tenantId: string, id: string, page: { limit: number; cursor?: string }) {
      await mustFind(tenantId, id);
      const rows = await repo.deliveries(tenantId, id, { before: decodeCreatedCursor('webhook-deliveries', page.cursor), limit: page.limit + 1 });
      const { items, next_cursor } = pageOf('webhook-deliveries', rows, page.limit);
      const attempts = await repo.attemptsOf(items.map((d) => d.id));
      const byDelivery = new Map<string, AttemptRow[]>();
      for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
      return { items: items.map((d) => toDelivery(d, byDelivery.get(d.id) ?? [])), next_cursor };
    },

    /** Sends a finished delivery again, with the same webhook-id; its attempts are appended to the same log. */
    async redeliver(tenantId: string, endpointId: string, deliveryId: string) {
      const endpoint = await mustFind(tenantId, endpointId);
      if (endpoint.status !== 'active') throw new EndpointDisabled();
      return inTransaction(db, async (tx) => {
        const d = await repo.findDelivery(tenantId, deliveryId, tx);
        if (!d || d.endpointId !== endpointId) throw new DeliveryNotFound();
        if (d.status === 'pending') throw new Conflict('The delivery is still pending; it will be attempted again on its own');
        await repo.updateDelivery(d.id, { status: 'pending', finishedAt: null, nextAttemptAt: clock() }, tx);
        await outbox.insert([{ tenantId, topic: DELIVERY_TOPIC, payload: { delivery_id: d.id } }], tx);
        return { delivery_id: d.id, webhook_id: `msg_${d.eventId}` };
      });
    },

    async stats(tenantId: string): Promise<OutboxStats> {
      const [counts, overdue, perEndpoint, endpoints] = await Promise.all([
        outbox.countsByStatus(tenantId),
        outbox.overdueCount(tenantId),
        repo.deliveryCounts(tenantId),
        repo.list(tenantId, { limit: 1000 }),
      ]);
      return {
        outbox: {
          pending: counts.pending ?? 0,
          in_flight: counts.enqueued ?? 0,
          done: counts.done ?? 0,
          dead: counts.dead ?? 0,
          cancelled: counts.cancelled ?? 0,
          overdue,
        },
        endpoints: endpoints.map((e) => {
          const of = (status: string) => perEndpoint.find((p) => p.endpointId === e.id && p.status === status)?.n ?? 0;
          return { endpoint_id: e.id, status: e.status, pending: of('pending'), succeeded: of('succeeded'), failed: of('failed') };
        }),
      };
    },
  };
}
export type WebhookEndpointsService = ReturnType<typeof createWebhookEndpointsService>;
