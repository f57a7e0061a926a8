import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea } from '../../db/columns.js';
import { rightsRequests } from '../rights-requests/rights-requests.table.js';
import { systems } from '../systems/systems.table.js';
import { tenants } from '../tenants/tenants.table.js';

/** What a task asks of its system. public_disclosure (Art. 17(2)) informs other controllers of data made public. */
export const TASK_KINDS = ['erasure', 'rectification', 'restriction', 'restriction_lifted', 'export', 'public_disclosure'] as const;
/**
 * pending → acknowledged → completed | failed | exempt; a failed task may be retried (back to pending); an exempt
 * erasure task whose Art. 17(3) period ends goes back to pending (reopened by Rightful). cancelled: the request ended
 * without what the task asked being due any more (a restriction refused, withdrawn or decided, Art. 18): set by
 * Rightful, never by a client.
 */
export const TASK_STATUSES = ['pending', 'acknowledged', 'completed', 'failed', 'exempt', 'cancelled'] as const;

/** Art. 19: a recipient need not be told where that proves impossible or involves disproportionate effort; the DPO
 * records which, and why. */
export const ART19_GROUNDS = ['art19_impossible', 'art19_disproportionate_effort'] as const;

export type TaskExemption = { ground: string; categories: string[]; until: string | null; note?: string };

/** One system's part of one rights request; every change is in the request's audit trail. */
export const systemTasks = pgTable(
  'system_tasks',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    requestId: uuid('request_id').notNull().references(() => rightsRequests.id),
    systemId: uuid('system_id').references(() => systems.id),
    kind: text('kind', { enum: TASK_KINDS }).notNull(),
    status: text('status', { enum: TASK_STATUSES }).notNull().default('pending'),
    // Art. 17(3): the ground, the data categories kept and until when (a task reopens when the period ends).
    exemption: jsonb('exemption').$type<TaskExemption>(),
    // When the callback link of the current send gave its final answer (the link is derived, never stored: tasks.tokens.ts).
    callbackUsedAt: timestamp('callback_used_at', { withTimezone: true, precision: 3 }),
    // Sends of the task to its system (a retry sends again).
    sends: integer('sends').notNull().default(0),
    notifiedAt: timestamp('notified_at', { withTimezone: true, precision: 3 }),
    answeredAt: timestamp('answered_at', { withTimezone: true, precision: 3 }),
    // Why it failed or was exempted, as the system or the DPO said it: sealed under the subject's key.
    reasonSealed: bytea('reason_sealed'),
    // An erasure task exempt until a date (Art. 17(3)(b) retention) must still reach its system when the period
    // ends, after Rightful has forgotten the person: what the system needs to find them (its external_ref and the
    // identifiers), sealed under a key of the task's own, wrapped by the master key. Written in the erasure's
    // transaction, before the subject's key is destroyed; destroyed (all three set to null) when the task closes.
    locatorSealed: bytea('locator_sealed'),
    locatorKeyWrapped: bytea('locator_key_wrapped'),
    locatorKeyId: text('locator_key_id'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [
    uniqueIndex('system_tasks_request_system_kind').on(t.requestId, t.systemId, t.kind),
    index('system_tasks_tenant_status').on(t.tenantId, t.status),
    index('system_tasks_system').on(t.systemId),
  ],
);
