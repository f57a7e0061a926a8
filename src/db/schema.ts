// Every table of every module: the one input for drizzle-kit and for drizzle().
export * from '../modules/tenants/tenants.table.js';
export * from '../modules/purposes/purposes.table.js';
export * from '../modules/subjects/subjects.table.js';
export * from '../modules/consents/consents.table.js';
export * from '../modules/idempotency/idempotency.table.js';
export * from '../modules/outbox/outbox.table.js';
export * from '../modules/webhook-endpoints/webhook-endpoints.table.js';
export * from '../modules/rights-requests/rights-requests.table.js';
export * from '../modules/systems/systems.table.js';
export * from '../modules/tasks/tasks.table.js';
export * from '../modules/exports/exports.table.js';
export * from '../modules/tokens/tokens.table.js';
export * from '../modules/portal/portal.table.js';
