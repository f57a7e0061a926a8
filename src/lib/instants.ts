// Client-supplied instants ("occurred_at", "received_at", "at"): when given, never in the future.
import { ValidationFailed } from './errors.js';

// Client clocks run a little fast; an instant "from the future" beyond this is refused.
const FUTURE_SKEW_MS = 5 * 60_000;

/** The instant given, or `now` when absent; a 400 naming `field` when it lies in the future or before `notBefore`. */
export function pastInstant(field: string, at: string | undefined, now: Date, notBefore?: Date | null): Date {
  if (at === undefined) return now;
  const d = new Date(at);
  if (d.getTime() > now.getTime() + FUTURE_SKEW_MS) throw new ValidationFailed([{ field, message: 'must not be in the future' }]);
  if (notBefore && d < notBefore) {
    throw new ValidationFailed([{ field, message: `must not be before the previous transition (${notBefore.toISOString()})` }]);
  }
  return d;
}
