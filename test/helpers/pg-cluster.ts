// A throwaway Postgres cluster (initdb + pg_ctl in a temp dir, on a free loopback port) for tests that crash or
// stop the database: never the shared server on 5432. As root, the binaries run as the `postgres` OS user.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';


export type ThrowawayPostgres = {
  port: number;
  /** A URL for database `name` on this cluster (superuser `postgres`, trust). */
  url(name?: string): string;
  /** Creates database `name` and returns its URL. */
  createDatabase(name: string): Promise<string>;
  start(): Promise<void>;
  /** `pg_ctl stop -m <mode>`: `immediate` is a crash (no checkpoint; the next start replays the WAL). */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** The server log, for a failing test's diagnostics. */
  log(): string;
};

/** initdb, then start; at teardown the cluster is stopped at once and its directory removed. */
export async function startThrowawayPostgres(t: { teardown(fn: () => unknown): void }): Promise<ThrowawayPostgres> {
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(os.tmpdir(), 'rightful-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (root) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  // Root may not run initdb or postgres: the same command as the postgres OS user.
  const pgRun = (bin: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args]) : run(join(BIN, bin), args);
  const port = await freePort();

  t.teardown(async () => {
    if (existsSync(join(data, 'postmaster.pid'))) await pgRun('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => {});
    // Backends of an immediate stop may still be exiting and writing: a few retries.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  // --no-sync: only the initial files skip fsync; the server itself runs with fsync and synchronous_commit on.
  await pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
  const self: ThrowawayPostgres = {
    port,
    url: (name = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: self.url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return self.url(name);
    },
    async start() {
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c shared_buffers=16MB -c max_connections=60`;
      await pgRun('pg_ctl', ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', opts]);
    },
    async stop(mode = 'immediate') {
      await pgRun('pg_ctl', ['stop', '-D', data, '-m', mode, '-w', '-t', '60']);
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  await self.start();
  return self;
}
