import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { IdempotencyHeaders, PageQuery, problems } from '../../lib/schemas.js';
import { tenantOf } from '../tenants/index.js';
import {
  CreateRequestBody,
  RequestEventListSchema,
  RequestListQuery,
  RequestListSchema,
  RequestParams,
  RequestSchema,
  StatsSchema,
  TransitionBodies,
} from './rights-requests.schemas.js';
import { TRANSITION_ACTIONS, TRANSITIONS, transitionSentence } from './rights-requests.transitions.js';

const tags = ['rights-requests'];

const routes: FastifyPluginAsyncZod = async (app) => {
  const { rightsRequests: service, idempotency } = app.services;

  app.post(
    '/v1/rights-requests',
    {
      config: { scopes: ['requests:write'] },
      schema: {
        operationId: 'createRightsRequest',
        tags,
        summary: 'Open a rights request',
        description:
          "Records a request for one of the rights (access, rectification, erasure, restriction, portability, objection, automated_decision, information), received orally or in writing, and computes its legal deadline: due_date (the last day to answer, in the tenant's time zone) and due_at (the end of that day). received_at may be in the past (a letter opened late); reminders whose time has already passed are sent at once. Immediate effects: an objection to direct marketing is recorded at once (every direct-marketing purpose, or those named) and the request completes; an objection to processing (Art. 21(1)) records pending objections to the purposes named and stays open for the assessment (restrict_meanwhile sets the restricted flag until it is decided); automated_decision sets the Art. 22 flag and stays open for the human review; restriction (with its Art. 18(1) ground) sets the restricted flag and tells every system that handles restriction, and every recipient (restriction.requested; the request completes when they have all answered); erasure and rectification (with its `corrections`) wait in awaiting_approval for the DPO (request.review_required); information attaches the privacy notice in the person's locale and stays open until the notice is recorded as sent (complete). An unknown person given by identifiers becomes a new subject.",
        headers: IdempotencyHeaders,
        body: CreateRequestBody,
        response: { 201: RequestSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const ctx = tenantOf(request);
      const actor = principalOf(request);
      return idempotency.respond(
        request,
        reply,
        async (tx) => ({ status: 201, body: await service.create(ctx, actor, request.body, tx) }),
        // The answer can hold decrypted details: keep only the id, and present the request again on replay.
        { store: (r) => ({ id: r.id }), replay: (stored) => service.get(ctx.id, (stored as { id: string }).id) },
      );
    },
  );

  app.get(
    '/v1/rights-requests',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'listRightsRequests',
        tags,
        summary: 'List rights requests',
        description: 'Newest first, cursor-paginated, filtered by status, type, subject, assignee, overdue and due date.',
        querystring: RequestListQuery,
        response: { 200: RequestListSchema, ...problems() },
      },
    },
    async (request) => {
      const q = request.query;
      return service.list(
        principalOf(request).tenantId,
        {
          status: q.status,
          type: q.type,
          subjectId: q.subject_id,
          assignee: q.assignee,
          overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
          dueBefore: q.due_before,
        },
        q,
      );
    },
  );

  app.get(
    '/v1/rights-requests/stats',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'getRightsRequestStats',
        tags,
        summary: "The DPO's morning view",
        description: 'Open requests by status and by type, how many are overdue, and how many fall due in the next 7 days.',
        response: { 200: StatsSchema, ...problems() },
      },
    },
    async (request) => service.stats(principalOf(request).tenantId),
  );

  app.get(
    '/v1/rights-requests/:id',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'getRightsRequest',
        tags,
        summary: 'Get a rights request',
        description: 'The request, its state and its deadline.',
        params: RequestParams,
        response: { 200: RequestSchema, ...problems(404) },
      },
    },
    async (request) => service.get(principalOf(request).tenantId, request.params.id),
  );

  app.get(
    '/v1/rights-requests/:id/events',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'listRightsRequestEvents',
        tags,
        summary: 'The audit trail',
        description: 'Every transition and comment of the request, in order: what, from which status to which, when it happened, when it was recorded and by which client.',
        params: RequestParams,
        querystring: PageQuery,
        response: { 200: RequestEventListSchema, ...problems(404) },
      },
    },
    async (request) => service.events(principalOf(request).tenantId, request.params.id, request.query),
  );

  for (const action of TRANSITION_ACTIONS) {
    const t = TRANSITIONS[action];
    const { operationId, summary, description } = t;
    app.post(
      `/v1/rights-requests/:id/${action}`,
      {
        config: { scopes: ['scope' in t ? t.scope : 'requests:write'] },
        schema: {
          operationId,
          summary,
          description: `${transitionSentence(action)} ${description} Takes an optional \`at\` (not in the future, not before the previous transition) to record what happened on paper or by phone; a transition the state does not allow is a 409 TRANSITION_NOT_ALLOWED.`,
          tags,
          params: RequestParams,
          body: TransitionBodies[action],
          response: { 200: RequestSchema, ...problems(404, 409, 413, 415, 422) },
        },
      },
      async (request) => service.transition(principalOf(request), request.params.id, action, request.body, tenantOf(request)),
    );
  }
};
export default routes;
