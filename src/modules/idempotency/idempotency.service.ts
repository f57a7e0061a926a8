// Idempotent creation: the first answer to an Idempotency-Key is stored in the same transaction as the write,
// so a retry after any failure either finds both or neither.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { sha256Hex } from '../../lib/crypto.js';
import { IdempotencyKeyReused } from '../../lib/errors.js';
import { principalOf } from '../../plugins/auth.js';
import type { IdempotencyRepo } from './idempotency.repo.js';

export type Answer<T> = { status: number; body: T };

/**
 * How an answer is kept for replay. By default the body is stored as it was sent. An answer that carries personal
 * data (decrypted identifiers) must not sit in plaintext in idempotency_keys: `store` keeps only what is needed to
 * rebuild it (e.g. the subject id) and `replay` rebuilds it, outside the transaction, when the key is used again.
 */
export type ReplayOptions<T> = { store: (body: T) => object; replay: (stored: unknown) => Promise<T> };

function fingerprint(request: FastifyRequest): string {
  return sha256Hex(JSON.stringify([request.method, request.routeOptions.url, request.params ?? null, request.body ?? null]));
}

export function createIdempotencyService(deps: { db: Db; repo: IdempotencyRepo }) {
  const { db, repo } = deps;
  return {
    async respond<T>(
      request: FastifyRequest,
      reply: FastifyReply,
      work: (tx: Tx) => Promise<Answer<T>>,
      options?: ReplayOptions<T>,
    ): Promise<T> {
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string') {
        const answer = await work(db);
        reply.code(answer.status);
        return answer.body;
      }
      const { tenantId } = principalOf(request);
      const print = fingerprint(request);
      const answer = await inTransaction(db, async (tx) => {
        await repo.lock(tenantId, key, tx);
        const stored = await repo.find(tenantId, key, tx);
        if (stored) {
          if (stored.fingerprint !== print) throw new IdempotencyKeyReused();
          reply.header('idempotent-replayed', 'true');
          return { status: stored.statusCode, body: stored.response as T, replayed: true };
        }
        const fresh = await work(tx);
        const response = options ? options.store(fresh.body) : (fresh.body as object);
        await repo.insert({ tenantId, key, fingerprint: print, statusCode: fresh.status, response }, tx);
        return { ...fresh, replayed: false };
      });
      reply.code(answer.status);
      return answer.replayed && options ? options.replay(answer.body) : answer.body;
    },
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
