// Restriction (Art. 18, 19): every system that handles restriction and every recipient is told at once, the request
// completes when they have all answered and the restriction stays; lifting it (Art. 18(3)) needs the person told
// first, is refused while another request still restricts, and tells the same systems.
import t from 'tap';
import { sentSchemaOf } from '../../../src/modules/outbox/outbox.catalogue.js';
import { build, createPurpose, grant, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;
const ENV = { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } };
const EMAIL = 'restrict.me@example.com';
const HOUR = 3_600_000;

async function system(ta: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: body });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

/** A CRM that handles restriction (webhook), a warehouse that handles erasure only, a print agency that is a recipient. */
async function systems(ta: TestApp): Promise<{ crm: string; agency: string }> {
  const hook = (await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/hook', event_types: ['request.completed'] } })).json().id;
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['restriction'], webhook_endpoint_id: hook });
  await system(ta, { name: 'Warehouse', kind: 'warehouse', handles: ['erasure'], webhook_endpoint_id: hook });
  const agency = await system(ta, { name: 'Print agency', kind: 'other', recipient: true, contact_email: 'dpo@agency.example' });
  return { crm, agency };
}

async function subject(ta: TestApp, email = EMAIL): Promise<string> {
  return (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: `crm-${email}`, identifiers: [{ type: 'email', value: email }] } })).json().id;
}

async function restrict(ta: TestApp, subjectId: string, ground = 'accuracy_contested'): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subjectId }, type: 'restriction', channel: 'email', restriction_ground: ground } });
  if (res.statusCode !== 201) throw new Error(`restrict: ${res.statusCode} ${res.body}`);
  return res.json();
}

const tasksOf = async (ta: TestApp, requestId: string): Promise<Req[]> => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/tasks` })).json().items;
const get = async (ta: TestApp, requestId: string): Promise<Req> => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}` })).json();
const restricted = async (ta: TestApp, subjectId: string): Promise<boolean> => (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}` })).json().restricted;
const completeAll = async (ta: TestApp, requestId: string, kind: string) => {
  for (const x of (await tasksOf(ta, requestId)).filter((x) => x.kind === kind && x.status === 'pending')) {
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/tasks/${x.id}/complete`, payload: {} });
    if (res.statusCode !== 200) throw new Error(`complete: ${res.statusCode} ${res.body}`);
  }
};
const lift = (ta: TestApp, subjectId: string, payload: Record<string, unknown>, scope?: string, tenantId?: string) =>
  ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/restriction/lift`, payload, scope, tenantId });

t.test('a restriction tells every system that handles restriction and every recipient at once (Art. 18, 19); it completes when they have all answered, and the restriction stays', async (t) => {
  const ta = await build(t, ENV);
  const { crm, agency } = await systems(ta);
  const s = await subject(ta);
  const r = await restrict(ta, s);
  t.match(r, { status: 'in_progress', restriction_ground: 'accuracy_contested' });
  t.same(r.waiting_on.map((w: Req) => w.system_name).sort(), ['CRM', 'Print agency'], 'open while the systems have not answered');
  const tasks = await tasksOf(ta, r.id);
  t.same(tasks.map((x) => [x.system_name, x.kind, x.status]).sort(), [['CRM', 'restriction', 'pending'], ['Print agency', 'restriction', 'pending']], 'the systems that handle restriction and the recipients; not the erasure-only one');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.same(trail.map((e) => e.action), ['created', 'effect_applied', 'task.created', 'task.created'], 'the flag first, then the tasks');
  const sends = await ta.sql.query(`SELECT payload FROM outbox WHERE topic = 'task.send'`);
  t.equal(sends.rowCount, 2, 'one send per task');

  const crmTask = tasks.find((x) => x.system_id === crm)!;
  const body = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: crmTask.id, request_id: r.id, system_id: crm, due_date: r.due_date }));
  const parsed = sentSchemaOf('restriction.requested').strict().safeParse(body);
  t.ok(parsed.success, `the body built at send time is the catalogue's restriction.requested data ${parsed.success ? '' : parsed.error.message}`);
  t.match(body, { subject: { identifiers: [{ type: 'email', value: EMAIL }] } });
  t.notOk(body && 'corrections' in body, 'no corrections but for a rectification');

  await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${crmTask.id}/complete`, payload: {} });
  t.equal((await get(ta, r.id)).status, 'in_progress', 'open while the agency has not answered');
  const agencyTask = tasks.find((x) => x.system_id === agency)!;
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${agencyTask.id}/complete`, payload: {} });
  t.match(await get(ta, r.id), { status: 'completed', outcome: { result: 'granted' }, waiting_on: [] }, 'every system restricted: granted');
  t.equal(await restricted(ta, s), true, 'completing keeps the restriction until it is lifted (Art. 18(3))');
});

t.test('lifting a restriction (Art. 18(3)): the person is told first; refused when not restricted or while an open request holds it; recorded on the granted restriction and sent to every system as restriction.lifted', async (t) => {
  const ta = await build(t, ENV);
  const { crm, agency } = await systems(ta);
  await createPurpose(ta, 'analytics', { legal_basis: 'legitimate_interests' });
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const s = await subject(ta);
  await grant(ta, s, 'newsletter');
  const informed = () => new Date(Date.now() - HOUR).toISOString();

  assertProblem(t, await lift(ta, s, { subject_informed_at: informed() }), 409, 'RESTRICTION_NOT_LIFTABLE', 'nothing restricted');
  const r = await restrict(ta, s);
  assertProblem(t, await lift(ta, s, { subject_informed_at: informed() }), 409, 'RESTRICTION_NOT_LIFTABLE', 'the restriction request is still open');
  await completeAll(ta, r.id, 'restriction');
  t.equal((await get(ta, r.id)).status, 'completed');

  // An objection to processing restricting meanwhile (Art. 18(1)(d)) holds the flag too while it is open.
  const objection = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { id: s }, type: 'objection', channel: 'email', objection: { scope: 'processing', purposes: ['analytics'] }, restrict_meanwhile: true },
  });
  t.equal(objection.statusCode, 201, objection.body);
  assertProblem(t, await lift(ta, s, { subject_informed_at: informed() }), 409, 'RESTRICTION_NOT_LIFTABLE', 'an objection pending restricts');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${objection.json().id}/withdraw`, payload: {} })).statusCode, 200);
  t.equal(await restricted(ta, s), true, 'the objection withdrawn: the granted restriction still holds the flag');

  const future = assertProblem(t, await lift(ta, s, { subject_informed_at: new Date(Date.now() + HOUR).toISOString() }), 400, 'VALIDATION_FAILED', 'told in the future');
  t.same(fields(future), ['subject_informed_at']);
  const skew = assertProblem(t, await lift(ta, s, { subject_informed_at: new Date(Date.now() + 60_000).toISOString() }), 400, 'VALIDATION_FAILED', 'told after the lift');
  t.same(fields(skew), ['subject_informed_at']);
  const early = assertProblem(t, await lift(ta, s, { subject_informed_at: '2001-01-01T00:00:00Z' }), 400, 'VALIDATION_FAILED', 'told before the restriction was asked');
  t.same(fields(early), ['subject_informed_at']);
  assertProblem(t, await lift(ta, s, {}), 400, 'VALIDATION_FAILED', 'without subject_informed_at');
  t.equal((await lift(ta, s, { subject_informed_at: informed() }, 'subjects:read')).statusCode, 403, 'lifting needs subjects:write');
  const other = await ta.newTenant('Other');
  assertProblem(t, await lift(ta, s, { subject_informed_at: informed() }, undefined, other), 404, 'SUBJECT_NOT_FOUND', "another tenant's subject");
  t.equal(await restricted(ta, s), true, 'nothing refused changed the flag');

  const told = new Date().toISOString();
  const lifted = await lift(ta, s, { subject_informed_at: told, reason: 'The address was verified as accurate' }, 'subjects:write');
  t.equal(lifted.statusCode, 200, lifted.body);
  t.match(lifted.json(), { subject: { id: s, restricted: false }, request_id: r.id });
  t.notOk('identifiers' in lifted.json().subject, 'a write-only token reads no identifiers back');
  t.ok(new Date(lifted.json().lifted_at) >= new Date(told), 'the lift is recorded after the person was told');
  t.equal(await restricted(ta, s), false);
  const check = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: EMAIL }] } });
  t.equal(check.json().results[0].reason, 'consent_granted', 'the check no longer answers restricted');

  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as Req[];
  const line = trail.find((e) => e.action === 'restriction_lifted');
  t.match(line, { from_status: null, to_status: null, facts: { subject_informed_at: told, reason_given: true }, note: 'The address was verified as accurate' }, "in the granted restriction's audit trail");
  const liftTasks = (await tasksOf(ta, r.id)).filter((x) => x.kind === 'restriction_lifted');
  t.same(liftTasks.map((x) => x.system_id).sort(), [crm, agency].sort(), 'every system that handles restriction and every recipient is told');
  const body = await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: liftTasks[0]!.id, request_id: r.id, system_id: liftTasks[0]!.system_id, due_date: null }));
  t.ok(sentSchemaOf('restriction.lifted').strict().safeParse(body).success, "the body is the catalogue's restriction.lifted data");
  const events = await ta.sql.query(`SELECT count(*)::int AS n FROM rights_request_events WHERE request_id = $1 AND note_sealed IS NOT NULL`, [r.id]);
  t.ok(events.rows[0].n >= 1, 'the reason is sealed');
  const plain = await ta.sql.query(`SELECT coalesce(string_agg(row_to_json(x)::text, ' '), '') AS j FROM rights_request_events x`);
  t.notMatch(plain.rows[0].j, /verified as accurate/, 'never in plaintext');

  await completeAll(ta, r.id, 'restriction_lifted');
  t.match(await get(ta, r.id), { status: 'completed', waiting_on: [] }, 'the request stays completed when the systems answer');
  assertProblem(t, await lift(ta, s, { subject_informed_at: informed() }), 409, 'RESTRICTION_NOT_LIFTABLE', 'lifted already');

  // A later restriction refused: the lifted one no longer holds the flag, and the systems told are told it is lifted.
  const later = await restrict(ta, s, 'unlawful_processing');
  t.equal(await restricted(ta, s), true);
  // Both systems have it in hand (they were told), neither has answered finally.
  for (const x of await tasksOf(ta, later.id)) {
    t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${later.id}/tasks/${x.id}/acknowledge`, payload: {} })).statusCode, 200);
  }
  const refused = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${later.id}/reject`,
    payload: { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'The processing is lawful', subject_notified_at: later.received_at, notified_by: 'email' },
  });
  t.equal(refused.statusCode, 200, refused.body);
  t.equal(await restricted(ta, s), false, 'a restriction lifted no longer holds the flag');
  const laterTasks = await tasksOf(ta, later.id);
  t.same(laterTasks.map((x) => x.kind).sort(), ['restriction', 'restriction', 'restriction_lifted', 'restriction_lifted'], 'the systems told to restrict are told it is lifted');
  t.same(laterTasks.filter((x) => x.kind === 'restriction').map((x) => x.status), ['cancelled', 'cancelled'], 'its restriction tasks still open are cancelled (Art. 18(3))');
});

t.test('a restriction with no system to tell stays in progress for the DPO, and is lifted with no task', async (t) => {
  const ta = await build(t);
  const s = await subject(ta, 'alone@example.com');
  const r = await restrict(ta, s);
  t.match(r, { status: 'in_progress', waiting_on: [] });
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/complete`, payload: { subject_notified_at: r.received_at, notified_by: 'email' } });
  t.equal(done.statusCode, 200, done.body);
  const lifted = await lift(ta, s, { subject_informed_at: new Date().toISOString() });
  t.equal(lifted.statusCode, 200, lifted.body);
  t.match(lifted.json(), { request_id: r.id, subject: { restricted: false } });
  t.same(await tasksOf(ta, r.id), [], 'no system to tell');
});
