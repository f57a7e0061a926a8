// The person's own API (/v1/me): reached with a portal link's subject token and nothing else, localised, and
// recording the person's choices in the same ledger and checks the CRM relies on (Art. 7(3), 12, 21).
import t from 'tap';
import { signToken } from '../../../src/lib/tokens.js';
import { signSubjectToken } from '../../../src/lib/subject-tokens.js';
import { build, createPurpose, createSubject, grant, purposeTexts, type TestApp } from '../../helper.js';

type Req = Record<string, any>;

async function portalToken(ta: TestApp, subjectId: string, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, tenantId, payload: {} });
  if (res.statusCode !== 201) throw new Error(`portal link: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

const asPerson = (ta: TestApp, token: string, opts: { method?: 'GET' | 'POST'; url: string; payload?: object; headers?: Record<string, string> }) =>
  ta.app.inject({ method: opts.method ?? 'GET', url: opts.url, payload: opts.payload, headers: { authorization: `Bearer ${token}`, ...opts.headers } });

async function check(ta: TestApp, purpose: string, email: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json().results[0].reason;
}

t.test('a portal link opens GET /v1/me for its person, in the language of the browser or else the tenant\'s', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', {
    translations: {
      en: purposeTexts('newsletter'),
      bg: { title: 'Бюлетин', description: 'Изпращаме ви новини' },
      de: { title: 'Newsletter auf Deutsch', description: 'Wir senden Ihnen Neuigkeiten' },
    },
    data_categories: ['contact'],
  });
  await createPurpose(ta, 'fraud', { legal_basis: 'legitimate_interests' });
  const subjectId = await createSubject(ta, 'maria@example.com');
  await grant(ta, subjectId, 'newsletter');

  const link = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} });
  t.equal(link.statusCode, 201);
  const { url, token, expires_at } = link.json();
  t.equal(url, `${ta.config.portalBaseUrl}/preferences?token=${token}`, 'PORTAL_BASE_URL + /preferences?token=');
  t.ok(Math.abs(Date.parse(expires_at) - Date.now() - 24 * 3_600_000) < 10_000, "the tenant's default: 24 hours");
  t.notOk(url.includes('maria'), 'no personal data in the url');

  const en = await asPerson(ta, token, { url: '/v1/me' });
  t.equal(en.statusCode, 200, en.body);
  const me = en.json();
  t.match(me, { controller: { name: 'Test controller', brand_color: null, default_locale: 'en' }, locale: 'en', subject: { id: subjectId, restricted: false, marketing_objection: false } });
  t.notOk(en.body.includes('maria@example.com'), 'never the identifiers');
  const newsletter = me.purposes.find((p: Req) => p.key === 'newsletter');
  t.match(newsletter, { version: 1, title: 'Title of newsletter', legal_basis: 'consent', consent: 'granted', can_grant: false, can_withdraw: true, objected: false, can_object: false, data_categories: ['contact'] });
  t.match(me.purposes.find((p: Req) => p.key === 'fraud'), { legal_basis: 'legitimate_interests', consent: 'none', can_grant: false, can_withdraw: false, can_object: true });

  const bg = (await asPerson(ta, token, { url: '/v1/me', headers: { 'accept-language': 'bg-BG,bg;q=0.9,en;q=0.5' } })).json();
  t.equal(bg.locale, 'bg');
  t.equal(bg.purposes.find((p: Req) => p.key === 'newsletter').title, 'Бюлетин');
  const de = (await asPerson(ta, token, { url: '/v1/me', headers: { 'accept-language': 'fr;q=1, de;q=0.8' } })).json();
  t.equal(de.locale, 'de', 'the first supported language by weight');
  t.equal(de.purposes.find((p: Req) => p.key === 'newsletter').title, 'Newsletter auf Deutsch');

  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { default_locale: 'bg' } })).statusCode, 200);
  const fallback = (await asPerson(ta, token, { url: '/v1/me', headers: { 'accept-language': 'fr' } })).json();
  t.equal(fallback.locale, 'bg', "an unsupported language falls back to the tenant's default locale");
  t.equal(fallback.purposes.find((p: Req) => p.key === 'newsletter').title, 'Бюлетин');
});

t.test('subject tokens and service tokens never stand in for each other; expired, forged and foreign ones are refused', async (t) => {
  const ta = await build(t);
  const subjectId = await createSubject(ta, 'ivan@example.com');
  const token = await portalToken(ta, subjectId);
  const { secret, issuer: iss, audience: aud } = ta.config.jwt;

  const service = await ta.call({ method: 'GET', url: '/v1/me' });
  t.equal(service.statusCode, 401, 'a service token (all scopes) on /v1/me');
  t.equal(service.json().code, 'UNAUTHORIZED');
  const onSubjects = await asPerson(ta, token, { url: `/v1/subjects/${subjectId}` });
  t.equal(onSubjects.statusCode, 401, 'a subject token on a scoped route');
  t.equal((await asPerson(ta, token, { url: '/v1/purposes' })).statusCode, 401, 'nor on any other scoped route');

  const expired = signSubjectToken(secret, { tid: ta.tenantId, sid: subjectId, ttlSeconds: 60, iss, aud }, Date.now() - 3_600_000).token;
  t.equal((await asPerson(ta, expired, { url: '/v1/me' })).statusCode, 401, 'expired');
  const forged = signSubjectToken('another-secret-that-is-long-enough-0123456789', { tid: ta.tenantId, sid: subjectId, ttlSeconds: 600, iss, aud }).token;
  t.equal((await asPerson(ta, forged, { url: '/v1/me' })).statusCode, 401, 'signed with another key');
  const [h, , s] = token.split('.');
  const swapped = Buffer.from(JSON.stringify({ typ: 'subject', tid: ta.tenantId, sid: crypto.randomUUID(), jti: crypto.randomUUID(), iat: 1, exp: 9_999_999_999, iss, aud })).toString('base64url');
  t.equal((await asPerson(ta, `${h}.${swapped}.${s}`, { url: '/v1/me' })).statusCode, 401, 'tampered claims');
  // A service token's claims signed with the subject key are still not a subject token (typ), and vice versa.
  const serviceShaped = signToken(secret, { sub: 'x', tid: ta.tenantId, scope: 'subjects:read', ttlSeconds: 600, iss, aud });
  t.equal((await asPerson(ta, serviceShaped, { url: '/v1/me' })).statusCode, 401);
  t.equal((await asPerson(ta, 'not-a-token', { url: '/v1/me' })).statusCode, 401);
  t.equal((await ta.app.inject({ method: 'GET', url: '/v1/me' })).statusCode, 401, 'no token at all');

  const other = await ta.newTenant('Other controller');
  const foreign = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, tenantId: other, payload: {} });
  t.equal(foreign.statusCode, 404, "another tenant's subject id is a 404");
  t.equal((await ta.call({ method: 'POST', url: `/v1/subjects/${crypto.randomUUID()}/portal-links`, payload: {} })).statusCode, 404);
  const bad = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: { ttl_hours: 721 } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().errors, [{ field: 'ttl_hours' }]);
  const onlyRead = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, scope: 'subjects:read', payload: {} });
  t.equal(onlyRead.statusCode, 403, 'minting needs subjects:write');

  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { portal_token_hours: 2 } })).statusCode, 200);
  const short = (await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} })).json();
  t.ok(Math.abs(Date.parse(short.expires_at) - Date.now() - 2 * 3_600_000) < 10_000, "the tenant's portal_token_hours");
  const long = (await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: { ttl_hours: 720 } })).json();
  t.ok(Math.abs(Date.parse(long.expires_at) - Date.now() - 720 * 3_600_000) < 10_000, 'the body overrides it');
  t.equal((await asPerson(ta, long.token, { url: '/v1/me' })).statusCode, 200);
});

t.test('withdrawing and granting through /v1/me is what the campaign check answers, with provable evidence', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true, channels: ['email'] });
  const email = 'petar@example.com';
  const subjectId = await createSubject(ta, email);
  await grant(ta, subjectId, 'newsletter');
  const token = await portalToken(ta, subjectId);
  t.equal(await check(ta, 'newsletter', email), 'consent_granted');

  const ua = 'Mozilla/5.0 (test browser)';
  const withdrawn = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'newsletter', action: 'withdraw', purpose_version: 1 }, headers: { 'user-agent': ua } });
  t.equal(withdrawn.statusCode, 201, withdrawn.body);
  t.match(withdrawn.json(), { purpose: 'newsletter', consent: 'withdrawn' });
  t.equal(await check(ta, 'newsletter', email), 'consent_withdrawn', 'at once (Art. 7(3))');

  const granted = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'newsletter', action: 'grant', purpose_version: 1 }, headers: { 'user-agent': ua } });
  t.equal(granted.statusCode, 201);
  t.equal(await check(ta, 'newsletter', email), 'consent_granted');

  const history = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}/consents/history` })).json().items as Req[];
  const event = history.find((e) => e.id === granted.json().event_id)!;
  t.match(event, { action: 'grant', source: 'web_form', purpose_version: 1, evidence: { user_agent: ua, form_id: 'portal' } }, 'source web_form, the user agent and the version shown (Art. 7(1))');

  // A new version of the text: the page's old version is refused, so the person reads the current one.
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { retention: '1 year' } })).statusCode, 200);
  const stale = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'newsletter', action: 'withdraw', purpose_version: 1 } });
  t.equal(stale.statusCode, 409);
  t.equal(stale.json().code, 'PURPOSE_VERSION_STALE');
  t.equal(await check(ta, 'newsletter', email), 'consent_granted', 'nothing recorded');
  const current = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'newsletter', action: 'withdraw', purpose_version: 2 } });
  t.equal(current.statusCode, 201);

  await createPurpose(ta, 'billing', { legal_basis: 'contract' });
  const notConsent = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'billing', action: 'grant', purpose_version: 1 } });
  t.equal(notConsent.statusCode, 409);
  t.equal(notConsent.json().code, 'NOT_ON_CONSENT');
  t.equal((await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'nope', action: 'grant', purpose_version: 1 } })).statusCode, 404);
  const extra = await asPerson(ta, token, { method: 'POST', url: '/v1/me/consents', payload: { purpose: 'newsletter', action: 'grant', purpose_version: 2, source: 'api' } });
  t.equal(extra.statusCode, 400, 'no field beyond the contract (the source is always web_form)');
});

t.test('objections through /v1/me: direct marketing at once, processing as an assessed request', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'offers', { legal_basis: 'legitimate_interests', direct_marketing: true, channels: ['post'] });
  await createPurpose(ta, 'analytics', { legal_basis: 'legitimate_interests' });
  const email = 'elena@example.com';
  const subjectId = await createSubject(ta, email);
  const token = await portalToken(ta, subjectId);
  t.equal(await check(ta, 'offers', email), 'legal_basis');

  const dm = await asPerson(ta, token, { method: 'POST', url: '/v1/me/objections', payload: { scope: 'direct_marketing', purposes: ['offers'] } });
  t.equal(dm.statusCode, 201, dm.body);
  t.match(dm.json(), { objected: ['offers'], request_id: null, subject: { marketing_objection: false } });
  t.equal(await check(ta, 'offers', email), 'objected', 'Art. 21(3): at once');
  const listed = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}/objections` })).json();
  t.match(listed.items, [{ purpose: 'offers', status: 'upheld', source: 'web_form', evidence: { form_id: 'portal' } }]);

  const all = await asPerson(ta, token, { method: 'POST', url: '/v1/me/objections', payload: { scope: 'direct_marketing' } });
  t.match(all.json(), { subject: { marketing_objection: true } });
  const me = (await asPerson(ta, token, { url: '/v1/me' })).json();
  t.match(me.purposes.find((p: Req) => p.key === 'offers'), { objected: true, can_object: false });

  const processing = await asPerson(ta, token, { method: 'POST', url: '/v1/me/objections', payload: { scope: 'processing', purposes: ['analytics'], grounds: 'My situation is special' } });
  t.equal(processing.statusCode, 201, processing.body);
  t.match(processing.json(), { objected: ['analytics'] });
  const requestId = processing.json().request_id;
  t.ok(requestId, 'opens an objection request');
  const r = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}` })).json();
  t.match(r, { type: 'objection', channel: 'web', details: 'My situation is special', objection: { scope: 'processing', purposes: ['analytics'] } });
  t.equal(await check(ta, 'analytics', email), 'legal_basis', 'pending assessment (Art. 21(1))');
  t.equal((await asPerson(ta, token, { method: 'POST', url: '/v1/me/objections', payload: { scope: 'processing' } })).statusCode, 400, 'processing names purposes');
});

t.test('a request filed through /v1/me has its deadline, shows in the list, and reaches the DPO like any other', async (t) => {
  const ta = await build(t);
  const subjectId = await createSubject(ta, 'georgi@example.com');
  const token = await portalToken(ta, subjectId);
  const filed = await asPerson(ta, token, { method: 'POST', url: '/v1/me/rights-requests', payload: { type: 'access', details: 'Everything you hold, please' }, headers: { 'accept-language': 'de' } });
  t.equal(filed.statusCode, 201, filed.body);
  const created = filed.json();
  t.match(created, { type: 'access', status: 'received' });
  t.ok(created.due_at, 'a due date from receipt (Art. 12(3))');
  t.match(created.due_date, /^\d{4}-\d{2}-\d{2}$/, "the deadline as the controller's calendar day");

  const list = await asPerson(ta, token, { url: '/v1/me/rights-requests' });
  t.equal(list.statusCode, 200);
  t.match(list.json().items, [{ id: created.id, type: 'access', due_date: created.due_date, due_at: created.due_at, extended: false }]);
  const crm = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${created.id}` })).json();
  t.match(crm, { subject_id: subjectId, channel: 'web', locale: 'de', details: 'Everything you hold, please' });
  t.match((await asPerson(ta, token, { url: '/v1/me' })).json().requests, [{ id: created.id, due_at: created.due_at }]);

  const rect = await asPerson(ta, token, { method: 'POST', url: '/v1/me/rights-requests', payload: { type: 'rectification' } });
  t.equal(rect.statusCode, 400);
  t.match(rect.json().errors, [{ field: 'corrections' }]);

  // Another person of the tenant sees only their own.
  const otherId = await createSubject(ta, 'someone@example.com');
  const otherToken = await portalToken(ta, otherId);
  t.same((await asPerson(ta, otherToken, { url: '/v1/me/rights-requests' })).json().items, []);
});

t.test("an erased person's token reaches nothing", async (t) => {
  const ta = await build(t);
  const subjectId = await createSubject(ta, 'erase.me@example.com');
  const token = await portalToken(ta, subjectId);
  t.equal((await asPerson(ta, token, { url: '/v1/me' })).statusCode, 200);
  await ta.sql.query(`UPDATE subjects SET status = 'erased' WHERE id = $1`, [subjectId]);
  const res = await asPerson(ta, token, { url: '/v1/me' });
  t.equal(res.statusCode, 401);
  t.equal(res.json().code, 'UNAUTHORIZED');
  const again = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} });
  t.equal(again.statusCode, 409);
  t.equal(again.json().code, 'SUBJECT_ERASED');
});
