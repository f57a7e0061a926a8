// The worker's part of subjects: topic subject.purge purges an erased person's records when the tenant's
// accountability period has ended (Art. 5(1)(e), 5(2)), or schedules the row again (see subjects.purge.ts).
import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import type { Dispatcher } from '../outbox/outbox.dispatcher.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import { createPurgeService, PURGE_TOPIC, PurgePayloadSchema } from './subjects.purge.js';

export function registerSubjectsJobs(dispatcher: Pick<Dispatcher, 'register'>, deps: { db: Db; outbox: OutboxRepo; log: Logger; clock?: () => Date }): void {
  const purges = createPurgeService({ db: deps.db, outbox: deps.outbox, clock: deps.clock });
  dispatcher.register(PURGE_TOPIC, {
    payload: PurgePayloadSchema,
    // The handler finishes the row itself, in the purge's transaction (done), or schedules it again.
    settles: true,
    handle: async (row, payload) => {
      const outcome = await purges.handle(row, payload.subject_id);
      deps.log.info({ outbox_id: row.id, tenant_id: row.tenantId, result: outcome.result }, 'subject purge');
    },
  });
}
