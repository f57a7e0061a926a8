// An erasure fan-out survives Redis emptied and its worker killed: 50 approved erasures × 5 systems, each system
// behind its own webhook endpoint and answering every task through its callback link; mid-fan-out the throwaway
// Redis is flushed and the worker process is SIGKILLed, then a new worker takes over. Every task still reaches its
// system and completes, every person is forgotten, and a repeated task always carries the same webhook-id.
import { spawn } from 'node:child_process';
import type http from 'node:http';
import t from 'tap';
import { build, type TestApp } from '../helper.js';
import { startThrowawayRedis } from '../helpers/redis-server.js';
import { createEndpoint, startRawServer, waitUntil } from '../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../helpers/worker-env.js';

const root = new URL('../../', import.meta.url).pathname;
const SYSTEMS = 5;
const REQUESTS = 50;
const TASKS = SYSTEMS * REQUESTS;
// Each receiver holds its 200 this long: the fan-out then lasts a few seconds, long enough to be hit mid-way.
const RECEIVER_DELAY_MS = 150;
const WEBHOOK_TIMEOUT_MS = 2_000;
// Each system answers a task this long after receiving it, as a system that takes time to erase does: longer than a
// killed worker's hold on its rows (the webhook timeout + 5 s) and the visibility timeout after it, so a task the
// new worker sends again still finds it open, and would reach the system under a second webhook-id if it got one.
const CALLBACK_DELAY_MS = WEBHOOK_TIMEOUT_MS + 7_000;

type Task = { taskId: string; systemId: string; webhookId: string };

/** A connected system's receiver: answers 200 after a short delay and completes the task through its callback link
 * later; like a real system it tries the callback again after a 5xx, a few times. Every callback answer is counted. */
async function startSystemReceiver(t: Tap, ta: TestApp) {
  const tasks: Task[] = [];
  const callbacks = new Map<number, number>(); // callback HTTP status → count
  const pending = new Set<Promise<void>>();
  const sleep = (ms: number) => new Promise((w) => setTimeout(w, ms));
  const server = await startRawServer(t, (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { task_id: string; system_id: string; callback_url: string } };
      if (body.type !== 'erasure.requested') return void res.writeHead(204).end();
      tasks.push({ taskId: body.data.task_id, systemId: body.data.system_id, webhookId: String(req.headers['webhook-id']) });
      setTimeout(() => res.writeHead(200).end(), RECEIVER_DELAY_MS);
      // A task received twice is answered twice: the second final answer is a 409.
      const url = new URL(body.data.callback_url).pathname;
      const p = (async () => {
        await sleep(CALLBACK_DELAY_MS);
        for (let attempt = 1; attempt <= 5; attempt++) {
          const r = await ta.app.inject({ method: 'POST', url, payload: { status: 'completed' } });
          callbacks.set(r.statusCode, (callbacks.get(r.statusCode) ?? 0) + 1);
          if (r.statusCode < 500) return;
          await sleep(100 * attempt);
        }
      })().finally(() => pending.delete(p));
      pending.add(p);
    });
  });
  return { url: `http://127.0.0.1:${server.port}/erasure`, tasks, callbacks, settled: () => Promise.all([...pending]) };
}
type Tap = Parameters<typeof startRawServer>[0];

/** The JSON body of a setup call that must succeed. */
function expect(res: { statusCode: number; body: string; json(): { id: string } }, status: number): { id: string } {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`);
  return res.json();
}

/** Per task, the webhook-ids it arrived under. */
function webhookIdsByTask(tasks: Task[]): Map<string, Set<string>> {
  const byTask = new Map<string, Set<string>>();
  for (const x of tasks) byTask.set(x.taskId, (byTask.get(x.taskId) ?? new Set()).add(x.webhookId));
  return byTask;
}

t.test('Redis emptied and the worker killed mid-fan-out: every task completes, each under one webhook-id', async (t) => {
  const redis = await startThrowawayRedis(t);
  const env = fastWorkerEnv({ REDIS_URL: redis.url, WORKER_CONCURRENCY: '8', WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS) });
  const ta = await build(t, { env });

  // Five systems, each reached through its own endpoint (subscribed to an event this test never causes, so each
  // receiver sees the tasks addressed to it and nothing else).
  const receivers: Awaited<ReturnType<typeof startSystemReceiver>>[] = [];
  const systemIds: string[] = [];
  for (let i = 0; i < SYSTEMS; i++) {
    const receiver = await startSystemReceiver(t, ta);
    const endpoint = await createEndpoint(ta, receiver.url, ['request.extended']);
    systemIds.push(expect(await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: `System ${i + 1}`, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: endpoint.id } }), 201).id);
    receivers.push(receiver);
  }
  const received = () => new Set(receivers.flatMap((r) => r.tasks.map((x) => x.taskId))).size;

  // The first worker is a process of its own, so it can be killed outright.
  const childEnv = { ...process.env, ...env, DATABASE_URL: ta.databaseUrl, REDIS_PREFIX: ta.config.redis!.prefix, WORKER_HEALTH_PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test' };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { cwd: root, env: childEnv, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(() => child.kill('SIGKILL'));

  // 50 people ask to be erased; the DPO approves each (the fan-out starts as soon as the worker is up).
  const subjects: string[] = [];
  const requests: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const subject = expect(await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: `crm-${i}`, identifiers: [{ type: 'email', value: `erase.me.${i}@example.com` }] } }), 201).id;
    const req = expect(await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } }), 201).id;
    expect(await ta.call({ method: 'POST', url: `/v1/rights-requests/${req}/approve`, payload: { identity: 'verified' } }), 200);
    subjects.push(subject);
    requests.push(req);
  }

  // Mid-fan-out: Redis emptied under the running worker, which goes on a little; then it is killed.
  await waitUntil(() => received() >= 60, 30_000, 'the first worker is delivering tasks');
  const atFlush = received();
  await redis.client().flushall();
  await waitUntil(() => received() >= atFlush + 20, 10_000, 'the worker goes on after the flush');
  child.kill('SIGKILL');
  await exited;
  const atKill = received();
  t.ok(atKill < TASKS, `the faults hit mid-fan-out (${atFlush} of ${TASKS} tasks received at the flush, ${atKill} at the kill)`);

  await startTestWorker(t, ta);
  const completedRequests = async () => (await ta.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM rights_requests WHERE status = 'completed'`)).rows[0]!.n;
  const finished = await waitUntil(async () => (await completedRequests()) === REQUESTS, 40_000, `all ${REQUESTS} requests completed`, 200).then(
    () => true,
    async (err: Error) => {
      // What is stuck, and where: the tasks by status, the outbox by topic and status.
      const q = async (text: string) => JSON.stringify((await ta.sql.query(text)).rows);
      t.fail(`${err.message}; ${received()} tasks received; tasks ${await q(`SELECT status, count(*)::int AS n FROM system_tasks GROUP BY 1`)}; outbox ${await q(`SELECT topic, status, count(*)::int AS n FROM outbox GROUP BY 1, 2 ORDER BY 1, 2`)}; callbacks ${JSON.stringify(receivers.map((r) => Object.fromEntries(r.callbacks)))}`);
      return false;
    },
  );
  if (!finished) return;
  await new Promise((r) => setTimeout(r, 500)); // late redeliveries, if any, arrive
  await Promise.all(receivers.map((r) => r.settled()));

  // Every task reached its own system and is completed.
  const tasks = (await ta.sql.query<{ id: string; system_id: string; status: string }>(`SELECT id, system_id, status FROM system_tasks WHERE kind = 'erasure'`)).rows;
  t.equal(tasks.length, TASKS, `${TASKS} tasks were created`);
  t.equal(tasks.filter((x) => x.status === 'completed').length, TASKS, 'every task is completed');
  const systemOf = new Map(tasks.map((x) => [x.id, x.system_id]));
  receivers.forEach((r, i) => {
    const ids = new Set(r.tasks.map((x) => x.taskId));
    t.equal(ids.size, REQUESTS, `system ${i + 1} received one task per request`);
    t.ok(r.tasks.every((x) => x.systemId === systemIds[i] && systemOf.get(x.taskId) === systemIds[i]), `system ${i + 1} received only its own tasks`);
    const repeated = [...webhookIdsByTask(r.tasks)].filter(([, s]) => s.size > 1);
    t.same(repeated.map(([task, s]) => `${task}: ${[...s].join(', ')}`), [], `system ${i + 1} never received one task under two webhook-ids`);
  });
  t.equal(received(), TASKS, `all ${TASKS} tasks were delivered`);
  // Five systems answer the tasks of one request at about the same time: each answer is taken, none is a 5xx.
  const answers = new Map<number, number>();
  for (const r of receivers) for (const [status, n] of r.callbacks) answers.set(status, (answers.get(status) ?? 0) + n);
  t.notOk([...answers.keys()].some((s) => s !== 200 && s !== 409), `every callback answered 200, or 409 for a task received twice (${JSON.stringify(Object.fromEntries(answers))})`);
  const sentTwice = (
    await ta.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM outbox WHERE payload->>'type' = 'erasure.requested' GROUP BY payload->'data'->>'task_id' HAVING count(*) > 1) x`)
  ).rows[0]!.n;
  t.comment(`tasks sent as two erasure.requested events (their task.send row run twice): ${sentTwice}`);

  // Every request completed and its subject is forgotten.
  for (let i = 0; i < REQUESTS; i++) {
    const r = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requests[i]}` })).json();
    const s = (await ta.call({ method: 'GET', url: `/v1/subjects/${subjects[i]}` })).json();
    if (r.status !== 'completed' || s.status !== 'erased') t.fail(`request ${i}: ${r.status}, subject ${s.status}`);
  }
  t.pass(`all ${REQUESTS} requests completed, their subjects erased`);
  const dead = (await ta.sql.query<{ topic: string; last_error: string }>(`SELECT topic, last_error FROM outbox WHERE status = 'dead'`)).rows;
  t.same(dead, [], 'no outbox row ended dead');
});
