// What an operator relies on in docker-compose.yml, rightful.env.example and the Dockerfile: the five services and
// how they start in order, Redis set up as BullMQ needs it, secrets kept in one ignored env file, read-only root
// filesystems, and health checks that really pass against a running API and worker (and fail when they are down).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import t from 'tap';
import YAML from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startWorker } from '../../src/worker-runtime.js';
import { build } from '../helper.js';

const root = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, root), 'utf8');

type Healthcheck = { test: string[]; interval?: string; retries?: number };
type Service = {
  image?: string;
  build?: { context: string };
  command?: string[];
  env_file?: string[];
  environment?: Record<string, string>;
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  read_only?: boolean;
  tmpfs?: string[];
  volumes?: string[];
  ports?: string[];
  stop_grace_period?: string;
  cap_drop?: string[];
};
const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { services } = compose;
const APP = ['migrate', 'api', 'worker'] as const;

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
function envFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Compose's ${VAR} and ${VAR:?message} interpolation. */
const interpolate = (s: string, vars: Record<string, string>) => s.replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_, k: string) => vars[k] ?? '');

/** Runs a health check's `node -e` script as the container runtime would, with the container's environment. */
function runCheck(test: string[], env: Record<string, string>): Promise<number> {
  const args = test[0] === 'CMD' ? test.slice(1) : test;
  if (args[0] !== 'node' || args[1] !== '-e') throw new Error(`not a node -e check: ${JSON.stringify(test)}`);
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', args[2]!], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 }, (err) =>
      resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0),
    );
  });
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

t.test('the stack is Postgres 17, Redis 7, a one-shot migration, the API and the worker from this image', async (t) => {
  t.same(Object.keys(services).sort(), ['api', 'migrate', 'postgres', 'redis', 'worker']);
  t.match(services.postgres!.image, /^postgres:17(\.|-|$)/);
  t.match(services.redis!.image, /^redis:7(\.|-|$)/);
  const image = services.api!.image;
  t.ok(image, 'the API names its image');
  for (const name of APP) {
    const s = services[name]!;
    t.equal(s.image, image, `${name} runs the same image`);
    t.equal(s.build?.context, '.', `${name} builds it from this repository`);
  }
  t.ok(existsSync(new URL(`${services.api!.build!.context}/Dockerfile`, root)), 'the build context holds the Dockerfile');
  t.same(services.migrate!.command, ['node', 'dist/src/cli/migrate.js']);
  t.same(services.api!.command, ['node', 'dist/src/server.js']);
  t.same(services.worker!.command, ['node', 'dist/src/worker.js']);
  for (const f of ['dist/src/cli/migrate.js', 'dist/src/server.js', 'dist/src/worker.js']) {
    t.ok(existsSync(new URL(f.replace(/^dist\//, '').replace(/\.js$/, '.ts'), root)), `${f} is built from a source file`);
  }
  t.match(services.postgres!.volumes, [/^pgdata:\/var\/lib\/postgresql\/data$/], 'Postgres keeps its data in a named volume');
  t.match(services.redis!.volumes, [/^redisdata:\/data$/], 'Redis keeps its append-only file in a named volume');
  t.ok('pgdata' in compose.volumes && 'redisdata' in compose.volumes, 'both volumes are declared');
  t.match(services.api!.ports, [/^\$\{RIGHTFUL_API_PUBLISH:-127\.0\.0\.1:3000\}:3000$/], 'the API is published on loopback by default');
});

t.test('Redis is set up as BullMQ needs it: noeviction and the append-only file', async (t) => {
  const cmd = services.redis!.command!;
  t.equal(cmd[0], 'redis-server');
  const flag = (name: string) => cmd[cmd.indexOf(name) + 1];
  t.equal(flag('--maxmemory-policy'), 'noeviction', 'an evicted queue key would lose jobs');
  t.equal(flag('--appendonly'), 'yes');
  t.equal(flag('--appendfsync'), 'everysec');
});

t.test('the migration runs once, and the API and the worker wait for it and for healthy Postgres and Redis', async (t) => {
  t.equal(services.migrate!.restart, 'no', 'a one-shot: never restarted');
  t.notOk(services.migrate!.healthcheck, 'nothing waits for it to be healthy, only to have completed');
  t.same(services.migrate!.depends_on, { postgres: { condition: 'service_healthy' } });
  for (const name of ['api', 'worker']) {
    t.same(
      services[name]!.depends_on,
      {
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      },
      `${name} starts after a successful migration, on healthy Postgres and Redis`,
    );
  }
  for (const name of ['postgres', 'redis', 'api', 'worker']) t.equal(services[name]!.restart, 'unless-stopped', `${name} is restarted`);
  // The runtime's SIGKILL must not come before the graceful close (API 25 s, worker 25 s + hard exit at 30 s).
  const seconds = (s: string | undefined) => Number(/^(\d+)s$/.exec(s ?? '')?.[1] ?? 0);
  t.ok(seconds(services.api!.stop_grace_period) >= 30, 'the API gets 30 s to close');
  t.ok(seconds(services.worker!.stop_grace_period) >= 30, 'the worker gets 30 s to close');
});

t.test('every service has a health check of the right kind', async (t) => {
  t.same(services.postgres!.healthcheck!.test, ['CMD', 'pg_isready', '-h', '127.0.0.1', '-U', 'rightful', '-d', 'rightful']);
  t.equal(services.redis!.healthcheck!.test[0], 'CMD-SHELL');
  t.match(services.redis!.healthcheck!.test[1], /^redis-cli ping \| grep -q PONG$/);
  t.match(services.api!.healthcheck!.test.join(' '), /\/readyz/, 'the API is healthy when ready (Postgres and Redis answer)');
  t.match(services.worker!.healthcheck!.test.join(' '), /WORKER_HEALTH_PORT.*\/healthz/, 'the worker on its health port');
});

t.test('secrets live in one env file that git and the image build ignore; Postgres and Redis never see them', async (t) => {
  for (const name of APP) t.same(services[name]!.env_file, ['rightful.env'], `${name} reads rightful.env`);
  for (const name of ['postgres', 'redis']) {
    t.notOk(services[name]!.env_file, `${name} does not read the app's env file`);
    t.notMatch(JSON.stringify(services[name]!.environment ?? {}), /JWT_SECRET|MASTER_KEY/);
  }
  t.match(read('.gitignore'), /^rightful\.env$/m, 'the real env file is not committed');
  t.match(read('.dockerignore'), /^\*\.env$/m, 'nor copied into the build context');
  t.ok(existsSync(new URL('rightful.env.example', root)), 'the example is committed');
  t.match(services.postgres!.environment!.POSTGRES_PASSWORD, /^\$\{POSTGRES_PASSWORD:\?.+\}$/, 'compose refuses to start without the password');
});

t.test('rightful.env.example as committed is refused; filled in, the production config loads against the bundled services', async (t) => {
  const example = envFile(read('rightful.env.example'));
  for (const k of ['POSTGRES_PASSWORD', 'JWT_SECRET', 'MASTER_KEY']) t.equal(example[k], '', `${k} is left for the operator to fill in`);
  const composeEnv = services.api!.environment!;
  const asIs = { ...example, ...Object.fromEntries(Object.entries(composeEnv).map(([k, v]) => [k, interpolate(v, example)])), NODE_ENV: 'production' };
  const refused = (() => {
    try {
      loadConfig(asIs);
      return null;
    } catch (err) {
      return err;
    }
  })();
  t.ok(refused instanceof ConfigError, 'the empty secrets stop the services from starting');
  t.match((refused as Error).message, /JWT_SECRET/, 'and the refusal names the setting');

  const filled = { ...example, POSTGRES_PASSWORD: randomBytes(24).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex'), MASTER_KEY: randomBytes(32).toString('hex') };
  const env = { ...filled, ...Object.fromEntries(Object.entries(composeEnv).map(([k, v]) => [k, interpolate(v, filled)])), NODE_ENV: 'production' };
  const config = loadConfig(env);
  const db = new URL(config.database.ownerUrl);
  t.equal(db.hostname, 'postgres');
  t.equal(db.username, 'rightful');
  t.equal(db.password, filled.POSTGRES_PASSWORD, 'the password needs no escaping in the URL');
  t.equal(db.pathname, `/${services.postgres!.environment!.POSTGRES_DB}`);
  const app = new URL(config.database.url);
  t.same([app.username, app.hostname, app.pathname], ['rightful_app', 'postgres', db.pathname], 'the API and worker log in as the application role, which the migrate service creates');
  t.equal(config.redis?.url, 'redis://redis:6379');
  t.equal(config.worker.healthPort, Number(example.WORKER_HEALTH_PORT));
});

t.test('every root filesystem is read-only; what the services write goes to a tmpfs or a volume', async (t) => {
  for (const [name, s] of Object.entries(services)) t.equal(s.read_only, true, `${name} runs read-only`);
  for (const name of APP) {
    t.match(services[name]!.tmpfs, [/^\/tmp(:|$)/], `${name} writes its temporary files to a tmpfs`);
    t.same(services[name]!.cap_drop, ['ALL'], `${name} holds no capabilities`);
  }
  t.ok(services.postgres!.tmpfs!.includes('/var/run/postgresql'), "Postgres' socket directory is a tmpfs");
  const dockerfile = read('Dockerfile');
  t.match(dockerfile, /^USER node$/m, 'the image runs as the non-root node user');
  t.match(dockerfile, /^VOLUME \["\/tmp"\]$/m, 'the image declares where it writes');
  t.match(dockerfile, /^FROM node:\$\{NODE_VERSION\}-trixie-slim AS runtime$/m);
  t.match(dockerfile, /^ARG NODE_VERSION=26$/m, 'the image is on the Active LTS line');
});

t.test('the health checks pass against a running API and worker, and fail when they are down', async (t) => {
  const ta = await build(t);
  await ta.app.listen({ host: '127.0.0.1', port: 0 });
  const apiPort = (ta.app.server.address() as { port: number }).port;
  const worker = await startWorker(ta.config, { healthPort: 0 });
  t.teardown(() => worker.stop(5000));
  const workerPort = worker.port!;
  const down = await closedPort();
  const imageCheck = JSON.parse(/^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$/m.exec(read('Dockerfile'))![1]!) as string[];

  t.equal(await runCheck(services.api!.healthcheck!.test, { PORT: String(apiPort) }), 0, 'compose: the API is ready');
  t.equal(await runCheck(services.api!.healthcheck!.test, { PORT: String(down) }), 1, 'compose: no API, unhealthy');
  t.equal(await runCheck(services.worker!.healthcheck!.test, { WORKER_HEALTH_PORT: String(workerPort) }), 0, 'compose: the worker is healthy');
  t.equal(await runCheck(services.worker!.healthcheck!.test, { WORKER_HEALTH_PORT: String(down) }), 1, 'compose: no worker, unhealthy');

  t.equal(await runCheck(imageCheck, { PORT: String(apiPort), WORKER_HEALTH_PORT: String(down) }), 0, 'image: the API container is healthy');
  t.equal(await runCheck(imageCheck, { PORT: String(down), WORKER_HEALTH_PORT: String(workerPort) }), 0, 'image: the worker container is healthy on its health port');
  t.equal(await runCheck(imageCheck, { PORT: String(down), WORKER_HEALTH_PORT: String(down) }), 1, 'image: neither answers, unhealthy');

  // Readiness, not liveness: with Redis gone the API is alive but the compose check fails.
  ta.app.redis!.disconnect();
  t.equal(await runCheck(services.api!.healthcheck!.test, { PORT: String(apiPort) }), 1, 'compose: the API without Redis is not ready');
});
