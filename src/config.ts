// The only reader of process.env: every setting is validated here and passed down as a typed Config.
import { resolve } from 'node:path';
import { z } from 'zod';
import { derivedPassword, loginUrl, type AppRole } from './db/roles.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

// A 32-byte key given as 64 hex characters or base64; the development default is public and must never be used in production.
const DEV_MASTER_KEY = '0000000000000000000000000000000000000000000000000000000000000000';
const DEV_JWT_SECRET = 'rightful-development-secret-change-me-0123456789';

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // Where connected systems reach this API from outside (task callback links are built on it).
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Where the person's preference page lives (portal links point at ${PORTAL_BASE_URL}/preferences); default PUBLIC_BASE_URL.
  PORTAL_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Unset (or empty): the embedded Postgres (src/db/embedded.ts) serves, with its data in RIGHTFUL_DATA_DIR.
  DATABASE_URL: z.union([z.literal(''), z.url({ protocol: /^postgres(ql)?$/ })]).optional(),
  // The role the API and worker log in as (row-level security applies to it); DATABASE_URL's role owns the tables.
  // Unset: DATABASE_APP_ROLE on DATABASE_URL's server, created by the migration with a password derived from MASTER_KEY.
  DATABASE_APP_URL: z.union([z.literal(''), z.url({ protocol: /^postgres(ql)?$/ })]).optional(),
  DATABASE_APP_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('rightful_app'),
  RIGHTFUL_DATA_DIR: z.string().min(1).max(1024).default('.rightful'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(2000),
  // Optional: without it the API rate-limits in memory and runs the outbox worker in its own process (one process only).
  REDIS_URL: z.union([z.literal(''), z.url({ protocol: /^rediss?$/ })]).optional(),
  REDIS_PREFIX: z.string().min(1).max(64).default('rightful'),
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').default(DEV_JWT_SECRET),
  JWT_ISSUER: z.string().min(1).default('rightful'),
  JWT_AUDIENCE: z.string().min(1).default('rightful-api'),
  // Tokens from the operator's identity provider (RS256/ES256 against its JWKS); all three or none.
  OIDC_JWKS_URL: z.string().max(4000).optional(),
  OIDC_ISSUERS: z.string().max(4000).optional(),
  OIDC_AUDIENCE: z.string().min(1).max(500).optional(),
  OIDC_TENANT_CLAIM: z.string().min(1).max(200).default('tid'),
  OIDC_SCOPE_CLAIM: z.string().min(1).max(200).default('scope'),
  OIDC_JWKS_CACHE_TTL_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  OIDC_JWKS_COOLDOWN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  OIDC_JWKS_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  MASTER_KEY: z.string().default(DEV_MASTER_KEY),
  MASTER_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('k1'),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30000),
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10000),
  RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(6000),
  // Load shedding: an event-loop lag above this answers 503 OVERLOADED with Retry-After (RELIABILITY.md, INV-8).
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(100).max(60000).default(1000),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).default(60000),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(300),
  TRUST_PROXY: bool.default(false),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  SMTP_URL: z.string().url().optional(),
  SMTP_FROM: z.string().min(3).max(200).default('Rightful <rightful@localhost>'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  WEBHOOK_RETRY_DELAYS: z.string().default('5s,5m,30m,2h,5h,10h,14h,20h,24h'),
  WEBHOOK_DISABLE_AFTER: z.string().default('5d'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(16),
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  OUTBOX_SWEEP_MS: z.coerce.number().int().min(10).default(1000),
  OUTBOX_RECONCILE_MS: z.coerce.number().int().min(100).default(30_000),
  OUTBOX_VISIBILITY_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  // The largest part of an access or portability export one system may upload (bytes; default 50 MB).
  EXPORT_PART_MAX_BYTES: z.coerce.number().int().min(1024).max(2_147_483_647).default(52_428_800),
  EXPORT_BUILDS_MAX: z.coerce.number().int().min(1).max(64).default(2),
  // How far the API's V8 heap may grow past its live data before a full collection (README "Operating it"); 0: V8's own.
  HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(400).default(20),
  // Prometheus metrics: off unless a token or a separate port is set (README "Metrics").
  METRICS_TOKEN: z.string().regex(/^[\x21-\x7e]{32,256}$/, 'METRICS_TOKEN must be 32-256 printable ASCII characters').optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
});

/** "250ms", "5s", "5m", "2h", "3d" → milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

export type Config = {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /** The API's address as connected systems see it, without a trailing slash. */
  publicBaseUrl: string;
  /** Where portal links send the person (PORTAL_BASE_URL, default publicBaseUrl), without a trailing slash. */
  portalBaseUrl: string;
  logLevel: string;
  database: {
    /**
     * Where Postgres answers. With `embedded` set it is EMBEDDED_PENDING_URL, which reaches nothing, until the
     * embedded server runs: `openDatabase` (src/db/embedded.ts) returns the config with the server's address.
     */
    url: string;
    /** The owner's login (DATABASE_URL): migrations and the operator's tools (repair, purge, tokens, tenants). */
    ownerUrl: string;
    /** The application role `url` logs in as, which migrations create and grant (src/db/roles.ts). */
    appRole: AppRole;
    /** Set when DATABASE_URL is unset: the embedded Postgres, keeping its data under `dataDir` (absolute). */
    embedded: { dataDir: string } | null;
    poolMax: number;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
  };
  /** null when REDIS_URL is unset or empty: rate limits in memory, the outbox worker inside the API process. */
  redis: { url: string; prefix: string } | null;
  jwt: { secret: string; issuer: string; audience: string };
  /** Tokens from the operator's identity provider; null when OIDC_JWKS_URL is unset (HS256 service tokens only). */
  oidc: OidcConfig | null;
  masterKey: { id: string; key: Buffer };
  http: { requestTimeoutMs: number; headersTimeoutMs: number; bodyLimit: number; bulkBodyLimit: number };
  rateLimit: { max: number; windowMs: number; authFailuresPerMinute: number };
  overload: { maxEventLoopDelayMs: number };
  trustProxy: boolean;
  webhooks: { allowPrivate: boolean; timeoutMs: number; retryDelaysMs: number[]; disableAfterMs: number; jitter: number };
  smtp: { url: string; from: string } | null;
  worker: { concurrency: number; healthPort: number; sweepMs: number; reconcileMs: number; visibilityTimeoutMs: number };
  exports: { partMaxBytes: number; buildsMax: number };
  /** V8's heap growing factor for the API process, as a percentage over 1 (0: V8's own heuristic). */
  heapGrowingPercent: number;
  metrics: { token: string | null; port: number | null };
};

/** The application's and the owner's logins: the app's own URL when given, else the owner's with the app role. */
export function databaseLogins(ownerUrl: string, appUrl: string | null, roleName: string, masterKey: Buffer): { url: string; ownerUrl: string; appRole: AppRole } {
  if (appUrl) {
    const name = decodeURIComponent(new URL(appUrl).username);
    if (!name) throw new ConfigError('DATABASE_APP_URL must name its role (postgres://role:password@host/db)');
    return { url: appUrl, ownerUrl, appRole: { name, password: null } };
  }
  const appRole = { name: roleName, password: derivedPassword(masterKey) };
  return { url: loginUrl(ownerUrl, appRole), ownerUrl, appRole };
}

function parseKey(raw: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new Error('MASTER_KEY must be 32 bytes, given as 64 hex characters or base64');
  return key;
}

export class ConfigError extends Error {}

/** The database URL while the embedded Postgres has not started: the .invalid domain never resolves (RFC 2606). */
export const EMBEDDED_PENDING_URL = 'postgres://embedded-postgres-not-started.invalid/rightful';

export type OidcConfig = {
  jwksUrls: string[];
  issuers: string[];
  audience: string;
  tenantClaim: string;
  scopeClaim: string;
  cacheTtlMs: number;
  cooldownMs: number;
  timeoutMs: number;
};

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

/** The identity-provider settings: JWKS URLs and issuers are comma-separated lists; http only outside production. */
function oidcConfig(e: z.infer<typeof EnvSchema>): OidcConfig | null {
  const jwksUrls = list(e.OIDC_JWKS_URL);
  const issuers = list(e.OIDC_ISSUERS);
  if (!jwksUrls.length && !issuers.length && !e.OIDC_AUDIENCE) return null;
  if (!jwksUrls.length || !issuers.length || !e.OIDC_AUDIENCE) {
    throw new ConfigError('OIDC_JWKS_URL, OIDC_ISSUERS and OIDC_AUDIENCE must be set together');
  }
  for (const u of jwksUrls) {
    const protocol = URL.canParse(u) ? new URL(u).protocol : '';
    if (protocol !== 'https:' && !(protocol === 'http:' && e.NODE_ENV !== 'production')) {
      throw new ConfigError('OIDC_JWKS_URL must be a comma-separated list of https URLs (http outside production)');
    }
  }
  return {
    jwksUrls,
    issuers,
    audience: e.OIDC_AUDIENCE,
    tenantClaim: e.OIDC_TENANT_CLAIM,
    scopeClaim: e.OIDC_SCOPE_CLAIM,
    cacheTtlMs: e.OIDC_JWKS_CACHE_TTL_MS,
    cooldownMs: e.OIDC_JWKS_COOLDOWN_MS,
    timeoutMs: e.OIDC_JWKS_TIMEOUT_MS,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const retryDelaysMs = e.WEBHOOK_RETRY_DELAYS.split(',').map(parseDuration);
  if (retryDelaysMs.some((d) => d === null)) throw new ConfigError('WEBHOOK_RETRY_DELAYS must be a comma-separated list of durations such as 5s,5m,2h');
  const disableAfterMs = parseDuration(e.WEBHOOK_DISABLE_AFTER);
  if (disableAfterMs === null) throw new ConfigError('WEBHOOK_DISABLE_AFTER must be a duration such as 5d');
  if (e.NODE_ENV === 'production' && (e.MASTER_KEY === DEV_MASTER_KEY || e.JWT_SECRET === DEV_JWT_SECRET)) {
    throw new ConfigError('MASTER_KEY and JWT_SECRET must be set in production (the development defaults are public)');
  }
  // The embedded Postgres is for a laptop: production names its database.
  if (e.NODE_ENV === 'production' && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL must be set in production');
  const masterKey = parseKey(e.MASTER_KEY);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    portalBaseUrl: (e.PORTAL_BASE_URL ?? e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL,
    database: {
      ...databaseLogins(e.DATABASE_URL || EMBEDDED_PENDING_URL, e.DATABASE_APP_URL || null, e.DATABASE_APP_ROLE, masterKey),
      embedded: e.DATABASE_URL ? null : { dataDir: resolve(e.RIGHTFUL_DATA_DIR) },
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.REDIS_PREFIX } : null,
    jwt: { secret: e.JWT_SECRET, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE },
    oidc: oidcConfig(e),
    masterKey: { id: e.MASTER_KEY_ID, key: masterKey },
    http: {
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      headersTimeoutMs: Math.min(e.HEADERS_TIMEOUT_MS, e.REQUEST_TIMEOUT_MS),
      bodyLimit: 64 * 1024,
      bulkBodyLimit: 1024 * 1024,
    },
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW_MS, authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE },
    overload: { maxEventLoopDelayMs: e.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS },
    trustProxy: e.TRUST_PROXY,
    webhooks: {
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryDelaysMs: retryDelaysMs as number[],
      disableAfterMs,
      jitter: 0.2,
    },
    smtp: e.SMTP_URL ? { url: e.SMTP_URL, from: e.SMTP_FROM } : null,
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      healthPort: e.WORKER_HEALTH_PORT,
      sweepMs: e.OUTBOX_SWEEP_MS,
      reconcileMs: e.OUTBOX_RECONCILE_MS,
      visibilityTimeoutMs: e.OUTBOX_VISIBILITY_TIMEOUT_MS,
    },
    exports: { partMaxBytes: e.EXPORT_PART_MAX_BYTES, buildsMax: e.EXPORT_BUILDS_MAX },
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
    metrics: { token: e.METRICS_TOKEN ?? null, port: e.METRICS_PORT ?? null },
    ...overrides,
  };
}
