import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { systems } from '../systems/systems.table.js';
import { systemTasks, type TASK_STATUSES } from './tasks.table.js';

export type TaskRow = typeof systemTasks.$inferSelect;
export type NewTask = typeof systemTasks.$inferInsert;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type TaskWithSystem = TaskRow & { systemName: string | null; recipient: boolean; processor: boolean; reach: 'webhook' | 'email' | null };

/** Statuses in which a task still waits for its system (or for the DPO, when failed). */
export const OPEN_TASK_STATUSES: TaskStatus[] = ['pending', 'acknowledged', 'failed'];

export function createTasksRepo(db: Tx) {
  const withSystem = {
    task: systemTasks,
    systemName: systems.name,
    recipient: systems.recipient,
    processor: systems.processor,
    webhookEndpointId: systems.webhookEndpointId,
    contactEmail: systems.contactEmail,
  };
  type Joined = { task: TaskRow; systemName: string | null; recipient: boolean | null; processor: boolean | null; webhookEndpointId: string | null; contactEmail: string | null };
  const flat = (r: Joined): TaskWithSystem => ({
    ...r.task,
    systemName: r.systemName,
    recipient: r.recipient ?? false,
    processor: r.processor ?? false,
    reach: r.webhookEndpointId ? 'webhook' : r.contactEmail ? 'email' : null,
  });

  return {
    async systemsById(tenantId: string, ids: string[], tx: Tx = db) {
      if (ids.length === 0) return [];
      return tx.select().from(systems).where(and(eq(systems.tenantId, tenantId), inArray(systems.id, ids)));
    },
    async insertMany(rows: NewTask[], tx: Tx): Promise<TaskRow[]> {
      if (rows.length === 0) return [];
      return tx.insert(systemTasks).values(rows).returning();
    },
    async forRequest(tenantId: string, requestId: string, tx: Tx = db): Promise<TaskWithSystem[]> {
      const rows = await tx
        .select(withSystem)
        .from(systemTasks)
        .leftJoin(systems, eq(systems.id, systemTasks.systemId))
        .where(and(eq(systemTasks.tenantId, tenantId), eq(systemTasks.requestId, requestId)))
        .orderBy(asc(systemTasks.createdAt), asc(systemTasks.id));
      return rows.map(flat);
    },
    /** Takes the task's row lock (its transitions are serialised). */
    async lock(tenantId: string, requestId: string, taskId: string, tx: Tx): Promise<TaskRow | undefined> {
      const [row] = await tx
        .select()
        .from(systemTasks)
        .where(and(eq(systemTasks.tenantId, tenantId), eq(systemTasks.requestId, requestId), eq(systemTasks.id, taskId)))
        .for('update')
        .limit(1);
      return row;
    },
    /** The tenant of a task named by a callback link, before any scope knows it: the one lookup across tenants. */
    async tenantOf(taskId: string): Promise<string | undefined> {
      const result = await db.execute<{ tenant_id: string | null }>(sql`SELECT rightful_task_tenant(${taskId}::uuid) AS tenant_id`);
      return result.rows[0]?.tenant_id ?? undefined;
    },
    /** A task by id alone, for a callback (the token proves the caller), in the scope of the task's tenant. */
    async byId(taskId: string, tx: Tx = db): Promise<TaskRow | undefined> {
      const [row] = await tx.select().from(systemTasks).where(eq(systemTasks.id, taskId)).limit(1);
      return row;
    },
    async update(tenantId: string, id: string, patch: Partial<NewTask>, tx: Tx): Promise<TaskRow> {
      const [row] = await tx
        .update(systemTasks)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(systemTasks.tenantId, tenantId), eq(systemTasks.id, id)))
        .returning();
      return row!;
    },
    /** How many of the request's tasks are in `statuses` (default: open). */
    async openCount(tenantId: string, requestId: string, tx: Tx, statuses: TaskStatus[] = OPEN_TASK_STATUSES): Promise<number> {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(systemTasks)
        .where(and(eq(systemTasks.tenantId, tenantId), eq(systemTasks.requestId, requestId), inArray(systemTasks.status, statuses)));
      return row?.n ?? 0;
    },
    /** Per system, how many open tasks wait on it (a task reopened when its exemption ended counts, though its
     * request is completed). */
    async openBySystem(tenantId: string, tx: Tx = db): Promise<{ systemId: string | null; systemName: string | null; open: number }[]> {
      return tx
        .select({ systemId: systemTasks.systemId, systemName: systems.name, open: sql<number>`count(*)::int` })
        .from(systemTasks)
        .leftJoin(systems, eq(systems.id, systemTasks.systemId))
        .where(and(eq(systemTasks.tenantId, tenantId), inArray(systemTasks.status, OPEN_TASK_STATUSES)))
        .groupBy(systemTasks.systemId, systems.name)
        .orderBy(asc(systems.name));
    },
    /** Open tasks of these requests with their system's name: who has not answered yet. */
    async waitingOn(tenantId: string, requestIds: string[], tx: Tx = db): Promise<{ requestId: string; systemId: string | null; systemName: string | null; status: TaskStatus }[]> {
      if (requestIds.length === 0) return [];
      return tx
        .select({ requestId: systemTasks.requestId, systemId: systemTasks.systemId, systemName: systems.name, status: systemTasks.status })
        .from(systemTasks)
        .leftJoin(systems, eq(systems.id, systemTasks.systemId))
        .where(and(eq(systemTasks.tenantId, tenantId), inArray(systemTasks.requestId, requestIds), inArray(systemTasks.status, OPEN_TASK_STATUSES)))
        .orderBy(asc(systems.name));
    },
  };
}
export type TasksRepo = ReturnType<typeof createTasksRepo>;
