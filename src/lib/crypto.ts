// Encryption at rest: AES-256-GCM envelopes, per-subject data keys wrapped by the master key, keyed blind indexes.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type MasterKey = { id: string; key: Buffer };

/** Ciphertext layout: version(1) ‖ iv(12) ‖ tag(16) ‖ data. The AAD binds a ciphertext to its owner and use. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), data]);
}

export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) throw new Error('unknown ciphertext format');
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  const data = decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES));
  // GCM's final() only checks the tag and returns nothing: no copy of the whole plaintext to join it.
  const rest = decipher.final();
  return rest.length === 0 ? data : Buffer.concat([data, rest]);
}

/** A fresh 32-byte key and its wrapped form (stored with the master key id so the master key can rotate). */
export function newWrappedKey(master: MasterKey, aad: string): { key: Buffer; wrapped: Buffer; keyId: string } {
  const key = randomBytes(32);
  return { key, wrapped: seal(master.key, key, aad), keyId: master.id };
}

export function unwrapKey(masters: Map<string, Buffer>, keyId: string, wrapped: Buffer, aad: string): Buffer {
  const master = masters.get(keyId);
  if (!master) throw new Error(`master key ${keyId} is not configured`);
  return open(master, wrapped, aad);
}

/** Keyed blind index: equal normalised identifiers in one tenant meet; nothing links them across tenants. */
export function blindIndex(tenantIndexKey: Buffer, type: string, normalisedValue: string): Buffer {
  return createHmac('sha256', tenantIndexKey).update(type).update('\u0000').update(normalisedValue).digest();
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
