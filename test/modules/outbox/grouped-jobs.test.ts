// Several outbox rows to one queue job: a claim groups the rows it takes by tenant and topic (up to rowsPerJob a
// job) and names each group's job in its rows; the BullMQ transport queues one job per group; the reconciler asks
// the queue about the job that carries a row; and the dispatcher processes a job's rows together, seeing every row
// to before it reports the first failure (the queue's retry then redoes only the rows that failed).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import t, { type Test } from 'tap';
import { z } from 'zod';
import { createDb, createPool } from '../../../src/db/client.js';
import { withTenant } from '../../../src/db/tenant-scope.js';
import { createDispatcher } from '../../../src/modules/outbox/outbox.dispatcher.js';
import { createBullmqTransport, createRelay, OutboxJobSchema, rowsOfJob } from '../../../src/modules/outbox/outbox.relay.js';
import { createOutboxRepo, type OutboxRow } from '../../../src/modules/outbox/outbox.repo.js';
import { build } from '../../helper.js';

const silent = pino({ level: 'silent' });
const future = () => new Date(Date.now() + 60_000);

async function setup(t: Test) {
  const ta = await build(t);
  const pool = createPool({ ...ta.config.database, poolMax: 4 }, silent);
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const outbox = createOutboxRepo(db);
  const insert = (tenantId: string, topic: string, n: number) =>
    withTenant(tenantId, () => outbox.insert(Array.from({ length: n }, (_, k) => ({ tenantId, topic, payload: { n: k } })), db));
  const statusOf = async (ids: string[]) =>
    (await ta.sql.query<{ id: string; status: string; locked_until: Date | null; job_id: string | null }>('SELECT id, status, locked_until, job_id FROM outbox WHERE id = ANY($1::uuid[])', [ids])).rows;
  return { ta, db, outbox, insert, statusOf };
}

t.test('a claim puts the rows of one tenant and topic in jobs of at most rowsPerJob rows, each named by its first row', async (t) => {
  const { ta, outbox, insert } = await setup(t);
  const other = await ta.newTenant('Other controller');
  const a = await insert(ta.tenantId, 'test.group', 40);
  const aOther = await insert(ta.tenantId, 'test.other', 3);
  const b = await insert(other, 'test.group', 5);
  const claimed = await outbox.claimDue(100, future(), 16);
  t.equal(claimed.length, 48, 'every due row is claimed');
  const jobs = new Map<string, typeof claimed>();
  for (const r of claimed) jobs.set(r.jobId, [...(jobs.get(r.jobId) ?? []), r]);
  const sizes = (ids: string[]) => [...jobs.values()].filter((g) => ids.includes(g[0]!.id)).map((g) => g.length).sort((x, y) => y - x);
  t.same(sizes(a), [16, 16, 8], "one tenant's 40 rows of a topic: two full jobs and the rest");
  t.same(sizes(aOther), [3], 'another topic is another job');
  t.same(sizes(b), [5], "another tenant's rows are another job");
  for (const [jobId, group] of jobs) {
    t.equal(new Set(group.map((r) => `${r.tenantId}/${r.topic}`)).size, 1, `job ${jobId.slice(0, 11)}… holds one tenant's rows of one topic`);
    t.ok(group.some((r) => jobId === `ob-${r.id}-${r.attempts}`), 'and is named by one of its rows and that claim');
  }

  const single = await insert(ta.tenantId, 'test.group', 3);
  const alone = await outbox.claimDue(100, future());
  t.same(alone.map((r) => r.jobId).sort(), single.map((id) => `ob-${id}-1`).sort(), 'claimed one to a job (the default), each row keeps its own job id');
});

t.test('the BullMQ transport queues one job per group, and the reconciler asks about the job that carries a row', async (t) => {
  const { ta, outbox, insert, statusOf } = await setup(t);
  const connection = new Redis(ta.config.redis!.url, { maxRetriesPerRequest: null });
  const queue = new Queue('outbox', { connection, prefix: ta.config.redis!.prefix });
  t.teardown(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  });
  const transport = createBullmqTransport(queue, { rowsPerJob: 4 });
  const relay = createRelay({
    repo: outbox,
    queue: transport,
    log: silent,
    clock: future,
    options: { sweepMs: 50, reconcileMs: 0, visibilityTimeoutMs: 100, batch: 100, databaseUrl: ta.config.database.url },
  });
  const ids = await insert(ta.tenantId, 'test.group', 10);
  t.equal(await relay.sweep(), 10, 'the relay hands the ten rows over');
  const waiting = await queue.getJobs(['waiting']);
  t.equal(waiting.length, 3, 'as three jobs (4, 4 and 2 rows)');
  const carried = waiting.flatMap((j) => rowsOfJob(OutboxJobSchema.parse(j.data)));
  t.same([...carried].sort(), [...ids].sort(), 'which carry every row once, by id');
  t.ok(waiting.every((j) => j.data.tenant_id === ta.tenantId && j.name === 'test.group'), "each names its rows' tenant and topic, and nothing else");
  t.same(Object.keys(waiting[0]!.data).sort(), ['outbox_ids', 'tenant_id'], 'ids only (INV-6)');

  await new Promise((r) => setTimeout(r, 150));
  t.equal(await relay.reconcile(), 0, 'past the visibility timeout, rows whose job still waits are left alone');
  const gone = waiting.find((j) => rowsOfJob(OutboxJobSchema.parse(j.data)).length === 4)!;
  const goneRows = rowsOfJob(OutboxJobSchema.parse(gone.data));
  await gone.remove();
  t.equal(await relay.reconcile(), 4, 'the rows of a job that vanished go back to pending, and only they');
  const rows = await statusOf(ids);
  t.same(rows.filter((r) => r.status === 'pending').map((r) => r.id).sort(), [...goneRows].sort());
  t.equal(await relay.sweep(), 4, 'and are handed over again');
  const again = (await statusOf(goneRows)).map((r) => r.job_id);
  t.equal(new Set(again).size, 1, 'in one new job');
  t.ok(again[0] !== gone.id && (await queue.getJob(again[0]!)), 'named by the new claim, and queued');
});

t.test("a job's rows reach their topic's handleMany together; a failing row fails the job alone, and the retry redoes only it", async (t) => {
  const { ta, db, outbox, insert, statusOf } = await setup(t);
  const dispatcher = createDispatcher({ outbox, log: silent, holdMs: 10_000 });
  const calls: number[][] = [];
  let failing = true;
  dispatcher.register('test.many', {
    payload: z.object({ n: z.int() }),
    handle: async () => {
      throw new Error('handleMany is used for a job of several rows');
    },
    handleMany: async (rows: { row: OutboxRow; payload: { n: number } }[]) => {
      calls.push(rows.map((r) => r.payload.n));
      return rows.map((r): PromiseSettledResult<void> => (r.payload.n === 2 && failing ? { status: 'rejected', reason: new Error('receiver down') } : { status: 'fulfilled', value: undefined }));
    },
  });
  dispatcher.register('test.one', { payload: z.object({ n: z.int() }), handle: async () => {} });
  const ids = await insert(ta.tenantId, 'test.many', 4);
  const [bad] = await withTenant(ta.tenantId, () => outbox.insert([{ tenantId: ta.tenantId, topic: 'test.one', payload: { n: 'not a number' } }], db));
  await outbox.claimDue(100, future(), 16);
  const job = [...ids, bad!];

  await t.rejects(dispatcher.processMany(job, { tenantId: ta.tenantId }), { message: 'receiver down' }, 'the job fails with the failing row\'s error');
  t.same(calls, [[0, 1, 2, 3]], 'the four rows of the topic went to handleMany in one call');
  const after = Object.fromEntries((await statusOf(job)).map((r) => [r.id, r]));
  t.same(ids.map((id) => after[id]!.status), ['done', 'done', 'enqueued', 'done'], 'the rows that succeeded are done; the failing one stays in flight');
  t.equal(after[ids[2]!]!.locked_until, null, 'without a hold, so the retry takes it at once');
  t.equal(after[bad!]!.status, 'dead', 'a row whose payload does not match is dead, whatever its job mates do');

  failing = false;
  t.same(await dispatcher.processMany(job, { tenantId: ta.tenantId }), ['skipped', 'skipped', 'done', 'skipped', 'skipped'], "the queue's retry redoes the failed row only");
  t.same(calls.at(-1), [2], 'which its handler gets alone');
  t.equal(await withTenant(ta.tenantId, async () => (await dispatcher.processMany(job, { tenantId: ta.tenantId })).filter((r) => r !== 'skipped').length), 0, 'a third run finds nothing to do');
});
