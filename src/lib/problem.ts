// RFC 9457 problem details: the body of every error response, and its zod schema for the contract.
import { z } from 'zod';

export type Problem = {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string }[];
  /** For NOT_READY: which dependency answered. */
  checks?: Record<string, string>;
};

export function problem(status: number, code: string, title: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: `urn:rightful:problem:${code.toLowerCase().replace(/_/g, '-')}`, title, status, code, detail, ...extra };
}

export const ProblemSchema = z
  .object({
    type: z.string().describe('A URN naming the kind of problem, stable across releases'),
    title: z.string().describe('Short human-readable summary of the kind of problem'),
    status: z.number().int().describe('The HTTP status code'),
    code: z.string().describe('Stable machine-readable code, e.g. VALIDATION_FAILED, NOT_FOUND, IDEMPOTENCY_KEY_REUSED'),
    detail: z.string().describe('What went wrong with this request, without personal data'),
    instance: z.string().optional().describe('The request path; for an unknown route "(no route)", and for a route whose path holds a token, its pattern (the token is a credential and is not echoed)'),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('For VALIDATION_FAILED: every field at fault and why'),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem details object (media type application/problem+json).' });

/** The request path as logs and problem bodies show it: ids yes (they are not personal data), but not what an
 * unknown path holds (a client may have typed anything into it, an email included) and not the tokens that are
 * credentials in their routes' paths (task callbacks, download links, unsubscribe links), whose route pattern is
 * shown instead. Never the query string (INV-6). */
export function shownPath(req: { url: string; routeOptions?: { url?: string } }): string {
  const pattern = req.routeOptions?.url;
  if (!pattern) return '(no route)';
  return pattern.includes(':token') ? pattern : req.url.split('?')[0]!;
}
