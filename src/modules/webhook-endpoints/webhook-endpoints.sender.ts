// One HTTP POST to a receiver, bounded in every way a hostile receiver could stretch it: a total deadline
// (headers, body and trickling included), a response read cap, no redirects, public addresses only.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress } from '../../lib/ssrf.js';

export type SendResult = { statusCode: number | null; durationMs: number; error: string | null };

export type SenderOptions = { timeoutMs: number; allowPrivate: boolean; maxResponseBytes?: number };

export function createSender(opts: SenderOptions) {
  const lookup = guardedLookup(opts.allowPrivate) as unknown as http.AgentOptions['lookup'];
  // Idle sockets are closed after 4 s, before a receiver's own keep-alive timeout (Node's is 5 s) closes them
  // under a request that is about to reuse one.
  const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, timeout: 4000, lookup };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
  const maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024;

  return {
    send(url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
      const started = performance.now();
      return new Promise((resolve) => {
        let settled = false;
        // Declared before finish: the early exits below call finish before the request (and its timer) exist.
        let deadline: NodeJS.Timeout | undefined;
        const finish = (statusCode: number | null, error: string | null) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve({ statusCode, durationMs: Math.round(performance.now() - started), error });
        };
        let target: URL;
        try {
          target = new URL(url);
        } catch {
          return finish(null, 'invalid url');
        }
        const transport = target.protocol === 'https:' ? https : http;
        const agent = agents[target.protocol as 'http:' | 'https:'];
        if (!agent) return finish(null, 'unsupported scheme');
        // Node connects to an IP literal without calling `lookup`, so the guard there never sees it: check it here.
        const literal = target.hostname.replace(/^\[|\]$/g, '');
        if (!opts.allowPrivate && isIP(literal) && isPrivateAddress(literal)) return finish(null, 'destination address is not public');
        const req = transport.request(target, {
          method: 'POST',
          agent,
          lookup,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), 'user-agent': 'Rightful-Webhooks/1' },
        });
        deadline = setTimeout(() => {
          req.destroy();
          finish(null, `timeout after ${opts.timeoutMs} ms`);
        }, opts.timeoutMs);
        req.on('error', (err: NodeJS.ErrnoException) => {
          finish(null, err.code === 'EPRIVATEADDRESS' ? 'destination address is not public' : `${err.code ?? 'error'}: connection failed`);
        });
        req.on('response', (res) => {
          let read = 0;
          const status = res.statusCode ?? null;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            // The body is not needed; stop reading a receiver that sends too much, without buffering it.
            if (read > maxResponseBytes) {
              res.destroy();
              finish(status, null);
            }
          });
          res.on('end', () => finish(status, null));
          res.on('error', () => finish(status, null));
          res.on('close', () => finish(status, null));
        });
        req.end(body);
      });
    },
    close(): void {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
export type Sender = ReturnType<typeof createSender>;
