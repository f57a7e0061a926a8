// The tenant a request or job works for, carried through its async calls (AsyncLocalStorage) to the pool: each
// checkout of a connection names it to Postgres (src/db/client.ts), whose row-level security then shows and
// accepts that tenant's rows only (migrations/0013_row_level_security.sql). Outside any scope no tenant is named
// and every tenant table looks empty.
import { AsyncLocalStorage } from 'node:async_hooks';

type Scope = { tenantId: string | null };

const storage = new AsyncLocalStorage<Scope>();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checked(tenantId: string): string {
  // The value goes into a Postgres setting cast to uuid by every policy: anything else would fail every query.
  if (!UUID.test(tenantId)) throw new Error('a tenant scope needs a tenant id (a UUID)');
  return tenantId.toLowerCase();
}

/** Runs fn (and everything it starts) for one tenant. */
export function withTenant<T>(tenantId: string, fn: () => T): T {
  return storage.run({ tenantId: checked(tenantId) }, fn);
}

/**
 * Runs fn in the scope `currentTenant()` returned earlier: a tenant's, or none (where every tenant table is empty).
 * A request starts in a scope of none, bound to its tenant once its token or link says whose it is (`bindTenant`).
 */
export function inScopeOf<T>(tenantId: string | null, fn: () => T): T {
  return tenantId === null ? storage.run({ tenantId: null }, fn) : withTenant(tenantId, fn);
}

/**
 * Names the tenant of the scope in progress (a request, once its token or link says whose it is). A scope that
 * names a tenant already keeps it: one request never works for two tenants.
 */
export function bindTenant(tenantId: string): void {
  const scope = storage.getStore();
  if (!scope) throw new Error('bindTenant outside a scope: use withTenant');
  const id = checked(tenantId);
  if (scope.tenantId !== null && scope.tenantId !== id) throw new Error('this scope works for another tenant');
  scope.tenantId = id;
}

/** The tenant of the scope in progress; null outside one or before it is bound. */
export function currentTenant(): string | null {
  return storage.getStore()?.tenantId ?? null;
}

/**
 * Runs fn for the tenant a credential named (a callback link, a download link, an unsubscribe link): the request's
 * scope is bound to it, so the rest of the request (a streamed response too) works for it; outside a request a
 * scope of its own is opened.
 */
export function inTenant<T>(tenantId: string, fn: () => T): T {
  if (!storage.getStore()) return withTenant(tenantId, fn);
  bindTenant(tenantId);
  return fn();
}
