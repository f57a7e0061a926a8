// Immediate effects by request type: objection, automated_decision, restriction and information act at once;
// access, portability, erasure and rectification stay open with no flag changed.
import t, { type Test } from 'tap';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';

type Req = Record<string, any>;

async function setup(t: Test) {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'scoring', { automated_decisions: true });
  await createPurpose(ta, 'service-updates');
  return ta;
}

async function check(ta: TestApp, purpose: string, email: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json().results[0].reason;
}

async function openFor(ta: TestApp, subjectId: string, type: string, extra: Record<string, unknown> = {}): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subjectId }, type, channel: 'email', ...extra } });
  if (res.statusCode !== 201) throw new Error(`open ${type}: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function flags(ta: TestApp, subjectId: string) {
  const s = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}` })).json();
  return { marketing_objection: s.marketing_objection, automated_decision_objection: s.automated_decision_objection, restricted: s.restricted };
}

async function trail(ta: TestApp, id: string): Promise<Req[]> {
  return (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events` })).json().items;
}

const NO_FLAGS = { marketing_objection: false, automated_decision_objection: false, restricted: false };

t.test('objection: the direct-marketing objection holds from the next check, and the request is completed', async (t) => {
  const ta = await setup(t);
  const email = 'objector@example.com';
  const subject = await createSubject(ta, email);
  for (const p of ['newsletter', 'scoring', 'service-updates']) await grant(ta, subject, p);
  t.equal(await check(ta, 'newsletter', email), 'consent_granted', 'before: the newsletter is allowed');

  const r = await openFor(ta, subject, 'objection');
  t.equal(await check(ta, 'newsletter', email), 'objected', 'the very next check answers objected');
  t.equal(await check(ta, 'service-updates', email), 'consent_granted', 'a purpose that is not direct marketing is untouched');
  t.equal(await check(ta, 'scoring', email), 'consent_granted', 'automated decisions are another objection');
  t.same(await flags(ta, subject), { ...NO_FLAGS, marketing_objection: true });

  t.equal(r.status, 'completed', 'the request is completed at once');
  t.type(r.closed_at, 'string');
  t.match(r.outcome, { resolution: /direct marketing/ });
  const events = await trail(ta, r.id);
  t.same(events.map((e) => [e.action, e.from_status, e.to_status]), [
    ['created', null, 'received'],
    ['complete', 'received', 'completed'],
  ], 'the completion is in the audit trail');
  t.same(events[1]!.facts, { automatic: true, outcome: 'granted' });
  t.match(r.outcome, { result: 'granted', grounds: [] }, 'granted, at once');
  const pending = await ta.sql.query(
    `SELECT count(*) FROM outbox WHERE ref_id = $1 AND status = 'pending' AND payload->>'type' IN ('request.deadline_approaching', 'request.overdue')`,
    [r.id],
  );
  t.equal(Number(pending.rows[0].count), 0, 'a completed request has no reminders');
  const types = (await ta.sql.query(`SELECT payload->>'type' AS type FROM outbox WHERE ref_id = $1 ORDER BY payload->>'type'`, [r.id])).rows.map((x) => x.type);
  t.same(types, ['request.completed', 'request.created', 'request.status_changed']);
  const objected = await ta.sql.query(`SELECT payload->'data' AS data FROM outbox WHERE payload->>'type' = 'subject.objected'`);
  t.same(objected.rows.map((x) => [x.data.subject_id, x.data.scope]), [[subject, 'direct_marketing']], 'subject.objected is announced');

  // An objection by a person known only by identifiers works the same way.
  const other = 'unknown-objector@example.com';
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: other }] }, type: 'objection', channel: 'phone' } });
  t.equal(res.statusCode, 201, res.body);
  t.equal(await check(ta, 'newsletter', other), 'objected', 'a new subject objected at once too');

  // A second objection request is accepted and completed; the objection is not duplicated.
  const again = await openFor(ta, subject, 'objection');
  t.equal(again.status, 'completed');
  t.equal(Number((await ta.sql.query(`SELECT count(*) FROM outbox WHERE payload->>'type' = 'subject.objected' AND payload->'data'->>'subject_id' = $1`, [subject])).rows[0].count), 1);
});

t.test('automated_decision: sets the Art. 22 flag and stays open until the human review is recorded', async (t) => {
  const ta = await setup(t);
  const email = 'scored@example.com';
  const subject = await createSubject(ta, email);
  for (const p of ['newsletter', 'scoring']) await grant(ta, subject, p);
  t.equal(await check(ta, 'scoring', email), 'consent_granted');

  const r = await openFor(ta, subject, 'automated_decision', { details: 'I was refused credit by a machine' });
  t.same(await flags(ta, subject), { ...NO_FLAGS, automated_decision_objection: true }, 'the flag is set');
  t.equal(await check(ta, 'scoring', email), 'objected', 'an automated-decision purpose answers objected');
  t.equal(await check(ta, 'newsletter', email), 'consent_granted', 'direct marketing is untouched');
  t.equal(r.status, 'in_progress', 'the request stays open');
  t.equal(r.closed_at, null);
  t.type(r.due_date, 'string', 'with its deadline running');
  const events = await trail(ta, r.id);
  t.same(events.map((e) => [e.action, e.from_status, e.to_status]), [
    ['created', null, 'received'],
    ['effect_applied', 'received', 'in_progress'],
  ]);
  t.same(events[1]!.facts, { flag: 'automated_decision_objection' });

  const review = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${r.id}/complete`,
    payload: {
      resolution: 'A credit officer reviewed the decision and confirmed it',
      subject_notified_at: new Date().toISOString(),
      notified_by: 'letter',
      human_review: { reviewer: 'credit-officer-ivanova', subject_view: 'My income was misread', decision: 'Refusal confirmed: the income was read right', decision_changed: false },
    },
  });
  t.equal(review.statusCode, 200, review.body);
  t.equal(review.json().status, 'completed');
  t.equal(review.json().outcome.resolution, 'A credit officer reviewed the decision and confirmed it', 'the resolution is recorded');
  t.same(review.json().outcome.human_review, { reviewer: 'credit-officer-ivanova', subject_view: 'My income was misread', decision: 'Refusal confirmed: the income was read right', decision_changed: false }, 'the human review is recorded');
  const after = await trail(ta, r.id);
  t.same(after.at(-1)!.action, 'complete');
  t.equal(after.at(-1)!.note, 'A credit officer reviewed the decision and confirmed it');
  t.same(await flags(ta, subject), { ...NO_FLAGS, automated_decision_objection: true }, 'completing the review keeps the objection');
});

t.test('restriction: the restricted flag at once, the check answers restricted, the request stays in progress', async (t) => {
  const ta = await setup(t);
  const email = 'restricted@example.com';
  const subject = await createSubject(ta, email);
  for (const p of ['newsletter', 'scoring', 'service-updates']) await grant(ta, subject, p);
  t.equal(await check(ta, 'service-updates', email), 'consent_granted');

  const r = await openFor(ta, subject, 'restriction', { restriction_ground: 'accuracy_contested' });
  t.same(await flags(ta, subject), { ...NO_FLAGS, restricted: true });
  t.equal(r.restriction_ground, 'accuracy_contested', 'the Art. 18(1)(a) ground is stored and shown');
  for (const p of ['newsletter', 'scoring', 'service-updates']) t.equal(await check(ta, p, email), 'restricted', `${p}: restricted`);
  t.equal(r.status, 'in_progress');
  t.equal(r.closed_at, null);
  const events = await trail(ta, r.id);
  t.same(events.map((e) => e.action), ['created', 'effect_applied']);
  t.same(events[1]!.facts, { flag: 'restricted', restriction_ground: 'accuracy_contested' });
  const listed = await ta.call({ method: 'GET', url: '/v1/rights-requests?status=in_progress&type=restriction' });
  t.same(listed.json().items.map((x: Req) => x.id), [r.id]);
});

t.test('information: the privacy notice in the person\'s locale is attached, and the request completes when it is recorded as sent (Art. 12(1), 13/14)', async (t) => {
  const ta = await setup(t);
  await createPurpose(ta, 'loyalty', { translations: { en: { title: 'Loyalty', description: 'Points' }, bg: { title: 'Лоялност', description: 'Точки' } } });
  const subject = await createSubject(ta, 'curious@example.com');
  const r = await openFor(ta, subject, 'information', { locale: 'bg' });
  t.equal(r.status, 'in_progress', 'open: the notice is not sent yet');
  t.equal(r.closed_at, null);
  t.type(r.due_date, 'string', 'its deadline runs');
  t.equal(r.locale, 'bg');
  const notice = r.outcome?.privacy_notice;
  t.ok(notice, 'outcome.privacy_notice is there');
  t.equal(notice.locale, 'bg', 'rendered in the locale asked');
  t.equal(notice.purposes.find((p: Req) => p.key === 'loyalty').title, 'Лоялност', 'in Bulgarian where the purpose has it');
  t.same(notice.purposes.map((p: Req) => p.key).sort(), ['loyalty', 'newsletter', 'scoring', 'service-updates'], "the tenant's purposes");
  t.match(notice.purposes.find((p: Req) => p.key === 'newsletter'), { title: 'Title of newsletter', direct_marketing: true, legal_basis: 'consent' });
  t.equal(notice.controller, 'Test controller');
  t.equal(r.outcome.result, null, 'no answer recorded yet');
  const events = await trail(ta, r.id);
  t.same(events.map((e) => [e.action, e.to_status]), [['created', 'received'], ['effect_applied', 'in_progress']]);
  t.same(events[1]!.facts, { privacy_notice: 'attached', locale: 'bg' });
  t.same(await flags(ta, subject), NO_FLAGS, 'no flag changed');

  const sent = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/complete`, payload: { subject_notified_at: r.received_at, notified_by: 'email' } });
  t.equal(sent.statusCode, 200, sent.body);
  const done = sent.json();
  t.same([done.status, done.outcome.result, done.outcome.notified_by, done.outcome.subject_notified_at], ['completed', 'granted', 'email', r.received_at], 'completed when the notice was sent');
  t.same(done.outcome.privacy_notice, notice, 'the notice sent stays attached');
  const stored = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}` })).json();
  t.same(stored.outcome, done.outcome, 'GET shows the same answer');

  // Without a locale: the tenant's default; another tenant's notice holds its own purposes only.
  const other = await ta.newTenant('Other controller');
  await createPurpose(ta, 'loyalty', {}, other);
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    tenantId: other,
    payload: { subject: { identifiers: [{ type: 'email', value: 'curious@example.com' }] }, type: 'information', channel: 'web' },
  });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().locale, 'en', "the tenant's default locale");
  t.equal(res.json().outcome.privacy_notice.locale, 'en');
  t.same(res.json().outcome.privacy_notice.purposes.map((p: Req) => p.key), ['loyalty']);
  const badLocale = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'information', channel: 'web', locale: 'Bulgarian' } });
  t.equal(badLocale.statusCode, 400, 'a locale is a language tag');
});

t.test('access, portability, erasure and rectification stay open with no flag changed (erasure and rectification await the DPO)', async (t) => {
  const ta = await setup(t);
  for (const type of ['access', 'portability', 'erasure', 'rectification']) {
    const email = `${type}@example.com`;
    const subject = await createSubject(ta, email);
    for (const p of ['newsletter', 'scoring', 'service-updates']) await grant(ta, subject, p);
    const r = await openFor(ta, subject, type, type === 'rectification' ? { corrections: [{ category: 'identity', field: 'surname', value: 'Dimitrova' }] } : {});
    // An erasure waits for the DPO's decision (Art. 17), a rectification for the DPO to confirm its corrections
    // (Art. 16); the others are received.
    t.equal(r.status, ['erasure', 'rectification'].includes(type) ? 'awaiting_approval' : 'received', `${type}: open`);
    t.equal(r.closed_at, null, `${type}: not closed`);
    t.equal(r.outcome, null, `${type}: no outcome`);
    t.type(r.due_date, 'string', `${type}: its deadline runs`);
    t.same(await flags(ta, subject), NO_FLAGS, `${type}: no flag changed`);
    // An open erasure request stops contact meanwhile (the consents check's rule, Art. 17); the others change nothing.
    const expected = type === 'erasure' ? 'erasure_pending' : 'consent_granted';
    for (const p of ['newsletter', 'scoring', 'service-updates']) t.equal(await check(ta, p, email), expected, `${type}: ${p} answers ${expected}`);
    t.same((await trail(ta, r.id)).map((e) => e.action), ['created'], `${type}: only its creation in the trail`);
    const pending = await ta.sql.query(
      `SELECT count(*) FROM outbox WHERE ref_id = $1 AND status = 'pending' AND payload->>'type' IN ('request.deadline_approaching', 'request.overdue')`,
      [r.id],
    );
    t.equal(Number(pending.rows[0].count), 3, `${type}: its reminders are scheduled`);
  }
  const objected = await ta.sql.query(`SELECT count(*) FROM outbox WHERE payload->>'type' = 'subject.objected'`);
  t.equal(Number(objected.rows[0].count), 0, 'no objection announced');
});
