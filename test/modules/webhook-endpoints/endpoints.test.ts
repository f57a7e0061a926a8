// The webhook-endpoint resource: create (secret shown once), list, get, patch, delete, validation, scopes,
// tenant isolation and Idempotency-Key. Only loopback URLs are ever delivered to.
import t from 'tap';
import { ALL_SCOPES, build, createSubject } from '../../helper.js';
import { assertProblem, errorFields } from '../../helpers/problem.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, deliveriesOf, sleep, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const ENV = fastWorkerEnv({
  WEBHOOK_RETRY_DELAYS: '200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms',
});

// Never delivered to in this file except where a worker runs; the discard port refuses on loopback at worst.
const HOOK = 'http://127.0.0.1:9/hook';

t.test('create returns 201 with the secret once; get and list never show it', async (t) => {
  const ta = await build(t, { env: ENV });
  const res = await ta.call({
    method: 'POST',
    url: '/v1/webhook-endpoints',
    payload: { url: HOOK, event_types: ['consent.granted', 'consent.granted', 'subject.created'], description: 'CRM sync' },
  });
  t.equal(res.statusCode, 201);
  const created = res.json();
  t.match(created, {
    id: String,
    url: HOOK,
    description: 'CRM sync',
    status: 'active',
    disabled_reason: null,
    failing_since: null,
    previous_secret_expires_at: null,
  });
  t.same(created.event_types.sort(), ['consent.granted', 'subject.created'], 'event types deduplicated');
  t.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a Standard Webhooks secret (32 bytes)');

  const got = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${created.id}` });
  t.equal(got.statusCode, 200);
  t.notOk('secret' in got.json(), 'GET has no secret');
  t.notOk(got.body.includes(created.secret.slice(6)), 'GET body does not contain the secret anywhere');
  const { secret: _secret, ...withoutSecret } = created;
  t.same(got.json(), withoutSecret, 'GET shows what create showed, minus the secret');

  const list = await ta.call({ method: 'GET', url: '/v1/webhook-endpoints' });
  t.equal(list.statusCode, 200);
  t.equal(list.json().items.length, 1);
  t.notOk('secret' in list.json().items[0], 'list has no secret');
  t.notOk(list.body.includes(created.secret.slice(6)), 'list body does not contain the secret');

  // The secret is sealed at rest: the row does not hold it in plaintext.
  const { rows } = await ta.sql.query(`SELECT encode(secret_sealed, 'escape') AS s FROM webhook_endpoints WHERE id = $1`, [created.id]);
  t.notOk(String(rows[0].s).includes(created.secret.slice(6)), 'the stored secret is sealed');
});

t.test('list: newest first, cursor pagination over every endpoint, each once', async (t) => {
  const ta = await build(t, { env: ENV });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await createEndpoint(ta, `${HOOK}/${i}`, ['subject.created'])).id);
  const other = await ta.newTenant('Other');
  await createEndpoint(ta, `${HOOK}/other`, ['*'], other);

  const seen: string[] = [];
  const pageSizes: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page++) {
    const res = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
    t.equal(res.statusCode, 200, `page ${page}`);
    const body = res.json();
    pageSizes.push(body.items.length);
    seen.push(...body.items.map((e: { id: string }) => e.id));
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  t.same(pageSizes, [2, 2, 1], 'three pages of 2, 2, 1');
  t.same(seen, [...ids].reverse(), 'newest first, every endpoint of the tenant exactly once, none of the other tenant');

  const bad = await ta.call({ method: 'GET', url: '/v1/webhook-endpoints?cursor=not-a-cursor' });
  t.equal(bad.statusCode, 400, 'a broken cursor is a 400');
});

t.test('patch: url, event types, description, enabled false and true', async (t) => {
  const ta = await build(t, { env: ENV });
  const { id, secret } = await createEndpoint(ta, HOOK, ['subject.created']);
  const patch = (payload: object) => ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload });

  const url = await patch({ url: 'http://127.0.0.1:9/moved' });
  t.equal(url.statusCode, 200);
  t.equal(url.json().url, 'http://127.0.0.1:9/moved');
  t.notOk('secret' in url.json(), 'no secret in a PATCH answer');

  const types = await patch({ event_types: ['consent.withdrawn', 'subject.objected'] });
  t.same(types.json().event_types, ['consent.withdrawn', 'subject.objected']);
  t.equal(types.json().url, 'http://127.0.0.1:9/moved', 'other fields kept');

  t.equal((await patch({ description: 'described' })).json().description, 'described');
  t.equal((await patch({ description: null })).json().description, null, 'description cleared with null');

  const off = await patch({ enabled: false });
  t.equal(off.json().status, 'disabled');
  t.equal(off.json().disabled_reason, 'disabled by request');
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` })).json().status, 'disabled', 'GET agrees');
  assertProblem(t, await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/test` }), 409, 'WEBHOOK_ENDPOINT_DISABLED', 'ping to a disabled endpoint');

  const on = await patch({ enabled: true });
  t.equal(on.json().status, 'active');
  t.equal(on.json().disabled_reason, null);
  t.equal(on.json().failing_since, null);

  const { rows } = await ta.sql.query('SELECT url, event_types, description, status FROM webhook_endpoints WHERE id = $1', [id]);
  t.same(rows[0], { url: 'http://127.0.0.1:9/moved', event_types: ['consent.withdrawn', 'subject.objected'], description: null, status: 'active' });

  // Validation on PATCH too: bad URL, unknown field, bad event type, empty event types; nothing changes.
  t.same(errorFields(assertProblem(t, await patch({ url: 'ftp://127.0.0.1/x' }), 400, 'VALIDATION_FAILED', 'ftp url')), ['url']);
  t.same(errorFields(assertProblem(t, await patch({ secret }), 400, 'VALIDATION_FAILED', 'secret in PATCH')), ['secret']);
  t.same(errorFields(assertProblem(t, await patch({ status: 'active' }), 400, 'VALIDATION_FAILED', 'status in PATCH')), ['status']);
  t.match(errorFields(assertProblem(t, await patch({ event_types: ['nope'] }), 400, 'VALIDATION_FAILED', 'bad type in PATCH')).join(), /event_types/);
  t.match(errorFields(assertProblem(t, await patch({ event_types: [] }), 400, 'VALIDATION_FAILED', 'no types in PATCH')).join(), /event_types/);
  const { rows: after } = await ta.sql.query('SELECT url, event_types, description, status FROM webhook_endpoints WHERE id = $1', [id]);
  t.same(after, rows, 'refused PATCHes changed nothing');
});

t.test('validation on create: unknown fields and bad event types are 400s naming the field', async (t) => {
  const ta = await build(t, { env: ENV });
  const post = (payload: object) => ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload });
  const valid = { url: HOOK, event_types: ['subject.created'] };

  for (const field of ['secret', 'status', 'tenant_id', 'id', 'enabled', 'failing_since']) {
    const body = assertProblem(t, await post({ ...valid, [field]: 'x' }), 400, 'VALIDATION_FAILED', `unknown ${field}`);
    t.same(body.errors, [{ field, message: 'is not a known field' }], `${field} named as not a known field`);
  }
  for (const [label, types] of [
    ['unknown type', ['consent.granted', 'consent.nope']],
    ['ping is not subscribable', ['ping']],
    ['empty list', []],
    ['not a list', 'consent.granted'],
    ['number', [1]],
  ] as const) {
    const body = assertProblem(t, await post({ ...valid, event_types: types }), 400, 'VALIDATION_FAILED', label);
    t.ok(errorFields(body).length >= 1 && errorFields(body).every((f) => f.startsWith('event_types')), `${label}: names event_types (${errorFields(body)})`);
  }
  const missing = assertProblem(t, await post({ event_types: ['*'] }), 400, 'VALIDATION_FAILED', 'missing url');
  t.same(errorFields(missing), ['url']);
  const notUrl = assertProblem(t, await post({ ...valid, url: 'not a url' }), 400, 'VALIDATION_FAILED', 'not a url');
  t.same(errorFields(notUrl), ['url']);
  const { rows } = await ta.sql.query('SELECT count(*)::int AS n FROM webhook_endpoints');
  t.equal(rows[0].n, 0, 'nothing was created');
});

t.test('scope webhooks:admin is required on every route (403)', async (t) => {
  const ta = await build(t, { env: ENV });
  const { id } = await createEndpoint(ta, HOOK, ['*']);
  const ping = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/test` });
  const deliveryId = ping.json().delivery_id;
  const allButWebhooks = ALL_SCOPES.split(' ').filter((s) => s !== 'webhooks:admin').join(' ');
  const routes: [string, string, object?][] = [
    ['POST', '/v1/webhook-endpoints', { url: HOOK, event_types: ['*'] }],
    ['GET', '/v1/webhook-endpoints'],
    ['GET', `/v1/webhook-endpoints/${id}`],
    ['PATCH', `/v1/webhook-endpoints/${id}`, { description: 'x' }],
    ['DELETE', `/v1/webhook-endpoints/${id}`],
    ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
    ['POST', `/v1/webhook-endpoints/${id}/test`],
    ['GET', `/v1/webhook-endpoints/${id}/deliveries`],
    ['POST', `/v1/webhook-endpoints/${id}/deliveries/${deliveryId}/redeliver`],
    ['GET', '/v1/outbox/stats'],
  ];
  const before = await ta.sql.query('SELECT to_jsonb(e)::text AS x FROM webhook_endpoints e ORDER BY id');
  for (const [method, url, payload] of routes) {
    const res = await ta.call({ method: method as 'GET', url, payload, scope: allButWebhooks });
    assertProblem(t, res, 403, 'FORBIDDEN', `${method} ${url}`);
  }
  const after = await ta.sql.query('SELECT to_jsonb(e)::text AS x FROM webhook_endpoints e ORDER BY id');
  t.same(after.rows, before.rows, 'nothing changed');
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}`, scope: 'webhooks:admin' })).statusCode, 200, 'webhooks:admin alone is enough');
});

t.test("another tenant's endpoint and delivery ids answer 404 on every route, and nothing changes", async (t) => {
  const ta = await build(t, { env: ENV });
  const a = await createEndpoint(ta, HOOK, ['*']);
  const ping = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${a.id}/test` });
  t.equal(ping.statusCode, 202);
  const deliveryA = ping.json().delivery_id;
  // Make A's delivery finished, so a redeliver would be allowed for A itself.
  await ta.sql.query(`UPDATE webhook_deliveries SET status = 'succeeded', finished_at = now() WHERE id = $1`, [deliveryA]);

  const tenantB = await ta.newTenant('B');
  const b = await createEndpoint(ta, 'http://127.0.0.1:9/b', ['*'], tenantB);
  const snapshot = async () => {
    const out: string[] = [];
    for (const table of ['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'outbox']) {
      const { rows } = await ta.sql.query(`SELECT to_jsonb(x)::text AS j FROM ${table} x ORDER BY 1`);
      out.push(...rows.map((r) => `${table}:${r.j}`));
    }
    return out;
  };
  const before = await snapshot();
  const asB = (method: string, url: string, payload?: object) => ta.call({ method: method as 'GET', url, payload, tenantId: tenantB });
  const cases: [string, string, object?][] = [
    ['GET', `/v1/webhook-endpoints/${a.id}`],
    ['PATCH', `/v1/webhook-endpoints/${a.id}`, { url: 'http://127.0.0.1:9/stolen' }],
    ['PATCH', `/v1/webhook-endpoints/${a.id}`, { enabled: false }],
    ['DELETE', `/v1/webhook-endpoints/${a.id}`],
    ['POST', `/v1/webhook-endpoints/${a.id}/rotate-secret`],
    ['POST', `/v1/webhook-endpoints/${a.id}/test`],
    ['GET', `/v1/webhook-endpoints/${a.id}/deliveries`],
    ['POST', `/v1/webhook-endpoints/${a.id}/deliveries/${deliveryA}/redeliver`],
    // B's own endpoint with A's delivery id: still not found.
    ['POST', `/v1/webhook-endpoints/${b.id}/deliveries/${deliveryA}/redeliver`],
  ];
  for (const [method, url, payload] of cases) {
    const res = await asB(method, url, payload);
    assertProblem(t, res, 404, undefined, `B: ${method} ${url}`);
  }
  // A random id answers the same as A's id, so B learns nothing.
  const random = await asB('GET', `/v1/webhook-endpoints/${crypto.randomUUID()}`);
  const foreign = await asB('GET', `/v1/webhook-endpoints/${a.id}`);
  const { instance: _i1, ...foreignRest } = foreign.json();
  const { instance: _i2, ...randomRest } = random.json();
  t.same(foreignRest, randomRest, 'foreign and unknown ids are indistinguishable (apart from the echoed path)');
  t.same((await asB('GET', '/v1/webhook-endpoints')).json().items.map((e: { id: string }) => e.id), [b.id], 'B lists only its own');
  const stats = (await asB('GET', '/v1/outbox/stats')).json();
  t.same(stats.endpoints.map((e: { endpoint_id: string }) => e.endpoint_id), [b.id], "B's stats list only its own endpoint");
  t.same(await snapshot(), before, 'nothing was written');
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${a.id}` })).statusCode, 200, 'A still sees its endpoint');
});

t.test('delete: 204, then 404 everywhere, and pending retries to it stop', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  receiver.respond = () => 500;
  const { id } = await createEndpoint(ta, receiver.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);
  await createSubject(ta, 'deleted-endpoint@example.com');
  await receiver.waitFor((all) => all.length >= 2, 15_000); // retrying
  const [delivery] = await deliveriesOf(ta, id);
  t.equal(delivery!.status, 'pending', 'the delivery is being retried');

  const del = await ta.call({ method: 'DELETE', url: `/v1/webhook-endpoints/${id}` });
  t.equal(del.statusCode, 204);
  t.equal(del.body, '');
  const atDelete = receiver.received.length;
  for (const [method, url] of [
    ['GET', `/v1/webhook-endpoints/${id}`],
    ['PATCH', `/v1/webhook-endpoints/${id}`],
    ['DELETE', `/v1/webhook-endpoints/${id}`],
    ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
    ['POST', `/v1/webhook-endpoints/${id}/test`],
    ['GET', `/v1/webhook-endpoints/${id}/deliveries`],
    ['POST', `/v1/webhook-endpoints/${id}/deliveries/${delivery!.id}/redeliver`],
  ]) {
    const res = await ta.call({ method: method as 'GET', url: url!, payload: method === 'PATCH' ? { description: 'x' } : undefined });
    assertProblem(t, res, 404, 'WEBHOOK_ENDPOINT_NOT_FOUND', `after delete: ${method} ${url}`);
  }
  t.same((await ta.call({ method: 'GET', url: '/v1/webhook-endpoints' })).json().items, [], 'not listed any more');

  // The pending delivery ends failed, its outbox row cancelled, and the receiver hears nothing more.
  const row = await waitUntil(
    async () => {
      const { rows } = await ta.sql.query(
        `SELECT d.status, o.status AS outbox_status FROM webhook_deliveries d JOIN outbox o ON o.payload->>'delivery_id' = d.id::text WHERE d.id = $1`,
        [delivery!.id],
      );
      return rows[0]?.status === 'failed' ? rows[0] : null;
    },
    10_000,
    'delivery failed after delete',
  );
  t.equal(row.outbox_status, 'cancelled', 'its outbox row is cancelled');
  const settled = receiver.received.length;
  t.ok(settled <= atDelete + 1, `at most the attempt already in flight arrived after the delete (${atDelete} → ${settled})`);
  await sleep(1500); // several retry periods (200 ms each)
  t.equal(receiver.received.length, settled, 'no attempt after the delivery was stopped');
  // The delivery log is kept for audit.
  const { rows: kept } = await ta.sql.query('SELECT count(*)::int AS n FROM webhook_attempts WHERE delivery_id = $1', [delivery!.id]);
  t.equal(kept[0].n, settled, 'the attempts are kept');
  // A new event does not fan out to the deleted endpoint.
  await createSubject(ta, 'after-delete@example.com');
  await sleep(800);
  const { rows: n } = await ta.sql.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [id]);
  t.equal(n[0].n, 1, 'no new delivery for the deleted endpoint');
  t.equal(receiver.received.length, settled, 'and nothing arrived');
});

t.test('Idempotency-Key on create: a retry returns the first answer, one endpoint; another body is a 409', async (t) => {
  const ta = await build(t, { env: ENV });
  const headers = { 'idempotency-key': 'endpoint-create-1' };
  const payload = { url: HOOK, event_types: ['consent.granted'] };
  const first = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', headers, payload });
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const retry = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', headers, payload });
  t.equal(retry.statusCode, 201);
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(retry.json(), first.json(), 'the same endpoint and the same secret (the first answer may have been lost)');
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', headers, payload: { ...payload, url: 'http://127.0.0.1:9/other' } }), 409, 'IDEMPOTENCY_KEY_REUSED');
  const { rows } = await ta.sql.query('SELECT id FROM webhook_endpoints');
  t.same(rows.map((r) => r.id), [first.json().id], 'exactly one endpoint was created');
  // The secret stays sealed at rest: the stored answer does not hold it in plaintext.
  const { rows: stored } = await ta.sql.query('SELECT response::text AS r FROM idempotency_keys');
  t.equal(stored.length, 1);
  t.notOk(stored[0].r.includes(first.json().secret.slice(6)), 'idempotency_keys does not hold the secret in plaintext');
  // Another tenant with the same key gets its own endpoint.
  const other = await ta.newTenant('Other');
  const theirs = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', headers, payload, tenantId: other });
  t.equal(theirs.statusCode, 201);
  t.notOk(theirs.headers['idempotent-replayed'], 'keys are per tenant');
  t.not(theirs.json().id, first.json().id);
});
