// Art. 20(2): a portability package sent directly to another controller. The receiver's URL passes the same guard
// as a webhook endpoint (https, public addresses only, checked at registration and again at connect time); the ZIP is
// POSTed as application/zip with Standard Webhooks signature headers, and the answer is recorded in the request's
// audit trail. The package is first spooled, encrypted under a key that lives only in memory, to a temporary file:
// the signature covers the whole body and must be sent before it, and the file lets a 100 MB package go out
// without holding it in memory.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inTransaction, type Db } from '../../db/client.js';
import { ValidationFailed } from '../../lib/errors.js';
import type { Keyring } from '../../lib/keyring.js';
import { checkWebhookUrlResolved, guardedLookup, isPrivateAddress } from '../../lib/ssrf.js';
import { streamSigner } from '../../lib/webhook-signing.js';
import { RequestNotFound } from '../rights-requests/rights-requests.errors.js';
import type { RightsRequestsRepo } from '../rights-requests/rights-requests.repo.js';
import type { OpenPackage } from './exports.links.js';
import { NotPortability } from './exports.links.errors.js';

/** The whole exchange, connection, upload and answer included. */
export const TRANSMIT_TIMEOUT_MS = 300_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export type TransmitResult = {
  webhook_id: string;
  url: string;
  status_code: number | null;
  transmitted_at: string;
  duration_ms: number;
  bytes: number;
  error: string | null;
};

/**
 * The tenant's transmission secret, in the Standard Webhooks form (`whsec_` + base64 of 32 bytes): derived from the
 * master key and the tenant id, so it needs no storage and is the same on every API replica. It changes only when
 * the master key does.
 */
export function transmissionSecret(keyring: Keyring, tenantId: string): string {
  const key = Buffer.from(hkdfSync('sha256', keyring.current.key, Buffer.alloc(0), `rightful transmissions v1:${tenantId}`, 32));
  return `whsec_${key.toString('base64')}`;
}

/** A pass-through that feeds every chunk to the signature and counts the bytes. */
function tap(signer: ReturnType<typeof streamSigner>, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      signer.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

export function createTransmitService(deps: {
  db: Db;
  requests: RightsRequestsRepo;
  keyring: Keyring;
  openPackage: OpenPackage;
  allowPrivate: boolean;
  timeoutMs?: number;
  clock?: () => Date;
}) {
  const { db, requests, keyring, allowPrivate } = deps;
  const clock = deps.clock ?? (() => new Date());
  const timeoutMs = deps.timeoutMs ?? TRANSMIT_TIMEOUT_MS;
  const lookup = guardedLookup(allowPrivate) as unknown as http.RequestOptions['lookup'];

  /** POSTs the spooled file; the answer's status, or why there was none. Never follows a redirect. */
  function post(target: URL, headers: Record<string, string>, file: string, key: Buffer, iv: Buffer, deadline: number): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, error });
      };
      // Node connects to an IP literal without calling `lookup`: the guard must see it here.
      const literal = target.hostname.replace(/^\[|\]$/g, '');
      if (!allowPrivate && isIP(literal) && isPrivateAddress(literal)) return finish(null, 'destination address is not public');
      const req = (target.protocol === 'https:' ? https : http).request(target, { method: 'POST', lookup, agent: false, headers });
      const timer = setTimeout(() => {
        req.destroy();
        finish(null, `timeout after ${timeoutMs} ms`);
      }, Math.max(0, deadline - Date.now()));
      req.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code === 'EPRIVATEADDRESS' ? 'destination address is not public' : `${err.code ?? 'error'}: connection failed`));
      req.on('response', (res) => {
        const status = res.statusCode ?? null;
        let read = 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read > MAX_RESPONSE_BYTES) {
            res.destroy();
            finish(status, null);
          }
        });
        res.on('end', () => finish(status, null));
        res.on('close', () => finish(status, null));
        res.on('error', () => finish(status, null));
      });
      pipeline(createReadStream(file), createDecipheriv('aes-256-ctr', key, iv), req).catch(() => {
        /* the request's own error or timeout settles the answer */
      });
    });
  }

  return {
    secret: (tenantId: string) => transmissionSecret(keyring, tenantId),

    async transmit(by: { tenantId: string; clientId: string }, requestId: string, rawUrl: string): Promise<TransmitResult> {
      const r = await requests.find(by.tenantId, requestId);
      if (!r) throw new RequestNotFound();
      if (r.type !== 'portability') throw new NotPortability();
      const verdict = await checkWebhookUrlResolved(rawUrl, allowPrivate);
      if (!verdict.ok) throw new ValidationFailed([{ field: 'url', message: verdict.reason }]);
      const target = verdict.url;
      const opened = await deps.openPackage(by.tenantId, requestId, { by: by.clientId, via: 'transmit' });

      const started = Date.now();
      const deadline = started + timeoutMs;
      const msgId = `msg_${crypto.randomUUID()}`;
      const timestamp = Math.floor(clock().getTime() / 1000);
      const secret = transmissionSecret(keyring, by.tenantId);
      const signer = streamSigner(secret, msgId, timestamp);
      const counter = { bytes: 0 };
      const dir = await mkdtemp(join(tmpdir(), 'rightful-transmit-'));
      const file = join(dir, 'package');
      const key = randomBytes(32);
      const iv = randomBytes(16);
      let outcome: { status: number | null; error: string | null };
      try {
        const spool = pipeline(opened.stream, tap(signer, counter), createCipheriv('aes-256-ctr', key, iv), createWriteStream(file, { mode: 0o600 }));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          spool,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('the package could not be prepared in time')), timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        const size = (await stat(file)).size;
        outcome = await post(
          target,
          {
            'content-type': 'application/zip',
            'content-length': String(size),
            'content-disposition': `attachment; filename="${opened.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
            'user-agent': 'Rightful-Transmissions/1',
            'webhook-id': msgId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signer.signature(),
          },
          file,
          key,
          iv,
          deadline,
        );
      } catch (err) {
        opened.stream.destroy();
        outcome = { status: null, error: err instanceof Error && err.message.startsWith('the package') ? err.message : 'the package could not be prepared' };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const at = clock();
      const result: TransmitResult = {
        webhook_id: msgId,
        url: target.toString(),
        status_code: outcome.status,
        transmitted_at: at.toISOString(),
        duration_ms: Date.now() - started,
        bytes: counter.bytes,
        error: outcome.error ?? (outcome.status !== null && (outcome.status < 200 || outcome.status > 299) ? `the receiver answered ${outcome.status}` : null),
      };
      await inTransaction(db, async (tx) => {
        await requests.lock(by.tenantId, requestId, tx);
        await requests.appendNote(
          { tenantId: by.tenantId, id: requestId },
          {
            action: result.error ? 'export.transmission_failed' : 'export.transmitted',
            actor: by.clientId,
            at,
            // The receiving controller's address (an organisation's endpoint, not the person's data) and its answer.
            facts: { webhook_id: msgId, receiver: target.origin, status_code: result.status_code, duration_ms: result.duration_ms, bytes: result.bytes, error: result.error },
          },
          tx,
        );
      });
      return result;
    },
  };
}
export type TransmitService = ReturnType<typeof createTransmitService>;
