import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { bytea } from '../../db/columns.js';
import { tenants } from '../tenants/tenants.table.js';

/**
 * One-time codes the person asks for in the portal before an action that hands out or destroys their data
 * (Art. 32): filing an erasure, downloading an export. Only the code's keyed hash is kept; a code lives minutes,
 * allows a few attempts and is used once. No foreign key to subjects: codes of an erased or purged person are
 * worthless (their subject token no longer reaches /v1/me) and are swept with the other expired codes.
 */
export const portalCodes = pgTable(
  'portal_codes',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull(),
    action: text('action', { enum: ['erasure', 'export'] }).notNull(),
    codeHash: bytea('code_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    usedAt: timestamp('used_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [index('portal_codes_subject').on(t.tenantId, t.subjectId, t.action, t.createdAt), index('portal_codes_expires').on(t.expiresAt)],
);
