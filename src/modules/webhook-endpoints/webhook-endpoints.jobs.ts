// Worker processors for webhooks: fan an event out to the endpoints that subscribe to it, and deliver one
// delivery (one attempt), scheduling the next attempt through the outbox so a retry survives any restart.
import type { Logger } from 'pino';
import { inTransaction, type Db } from '../../db/client.js';
import { open } from '../../lib/crypto.js';
import type { Keyring } from '../../lib/keyring.js';
import { signatureHeader } from '../../lib/webhook-signing.js';
import type { EventPayload } from '../outbox/outbox.events.js';
import type { NewOutboxRow, OutboxRepo, OutboxRow } from '../outbox/outbox.repo.js';
import type { EndpointRow, WebhookEndpointsRepo } from './webhook-endpoints.repo.js';
import type { Sender } from './webhook-endpoints.sender.js';

export type DeliveryPolicy = {
  /** Delay before each retry; after the last one fails the delivery is marked failed. */
  retryDelaysMs: number[];
  /** An endpoint failing continuously for this long is disabled. */
  disableAfterMs: number;
  jitter: number;
};

export const secretAad = (endpointId: string, which: 'current' | 'previous' | 'idempotency') => `webhook-secret:${endpointId}:${which}`;

/** The secrets that sign right now: the current one, and the previous one during its grace period. */
export function activeSecrets(keyring: Keyring, e: EndpointRow, now: Date): string[] {
  const master = keyring.all.get(e.keyId);
  if (!master) throw new Error(`master key ${e.keyId} is not configured`);
  const secrets = [open(master, e.secretSealed, secretAad(e.id, 'current')).toString('utf8')];
  if (e.previousSecretSealed && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now) {
    secrets.push(open(master, e.previousSecretSealed, secretAad(e.id, 'previous')).toString('utf8'));
  }
  return secrets;
}

export function createWebhookJobs(deps: {
  db: Db;
  outbox: OutboxRepo;
  endpoints: WebhookEndpointsRepo;
  sender: Sender;
  keyring: Keyring;
  policy: DeliveryPolicy;
  log: Logger;
  clock?: () => Date;
}) {
  const { db, outbox, endpoints, sender, keyring, policy, log } = deps;
  const clock = deps.clock ?? (() => new Date());

  /**
   * Creates one delivery (and its outbox row) per subscribed endpoint, plus `also` (DPO emails), in one transaction.
   * With `inline` and at most `inline.max` endpoints, the delivery rows are written already taken by this processor
   * and returned, so it makes the first attempts itself instead of sending each event through the queue twice;
   * retries and redeliveries go through the outbox and the queue as usual.
   */
  async function fanOut(row: OutboxRow, also: NewOutboxRow[] = [], inline?: { holdMs: number; max: number }): Promise<OutboxRow[]> {
    const event = row.payload as unknown as EventPayload;
    const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
    // A delivery is due when its event was (the event's time, not the database's: the relay's clock decides).
    const target = { id: row.id, tenantId: row.tenantId, type: event.type, availableAt: row.availableAt };
    if (also.length === 0) return endpoints.fanOut(target, body, inline ?? null);
    return inTransaction(db, async (tx) => {
      const taken = await endpoints.fanOut(target, body, inline ?? null, tx);
      await outbox.insert(also, tx);
      return taken;
    });
  }

  async function deliver(row: OutboxRow): Promise<void> {
    const deliveryId = String(row.payload.delivery_id);
    const found = await endpoints.deliveryWithEndpoint(deliveryId);
    const delivery = found?.delivery;
    const endpoint = found?.endpoint;
    if (!delivery || !endpoint || delivery.status !== 'pending') {
      await outbox.finish(row.id, 'cancelled', 'delivery no longer pending', db);
      return;
    }
    if (endpoint.deletedAt || endpoint.status !== 'active') {
      await inTransaction(db, async (tx) => {
        await endpoints.updateDelivery(delivery.id, { status: 'failed', finishedAt: clock(), nextAttemptAt: null }, tx);
        await outbox.finish(row.id, 'cancelled', 'endpoint disabled or deleted', tx);
      });
      return;
    }
    const now = clock();
    const timestamp = Math.floor(now.getTime() / 1000);
    // webhook-id is the event id: the same for every retry and every redelivery, so receivers can deduplicate.
    const webhookId = `msg_${delivery.eventId}`;
    const result = await sender.send(
      endpoint.url,
      {
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(activeSecrets(keyring, endpoint, now), webhookId, timestamp, delivery.body),
      },
      delivery.body,
    );
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const attemptNo = delivery.attemptCount + 1;
    const finishedAt = clock();
    const error = ok ? null : (result.error ?? `HTTP ${result.statusCode}`);
    if (ok) {
      await endpoints.recordSuccess({
        outboxId: row.id,
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        tenantId: delivery.tenantId,
        attemptedAt: now,
        durationMs: result.durationMs,
        statusCode: result.statusCode!,
        attemptNo,
        finishedAt,
      });
      return;
    }
    await inTransaction(db, async (tx) => {
      await endpoints.insertAttempt(
        { deliveryId: delivery.id, tenantId: delivery.tenantId, attemptedAt: now, durationMs: result.durationMs, statusCode: result.statusCode, error },
        tx,
      );
      const failingSince = endpoint.failingSince ?? now;
      const gone = result.statusCode === 410;
      const tooLong = finishedAt.getTime() - failingSince.getTime() >= policy.disableAfterMs;
      if (gone || tooLong) {
        await endpoints.update(
          endpoint.tenantId,
          endpoint.id,
          { status: 'disabled', failingSince, disabledReason: gone ? 'the receiver answered 410 Gone' : `failing continuously since ${failingSince.toISOString()}` },
          tx,
        );
        log.warn({ endpoint_id: endpoint.id, tenant_id: endpoint.tenantId }, 'webhook endpoint disabled');
      } else if (!endpoint.failingSince) {
        await endpoints.update(endpoint.tenantId, endpoint.id, { failingSince }, tx);
      }
      const delay = policy.retryDelaysMs[attemptNo - 1];
      if (delay === undefined || gone || tooLong) {
        await endpoints.updateDelivery(delivery.id, { status: 'failed', attemptCount: attemptNo, lastStatusCode: result.statusCode, finishedAt, nextAttemptAt: null }, tx);
        await outbox.finish(row.id, 'dead', error, tx);
        return;
      }
      const jittered = Math.round(delay * (1 + (Math.random() * 2 - 1) * policy.jitter));
      const next = new Date(finishedAt.getTime() + jittered);
      await endpoints.updateDelivery(delivery.id, { attemptCount: attemptNo, lastStatusCode: result.statusCode, nextAttemptAt: next }, tx);
      await outbox.retryAt(row.id, next, error ?? 'failed', tx);
    });
  }

  return { fanOut, deliver };
}
export type WebhookJobs = ReturnType<typeof createWebhookJobs>;
