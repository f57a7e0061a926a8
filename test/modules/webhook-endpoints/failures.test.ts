// When receivers fail: 410 disables at once, retries end in a failed delivery, an endpoint failing for days is
// disabled (and PATCH enabled:true brings it back), and /v1/outbox/stats counts what happened.
import http from 'node:http';
import t from 'tap';
import { build, createSubject, type TestApp } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, deliveriesOf, sleep, startRawServer, waitForDelivery, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const ENV = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '100ms,100ms', WEBHOOK_TIMEOUT_MS: '3000' });

const getEndpoint = async (ta: TestApp, id: string) => (await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` })).json();
const outboxStatusOf = async (ta: TestApp, deliveryId: string) =>
  (await ta.sql.query(`SELECT status, last_error FROM outbox WHERE payload->>'delivery_id' = $1`, [deliveryId])).rows;

t.test('a receiver answering 410 disables the endpoint, and its delivery is failed', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  receiver.respond = () => 410;
  const { id } = await createEndpoint(ta, receiver.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);

  await createSubject(ta, 'gone@example.com');
  const d = await waitForDelivery(ta, id, (x) => x.status === 'failed', 10_000, 'failed delivery');
  t.equal(d.attempts.length, 1, 'no retry after a 410');
  t.equal(d.attempts[0]!.status_code, 410);
  t.equal(d.attempts[0]!.error, 'HTTP 410');
  t.ok(d.finished_at, 'finished');
  t.equal(d.next_attempt_at, null);
  const ep = await getEndpoint(ta, id);
  t.equal(ep.status, 'disabled', 'GET shows the endpoint disabled');
  t.equal(ep.disabled_reason, 'the receiver answered 410 Gone', 'and says why');
  t.same(await outboxStatusOf(ta, d.id), [{ status: 'dead', last_error: 'HTTP 410' }], 'its outbox row is dead, with the reason');

  // A disabled endpoint gets no new deliveries, and cannot be pinged or redelivered to.
  await createSubject(ta, 'gone-again@example.com');
  await sleep(800);
  t.equal((await deliveriesOf(ta, id)).length, 1, 'no new delivery');
  t.equal(receiver.received.length, 1, 'nothing more arrived');
  t.equal((await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/test` })).statusCode, 409);
  t.equal((await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/deliveries/${d.id}/redeliver` })).statusCode, 409);
  const stats = (await ta.call({ method: 'GET', url: '/v1/outbox/stats' })).json();
  t.same(stats.endpoints, [{ endpoint_id: id, status: 'disabled', pending: 0, succeeded: 0, failed: 1 }]);
});

t.test('a receiver always answering 500: three attempts, then a failed delivery listing each', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  receiver.respond = () => 500;
  const { id } = await createEndpoint(ta, receiver.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);

  const started = Date.now();
  await createSubject(ta, 'always-500@example.com');
  const d = await waitForDelivery(ta, id, (x) => x.status === 'failed', 15_000, 'failed delivery');
  t.equal(d.attempt_count, 3);
  t.same(d.attempts.map((a) => a.status_code), [500, 500, 500], 'three attempts, each with its status code');
  t.same(d.attempts.map((a) => a.error), ['HTTP 500', 'HTTP 500', 'HTTP 500']);
  t.ok(d.attempts.every((a) => Number.isInteger(a.duration_ms) && a.duration_ms >= 0 && a.duration_ms < 3000), 'durations recorded');
  const times = d.attempts.map((a) => Date.parse(a.attempted_at));
  t.ok(times[1]! - times[0]! >= 80 && times[2]! - times[1]! >= 80, `retries waited their delay (${times[1]! - times[0]!}, ${times[2]! - times[1]!} ms)`);
  t.ok(Date.now() - started < 10_000, 'short delays were used');
  t.equal(receiver.received.length, 3);
  t.equal(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across the attempts');
  t.same(await outboxStatusOf(ta, d.id), [{ status: 'dead', last_error: 'HTTP 500' }], 'its outbox row is dead');
  await sleep(600);
  t.equal(receiver.received.length, 3, 'no fourth attempt');
  const ep = await getEndpoint(ta, id);
  t.equal(ep.status, 'active', 'a few failures do not disable the endpoint');
  t.ok(ep.failing_since && Date.parse(ep.failing_since) >= started - 1000, 'failing_since marks the start of the failures');
});

t.test('an endpoint failing for 6 days is disabled at its next failed attempt; PATCH enabled:true re-enables it', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  receiver.respond = () => 503;
  const { id } = await createEndpoint(ta, receiver.url, ['subject.created']);
  // A control endpoint failing for 4 days (under the 5-day limit) stays active.
  const control = await startReceiver(t);
  control.respond = () => 503;
  const { id: controlId } = await createEndpoint(ta, control.url, ['subject.created']);
  await ta.sql.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1`, [id]);
  await ta.sql.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '4 days' WHERE id = $1`, [controlId]);
  const worker = await startTestWorker(t, ta);

  await createSubject(ta, 'six-days@example.com');
  const d = await waitForDelivery(ta, id, (x) => x.status === 'failed', 10_000, 'failed delivery');
  t.equal(d.attempts.length, 1, 'disabled at the first failed attempt, no retry');
  t.equal(d.attempts[0]!.status_code, 503);
  const ep = await getEndpoint(ta, id);
  t.equal(ep.status, 'disabled');
  t.match(ep.disabled_reason, /^failing continuously since \d{4}-\d\d-\d\dT/, 'says it has been failing since when');
  t.ok(Date.now() - Date.parse(ep.failing_since) > 5.9 * 86_400_000, 'failing_since kept');

  const c = await waitForDelivery(ta, controlId, (x) => x.status === 'failed', 10_000, 'control delivery failed');
  t.equal(c.attempts.length, 3, 'the control endpoint used all its attempts');
  t.equal((await getEndpoint(ta, controlId)).status, 'active', '4 days failing is not enough to disable');

  const on = await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload: { enabled: true } });
  t.equal(on.statusCode, 200);
  t.match(on.json(), { status: 'active', disabled_reason: null, failing_since: null }, 're-enabled with a clean slate');
  receiver.respond = () => 200;
  await createSubject(ta, 'back@example.com');
  const ok = await waitForDelivery(ta, id, (x) => x.status === 'succeeded', 10_000, 'delivery after re-enabling');
  t.same(ok.attempts.map((a) => a.status_code), [200]);
  const after = await getEndpoint(ta, id);
  t.equal(after.status, 'active');
  t.equal(after.failing_since, null);
});

t.test('GET /v1/outbox/stats counts outbox rows and deliveries per endpoint as they happened', async (t) => {
  const ta = await build(t, { env: ENV });
  const okReceiver = await startReceiver(t);
  const badReceiver = await startReceiver(t);
  badReceiver.respond = () => 500;
  // A receiver that holds each answer until released (at most 2.5 s), so a delivery can be seen in flight.
  const held = new Set<http.ServerResponse>();
  const slow = await startRawServer(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      held.add(res);
      const timer = setTimeout(() => release(res), 2500);
      res.on('close', () => clearTimeout(timer));
    });
  });
  const release = (res: http.ServerResponse) => {
    if (!held.delete(res)) return;
    res.writeHead(204).end();
  };
  const a = await createEndpoint(ta, okReceiver.url, ['subject.created']);
  const b = await createEndpoint(ta, badReceiver.url, ['subject.created']);
  const stats = async () => {
    const res = await ta.call({ method: 'GET', url: '/v1/outbox/stats' });
    t.equal(res.statusCode, 200);
    return res.json();
  };
  type EndpointStats = { endpoint_id: string; status: string; pending: number; succeeded: number; failed: number };
  const byEndpoint = (s: { endpoints: EndpointStats[] }): Record<string, EndpointStats> => Object.fromEntries(s.endpoints.map((e) => [e.endpoint_id, e]));

  // No worker yet: the event waits.
  await createSubject(ta, 'stats-1@example.com');
  const before = await stats();
  t.same(before.outbox, { pending: 1, in_flight: 0, done: 0, dead: 0, cancelled: 0, overdue: 0 }, 'one pending event row');
  t.same(byEndpoint(before), {
    [a.id]: { endpoint_id: a.id, status: 'active', pending: 0, succeeded: 0, failed: 0 },
    [b.id]: { endpoint_id: b.id, status: 'active', pending: 0, succeeded: 0, failed: 0 },
  });
  // A row past its time by over a minute counts as overdue.
  await ta.sql.query(`UPDATE outbox SET available_at = now() - interval '2 minutes'`);
  t.equal((await stats()).outbox.overdue, 1, 'overdue while no worker runs');

  const worker = await startTestWorker(t, ta);
  await waitForDelivery(ta, a.id, (d) => d.status === 'succeeded', 10_000);
  await waitForDelivery(ta, b.id, (d) => d.status === 'failed', 10_000);
  const first = await waitUntil(async () => {
    const s = await stats();
    return s.outbox.pending === 0 && s.outbox.in_flight === 0 ? s : null;
  }, 5000, 'settled');
  t.same(first.outbox, { pending: 0, in_flight: 0, done: 2, dead: 1, cancelled: 0, overdue: 0 }, 'event and A done, B dead');
  t.same(byEndpoint(first)[a.id], { endpoint_id: a.id, status: 'active', pending: 0, succeeded: 1, failed: 0 });
  t.same(byEndpoint(first)[b.id], { endpoint_id: b.id, status: 'active', pending: 0, succeeded: 0, failed: 1 });

  // A third endpoint that holds its answer: while it holds, the event is in flight (its row held by the processor
  // making the first attempts) and nothing is recorded for C yet: deliveries are written once those attempts end.
  const c = await createEndpoint(ta, `http://127.0.0.1:${slow.port}/hooks`, ['subject.created']);
  await createSubject(ta, 'stats-2@example.com');
  await waitUntil(() => held.size === 1, 10_000, 'the slow receiver holds a request');
  const during = await stats();
  t.ok(during.outbox.in_flight >= 1, `in flight while the receiver holds it (${during.outbox.in_flight})`);
  t.same(byEndpoint(during)[c.id], { endpoint_id: c.id, status: 'active', pending: 0, succeeded: 0, failed: 0 }, 'C has no delivery recorded while its first attempt runs');
  for (const res of [...held]) release(res);
  await waitForDelivery(ta, c.id, (d) => d.status === 'succeeded', 10_000);
  await waitForDelivery(ta, b.id, (d) => d.status === 'failed' && d.attempts.length === 3 && d.event_type === 'subject.created', 10_000);
  const last = await waitUntil(async () => {
    const s = await stats();
    return s.outbox.pending === 0 && s.outbox.in_flight === 0 && s.outbox.dead === 2 ? s : null;
  }, 10_000, 'settled again');
  t.same(last.outbox, { pending: 0, in_flight: 0, done: 5, dead: 2, cancelled: 0, overdue: 0 }, '2 events + 2 to A + 1 to C done; 2 to B dead');
  t.same(byEndpoint(last), {
    [a.id]: { endpoint_id: a.id, status: 'active', pending: 0, succeeded: 2, failed: 0 },
    [b.id]: { endpoint_id: b.id, status: 'active', pending: 0, succeeded: 0, failed: 2 },
    [c.id]: { endpoint_id: c.id, status: 'active', pending: 0, succeeded: 1, failed: 0 },
  });
  // The stats agree with the tables behind them.
  const { rows } = await ta.sql.query(`SELECT status, count(*)::int AS n FROM outbox GROUP BY status ORDER BY status`);
  t.same(rows, [
    { status: 'dead', n: 2 },
    { status: 'done', n: 5 },
  ]);
  t.equal(okReceiver.received.length, 2);
  t.equal(badReceiver.received.length, 6, 'three attempts per event at B');
  t.equal(slow.requests, 1);
});
