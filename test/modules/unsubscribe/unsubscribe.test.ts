// One-click unsubscribe (RFC 8058; Art. 21(2)-(3), 7(3)): the link a CRM puts in List-Unsubscribe, POSTed by the mail
// provider as a form, withdraws the consent and records the objection at once; a GET (a link scanner) changes nothing.
import t from 'tap';
import { build, createPurpose, createSubject, grant, purposeTexts, type TestApp } from '../../helper.js';

type Req = Record<string, any>;

async function link(ta: TestApp, subjectId: string, purpose: string): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/unsubscribe-links`, payload: { purpose } });
  if (res.statusCode !== 201) throw new Error(`unsubscribe link: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function check(ta: TestApp, purpose: string, email: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json().results[0].reason;
}

const count = async (ta: TestApp, table: string) => (await ta.sql.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
const form = (path: string, headers: Record<string, string> = {}) =>
  ({ method: 'POST' as const, url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: 'List-Unsubscribe=One-Click' });

t.test('the link holds ids only; a form POST withdraws the consent and records the objection, once', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true, channels: ['email'] });
  const email = 'radka.georgieva@example.com';
  const subjectId = await createSubject(ta, email);
  await grant(ta, subjectId, 'newsletter');

  const l = await link(ta, subjectId, 'newsletter');
  t.match(l.url, new RegExp(`^${ta.config.publicBaseUrl}/v1/unsubscribe/[A-Za-z0-9_-]{75}$`));
  t.equal(l.list_unsubscribe, `<${l.url}>`);
  t.equal(l.list_unsubscribe_post, 'List-Unsubscribe=One-Click');
  t.notMatch(l.url, /radka|example|newsletter/, 'no personal data (nor the purpose key) in the url');
  t.equal((await link(ta, subjectId, 'newsletter')).url, l.url, 'the same person and purpose give the same url');
  const path = new URL(l.url).pathname;

  // A link scanner's GET: a page with a button, and nothing recorded.
  const page = await ta.app.inject({ method: 'GET', url: path });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.headers['content-security-policy'], /default-src 'none'/);
  t.match(page.body, /Title of newsletter/);
  t.match(page.body, /<form method="post" action="\/v1\/unsubscribe\/[A-Za-z0-9_-]{75}"><input type="hidden" name="List-Unsubscribe" value="One-Click">/);
  t.notMatch(page.body, /radka|<script/i);
  t.equal(await check(ta, 'newsletter', email), 'consent_granted', 'a GET does not unsubscribe');

  const before = { events: await count(ta, 'consent_events'), objections: await count(ta, 'objections') };
  const res = await ta.app.inject(form(path, { 'user-agent': 'Gmail one-click' }));
  t.equal(res.statusCode, 200, res.body);
  t.same(res.json(), { unsubscribed: true });
  t.equal(await check(ta, 'newsletter', email), 'objected', 'the objection blocks the purpose at once (Art. 21(3))');
  const history = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}/consents/history` })).json().items as Req[];
  t.match(history.at(-1), { action: 'withdraw', source: 'web_form', evidence: { form_id: 'list-unsubscribe', user_agent: 'Gmail one-click' } }, 'the consent is withdrawn (Art. 7(3))');
  const objections = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}/objections` })).json();
  t.match(objections.items, [{ purpose: 'newsletter', scope: 'direct_marketing', status: 'upheld', source: 'web_form', evidence: { form_id: 'list-unsubscribe' } }]);
  t.equal(objections.marketing_objection, false, 'for this purpose only');

  const after = { events: await count(ta, 'consent_events'), objections: await count(ta, 'objections') };
  t.same(after, { events: before.events + 1, objections: before.objections + 1 });
  const outbox = await count(ta, 'outbox');
  const repeat = await ta.app.inject(form(path));
  t.equal(repeat.statusCode, 200);
  t.same(repeat.json(), { unsubscribed: true });
  t.same({ events: await count(ta, 'consent_events'), objections: await count(ta, 'objections') }, after, 'a repeat records nothing new');
  t.equal(await count(ta, 'outbox'), outbox, 'and announces nothing');
});

t.test('multipart bodies count too; a purpose on legitimate interests gets the objection only; other bodies and forged tokens are refused', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'offers', { legal_basis: 'legitimate_interests', direct_marketing: true, channels: ['post'] });
  await createPurpose(ta, 'analytics', { legal_basis: 'legitimate_interests' });
  const email = 'boris@example.com';
  const subjectId = await createSubject(ta, email);
  const path = new URL((await link(ta, subjectId, 'offers')).url).pathname;
  t.equal(await check(ta, 'offers', email), 'legal_basis');

  for (const [label, opts] of [
    ['no body', { method: 'POST' as const, url: path }],
    ['another value', { ...form(path), payload: 'List-Unsubscribe=Yes' }],
    ['JSON of another shape', { method: 'POST' as const, url: path, payload: { unsubscribe: true } }],
    ['text/plain', { method: 'POST' as const, url: path, headers: { 'content-type': 'text/plain' }, payload: 'List-Unsubscribe=One-Click' }],
  ] as const) {
    const res = await ta.app.inject(opts);
    t.ok(res.statusCode === 400 || res.statusCode === 415, `${label}: ${res.statusCode}`);
  }
  const big = await ta.app.inject({ ...form(path), payload: `List-Unsubscribe=One-Click&pad=${'x'.repeat(5000)}` });
  t.equal(big.statusCode, 413, 'form bodies are small');
  t.equal(await check(ta, 'offers', email), 'legal_basis', 'none of them unsubscribed');

  const boundary = '----RightfulTest7MA4YWxkTrZu0gW';
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
  const res = await ta.app.inject({ method: 'POST', url: path, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: multipart });
  t.equal(res.statusCode, 200, res.body);
  t.equal(await check(ta, 'offers', email), 'objected', 'Art. 21(2): whatever the legal basis');
  t.equal(await count(ta, 'consent_events'), 0, 'no consent to withdraw: the objection only');

  const [head] = path.split('/').slice(-1);
  const flipped = `${head!.slice(0, 70)}${head!.slice(70) === 'AAAAA' ? 'BBBBB' : 'AAAAA'}`;
  for (const forged of [flipped, 'x'.repeat(75), 'short', crypto.randomUUID()]) {
    const r = await ta.app.inject(form(`/v1/unsubscribe/${forged}`));
    t.equal(r.statusCode, 404, 'a forged token is a 404');
    t.equal(r.json().code, 'UNSUBSCRIBE_LINK_NOT_FOUND');
    t.equal((await ta.app.inject({ method: 'GET', url: `/v1/unsubscribe/${forged}` })).statusCode, 404);
  }

  const notApplicable = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/unsubscribe-links`, payload: { purpose: 'analytics' } });
  t.equal(notApplicable.statusCode, 422);
  t.equal(notApplicable.json().code, 'UNSUBSCRIBE_NOT_APPLICABLE');
  t.equal((await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/unsubscribe-links`, payload: { purpose: 'nope' } })).statusCode, 422);
  const other = await ta.newTenant('Other');
  t.equal((await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/unsubscribe-links`, tenantId: other, payload: { purpose: 'offers' } })).statusCode, 404, "another tenant's subject");
});

t.test('a consent purpose that is not marketing is withdrawn; the page is in the tenant language; an erased person is a quiet 200', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'surveys', {
    translations: { en: purposeTexts('surveys'), de: { title: 'Umfragen <b>', description: 'Wir fragen Sie' } },
  });
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { default_locale: 'de' } })).statusCode, 200);
  const email = 'dora@example.com';
  const subjectId = await createSubject(ta, email);
  await grant(ta, subjectId, 'surveys');
  const path = new URL((await link(ta, subjectId, 'surveys')).url).pathname;

  const page = await ta.app.inject({ method: 'GET', url: path });
  t.match(page.body, /<html lang="de">/);
  t.match(page.body, /Umfragen &lt;b&gt;/, 'the title, escaped');
  const browser = await ta.app.inject(form(path, { accept: 'text/html' }));
  t.equal(browser.statusCode, 200);
  t.match(browser.headers['content-type'], /^text\/html/);
  t.match(browser.body, /abgemeldet/);
  t.equal(await check(ta, 'surveys', email), 'consent_withdrawn');
  t.equal(await count(ta, 'objections'), 0, 'not marketing: a withdrawal, no objection');

  await ta.sql.query(`UPDATE subjects SET status = 'erased' WHERE id = $1`, [subjectId]);
  const erased = await ta.app.inject(form(path));
  t.equal(erased.statusCode, 200, 'nothing left to stop');
  t.same(erased.json(), { unsubscribed: true });
  const noLink = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/unsubscribe-links`, payload: { purpose: 'surveys' } });
  t.equal(noLink.statusCode, 409);
  t.equal(noLink.json().code, 'SUBJECT_ERASED');
});

t.test('other routes still refuse form bodies (415)', async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'POST', url: '/v1/subjects', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'identifiers=x' });
  t.equal(res.statusCode, 415);
  const multi = await ta.call({ method: 'POST', url: '/v1/purposes', headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' });
  t.equal(multi.statusCode, 415);
});
