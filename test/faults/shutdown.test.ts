// INV-1, INV-7: the API process stopping under a steady stream of consent writes over keep-alive HTTP. SIGTERM (the
// real server, src/server.ts, and its close path): every request already accepted completes with 2xx, a 503 is only
// for a request that was never written, no other 5xx, no write whose answer was lost. SIGKILL mid-write: every write
// acknowledged with 2xx is in the ledger, the chains verify, and retrying the unanswered ones with their keys writes
// each exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { build, createPurpose, createSubject, type TestApp } from '../helper.js';
import { retryingShed, settle } from '../helpers/settle.js';
import { collectUncaught } from '../helpers/uncaught.js';
import { freePort } from '../helpers/ports.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONNECTIONS = 8;
const SUBJECTS = 4;

const unexpected = collectUncaught(t);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


type Api = { child: ChildProcess; port: number; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

/** `node --import tsx src/server.ts` on the test's database and Redis prefix, as `npm run dev` starts it. */
async function startApiProcess(t: Test, ta: TestApp): Promise<Api> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATABASE_URL: ta.databaseUrl,
      REDIS_URL: ta.config.redis!.url,
      REDIS_PREFIX: ta.config.redis!.prefix,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the API exited during start-up:\n${out}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error(`the API did not start within 60 s:\n${out}`);
    await sleep(100);
  }
  return { child, port, output: () => out, exited };
}

type Outcome = { key: string; subject: string; sentAt: number; answeredAt: number; status?: number; body?: string; headers?: http.IncomingHttpHeaders; error?: string };

function post(agent: http.Agent, port: number, path: string, headers: Record<string, string>, body: string): Promise<Omit<Outcome, 'key' | 'subject' | 'sentAt' | 'answeredAt'>> {
  return new Promise((resolve) => {
    const req = http.request({ agent, host: '127.0.0.1', port, method: 'POST', path, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text, headers: res.headers }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

const payloadFor = (i: number) =>
  JSON.stringify({ decisions: [{ purpose: 'newsletter', action: i % 2 === 0 ? 'grant' : 'withdraw', source: 'api', ...(i % 2 === 0 ? { evidence: { form_id: 'shutdown-form' } } : {}) }] });

/** CONNECTIONS keep-alive loops of consent writes, each with its own Idempotency-Key, until `stop()` or the server
 * refuses connections. */
function stream(port: number, subjects: string[], authorization: string, label: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loop = async (c: number) => {
    for (let i = 0; !stopped; i++) {
      const subject = subjects[(c + i) % subjects.length]!;
      const key = `${label}-${c}-${i}`;
      const sentAt = Date.now();
      const r = await post(agent, port, `/v1/subjects/${subject}/consents`, { authorization, 'idempotency-key': key }, payloadFor(i));
      outcomes.push({ key, subject, sentAt, answeredAt: Date.now(), ...r });
      if (r.error === 'ECONNREFUSED') break;
    }
  };
  const loops = Array.from({ length: CONNECTIONS }, (_, c) => loop(c));
  return {
    outcomes,
    acked: () => outcomes.filter((o) => o.status === 201).length,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
    },
    done: () => Promise.all(loops),
  };
}

async function setup(t: Test) {
  const ta = await build(t);
  // Set-up steps wait out a load-shedding spell of a busy machine.
  const setupTa = { ...ta, call: retryingShed(ta.call) };
  await createPurpose(setupTa, 'newsletter');
  await settle(ta.call);
  const subjects: string[] = [];
  for (let i = 0; i < SUBJECTS; i++) subjects.push(await createSubject(setupTa, `shutdown-${i}@example.com`));
  return { ta, subjects, authorization: `Bearer ${ta.token()}` };
}

async function eventCount(ta: TestApp): Promise<number> {
  return (await ta.sql.query('SELECT count(*)::int AS n FROM consent_events')).rows[0].n;
}
async function storedKeys(ta: TestApp): Promise<Set<string>> {
  return new Set((await ta.sql.query<{ key: string }>('SELECT key FROM idempotency_keys')).rows.map((r) => r.key));
}
async function chainsVerify(t: Test, ta: TestApp, subjects: string[]) {
  for (const s of subjects) {
    const v = await ta.call({ method: 'GET', url: `/v1/subjects/${s}/consents/verify` });
    t.equal(v.json().valid, true, `subject ${s}: the chain verifies over ${v.json().events_checked} events`);
  }
}

t.test('SIGTERM under load: accepted requests complete, nothing half-written, no answer lost', async (t) => {
  const { ta, subjects, authorization } = await setup(t);
  const api = await startApiProcess(t, ta);
  const s = stream(api.port, subjects, authorization, 'term');
  for (let i = 0; i < 200 && s.acked() < 40; i++) await sleep(50);
  t.ok(s.acked() >= 40, `${s.acked()} writes acknowledged before SIGTERM`);
  const termAt = Date.now();
  api.child.kill('SIGTERM');
  const exit = await api.exited;
  const exitMs = Date.now() - termAt;
  await s.done();
  t.same(exit, { code: 0, signal: null }, `the process exits cleanly, ${exitMs} ms after SIGTERM`);
  t.ok(exitMs < 30_000, 'within the 30 s grace period');

  const o = s.outcomes;
  const byKind: Record<string, number> = {};
  for (const x of o) byKind[x.status ?? x.error!] = (byKind[x.status ?? x.error!] ?? 0) + 1;
  t.comment(`outcomes: ${JSON.stringify(byKind)}`);
  t.same(o.filter((x) => x.status !== undefined && x.status >= 500 && x.status !== 503).map((x) => `${x.key}: ${x.status} ${x.body}`), [], 'no 5xx other than 503');
  t.same(o.filter((x) => x.status !== undefined && x.status !== 201 && x.status !== 503).map((x) => `${x.key}: ${x.status} ${x.body}`), [], 'every answer is a 201 or a 503');

  // In flight when SIGTERM came (sent before, answered after): completed with 2xx, or refused with a 503 unwritten.
  const inFlight = o.filter((x) => x.sentAt < termAt && x.answeredAt >= termAt);
  const keys = await storedKeys(ta);
  t.same(inFlight.filter((x) => x.status !== 201 && keys.has(x.key)).map((x) => `${x.key}: ${x.status ?? x.error}`), [], `of ${inFlight.length} requests in flight at SIGTERM, none was written without its 2xx`);
  t.ok(inFlight.filter((x) => x.status === 201).length > 0, `${inFlight.filter((x) => x.status === 201).length} in-flight requests completed with 201 after SIGTERM`);
  // Any request the server answered 503 or dropped was not written; every 201 was.
  t.same(o.filter((x) => x.status !== 201 && keys.has(x.key)).map((x) => `${x.key}: ${x.status ?? x.error}`), [], 'no unanswered or refused request was written');
  t.same(o.filter((x) => x.status === 201 && !keys.has(x.key)).map((x) => x.key), [], 'every 201 is stored');
  const ackedIds = o.filter((x) => x.status === 201).flatMap((x) => (JSON.parse(x.body!).events as { id: string }[]).map((e) => e.id));
  const present = new Set((await ta.sql.query<{ id: string }>('SELECT id FROM consent_events')).rows.map((r) => r.id));
  t.same(ackedIds.filter((id) => !present.has(id)), [], `all ${ackedIds.length} acknowledged events are present`);
  t.equal(await eventCount(ta), ackedIds.length, 'and nothing more (no half-written or unanswered write)');
  for (const x of o.filter((y) => y.status === 503)) {
    t.match(String(x.headers?.['content-type']), /^application\/problem\+json/, `${x.key}: the 503 is a problem`);
    t.ok(Number(x.headers?.['retry-after']) > 0, `${x.key}: the 503 has Retry-After`);
  }
  await chainsVerify(t, ta, subjects);
  t.same(unexpected, [], 'no uncaught exception or unhandled rejection in the test process');
});

t.test('SIGKILL mid-write: every acknowledged write is in the ledger, the chains verify, retries write once', async (t) => {
  const { ta, subjects, authorization } = await setup(t);
  const api = await startApiProcess(t, ta);
  const s = stream(api.port, subjects, authorization, 'kill');
  for (let i = 0; i < 200 && s.acked() < 40; i++) await sleep(50);
  t.ok(s.acked() >= 40, `${s.acked()} writes acknowledged before SIGKILL`);
  api.child.kill('SIGKILL');
  const exit = await api.exited;
  await s.done();
  t.equal(exit.signal, 'SIGKILL', 'the API was killed');
  const o = s.outcomes;
  const unanswered = o.filter((x) => x.status === undefined);
  t.ok(unanswered.length > 0, `${unanswered.length} requests lost their answer to the kill`);
  t.same(o.filter((x) => x.status !== undefined && x.status !== 201).map((x) => `${x.key}: ${x.status} ${x.body}`), [], 'every answer that came was a 201');

  const ackedIds = o.filter((x) => x.status === 201).flatMap((x) => (JSON.parse(x.body!).events as { id: string }[]).map((e) => e.id));
  const present = new Set((await ta.sql.query<{ id: string }>('SELECT id FROM consent_events')).rows.map((r) => r.id));
  t.same(ackedIds.filter((id) => !present.has(id)), [], `all ${ackedIds.length} acknowledged events are present after the kill`);
  await chainsVerify(t, ta, subjects);

  // A client retries what got no answer, with the same key: each is written once (or replayed if it had committed).
  let replayed = 0;
  for (const x of unanswered) {
    const i = Number(x.key.split('-').pop());
    const res = await ta.call({ method: 'POST', url: `/v1/subjects/${x.subject}/consents`, headers: { 'idempotency-key': x.key }, payload: JSON.parse(payloadFor(i)) });
    t.equal(res.statusCode, 201, `retry of ${x.key}`);
    if (res.headers['idempotent-replayed'] === 'true') replayed++;
  }
  t.equal(await eventCount(ta), o.length, `one event per key (${o.length}; ${replayed} of the unanswered had committed before the kill)`);
  await chainsVerify(t, ta, subjects);
  t.same(unexpected, [], 'no uncaught exception or unhandled rejection in the test process');
});
