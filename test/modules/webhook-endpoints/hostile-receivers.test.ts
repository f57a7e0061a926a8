// Receivers that never answer, trickle their body, or send 50 MB: every attempt is cut off at the timeout (or
// at the read cap), the worker keeps delivering to everyone else, and its heap does not grow with the response.
// Every receiver listens on 127.0.0.1 and stops when the client goes away; every loop is bounded.
import type http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import { createSender } from '../../../src/modules/webhook-endpoints/webhook-endpoints.sender.js';
import { build, createSubject } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, sleep, startRawServer, waitForDelivery, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

type Tap = { teardown(fn: () => unknown): void };

const TIMEOUT_MS = 1500;
const SLACK_MS = 1000;
const BIG = 50 * 1024 * 1024;
const ENV = fastWorkerEnv({ WEBHOOK_RETRY_DELAYS: '1h', WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) }); // one attempt each within the test

/** Reads the request, then never answers (the socket is destroyed at teardown, or after 30 s at the latest). */
async function silentReceiver(t: Tap) {
  const state = { requests: 0, closedAt: [] as number[] };
  const server = await startRawServer(t, (req, res) => {
    state.requests++;
    req.resume();
    const cap = setTimeout(() => res.destroy(), 30_000);
    res.on('close', () => {
      clearTimeout(cap);
      state.closedAt.push(Date.now());
    });
  });
  return { ...state, server, url: `http://127.0.0.1:${server.port}/hooks`, state };
}

/** Sends headers at once, then one byte every 200 ms until the client leaves (150 bytes at most, 30 s). */
async function trickleReceiver(t: Tap) {
  const state = { requests: 0, bytes: 0, closedAt: [] as number[] };
  const server = await startRawServer(t, (req, res) => {
    state.requests++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks > 150 || res.destroyed) {
        clearInterval(timer);
        res.destroy();
        return;
      }
      res.write('x');
      state.bytes++;
    }, 200);
    res.on('close', () => {
      clearInterval(timer);
      state.closedAt.push(Date.now());
    });
  });
  return { server, url: `http://127.0.0.1:${server.port}/hooks`, state };
}

/** Streams 50 MB as fast as the client reads it, stopping when the client leaves. */
async function floodReceiver(t: Tap) {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const state = { requests: 0, sent: [] as number[], completed: 0, closedAt: [] as number[] };
  const server = await startRawServer(t, (req, res: http.ServerResponse) => {
    state.requests++;
    const i = state.sent.push(0) - 1;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
    let stopped = false;
    res.on('close', () => {
      stopped = true;
      state.closedAt.push(Date.now());
    });
    const pump = () => {
      while (!stopped && state.sent[i]! < BIG) {
        state.sent[i]! += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!stopped) {
        state.completed++;
        res.end();
      }
    };
    pump();
  });
  return { server, url: `http://127.0.0.1:${server.port}/hooks`, state };
}

t.test('the sender alone cuts off each hostile receiver at the timeout or the read cap', async (t) => {
  const sender = createSender({ timeoutMs: TIMEOUT_MS, allowPrivate: true });
  t.teardown(() => sender.close());
  const silent = await silentReceiver(t);
  const trickle = await trickleReceiver(t);
  const flood = await floodReceiver(t);

  const timed = async (url: string) => {
    const started = Date.now();
    const result = await sender.send(url, { 'webhook-id': 'msg_x' }, '{}');
    return { result, wall: Date.now() - started };
  };
  // All three at once: one hostile receiver does not delay another.
  const [s, tr, f] = await Promise.all([timed(silent.url), timed(trickle.url), timed(flood.url)]);

  t.same({ status: s.result.statusCode, error: s.result.error }, { status: null, error: `timeout after ${TIMEOUT_MS} ms` }, 'never answers: timeout');
  t.ok(s.wall >= TIMEOUT_MS - 50 && s.wall <= TIMEOUT_MS + SLACK_MS, `never answers: cut off at the timeout (${s.wall} ms)`);
  t.ok(s.result.durationMs <= TIMEOUT_MS + SLACK_MS, 'recorded duration within the bound');

  t.same({ status: tr.result.statusCode, error: tr.result.error }, { status: null, error: `timeout after ${TIMEOUT_MS} ms` }, 'trickle: timeout despite the headers and the bytes');
  t.ok(tr.wall >= TIMEOUT_MS - 50 && tr.wall <= TIMEOUT_MS + SLACK_MS, `trickle: cut off at the timeout (${tr.wall} ms)`);
  t.ok(trickle.state.bytes >= 3, `the trickle had started (${trickle.state.bytes} bytes)`);

  t.same({ status: f.result.statusCode, error: f.result.error }, { status: 200, error: null }, 'flood: the status is recorded');
  t.ok(f.wall <= TIMEOUT_MS + SLACK_MS, `flood: cut off well within the bound (${f.wall} ms)`);

  // The receivers see the connection go away, so their streams stop.
  await waitUntil(() => silent.state.closedAt.length === 1 && trickle.state.closedAt.length === 1 && flood.state.closedAt.length === 1, 3000, 'receivers saw the disconnect');
  t.equal(flood.state.completed, 0, 'the 50 MB were never all sent');
  t.ok(flood.state.sent[0]! < BIG / 2, `the flood stopped early (${(flood.state.sent[0]! / 1048576).toFixed(1)} MB written into the socket)`);
  const bytes = trickle.state.bytes;
  await sleep(600);
  t.equal(trickle.state.bytes, bytes, 'the trickle stopped');
});

t.test('through the worker: each attempt is cut off and recorded, and other deliveries still arrive', async (t) => {
  const ta = await build(t, { env: ENV });
  const silent = await silentReceiver(t);
  const trickle = await trickleReceiver(t);
  const flood = await floodReceiver(t);
  const good = await startReceiver(t);
  const ids = {
    silent: (await createEndpoint(ta, silent.url, ['subject.created'])).id,
    trickle: (await createEndpoint(ta, trickle.url, ['subject.created'])).id,
    flood: (await createEndpoint(ta, flood.url, ['subject.created'])).id,
  };
  const goodEndpoint = await createEndpoint(ta, good.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);

  await createSubject(ta, 'hostile@example.com');
  // The silent and trickling receivers now hold two of the worker's deliveries for 1.5 s.
  await waitUntil(() => silent.server.requests === 1 && trickle.server.requests === 1, 10_000, 'hostile receivers reached');
  const heldSince = Date.now();
  await good.waitFor((all) => all.length >= 1, 5000);
  // While they are still held, a ping to the good endpoint goes through.
  const ping = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${goodEndpoint.id}/test` });
  t.equal(ping.statusCode, 202);
  await good.waitFor((all) => all.some((m) => m.headers['webhook-id'] === ping.json().webhook_id), 5000);
  const pingAt = good.received.at(-1)!.at;
  t.ok(pingAt - heldSince < TIMEOUT_MS, `the ping arrived while the hostile attempts were still held (${pingAt - heldSince} ms)`);
  t.equal(silent.state.closedAt.length, 0, 'the silent receiver was still holding when the ping arrived');

  const silentD = await waitForDelivery(ta, ids.silent, (d) => d.attempts.length === 1, 10_000, 'silent attempt recorded');
  const trickleD = await waitForDelivery(ta, ids.trickle, (d) => d.attempts.length === 1, 10_000, 'trickle attempt recorded');
  const floodD = await waitForDelivery(ta, ids.flood, (d) => d.attempts.length === 1, 10_000, 'flood attempt recorded');
  for (const [label, d] of [
    ['silent', silentD],
    ['trickle', trickleD],
  ] as const) {
    t.equal(d.attempts[0]!.error, `timeout after ${TIMEOUT_MS} ms`, `${label}: recorded as a timeout`);
    t.equal(d.attempts[0]!.status_code, null, `${label}: no status`);
    t.ok(d.attempts[0]!.duration_ms >= TIMEOUT_MS - 50 && d.attempts[0]!.duration_ms <= TIMEOUT_MS + SLACK_MS, `${label}: duration ${d.attempts[0]!.duration_ms} ms`);
    t.equal(d.status, 'pending', `${label}: will be retried`);
  }
  t.equal(floodD.attempts[0]!.status_code, 200, 'flood: the status is recorded');
  t.ok(floodD.attempts[0]!.duration_ms <= TIMEOUT_MS + SLACK_MS, `flood: duration ${floodD.attempts[0]!.duration_ms} ms`);
  t.equal(flood.state.completed, 0, 'the flood was cut off before 50 MB');
  await waitUntil(() => trickle.state.closedAt.length === 1 && silent.state.closedAt.length === 1, 3000, 'hostile connections closed');

  // And the worker still delivers afterwards.
  await createSubject(ta, 'after-hostile@example.com');
  await good.waitFor((all) => all.length >= 3, 5000);
  t.pass('the worker still delivers after the hostile receivers');
});

t.test("the worker's heap does not grow with a 50 MB response", async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext('gc') as (() => void) | undefined);
  t.ok(typeof gc === 'function', 'a gc function is available');
  const collect = async () => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await sleep(20);
    }
    return process.memoryUsage();
  };

  const ta = await build(t, { env: ENV });
  const flood = await floodReceiver(t);
  const warm = await startReceiver(t);
  const floodEndpoint = await createEndpoint(ta, flood.url, ['subject.created']);
  const warmEndpoint = await createEndpoint(ta, warm.url, ['subject.created']);
  const worker = await startTestWorker(t, ta);
  // Warm up every code path (relay, queue, sender, database) before the baseline.
  await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${warmEndpoint.id}/test` });
  await warm.waitFor((all) => all.length >= 1, 5000);
  await waitForDelivery(ta, warmEndpoint.id, (d) => d.status === 'succeeded', 5000);

  const base = await collect();
  let peakHeap = base.heapUsed;
  let peakBuffers = base.arrayBuffers;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
  }, 5);
  t.teardown(() => clearInterval(sampler));
  // Three 50 MB responses, one after another.
  for (let i = 1; i <= 3; i++) {
    const res = await ta.call({ method: 'POST', url: `/v1/webhook-endpoints/${floodEndpoint.id}/test` });
    t.equal(res.statusCode, 202);
    await waitForDelivery(ta, floodEndpoint.id, (d) => d.id === res.json().delivery_id && d.status === 'succeeded', 10_000, `flood ping ${i}`);
  }
  clearInterval(sampler);
  const after = await collect();
  const MB = 1024 * 1024;
  const fmt = (n: number) => `${(n / MB).toFixed(1)} MB`;
  t.equal(flood.state.requests, 3, 'three 50 MB responses were offered');
  t.equal(flood.state.completed, 0, 'none was read to the end');
  t.ok(peakHeap - base.heapUsed < 20 * MB, `peak heap growth ${fmt(peakHeap - base.heapUsed)} < 20 MB`);
  t.ok(peakBuffers - base.arrayBuffers < 20 * MB, `peak buffer growth ${fmt(peakBuffers - base.arrayBuffers)} < 20 MB`);
  t.ok(after.heapUsed - base.heapUsed < 20 * MB, `heap after the responses grew ${fmt(after.heapUsed - base.heapUsed)} < 20 MB`);
  t.ok(after.arrayBuffers - base.arrayBuffers < 20 * MB, `buffers after the responses grew ${fmt(after.arrayBuffers - base.arrayBuffers)} < 20 MB`);
});
