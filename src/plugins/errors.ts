// One error model: every error leaves as application/problem+json (RFC 9457) with a stable `code`.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ValidationFailed, type FieldProblem } from '../lib/errors.js';
import { problem, type Problem } from '../lib/problem.js';

// Postgres/pg failures that mean "the database is unavailable right now", not "your request is wrong".
const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '08000', '08003', '08006', '08001', '08004']);
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Query read timeout|Client has encountered a connection error|Connection ended unexpectedly/i;

type Cause = { code?: unknown; message?: string; cause?: unknown };

/** The driver error that says the database is unavailable, if any. Drizzle wraps pg errors of non-transaction
 * queries in a DrizzleQueryError ("Failed query: ... params: ...") with the pg error as its `cause`. */
function databaseUnavailableCause(err: Cause): Cause | null {
  let e: Cause | undefined = err;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as Cause | undefined) {
    if (typeof e.code === 'string' && (UNAVAILABLE_PG_CODES.has(e.code) || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET')) return e;
    if (UNAVAILABLE_MESSAGES.test(e.message ?? '')) return e;
    if (typeof e.cause !== 'object' || e.cause === null) break;
  }
  return null;
}

const MAX_FIELD_PROBLEMS = 50;

function fieldName(path: string): string {
  // Empty segments dropped: an unknown key at the root arrives as '' + '/' + key and must read `key`, not `.key`.
  return path.split('/').filter(Boolean).join('.') || '(body)';
}

function toProblem(err: FastifyError & { errors?: FieldProblem[] }, request: FastifyRequest): Problem {
  if (err instanceof ValidationFailed) {
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid', err.message, { errors: err.errors });
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    // Body fields are named by their path (decisions.0.source); other parts are prefixed (query.limit, headers.x).
    const where = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
    const name = (path: string) => [where === 'body' ? '' : where, fieldName(path) === '(body)' ? '' : fieldName(path)].filter(Boolean).join('.') || '(body)';
    const flat = err.validation.flatMap((v) => {
      const keys = (v.params as { keys?: unknown }).keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
        return keys.map((k) => ({ field: name(`${v.instancePath}/${String(k)}`), message: 'is not a known field' }));
      }
      return [{ field: name(v.instancePath), message: v.message ?? 'is invalid' }];
    });
    // Bounded: a body with 10,000 unknown keys must not get an answer many times its own size.
    const shown = flat.slice(0, MAX_FIELD_PROBLEMS);
    const more = flat.length > shown.length ? `; and ${flat.length - shown.length} more` : '';
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid', shown.map((e) => `${e.field}: ${e.message}`).join('; ') + more, { errors: shown });
  }
  const code = typeof err.code === 'string' ? err.code : '';
  if (code.startsWith('FST_JWT') || code === 'UNAUTHORIZED') {
    return problem(401, 'UNAUTHORIZED', 'Authentication required', code === 'UNAUTHORIZED' ? err.message : 'The bearer token is missing or not valid');
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return problem(413, 'PAYLOAD_TOO_LARGE', 'Request body too large', err.message);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 'Send the body as application/json');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return problem(400, 'MALFORMED_JSON', 'Malformed JSON', 'The request body is empty or not valid JSON');
  }
  if (err.statusCode === 429) {
    return problem(429, 'RATE_LIMITED', 'Too many requests', 'This client has sent too many requests; retry after the time in Retry-After');
  }
  const unavailable = databaseUnavailableCause(err);
  if (unavailable) {
    // The driver's message only: a wrapper's message holds the query parameters.
    request.log.warn({ err: { message: unavailable.message, code: unavailable.code } }, 'database unavailable');
    return problem(503, 'DATABASE_UNAVAILABLE', 'Service temporarily unavailable', 'The database is not reachable; retry shortly');
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500 && code) {
    return problem(status, code.replace(/^FST_ERR_/, ''), titleFor(status), err.message);
  }
  if (status === 503) return problem(503, code || 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable', err.message);
  // Not the message: a query wrapper's message carries the query's parameters, which may be personal data.
  const cause = err.cause as { code?: unknown; name?: string } | undefined;
  request.log.error(
    { err: { name: err.name, code: err.code, stack: err.stack?.split('\n').slice(1).join('\n'), cause: cause && { name: cause.name, code: cause.code } } },
    'unhandled error',
  );
  return problem(500, 'INTERNAL', 'Internal server error', 'An unexpected error occurred; the request id identifies it in the logs');
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
};
function titleFor(status: number): string {
  return TITLES[status] ?? 'Request failed';
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 503 || p.status === 429) reply.header('retry-after', reply.getHeader('retry-after') ?? '5');
  return reply.code(p.status).type('application/problem+json').serializer(JSON.stringify).send({ ...p, instance: reply.request.url.split('?')[0] });
}

/** Errors Fastify's router raises before any route or hook runs (a malformed URL, an over-long path parameter):
 * passed as the `frameworkErrors` option so they leave as problems too instead of Fastify's plain JSON. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header('x-request-id', request.id);
  const p =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? // No id or key is that long, so nothing is there: the same 404 as any unknown id (Fastify's default is a 414).
        problem(404, 'NOT_FOUND', 'Not found', 'No resource has an id or key that long')
      : err.code === 'FST_ERR_BAD_URL'
        ? problem(400, 'BAD_URL', 'Bad request', 'The URL is not validly percent-encoded')
        : toProblem(err, request);
  return sendProblem(reply, p);
}

export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, request, reply) => sendProblem(reply, toProblem(err, request)));
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, problem(404, 'ROUTE_NOT_FOUND', 'Not found', `No route ${request.method} ${request.url.split('?')[0]}`)),
    );
  },
  { name: 'errors' },
);
