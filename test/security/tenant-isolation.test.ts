// INV-5: a caller never reads, changes or learns the existence of another tenant's data. Every /v1 endpoint that
// takes an id or key answers 404 for tenant A's ids when called by tenant B, and nothing is written.
import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';
import { snapshot } from '../helpers/snapshot.js';

t.test("another tenant's ids answer 404 on every endpoint, and nothing is written", async (t) => {
  const ta = await build(t);
  // Tenant A (the default tenant): a purpose only A has, a shared key, a subject with consent.
  await createPurpose(ta, 'only-in-a', { direct_marketing: true });
  await createPurpose(ta, 'newsletter');
  const subjectA = await createSubject(ta, 'ana@example.com');
  await grant(ta, subjectA, 'only-in-a');
  await grant(ta, subjectA, 'newsletter');
  const idemA = await ta.call({
    method: 'POST',
    url: '/v1/subjects',
    headers: { 'idempotency-key': 'shared-key-1' },
    payload: { external_ref: 'crm-a-1' },
  });
  t.equal(idemA.statusCode, 201);

  // Tenant B: its own purpose with the shared key, so B's requests are otherwise valid.
  const tenantB = await ta.newTenant('Tenant B');
  await createPurpose(ta, 'newsletter', {}, tenantB);
  const subjectB = await createSubject(ta, 'bob@example.com', tenantB);
  t.not(subjectA, subjectB);

  const before = await snapshot(ta);
  const asB = (method: string, url: string, payload?: object, headers: Record<string, string> = {}) =>
    ta.call({ method: method as 'GET', url, payload, tenantId: tenantB, headers });

  const decision = { decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api' }] };
  const cases: [string, string, object?][] = [
    ['GET', `/v1/subjects/${subjectA}`],
    ['GET', `/v1/subjects/${subjectA}/consents`],
    ['POST', `/v1/subjects/${subjectA}/consents`, decision],
    ['GET', `/v1/subjects/${subjectA}/consents/history`],
    ['GET', `/v1/subjects/${subjectA}/consents/history?limit=1`],
    ['GET', `/v1/subjects/${subjectA}/consents/verify`],
    ['POST', `/v1/subjects/${subjectA}/objections`, { scope: 'direct_marketing' }],
    ['POST', `/v1/subjects/${subjectA}/objections`, { scope: 'automated_decisions' }],
    ['GET', '/v1/purposes/only-in-a'],
    ['PATCH', '/v1/purposes/only-in-a', { retention: 'forever', legal_basis: 'legitimate_interests' }],
    ['GET', '/v1/purposes/only-in-a/versions'],
  ];
  const notFoundBodies = new Set<string>();
  for (const [method, url, payload] of cases) {
    const res = await asB(method, url, payload);
    const body = assertProblem(t, res, 404, undefined, `${method} ${url} as tenant B`);
    t.notMatch(res.body, /ana@example\.com|only-in-a.*exists|another tenant|forbidden/i, `${method} ${url}: the body says nothing about A`);
    notFoundBodies.add(`${body.code}`);
  }
  // And the same with an Idempotency-Key that tenant A already used: B never sees A's stored answer.
  const withKey = await asB('POST', `/v1/subjects/${subjectA}/consents`, decision, { 'idempotency-key': 'shared-key-1' });
  assertProblem(t, withKey, 404, undefined, 'consent write with A\'s idempotency key');
  t.notOk(withKey.headers['idempotent-replayed'], 'not replayed');

  // A foreign id and an id that exists nowhere look the same to B (same code), so B learns nothing.
  const nowhere = await asB('GET', `/v1/subjects/${crypto.randomUUID()}`);
  t.equal(nowhere.json().code, (await asB('GET', `/v1/subjects/${subjectA}`)).json().code, 'a foreign id and a missing id give the same code');
  const nowherePurpose = await asB('GET', '/v1/purposes/not-anywhere');
  t.equal(nowherePurpose.json().code, (await asB('GET', '/v1/purposes/only-in-a')).json().code, 'a foreign key and a missing key give the same code');

  // Lookup by A's identifier from B finds nothing.
  const lookup = await asB('POST', '/v1/subjects/lookup', { identifiers: [{ type: 'email', value: 'ana@example.com' }] });
  assertProblem(t, lookup, 404, undefined, 'lookup of A\'s email from B');

  t.same(await snapshot(ta), before, 'no table changed while tenant B probed tenant A');

  // Consent check from B for A's email: unknown_subject (B has its own 'newsletter' purpose).
  const check = await asB('POST', '/v1/consents/check', {
    purpose: 'newsletter',
    identifiers: [
      { type: 'email', value: 'ana@example.com' },
      { type: 'email', value: 'ANA@Example.com ' },
      { type: 'email', value: 'bob@example.com' },
    ],
  });
  t.equal(check.statusCode, 200, check.body);
  t.same(
    check.json().results.map((r: { reason: string; subject_id: string | null; allowed: boolean }) => [r.reason, r.subject_id, r.allowed]),
    [
      ['unknown_subject', null, false],
      ['unknown_subject', null, false],
      ['no_consent', subjectB, false],
    ],
  );
  // Control: the same check from A sees A's grant, so the B result is isolation and not a broken check.
  const checkA = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'ana@example.com' }] } });
  t.same(checkA.json().results, [{ allowed: true, reason: 'consent_granted', subject_id: subjectA }]);
  // A check from B for a purpose only A has is a 404, not A's purpose.
  assertProblem(t, await asB('POST', '/v1/consents/check', { purpose: 'only-in-a', identifiers: [{ type: 'email', value: 'ana@example.com' }] }), 404, undefined, 'check for A\'s purpose');

  // B creating a subject with A's email gets a new subject of its own (201), never A's.
  const createB = await asB('POST', '/v1/subjects', { identifiers: [{ type: 'email', value: 'ana@example.com' }] });
  t.equal(createB.statusCode, 201, 'a new subject in B');
  t.not(createB.json().id, subjectA);
  // B reusing A's idempotency key on subject creation does not replay A's answer.
  const idemB = await asB('POST', '/v1/subjects', { external_ref: 'crm-a-1' }, { 'idempotency-key': 'shared-key-1' });
  t.equal(idemB.statusCode, 201, 'B gets its own subject for the same key');
  t.not(idemB.json().id, idemA.json().id);
  t.notOk(idemB.headers['idempotent-replayed']);

  // The list endpoints show only the caller's own rows.
  const listB = await asB('GET', '/v1/purposes');
  t.same(listB.json().items.map((p: { key: string }) => p.key), ['newsletter']);
  const notice = await asB('GET', '/v1/privacy-notice');
  t.equal(notice.statusCode, 200);
  t.notMatch(notice.body, /only-in-a/, 'the privacy notice of B does not show A\'s purposes');

  // Tenant A's data is exactly as before B's requests.
  const stateA = await ta.call({ method: 'GET', url: `/v1/subjects/${subjectA}/consents` });
  t.same(stateA.json().purposes.map((p: { purpose: string; status: string }) => [p.purpose, p.status]).sort(), [['newsletter', 'granted'], ['only-in-a', 'granted']]);
  const subj = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectA}` })).json();
  t.equal(subj.marketing_objection, false);
  t.equal(subj.automated_decision_objection, false);
  const purpose = (await ta.call({ method: 'GET', url: '/v1/purposes/only-in-a' })).json();
  t.equal(purpose.version, 1);
  t.equal(purpose.legal_basis, 'consent');
});

t.test('the blind index is keyed per tenant', async (t) => {
  const ta = await build(t);
  const tenantB = await ta.newTenant('Tenant B');
  const a = await createSubject(ta, 'same@example.com');
  const b = await createSubject(ta, 'same@example.com', tenantB);
  t.not(a, b);
  const { rows } = await ta.sql.query(
    "SELECT tenant_id, encode(blind_index, 'hex') AS bi FROM subject_identifiers WHERE subject_id = ANY($1::uuid[])",
    [[a, b]],
  );
  t.equal(rows.length, 2);
  t.not(rows[0].bi, rows[1].bi, 'one email in two tenants gives two unrelated index values');
});
