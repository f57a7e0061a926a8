// Without DATABASE_URL the service runs on the embedded Postgres it starts itself: created in an empty folder on a
// free port, migrated, its data kept between runs, one owner at a time; and the quick start works end to end with
// nothing but Node (no DATABASE_URL, no REDIS_URL). Slow (each cluster start takes seconds): kept to this one file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { EMBEDDED_PENDING_URL, loadConfig, type Config } from '../../src/config.js';
import { openDatabase } from '../../src/db/embedded.js';
import { signToken } from '../../src/lib/tokens.js';
import { recordContractViolations } from '../helpers/contract.js';
import { startReceiver } from '../helpers/receiver.js';
import { ALL_SCOPES, purposeTexts } from '../helper.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Real clusters created, started and stopped, and five child processes: more than the usual per-file limit when the
// machine is busy running the other files.
t.setTimeout(300_000);

/** An empty data folder the OS user `postgres` can reach (the server runs as that user when the tests run as root). */
function dataFolder(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rightful-embedded-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function embeddedConfig(dataDir: string): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    RIGHTFUL_DATA_DIR: dataDir,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `rightful-test-${randomBytes(4).toString('hex')}`,
  });
}

/** The environment of a user with nothing set but the given: no DATABASE_URL, no REDIS_URL. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent', ...extra };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return env;
}

type Run = { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<{ code: number | null; signal: string | null }> };

function run(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } finally {
    await client.end();
  }
}

t.test('the embedded Postgres: a fresh folder, a free port, data kept across restarts, one owner at a time', async (t) => {
  const dataDir = dataFolder(t);
  const config = embeddedConfig(dataDir);
  t.same(config.database.embedded, { dataDir }, 'no DATABASE_URL: the config says the embedded Postgres serves');
  t.equal(config.database.ownerUrl, EMBEDDED_PENDING_URL, 'and names no address until it runs');

  const first = await openDatabase(config, { mode: 'own' });
  t.teardown(() => first.stop());
  const port = first.embedded!.port;
  t.not(port, 5432, 'the port is chosen free, not the usual Postgres port');
  t.equal(new URL(first.config.database.url).hostname, '127.0.0.1', 'it listens on the loopback only');
  t.equal(JSON.parse(readFileSync(join(dataDir, 'postgres.json'), 'utf8')).port, port, 'the port is remembered');
  t.ok(existsSync(join(dataDir, 'postgres', 'PG_VERSION')), 'the cluster lives in <data dir>/postgres');

  // A tenant and a consent, recorded through the API on the embedded database.
  const app = await buildApp(first.config);
  const violations = recordContractViolations(app);
  await app.ready();
  const tenantId = (await app.services.tenants.create({ name: 'Embedded controller' })).id;
  const token = signToken(first.config.jwt.secret, { sub: 'embedded-test', tid: tenantId, scope: ALL_SCOPES, ttlSeconds: 600, iss: first.config.jwt.issuer, aud: first.config.jwt.audience });
  const call = (o: { method: 'GET' | 'POST'; url: string; payload?: object }) => app.inject({ ...o, headers: { authorization: `Bearer ${token}` } });
  t.equal((await call({ method: 'POST', url: '/v1/purposes', payload: { key: 'newsletter', legal_basis: 'consent', retention: '2 years', translations: { en: purposeTexts('newsletter') } } })).statusCode, 201);
  const subject = await call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'kept@example.com' }] } });
  t.equal(subject.statusCode, 201);
  const subjectId = subject.json().id as string;
  const granted = await call({
    method: 'POST',
    url: `/v1/subjects/${subjectId}/consents`,
    payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'embedded-form' } }] },
  });
  t.equal(granted.statusCode, 201, 'a consent is recorded');
  await app.close();
  await first.stop();
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'stopped: no server holds the cluster');
  t.notOk(existsSync(join(dataDir, 'postgres.owner')), 'stopped: no process owns it');
  t.notOk(await answers(port), 'stopped: nothing listens on its port');

  // Started again: the same port and the same data.
  const second = await openDatabase(config, { mode: 'own' });
  t.teardown(() => second.stop());
  t.equal(second.embedded!.port, port, 'the remembered port is used again');
  const again = await buildApp(second.config);
  const violationsAgain = recordContractViolations(again);
  await again.ready();
  t.teardown(() => again.close());
  const state = await again.inject({ method: 'GET', url: `/v1/subjects/${subjectId}/consents`, headers: { authorization: `Bearer ${token}` } });
  t.equal(state.statusCode, 200);
  t.match(state.json(), { purposes: [{ purpose: 'newsletter', status: 'granted' }] }, 'the consent recorded before the restart is there');

  // A second API process on the same data folder is refused with a message, and the running server is untouched.
  const rival = run(['src/server.ts'], bareEnv({ RIGHTFUL_DATA_DIR: dataDir, PORT: '0' }));
  const rivalExit = await within(rival.exited, 60_000, 'the second API process');
  t.equal(rivalExit.code, 1, 'the second process exits with 1');
  t.match(rival.stderr(), `is in use by another Rightful process (pid ${process.pid})`, 'and says who holds the data');
  t.notMatch(rival.stderr(), /password|postgres:\/\//, 'without the database password or URL');
  t.equal(await count(second.config.database.ownerUrl, 'SELECT count(*) AS n FROM tenants'), 1, 'the running server still answers');

  // A one-shot command uses the running server and leaves it running.
  const cli = run(['src/cli/index.ts', 'tenant', 'create', '--name', 'Second controller'], bareEnv({ RIGHTFUL_DATA_DIR: dataDir }));
  const cliExit = await within(cli.exited, 60_000, 'the CLI');
  t.equal(cliExit.code, 0, `the CLI succeeds on the running embedded server ${cli.stderr()}`);
  t.match(JSON.parse(cli.stdout()), { name: 'Second controller' });
  t.equal(await count(second.config.database.ownerUrl, 'SELECT count(*) AS n FROM tenants'), 2, 'the server it used is still running');

  await again.close();
  await second.stop();
  t.same([...violations, ...violationsAgain], [], 'every answer is one the contract describes');

  // With no server running, a one-shot command starts it for itself and stops it after.
  const migrate = run(['src/cli/migrate.ts'], bareEnv({ RIGHTFUL_DATA_DIR: dataDir }));
  const migrateExit = await within(migrate.exited, 90_000, 'npm run migrate');
  t.equal(migrateExit.code, 0, `migrate succeeds ${migrate.stderr()}`);
  t.match(migrate.stdout(), `migrations applied to the embedded Postgres at ${join(dataDir, 'postgres')}`);
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'and the server it started is stopped again');
  t.notOk(existsSync(join(dataDir, 'postgres.owner')));
});

t.test('the quick start with nothing but Node: a token, the printed curl examples, webhooks', async (t) => {
  const dataDir = dataFolder(t);
  const receiver = await startReceiver(t);
  const port = await freePort();
  const qs = run(['src/cli/quickstart.ts'], bareEnv({ RIGHTFUL_DATA_DIR: dataDir, PORT: String(port), WEBHOOK_ALLOW_PRIVATE: 'true' }));
  t.teardown(async () => {
    if (qs.child.exitCode === null && qs.child.signalCode === null) {
      qs.child.kill('SIGINT');
      await qs.exited;
    }
  });
  // The banner ends with its second rule.
  await within(
    new Promise<void>((resolve, reject) => {
      const check = () => ((qs.stdout().match(/^={20,}$/gm) ?? []).length >= 2 ? resolve() : undefined);
      qs.child.stdout!.on('data', check);
      qs.exited.then(() => reject(new Error(`the quick start exited early:\n${qs.stdout()}\n${qs.stderr()}`)));
    }),
    120_000,
    'the quick start banner',
  );
  const out = qs.stdout();
  t.match(out, `Database: embedded Postgres at ${join(dataDir, 'postgres')}`, 'it says the embedded Postgres serves, and where');
  t.match(out, 'Worker:   in-process, no Redis', 'and that the worker runs in the process, without Redis');
  t.match(out, 'DATABASE_URL=postgres://', 'and how to switch to an external Postgres and Redis');
  const token = /^export TOKEN='([^']+)'$/m.exec(out)?.[1];
  t.ok(token, 'it prints a token');
  const base = `http://localhost:${port}`;

  const hook = await fetch(`${base}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, event_types: ['consent.granted'] }),
  });
  t.equal(hook.status, 201, 'a webhook endpoint is registered through the API');

  // The printed examples, run as a user pastes them; each curl's status goes to stderr.
  const examples = out.slice(out.indexOf('# Register a consent-based purpose'), out.indexOf('# Webhooks:'));
  const script = `set -e\ncurl() { command curl "$@" -w '%{stderr}%{http_code}\\n'; }\n${examples}`;
  const shell = spawn('bash', ['-c', script], { env: { ...process.env, TOKEN: token! }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  shell.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  shell.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await within(new Promise<number | null>((resolve) => shell.on('exit', resolve)), 60_000, 'the curl examples');
  t.equal(code, 0, `the examples run ${stderr}`);
  const statuses = stderr.trim().split('\n');
  t.same(statuses, ['201', '201', '200', '201', '200', '201'], 'purpose 201, subject 201, subject again 200, consent 201, check 200, portal link 201');
  t.equal(statuses[3], '201', 'the printed curl for recording a consent answers 201');
  t.match(stdout, '"allowed":true', 'the campaign check then allows the subject');
  const portal = /"url":"([^"]+)"/.exec(stdout.slice(stdout.lastIndexOf('"url"')))?.[1];
  t.match(portal, `${base}/preferences?token=`, 'the printed portal link is a preference page on this API');
  const page = await fetch(portal!, { redirect: 'manual' });
  t.equal(page.status, 303, 'and opening it lets the person in (token to cookie, then the page)');

  const [delivery] = await receiver.waitFor((all) => all.some((r) => JSON.parse(r.body).type === 'consent.granted'), 30_000);
  t.equal(JSON.parse(delivery!.body).type, 'consent.granted', 'the registered webhook receives consent.granted from the in-process worker');
  t.notMatch(delivery!.body, /example\.com/i, 'no identifier in the payload');

  qs.child.kill('SIGINT');
  const exit = await within(qs.exited, 60_000, 'the quick start closing');
  t.ok(exit.code === 0 || exit.signal === 'SIGINT' || exit.code === 130, `Ctrl-C ends it (${exit.code ?? exit.signal})`);
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'and stops the embedded Postgres');
  t.notOk(existsSync(join(dataDir, 'postgres.owner')));
});

t.test('the database settings: a bad DATABASE_URL names the field; production needs one', async (t) => {
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://127.0.0.1/rightful' }), { message: /DATABASE_URL/ }, 'a URL that is not postgres:// is refused');
  t.throws(() => loadConfig({ DATABASE_URL: 'not a url' }), { message: /DATABASE_URL/ });
  t.throws(() => loadConfig({ RIGHTFUL_DATA_DIR: '' }), { message: /RIGHTFUL_DATA_DIR/ }, 'an empty data folder is refused');
  t.throws(
    () => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), MASTER_KEY: 'ab'.repeat(32) }),
    { message: 'DATABASE_URL must be set in production' },
    'production never falls back to the embedded Postgres',
  );
  const external = loadConfig({ DATABASE_URL: 'postgresql://app@db.internal:5432/rightful' });
  t.equal(external.database.embedded, null, 'a given DATABASE_URL is used as it is');
  t.equal(external.database.ownerUrl, 'postgresql://app@db.internal:5432/rightful', 'by migrations and the operator\'s tools');
  const app = new URL(external.database.url);
  t.same([app.username, app.host, app.pathname], ['rightful_app', 'db.internal:5432', '/rightful'], 'the API and worker log in as the application role on the same database');
  t.ok(app.password.length >= 40, 'with the password derived from the master key');
  const own = loadConfig({ DATABASE_URL: 'postgresql://app@db.internal:5432/rightful', DATABASE_APP_URL: 'postgresql://crm_rightful:secret@db.internal:5432/rightful' });
  t.same([own.database.url, own.database.appRole], ['postgresql://crm_rightful:secret@db.internal:5432/rightful', { name: 'crm_rightful', password: null }], 'DATABASE_APP_URL: a role the operator manages, used as it is');
  t.same(loadConfig({ DATABASE_URL: '' }).database.embedded, { dataDir: join(process.cwd(), '.rightful') }, 'empty counts as unset: .rightful by default');
});
