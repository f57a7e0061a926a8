// The right to information (Arts. 13/14): the register of purposes rendered for one locale.
import type { PurposesRepo } from '../purposes/purposes.repo.js';
import type { TenantsService } from '../tenants/tenants.service.js';
import type { PrivacyNotice } from './privacy-notice.schemas.js';

const RIGHTS = [
  { right: 'access', article: 'Art. 15' },
  { right: 'rectification', article: 'Art. 16' },
  { right: 'erasure', article: 'Art. 17' },
  { right: 'restriction', article: 'Art. 18' },
  { right: 'portability', article: 'Art. 20' },
  { right: 'objection', article: 'Art. 21' },
  { right: 'automated_decision', article: 'Art. 22' },
  { right: 'withdraw_consent', article: 'Art. 7(3)' },
  { right: 'complaint', article: 'Art. 77' },
];

export function createPrivacyNoticeService(deps: { purposes: PurposesRepo; tenants: TenantsService }) {
  return {
    async render(tenantId: string, locale: string | undefined): Promise<PrivacyNotice> {
      const tenant = await deps.tenants.get(tenantId);
      const wanted = locale ?? tenant.default_locale;
      const rows = await deps.purposes.listAll(tenantId);
      return {
        controller: tenant.name,
        locale: wanted,
        purposes: rows.map((p) => {
          const language = wanted.split('-')[0]!;
          const chosen =
            [wanted, language, tenant.default_locale].find((l) => p.translations[l]) ?? Object.keys(p.translations).sort()[0]!;
          const text = p.translations[chosen]!;
          return {
            key: p.key,
            version: p.version,
            locale: chosen,
            title: text.title,
            description: text.description,
            legal_basis: p.legalBasis as PrivacyNotice['purposes'][number]['legal_basis'],
            direct_marketing: p.directMarketing,
            automated_decisions: p.automatedDecisions,
            data_categories: p.dataCategories,
            retention: p.retention,
            recipients: p.recipients,
            withdrawable: p.legalBasis === 'consent',
            objectable: p.directMarketing || p.legalBasis === 'legitimate_interests' || p.legalBasis === 'public_task',
          };
        }),
        rights: RIGHTS,
      };
    },
  };
}
export type PrivacyNoticeService = ReturnType<typeof createPrivacyNoticeService>;
