// Revocation: every token the CLI mints has a jti recorded in service_tokens; a revoked jti is refused by every API
// instance within REVOCATION_REFRESH_MS; `token list` shows the live tokens only; tokens without a jti still work.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { listTokens, mintToken, revokeToken } from '../../src/cli/token.js';
import { REVOCATION_REFRESH_MS } from '../../src/modules/tokens/tokens.denylist.js';
import { build } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a revoked token is refused by every instance within the bound; others keep working', async (t) => {
  const ta = await build(t);
  // A second API instance on the same Postgres and Redis, as another replica would be.
  const replica = await buildApp(ta.config);
  await replica.ready();
  try {
    const deps = { db: ta.ownerDb, jwt: ta.config.jwt };
    const minted = await mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 3600, sub: 'crm' });
    const kept = await mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 3600, sub: 'crm' });
    const payload = JSON.parse(Buffer.from(minted.token.split('.')[1]!, 'base64url').toString());
    t.equal(payload.jti, minted.jti, 'the token carries its jti');
    const legacy = ta.token('purposes:read'); // minted before jtis: none
    const get = (app: typeof replica, token: string) => app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${token}` } });
    for (const [name, app] of [['first', ta.app], ['replica', replica]] as const) {
      t.equal((await get(app, minted.token)).statusCode, 200, `${name}: accepted before the revocation`);
    }

    const first = await revokeToken({ db: ta.ownerDb }, minted.jti);
    t.equal(first.known, true, 'a jti the CLI minted');
    const again = await revokeToken({ db: ta.ownerDb }, minted.jti);
    t.equal(again.revoked_at, first.revoked_at, 'revoking again keeps the first time');

    await sleep(REVOCATION_REFRESH_MS + 100);
    for (const [name, app] of [['first', ta.app], ['replica', replica]] as const) {
      const body = assertProblem(t, await get(app, minted.token), 401, 'UNAUTHORIZED', `${name}: refused ${REVOCATION_REFRESH_MS} ms after the revocation`);
      t.match(String(body.detail), /revoked/, `${name}: the detail says why`);
      t.equal((await get(app, kept.token)).statusCode, 200, `${name}: another token of the same client still works`);
      t.equal((await get(app, legacy)).statusCode, 200, `${name}: a token without a jti works until it expires`);
    }
    const { rows } = await ta.sql.query('SELECT revoked_reason, revoked_at IS NOT NULL AS revoked FROM service_tokens WHERE jti = $1', [minted.jti]);
    t.same(rows, [{ revoked_reason: 'revoked by an operator', revoked: true }]);
  } finally {
    await replica.close();
  }
});

t.test('a revocation written straight to Postgres (no CLI) is honoured within the bound too', async (t) => {
  const ta = await build(t);
  const minted = await mintToken({ db: ta.ownerDb, jwt: ta.config.jwt }, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 600, sub: 'crm' });
  const get = () => ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${minted.token}` } });
  t.equal((await get()).statusCode, 200);
  await ta.sql.query('UPDATE service_tokens SET revoked_at = now() WHERE jti = $1', [minted.jti]);
  const started = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - started < REVOCATION_REFRESH_MS + 1000) {
    status = (await get()).statusCode;
    if (status === 200) await sleep(100);
  }
  t.equal(status, 401, 'refused');
  t.ok(Date.now() - started <= REVOCATION_REFRESH_MS + 300, `within the bound (${Date.now() - started} ms)`);
});

t.test('token list shows the live tokens of one tenant only, and never a token', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const deps = { db: ta.ownerDb, jwt: ta.config.jwt };
  const live = await mintToken(deps, { tenantId: ta.tenantId, scopes: ['consents:read', 'consents:write'], ttlSeconds: 3600, sub: 'crm' });
  const soon = await mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 60, sub: 'campaigns' });
  const revoked = await mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 3600, sub: 'crm' });
  await revokeToken({ db: ta.ownerDb }, revoked.jti);
  const expired = await mintToken({ ...deps, now: () => new Date(Date.now() - 120_000) }, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 60, sub: 'crm' });
  await mintToken(deps, { tenantId: other, scopes: ['purposes:read'], ttlSeconds: 3600, sub: 'crm' });
  assertProblem(t, await ta.app.inject({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${expired.token}` } }), 401, 'UNAUTHORIZED', 'the expired one');

  const list = await listTokens({ db: ta.ownerDb }, ta.tenantId);
  t.same(list.map((x) => x.jti), [soon.jti, live.jti], 'live tokens only, soonest to expire first');
  t.same(list[1], { jti: live.jti, tenant_id: ta.tenantId, sub: 'crm', scopes: ['consents:read', 'consents:write'], issued_at: list[1]!.issued_at, expires_at: live.expires_at }, 'what each holds');
  t.notOk(JSON.stringify(list).includes(live.token.split('.')[2]!), 'no token or signature in the list');
  t.same((await listTokens({ db: ta.ownerDb }, crypto.randomUUID())), [], 'a tenant with none');
});

t.test('refusals leave nothing behind', async (t) => {
  const ta = await build(t);
  const deps = { db: ta.ownerDb, jwt: ta.config.jwt };
  const count = async () => (await ta.sql.query('SELECT count(*)::int AS n FROM service_tokens')).rows[0].n as number;
  await t.rejects(mintToken(deps, { tenantId: crypto.randomUUID(), scopes: ['purposes:read'], ttlSeconds: 60, sub: 'crm' }), { name: 'TokenUsageError' }, 'an unknown tenant');
  await t.rejects(mintToken(deps, { tenantId: 'acme', scopes: ['purposes:read'], ttlSeconds: 60, sub: 'crm' }), { name: 'TokenUsageError' }, 'a tenant that is not a UUID');
  await t.rejects(mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read', 'root'], ttlSeconds: 60, sub: 'crm' }), { name: 'TokenUsageError' }, 'an unknown scope');
  await t.rejects(mintToken(deps, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 60, sub: 'a b' }), { name: 'TokenUsageError' }, 'a sub with a space');
  for (const jti of ['', 'a b', 'x'.repeat(201), 'é']) await t.rejects(revokeToken({ db: ta.ownerDb }, jti), { name: 'TokenUsageError' }, `jti ${JSON.stringify(jti.slice(0, 10))}`);
  await t.rejects(listTokens({ db: ta.ownerDb }, 'acme'), { name: 'TokenUsageError' }, 'list with a tenant that is not a UUID');
  t.equal(await count(), 0, 'no row written');
});

t.test('the CLI command revokes and lists', async (t) => {
  const ta = await build(t);
  const minted = await mintToken({ db: ta.ownerDb, jwt: ta.config.jwt }, { tenantId: ta.tenantId, scopes: ['purposes:read'], ttlSeconds: 600, sub: 'crm' });
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'token', ...args], { env: { ...process.env, DATABASE_URL: ta.databaseUrl, NODE_ENV: 'test' } });
  const before = JSON.parse((await run('list', '--tenant', ta.tenantId)).stdout);
  t.same(before.map((x: { jti: string }) => x.jti), [minted.jti], 'list prints the live token');
  const revoked = JSON.parse((await run('revoke', minted.jti)).stdout);
  t.match(revoked, { jti: minted.jti, known: true }, 'revoke prints what it did');
  t.same(JSON.parse((await run('list', '--tenant', ta.tenantId)).stdout), [], 'gone from the list');
  await t.rejects(run('revoke'), { code: 2 }, 'revoke without a jti is a usage error');
});
