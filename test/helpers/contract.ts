// Every response the suite sees is held against the generated contract: its status, its media type, the headers
// the service sets and (for JSON and problem+json) its body, validated against the operation's response schema.
// Attached by build(), so no test can add an undocumented answer without the suite failing.
import type { FastifyInstance } from 'fastify';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

type Response = { content?: Record<string, { schema?: unknown }>; headers?: Record<string, { required?: boolean; $ref?: string }> };
type Spec = {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { headers?: Record<string, { required?: boolean }>; schemas?: Record<string, unknown> };
};

// The headers this service sets itself (not the ones HTTP or Fastify always send).
const OWN_HEADERS = ['x-request-id', 'retry-after', 'idempotent-replayed', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
// Bodies read as JSON; the others (ZIP, HTML, CSV, metrics text) are streamed or rendered and checked by their tests.
const JSON_TYPES = new Set(['application/json', 'application/problem+json']);
const SPEC_ID = 'urn:rightful:openapi';

// ajv-formats is published as CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** Validators for the response schemas of one spec: each distinct schema compiled once, on first use, and kept for
 * every app of the process built from the same components. OpenAPI 3.1 schemas are JSON Schema 2020-12;
 * `#/components/schemas/...` refs are pointed at the components, registered once. */
export function responseValidators(spec: Spec): (path: string, method: string, status: string, type: string) => ValidateFunction | null {
  const components = JSON.stringify(spec.components.schemas ?? {});
  let compiler = compilers.get(components);
  if (!compiler) {
    // Refs compiled as functions of their own and unoptimised code: compiling is what costs here (measured: about
    // half the time of the defaults), and each validator runs only on the responses of a test file.
    const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true, inlineRefs: false, code: { optimize: false } });
    addFormats(ajv);
    ajv.addFormat('binary', true);
    ajv.addSchema({ $id: SPEC_ID, components: { schemas: retarget(JSON.parse(components)) } });
    const bySchema = new Map<string, ValidateFunction>();
    compiler = (schema) => {
      const text = JSON.stringify(schema);
      let validate = bySchema.get(text);
      if (!validate) bySchema.set(text, (validate = ajv.compile(retarget(schema) as object)));
      return validate;
    };
    compilers.set(components, compiler);
  }
  const compile = compiler;
  const cache = new Map<string, ValidateFunction | null>();
  return (path, method, status, type) => {
    const key = `${method} ${path} ${status} ${type}`;
    if (!cache.has(key)) {
      const schema = spec.paths[path]?.[method]?.responses[status]?.content?.[type]?.schema;
      cache.set(key, schema === undefined ? null : compile(schema));
    }
    return cache.get(key)!;
  };
}
const compilers = new Map<string, (schema: unknown) => ValidateFunction>();

/** The schema with its local component refs made absolute, so it compiles outside the document. */
function retarget(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).split('"#/components/').join(`"${SPEC_ID}#/components/`));
}

/** Ajv's first few complaints, in a line. */
function explain(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`)
    .join('; ');
}

type Recorder = { violations: string[]; flush: () => string[] };
const recorders = new WeakMap<FastifyInstance, Recorder>();

/** The violations recorded for an app so far, bodies validated up to now (the generated tests read them per case). */
export function contractViolations(app: FastifyInstance): string[] {
  const recorder = recorders.get(app);
  if (!recorder) throw new Error('the contract is not recorded for this app (build() attaches it)');
  return recorder.flush();
}

/** Starts recording responses that the contract does not describe; call before app.ready(). Statuses, media types
 * and headers are checked as each response leaves; bodies are validated later (when read, and when the app closes),
 * so compiling a schema never stalls a request of the test. */
export function recordContractViolations(app: FastifyInstance): string[] {
  const violations: string[] = [];
  let spec: Spec | null = null;
  let validatorFor: ReturnType<typeof responseValidators> | null = null;
  const pending: { where: string; path: string; method: string; status: string; type: string; text: string }[] = [];
  const flush = () => {
    if (pending.length && spec) validatorFor ??= responseValidators(spec);
    for (const b of pending.splice(0)) {
      const validate = validatorFor!(b.path, b.method, b.status, b.type);
      if (!validate) continue;
      let body: unknown;
      try {
        body = JSON.parse(b.text);
      } catch {
        violations.push(`${b.where}: ${b.type} body is not JSON`);
        continue;
      }
      if (!validate(body)) violations.push(`${b.where}: body does not match the schema: ${explain(validate)}`);
    }
    return violations;
  };
  recorders.set(app, { violations, flush });
  app.addHook('onClose', async () => {
    flush();
  });
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
    const status = String(reply.statusCode);
    const response = op.responses[status];
    if (!response) {
      violations.push(`${where}: status not documented`);
      return payload;
    }
    const type = String(reply.getHeader('content-type') ?? '').split(';')[0]!.trim();
    const empty = payload === null || payload === undefined || payload === '' || reply.statusCode === 204;
    if (type && !empty && !(type in (response.content ?? {}))) violations.push(`${where}: content type ${type} not documented`);
    else if (!empty && JSON_TYPES.has(type) && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      pending.push({ where, path, method, status, type, text: payload.toString() });
    }
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
