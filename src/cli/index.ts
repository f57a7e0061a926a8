// Operator commands: `tenant create`, `token`, `repair` and `purge`. Run with `npm run cli -- <command> [options]`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createDb, createPool } from '../db/client.js';
import { createKeyring } from '../lib/keyring.js';
import { parseTtl, signToken } from '../lib/tokens.js';
import { SCOPES } from '../plugins/auth.js';
import { runRepair } from './repair.js';
import { runPurge } from './purge.js';
import { createTenantsRepo } from '../modules/tenants/tenants.repo.js';
import { createTenantsService } from '../modules/tenants/tenants.service.js';

const USAGE = `Usage:
  npm run cli -- tenant create --name NAME [--timezone Europe/Sofia] [--policy eu|uk] [--holidays BG] [--locale en]
      Creates a tenant and prints it as JSON.
  npm run cli -- token --tenant ID --scope "SCOPES" [--ttl 1h] [--sub NAME]
      Prints a service token. SCOPES is space-separated, or "all". TTL: 90s, 30m, 1h, 7d.
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
  const config = loadConfig();
  const pool = createPool({ ...config.database, poolMax: 1 }, console);
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

function token(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string', default: '1h' }, sub: { type: 'string', default: 'cli' } },
    strict: true,
  });
  if (!values.tenant || !/^[0-9a-f-]{36}$/i.test(values.tenant)) fail('--tenant must be a tenant id (UUID)');
  if (!values.scope) fail('--scope is required');
  const scopes = values.scope === 'all' ? [...SCOPES] : values.scope.split(/\s+/).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) fail(`unknown scope: ${unknown.join(' ')}`);
  const ttlSeconds = parseTtl(values.ttl);
  if (!ttlSeconds) fail('--ttl must look like 90s, 30m, 1h or 7d');
  const config = loadConfig();
  console.log(
    signToken(config.jwt.secret, { sub: values.sub, tid: values.tenant, scope: scopes.join(' '), ttlSeconds, iss: config.jwt.issuer, aud: config.jwt.audience }),
  );
}

function purgeArgs(args: string[]): { tenantId?: string } {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' } }, strict: true });
  if (values.tenant !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values.tenant)) fail('--tenant must be a tenant id (UUID)');
  return values.tenant ? { tenantId: values.tenant } : {};
}

const [command, sub, ...rest] = process.argv.slice(2);
try {
  if (command === 'tenant' && sub === 'create') await tenantCreate(rest);
  else if (command === 'repair') console.log(JSON.stringify(await runRepair(loadConfig()), null, 2));
  else if (command === 'purge') console.log(JSON.stringify(await runPurge(loadConfig(), purgeArgs([sub, ...rest].filter((a): a is string => a !== undefined))), null, 2));
  else if (command === 'token') token([sub, ...rest].filter((a): a is string => a !== undefined));
  else fail(command ? `unknown command: ${command} ${sub ?? ''}` : 'no command given');
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  const e = err as { code?: string; errors?: { field: string; message: string }[]; message: string };
  if (e.errors) fail(e.errors.map((x) => `${x.field}: ${x.message}`).join('\n'));
  fail(e.message);
}
