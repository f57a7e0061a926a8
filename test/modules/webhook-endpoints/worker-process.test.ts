// The worker entry as deployed: `node --import tsx src/worker.ts`. It answers /healthz, logs with pino, and on
// SIGTERM it stops taking work, finishes the delivery in hand, closes its connections and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import t from 'tap';
import { build, createSubject, type TestApp } from '../../helper.js';
import { createEndpoint, freePort, sleep, startRawServer, waitForDelivery, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv } from '../../helpers/worker-env.js';

const root = new URL('../../../', import.meta.url).pathname;

const FAST = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '1h', WEBHOOK_TIMEOUT_MS: '5000' });

type Child = {
  proc: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr: () => string;
  stdout: () => string;
};

async function spawnWorker(t: { teardown(fn: () => unknown): void }, ta: TestApp, extraEnv: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  const env = {
    ...process.env,
    ...FAST,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DATABASE_URL: ta.databaseUrl,
    REDIS_URL: ta.config.redis!.url,
    REDIS_PREFIX: ta.config.redis!.prefix,
    WORKER_HEALTH_PORT: String(port),
    LOG_LEVEL: 'silent',
    ...extraEnv,
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (c: Buffer) => {
    if (err.length < 20_000) err += c.toString('utf8');
  });
  proc.stdout!.on('data', (c: Buffer) => {
    if (out.length < 100_000) out += c.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return { proc, port, exited, stderr: () => err, stdout: () => out };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const healthy = (port: number) =>
  waitUntil(
    async () => {
      try {
        const r = await get(port, '/healthz');
        return r.status === 200 ? r : null;
      } catch {
        return null;
      }
    },
    20_000,
    'worker /healthz answers 200',
    100,
  );

/** Resolves with the exit, or with null after ms. */
const exitWithin = (child: Child, ms: number) => Promise.race([child.exited, sleep(ms).then(() => null)]);

t.test('the worker process answers /healthz, and exits 0 on SIGTERM when idle', async (t) => {
  const ta = await build(t, { env: FAST });
  const child = await spawnWorker(t, ta);
  const ok = await healthy(child.port);
  t.equal(ok.status, 200);
  t.same(JSON.parse(ok.body), { status: 'ok' });
  t.equal((await get(child.port, '/nope')).status, 404, 'other paths are 404');

  child.proc.kill('SIGTERM');
  const exit = await exitWithin(child, 10_000);
  t.ok(exit, `exited within 10 s (stderr: ${child.stderr().slice(0, 500)})`);
  t.equal(exit?.code, 0, 'exit code 0');
  await t.rejects(get(child.port, '/healthz'), 'the health port is closed');
});

t.test('SIGTERM while a delivery is in hand: the delivery is finished and recorded, then the process exits 0', async (t) => {
  const ta = await build(t, { env: FAST });
  const events: { kind: 'request' | 'answered' | 'aborted'; at: number }[] = [];
  // Takes each delivery and answers 200 after 1 s (unless the client has gone).
  const receiver = await startRawServer(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      events.push({ kind: 'request', at: Date.now() });
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok', () => events.push({ kind: 'answered', at: Date.now() }));
      }, 1000);
      res.on('close', () => {
        clearTimeout(timer);
        if (!res.writableFinished) events.push({ kind: 'aborted', at: Date.now() });
      });
    });
  });
  const { id } = await createEndpoint(ta, `http://127.0.0.1:${receiver.port}/hooks`, ['subject.created']);
  const child = await spawnWorker(t, ta);
  await healthy(child.port);

  await createSubject(ta, 'shutdown@example.com');
  await waitUntil(() => events.some((e) => e.kind === 'request'), 15_000, 'the delivery reached the receiver');
  const termAt = Date.now();
  child.proc.kill('SIGTERM');
  // Work created after the signal is not taken by a worker that is closing: it waits for the next worker.
  await createSubject(ta, 'after-sigterm@example.com');
  const exit = await exitWithin(child, 8000);
  t.ok(exit, `exited within 8 s of SIGTERM (stderr: ${child.stderr().slice(0, 500)})`);
  t.equal(exit?.code, 0, 'exit code 0');
  t.equal(exit?.signal, null, 'not killed by the signal');
  const answered = events.find((e) => e.kind === 'answered');
  t.ok(answered, 'the receiver answered the delivery');
  t.notOk(events.some((e) => e.kind === 'aborted'), 'the delivery was not cut off');
  t.ok(exit && answered && exit.at >= answered.at, `the process exited after the answer (${exit ? exit.at - termAt : '?'} ms after SIGTERM)`);

  const d = await waitForDelivery(ta, id, (x) => x.status !== 'pending', 2000, 'delivery recorded');
  t.equal(d.status, 'succeeded', 'recorded succeeded');
  t.same(d.attempts.map((a) => a.status_code), [200]);
  t.ok(d.attempts[0]!.duration_ms >= 900, `the attempt waited for the slow answer (${d.attempts[0]!.duration_ms} ms)`);
  const { rows: events2 } = await ta.sql.query(`SELECT status FROM outbox WHERE topic = 'event' AND payload->>'type' = 'subject.created' ORDER BY created_at`);
  t.equal(events2.length, 2, 'both events are in the outbox');
  t.equal(events2[0].status, 'done', 'the event of the delivery in hand is done, recorded with it');
  t.ok(['pending', 'enqueued'].includes(events2[1].status), `the event created after SIGTERM is left for the next worker (${events2[1].status})`);
  const { rows: deliveryRow } = await ta.sql.query(`SELECT status FROM outbox WHERE payload->>'delivery_id' = $1`, [d.id]);
  t.same(deliveryRow, [], 'a first attempt that succeeded needed no outbox row of its own');
  await sleep(300);
  t.equal(receiver.requests, 1, 'nothing was delivered after SIGTERM');
});

t.test('the worker logs JSON lines with pino on stdout, nothing on stderr, from start to close', async (t) => {
  const ta = await build(t, { env: FAST });
  const child = await spawnWorker(t, ta, { LOG_LEVEL: 'info' });
  await healthy(child.port);
  child.proc.kill('SIGTERM');
  const exit = await exitWithin(child, 10_000);
  t.equal(exit?.code, 0, 'exit code 0');
  const lines = child.stdout().trim().split('\n').filter(Boolean);
  const records = lines.map((l) => {
    try {
      return JSON.parse(l) as { level: number; msg: string; process?: string; signal?: string; topics?: string[] };
    } catch {
      return null;
    }
  });
  t.ok(records.length > 0 && records.every((r) => r !== null), `every stdout line is a JSON record (${lines.length})`);
  t.ok(records.every((r) => r?.process === 'worker'), 'each names the worker process');
  const started = records.find((r) => r?.msg === 'worker started');
  t.ok(started, 'it logs its start');
  t.same([...(started?.topics ?? [])].sort(), ['email.dpo', 'event', 'export.expire', 'subject.purge', 'task.reopen', 'task.send', 'webhook.delivery'], 'with the topics its dispatcher handles');
  t.match(records.find((r) => r?.msg === 'worker closing'), { signal: 'SIGTERM' }, 'it logs the signal it closes on');
  t.ok(records.some((r) => r?.msg === 'worker closed'), 'and that it closed');
  t.equal(child.stderr(), '', 'nothing on stderr');
});

t.test('an invalid configuration: a pino record on stdout, exit 1', async (t) => {
  const ta = await build(t, { env: FAST });
  const child = await spawnWorker(t, ta, { WORKER_CONCURRENCY: 'many' });
  const exit = await exitWithin(child, 10_000);
  t.equal(exit?.code, 1, 'exit code 1');
  const record = JSON.parse(child.stdout().trim().split('\n')[0] ?? '{}') as { level?: number; msg?: string };
  t.equal(record.level, 60, 'fatal');
  t.match(record.msg, /WORKER_CONCURRENCY/, 'naming the setting at fault');
  t.equal(child.stderr(), '', 'nothing on stderr');
});
