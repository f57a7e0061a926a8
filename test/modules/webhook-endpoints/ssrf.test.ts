// Endpoint URLs are checked with WEBHOOK_ALLOW_PRIVATE unset: https only, no loopback, link-local or private
// address (literal, embedded in IPv6, or resolved from a host name), no credentials; at registration, on a URL change,
// on re-enabling, and again at delivery time, after DNS. Nothing here sends traffic anywhere but 127.0.0.1: public
// URLs are IP literals (no DNS needed) and only registered, in databases where no worker runs while they are stored.
import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import net, { isIP, type AddressInfo } from 'node:net';
import os from 'node:os';
import t from 'tap';
import { checkWebhookUrlResolved, isPrivateAddress } from '../../../src/lib/ssrf.js';
import { createSender } from '../../../src/modules/webhook-endpoints/webhook-endpoints.sender.js';
import { build, createSubject } from '../../helper.js';
import { assertProblem, errorFields } from '../../helpers/problem.js';
import { deliveriesOf, sleep, waitUntil } from '../../helpers/webhooks.js';
import { startTestWorker } from '../../helpers/worker-env.js';

/** A public address written as a literal, so accepting it needs no DNS (this machine may have none). */
const PUBLIC = '93.184.215.14';

/**
 * Host names that really resolve to loopback here, from the hosts file and the machine's own name, leaving out the
 * ones refused by name alone (localhost, *.localhost, *.local, *.internal).
 */
async function loopbackNames(): Promise<string[]> {
  const candidates = new Set([os.hostname().toLowerCase(), 'localhost.localdomain']);
  const hosts = await readFile('/etc/hosts', 'utf8').catch(() => '');
  for (const line of hosts.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && isIP(address)) for (const n of names) candidates.add(n.toLowerCase());
  }
  const found: string[] = [];
  for (const name of candidates) {
    if (!/^[a-z0-9.-]+$/.test(name) || /(^|\.)(localhost|local|internal)$/.test(name)) continue;
    const addresses = await dns.lookup(name, { all: true }).catch(() => []);
    if (addresses.some((a) => a.address.startsWith('127.') || a.address === '::1')) found.push(name);
  }
  return found;
}

/** A bare TCP listener on 127.0.0.1 that counts connections (a TLS ClientHello would count as well as HTTP). */
async function tcpTrap(t: { teardown(fn: () => unknown): void }) {
  const state = { connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, get connections() { return state.connections; } };
}

t.test('registration: private, local and non-https URLs are 400s naming url; a public https URL is accepted', async (t) => {
  const ta = await build(t, { env: { OUTBOX_SWEEP_MS: '100' } }); // WEBHOOK_ALLOW_PRIVATE unset; no worker in this database
  t.equal(ta.config.webhooks.allowPrivate, false, 'the default is false');
  const post = (url: string) => ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url, event_types: ['*'] } });

  const refused = [
    'http://example.com/hook',
    'https://127.0.0.1/hook',
    'https://10.0.0.5/hook',
    'https://[::1]/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://localhost/hook',
    'https://localhost./hook',
    'https://user:pass@example.com/hook',
    // more of the same family
    'https://LOCALHOST:8443/hook',
    'https://api.localhost/hook',
    'https://127.1/hook',
    'https://2130706433/hook',
    'https://0x7f000001/hook',
    'https://0.0.0.0/hook',
    'https://172.16.3.4/hook',
    'https://192.168.1.10/hook',
    'https://100.64.0.1/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://[::ffff:a00:5]/hook',
    'https://[fe80::1]/hook',
    'https://[fd00::1]/hook',
    'https://[::]/hook',
    'https://user@example.com/hook',
    'https://example.com/hook#frag',
    'ftp://example.com/hook',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'not a url',
  ];
  for (const url of refused) {
    const body = assertProblem(t, await post(url), 400, 'VALIDATION_FAILED', url);
    t.same(errorFields(body), ['url'], `${url}: names url`);
  }
  const { rows: none } = await ta.sql.query('SELECT count(*)::int AS n FROM webhook_endpoints');
  t.equal(none[0].n, 0, 'none of them was stored');

  const ok = await post(`https://${PUBLIC}/hook`);
  t.equal(ok.statusCode, 201, 'a public address is accepted');
  t.equal(ok.json().url, `https://${PUBLIC}/hook`);
  const id = ok.json().id;

  // PATCH is checked the same way.
  for (const url of ['https://127.0.0.1/hook', 'https://localhost./hook', 'http://example.com/hook', 'https://[::1]/x']) {
    const body = assertProblem(t, await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload: { url } }), 400, 'VALIDATION_FAILED', `PATCH ${url}`);
    t.same(errorFields(body), ['url'], `PATCH ${url}: names url`);
  }
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` })).json().url, `https://${PUBLIC}/hook`, 'the URL did not change');

  // Never delivered to: delete it (and there is no worker on this database anyway).
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/webhook-endpoints/${id}` })).statusCode, 204);
});

t.test('delivery time: a URL that resolves (or points) to a private address is refused after DNS, nothing is sent', async (t) => {
  const ta = await build(t, {
    env: { OUTBOX_SWEEP_MS: '100', OUTBOX_RECONCILE_MS: '300', OUTBOX_VISIBILITY_TIMEOUT_MS: '1500', WEBHOOK_RETRY_DELAYS: '1h', WEBHOOK_TIMEOUT_MS: '2000' },
  });
  t.equal(ta.config.webhooks.allowPrivate, false);
  const trap = await tcpTrap(t);
  const targets = {
    localhost: `https://localhost:${trap.port}/hook`,
    'localhost.': `https://localhost.:${trap.port}/hook`,
    'loopback literal': `https://127.0.0.1:${trap.port}/hook`,
    'mapped literal': `https://[::ffff:127.0.0.1]:${trap.port}/hook`,
  };
  // Registered with a public address, then pointed at loopback behind the service's back, as if DNS had changed,
  // before any worker runs.
  const ids: Record<string, string> = {};
  for (const [label, url] of Object.entries(targets)) {
    const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: `https://${PUBLIC}/x`, event_types: ['subject.created'] } });
    t.equal(res.statusCode, 201);
    ids[label] = res.json().id;
    await ta.sql.query('UPDATE webhook_endpoints SET url = $1 WHERE id = $2', [url, ids[label]]);
  }
  const { rows: urls } = await ta.sql.query('SELECT url FROM webhook_endpoints');
  t.ok(urls.every((r) => new URL(r.url).hostname.match(/^(localhost\.?|127\.0\.0\.1|\[::ffff:7f00:1\])$/)), 'every endpoint points at loopback before the worker starts');

  const worker = await startTestWorker(t, ta);
  await createSubject(ta, 'ssrf@example.com');

  for (const [label, id] of Object.entries(ids)) {
    const d = await waitUntil(async () => (await deliveriesOf(ta, id)).find((x) => x.attempts.length >= 1), 15_000, `${label}: attempt recorded`);
    if (label === 'localhost.') {
      // Whether "localhost." resolves depends on the resolver (here it may not); either way it must not connect.
      t.match(d.attempts[0]!.error, /^(destination address is not public|ENOTFOUND: connection failed)$/, `${label}: refused or unresolvable (${d.attempts[0]!.error})`);
    } else {
      t.equal(d.attempts[0]!.error, 'destination address is not public', `${label}: refused after DNS`);
    }
    t.equal(d.attempts[0]!.status_code, null, `${label}: no status`);
  }
  await sleep(300);
  t.equal(trap.connections, 0, 'no connection ever reached the local listener');
});

t.test('the sender alone refuses private destinations unless allowed', async (t) => {
  const trap = await tcpTrap(t);
  const guarded = createSender({ timeoutMs: 1000, allowPrivate: false });
  t.teardown(() => guarded.close());
  for (const url of [`https://localhost:${trap.port}/`, `http://localhost:${trap.port}/`, `https://127.0.0.1:${trap.port}/`, `http://127.0.0.1:${trap.port}/`, `http://[::ffff:127.0.0.1]:${trap.port}/`]) {
    const r = await guarded.send(url, {}, '{}');
    t.same({ statusCode: r.statusCode, error: r.error }, { statusCode: null, error: 'destination address is not public' }, url);
  }
  t.equal(trap.connections, 0, 'nothing connected');
  // The same sender with private addresses allowed does connect (so the trap above would have seen it).
  const open = createSender({ timeoutMs: 1000, allowPrivate: true });
  t.teardown(() => open.close());
  const r = await open.send(`http://127.0.0.1:${trap.port}/`, {}, '{}');
  t.equal(r.statusCode, null, 'the trap hangs up');
  t.ok(r.error && r.error !== 'destination address is not public', `a connection error, not the guard (${r.error})`);
  t.equal(trap.connections, 1, 'the allowed sender connected once');
});

t.test('the sender resolves (never rejects) for URLs it cannot use', async (t) => {
  const sender = createSender({ timeoutMs: 1000, allowPrivate: true });
  t.teardown(() => sender.close());
  for (const [url, error] of [
    ['not a url', 'invalid url'],
    ['ftp://127.0.0.1/x', 'unsupported scheme'],
  ] as const) {
    const r = await sender.send(url, {}, '{}');
    t.same({ statusCode: r.statusCode, error: r.error }, { statusCode: null, error }, url);
  }
});

t.test('classification: IPv6 forms that embed an IPv4 address are judged by the address they carry', async (t) => {
  const cases: Array<[string, boolean, string]> = [
    ['::127.0.0.1', true, 'IPv4-compatible, loopback'],
    ['::7f00:1', true, 'IPv4-compatible, loopback, hex'],
    ['::a00:5', true, 'IPv4-compatible, private'],
    ['::8.8.8.8', true, 'IPv4-compatible is refused whatever it carries (deprecated)'],
    ['::ffff:127.0.0.1', true, 'IPv4-mapped, loopback'],
    ['::ffff:a9fe:a9fe', true, 'IPv4-mapped, link-local, hex'],
    ['::ffff:8.8.8.8', false, 'IPv4-mapped, public'],
    ['::ffff:0:127.0.0.1', true, 'IPv4-translated, loopback'],
    ['::ffff:0:808:808', false, 'IPv4-translated, public'],
    ['2002:7f00:1::1', true, '6to4 of 127.0.0.1'],
    ['2002:a9fe:a9fe::', true, '6to4 of 169.254.169.254'],
    ['2002:c0a8:10a::1', true, '6to4 of 192.168.1.10'],
    ['2002:808:808::1', false, '6to4 of a public address'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', true, 'Teredo, client 127.0.0.1'],
    ['2001:0:a00:1::f7f7:f7f7', true, 'Teredo, server 10.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', false, 'Teredo, public server and client'],
    ['64:ff9b::127.0.0.1', true, 'NAT64, loopback'],
    ['64:ff9b::a00:5', true, 'NAT64, private'],
    ['64:ff9b::a9fe:a9fe', true, 'NAT64, link-local'],
    ['64:ff9b::8.8.8.8', false, 'NAT64 of a public address (what DNS64 hands out)'],
    ['64:ff9b:1::808:808', true, 'local-use NAT64 prefix'],
    ['2001:4860:4860::8888', false, 'ordinary public IPv6'],
    ['fe80::1%eth0', true, 'link-local with a zone'],
  ];
  for (const [address, refused, label] of cases) t.equal(isPrivateAddress(address), refused, `${address}: ${label}`);
});

t.test('registration: IPv6 literals embedding a private IPv4 address are 400s naming url, at POST and PATCH', async (t) => {
  const ta = await build(t, { env: { OUTBOX_SWEEP_MS: '100' } });
  const refused = [
    'https://[::127.0.0.1]/hook',
    'https://[::a00:5]/hook',
    'https://[::ffff:0:127.0.0.1]/hook',
    'https://[2002:7f00:1::1]/hook',
    'https://[2002:a9fe:a9fe::]/hook',
    'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook',
    'https://[2001:0:a00:1::f7f7:f7f7]/hook',
    'https://[64:ff9b::127.0.0.1]/hook',
    'https://[64:ff9b::a9fe:a9fe]/hook',
  ];
  for (const url of refused) {
    const body = assertProblem(t, await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url, event_types: ['*'] } }), 400, 'VALIDATION_FAILED', url);
    t.same(errorFields(body), ['url'], `${url}: names url`);
  }
  const { rows } = await ta.sql.query('SELECT count(*)::int AS n FROM webhook_endpoints');
  t.equal(rows[0].n, 0, 'none of them was stored');

  const id = (await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: `https://${PUBLIC}/hook`, event_types: ['*'] } })).json().id;
  for (const url of refused) {
    const body = assertProblem(t, await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload: { url } }), 400, 'VALIDATION_FAILED', `PATCH ${url}`);
    t.same(errorFields(body), ['url'], `PATCH ${url}: names url`);
  }
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` })).json().url, `https://${PUBLIC}/hook`, 'the URL did not change');
});

t.test('registration: IPv6 forms carrying a public IPv4 address are accepted, NAT64 included', async (t) => {
  const ta = await build(t, { env: { OUTBOX_SWEEP_MS: '100' } });
  for (const url of [
    'https://[::ffff:808:808]/hook',
    'https://[2002:808:808::1]/hook',
    'https://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/hook',
    'https://[64:ff9b::808:808]/hook',
  ]) {
    const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url, event_types: ['*'] } });
    t.equal(res.statusCode, 201, `${url} is accepted (${res.body.slice(0, 200)})`);
    // Never delivered to: no worker runs on this database, and the endpoint is deleted at once.
    t.equal((await ta.call({ method: 'DELETE', url: `/v1/webhook-endpoints/${res.json().id}` })).statusCode, 204);
  }
});

t.test('registration: host names that resolve to loopback, or do not resolve, are 400s naming url, at POST and PATCH', async (t) => {
  const names = await loopbackNames();
  t.ok(names.length > 0, `this machine has host names that resolve to loopback (${names.join(', ')})`);
  const ta = await build(t, { env: { OUTBOX_SWEEP_MS: '100' } });
  const cases: Array<[string, RegExp]> = [
    ...names.map((n): [string, RegExp] => [`https://${n}/hook`, /^must not resolve to a loopback, link-local or private address$/]),
    ...names.map((n): [string, RegExp] => [`https://${n.toUpperCase()}:8443/hook`, /^must not resolve to a loopback, link-local or private address$/]),
    // In or out of the hosts file, it is refused: as loopback where it resolves, as unresolvable where it does not.
    ['https://localhost.localdomain/hook', /^(must not resolve to a loopback, link-local or private address|has a host name that could not be resolved)$/],
    ['https://hooks.rightful.invalid/hook', /^has a host name that could not be resolved$/],
  ];
  const id = (await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: `https://${PUBLIC}/hook`, event_types: ['*'] } })).json().id;
  for (const [url, message] of cases) {
    for (const [label, res] of [
      ['POST', await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url, event_types: ['*'] } })],
      ['PATCH', await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload: { url } })],
    ] as const) {
      const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', `${label} ${url}`);
      t.same(errorFields(body), ['url'], `${label} ${url}: names url`);
      const problem = (body.errors as Array<{ message: string }>)[0]!.message;
      t.match(problem, message, `${label} ${url}: says why (${problem})`);
      t.notMatch(res.body, /127\.0\.0\.1|::1\b/, `${label} ${url}: names no resolved address`);
    }
  }
  const { rows } = await ta.sql.query('SELECT url FROM webhook_endpoints');
  t.same(rows, [{ url: `https://${PUBLIC}/hook` }], 'only the public endpoint is stored, its URL unchanged');
});

t.test('PATCH {"enabled": true} re-checks the stored URL; pausing does not', async (t) => {
  const [loopbackName] = await loopbackNames();
  t.ok(loopbackName, 'a host name that resolves to loopback');
  const ta = await build(t, { env: { OUTBOX_SWEEP_MS: '100' } });
  const created = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: `https://${PUBLIC}/hook`, event_types: ['*'] } });
  t.equal(created.statusCode, 201);
  const id = created.json().id;
  const patch = (payload: object) => ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload });
  const stored = async () => (await ta.sql.query('SELECT url, status, disabled_reason FROM webhook_endpoints WHERE id = $1', [id])).rows[0];

  // Each URL is written behind the service's back (DNS changed, or the rules did since it was stored), on an
  // endpoint the worker had disabled.
  for (const url of [`https://${loopbackName}/hook`, 'https://[::7f00:1]/hook', 'https://[2002:7f00:1::1]/hook', 'https://127.0.0.1/hook', 'http://93.184.215.14/hook', 'https://hooks.rightful.invalid/hook']) {
    await ta.sql.query("UPDATE webhook_endpoints SET url = $1, status = 'disabled', disabled_reason = 'failing for 5 days' WHERE id = $2", [url, id]);
    const body = assertProblem(t, await patch({ enabled: true }), 400, 'VALIDATION_FAILED', `re-enable ${url}`);
    t.same(errorFields(body), ['url'], `${url}: names url`);
    t.match((body.errors as Array<{ message: string }>)[0]!.message, /^the current url .+; send a new url to re-enable the endpoint$/, `${url}: says what to do`);
    t.same(await stored(), { url, status: 'disabled', disabled_reason: 'failing for 5 days' }, `${url}: still disabled, nothing changed`);

    // An active endpoint asked to stay enabled is checked the same way.
    await ta.sql.query("UPDATE webhook_endpoints SET status = 'active', disabled_reason = NULL WHERE id = $1", [id]);
    assertProblem(t, await patch({ enabled: true, description: 'x' }), 400, 'VALIDATION_FAILED', `enabled again ${url}`);

    const paused = await patch({ enabled: false });
    t.equal(paused.statusCode, 200, `${url}: pausing is not checked`);
    t.equal(paused.json().status, 'disabled');
  }

  // A new, public URL in the same PATCH re-enables it.
  const fixed = await patch({ enabled: true, url: `https://${PUBLIC}/moved` });
  t.equal(fixed.statusCode, 200, fixed.body.slice(0, 300));
  t.same(await stored(), { url: `https://${PUBLIC}/moved`, status: 'active', disabled_reason: null }, 're-enabled on the new URL');
  // And with a private one, it is not.
  await ta.sql.query("UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'failing for 5 days' WHERE id = $1", [id]);
  const body = assertProblem(t, await patch({ enabled: true, url: `https://${loopbackName}/hook` }), 400, 'VALIDATION_FAILED', 're-enable with a loopback name');
  t.same(errorFields(body), ['url']);
  t.equal((await stored()).status, 'disabled', 'still disabled');
});

t.test('resolution at registration: bounded by a timeout, and it fails closed', async (t) => {
  const resolvesTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address }));
  let calls = 0;
  const counted = async () => {
    calls++;
    return [{ address: PUBLIC }];
  };

  const started = performance.now();
  const hung = await checkWebhookUrlResolved('https://hooks.example/x', false, { lookup: () => new Promise(() => {}), timeoutMs: 50 });
  t.same(hung, { ok: false, reason: 'has a host name that did not resolve within 50 ms' }, 'a lookup that never answers is refused');
  t.ok(performance.now() - started < 1000, 'after the timeout, not later');

  const failed = await checkWebhookUrlResolved('https://hooks.example/x', false, { lookup: async () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' })) });
  t.same(failed, { ok: false, reason: 'has a host name that could not be resolved' }, 'a failed lookup is refused');
  t.same(await checkWebhookUrlResolved('https://hooks.example/x', false, { lookup: resolvesTo() }), { ok: false, reason: 'has a host name that could not be resolved' }, 'no address is refused');

  const mixed = await checkWebhookUrlResolved('https://hooks.example/x', false, { lookup: resolvesTo(PUBLIC, '64:ff9b::a00:1') });
  t.same(mixed, { ok: false, reason: 'must not resolve to a loopback, link-local or private address' }, 'one private address among public ones is refused');
  t.notMatch(JSON.stringify(mixed), /64:ff9b|10\.0\.0\.1/, 'the reason names no address');

  const ok = await checkWebhookUrlResolved('https://hooks.example/x', false, { lookup: resolvesTo(PUBLIC, '2001:4860:4860::8888') });
  t.ok(ok.ok, 'only public addresses: accepted');

  t.ok((await checkWebhookUrlResolved(`https://${PUBLIC}/x`, false, { lookup: counted })).ok, 'a public literal');
  t.ok((await checkWebhookUrlResolved('http://hooks.internal-lab/x', true, { lookup: counted })).ok, 'private targets allowed');
  t.equal(calls, 0, 'neither a literal nor an allowed private target is resolved');
});

t.test('delivery time: the sender refuses IPv6 literals that embed a private IPv4 address, without connecting', async (t) => {
  const trap = await tcpTrap(t);
  const guarded = createSender({ timeoutMs: 1000, allowPrivate: false });
  t.teardown(() => guarded.close());
  for (const host of ['::127.0.0.1', '::ffff:0:127.0.0.1', '2002:7f00:1::1', '2001:0:4136:e378:8000:63bf:80ff:fffe', '64:ff9b::127.0.0.1']) {
    const url = `http://[${host}]:${trap.port}/`;
    const r = await guarded.send(url, {}, '{}');
    t.same({ statusCode: r.statusCode, error: r.error }, { statusCode: null, error: 'destination address is not public' }, url);
  }
  t.equal(trap.connections, 0, 'nothing connected');
});
