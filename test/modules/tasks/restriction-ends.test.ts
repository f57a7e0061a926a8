// A restriction that ends without being granted (Art. 18(3), 19): its open tasks are cancelled, and the systems that
// were told to restrict are told it is lifted — those never told are not. An objection restricting meanwhile
// (Art. 18(1)(d)) tells the systems as a restriction does, and stays open for the DPO's decision.
import t, { type Test } from 'tap';
import { addressedEventRow } from '../../../src/modules/outbox/outbox.events.js';
import { build, createPurpose, type TestApp } from '../../helper.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { createEndpoint, sleep, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

type Row = Record<string, any>;

async function system(ta: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: body });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function subject(ta: TestApp, email: string): Promise<string> {
  return (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: `crm-${email}`, identifiers: [{ type: 'email', value: email }] } })).json().id;
}

const create = async (ta: TestApp, payload: Record<string, unknown>): Promise<Row> => {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { channel: 'email', ...payload } });
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
  return res.json();
};
const act = async (ta: TestApp, id: string, action: string, payload: Record<string, unknown>) => {
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload });
  if (res.statusCode !== 200) throw new Error(`${action}: ${res.statusCode} ${res.body}`);
  return res.json();
};
const tasksOf = async (ta: TestApp, id: string): Promise<Row[]> => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/tasks` })).json().items;
const get = async (ta: TestApp, id: string): Promise<Row> => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}` })).json();
const restricted = async (ta: TestApp, s: string): Promise<boolean> => (await ta.call({ method: 'GET', url: `/v1/subjects/${s}` })).json().restricted;
/** The events of `type` a receiver got: data and webhook-id. */
const got = (r: Receiver, type: string) => r.received.map((x) => ({ id: String(x.headers['webhook-id']), ...JSON.parse(x.body) })).filter((b) => b.type === type);
const callback = (ta: TestApp, event: Row, status: string) => ta.app.inject({ method: 'POST', url: new URL(event.data.callback_url).pathname, payload: { status } });

/** A CRM and a print agency (a recipient) reached by webhook, and an archive reached by email with no SMTP configured:
 * the archive can never be told. */
async function setup(t: Test) {
  const ta = await build(t, { env: fastWorkerEnv() });
  const crmHook = await startReceiver(t);
  const agencyHook = await startReceiver(t);
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['restriction'], webhook_endpoint_id: (await createEndpoint(ta, crmHook.url, ['request.completed'])).id });
  const agency = await system(ta, { name: 'Print agency', kind: 'other', recipient: true, webhook_endpoint_id: (await createEndpoint(ta, agencyHook.url, ['request.completed'])).id });
  const archive = await system(ta, { name: 'Archive', kind: 'other', handles: ['restriction'], contact_email: 'records@archive.example' });
  return { ta, crmHook, agencyHook, crm, agency, archive };
}

t.test('a restriction refused: its open tasks are cancelled, the systems told are sent restriction.lifted once, the one never told is not (Art. 18(3), 19)', async (t) => {
  const { ta, crmHook, agencyHook, crm, agency, archive } = await setup(t);
  await startTestWorker(t, ta);
  const s = await subject(ta, 'refused.restriction@example.com');
  const r = await create(ta, { subject: { id: s }, type: 'restriction', restriction_ground: 'accuracy_contested' });
  await waitUntil(() => got(crmHook, 'restriction.requested').length >= 1 && got(agencyHook, 'restriction.requested').length >= 1, 15_000, 'both webhook systems told');
  await waitUntil(async () => (await ta.sql.query(`SELECT 1 FROM rights_request_events WHERE request_id = $1 AND action = 'task.unreachable'`, [r.id])).rowCount, 15_000, 'the archive found unreachable');
  t.equal((await callback(ta, got(crmHook, 'restriction.requested')[0], 'completed')).statusCode, 200, 'the CRM restricted');

  await act(ta, r.id, 'reject', { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'The data are accurate', subject_notified_at: r.received_at, notified_by: 'email' });
  t.equal(await restricted(ta, s), false, 'the flag is lifted');
  const tasks = await tasksOf(ta, r.id);
  const statusOf = (systemId: string, kind: string) => tasks.find((x) => x.system_id === systemId && x.kind === kind)?.status ?? null;
  t.same(
    [statusOf(crm, 'restriction'), statusOf(agency, 'restriction'), statusOf(archive, 'restriction')],
    ['completed', 'cancelled', 'cancelled'],
    'the answered task stays; the open ones are cancelled',
  );
  t.same(
    tasks.filter((x) => x.kind === 'restriction_lifted').map((x) => x.system_id).sort(),
    [crm, agency].sort(),
    'the lift goes to the systems that were told (the agency had it, unanswered), not to the archive, never told',
  );

  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items as Row[];
  const cancelled = trail.filter((e) => e.action === 'task.cancelled');
  t.equal(cancelled.length, 2, 'each cancellation is in the audit trail');
  t.ok(cancelled.every((e) => e.actor === 'rightful' && e.facts.to === 'cancelled' && e.facts.kind === 'restriction'), 'by rightful');
  t.ok(trail.findIndex((e) => e.action === 'reject') < trail.findIndex((e) => e.action === 'task.cancelled'), 'after the refusal that caused it');
  const updates = await ta.sql.query(`SELECT payload->'data' AS d FROM outbox WHERE payload->>'type' = 'task.updated' AND payload->'data'->>'to' = 'cancelled'`);
  t.same(updates.rows.map((x) => [x.d.system_id, x.d.from, x.d.by]).sort(), [[agency, 'pending', 'rightful'], [archive, 'pending', 'rightful']].sort(), 'task.updated announces each');

  await waitUntil(() => got(crmHook, 'restriction.lifted').length >= 1 && got(agencyHook, 'restriction.lifted').length >= 1, 15_000, 'both told of the lift');
  const lifted = got(crmHook, 'restriction.lifted')[0];
  t.match(lifted.data, { request_id: r.id, system_id: crm, subject: { identifiers: [{ type: 'email', value: 'refused.restriction@example.com' }] } });
  t.equal((await callback(ta, lifted, 'completed')).statusCode, 200, 'the CRM answers the lift');
  t.match(await get(ta, r.id), { status: 'rejected' }, 'the request stays refused');
  await sleep(800);
  for (const [name, hook] of [['CRM', crmHook], ['agency', agencyHook]] as const) {
    t.same([got(hook, 'restriction.requested').length, got(hook, 'restriction.lifted').length], [1, 1], `the ${name} got each once`);
  }
  const mailed = await ta.sql.query(`SELECT count(*)::int AS n FROM rights_request_events WHERE request_id = $1 AND action = 'task.unreachable'`, [r.id]);
  t.equal(mailed.rows[0].n, 1, 'the archive was looked for once, and not again for a lift');
});

t.test('a restriction withdrawn before anything was sent: tasks cancelled, no lift, and the queued sends send nothing', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  await system(ta, { name: 'CRM', kind: 'crm', handles: ['restriction'], webhook_endpoint_id: hook.id });
  const s = await subject(ta, 'withdrawn.restriction@example.com');
  const r = await create(ta, { subject: { id: s }, type: 'restriction', restriction_ground: 'unlawful_processing' });
  await act(ta, r.id, 'withdraw', {});
  t.equal(await restricted(ta, s), false);
  const [task, ...rest] = (await tasksOf(ta, r.id)) as [Row, ...Row[]];
  t.equal(rest.length, 0, 'no restriction_lifted task: no system was ever told');
  t.match(task, { kind: 'restriction', status: 'cancelled', notified_at: null });
  const [send] = (await ta.sql.query(`SELECT id FROM outbox WHERE topic = 'task.send' AND payload->>'task_id' = $1`, [task.id])).rows;
  const result = await ta.scoped(() => ta.app.services.tasks.send(task.id, {
    sendRowId: send.id,
    addressed: (x, endpointId, type, data) => ({ ...addressedEventRow(x.tenantId, type as never, data as never, endpointId), refId: x.requestId }),
    mail: null,
  }));
  t.equal(result, 'skipped', 'the send queued before the withdrawal sends nothing');
  t.equal(await ta.scoped(() => ta.app.services.tasks.sendBody(ta.tenantId, { task_id: task.id })), null, 'nor would a body built for it');
  const callbackRefused = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/tasks/${task.id}/complete`, payload: {} });
  t.equal(callbackRefused.statusCode, 409, 'a cancelled task takes no answer');
});

t.test('an objection restricting meanwhile tells the systems, does not complete with its tasks, and when decided cancels the rest and lifts (Art. 18(1)(d), 19)', async (t) => {
  const { ta, crmHook, agencyHook, crm, agency, archive } = await setup(t);
  await createPurpose(ta, 'analytics', { legal_basis: 'legitimate_interests' });
  await startTestWorker(t, ta);
  const s = await subject(ta, 'objector@example.com');
  const o = await create(ta, { subject: { id: s }, type: 'objection', objection: { scope: 'processing', purposes: ['analytics'] }, restrict_meanwhile: true });
  t.match(o, { status: 'in_progress', restriction_ground: 'objection_pending' });
  t.same(o.waiting_on.map((w: Row) => w.system_name).sort(), ['Archive', 'CRM', 'Print agency'], 'every system that handles restriction and every recipient');
  await waitUntil(() => got(crmHook, 'restriction.requested').length >= 1 && got(agencyHook, 'restriction.requested').length >= 1, 15_000, 'told to restrict');
  t.match(got(crmHook, 'restriction.requested')[0].data, { request_id: o.id, system_id: crm, subject: { external_ref: 'crm-objector@example.com' } });

  // The CRM and the archive (by hand) answer; the agency acknowledges only.
  t.equal((await callback(ta, got(crmHook, 'restriction.requested')[0], 'completed')).statusCode, 200);
  const archiveTask = (await tasksOf(ta, o.id)).find((x) => x.system_id === archive)!;
  await act(ta, o.id, `tasks/${archiveTask.id}/complete`, {});
  t.equal((await callback(ta, got(agencyHook, 'restriction.requested')[0], 'acknowledged')).statusCode, 200);
  t.match(await get(ta, o.id), { status: 'in_progress', waiting_on: [{ system_id: agency, status: 'acknowledged' }] }, 'open for the decision');

  await act(ta, o.id, 'complete', { subject_notified_at: o.received_at, notified_by: 'email' });
  t.equal(await restricted(ta, s), false, 'decided: the flag is lifted');
  const tasks = await tasksOf(ta, o.id);
  t.same(
    tasks.filter((x) => x.kind === 'restriction').map((x) => [x.system_name, x.status]).sort(),
    [['Archive', 'completed'], ['CRM', 'completed'], ['Print agency', 'cancelled']],
    'the acknowledged task is cancelled',
  );
  t.same(
    tasks.filter((x) => x.kind === 'restriction_lifted').map((x) => x.system_name).sort(),
    ['Archive', 'CRM', 'Print agency'],
    'every system that was told (or answered) hears of the lift',
  );
  await waitUntil(() => got(crmHook, 'restriction.lifted').length >= 1 && got(agencyHook, 'restriction.lifted').length >= 1, 15_000, 'told of the lift');
  t.match(await get(ta, o.id), { status: 'completed' });
  await sleep(800);
  for (const [name, hook] of [['CRM', crmHook], ['agency', agencyHook]] as const) {
    t.same([got(hook, 'restriction.requested').length, got(hook, 'restriction.lifted').length], [1, 1], `the ${name} got each once`);
  }
});

t.test('an objection restricting meanwhile stays open when its tasks all close; withdrawn while a granted restriction holds the flag, nothing is lifted', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await createPurpose(ta, 'analytics', { legal_basis: 'legitimate_interests' });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['restriction'], webhook_endpoint_id: hook.id });
  const s = await subject(ta, 'both@example.com');
  const granted = await create(ta, { subject: { id: s }, type: 'restriction', restriction_ground: 'accuracy_contested' });
  const first = (await tasksOf(ta, granted.id))[0]!;
  await act(ta, granted.id, `tasks/${first.id}/complete`, {});
  t.equal((await get(ta, granted.id)).status, 'completed', 'the restriction is granted');

  const o = await create(ta, { subject: { id: s }, type: 'objection', objection: { scope: 'processing', purposes: ['analytics'] }, restrict_meanwhile: true });
  const task = (await tasksOf(ta, o.id))[0]!;
  t.match(task, { system_id: crm, kind: 'restriction', status: 'pending' });
  await act(ta, o.id, `tasks/${task.id}/complete`, {});
  t.match(await get(ta, o.id), { status: 'in_progress', waiting_on: [] }, 'its last task closed: the objection still waits for the decision (Art. 21(1))');
  await act(ta, o.id, 'withdraw', {});
  t.equal(await restricted(ta, s), true, 'the granted restriction still holds the flag');
  t.same((await tasksOf(ta, o.id)).map((x) => [x.kind, x.status]), [['restriction', 'completed']], 'no lift: the CRM must go on restricting');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${o.id}/events?limit=200` })).json().items as Row[];
  t.match(trail.find((e) => e.action === 'withdraw'), { facts: { objections: 'withdrawn', restriction: 'kept' } });
});
