// Tenant isolation that Postgres enforces (migrations/0013_row_level_security.sql): the role the API and worker log
// in as sees and writes one tenant's rows at a time, even with a hand-written query that names no tenant or the
// wrong one, cannot switch the policies off, and a pool logged in as a role that would bypass them is refused.
import pg from 'pg';
import pino from 'pino';
import t from 'tap';
import { createDb, createPool, RowSecurityBypassed } from '../../src/db/client.js';
import { withTenant } from '../../src/db/tenant-scope.js';
import { subjects } from '../../src/modules/subjects/subjects.table.js';
import { build, createPurpose, createSubject, grant } from '../helper.js';

const ta = await build(t);
const tenantA = ta.tenantId;
const tenantB = await ta.newTenant('Other controller');
await createPurpose(ta, 'newsletter');
await createPurpose(ta, 'newsletter', {}, tenantB);
const subjectA = await createSubject(ta, 'a.person@example.org');
const subjectB = await createSubject(ta, 'b.person@example.org', tenantB);
await grant(ta, subjectA, 'newsletter');
await grant(ta, subjectB, 'newsletter', 'grant', tenantB);

// The application's own login, as the service uses it (config.database.url), on a plain client: the hand-written
// queries below go around every repository.
const app = new pg.Client({ connectionString: ta.config.database.url });
await app.connect();
t.teardown(() => app.end());
const q = (text: string, values: unknown[] = []) => app.query(text, values);
const as = (tenant: string) => q("SELECT set_config('rightful.tenant_id', $1, false)", [tenant]);
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

t.test('every table that holds tenant data has row-level security, forced', async (t) => {
  const { rows } = await ta.sql.query<{ table: string; enabled: boolean; forced: boolean; policies: number }>(`
    SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
           (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policies
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       AND (c.relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
     ORDER BY 1`);
  t.ok(rows.length >= 27, `${rows.length} tables hold tenant data`);
  for (const r of rows) t.same({ enabled: r.enabled, forced: r.forced, policies: r.policies }, { enabled: true, forced: true, policies: 1 }, r.table);
});

t.test('the application role owns nothing and has no way around the policies', async (t) => {
  const { rows } = await q(`
    SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
           (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
      FROM pg_roles r WHERE r.rolname = current_user`);
  t.same(rows[0], { rolname: 'rightful_app', rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, owned: 0 });
});

t.test('with no tenant named, a hand-written query sees nothing', async (t) => {
  await as('');
  for (const table of ['tenants', 'subjects', 'subject_identifiers', 'consent_events', 'consent_state', 'purposes', 'outbox']) {
    t.equal((await q(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 0, table);
  }
  const behind = await ta.sql.query('SELECT count(*)::int AS n FROM subjects');
  t.equal(behind.rows[0].n, 2, 'while the owner sees both tenants\' subjects');
});

t.test("named as one tenant, a query that forgets its tenant or names another's sees only its own", async (t) => {
  await as(tenantA);
  t.same((await q('SELECT id FROM subjects')).rows.map((r) => r.id), [subjectA], 'no tenant filter: only tenant A');
  t.equal((await q('SELECT count(*)::int AS n FROM subjects WHERE tenant_id = $1', [tenantB])).rows[0].n, 0, "tenant B's rows asked for by name: none");
  t.equal((await q('SELECT count(*)::int AS n FROM subjects WHERE id = $1', [subjectB])).rows[0].n, 0, "tenant B's subject asked for by id: none");
  t.equal((await q('SELECT count(*)::int AS n FROM consent_events')).rows[0].n, 1, "tenant A's ledger only");
  t.same((await q('SELECT id FROM tenants')).rows.map((r) => r.id), [tenantA], 'its own tenant row only');
  const union = await q(`SELECT count(*)::int AS n FROM (SELECT tenant_id FROM consent_state UNION ALL SELECT tenant_id FROM subject_identifiers) x WHERE tenant_id <> $1`, [tenantA]);
  t.equal(union.rows[0].n, 0, 'no join or union reaches another tenant');
});

t.test("named as one tenant, it cannot write another tenant's rows", async (t) => {
  await as(tenantA);
  const updated = await q("UPDATE subjects SET status = 'erased' WHERE id = $1", [subjectB]);
  t.equal(updated.rowCount, 0, "an update of tenant B's subject touches nothing");
  const deleted = await q('DELETE FROM consent_state WHERE tenant_id = $1', [tenantB]);
  t.equal(deleted.rowCount, 0, "a delete of tenant B's rows touches nothing");
  t.equal(await code(q("INSERT INTO subjects (id, tenant_id, status) VALUES (gen_random_uuid(), $1, 'active')", [tenantB])), '42501', 'an insert for tenant B is refused');
  t.equal(await code(q('UPDATE subjects SET tenant_id = $1 WHERE id = $2', [tenantB, subjectA])), '42501', 'moving a row to tenant B is refused');
  const b = await ta.sql.query('SELECT status FROM subjects WHERE id = $1', [subjectB]);
  t.equal(b.rows[0].status, 'active', "tenant B's subject is as it was");
});

t.test('it cannot switch the policies off', async (t) => {
  await as(tenantA);
  t.equal(await code(q('ALTER TABLE subjects DISABLE ROW LEVEL SECURITY')), '42501', 'disable: only the owner may');
  t.equal(await code(q('ALTER TABLE subjects NO FORCE ROW LEVEL SECURITY')), '42501', 'unforce: only the owner may');
  t.equal(await code(q('DROP POLICY tenant_isolation ON subjects')), '42501', 'drop the policy: only the owner may');
  t.equal(await code(q('CREATE POLICY open_door ON subjects USING (true)')), '42501', 'add a permissive policy: only the owner may');
  t.equal(await code(q('ALTER ROLE CURRENT_USER BYPASSRLS')), '42501', 'give itself BYPASSRLS: refused');
  t.equal(await code(q('SET ROLE postgres')), '42501', 'become the owner: refused');
  t.equal(await code(q('CREATE OR REPLACE FUNCTION rightful_current_tenant() RETURNS uuid LANGUAGE sql AS $$ SELECT NULL::uuid $$')), '42501', 'redefine the tenant function: refused');
  await q('SET row_security = off');
  t.equal(await code(q('SELECT count(*) FROM subjects')), '42501', 'row_security off makes a query fail, never bypass');
  await q('RESET row_security');
  t.equal((await q('SELECT count(*)::int AS n FROM subjects')).rows[0].n, 1, 'still one tenant after every attempt');
});

t.test("the service's pool: a repository query that forgets its tenant sees the scope's tenant only", async (t) => {
  const pool = createPool({ ...ta.config.database, poolMax: 1 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const db = createDb(pool);
  const ids = async () => (await db.select({ id: subjects.id }).from(subjects)).map((r) => r.id);
  t.same(await ids(), [], 'outside any scope: nothing');
  t.same(await withTenant(tenantA, ids), [subjectA], "tenant A's scope: tenant A's subject");
  t.same(await withTenant(tenantB, ids), [subjectB], "then tenant B's on the same connection: B's only");
  t.same(await ids(), [], 'and outside a scope again: nothing');
  const both = await Promise.all([withTenant(tenantA, ids), withTenant(tenantB, ids), withTenant(tenantA, ids)]);
  t.same(both, [[subjectA], [subjectB], [subjectA]], 'interleaved scopes on one connection each get their own');
});

t.test('a pool logged in as a role that bypasses row-level security is refused', async (t) => {
  const pool = createPool({ ...ta.config.database, url: ta.databaseUrl, poolMax: 1 }, pino({ level: 'silent' }));
  t.teardown(() => pool.end());
  const refused = await withTenant(tenantA, () => pool.query('SELECT 1')).then(() => null, (err: unknown) => err);
  t.ok(refused instanceof RowSecurityBypassed, 'the superuser login: every query refused');
});

t.test('through the API, one tenant never reaches another one\'s subject', async (t) => {
  const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subjectB}` });
  t.equal(res.statusCode, 404);
  const own = await ta.call({ method: 'GET', url: `/v1/subjects/${subjectB}`, tenantId: tenantB });
  t.equal(own.statusCode, 200);
});
