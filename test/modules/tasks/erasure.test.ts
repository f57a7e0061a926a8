// Erasure (Art. 17, 19): the DPO approves, every connected system gets its task, systems answer (by callback link
// or through a client), and when the last task closes Rightful forgets — verifiably.
import t from 'tap';
import { scanFor } from '../../helpers/scan.js';
import { build, createPurpose, grant, type TestApp } from '../../helper.js';

const EMAIL = 'canary.erase-me@example.com';
const PHONE = '+359887654321';

async function system(ta: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: body });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function endpoint(ta: TestApp): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/hook', event_types: ['request.completed'] } });
  if (res.statusCode !== 201) throw new Error(`endpoint: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function subjectWith(ta: TestApp, email: string, phone?: string): Promise<string> {
  const ids = [{ type: 'email', value: email }, ...(phone ? [{ type: 'phone', value: phone }] : [])];
  const res = await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: `crm-${email}`, identifiers: ids } });
  return res.json().id;
}

async function check(ta: TestApp, purpose: string, email: string): Promise<[boolean, string]> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  const r = res.json().results[0];
  return [r.allowed, r.reason];
}


// Loopback endpoints are allowed here; nothing is delivered (no worker runs in this file).
const ENV = { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } };

t.test('an approved erasure reaches every system, then Rightful forgets', async (t) => {
  const ta = await build(t, ENV);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const hook = await endpoint(ta);
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['erasure'], data_categories: ['contact'], webhook_endpoint_id: hook });
  const billing = await system(ta, { name: 'Billing', kind: 'payment', handles: ['erasure'], data_categories: ['invoices'], webhook_endpoint_id: hook });
  const agency = await system(ta, { name: 'Print agency', kind: 'other', recipient: true, contact_email: 'dpo@agency.example' });
  await system(ta, { name: 'Warehouse', kind: 'warehouse', handles: ['export'], webhook_endpoint_id: hook });

  const subject = await subjectWith(ta, EMAIL, PHONE);
  await grant(ta, subject, 'newsletter');
  await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing' } });

  const created = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { id: subject }, type: 'erasure', channel: 'email', erasure_ground: 'consent_withdrawn', details: `Please delete ${EMAIL}` },
  });
  t.equal(created.statusCode, 201);
  const request = created.json();
  t.equal(request.status, 'awaiting_approval', 'an erasure waits for the DPO');
  t.equal(request.erasure_ground, 'consent_withdrawn', 'the Art. 17(1) ground is recorded');
  const alert = await ta.sql.query(`SELECT 1 FROM outbox WHERE tenant_id = $1 AND payload->>'type' = 'request.review_required' AND payload->'data'->>'request_id' = $2`, [ta.tenantId, request.id]);
  t.equal(alert.rowCount, 1, 'the DPO is alerted at once (request.review_required)');
  t.same(await check(ta, 'newsletter', EMAIL), [false, 'erasure_pending']);

  const noScope = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/approve`, scope: 'requests:write', payload: { identity: 'verified' } });
  t.equal(noScope.statusCode, 403, 'approving needs requests:admin');
  const noReason = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/approve`, payload: { identity: 'not_needed' } });
  t.equal(noReason.statusCode, 400, 'skipping the identity check needs a reason');
  const badExemption = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${request.id}/approve`,
    payload: { identity: 'verified', exemptions: [{ system_id: crypto.randomUUID(), ground: 'art17_3_b_legal_obligation', categories: ['invoices'] }] },
  });
  t.equal(badExemption.statusCode, 422, 'an exemption names a system that is told');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM system_tasks')).rows[0].n, 0, 'nothing was written');

  const approved = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${request.id}/approve`,
    payload: {
      identity: 'verified',
      exemptions: [{ system_id: billing, ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: '2033-12-31', note: 'Tax law: 10 years' }],
    },
  });
  t.equal(approved.statusCode, 200, approved.body);
  t.equal(approved.json().status, 'in_progress');
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}/tasks` })).json().items;
  const byName = new Map(tasks.map((x: { system_name: string }) => [x.system_name, x]));
  t.same([...byName.keys()].sort(), ['Billing', 'CRM', 'Print agency'], 'systems that handle erasure and recipients get a task; the export-only one does not');
  t.match(byName.get('Billing'), { status: 'exempt', exemption: { ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: '2033-12-31' }, reason: 'Tax law: 10 years' });
  t.match(byName.get('CRM'), { status: 'pending', reach: 'webhook' });
  t.match(byName.get('Print agency'), { status: 'pending', reach: 'email', recipient: true });
  const sends = await ta.sql.query(`SELECT payload FROM outbox WHERE tenant_id = $1 AND topic = 'task.send'`, [ta.tenantId]);
  t.equal(sends.rowCount, 2, 'one send per task that is not exempt');
  t.notMatch(JSON.stringify(sends.rows), /canary|359887/, 'send rows hold ids only');
  t.same(
    approved.json().waiting_on.map((w: { system_name: string }) => w.system_name).sort(),
    ['CRM', 'Print agency'],
    'the request names who has not answered',
  );
  const stats = (await ta.call({ method: 'GET', url: '/v1/rights-requests/stats' })).json();
  t.same(stats.waiting_on_systems.map((w: { system_name: string; open_tasks: number }) => [w.system_name, w.open_tasks]), [['CRM', 1], ['Print agency', 1]]);

  // The CRM fails first, then completes on retry.
  const crmTask = byName.get('CRM') as { id: string };
  const failed = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${crmTask.id}/fail`, payload: { reason: 'record locked by a pending order' } });
  t.equal(failed.json().status, 'failed');
  const wrongMove = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${crmTask.id}/acknowledge`, payload: {} });
  t.equal(wrongMove.statusCode, 409);
  const retried = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${crmTask.id}/retry`, payload: {} });
  t.match(retried.json(), { status: 'pending', sends: 1 });
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${crmTask.id}/complete`, payload: {} });
  t.equal(done.json().status, 'completed');

  // The agency answers through its callback link.
  const agencyTask = byName.get('Print agency') as { id: string };
  const body = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: agencyTask.id, request_id: request.id }));
  t.match(body, { subject: { identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] } }, 'the body built at send time says how to find the person');
  const link = new URL(String(body!.callback_url));
  const forged = link.pathname.replace(agencyTask.id, crmTask.id);
  t.equal((await ta.app.inject({ method: 'POST', url: forged, payload: { status: 'completed' } })).statusCode, 404, 'a token for another task is refused');
  const ack = await ta.app.inject({ method: 'POST', url: link.pathname, payload: { status: 'acknowledged' } });
  t.same(ack.json(), { task_id: agencyTask.id, status: 'acknowledged' });
  const again = await ta.app.inject({ method: 'POST', url: link.pathname, payload: { status: 'acknowledged' } });
  t.equal(again.statusCode, 200, 'acknowledging again changes nothing');
  const final = await ta.app.inject({ method: 'POST', url: link.pathname, payload: { status: 'completed' } });
  t.same(final.json(), { task_id: agencyTask.id, status: 'completed' });
  const reused = await ta.app.inject({ method: 'POST', url: link.pathname, payload: { status: 'failed', reason: 'x' } });
  t.equal(reused.statusCode, 409, 'a link used for a final answer is refused');

  // Every task closed: Rightful erased its own copy and completed the request.
  const after = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}` })).json();
  t.match(after, { status: 'completed', outcome: { result: 'partially_granted', grounds: ['art17_3_b_legal_obligation'] }, details: null, waiting_on: [] });
  const subjectNow = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json();
  t.match(subjectNow, { status: 'erased', external_ref: null, identifiers: [] }, 'the subject is a tombstone');
  const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.match(verify.json(), { valid: true, events_checked: 1 }, 'the ledger stays and still verifies');
  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}/events?limit=200` })).json().items;
  const taskLines = events.filter((e: { action: string }) => e.action.startsWith('task.')).map((e: { action: string }) => e.action);
  t.same(taskLines, ['task.created', 'task.created', 'task.created', 'task.failed', 'task.pending', 'task.completed', 'task.acknowledged', 'task.completed'], 'every task change is in the audit trail');
  const erased = await ta.sql.query(`SELECT 1 FROM outbox WHERE payload->>'type' = 'subject.erased' AND payload->'data'->>'subject_id' = $1`, [subject]);
  t.equal(erased.rowCount, 1, 'subject.erased is announced');
  const recipients = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}/recipients` })).json();
  t.match(recipients.items, [{ system_name: 'Print agency', how: 'email', status: 'completed' }], 'Art. 19: the recipients told, and what they answered');

  t.same(await scanFor(ta, [EMAIL, 'erase-me', PHONE, '887654321', 'Tax law']), [], 'no column of any table holds the canaries');
  const keys = await ta.sql.query('SELECT data_key_wrapped FROM subjects WHERE id = $1', [subject]);
  t.equal(keys.rows[0].data_key_wrapped, null, 'the data key is destroyed: what stays sealed can no longer be read');

  // Suppression: the objector re-imported is not marketed to, until a fresh opt-in.
  t.same(await check(ta, 'newsletter', EMAIL), [false, 'suppressed'], 'an erased objector stays suppressed');
  const again2 = await subjectWith(ta, EMAIL);
  t.not(again2, subject, 're-imported as a new subject');
  t.same(await check(ta, 'newsletter', EMAIL), [false, 'suppressed'], 'a re-import does not undo the objection');
  await grant(ta, again2, 'newsletter');
  t.same(await check(ta, 'newsletter', EMAIL), [true, 'consent_granted'], 'a grant after the erasure is a fresh opt-in');
});

t.test('an erasure can be refused on an Art. 17(3) ground, and then nothing is erased', async (t) => {
  const ta = await build(t);
  const subject = await subjectWith(ta, 'keep-me@example.com');
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'letter' } })).json();
  const rejected = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${req.id}/reject`,
    payload: { grounds: ['art17_3_e_legal_claims'], detail: 'A claim is pending in court', subject_notified_at: new Date().toISOString(), notified_by: 'letter' },
  });
  t.equal(rejected.statusCode, 200, rejected.body);
  t.match(rejected.json(), { status: 'rejected', outcome: { result: 'refused', grounds: ['art17_3_e_legal_claims'] } });
  const s = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json();
  t.match(s, { status: 'active', identifiers: [{ value: 'keep-me@example.com' }] });
});

t.test('with no system to tell, approval erases at once; without the Art. 17(1) ground it is refused', async (t) => {
  const ta = await build(t);
  const subject = await subjectWith(ta, 'alone@example.com');
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web' } })).json();
  const noGround = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  t.equal(noGround.statusCode, 400);
  t.match(noGround.json().errors, [{ field: 'erasure_ground' }]);
  const ok = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'not_needed', identity_note: 'Sent from the verified account', erasure_ground: 'no_longer_necessary' } });
  t.equal(ok.statusCode, 200, ok.body);
  t.match(ok.json(), { status: 'completed', outcome: { result: 'granted' } });
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().status, 'erased');
  t.same(await check(ta, 'anything', 'alone@example.com').catch(() => [false, 'unknown_subject']), [false, 'unknown_subject']);
  const other = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'web' } });
  t.ok(other.statusCode < 500, 'an erased subject answers without a 5xx');
});

t.test('a system that never answers keeps the request open and named', async (t) => {
  const ta = await build(t, ENV);
  const hook = await endpoint(ta);
  await system(ta, { name: 'Silent CRM', kind: 'crm', handles: ['erasure'], webhook_endpoint_id: hook });
  const subject = await subjectWith(ta, 'waiting@example.com');
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'objection' } })).json();
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  const now = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json();
  t.match(now, { status: 'in_progress', waiting_on: [{ system_name: 'Silent CRM', status: 'pending' }] });
  const other = await ta.newTenant('Other');
  const foreign = await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/tasks`, tenantId: other });
  t.equal(foreign.statusCode, 404, "another tenant's request answers 404");
  const reminders = await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE ref_id = $1 AND status = 'pending' AND payload->>'type' IN ('request.deadline_approaching', 'request.overdue')`, [req.id]);
  t.ok(reminders.rows[0].n > 0, 'reminders keep running while a task is open');
});

t.test('the tasks of one request answered at the same moment all succeed, and the last one completes the request', async (t) => {
  const ta = await build(t, ENV);
  const hook = await endpoint(ta);
  for (let i = 1; i <= 6; i++) await system(ta, { name: `System ${i}`, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: hook });
  const subject = await subjectWith(ta, 'all.at.once@example.com');
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'objection' } })).json();
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/tasks` })).json().items as { id: string }[];
  const links = await Promise.all(tasks.map(async (x) => new URL(String((await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: x.id })))!.callback_url)).pathname));
  const answers = await Promise.all(links.map((url) => ta.app.inject({ method: 'POST', url, payload: { status: 'completed' } })));
  t.same(answers.map((a) => a.statusCode), links.map(() => 200), 'every answer is taken (one audit line each, in order)');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json(), { status: 'completed', waiting_on: [] }, 'the request saw its last task close');
  const seqs = (await ta.sql.query('SELECT seq FROM rights_request_events WHERE request_id = $1 ORDER BY seq', [req.id])).rows.map((r) => r.seq);
  t.same(seqs, seqs.map((_, i) => i + 1), 'the audit trail has no gap and no repeat');
});

t.test('Art. 21(3): by default every erased person is suppressed from direct marketing; the tenant may limit it to objectors', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const eraseNow = async (email: string) => {
    const subject = await subjectWith(ta, email);
    const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'no_longer_necessary' } })).json();
    const ok = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
    t.equal(ok.json().status, 'completed', ok.body);
  };
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().suppress_erased, true, 'on by default');
  await eraseNow('quiet-one@example.com');
  t.same(await check(ta, 'newsletter', 'quiet-one@example.com'), [false, 'suppressed'], 'a person who never objected is suppressed too');
  const off = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { suppress_erased: false } });
  t.equal(off.json().suppress_erased, false);
  await eraseNow('quiet-two@example.com');
  t.same(await check(ta, 'newsletter', 'quiet-two@example.com'), [false, 'unknown_subject'], 'with the setting off, only objectors stay on the list');
});
