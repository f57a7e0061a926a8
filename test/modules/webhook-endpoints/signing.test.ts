// Signatures as receivers check them, with the standardwebhooks library (independent of our signer): secret
// rotation signs with both secrets for the grace period, then with the new one alone; the ping; redelivery.
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { build, createSubject } from '../../helper.js';
import { assertProblem } from '../../helpers/problem.js';
import { startReceiver, type Received } from '../../helpers/receiver.js';
import { createEndpoint, deliveriesOf, waitForDelivery } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

// One retry, an hour away: a failed attempt leaves the delivery pending for the whole test.
const ENV = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '1h' });

const headersOf = (m: Received, signature?: string) => ({
  'webhook-id': String(m.headers['webhook-id']),
  'webhook-timestamp': String(m.headers['webhook-timestamp']),
  'webhook-signature': signature ?? String(m.headers['webhook-signature']),
});
const verifies = (secret: string, m: Received, signature?: string): boolean => {
  try {
    new Webhook(secret).verify(m.body, headersOf(m, signature));
    return true;
  } catch {
    return false;
  }
};
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

t.test('rotate-secret: both secrets sign during the grace period, then only the new one', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  const { id, secret: oldSecret } = await createEndpoint(ta, receiver.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);

  // Before rotating: one signature, the original secret.
  await createSubject(ta, 'before-rotation@example.com');
  const [first] = await receiver.waitFor((all) => all.length >= 1);
  t.equal(String(first!.headers['webhook-signature']).split(' ').length, 1, 'one signature before rotation');
  t.ok(verifies(oldSecret, first!), 'verifies with the original secret');
  t.notOk(verifies(OTHER_SECRET, first!), 'and not with an unrelated secret (the check can fail)');

  const rotated = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/rotate-secret` });
  t.equal(rotated.statusCode, 200);
  const newSecret = rotated.json().secret as string;
  t.match(newSecret, /^whsec_/);
  t.not(newSecret, oldSecret, 'a new secret');
  const expires = Date.parse(rotated.json().previous_secret_expires_at);
  t.ok(Math.abs(expires - (Date.now() + 24 * 3_600_000)) < 60_000, 'the old secret expires in 24 hours');
  const got = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` });
  t.notOk('secret' in got.json(), 'GET still has no secret');
  t.equal(got.json().previous_secret_expires_at, rotated.json().previous_secret_expires_at);

  await createSubject(ta, 'during-grace@example.com');
  const [, second] = await receiver.waitFor((all) => all.length >= 2);
  const sigs = String(second!.headers['webhook-signature']).split(' ');
  t.equal(sigs.length, 2, 'two space-separated signatures');
  t.ok(sigs.every((s) => /^v1,[A-Za-z0-9+/]{43}=$/.test(s)), 'both are v1 HMAC-SHA256 signatures');
  t.not(sigs[0], sigs[1], 'two different signatures');
  t.ok(verifies(newSecret, second!), 'the library verifies the body with the new secret');
  t.ok(verifies(oldSecret, second!), 'and with the old one');
  t.notOk(verifies(OTHER_SECRET, second!), 'not with an unrelated secret');
  // Each signature belongs to exactly one of the secrets.
  t.same(
    sigs.map((s) => [verifies(newSecret, second!, s), verifies(oldSecret, second!, s)]),
    [
      [true, false],
      [false, true],
    ],
    'the first signature is the new secret\'s, the second the old one\'s',
  );

  // The grace period is over: only the new secret signs.
  await ta.sql.query(`UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 minute' WHERE id = $1`, [id]);
  await createSubject(ta, 'after-grace@example.com');
  const [, , third] = await receiver.waitFor((all) => all.length >= 3);
  t.equal(String(third!.headers['webhook-signature']).split(' ').length, 1, 'one signature after the old secret expired');
  t.ok(verifies(newSecret, third!), 'verifies with the new secret');
  t.notOk(verifies(oldSecret, third!), 'no longer with the old one');

  // A second rotation replaces the previous secret: the first secret never comes back.
  const again = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/rotate-secret` });
  const newest = again.json().secret as string;
  await createSubject(ta, 'second-rotation@example.com');
  const [, , , fourth] = await receiver.waitFor((all) => all.length >= 4);
  t.equal(String(fourth!.headers['webhook-signature']).split(' ').length, 2);
  t.ok(verifies(newest, fourth!) && verifies(newSecret, fourth!), 'newest and previous secrets sign');
  t.notOk(verifies(oldSecret, fourth!), 'the first secret does not');
});

t.test('POST .../test sends a ping that reaches the receiver and verifies', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  // Subscribed to one type only: a ping goes to the endpoint whatever it subscribes to.
  const { id, secret } = await createEndpoint(ta, receiver.url, ['consent.withdrawn']);
  const worker = await startTestWorker(t, ta);

  const res = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/test` });
  t.equal(res.statusCode, 202);
  const queued = res.json();
  t.match(queued, { delivery_id: String, webhook_id: /^msg_/ });
  const [msg] = await receiver.waitFor((all) => all.length >= 1);
  t.equal(msg!.headers['webhook-id'], queued.webhook_id, 'the webhook-id the API announced');
  t.match(String(msg!.headers['content-type']), /^application\/json/);
  const payload = new Webhook(secret).verify(msg!.body, headersOf(msg!)) as { type: string; timestamp: string; data: Record<string, unknown> };
  t.equal(payload.type, 'ping');
  t.same(payload.data, { endpoint_id: id });
  t.ok(Number.isFinite(Date.parse(payload.timestamp)), 'an ISO timestamp');
  const ts = Number(msg!.headers['webhook-timestamp']);
  t.ok(Math.abs(ts - Date.now() / 1000) < 60, 'webhook-timestamp is now, in seconds');
  const d = await waitForDelivery(ta, id, (x) => x.id === queued.delivery_id && x.status === 'succeeded', 10_000);
  t.equal(d.event_type, 'ping');
  t.equal(d.attempts.length, 1);
  t.equal(d.attempts[0]!.status_code, 200);
});

t.test('redeliver: a succeeded delivery arrives again under the same webhook-id; a pending one is a 409', async (t) => {
  const ta = await build(t, { env: ENV });
  const receiver = await startReceiver(t);
  const { id, secret } = await createEndpoint(ta, receiver.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);

  await createSubject(ta, 'redeliver@example.com');
  const [original] = await receiver.waitFor((all) => all.length >= 1);
  const done = await waitForDelivery(ta, id, (d) => d.status === 'succeeded', 10_000);
  t.equal(done.attempts.length, 1);

  const again = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/deliveries/${done.id}/redeliver` });
  t.equal(again.statusCode, 202);
  t.same(again.json(), { delivery_id: done.id, webhook_id: done.webhook_id });
  const [, copy] = await receiver.waitFor((all) => all.length >= 2);
  t.equal(copy!.headers['webhook-id'], original!.headers['webhook-id'], 'the same webhook-id');
  t.equal(copy!.body, original!.body, 'the same body');
  t.ok(verifies(secret, copy!), 'freshly signed, verifies');
  const after = await waitForDelivery(ta, id, (d) => d.id === done.id && d.status === 'succeeded' && d.attempts.length === 2, 10_000, 'second attempt logged');
  t.equal(after.attempt_count, 2, 'attempt_count grew');
  t.same(after.attempts.map((a) => a.status_code), [200, 200], 'the attempts list grew');
  t.equal((await deliveriesOf(ta, id)).length, 1, 'still one delivery, not a new one');

  // A delivery whose first attempt failed waits an hour for its retry: it is pending, and redelivering it is a 409.
  receiver.respond = () => 500;
  await createSubject(ta, 'pending@example.com');
  const pending = await waitForDelivery(ta, id, (d) => d.id !== done.id && d.attempts.length === 1, 10_000, 'failed first attempt');
  t.equal(pending.status, 'pending');
  t.ok(pending.next_attempt_at && Date.parse(pending.next_attempt_at) > Date.now() + 30 * 60_000, 'its retry is far away');
  const conflict = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/deliveries/${pending.id}/redeliver` });
  assertProblem(t, conflict, 409, 'CONFLICT', 'redeliver a pending delivery');
  const { rows } = await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE payload->>'delivery_id' = $1`, [pending.id]);
  t.equal(rows[0].n, 1, 'no second outbox row was written for it');
  // An unknown delivery id is a 404.
  assertProblem(t, await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${id}/deliveries/${crypto.randomUUID()}/redeliver` }), 404, 'WEBHOOK_DELIVERY_NOT_FOUND');
});
