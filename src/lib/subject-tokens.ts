// Subject tokens: short-lived HS256 JWTs that let one data subject reach their own consents, requests and exports
// (the portal, /v1/me). Signed with a key derived from the JWT secret (HKDF-SHA256), never with the secret itself,
// so a subject token can never pass as a service token, nor a service token as a subject token.
import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';

/** How far a token's clock may run ahead of (or behind) ours: exp and iat alike, as for service tokens. */
const TOLERANCE_SECONDS = 30;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TOKEN_LENGTH = 2048;

export type SignedSubjectToken = { token: string; jti: string; expiresAt: Date };
export type VerifiedSubjectToken = { tenantId: string; subjectId: string; jti: string; expiresAt: Date };

const keys = new Map<string, Buffer>();
/** The signing key of subject tokens: HKDF-SHA256 of the JWT secret with its own info string. */
function keyOf(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'rightful subject token', 32));
    keys.set(secret, key);
  }
  return key;
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const mac = (secret: string, input: string) => createHmac('sha256', keyOf(secret)).update(input).digest();

export function signSubjectToken(
  secret: string,
  c: { tid: string; sid: string; ttlSeconds: number; iss: string; aud: string },
  now: Date | number = Date.now(),
): SignedSubjectToken {
  const iat = Math.floor(Number(now) / 1000);
  const exp = iat + Math.max(1, Math.floor(c.ttlSeconds));
  const jti = randomUUID();
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ typ: 'subject', tid: c.tid, sid: c.sid, jti, iat, exp, iss: c.iss, aud: c.aud });
  const sig = mac(secret, `${head}.${body}`).toString('base64url');
  return { token: `${head}.${body}.${sig}`, jti, expiresAt: new Date(exp * 1000) };
}

function parseSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The token's subject, or null for any malformed, forged, expired or wrong-typed token. Never throws. */
export function verifySubjectToken(secret: string, token: string, o: { iss: string; aud: string; now?: Date | number }): VerifiedSubjectToken | null {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return null;
  const [head, body, sig] = parts as [string, string, string];
  const expected = mac(secret, `${head}.${body}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const header = parseSegment(head);
  // The alg is fixed: a header naming another one was not made here, whatever its signature.
  if (!header || header.alg !== 'HS256' || 'crit' in header) return null;
  const c = parseSegment(body);
  if (!c || c.typ !== 'subject' || c.iss !== o.iss || c.aud !== o.aud) return null;
  const { tid, sid, jti, iat, exp } = c;
  if (typeof tid !== 'string' || !UUID.test(tid) || typeof sid !== 'string' || !UUID.test(sid) || typeof jti !== 'string' || !UUID.test(jti)) return null;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) return null;
  const nowSeconds = Number(o.now ?? Date.now()) / 1000;
  if (exp + TOLERANCE_SECONDS <= nowSeconds || iat - TOLERANCE_SECONDS > nowSeconds) return null;
  return { tenantId: tid.toLowerCase(), subjectId: sid.toLowerCase(), jti, expiresAt: new Date(exp * 1000) };
}
