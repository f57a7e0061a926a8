// Domain events: each is an outbox row with topic "event", written in the transaction of the change it announces.
// Its id is the event id, and the `webhook-id` every receiver sees for it. What each type carries is in the catalogue.
import { z } from 'zod';
import { ALL_EVENT_TYPES, EVENT_CATALOGUE, storedSchemaOf, type EventType, type StoredEventData } from './outbox.catalogue.js';
import type { NewOutboxRow } from './outbox.repo.js';

export { ALL_EVENT_TYPES, EVENT_CATALOGUE, EVENT_TYPES, eventBodySchema, sentSchemaOf, storedSchemaOf } from './outbox.catalogue.js';
export type { EventType, SentEventData, StoredEventData, SubscribableEventType } from './outbox.catalogue.js';

export const EVENT_TOPIC = 'event';
export const DELIVERY_TOPIC = 'webhook.delivery';

/** An event row's payload. `to_endpoint_id`: the event goes to that endpoint of the tenant alone. */
export type EventPayload = { type: EventType; timestamp: string; data: Record<string, unknown>; to_endpoint_id?: string };

/** The payload of a row of topic "event", checked against the catalogue (unknown fields of `data` are dropped).
 * An event for the addressed endpoint only must name it. */
export const EventPayloadSchema = z.discriminatedUnion(
  'type',
  ALL_EVENT_TYPES.map((type) =>
    z.object({
      type: z.literal(type),
      timestamp: z.iso.datetime(),
      data: storedSchemaOf(type),
      to_endpoint_id: EVENT_CATALOGUE[type].audience === 'addressed' ? z.uuid() : z.uuid().optional(),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
) as unknown as z.ZodType<EventPayload>;

/**
 * A builder of the data an event's receiver gets, run at each send from the stored (ids-only) data: what it adds
 * (personal data) is never stored in the outbox or the delivery log. Null: what the event is about is gone, and
 * nothing is sent. Its output must match the catalogue's `data` for the type.
 */
export type EventBodyBuilder = (tenantId: string, data: Record<string, unknown>) => Promise<Record<string, unknown> | null>;
/** Body builders by event type: filled by the modules that own them, read by the webhook delivery. */
export type EventBodies = Map<EventType, EventBodyBuilder>;

/** An event row. `data` holds ids and facts only, never identifier values or evidence. */
export function eventRow<T extends EventType>(tenantId: string, type: T, data: StoredEventData<T>, at: Date = new Date()): NewOutboxRow {
  // Due at `at` (the caller's clock), not at the database's now(): a test clock then governs delivery too.
  return { id: crypto.randomUUID(), tenantId, topic: EVENT_TOPIC, payload: { type, timestamp: at.toISOString(), data } satisfies EventPayload, availableAt: at };
}

/** An event row for one endpoint of the tenant alone (a connected system's), whatever event types it subscribes to. */
export function addressedEventRow<T extends EventType>(tenantId: string, type: T, data: StoredEventData<T>, endpointId: string, at: Date = new Date()): NewOutboxRow {
  return {
    id: crypto.randomUUID(),
    tenantId,
    topic: EVENT_TOPIC,
    payload: { type, timestamp: at.toISOString(), data, to_endpoint_id: endpointId } satisfies EventPayload,
    availableAt: at,
  };
}
