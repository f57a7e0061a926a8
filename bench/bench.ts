// The benchmark behind `npm run bench` (bench/run.sh): builds its own database, seeds it, starts the API and a bare
// Fastify baseline as separate processes, measures with autocannon and pgbench, prints a table, writes
// bench/results/latest.json, and cleans up (servers killed, database dropped) whatever happens.
//
// Knobs (env): BENCH_DB (rightful_bench), BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_SUBJECTS (20000), BENCH_CONNECTIONS (16: autocannon connections, DB pool of both servers, pgbench clients),
// BENCH_DURATION (10 s per measurement), BENCH_WARMUP (3 s), BENCH_CHECK_CONNECTIONS (1), BENCH_CHECK_SIZE (10000),
// BENCH_WAIT_QUIET (30 s to wait for the load average to settle), BENCH_CPU_PROF=1 (V8 CPU profile of the API to
// bench/results/prof/), PGBENCH (path to pgbench),
// REDIS_URL (redis://127.0.0.1:6379; the API gets its own key prefix).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { runMigrations } from '../src/db/migrate.js';
import { seal } from '../src/lib/crypto.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, machineTicks, num, percentile, postgresVersion, procTicks, RESULTS, ROOT, runMain } from './processes.js';
import { emailOf, seed, type SeedResult } from './seed.js';

const PIDFILE = join(RESULTS, '.pids');
// What a grant names as its proof (Art. 7(1)), and that proof sealed as the service seals it, for the pgbench script.
const GRANT_EVIDENCE = { form_id: 'bench-signup-form' };
const GRANT_EVIDENCE_SEALED = seal(randomBytes(32), Buffer.from(JSON.stringify(GRANT_EVIDENCE)), 'bench-evidence');

const opts = {
  db: env.BENCH_DB ?? 'rightful_bench',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  subjects: num(env.BENCH_SUBJECTS, 20_000),
  connections: num(env.BENCH_CONNECTIONS, 16),
  duration: num(env.BENCH_DURATION, 10),
  warmup: num(env.BENCH_WARMUP, 3),
  checkConnections: num(env.BENCH_CHECK_CONNECTIONS, 1),
  checkSize: num(env.BENCH_CHECK_SIZE, 10_000),
  waitQuiet: num(env.BENCH_WAIT_QUIET, 30),
  cpuProf: env.BENCH_CPU_PROF === '1',
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};
const TARGETS = { writesVsPgbench: 0.5, readsVsBare: 0.5, checkMedianMs: 250 };

// ---------------------------------------------------------------- processes, cleanup

// Server output goes to bench/results/<name>.log (a failed request can log a large error); its tail is shown on failure.
const run = createRun({ pidFile: PIDFILE, adminUrl: opts.adminUrl, db: opts.db });

async function startServer(name: string, script: string, port: number, extraEnv: Record<string, string>, nodeArgs: string[] = []) {
  const child = run.spawnChild(name, process.execPath, [...nodeArgs, '--import', 'tsx', script], { HOST: '127.0.0.1', PORT: String(port), ...extraEnv });
  const probe = `http://127.0.0.1:${port}${name === 'api' ? '/healthz' : '/state/00000000-0000-4000-8000-000000000000'}`;
  await run.waitFor(name, child, httpOk(probe), 60, 200);
  log(`  ${name} listening on 127.0.0.1:${port} (pid ${child.pid})`);
  return child;
}

// ---------------------------------------------------------------- measuring

type CpuSample = { machineBusyPct: number; apiCpuPct: number | null };
type Row = { name: string; rps: number; p50: number; p99: number; connections: number; seconds: number; count: number; load1: number; cpu?: CpuSample };
/** One timed run: how many requests in how many seconds, every latency (ms), and the CPU it took. */
type Half = { count: number; seconds: number; latencies: number[]; cpu: CpuSample };

function cpuTimes(pid?: number): { total: number; idle: number; proc: number | null } {
  try {
    const { total, idle } = machineTicks();
    const proc = pid ? procTicks(pid) : null;
    if (pid && proc === null) throw new Error(`no /proc/${pid}/stat`);
    return { total, idle, proc };
  } catch {
    return { total: 0, idle: 0, proc: null };
  }
}

async function withCpu<T>(apiPid: number | undefined, work: () => Promise<T>): Promise<[T, CpuSample]> {
  const a = cpuTimes(apiPid);
  const t0 = Date.now();
  const out = await work();
  const b = cpuTimes(apiPid);
  const wallTicks = ((Date.now() - t0) / 1000) * 100; // USER_HZ is 100 on Linux
  const busy = b.total - a.total > 0 ? (1 - (b.idle - a.idle) / (b.total - a.total)) * 100 : NaN;
  const api = a.proc !== null && b.proc !== null ? ((b.proc - a.proc) / wallTicks) * 100 : null;
  return [out, { machineBusyPct: Math.round(busy), apiCpuPct: api === null ? null : Math.round(api) }];
}

function assertClean(name: string, r: Result) {
  const bad = r.errors + r.timeouts + r.non2xx;
  if (bad > 0) throw new Error(`${name}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCodeStats)})`);
}

/** A measurement: a name, and a function that runs it for some seconds (warm-up runs are not recorded). */
type Workload = { name: string; connections: number; run: (seconds: number, record: boolean) => Promise<Half> };

/** autocannon, recording every response time itself (autocannon's own histogram has 1 ms resolution). */
function cannon(name: string, o: Parameters<typeof autocannon>[0], apiPid?: number): Workload {
  return {
    name,
    connections: o.connections ?? 1,
    run: async (seconds, record) => {
      const latencies: number[] = [];
      const [r, cpu] = await withCpu(apiPid, async () => {
        const t = autocannon({ ...o, duration: seconds });
        if (record) t.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
        return t;
      });
      assertClean(`${name}${record ? '' : ' (warm-up)'}`, r);
      return { count: r.requests.total, seconds: r.duration, latencies, cpu };
    },
  };
}

/** Runs A and B for `seconds` each, interleaved A B B A in halves, so a change in machine load during the run
 * (other processes on a shared box) weighs on both sides alike. Warm-up first, for both. */
async function paired(a: Workload, b: Workload | null, seconds: number): Promise<Row[]> {
  const sides = b ? [a, b] : [a];
  for (const w of sides) {
    log(`- ${w.name}: warm-up ${opts.warmup}s`);
    await w.run(opts.warmup, false);
  }
  const halves = new Map<Workload, Half[]>(sides.map((w) => [w, []]));
  const order = b ? [a, b, b, a] : [a, a];
  for (const w of order) {
    log(`- ${w.name}: ${seconds / 2}s with ${w.connections} connection(s)`);
    halves.get(w)!.push(await w.run(seconds / 2, true));
  }
  return sides.map((w) => {
    const hs = halves.get(w)!;
    const lat = hs.flatMap((h) => h.latencies).sort((x, y) => x - y);
    const count = hs.reduce((n, h) => n + h.count, 0);
    const secs = hs.reduce((n, h) => n + h.seconds, 0);
    const api = hs.map((h) => h.cpu.apiCpuPct).filter((v): v is number => v !== null);
    return {
      name: w.name,
      rps: count / secs,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      connections: w.connections,
      seconds: secs,
      count,
      load1: os.loadavg()[0]!,
      cpu: {
        machineBusyPct: Math.round(hs.reduce((n, h) => n + h.cpu.machineBusyPct, 0) / hs.length),
        apiCpuPct: api.length ? Math.round(api.reduce((n, v) => n + v, 0) / api.length) : null,
      },
    };
  });
}

function pgbenchBinary(): string {
  if (env.PGBENCH) return env.PGBENCH;
  for (const p of ['/usr/lib/postgresql/15/bin/pgbench', '/usr/bin/pgbench']) if (existsSync(p)) return p;
  return 'pgbench';
}

function pgbench(s: SeedResult, hash: string): Workload {
  const bin = pgbenchBinary();
  const u = new URL(dbUrl(opts.adminUrl, opts.db));
  const common = [
    '-n',
    '-M', 'extended',
    '-c', String(opts.connections),
    '-j', String(Math.min(opts.connections, os.availableParallelism())),
    '-f', join(ROOT, 'bench', 'consent-write.sql'),
    '-D', `tenant=${s.tenantId}`,
    '-D', `purpose=${s.purposes.consent}`,
    '-D', `lo=${s.bulkFrom}`,
    '-D', `hi=${s.subjectIds.length - 1}`,
    '-D', `hash=${hash}`,
    '-D', `evidence=${GRANT_EVIDENCE_SEALED.toString('hex')}`,
    '-h', u.hostname,
    '-p', u.port || '5432',
    '-U', decodeURIComponent(u.username || 'postgres'),
    opts.db,
  ];
  return {
    name: 'pgbench consent-write.sql (same SQL)',
    connections: opts.connections,
    run: async (seconds, record) => {
      const dir = mkdtempSync(join(os.tmpdir(), 'rightful-pgbench-'));
      try {
        const args = ['-T', String(seconds), ...(record ? ['-l', '--log-prefix', join(dir, 'tx')] : []), ...common];
        const [r, cpu] = await withCpu(undefined, async () =>
          spawnSync(bin, args, { cwd: dir, encoding: 'utf8', env: { ...env, PGPASSWORD: decodeURIComponent(u.password) || env.PGPASSWORD } }),
        );
        if (r.status !== 0) throw new Error(`pgbench failed (${r.status}): ${r.stderr || r.stdout}`);
        const out = r.stdout;
        const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
        const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
        if (!Number.isFinite(tps)) throw new Error(`cannot read pgbench output:\n${out}`);
        if (failed > 0) throw new Error(`pgbench: ${failed} failed transactions\n${out}`);
        const latencies: number[] = [];
        for (const f of readdirSync(dir).filter((f) => f.startsWith('tx'))) {
          for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
            const parts = line.split(' ');
            if (parts.length >= 6) latencies.push(Number(parts[2]) / 1000); // µs → ms
          }
        }
        // tps excludes connection set-up; count / seconds reproduces it.
        return { count: Math.round(tps * seconds), seconds, latencies, cpu };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

// ---------------------------------------------------------------- what SQL does the service run?

/** "select subjects(id,tenant_id,…) for update", "insert consent_events(…)", "begin"…: a statement's kind, first
 * table and column list (selected, inserted or set), so the pgbench script can be compared with the service's SQL. */
export function shapeOf(text: string): string {
  const t = text.toLowerCase().replace(/"/g, '').replace(/\s+/g, ' ').trim();
  const verb = /^(\w+)/.exec(t)?.[1] ?? '?';
  let table: string | undefined;
  let cols: string | undefined;
  if (verb === 'select') {
    table = /\bfrom (?:unnest\(.*?\) .*?join )?([\w.]+)/.exec(t)?.[1];
    cols = /^select (.*?) from /.exec(t)?.[1]?.replace(/\b[\w]+\.(?=\w)/g, '');
  } else if (verb === 'insert') {
    const m = /^insert into ([\w.]+) \(([^)]*)\)/.exec(t);
    table = m?.[1];
    cols = m?.[2];
  } else if (verb === 'update') {
    const m = /^update ([\w.]+) set (.*?) where /.exec(t);
    table = m?.[1];
    cols = [...(m?.[2] ?? '').matchAll(/(\w+) = /g)].map((x) => x[1]).join(', ');
  }
  return [verb, table ? `${table}${cols ? `(${cols.replace(/ /g, '')})` : ''}` : undefined, / for update\b/.test(t) ? 'for update' : undefined]
    .filter(Boolean)
    .join(' ');
}

/** The statements of the pgbench script, as shapes. */
function scriptShapes(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('--') && !l.startsWith('\\'))
    .map((l) => shapeOf(l.replace(/\\gset.*$/, '')));
}

/** Runs one request of each measured kind in-process against the bench database and records the SQL the pg client
 * sends for it, so the report shows statements per request and the pgbench script is checked against the service. */
async function captureStatements(url: string, secrets: Record<string, string>, s: SeedResult, token: string, checkPayload: string) {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  let seen: string[] | null = null;
  proto.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0] as string | { text?: string };
    const text = typeof q === 'string' ? q : q?.text;
    if (seen && text) seen.push(text);
    return original.apply(this, a);
  };
  const config = loadConfig({ ...env, ...secrets, DATABASE_URL: url, LOG_LEVEL: 'warn', REDIS_URL: opts.redisUrl, REDIS_PREFIX: `rightful-bench-cap-${process.pid}`, RATE_LIMIT_MAX: '1000000000' });
  const app = await buildApp(config);
  try {
    await app.ready();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const run = async (o: { method: 'GET' | 'POST'; url: string; payload?: string }, status: number) => {
      await app.inject({ ...o, headers }); // warm caches (tenant context, JWT) so only per-request statements remain
      seen = [];
      const res = await app.inject({ ...o, headers });
      const out = seen;
      seen = null;
      if (res.statusCode !== status) throw new Error(`capture ${o.method} ${o.url}: ${res.statusCode} ${res.body}`);
      return out;
    };
    const id = s.subjectIds[s.bulkFrom]!;
    const write = await run({ method: 'POST', url: `/v1/subjects/${id}/consents`, payload: JSON.stringify({ decisions: [{ purpose: s.purposes.consent, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] }) }, 201);
    const read = await run({ method: 'GET', url: `/v1/subjects/${id}/consents` }, 200);
    const check = await run({ method: 'POST', url: '/v1/consents/check', payload: checkPayload }, 200);
    return { write: write.map(shapeOf), read: read.map(shapeOf), check: check.map(shapeOf) };
  } finally {
    proto.query = original;
    await app.close();
  }
}

// ---------------------------------------------------------------- the run

/** A deterministic mix of 10,000 identifiers: 80% seeded emails (as typed by a CRM: mixed case, padded), 20% unknown. */
function checkBody(s: SeedResult, purpose: string, size: number): string {
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
  const identifiers = Array.from({ length: size }, (_, k) =>
    k % 5 === 4
      ? { type: 'email', value: `nobody.${k}@example.org` }
      : { type: 'email', value: k % 7 === 0 ? ` ${emailOf(Math.floor(rnd() * s.subjectIds.length))} ` : emailOf(Math.floor(rnd() * s.subjectIds.length)) },
  );
  return JSON.stringify({ purpose, identifiers });
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const pgVersion = await postgresVersion(opts.adminUrl);
  const pgbenchVersion = spawnSync(pgbenchBinary(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const machine = conditions({ postgres: pgVersion, pgbench: pgbenchVersion });
  log(`machine: ${JSON.stringify(machine)}`);

  // 1. Database, seed, servers.
  log(`database ${opts.db}: drop, create, migrate`);
  await dropDatabase(opts.adminUrl, opts.db);
  const url = dbUrl(opts.adminUrl, opts.db);
  // Fresh keys for this run; the seeder (in this process) and the API must share them.
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
  Object.assign(process.env, secrets);
  log(`seeding ${opts.subjects} subjects`);
  const s = await seed({ databaseUrl: url, subjects: opts.subjects, log });
  log(`  seeded in ${s.seconds.toFixed(1)} s: ${JSON.stringify(s.counts)}`);

  const apiPort = await freePort();
  const barePort = await freePort();
  const profDir = join(RESULTS, 'prof');
  if (opts.cpuProf) mkdirSync(profDir, { recursive: true });
  const api = await startServer(
    'api',
    'src/server.ts',
    apiPort,
    {
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: url,
      DATABASE_POOL_MAX: String(opts.connections),
      REDIS_URL: opts.redisUrl,
      REDIS_PREFIX: `rightful-bench-${process.pid}`,
      RATE_LIMIT_MAX: '1000000000',
      ...secrets,
    },
    opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [],
  );
  await startServer('bare', 'bench/bare-server.ts', barePort, { DATABASE_URL: url, DATABASE_POOL_MAX: String(opts.connections) });

  const config = loadConfig({ ...env, ...secrets });
  const token = signToken(config.jwt.secret, {
    sub: 'bench',
    tid: s.tenantId,
    scope: SCOPES.join(' '),
    ttlSeconds: 3600,
    iss: config.jwt.issuer,
    aud: config.jwt.audience,
  });
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const ids = s.subjectIds;
  const purpose = s.purposes.consent;

  // The SQL the service runs per request, and whether the pgbench script still matches the write.
  const body = checkBody(s, purpose, opts.checkSize);
  const statements = await captureStatements(url, secrets, s, token, body);
  const scriptFile = join(ROOT, 'bench', 'consent-write.sql');
  const script = scriptShapes(scriptFile);
  const sqlMatches = JSON.stringify(script) === JSON.stringify(statements.write);
  const short = (xs: string[]) => xs.map((x) => x.replace(/\(.*\)/, '')).join(' | ');
  log(`  statements per write (${statements.write.length}): ${short(statements.write)}`);
  log(`  statements per read (${statements.read.length}): ${short(statements.read)}; per check (${statements.check.length}): ${short(statements.check)}`);
  if (!sqlMatches) {
    const diff = statements.write.map((w, i) => (w === script[i] ? null : `  service: ${w}\n  script:  ${script[i] ?? '(none)'}`)).filter(Boolean);
    log(`  WARNING: bench/consent-write.sql no longer matches the service's write:\n${diff.join('\n')}`);
  }

  // Sanity: each measured request answers as expected before anything is timed.
  const once = async (path: string, init: RequestInit, status: number) => {
    const res = await fetch(`${apiUrl}${path}`, init);
    if (res.status !== status) throw new Error(`sanity ${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  await once(`/v1/subjects/${ids[1]}/consents`, { method: 'POST', headers: json, body: JSON.stringify({ decisions: [{ purpose, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] }) }, 201);
  await once(`/v1/subjects/${ids[1]}/consents`, { headers: auth }, 200);
  const checked = (await once('/v1/consents/check', { method: 'POST', headers: json, body }, 200)) as { results: { reason: string }[] };
  const reasons: Record<string, number> = {};
  for (const r of checked.results) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
  log(`  check sanity: ${checked.results.length} results ${JSON.stringify(reasons)}`);

  // A shared box: give a burst of other work up to BENCH_WAIT_QUIET seconds to pass, then measure anyway and say so.
  const nproc = os.availableParallelism();
  for (let waited = 0; os.loadavg()[0]! > nproc && waited < opts.waitQuiet; waited += 2) {
    if (waited === 0) log(`  load average ${os.loadavg()[0]!.toFixed(2)} > ${nproc} cores: waiting up to ${opts.waitQuiet}s for it to settle`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const loadAtStart = os.loadavg()[0]!;

  // 2. Measurements. Every request rotates over the seeded subjects.
  let cursor = 0;
  const nextId = () => ids[cursor++ % ids.length]!;
  const bareW = cannon('bare Fastify + pg: 1 indexed select', {
    url: `http://127.0.0.1:${barePort}`,
    connections: opts.connections,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/state/${nextId()}` }) }],
  });
  const readsW = cannon(
    'state reads: GET /v1/subjects/{id}/consents',
    {
      url: apiUrl,
      connections: opts.connections,
      requests: [{ method: 'GET', headers: auth, setupRequest: (req) => ({ ...req, path: `/v1/subjects/${nextId()}/consents` }) }],
    },
    api.pid,
  );
  let flip = 0;
  const bodies = ['grant', 'withdraw'].map((action) =>
    JSON.stringify({ decisions: [{ purpose, action, source: 'api', ...(action === 'grant' ? { evidence: GRANT_EVIDENCE } : {}) }] }),
  );
  const writesW = cannon(
    'consent writes: POST /v1/subjects/{id}/consents',
    {
      url: apiUrl,
      connections: opts.connections,
      requests: [{ method: 'POST', headers: json, setupRequest: (req) => ({ ...req, path: `/v1/subjects/${nextId()}/consents`, body: bodies[flip++ % 2] }) }],
    },
    api.pid,
  );
  const checkW = cannon(
    `campaign check: POST /v1/consents/check (${opts.checkSize} ids)`,
    { url: apiUrl, connections: opts.checkConnections, timeout: 30, requests: [{ method: 'POST', path: '/v1/consents/check', headers: json, body }] },
    api.pid,
  );
  const [bare, reads] = (await paired(bareW, readsW, opts.duration)) as [Row, Row];
  const [writes, bench] = (await paired(writesW, pgbench(s, 'a'.repeat(64)), opts.duration)) as [Row, Row];
  const [check] = (await paired(checkW, null, opts.duration)) as [Row];
  const rows = [bare, reads, writes, bench, check];

  // 3. Report.
  const ratios = {
    writes_vs_pgbench: writes.rps / bench.rps,
    reads_vs_bare: reads.rps / bare.rps,
  };
  const targets = {
    writes_vs_pgbench: { target: `>= ${TARGETS.writesVsPgbench}`, value: ratios.writes_vs_pgbench, pass: ratios.writes_vs_pgbench >= TARGETS.writesVsPgbench },
    reads_vs_bare: { target: `>= ${TARGETS.readsVsBare}`, value: ratios.reads_vs_bare, pass: ratios.reads_vs_bare >= TARGETS.readsVsBare },
    check_median_ms: { target: `< ${TARGETS.checkMedianMs}`, value: check.p50, pass: check.p50 < TARGETS.checkMedianMs },
  };
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const pad = (v: string, w: number, left = false) => (left ? v.padEnd(w) : v.padStart(w));
  const lines: string[] = [];
  lines.push('');
  lines.push(`Rightful bench — ${machine.date}`);
  lines.push(
    `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}; ` +
      `load average before: ${machine.load_average_before.join(' ')}`,
  );
  lines.push(`postgres ${machine.postgres}; ${machine.pgbench}`);
  lines.push(`seed: ${s.counts.subjects} subjects (${s.counts.granted} granted, ${s.counts.withdrawn} withdrawn, ${s.counts.no_consent} no consent, ${s.counts.objected} objected), ${s.counts.events} events`);
  lines.push(`each measurement: ${opts.warmup}s warm-up + ${opts.duration}s, run as two halves interleaved with its baseline (A B B A); DB pool of both servers = pgbench clients = ${opts.connections}`);
  lines.push('');
  const head = `${pad('measurement', 52, true)}${pad('conns', 6)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('requests', 10)}${pad('load1', 7)}${pad('cpu%', 6)}${pad('api%', 6)}`;
  lines.push(head);
  lines.push('-'.repeat(head.length));
  for (const r of rows) {
    lines.push(
      `${pad(r.name, 52, true)}${pad(String(r.connections), 6)}${pad(f1(r.rps), 10)}${pad(f1(r.p50), 9)}${pad(f1(r.p99), 9)}${pad(String(r.count), 10)}` +
        `${pad(r.load1.toFixed(2), 7)}${pad(String(r.cpu?.machineBusyPct ?? '-'), 6)}${pad(String(r.cpu?.apiCpuPct ?? '-'), 6)}`,
    );
  }
  lines.push('');
  const verdict = (b: boolean) => (b ? 'PASS' : 'FAIL');
  lines.push(`consent writes / pgbench TPS    = ${f1(writes.rps)} / ${f1(bench.rps)} = ${(ratios.writes_vs_pgbench * 100).toFixed(0)}%  (target >= 50%)  ${verdict(targets.writes_vs_pgbench.pass)}`);
  lines.push(`state reads / bare route req/s  = ${f1(reads.rps)} / ${f1(bare.rps)} = ${(ratios.reads_vs_bare * 100).toFixed(0)}%  (target >= 50%)  ${verdict(targets.reads_vs_bare.pass)}`);
  lines.push(`10k-identifier check median     = ${f1(check.p50)} ms, p99 ${f1(check.p99)} ms  (target < 250 ms)  ${verdict(targets.check_median_ms.pass)}`);
  lines.push(`check answers: ${JSON.stringify(reasons)}`);
  if (loadAtStart > nproc || rows.some((r) => r.load1 > nproc * 1.5)) {
    lines.push(
      `WARNING: the machine was busy with other work (load average ${loadAtStart.toFixed(2)} when measuring started, up to ` +
        `${Math.max(...rows.map((r) => r.load1)).toFixed(2)} during, on ${nproc} cores): the ratios move with it; rerun on a quiet machine to compare runs.`,
    );
  }
  lines.push(`SQL statements per request: write ${statements.write.length}, read ${statements.read.length}, check ${statements.check.length}; ` +
    (sqlMatches
      ? 'bench/consent-write.sql matches the write statement for statement (kind, table, columns)'
      : 'bench/consent-write.sql DOES NOT MATCH the service\'s write (see the warning above): the writes ratio is not meaningful'));
  lines.push('(latencies from every response; cpu% = whole machine busy during the measured runs, api% = the API process, 100 = one core)');
  console.log(lines.join('\n'));

  const out = {
    machine,
    settings: { ...opts, adminUrl: undefined, targets: TARGETS },
    seed: { counts: s.counts, seconds: s.seconds },
    measurements: rows,
    ratios,
    targets,
    load_average_when_measuring_started: loadAtStart,
    check_reasons: reasons,
    statements: { ...statements, pgbench_script: script, pgbench_script_matches_service: sqlMatches },
    pass: Object.values(targets).every((t) => t.pass),
  };
  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(out, null, 2) + '\n');
  log(`\nwrote ${join('bench', 'results', 'latest.json')}`);
}

await runMain('bench', main, run);
