// `npm run bench:events`: consent events from API commit to receipt at a local webhook receiver, with the worker
// processes delivering while the API commits, against the same run's raw BullMQ baseline doing a delivery's work
// (bench/events-baseline.ts: jobs that each sign a consent.granted-sized body and POST it over keep-alive to the same
// receiver, as many processes at the same concurrency).
//
// One run: starts a private redis-server (own port, nothing persisted: the shared Redis is never touched) and a
// receiver (node:http, 204 at once, receipt time per event by data.ledger_event_id; the baseline posts to /baseline),
// measures the baseline (A), builds its own database (drop, create, migrate), seeds a tenant, a consent purpose and
// the subjects, starts the API and the workers as child processes, registers a webhook endpoint for consent.granted
// through the API, sends one grant per subject through the API with bounded concurrency and waits until the receiver
// has every event (B: end to end), then commits as many event rows at once and times their drain (B: pipeline only),
// then measures the baseline again (A). Prints the figures and PASS/FAIL per target, writes
// bench/results/events-latest.json, and cleans up (children stopped, redis-server stopped, database dropped)
// whatever happens.
//
// Knobs (env): BENCH_EVENTS (10000), BENCH_EVENTS_CONCURRENCY (32 requests in flight), BENCH_EVENTS_WORKERS (2 worker
// processes, and as many baseline processes), BENCH_EVENTS_DB (rightful_bench_events), BENCH_ADMIN_URL
// (postgres://postgres@127.0.0.1:5432/postgres), BENCH_EVENTS_TIMEOUT_S (300: how long to wait for the receiver),
// WORKER_CONCURRENCY (32, per worker process), DATABASE_POOL_MAX (10, per process), OUTBOX_SWEEP_MS / OUTBOX_* (the
// worker's defaults unless set), BENCH_EVENTS_BASELINE_RUNS (2).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
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
import { rawBaseline, type BaselineResult } from './events-baseline.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, percentile, postgresVersion, procTicks, RESULTS, runMain, sleep, ticksOf } from './processes.js';

const PIDFILE = join(RESULTS, '.events-pids');

const opts = {
  events: num(env.BENCH_EVENTS, 10_000),
  concurrency: num(env.BENCH_EVENTS_CONCURRENCY, 32),
  db: env.BENCH_EVENTS_DB ?? 'rightful_bench_events',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  timeoutS: num(env.BENCH_EVENTS_TIMEOUT_S, 300),
  workerConcurrency: num(env.WORKER_CONCURRENCY, 32),
  workers: num(env.BENCH_EVENTS_WORKERS, 2),
  poolMax: num(env.DATABASE_POOL_MAX, 10),
  baselineRuns: num(env.BENCH_EVENTS_BASELINE_RUNS, 2),
  batch: 100,
};
// The drain of a backlog against the baseline, and end to end: every event received within a second of its commit
// (p99), the last one within a second of the last commit (the workers keep pace with the API).
const TARGETS = { ratioVsRaw: 0.7, p99Ms: 1000, paceS: 1 };
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

  // 2. Receiver: 204 at once; receipt time per event, by the ledger event id in the body.
  let receipts = new Map<string, number>();
  const webhookIds = new Set<string>();
  let duplicates = 0;
  let duplicateWebhookIds = 0;
  let strays = 0;
  let lastReceipt = 0;
  let baselineReceived = 0;
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      res.writeHead(204).end();
      if (req.url === '/baseline') {
        baselineReceived++;
        return;
      }
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

  const baseline = async (i: number): Promise<BaselineResult> => {
    baselineReceived = 0;
    const b = await rawBaseline({
      run,
      name: `baseline-${i}`,
      redisUrl,
      prefix: PREFIX,
      processes: opts.workers,
      concurrency: opts.workerConcurrency,
      jobs: opts.events,
      targetUrl: `http://127.0.0.1:${receiverPort}/baseline`,
      timeoutS: opts.timeoutS,
    });
    if (baselineReceived !== opts.events) throw new Error(`baseline ${i}: the receiver got ${baselineReceived} posts, expected ${opts.events}`);
    return b;
  };

  // 3. The first baseline, while nothing else of this run is up.
  const baselines: BaselineResult[] = [];
  log(`baseline 1: ${opts.events} BullMQ jobs (sign + POST to the receiver), added first, ${opts.workers} Worker processes × concurrency ${opts.workerConcurrency}`);
  baselines.push(await baseline(1));
  log(`  ${baselines[0]!.jobs_per_s.toFixed(0)} jobs/s (${baselines[0]!.seconds.toFixed(2)} s)`);

  // 4. Database and seed.
  log(`database ${opts.db}: drop, create, migrate`);
  await dropDatabase(opts.adminUrl, opts.db);
  const url = dbUrl(opts.adminUrl, opts.db);
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn' });
  const seedStarted = Date.now();
  const pool = createPool(config.database, console, { owner: true });
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

  // 5. API and the workers, as child processes on the private Redis.
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

  // Where the time goes, from the rows' own timestamps (Postgres and workers share this machine's clock). An event
  // delivered on its first attempts is recorded once they are made (its row done then); a delivery that went through
  // the outbox (a retry, an event fanned out first) has a row of its own, whose claims count as re-enqueues past one.
  const stages = await pool.query<Record<string, number>>(`
    SELECT extract(epoch FROM e.enqueued_at) * 1000 AS event_enqueued,
           extract(epoch FROM greatest(e.finished_at, d.finished_at)) * 1000 AS recorded,
           e.attempts AS event_attempts, coalesce(o.attempts, 0) AS delivery_attempts,
           e.payload->'data'->>'ledger_event_id' AS ledger_event_id
      FROM outbox e
      JOIN webhook_deliveries d ON d.event_id = e.id
      LEFT JOIN outbox o ON o.topic = 'webhook.delivery' AND o.payload->>'delivery_id' = d.id::text
     WHERE e.topic = 'event'`);
  const st = { commit_to_event_enqueued: [] as number[], event_enqueued_to_received: [] as number[], received_to_recorded: [] as number[] };
  let reEnqueued = 0;
  for (const r of stages.rows) {
    const id = r.ledger_event_id as unknown as string;
    const c = commits.get(id);
    const rec = receipts.get(id);
    if (c === undefined || rec === undefined) continue;
    if (Number(r.event_attempts) > 1 || Number(r.delivery_attempts) > 1) reEnqueued++;
    st.commit_to_event_enqueued.push(Number(r.event_enqueued) - c);
    st.event_enqueued_to_received.push(rec - Number(r.event_enqueued));
    st.received_to_recorded.push(Number(r.recorded) - rec);
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
            jsonb_build_object('type', 'consent.granted', 'timestamp', ts,
              'data', jsonb_build_object('subject_id', $2::text, 'purpose', 'newsletter', 'purpose_version', 1, 'source', 'api',
                                         'occurred_at', ts, 'ledger_event_id', l))
       FROM unnest($3::text[]) AS l,
            -- The catalogue's instants: UTC, milliseconds, "Z" (as the API writes them).
            to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts`,
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
    baselines.push(await baseline(run));
    log(`  ${baselines[run - 1]!.jobs_per_s.toFixed(0)} jobs/s (${baselines[run - 1]!.seconds.toFixed(2)} s)`);
  }
  const rawRate = baselines.reduce((n, b) => n + b.jobs_per_s, 0) / baselines.length;
  // The drain of a backlog is the workers' own rate; end to end is bounded by the API's commit rate by construction.
  const ratio = pipeline.events_per_s / rawRate;
  const keepsPace = e2e.drain_after_last_commit_s < TARGETS.paceS;
  const targets = {
    drain_vs_raw_bullmq: { target: `>= ${TARGETS.ratioVsRaw}`, value: ratio, pass: ratio >= TARGETS.ratioVsRaw },
    keeps_pace_last_receipt_after_last_commit_s: { target: `< ${TARGETS.paceS}`, value: e2e.drain_after_last_commit_s, pass: keepsPace },
    p99_commit_to_receipt_ms: { target: `< ${TARGETS.p99Ms}`, value: e2e.latency_ms.p99, pass: e2e.latency_ms.p99 < TARGETS.p99Ms },
    no_duplicates: { target: '0', value: duplicates, pass: duplicates === 0 },
    all_received: { target: String(opts.events), value: e2e.received, pass: e2e.received === opts.events },
  };

  const busy = Math.max(machine.load_average_before[0]!, loadAfter[0]!) > machine.nproc;

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
    `pipeline only (backlog drain: ${opts.events} event rows committed in one INSERT → last receipt): ${f(pipeline.seconds, 2)} s = ${f(pipeline.events_per_s)} events/s`,
    `  cpu during e2e: machine ${cpuE2e.machine_busy_pct}% busy; ${Object.entries(cpuE2e.process_cpu_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`,
    `raw BullMQ: ${baselines.map((b, i) => `run ${i + 1} ${f(b.jobs_per_s, 0)} jobs/s (${f(b.seconds, 2)} s, machine ${b.machine_busy_pct}% busy)`).join('; ')}; mean ${f(rawRate, 0)} jobs/s`,
    '',
    `drain vs raw BullMQ    = ${f(pipeline.events_per_s)} / ${f(rawRate, 0)} = ${f(ratio, 2)}×  (target >= ${TARGETS.ratioVsRaw}×, ${opts.workers} processes each)  ${verdict(targets.drain_vs_raw_bullmq.pass)}`,
    `keeps pace             = e2e ${f(e2e.events_per_s)} events/s for ${f(e2e.api.requests_per_s)} grants/s; last receipt ${f(e2e.drain_after_last_commit_s, 2)} s after the last commit  (target < ${TARGETS.paceS} s)  ${verdict(keepsPace)}`,
    `p99 commit → receipt   = ${f(e2e.latency_ms.p99)} ms  (target < ${TARGETS.p99Ms} ms)  ${verdict(targets.p99_commit_to_receipt_ms.pass)}`,
    `duplicates received    = ${duplicates}  (target 0)  ${verdict(targets.no_duplicates.pass)}`,
    busy ? `WARNING: the machine was busy (load average ${machine.load_average_before[0]} before the run, ${loadAfter[0]} after, on ${machine.nproc} cores): figures are pessimistic and the ratio noisy` : '',
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
    busy,
    pass: Object.values(targets).every((t) => t.pass),
  };
  writeFileSync(join(RESULTS, 'events-latest.json'), JSON.stringify(out, null, 2) + '\n');
  log(`\nwrote bench/results/events-latest.json`);
  if (!out.pass) process.exitCode = 2;
}

await runMain('bench:events', main, run);
