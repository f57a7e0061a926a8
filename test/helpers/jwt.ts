// Hand-built JWTs for the token-failure tests: node:crypto only, so the malformed cases libraries refuse to make
// (alg none, foreign algorithms, missing claims, tampered payloads) can be produced.
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';

export const b64url = (v: object | string): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export type Claims = Record<string, unknown>;

export function hmacToken(secret: string, payload: Claims, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256', header: Claims = {}): string {
  const head = b64url({ alg, typ: 'JWT', ...header });
  const body = b64url(payload);
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  const sig = createHmac(digest, secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function rs256Token(payload: Claims): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const head = b64url({ alg: 'RS256', typ: 'JWT' });
  const body = b64url(payload);
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(privateKey).toString('base64url');
  return `${head}.${body}.${sig}`;
}

export function noneToken(payload: Claims): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/** Claims the service accepts, for the given tenant; override or delete to make them wrong. */
export function goodClaims(o: { tid: string; iss: string; aud: string; scope?: string; ttl?: number }): Claims {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'test-client', tid: o.tid, scope: o.scope ?? 'purposes:read subjects:read', iss: o.iss, aud: o.aud, iat: now, exp: now + (o.ttl ?? 600) };
}
