// The baseline that bench/events.ts and bench/backlog.ts measure Rightful's delivery against: raw BullMQ jobs doing
// the same work as a delivery (build a body of a consent.granted delivery's size, sign it with the Standard Webhooks
// HMAC, POST it over a keep-alive agent to the same receiver; bench/events-bullmq-worker.ts), drained as a backlog:
// every job is added first (addBulk by 100, no worker running), then the worker processes start together and the
// clock runs from the first processor call to the last completion.
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { newWebhookSecret } from '../src/lib/webhook-signing.js';
import { machineTicks, procTicks, sleep, type Run } from './processes.js';

export type BaselineResult = {
  jobs: number;
  processes: number;
  concurrency: number;
  /** First processor call → last completion. */
  seconds: number;
  jobs_per_s: number;
  per_worker: number[];
  machine_busy_pct: number;
  /** CPU % per baseline worker process (100 = one core). */
  cpu_pct: number[];
};

export async function rawBaseline(o: {
  run: Run;
  name: string;
  redisUrl: string;
  prefix: string;
  processes: number;
  concurrency: number;
  jobs: number;
  /** The receiver's URL for baseline posts (it answers them as it answers Rightful's). */
  targetUrl: string;
  timeoutS?: number;
}): Promise<BaselineResult> {
  const { run } = o;
  const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(o.name, { connection, prefix: o.prefix, defaultJobOptions: { removeOnComplete: { age: 86_400 } } });
  await queue.obliterate({ force: true });
  for (let i = 0; i < o.jobs; i += 100) {
    const n = Math.min(100, o.jobs - i);
    await queue.addBulk(Array.from({ length: n }, () => {
      const id = crypto.randomUUID();
      return { name: 'event', data: { outbox_id: id }, opts: { jobId: `ob-${id}` } };
    }));
  }
  const secret = newWebhookSecret();
  const states: { completed: number; first: number; last: number }[] = [];
  const procs: ChildProcess[] = [];
  for (let w = 0; w < o.processes; w++) {
    const state = { completed: 0, first: 0, last: 0 };
    states.push(state);
    const child = run.spawnChild(`${o.name}-worker-${w + 1}`, process.execPath, ['--import', 'tsx', 'bench/events-bullmq-worker.ts'], {
      BASELINE_REDIS_URL: o.redisUrl,
      BASELINE_QUEUE: o.name,
      BASELINE_PREFIX: o.prefix,
      BASELINE_CONCURRENCY: String(o.concurrency),
      BASELINE_TARGET_URL: o.targetUrl,
      BASELINE_SECRET: secret,
    }, true);
    let ready = false;
    child.on('message', (m: { ready?: boolean; completed?: number; first?: number; last?: number }) => {
      if (m.ready) ready = true;
      if (typeof m.completed === 'number') Object.assign(state, m);
    });
    procs.push(child);
    await run.waitFor(`${o.name} worker ${w + 1}`, child, async () => ready, 30);
  }
  const ticks0 = procs.map((p) => procTicks(p.pid!) ?? 0);
  const machine0 = machineTicks();
  const at0 = Date.now();
  for (const p of procs) p.send('start');
  const deadline = Date.now() + (o.timeoutS ?? 300) * 1000;
  const done = () => states.reduce((n, s) => n + s.completed, 0);
  while (done() < o.jobs) {
    if (Date.now() > deadline) throw new Error(`${o.name}: only ${done()}/${o.jobs} jobs completed in ${o.timeoutS ?? 300} s`);
    for (const p of procs) if (p.exitCode !== null) throw new Error(`${o.name}: a baseline worker exited (code ${p.exitCode})`);
    await sleep(5);
  }
  const wallTicks = ((Date.now() - at0) / 1000) * 100;
  const cpu = procs.map((p, i) => Math.round((((procTicks(p.pid!) ?? 0) - ticks0[i]!) / wallTicks) * 100));
  const machine1 = machineTicks();
  const dt = machine1.total - machine0.total;
  for (let w = 0; w < procs.length; w++) {
    procs[w]!.send('stop');
    await run.stopChild(`${o.name}-worker-${w + 1}`, procs[w]!, true);
  }
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  const first = Math.min(...states.filter((s) => s.first).map((s) => s.first));
  const last = Math.max(...states.map((s) => s.last));
  const seconds = (last - first) / 1000;
  return {
    jobs: o.jobs,
    processes: o.processes,
    concurrency: o.concurrency,
    seconds,
    jobs_per_s: o.jobs / seconds,
    per_worker: states.map((s) => s.completed),
    machine_busy_pct: dt > 0 ? Math.round((1 - (machine1.idle - machine0.idle) / dt) * 100) : NaN,
    cpu_pct: cpu,
  };
}
