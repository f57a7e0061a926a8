// Every response the suite sees is held against the generated contract: its status, its media type and the
// headers the service sets must be documented for that operation. Attached by build(), so no test can add an
// undocumented answer without the suite failing.
import type { FastifyInstance } from 'fastify';

type Response = { content?: Record<string, unknown>; headers?: Record<string, { required?: boolean; $ref?: string }> };
type Spec = {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { headers?: Record<string, { required?: boolean }> };
};

// The headers this service sets itself (not the ones HTTP or Fastify always send).
const OWN_HEADERS = ['x-request-id', 'retry-after', 'idempotent-replayed', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** Starts recording responses that the contract does not describe; call before app.ready(). */
export function recordContractViolations(app: FastifyInstance): string[] {
  const violations: string[] = [];
  let spec: Spec | null = null;
  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url;
    // Unknown routes (the not-found handler) and the hidden documentation routes are outside the contract.
    if (!url || request.routeOptions.schema?.hide || url.startsWith('/docs') || url === '/openapi.json') return payload;
    spec ??= app.swagger() as unknown as Spec;
    const path = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const method = request.method.toLowerCase();
    const where = `${request.method} ${path} → ${reply.statusCode}`;
    const op = spec.paths[path]?.[method];
    if (!op) {
      violations.push(`${request.method} ${path}: operation not in the contract`);
      return payload;
    }
    // A 500 is a defect that the test causing it reports; the contract does not promise one.
    if (reply.statusCode === 500) return payload;
    const response = op.responses[String(reply.statusCode)];
    if (!response) {
      violations.push(`${where}: status not documented`);
      return payload;
    }
    const type = String(reply.getHeader('content-type') ?? '').split(';')[0]!.trim();
    const empty = payload === null || payload === undefined || payload === '' || reply.statusCode === 204;
    if (type && !empty && !(type in (response.content ?? {}))) violations.push(`${where}: content type ${type} not documented`);
    const declared = response.headers ?? {};
    for (const name of OWN_HEADERS) {
      if (reply.hasHeader(name) && !(name in declared)) violations.push(`${where}: header ${name} not declared`);
    }
    for (const [name, h] of Object.entries(declared)) {
      const required = h.$ref ? spec.components.headers?.[h.$ref.split('/').pop()!]?.required : h.required;
      if (required && !reply.hasHeader(name)) violations.push(`${where}: declared header ${name} missing`);
    }
    return payload;
  });
  return violations;
}
