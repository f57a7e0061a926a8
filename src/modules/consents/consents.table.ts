import { sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { subjects } from '../subjects/subjects.table.js';
import { bytea, clientInstant } from '../../db/columns.js';
import { tenants } from '../tenants/tenants.table.js';

/** The append-only ledger (UPDATE and DELETE are refused by a trigger, see the migration). */
export const consentEvents = pgTable(
  'consent_events',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    seq: integer('seq').notNull(),
    purposeKey: text('purpose_key').notNull(),
    purposeVersion: integer('purpose_version').notNull(),
    action: text('action', { enum: ['grant', 'withdraw'] }).notNull(),
    source: text('source').notNull(),
    evidenceSealed: bytea('evidence_sealed'),
    occurredAt: clientInstant('occurred_at').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true, precision: 3 }).notNull(),
    prevHash: text('prev_hash'),
    hash: text('hash').notNull(),
  },
  (t) => [uniqueIndex('consent_events_subject_seq').on(t.subjectId, t.seq), index('consent_events_tenant').on(t.tenantId)],
);

/** Current state per subject × purpose: a projection of the ledger, written in the same transaction. */
export const consentState = pgTable(
  'consent_state',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    purposeKey: text('purpose_key').notNull(),
    status: text('status', { enum: ['granted', 'withdrawn'] }).notNull(),
    purposeVersion: integer('purpose_version').notNull(),
    since: clientInstant('since').notNull(),
    eventId: uuid('event_id').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.subjectId, t.purposeKey] })],
);

/** Corrections of ledger events whose client-given occurred_at lies outside the range every instant now keeps
 * (written before that range was enforced). The event itself never changes, so its hash still verifies; reads show
 * the corrected time, with the recorded one beside it. */
export const consentEventCorrections = pgTable(
  'consent_event_corrections',
  {
    eventId: uuid('event_id')
      .primaryKey()
      .references(() => consentEvents.id),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    // The value the event holds (and its hash covers), and the one reads and the state projection use instead.
    recordedOccurredAt: clientInstant('recorded_occurred_at').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    reason: text('reason').notNull(),
    correctedAt: timestamp('corrected_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [index('consent_event_corrections_subject').on(t.subjectId)],
);
