// A throwaway Redis for tests that stop, flush or restart it: never the shared one on 6379.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';


export type ThrowawayRedis = { url: string; port: number; start(): Promise<void>; stop(): Promise<void>; client(): Redis };

export async function startThrowawayRedis(t: { teardown(fn: () => unknown): void }): Promise<ThrowawayRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const clients: Redis[] = [];
  const self: ThrowawayRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
        stdio: 'ignore',
      });
      for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => {
            c.end();
            resolve(true);
          });
          c.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('throwaway redis did not start');
    },
    async stop() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    client() {
      const c = new Redis(self.url, { maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
  };
  await self.start();
  t.teardown(async () => {
    for (const c of clients) c.disconnect();
    await self.stop();
  });
  return self;
}
