import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IdempotencyHeaders, problems } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import { CreateSystemBody, SystemListQuery, SystemListSchema, SystemParams, SystemSchema, UpdateSystemBody } from './systems.schemas.js';

const tags = ['systems'];
// The auth plugin requires every scope a route names, so reads name requests:read alone: whoever works the requests
// must see where they go. A token for systems:admin alone cannot read; an administrator's token carries both.
const admin = { scopes: ['systems:admin' as const] };
const read = { scopes: ['requests:read' as const] };

const routes: FastifyPluginAsyncZod = async (app) => {
  const { systems: service, idempotency } = app.services;

  app.post(
    '/v1/systems',
    {
      config: admin,
      schema: {
        operationId: 'createSystem',
        tags,
        summary: 'Register a connected system',
        description:
          'Registers a system that holds personal data (CRM, mailing tool, warehouse, payment provider...): what it holds, what it carries out for rights requests (`handles`), whether it is a recipient or a processor (processors are recipients, Art. 4(9), and every recipient is told of rectification, erasure and restriction, Art. 19), and how it is reached: exactly one of `webhook_endpoint_id` (an endpoint of the tenant; an unknown or deleted one is a 422 UNKNOWN_WEBHOOK_ENDPOINT) and `contact_email`. Needs systems:admin.',
        headers: IdempotencyHeaders,
        body: CreateSystemBody,
        response: { 201: SystemSchema, ...problems(409, 413, 415, 422) },
      },
    },
    async (request, reply) =>
      idempotency.respond(request, reply, async (tx) => ({ status: 201, body: await service.create(principalOf(request).tenantId, request.body, tx) })),
  );

  app.get(
    '/v1/systems',
    {
      config: read,
      schema: {
        operationId: 'listSystems',
        tags,
        summary: 'List connected systems',
        description:
          "The tenant's systems, newest first, cursor-paginated; deleted ones are not listed. `handles` keeps those that carry out an action, `recipient=true` the recipients (processors included). Needs requests:read.",
        querystring: SystemListQuery,
        response: { 200: SystemListSchema, ...problems() },
      },
    },
    async (request) => service.list(principalOf(request).tenantId, request.query),
  );

  app.get(
    '/v1/systems/:id',
    {
      config: read,
      schema: {
        operationId: 'getSystem',
        tags,
        summary: 'Get a connected system',
        description: 'The system, what it handles and how it is reached. A deleted system is a 404. Needs requests:read.',
        params: SystemParams,
        response: { 200: SystemSchema, ...problems(404) },
      },
    },
    async (request) => service.get(principalOf(request).tenantId, request.params.id),
  );

  app.patch(
    '/v1/systems/:id',
    {
      config: admin,
      schema: {
        operationId: 'updateSystem',
        tags,
        summary: 'Change a connected system',
        description:
          'Changes the fields given; the others keep their value. Giving `webhook_endpoint_id` or `contact_email` switches the reach to it and clears the other (both at once is a 400). processor true makes the system a recipient; recipient false beside processor true is a 422 PROCESSOR_IS_RECIPIENT. Needs systems:admin.',
        params: SystemParams,
        body: UpdateSystemBody,
        response: { 200: SystemSchema, ...problems(404, 413, 415, 422) },
      },
    },
    async (request) => service.update(principalOf(request).tenantId, request.params.id, request.body),
  );

  app.delete(
    '/v1/systems/:id',
    {
      config: admin,
      schema: {
        operationId: 'deleteSystem',
        tags,
        summary: 'Delete a connected system',
        description:
          'Removes the system from every list and fan-out; its record is kept so past tasks still name it. A system with open tasks (pending, acknowledged or failed) is a 409 SYSTEM_HAS_OPEN_TASKS. Needs systems:admin.',
        params: SystemParams,
        response: { 204: z.null().describe('Deleted'), ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      await service.remove(principalOf(request).tenantId, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
export default routes;
