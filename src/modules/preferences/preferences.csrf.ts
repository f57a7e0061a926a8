// CSRF tokens for the preference page's forms: an HMAC over the subject token's jti, keyed by a key derived from the
// JWT secret (HKDF, a label of its own, so it is worth nothing as any other key). The token is bound to the link the
// person opened: a page rendered for one link cannot post for another, and no state is kept server-side.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export type Csrf = {
  /** The hidden form value for the subject token with this jti. */
  token(jti: string): string;
  /** Whether `given` is the form value for this jti; compared in constant time. */
  verify(jti: string, given: unknown): boolean;
};

export function createCsrf(jwtSecret: string): Csrf {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(jwtSecret, 'utf8'), Buffer.alloc(0), 'rightful preference page csrf v1', 32));
  const mac = (jti: string) => createHmac('sha256', key).update(jti, 'utf8').digest();
  return {
    token: (jti) => mac(jti).toString('base64url'),
    verify(jti, given) {
      if (typeof given !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(given)) return false;
      return timingSafeEqual(mac(jti), Buffer.from(given, 'base64url'));
    },
  };
}
