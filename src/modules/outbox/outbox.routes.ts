import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { problems } from '../../lib/schemas.js';
import { OutboxStatsSchema } from '../webhook-endpoints/webhook-endpoints.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/outbox/stats',
    {
      config: { scopes: ['webhooks:admin'] },
      schema: {
        operationId: 'getEventDeliveryStats',
        tags: ['webhooks'],
        summary: 'Event delivery health',
        description:
          "The tenant's outbox rows by state (pending, in flight, done, dead, cancelled, and overdue: pending past their time by over a minute, which means the worker is behind or down) and deliveries per endpoint by state.",
        response: { 200: OutboxStatsSchema, ...problems() },
      },
    },
    async (request) => app.services.webhookEndpoints.stats(principalOf(request).tenantId),
  );
};
export default routes;
