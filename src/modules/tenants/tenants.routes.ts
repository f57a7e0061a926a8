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
          "Changes the name, time zone, deadline policy, holiday calendar, reminder offsets, default locale, and the legal settings the privacy notice and every refusal must state: the controller's and the DPO's contact details (Art. 13(1)(a)-(b); each an object with at least one of email, address, phone or url, replaced whole), the supervisory authority (name and https URL, Art. 13(2)(d), 77) and the judicial remedy (Art. 79, Art. 12(4)); null clears one. An unknown IANA time zone or holiday calendar is a 400 naming the field. `accountability_days` (30–36500, default 1095) is how long an erased person's tombstone, ledger and request history are kept before they are purged (Art. 5(2), 5(1)(e)); out of range is a 400 naming it. `export_retention_days` (1–365, default 30) is how long an access or portability export's gathered data is kept after its request closes before it is deleted; out of range is a 400 naming it. `export_link_ttl_hours` (1–720, default 168) and `export_link_max_downloads` (1–20, default 3) are how long a new download link for the person lives and how many downloads it allows. `portal_token_hours` (1–720, default 24) is how long a new portal link for the person lives. `brand_color` (#rrggbb, stored lower-case; null for none) colours the preference page's buttons behind white text, so its contrast against white must be at least 4.5:1 (WCAG 2.2 AA): a lighter colour is a 400 naming brand_color. Needs the scope tenant:admin.",
        body: UpdateTenantBody,
        response: { 200: TenantSchema, ...problems(413, 415) },
      },
    },
    async (request) => tenants.update(principalOf(request).tenantId, request.body),
  );
};
export default routes;
