import { and, arrayContains, asc, count, desc, eq, inArray, isNull, not, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { olderThan, type CreatedPosition } from '../../db/keyset.js';
import { OPEN_TASK_STATUSES } from '../tasks/tasks.repo.js';
import { systemTasks } from '../tasks/tasks.table.js';
import { webhookEndpoints } from '../webhook-endpoints/webhook-endpoints.table.js';
import type { SystemHandle, SystemKind } from './systems.schemas.js';
import { systems } from './systems.table.js';

type Row = typeof systems.$inferSelect;
/** A system as stored, deleted ones included (`deletedAt` set). */
export type SystemRecord = Omit<Row, 'kind' | 'handles'> & { kind: SystemKind; handles: SystemHandle[] };

/**
 * One system in a fan-out, and why it is there: `handles` — it carries the action out itself (the action is in its
 * `handles`); `recipient` — it is a recipient (processors included) told of the action under Art. 19. At least one
 * is true; both may be.
 */
export type HandlingSystem = { system: SystemRecord; handles: boolean; recipient: boolean };

/** The actions every recipient is told of (Art. 19: rectification, erasure, restriction); not export (Art. 15/20). */
export const TOLD_TO_RECIPIENTS: readonly SystemHandle[] = ['erasure', 'rectification', 'restriction'];

const record = (r: Row): SystemRecord => ({ ...r, kind: r.kind as SystemKind, handles: r.handles as SystemHandle[] });

// Processors are recipients (Art. 4(9)): the service stores recipient = true for them, and every query says so too.
const isRecipient = (): SQL => or(eq(systems.recipient, true), eq(systems.processor, true))!;

export function createSystemsRepo(db: Tx) {
  const live = (tenantId: string) => and(eq(systems.tenantId, tenantId), isNull(systems.deletedAt));
  return {
    async insert(row: typeof systems.$inferInsert, tx: Tx = db): Promise<SystemRecord> {
      const [created] = await tx.insert(systems).values(row).returning();
      return record(created!);
    },

    /** Any system of the tenant, deleted ones included: past tasks still name them. */
    async find(tenantId: string, id: string, tx: Tx = db): Promise<SystemRecord | undefined> {
      const [row] = await tx.select().from(systems).where(and(eq(systems.tenantId, tenantId), eq(systems.id, id))).limit(1);
      return row && record(row);
    },

    /**
     * A system that is not deleted. `lock`: 'update' (held by a delete) waits for, and makes wait, a fan-out that
     * holds the row with listHandling; 'no key update' (held by a change) does not.
     */
    async findLive(tenantId: string, id: string, tx: Tx = db, lock?: 'update' | 'no key update'): Promise<SystemRecord | undefined> {
      const q = tx.select().from(systems).where(and(live(tenantId), eq(systems.id, id))).limit(1);
      const [row] = lock ? await q.for(lock) : await q;
      return row && record(row);
    },

    async list(
      tenantId: string,
      opts: { before?: CreatedPosition; limit: number; handles?: SystemHandle; recipient?: boolean },
      tx: Tx = db,
    ): Promise<SystemRecord[]> {
      const rows = await tx
        .select()
        .from(systems)
        .where(
          and(
            live(tenantId),
            olderThan(systems.createdAt, systems.id, opts.before),
            opts.handles ? arrayContains(systems.handles, [opts.handles]) : undefined,
            opts.recipient === undefined ? undefined : opts.recipient ? isRecipient() : not(isRecipient()),
          ),
        )
        .orderBy(desc(systems.createdAt), desc(systems.id))
        .limit(opts.limit);
      return rows.map(record);
    },

    /**
     * The systems a request's `handle` goes to: those that handle it and, for erasure, rectification and restriction,
     * every recipient (`recipient OR processor`, Art. 19). Deleted systems are left out. Oldest first.
     *
     * The rows are locked FOR KEY SHARE: called in the fan-out's transaction, a concurrent delete of a listed system
     * waits for the fan-out to commit (and then sees its new open tasks: 409), or, when the delete came first, the
     * system is left out. Outside a transaction the lock ends with the statement.
     */
    async listHandling(tenantId: string, handle: SystemHandle, tx: Tx = db): Promise<HandlingSystem[]> {
      const told = TOLD_TO_RECIPIENTS.includes(handle);
      const rows = await tx
        .select()
        .from(systems)
        .where(and(live(tenantId), told ? or(arrayContains(systems.handles, [handle]), isRecipient()) : arrayContains(systems.handles, [handle])))
        .orderBy(asc(systems.createdAt), asc(systems.id))
        .for('key share');
      return rows.map((r) => ({ system: record(r), handles: r.handles.includes(handle), recipient: told && (r.recipient || r.processor) }));
    },

    async update(tenantId: string, id: string, patch: Partial<typeof systems.$inferInsert>, tx: Tx = db): Promise<SystemRecord | undefined> {
      const [row] = await tx
        .update(systems)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(and(live(tenantId), eq(systems.id, id)))
        .returning();
      return row && record(row);
    },

    /**
     * Whether the tenant has this webhook endpoint, not deleted. Locked FOR SHARE so that an endpoint being deleted
     * right now is waited for (and then seen deleted), and cannot be deleted until the system that names it commits.
     */
    async liveEndpointExists(tenantId: string, endpointId: string, tx: Tx = db): Promise<boolean> {
      const rows = await tx
        .select({ id: webhookEndpoints.id })
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId), isNull(webhookEndpoints.deletedAt)))
        .limit(1)
        .for('share');
      return rows.length === 1;
    },

    /** Tasks not finished (the tasks module's list: a failed task may be retried, so it still binds its system). */
    async openTaskCount(tenantId: string, systemId: string, tx: Tx = db): Promise<number> {
      const [row] = await tx
        .select({ n: count() })
        .from(systemTasks)
        .where(and(eq(systemTasks.tenantId, tenantId), eq(systemTasks.systemId, systemId), inArray(systemTasks.status, [...OPEN_TASK_STATUSES])));
      return row?.n ?? 0;
    },
  };
}
export type SystemsRepo = ReturnType<typeof createSystemsRepo>;
