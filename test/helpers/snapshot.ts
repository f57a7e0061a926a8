// A fingerprint of the service's tables, taken behind its back: compare two to prove nothing was written.
import type { TestApp } from '../helper.js';

export const TABLES = ['tenants', 'purposes', 'purpose_versions', 'subjects', 'subject_identifiers', 'consent_events', 'consent_state', 'idempotency_keys'];

/** Per table, "row count:md5 of every row". */
export async function snapshot(ta: TestApp): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const { rows } = await ta.sql.query(
      `SELECT count(*)::int AS n, coalesce(md5(string_agg(x, ',' ORDER BY x)), '') AS h FROM (SELECT to_jsonb(t)::text AS x FROM ${table} t) s`,
    );
    out[table] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}
