// Runs every purge that is due now (Art. 5(1)(e)): erased people whose tenant's accountability period has ended,
// whether or not the worker handled their purge rows (it may have been down). Prints counts only, never ids.
import pino from 'pino';
import type { Config } from '../config.js';
import { createDb, createPool } from '../db/client.js';
import { createOutboxRepo } from '../modules/outbox/outbox.repo.js';
import { createPurgeService } from '../modules/subjects/subjects.purge.js';

export type PurgeReport = { due: number; purged: number; postponed: number };

export async function runPurge(config: Config, opts: { tenantId?: string } = {}): Promise<PurgeReport> {
  const pool = createPool({ ...config.database, poolMax: 2 }, pino({ level: config.logLevel }), { owner: true });
  try {
    const db = createDb(pool);
    return await createPurgeService({ db, outbox: createOutboxRepo(db) }).runDue(opts);
  } finally {
    await pool.end();
  }
}
