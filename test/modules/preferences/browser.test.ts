// The reference preference page in a real headless Chromium: a person opens their portal link, withdraws and gives
// consent back, objects to marketing, files an erasure with the emailed code and sees its due date, switches language;
// expired and forged links get a page that says what to do. Every state is scanned with axe-core (WCAG 2.2 AA) and
// photographed into docs/screenshots/.
import { createHmac } from 'node:crypto';
import t from 'tap';
import type { Page } from 'playwright-core';
import { signSubjectToken } from '../../../src/lib/subject-tokens.js';
import { axeScan, launchBrowser, listen, screenshot } from '../../helpers/browser.js';
import { startSmtpSink, type Mail } from '../../helpers/smtp-sink.js';
import { build, createPurpose, createSubject, grant, type TestApp } from '../../helper.js';

const EMAIL = 'maria.petrova@example.com';

async function check(ta: TestApp, purpose: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose, identifiers: [{ type: 'email', value: EMAIL }] } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json().results[0].reason;
}

const codeIn = (mail: Mail) => /\b([0-9]{6})\b/.exec(mail.text.split(/\r?\n\r?\n/).slice(1).join('\n'))?.[1];

async function waitForMail(mails: Mail[], count: number): Promise<Mail> {
  for (let i = 0; i < 100 && mails.length < count; i++) await new Promise((r) => setTimeout(r, 50));
  if (mails.length < count) throw new Error('no mail arrived');
  return mails[count - 1]!;
}

const flashOf = (page: Page) => page.locator('[role="status"]').innerText();

t.test('a person manages their choices in a real browser', async (t) => {
  const sink = await startSmtpSink(t);
  const ta = await build(t, { env: { SMTP_URL: sink.url, SMTP_FROM: 'Acme Books <privacy@acme.example>' } });
  const renamed = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: 'Acme Books Ltd', default_locale: 'en' } });
  t.equal(renamed.statusCode, 200, renamed.body);
  await createPurpose(ta, 'newsletter', {
    direct_marketing: true,
    data_categories: ['contact'],
    translations: {
      en: { title: 'Newsletter', description: 'A monthly email with new books and offers.' },
      bg: { title: 'Бюлетин', description: 'Месечен имейл с нови книги и оферти.' },
      de: { title: 'Newsletter', description: 'Eine monatliche E-Mail mit neuen Büchern und Angeboten.' },
    },
  });
  await createPurpose(ta, 'fraud_prevention', {
    legal_basis: 'legitimate_interests',
    translations: { en: { title: 'Fraud prevention', description: 'We check orders for signs of fraud.', legitimate_interests: 'Protecting our customers and us from fraud' } },
  });
  const subjectId = await createSubject(ta, EMAIL);
  await grant(ta, subjectId, 'newsletter');
  t.equal(await check(ta, 'newsletter'), 'consent_granted');

  const base = await listen(ta);
  const browser = await launchBrowser(t);
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  const scan = async (state: string) => {
    await screenshot(page, state);
    const serious = await axeScan(t, page, state);
    t.same(serious, [], `${state}: no serious or critical accessibility violation`);
  };

  const link = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} });
  t.equal(link.statusCode, 201, link.body);
  const { token } = link.json();

  t.test('the link opens the page, and the token leaves the address bar', async (t) => {
    const response = await page.goto(`${base}/preferences?token=${token}`);
    t.equal(response?.status(), 200);
    t.equal(page.url(), `${base}/preferences`, 'redirected: no token in the address or the history');
    t.equal(await page.locator('html').getAttribute('lang'), 'en');
    t.equal(await page.locator('h1').innerText(), 'Your privacy choices');
    t.match(await page.locator('.org').innerText(), 'Acme Books Ltd');
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'rf_pref')!;
    t.ok(c.httpOnly, 'the cookie is HttpOnly: no script can read the token');
    t.equal(c.sameSite, 'Lax');
    t.equal(c.path, '/preferences');
    t.match(await page.locator('section[aria-labelledby="h-object"] h2').innerText(), 'Your right to object', 'objection in a section of its own (Art. 21(4))');
    await scan('overview');
  });

  t.test('withdrawing consent is one click, and so is giving it back (Art. 7(3))', async (t) => {
    await page.getByRole('button', { name: 'Withdraw consent (Newsletter)' }).click();
    await page.waitForURL(`${base}/preferences`);
    t.equal(await flashOf(page), 'Your consent is withdrawn.');
    t.equal(await check(ta, 'newsletter'), 'consent_withdrawn');
    await scan('consent-withdrawn');

    await page.getByRole('button', { name: 'Give consent (Newsletter)' }).click();
    await page.waitForURL(`${base}/preferences`);
    t.equal(await flashOf(page), 'Thank you: your consent is recorded.');
    t.equal(await check(ta, 'newsletter'), 'consent_granted');
  });

  t.test('an objection to direct marketing applies at once (Art. 21(3))', async (t) => {
    await page.getByRole('button', { name: 'Object to all direct marketing' }).click();
    await page.waitForURL(`${base}/preferences`);
    t.match(await flashOf(page), 'Your objection to direct marketing is recorded');
    t.match(await page.locator('.object').innerText(), 'You have objected to all direct marketing.');
    t.equal(await check(ta, 'newsletter'), 'objected');
    await scan('objected');
  });

  t.test('an erasure needs the emailed code, and then shows its due date (Art. 12(3), 17, 32)', async (t) => {
    t.equal(await page.getByLabel('Code from the email (6 digits)').count(), 0, 'step 2 only after a code was asked for');
    await page.getByRole('button', { name: 'Email me a code' }).first().click();
    await page.waitForURL(`${base}/preferences`);
    t.match(await flashOf(page), /We have emailed a code to m.*@example\.com/);
    const mail = await waitForMail(sink.mails, 1);
    t.equal(mail.to, EMAIL);
    const code = codeIn(mail);
    t.ok(code, 'the mail holds a 6-digit code');
    await scan('erasure-code');

    await page.getByLabel('Code from the email (6 digits)').fill(code!);
    await page.getByRole('button', { name: 'Request erasure' }).click();
    await page.waitForURL(`${base}/preferences`);
    t.match(await flashOf(page), 'Your erasure request is received');

    const requests = await ta.call({ method: 'GET', url: `/v1/rights-requests?subject_id=${subjectId}` });
    const erasure = (requests.json().items as { type: string; status: string; due_date: string; channel: string }[]).find((r) => r.type === 'erasure')!;
    t.ok(erasure, 'the request exists');
    t.equal(erasure.channel, 'web');
    const due = new Intl.DateTimeFormat('en', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${erasure.due_date}T00:00:00Z`));
    const row = page.locator('tbody tr', { hasText: 'Erasure' });
    t.match(await row.innerText(), due, `the due date ${due} is shown`);
    t.match(await row.innerText(), erasure.status === 'awaiting_approval' ? 'Being reviewed' : 'Received', 'and its status');
    await scan('request-filed');
  });

  t.test('the language switcher works without script, and is remembered', async (t) => {
    await page.getByRole('link', { name: 'Български' }).click();
    await page.waitForURL(/lang=bg/);
    t.equal(await page.locator('html').getAttribute('lang'), 'bg');
    t.equal(await page.locator('h1').innerText(), 'Вашите избори за поверителност');
    t.match(await page.locator('main').innerText(), 'Бюлетин', "the purpose's own Bulgarian title");
    await scan('bg');

    await page.getByRole('link', { name: 'Deutsch' }).click();
    await page.waitForURL(/lang=de/);
    t.equal(await page.locator('html').getAttribute('lang'), 'de');
    t.equal(await page.locator('h1').innerText(), 'Ihre Datenschutz-Einstellungen');
    await page.goto(`${base}/preferences`);
    t.equal(await page.locator('html').getAttribute('lang'), 'de', 'the choice is kept in a cookie');
    await scan('de');
  });

  t.test('an expired link says to ask for a new one', async (t) => {
    const fresh = await browser.newContext({ locale: 'en-GB' });
    t.teardown(() => fresh.close());
    const p = await fresh.newPage();
    const expired = signSubjectToken(ta.config.jwt.secret, { tid: ta.tenantId, sid: subjectId, ttlSeconds: 60, iss: ta.config.jwt.issuer, aud: ta.config.jwt.audience }, Date.now() - 7200_000);
    const res = await p.goto(`${base}/preferences?token=${expired.token}`);
    t.equal(res?.status(), 401);
    t.equal(await p.locator('h1').innerText(), 'This link has expired');
    t.match(await p.locator('main').innerText(), 'ask the organisation for a new link');
    await screenshot(p, 'expired');
    t.same(await axeScan(t, p, 'expired'), []);
  });

  t.test('a forged link says it does not work, in the browser\'s language', async (t) => {
    const fresh = await browser.newContext({ locale: 'de-DE' });
    t.teardown(() => fresh.close());
    const p = await fresh.newPage();
    const [h, b] = token.split('.');
    const forged = `${h}.${b}.${createHmac('sha256', 'guess').update(`${h}.${b}`).digest('base64url')}`;
    const res = await p.goto(`${base}/preferences?token=${forged}`);
    t.equal(res?.status(), 401);
    t.equal(await p.locator('html').getAttribute('lang'), 'de');
    t.equal(await p.locator('h1').innerText(), 'Dieser Link funktioniert nicht');
    t.equal((await fresh.cookies()).filter((c) => c.name === 'rf_pref').length, 0, 'no cookie');
    await screenshot(p, 'invalid');
    t.same(await axeScan(t, p, 'invalid'), []);
  });
});
