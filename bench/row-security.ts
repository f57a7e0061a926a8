// `npm run bench:rls` — what row-level security costs on the hot paths, against the service as it was before it
// (the commit before migrations/0013_row_level_security.sql landed, or BENCH_RLS_BASELINE), in the same run.
//
// Two databases seeded alike; the service of today (its API, logged in as the application role under forced
// policies) and the baseline (checked out into a temporary git worktree, its API logged in as the database owner, as
// it was) run side by side. Each hot path is measured on both, interleaved A B B A in halves so a change of load on
// a shared machine weighs on both alike: consent writes, state reads and the 10,000-identifier campaign check.
// Target: each costs under 15 % of its baseline's throughput.
//
// Knobs (env): BENCH_RLS_BASELINE (a git ref), BENCH_ADMIN_URL, BENCH_SUBJECTS (20000), BENCH_CONNECTIONS (16),
// BENCH_DURATION (10 s per side per path), BENCH_WARMUP (3 s), BENCH_CHECK_SIZE (10000), REDIS_URL.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon, { type Request as CannonRequest } from 'autocannon';
import { loadConfig } from '../src/config.js';
import { runMigrations } from '../src/db/migrate.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, num, percentile, postgresVersion, RESULTS, ROOT, runMain } from './processes.js';
import { emailOf, seed, type SeedResult } from './seed.js';

const opts = {
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  subjects: num(env.BENCH_SUBJECTS, 20_000),
  connections: num(env.BENCH_CONNECTIONS, 16),
  duration: num(env.BENCH_DURATION, 10),
  warmup: num(env.BENCH_WARMUP, 3),
  checkSize: num(env.BENCH_CHECK_SIZE, 10_000),
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};
const TARGET_COST = 0.15;
const DB = { today: 'rightful_bench_rls', baseline: 'rightful_bench_rls_baseline' };

const run = createRun({ pidFile: join(RESULTS, '.pids-rls'), logPrefix: 'rls-', adminUrl: opts.adminUrl, db: DB.today });

/** The commit before row-level security, unless BENCH_RLS_BASELINE names another. */
function baselineRef(): string {
  if (env.BENCH_RLS_BASELINE) return env.BENCH_RLS_BASELINE;
  const added = execFileSync('git', ['log', '--diff-filter=A', '--format=%H', '--', 'migrations/0013_row_level_security.sql'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop();
  if (!added) throw new Error('row-level security is not committed yet: name the baseline with BENCH_RLS_BASELINE (e.g. HEAD)');
  return `${added}^`;
}

type Side = { name: 'baseline' | 'today'; url: string; pid: number };
type Half = { count: number; seconds: number; latencies: number[] };

async function measure(side: Side, seconds: number, request: CannonRequest, connections: number, record: boolean): Promise<Half> {
  const latencies: number[] = [];
  const instance = autocannon({ url: side.url, connections, duration: seconds, timeout: 30, requests: [request] });
  if (record) instance.on('response', (_c: unknown, _s: number, _b: number, ms: number) => latencies.push(ms));
  const r = await instance;
  const bad = r.errors + r.timeouts + r.non2xx;
  if (bad > 0) throw new Error(`${side.name}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCodeStats)})`);
  return { count: r.requests.total, seconds: r.duration, latencies };
}

async function compare(path: string, sides: [Side, Side], request: (side: Side) => CannonRequest, connections: number) {
  for (const s of sides) await measure(s, opts.warmup, request(s), connections, false);
  const halves = new Map<string, Half[]>(sides.map((s) => [s.name, []]));
  for (const s of [sides[0], sides[1], sides[1], sides[0]]) {
    log(`- ${path}, ${s.name}: ${opts.duration / 2}s with ${connections} connection(s)`);
    halves.get(s.name)!.push(await measure(s, opts.duration / 2, request(s), connections, true));
  }
  const stats = sides.map((s) => {
    const hs = halves.get(s.name)!;
    const lat = hs.flatMap((h) => h.latencies).sort((a, b) => a - b);
    return { rps: hs.reduce((n, h) => n + h.count, 0) / hs.reduce((n, h) => n + h.seconds, 0), p50: percentile(lat, 50), p99: percentile(lat, 99) };
  });
  const [base, today] = stats as [(typeof stats)[0], (typeof stats)[0]];
  return { path, baseline: base, today, cost: 1 - today.rps / base.rps };
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const machine = conditions({ postgres: await postgresVersion(opts.adminUrl) });
  const ref = baselineRef();
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  log(`bench:rls — today against ${commit} (before row-level security); ${JSON.stringify(machine)}`);

  // The baseline's code, in a worktree sharing this checkout's node_modules.
  const worktree = mkdtempSync(join(os.tmpdir(), 'rightful-rls-baseline-'));
  rmSync(worktree, { recursive: true });
  execFileSync('git', ['worktree', 'add', '--detach', worktree, commit], { cwd: ROOT, stdio: 'ignore' });
  run.atCleanup(() => {
    spawnSync('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT, stdio: 'ignore' });
    log(`  removed worktree ${worktree}`);
  });
  symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'));
  run.atCleanup(() => void dropDatabase(opts.adminUrl, DB.baseline).catch(() => {}));

  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  Object.assign(process.env, secrets);
  const urls = { today: dbUrl(opts.adminUrl, DB.today), baseline: dbUrl(opts.adminUrl, DB.baseline) };
  for (const db of Object.values(DB)) await dropDatabase(opts.adminUrl, db);
  await runMigrations(urls.today, loadConfig({ ...secrets, DATABASE_URL: urls.today }).database.appRole);
  const migrated = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts'], { cwd: worktree, env: { ...env, ...secrets, DATABASE_URL: urls.baseline }, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`baseline migration failed: ${migrated.stderr}`);
  const seeds: Record<string, SeedResult> = {};
  for (const [name, url] of Object.entries(urls)) {
    log(`seeding ${opts.subjects} subjects (${name})`);
    seeds[name] = await seed({ databaseUrl: url, subjects: opts.subjects });
  }

  const sides: Side[] = [];
  for (const name of ['baseline', 'today'] as const) {
    const port = await freePort();
    const script = name === 'today' ? join(ROOT, 'src/server.ts') : join(worktree, 'src/server.ts');
    const child = run.spawnChild(`api-${name}`, process.execPath, ['--import', 'tsx', script], {
      HOST: '127.0.0.1',
      PORT: String(port),
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: urls[name],
      DATABASE_POOL_MAX: String(opts.connections),
      REDIS_URL: opts.redisUrl,
      REDIS_PREFIX: `rightful-bench-rls-${name}-${process.pid}`,
      RATE_LIMIT_MAX: '1000000000',
      ...secrets,
    });
    await run.waitFor(`api-${name}`, child, httpOk(`http://127.0.0.1:${port}/healthz`), 60, 200);
    sides.push({ name, url: `http://127.0.0.1:${port}`, pid: child.pid! });
  }

  const config = loadConfig({ ...env, ...secrets });
  const headersOf = (side: Side) => {
    const token = signToken(config.jwt.secret, { sub: 'bench', tid: seeds[side.name]!.tenantId, scope: SCOPES.join(' '), ttlSeconds: 3600, iss: config.jwt.issuer, aud: config.jwt.audience });
    return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  };
  const cursor = { baseline: 0, today: 0 };
  const nextId = (side: Side) => seeds[side.name]!.subjectIds[cursor[side.name]++ % seeds[side.name]!.subjectIds.length]!;
  const flips = { baseline: 0, today: 0 };
  const checkBody = (side: Side) => {
    const s = seeds[side.name]!;
    const identifiers = Array.from({ length: opts.checkSize }, (_, k) => ({ type: 'email', value: k % 5 === 4 ? `nobody.${k}@example.org` : emailOf((k * 7919) % s.subjectIds.length) }));
    return JSON.stringify({ purpose: s.purposes.consent, identifiers });
  };
  const checkBodies = Object.fromEntries(sides.map((s) => [s.name, checkBody(s)]));

  // Sanity: each path answers alike on both sides before anything is timed.
  for (const side of sides) {
    const h = headersOf(side);
    const purpose = seeds[side.name]!.purposes.consent;
    const id = seeds[side.name]!.subjectIds[1]!;
    const w = await fetch(`${side.url}/v1/subjects/${id}/consents`, { method: 'POST', headers: h, body: JSON.stringify({ decisions: [{ purpose, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] }) });
    const r = await fetch(`${side.url}/v1/subjects/${id}/consents`, { headers: h });
    const c = await fetch(`${side.url}/v1/consents/check`, { method: 'POST', headers: h, body: checkBodies[side.name] });
    if (w.status !== 201 || r.status !== 200 || c.status !== 200) throw new Error(`sanity ${side.name}: write ${w.status} ${await w.text()}, read ${r.status}, check ${c.status}`);
  }

  const results = [
    await compare(
      'consent writes: POST /v1/subjects/{id}/consents',
      sides as [Side, Side],
      (side) => ({
        method: 'POST',
        headers: headersOf(side),
        setupRequest: (req) => ({
          ...req,
          path: `/v1/subjects/${nextId(side)}/consents`,
          body: JSON.stringify({
            decisions: [flips[side.name]++ % 2 ? { purpose: seeds[side.name]!.purposes.consent, action: 'withdraw', source: 'api' } : { purpose: seeds[side.name]!.purposes.consent, action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }],
          }),
        }),
      }),
      opts.connections,
    ),
    await compare('state reads: GET /v1/subjects/{id}/consents', sides as [Side, Side], (side) => ({ method: 'GET', headers: headersOf(side), setupRequest: (req) => ({ ...req, path: `/v1/subjects/${nextId(side)}/consents` }) }), opts.connections),
    await compare(`campaign check: POST /v1/consents/check (${opts.checkSize} ids)`, sides as [Side, Side], (side) => ({ method: 'POST', path: '/v1/consents/check', headers: headersOf(side), body: checkBodies[side.name] }), 1),
  ];

  const f = (n: number) => n.toFixed(1);
  console.log(`\nbench:rls — ${new Date().toISOString().slice(0, 10)}, baseline ${commit}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end\n`);
  console.log('| hot path | baseline req/s (p50 / p99 ms) | row-level security req/s (p50 / p99 ms) | cost |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    const cell = (x: typeof r.today) => `${f(x.rps)} (${f(x.p50)} / ${f(x.p99)})`;
    console.log(`| ${r.path} | ${cell(r.baseline)} | ${cell(r.today)} | **${(r.cost * 100).toFixed(1)} %** ${r.cost < TARGET_COST ? '(< 15 %)' : '(target 15 %: not met)'} |`);
  }
  writeFileSync(join(RESULTS, 'rls-latest.json'), JSON.stringify({ machine, baseline: commit, results }, null, 2));
  if (!existsSync(worktree)) log('worktree already gone');
}

await runMain('bench:rls', main, run);
