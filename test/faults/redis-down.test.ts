// Redis down: the API keeps serving (rate limiting skips on error), /readyz is 503 naming redis, and readiness
// comes back by itself when Redis does.
import net from 'node:net';
import type { FastifyInstance, InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { build, createPurpose, createSubject, testConfig, type TestApp } from '../helper.js';
import { startTcpProxy, type PauseMode, type PauseOptions } from '../helpers/tcp-proxy.js';
import { collectUncaught } from '../helpers/uncaught.js';

const REDIS = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

const unexpected = collectUncaught(t);

/** A port on which nothing listens: bound, noted, released. */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function serves(t: Test, app: FastifyInstance, ta: TestApp, subject: string, label: string) {
  const authorization = `Bearer ${ta.token()}`;
  const cases: [string, InjectOptions, number][] = [
    ['list purposes', { method: 'GET', url: '/v1/purposes', headers: { authorization } }, 200],
    ['get subject', { method: 'GET', url: `/v1/subjects/${subject}`, headers: { authorization } }, 200],
    [
      'record consent',
      { method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { authorization }, payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] } },
      201,
    ],
    ['check', { method: 'POST', url: '/v1/consents/check', headers: { authorization }, payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'redis-down@example.com' }] } }, 200],
    ['unauthenticated (rate limited by IP)', { method: 'GET', url: '/v1/purposes' }, 401],
    ['healthz', { method: 'GET', url: '/healthz' }, 200],
  ];
  for (const [name, o, status] of cases) {
    const started = Date.now();
    const res = await app.inject(o);
    const ms = Date.now() - started;
    t.equal(res.statusCode, status, `${label}: ${name} is served (${res.statusCode} ${res.statusCode !== status ? res.body : ''})`);
    t.ok(ms < 3000, `${label}: ${name} answered in ${ms} ms`);
  }
  const started = Date.now();
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503, `${label}: /readyz is 503`);
  t.match(ready.headers['content-type'], /^application\/problem\+json/, `${label}: /readyz answers a problem`);
  t.match(ready.json(), { code: 'NOT_READY', status: 503, checks: { postgres: 'ok', redis: 'down' } }, `${label}: /readyz names redis as down`);
  t.ok(Number(ready.headers['retry-after']) > 0, `${label}: /readyz has Retry-After`);
  t.ok(Date.now() - started < 3000, `${label}: /readyz answered in ${Date.now() - started} ms`);
}

t.test('Redis unreachable from the start (nothing listens on its port)', async (t) => {
  const port = await unusedPort();
  const ta = await build(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
  await createPurpose(ta, 'newsletter');
  const subject = await createSubject(ta, 'redis-down@example.com');
  await serves(t, ta.app, ta, subject, 'refused');
  t.same(unexpected, [], 'no uncaught exception or unhandled rejection');
});

const variants: [string, PauseMode, PauseOptions][] = [
  ['reset', 'reset', {}],
  ['blackhole', 'blackhole', {}],
  ['hang', 'blackhole', { existing: 'hang' }],
];
for (const [mode, pauseMode, pauseOptions] of variants) {
  t.test(`Redis lost while running (${mode}), then back`, async (t) => {
    const ta = await build(t);
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) });
    const url = new URL(REDIS.toString());
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const app = await buildApp(testConfig(ta.databaseUrl, { REDIS_URL: url.toString() }));
    await app.ready();
    t.teardown(async () => {
      await app.close();
      await proxy.close();
    });
    await createPurpose(ta, 'newsletter');
    const subject = await createSubject(ta, 'redis-down@example.com');

    // Before: ready, and rate limiting really uses Redis through the proxy (its counter headers are there).
    const before = await app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${ta.token()}` } });
    t.equal(before.statusCode, 200);
    t.ok(before.headers['x-ratelimit-remaining'] !== undefined, 'rate limiting is on');
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready before the outage');
    t.ok(proxy.open > 0, 'the app talks to Redis through the proxy');

    proxy.pause(pauseMode, pauseOptions);
    await serves(t, app, ta, subject, mode);

    proxy.resume();
    // ioredis reconnects by itself (retry every ≤ 2 s); bounded polling until ready again.
    const resumed = Date.now();
    let ready = false;
    for (let i = 0; i < 40 && !ready; i++) {
      ready = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200;
      if (!ready) await new Promise((r) => setTimeout(r, 250));
    }
    t.ok(ready, `${mode}: ready again ${Date.now() - resumed} ms after Redis returned`);
    const after = await app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${ta.token()}` } });
    t.equal(after.statusCode, 200);
    t.same(unexpected, [], `${mode}: no uncaught exception or unhandled rejection`);
  });
}
