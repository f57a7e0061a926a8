// Deadline reminders ride on the outbox: each is delivered once, closing a request cancels the rest, and an
// emptied Redis loses none. Time is a controllable clock shared by the API and the worker's relay.
import t from 'tap';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { build } from '../../helper.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { startThrowawayRedis } from '../../helpers/redis-server.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const DAY = 86_400_000;

const fastEnv = (redisUrl: string, extra: Record<string, string> = {}) => fastWorkerEnv({ REDIS_URL: redisUrl, ...extra });

const reminders = (r: Receiver) =>
  r.received
    .map((m) => ({ id: String(m.headers['webhook-id']), ...(JSON.parse(m.body) as { type: string; data: Record<string, unknown> }) }))
    .filter((m) => m.type === 'request.deadline_approaching' || m.type === 'request.overdue');

const settle = (ms = 1200) => new Promise((r) => setTimeout(r, ms));

t.test('each reminder arrives once at its time; completing the request stops the rest; Redis emptied in between loses none', async (t) => {
  const redis = await startThrowawayRedis(t);
  let now = new Date('2026-03-02T08:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastEnv(redis.url) });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', holiday_calendar: null, reminder_offsets_days: [7, 2] } });
  const receiver = await startReceiver(t);
  await ta.call({
    method: 'POST',
    url: '/v1/webhook-endpoints',
    payload: { url: receiver.url, event_types: ['request.deadline_approaching', 'request.overdue', 'request.created'] },
  });
  const worker = await startTestWorker(t, ta, { clock });

  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'reminded@example.com' }] }, type: 'access', channel: 'email' },
  });
  t.equal(res.statusCode, 201, res.body);
  const request = res.json();
  t.equal(request.due_date, '2026-04-02', '2 March → 2 April (a Thursday)');
  await receiver.waitFor((all) => all.some((m) => JSON.parse(m.body).type === 'request.created'));
  await settle();
  t.equal(reminders(receiver).length, 0, 'no reminder before its time');

  // 7 days before: 26 March 09:00 in Sofia (07:00 UTC, before the switch to summer time on 29 March).
  now = new Date('2026-03-26T07:00:01Z');
  await receiver.waitFor(() => reminders(receiver).length >= 1);
  await settle();
  t.same(reminders(receiver).map((m) => [m.type, m.data.days_left, m.data.request_id]), [['request.deadline_approaching', 7, request.id]]);

  // Redis loses everything in between; the 2-day reminder still arrives, once.
  await redis.client().flushall();
  now = new Date('2026-03-31T06:00:01Z'); // 31 March 09:00 Sofia summer time
  await receiver.waitFor(() => reminders(receiver).length >= 2, 20_000);
  await settle(2500);
  t.same(reminders(receiver).map((m) => [m.type, m.data.days_left]), [
    ['request.deadline_approaching', 7],
    ['request.deadline_approaching', 2],
  ]);

  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/complete`, payload: { resolution: 'Answered by letter', subject_notified_at: '2026-03-31T06:00:00Z', notified_by: 'letter' } });
  t.equal(done.statusCode, 200);
  now = new Date('2026-04-10T00:00:00Z'); // well past the deadline
  await settle(2500);
  t.equal(reminders(receiver).filter((m) => m.type === 'request.overdue').length, 0, 'the overdue alert of a completed request is never sent');
  const ids = reminders(receiver).map((m) => m.id);
  t.equal(new Set(ids).size, ids.length, 'each reminder under its own webhook-id, delivered once');
});

t.test('a request entered late gets the reminders it missed at once, once each', async (t) => {
  const redis = await startThrowawayRedis(t);
  const now = new Date('2026-06-15T10:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastEnv(redis.url) });
  const receiver = await startReceiver(t);
  await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['request.deadline_approaching', 'request.overdue'] } });
  const worker = await startTestWorker(t, ta, { clock });
  // A letter received 40 days ago is entered only now: its deadline (15 May → Friday 15 May 2026 in UTC) has passed.
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'late@example.com' }] }, type: 'erasure', channel: 'letter', received_at: new Date(now.getTime() - 40 * DAY).toISOString() },
  });
  t.equal(res.statusCode, 201);
  t.equal(res.json().overdue, true);
  await receiver.waitFor(() => reminders(receiver).length >= 3);
  await settle(2000);
  t.same(reminders(receiver).map((m) => [m.type, m.data.days_left]).sort(), [
    ['request.deadline_approaching', 2],
    ['request.deadline_approaching', 7],
    ['request.overdue', 0],
  ]);
});

t.test('an extension moves the pending reminders to the new deadline', async (t) => {
  const now = new Date('2026-01-05T10:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'moved@example.com' }] }, type: 'portability', channel: 'web' },
  });
  const id = res.json().id;
  const pending = async () =>
    (
      await ta.sql.query(
        `SELECT payload->>'type' AS type, (payload->'data'->>'due_date') AS due, available_at FROM outbox
          WHERE ref_id = $1 AND status = 'pending' AND payload->>'type' IN ('request.deadline_approaching', 'request.overdue') ORDER BY available_at`,
        [id],
      )
    ).rows.map((r) => [r.type, r.due]);
  t.same(await pending(), [
    ['request.deadline_approaching', '2026-02-05'],
    ['request.deadline_approaching', '2026-02-05'],
    ['request.overdue', '2026-02-05'],
  ]);
  const ext = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/extend`, payload: { reason: 'Data in five systems', subject_informed_at: '2026-01-05T10:00:00Z' } });
  t.equal(ext.json().due_date, '2026-04-06', '5 January + 3 months = 5 April (Sunday) → Monday 6 April');
  t.same(await pending(), [
    ['request.deadline_approaching', '2026-04-06'],
    ['request.deadline_approaching', '2026-04-06'],
    ['request.overdue', '2026-04-06'],
  ]);
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/request-clarification`, payload: {} });
  t.same(await pending(), [], 'while the clock is paused nothing is due');
});

t.test('with SMTP_URL, the DPO gets new requests and reminders by email, without personal data', async (t) => {
  const { port, mails } = await startSmtpSink(t);
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url, { SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Rightful <noreply@controller.example>' }) });
  const patched = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { dpo_email: 'dpo@controller.example' } });
  t.equal(patched.statusCode, 200, patched.body);
  const worker = await startTestWorker(t, ta);
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: {
      subject: { identifiers: [{ type: 'email', value: 'secret.person@example.com' }] },
      type: 'erasure',
      channel: 'phone',
      received_at: new Date(Date.now() - 40 * DAY).toISOString(),
      details: 'Please delete my account quickly',
    },
  });
  t.equal(res.statusCode, 201);
  const deadline = Date.now() + 20_000;
  while (mails.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const rows = await ta.sql.query("SELECT topic, status, last_error FROM outbox WHERE topic = 'email.dpo'");
  t.equal(mails.length, 4, `new request + 7-day + 2-day reminders + overdue alert ${JSON.stringify(rows.rows)}`);
  t.ok(mails.every((m) => m.to === 'dpo@controller.example'));
  const subjects = mails.map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1] ?? '').sort();
  t.match(subjects.join('\n'), /New erasure request/);
  t.match(subjects.join('\n'), /Overdue: erasure request/);
  for (const m of mails) {
    t.notOk(m.raw.includes('secret.person'), 'no identifier in the mail');
    t.notOk(m.raw.includes('delete my account'), 'no details in the mail');
  }
});
