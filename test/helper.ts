// Test harness: each test file gets its own database and Redis prefix, so files run in parallel.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp, type BuildOptions } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { createDb, type Db } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { withTenant } from '../src/db/tenant-scope.js';
import { signToken } from '../src/lib/tokens.js';
import { SCOPES } from '../src/plugins/auth.js';
import { recordContractViolations } from './helpers/contract.js';

type Tap = {
  teardown(fn: () => unknown): void;
};

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const ALL_SCOPES = SCOPES.join(' ');

function databaseUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, migrated database; `drop` removes it (connections still open are terminated). */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `rightful_t_${randomBytes(6).toString('hex')}`;
  const url = databaseUrl(name);
  await runMigrations(url, testConfig(url).database.appRole);
  const drop = async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  };
  return { url, drop };
}

/** A fresh, migrated database that is dropped when the test file ends. */
export async function createTestDatabase(t: Tap): Promise<string> {
  const { url, drop } = await createDatabase();
  t.teardown(drop);
  return url;
}

export function testConfig(databaseUrlValue: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: databaseUrlValue,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `rightful-test-${randomBytes(4).toString('hex')}`,
    REQUEST_TIMEOUT_MS: '5000',
    HEADERS_TIMEOUT_MS: '5000',
    // Test files share two cores with Chromium and each other: a lag that would mean overload in production is
    // ordinary here, and a shed set-up call fails a test about something else. Shedding keeps its own bench.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '10000',
    ...env,
  });
}

export type TestApp = {
  app: FastifyInstance;
  config: Config;
  databaseUrl: string;
  /** A superuser connection to the test database (it sees every tenant), for looking behind the service's back. */
  sql: pg.Pool;
  /** Drizzle over `sql`: the owner's handle, as the operator's CLI (tokens, repair, purge) uses it. */
  ownerDb: Db;
  tenantId: string;
  token: (scope?: string, opts?: { tenantId?: string; ttlSeconds?: number; sub?: string }) => string;
  /** app.inject with a bearer token for the default tenant (all scopes unless `scope` is given). */
  call: (opts: InjectOptions & { scope?: string; tenantId?: string }) => Promise<LightMyRequestResponse>;
  newTenant: (name?: string) => Promise<string>;
  /** Runs fn in a tenant's scope (the default tenant's unless named), as a request or job does: services and
   * repositories called directly see that tenant's rows only (row-level security). */
  scoped: <T>(fn: () => Promise<T>, tenantId?: string) => Promise<T>;
};

export async function build(t: Tap, opts: BuildOptions & { env?: Record<string, string> } = {}): Promise<TestApp> {
  const { url: databaseUrlValue, drop } = await createDatabase();
  const config = testConfig(databaseUrlValue, opts.env);
  const app = await buildApp(config, opts);
  const violations = recordContractViolations(app);
  await app.ready();
  const sql = new pg.Pool({ connectionString: databaseUrlValue, max: 2 });
  // Connections the drop terminates must not surface as unhandled errors.
  sql.on('error', () => {});
  // One teardown, in order: the app and the pool close before the database is dropped under them.
  t.teardown(async () => {
    await app.close();
    await sql.end();
    await drop();
    // Thrown after the file's tests: tap reports it as a failure of the file.
    if (violations.length) throw new Error(`responses the contract (openapi.yaml) does not describe:\n${[...new Set(violations)].join('\n')}`);
  });
  const newTenant = async (name = 'Test controller') => (await app.services.tenants.create({ name })).id;
  const tenantId = await newTenant();
  const token: TestApp['token'] = (scope = ALL_SCOPES, o = {}) =>
    signToken(config.jwt.secret, {
      sub: o.sub ?? 'test-client',
      tid: o.tenantId ?? tenantId,
      scope,
      ttlSeconds: o.ttlSeconds ?? 3600,
      iss: config.jwt.issuer,
      aud: config.jwt.audience,
    });
  const call: TestApp['call'] = ({ scope, tenantId: tid, headers, ...rest }) =>
    app.inject({ ...rest, headers: { authorization: `Bearer ${token(scope, { tenantId: tid })}`, ...headers } });
  const scoped: TestApp['scoped'] = (fn, tid) => withTenant(tid ?? tenantId, fn);
  return { app, config, databaseUrl: databaseUrlValue, sql, ownerDb: createDb(sql), tenantId, token, call, newTenant, scoped };
}

/** The English texts of a test purpose, with what the notice requires of its kind (Art. 13(1)(d), 22). */
export function purposeTexts(key: string, extra: Record<string, unknown> = {}): Record<string, string> {
  return {
    title: `Title of ${key}`,
    description: `Why we process data for ${key}`,
    ...(extra.legal_basis === 'legitimate_interests' ? { legitimate_interests: `Our interest in ${key}` } : {}),
    ...(extra.automated_decisions ? { automated_decision_logic: `How ${key} decides` } : {}),
  };
}

/** Registers a consent-based purpose (or another basis) in the caller's tenant. */
export async function createPurpose(
  ta: TestApp,
  key: string,
  extra: Record<string, unknown> = {},
  tenantId?: string,
): Promise<Record<string, unknown>> {
  const res = await ta.call({
    method: 'POST',
    url: '/v1/purposes',
    tenantId,
    payload: {
      key,
      legal_basis: 'consent',
      retention: '2 years after the last contact',
      translations: { en: purposeTexts(key, extra) },
      ...(extra.automated_decisions ? { automated_decision_exception: 'explicit_consent' } : {}),
      ...extra,
    },
  });
  if (res.statusCode !== 201) throw new Error(`createPurpose ${key}: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function createSubject(ta: TestApp, email: string, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/subjects', tenantId, payload: { identifiers: [{ type: 'email', value: email }] } });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`createSubject: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

export async function grant(ta: TestApp, subjectId: string, purpose: string, action: 'grant' | 'withdraw' = 'grant', tenantId?: string) {
  const res = await ta.call({
    method: 'POST',
    url: `/v1/subjects/${subjectId}/consents`,
    tenantId,
    // A grant says which form collected it (Art. 7(1)); a withdrawal needs no proof of how.
    payload: { decisions: [{ purpose, action, source: 'api', ...(action === 'grant' ? { evidence: { form_id: 'test-form' } } : {}) }] },
  });
  if (res.statusCode !== 201) throw new Error(`grant: ${res.statusCode} ${res.body}`);
  return res.json();
}
