// The overdue alert and the deadline reminders name the connected systems that have not answered, as they stand
// when the alert is sent (not when it was scheduled): to the webhook subscribers and in the DPO's email.
import t from 'tap';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { build } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { startThrowawayRedis } from '../../helpers/redis-server.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

t.test('an overdue erasure names the system that never answered, and not the one that did', async (t) => {
  const sink = await startSmtpSink(t);
  const smtpPort = sink.port;
  const mails = () => sink.mails.map((m) => m.raw);

  const redis = await startThrowawayRedis(t);
  let now = new Date('2026-03-02T08:00:00Z');
  const clock = () => new Date(now);
  const env = fastWorkerEnv({ REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true', SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, SMTP_FROM: 'Rightful <noreply@controller.example>' });
  const ta = await build(t, { clock, env });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { dpo_email: 'dpo@controller.example', reminder_offsets_days: [2] } });
  const receiver = await startReceiver(t);
  const hook = (await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['request.deadline_approaching', 'request.overdue'] } })).json().id;
  const systems = await Promise.all(
    ['Silent CRM', 'Prompt ERP'].map((name) => ta.call({ method: 'POST', url: '/v1/systems', payload: { name, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: hook } })),
  );
  t.same(systems.map((s) => s.statusCode), [201, 201], systems.map((s) => s.body).join());
  const silent = systems[0]!.json().id;
  const worker = await startTestWorker(t, ta, { clock });

  const created = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'overdue.canary@example.com' }] }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' },
  });
  t.equal(created.statusCode, 201, created.body);
  const req = created.json();
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } })).statusCode, 200);
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/tasks` })).json().items as { id: string; system_name: string }[];
  const erp = tasks.find((x) => x.system_name === 'Prompt ERP')!;
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/tasks/${erp.id}/complete`, payload: {} });
  t.equal(done.statusCode, 200, done.body);

  // Past the last day: the overdue alert goes out now, naming who is still silent at this moment.
  now = new Date(Date.parse(`${req.due_date}T00:00:00Z`) + 2 * 86_400_000);
  const sent = (type: string) =>
    receiver.received.map((m) => JSON.parse(m.body) as { type: string; data: Record<string, unknown> }).find((m) => m.type === type);
  // Both fall due at once (the clock jumped): the 2-day reminder and the overdue alert.
  await receiver.waitFor(() => !!sent('request.overdue') && !!sent('request.deadline_approaching'), 20_000);
  t.same(sent('request.overdue')?.data.waiting_on, [{ system_id: silent, system_name: 'Silent CRM', status: 'pending' }], 'the webhook names the silent system only');
  t.same(sent('request.deadline_approaching')?.data.waiting_on, [{ system_id: silent, system_name: 'Silent CRM', status: 'pending' }], 'the reminder names it too');

  const deadline = Date.now() + 20_000;
  while (!mails().some((m) => /Subject: .*Overdue/.test(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const mail = mails().find((m) => /Subject: .*Overdue/.test(m));
  t.ok(mail, 'the DPO is mailed the overdue alert');
  t.match(mail ?? '', /Still waiting on:[\s\S]*Silent CRM: pending/, 'the mail names the silent system');
  t.notMatch(mail ?? '', /Prompt ERP/, 'and not the system that answered');
  t.notOk(mails().some((m) => m.includes('overdue.canary')), 'no identifier in any mail');

  const stats = (await ta.call({ method: 'GET', url: '/v1/rights-requests/stats' })).json();
  t.match(stats.waiting_on_systems, [{ system_id: silent, system_name: 'Silent CRM', open_tasks: 1 }]);
  await worker.stop();
});
