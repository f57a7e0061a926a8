// Shared bits for the webhook-endpoint tests: bounded polling, endpoint and delivery-log shortcuts, and a raw
// loopback HTTP server whose handler sees the response object (for receivers that misbehave on purpose).
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { TestApp } from '../helper.js';

type Teardown = { teardown(fn: () => unknown): void };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` every `everyMs` until it returns something truthy; throws after `timeoutMs`. */
export async function waitUntil<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000, label = 'condition', everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await fn();
    if (last) return last as T;
    if (Date.now() > deadline) throw new Error(`${label}: not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

export type Attempt = { attempted_at: string; duration_ms: number; status_code: number | null; error: string | null };
export type Delivery = {
  id: string;
  webhook_id: string;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempt_count: number;
  next_attempt_at: string | null;
  finished_at: string | null;
  attempts: Attempt[];
};

export async function createEndpoint(ta: TestApp, url: string, eventTypes: string[] = ['*'], tenantId?: string): Promise<{ id: string; secret: string }> {
  const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', tenantId, payload: { url, event_types: eventTypes } });
  if (res.statusCode !== 201) throw new Error(`createEndpoint: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function deliveriesOf(ta: TestApp, endpointId: string, tenantId?: string): Promise<Delivery[]> {
  const res = await ta.call({ method: 'GET', url: `/v1/webhook-endpoints/${endpointId}/deliveries?limit=100`, tenantId });
  if (res.statusCode !== 200) throw new Error(`deliveries: ${res.statusCode} ${res.body}`);
  return res.json().items;
}

/** Waits until the endpoint has a delivery matching `pred` and returns it. */
export function waitForDelivery(ta: TestApp, endpointId: string, pred: (d: Delivery) => boolean, timeoutMs = 15_000, label = 'delivery'): Promise<Delivery> {
  return waitUntil(async () => (await deliveriesOf(ta, endpointId)).find(pred), timeoutMs, label);
}

export type RawServer = {
  port: number;
  /** TCP connections accepted so far (counted before any HTTP parsing, so TLS attempts count too). */
  connections: number;
  requests: number;
  close: () => Promise<void>;
};

/** An HTTP server on 127.0.0.1 with a free hand on the response; every socket is destroyed at teardown. */
export async function startRawServer(t: Teardown, handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    handler(req, res, state.requests);
  });
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }));
  t.teardown(close);
  return {
    port,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    close,
  };
}

/** A TCP port that was free a moment ago (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
