// The dispatcher, the outbox's seam for consumers: a handler per topic with a zod schema of the row's payload. It
// checks the payload before the handler runs (dead with a reason when it does not match), finishes the row when the
// handler resolves, and leaves it to the queue's retry when it throws. Driven here without Redis: the test plays the
// relay (claimDue) and the queue (process).
import pino from 'pino';
import t, { type Test } from 'tap';
import { z } from 'zod';
import { createDb, createPool } from '../../../src/db/client.js';
import { createDispatcher } from '../../../src/modules/outbox/outbox.dispatcher.js';
import { addressedEventRow, EVENT_TOPIC, EventPayloadSchema, eventRow, type EventPayload } from '../../../src/modules/outbox/outbox.events.js';
import { createOutboxRepo, type NewOutboxRow, type OutboxRow } from '../../../src/modules/outbox/outbox.repo.js';
import { build } from '../../helper.js';
import { withTenant } from '../../../src/db/tenant-scope.js';

const silent = pino({ level: 'silent' });

async function setup(t: Test) {
  const ta = await build(t);
  const pool = createPool({ ...ta.config.database, poolMax: 4 }, silent);
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const outbox = createOutboxRepo(db);
  /** Writes the row and hands it to "the queue" (enqueued, attempts + 1), as the relay would. */
  const enqueue = async (row: NewOutboxRow): Promise<string> => {
    const [id] = await withTenant(row.tenantId, () => outbox.insert([row], db));
    const claimed = await outbox.claimDue(100, new Date(Date.now() + 60_000));
    t.ok(claimed.some((c) => c.id === id), 'the row is claimed for the queue');
    return id!;
  };
  const rowOf = async (id: string) => (await ta.sql.query('SELECT status, last_error, attempts, locked_until FROM outbox WHERE id = $1', [id])).rows[0];
  return { ta, db, outbox, enqueue, rowOf };
}

t.test('a handler gets the payload as its schema parses it, and the row is done when the handler resolves', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  const seen: { row: OutboxRow; payload: unknown }[] = [];
  dispatcher.register('test.echo', {
    payload: z.object({ n: z.int() }),
    handle: async (row, payload) => {
      seen.push({ row, payload });
    },
  });
  t.same(dispatcher.topics(), ['test.echo']);
  const id = await enqueue({ tenantId: ta.tenantId, topic: 'test.echo', payload: { n: 7, stray: 'dropped' } });
  t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'done');
  t.equal(seen.length, 1, 'the handler ran once');
  t.same(seen[0]!.payload, { n: 7 }, 'with the parsed payload (unknown fields dropped)');
  t.equal(seen[0]!.row.id, id, 'and the row');
  t.match(await rowOf(id), { status: 'done', last_error: null, locked_until: null });
  t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'skipped', 'a finished row is not processed again');
  t.equal(seen.length, 1);
});

t.test('a payload that does not match marks the row dead with the reason; the handler never runs', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  let ran = 0;
  dispatcher.register('test.strict', { payload: z.object({ task_id: z.uuid() }), handle: async () => void ran++ });
  const id = await enqueue({ tenantId: ta.tenantId, topic: 'test.strict', payload: { task_id: 'secret.person@example.com' } });
  t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'dead');
  t.equal(ran, 0);
  const row = await rowOf(id);
  t.equal(row.status, 'dead');
  t.match(row.last_error, /^invalid payload: task_id: /, row.last_error);
  t.notOk(String(row.last_error).includes('secret.person'), 'the reason names the field, not its value');
});

t.test('a row of a topic no one handles is dead', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  const id = await enqueue({ tenantId: ta.tenantId, topic: 'nobody.home', payload: {} });
  t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'dead');
  t.match(await rowOf(id), { status: 'dead', last_error: 'no processor for topic nobody.home' });
});

t.test('a handler that throws lets go of its row for the queue: the next attempt runs it again and finishes it', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 60_000 });
  let calls = 0;
  dispatcher.register('test.flaky', {
    payload: z.object({}),
    handle: async () => {
      if (++calls === 1) throw new Error('the first attempt fails');
    },
  });
  const id = await enqueue({ tenantId: ta.tenantId, topic: 'test.flaky', payload: {} });
  await t.rejects(dispatcher.process(id, { tenantId: ta.tenantId }), /the first attempt fails/, 'the error reaches the queue, which retries the job');
  t.match(await rowOf(id), { status: 'enqueued', locked_until: null, last_error: 'handler failed: the first attempt fails' }, 'still in flight, not held');
  t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'done', "the queue's retry takes it at once and runs the handler again");
  t.equal(calls, 2);
  t.equal((await rowOf(id)).status, 'done');
});

t.test('a handler failing on the last try of a row enqueued maxEnqueues times ends the row dead', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000, maxEnqueues: 1 });
  dispatcher.register('test.poison', {
    payload: z.object({}),
    handle: async () => {
      throw new Error('always');
    },
  });
  const id = await enqueue({ tenantId: ta.tenantId, topic: 'test.poison', payload: {} });
  await t.rejects(dispatcher.process(id, { tenantId: ta.tenantId, lastTry: true }), /always/);
  t.match(await rowOf(id), { status: 'dead', last_error: 'handler failed 1 times: always' });
});

t.test('a handler that finishes or reschedules its row itself is not overruled', async (t) => {
  const { ta, db, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  const later = new Date(Date.now() + 3_600_000);
  // Not `settles`: the dispatcher's "done" only applies to a row still in flight under this attempt.
  dispatcher.register('test.reschedule', { payload: z.object({}), handle: async (row) => outbox.retryAt(row.id, later, 'not yet', db) });
  dispatcher.register('test.cancel', { payload: z.object({}), handle: async (row) => outbox.finish(row.id, 'cancelled', 'superseded', db) });
  dispatcher.register('test.settles', { payload: z.object({}), settles: true, handle: async () => {} });
  const rescheduled = await enqueue({ tenantId: ta.tenantId, topic: 'test.reschedule', payload: {} });
  t.equal(await dispatcher.process(rescheduled, { tenantId: ta.tenantId }), 'done');
  t.match(await rowOf(rescheduled), { status: 'pending', last_error: 'not yet' }, 'rescheduled, not done');
  const cancelled = await enqueue({ tenantId: ta.tenantId, topic: 'test.cancel', payload: {} });
  await dispatcher.process(cancelled, { tenantId: ta.tenantId });
  t.match(await rowOf(cancelled), { status: 'cancelled', last_error: 'superseded' });
  const settles = await enqueue({ tenantId: ta.tenantId, topic: 'test.settles', payload: {} });
  t.equal(await dispatcher.process(settles, { tenantId: ta.tenantId }), 'settled');
  t.equal((await rowOf(settles)).status, 'enqueued', 'a settling handler owns its row: the dispatcher does not touch it');
});

t.test('one handler per topic', async (t) => {
  const { outbox } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  dispatcher.register('test.once', { payload: z.object({}), handle: async () => {} });
  t.throws(() => dispatcher.register('test.once', { payload: z.object({}), handle: async () => {} }), /has a handler already/);
});

t.test('event rows are checked against the catalogue before their fan-out', async (t) => {
  const { ta, outbox, enqueue, rowOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  const fannedOut: EventPayload[] = [];
  dispatcher.register(EVENT_TOPIC, { payload: EventPayloadSchema, handle: async (_row, event) => void fannedOut.push(event) });
  const subject = crypto.randomUUID();
  const request = crypto.randomUUID();

  const good = await enqueue(eventRow(ta.tenantId, 'subject.erased', { subject_id: subject, request_id: request }));
  t.equal(await dispatcher.process(good, { tenantId: ta.tenantId }), 'done');
  t.same(fannedOut.map((e) => [e.type, e.data, e.to_endpoint_id]), [['subject.erased', { subject_id: subject, request_id: request }, undefined]]);

  const bad: [string, NewOutboxRow, RegExp][] = [
    ['a field missing', { tenantId: ta.tenantId, topic: EVENT_TOPIC, payload: { type: 'subject.created', timestamp: new Date().toISOString(), data: {} } }, /data\.subject_id/],
    ['an unknown type', { tenantId: ta.tenantId, topic: EVENT_TOPIC, payload: { type: 'subject.teleported', timestamp: new Date().toISOString(), data: {} } }, /type/],
    [
      'a wrong enum value',
      eventRow(ta.tenantId, 'task.updated', { task_id: subject, request_id: request, system_id: null, kind: 'teleport' as 'erasure', from: null, to: 'pending', by: 'x' }),
      /data\.kind/,
    ],
    [
      'an addressed-only type without its endpoint',
      eventRow(ta.tenantId, 'erasure.requested', { task_id: subject, request_id: request, system_id: subject, due_date: '2026-05-01' }),
      /to_endpoint_id/,
    ],
  ];
  for (const [what, row, reason] of bad) {
    const id = await enqueue(row);
    t.equal(await dispatcher.process(id, { tenantId: ta.tenantId }), 'dead', `${what}: dead`);
    t.match((await rowOf(id)).last_error, reason, `${what}: the reason says where`);
  }
  t.equal(fannedOut.length, 1, 'no invalid event reached the fan-out');

  const addressed = await enqueue(addressedEventRow(ta.tenantId, 'erasure.requested', { task_id: subject, request_id: request, system_id: subject, due_date: null }, subject));
  t.equal(await dispatcher.process(addressed, { tenantId: ta.tenantId }), 'done');
  t.equal(fannedOut[1]?.to_endpoint_id, subject, 'an addressed event carries its endpoint to the fan-out');
});
