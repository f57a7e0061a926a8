// A fingerprint of the service's tables, taken behind its back: compare two to prove nothing was written.
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../../src/db/schema.js';
import type { TestApp } from '../helper.js';

/** Every table of the drizzle schema (src/db/schema.ts re-exports every module's tables), so a new one is covered. */
export const TABLES: string[] = Object.values(schema as Record<string, unknown>)
  .filter((v): v is PgTable => is(v, PgTable))
  .map((table) => getTableName(table))
  .sort();

/** Per table, "row count:md5 of every row". */
export async function snapshot(ta: TestApp): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const { rows } = await ta.sql.query(
      `SELECT count(*)::int AS n, coalesce(md5(string_agg(x, ',' ORDER BY x)), '') AS h FROM (SELECT to_jsonb(t)::text AS x FROM "${table}" t) s`,
    );
    out[table] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}
