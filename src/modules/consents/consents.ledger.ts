// The hash chain of one subject's consent ledger: hash = sha256(prev_hash ‖ canonical event). Pure functions.
import { sha256Hex } from '../../lib/crypto.js';

export type ChainedFields = {
  id: string;
  tenantId: string;
  subjectId: string;
  seq: number;
  purposeKey: string;
  purposeVersion: number;
  action: string;
  source: string;
  occurredAt: Date;
  recordedAt: Date;
  evidenceSealed: Buffer | null;
};

/** A fixed-order array of every recorded fact; evidence is covered by its ciphertext's digest, so the chain stays
 * verifiable after erasure destroys the key that could read it. */
export function canonicalEvent(e: ChainedFields): string {
  return JSON.stringify([
    'v1',
    e.id,
    e.tenantId,
    e.subjectId,
    e.seq,
    e.purposeKey,
    e.purposeVersion,
    e.action,
    e.source,
    e.occurredAt.toISOString(),
    e.recordedAt.toISOString(),
    e.evidenceSealed ? sha256Hex(e.evidenceSealed) : null,
  ]);
}

export function chainHash(prevHash: string | null, e: ChainedFields): string {
  return sha256Hex(`${prevHash ?? ''}\n${canonicalEvent(e)}`);
}

export type ChainBreak = { event_id: string; seq: number; reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'sequence_gap' | 'head_mismatch' };

/** Checks a run of events continuing from (prevSeq, prevHash); returns the first break, or the new tip. */
export function verifyRun(
  events: (ChainedFields & { prevHash: string | null; hash: string })[],
  from: { seq: number; hash: string | null },
): { ok: true; seq: number; hash: string | null } | { ok: false; broken: ChainBreak } {
  let { seq, hash } = from;
  for (const e of events) {
    if (e.seq !== seq + 1) return { ok: false, broken: { event_id: e.id, seq: e.seq, reason: 'sequence_gap' } };
    if (e.prevHash !== hash) return { ok: false, broken: { event_id: e.id, seq: e.seq, reason: 'prev_hash_mismatch' } };
    if (chainHash(hash, e) !== e.hash) return { ok: false, broken: { event_id: e.id, seq: e.seq, reason: 'hash_mismatch' } };
    seq = e.seq;
    hash = e.hash;
  }
  return { ok: true, seq, hash };
}
