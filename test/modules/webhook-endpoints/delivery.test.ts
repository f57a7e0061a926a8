import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';
import { startReceiver, verifySigned } from '../../helpers/receiver.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const FAST = fastWorkerEnv({ OUTBOX_RECONCILE_MS: '500', OUTBOX_VISIBILITY_TIMEOUT_MS: '2000', WEBHOOK_RETRY_DELAYS: '200ms,400ms,400ms' });

t.test('a consent grant reaches the receiver, signed as Standard Webhooks says', async (t) => {
  const ta = await build(t, { env: FAST });
  const worker = await startTestWorker(t, ta);
  const receiver = await startReceiver(t);

  const created = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['consent.granted', 'consent.withdrawn'] } });
  t.equal(created.statusCode, 201);
  const { id: endpointId, secret } = created.json();
  t.match(secret, /^whsec_/);

  await createPurpose(ta, 'newsletter');
  const subject = await createSubject(ta, 'hook@example.com');
  const recorded = await grant(ta, subject, 'newsletter');

  const [msg] = await receiver.waitFor((all) => all.length >= 1);
  const verified = verifySigned(secret, msg!);
  t.equal(verified.type, 'consent.granted');
  t.equal(verified.data.subject_id, subject);
  t.equal(verified.data.purpose, 'newsletter');
  t.equal(verified.data.ledger_event_id, recorded.events[0].id);
  t.notOk(msg!.body.includes('hook@example.com'), 'no identifier in the payload');

  const log = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` });
  t.equal(log.statusCode, 200);
  await t.resolves(async () => {
    for (let i = 0; i < 50; i++) {
      const l = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` });
      if (l.json().items[0]?.status === 'succeeded') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('delivery not marked succeeded');
  });
  const after = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` });
  const delivery = after.json().items[0];
  t.equal(delivery.webhook_id, msg!.headers['webhook-id']);
  t.equal(delivery.attempts.length, 1);
  t.equal(delivery.attempts[0].status_code, 200);
});

t.test('a receiver answering 500 gets retries with the same webhook-id, then succeeds', async (t) => {
  const ta = await build(t, { env: FAST });
  const worker = await startTestWorker(t, ta);
  const receiver = await startReceiver(t);
  receiver.respond = (_r, n) => (n <= 2 ? 500 : 204);
  const created = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['*'] } });
  const endpointId = created.json().id;
  await createSubject(ta, 'retry@example.com');
  const all = await receiver.waitFor((r) => r.length >= 3);
  t.equal(new Set(all.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across retries');
  t.equal(JSON.parse(all[0]!.body).type, 'subject.created');
  for (let i = 0; i < 50; i++) {
    const l = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` });
    if (l.json().items[0]?.status === 'succeeded') {
      t.same(l.json().items[0].attempts.map((a: { status_code: number }) => a.status_code), [500, 500, 204]);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.fail('delivery never succeeded');
});

t.test("two tenants' events delivered at once by one worker: every one once, every delivery recorded in its tenant", async (t) => {
  // No reconciler within the test: a row a statement of the wrong tenant skipped would never be delivered, and a
  // success recorded in the wrong tenant would leave its delivery pending.
  const ta = await build(t, { env: { ...FAST, OUTBOX_RECONCILE_MS: '60000', OUTBOX_VISIBILITY_TIMEOUT_MS: '60000' } });
  const other = await ta.newTenant('Other controller');
  const worker = await startTestWorker(t, ta);
  t.ok(worker);
  const receivers = { [ta.tenantId]: await startReceiver(t), [other]: await startReceiver(t) };
  const endpoints: Record<string, string> = {};
  for (const tenantId of [ta.tenantId, other]) {
    const created = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', tenantId, payload: { url: receivers[tenantId]!.url, event_types: ['subject.created'] } });
    endpoints[tenantId] = created.json().id;
  }
  // Interleaved, so the worker's batched statements meet rows of both tenants at the same moment.
  const created = await Promise.all(
    Array.from({ length: 40 }, (_, n) => {
      const tenantId = n % 2 ? other : ta.tenantId;
      return ta.call({ method: 'POST', url: '/v1/subjects', tenantId, payload: { identifiers: [{ type: 'email', value: `both.${n}@example.org` }] } }).then((r) => ({ tenantId, id: r.json().id as string }));
    }),
  );
  for (const tenantId of [ta.tenantId, other]) {
    const mine = new Set(created.filter((c) => c.tenantId === tenantId).map((c) => c.id));
    const got = await receivers[tenantId]!.waitFor((all) => all.length >= 20);
    const ids = receivers[tenantId]!.received.map((m) => JSON.parse(m.body).data.subject_id as string);
    t.equal(ids.length, 20, `tenant ${tenantId === other ? 'B' : 'A'}: twenty deliveries, none twice`);
    t.ok(ids.every((id) => mine.has(id)) && got.length === 20, "each of its own subjects, none of the other tenant's");
  }
  await new Promise((r) => setTimeout(r, 500));
  const { rows } = await ta.sql.query<{ tenant_id: string; status: string; n: number }>(
    "SELECT tenant_id, status, count(*)::int AS n FROM webhook_deliveries GROUP BY 1, 2 ORDER BY 1, 2",
  );
  t.same(
    rows.map((r) => [r.tenant_id, r.status, r.n]).sort(),
    [[ta.tenantId, 'succeeded', 20], [other, 'succeeded', 20]].sort(),
    'and every delivery is recorded as succeeded, in its own tenant',
  );
});
