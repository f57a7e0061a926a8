// The event catalogue is the one description of every event: what the modules write matches it field for field,
// eventRow() refuses data that does not (at compile time), and the README table and the spec's webhooks are
// generated from it.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { ALL_EVENT_TYPES, EVENT_CATALOGUE, EVENT_TYPES, eventsMarkdown } from '../../../src/modules/outbox/outbox.catalogue.js';
import { addressedEventRow, eventBodySchema, EventPayloadSchema, eventRow, storedSchemaOf, type EventType } from '../../../src/modules/outbox/outbox.events.js';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint } from '../../helpers/webhooks.js';
import { fastWorkerEnv } from '../../helpers/worker-env.js';

const root = new URL('../../../', import.meta.url);
const DAY = 86_400_000;

async function ok(ta: TestApp, method: 'POST' | 'PATCH', url: string, payload: Record<string, unknown>) {
  const res = await ta.call({ method, url, payload });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

t.test('every event the API writes has exactly the data its catalogue entry describes', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'analytics', {
    legal_basis: 'legitimate_interests',
    translations: { en: { title: 'Analytics', description: 'How the shop is used', legitimate_interests: 'Understanding how our shop is used' } },
  });
  const subject = await createSubject(ta, 'catalogue@example.com');
  await grant(ta, subject, 'newsletter');
  await grant(ta, subject, 'newsletter', 'withdraw');
  await ok(ta, 'POST', `/v1/subjects/${subject}/objections`, { scope: 'direct_marketing', purposes: ['newsletter'] });
  await ok(ta, 'POST', `/v1/subjects/${subject}/objections`, { scope: 'direct_marketing' });
  await ok(ta, 'POST', `/v1/subjects/${subject}/objections`, { scope: 'automated_decisions' });
  // An objection to processing: created, its effect applied on intake (no action), then upheld on completion.
  const objection = await ok(ta, 'POST', '/v1/rights-requests', { subject: { id: subject }, type: 'objection', channel: 'email', objection: { scope: 'processing', purposes: ['analytics'] } });
  await ok(ta, 'POST', `/v1/rights-requests/${objection.id}/complete`, { subject_notified_at: objection.received_at, notified_by: 'email', resolution: 'Stopped' });
  // Entered late: its reminders and the overdue alert are written at once.
  await ok(ta, 'POST', '/v1/rights-requests', { subject: { id: subject }, type: 'access', channel: 'letter', received_at: new Date(Date.now() - 40 * DAY).toISOString() });
  const access = await ok(ta, 'POST', '/v1/rights-requests', { subject: { id: subject }, type: 'access', channel: 'web' });
  await ok(ta, 'POST', `/v1/rights-requests/${access.id}/extend`, { reason: 'Data in five systems', subject_informed_at: access.received_at });

  const { rows } = await ta.sql.query(`SELECT payload FROM outbox WHERE topic = 'event' ORDER BY created_at`);
  const seen = new Set<string>();
  for (const { payload } of rows) {
    const type = payload.type as EventType;
    seen.add(type);
    const envelope = EventPayloadSchema.safeParse(payload);
    t.ok(envelope.success, `${type}: the row passes the dispatcher's check ${envelope.success ? '' : JSON.stringify(envelope.error.issues)}`);
    const exact = storedSchemaOf(type).strict().safeParse(payload.data);
    t.ok(exact.success, `${type}: its data has every field of the catalogue and no other ${exact.success ? '' : JSON.stringify(exact.error.issues)}`);
    t.same(Object.keys(payload).sort(), ['data', 'timestamp', 'type'], `${type}: {type, timestamp, data}`);
  }
  const expected = [
    'subject.created',
    'consent.granted',
    'consent.withdrawn',
    'subject.objected',
    'request.created',
    'request.status_changed',
    'request.completed',
    'request.extended',
    'request.deadline_approaching',
    'request.overdue',
  ];
  t.same(expected.filter((type) => !seen.has(type)), [], `the flows above wrote every one of ${expected.join(', ')}`);
  const objected = rows.filter((r) => r.payload.type === 'subject.objected').map((r) => [r.payload.data.scope, r.payload.data.purpose, r.payload.data.status]);
  t.same(
    objected.sort(),
    [
      ['automated_decisions', null, 'upheld'],
      ['direct_marketing', 'newsletter', 'upheld'],
      ['direct_marketing', null, 'upheld'],
      ['processing', 'analytics', 'pending'],
      ['processing', 'analytics', 'upheld'],
    ].sort(),
    'subject.objected carries scope, purpose (null for a flag) and status',
  );

  // The ping is written as a delivery straight away; its body is checked as the receiver gets it.
  const receiver = await startReceiver(t);
  const endpoint = await createEndpoint(ta, receiver.url, ['*']);
  t.equal((await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${endpoint.id}/test` })).statusCode, 202);
  const ping = JSON.parse((await ta.sql.query(`SELECT body FROM webhook_deliveries WHERE event_type = 'ping'`)).rows[0].body);
  t.same(eventBodySchema('ping').strict().parse(ping).data, { endpoint_id: endpoint.id });
});

t.test('eventRow() and addressedEventRow() take only the data the catalogue describes (checked by the compiler)', async (t) => {
  const tenant = crypto.randomUUID();
  const id = crypto.randomUUID();
  // @ts-expect-error a field the catalogue does not have
  eventRow(tenant, 'subject.created', { subject_id: id, email: 'x@example.com' });
  // @ts-expect-error a field missing
  eventRow(tenant, 'subject.erased', { subject_id: id });
  // @ts-expect-error a value outside the catalogue's enum
  eventRow(tenant, 'task.updated', { task_id: id, request_id: id, system_id: null, kind: 'teleport', from: null, to: 'pending', by: 'dpo' });
  // @ts-expect-error an addressed event stores ids only: the subject is added at send time
  addressedEventRow(tenant, 'erasure.requested', { task_id: id, request_id: id, system_id: id, due_date: null, subject: { external_ref: null, identifiers: [] } }, id);
  const row = addressedEventRow(tenant, 'erasure.requested', { task_id: id, request_id: id, system_id: id, due_date: '2026-05-04' }, id, new Date('2026-04-01T10:00:00Z'));
  t.same(row.payload, { type: 'erasure.requested', timestamp: '2026-04-01T10:00:00.000Z', data: { task_id: id, request_id: id, system_id: id, due_date: '2026-05-04' }, to_endpoint_id: id });
  t.same([row.topic, row.tenantId, row.availableAt], ['event', tenant, new Date('2026-04-01T10:00:00Z')]);
  t.ok(EventPayloadSchema.safeParse(row.payload).success);
});

t.test('endpoints subscribe to the events meant for subscribers; addressed and test events are not subscribable', async (t) => {
  t.same(
    EVENT_TYPES,
    ALL_EVENT_TYPES.filter((type) => EVENT_CATALOGUE[type].audience === 'subscribers'),
  );
  for (const type of ['ping', 'erasure.requested', 'rectification.requested', 'restriction.requested', 'restriction.lifted', 'export.requested']) {
    t.notOk((EVENT_TYPES as string[]).includes(type), `${type} is not subscribable`);
  }
  const ta = await build(t, { env: fastWorkerEnv() });
  const refused = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/hooks', event_types: ['erasure.requested'] } });
  t.equal(refused.statusCode, 400, 'subscribing to an addressed event is refused');
  t.match(refused.json().errors, [{ field: /^event_types/ }], 'for its event type');
  const accepted = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/hooks', event_types: ['task.updated', 'subject.erased', 'request.review_required'] } });
  t.equal(accepted.statusCode, 201, "the erasure work's broadcast events are subscribable");
});

t.test("the README's events table and the spec's webhooks are the catalogue's", async (t) => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const block = /<!-- events:start[^>]*-->\n([\s\S]*?)<!-- events:end -->/.exec(readme)?.[1];
  t.equal(block, eventsMarkdown(), 'README.md holds eventsMarkdown() between the events markers (npm run openapi writes it)');
  for (const type of ALL_EVENT_TYPES) t.ok(block?.includes(`| \`${type}\` |`), `the table lists ${type}`);

  type Op = { operationId: string; security: unknown[]; parameters: { $ref: string }[]; requestBody: { content: Record<string, { schema: { $ref: string } }> } };
  const doc = parse(readFileSync(new URL('openapi.yaml', root), 'utf8')) as {
    webhooks: Record<string, { post: Op }>;
    components: { schemas: Record<string, { properties: { type: { const: string }; data: { properties: Record<string, unknown> } } }>; parameters: Record<string, { name: string }> };
  };
  t.same(Object.keys(doc.webhooks), ALL_EVENT_TYPES, 'one webhook per event type, in catalogue order');
  const headers = (op: Op) => op.parameters.map((p) => doc.components.parameters[p.$ref.split('/').pop()!]?.name);
  for (const [type, { post }] of Object.entries(doc.webhooks)) {
    t.same(headers(post), ['webhook-id', 'webhook-timestamp', 'webhook-signature'], `${type}: the Standard Webhooks headers`);
    t.same(post.security, [], `${type}: no bearer token (the signature authenticates it)`);
    const schema = doc.components.schemas[post.requestBody.content['application/json']!.schema.$ref.split('/').pop()!]!;
    t.equal(schema.properties.type.const, type, `${type}: its body schema`);
    t.same(Object.keys(schema.properties.data.properties), Object.keys(EVENT_CATALOGUE[type as EventType].data.shape), `${type}: the data as sent`);
  }
});
