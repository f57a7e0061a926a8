// The package of an approved export (Art. 15, 20): downloaded by the service as a ZIP with the redactions applied,
// each copy recorded; its gathered data deleted after the tenant's retention period, and at once on erasure.
import t from 'tap';
import yauzl from 'yauzl';
import { build, createPurpose, grant, type TestApp } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const json = { 'content-type': 'application/json' };
const DAY = 86_400_000;

async function system(ta: TestApp, name: string, endpointId: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name, kind: 'crm', handles: ['export'], webhook_endpoint_id: endpointId } });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function gathered(ta: TestApp, type: 'access' | 'portability', email: string): Promise<{ id: string; subjectId: string; tasks: Map<string, string> }> {
  const created = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: email }] }, type, channel: 'web' } });
  if (created.statusCode !== 201) throw new Error(`request: ${created.statusCode} ${created.body}`);
  const id = created.json().id;
  const g = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/gather` });
  if (g.statusCode !== 200) throw new Error(`gather: ${g.statusCode} ${g.body}`);
  const items = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/tasks` })).json().items as { id: string; system_id: string }[];
  return { id, subjectId: created.json().subject_id, tasks: new Map(items.map((x) => [x.system_id, x.id])) };
}

async function upload(ta: TestApp, requestId: string, taskId: string, part: unknown, provided: string) {
  const res = await ta.call({ method: 'PUT', url: `/v1/rights-requests/${requestId}/tasks/${taskId}/data?provided_categories=${provided}`, headers: json, payload: JSON.stringify(part) });
  if (res.statusCode !== 200) throw new Error(`upload: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function unzip(zip: Buffer): Promise<Map<string, Buffer>> {
  const zf = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zf.on('error', reject);
    zf.on('end', () => resolve());
    zf.on('entry', (entry: yauzl.Entry) => {
      zf.openReadStreamPromise(entry).then(async (stream) => {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        files.set(entry.fileName, Buffer.concat(chunks));
        zf.readEntry();
      }, reject);
    });
    zf.readEntry();
  });
  return files;
}

type DataJson = { kind: string; rightful: Record<string, unknown>; systems: { system_id: string; system_name: string; data: Record<string, unknown> }[] };

t.test('the DPO approves with redactions; the service downloads the ZIP without them; each copy is recorded', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const crm = await system(ta, 'CRM', hook.id);
  const warehouse = await system(ta, 'Warehouse', hook.id);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });

  const email = 'package.person@example.com';
  const r = await gathered(ta, 'access', email);
  await grant(ta, r.subjectId, 'newsletter');
  // About 2.5 MB: sealed in three chunks of at most 1 MiB, read back one at a time.
  const contacts = Array.from({ length: 12_000 }, (_, i) => ({ id: i, email, note: `contact number ${i} `.padEnd(160, '.') }));
  const crmPart = { contacts, notes: [{ text: 'internal remark about a colleague' }] };
  const crmUp = await upload(ta, r.id, r.tasks.get(crm)!, crmPart, 'contacts');
  t.ok(crmUp.bytes > 2 * 1024 * 1024, 'a part of several MiB');
  const chunks = await ta.sql.query(`SELECT p.chunks, (SELECT count(*)::int FROM export_part_chunks c WHERE c.part_id = p.id) AS n FROM export_parts p WHERE p.task_id = $1`, [r.tasks.get(crm)]);
  t.same(chunks.rows[0], { chunks: 3, n: 3 }, 'sealed in chunks of 1 MiB');
  await upload(ta, r.id, r.tasks.get(warehouse)!, { invoices: [{ number: 'INV-1', amount: 10 }] }, 'invoices');

  const url = `/v1/rights-requests/${r.id}/export/package`;
  const early = await ta.call({ method: 'GET', url });
  t.match({ status: early.statusCode, code: early.json().code }, { status: 409, code: 'EXPORT_NOT_APPROVED' }, 'nothing is released before the review');
  const approved = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${r.id}/export/approve`,
    payload: { redactions: [{ system_id: warehouse, reason: 'Held for another person' }, { system_id: crm, categories: ['notes'] }] },
  });
  t.equal(approved.statusCode, 200, approved.body);

  t.equal((await ta.call({ method: 'GET', url, scope: 'requests:read' })).statusCode, 403, 'downloading needs exports:read');
  const other = await ta.newTenant('Other');
  t.equal((await ta.call({ method: 'GET', url, tenantId: other })).statusCode, 404, "another tenant's package is not found");
  const res = await ta.call({ method: 'GET', url, scope: 'exports:read' });
  t.equal(res.statusCode, 200, res.statusCode === 200 ? '' : res.body);
  t.equal(res.headers['content-type'], 'application/zip');
  t.match(String(res.headers['content-disposition']), new RegExp(`^attachment; filename="access-export-${r.id}-\\d{4}-\\d{2}-\\d{2}\\.zip"$`));
  const files = await unzip(res.rawPayload);
  t.ok(files.has('data.json') && files.has('manifest.json'), 'the package holds data.json and its manifest');
  const data = JSON.parse(files.get('data.json')!.toString('utf8')) as DataJson;
  t.equal(data.kind, 'access');
  t.same(data.systems.map((s) => s.system_name), ['CRM'], "the warehouse's part, redacted whole, is absent");
  t.same(Object.keys(data.systems[0]!.data), ['contacts'], 'the redacted category is absent');
  t.same(data.systems[0]!.data.contacts, contacts, 'the part reads back whole, across its chunks');
  t.match(data.rightful, { identifiers: { identifiers: [{ type: 'email', value: email }] } }, "Rightful's own part: the identifiers, decrypted");
  t.match((data.rightful.ledger as { purpose: string; hash: string }[])[0], { purpose: 'newsletter', hash: /^[0-9a-f]{64}$/ }, 'the ledger with its hashes');
  t.match(data.rightful.purposes, [{ purpose: 'newsletter', version: 1, legal_basis: 'consent' }], 'the purposes at the version each decision was shown');
  t.ok(Array.isArray(data.rightful.requests) && (data.rightful.requests as { id: string; audit_trail: unknown[] }[]).some((q) => q.id === r.id && q.audit_trail.length > 0), 'every request with its audit trail');
  const zipText = res.rawPayload.toString('latin1') + [...files.values()].map((b) => b.toString('utf8')).join('');
  t.notMatch(zipText, /INV-1|internal remark/, 'nothing redacted is anywhere in the package');

  const state = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json();
  t.equal(state.copies, 1, 'the copy is counted');
  await ta.call({ method: 'GET', url });
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json().copies, 2);
  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as { action: string; actor: string; facts: Record<string, unknown> }[];
  t.same(
    events.filter((e) => e.action === 'export.copied').map((e) => [e.actor, e.facts]),
    [
      ['test-client', { via: 'service', copy: 1 }],
      ['test-client', { via: 'service', copy: 2 }],
    ],
    'each copy is in the audit trail',
  );
});

t.test('a portability package carries what the person provided: their identifiers, consents and the provided categories', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const shop = await system(ta, 'Shop', hook.id);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const r = await gathered(ta, 'portability', 'port@example.com');
  await grant(ta, r.subjectId, 'newsletter');
  await upload(ta, r.id, r.tasks.get(shop)!, { orders: [{ id: 'A-1' }], risk_scores: [{ score: 0.7 }] }, 'orders');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} })).statusCode, 200);
  const res = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export/package` });
  t.equal(res.statusCode, 200);
  t.match(String(res.headers['content-disposition']), /portability-export-/);
  const data = JSON.parse((await unzip(res.rawPayload)).get('data.json')!.toString('utf8')) as DataJson;
  t.same(Object.keys(data.rightful).sort(), ['consents', 'identifiers'], 'Art. 20(1): no ledger evidence, requests or objections');
  t.match(data.rightful.consents, { state: [{ purpose: 'newsletter', status: 'granted' }], decisions: [{ purpose: 'newsletter', action: 'grant' }] });
  t.same(Object.keys(data.systems[0]!.data), ['orders'], 'only the categories the person provided');
});

t.test('retention: the gathered data is deleted export_retention_days after the request closes, then the package is gone', async (t) => {
  let now = Date.now();
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastWorkerEnv() });
  const hook = await startReceiver(t);
  const crm = await system(ta, 'CRM', (await createEndpoint(ta, hook.url, ['request.completed'])).id);
  const bad = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { export_retention_days: 0 } });
  t.match({ status: bad.statusCode, field: bad.json().errors?.[0]?.field }, { status: 400, field: 'export_retention_days' }, 'the setting has a documented range');
  const set = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { export_retention_days: 10 } });
  t.equal(set.json().export_retention_days, 10);
  await startTestWorker(t, ta, { clock });

  const r = await gathered(ta, 'access', 'kept.for.a.while@example.com');
  await upload(ta, r.id, r.tasks.get(crm)!, { contacts: [{ id: 1 }] }, 'contacts');
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} });
  const checks = async () => (await ta.sql.query(`SELECT status, available_at FROM outbox WHERE topic = 'export.expire' ORDER BY available_at`)).rows as { status: string; available_at: Date }[];
  t.equal((await checks()).length, 1, 'a retention check is scheduled when the export is gathered');

  // Past the period while the request is still open: nothing goes; the check looks again later.
  now += 11 * DAY;
  await waitUntil(async () => (await checks()).length === 2 && (await checks())[0]!.status === 'done', 15_000, 'the first check ran');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json().status, 'approved', 'kept while the request is open');

  const created = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json();
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/complete`, payload: { subject_notified_at: new Date(now).toISOString(), notified_by: 'email' } });
  t.equal(done.statusCode, 200, done.body);
  t.ok(created.id);
  now += 9 * DAY;
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export/package` })).statusCode, 200, 'still there within the period after closing');

  now += 2 * DAY;
  await waitUntil(async () => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json().status === 'deleted', 15_000, 'deleted after the period');
  t.same((await ta.sql.query('SELECT (SELECT count(*)::int FROM export_parts) AS parts, (SELECT count(*)::int FROM export_part_chunks) AS chunks')).rows[0], { parts: 0, chunks: 0 }, 'the parts and their chunks are gone');
  const gone = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export/package` });
  t.match({ status: gone.statusCode, code: gone.json().code }, { status: 410, code: 'EXPORT_DATA_DELETED' });
  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as { action: string; facts: Record<string, unknown> }[];
  t.match(events.find((e) => e.action === 'export.data_deleted'), { facts: { why: 'retention' } }, 'the deletion is in the audit trail');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.ok((await checks()).every((c) => c.status === 'done'), 'no further check once deleted');
});

t.test("erasure deletes the person's gathered export data at once", async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const crm = await system(ta, 'CRM', hook.id);
  const email = 'erase.my.export@example.com';
  const r = await gathered(ta, 'access', email);
  await upload(ta, r.id, r.tasks.get(crm)!, { contacts: [{ email }] }, 'contacts');
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} });
  const keep = await gathered(ta, 'access', 'someone.else@example.com');
  await upload(ta, keep.id, keep.tasks.get(crm)!, { contacts: [{ id: 2 }] }, 'contacts');

  const erasure = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: r.subjectId }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } })).json();
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${erasure.id}/approve`, payload: { identity: 'verified' } });
  t.equal(approved.json().status, 'completed', 'no system handles erasure: Rightful forgets at once');
  const parts = await ta.sql.query('SELECT request_id FROM export_parts');
  t.same(parts.rows.map((x) => x.request_id), [keep.id], "the erased person's part is gone; another person's stays");
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export` })).json(), { status: 'deleted', data_deleted_at: /Z$/ });
  const gone = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/export/package` });
  t.match({ status: gone.statusCode, code: gone.json().code }, { status: 410, code: 'EXPORT_DATA_DELETED' });
});

t.test('packages are built a bounded number at once: more downloads wait their turn and all complete', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true', EXPORT_BUILDS_MAX: '1' } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const shop = await system(ta, 'Shop', hook.id);
  const r = await gathered(ta, 'access', 'many.copies@example.com');
  await upload(ta, r.id, r.tasks.get(shop)!, { orders: Array.from({ length: 2000 }, (_, i) => ({ id: `A-${i}`, total: i })) }, 'orders');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/export/approve`, payload: {} })).statusCode, 200);
  const url = `/v1/rights-requests/${r.id}/export/package`;
  const all = await Promise.all(Array.from({ length: 3 }, () => ta.call({ method: 'GET', url })));
  t.same(all.map((x) => x.statusCode), [200, 200, 200], 'one built at a time, each in turn');
  for (const x of all) t.ok((await unzip(x.rawPayload)).has('manifest.json'), 'each download carries a whole package');
  const again = await ta.call({ method: 'GET', url });
  t.equal(again.statusCode, 200, 'every place was given back when its download ended');
});
