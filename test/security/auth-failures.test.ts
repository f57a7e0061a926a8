// Failed authentications are counted per address; an address over the limit gets 429 for its failures, while a
// token that verifies is always served (one client failing behind a shared proxy address locks out nobody).
import t from 'tap';
import { createFailureCounter } from '../../src/plugins/auth.js';
import { build } from '../helper.js';

t.test('an address that keeps failing to authenticate is slowed down; its good tokens and other addresses are not', async (t) => {
  const ta = await build(t, { env: { AUTH_FAILURES_PER_MINUTE: '5' } });
  const bad = (remoteAddress: string) =>
    ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress, headers: { authorization: 'Bearer not.a.token' } });
  const good = (remoteAddress: string, scope?: string) =>
    ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress, headers: { authorization: `Bearer ${ta.token(scope)}` } });
  for (let i = 0; i < 5; i++) t.equal((await bad('203.0.113.9')).statusCode, 401, `failure ${i + 1} is a 401`);
  const blocked = await bad('203.0.113.9');
  t.equal(blocked.statusCode, 429, 'the sixth failure within a minute is a 429');
  t.equal(blocked.headers['content-type'], 'application/problem+json');
  t.equal(blocked.json().code, 'RATE_LIMITED');
  t.ok(Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 60, 'with Retry-After');

  const goodHere = await good('203.0.113.9');
  t.equal(goodHere.statusCode, 200, `a token that verifies is served from the blocked address (${goodHere.body})`);
  t.equal(goodHere.json().id, ta.tenantId);
  const postsToo = await ta.app.inject({
    method: 'POST',
    url: '/v1/purposes',
    remoteAddress: '203.0.113.9',
    headers: { authorization: `Bearer ${ta.token()}` },
    payload: { key: 'newsletter', legal_basis: 'consent', retention: '1 year', translations: { en: { title: 'T', description: 'D' } } },
  });
  t.equal(postsToo.statusCode, 201, `and can write (${postsToo.body})`);
  t.equal((await bad('203.0.113.9')).statusCode, 429, 'while its failures stay 429s');
  const noHeader = await ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress: '203.0.113.9' });
  t.equal(noHeader.statusCode, 429, 'a request without a token is a failure too');

  t.equal((await good('198.51.100.4')).statusCode, 200, 'another address is not affected');
  t.equal((await bad('198.51.100.4')).statusCode, 401, 'and its own first failure is still a 401');
  const health = await ta.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' });
  t.equal(health.statusCode, 200, 'public routes are not affected');
});

t.test('behind a proxy without TRUST_PROXY, one failing client does not lock out the others on the same address', async (t) => {
  const ta = await build(t, { env: { AUTH_FAILURES_PER_MINUTE: '3' } });
  // Every client reaches the API from the proxy's address.
  const proxy = '10.0.0.1';
  for (let i = 0; i < 10; i++) {
    await ta.app.inject({ method: 'GET', url: '/v1/purposes', remoteAddress: proxy, headers: { authorization: 'Bearer broken', 'x-forwarded-for': '203.0.113.9' } });
  }
  const failing = await ta.app.inject({ method: 'GET', url: '/v1/purposes', remoteAddress: proxy, headers: { authorization: 'Bearer broken' } });
  t.equal(failing.statusCode, 429, 'the shared address is over the limit for failures');
  for (let i = 0; i < 3; i++) {
    const res = await ta.app.inject({ method: 'GET', url: '/v1/purposes', remoteAddress: proxy, headers: { authorization: `Bearer ${ta.token()}`, 'x-forwarded-for': '198.51.100.4' } });
    t.equal(res.statusCode, 200, `another client's valid token is served (${i + 1})`);
  }
  const forbidden = await ta.app.inject({ method: 'GET', url: '/v1/purposes', remoteAddress: proxy, headers: { authorization: `Bearer ${ta.token('subjects:read')}` } });
  t.equal(forbidden.statusCode, 403, 'a valid token lacking the scope is a 403, not a 429: it did authenticate');
});

t.test('with TRUST_PROXY, failures are counted per forwarded client address', async (t) => {
  const ta = await build(t, { env: { AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: 'true' } });
  const bad = (client: string) =>
    ta.app.inject({ method: 'GET', url: '/v1/purposes', remoteAddress: '10.0.0.1', headers: { authorization: 'Bearer broken', 'x-forwarded-for': client } });
  for (let i = 0; i < 3; i++) t.equal((await bad('203.0.113.9')).statusCode, 401, `failure ${i + 1} is a 401`);
  t.equal((await bad('203.0.113.9')).statusCode, 429, 'the failing client is over the limit');
  t.equal((await bad('198.51.100.4')).statusCode, 401, 'another client behind the same proxy is counted on its own');
});

t.test('a request with two Authorization headers counts as a failed authentication', async (t) => {
  const ta = await build(t, { env: { AUTH_FAILURES_PER_MINUTE: '2' } });
  const twice = () =>
    ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress: '203.0.113.9', headers: { Authorization: [`Bearer ${ta.token()}`, `Bearer ${ta.token()}`] } });
  t.equal((await twice()).statusCode, 401);
  t.equal((await twice()).statusCode, 401);
  t.equal((await twice()).statusCode, 429, 'the third within a minute is a 429');
});

t.test('the failure counter: a fixed window per address, bounded in memory', async (t) => {
  let now = 1_000_000;
  const counter = createFailureCounter({ limit: 2, windowMs: 60_000, capacity: 3, now: () => now });
  t.same(counter.fail('a'), { blocked: false, retryAfterSeconds: 60 });
  t.same(counter.fail('a'), { blocked: false, retryAfterSeconds: 60 });
  t.same(counter.fail('a'), { blocked: true, retryAfterSeconds: 60 }, 'over the limit');
  now += 59_500;
  t.same(counter.fail('a'), { blocked: true, retryAfterSeconds: 1 }, 'Retry-After counts down to the end of the window');
  now += 500;
  t.same(counter.fail('a'), { blocked: false, retryAfterSeconds: 60 }, 'a new window starts afresh');

  counter.fail('b');
  counter.fail('b');
  counter.fail('c');
  t.equal(counter.size, 3, 'full');
  now += 1_000;
  counter.fail('d');
  t.equal(counter.size, 3, 'a new address in a full table does not grow it');
  t.equal(counter.fail('b').blocked, true, 'and the others keep their counts (b: third failure)');
  t.equal(counter.fail('c').blocked, false, 'c: second failure');
  now += 60_000;
  for (const x of ['e', 'f', 'g', 'h']) counter.fail(x);
  t.equal(counter.size, 3, 'ended windows make room first, and the table stays bounded');
});
