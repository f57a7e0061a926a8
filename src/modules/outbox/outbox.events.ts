// Domain events: each is an outbox row with topic "event", written in the transaction of the change it announces.
// Its id is the event id, and the `webhook-id` every receiver sees for it.
import type { NewOutboxRow } from './outbox.repo.js';

export const EVENT_TYPES = [
  'consent.granted',
  'consent.withdrawn',
  'subject.objected',
  'subject.created',
  'request.created',
  'request.status_changed',
  'request.extended',
  'request.completed',
  'request.deadline_approaching',
  'request.overdue',
] as const;
export type EventType = (typeof EVENT_TYPES)[number] | 'ping';

export const EVENT_TOPIC = 'event';
export const DELIVERY_TOPIC = 'webhook.delivery';

export type EventPayload = { type: EventType; timestamp: string; data: Record<string, string | number | boolean | null> };

/** An event row. `data` holds ids and facts only, never identifier values or evidence. */
export function eventRow(tenantId: string, type: EventType, data: EventPayload['data'], at: Date = new Date()): NewOutboxRow {
  // Due at `at` (the caller's clock), not at the database's now(): a test clock then governs delivery too.
  return { id: crypto.randomUUID(), tenantId, topic: EVENT_TOPIC, payload: { type, timestamp: at.toISOString(), data } satisfies EventPayload, availableAt: at };
}
