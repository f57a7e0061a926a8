// `npm run openapi` writes openapi.yaml from the route schemas and the event catalogue, and the README's events
// table from the catalogue; `--check` fails when either committed file drifts.
import { readFileSync, writeFileSync } from 'node:fs';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { eventsMarkdown } from '../modules/outbox/outbox.catalogue.js';

export async function renderOpenApi(): Promise<string> {
  // The document depends only on the routes and the catalogue: build the app without touching Postgres or Redis.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://openapi@127.0.0.1:1/openapi', REDIS_URL: 'redis://127.0.0.1:1' });
  const app = await buildApp(config, { logger: false });
  await app.ready();
  const yaml = app.swagger({ yaml: true });
  await app.close();
  return yaml;
}

export const EVENTS_START = '<!-- events:start (generated from src/modules/outbox/outbox.catalogue.ts by npm run openapi) -->';
export const EVENTS_END = '<!-- events:end -->';

/** The README with its events table replaced by the catalogue's. */
export function renderReadme(readme: string): string {
  const start = readme.indexOf(EVENTS_START);
  const end = readme.indexOf(EVENTS_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the events markers:\n${EVENTS_START}\n${EVENTS_END}`);
  return `${readme.slice(0, start + EVENTS_START.length)}\n${eventsMarkdown()}${readme.slice(end)}`;
}

const read = (file: URL) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // missing counts as drift
  }
};

const targets = { openapi: new URL('../../openapi.yaml', import.meta.url), readme: new URL('../../README.md', import.meta.url) };
const current = { openapi: read(targets.openapi), readme: read(targets.readme) };
const wanted = { openapi: await renderOpenApi(), readme: renderReadme(current.readme) };
if (process.argv.includes('--check')) {
  const drifted = [
    current.openapi !== wanted.openapi && 'openapi.yaml is out of date with the route schemas or the event catalogue',
    current.readme !== wanted.readme && "README.md's events table is out of date with the event catalogue",
  ].filter(Boolean);
  if (drifted.length) {
    console.error(`${drifted.join('\n')}: run \`npm run openapi\` and commit the result`);
    process.exit(1);
  }
  console.log('openapi.yaml and the README events table are up to date');
} else {
  writeFileSync(targets.openapi, wanted.openapi);
  if (wanted.readme !== current.readme) writeFileSync(targets.readme, wanted.readme);
  console.log('openapi.yaml and the README events table written');
}
