// Unsubscribe tokens: tenant id, subject id and a locator of the purpose, MACed with a key derived from the master
// key. Ids only, no expiry (an email is read months later), 75 characters (under the router's 100 per parameter).
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../../lib/keyring.js';

const TOKEN = /^[A-Za-z0-9_-]{75}$/;
const LOCATOR_BYTES = 8;
const MAC_BYTES = 16;
const LENGTH = 16 + 16 + LOCATOR_BYTES + MAC_BYTES;

const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');
const uuidOf = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
/** Finds the purpose among the tenant's without putting its key in the link. */
export const purposeLocator = (key: string) => createHash('sha256').update(key).digest().subarray(0, LOCATOR_BYTES);

export type UnsubscribeClaim = { tenantId: string; subjectId: string; locator: Buffer };

export function createUnsubscribeTokens(keyring: Keyring) {
  // Every configured master key verifies, so links mailed before a rotation keep working.
  const keys = [...keyring.all.entries()].map(([id, key]) => ({
    id,
    key: Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'rightful unsubscribe links v1', 32)),
  }));
  const current = keys.find((k) => k.id === keyring.current.id)!;
  const mac = (key: Buffer, head: Buffer, purposeKey: string) => createHmac('sha256', key).update(head).update(purposeKey).digest().subarray(0, MAC_BYTES);

  return {
    sign(tenantId: string, subjectId: string, purposeKey: string): string {
      const head = Buffer.concat([uuidBytes(tenantId), uuidBytes(subjectId), purposeLocator(purposeKey)]);
      return Buffer.concat([head, mac(current.key, head, purposeKey)]).toString('base64url');
    },
    /** The ids a well-formed token names; its MAC is checked with `verify` once the purpose is found. */
    parse(token: string): UnsubscribeClaim | null {
      if (!TOKEN.test(token)) return null;
      const raw = Buffer.from(token, 'base64url');
      if (raw.length !== LENGTH) return null;
      return { tenantId: uuidOf(raw.subarray(0, 16)), subjectId: uuidOf(raw.subarray(16, 32)), locator: raw.subarray(32, 32 + LOCATOR_BYTES) };
    },
    verify(token: string, purposeKey: string): boolean {
      const raw = Buffer.from(token, 'base64url');
      const head = raw.subarray(0, 32 + LOCATOR_BYTES);
      const given = raw.subarray(32 + LOCATOR_BYTES);
      return keys.some((k) => timingSafeEqual(given, mac(k.key, head, purposeKey)));
    },
  };
}
export type UnsubscribeTokens = ReturnType<typeof createUnsubscribeTokens>;
