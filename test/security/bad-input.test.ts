// The bad-input corpus of RELIABILITY.md against every write endpoint: each answer is a 4xx problem+json with a
// stable code and an x-request-id, never a 5xx, and nothing reaches the database.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { build, createPurpose, createSubject } from '../helper.js';
import { assertProblem, errorFields } from '../helpers/problem.js';
import { snapshot } from '../helpers/snapshot.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SQL_INJECTION = ["' OR 1=1--", "'; DROP TABLE consent_events;--", "\\'", '$$', '%', '_', 'a%', "newsletter' --", 'newsletter;', '1 OR 1=1'];

type Endpoint = { name: string; method: 'POST' | 'PATCH'; url: string; valid: Record<string, unknown>; limit: number };

/** Splices raw JSON members in after the opening brace of a valid body's text. */
const withMembers = (valid: object, members: string) => `{${members},${JSON.stringify(valid).slice(1)}`;

t.test('the bad-input corpus', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter');
  const subject = await createSubject(ta, 'ana@example.com');
  const identifiers = [{ type: 'email', value: 'someone@example.com' }];
  const endpoints: [Endpoint, Endpoint, Endpoint, Endpoint, Endpoint, Endpoint, Endpoint, Endpoint] = [
    {
      name: 'createPurpose',
      method: 'POST',
      url: '/v1/purposes',
      valid: { key: 'fresh', legal_basis: 'consent', retention: '1 year', translations: { en: { title: 'T', description: 'D' } } },
      limit: 64 * 1024,
    },
    { name: 'updatePurpose', method: 'PATCH', url: '/v1/purposes/newsletter', valid: { retention: 'two years' }, limit: 64 * 1024 },
    { name: 'createSubject', method: 'POST', url: '/v1/subjects', valid: { identifiers }, limit: 64 * 1024 },
    { name: 'lookupSubject', method: 'POST', url: '/v1/subjects/lookup', valid: { identifiers }, limit: 64 * 1024 },
    {
      name: 'recordConsents',
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      valid: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence: { form_id: 'signup', text_shown: 'Yes please' } }] },
      limit: 64 * 1024,
    },
    { name: 'recordObjection', method: 'POST', url: `/v1/subjects/${subject}/objections`, valid: { scope: 'direct_marketing' }, limit: 64 * 1024 },
    { name: 'checkConsents', method: 'POST', url: '/v1/consents/check', valid: { purpose: 'newsletter', identifiers }, limit: 1024 * 1024 },
    { name: 'updateTenant', method: 'PATCH', url: '/v1/tenant', valid: { name: 'Renamed' }, limit: 64 * 1024 },
  ];

  const requestIds = new Set<string>();
  /** Every rejection: the status, problem+json with a code, an x-request-id, and never a 5xx. */
  const reject = (res: LightMyRequestResponse, status: number, code: string | undefined, label: string) => {
    t.ok(res.statusCode < 500, `${label}: not a 5xx (${res.statusCode})`);
    const body = assertProblem(t, res, status, code, label);
    const rid = res.headers['x-request-id'];
    t.match(rid, UUID, `${label}: x-request-id`);
    requestIds.add(String(rid));
    return body;
  };
  const send = (ep: Endpoint, payload: string | Buffer, contentType = 'application/json', extra: Partial<InjectOptions> = {}) =>
    ta.call({ method: ep.method, url: ep.url, payload, headers: { 'content-type': contentType }, ...extra });

  const before = await snapshot(ta);

  for (const ep of endpoints) {
    const text = JSON.stringify(ep.valid);
    const L = (s: string) => `${ep.name}: ${s}`;

    // --- Size
    reject(await send(ep, ''), 400, 'MALFORMED_JSON', L('empty body'));
    reject(await send(ep, ' \n\t '), 400, 'MALFORMED_JSON', L('whitespace body'));
    reject(await send(ep, withMembers(ep.valid, `"pad":"${'x'.repeat(ep.limit)}"`)), 413, 'PAYLOAD_TOO_LARGE', L('body over the limit'));
    if (ep.limit > 64 * 1024) {
      // The bulk endpoint accepts more than 64 KiB: the same padding that is a 413 elsewhere reaches validation.
      const body = reject(await send(ep, withMembers(ep.valid, `"pad":"${'x'.repeat(100 * 1024)}"`)), 400, 'VALIDATION_FAILED', L('100 KiB body on the bulk endpoint'));
      t.same(errorFields(body), ['pad'], L('only the padding field is at fault'));
    } else {
      reject(await send(ep, withMembers(ep.valid, `"pad":"${'x'.repeat(64 * 1024 - text.length - 10)}"`)), 400, 'VALIDATION_FAILED', L('body just under 64 KiB'));
    }

    // --- Structure
    for (const raw of ['[]', `[${text}]`, '"a string"', '42', 'null', 'true', '"{}"']) {
      reject(await send(ep, raw), 400, undefined, L(`top-level ${raw.slice(0, 20)}`));
    }
    for (const raw of [`${text} x`, `${text}${text}`, `${text}\n${text}\n`, `// comment\n${text}`, `${text.slice(0, -1)},}`, text.slice(0, -1), "{'a':1}", '{a:1}', 'NaN']) {
      reject(await send(ep, raw), 400, 'MALFORMED_JSON', L(`malformed ${JSON.stringify(raw.slice(-12))}`));
    }
    for (const [label, raw] of [
      ['array depth 33', withMembers(ep.valid, `"deep":${'['.repeat(33)}${']'.repeat(33)}`)],
      ['object depth 33', withMembers(ep.valid, `"deep":${'{"a":'.repeat(33)}1${'}'.repeat(33)}`)],
      ['array depth 5000', withMembers(ep.valid, `"deep":${'['.repeat(5000)}${']'.repeat(5000)}`)],
      ['object depth 5000', withMembers(ep.valid, `"deep":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`)],
    ] as [string, string][]) {
      const body = reject(await send(ep, raw), 400, 'VALIDATION_FAILED', L(label));
      t.match(String(body.detail), /nesting deeper than 32/, L(`${label}: refused by the depth guard`));
    }

    // --- Encoding: bytes spliced into a string value of the valid body.
    const at = text.indexOf('"', text.indexOf(':')) + 1; // just inside the first string value
    for (const [label, bytes] of [
      ['FF', [0xff]],
      ['C0 AF (overlong /)', [0xc0, 0xaf]],
      ['ED A0 80 (encoded surrogate)', [0xed, 0xa0, 0x80]],
      ['E2 82 (truncated)', [0xe2, 0x82]],
      ['FE FF', [0xfe, 0xff]],
    ] as [string, number[]][]) {
      const raw = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
      const body = reject(await send(ep, raw), 400, 'MALFORMED_JSON', L(`invalid UTF-8 ${label}`));
      t.match(String(body.detail), /UTF-8/, L(`${label}: the detail says UTF-8`));
    }
    reject(await send(ep, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])), 400, 'MALFORMED_JSON', L('UTF-8 BOM'));
    reject(await send(ep, Buffer.from(text, 'utf16le')), 400, 'MALFORMED_JSON', L('UTF-16LE body'));
    for (const [label, escape] of [
      ['NUL', '\\u0000'],
      ['lone high surrogate', '\\ud800'],
      ['lone low surrogate', '\\udfff'],
      ['reversed pair', '\\udc00\\ud800'],
    ] as [string, string][]) {
      const raw = `${text.slice(0, at)}${escape}${text.slice(at)}`;
      const body = reject(await send(ep, raw), 400, 'VALIDATION_FAILED', L(`${label} in a string`));
      t.ok(errorFields(body).length === 1 && errorFields(body)[0] !== '(body)', L(`${label}: names the field (${errorFields(body)})`));
      // The same escapes in a key are refused too.
      reject(await send(ep, withMembers(ep.valid, `"k${escape}":1`)), 400, 'VALIDATION_FAILED', L(`${label} in a key`));
    }

    // --- Prototype keys and mass assignment
    for (const [key, member] of [
      ['__proto__', '"__proto__":{"tenant_id":"x","admin":true}'],
      ['constructor', '"constructor":{"prototype":{"admin":true}}'],
      ['prototype', '"prototype":{}'],
    ] as [string, string][]) {
      const body = reject(await send(ep, withMembers(ep.valid, member)), 400, 'VALIDATION_FAILED', L(key));
      t.same(errorFields(body), [key], L(`${key}: named`));
    }
    for (const field of ['tenant_id', 'hash', 'status', 'id', 'prev_hash', 'version']) {
      const body = reject(await send(ep, withMembers(ep.valid, `"${field}":"x"`)), 400, 'VALIDATION_FAILED', L(`unknown field ${field}`));
      t.same(body.errors, [{ field, message: 'is not a known field' }], L(`${field}: named as not a known field`));
    }

    // --- Content types
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx', 'text/json']) {
      reject(await send(ep, text, ct), 415, 'UNSUPPORTED_MEDIA_TYPE', L(`content-type ${ct}`));
    }

    // --- Idempotency-Key header bounds (only the operations that take it validate it; others ignore it).
    if (['createPurpose', 'createSubject', 'recordConsents', 'recordObjection'].includes(ep.name)) {
      for (const [label, key] of [
        ['empty', ''],
        ['256 characters', 'k'.repeat(256)],
        ['with a space', 'a b'],
        ['non-ASCII', 'clé'],
      ] as [string, string][]) {
        const res = await send(ep, text, 'application/json', { headers: { 'content-type': 'application/json', 'idempotency-key': key } });
        const body = reject(res, 400, 'VALIDATION_FAILED', L(`Idempotency-Key ${label}`));
        t.match(errorFields(body).join(), /idempotency-key/, L(`Idempotency-Key ${label}: named`));
      }
    }
  }

  // --- Endpoint-specific wrong types: strings where objects are expected, operator objects where strings are.
  const typed: [string, string, string, unknown, string][] = [
    ['POST', '/v1/purposes', 'translations as a string', { key: 'x', legal_basis: 'consent', retention: 'r', translations: 'en' }, 'translations'],
    ['POST', '/v1/purposes', 'key as {"$ne":null}', { key: { $ne: null }, legal_basis: 'consent', retention: 'r', translations: { en: { title: 't', description: 'd' } } }, 'key'],
    ['POST', '/v1/purposes', 'legal_basis as {"$gt":""}', { key: 'x', legal_basis: { $gt: '' }, retention: 'r', translations: { en: { title: 't', description: 'd' } } }, 'legal_basis'],
    ['POST', '/v1/purposes', 'direct_marketing as "true"', { key: 'x', legal_basis: 'consent', direct_marketing: 'true', retention: 'r', translations: { en: { title: 't', description: 'd' } } }, 'direct_marketing'],
    ['POST', '/v1/subjects', 'identifiers as a string', { identifiers: 'ana@example.com' }, 'identifiers'],
    ['POST', '/v1/subjects', 'an identifier as a string', { identifiers: ['ana@example.com'] }, 'identifiers.0'],
    ['POST', '/v1/subjects', 'identifier value as {"$ne":null}', { identifiers: [{ type: 'email', value: { $ne: null } }] }, 'identifiers.0.value'],
    ['POST', '/v1/subjects', 'identifier value as an array', { identifiers: [{ type: 'email', value: ['a', 'b'] }] }, 'identifiers.0.value'],
    ['POST', '/v1/subjects/lookup', 'lookup value as {"$ne":null}', { identifiers: [{ type: 'email', value: { $ne: null } }] }, 'identifiers.0.value'],
    ['POST', `/v1/subjects/${subject}/consents`, 'decisions as a string', { decisions: 'grant' }, 'decisions'],
    ['POST', `/v1/subjects/${subject}/consents`, 'a decision as a string', { decisions: ['grant newsletter'] }, 'decisions.0'],
    ['POST', `/v1/subjects/${subject}/consents`, 'evidence as a string', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: 'yes' }] }, 'decisions.0.evidence'],
    ['POST', `/v1/subjects/${subject}/consents`, 'purpose as {"$ne":null}', { decisions: [{ purpose: { $ne: null }, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] }, 'decisions.0.purpose'],
    ['POST', `/v1/subjects/${subject}/consents`, 'purpose_version as "1"', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' }, purpose_version: '1' }] }, 'decisions.0.purpose_version'],
    ['POST', `/v1/subjects/${subject}/consents`, 'purpose_version 1e400', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' }, purpose_version: 'INF' }] }, 'decisions.0.purpose_version'],
    ['POST', `/v1/subjects/${subject}/consents`, 'occurred_at 2024-02-30', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }], occurred_at: '2024-02-30T00:00:00Z' }, 'occurred_at'],
    ['POST', `/v1/subjects/${subject}/consents`, 'occurred_at without a zone', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }], occurred_at: '2024-02-01T00:00:00' }, 'occurred_at'],
    ['POST', `/v1/subjects/${subject}/consents`, 'evidence ip not an IP', { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { ip: "1.1.1.1' OR 1=1" } }] }, 'decisions.0.evidence.ip'],
    ['POST', `/v1/subjects/${subject}/objections`, 'scope as {"$ne":null}', { scope: { $ne: null } }, 'scope'],
    ['POST', '/v1/consents/check', 'purpose as {"$ne":null}', { purpose: { $ne: null }, identifiers }, 'purpose'],
    ['POST', '/v1/consents/check', 'identifiers as an object', { purpose: 'newsletter', identifiers: { type: 'email', value: 'a@b.co' } }, 'identifiers'],
    ['POST', '/v1/consents/check', 'no identifiers', { purpose: 'newsletter', identifiers: [] }, 'identifiers'],
    ['POST', '/v1/consents/check', 'a 1,000,000-character identifier', { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'a'.repeat(1_000_000) }] }, 'identifiers.0.value'],
    ['PATCH', '/v1/tenant', 'reminder_offsets_days as a string', { reminder_offsets_days: '7,2' }, 'reminder_offsets_days'],
  ];
  for (const [method, url, label, payload, field] of typed) {
    const body = reject(await ta.call({ method: method as 'POST', url, payload: payload as object }), 400, 'VALIDATION_FAILED', label);
    t.ok(errorFields(body).includes(field), `${label}: names ${field} (${errorFields(body)})`);
  }

  // --- SQL-injection strings as purpose keys, in the path and in bodies: 400, never 500.
  for (const key of SQL_INJECTION) {
    const enc = encodeURIComponent(key);
    reject(await ta.call({ method: 'GET', url: `/v1/purposes/${enc}` }), 400, 'VALIDATION_FAILED', `GET purpose ${key}`);
    reject(await ta.call({ method: 'GET', url: `/v1/purposes/${enc}/versions` }), 400, 'VALIDATION_FAILED', `GET versions ${key}`);
    reject(await ta.call({ method: 'PATCH', url: `/v1/purposes/${enc}`, payload: { retention: 'x' } }), 400, 'VALIDATION_FAILED', `PATCH purpose ${key}`);
    reject(
      await ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...endpoints[0].valid, key } }),
      400,
      'VALIDATION_FAILED',
      `POST purpose key ${key}`,
    );
    reject(await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: key, identifiers } }), 400, 'VALIDATION_FAILED', `check purpose ${key}`);
    reject(
      await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/consents`, payload: { decisions: [{ purpose: key, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] } }),
      400,
      'VALIDATION_FAILED',
      `decision purpose ${key}`,
    );
    reject(await ta.call({ method: 'GET', url: `/v1/subjects/${enc}` }), 400, 'VALIDATION_FAILED', `subject id ${key}`);
  }

  // --- Path parameters: over-long, not a UUID, traversal, NUL, broken percent-encoding.
  const long = 'a'.repeat(101);
  for (const url of [`/v1/purposes/${long}`, `/v1/purposes/${long}/versions`, `/v1/subjects/${long}`, `/v1/subjects/${long}/consents`, `/v1/subjects/${long}/consents/history`]) {
    reject(await ta.call({ method: 'GET', url }), 404, undefined, `101-character parameter ${url.slice(0, 20)}`);
  }
  reject(await ta.call({ method: 'PATCH', url: `/v1/purposes/${long}`, payload: { retention: 'x' } }), 404, undefined, '101-character key on PATCH');
  reject(await ta.call({ method: 'POST', url: `/v1/subjects/${'1'.repeat(101)}/consents`, payload: endpoints[4].valid }), 404, undefined, '101-character id on POST');
  for (const url of ['/v1/subjects/not-a-uuid', `/v1/subjects/${subject}x`, '/v1/subjects/..%2F..%2Fetc%2Fpasswd', '/v1/purposes/a%00b', '/v1/purposes/%2e%2e%2f', '/v1/purposes/<script>']) {
    reject(await ta.call({ method: 'GET', url }), 400, 'VALIDATION_FAILED', `path ${url}`);
  }
  reject(await ta.call({ method: 'GET', url: '/v1/purposes/%E0%A4%A' }), 400, 'BAD_URL', 'broken percent-encoding');
  reject(await ta.call({ method: 'GET', url: '/v1/nothing-here' }), 404, 'ROUTE_NOT_FOUND', 'unknown route');
  reject(await ta.call({ method: 'DELETE', url: '/v1/purposes/newsletter' }), 404, 'ROUTE_NOT_FOUND', 'unknown method');

  // --- Query strings: limits and cursors.
  for (const base of ['/v1/purposes', '/v1/purposes/newsletter/versions', `/v1/subjects/${subject}/consents/history`]) {
    for (const q of ['limit=0', 'limit=-1', 'limit=1e9', 'limit=abc', 'limit=1.5', 'limit=201', 'limit=', 'limit=1&limit=2', 'limit=NaN', 'limit=Infinity']) {
      const body = reject(await ta.call({ method: 'GET', url: `${base}?${q}` }), 400, 'VALIDATION_FAILED', `${base}?${q}`);
      t.match(errorFields(body).join(), /limit/, `${base}?${q}: names limit`);
    }
    for (const cursor of ['garbage', 'eyJ', Buffer.from('["other-list",1]').toString('base64url'), Buffer.from('{"$ne":null}').toString('base64url'), '%00', 'x'.repeat(201)]) {
      reject(await ta.call({ method: 'GET', url: `${base}?cursor=${encodeURIComponent(cursor)}` }), 400, 'VALIDATION_FAILED', `${base} cursor ${cursor.slice(0, 12)}`);
    }
  }
  reject(await ta.call({ method: 'GET', url: "/v1/privacy-notice?locale=' OR 1=1--" }), 400, 'VALIDATION_FAILED', 'privacy notice locale injection');

  // --- 10,001 identifiers on the check endpoint: a 400 naming identifiers (10,000 is fine, checked below).
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'email', value: `p${i}@example.com` }));
  const over = reject(await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: many(10_001) } }), 400, 'VALIDATION_FAILED', '10,001 identifiers');
  t.same(errorFields(over), ['identifiers']);
  // 10,000 unknown keys: refused, and the answer stays small (the error list is bounded).
  const keys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 1]));
  const wide = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers, ...keys } });
  reject(wide, 400, 'VALIDATION_FAILED', '10,000 unknown keys');
  t.ok(wide.body.length < 16 * 1024, `the answer to 10,000 unknown keys is bounded (${wide.body.length} bytes)`);
  // 1 MiB + 1 on the bulk endpoint is a 413.
  reject(await send(endpoints[6], withMembers(endpoints[6].valid, `"pad":"${'x'.repeat(1024 * 1024)}"`)), 413, 'PAYLOAD_TOO_LARGE', 'check over 1 MiB');

  t.same(await snapshot(ta), before, 'no rejected request wrote anything');
  t.ok(requestIds.size > 500, `every rejection had its own request id (${requestIds.size})`);

  // --- Controls: the valid bodies the corpus was derived from are accepted, so each rejection above is the mutation's.
  for (const ep of endpoints) {
    const res = await ta.call({ method: ep.method, url: ep.url, payload: ep.valid });
    t.ok([200, 201].includes(res.statusCode), `control ${ep.name}: ${res.statusCode} ${res.statusCode >= 300 ? res.body : ''}`);
  }
  const tenThousand = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: many(10_000) } });
  t.equal(tenThousand.statusCode, 200, '10,000 identifiers are accepted');
  t.equal(tenThousand.json().results.length, 10_000);
  // Injection strings in free text are data, stored and returned literally.
  const literal = await ta.call({
    method: 'POST',
    url: '/v1/purposes',
    payload: { ...endpoints[0].valid, key: 'literal', retention: "'; DROP TABLE consent_events;-- {{7*7}} ${7*7} <script>alert(1)</script> \u202e\u200b 😀" },
  });
  t.equal(literal.statusCode, 201, literal.body);
  t.equal(literal.json().retention, "'; DROP TABLE consent_events;-- {{7*7}} ${7*7} <script>alert(1)</script> \u202e\u200b 😀");
  const still = await ta.sql.query('SELECT count(*)::int AS n FROM consent_events');
  t.ok(still.rows[0].n >= 1, 'consent_events is still there');
});

t.test('x-request-id: on every response, and a valid incoming one is echoed', async (t) => {
  const ta = await build(t);
  const responses: [string, LightMyRequestResponse][] = [
    ['200', await ta.call({ method: 'GET', url: '/v1/purposes' })],
    ['400', await ta.call({ method: 'GET', url: '/v1/purposes?limit=0' })],
    ['401', await ta.app.inject({ method: 'GET', url: '/v1/purposes' })],
    ['403', await ta.call({ method: 'GET', url: '/v1/purposes', scope: 'subjects:read' })],
    ['404 route', await ta.call({ method: 'GET', url: '/v1/nope' })],
    ['404 long parameter', await ta.call({ method: 'GET', url: `/v1/purposes/${'a'.repeat(101)}` })],
    ['400 bad URL', await ta.call({ method: 'GET', url: '/v1/purposes/%E0%A4%A' })],
    ['413', await ta.call({ method: 'POST', url: '/v1/purposes', headers: { 'content-type': 'application/json' }, payload: `{"a":"${'x'.repeat(70_000)}"}` })],
    ['415', await ta.call({ method: 'POST', url: '/v1/purposes', headers: { 'content-type': 'text/plain' }, payload: '{}' })],
    ['healthz', await ta.app.inject({ method: 'GET', url: '/healthz' })],
    ['readyz', await ta.app.inject({ method: 'GET', url: '/readyz' })],
  ];
  const seen = new Set<string>();
  for (const [label, res] of responses) {
    t.match(res.headers['x-request-id'], UUID, `${label}: has a generated x-request-id`);
    seen.add(String(res.headers['x-request-id']));
  }
  t.equal(seen.size, responses.length, 'each response has its own id');

  for (const id of ['abc-123', 'req_1.2:3', 'A'.repeat(128), crypto.randomUUID()]) {
    for (const [label, opts] of [
      ['200', { method: 'GET', url: '/v1/purposes' }],
      ['400', { method: 'GET', url: '/v1/purposes?limit=0' }],
      ['404 long parameter', { method: 'GET', url: `/v1/purposes/${'a'.repeat(101)}` }],
    ] as [string, InjectOptions][]) {
      const res = await ta.call({ ...opts, headers: { 'x-request-id': id } });
      t.equal(res.headers['x-request-id'], id, `${label}: a valid incoming id ${id.slice(0, 10)} is echoed`);
    }
  }
  const unauth = await ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { 'x-request-id': 'from-the-client' } });
  t.equal(unauth.headers['x-request-id'], 'from-the-client', 'echoed on a 401 too');

  // An invalid incoming id is replaced, never reflected.
  for (const bad of ['has space', 'A'.repeat(129), '<script>', 'a/b', '', 'é']) {
    const res = await ta.call({ method: 'GET', url: '/v1/purposes', headers: { 'x-request-id': bad } });
    t.match(res.headers['x-request-id'], UUID, `invalid incoming id ${JSON.stringify(bad.slice(0, 10))} is replaced by a UUID`);
  }
});

t.test('a 400 names a field by a bounded name and never echoes a value', async (t) => {
  const ta = await build(t);
  const purpose = { key: 'fresh', legal_basis: 'consent', retention: '1 year', translations: { en: { title: 'T', description: 'D' } } };
  const longKey = `k${'x'.repeat(5_000)}`;
  const post = (payload: string | object) =>
    ta.call({ method: 'POST', url: '/v1/purposes', payload, headers: typeof payload === 'string' ? { 'content-type': 'application/json' } : {} });

  for (const [label, payload] of [
    ['an unknown key of 5,000 characters', { ...purpose, [longKey]: 1 }],
    ['an unknown nested key of 5,000 characters', { ...purpose, translations: { en: { title: 'T', description: 'D', [longKey]: 1 } } }],
    ['a 5,000-character key holding a NUL', withMembers(purpose, `"${longKey}\\u0000":1`)],
    ['ten unknown keys of 5,000 characters', { ...purpose, ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${i}${longKey}`, 1])) }],
  ] as [string, string | object][]) {
    const res = await post(payload);
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', label);
    t.notOk(res.body.includes('x'.repeat(100)), `${label}: the key is not echoed whole`);
    const fieldNames = errorFields(body);
    t.ok(fieldNames.length >= 1, `${label}: a field is named (${fieldNames.length})`);
    for (const f of fieldNames) t.ok(f.length <= 161, `${label}: field name bounded (${f.length})`);
    t.ok(fieldNames.some((f) => f.includes(`${'x'.repeat(10)}…`)), `${label}: the cut name says it was cut`);
    t.ok(String(body.detail).length <= 2_000, `${label}: the detail is bounded (${String(body.detail).length})`);
    t.ok(res.body.length <= 4_000, `${label}: the answer is bounded (${res.body.length} bytes)`);
  }
  const one = await post({ ...purpose, [longKey]: 1 });
  t.ok(one.body.length < 1_000, `one long unknown key gets a small answer (${one.body.length} bytes)`);
  t.same(one.json().errors, [{ field: `k${'x'.repeat(63)}…`, message: 'is not a known field' }], 'named by its first 64 characters');

  // Values never come back, whatever the failure: wrong enum member, wrong type, too long, bad format.
  const CANARY = 'canary-9d2e-value';
  for (const [label, payload] of [
    ['an enum given an unknown member', { ...purpose, legal_basis: CANARY }],
    ['a boolean given a string', { ...purpose, direct_marketing: CANARY }],
    ['a key in the wrong format', { ...purpose, key: `${CANARY} !` }],
    ['a string too long', { ...purpose, retention: `${CANARY}${'y'.repeat(20_000)}` }],
    ['an object given a string', { ...purpose, translations: CANARY }],
  ] as [string, object][]) {
    const res = await post(payload);
    assertProblem(t, res, 400, 'VALIDATION_FAILED', label);
    t.notOk(res.body.includes('canary-9d2e'), `${label}: the value is not echoed (${res.body.slice(0, 300)})`);
  }
});
