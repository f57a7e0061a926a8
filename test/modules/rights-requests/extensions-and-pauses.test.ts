// Art. 12(3) and 12(6) on the clock: an extension is decided and told to the person within the first month; proof of
// identity is asked for within it, with the doubts that justify asking.
import t from 'tap';
import { build, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;

// Received Monday 5 January 2026 (UTC tenant): the first deadline is Thursday 5 February, 23:59:59.999Z.
const RECEIVED = '2026-01-05T10:00:00Z';

let seq = 0;
async function open(ta: TestApp, extra: Record<string, unknown> = {}): Promise<Req> {
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: `c${++seq}@example.com` }] }, type: 'access', channel: 'letter', received_at: RECEIVED, ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`);
  return res.json();
}

const act = (ta: TestApp, id: string, action: string, payload: Record<string, unknown>) => ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload });

async function written(ta: TestApp, id: string) {
  const r = await ta.sql.query('SELECT row_to_json(r)::text AS j FROM rights_requests r WHERE id = $1', [id]);
  const e = await ta.sql.query('SELECT count(*)::int AS n FROM rights_request_events WHERE request_id = $1', [id]);
  return [r.rows[0].j, e.rows[0].n];
}

t.test('extend needs subject_informed_at: not in the future, not before receipt, not after the first deadline (Art. 12(3))', async (t) => {
  const now = new Date('2026-02-10T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta);
  t.equal(r.due_date, '2026-02-05');
  const before = await written(ta, r.id);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no subject_informed_at', {}, /expected string/],
    ['told in the future', { subject_informed_at: '2026-02-11T12:00:00Z' }, /future/],
    ['told before the request was received', { subject_informed_at: '2026-01-05T09:59:59Z' }, /before the request was received/],
    ['told after the first deadline', { subject_informed_at: '2026-02-06T00:00:00Z' }, /after the first deadline, 2026-02-05/],
  ];
  for (const [label, extra, message] of cases) {
    const res = await act(ta, r.id, 'extend', { reason: 'Data held in five systems', at: '2026-02-04T10:00:00Z', ...extra });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), ['subject_informed_at'], `${label}: names subject_informed_at`);
    t.match(String(body.detail), message, `${label}: says why`);
  }
  t.same(await written(ta, r.id), before, 'nothing written');

  const ok = await act(ta, r.id, 'extend', { reason: 'Data held in five systems', at: '2026-02-04T10:00:00Z', subject_informed_at: '2026-02-05T23:59:59.999Z' });
  t.equal(ok.statusCode, 200, ok.body);
  t.same([ok.json().extended, ok.json().subject_informed_at, ok.json().due_date], [true, '2026-02-05T23:59:59.999Z', '2026-04-06'], 'told on the last moment of the first month: extended');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.match(trail.at(-1), { action: 'extend', facts: { reason_given: true, subject_informed_at: '2026-02-05T23:59:59.999Z' } }, 'the audit trail keeps when the person was told');

  // The first deadline moves with the days paused (eu): telling the person on 8 February is in time after a 5-day wait.
  const paused = await open(ta);
  await act(ta, paused.id, 'request-identity', { reason: 'Two people of that name', at: '2026-01-10T10:00:00Z' });
  const verified = await act(ta, paused.id, 'identity-verified', { at: '2026-01-15T10:00:00Z' });
  t.equal(verified.json().due_date, '2026-02-10', 'the first deadline after a 5-day pause');
  const late = await act(ta, paused.id, 'extend', { reason: 'Many systems', at: '2026-02-09T10:00:00Z', subject_informed_at: '2026-02-08T10:00:00Z' });
  t.equal(late.statusCode, 200, `within the first month as the pause moved it (${late.body})`);
  t.equal(late.json().due_date, '2026-04-10', 'three months from the start plus the 5 days paused');
});

t.test('an extension decided after the first deadline is refused, whatever subject_informed_at says (Art. 12(3))', async (t) => {
  const now = new Date('2026-02-10T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta);
  const before = await written(ta, r.id);
  const res = await act(ta, r.id, 'extend', { reason: 'Decided too late', at: '2026-02-06T09:00:00Z', subject_informed_at: '2026-02-01T10:00:00Z' });
  t.match(String(assertProblem(t, res, 409, 'TRANSITION_NOT_ALLOWED', 'decided after the first deadline').detail), /first month has run out/);
  const byDefault = await act(ta, r.id, 'extend', { reason: 'Decided today', subject_informed_at: '2026-02-01T10:00:00Z' });
  assertProblem(t, byDefault, 409, 'TRANSITION_NOT_ALLOWED', '`at` defaulting to now, after the first deadline');
  t.same(await written(ta, r.id), before, 'nothing written');
});

t.test('proof of identity asked after the first deadline is refused: the clock cannot be stopped after the fact (Art. 12(3), 12(6))', async (t) => {
  const now = new Date('2026-02-20T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta);
  const before = await written(ta, r.id);
  const late = await act(ta, r.id, 'request-identity', { reason: 'The signature does not match', at: '2026-02-06T00:00:00Z' });
  t.match(String(assertProblem(t, late, 409, 'TRANSITION_NOT_ALLOWED', 'asked after the first deadline').detail), /first deadline \(2026-02-05\) has passed/);
  assertProblem(t, await act(ta, r.id, 'request-identity', { reason: 'The signature does not match' }), 409, 'TRANSITION_NOT_ALLOWED', 'asked now, long after');
  t.same(await written(ta, r.id), before, 'nothing written');
  const inTime = await act(ta, r.id, 'request-identity', { reason: 'The signature does not match', at: '2026-02-05T23:59:59Z' });
  t.equal(inTime.statusCode, 200, `asked on the last day: allowed (${inTime.body})`);
  t.equal(inTime.json().status, 'awaiting_identity');

  // An extended request still has its first deadline: the extension does not reopen the time to ask.
  const extended = await open(ta);
  const ext = await act(ta, extended.id, 'extend', { reason: 'Many systems', at: '2026-01-20T10:00:00Z', subject_informed_at: '2026-01-20T10:00:00Z' });
  t.equal(ext.json().due_date, '2026-04-06');
  const afterFirst = await act(ta, extended.id, 'request-identity', { reason: 'The signature does not match', at: '2026-02-10T10:00:00Z' });
  assertProblem(t, afterFirst, 409, 'TRANSITION_NOT_ALLOWED', 'extended, but asked after the first deadline');

  // uk: proof that restarted the clock gives a new first month; asking again within it is allowed.
  const uk = await ta.newTenant('uk controller');
  await ta.call({ method: 'PATCH', url: '/v1/tenant', tenantId: uk, payload: { deadline_policy: 'uk' } });
  const u = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    tenantId: uk,
    payload: { subject: { identifiers: [{ type: 'email', value: 'uk@example.com' }] }, type: 'access', channel: 'letter', received_at: RECEIVED },
  });
  const uid = u.json().id;
  const call = (action: string, payload: Record<string, unknown>) => ta.call({ method: 'POST', url: `/v1/rights-requests/${uid}/${action}`, tenantId: uk, payload });
  await call('request-identity', { reason: 'A different address', at: '2026-01-10T10:00:00Z' });
  t.equal((await call('identity-verified', { at: '2026-01-20T10:00:00Z' })).json().due_date, '2026-02-20');
  const again = await call('request-identity', { reason: 'The proof sent is expired', at: '2026-02-10T10:00:00Z' });
  t.equal(again.statusCode, 200, `uk: within the restarted month (${again.body})`);
});

t.test('request-identity needs the reasonable doubts, stored sealed and shown (Art. 12(6))', async (t) => {
  const ta = await build(t);
  const r = await open(ta, { received_at: undefined });
  const before = await written(ta, r.id);
  for (const [label, payload] of [
    ['no reason', {}],
    ['a blank reason', { reason: '   ' }],
    ['only a note', { note: 'Asked for an ID card' }],
  ] as const) {
    const body = assertProblem(t, await act(ta, r.id, 'request-identity', payload), 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), ['reason'], `${label}: names reason`);
  }
  t.same(await written(ta, r.id), before, 'nothing written');
  const canary = 'signed as Petrova, the account is Petrov-7731';
  const asked = await act(ta, r.id, 'request-identity', { reason: `The letter is ${canary}` });
  t.equal(asked.statusCode, 200, asked.body);
  t.equal(asked.json().identity_doubt, `The letter is ${canary}`, 'shown, decrypted');
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().identity_doubt, `The letter is ${canary}`);
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.match(trail.at(-1), { action: 'request-identity', facts: { reason_given: true }, note: `The letter is ${canary}` }, 'the audit trail shows it, decrypted');
  const dump = await ta.sql.query(
    `SELECT (SELECT row_to_json(r)::text FROM rights_requests r WHERE id = $1) || (SELECT string_agg(row_to_json(e)::text, ' ') FROM rights_request_events e WHERE request_id = $1) AS j`,
    [r.id],
  );
  t.notMatch(String(dump.rows[0].j), /Petrov-7731/, 'not in plaintext in the request or its trail');
});
