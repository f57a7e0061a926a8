// Consumers of the outbox through the running worker: a new topic is one registration, its rows are done when the
// handler resolves and retried by the queue when it throws; an event's follow-up rows (the DPO's email) are written
// with its fan-out and sent by their own topic.
import pino from 'pino';
import t from 'tap';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { z } from 'zod';
import { createDb, createPool } from '../../../src/db/client.js';
import { createOutboxRepo, type NewOutboxRow } from '../../../src/modules/outbox/outbox.repo.js';
import { build, type TestApp } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';
import { withTenant } from '../../../src/db/tenant-scope.js';

const DAY = 86_400_000;

function outboxWriter(t: { teardown(fn: () => unknown): void }, ta: TestApp) {
  const pool = createPool({ ...ta.config.database, poolMax: 2 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const repo = createOutboxRepo(db);
  return async (row: NewOutboxRow) => (await withTenant(row.tenantId, () => repo.insert([row], db)))[0]!;
}

const statusOf = async (ta: TestApp, id: string) => (await ta.sql.query('SELECT status, last_error, attempts FROM outbox WHERE id = $1', [id])).rows[0];

t.test('a consumer registered on the worker gets its rows; done when it resolves, retried by the queue when it throws', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  const write = outboxWriter(t, ta);
  const handled: { topic: string; payload: unknown }[] = [];
  let failures = 1;
  await startTestWorker(t, ta, {
    register: (dispatcher) => {
      dispatcher.register('test.send', {
        payload: z.object({ task_id: z.uuid() }),
        handle: async (row, payload) => {
          handled.push({ topic: row.topic, payload });
        },
      });
      dispatcher.register('test.flaky', {
        payload: z.object({}),
        handle: async () => {
          if (failures-- > 0) throw new Error('not this time');
          handled.push({ topic: 'test.flaky', payload: {} });
        },
      });
    },
  });
  const taskId = crypto.randomUUID();
  const sent = await write({ tenantId: ta.tenantId, topic: 'test.send', payload: { task_id: taskId } });
  const invalid = await write({ tenantId: ta.tenantId, topic: 'test.send', payload: { task_id: 42 } });
  const flaky = await write({ tenantId: ta.tenantId, topic: 'test.flaky', payload: {} });
  const orphan = await write({ tenantId: ta.tenantId, topic: 'test.nobody', payload: {} });

  await waitUntil(async () => (await statusOf(ta, sent)).status === 'done', 10_000, 'test.send row done');
  t.same(handled.filter((h) => h.topic === 'test.send'), [{ topic: 'test.send', payload: { task_id: taskId } }]);
  await waitUntil(async () => (await statusOf(ta, invalid)).status === 'dead', 10_000, 'invalid row dead');
  t.match((await statusOf(ta, invalid)).last_error, /^invalid payload: task_id: /);
  await waitUntil(async () => (await statusOf(ta, orphan)).status === 'dead', 10_000, 'orphan row dead');
  t.equal((await statusOf(ta, orphan)).last_error, 'no processor for topic test.nobody');
  await waitUntil(async () => (await statusOf(ta, flaky)).status === 'done', 15_000, 'flaky row done after a retry');
  t.match(await statusOf(ta, flaky), { status: 'done', attempts: 1 }, 'retried by the queue within the same enqueue');
  t.equal(handled.filter((h) => h.topic === 'test.flaky').length, 1);
});

t.test("an alerted event adds the DPO's email to its fan-out; topic email.dpo sends it", async (t) => {
  const { port, mails } = await startSmtpSink(t);
  const ta = await build(t, { env: fastWorkerEnv({ SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Rightful <noreply@controller.example>' }) });
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { dpo_email: 'dpo@controller.example' } })).statusCode, 200);
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['request.created']);
  await startTestWorker(t, ta);

  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'secret.person@example.com' }] }, type: 'access', channel: 'letter', received_at: new Date(Date.now() - 40 * DAY).toISOString() },
  });
  t.equal(res.statusCode, 201, res.body);
  const request = res.json();
  await receiver.waitFor((all) => all.length >= 1);
  await waitUntil(() => mails.length >= 4, 15_000, 'four mails');
  const rows = (await ta.sql.query(`SELECT status, payload, ref_id FROM outbox WHERE topic = 'email.dpo'`)).rows;
  await waitUntil(async () => (await ta.sql.query(`SELECT 1 FROM outbox WHERE topic = 'email.dpo' AND status <> 'done'`)).rows.length === 0, 5000, 'email rows done');
  t.equal(rows.length, 4, 'new request, two reminders and the overdue alert: one email row each');
  t.ok(rows.every((r) => r.ref_id === request.id), 'each email row is about the request (cancelled with its reminders)');
  const events = (await ta.sql.query(`SELECT id FROM outbox WHERE topic = 'event' AND payload->>'type' IN ('request.created', 'request.deadline_approaching', 'request.overdue')`)).rows;
  t.same(rows.map((r) => r.payload.event_id).sort(), events.map((e) => e.id).sort(), 'an email row per alerted event, naming it');
  t.ok(mails.every((m) => m.to === 'dpo@controller.example'));
  t.match(mails.map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]).join('\n'), /New access request/);
  t.notOk(mails.some((m) => m.raw.includes('secret.person')), 'no identifier in any mail');
});
