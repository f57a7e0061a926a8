import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../tenants/tenants.table.js';

export type PurposeTranslations = Record<string, { title: string; description: string }>;

const content = {
  legalBasis: text('legal_basis').notNull(),
  directMarketing: boolean('direct_marketing').notNull().default(false),
  automatedDecisions: boolean('automated_decisions').notNull().default(false),
  dataCategories: text('data_categories').array().notNull().default(sql`'{}'::text[]`),
  retention: text('retention').notNull(),
  recipients: text('recipients').array().notNull().default(sql`'{}'::text[]`),
  translations: jsonb('translations').$type<PurposeTranslations>().notNull(),
};

/** The current version of each purpose in the register. */
export const purposes = pgTable(
  'purposes',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    key: text('key').notNull(),
    version: integer('version').notNull(),
    ...content,
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

/** Every version ever published, kept readable so consent can be proven against the text that was shown. */
export const purposeVersions = pgTable(
  'purpose_versions',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    key: text('key').notNull(),
    version: integer('version').notNull(),
    ...content,
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key, t.version] })],
);
