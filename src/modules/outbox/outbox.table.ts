import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../tenants/tenants.table.js';

export const OUTBOX_STATUSES = ['pending', 'enqueued', 'done', 'dead', 'cancelled'] as const;

/**
 * Work that must happen because a state change committed: written in the same transaction as the change.
 * The relay moves due rows (available_at <= now) into BullMQ; a row is done only when its job has succeeded.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    topic: text('topic').notNull(),
    // Ids and facts only, never personal data.
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    // What the row is about (e.g. the rights request a reminder belongs to), so it can be cancelled or moved.
    refId: uuid('ref_id'),
    availableAt: timestamp('available_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    status: text('status', { enum: OUTBOX_STATUSES }).notNull().default('pending'),
    // Times the row was handed to the queue; part of the job id, so a re-enqueue is a new job.
    attempts: integer('attempts').notNull().default(0),
    enqueuedAt: timestamp('enqueued_at', { withTimezone: true, precision: 3 }),
    // A processor holds the row until then; another processor skips it meanwhile.
    lockedUntil: timestamp('locked_until', { withTimezone: true, precision: 3 }),
    // The queue job that carries the row since its last claim: a claim during a backlog puts several rows of one
    // tenant and topic in one job, and the reconciler asks the queue about that job. NULL: the row's own job
    // (`ob-<id>-<attempts>`), as claims before this column named it.
    jobId: text('job_id'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    index('outbox_due').on(t.availableAt).where(sql`status = 'pending'`),
    index('outbox_in_flight').on(t.enqueuedAt).where(sql`status = 'enqueued'`),
    index('outbox_tenant_status').on(t.tenantId, t.status),
    index('outbox_ref_pending').on(t.refId).where(sql`status = 'pending'`),
  ],
);
