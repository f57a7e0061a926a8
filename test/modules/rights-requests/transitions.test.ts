// The request state machine: every transition allowed and refused, the extension rules, `at`, the two policies
// for pauses, and what each transition writes to the outbox (in the same transaction).
import t from 'tap';
import { build, type TestApp } from '../../helper.js';
import { assertProblem } from '../../helpers/problem.js';
import { computeDeadline } from '../../../src/modules/rights-requests/rights-requests.deadlines.js';
import { TRANSITION_ACTIONS, TRANSITIONS, transitionSentence, transitionsMarkdown } from '../../../src/modules/rights-requests/rights-requests.transitions.js';

type Req = Record<string, any>;
const REMINDERS = `('request.deadline_approaching', 'request.overdue')`;

// The body each action is tried with; the instants the law asks for are taken from the request itself, so they are
// valid whatever the test's clock says.
const BODIES = {
  'request-identity': () => ({ reason: 'The signature does not match the one on file', note: 'Asked for a copy of an ID card' }),
  'identity-verified': () => ({}),
  'request-clarification': () => ({ note: 'Which years?' }),
  'clarification-received': () => ({}),
  extend: (r: Req) => ({ reason: 'Data held in five systems', subject_informed_at: r.received_at }),
  reject: (r: Req) => ({ grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'The fifth identical request this month', subject_notified_at: r.received_at, notified_by: 'email' }),
  complete: (r: Req) => ({ resolution: 'Answered by letter', subject_notified_at: r.received_at, notified_by: 'letter' }),
  withdraw: () => ({ note: 'The subject changed their mind' }),
  assign: () => ({ assignee: 'dpo-anna' }),
  comment: () => ({ note: 'Called the subject' }),
  approve: () => ({ identity: 'verified', erasure_ground: 'no_longer_necessary' }),
} satisfies Record<string, (r: Req) => Record<string, unknown>>;
type Action = keyof typeof BODIES;

let seq = 0;
async function open(ta: TestApp, extra: Record<string, unknown> = {}, tenantId?: string): Promise<Req> {
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    tenantId,
    payload: { subject: { identifiers: [{ type: 'email', value: `p${++seq}@example.com` }] }, type: 'access', channel: 'email', ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function get(ta: TestApp, id: string, tenantId?: string): Promise<Req> {
  return (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}`, tenantId })).json();
}

/** The action with `payload`, or with its usual body (BODIES) for the request as it stands. */
async function act(ta: TestApp, id: string, action: string, payload?: Record<string, unknown>, tenantId?: string) {
  const body = payload ?? (action in BODIES ? BODIES[action as Action](await get(ta, id, tenantId)) : {});
  return ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload: body, tenantId });
}

async function must(ta: TestApp, id: string, action: string, payload?: Record<string, unknown>, tenantId?: string): Promise<Req> {
  const res = await act(ta, id, action, payload, tenantId);
  if (res.statusCode !== 200) throw new Error(`${action}: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** Everything a transition could touch: the request, its audit trail and its outbox rows. */
async function snapshot(ta: TestApp, id: string) {
  const request = (await ta.sql.query('SELECT row_to_json(r)::text AS j FROM rights_requests r WHERE id = $1', [id])).rows[0].j as string;
  const events = (await ta.sql.query('SELECT action FROM rights_request_events WHERE request_id = $1 ORDER BY seq', [id])).rows.map((r) => r.action as string);
  const outbox = (await ta.sql.query('SELECT id, status, payload FROM outbox WHERE ref_id = $1 ORDER BY id', [id])).rows;
  return { request, events, outbox };
}

const fields = (body: Record<string, unknown>) => ((body.errors as { field: string }[] | undefined) ?? []).map((e) => e.field);

// The starting states, each reached through the API.
const STATES = {
  received: (ta) => open(ta),
  awaiting_identity: async (ta) => must(ta, (await open(ta)).id, 'request-identity'),
  in_progress: async (ta) => must(ta, (await open(ta)).id, 'assign', { assignee: 'dpo-boris' }),
  'paused for clarification (received)': async (ta) => must(ta, (await open(ta)).id, 'request-clarification'),
  'paused for clarification (in_progress)': async (ta) => {
    const r = await must(ta, (await open(ta)).id, 'assign', { assignee: 'dpo-boris' });
    return must(ta, r.id, 'request-clarification');
  },
  completed: async (ta) => must(ta, (await open(ta)).id, 'complete'),
  rejected: async (ta) => must(ta, (await open(ta)).id, 'reject'),
  withdrawn: async (ta) => must(ta, (await open(ta)).id, 'withdraw'),
  'withdrawn while paused for clarification': async (ta) => must(ta, (await must(ta, (await open(ta)).id, 'request-clarification')).id, 'withdraw'),
  'rejected while awaiting identity': async (ta) => must(ta, (await must(ta, (await open(ta)).id, 'request-identity')).id, 'reject'),
} satisfies Record<string, (ta: TestApp) => Promise<Req>>;
type State = keyof typeof STATES;

// Expected outcome: [new status, paused afterwards] or null for a 409. A closed request is never paused.
type Outcome = [string, boolean] | null;
const R = (s: string, paused = false): Outcome => [s, paused];
const X = null;
const CLOSED: State[] = ['completed', 'rejected', 'withdrawn', 'withdrawn while paused for clarification', 'rejected while awaiting identity'];

const TABLE: Record<Action, Partial<Record<State, Outcome>>> = {
  'request-identity': { received: R('awaiting_identity', true), in_progress: R('awaiting_identity', true) },
  'identity-verified': { awaiting_identity: R('in_progress') },
  'request-clarification': { received: R('received', true), in_progress: R('in_progress', true) },
  'clarification-received': { 'paused for clarification (received)': R('received'), 'paused for clarification (in_progress)': R('in_progress') },
  extend: {
    received: R('received'),
    awaiting_identity: R('awaiting_identity', true),
    in_progress: R('in_progress'),
    'paused for clarification (received)': R('received', true),
    'paused for clarification (in_progress)': R('in_progress', true),
  },
  reject: {
    received: R('rejected'),
    awaiting_identity: R('rejected'),
    in_progress: R('rejected'),
    'paused for clarification (received)': R('rejected'),
    'paused for clarification (in_progress)': R('rejected'),
  },
  complete: { received: R('completed'), in_progress: R('completed') },
  withdraw: {
    received: R('withdrawn'),
    awaiting_identity: R('withdrawn'),
    in_progress: R('withdrawn'),
    'paused for clarification (received)': R('withdrawn'),
    'paused for clarification (in_progress)': R('withdrawn'),
  },
  assign: {
    received: R('in_progress'),
    awaiting_identity: R('awaiting_identity', true),
    in_progress: R('in_progress'),
    'paused for clarification (received)': R('in_progress', true),
    'paused for clarification (in_progress)': R('in_progress', true),
  },
  // Only an erasure awaiting approval is approved (test/modules/tasks/erasure.test.ts); never these requests.
  approve: {},
  // A note may be added to the audit trail in any state, closed ones included; it changes nothing.
  comment: {
    received: R('received'),
    awaiting_identity: R('awaiting_identity', true),
    in_progress: R('in_progress'),
    'paused for clarification (received)': R('received', true),
    'paused for clarification (in_progress)': R('in_progress', true),
    completed: R('completed'),
    rejected: R('rejected'),
    withdrawn: R('withdrawn'),
    'withdrawn while paused for clarification': R('withdrawn'),
    'rejected while awaiting identity': R('rejected'),
  },
};

t.test('every transition from every state: allowed → 200 and the new status; refused → 409 and nothing written', async (t) => {
  const ta = await build(t);
  let allowed = 0;
  let refused = 0;
  for (const action of Object.keys(BODIES) as Action[]) {
    for (const state of Object.keys(STATES) as State[]) {
      const expected = TABLE[action][state] ?? X;
      const label = `${action} from ${state}`;
      const start = await STATES[state](ta);
      const before = await snapshot(ta, start.id);
      const res = await act(ta, start.id, action);
      const after = await snapshot(ta, start.id);
      if (expected === null) {
        refused++;
        const body = assertProblem(t, res, 409, 'TRANSITION_NOT_ALLOWED', label);
        t.match(String(body.detail), new RegExp(`Cannot ${action}`), `${label}: the detail says what was refused`);
        t.same(after, before, `${label}: the request, its audit trail and its outbox are unchanged`);
        continue;
      }
      allowed++;
      t.equal(res.statusCode, 200, `${label}: 200 (${res.body.slice(0, 200)})`);
      const r = res.json();
      t.equal(r.status, expected[0], `${label}: status ${expected[0]}`);
      t.equal(r.paused, expected[1], `${label}: paused ${expected[1]}`);
      if (expected[1] && !CLOSED.includes(state) && !['completed', 'rejected', 'withdrawn'].includes(expected[0])) {
        t.equal(r.due_date, null, `${label}: no due date while paused`);
      }
      t.same(after.events, [...before.events, action], `${label}: one audit event, for ${action}`);
      const changed = before.request !== after.request;
      if (action === 'comment') t.same(JSON.parse(after.request).status, JSON.parse(before.request).status, `${label}: a comment changes no state`);
      else t.ok(changed, `${label}: the request changed`);
      const closedNow = ['completed', 'rejected', 'withdrawn'].includes(expected[0]) && !CLOSED.includes(state);
      if (closedNow) t.type(r.closed_at, 'string', `${label}: closed_at is set`);
      if (action === 'extend') t.equal(r.extended, true);
      if (action === 'reject') {
        t.same([r.outcome?.result, r.outcome?.grounds, r.outcome?.detail], ['refused', ['art12_5_b_manifestly_unfounded_or_excessive'], 'The fifth identical request this month']);
      }
      if (action === 'complete') t.same([r.outcome?.result, r.outcome?.resolution, r.outcome?.notified_by], ['granted', 'Answered by letter', 'letter']);
      if (action === 'assign') t.equal(r.assignee, 'dpo-anna');
    }
  }
  t.equal(allowed + refused, 110, 'eleven actions from ten starting states');
  t.equal(allowed, 39);
});

t.test('extend: once only, within the first month, with a reason', async (t) => {
  let now = new Date('2026-01-20T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta, { received_at: '2026-01-05T10:00:00Z' });
  t.equal(r.due_date, '2026-02-05');

  const noReason = await act(ta, r.id, 'extend', {});
  t.ok(fields(assertProblem(t, noReason, 400, 'VALIDATION_FAILED', 'no reason')).includes('reason'), 'the problem names reason');
  const blank = await act(ta, r.id, 'extend', { reason: '   ' });
  t.ok(fields(assertProblem(t, blank, 400, 'VALIDATION_FAILED', 'a blank reason')).includes('reason'));

  const before = await snapshot(ta, r.id);
  t.same(before.events, ['created'], 'refused bodies wrote nothing');
  const ext = await must(ta, r.id, 'extend', { reason: 'Data held in five systems', subject_informed_at: '2026-01-19T09:00:00Z' });
  t.equal(ext.extended, true);
  t.equal(ext.extension_reason, 'Data held in five systems');
  t.equal(ext.due_date, '2026-04-06', 'three months from 5 January: Sunday 5 April → Monday 6 April');
  t.equal(ext.status, 'received', 'extending does not change the status');

  const mid = await snapshot(ta, r.id);
  const twice = await act(ta, r.id, 'extend', { reason: 'Still more systems', subject_informed_at: '2026-01-19T09:00:00Z' });
  const body = assertProblem(t, twice, 409, 'TRANSITION_NOT_ALLOWED', 'a second extension');
  t.match(String(body.detail), /only once/);
  t.same(await snapshot(ta, r.id), mid, 'the second extension changed nothing');

  // After the first month has run out (its due_at is 5 Feb 23:59:59.999 UTC).
  now = new Date('2026-03-01T12:00:00Z');
  const late = await open(ta, { received_at: '2026-01-05T10:00:00Z' });
  const lateSnap = await snapshot(ta, late.id);
  const tooLate = await act(ta, late.id, 'extend', { reason: 'x', at: '2026-02-06T00:00:00Z', subject_informed_at: '2026-02-01T00:00:00Z' });
  t.match(String(assertProblem(t, tooLate, 409, 'TRANSITION_NOT_ALLOWED', 'at after the first month').detail), /first month/);
  const tooLateNow = await act(ta, late.id, 'extend', { reason: 'x', subject_informed_at: '2026-02-01T00:00:00Z' });
  assertProblem(t, tooLateNow, 409, 'TRANSITION_NOT_ALLOWED', 'now (the clock) after the first month');
  t.same(await snapshot(ta, late.id), lateSnap, 'refused extensions wrote nothing');
  const lastMoment = await act(ta, late.id, 'extend', { reason: 'Decided on the last day', at: '2026-02-05T23:59:59Z', subject_informed_at: '2026-02-05T23:59:59Z' });
  t.equal(lastMoment.statusCode, 200, `on the last day of the first month: allowed (${lastMoment.body})`);
  t.equal(lastMoment.json().due_date, '2026-04-06');
  t.equal(lastMoment.json().overdue, false, 'not overdue any more on 1 March');
});

t.test('reject and complete: the grounds, the reasons and how the person was told are checked (Art. 12(4)); the legacy ground still maps', async (t) => {
  const ta = await build(t);
  const r = await open(ta);
  const before = await snapshot(ta, r.id);
  const told = { subject_notified_at: r.received_at, notified_by: 'email' };
  const why = { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'Too many', ...told };
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['reject', 'no detail', { ...why, detail: undefined }, 'detail'],
    ['reject', 'no grounds', { ...why, grounds: undefined }, 'grounds'],
    ['reject', 'empty grounds', { ...why, grounds: [] }, 'grounds'],
    ['reject', 'an unknown ground', { ...why, grounds: ['boring'] }, 'grounds.0'],
    ['reject', 'a blank detail', { ...why, detail: '  ' }, 'detail'],
    ['reject', 'the legacy legal_exemption alone (it names no article)', { ...why, grounds: undefined, ground: 'legal_exemption' }, 'grounds'],
    ['reject', 'an outcome other than refused', { ...why, outcome: 'granted' }, 'outcome'],
    ['reject', 'no subject_notified_at', { ...why, subject_notified_at: undefined }, 'subject_notified_at'],
    ['reject', 'an unknown notified_by', { ...why, notified_by: 'fax' }, 'notified_by'],
    ['complete', 'no subject_notified_at', { notified_by: 'email' }, 'subject_notified_at'],
    ['complete', 'no notified_by', { subject_notified_at: r.received_at }, 'notified_by'],
    ['complete', 'partially_granted without grounds', { ...told, outcome: 'partially_granted' }, 'grounds'],
    ['complete', 'granted with grounds', { ...told, outcome: 'granted', grounds: ['art15_4_rights_of_others'] }, 'grounds'],
    ['complete', 'refused (that is reject)', { ...told, outcome: 'refused' }, 'outcome'],
    ['comment', 'no note', {}, 'note'],
    ['assign', 'no assignee', {}, 'assignee'],
    ['withdraw', 'an unknown field', { reason: 'x' }, 'reason'],
  ];
  for (const [action, label, payload, field] of cases) {
    const res = await act(ta, r.id, action, JSON.parse(JSON.stringify(payload)));
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', `${action} with ${label}`);
    t.ok(fields(body).includes(field), `${action} with ${label}: names ${field} (${JSON.stringify(body.errors)})`);
  }
  t.same(await snapshot(ta, r.id), before, 'nothing was written');
  const legacy: [string, string[], Record<string, unknown>][] = [
    ['manifestly_unfounded', ['art12_5_b_manifestly_unfounded_or_excessive'], {}],
    ['excessive', ['art12_5_b_manifestly_unfounded_or_excessive'], {}],
    ['identity_not_verified', ['art11_2_cannot_identify'], {}],
    ['legal_exemption', ['art23_restriction'], { grounds: ['art23_restriction'] }],
  ];
  for (const [ground, grounds, extra] of legacy) {
    const x = await open(ta);
    const done = await must(ta, x.id, 'reject', { ground, detail: `Because ${ground}`, subject_notified_at: x.received_at, notified_by: 'letter', ...extra });
    t.same(
      [done.status, done.rejection_ground, done.outcome.result, done.outcome.grounds, done.outcome.ground, done.outcome.detail],
      ['rejected', ground, 'refused', grounds, ground, `Because ${ground}`],
      `the legacy ground ${ground} maps onto ${grounds}`,
    );
  }
  const unassign = await must(ta, (await open(ta)).id, 'assign', { assignee: null });
  t.same([unassign.status, unassign.assignee], ['received', null], 'assigning nobody leaves a received request received');
});

t.test('`at`: not in the future, not before the previous transition', async (t) => {
  const now = new Date('2026-02-20T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta, { received_at: '2026-02-02T10:00:00Z' });
  const snap0 = await snapshot(ta, r.id);
  const future = await act(ta, r.id, 'assign', { assignee: 'dpo-anna', at: '2026-02-20T13:00:00Z' });
  t.same(fields(assertProblem(t, future, 400, 'VALIDATION_FAILED', 'at in the future')), ['at']);
  const beforeReceipt = await act(ta, r.id, 'request-identity', { reason: 'x', at: '2026-02-01T10:00:00Z' });
  t.same(fields(assertProblem(t, beforeReceipt, 400, 'VALIDATION_FAILED', 'at before the receipt')), ['at']);
  t.same(await snapshot(ta, r.id), snap0, 'nothing written');

  const assigned = await must(ta, r.id, 'assign', { assignee: 'dpo-anna', at: '2026-02-05T10:00:00Z' });
  t.equal(assigned.status, 'in_progress');
  const snap1 = await snapshot(ta, r.id);
  for (const action of ['request-identity', 'comment', 'complete', 'withdraw'] as const) {
    const res = await act(ta, r.id, action, { ...BODIES[action](r), at: '2026-02-04T10:00:00Z' });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', `${action} at a time before the previous transition`);
    t.same(fields(body), ['at'], `${action}: names at`);
  }
  t.same(await snapshot(ta, r.id), snap1, 'nothing written');
  const same = await act(ta, r.id, 'request-identity', { reason: 'x', at: '2026-02-05T10:00:00Z' });
  t.equal(same.statusCode, 200, 'the same instant as the previous transition is fine');
  const events = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` });
  t.same(events.json().items.map((e: Req) => e.at), ['2026-02-02T10:00:00.000Z', '2026-02-05T10:00:00.000Z', '2026-02-05T10:00:00.000Z'], 'the trail keeps the given times');
});

t.test('pauses: identity under eu and uk, clarification eu exclusive and uk inclusive', async (t) => {
  const now = new Date('2026-02-20T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const uk = await ta.newTenant('A controller under the uk policy');
  const patched = await ta.call({ method: 'PATCH', url: '/v1/tenant', tenantId: uk, payload: { deadline_policy: 'uk' } });
  t.equal(patched.statusCode, 200, patched.body);
  t.equal(patched.json().deadline_policy, 'uk');
  const receivedAt = '2026-02-02T10:00:00Z'; // Monday 2 Feb → Monday 2 March
  const expectDue = (policy: 'eu' | 'uk', pauses: { kind: 'identity' | 'clarification'; from: string; to: string }[]) =>
    computeDeadline({ receivedAt, timeZone: 'UTC', policy, holidayCalendar: null, pauses }).dueDate;
  const pendingReminders = async (id: string) =>
    Number((await ta.sql.query(`SELECT count(*) FROM outbox WHERE ref_id = $1 AND status = 'pending' AND payload->>'type' IN ${REMINDERS}`, [id])).rows[0].count);

  // eu: the identity wait pauses the clock for the days waited.
  const eu = await open(ta, { received_at: receivedAt });
  t.equal(eu.due_date, '2026-03-02');
  const waiting = await must(ta, eu.id, 'request-identity', { reason: 'The address differs from the one on file', at: '2026-02-04T10:00:00Z' });
  t.same([waiting.status, waiting.paused, waiting.due_date, waiting.due_at, waiting.overdue], ['awaiting_identity', true, null, null, false], 'while paused: no due date');
  const got = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${eu.id}` })).json();
  t.same([got.paused, got.due_date], [true, null], 'GET says paused too');
  t.equal(await pendingReminders(eu.id), 0, 'no reminder is pending while paused');
  const verified = await must(ta, eu.id, 'identity-verified', { at: '2026-02-14T10:00:00Z' });
  t.same([verified.status, verified.paused], ['in_progress', false]);
  t.equal(verified.due_date, '2026-03-12', 'eu: proof 10 days after asking moves the deadline by 10 days (2 → 12 March)');
  t.equal(verified.due_date, expectDue('eu', [{ kind: 'identity', from: '2026-02-04T10:00:00Z', to: '2026-02-14T10:00:00Z' }]));
  t.equal(verified.due_at, '2026-03-12T23:59:59.999Z');
  t.equal(await pendingReminders(eu.id), 3, 'the reminders are back, for the new deadline');

  // uk: the month restarts on the day the proof arrives.
  const u = await open(ta, { received_at: receivedAt }, uk);
  await must(ta, u.id, 'request-identity', { reason: 'The address differs from the one on file', at: '2026-02-04T10:00:00Z' }, uk);
  const uv = await must(ta, u.id, 'identity-verified', { at: '2026-02-17T10:00:00Z' }, uk);
  t.equal(uv.due_date, '2026-03-17', 'uk: one month from the proof day, 17 Feb → 17 March');
  t.equal(uv.due_date, expectDue('uk', [{ kind: 'identity', from: '2026-02-04T10:00:00Z', to: '2026-02-17T10:00:00Z' }]));
  t.not(uv.due_date, expectDue('eu', [{ kind: 'identity', from: '2026-02-04T10:00:00Z', to: '2026-02-17T10:00:00Z' }]), 'which is not what eu would give');

  // Clarification: eu counts the days strictly between, uk both ends.
  const clar = { from: '2026-02-05T10:00:00Z', to: '2026-02-15T10:00:00Z' };
  const ce = await open(ta, { received_at: receivedAt });
  const cePaused = await must(ta, ce.id, 'request-clarification', { at: clar.from });
  t.same([cePaused.status, cePaused.paused, cePaused.due_date], ['received', true, null], 'clarification pause: the status stays, the clock stops');
  assertProblem(t, await act(ta, ce.id, 'complete'), 409, 'TRANSITION_NOT_ALLOWED', 'complete while a clarification is awaited');
  const ceDone = await must(ta, ce.id, 'clarification-received', { at: clar.to });
  t.equal(ceDone.due_date, '2026-03-11', 'eu: 5 → 15 Feb is 9 days (exclusive) → 11 March');
  t.equal(ceDone.due_date, expectDue('eu', [{ kind: 'clarification', ...clar }]));
  const cu = await open(ta, { received_at: receivedAt }, uk);
  await must(ta, cu.id, 'request-clarification', { at: clar.from }, uk);
  const cuDone = await must(ta, cu.id, 'clarification-received', { at: clar.to }, uk);
  t.equal(cuDone.due_date, '2026-03-13', 'uk: 5 → 15 Feb is 11 days (inclusive) → 13 March');
  t.equal(cuDone.due_date, expectDue('uk', [{ kind: 'clarification', ...clar }]));

  // The same day: eu adds nothing, uk one day.
  const sameDay = { from: '2026-02-05T09:00:00Z', to: '2026-02-05T17:00:00Z' };
  const se = await open(ta, { received_at: receivedAt });
  await must(ta, se.id, 'request-clarification', { at: sameDay.from });
  t.equal((await must(ta, se.id, 'clarification-received', { at: sameDay.to })).due_date, '2026-03-02', 'eu: a same-day answer adds nothing');
  const su = await open(ta, { received_at: receivedAt }, uk);
  await must(ta, su.id, 'request-clarification', { at: sameDay.from }, uk);
  t.equal((await must(ta, su.id, 'clarification-received', { at: sameDay.to }, uk)).due_date, '2026-03-03', 'uk: a same-day answer adds one day');

  // One pause at a time.
  const both = await open(ta, { received_at: receivedAt });
  await must(ta, both.id, 'request-clarification', { at: clar.from });
  assertProblem(t, await act(ta, both.id, 'request-identity'), 409, 'TRANSITION_NOT_ALLOWED', 'identity while paused for clarification');
  assertProblem(t, await act(ta, both.id, 'request-clarification'), 409, 'TRANSITION_NOT_ALLOWED', 'clarification twice');
});

t.test('closing cancels the pending reminders; transitions write their outbox events in the same transaction', async (t) => {
  const now = new Date('2026-02-10T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const reminders = async (id: string) =>
    (await ta.sql.query(`SELECT status, count(*)::int AS n FROM outbox WHERE ref_id = $1 AND payload->>'type' IN ${REMINDERS} GROUP BY status ORDER BY status`, [id])).rows.map(
      (r) => [r.status, r.n],
    );

  for (const [action, payload] of [
    ['complete', { resolution: 'Sent', subject_notified_at: '2026-02-10T09:00:00Z', notified_by: 'email' }],
    ['reject', { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'Not a request about personal data', subject_notified_at: '2026-02-10T09:00:00Z', notified_by: 'email' }],
    ['withdraw', {}],
  ] as const) {
    const r = await open(ta, { received_at: '2026-02-09T10:00:00Z' });
    t.same(await reminders(r.id), [['pending', 3]], `${action}: three reminders pending before`);
    await must(ta, r.id, 'comment', { note: 'Looking into it' });
    t.same(await reminders(r.id), [['pending', 3]], `${action}: a comment leaves them alone`);
    await must(ta, r.id, action, payload);
    const pending = await ta.sql.query(`SELECT count(*) FROM outbox WHERE ref_id = $1 AND payload->>'type' IN ${REMINDERS} AND status = 'pending'`, [r.id]);
    t.equal(Number(pending.rows[0].count), 0, `${action}: no reminder left pending`);
    t.same(await reminders(r.id), [['cancelled', 3]], `${action}: all three cancelled`);
  }

  // A whole life: created → request-identity → identity-verified → extend → comment → complete.
  const r = await open(ta, { received_at: '2026-02-09T10:00:00Z' });
  await must(ta, r.id, 'request-identity');
  await must(ta, r.id, 'identity-verified');
  await must(ta, r.id, 'extend');
  await must(ta, r.id, 'comment');
  const events = async () =>
    (await ta.sql.query(`SELECT payload FROM outbox WHERE ref_id = $1 AND payload->>'type' NOT IN ${REMINDERS} ORDER BY created_at, payload->>'type'`, [r.id])).rows.map(
      (x) => x.payload as { type: string; data: Record<string, unknown> },
    );
  const counts = async () => {
    const out: Record<string, number> = {};
    for (const e of await events()) out[e.type] = (out[e.type] ?? 0) + 1;
    return out;
  };
  t.same(await counts(), { 'request.created': 1, 'request.status_changed': 2, 'request.extended': 1 }, 'before completion');

  // Make the outbox refuse request.completed: the completion must roll back as a whole.
  await ta.sql.query(`CREATE FUNCTION refuse_completed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.payload->>'type' = 'request.completed' THEN RAISE EXCEPTION 'outbox refuses'; END IF; RETURN NEW; END $$`);
  await ta.sql.query('CREATE TRIGGER refuse_completed BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_completed()');
  const before = await snapshot(ta, r.id);
  const failed = await act(ta, r.id, 'complete');
  t.equal(failed.statusCode, 500, 'the completion fails when its event cannot be written');
  t.same(await snapshot(ta, r.id), before, 'and nothing of it remains: status, audit trail, reminders and events roll back together');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().status, 'in_progress');
  await ta.sql.query('DROP TRIGGER refuse_completed ON outbox');

  const done = await must(ta, r.id, 'complete');
  t.equal(done.status, 'completed');
  t.same(await counts(), { 'request.created': 1, 'request.status_changed': 3, 'request.extended': 1, 'request.completed': 1 }, 'after completion');
  const changes = (await events()).filter((e) => e.type === 'request.status_changed').map((e) => [e.data.from, e.data.to, e.data.request_id]);
  t.same(changes, [
    ['received', 'awaiting_identity', r.id],
    ['awaiting_identity', 'in_progress', r.id],
    ['in_progress', 'completed', r.id],
  ], 'request.status_changed carries from and to');
  const completed = (await events()).find((e) => e.type === 'request.completed')!;
  t.match(completed.data, { request_id: r.id, status: 'completed', request_type: 'access' });
  const extended = (await events()).find((e) => e.type === 'request.extended')!;
  t.match(extended.data, { request_id: r.id, due_date: '2026-05-11' }, 'request.extended carries the new due date (9 Feb + 3 months = Sat 9 May → Mon 11 May)');
  t.same(await reminders(r.id), [['cancelled', 9]], 'every reminder of every deadline it had is cancelled');
  const eventsTrail = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` });
  t.same(eventsTrail.json().items.map((e: Req) => e.action), ['created', 'request-identity', 'identity-verified', 'extend', 'comment', 'complete']);
});

t.test('the transition table drives the documented operations: one per action, each saying where it is allowed and where it leads', async (t) => {
  const ta = await build(t);
  const spec = ta.app.swagger() as unknown as { paths: Record<string, Record<string, { operationId: string; description: string }>> };
  for (const action of TRANSITION_ACTIONS) {
    const op = spec.paths[`/v1/rights-requests/{id}/${action}`]?.post;
    t.ok(op, `${action} is an operation`);
    t.equal(op?.operationId, TRANSITIONS[action].operationId);
    t.ok(op?.description.startsWith(transitionSentence(action)), `${action}: the description opens with the table's sentence`);
  }
  const rows = transitionsMarkdown().split('\n').slice(2);
  t.same(rows.map((r) => /^\| `([a-z-]+)`/.exec(r)?.[1]), TRANSITION_ACTIONS, 'the README table has one row per action, in order');
  t.same(Object.keys(BODIES).sort(), [...TRANSITION_ACTIONS].sort(), 'and this file tries every action');
});
