// The outbox's dispatcher: modules register a handler per topic (with a zod schema of the row's payload), and the
// queue's processor hands every row to it (a BullMQ worker, or the relay itself when there is no Redis: see
// outbox.in-process.ts; both retry alike). The outbox knows no module; the composition root registers them.
//
//   dispatcher.register('task.send', {
//     payload: z.object({ task_id: z.uuid() }),
//     handle: async (row, payload) => { ...send the task... },
//   });
//
// A row whose payload does not match is marked dead with the reason, and its handler never runs. When `handle`
// resolves the row is done; when it throws the queue retries the job (5 attempts, backoff from 1 s), then the
// reconciler hands the row to the queue again; a row whose handler keeps failing ends dead with the last error.
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { EventPayload } from './outbox.events.js';
import { withTenant } from '../../db/tenant-scope.js';
import type { NewOutboxRow, OutboxRepo, OutboxRow } from './outbox.repo.js';

export type OutboxHandler<S extends z.ZodType = z.ZodType> = {
  /** The row's payload: ids only, never personal data (INV-6). */
  payload: S;
  /** Does the row's work; idempotent (a crash after the work and before the row is done means it runs again). */
  handle: (row: OutboxRow, payload: z.output<S>) => Promise<void>;
  /**
   * Does the work of several rows of the topic at once (the rows of one job, taken together), so their statements
   * are shared; answers each row's outcome, in order, as `handle` would have. When present, it handles every row of
   * the topic (a job of one row too). Absent: `handle` for each row.
   */
  handleMany?: (rows: { row: OutboxRow; payload: z.output<S> }[]) => Promise<PromiseSettledResult<void>[]>;
  /**
   * The handler finishes the row itself (done, dead, cancelled or scheduled again), in the statement that records
   * its effect; the dispatcher then leaves the row alone. Otherwise the row is done when `handle` resolves.
   */
  settles?: boolean;
};

/** Rows that an event adds, written in the transaction of its fan-out (e.g. an email to the DPO). */
export type EventFollower = (row: OutboxRow, event: EventPayload) => Promise<NewOutboxRow[]>;

export type ProcessResult = 'done' | 'settled' | 'dead' | 'skipped';

// A row whose handler failed every queue attempt this many times over (each enqueue counts) is dead, not retried.
const MAX_ENQUEUES = 10;

export function createDispatcher(deps: { outbox: OutboxRepo; log: Logger; holdMs: number; maxEnqueues?: number }) {
  const { outbox, log, holdMs } = deps;
  const maxEnqueues = deps.maxEnqueues ?? MAX_ENQUEUES;
  const handlers = new Map<string, OutboxHandler>();
  const followers: EventFollower[] = [];
  const closers: (() => unknown)[] = [];

  async function dead(row: OutboxRow, reason: string): Promise<'dead'> {
    log.warn({ outbox_id: row.id, topic: row.topic, reason }, 'outbox row dead');
    await outbox.finish(row.id, 'dead', reason);
    return 'dead';
  }

  return {
    /** How long a processor holds the row it works on: longer than any handler may take. */
    holdMs,

    /** The handler of every row of `topic`; one per topic. */
    register<S extends z.ZodType>(topic: string, handler: OutboxHandler<S>): void {
      if (handlers.has(topic)) throw new Error(`outbox topic ${topic} has a handler already`);
      handlers.set(topic, handler as unknown as OutboxHandler);
    },

    /** Adds rows to the fan-out of every event (the follower decides which events need them). */
    onEvent(follower: EventFollower): void {
      followers.push(follower);
    },

    /** The rows every follower adds to `event`: the event topic's handler writes them with its fan-out. */
    async followUps(row: OutboxRow, event: EventPayload): Promise<NewOutboxRow[]> {
      return (await Promise.all(followers.map((f) => f(row, event)))).flat();
    },

    /** Releases what a handler opened (a transport, a client) when the worker closes. */
    onClose(fn: () => unknown): void {
      closers.push(fn);
    },

    topics(): string[] {
      return [...handlers.keys()];
    },

    /**
     * Processes one outbox row: takes it (skipped when it is finished or another processor holds it), checks its
     * payload, runs its topic's handler and finishes it, all in the scope of the row's tenant (the job names it).
     * `lastTry`: the queue will not retry this job again.
     */
    async process(outboxId: string, opts: { tenantId: string; lastTry?: boolean }): Promise<ProcessResult> {
      return (await withTenant(opts.tenantId, () => processRows([outboxId], opts)))[0]!;
    },

    /**
     * Processes the rows of one job (one tenant's) as `process` does each, taken in one statement and handed to their
     * topic's `handleMany` together. Every row is seen to; then, if any handler failed, the first failure is thrown
     * (the queue retries the job, and its rows finished meanwhile are skipped).
     */
    processMany(outboxIds: string[], opts: { tenantId: string; lastTry?: boolean }): Promise<ProcessResult[]> {
      return withTenant(opts.tenantId, () => processRows(outboxIds, opts));
    },

    async close(): Promise<void> {
      for (const fn of closers.reverse()) await fn();
    },
  };

  async function processRows(outboxIds: string[], opts: { lastTry?: boolean }): Promise<ProcessResult[]> {
    const taken = await outbox.takeAll(outboxIds, holdMs);
    const results: ProcessResult[] = taken.map(() => 'skipped');
    const failures: unknown[] = [];
    const byTopic = new Map<string, number[]>();
    taken.forEach((row, i) => row && byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), i]));
    await Promise.all(
      [...byTopic].map(async ([topic, indexes]) => {
        const handler = handlers.get(topic);
        const valid: { i: number; row: OutboxRow; payload: unknown }[] = [];
        for (const i of indexes) {
          const row = taken[i]!;
          if (!handler) {
            results[i] = await dead(row, `no processor for topic ${topic}`);
            continue;
          }
          const parsed = handler.payload.safeParse(row.payload);
          // Zod's messages name the field and what was expected, never the value: no personal data in last_error.
          if (!parsed.success) {
            const issues = parsed.error.issues.slice(0, 3).map((x) => `${x.path.join('.') || '(payload)'}: ${x.message}`);
            results[i] = await dead(row, `invalid payload: ${issues.join('; ')}`.slice(0, 500));
          } else valid.push({ i, row, payload: parsed.data });
        }
        if (!handler || valid.length === 0) return;
        const outcomes =
          handler.handleMany
            ? await handler.handleMany(valid).catch((err: unknown) => valid.map((): PromiseSettledResult<void> => ({ status: 'rejected', reason: err })))
            : await Promise.allSettled(valid.map((v) => handler.handle(v.row, v.payload)));
        await Promise.all(
          valid.map(async ({ i, row }, k) => {
            const outcome = outcomes[k]!;
            if (outcome.status === 'rejected') {
              failures.push(outcome.reason);
              const message = (outcome.reason as Error).message;
              if (opts.lastTry && row.attempts >= maxEnqueues) await dead(row, `handler failed ${row.attempts} times: ${message}`.slice(0, 500)).catch(() => {});
              // Without its hold, the row is taken by the queue's next attempt instead of waiting for the reconciler.
              else await outbox.unhold(row.id, row.attempts, `handler failed: ${message}`.slice(0, 500)).catch(() => {});
              return;
            }
            if (handler.settles) results[i] = 'settled';
            else {
              await outbox.complete(row.id, row.attempts);
              results[i] = 'done';
            }
          }),
        );
      }),
    );
    if (failures.length > 0) throw failures[0];
    return results;
  }
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
