// readBytea (src/db/copy-bytea.ts): a bytea value read through COPY in binary format, as the export package reads its
// sealed chunks. Values of every size come back byte for byte (one socket piece or many), NULL and no row are
// undefined, and the read runs in the caller's tenant scope like any other statement (row-level security).
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import t from 'tap';
import { createPool } from '../../src/db/client.js';
import { readBytea } from '../../src/db/copy-bytea.js';
import { withTenant } from '../../src/db/tenant-scope.js';
import { build } from '../helper.js';

const ta = await build(t);
const tenantB = await ta.newTenant('Other controller');
const pool = createPool(ta.config.database, pino({ level: 'silent' }));
t.teardown(() => pool.end());

t.test('values of every size come back byte for byte', async (t) => {
  for (const size of [0, 1, 1000, 65_536, 70_001, 1_048_604, 3_000_000]) {
    const value = randomBytes(size);
    const read = await withTenant(ta.tenantId, () => readBytea(pool, (literal) => `SELECT decode(${literal(value.toString('base64'))}, 'base64')`));
    t.ok(read && read.equals(value), `${size} bytes`);
  }
});

t.test('NULL and no row are undefined; a failing statement throws and leaves the pool usable', async (t) => {
  t.equal(await withTenant(ta.tenantId, () => readBytea(pool, () => 'SELECT NULL::bytea')), undefined);
  t.equal(await withTenant(ta.tenantId, () => readBytea(pool, () => 'SELECT NULL::bytea WHERE false')), undefined);
  await t.rejects(withTenant(ta.tenantId, () => readBytea(pool, () => 'SELECT 1/0')));
  const after = await withTenant(ta.tenantId, () => readBytea(pool, (literal) => `SELECT decode(${literal('cmlnaHRmdWw=')}, 'base64')`));
  t.equal(after?.toString(), 'rightful');
});

t.test("a literal cannot break out of its quotes, and another tenant's row is not there", async (t) => {
  const hostile = "x') UNION SELECT index_key_wrapped FROM tenants --";
  const read = await withTenant(ta.tenantId, () => readBytea(pool, (literal) => `SELECT convert_to(${literal(hostile)}, 'UTF8')`));
  t.equal(read?.toString(), hostile, 'the literal is read back as text, not run');
  const ownKey = (literal: (v: string) => string) => `SELECT index_key_wrapped FROM tenants WHERE id = ${literal(ta.tenantId)}`;
  t.ok(await withTenant(ta.tenantId, () => readBytea(pool, ownKey)), "the tenant's own row");
  t.equal(await withTenant(tenantB, () => readBytea(pool, ownKey)), undefined, "another tenant's scope sees no such row");
});
