// The contract as data for the generated tests: every operation of the served spec, values drawn from its JSON
// schemas (a minimal valid value, and fast-check arbitraries), the bad-input corpus, and a real resource of tenant
// A for each kind of path parameter.
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import type { TestApp } from '../helper.js';
import { createPurpose, createSubject } from '../helper.js';

export type Schema = Record<string, any>;
export type Parameter = { in: 'path' | 'query' | 'header'; name: string; required?: boolean; schema: Schema };
export type Operation = {
  method: string;
  path: string;
  operationId: string;
  /** How the caller authenticates: a service token (with these scopes), none, or another bearer. */
  auth: { kind: 'service'; scopes: string[] } | { kind: 'public' } | { kind: 'subject' } | { kind: 'metrics' };
  parameters: Parameter[];
  body?: { type: string; schema: Schema; required: boolean };
  statuses: string[];
};
export type Spec = {
  paths: Record<string, Record<string, Schema>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Schema> };
};

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Every operation of the spec, in document order. An operation whose security names a scheme this list does not
 * know is an error, so a new kind of authentication cannot slip past the generated tests. */
export function operations(spec: Spec): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const content = (op.requestBody?.content ?? {}) as Record<string, { schema: Schema }>;
      const [type, media] = Object.entries(content)[0] ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        auth: authOf(op.security, `${method.toUpperCase()} ${path}`),
        parameters: (op.parameters ?? []) as Parameter[],
        body: type && media ? { type, schema: media.schema, required: op.requestBody.required === true } : undefined,
        statuses: Object.keys(op.responses ?? {}),
      });
    }
  }
  return ops;
}

function authOf(security: Record<string, string[]>[] | undefined, name: string): Operation['auth'] {
  if (!security) throw new Error(`${name} declares no security`);
  if (security.length === 0) return { kind: 'public' };
  const [scheme, scopes] = Object.entries(security[0]!)[0]!;
  if (scheme === 'bearerAuth') return { kind: 'service', scopes };
  if (scheme === 'subjectToken') return { kind: 'subject' };
  if (scheme === 'metricsToken') return { kind: 'metrics' };
  throw new Error(`${name}: unknown security scheme ${scheme}`);
}

export function pathParams(op: Operation): Parameter[] {
  return op.parameters.filter((p) => p.in === 'path');
}

/** The URL of an operation with its path parameters filled in (encoded) and an optional query. */
export function urlOf(op: Operation, params: Record<string, string>, query: Record<string, unknown> | string = {}): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (params[name] === undefined) throw new Error(`${op.path}: no value for {${name}}`);
    return encodePathSegment(params[name]!);
  });
  const qs = typeof query === 'string' ? query : queryString(query);
  return qs ? `${path}?${qs}` : path;
}

/** Waits until the app no longer sheds load: generating the spec, compiling validators or sampling thousands of
 * inputs blocks the event loop for long enough, on a busy machine, for under-pressure to answer 503 for a moment. */
export async function settled(app: FastifyInstance): Promise<void> {
  const pressed = app as unknown as { isUnderPressure?: () => boolean };
  for (let i = 0; i < 100 && pressed.isUnderPressure?.(); i++) await new Promise((r) => setTimeout(r, 100));
}

/** The test app with a `call` that sends again, once the app has settled, a request shed with 503 OVERLOADED
 * (answered before anything ran, so resending is safe): on a machine shared with other test files, a long enough
 * pause of this one's event loop makes under-pressure shed, as it should, and the generated suites are not about that. */
export function patient(ta: TestApp): TestApp {
  const call: TestApp['call'] = async (opts) => {
    for (let attempt = 0; ; attempt++) {
      const res = await ta.call(opts);
      if (attempt >= 5 || res.statusCode !== 503 || !res.body.includes('"OVERLOADED"')) return res;
      await settled(ta.app);
    }
  };
  return { ...ta, call };
}

/** Percent-encoding of a path segment; a lone surrogate (which encodeURIComponent refuses) goes as the bytes a
 * careless client would send for it (ED A0 80 for U+D800): invalid UTF-8 the service must refuse, not choke on. */
function encodePathSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value]
      .map((ch) => {
        const code = ch.charCodeAt(0);
        if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
          return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
        }
        return encodeURIComponent(ch);
      })
      .join('');
  }
}

export function queryString(query: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, typeof item === 'string' ? item : JSON.stringify(item));
  }
  return q.toString();
}

/** The schema behind a `#/components/schemas/...` ref. */
export function deref(spec: Spec, schema: Schema): Schema {
  let s = schema;
  for (let i = 0; s?.$ref && i < 20; i++) s = spec.components.schemas[String(s.$ref).split('/').pop()!]!;
  return s;
}

const UUID_V4 = '3f1c2a9e-7b4d-4e2a-9c1f-5a6b7c8d9e0f';

/** A small valid value of a schema: required properties only, the first enum member, the shortest string. Enough
 * to pass validation where the body's content does not matter (the scope and tenant matrices). */
export function minimal(spec: Spec, schema: Schema): unknown {
  const s = deref(spec, schema);
  if (s === undefined || (s as unknown) === true) return {};
  if ('const' in s) return s.const;
  if (s.enum) return s.enum[0];
  if ('default' in s && s.default !== undefined) return s.default;
  const branches = s.anyOf ?? s.oneOf;
  if (branches) return minimal(spec, branches.find((b: Schema) => deref(spec, b).type !== 'null') ?? branches[0]);
  if (s.allOf) return minimal(spec, s.allOf[0]);
  const type = Array.isArray(s.type) ? s.type.find((x: string) => x !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of s.required ?? []) out[k] = minimal(spec, s.properties?.[k] ?? {});
      return out;
    }
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, (_, i) => {
        const v = minimal(spec, s.items ?? {});
        return typeof v === 'string' && s.uniqueItems ? `${v}${i}` : v;
      });
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      return minimalString(s);
    default:
      return {};
  }
}

function minimalString(s: Schema): string {
  switch (s.format) {
    case 'uuid':
      return UUID_V4;
    case 'date':
      return '2024-03-15';
    case 'date-time':
      return '2024-03-15T10:00:00.000Z';
    case 'email':
      return 'person@example.com';
    case 'uri':
      return 'https://example.com/receive';
    case 'ipv4':
      return '192.0.2.1';
    case 'ipv6':
      return '2001:db8::1';
  }
  if (s.pattern) {
    const [v] = fc.sample(stringMatching(s), { numRuns: 1, seed: 42 });
    if (v !== undefined) return v;
  }
  return 'x'.repeat(Math.max(1, s.minLength ?? 1));
}

function stringMatching(s: Schema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = s.maxLength ?? Infinity;
  return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= min && x.length <= max);
}

const DAY = 86_400_000;
const instantsBetween = (from: number, to: number) =>
  fc.integer({ min: Math.floor(from / DAY), max: Math.floor(to / DAY) }).chain((d) => fc.integer({ min: 0, max: DAY - 1 }).map((ms) => new Date(d * DAY + ms)));
// Mostly the past (most instants record what happened: "not in the future"), sometimes up to 2200.
const instants = fc.oneof(
  { arbitrary: instantsBetween(Date.UTC(1971, 0, 1), Date.now() - 2 * DAY), weight: 4 },
  { arbitrary: instantsBetween(Date.now() + 2 * DAY, Date.UTC(2200, 0, 1)), weight: 1 },
);
const label = fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/);
// Plain addresses mostly; fast-check's RFC-shaped ones (quoted parts, odd characters) sometimes.
const emails = fc.oneof(
  { arbitrary: fc.tuple(label, label).map(([local, host]) => `${local}@${host}.example.com`), weight: 4 },
  { arbitrary: fc.emailAddress(), weight: 1 },
);

/** Values of a schema as fast-check draws them: valid by the schema's own words (type, enum, format, bounds,
 * pattern, required properties), though not always by the rules only the service knows. */
export function arbitrary(spec: Spec, schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(spec, schema);
  if (s === undefined || (s as unknown) === true || depth > 8) return fc.constant(minimal(spec, s ?? {}));
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  const branches = s.anyOf ?? s.oneOf;
  if (branches) return fc.oneof(...branches.map((b: Schema) => arbitrary(spec, b, depth + 1)));
  if (s.allOf) return arbitrary(spec, s.allOf[0], depth + 1);
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((type: string) => arbitrary(spec, { ...s, type }, depth)));
  switch (s.type) {
    case 'object':
      return objectArbitrary(spec, s, depth);
    case 'array': {
      const minLength = s.minItems ?? 0;
      const maxLength = Math.min(s.maxItems ?? minLength + 3, minLength + 3);
      const item = arbitrary(spec, s.items ?? {}, depth + 1);
      return s.uniqueItems ? fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) }) : fc.array(item, { minLength, maxLength });
    }
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1_000_000);
      return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) });
    }
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      return stringArbitrary(s);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringArbitrary(s: Schema): fc.Arbitrary<string> {
  const max = s.maxLength ?? Infinity;
  switch (s.format) {
    case 'uuid':
      return fc.uuid({ version: 4 });
    case 'date':
      return instants.map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return instants.map((d) => d.toISOString());
    case 'email':
      return emails.filter((e) => e.length <= Math.min(max, 254));
    case 'uri':
      return fc.webUrl({ validSchemes: ['https'] }).filter((u) => u.length <= max);
    case 'ipv4':
      return fc.ipV4();
    case 'ipv6':
      return fc.ipV6();
  }
  if (s.pattern) return fc.oneof(stringMatching(s), fc.constant(minimalString(s)));
  const minLength = s.minLength ?? 0;
  return fc.string({ unit: 'grapheme', minLength, maxLength: Math.max(minLength, Math.min(max, 40)) });
}

function objectArbitrary(spec: Spec, s: Schema, depth: number): fc.Arbitrary<unknown> {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  if (Object.keys(props).length === 0 && s.additionalProperties && typeof s.additionalProperties === 'object') {
    // A map: keys from propertyNames, values from additionalProperties.
    const key = s.propertyNames ? (stringArbitrary(deref(spec, s.propertyNames)) as fc.Arbitrary<string>) : fc.string({ minLength: 1, maxLength: 12 });
    return fc.dictionary(
      key.filter((k) => k !== '__proto__'),
      arbitrary(spec, s.additionalProperties, depth + 1),
      { minKeys: s.minProperties ?? 0, maxKeys: Math.min(s.maxProperties ?? 3, 3) },
    );
  }
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  const required = (s.required ?? []) as string[];
  for (const [k, v] of Object.entries(props)) record[k] = hinted(spec, k, v) ?? arbitrary(spec, v, depth + 1);
  // Optional properties often depend on one another (rules zod checks beyond the schema): a third of the objects
  // carry the required ones alone.
  const requiredOnly = Object.fromEntries(Object.entries(record).filter(([k]) => required.includes(k)));
  return fc.oneof({ arbitrary: fc.record(record, { requiredKeys: required }), weight: 2 }, { arbitrary: fc.record(requiredOnly), weight: 1 });
}

// Plain strings whose name says what the service will check beyond the schema: mostly a value of that kind.
const HINTS: [RegExp, fc.Arbitrary<string>][] = [
  [/(^|_)url$/, fc.webUrl({ validSchemes: ['https'] })],
  [/(^|_)email$/, emails],
  [/^country$/, fc.constantFrom('US', 'CH', 'JP', 'BG', 'DE')],
  [/^timezone$/, fc.constantFrom('Europe/Sofia', 'UTC', 'America/New_York', 'Asia/Tokyo')],
  [/^holiday_calendar$/, fc.constantFrom('BG', 'DE-BY', 'GB-ENG')],
  [/^phone$/, fc.integer({ min: 100_000_000, max: 999_999_999 }).map((n) => `+35988${String(n).slice(0, 7)}`)],
];

function hinted(spec: Spec, name: string, schema: Schema): fc.Arbitrary<unknown> | null {
  const s = deref(spec, schema);
  if (s?.type !== 'string' || s.enum || s.format || 'const' in s) return null;
  const hint = HINTS.find(([re]) => re.test(name))?.[1];
  return hint ? fc.oneof({ arbitrary: hint.filter((v) => v.length <= (s.maxLength ?? Infinity)), weight: 3 }, { arbitrary: stringArbitrary(s), weight: 1 }) : null;
}

/** The query of an operation: required parameters always, optional ones sometimes. */
export function queryArbitrary(spec: Spec, op: Operation): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  // A cursor is valid only as a list gave it out: the valid-ish query leaves it to the mutated cases.
  for (const p of op.parameters.filter((x) => x.in === 'query' && (x.required || x.name !== 'cursor'))) {
    record[p.name] = arbitrary(spec, p.schema);
    if (p.required) required.push(p.name);
  }
  return fc.record(record, { requiredKeys: required });
}

/** The bad-input corpus (RELIABILITY.md), as values to put where a string, a number or anything is expected. */
export const BAD_STRINGS: string[] = [
  // encoding
  '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud800y', '\u202eevil', 'na\u200bme', '😀🇧🇬👩‍👩‍👧', '\ufeffbom', 'e\u0301', 'Ω',
  // injection
  "' OR 1=1--", "'; DROP TABLE consent_events;--", "\\'", '$$', '%', '_', '%_%', '../../etc/passwd', '%2e%2e%2f', '%00', 'a\r\nX-Injected: 1',
  '{{7*7}}', '${7*7}', '<script>alert(1)</script>', 'javascript:alert(1)', 'a'.repeat(10_000), '__proto__', 'constructor.prototype',
  // numbers as strings
  '1e400', '-0', 'NaN', 'Infinity', '9007199254740993', '0x10', '010', '1.0', '-1', '1e9',
  // dates and times
  '2024-02-30', '2023-02-29', '2024-13-01', '23:59:60', '0000-01-01', '9999-12-31T23:59:59Z', '+275760-09-13', '2024-03-15T10:00:00',
  '2024-03-15T10:00:00+14:00', '2024-03-15T10:00:00-12:00', '2024-03-15T10:00:00+00:00', 'Mars/Olympus_Mons',
  // identifiers
  '"a b"@example.com', 'a(b)@example.com', 'a@[127.0.0.1]', `${'l'.repeat(255)}@example.com`, 'ıi@example.com', 'strasse@straße.de', 'xn--80ak6aa92e.com',
  'аdmin@example.com', '+359 88 ABC', '359888123456', '+12345678901234567', '+359888123456 ext. 12',
  '',
];
export const BAD_VALUES: unknown[] = [
  ...BAD_STRINGS,
  1e308, -1, 0, -0, 2 ** 53 + 1, 1.5, 1e9, true, false, null, [], {}, { $ne: null }, { $gt: '' }, ['a', 'b'], [[[[]]]],
  JSON.parse('{"__proto__":{"polluted":true}}'), { constructor: { prototype: { polluted: true } } },
];

/** Whole bodies that are wrong as bodies: raw payloads sent as application/json. */
export function badRawBodies(): { name: string; payload: string | Buffer; type?: string }[] {
  const deep = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);
  return [
    { name: 'empty body', payload: '' },
    { name: 'top-level array', payload: '[]' },
    { name: 'top-level string', payload: '"text"' },
    { name: 'top-level number', payload: '1' },
    { name: 'null', payload: 'null' },
    { name: 'trailing garbage', payload: '{"a":1} garbage' },
    { name: 'NDJSON', payload: '{"a":1}\n{"b":2}' },
    { name: 'comments', payload: '{/* c */"a":1}' },
    { name: 'depth 33 arrays', payload: `{"a":${deep(33, '[', ']')}}` },
    { name: 'depth 1,000 objects', payload: `${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}` },
    { name: 'depth 4,200 arrays', payload: deep(4200, '[', ']') },
    { name: 'duplicate keys', payload: '{"a":1,"a":2}' },
    { name: 'proto pollution', payload: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}' },
    { name: 'invalid UTF-8 FF', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) },
    { name: 'overlong C0 AF', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]) },
    { name: 'truncated E2 82', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]) },
    { name: 'encoded surrogate ED A0 80', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]) },
    { name: 'BOM', payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')]) },
    { name: 'UTF-16LE', payload: Buffer.from('{"a":"b"}', 'utf16le') },
    { name: 'escaped NUL', payload: '{"a":"\\u0000"}' },
    { name: 'lone surrogate escape', payload: '{"a":"\\ud800"}' },
    { name: 'numbers beyond double', payload: '{"a":1e400,"b":-0,"c":9007199254740993}' },
    { name: '10,000 keys', payload: JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))) },
    { name: '10,001-element array', payload: JSON.stringify({ a: Array.from({ length: 10_001 }, () => 1) }) },
    { name: 'bodyLimit + 1', payload: JSON.stringify({ a: 'x'.repeat(1024 * 1024) }) },
    { name: 'text/plain body', payload: 'plain text', type: 'text/plain' },
    { name: 'form body', payload: 'a=1&b=2', type: 'application/x-www-form-urlencoded' },
  ];
}

/** A copy of `value` with the thing at a path (chosen by `pick`) replaced by `bad`; adds a property when the value
 * is an empty object. */
export function mutate(value: unknown, pick: number, bad: unknown): unknown {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    if (at.length) paths.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(value, []);
  if (paths.length === 0) return value && typeof value === 'object' && !Array.isArray(value) ? { ...value, unexpected: bad } : bad;
  const path = paths[pick % paths.length]!;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = bad;
  return copy;
}

/** A real resource of one kind in a tenant: the path parameters that name it, and a read of everything an
 * operation on it could change (compared before and after a foreign caller's attempt). */
export type Resource = { params: Record<string, string>; read: () => Promise<unknown> };
type Creator = (ta: TestApp, tenantId: string) => Promise<Resource>;

/** How to create a resource for each path prefix that has a parameter. The longest prefix matching an operation's
 * path applies; an operation with a path parameter and no creator fails the tenant matrix's coverage test. */
export const CREATORS: Record<string, Creator> = patiently({
  '/v1/purposes/{key}': async (ta, tenantId) => {
    const key = `matrix-${Math.random().toString(36).slice(2, 8)}`;
    await createPurpose(ta, key, {}, tenantId);
    return { params: { key }, read: () => reads(ta, tenantId, [`/v1/purposes/${key}`, `/v1/purposes/${key}/versions`]) };
  },
  '/v1/subjects/{id}': async (ta, tenantId) => {
    const id = await createSubject(ta, `matrix-${Math.random().toString(36).slice(2, 8)}@example.com`, tenantId);
    return { params: { id }, read: () => reads(ta, tenantId, [`/v1/subjects/${id}`, `/v1/subjects/${id}/consents`, `/v1/subjects/${id}/consents/history`, `/v1/subjects/${id}/objections`]) };
  },
  '/v1/systems/{id}': async (ta, tenantId) => {
    const id = await created(ta, tenantId, '/v1/systems', { name: 'Matrix CRM', kind: 'crm', handles: ['erasure', 'export'], contact_email: 'it@crm.example' });
    return { params: { id }, read: () => reads(ta, tenantId, [`/v1/systems/${id}`]) };
  },
  '/v1/webhook-endpoints/{id}': async (ta, tenantId) => {
    const id = await created(ta, tenantId, '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hook', event_types: ['*'] });
    return { params: { id }, read: () => reads(ta, tenantId, [`/v1/webhook-endpoints/${id}`, `/v1/webhook-endpoints/${id}/deliveries`]) };
  },
  '/v1/webhook-endpoints/{id}/deliveries/{deliveryId}': async (ta, tenantId) => {
    const id = await created(ta, tenantId, '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hook', event_types: ['*'] });
    const ping = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/test`, tenantId });
    if (ping.statusCode !== 202) throw new Error(`ping: ${ping.statusCode} ${ping.body}`);
    return { params: { id, deliveryId: ping.json().delivery_id }, read: () => reads(ta, tenantId, [`/v1/webhook-endpoints/${id}`, `/v1/webhook-endpoints/${id}/deliveries`]) };
  },
  '/v1/rights-requests/{id}': async (ta, tenantId) => {
    const subject = await createSubject(ta, `matrix-${Math.random().toString(36).slice(2, 8)}@example.com`, tenantId);
    const id = await created(ta, tenantId, '/v1/rights-requests', { subject: { id: subject }, type: 'access', channel: 'email' });
    return { params: { id }, read: () => requestReads(ta, tenantId, id) };
  },
  '/v1/rights-requests/{id}/tasks/{task_id}': async (ta, tenantId) => {
    const { id, taskIds } = await gatheredRequest(ta, tenantId);
    return { params: { id, task_id: taskIds[0]! }, read: () => requestReads(ta, tenantId, id) };
  },
  '/v1/rights-requests/{id}/export-links/{link_id}': async (ta, tenantId) => {
    const { id, taskIds } = await gatheredRequest(ta, tenantId);
    // Every system that handles export gives its part before the DPO can approve.
    for (const taskId of taskIds) {
      const part = await ta.call({
        method: 'PUT',
        url: `/v1/rights-requests/${id}/tasks/${taskId}/data?provided_categories=orders`,
        tenantId,
        payload: { orders: [{ id: 'o-1' }] },
      });
      if (part.statusCode !== 200) throw new Error(`upload: ${part.statusCode} ${part.body}`);
    }
    const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/export/approve`, tenantId, payload: {} });
    if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
    const link = await created(ta, tenantId, `/v1/rights-requests/${id}/export-links`, {});
    return { params: { id, link_id: link }, read: () => requestReads(ta, tenantId, id) };
  },
});

function patiently(creators: Record<string, Creator>): Record<string, Creator> {
  return Object.fromEntries(Object.entries(creators).map(([prefix, create]) => [prefix, (ta: TestApp, tenantId: string) => create(patient(ta), tenantId)]));
}

/** The creator for an operation's path, or undefined when none covers its parameters. */
export function creatorFor(path: string): Creator | undefined {
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const prefix = Object.keys(CREATORS)
    .filter((p) => path === p || path.startsWith(`${p}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (!prefix) return undefined;
  const covered = [...prefix.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  return names.every((n) => covered.includes(n)) ? CREATORS[prefix] : undefined;
}

async function created(ta: TestApp, tenantId: string, url: string, payload: object): Promise<string> {
  const res = await ta.call({ method: 'POST', url, tenantId, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

/** An access request of a new subject, gathered: one export task per system of the tenant that handles export. */
async function gatheredRequest(ta: TestApp, tenantId: string): Promise<{ id: string; taskIds: string[] }> {
  await created(ta, tenantId, '/v1/systems', { name: `Shop ${Math.random().toString(36).slice(2, 6)}`, kind: 'crm', handles: ['export'], contact_email: 'it@shop.example' });
  const subject = await createSubject(ta, `matrix-${Math.random().toString(36).slice(2, 8)}@example.com`, tenantId);
  const id = await created(ta, tenantId, '/v1/rights-requests', { subject: { id: subject }, type: 'access', channel: 'email' });
  const gathered = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/gather`, tenantId });
  if (gathered.statusCode !== 200) throw new Error(`gather: ${gathered.statusCode} ${gathered.body}`);
  const tasks = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/tasks`, tenantId });
  const taskIds = (tasks.json().items as { id: string }[]).map((x) => x.id);
  if (taskIds.length === 0) throw new Error(`no task after gather: ${tasks.body}`);
  return { id, taskIds };
}

function requestReads(ta: TestApp, tenantId: string, id: string): Promise<unknown> {
  return reads(ta, tenantId, [
    `/v1/rights-requests/${id}`,
    `/v1/rights-requests/${id}/events?limit=200`,
    `/v1/rights-requests/${id}/tasks`,
    `/v1/rights-requests/${id}/export`,
    `/v1/rights-requests/${id}/export-links`,
  ]);
}

/** Status and body of each GET, as the owner sees them. */
async function reads(ta: TestApp, tenantId: string, urls: string[]): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const url of urls) {
    const res = await ta.call({ method: 'GET', url, tenantId });
    out[url] = { status: res.statusCode, body: res.body };
  }
  return out;
}
