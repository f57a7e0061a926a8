// Validation of tenant time zones (IANA) and holiday calendars (ISO 3166 country or country-region, e.g. DE, GB-SCT).
import Holidays from 'date-holidays';

const countries = new Holidays().getCountries() as Record<string, string>;

/** The zone's canonical spelling (europe/sofia → Europe/Sofia), or null when it is not a known IANA zone. */
export function canonicalTimeZone(tz: string): string | null {
  if (tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz)) return null;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export function isKnownCalendar(code: string): boolean {
  const m = /^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$/.exec(code);
  if (!m) return false;
  const [, country, region] = m;
  if (!country || !(country in countries)) return false;
  if (!region) return true;
  const states = new Holidays().getStates(country) as Record<string, string> | undefined;
  return !!states && region in states;
}
