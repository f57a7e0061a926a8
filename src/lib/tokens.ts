// Minting service tokens (HS256 JWTs with sub, tid, scope, exp, and a jti to revoke them by) for the operator CLI
// and the tests.
import { createHmac, randomUUID } from 'node:crypto';

export type TokenClaims = { sub: string; tid: string; scope: string; ttlSeconds: number; iss: string; aud: string; jti?: string };

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function signToken(secret: string, c: TokenClaims, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub: c.sub, tid: c.tid, scope: c.scope, iss: c.iss, aud: c.aud, iat, exp: iat + c.ttlSeconds, ...(c.jti ? { jti: c.jti } : {}) });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** A token id: random, so it says nothing about the token or its holder. */
export function newJti(): string {
  return randomUUID();
}

/** "90s", "30m", "1h", "7d" → seconds; null when malformed. */
export function parseTtl(ttl: string): number | null {
  const m = /^(\d{1,6})([smhd])$/.exec(ttl);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return n > 0 ? n * unit : null;
}
