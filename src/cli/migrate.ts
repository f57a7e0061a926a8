// `npm run migrate`: creates the database named in DATABASE_URL when missing, applies migrations/, then mends rows
// written before the current rules (see repair.ts).
import { ConfigError, loadConfig } from '../config.js';
import { runMigrations } from '../db/migrate.js';
import { runRepair } from './repair.js';

try {
  const config = loadConfig();
  await runMigrations(config.database.url);
  const url = new URL(config.database.url);
  console.log(`migrations applied to ${url.host}${url.pathname}`);
  const repaired = await runRepair(config);
  if (repaired.ledger_events_corrected || repaired.requests_sealed) console.log(`repaired: ${JSON.stringify(repaired)}`);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`);
  process.exit(1);
}
