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
  type TransitionAction,
} from './rights-requests.schemas.js';

const tags = ['rights-requests'];

const TRANSITIONS: Record<TransitionAction, { operationId: string; summary: string; description: string }> = {
  'request-identity': {
    operationId: 'requestIdentityProof',
    summary: 'Ask for proof of identity',
    description:
      'From received or in_progress to awaiting_identity. Under the tenant policy eu the clock pauses until identity-verified; under uk the month restarts from the day the proof arrives.',
  },
  'identity-verified': {
    operationId: 'recordIdentityVerified',
    summary: 'Record that identity is proven',
    description: 'From awaiting_identity to in_progress; the clock runs again (eu: the days waited are added to the deadline; uk: one month from this day).',
  },
  'request-clarification': {
    operationId: 'requestClarification',
    summary: 'Ask the subject to clarify the scope',
    description: 'For a large request: the clock pauses until clarification-received (the status does not change; `paused` is true).',
  },
  'clarification-received': {
    operationId: 'recordClarificationReceived',
    summary: 'Record the clarification',
    description: 'Ends the clarification pause. The days paused are added to the deadline: policy eu counts the days between the two dates exclusively, uk inclusively.',
  },
  extend: {
    operationId: 'extendRightsRequest',
    summary: 'Extend the deadline (Art. 12(3))',
    description:
      'Once only, with a reason, and only before the first month has run out: the new deadline is three months from the start (moved to a working day). The subject must be told within the first month.',
  },
  reject: {
    operationId: 'rejectRightsRequest',
    summary: 'Refuse the request',
    description: 'With a ground (manifestly_unfounded, excessive, identity_not_verified, legal_exemption) and a detail; closes the request and cancels its reminders.',
  },
  complete: {
    operationId: 'completeRightsRequest',
    summary: 'Complete the request',
    description:
      'With a resolution note; closes the request and cancels its reminders. For an automated_decision request this records the human review. Refused while identity or a clarification is awaited.',
  },
  withdraw: {
    operationId: 'withdrawRightsRequest',
    summary: 'The subject withdrew the request',
    description: 'Closes the request and cancels its reminders.',
  },
  assign: {
    operationId: 'assignRightsRequest',
    summary: 'Assign the request',
    description: 'Sets (or with null clears) who handles it; assigning a received request puts it in progress.',
  },
  comment: {
    operationId: 'commentRightsRequest',
    summary: 'Add a comment to the audit trail',
    description: 'Adds a note (stored encrypted) to the audit trail; the state does not change.',
  },
};

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
          "Records a request for one of the rights (access, rectification, erasure, restriction, portability, objection, automated_decision, information), received orally or in writing, and computes its legal deadline: due_date (the last day to answer, in the tenant's time zone) and due_at (the end of that day). received_at may be in the past (a letter opened late); reminders whose time has already passed are sent at once. Immediate effects: objection sets the direct-marketing objection and completes; automated_decision sets the Art. 22 flag and stays open for the human review; restriction sets the restricted flag; information completes with the privacy notice attached. An unknown person given by identifiers becomes a new subject.",
        headers: IdempotencyHeaders,
        body: CreateRequestBody,
        response: { 201: RequestSchema, ...problems(404, 409, 413, 415) },
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

  for (const [action, doc] of Object.entries(TRANSITIONS) as [TransitionAction, (typeof TRANSITIONS)[TransitionAction]][]) {
    app.post(
      `/v1/rights-requests/:id/${action}`,
      {
        config: { scopes: ['requests:write'] },
        schema: {
          ...doc,
          description: `${doc.description} Takes an optional \`at\` (not in the future, not before the previous transition) to record what happened on paper or by phone; a transition the state does not allow is a 409 TRANSITION_NOT_ALLOWED.`,
          tags,
          params: RequestParams,
          body: TransitionBodies[action],
          response: { 200: RequestSchema, ...problems(404, 409, 413, 415) },
        },
      },
      async (request) => service.transition(principalOf(request), request.params.id, action, request.body as Record<string, string>),
    );
  }
};
export default routes;
