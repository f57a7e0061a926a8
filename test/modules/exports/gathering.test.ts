// Access and portability exports (Art. 15, 20): gathering every connected system's part through its task, the
// uploads (by the system's link or by a client), their limits, and the DPO's review (Art. 15(4)).
import { createHash } from 'node:crypto';
import t from 'tap';
import { eventBodySchema } from '../../../src/modules/outbox/outbox.catalogue.js';
import { build, type TestApp } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const EMAIL = 'canary.export-me@example.com';
const LIMIT = 4096;
const json = { 'content-type': 'application/json' };

async function system(ta: TestApp, body: Record<string, unknown>, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: body, tenantId });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function request(ta: TestApp, type: string, email = EMAIL, tenantId?: string): Promise<{ id: string; subject_id: string }> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', tenantId, payload: { subject: { identifiers: [{ type: 'email', value: email }] }, type, channel: 'web' } });
  if (res.statusCode !== 201) throw new Error(`request: ${res.statusCode} ${res.body}`);
  return res.json();
}

const counts = async (ta: TestApp) => {
  const r = await ta.sql.query(`SELECT (SELECT count(*)::int FROM export_parts) AS parts, (SELECT count(*)::int FROM export_part_chunks) AS chunks`);
  return r.rows[0] as { parts: number; chunks: number };
};

t.test('gathering reaches every system that handles export; parts arrive by link and by client; a silent system is failed, then the DPO approves', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ EXPORT_PART_MAX_BYTES: String(LIMIT) }) });
  const hooks = { crm: await startReceiver(t), shop: await startReceiver(t), archive: await startReceiver(t) };
  const endpoint = async (url: string) => (await createEndpoint(ta, url, ['request.completed'])).id;
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['export', 'erasure'], data_categories: ['contact'], webhook_endpoint_id: await endpoint(hooks.crm.url) });
  const shop = await system(ta, { name: 'Shop', kind: 'other', handles: ['export'], recipient: true, webhook_endpoint_id: await endpoint(hooks.shop.url) });
  const archive = await system(ta, { name: 'Archive', kind: 'warehouse', handles: ['export'], webhook_endpoint_id: await endpoint(hooks.archive.url) });
  await system(ta, { name: 'Mailer', kind: 'mailing', handles: ['erasure'], contact_email: 'ops@mailer.example' });
  await startTestWorker(t, ta);

  const r = await request(ta, 'access');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/gather`, scope: 'requests:write' })).statusCode, 403, 'gathering needs requests:admin');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).statusCode, 404, 'no export before gathering');
  const gathered = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/gather` });
  t.equal(gathered.statusCode, 200, gathered.body);
  t.match(gathered.json(), { request_id: r.id, request_type: 'access', status: 'gathering', tasks: { total: 3, open: 3, completed: 0 }, parts: [], copies: 0 });
  t.same(gathered.json().tasks.waiting_on.map((w: { system_name: string }) => w.system_name).sort(), ['Archive', 'CRM', 'Shop'], 'every system that handles export, and only those');
  const again = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/gather` });
  t.match({ status: again.statusCode, code: again.json().code }, { status: 409, code: 'EXPORT_NOT_ALLOWED' }, 'gathering twice is refused');

  const sent = (h: typeof hooks.crm) => h.received.map((x) => JSON.parse(x.body)).filter((b) => b.type === 'export.requested');
  await waitUntil(() => sent(hooks.crm).length && sent(hooks.shop).length && sent(hooks.archive).length, 15_000, 'every system told');
  const toCrm = eventBodySchema('export.requested').strict().parse(sent(hooks.crm)[0]);
  t.match(toCrm.data, { request_id: r.id, system_id: crm, subject: { identifiers: [{ type: 'email', value: EMAIL }] } }, 'the system is told who the person is, at send time');
  t.match(String(toCrm.data.upload_url), /\/v1\/task-callbacks\/[^/]+\/data$/, 'and where to upload its part');
  const stored = await ta.sql.query(`SELECT body FROM webhook_deliveries WHERE tenant_id = $1`, [ta.tenantId]);
  t.notMatch(JSON.stringify(stored.rows), /canary|upload_url/, 'the identifiers and the upload link are not stored');

  // The CRM uploads through its link.
  const crmPart = { contacts: [{ email: EMAIL, name: 'Canary' }], notes: { last_call: 'asked about invoice' } };
  const crmBody = JSON.stringify(crmPart);
  const uploadPath = new URL(String(toCrm.data.upload_url)).pathname;
  const bad = await ta.app.inject({ method: 'PUT', url: `${uploadPath}?provided_categories=contacts,orders`, headers: json, payload: crmBody });
  t.match({ status: bad.statusCode, errors: bad.json().errors }, { status: 400, errors: [{ field: 'provided_categories' }] }, 'provided categories the part does not hold are refused');
  const wrongType = await ta.app.inject({ method: 'PUT', url: uploadPath, headers: { 'content-type': 'text/plain' }, payload: crmBody });
  t.equal(wrongType.statusCode, 415, 'the part is JSON');
  const up = await ta.app.inject({ method: 'PUT', url: `${uploadPath}?provided_categories=contacts`, headers: json, payload: crmBody });
  t.equal(up.statusCode, 200, up.body);
  t.same(up.json(), {
    task_id: toCrm.data.task_id,
    request_id: r.id,
    system_id: crm,
    task_status: 'completed',
    bytes: Buffer.byteLength(crmBody),
    sha256: createHash('sha256').update(crmBody).digest('hex'),
    provided_categories: ['contacts'],
  });
  const twice = await ta.app.inject({ method: 'PUT', url: uploadPath, headers: json, payload: crmBody });
  t.match({ status: twice.statusCode, code: twice.json().code }, { status: 409, code: 'CALLBACK_USED' }, 'the link answers once');
  const sealed = await ta.sql.query(`SELECT sealed FROM export_part_chunks`);
  t.equal(sealed.rowCount, 1);
  t.notMatch(sealed.rows[0].sealed.toString('latin1'), /canary|invoice/i, 'the part is stored sealed');
  t.notOk(JSON.stringify((await ta.sql.query(`SELECT payload FROM outbox WHERE tenant_id = $1`, [ta.tenantId])).rows).includes('canary'), 'no personal data in the outbox');

  // Through a client, for the shop; with the limits on the way.
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/tasks` })).json().items as { id: string; system_id: string; status: string }[];
  const shopTask = tasks.find((x) => x.system_id === shop)!;
  const archiveTask = tasks.find((x) => x.system_id === archive)!;
  const shopUrl = `/v1/rights-requests/${r.id}/tasks/${shopTask.id}/data`;
  const before = await counts(ta);
  const tooBig = await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload: JSON.stringify({ orders: [{ note: 'x'.repeat(LIMIT) }] }) });
  t.match({ status: tooBig.statusCode, code: tooBig.json().code }, { status: 413, code: 'EXPORT_PART_TOO_LARGE' }, 'a part above EXPORT_PART_MAX_BYTES is refused');
  for (const [payload, field] of [
    ['{"orders": [{"id": 1}', '(body)'],
    ['[{"id": 1}]', '(body)'],
    ['{"orders": 42}', 'orders'],
    ['{"orders": [{"id": 1}, "two"]}', 'orders.1'],
    ['{"orders": []} {"more": {}}', '(body)'],
    ['', '(body)'],
  ] as const) {
    const res = await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload });
    t.match({ status: res.statusCode, field: res.json().errors?.[0]?.field }, { status: 400, field }, `refused with the field named: ${payload || '(empty)'}`);
  }
  const badUtf8 = await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7b, 0x7d, 0x7d]) });
  t.equal(badUtf8.statusCode, 400, 'bytes that are not UTF-8 are refused');
  t.same(await counts(ta), before, 'a refused upload writes nothing');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/tasks` })).json().items.find((x: { id: string }) => x.id === shopTask.id).status, 'pending', 'and leaves the task open');

  const other = await ta.newTenant('Other controller');
  t.equal((await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload: '{}', tenantId: other })).statusCode, 404, "another tenant's task is not found");
  t.equal((await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload: '{}', scope: 'requests:read' })).statusCode, 403, 'uploading needs requests:write');
  const shopPart = JSON.stringify({ orders: [{ id: 'A-1', total: 12.5 }], reviews: [{ text: 'mentions a colleague' }] });
  const shopUp = await ta.call({ method: 'PUT', url: `${shopUrl}?provided_categories=orders,reviews`, headers: json, payload: shopPart });
  t.equal(shopUp.statusCode, 200, shopUp.body);
  const shopAgain = await ta.call({ method: 'PUT', url: shopUrl, headers: json, payload: shopPart });
  t.match({ status: shopAgain.statusCode, code: shopAgain.json().code }, { status: 409, code: 'EXPORT_UPLOAD_NOT_ALLOWED' }, 'a part is uploaded once');

  // The archive never answers: the export is not ready, and says who it waits on.
  const waiting = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json();
  t.match(waiting, { status: 'gathering', tasks: { total: 3, open: 1, completed: 2, waiting_on: [{ system_id: archive, system_name: 'Archive', status: 'pending' }] } });
  t.same(waiting.parts.map((p: { system_name: string; provided_categories: string[] }) => [p.system_name, p.provided_categories]), [['CRM', ['contacts']], ['Shop', ['orders', 'reviews']]]);
  t.equal(waiting.parts[1].sha256, createHash('sha256').update(shopPart).digest('hex'));
  const stats = (await ta.call({ method: 'GET', url: '/v1/rights-requests/stats' })).json();
  t.same(stats.waiting_on_systems.map((w: { system_name: string }) => w.system_name), ['Archive'], 'the silent system shows in the stats');
  t.same((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().waiting_on.map((w: { system_name: string }) => w.system_name), ['Archive']);
  const early = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} });
  t.match({ status: early.statusCode, code: early.json().code }, { status: 409, code: 'EXPORT_NOT_ALLOWED' }, 'no approval while a system is still asked');
  t.match(early.json().detail, /Archive/);

  const failed = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${archiveTask.id}/fail`, payload: { reason: 'no answer within two weeks' } });
  t.equal(failed.statusCode, 200, failed.body);
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json(), { status: 'ready', tasks: { open: 0, failed: 1 } });
  const readyEvents = await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND payload->>'type' = 'export.ready' AND payload->'data'->>'request_id' = $2`, [ta.tenantId, r.id]);
  t.equal(readyEvents.rows[0].n, 1, 'export.ready is announced once the silent system is recorded as failed');

  const badRedactions = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${r.id}/export/approve`,
    payload: { redactions: [{ system_id: crypto.randomUUID() }, { system_id: null, categories: ['bogus'] }] },
  });
  t.equal(badRedactions.statusCode, 400);
  t.same(badRedactions.json().errors.map((e: { field: string }) => e.field), ['redactions.0.system_id', 'redactions.1.categories.0'], 'each redaction at fault is named');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, scope: 'requests:write', payload: {} })).statusCode, 403, 'approving needs requests:admin');
  const approved = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${r.id}/export/approve`,
    payload: { redactions: [{ system_id: shop, categories: ['reviews'], reason: 'Names a colleague of the person' }, { system_id: null, categories: ['ledger'] }] },
  });
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), {
    status: 'approved',
    approved_by: 'test-client',
    redactions: [
      { system_id: shop, categories: ['reviews'], reason_given: true },
      { system_id: null, categories: ['ledger'], reason_given: false },
    ],
  });
  const twiceApproved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} });
  t.equal(twiceApproved.statusCode, 409, 'approved once');
  const late = await ta.call({ method: 'PUT', url: `/v1/rights-requests/${r.id}/tasks/${archiveTask.id}/data`, headers: json, payload: '{"files": []}' });
  t.match({ status: late.statusCode, code: late.json().code }, { status: 409, code: 'EXPORT_UPLOAD_NOT_ALLOWED' }, 'no upload once the DPO approved');

  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as { action: string; facts: Record<string, unknown>; note: string | null }[];
  const approval = events.find((e) => e.action === 'export.approved')!;
  t.match(approval.facts, { redactions: [{ system_id: shop, categories: ['reviews'], reason_given: true }, { system_id: null, categories: ['ledger'] }] }, 'the audit trail says what was redacted');
  t.match(approval.note, /Names a colleague/, 'the reason is kept in the audit trail');
  t.ok(events.some((e) => e.action === 'export.part_uploaded' && e.facts.system_id === shop), 'each upload is in the audit trail');
  const plain = await ta.sql.query(`SELECT count(*)::int AS n FROM rights_request_events WHERE facts::text LIKE '%colleague%'`);
  t.equal(plain.rows[0].n, 0, 'the reason is stored sealed, not in the facts');

  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export`, tenantId: other })).statusCode, 404, "another tenant's export is not found");
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/gather`, tenantId: other })).statusCode, 404, "another tenant's request is not found");
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, tenantId: other, payload: {} })).statusCode, 404);
});

t.test('export.ready is announced when the last export task closes, or at once when no system handles export', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const ready = async (requestId: string) =>
    (await ta.sql.query(`SELECT payload FROM outbox WHERE tenant_id = $1 AND payload->>'type' = 'export.ready' AND payload->'data'->>'request_id' = $2`, [ta.tenantId, requestId])).rows;

  const alone = await request(ta, 'portability', 'alone@example.com');
  const g = await ta.call({ method: 'POST', url: `/v1/rights-requests/${alone.id}/gather` });
  t.match(g.json(), { status: 'ready', tasks: { total: 0 } }, 'nothing to wait for');
  t.same((await ready(alone.id)).map((x) => x.payload.data), [{ request_id: alone.id, subject_id: alone.subject_id, request_type: 'portability' }]);

  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  await system(ta, { name: 'CRM', kind: 'crm', handles: ['export'], webhook_endpoint_id: hook.id });
  const r = await request(ta, 'access', 'two@example.com');
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/gather` });
  t.equal((await ready(r.id)).length, 0, 'not ready while the system is asked');
  const [task] = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/tasks` })).json().items;
  const body = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: task.id, request_id: r.id }));
  // A system with nothing answers completed through its callback link.
  const done = await ta.app.inject({ method: 'POST', url: new URL(String(body!.callback_url)).pathname, payload: { status: 'completed' } });
  t.equal(done.statusCode, 200, done.body);
  t.equal((await ready(r.id)).length, 1, 'ready once its task is closed');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json(), { status: 'ready', parts: [] });
  const upload = await ta.app.inject({ method: 'PUT', url: new URL(String(body!.upload_url)).pathname, headers: json, payload: '{}' });
  t.match({ status: upload.statusCode, code: upload.json().code }, { status: 409, code: 'CALLBACK_USED' }, 'the link is used by the final answer');
  const forged = await ta.app.inject({ method: 'PUT', url: `/v1/task-callbacks/${task.id}.${'A'.repeat(43)}/data`, headers: json, payload: '{}' });
  t.equal(forged.statusCode, 404, 'a forged link is not found');
});

t.test('only an open access or portability request whose identity is settled is gathered', async (t) => {
  const ta = await build(t);
  const erasure = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: 'e@example.com' }] }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } })).json();
  const refused = await ta.call({ method: 'POST', url: `/v1/rights-requests/${erasure.id}/gather` });
  t.match({ status: refused.statusCode, code: refused.json().code, detail: refused.json().detail }, { status: 409, code: 'EXPORT_NOT_ALLOWED', detail: /erasure request has no export/ });

  const withdrawn = await request(ta, 'access', 'w@example.com');
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${withdrawn.id}/withdraw`, payload: {} });
  const closed = await ta.call({ method: 'POST', url: `/v1/rights-requests/${withdrawn.id}/gather` });
  t.match({ status: closed.statusCode, detail: closed.json().detail }, { status: 409, detail: /withdrawn/ }, 'a closed request is not gathered');

  const doubtful = await request(ta, 'access', 'd@example.com');
  const asked = await ta.call({ method: 'POST', url: `/v1/rights-requests/${doubtful.id}/request-identity`, payload: { reason: 'The address does not match our records' } });
  t.equal(asked.statusCode, 200, asked.body);
  const awaiting = await ta.call({ method: 'POST', url: `/v1/rights-requests/${doubtful.id}/gather` });
  t.match({ status: awaiting.statusCode, detail: awaiting.json().detail }, { status: 409, detail: /identity/ }, 'not while identity is awaited');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${crypto.randomUUID()}/gather` })).statusCode, 404);
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM export_packages')).rows[0].n, 0, 'nothing was written');
});
