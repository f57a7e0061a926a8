// What bench/bench.ts (`npm run bench`) and bench/events.ts (`npm run bench:events`) share: paths, env knobs, logging,
// the machine's conditions, free ports, CPU ticks from /proc, and the child processes of a run (spawned with their
// output in bench/results, recorded in a pid file, stopped and the run's database dropped at cleanup, on a signal too).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS = join(ROOT, 'bench', 'results');
export const env = process.env;
export const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));
export const log = (s: string) => console.error(s);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The admin URL with another database name. */
export function dbUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(adminUrl: string, db: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** "16.4 (fsync=on, synchronous_commit=on)". */
export async function postgresVersion(adminUrl: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    const r = await c.query<{ v: string; fsync: string; sc: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc",
    );
    return `${r.rows[0]!.v} (fsync=${r.rows[0]!.fsync}, synchronous_commit=${r.rows[0]!.sc})`;
  } finally {
    await c.end();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The machine a run is on, and anything the caller adds (versions). */
export function conditions<E extends Record<string, string>>(extra: E = {} as E) {
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    load_average_before: os.loadavg().map((l) => Math.round(l * 100) / 100),
    ...extra,
  };
}

/** CPU ticks (1/100 s) of a process: utime + stime; null when it cannot be read. */
export function procTicks(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // after the "pid (comm) " prefix: fields 14 and 15
  } catch {
    return null;
  }
}

/** The machine's CPU ticks, all and idle (idle + iowait). Throws where /proc/stat cannot be read. */
/** CPU ticks per pid of every process named `comm` on the machine (postgres, redis-server: other clients' work
 * included, so it is labelled "all"). Per pid, so a backend that exits during a run does not take the ticks it
 * had before the run with it, and one that starts counts from zero. */
export function ticksOf(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.set(Number(d), procTicks(Number(d)) ?? 0);
    } catch {
      /* gone */
    }
  }
  return out;
}
export const ticksBetween = (a: Map<number, number>, b: Map<number, number>) => [...b].reduce((sum, [pid, t]) => sum + t - (a.get(pid) ?? 0), 0);

export function machineTicks(): { total: number; idle: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: line.reduce((a, b) => a + b, 0), idle: (line[3] ?? 0) + (line[4] ?? 0) };
}

/** Until main() is done: once main returns or throws, cleanup runs and the process exits (1 when main threw, after
 * the children's log tails; else process.exitCode or 0). */
export async function runMain(label: string, main: () => Promise<void>, run: Run): Promise<never> {
  let failed = false;
  try {
    await main();
  } catch (err) {
    failed = true;
    console.error(`${label} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    run.tailLogs();
  } finally {
    await run.cleanup();
  }
  process.exit(failed ? 1 : (process.exitCode ?? 0));
}

export type Run = ReturnType<typeof createRun>;

/**
 * The child processes of one run. Each is spawned with stdout and stderr to bench/results/<logPrefix><name>.log and
 * its pid recorded in `pidFile` (for a wrapper, or the next run, to kill after a hard death). `cleanup()` (once; on
 * SIGINT, SIGTERM and SIGHUP too, then exit 130) stops every child (those named in `stopLast` last), removes the pid
 * file, runs the hooks given to `atCleanup`, and drops the run's database.
 */
export function createRun(o: { pidFile: string; logPrefix?: string; adminUrl: string; db: string; stopLast?: string[] }) {
  const children = new Map<string, ChildProcess>();
  const logFiles = new Map<string, string>();
  const hooks: (() => void)[] = [];

  const writePids = () => writeFileSync(o.pidFile, [...children.values()].map((c) => c.pid).filter(Boolean).join('\n') + '\n');

  function spawnChild(name: string, command: string, args: string[], extraEnv: Record<string, string>, ipc = false): ChildProcess {
    const logFile = join(RESULTS, `${o.logPrefix ?? ''}${name}.log`);
    const fd = openSync(logFile, 'w');
    const child = spawn(command, args, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd] });
    closeSync(fd);
    logFiles.set(name, logFile);
    children.set(name, child);
    writePids();
    return child;
  }

  async function stopChild(name: string, c: ChildProcess, quiet = false): Promise<void> {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      if (!quiet) log(`  stopped ${name} (pid ${c.pid})`);
    }
    children.delete(name);
    writePids();
  }

  function tailLogs(): void {
    for (const [name, file] of logFiles) {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (text.trim()) log(`--- last lines of ${file} (${name}):\n${text.slice(-3000)}`);
    }
  }

  /** A previous run killed hard (SIGKILL, OOM) cannot clean up; its children are in the pid file. Only processes
   * whose command line matches `ours` are stopped. */
  function killLeftovers(ours: RegExp): void {
    if (!existsSync(o.pidFile)) return;
    for (const pid of readFileSync(o.pidFile, 'utf8').split('\n').map(Number).filter(Boolean)) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (ours.test(cmd)) {
          process.kill(pid, 'SIGKILL');
          log(`killed leftover pid ${pid} (${cmd.trim()})`);
        }
      } catch {
        /* gone already */
      }
    }
    rmSync(o.pidFile, { force: true });
  }

  let cleaned = false;
  async function cleanup(): Promise<void> {
    if (cleaned) return;
    cleaned = true;
    log('cleanup:');
    const last = new Set(o.stopLast ?? []);
    const order = [...children.keys()].sort((a, b) => Number(last.has(a)) - Number(last.has(b)));
    for (const name of order) await stopChild(name, children.get(name)!).catch(() => {});
    rmSync(o.pidFile, { force: true });
    for (const hook of hooks) hook();
    await dropDatabase(o.adminUrl, o.db).then(
      () => log(`  dropped database ${o.db}`),
      (err: Error) => log(`  could not drop ${o.db}: ${err.message}`),
    );
  }

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`received ${sig}`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  /** Resolves once `probe` does; throws when the child exits first or after `seconds`. */
  async function waitFor(name: string, child: ChildProcess, probe: () => Promise<boolean>, seconds = 60, everyMs = 100): Promise<void> {
    let exited: string | null = null;
    child.once('exit', (code, sig) => (exited = `${name} exited (code ${code}, signal ${sig})`));
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      if (exited) throw new Error(exited);
      if (Date.now() > deadline) throw new Error(`${name} not ready within ${seconds} s`);
      if (await probe().catch(() => false)) return;
      await sleep(everyMs);
    }
  }

  /** A private redis-server for the run (REDIS_SERVER names the binary), on a free port, no persistence, `extraArgs`
   * added; its URL and version once it answers. Stopped with the run's other children. */
  async function startRedis(extraArgs: string[] = []): Promise<{ url: string; version: string }> {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const redis = spawnChild('redis', env.REDIS_SERVER ?? 'redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', ...extraArgs], {});
    await waitFor('redis-server', redis, async () => {
      const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {}); // refused until redis-server listens
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    });
    const c = new Redis(url);
    try {
      return { url, version: /redis_version:(\S+)/.exec(await c.info('server'))?.[1] ?? '?' };
    } finally {
      c.disconnect();
    }
  }

  return {
    children,
    spawnChild,
    stopChild,
    tailLogs,
    killLeftovers,
    waitFor,
    startRedis,
    cleanup,
    atCleanup: (hook: () => void) => void hooks.push(hook),
  };
}

/** A probe for waitFor: the URL answers 2xx. */
export const httpOk = (url: string) => async () => (await fetch(url)).ok;
