import t from 'tap';
import { build } from '../helper.js';

t.test('an address that keeps failing to authenticate is slowed down; good tokens from elsewhere are not', async (t) => {
  const ta = await build(t, { env: { AUTH_FAILURES_PER_MINUTE: '5' } });
  const bad = (remoteAddress: string) =>
    ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress, headers: { authorization: 'Bearer not.a.token' } });
  for (let i = 0; i < 5; i++) t.equal((await bad('203.0.113.9')).statusCode, 401, `failure ${i + 1} is a 401`);
  const blocked = await bad('203.0.113.9');
  t.equal(blocked.statusCode, 429, 'the sixth failure within a minute is a 429');
  t.equal(blocked.headers['content-type'], 'application/problem+json');
  t.equal(blocked.json().code, 'RATE_LIMITED');
  t.ok(Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 60, 'with Retry-After');
  const goodElsewhere = await ta.app.inject({
    method: 'GET',
    url: '/v1/tenant',
    remoteAddress: '198.51.100.4',
    headers: { authorization: `Bearer ${ta.token()}` },
  });
  t.equal(goodElsewhere.statusCode, 200, 'another address is not affected');
  t.equal((await bad('198.51.100.4')).statusCode, 401, 'and its own first failure is still a 401');
  const noHeader = await ta.app.inject({ method: 'GET', url: '/v1/tenant', remoteAddress: '203.0.113.9' });
  t.equal(noHeader.statusCode, 429, 'the blocked address stays blocked whatever it sends');
  const health = await ta.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' });
  t.equal(health.statusCode, 200, 'public routes are not affected');
});
