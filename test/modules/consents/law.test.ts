// What the law requires of consent and objections, one test per rule, named after the article it enforces.
import t from 'tap';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';

type Result = { allowed: boolean; reason: string; subject_id: string | null };

async function checkOne(ta: TestApp, purpose: string, email: string): Promise<[boolean, string]> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  const r = res.json().results[0] as Result;
  return [r.allowed, r.reason];
}

async function decide(ta: TestApp, subject: string, body: Record<string, unknown>) {
  return ta.call({ method: 'POST', url: `/v1/subjects/${subject}/consents`, payload: body });
}

t.test('consent and objections as the law reads them', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'partner-offers', { legal_basis: 'legitimate_interests', direct_marketing: true });
  await createPurpose(ta, 'catalogue', { legal_basis: 'legitimate_interests', direct_marketing: true });
  await createPurpose(ta, 'fraud-scoring', { legal_basis: 'legitimate_interests' });
  await createPurpose(ta, 'billing', { legal_basis: 'contract' });

  t.test('Art. 7(1): a grant without proof of how it was given is refused with 422 naming the missing field', async (t) => {
    const subject = await createSubject(ta, 'proof@example.com');
    const cases: [string, Record<string, string> | undefined, string][] = [
      ['web_form', undefined, 'decisions.0.evidence.form_id'],
      ['api', { text_shown: 'Yes' }, 'decisions.0.evidence.form_id'],
      ['crm_user', { form_id: 'x' }, 'decisions.0.evidence.collected_by'],
      ['verbal', undefined, 'decisions.0.evidence.collected_by'],
      ['written', undefined, 'decisions.0.evidence.collected_by'],
      ['import', { collected_by: 'someone' }, 'decisions.0.evidence.proof_reference'],
    ];
    for (const [source, evidence, field] of cases) {
      const res = await decide(ta, subject, { decisions: [{ purpose: 'newsletter', action: 'grant', source, ...(evidence ? { evidence } : {}) }] });
      t.equal(res.statusCode, 422, `${source} without its proof`);
      t.equal(res.json().code, 'CONSENT_PROOF_MISSING');
      t.match(res.json().detail, field);
    }
    const history = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history` });
    t.same(history.json().items, [], 'nothing was written');
    const proven: [string, Record<string, string>][] = [
      ['web_form', { form_id: 'signup-v3' }],
      ['crm_user', { collected_by: 'agent-17' }],
      ['verbal', { collected_by: 'call-centre agent 4' }],
      ['import', { proof_reference: 'legacy-crm export 2024-03, row 1182' }],
    ];
    for (const [source, evidence] of proven) {
      const ok = await decide(ta, subject, { decisions: [{ purpose: 'newsletter', action: 'grant', source, evidence }] });
      t.equal(ok.statusCode, 201, `${source} with its proof`);
      t.equal(ok.json().events[0].purpose_version, 1, 'what was shown: the current version by default');
    }
    const withdraw = await decide(ta, subject, { decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api' }] });
    t.equal(withdraw.statusCode, 201, 'withdrawing needs no proof: as easy as giving (Art. 7(3))');
  });

  t.test('Art. 21(2): withdrawing from direct marketing on legitimate interests is an objection the check honours', async (t) => {
    const subject = await createSubject(ta, 'says-no@example.com');
    t.same(await checkOne(ta, 'partner-offers', 'says-no@example.com'), [true, 'legal_basis']);
    const res = await decide(ta, subject, { decisions: [{ purpose: 'partner-offers', action: 'withdraw', source: 'web_form' }] });
    t.equal(res.statusCode, 201);
    t.same(await checkOne(ta, 'partner-offers', 'says-no@example.com'), [false, 'objected'], 'the withdrawal is not ignored');
    t.same(await checkOne(ta, 'catalogue', 'says-no@example.com'), [true, 'legal_basis'], 'other purposes are untouched');
    const list = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/objections` });
    t.match(list.json().items, [{ purpose: 'partner-offers', scope: 'direct_marketing', status: 'upheld' }]);
  });

  t.test('Art. 21(1): withdrawing from a non-marketing purpose on another basis is a 422 that points to the objection', async (t) => {
    const subject = await createSubject(ta, 'wrong-tool@example.com');
    const res = await decide(ta, subject, { decisions: [{ purpose: 'fraud-scoring', action: 'withdraw', source: 'api' }] });
    t.equal(res.statusCode, 422);
    t.equal(res.json().code, 'CONSENT_NOT_APPLICABLE');
    t.match(res.json().detail, /objections/);
    t.match(res.json().detail, /Art\. 21\(1\)/);
  });

  t.test('Art. 21(2): an objection to named direct-marketing purposes blocks those at once, and only those', async (t) => {
    const subject = await createSubject(ta, 'named@example.com');
    await grant(ta, subject, 'newsletter');
    const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', purposes: ['newsletter', 'catalogue'] } });
    t.equal(res.statusCode, 201);
    t.equal(res.json().subject.marketing_objection, false, 'not the objection to all direct marketing');
    t.same(res.json().objections.map((o: { purpose: string; status: string }) => [o.purpose, o.status]), [['newsletter', 'upheld'], ['catalogue', 'upheld']]);
    t.same(await checkOne(ta, 'newsletter', 'named@example.com'), [false, 'objected'], 'a granted consent does not outweigh it');
    t.same(await checkOne(ta, 'catalogue', 'named@example.com'), [false, 'objected']);
    t.same(await checkOne(ta, 'partner-offers', 'named@example.com'), [true, 'legal_basis']);
    const again = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', purposes: ['newsletter'] } });
    t.equal(again.statusCode, 200, 'the first objection is kept');
    const notMarketing = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', purposes: ['fraud-scoring'] } });
    t.equal(notMarketing.statusCode, 422);
    t.equal(notMarketing.json().code, 'OBJECTION_NOT_APPLICABLE');
  });

  t.test('Art. 21(1): an objection to processing is assessed — pending, then upheld (objected) or refused (allowed)', async (t) => {
    const subject = await createSubject(ta, 'assessed@example.com');
    const requestId = crypto.randomUUID();
    const { objections } = await ta.scoped(() => ta.app.services.consents.object(ta.tenantId, subject, { scope: 'processing', purposes: ['fraud-scoring'], requestId }));
    t.match(objections, [{ purpose: 'fraud-scoring', scope: 'processing', status: 'pending', request_id: requestId }]);
    t.same(await checkOne(ta, 'fraud-scoring', 'assessed@example.com'), [true, 'legal_basis'], 'pending: the controller has not decided yet');
    const refused = await ta.scoped(() => ta.app.services.consents.decideObjections(ta.tenantId, requestId, 'refused'));
    t.match(refused, [{ status: 'refused' }]);
    t.same(await checkOne(ta, 'fraud-scoring', 'assessed@example.com'), [true, 'legal_basis'], 'refused: compelling legitimate grounds');

    const second = crypto.randomUUID();
    await ta.scoped(() => ta.app.services.consents.object(ta.tenantId, subject, { scope: 'processing', purposes: ['fraud-scoring'], requestId: second }));
    const upheld = await ta.scoped(() => ta.app.services.consents.decideObjections(ta.tenantId, second, 'upheld'));
    t.match(upheld, [{ status: 'upheld' }], 'a new objection after a refusal is assessed again');
    t.same(await checkOne(ta, 'fraud-scoring', 'assessed@example.com'), [false, 'objected'], 'upheld: the processing stops');
  });

  t.test('Art. 21(1): an objection to processing sent to the objections endpoint opens a request that decides it', async (t) => {
    const subject = await createSubject(ta, 'via-endpoint@example.com');
    const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'processing', purposes: ['fraud-scoring'], channel: 'phone' } });
    t.equal(res.statusCode, 201);
    const requestId = res.json().request_id;
    t.match(res.json().objections, [{ purpose: 'fraud-scoring', status: 'pending', request_id: requestId }]);
    const opened = await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}` });
    t.match(opened.json(), { type: 'objection', channel: 'phone', status: 'in_progress', objection: { scope: 'processing', purposes: ['fraud-scoring'] } });
    t.ok(opened.json().due_date, 'the assessment runs on the legal clock');
    const done = await ta.call({
      method: 'POST',
      url: `/v1/rights-requests/${requestId}/complete`,
      payload: { outcome: 'granted', subject_notified_at: new Date().toISOString(), notified_by: 'email' },
    });
    t.equal(done.statusCode, 200, done.body);
    t.same(await checkOne(ta, 'fraud-scoring', 'via-endpoint@example.com'), [false, 'objected'], 'upheld when the request completes');

    const other = await createSubject(ta, 'changed-mind@example.com');
    const second = await ta.call({ method: 'POST', url: `/v1/subjects/${other}/objections`, payload: { scope: 'processing', purposes: ['fraud-scoring'] } });
    await ta.call({ method: 'POST', url: `/v1/rights-requests/${second.json().request_id}/withdraw`, payload: {} });
    const list = await ta.call({ method: 'GET', url: `/v1/subjects/${other}/objections` });
    t.match(list.json().items, [{ purpose: 'fraud-scoring', status: 'withdrawn' }], 'a withdrawn request takes its objection with it');
    t.same(await checkOne(ta, 'fraud-scoring', 'changed-mind@example.com'), [true, 'legal_basis']);
  });

  t.test('Art. 21(1) covers legitimate interests and public task only; a marketing purpose is always absolute', async (t) => {
    const subject = await createSubject(ta, 'scoped@example.com');
    const contract = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'processing', purposes: ['billing'] } });
    t.equal(contract.statusCode, 422);
    t.equal(contract.json().code, 'OBJECTION_NOT_APPLICABLE');
    const noPurposes = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'processing' } });
    t.equal(noPurposes.statusCode, 400);
    const { objections } = await ta.scoped(() => ta.app.services.consents.object(ta.tenantId, subject, { scope: 'processing', purposes: ['catalogue'] }));
    t.match(objections, [{ purpose: 'catalogue', scope: 'direct_marketing', status: 'upheld' }], 'Art. 21(3): upheld at once');
  });

  t.test('Art. 5(1)(b): a person known only from a rights request is not marketed to without a grant', async (t) => {
    const req = await ta.call({
      method: 'POST',
      url: '/v1/rights-requests',
      payload: { subject: { identifiers: [{ type: 'email', value: 'asked-once@example.com' }] }, type: 'access', channel: 'email' },
    });
    t.equal(req.statusCode, 201);
    const subject = await ta.call({ method: 'GET', url: `/v1/subjects/${req.json().subject_id}` });
    t.equal(subject.json().origin, 'rights_request');
    t.same(await checkOne(ta, 'partner-offers', 'asked-once@example.com'), [false, 'request_only'], 'no legitimate-interest marketing');
    t.same(await checkOne(ta, 'billing', 'asked-once@example.com'), [false, 'request_only']);
    t.same(await checkOne(ta, 'newsletter', 'asked-once@example.com'), [false, 'no_consent']);
    await grant(ta, req.json().subject_id, 'newsletter');
    t.same(await checkOne(ta, 'newsletter', 'asked-once@example.com'), [true, 'consent_granted'], 'a grant for the purpose opens it');
    const crm = await createSubject(ta, 'customer@example.com');
    t.ok(crm);
    t.same(await checkOne(ta, 'partner-offers', 'customer@example.com'), [true, 'legal_basis'], 'a CRM subject is unaffected');
  });

  t.test('ePrivacy Art. 13(2): email marketing on legitimate interests needs a recorded soft opt-in', async (t) => {
    await createPurpose(ta, 'similar-products', { legal_basis: 'legitimate_interests', direct_marketing: true, channels: ['email'] });
    await createPurpose(ta, 'postal-offers', { legal_basis: 'legitimate_interests', direct_marketing: true, channels: ['post'] });
    const subject = await createSubject(ta, 'customer-7@example.com');
    t.same(await checkOne(ta, 'similar-products', 'customer-7@example.com'), [false, 'no_consent'], 'no soft opt-in: no email marketing');
    t.same(await checkOne(ta, 'postal-offers', 'customer-7@example.com'), [true, 'legal_basis'], 'post is not electronic mail');
    const bad = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/soft-opt-ins`,
      payload: { purpose: 'similar-products', relationship_ref: 'order 2026-0042', opt_out_offered: false },
    });
    t.equal(bad.statusCode, 400, 'an opt-out must have been offered at collection');
    const onConsent = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/soft-opt-ins`,
      payload: { purpose: 'newsletter', relationship_ref: 'order 2026-0042', opt_out_offered: true },
    });
    t.equal(onConsent.statusCode, 422, 'a consent-based purpose takes a grant, not a soft opt-in');
    const res = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/soft-opt-ins`,
      payload: { purpose: 'similar-products', relationship_ref: 'order 2026-0042', opt_out_offered: true, collected_at: '2026-03-01T10:00:00Z' },
    });
    t.equal(res.statusCode, 201);
    t.match(res.json(), { purpose: 'similar-products', relationship_ref: 'order 2026-0042', collected_at: '2026-03-01T10:00:00.000Z' });
    t.same(await checkOne(ta, 'similar-products', 'customer-7@example.com'), [true, 'legal_basis']);
    await decide(ta, subject, { decisions: [{ purpose: 'similar-products', action: 'withdraw', source: 'web_form' }] });
    t.same(await checkOne(ta, 'similar-products', 'customer-7@example.com'), [false, 'objected'], 'the opt-out offered is honoured');
  });

  t.test('Art. 7 and EDPB 05/2020: a version that needs fresh consent voids earlier grants (reconsent_needed)', async (t) => {
    await createPurpose(ta, 'insights', { direct_marketing: true });
    const before = await createSubject(ta, 'early@example.com');
    await grant(ta, before, 'insights');
    const patch = await ta.call({
      method: 'PATCH',
      url: '/v1/purposes/insights',
      payload: { recipients: ['Partner analytics Ltd'], requires_reconsent: true },
    });
    t.equal(patch.statusCode, 200);
    t.equal(patch.json().version, 2);
    t.same(await checkOne(ta, 'insights', 'early@example.com'), [false, 'reconsent_needed'], 'a grant of version 1 no longer counts');
    await grant(ta, before, 'insights');
    t.same(await checkOne(ta, 'insights', 'early@example.com'), [true, 'consent_granted'], 'a fresh grant of version 2 does');
    await ta.call({ method: 'PATCH', url: '/v1/purposes/insights', payload: { retention: '18 months after the last contact' } });
    t.same(await checkOne(ta, 'insights', 'early@example.com'), [true, 'consent_granted'], 'a version that does not ask for it keeps grants');
  });

  t.test('Art. 21 with 7(1) by analogy: an objection records how it was made, as provably as a grant, encrypted at rest', async (t) => {
    const subject = await createSubject(ta, 'provable@example.com');
    const all = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/objections`,
      payload: { scope: 'direct_marketing', source: 'verbal', evidence: { collected_by: 'call agent 12', text_shown: 'Stop all marketing calls' } },
    });
    t.equal(all.statusCode, 201);
    const one = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/objections`,
      payload: { scope: 'direct_marketing', purposes: ['catalogue'], source: 'web_form', evidence: { form_id: 'preferences-v2' } },
    });
    t.match(one.json().objections, [{ purpose: 'catalogue', source: 'web_form', evidence: { form_id: 'preferences-v2' } }]);
    const list = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/objections` })).json();
    t.same(list.marketing_objection_proof, { source: 'verbal', evidence: { collected_by: 'call agent 12', text_shown: 'Stop all marketing calls' } });
    t.equal(list.automated_decision_objection_proof, null);
    t.match(list.items, [{ purpose: 'catalogue', source: 'web_form', evidence: { form_id: 'preferences-v2' } }]);
    const raw = await ta.sql.query(
      'SELECT s.marketing_objection_evidence_sealed AS a, o.evidence_sealed AS b FROM subjects s JOIN objections o ON o.subject_id = s.id WHERE s.id = $1',
      [subject],
    );
    t.notOk(Buffer.concat([raw.rows[0].a, raw.rows[0].b]).includes(Buffer.from('call agent')), 'the evidence is not stored in plaintext');
    t.notOk(Buffer.concat([raw.rows[0].a, raw.rows[0].b]).includes(Buffer.from('preferences-v2')));
  });

  t.test('Art. 17: while an erasure request is open the check answers erasure_pending', async (t) => {
    const subject = await createSubject(ta, 'forget-me@example.com');
    await grant(ta, subject, 'newsletter');
    const req = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web' } });
    t.equal(req.statusCode, 201);
    t.same(await checkOne(ta, 'newsletter', 'forget-me@example.com'), [false, 'erasure_pending']);
    t.same(await checkOne(ta, 'billing', 'forget-me@example.com'), [false, 'erasure_pending']);
    await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.json().id}/withdraw`, payload: {} });
    t.same(await checkOne(ta, 'newsletter', 'forget-me@example.com'), [true, 'consent_granted'], 'a withdrawn request no longer blocks');
  });
});
