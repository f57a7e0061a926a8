// `npm run migrate`: creates the database named in DATABASE_URL when missing, then applies migrations/.
import { ConfigError, loadConfig } from '../config.js';
import { runMigrations } from '../db/migrate.js';

try {
  const config = loadConfig();
  await runMigrations(config.database.url);
  const url = new URL(config.database.url);
  console.log(`migrations applied to ${url.host}${url.pathname}`);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`);
  process.exit(1);
}
