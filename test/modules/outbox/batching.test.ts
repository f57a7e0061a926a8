// The worker's bookkeeping in batches: calls made while a statement of their kind is in flight share the next one,
// each caller gets its own answer, a failing call takes only itself down, and a row is still taken by one processor
// at a time when many processors ask for it at once.
import pino from 'pino';
import t from 'tap';
import { createDb, createPool } from '../../../src/db/client.js';
import { currentTenant, withTenant } from '../../../src/db/tenant-scope.js';
import { createBatcher } from '../../../src/modules/outbox/outbox.batcher.js';
import { createOutboxRepo } from '../../../src/modules/outbox/outbox.repo.js';
import { build } from '../../helper.js';

t.test('calls made while a statement is in flight share the next statement, and each gets its own answer', async (t) => {
  const statements: number[][] = [];
  const double = createBatcher(async (xs: number[]) => {
    statements.push(xs);
    await new Promise((r) => setTimeout(r, 20));
    return xs.map((x) => x * 2);
  });
  const answers = await Promise.all([1, 2, 3, 4, 5].map((x) => double(x)));
  t.same(answers, [2, 4, 6, 8, 10], 'every caller gets the answer to its own call');
  t.same(statements, [[1], [2, 3, 4, 5]], 'a lone call goes at once; the calls made meanwhile go together');
});

t.test('a call that fails a shared statement fails alone: the others are answered', async (t) => {
  const runs: number[][] = [];
  const check = createBatcher(async (xs: number[]) => {
    runs.push(xs);
    await new Promise((r) => setTimeout(r, 5));
    if (xs.includes(13)) throw new Error('unlucky');
    return xs;
  });
  const settled = await Promise.allSettled([1, 2, 13, 4].map((x) => check(x)));
  t.same(
    settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
    [1, 2, 'unlucky', 4],
  );
  t.ok(runs.some((r) => r.length > 1 && r.includes(13)), 'the failing call was first in a shared statement');
  t.ok(runs.some((r) => r.length === 1 && r[0] === 2), 'then each of its statement went again on its own');
});

t.test("calls of two tenants never share a statement: each runs in its calls' tenant scope", async (t) => {
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  const statements: { scope: string | null; xs: string[] }[] = [];
  const echo = createBatcher(async (xs: string[]) => {
    statements.push({ scope: currentTenant(), xs });
    await new Promise((r) => setTimeout(r, 20));
    return xs;
  });
  const calls = [
    withTenant(a, () => echo('a1')),
    withTenant(b, () => echo('b1')),
    withTenant(a, () => echo('a2')),
    withTenant(b, () => echo('b2')),
    echo('none'),
    withTenant(a, () => echo('a3')),
  ];
  t.same(await Promise.all(calls), ['a1', 'b1', 'a2', 'b2', 'none', 'a3'], 'every caller gets its own answer');
  t.same(
    statements,
    [
      { scope: a, xs: ['a1'] },
      { scope: b, xs: ['b1', 'b2'] },
      { scope: a, xs: ['a2', 'a3'] },
      { scope: null, xs: ['none'] },
    ],
    "the oldest waiting call's tenant goes next, with its tenant's other calls; a call outside a scope runs in none",
  );
});

t.test('processors of two tenants take and complete rows at once: each statement sees its own tenant\'s rows', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const pool = createPool({ ...ta.config.database, poolMax: 4 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const outbox = createOutboxRepo(db);
  const insert = (tenantId: string) => withTenant(tenantId, () => outbox.insert(Array.from({ length: 5 }, (_, n) => ({ tenantId, topic: 'test.batch', payload: { n } })), db));
  const rows = [...(await insert(ta.tenantId)).map((id) => ({ id, tenantId: ta.tenantId })), ...(await insert(other)).map((id) => ({ id, tenantId: other }))];
  await outbox.claimDue(100, new Date(Date.now() + 60_000));
  // Interleaved, as jobs of two tenants arrive at one worker.
  const order = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9].map((k) => rows[k]!);
  const taken = await Promise.all(order.map((r) => withTenant(r.tenantId, () => outbox.take(r.id, 10_000))));
  t.same(taken.map((r) => r?.id), order.map((r) => r.id), 'every row is taken by its own processor');
  await Promise.all(order.map((r) => withTenant(r.tenantId, () => outbox.complete(r.id, 1))));
  const { rows: status } = await ta.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE id = ANY($1::uuid[]) AND status = 'done'", [rows.map((r) => r.id)]);
  t.equal(status[0]!.n, 10, 'and every one is completed');
});

t.test('many processors asking for one row at once: exactly one takes it, in batched and lone statements alike', async (t) => {
  const ta = await build(t);
  const pool = createPool({ ...ta.config.database, poolMax: 4 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const outbox = createOutboxRepo(db);
  const ids = await ta.scoped(() =>
    outbox.insert(
      Array.from({ length: 3 }, (_, n) => ({ tenantId: ta.tenantId, topic: 'test.batch', payload: { n } })),
      db,
    ),
  );
  const claimed = await outbox.claimDue(100, new Date(Date.now() + 60_000));
  t.equal(claimed.filter((c) => ids.includes(c.id)).length, 3, 'the rows are claimed for the queue');
  // Ten takes of each row at once: they share statements, and every row goes to one asker.
  const asks = ids.flatMap((id) => Array.from({ length: 10 }, () => id));
  const taken = await ta.scoped(() => Promise.all(asks.map((id) => outbox.take(id, 10_000))));
  for (const id of ids) t.equal(taken.filter((r) => r?.id === id).length, 1, `row ${ids.indexOf(id)} is taken once`);
  t.equal(taken.filter((r) => r === null).length, 27, 'every other ask gets nothing');
  t.same(taken.find((r) => r?.id === ids[1])?.payload, { n: 1 }, 'the taker gets the row it asked for');
  // Held rows are not taken again until their hold expires, batched or not.
  t.equal(await ta.scoped(() => outbox.take(ids[0]!, 10_000)), null, 'a held row is not taken again');
  // Completing in a batch: done only for the claim (attempts) that is still current.
  await ta.scoped(() => Promise.all([outbox.complete(ids[0]!, 1), outbox.complete(ids[1]!, 1), outbox.complete(ids[2]!, 2)]));
  const { rows } = await ta.sql.query<{ id: string; status: string }>('SELECT id, status FROM outbox WHERE id = ANY($1::uuid[])', [ids]);
  const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
  t.same([status[ids[0]!], status[ids[1]!], status[ids[2]!]], ['done', 'done', 'enqueued'], 'a stale claim does not complete the row');
});
