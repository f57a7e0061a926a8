import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../../plugins/auth.js';
import { IdempotencyHeaders, PageQuery, problems } from '../../lib/schemas.js';
import {
  CreateEndpointBody,
  DeliveryListSchema,
  DeliveryPageQuery,
  DeliveryParams,
  EndpointListSchema,
  EndpointParams,
  EndpointSchema,
  EndpointWithSecretSchema,
  QueuedSchema,
  UpdateEndpointBody,
} from './webhook-endpoints.schemas.js';

const tags = ['webhooks'];

const routes: FastifyPluginAsyncZod = async (app) => {
  const { webhookEndpoints: service, idempotency } = app.services;
  const config = { scopes: ['webhooks:admin' as const] };

  app.post(
    '/v1/webhook-endpoints',
    {
      config,
      schema: {
        operationId: 'createWebhookEndpoint',
        tags,
        summary: 'Register a webhook endpoint',
        description:
          'Registers a receiver for the listed event types ("*" for all) and returns its signing secret, once. Deliveries follow the Standard Webhooks spec (see the API description). The URL must be https and must not resolve to a loopback, link-local or private address (checked now and again at every delivery, after DNS); operators may allow private addresses for local development with WEBHOOK_ALLOW_PRIVATE=true.',
        headers: IdempotencyHeaders,
        body: CreateEndpointBody,
        response: { 201: EndpointWithSecretSchema, ...problems(409, 413, 415) },
      },
    },
    async (request, reply) =>
      idempotency.respond(
        request,
        reply,
        async (tx) => ({ status: 201, body: await service.create(principalOf(request).tenantId, request.body, tx) }),
        service.createdReplay,
      ),
  );

  app.get(
    '/v1/webhook-endpoints',
    {
      config,
      schema: {
        operationId: 'listWebhookEndpoints',
        tags,
        summary: 'List webhook endpoints',
        description: "The tenant's endpoints, newest first, cursor-paginated. Secrets are never listed.",
        querystring: PageQuery,
        response: { 200: EndpointListSchema, ...problems() },
      },
    },
    async (request) => service.list(principalOf(request).tenantId, request.query),
  );

  app.get(
    '/v1/webhook-endpoints/:id',
    {
      config,
      schema: {
        operationId: 'getWebhookEndpoint',
        tags,
        summary: 'Get a webhook endpoint',
        description: 'The endpoint, its status and, when disabled, why.',
        params: EndpointParams,
        response: { 200: EndpointSchema, ...problems(404) },
      },
    },
    async (request) => service.get(principalOf(request).tenantId, request.params.id),
  );

  app.patch(
    '/v1/webhook-endpoints/:id',
    {
      config,
      schema: {
        operationId: 'updateWebhookEndpoint',
        tags,
        summary: 'Change a webhook endpoint',
        description: 'Changes the URL, event types or description; `enabled: true` re-enables an endpoint disabled after failing, `enabled: false` pauses it. A new URL, and re-enabling, check the URL again: a host name is resolved and refused (400 naming url) when it does not resolve or resolves to a loopback, private, link-local or otherwise internal address.',
        params: EndpointParams,
        body: UpdateEndpointBody,
        response: { 200: EndpointSchema, ...problems(404, 413, 415) },
      },
    },
    async (request) => service.update(principalOf(request).tenantId, request.params.id, request.body),
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    {
      config,
      schema: {
        operationId: 'deleteWebhookEndpoint',
        tags,
        summary: 'Delete a webhook endpoint',
        description: 'Stops deliveries to the endpoint, pending retries included. Its delivery log is kept for audit.',
        params: EndpointParams,
        response: { 204: z.null().describe('Deleted'), ...problems(404) },
      },
    },
    async (request, reply) => {
      await service.remove(principalOf(request).tenantId, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      config,
      schema: {
        operationId: 'rotateWebhookSecret',
        tags,
        summary: 'Rotate the signing secret',
        description:
          'Returns a new secret, once. For 24 hours the old secret keeps signing beside the new one (two space-separated signatures in webhook-signature), so a receiver can switch without missing a delivery.',
        params: EndpointParams,
        response: { 200: EndpointWithSecretSchema, ...problems(404) },
      },
    },
    async (request) => service.rotateSecret(principalOf(request).tenantId, request.params.id),
  );

  app.post(
    '/v1/webhook-endpoints/:id/test',
    {
      config,
      schema: {
        operationId: 'testWebhookEndpoint',
        tags,
        summary: 'Send a ping',
        description: 'Queues a `ping` event to this endpoint alone; follow it in the delivery log. A disabled endpoint is a 409.',
        params: EndpointParams,
        response: { 202: QueuedSchema.describe('Queued for delivery'), ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      reply.code(202);
      return service.test(principalOf(request).tenantId, request.params.id);
    },
  );

  app.get(
    '/v1/webhook-endpoints/:id/deliveries',
    {
      config,
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: 'The delivery log',
        description: 'Deliveries to the endpoint, newest first, each with every attempt: when, how long, the status code answered and the error.',
        params: EndpointParams,
        querystring: DeliveryPageQuery,
        response: { 200: DeliveryListSchema, ...problems(404) },
      },
    },
    async (request) => service.deliveries(principalOf(request).tenantId, request.params.id, request.query),
  );

  app.post(
    '/v1/webhook-endpoints/:id/deliveries/:deliveryId/redeliver',
    {
      config,
      schema: {
        operationId: 'redeliverWebhook',
        tags,
        summary: 'Send a delivery again',
        description: 'Sends a finished (succeeded or failed) delivery again, with the same webhook-id. A delivery still pending is a 409.',
        params: DeliveryParams,
        response: { 202: QueuedSchema.describe('Queued for delivery'), ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      reply.code(202);
      return service.redeliver(principalOf(request).tenantId, request.params.id, request.params.deliveryId);
    },
  );
};
export default routes;
