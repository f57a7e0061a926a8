// Art. 18: a restriction request names its ground; the restricted flag it sets lasts while it is open or granted,
// and goes when it is refused or withdrawn, unless another restriction of the person still holds it.
import t from 'tap';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

type Req = Record<string, any>;
const GROUNDS = ['accuracy_contested', 'unlawful_processing', 'needed_for_legal_claims', 'objection_pending'];

async function restrict(ta: TestApp, subject: string, ground = 'accuracy_contested'): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'restriction', channel: 'email', restriction_ground: ground } });
  if (res.statusCode !== 201) throw new Error(`restrict: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function restricted(ta: TestApp, subject: string): Promise<boolean> {
  return (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().restricted;
}

async function close(ta: TestApp, r: Req, action: 'reject' | 'withdraw' | 'complete'): Promise<Req> {
  const told = { subject_notified_at: r.received_at, notified_by: 'email' };
  const payload =
    action === 'reject' ? { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'The same request every week', ...told } : action === 'complete' ? told : {};
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/${action}`, payload });
  if (res.statusCode !== 200) throw new Error(`${action}: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function lastFacts(ta: TestApp, id: string): Promise<Record<string, unknown>> {
  return ((await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events` })).json().items as Req[]).at(-1)!.facts;
}

t.test('a restriction request needs its Art. 18(1)(a)-(d) ground, which is stored and shown; other requests take none', async (t) => {
  const ta = await build(t);
  const subject = await createSubject(ta, 'restrict@example.com');
  const post = (payload: Record<string, unknown>) => ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, channel: 'email', ...payload } });
  for (const [label, payload] of [
    ['no ground', { type: 'restriction' }],
    ['an unknown ground', { type: 'restriction', restriction_ground: 'because' }],
    ['a ground on an access request', { type: 'access', restriction_ground: 'accuracy_contested' }],
  ] as const) {
    const body = assertProblem(t, await post(payload), 400, 'VALIDATION_FAILED', label);
    t.same(fields(body), ['restriction_ground'], `${label}: names restriction_ground`);
  }
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 0, 'nothing created');
  t.equal(await restricted(ta, subject), false, 'and no flag set');

  for (const ground of GROUNDS) {
    const r = await restrict(ta, subject, ground);
    t.equal(r.restriction_ground, ground, `${ground}: shown on creation`);
    t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json().restriction_ground, ground, `${ground}: shown on GET`);
  }
  const stored = await ta.sql.query(`SELECT restriction_ground FROM rights_requests ORDER BY created_at`);
  t.same(stored.rows.map((x) => x.restriction_ground).sort(), [...GROUNDS].sort(), 'stored in restriction_ground');
  const access = await post({ type: 'access' });
  t.equal(access.json().restriction_ground, null, 'an access request has none');
});

t.test('rejecting or withdrawing a restriction request lifts the restricted flag unless another restriction holds it; completing keeps it (Art. 18)', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const email = 'lifted@example.com';
  const subject = await createSubject(ta, email);
  await grant(ta, subject, 'newsletter');
  const check = async () =>
    (await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: email }] } })).json().results[0].reason;

  // One restriction, refused: the flag goes, and the check no longer answers restricted.
  const a = await restrict(ta, subject);
  t.equal(await check(), 'restricted');
  await close(ta, a, 'reject');
  t.equal(await restricted(ta, subject), false, 'rejected: the flag is lifted');
  t.equal(await check(), 'consent_granted', 'the check answers as before the restriction');
  t.match(await lastFacts(ta, a.id), { restriction: 'lifted' }, 'the audit trail says so');

  // Two open: withdrawing one keeps the flag for the other.
  const b = await restrict(ta, subject, 'unlawful_processing');
  const c = await restrict(ta, subject, 'needed_for_legal_claims');
  await close(ta, b, 'withdraw');
  t.equal(await restricted(ta, subject), true, 'withdrawn while another restriction is open: kept');
  t.match(await lastFacts(ta, b.id), { restriction: 'kept' });
  await close(ta, c, 'withdraw');
  t.equal(await restricted(ta, subject), false, 'the last one withdrawn: lifted');

  // Granted: the flag stays, and refusing a later request does not lift what was granted.
  const d = await restrict(ta, subject);
  await close(ta, d, 'complete');
  t.equal(await restricted(ta, subject), true, 'completed: the restriction holds');
  const e = await restrict(ta, subject, 'unlawful_processing');
  await close(ta, e, 'reject');
  t.equal(await restricted(ta, subject), true, 'a later restriction refused: the granted one still holds');

  // Another person's restriction never holds this one's flag.
  const other = await createSubject(ta, 'other@example.com');
  await restrict(ta, other);
  const g = await restrict(ta, subject, 'accuracy_contested');
  t.equal(await restricted(ta, subject), true);
  await ta.sql.query(`UPDATE rights_requests SET status = 'withdrawn' WHERE id = $1`, [d.id]); // as if never granted
  await close(ta, g, 'reject');
  t.equal(await restricted(ta, subject), false, "other people's open restrictions do not count");
  t.equal(await restricted(ta, other), true);
});
