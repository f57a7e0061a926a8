// An event's first attempts are made before anything of them is written, and recorded in one statement once they
// end: a success leaves a delivery, its attempt and the event done, and no outbox row of its own. Until that statement
// commits the event stays held; when it cannot commit, the event is sent again under the same webhook-id, and is
// recorded once.
import t from 'tap';
import { build, createSubject } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, deliveriesOf, waitForDelivery, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const ENV = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '100ms,100ms', WEBHOOK_TIMEOUT_MS: '3000' });

t.test('a first attempt that succeeds is recorded with its event, without an outbox row of its own', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  const a = await createEndpoint(ta, receiver.url, ['subject.created']);
  const b = await createEndpoint(ta, receiver.url, ['*']);
  await startTestWorker(t, ta);
  await createSubject(ta, 'first-attempt@example.com');
  const [da, db] = await Promise.all([a, b].map((e) => waitForDelivery(ta, e.id, (d) => d.status === 'succeeded', 10_000)));
  for (const d of [da!, db!]) {
    t.equal(d.attempts.length, 1, 'one attempt');
    t.equal(d.attempts[0]!.status_code, 200);
    t.equal(d.attempts[0]!.error, null);
    t.ok(d.finished_at, 'finished');
  }
  t.equal(receiver.received.length, 2, 'each endpoint got the event once');
  t.equal(new Set(receiver.received.map((m) => m.headers['webhook-id'])).size, 1, 'under one webhook-id');
  const { rows } = await ta.sql.query(`SELECT topic, status FROM outbox ORDER BY topic`);
  t.same(rows, [{ topic: 'event', status: 'done' }], 'the event row is done, and it is the only outbox row');
});

t.test('when the record cannot commit, the event is sent again under the same webhook-id and recorded once', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  const e = await createEndpoint(ta, receiver.url, ['subject.created']);
  // Every attempt row is refused for now: the statement that records the first attempts fails as a whole.
  await ta.sql.query('ALTER TABLE webhook_attempts ADD CONSTRAINT held_back CHECK (duration_ms < 0) NOT VALID');
  t.teardown(() => ta.sql.query('ALTER TABLE webhook_attempts DROP CONSTRAINT IF EXISTS held_back'));
  await startTestWorker(t, ta);
  await createSubject(ta, 'record-fails@example.com');
  await waitUntil(() => receiver.received.length >= 2, 15_000, 'the event sent twice');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM webhook_deliveries')).rows[0].n, 0, 'nothing half-written: no delivery without its attempt');
  const { rows: held } = await ta.sql.query(`SELECT status FROM outbox WHERE topic = 'event'`);
  t.same(held, [{ status: 'enqueued' }], 'the event is still in flight');

  await ta.sql.query('ALTER TABLE webhook_attempts DROP CONSTRAINT held_back');
  const d = await waitForDelivery(ta, e.id, (x) => x.status === 'succeeded', 15_000);
  t.equal(d.attempts.length, 1, 'recorded once, with the attempt that could be recorded');
  t.equal((await deliveriesOf(ta, e.id)).length, 1, 'one delivery');
  const ids = new Set(receiver.received.map((m) => m.headers['webhook-id']));
  t.equal(ids.size, 1, `every send carried the same webhook-id (${receiver.received.length} sends), so the receiver can deduplicate`);
  const { rows } = await ta.sql.query(`SELECT topic, status FROM outbox ORDER BY topic`);
  t.same(rows, [{ topic: 'event', status: 'done' }], 'then the event is done');
});
