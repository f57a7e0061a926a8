// A local webhook receiver for tests: records every request, answers as told.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { AddressInfo } from 'node:net';

export type Received = { headers: http.IncomingHttpHeaders; body: string; at: number };

export type Receiver = {
  url: string;
  received: Received[];
  /** Decides the status for each request (default 200); may return 'hang' to never answer. */
  respond: (r: Received, n: number) => number | 'hang';
  waitFor: (predicate: (all: Received[]) => boolean, timeoutMs?: number) => Promise<Received[]>;
  close: () => Promise<void>;
};

export async function startReceiver(t: { teardown(fn: () => unknown): void }): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const r: Partial<Receiver> = { received, respond: () => 200 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const item = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(item);
      const status = r.respond!(item, received.length);
      for (const w of waiters) w();
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  r.url = `http://127.0.0.1:${port}/hooks`;
  r.waitFor = (predicate, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(received)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(received);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`receiver: condition not met within ${timeoutMs} ms (${received.length} received)`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.teardown(() => r.close!());
  return r as Receiver;
}

/** The delivered event, verified as Standard Webhooks says with the endpoint's secret (throws when it does not verify). */
export function verifySigned(secret: string, m: Received): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(m.body, {
    'webhook-id': String(m.headers['webhook-id']),
    'webhook-timestamp': String(m.headers['webhook-timestamp']),
    'webhook-signature': String(m.headers['webhook-signature']),
  }) as { type: string; timestamp: string; data: Record<string, unknown> };
}
