// `npm run bench:events`: consent events from API commit to receipt at a local webhook receiver, with two worker
// processes, against the same run's raw BullMQ throughput (add + process of empty jobs) as the baseline.
//
// One run: starts a private redis-server (own port, nothing persisted: the shared Redis is never touched), builds
// its own database (drop, create, migrate), seeds a tenant, a consent purpose and the subjects, starts a receiver
// (node:http, 204 at once, receipt time per event by data.ledger_event_id), the API and two workers as child
// processes, registers a webhook endpoint for consent.granted through the API, sends one grant per subject through
// the API with bounded concurrency, waits until the receiver has every event, and measures the BullMQ baseline
// (one producer, addBulk by 100, two Worker processes with the workers' combined concurrency) before and after.
// Prints the figures and PASS/FAIL per target, writes bench/results/events-latest.json, and cleans up (children
// stopped, redis-server stopped, database dropped) whatever happens.
//
// Knobs (env): BENCH_EVENTS (10000), BENCH_EVENTS_CONCURRENCY (32 requests in flight), BENCH_EVENTS_DB
// (rightful_bench_events), BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_EVENTS_TIMEOUT_S
// (300: how long to wait for the receiver), WORKER_CONCURRENCY (32, per worker process), DATABASE_POOL_MAX (10, per
// process), OUTBOX_SWEEP_MS / OUTBOX_* (the worker's defaults unless set), BENCH_EVENTS_BASELINE_RUNS (2).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createDb, createPool } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { newWrappedKey } from '../src/lib/crypto.js';
import { createKeyring } from '../src/lib/keyring.js';
import { signToken } from '../src/lib/tokens.js';
import { CreatePurposeBody } from '../src/modules/purposes/purposes.schemas.js';
import { subjects as subjectsTable } from '../src/modules/subjects/subjects.table.js';
import { SCOPES } from '../src/plugins/auth.js';
import { createServices } from '../src/services.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, percentile, postgresVersion, procTicks, RESULTS, runMain, sleep, ticksOf } from './processes.js';

const PIDFILE = join(RESULTS, '.events-pids');

const opts = {
  events: num(env.BENCH_EVENTS, 10_000),
  concurrency: num(env.BENCH_EVENTS_CONCURRENCY, 32),
  db: env.BENCH_EVENTS_DB ?? 'rightful_bench_events',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  timeoutS: num(env.BENCH_EVENTS_TIMEOUT_S, 300),
  workerConcurrency: num(env.WORKER_CONCURRENCY, 32),
  workers: 2,
  poolMax: num(env.DATABASE_POOL_MAX, 10),
  baselineRuns: num(env.BENCH_EVENTS_BASELINE_RUNS, 2),
  batch: 100,
};
const TARGETS = { ratioVsRaw: 0.3, p99Ms: 2000 };
const PREFIX = `rightful-bench-events-${process.pid}`;

const now = () => performance.timeOrigin + performance.now(); // wall-clock ms, sub-ms resolution, one clock for all

// ---------------------------------------------------------------- processes, cleanup

// Workers and API first, redis-server last (the workers close their queues on it).
const run = createRun({ pidFile: PIDFILE, logPrefix: 'events-', adminUrl: opts.adminUrl, db: opts.db, stopLast: ['redis'] });
const { children, spawnChild, stopChild, waitFor } = run;

let receiver: http.Server | null = null;
run.atCleanup(() => {
  receiver?.closeAllConnections();
  receiver?.close();
});

// ---------------------------------------------------------------- measuring helpers

const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? NaN) };
};

/** Every postgres process on the machine (other databases' sessions included: label it so). */
const postgresTicks = (): number => [...ticksOf('postgres').values()].reduce((sum, t) => sum + t, 0);
type CpuSnap = { at: number; machine: { total: number; idle: number }; procs: Record<string, number | null>; postgres: number; self: NodeJS.CpuUsage };
function cpuSnap(): CpuSnap {
  const procs: Record<string, number | null> = {};
  for (const [name, c] of children) if (c.pid) procs[name] = procTicks(c.pid);
  return { at: Date.now(), machine: machineTicks(), procs, postgres: postgresTicks(), self: process.cpuUsage() };
}
/** CPU% over the interval (100 = one core) per process, and the machine's busy share (100 = every core). */
function cpuBetween(a: CpuSnap, b: CpuSnap) {
  const wallTicks = ((b.at - a.at) / 1000) * 100;
  const out: Record<string, number> = {};
  for (const name of Object.keys(b.procs)) {
    const x = a.procs[name];
    const y = b.procs[name];
    if (x != null && y != null) out[name] = Math.round(((y - x) / wallTicks) * 100);
  }
  out['bench (load + receiver)'] = Math.round(((b.self.user - a.self.user + b.self.system - a.self.system) / 1000 / (b.at - a.at)) * 100);
  out['postgres (all sessions)'] = Math.round(((b.postgres - a.postgres) / wallTicks) * 100);
  const dt = b.machine.total - a.machine.total;
  return { machine_busy_pct: dt > 0 ? Math.round((1 - (b.machine.idle - a.machine.idle) / dt) * 100) : NaN, process_cpu_pct: out };
}

// ---------------------------------------------------------------- the BullMQ baseline

async function baseline(redisUrl: string, run: number) {
  const queueName = `baseline-${run}`;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix: PREFIX, defaultJobOptions: { removeOnComplete: { age: 86_400 } } });
  await queue.obliterate({ force: true });
  const perWorker: { completed: number; last: number }[] = [];
  const procs: ChildProcess[] = [];
  for (let w = 0; w < opts.workers; w++) {
    const state = { completed: 0, last: 0 };
    perWorker.push(state);
    const child = spawnChild(`baseline-${run}-worker-${w + 1}`, process.execPath, ['--import', 'tsx', 'bench/events-bullmq-worker.ts'], {
      BASELINE_REDIS_URL: redisUrl,
      BASELINE_QUEUE: queueName,
      BASELINE_PREFIX: PREFIX,
      BASELINE_CONCURRENCY: String(opts.workerConcurrency),
    }, true);
    let ready = false;
    child.on('message', (m: { ready?: boolean; completed?: number; last?: number }) => {
      if (m.ready) ready = true;
      if (typeof m.completed === 'number') Object.assign(state, m);
    });
    procs.push(child);
    await waitFor(`baseline worker ${w + 1}`, child, async () => ready, 30);
  }
  const jobs = Array.from({ length: opts.events }, (_, i) => ({ name: 'empty', data: {}, opts: { jobId: `b${run}-${i}` } }));
  const a = cpuSnap();
  const t0 = Date.now();
  for (let i = 0; i < jobs.length; i += 100) await queue.addBulk(jobs.slice(i, i + 100));
  const added = Date.now();
  const deadline = t0 + 120_000;
  while (perWorker.reduce((n, s) => n + s.completed, 0) < opts.events) {
    if (Date.now() > deadline) throw new Error(`baseline: only ${perWorker.reduce((n, s) => n + s.completed, 0)} jobs completed in 120 s`);
    await sleep(5);
  }
  const last = Math.max(...perWorker.map((s) => s.last));
  const cpu = cpuBetween(a, cpuSnap());
  for (let w = 0; w < procs.length; w++) {
    procs[w]!.send('stop');
    await stopChild(`baseline-${run}-worker-${w + 1}`, procs[w]!, true);
  }
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  const seconds = (last - t0) / 1000;
  return {
    jobs: opts.events,
    seconds,
    jobs_per_s: opts.events / seconds,
    add_seconds: (added - t0) / 1000,
    per_worker: perWorker.map((s) => s.completed),
    cpu,
  };
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  run.killLeftovers(/src\/server\.ts|src\/worker\.ts|bench\/events-bullmq-worker\.ts|redis-server 127\.0\.0\.1/);
  const machine = conditions();
  log(`machine: ${JSON.stringify(machine)}`);

  // 1. Private Redis: its own port, nothing persisted; stopping it removes every key of this run.
  const { url: redisUrl, version: redisVersion } = await run.startRedis(['--protected-mode', 'yes']);
  log(`  redis-server ${redisVersion} on ${redisUrl} (pid ${children.get('redis')?.pid})`);

  const pgVersion = await postgresVersion(opts.adminUrl);

  // 2. The first baseline, while nothing else of this run is up.
  const baselines = [];
  log(`baseline 1: ${opts.events} empty jobs, addBulk by 100, ${opts.workers} Worker processes × concurrency ${opts.workerConcurrency}`);
  baselines.push(await baseline(redisUrl, 1));
  log(`  ${baselines[0]!.jobs_per_s.toFixed(0)} jobs/s (${baselines[0]!.seconds.toFixed(2)} s)`);

  // 3. Database and seed.
  log(`database ${opts.db}: drop, create, migrate`);
  await dropDatabase(opts.adminUrl, opts.db);
  const url = dbUrl(opts.adminUrl, opts.db);
  await runMigrations(url);
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn' });
  const seedStarted = Date.now();
  const pool = createPool(config.database, console);
  const db = createDb(pool);
  const keyring = createKeyring(config);
  const services = createServices({ db, keyring, allowPrivateWebhooks: true });
  const tenant = await services.tenants.create({ name: 'Events bench controller' });
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
  // Subjects in bulk (one data key each, as the service creates them), with no events: the only outbox rows of the
  // run are the grants measured below.
  const subjectIds = Array.from({ length: opts.events }, () => crypto.randomUUID());
  for (let i = 0; i < subjectIds.length; i += 1000) {
    const rows = subjectIds.slice(i, i + 1000).map((id, k) => {
      const { wrapped, keyId } = newWrappedKey(keyring.current, `subject-data-key:${id}`);
      return { id, tenantId: tenant.id, externalRef: `crm-${i + k}`, dataKeyWrapped: wrapped, keyId };
    });
    await db.insert(subjectsTable).values(rows);
  }
  await pool.query('ANALYZE');
  const pendingBefore = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]!.n;
  log(`  seeded tenant, purpose, ${subjectIds.length} subjects in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s (${pendingBefore} outbox rows)`);

  // 4. Receiver: 204 at once; receipt time per event, by the ledger event id in the body.
  let receipts = new Map<string, number>();
  const webhookIds = new Set<string>();
  let duplicates = 0;
  let duplicateWebhookIds = 0;
  let strays = 0;
  let lastReceipt = 0;
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      res.writeHead(204).end();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { ledger_event_id?: string } };
        const id = body.data?.ledger_event_id;
        const wid = String(req.headers['webhook-id'] ?? '');
        if (webhookIds.has(wid)) duplicateWebhookIds++;
        else webhookIds.add(wid);
        if (!id) strays++;
        else if (receipts.has(id)) duplicates++;
        else {
          receipts.set(id, at);
          lastReceipt = at;
        }
      } catch {
        strays++;
      }
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  const receiverPort = (receiver.address() as { port: number }).port;
  log(`  receiver on 127.0.0.1:${receiverPort}`);

  // 5. API and two workers, as child processes on the private Redis.
  const common = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(opts.poolMax),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: PREFIX,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    HOST: '127.0.0.1',
    ...secrets,
  };
  const apiPort = await freePort();
  const api = spawnChild('api', process.execPath, ['--import', 'tsx', 'src/server.ts'], { ...common, PORT: String(apiPort), RATE_LIMIT_MAX: '1000000000' });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitFor('api', api, httpOk(`${apiUrl}/healthz`));
  log(`  api on ${apiUrl} (pid ${api.pid})`);

  const token = signToken(config.jwt.secret, { sub: 'bench', tid: tenant.id, scope: SCOPES.join(' '), ttlSeconds: 3600, iss: config.jwt.issuer, aud: config.jwt.audience });
  const json = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${apiUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hook`, event_types: ['consent.granted'], description: 'events bench receiver' }),
  });
  if (created.status !== 201) throw new Error(`create webhook endpoint: ${created.status} ${await created.text()}`);
  const endpoint = (await created.json()) as { id: string };
  log(`  webhook endpoint ${endpoint.id} → http://127.0.0.1:${receiverPort}/hook (consent.granted)`);

  const workerEnv: Record<string, string> = {};
  for (const k of Object.keys(env)) if (k.startsWith('OUTBOX_')) workerEnv[k] = env[k]!;
  for (let w = 1; w <= opts.workers; w++) {
    const healthPort = await freePort();
    const child = spawnChild(`worker-${w}`, process.execPath, ['--import', 'tsx', 'src/worker.ts'], { ...common, ...workerEnv, WORKER_HEALTH_PORT: String(healthPort) });
    await waitFor(`worker-${w}`, child, httpOk(`http://127.0.0.1:${healthPort}/healthz`));
    log(`  worker-${w} healthy on :${healthPort} (pid ${child.pid}, concurrency ${opts.workerConcurrency})`);
  }
  const workerSettings = {
    processes: opts.workers,
    concurrency_per_process: opts.workerConcurrency,
    sweep_ms: config.worker.sweepMs,
    reconcile_ms: config.worker.reconcileMs,
    visibility_timeout_ms: config.worker.visibilityTimeoutMs,
    overrides: workerEnv,
    database_pool_max_per_process: opts.poolMax,
  };

  // 6. The grants: one request per subject, `concurrency` in flight; commit time = when the 201 arrived.
  log(`sending ${opts.events} grants, ${opts.concurrency} in flight`);
  const commits = new Map<string, number>();
  const apiLatency: number[] = [];
  let next = 0;
  const body = JSON.stringify({ decisions: [{ purpose: purposeKey, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] });
  const cpuA = cpuSnap();
  const loadStart = now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= subjectIds.length) return;
        const sent = now();
        const res = await fetch(`${apiUrl}/v1/subjects/${subjectIds[i]}/consents`, { method: 'POST', headers: json, body });
        const at = now();
        const text = await res.text();
        if (res.status !== 201) throw new Error(`grant ${i}: ${res.status} ${text}`);
        const event = (JSON.parse(text) as { events: { id: string }[] }).events[0]!;
        commits.set(event.id, at);
        apiLatency.push(at - sent);
      }
    }),
  );
  const loadEnd = now();
  log(`  sent in ${((loadEnd - loadStart) / 1000).toFixed(2)} s (${(opts.events / ((loadEnd - loadStart) / 1000)).toFixed(0)} req/s); received so far ${receipts.size}`);
  const deadline = Date.now() + opts.timeoutS * 1000;
  let lastLog = Date.now();
  while (receipts.size < opts.events) {
    if (Date.now() > deadline) throw new Error(`receiver has ${receipts.size}/${opts.events} events after ${opts.timeoutS} s`);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  received ${receipts.size}/${opts.events}`);
    }
    await sleep(5);
  }
  const cpuE2e = cpuBetween(cpuA, cpuSnap());
  await sleep(1000); // late duplicates, if any
  const loadAfter = os.loadavg().map((l) => Math.round(l * 100) / 100);

  // 7. Figures.
  const commitTimes = [...commits.values()];
  const firstCommit = Math.min(...commitTimes);
  const lastCommit = Math.max(...commitTimes);
  const latencies: number[] = [];
  let unknown = 0;
  for (const [id, at] of receipts) {
    const c = commits.get(id);
    if (c === undefined) unknown++;
    else latencies.push(at - c);
  }
  const e2eSeconds = (lastReceipt - firstCommit) / 1000;
  const e2e = {
    events: opts.events,
    received: receipts.size,
    duplicates,
    duplicate_webhook_ids: duplicateWebhookIds,
    strays: strays + unknown,
    seconds: e2eSeconds,
    events_per_s: opts.events / e2eSeconds,
    latency_ms: summary(latencies),
    api: { seconds: (lastCommit - firstCommit) / 1000, requests_per_s: opts.events / ((loadEnd - loadStart) / 1000), latency_ms: summary(apiLatency) },
    drain_after_last_commit_s: (lastReceipt - lastCommit) / 1000,
    cpu: cpuE2e,
  };

  // Where the time goes, from the rows' own timestamps (Postgres and workers share this machine's clock).
  const stages = await pool.query<Record<string, number>>(`
    SELECT extract(epoch FROM e.created_at) * 1000 AS event_created,
           extract(epoch FROM e.enqueued_at) * 1000 AS event_enqueued,
           extract(epoch FROM e.finished_at) * 1000 AS fanned_out,
           extract(epoch FROM o.created_at) * 1000 AS delivery_created,
           extract(epoch FROM o.enqueued_at) * 1000 AS delivery_enqueued,
           extract(epoch FROM o.finished_at) * 1000 AS delivered,
           e.attempts AS event_attempts, o.attempts AS delivery_attempts,
           e.payload->'data'->>'ledger_event_id' AS ledger_event_id
      FROM outbox e
      JOIN webhook_deliveries d ON d.event_id = e.id
      JOIN outbox o ON o.topic = 'webhook.delivery' AND o.payload->>'delivery_id' = d.id::text
     WHERE e.topic = 'event'`);
  const st = { commit_to_event_enqueued: [] as number[], event_queue_and_fan_out: [] as number[], fan_out_to_delivery_enqueued: [] as number[], delivery_queue_and_send: [] as number[], sent_to_delivery_row_done: [] as number[] };
  let reEnqueued = 0;
  for (const r of stages.rows) {
    const id = r.ledger_event_id as unknown as string;
    const c = commits.get(id);
    const rec = receipts.get(id);
    if (c === undefined || rec === undefined) continue;
    if (Number(r.event_attempts) > 1 || Number(r.delivery_attempts) > 1) reEnqueued++;
    st.commit_to_event_enqueued.push(Number(r.event_enqueued) - c);
    st.event_queue_and_fan_out.push(Number(r.fanned_out) - Number(r.event_enqueued));
    st.fan_out_to_delivery_enqueued.push(Number(r.delivery_enqueued) - Number(r.fanned_out));
    st.delivery_queue_and_send.push(rec - Number(r.delivery_enqueued));
    st.sent_to_delivery_row_done.push(Number(r.delivered) - rec);
  }
  const stageSummary = Object.fromEntries(Object.entries(st).map(([k, v]) => [k, summary(v)]));
  const outboxCounts = (await pool.query<{ topic: string; status: string; n: number }>('SELECT topic, status, count(*)::int AS n FROM outbox GROUP BY 1, 2 ORDER BY 1, 2')).rows;
  const deliveryCounts = (await pool.query<{ status: string; n: number; attempts: number }>('SELECT status, count(*)::int AS n, sum(attempt_count)::int AS attempts FROM webhook_deliveries GROUP BY 1')).rows;
  const failedAttempts = (
    await pool.query<{ error: string | null; status_code: number | null; n: number }>(
      'SELECT error, status_code, count(*)::int AS n FROM webhook_attempts WHERE error IS NOT NULL OR status_code NOT BETWEEN 200 AND 299 GROUP BY 1, 2',
    )
  ).rows;

  // 7b. The worker side alone: as many consent.granted event rows committed at once (one INSERT, as the API's
  // transactions write them, with synthetic ids), then committed → last receipt with the same two workers. This is
  // the pipeline's own rate (relay, queue, fan-out, delivery), free of the API's write rate.
  receipts = new Map();
  lastReceipt = 0;
  const synthetic = Array.from({ length: opts.events }, () => crypto.randomUUID());
  const t0 = now();
  await pool.query(
    `INSERT INTO outbox (id, tenant_id, topic, payload)
     SELECT gen_random_uuid(), $1, 'event',
            jsonb_build_object('type', 'consent.granted', 'timestamp', now(),
              'data', jsonb_build_object('subject_id', $2::text, 'purpose', 'newsletter', 'purpose_version', 1, 'source', 'api',
                                         'occurred_at', now(), 'ledger_event_id', l))
       FROM unnest($3::text[]) AS l`,
    [tenant.id, subjectIds[0], synthetic],
  );
  const committed = now();
  const drainDeadline = Date.now() + opts.timeoutS * 1000;
  while (receipts.size < opts.events) {
    if (Date.now() > drainDeadline) throw new Error(`pipeline phase: receiver has ${receipts.size}/${opts.events} after ${opts.timeoutS} s`);
    await sleep(5);
  }
  const pipeline = {
    events: opts.events,
    insert_ms: Math.round(committed - t0),
    seconds: (lastReceipt - committed) / 1000,
    events_per_s: opts.events / ((lastReceipt - committed) / 1000),
  };
  log(`  pipeline only: ${opts.events} event rows committed at once → last receipt ${pipeline.seconds.toFixed(2)} s = ${pipeline.events_per_s.toFixed(0)} events/s`);
  await pool.end();

  // 8. App processes down, then the second baseline under the same conditions as the first.
  for (const name of [...children.keys()].filter((n) => n === 'api' || n.startsWith('worker-'))) await stopChild(name, children.get(name)!);
  for (let run = 2; run <= opts.baselineRuns; run++) {
    log(`baseline ${run}`);
    baselines.push(await baseline(redisUrl, run));
    log(`  ${baselines[run - 1]!.jobs_per_s.toFixed(0)} jobs/s (${baselines[run - 1]!.seconds.toFixed(2)} s)`);
  }
  const rawRate = baselines.reduce((n, b) => n + b.jobs_per_s, 0) / baselines.length;
  const ratio = e2e.events_per_s / rawRate;
  const targets = {
    events_vs_raw_bullmq: { target: `>= ${TARGETS.ratioVsRaw}`, value: ratio, pass: ratio >= TARGETS.ratioVsRaw },
    p99_commit_to_receipt_ms: { target: `< ${TARGETS.p99Ms}`, value: e2e.latency_ms.p99, pass: e2e.latency_ms.p99 < TARGETS.p99Ms },
    no_duplicates: { target: '0', value: duplicates, pass: duplicates === 0 },
    all_received: { target: String(opts.events), value: e2e.received, pass: e2e.received === opts.events },
  };

  // 9. Report.
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const verdict = (b: boolean) => (b ? 'PASS' : 'FAIL');
  const lines = [
    '',
    `Rightful events bench — ${machine.date}`,
    `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}`,
    `load average before: ${machine.load_average_before.join(' ')}; after: ${loadAfter.join(' ')}`,
    `postgres ${pgVersion}; redis ${redisVersion} (private instance); bullmq 6.7.0`,
    `workers: ${opts.workers} processes × WORKER_CONCURRENCY ${opts.workerConcurrency}; OUTBOX_SWEEP_MS ${config.worker.sweepMs}; relay batch 100; DB pool ${opts.poolMax}/process; ${opts.concurrency} grant requests in flight`,
    '',
    `end to end: ${opts.events} consent.granted events, first commit → last receipt ${f(e2e.seconds, 2)} s = ${f(e2e.events_per_s)} events/s`,
    `  commit → receipt latency ms: p50 ${f(e2e.latency_ms.p50)}, p90 ${f(e2e.latency_ms.p90)}, p99 ${f(e2e.latency_ms.p99)}, max ${f(e2e.latency_ms.max)}`,
    `  API: ${f(e2e.api.requests_per_s)} grants/s, request p50 ${f(e2e.api.latency_ms.p50)} ms, p99 ${f(e2e.api.latency_ms.p99)} ms; receiver finished ${f(e2e.drain_after_last_commit_s, 2)} s after the last commit`,
    `  received ${e2e.received}, duplicates ${duplicates} (same webhook-id twice: ${duplicateWebhookIds}), strays ${e2e.strays}, rows re-enqueued ${reEnqueued}`,
    `  stages p50/p99 ms: ${Object.entries(stageSummary).map(([k, v]) => `${k} ${f(v.p50)}/${f(v.p99)}`).join('; ')}`,
    `  failed attempts (retried): ${failedAttempts.length ? failedAttempts.map((a) => `${a.n} × ${a.error ?? `HTTP ${a.status_code}`}`).join(', ') : 'none'}`,
    `pipeline only (worker side, ${opts.events} event rows committed in one INSERT): ${f(pipeline.seconds, 2)} s = ${f(pipeline.events_per_s)} events/s = ${f((pipeline.events_per_s / rawRate) * 100)}% of raw BullMQ (informative)`,
    `  cpu during e2e: machine ${cpuE2e.machine_busy_pct}% busy; ${Object.entries(cpuE2e.process_cpu_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`,
    `raw BullMQ: ${baselines.map((b, i) => `run ${i + 1} ${f(b.jobs_per_s, 0)} jobs/s (${f(b.seconds, 2)} s, adds took ${f(b.add_seconds, 2)} s)`).join('; ')}; mean ${f(rawRate, 0)} jobs/s`,
    '',
    `events/s vs raw BullMQ = ${f(e2e.events_per_s)} / ${f(rawRate, 0)} = ${f(ratio * 100)}%  (target >= 30%)  ${verdict(targets.events_vs_raw_bullmq.pass)}`,
    `p99 commit → receipt   = ${f(e2e.latency_ms.p99)} ms  (target < 2000 ms)  ${verdict(targets.p99_commit_to_receipt_ms.pass)}`,
    `duplicates received    = ${duplicates}  (target 0)  ${verdict(targets.no_duplicates.pass)}`,
  ];
  console.log(lines.join('\n'));
  const out = {
    machine: { ...machine, load_average_after: loadAfter, postgres: pgVersion, redis: redisVersion },
    settings: { ...opts, adminUrl: undefined, workers: workerSettings, targets: TARGETS },
    end_to_end: e2e,
    stages_ms: stageSummary,
    failed_attempts: failedAttempts,
    pipeline_only: { ...pipeline, ratio_vs_raw: pipeline.events_per_s / rawRate },
    rows_re_enqueued: reEnqueued,
    outbox: outboxCounts,
    deliveries: deliveryCounts,
    baseline: { runs: baselines, mean_jobs_per_s: rawRate },
    ratio_vs_raw: ratio,
    targets,
    pass: Object.values(targets).every((t) => t.pass),
  };
  writeFileSync(join(RESULTS, 'events-latest.json'), JSON.stringify(out, null, 2) + '\n');
  log(`\nwrote bench/results/events-latest.json`);
  if (!out.pass) process.exitCode = 2;
}

await runMain('bench:events', main, run);
