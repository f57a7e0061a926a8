// Waits out a load-shedding spell: the first response of a test app compiles the contract's validators (a second or
// more of blocked event loop on a busy box), and under-pressure answers 503 OVERLOADED until its next sample.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';

/** Polls `probe` until it answers 2xx (at most `timeoutMs`); returns how long that took. */
export async function settle(call: (o: InjectOptions) => Promise<LightMyRequestResponse>, probe: InjectOptions = { method: 'GET', url: '/v1/purposes' }, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await call(probe);
    if (res.statusCode < 300) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`settle: ${probe.method} ${probe.url} still ${res.statusCode} after ${timeoutMs} ms: ${res.body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Call = (o: InjectOptions & { scope?: string }) => Promise<LightMyRequestResponse>;

/** `call`, retried (for up to `timeoutMs`) while the answer is 503 OVERLOADED: for a test's set-up steps, which are
 * not what the test is about. */
export function retryingShed<C extends Call>(call: C, timeoutMs = 15_000): C {
  return (async (o: InjectOptions & { scope?: string }) => {
    const started = Date.now();
    for (;;) {
      const res = await call(o);
      if (res.statusCode !== 503 || res.json().code !== 'OVERLOADED' || Date.now() - started > timeoutMs) return res;
      await new Promise((r) => setTimeout(r, 200));
    }
  }) as C;
}
