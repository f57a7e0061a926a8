// One-time codes in the portal (Art. 32): an erasure filed and an export downloaded through /v1/me need a code mailed
// to the person; codes are kept hashed, live 10 minutes, allow 5 attempts and work once. And the two tenant settings
// of self-service: the portal link lifetime and the brand colour (WCAG 2.2 AA against white).
import t from 'tap';
import { build, createSubject, type TestApp } from '../../helper.js';
import { startSmtpSink, type Mail } from '../../helpers/smtp-sink.js';

type Req = Record<string, any>;

const codeIn = (mail: Mail) => /\b([0-9]{6})\b/.exec(mail.text.split(/\r?\n\r?\n/).slice(1).join('\n'))?.[1];

async function portalToken(ta: TestApp, subjectId: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: `/v1/subjects/${subjectId}/portal-links`, payload: {} });
  if (res.statusCode !== 201) throw new Error(`portal link: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

const asPerson = (ta: TestApp, token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
  ta.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });

/** An access request of the subject whose export a system filled, approved by the DPO (or not). */
async function approvedExport(ta: TestApp, subjectId: string, approve = true): Promise<string> {
  const system = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: `Shop ${crypto.randomUUID()}`, kind: 'crm', handles: ['export'], contact_email: 'it@shop.example' } });
  if (system.statusCode !== 201) throw new Error(`system: ${system.statusCode} ${system.body}`);
  const created = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subjectId }, type: 'access', channel: 'email' } });
  const requestId = created.json().id;
  const gathered = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/gather` });
  if (gathered.statusCode !== 200) throw new Error(`gather: ${gathered.statusCode} ${gathered.body}`);
  for (const task of (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/tasks` })).json().items as Req[]) {
    const part = await ta.call({
      method: 'PUT',
      url: `/v1/rights-requests/${requestId}/tasks/${task.id}/data?provided_categories=orders`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ orders: [{ id: 'o-1', total: '12.50' }] }),
    });
    if (part.statusCode !== 200) throw new Error(`upload: ${part.statusCode} ${part.body}`);
  }
  if (approve) {
    const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export/approve`, payload: {} });
    if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
  }
  return requestId;
}

t.test('an erasure needs a mailed code: none is 403, a wrong one counts, the right one files it once; then the token dies with the person', async (t) => {
  const { url, mails } = await startSmtpSink(t);
  let now = Date.now();
  const ta = await build(t, { env: { SMTP_URL: url }, clock: () => new Date(now) });
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: 'Acme Shop' } })).statusCode, 200);
  const subjectId = await createSubject(ta, 'Joana.Ivanova@Example.com');
  const token = await portalToken(ta, subjectId);
  const file = (payload: object) => asPerson(ta, token, 'POST', '/v1/me/rights-requests', payload);

  const without = await file({ type: 'erasure' });
  t.equal(without.statusCode, 403);
  t.equal(without.json().code, 'CODE_REQUIRED');

  const sent = await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' });
  t.equal(sent.statusCode, 202, sent.body);
  t.equal(sent.json().sent_to, 'j•••@example.com', 'the masked address');
  t.ok(Math.abs(Date.parse(sent.json().expires_at) - now - 600_000) < 2000, '10 minutes');
  t.equal(mails.length, 1);
  t.equal(mails[0]!.to, 'joana.ivanova@example.com');
  t.match(mails[0]!.text, /Acme Shop/);
  const code = codeIn(mails[0]!)!;
  t.match(code, /^[0-9]{6}$/);
  t.notMatch(mails[0]!.text, new RegExp(`${subjectId}|${token}`), 'no ids or token in the mail');
  const stored = (await ta.sql.query('SELECT code_hash, action FROM portal_codes WHERE subject_id = $1', [subjectId])).rows;
  t.equal(stored.length, 1);
  t.equal(stored[0].action, 'erasure');
  t.notOk((stored[0].code_hash as Buffer).toString('latin1').includes(code), 'only a keyed hash is kept');

  const soon = await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' });
  t.equal(soon.statusCode, 429, 'one code a minute per action');
  t.ok(Number(soon.headers['retry-after']) > 0 && Number(soon.headers['retry-after']) <= 60, 'with Retry-After');

  const wrongCode = code === '000000' ? '111111' : '000000';
  const wrong = await file({ type: 'erasure', code: wrongCode });
  t.equal(wrong.statusCode, 403);
  t.match(wrong.json(), { code: 'CODE_INVALID', detail: /4 attempts left/ });
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM rights_requests')).rows[0].n, 0, 'nothing filed');
  const exportCode = await file({ type: 'erasure', code: '12' });
  t.equal(exportCode.statusCode, 403, 'a malformed code is a wrong one');

  const filed = await file({ type: 'erasure', code, details: 'Please forget me' });
  t.equal(filed.statusCode, 201, filed.body);
  t.match(filed.json(), { type: 'erasure', status: 'awaiting_approval' });
  const reused = await file({ type: 'erasure', code });
  t.equal(reused.statusCode, 403, 'a code works once');
  t.equal(reused.json().code, 'CODE_INVALID');
  t.notMatch(reused.body, /joana|example\.com/i, 'no personal data in the error');

  // The DPO approves; with no system to tell, Rightful erases at once and the person's token reaches nothing.
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${filed.json().id}/approve`, payload: { identity: 'not_needed', identity_note: 'Asked from the portal', erasure_ground: 'consent_withdrawn' } });
  t.equal(approved.statusCode, 200, approved.body);
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subjectId}` })).json().status, 'erased');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM portal_codes WHERE subject_id = $1', [subjectId])).rows[0].n, 0, 'erasure deletes the one-time codes too');
  const after = await asPerson(ta, token, 'GET', '/v1/me');
  t.equal(after.statusCode, 401, "an erased person's token is refused");
  now += 61_000;
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' })).statusCode, 401);
});

t.test('five wrong codes spend a code; a new code replaces the old one; codes expire after 10 minutes', async (t) => {
  const { url, mails } = await startSmtpSink(t);
  let now = Date.now();
  const ta = await build(t, { env: { SMTP_URL: url }, clock: () => new Date(now) });
  const subjectId = await createSubject(ta, 'stoyan@example.com');
  const token = await portalToken(ta, subjectId);
  const file = (code: string) => asPerson(ta, token, 'POST', '/v1/me/rights-requests', { type: 'erasure', code });

  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' })).statusCode, 202);
  const code = codeIn(mails[0]!)!;
  const wrongCode = code === '000000' ? '111111' : '000000';
  for (let i = 1; i <= 5; i++) {
    const res = await file(wrongCode);
    t.equal(res.statusCode, 403, `wrong attempt ${i}`);
  }
  const spent = await file(code);
  t.equal(spent.statusCode, 403, 'the right code after five wrong ones is spent');
  t.match(spent.json().detail, /No valid code/);

  now += 61_000;
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' })).statusCode, 202);
  now += 61_000;
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' })).statusCode, 202);
  const [second, third] = [codeIn(mails[1]!)!, codeIn(mails[2]!)!];
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM portal_codes WHERE subject_id = $1', [subjectId])).rows[0].n, 1, 'the spent and the replaced codes are gone');
  if (second !== third) t.equal((await file(second)).statusCode, 403, 'the replaced code no longer works');
  now += 10 * 60_000 + 1000;
  t.equal((await file(third)).statusCode, 403, 'expired after 10 minutes');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM rights_requests')).rows[0].n, 0);

  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'export' })).statusCode, 202, 'another action has its own minute');
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'delete' })).statusCode, 400);
});

t.test('without SMTP a code is 503; without an email identifier 409', async (t) => {
  const ta = await build(t);
  const subjectId = await createSubject(ta, 'nosmtp@example.com');
  const token = await portalToken(ta, subjectId);
  const res = await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'export' });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'CODE_UNAVAILABLE');

  const { url } = await startSmtpSink(t);
  const withSmtp = await build(t, { env: { SMTP_URL: url } });
  const phoneOnly = (await withSmtp.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'phone', value: '+359887000111' }] } })).json().id;
  const phoneToken = await portalToken(withSmtp, phoneOnly);
  const none = await asPerson(withSmtp, phoneToken, 'POST', '/v1/me/codes', { action: 'erasure' });
  t.equal(none.statusCode, 409);
  t.equal(none.json().code, 'NO_EMAIL_IDENTIFIER');
  t.notMatch(none.body, /359887000111/);
});

t.test('an approved export downloads through /v1/me with a code, as a ZIP recorded in the audit trail; not another person\'s', async (t) => {
  const { url, mails } = await startSmtpSink(t);
  const ta = await build(t, { env: { SMTP_URL: url } });
  const subjectId = await createSubject(ta, 'download@example.com');
  const token = await portalToken(ta, subjectId);
  const requestId = await approvedExport(ta, subjectId);
  const me = (await asPerson(ta, token, 'GET', '/v1/me')).json();
  t.match(me.exports, [{ request_id: requestId, type: 'access', status: 'ready', approved_at: String }]);

  const noCode = await asPerson(ta, token, 'POST', `/v1/me/exports/${requestId}/download`, { code: '123456' });
  t.equal(noCode.statusCode, 403, 'no code was sent yet');
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'erasure' })).statusCode, 202);
  const erasureCode = codeIn(mails[0]!)!;
  t.equal((await asPerson(ta, token, 'POST', `/v1/me/exports/${requestId}/download`, { code: erasureCode })).statusCode, 403, 'an erasure code does not download');
  t.equal((await asPerson(ta, token, 'POST', '/v1/me/codes', { action: 'export' })).statusCode, 202);
  const code = codeIn(mails[1]!)!;

  const res = await asPerson(ta, token, 'POST', `/v1/me/exports/${requestId}/download`, { code });
  t.equal(res.statusCode, 200, res.statusCode === 200 ? '' : res.body);
  t.equal(res.headers['content-type'], 'application/zip');
  t.match(res.headers['content-disposition'], /^attachment; filename="access-export-.*\.zip"$/);
  t.equal(res.rawPayload.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004', 'a ZIP');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/events?limit=200` })).json().items as Req[];
  t.match(trail.filter((e) => e.action === 'export.copied'), [{ actor: 'portal', facts: { via: 'portal', copy: 1 } }], 'a copy in the audit trail (Art. 15(3))');
  t.equal((await asPerson(ta, token, 'POST', `/v1/me/exports/${requestId}/download`, { code })).statusCode, 403, 'the code works once');

  const otherId = await createSubject(ta, 'other@example.com');
  const otherToken = await portalToken(ta, otherId);
  const foreign = await asPerson(ta, otherToken, 'POST', `/v1/me/exports/${requestId}/download`, { code: '123456' });
  t.equal(foreign.statusCode, 404, "another person's request");
  const pending = await approvedExport(ta, otherId, false);
  const notApproved = await asPerson(ta, otherToken, 'POST', `/v1/me/exports/${pending}/download`, { code: '123456' });
  t.equal(notApproved.statusCode, 409);
  t.equal(notApproved.json().code, 'EXPORT_NOT_APPROVED');
});

t.test('tenant settings: portal_token_hours 1-720, and a brand colour readable behind white text', async (t) => {
  const ta = await build(t);
  t.match((await ta.call({ method: 'GET', url: '/v1/tenant' })).json(), { portal_token_hours: 24, brand_color: null });
  const ok = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { brand_color: '#1A56DB', portal_token_hours: 48 } });
  t.equal(ok.statusCode, 200, ok.body);
  t.match(ok.json(), { brand_color: '#1a56db', portal_token_hours: 48 }, 'stored lower-case');
  const subjectId = await createSubject(ta, 'brand@example.com');
  const token = await portalToken(ta, subjectId);
  t.equal((await asPerson(ta, token, 'GET', '/v1/me')).json().controller.brand_color, '#1a56db');

  for (const [payload, field] of [
    [{ brand_color: '#ffff00' }, 'brand_color'],
    [{ brand_color: '#777777' }, 'brand_color'],
    [{ brand_color: 'red' }, 'brand_color'],
    [{ brand_color: '#fff' }, 'brand_color'],
    [{ portal_token_hours: 0 }, 'portal_token_hours'],
    [{ portal_token_hours: 721 }, 'portal_token_hours'],
  ] as const) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload });
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} is refused`);
    t.match(res.json().errors, [{ field }], `naming ${field}`);
  }
  t.match((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { brand_color: '#767676' } })).json(), { brand_color: '#767676' }, '#767676 is 4.54:1, just enough');
  t.match((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { brand_color: null } })).json(), { brand_color: null }, 'null clears it');
});
