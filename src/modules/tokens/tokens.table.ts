import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../tenants/tenants.table.js';

/**
 * Service tokens minted by the CLI, by their `jti`: what was issued to whom, until when, and whether it was revoked
 * before it expired. The token itself is never stored. A revoked jti is refused on every request (the denylist);
 * tokens from an identity provider are not listed here, but their jti can be revoked too (a row with no subject).
 */
export const serviceTokens = pgTable(
  'service_tokens',
  {
    jti: text('jti').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    sub: text('sub'),
    scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
    issuedAt: timestamp('issued_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('service_tokens_tenant_expires').on(t.tenantId, t.expiresAt), index('service_tokens_revoked').on(t.revokedAt)],
);
