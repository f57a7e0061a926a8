import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { problems } from '../../lib/schemas.js';
import { TenantSchema, UpdateTenantBody } from './tenants.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { tenants } = app.services;

  app.get(
    '/v1/tenant',
    {
      config: { scopes: [] },
      schema: {
        operationId: 'getTenant',
        tags: ['tenant'],
        summary: "Get the caller's tenant",
        description: 'Returns the tenant named by the token, with the settings that drive deadlines and the privacy notice. Any valid token may read it.',
        response: { 200: TenantSchema, ...problems() },
      },
    },
    async (request) => tenants.get(principalOf(request).tenantId),
  );

  app.patch(
    '/v1/tenant',
    {
      config: { scopes: ['tenant:admin'] },
      schema: {
        operationId: 'updateTenant',
        tags: ['tenant'],
        summary: "Change the tenant's settings",
        description:
          'Changes the name, time zone, deadline policy, holiday calendar, reminder offsets or default locale. An unknown IANA time zone or holiday calendar is a 400 naming the field. Needs the scope tenant:admin.',
        body: UpdateTenantBody,
        response: { 200: TenantSchema, ...problems(413, 415) },
      },
    },
    async (request) => tenants.update(principalOf(request).tenantId, request.body),
  );
};
export default routes;
