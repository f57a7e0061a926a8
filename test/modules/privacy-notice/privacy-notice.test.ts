import t from 'tap';
import { build, createPurpose, type TestApp } from '../../helper.js';
import { assertProblem, errorFields } from '../../helpers/problem.js';

type NoticePurpose = {
  key: string;
  version: number;
  locale: string;
  title: string;
  description: string;
  legal_basis: string;
  direct_marketing: boolean;
  automated_decisions: boolean;
  withdrawable: boolean;
  objectable: boolean;
  retention: string;
  recipients: string[];
  data_categories: string[];
  [k: string]: unknown;
};

type Notice = {
  controller: string;
  locale: string;
  texts_locale: string;
  headings: Record<string, string>;
  purposes: NoticePurpose[];
  rights: { right: string; article: string; title: string; text: string }[];
  right_to_object: { article: string; title: string; text: string; direct_marketing_text: string; purposes: string[] };
  missing: { item: string; article: string }[];
  controller_contact: unknown;
  dpo_contact: unknown;
  supervisory_authority: unknown;
  transfers_note: string;
};

async function notice(ta: TestApp, query = '', tenantId?: string) {
  const res = await ta.call({ method: 'GET', url: `/v1/privacy-notice${query}`, tenantId });
  if (res.statusCode !== 200) throw new Error(`privacy-notice: ${res.statusCode} ${res.body}`);
  const body = res.json() as Notice;
  return { ...body, byKey: Object.fromEntries(body.purposes.map((p) => [p.key, p])) as Record<string, NoticePurpose> };
}

const en = (title: string) => ({ title, description: `${title}: why and how` });

/** A small register: consent marketing (en+bg), contract (en), legitimate interests (en), consent profiling (en+bg), legal obligation (bg only). */
async function register(ta: TestApp) {
  await createPurpose(ta, 'newsletter', {
    direct_marketing: true,
    data_categories: ['email'],
    recipients: ['Mailer Ltd'],
    retention: 'Until withdrawn',
    translations: { en: en('Newsletter'), bg: { title: 'Бюлетин', description: 'Месечни новини' } },
  });
  await createPurpose(ta, 'billing', { legal_basis: 'contract', translations: { en: en('Billing') } });
  await createPurpose(ta, 'fraud', {
    legal_basis: 'legitimate_interests',
    translations: { en: { ...en('Fraud prevention'), legitimate_interests: 'Keeping customers and ourselves safe from fraud' } },
  });
  await createPurpose(ta, 'profiling', {
    automated_decisions: true,
    automated_decision_exception: 'explicit_consent',
    translations: {
      en: { ...en('Profiling'), automated_decision_logic: 'A score of past purchases decides which offers you see' },
      bg: { title: 'Профилиране', description: 'Автоматизирани решения', automated_decision_logic: 'Оценка на покупките определя офертите' },
    },
  });
  await createPurpose(ta, 'tax', { legal_basis: 'legal_obligation', translations: { bg: { title: 'Данъци', description: 'Счетоводство' } } });
  await createPurpose(ta, 'cctv', { legal_basis: 'public_task', translations: { en: en('CCTV') } });
}

t.test('?locale=bg shows bg text where a purpose has it and falls back to the default locale (en) per purpose', async (t) => {
  const ta = await build(t);
  await register(ta);
  const n = await notice(ta, '?locale=bg');
  t.equal(n.locale, 'bg', 'the notice says which locale was asked for');
  t.equal(n.controller, 'Test controller');
  t.same(n.purposes.map((p) => p.key), ['billing', 'cctv', 'fraud', 'newsletter', 'profiling', 'tax'], 'every purpose, ordered by key');
  t.match(n.byKey.newsletter, { locale: 'bg', title: 'Бюлетин', description: 'Месечни новини' });
  t.match(n.byKey.profiling, { locale: 'bg', title: 'Профилиране' });
  t.match(n.byKey.billing, { locale: 'en', title: 'Billing', description: 'Billing: why and how' });
  t.match(n.byKey.fraud, { locale: 'en', title: 'Fraud prevention' });
  t.match(n.byKey.tax, { locale: 'bg', title: 'Данъци' });
});

t.test('without a locale the tenant default (en) is used; a purpose without it falls back to a locale it has', async (t) => {
  const ta = await build(t);
  await register(ta);
  const n = await notice(ta);
  t.equal(n.locale, 'en');
  t.match(n.byKey.newsletter, { locale: 'en', title: 'Newsletter' });
  t.match(n.byKey.tax, { locale: 'bg', title: 'Данъци' }, 'the only text it has, rather than nothing');
});

t.test('a regional locale falls back to its language, then to the default', async (t) => {
  const ta = await build(t);
  await register(ta);
  await createPurpose(ta, 'brazil', { translations: { en: en('Brazil'), pt: { title: 'Brasil pt', description: 'pt' }, 'pt-BR': { title: 'Brasil BR', description: 'br' } } });
  const bgBG = await notice(ta, '?locale=bg-BG');
  t.equal(bgBG.locale, 'bg-BG');
  t.match(bgBG.byKey.newsletter, { locale: 'bg', title: 'Бюлетин' });
  t.match(bgBG.byKey.billing, { locale: 'en' });
  const ptBR = await notice(ta, '?locale=pt-BR');
  t.match(ptBR.byKey.brazil, { locale: 'pt-BR', title: 'Brasil BR' }, 'an exact match wins over the language');
  const ptPT = await notice(ta, '?locale=pt-PT');
  t.match(ptPT.byKey.brazil, { locale: 'pt', title: 'Brasil pt' });
});

t.test("the fallback follows the tenant's default locale when it changes", async (t) => {
  const ta = await build(t);
  await register(ta);
  const patched = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { default_locale: 'bg' } });
  t.equal(patched.statusCode, 200);
  const none = await notice(ta);
  t.equal(none.locale, 'bg');
  t.match(none.byKey.newsletter, { locale: 'bg' });
  const de = await notice(ta, '?locale=de');
  t.equal(de.locale, 'de');
  t.match(de.byKey.newsletter, { locale: 'bg', title: 'Бюлетин' }, 'no de text: the default bg is used');
  t.match(de.byKey.billing, { locale: 'en', title: 'Billing' }, 'neither de nor bg: the text it has');
});

t.test('withdrawable is true exactly for consent purposes; objectable for direct marketing, legitimate interests and public task', async (t) => {
  const ta = await build(t);
  await register(ta);
  const n = await notice(ta, '?locale=en');
  const flags = Object.fromEntries(n.purposes.map((p) => [p.key, [p.legal_basis, p.withdrawable, p.objectable]]));
  t.same(flags, {
    billing: ['contract', false, false],
    cctv: ['public_task', false, true],
    fraud: ['legitimate_interests', false, true],
    newsletter: ['consent', true, true],
    profiling: ['consent', true, false],
    tax: ['legal_obligation', false, false],
  });
  t.match(n.byKey.newsletter, { direct_marketing: true, automated_decisions: false, data_categories: ['email'], recipients: ['Mailer Ltd'], retention: 'Until withdrawn' });
  t.match(n.byKey.profiling, { direct_marketing: false, automated_decisions: true });
});

t.test('a direct-marketing purpose on another basis is still objectable', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'upsell', { legal_basis: 'contract', direct_marketing: true });
  const n = await notice(ta);
  t.match(n.byKey.upsell, { withdrawable: false, objectable: true });
});

t.test('the notice shows the current version of each purpose', async (t) => {
  const ta = await build(t);
  await register(ta);
  const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { translations: { en: en('Weekly newsletter') } } });
  t.equal(res.json().version, 2);
  const n = await notice(ta, '?locale=bg');
  t.match(n.byKey.newsletter, { version: 2, locale: 'en', title: 'Weekly newsletter' }, 'the bg text was removed in version 2');
  t.equal(n.byKey.billing?.version, 1);
});

t.test('the notice lists the data-subject rights, with the right to object apart (Art. 13(2)(b)-(d), 21(4))', async (t) => {
  const ta = await build(t);
  const n = await notice(ta);
  t.same(n.purposes, [], 'an empty register renders as no purposes');
  t.same(
    n.rights.map((r) => [r.right, r.article]),
    [
      ['access', 'Art. 15'],
      ['rectification', 'Art. 16'],
      ['erasure', 'Art. 17'],
      ['restriction', 'Art. 18'],
      ['portability', 'Art. 20'],
      ['automated_decision', 'Art. 22'],
      ['withdraw_consent', 'Art. 7(3)'],
      ['complaint', 'Art. 77'],
    ],
  );
  t.ok(n.rights.every((r) => r.title && r.text), 'each right has a title and a text');
  t.match(n.rights.find((r) => r.right === 'withdraw_consent')?.text, /at any time/);
  t.notOk(n.rights.some((r) => r.right === 'objection'), 'the right to object is not buried among the others');
  t.match(n.right_to_object, { article: 'Art. 21', text: /Art\. 21\(1\)/, direct_marketing_text: /direct marketing/, purposes: [] });
});

t.test("each tenant's notice shows only its own controller and purposes", async (t) => {
  const ta = await build(t);
  await register(ta);
  const other = await ta.newTenant('Other controller');
  await createPurpose(ta, 'their-own', {}, other);
  const theirs = await notice(ta, '?locale=bg', other);
  t.equal(theirs.controller, 'Other controller');
  t.same(theirs.purposes.map((p) => p.key), ['their-own']);
  const mine = await notice(ta, '?locale=bg');
  t.notOk(mine.byKey['their-own']);
});

t.test('a malformed locale is a 400 naming the locale', async (t) => {
  const ta = await build(t);
  for (const locale of ['BG', 'bulgarian', 'bg_BG', 'en-us', 'b', '1234', 'bg-BG-x']) {
    const res = await ta.call({ method: 'GET', url: `/v1/privacy-notice?locale=${encodeURIComponent(locale)}` });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.match(errorFields(body), [/^(query|querystring)\.locale$/], locale);
  }
});

t.test('the notice needs purposes:read', async (t) => {
  const ta = await build(t);
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/privacy-notice', scope: 'subjects:read consents:read' }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.app.inject({ method: 'GET', url: '/v1/privacy-notice' }), 401, 'UNAUTHORIZED');
  t.equal((await ta.call({ method: 'GET', url: '/v1/privacy-notice', scope: 'purposes:read' })).statusCode, 200);
});

const LEGAL = {
  controller_contact: { name: 'Test controller Ltd', address: '1 Vitosha Blvd, 1000 Sofia', email: 'privacy@controller.example' },
  dpo_contact: { name: 'Data Protection Officer', email: 'dpo@controller.example', phone: '+359 2 123 4567' },
  supervisory_authority: { name: 'Commission for Personal Data Protection', url: 'https://www.cpdp.bg' },
};

/** A purpose that uses every field the notice shows. */
async function fullRegister(ta: TestApp) {
  await createPurpose(ta, 'credit', {
    legal_basis: 'contract',
    automated_decisions: true,
    automated_decision_exception: 'contract',
    data_categories: ['payment history'],
    recipients: ['Credit bureau Ltd (processor)'],
    channels: ['email', 'post'],
    transfers: [{ country: 'US', safeguard: 'standard_contractual_clauses' }],
    provision_requirement: 'contract_prerequisite',
    data_source: 'data_subject',
    retention: '5 years after the contract ends',
    translations: {
      en: {
        ...en('Credit decisions'),
        automated_decision_logic: 'A score from your payment history decides the credit limit',
        provision_consequences: 'Without it we cannot offer you credit',
      },
      de: {
        title: 'Kreditentscheidungen',
        description: 'Warum und wie',
        automated_decision_logic: 'Ein Score aus Ihrer Zahlungshistorie bestimmt das Kreditlimit',
        provision_consequences: 'Ohne die Daten können wir Ihnen keinen Kredit anbieten',
      },
    },
  });
  await createPurpose(ta, 'fraud', {
    legal_basis: 'legitimate_interests',
    data_source: 'third_party',
    data_categories: ['device data'],
    provision_requirement: null,
    translations: { en: { ...en('Fraud prevention'), legitimate_interests: 'Protecting customers from fraud', source_detail: 'Our card processor' } },
  });
}

t.test('the notice carries what Art. 13(1)-(2) and 14(1)-(2) require: controller, DPO, bases, interests, recipients, transfers, retention, provision, source, automated decisions, rights and the authority', async (t) => {
  const ta = await build(t);
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: LEGAL })).statusCode, 200);
  await fullRegister(ta);
  const n = await notice(ta, '?locale=en');
  t.same(n.controller_contact, LEGAL.controller_contact, 'Art. 13(1)(a)');
  t.same(n.dpo_contact, LEGAL.dpo_contact, 'Art. 13(1)(b)');
  t.same(n.supervisory_authority, LEGAL.supervisory_authority);

  t.match(n.byKey.credit, {
    locale: 'en',
    legal_basis: 'contract',
    legal_basis_text: /Art\. 6\(1\)\(b\)/,
    legitimate_interests: null,
    recipients: ['Credit bureau Ltd (processor)'],
    retention: '5 years after the contract ends',
    channels: ['email', 'post'],
    transfers: [{ country: 'US', country_name: 'United States', safeguard: 'standard_contractual_clauses', safeguard_text: /Art\. 46/ }],
    provision: { requirement: 'contract_prerequisite', text: /necessary to enter into a contract/, consequences: 'Without it we cannot offer you credit' },
    source: { type: 'data_subject', text: 'Collected from you.', detail: null },
    automated_decision: { exception: 'contract', exception_text: /Art\. 22\(2\)\(a\)/, logic: 'A score from your payment history decides the credit limit' },
  });
  t.match(n.byKey.fraud, {
    legal_basis: 'legitimate_interests',
    legal_basis_text: /Art\. 6\(1\)\(f\)/,
    legitimate_interests: 'Protecting customers from fraud',
    source: { type: 'third_party', text: /third party/, detail: 'Our card processor' },
    data_categories: ['device data'],
    provision: null,
    automated_decision: null,
  });
  t.match(n.transfers_note, /copy of the safeguards/);
  const complaint = n.rights.find((r) => r.right === 'complaint')!;
  t.match(complaint.text, /Commission for Personal Data Protection \(https:\/\/www\.cpdp\.bg\)/, 'the authority is named with its URL (Art. 13(2)(d))');
  t.same(n.right_to_object.purposes, ['fraud'], 'Art. 21 names the purposes it applies to');
  t.same(n.missing, [], 'nothing the law requires is missing');
});

t.test("the notice's own texts are in en, bg and de, falling back to the tenant's default locale, then en", async (t) => {
  const ta = await build(t);
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: LEGAL })).statusCode, 200);
  await fullRegister(ta);

  const bg = await notice(ta, '?locale=bg');
  t.equal(bg.texts_locale, 'bg');
  t.match(bg.headings, { rights: 'Вашите права', right_to_object: 'Вашето право на възражение' });
  t.match(bg.rights.find((r) => r.right === 'access'), { title: 'Достъп', text: /чл\. 15 от ОРЗД/ });
  t.match(bg.right_to_object, { title: /чл\. 21/ });
  t.match(bg.byKey.credit, { locale: 'en', title: 'Credit decisions', legal_basis_text: /чл\. 6, параграф 1, буква „б“/ }, "no bg text: the purpose's text falls back, the notice's own texts do not");
  t.match(bg.byKey.credit?.transfers, [{ country_name: 'Съединени щати' }], 'the country is named in the requested locale');

  const de = await notice(ta, '?locale=de-AT');
  t.equal(de.texts_locale, 'de', 'a regional locale uses its language');
  t.match(de.headings, { rights: 'Ihre Rechte' });
  t.match(de.byKey.credit, { locale: 'de', title: 'Kreditentscheidungen', automated_decision: { exception_text: /Art\. 22 Abs\. 2 lit\. a DSGVO/, logic: /Zahlungshistorie/ } });
  t.match(de.rights.find((r) => r.right === 'complaint')?.text, /zuständige Aufsichtsbehörde ist Commission for Personal Data Protection \(https:\/\/www\.cpdp\.bg\)/);

  const fr = await notice(ta, '?locale=fr');
  t.equal(fr.locale, 'fr');
  t.equal(fr.texts_locale, 'en', 'no fr texts: the default en');
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { default_locale: 'bg' } });
  t.equal((await notice(ta, '?locale=fr')).texts_locale, 'bg', "then the tenant's default");
});

t.test('a notice missing what the law requires still renders and lists each missing item with its article (Art. 13, 14)', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'leads', { data_source: 'public_source', translations: { en: { ...en('Leads'), source_detail: 'The commercial register' } } });
  // Purposes registered before the rules: on legitimate interests without the interests, automated without the exception.
  await createPurpose(ta, 'analytics');
  await createPurpose(ta, 'scoring');
  await ta.sql.query(`UPDATE purposes SET legal_basis = 'legitimate_interests' WHERE tenant_id = $1 AND key = 'analytics'`, [ta.tenantId]);
  await ta.sql.query(`UPDATE purposes SET automated_decisions = true, provision_requirement = 'statutory' WHERE tenant_id = $1 AND key = 'scoring'`, [
    ta.tenantId,
  ]);

  const n = await notice(ta);
  t.same(n.missing, [
    { item: 'controller_contact', article: 'Art. 13(1)(a)' },
    { item: 'dpo_contact', article: 'Art. 13(1)(b)' },
    { item: 'supervisory_authority', article: 'Art. 13(2)(d)' },
    { item: 'purposes.analytics.legitimate_interests', article: 'Art. 13(1)(d)' },
    { item: 'purposes.analytics.provision_requirement', article: 'Art. 13(2)(e)' },
    { item: 'purposes.leads.data_categories', article: 'Art. 14(1)(d)' },
    { item: 'purposes.newsletter.provision_requirement', article: 'Art. 13(2)(e)' },
    { item: 'purposes.scoring.automated_decision_exception', article: 'Art. 22(2)' },
    { item: 'purposes.scoring.automated_decision_logic', article: 'Art. 13(2)(f)' },
    { item: 'purposes.scoring.provision_consequences', article: 'Art. 13(2)(e)' },
  ]);
  t.match(n, { controller: 'Test controller', controller_contact: null, dpo_contact: null, supervisory_authority: null });
  t.match(n.byKey.analytics, { legitimate_interests: null });
  t.match(n.byKey.scoring, { automated_decision: { exception: null, exception_text: null, logic: null } });
  t.match(n.rights.find((r) => r.right === 'complaint')?.text, /supervisory authority/, 'the complaint right is stated even without the authority');

  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: LEGAL });
  const after = await notice(ta);
  t.notOk(after.missing.some((m) => !m.item.startsWith('purposes.')), 'the tenant settings are no longer missing');
});

t.test('privacyNotice.render(tenantId, locale) renders for a given person\'s locale, as an information request does', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { translations: { en: en('Newsletter'), de: { title: 'Newsletter DE', description: 'Neuigkeiten' } } });
  const rendered = await ta.scoped(() => ta.app.services.privacyNotice.render(ta.tenantId, 'de'));
  t.match(rendered, { locale: 'de', texts_locale: 'de', purposes: [{ key: 'newsletter', locale: 'de', title: 'Newsletter DE' }] });
  const byDefault = await ta.scoped(() => ta.app.services.privacyNotice.render(ta.tenantId, undefined));
  t.match(byDefault, { locale: 'en', texts_locale: 'en' });
});
