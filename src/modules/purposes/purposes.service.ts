import { isDeepStrictEqual } from 'node:util';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { PurposeExists, PurposeNotFound } from './purposes.errors.js';
import type { PurposeContent, PurposeRow, PurposeVersionRow, PurposesRepo } from './purposes.repo.js';
import type { CreatePurpose, Purpose, UpdatePurpose } from './purposes.schemas.js';

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
    translations: row.translations,
    created_at: ('updatedAt' in row ? row.updatedAt : row.createdAt).toISOString(),
  };
}

function contentOf(row: PurposeRow): PurposeContent {
  return {
    legalBasis: row.legalBasis,
    directMarketing: row.directMarketing,
    automatedDecisions: row.automatedDecisions,
    dataCategories: row.dataCategories,
    retention: row.retention,
    recipients: row.recipients,
    translations: row.translations,
  };
}

export function createPurposesService(deps: { db: Db; repo: PurposesRepo }) {
  const { db, repo } = deps;
  return {
    async create(tenantId: string, input: CreatePurpose, outer: Tx = db): Promise<Purpose> {
      const row = await inTransaction(outer, (tx) =>
        repo.insert(
          tenantId,
          input.key,
          {
            legalBasis: input.legal_basis,
            directMarketing: input.direct_marketing,
            automatedDecisions: input.automated_decisions,
            dataCategories: input.data_categories,
            retention: input.retention,
            recipients: input.recipients,
            translations: input.translations,
          },
          tx,
        ),
      );
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

    /** A change of any content publishes a new version; a PATCH that changes nothing keeps the version. */
    async update(tenantId: string, key: string, patch: UpdatePurpose): Promise<Purpose> {
      return db.transaction(async (tx) => {
        const current = await repo.findForUpdate(tenantId, key, tx);
        if (!current) throw new PurposeNotFound(key);
        const before = contentOf(current);
        const after: PurposeContent = {
          legalBasis: patch.legal_basis ?? before.legalBasis,
          directMarketing: patch.direct_marketing ?? before.directMarketing,
          automatedDecisions: patch.automated_decisions ?? before.automatedDecisions,
          dataCategories: patch.data_categories ?? before.dataCategories,
          retention: patch.retention ?? before.retention,
          recipients: patch.recipients ?? before.recipients,
          translations: patch.translations ?? before.translations,
        };
        if (isDeepStrictEqual(before, after)) return toPurpose(current);
        return toPurpose(await repo.publishVersion(tenantId, key, current.version + 1, after, tx));
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
