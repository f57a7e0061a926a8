// The rules a legal review found the register must hold: a fixed legal basis, and the facts each notice needs.
import t from 'tap';
import { build, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

const en = (title: string, extra: Record<string, string> = {}) => ({ title, description: `${title}: why and how`, ...extra });

async function post(ta: TestApp, payload: Record<string, unknown>) {
  return ta.call({
    method: 'POST',
    url: '/v1/purposes',
    payload: { legal_basis: 'consent', retention: '2 years', translations: { en: en('Purpose') }, ...payload },
  });
}

async function current(ta: TestApp, key: string) {
  return (await ta.call({ method: 'GET', url: `/v1/purposes/${key}` })).json();
}

t.test('the legal basis is fixed once the purpose exists: another basis is a 409 LEGAL_BASIS_FIXED, the same one is accepted (EDPB Guidelines 05/2020)', async (t) => {
  const ta = await build(t);
  t.equal((await post(ta, { key: 'newsletter' })).statusCode, 201);

  const swap = await ta.call({
    method: 'PATCH',
    url: '/v1/purposes/newsletter',
    payload: { legal_basis: 'legitimate_interests', retention: '5 years', translations: { en: en('Purpose', { legitimate_interests: 'Selling more' }) } },
  });
  const body = assertProblem(t, swap, 409, 'LEGAL_BASIS_FIXED');
  t.match(body.detail, /newsletter/);
  t.match(body.detail, /consent/);
  t.match(body.detail, /new purpose/);
  const after = await current(ta, 'newsletter');
  t.match(after, { version: 1, legal_basis: 'consent', retention: '2 years' }, 'nothing of the refused PATCH is applied');

  for (const legal_basis of ['contract', 'legal_obligation', 'vital_interests', 'public_task']) {
    assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { legal_basis } }), 409, 'LEGAL_BASIS_FIXED', legal_basis);
  }

  const same = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { legal_basis: 'consent' } });
  t.equal(same.statusCode, 200);
  t.equal(same.json().version, 1, 'the current basis changes nothing');
  const sameWithChange = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { legal_basis: 'consent', retention: '3 years' } });
  t.equal(sameWithChange.statusCode, 200);
  t.match(sameWithChange.json(), { version: 2, legal_basis: 'consent', retention: '3 years' });
  const versions = (await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions' })).json();
  t.same(versions.items.map((v: { legal_basis: string }) => v.legal_basis), ['consent', 'consent']);
});

t.test('channels, transfers, provision requirement and data source are created, read, changed and versioned (Art. 13(1)(e)-(f), 13(2)(e), 14(2)(f))', async (t) => {
  const ta = await build(t);
  const created = await post(ta, {
    key: 'loyalty',
    legal_basis: 'contract',
    channels: ['sms', 'email', 'post'],
    transfers: [
      { country: 'US', safeguard: 'standard_contractual_clauses' },
      { country: 'CH', safeguard: 'adequacy_decision' },
    ],
    provision_requirement: 'contractual',
    data_source: 'data_subject',
    translations: { en: en('Loyalty', { provision_consequences: 'Without your email we cannot run your loyalty account' }) },
  });
  t.equal(created.statusCode, 201, created.body);
  const v1 = created.json();
  t.match(v1, {
    version: 1,
    channels: ['email', 'sms', 'post'],
    transfers: [
      { country: 'US', safeguard: 'standard_contractual_clauses' },
      { country: 'CH', safeguard: 'adequacy_decision' },
    ],
    provision_requirement: 'contractual',
    data_source: 'data_subject',
    automated_decision_exception: null,
    requires_reconsent: false,
    reconsent_from_version: null,
  });
  t.equal(v1.translations.en.provision_consequences, 'Without your email we cannot run your loyalty account');
  t.same(await current(ta, 'loyalty'), v1, 'GET shows what was created');

  const reordered = await ta.call({ method: 'PATCH', url: '/v1/purposes/loyalty', payload: { channels: ['post', 'sms', 'email'] } });
  t.equal(reordered.json().version, 1, 'channels are a set: another order changes nothing');

  const changes: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ transfers: [{ country: 'JP', safeguard: 'adequacy_decision' }] }, { transfers: [{ country: 'JP', safeguard: 'adequacy_decision' }] }],
    [{ channels: [] }, { channels: [] }],
    [{ provision_requirement: null }, { provision_requirement: null }],
    [
      { data_source: 'third_party', translations: { en: en('Loyalty', { source_detail: 'Partner shops of the loyalty scheme' }) } },
      { data_source: 'third_party' },
    ],
  ];
  let version = 1;
  for (const [payload, expected] of changes) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/loyalty', payload });
    t.equal(res.statusCode, 200, res.body);
    t.match(res.json(), { ...expected, version: ++version }, JSON.stringify(payload));
  }
  const versions = (await ta.call({ method: 'GET', url: '/v1/purposes/loyalty/versions' })).json();
  t.same(versions.items.at(-1), v1, 'version 1 keeps its channels, transfers and the rest');
});

t.test('bad channels, transfers, provision requirements and data sources are a 400 naming the field (Art. 13(1)(f))', async (t) => {
  const ta = await build(t);
  const cases: [Record<string, unknown>, string[]][] = [
    [{ channels: ['fax'] }, ['channels.0']],
    [{ channels: ['email', 'email'] }, ['channels']],
    [{ transfers: [{ country: 'XX', safeguard: 'adequacy_decision' }] }, ['transfers.0.country']],
    [{ transfers: [{ country: 'us', safeguard: 'adequacy_decision' }] }, ['transfers.0.country']],
    [{ transfers: [{ country: 'EU', safeguard: 'adequacy_decision' }] }, ['transfers.0.country']],
    [{ transfers: [{ country: 'UK', safeguard: 'adequacy_decision' }] }, ['transfers.0.country']],
    [{ transfers: [{ country: 'USA', safeguard: 'adequacy_decision' }] }, ['transfers.0.country']],
    [{ transfers: [{ country: 'US', safeguard: 'other' }] }, ['transfers.0.safeguard']],
    [{ transfers: [{ country: 'US' }] }, ['transfers.0.safeguard']],
    [{ transfers: [{ country: 'US', safeguard: 'certification', note: 'x' }] }, ['transfers.0.note']],
    [{ transfers: Array.from({ length: 21 }, () => ({ country: 'US', safeguard: 'adequacy_decision' })) }, ['transfers']],
    [
      {
        transfers: [
          { country: 'US', safeguard: 'adequacy_decision' },
          { country: 'US', safeguard: 'adequacy_decision' },
        ],
      },
      ['transfers'],
    ],
    [{ provision_requirement: 'maybe' }, ['provision_requirement']],
    [{ data_source: 'crm' }, ['data_source']],
    [{ automated_decision_exception: 'because' }, ['automated_decision_exception']],
    [{ translations: { en: en('x', { legitimate_interests: '  ' }) } }, ['translations.en.legitimate_interests']],
  ];
  for (const [payload, expected] of cases) {
    const res = await post(ta, { key: 'p', ...payload });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', JSON.stringify(payload).slice(0, 80))), expected, JSON.stringify(payload).slice(0, 80));
  }
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/p' })).statusCode, 404, 'nothing was created');

  // Every assigned code is accepted, and transfers on every kind of safeguard.
  const ok = await post(ta, {
    key: 'everywhere',
    transfers: [
      { country: 'US', safeguard: 'standard_contractual_clauses' },
      { country: 'IN', safeguard: 'binding_corporate_rules' },
      { country: 'BR', safeguard: 'code_of_conduct' },
      { country: 'SG', safeguard: 'certification' },
      { country: 'CA', safeguard: 'public_authority_instrument' },
      { country: 'AU', safeguard: 'ad_hoc_clauses' },
      { country: 'NG', safeguard: 'derogation_art49' },
      { country: 'GB', safeguard: 'adequacy_decision' },
    ],
  });
  t.equal(ok.statusCode, 201, ok.body);
});

t.test('a purpose on legitimate interests states the interests pursued in every locale (Art. 13(1)(d))', async (t) => {
  const ta = await build(t);
  const lacking = await post(ta, {
    key: 'fraud',
    legal_basis: 'legitimate_interests',
    translations: { en: en('Fraud', { legitimate_interests: 'Protecting customers from fraud' }), bg: { title: 'Измами', description: 'Защита' } },
  });
  t.same(fields(assertProblem(t, lacking, 400, 'VALIDATION_FAILED')), ['translations.bg.legitimate_interests']);
  const none = await post(ta, { key: 'fraud', legal_basis: 'legitimate_interests' });
  t.same(fields(assertProblem(t, none, 400, 'VALIDATION_FAILED')), ['translations.en.legitimate_interests']);

  const stated = await post(ta, {
    key: 'fraud',
    legal_basis: 'legitimate_interests',
    translations: {
      en: en('Fraud', { legitimate_interests: 'Protecting customers from fraud' }),
      bg: { title: 'Измами', description: 'Защита', legitimate_interests: 'Защита на клиентите от измами' },
    },
  });
  t.equal(stated.statusCode, 201, stated.body);
  t.equal(stated.json().translations.bg.legitimate_interests, 'Защита на клиентите от измами');

  const dropped = await ta.call({ method: 'PATCH', url: '/v1/purposes/fraud', payload: { translations: { en: en('Fraud prevention') } } });
  t.same(fields(assertProblem(t, dropped, 400, 'VALIDATION_FAILED')), ['translations.en.legitimate_interests']);
  t.equal((await current(ta, 'fraud')).version, 1, 'the refused PATCH publishes nothing');

  const onConsent = await post(ta, { key: 'newsletter', translations: { en: en('News', { legitimate_interests: 'We like sending news' }) } });
  t.same(fields(assertProblem(t, onConsent, 400, 'VALIDATION_FAILED')), ['translations.en.legitimate_interests'], 'refused on another basis');
});

t.test('automated decisions need the Art. 22(2) exception and the logic in every locale, and neither without them (Art. 22, 13(2)(f), WP251)', async (t) => {
  const ta = await build(t);
  const bare = await post(ta, { key: 'scoring', automated_decisions: true, translations: { en: en('Scoring'), de: en('Bewertung') } });
  t.same(fields(assertProblem(t, bare, 400, 'VALIDATION_FAILED')), [
    'automated_decision_exception',
    'translations.de.automated_decision_logic',
    'translations.en.automated_decision_logic',
  ]);
  const noLogic = await post(ta, { key: 'scoring', automated_decisions: true, automated_decision_exception: 'contract' });
  t.same(fields(assertProblem(t, noLogic, 400, 'VALIDATION_FAILED')), ['translations.en.automated_decision_logic']);

  const logic = 'A score from payment history decides the credit limit; a low score means a lower limit';
  const created = await post(ta, {
    key: 'scoring',
    legal_basis: 'contract',
    automated_decisions: true,
    automated_decision_exception: 'contract',
    translations: { en: en('Scoring', { automated_decision_logic: logic }) },
  });
  t.equal(created.statusCode, 201, created.body);
  t.match(created.json(), { automated_decisions: true, automated_decision_exception: 'contract', translations: { en: { automated_decision_logic: logic } } });

  const strayException = await post(ta, { key: 'plain', automated_decision_exception: 'law' });
  t.same(fields(assertProblem(t, strayException, 400, 'VALIDATION_FAILED')), ['automated_decision_exception']);
  const strayLogic = await post(ta, { key: 'plain', translations: { en: en('Plain', { automated_decision_logic: logic }) } });
  t.same(fields(assertProblem(t, strayLogic, 400, 'VALIDATION_FAILED')), ['translations.en.automated_decision_logic']);

  // Turning automated decisions off takes the exception and the logic away with them.
  const half = await ta.call({ method: 'PATCH', url: '/v1/purposes/scoring', payload: { automated_decisions: false } });
  t.same(fields(assertProblem(t, half, 400, 'VALIDATION_FAILED')), ['automated_decision_exception', 'translations.en.automated_decision_logic']);
  const off = await ta.call({
    method: 'PATCH',
    url: '/v1/purposes/scoring',
    payload: { automated_decisions: false, automated_decision_exception: null, translations: { en: en('Scoring') } },
  });
  t.equal(off.statusCode, 200, off.body);
  t.match(off.json(), { version: 2, automated_decisions: false, automated_decision_exception: null });
});

t.test('a statutory or contractual requirement states the consequences of not providing the data (Art. 13(2)(e))', async (t) => {
  const ta = await build(t);
  for (const provision_requirement of ['statutory', 'contractual', 'contract_prerequisite']) {
    const res = await post(ta, { key: `p-${provision_requirement.replace(/_/g, '-')}`, provision_requirement });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', provision_requirement)), ['translations.en.provision_consequences']);
  }
  t.equal((await post(ta, { key: 'optional', provision_requirement: 'none' })).statusCode, 201, 'none needs no consequences');
  const stated = await post(ta, {
    key: 'invoicing',
    legal_basis: 'legal_obligation',
    provision_requirement: 'statutory',
    translations: { en: en('Invoicing', { provision_consequences: 'Without your tax number we cannot issue an invoice' }) },
  });
  t.equal(stated.statusCode, 201, stated.body);
});

t.test('data not collected from the person names its source in every locale (Art. 14(2)(f))', async (t) => {
  const ta = await build(t);
  for (const data_source of ['third_party', 'public_source']) {
    const res = await post(ta, { key: 'leads', data_source });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', data_source)), ['translations.en.source_detail']);
  }
  t.equal((await post(ta, { key: 'own', data_source: 'data_subject' })).statusCode, 201);
  const named = await post(ta, { key: 'leads', data_source: 'public_source', translations: { en: en('Leads', { source_detail: 'The commercial register' }) } });
  t.equal(named.statusCode, 201, named.body);
  t.match(named.json(), { data_source: 'public_source', translations: { en: { source_detail: 'The commercial register' } } });
});
