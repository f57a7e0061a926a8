import { z } from 'zod';
import { PageMeta } from '../../lib/schemas.js';
import { EVENT_TYPES } from '../outbox/outbox.events.js';

export const SubscribableType = z.enum([...EVENT_TYPES, '*']).describe('An event type, or "*" for every type');

export const CreateEndpointBody = z
  .object({
    url: z.string().max(2000).describe('https URL of the receiver; loopback, link-local and private addresses are refused'),
    event_types: z.array(SubscribableType).min(1).max(50),
    description: z.string().trim().max(500).optional(),
  })
  .strict()
  .meta({ id: 'CreateWebhookEndpoint' });

export const UpdateEndpointBody = z
  .object({
    url: z.string().max(2000).optional(),
    event_types: z.array(SubscribableType).min(1).max(50).optional(),
    description: z.string().trim().max(500).nullable().optional(),
    enabled: z.boolean().optional().describe('true re-enables an endpoint that was disabled after failing; false disables it'),
  })
  .strict()
  .meta({ id: 'UpdateWebhookEndpoint' });

export const EndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    event_types: z.array(z.string()),
    description: z.string().nullable(),
    status: z.enum(['active', 'disabled']),
    disabled_reason: z.string().nullable().describe('Why the endpoint was disabled: failing for days, a 410 Gone, or by request'),
    failing_since: z.iso.datetime().nullable().describe('Start of the current run of failed attempts; null after a success'),
    previous_secret_expires_at: z.iso.datetime().nullable().describe('Until then the previous secret signs too, beside the current one'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'WebhookEndpoint', description: 'A receiver of signed webhooks' });
export type Endpoint = z.infer<typeof EndpointSchema>;

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().describe('The signing secret (whsec_ + base64). Shown only now: store it to verify signatures.'),
}).meta({ id: 'WebhookEndpointWithSecret' });

export const EndpointListSchema = PageMeta.extend({ items: z.array(EndpointSchema) }).meta({ id: 'WebhookEndpointList' });
export const EndpointParams = z.object({ id: z.uuid() });
export const DeliveryParams = z.object({ id: z.uuid(), deliveryId: z.uuid() });

export const AttemptSchema = z.object({
  attempted_at: z.iso.datetime(),
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable().describe('The HTTP status answered; null when no answer came'),
  error: z.string().nullable().describe('Why the attempt failed: timeout, connection refused, HTTP status...'),
});

export const DeliverySchema = z
  .object({
    id: z.uuid(),
    webhook_id: z.string().describe('The webhook-id header sent: the same across retries and redeliveries'),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempt_count: z.number().int(),
    next_attempt_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable(),
    attempts: z.array(AttemptSchema),
  })
  .meta({
    id: 'WebhookDelivery',
    description:
      'One event for one endpoint, with every attempt. A delivery is written when its first attempt has ended (meanwhile its event is in flight in the outbox); one that fails is pending until its retries end.',
  });
export type Delivery = z.infer<typeof DeliverySchema>;

export const DeliveryListSchema = PageMeta.extend({ items: z.array(DeliverySchema) }).meta({ id: 'WebhookDeliveryList' });
export const DeliveryPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export const QueuedSchema = z.object({ delivery_id: z.uuid(), webhook_id: z.string() }).meta({ id: 'QueuedDelivery' });

export const OutboxStatsSchema = z
  .object({
    outbox: z.object({
      pending: z.number().int().describe('Waiting for their time or for the relay'),
      in_flight: z.number().int().describe('Handed to the queue, not yet finished'),
      done: z.number().int(),
      dead: z.number().int().describe('Finished without success (a delivery that exhausted its retries)'),
      cancelled: z.number().int(),
      overdue: z.number().int().describe('Pending rows whose time passed more than a minute ago: the worker is behind or down'),
    }),
    endpoints: z.array(
      z.object({
        endpoint_id: z.uuid(),
        status: z.enum(['active', 'disabled']),
        pending: z.number().int().describe('Deliveries waiting for a retry or for their first attempt; an event whose first attempts are running counts in the outbox as in flight'),
        succeeded: z.number().int(),
        failed: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'EventDeliveryStats' });
export type OutboxStats = z.infer<typeof OutboxStatsSchema>;
