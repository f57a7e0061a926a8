// The OpenAPI document, generated from the route schemas: /openapi.json, Swagger UI at /docs, `npm run openapi`.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';

export const API_DESCRIPTION = `Rightful records and proves consent, checks it on the campaign hot path, and keeps the register of
processing purposes that the right to information is answered from.

**Authentication.** Every /v1 operation takes a service token: \`Authorization: Bearer <jwt>\`, HS256, with the
claims \`sub\` (client name), \`tid\` (tenant id), \`scope\` (space-separated) and \`exp\`. Operators mint tokens with
\`npm run cli -- token --tenant ID --scope "..."\` (each with a \`jti\`, revocable with \`token revoke\`). Where the
operator configured an identity provider (\`OIDC_*\`), its RS256 or ES256 tokens are accepted too, the tenant and
scopes read from configured claims. A missing, invalid, expired or revoked token is a 401; a token without the
operation's scope is a 403 (each operation's \`security\` lists the scopes it needs). Another tenant's ids answer 404.
The /v1/me operations take a subject token from a portal link instead (\`subjectToken\`).

**Errors.** Every error is \`application/problem+json\` (RFC 9457) with a stable \`code\`. Bad input is a 400
\`VALIDATION_FAILED\` whose \`errors\` list names each field at fault; unknown fields are refused by name.

**Retries.** Operations that create accept an \`Idempotency-Key\` header (1–255 printable ASCII characters): a
retry with the same key and body returns the first answer; the same key with another body is a 409
\`IDEMPOTENCY_KEY_REUSED\`.

**Pagination.** Lists take \`limit\` and \`cursor\` and return \`next_cursor\` (null on the last page).

**Limits.** Bodies up to 64 KiB (1 MiB for consent checks); JSON nesting up to 32 levels; strings must be
valid Unicode without NUL. Rate limits are per client; a 429 or 503 carries \`Retry-After\`.

**Webhooks.** Registered endpoints receive events as Standard Webhooks: a JSON body \`{type, timestamp, data}\` and
the headers \`webhook-id\` (\`msg_<event id>\`, the same on every retry and redelivery: deduplicate on it),
\`webhook-timestamp\` (Unix seconds) and \`webhook-signature\` (\`v1,<base64 HMAC-SHA256 of "id.timestamp.body">\`
keyed with the base64 part of the \`whsec_\` secret; two space-separated signatures for 24 hours after a rotation).
A 2xx within 15 seconds is success; anything else is retried with growing backoff for about three days. Every
event type, when it is sent, to whom, and its \`data\` are in this document's \`webhooks\` section.`;

type OpenApiResponse = { description?: string; content?: Record<string, unknown>; headers?: Record<string, unknown> };
type OpenApiOperation = { responses?: Record<string, OpenApiResponse>; parameters?: { in?: string; name?: string }[]; security?: unknown[] };
type OpenApiDoc = {
  components?: { schemas?: Record<string, unknown>; headers?: Record<string, unknown>; parameters?: Record<string, unknown> };
  paths?: Record<string, Record<string, OpenApiOperation>>;
  webhooks?: Record<string, Record<string, unknown>>;
};

/** Response headers the service sets, declared once and referred to from every response that carries them. */
const HEADERS: Record<string, { description: string; required?: boolean; schema: Record<string, unknown> }> = {
  'x-request-id': { description: 'Identifies the request in the logs; a valid incoming x-request-id is kept', required: true, schema: { type: 'string' } },
  'retry-after': { description: 'Seconds to wait before retrying', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  'idempotent-replayed': { description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
  'x-ratelimit-limit': { description: "Requests allowed in the client's window", schema: { type: 'string' } },
  'x-ratelimit-remaining': { description: 'Requests left in the current window', schema: { type: 'string' } },
  'x-ratelimit-reset': { description: 'Seconds until the window resets', schema: { type: 'string' } },
};
const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** Completes each operation's responses with what the service answers around the route itself: the headers, and
 * 413/415 on every method that takes a body (a body is parsed, and refused, even where the operation needs none)
 * and 409 wherever an Idempotency-Key is accepted. */
function declareCommonResponses(doc: OpenApiDoc): void {
  doc.components = { ...doc.components, headers: HEADERS };
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      const responses = (op.responses ??= {});
      const problemRef = Object.entries(responses).find(([st]) => Number(st) >= 400)?.[1];
      // Every route is rate limited (per client, or per address before authentication) except the health checks.
      const limited = path !== '/healthz' && path !== '/readyz';
      const idempotent = (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key');
      if (problemRef) {
        const add = (status: string, description: string) => {
          if (!responses[status]) responses[status] = { description, content: problemRef.content };
        };
        if (BODY_METHODS.has(method)) {
          add('413', 'The request body exceeds the size limit');
          add('415', 'The body is not application/json');
        }
        if (idempotent) add('409', 'Conflict with the current state, or an Idempotency-Key reused with a different body');
      }
      for (const [status, response] of Object.entries(responses)) {
        const code = Number(status);
        const headers: Record<string, unknown> = { 'x-request-id': ref('x-request-id') };
        if (code === 429 || code === 503) headers['retry-after'] = ref('retry-after');
        if (idempotent && code < 300) headers['idempotent-replayed'] = ref('idempotent-replayed');
        if (limited) for (const n of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) headers[n] = ref(n);
        response.headers = { ...headers, ...response.headers };
      }
      // Keep the responses in status order.
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
}

/** Error responses are application/problem+json; each registered schema appears once, under its own name
 * (the zod transform emits an input and an output variant of every schema, and only one of them is used). */
const SUCCESS: Record<string, string> = { '200': 'Success', '201': 'Created', '204': 'Done, nothing to return' };

/** The spec's `webhooks` section and what it refers to: built by whoever owns the events (the composition root
 * passes it in), so this plugin knows no module. */
export type WebhooksSection = {
  webhooks: Record<string, Record<string, unknown>>;
  schemas: Record<string, unknown>;
  parameters: Record<string, Record<string, unknown>>;
};

function declareWebhooks(doc: OpenApiDoc, section: WebhooksSection | undefined): void {
  if (!section) return;
  const components = (doc.components ??= {});
  components.schemas = { ...components.schemas, ...section.schemas };
  components.parameters = { ...components.parameters, ...section.parameters };
  doc.webhooks = section.webhooks;
}

function tidy(doc: OpenApiDoc, webhooks: WebhooksSection | undefined): OpenApiDoc {
  declareCommonResponses(doc);
  declareWebhooks(doc, webhooks);
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const r = response as { description?: string; content?: Record<string, unknown> };
        if (r.description === 'Default Response') r.description = SUCCESS[status] ?? 'Success';
        if (Number(status) >= 400 && response.content?.['application/json']) {
          response.content = { 'application/problem+json': response.content['application/json'] };
        }
      }
    }
  }
  const schemas = doc.components?.schemas;
  if (!schemas) return doc;
  const refsOf = (v: unknown) => new Set([...JSON.stringify(v).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]));
  // Drop unused schemas until none is left (dropping one can orphan those only it referred to).
  for (;;) {
    const used = refsOf([doc.paths, doc.webhooks, Object.values(schemas)]);
    const unused = Object.keys(schemas).filter((n) => !used.has(n));
    if (unused.length === 0) break;
    for (const n of unused) delete schemas[n];
  }
  const renames = Object.keys(schemas).filter((n) => n.endsWith('Input') && !(n.slice(0, -5) in schemas));
  let text = JSON.stringify(doc);
  for (const n of renames) text = text.split(`"#/components/schemas/${n}"`).join(`"#/components/schemas/${n.slice(0, -5)}"`);
  const out = JSON.parse(text) as OpenApiDoc & { components: { schemas: Record<string, unknown> } };
  for (const n of renames) {
    out.components.schemas[n.slice(0, -5)] = out.components.schemas[n];
    delete out.components.schemas[n];
  }
  return out;
}

// A host name, an IPv4 address or a bracketed IPv6 address, with an optional port: anything else is not echoed.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** The origin a request reached the service at: its Host and scheme, or X-Forwarded-Host and X-Forwarded-Proto
 * when TRUST_PROXY is set (Fastify's request.host and request.protocol decide which). Null when it is not a plain origin. */
export function servedOrigin(request: FastifyRequest): string | null {
  const { protocol, host } = request;
  if ((protocol !== 'http' && protocol !== 'https') || typeof host !== 'string' || host.length > 260 || !HOST.test(host)) return null;
  return `${protocol}://${host.toLowerCase()}`;
}

/** The document with the request's origin as its first server (once; the documented servers follow). The answer
 * depends on the headers that name the origin, and says so to caches. */
export function withServedOrigin<T>(doc: T, request: FastifyRequest, reply: FastifyReply): T {
  reply.header('vary', request.server.config.trustProxy ? 'Host, X-Forwarded-Host, X-Forwarded-Proto' : 'Host');
  const origin = servedOrigin(request);
  if (!origin) return doc;
  const d = doc as { servers?: { url: string; description?: string }[] };
  const others = (d.servers ?? []).filter((s) => s.url.replace(/\/+$/, '') !== origin);
  d.servers = [{ url: origin, description: 'This instance (where this document was served from)' }, ...others];
  return doc;
}

/** Each operation's security from what its route enforces: the scopes a service token must carry (OpenAPI 3.1 lets
 * a non-OAuth scheme list the roles it requires), or a subject token; a route that declares neither is public unless
 * its schema names its own scheme (the metrics token). */
function withSecurity<T extends { schema: unknown }>(result: T, config: unknown): T {
  const { scopes, subject } = (config ?? {}) as { scopes?: readonly string[]; subject?: boolean };
  const schema = (result.schema ?? {}) as { security?: unknown[] };
  const security = scopes ? [{ bearerAuth: [...scopes] }] : subject === true ? [{ subjectToken: [] }] : (schema.security ?? []);
  return { ...result, schema: { ...schema, security } };
}

export default fp<{ webhooks?: () => WebhooksSection }>(
  async (app, opts) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Rightful API',
          version: '1.0.0',
          description: API_DESCRIPTION,
          license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
        },
        servers: [{ url: 'http://localhost:3000', description: 'Local development' }],
        tags: [
          { name: 'tenant', description: "The caller's tenant (the controller) and its settings" },
          { name: 'purposes', description: 'The register of processing purposes (Art. 13, 14, 30)' },
          { name: 'subjects', description: 'Data subjects and their identifiers' },
          { name: 'consents', description: 'The consent ledger, current state, objections and campaign checks' },
          { name: 'rights-requests', description: 'Data subject requests (Arts. 15-22), their legal deadline (Art. 12(3)) and audit trail' },
          { name: 'webhooks', description: 'Signed event delivery to the CRM (Standard Webhooks)' },
          { name: 'me', description: "The person's own view, with a subject token from a portal link: consents, objections, requests and exports (Art. 7(3), 12, 21, 32)" },
          { name: 'preferences', description: 'The reference preference page (server-rendered HTML over /v1/me) that a CRM can link to as it is, or copy' },
          { name: 'health', description: 'Liveness and readiness for orchestrators' },
          { name: 'operations', description: "Metrics for the operator's monitoring (Prometheus); off unless configured" },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A service token minted by the operator CLI' },
            metricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN the operator configured (not a service token)' },
            subjectToken: { type: 'http', scheme: 'bearer', description: 'A subject token from a portal link; reaches only /v1/me' },
          },
        },
        security: [{ bearerAuth: [] }],
      },
      transform: (input) => withSecurity(jsonSchemaTransform(input), input.route.config),
      transformObject: (input) => tidy(jsonSchemaTransformObject(input) as OpenApiDoc, opts.webhooks?.()) as ReturnType<typeof jsonSchemaTransformObject>,
    });
    // The live document offers the origin it is served from first, so "Try it out" calls this very instance.
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      transformSpecification: (doc, request, reply) => withServedOrigin(doc, request as FastifyRequest, reply as FastifyReply),
    });
    app.get('/openapi.json', { schema: { hide: true } }, async (request, reply) => withServedOrigin(structuredClone(app.swagger()), request, reply));
  },
  { name: 'swagger' },
);

export { z };
