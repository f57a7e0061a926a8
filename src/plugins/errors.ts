// One error model: every error leaves as application/problem+json (RFC 9457) with a stable `code`.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ValidationFailed, type FieldProblem } from '../lib/errors.js';
import { problem, shownPath, type Problem } from '../lib/problem.js';

// Postgres/pg failures that mean "the database is unavailable right now", not "your request is wrong".
const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '08000', '08003', '08006', '08001', '08004']);
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Query read timeout|Client has encountered a connection error|Connection ended unexpectedly/i;

type Cause = { name?: unknown; code?: unknown; message?: string; cause?: unknown; query?: unknown; params?: unknown };

/** A query wrapper (Drizzle's DrizzleQueryError: "Failed query: <sql> params: <values>") carries the query's
 * parameters in its message; its message is never read or logged, only its driver cause. */
function isQueryWrapper(e: Cause): boolean {
  return 'params' in e || 'query' in e;
}

/** The driver error that says the database is unavailable, if any, and the fixed phrase or code that says so.
 * Drizzle wraps pg errors in a DrizzleQueryError with the pg error as its `cause`. */
function databaseUnavailableCause(err: Cause): { cause: Cause; reason: string } | null {
  let e: Cause | undefined = err;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as Cause | undefined) {
    if (typeof e.code === 'string' && (UNAVAILABLE_PG_CODES.has(e.code) || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET')) return { cause: e, reason: e.code };
    // Only a driver's own message: a wrapper's message holds parameter values, which could read like a failure.
    const phrase = isQueryWrapper(e) ? null : UNAVAILABLE_MESSAGES.exec(e.message ?? '');
    if (phrase) return { cause: e, reason: phrase[0] };
    if (typeof e.cause !== 'object' || e.cause === null) break;
  }
  return null;
}

// pg DatabaseError fields that name the schema and the failure, never the data: `detail` ("Failing row contains
// (...)"), `where`, `hint`, `internalQuery` and the message can all quote values, so they are left out.
const SAFE_PG_FIELDS = ['severity', 'routine', 'constraint', 'table', 'column'] as const;

const short = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v).slice(0, 100) : undefined);

/** What a log may say about an error: its name, code and the pg fields above; for a cause chain the same. */
function loggableError(e: Cause, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: loggableName(e), code: short(e.code) };
  for (const f of SAFE_PG_FIELDS) {
    const v = short((e as Record<string, unknown>)[f]);
    if (v !== undefined) out[f] = v;
  }
  if (depth < 5 && typeof e.cause === 'object' && e.cause !== null) out.cause = loggableError(e.cause as Cause, depth + 1);
  return out;
}

function loggableName(e: Cause): string | undefined {
  const name = short(e.name);
  // DrizzleQueryError keeps the name "Error"; the class name says more.
  const ctor = (e as { constructor?: { name?: unknown } }).constructor?.name;
  return name === 'Error' && typeof ctor === 'string' && ctor !== 'Object' ? ctor : name;
}

/** Stack frames only. The stack opens with the message, and a driver's message runs over several lines (a
 * wrapper's `params: ...` line among them, whose values may themselves hold a newline and "    at "): what
 * follows the message is kept, and of that only the lines that are frames. */
function stackFrames(e: { stack?: unknown; message?: unknown }): string | undefined {
  if (typeof e.stack !== 'string') return undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  const after = message ? e.stack.indexOf(message) : -1;
  return (after >= 0 ? e.stack.slice(after + message.length) : e.stack)
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 50)
    .join('\n');
}

const MAX_FIELD_PROBLEMS = 50;
// A field is named by its path, and a path holds the caller's keys: an unknown key of 5,000 characters must not
// come back whole. Segments and whole names are cut, and messages too (ours are short; a longer one is not).
const MAX_SEGMENT = 64;
const MAX_FIELD = 160;
const MAX_MESSAGE = 200;

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  // Not between the halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

function fieldName(path: string): string {
  // Empty segments dropped: an unknown key at the root arrives as '' + '/' + key and must read `key`, not `.key`.
  return path.split('/').filter(Boolean).join('.') || '(body)';
}

function boundedName(field: string): string {
  return cut(field.split('.').map((segment) => cut(segment, MAX_SEGMENT)).join('.'), MAX_FIELD);
}

/** Field problems as they may leave: names and messages bounded, at most MAX_FIELD_PROBLEMS of them. */
function boundedProblems(all: FieldProblem[]): { shown: FieldProblem[]; detail: string } {
  const shown = all.slice(0, MAX_FIELD_PROBLEMS).map((e) => ({ field: boundedName(e.field), message: cut(e.message, MAX_MESSAGE) }));
  const more = all.length > shown.length ? `; and ${all.length - shown.length} more` : '';
  return { shown, detail: shown.map((e) => `${e.field}: ${e.message}`).join('; ') + more };
}

function toProblem(err: FastifyError & { errors?: FieldProblem[] }, request: FastifyRequest): Problem {
  if (err instanceof ValidationFailed) {
    // The body guard names keys it refuses (a NUL in a key), so these names are bounded too.
    const { shown, detail } = boundedProblems(err.errors);
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid', detail, { errors: shown });
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    // Body fields are named by their path (decisions.0.source); other parts are prefixed (query.limit, headers.x).
    const where = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
    const name = (path: string) => [where === 'body' ? '' : where, fieldName(path) === '(body)' ? '' : fieldName(path)].filter(Boolean).join('.') || '(body)';
    const flat = err.validation.flatMap((v): FieldProblem[] => {
      const keys = (v.params as { keys?: unknown }).keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
        return keys.map((k) => ({ field: name(`${v.instancePath}/${String(k)}`), message: 'is not a known field' }));
      }
      // zod's messages name the expected type or values, never the input; the one that quotes input (the list of
      // unrecognized keys) is replaced.
      const message = v.keyword === 'unrecognized_keys' ? 'holds fields that are not known' : (v.message ?? 'is invalid');
      return [{ field: name(v.instancePath), message }];
    });
    // Bounded: a body with 10,000 unknown keys must not get an answer many times its own size.
    const { shown, detail } = boundedProblems(flat);
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid', detail, { errors: shown });
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
    // The fixed phrase or code that matched, never a message: a wrapper's message holds the query parameters.
    request.log.warn({ err: { name: loggableName(unavailable.cause), code: short(unavailable.cause.code), reason: unavailable.reason } }, 'database unavailable');
    return problem(503, 'DATABASE_UNAVAILABLE', 'Service temporarily unavailable', 'The database is not reachable; retry shortly');
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500 && code) {
    return problem(status, code.replace(/^FST_ERR_/, ''), titleFor(status), err.message);
  }
  if (status === 503) return problem(503, code || 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable', err.message);
  // Not the message: a query wrapper's message carries the query's parameters, which may be personal data (INV-6).
  request.log.error({ err: { ...loggableError(err as Cause), stack: stackFrames(err) } }, 'unhandled error');
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
  return reply.code(p.status).type('application/problem+json').serializer(JSON.stringify).send({ ...p, instance: shownPath(reply.request) });
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
      // The path is not echoed: it may hold whatever a client typed into it (INV-6).
      sendProblem(reply, problem(404, 'ROUTE_NOT_FOUND', 'Not found', `No route answers ${request.method} on this path`)),
    );
  },
  { name: 'errors' },
);
