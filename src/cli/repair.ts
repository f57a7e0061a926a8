// Mends rows written before the current rules, across every tenant; idempotent, so `migrate` runs it every time.
// - ledger events whose occurred_at lies outside 1970-01-01..9999-12-31 get a correction (the chain still verifies);
// - free text of rights requests still in plaintext is sealed under the subject's key.
import type { Config } from '../config.js';
import { createDb, createPool } from '../db/client.js';
import { createKeyring } from '../lib/keyring.js';
import { createServices } from '../services.js';
import { createConsentsRepo } from '../modules/consents/consents.repo.js';

export type RepairReport = { ledger_events_corrected: number; ledgers_repaired: number; requests_sealed: number };

export async function runRepair(config: Config): Promise<RepairReport> {
  const pool = createPool({ ...config.database, poolMax: 2 }, console, { owner: true });
  try {
    const db = createDb(pool);
    const services = createServices({ db, keyring: createKeyring(config), allowPrivateWebhooks: false });
    const ledger = await db.transaction((tx) => createConsentsRepo(db).repairOutOfRangeInstants(tx));
    const sealed = await services.rightsRequests.sealPlaintextTexts();
    return { ledger_events_corrected: ledger.events, ledgers_repaired: ledger.subjects, requests_sealed: sealed };
  } finally {
    await pool.end();
  }
}
