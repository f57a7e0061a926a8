// Postgres unreachable or hanging: callers get a 503 problem with Retry-After within seconds, /readyz is 503,
// /healthz stays 200, the process survives, nothing is half-written, and service resumes without a restart.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { build, createPurpose, createSubject, grant, testConfig, type TestApp } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';
import { startTcpProxy, type PauseMode, type PauseOptions, type TcpProxy } from '../helpers/tcp-proxy.js';
import { collectUncaught } from '../helpers/uncaught.js';

const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 1000;
const DEADLINE_MS = 10_000;

const unexpected = collectUncaught(t);

type Setup = { ta: TestApp; app: FastifyInstance; proxy: TcpProxy; subject: string };

async function setup(t: Test): Promise<Setup> {
  const ta = await build(t); // creates and migrates the database directly, and the default tenant
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  const app = await buildApp(
    testConfig(proxy.urlFor(ta.databaseUrl), {
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    }),
  );
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await proxy.close();
  });
  await createPurpose(ta, 'newsletter');
  const subject = await createSubject(ta, 'pg-down@example.com');
  await grant(ta, subject, 'newsletter');
  return { ta, app, proxy, subject };
}

function requests(s: Setup): [[string, InjectOptions], ...[string, InjectOptions][]] {
  const authorization = `Bearer ${s.ta.token()}`;
  return [
    ['list purposes', { method: 'GET', url: '/v1/purposes', headers: { authorization } }],
    ['get subject', { method: 'GET', url: `/v1/subjects/${s.subject}`, headers: { authorization } }],
    ['consent state', { method: 'GET', url: `/v1/subjects/${s.subject}/consents`, headers: { authorization } }],
    ['create subject', { method: 'POST', url: '/v1/subjects', headers: { authorization }, payload: { identifiers: [{ type: 'email', value: 'new@example.com' }] } }],
    [
      'record consent',
      { method: 'POST', url: `/v1/subjects/${s.subject}/consents`, headers: { authorization, 'idempotency-key': 'during-outage' }, payload: { decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api' }] } },
    ],
    ['check', { method: 'POST', url: '/v1/consents/check', headers: { authorization }, payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'pg-down@example.com' }] } }],
  ];
}

async function timed(app: FastifyInstance, o: InjectOptions): Promise<[LightMyRequestResponse, number]> {
  const started = Date.now();
  const res = await app.inject(o);
  return [res, Date.now() - started];
}

async function outage(t: Test, mode: PauseMode, opts: PauseOptions = {}) {
  const s = await setup(t);
  const { app, proxy, ta } = s;
  // Warm up: the app's pool holds connections through the proxy, and requests succeed.
  for (const [label, o] of requests(s).filter(([l]) => !l.startsWith('record') && !l.startsWith('create'))) {
    t.equal((await app.inject(o)).statusCode, 200, `before the outage: ${label}`);
  }
  t.ok(proxy.open > 0, `the app's connections go through the proxy (${proxy.open} open)`);
  const eventsBefore = (await ta.sql.query('SELECT count(*)::int AS n FROM consent_events')).rows[0].n;
  const subjectsBefore = (await ta.sql.query('SELECT count(*)::int AS n FROM subjects')).rows[0].n;

  proxy.pause(mode, opts);

  // Each request that needs the database: a 503 problem with Retry-After, well within the deadline.
  for (const [label, o] of requests(s)) {
    const [res, ms] = await timed(app, o);
    assertProblem(t, res, 503, 'DATABASE_UNAVAILABLE', `${mode}: ${label}`);
    t.ok(Number(res.headers['retry-after']) > 0, `${mode}: ${label}: Retry-After ${res.headers['retry-after']}`);
    t.ok(ms < DEADLINE_MS, `${mode}: ${label}: answered in ${ms} ms`);
  }
  // Many at once (more than the pool holds): all shed with 503 within the deadline, none hangs.
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 25 }, () => app.inject(requests(s)[0][1])));
  t.same([...new Set(burst.map((r) => r.statusCode))], [503], `${mode}: 25 concurrent requests are all 503`);
  t.ok(Date.now() - started < DEADLINE_MS, `${mode}: the burst was answered in ${Date.now() - started} ms`);

  const [ready, readyMs] = await timed(app, { method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503, `${mode}: /readyz is 503`);
  t.same(ready.json().checks, { postgres: 'down', redis: 'ok' }, `${mode}: /readyz names postgres`);
  t.ok(Number(ready.headers['retry-after']) > 0, `${mode}: /readyz has Retry-After`);
  t.ok(readyMs < 3000, `${mode}: /readyz answers in ${readyMs} ms`);
  const live = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(live.statusCode, 200, `${mode}: /healthz stays 200`);
  t.ok(proxy.accepted > 0);

  // Nothing was half-written: the database (seen directly, not through the proxy) holds what it held before.
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM consent_events')).rows[0].n, eventsBefore, `${mode}: no consent event written`);
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM subjects')).rows[0].n, subjectsBefore, `${mode}: no subject written`);

  proxy.resume();

  // Service resumes by itself: bounded polling until a request succeeds.
  const resumed = Date.now();
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = (await app.inject(requests(s)[0][1])).statusCode === 200;
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ok, `${mode}: requests succeed again ${Date.now() - resumed} ms after the resume, without a restart`);
  for (const [label, o] of requests(s)) {
    const res = await app.inject(o);
    t.ok(res.statusCode === 200 || res.statusCode === 201, `${mode}: after the outage: ${label} ${res.statusCode} ${res.statusCode >= 300 ? res.body : ''}`);
  }
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, `${mode}: /readyz is 200 again`);
  const verify = await app.inject({ method: 'GET', url: `/v1/subjects/${s.subject}/consents/verify`, headers: { authorization: `Bearer ${ta.token()}` } });
  t.same(verify.json(), { subject_id: s.subject, status: 'valid', valid: true, events_checked: 2, first_invalid: null, purged: null }, `${mode}: the ledger chain is intact`);
  t.same(unexpected, [], `${mode}: no uncaught exception or unhandled rejection`);
}

t.test('Postgres black-holed (connections hang; existing ones dropped)', async (t) => outage(t, 'blackhole'));
t.test('Postgres refusing (connections reset)', async (t) => outage(t, 'reset'));
t.test('Postgres hanging mid-connection (existing connections frozen, new ones black-holed)', async (t) => outage(t, 'blackhole', { existing: 'hang' }));
