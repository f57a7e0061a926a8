// The OpenAPI 3.1 `webhooks` section, generated from the event catalogue, so integrators generate receiver types
// from openapi.yaml. Handed to the swagger plugin by the composition root (app.ts).
import { z } from 'zod';
import { addedAtSend, ALL_EVENT_TYPES, EVENT_CATALOGUE, eventBodySchema, type EventType } from './outbox.catalogue.js';

/** The Standard Webhooks headers of every delivery. */
const WEBHOOK_PARAMETERS: Record<string, Record<string, unknown>> = {
  WebhookId: {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'msg_<event id>: the same on every retry and redelivery of the event; deduplicate on it',
    schema: { type: 'string', pattern: '^msg_[0-9a-f-]{36}$' },
  },
  WebhookTimestamp: {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'When this attempt was signed, in Unix seconds; refuse attempts too far from your clock',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  WebhookSignature: {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"> keyed with the base64-decoded part of the endpoint\'s whsec_ secret; two space-separated signatures for 24 hours after a rotation (either may match)',
    schema: { type: 'string' },
  },
};

const pascal = (type: string) => type.split(/[._]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
const AUDIENCE: Record<string, string> = {
  subscribers: 'Sent to every active endpoint subscribed to this type or to `*`.',
  addressed: "Sent to one endpoint only (a connected system's), whatever event types it subscribes to; never to other subscribers.",
  tested: 'Sent only to the endpoint being tested.',
};

/** The spec's `webhooks` section, generated from the event catalogue: one POST per event type, its body a component. */
export function webhooksSection(): { webhooks: Record<string, Record<string, unknown>>; schemas: Record<string, unknown>; parameters: Record<string, Record<string, unknown>> } {
  const schemas: Record<string, unknown> = {};
  const webhooks: Record<string, Record<string, unknown>> = {};
  for (const type of ALL_EVENT_TYPES) {
    const entry = EVENT_CATALOGUE[type as EventType];
    const name = `${pascal(type)}Webhook`;
    const { $schema: _, ...schema } = z.toJSONSchema(eventBodySchema(type), { target: 'draft-2020-12', io: 'output' });
    schemas[name] = schema;
    const added = addedAtSend(type);
    const description = [
      `${entry.when}. ${AUDIENCE[entry.audience]}`,
      added.length
        ? `The outbox and the delivery log hold ids only; ${added.map((f) => `\`${f}\``).join(' and ')} ${added.length > 1 ? 'are' : 'is'} read when the event is sent (at every attempt), and the event is not sent when what it is about is gone.`
        : '',
    ]
      .filter(Boolean)
      .join(' ');
    webhooks[type] = {
      post: {
        operationId: `receive${pascal(type)}`,
        summary: `The ${type} event`,
        description,
        tags: ['webhooks'],
        security: [],
        parameters: Object.keys(WEBHOOK_PARAMETERS).map((p) => ({ $ref: `#/components/parameters/${p}` })),
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } },
        responses: {
          '200': { description: 'Any 2xx answer within 15 seconds acknowledges the event; the body is ignored' },
          '410': { description: 'Gone: the endpoint is disabled and gets no further deliveries' },
          default: { description: 'Anything else, or no answer in time, is retried with growing backoff for about three days' },
        },
      },
    };
  }
  return { webhooks, schemas, parameters: WEBHOOK_PARAMETERS };
}

