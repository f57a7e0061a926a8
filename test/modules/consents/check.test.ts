import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';

type Result = { allowed: boolean; reason: string; subject_id: string | null };

t.test('campaign check', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'scoring', { automated_decisions: true });
  await createPurpose(ta, 'service-mail', { legal_basis: 'contract' });
  await createPurpose(ta, 'partner-offers', { legal_basis: 'legitimate_interests', direct_marketing: true });

  const granted = await createSubject(ta, 'granted@example.com');
  await grant(ta, granted, 'newsletter');
  await grant(ta, granted, 'scoring');
  const withdrawn = await createSubject(ta, 'withdrawn@example.com');
  await grant(ta, withdrawn, 'newsletter');
  await grant(ta, withdrawn, 'newsletter', 'withdraw');
  const silent = await createSubject(ta, 'silent@example.com');
  const objector = await createSubject(ta, 'objector@example.com');
  await grant(ta, objector, 'newsletter');
  await grant(ta, objector, 'scoring');
  const restricted = await createSubject(ta, 'restricted@example.com');
  await grant(ta, restricted, 'newsletter');
  await ta.sql.query('UPDATE subjects SET restricted = true, restricted_at = now() WHERE id = $1', [restricted]);

  const check = async (purpose: string, emails: string[]): Promise<Result[]> => {
    const res = await ta.call({
      method: 'POST',
      url: '/v1/consents/check',
      payload: { purpose, identifiers: emails.map((value) => ({ type: 'email', value })) },
    });
    t.equal(res.statusCode, 200, `check ${purpose}`);
    return res.json().results;
  };

  t.test('every reason, in the order asked', async (t) => {
    const obj = await ta.call({ method: 'POST', url: `/v1/subjects/${objector}/objections`, payload: { scope: 'direct_marketing' } });
    t.equal(obj.statusCode, 201);
    const emails = ['nobody@example.com', 'GRANTED@example.com', 'withdrawn@example.com', 'silent@example.com', 'objector@example.com', 'restricted@example.com', 'not an email'];
    const results = await check('newsletter', emails);
    t.same(
      results.map((r) => [r.allowed, r.reason]),
      [
        [false, 'unknown_subject'],
        [true, 'consent_granted'],
        [false, 'consent_withdrawn'],
        [false, 'no_consent'],
        [false, 'objected'],
        [false, 'restricted'],
        [false, 'unknown_subject'],
      ],
    );
    t.same(results.map((r) => r.subject_id), [null, granted, withdrawn, silent, objector, restricted, null]);
  });

  t.test('a direct-marketing objection blocks a granted consent, but not other purposes', async (t) => {
    const [scoring] = await check('scoring', ['objector@example.com']);
    t.same([scoring!.allowed, scoring!.reason], [true, 'consent_granted'], 'the Art. 21 objection does not touch a purpose that is not direct marketing');
    const [offers] = await check('partner-offers', ['objector@example.com']);
    t.same([offers!.allowed, offers!.reason], [false, 'objected'], 'it blocks legitimate-interest marketing too');
    const [offersOther] = await check('partner-offers', ['silent@example.com']);
    t.same([offersOther!.allowed, offersOther!.reason], [true, 'legal_basis']);
  });

  t.test('an Art. 22 objection blocks automated-decision purposes', async (t) => {
    const res = await ta.call({ method: 'POST', url: `/v1/subjects/${granted}/objections`, payload: { scope: 'automated_decisions' } });
    t.equal(res.statusCode, 201);
    t.equal(res.json().subject.automated_decision_objection, true);
    const [scoring] = await check('scoring', ['granted@example.com']);
    t.same([scoring!.allowed, scoring!.reason], [false, 'objected']);
    const [newsletter] = await check('newsletter', ['granted@example.com']);
    t.same([newsletter!.allowed, newsletter!.reason], [true, 'consent_granted']);
  });

  t.test('a purpose that does not rest on consent is allowed by its legal basis, unless restricted', async (t) => {
    const results = await check('service-mail', ['silent@example.com', 'restricted@example.com', 'nobody@example.com']);
    t.same(results.map((r) => r.reason), ['legal_basis', 'restricted', 'unknown_subject']);
  });

  t.test('repeated objections keep the first time and answer 200', async (t) => {
    const again = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${objector}/objections`,
      payload: { scope: 'direct_marketing', occurred_at: '2020-01-01T00:00:00Z' },
    });
    t.equal(again.statusCode, 200);
    t.not(again.json().subject.marketing_objection_at, '2020-01-01T00:00:00.000Z');
    const bad = await ta.call({ method: 'POST', url: `/v1/subjects/${objector}/objections`, payload: { scope: 'everything' } });
    t.equal(bad.statusCode, 400);
  });

  t.test('phones are matched in any formatting; other identifier types work too', async (t) => {
    const res = await ta.call({
      method: 'POST',
      url: '/v1/subjects',
      payload: { identifiers: [{ type: 'phone', value: '+359 88 123 4567' }, { type: 'crm_id', value: 'CRM-42' }] },
    });
    const id = res.json().id;
    await grant(ta, id, 'newsletter');
    const out = await ta.call({
      method: 'POST',
      url: '/v1/consents/check',
      payload: {
        purpose: 'newsletter',
        identifiers: [
          { type: 'phone', value: '+359881234567' },
          { type: 'crm_id', value: 'CRM-42' },
          { type: 'customer_id', value: 'CRM-42' },
          { type: 'phone', value: '0881234567' },
        ],
      },
    });
    t.same(out.json().results.map((r: Result) => r.reason), ['consent_granted', 'consent_granted', 'unknown_subject', 'unknown_subject']);
  });

  t.test('10,000 identifiers are answered in order', async (t) => {
    const identifiers = Array.from({ length: 10_000 }, (_, i) => ({ type: 'email', value: i % 1000 === 7 ? 'granted@example.com' : `unknown-${i}@example.com` }));
    const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers } });
    t.equal(res.statusCode, 200);
    const results: Result[] = res.json().results;
    t.equal(results.length, 10_000);
    t.same(
      results.flatMap((r, i) => (r.allowed ? [i] : [])),
      Array.from({ length: 10 }, (_, k) => k * 1000 + 7),
    );
  });

  t.test('an unknown purpose is a 404, and the check needs consents:read', async (t) => {
    const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'nope', identifiers: [{ type: 'email', value: 'a@example.com' }] } });
    t.equal(res.statusCode, 404);
    t.equal(res.json().code, 'PURPOSE_NOT_FOUND');
    const forbidden = await ta.call({
      method: 'POST',
      url: '/v1/consents/check',
      scope: 'consents:write',
      payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'a@example.com' }] },
    });
    t.equal(forbidden.statusCode, 403);
  });
});
