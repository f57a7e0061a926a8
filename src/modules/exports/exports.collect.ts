// Rightful's own part of an export: what this service itself holds about the person, decrypted. Access (Art. 15)
// gets all of it; portability (Art. 20(1)) only what the person provided, for processing based on consent or on a
// contract: their identifiers and their consents to such purposes.
import type { ConsentsService } from '../consents/consents.service.js';
import type { PurposesRepo } from '../purposes/purposes.repo.js';
import type { RightsRequestsService } from '../rights-requests/rights-requests.service.js';
import type { SubjectRow } from '../subjects/subjects.repo.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import { lazyList } from './exports.package.js';

const PAGE = 200;
/** Art. 20(1)(a): portability covers processing based on consent (Art. 6(1)(a), 9(2)(a)) or on a contract (6(1)(b)). */
const PORTABLE_BASES = new Set(['consent', 'contract']);

export type ExportKind = 'access' | 'portability';

export function createExportCollector(deps: { subjects: SubjectsService; consents: ConsentsService; rightsRequests: RightsRequestsService; purposes: PurposesRepo }) {
  const { subjects, consents, rightsRequests, purposes } = deps;

  type LedgerEvent = Awaited<ReturnType<ConsentsService['history']>>['items'][number];

  /** The person's ledger, oldest first, a page at a time: read again each time the package needs it. */
  async function* ledger(tenantId: string, subjectId: string): AsyncGenerator<LedgerEvent> {
    let cursor: string | undefined;
    do {
      const page = await consents.history(tenantId, subjectId, { limit: PAGE, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** What the person decided on these purposes, as they did it: no evidence kept by the controller about them. */
  async function decisionsOn(tenantId: string, subjectId: string, purposeKeys: Set<string>) {
    const out = [];
    for await (const e of ledger(tenantId, subjectId)) {
      if (purposeKeys.has(e.purpose)) out.push({ purpose: e.purpose, purpose_version: e.purpose_version, action: e.action, source: e.source, occurred_at: e.occurred_at });
    }
    return out;
  }

  async function requestsOf(tenantId: string, subjectId: string) {
    const out = [];
    let cursor: string | undefined;
    do {
      const page = await rightsRequests.list(tenantId, { subjectId }, { limit: PAGE, cursor });
      for (const r of page.items) {
        const trail = [];
        let after: string | undefined;
        do {
          const events = await rightsRequests.events(tenantId, r.id, { limit: PAGE, cursor: after });
          trail.push(...events.items);
          after = events.next_cursor ?? undefined;
        } while (after);
        out.push({ ...r, audit_trail: trail });
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** Each purpose the person decided on, as the register describes it at every version they were shown. */
  async function purposesShown(tenantId: string, shown: Map<string, Set<number>>) {
    const out = [];
    for (const [key, versions] of [...shown].sort(([a], [b]) => a.localeCompare(b))) {
      const rows = await purposes.versions(tenantId, key, { limit: 1000 });
      for (const v of rows.filter((r) => versions.has(r.version)).sort((a, b) => a.version - b.version)) {
        out.push({
          purpose: v.key,
          version: v.version,
          legal_basis: v.legalBasis,
          direct_marketing: v.directMarketing,
          automated_decisions: v.automatedDecisions,
          data_categories: v.dataCategories,
          retention: v.retention,
          recipients: v.recipients,
          transfers: v.transfers,
          texts: v.translations,
          published_at: v.createdAt.toISOString(),
        });
      }
    }
    return out;
  }

  return {
    /** Rightful's part, as plain JSON-ready data. */
    async collect(tenantId: string, subject: SubjectRow, kind: ExportKind): Promise<Record<string, unknown>> {
      const person = await subjects.present(tenantId, subject);
      const identifiers = { external_ref: person.external_ref, identifiers: person.identifiers ?? [] };
      const state = (await consents.state(tenantId, subject.id)).purposes;
      if (kind === 'portability') {
        const register = await purposes.listAll(tenantId);
        const portable = new Set(register.filter((p) => PORTABLE_BASES.has(p.legalBasis)).map((p) => p.key));
        return {
          identifiers,
          consents: {
            state: state.filter((s) => portable.has(s.purpose)),
            decisions: await decisionsOn(tenantId, subject.id, portable),
          },
        };
      }
      // The versions each purpose was shown at: one pass over the ledger now, which the package reads again later.
      const shown = new Map<string, Set<number>>();
      for await (const e of ledger(tenantId, subject.id)) (shown.get(e.purpose) ?? shown.set(e.purpose, new Set()).get(e.purpose)!).add(e.purpose_version);
      return {
        identifiers,
        consents: state,
        ledger: lazyList(() => ledger(tenantId, subject.id)),
        objections: await consents.objections(tenantId, subject.id),
        restriction: { restricted: person.restricted, since: subject.restrictedAt?.toISOString() ?? null },
        requests: await requestsOf(tenantId, subject.id),
        purposes: await purposesShown(tenantId, shown),
      };
    },
  };
}
export type ExportCollector = ReturnType<typeof createExportCollector>;
