// `npm run quickstart`: with nothing but Node, the whole service in one process. The database is DATABASE_URL or
// the embedded Postgres (started, migrated, kept in RIGHTFUL_DATA_DIR); the event worker runs inside the process
// (on Redis when REDIS_URL is set). It makes the demo tenant once (found by name on later runs), mints a 12-hour
// token with every scope, starts the API and prints the token with curl examples. Safe to re-run.
import { asc, eq } from 'drizzle-orm';
import net from 'node:net';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createDb, createPool, type Db } from '../db/client.js';
import { EmbeddedPostgresError } from '../db/embedded.js';
import { tenants } from '../modules/tenants/tenants.table.js';
import { SCOPES } from '../plugins/auth.js';
import { startApi, type RunningApi } from '../server.js';
import { mintToken } from './token.js';

const DEMO_TENANT_NAME = 'Demo controller';
const TOKEN_TTL_SECONDS = 12 * 3600;

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** The demo tenant, looked up by name so re-running never piles up tenants: found across tenants (so through the owner's handle, as the CLI would) or created. */
async function demoTenant(api: RunningApi, owner: Db): Promise<{ id: string; created: boolean }> {
  const [found] = await owner
    .select({ id: tenants.id })
    .from(tenants)
    .where(eq(tenants.name, DEMO_TENANT_NAME))
    .orderBy(asc(tenants.createdAt))
    .limit(1);
  if (found) return { id: found.id, created: false };
  const tenant = await api.app.services.tenants.create({ name: DEMO_TENANT_NAME, timezone: 'Europe/Sofia', deadline_policy: 'eu', holiday_calendar: 'BG' });
  return { id: tenant.id, created: true };
}

function banner(o: { url: string; tenantId: string; token: string; config: Config; database: string; worker: string }): string {
  const { url, tenantId, token } = o;
  const auth = `-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json'`;
  return `
================================================================================
Rightful API on ${url}   (Swagger UI: ${url}/docs, readiness: ${url}/readyz)
Database: ${o.database}
Worker:   ${o.worker}
Tenant "${DEMO_TENANT_NAME}": ${tenantId}
A token with every scope, valid for 12 hours - paste these into another terminal:

export TOKEN='${token}'

# Register a consent-based purpose (201; 409 when "newsletter" exists already)
curl -s -w '\\n' -X POST ${url}/v1/purposes \\
  ${auth} \\
  -d '{"key":"newsletter","legal_basis":"consent","direct_marketing":true,"data_categories":["email"],"retention":"Until consent is withdrawn","translations":{"en":{"title":"Newsletter","description":"Monthly news and offers by email."}}}'

# Record a subject (201 when new, 200 with the same subject when the email is known already)
curl -s -w '\\n' -X POST ${url}/v1/subjects \\
  ${auth} \\
  -d '{"external_ref":"crm-1001","identifiers":[{"type":"email","value":"Ada@Example.com"}]}'

# Then grant consent and check who may be contacted (re-posting the subject answers 200 with its id)
SUBJECT_ID=$(curl -s -X POST ${url}/v1/subjects \\
  ${auth} \\
  -d '{"external_ref":"crm-1001","identifiers":[{"type":"email","value":"Ada@Example.com"}]}' \\
  | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')
curl -s -w '\\n' -X POST ${url}/v1/subjects/$SUBJECT_ID/consents \\
  ${auth} \\
  -d '{"decisions":[{"purpose":"newsletter","action":"grant","source":"web_form","evidence":{"form_id":"signup-page"}}]}'
curl -s -w '\\n' -X POST ${url}/v1/consents/check \\
  ${auth} \\
  -d '{"purpose":"newsletter","identifiers":[{"type":"email","value":"ada@example.com"}]}'

# The person's own preference page: mint a portal link (valid 24 hours) and open its url in a browser
curl -s -w '\\n' -X POST ${url}/v1/subjects/$SUBJECT_ID/portal-links \\
  ${auth} -d '{}'

# Webhooks: the event worker runs in this process; register a receiver with POST ${url}/v1/webhook-endpoints
# (https; see README "Events and webhooks").

Another token:  npm run -s cli -- token --tenant ${tenantId} --scope all --ttl 12h
Your own Postgres and Redis instead: DATABASE_URL=postgres://USER@HOST:5432/rightful REDIS_URL=redis://HOST:6379 npm run quickstart
  (then migrate with npm run migrate, and add workers with npm run worker; unset, they are embedded / in-process).
Stop with Ctrl-C${o.config.database.embedded ? ' (the embedded Postgres stops with it)' : ''}; run \`npm run quickstart\` again to restart (the tenant and data are kept).
================================================================================
`;
}

async function main(): Promise<void> {
  const loaded = loadConfig();
  if (!(await portIsFree(loaded.port, loaded.host))) {
    console.error(`quickstart: port ${loaded.port} is taken by another program; stop it or run: PORT=3001 npm run quickstart`);
    process.exit(1);
  }
  console.log(
    loaded.database.embedded
      ? `quickstart: embedded Postgres at ${loaded.database.embedded.dataDir}/postgres (no DATABASE_URL; the first start creates it)`
      : 'quickstart: external Postgres from DATABASE_URL',
  );
  if (!loaded.database.embedded) {
    // An external database is migrated by the operator before a rollout; here, on a laptop, it is done for them.
    const { runMigrations } = await import('../db/migrate.js');
    await runMigrations(loaded.database.ownerUrl, loaded.database.appRole);
  }
  const api = await startApi(loaded, { workerWithRedis: true });
  let tenantId: string;
  let token: string;
  // The operator's steps (finding the demo tenant, minting a token) run as the owner, like `npm run cli`.
  const ownerPool = createPool({ ...api.config.database, poolMax: 1 }, console, { owner: true });
  try {
    const owner = createDb(ownerPool);
    const tenant = await demoTenant(api, owner);
    tenantId = tenant.id;
    console.log(`quickstart: ${tenant.created ? 'created' : 'using existing'} tenant "${DEMO_TENANT_NAME}" (${tenantId})`);
    ({ token } = await mintToken({ db: owner, jwt: api.config.jwt }, { tenantId, scopes: [...SCOPES], ttlSeconds: TOKEN_TTL_SECONDS, sub: 'quickstart' }));
  } catch (err) {
    await api.close();
    throw err;
  } finally {
    await ownerPool.end();
  }
  const address = api.app.server.address();
  const port = address && typeof address === 'object' ? address.port : api.config.port;
  console.log(
    banner({
      url: `http://localhost:${port}`,
      tenantId,
      token,
      config: api.config,
      database: api.database.embedded
        ? `embedded Postgres at ${api.database.embedded.dir} (127.0.0.1:${api.database.embedded.port}), data kept between runs`
        : api.database.describe,
      worker: api.config.redis ? 'in this process, jobs queued on Redis (REDIS_URL)' : 'in-process, no Redis (REDIS_URL unset)',
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`quickstart: ${err instanceof ConfigError || err instanceof EmbeddedPostgresError ? err.message : (err as Error).stack}`);
  process.exit(1);
});
