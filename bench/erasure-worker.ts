// Child process of bench/erasure.ts: the outbox worker as src/worker.ts starts it (loadConfig → startWorker; on
// SIGTERM stop with the same 25 s deadline), which also reports its memory to the parent over IPC: every 100 ms
// { mem: { rss, heapUsed, heapTotal, external, arrayBuffers } } (bytes, process.memoryUsage()), and on the parent's
// "gc" message one report after a full garbage collection (run with --expose-gc), so "after" can show what is
// retained rather than what is merely not yet collected. No health server: the parent knows it is up by { ready }.
import { loadConfig } from '../src/config.js';
import { startWorker } from '../src/worker-runtime.js';

if (!process.send) throw new Error('run by bench/erasure.ts');

const runtime = await startWorker(loadConfig(), { healthPort: null });
const report = (extra: Record<string, unknown> = {}) => process.send?.({ mem: process.memoryUsage(), at: Date.now(), ...extra });
const timer = setInterval(report, 100);
process.send({ ready: true });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await runtime.stop(25_000);
  process.exit(0);
}
process.on('message', (m) => {
  if (m === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    report({ gc: true });
  }
});
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
