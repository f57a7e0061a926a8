// A scan of the whole database for values that must be gone (a person's identifiers after erasure or purge).
import type { TestApp } from '../helper.js';

/** Every text, bytea, json and array column of every table, as text, holding one of `needles` (plain or
 * hex-encoded): `table.column: needle` for each hit. */
export async function scanFor(ta: TestApp, needles: string[]): Promise<string[]> {
  const cols = await ta.sql.query(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'jsonb', 'ARRAY', 'character varying')`,
  );
  const found: string[] = [];
  for (const { table_name, column_name } of cols.rows) {
    for (const needle of needles) {
      const hex = Buffer.from(needle).toString('hex');
      const q = await ta.sql.query(
        `SELECT count(*)::int AS n FROM "${table_name}" WHERE position($1 in "${column_name}"::text) > 0 OR position($2 in encode(convert_to("${column_name}"::text, 'UTF8'), 'hex')) > 0`,
        [needle, hex],
      );
      if (q.rows[0].n > 0) found.push(`${table_name}.${column_name}: ${needle}`);
    }
  }
  return found;
}
