// Portal links: minted by the CRM with a service token, for one person of its tenant.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { problems } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import { SubjectParams } from '../subjects/subjects.schemas.js';
import { CreatePortalLinkBody, PortalLinkSchema } from './portal.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { portalLinks } = app.services;

  app.post(
    '/v1/subjects/:id/portal-links',
    {
      config: { scopes: ['subjects:write'] },
      schema: {
        operationId: 'createPortalLink',
        tags: ['subjects'],
        summary: "Mint a link to the person's self-service (Art. 12(2))",
        description:
          "A link the CRM puts in an email or behind a button so the person can see and change their consents, object, file rights requests and download their exports themselves (GET /v1/me and the routes under it). `url` is PORTAL_BASE_URL + /preferences?token=<subject token>; the token is an HS256 JWT (typ subject, tid, sid, jti, exp) signed with a key of its own, so it reaches only this person's data and never works as a service token. It lives `ttl_hours` (1-720; default the tenant's portal_token_hours, 24). Nothing is stored. An unknown subject, or another tenant's, is a 404; an erased one a 409 SUBJECT_ERASED. Scope subjects:write.",
        params: SubjectParams,
        body: CreatePortalLinkBody,
        response: { 201: PortalLinkSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      reply.code(201).header('cache-control', 'no-store');
      return portalLinks.create(principalOf(request).tenantId, request.params.id, request.body ?? {});
    },
  );
};
export default routes;
