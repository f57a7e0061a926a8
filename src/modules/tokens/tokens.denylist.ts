// Revoked jtis, checked on every request. Postgres is the truth; each instance keeps the set in memory and reloads
// it when it is older than REVOCATION_REFRESH_MS, so a revocation reaches every replica within that bound.
/** A revocation is refused by every instance at most this long after it was committed. */
export const REVOCATION_REFRESH_MS = 2000;

export type Denylist = { isRevoked(jti: string): Promise<boolean> };

/** `load` returns the revoked jtis still worth remembering (their tokens not yet expired). The set is reloaded on
 * demand, never on a timer: an instance serving no token with a jti reads nothing, and one reload at a time runs
 * whatever the traffic. A failed reload fails the request (Postgres unavailable is a 503), never lets it through. */
export function createDenylist(o: { load: () => Promise<string[]>; refreshMs?: number; now?: () => number }): Denylist {
  const refreshMs = o.refreshMs ?? REVOCATION_REFRESH_MS;
  const now = o.now ?? Date.now;
  let revoked = new Set<string>();
  let loadedAt = -Infinity;
  let pending: Promise<void> | null = null;

  function reload(): Promise<void> {
    pending ??= (async () => {
      const started = now();
      try {
        revoked = new Set(await o.load());
        // The set is as fresh as the moment the query began.
        loadedAt = started;
      } finally {
        pending = null;
      }
    })();
    return pending;
  }

  return {
    async isRevoked(jti) {
      if (now() - loadedAt >= refreshMs) await reload();
      return revoked.has(jti);
    },
  };
}
