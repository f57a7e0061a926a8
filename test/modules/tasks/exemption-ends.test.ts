// An erasure exemption that ends (Art. 17(3)(b)): a system keeps data for a legal retention period, Rightful forgets
// the person meanwhile, and when the period is over the system is asked to erase, with what it needs to find them.
import t from 'tap';
import { scanFor } from '../../helpers/scan.js';
import { localDate } from '../../../src/modules/rights-requests/rights-requests.deadlines.js';
import { exemptionEndsAt, type TaskMail } from '../../../src/modules/tasks/tasks.service.js';
import { build, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { createEndpoint, sleep, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

type Row = Record<string, any>;
const DAY = 86_400_000;
const ZONE = 'Europe/Sofia';
const EMAIL = 'canary.kept-invoices@example.com';
const PHONE = '+359881234567';
const REF = 'crm-canary-4711';

/** A clock that runs with real time, moved forward by `shift`: the API and the worker share it. */
function movableClock() {
  const c = { shift: 0, now: () => new Date(Date.now() + c.shift) };
  return c;
}

async function system(ta: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: body });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function erasure(ta: TestApp, email = EMAIL): Promise<{ subject: string; request: Row }> {
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: REF, identifiers: [{ type: 'email', value: email }, { type: 'phone', value: PHONE }] } })).json().id;
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'email', erasure_ground: 'consent_withdrawn' } });
  if (res.statusCode !== 201) throw new Error(`erasure: ${res.statusCode} ${res.body}`);
  return { subject, request: res.json() };
}

const approve = (ta: TestApp, id: string, exemptions: Row[]) => ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/approve`, payload: { identity: 'verified', exemptions } });
const tasksOf = async (ta: TestApp, id: string): Promise<Row[]> => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/tasks` })).json().items;
const locator = async (ta: TestApp, taskId: string) =>
  (await ta.sql.query('SELECT locator_sealed IS NOT NULL AS sealed, locator_key_wrapped IS NOT NULL AS wrapped, locator_key_id FROM system_tasks WHERE id = $1', [taskId])).rows[0];
const sent = (r: Receiver, type: string) => r.received.map((x) => ({ id: String(x.headers['webhook-id']), ...JSON.parse(x.body) })).filter((b) => b.type === type);


t.test('an exemption until a date (Art. 17(3)(b)): the person is forgotten, and when the period ends the system is asked to erase, with how to find them', async (t) => {
  const clock = movableClock();
  const ta = await build(t, { clock: clock.now, env: fastWorkerEnv() });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: ZONE } });
  const crmHook = await startReceiver(t);
  const billingHook = await startReceiver(t);
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['erasure'], webhook_endpoint_id: (await createEndpoint(ta, crmHook.url, ['request.completed'])).id });
  const billing = await system(ta, { name: 'Billing', kind: 'payment', handles: ['erasure'], webhook_endpoint_id: (await createEndpoint(ta, billingHook.url, ['request.completed'])).id });
  await startTestWorker(t, ta, { clock: clock.now });

  const { subject, request } = await erasure(ta);
  const until = localDate(new Date(Date.now() + 3 * DAY), ZONE);
  const approved = await approve(ta, request.id, [{ system_id: billing, ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until, note: 'Tax law' }]);
  t.equal(approved.statusCode, 200, approved.body);
  const billingTask = (await tasksOf(ta, request.id)).find((x) => x.system_id === billing)!;
  t.match(billingTask, { status: 'exempt', exemption: { ground: 'art17_3_b_legal_obligation', until }, sends: 0 });
  const reopenRows = await ta.sql.query(`SELECT payload, available_at, ref_id FROM outbox WHERE topic = 'task.reopen'`);
  t.same(reopenRows.rows.map((r) => r.payload), [{ task_id: billingTask.id }], 'one reopen row, holding the task id only');
  t.equal(reopenRows.rows[0].available_at.toISOString(), exemptionEndsAt(until, ZONE).toISOString(), "due at the first instant after `until`, in the controller's time zone");
  t.equal(exemptionEndsAt('2026-12-03', ZONE).toISOString(), '2026-12-03T22:00:00.000Z', 'the next midnight in Sofia (UTC+2 in winter)');

  // The CRM erases; the request completes and Rightful forgets the person.
  await waitUntil(() => sent(crmHook, 'erasure.requested').length >= 1, 15_000, 'the CRM told');
  const [toCrm] = sent(crmHook, 'erasure.requested');
  t.equal((await ta.app.inject({ method: 'POST', url: new URL(toCrm.data.callback_url).pathname, payload: { status: 'completed' } })).statusCode, 200);
  const done = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}` })).json();
  t.match(done, { status: 'completed', outcome: { result: 'partially_granted', grounds: ['art17_3_b_legal_obligation'] }, waiting_on: [] });
  t.match((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json(), { status: 'erased', external_ref: null, identifiers: [] });
  t.match(await locator(ta, billingTask.id), { sealed: true, wrapped: true, locator_key_id: ta.config.masterKey.id }, 'the exempt task keeps a sealed locator');
  const crmTask = (await tasksOf(ta, request.id)).find((x) => x.system_id === crm)!;
  t.match(await locator(ta, crmTask.id), { sealed: false, wrapped: false, locator_key_id: null }, 'a task not exempt keeps none');
  t.same(await scanFor(ta, [EMAIL, 'kept-invoices', PHONE, '881234567', REF, 'Tax law']), [], 'nothing of the person is readable anywhere');
  t.equal(sent(billingHook, 'erasure.requested').length, 0, 'the exempt system is not asked while the period runs');

  // The day before the period ends: nothing yet.
  clock.shift = exemptionEndsAt(until, ZONE).getTime() - Date.now() - DAY;
  await sleep(800);
  t.equal((await tasksOf(ta, request.id)).find((x) => x.id === billingTask.id)!.status, 'exempt', 'still exempt before the period ends');

  // The period is over: the task reopens and the system is asked to erase.
  clock.shift = exemptionEndsAt(until, ZONE).getTime() - Date.now() + 60_000;
  await waitUntil(() => sent(billingHook, 'erasure.requested').length >= 1, 15_000, 'the exempt system told when the period ends');
  const [toBilling] = sent(billingHook, 'erasure.requested');
  t.match(toBilling.data, { task_id: billingTask.id, request_id: request.id, system_id: billing, subject: { external_ref: REF, identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] } }, 'with how to find the person, from the locator');
  const stored = await ta.sql.query(`SELECT body FROM webhook_deliveries WHERE tenant_id = $1`, [ta.tenantId]);
  t.notMatch(JSON.stringify(stored.rows), /kept-invoices|881234567|crm-canary/, 'built at send time, not stored');

  const reopened = (await tasksOf(ta, request.id)).find((x) => x.id === billingTask.id)!;
  t.match(reopened, { status: 'pending', sends: 1, answered_at: null, exemption: { until } });
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}/events?limit=200` })).json().items as Row[];
  const line = trail.filter((e) => e.action === 'task.reopened');
  t.equal(line.length, 1);
  t.match(line, [{ actor: 'rightful', facts: { task_id: billingTask.id, from: 'exempt', to: 'pending', ground: 'art17_3_b_legal_obligation', until } }], 'the audit trail records the reopening');
  const updates = await ta.sql.query(`SELECT payload->'data' AS d FROM outbox WHERE payload->>'type' = 'task.updated' AND payload->'data'->>'task_id' = $1 AND payload->'data'->>'to' = 'pending'`, [billingTask.id]);
  t.match(updates.rows.map((r) => r.d), [{ from: 'exempt', to: 'pending', by: 'rightful', kind: 'erasure' }], 'task.updated announces it');
  const after = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}` })).json();
  t.match(after, { status: 'completed', outcome: { result: 'partially_granted' }, waiting_on: [{ system_id: billing, system_name: 'Billing', status: 'pending' }] }, 'the request stays answered, and waits on the system');
  const stats = (await ta.call({ method: 'GET', url: '/v1/rights-requests/stats' })).json();
  t.same(stats.waiting_on_systems.map((w: Row) => [w.system_name, w.open_tasks]), [['Billing', 1]]);

  t.equal(await ta.scoped(() => ta.app.services.tasks.reopen(billingTask.id)), 'skipped', 'run twice, the second run changes nothing');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'task.send' AND payload->>'task_id' = $1`, [billingTask.id])).rows[0].n, 1, 'one send');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM rights_request_events WHERE action = 'task.reopened'`)).rows[0].n, 1, 'one reopening');

  // The system erases through its new link; the locator goes with the task's closing.
  const answered = await ta.app.inject({ method: 'POST', url: new URL(toBilling.data.callback_url).pathname, payload: { status: 'completed' } });
  t.same(answered.json(), { task_id: billingTask.id, status: 'completed' });
  t.match(await locator(ta, billingTask.id), { sealed: false, wrapped: false, locator_key_id: null }, 'the locator and its key are gone');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}` })).json(), { status: 'completed', waiting_on: [] });
  await sleep(500);
  t.equal(sent(billingHook, 'erasure.requested').length, 1, 'told once');
});

t.test('`until` must be after today in the controller\'s time zone: 400 naming the field, nothing written', async (t) => {
  const clock = movableClock();
  const ta = await build(t, { clock: clock.now, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: ZONE } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const billing = await system(ta, { name: 'Billing', kind: 'payment', handles: ['erasure'], webhook_endpoint_id: hook.id });
  const crm = await system(ta, { name: 'CRM', kind: 'crm', handles: ['erasure'], webhook_endpoint_id: hook.id });
  const { request } = await erasure(ta);
  const today = localDate(clock.now(), ZONE);
  const exempt = (until: string) => ({ system_id: billing, ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until });
  for (const [label, until] of [['yesterday', localDate(new Date(Date.now() - DAY), ZONE)], ['today', today], ['the last day a date can name', '9999-12-31']] as const) {
    const body = assertProblem(t, await approve(ta, request.id, [exempt(until)]), 400, 'VALIDATION_FAILED', `approve, until ${label}`);
    t.same(fields(body), ['exemptions.0.until']);
  }
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM system_tasks')).rows[0].n, 0, 'no task written');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${request.id}` })).json().status, 'awaiting_approval', 'the request is not approved');

  const ok = await approve(ta, request.id, []);
  t.equal(ok.statusCode, 200, ok.body);
  const task = (await tasksOf(ta, request.id)).find((x) => x.system_id === crm)!;
  const url = `/v1/rights-requests/${request.id}/tasks/${task.id}/exempt`;
  const past = assertProblem(t, await ta.call({ method: 'POST', url, payload: { ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: today } }), 400, 'VALIDATION_FAILED', 'exempt, until today');
  t.same(fields(past), ['until']);
  const bad = assertProblem(t, await ta.call({ method: 'POST', url, payload: { ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: '2026-02-30' } }), 400, 'VALIDATION_FAILED', 'exempt, no such date');
  t.same(fields(bad), ['until']);
  t.equal((await tasksOf(ta, request.id)).find((x) => x.id === task.id)!.status, 'pending', 'the task is unchanged');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'task.reopen'`)).rows[0].n, 0, 'no reopening scheduled');
  const tomorrow = localDate(new Date(clock.now().getTime() + DAY), ZONE);
  const fine = await ta.call({ method: 'POST', url, payload: { ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: tomorrow } });
  t.equal(fine.statusCode, 200, fine.body);
  t.match(fine.json(), { status: 'exempt', exemption: { until: tomorrow } }, 'tomorrow is the first date accepted');
});

t.test('an exemption changed before its date: completed by the DPO it never reopens; moved to a later date it reopens then; a system by email gets its CRM reference', async (t) => {
  const clock = movableClock();
  const ta = await build(t, { clock: clock.now, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: ZONE } });
  const hook = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  const billing = await system(ta, { name: 'Billing', kind: 'payment', handles: ['erasure'], webhook_endpoint_id: hook.id });
  const archive = await system(ta, { name: 'Archive', kind: 'other', handles: ['erasure'], contact_email: 'records@archive.example' });
  const ledger = await system(ta, { name: 'Ledger', kind: 'other', handles: ['erasure'], webhook_endpoint_id: hook.id });
  const { subject, request } = await erasure(ta);
  const soon = localDate(new Date(Date.now() + 2 * DAY), ZONE);
  const later = localDate(new Date(Date.now() + 20 * DAY), ZONE);
  const approved = await approve(ta, request.id, [
    { system_id: billing, ground: 'art17_3_b_legal_obligation', categories: ['invoices'], until: soon },
    { system_id: archive, ground: 'art17_3_e_legal_claims', categories: ['contracts'], until: soon },
    { system_id: ledger, ground: 'art17_3_e_legal_claims', categories: ['disputes'] },
  ]);
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), { status: 'completed', outcome: { result: 'partially_granted' } }, 'every task exempt: the request completes and the person is erased');
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().status, 'erased');
  const tasks = await tasksOf(ta, request.id);
  const billingTask = tasks.find((x) => x.system_id === billing)!;
  const archiveTask = tasks.find((x) => x.system_id === archive)!;
  const ledgerTask = tasks.find((x) => x.system_id === ledger)!;
  t.match(await locator(ta, ledgerTask.id), { sealed: false }, 'an open-ended exemption keeps no locator: there is no date to tell the system at');

  // Billing erased the invoices early: the DPO records it, and the locator goes.
  const completed = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${billingTask.id}/complete`, payload: {} });
  t.equal(completed.statusCode, 200, completed.body);
  t.match(await locator(ta, billingTask.id), { sealed: false, locator_key_id: null }, 'closed: the locator is gone');
  // The archive's period is extended.
  const moved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${archiveTask.id}/exempt`, payload: { ground: 'art17_3_e_legal_claims', categories: ['contracts'], until: later } });
  t.equal(moved.statusCode, 200, moved.body);
  t.match(await locator(ta, archiveTask.id), { sealed: true }, 'still exempt until a date: the locator stays');
  const openEnded = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/tasks/${ledgerTask.id}/exempt`, payload: { ground: 'art17_3_e_legal_claims', categories: ['disputes'], until: later } });
  const refused = assertProblem(t, openEnded, 409, 'TASK_TRANSITION_NOT_ALLOWED', 'a task that kept no locator cannot be exempt until a date once the person is erased');
  t.match(refused.detail, /erased/);

  clock.shift = exemptionEndsAt(soon, ZONE).getTime() - Date.now() + 60_000;
  t.equal(await ta.scoped(() => ta.app.services.tasks.reopen(billingTask.id)), 'skipped', 'completed before its date: not reopened');
  t.equal(await ta.scoped(() => ta.app.services.tasks.reopen(archiveTask.id)), 'not_due', 'moved to a later date: not reopened by the earlier one');
  t.same((await tasksOf(ta, request.id)).map((x) => [x.system_name, x.status]).sort(), [['Archive', 'exempt'], ['Billing', 'completed'], ['Ledger', 'exempt']]);
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'task.send'`)).rows[0].n, 0, 'nothing sent');

  clock.shift = exemptionEndsAt(later, ZONE).getTime() - Date.now() + 60_000;
  t.equal(await ta.scoped(() => ta.app.services.tasks.reopen(archiveTask.id)), 'reopened', 'the later date reopens it');
  const [send] = (await ta.sql.query(`SELECT id FROM outbox WHERE topic = 'task.send' AND payload->>'task_id' = $1`, [archiveTask.id])).rows;
  const mails: TaskMail[] = [];
  const result = await ta.scoped(() => ta.app.services.tasks.send(archiveTask.id, { sendRowId: send.id, addressed: () => ({ tenantId: ta.tenantId, topic: 'never', payload: {} }), mail: async (m) => void mails.push(m) }));
  t.equal(result, 'mailed');
  t.match(mails, [{ to: 'records@archive.example', taskId: archiveTask.id, kind: 'erasure', externalRef: REF, sends: 1 }], 'the mail names the CRM reference from the locator');
});
