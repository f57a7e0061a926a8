import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { problems } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import { RequestParams } from '../rights-requests/rights-requests.schemas.js';
import {
  CallbackAnswerSchema,
  CallbackBody,
  CallbackParams,
  RecipientsSchema,
  TASK_ACTIONS,
  TaskActionBodies,
  TaskListSchema,
  TaskParams,
  TaskSchema,
} from './tasks.schemas.js';
import { TASK_TRANSITIONS } from './tasks.service.js';

const tags = ['rights-requests'];

const ACTION_TEXT = {
  acknowledge: 'The system has the task in hand.',
  complete:
    'The system has done it (a failed task may be completed once it was done by other means; an exempt one once the system erased what it kept, before the end date: the task is then never reopened).',
  fail: 'The system could not do it, with the reason; the DPO may retry it, exempt it, or complete the request with the failure recorded.',
  exempt:
    "The DPO keeps data in this system under an Art. 17(3) ground, for the categories and until the date named (erasure tasks only); an exempt task may be exempt again with other terms. `until` must be after today in the controller's time zone (a 400 naming `until` otherwise); when it is over, Rightful reopens the task and sends it to the system (Art. 17(3)(b)). Once the person is erased, an exemption until a date is refused (409) for a task that kept nothing to find them by. Art. 19: a recipient's task (rectification, erasure, restriction or its lifting) may instead be exempt on `art19_impossible` or `art19_disproportionate_effort` with the reason why, which the DPO must record (409 for a system that is not a recipient or processor); the request is not partial for it.",
  retry: 'Sends a failed task again, with a new callback link (the old one stops working).',
} as const;

const routes: FastifyPluginAsyncZod = async (app) => {
  const { tasks } = app.services;

  app.get(
    '/v1/rights-requests/:id/tasks',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'listRequestTasks',
        tags,
        summary: "The connected systems' tasks of a request",
        description:
          'One task per system told of the request (erasure, rectification, restriction and its lifting: every system that handles it and every recipient), with its status, exemption, when it was sent and answered. Each change is also in the request audit trail.',
        params: RequestParams,
        response: { 200: TaskListSchema, ...problems(404) },
      },
    },
    async (request) => tasks.list(principalOf(request).tenantId, request.params.id),
  );

  app.get(
    '/v1/rights-requests/:id/recipients',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'listRequestRecipients',
        tags,
        summary: 'The recipients told of a request (Art. 19)',
        description:
          'Every recipient the data was disclosed to (processors included, Art. 4(9)) that was told of this erasure, rectification or restriction: when and how it was told and what it answered — the list the person may ask for (Art. 19).',
        params: RequestParams,
        response: { 200: RecipientsSchema, ...problems(404) },
      },
    },
    async (request) => tasks.recipients(principalOf(request).tenantId, request.params.id),
  );

  for (const action of TASK_ACTIONS) {
    const rule = TASK_TRANSITIONS[action];
    app.post(
      `/v1/rights-requests/:id/tasks/:task_id/${action}`,
      {
        config: { scopes: [action === 'exempt' || action === 'retry' ? 'requests:admin' : 'requests:write'] },
        schema: {
          operationId: `${action}Task`,
          tags,
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a system task`,
          description: `${ACTION_TEXT[action]} From ${rule.from.join(', ')} to ${rule.to}; otherwise a 409 TASK_TRANSITION_NOT_ALLOWED.${action === 'exempt' || action === 'retry' ? ' Scope requests:admin.' : ''} When the last open task of an approved erasure or rectification, or of a restriction in progress, closes, the request completes (an erasure once Rightful has erased its own copy).`,
          params: TaskParams,
          body: TaskActionBodies[action],
          response: { 200: TaskSchema, ...problems(404, 409, 413, 415) },
        },
      },
      async (request) => tasks.transition(principalOf(request), request.params.id, request.params.task_id, action, request.body as never),
    );
  }

  app.post(
    '/v1/task-callbacks/:token',
    {
      schema: {
        operationId: 'answerTaskCallback',
        tags,
        summary: 'A system answers its task (no service token)',
        description:
          'The link each system is sent with its task: `acknowledged` (any number of times), then one final answer, `completed` or `failed` (with a reason). The token in the path is bound to the task and to its current send: a retried task gets a new one. An unknown or superseded link is a 404 CALLBACK_NOT_FOUND; a link already used for a final answer is a 409 CALLBACK_USED.',
        security: [],
        params: CallbackParams,
        body: CallbackBody,
        response: { 200: CallbackAnswerSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) => tasks.callback(request.params.token, request.body),
  );
};
export default routes;
