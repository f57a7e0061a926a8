// Tokens from the operator's identity provider: RS256 and ES256 verified against its JWKS (served here by a local
// HTTP server), keys cached and rotated, and every way a token can be wrong refused with the 401 problem.
import { createSign, KeyObject, type webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import t from 'tap';
import { revokeToken } from '../../src/cli/token.js';
import { REVOCATION_REFRESH_MS } from '../../src/modules/tokens/tokens.denylist.js';
import { build, type TestApp } from '../helper.js';
import { b64url, hmacToken, noneToken } from '../helpers/jwt.js';
import { assertProblem } from '../helpers/problem.js';

const ISSUER = 'https://idp.example.test/realms/acme';
const OTHER_ISSUER = 'https://login.example.test/v2.0';
const AUDIENCE = 'rightful-api';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type KeyPair = { kid: string; alg: 'RS256' | 'ES256'; privateKey: CryptoKey; jwk: JWK; publicPem: string };

async function keyPair(kid: string, alg: 'RS256' | 'ES256'): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' }, publicPem: await exportSPKI(publicKey) };
}

/** A JWKS endpoint whose keys the test changes; `hits` counts the fetches. `/broken` always answers 500. */
async function jwksServer(t: Tap) {
  const state = { keys: [] as JWK[], hits: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === '/broken') {
      res.writeHead(500).end();
      return;
    }
    state.hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
type Tap = { teardown(fn: () => unknown): void };

function sign(key: KeyPair, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** Signed by hand with the RSA key, for headers jose will not produce (another algorithm, an unknown `crit`). */
function rsaSigned(key: KeyPair, claims: Record<string, unknown>, header: Record<string, unknown>, hash: 'SHA256' | 'SHA384'): string {
  const signingInput = `${b64url({ kid: key.kid, typ: 'JWT', ...header })}.${b64url(claims)}`;
  const sig = createSign(`RSA-${hash}`).update(signingInput).sign(KeyObject.from(key.privateKey as unknown as webcrypto.CryptoKey));
  return `${signingInput}.${sig.toString('base64url')}`;
}

function idpClaims(tid: string, o: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'crm-service-account', tid, scope: 'tenant:admin purposes:read', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...o };
}

const get = (ta: TestApp, url: string, token: string) => ta.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

const oidcEnv = (url: string, extra: Record<string, string> = {}) => ({
  OIDC_JWKS_URL: url,
  OIDC_ISSUERS: `${ISSUER}, ${OTHER_ISSUER}`,
  OIDC_AUDIENCE: AUDIENCE,
  OIDC_JWKS_CACHE_TTL_MS: '60000',
  OIDC_JWKS_COOLDOWN_MS: '300',
  ...extra,
});

t.test('RS256 and ES256 tokens from the identity provider act for their tenant with their scopes', async (t) => {
  const jwks = await jwksServer(t);
  const rsa = await keyPair('rsa-1', 'RS256');
  const ec = await keyPair('ec-1', 'ES256');
  jwks.state.keys = [rsa.jwk, ec.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url) });

  const rs = await get(ta, '/v1/tenant', await sign(rsa, idpClaims(ta.tenantId)));
  t.equal(rs.statusCode, 200, `RS256 accepted (${rs.body})`);
  t.equal(rs.json().id, ta.tenantId, 'as the tenant its tid claim names');
  const es = await get(ta, '/v1/purposes', await sign(ec, idpClaims(ta.tenantId, { iss: OTHER_ISSUER })));
  t.equal(es.statusCode, 200, `ES256 from the second allowed issuer accepted (${es.body})`);
  t.equal(jwks.state.hits, 1, 'the keys were fetched once and cached');

  const other = await ta.newTenant('Other controller');
  const theirs = await get(ta, '/v1/tenant', await sign(rsa, idpClaims(other)));
  t.equal(theirs.json().id, other, 'another tid acts for that tenant');

  // Scopes: only those in the token, and names Rightful does not know are ignored rather than refused.
  const token = await sign(rsa, idpClaims(ta.tenantId, { scope: 'openid profile purposes:read email' }));
  t.equal((await get(ta, '/v1/purposes', token)).statusCode, 200, 'unknown scopes beside a known one are ignored');
  const write = await ta.app.inject({
    method: 'POST',
    url: '/v1/purposes',
    headers: { authorization: `Bearer ${token}` },
    payload: { key: 'newsletter', legal_basis: 'consent', retention: 'r', translations: { en: { title: 't', description: 'd' } } },
  });
  assertProblem(t, write, 403, 'FORBIDDEN', 'a scope the token lacks');
  assertProblem(t, await get(ta, '/v1/purposes', await sign(rsa, idpClaims(ta.tenantId, { scope: 'purposes:read:all admin' }))), 403, 'FORBIDDEN', 'only unknown scopes');
  assertProblem(t, await get(ta, '/v1/purposes', await sign(rsa, idpClaims(ta.tenantId, { scope: undefined }))), 403, 'FORBIDDEN', 'no scope claim');

  // The tenant claim must name an existing tenant.
  assertProblem(t, await get(ta, '/v1/tenant', await sign(rsa, idpClaims(crypto.randomUUID()))), 401, 'UNKNOWN_TENANT', 'a tenant that does not exist');
  for (const [label, tid] of [['not a UUID', 'acme'], ['missing', undefined], ['a number', 42]] as [string, unknown][]) {
    const body = assertProblem(t, await get(ta, '/v1/tenant', await sign(rsa, idpClaims(ta.tenantId, { tid }))), 401, 'UNAUTHORIZED', `tid ${label}`);
    t.match(String(body.detail), /tid claim/, `tid ${label}: the detail names the claim`);
  }

  // The HS256 service tokens keep working beside the IdP's.
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes' })).statusCode, 200, 'an HS256 service token still works');
});

t.test('an array scope claim and a namespaced tenant claim', async (t) => {
  const jwks = await jwksServer(t);
  const rsa = await keyPair('rsa-1', 'RS256');
  jwks.state.keys = [rsa.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url, { OIDC_TENANT_CLAIM: 'https://rightful.example/tenant', OIDC_SCOPE_CLAIM: 'realm_access.roles' }) });
  const claims = (roles: unknown) => idpClaims(ta.tenantId, { tid: undefined, scope: undefined, 'https://rightful.example/tenant': ta.tenantId, realm_access: { roles } });
  const ok = await get(ta, '/v1/purposes', await sign(rsa, claims(['offline_access', 'purposes:read'])));
  t.equal(ok.statusCode, 200, `scopes from realm_access.roles, tenant from a claim whose name has dots (${ok.body})`);
  assertProblem(t, await get(ta, '/v1/purposes', await sign(rsa, claims('offline_access'))), 403, 'FORBIDDEN', 'roles without the scope');
  assertProblem(t, await get(ta, '/v1/purposes', await sign(rsa, claims([{ name: 'purposes:read' }]))), 403, 'FORBIDDEN', 'roles that are not strings');
  assertProblem(t, await get(ta, '/v1/purposes', await sign(rsa, { ...claims(['purposes:read']), 'https://rightful.example/tenant': undefined, tid: ta.tenantId })), 401, 'UNAUTHORIZED', 'the tenant in tid, not the configured claim');
});

t.test('tokens the identity provider did not sign for us are refused with the 401 problem', async (t) => {
  const jwks = await jwksServer(t);
  const rsa = await keyPair('rsa-1', 'RS256');
  const ec = await keyPair('ec-1', 'ES256');
  jwks.state.keys = [rsa.jwk, ec.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url, { OIDC_JWKS_CACHE_TTL_MS: '600000', OIDC_JWKS_COOLDOWN_MS: '600000' }) });
  const control = await get(ta, '/v1/tenant', await sign(rsa, idpClaims(ta.tenantId)));
  t.equal(control.statusCode, 200, `control: the good token is accepted (${control.body})`);

  const handSigned = await get(ta, '/v1/tenant', rsaSigned(rsa, idpClaims(ta.tenantId), { alg: 'RS256' }, 'SHA256'));
  t.equal(handSigned.statusCode, 200, 'control: a hand-signed RS256 token is accepted, so the hand-signed cases fail on their own fault');
  const stranger = await keyPair('rsa-1', 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const good = idpClaims(ta.tenantId);
  const cases: [string, string][] = [
    ['an unknown kid', await sign({ ...rsa, kid: 'rsa-unknown' }, good)],
    ['no kid', await new SignJWT(good).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey)],
    ['a known kid, signed by another key', await sign(stranger, good)],
    ['an issuer not on the list', await sign(rsa, { ...good, iss: 'https://evil.example.test' })],
    ['no issuer', await sign(rsa, { ...good, iss: undefined })],
    ['the wrong audience', await sign(rsa, { ...good, aud: 'another-api' })],
    ['an audience list without ours', await sign(rsa, { ...good, aud: ['a', 'b'] })],
    ['expired', await sign(rsa, { ...good, iat: now - 3600, exp: now - 600 })],
    ['not yet valid', await sign(rsa, { ...good, nbf: now + 600 })],
    ['issued in the future', await sign(rsa, { ...good, iat: now + 600 })],
    ['no exp', await sign(rsa, { ...good, exp: undefined })],
    ['no sub', await sign(rsa, { ...good, sub: undefined })],
    ['a jti that is not a string', await sign(rsa, { ...good, jti: 42 })],
    ['HS256 signed with the RSA public key (PEM) as the secret', hmacToken(rsa.publicPem, good, 'HS256', { kid: 'rsa-1' })],
    ['HS256 signed with the JWK of the RSA key as the secret', hmacToken(JSON.stringify(rsa.jwk), good, 'HS256', { kid: 'rsa-1' })],
    ['HS256 signed with the EC public key (PEM) as the secret', hmacToken(ec.publicPem, good, 'HS256', { kid: 'ec-1' })],
    ['ES256 claiming the RSA key', await sign({ ...ec, kid: 'rsa-1' }, good)],
    ['RS256 claiming the EC key', await sign({ ...rsa, kid: 'ec-1' }, good)],
    ['RS384 with the RSA key', rsaSigned(rsa, good, { alg: 'RS384' }, 'SHA384')],
    ['alg none with a known kid', noneToken(good).replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'none', kid: 'rsa-1' })).toString('base64url'))],
    ['an unknown critical header', rsaSigned(rsa, good, { alg: 'RS256', crit: ['x-rightful'], 'x-rightful': true }, 'SHA256')],
  ];
  for (const [label, token] of cases) {
    const body = assertProblem(t, await get(ta, '/v1/tenant', token), 401, 'UNAUTHORIZED', label);
    t.notMatch(String(body.detail), /BEGIN|jwks|127\.0\.0\.1|stack/i, `${label}: no internals in the detail`);
  }
  t.equal(jwks.state.hits, 1, 'none of these fetched the keys again within the cooldown');
});

t.test('key rotation: a new kid is fetched once, a flood of unknown kids is not, a removed key stops working', async (t) => {
  const jwks = await jwksServer(t);
  const old = await keyPair('rsa-1', 'RS256');
  jwks.state.keys = [old.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url, { OIDC_JWKS_CACHE_TTL_MS: '60000', OIDC_JWKS_COOLDOWN_MS: '1500' }) });
  t.equal((await get(ta, '/v1/tenant', await sign(old, idpClaims(ta.tenantId)))).statusCode, 200, 'the first key works');
  t.equal(jwks.state.hits, 1);

  // Unknown kids inside the cooldown: refused without asking the IdP each time.
  const bogus = await Promise.all(Array.from({ length: 25 }, (_, i) => sign({ ...old, kid: `bogus-${i}` }, idpClaims(ta.tenantId))));
  await sleep(1600);
  for (const [i, token] of bogus.entries()) assertProblem(t, await get(ta, '/v1/tenant', token), 401, 'UNAUTHORIZED', `bogus kid ${i}`);
  t.equal(jwks.state.hits, 2, 'twenty-five unknown kids caused one refetch');

  // The IdP publishes a new key: its first token after the cooldown triggers the refetch and is accepted.
  const next = await keyPair('ec-2', 'ES256');
  jwks.state.keys = [old.jwk, next.jwk];
  await sleep(1600);
  const rotated = await get(ta, '/v1/tenant', await sign(next, idpClaims(ta.tenantId)));
  t.equal(rotated.statusCode, 200, `the new key is accepted after a refetch (${rotated.body})`);
  t.equal(jwks.state.hits, 3, 'exactly one refetch');
  t.equal((await get(ta, '/v1/tenant', await sign(old, idpClaims(ta.tenantId)))).statusCode, 200, 'the old key works while published');
});

t.test('a key removed from the JWKS is refused once the cache has expired', async (t) => {
  const jwks = await jwksServer(t);
  const old = await keyPair('rsa-1', 'RS256');
  const next = await keyPair('rsa-2', 'RS256');
  jwks.state.keys = [old.jwk, next.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url, { OIDC_JWKS_CACHE_TTL_MS: '800', OIDC_JWKS_COOLDOWN_MS: '300' }) });
  const oldToken = await sign(old, idpClaims(ta.tenantId));
  t.equal((await get(ta, '/v1/tenant', oldToken)).statusCode, 200, 'the old key works');
  jwks.state.keys = [next.jwk];
  await sleep(900);
  assertProblem(t, await get(ta, '/v1/tenant', oldToken), 401, 'UNAUTHORIZED', 'the removed key, after the TTL');
  t.equal((await get(ta, '/v1/tenant', await sign(next, idpClaims(ta.tenantId)))).statusCode, 200, 'the remaining key works');
});

t.test('an unreachable JWKS is a 503 with Retry-After, not a 401 or a 500', async (t) => {
  const jwks = await jwksServer(t);
  const rsa = await keyPair('rsa-1', 'RS256');
  const ta = await build(t, { env: oidcEnv(`${jwks.base}/broken`, { OIDC_JWKS_COOLDOWN_MS: '5000' }) });
  const res = await get(ta, '/v1/tenant', await sign(rsa, idpClaims(ta.tenantId)));
  assertProblem(t, res, 503, 'IDP_UNAVAILABLE', 'JWKS answering 500');
  t.equal(res.headers['retry-after'], '5', 'Retry-After is the refetch cooldown');
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).statusCode, 200, 'HS256 service tokens are unaffected');
});

t.test("an identity provider's token with a jti is refused once that jti is revoked", async (t) => {
  const jwks = await jwksServer(t);
  const rsa = await keyPair('rsa-1', 'RS256');
  jwks.state.keys = [rsa.jwk];
  const ta = await build(t, { env: oidcEnv(jwks.url) });
  const jti = `idp-${crypto.randomUUID()}`;
  const token = await sign(rsa, idpClaims(ta.tenantId, { jti }));
  const sibling = await sign(rsa, idpClaims(ta.tenantId, { jti: `idp-${crypto.randomUUID()}` }));
  t.equal((await get(ta, '/v1/tenant', token)).statusCode, 200, 'accepted before');
  const revoked = await revokeToken({ db: ta.ownerDb }, jti);
  t.equal(revoked.known, false, 'a jti the CLI did not mint');
  const { rows } = await ta.sql.query(`SELECT tenant_id, sub, expires_at > now() + interval '6 days' AS kept FROM service_tokens WHERE jti = $1`, [jti]);
  t.same(rows, [{ tenant_id: null, sub: null, kept: true }], 'recorded with no tenant or subject, kept 7 days by default');
  await sleep(REVOCATION_REFRESH_MS + 100);
  const body = assertProblem(t, await get(ta, '/v1/tenant', token), 401, 'UNAUTHORIZED', 'the revoked IdP token');
  t.match(String(body.detail), /revoked/);
  t.equal((await get(ta, '/v1/tenant', sibling)).statusCode, 200, 'another jti of the same IdP still works');
});
