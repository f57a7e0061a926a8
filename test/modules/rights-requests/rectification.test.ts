// Rectification (Art. 16, 19): the request carries its corrections, sealed under the subject's key; the DPO confirms
// them (approve), an identifier corrected is corrected in Rightful too, every system that handles rectification and
// every recipient is sent them, and the request completes when every task is closed.
import t from 'tap';
import { sentSchemaOf } from '../../../src/modules/outbox/outbox.catalogue.js';
import { build, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;
const ENV = { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } };
const SURNAME = { category: 'identity', field: 'surname', value: 'Ivanova-Petrova' };

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

async function subjectWith(ta: TestApp, ids: { type: string; value: string }[], ref?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: ids, ...(ref ? { external_ref: ref } : {}) } });
  if (res.statusCode !== 201) throw new Error(`subject: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function rectify(ta: TestApp, subject: string, corrections: Record<string, string>[]): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'rectification', channel: 'email', corrections } });
  if (res.statusCode !== 201) throw new Error(`rectify: ${res.statusCode} ${res.body}`);
  return res.json();
}

const approve = (ta: TestApp, id: string, payload: Record<string, unknown> = { identity: 'verified' }, scope?: string) =>
  ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/approve`, payload, scope });

const lookup = (ta: TestApp, type: string, value: string) => ta.call({ method: 'POST', url: '/v1/subjects/lookup', payload: { identifiers: [{ type, value }] } });

t.test('a rectification carries its corrections (Art. 16): required, bounded and only there; sealed at rest, shown decrypted; it awaits the DPO', async (t) => {
  const ta = await build(t);
  const subject = await subjectWith(ta, [{ type: 'email', value: 'rect@example.com' }]);
  const post = (payload: Record<string, unknown>) => ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, channel: 'email', ...payload } });
  const long = 'x'.repeat(2001);
  for (const [label, payload, expected] of [
    ['no corrections', { type: 'rectification', details: 'My surname is wrong' }, ['corrections']],
    ['no correction at all', { type: 'rectification', corrections: [] }, ['corrections']],
    ['51 corrections', { type: 'rectification', corrections: Array.from({ length: 51 }, () => SURNAME) }, ['corrections']],
    ['a value too long', { type: 'rectification', corrections: [{ ...SURNAME, value: long }] }, ['corrections.0.value']],
    ['a blank field', { type: 'rectification', corrections: [{ ...SURNAME, field: '  ' }] }, ['corrections.0.field']],
    ['an unknown key', { type: 'rectification', corrections: [{ ...SURNAME, old_value: 'Ivanova' }] }, ['corrections.0.old_value']],
    ['an identifier Rightful does not know', { type: 'rectification', corrections: [{ category: 'identifier', field: 'twitter', value: '@x' }] }, ['corrections.0.field']],
    [
      'the same identifier twice',
      { type: 'rectification', corrections: [{ category: 'identifier', field: 'email', value: 'a@example.com' }, { category: 'identifier', field: 'email', value: 'b@example.com' }] },
      ['corrections.1.field'],
    ],
    ['corrections on an access request', { type: 'access', corrections: [SURNAME] }, ['corrections']],
  ] as const) {
    const body = assertProblem(t, await post(payload), 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), [...expected].sort(), `${label}: names ${expected.join(', ')}`);
  }
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 0, 'nothing created');

  const r = await rectify(ta, subject, [SURNAME, { category: 'address', field: 'street', value: 'Vitosha 42' }]);
  t.equal(r.status, 'awaiting_approval', 'the DPO confirms the corrections before they go out');
  t.same(r.corrections, [SURNAME, { category: 'address', field: 'street', value: 'Vitosha 42' }], 'shown decrypted');
  t.same((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().corrections, r.corrections, 'GET shows them too');
  const alert = await ta.sql.query(`SELECT 1 FROM outbox WHERE payload->>'type' = 'request.review_required' AND payload->'data'->>'request_id' = $1`, [r.id]);
  t.equal(alert.rowCount, 1, 'the DPO is alerted at once (request.review_required)');
  for (const table of ['rights_requests', 'rights_request_events', 'outbox']) {
    const all = await ta.sql.query(`SELECT coalesce(string_agg(row_to_json(x)::text, ' '), '') AS j FROM ${table} x`);
    t.notMatch(all.rows[0].j, /Ivanova|Vitosha|5669746f736861/, `${table} holds no correction in plaintext`);
  }
  const access = await post({ type: 'access' });
  t.equal(access.json().corrections, null, 'other requests have none');

  // Proof of identity asked while awaiting approval: the rectification goes back to the DPO afterwards.
  const asked = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/request-identity`, payload: { reason: 'The request came from an unknown address' } });
  t.equal(asked.json().status, 'awaiting_identity');
  const proven = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/identity-verified`, payload: {} });
  t.equal(proven.json().status, 'awaiting_approval', 'identity proven: back to the DPO, not yet approved');
});

t.test('approving a rectification sends the corrections to every system that handles rectification and every recipient (Art. 16, 19), and it completes when every task closes', async (t) => {
  const ta = await build(t, ENV);
  const hook = await endpoint(ta);
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['rectification'], webhook_endpoint_id: hook });
  await system(ta, { name: 'Billing', kind: 'payment', handles: ['erasure'], webhook_endpoint_id: hook });
  const agency = await system(ta, { name: 'Print agency', kind: 'other', recipient: true, contact_email: 'dpo@agency.example' });
  const subject = await subjectWith(ta, [{ type: 'email', value: 'fix.me@example.com' }], 'crm-fix-1');
  const r = await rectify(ta, subject, [SURNAME]);

  t.equal((await approve(ta, r.id, { identity: 'verified' }, 'requests:write')).statusCode, 403, 'approving needs requests:admin');
  for (const [field, extra] of [
    ['exemptions', { exemptions: [{ system_id: crm, ground: 'art17_3_b_legal_obligation', categories: ['invoices'] }] }],
    ['erasure_ground', { erasure_ground: 'consent_withdrawn' }],
    ['public_disclosure', { public_disclosure: true }],
  ] as const) {
    const body = assertProblem(t, await approve(ta, r.id, { identity: 'verified', ...extra }), 400, 'VALIDATION_FAILED', field);
    t.same(fields(body), [field], `${field} is only for an erasure`);
  }
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM system_tasks')).rows[0].n, 0, 'nothing was sent');

  const approved = await approve(ta, r.id, { identity: 'not_needed', identity_note: 'Asked from the verified customer account' });
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), { status: 'in_progress' });
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/tasks` })).json().items as Req[];
  t.same(tasks.map((x) => [x.system_name, x.kind, x.status]).sort(), [['CRM', 'rectification', 'pending'], ['Print agency', 'rectification', 'pending']], 'the systems that handle rectification and the recipients; not the erasure-only one');
  const sends = await ta.sql.query(`SELECT payload FROM outbox WHERE topic = 'task.send'`);
  t.equal(sends.rowCount, 2, 'one send per task');
  t.notMatch(JSON.stringify(sends.rows), /Ivanova/, 'send rows hold ids only');

  const crmTask = tasks.find((x) => x.system_id === crm)!;
  const body = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: crmTask.id, request_id: r.id, system_id: crm, due_date: r.due_date }));
  const parsed = sentSchemaOf('rectification.requested').strict().safeParse(body);
  t.ok(parsed.success, `the body built at send time is the catalogue's rectification.requested data ${parsed.success ? '' : parsed.error.message}`);
  t.match(body, { subject: { external_ref: 'crm-fix-1', identifiers: [{ type: 'email', value: 'fix.me@example.com' }] }, corrections: [SURNAME] }, 'with the corrections, decrypted');
  const erasureBody = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: crmTask.id, request_id: r.id }));
  t.ok(erasureBody && 'corrections' in erasureBody);

  const exempt = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${crmTask.id}/exempt`, payload: { ground: 'art17_3_b_legal_obligation', categories: ['x'] } });
  assertProblem(t, exempt, 409, 'TASK_TRANSITION_NOT_ALLOWED', 'Art. 17(3) exemptions are for erasure tasks');

  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${crmTask.id}/complete`, payload: {} })).statusCode, 200);
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().status, 'in_progress', 'open while the agency has not answered');
  const agencyTask = tasks.find((x) => x.system_id === agency)!;
  const agencyBody = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: agencyTask.id, request_id: r.id }));
  const answered = await ta.app.inject({ method: 'POST', url: new URL(String(agencyBody!.callback_url)).pathname, payload: { status: 'completed' } });
  t.equal(answered.statusCode, 200, answered.body);

  const done = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json();
  t.match(done, { status: 'completed', outcome: { result: 'granted', grounds: [] }, waiting_on: [], corrections: [SURNAME] }, 'every task closed: granted');
  t.match((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json(), { status: 'active' }, 'nothing is erased');
  const completed = await ta.sql.query(`SELECT 1 FROM outbox WHERE payload->>'type' = 'request.completed' AND payload->'data'->>'request_id' = $1`, [r.id]);
  t.equal(completed.rowCount, 1, 'request.completed is announced');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as Req[];
  t.match(trail.find((e) => e.action === 'approve'), { facts: { identity: 'not_needed', corrections: 1 }, note: 'Asked from the verified customer account' });
  t.match(trail.at(-1), { action: 'complete', actor: 'rightful', facts: { automatic: true, outcome: 'granted', tasks: 2 } });
  const recipients = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/recipients` })).json();
  t.match(recipients.items, [{ system_name: 'Print agency', status: 'completed' }], 'Art. 19: the recipient told, and what it answered');
});

t.test('a corrected identifier replaces the one Rightful finds the person by (Art. 16); a value that cannot be normalised, or that another subject has, is a 422 and nothing changes', async (t) => {
  const ta = await build(t);
  const subject = await subjectWith(ta, [{ type: 'email', value: 'old.address@example.com' }, { type: 'phone', value: '+359888111222' }]);
  await subjectWith(ta, [{ type: 'email', value: 'taken@example.com' }]);

  const taken = await rectify(ta, subject, [{ category: 'identifier', field: 'email', value: 'Taken@Example.com' }]);
  const body = assertProblem(t, await approve(ta, taken.id), 422, 'INVALID_CORRECTION', "another subject's email");
  t.match(body.detail, /corrections\.0\.value: another subject of this tenant has this email/);
  const unusable = await rectify(ta, subject, [SURNAME, { category: 'identifier', field: 'phone', value: '0888 111' }]);
  const bad = assertProblem(t, await approve(ta, unusable.id), 422, 'INVALID_CORRECTION', 'a phone that cannot be normalised');
  t.match(bad.detail, /corrections\.1\.value: /);
  for (const r of [taken, unusable]) {
    t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().status, 'awaiting_approval', 'still awaiting the DPO');
  }
  t.equal((await lookup(ta, 'email', 'old.address@example.com')).json().id, subject, 'the identifiers are unchanged');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM system_tasks')).rows[0].n, 0);

  const r = await rectify(ta, subject, [SURNAME, { category: 'identifier', field: 'email', value: '  New.Address@Example.COM ' }]);
  const approved = await approve(ta, r.id);
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), { status: 'completed', outcome: { result: 'granted' } }, 'with no system to tell, it completes at once');
  t.equal((await lookup(ta, 'email', 'new.address@example.com')).json().id, subject, 'found by the corrected email, normalised');
  t.equal((await lookup(ta, 'email', 'old.address@example.com')).statusCode, 404, 'the old email no longer finds anyone');
  const now = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json();
  t.same(
    now.identifiers.map((i: Req) => `${i.type}:${i.value}`).sort(),
    ['email:new.address@example.com', 'phone:+359888111222'],
    'the email is replaced, the phone kept',
  );
  const rows = await ta.sql.query(`SELECT coalesce(string_agg(row_to_json(x)::text, ' '), '') AS j FROM subject_identifiers x`);
  t.notMatch(rows.rows[0].j, /new\.address/, 'stored sealed, found by its blind index');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.match(trail.find((e) => e.action === 'approve')?.facts, { identifiers_corrected: ['email'] }, 'the audit trail names what was corrected');

  // The same value again is no conflict: it is the subject's own.
  const again = await rectify(ta, subject, [{ category: 'identifier', field: 'email', value: 'new.address@example.com' }]);
  t.equal((await approve(ta, again.id)).statusCode, 200);
});
