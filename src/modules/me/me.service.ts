// The person's self-service (Art. 7(3), 12(2), 21, 32): what the controller processes about them and the state of
// each purpose, their choices recorded in the same ledger as the CRM's, their rights requests and exports. Every
// call is one person's (the subject token's) and reuses the services the CRM's routes use.
import type { Readable } from 'node:stream';
import type { ConsentsService } from '../consents/consents.service.js';
import { ExportDataDeleted, ExportNotApproved } from '../exports/exports.errors.js';
import type { ExportsRepo } from '../exports/exports.repo.js';
import type { PortalCodes } from '../portal/portal.codes.js';
import { CodeRequired } from '../portal/portal.errors.js';
import type { PrivacyNoticeService } from '../privacy-notice/privacy-notice.service.js';
import { PurposeNotFound } from '../purposes/purposes.errors.js';
import type { PurposesRepo } from '../purposes/purposes.repo.js';
import { RequestNotFound } from '../rights-requests/rights-requests.errors.js';
import type { RightsRequestsRepo } from '../rights-requests/rights-requests.repo.js';
import type { CreateRequest, RightsRequest } from '../rights-requests/rights-requests.schemas.js';
import type { RightsRequestsService } from '../rights-requests/rights-requests.service.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectRow, SubjectsRepo } from '../subjects/subjects.repo.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import type { TenantContext } from '../tenants/tenants.service.js';
import { NotOnConsent, PurposeVersionStale } from './me.errors.js';
import { ME_LOCALES, type Me, type MeConsent, type MeCreateRequest, type MeLocale, type MeObjection } from './me.schemas.js';

/** Who acts in the audit trail and the ledger when the person acts through the portal. */
const ACTOR = 'portal';
const FORM_ID = 'portal';
// Art. 21(1): the processing a person may object to on grounds of their situation.
const OBJECTABLE_BASES = new Set(['legitimate_interests', 'public_task']);
const MAX_REQUESTS = 200;

export type Person = { tenantId: string; subjectId: string };
export type OpenedPackage = { stream: Readable; filename: string; kind: 'access' | 'portability' };

/** The first of the Accept-Language ranges (by weight, then order) that is en, bg or de, by its language. */
export function localeFrom(header: string | undefined): MeLocale | null {
  if (!header) return null;
  const ranges = header
    .slice(0, 500)
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { language: (tag ?? '').trim().toLowerCase().split('-')[0]!, q: q === undefined ? 1 : Number(q), i };
    })
    .filter((r) => r.q > 0 && Number.isFinite(r.q))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return (ranges.map((r) => r.language).find((l) => (ME_LOCALES as readonly string[]).includes(l)) as MeLocale | undefined) ?? null;
}

const userAgentOf = (ua: string | undefined) => (ua ? ua.slice(0, 1000) : undefined);

export function createMeService(deps: {
  tenants: Pick<TenantsRepo, 'findById'>;
  subjectsRepo: Pick<SubjectsRepo, 'find'>;
  purposes: Pick<PurposesRepo, 'find'>;
  consents: ConsentsService;
  privacyNotice: PrivacyNoticeService;
  rightsRequests: Pick<RightsRequestsService, 'create' | 'list'>;
  requests: Pick<RightsRequestsRepo, 'find'>;
  packages: Pick<ExportsRepo, 'find'>;
  openPackage: (tenantId: string, requestId: string, opts: { by: string; via: 'portal' }) => Promise<OpenedPackage>;
  codes: PortalCodes;
}) {
  const { consents, rightsRequests, codes } = deps;

  async function activeSubject(p: Person): Promise<SubjectRow> {
    const row = await deps.subjectsRepo.find(p.tenantId, p.subjectId);
    // The auth hook refuses an erased person's token; this covers an erasure between the hook and the call.
    if (!row || row.status === 'erased') throw new SubjectNotFound();
    return row;
  }

  const flags = (s: SubjectRow) => ({
    id: s.id,
    restricted: s.restricted,
    marketing_objection: s.marketingObjection,
    automated_decision_objection: s.automatedDecisionObjection,
  });

  async function ownRequests(p: Person): Promise<RightsRequest[]> {
    return (await rightsRequests.list(p.tenantId, { subjectId: p.subjectId }, { limit: MAX_REQUESTS })).items;
  }

  /** The locale of the texts: the person's browser, else the tenant's default, else English. */
  function localeOf(acceptLanguage: string | undefined, tenantDefault: string): MeLocale {
    return localeFrom(acceptLanguage) ?? localeFrom(tenantDefault) ?? 'en';
  }

  return {
    /** Whether the token's person still exists and is not erased (the auth hook asks). */
    async isActive(tenantId: string, subjectId: string): Promise<boolean> {
      const row = await deps.subjectsRepo.find(tenantId, subjectId);
      return row !== undefined && row.status !== 'erased';
    },

    /** Art. 12(1), 13/14 and 15(1) in one view: every purpose in the person's language, with their state. */
    async overview(p: Person, acceptLanguage: string | undefined): Promise<Me> {
      const subject = await activeSubject(p);
      const tenant = (await deps.tenants.findById(p.tenantId))!;
      const locale = localeOf(acceptLanguage, tenant.defaultLocale);
      const [notice, state, objections, requests] = await Promise.all([
        deps.privacyNotice.render(p.tenantId, locale),
        consents.state(p.tenantId, p.subjectId),
        consents.objections(p.tenantId, p.subjectId),
        ownRequests(p),
      ]);
      const consentOf = new Map(state.purposes.map((s) => [s.purpose, s.status]));
      const upheld = new Set(objections.items.filter((o) => o.status === 'upheld').map((o) => o.purpose));
      const purposes = notice.purposes.map((n) => {
        const onConsent = n.legal_basis === 'consent';
        const consent: 'granted' | 'withdrawn' | 'none' = consentOf.get(n.key) ?? 'none';
        const objected = upheld.has(n.key) || (n.direct_marketing && subject.marketingObjection) || (n.automated_decisions && subject.automatedDecisionObjection);
        return {
          key: n.key,
          version: n.version,
          title: n.title,
          description: n.description,
          legal_basis: n.legal_basis,
          direct_marketing: n.direct_marketing,
          automated_decisions: n.automated_decisions,
          data_categories: n.data_categories,
          retention: n.retention ?? null,
          consent,
          can_grant: onConsent && consent !== 'granted',
          can_withdraw: onConsent && consent === 'granted',
          objected,
          can_object: !objected && (n.direct_marketing || OBJECTABLE_BASES.has(n.legal_basis)),
        };
      });
      const exports: Me['exports'] = [];
      for (const r of requests) {
        if (r.type !== 'access' && r.type !== 'portability') continue;
        const pkg = await deps.packages.find(p.tenantId, r.id);
        if (!pkg || pkg.status !== 'approved') continue;
        exports.push({ request_id: r.id, type: r.type, status: pkg.dataDeletedAt ? 'deleted' : 'ready', approved_at: pkg.approvedAt?.toISOString() ?? null });
      }
      return {
        controller: { name: tenant.name, brand_color: tenant.brandColor, default_locale: tenant.defaultLocale },
        locale,
        subject: flags(subject),
        purposes,
        requests: requests.map((r) => ({ id: r.id, type: r.type, status: r.status, received_at: r.received_at, due_date: r.due_date, due_at: r.due_at })),
        exports,
      };
    },

    /**
     * A grant or a withdrawal, from the page: the version shown must be the current one (consent is to the text
     * read, Art. 7(1)), and how it was given is evidence (the browser's user agent, the portal as the form).
     * Withdrawing takes the same single call as granting (Art. 7(3)).
     */
    async consent(p: Person, input: MeConsent, userAgent: string | undefined) {
      await activeSubject(p);
      const purpose = await deps.purposes.find(p.tenantId, input.purpose);
      if (!purpose) throw new PurposeNotFound(input.purpose);
      if (purpose.legalBasis !== 'consent') {
        throw new NotOnConsent(`The purpose "${purpose.key}" rests on ${purpose.legalBasis}, not consent: there is no consent to give or withdraw (an objection may apply, Art. 21)`);
      }
      if (input.purpose_version !== purpose.version) {
        throw new PurposeVersionStale(`The purpose "${purpose.key}" is now at version ${purpose.version}; read the current text and decide again`);
      }
      const { events } = await consents.record(p.tenantId, p.subjectId, {
        decisions: [
          {
            purpose: purpose.key,
            action: input.action,
            purpose_version: purpose.version,
            source: 'web_form',
            evidence: { form_id: FORM_ID, ...(userAgentOf(userAgent) ? { user_agent: userAgentOf(userAgent) } : {}) },
          },
        ],
      });
      const event = events[0]!;
      return { purpose: event.purpose, consent: event.action === 'grant' ? ('granted' as const) : ('withdrawn' as const), event_id: event.id };
    },

    /** Art. 21 and 22, with the same rules as the CRM's objections; one to processing opens an objection request. */
    async object(ctx: TenantContext, p: Person, input: MeObjection, userAgent: string | undefined) {
      await activeSubject(p);
      let requestId: string | null = null;
      let objected: string[];
      if (input.scope === 'processing') {
        const opened = await rightsRequests.create(ctx, { tenantId: p.tenantId, clientId: ACTOR }, {
          subject: { id: p.subjectId },
          type: 'objection',
          channel: 'web',
          objection: { scope: 'processing', purposes: input.purposes ?? [] },
          ...(input.grounds ? { details: input.grounds } : {}),
        } as CreateRequest);
        requestId = opened.id;
        objected = (await consents.objectionsOfRequest(p.tenantId, opened.id)).map((o) => o.purpose);
      } else {
        await consents.object(p.tenantId, p.subjectId, {
          scope: input.scope,
          purposes: input.purposes,
          source: 'web_form',
          evidence: { form_id: FORM_ID, ...(userAgentOf(userAgent) ? { user_agent: userAgentOf(userAgent) } : {}) },
        });
        const named = new Set(input.purposes ?? []);
        objected = (await consents.objections(p.tenantId, p.subjectId)).items.filter((o) => o.status === 'upheld' && named.has(o.purpose)).map((o) => o.purpose);
      }
      return { subject: flags(await activeSubject(p)), objected: [...new Set(objected)], request_id: requestId };
    },

    async requests(p: Person) {
      await activeSubject(p);
      return {
        items: (await ownRequests(p)).map((r) => ({ id: r.id, type: r.type, status: r.status, received_at: r.received_at, due_date: r.due_date, due_at: r.due_at, extended: r.extended })),
      };
    },

    /** Files a request by the web channel, counted from now (Art. 12(3)); an erasure needs a one-time code (Art. 32). */
    async fileRequest(ctx: TenantContext, p: Person, input: MeCreateRequest, acceptLanguage: string | undefined) {
      await activeSubject(p);
      const locale = localeFrom(acceptLanguage);
      const create: CreateRequest = {
        subject: { id: p.subjectId },
        type: input.type,
        channel: 'web',
        ...(locale ? { locale } : {}),
        ...(input.details ? { details: input.details } : {}),
        ...(input.corrections ? { corrections: input.corrections } : {}),
        ...(input.restriction_ground ? { restriction_ground: input.restriction_ground } : {}),
      } as CreateRequest;
      const actor = { tenantId: p.tenantId, clientId: ACTOR };
      let r: RightsRequest;
      if (input.type === 'erasure') {
        if (!input.code) throw new CodeRequired();
        r = await codes.consume(p.tenantId, p.subjectId, 'erasure', input.code, (tx) => rightsRequests.create(ctx, actor, create, tx));
      } else {
        r = await rightsRequests.create(ctx, actor, create);
      }
      return { id: r.id, type: r.type, status: r.status, received_at: r.received_at, due_date: r.due_date, due_at: r.due_at };
    },

    async sendCode(p: Person, action: 'erasure' | 'export') {
      await activeSubject(p);
      return codes.issue(p.tenantId, p.subjectId, action);
    },

    /** The person's approved export as a ZIP, against a one-time code; a copy in the audit trail (Art. 15(3)). */
    async download(p: Person, requestId: string, code: string): Promise<OpenedPackage> {
      await activeSubject(p);
      const r = await deps.requests.find(p.tenantId, requestId);
      if (!r || r.subjectId !== p.subjectId || (r.type !== 'access' && r.type !== 'portability')) throw new RequestNotFound();
      const pkg = await deps.packages.find(p.tenantId, requestId);
      if (!pkg || pkg.status !== 'approved') throw new ExportNotApproved('The export is not approved yet: the DPO reviews it before release (Art. 15(4))');
      if (pkg.dataDeletedAt) throw new ExportDataDeleted();
      await codes.consume(p.tenantId, p.subjectId, 'export', code, async () => undefined);
      return deps.openPackage(p.tenantId, requestId, { by: ACTOR, via: 'portal' });
    },
  };
}
export type MeService = ReturnType<typeof createMeService>;
