// Client-supplied instants and dates ("occurred_at", "received_at", "at", "due_before") and the range every stored
// instant keeps. Postgres accepts years the JavaScript Date cannot print (1 BC, 294276 AD): a value outside the
// range is refused at the boundary, so no stored instant can make a later read fail.
import { z } from 'zod';
import { ValidationFailed } from './errors.js';

/** The earliest and latest instant a client may give: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z. */
export const EARLIEST_INSTANT = new Date('1970-01-01T00:00:00.000Z');
export const LATEST_INSTANT = new Date('9999-12-31T23:59:59.999Z');

export function instantInRange(d: Date): boolean {
  const t = d.getTime();
  return Number.isFinite(t) && t >= EARLIEST_INSTANT.getTime() && t <= LATEST_INSTANT.getTime();
}

/** An RFC 3339 date-time with a zone, between 1970-01-01 and 9999-12-31 in UTC. */
export const InstantInput = z.iso
  .datetime({ offset: true })
  .refine((s) => instantInRange(new Date(s)), { message: 'must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z' })
  .describe('RFC 3339 date-time with a zone (Z or ±hh:mm), from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z');

/** A calendar date (YYYY-MM-DD) from 1970-01-01 to 9999-12-31. */
export const DateInput = z.iso
  .date()
  .refine((s) => s >= '1970-01-01' && s <= '9999-12-31', { message: 'must lie between 1970-01-01 and 9999-12-31' })
  .describe('Calendar date YYYY-MM-DD, from 1970-01-01 to 9999-12-31');

// Client clocks run a little fast; an instant "from the future" beyond this is refused.
const FUTURE_SKEW_MS = 5 * 60_000;

/** The instant given, or `now` when absent; a 400 naming `field` when it lies outside the range, in the future or
 * before `notBefore`. */
export function pastInstant(field: string, at: string | undefined, now: Date, notBefore?: Date | null): Date {
  if (at === undefined) return now;
  const d = new Date(at);
  if (!instantInRange(d)) throw new ValidationFailed([{ field, message: 'must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z' }]);
  if (d.getTime() > now.getTime() + FUTURE_SKEW_MS) throw new ValidationFailed([{ field, message: 'must not be in the future' }]);
  if (notBefore && d < notBefore) {
    throw new ValidationFailed([{ field, message: `must not be before the previous transition (${notBefore.toISOString()})` }]);
  }
  return d;
}

/** Parses Postgres's text form of a timestamptz, including the years a JavaScript Date cannot read from it
 * ("0001-01-01 00:00:00+00 BC" is the year 0 of ISO 8601). Legacy rows written before the range check may hold them. */
export function parsePgTimestamptz(text: string): Date {
  const m = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/.exec(text);
  if (!m) return new Date(text);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  const year = bc ? 1 - Number(y) : Number(y);
  const date = new Date(0);
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), frac ? Math.floor(Number(`0.${frac}`) * 1000 + 1e-6) : 0);
  const offsetMs = sign ? (sign === '-' ? -1 : 1) * ((Number(oh) * 60 + Number(om ?? 0)) * 60 + Number(os ?? 0)) * 1000 : 0;
  return new Date(date.getTime() - offsetMs);
}
