// Operator commands: `tenant create`, `token`, `repair` and `purge`. Run with `npm run cli -- <command> [options]`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openDatabase, type OpenedDatabase } from '../db/embedded.js';
import { createDb, createPool } from '../db/client.js';
import { createKeyring } from '../lib/keyring.js';
import { SCOPES } from '../plugins/auth.js';
import { runRepair } from './repair.js';
import { runPurge } from './purge.js';
import { TOKEN_USAGE, tokenCommand } from './token.js';
import { createTenantsRepo } from '../modules/tenants/tenants.repo.js';
import { createTenantsService } from '../modules/tenants/tenants.service.js';

const USAGE = `Usage:
  npm run cli -- tenant create --name NAME [--timezone Europe/Sofia] [--policy eu|uk] [--holidays BG] [--locale en]
      Creates a tenant and prints it as JSON.
${TOKEN_USAGE}
  npm run cli -- repair
      Mends rows written before the current rules (ledger instants out of range, plaintext request texts) and
      prints what it changed as JSON. Idempotent; \`npm run migrate\` runs it too.
  npm run cli -- purge [--tenant ID]
      Purges now every erased person whose tenant's accountability period has ended (the worker does this by
      itself; run it after the worker was down) and prints counts as JSON: due, purged, postponed (open work).
Scopes: ${SCOPES.join(' ')}`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function tenantCreate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      timezone: { type: 'string' },
      policy: { type: 'string' },
      holidays: { type: 'string' },
      locale: { type: 'string' },
    },
    strict: true,
  });
  if (!values.name?.trim()) fail('--name is required');
  if (values.policy && values.policy !== 'eu' && values.policy !== 'uk') fail('--policy must be eu or uk');
  const config = await connectedConfig();
  const pool = createPool({ ...config.database, poolMax: 1 }, console, { owner: true });
  try {
    const service = createTenantsService({ repo: createTenantsRepo(createDb(pool)), keyring: createKeyring(config) });
    const tenant = await service.create({
      name: values.name.trim(),
      timezone: values.timezone,
      deadline_policy: values.policy as 'eu' | 'uk' | undefined,
      holiday_calendar: values.holidays,
      default_locale: values.locale,
    });
    console.log(JSON.stringify(tenant, null, 2));
  } finally {
    await pool.end();
  }
}

function purgeArgs(args: string[]): { tenantId?: string } {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' } }, strict: true });
  if (values.tenant !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values.tenant)) fail('--tenant must be a tenant id (UUID)');
  return values.tenant ? { tenantId: values.tenant } : {};
}

// Without DATABASE_URL a command uses the embedded Postgres: the one a running Rightful process serves, or one it
// starts for itself and stops when done.
let database: OpenedDatabase | null = null;
async function connectedConfig(): Promise<Config> {
  database ??= await openDatabase(loadConfig(), { mode: 'share' });
  return database.config;
}
async function closeDatabase(): Promise<void> {
  await database?.stop();
}

const [command, sub, ...rest] = process.argv.slice(2);
try {
  if (command === 'tenant' && sub === 'create') await tenantCreate(rest);
  else if (command === 'repair') console.log(JSON.stringify(await runRepair(await connectedConfig()), null, 2));
  else if (command === 'purge') console.log(JSON.stringify(await runPurge(await connectedConfig(), purgeArgs([sub, ...rest].filter((a): a is string => a !== undefined))), null, 2));
  else if (command === 'token') await tokenCommand(await connectedConfig(), [sub, ...rest].filter((a): a is string => a !== undefined));
  else fail(command ? `unknown command: ${command} ${sub ?? ''}` : 'no command given');
  await closeDatabase();
} catch (err) {
  await closeDatabase().catch(() => undefined);
  if (err instanceof ConfigError) fail(err.message);
  const e = err as { code?: string; errors?: { field: string; message: string }[]; message: string };
  if (e.errors) fail(e.errors.map((x) => `${x.field}: ${x.message}`).join('\n'));
  fail(e.message);
}
