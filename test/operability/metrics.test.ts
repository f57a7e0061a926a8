// GET /metrics: off unless configured, only for the metrics token, in Prometheus text format; the series an operator
// alerts on exist and move while the service works (requests answered, a webhook delivered by the worker, a rights
// request overdue), and no id or identifier ever appears in them.
import t from 'tap';
import { startWorker } from '../../src/worker-runtime.js';
import { build, createSubject, type TestApp } from '../helper.js';
import { startReceiver } from '../helpers/receiver.js';
import { fastWorkerEnv, startTestWorker } from '../helpers/worker-env.js';

const TOKEN = 'metrics-token-0123456789abcdef-0123456789';
const CACHE_MS = 5_000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one series (labels given must match; others are ignored); undefined when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(ta: TestApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await ta.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`scrape: ${res.statusCode} ${res.body}`);
  return { text: res.body, samples: parse(res.body) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The separate metrics listener opens once the API listens (right after listen() resolves). */
async function metricsListening(ta: TestApp): Promise<void> {
  for (let i = 0; i < 100 && ta.app.metricsPort === null; i++) await sleep(20);
}
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

t.test('metrics are off unless configured: /metrics is a 404', async (t) => {
  const ta = await build(t);
  for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }, { authorization: `Bearer ${ta.token()}` }]) {
    const res = await ta.app.inject({ method: 'GET', url: '/metrics', headers });
    t.equal(res.statusCode, 404);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.equal(res.json().code, 'ROUTE_NOT_FOUND');
  }
});

t.test('only the metrics token opens /metrics', async (t) => {
  const ta = await build(t, { env: { METRICS_TOKEN: TOKEN } });
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['another token', { authorization: `Bearer ${TOKEN}x` }],
    ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['the token without the Bearer scheme', { authorization: TOKEN }],
    ['a valid service token', { authorization: `Bearer ${ta.token()}` }],
  ];
  for (const [what, headers] of cases) {
    const res = await ta.app.inject({ method: 'GET', url: '/metrics', headers });
    t.equal(res.statusCode, 401, what);
    t.equal(res.json().code, 'UNAUTHORIZED', what);
    t.notOk(res.body.includes(TOKEN), `${what}: the answer does not echo the token`);
  }
  const ok = await ta.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(ok.statusCode, 200);
  t.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.equal(ok.headers['cache-control'], 'no-store');
});

t.test('the series exist and move while the service works, and carry no ids', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ METRICS_TOKEN: TOKEN }) });
  const receiver = await startReceiver(t);
  const endpoint = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['subject.created'] } });
  t.equal(endpoint.statusCode, 201);

  const first = await scrape(ta);
  for (const name of [
    'nodejs_eventloop_lag_seconds',
    'process_resident_memory_bytes',
    'rightful_outbox_due_rows',
    'rightful_outbox_oldest_due_age_seconds',
    'rightful_http_requests_total',
    'rightful_http_request_duration_seconds_bucket',
  ]) {
    t.ok(first.samples.some((s) => s.name === name), `${name} is exposed`);
  }
  for (const state of ['waiting', 'active', 'delayed']) t.type(value(first.samples, 'rightful_queue_jobs', { queue: 'outbox', state }), 'number', `queue depth ${state}`);
  for (const outcome of ['pending', 'succeeded', 'failed']) t.equal(value(first.samples, 'rightful_webhook_deliveries', { outcome }), 0, `no ${outcome} delivery yet`);
  t.equal(value(first.samples, 'rightful_rights_requests_open', { type: 'access' }), 0);
  t.equal(value(first.samples, 'rightful_rights_requests_overdue', { type: 'access' }), 0);
  t.equal(value(first.samples, 'rightful_metrics_source_up', { source: 'postgres' }), 1);
  t.equal(value(first.samples, 'rightful_metrics_source_up', { source: 'redis' }), 1);

  // Requests are counted under their route pattern, by status.
  const subject = await createSubject(ta, 'metrics.person@example.com');
  for (let i = 0; i < 3; i++) t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).statusCode, 200);
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${crypto.randomUUID()}` })).statusCode, 404);
  t.equal((await ta.call({ method: 'GET', url: `/v1/no-such-route/${subject}` })).statusCode, 404);
  // Received three months ago: its one-month deadline (Art. 12(3)) has passed.
  const late = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'letter', received_at: daysAgo(92) } });
  t.equal(late.statusCode, 201);

  const second = await scrape(ta);
  const byRoute = (s: Sample[], status: string) => value(s, 'rightful_http_requests_total', { method: 'GET', route: '/v1/subjects/:id', status }) ?? 0;
  t.equal(byRoute(second.samples, '200') - byRoute(first.samples, '200'), 3, 'three answered 200 on /v1/subjects/:id');
  t.equal(byRoute(second.samples, '404') - byRoute(first.samples, '404'), 1, 'one 404 on the same route pattern');
  t.equal(value(second.samples, 'rightful_http_request_duration_seconds_count', { method: 'GET', route: '/v1/subjects/:id', status: '200' }), 3, 'each one timed');
  t.equal(value(second.samples, 'rightful_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1, 'an unknown URL counts as unmatched');
  t.equal(value(second.samples, 'rightful_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1, 'the first scrape is counted');
  // Database figures are read at most every 5 seconds: within that time a scrape answers from the last read.
  t.equal(value(second.samples, 'rightful_rights_requests_overdue', { type: 'access' }), 0, 'the overdue count is the cached one');

  await sleep(CACHE_MS + 200);
  const third = await scrape(ta);
  t.equal(value(third.samples, 'rightful_rights_requests_open', { type: 'access' }), 1, 'the request is open');
  t.equal(value(third.samples, 'rightful_rights_requests_overdue', { type: 'access' }), 1, 'and overdue');
  t.equal(value(third.samples, 'rightful_rights_requests_overdue', { type: 'erasure' }), 0, 'every type is listed, zero or not');
  const due = value(third.samples, 'rightful_outbox_due_rows')!;
  t.ok(due >= 2, `events wait in the outbox while no worker runs (${due} due)`);
  t.ok(value(third.samples, 'rightful_outbox_oldest_due_age_seconds')! >= CACHE_MS / 1000, 'the oldest due row has been waiting since before the pause');

  // A worker starts, relays the rows and delivers the webhook.
  await startTestWorker(t, ta);
  await receiver.waitFor((all) => all.some((r) => JSON.parse(r.body).type === 'subject.created'));
  let fourth = await scrape(ta);
  for (let i = 0; i < 20 && value(fourth.samples, 'rightful_webhook_deliveries', { outcome: 'succeeded' }) !== 1; i++) {
    await sleep(CACHE_MS / 2);
    fourth = await scrape(ta);
  }
  t.equal(value(fourth.samples, 'rightful_webhook_deliveries', { outcome: 'succeeded' }), 1, 'the delivery counts as succeeded');
  t.equal(value(fourth.samples, 'rightful_outbox_due_rows'), 0, 'the outbox is drained');
  t.equal(value(fourth.samples, 'rightful_outbox_oldest_due_age_seconds'), 0);
  t.ok(value(fourth.samples, 'rightful_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })! > 2, 'scrapes count up');

  // No id, identifier, token or URL path with an id anywhere in the exposition.
  for (const { text } of [first, second, third, fourth]) {
    t.notMatch(text, UUID, 'no uuid (subject, tenant, request, endpoint ids)');
    for (const secret of ['metrics.person', 'example.com', TOKEN, receiver.url, '/v1/no-such-route']) t.notOk(text.includes(secret), `no ${secret.slice(0, 20)}`);
  }
  const routes = new Set(fourth.samples.filter((s) => s.name === 'rightful_http_requests_total').map((s) => s.labels.route));
  for (const route of routes) t.notMatch(route!, UUID, `route label ${route} is a pattern`);
});

t.test('a source that is down is reported, its gauges left out, and the scrape still answers', async (t) => {
  // Nothing listens on port 1: Redis is down from the start.
  const ta = await build(t, { env: { METRICS_TOKEN: TOKEN, REDIS_URL: 'redis://127.0.0.1:1' } });
  const started = Date.now();
  const { samples } = await scrape(ta);
  t.ok(Date.now() - started < 4_500, 'answered without waiting on Redis');
  t.equal(value(samples, 'rightful_metrics_source_up', { source: 'redis' }), 0, 'redis is reported down');
  t.equal(value(samples, 'rightful_metrics_source_up', { source: 'postgres' }), 1);
  t.equal(value(samples, 'rightful_queue_jobs', { queue: 'outbox', state: 'waiting' }), undefined, 'no queue depth rather than a wrong one');
  t.equal(value(samples, 'rightful_outbox_due_rows'), 0, 'the database gauges are still there');
});

t.test("the worker's health server serves its own metrics", async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ METRICS_TOKEN: TOKEN, HOST: '127.0.0.1' }) });
  const worker = await startWorker(ta.config, { healthPort: 0 });
  t.teardown(() => worker.stop(5000));
  const base = `http://127.0.0.1:${worker.port}`;

  const denied = await fetch(`${base}/metrics`);
  t.equal(denied.status, 401);
  t.match(denied.headers.get('content-type'), /^application\/problem\+json/);
  t.equal(((await denied.json()) as { code: string }).code, 'UNAUTHORIZED');
  t.equal((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);

  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const samples = parse(await res.text());
  t.type(value(samples, 'nodejs_eventloop_lag_seconds'), 'number', 'event-loop lag');
  t.type(value(samples, 'rightful_queue_jobs', { queue: 'outbox', state: 'waiting' }), 'number', 'queue depth');
  t.equal(value(samples, 'rightful_outbox_due_rows'), 0);
  t.equal(value(samples, 'rightful_metrics_source_up', { source: 'postgres' }), 1);
  t.notOk(samples.some((s) => s.name === 'rightful_http_requests_total'), 'no HTTP API, no HTTP series');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'the health check still answers');
});

t.test('the worker without metrics configured answers /metrics 404', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv({ HOST: '127.0.0.1' }) });
  const worker = await startWorker(ta.config, { healthPort: 0 });
  t.teardown(() => worker.stop(5000));
  t.equal((await fetch(`http://127.0.0.1:${worker.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
});

t.test('METRICS_PORT: a listener of its own, and a 404 on the API port', async (t) => {
  const ta = await build(t, { env: { METRICS_PORT: '0', HOST: '127.0.0.1' } });
  const onApi = await ta.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(onApi.statusCode, 404, 'not on the API port');
  t.equal(ta.app.metricsPort, null, 'nothing listens before the API does');

  await ta.app.listen({ port: 0, host: '127.0.0.1' });
  await metricsListening(ta);
  t.type(ta.app.metricsPort, 'number');
  t.not(ta.app.metricsPort, (ta.app.server.address() as { port: number }).port, 'a port of its own');
  const base = `http://127.0.0.1:${ta.app.metricsPort}`;
  const res = await fetch(`${base}/metrics`);
  t.equal(res.status, 200, 'no token asked on the separate port when METRICS_TOKEN is unset');
  const samples = parse(await res.text());
  t.type(value(samples, 'rightful_outbox_due_rows'), 'number');
  t.type(value(samples, 'nodejs_eventloop_lag_seconds'), 'number');
  for (const path of ['/healthz', '/v1/subjects', '/docs/json']) t.equal((await fetch(`${base}${path}`)).status, 404, `${path} is not served there`);
});

t.test('METRICS_PORT with METRICS_TOKEN: the token is asked on both', async (t) => {
  const ta = await build(t, { env: { METRICS_PORT: '0', METRICS_TOKEN: TOKEN, HOST: '127.0.0.1' } });
  await ta.app.listen({ port: 0, host: '127.0.0.1' });
  await metricsListening(ta);
  const base = `http://127.0.0.1:${ta.app.metricsPort}`;
  t.equal((await fetch(`${base}/metrics`)).status, 401);
  t.equal((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  t.equal((await ta.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
});

t.test('the settings are validated, and a bad one is named', async (t) => {
  const { loadConfig } = await import('../../src/config.js');
  t.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), { message: /METRICS_TOKEN/ }, 'a token under 32 characters is refused');
  t.throws(() => loadConfig({ METRICS_TOKEN: `${'a'.repeat(40)} b` }), { message: /METRICS_TOKEN/ }, 'a space in the token is refused');
  t.throws(() => loadConfig({ METRICS_PORT: '70000' }), { message: /METRICS_PORT/ }, 'a port out of range is refused');
  t.throws(() => loadConfig({ METRICS_PORT: 'x' }), { message: /METRICS_PORT/ }, 'a port that is not a number is refused');
  t.same(loadConfig({}).metrics, { token: null, port: null }, 'off by default');
  t.same(loadConfig({ METRICS_TOKEN: TOKEN, METRICS_PORT: '9464' }).metrics, { token: TOKEN, port: 9464 });
});
