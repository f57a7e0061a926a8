// Rightful without Redis: REDIS_URL unset, the API rate-limits in memory, /readyz checks Postgres only, and the worker
// runs inside the process, the relay handing each claimed row to the dispatcher. Deliveries, retries, reminders and
// the erasure fan-out behave as they do through BullMQ (the same behaviours are tested through BullMQ in
// delivery.test.ts, reminders.test.ts and fan-out.test.ts); two such workers on one database never run a row twice.
import pino from 'pino';
import t from 'tap';
import { z } from 'zod';
import { createDb, createPool } from '../../../src/db/client.js';
import { createDispatcher } from '../../../src/modules/outbox/outbox.dispatcher.js';
import { createInProcessTransport } from '../../../src/modules/outbox/outbox.in-process.js';
import { createRelay } from '../../../src/modules/outbox/outbox.relay.js';
import { createOutboxRepo, type NewOutboxRow } from '../../../src/modules/outbox/outbox.repo.js';
import { startInProcessWorker, startWorker } from '../../../src/worker-runtime.js';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';
import { startReceiver, type Receiver, verifySigned } from '../../helpers/receiver.js';
import { createEndpoint, sleep, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';
import { withTenant } from '../../../src/db/tenant-scope.js';

const silent = pino({ level: 'silent' });
const NO_REDIS = { REDIS_URL: '' };
const FAST = fastWorkerEnv({ ...NO_REDIS, OUTBOX_RECONCILE_MS: '500', OUTBOX_VISIBILITY_TIMEOUT_MS: '2000', WEBHOOK_RETRY_DELAYS: '200ms,400ms,400ms' });

/** Writes outbox rows behind the API's back, as a module's transaction would. */
async function insertRows(t: Tap, ta: TestApp, rows: NewOutboxRow[]): Promise<string[]> {
  const pool = createPool({ ...ta.config.database, poolMax: 2 }, silent);
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const repo = createOutboxRepo(db);
  const ids: string[] = [];
  for (const row of rows) ids.push(...(await withTenant(row.tenantId, () => repo.insert([row], db))));
  return ids;
}
type Tap = { teardown(fn: () => unknown): void };

const statusOf = async (ta: TestApp, id: string) => (await ta.sql.query('SELECT status, attempts, last_error FROM outbox WHERE id = $1', [id])).rows[0];

t.test('without REDIS_URL the API needs no Redis: readiness checks Postgres only, rate limits count in memory', async (t) => {
  const ta = await build(t, { env: { ...NO_REDIS, RATE_LIMIT_MAX: '3' } });
  t.equal(ta.config.redis, null, 'an empty REDIS_URL is no Redis');
  t.equal(ta.app.redis, null);
  const ready = await ta.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200, ready.body);
  t.same(ready.json(), { status: 'ready', checks: { postgres: 'ok' } }, 'Redis is not reported when it is not configured');

  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await ta.call({ method: 'GET', url: '/v1/purposes' })).statusCode);
  t.same(statuses, [200, 200, 200, 429], 'the fourth request in the window is refused');

  await t.rejects(startWorker(ta.config, { healthPort: null, log: silent }), /REDIS_URL is not set/, 'the BullMQ worker refuses to start without Redis');
});

t.test('in process: a consent grant reaches the receiver once, signed as Standard Webhooks says', async (t) => {
  const ta = await build(t, { env: FAST });
  await startTestWorker(t, ta, { inProcess: true });
  const receiver = await startReceiver(t);
  const { id: endpointId, secret } = await createEndpoint(ta, receiver.url, ['consent.granted']);
  await createPurpose(ta, 'newsletter');
  const subject = await createSubject(ta, 'inproc@example.com');
  const recorded = await grant(ta, subject, 'newsletter');

  const [msg] = await receiver.waitFor((all) => all.length >= 1);
  const verified = verifySigned(secret, msg!);
  t.equal(verified.type, 'consent.granted');
  t.equal(verified.data.ledger_event_id, recorded.events[0].id);
  t.notOk(msg!.body.includes('inproc@example.com'), 'no identifier in the payload');

  const delivery = await waitUntil(async () => {
    const item = (await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` })).json().items[0];
    return item?.status === 'succeeded' ? item : null;
  }, 10_000, 'delivery succeeded');
  t.equal(delivery.webhook_id, msg!.headers['webhook-id']);
  t.same(delivery.attempts.map((a: { status_code: number }) => a.status_code), [200]);
  await sleep(1000);
  t.equal(receiver.received.length, 1, 'received once');
  const rows = await ta.sql.query(`SELECT status, count(*)::int AS n FROM outbox GROUP BY status`);
  t.same(rows.rows.filter((r) => r.status !== 'done'), [], 'every outbox row ends done');
});

t.test('in process: a receiver answering 500 gets retries with the same webhook-id, then succeeds', async (t) => {
  const ta = await build(t, { env: FAST });
  await startTestWorker(t, ta, { inProcess: true });
  const receiver = await startReceiver(t);
  receiver.respond = (_r, n) => (n <= 1 ? 500 : 204);
  const { id: endpointId } = await createEndpoint(ta, receiver.url, ['subject.created']);
  await createSubject(ta, 'retry.inproc@example.com');
  const all = await receiver.waitFor((r) => r.length >= 2);
  t.equal(new Set(all.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across retries');
  const delivery = await waitUntil(async () => {
    const item = (await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries` })).json().items[0];
    return item?.status === 'succeeded' ? item : null;
  }, 10_000, 'delivery succeeded');
  t.same(delivery.attempts.map((a: { status_code: number }) => a.status_code), [500, 204]);
  await sleep(800);
  t.equal(receiver.received.length, 2, 'nothing sent after the success');
});

t.test('in process: each reminder arrives once at its time (a movable clock), and none before it', async (t) => {
  let now = new Date('2026-03-02T08:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastWorkerEnv(NO_REDIS) });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', holiday_calendar: null, reminder_offsets_days: [7, 2] } });
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['request.deadline_approaching', 'request.overdue', 'request.created']);
  await startTestWorker(t, ta, { clock, inProcess: true });
  const reminders = (r: Receiver) => r.received.map((m) => JSON.parse(m.body)).filter((m) => m.type === 'request.deadline_approaching');

  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'reminded.inproc@example.com' }] }, type: 'access', channel: 'email' },
  });
  t.equal(res.statusCode, 201, res.body);
  const request = res.json();
  await receiver.waitFor((all) => all.some((m) => JSON.parse(m.body).type === 'request.created'));
  await sleep(800);
  t.equal(reminders(receiver).length, 0, 'no reminder before its time');

  now = new Date('2026-03-26T07:00:01Z'); // 7 days before 2 April, 09:00 in Sofia
  await receiver.waitFor(() => reminders(receiver).length >= 1);
  await sleep(800);
  t.same(reminders(receiver).map((m) => [m.data.days_left, m.data.request_id]), [[7, request.id]], 'the 7-day reminder, once');

  now = new Date('2026-03-31T06:00:01Z'); // 2 days before, 09:00 Sofia summer time
  await receiver.waitFor(() => reminders(receiver).length >= 2);
  await sleep(800);
  t.same(reminders(receiver).map((m) => m.data.days_left), [7, 2], 'then the 2-day reminder, once');
});

t.test('in process: an erasure fans out to two systems, and their answers complete it', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv(NO_REDIS) });
  const crmHook = await startReceiver(t);
  const mailHook = await startReceiver(t);
  const system = async (name: string, url: string) => {
    const endpoint = await createEndpoint(ta, url, ['request.completed']);
    return (await ta.call({ method: 'POST', url: '/v1/systems', payload: { name, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: endpoint.id } })).json().id;
  };
  const crm = await system('CRM', crmHook.url);
  const mail = await system('Mailing', mailHook.url);
  await startTestWorker(t, ta, { inProcess: true });

  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: 'crm-91', identifiers: [{ type: 'email', value: 'fan.inproc@example.com' }] } })).json().id;
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } })).json();
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  t.equal(approved.statusCode, 200, approved.body);

  const tasksOf = (r: Receiver) => r.received.map((x) => JSON.parse(x.body)).filter((b) => b.type === 'erasure.requested');
  await waitUntil(() => tasksOf(crmHook).length >= 1 && tasksOf(mailHook).length >= 1, 15_000, 'both systems told');
  t.match(tasksOf(crmHook)[0].data, { request_id: req.id, system_id: crm });
  t.match(tasksOf(mailHook)[0].data, { request_id: req.id, system_id: mail });
  for (const body of [tasksOf(crmHook)[0], tasksOf(mailHook)[0]]) {
    const res = await ta.app.inject({ method: 'POST', url: new URL(body.data.callback_url).pathname, payload: { status: 'completed' } });
    t.equal(res.statusCode, 200, res.body);
  }
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json(), { status: 'completed', outcome: { result: 'granted' } });
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().status, 'erased');
  const completed = await waitUntil(() => crmHook.received.some((x) => JSON.parse(x.body).type === 'request.completed'), 10_000, 'request.completed sent');
  t.ok(completed, 'the completion is announced');
  t.equal(tasksOf(crmHook).length, 1, 'each system told once');
  t.equal(tasksOf(mailHook).length, 1);
});

t.test('two in-process workers on one database never run a row twice, and both take work', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ ...NO_REDIS, WORKER_CONCURRENCY: '4' }) });
  const runs: Record<string, string[]> = {};
  const worker = (name: string) =>
    startTestWorker(t, ta, {
      inProcess: true,
      register: (dispatcher) =>
        dispatcher.register('test.count', {
          payload: z.object({ n: z.int() }),
          handle: async (row) => {
            (runs[row.id] ??= []).push(name);
            await sleep(10);
          },
        }),
    });
  await worker('a');
  await worker('b');
  const ids = await insertRows(t, ta, Array.from({ length: 200 }, (_, n) => ({ tenantId: ta.tenantId, topic: 'test.count', payload: { n } })));
  await waitUntil(async () => (await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE status = 'done'`)).rows[0].n === 200, 20_000, 'all rows done');
  t.same(
    ids.filter((id) => runs[id]?.length !== 1),
    [],
    'each row ran exactly once',
  );
  const by = (name: string) => Object.values(runs).filter((r) => r[0] === name).length;
  t.ok(by('a') > 0 && by('b') > 0, `both workers took rows (a: ${by('a')}, b: ${by('b')})`);

  // And deliveries: one webhook per event, however many workers relay.
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['subject.created']);
  for (let i = 0; i < 20; i++) await createSubject(ta, `twice.${i}@example.com`);
  await receiver.waitFor((all) => all.length >= 20);
  await sleep(1000);
  const webhookIds = receiver.received.map((m) => String(m.headers['webhook-id']));
  t.equal(webhookIds.length, 20, 'twenty events, twenty requests');
  t.equal(new Set(webhookIds).size, 20, 'none delivered twice');
});

t.test('a handler that throws is retried in process with backoff, the last try flagged; then the reconciler hands the row over again', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv(NO_REDIS) });
  const pool = createPool({ ...ta.config.database, poolMax: 4 }, silent);
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const repo = createOutboxRepo(db);
  const dispatcher = createDispatcher({ outbox: repo, log: silent, holdMs: 10_000 });
  const tries: { attempts: number; at: number }[] = [];
  const lastTries: boolean[] = [];
  dispatcher.register('test.flaky', {
    payload: z.object({}),
    handle: async (row) => {
      tries.push({ attempts: row.attempts, at: Date.now() });
      throw new Error('always fails');
    },
  });
  const transport = createInProcessTransport({
    dispatcher: {
      process: (id, opts) => {
        lastTries.push(opts.lastTry === true);
        return dispatcher.process(id, opts);
      },
    },
    repo,
    log: silent,
    concurrency: 2,
    attempts: 3,
    backoffMs: 300,
  });
  t.teardown(() => transport.drain(1000));
  // The relay over this transport, driven by hand: rows in flight for 100 ms without a queued job are handed over again.
  const relay = createRelay({
    repo,
    queue: transport,
    log: silent,
    options: { sweepMs: 60_000, reconcileMs: 60_000, visibilityTimeoutMs: 100, batch: 10, databaseUrl: ta.databaseUrl },
  });
  const [id] = await insertRows(t, ta, [{ tenantId: ta.tenantId, topic: 'test.flaky', payload: {} }]);
  t.equal(await relay.sweep(), 1, 'the relay claims the row and hands it over');
  await waitUntil(() => tries.length === 3, 5000, 'three tries');
  t.same(lastTries, [false, false, true], 'only the last of the tries is lastTry');
  const gaps = [tries[1]!.at - tries[0]!.at, tries[2]!.at - tries[1]!.at];
  t.ok(gaps[0]! >= 290 && gaps[1]! >= 590, `the backoff doubles (${gaps})`);
  await sleep(300);
  t.equal(tries.length, 3, 'no fourth try of this claim');
  t.match(await statusOf(ta, id!), { status: 'enqueued', attempts: 1, last_error: 'handler failed: always fails' }, 'in flight, for the reconciler');

  t.equal(await relay.reconcile(), 1, 'its job is gone: the reconciler puts the row back');
  t.equal(await relay.sweep(), 1, 'and the next sweep hands it over again');
  await waitUntil(() => tries.length === 4, 5000, 'the new claim runs');
  t.equal(tries[3]!.attempts, 2, 'a new claim counts one more hand-over');
  await sleep(150); // its first retry is 300 ms away; the row has been in flight past the visibility timeout
  t.equal(await relay.reconcile(), 0, 'a job waiting for its retry is queued: the reconciler leaves its row alone');
  t.match(await statusOf(ta, id!), { status: 'enqueued', attempts: 2 });
});

t.test('stop lets the job in hand finish and puts the row waiting for its retry back to pending', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ ...NO_REDIS, WORKER_CONCURRENCY: '2' }) });
  const finished: string[] = [];
  let slowStarted = 0;
  let failed = 0;
  const worker = await startInProcessWorker(ta.config, {
    log: silent,
    register: (dispatcher) => {
      dispatcher.register('test.slow', {
        payload: z.object({}),
        handle: async (row) => {
          slowStarted++;
          await sleep(600);
          finished.push(row.id);
        },
      });
      dispatcher.register('test.fails', {
        payload: z.object({}),
        handle: async () => {
          failed++;
          throw new Error('not now');
        },
      });
    },
  });
  t.teardown(() => worker.stop(1000));
  const [slow, fails] = await insertRows(t, ta, [
    { tenantId: ta.tenantId, topic: 'test.slow', payload: {} },
    { tenantId: ta.tenantId, topic: 'test.fails', payload: {} },
  ]);
  await waitUntil(() => slowStarted === 1 && failed === 1, 5000, 'both jobs ran');
  await sleep(50); // the failed job is now waiting out its one-second backoff
  await worker.stop(5000);
  t.same(finished, [slow], 'the job in hand finished before stop returned');
  t.match(await statusOf(ta, slow!), { status: 'done' });
  t.match(await statusOf(ta, fails!), { status: 'pending', attempts: 1 }, 'the row waiting for its retry is pending again, for the next worker');
  t.equal(failed, 1, 'and its retry did not run after stop');
});
