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

/**
 * Objections to one purpose: Art. 21(2) to direct marketing (upheld at once, absolute), or Art. 21(1) to processing
 * on legitimate interests or public task (pending until assessed; upheld unless compelling legitimate grounds are
 * shown). The objection to every direct-marketing purpose at once is the flag on the subject.
 */
export const objections = pgTable(
  'objections',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    purposeKey: text('purpose_key').notNull(),
    scope: text('scope', { enum: ['direct_marketing', 'processing'] }).notNull(),
    status: text('status', { enum: ['pending', 'upheld', 'refused', 'withdrawn'] }).notNull(),
    // The rights request that carries the assessment, when the objection came as one.
    requestId: uuid('request_id'),
    // How the objection was made, as provable as a grant (source as for consent; evidence sealed under the subject's key).
    source: text('source'),
    evidenceSealed: bytea('evidence_sealed'),
    occurredAt: clientInstant('occurred_at').notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('objections_subject_purpose_scope').on(t.subjectId, t.purposeKey, t.scope), index('objections_request').on(t.requestId)],
);

/**
 * Soft opt-in (ePrivacy Art. 13(2)): email or SMS marketing of the controller's own similar products to an existing
 * customer, who was offered an opt-out when the contact details were collected. Without one, such a purpose on a
 * basis other than consent answers no_consent.
 */
export const softOptIns = pgTable(
  'soft_opt_ins',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    purposeKey: text('purpose_key').notNull(),
    // The sale or negotiation the relationship rests on (an order or contract reference, not personal data).
    relationshipRef: text('relationship_ref').notNull(),
    collectedAt: clientInstant('collected_at').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.subjectId, t.purposeKey] })],
);

/**
 * After erasure, a keyed hash (the tenant's blind index) of each identifier of a person who objected to direct
 * marketing or withdrew a marketing consent (or of every erased person, by tenant setting): a later import of the
 * same email is answered `suppressed` (Art. 21(3)), until a grant recorded after the erasure. purpose_key '*' stands
 * for every direct-marketing purpose. Kept on Art. 6(1)(c)/(f); the person is told it exists.
 */
export const suppressions = pgTable(
  'suppressions',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    type: text('type').notNull(),
    blindIndex: bytea('blind_index').notNull(),
    purposeKey: text('purpose_key').notNull().default('*'),
    requestId: uuid('request_id'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.type, t.blindIndex, t.purposeKey] })],
);
