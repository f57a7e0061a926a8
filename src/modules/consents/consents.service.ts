import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { open, seal } from '../../lib/crypto.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { pastInstant } from '../../lib/instants.js';
import { normaliseIdentifier } from '../../lib/identifiers.js';
import { blindIndex } from '../../lib/crypto.js';
import { PurposeNotFound } from '../purposes/purposes.errors.js';
import type { PurposesRepo } from '../purposes/purposes.repo.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectRow, SubjectsRepo } from '../subjects/subjects.repo.js';
import type { Subject, IdentifierInput } from '../subjects/subjects.schemas.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import { createPurgesRepo, type PurgesRepo } from '../subjects/subjects.purge.js';
import type { TenantContext } from '../tenants/tenants.service.js';
import { eventRow } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import { ConsentNotApplicable, ConsentProofMissing, ObjectionNotApplicable, SubjectErased, UnknownPurpose, UnknownPurposeVersion } from './consents.errors.js';
import { chainHash, verifyRun, type ChainBreak } from './consents.ledger.js';
import type { CheckRow, ConsentEventRow, ConsentsRepo, ObjectionRow } from './consents.repo.js';
import type { CheckResult, ConsentEvent, ConsentState, Objection, ObjectionInput, ObjectionList, RecordConsents, SoftOptIn, SoftOptInInput, VerifyResult } from './consents.schemas.js';
import { ValidationFailed } from '../../lib/errors.js';

const VERIFY_BATCH = 1000;

/** ISO 8601 as the hash chain prints it; years before 1 AD print with a sign (-000001-…), as toISOString does. */
const isoOrRaw = (d: Date) => (Number.isFinite(d.getTime()) ? d.toISOString() : 'invalid');

const evidenceAad = (eventId: string) => `consent-evidence:${eventId}`;
const objectionProofAad = (objectionId: string) => `objection-evidence:${objectionId}`;
const flagProofAad = (subjectId: string, scope: 'direct_marketing' | 'automated_decisions') => `objection-evidence:${subjectId}:${scope}`;

/** Art. 7(1): how a grant was given must be provable. The evidence field each source of a grant must carry. */
export const PROOF_BY_SOURCE = {
  web_form: 'form_id',
  api: 'form_id',
  crm_user: 'collected_by',
  verbal: 'collected_by',
  written: 'collected_by',
  import: 'proof_reference',
} as const;

// Art. 21(1): the processing a person may object to on grounds of their situation.
const OBJECTABLE_BASES = new Set(['legitimate_interests', 'public_task']);
// ePrivacy Art. 13: marketing by electronic mail (email, SMS) needs consent or a soft opt-in.
const ELECTRONIC_MAIL = new Set(['email', 'sms']);

function objectedEvent(tenantId: string, o: ObjectionRow, at: Date) {
  return eventRow(
    tenantId,
    'subject.objected',
    { subject_id: o.subjectId, scope: o.scope, purpose: o.purposeKey, status: o.status, occurred_at: o.occurredAt.toISOString() },
    at,
  );
}

export function presentObjection(o: ObjectionRow, key: Buffer | null = null): Objection {
  return {
    id: o.id,
    purpose: o.purposeKey,
    scope: o.scope,
    status: o.status,
    request_id: o.requestId,
    source: (o.source as Objection['source']) ?? null,
    evidence: o.evidenceSealed && key ? JSON.parse(open(key, o.evidenceSealed, objectionProofAad(o.id)).toString('utf8')) : null,
    occurred_at: o.occurredAt.toISOString(),
    decided_at: o.decidedAt?.toISOString() ?? null,
  };
}

export function createConsentsService(deps: {
  db: Db;
  repo: ConsentsRepo;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  purposes: PurposesRepo;
  outbox: OutboxRepo;
  clock?: () => Date;
  /** Records of purged subjects (verification reports them); by default read from `db`. */
  purges?: PurgesRepo;
}) {
  const { db, repo, subjectsRepo, subjects, purposes, outbox } = deps;
  const purges = deps.purges ?? createPurgesRepo(db);
  const clock = deps.clock ?? (() => new Date());

  function toEvent(row: ConsentEventRow, key: Buffer | null): ConsentEvent {
    let evidence: ConsentEvent['evidence'] = null;
    if (row.evidenceSealed && key) evidence = JSON.parse(open(key, row.evidenceSealed, evidenceAad(row.id)).toString('utf8'));
    return {
      id: row.id,
      subject_id: row.subjectId,
      seq: row.seq,
      purpose: row.purposeKey,
      purpose_version: row.purposeVersion,
      action: row.action,
      source: row.source as ConsentEvent['source'],
      evidence,
      occurred_at: (row.correction?.occurredAt ?? row.occurredAt).toISOString(),
      recorded_at: row.recordedAt.toISOString(),
      prev_hash: row.prevHash,
      hash: row.hash,
      correction: row.correction
        ? {
            recorded_occurred_at: isoOrRaw(row.correction.recordedOccurredAt),
            reason: row.correction.reason,
            corrected_at: row.correction.correctedAt.toISOString(),
          }
        : null,
    };
  }

  async function activeSubject(tenantId: string, subjectId: string, tx: Tx, lock: boolean): Promise<SubjectRow> {
    const row = lock ? await subjectsRepo.lock(tenantId, subjectId, tx) : await subjectsRepo.find(tenantId, subjectId, tx);
    if (!row) throw new SubjectNotFound();
    return row;
  }

  return {
    /** Appends decisions to the subject's chain and updates the projection, in one transaction under the subject's
     * row lock: concurrent writes for one subject queue, writes for different subjects do not wait for each other. */
    async record(tenantId: string, subjectId: string, input: RecordConsents, outer: Tx = db): Promise<{ events: ConsentEvent[] }> {
      const now = clock();
      const occurredAt = pastInstant('occurred_at', input.occurred_at, now);
      const keys = [...new Set(input.decisions.map((d) => d.purpose))];
      return inTransaction(outer, async (tx) => {
        // Two statements between BEGIN and COMMIT: lock and read, then write everything.
        const subject = await repo.lockForRecord(tenantId, subjectId, keys, tx);
        if (!subject) throw new SubjectNotFound();
        if (subject.status === 'erased') throw new SubjectErased();
        const found = new Map(subject.purposes.map((p) => [p.key, p]));
        const missing = keys.filter((k) => !found.has(k));
        if (missing.length) throw new UnknownPurpose(`No purpose with the key ${missing.map((k) => `"${k}"`).join(', ')} in the register`);
        const marketingObjections: string[] = [];
        input.decisions.forEach((d, i) => {
          const p = found.get(d.purpose)!;
          if (d.action === 'grant' && p.legalBasis !== 'consent') {
            throw new ConsentNotApplicable(
              `decisions.${i}: the purpose "${p.key}" rests on ${p.legalBasis}, not consent, so consent cannot be granted for it (an objection is the way to stop such processing)`,
            );
          }
          if (d.action === 'withdraw' && p.legalBasis !== 'consent') {
            // Art. 21(2)-(3): saying no to direct marketing is an objection, whatever its basis, and it is absolute.
            if (p.directMarketing) marketingObjections.push(p.key);
            else {
              throw new ConsentNotApplicable(
                `decisions.${i}: the purpose "${p.key}" rests on ${p.legalBasis}, not consent, so there is no consent to withdraw; the person may object to it (POST /v1/subjects/{id}/objections with scope processing, Art. 21(1))`,
              );
            }
          }
          if (d.action === 'grant') {
            const field = PROOF_BY_SOURCE[d.source];
            if (!d.evidence?.[field]) {
              throw new ConsentProofMissing(
                `decisions.${i}.evidence.${field}: a grant from source ${d.source} must say ${field === 'form_id' ? 'which form or page collected it' : field === 'collected_by' ? 'who collected it' : 'where the original proof is'} (Art. 7(1))`,
              );
            }
          }
          if (d.purpose_version !== undefined && d.purpose_version > p.version) {
            throw new UnknownPurposeVersion(`decisions.${i}: the purpose "${p.key}" has no version ${d.purpose_version} (current: ${p.version})`);
          }
        });

        // The data key is unwrapped only when there is evidence to seal: most writes carry none.
        const key = input.decisions.some((d) => d.evidence) ? subjects.dataKeyOf(subject) : null;
        let seq = subject.ledgerSeq;
        let head = subject.ledgerHead;
        const rows = input.decisions.map((d) => {
          const id = crypto.randomUUID();
          const evidenceSealed = d.evidence && key ? seal(key, Buffer.from(JSON.stringify(d.evidence)), evidenceAad(id)) : null;
          const fields = {
            id,
            tenantId,
            subjectId,
            seq: ++seq,
            purposeKey: d.purpose,
            purposeVersion: d.purpose_version ?? found.get(d.purpose)!.version,
            action: d.action,
            source: d.source,
            occurredAt,
            recordedAt: now,
            evidenceSealed,
          };
          const hash = chainHash(head, fields);
          const row = { ...fields, prevHash: head, hash };
          head = hash;
          return row;
        });
        // One state row per purpose: the last decision for it in this request.
        const latest = new Map(rows.map((r) => [r.purposeKey, r]));
        await repo.append(
          tenantId,
          subjectId,
          {
            events: rows,
            states: [...latest.values()].map((r) => ({
              tenantId,
              subjectId,
              purposeKey: r.purposeKey,
              status: r.action === 'grant' ? ('granted' as const) : ('withdrawn' as const),
              purposeVersion: r.purposeVersion,
              since: r.occurredAt,
              eventId: r.id,
            })),
            head: { seq, hash: head! },
            outbox: rows.map((r) => {
              const ev = eventRow(
                tenantId,
                r.action === 'grant' ? 'consent.granted' : 'consent.withdrawn',
                {
                  subject_id: subjectId,
                  purpose: r.purposeKey,
                  purpose_version: r.purposeVersion,
                  source: r.source,
                  occurred_at: r.occurredAt.toISOString(),
                  ledger_event_id: r.id,
                },
                now,
              );
              return { id: ev.id!, tenantId, topic: ev.topic, payload: ev.payload, availableAt: ev.availableAt! };
            }),
          },
          tx,
        );
        if (marketingObjections.length) {
          const written = await repo.recordObjections(
            marketingObjections.map((purposeKey) => ({
              id: crypto.randomUUID(),
              tenantId,
              subjectId,
              purposeKey,
              scope: 'direct_marketing' as const,
              status: 'upheld' as const,
              occurredAt,
              decidedAt: now,
            })),
            tx,
          );
          await outbox.insert(written.map((o) => objectedEvent(tenantId, o, now)), tx);
        }
        return { events: rows.map((r) => toEvent(r, key)) };
      });
    },

    /** Events recorded earlier, presented again (an idempotent replay keeps ids only, never the decrypted evidence). */
    async recorded(tenantId: string, subjectId: string, eventIds: string[]): Promise<{ events: ConsentEvent[] }> {
      const subject = await activeSubject(tenantId, subjectId, db, false);
      const key = subjects.dataKeyOf(subject);
      return { events: (await repo.eventsByIds(tenantId, subjectId, eventIds)).map((r) => toEvent(r, key)) };
    },

    async state(tenantId: string, subjectId: string): Promise<ConsentState> {
      const rows = await repo.subjectState(tenantId, subjectId);
      if (!rows) throw new SubjectNotFound();
      return {
        subject_id: subjectId,
        purposes: rows.map((r) => ({
          purpose: r.purposeKey,
          status: r.status,
          since: r.since.toISOString(),
          purpose_version: r.purposeVersion,
          event_id: r.eventId,
        })),
      };
    },

    async history(tenantId: string, subjectId: string, page: { limit: number; cursor?: string }) {
      const subject = await activeSubject(tenantId, subjectId, db, false);
      const [afterSeq] = decodeCursor('consent-history', page.cursor, ['seq'] as const) ?? [0];
      const rows = await repo.events(tenantId, subjectId, { afterSeq: afterSeq!, limit: page.limit + 1 });
      const items = rows.slice(0, page.limit);
      const key = subjects.dataKeyOf(subject);
      return {
        items: items.map((r) => toEvent(r, key)),
        next_cursor: rows.length > page.limit ? encodeCursor('consent-history', [items.at(-1)!.seq]) : null,
      };
    },

    /** Recomputes the whole chain from the stored rows and compares its tip with the head kept on the subject. */
    async verify(tenantId: string, subjectId: string): Promise<VerifyResult> {
      const subject = await subjectsRepo.find(tenantId, subjectId);
      if (!subject) {
        // A purged subject (Art. 5(1)(e)): its chain is gone by design, which is neither valid nor broken.
        const purge = await purges.find(tenantId, subjectId);
        if (!purge) throw new SubjectNotFound();
        return {
          subject_id: subjectId,
          status: 'purged',
          valid: false,
          events_checked: 0,
          first_invalid: null,
          purged: {
            erased_at: purge.erasedAt.toISOString(),
            purged_at: purge.purgedAt.toISOString(),
            ledger_seq: purge.ledgerSeq,
            ledger_head: purge.ledgerHead,
          },
        };
      }
      let tip: { seq: number; hash: string | null } = { seq: 0, hash: null };
      let checked = 0;
      let broken: ChainBreak | null = null;
      let lastId: string | null = null;
      for (;;) {
        const rows = await repo.events(tenantId, subjectId, { afterSeq: tip.seq, limit: VERIFY_BATCH });
        if (rows.length === 0) break;
        const run = verifyRun(rows, tip);
        if (!run.ok) {
          broken = run.broken;
          checked += rows.findIndex((r) => r.id === run.broken.event_id) + 1;
          break;
        }
        checked += rows.length;
        lastId = rows.at(-1)!.id;
        tip = { seq: run.seq, hash: run.hash };
      }
      // The tip is not the head kept on the subject: events were removed at the end (or every one of them, and then
      // there is no event to name).
      const headMissed = !broken && (tip.seq !== subject.ledgerSeq || tip.hash !== subject.ledgerHead);
      if (headMissed && lastId) broken = { event_id: lastId, seq: tip.seq, reason: 'head_mismatch' };
      const ok = broken === null && !headMissed;
      return { subject_id: subjectId, status: ok ? 'valid' : 'broken', valid: ok, events_checked: checked, first_invalid: broken, purged: null };
    },

    /**
     * Records an objection. direct_marketing without purposes: Art. 21(2)-(3), every direct-marketing purpose, at
     * once (the flag on the subject). direct_marketing with purposes: those purposes, at once. processing with
     * purposes: Art. 21(1), pending until the controller decides (decideObjections), except on a direct-marketing
     * purpose, where any objection is absolute. automated_decisions: the Art. 22 flag. The first record is kept.
     */
    async object(
      tenantId: string,
      subjectId: string,
      input: ObjectionInput & { requestId?: string },
      outer: Tx = db,
    ): Promise<{ created: boolean; subject: Subject; objections: Objection[] }> {
      const now = clock();
      const when = pastInstant('occurred_at', input.occurred_at, now);
      const keys = [...new Set(input.purposes ?? [])];
      if (input.scope === 'processing' && keys.length === 0) {
        throw new ValidationFailed([{ field: 'purposes', message: 'an objection to processing names the purposes it is about (Art. 21(1))' }]);
      }
      if (input.scope === 'automated_decisions' && keys.length > 0) {
        throw new ValidationFailed([{ field: 'purposes', message: 'an objection to automated decisions covers every such purpose; name none' }]);
      }
      return inTransaction(outer, async (tx) => {
        const row = await activeSubject(tenantId, subjectId, tx, true);
        // How the objection was made, as provable as a grant (Art. 21, 7(1) by analogy): sealed under the subject's key.
        const key = input.evidence ? subjects.dataKeyOf(row) : null;
        const proofOf = (aad: string) => (input.evidence && key ? seal(key, Buffer.from(JSON.stringify(input.evidence)), aad) : null);
        if (keys.length === 0) {
          const dm = input.scope === 'direct_marketing';
          const already = dm ? row.marketingObjection : row.automatedDecisionObjection;
          if (already) return { created: false, subject: await subjects.present(tenantId, row, tx), objections: [] };
          const updated = await subjectsRepo.setFlags(
            tenantId,
            subjectId,
            dm
              ? { marketingObjection: true, marketingObjectionAt: when, marketingObjectionSource: input.source ?? null, marketingObjectionEvidenceSealed: proofOf(flagProofAad(subjectId, 'direct_marketing')) }
              : {
                  automatedDecisionObjection: true,
                  automatedDecisionObjectionAt: when,
                  automatedDecisionObjectionSource: input.source ?? null,
                  automatedDecisionObjectionEvidenceSealed: proofOf(flagProofAad(subjectId, 'automated_decisions')),
                },
            tx,
          );
          await outbox.insert([eventRow(tenantId, 'subject.objected', { subject_id: subjectId, scope: input.scope, purpose: null, status: 'upheld', occurred_at: when.toISOString() }, now)], tx);
          return { created: true, subject: await subjects.present(tenantId, updated, tx), objections: [] };
        }
        const rows = [];
        for (const [i, key] of keys.entries()) {
          const p = await purposes.find(tenantId, key, tx);
          if (!p) throw new UnknownPurpose(`purposes.${i}: no purpose with the key "${key}" in the register`);
          if (p.directMarketing) {
            // Art. 21(3): an objection to direct marketing is upheld at once, whatever the scope it was sent with.
            rows.push({ purposeKey: key, scope: 'direct_marketing' as const, status: 'upheld' as const, decidedAt: now });
          } else if (input.scope === 'direct_marketing') {
            throw new ObjectionNotApplicable(`purposes.${i}: "${key}" is not a direct-marketing purpose; object to it with scope processing (Art. 21(1))`);
          } else if (!OBJECTABLE_BASES.has(p.legalBasis)) {
            throw new ObjectionNotApplicable(
              `purposes.${i}: "${key}" rests on ${p.legalBasis}; Art. 21(1) covers processing on legitimate interests or public task${p.legalBasis === 'consent' ? ' (withdraw the consent instead, Art. 7(3))' : ''}`,
            );
          } else rows.push({ purposeKey: key, scope: 'processing' as const, status: 'pending' as const, decidedAt: null });
        }
        const written = await repo.recordObjections(
          rows.map((r) => {
            const id = crypto.randomUUID();
            return { ...r, id, tenantId, subjectId, requestId: input.requestId ?? null, occurredAt: when, source: input.source ?? null, evidenceSealed: proofOf(objectionProofAad(id)) };
          }),
          tx,
        );
        await outbox.insert(written.map((o) => objectedEvent(tenantId, o, now)), tx);
        return { created: written.length > 0, subject: await subjects.present(tenantId, row, tx), objections: written.map((o) => presentObjection(o, key)) };
      });
    },

    /** The controller's decision on the Art. 21(1) objections a rights request carries: upheld (those purposes stop
     * for the person) or refused (compelling legitimate grounds, given with reasons on the request); withdrawn when
     * the person withdraws the request. */
    async decideObjections(tenantId: string, requestId: string, decision: 'upheld' | 'refused' | 'withdrawn', outer: Tx = db): Promise<Objection[]> {
      const now = clock();
      return inTransaction(outer, async (tx) => {
        const decided = await repo.decideObjections(tenantId, requestId, decision, now, tx);
        await outbox.insert(decided.map((o) => objectedEvent(tenantId, o, now)), tx);
        return decided.map((o) => presentObjection(o));
      });
    },

    refusedMarketing: (tenantId: string, subjectId: string, tx: Tx) => repo.refusedMarketing(tenantId, subjectId, tx),
    suppress: (tenantId: string, subjectId: string, requestId: string, tx: Tx) => repo.suppress(tenantId, subjectId, requestId, tx),

    /** The objections a rights request carries. */
    async objectionsOfRequest(tenantId: string, requestId: string, tx: Tx = db): Promise<Objection[]> {
      return (await repo.objectionsOfRequest(tenantId, requestId, tx)).map((o) => presentObjection(o));
    },

    /** The subject's objections to single purposes (the objection to all direct marketing is the subject's flag). */
    async objections(tenantId: string, subjectId: string): Promise<ObjectionList> {
      const row = await activeSubject(tenantId, subjectId, db, false);
      const key = subjects.dataKeyOf(row);
      const proof = (on: boolean, source: string | null, sealed: Buffer | null, aad: string) =>
        on ? { source: (source as Objection['source']) ?? null, evidence: sealed && key ? JSON.parse(open(key, sealed, aad).toString('utf8')) : null } : null;
      return {
        subject_id: subjectId,
        marketing_objection: row.marketingObjection,
        marketing_objection_proof: proof(row.marketingObjection, row.marketingObjectionSource, row.marketingObjectionEvidenceSealed, flagProofAad(subjectId, 'direct_marketing')),
        automated_decision_objection: row.automatedDecisionObjection,
        automated_decision_objection_proof: proof(
          row.automatedDecisionObjection,
          row.automatedDecisionObjectionSource,
          row.automatedDecisionObjectionEvidenceSealed,
          flagProofAad(subjectId, 'automated_decisions'),
        ),
        items: (await repo.objectionsOf(tenantId, subjectId)).map((o) => presentObjection(o, key)),
      };
    },

    /** Records the facts of a soft opt-in (ePrivacy Art. 13(2)) for a direct-marketing purpose on another basis
     * than consent: an existing customer, the controller's own similar products, an opt-out offered at collection. */
    async recordSoftOptIn(tenantId: string, subjectId: string, input: SoftOptInInput): Promise<SoftOptIn> {
      const now = clock();
      const collectedAt = pastInstant('collected_at', input.collected_at, now);
      const row = await activeSubject(tenantId, subjectId, db, false);
      if (row.status === 'erased') throw new SubjectErased();
      const p = await purposes.find(tenantId, input.purpose);
      if (!p) throw new UnknownPurpose(`purpose: no purpose with the key "${input.purpose}" in the register`);
      if (!p.directMarketing || p.legalBasis === 'consent') {
        throw new ConsentNotApplicable(`purpose: a soft opt-in applies to direct marketing on a basis other than consent; "${p.key}" is ${p.directMarketing ? 'consent-based: record a grant' : 'not direct marketing'}`);
      }
      const saved = await repo.recordSoftOptIn({ tenantId, subjectId, purposeKey: p.key, relationshipRef: input.relationship_ref, collectedAt });
      return {
        subject_id: subjectId,
        purpose: saved.purposeKey,
        relationship_ref: saved.relationshipRef,
        collected_at: saved.collectedAt.toISOString(),
        recorded_at: saved.recordedAt.toISOString(),
      };
    },

    /** The campaign hot path: one query for every identifier, answered in the order asked. */
    async check(ctx: TenantContext, purposeKey: string, identifiers: IdentifierInput[]): Promise<CheckResult> {
      const found = await purposes.find(ctx.id, purposeKey);
      if (!found) throw new PurposeNotFound(purposeKey);
      const purpose = { ...found, electronicMail: found.channels.some((c) => ELECTRONIC_MAIL.has(c)) };
      const types: string[] = [];
      const hexes: string[] = [];
      const position: number[] = []; // query ordinal (1-based) → index asked
      identifiers.forEach((id, i) => {
        const n = normaliseIdentifier(id.type, id.value);
        if (!n.ok) return; // cannot belong to anyone: unknown_subject
        types.push(id.type);
        hexes.push(blindIndex(ctx.indexKey, id.type, n.value).toString('hex'));
        position.push(i);
      });
      const results: CheckResult['results'] = identifiers.map(() => ({ allowed: false, reason: 'unknown_subject' as const, subject_id: null }));
      const rows = types.length ? await repo.check(ctx.id, purposeKey, types, hexes) : [];
      // Art. 21(3) after erasure: identifiers of erased people who refused direct marketing stay suppressed from it.
      const suppressed = purpose.directMarketing && types.length ? new Map((await repo.suppressed(ctx.id, types, hexes)).map((s) => [s.ord, s.since])) : new Map<number, Date>();
      for (const [ord] of suppressed) results[position[ord - 1]!] = { allowed: false, reason: 'suppressed', subject_id: null };
      for (const r of rows) {
        const i = position[r.ord - 1]!;
        if (r.status === 'erased') continue;
        const since = suppressed.get(r.ord);
        // Re-imported after erasure: suppressed until a grant recorded after the suppression (a fresh opt-in).
        if (since && !(r.consent === 'granted' && r.consent_changed_ms !== null && r.consent_changed_ms > since.getTime())) {
          results[i] = { allowed: false, reason: 'suppressed', subject_id: r.subject_id };
          continue;
        }
        results[i] = { ...decide(purpose, r), subject_id: r.subject_id };
      }
      return { purpose: purpose.key, purpose_version: purpose.version, results };
    },
  };
}
export type ConsentsService = ReturnType<typeof createConsentsService>;

type CheckPurpose = { legalBasis: string; directMarketing: boolean; automatedDecisions: boolean; electronicMail: boolean; reconsentFromVersion: number | null };
type Decision = { allowed: boolean; reason: CheckResult['results'][number]['reason'] };

/** One person's answer for one purpose, in the order the law ranks the reasons (README, "The campaign check"). */
function decide(p: CheckPurpose, r: CheckRow): Decision {
  // Art. 17: while an erasure request is open, the person is not contacted; the data may be gone any day.
  if (r.erasure_pending) return { allowed: false, reason: 'erasure_pending' };
  // Art. 18: restricted data is only stored.
  if (r.restricted) return { allowed: false, reason: 'restricted' };
  // Art. 21(2)-(3) absolute for direct marketing; Art. 21(1) once upheld; Art. 22 for automated decisions.
  if ((p.directMarketing && r.marketing_objection) || (p.automatedDecisions && r.automated_decision_objection) || r.purpose_objection) {
    return { allowed: false, reason: 'objected' };
  }
  if (r.consent === 'granted') {
    // A version marked as needing fresh consent voids grants given for earlier versions (Art. 7, EDPB 05/2020).
    if (p.reconsentFromVersion !== null && (r.consent_version ?? 0) < p.reconsentFromVersion) return { allowed: false, reason: 'reconsent_needed' };
    if (p.legalBasis === 'consent') return { allowed: true, reason: 'consent_granted' };
  }
  if (p.legalBasis === 'consent') return { allowed: false, reason: r.consent === 'withdrawn' ? 'consent_withdrawn' : 'no_consent' };
  // Purpose limitation (Art. 5(1)(b)): data given to exercise a right is not used for anything else.
  if (r.origin === 'rights_request') return { allowed: false, reason: 'request_only' };
  // ePrivacy Art. 13(2): email and SMS marketing without consent only on a recorded soft opt-in.
  if (p.directMarketing && p.electronicMail && !r.soft_opt_in) return { allowed: false, reason: 'no_consent' };
  return { allowed: true, reason: 'legal_basis' };
}
