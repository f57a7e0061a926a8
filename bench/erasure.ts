// `npm run bench:erasure`: approved erasures fanned out to connected systems that answer through their callback
// links, from the approval to the completed request, against the same run's plain event delivery to the same
// receivers as the baseline (as many webhook deliveries, no tasks), run A B B A.
//
// One run: builds its own database (drop, create, migrate), uses REDIS_URL under its own key prefix (deleted at the
// end), seeds a tenant and a consent purpose, starts the API and two workers (bench/erasure-worker.ts: the worker
// of src/worker.ts reporting its memory) as child processes and five receivers (node:http, one per connected system,
// each behind its own webhook endpoint, subscribed to consent.granted for the baseline). Each receiver answers 204
// at once and, for erasure.requested, POSTs {"status":"completed"} to the callback link (a small pool of callers,
// retrying a 5xx or a refused connection). Through the API it creates the subjects and the erasure requests
// (awaiting approval), waits for the outbox to drain, runs ANALYZE and a small warm-up of both kinds (not measured),
// then measures, with the same requests in flight each time:
//   A: approve half of the requests (each fans out one task per system; done when every request has completed);
//   B: grant a consent to as many subjects (each event delivered to the five endpoints: as many deliveries).
// Prints the figures, the ratios and the machine's conditions (with a warning when other work shared the machine),
// writes bench/results/erasure-latest.json, and cleans up (children stopped, Redis keys deleted, database dropped)
// whatever happens.
//
// Knobs (env): BENCH_ERASURE_REQUESTS (1000, split over the two A runs), BENCH_ERASURE_SYSTEMS (5),
// BENCH_ERASURE_CONCURRENCY (16 approvals or grants in flight), BENCH_ERASURE_CALLBACK_CONCURRENCY (32 callbacks in
// flight, all systems together), BENCH_ERASURE_WORKERS (2), BENCH_ERASURE_DB (rightful_bench_erasure),
// BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), REDIS_URL (redis://127.0.0.1:6379),
// BENCH_ERASURE_TIMEOUT_S (300: per run), BENCH_ERASURE_WARMUP (50 requests and 50 grants), BENCH_WAIT_QUIET (30:
// seconds to wait for the load average to drop to the core count before starting), WORKER_CONCURRENCY (32, per
// worker process), DATABASE_POOL_MAX (10, per process).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createDb, createPool } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { createKeyring } from '../src/lib/keyring.js';
import { signToken } from '../src/lib/tokens.js';
import { CreatePurposeBody } from '../src/modules/purposes/purposes.schemas.js';
import { SCOPES } from '../src/plugins/auth.js';
import { createServices } from '../src/services.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, percentile, postgresVersion, procTicks, RESULTS, runMain, sleep, ticksBetween, ticksOf } from './processes.js';

const opts = {
  requests: num(env.BENCH_ERASURE_REQUESTS, 1000),
  systems: num(env.BENCH_ERASURE_SYSTEMS, 5),
  concurrency: num(env.BENCH_ERASURE_CONCURRENCY, 16),
  callbackConcurrency: num(env.BENCH_ERASURE_CALLBACK_CONCURRENCY, 32),
  workers: num(env.BENCH_ERASURE_WORKERS, 2),
  db: env.BENCH_ERASURE_DB ?? 'rightful_bench_erasure',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  timeoutS: num(env.BENCH_ERASURE_TIMEOUT_S, 300),
  waitQuiet: num(env.BENCH_WAIT_QUIET, 30),
  warmup: num(env.BENCH_ERASURE_WARMUP, 50),
  workerConcurrency: num(env.WORKER_CONCURRENCY, 32),
  poolMax: num(env.DATABASE_POOL_MAX, 10),
};
const PREFIX_ROOT = 'rightful-bench-erasure-';
const PREFIX = `${PREFIX_ROOT}${process.pid}`;
const MB = 2 ** 20;

const now = () => performance.timeOrigin + performance.now(); // wall-clock ms, sub-ms resolution, one clock for all

// ---------------------------------------------------------------- processes, cleanup

const run = createRun({ pidFile: join(RESULTS, '.erasure-pids'), logPrefix: 'erasure-', adminUrl: opts.adminUrl, db: opts.db });
const { children, spawnChild, stopChild, waitFor } = run;
const receivers: http.Server[] = [];
let redisCleaned = false;
run.atCleanup(() => {
  for (const r of receivers) {
    r.closeAllConnections();
    r.close();
  }
  // On a signal, best effort: the next run deletes what is left of a run whose process is gone.
  if (!redisCleaned) void deleteKeys(PREFIX).catch(() => {});
});

/** Deletes every key under `prefix:`; returns how many. */
async function deleteKeys(prefix: string): Promise<number> {
  const c = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  c.on('error', () => {});
  try {
    await c.connect();
    let n = 0;
    for (let cursor = '0'; ; ) {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) n += await c.unlink(...keys);
      cursor = next;
      if (cursor === '0') return n;
    }
  } finally {
    c.disconnect();
  }
}

/** Keys left by earlier runs of this bench whose process is gone (killed hard): their pid is in the prefix. */
async function deleteLeftoverKeys(): Promise<void> {
  const c = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  const prefixes = new Set<string>();
  try {
    for (let cursor = '0'; ; ) {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${PREFIX_ROOT}*`, 'COUNT', 1000);
      for (const k of keys) prefixes.add(k.slice(0, k.indexOf(':')));
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    c.disconnect();
  }
  for (const p of prefixes) {
    const pid = Number(p.slice(PREFIX_ROOT.length));
    if (pid === process.pid || (Number.isInteger(pid) && existsSync(`/proc/${pid}`))) continue;
    log(`deleted ${await deleteKeys(p)} Redis keys left by an earlier run (${p})`);
  }
}

// ---------------------------------------------------------------- measuring helpers

const r1 = (v: number) => Math.round(v * 10) / 10;
const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: r1(percentile(s, 50)), p90: r1(percentile(s, 90)), p99: r1(percentile(s, 99)), max: r1(s[s.length - 1] ?? NaN) };
};

type CpuSnap = { at: number; machine: { total: number; idle: number }; procs: Record<string, number | null>; postgres: Map<number, number>; redis: Map<number, number>; self: NodeJS.CpuUsage };
function cpuSnap(): CpuSnap {
  const procs: Record<string, number | null> = {};
  for (const [name, c] of children) if (c.pid) procs[name] = procTicks(c.pid);
  return { at: Date.now(), machine: machineTicks(), procs, postgres: ticksOf('postgres'), redis: ticksOf('redis-server'), self: process.cpuUsage() };
}
/**
 * CPU% over the interval (100 = one core) per process, the machine's busy share (100 = every core), and what other
 * work took: the machine's busy time less this run's processes, Postgres and Redis (in one-core %; a few % is the
 * kernel and the rest of the box at rest).
 */
function cpuBetween(a: CpuSnap, b: CpuSnap) {
  const wallTicks = ((b.at - a.at) / 1000) * 100;
  const out: Record<string, number> = {};
  for (const name of Object.keys(b.procs)) {
    const x = a.procs[name];
    const y = b.procs[name];
    if (x != null && y != null) out[name] = Math.round(((y - x) / wallTicks) * 100);
  }
  out['bench (load + receivers)'] = Math.round(((b.self.user - a.self.user + b.self.system - a.self.system) / 1000 / (b.at - a.at)) * 100);
  out['postgres (all sessions)'] = Math.round((ticksBetween(a.postgres, b.postgres) / wallTicks) * 100);
  out['redis-server (all)'] = Math.round((ticksBetween(a.redis, b.redis) / wallTicks) * 100);
  const dt = b.machine.total - a.machine.total;
  const busy = dt > 0 ? 1 - (b.machine.idle - a.machine.idle) / dt : NaN;
  const ours = Object.values(out).reduce((s, v) => s + v, 0);
  return { machine_busy_pct: Math.round(busy * 100), other_work_pct: Math.max(0, Math.round(busy * os.availableParallelism() * 100 - ours)), process_cpu_pct: out };
}

type Mem = { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
/** A worker's memory reports: the latest, the peak since `mark()`, and one after a full GC on demand. */
function memoryWatch(child: ChildProcess) {
  let latest: Mem | null = null;
  let peak = { rss: 0, heapUsed: 0 };
  let gcWaiter: ((m: Mem) => void) | null = null;
  child.on('message', (m: { mem?: Mem; gc?: boolean }) => {
    if (!m.mem) return;
    latest = m.mem;
    peak = { rss: Math.max(peak.rss, m.mem.rss), heapUsed: Math.max(peak.heapUsed, m.mem.heapUsed) };
    if (m.gc && gcWaiter) gcWaiter(m.mem);
  });
  return {
    latest: () => latest,
    /** Starts a new peak; returns the current reading. */
    mark(): Mem | null {
      peak = { rss: latest?.rss ?? 0, heapUsed: latest?.heapUsed ?? 0 };
      return latest;
    },
    peak: () => ({ ...peak }),
    afterGc: () =>
      new Promise<Mem | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 5000);
        gcWaiter = (m) => {
          clearTimeout(timer);
          gcWaiter = null;
          resolve(m);
        };
        child.send('gc');
      }),
    /** The process's lifetime peak RSS, from the kernel (VmHWM). */
    hwm(): number | null {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb ? Number(kb) * 1024 : null;
      } catch {
        return null;
      }
    },
  };
}
const mb = (b: number | null | undefined) => (b == null ? null : Math.round((b / MB) * 10) / 10);

/** Runs `task` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, task: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await task(items[i]!, i);
      }
    }),
  );
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  run.killLeftovers(/src\/server\.ts|bench\/erasure-worker\.ts/);
  // A shared box: give a burst of other work up to BENCH_WAIT_QUIET seconds to pass, then measure anyway and say so.
  // Waited for before this run starts anything: its own seeding lifts the load average for a minute or more.
  const nproc = os.availableParallelism();
  for (let waited = 0; os.loadavg()[0]! > nproc && waited < opts.waitQuiet; waited += 2) {
    if (waited === 0) log(`load average ${os.loadavg()[0]!.toFixed(2)} > ${nproc} cores: waiting up to ${opts.waitQuiet}s for it to settle`);
    await sleep(2000);
  }
  const machine = conditions();
  log(`machine: ${JSON.stringify(machine)}`);
  await deleteLeftoverKeys();
  const pgVersion = await postgresVersion(opts.adminUrl);
  const redisVersion = await (async () => {
    const c = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      return /redis_version:(\S+)/.exec(await c.info('server'))?.[1] ?? '?';
    } finally {
      c.disconnect();
    }
  })();

  // 1. Database, tenant, purpose.
  log(`database ${opts.db}: drop, create, migrate`);
  await dropDatabase(opts.adminUrl, opts.db);
  const url = dbUrl(opts.adminUrl, opts.db);
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn' });
  const dbPool = createPool(config.database, console, { owner: true });
  const services = createServices({ db: createDb(dbPool), keyring: createKeyring(config), allowPrivateWebhooks: true });
  const tenant = await services.tenants.create({ name: 'Erasure bench controller' });
  const purposeKey = 'newsletter';
  await services.purposes.create(
    tenant.id,
    CreatePurposeBody.parse({
      key: purposeKey,
      legal_basis: 'consent',
      retention: '2 years after the last contact',
      translations: { en: { title: 'Newsletter', description: 'News about our products' } },
    }),
  );
  const sql = new pg.Pool({ connectionString: url, max: 2 });
  sql.on('error', () => {});
  run.atCleanup(() => void sql.end().catch(() => {}));
  const one = async (text: string, values: unknown[] = []) => Number((await sql.query<{ n: number }>(text, values)).rows[0]!.n);

  // 2. API and workers, as child processes, under this run's Redis prefix.
  const common = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(opts.poolMax),
    REDIS_URL: opts.redisUrl,
    REDIS_PREFIX: PREFIX,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    HOST: '127.0.0.1',
    ...secrets,
  };
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = spawnChild('api', process.execPath, ['--import', 'tsx', 'src/server.ts'], { ...common, PORT: String(apiPort), PUBLIC_BASE_URL: apiUrl, RATE_LIMIT_MAX: '1000000000' });
  await waitFor('api', api, httpOk(`${apiUrl}/healthz`));
  log(`  api on ${apiUrl} (pid ${api.pid})`);
  const memory = new Map<string, ReturnType<typeof memoryWatch>>();
  for (let w = 1; w <= opts.workers; w++) {
    const child = spawnChild(`worker-${w}`, process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/erasure-worker.ts'], { ...common, PUBLIC_BASE_URL: apiUrl }, true);
    let ready = false;
    child.on('message', (m: { ready?: boolean }) => void (m.ready && (ready = true)));
    memory.set(`worker-${w}`, memoryWatch(child));
    await waitFor(`worker-${w}`, child, async () => ready);
    log(`  worker-${w} up (pid ${child.pid}, concurrency ${opts.workerConcurrency})`);
  }

  const token = signToken(config.jwt.secret, { sub: 'bench', tid: tenant.id, scope: SCOPES.join(' '), ttlSeconds: 7200, iss: config.jwt.issuer, aud: config.jwt.audience });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body: unknown, status: number[]): Promise<{ id: string; events?: { id: string }[] }> => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (!status.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };

  // 3. Receivers, one per system: 204 at once; an erasure.requested is answered through its callback link.
  type TaskSeen = { at: number; requestId: string; system: number; webhookId: string };
  const tasksSeen = new Map<string, TaskSeen>();
  let taskRepeats = 0; // the same task again under the same webhook-id (a redelivery the system can deduplicate)
  let taskRepeatsNewId = 0; // the same task under another webhook-id
  const grantsSeen = new Map<string, number[]>(); // ledger event id → receipt times, one per system
  let strays = 0;
  const callbackStatus = new Map<string, number>();
  const callbackMs: number[] = [];
  let callbackRetries = 0;
  const callbackQueue: string[] = [];
  let callbacksInFlight = 0;
  let callbackErrors = 0;
  const countStatus = (s: string) => callbackStatus.set(s, (callbackStatus.get(s) ?? 0) + 1);
  async function callBack(path: string): Promise<void> {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const sent = now();
      try {
        const res = await fetch(`${apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"completed"}' });
        await res.arrayBuffer();
        countStatus(String(res.status));
        if (res.status < 500) {
          callbackMs.push(now() - sent);
          return;
        }
      } catch {
        countStatus('network error');
      }
      callbackRetries++;
      await sleep(Math.min(50 * attempt, 1000));
    }
    callbackErrors++;
  }
  function pumpCallbacks(): void {
    while (callbacksInFlight < opts.callbackConcurrency && callbackQueue.length) {
      const path = callbackQueue.shift()!;
      callbacksInFlight++;
      void callBack(path).finally(() => {
        callbacksInFlight--;
        pumpCallbacks();
      });
    }
  }
  for (let s = 0; s < opts.systems; s++) {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = now();
        res.writeHead(204).end();
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: Record<string, string> };
          const webhookId = String(req.headers['webhook-id'] ?? '');
          if (body.type === 'erasure.requested') {
            const seen = tasksSeen.get(body.data.task_id!);
            if (seen) {
              if (seen.webhookId === webhookId) taskRepeats++;
              else taskRepeatsNewId++;
            } else tasksSeen.set(body.data.task_id!, { at, requestId: body.data.request_id!, system: s, webhookId });
            // Answered again when received again, as a system that does not deduplicate would: a 409 then.
            callbackQueue.push(new URL(body.data.callback_url!).pathname);
            pumpCallbacks();
          } else if (body.type === 'consent.granted') {
            const id = body.data.ledger_event_id!;
            (grantsSeen.get(id) ?? grantsSeen.set(id, []).get(id)!).push(at);
          } else strays++;
        } catch {
          strays++;
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receivers.push(server);
  }
  const systemIds: string[] = [];
  for (let s = 0; s < opts.systems; s++) {
    const port = (receivers[s]!.address() as { port: number }).port;
    const endpoint = await call('POST', '/v1/webhook-endpoints', { url: `http://127.0.0.1:${port}/hook`, event_types: ['consent.granted'], description: `system ${s + 1}` }, [201]);
    systemIds.push((await call('POST', '/v1/systems', { name: `System ${s + 1}`, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: endpoint.id }, [201])).id);
  }
  log(`  ${opts.systems} systems, each behind its own endpoint and receiver (erasure.requested → callback; consent.granted)`);

  // 4. Seed through the API: subjects with an email each; an erasure request (awaiting approval) for half of them;
  // the other half for the baseline's grants. Then the outbox drains (request.created and its kin).
  const seedStarted = Date.now();
  const n = opts.requests;
  const w = opts.warmup;
  const subjects: string[] = new Array(2 * (n + w));
  await pool([...Array(2 * (n + w)).keys()], opts.concurrency, async (i) => {
    subjects[i] = (await call('POST', '/v1/subjects', { external_ref: `crm-${i}`, identifiers: [{ type: 'email', value: `person.${i}@example.com` }] }, [201])).id;
  });
  const erasureSubjects = subjects.slice(0, n + w);
  const grantSubjects = subjects.slice(n + w);
  const requestIds: string[] = new Array(n + w);
  await pool(erasureSubjects, opts.concurrency, async (id, i) => {
    requestIds[i] = (await call('POST', '/v1/rights-requests', { subject: { id }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' }, [201])).id;
  });
  const due = `SELECT count(*)::int AS n FROM outbox WHERE status IN ('pending', 'enqueued') AND available_at <= now()`;
  async function drained(label: string): Promise<void> {
    const deadline = Date.now() + opts.timeoutS * 1000;
    while ((await one(due)) > 0) {
      if (Date.now() > deadline) throw new Error(`${label}: the outbox did not drain in ${opts.timeoutS} s`);
      await sleep(100);
    }
  }
  await drained('seed');
  log(`  seeded ${2 * (n + w)} subjects and ${n + w} erasure requests through the API in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

  await sql.query('ANALYZE');

  // 5. The runs.
  const half = Math.ceil(n / 2);
  const erasureBatches = [requestIds.slice(w, w + half), requestIds.slice(w + half)];
  const grantBatches = [grantSubjects.slice(w, w + half), grantSubjects.slice(w + half)];
  const peaks = { erasure: new Map<string, { rss: number; heapUsed: number }>(), baseline: new Map<string, { rss: number; heapUsed: number }>() };
  const notePeaks = (kind: 'erasure' | 'baseline') => {
    for (const [k, m] of memory) {
      const p = m.peak();
      const was = peaks[kind].get(k) ?? { rss: 0, heapUsed: 0 };
      peaks[kind].set(k, { rss: Math.max(was.rss, p.rss), heapUsed: Math.max(was.heapUsed, p.heapUsed) });
    }
  };

  const raw = { completion: [] as number[], toAll: [] as number[] };
  async function erasureRun(label: string, ids: string[]) {
    log(`${label}: approving ${ids.length} erasure requests (${ids.length * opts.systems} tasks), ${opts.concurrency} in flight`);
    for (const m of memory.values()) m.mark();
    const load1 = os.loadavg()[0]!;
    const cpuA = cpuSnap();
    const approvedAt = new Map<string, number>();
    const approveMs: number[] = [];
    const t0 = now();
    await pool(ids, opts.concurrency, async (id) => {
      const sent = now();
      await call('POST', `/v1/rights-requests/${id}/approve`, { identity: 'verified' }, [200]);
      approvedAt.set(id, now());
      approveMs.push(now() - sent);
    });
    const approvedIn = (now() - t0) / 1000;
    const deadline = Date.now() + opts.timeoutS * 1000;
    let lastLog = Date.now();
    const closedCount = `SELECT count(*)::int AS n FROM rights_requests WHERE id = ANY($1::uuid[]) AND status = 'completed'`;
    for (let done = 0; (done = await one(closedCount, [ids])) < ids.length; ) {
      if (Date.now() > deadline) throw new Error(`${label}: ${done}/${ids.length} requests completed after ${opts.timeoutS} s`);
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  completed ${done}/${ids.length}; tasks received ${tasksSeen.size}; callbacks ${JSON.stringify(Object.fromEntries(callbackStatus))}`);
      }
      await sleep(100);
    }
    const cpu = cpuBetween(cpuA, cpuSnap());
    notePeaks('erasure');
    const closed = (await sql.query<{ id: string; closed: number }>(`SELECT id, extract(epoch FROM closed_at) * 1000 AS closed FROM rights_requests WHERE id = ANY($1::uuid[])`, [ids])).rows;
    const answered = (await sql.query<{ answered: number }>(`SELECT extract(epoch FROM answered_at) * 1000 AS answered FROM system_tasks WHERE request_id = ANY($1::uuid[])`, [ids])).rows;
    const lastClosed = Math.max(...closed.map((r) => Number(r.closed)));
    for (const r of closed) raw.completion.push(Number(r.closed) - approvedAt.get(r.id)!);
    const seconds = (lastClosed - t0) / 1000;
    const tasks = answered.length;
    const idSet = new Set(ids);
    const toReceipt: number[] = [];
    for (const s of tasksSeen.values()) if (idSet.has(s.requestId)) toReceipt.push(s.at - approvedAt.get(s.requestId)!);
    const out = {
      label,
      requests: ids.length,
      tasks,
      seconds,
      tasks_per_s: tasks / seconds,
      requests_per_s: ids.length / seconds,
      approvals: { seconds: approvedIn, per_s: ids.length / approvedIn, latency_ms: summary(approveMs) },
      approval_to_completion_ms: summary(closed.map((r) => Number(r.closed) - approvedAt.get(r.id)!)),
      approval_to_task_received_ms: summary(toReceipt),
      tasks_answered_after_last_approval_s: (Math.max(...answered.map((r) => Number(r.answered))) - (t0 + approvedIn * 1000)) / 1000,
      load1_at_start: load1,
      cpu,
    };
    log(
      `  ${tasks} tasks in ${seconds.toFixed(2)} s = ${out.tasks_per_s.toFixed(0)} tasks/s; approval → completed p50 ${out.approval_to_completion_ms.p50} ms, p99 ${out.approval_to_completion_ms.p99} ms; ` +
        `other work ${cpu.other_work_pct}%`,
    );
    return out;
  }

  async function baselineRun(label: string, ids: string[]) {
    const deliveries = ids.length * opts.systems;
    log(`${label}: ${ids.length} consent grants, each delivered to ${opts.systems} endpoints (${deliveries} deliveries), ${opts.concurrency} in flight`);
    for (const m of memory.values()) m.mark();
    const load1 = os.loadavg()[0]!;
    const cpuA = cpuSnap();
    const committed = new Map<string, number>();
    const body = { decisions: [{ purpose: purposeKey, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] };
    const t0 = now();
    await pool(ids, opts.concurrency, async (id) => {
      const res = await call('POST', `/v1/subjects/${id}/consents`, body, [201]);
      committed.set(res.events![0]!.id, now());
    });
    const deadline = Date.now() + opts.timeoutS * 1000;
    const complete = () => [...committed.keys()].every((id) => (grantsSeen.get(id)?.length ?? 0) >= opts.systems);
    while (!complete()) {
      if (Date.now() > deadline) throw new Error(`${label}: deliveries incomplete after ${opts.timeoutS} s`);
      await sleep(5);
    }
    const cpu = cpuBetween(cpuA, cpuSnap());
    notePeaks('baseline');
    const toAll: number[] = [];
    const toEach: number[] = [];
    let last = 0;
    for (const [id, c] of committed) {
      const times = grantsSeen.get(id)!;
      toAll.push(Math.max(...times) - c);
      raw.toAll.push(Math.max(...times) - c);
      for (const x of times) toEach.push(x - c);
      last = Math.max(last, ...times);
    }
    const seconds = (last - t0) / 1000;
    const out = {
      label,
      events: ids.length,
      deliveries,
      seconds,
      deliveries_per_s: deliveries / seconds,
      events_per_s: ids.length / seconds,
      commit_to_all_received_ms: summary(toAll),
      commit_to_receipt_ms: summary(toEach),
      load1_at_start: load1,
      cpu,
    };
    log(`  ${deliveries} deliveries in ${seconds.toFixed(2)} s = ${out.deliveries_per_s.toFixed(0)} deliveries/s; commit → all received p50 ${out.commit_to_all_received_ms.p50} ms; other work ${cpu.other_work_pct}%`);
    return out;
  }

  const between = async (label: string) => {
    await drained(label);
    while (callbacksInFlight || callbackQueue.length) await sleep(20);
    await sleep(1000);
  };
  // Warm-up, not measured: the first approvals, tasks and callbacks of the processes (JIT, caches, pools).
  if (w > 0) {
    await erasureRun('warm-up erasure', requestIds.slice(0, w));
    await between('after the warm-up erasure');
    await baselineRun('warm-up baseline', grantSubjects.slice(0, w));
    await between('after the warm-up baseline');
    raw.completion.length = 0;
    raw.toAll.length = 0;
    peaks.erasure.clear();
    peaks.baseline.clear();
  }
  const loadAtStart = os.loadavg()[0]!;
  const memBefore = Object.fromEntries([...memory].map(([k, m]) => [k, m.latest()]));
  const a1 = await erasureRun('A1 erasure', erasureBatches[0]!);
  await between('after A1');
  const b1 = await baselineRun('B1 baseline', grantBatches[0]!);
  await between('after B1');
  const b2 = await baselineRun('B2 baseline', grantBatches[1]!);
  await between('after B2');
  const a2 = await erasureRun('A2 erasure', erasureBatches[1]!);
  await between('after A2');
  const loadAfter = os.loadavg().map((l) => Math.round(l * 100) / 100);

  // Memory after: as it is, then after a full GC; and the kernel's lifetime peak RSS.
  const memAfter: Record<string, unknown> = {};
  for (const [k, m] of memory) {
    const asIs = m.latest();
    const gc = await m.afterGc();
    memAfter[k] = { as_is: asIs, after_gc: gc, lifetime_peak_rss: m.hwm() };
  }

  // Facts the figures rest on.
  const erasedSubjects = await one(`SELECT count(*)::int AS n FROM subjects WHERE id = ANY($1::uuid[]) AND status = 'erased'`, [erasureSubjects.slice(w)]);
  const openTasks = await one(`SELECT count(*)::int AS n FROM system_tasks WHERE status <> 'completed'`);
  const deadRows = (await sql.query<{ topic: string; last_error: string; n: number }>(`SELECT topic, last_error, count(*)::int AS n FROM outbox WHERE status = 'dead' GROUP BY 1, 2`)).rows;
  const sentTwice = await one(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM outbox WHERE payload->>'type' = 'erasure.requested' GROUP BY payload->'data'->>'task_id' HAVING count(*) > 1) x`,
  );
  const outboxRows = (await sql.query<{ topic: string; n: number }>(`SELECT topic, count(*)::int AS n FROM outbox GROUP BY 1 ORDER BY 2 DESC`)).rows;
  await sql.end();
  await dbPool.end();

  // 6. Down, and this run's Redis keys deleted.
  for (const name of [...children.keys()]) await stopChild(name, children.get(name)!);
  const keysDeleted = await deleteKeys(PREFIX);
  redisCleaned = true;
  log(`  deleted ${keysDeleted} Redis keys under ${PREFIX}:`);

  // 7. Figures.
  const A = [a1, a2];
  const B = [b1, b2];
  const tasksTotal = A.reduce((s, x) => s + x.tasks, 0);
  const erasureSeconds = A.reduce((s, x) => s + x.seconds, 0);
  const deliveriesTotal = B.reduce((s, x) => s + x.deliveries, 0);
  const baselineSeconds = B.reduce((s, x) => s + x.seconds, 0);
  const tasksPerS = tasksTotal / erasureSeconds;
  const deliveriesPerS = deliveriesTotal / baselineSeconds;
  // Per request over both A runs, and per event over both B runs (commit → the last endpoint has it).
  const completionAll = summary(raw.completion);
  const toAllAll = summary(raw.toAll);
  const ratios = { throughput: tasksPerS / deliveriesPerS, p50_latency: completionAll.p50 / toAllAll.p50, p99_latency: completionAll.p99 / toAllAll.p99 };
  const otherMax = Math.max(...[...A, ...B].map((x) => x.cpu.other_work_pct));
  const loadBefore = machine.load_average_before[0]!;
  const busy = loadBefore > nproc || otherMax > 25;

  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const memLine = (k: string) => {
    const before = memBefore[k] as Mem | null;
    const pe = peaks.erasure.get(k);
    const pb = peaks.baseline.get(k);
    const after = memAfter[k] as { as_is: Mem | null; after_gc: Mem | null; lifetime_peak_rss: number | null };
    return (
      `  ${k}: RSS ${mb(before?.rss)} → peak ${mb(pe?.rss)} (baseline runs ${mb(pb?.rss)}) → after ${mb(after.as_is?.rss)} (after GC ${mb(after.after_gc?.rss)}) MB; ` +
      `heap used ${mb(before?.heapUsed)} → peak ${mb(pe?.heapUsed)} (baseline runs ${mb(pb?.heapUsed)}) → after ${mb(after.as_is?.heapUsed)} (after GC ${mb(after.after_gc?.heapUsed)}) MB; ` +
      `kernel peak RSS (whole life, seed included) ${mb(after.lifetime_peak_rss)} MB`
    );
  };
  const cpuText = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `${k} ${v}%`).join(', ');
  const runLine = (x: (typeof A)[number]) =>
    `  ${x.label}: ${x.requests} requests, ${x.tasks} tasks, first approval → last completion ${f(x.seconds, 2)} s = ${f(x.tasks_per_s)} tasks/s (${f(x.requests_per_s)} requests/s); ` +
    `approval → completed ms p50 ${f(x.approval_to_completion_ms.p50)}, p90 ${f(x.approval_to_completion_ms.p90)}, p99 ${f(x.approval_to_completion_ms.p99)}, max ${f(x.approval_to_completion_ms.max)}; ` +
    `approval → task at the system p50 ${f(x.approval_to_task_received_ms.p50)}, p99 ${f(x.approval_to_task_received_ms.p99)}; approvals ${f(x.approvals.per_s)}/s (p50 ${f(x.approvals.latency_ms.p50)} ms); ` +
    `machine ${x.cpu.machine_busy_pct}% busy, other work ${x.cpu.other_work_pct}%\n    cpu: ${cpuText(x.cpu.process_cpu_pct)}`;
  const baseLine = (x: (typeof B)[number]) =>
    `  ${x.label}: ${x.events} events × ${opts.systems} endpoints = ${x.deliveries} deliveries, first grant → last receipt ${f(x.seconds, 2)} s = ${f(x.deliveries_per_s)} deliveries/s; ` +
    `commit → all ${opts.systems} received ms p50 ${f(x.commit_to_all_received_ms.p50)}, p99 ${f(x.commit_to_all_received_ms.p99)}; machine ${x.cpu.machine_busy_pct}% busy, other work ${x.cpu.other_work_pct}%\n    cpu: ${cpuText(x.cpu.process_cpu_pct)}`;
  const lines = [
    '',
    `Rightful erasure bench — ${machine.date}`,
    `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}`,
    `load average before: ${machine.load_average_before.join(' ')}; when measuring started (after this run's seed and warm-up): ${f(loadAtStart, 2)}; after: ${loadAfter.join(' ')}`,
    `postgres ${pgVersion}; redis ${redisVersion} (${opts.redisUrl}, prefix ${PREFIX}); bullmq 6.7.0`,
    `${opts.workers} worker processes × WORKER_CONCURRENCY ${opts.workerConcurrency}; ${opts.concurrency} approvals or grants in flight; callbacks ${opts.callbackConcurrency} in flight; ${opts.systems} systems; runs A B B A`,
    '',
    'erasure (A): approve → one task per system → erasure.requested to its endpoint → the system POSTs completed to its callback link → request completed, subject erased',
    runLine(a1),
    runLine(a2),
    `  both: ${n} requests, ${tasksTotal} tasks in ${f(erasureSeconds, 2)} s = ${f(tasksPerS)} tasks/s; approval → completed ms p50 ${f(completionAll.p50)}, p90 ${f(completionAll.p90)}, p99 ${f(completionAll.p99)}, max ${f(completionAll.max)}`,
    `  callbacks (warm-up included): ${JSON.stringify(Object.fromEntries(callbackStatus))} (retries ${callbackRetries}, given up ${callbackErrors}); callback request p50 ${f(summary(callbackMs).p50)} ms, p99 ${f(summary(callbackMs).p99)} ms`,
    `  tasks received (warm-up included) ${tasksSeen.size}, again under the same webhook-id ${taskRepeats}, under another webhook-id ${taskRepeatsNewId}; tasks sent as two events ${sentTwice}; strays ${strays}`,
    `  subjects erased ${erasedSubjects}/${n}; tasks not completed ${openTasks}; dead outbox rows ${deadRows.length ? JSON.stringify(deadRows) : 0}`,
    'baseline (B): the same receivers, plain events (consent.granted through the API), as many webhook deliveries, no tasks',
    baseLine(b1),
    baseLine(b2),
    `  both: ${deliveriesTotal} deliveries in ${f(baselineSeconds, 2)} s = ${f(deliveriesPerS)} deliveries/s; commit → all ${opts.systems} received ms p50 ${f(toAllAll.p50)}, p99 ${f(toAllAll.p99)}`,
    'worker memory (before the runs → peak during the erasure runs → after):',
    ...[...memory.keys()].map(memLine),
    '',
    `tasks/s ÷ plain deliveries/s  = ${f(tasksPerS)} / ${f(deliveriesPerS)} = ${f(ratios.throughput * 100)}%  (what a task costs beyond one delivery: its send row, its own event, the callback, the request's close)`,
    `approval → request completed ÷ commit → event at all ${opts.systems} endpoints: p50 ${f(completionAll.p50)} / ${f(toAllAll.p50)} = ${f(ratios.p50_latency, 2)}×, p99 ${f(completionAll.p99)} / ${f(toAllAll.p99)} = ${f(ratios.p99_latency, 2)}×`,
  ];
  if (busy) {
    lines.push(
      `WARNING: the machine was busy with other work (load average ${f(loadBefore, 2)} before this run started anything, other work up to ` +
        `${otherMax}% of a core during a run, on ${nproc} cores): the figures move with it; rerun on a quiet machine to compare runs.`,
    );
  }
  lines.push('(other work = the machine\'s busy time less this run\'s processes, postgres and redis-server, 100 = one core; latencies from every request)');
  console.log(lines.join('\n'));

  const out = {
    machine: { ...machine, load_average_after: loadAfter, load_average_when_measuring_started: loadAtStart, postgres: pgVersion, redis: redisVersion },
    settings: { ...opts, adminUrl: undefined, prefix: PREFIX },
    erasure_runs: A,
    baseline_runs: B,
    totals: { requests: n, approval_to_completion_ms: completionAll, commit_to_all_received_ms: toAllAll, tasks: tasksTotal, erasure_seconds: erasureSeconds, tasks_per_s: tasksPerS, deliveries: deliveriesTotal, baseline_seconds: baselineSeconds, deliveries_per_s: deliveriesPerS },
    ratios,
    callbacks: { statuses: Object.fromEntries(callbackStatus), retries: callbackRetries, given_up: callbackErrors, latency_ms: summary(callbackMs) },
    tasks_received: { distinct: tasksSeen.size, repeats_same_webhook_id: taskRepeats, repeats_other_webhook_id: taskRepeatsNewId, sent_as_two_events: sentTwice, strays },
    checks: { subjects_erased: erasedSubjects, tasks_not_completed: openTasks, dead_outbox_rows: deadRows },
    outbox_rows_by_topic: outboxRows,
    worker_memory_bytes: { before: memBefore, peak_erasure_runs: Object.fromEntries(peaks.erasure), peak_baseline_runs: Object.fromEntries(peaks.baseline), after: memAfter },
    busy_warning: busy,
    redis_keys_deleted: keysDeleted,
  };
  writeFileSync(join(RESULTS, 'erasure-latest.json'), JSON.stringify(out, null, 2) + '\n');
  log(`\nwrote bench/results/erasure-latest.json`);
  if (erasedSubjects !== n || openTasks !== 0 || callbackErrors) process.exitCode = 2;
}

await runMain('bench:erasure', main, run);
