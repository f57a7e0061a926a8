// `npm run bench:soak`: the consent write path at a steady rate for SOAK_MINUTES (10) minutes — does the API's memory
// creep, does its latency drift? Same set-up as bench/overload.ts (own database, seeded; the API as a child process on
// loopback; rate limit lifted). The baseline is the run's own first minute: capacity is measured first (3 s warm-up,
// 10 s closed loop, BENCH_CONNECTIONS connections), then autocannon offers SOAK_FRACTION (0.5) × capacity
// (or SOAK_RATE req/s) over SOAK_CONNECTIONS (32) connections. The API's RSS is read from /proc every 5 s.
// Per minute: requests, answers by status, p50/p99 latency, median RSS, load average. Verdicts: RSS drift (median of
// the last minute against the first) under 10 %; p99 stable (no minute above 2 × the median of the minutes' p99s);
// every answer 2xx. Results in bench/results/soak-latest.json.
//
// Knobs (env): SOAK_MINUTES (10), SOAK_FRACTION (0.5), SOAK_RATE, SOAK_CONNECTIONS (32), BENCH_SOAK_DB
// (rightful_bench_soak), BENCH_ADMIN_URL, BENCH_SOAK_SUBJECTS (5000), BENCH_CONNECTIONS (16; also the API's DB pool),
// REDIS_URL.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { cannon, rssMb, startBenchApi } from './overload.js';
import { conditions, createRun, env, log, num, percentile, postgresVersion, RESULTS, runMain } from './processes.js';

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

const opts = {
  minutes: num(env.SOAK_MINUTES, 10),
  fraction: num(env.SOAK_FRACTION, 0.5),
  rate: env.SOAK_RATE ? num(env.SOAK_RATE, 0) : null,
  soakConnections: num(env.SOAK_CONNECTIONS, 32),
  db: env.BENCH_SOAK_DB ?? 'rightful_bench_soak',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  subjects: num(env.BENCH_SOAK_SUBJECTS, 5000),
  connections: num(env.BENCH_CONNECTIONS, 16),
};
if (!(opts.minutes >= 2)) throw new Error('SOAK_MINUTES: at least 2 (the first and the last minute are compared)');

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const machine = conditions({ postgres: await postgresVersion(opts.adminUrl) });
  const run = createRun({ pidFile: join(RESULTS, '.soak-pids'), logPrefix: 'soak-', adminUrl: opts.adminUrl, db: opts.db });
  await runMain(
    'bench:soak',
    async () => {
      run.killLeftovers(/src\/server\.ts/);
      const api = await startBenchApi(run, { adminUrl: opts.adminUrl, db: opts.db, subjects: opts.subjects, pool: opts.connections });
      const base = { url: api.url, requests: api.writeRequest, timeout: 10 };

      log(`- warm-up 3 s, then capacity: 10 s closed loop, ${opts.connections} connections`);
      await cannon({ ...base, connections: opts.connections, duration: 3 });
      const cap = await cannon({ ...base, connections: opts.connections, duration: 10 });
      const capacity = cap.result.requests.total / cap.result.duration;
      const rate = Math.max(1, Math.round(opts.rate ?? capacity * opts.fraction));
      log(`  capacity ${f1(capacity)} req/s; soaking at ${rate} req/s for ${opts.minutes} min over ${opts.soakConnections} connections`);

      const start = Date.now();
      const samples: { at: number; rss: number; load1: number }[] = [];
      const sample = () => samples.push({ at: Date.now(), rss: rssMb(api.pid), load1: os.loadavg()[0]! });
      sample();
      const timer = setInterval(sample, 5000);
      const progress = setInterval(() => log(`  ${((Date.now() - start) / 60_000).toFixed(1)} min, RSS ${f1(samples.at(-1)!.rss)} MB, load ${samples.at(-1)!.load1.toFixed(2)}`), 60_000);
      const soak = await cannon({ ...base, connections: opts.soakConnections, duration: opts.minutes * 60, overallRate: rate }, true);
      clearInterval(timer);
      clearInterval(progress);
      sample();

      type Minute = { minute: number; requests: number; rps: number; statuses: Record<string, number>; p50: number; p99: number; rss: number; load1: number };
      const minutes: Minute[] = [];
      for (let m = 0; m < opts.minutes; m++) {
        const from = start + m * 60_000;
        const to = from + 60_000;
        const rows = soak.byTime.filter((r) => r.at >= from && r.at < to);
        const lat = rows.map((r) => r.ms).sort((a, b) => a - b);
        const statuses: Record<string, number> = {};
        for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const inMinute = samples.filter((s) => s.at >= from && s.at < to);
        minutes.push({
          minute: m + 1,
          requests: rows.length,
          rps: rows.length / 60,
          statuses,
          p50: percentile(lat, 50),
          p99: percentile(lat, 99),
          rss: median(inMinute.map((s) => s.rss)),
          load1: median(inMinute.map((s) => s.load1)),
        });
      }
      const first = minutes[0]!;
      const last = minutes.at(-1)!;
      const drift = (last.rss - first.rss) / first.rss;
      const p99Median = median(minutes.map((m) => m.p99));
      const p99Stable = minutes.every((m) => m.p99 <= 2 * p99Median);
      const all2xx = Object.keys(soak.statuses).every((s) => Number(s) >= 200 && Number(s) < 300) && soak.result.errors === 0 && soak.result.timeouts === 0;
      const verdict = (b: boolean) => (b ? 'PASS' : 'FAIL');

      const pad = (v: string, w: number) => v.padStart(w);
      const lines = [
        '',
        `Rightful soak bench — ${machine.date}`,
        `machine: nproc=${machine.nproc} (${machine.cpu}), ${machine.memory_gb} GB, node ${machine.node}, ${machine.platform}; load average before: ${machine.load_average_before.join(' ')}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
        `postgres ${machine.postgres}; API pool ${opts.connections}; rate limit lifted; autocannon, the API, Postgres and Redis share the machine`,
        `capacity (closed loop, ${opts.connections} conns, 10 s): ${f1(capacity)} req/s, p50 ${f1(percentile(cap.latencies, 50))} ms, p99 ${f1(percentile(cap.latencies, 99))} ms`,
        `soak: ${rate} req/s offered (${opts.rate ? 'SOAK_RATE' : `${opts.fraction} × capacity`}) for ${opts.minutes} min over ${opts.soakConnections} connections; answered ${soak.result.requests.total}, ${JSON.stringify(soak.statuses)}, errors ${soak.result.errors}, timeouts ${soak.result.timeouts}`,
        '',
        `${pad('minute', 6)}${pad('requests', 10)}${pad('req/s', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('RSS MB', 9)}${pad('load1', 7)}  statuses`,
        ...minutes.map((m) => `${pad(String(m.minute), 6)}${pad(String(m.requests), 10)}${pad(f1(m.rps), 8)}${pad(f1(m.p50), 9)}${pad(f1(m.p99), 9)}${pad(f1(m.rss), 9)}${pad(m.load1.toFixed(2), 7)}  ${JSON.stringify(m.statuses)}`),
        '',
        `RSS drift, last minute vs first: ${f1(first.rss)} → ${f1(last.rss)} MB = ${f1(drift * 100)} % (target < 10 %)  ${verdict(drift < 0.1)}`,
        `p99 per minute: median ${f1(p99Median)} ms, max ${f1(Math.max(...minutes.map((m) => m.p99)))} ms (target: every minute <= 2 × median)  ${verdict(p99Stable)}`,
        `every answer 2xx, no error or timeout  ${verdict(all2xx)}`,
      ];
      if (machine.load_average_before[0]! > machine.nproc || minutes.some((m) => m.load1 > machine.nproc * 1.5)) {
        lines.push(`WARNING: the machine was busy with other work (load average up to ${Math.max(...minutes.map((m) => m.load1)).toFixed(2)} on ${machine.nproc} cores): latencies move with it.`);
      }
      console.log(lines.join('\n'));
      writeFileSync(
        join(RESULTS, 'soak-latest.json'),
        JSON.stringify({ machine, settings: { ...opts, adminUrl: undefined, rate }, capacity, minutes, rss_drift: drift, p99_median: p99Median, pass: { rss: drift < 0.1, p99Stable, all2xx } }, null, 2) + '\n',
      );
      if (!(drift < 0.1 && p99Stable && all2xx)) process.exitCode = 1;
    },
    run,
  );
}

await main();
