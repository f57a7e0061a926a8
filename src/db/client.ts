// Postgres access: a pg Pool with bounded waits (node-postgres waits forever by default) and Drizzle over it.
import { drizzle, NodePgSession, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import * as schema from './schema.js';
import { bypassesRowSecuritySql } from './roles.js';
import { currentTenant } from './tenant-scope.js';

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };
/** Either the pool-wide handle or an open transaction; every repository method accepts both. */
export type Tx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

/** Refused at checkout: the application's role could read every tenant's rows. */
export class RowSecurityBypassed extends Error {
  constructor() {
    super('the database role of the application bypasses row-level security (a superuser, BYPASSRLS or an owner of the tables); see DATABASE_APP_URL');
  }
}

type ScopedClient = pg.PoolClient & { rightfulTenant?: string };

// Each checkout names the caller's tenant (src/db/tenant-scope.ts) in `rightful.tenant_id`, which every row-level
// security policy reads. The setting is the connection's until the next checkout sets it again, so it is sent only
// when it changes: a pool serving one tenant pays nothing, and no connection ever runs a caller's statement under
// another tenant's name. A new connection is first checked: a role that bypasses the policies is refused.
const ALIGN_SQL = "SELECT set_config('rightful.tenant_id', $1, false)";
const CHECK_SQL = `SELECT set_config('rightful.tenant_id', $1, false), ${bypassesRowSecuritySql('current_user')} AS bypasses`;

class TenantScopedPool extends pg.Pool {
  // pg-pool's own query() checks out through connect(cb), so every statement passes here.
  override connect(): Promise<pg.PoolClient>;
  override connect(cb: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(cb?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    const tenant = currentTenant() ?? '';
    const checkedOut = super.connect().then(async (client: ScopedClient) => {
      if (client.rightfulTenant === tenant) return client;
      try {
        const first = client.rightfulTenant === undefined;
        const { rows } = await client.query<{ bypasses?: boolean }>(first ? CHECK_SQL : ALIGN_SQL, [tenant]);
        if (first && rows[0]?.bypasses !== false) throw new RowSecurityBypassed();
      } catch (err) {
        client.release(err as Error);
        throw err;
      }
      client.rightfulTenant = tenant;
      return client;
    });
    if (!cb) return checkedOut;
    checkedOut.then((client) => cb(undefined, client, (release) => client.release(release as Error | boolean | undefined)), (err: Error) => cb(err, undefined, () => {}));
  }
}

// Timestamps travel as strings and become Dates in the repositories; `timestamptz` parsing stays the default.
export function createPool(
  config: Config['database'],
  log: Pick<Logger, 'warn' | 'error'>,
  opts: { applicationName?: string; asyncCommit?: boolean; owner?: boolean } = {},
): pg.Pool {
  // The operator's tools (migrate, repair, purge, tokens) connect as the owner, which sees every tenant.
  const Pool = opts.owner ? pg.Pool : TenantScopedPool;
  const pool = new Pool({
    connectionString: opts.owner ? config.ownerUrl : config.url,
    // Only for work whose loss in a Postgres crash is repaired by redoing it (the worker's bookkeeping): the commit
    // then does not wait for the WAL flush. Everything acknowledged to a client keeps synchronous_commit = on.
    ...(opts.asyncCommit ? { options: '-c synchronous_commit=off' } : {}),
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1000,
    idle_in_transaction_session_timeout: 10_000,
    application_name: opts.applicationName ?? 'rightful',
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', (err) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'postgres idle client error'));
  // A checked-out client has no pool listener: when Postgres crashes under a query, its 'error' event would be an
  // uncaught exception and take the process down. The query in flight fails on its own (the request answers 503)
  // and the pool discards the client on release, so the event needs no more than a listener.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

// drizzle-orm 0.45 sends BEGIN before its try/finally: when the connection dies at BEGIN (Postgres crashing or
// restarting under load), the pooled client is never released. Each such moment takes a pool slot for good (after
// DATABASE_POOL_MAX of them every request is a 503) and pool.end() never returns, so a graceful shutdown hangs.
// Here the pool-level transaction checks the client out itself and releases it whatever happens; drizzle's own code
// then runs on that client (a client, not a pool: it neither checks out nor releases). The pool drops a client whose
// connection broke (not queryable) on release. test/faults/postgres-crash.test.ts closes the app after a crash.
type SessionInternals = { client: pg.Pool | pg.PoolClient; dialect: unknown; schema: unknown; options: unknown };
type Transaction = (this: SessionInternals, fn: unknown, config?: unknown) => Promise<unknown>;
const sessionProto = NodePgSession.prototype as unknown as { transaction: Transaction };
const drizzleTransaction = sessionProto.transaction;
sessionProto.transaction = async function (this: SessionInternals, fn: unknown, config?: unknown) {
  if (!(this.client instanceof pg.Pool)) return drizzleTransaction.call(this, fn, config);
  const client = await this.client.connect();
  try {
    const Session = NodePgSession as unknown as new (...a: unknown[]) => SessionInternals;
    return await drizzleTransaction.call(new Session(client, this.dialect, this.schema, this.options), fn, config);
  } finally {
    client.release();
  }
};

export function createDb(pool: pg.Pool): Db {
  return drizzle(pool, { schema }) as Db;
}

/** Runs fn in a transaction, or in a savepoint when `outer` is a transaction already (e.g. an idempotent request's). */
export function inTransaction<T>(outer: Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return (outer as Db).transaction(fn as Parameters<Db['transaction']>[0]) as Promise<T>;
}
