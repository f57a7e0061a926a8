// The two Postgres roles: the owner, which runs migrations and the operator's tools (DATABASE_URL), and the
// application role the API and worker log in as, which owns nothing, cannot bypass row-level security and is given
// rows only (migrations/0013_row_level_security.sql). Unless DATABASE_APP_URL names a role the operator manages, the
// migration creates `DATABASE_APP_ROLE` with a password derived from the master key, so the API and the worker,
// which hold the same key, log in with nothing more to configure.
import { hkdfSync } from 'node:crypto';
import pg from 'pg';

export type AppRole = {
  name: string;
  /** Set by every migration; null: the operator manages the role's login (DATABASE_APP_URL). */
  password: string | null;
};

export class AppRoleError extends Error {}

/** Whether the role named by the SQL expression `role` would bypass the policies: a superuser, BYPASSRLS, or an owner
 * of the tables (an owner may switch them off). */
export const bypassesRowSecuritySql = (role: string) =>
  `(SELECT r.rolsuper OR r.rolbypassrls OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace)
     FROM pg_roles r WHERE r.rolname = ${role})`;

/** The application role's password: derived, so it is never stored and changes with the master key. */
export function derivedPassword(masterKey: Buffer): string {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'rightful database application role v1', 32)).toString('base64url');
}

/** `url` with its user and password replaced: the application's login to the owner's database. */
export function loginUrl(url: string, role: AppRole): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role.name);
  u.password = role.password === null ? '' : encodeURIComponent(role.password);
  return u.toString();
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

// Role statements are cluster-wide: migrations of two databases at once (tests, two deploys) may race on one role.
const RACES = new Set(['XX000', '42710', '23505', '40001']);

/**
 * Creates the application role when missing (the owner needs CREATEROLE for that), sets its password when derived,
 * and grants it the rows of the owner's database: DML on every table, the sequences, the functions. Refuses a role
 * that would bypass the policies: a superuser, one with BYPASSRLS, or the owner itself.
 */
export async function ensureAppRole(ownerUrl: string, role: AppRole): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const name = quoteIdent(role.name);
    const db = (await client.query<{ db: string; me: string }>('SELECT current_database() AS db, current_user AS me')).rows[0]!;
    if (db.me === role.name) throw new AppRoleError(`the application role ${role.name} is the owner that runs migrations: give the application its own role (DATABASE_APP_URL or DATABASE_APP_ROLE)`);
    for (let attempt = 1; ; attempt++) {
      try {
        const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role.name]);
        if (!found.rowCount) await client.query(`CREATE ROLE ${name} LOGIN NOINHERIT`);
        if (role.password !== null) await client.query(`ALTER ROLE ${name} PASSWORD ${quoteLiteral(role.password)}`);
        await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(db.db)} TO ${name}`);
        await client.query(`GRANT USAGE ON SCHEMA public TO ${name}`);
        await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${name}`);
        await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${name}`);
        await client.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${name}`);
        break;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (attempt >= 8 || !RACES.has(code)) {
          if (code === '42501') throw new AppRoleError(`the migrating role cannot create or manage the application role ${role.name} (it needs CREATEROLE): create it yourself and set DATABASE_APP_URL`);
          throw err;
        }
        await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 50));
      }
    }
    const attrs = await client.query<{ bypasses: boolean | null }>(`SELECT ${bypassesRowSecuritySql('$1')} AS bypasses`, [role.name]);
    if (attrs.rows[0]?.bypasses !== false) throw new AppRoleError(`the application role ${role.name} bypasses row-level security (a superuser, BYPASSRLS, or an owner of the tables)`);
  } finally {
    await client.end();
  }
}
