// Where the time of one 10,000-identifier check goes, step by step, in one process (no HTTP):
// body parse + inspection, zod validation, normalisation, blind-index HMACs, the SQL, answer building, response
// serialisation — each timed over several runs, with the median printed, next to the whole request via inject.
//   node --import tsx bench/check-breakdown.ts [runs]
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { runMigrations } from '../src/db/migrate.js';
import { blindIndex } from '../src/lib/crypto.js';
import { normaliseIdentifier } from '../src/lib/identifiers.js';
import { parseJsonBody } from '../src/lib/json-body.js';
import { signToken } from '../src/lib/tokens.js';
import { CheckBody, CheckResultSchema } from '../src/modules/consents/consents.schemas.js';
import { SCOPES } from '../src/plugins/auth.js';
import { createDb } from '../src/db/client.js';
import { createConsentsRepo } from '../src/modules/consents/consents.repo.js';
import { emailOf, seed } from './seed.js';

const runs = Number(process.argv[2] ?? 15);
const DB = process.env.BENCH_DB ?? 'rightful_bench_check';
const ADMIN = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = Object.assign(new URL(ADMIN), { pathname: `/${DB}` }).toString();
const admin = async (q: string) => {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  await c.query(q).finally(() => c.end());
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const timings = new Map<string, number[]>();
async function time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  (timings.get(name) ?? timings.set(name, []).get(name)!).push(performance.now() - t0);
  return out;
}

await admin(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
const secrets = { MASTER_KEY: randomBytes(32).toString('hex'), JWT_SECRET: randomBytes(32).toString('hex') };
await runMigrations(url, loadConfig({ ...secrets, DATABASE_URL: url }).database.appRole);
Object.assign(process.env, secrets);
const s = await seed({ databaseUrl: url, subjects: 20_000 });
// Rows for the check's probes to find: objections to single purposes and soft opt-ins for some subjects.
{
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`INSERT INTO objections (id, tenant_id, subject_id, purpose_key, scope, status, occurred_at)
                 SELECT gen_random_uuid(), tenant_id, id, 'newsletter', 'direct_marketing', 'upheld', now() FROM subjects WHERE random() < 0.1`);
  await c.query(`INSERT INTO soft_opt_ins (tenant_id, subject_id, purpose_key, relationship_ref, collected_at)
                 SELECT tenant_id, id, 'newsletter', 'order-1', now() FROM subjects WHERE random() < 0.2`);
  await c.query('ANALYZE');
  await c.end();
}
const config = loadConfig({ ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', REDIS_PREFIX: `rightful-check-${process.pid}`, RATE_LIMIT_MAX: '1000000000' });
const app = await buildApp(config);
try {
  await app.ready();
  const ctx = await app.services.tenants.context(s.tenantId);
  const identifiers = Array.from({ length: 10_000 }, (_, k) => ({
    type: 'email' as const,
    value: k % 5 === 4 ? `nobody.${k}@example.org` : emailOf((k * 7919) % s.subjectIds.length),
  }));
  const raw = Buffer.from(JSON.stringify({ purpose: s.purposes.consent, identifiers }));
  const token = signToken(config.jwt.secret, { sub: 'b', tid: s.tenantId, scope: SCOPES.join(' '), ttlSeconds: 3600, iss: config.jwt.issuer, aud: config.jwt.audience });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const repoPool = new pg.Pool({ connectionString: url, max: 1 });
  const repo = createConsentsRepo(createDb(repoPool));
  for (let r = 0; r < runs + 2; r++) {
    const record = r >= 2; // two warm-up rounds
    const t = record ? time : async <T>(_: string, fn: () => T | Promise<T>) => fn();
    const parsed = await t('1. JSON.parse + inspectJson (lib/json-body)', () => parseJsonBody(raw));
    const body = await t('2. zod CheckBody validation', () => CheckBody.parse(parsed));
    const norm = await t('3. normalise 10k emails', () => body.identifiers.map((i) => normaliseIdentifier(i.type, i.value)));
    const hexes = await t('4. blind index: 10k HMAC-SHA256 + hex', () =>
      norm.map((n, i) => (n.ok ? blindIndex(ctx.indexKey, body.identifiers[i]!.type, n.value).toString('hex') : '')),
    );
    const ok = hexes.filter(Boolean);
    // 5a is the query as it was before the law review's probes (objections, soft opt-in, open erasure); 5b is
    // today's. Their order alternates round by round (A B B A …), so a change in load weighs on both.
    const lawful = () => t('5b. SQL only: the check query with the Art. 17/21 and ePrivacy probes (repo.check)', () =>
      repo.check(s.tenantId, body.purpose, ok.map(() => 'email'), ok),
    );
    if (r % 2 === 1) await lawful();
    await t('5a. SQL only: the check query before the law review (baseline), own connection', () =>
      pool.query(
        `SELECT t.ord::int AS ord, s.id AS subject_id, s.status, s.marketing_objection, s.automated_decision_objection, s.restricted, cs.status AS consent
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(type, bidx, ord)
           JOIN subject_identifiers si ON si.tenant_id = $3 AND si.type = t.type AND si.blind_index = decode(t.bidx, 'hex')
           JOIN subjects s ON s.id = si.subject_id AND s.tenant_id = $3
           LEFT JOIN consent_state cs ON cs.subject_id = s.id AND cs.purpose_key = $4`,
        [ok.map(() => 'email'), ok, s.tenantId, body.purpose],
      ),
    );
    if (r % 2 === 0) await lawful();
    const result = await t('6. service check() end to end (3+4+5+answers)', () => app.services.consents.check(ctx, body.purpose, body.identifiers));
    await t('7. response: zod CheckResultSchema + JSON.stringify', () => JSON.stringify(CheckResultSchema.parse(result)));
    const res = await t('8. whole request (app.inject, no network)', () =>
      app.inject({ method: 'POST', url: '/v1/consents/check', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: raw }),
    );
    if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  await pool.end();
  await repoPool.end();
  console.log(`\nmedian of ${runs} runs, 10,000 identifiers (80% known), one process, no HTTP:`);
  for (const [name, xs] of [...timings.entries()].sort()) console.log(`${median(xs).toFixed(1).padStart(8)} ms  ${name}`);
} finally {
  await app.close();
  await admin(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
}
