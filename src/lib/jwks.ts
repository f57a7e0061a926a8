// The identity provider's signing keys, fetched from its JWKS URLs and cached: refetched after the TTL, and at
// once for an unknown `kid` but never more often than the cooldown, so a flood of made-up kids cannot hammer the IdP.
import { importJWK, type JWK } from 'jose';

type PublicKey = Awaited<ReturnType<typeof importJWK>>;
import { z } from 'zod';

/** The algorithms an identity provider's tokens may use; each key serves exactly one of them. */
export const IDP_ALGORITHMS = ['RS256', 'ES256'] as const;
export type IdpAlgorithm = (typeof IDP_ALGORITHMS)[number];

/** How long past its TTL a key set may still be used while every refetch fails (the IdP unreachable). */
const MAX_STALE_MS = 60 * 60_000;
const MAX_JWKS_BYTES = 512 * 1024;
const MAX_KEYS = 100;

const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())).max(MAX_KEYS) });

/** No key set could be fetched, so the token cannot be checked at all: the IdP (or the way to it) is down. */
export class JwksUnavailable extends Error {}

type Key = { alg: IdpAlgorithm; key: PublicKey };
type KeySet = { keys: Map<string, Key>; fetchedAt: number } | null;

export type JwksStore = {
  /** The key for a token's header: matched by `kid`, and only for the algorithm that key is pinned to. */
  getKey(header: { kid?: unknown; alg?: unknown }): Promise<PublicKey>;
};

export function createJwksStore(o: {
  urls: string[];
  cacheTtlMs: number;
  cooldownMs: number;
  timeoutMs: number;
  log: { warn(obj: object, msg: string): void };
  now?: () => number;
  fetch?: typeof fetch;
}): JwksStore {
  const now = o.now ?? Date.now;
  const doFetch = o.fetch ?? fetch;
  const sources = o.urls.map((url) => ({ url, set: null as KeySet, lastAttempt: -Infinity, pending: null as Promise<void> | null }));

  async function load(source: (typeof sources)[number]): Promise<void> {
    source.lastAttempt = now();
    try {
      source.set = { keys: await fetchKeys(source.url, o.timeoutMs, doFetch), fetchedAt: now() };
    } catch (err) {
      // The URL is the operator's own setting; the reason is a fixed phrase or a network error code.
      o.log.warn({ jwksUrl: source.url, reason: (err as Error).message.slice(0, 200) }, 'identity provider keys could not be fetched');
    }
  }

  /** One fetch at a time per URL; concurrent callers wait for the same one. */
  function refresh(source: (typeof sources)[number]): Promise<void> {
    source.pending ??= load(source).finally(() => (source.pending = null));
    return source.pending;
  }

  const usable = (set: KeySet): set is NonNullable<KeySet> => set !== null && now() - set.fetchedAt < o.cacheTtlMs + MAX_STALE_MS;
  const coolingDown = (s: (typeof sources)[number]) => now() - s.lastAttempt < o.cooldownMs;

  return {
    async getKey(header) {
      const { kid, alg } = header;
      if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) throw new Error('the token names no key (kid)');
      if (!(IDP_ALGORITHMS as readonly unknown[]).includes(alg)) throw new Error('the token uses an algorithm not accepted');
      // Expired sets are refetched (not more often than the cooldown while the IdP fails; the old keys serve meanwhile).
      await Promise.all(sources.filter((s) => (s.set === null || now() - s.set.fetchedAt >= o.cacheTtlMs) && !coolingDown(s)).map(refresh));
      const find = () => {
        for (const s of sources) {
          const key = usable(s.set) ? s.set.keys.get(kid) : undefined;
          if (key) return key;
        }
        return undefined;
      };
      let key = find();
      if (!key) {
        // A kid we do not know: perhaps the IdP rotated its keys. One refetch per URL, unless one was just made.
        await Promise.all(sources.filter((s) => !coolingDown(s)).map(refresh));
        key = find();
      }
      if (!key) {
        if (sources.every((s) => !usable(s.set))) throw new JwksUnavailable("the identity provider's keys could not be fetched");
        throw new Error('no key with this kid');
      }
      // Algorithm confusion: a key verifies only the algorithm it was published for.
      if (key.alg !== alg) throw new Error('the token algorithm does not match its key');
      return key.key;
    },
  };
}

async function fetchKeys(url: string, timeoutMs: number, doFetch: typeof fetch): Promise<Map<string, Key>> {
  const res = await doFetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/jwk-set+json, application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`JWKS answered ${res.status}`);
  }
  if (Number(res.headers.get('content-length') ?? 0) > MAX_JWKS_BYTES) {
    await res.body?.cancel();
    throw new Error('JWKS too large');
  }
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS too large');
  let parsed: z.infer<typeof Jwks>;
  try {
    parsed = Jwks.parse(JSON.parse(text));
  } catch {
    throw new Error('JWKS is not a JSON Web Key Set');
  }
  const keys = new Map<string, Key>();
  for (const jwk of parsed.keys) {
    const alg = pinnedAlgorithm(jwk);
    if (!alg || typeof jwk.kid !== 'string' || keys.has(jwk.kid)) continue;
    try {
      keys.set(jwk.kid, { alg, key: await importJWK(jwk as JWK, alg) });
    } catch {
      // A key that does not import (wrong size, missing members) is skipped; the others still serve.
    }
  }
  return keys;
}

/** The one algorithm a published key may verify: its `alg` when given, else the one its type implies. Symmetric
 * (`oct`) keys, encryption keys and other curves are never used. */
function pinnedAlgorithm(jwk: Record<string, unknown>): IdpAlgorithm | null {
  if (jwk.use !== undefined && jwk.use !== 'sig') return null;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return null;
  const implied = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : null;
  // A private member means a private key published by mistake: it is not used.
  if (!implied || jwk.d !== undefined) return null;
  if (jwk.alg !== undefined && jwk.alg !== implied) return null;
  return implied;
}
