// The connected-system resource: create (both reaches), get, list with filters, patch, soft delete, validation,
// the exactly-one-reach rule, processors as recipients, and Idempotency-Key.
import t from 'tap';
import { build } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';
import { snapshot } from '../../helpers/snapshot.js';
import { createEndpoint, createSystem, ENV, type System } from './systems.fixtures.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A valid address of exactly `length` characters: a 64-character local part, domain labels of up to 50. */
function emailOfLength(length: number): string {
  let domain = 'example';
  while (domain.length < length - 65) domain = `${'b'.repeat(Math.min(50, length - 65 - domain.length - 1))}.${domain}`;
  const email = `${'a'.repeat(64)}@${domain}`;
  if (email.length !== length) throw new Error(`emailOfLength(${length}) gave ${email.length}`);
  return email;
}

t.test('create reached by email: 201 with the defaults; get and list show the same', async (t) => {
  const ta = await build(t, { env: ENV });
  const res = await ta.call({
    method: 'POST',
    url: '/v1/systems',
    payload: { name: '  Newsletter tool ', kind: 'mailing', contact_email: 'dpo@mailer.example' },
  });
  t.equal(res.statusCode, 201, res.body);
  const created = res.json();
  t.match(created, {
    id: UUID,
    name: 'Newsletter tool',
    kind: 'mailing',
    data_categories: [],
    handles: [],
    recipient: false,
    processor: false,
    webhook_endpoint_id: null,
    contact_email: 'dpo@mailer.example',
  });
  t.equal(created.created_at, created.updated_at);

  const got = await ta.call({ method: 'GET', url: `/v1/systems/${created.id}` });
  t.equal(got.statusCode, 200);
  t.same(got.json(), created, 'GET shows what create showed');
  const list = await ta.call({ method: 'GET', url: '/v1/systems' });
  t.same(list.json(), { items: [created], next_cursor: null });

  const { rows } = await ta.sql.query('SELECT tenant_id, name, deleted_at FROM systems');
  t.same(rows, [{ tenant_id: ta.tenantId, name: 'Newsletter tool', deleted_at: null }], 'one row, the name trimmed');
});

t.test('create reached through a webhook endpoint, with everything it can hold', async (t) => {
  const ta = await build(t, { env: ENV });
  const endpoint = await createEndpoint(ta);
  const sys = await createSystem(ta, {
    name: 'Warehouse',
    kind: 'warehouse',
    data_categories: ['contact details', ' order history '],
    handles: ['erasure', 'export'],
    recipient: true,
    webhook_endpoint_id: endpoint,
  });
  t.match(sys, {
    kind: 'warehouse',
    data_categories: ['contact details', 'order history'],
    handles: ['erasure', 'export'],
    recipient: true,
    processor: false,
    webhook_endpoint_id: endpoint,
    contact_email: null,
  });
  // A disabled endpoint is still the system's: it can be re-enabled.
  await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${endpoint}`, payload: { enabled: false } });
  t.equal((await createSystem(ta, { name: 'Second', webhook_endpoint_id: endpoint })).webhook_endpoint_id, endpoint, 'a disabled endpoint can reach a system');
});

t.test("a deleted endpoint, another tenant's endpoint and an unknown id are the same 422, and nothing is written", async (t) => {
  const ta = await build(t, { env: ENV });
  const other = await ta.newTenant('Other');
  const theirs = await createEndpoint(ta, other);
  const deleted = await createEndpoint(ta);
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/webhook-endpoints/${deleted}` })).statusCode, 204);
  const sys = await createSystem(ta);
  const before = await snapshot(ta);
  const bodies: Record<string, unknown>[] = [];
  for (const [label, id] of [
    ["another tenant's endpoint", theirs],
    ['a deleted endpoint', deleted],
    ['an unknown id', crypto.randomUUID()],
  ] as const) {
    const created = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'CRM', kind: 'crm', webhook_endpoint_id: id } });
    const { instance: _i, ...body } = assertProblem(t, created, 422, 'UNKNOWN_WEBHOOK_ENDPOINT', `create: ${label}`);
    bodies.push(body);
    const patched = await ta.call({ method: 'PATCH', url: `/v1/systems/${sys.id}`, payload: { webhook_endpoint_id: id } });
    assertProblem(t, patched, 422, 'UNKNOWN_WEBHOOK_ENDPOINT', `patch: ${label}`);
  }
  t.same(bodies[0], bodies[2], "another tenant's endpoint is indistinguishable from an unknown one");
  t.same(await snapshot(ta), before, 'nothing was written');
});

t.test('exactly one reach: neither or both is a 400 naming both fields, on create; both at once on patch', async (t) => {
  const ta = await build(t, { env: ENV });
  const endpoint = await createEndpoint(ta);
  const sys = await createSystem(ta);
  const before = await snapshot(ta);
  const post = (payload: object) => ta.call({ method: 'POST', url: '/v1/systems', payload });
  const neither = assertProblem(t, await post({ name: 'CRM', kind: 'crm' }), 400, 'VALIDATION_FAILED', 'neither');
  t.same(fields(neither), ['contact_email', 'webhook_endpoint_id']);
  const both = assertProblem(t, await post({ name: 'CRM', kind: 'crm', contact_email: 'a@b.example', webhook_endpoint_id: endpoint }), 400, 'VALIDATION_FAILED', 'both');
  t.same(fields(both), ['contact_email', 'webhook_endpoint_id']);
  const patchBoth = await ta.call({ method: 'PATCH', url: `/v1/systems/${sys.id}`, payload: { contact_email: 'a@b.example', webhook_endpoint_id: endpoint } });
  t.same(fields(assertProblem(t, patchBoth, 400, 'VALIDATION_FAILED', 'patch both')), ['contact_email', 'webhook_endpoint_id']);
  for (const field of ['contact_email', 'webhook_endpoint_id']) {
    const cleared = await ta.call({ method: 'PATCH', url: `/v1/systems/${sys.id}`, payload: { [field]: null } });
    t.same(fields(assertProblem(t, cleared, 400, 'VALIDATION_FAILED', `patch ${field}: null`)), [field], 'the reach cannot be removed, only switched');
  }
  t.same(await snapshot(ta), before, 'nothing was written');
});

t.test('validation on create: each bad field is a 400 naming it, and nothing is written', async (t) => {
  const ta = await build(t, { env: ENV });
  const before = await snapshot(ta);
  const valid = { name: 'CRM', kind: 'crm', contact_email: 'privacy@crm.example' };
  const cases: [string, Record<string, unknown>, string][] = [
    ['blank name', { name: '   ' }, 'name'],
    ['empty name', { name: '' }, 'name'],
    ['name of 201 characters', { name: 'x'.repeat(201) }, 'name'],
    ['name not a string', { name: 5 }, 'name'],
    ['unknown kind', { kind: 'erp' }, 'kind'],
    ['blank category', { data_categories: ['contact', ' '] }, 'data_categories.1'],
    ['category of 101 characters', { data_categories: ['y'.repeat(101)] }, 'data_categories.0'],
    ['51 categories', { data_categories: Array.from({ length: 51 }, (_, i) => `c${i}`) }, 'data_categories'],
    ['repeated category', { data_categories: ['contact', 'contact'] }, 'data_categories'],
    ['repeated after trimming', { data_categories: ['contact', ' contact'] }, 'data_categories'],
    ['categories not a list', { data_categories: 'contact' }, 'data_categories'],
    ['unknown action', { handles: ['erasure', 'deletion'] }, 'handles.1'],
    ['repeated action', { handles: ['erasure', 'erasure'] }, 'handles'],
    ['recipient not a boolean', { recipient: 'yes' }, 'recipient'],
    ['processor not a boolean', { processor: 1 }, 'processor'],
    ['not an email', { contact_email: 'privacy at crm' }, 'contact_email'],
    ['email of 255 characters', { contact_email: emailOfLength(255) }, 'contact_email'],
    ['endpoint id not a uuid', { contact_email: undefined, webhook_endpoint_id: 'endpoint-1' }, 'webhook_endpoint_id'],
  ];
  for (const [label, change, field] of cases) {
    const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: { ...valid, ...change } });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', label)), [field], `${label}: names ${field}`);
  }
  for (const field of ['id', 'tenant_id', 'deleted_at', 'created_at', 'reach']) {
    const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: { ...valid, [field]: 'x' } });
    t.same(assertProblem(t, res, 400, 'VALIDATION_FAILED', `unknown ${field}`).errors, [{ field, message: 'is not a known field' }]);
  }
  const missing = assertProblem(t, await ta.call({ method: 'POST', url: '/v1/systems', payload: { contact_email: 'a@b.example' } }), 400, 'VALIDATION_FAILED', 'missing');
  t.same(fields(missing), ['kind', 'name']);
  t.same(await snapshot(ta), before, 'nothing was written');

  // The limits themselves are accepted.
  const edge = await createSystem(ta, {
    name: 'n'.repeat(200),
    data_categories: Array.from({ length: 50 }, (_, i) => `${i}`.padEnd(100, 'c')),
    handles: ['erasure', 'rectification', 'restriction', 'export'],
    contact_email: emailOfLength(254),
  });
  t.equal(edge.data_categories.length, 50);
  t.equal(edge.contact_email!.length, 254);
});

t.test('processors are recipients (Art. 4(9)): processor true makes recipient true; a contradiction is a 422', async (t) => {
  const ta = await build(t, { env: ENV });
  const p = await createSystem(ta, { name: 'Payroll processor', kind: 'payment', processor: true });
  t.match(p, { processor: true, recipient: true }, 'recipient follows processor');
  const { rows } = await ta.sql.query('SELECT recipient FROM systems WHERE id = $1', [p.id]);
  t.equal(rows[0].recipient, true, 'and is stored so');
  t.match(await createSystem(ta, { processor: true, recipient: true }), { processor: true, recipient: true });
  t.match(await createSystem(ta, { processor: false, recipient: true }), { processor: false, recipient: true }, 'a recipient need not be a processor');

  const before = await snapshot(ta);
  const contradiction = await ta.call({
    method: 'POST',
    url: '/v1/systems',
    payload: { name: 'X', kind: 'other', processor: true, recipient: false, contact_email: 'x@y.example' },
  });
  assertProblem(t, contradiction, 422, 'PROCESSOR_IS_RECIPIENT', 'create: processor without recipient');
  const patch = (id: string, payload: object) => ta.call({ method: 'PATCH', url: `/v1/systems/${id}`, payload });
  assertProblem(t, await patch(p.id, { recipient: false }), 422, 'PROCESSOR_IS_RECIPIENT', 'patch: recipient false on a processor');
  t.same(await snapshot(ta), before, 'nothing was written');

  const notProcessor = await patch(p.id, { processor: false });
  t.match(notProcessor.json(), { processor: false, recipient: true }, 'no longer a processor: still a recipient, the data was disclosed to it');
  t.match((await patch(p.id, { recipient: false })).json(), { processor: false, recipient: false }, 'then recipient can be turned off');
  t.match((await patch(p.id, { processor: true })).json(), { processor: true, recipient: true }, 'a new processor becomes a recipient');
  t.match((await patch(p.id, { processor: false, recipient: false })).json(), { processor: false, recipient: false }, 'both off at once');
});

t.test('a system that handles nothing and is not a recipient is kept for the record', async (t) => {
  const ta = await build(t, { env: ENV });
  const sys = await createSystem(ta, { name: 'Archive', kind: 'other', handles: [], recipient: false });
  t.match(sys, { handles: [], recipient: false, processor: false });
  t.same((await ta.call({ method: 'GET', url: '/v1/systems' })).json().items.map((s: System) => s.id), [sys.id]);
});

t.test('list: newest first, every system once across pages, filters by handles and recipient', async (t) => {
  const ta = await build(t, { env: ENV });
  const specs: Record<string, unknown>[] = [
    { name: 'a', handles: ['erasure'] },
    { name: 'b', handles: ['export'], recipient: true },
    { name: 'c', handles: ['erasure', 'rectification'], processor: true },
    { name: 'd' },
    { name: 'e', handles: ['erasure'], recipient: true },
  ];
  const made: System[] = [];
  for (const s of specs) made.push(await createSystem(ta, s));
  const other = await ta.newTenant('Other');
  await createSystem(ta, { name: 'theirs', handles: ['erasure'], recipient: true }, other);
  const deleted = await createSystem(ta, { name: 'gone', handles: ['erasure'], recipient: true });
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/systems/${deleted.id}` })).statusCode, 204);

  const walk = async (query: string, limit: number) => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await ta.call({ method: 'GET', url: `/v1/systems?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
      t.equal(res.statusCode, 200, `${query} page ${page}`);
      const body = res.json();
      sizes.push(body.items.length);
      seen.push(...body.items.map((s: System) => s.name));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return { seen, sizes };
  };
  const all = await walk('', 2);
  t.same(all.sizes, [2, 2, 1]);
  t.same(all.seen, ['e', 'd', 'c', 'b', 'a'], "newest first; not the other tenant's, not the deleted one");
  t.same((await walk('&handles=erasure', 1)).seen, ['e', 'c', 'a'], 'handles=erasure');
  t.same((await walk('&handles=export', 50)).seen, ['b']);
  t.same((await walk('&recipient=true', 2)).seen, ['e', 'c', 'b'], 'recipient=true: processors included');
  t.same((await walk('&recipient=false', 50)).seen, ['d', 'a']);
  t.same((await walk('&handles=erasure&recipient=true', 1)).seen, ['e', 'c'], 'both filters');

  const first = (await ta.call({ method: 'GET', url: '/v1/systems?limit=1' })).json().next_cursor;
  t.equal((await ta.call({ method: 'GET', url: `/v1/systems?limit=1&handles=erasure&cursor=${first}` })).json().items[0].name, 'c', 'a cursor is a position: filters may change between pages');
  for (const [label, q] of [
    ['broken cursor', 'cursor=not-a-cursor'],
    ['unknown action', 'handles=deletion'],
    ['recipient=yes', 'recipient=yes'],
    ['limit 0', 'limit=0'],
  ] as const) {
    const res = await ta.call({ method: 'GET', url: `/v1/systems?${q}` });
    t.match(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', label)).join(), /^query\./, `${label} names the query parameter`);
  }
  const webhookCursor = await (async () => {
    for (let i = 0; i < 2; i++) await createEndpoint(ta);
    return (await ta.call({ method: 'GET', url: '/v1/webhook-endpoints?limit=1' })).json().next_cursor;
  })();
  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/systems?cursor=${webhookCursor}` }), 400, 'VALIDATION_FAILED', "another list's cursor");
});

t.test('patch: partial; switching the reach either way; refusals change nothing', async (t) => {
  const ta = await build(t, { env: ENV });
  const endpoint = await createEndpoint(ta);
  const sys = await createSystem(ta, { name: 'CRM', kind: 'crm', data_categories: ['contact'], handles: ['erasure'] });
  const patch = (payload: object) => ta.call({ method: 'PATCH', url: `/v1/systems/${sys.id}`, payload });

  const renamed = await patch({ name: 'Main CRM' });
  t.equal(renamed.statusCode, 200);
  t.match(renamed.json(), { name: 'Main CRM', kind: 'crm', data_categories: ['contact'], handles: ['erasure'], contact_email: 'privacy@mailer.example' }, 'other fields kept');
  t.ok(renamed.json().updated_at >= sys.updated_at, 'updated_at moves on');
  t.equal(renamed.json().created_at, sys.created_at);

  const toHook = await patch({ webhook_endpoint_id: endpoint });
  t.match(toHook.json(), { webhook_endpoint_id: endpoint, contact_email: null }, 'switched to the endpoint; the email cleared');
  const toEmail = await patch({ contact_email: 'dpo@crm.example' });
  t.match(toEmail.json(), { webhook_endpoint_id: null, contact_email: 'dpo@crm.example' }, 'switched back to email; the endpoint cleared');
  const changed = await patch({ kind: 'support', data_categories: [], handles: ['rectification', 'restriction'], recipient: true });
  t.match(changed.json(), { kind: 'support', data_categories: [], handles: ['rectification', 'restriction'], recipient: true });
  t.same((await patch({})).json(), changed.json(), 'an empty patch changes nothing');
  t.same((await ta.call({ method: 'GET', url: `/v1/systems/${sys.id}` })).json(), changed.json(), 'GET agrees');

  const before = await snapshot(ta);
  for (const [label, payload, field] of [
    ['blank name', { name: ' ' }, 'name'],
    ['unknown kind', { kind: 'erp' }, 'kind'],
    ['repeated action', { handles: ['export', 'export'] }, 'handles'],
    ['bad email', { contact_email: 'nope' }, 'contact_email'],
    ['null name', { name: null }, 'name'],
    ['unknown field', { deleted_at: null }, 'deleted_at'],
  ] as const) {
    t.same(fields(assertProblem(t, await patch(payload), 400, 'VALIDATION_FAILED', label)), [field], `${label} names ${field}`);
  }
  assertProblem(t, await ta.call({ method: 'PATCH', url: `/v1/systems/${crypto.randomUUID()}`, payload: { name: 'x' } }), 404, 'SYSTEM_NOT_FOUND', 'unknown id');
  t.same(await snapshot(ta), before, 'refused patches changed nothing');
});

t.test('delete: 204, then 404 on every route and absent from lists; the row stays for the history', async (t) => {
  const ta = await build(t, { env: ENV });
  const sys = await createSystem(ta, { handles: ['erasure'], recipient: true });
  const keep = await createSystem(ta, { name: 'Kept' });
  const del = await ta.call({ method: 'DELETE', url: `/v1/systems/${sys.id}` });
  t.equal(del.statusCode, 204);
  t.equal(del.body, '');
  for (const [method, payload] of [['GET'], ['PATCH', { name: 'again' }], ['DELETE']] as const) {
    assertProblem(t, await ta.call({ method, url: `/v1/systems/${sys.id}`, payload }), 404, 'SYSTEM_NOT_FOUND', `after delete: ${method}`);
  }
  t.same((await ta.call({ method: 'GET', url: '/v1/systems' })).json().items.map((s: System) => s.id), [keep.id], 'not listed');
  t.same((await ta.call({ method: 'GET', url: '/v1/systems?recipient=true' })).json().items, [], 'not listed under a filter either');
  const { rows } = await ta.sql.query('SELECT name, deleted_at FROM systems WHERE id = $1', [sys.id]);
  t.equal(rows[0].name, 'Mailing tool', 'the row is kept');
  t.ok(rows[0].deleted_at instanceof Date, 'marked deleted');
  const found = await ta.scoped(() => ta.app.services.systems.find(ta.tenantId, sys.id));
  t.match(found, { id: sys.id, name: 'Mailing tool', deletedAt: Date }, 'find() still returns it, with deletedAt');
});

t.test('Idempotency-Key on create: a retry returns the first answer, one system; another body is a 409', async (t) => {
  const ta = await build(t, { env: ENV });
  const headers = { 'idempotency-key': 'system-create-1' };
  const payload = { name: 'CRM', kind: 'crm', contact_email: 'privacy@crm.example' };
  const first = await ta.call({ method: 'POST', url: '/v1/systems', headers, payload });
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const retry = await ta.call({ method: 'POST', url: '/v1/systems', headers, payload });
  t.equal(retry.statusCode, 201);
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(retry.json(), first.json(), 'the same system');
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/systems', headers, payload: { ...payload, name: 'Other CRM' } }), 409, 'IDEMPOTENCY_KEY_REUSED');
  const { rows } = await ta.sql.query('SELECT id FROM systems');
  t.same(rows.map((r) => r.id), [first.json().id], 'exactly one system was created');

  // A refusal inside the keyed transaction stores nothing: the same key works once the cause is fixed.
  const refusedKey = { 'idempotency-key': 'system-create-2' };
  const badEndpoint = { name: 'Hooked', kind: 'crm', webhook_endpoint_id: crypto.randomUUID() };
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/systems', headers: refusedKey, payload: badEndpoint }), 422, 'UNKNOWN_WEBHOOK_ENDPOINT', 'keyed refusal');
  const { rows: keys } = await ta.sql.query('SELECT key FROM idempotency_keys ORDER BY key');
  t.same(keys.map((r) => r.key), ['system-create-1'], 'the refused request stored no answer');
  const endpoint = await createEndpoint(ta);
  const fixed = await ta.call({ method: 'POST', url: '/v1/systems', headers: refusedKey, payload: { ...badEndpoint, webhook_endpoint_id: endpoint } });
  t.equal(fixed.statusCode, 201, 'the key is free after a refusal');

  const other = await ta.newTenant('Other');
  const theirs = await ta.call({ method: 'POST', url: '/v1/systems', headers, payload, tenantId: other });
  t.equal(theirs.statusCode, 201);
  t.notOk(theirs.headers['idempotent-replayed'], 'keys are per tenant');
  t.not(theirs.json().id, first.json().id);
});
