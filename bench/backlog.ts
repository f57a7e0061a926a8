// `npm run bench:backlog`: how fast a backlog of due events drains, against raw BullMQ jobs doing the same work with
// as many worker processes, on one Postgres and one Redis — and, with more worker counts in the order, the figure
// behind "add workers when the outbox backs up" (README "Scaling out").
//
// One receiver (node:http, 204 at once) serves the whole bench. A Rightful run starts from nothing: its own database
// (drop, create, migrate), a tenant with one webhook endpoint (the receiver) subscribed to consent.granted, and
// BENCH_BACKLOG_EVENTS due `consent.granted` event rows committed in one INSERT while no worker runs (what piles up
// during a worker outage or a burst). Then N worker processes (src/worker.ts, as in production) start and the clock
// runs from the first claim until every event row is done, every delivery has succeeded and the receiver holds
// every event. A `raw` run is the baseline (bench/events-baseline.ts): as many raw BullMQ jobs, added first, each
// building a body of the same size, signing it with the same HMAC scheme and POSTing it over a keep-alive agent to
// the same receiver, in BENCH_BACKLOG_RAW_PROCESSES processes at the same concurrency. Runs go in the order
// BENCH_BACKLOG_ORDER (raw,1,1,raw: A B B A, so a change in machine load weighs on both sides); the report gives each
// run, the mean per kind, the ratios, and the machine's conditions (load average before and after each run, CPU per
// process), with a warning when the machine was busy.
//
// A private redis-server (own port, nothing persisted) holds the queues: the shared Redis is never touched. The
// run's database is dropped at the end, on failure and on Ctrl-C too.
//
// Knobs (env): BENCH_BACKLOG_EVENTS (20000), BENCH_BACKLOG_ORDER (raw,1,1,raw; worker counts 1..8 or `raw`),
// BENCH_BACKLOG_RAW_PROCESSES (1), BENCH_BACKLOG_DB (rightful_bench_backlog), BENCH_ADMIN_URL
// (postgres://postgres@127.0.0.1:5432/postgres), BENCH_BACKLOG_TIMEOUT_S (600 per run), WORKER_CONCURRENCY (32 per
// worker process, the baseline's too), DATABASE_POOL_MAX (10, per process), REDIS_SERVER, BENCH_BACKLOG_CPU_PROF (1:
// the workers run with --cpu-prof, profiles in bench/results/prof/backlog-run<i>-worker-<w>/).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createDb, createPool } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { createKeyring } from '../src/lib/keyring.js';
import { createServices } from '../src/services.js';
import { rawBaseline, type BaselineResult } from './events-baseline.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, postgresVersion, procTicks, RESULTS, runMain, sleep, ticksOf } from './processes.js';

const PIDFILE = join(RESULTS, '.backlog-pids');

const opts = {
  events: num(env.BENCH_BACKLOG_EVENTS, 20_000),
  order: (env.BENCH_BACKLOG_ORDER ?? 'raw,1,1,raw').split(',').map((t) => (t.trim() === 'raw' ? ('raw' as const) : Number(t))),
  rawProcesses: num(env.BENCH_BACKLOG_RAW_PROCESSES, 1),
  cpuProf: env.BENCH_BACKLOG_CPU_PROF === '1',
  db: env.BENCH_BACKLOG_DB ?? 'rightful_bench_backlog',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  timeoutS: num(env.BENCH_BACKLOG_TIMEOUT_S, 600),
  workerConcurrency: num(env.WORKER_CONCURRENCY, 32),
  poolMax: num(env.DATABASE_POOL_MAX, 10),
};
if (opts.order.some((n) => n !== 'raw' && (!Number.isInteger(n) || n < 1 || n > 8))) throw new Error('BENCH_BACKLOG_ORDER: raw or worker counts 1..8, e.g. raw,1,1,raw');
if (!Number.isInteger(opts.events) || opts.events < 1 || opts.events > 1_000_000) throw new Error('BENCH_BACKLOG_EVENTS: 1..1000000');

const run = createRun({ pidFile: PIDFILE, logPrefix: 'backlog-', adminUrl: opts.adminUrl, db: opts.db, stopLast: ['redis'] });
const { children, spawnChild, stopChild, waitFor } = run;

// One receiver for the bench: Rightful's posts go to /hook, the baseline's to /baseline; both are read and answered
// alike, and counted by webhook-id.
type Tally = { ids: Set<string>; duplicates: number };
const tally = (): Tally => ({ ids: new Set(), duplicates: 0 });
let tallies: Record<'hook' | 'baseline', Tally> = { hook: tally(), baseline: tally() };
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(204).end();
    const t = req.url === '/baseline' ? tallies.baseline : tallies.hook;
    const id = String(req.headers['webhook-id'] ?? '');
    if (t.ids.has(id)) t.duplicates++;
    else t.ids.add(id);
  });
});
run.atCleanup(() => {
  receiver.closeAllConnections();
  receiver.close();
});

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const loadavg = () => os.loadavg().map((l) => round(l));
const postgresTicks = (): number => [...ticksOf('postgres').values()].reduce((sum, t) => sum + t, 0);

type RunResult = {
  workers: number;
  events: number;
  /** First row claimed by a relay → last event row or delivery done (the rows' own timestamps). */
  drain_s: number;
  events_per_s: number;
  /** Worker processes spawned → everything done: start-up included, as an operator sees it. */
  spawn_to_done_s: number;
  received: number;
  duplicates: number;
  load_average_before: number[];
  load_average_after: number[];
  machine_busy_pct: number;
  cpu_pct: Record<string, number>;
};

async function oneRun(index: number, workers: number, redisUrl: string, secrets: Record<string, string>): Promise<RunResult> {
  // A fresh database per run, so every run drains the same backlog into the same empty tables.
  await dropDatabase(opts.adminUrl, opts.db);
  const url = dbUrl(opts.adminUrl, opts.db);
  await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn' });
  const pool = createPool(config.database, console, { owner: true });
  const services = createServices({ db: createDb(pool), keyring: createKeyring(config), allowPrivateWebhooks: true });

  tallies = { hook: tally(), baseline: tally() };
  const received = tallies.hook.ids;
  const receiverPort = (receiver.address() as { port: number }).port;

  const tenant = await services.tenants.create({ name: 'Backlog bench controller' });
  await services.webhookEndpoints.create(tenant.id, { url: `http://127.0.0.1:${receiverPort}/hook`, event_types: ['consent.granted'], description: 'backlog bench receiver' });
  // The backlog: due event rows as the API's transactions write them (ids only), committed while no worker runs.
  await pool.query(
    `INSERT INTO outbox (id, tenant_id, topic, payload)
     SELECT gen_random_uuid(), $1, 'event',
            jsonb_build_object('type', 'consent.granted', 'timestamp', ts,
              'data', jsonb_build_object('subject_id', gen_random_uuid()::text, 'purpose', 'newsletter', 'purpose_version', 1,
                                         'source', 'api', 'occurred_at', ts, 'ledger_event_id', gen_random_uuid()::text))
       FROM generate_series(1, $2),
            to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts`,
    [tenant.id, opts.events],
  );
  await pool.query('ANALYZE outbox');
  const due = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'pending' AND available_at <= now()")).rows[0]!.n;
  if (due !== opts.events) throw new Error(`expected ${opts.events} due rows, found ${due}`);

  const loadBefore = loadavg();
  log(`run ${index}: ${workers} worker(s), ${due} due events; load average ${loadBefore.join(' ')}`);
  const common = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(opts.poolMax),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `rightful-bench-backlog-${process.pid}-${index}`,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    HOST: '127.0.0.1',
    ...secrets,
  };
  const names: string[] = [];
  const a = { machine: machineTicks(), postgres: postgresTicks(), at: Date.now() };
  const spawned = Date.now();
  for (let w = 1; w <= workers; w++) {
    const healthPort = await freePort();
    const name = `run${index}-worker-${w}`;
    // A directory per process: tsx's loader thread writes a profile of its own beside the main thread's.
    const prof = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'prof', `backlog-run${index}-worker-${w}`)] : [];
    const child = spawnChild(name, process.execPath, [...prof, '--import', 'tsx', 'src/worker.ts'], { ...common, WORKER_HEALTH_PORT: String(healthPort) });
    names.push(name);
    void waitFor(name, child, httpOk(`http://127.0.0.1:${healthPort}/healthz`)).catch(() => {});
  }
  const ticksStart = Object.fromEntries(names.map((n) => [n, procTicks(children.get(n)!.pid!) ?? 0]));

  const deadline = Date.now() + opts.timeoutS * 1000;
  let lastLog = Date.now();
  for (;;) {
    for (const n of names) {
      const c = children.get(n)!;
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${n} exited (code ${c.exitCode}, signal ${c.signalCode})`);
    }
    // The bench's own count scans the outbox (25 ms of Postgres on 20,000 rows): it runs every 5 s for progress and
    // for dead rows, and every 100 ms only once the receiver holds every event, so it does not weigh on the drain.
    if (received.size < opts.events && Date.now() - lastLog <= 5000 && Date.now() <= deadline) {
      await sleep(100);
      continue;
    }
    const r = (
      await pool.query<{ events_done: number; deliveries: number; deliveries_done: number; dead: number }>(
        `SELECT (SELECT count(*) FROM outbox WHERE topic = 'event' AND status = 'done')::int AS events_done,
                (SELECT count(*) FROM outbox WHERE status = 'dead')::int AS dead,
                (SELECT count(*) FROM webhook_deliveries)::int AS deliveries,
                (SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded')::int AS deliveries_done`,
      )
    ).rows[0]!;
    if (r.dead) throw new Error(`run ${index}: ${r.dead} outbox rows dead (see bench/results/backlog-run${index}-worker-*.log)`);
    if (r.events_done === opts.events && r.deliveries_done === opts.events && received.size >= opts.events) break;
    if (Date.now() > deadline) throw new Error(`run ${index}: after ${opts.timeoutS} s, ${r.events_done} events fanned out, ${r.deliveries_done}/${r.deliveries} deliveries done, ${received.size} received`);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  ${r.events_done} fanned out, ${r.deliveries_done} delivered, ${received.size} received`);
    }
    await sleep(100);
  }
  const done = Date.now();
  const b = { machine: machineTicks(), postgres: postgresTicks(), at: Date.now() };
  const wallTicks = ((b.at - a.at) / 1000) * 100;
  const cpu: Record<string, number> = {};
  for (const n of names) cpu[n] = Math.round((((procTicks(children.get(n)!.pid!) ?? 0) - ticksStart[n]!) / wallTicks) * 100);
  cpu['postgres (all sessions)'] = Math.round(((b.postgres - a.postgres) / wallTicks) * 100);
  const dt = b.machine.total - a.machine.total;
  const machineBusy = dt > 0 ? Math.round((1 - (b.machine.idle - a.machine.idle) / dt) * 100) : NaN;

  const span = (
    await pool.query<{ first_claim: number; last_done: number; failed: number; attempts_over_1: number }>(
      `SELECT extract(epoch FROM min(enqueued_at)) * 1000 AS first_claim,
              extract(epoch FROM greatest(max(finished_at), (SELECT max(finished_at) FROM webhook_deliveries))) * 1000 AS last_done,
              count(*) FILTER (WHERE status <> 'done')::int AS failed,
              count(*) FILTER (WHERE attempts > 1)::int AS attempts_over_1
         FROM outbox`,
    )
  ).rows[0]!;
  const drainS = (Number(span.last_done) - Number(span.first_claim)) / 1000;
  const succeeded = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'succeeded'")).rows[0]!.n;
  if (succeeded !== opts.events) throw new Error(`run ${index}: ${succeeded} deliveries succeeded, expected ${opts.events}`);
  if (span.failed) throw new Error(`run ${index}: ${span.failed} outbox rows not done`);
  await sleep(500); // late duplicates, if any
  for (const n of names) await stopChild(n, children.get(n)!, true);
  await pool.end();
  receiver.closeAllConnections();
  const loadAfter = loadavg();
  const result: RunResult = {
    workers,
    events: opts.events,
    drain_s: round(drainS),
    events_per_s: round(opts.events / drainS, 1),
    spawn_to_done_s: round((done - spawned) / 1000),
    received: received.size,
    duplicates: tallies.hook.duplicates,
    load_average_before: loadBefore,
    load_average_after: loadAfter,
    machine_busy_pct: machineBusy,
    cpu_pct: cpu,
  };
  log(`  drained in ${result.drain_s} s = ${result.events_per_s} events/s (spawn → done ${result.spawn_to_done_s} s); re-enqueued rows ${span.attempts_over_1}; machine ${machineBusy}% busy; load after ${loadAfter.join(' ')}`);
  return result;
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  run.killLeftovers(/src\/worker\.ts|redis-server 127\.0\.0\.1/);
  const machine = conditions();
  log(`machine: ${JSON.stringify(machine)}`);

  const { url: redisUrl, version: redisVersion } = await run.startRedis(['--maxmemory-policy', 'noeviction']);
  const pgVersion = await postgresVersion(opts.adminUrl);
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };

  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverPort = (receiver.address() as { port: number }).port;

  type RawRun = BaselineResult & { load_average_before: number[]; load_average_after: number[]; received: number; duplicates: number };
  const results: (({ kind: 'rightful' } & RunResult) | ({ kind: 'raw' } & RawRun))[] = [];
  for (const [i, step] of opts.order.entries()) {
    if (step === 'raw') {
      tallies = { hook: tally(), baseline: tally() };
      const loadBefore = loadavg();
      log(`run ${i + 1}: raw BullMQ baseline, ${opts.events} jobs (sign + POST), ${opts.rawProcesses} process(es) × concurrency ${opts.workerConcurrency}; load average ${loadBefore.join(' ')}`);
      const b = await rawBaseline({
        run,
        name: `raw-${i + 1}`,
        redisUrl,
        prefix: `rightful-bench-backlog-${process.pid}-raw`,
        processes: opts.rawProcesses,
        concurrency: opts.workerConcurrency,
        jobs: opts.events,
        targetUrl: `http://127.0.0.1:${receiverPort}/baseline`,
        timeoutS: opts.timeoutS,
      });
      const r = { kind: 'raw' as const, ...b, load_average_before: loadBefore, load_average_after: loadavg(), received: tallies.baseline.ids.size, duplicates: tallies.baseline.duplicates };
      if (r.received !== opts.events) throw new Error(`run ${i + 1}: the receiver got ${r.received} baseline posts, expected ${opts.events}`);
      log(`  ${round(b.jobs_per_s, 1)} jobs/s (${round(b.seconds)} s); machine ${b.machine_busy_pct}% busy; cpu ${b.cpu_pct.join('%, ')}%`);
      results.push(r);
    } else {
      results.push({ kind: 'rightful', ...(await oneRun(i + 1, step, redisUrl, secrets)) });
    }
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const raws = results.filter((r) => r.kind === 'raw');
  const rawRate = raws.length ? mean(raws.map((r) => r.jobs_per_s)) : NaN;
  const byWorkers = new Map<number, RunResult[]>();
  for (const r of results) if (r.kind === 'rightful') byWorkers.set(r.workers, [...(byWorkers.get(r.workers) ?? []), r]);
  const summary = [...byWorkers].sort(([a], [b]) => a - b).map(([workers, rs]) => ({
    workers,
    runs: rs.length,
    drain_s: round(mean(rs.map((r) => r.drain_s))),
    events_per_s: round(mean(rs.map((r) => r.events_per_s)), 1),
    spawn_to_done_s: round(mean(rs.map((r) => r.spawn_to_done_s))),
  }));
  const same = summary.find((s) => s.workers === opts.rawProcesses);
  const ratioVsRaw = same ? same.events_per_s / rawRate : NaN;
  const one = summary.find((s) => s.workers === 1);
  const two = summary.find((s) => s.workers === 2);
  const ratio = one && two ? two.events_per_s / one.events_per_s : NaN;
  const busiest = Math.max(...results.map((r) => r.load_average_before[0]!));
  const busy = busiest > machine.nproc;
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

  const lines = [
    '',
    `Rightful backlog bench — ${machine.date}`,
    `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}`,
    `postgres ${pgVersion}; redis ${redisVersion} (private instance, noeviction, no persistence)`,
    `each worker: WORKER_CONCURRENCY ${opts.workerConcurrency}, DB pool ${Math.max(opts.poolMax, opts.workerConcurrency + 2)}; backlog ${opts.events} due consent.granted events → one endpoint (local receiver, 204 at once)`,
    `raw baseline: ${opts.events} BullMQ jobs added first, each signs a consent.granted-sized body and POSTs it to the same receiver over keep-alive; ${opts.rawProcesses} process(es) × concurrency ${opts.workerConcurrency}`,
    '',
    ...results.map((r, i) =>
      r.kind === 'raw'
        ? `run ${i + 1}: raw BullMQ, ${r.processes} process(es): ${round(r.seconds)} s = ${round(r.jobs_per_s, 1)} jobs/s; received ${r.received}, duplicates ${r.duplicates}; load average ${r.load_average_before.join(' ')} → ${r.load_average_after.join(' ')}; machine ${r.machine_busy_pct}% busy; cpu ${r.cpu_pct.map((c) => `${c}%`).join(', ')}`
        : `run ${i + 1}: ${r.workers} worker(s): drain ${r.drain_s} s = ${r.events_per_s} events/s (spawn → done ${r.spawn_to_done_s} s); received ${r.received}, duplicates ${r.duplicates}; ` +
          `load average ${r.load_average_before.join(' ')} → ${r.load_average_after.join(' ')}; machine ${r.machine_busy_pct}% busy; cpu ${Object.entries(r.cpu_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`,
    ),
    '',
    raws.length ? `raw BullMQ, mean of ${raws.length}: ${f(rawRate)} jobs/s` : '',
    ...summary.map((s) => `${s.workers} worker(s), mean of ${s.runs}: ${s.drain_s} s, ${s.events_per_s} events/s (spawn → done ${s.spawn_to_done_s} s)`),
    same && raws.length ? `Rightful ÷ raw BullMQ (${opts.rawProcesses} process(es) each) = ${f(same.events_per_s)} / ${f(rawRate)} = ${f(ratioVsRaw, 2)}×  (target >= 0.70×)  ${ratioVsRaw >= 0.7 ? 'PASS' : 'FAIL'}` : '',
    one && two ? `2 workers ÷ 1 worker = ${f(ratio, 2)}×` : '',
    busy ? `WARNING: the machine was busy (load average up to ${busiest} on ${machine.nproc} cores before a run): figures are pessimistic and the ratios noisy` : '',
  ];
  console.log(lines.filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n'));
  const out = {
    machine: { ...machine, postgres: pgVersion, redis: redisVersion },
    settings: { ...opts, adminUrl: undefined },
    runs: results,
    raw_jobs_per_s: rawRate,
    summary,
    ratio_vs_raw: ratioVsRaw,
    ratio_two_to_one: ratio,
    busy,
  };
  writeFileSync(join(RESULTS, 'backlog-latest.json'), JSON.stringify(out, null, 2) + '\n');
  log('\nwrote bench/results/backlog-latest.json');
}

await runMain('bench:backlog', main, run);
