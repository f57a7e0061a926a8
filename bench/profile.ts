// Where does the API spend its CPU on one endpoint? Seeds a database, starts the API with --cpu-prof, drives one
// workload with autocannon, stops the API and prints the V8 profile's self time grouped by function and by package.
//   node --import tsx bench/profile.ts reads|writes|check [seconds]     (or: … bench/profile.ts FILE.cpuprofile)
// The raw .cpuprofile stays in bench/results/prof/ (open it in Chrome DevTools → Performance, or speedscope).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { runMigrations } from '../src/db/migrate.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { emailOf, seed } from './seed.js';

const workload = process.argv[2] ?? 'reads';
const seconds = Number(process.argv[3] ?? 10);
const DB = process.env.BENCH_DB ?? 'rightful_bench_prof';
const ADMIN = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = Object.assign(new URL(ADMIN), { pathname: `/${DB}` }).toString();
const profDir = join(process.cwd(), 'bench', 'results', 'prof', workload);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  await c.query(sql).finally(() => c.end());
}

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
function summarise(file: string) {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url: u, lineNumber } = byId.get(id)!.callFrame;
    const where = u.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
    const p = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where.startsWith('src/') ? where.split('/').slice(0, 3).join('/') : where || `(${functionName || 'native'})`);
    fn.set(`${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`, (fn.get(`${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`) ?? 0) + us);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((v / busy) * 100).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`)
      .join('\n');
  console.log(`\nprofile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(((total - idle) / total) * 100).toFixed(0)}% busy\n\nself time (share of busy time) by package / source file:\n${top(pkg, 25)}\n\nself time by function:\n${top(fn, 40)}`);
}

if (workload.endsWith('.cpuprofile')) {
  summarise(workload); // node --import tsx bench/profile.ts path/to/file.cpuprofile
  process.exit(0);
}
await admin(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
Object.assign(process.env, secrets);
const s = await seed({ databaseUrl: url, subjects: 20_000 });
rmSync(profDir, { recursive: true, force: true });
mkdirSync(profDir, { recursive: true });
const port = 40_000 + Math.floor(Math.random() * 10_000);
const api = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--import', 'tsx', 'src/server.ts'], {
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(connections),
    REDIS_PREFIX: `rightful-prof-${process.pid}`,
    RATE_LIMIT_MAX: '1000000000',
  },
  stdio: 'inherit',
});
try {
  for (let i = 0; ; i++) {
    if (i > 150) throw new Error('API did not start');
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const config = loadConfig(process.env);
  const token = signToken(config.jwt.secret, { sub: 'bench', tid: s.tenantId, scope: SCOPES.join(' '), ttlSeconds: 3600, iss: config.jwt.issuer, aud: config.jwt.audience });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  let k = 0;
  const next = () => s.subjectIds[k++ % s.subjectIds.length]!;
  const body =
    workload === 'check'
      ? JSON.stringify({ purpose: 'newsletter', identifiers: Array.from({ length: 10_000 }, (_, i) => ({ type: 'email', value: i % 5 === 4 ? `nobody.${i}@example.org` : emailOf((i * 7919) % 20_000) })) })
      : undefined;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: workload === 'check' ? 1 : connections,
    duration: seconds,
    requests: [
      workload === 'reads'
        ? { method: 'GET', headers, setupRequest: (req) => ({ ...req, path: `/v1/subjects/${next()}/consents` }) }
        : workload === 'writes'
          ? { method: 'POST', headers, setupRequest: (req) => ({ ...req, path: `/v1/subjects/${next()}/consents`, body: JSON.stringify({ decisions: [{ purpose: 'newsletter', action: k % 2 ? 'grant' : 'withdraw', source: 'api' }] }) }) }
          : { method: 'POST', path: '/v1/consents/check', headers, body },
    ],
  });
  console.log(`${workload}: ${(r.requests.total / r.duration).toFixed(1)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non2xx ${r.non2xx}, errors ${r.errors}`);
} finally {
  const exited = new Promise((r) => api.once('exit', r));
  api.kill('SIGTERM');
  await exited;
  await admin(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
}
const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
// --cpu-prof writes one profile per thread (tsx's loader runs in a worker): the main thread's is the largest.
files.sort((a, b) => statSync(b).size - statSync(a).size);
if (files[0]) summarise(files[0]);
