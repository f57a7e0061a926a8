// `token`: mint a service token (recorded by its jti), `token revoke <jti>`, `token list --tenant ID`.
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { createDb, createPool, type Db } from '../db/client.js';
import { newJti, parseTtl, signToken } from '../lib/tokens.js';
import { createTenantsRepo } from '../modules/tenants/tenants.repo.js';
import { createServiceTokensRepo, type Revocation, type ServiceToken } from '../modules/tokens/tokens.repo.js';
import { SCOPES } from '../plugins/auth.js';

export const TOKEN_USAGE = `  npm run cli -- token --tenant ID --scope "SCOPES" [--ttl 1h] [--sub NAME]
      Prints a service token (its jti is recorded, so it can be revoked). SCOPES is space-separated, or "all".
      TTL: 90s, 30m, 1h, 7d.
  npm run cli -- token list --tenant ID
      Prints the tenant's live tokens (not expired, not revoked) as JSON: jti, sub, scopes, issued_at, expires_at.
  npm run cli -- token revoke JTI [--ttl 7d]
      Revokes a token by its jti; every API instance refuses it within 2 seconds. A jti this CLI did not mint (an
      identity provider's token) is refused for --ttl (default 7d), which must outlast that token.`;

/** The CLI's refusal of an argument: printed with the usage, exit code 2. */
export class TokenUsageError extends Error {
  override name = 'TokenUsageError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A jti as IdPs and this CLI make them: printable ASCII without spaces, at most 200 characters.
const JTI = /^[\x21-\x7e]{1,200}$/;
const FOREIGN_JTI_TTL = '7d';

type Deps = { db: Db; jwt: Config['jwt']; now?: () => Date };

/** Records a new token's jti, then signs it: a token is only ever printed once it can be revoked. */
export async function mintToken(
  deps: Deps,
  input: { tenantId: string; scopes: string[]; ttlSeconds: number; sub: string },
): Promise<{ token: string; jti: string; expires_at: string }> {
  if (!UUID.test(input.tenantId)) throw new TokenUsageError('--tenant must be a tenant id (UUID)');
  const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new TokenUsageError(`unknown scope: ${unknown.join(' ')}`);
  if (!/^[\x21-\x7e]{1,200}$/.test(input.sub)) throw new TokenUsageError('--sub must be 1-200 printable characters without spaces');
  if (!(await createTenantsRepo(deps.db).findById(input.tenantId))) throw new TokenUsageError(`no tenant with the id ${input.tenantId}`);
  // Whole seconds, as in the token's iat and exp.
  const now = Math.floor((deps.now?.() ?? new Date()).getTime() / 1000) * 1000;
  const jti = newJti();
  const expiresAt = new Date(now + input.ttlSeconds * 1000);
  await createServiceTokensRepo(deps.db).record({ jti, tenantId: input.tenantId, sub: input.sub, scopes: input.scopes, issuedAt: new Date(now), expiresAt });
  const token = signToken(deps.jwt.secret, { sub: input.sub, tid: input.tenantId, scope: input.scopes.join(' '), ttlSeconds: input.ttlSeconds, iss: deps.jwt.issuer, aud: deps.jwt.audience, jti }, now);
  return { token, jti, expires_at: expiresAt.toISOString() };
}

/** Revokes a jti (idempotent: a second revocation keeps the first one's time). */
export async function revokeToken(deps: Pick<Deps, 'db' | 'now'>, jti: string, o: { ttlSeconds?: number } = {}): Promise<Revocation> {
  if (!JTI.test(jti)) throw new TokenUsageError('the jti must be 1-200 printable characters without spaces');
  const now = deps.now?.() ?? new Date();
  const keep = o.ttlSeconds ?? parseTtl(FOREIGN_JTI_TTL)!;
  return createServiceTokensRepo(deps.db).revoke(jti, { now, reason: 'revoked by an operator', untilIfUnknown: new Date(now.getTime() + keep * 1000) });
}

/** The tenant's live tokens; never the tokens themselves, which are not stored. */
export async function listTokens(deps: Pick<Deps, 'db' | 'now'>, tenantId: string): Promise<ServiceToken[]> {
  if (!UUID.test(tenantId)) throw new TokenUsageError('--tenant must be a tenant id (UUID)');
  return createServiceTokensRepo(deps.db).listLive(tenantId, deps.now?.() ?? new Date());
}

/** `npm run cli -- token ...`: parses the arguments, runs one of the three, prints the answer. */
export async function tokenCommand(config: Config, args: string[]): Promise<void> {
  const [first, ...rest] = args;
  const pool = createPool({ ...config.database, poolMax: 1 }, console, { owner: true });
  try {
    const db = createDb(pool);
    if (first === 'revoke') {
      const { values, positionals } = parseArgs({ args: rest, options: { ttl: { type: 'string' } }, allowPositionals: true, strict: true });
      if (positionals.length !== 1) throw new TokenUsageError('token revoke takes exactly one jti');
      const ttlSeconds = values.ttl === undefined ? undefined : parseTtl(values.ttl);
      if (ttlSeconds === null) throw new TokenUsageError('--ttl must look like 90s, 30m, 1h or 7d');
      console.log(JSON.stringify(await revokeToken({ db }, positionals[0]!, { ttlSeconds }), null, 2));
    } else if (first === 'list') {
      const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, strict: true });
      console.log(JSON.stringify(await listTokens({ db }, values.tenant ?? ''), null, 2));
    } else {
      const { values } = parseArgs({
        args,
        options: { tenant: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string', default: '1h' }, sub: { type: 'string', default: 'cli' } },
        strict: true,
      });
      if (!values.scope) throw new TokenUsageError('--scope is required');
      const ttlSeconds = parseTtl(values.ttl);
      if (!ttlSeconds) throw new TokenUsageError('--ttl must look like 90s, 30m, 1h or 7d');
      const scopes = values.scope === 'all' ? [...SCOPES] : values.scope.split(/\s+/).filter(Boolean);
      const minted = await mintToken({ db, jwt: config.jwt }, { tenantId: values.tenant ?? '', scopes, ttlSeconds, sub: values.sub });
      // The token alone on stdout, so scripts can capture it; its jti (to revoke it by) on stderr.
      console.error(`jti ${minted.jti}, expires ${minted.expires_at}`);
      console.log(minted.token);
    }
  } finally {
    await pool.end();
  }
}
