import { sql } from 'drizzle-orm';
import { boolean, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../tenants/tenants.table.js';
import { webhookEndpoints } from '../webhook-endpoints/webhook-endpoints.table.js';

/** What a connected system can be asked to do about one person. */
export const SYSTEM_HANDLES = ['erasure', 'rectification', 'restriction', 'export'] as const;

/**
 * A connected system that holds personal data (CRM, mailing tool, warehouse, payment provider): told of erasure,
 * rectification and restriction, asked for exports. A recipient (Art. 19) is a third party the data was disclosed
 * to, processors included (Art. 4(9)). Reached through one webhook endpoint (events addressed to it alone) or, for a
 * system without an API, by email to its contact. Deleted systems stay as rows, so past tasks still name them.
 */
export const systems = pgTable(
  'systems',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    dataCategories: text('data_categories').array().notNull().default(sql`'{}'::text[]`),
    handles: text('handles').array().notNull().default(sql`'{}'::text[]`),
    recipient: boolean('recipient').notNull().default(false),
    processor: boolean('processor').notNull().default(false),
    webhookEndpointId: uuid('webhook_endpoint_id').references(() => webhookEndpoints.id),
    contactEmail: text('contact_email'),
    deletedAt: timestamp('deleted_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [index('systems_tenant_created').on(t.tenantId, t.createdAt)],
);
