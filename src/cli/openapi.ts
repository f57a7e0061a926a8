// `npm run openapi` writes openapi.yaml from the route schemas; `--check` fails when the committed file drifts.
import { readFileSync, writeFileSync } from 'node:fs';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

export async function renderOpenApi(): Promise<string> {
  // The document depends only on the routes: build the app without touching Postgres or Redis.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://openapi@127.0.0.1:1/openapi', REDIS_URL: 'redis://127.0.0.1:1' });
  const app = await buildApp(config, { logger: false });
  await app.ready();
  const yaml = app.swagger({ yaml: true });
  await app.close();
  return yaml;
}

const target = new URL('../../openapi.yaml', import.meta.url);
const yaml = await renderOpenApi();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    /* missing counts as drift */
  }
  if (current !== yaml) {
    console.error('openapi.yaml is out of date with the route schemas: run `npm run openapi` and commit the result');
    process.exit(1);
  }
  console.log('openapi.yaml is up to date');
} else {
  writeFileSync(target, yaml);
  console.log('openapi.yaml written');
}
