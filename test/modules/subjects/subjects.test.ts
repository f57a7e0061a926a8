import t from 'tap';
import { createHash } from 'node:crypto';
import { build, createSubject, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Identifier = { type: string; value: string };

const post = (ta: TestApp, payload: unknown, opts: { tenantId?: string; key?: string; scope?: string } = {}) =>
  ta.call({
    method: 'POST',
    url: '/v1/subjects',
    payload: payload as object,
    tenantId: opts.tenantId,
    scope: opts.scope,
    headers: opts.key ? { 'idempotency-key': opts.key } : {},
  });

const email = (value: string) => ({ identifiers: [{ type: 'email', value }] });
const phone = (value: string) => ({ identifiers: [{ type: 'phone', value }] });

const lookup = (ta: TestApp, identifiers: Identifier[], tenantId?: string) =>
  ta.call({ method: 'POST', url: '/v1/subjects/lookup', payload: { identifiers }, tenantId });

async function count(ta: TestApp, table: 'subjects' | 'subject_identifiers'): Promise<number> {
  return (await ta.sql.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
}

t.test('POST /v1/subjects creates a subject (201) with normalised identifiers', async (t) => {
  const ta = await build(t);
  const res = await post(ta, { external_ref: 'crm-42', identifiers: [{ type: 'email', value: '  Ana.Ivanova@Example.COM ' }, { type: 'phone', value: '+359 88 123 4567' }] });
  t.equal(res.statusCode, 201, res.body);
  const s = res.json();
  t.match(s, {
    id: /^[0-9a-f-]{36}$/,
    external_ref: 'crm-42',
    status: 'active',
    marketing_objection: false,
    marketing_objection_at: null,
    automated_decision_objection: false,
    automated_decision_objection_at: null,
    restricted: false,
  });
  t.same(s.identifiers, [
    { type: 'email', value: 'ana.ivanova@example.com' },
    { type: 'phone', value: '+359881234567' },
  ]);
  const got = await ta.call({ method: 'GET', url: `/v1/subjects/${s.id}` });
  t.equal(got.statusCode, 200);
  t.same(got.json(), s, 'GET decrypts the same identifiers');
});

t.test('the same email in another case, with spaces or in NFD form finds the SAME subject (200)', async (t) => {
  const ta = await build(t);
  const first = await post(ta, email('józef.müller@example.com'));
  t.equal(first.statusCode, 201);
  const id = first.json().id;
  const variants = [
    'JÓZEF.MÜLLER@EXAMPLE.COM',
    '   józef.müller@example.com\t',
    'józef.müller@example.com'.normalize('NFD'),
    ' JÓZEF.MÜLLER@Example.Com '.normalize('NFD'),
  ];
  for (const v of variants) {
    const res = await post(ta, email(v));
    t.equal(res.statusCode, 200, JSON.stringify(v));
    t.equal(res.json().id, id);
    t.same(res.json().identifiers, [{ type: 'email', value: 'józef.müller@example.com' }]);
  }
  t.equal(await count(ta, 'subjects'), 1);
  t.equal(await count(ta, 'subject_identifiers'), 1);
});

t.test('phone numbers meet whatever their formatting', async (t) => {
  const ta = await build(t);
  const first = await post(ta, phone('+359 88 123 4567'));
  t.equal(first.statusCode, 201, first.body);
  const id = first.json().id;
  for (const v of ['+359881234567', '+359 (88) 123-45-67', '00359 88 123 4567', ' +359.88.123.4567 ']) {
    const res = await post(ta, phone(v));
    t.equal(res.statusCode, 200, v);
    t.equal(res.json().id, id, v);
  }
  t.same((await lookup(ta, [{ type: 'phone', value: '+359881234567' }])).json().id, id);
  t.equal(await count(ta, 'subjects'), 1);
});

t.test('confusable letters do NOT meet the Latin address', async (t) => {
  const ta = await build(t);
  const latin = await createSubject(ta, 'anna@example.com');
  const ivan = await createSubject(ta, 'ivan@example.com');
  const cases: [string, string][] = [
    ['аnna@example.com', latin], // U+0430 CYRILLIC SMALL LETTER A
    ['annа@example.com', latin], // Cyrillic а at the end
    ['anna@exаmple.com', latin], // Cyrillic а in the domain
    ['ıvan@example.com', ivan], // U+0131 LATIN SMALL LETTER DOTLESS I
    ['İvan@example.com', ivan], // U+0130 capital I with dot: lower-cases to i + U+0307, not to i
  ];
  for (const [confusable, original] of cases) {
    const found = await lookup(ta, [{ type: 'email', value: confusable }]);
    assertProblem(t, found, 404, 'SUBJECT_NOT_FOUND');
    const res = await post(ta, email(confusable));
    t.equal(res.statusCode, 201, `${JSON.stringify(confusable)} is a new subject`);
    t.not(res.json().id, original);
  }
  t.equal(await count(ta, 'subjects'), 2 + cases.length);
});

t.test('the Kelvin sign is canonically equivalent to K (NFC), so it meets the Latin address', async (t) => {
  // U+212A KELVIN SIGN has the canonical decomposition U+004B: NFC (which the issue requires) turns it into K, and
  // then lower-casing gives k. Unlike Cyrillic а or dotless ı it is not a distinct letter but the same character.
  const ta = await build(t);
  const kate = await createSubject(ta, 'kate@example.com');
  const res = await post(ta, email('\u212Aate@example.com'));
  t.equal(res.statusCode, 200);
  t.equal(res.json().id, kate);
  t.equal((await lookup(ta, [{ type: 'email', value: '\u212AATE@EXAMPLE.COM' }])).json().id, kate);
});

t.test('an invalid email or a phone without + is a 400 naming identifiers.N.value and creates nothing', async (t) => {
  const ta = await build(t);
  const bad: [Identifier, string][] = [
    [{ type: 'email', value: 'not-an-email' }, 'identifiers.0.value'],
    [{ type: 'email', value: 'two@@example.com' }, 'identifiers.0.value'],
    [{ type: 'email', value: 'ana@example' }, 'identifiers.0.value'],
    [{ type: 'email', value: 'ana smith@example.com' }, 'identifiers.0.value'],
    [{ type: 'phone', value: '088 123 4567' }, 'identifiers.0.value'],
    [{ type: 'phone', value: '359881234567' }, 'identifiers.0.value'],
    [{ type: 'phone', value: '+1 (555) call-me' }, 'identifiers.0.value'],
    [{ type: 'phone', value: '+999 1' }, 'identifiers.0.value'],
    [{ type: 'crm_id', value: '   ' }, 'identifiers.0.value'],
  ];
  for (const [id, field] of bad) {
    const res = await post(ta, { identifiers: [id] });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.same(fields(body), [field], JSON.stringify(id));
    t.notOk(res.body.includes(id.value.trim()) && id.value.trim().length > 3, 'the problem does not echo the value');
  }
  const second = await post(ta, { identifiers: [{ type: 'email', value: 'ok@example.com' }, { type: 'phone', value: '0881234567' }] });
  t.same(fields(assertProblem(t, second, 400, 'VALIDATION_FAILED')), ['identifiers.1.value'], 'the position of the bad one is named');
  const both = await post(ta, { identifiers: [{ type: 'email', value: 'x' }, { type: 'phone', value: 'y' }] });
  t.same(fields(assertProblem(t, both, 400, 'VALIDATION_FAILED')), ['identifiers.0.value', 'identifiers.1.value']);
  t.equal(await count(ta, 'subjects'), 0, 'a rejected request creates nothing, not even for its valid identifiers');
  const lk = await lookup(ta, [{ type: 'email', value: 'nope' }]);
  t.same(fields(assertProblem(t, lk, 400, 'VALIDATION_FAILED')), ['identifiers.0.value'], 'lookup validates the same way');
});

t.test('malformed subject bodies are a 400 naming the field', async (t) => {
  const ta = await build(t);
  const cases: [unknown, string[]][] = [
    [{}, ['identifiers']],
    [{ identifiers: [] }, ['identifiers']],
    [{ identifiers: [{ type: 'fax', value: '123' }] }, ['identifiers.0.type']],
    [{ identifiers: [{ type: 'email' }] }, ['identifiers.0.value']],
    [{ identifiers: [{ type: 'email', value: '' }] }, ['identifiers.0.value']],
    [{ identifiers: [{ type: 'email', value: 'a@example.com', subject_id: crypto.randomUUID() }] }, ['identifiers.0.subject_id']],
    [{ external_ref: 'x', tenant_id: crypto.randomUUID() }, ['tenant_id']],
    [{ external_ref: 'x', status: 'erased' }, ['status']],
    [{ external_ref: '   ' }, ['external_ref']],
    [{ identifiers: Array.from({ length: 21 }, (_, i) => ({ type: 'crm_id', value: `c${i}` })) }, ['identifiers']],
  ];
  for (const [payload, expected] of cases) {
    const res = await post(ta, payload);
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED')), expected, JSON.stringify(payload).slice(0, 80));
  }
  t.equal(await count(ta, 'subjects'), 0);
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/subjects/not-a-uuid' }), 400, 'VALIDATION_FAILED');
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/subjects/lookup', payload: { identifiers: [] } }), 400, 'VALIDATION_FAILED');
});

t.test('identifiers of two different subjects together are a 409 IDENTIFIERS_CONFLICT that changes nothing', async (t) => {
  const ta = await build(t);
  const a = (await post(ta, email('a@example.com'))).json();
  const b = (await post(ta, phone('+359881234567'))).json();
  const both = [{ type: 'email', value: 'A@example.com' }, { type: 'phone', value: '+359 88 123 4567' }];
  assertProblem(t, await post(ta, { identifiers: both }), 409, 'IDENTIFIERS_CONFLICT');
  assertProblem(t, await post(ta, { identifiers: [...both, { type: 'crm_id', value: 'new-one' }] }), 409, 'IDENTIFIERS_CONFLICT');
  assertProblem(t, await lookup(ta, both), 409, 'IDENTIFIERS_CONFLICT');
  t.same((await ta.call({ method: 'GET', url: `/v1/subjects/${a.id}` })).json(), a, 'a gained nothing');
  t.same((await ta.call({ method: 'GET', url: `/v1/subjects/${b.id}` })).json(), b, 'b gained nothing');
  t.equal(await count(ta, 'subjects'), 2);
  t.equal(await count(ta, 'subject_identifiers'), 2, 'the new crm_id of the rejected request was not stored');
});

t.test('an external_ref that belongs to one subject and an email of another is a 409', async (t) => {
  const ta = await build(t);
  await post(ta, { external_ref: 'crm-1' });
  await post(ta, email('b@example.com'));
  assertProblem(t, await post(ta, { external_ref: 'crm-1', ...email('b@example.com') }), 409, 'IDENTIFIERS_CONFLICT');
});

t.test('a known external_ref returns the existing subject and new identifiers join it', async (t) => {
  const ta = await build(t);
  const created = await post(ta, { external_ref: 'crm-7' });
  t.equal(created.statusCode, 201);
  t.same(created.json().identifiers, []);
  const again = await post(ta, { external_ref: 'crm-7', identifiers: [{ type: 'email', value: 'Seven@Example.com' }] });
  t.equal(again.statusCode, 200);
  t.equal(again.json().id, created.json().id);
  t.equal(again.json().external_ref, 'crm-7');
  t.same(again.json().identifiers, [{ type: 'email', value: 'seven@example.com' }]);
  const found = await lookup(ta, [{ type: 'email', value: 'SEVEN@example.com' }]);
  t.equal(found.statusCode, 200);
  t.equal(found.json().id, created.json().id);
  const trimmed = await post(ta, { external_ref: '  crm-7 ' });
  t.equal(trimmed.statusCode, 200, 'the external_ref is trimmed');
  t.equal(trimmed.json().id, created.json().id);
  t.equal(await count(ta, 'subjects'), 1);
});

t.test('a known identifier with a new one returns the subject, now holding both', async (t) => {
  const ta = await build(t);
  const id = await createSubject(ta, 'ana@example.com');
  const res = await post(ta, { identifiers: [{ type: 'email', value: 'ANA@example.com' }, { type: 'customer_id', value: 'C-100' }] });
  t.equal(res.statusCode, 200);
  t.equal(res.json().id, id);
  t.same(res.json().identifiers.map((i: Identifier) => i.type).sort(), ['customer_id', 'email']);
  t.equal((await lookup(ta, [{ type: 'customer_id', value: 'C-100' }])).json().id, id);
  t.same(fields(assertProblem(t, await lookup(ta, [{ type: 'crm_id', value: 'C-100' }]), 404, 'SUBJECT_NOT_FOUND')), [], 'the type is part of the identifier');
});

t.test('lookup finds a subject by any of its identifiers and answers 404 for unknown ones', async (t) => {
  const ta = await build(t);
  const created = (await post(ta, { identifiers: [{ type: 'email', value: 'look@example.com' }, { type: 'crm_id', value: 'L-1' }] })).json();
  const byEmail = await lookup(ta, [{ type: 'email', value: ' LOOK@example.com' }]);
  t.equal(byEmail.statusCode, 200);
  t.same(byEmail.json(), created);
  t.equal((await lookup(ta, [{ type: 'crm_id', value: 'L-1' }])).json().id, created.id);
  t.equal((await lookup(ta, [{ type: 'email', value: 'unknown@example.com' }, { type: 'crm_id', value: 'L-1' }])).json().id, created.id, 'one known identifier is enough');
  const none = await lookup(ta, [{ type: 'email', value: 'unknown@example.com' }]);
  const body = assertProblem(t, none, 404, 'SUBJECT_NOT_FOUND');
  t.notMatch(none.body, /unknown@example\.com/, 'the 404 does not echo the identifier');
  t.ok(body.detail);
  t.equal(await count(ta, 'subjects'), 1, 'lookup never creates');
});

t.test("another tenant's subject answers 404 on GET and is not found by lookup", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other');
  const id = await createSubject(ta, 'ana@example.com');
  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/subjects/${id}`, tenantId: other }), 404, 'SUBJECT_NOT_FOUND');
  assertProblem(t, await lookup(ta, [{ type: 'email', value: 'ana@example.com' }], other), 404, 'SUBJECT_NOT_FOUND');
  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/subjects/${crypto.randomUUID()}` }), 404, 'SUBJECT_NOT_FOUND');
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${id}` })).statusCode, 200);
});

t.test('the same email in two tenants makes two subjects with unrelated blind indexes', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other');
  const value = 'shared@example.com';
  const mine = await post(ta, email(value));
  const theirs = await post(ta, email(value), { tenantId: other });
  t.equal(mine.statusCode, 201);
  t.equal(theirs.statusCode, 201, 'a subject of another tenant is not found');
  t.not(mine.json().id, theirs.json().id);

  const rows = (await ta.sql.query('SELECT tenant_id, subject_id, blind_index, value_sealed FROM subject_identifiers ORDER BY tenant_id')).rows as {
    tenant_id: string;
    subject_id: string;
    blind_index: Buffer;
    value_sealed: Buffer;
  }[];
  t.equal(rows.length, 2);
  const [x, y] = rows as [(typeof rows)[0], (typeof rows)[0]];
  t.not(x.tenant_id, y.tenant_id);
  t.equal(x.blind_index.length, 32);
  t.notOk(x.blind_index.equals(y.blind_index), 'the blind indexes differ between tenants');
  t.notOk(x.value_sealed.equals(y.value_sealed));
  const unkeyed = [createHash('sha256').update(value).digest(), createHash('sha256').update(`email\u0000${value}`).digest()];
  for (const row of rows) t.ok(unkeyed.every((h) => !h.equals(row.blind_index)), 'the index is keyed, not a bare hash of the address');
});

t.test('no plaintext identifier is stored anywhere in the database', async (t) => {
  const ta = await build(t);
  const secrets = ['plaintext.person@example.com', '+359881234567', 'CRM-SECRET-77'];
  const res = await post(
    ta,
    { identifiers: [{ type: 'email', value: 'Plaintext.Person@Example.com' }, { type: 'phone', value: '+359 88 123 4567' }, { type: 'crm_id', value: 'CRM-SECRET-77' }] },
    { key: 'plaintext-check-1' },
  );
  t.equal(res.statusCode, 201, res.body);
  t.equal((await post(ta, email('plaintext.person@example.com'), { key: 'plaintext-check-2' })).statusCode, 200);
  t.equal((await lookup(ta, [{ type: 'email', value: 'plaintext.person@example.com' }])).statusCode, 200);
  t.ok(res.body.includes(secrets[0]!), 'the caller does get the identifiers back');

  const tables = (await ta.sql.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tablename as string);
  t.ok(tables.includes('subjects') && tables.includes('subject_identifiers') && tables.includes('idempotency_keys'));
  const dump: string[] = [];
  for (const table of tables) {
    const rows = (await ta.sql.query(`SELECT t::text AS row FROM "${table}" t`)).rows as { row: string }[];
    dump.push(...rows.map((r) => `${table}: ${r.row}`));
  }
  t.ok(dump.some((d) => d.startsWith('subject_identifiers:')), 'the dump holds the identifier rows');
  const text = dump.join('\n').toLowerCase();
  for (const s of secrets) {
    const lower = s.toLowerCase();
    t.notOk(text.includes(lower), `${s} is not in any column as text`);
    t.notOk(text.includes(Buffer.from(lower).toString('hex')), `${s} is not in any bytea column`);
    t.notOk(text.includes(Buffer.from(s).toString('hex').toLowerCase()), `${s} is not in any bytea column (original case)`);
  }
  t.notOk(text.includes('plaintext.person'), 'not even the local part');
});

t.test('Idempotency-Key: the same key and body return the first answer; another body is a 409', async (t) => {
  const ta = await build(t);
  const body = { external_ref: 'idem-1', ...email('idem@example.com') };
  const first = await post(ta, body, { key: 'create-idem-1' });
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed'], 'the first answer is not a replay');
  const retry = await post(ta, body, { key: 'create-idem-1' });
  t.equal(retry.statusCode, 201, 'the retry gets the first status, not 200');
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(retry.json(), first.json());

  const reuse = await post(ta, { external_ref: 'idem-2', ...email('other@example.com') }, { key: 'create-idem-1' });
  assertProblem(t, reuse, 409, 'IDEMPOTENCY_KEY_REUSED');
  assertProblem(t, await lookup(ta, [{ type: 'email', value: 'other@example.com' }]), 404, 'SUBJECT_NOT_FOUND');
  t.equal(await count(ta, 'subjects'), 1);

  const otherTenant = await ta.newTenant('Other');
  const theirs = await post(ta, body, { key: 'create-idem-1', tenantId: otherTenant });
  t.equal(theirs.statusCode, 201, 'keys are per tenant');
  t.notOk(theirs.headers['idempotent-replayed']);
  t.not(theirs.json().id, first.json().id);
});

t.test('Idempotency-Key: a replayed 200 stays a 200 with the same subject', async (t) => {
  const ta = await build(t);
  const id = await createSubject(ta, 'known@example.com');
  const a = await post(ta, email('KNOWN@example.com'), { key: 'k-200' });
  const b = await post(ta, email('KNOWN@example.com'), { key: 'k-200' });
  t.equal(a.statusCode, 200);
  t.equal(b.statusCode, 200);
  t.equal(b.headers['idempotent-replayed'], 'true');
  t.equal(a.json().id, id);
  t.same(b.json(), a.json());
});

t.test('Idempotency-Key: a request that failed does not use up its key', async (t) => {
  const ta = await build(t);
  await createSubject(ta, 'a@example.com');
  await post(ta, phone('+359881234567'));
  const conflict = await post(ta, { identifiers: [{ type: 'email', value: 'a@example.com' }, { type: 'phone', value: '+359881234567' }] }, { key: 'k-fail' });
  assertProblem(t, conflict, 409, 'IDENTIFIERS_CONFLICT');
  const fixed = await post(ta, email('c@example.com'), { key: 'k-fail' });
  t.equal(fixed.statusCode, 201, 'the corrected retry is served, not refused as a reused key');
  t.notOk(fixed.headers['idempotent-replayed']);
});

t.test('Idempotency-Key: concurrent retries with one key create one subject', async (t) => {
  const ta = await build(t);
  const results = await Promise.all(Array.from({ length: 10 }, () => post(ta, email('race-idem@example.com'), { key: 'race-key' })));
  t.same(results.map((r) => r.statusCode), Array(10).fill(201));
  t.equal(new Set(results.map((r) => r.json().id)).size, 1);
  t.equal(results.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 9);
  t.equal(await count(ta, 'subjects'), 1);
});

t.test('20 concurrent POSTs of one new email create exactly one subject', async (t) => {
  const ta = await build(t);
  const variants = ['race@example.com', 'RACE@example.com', ' race@example.com '];
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(ta, email(variants[i % variants.length]!))));
  const statuses = results.map((r) => r.statusCode);
  t.equal(statuses.filter((s) => s === 201).length, 1, `one 201: ${statuses.join(',')}`);
  t.equal(statuses.filter((s) => s === 200).length, 19, 'the rest 200');
  t.equal(new Set(results.map((r) => r.json().id)).size, 1, 'all the same id');
  t.equal(await count(ta, 'subjects'), 1);
  t.equal(await count(ta, 'subject_identifiers'), 1);
});

t.test('concurrent POSTs of one new external_ref create exactly one subject', async (t) => {
  const ta = await build(t);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => post(ta, { external_ref: 'crm-race', identifiers: [{ type: 'crm_id', value: `c-${i}` }] })));
  t.same(results.map((r) => r.statusCode).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  t.equal(new Set(results.map((r) => r.json().id)).size, 1);
  t.equal(await count(ta, 'subjects'), 1);
  t.equal(await count(ta, 'subject_identifiers'), 10, 'every identifier joined the one subject');
});

t.test('subject endpoints need their scopes', async (t) => {
  const ta = await build(t);
  const id = await createSubject(ta, 'scoped@example.com');
  assertProblem(t, await post(ta, email('new@example.com'), { scope: 'subjects:read' }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/subjects/${id}`, scope: 'subjects:write' }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/subjects/lookup', scope: 'subjects:write', payload: email('scoped@example.com') }), 403, 'FORBIDDEN');
  t.equal(await count(ta, 'subjects'), 1, 'the refused POST created nothing');
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${id}`, scope: 'subjects:read' })).statusCode, 200);
  t.equal((await post(ta, email('new@example.com'), { scope: 'subjects:write' })).statusCode, 201);
  assertProblem(t, await ta.app.inject({ method: 'GET', url: `/v1/subjects/${id}` }), 401, 'UNAUTHORIZED');
});
