import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea } from '../../db/columns.js';
import { rightsRequests } from '../rights-requests/rights-requests.table.js';
import { systems } from '../systems/systems.table.js';
import { systemTasks } from '../tasks/tasks.table.js';
import { tenants } from '../tenants/tenants.table.js';

/** gathering: tasks sent, parts arriving; approved: the DPO reviewed the package (Art. 15(4)) and links may be issued. */
export const EXPORT_STATUSES = ['gathering', 'approved'] as const;

/** What the DPO removed before release (Art. 15(4)): a system's whole part, or categories of it. */
export type ExportRedaction = { system_id: string | null; categories: string[] | null; reason_given: boolean };

/** One export per access or portability request: its gathering, the DPO's review and the copies issued. */
export const exportPackages = pgTable('export_packages', {
  requestId: uuid('request_id').primaryKey().references(() => rightsRequests.id),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  status: text('status', { enum: EXPORT_STATUSES }).notNull().default('gathering'),
  redactions: jsonb('redactions').$type<ExportRedaction[]>().notNull().default(sql`'[]'::jsonb`),
  approvedAt: timestamp('approved_at', { withTimezone: true, precision: 3 }),
  approvedBy: text('approved_by'),
  // Links issued (Art. 15(3): the first copy is free; a further one may bear a fee, recorded with it).
  copies: integer('copies').notNull().default(0),
  // When the gathered parts were deleted (the tenant's retention after the request closed, or erasure).
  dataDeletedAt: timestamp('data_deleted_at', { withTimezone: true, precision: 3 }),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
});

/** A system's part of an export, uploaded through its task; the bytes are in export_part_chunks. */
export const exportParts = pgTable(
  'export_parts',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    requestId: uuid('request_id').notNull().references(() => rightsRequests.id),
    taskId: uuid('task_id').notNull().references(() => systemTasks.id),
    systemId: uuid('system_id').references(() => systems.id),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    chunks: integer('chunks').notNull(),
    sha256: text('sha256').notNull(),
    // The categories the person provided (observed data included, WP242): what portability (Art. 20) carries.
    providedCategories: text('provided_categories').array().notNull().default(sql`'{}'::text[]`),
    uploadedAt: timestamp('uploaded_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [uniqueIndex('export_parts_task').on(t.taskId), index('export_parts_request').on(t.tenantId, t.requestId)],
);

/** An uploaded part, sealed chunk by chunk under the subject's data key (erasure shreds it with the key). */
export const exportPartChunks = pgTable(
  'export_part_chunks',
  {
    partId: uuid('part_id')
      .notNull()
      .references(() => exportParts.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    sealed: bytea('sealed').notNull(),
  },
  (t) => [primaryKey({ columns: [t.partId, t.seq] })],
);

/** A download link for the person: a token (its hash stored), a lifetime, a download budget, a one-time code. */
export const exportLinks = pgTable(
  'export_links',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    requestId: uuid('request_id').notNull().references(() => rightsRequests.id),
    tokenHash: bytea('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    maxDownloads: integer('max_downloads').notNull(),
    downloads: integer('downloads').notNull().default(0),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    // Art. 32: a one-time code sent to a verified identifier of the person; its hash, expiry and failed attempts.
    codeHash: bytea('code_hash'),
    codeExpiresAt: timestamp('code_expires_at', { withTimezone: true, precision: 3 }),
    codeAttempts: integer('code_attempts').notNull().default(0),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [uniqueIndex('export_links_token').on(t.tokenHash), index('export_links_request').on(t.tenantId, t.requestId)],
);
