// `npm run bench:export`: the person's download of a large export package through a download link (code by email),
// against a baseline measured in the same run: the same part bytes read from Postgres chunk by chunk, as the package
// reads them, without decrypting, building a ZIP or sending it over HTTP.
//
// One run: builds its own database (drop, create, migrate), starts the API as a child process and a local SMTP sink
// (the one-time codes are read from it), seeds through the API one subject with BENCH_EXPORT_EVENTS consent ledger
// events and an access request whose export BENCH_EXPORT_SYSTEMS systems fill with BENCH_EXPORT_MB megabytes of JSON
// in all, approves it, then measures: one download alone, then four at once (each through its own link), with time to
// first byte, total time and the API process's RSS (sampled every 20 ms from /proc) before and during; and the
// baseline alone and four at once. Prints the figures, ratios and the machine's conditions, writes
// bench/results/export-latest.json, and cleans up (children stopped, Redis keys deleted, database dropped).
//
// Knobs (env): BENCH_EXPORT_MB (100), BENCH_EXPORT_SYSTEMS (5), BENCH_EXPORT_EVENTS (10000), BENCH_EXPORT_PARALLEL (4),
// BENCH_EXPORT_DB (rightful_bench_export), BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379), BENCH_EXPORT_NODE_ARGS (node options for the API process, space-separated).
import http from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../src/config.js';
import { createDb, createPool } from '../src/db/client.js';
import { readBytea } from '../src/db/copy-bytea.js';
import { runMigrations } from '../src/db/migrate.js';
import { createKeyring } from '../src/lib/keyring.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { createServices } from '../src/services.js';
import { conditions, createRun, dbUrl, dropDatabase, env, freePort, httpOk, log, num, postgresVersion, RESULTS, runMain, sleep } from './processes.js';

const opts = {
  mb: num(env.BENCH_EXPORT_MB, 100),
  systems: num(env.BENCH_EXPORT_SYSTEMS, 5),
  events: num(env.BENCH_EXPORT_EVENTS, 10_000),
  parallel: num(env.BENCH_EXPORT_PARALLEL, 4),
  db: env.BENCH_EXPORT_DB ?? 'rightful_bench_export',
  adminUrl: env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  // Node options for the API process alone (e.g. V8 heap flags to compare), split on spaces.
  nodeArgs: (env.BENCH_EXPORT_NODE_ARGS ?? '').split(' ').filter(Boolean),
};
const PREFIX = `rightful-bench-export-${process.pid}`;
const MB = 2 ** 20;
const run = createRun({ pidFile: join(RESULTS, '.export-pids'), logPrefix: 'export-', adminUrl: opts.adminUrl, db: opts.db });

type Mail = { to: string; text: string };

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN; // the process is gone (a failed run's clean-up stopped it)
  }
}

/** Samples a process's RSS every 20 ms until stopped; the peak and the first sample. */
function watchRss(pid: number) {
  let peak = rssOf(pid);
  const first = peak;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  return { stop: () => (clearInterval(timer), { first, peak }) };
}

// Loaded into the API process (over IPC, nothing in the product): samples process.memoryUsage() and V8's heap spaces
// every 20 ms, so a run says where the growth is (V8 heap, Buffers and other memory outside it, or neither: what the
// allocator holds). 'reset' starts a window; 'report' answers with the first sample, each field's peak, the sample
// taken at the RSS peak and the last one.
const PROBE = `
import v8 from 'node:v8';
const sample = () => {
  const m = process.memoryUsage();
  const s = { rss: m.rss, heap_total: m.heapTotal, heap_used: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers };
  for (const sp of v8.getHeapSpaceStatistics()) s[sp.space_name] = sp.space_size;
  return s;
};
let first = sample(), peak = { ...first }, atRssPeak = first, last = first;
const tick = () => {
  last = sample();
  for (const k of Object.keys(last)) peak[k] = Math.max(peak[k] ?? 0, last[k]);
  if (last.rss >= atRssPeak.rss) atRssPeak = last;
};
setInterval(tick, 20).unref();
process.on('message', (m) => {
  if (m === 'reset') { first = last = atRssPeak = sample(); peak = { ...first }; process.send({ reset: true }); }
  if (m === 'report') { tick(); process.send({ first, peak, at_rss_peak: atRssPeak, last }); }
});
process.channel?.unref();
`;
type Probe = Record<'first' | 'peak' | 'at_rss_peak' | 'last', Record<string, number>>;

/** One part: `{"orders":[...]}` of about `bytes` bytes, streamed. */
function partBody(bytes: number, seed: number): Readable {
  const record = (i: number) => JSON.stringify({ id: `order-${seed}-${i}`, placed_at: '2026-01-02T03:04:05Z', total: `${(i % 997) + 0.5}`, items: ['shirt', 'socks', 'hat'].slice(0, (i % 3) + 1), note: 'x'.repeat(120 + (i % 40)) });
  let written = 0;
  let i = 0;
  return Readable.from(
    (function* () {
      yield Buffer.from('{"orders":[');
      while (written < bytes) {
        const batch: string[] = [];
        for (let k = 0; k < 500 && written < bytes; k++, i++) {
          const r = (i === 0 ? '' : ',') + record(i);
          written += r.length;
          batch.push(r);
        }
        yield Buffer.from(batch.join(''));
      }
      yield Buffer.from(']}');
    })(),
  );
}

/** Downloads one package; time to first byte and total, in ms, and the size. */
function download(url: string, code: string): Promise<{ ttfbMs: number; totalMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const body = JSON.stringify({ code });
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode}`));
      let ttfb = 0;
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) ttfb = performance.now() - t0;
        bytes += c.length;
      });
      res.on('end', () => resolve({ ttfbMs: ttfb, totalMs: performance.now() - t0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The baseline: every chunk of every part read from Postgres one by one, as the package reads them (COPY, binary). */
async function baselineRead(pool: pg.Pool): Promise<{ ttfbMs: number; totalMs: number; bytes: number }> {
  const t0 = performance.now();
  const parts = (await pool.query<{ id: string; chunks: number }>('SELECT id, chunks FROM export_parts ORDER BY uploaded_at')).rows;
  let bytes = 0;
  let ttfb = 0;
  for (const p of parts) {
    for (let seq = 0; seq < p.chunks; seq++) {
      const sealed = await readBytea(pool, (literal) => `SELECT sealed FROM export_part_chunks WHERE part_id = ${literal(p.id)} AND seq = ${seq}`);
      if (bytes === 0) ttfb = performance.now() - t0;
      bytes += sealed!.length;
    }
  }
  return { ttfbMs: ttfb, totalMs: performance.now() - t0, bytes };
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const before = conditions({ postgres: await postgresVersion(opts.adminUrl) });
  log(`bench:export — ${opts.mb} MB over ${opts.systems} systems, ${opts.events} ledger events, ${opts.parallel} downloads at once`);
  const databaseUrl = dbUrl(opts.adminUrl, opts.db);
  await dropDatabase(opts.adminUrl, opts.db); // a leftover of a run that was killed
  await runMigrations(databaseUrl, loadConfig({ ...env, DATABASE_URL: databaseUrl }).database.appRole);

  const mails: Mail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => (mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), text: raw }), cb()));
    },
  });
  const smtpPort = await freePort();
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
  run.atCleanup(() => smtp.close());

  const config = loadConfig({ ...env, DATABASE_URL: databaseUrl, REDIS_URL: opts.redisUrl, REDIS_PREFIX: PREFIX });
  const pool = createPool(config.database, { warn: () => {}, error: () => {} } as never, { owner: true });
  const services = createServices({ db: createDb(pool), keyring: createKeyring(config), allowPrivateWebhooks: false });
  const tenant = await services.tenants.create({ name: 'Bench controller' });
  const token = signToken(config.jwt.secret, { sub: 'bench', tid: tenant.id, scope: SCOPES.join(' '), ttlSeconds: 7200, iss: config.jwt.issuer, aud: config.jwt.audience });

  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = run.spawnChild('api', process.execPath, [...opts.nodeArgs, '--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(PROBE)}`, 'src/server.ts'], {
    DATABASE_URL: databaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_PREFIX: PREFIX,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: apiUrl,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    RATE_LIMIT_MAX: '1000000000',
    LOG_LEVEL: 'warn',
    EXPORT_PART_MAX_BYTES: String(Math.ceil((opts.mb / opts.systems) * 1.2 * MB)),
  }, true);
  const probe = (m: 'reset' | 'report') =>
    new Promise<Probe>((resolve) => {
      api.once('message', (answer: Probe) => resolve(answer));
      api.send(m);
    });
  await run.waitFor('api', api, httpOk(`${apiUrl}/healthz`));
  log(`  api on ${apiUrl} (pid ${api.pid})`);

  const call = async (method: string, path: string, body?: unknown, ok = [200, 201]): Promise<any> => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  };

  // ---- seed
  const purposes = ['newsletter', 'offers', 'surveys', 'partners'];
  for (const key of purposes) {
    await call('POST', '/v1/purposes', { key, legal_basis: 'consent', retention: '2 years', translations: { en: { title: key, description: `Why ${key}` } } });
  }
  const subject = await call('POST', '/v1/subjects', { identifiers: [{ type: 'email', value: 'bench.person@example.com' }] });
  const t0 = performance.now();
  for (let done = 0; done < opts.events; done += 100) {
    const decisions = Array.from({ length: Math.min(100, opts.events - done) }, (_, i) => {
      const n = done + i;
      const grant = Math.floor(n / purposes.length) % 2 === 0;
      return { purpose: purposes[n % purposes.length], action: grant ? 'grant' : 'withdraw', source: 'api', ...(grant ? { evidence: { form_id: 'bench-form' } } : {}) };
    });
    await call('POST', `/v1/subjects/${subject.id}/consents`, { decisions });
  }
  log(`  ${opts.events} ledger events in ${round((performance.now() - t0) / 1000)} s`);
  for (let s = 0; s < opts.systems; s++) await call('POST', '/v1/systems', { name: `System ${s + 1}`, kind: 'warehouse', handles: ['export'], contact_email: `it${s}@example.com` });
  const request = await call('POST', '/v1/rights-requests', { subject: { id: subject.id }, type: 'access', channel: 'web' });
  await call('POST', `/v1/rights-requests/${request.id}/gather`);
  const tasks = (await call('GET', `/v1/rights-requests/${request.id}/tasks`)).items as { id: string }[];
  const t1 = performance.now();
  let seq = 0;
  for (const task of tasks) {
    const res = await fetch(`${apiUrl}/v1/rights-requests/${request.id}/tasks/${task.id}/data?provided_categories=orders`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Readable.toWeb(partBody(Math.floor((opts.mb * MB) / tasks.length), seq++)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
  }
  log(`  ${opts.mb} MB of parts uploaded in ${round((performance.now() - t1) / 1000)} s`);
  await call('POST', `/v1/rights-requests/${request.id}/export/approve`, {});

  async function codedLink(): Promise<{ url: string; code: string }> {
    const link = await call('POST', `/v1/rights-requests/${request.id}/export-links`, { max_downloads: 1 });
    const seen = mails.length;
    await call('POST', `${new URL(link.url).pathname}/code`, undefined, [202]);
    while (mails.length === seen) await sleep(5);
    const code = /\b([0-9]{6})\b/.exec(mails.at(-1)!.text.split(/\r?\n\r?\n/).slice(1).join('\n'))![1]!;
    return { url: `${link.url}/download`, code };
  }

  // ---- measure (a warm-up of each first, not counted)
  const basePool = new pg.Pool({ connectionString: databaseUrl, max: opts.parallel });
  run.atCleanup(() => void basePool.end());
  await baselineRead(basePool);
  const warm = await codedLink();
  const package0 = await download(warm.url, warm.code);
  log(`  warm-up: package ${round(package0.bytes / MB)} MB in ${round(package0.totalMs)} ms`);

  const single = await codedLink();
  const one = await download(single.url, single.code);
  const baseOne = await baselineRead(basePool);

  // One after another: each code is read from the mail its own request produced.
  const links: { url: string; code: string }[] = [];
  for (let i = 0; i < opts.parallel; i++) links.push(await codedLink());
  await sleep(500);
  await probe('reset');
  const watch = watchRss(api.pid!);
  const tParallel = performance.now();
  const many = await Promise.all(links.map((l) => download(l.url, l.code)));
  const parallelMs = performance.now() - tParallel;
  const rss = watch.stop();
  const inside = await probe('report');
  // What stays once the downloads are over and the process idles: memory the allocator or V8 has not handed back.
  await sleep(2000);
  const rssAfter = rssOf(api.pid!);
  const tBase = performance.now();
  const baseMany = await Promise.all(Array.from({ length: opts.parallel }, () => baselineRead(basePool)));
  const baseParallelMs = performance.now() - tBase;

  const growthMb = (rss.peak - rss.first) / MB;
  const results = {
    conditions: { ...before, load_average_after: conditions().load_average_before },
    options: opts,
    package_mb: round(one.bytes / MB),
    parts_mb: round(baseOne.bytes / MB),
    alone: { ttfb_ms: round(one.ttfbMs), total_ms: round(one.totalMs), mb_per_s: round(one.bytes / MB / (one.totalMs / 1000)) },
    baseline_alone: { first_chunk_ms: round(baseOne.ttfbMs), total_ms: round(baseOne.totalMs), mb_per_s: round(baseOne.bytes / MB / (baseOne.totalMs / 1000)) },
    parallel: {
      downloads: opts.parallel,
      wall_ms: round(parallelMs),
      ttfb_ms: many.map((m) => round(m.ttfbMs)),
      total_ms: many.map((m) => round(m.totalMs)),
      api_rss_mb_before: round(rss.first / MB),
      api_rss_mb_peak: round(rss.peak / MB),
      api_rss_growth_mb: round(growthMb),
      api_rss_mb_2s_after: round(rssAfter / MB),
      // From inside the process (MB): growth of each figure from the window's first sample to its peak, and the
      // figures at the moment RSS peaked.
      inside_growth_to_peak_mb: Object.fromEntries(Object.keys(inside.first).map((k) => [k, round((inside.peak[k]! - inside.first[k]!) / MB)])),
      inside_at_rss_peak_mb: Object.fromEntries(Object.keys(inside.at_rss_peak).map((k) => [k, round(inside.at_rss_peak[k]! / MB)])),
      inside_first_mb: Object.fromEntries(Object.keys(inside.first).map((k) => [k, round(inside.first[k]! / MB)])),
    },
    baseline_parallel: { wall_ms: round(baseParallelMs), total_ms: baseMany.map((m) => round(m.totalMs)) },
    ratios: {
      alone_total_vs_baseline: round(one.totalMs / baseOne.totalMs, 2),
      parallel_wall_vs_baseline: round(parallelMs / baseParallelMs, 2),
    },
    target: { api_rss_growth_mb_under: 50, met: growthMb < 50 },
  };
  writeFileSync(join(RESULTS, 'export-latest.json'), JSON.stringify(results, null, 2));
  console.log(JSON.stringify(results, null, 2));
  const busiest = Math.max(before.load_average_before[0]!, results.conditions.load_average_after[0]!);
  if (busiest > before.nproc) log(`WARNING: load average ${busiest} on ${before.nproc} cores: other work shared the machine, the figures are pessimistic`);
  await pool.end();
  const redis = new Redis(opts.redisUrl);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

void runMain('bench:export', main, run);
