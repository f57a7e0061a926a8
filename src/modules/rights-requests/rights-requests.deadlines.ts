// The Art. 12(3) clock, as pure functions (DESIGN.md "Deadlines", issue 4 "The clock").
//
// No I/O and no Date.now(): every function takes the instants it needs as parameters. The only state is a memo of
// Intl formatters and of holiday lists per calendar and year, which never changes an answer.
//
// The rules, in plain words:
//
// * Receipt day. The calendar date of `receivedAt` in the controller's (tenant's) IANA time zone: 23:30 UTC on
//   31 January is 1 February in Europe/Sofia and still 31 January in America/New_York. All further arithmetic is
//   done on plain year-month-day values, so daylight-saving changes cannot shift a date.
// * One month. The same date in the following month; where that month has no such date, its last day
//   (31 Jan → 28 Feb, or 29 Feb in a leap year; 31 Mar → 30 Apr). The receipt day itself is not counted
//   (Regulation 1182/71 Art. 3(1)), and the start is never moved because it fell on a weekend or holiday.
// * Extension. Three months from the same start (31 Jan → 30 Apr, not 28 Feb + 2 months = 28 Apr), with the same
//   last-day-of-month rule. It may be granted once, and only up to the end of the first (unextended) due date:
//   see `extensionAllowed`.
// * Pauses (a pause runs from the transition that asks the subject for something to the one recording the answer;
//   each end is reduced to its calendar date in the tenant's zone):
//     - identity wait (request-identity … identity-verified):
//         policy 'eu' pauses the clock for the number of calendar days from the date of the request for proof to
//         the date the proof arrived, i.e. `proofDate − requestDate` (asked on 5 Feb, proof on 15 Feb: 10 days;
//         proof on the same day: 0). The day the proof is asked for counts as paused, the day it arrives as running
//         again: the deadline moves by exactly the length of the wait measured in whole calendar days.
//         policy 'uk' restarts the clock: the month (or the three months of an extension) is counted from the date
//         the proof arrived, as if the request had been received that day; with several identity waits the last
//         one counts, and nothing before that date (earlier pauses included) matters any more.
//     - clarification wait (request-clarification … clarification-received), both policies pause, counted as the
//       issue prescribes: 'eu' counts the days strictly between the two dates (exclusive: 5 → 15 Feb is 9 days,
//       the same or the next day is 0); 'uk' counts both dates too (inclusive: 5 → 15 Feb is 11 days, the same
//       day is 1). Under 'uk' only the part of a clarification wait on or after the (re)start date counts.
//   Paused days are added to the raw end date, after the month arithmetic and before the working-day roll.
//   Pauses are expected to be sequential and not to overlap (the request state machine makes them so); their
//   days are simply summed.
//   An open pause (`to: null`) means the clock is stopped now: `computeDeadline` then answers `paused: true` with
//   `dueDate`/`dueAt` null, since the due date depends on a day not yet known. (`extensionAllowed` instead asks
//   "if the pause ended at this instant, would the first month still be running?")
// * Working days. An end on a Saturday, a Sunday or a public holiday of the tenant's calendar moves to the next
//   working day, repeatedly. Calendars are date-holidays codes: "DE" (country) or "GB-SCT" (country GB, state
//   SCT); only holidays of type 'public' count; null means weekends only.
// * Output. `dueDate` (API `due_date`) is the last day to answer, YYYY-MM-DD in the tenant's zone; `dueAt`
//   (API `due_at`) is the end of that day: 23:59:59.999 local time, i.e. the instant just before the next local
//   midnight, whatever the UTC offset of that day.
// * Reminders (`reminderSchedule`). One `request.deadline_approaching` per offset N (default 7 and 2) at 09:00
//   local time on the calendar day N days before `dueDate` (calendar days, not working days, so a reminder may
//   fall on a weekend); and one `request.overdue` at the first instant after `dueAt` (the next local midnight),
//   i.e. the moment the last day is over: a request answered at `dueAt` itself is never reported overdue.
import Holidays from 'date-holidays';

// ---------------------------------------------------------------------------------------------------------------
// Types

export type Policy = 'eu' | 'uk';

/** An instant: a Date, or an ISO 8601 / RFC 3339 string with an explicit offset (`Z` or `±hh:mm`). */
export type InstantInput = Date | string;

export type PauseKind = 'identity' | 'clarification';

export interface Pause {
  kind: PauseKind;
  /** When the controller asked (request-identity / request-clarification). */
  from: InstantInput;
  /** When the answer arrived (identity-verified / clarification-received); null while still waiting. */
  to: InstantInput | null;
}

export interface DeadlineInput {
  receivedAt: InstantInput;
  /** The tenant's IANA time zone, e.g. Europe/Sofia. */
  timeZone: string;
  policy: Policy;
  /** date-holidays code: country ("DE") or country-state ("GB-SCT"); null for weekends only. */
  holidayCalendar: string | null;
  /** Whether the one extension (three months from the start) has been granted. */
  extended?: boolean;
  pauses?: readonly Pause[];
}

interface DeadlineCommon {
  /** Calendar date of receipt in the tenant's zone. */
  receiptDate: string;
  /** Date the period counts from: the receipt date, or under 'uk' the date the last proof of identity arrived. */
  startDate: string;
  /** 1, or 3 when extended. */
  months: 1 | 3;
  /** Days added for completed pauses (see the header comment for how each kind is counted). */
  pausedDays: number;
}

export interface RunningDeadline extends DeadlineCommon {
  paused: false;
  /** start + months (last day of month if needed) + pausedDays, before the working-day roll. */
  rawEndDate: string;
  /** Last day to answer (API `due_date`), YYYY-MM-DD in the tenant's zone. */
  dueDate: string;
  /** End of `dueDate` in the tenant's zone (API `due_at`): 23:59:59.999 local. */
  dueAt: Date;
}

export interface PausedDeadline extends DeadlineCommon {
  /** A pause is open: the clock is stopped and the due date is not known yet. */
  paused: true;
  rawEndDate: null;
  dueDate: null;
  dueAt: null;
}

export type Deadline = RunningDeadline | PausedDeadline;

export type ReminderType = 'request.deadline_approaching' | 'request.overdue';

export type Reminder =
  | { type: 'request.deadline_approaching'; offsetDays: number; at: Date }
  | { type: 'request.overdue'; at: Date };

export interface ReminderInput {
  /** The due date (YYYY-MM-DD) in `timeZone`. */
  dueDate: string;
  timeZone: string;
  /** Days before the due date; default [7, 2]. Non-negative integers; duplicates are dropped. */
  offsetsDays?: readonly number[];
}

export const DEFAULT_REMINDER_OFFSETS_DAYS: readonly number[] = Object.freeze([7, 2]);
/** Local wall-clock hour at which `request.deadline_approaching` reminders fall. */
export const REMINDER_LOCAL_HOUR = 9;

// ---------------------------------------------------------------------------------------------------------------
// Plain calendar dates (no time zone, no DST)

interface Ymd {
  y: number;
  m: number; // 1..12
  d: number; // 1..31
}

const DAY_MS = 86_400_000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function formatYmd({ y, m, d }: Ymd): string {
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

function parseYmd(s: string): Ymd {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!match) throw new RangeError(`not a YYYY-MM-DD date: ${s}`);
  const ymd = { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
  if (ymd.m < 1 || ymd.m > 12 || ymd.d < 1 || ymd.d > daysInMonth(ymd.y, ymd.m)) {
    throw new RangeError(`not a calendar date: ${s}`);
  }
  return ymd;
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Day number (days since 1970-01-01) of a plain date; UTC is used only as a proleptic day counter. */
function dayNumber({ y, m, d }: Ymd): number {
  return Math.round(Date.UTC(y, m - 1, d) / DAY_MS);
}

function fromDayNumber(n: number): Ymd {
  const dt = new Date(n * DAY_MS);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

/** `date` plus `days` calendar days (negative to go back). */
export function addDays(date: string, days: number): string {
  return formatYmd(fromDayNumber(dayNumber(parseYmd(date)) + days));
}

/** Calendar days from `a` to `b` (b − a); negative when b is earlier. */
export function daysBetween(a: string, b: string): number {
  return dayNumber(parseYmd(b)) - dayNumber(parseYmd(a));
}

/** The same date `months` months later, or that month's last day when it has no such date. */
export function addMonths(date: string, months: number): string {
  const { y, m, d } = parseYmd(date);
  const index = y * 12 + (m - 1) + months;
  const ny = Math.floor(index / 12);
  const nm = index - ny * 12 + 1;
  return formatYmd({ y: ny, m: nm, d: Math.min(d, daysInMonth(ny, nm)) });
}

/** 0 = Sunday … 6 = Saturday. */
function weekday(date: string): number {
  const { y, m, d } = parseYmd(date);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

// ---------------------------------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallClock extends Ymd {
  hh: number;
  mi: number;
  ss: number;
}

function wallClock(epochMs: number, timeZone: string): WallClock {
  const parts = formatterFor(timeZone).formatToParts(new Date(epochMs));
  const get = (type: Intl.DateTimeFormatPartTypes): number => {
    const p = parts.find((x) => x.type === type);
    if (!p) throw new Error(`Intl gave no ${type} for ${timeZone}`);
    return Number(p.value);
  };
  return { y: get('year'), m: get('month'), d: get('day'), hh: get('hour') % 24, mi: get('minute'), ss: get('second') };
}

/** The zone's UTC offset at an instant, in ms (east positive). */
function offsetAt(epochMs: number, timeZone: string): number {
  const whole = Math.floor(epochMs / 1000) * 1000;
  const w = wallClock(whole, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d, w.hh, w.mi, w.ss) - whole;
}

/**
 * The instant showing the given local wall time in `timeZone`. When the wall time occurs twice (clocks going
 * back) the earlier instant; when it does not occur (clocks going forward) the instant after the gap, shifted by
 * the gap's length — as Temporal's 'compatible' disambiguation.
 */
function zonedInstant(date: string, hh: number, mi: number, timeZone: string): number {
  const { y, m, d } = parseYmd(date);
  const wall = Date.UTC(y, m - 1, d, hh, mi);
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  const exact = [wall - before, wall - after].filter((t) => t + offsetAt(t, timeZone) === wall);
  if (exact.length > 0) return Math.min(...exact);
  return wall - before;
}

/** The calendar date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(instant: InstantInput, timeZone: string): string {
  return formatYmd(wallClock(toInstant(instant).getTime(), timeZone));
}

/** The first instant of a local calendar day (local midnight, or the end of a DST gap starting at midnight). */
export function startOfLocalDay(date: string, timeZone: string): Date {
  return new Date(zonedInstant(date, 0, 0, timeZone));
}

/** The last instant of a local calendar day: 23:59:59.999 local, one millisecond before the next day begins. */
export function endOfLocalDay(date: string, timeZone: string): Date {
  return new Date(startOfLocalDay(addDays(date, 1), timeZone).getTime() - 1);
}

export function toInstant(value: InstantInput): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError('invalid Date');
    return value;
  }
  // A string without an offset would be read in the process's zone: refuse it rather than guess.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) {
    throw new RangeError(`not an ISO 8601 instant with an offset: ${value}`);
  }
  const dt = new Date(value);
  if (Number.isNaN(dt.getTime())) throw new RangeError(`not an instant: ${value}`);
  return dt;
}

// ---------------------------------------------------------------------------------------------------------------
// Working days

const calendars = new Map<string, Holidays>();
const holidayYears = new Map<string, Set<string>>();

function holidaysFor(code: string): Holidays {
  let h = calendars.get(code);
  if (!h) {
    const match = /^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$/.exec(code);
    const country = match?.[1];
    const state = match?.[2];
    if (!country) throw new RangeError(`not a holiday calendar code: ${code}`);
    if (!(country in (new Holidays().getCountries() as Record<string, string>))) {
      throw new RangeError(`unknown holiday calendar: ${code}`);
    }
    if (state && !(state in ((new Holidays().getStates(country) as Record<string, string> | undefined) ?? {}))) {
      throw new RangeError(`unknown holiday calendar: ${code}`);
    }
    h = state ? new Holidays(country, state) : new Holidays(country);
    calendars.set(code, h);
  }
  return h;
}

/** The public holidays (type 'public' only) of a calendar in a year, as YYYY-MM-DD dates. */
export function publicHolidays(calendar: string, year: number): ReadonlySet<string> {
  const key = `${calendar}:${year}`;
  let set = holidayYears.get(key);
  if (!set) {
    set = new Set(
      holidaysFor(calendar)
        .getHolidays(year)
        .filter((h) => h.type === 'public')
        .map((h) => h.date.slice(0, 10)),
    );
    holidayYears.set(key, set);
  }
  return set;
}

/** Not a Saturday, not a Sunday, and not a public holiday of `calendar` (null: weekends only). */
export function isWorkingDay(date: string, calendar: string | null): boolean {
  const wd = weekday(date);
  if (wd === 0 || wd === 6) return false;
  if (calendar === null) return true;
  return !publicHolidays(calendar, parseYmd(date).y).has(date);
}

/** `date` itself when it is a working day, else the next one. */
export function nextWorkingDay(date: string, calendar: string | null): string {
  let d = date;
  for (let i = 0; i < 366; i++) {
    if (isWorkingDay(d, calendar)) return d;
    d = addDays(d, 1);
  }
  throw new Error(`no working day within a year after ${date} in ${calendar ?? 'weekends-only'}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The deadline

interface DatedPause {
  kind: PauseKind;
  fromDate: string;
  toDate: string | null;
}

/** Days a completed clarification wait adds: eu exclusive (strictly between), uk inclusive (both ends). */
function clarificationDays(policy: Policy, fromDate: string, toDate: string): number {
  const diff = daysBetween(fromDate, toDate);
  return policy === 'eu' ? Math.max(0, diff - 1) : diff + 1;
}

function datedPauses(input: DeadlineInput, received: Date): DatedPause[] {
  const pauses = input.pauses ?? [];
  let open = 0;
  const out = pauses.map((p): DatedPause => {
    const from = toInstant(p.from);
    if (from.getTime() < received.getTime()) throw new RangeError('a pause cannot start before the request was received');
    let toDate: string | null = null;
    if (p.to === null) {
      open++;
    } else {
      const to = toInstant(p.to);
      if (to.getTime() < from.getTime()) throw new RangeError('a pause cannot end before it starts');
      toDate = localDate(to, input.timeZone);
    }
    return { kind: p.kind, fromDate: localDate(from, input.timeZone), toDate };
  });
  if (open > 1) throw new RangeError('at most one pause can be open');
  return out;
}

/**
 * The due date of a request: receipt date in the tenant's zone, plus one month (three when extended), plus
 * paused days, rolled forward to a working day. See the header comment for every rule.
 */
export function computeDeadline(input: DeadlineInput): Deadline {
  const received = toInstant(input.receivedAt);
  const receiptDate = localDate(received, input.timeZone);
  const months: 1 | 3 = input.extended ? 3 : 1;
  const pauses = datedPauses(input, received);

  // uk: the last completed identity wait restarts the clock from the day the proof arrived.
  let startDate = receiptDate;
  if (input.policy === 'uk') {
    for (const p of pauses) {
      if (p.kind === 'identity' && p.toDate !== null && p.toDate > startDate) startDate = p.toDate;
    }
  }

  let pausedDays = 0;
  let paused = false;
  for (const p of pauses) {
    if (p.toDate === null) {
      paused = true;
      continue;
    }
    if (input.policy === 'eu') {
      pausedDays += p.kind === 'identity' ? daysBetween(p.fromDate, p.toDate) : clarificationDays('eu', p.fromDate, p.toDate);
    } else if (p.kind === 'clarification' && p.toDate >= startDate) {
      // uk: identity waits restart rather than pause; a clarification wait counts from the (re)start date on.
      const from = p.fromDate > startDate ? p.fromDate : startDate;
      pausedDays += clarificationDays('uk', from, p.toDate);
    }
  }

  const common = { receiptDate, startDate, months, pausedDays };
  if (paused) return { ...common, paused: true, rawEndDate: null, dueDate: null, dueAt: null };

  if (input.holidayCalendar !== null) holidaysFor(input.holidayCalendar); // validate even when no roll is needed
  const rawEndDate = addDays(addMonths(startDate, months), pausedDays);
  const dueDate = nextWorkingDay(rawEndDate, input.holidayCalendar);
  return { ...common, paused: false, rawEndDate, dueDate, dueAt: endOfLocalDay(dueDate, input.timeZone) };
}

/**
 * The first deadline (one month, without the extension) as it stands at instant `at`: the limit for deciding an
 * extension, telling the person of it, and asking for proof of identity (Art. 12(3), 12(6)). An open pause is
 * treated as ending at `at` (would the first month still be running if the clock restarted now?); a pause opened
 * after `at` does not exist yet at `at`.
 */
export function firstDeadline(input: DeadlineInput, at: InstantInput): RunningDeadline {
  const when = toInstant(at);
  const pauses = (input.pauses ?? []).map((p) => {
    if (p.to !== null) return p;
    return toInstant(p.from).getTime() <= when.getTime() ? { ...p, to: when } : null;
  });
  const first = computeDeadline({ ...input, extended: false, pauses: pauses.filter((p): p is Pause => p !== null) });
  if (first.paused) throw new Error('unreachable: every pause is closed');
  return first;
}

/**
 * Whether the one extension may be granted at instant `at`: not yet extended, `at` not before receipt, and `at` no
 * later than the first (unextended) deadline's `dueAt` (see firstDeadline).
 */
export function extensionAllowed(input: DeadlineInput, at: InstantInput): boolean {
  if (input.extended) return false;
  const when = toInstant(at);
  if (when.getTime() < toInstant(input.receivedAt).getTime()) return false;
  return when.getTime() <= firstDeadline(input, when).dueAt.getTime();
}

/**
 * The reminders of a due date: one `request.deadline_approaching` per offset N at 09:00 local time on the calendar
 * day N days before `dueDate`, and one `request.overdue` at the first instant after the due date's end (the next
 * local midnight). Sorted by time. Whether a reminder already in the past is sent at once is the caller's choice.
 */
export function reminderSchedule(input: ReminderInput): Reminder[] {
  const offsets = [...new Set(input.offsetsDays ?? DEFAULT_REMINDER_OFFSETS_DAYS)];
  for (const n of offsets) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`reminder offset must be a non-negative integer: ${n}`);
  }
  parseYmd(input.dueDate);
  const approaching: Reminder[] = offsets
    .sort((a, b) => b - a)
    .map((n) => ({
      type: 'request.deadline_approaching' as const,
      offsetDays: n,
      at: new Date(zonedInstant(addDays(input.dueDate, -n), REMINDER_LOCAL_HOUR, 0, input.timeZone)),
    }));
  const overdue: Reminder = {
    type: 'request.overdue',
    at: new Date(endOfLocalDay(input.dueDate, input.timeZone).getTime() + 1),
  };
  return [...approaching, overdue];
}
