// Download links for the person (Art. 15(3), 20) and their one-time code (Art. 32): issued with a service token
// once the DPO approved the package, used in a browser without one, and refused (410) once expired, used up,
// revoked, locked by wrong codes, or emptied of their data.
import { createHash } from 'node:crypto';
import t from 'tap';
import { startSmtpSink, type Mail } from '../../helpers/smtp-sink.js';
import yauzl from 'yauzl';
import { build, type TestApp } from '../../helper.js';

type Req = Record<string, any>;


/** A subject with an email, an access request whose export a system filled, approved by the DPO. */
async function approvedExport(ta: TestApp, opts: { email?: string | null; approve?: boolean; tenantId?: string; type?: 'access' | 'portability' } = {}): Promise<{ requestId: string; subjectId: string }> {
  const tenantId = opts.tenantId;
  const identifiers = opts.email === null ? [{ type: 'phone', value: '+359887000222' }] : [{ type: 'email', value: opts.email ?? 'maria.petrova@example.com' }];
  const subject = await ta.call({ method: 'POST', url: '/v1/subjects', tenantId, payload: { identifiers } });
  const subjectId = subject.json().id;
  const system = await ta.call({ method: 'POST', url: '/v1/systems', tenantId, payload: { name: 'Shop', kind: 'crm', handles: ['export'], contact_email: 'it@shop.example' } });
  if (system.statusCode !== 201) throw new Error(`system: ${system.statusCode} ${system.body}`);
  const created = await ta.call({ method: 'POST', url: '/v1/rights-requests', tenantId, payload: { subject: { id: subjectId }, type: opts.type ?? 'access', channel: 'email' } });
  if (created.statusCode !== 201) throw new Error(`request: ${created.statusCode} ${created.body}`);
  const requestId = created.json().id;
  const gathered = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/gather`, tenantId });
  if (gathered.statusCode !== 200) throw new Error(`gather: ${gathered.statusCode} ${gathered.body}`);
  // Every system that handles export (one per call of this helper) gives its part.
  for (const task of (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/tasks`, tenantId })).json().items as Req[]) {
    const part = await ta.call({
      method: 'PUT',
      url: `/v1/rights-requests/${requestId}/tasks/${task.id}/data?provided_categories=orders`,
      tenantId,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ orders: [{ id: 'o-1', total: '12.50' }, { id: 'o-2', total: '8.00' }], profile: { nickname: 'mimi' } }),
    });
    if (part.statusCode !== 200) throw new Error(`upload: ${part.statusCode} ${part.body}`);
  }
  if (opts.approve !== false) {
    const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export/approve`, tenantId, payload: {} });
    if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
  }
  return { requestId, subjectId };
}

async function issue(ta: TestApp, requestId: string, payload: object = {}): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, payload });
  if (res.statusCode !== 201) throw new Error(`issue: ${res.statusCode} ${res.body}`);
  return res.json();
}

const pathOf = (url: string) => new URL(url).pathname;
const tokenOf = (url: string) => pathOf(url).split('/').pop()!;
const codeIn = (mail: Mail) => /\b([0-9]{6})\b/.exec(mail.text.split(/\r?\n\r?\n/).slice(1).join('\n'))?.[1];

function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const files = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(files));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

async function events(ta: TestApp, requestId: string): Promise<Req[]> {
  return (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/events?limit=200` })).json().items;
}

t.test("a link takes the tenant's defaults (168 hours, 3 downloads) or its settings, only the token's hash is kept, and the list never shows a token", async (t) => {
  const ta = await build(t);
  const { requestId } = await approvedExport(ta);
  const before = Date.now();
  const link = await issue(ta, requestId);
  t.match(link.url, new RegExp(`^${ta.config.publicBaseUrl}/v1/exports/[A-Za-z0-9_-]{43}$`), 'PUBLIC_BASE_URL + /v1/exports/{32 random bytes, base64url}');
  t.equal(link.max_downloads, 3);
  const ttl = Date.parse(link.expires_at) - before;
  t.ok(ttl > 167.9 * 3_600_000 && ttl <= 168 * 3_600_000 + 5000, 'lives 168 hours');
  const stored = await ta.sql.query('SELECT token_hash FROM export_links WHERE id = $1', [link.id]);
  t.same(stored.rows[0].token_hash, createHash('sha256').update(tokenOf(link.url)).digest(), 'only the SHA-256 of the token is stored');

  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { export_link_ttl_hours: 24, export_link_max_downloads: 1 } })).statusCode, 200);
  t.match((await ta.call({ method: 'GET', url: '/v1/tenant' })).json(), { export_link_ttl_hours: 24, export_link_max_downloads: 1 });
  const second = await issue(ta, requestId, { fee: { amount: '5.00', currency: 'EUR' } });
  t.equal(second.max_downloads, 1, "the tenant's new default");
  t.ok(Math.abs(Date.parse(second.expires_at) - Date.now() - 24 * 3_600_000) < 5000, '24 hours');
  const third = await issue(ta, requestId, { ttl_hours: 720, max_downloads: 20 });
  t.equal(third.max_downloads, 20, 'the body overrides the tenant');

  for (const [payload, field] of [
    [{ ttl_hours: 0 }, 'ttl_hours'],
    [{ ttl_hours: 721 }, 'ttl_hours'],
    [{ max_downloads: 21 }, 'max_downloads'],
    [{ max_downloads: 1.5 }, 'max_downloads'],
    [{ fee: { amount: '-1', currency: 'EUR' } }, 'fee.amount'],
    [{ url: 'x' }, 'url'],
  ] as const) {
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, payload });
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} is refused`);
    t.match(res.json().errors, [{ field }], `naming ${field}`);
  }
  for (const [payload, field] of [[{ export_link_ttl_hours: 721 }, 'export_link_ttl_hours'], [{ export_link_max_downloads: 0 }, 'export_link_max_downloads']] as const) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload });
    t.equal(res.statusCode, 400);
    t.match(res.json().errors, [{ field }]);
  }

  const list = await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links` });
  t.equal(list.statusCode, 200);
  t.equal(list.json().items.length, 3);
  t.match(list.json().items[0], { id: third.id, status: 'active', downloads: 0, max_downloads: 20, revoked_at: null, created_by: 'test-client' });
  for (const l of [link, second, third]) t.notOk(list.body.includes(tokenOf(l.url)), 'no token in the list');
  const created = (await events(ta, requestId)).filter((e) => e.action === 'export.link_created');
  t.equal(created.length, 3, 'each link is in the audit trail');
  t.match(created[1]!.facts, { link_id: second.id, link: 2, fee: { amount: '5.00', currency: 'EUR' } }, 'the fee of a further copy is recorded (Art. 15(3))');
});

t.test('the first copy is free: a fee on it is a 400 and nothing is issued', async (t) => {
  const ta = await build(t);
  const { requestId } = await approvedExport(ta);
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, payload: { fee: { amount: '10', currency: 'EUR' } } });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ field: 'fee', message: /first copy/ }] });
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM export_links')).rows[0].n, 0, 'nothing half-written');
});

t.test("no link before the DPO approved the package (409); another tenant's request or link is a 404", async (t) => {
  const ta = await build(t);
  const { requestId } = await approvedExport(ta, { approve: false });
  const early = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, payload: {} });
  t.equal(early.statusCode, 409);
  t.equal(early.json().code, 'EXPORT_NOT_APPROVED');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export/approve`, payload: {} })).statusCode, 200);
  const link = await issue(ta, requestId);

  const other = await ta.newTenant('Other controller');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, tenantId: other, payload: {} })).statusCode, 404);
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links`, tenantId: other })).statusCode, 404);
  const foreign = await ta.call({ method: 'DELETE', url: `/v1/rights-requests/${requestId}/export-links/${link.id}`, tenantId: other });
  t.equal(foreign.statusCode, 404, "another tenant's link id: 404");
  const theirs = await approvedExport(ta, { tenantId: other, email: 'x@example.com' });
  const wrongRequest = await ta.call({ method: 'DELETE', url: `/v1/rights-requests/${theirs.requestId}/export-links/${link.id}`, tenantId: other });
  t.equal(wrongRequest.statusCode, 404, "a link named under the other tenant's own request: 404");
  t.equal((await ta.app.inject({ method: 'GET', url: pathOf(link.url), headers: { accept: 'text/html' } })).statusCode, 200, 'the link still works');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, scope: 'requests:read', payload: {} })).statusCode, 403, 'needs exports:read');
});

t.test('the page is self-contained HTML: escaped values, a strict CSP, no script, not cached, no referrer; an unknown token is a 404', async (t) => {
  const ta = await build(t);
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: 'Acme <b>"&\' Ltd' } })).statusCode, 200);
  const { requestId } = await approvedExport(ta);
  const link = await issue(ta, requestId);
  const token = tokenOf(link.url);
  const res = await ta.app.inject({ method: 'GET', url: pathOf(link.url), headers: { accept: 'text/html,application/xhtml+xml' } });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/);
  t.match(res.headers['content-security-policy'], /default-src 'none'/);
  t.match(res.headers['content-security-policy'], /form-action 'self'/);
  t.notMatch(res.headers['content-security-policy'], /unsafe-inline|script-src/);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers['referrer-policy'], 'no-referrer');
  t.notMatch(res.body, /<script/i, 'no script');
  t.match(res.body, /Acme &lt;b&gt;&quot;&amp;&#39; Ltd/, "the controller's name, escaped");
  t.notMatch(res.body, /<b>"/);
  t.match(res.body, new RegExp(`<form method="post" action="/v1/exports/${token}/code">`), 'a button that asks for the code');
  t.match(res.body, new RegExp(`<form method="post" action="/v1/exports/${token}/download">[\\s\\S]*name="code"`), 'a form that takes it');
  t.match(res.body, /3 downloads/);

  const unknown = 'A'.repeat(43);
  const json = await ta.app.inject({ method: 'GET', url: `/v1/exports/${unknown}` });
  t.equal(json.statusCode, 404);
  t.match(json.headers['content-type'], /application\/problem\+json/);
  t.equal(json.json().code, 'EXPORT_LINK_NOT_FOUND');
  const html = await ta.app.inject({ method: 'GET', url: `/v1/exports/${unknown}`, headers: { accept: 'text/html' } });
  t.equal(html.statusCode, 404);
  t.match(html.headers['content-type'], /text\/html/);
  t.match(html.body, /Link not found/);
  t.equal((await ta.app.inject({ method: 'GET', url: '/v1/exports/not-a-token' })).statusCode, 404, 'not shaped like a token: 404');
});

t.test('the code is mailed to the person, holds the code and the controller only; the right code downloads the ZIP once, counted and in the audit trail', async (t) => {
  const { port, mails } = await startSmtpSink(t);
  const ta = await build(t, { env: { SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Rightful <noreply@controller.example>' } });
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: 'Acme Shop' } })).statusCode, 200);
  const { requestId } = await approvedExport(ta, { email: 'Maria.Petrova@Example.com' });
  const link = await issue(ta, requestId, { max_downloads: 2 });
  const path = pathOf(link.url);

  const sent = await ta.app.inject({ method: 'POST', url: `${path}/code` });
  t.equal(sent.statusCode, 202, sent.body);
  t.match(sent.json(), { sent: true, expires_at: String });
  t.ok(Math.abs(Date.parse(sent.json().expires_at) - Date.now() - 600_000) < 5000, 'valid 10 minutes');
  t.equal(mails.length, 1);
  const mail = mails[0]!;
  t.equal(mail.to, 'maria.petrova@example.com', "to the person's email identifier");
  const code = codeIn(mail);
  t.match(code, /^[0-9]{6}$/, 'a 6-digit code');
  t.match(mail.text, /Acme Shop/, "the controller's name");
  t.notMatch(mail.text, new RegExp(`${requestId}|${link.id}|${tokenOf(link.url)}|/v1/`), 'no request, link or token in the mail');
  const stored = (await ta.sql.query('SELECT code_hash FROM export_links WHERE id = $1', [link.id])).rows[0].code_hash as Buffer;
  t.ok(stored && !stored.toString('latin1').includes(code!), 'the code is stored hashed');

  const again = await ta.app.inject({ method: 'POST', url: `${path}/code`, payload: {} });
  t.equal(again.statusCode, 429, 'one code a minute');
  t.equal(again.headers['retry-after'] !== undefined, true);

  const wrong = await ta.app.inject({ method: 'POST', url: `${path}/download`, payload: { code: code === '000000' ? '111111' : '000000' } });
  t.equal(wrong.statusCode, 403);
  t.match(wrong.json(), { code: 'EXPORT_CODE_INVALID', detail: /4 attempts left/ });
  const badShape = await ta.app.inject({ method: 'POST', url: `${path}/download`, payload: { code: '12345' } });
  t.equal(badShape.statusCode, 400);
  t.match(badShape.json().errors, [{ field: 'code' }]);

  // The form a browser posts.
  const res = await ta.app.inject({ method: 'POST', url: `${path}/download`, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, payload: `code=${code}` });
  t.equal(res.statusCode, 200, res.statusCode === 200 ? '' : res.body);
  t.equal(res.headers['content-type'], 'application/zip');
  t.match(res.headers['content-disposition'], /^attachment; filename="access-export-.*\.zip"$/);
  t.equal(res.headers['cache-control'], 'no-store');
  const files = await unzip(res.rawPayload);
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
  t.match(manifest, { kind: 'access', request_id: requestId });
  const listed: string[] = manifest.files.map((f: string | { name: string }) => (typeof f === 'string' ? f : f.name));
  t.ok(listed.includes('data.json'), 'the manifest lists data.json');
  for (const name of listed) t.ok(files.has(name), `${name}, listed in the manifest, is in the ZIP`);
  t.match(files.get('data.json')!.toString('utf8'), /o-2/, "the system's part is in it");

  const reused = await ta.app.inject({ method: 'POST', url: `${path}/download`, payload: { code } });
  t.equal(reused.statusCode, 403, 'a code works once');
  t.match(reused.json().detail, /No valid code/);
  const [listed1] = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links` })).json().items as Req[];
  t.match(listed1, { downloads: 1, status: 'active' }, 'the download is counted');
  const copied = (await events(ta, requestId)).filter((e) => e.action === 'export.copied');
  t.equal(copied.length, 1);
  t.match(copied[0], { actor: `download link ${link.id}`, at: String, facts: { via: 'link' } }, 'the download is in the audit trail with its time');
  t.notMatch(JSON.stringify(await events(ta, requestId)), /maria|petrova/i, 'no identifier in the audit trail');
});

t.test('without SMTP, or without an email identifier, a code cannot be sent: 409 telling the CRM to fetch the package with a service token', async (t) => {
  const ta = await build(t);
  const { requestId } = await approvedExport(ta);
  const link = await issue(ta, requestId);
  const res = await ta.app.inject({ method: 'POST', url: `${pathOf(link.url)}/code` });
  t.equal(res.statusCode, 409);
  t.match(res.json(), { code: 'EXPORT_CODE_UNAVAILABLE', detail: /SMTP_URL.*service token/ });
  const html = await ta.app.inject({ method: 'POST', url: `${pathOf(link.url)}/code`, headers: { accept: 'text/html' } });
  t.equal(html.statusCode, 409);
  t.match(html.headers['content-type'], /text\/html/);

  const { port, mails } = await startSmtpSink(t);
  const withSmtp = await build(t, { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
  const phoneOnly = await approvedExport(withSmtp, { email: null });
  const link2 = await issue(withSmtp, phoneOnly.requestId);
  const res2 = await withSmtp.app.inject({ method: 'POST', url: `${pathOf(link2.url)}/code` });
  t.equal(res2.statusCode, 409);
  t.match(res2.json(), { code: 'EXPORT_CODE_UNAVAILABLE', detail: /no email identifier.*service token/ });
  t.notMatch(res2.body, /359887000222/, 'no identifier in the problem');
  t.equal(mails.length, 0);
});

t.test('five wrong codes lock the link for good: 410, an HTML page for a browser, and a line in the audit trail', async (t) => {
  const { port, mails } = await startSmtpSink(t);
  const ta = await build(t, { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
  const { requestId } = await approvedExport(ta);
  const link = await issue(ta, requestId);
  const path = pathOf(link.url);
  t.equal((await ta.app.inject({ method: 'POST', url: `${path}/code` })).statusCode, 202);
  const code = codeIn(mails[0]!)!;
  const wrong = code === '999999' ? '888888' : '999999';
  for (let i = 1; i <= 4; i++) {
    const res = await ta.app.inject({ method: 'POST', url: `${path}/download`, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, payload: `code=${wrong}` });
    t.equal(res.statusCode, 403, `wrong code ${i}`);
    t.match(res.body, new RegExp(`${5 - i} attempts? left`), 'the page says how many attempts are left');
    t.match(res.body, /name="code"/, 'and asks again');
  }
  const fifth = await ta.app.inject({ method: 'POST', url: `${path}/download`, payload: { code: wrong } });
  t.equal(fifth.statusCode, 410);
  t.match(fifth.json(), { code: 'EXPORT_LINK_GONE', detail: /locked/ });
  const right = await ta.app.inject({ method: 'POST', url: `${path}/download`, payload: { code } });
  t.equal(right.statusCode, 410, 'even the right code is refused now');
  const page = await ta.app.inject({ method: 'GET', url: path, headers: { accept: 'text/html' } });
  t.equal(page.statusCode, 410);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /locked after too many wrong codes/);
  t.equal(page.headers['cache-control'], 'no-store');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links` })).json().items[0], { status: 'locked' });
  t.match((await events(ta, requestId)).filter((e) => e.action === 'export.link_locked'), [{ facts: { link_id: link.id, attempts: 5 } }]);
});

t.test('a link expires after its lifetime (410), is used up after max_downloads (410), and a revoked one stops at once (410)', async (t) => {
  const { port, mails } = await startSmtpSink(t);
  let now = Date.now();
  const ta = await build(t, { env: { SMTP_URL: `smtp://127.0.0.1:${port}` }, clock: () => new Date(now) });
  const { requestId } = await approvedExport(ta);

  const short = await issue(ta, requestId, { ttl_hours: 1 });
  t.equal((await ta.app.inject({ method: 'GET', url: pathOf(short.url) })).statusCode, 200);
  now += 3_600_000 + 1;
  const expired = await ta.app.inject({ method: 'GET', url: pathOf(short.url) });
  t.equal(expired.statusCode, 410);
  t.match(expired.json(), { code: 'EXPORT_LINK_GONE', detail: /expired/ });
  t.equal((await ta.app.inject({ method: 'POST', url: `${pathOf(short.url)}/code` })).statusCode, 410, 'no code for an expired link');
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links` })).json().items[0], { id: short.id, status: 'expired' });

  const once = await issue(ta, requestId, { max_downloads: 1 });
  t.equal((await ta.app.inject({ method: 'POST', url: `${pathOf(once.url)}/code` })).statusCode, 202);
  const code = codeIn(mails.at(-1)!)!;
  const got = await ta.app.inject({ method: 'POST', url: `${pathOf(once.url)}/download`, payload: { code } });
  t.equal(got.statusCode, 200);
  const used = await ta.app.inject({ method: 'GET', url: pathOf(once.url), headers: { accept: 'text/html' } });
  t.equal(used.statusCode, 410, 'used up');
  t.match(used.body, /used as many times as it allows/);
  t.equal((await ta.app.inject({ method: 'POST', url: `${pathOf(once.url)}/code` })).statusCode, 410);

  const revoked = await issue(ta, requestId);
  const del = await ta.call({ method: 'DELETE', url: `/v1/rights-requests/${requestId}/export-links/${revoked.id}` });
  t.equal(del.statusCode, 204);
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/rights-requests/${requestId}/export-links/${revoked.id}` })).statusCode, 204, 'revoking twice changes nothing');
  const gone = await ta.app.inject({ method: 'GET', url: pathOf(revoked.url) });
  t.equal(gone.statusCode, 410);
  t.match(gone.json().detail, /withdrawn/);
  const listed = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/export-links` })).json().items as { id: string }[];
  t.match(listed.find((l) => l.id === revoked.id), { id: revoked.id, status: 'revoked', revoked_at: String });
  t.equal((await events(ta, requestId)).filter((e) => e.action === 'export.link_revoked').length, 1, 'revoked once in the audit trail');
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/rights-requests/${requestId}/export-links/${crypto.randomUUID()}` })).statusCode, 404);
});

t.test("once the person is erased the package's data is gone: the link answers 410, and no new link is issued", async (t) => {
  const ta = await build(t);
  const { requestId, subjectId } = await approvedExport(ta);
  const link = await issue(ta, requestId);
  await ta.scoped(() => ta.app.db.transaction((tx) => ta.app.services.exports.deleteForSubject(ta.tenantId, subjectId, tx)));
  const res = await ta.app.inject({ method: 'GET', url: pathOf(link.url) });
  t.equal(res.statusCode, 410);
  t.match(res.json(), { code: 'EXPORT_LINK_GONE', detail: /deleted/ });
  const html = await ta.app.inject({ method: 'GET', url: pathOf(link.url), headers: { accept: 'text/html' } });
  t.equal(html.statusCode, 410);
  t.match(html.body, /has been deleted/);
  const fresh = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, payload: {} });
  t.equal(fresh.statusCode, 410);
  t.equal(fresh.json().code, 'EXPORT_DATA_DELETED');
});

t.test('an Idempotency-Key retry returns the same link, usable, and issues no second one', async (t) => {
  const ta = await build(t);
  const { requestId } = await approvedExport(ta);
  const first = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, headers: { 'idempotency-key': 'link-1' }, payload: {} });
  const again = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/export-links`, headers: { 'idempotency-key': 'link-1' }, payload: {} });
  t.equal(first.statusCode, 201);
  t.equal(again.statusCode, 201);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.same(again.json(), first.json(), 'the same answer, url included');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM export_links')).rows[0].n, 1);
  const stored = await ta.sql.query('SELECT response::text AS r FROM idempotency_keys');
  t.notOk(stored.rows[0].r.includes(tokenOf(first.json().url)), 'the stored answer does not hold the token in plaintext');
  t.equal((await ta.app.inject({ method: 'GET', url: pathOf(again.json().url) })).statusCode, 200);
});
