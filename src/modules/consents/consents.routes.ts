import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { IdempotencyHeaders, PageQuery, problems } from '../../lib/schemas.js';
import { tenantOf } from '../tenants/index.js';
import { SubjectParams, SubjectSchema } from '../subjects/subjects.schemas.js';
import { visibleSubject } from '../subjects/subjects.service.js';
import {
  CheckBody,
  CheckResultSchema,
  ConsentHistorySchema,
  ConsentStateSchema,
  ObjectionBody,
  RecordConsentsBody,
  RecordedConsentsSchema,
  VerifyResultSchema,
} from './consents.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { consents, idempotency } = app.services;

  app.post(
    '/v1/subjects/:id/consents',
    {
      config: { scopes: ['consents:write'] },
      schema: {
        operationId: 'recordConsents',
        tags: ['consents'],
        summary: 'Record consent decisions',
        description:
          "Appends grants and withdrawals to the subject's ledger, in the order given, and updates the current state in the same transaction. Withdrawing is one call, as easy as granting, and takes effect at once. `source` says how the decision was collected; `evidence` (IP, user agent, form, collector, the text shown) is encrypted at rest. A grant for a purpose whose legal basis is not consent is a 422 CONSENT_NOT_APPLICABLE; an unknown purpose is a 422 UNKNOWN_PURPOSE.",
        params: SubjectParams,
        headers: IdempotencyHeaders,
        body: RecordConsentsBody,
        response: { 201: RecordedConsentsSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request);
      const subjectId = request.params.id;
      return idempotency.respond(
        request,
        reply,
        async (tx) => ({ status: 201, body: await consents.record(tenantId, subjectId, request.body, tx) }),
        // The answer holds decrypted evidence: keep only the event ids, and present the events again on replay.
        {
          store: (body) => ({ event_ids: body.events.map((e) => e.id) }),
          replay: (stored) => consents.recorded(tenantId, subjectId, (stored as { event_ids: string[] }).event_ids),
        },
      );
    },
  );

  app.get(
    '/v1/subjects/:id/consents',
    {
      config: { scopes: ['consents:read'] },
      schema: {
        operationId: 'getConsentState',
        tags: ['consents'],
        summary: 'Current consent per purpose',
        description:
          'For each purpose the subject ever decided on: granted or withdrawn, since when (the occurred_at of the decision in force) and for which purpose version. Objections and restriction are on the subject itself; the check endpoint combines everything.',
        params: SubjectParams,
        response: { 200: ConsentStateSchema, ...problems(404) },
      },
    },
    async (request) => consents.state(principalOf(request).tenantId, request.params.id),
  );

  app.get(
    '/v1/subjects/:id/consents/history',
    {
      config: { scopes: ['consents:read'] },
      schema: {
        operationId: 'listConsentHistory',
        tags: ['consents'],
        summary: 'The consent ledger',
        description: "The subject's ledger in recording order, each event with its evidence, hash and prev_hash, cursor-paginated.",
        params: SubjectParams,
        querystring: PageQuery,
        response: { 200: ConsentHistorySchema, ...problems(404) },
      },
    },
    async (request) => consents.history(principalOf(request).tenantId, request.params.id, request.query),
  );

  app.get(
    '/v1/subjects/:id/consents/verify',
    {
      config: { scopes: ['consents:read'] },
      schema: {
        operationId: 'verifyConsentLedger',
        tags: ['consents'],
        summary: "Verify the subject's hash chain",
        description:
          'Recomputes every hash of the ledger from the stored rows. `valid` is false when any row was changed, removed or reordered behind the service, and `first_invalid` names the first event that does not match.',
        params: SubjectParams,
        response: { 200: VerifyResultSchema, ...problems(404) },
      },
    },
    async (request) => consents.verify(principalOf(request).tenantId, request.params.id),
  );

  app.post(
    '/v1/subjects/:id/objections',
    {
      config: { scopes: ['consents:write'] },
      schema: {
        operationId: 'recordObjection',
        tags: ['consents'],
        summary: 'Record an objection (Art. 21 / 22)',
        description:
          'scope direct_marketing: from now on every direct-marketing purpose is blocked for the subject, whatever the consent state (Art. 21(3)). scope automated_decisions: the subject objects to automated decisions and profiling (Art. 22). Answers 201 when the objection is new and 200 when it was already recorded (the first time is kept). The identifiers of the subject are in the answer only when the token also holds subjects:read.',
        params: SubjectParams,
        headers: IdempotencyHeaders,
        body: ObjectionBody,
        response: {
          200: SubjectSchema.describe('The objection was already recorded; nothing changed'),
          201: SubjectSchema.describe('The objection is recorded and in force from now'),
          ...problems(404, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { tenantId, scopes } = principalOf(request);
      const answer = await idempotency.respond(
        request,
        reply,
        async (tx) => {
          const { created, subject } = await consents.object(tenantId, request.params.id, request.body.scope, request.body.occurred_at, tx);
          return { status: created ? 201 : 200, body: subject };
        },
        { store: (subject) => ({ id: subject.id }), replay: (stored) => app.services.subjects.get(tenantId, (stored as { id: string }).id) },
      );
      return visibleSubject(scopes, answer);
    },
  );

  app.post(
    '/v1/consents/check',
    {
      config: { scopes: ['consents:read'] },
      bodyLimit: app.config.http.bulkBodyLimit,
      schema: {
        operationId: 'checkConsents',
        tags: ['consents'],
        summary: 'May these people be contacted for a purpose?',
        description:
          "The campaign hot path, to call before every send: for up to 10,000 identifiers, in the order asked, `allowed` and a `reason`. Reasons, in the order they are decided: unknown_subject (no subject has the identifier, it cannot be normalised, or the subject was erased), restricted (Art. 18), objected (an Art. 21 objection for a direct-marketing purpose, or an Art. 22 objection for an automated-decision purpose), legal_basis (allowed: the purpose does not rest on consent), consent_granted, consent_withdrawn, no_consent. An unknown purpose is a 404. Bodies up to 1 MiB.",
        body: CheckBody,
        response: { 200: CheckResultSchema, ...problems(404, 413, 415) },
      },
    },
    async (request) => consents.check(tenantOf(request), request.body.purpose, request.body.identifiers),
  );
};
export default routes;
