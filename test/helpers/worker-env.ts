// The outbox worker in tests: settings that make it sweep, reconcile and retry within a test's time, and a worker
// started in the test's process (through BullMQ, or the in-process transport without Redis) stopped at teardown.
import { startInProcessWorker, startWorker, type StartWorkerOptions } from '../../src/worker-runtime.js';
import type { TestApp } from '../helper.js';

type Teardown = { teardown(fn: () => unknown): void };

/** Env for build() (or a worker process): private receivers allowed, a 100 ms sweep, 300 ms reconcile, 1.5 s
 * visibility timeout, retries after 200, 300 and 500 ms, a 2 s request timeout; `overrides` replace or add. */
export function fastWorkerEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    OUTBOX_SWEEP_MS: '100',
    OUTBOX_RECONCILE_MS: '300',
    OUTBOX_VISIBILITY_TIMEOUT_MS: '1500',
    WEBHOOK_RETRY_DELAYS: '200ms,300ms,500ms',
    WEBHOOK_TIMEOUT_MS: '2000',
    ...overrides,
  };
}

/** A worker on the test app's database and Redis (no health port), stopped at teardown. `register` adds jobs beside
 * the modules', as a new consumer would. `inProcess`: the dispatcher run by the relay itself, without Redis (as the
 * API runs it when REDIS_URL is unset); the default follows the config: BullMQ when it has Redis. */
export async function startTestWorker(
  t: Teardown,
  ta: TestApp,
  opts: Pick<StartWorkerOptions, 'clock' | 'register'> & { inProcess?: boolean } = {},
) {
  const { inProcess = ta.config.redis === null, ...rest } = opts;
  const worker = inProcess ? await startInProcessWorker(ta.config, rest) : await startWorker(ta.config, { ...rest, healthPort: null });
  t.teardown(() => worker.stop(5000));
  return worker;
}
