// The reference preference page over inject: its headers, escaping, the link → cookie → 303 flow, CSRF refusals that
// record nothing, and the friendly pages for missing, forged and expired links in the person's language.
import { createHmac } from 'node:crypto';
import t from 'tap';
import { signSubjectToken } from '../../../src/lib/subject-tokens.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';
import { TEMPLATES } from '../../../src/modules/preferences/preferences.views.js';
import { brandColor, contrastWithWhite, DEFAULT_BRAND } from '../../../src/modules/preferences/preferences.http.js';

type Res = Awaited<ReturnType<TestApp['app']['inject']>>;

async function portalLink(ta: TestApp, subjectId: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} });
  if (res.statusCode !== 201) throw new Error(`portal link: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

/** The cookies a response sets, by name (value and attributes). */
function setCookies(res: Res): Record<string, string> {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return Object.fromEntries(list.map((c) => [c.slice(0, c.indexOf('=')), c]));
}
const valueOf = (setCookie: string) => decodeURIComponent(setCookie.slice(setCookie.indexOf('=') + 1).split(';')[0]!);

/** Opens the link as a browser would: the token goes into the cookie; the cookie header to send from then on. */
async function openLink(ta: TestApp, token: string): Promise<string> {
  const res = await ta.app.inject({ method: 'GET', url: `/preferences?token=${token}` });
  if (res.statusCode !== 303) throw new Error(`open: ${res.statusCode} ${res.body}`);
  return `rf_pref=${encodeURIComponent(valueOf(setCookies(res)['rf_pref']!))}`;
}

const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

async function consentState(ta: TestApp, subjectId: string, purpose: string): Promise<string> {
  const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}/consents` });
  const items = res.json().purposes as { purpose: string; status: string }[];
  return items.find((i) => i.purpose === purpose)?.status ?? 'none';
}

t.test('the preference page', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true, translations: { en: { title: '<script>alert(1)</script> news', description: 'Monthly "news" & offers' } } });
  const subjectId = await createSubject(ta, 'ana.ivanova@example.com');
  await grant(ta, subjectId, 'newsletter');

  t.test('a link becomes an HttpOnly cookie and a 303 to /preferences, and the token leaves the address', async (t) => {
    const token = await portalLink(ta, subjectId);
    const res = await ta.app.inject({ method: 'GET', url: `/preferences?token=${token}&lang=de` });
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/preferences');
    const cookies = setCookies(res);
    const c = cookies['rf_pref']!;
    t.equal(valueOf(c), token, 'the cookie holds the token');
    t.match(c, /; HttpOnly/);
    t.match(c, /; Path=\/preferences/);
    t.match(c, /; SameSite=Lax/);
    t.notMatch(c, /Secure/, 'not Secure over plain http');
    const maxAge = Number(/Max-Age=([0-9]+)/.exec(c)![1]);
    t.ok(maxAge > 23 * 3600 && maxAge <= 24 * 3600, `lives until the token expires (24 h by default): ${maxAge}`);
    t.match(cookies['rf_lang'], /^rf_lang=de;/, 'the language chosen with the link is remembered');
    t.equal(res.headers['referrer-policy'], 'no-referrer');
    t.equal(res.headers['cache-control'], 'no-store');

    const https = await ta.app.inject({ method: 'GET', url: `/preferences?token=${token}`, headers: { 'x-forwarded-proto': 'https' } });
    t.equal(https.statusCode, 303);
    // Only behind a trusted proxy does the request count as https; without TRUST_PROXY the header is ignored.
    t.notMatch(setCookies(https)['rf_pref'], /Secure/);

    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie: `rf_pref=${encodeURIComponent(token)}; rf_lang=de` } });
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
    t.match(page.body, /<html lang="de">/);
    t.match(page.body, /Ihre Datenschutz-Einstellungen/);
    t.match(page.body, /Test controller/, "the tenant's name");
  });

  t.test('every page carries the strict CSP and the other security headers', async (t) => {
    const cookie = await openLink(ta, await portalLink(ta, subjectId));
    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    t.equal(page.statusCode, 200);
    const csp = String(page.headers['content-security-policy']);
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    t.ok(nonce, 'a nonce for the colour style block');
    t.equal(
      csp,
      `default-src 'none'; script-src 'self'; style-src 'self' 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    t.match(page.body, new RegExp(`<style nonce="${nonce!.replace(/[+/=]/g, (c) => `\\${c}`)}">:root\\{--brand:${DEFAULT_BRAND}\\}</style>`), 'the default colour, under the nonce');
    t.notMatch(page.body, /<script>(?!alert)/, 'no inline script');
    t.notMatch(page.body, / style="/, 'no inline style attributes');
    t.equal(page.headers['referrer-policy'], 'no-referrer');
    t.equal(page.headers['x-content-type-options'], 'nosniff');
    t.equal(page.headers['cache-control'], 'no-store');
    const again = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    t.not(again.headers['content-security-policy'], csp, 'a fresh nonce on every response');

    for (const url of ['/preferences', '/preferences?token=a.b.c']) {
      const refused = await ta.app.inject({ method: 'GET', url });
      t.equal(refused.statusCode, 401, url);
      t.match(refused.headers['content-security-policy'], /^default-src 'none'; script-src 'self';/);
      t.equal(refused.headers['cache-control'], 'no-store');
    }
    const css = await ta.app.inject({ method: 'GET', url: '/preferences/style.css' });
    t.equal(css.statusCode, 200);
    t.match(css.headers['content-type'], /^text\/css/);
    t.match(css.body, /var\(--brand\)/);
    const js = await ta.app.inject({ method: 'GET', url: '/preferences/app.js' });
    t.equal(js.statusCode, 200);
    t.match(js.headers['content-type'], /^text\/javascript/);
    t.equal(js.headers['x-content-type-options'], 'nosniff');
  });

  t.test("a purpose's texts are escaped, never markup", async (t) => {
    const cookie = await openLink(ta, await portalLink(ta, subjectId));
    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    t.notMatch(page.body, /<script>alert\(1\)<\/script>/);
    t.match(page.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt; news/);
    t.match(page.body, /Monthly &quot;news&quot; &amp; offers/);
  });

  t.test('the templates print data only through the escaping tag', async (t) => {
    for (const [name, source] of Object.entries(TEMPLATES)) {
      const raw = [...source.matchAll(/<%~\s*([^%]*?)\s*%>/g)].map((m) => m[1]!);
      for (const r of raw) t.ok(/^include\('@[a-z]+', [^)]*\)$/.test(r) || r === 'it.body', `${name}: <%~ ${r} %> outputs markup, not data`);
    }
  });

  t.test('a CSRF token missing, wrong, or from another link is a 403 page, and nothing is recorded', async (t) => {
    const cookie = await openLink(ta, await portalLink(ta, subjectId));
    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    const good = csrfIn(page.body)!;
    t.ok(good);
    const otherCookie = await openLink(ta, await portalLink(ta, subjectId));
    const otherPage = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie: otherCookie } });
    const other = csrfIn(otherPage.body)!;
    t.not(other, good, 'each link has its own token');
    const form = (csrf?: string) => new URLSearchParams({ ...(csrf === undefined ? {} : { csrf }), purpose: 'newsletter', action: 'withdraw', purpose_version: '1' }).toString();
    const post = (body: string, headers: Record<string, string> = {}) =>
      ta.app.inject({ method: 'POST', url: '/preferences/consents', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: body });

    for (const [what, body] of [
      ['missing', form()],
      ['wrong', form('A'.repeat(43))],
      ['garbage', form('<x>')],
      ["another link's", form(other)],
    ] as const) {
      const res = await post(body);
      t.equal(res.statusCode, 403, `${what} token`);
      t.match(res.headers['content-type'], /^text\/html/);
      t.match(res.body, /Your request was not accepted/);
      t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
    }
    const crossSite = await post(form(good), { origin: 'https://evil.example' });
    t.equal(crossSite.statusCode, 403, 'another Origin, even with the right token');
    const fetchSite = await post(form(good), { 'sec-fetch-site': 'cross-site' });
    t.equal(fetchSite.statusCode, 403, 'Sec-Fetch-Site cross-site, even with the right token');
    t.equal(await consentState(ta, subjectId, 'newsletter'), 'granted', 'no refused post withdrew anything');

    const noCookie = await ta.app.inject({ method: 'POST', url: '/preferences/consents', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form(good) });
    t.equal(noCookie.statusCode, 401, 'without the cookie: the page asks for the link');

    // The page's own post: same origin (Origin null, as Referrer-Policy no-referrer makes browsers send).
    const ok = await post(form(good), { origin: 'null', 'sec-fetch-site': 'same-origin' });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/preferences');
    t.equal(await consentState(ta, subjectId, 'newsletter'), 'withdrawn');
    const flash = setCookies(ok)['rf_flash']!;
    t.equal(valueOf(flash), 'withdrawn');
    const after = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie: `${cookie}; rf_flash=withdrawn` } });
    t.match(after.body, /<div role="status" class="flash"><p>Your consent is withdrawn\.<\/p><\/div>/, 'the message after the redirect, in a status region');
    t.match(setCookies(after)['rf_flash'], /Max-Age=0/, 'shown once');
    await grant(ta, subjectId, 'newsletter');
  });

  t.test('a missing, forged, expired or malformed link is a friendly page in the person\'s language', async (t) => {
    const missing = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { 'accept-language': 'bg-BG,bg;q=0.9,en;q=0.5' } });
    t.equal(missing.statusCode, 401);
    t.match(missing.body, /<html lang="bg">/);
    t.match(missing.body, /Отворете връзката от имейла/);

    const real = await portalLink(ta, subjectId);
    const [h, p] = real.split('.');
    const forged = `${h}.${p}.${createHmac('sha256', 'not the key').update(`${h}.${p}`).digest('base64url')}`;
    const bad = await ta.app.inject({ method: 'GET', url: `/preferences?token=${forged}`, headers: { 'accept-language': 'de-DE' } });
    t.equal(bad.statusCode, 401);
    t.match(bad.body, /<html lang="de">/);
    t.match(bad.body, /Dieser Link funktioniert nicht/);
    t.match(bad.body, /bitten Sie die Organisation um einen neuen Link/);
    t.notOk(setCookies(bad)['rf_pref'], 'no cookie for a refused link');

    const expired = signSubjectToken(ta.config.jwt.secret, { tid: ta.tenantId, sid: subjectId, ttlSeconds: 60, iss: ta.config.jwt.issuer, aud: ta.config.jwt.audience }, Date.now() - 3600_000);
    const old = await ta.app.inject({ method: 'GET', url: `/preferences?token=${expired.token}&lang=en`, headers: { 'accept-language': 'de' } });
    t.equal(old.statusCode, 401);
    t.match(old.body, /<html lang="en">/, 'lang in the address wins over Accept-Language');
    t.match(old.body, /This link has expired/);
    t.match(old.body, /ask the organisation for a new link/);
    t.notMatch(old.body, /at |Error|stack|\{"/, 'no stack trace, no JSON');

    const inCookie = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie: `rf_pref=${expired.token}; rf_lang=bg` } });
    t.equal(inCookie.statusCode, 401);
    t.match(inCookie.body, /Тази връзка е изтекла/);
    t.match(setCookies(inCookie)['rf_pref'], /Max-Age=0/, 'an expired cookie is cleared');

    const malformed = await ta.app.inject({ method: 'GET', url: '/preferences?token=abc' });
    t.equal(malformed.statusCode, 400);
    t.match(malformed.body, /This link is incomplete/);
    const long = await ta.app.inject({ method: 'GET', url: `/preferences?token=${'a'.repeat(3000)}` });
    t.equal(long.statusCode, 400);
    t.match(long.headers['content-type'], /^text\/html/);
  });

  t.test('a bad form is an HTML page, not a problem document', async (t) => {
    const cookie = await openLink(ta, await portalLink(ta, subjectId));
    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    const csrf = csrfIn(page.body)!;
    const res = await ta.app.inject({
      method: 'POST',
      url: '/preferences/consents',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf, purpose: 'newsletter', action: 'delete-everything', purpose_version: '1' }).toString(),
    });
    t.equal(res.statusCode, 400);
    t.match(res.headers['content-type'], /^text\/html/);
    t.match(res.body, /The form could not be read/);
    t.match(res.body, /href="\/preferences"/, 'with the way back');
  });

  t.test('a stale purpose version is a message asking to read again, not a recorded consent', async (t) => {
    const cookie = await openLink(ta, await portalLink(ta, subjectId));
    const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
    const csrf = csrfIn(page.body)!;
    // A new text makes version 2; the page still shows version 1.
    const changed = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { translations: { en: { title: 'News v2', description: 'Now weekly' } } } });
    t.equal(changed.statusCode, 200, changed.body);
    const res = await ta.app.inject({
      method: 'POST',
      url: '/preferences/consents',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf, purpose: 'newsletter', action: 'withdraw', purpose_version: '1' }).toString(),
    });
    t.equal(res.statusCode, 303);
    t.equal(valueOf(setCookies(res)['rf_flash']!), 'stale');
    t.equal(await consentState(ta, subjectId, 'newsletter'), 'granted');
  });
});

t.test("the tenant's colour is drawn only as #rrggbb, at least 4.5:1 under white text", async (t) => {
  t.equal(brandColor(null), DEFAULT_BRAND);
  t.equal(brandColor('red;}body{display:none'), DEFAULT_BRAND);
  t.equal(brandColor('#0B5394'), '#0b5394');
  t.ok(contrastWithWhite(DEFAULT_BRAND) >= 4.5);
  const light = brandColor('#ffd700');
  t.match(light, /^#[0-9a-f]{6}$/);
  t.ok(contrastWithWhite(light) >= 4.5, `darkened: ${light}`);
});

t.test('an approved export downloads through the page with the emailed code; a wrong code is a message', async (t) => {
  const sink = await startSmtpSink(t);
  const ta = await build(t, { env: { SMTP_URL: sink.url } });
  const subjectId = await createSubject(ta, 'ivan.georgiev@example.com');
  const system = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'Shop', kind: 'crm', handles: ['export'], contact_email: 'it@shop.example' } });
  t.equal(system.statusCode, 201, system.body);
  const created = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subjectId }, type: 'access', channel: 'email' } });
  const requestId = created.json().id;
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/gather` })).statusCode, 200);
  for (const task of (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/tasks` })).json().items as { id: string }[]) {
    const part = await ta.call({
      method: 'PUT',
      url: `/v1/rights-requests/${requestId}/tasks/${task.id}/data?provided_categories=orders`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ orders: [{ id: 'o-1', total: '12.50' }] }),
    });
    t.equal(part.statusCode, 200, part.body);
  }
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export/approve`, payload: {} })).statusCode, 200);

  const cookie = await openLink(ta, await portalLink(ta, subjectId));
  const page = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie } });
  t.match(page.body, /Access, approved on/);
  t.notMatch(page.body, /\/download"/, 'no code form before a code was asked for');
  const csrf = csrfIn(page.body)!;
  const post = (url: string, form: Record<string, string>, extra = '') =>
    ta.app.inject({ method: 'POST', url, headers: { cookie: cookie + extra, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ csrf, ...form }).toString() });

  const sent = await post('/preferences/codes', { action: 'export' });
  t.equal(sent.statusCode, 303);
  t.match(valueOf(setCookies(sent)['rf_flash']!), /^code_sent\|i.*@example\.com$/, 'the masked address it went to');
  const codes = valueOf(setCookies(sent)['rf_codes']!);
  t.match(codes, /^export\.[0-9]+$/);
  const withCode = await ta.app.inject({ method: 'GET', url: '/preferences', headers: { cookie: `${cookie}; rf_codes=${codes}` } });
  t.match(withCode.body, new RegExp(`action="/preferences/exports/${requestId}/download"`), 'the code form, while the code lives');
  for (let i = 0; i < 100 && sink.mails.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const code = /\b([0-9]{6})\b/.exec(sink.mails[0]!.text.split(/\r?\n\r?\n/).slice(1).join('\n'))![1]!;

  const wrong = await post(`/preferences/exports/${requestId}/download`, { code: code === '000000' ? '111111' : '000000' });
  t.equal(wrong.statusCode, 303);
  t.equal(valueOf(setCookies(wrong)['rf_flash']!), 'code_invalid');

  const zip = await post(`/preferences/exports/${requestId}/download`, { code });
  t.equal(zip.statusCode, 200);
  t.equal(zip.headers['content-type'], 'application/zip');
  t.match(zip.headers['content-disposition'], /^attachment; filename="[A-Za-z0-9._-]+\.zip"$/);
  t.equal(zip.headers['cache-control'], 'no-store');
  t.equal(zip.rawPayload.subarray(0, 4).toString('hex'), '504b0304', 'a ZIP archive');
});
