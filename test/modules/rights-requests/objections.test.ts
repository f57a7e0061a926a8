// Objection requests (Art. 21): to direct marketing, absolute and at once, for every such purpose or those named;
// to other processing, assessed: upheld on completion, refused with compelling legitimate grounds; meanwhile the
// processing may be restricted (Art. 18(1)(d)).
import t, { type Test } from 'tap';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;

async function setup(t: Test) {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'offers', { direct_marketing: true });
  const li = (key: string) =>
    createPurpose(ta, key, {
      legal_basis: 'legitimate_interests',
      translations: { en: { title: `Title of ${key}`, description: `Why ${key}`, legitimate_interests: 'Understanding how our shop is used' } },
    });
  await li('analytics');
  await li('fraud-scoring');
  return ta;
}

async function check(ta: TestApp, purpose: string, email: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json().results[0].reason;
}

const post = (ta: TestApp, payload: Record<string, unknown>) => ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { channel: 'email', ...payload } });

async function object(ta: TestApp, subject: string, extra: Record<string, unknown>): Promise<Req> {
  const res = await post(ta, { subject: { id: subject }, type: 'objection', ...extra });
  if (res.statusCode !== 201) throw new Error(`object: ${res.statusCode} ${res.body}`);
  return res.json();
}

const act = (ta: TestApp, id: string, action: string, payload: Record<string, unknown>) => ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload });
const restricted = async (ta: TestApp, subject: string) => (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().restricted as boolean;
const objections = async (ta: TestApp, requestId: string) =>
  (await ta.sql.query('SELECT purpose_key, status FROM objections WHERE request_id = $1 ORDER BY purpose_key', [requestId])).rows.map((r) => [r.purpose_key, r.status]);

t.test('an objection request says what it objects to: processing names its purposes, restrict_meanwhile only for processing (Art. 21, 18(1)(d))', async (t) => {
  const ta = await setup(t);
  const subject = await createSubject(ta, 'o@example.com');
  for (const [label, payload, field] of [
    ['processing without purposes', { type: 'objection', objection: { scope: 'processing' } }, 'objection.purposes'],
    ['an unknown scope', { type: 'objection', objection: { scope: 'everything' } }, 'objection.scope'],
    ['restrict_meanwhile for direct marketing', { type: 'objection', objection: { scope: 'direct_marketing' }, restrict_meanwhile: true }, 'restrict_meanwhile'],
    ['an objection on an access request', { type: 'access', objection: { scope: 'direct_marketing' } }, 'objection'],
    ['restrict_meanwhile on a restriction request', { type: 'restriction', restriction_ground: 'accuracy_contested', restrict_meanwhile: true }, 'restrict_meanwhile'],
  ] as const) {
    const body = assertProblem(t, await post(ta, { subject: { id: subject }, ...payload }), 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), [field], `${label}: names ${field}`);
  }
  const unknown = await post(ta, { subject: { id: subject }, type: 'objection', objection: { scope: 'processing', purposes: ['analytics', 'no-such-purpose'] } });
  assertProblem(t, unknown, 422, 'UNKNOWN_PURPOSE', 'an unknown purpose');
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 0, 'nothing created');
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM objections')).rows[0].count), 0, 'no objection recorded');
});

t.test('an objection to direct marketing for the purposes named is recorded at once and the request completes (Art. 21(2)-(3))', async (t) => {
  const ta = await setup(t);
  const email = 'dm@example.com';
  const subject = await createSubject(ta, email);
  for (const p of ['newsletter', 'offers']) await grant(ta, subject, p);
  const r = await object(ta, subject, { objection: { scope: 'direct_marketing', purposes: ['newsletter'] } });
  t.same([r.status, r.outcome.result, r.objection], ['completed', 'granted', { scope: 'direct_marketing', purposes: ['newsletter'] }]);
  t.equal(await check(ta, 'newsletter', email), 'objected', 'the purpose named answers objected at once');
  t.equal(await check(ta, 'offers', email), 'consent_granted', 'another direct-marketing purpose is untouched');

  const all = await object(ta, subject, { objection: { scope: 'direct_marketing' } });
  t.same([all.status, all.objection], ['completed', { scope: 'direct_marketing', purposes: null }], 'no purposes: every direct-marketing purpose');
  t.equal(await check(ta, 'offers', email), 'objected');
});

t.test('an objection to processing stays open; completing upholds it, refusing with compelling grounds refuses it (Art. 21(1))', async (t) => {
  const ta = await setup(t);
  const email = 'li@example.com';
  const subject = await createSubject(ta, email);
  t.equal(await check(ta, 'analytics', email), 'legal_basis', 'before: allowed on legitimate interests');

  const r = await object(ta, subject, { objection: { scope: 'processing', purposes: ['analytics', 'fraud-scoring'] } });
  t.same([r.status, r.closed_at, r.objection], ['in_progress', null, { scope: 'processing', purposes: ['analytics', 'fraud-scoring'] }], 'open for the assessment');
  t.type(r.due_date, 'string', 'with its deadline');
  t.same(await objections(ta, r.id), [['analytics', 'pending'], ['fraud-scoring', 'pending']], 'pending objections, tied to the request');
  t.equal(await check(ta, 'analytics', email), 'legal_basis', 'pending: processing goes on (no restriction asked)');
  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.match(events[1], { action: 'effect_applied', to_status: 'in_progress', facts: { objection: 'pending', purposes: ['analytics', 'fraud-scoring'] } });

  const upheld = await act(ta, r.id, 'complete', { subject_notified_at: r.received_at, notified_by: 'email', resolution: 'Analytics and scoring stopped for you' });
  t.equal(upheld.statusCode, 200, upheld.body);
  t.same(await objections(ta, r.id), [['analytics', 'upheld'], ['fraud-scoring', 'upheld']], 'completed: upheld');
  t.equal(await check(ta, 'analytics', email), 'objected', 'those purposes answer objected');
  t.equal(await check(ta, 'fraud-scoring', email), 'objected');

  const other = 'refused@example.com';
  const s2 = await createSubject(ta, other);
  const r2 = await object(ta, s2, { objection: { scope: 'processing', purposes: ['fraud-scoring'] } });
  const noReason = await act(ta, r2.id, 'reject', { grounds: ['art21_1_compelling_grounds'], subject_notified_at: r2.received_at, notified_by: 'letter' });
  t.same(fields(assertProblem(t, noReason, 400, 'VALIDATION_FAILED', 'refused without reasons')), ['detail']);
  const refused = await act(ta, r2.id, 'reject', {
    grounds: ['art21_1_compelling_grounds'],
    detail: 'Fraud checks protect every customer; the card was used from three countries in one hour',
    subject_notified_at: r2.received_at,
    notified_by: 'letter',
  });
  t.equal(refused.statusCode, 200, refused.body);
  t.match(refused.json().outcome, { result: 'refused', grounds: ['art21_1_compelling_grounds'], detail: /three countries/ });
  t.same(await objections(ta, r2.id), [['fraud-scoring', 'refused']], 'rejected: refused');
  t.equal(await check(ta, 'fraud-scoring', other), 'legal_basis', 'the processing goes on');
});

t.test('restrict_meanwhile restricts the processing until the objection is decided, unless another restriction holds it (Art. 18(1)(d))', async (t) => {
  const ta = await setup(t);
  const email = 'meanwhile@example.com';
  const subject = await createSubject(ta, email);
  const r = await object(ta, subject, { objection: { scope: 'processing', purposes: ['analytics'] }, restrict_meanwhile: true });
  t.equal(r.restriction_ground, 'objection_pending', 'the Art. 18(1)(d) ground');
  t.equal(await restricted(ta, subject), true, 'restricted at once');
  t.equal(await check(ta, 'analytics', email), 'restricted');
  const events = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` })).json().items as Req[];
  t.match(events[1]!.facts, { objection: 'pending', flag: 'restricted', restriction_ground: 'objection_pending' });

  await act(ta, r.id, 'complete', { subject_notified_at: r.received_at, notified_by: 'email' });
  t.equal(await restricted(ta, subject), false, 'decided: the restriction is lifted');
  t.equal(await check(ta, 'analytics', email), 'objected', 'and the objection holds');

  // Another open restriction keeps the flag when the objection is refused.
  const r2 = await object(ta, subject, { objection: { scope: 'processing', purposes: ['fraud-scoring'] }, restrict_meanwhile: true });
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'restriction', channel: 'email', restriction_ground: 'accuracy_contested' } });
  t.equal(res.statusCode, 201, res.body);
  await act(ta, r2.id, 'reject', { grounds: ['art21_1_compelling_grounds'], detail: 'Fraud prevention', subject_notified_at: r2.received_at, notified_by: 'email' });
  t.equal(await restricted(ta, subject), true, 'the restriction request still holds the flag');
});
