import { sql } from 'drizzle-orm';
import { boolean, date, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { subjects } from '../subjects/subjects.table.js';
import { bytea, clientInstant } from '../../db/columns.js';
import { tenants } from '../tenants/tenants.table.js';

export const REQUEST_TYPES = ['access', 'rectification', 'erasure', 'restriction', 'portability', 'objection', 'automated_decision', 'information'] as const;
export const REQUEST_CHANNELS = ['web', 'email', 'phone', 'letter', 'in_person'] as const;
export const REQUEST_STATUSES = ['received', 'awaiting_approval', 'awaiting_identity', 'in_progress', 'completed', 'rejected', 'withdrawn'] as const;

export type StoredPause = { kind: 'identity' | 'clarification'; from: string; to: string | null };

export const rightsRequests = pgTable(
  'rights_requests',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    type: text('type', { enum: REQUEST_TYPES }).notNull(),
    channel: text('channel', { enum: REQUEST_CHANNELS }).notNull(),
    status: text('status', { enum: REQUEST_STATUSES }).notNull(),
    // The person's language: an information request is answered in it.
    locale: text('locale'),
    // Objection requests: what is objected to (direct_marketing, or processing of the purposes named).
    objection: jsonb('objection').$type<{ scope: 'direct_marketing' | 'processing'; purposes: string[] | null }>(),
    // Erasure requests: the Art. 17(1) ground the person invoked, (a) to (f).
    erasureGround: text('erasure_ground'),
    // Restriction requests: the Art. 18(1) ground, (a) to (d).
    restrictionGround: text('restriction_ground'),
    // When the person was told of the extension (no later than the first due date, Art. 12(3)).
    subjectInformedAt: clientInstant('subject_informed_at'),
    receivedAt: clientInstant('received_at').notNull(),
    // Free text from or about the person (the corrections asked, for rectification): sealed under the subject's key.
    detailsSealed: bytea('details_sealed'),
    assignee: text('assignee'),
    dueDate: date('due_date', { mode: 'string' }),
    dueAt: timestamp('due_at', { withTimezone: true, precision: 3 }),
    pauses: jsonb('pauses').$type<StoredPause[]>().notNull().default(sql`'[]'::jsonb`),
    extended: boolean('extended').notNull().default(false),
    // Legacy plaintext, emptied by `npm run cli -- repair`: the extension reason now lives in texts_sealed.
    extensionReason: text('extension_reason'),
    rejectionGround: text('rejection_ground'),
    // What is not free text about the person: the rejection ground, the privacy notice of an information request.
    outcome: jsonb('outcome').$type<Record<string, unknown>>(),
    // Free text about the person, sealed under the subject's key (crypto-shredded with it): the extension reason,
    // the resolution and the rejection detail, as one JSON object.
    textsSealed: bytea('texts_sealed'),
    lastTransitionAt: clientInstant('last_transition_at').notNull(),
    closedAt: timestamp('closed_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [
    index('rights_requests_tenant_created').on(t.tenantId, t.createdAt),
    index('rights_requests_tenant_due').on(t.tenantId, t.dueAt),
    index('rights_requests_subject').on(t.subjectId),
  ],
);

/** The audit trail: every transition and comment, who and when. Append-only. */
export const rightsRequestEvents = pgTable(
  'rights_request_events',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    requestId: uuid('request_id').notNull().references(() => rightsRequests.id),
    seq: integer('seq').notNull(),
    action: text('action').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    // When it happened (may be earlier than recorded, for what happened on paper or by phone).
    at: clientInstant('at').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true, precision: 3 }).notNull(),
    actor: text('actor').notNull(),
    // Facts of the transition (reason, ground, new due date); free text sealed under the subject's key.
    facts: jsonb('facts').$type<Record<string, unknown>>(),
    noteSealed: bytea('note_sealed'),
  },
  (t) => [uniqueIndex('rights_request_events_seq').on(t.requestId, t.seq)],
);
