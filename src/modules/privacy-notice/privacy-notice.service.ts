// The right to information (Arts. 13/14): the register of purposes and the controller's settings rendered for one
// locale, with what the law requires and the register lacks listed in `missing`.
import { countryName } from '../purposes/purposes.countries.js';
import type { PurposeRow, PurposesRepo } from '../purposes/purposes.repo.js';
import type {
  AutomatedDecisionException,
  Channel,
  DataSource,
  LegalBasis,
  ProvisionRequirement,
  TransferSafeguard,
} from '../purposes/purposes.schemas.js';
import type { TenantsService } from '../tenants/tenants.service.js';
import type { NoticeMissing, PrivacyNotice } from './privacy-notice.schemas.js';
import { NOTICE_TEXTS, noticeLocale, RIGHT_ARTICLES, RIGHTS, type NoticeTexts } from './privacy-notice.texts.js';

type NoticePurpose = PrivacyNotice['purposes'][number];

/** The purpose's locale: the one asked for, its language, the tenant's default, else the first it has. */
function chooseLocale(p: PurposeRow, wanted: string, fallback: string): string {
  const language = wanted.split('-')[0]!;
  return [wanted, language, fallback].find((l) => p.translations[l]) ?? Object.keys(p.translations).sort()[0]!;
}

function renderPurpose(p: PurposeRow, wanted: string, fallback: string, T: NoticeTexts, regionLocales: string[], missing: NoticeMissing[]): NoticePurpose {
  const locale = chooseLocale(p, wanted, fallback);
  const text = p.translations[locale]!;
  const gap = (field: string, article: string) => missing.push({ item: `purposes.${p.key}.${field}`, article });
  const basis = p.legalBasis as LegalBasis;
  const fromElsewhere = p.dataSource === 'third_party' || p.dataSource === 'public_source';

  // Rules the register enforces on new versions; a purpose published before them may still lack what they ask.
  if (basis === 'legitimate_interests' && !text.legitimate_interests) gap('legitimate_interests', 'Art. 13(1)(d)');
  if (p.automatedDecisions && !p.automatedDecisionException) gap('automated_decision_exception', 'Art. 22(2)');
  if (p.automatedDecisions && !text.automated_decision_logic) gap('automated_decision_logic', 'Art. 13(2)(f)');
  // Art. 13(2)(e) concerns data collected from the person; Art. 14 asks instead for the source and the categories.
  if (!fromElsewhere && p.provisionRequirement === null) gap('provision_requirement', 'Art. 13(2)(e)');
  if (p.provisionRequirement && p.provisionRequirement !== 'none' && !text.provision_consequences) gap('provision_consequences', 'Art. 13(2)(e)');
  if (fromElsewhere && !text.source_detail) gap('source_detail', 'Art. 14(2)(f)');
  if (fromElsewhere && p.dataCategories.length === 0) gap('data_categories', 'Art. 14(1)(d)');

  const requirement = p.provisionRequirement as ProvisionRequirement | null;
  const source = p.dataSource as DataSource | null;
  const exception = p.automatedDecisionException as AutomatedDecisionException | null;
  return {
    key: p.key,
    version: p.version,
    locale,
    title: text.title,
    description: text.description,
    legal_basis: basis,
    legal_basis_text: T.legalBases[basis],
    legitimate_interests: basis === 'legitimate_interests' ? (text.legitimate_interests ?? null) : null,
    direct_marketing: p.directMarketing,
    automated_decisions: p.automatedDecisions,
    data_categories: p.dataCategories,
    retention: p.retention,
    recipients: p.recipients,
    channels: p.channels as Channel[],
    transfers: p.transfers.map((t) => ({
      country: t.country,
      country_name: countryName(t.country, regionLocales),
      safeguard: t.safeguard as TransferSafeguard,
      safeguard_text: T.safeguards[t.safeguard as TransferSafeguard] ?? t.safeguard,
    })),
    provision: requirement ? { requirement, text: T.provision[requirement], consequences: text.provision_consequences ?? null } : null,
    source: source ? { type: source, text: T.sources[source], detail: text.source_detail ?? null } : null,
    automated_decision: p.automatedDecisions
      ? { exception, exception_text: exception ? T.exceptions[exception] : null, logic: text.automated_decision_logic ?? null }
      : null,
    withdrawable: basis === 'consent',
    objectable: p.directMarketing || basis === 'legitimate_interests' || basis === 'public_task',
  };
}

export function createPrivacyNoticeService(deps: { purposes: PurposesRepo; tenants: TenantsService }) {
  return {
    /** The notice in `locale` (else the tenant's default); each purpose falls back on its own, and says which it used. */
    async render(tenantId: string, locale: string | undefined): Promise<PrivacyNotice> {
      const tenant = await deps.tenants.get(tenantId);
      const wanted = locale ?? tenant.default_locale;
      const textsLocale = noticeLocale([wanted, tenant.default_locale]);
      const T = NOTICE_TEXTS[textsLocale]!;
      const rows = await deps.purposes.listAll(tenantId);

      const missing: NoticeMissing[] = [];
      if (!tenant.controller_contact) missing.push({ item: 'controller_contact', article: 'Art. 13(1)(a)' });
      // Required where a DPO is designated (Art. 37); listed so the gap is a decision, not an oversight.
      if (!tenant.dpo_contact) missing.push({ item: 'dpo_contact', article: 'Art. 13(1)(b)' });
      if (!tenant.supervisory_authority) missing.push({ item: 'supervisory_authority', article: 'Art. 13(2)(d)' });
      const purposes = rows.map((p) => renderPurpose(p, wanted, tenant.default_locale, T, [wanted, textsLocale], missing));

      const authority = tenant.supervisory_authority;
      return {
        controller: tenant.name,
        controller_contact: tenant.controller_contact,
        dpo_contact: tenant.dpo_contact,
        locale: wanted,
        texts_locale: textsLocale,
        headings: T.headings,
        purposes,
        transfers_note: T.safeguardsCopy,
        rights: RIGHTS.map((right) => ({
          right,
          article: RIGHT_ARTICLES[right],
          title: T.rights[right].title,
          text:
            right === 'complaint' && authority
              ? `${T.rights.complaint.text} ${T.competentAuthority(authority.name, authority.url)}`
              : T.rights[right].text,
        })),
        right_to_object: {
          article: 'Art. 21',
          title: T.objection.title,
          text: T.objection.general,
          direct_marketing_text: T.objection.directMarketing,
          purposes: purposes.filter((p) => p.objectable).map((p) => p.key),
        },
        supervisory_authority: authority,
        missing,
      };
    },
  };
}
export type PrivacyNoticeService = ReturnType<typeof createPrivacyNoticeService>;
