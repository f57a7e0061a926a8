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
  ObjectionListSchema,
  ObjectionResultSchema,
  SoftOptInBody,
  SoftOptInSchema,
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
          "Appends grants and withdrawals to the subject's ledger, in the order given, and updates the current state in the same transaction. Withdrawing is one call, as easy as granting, and takes effect at once. `source` says how the decision was collected; `evidence` (IP, user agent, form, collector, the text shown) is encrypted at rest. A grant must prove how it was given (Art. 7(1)): evidence.form_id for web_form and api, evidence.collected_by for crm_user, verbal and written, evidence.proof_reference for import — else a 422 CONSENT_PROOF_MISSING naming the field; what was shown is the purpose_version (default: the current one) and, when given, evidence.text_shown. A grant for a purpose whose legal basis is not consent is a 422 CONSENT_NOT_APPLICABLE. A withdrawal from a direct-marketing purpose on another basis is recorded, and also as an Art. 21(2) objection to that purpose (the check answers objected); from any other purpose on another basis it is a 422 CONSENT_NOT_APPLICABLE pointing to the objection. An unknown purpose is a 422 UNKNOWN_PURPOSE.",
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
          "Recomputes every hash of the ledger from the stored rows. `status` is `valid` when the chain recomputes and its tip is the head kept on the subject (an erased subject's ledger stays, unreadable, and still verifies); `broken` when any row was changed, removed or reordered behind the service, and `first_invalid` names the first event that does not match; `purged` when the subject was erased and its ledger deleted at the end of the tenant's accountability period (Art. 5(1)(e), 5(2)): `valid` is then false, `events_checked` 0, and `purged` gives when it was erased and purged and the chain's length and head hash as they stood, so a head hash kept elsewhere can still be matched. Every other route answers 404 for a purged subject.",
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
          'scope direct_marketing without purposes: from now on every direct-marketing purpose is blocked for the subject, whatever the consent state and legal basis (Art. 21(2)-(3)); with purposes: those purposes, at once. scope processing with purposes (Art. 21(1), processing on legitimate interests or public task): opens a rights request of type objection (request_id; channel says how it came in) and records pending objections; the controller assesses them within the deadline: completing the request upholds them (those purposes answer objected), rejecting it with the ground art21_1_compelling_grounds and reasons refuses them (an objection naming a direct-marketing purpose is upheld at once whatever its scope). A purpose on another basis is a 422 OBJECTION_NOT_APPLICABLE. scope automated_decisions: the subject objects to automated decisions and profiling (Art. 22). Answers 201 when something new was recorded and 200 when all of it was already recorded (the first time is kept). The identifiers of the subject are in the answer only when the token also holds subjects:read.',
        params: SubjectParams,
        headers: IdempotencyHeaders,
        body: ObjectionBody,
        response: {
          200: ObjectionResultSchema.describe('The objection was already recorded; nothing changed'),
          201: ObjectionResultSchema.describe('The objection is recorded: in force from now, or pending assessment'),
          ...problems(404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { tenantId, scopes } = principal;
      const { id } = request.params;
      const body = request.body;
      const answer = await idempotency.respond(
        request,
        reply,
        async (tx) => {
          if (body.scope === 'processing') {
            // Art. 21(1) is assessed within the legal deadline, with an audit trail: the objection is a rights request.
            const opened = await app.services.rightsRequests.create(
              tenantOf(request),
              principal,
              { subject: { id }, type: 'objection', channel: body.channel ?? 'web', objection: { scope: 'processing', purposes: body.purposes }, received_at: body.occurred_at },
              tx,
            );
            const objections = await consents.objectionsOfRequest(tenantId, opened.id, tx);
            return { status: 201, body: { subject: await app.services.subjects.get(tenantId, id, tx), objections, request_id: opened.id as string | null } };
          }
          const { created, subject, objections } = await consents.object(tenantId, id, body, tx);
          return { status: created ? 201 : 200, body: { subject, objections, request_id: null } };
        },
        // The answer holds decrypted identifiers: keep the ids, and present the subject and its objections again.
        {
          store: (b) => ({ id: b.subject.id, objection_ids: b.objections.map((o) => o.id), request_id: b.request_id }),
          replay: async (stored) => {
            const s = stored as { id: string; objection_ids: string[]; request_id: string | null };
            const all = await consents.objections(tenantId, s.id);
            return {
              subject: await app.services.subjects.get(tenantId, s.id),
              objections: all.items.filter((o) => s.objection_ids.includes(o.id)),
              request_id: s.request_id ?? null,
            };
          },
        },
      );
      return { ...answer, subject: visibleSubject(scopes, answer.subject) };
    },
  );

  app.get(
    '/v1/subjects/:id/objections',
    {
      config: { scopes: ['consents:read'] },
      schema: {
        operationId: 'listObjections',
        tags: ['consents'],
        summary: "The subject's objections",
        description:
          'The objection to every direct-marketing purpose (Art. 21(2)) and to automated decisions (Art. 22) as flags, and each objection to a single purpose with its status: upheld (the purpose answers objected), pending (Art. 21(1), being assessed) or refused (compelling legitimate grounds shown).',
        params: SubjectParams,
        response: { 200: ObjectionListSchema, ...problems(404) },
      },
    },
    async (request) => consents.objections(principalOf(request).tenantId, request.params.id),
  );

  app.post(
    '/v1/subjects/:id/soft-opt-ins',
    {
      config: { scopes: ['consents:write'] },
      schema: {
        operationId: 'recordSoftOptIn',
        tags: ['consents'],
        summary: 'Record a soft opt-in (ePrivacy Art. 13(2))',
        description:
          "For a direct-marketing purpose on a basis other than consent that uses email or SMS: the person is an existing customer (relationship_ref names the sale), the purpose markets the controller's own similar products, and an opt-out was offered when the details were collected. Without one, the campaign check answers no_consent for such a purpose. Recording it again renews it. A purpose that is consent-based or not direct marketing is a 422 CONSENT_NOT_APPLICABLE. An objection still blocks.",
        params: SubjectParams,
        body: SoftOptInBody,
        response: { 201: SoftOptInSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return consents.recordSoftOptIn(principalOf(request).tenantId, request.params.id, request.body);
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
          "The campaign hot path, to call before every send: for up to 10,000 identifiers, in the order asked, `allowed` and a `reason`. Reasons, in the order they are decided: unknown_subject (no subject has the identifier, it cannot be normalised, or the subject was erased), suppressed (a direct-marketing purpose and an identifier of an erased person on the suppression list, Art. 21(3), until a grant recorded after the erasure), erasure_pending (an erasure request of the person is open, Art. 17), restricted (Art. 18), objected (an objection to all direct marketing for a direct-marketing purpose, an upheld objection to this purpose, Art. 21, or an Art. 22 objection for an automated-decision purpose), reconsent_needed (consent was granted for a version older than the latest one marked as needing fresh consent), consent_granted, consent_withdrawn, no_consent (never granted; or email/SMS direct marketing on another basis without a soft opt-in, ePrivacy Art. 13(2)), request_only (a purpose on another basis for a person known only from a rights request, Art. 5(1)(b)), legal_basis (allowed: the purpose does not rest on consent). An unknown purpose is a 404. Bodies up to 1 MiB.",
        body: CheckBody,
        response: { 200: CheckResultSchema, ...problems(404, 413, 415) },
      },
    },
    async (request) => consents.check(tenantOf(request), request.body.purpose, request.body.identifiers),
  );
};
export default routes;
