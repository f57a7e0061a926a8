// `npm run bench:backlog`: how fast a backlog of due events drains with one worker process, and with two, on one
// Postgres and one Redis — the figure behind "add workers when the outbox backs up" (README "Scaling out").
//
// Each run starts from nothing: its own database (drop, create, migrate), a tenant, a local receiver (node:http, 204
// at once) subscribed to consent.granted, and BENCH_BACKLOG_EVENTS due `consent.granted` event rows committed in one
// INSERT while no worker runs (what piles up during a worker outage or a burst). Then N worker processes
// (src/worker.ts, as in production) start and the clock runs until every event row is fanned out, every delivery
// row is done and the receiver holds every event. Runs go in the order BENCH_BACKLOG_ORDER (1,2,2,1: A B B A, so a
// change in machine load weighs on both sides); the report gives each run, the mean per worker count, the ratio, and
// the machine's conditions (load average before and after each run, CPU per process).
//
// A private redis-server (own port, nothing persisted) holds the queues: the shared Redis is never touched. The
// run's database is dropped at the end, on failure and on Ctrl-C too.
//
// Knobs (env): BENCH_BACKLOG_EVENTS (20000), BENCH_BACKLOG_ORDER (1,2,2,1), BENCH_BACKLOG_DB (rightful_bench_backlog),
// BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_BACKLOG_TIMEOUT_S (600 per run),
// WORKER_CONCURRENCY (16, the default, per worker), DATABASE_POOL_MAX (10, per process), REDIS_SERVER.
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
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, postgresVersion, procTicks, RESULTS, runMain, sleep, ticksOf } from './processes.js';

const PIDFILE = join(RESULTS, '.backlog-pids');

const opts = {
  events: num(env.BENCH_BACKLOG_EVENTS, 20_000),
  order: (env.BENCH_BACKLOG_ORDER ?? '1,2,2,1').split(',').map(Number),
  db: env.BENCH_BACKLOG_DB ?? 'rightful_bench_backlog',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  timeoutS: num(env.BENCH_BACKLOG_TIMEOUT_S, 600),
  workerConcurrency: num(env.WORKER_CONCURRENCY, 16),
  poolMax: num(env.DATABASE_POOL_MAX, 10),
};
if (opts.order.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('BENCH_BACKLOG_ORDER: worker counts 1..8, e.g. 1,2,2,1');
if (!Number.isInteger(opts.events) || opts.events < 1 || opts.events > 1_000_000) throw new Error('BENCH_BACKLOG_EVENTS: 1..1000000');

const run = createRun({ pidFile: PIDFILE, logPrefix: 'backlog-', adminUrl: opts.adminUrl, db: opts.db, stopLast: ['redis'] });
const { children, spawnChild, stopChild, waitFor } = run;

let receiver: http.Server | null = null;
run.atCleanup(() => {
  receiver?.closeAllConnections();
  receiver?.close();
});

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const loadavg = () => os.loadavg().map((l) => round(l));
const postgresTicks = (): number => [...ticksOf('postgres').values()].reduce((sum, t) => sum + t, 0);

type RunResult = {
  workers: number;
  events: number;
  /** First row claimed by a relay → last delivery row done (the rows' own timestamps). */
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
  await runMigrations(url);
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn' });
  const pool = createPool(config.database, console);
  const services = createServices({ db: createDb(pool), keyring: createKeyring(config), allowPrivateWebhooks: true });

  const received = new Set<string>();
  let duplicates = 0;
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      const id = String(req.headers['webhook-id'] ?? '');
      if (received.has(id)) duplicates++;
      else received.add(id);
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
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
    const child = spawnChild(name, process.execPath, ['--import', 'tsx', 'src/worker.ts'], { ...common, WORKER_HEALTH_PORT: String(healthPort) });
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
    const r = (
      await pool.query<{ events_done: number; deliveries: number; deliveries_done: number; dead: number }>(
        `SELECT count(*) FILTER (WHERE topic = 'event' AND status = 'done')::int AS events_done,
                count(*) FILTER (WHERE status = 'dead')::int AS dead,
                count(*) FILTER (WHERE topic = 'webhook.delivery')::int AS deliveries,
                count(*) FILTER (WHERE topic = 'webhook.delivery' AND status = 'done')::int AS deliveries_done
           FROM outbox`,
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
              extract(epoch FROM max(finished_at)) * 1000 AS last_done,
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
  await new Promise<void>((r) => receiver!.close(() => r()));
  receiver = null;
  const loadAfter = loadavg();
  const result: RunResult = {
    workers,
    events: opts.events,
    drain_s: round(drainS),
    events_per_s: round(opts.events / drainS, 1),
    spawn_to_done_s: round((done - spawned) / 1000),
    received: received.size,
    duplicates,
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

  const results: RunResult[] = [];
  for (const [i, workers] of opts.order.entries()) results.push(await oneRun(i + 1, workers, redisUrl, secrets));

  const byWorkers = new Map<number, RunResult[]>();
  for (const r of results) byWorkers.set(r.workers, [...(byWorkers.get(r.workers) ?? []), r]);
  const mean = (rs: RunResult[], f: (r: RunResult) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  const summary = [...byWorkers].sort(([a], [b]) => a - b).map(([workers, rs]) => ({
    workers,
    runs: rs.length,
    drain_s: round(mean(rs, (r) => r.drain_s)),
    events_per_s: round(mean(rs, (r) => r.events_per_s), 1),
    spawn_to_done_s: round(mean(rs, (r) => r.spawn_to_done_s)),
  }));
  const one = summary.find((s) => s.workers === 1);
  const two = summary.find((s) => s.workers === 2);
  const ratio = one && two ? two.events_per_s / one.events_per_s : NaN;
  const busiest = Math.max(...results.map((r) => r.load_average_before[0]!));
  const busy = busiest > machine.nproc;

  const lines = [
    '',
    `Rightful backlog bench — ${machine.date}`,
    `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}`,
    `postgres ${pgVersion}; redis ${redisVersion} (private instance, noeviction, no persistence)`,
    `each worker: WORKER_CONCURRENCY ${opts.workerConcurrency}, DB pool ${Math.max(opts.poolMax, opts.workerConcurrency + 2)}; backlog ${opts.events} due consent.granted events → one endpoint (local receiver, 204 at once)`,
    '',
    ...results.map(
      (r, i) =>
        `run ${i + 1}: ${r.workers} worker(s): drain ${r.drain_s} s = ${r.events_per_s} events/s (spawn → done ${r.spawn_to_done_s} s); received ${r.received}, duplicates ${r.duplicates}; ` +
        `load average ${r.load_average_before.join(' ')} → ${r.load_average_after.join(' ')}; machine ${r.machine_busy_pct}% busy; cpu ${Object.entries(r.cpu_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`,
    ),
    '',
    ...summary.map((s) => `${s.workers} worker(s), mean of ${s.runs}: ${s.drain_s} s, ${s.events_per_s} events/s (spawn → done ${s.spawn_to_done_s} s)`),
    `2 workers ÷ 1 worker = ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'}×`,
    busy ? `WARNING: the machine was busy (load average up to ${busiest} on ${machine.nproc} cores before a run): figures are pessimistic and the ratio noisy` : '',
  ];
  console.log(lines.filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n'));
  const out = {
    machine: { ...machine, postgres: pgVersion, redis: redisVersion },
    settings: { ...opts, adminUrl: undefined },
    runs: results,
    summary,
    ratio_two_to_one: ratio,
    busy,
  };
  writeFileSync(join(RESULTS, 'backlog-latest.json'), JSON.stringify(out, null, 2) + '\n');
  log('\nwrote bench/results/backlog-latest.json');
}

await runMain('bench:backlog', main, run);
