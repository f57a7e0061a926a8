import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

import { bytea } from '../../db/columns.js';

export type ContactDetails = { name?: string; address?: string; email?: string; phone?: string; url?: string };

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull(),
  timezone: text('timezone').notNull().default('UTC'),
  deadlinePolicy: text('deadline_policy', { enum: ['eu', 'uk'] }).notNull().default('eu'),
  holidayCalendar: text('holiday_calendar'),
  reminderOffsetsDays: integer('reminder_offsets_days').array().notNull().default(sql`'{7,2}'::integer[]`),
  defaultLocale: text('default_locale').notNull().default('en'),
  // Where reminders and new-request alerts are emailed when SMTP_URL is set (the DPO's work address).
  dpoEmail: text('dpo_email'),
  // What the privacy notice and every refusal must name (Art. 13(1)(a)-(b), 12(4)): the controller and its DPO as
  // the person may contact them, the supervisory authority, and the judicial remedy.
  controllerContact: jsonb('controller_contact').$type<ContactDetails>(),
  dpoContact: jsonb('dpo_contact').$type<ContactDetails>(),
  supervisoryAuthority: jsonb('supervisory_authority').$type<{ name: string; url: string; address?: string }>(),
  judicialRemedy: text('judicial_remedy'),
  // Every erased person goes on the direct-marketing suppression list (Art. 21(3)), not only objectors.
  suppressErased: boolean('suppress_erased').notNull().default(true),
  // Accountability (Art. 5(2)): the tombstone, ledger and request history of an erased person are kept this many
  // days after the erasure, then purged (subject_purges records each purge).
  accountabilityDays: integer('accountability_days').notNull().default(1095),
  // Exports (Art. 15, 20): how long a download link lives, how many downloads it allows, and how many days after
  // the request closes the gathered data is deleted.
  exportLinkTtlHours: integer('export_link_ttl_hours').notNull().default(168),
  exportLinkMaxDownloads: integer('export_link_max_downloads').notNull().default(3),
  exportRetentionDays: integer('export_retention_days').notNull().default(30),
  // Self-service (the portal and the reference preference page): how long a portal link lives, and the colour the
  // page is drawn in (#rrggbb, checked for contrast against white when set, WCAG 2.2 AA).
  portalTokenHours: integer('portal_token_hours').notNull().default(24),
  brandColor: text('brand_color'),
  // Per-tenant key for blind indexes, wrapped by the master key named by key_id.
  indexKeyWrapped: bytea('index_key_wrapped').notNull(),
  keyId: text('key_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
