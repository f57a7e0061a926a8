// INV-1, INV-7: Postgres crashes (`pg_ctl stop -m immediate`) in the middle of a stream of consent writes and
// rights-request transitions. While it is down every call is a 503 problem with Retry-After in bounded time, never a
// 500; after the restart every write acknowledged with 2xx is there, retrying each write with its Idempotency-Key
// adds nothing twice, every hash chain verifies, and the API recovers by itself within seconds.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { runMigrations } from '../../src/db/migrate.js';
import { signToken } from '../../src/lib/tokens.js';
import { ALL_SCOPES, createPurpose, createSubject, testConfig, type TestApp } from '../helper.js';
import { recordContractViolations } from '../helpers/contract.js';
import { startThrowawayPostgres } from '../helpers/pg-cluster.js';
import { assertProblem } from '../helpers/problem.js';
import { retryingShed, settle } from '../helpers/settle.js';
import { collectUncaught } from '../helpers/uncaught.js';

const ANSWER_BOUND_MS = 8000;
const RECOVERY_BOUND_MS = 5000;
const OUTAGE_MS = 2500;
const WRITERS = 4;
const TRANSITIONERS = 2;
const SUBJECTS = 6;
const REQUESTS = 40;

const unexpected = collectUncaught(t);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Write = { key: string; subject: string; payload: object; status: number; ms: number; eventIds: string[]; res: LightMyRequestResponse };
type Transition = { request: string; action: 'assign' | 'complete'; status: number; ms: number; res: LightMyRequestResponse };

t.test('Postgres crash mid-stream: nothing acknowledged is lost, nothing doubles, the API recovers by itself', async (t) => {
  const cluster = await startThrowawayPostgres(t);
  const url = await cluster.createDatabase('rightful');
  const config = testConfig(url, { DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '2000' });
  await runMigrations(url, config.database.appRole);
  const app = await buildApp(config);
  const violations = recordContractViolations(app);
  await app.ready();
  const sql = new pg.Pool({ connectionString: url, max: 2 });
  sql.on('error', () => {});
  let closed = false;
  t.teardown(async () => {
    if (!closed) await app.close();
    await sql.end();
    if (violations.length) throw new Error(`responses the contract (openapi.yaml) does not describe:\n${[...new Set(violations)].join('\n')}`);
  });

  const tenantId = (await app.services.tenants.create({ name: 'Crash-test controller' })).id;
  const authorization = `Bearer ${signToken(config.jwt.secret, { sub: 'crash-test', tid: tenantId, scope: ALL_SCOPES, ttlSeconds: 3600, iss: config.jwt.issuer, aud: config.jwt.audience })}`;
  const call = (o: InjectOptions) => app.inject({ ...o, headers: { authorization, ...o.headers } });
  // The helper's shortcuts need only `call`; set-up steps wait out a load-shedding spell of a busy machine.
  const ta = { call: retryingShed(call) } as unknown as TestApp;
  await createPurpose(ta, 'newsletter');
  await settle(call);
  const subjects: string[] = [];
  for (let i = 0; i < SUBJECTS; i++) subjects.push(await createSubject(ta, `crash-${i}@example.com`));
  const requests: string[] = [];
  await settle(call);
  for (let i = 0; i < REQUESTS; i++) {
    const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: `crash-req-${i}@example.com` }] }, type: 'access', channel: 'email' } });
    t.equal(res.statusCode, 201, `request ${i} opened`);
    requests.push(res.json().id);
  }

  const writes: Write[] = [];
  const transitions: Transition[] = [];
  let stop = false;

  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const subject = subjects[(w + i) % subjects.length]!;
      const action = i % 2 === 0 ? 'grant' : 'withdraw';
      const payload = { decisions: [{ purpose: 'newsletter', action, source: 'api', ...(action === 'grant' ? { evidence: { form_id: 'crash-form' } } : {}) }] };
      const key = `crash-${w}-${i}`;
      const started = Date.now();
      const res = await call({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': key }, payload });
      const ms = Date.now() - started;
      const eventIds = res.statusCode === 201 ? (res.json().events as { id: string }[]).map((e) => e.id) : [];
      writes.push({ key, subject, payload, status: res.statusCode, ms, eventIds, res });
      // While the database is down a 503 comes back at once: pace the retries as a client honouring Retry-After would (faster).
      if (res.statusCode !== 201) await sleep(50);
    }
  };
  let nextRequest = 0;
  const transitioner = async () => {
    while (!stop && nextRequest < requests.length) {
      const request = requests[nextRequest++]!;
      for (const action of ['assign', 'complete'] as const) {
        const payload = action === 'assign' ? { assignee: 'dpo-crash' } : { resolution: 'Answered', subject_notified_at: new Date().toISOString(), notified_by: 'email' };
        const started = Date.now();
        const res = await call({ method: 'POST', url: `/v1/rights-requests/${request}/${action}`, payload });
        transitions.push({ request, action, status: res.statusCode, ms: Date.now() - started, res });
        if (res.statusCode !== 200) {
          await sleep(250);
          break;
        }
      }
    }
  };

  const running = [...Array.from({ length: WRITERS }, (_, w) => writer(w)), ...Array.from({ length: TRANSITIONERS }, () => transitioner())];
  // The crash comes once the stream is in full flow.
  for (let i = 0; i < 100 && writes.filter((w) => w.status === 201).length < 40; i++) await sleep(50);
  const ackedBeforeCrash = writes.filter((w) => w.status === 201).length;
  await cluster.stop('immediate');
  const crashedAt = writes.length;
  await sleep(OUTAGE_MS);
  const duringOutage = writes.slice(crashedAt);
  await cluster.start();
  const restarted = Date.now();
  let recoveredMs = -1;
  while (Date.now() - restarted < 15_000) {
    if ((await call({ method: 'GET', url: '/v1/purposes' })).statusCode === 200) {
      recoveredMs = Date.now() - restarted;
      break;
    }
    await sleep(50);
  }
  // The stream runs on for a moment after the recovery, then stops.
  await sleep(1000);
  stop = true;
  await Promise.all(running);

  t.ok(ackedBeforeCrash >= 20, `${ackedBeforeCrash} writes acknowledged before the crash`);
  t.ok(duringOutage.length > 0 && duringOutage.every((w) => w.status === 503), `${duringOutage.length} writes sent while Postgres was down, all 503`);
  t.ok(recoveredMs >= 0 && recoveredMs < RECOVERY_BOUND_MS, `the same app serves again ${recoveredMs} ms after Postgres accepts connections (no rebuild)`);

  // Every answer is a 2xx or a 503 problem with Retry-After, never a 500, each within the bound.
  const answers = [...writes.map((w) => ({ label: `write ${w.key}`, ...w })), ...transitions.map((x) => ({ label: `${x.action} ${x.request}`, ...x }))];
  const byStatus: Record<string, number> = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  t.same(Object.keys(byStatus).filter((s) => !['200', '201', '503'].includes(s)), [], `answers by status: ${JSON.stringify(byStatus)}`);
  // A busy machine may also shed load (OVERLOADED): as deliberate a 503, with Retry-After too.
  const shed = new Set(['DATABASE_UNAVAILABLE', 'OVERLOADED']);
  const codes: Record<string, number> = {};
  for (const a of answers.filter((x) => x.status === 503)) {
    const ok = a.res.headers['content-type']?.toString().startsWith('application/problem+json') && Number(a.res.headers['retry-after']) > 0 && shed.has(a.res.json().code);
    if (!ok) assertProblem(t, a.res, 503, 'DATABASE_UNAVAILABLE', a.label);
    else codes[a.res.json().code] = (codes[a.res.json().code] ?? 0) + 1;
  }
  t.ok((codes.DATABASE_UNAVAILABLE ?? 0) > 0, `503 problems with Retry-After by code: ${JSON.stringify(codes)}`);
  const slowest = Math.max(...answers.map((a) => a.ms));
  t.ok(slowest < ANSWER_BOUND_MS, `the slowest answer took ${slowest} ms (bound ${ANSWER_BOUND_MS})`);
  t.ok(writes.slice(crashedAt).some((w) => w.status === 201), 'writes succeed again after the restart');

  // Every acknowledged write is in the ledger.
  const acked = writes.filter((w) => w.status === 201);
  const ackedIds = acked.flatMap((w) => w.eventIds);
  const present = new Set((await sql.query<{ id: string }>('SELECT id FROM consent_events WHERE tenant_id = $1', [tenantId])).rows.map((r) => r.id));
  t.same(ackedIds.filter((id) => !present.has(id)), [], `all ${ackedIds.length} acknowledged events are present after the crash`);

  // Retrying every write with its own key: an acknowledged one replays its first answer; a failed one is written
  // once now (or replays, if its commit reached the WAL before the crash cut the answer off).
  const finalIds = new Set<string>();
  let replayedUnacked = 0;
  for (const w of writes) {
    const res = await call({ method: 'POST', url: `/v1/subjects/${w.subject}/consents`, headers: { 'idempotency-key': w.key }, payload: w.payload });
    if (res.statusCode !== 201) {
      t.fail(`retry of ${w.key}: ${res.statusCode} ${res.body}`);
      continue;
    }
    const ids = (res.json().events as { id: string }[]).map((e) => e.id);
    if (w.status === 201) {
      if (res.headers['idempotent-replayed'] !== 'true' || JSON.stringify(ids) !== JSON.stringify(w.eventIds)) t.fail(`retry of acknowledged ${w.key} replays the same events`);
    } else if (res.headers['idempotent-replayed'] === 'true') replayedUnacked++;
    for (const id of ids) finalIds.add(id);
  }
  t.pass(`${writes.length} writes retried with their keys (${acked.length} acknowledged, ${replayedUnacked} committed but unacknowledged)`);
  const ledger = (await sql.query<{ id: string }>('SELECT id FROM consent_events WHERE tenant_id = $1', [tenantId])).rows.map((r) => r.id);
  t.equal(ledger.length, writes.length, `ledger length ${ledger.length} = one event per key (${writes.length} keys)`);
  t.same([...ledger].sort(), [...finalIds].sort(), 'the ledger holds exactly the events the answers name');

  for (const subject of subjects) {
    const res = await call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.equal(res.statusCode, 200);
    t.equal(res.json().valid, true, `subject ${subject}: the hash chain verifies over ${res.json().events_checked} events`);
  }

  // Every acknowledged transition is recorded, in the request's audit trail and its status.
  const ackedTransitions = transitions.filter((x) => x.status === 200);
  t.ok(ackedTransitions.length > 0, `${ackedTransitions.length} transitions acknowledged`);
  const missing: string[] = [];
  for (const x of ackedTransitions) {
    const trail = await sql.query('SELECT 1 FROM rights_request_events WHERE request_id = $1 AND action = $2', [x.request, x.action]);
    if (trail.rowCount !== 1) missing.push(`${x.action} ${x.request}: ${trail.rowCount} trail rows`);
    const { status } = (await sql.query('SELECT status FROM rights_requests WHERE id = $1', [x.request])).rows[0];
    const expected = x.action === 'complete' ? ['completed'] : ['in_progress', 'completed'];
    if (!expected.includes(status)) missing.push(`${x.action} ${x.request}: status ${status}`);
  }
  t.same(missing, [], 'every acknowledged transition survived the crash, once');
  // Every pool connection is back: none was lost to the crash (a leaked one never returns, and app.close() would hang).
  for (let i = 0; i < 50 && app.pool.idleCount !== app.pool.totalCount; i++) await sleep(100);
  t.equal(app.pool.totalCount - app.pool.idleCount, 0, `no pool connection left checked out (${app.pool.totalCount} open, ${app.pool.idleCount} idle)`);
  const closing = Date.now();
  await app.close();
  closed = true;
  t.ok(Date.now() - closing < 5000, `the app closes in ${Date.now() - closing} ms after the crash`);
  t.same(unexpected.map((e) => (e as Error).stack ?? String(e)), [], 'no uncaught exception or unhandled rejection');
  if (t.passing() === false) t.comment(cluster.log().slice(-3000));
});
