import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { IdempotencyHeaders, problems } from '../../lib/schemas.js';
import { tenantOf } from '../tenants/index.js';
import { CreateSubjectBody, LiftRestrictionBody, LookupSubjectBody, RestrictionLiftSchema, SubjectParams, SubjectSchema } from './subjects.schemas.js';
import { visibleSubject } from './subjects.service.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { subjects, idempotency, rightsRequests } = app.services;

  app.post(
    '/v1/subjects',
    {
      config: { scopes: ['subjects:write'] },
      schema: {
        operationId: 'createSubject',
        tags: ['subjects'],
        summary: 'Find or create a subject',
        description:
          'Returns 201 with a new subject, or 200 with the existing one when an identifier or the external_ref already belongs to a subject (identifiers not yet known are added to it). The answer carries the decrypted identifiers only when the token also holds subjects:read; otherwise the id and flags. Identifiers are normalised, stored encrypted under a per-subject key and found through a keyed blind index. Identifiers that belong to two different subjects are a 409 IDENTIFIERS_CONFLICT.',
        headers: IdempotencyHeaders,
        body: CreateSubjectBody,
        response: {
          200: SubjectSchema.describe('An identifier or the external_ref already belonged to this subject'),
          201: SubjectSchema.describe('A new subject was created'),
          ...problems(409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const ctx = tenantOf(request);
      const subject = await idempotency.respond(
        request,
        reply,
        async (tx) => {
          const { created, subject } = await subjects.findOrCreate(ctx, request.body, tx);
          return { status: created ? 201 : 200, body: subject };
        },
        // The answer holds decrypted identifiers: keep only the subject id, and present the subject again on replay.
        { store: (subject) => ({ id: subject.id }), replay: (stored) => subjects.get(ctx.id, (stored as { id: string }).id) },
      );
      return visibleSubject(principalOf(request).scopes, subject);
    },
  );

  app.post(
    '/v1/subjects/lookup',
    {
      config: { scopes: ['subjects:read'] },
      schema: {
        operationId: 'lookupSubject',
        tags: ['subjects'],
        summary: 'Find a subject by identifiers',
        description:
          'Finds the subject that owns the identifiers (normalised as on creation: case and Unicode form of emails do not matter, phones match in any formatting). 404 when none matches; 409 when they belong to different subjects. A POST so identifiers never appear in URLs or access logs.',
        body: LookupSubjectBody,
        response: { 200: SubjectSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) => subjects.lookup(tenantOf(request), request.body.identifiers),
  );

  app.post(
    '/v1/subjects/:id/restriction/lift',
    {
      config: { scopes: ['subjects:write'] },
      schema: {
        operationId: 'liftRestriction',
        tags: ['subjects'],
        summary: 'Lift a restriction of processing (Art. 18(3))',
        description:
          "Clears the subject's restricted flag once the person has been told (`subject_informed_at`: not in the future, not before the restriction was requested; the lift is recorded now, after it). Refused with a 409 RESTRICTION_NOT_LIFTABLE when the subject is not restricted, or while an open request still restricts it (a restriction request, or an objection to processing pending): decide that request instead. The lift, with the reason (stored encrypted), is recorded in the audit trail of the granted restriction request that held it, and every system that handles restriction, and every recipient, is sent restriction.lifted (tasks of kind restriction_lifted on that request, Art. 19). The answer carries the decrypted identifiers only when the token also holds subjects:read.",
        params: SubjectParams,
        body: LiftRestrictionBody,
        response: { 200: RestrictionLiftSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const lifted = await rightsRequests.liftRestriction(principal, request.params.id, request.body);
      return { ...lifted, subject: visibleSubject(principal.scopes, lifted.subject) };
    },
  );

  app.get(
    '/v1/subjects/:id',
    {
      config: { scopes: ['subjects:read'] },
      schema: {
        operationId: 'getSubject',
        tags: ['subjects'],
        summary: 'Get a subject',
        description: 'The subject with its decrypted identifiers and its objection and restriction flags.',
        params: SubjectParams,
        response: { 200: SubjectSchema, ...problems(404) },
      },
    },
    async (request) => subjects.get(principalOf(request).tenantId, request.params.id),
  );
};
export default routes;
