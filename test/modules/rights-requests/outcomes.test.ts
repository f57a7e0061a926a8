// The answer to a request (Art. 12(4)): granted, partially granted or refused, with grounds from the catalogue, the
// reasons, when and how the person was told, and for a refusal the supervisory authority and the judicial remedy.
// The human review of an automated decision (Art. 22(3)).
import t from 'tap';
import { build, createSubject, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;

const AUTHORITY = { name: 'Commission for Personal Data Protection', url: 'https://www.cpdp.bg', address: '2 Prof. Tsvetan Lazarov Blvd, 1592 Sofia' };
const REMEDY = 'An appeal to the Administrative Court of Sofia City within 14 days of this answer';

async function open(ta: TestApp, type = 'access', tenantId?: string, extra: Record<string, unknown> = {}): Promise<Req> {
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    tenantId,
    payload: { subject: { identifiers: [{ type: 'email', value: `${type}-${Math.random()}@example.com` }] }, type, channel: 'email', ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`);
  return res.json();
}

const act = (ta: TestApp, id: string, action: string, payload: Record<string, unknown>, tenantId?: string) =>
  ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload, tenantId });

async function configure(ta: TestApp, tenantId: string) {
  const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', tenantId, payload: { supervisory_authority: AUTHORITY, judicial_remedy: REMEDY } });
  if (res.statusCode !== 200) throw new Error(`configure: ${res.statusCode} ${res.body}`);
}

const trail = async (ta: TestApp, id: string, tenantId?: string) => (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events`, tenantId })).json().items as Req[];

t.test('a refusal gives its grounds and reasons, when and how the person was told, and names the supervisory authority and the judicial remedy (Art. 12(4))', async (t) => {
  const ta = await build(t);
  await configure(ta, ta.tenantId);
  const r = await open(ta, 'erasure');
  const res = await act(ta, r.id, 'reject', {
    grounds: ['art17_3_e_legal_claims', 'art17_3_b_legal_obligation'],
    detail: 'Invoices must be kept for ten years, and a claim about the contract is pending',
    subject_notified_at: r.received_at,
    notified_by: 'letter',
  });
  t.equal(res.statusCode, 200, res.body);
  const outcome = res.json().outcome;
  t.match(outcome, {
    result: 'refused',
    grounds: ['art17_3_e_legal_claims', 'art17_3_b_legal_obligation'],
    detail: 'Invoices must be kept for ten years, and a claim about the contract is pending',
    subject_notified_at: r.received_at,
    notified_by: 'letter',
    human_review: null,
  });
  t.same(outcome.remedies.supervisory_authority, AUTHORITY, 'the supervisory authority from the tenant settings');
  t.equal(outcome.remedies.judicial_remedy, REMEDY, 'the judicial remedy from the tenant settings');
  t.same(outcome.remedies.not_configured, []);
  t.match(outcome.remedies.statement, /Commission for Personal Data Protection \(https:\/\/www\.cpdp\.bg/, 'the statement names the authority');
  t.match(outcome.remedies.statement, /Administrative Court of Sofia City/, 'and the remedy');
  t.same((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().outcome, outcome, 'GET shows the same answer');
  t.match((await trail(ta, r.id)).at(-1), { action: 'reject', facts: { outcome: 'refused', grounds: ['art17_3_e_legal_claims', 'art17_3_b_legal_obligation'], notified_by: 'letter' } });

  // A tenant that has not configured them: the answer says so instead of staying silent.
  const bare = await ta.newTenant('Unconfigured controller');
  const b = await open(ta, 'access', bare);
  const refused = await act(ta, b.id, 'reject', { grounds: ['art11_2_cannot_identify'], detail: 'No record matches', subject_notified_at: b.received_at, notified_by: 'email' }, bare);
  t.equal(refused.statusCode, 200, refused.body);
  const remedies = refused.json().outcome.remedies;
  t.same([remedies.supervisory_authority, remedies.judicial_remedy, remedies.not_configured], [null, null, ['supervisory_authority', 'judicial_remedy']]);
  t.match(remedies.statement, /not configured.*supervisory_authority.*not configured.*judicial_remedy/, 'the statement says what is not configured');
});

t.test('complete: partially_granted needs grounds and names the remedies; granted names none (Art. 12(4))', async (t) => {
  const ta = await build(t);
  await configure(ta, ta.tenantId);
  const partial = await open(ta, 'access');
  const res = await act(ta, partial.id, 'complete', {
    outcome: 'partially_granted',
    grounds: ['art15_4_rights_of_others'],
    resolution: 'Copy sent; the emails of two colleagues were left out',
    subject_notified_at: partial.received_at,
    notified_by: 'email',
  });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json().outcome, { result: 'partially_granted', grounds: ['art15_4_rights_of_others'], resolution: /two colleagues/, notified_by: 'email' });
  t.same(res.json().outcome.remedies.supervisory_authority, AUTHORITY, 'a partial refusal names the authority too');
  t.equal(res.json().status, 'completed');

  const full = await open(ta, 'portability');
  const granted = await act(ta, full.id, 'complete', { subject_notified_at: full.received_at, notified_by: 'web' });
  t.equal(granted.statusCode, 200, granted.body);
  t.match(granted.json().outcome, { result: 'granted', grounds: [], remedies: null, notified_by: 'web' }, 'granted by default, with no remedies to name');
  t.match((await trail(ta, full.id)).at(-1)!.facts, { outcome: 'granted', notified_by: 'web' });
});

t.test('a ground must answer the right asked: Art. 17 grounds for erasure only, Art. 20 for portability, Art. 21(1) for objections', async (t) => {
  const ta = await build(t);
  const access = await open(ta, 'access');
  const told = { subject_notified_at: access.received_at, notified_by: 'email' };
  for (const [label, grounds, field] of [
    ['an Art. 17(3) ground on an access request', ['art17_3_a_expression'], 'grounds.0'],
    ['an Art. 20 ground on an access request', ['art12_5_b_manifestly_unfounded_or_excessive', 'art20_not_applicable'], 'grounds.1'],
    ['an Art. 21(1) ground on an access request', ['art21_1_compelling_grounds'], 'grounds.0'],
  ] as const) {
    const body = assertProblem(t, await act(ta, access.id, 'reject', { grounds, detail: 'x', ...told }), 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), [field], `${label}: names ${field}`);
    t.match(String(body.detail), /does not apply to a access request/);
  }
  const partly = await act(ta, access.id, 'complete', { outcome: 'partially_granted', grounds: ['art17_1_no_ground_applies'], ...told });
  t.same(fields(assertProblem(t, partly, 400, 'VALIDATION_FAILED', 'complete partially with an erasure ground')), ['grounds.0']);
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${access.id}` })).json().status, 'received', 'nothing closed');

  const erasure = await open(ta, 'erasure');
  const ok = await act(ta, erasure.id, 'reject', { grounds: ['art17_3_a_expression', 'art17_3_a_expression'], detail: 'Journalism', subject_notified_at: erasure.received_at, notified_by: 'email' });
  t.equal(ok.statusCode, 200, ok.body);
  t.same(ok.json().outcome.grounds, ['art17_3_a_expression'], 'a ground given twice is kept once');
});

t.test('subject_notified_at: not in the future, not before the request was received (Art. 12(4))', async (t) => {
  const now = new Date('2026-03-10T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const r = await open(ta, 'access', undefined, { received_at: '2026-03-02T09:00:00Z' });
  for (const [label, at, message] of [
    ['in the future', '2026-03-11T12:00:00Z', /future/],
    ['before the request was received', '2026-03-01T09:00:00Z', /before the request was received/],
  ] as const) {
    for (const action of ['complete', 'reject']) {
      const payload = action === 'reject' ? { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'x' } : {};
      const body = assertProblem(t, await act(ta, r.id, action, { ...payload, subject_notified_at: at, notified_by: 'email' }), 400, 'VALIDATION_FAILED', `${action}, told ${label}`);
      t.same(fields(body), ['subject_notified_at']);
      t.match(String(body.detail), message);
    }
  }
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().status, 'received', 'nothing closed');
});

t.test('completing an automated_decision request records the human review: reviewer, the person\'s view and the decision (sealed), whether it changed (Art. 22(3), WP251)', async (t) => {
  const ta = await build(t);
  const subject = await createSubject(ta, 'scored@example.com');
  const r = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'automated_decision', channel: 'web' } })).json();
  const told = { subject_notified_at: r.received_at, notified_by: 'email' };
  const review = { reviewer: 'credit-officer-ivanova', subject_view: 'My salary rose in May: payslip-88213 shows it', decision: 'Credit granted after the payslip was read', decision_changed: true };

  const missing = assertProblem(t, await act(ta, r.id, 'complete', told), 400, 'VALIDATION_FAILED', 'no human review');
  t.same(fields(missing), ['human_review']);
  t.match(String(missing.detail), /Art\. 22\(3\)/);
  for (const key of ['reviewer', 'subject_view', 'decision', 'decision_changed'] as const) {
    const { [key]: _, ...partial } = review;
    const body = assertProblem(t, await act(ta, r.id, 'complete', { ...told, human_review: partial }), 400, 'VALIDATION_FAILED', `no ${key}`);
    t.same(fields(body), [`human_review.${key}`], `names human_review.${key}`);
  }
  const access = await open(ta, 'access');
  const elsewhere = await act(ta, access.id, 'complete', { subject_notified_at: access.received_at, notified_by: 'email', human_review: review });
  t.same(fields(assertProblem(t, elsewhere, 400, 'VALIDATION_FAILED', 'a human review on an access request')), ['human_review']);

  const done = await act(ta, r.id, 'complete', { ...told, human_review: review });
  t.equal(done.statusCode, 200, done.body);
  t.same(done.json().outcome.human_review, review, 'shown, decrypted');
  t.equal(done.json().status, 'completed');
  t.same((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().outcome.human_review, review);
  t.match((await trail(ta, r.id)).at(-1)!.facts, { human_review: true, reviewer: 'credit-officer-ivanova', decision_changed: true }, 'the audit trail keeps who and whether it changed');
  const dump = await ta.sql.query(
    `SELECT (SELECT row_to_json(r)::text FROM rights_requests r WHERE id = $1) || (SELECT string_agg(row_to_json(e)::text, ' ') FROM rights_request_events e WHERE request_id = $1) AS j`,
    [r.id],
  );
  t.notMatch(String(dump.rows[0].j), /payslip-88213|after the payslip/, "the person's view and the decision are not stored in plaintext");
});
