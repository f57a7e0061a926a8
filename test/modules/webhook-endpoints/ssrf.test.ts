// Endpoint URLs are checked with WEBHOOK_ALLOW_PRIVATE unset: https only, no loopback, link-local or private
// address, no credentials; and again at delivery time, after DNS. Nothing here sends traffic anywhere but 127.0.0.1:
// the public URL is only registered, in a database where no worker ever runs.
import net, { type AddressInfo } from 'node:net';
import t from 'tap';
import { createSender } from '../../../src/modules/webhook-endpoints/webhook-endpoints.sender.js';
import { build, createSubject } from '../../helper.js';
import { assertProblem, errorFields } from '../../helpers/problem.js';
import { deliveriesOf, sleep, waitUntil } from '../../helpers/webhooks.js';
import { startTestWorker } from '../../helpers/worker-env.js';

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

  const ok = await post('https://example.com/hook');
  t.equal(ok.statusCode, 201, 'https://example.com is accepted');
  t.equal(ok.json().url, 'https://example.com/hook');
  const id = ok.json().id;

  // PATCH is checked the same way.
  for (const url of ['https://127.0.0.1/hook', 'https://localhost./hook', 'http://example.com/hook', 'https://[::1]/x']) {
    const body = assertProblem(t, await ta.call({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, payload: { url } }), 400, 'VALIDATION_FAILED', `PATCH ${url}`);
    t.same(errorFields(body), ['url'], `PATCH ${url}: names url`);
  }
  t.equal((await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${id}` })).json().url, 'https://example.com/hook', 'the URL did not change');

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
  // Registered with a name that can never resolve (.invalid), then pointed at loopback behind the service's back,
  // as if DNS had changed, before any worker runs.
  const ids: Record<string, string> = {};
  for (const [label, url] of Object.entries(targets)) {
    const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'https://hooks.rightful.invalid/x', event_types: ['subject.created'] } });
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
