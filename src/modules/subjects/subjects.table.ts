import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea, clientInstant } from '../../db/columns.js';
import { tenants } from '../tenants/tenants.table.js';

export const subjects = pgTable(
  'subjects',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    // The CRM's own record key for this person: an opaque reference, not a contact detail.
    externalRef: text('external_ref'),
    status: text('status', { enum: ['active', 'erased'] }).notNull().default('active'),
    // How the person became known: crm (added by the CRM) or rights_request (known only from a request they made,
    // and so never marketed to without a grant: purpose limitation, Art. 5(1)(b)).
    origin: text('origin', { enum: ['crm', 'rights_request'] }).notNull().default('crm'),
    marketingObjection: boolean('marketing_objection').notNull().default(false),
    marketingObjectionAt: clientInstant('marketing_objection_at'),
    // How the objections were made: the source and the evidence (sealed under the subject's key).
    marketingObjectionSource: text('marketing_objection_source'),
    marketingObjectionEvidenceSealed: bytea('marketing_objection_evidence_sealed'),
    automatedDecisionObjection: boolean('automated_decision_objection').notNull().default(false),
    automatedDecisionObjectionAt: clientInstant('automated_decision_objection_at'),
    automatedDecisionObjectionSource: text('automated_decision_objection_source'),
    automatedDecisionObjectionEvidenceSealed: bytea('automated_decision_objection_evidence_sealed'),
    restricted: boolean('restricted').notNull().default(false),
    restrictedAt: clientInstant('restricted_at'),
    // When the service erased its own copy (the data key destroyed; the row stays as a tombstone).
    erasedAt: timestamp('erased_at', { withTimezone: true, precision: 3 }),
    // Per-subject data key, wrapped by the master key; deleting it crypto-shreds the subject.
    dataKeyWrapped: bytea('data_key_wrapped'),
    keyId: text('key_id'),
    // Head of the consent hash chain, advanced under the row lock that serialises one subject's writes.
    ledgerSeq: integer('ledger_seq').notNull().default(0),
    ledgerHead: text('ledger_head'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('subjects_tenant_external_ref').on(t.tenantId, t.externalRef),
    index('subjects_tenant_created').on(t.tenantId, t.createdAt),
  ],
);

/** Identifiers: found by a keyed blind index, stored only as ciphertext under the subject's data key. */
export const subjectIdentifiers = pgTable(
  'subject_identifiers',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    type: text('type', { enum: ['email', 'phone', 'crm_id', 'customer_id'] }).notNull(),
    blindIndex: bytea('blind_index').notNull(),
    subjectId: uuid('subject_id').notNull().references(() => subjects.id),
    valueSealed: bytea('value_sealed').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.type, t.blindIndex] }), index('subject_identifiers_subject').on(t.subjectId)],
);

/**
 * The record of a purge: an erased person's tombstone, ledger and request history deleted when the tenant's
 * accountability period ended (Art. 5(2), 5(1)(e)). Kept so a later verification of the subject's chain answers
 * "purged" (with when, and the chain's last hash as it stood) rather than "unknown" or "broken".
 */
export const subjectPurges = pgTable(
  'subject_purges',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    subjectId: uuid('subject_id').notNull(),
    erasedAt: timestamp('erased_at', { withTimezone: true, precision: 3 }).notNull(),
    purgedAt: timestamp('purged_at', { withTimezone: true, precision: 3 }).notNull(),
    // The chain as it stood when purged: its length and its head hash.
    ledgerSeq: integer('ledger_seq').notNull(),
    ledgerHead: text('ledger_head'),
    requests: integer('requests').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subjectId] }), index('subject_purges_tenant_purged').on(t.tenantId, t.purgedAt)],
);
