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
import type { TenantContext } from '../tenants/tenants.service.js';
import { eventRow } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import { ConsentNotApplicable, SubjectErased, UnknownPurpose, UnknownPurposeVersion } from './consents.errors.js';
import { chainHash, verifyRun, type ChainBreak } from './consents.ledger.js';
import type { ConsentEventRow, ConsentsRepo } from './consents.repo.js';
import type { CheckResult, ConsentEvent, ConsentState, RecordConsents } from './consents.schemas.js';

const VERIFY_BATCH = 1000;

/** ISO 8601 as the hash chain prints it; years before 1 AD print with a sign (-000001-…), as toISOString does. */
const isoOrRaw = (d: Date) => (Number.isFinite(d.getTime()) ? d.toISOString() : 'invalid');

const evidenceAad = (eventId: string) => `consent-evidence:${eventId}`;

export function createConsentsService(deps: {
  db: Db;
  repo: ConsentsRepo;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  purposes: PurposesRepo;
  outbox: OutboxRepo;
  clock?: () => Date;
}) {
  const { db, repo, subjectsRepo, subjects, purposes, outbox } = deps;
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
        input.decisions.forEach((d, i) => {
          const p = found.get(d.purpose)!;
          if (d.action === 'grant' && p.legalBasis !== 'consent') {
            throw new ConsentNotApplicable(
              `decisions.${i}: the purpose "${p.key}" rests on ${p.legalBasis}, not consent, so consent cannot be granted for it (an objection is the way to stop such processing)`,
            );
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
    async verify(tenantId: string, subjectId: string) {
      const subject = await activeSubject(tenantId, subjectId, db, false);
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
      if (!broken && (tip.seq !== subject.ledgerSeq || tip.hash !== subject.ledgerHead) && lastId) {
        broken = { event_id: lastId, seq: tip.seq, reason: 'head_mismatch' };
      }
      return { subject_id: subjectId, valid: broken === null, events_checked: checked, first_invalid: broken };
    },

    async object(
      tenantId: string,
      subjectId: string,
      scope: 'direct_marketing' | 'automated_decisions',
      at: string | undefined,
      outer: Tx = db,
    ): Promise<{ created: boolean; subject: Subject }> {
      const when = pastInstant('occurred_at', at, clock());
      return inTransaction(outer, async (tx) => {
        const row = await activeSubject(tenantId, subjectId, tx, true);
        const already = scope === 'direct_marketing' ? row.marketingObjection : row.automatedDecisionObjection;
        if (already) return { created: false, subject: await subjects.present(tenantId, row, tx) };
        const updated = await subjectsRepo.setFlags(
          tenantId,
          subjectId,
          scope === 'direct_marketing'
            ? { marketingObjection: true, marketingObjectionAt: when }
            : { automatedDecisionObjection: true, automatedDecisionObjectionAt: when },
          tx,
        );
        await outbox.insert([eventRow(tenantId, 'subject.objected', { subject_id: subjectId, scope, occurred_at: when.toISOString() }, clock())], tx);
        return { created: true, subject: await subjects.present(tenantId, updated, tx) };
      });
    },

    /** The campaign hot path: one query for every identifier, answered in the order asked. */
    async check(ctx: TenantContext, purposeKey: string, identifiers: IdentifierInput[]): Promise<CheckResult> {
      const purpose = await purposes.find(ctx.id, purposeKey);
      if (!purpose) throw new PurposeNotFound(purposeKey);
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
      for (const r of rows) {
        const i = position[r.ord - 1]!;
        if (r.status === 'erased') continue;
        const objected =
          (purpose.directMarketing && r.marketing_objection) || (purpose.automatedDecisions && r.automated_decision_objection);
        let answer: CheckResult['results'][number];
        if (r.restricted) answer = { allowed: false, reason: 'restricted', subject_id: r.subject_id };
        else if (objected) answer = { allowed: false, reason: 'objected', subject_id: r.subject_id };
        else if (purpose.legalBasis !== 'consent') answer = { allowed: true, reason: 'legal_basis', subject_id: r.subject_id };
        else if (r.consent === 'granted') answer = { allowed: true, reason: 'consent_granted', subject_id: r.subject_id };
        else if (r.consent === 'withdrawn') answer = { allowed: false, reason: 'consent_withdrawn', subject_id: r.subject_id };
        else answer = { allowed: false, reason: 'no_consent', subject_id: r.subject_id };
        results[i] = answer;
      }
      return { purpose: purpose.key, purpose_version: purpose.version, results };
    },
  };
}
export type ConsentsService = ReturnType<typeof createConsentsService>;
