// The worker's bookkeeping in batches: calls made while a statement of their kind is in flight share the next one,
// each caller gets its own answer, a failing call takes only itself down, and a row is still taken by one processor
// at a time when many processors ask for it at once.
import pino from 'pino';
import t from 'tap';
import { createDb, createPool } from '../../../src/db/client.js';
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
