// Schemas shared by every module: ids, pagination, and the problem responses each operation documents.
import { z } from 'zod';
import { ProblemSchema } from './problem.js';

export const UuidSchema = z.uuid();

const PROBLEM_DESCRIPTIONS = {
  400: 'The request is malformed or invalid (VALIDATION_FAILED names every field at fault)',
  401: 'No token, or a token that is invalid, expired or revoked (UNAUTHORIZED)',
  403: "The token lacks this operation's scope (FORBIDDEN)",
  404: 'Not found in the caller\'s tenant (another tenant\'s ids answer 404 too)',
  409: 'Conflict with the current state, or an Idempotency-Key reused with a different body',
  413: 'The request body exceeds the size limit',
  415: 'The body is not application/json',
  422: 'Well-formed, but not allowed by the rules of the domain (the detail says which)',
  429: 'Rate limit reached; retry after Retry-After seconds',
  503: 'A dependency (Postgres, or the keys of the identity provider) is unavailable, or the service is overloaded; retry after Retry-After seconds',
} as const;
export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;

/** Problem responses for a route: the ones every authenticated route can give, plus those named. */
export function problems(...extra: ProblemStatus[]): Record<number, typeof ProblemSchema> {
  const statuses = new Set<ProblemStatus>([400, 401, 403, 429, 503, ...extra]);
  const out: Record<number, typeof ProblemSchema> = {};
  for (const s of [...statuses].sort()) out[s] = ProblemSchema.describe(PROBLEM_DESCRIPTIONS[s]);
  return out;
}

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'must be 1-255 printable ASCII characters')
    .optional()
    .describe('Makes the request safe to retry: the same key with the same body returns the first answer'),
});

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Items per page, 1-200'),
  cursor: z.string().max(200).optional().describe('The next_cursor of the previous page'),
});

export const PageMeta = z.object({ next_cursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page') });
