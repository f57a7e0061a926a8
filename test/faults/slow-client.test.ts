// Slow clients are cut off: a client trickling its body or its headers gets a 408 problem and the connection is
// closed, a little after REQUEST_TIMEOUT_MS / HEADERS_TIMEOUT_MS (timeouts are checked once a second).
import net from 'node:net';
import t from 'tap';
import { build } from '../helper.js';

const TIMEOUT_MS = 2000;
const CHECK_INTERVAL_MS = 1000;
const SLACK_MS = 1500;

type Outcome = { data: string; closedAfterMs: number; firstByteAfterMs: number | null; bytesSent: number };

/** Opens a socket, writes `head` at once, then one byte of `trickle` per `everyMs` until the server answers or
 * closes; gives up (and fails the caller's assertions) after `giveUpMs`. */
function trickle(port: number, head: string, tail: string, everyMs: number, giveUpMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    let data = '';
    let firstByteAfterMs: number | null = null;
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      let i = 0;
      timer = setInterval(() => {
        if (i < tail.length && socket.writable) {
          socket.write(tail.charAt(i++));
          bytesSent = i;
        }
      }, everyMs);
    });
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('data', (chunk) => {
      firstByteAfterMs ??= Date.now() - started;
      data += chunk.toString('utf8');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ data, closedAfterMs: Date.now() - started, firstByteAfterMs, bytesSent });
    });
  });
}

function parse(data: string): { status: number; headers: string; body: string } {
  const [head, body = ''] = data.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1] ?? 0), headers: head ?? '', body };
}

t.test('slow clients', async (t) => {
  const ta = await build(t, { env: { REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), HEADERS_TIMEOUT_MS: String(TIMEOUT_MS) } });
  await ta.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (ta.app.server.address() as net.AddressInfo).port;
  const auth = `Authorization: Bearer ${ta.token()}\r\n`;
  const body = JSON.stringify({ identifiers: [{ type: 'email', value: 'slow@example.com' }] });

  t.test('a client trickling its body gets a 408 and is disconnected', async (t) => {
    const head = `POST /v1/subjects/lookup HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
    // Meanwhile the server keeps serving everyone else.
    const slow = trickle(port, head, 'x'.repeat(1000), 1000, TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS + 3000);
    const other = await fetch(`http://127.0.0.1:${port}/healthz`);
    t.equal(other.status, 200, 'another client is served while the slow one trickles');
    const out = await slow;
    const res = parse(out.data);
    t.equal(res.status, 408, `408 (got ${JSON.stringify(out.data.slice(0, 200))})`);
    t.match(res.headers, /content-type: application\/problem\+json/i);
    t.match(res.headers, /x-request-id: [0-9a-f-]{36}/i, 'with a request id to quote');
    t.equal(JSON.parse(res.body || '{}').code, 'REQUEST_TIMEOUT');
    t.ok(out.firstByteAfterMs !== null && out.firstByteAfterMs >= TIMEOUT_MS - 100, `not cut off early (${out.firstByteAfterMs} ms)`);
    t.ok(out.firstByteAfterMs !== null && out.firstByteAfterMs <= TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS, `answered within a few seconds of the timeout (${out.firstByteAfterMs} ms)`);
    t.ok(out.closedAfterMs - (out.firstByteAfterMs ?? 0) < 1000, `the connection was closed (${out.closedAfterMs} ms)`);
    t.ok(out.bytesSent < 10, `the body was never complete (${out.bytesSent} bytes sent)`);
  });

  t.test('a client trickling its headers gets a 408 and is disconnected', async (t) => {
    const out = await trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: abcdefghijklmnopqrstuvwxyz\r\n\r\n', 1000, TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS + 3000);
    const res = parse(out.data);
    t.equal(res.status, 408, `408 (got ${JSON.stringify(out.data.slice(0, 200))})`);
    t.equal(JSON.parse(res.body || '{}').code, 'REQUEST_TIMEOUT');
    t.ok(out.firstByteAfterMs !== null && out.firstByteAfterMs <= TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS, `answered within a few seconds of the timeout (${out.firstByteAfterMs} ms)`);
    t.ok(out.closedAfterMs - (out.firstByteAfterMs ?? 0) < 1000, `the connection was closed (${out.closedAfterMs} ms)`);
  });

  t.test('a client that connects and sends nothing is disconnected', async (t) => {
    const out = await trickle(port, '', '', 1000, TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS + 3000);
    t.ok(out.closedAfterMs <= TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS, `closed (${out.closedAfterMs} ms)`);
  });

  t.test('a slow client inside the limit is served normally', async (t) => {
    // The whole body in ~1 s, half the timeout: an ordinary answer (404: nobody has that email), not a 408.
    const head = `POST /v1/subjects/lookup HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const out = await trickle(port, head, body, Math.floor(1000 / body.length), 5000);
    const res = parse(out.data);
    t.equal(res.status, 404, `answered normally (got ${JSON.stringify(out.data.slice(0, 200))})`);
    t.equal(JSON.parse(res.body || '{}').code, 'SUBJECT_NOT_FOUND');
  });
});
