// `npm run bench:overload`: what the consent write path does when offered four times what it can take (INV-8).
// Its own database (seeded by bench/seed.ts) and the API (src/server.ts) as a child process on loopback, as
// `npm run bench` runs them. Four phases, measured in one run:
//   1. capacity: closed loop, BENCH_CONNECTIONS (16) connections, BENCH_DURATION (10) s after a 3 s warm-up: req/s
//      and latency; and the normal latency of one request at a time (3 s), the baseline for recovery;
//   2. burst: an offered load of BENCH_OVERLOAD_FACTOR (4) × capacity (autocannon overallRate) for BENCH_BURST (15) s,
//      every answer counted by status; a side prober (10 req/s) reads the headers: a 429 or 503 must carry
//      Retry-After and be a problem;
//   3. recovery: one request at a time from the end of the burst until 20 in a row are 201 with a median within
//      1.5 × the normal latency: the time that takes;
//   4. capacity again (5 s closed loop), against phase 1.
// The rate limit is lifted (RATE_LIMIT_MAX=1e9, as in `npm run bench`) so the server itself must shed, not the
// per-client limiter. Results in bench/results/overload-latest.json; child output in bench/results/overload-*.log.
//
// Knobs (env): BENCH_OVERLOAD_DB (rightful_bench_overload), BENCH_ADMIN_URL, BENCH_OVERLOAD_SUBJECTS (5000),
// BENCH_CONNECTIONS (16; also the API's DB pool), BENCH_DURATION (10), BENCH_OVERLOAD_FACTOR (4), BENCH_BURST (15),
// BENCH_BURST_CONNECTIONS (offered rate × 1 s, 64..1000), REDIS_URL (redis://127.0.0.1:6379; own key prefix).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon, { type Options, type Result } from 'autocannon';
import { loadConfig } from '../src/config.js';
import { runMigrations } from '../src/db/migrate.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, num, percentile, postgresVersion, procTicks, RESULTS, runMain, sleep, type Run } from './processes.js';
import { seed } from './seed.js';

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

export type BenchApi = { url: string; pid: number; auth: Record<string, string>; writeRequest: Options['requests']; write: (i: number) => { path: string; body: string } };

/** Drops, creates, migrates and seeds `db`, starts the API on it (a child of `run`), and returns how to write. */
export async function startBenchApi(run: Run, o: { adminUrl: string; db: string; subjects: number; pool: number; extraEnv?: Record<string, string> }): Promise<BenchApi> {
  log(`database ${o.db}: drop, create, migrate, seed ${o.subjects} subjects`);
  await dropDatabase(o.adminUrl, o.db);
  const url = dbUrl(o.adminUrl, o.db);
  const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
  await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
  Object.assign(process.env, secrets);
  const s = await seed({ databaseUrl: url, subjects: o.subjects, log });
  const port = await freePort();
  const child = run.spawnChild('api', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(o.pool),
    REDIS_URL: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `rightful-bench-${process.pid}`,
    RATE_LIMIT_MAX: '1000000000',
    ...secrets,
    ...o.extraEnv,
  });
  await run.waitFor('api', child, httpOk(`http://127.0.0.1:${port}/healthz`), 60, 200);
  log(`  api listening on 127.0.0.1:${port} (pid ${child.pid})`);
  const config = loadConfig({ ...env, ...secrets });
  const token = signToken(config.jwt.secret, { sub: 'bench', tid: s.tenantId, scope: SCOPES.join(' '), ttlSeconds: 86_400, iss: config.jwt.issuer, aud: config.jwt.audience });
  const auth = { authorization: `Bearer ${token}` };
  const bodies = ['grant', 'withdraw'].map((action) => JSON.stringify({ decisions: [{ purpose: s.purposes.consent, action, source: 'api', ...(action === 'grant' ? { evidence: { form_id: 'bench' } } : {}) }] }));
  let cursor = 0;
  const write = (i: number) => ({ path: `/v1/subjects/${s.subjectIds[i % s.subjectIds.length]}/consents`, body: bodies[Math.floor(i / s.subjectIds.length) % 2]! });
  const headers = { ...auth, 'content-type': 'application/json' };
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    auth: headers,
    write,
    writeRequest: [{ method: 'POST', headers, setupRequest: (req) => ({ ...req, ...write(cursor++) }) }],
  };
}

export type Measured = { result: Result; latencies: number[]; statuses: Record<string, number>; byTime: { at: number; ms: number; status: number }[] };

/** autocannon, recording every response's status and time itself. */
export async function cannon(o: Options & { overallRate?: number }, keep = false): Promise<Measured> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const byTime: Measured['byTime'] = [];
  const inst = autocannon(o as Options);
  inst.on('response', (_c, status, _b, ms) => {
    latencies.push(ms);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (keep) byTime.push({ at: Date.now(), ms, status });
  });
  const result = await inst;
  latencies.sort((a, b) => a - b);
  return { result, latencies, statuses, byTime };
}

/** One request at a time for `seconds`: the latency of a lone request (ms, sorted) and the statuses. */
async function lone(api: BenchApi, seconds: number, from: number): Promise<{ latencies: number[]; statuses: number[] }> {
  const latencies: number[] = [];
  const statuses: number[] = [];
  const end = Date.now() + seconds * 1000;
  for (let i = from; Date.now() < end; i++) {
    const { path, body } = api.write(i);
    const t0 = performance.now();
    const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: api.auth, body });
    await res.arrayBuffer();
    latencies.push(performance.now() - t0);
    statuses.push(res.status);
  }
  return { latencies: latencies.sort((a, b) => a - b), statuses };
}

async function main(): Promise<void> {
  const opts = {
    db: env.BENCH_OVERLOAD_DB ?? 'rightful_bench_overload',
    adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    subjects: num(env.BENCH_OVERLOAD_SUBJECTS, 5000),
    connections: num(env.BENCH_CONNECTIONS, 16),
    duration: num(env.BENCH_DURATION, 10),
    factor: num(env.BENCH_OVERLOAD_FACTOR, 4),
    burst: num(env.BENCH_BURST, 15),
  };
  mkdirSync(RESULTS, { recursive: true });
  const machine = conditions({ postgres: await postgresVersion(opts.adminUrl) });
  const run = createRun({ pidFile: join(RESULTS, '.overload-pids'), logPrefix: 'overload-', adminUrl: opts.adminUrl, db: opts.db });
  await runMain(
    'bench:overload',
    async () => {
      run.killLeftovers(/src\/server\.ts/);
      const api = await startBenchApi(run, { adminUrl: opts.adminUrl, db: opts.db, subjects: opts.subjects, pool: opts.connections });
      const rss = () => rssMb(api.pid);
      const base = { url: api.url, requests: api.writeRequest, timeout: 10 };

      // 1. Capacity and normal latency.
      log(`- warm-up 3 s, then capacity: ${opts.duration} s closed loop, ${opts.connections} connections`);
      await cannon({ ...base, connections: opts.connections, duration: 3 });
      const cap = await cannon({ ...base, connections: opts.connections, duration: opts.duration });
      const capacity = cap.result.requests.total / cap.result.duration;
      const normal = await lone(api, 3, 1_000_000);
      const normalP50 = percentile(normal.latencies, 50);
      log(`  capacity ${f1(capacity)} req/s (p50 ${f1(percentile(cap.latencies, 50))} ms, p99 ${f1(percentile(cap.latencies, 99))} ms, ${JSON.stringify(cap.statuses)}); one at a time p50 ${f1(normalP50)} ms`);

      // 2. The burst, with a prober reading the headers of what comes back.
      const rate = Math.round(capacity * opts.factor);
      const burstConnections = num(env.BENCH_BURST_CONNECTIONS, Math.min(1000, Math.max(64, rate)));
      log(`- burst: offered ${rate} req/s (${opts.factor} × capacity) for ${opts.burst} s over ${burstConnections} connections`);
      const probes: { status: number; retryAfter: string | null; type: string | null; code: string | null; ms: number }[] = [];
      let probing = true;
      const prober = (async () => {
        for (let i = 2_000_000; probing; i++) {
          const { path, body } = api.write(i);
          const t0 = performance.now();
          try {
            const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: api.auth, body, signal: AbortSignal.timeout(15_000) });
            const text = await res.text();
            let code: string | null = null;
            if (res.status >= 400) code = (JSON.parse(text) as { code?: string }).code ?? null;
            probes.push({ status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), code, ms: performance.now() - t0 });
          } catch (err) {
            probes.push({ status: 0, retryAfter: null, type: null, code: (err as Error).name, ms: performance.now() - t0 });
          }
          await sleep(100);
        }
      })();
      const ticks0 = procTicks(api.pid);
      const rssBefore = rss();
      const burstStart = Date.now();
      const burst = await cannon({ ...base, connections: burstConnections, duration: opts.burst, overallRate: rate }, true);
      const ok2xx = burst.byTime.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.ms).sort((a, b) => a - b);
      const burstEnd = Date.now();
      const apiCpu = ((procTicks(api.pid)! - ticks0!) / (((burstEnd - burstStart) / 1000) * 100)) * 100;
      const rssPeak = rss();
      probing = false;
      await prober;
      const answered = burst.result.requests.total;
      log(`  answered ${answered} (${f1(answered / burst.result.duration)}/s), statuses ${JSON.stringify(burst.statuses)}, errors ${burst.result.errors}, timeouts ${burst.result.timeouts}`);

      // 3. Recovery: one at a time until 20 in a row are 201 with a normal median.
      const window: { ms: number; status: number; at: number }[] = [];
      let recoveredAfter = NaN;
      for (let i = 3_000_000; Date.now() - burstEnd < 60_000; i++) {
        const { path, body } = api.write(i);
        const at = Date.now();
        const t0 = performance.now();
        const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: api.auth, body });
        await res.arrayBuffer();
        window.push({ ms: performance.now() - t0, status: res.status, at });
        if (window.length > 20) window.shift();
        const sorted = window.map((w) => w.ms).sort((a, b) => a - b);
        if (window.length === 20 && window.every((w) => w.status === 201) && percentile(sorted, 50) <= 1.5 * normalP50) {
          recoveredAfter = (window[0]!.at - burstEnd) / 1000;
          break;
        }
      }
      log(`  recovered ${f1(recoveredAfter)} s after the burst`);

      // 4. Capacity again.
      const after = await cannon({ ...base, connections: opts.connections, duration: 5 });
      const capacityAfter = after.result.requests.total / after.result.duration;

      // Verdicts (INV-8): only 2xx, 429 or 503 come back; every 429/503 seen has Retry-After and is a problem.
      const statusesSeen = Object.keys(burst.statuses).map(Number);
      const onlyShed = statusesSeen.every((s) => (s >= 200 && s < 300) || s === 429 || s === 503);
      const shedProbes = probes.filter((p) => p.status === 429 || p.status === 503);
      const probesOk = probes.every((p) => (p.status >= 200 && p.status < 300) || ((p.status === 429 || p.status === 503) && Number(p.retryAfter) > 0 && /^application\/problem\+json/.test(p.type ?? '')));
      const noLoss = burst.result.errors === 0 && burst.result.timeouts === 0;
      const recovered = Number.isFinite(recoveredAfter);
      const probeCodes: Record<string, number> = {};
      for (const p of probes) probeCodes[`${p.status}${p.code ? ` ${p.code}` : ''}`] = (probeCodes[`${p.status}${p.code ? ` ${p.code}` : ''}`] ?? 0) + 1;
      const verdict = (b: boolean) => (b ? 'PASS' : 'FAIL');
      const shed = Object.entries(burst.statuses).filter(([s]) => s === '429' || s === '503').reduce((n, [, c]) => n + c, 0);

      const lines = [
        '',
        `Rightful overload bench — ${machine.date}`,
        `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}; load average before: ${machine.load_average_before.join(' ')}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
        `postgres ${machine.postgres}; API pool ${opts.connections}; rate limit lifted (RATE_LIMIT_MAX=1e9); autocannon, the API, Postgres and Redis share the machine`,
        '',
        `capacity (closed loop, ${opts.connections} conns, ${opts.duration} s): ${f1(capacity)} req/s, p50 ${f1(percentile(cap.latencies, 50))} ms, p99 ${f1(percentile(cap.latencies, 99))} ms, ${JSON.stringify(cap.statuses)}`,
        `normal latency (one request at a time, 3 s): p50 ${f1(normalP50)} ms, p99 ${f1(percentile(normal.latencies, 99))} ms`,
        `burst: offered ${rate} req/s (${opts.factor} × capacity) for ${opts.burst} s over ${burstConnections} connections; sent ${burst.result.requests.sent ?? '?'}, answered ${answered} = ${f1(answered / burst.result.duration)}/s`,
        `  statuses ${JSON.stringify(burst.statuses)}; shed ${shed} (${f1((shed / Math.max(1, answered)) * 100)} %); errors ${burst.result.errors}, timeouts (> 10 s) ${burst.result.timeouts}`,
        `  2xx latency p50 ${f1(percentile(ok2xx, 50))} ms, p99 ${f1(percentile(ok2xx, 99))} ms; all answers p99 ${f1(percentile(burst.latencies, 99))} ms, max ${f1(burst.latencies.at(-1) ?? NaN)} ms; API CPU ${f1(apiCpu)} % (100 = one core); API RSS ${f1(rssBefore)} → ${f1(rssPeak)} MB`,
        `  prober (10/s, headers read): ${JSON.stringify(probeCodes)}; ${shedProbes.length} shed answers, all with Retry-After and problem+json: ${shedProbes.every((p) => Number(p.retryAfter) > 0 && /^application\/problem\+json/.test(p.type ?? ''))}`,
        `recovery: 20 requests in a row at 201 with median <= 1.5 × normal, ${f1(recoveredAfter)} s after the burst`,
        `capacity after: ${f1(capacityAfter)} req/s = ${f1((capacityAfter / capacity) * 100)} % of before (${JSON.stringify(after.statuses)})`,
        '',
        `only 2xx, 429 or 503 during the burst          ${verdict(onlyShed)}`,
        `every 429/503 probed has Retry-After, problem   ${verdict(probesOk)}`,
        `no connection error or timeout (nothing queued without bound) ${verdict(noLoss)}`,
        `recovers by itself within 60 s                  ${verdict(recovered)}`,
      ];
      if (machine.load_average_before[0]! > machine.nproc) lines.push(`WARNING: the machine was busy before the run (load average ${machine.load_average_before[0]} on ${machine.nproc} cores); figures move with it.`);
      console.log(lines.join('\n'));
      writeFileSync(
        join(RESULTS, 'overload-latest.json'),
        JSON.stringify(
          {
            machine,
            settings: { ...opts, adminUrl: undefined, burstConnections, rate },
            capacity: { rps: capacity, p50: percentile(cap.latencies, 50), p99: percentile(cap.latencies, 99), statuses: cap.statuses },
            normal: { p50: normalP50, p99: percentile(normal.latencies, 99) },
            burst: { statuses: burst.statuses, answered, sent: burst.result.requests.sent, errors: burst.result.errors, timeouts: burst.result.timeouts, p99: percentile(burst.latencies, 99), api_cpu_pct: apiCpu, rss_mb: [rssBefore, rssPeak], probes: probeCodes },
            recovery_s: recoveredAfter,
            capacity_after: capacityAfter,
            pass: { onlyShed, probesOk, noLoss, recovered },
          },
          null,
          2,
        ) + '\n',
      );
      if (!(onlyShed && probesOk && noLoss && recovered)) process.exitCode = 1;
    },
    run,
  );
}

/** A process's resident set size in MB (NaN when it cannot be read). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
