// INV-6: canary personal data (an email, a phone, an external reference, an evidence user agent, free text, a
// corrected email, uploaded export data) goes through many flows — subjects, consents, objections, rights requests
// with details, a rectification, an access export uploaded and linked, an erasure, webhooks delivered by a worker
// through Redis — succeeding and failing. None of it appears in the API's or the worker's logs, in any Redis key or
// value under the file's prefix, in any error body, or in any URL the service produced (Location headers, links).
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import t from 'tap';
import { loggerOptions } from '../../src/app.js';
import { build, createPurpose, testConfig } from '../helper.js';
import { startReceiver } from '../helpers/receiver.js';
import { retryingShed, settle } from '../helpers/settle.js';
import { createEndpoint, waitUntil } from '../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../helpers/worker-env.js';

const EMAIL = 'Canary.Zx81q+tag@Example.org';
const PHONE = '+359888765432';
const EXTERNAL = 'crm-canary-7731x';
const AGENT = 'CanaryAgent/7.7 (zx81q-agent)';
const FREE = 'canary free text zx81q: call me on Tuesdays';
const CORRECTED = 'corrected.zx81q@example.org';
const UPLOADED = 'canary-export-zx81q-orders';
const NEEDLES = [EMAIL, EMAIL.toLowerCase(), 'zx81q', PHONE, '888765432', EXTERNAL, AGENT, FREE, CORRECTED, UPLOADED];

/** Every needle found in `text` (also percent-decoded and base64-decoded forms of URL-safe text are searched). */
function leaks(text: string): string[] {
  const forms = [text];
  try {
    forms.push(decodeURIComponent(text));
  } catch {
    /* not percent-encoded */
  }
  return NEEDLES.filter((n) => forms.some((f) => f.toLowerCase().includes(n.toLowerCase())));
}

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

/** Every string in a JSON value that looks like a URL. */
function urlsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string' && /^(https?:\/\/|\/v1\/)/.test(value)) out.push(value);
  else if (Array.isArray(value)) for (const v of value) urlsIn(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) urlsIn(v, out);
  return out;
}

/** Every key under `prefix` and its value, whatever its type, as text. */
async function dumpRedis(redis: Redis, prefix: string): Promise<{ keys: string[]; text: string }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const value =
      type === 'string' ? await redis.get(key)
      : type === 'hash' ? await redis.hgetall(key)
      : type === 'list' ? await redis.lrange(key, 0, -1)
      : type === 'set' ? await redis.smembers(key)
      : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
      : type === 'stream' ? await redis.xrange(key, '-', '+')
      : null;
    parts.push(`${key} ${JSON.stringify(value)}`);
  }
  return { keys, text: parts.join('\n') };
}

t.test('canary personal data leaks into no log, Redis key or value, error body or URL', async (t) => {
  const api = capture();
  const logger = { ...loggerOptions(testConfig('postgres://unused@127.0.0.1/unused')), level: 'trace', stream: api.stream };
  const ta = await build(t, { logger, env: fastWorkerEnv() });
  const worker = capture();
  await startTestWorker(t, ta);
  // A second worker at trace level, writing into memory: the jobs are shared, so both run some of them.
  const { startWorker } = await import('../../src/worker-runtime.js');
  const traced = await startWorker(ta.config, { healthPort: null, log: pino({ level: 'trace', base: { process: 'worker' } }, worker.stream) });
  t.teardown(() => traced.stop(5000));
  const hook = await startReceiver(t);

  const responses: { label: string; res: LightMyRequestResponse }[] = [];
  // A load-shedding spell of a busy machine is waited out: what is answered is the point here, not when.
  const shedSafe = retryingShed(ta.call);
  const setupTa = { ...ta, call: shedSafe };
  const call = async (label: string, o: InjectOptions & { scope?: string }, expect?: number) => {
    const res = await shedSafe(o);
    responses.push({ label, res });
    if (expect !== undefined && res.statusCode !== expect) t.fail(`${label}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    return res;
  };
  const raw = async (label: string, o: InjectOptions) => {
    const res = await ta.app.inject(o);
    responses.push({ label, res });
    return res;
  };

  await createPurpose(setupTa, 'newsletter', { direct_marketing: true });
  await createPurpose(setupTa, 'profiling', { legal_basis: 'legitimate_interests' });
  await settle(ta.call);
  const endpoint = await createEndpoint(setupTa, hook.url, ['*']);
  t.ok(endpoint.id, 'a webhook endpoint for every event');
  const system = (await call('system', { method: 'POST', url: '/v1/systems', payload: { name: 'CRM', kind: 'crm', handles: ['export', 'erasure', 'rectification'], data_categories: ['contact'], webhook_endpoint_id: endpoint.id } }, 201)).json();

  // Subjects, consents, objections.
  const created = await call('subject', { method: 'POST', url: '/v1/subjects', payload: { external_ref: EXTERNAL, identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] } }, 201);
  const subject = created.json().id as string;
  const evidence = { ip: '203.0.113.77', user_agent: AGENT, form_id: 'signup', text_shown: FREE };
  await call('grant', { method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': 'canary-grant' }, payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence }] } }, 201);
  await call('grant replayed', { method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': 'canary-grant' }, payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence }] } }, 201);
  await call('history', { method: 'GET', url: `/v1/subjects/${subject}/consents/history` }, 200);
  await call('lookup', { method: 'POST', url: '/v1/subjects/lookup', payload: { identifiers: [{ type: 'email', value: EMAIL }] } }, 200);
  await call('check', { method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] } }, 200);
  await call('objection', { method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', source: 'web_form', evidence } });
  await call('objection to processing', { method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'processing', purposes: ['profiling'], channel: 'email', evidence } });

  // Failing on purpose, with the canary in the request.
  await call('idempotency key reused', { method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': 'canary-grant' }, payload: { decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api', evidence }] } });
  await call('unknown purpose', { method: 'POST', url: `/v1/subjects/${subject}/consents`, payload: { decisions: [{ purpose: 'missing', action: 'grant', source: 'web_form', evidence }] } });
  // Canaries go where personal data belongs, in values: an unknown key's name or an unknown path is structure the
  // caller chose, and is named back (bounded) so the caller can fix the request.
  await call('unknown field', { method: 'POST', url: `/v1/subjects/${subject}/consents`, payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence: { ...evidence, note: EMAIL } }] } });
  await call('bad phone', { method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'phone', value: `${PHONE} ${EMAIL}` }] } });
  await call('bad email', { method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: `${FREE} <${EMAIL}>` }], external_ref: EXTERNAL } });
  await call('extra key', { method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: EMAIL }], note: PHONE } });
  await call('value of the wrong type', { method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: [EMAIL, PHONE] }], external_ref: { ref: EXTERNAL } } });
  await call('too long', { method: 'POST', url: `/v1/subjects/${subject}/consents`, payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence: { ...evidence, user_agent: AGENT.repeat(200) } }] } });
  await call('malformed json', { method: 'POST', url: '/v1/subjects', headers: { 'content-type': 'application/json' }, payload: `{"identifiers":[{"type":"email","value":"${EMAIL}"}` });
  await call('unknown lookup', { method: 'POST', url: '/v1/subjects/lookup', payload: { identifiers: [{ type: 'email', value: `other.${EMAIL}` }] } });
  await call('request with bad type', { method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: EMAIL }] }, type: FREE, channel: 'email', details: FREE } });
  await call('unknown subject', { method: 'POST', url: '/v1/subjects/00000000-0000-4000-8000-000000000000/consents', payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence }] } });
  await raw('no token', { method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: EMAIL }] } });

  // Rights requests with details; an access export filled by upload and linked for the person.
  const access = (await call('access request', { method: 'POST', url: '/v1/rights-requests', payload: { subject: { identifiers: [{ type: 'email', value: EMAIL }], external_ref: EXTERNAL }, type: 'access', channel: 'email', details: FREE } }, 201)).json();
  await call('gather', { method: 'POST', url: `/v1/rights-requests/${access.id}/gather` }, 200);
  // The system is told who the person is at send time; before the erasure below, that is the canary.
  await hook.waitFor((all) => all.some((r) => r.body.includes('"export.requested"')), 30_000);
  const tasks = (await call('tasks', { method: 'GET', url: `/v1/rights-requests/${access.id}/tasks` }, 200)).json().items as { id: string; system_id: string }[];
  const task = tasks.find((x) => x.system_id === system.id)!;
  await call('upload', {
    method: 'PUT',
    url: `/v1/rights-requests/${access.id}/tasks/${task.id}/data?provided_categories=contact`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ contact: [{ email: EMAIL, phone: PHONE, note: UPLOADED }] }),
  }, 200);
  await call('export approve', { method: 'POST', url: `/v1/rights-requests/${access.id}/export/approve`, payload: {} }, 200);
  await call('export link', { method: 'POST', url: `/v1/rights-requests/${access.id}/export-links`, payload: {} }, 201);
  await call('export links', { method: 'GET', url: `/v1/rights-requests/${access.id}/export-links` }, 200);
  await call('request read', { method: 'GET', url: `/v1/rights-requests/${access.id}` }, 200);
  await call('request events', { method: 'GET', url: `/v1/rights-requests/${access.id}/events` }, 200);

  const rectification = (await call('rectification', { method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'rectification', channel: 'letter', details: FREE, corrections: [{ category: 'identifier', field: 'email', value: CORRECTED }, { category: 'contact', field: 'nickname', value: FREE }] } }, 201)).json();
  await call('rectification approve', { method: 'POST', url: `/v1/rights-requests/${rectification.id}/approve`, payload: { identity: 'verified' } });
  await call('rectification tasks', { method: 'GET', url: `/v1/rights-requests/${rectification.id}/tasks` }, 200);

  const erasure = (await call('erasure', { method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'email', erasure_ground: 'consent_withdrawn', details: FREE } }, 201)).json();
  await call('erasure approve', { method: 'POST', url: `/v1/rights-requests/${erasure.id}/approve`, payload: { identity: 'verified' } }, 200);

  // The worker delivers what the flows published, through BullMQ on Redis; the systems' tasks go out too.
  await waitUntil(async () => (await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE status NOT IN ('done', 'dead') AND available_at <= now()`)).rows[0].n === 0, 30_000, 'outbox drained');
  await waitUntil(() => hook.received.length >= 5, 15_000, 'webhooks delivered');
  // The tasks' callback and upload links, as the systems received them.
  const sent = hook.received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
  const callbackUrls = urlsIn(sent.map((m) => m.data));
  t.ok(callbackUrls.length > 0, `${callbackUrls.length} links sent to the systems`);
  // The systems answer through their links (no token): one fails with the canary as its reason, stored encrypted.
  let n = 0;
  const openTaskLinks = urlsIn(sent.filter((m) => m.type !== 'export.requested').map((m) => m.data));
  for (const u of openTaskLinks.filter((x) => /\/v1\/task-callbacks\/[^/]+$/.test(x))) {
    const payload = n++ === 0 ? { status: 'failed', reason: FREE } : { status: 'completed' };
    const res = await raw('callback', { method: 'POST', url: new URL(u).pathname, payload });
    if (res.statusCode !== 200) t.fail(`callback: ${res.statusCode} ${res.body}`);
  }
  t.ok(n > 0, `${n} task callbacks answered`);
  await waitUntil(async () => (await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE status NOT IN ('done', 'dead') AND available_at <= now()`)).rows[0].n === 0, 30_000, 'outbox drained again');

  // The search is not blind: the systems, which must act on the person, were told who it is (at send time).
  const told = hook.received.find((r) => r.body.includes('"export.requested"'))!.body;
  t.ok(leaks(told).includes(EMAIL.toLowerCase()), 'the canary email reached the system in its export task webhook');
  t.comment(`answers: ${responses.map((r) => `${r.label} ${r.res.statusCode}`).join(', ')}`);

  // 1. Logs (the API's, and the traced worker's).
  t.ok(api.lines.length > 50 && worker.lines.length > 0, `${api.lines.length} API and ${worker.lines.length} worker log lines captured`);
  t.same(leaks(api.lines.join('')), [], 'no canary in the API logs');
  t.same(leaks(worker.lines.join('')), [], 'no canary in the worker logs');

  // 2. Redis: every key and value under the file's prefix.
  const redis = new Redis(ta.config.redis!.url);
  t.teardown(() => redis.disconnect());
  const dump = await dumpRedis(redis, ta.config.redis!.prefix);
  t.ok(dump.keys.length > 5, `${dump.keys.length} Redis keys under ${ta.config.redis!.prefix}`);
  t.same(leaks(dump.text), [], 'no canary in any Redis key or value');

  // 3. Error bodies.
  const errors = responses.filter((r) => r.res.statusCode >= 400);
  t.ok(errors.length >= 10, `${errors.length} error answers: ${[...new Set(errors.map((e) => e.res.statusCode))].join(', ')}`);
  t.same(errors.flatMap((e) => leaks(e.res.body).map((n) => `${e.label} ${e.res.statusCode}: ${n}`)), [], 'no canary in any error body');
  t.same(responses.filter((r) => r.res.statusCode >= 500).map((r) => `${r.label}: ${r.res.statusCode}`), [], 'no 5xx');

  // 4. URLs the service produced: Location headers, URLs in answers, links sent to systems and webhook targets.
  const urls = [
    ...responses.map((r) => r.res.headers.location).filter((l): l is string => typeof l === 'string'),
    ...responses.flatMap((r) => (r.res.headers['content-type']?.toString().includes('json') ? urlsIn(JSON.parse(r.res.body)) : [])),
    ...callbackUrls,
    ...hook.received.map((r) => String(r.headers.host ?? '') + '/hooks'),
  ];
  t.ok(urls.length >= 3, `${urls.length} URLs produced`);
  t.same(urls.flatMap((u) => leaks(u).map((n) => `${u}: ${n}`)), [], 'no canary in any URL');
});
