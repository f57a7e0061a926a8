import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { IdempotencyHeaders, PageQuery, problems } from '../../lib/schemas.js';
import { CreatePurposeBody, PurposeListSchema, PurposeParams, PurposeSchema, UpdatePurposeBody } from './purposes.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { purposes, idempotency } = app.services;

  app.post(
    '/v1/purposes',
    {
      config: { scopes: ['purposes:write'] },
      schema: {
        operationId: 'createPurpose',
        tags: ['purposes'],
        summary: 'Add a purpose to the register',
        description:
          'Registers a processing purpose (Art. 13/14/30) at version 1: its legal basis (fixed for good), whether it is direct marketing or involves automated decisions, the data categories, retention, recipients, channels, transfers to third countries with their safeguards, whether providing the data is required, the source of the data, and the texts shown per locale. A 400 names each field the law requires and the purpose lacks: on legitimate interests, `legitimate_interests` in every locale (Art. 13(1)(d)); with automated decisions, `automated_decision_exception` (Art. 22(2)) and `automated_decision_logic` in every locale (Art. 13(2)(f)); with a statutory or contractual requirement, `provision_consequences` (Art. 13(2)(e)); with data from a third party or a public source, `source_detail` (Art. 14(2)(f)). A key in use is a 409 PURPOSE_EXISTS.',
        headers: IdempotencyHeaders,
        body: CreatePurposeBody,
        response: { 201: PurposeSchema, ...problems(409, 413, 415) },
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request);
      return idempotency.respond(request, reply, async (tx) => ({ status: 201, body: await purposes.create(tenantId, request.body, tx) }));
    },
  );

  app.get(
    '/v1/purposes',
    {
      config: { scopes: ['purposes:read'] },
      schema: {
        operationId: 'listPurposes',
        tags: ['purposes'],
        summary: 'List the register',
        description: 'The current version of every purpose, ordered by key, cursor-paginated.',
        querystring: PageQuery,
        response: { 200: PurposeListSchema, ...problems() },
      },
    },
    async (request) => purposes.list(principalOf(request).tenantId, request.query),
  );

  app.get(
    '/v1/purposes/:key',
    {
      config: { scopes: ['purposes:read'] },
      schema: {
        operationId: 'getPurpose',
        tags: ['purposes'],
        summary: 'Get a purpose',
        description: 'The current version of one purpose.',
        params: PurposeParams,
        response: { 200: PurposeSchema, ...problems(404) },
      },
    },
    async (request) => purposes.get(principalOf(request).tenantId, request.params.key),
  );

  app.patch(
    '/v1/purposes/:key',
    {
      config: { scopes: ['purposes:write'] },
      schema: {
        operationId: 'updatePurpose',
        tags: ['purposes'],
        summary: 'Change a purpose',
        description:
          'Changes the texts or any other content except the legal basis. Any actual change publishes a new version (the old one stays readable under /versions, and consents keep pointing at the version they were given for); a PATCH that changes nothing keeps the version. The legal basis is fixed once the purpose exists (EDPB Guidelines 05/2020 on consent: no switching to another basis after the fact): a legal_basis other than the current one is a 409 LEGAL_BASIS_FIXED, and processing on another basis is registered as a new purpose; the current basis is accepted and changes nothing. requires_reconsent: true (consent-based purposes only, else a 400) publishes a version that asks for fresh consent (Art. 7), even with no other change, unless the current version already asks for it; reconsent_from_version then names it, and campaign checks answer reconsent_needed for consents given for earlier versions. The rules of POST apply to the content the new version would have.',
        params: PurposeParams,
        body: UpdatePurposeBody,
        response: { 200: PurposeSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) => purposes.update(principalOf(request).tenantId, request.params.key, request.body),
  );

  app.get(
    '/v1/purposes/:key/versions',
    {
      config: { scopes: ['purposes:read'] },
      schema: {
        operationId: 'listPurposeVersions',
        tags: ['purposes'],
        summary: "List a purpose's versions",
        description: 'Every published version of the purpose, newest first, so the text a consent was given for can be shown.',
        params: PurposeParams,
        querystring: PageQuery,
        response: { 200: PurposeListSchema, ...problems(404) },
      },
    },
    async (request) => purposes.versions(principalOf(request).tenantId, request.params.key, request.query),
  );
};
export default routes;
