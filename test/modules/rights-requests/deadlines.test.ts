// The deadline table (DESIGN.md "Deadlines", issue 4 "The clock"). Pure functions: no server, no database.
import t from 'tap';
import Holidays from 'date-holidays';
import {
  addMonths,
  computeDeadline,
  endOfLocalDay,
  extensionAllowed,
  localDate,
  reminderSchedule,
  type DeadlineInput,
  type Pause,
  type Policy,
} from '../../../src/modules/rights-requests/rights-requests.deadlines.js';

/** Public holidays straight from date-holidays, so each holiday fact the table relies on is checked, not assumed. */
function holidayName(country: string, state: string | undefined, date: string): string | null {
  const hd = state ? new Holidays(country, state) : new Holidays(country);
  const hit = hd.getHolidays(Number(date.slice(0, 4))).find((h) => h.type === 'public' && h.date.startsWith(date));
  return hit ? hit.name : null;
}

function weekdayOf(date: string): string {
  return ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][new Date(`${date}T12:00:00Z`).getUTCDay()]!;
}

/** The wall-clock reading of an instant in a zone, "YYYY-MM-DD HH:MM:SS.mmm". */
function wall(instant: Date, timeZone: string): string {
  const p = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
  }).formatToParts(instant);
  const g = (k: string): string => p.find((x) => x.type === k)!.value;
  return `${g('year')}-${g('month')}-${g('day')} ${g('hour')}:${g('minute')}:${g('second')}.${g('fractionalSecond')}`;
}

t.test('holiday facts the table relies on (from date-holidays 3.37.0)', async (t) => {
  t.equal(holidayName('GB', 'ENG', '2025-04-21'), 'Easter Monday', 'Easter Monday is a bank holiday in England');
  t.equal(holidayName('GB', 'SCT', '2025-04-21'), null, '… but not in Scotland');
  t.equal(holidayName('GB', 'SCT', '2025-01-02'), 'January 2nd', '2 January is a bank holiday in Scotland');
  t.equal(holidayName('GB', 'ENG', '2025-01-02'), null, '… but not in England');
  t.ok(holidayName('BG', undefined, '2025-03-03'), 'Liberation Day, Monday 3 March 2025, is public in Bulgaria');
  t.equal(weekdayOf('2025-03-03'), 'Mon');
  t.equal(holidayName('DE', undefined, '2025-06-09'), 'Pfingstmontag', 'Whit Monday 2025 is public in Germany');
  t.equal(weekdayOf('2025-06-09'), 'Mon');
  t.equal(holidayName('DE', undefined, '2024-05-01'), 'Maifeiertag', '1 May is public in Germany');
  t.equal(holidayName('DE', undefined, '2025-01-06'), null, 'Epiphany is not national in Germany');
  t.equal(holidayName('DE', 'BY', '2025-01-06'), 'Heilige Drei Könige', '… but it is in Bavaria');
});

t.test('month arithmetic on plain dates', async (t) => {
  const rows: [string, number, string][] = [
    ['2025-01-15', 1, '2025-02-15'],
    ['2025-01-31', 1, '2025-02-28'],
    ['2024-01-31', 1, '2024-02-29'],
    ['2023-01-30', 1, '2023-02-28'],
    ['2025-03-31', 1, '2025-04-30'],
    ['2025-04-30', 1, '2025-05-30'],
    ['2025-08-31', 1, '2025-09-30'],
    ['2025-12-31', 1, '2026-01-31'],
    ['2025-01-31', 3, '2025-04-30'],
    ['2025-11-30', 3, '2026-02-28'],
    ['2023-11-30', 3, '2024-02-29'],
  ];
  for (const [from, n, want] of rows) t.equal(addMonths(from, n), want, `${from} + ${n} month(s)`);
});

type Row = {
  name: string;
  receivedAt: string;
  timeZone?: string;
  policy?: Policy;
  calendar?: string | null;
  extended?: boolean;
  pauses?: Pause[];
  receiptDate?: string;
  startDate?: string;
  rawEndDate?: string;
  pausedDays?: number;
  dueDate: string;
};

const table: Row[] = [
  // month ends and leap years (all ends fall on working days)
  { name: '15 Jan → 15 Feb', receivedAt: '2024-01-15T10:00:00Z', dueDate: '2024-02-15' },
  { name: '31 Jan → 28 Feb (2025)', receivedAt: '2025-01-31T10:00:00Z', dueDate: '2025-02-28' },
  { name: '31 Jan → 29 Feb (2024, leap year)', receivedAt: '2024-01-31T10:00:00Z', dueDate: '2024-02-29' },
  { name: '30 Jan 2023 → 28 Feb', receivedAt: '2023-01-30T10:00:00Z', dueDate: '2023-02-28' },
  { name: '31 Mar → 30 Apr', receivedAt: '2025-03-31T10:00:00Z', dueDate: '2025-04-30' },
  { name: '30 Apr → 30 May', receivedAt: '2025-04-30T10:00:00Z', dueDate: '2025-05-30' },
  { name: '31 Aug → 30 Sep', receivedAt: '2025-08-31T10:00:00Z', dueDate: '2025-09-30' },
  {
    name: 'a start on a Saturday is not moved: Sat 1 Mar → Tue 1 Apr',
    receivedAt: '2025-03-01T10:00:00Z',
    dueDate: '2025-04-01',
  },

  // weekends and public holidays
  {
    name: 'end on Saturday 15 Feb 2025 → Monday 17 Feb',
    receivedAt: '2025-01-15T10:00:00Z',
    rawEndDate: '2025-02-15',
    dueDate: '2025-02-17',
  },
  {
    name: 'BG: end on Sunday 2 Mar 2025 before Liberation Day (Mon 3 Mar) → Tuesday 4 Mar',
    receivedAt: '2025-02-02T10:00:00Z',
    timeZone: 'Europe/Sofia',
    calendar: 'BG',
    rawEndDate: '2025-03-02',
    dueDate: '2025-03-04',
  },
  {
    name: 'same without a calendar → Monday 3 Mar',
    receivedAt: '2025-02-02T10:00:00Z',
    timeZone: 'Europe/Sofia',
    calendar: null,
    dueDate: '2025-03-03',
  },
  {
    name: 'DE: end on Sunday 8 Jun 2025 before Whit Monday → Tuesday 10 Jun',
    receivedAt: '2025-05-08T10:00:00Z',
    timeZone: 'Europe/Berlin',
    calendar: 'DE',
    rawEndDate: '2025-06-08',
    dueDate: '2025-06-10',
  },
  {
    name: 'DE-BY: Epiphany (Mon 6 Jan 2025) is a holiday in Bavaria → Tue 7 Jan',
    receivedAt: '2024-12-06T10:00:00Z',
    timeZone: 'Europe/Berlin',
    calendar: 'DE-BY',
    dueDate: '2025-01-07',
  },
  {
    name: 'DE: … but not nationally → Mon 6 Jan',
    receivedAt: '2024-12-06T10:00:00Z',
    timeZone: 'Europe/Berlin',
    calendar: 'DE',
    dueDate: '2025-01-06',
  },
  {
    name: 'GB-ENG: end on Easter Monday 21 Apr 2025 → Tuesday 22 Apr',
    receivedAt: '2025-03-21T10:00:00Z',
    timeZone: 'Europe/London',
    calendar: 'GB-ENG',
    dueDate: '2025-04-22',
  },
  {
    name: 'GB-SCT: Easter Monday is a working day → Monday 21 Apr',
    receivedAt: '2025-03-21T10:00:00Z',
    timeZone: 'Europe/London',
    calendar: 'GB-SCT',
    dueDate: '2025-04-21',
  },
  {
    name: 'GB-SCT: end on 2 January 2025 (a Scottish holiday) → Friday 3 Jan',
    receivedAt: '2024-12-02T10:00:00Z',
    timeZone: 'Europe/London',
    calendar: 'GB-SCT',
    dueDate: '2025-01-03',
  },
  {
    name: 'GB-ENG: 2 January is a working day → Thursday 2 Jan',
    receivedAt: '2024-12-02T10:00:00Z',
    timeZone: 'Europe/London',
    calendar: 'GB-ENG',
    dueDate: '2025-01-02',
  },

  // the receipt date is local to the controller
  {
    name: '23:30 UTC on 31 Jan is 1 Feb in Sofia → 1 Mar (Sat) → Mon 3 Mar holiday → Tue 4 Mar',
    receivedAt: '2025-01-31T23:30:00Z',
    timeZone: 'Europe/Sofia',
    calendar: 'BG',
    receiptDate: '2025-02-01',
    rawEndDate: '2025-03-01',
    dueDate: '2025-03-04',
  },
  {
    name: '23:30 UTC on 31 Jan is still 31 Jan in New York → 28 Feb',
    receivedAt: '2025-01-31T23:30:00Z',
    timeZone: 'America/New_York',
    receiptDate: '2025-01-31',
    dueDate: '2025-02-28',
  },
  {
    name: 'Berlin, 00:30 CEST on 1 Apr 2024, the day after clocks went forward (22:30 UTC on 31 Mar) → 1 May holiday → 2 May',
    receivedAt: '2024-03-31T22:30:00Z',
    timeZone: 'Europe/Berlin',
    calendar: 'DE',
    receiptDate: '2024-04-01',
    rawEndDate: '2024-05-01',
    dueDate: '2024-05-02',
  },
  {
    name: 'New York, 00:30 EDT on 10 Mar 2025, the day after clocks went forward (04:30 UTC) → 10 Apr',
    receivedAt: '2025-03-10T04:30:00Z',
    timeZone: 'America/New_York',
    receiptDate: '2025-03-10',
    dueDate: '2025-04-10',
  },
  {
    name: 'New York, 23:30 EDT on 9 Mar 2025 (03:30 UTC on 10 Mar) is still 9 Mar → 9 Apr',
    receivedAt: '2025-03-10T03:30:00Z',
    timeZone: 'America/New_York',
    receiptDate: '2025-03-09',
    dueDate: '2025-04-09',
  },

  // extension: three months from the same start
  {
    name: 'extended: 31 Jan → 30 Apr (not 28 Feb + 2 months = 28 Apr)',
    receivedAt: '2025-01-31T10:00:00Z',
    extended: true,
    dueDate: '2025-04-30',
  },
  {
    name: 'extended: 30 Nov 2023 → 29 Feb 2024 (leap year)',
    receivedAt: '2023-11-30T10:00:00Z',
    extended: true,
    dueDate: '2024-02-29',
  },
  {
    name: 'extended: 17 Feb 2025 → Saturday 17 May → Monday 19 May',
    receivedAt: '2025-02-17T10:00:00Z',
    extended: true,
    rawEndDate: '2025-05-17',
    dueDate: '2025-05-19',
  },
  {
    name: 'extended, GB-ENG: 21 Jan 2025 → Easter Monday 21 Apr → 22 Apr',
    receivedAt: '2025-01-21T10:00:00Z',
    timeZone: 'Europe/London',
    calendar: 'GB-ENG',
    extended: true,
    rawEndDate: '2025-04-21',
    dueDate: '2025-04-22',
  },

  // identity wait: eu pauses (proof date − request date), uk restarts from the proof date
  {
    name: 'eu identity wait 5 → 15 Feb: 10 days added to 3 Mar → 13 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Berlin',
    policy: 'eu',
    pauses: [{ kind: 'identity', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' }],
    startDate: '2025-02-03',
    pausedDays: 10,
    rawEndDate: '2025-03-13',
    dueDate: '2025-03-13',
  },
  {
    name: 'uk identity wait 5 → 15 Feb: restart from 15 Feb → Saturday 15 Mar → Monday 17 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    pauses: [{ kind: 'identity', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' }],
    startDate: '2025-02-15',
    pausedDays: 0,
    rawEndDate: '2025-03-15',
    dueDate: '2025-03-17',
  },
  {
    name: 'uk identity restart then extension: three months from the proof date 15 Feb → 15 May',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    extended: true,
    pauses: [{ kind: 'identity', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' }],
    startDate: '2025-02-15',
    dueDate: '2025-05-15',
  },
  {
    name: 'eu identity wait on the same day adds nothing',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Berlin',
    policy: 'eu',
    pauses: [{ kind: 'identity', from: '2025-02-03T10:00:00Z', to: '2025-02-03T16:00:00Z' }],
    pausedDays: 0,
    dueDate: '2025-03-03',
  },
  {
    name: 'eu identity wait: pause dates are local (proof at 22:30 UTC on 14 Feb is 15 Feb in Sofia)',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Sofia',
    policy: 'eu',
    pauses: [{ kind: 'identity', from: '2025-02-05T10:00:00Z', to: '2025-02-14T22:30:00Z' }],
    pausedDays: 10,
    dueDate: '2025-03-13',
  },
  {
    name: 'eu pause days are added after the month arithmetic: 31 Jan + 1 month = 28 Feb, + 3 days = 3 Mar',
    receivedAt: '2025-01-31T10:00:00Z',
    policy: 'eu',
    pauses: [{ kind: 'identity', from: '2025-02-01T10:00:00Z', to: '2025-02-04T10:00:00Z' }],
    pausedDays: 3,
    rawEndDate: '2025-03-03',
    dueDate: '2025-03-03',
  },

  // clarification wait: both pause; eu exclusive, uk inclusive
  {
    name: 'eu clarification 5 → 15 Feb counts 6..14 Feb exclusively: 9 days → 12 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Berlin',
    policy: 'eu',
    pauses: [{ kind: 'clarification', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' }],
    pausedDays: 9,
    dueDate: '2025-03-12',
  },
  {
    name: 'uk clarification 5 → 15 Feb counts 5..15 Feb inclusively: 11 days → 14 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    pauses: [{ kind: 'clarification', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' }],
    pausedDays: 11,
    dueDate: '2025-03-14',
  },
  {
    name: 'eu clarification answered the next day: 0 days',
    receivedAt: '2025-02-03T09:00:00Z',
    policy: 'eu',
    pauses: [{ kind: 'clarification', from: '2025-02-05T10:00:00Z', to: '2025-02-06T10:00:00Z' }],
    pausedDays: 0,
    dueDate: '2025-03-03',
  },
  {
    name: 'uk clarification answered the same day: 1 day',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    pauses: [{ kind: 'clarification', from: '2025-02-05T10:00:00Z', to: '2025-02-05T15:00:00Z' }],
    pausedDays: 1,
    dueDate: '2025-03-04',
  },
  {
    name: 'eu identity (10) and clarification (4 exclusive) add up: 3 Mar + 14 = 17 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Berlin',
    policy: 'eu',
    pauses: [
      { kind: 'identity', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' },
      { kind: 'clarification', from: '2025-02-17T10:00:00Z', to: '2025-02-22T10:00:00Z' },
    ],
    pausedDays: 14,
    dueDate: '2025-03-17',
  },
  {
    name: 'uk: a clarification wait before an identity restart no longer counts',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    pauses: [
      { kind: 'clarification', from: '2025-02-04T10:00:00Z', to: '2025-02-06T10:00:00Z' },
      { kind: 'identity', from: '2025-02-07T10:00:00Z', to: '2025-02-10T10:00:00Z' },
    ],
    startDate: '2025-02-10',
    pausedDays: 0,
    dueDate: '2025-03-10',
  },
  {
    name: 'uk: a clarification wait after the restart counts inclusively (12..13 Feb = 2) → 12 Mar',
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/London',
    policy: 'uk',
    pauses: [
      { kind: 'identity', from: '2025-02-04T10:00:00Z', to: '2025-02-10T10:00:00Z' },
      { kind: 'clarification', from: '2025-02-12T10:00:00Z', to: '2025-02-13T10:00:00Z' },
    ],
    startDate: '2025-02-10',
    pausedDays: 2,
    dueDate: '2025-03-12',
  },
];

t.test('deadline table', async (t) => {
  for (const row of table) {
    const d = computeDeadline({
      receivedAt: row.receivedAt,
      timeZone: row.timeZone ?? 'Europe/London',
      policy: row.policy ?? 'eu',
      holidayCalendar: row.calendar === undefined ? null : row.calendar,
      extended: row.extended ?? false,
      pauses: row.pauses ?? [],
    });
    t.equal(d.paused, false, `${row.name}: running`);
    t.equal(d.dueDate, row.dueDate, row.name);
    if (row.receiptDate !== undefined) t.equal(d.receiptDate, row.receiptDate, `${row.name}: receipt date`);
    if (row.startDate !== undefined) t.equal(d.startDate, row.startDate, `${row.name}: start date`);
    if (row.rawEndDate !== undefined) t.equal(d.rawEndDate, row.rawEndDate, `${row.name}: raw end`);
    if (row.pausedDays !== undefined) t.equal(d.pausedDays, row.pausedDays, `${row.name}: paused days`);
    if (d.dueAt) {
      t.equal(wall(d.dueAt, row.timeZone ?? 'Europe/London'), `${row.dueDate} 23:59:59.999`, `${row.name}: due_at`);
    }
  }
});

t.test('Easter Monday and 2 January give different due dates in England and Scotland', async (t) => {
  const due = (receivedAt: string, holidayCalendar: string) =>
    computeDeadline({ receivedAt, timeZone: 'Europe/London', policy: 'uk', holidayCalendar }).dueDate;
  t.not(due('2025-03-21T10:00:00Z', 'GB-ENG'), due('2025-03-21T10:00:00Z', 'GB-SCT'));
  t.not(due('2024-12-02T10:00:00Z', 'GB-ENG'), due('2024-12-02T10:00:00Z', 'GB-SCT'));
});

t.test('due_at is 23:59:59.999 local, in the offset of that day', async (t) => {
  const rows: [string, string, string][] = [
    ['Europe/Berlin', '2025-02-28', '2025-02-28T22:59:59.999Z'], // CET, +01:00
    ['Europe/Berlin', '2025-04-30', '2025-04-30T21:59:59.999Z'], // CEST, +02:00
    ['Europe/Berlin', '2025-03-30', '2025-03-30T21:59:59.999Z'], // the day clocks go forward: ends in CEST
    ['Europe/Berlin', '2025-10-26', '2025-10-26T22:59:59.999Z'], // the day clocks go back: ends in CET
    ['Europe/Sofia', '2025-01-15', '2025-01-15T21:59:59.999Z'], // EET, +02:00
    ['Europe/Sofia', '2025-07-15', '2025-07-15T20:59:59.999Z'], // EEST, +03:00
    ['Europe/London', '2025-01-15', '2025-01-15T23:59:59.999Z'], // GMT
    ['Europe/London', '2025-07-15', '2025-07-15T22:59:59.999Z'], // BST
    ['America/New_York', '2025-03-09', '2025-03-10T03:59:59.999Z'], // EDT from 02:00 that day
    ['America/New_York', '2025-12-01', '2025-12-02T04:59:59.999Z'], // EST
    // Chile moved its clocks forward at local midnight on 8 Sep 2024: that day began at 01:00; 7 Sep ended at
    // 23:59:59.999 -04:00.
    ['America/Santiago', '2024-09-07', '2024-09-08T03:59:59.999Z'],
  ];
  for (const [tz, date, want] of rows) {
    const end = endOfLocalDay(date, tz);
    t.equal(end.toISOString(), want, `${tz} ${date}`);
    t.equal(wall(end, tz), `${date} 23:59:59.999`, `${tz} ${date}: local reading`);
    t.not(localDate(new Date(end.getTime() + 1), tz), date, `${tz} ${date}: the next millisecond is the next day`);
  }

  const winter = computeDeadline({ receivedAt: '2025-01-31T10:00:00Z', timeZone: 'Europe/Berlin', policy: 'eu', holidayCalendar: 'DE' });
  t.equal(winter.dueAt?.toISOString(), '2025-02-28T22:59:59.999Z');
  const summer = computeDeadline({ receivedAt: '2025-06-16T10:00:00Z', timeZone: 'Europe/Berlin', policy: 'eu', holidayCalendar: 'DE' });
  t.equal(summer.dueDate, '2025-07-16');
  t.equal(summer.dueAt?.toISOString(), '2025-07-16T21:59:59.999Z');
});

t.test('extension', async (t) => {
  const base: DeadlineInput = {
    receivedAt: '2025-01-31T10:00:00Z',
    timeZone: 'Europe/London',
    policy: 'eu',
    holidayCalendar: 'GB-ENG',
  };
  // first deadline: Fri 28 Feb 2025, ending 23:59:59.999 GMT
  t.equal(computeDeadline(base).dueAt?.toISOString(), '2025-02-28T23:59:59.999Z');
  t.equal(computeDeadline({ ...base, extended: true }).dueDate, '2025-04-30');
  t.ok(extensionAllowed(base, '2025-02-10T12:00:00Z'), 'within the first month');
  t.ok(extensionAllowed(base, '2025-02-28T23:59:59.999Z'), 'up to the last instant of the first due date');
  t.notOk(extensionAllowed(base, '2025-03-01T00:00:00.000Z'), 'not once the first due date is over');
  t.notOk(extensionAllowed(base, '2025-04-01T00:00:00.000Z'), 'not long after either');
  t.notOk(extensionAllowed({ ...base, extended: true }, '2025-02-10T12:00:00Z'), 'only once');
  t.notOk(extensionAllowed(base, '2025-01-30T12:00:00Z'), 'not before the request was received');

  // Berlin: the first due date ends at 22:59:59.999 UTC; 23:30 UTC is already the next day there.
  const berlin: DeadlineInput = { ...base, timeZone: 'Europe/Berlin', holidayCalendar: 'DE' };
  t.ok(extensionAllowed(berlin, '2025-02-28T22:59:59.999Z'));
  t.notOk(extensionAllowed(berlin, '2025-02-28T23:30:00Z'));

  // The working-day roll counts: 15 Feb 2025 is a Saturday, so the first month runs until Mon 17 Feb.
  const rolled: DeadlineInput = { ...base, receivedAt: '2025-01-15T10:00:00Z' };
  t.ok(extensionAllowed(rolled, '2025-02-16T12:00:00Z'), 'on the Sunday before the rolled due date');
  t.notOk(extensionAllowed(rolled, '2025-02-18T00:00:00Z'));

  // Pauses count too: an eu identity wait of 10 days moves the first deadline from 28 Feb to 10 Mar.
  const pausedEu: DeadlineInput = {
    ...base,
    pauses: [{ kind: 'identity', from: '2025-02-02T10:00:00Z', to: '2025-02-12T10:00:00Z' }],
  };
  t.equal(computeDeadline(pausedEu).dueDate, '2025-03-10');
  t.ok(extensionAllowed(pausedEu, '2025-03-05T10:00:00Z'));
  t.notOk(extensionAllowed(pausedEu, '2025-03-11T00:00:00Z'));

  // An open pause is taken as ending at the instant asked about.
  const open: DeadlineInput = { ...base, pauses: [{ kind: 'identity', from: '2025-02-20T10:00:00Z', to: null }] };
  t.ok(extensionAllowed(open, '2025-03-05T10:00:00Z'), 'eu: 13 days paused so far push the first deadline to 13 Mar');
  t.ok(extensionAllowed({ ...open, policy: 'uk' }, '2025-06-01T10:00:00Z'), 'uk: proof now would restart the month');
});

t.test('an open pause stops the clock', async (t) => {
  const d = computeDeadline({
    receivedAt: '2025-02-03T09:00:00Z',
    timeZone: 'Europe/Berlin',
    policy: 'eu',
    holidayCalendar: 'DE',
    pauses: [
      { kind: 'clarification', from: '2025-02-05T10:00:00Z', to: '2025-02-15T10:00:00Z' },
      { kind: 'identity', from: '2025-02-20T10:00:00Z', to: null },
    ],
  });
  t.equal(d.paused, true);
  t.equal(d.dueDate, null);
  t.equal(d.dueAt, null);
  t.equal(d.pausedDays, 9, 'completed pauses are still reported');
});

t.test('reminders', async (t) => {
  // due Fri 28 Feb 2025 in Berlin (CET, +01:00): 09:00 local is 08:00 UTC
  t.same(
    reminderSchedule({ dueDate: '2025-02-28', timeZone: 'Europe/Berlin' }).map((r) => ({ ...r, at: r.at.toISOString() })),
    [
      { type: 'request.deadline_approaching', offsetDays: 7, at: '2025-02-21T08:00:00.000Z' },
      { type: 'request.deadline_approaching', offsetDays: 2, at: '2025-02-26T08:00:00.000Z' },
      { type: 'request.overdue', at: '2025-02-28T23:00:00.000Z' },
    ],
  );

  // due Wed 2 Apr 2025 in Berlin: 7 days before is still CET, 2 days before is already CEST
  const spring = reminderSchedule({ dueDate: '2025-04-02', timeZone: 'Europe/Berlin' });
  t.same(
    spring.map((r) => r.at.toISOString()),
    ['2025-03-26T08:00:00.000Z', '2025-03-31T07:00:00.000Z', '2025-04-02T22:00:00.000Z'],
  );
  for (const r of spring.slice(0, 2)) t.match(wall(r.at, 'Europe/Berlin'), / 09:00:00\.000$/, 'at 09:00 local');

  // tenant offsets, unsorted and duplicated; 0 means the morning of the due date
  const custom = reminderSchedule({ dueDate: '2025-07-16', timeZone: 'Europe/Sofia', offsetsDays: [1, 14, 0, 1] });
  t.same(
    custom.map((r) => [r.type, r.type === 'request.deadline_approaching' ? r.offsetDays : null, r.at.toISOString()]),
    [
      ['request.deadline_approaching', 14, '2025-07-02T06:00:00.000Z'],
      ['request.deadline_approaching', 1, '2025-07-15T06:00:00.000Z'],
      ['request.deadline_approaching', 0, '2025-07-16T06:00:00.000Z'],
      ['request.overdue', null, '2025-07-16T21:00:00.000Z'],
    ],
  );

  // the overdue instant is the first one after due_at
  const d = computeDeadline({ receivedAt: '2025-01-31T10:00:00Z', timeZone: 'Europe/Berlin', policy: 'eu', holidayCalendar: 'DE' });
  if (d.paused) throw new Error('unexpected pause');
  const overdue = reminderSchedule({ dueDate: d.dueDate, timeZone: 'Europe/Berlin' }).at(-1)!;
  t.equal(overdue.type, 'request.overdue');
  t.equal(overdue.at.getTime(), d.dueAt.getTime() + 1);
  t.equal(wall(overdue.at, 'Europe/Berlin'), '2025-03-01 00:00:00.000');

  t.throws(() => reminderSchedule({ dueDate: '2025-02-28', timeZone: 'Europe/Berlin', offsetsDays: [-1] }), RangeError);
});

t.test('bad input is refused', async (t) => {
  const base: DeadlineInput = { receivedAt: '2025-01-31T10:00:00Z', timeZone: 'Europe/Berlin', policy: 'eu', holidayCalendar: 'DE' };
  t.throws(() => computeDeadline({ ...base, receivedAt: '2025-01-31T10:00:00' }), RangeError, 'no offset');
  t.throws(() => computeDeadline({ ...base, receivedAt: 'yesterday' }), RangeError);
  t.throws(() => computeDeadline({ ...base, timeZone: 'Mars/Olympus' }), RangeError);
  t.throws(() => computeDeadline({ ...base, holidayCalendar: 'XX' }), RangeError);
  t.throws(() => computeDeadline({ ...base, holidayCalendar: 'GB-XYZ' }), RangeError);
  t.throws(
    () => computeDeadline({ ...base, pauses: [{ kind: 'identity', from: '2025-02-10T00:00:00Z', to: '2025-02-09T00:00:00Z' }] }),
    RangeError,
    'a pause ending before it starts',
  );
  t.throws(
    () => computeDeadline({ ...base, pauses: [{ kind: 'identity', from: '2025-01-30T00:00:00Z', to: '2025-02-09T00:00:00Z' }] }),
    RangeError,
    'a pause before receipt',
  );
  t.throws(
    () =>
      computeDeadline({
        ...base,
        pauses: [
          { kind: 'identity', from: '2025-02-01T00:00:00Z', to: null },
          { kind: 'clarification', from: '2025-02-02T00:00:00Z', to: null },
        ],
      }),
    RangeError,
    'two open pauses',
  );
  t.equal(computeDeadline({ ...base, receivedAt: new Date('2025-01-31T10:00:00Z') }).dueDate, '2025-02-28', 'Date input');
  t.equal(computeDeadline({ ...base, receivedAt: '2025-02-01T00:30:00+02:00' }).dueDate, '2025-02-28', 'offset input: 00:30 in Sofia is 23:30 on 31 Jan in Berlin');
});
