// Addressed events and send-time bodies, as receivers see them. An event row naming `to_endpoint_id` reaches that
// endpoint of the tenant alone, whatever it subscribes to. A body builder completes an event's data at each send
// (with personal data): the receiver gets it signed, and it is never written to the outbox or the delivery log.
import pino from 'pino';
import t from 'tap';
import { createDb, createPool } from '../../../src/db/client.js';
import { addressedEventRow, eventBodySchema, eventRow, type EventBodyBuilder } from '../../../src/modules/outbox/outbox.events.js';
import { createOutboxRepo, type NewOutboxRow } from '../../../src/modules/outbox/outbox.repo.js';
import { build, type TestApp } from '../../helper.js';
import { startReceiver, type Received, type Receiver, verifySigned } from '../../helpers/receiver.js';
import { createEndpoint, deliveriesOf, sleep, waitForDelivery, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';
import { withTenant } from '../../../src/db/tenant-scope.js';

// One retry, an hour away: nothing is sent twice by accident during a test.
const ENV = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '1h' });

function outboxWriter(t: { teardown(fn: () => unknown): void }, ta: TestApp) {
  const pool = createPool({ ...ta.config.database, poolMax: 2 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const repo = createOutboxRepo(db);
  return async (...rows: NewOutboxRow[]) => {
    for (const row of rows) await withTenant(row.tenantId, () => repo.insert([row], db));
    return rows.map((r) => r.id!);
  };
}

/** Waits until every event row is fanned out (done or dead) and every delivery row is finished. */
const settled = (ta: TestApp) =>
  waitUntil(async () => {
    const { rows } = await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE status IN ('pending', 'enqueued')`);
    return rows[0].n === 0;
  }, 15_000, 'every outbox row finished');

const typesOf = (r: Receiver) => r.received.map((m) => JSON.parse(m.body).type as string);

t.test('an addressed event reaches its endpoint alone, whatever the endpoint subscribes to', async (t) => {
  const ta = await build(t, { env: ENV });
  const write = outboxWriter(t, ta);
  const [a, b, disabledR, deletedR, foreignR] = await Promise.all([startReceiver(t), startReceiver(t), startReceiver(t), startReceiver(t), startReceiver(t)]);
  const target = await createEndpoint(ta, a.url, ['consent.granted']); // not subscribed to subject.erased
  const bystander = await createEndpoint(ta, b.url, ['*']);
  const disabled = await createEndpoint(ta, disabledR.url, ['*']);
  t.equal((await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${disabled.id}`, payload: { enabled: false } })).statusCode, 200);
  const deleted = await createEndpoint(ta, deletedR.url, ['*']);
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/webhook-endpoints/${deleted.id}` })).statusCode, 204);
  const otherTenant = await ta.newTenant('Another controller');
  const foreign = await createEndpoint(ta, foreignR.url, ['*'], otherTenant);
  await startTestWorker(t, ta);

  const data = { subject_id: crypto.randomUUID(), request_id: crypto.randomUUID() };
  const [toTarget, toDisabled, toDeleted, toForeign, broadcast] = await write(
    addressedEventRow(ta.tenantId, 'subject.erased', data, target.id),
    addressedEventRow(ta.tenantId, 'subject.erased', data, disabled.id),
    addressedEventRow(ta.tenantId, 'subject.erased', data, deleted.id),
    addressedEventRow(ta.tenantId, 'subject.erased', data, foreign.id),
    eventRow(ta.tenantId, 'subject.erased', data),
  );
  await a.waitFor((all) => all.length >= 1);
  await b.waitFor((all) => all.length >= 1);
  await settled(ta);
  await sleep(300);

  t.same(typesOf(a), ['subject.erased'], 'the addressed endpoint got its event once, though it subscribes to consent.granted only');
  t.equal(a.received[0]!.headers['webhook-id'], `msg_${toTarget}`, 'under the event id');
  t.same(JSON.parse(a.received[0]!.body).data, data);
  t.same(b.received.map((m) => m.headers['webhook-id']), [`msg_${broadcast}`], 'a subscriber to * got the broadcast event only, none of the addressed ones');
  t.equal(disabledR.received.length, 0, 'nothing reaches a disabled endpoint');
  t.equal(deletedR.received.length, 0, 'nor a deleted one');
  t.equal(foreignR.received.length, 0, "nor another tenant's endpoint, even when named");

  const failed = await deliveriesOf(ta, disabled.id);
  t.same(
    failed.map((d) => [d.webhook_id, d.status, d.attempts.length]),
    [[`msg_${toDisabled}`, 'failed', 0]],
    'the disabled endpoint has the delivery, failed without an attempt, so the miss shows in its log',
  );
  t.same(await deliveriesOf(ta, foreign.id, otherTenant), [], 'no delivery for the foreign endpoint');
  const { rows } = await ta.sql.query('SELECT id, status, last_error FROM outbox WHERE id = ANY($1) ORDER BY id', [[toDeleted, toForeign]]);
  t.same(
    rows.map((r) => [r.status, r.last_error]),
    [
      ['done', 'the addressed endpoint does not exist in the tenant, or is deleted'],
      ['done', 'the addressed endpoint does not exist in the tenant, or is deleted'],
    ],
    'an event addressed to no endpoint of the tenant is done, and says why',
  );
});

const verifies = (secret: string, m: Received): boolean => {
  try {
    verifySigned(secret, m);
    return true;
  } catch {
    return false;
  }
};

const PERSON = { external_ref: 'crm-4711', email: 'secret.person@example.com', correction: 'Marianne Secretname' };

t.test('a body builder completes the data at each send: signed and received, never stored', async (t) => {
  const ta = await build(t, { env: ENV });
  const write = outboxWriter(t, ta);
  const receiver = await startReceiver(t);
  const system = await createEndpoint(ta, receiver.url, ['request.created']);
  const calls: { tenantId: string; data: Record<string, unknown> }[] = [];
  let sends = 0;
  const erasure: EventBodyBuilder = async (tenantId, data) => {
    calls.push({ tenantId, data });
    sends++;
    return {
      ...data,
      callback_url: `https://rightful.example/v1/task-callbacks/token-${sends}`,
      subject: { external_ref: PERSON.external_ref, identifiers: [{ type: 'email', value: PERSON.email }] },
      not_in_the_catalogue: 'dropped before sending',
    };
  };
  const rectification: EventBodyBuilder = async (_tenantId, data) => ({
    ...data,
    callback_url: 'https://rightful.example/v1/task-callbacks/token-r',
    subject: { external_ref: null, identifiers: [] },
    corrections: [{ category: 'identity', field: 'last_name', value: PERSON.correction }],
  });
  const gone: EventBodyBuilder = async () => null;
  const strays: EventBodyBuilder = async (_tenantId, data) => ({ ...data }); // lacks callback_url and subject
  await startTestWorker(t, ta, {
    register: (_dispatcher, deps) => {
      deps.bodies.set('erasure.requested', erasure);
      deps.bodies.set('rectification.requested', rectification);
      deps.bodies.set('restriction.requested', gone);
      deps.bodies.set('restriction.lifted', strays);
    },
  });

  const stored = { task_id: crypto.randomUUID(), request_id: crypto.randomUUID(), system_id: crypto.randomUUID(), due_date: '2026-05-04' };
  const [erasureId, rectificationId, goneId, strayId] = await write(
    addressedEventRow(ta.tenantId, 'erasure.requested', stored, system.id),
    addressedEventRow(ta.tenantId, 'rectification.requested', stored, system.id),
    addressedEventRow(ta.tenantId, 'restriction.requested', stored, system.id),
    addressedEventRow(ta.tenantId, 'restriction.lifted', stored, system.id),
  );
  await receiver.waitFor((all) => all.length >= 2);
  await settled(ta);
  await sleep(300);

  t.same(typesOf(receiver).sort(), ['erasure.requested', 'rectification.requested'], 'only the events whose builder gave a valid body were sent');
  const byType = (type: string) => receiver.received.find((m) => JSON.parse(m.body).type === type)!;
  const sent = byType('erasure.requested');
  t.ok(verifies(system.secret, sent), "the built body is what was signed: it verifies with the endpoint's secret");
  t.equal(sent.headers['webhook-id'], `msg_${erasureId}`);
  const body = eventBodySchema('erasure.requested').strict().parse(JSON.parse(sent.body));
  t.same(body.data, {
    ...stored,
    callback_url: 'https://rightful.example/v1/task-callbacks/token-1',
    subject: { external_ref: PERSON.external_ref, identifiers: [{ type: 'email', value: PERSON.email }] },
  }, 'the receiver gets the stored ids and what the builder added, and nothing the catalogue does not describe');
  t.same(calls, [{ tenantId: ta.tenantId, data: stored }], 'the builder was given the tenant and the stored data');
  const rect = eventBodySchema('rectification.requested').strict().parse(JSON.parse(byType('rectification.requested').body));
  t.same(rect.data.corrections, [{ category: 'identity', field: 'last_name', value: PERSON.correction }]);
  t.ok(verifies(system.secret, byType('rectification.requested')));

  const deliveries = await deliveriesOf(ta, system.id);
  const status = Object.fromEntries(deliveries.map((d) => [d.event_type, d.status]));
  t.same(status, { 'erasure.requested': 'succeeded', 'rectification.requested': 'succeeded', 'restriction.requested': 'failed', 'restriction.lifted': 'failed' });
  t.equal(deliveries.find((d) => d.event_type === 'restriction.requested')!.attempts.length, 0, 'a builder saying "gone": nothing was attempted');
  const rows = (await ta.sql.query(`SELECT payload, status, last_error FROM outbox WHERE topic = 'webhook.delivery'`)).rows;
  const rowOf = (type: string) => rows.find((r) => r.payload.delivery_id === deliveries.find((d) => d.event_type === type)!.id);
  t.match(rowOf('restriction.requested'), { status: 'cancelled', last_error: /gone; nothing sent/ });
  t.match(rowOf('restriction.lifted'), { status: 'dead', last_error: /does not match the catalogue/ }, 'a builder straying from the catalogue sends nothing; its row is dead');
  t.ok(goneId && strayId && rectificationId);

  // Redelivery builds the body again (a fresh callback link), under the same webhook-id.
  const erasureDelivery = deliveries.find((d) => d.event_type === 'erasure.requested')!;
  const redo = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${system.id}/deliveries/${erasureDelivery.id}/redeliver` });
  t.equal(redo.statusCode, 202, redo.body);
  await receiver.waitFor((all) => all.length >= 3);
  const again = receiver.received[2]!;
  t.equal(again.headers['webhook-id'], `msg_${erasureId}`, 'the same webhook-id');
  t.equal(JSON.parse(again.body).data.callback_url, 'https://rightful.example/v1/task-callbacks/token-2', 'built anew');
  t.ok(verifies(system.secret, again));
  await waitForDelivery(ta, system.id, (d) => d.id === erasureDelivery.id && d.status === 'succeeded' && d.attempts.length === 2);

  // What was added at send time is nowhere at rest.
  const dump = JSON.stringify([
    (await ta.sql.query('SELECT * FROM webhook_deliveries')).rows,
    (await ta.sql.query('SELECT * FROM webhook_attempts')).rows,
    (await ta.sql.query('SELECT * FROM outbox')).rows,
  ]);
  for (const secret of [PERSON.external_ref, PERSON.email, PERSON.correction, 'task-callbacks']) t.notOk(dump.includes(secret), `"${secret}" is not stored`);
  const storedBody = JSON.parse((await ta.sql.query('SELECT body FROM webhook_deliveries WHERE id = $1', [erasureDelivery.id])).rows[0].body);
  t.same(storedBody.data, stored, 'the stored delivery body holds the ids only');
});
