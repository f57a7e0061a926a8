// The cross-cutting error catalogue: stable codes a CRM can branch on. Modules add their own in <module>.errors.ts.
import createError from '@fastify/error';

export const NotFound = createError<'NOT_FOUND', 404, [string]>('NOT_FOUND', '%s was not found', 404);
export const Unauthorized = createError<'UNAUTHORIZED', 401, [string]>('UNAUTHORIZED', '%s', 401);
export const Forbidden = createError<'FORBIDDEN', 403, [string]>('FORBIDDEN', '%s', 403);
export const BadRequest = createError<'BAD_REQUEST', 400, [string]>('BAD_REQUEST', '%s', 400);
export const Conflict = createError<'CONFLICT', 409, [string]>('CONFLICT', '%s', 409);
export const Unprocessable = createError<'UNPROCESSABLE', 422, [string]>('UNPROCESSABLE', '%s', 422);
export const IdempotencyKeyReused = createError<'IDEMPOTENCY_KEY_REUSED', 409, []>(
  'IDEMPOTENCY_KEY_REUSED',
  'This Idempotency-Key was already used with a different request body',
  409,
);
export const IdempotencyKeyInFlight = createError<'IDEMPOTENCY_KEY_IN_FLIGHT', 409, []>(
  'IDEMPOTENCY_KEY_IN_FLIGHT',
  'A request with this Idempotency-Key is still being processed; retry shortly',
  409,
);
export const ServiceUnavailable = createError<'SERVICE_UNAVAILABLE', 503, [string]>('SERVICE_UNAVAILABLE', '%s', 503);

/** A validation problem about one field, as it appears in a 400 problem's `errors` list. */
export type FieldProblem = { field: string; message: string };

/** A 400 that names each field at fault; raised by the body guard and by services for checks zod cannot express. */
export class ValidationFailed extends Error {
  readonly code = 'VALIDATION_FAILED';
  readonly statusCode = 400;
  constructor(readonly errors: FieldProblem[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}
