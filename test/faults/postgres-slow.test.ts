// A slow Postgres, not a down one: a row lock held by another session on the subject a consent write needs, and a
// statement that sleeps past DATABASE_STATEMENT_TIMEOUT_MS. Postgres cancels the statement (57014) and the API answers
// 503 DATABASE_UNAVAILABLE with Retry-After (not 408: the client sent its request in time; the database is what is
// slow) within the timeout plus a margin; the transaction is rolled back whole (no event, state, chain head, outbox
// row or idempotency key); no connection of the pool stays busy or idle in transaction; the next request is served.
import pg from 'pg';
import t, { type Test } from 'tap';
import { build, createPurpose, createSubject, grant, type TestApp } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';
import { retryingShed, settle } from '../helpers/settle.js';
import { collectUncaught } from '../helpers/uncaught.js';

const STATEMENT_TIMEOUT_MS = 1000;
const POOL_MAX = 4;
// Waiting for a pool connection (DATABASE_CONNECT_TIMEOUT_MS) and then for the lock: two timeouts and a margin.
const BOUND_MS = 2 * STATEMENT_TIMEOUT_MS + 2500;

const unexpected = collectUncaught(t);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(t: Test) {
  const ta = await build(t, {
    env: { DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DATABASE_CONNECT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DATABASE_POOL_MAX: String(POOL_MAX) },
  });
  // Set-up steps wait out a load-shedding spell of a busy machine.
  const setupTa = { ...ta, call: retryingShed(ta.call) };
  await createPurpose(setupTa, 'newsletter');
  await settle(ta.call);
  const subject = await createSubject(setupTa, 'slow@example.com');
  const other = await createSubject(setupTa, 'other@example.com');
  await grant(setupTa, subject, 'newsletter');
  // Another session, as a long report or a stuck migration would be.
  const holder = new pg.Client({ connectionString: ta.databaseUrl });
  holder.on('error', () => {});
  await holder.connect();
  t.teardown(() => holder.end());
  await settle(ta.call);
  return { ta, subject, other, holder };
}

const write = (ta: TestApp, subject: string, key: string, action: 'grant' | 'withdraw' = 'withdraw') =>
  ta.call({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': key }, payload: { decisions: [{ purpose: 'newsletter', action, source: 'api' }] } });

/** Everything a consent write touches, for one subject. */
async function footprint(ta: TestApp, subject: string) {
  const q = async (text: string) => (await ta.sql.query(text, [subject])).rows;
  return {
    events: await q('SELECT id FROM consent_events WHERE subject_id = $1 ORDER BY seq'),
    state: await q('SELECT status, event_id FROM consent_state WHERE subject_id = $1'),
    subject: await q('SELECT row_to_json(s)::text AS j FROM subjects s WHERE id = $1'),
    outbox: await q(`SELECT count(*)::int AS n FROM outbox WHERE payload::text LIKE '%' || $1 || '%'`),
    keys: (await ta.sql.query('SELECT count(*)::int AS n FROM idempotency_keys')).rows,
  };
}

/** The API's own sessions (application_name rightful) on the test database, until none is busy or in a transaction. */
async function settled(ta: TestApp): Promise<{ state: string; wait: string | null }[]> {
  let rows: { state: string; wait: string | null }[] = [];
  for (let i = 0; i < 40; i++) {
    rows = (
      await ta.sql.query(
        `SELECT state, wait_event_type AS wait FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rightful'`,
      )
    ).rows;
    if (rows.every((r) => r.state === 'idle')) return rows;
    await sleep(50);
  }
  return rows;
}

async function assertRecovered(t: Test, ta: TestApp, subject: string, other: string, label: string) {
  const sessions = await settled(ta);
  t.ok(sessions.length <= POOL_MAX, `${label}: ${sessions.length} pool sessions (max ${POOL_MAX})`);
  t.same(sessions.filter((s) => s.state !== 'idle'), [], `${label}: every pool session is idle again (none active or idle in transaction)`);
  const read = await ta.call({ method: 'GET', url: `/v1/subjects/${other}/consents` });
  t.equal(read.statusCode, 200, `${label}: the pool serves the next request`);
  const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.equal(verify.json().valid, true, `${label}: the chain verifies`);
}

t.test('a row lock held on the subject: the write times out into a 503, nothing half-written, the pool recovers', async (t) => {
  const { ta, subject, other, holder } = await setup(t);
  const before = await footprint(ta, subject);
  await holder.query('BEGIN');
  await holder.query('SELECT id FROM subjects WHERE id = $1 FOR UPDATE', [subject]);

  const started = Date.now();
  const res = await write(ta, subject, 'locked-1');
  const ms = Date.now() - started;
  assertProblem(t, res, 503, 'DATABASE_UNAVAILABLE', 'write behind a held row lock');
  t.ok(Number(res.headers['retry-after']) > 0, `Retry-After ${res.headers['retry-after']}`);
  t.ok(ms >= STATEMENT_TIMEOUT_MS - 50 && ms < BOUND_MS, `answered after ${ms} ms (statement timeout ${STATEMENT_TIMEOUT_MS} ms)`);

  // While the lock is still held: other subjects are served, and more writers than the pool has connections are
  // all answered in bounded time.
  const read = await ta.call({ method: 'GET', url: `/v1/subjects/${other}/consents` });
  t.equal(read.statusCode, 200, 'another subject is served while the lock is held');
  const burstStart = Date.now();
  const burst = await Promise.all(Array.from({ length: POOL_MAX * 2 }, (_, i) => write(ta, subject, `locked-burst-${i}`)));
  const burstMs = Date.now() - burstStart;
  t.same([...new Set(burst.map((r) => r.statusCode))], [503], `${burst.length} concurrent writers (pool ${POOL_MAX}): all 503`);
  for (const r of burst) t.ok(Number(r.headers['retry-after']) > 0 && r.json().code === 'DATABASE_UNAVAILABLE', 'a DATABASE_UNAVAILABLE problem with Retry-After');
  t.ok(burstMs < BOUND_MS, `the burst was answered in ${burstMs} ms`);

  t.same(await footprint(ta, subject), before, 'nothing written: no event, state, chain head, outbox row or idempotency key');
  await assertRecovered(t, ta, subject, other, 'lock still held');

  await holder.query('ROLLBACK');
  // The key was not stored with the failed attempt, so the same retry now writes, once.
  const retry = await write(ta, subject, 'locked-1');
  t.equal(retry.statusCode, 201, 'the retry with the same key succeeds once the lock is gone');
  t.equal(retry.headers['idempotent-replayed'], undefined, 'and is a first answer, not a replay');
  t.equal((await footprint(ta, subject)).events.length, before.events.length + 1, 'one event more');
  await assertRecovered(t, ta, subject, other, 'lock released');
  t.same(unexpected, [], 'no uncaught exception or unhandled rejection');
});

t.test('a statement that sleeps past the statement timeout: a 503 in bounded time, rolled back whole', async (t) => {
  const { ta, subject, other, holder } = await setup(t);
  // Every ledger insert sleeps three times the statement timeout, as on an overloaded disk.
  await holder.query(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${(3 * STATEMENT_TIMEOUT_MS) / 1000}); RETURN NEW; END $$`);
  await holder.query('CREATE TRIGGER slow_insert BEFORE INSERT ON consent_events FOR EACH ROW EXECUTE FUNCTION slow_insert()');
  const before = await footprint(ta, subject);

  const started = Date.now();
  const res = await write(ta, subject, 'sleepy-1');
  const ms = Date.now() - started;
  assertProblem(t, res, 503, 'DATABASE_UNAVAILABLE', 'write whose insert sleeps');
  t.ok(Number(res.headers['retry-after']) > 0, `Retry-After ${res.headers['retry-after']}`);
  t.ok(ms < BOUND_MS, `answered after ${ms} ms, not after the ${3 * STATEMENT_TIMEOUT_MS} ms sleep`);
  const burst = await Promise.all(Array.from({ length: POOL_MAX * 2 }, (_, i) => write(ta, subject, `sleepy-burst-${i}`)));
  t.same([...new Set(burst.map((r) => r.statusCode))], [503], `${burst.length} concurrent sleepy writes: all 503`);

  t.same(await footprint(ta, subject), before, 'nothing written: the whole transaction rolled back');
  await assertRecovered(t, ta, subject, other, 'while inserts are slow');

  await holder.query('DROP TRIGGER slow_insert ON consent_events');
  const retry = await write(ta, subject, 'sleepy-1');
  t.equal(retry.statusCode, 201, 'the same key writes once the database is fast again');
  t.equal((await footprint(ta, subject)).events.length, before.events.length + 1, 'one event more');
  await assertRecovered(t, ta, subject, other, 'after');
  t.same(unexpected, [], 'no uncaught exception or unhandled rejection');
});
