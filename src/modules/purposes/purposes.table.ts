import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../tenants/tenants.table.js';

/** Per locale: what the person reads. Optional texts complete the notice (Art. 13(1)(d), 13(2)(e)-(f), 14(2)(f)). */
export type PurposeTranslations = Record<
  string,
  { title: string; description: string; legitimate_interests?: string; automated_decision_logic?: string; provision_consequences?: string; source_detail?: string }
>;
export type PurposeTransfer = { country: string; safeguard: string };

const content = {
  legalBasis: text('legal_basis').notNull(),
  directMarketing: boolean('direct_marketing').notNull().default(false),
  automatedDecisions: boolean('automated_decisions').notNull().default(false),
  dataCategories: text('data_categories').array().notNull().default(sql`'{}'::text[]`),
  retention: text('retention').notNull(),
  recipients: text('recipients').array().notNull().default(sql`'{}'::text[]`),
  translations: jsonb('translations').$type<PurposeTranslations>().notNull(),
  // Electronic marketing channels (ePrivacy Art. 13): email, sms, phone, post, online.
  channels: text('channels').array().notNull().default(sql`'{}'::text[]`),
  // Transfers to third countries and the safeguard each relies on (Art. 13(1)(f)).
  transfers: jsonb('transfers').$type<PurposeTransfer[]>().notNull().default(sql`'[]'::jsonb`),
  // Whether providing the data is a statutory or contractual requirement (Art. 13(2)(e)).
  provisionRequirement: text('provision_requirement'),
  // Where the data comes from when not from the person (Art. 14(2)(f)).
  dataSource: text('data_source'),
  // The Art. 22(2) exception automated decisions rely on: contract, law, explicit_consent.
  automatedDecisionException: text('automated_decision_exception'),
  // This version changed the purpose enough that earlier grants no longer count (fresh consent needed).
  requiresReconsent: boolean('requires_reconsent').notNull().default(false),
};

/** The current version of each purpose in the register. */
export const purposes = pgTable(
  'purposes',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    key: text('key').notNull(),
    version: integer('version').notNull(),
    ...content,
    // The latest version published with requires_reconsent: grants for an earlier version answer reconsent_needed.
    reconsentFromVersion: integer('reconsent_from_version'),
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
