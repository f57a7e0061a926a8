import { isDeepStrictEqual } from 'node:util';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { ValidationFailed, type FieldProblem } from '../../lib/errors.js';
import { LegalBasisFixed, PurposeExists, PurposeNotFound } from './purposes.errors.js';
import type { PurposeContent, PurposeRow, PurposeVersionRow, PurposesRepo } from './purposes.repo.js';
import { CHANNELS, type CreatePurpose, type Purpose, type UpdatePurpose } from './purposes.schemas.js';
import type { PurposeTranslations } from './purposes.table.js';

export function toPurpose(row: PurposeRow | PurposeVersionRow): Purpose {
  return {
    key: row.key,
    version: row.version,
    legal_basis: row.legalBasis as Purpose['legal_basis'],
    direct_marketing: row.directMarketing,
    automated_decisions: row.automatedDecisions,
    data_categories: row.dataCategories,
    retention: row.retention,
    recipients: row.recipients,
    channels: row.channels as Purpose['channels'],
    transfers: row.transfers as Purpose['transfers'],
    provision_requirement: row.provisionRequirement as Purpose['provision_requirement'],
    data_source: row.dataSource as Purpose['data_source'],
    automated_decision_exception: row.automatedDecisionException as Purpose['automated_decision_exception'],
    translations: row.translations,
    requires_reconsent: row.requiresReconsent,
    reconsent_from_version: row.reconsentFromVersion,
    created_at: ('updatedAt' in row ? row.updatedAt : row.createdAt).toISOString(),
  };
}

/** Everything a version says; `requiresReconsent` is a property of the publication, not of the content. */
type Content = Required<Omit<PurposeContent, 'requiresReconsent'>>;

function contentOf(row: PurposeRow): Content {
  return {
    legalBasis: row.legalBasis,
    directMarketing: row.directMarketing,
    automatedDecisions: row.automatedDecisions,
    dataCategories: row.dataCategories,
    retention: row.retention,
    recipients: row.recipients,
    channels: row.channels,
    transfers: row.transfers,
    provisionRequirement: row.provisionRequirement,
    dataSource: row.dataSource,
    automatedDecisionException: row.automatedDecisionException,
    translations: row.translations,
  };
}

/** Channels are a set: kept in the catalogue's order, so sending them in another order changes nothing. */
function canonicalChannels(channels: string[]): string[] {
  return [...channels].sort((a, b) => CHANNELS.indexOf(a as never) - CHANNELS.indexOf(b as never));
}

type TextField = keyof Omit<PurposeTranslations[string], 'title' | 'description'>;

/**
 * The rules that tie the fields of one version together, checked on the content a version would publish. Each
 * names the field at fault: every locale must carry the texts the notice needs, since each person reads one.
 */
export function contentProblems(c: Content): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const locales = Object.keys(c.translations).sort();
  const needText = (field: TextField, required: boolean, requiredWhy: string, refusedWhy: string | null) => {
    for (const l of locales) {
      const has = c.translations[l]![field] !== undefined;
      if (required && !has) problems.push({ field: `translations.${l}.${field}`, message: requiredWhy });
      if (!required && has && refusedWhy) problems.push({ field: `translations.${l}.${field}`, message: refusedWhy });
    }
  };
  // Art. 13(1)(d), 14(2)(b): the interests pursued are part of the notice of every purpose on legitimate interests.
  needText(
    'legitimate_interests',
    c.legalBasis === 'legitimate_interests',
    'is required in every locale of a purpose on legitimate interests: state the interests pursued (Art. 13(1)(d))',
    'is only for purposes whose legal basis is legitimate_interests',
  );
  // Art. 22(2), 13(2)(f); WP251: the exception relied on, and meaningful information about the logic.
  if (c.automatedDecisions && c.automatedDecisionException === null) {
    problems.push({ field: 'automated_decision_exception', message: 'is required when automated_decisions is true: contract, law or explicit_consent (Art. 22(2)(a)-(c))' });
  }
  if (!c.automatedDecisions && c.automatedDecisionException !== null) {
    problems.push({ field: 'automated_decision_exception', message: 'must be null when automated_decisions is false' });
  }
  needText(
    'automated_decision_logic',
    c.automatedDecisions,
    'is required in every locale when automated_decisions is true: meaningful information about the logic involved and its consequences (Art. 13(2)(f))',
    'is only for purposes with automated_decisions true',
  );
  // Art. 13(2)(e): whether providing the data is required "as well as the possible consequences" of not providing it.
  const required = c.provisionRequirement !== null && c.provisionRequirement !== 'none';
  needText(
    'provision_consequences',
    required,
    'is required in every locale when provision_requirement is statutory, contractual or contract_prerequisite: the consequences of not providing the data (Art. 13(2)(e))',
    null,
  );
  // Art. 14(2)(f): from which source the data originates, and whether from publicly accessible sources.
  needText(
    'source_detail',
    c.dataSource === 'third_party' || c.dataSource === 'public_source',
    'is required in every locale when data_source is third_party or public_source: name the source (Art. 14(2)(f))',
    null,
  );
  return problems;
}

function check(c: Content): void {
  const problems = contentProblems(c);
  if (problems.length) throw new ValidationFailed(problems);
}

export function createPurposesService(deps: { db: Db; repo: PurposesRepo }) {
  const { db, repo } = deps;
  return {
    async create(tenantId: string, input: CreatePurpose, outer: Tx = db): Promise<Purpose> {
      const content: Content = {
        legalBasis: input.legal_basis,
        directMarketing: input.direct_marketing,
        automatedDecisions: input.automated_decisions,
        dataCategories: input.data_categories,
        retention: input.retention,
        recipients: input.recipients,
        channels: canonicalChannels(input.channels),
        transfers: input.transfers,
        provisionRequirement: input.provision_requirement,
        dataSource: input.data_source,
        automatedDecisionException: input.automated_decision_exception,
        translations: input.translations,
      };
      check(content);
      const row = await inTransaction(outer, (tx) => repo.insert(tenantId, input.key, { ...content, requiresReconsent: false }, tx));
      if (!row) throw new PurposeExists(input.key);
      return toPurpose(row);
    },

    async get(tenantId: string, key: string): Promise<Purpose> {
      const row = await repo.find(tenantId, key);
      if (!row) throw new PurposeNotFound(key);
      return toPurpose(row);
    },

    async list(tenantId: string, page: { limit: number; cursor?: string }) {
      const [after] = decodeCursor('purposes', page.cursor, ['key'] as const) ?? [undefined];
      const rows = await repo.list(tenantId, { after, limit: page.limit + 1 });
      const items = rows.slice(0, page.limit);
      const more = rows.length > page.limit;
      return { items: items.map(toPurpose), next_cursor: more ? encodeCursor('purposes', [items.at(-1)!.key]) : null };
    },

    /**
     * A change of any content publishes a new version; a PATCH that changes nothing keeps the version. The legal
     * basis never changes (EDPB Guidelines 05/2020). `requires_reconsent` publishes a version flagged so, even
     * without other change, unless the current version already is one (so a retried PATCH does not invalidate the
     * consents given in between).
     */
    async update(tenantId: string, key: string, patch: UpdatePurpose): Promise<Purpose> {
      return db.transaction(async (tx) => {
        const current = await repo.findForUpdate(tenantId, key, tx);
        if (!current) throw new PurposeNotFound(key);
        if (patch.legal_basis !== undefined && patch.legal_basis !== current.legalBasis) throw new LegalBasisFixed(key, current.legalBasis);
        const reconsent = patch.requires_reconsent === true;
        // Art. 7: only consent can be asked for again; other bases do not rest on what the person agreed to.
        if (reconsent && current.legalBasis !== 'consent') {
          throw new ValidationFailed([{ field: 'requires_reconsent', message: 'applies only to purposes whose legal basis is consent' }]);
        }
        const before = contentOf(current);
        const after: Content = {
          legalBasis: before.legalBasis,
          directMarketing: patch.direct_marketing ?? before.directMarketing,
          automatedDecisions: patch.automated_decisions ?? before.automatedDecisions,
          dataCategories: patch.data_categories ?? before.dataCategories,
          retention: patch.retention ?? before.retention,
          recipients: patch.recipients ?? before.recipients,
          channels: patch.channels ? canonicalChannels(patch.channels) : before.channels,
          transfers: patch.transfers ?? before.transfers,
          provisionRequirement: patch.provision_requirement !== undefined ? patch.provision_requirement : before.provisionRequirement,
          dataSource: patch.data_source !== undefined ? patch.data_source : before.dataSource,
          automatedDecisionException:
            patch.automated_decision_exception !== undefined ? patch.automated_decision_exception : before.automatedDecisionException,
          translations: patch.translations ?? before.translations,
        };
        const changed = !isDeepStrictEqual(before, after);
        if (!changed && (!reconsent || current.requiresReconsent)) return toPurpose(current);
        check(after);
        return toPurpose(await repo.publishVersion(tenantId, key, current.version + 1, { ...after, requiresReconsent: reconsent }, tx));
      });
    },

    async versions(tenantId: string, key: string, page: { limit: number; cursor?: string }) {
      const [before] = decodeCursor('purpose-versions', page.cursor, ['seq'] as const) ?? [undefined];
      const rows = await repo.versions(tenantId, key, { before, limit: page.limit + 1 });
      if (rows.length === 0 && before === undefined) throw new PurposeNotFound(key);
      const items = rows.slice(0, page.limit);
      const more = rows.length > page.limit;
      return { items: items.map(toPurpose), next_cursor: more ? encodeCursor('purpose-versions', [items.at(-1)!.version]) : null };
    },
  };
}
export type PurposesService = ReturnType<typeof createPurposesService>;
