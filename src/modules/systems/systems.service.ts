import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { decodeCreatedCursor, pageOf } from '../../lib/cursor.js';
import { ProcessorIsRecipient, SystemHasOpenTasks, SystemNotFound, UnknownWebhookEndpoint } from './systems.errors.js';
import type { HandlingSystem, SystemRecord, SystemsRepo } from './systems.repo.js';
import type { CreateSystem, System, SystemHandle, UpdateSystem } from './systems.schemas.js';

export function toSystem(r: SystemRecord): System {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    data_categories: r.dataCategories,
    handles: r.handles,
    recipient: r.recipient || r.processor,
    processor: r.processor,
    webhook_endpoint_id: r.webhookEndpointId,
    contact_email: r.contactEmail,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/**
 * Processors are recipients (Art. 4(9)), so they are told under Art. 19: processor true makes recipient true (stored
 * so), and an explicit recipient false beside it is a contradiction the caller must resolve (422). Turning processor
 * off later leaves recipient true: the data was disclosed to it all the same.
 */
function recipientOf(recipient: boolean | undefined, processor: boolean): boolean {
  if (processor && recipient === false) throw new ProcessorIsRecipient();
  return recipient ?? processor;
}

export function createSystemsService(deps: { db: Db; repo: SystemsRepo; clock?: () => Date }) {
  const { db, repo } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function mustHaveEndpoint(tenantId: string, endpointId: string, tx: Tx): Promise<void> {
    if (!(await repo.liveEndpointExists(tenantId, endpointId, tx))) throw new UnknownWebhookEndpoint();
  }

  return {
    /** `tx`: the Idempotency-Key transaction, so the system and the stored answer commit together. */
    async create(tenantId: string, input: CreateSystem, tx: Tx = db): Promise<System> {
      const recipient = recipientOf(input.recipient, input.processor);
      return inTransaction(tx, async (t) => {
        if (input.webhook_endpoint_id !== undefined) await mustHaveEndpoint(tenantId, input.webhook_endpoint_id, t);
        const row = await repo.insert(
          {
            id: crypto.randomUUID(),
            tenantId,
            name: input.name,
            kind: input.kind,
            dataCategories: input.data_categories,
            handles: input.handles,
            recipient,
            processor: input.processor,
            webhookEndpointId: input.webhook_endpoint_id ?? null,
            contactEmail: input.contact_email ?? null,
          },
          t,
        );
        return toSystem(row);
      });
    },

    async get(tenantId: string, id: string): Promise<System> {
      const row = await repo.findLive(tenantId, id);
      if (!row) throw new SystemNotFound();
      return toSystem(row);
    },

    async list(tenantId: string, query: { limit: number; cursor?: string; handles?: SystemHandle; recipient?: 'true' | 'false' }) {
      const rows = await repo.list(tenantId, {
        before: decodeCreatedCursor('systems', query.cursor),
        limit: query.limit + 1,
        handles: query.handles,
        recipient: query.recipient === undefined ? undefined : query.recipient === 'true',
      });
      const { items, next_cursor } = pageOf('systems', rows, query.limit);
      return { items: items.map(toSystem), next_cursor };
    },

    /** Partial: fields left out keep their value; a new reach replaces the other one, so there is always exactly one. */
    async update(tenantId: string, id: string, patch: UpdateSystem): Promise<System> {
      return inTransaction(db, async (tx) => {
        const current = await repo.findLive(tenantId, id, tx, 'no key update');
        if (!current) throw new SystemNotFound();
        const processor = patch.processor ?? current.processor;
        if (processor && patch.recipient === false) throw new ProcessorIsRecipient();
        // A recipient stays one when it stops being a processor (the data was disclosed to it); a new processor becomes one.
        const recipient = patch.recipient ?? (current.recipient || current.processor || processor);
        if (patch.webhook_endpoint_id !== undefined) await mustHaveEndpoint(tenantId, patch.webhook_endpoint_id, tx);
        const reach =
          patch.webhook_endpoint_id !== undefined
            ? { webhookEndpointId: patch.webhook_endpoint_id, contactEmail: null }
            : patch.contact_email !== undefined
              ? { webhookEndpointId: null, contactEmail: patch.contact_email }
              : {};
        const next: Partial<SystemRecord> = {
          name: patch.name,
          kind: patch.kind,
          dataCategories: patch.data_categories,
          handles: patch.handles,
          recipient,
          processor,
          ...reach,
        };
        // Only what differs is written: a patch that changes nothing leaves updated_at alone.
        const changes = Object.fromEntries(
          Object.entries(next).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(current[k as keyof SystemRecord])),
        );
        if (Object.keys(changes).length === 0) return toSystem(current);
        const row = await repo.update(tenantId, id, changes, tx);
        if (!row) throw new SystemNotFound();
        return toSystem(row);
      });
    },

    /** Soft: the row stays, so past tasks still name it. Refused while the system has open tasks. */
    async remove(tenantId: string, id: string): Promise<void> {
      await inTransaction(db, async (tx) => {
        // FOR UPDATE: waits for a fan-out holding the row (listHandling), then counts the tasks it created.
        const current = await repo.findLive(tenantId, id, tx, 'update');
        if (!current) throw new SystemNotFound();
        const open = await repo.openTaskCount(tenantId, id, tx);
        if (open > 0) throw new SystemHasOpenTasks(open);
        await repo.update(tenantId, id, { deletedAt: clock() }, tx);
      });
    },

    /** Any system of the tenant, deleted ones included (`deletedAt` set): for the history of past tasks. */
    find(tenantId: string, id: string, tx?: Tx): Promise<SystemRecord | undefined> {
      return repo.find(tenantId, id, tx);
    },

    /** The systems a request's action goes to, each with why: see SystemsRepo.listHandling. */
    listHandling(tenantId: string, handle: SystemHandle, tx?: Tx): Promise<HandlingSystem[]> {
      return repo.listHandling(tenantId, handle, tx);
    },
  };
}
export type SystemsService = ReturnType<typeof createSystemsService>;
