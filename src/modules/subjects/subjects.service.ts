import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { blindIndex, newWrappedKey, open, seal, unwrapKey } from '../../lib/crypto.js';
import { ValidationFailed, type FieldProblem } from '../../lib/errors.js';
import { normaliseIdentifier, type IdentifierType } from '../../lib/identifiers.js';
import type { Keyring } from '../../lib/keyring.js';
import type { TenantContext } from '../tenants/tenants.service.js';
import { eventRow } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import { IdentifiersConflict, NoSubjectMatches, SubjectNotFound } from './subjects.errors.js';
import type { IndexedIdentifier, SubjectRow, SubjectsRepo } from './subjects.repo.js';
import type { CreateSubject, IdentifierInput, Subject } from './subjects.schemas.js';

export type NormalisedIdentifier = IndexedIdentifier & { value: string };

const dataKeyAad = (subjectId: string) => `subject-data-key:${subjectId}`;
const identifierAad = (subjectId: string, type: string) => `identifier:${subjectId}:${type}`;

/** Normalises and indexes identifiers; a value that cannot be normalised is a 400 naming its position. */
export function indexIdentifiers(ctx: TenantContext, input: IdentifierInput[], field = 'identifiers'): NormalisedIdentifier[] {
  const problems: FieldProblem[] = [];
  const out: NormalisedIdentifier[] = [];
  input.forEach((id, i) => {
    const n = normaliseIdentifier(id.type, id.value);
    if (!n.ok) problems.push({ field: `${field}.${i}.value`, message: `${n.reason}` });
    else out.push({ type: id.type, value: n.value, blindIndex: blindIndex(ctx.indexKey, id.type, n.value) });
  });
  if (problems.length) throw new ValidationFailed(problems);
  // The same identifier twice in one request counts once.
  const seen = new Set<string>();
  return out.filter((i) => {
    const k = `${i.type}:${i.blindIndex.toString('hex')}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function createSubjectsService(deps: { db: Db; repo: SubjectsRepo; keyring: Keyring; outbox: OutboxRepo }) {
  const { db, repo, keyring, outbox } = deps;

  function dataKeyOf(row: Pick<SubjectRow, 'id' | 'dataKeyWrapped' | 'keyId'>): Buffer | null {
    if (!row.dataKeyWrapped || !row.keyId) return null;
    return unwrapKey(keyring.all, row.keyId, row.dataKeyWrapped, dataKeyAad(row.id));
  }

  async function present(tenantId: string, row: SubjectRow, tx: Tx = db): Promise<Subject> {
    const key = dataKeyOf(row);
    const ids = key ? await repo.identifiersOf(tenantId, row.id, tx) : [];
    return {
      id: row.id,
      external_ref: row.externalRef,
      status: row.status,
      origin: row.origin,
      identifiers: ids.map((i) => ({ type: i.type as IdentifierType, value: open(key!, i.valueSealed, identifierAad(row.id, i.type)).toString('utf8') })),
      marketing_objection: row.marketingObjection,
      marketing_objection_at: row.marketingObjectionAt?.toISOString() ?? null,
      automated_decision_objection: row.automatedDecisionObjection,
      automated_decision_objection_at: row.automatedDecisionObjectionAt?.toISOString() ?? null,
      restricted: row.restricted,
      created_at: row.createdAt.toISOString(),
    };
  }

  function sealIdentifiers(tenantId: string, row: SubjectRow, key: Buffer, ids: NormalisedIdentifier[]) {
    return ids.map((i) => ({
      tenantId,
      subjectId: row.id,
      type: i.type,
      blindIndex: i.blindIndex,
      valueSealed: seal(key, Buffer.from(i.value, 'utf8'), identifierAad(row.id, i.type)),
    }));
  }

  return {
    dataKeyOf,
    present,

    /** Erases the person's data held here (see SubjectsRepo.erase); the caller holds the subject's row lock. */
    async erase(tenantId: string, id: string, at: Date, tx: Tx): Promise<void> {
      await repo.erase(tenantId, id, at, tx);
    },

    /** Finds the subject owning any of the identifiers (or the external_ref), or creates one. */
    async findOrCreate(
      ctx: TenantContext,
      input: CreateSubject,
      outer: Tx = db,
      origin: 'crm' | 'rights_request' = 'crm',
    ): Promise<{ created: boolean; subject: Subject }> {
      const ids = indexIdentifiers(ctx, input.identifiers);
      return inTransaction(outer, async (tx) => {
        const lockKeys = ids.map((i) => `${i.type}:${i.blindIndex.toString('hex')}`);
        if (input.external_ref) lockKeys.push(`ref:${input.external_ref}`);
        await repo.lockIdentifiers(ctx.id, lockKeys, tx);
        const matches = await repo.matchIdentifiers(ctx.id, ids, tx);
        const owners = new Set(matches.map((m) => m.subjectId));
        if (input.external_ref) {
          const byRef = await repo.findByExternalRef(ctx.id, input.external_ref, tx);
          if (byRef) owners.add(byRef.id);
        }
        if (owners.size > 1) throw new IdentifiersConflict();
        if (owners.size === 1) {
          const existing = (await repo.find(ctx.id, [...owners][0]!, tx))!;
          const key = dataKeyOf(existing);
          // New identifiers given with known ones join the existing subject.
          if (key) await repo.insertIdentifiers(sealIdentifiers(ctx.id, existing, key, ids), tx);
          return { created: false, subject: await present(ctx.id, existing, tx) };
        }
        const id = crypto.randomUUID();
        const { key, wrapped, keyId } = newWrappedKey(keyring.current, dataKeyAad(id));
        const row = await repo.insertSubject(
          { id, tenantId: ctx.id, externalRef: input.external_ref ?? null, dataKeyWrapped: wrapped, keyId, origin },
          tx,
        );
        await repo.insertIdentifiers(sealIdentifiers(ctx.id, row, key, ids), tx);
        await outbox.insert([eventRow(ctx.id, 'subject.created', { subject_id: row.id }, row.createdAt)], tx);
        return { created: true, subject: await present(ctx.id, row, tx) };
      });
    },

    /**
     * Art. 16: each identifier type given is replaced by its corrected value (normalised, sealed under the subject's
     * key, found through the blind index); the subject's other identifiers of that type go. Returns the problems,
     * each naming `field`: a value that cannot be normalised, or that another subject of the tenant has; nothing is
     * written then. The caller holds the subject's row lock.
     */
    async replaceIdentifiers(ctx: TenantContext, subjectId: string, corrected: { type: IdentifierType; value: string; field: string }[], tx: Tx): Promise<FieldProblem[]> {
      const row = await repo.find(ctx.id, subjectId, tx);
      const key = row ? dataKeyOf(row) : null;
      if (!row || !key) return [{ field: corrected[0]?.field ?? 'corrections', message: 'the subject is erased: there is nothing to correct' }];
      const problems: FieldProblem[] = [];
      const ids: (NormalisedIdentifier & { field: string })[] = [];
      for (const c of corrected) {
        const n = normaliseIdentifier(c.type, c.value);
        if (!n.ok) problems.push({ field: c.field, message: `${n.reason}` });
        else ids.push({ type: c.type, value: n.value, blindIndex: blindIndex(ctx.indexKey, c.type, n.value), field: c.field });
      }
      if (problems.length) return problems;
      // Serialised with findOrCreate on the same identifiers: no other subject can take one meanwhile.
      await repo.lockIdentifiers(ctx.id, ids.map((i) => `${i.type}:${i.blindIndex.toString('hex')}`), tx);
      for (const m of await repo.matchIdentifiers(ctx.id, ids, tx)) {
        if (m.subjectId === subjectId) continue;
        for (const i of ids.filter((x) => x.type === m.type)) problems.push({ field: i.field, message: `another subject of this tenant has this ${i.type}` });
      }
      if (problems.length) return problems;
      for (const i of ids) {
        await repo.deleteIdentifiersOfType(ctx.id, subjectId, i.type, tx);
        await repo.insertIdentifiers(sealIdentifiers(ctx.id, row, key, [i]), tx);
      }
      return [];
    },

    async get(tenantId: string, id: string, tx: Tx = db): Promise<Subject> {
      const row = await repo.find(tenantId, id, tx);
      if (!row) throw new SubjectNotFound();
      return present(tenantId, row, tx);
    },

    async lookup(ctx: TenantContext, identifiers: IdentifierInput[]): Promise<Subject> {
      const ids = indexIdentifiers(ctx, identifiers);
      const matches = await repo.matchIdentifiers(ctx.id, ids);
      const owners = new Set(matches.map((m) => m.subjectId));
      if (owners.size === 0) throw new NoSubjectMatches();
      if (owners.size > 1) throw new IdentifiersConflict();
      return this.get(ctx.id, [...owners][0]!);
    },
  };
}
export type SubjectsService = ReturnType<typeof createSubjectsService>;

/** The subject as a caller may see it: decrypted identifiers only for a token that holds subjects:read, so a
 * write-only token cannot read back who a subject is by sending one known identifier or reference. */
export function visibleSubject(scopes: ReadonlySet<string>, subject: Subject): Subject {
  if (scopes.has('subjects:read')) return subject;
  const { identifiers: _hidden, ...rest } = subject;
  return rest;
}
