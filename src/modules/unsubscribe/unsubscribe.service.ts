// One-click unsubscribe (RFC 8058; Art. 21(2)-(3), 7(3)): a CRM mints a link per person and purpose for the
// List-Unsubscribe header of its emails; the mail provider POSTs it when the person clicks "unsubscribe". That
// records, at once and without a login, an objection to direct marketing for the purpose and, where the purpose
// rests on consent and it is granted, the withdrawal.
import { inTransaction, type Db } from '../../db/client.js';
import { bindTenant } from '../../db/tenant-scope.js';
import { UnknownPurpose } from '../consents/consents.errors.js';
import type { ConsentsService } from '../consents/consents.service.js';
import type { PurposeRow, PurposesRepo } from '../purposes/purposes.repo.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectsRepo } from '../subjects/subjects.repo.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import { UnsubscribeLinkNotFound, UnsubscribeNotApplicable, UnsubscribeSubjectErased } from './unsubscribe.errors.js';
import { purposeLocator, type UnsubscribeTokens } from './unsubscribe.tokens.js';

const FORM_ID = 'list-unsubscribe';
export const ONE_CLICK = 'List-Unsubscribe=One-Click';

export type UnsubscribeLink = { url: string; list_unsubscribe: string; list_unsubscribe_post: typeof ONE_CLICK };

/** A purpose a click can stop: direct marketing (an objection, Art. 21(2)) or one resting on consent (Art. 7(3)). */
const applies = (p: PurposeRow) => p.directMarketing || p.legalBasis === 'consent';

export function createUnsubscribeService(deps: {
  db: Db;
  tokens: UnsubscribeTokens;
  purposes: Pick<PurposesRepo, 'find' | 'listAll'>;
  subjectsRepo: Pick<SubjectsRepo, 'find' | 'lock'>;
  tenants: Pick<TenantsRepo, 'findById'>;
  consents: ConsentsService;
  publicBaseUrl: string;
}) {
  const { db, tokens, purposes, consents } = deps;

  /** The purpose a token names, its MAC checked; 404 for anything else (forged, mangled, purpose gone). */
  async function resolve(token: string): Promise<{ tenantId: string; subjectId: string; purpose: PurposeRow }> {
    const claim = tokens.parse(token);
    if (!claim) throw new UnsubscribeLinkNotFound();
    // The link names its tenant; nothing of it is read or written before the MAC is checked below.
    bindTenant(claim.tenantId);
    const purpose = (await purposes.listAll(claim.tenantId)).find((p) => purposeLocator(p.key).equals(claim.locator));
    if (!purpose || !tokens.verify(token, purpose.key)) throw new UnsubscribeLinkNotFound();
    return { tenantId: claim.tenantId, subjectId: claim.subjectId, purpose };
  }

  return {
    async createLink(tenantId: string, subjectId: string, purposeKey: string): Promise<UnsubscribeLink> {
      const subject = await deps.subjectsRepo.find(tenantId, subjectId);
      if (!subject) throw new SubjectNotFound();
      if (subject.status === 'erased') throw new UnsubscribeSubjectErased();
      const purpose = await purposes.find(tenantId, purposeKey);
      if (!purpose) throw new UnknownPurpose(`purpose: no purpose with the key "${purposeKey}" in the register`);
      if (!applies(purpose)) {
        throw new UnsubscribeNotApplicable(
          `purpose: "${purpose.key}" is neither direct marketing nor based on consent, so one click cannot stop it; the person may object to it (Art. 21(1))`,
        );
      }
      const url = `${deps.publicBaseUrl}/v1/unsubscribe/${tokens.sign(tenantId, subjectId, purpose.key)}`;
      return { url, list_unsubscribe: `<${url}>`, list_unsubscribe_post: ONE_CLICK };
    },

    /** What the confirmation page shows: the purpose's title in the tenant's default locale, nothing about the person. */
    async page(token: string): Promise<{ title: string; locale: string }> {
      const { tenantId, purpose } = await resolve(token);
      const tenant = await deps.tenants.findById(tenantId);
      const locale = tenant && purpose.translations[tenant.defaultLocale] ? tenant.defaultLocale : Object.keys(purpose.translations).sort()[0]!;
      return { title: purpose.translations[locale]!.title, locale };
    },

    /**
     * The click: an objection to direct marketing for the purpose when it is direct marketing (whatever its basis,
     * Art. 21(2)-(3)) and a withdrawal when it rests on consent and is granted (Art. 7(3)), in one transaction.
     * Idempotent: a repeat records nothing new. An erased or purged person has nothing left to stop.
     */
    async unsubscribe(token: string, userAgent: string | undefined): Promise<{ recorded: boolean }> {
      const { tenantId, subjectId, purpose } = await resolve(token);
      const evidence = { form_id: FORM_ID, ...(userAgent ? { user_agent: userAgent.slice(0, 1000) } : {}) };
      return inTransaction(db, async (tx) => {
        // Under the subject's row lock: two clicks at once record one withdrawal.
        const subject = await deps.subjectsRepo.lock(tenantId, subjectId, tx);
        if (!subject || subject.status === 'erased') return { recorded: false };
        let recorded = false;
        if (purpose.legalBasis === 'consent') {
          const state = await consents.state(tenantId, subjectId);
          const current = state.purposes.find((s) => s.purpose === purpose.key);
          if (current?.status === 'granted') {
            await consents.record(tenantId, subjectId, { decisions: [{ purpose: purpose.key, action: 'withdraw', source: 'web_form', evidence }] }, tx);
            recorded = true;
          }
        }
        if (purpose.directMarketing) {
          const { created } = await consents.object(tenantId, subjectId, { scope: 'direct_marketing', purposes: [purpose.key], source: 'web_form', evidence }, tx);
          recorded ||= created;
        }
        return { recorded };
      });
    },
  };
}
export type UnsubscribeService = ReturnType<typeof createUnsubscribeService>;
