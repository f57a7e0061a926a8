// Systems without an API, reached by `contact_email` (Art. 19): with SMTP configured the worker mails each its task
// (ids, what is asked, the due date, the CRM reference and the callback link; never the person's identifiers or the
// corrections); without SMTP the task stays pending and the audit trail says, once, that the system was not reached.
import t from 'tap';
import { startSmtpSink, type Mail } from '../../helpers/smtp-sink.js';
import { addressedEventRow } from '../../../src/modules/outbox/outbox.events.js';
import { build, type TestApp } from '../../helper.js';
import { waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

type Req = Record<string, any>;


async function setup(ta: TestApp): Promise<{ system: string; subject: string }> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'Print agency', kind: 'other', handles: ['erasure', 'rectification'], recipient: true, contact_email: 'privacy@agency.example' } });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  const subject = await ta.call({
    method: 'POST',
    url: '/v1/subjects',
    payload: { external_ref: 'crm-4711', identifiers: [{ type: 'email', value: 'secret.person@example.com' }, { type: 'phone', value: '+359887000111' }] },
  });
  return { system: res.json().id, subject: subject.json().id };
}

async function open(ta: TestApp, subject: string, type: 'erasure' | 'rectification'): Promise<Req> {
  const extra = type === 'erasure' ? { erasure_ground: 'consent_withdrawn' } : { corrections: [{ category: 'identity', field: 'surname', value: 'Ivanova-Petrova' }] };
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type, channel: 'email', ...extra } });
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`);
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${res.json().id}/approve`, payload: { identity: 'verified' } });
  if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
  return approved.json();
}

t.test('with SMTP, a system reached by email is mailed its task: the request, what is asked, the due date and the callback link, and no personal data but the CRM reference (Art. 19)', async (t) => {
  const { port, mails } = await startSmtpSink(t);
  const ta = await build(t, { env: fastWorkerEnv({ SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Rightful <noreply@controller.example>' }) });
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { dpo_email: 'dpo@controller.example' } })).statusCode, 200);
  const { system, subject } = await setup(ta);
  await startTestWorker(t, ta);

  const rect = await open(ta, subject, 'rectification');
  const forAgency = (m: Mail) => m.to === 'privacy@agency.example';
  await waitUntil(() => mails.filter(forAgency).length >= 1, 15_000, 'the rectification mailed');
  const [mail] = mails.filter(forAgency);
  t.match(mail!.text, new RegExp(`^Subject: \\[Rightful\\] Rectification requested: rights request ${rect.id}`, 'm'), 'the subject says what is asked, for which request');
  t.match(mail!.text, /^Reply-To: dpo@controller\.example/m, "replies reach the controller's DPO");
  t.match(mail!.text, /Print agency is asked to rectify/);
  t.match(mail!.text, new RegExp(`Due: ${rect.due_date}`), 'the due date');
  t.match(mail!.text, /crm-4711/, 'the CRM reference, to find the person');
  t.notMatch(mail!.raw + mail!.text, /secret\.person|359887000111|887000111|Ivanova/, 'no identifier and no correction in the mail');
  const link = /(http:\/\/\S+\/v1\/task-callbacks\/\S+)/.exec(mail!.text)?.[1];
  t.ok(link, 'the callback link');
  const [task] = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${rect.id}/tasks` })).json().items as Req[];
  t.match(task, { system_id: system, reach: 'email', status: 'pending' });
  await waitUntil(async () => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${rect.id}/tasks` })).json().items[0].notified_at, 5000, 'notified_at recorded');
  const recipients = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${rect.id}/recipients` })).json();
  t.match(recipients.items, [{ system_name: 'Print agency', how: 'email', told_at: String }], 'Art. 19: when and how the recipient was told');

  const answered = await ta.app.inject({ method: 'POST', url: new URL(link!).pathname, payload: { status: 'completed' } });
  t.equal(answered.statusCode, 200, answered.body);
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${rect.id}` })).json(), { status: 'completed', outcome: { result: 'granted' } }, 'the answer through the mailed link completes the request');

  const erasure = await open(ta, subject, 'erasure');
  await waitUntil(() => mails.filter(forAgency).length >= 2, 15_000, 'the erasure mailed');
  const second = mails.filter(forAgency)[1]!;
  t.match(second.text, new RegExp(`Erasure requested: rights request ${erasure.id}`));
  t.match(second.text, /asked to erase/);
  t.not(/^Message-ID: (.*)$/im.exec(second.raw)?.[1], /^Message-ID: (.*)$/im.exec(mail!.raw)?.[1], 'one message id per task send');
  t.notMatch(second.raw + second.text, /secret\.person|887000111/, 'no identifier');
  // The mail leaves before its row's completion commits (the worker's batched statement): wait for that, bounded.
  const notDone = async () => (await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'task.send' AND status <> 'done'`)).rows[0].n as number;
  await waitUntil(async () => (await notDone()) === 0, 5_000, 'the send rows done').catch(() => undefined);
  t.equal(await notDone(), 0, 'every send row is done');
});

t.test('without SMTP, a system reached by email is not reached automatically: the audit trail says so once, and the task stays pending in waiting_on', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  const { system } = await setup(ta);
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'no.smtp@example.com' }] } })).json().id;
  await startTestWorker(t, ta);
  const r = await open(ta, subject, 'erasure');

  const unreachable = async () =>
    (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events?limit=200` })).json().items.filter((e: Req) => e.action === 'task.unreachable') as Req[];
  await waitUntil(async () => (await unreachable()).length >= 1, 15_000, 'the audit trail says the system was not reached');
  const [task] = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/tasks` })).json().items as Req[];
  t.match((await unreachable())[0], { actor: 'rightful', facts: { task_id: task!.id, system_id: system, kind: 'erasure', reach: 'email', why: /SMTP/ } });
  t.match(task, { status: 'pending', notified_at: null, sends: 0 }, 'the task stays pending, not told');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json(), { status: 'in_progress', waiting_on: [{ system_id: system, system_name: 'Print agency', status: 'pending' }] });

  // The send run again (a redelivered row) says nothing more.
  const again = await ta.scoped(() => ta.app.services.tasks.send(task!.id, {
    sendRowId: crypto.randomUUID(),
    addressed: (x, endpointId, type, data) => ({ ...addressedEventRow(x.tenantId, type as never, data as never, endpointId), refId: x.requestId }),
    mail: null,
  }));
  t.equal(again, 'unreachable');
  t.equal((await unreachable()).length, 1, 'said once');
  await waitUntil(async () => (await ta.sql.query(`SELECT 1 FROM outbox WHERE topic = 'task.send' AND status = 'done'`)).rows.length === 1, 5000, 'the send row is done');
});
