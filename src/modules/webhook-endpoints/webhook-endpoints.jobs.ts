// Worker jobs for webhooks: fan an event out to the endpoints that subscribe to it (or to the one it is addressed
// to), and deliver one delivery (one attempt), scheduling the next attempt through the outbox so a retry survives
// any restart. registerWebhookJobs() gives both to the outbox's dispatcher.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { inTransaction, type Db } from '../../db/client.js';
import { open } from '../../lib/crypto.js';
import type { Keyring } from '../../lib/keyring.js';
import { signatureHeader } from '../../lib/webhook-signing.js';
import type { Dispatcher } from '../outbox/outbox.dispatcher.js';
import {
  DELIVERY_TOPIC,
  EVENT_CATALOGUE,
  EVENT_TOPIC,
  EventPayloadSchema,
  type EventBodies,
  type EventPayload,
  type EventType,
} from '../outbox/outbox.events.js';
import type { NewOutboxRow, OutboxRepo, OutboxRow } from '../outbox/outbox.repo.js';
import { createWebhookEndpointsRepo, type DeliveredEvent, type DeliveryRow, type EndpointRow, type HeldDelivery, type InlineHold, type WebhookEndpointsRepo } from './webhook-endpoints.repo.js';
import { createSender, type SendResult, type Sender } from './webhook-endpoints.sender.js';

export type { EventBodies, EventBodyBuilder } from '../outbox/outbox.events.js';

// An event with at most this many receiving endpoints gets its first delivery attempts from the processor of its row.
const INLINE_DELIVERIES_MAX = 8;

/** The payload of a delivery row: which delivery to attempt. */
export const DeliveryPayloadSchema = z.object({ delivery_id: z.uuid() });

export type DeliveryPolicy = {
  /** Delay before each retry; after the last one fails the delivery is marked failed. */
  retryDelaysMs: number[];
  /** An endpoint failing continuously for this long is disabled. */
  disableAfterMs: number;
  jitter: number;
};

export const secretAad = (endpointId: string, which: 'current' | 'previous' | 'idempotency') => `webhook-secret:${endpointId}:${which}`;

/** Opens an endpoint's sealed secret with its master key. */
export type SecretOpener = (e: EndpointRow, which: 'current' | 'previous', sealed: Buffer) => string;

function openSecret(keyring: Keyring): SecretOpener {
  return (e, which, sealed) => {
    const master = keyring.all.get(e.keyId);
    if (!master) throw new Error(`master key ${e.keyId} is not configured`);
    return open(master, sealed, secretAad(e.id, which)).toString('utf8');
  };
}

/**
 * Opens secrets as `openSecret` does, remembering the last `max` it opened, each under its endpoint, slot, master key
 * and sealed bytes: a rotated or re-keyed secret is another entry, so a cached one never signs after it changed. The
 * worker signs every delivery; opening the secret each time (AES-GCM) was a measured share of its CPU in a backlog.
 */
export function cachedSecretOpener(keyring: Keyring, max = 1000): SecretOpener {
  const openNow = openSecret(keyring);
  const cache = new Map<string, { sealed: Buffer; secret: string }>();
  return (e, which, sealed) => {
    const key = `${e.id}:${which}:${e.keyId}`;
    const hit = cache.get(key);
    if (hit && hit.sealed.equals(sealed)) return hit.secret;
    const secret = openNow(e, which, sealed);
    if (cache.size >= max) cache.delete(cache.keys().next().value!);
    cache.set(key, { sealed: Buffer.from(sealed), secret });
    return secret;
  };
}

/** The secrets that sign right now: the current one, and the previous one during its grace period. */
export function activeSecrets(keyring: Keyring, e: EndpointRow, now: Date, openWith: SecretOpener = openSecret(keyring)): string[] {
  const secrets = [openWith(e, 'current', e.secretSealed)];
  if (e.previousSecretSealed && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now) {
    secrets.push(openWith(e, 'previous', e.previousSecretSealed));
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
  /** Builders of the data sent for some event types, run at each send (see EventBodyBuilder). */
  bodies?: EventBodies;
  clock?: () => Date;
}) {
  const { db, outbox, endpoints, sender, keyring, policy, log } = deps;
  const bodies: EventBodies = deps.bodies ?? new Map();
  const clock = deps.clock ?? (() => new Date());
  const secrets = cachedSecretOpener(keyring);

  /**
   * Fans events out, each as one unit: one delivery (and its outbox row) per receiving endpoint, plus `also` (rows
   * other modules add to the event, e.g. DPO emails), in one transaction. The stored body is the event as its row
   * holds it (ids only). With `inline` and at most `inline.max` endpoints, the delivery rows are written already taken
   * by this processor and returned (with the delivery and endpoint as written), so it makes the first attempts itself
   * instead of sending each event through the queue twice; retries and redeliveries go through the outbox and the
   * queue as usual. The events with no rows to add (a job's, as a rule) share one statement; the others each take a
   * transaction. One answer per event, in order.
   */
  function fanOutEach(items: { row: OutboxRow; event: EventPayload; also: NewOutboxRow[] }[], inline?: InlineHold): Promise<HeldDelivery[]>[] {
    const call = ({ row, event }: { row: OutboxRow; event: EventPayload }) => ({
      // A delivery is due when its event was (the event's time, not the database's: the relay's clock decides).
      event: { id: row.id, tenantId: row.tenantId, type: event.type, availableAt: row.availableAt, toEndpointId: event.to_endpoint_id ?? null },
      body: storedBody(event),
      inline: inline ?? null,
    });
    const shared = endpoints.fanOutEach(items.filter((it) => it.also.length === 0).map(call));
    let next = 0;
    return items.map((it) => {
      if (it.also.length === 0) return shared[next++]!;
      const c = call(it);
      return inTransaction(db, async (tx) => {
        const taken = await endpoints.fanOut(c.event, c.body, c.inline, tx);
        await outbox.insert(it.also, tx);
        return taken;
      });
    });
  }

  /**
   * The body to send: the stored one, or for an event type with a body builder, the stored event with the data the
   * builder makes of it now (never written anywhere). Not a string: nothing is to be sent, and why.
   */
  async function bodyToSend(tenantId: string, type: string, stored: string): Promise<string | { gone: boolean; reason: string }> {
    const build = bodies.get(type as EventType);
    if (!build) return stored;
    const event = JSON.parse(stored) as EventPayload;
    const data = await build(tenantId, event.data);
    if (data === null) return { gone: true, reason: 'what the event is about is gone; nothing sent' };
    const checked = EVENT_CATALOGUE[type as EventType].data.safeParse(data);
    // A builder that strays from the catalogue is a bug: nothing leaves that the contract does not describe.
    if (!checked.success) return { gone: false, reason: `the body built for ${type} does not match the catalogue: ${checked.error.issues[0]?.path.join('.')}` };
    return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: checked.data });
  }

  /** One attempt of the row's delivery; `known`: the delivery and endpoint as the fan-out that wrote the row saw them. */
  async function deliver(row: OutboxRow, known?: Pick<HeldDelivery, 'delivery' | 'endpoint'>): Promise<void> {
    const deliveryId = String(row.payload.delivery_id);
    const found = known ?? (await endpoints.deliveryWithEndpoint(deliveryId));
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
    const body = await bodyToSend(delivery.tenantId, delivery.eventType, delivery.body);
    if (typeof body !== 'string') {
      await inTransaction(db, async (tx) => {
        await endpoints.updateDelivery(delivery.id, { status: 'failed', finishedAt: clock(), nextAttemptAt: null }, tx);
        await outbox.finish(row.id, body.gone ? 'cancelled' : 'dead', body.reason, tx);
      });
      if (!body.gone) log.error({ delivery_id: delivery.id, event_type: delivery.eventType, reason: body.reason }, 'webhook body not sent');
      return;
    }
    await recordAttempt(row, delivery, endpoint, await attempt(endpoint, delivery.eventId, body));
  }

  /** One signed POST of an event's body to an endpoint. */
  async function attempt(endpoint: EndpointRow, eventId: string, body: string): Promise<Attempt> {
    const now = clock();
    const timestamp = Math.floor(now.getTime() / 1000);
    // webhook-id is the event id: the same for every retry and every redelivery, so receivers can deduplicate.
    const webhookId = `msg_${eventId}`;
    const result = await sender.send(
      endpoint.url,
      {
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(activeSecrets(keyring, endpoint, now, secrets), webhookId, timestamp, body),
      },
      body,
    );
    return { ...result, attemptedAt: now, finishedAt: clock() };
  }

  /** Records an attempt of the row's delivery: success, or the failure and the retry it schedules (or the end). */
  async function recordAttempt(row: OutboxRow, delivery: DeliveryRow, endpoint: EndpointRow, result: Attempt): Promise<void> {
    const { attemptedAt: now, finishedAt } = result;
    const ok = succeeded(result);
    const attemptNo = delivery.attemptCount + 1;
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

  /**
   * An event's first attempts, made before anything of it is written: its receiving endpoints are read, each gets the
   * event, and when every attempt succeeds one statement (shared with the events recorded at once) writes the
   * deliveries succeeded, their attempts, and the event done: no delivery row goes through the outbox. An event is
   * held (its row taken) until then, so a crash before that statement sends it again, under the same webhook-id.
   * Anything else (more endpoints than `inline.max`, a failed attempt, a body not to send) is fanned out as usual
   * (`fanOutEach`), and the attempts already made are recorded against the deliveries it writes.
   */
  async function deliverFirst(row: OutboxRow, event: EventPayload, targets: EndpointRow[], inline: InlineHold): Promise<void> {
    const stored = storedBody(event);
    const record = (sends: DeliveredEvent['sends']) => endpoints.recordDelivered({ eventId: row.id, tenantId: row.tenantId, type: event.type, body: stored, sends });
    // No receiver: the event is done, and its body is never built.
    if (targets.length === 0) return record([]);
    const made = new Map<string, Attempt>();
    if (targets.length <= inline.max) {
      const body = await bodyToSend(row.tenantId, event.type, stored);
      if (typeof body === 'string') {
        const attempts = await Promise.all(targets.map((w) => attempt(w, row.id, body)));
        if (attempts.every(succeeded)) {
          return record(attempts.map((a, k) => ({ endpointId: targets[k]!.id, statusCode: a.statusCode!, durationMs: a.durationMs, attemptedAt: a.attemptedAt, finishedAt: a.finishedAt })));
        }
        attempts.forEach((a, k) => made.set(targets[k]!.id, a));
      }
    }
    await attemptHeld(await fanOutEach([{ row, event, also: [] }], inline)[0]!, made);
  }

  /**
   * The first attempts of the deliveries a fan-out wrote held: each recorded from `made` when it was made already for
   * its endpoint, made now otherwise. The first failure is thrown once every one is seen to; the event is fanned out
   * already, and a delivery left held is recovered once its hold expires, like a lost job.
   */
  async function attemptHeld(held: HeldDelivery[], made = new Map<string, Attempt>()): Promise<void> {
    const outcomes = await Promise.allSettled(
      held.map((h) => {
        const result = made.get(h.endpoint.id);
        return result ? recordAttempt(h.row, h.delivery, h.endpoint, result) : deliver(h.row, h);
      }),
    );
    const failed = outcomes.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  return { fanOutEach, deliver, deliverFirst, attemptHeld };
}

/** An attempt's outcome, with when it started and ended. */
type Attempt = SendResult & { attemptedAt: Date; finishedAt: Date };
const succeeded = (a: SendResult) => a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
/** The body a delivery of the event stores and signs: the event as its row holds it (ids only). */
const storedBody = (event: EventPayload) => JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
export type WebhookJobs = ReturnType<typeof createWebhookJobs>;

/**
 * The webhook topics: `event` (the first attempts of up to INLINE_DELIVERIES_MAX deliveries right here, so an event
 * crosses the queue once, and is recorded once they are made; see `deliverFirst`) and `webhook.delivery` (one attempt:
 * retries, redeliveries and the deliveries of a fanned-out event). Both finish their rows themselves, in the
 * statements that record what happened.
 */
export function registerWebhookJobs(
  dispatcher: Dispatcher,
  deps: { config: Pick<Config, 'webhooks'>; db: Db; outbox: OutboxRepo; keyring: Keyring; log: Logger; bodies?: EventBodies },
): WebhookJobs {
  const { webhooks } = deps.config;
  const sender = createSender({ timeoutMs: webhooks.timeoutMs, allowPrivate: webhooks.allowPrivate });
  dispatcher.onClose(() => sender.close());
  const endpoints = createWebhookEndpointsRepo(deps.db);
  const jobs = createWebhookJobs({
    db: deps.db,
    outbox: deps.outbox,
    endpoints,
    sender,
    keyring: deps.keyring,
    policy: { retryDelaysMs: webhooks.retryDelaysMs, disableAfterMs: webhooks.disableAfterMs, jitter: webhooks.jitter },
    log: deps.log,
    bodies: deps.bodies,
  });

  /**
   * A job's events: those that go to their subscribers and add no rows are delivered first and recorded after
   * (`deliverFirst`, their endpoints read in one statement); addressed events and those with rows to add (DPO emails)
   * are fanned out first, in one statement for the lot, and their deliveries attempted from it.
   */
  async function handleEvents(items: { row: OutboxRow; payload: EventPayload }[]): Promise<PromiseSettledResult<void>[]> {
    const inline = { holdMs: dispatcher.holdMs, max: INLINE_DELIVERIES_MAX };
    const follows = await Promise.allSettled(items.map(({ row, payload }) => dispatcher.followUps(row, payload)));
    const outcomes: Promise<void>[] = follows.map((f) => (f.status === 'rejected' ? Promise.reject(f.reason as Error) : Promise.resolve()));
    const direct: { k: number; row: OutboxRow; event: EventPayload }[] = [];
    const fanned: { k: number; row: OutboxRow; event: EventPayload; also: NewOutboxRow[] }[] = [];
    items.forEach(({ row, payload: event }, k) => {
      const f = follows[k]!;
      if (f.status === 'rejected') return;
      if (f.value.length === 0 && !event.to_endpoint_id) direct.push({ k, row, event });
      else fanned.push({ k, row, event, also: f.value });
    });
    const targets = endpoints.targetsEach(direct.map(({ row, event }) => ({ id: row.id, type: event.type })));
    direct.forEach(({ k, row, event }, n) => (outcomes[k] = targets[n]!.then((ws) => jobs.deliverFirst(row, event, ws, inline))));
    const written = jobs.fanOutEach(fanned, inline);
    fanned.forEach(({ k }, n) => (outcomes[k] = written[n]!.then((held) => jobs.attemptHeld(held))));
    return Promise.allSettled(outcomes);
  }

  dispatcher.register(EVENT_TOPIC, {
    payload: EventPayloadSchema,
    settles: true,
    async handle(row, event) {
      const [outcome] = await handleEvents([{ row, payload: event }]);
      if (outcome!.status === 'rejected') throw outcome!.reason;
    },
    handleMany: handleEvents,
  });
  dispatcher.register(DELIVERY_TOPIC, { payload: DeliveryPayloadSchema, settles: true, handle: (row) => jobs.deliver(row) });
  return jobs;
}
