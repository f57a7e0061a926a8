// The outbox never loses an event: Redis emptied or stopped, a worker killed mid-delivery, two workers at once.
import { spawn } from 'node:child_process';
import t from 'tap';
import { startWorker } from '../../src/worker-runtime.js';
import { build, createPurpose, createSubject, type TestApp } from '../helper.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startThrowawayRedis } from '../helpers/redis-server.js';
import { createEndpoint } from '../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../helpers/worker-env.js';

const root = new URL('../../', import.meta.url).pathname;

const fastEnv = (redisUrl: string) =>
  fastWorkerEnv({ REDIS_URL: redisUrl, WEBHOOK_RETRY_DELAYS: '200ms,300ms,500ms,500ms,500ms', WORKER_CONCURRENCY: '8' });

/** n consent grants, one subject each; returns their ledger event ids. */
async function grants(ta: TestApp, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const subject = await createSubject(ta, `${tag}-${i}@example.com`);
    const res = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    ids.push(res.json().events[0].id);
  }
  return ids;
}

const ledgerIdsSeen = (r: Receiver) => new Set(r.received.map((m) => JSON.parse(m.body).data.ledger_event_id as string));

/** Per ledger event received, the webhook-ids it arrived under. */
function webhookIdsByEvent(r: Receiver): Map<string, Set<string>> {
  const byEvent = new Map<string, Set<string>>();
  for (const m of r.received) {
    const ev = JSON.parse(m.body).data.ledger_event_id as string;
    byEvent.set(ev, (byEvent.get(ev) ?? new Set()).add(String(m.headers['webhook-id'])));
  }
  return byEvent;
}

t.test('Redis emptied while events are pending: every event still arrives', async (t) => {
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url) });
  await createPurpose(ta, 'newsletter');
  const receiver = await startReceiver(t);
  receiver.respond = () => 200;
  await createEndpoint(ta, receiver.url, ['consent.granted']);
  const worker = await startTestWorker(t, ta);

  // Slow the receiver so jobs pile up in Redis, then empty Redis under the worker's feet.
  let slow = true;
  receiver.respond = () => (slow ? 'hang' : 200);
  const ids = await grants(ta, 20, 'flush');
  await receiver.waitFor((r) => r.length >= 1);
  await redis.client().flushall();
  slow = false;
  const want = new Set(ids);
  await receiver.waitFor(() => [...want].every((id) => ledgerIdsSeen(receiver).has(id)), 30_000);
  t.equal([...want].filter((id) => ledgerIdsSeen(receiver).has(id)).length, 20, 'all 20 events arrived');
  const byEvent = webhookIdsByEvent(receiver);
  t.ok([...byEvent.values()].every((s) => s.size === 1), 'a repeated event always carries the same webhook-id');
});

t.test('Redis stopped for 20 s and started again: the running worker resumes by itself', async (t) => {
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url) });
  await createPurpose(ta, 'newsletter');
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['consent.granted']);
  const worker = await startTestWorker(t, ta);

  const before = await grants(ta, 2, 'before');
  await receiver.waitFor(() => before.every((id) => ledgerIdsSeen(receiver).has(id)));

  await redis.stop();
  const during = await grants(ta, 3, 'during'); // the API keeps accepting consent while Redis is down
  await new Promise((r) => setTimeout(r, 20_000));
  t.notOk(during.some((id) => ledgerIdsSeen(receiver).has(id)), 'nothing could be delivered while Redis was down');
  await redis.start();
  const after = await grants(ta, 2, 'after');
  await receiver.waitFor(() => [...during, ...after].every((id) => ledgerIdsSeen(receiver).has(id)), 40_000);
  t.pass('events from during and after the outage arrived without restarting the worker');
});

t.test('a worker killed mid-delivery: a new worker delivers everything, repeats only under the same webhook-id', async (t) => {
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url) });
  await createPurpose(ta, 'newsletter');
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['consent.granted']);

  let hang = true;
  receiver.respond = () => (hang ? 'hang' : 200);
  const env = { ...process.env, ...fastEnv(redis.url), DATABASE_URL: ta.databaseUrl, REDIS_PREFIX: ta.config.redis!.prefix, WORKER_HEALTH_PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test' };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { cwd: root, env, stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const ids = await grants(ta, 10, 'killed');
  await receiver.waitFor((r) => r.length >= 3, 30_000); // the child is in the middle of deliveries
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  hang = false;

  const worker = await startTestWorker(t, ta);
  await receiver.waitFor(() => ids.every((id) => ledgerIdsSeen(receiver).has(id)), 40_000);
  const idsPerEvent = webhookIdsByEvent(receiver);
  t.equal(idsPerEvent.size, 10, 'every event arrived');
  t.ok([...idsPerEvent.values()].every((s) => s.size === 1), 'duplicates only under the same webhook-id');
});

t.test('two workers at once: no event is delivered twice at the same time', async (t) => {
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url) });
  await createPurpose(ta, 'newsletter');
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['consent.granted']);
  const inFlight = new Map<string, number>();
  let overlap = 0;
  // Hold each request 150 ms and watch for a second copy of the same webhook-id arriving meanwhile.
  receiver.respond = (m) => {
    const id = String(m.headers['webhook-id']);
    const n = (inFlight.get(id) ?? 0) + 1;
    inFlight.set(id, n);
    if (n > 1) overlap++;
    setTimeout(() => inFlight.set(id, (inFlight.get(id) ?? 1) - 1), 150);
    return 200;
  };
  const a = await startWorker(ta.config, { healthPort: null });
  const b = await startWorker(ta.config, { healthPort: null });
  t.teardown(() => Promise.all([a.stop(5000), b.stop(5000)]));
  const ids = await grants(ta, 40, 'two');
  await receiver.waitFor(() => ids.every((id) => ledgerIdsSeen(receiver).has(id)), 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(overlap, 0, 'no webhook-id was in flight twice');
  t.equal(receiver.received.length, 40, 'and with no crash, each event arrived exactly once');
});

t.test('nothing in Redis holds personal data', async (t) => {
  const redis = await startThrowawayRedis(t);
  const ta = await build(t, { env: fastEnv(redis.url) });
  await createPurpose(ta, 'newsletter');
  const receiver = await startReceiver(t);
  await createEndpoint(ta, receiver.url, ['consent.granted']);
  const worker = await startTestWorker(t, ta);
  const email = 'private.person@example.com';
  const subject = await createSubject(ta, email);
  await ta.call({
    method: 'POST',
    url: `/v1/subjects/${subject}/consents`,
    payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence: { ip: '198.51.100.23', form_id: 'signup', text_shown: 'Yes, mail me' } }] },
  });
  await receiver.waitFor((r) => r.length >= 1);
  const client = redis.client();
  const keys = await client.keys('*');
  t.ok(keys.length > 0, 'the queue did use Redis');
  let dump = keys.join('\n');
  for (const key of keys) {
    const type = await client.type(key);
    if (type === 'string') dump += await client.get(key);
    else if (type === 'hash') dump += JSON.stringify(await client.hgetall(key));
    else if (type === 'list') dump += JSON.stringify(await client.lrange(key, 0, -1));
    else if (type === 'set') dump += JSON.stringify(await client.smembers(key));
    else if (type === 'zset') dump += JSON.stringify(await client.zrange(key, 0, -1));
    else if (type === 'stream') dump += JSON.stringify(await client.xrange(key, '-', '+'));
  }
  for (const secret of [email, '198.51.100.23', 'Yes, mail me', 'private.person']) t.notOk(dump.includes(secret), `Redis does not hold "${secret}"`);
});
