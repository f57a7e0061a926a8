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
};

async function notice(ta: TestApp, query = '', tenantId?: string) {
  const res = await ta.call({ method: 'GET', url: `/v1/privacy-notice${query}`, tenantId });
  if (res.statusCode !== 200) throw new Error(`privacy-notice: ${res.statusCode} ${res.body}`);
  const body = res.json() as { controller: string; locale: string; purposes: NoticePurpose[]; rights: { right: string; article: string }[] };
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
  await createPurpose(ta, 'fraud', { legal_basis: 'legitimate_interests', translations: { en: en('Fraud prevention') } });
  await createPurpose(ta, 'profiling', {
    automated_decisions: true,
    translations: { en: en('Profiling'), bg: { title: 'Профилиране', description: 'Автоматизирани решения' } },
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

t.test('the notice lists the data-subject rights', async (t) => {
  const ta = await build(t);
  const n = await notice(ta);
  t.same(n.purposes, [], 'an empty register renders as no purposes');
  const rights = n.rights.map((r) => r.right);
  for (const r of ['access', 'rectification', 'erasure', 'restriction', 'portability', 'objection', 'withdraw_consent', 'complaint']) {
    t.ok(rights.includes(r), r);
  }
  t.ok(n.rights.every((r) => /^Art\. \d+/.test(r.article)));
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
