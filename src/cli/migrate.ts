// `npm run migrate`: creates the database named in DATABASE_URL when missing, applies migrations/, then mends rows
// written before the current rules (see repair.ts). Without DATABASE_URL it migrates the embedded Postgres (starting
// it for the command when no Rightful process runs it).
import { ConfigError, loadConfig } from '../config.js';
import { EmbeddedPostgresError, openDatabase } from '../db/embedded.js';
import { runMigrations } from '../db/migrate.js';
import { runRepair } from './repair.js';

let database: Awaited<ReturnType<typeof openDatabase>> | null = null;
try {
  // The embedded database is migrated as it opens; an external one here.
  database = await openDatabase(loadConfig(), { mode: 'share' });
  const { config } = database;
  if (!database.embedded) await runMigrations(config.database.ownerUrl, config.database.appRole);
  console.log(`migrations applied to the ${database.describe}`);
  const repaired = await runRepair(config);
  if (repaired.ledger_events_corrected || repaired.requests_sealed) console.log(`repaired: ${JSON.stringify(repaired)}`);
  await database.stop();
} catch (err) {
  await database?.stop().catch(() => undefined);
  const known = err instanceof ConfigError || err instanceof EmbeddedPostgresError;
  console.error(known ? (err as Error).message : `migration failed: ${(err as Error).message}`);
  process.exit(1);
}
