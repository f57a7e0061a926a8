// The worker's part of exports: topic export.expire, the retention check that deletes an export's gathered data
// once the request is closed and the tenant's export_retention_days have passed (payload: ids only).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Dispatcher } from '../outbox/outbox.dispatcher.js';
import { EXPORT_EXPIRE_TOPIC, type ExportsService } from './exports.service.js';

/** The id of the check a check schedules next, derived from its own: a check run twice schedules one follow-up. */
function nextIdOf(rowId: string): string {
  const h = createHash('sha256').update(`export-expire-next:${rowId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function registerExportsJobs(dispatcher: Pick<Dispatcher, 'register'>, deps: { exports: ExportsService }): void {
  dispatcher.register(EXPORT_EXPIRE_TOPIC, {
    payload: z.object({ request_id: z.uuid() }),
    handle: async (row, payload) => {
      await deps.exports.expire(row.tenantId, payload.request_id, nextIdOf(row.id));
    },
  });
}
