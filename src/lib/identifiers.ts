// Identifier normalisation: equal people meet (case, NFC/NFD, phone formatting); confusable letters stay distinct.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export const IDENTIFIER_TYPES = ['email', 'phone', 'crm_id', 'customer_id'] as const;
export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];

export type NormaliseResult = { ok: true; value: string } | { ok: false; reason: string };

// Deliberately simple: one @, no whitespace or control characters, a dotted domain or an IP literal.
const EMAIL_SHAPE = /^[^\s@\p{Cc}]{1,64}@(?:[^\s@\p{Cc}.]+(?:\.[^\s@\p{Cc}.]+)+|\[[0-9a-fA-F:.]+\])$/u;

export function normaliseEmail(raw: string): NormaliseResult {
  // toLowerCase is locale-independent in JS: "I" → "i" everywhere, while "ı", "ß" or Cyrillic "а" stay themselves.
  // (The Kelvin sign U+212A is canonically equivalent to "K": NFC turns it into K, so it meets "k".)
  const value = raw.trim().normalize('NFC').toLowerCase();
  if (value.length > 254 || !EMAIL_SHAPE.test(value)) return { ok: false, reason: 'is not an email address' };
  return { ok: true, value };
}

export function normalisePhone(raw: string): NormaliseResult {
  const trimmed = raw.trim();
  if (!/^\+?[0-9\s().-]{4,32}$/.test(trimmed)) return { ok: false, reason: 'is not a phone number in international format' };
  const withPlus = trimmed.startsWith('+') ? trimmed : trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : null;
  if (!withPlus) return { ok: false, reason: 'must be in international format, starting with + and the country code' };
  const parsed = parsePhoneNumberFromString(withPlus);
  if (!parsed || !parsed.isPossible()) return { ok: false, reason: 'is not a possible phone number' };
  return { ok: true, value: parsed.number };
}

export function normaliseOpaque(raw: string): NormaliseResult {
  const value = raw.trim().normalize('NFC');
  if (value.length === 0) return { ok: false, reason: 'must not be empty' };
  return { ok: true, value };
}

export function normaliseIdentifier(type: IdentifierType, raw: string): NormaliseResult {
  switch (type) {
    case 'email':
      return normaliseEmail(raw);
    case 'phone':
      return normalisePhone(raw);
    default:
      return normaliseOpaque(raw);
  }
}
