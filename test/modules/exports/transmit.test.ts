// Art. 20(2): a portability package sent directly to another controller, signed like a webhook, under the webhook
// address guard, in bounded time, with the receiver's answer in the audit trail.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import t from 'tap';
import yauzl from 'yauzl';
import { createRightsRequestsRepo } from '../../../src/modules/rights-requests/rights-requests.repo.js';
import { createTransmitService } from '../../../src/modules/exports/exports.transmit.js';
import { createKeyring } from '../../../src/lib/keyring.js';
import { build, type TestApp } from '../../helper.js';

type Req = Record<string, any>;
type Received = { headers: http.IncomingHttpHeaders; body: Buffer };
type Tap = { teardown(fn: () => unknown): void };

/** A receiving controller on loopback: records each POST and answers `status` (or never, with `hang`). */
async function receiver(t: Tap, opts: { status?: number; hang?: boolean } = {}): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      if (!opts.hang) res.writeHead(opts.status ?? 202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/rightful/inbox`, got };
}

async function approvedExport(ta: TestApp, type: 'portability' | 'access' = 'portability'): Promise<string> {
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'ivan.ivanov@example.com' }] } })).json().id;
  const system = await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'Shop', kind: 'crm', handles: ['export'], contact_email: 'it@shop.example' } });
  if (system.statusCode !== 201) throw new Error(`system: ${system.statusCode} ${system.body}`);
  const id = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type, channel: 'web' } })).json().id;
  if ((await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/gather` })).statusCode !== 200) throw new Error('gather');
  // Every system that handles export (one per call of this helper) gives its part.
  for (const task of (await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/tasks` })).json().items as Req[]) {
    const part = await ta.call({
      method: 'PUT',
      url: `/v1/rights-requests/${id}/tasks/${task.id}/data?provided_categories=orders`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ orders: [{ id: 'o-1', total: '12.50' }] }),
    });
    if (part.statusCode !== 200) throw new Error(`upload: ${part.statusCode} ${part.body}`);
  }
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/export/approve`, payload: {} });
  if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
  return id;
}

/** What a receiving controller does: HMAC-SHA256 over "id.timestamp." and the raw bytes, keyed with the secret. */
function verify(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.`).update(r.body).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((s) => s.startsWith('v1,') && timingSafeEqual(Buffer.from(s.slice(3), 'base64'), mac));
}

function zipNames(buf: Buffer): Promise<{ names: string[]; manifest: Req }> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      let manifest: Req = {};
      zip.on('entry', (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.openReadStream(e, (er, s) => {
          if (er || !s) return reject(er);
          const parts: Buffer[] = [];
          s.on('data', (c: Buffer) => parts.push(c));
          s.on('end', () => {
            if (e.fileName === 'manifest.json') manifest = JSON.parse(Buffer.concat(parts).toString('utf8'));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve({ names, manifest }));
      zip.readEntry();
    });
  });
}

const transmitted = async (ta: TestApp, id: string) =>
  ((await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events?limit=200` })).json().items as Req[]).filter((e) => e.action.startsWith('export.transmi'));

t.test('a portability package is POSTed as application/zip, signed with the tenant transmission secret, and the answer is in the audit trail', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const rx = await receiver(t, { status: 202 });
  const id = await approvedExport(ta);
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, payload: { url: rx.url } });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { webhook_id: /^msg_[0-9a-f-]{36}$/, url: rx.url, status_code: 202, transmitted_at: String, error: null });
  t.equal(rx.got.length, 1, 'sent once');
  const got = rx.got[0]!;
  t.equal(got.headers['content-type'], 'application/zip');
  t.equal(Number(got.headers['content-length']), got.body.length);
  t.equal(res.json().bytes, got.body.length, 'the size reported is the size sent');
  t.equal(got.headers['webhook-id'], res.json().webhook_id);
  t.match(got.headers['webhook-timestamp'], /^[0-9]{10}$/);

  const secret = await ta.call({ method: 'GET', url: '/v1/transmission-secret' });
  t.equal(secret.statusCode, 200);
  t.match(secret.json().secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  t.ok(verify(secret.json().secret, got), 'the receiver verifies the signature with the secret');
  t.notOk(verify(secret.json().secret, { ...got, body: Buffer.concat([got.body, Buffer.from(' ')]) }), 'a changed body does not verify');
  const other = await ta.newTenant('Other');
  const otherSecret = (await ta.call({ method: 'GET', url: '/v1/transmission-secret', tenantId: other })).json().secret;
  t.not(otherSecret, secret.json().secret, 'one secret per tenant');
  t.notOk(verify(otherSecret, got), "another tenant's secret does not verify");

  const { names, manifest } = await zipNames(got.body);
  t.match(manifest, { kind: 'portability', request_id: id });
  t.ok(names.includes('data.json') && names.includes('manifest.json'), 'the package');
  const [line] = await transmitted(ta, id);
  t.match(line, { action: 'export.transmitted', actor: 'test-client', at: String, facts: { webhook_id: res.json().webhook_id, receiver: new URL(rx.url).origin, status_code: 202 } });
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, scope: 'requests:write', payload: { url: rx.url } })).statusCode, 403, 'needs requests:admin');
});

t.test('a receiver that answers an error, or cannot be reached, is a 502 TRANSMISSION_FAILED, recorded in the audit trail', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const rx = await receiver(t, { status: 500 });
  const id = await approvedExport(ta);
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, payload: { url: rx.url } });
  t.equal(res.statusCode, 502);
  t.match(res.headers['content-type'], /application\/problem\+json/);
  t.match(res.json(), { code: 'TRANSMISSION_FAILED', detail: /answered 500/ });
  const unreachable = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, payload: { url: `http://127.0.0.1:1/inbox` } });
  t.equal(unreachable.statusCode, 502);
  t.match(unreachable.json().detail, /connection failed/);
  const lines = await transmitted(ta, id);
  t.match(lines, [
    { action: 'export.transmission_failed', facts: { status_code: 500, error: /answered 500/ } },
    { action: 'export.transmission_failed', facts: { status_code: null, error: /connection failed/ } },
  ]);
});

t.test('the exchange is bounded in time: a receiver that never answers is cut off', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const rx = await receiver(t, { hang: true });
  const id = await approvedExport(ta);
  const service = createTransmitService({
    db: ta.app.db,
    requests: createRightsRequestsRepo(ta.app.db),
    keyring: createKeyring(ta.config),
    openPackage: (tenantId, requestId, opts) => ta.scoped(() => ta.app.services.exports.openPackage(tenantId, requestId, opts), tenantId),
    allowPrivate: true,
    timeoutMs: 800,
  });
  const started = Date.now();
  const result = await ta.scoped(() => service.transmit({ tenantId: ta.tenantId, clientId: 'test-client' }, id, rx.url));
  t.ok(Date.now() - started < 5000, 'gives up near the deadline');
  t.match(result, { status_code: null, error: /timeout after 800 ms/ });
  t.equal(rx.got.length, 1, 'the receiver had the whole body');
});

t.test('only portability requests (409), and the webhook address guard: https and public addresses only', async (t) => {
  const ta = await build(t);
  const access = await approvedExport(ta, 'access');
  const notPortable = await ta.call({ method: 'POST', url: `/v1/rights-requests/${access}/transmit`, payload: { url: 'https://receiver.example/inbox' } });
  t.equal(notPortable.statusCode, 409);
  t.equal(notPortable.json().code, 'NOT_PORTABILITY');

  const id = await approvedExport(ta);
  for (const [url, why] of [
    ['http://receiver.example/inbox', /https/],
    ['https://127.0.0.1:8443/inbox', /loopback, link-local or private/],
    ['https://[::1]/inbox', /loopback, link-local or private/],
    ['https://10.1.2.3/inbox', /private/],
    ['https://localhost/inbox', /local or internal/],
    ['https://user:pw@receiver.example/inbox', /credentials/],
    ['not a url', /not a URL/],
  ] as const) {
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, payload: { url } });
    t.equal(res.statusCode, 400, `${url} is refused`);
    t.match(res.json().errors, [{ field: 'url', message: why }]);
  }
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, payload: {} })).statusCode, 400, 'url is required');
  t.equal((await transmitted(ta, id)).length, 0, 'nothing was sent or recorded');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${crypto.randomUUID()}/transmit`, payload: { url: 'https://receiver.example/x' } })).statusCode, 404);
  const other = await ta.newTenant('Other');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/transmit`, tenantId: other, payload: { url: 'https://receiver.example/x' } })).statusCode, 404, "another tenant's request: 404");
});
