// Every token failure is a 401 problem with a stable code, never a 500; a token without the route's scope is a 403.
import net from 'node:net';
import t from 'tap';
import { build } from '../helper.js';
import { b64url, goodClaims, hmacToken, noneToken, rs256Token, type Claims } from '../helpers/jwt.js';
import { assertProblem } from '../helpers/problem.js';

t.test('token failures', async (t) => {
  const ta = await build(t);
  const { secret, issuer: iss, audience: aud } = ta.config.jwt;
  const now = Math.floor(Date.now() / 1000);
  const claims = (o: Claims = {}, drop: string[] = []): Claims => {
    const c: Claims = { ...goodClaims({ tid: ta.tenantId, iss, aud }), ...o };
    for (const k of drop) delete c[k];
    return c;
  };
  const get = (authorization?: string) =>
    ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: authorization === undefined ? {} : { authorization } });

  // The control: a hand-built token with the good claims is accepted, so every failure below is the case's own.
  const control = await get(`Bearer ${hmacToken(secret, claims())}`);
  t.equal(control.statusCode, 200, `hand-built control token is accepted (${control.body})`);
  // Clocks differ a little: iat and nbf a few seconds ahead of ours are within the tolerance, as exp is behind it.
  for (const [label, o] of [
    ['iat 10 s ahead', { iat: now + 10 }],
    ['nbf 10 s ahead', { nbf: now + 10 }],
    ['exp 10 s ago', { iat: now - 600, exp: now - 10 }],
    ['no iat', {}],
  ] as [string, Claims][]) {
    const res = await get(`Bearer ${hmacToken(secret, claims(o, label === 'no iat' ? ['iat'] : []))}`);
    t.equal(res.statusCode, 200, `${label} is within the tolerance (${res.body})`);
  }

  const valid = hmacToken(secret, claims());
  const [vh, vp, vs] = valid.split('.');
  const tamperedPayload = b64url({ ...claims(), scope: 'purposes:read purposes:write tenant:admin' });
  const huge = hmacToken(secret, claims({ pad: 'x'.repeat(17 * 1024) }));
  t.ok(huge.length > 17 * 1024, '17 KB token');

  const cases: [string, string | undefined, string?][] = [
    ['no Authorization header', undefined],
    ['empty Authorization header', ''],
    ['Basic scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['Bearer without a token', 'Bearer '],
    ['Bearer with two tokens', `Bearer ${valid} ${valid}`],
    ['lower-case scheme and garbage', 'bearer !!!'],
    ['not a JWT', 'Bearer not-a-jwt'],
    ['two segments', `Bearer ${vh}.${vp}`],
    ['broken base64 in the header segment', `Bearer %%%.${vp}.${vs}`],
    ['header segment not JSON', `Bearer ${b64url('not json')}.${vp}.${vs}`],
    ['bad signature (another secret)', `Bearer ${hmacToken('another-secret-that-is-long-enough-0123456789', claims())}`],
    ['signature stripped', `Bearer ${vh}.${vp}.`],
    ['alg none', `Bearer ${noneToken(claims())}`],
    ['alg none with the original signature', `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${vp}.${vs}`],
    ['HS512 with the HS256 secret', `Bearer ${hmacToken(secret, claims(), 'HS512')}`],
    ['HS384 with the HS256 secret', `Bearer ${hmacToken(secret, claims(), 'HS384')}`],
    ['RS256 with a fresh key pair', `Bearer ${rs256Token(claims())}`],
    ['expired', `Bearer ${hmacToken(secret, claims({ iat: now - 7200, exp: now - 3600 }))}`],
    ['expired beyond the 30 s tolerance', `Bearer ${hmacToken(secret, claims({ iat: now - 600, exp: now - 90 }))}`],
    ['nbf in the future', `Bearer ${hmacToken(secret, claims({ nbf: now + 3600 }))}`],
    ['nbf in the future beyond the 30 s tolerance', `Bearer ${hmacToken(secret, claims({ nbf: now + 60 }))}`],
    ['iat in the future', `Bearer ${hmacToken(secret, claims({ iat: now + 3600 }))}`],
    ['iat in the future beyond the 30 s tolerance', `Bearer ${hmacToken(secret, claims({ iat: now + 60 }))}`],
    ['iat as a string', `Bearer ${hmacToken(secret, claims({ iat: String(now) }))}`],
    ['wrong iss', `Bearer ${hmacToken(secret, claims({ iss: 'someone-else' }))}`],
    ['wrong aud', `Bearer ${hmacToken(secret, claims({ aud: 'another-api' }))}`],
    ['aud as a list without ours', `Bearer ${hmacToken(secret, claims({ aud: ['x', 'y'] }))}`],
    ['missing iss', `Bearer ${hmacToken(secret, claims({}, ['iss']))}`],
    ['missing aud', `Bearer ${hmacToken(secret, claims({}, ['aud']))}`],
    ['missing tid', `Bearer ${hmacToken(secret, claims({}, ['tid']))}`],
    ['missing scope', `Bearer ${hmacToken(secret, claims({}, ['scope']))}`],
    ['missing exp', `Bearer ${hmacToken(secret, claims({}, ['exp']))}`],
    ['missing sub', `Bearer ${hmacToken(secret, claims({}, ['sub']))}`],
    ['exp as a string', `Bearer ${hmacToken(secret, claims({ exp: String(now + 600) }))}`],
    ['tid not a UUID', `Bearer ${hmacToken(secret, claims({ tid: 'tenant-1' }))}`],
    ['tid an SQL string', `Bearer ${hmacToken(secret, claims({ tid: "' OR 1=1--" }))}`],
    ['tid a number', `Bearer ${hmacToken(secret, claims({ tid: 42 }))}`],
    ['scope an array', `Bearer ${hmacToken(secret, claims({ scope: ['purposes:read'] }))}`],
    ['tid of a tenant that does not exist', `Bearer ${hmacToken(secret, claims({ tid: crypto.randomUUID() }))}`, 'UNKNOWN_TENANT'],
    ['tampered payload, original signature', `Bearer ${vh}.${tamperedPayload}.${vs}`],
    ['tampered tid, original signature', `Bearer ${vh}.${b64url({ ...claims(), tid: crypto.randomUUID() })}.${vs}`],
    ['RS256 header with a jku pointing elsewhere', `Bearer ${b64url({ alg: 'RS256', jku: 'http://127.0.0.1:1/jwks.json' })}.${vp}.${vs}`],
    ['RS256 header with an x5u', `Bearer ${b64url({ alg: 'RS256', x5u: 'http://127.0.0.1:1/cert.pem' })}.${vp}.${vs}`],
    ['alg none with an odd kid', `Bearer ${b64url({ alg: 'none', kid: "../../etc/passwd' OR 1=1--" })}.${vp}.`],
    ['17 KB token', `Bearer ${huge}`],
  ];

  for (const [label, header, code] of cases) {
    const res = await get(header);
    assertProblem(t, res, 401, code ?? 'UNAUTHORIZED', label);
    const body = res.json();
    t.notMatch(String(body.detail), /secret|stack|at .*\.ts/i, `${label}: no internals in the detail`);
  }

  // The tampered token with the scope widened must not reach a route that needs the widened scope either.
  const widened = await ta.app.inject({
    method: 'PATCH',
    url: '/v1/tenant',
    headers: { authorization: `Bearer ${vh}.${tamperedPayload}.${vs}` },
    payload: { name: 'Taken over' },
  });
  assertProblem(t, widened, 401, 'UNAUTHORIZED', 'tampered scope on PATCH /v1/tenant');
  const { rows } = await ta.sql.query('SELECT name FROM tenants WHERE id = $1', [ta.tenantId]);
  t.equal(rows[0].name, 'Test controller', 'the tenant was not renamed');
});

t.test('a valid token lacking the route scope is a 403 problem', async (t) => {
  const ta = await build(t);
  const readOnly = ta.token('purposes:read');
  const list = await ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${readOnly}` } });
  t.equal(list.statusCode, 200, 'the scope it has works');

  const cases: [string, string, string, object?][] = [
    ['POST /v1/purposes without purposes:write', 'POST', '/v1/purposes', { key: 'x', legal_basis: 'consent', retention: 'r', translations: { en: { title: 't', description: 'd' } } }],
    ['GET /v1/subjects/{id} without subjects:read', 'GET', `/v1/subjects/${crypto.randomUUID()}`],
    ['POST /v1/consents/check without consents:read', 'POST', '/v1/consents/check', { purpose: 'x', identifiers: [{ type: 'email', value: 'a@example.com' }] }],
    ['PATCH /v1/tenant without tenant:admin', 'PATCH', '/v1/tenant', { name: 'Renamed' }],
  ];
  for (const [label, method, url, payload] of cases) {
    const res = await ta.app.inject({ method: method as 'GET', url, payload, headers: { authorization: `Bearer ${readOnly}` } });
    const body = assertProblem(t, res, 403, 'FORBIDDEN', label);
    t.match(String(body.detail), /scope/, `${label}: the detail names the scope`);
  }
  const { rows } = await ta.sql.query('SELECT count(*)::int AS n FROM purposes');
  t.equal(rows[0].n, 0, 'nothing was written by a forbidden request');

  // Scope matching is exact: a prefix or a different case is not the scope.
  for (const scope of ['purposes:rea', 'PURPOSES:READ', 'purposes:read:extra', 'purposes']) {
    const res = await ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${ta.token(scope)}` } });
    assertProblem(t, res, 403, 'FORBIDDEN', `scope ${scope}`);
  }
  // An empty scope claim is allowed (GET /v1/tenant needs none) but reaches nothing else.
  const empty = ta.token('');
  t.equal((await ta.app.inject({ method: 'GET', url: '/v1/tenant', headers: { authorization: `Bearer ${empty}` } })).statusCode, 200);
  assertProblem(t, await ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${empty}` } }), 403, 'FORBIDDEN', 'empty scope');
});

t.test('a 17 KB Authorization header over a real socket is refused with a problem, not a 500', async (t) => {
  const ta = await build(t);
  const { secret, issuer: iss, audience: aud } = ta.config.jwt;
  const address = await ta.app.listen({ host: '127.0.0.1', port: 0 });
  const huge = hmacToken(secret, { ...goodClaims({ tid: ta.tenantId, iss, aud }), pad: 'x'.repeat(17 * 1024) });
  const res = await fetch(`${address}/v1/purposes`, { headers: { authorization: `Bearer ${huge}` } });
  const body = await res.text();
  // Node's 16 KiB header limit answers first over HTTP (431); under the limit the auth hook's 8 KiB cap answers 401.
  t.equal(res.status, 431, `status (${body})`);
  t.match(res.headers.get('content-type'), /^application\/problem\+json/);
  t.equal(JSON.parse(body).code, 'HEADERS_TOO_LARGE');

  const big = hmacToken(secret, { ...goodClaims({ tid: ta.tenantId, iss, aud }), pad: 'x'.repeat(10 * 1024) });
  const res2 = await fetch(`${address}/v1/purposes`, { headers: { authorization: `Bearer ${big}` } });
  t.equal(res2.status, 401, '10 KB token under the HTTP limit is a 401');
  t.equal(((await res2.json()) as { code: string }).code, 'UNAUTHORIZED');
});

t.test('two Authorization headers are refused, not run as the first one\'s tenant', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const mine = ta.token('tenant:admin');
  const theirs = ta.token('tenant:admin', { tenantId: other });

  // app.inject hands an array on as one header joined with ", " (as an intermediary may fold repeated headers):
  // never a valid bearer value. Spelled Authorization: the typed lower-case name takes a string only.
  for (const [label, values] of [
    ['two tokens of two tenants', [`Bearer ${mine}`, `Bearer ${theirs}`]],
    ['the same token twice', [`Bearer ${mine}`, `Bearer ${mine}`]],
    ['a token and an empty value', [`Bearer ${mine}`, '']],
  ] as [string, string[]][]) {
    const res = await ta.app.inject({ method: 'GET', url: '/v1/tenant', headers: { Authorization: values } });
    const body = assertProblem(t, res, 401, 'UNAUTHORIZED', label);
    t.match(String(body.detail), /exactly one Authorization header|Authorization: Bearer <token>/, `${label}: the detail says why`);
  }

  // Over a real socket, with the two names spelled differently.
  await ta.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (ta.app.server.address() as net.AddressInfo).port;
  const raw = (headers: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      let data = '';
      const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET /v1/tenant HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`));
      socket.on('data', (chunk) => (data += chunk.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = data.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body });
      });
    });
  const one = await raw(`Authorization: Bearer ${mine}\r\n`);
  t.equal(one.status, 200, `control: one header over the socket is served (${one.body.slice(0, 200)})`);
  t.equal(JSON.parse(one.body).id, ta.tenantId);
  const two = await raw(`Authorization: Bearer ${theirs}\r\nauthorization: Bearer ${mine}\r\n`);
  t.equal(two.status, 401, `two headers over the socket are a 401 (${two.body.slice(0, 200)})`);
  t.equal(JSON.parse(two.body || '{}').code, 'UNAUTHORIZED');
  t.match(JSON.parse(two.body || '{}').detail, /exactly one Authorization header/, 'the detail says why');
  t.notOk(two.body.includes(other), 'and nothing of the first header\'s tenant comes back');
});
