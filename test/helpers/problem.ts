// Assertions on problem responses shared by the security and fault tests.
import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';

type T = Pick<Test, 'equal' | 'match' | 'ok'>;

/** The response is `status`, application/problem+json, with a string `code` (and `code` itself when given). */
export function assertProblem(t: T, res: LightMyRequestResponse | { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code?: string, label = ''): Record<string, unknown> {
  const where = label ? `${label}: ` : '';
  t.equal(res.statusCode, status, `${where}status ${status} (body ${res.body.slice(0, 300)})`);
  t.match(String(res.headers['content-type'] ?? ''), /^application\/problem\+json/, `${where}problem+json`);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    t.ok(false, `${where}body is JSON`);
  }
  t.equal(typeof body.code, 'string', `${where}has a code`);
  t.equal(body.status, status, `${where}status in body`);
  if (code) t.equal(body.code, code, `${where}code ${code}`);
  return body;
}

export type FieldProblem = { field: string; message: string };

/** The `field`s of a validation problem's `errors`, in the order given (none: []). */
export function errorFields(body: Record<string, unknown>): string[] {
  return ((body.errors ?? []) as FieldProblem[]).map((e) => e.field);
}

/** The same, sorted. */
export function fields(body: Record<string, unknown>): string[] {
  return errorFields(body).sort();
}
