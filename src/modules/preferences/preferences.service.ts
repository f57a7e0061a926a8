// What the preference page does with the subject API: opens the person's view, turns a form post into one /v1/me
// call and its answer into a short message (Post/Redirect/Get), and builds the view model the templates draw.
import type { Readable } from 'node:stream';
import type { Caller, Me, MeClient } from './preferences.client.js';
import type { Csrf } from './preferences.csrf.js';
import { PreferencesLinkExpired, PreferencesLinkInvalid } from './preferences.errors.js';
import { brandColor, peekClaims } from './preferences.http.js';
import {
  ERROR_FLASHES,
  PAGE_LOCALES,
  PAGE_REQUEST_TYPES,
  PAGE_TEXTS,
  RECTIFICATION_CATEGORIES,
  RESTRICTION_GROUND_KEYS,
  isPageLocale,
  type Flash,
  type PageLocale,
  type RectificationCategory,
  type RestrictionGroundKey,
} from './preferences.texts.js';
import type { PageView } from './preferences.views.js';

export type ConsentForm = { purpose: string; action: 'grant' | 'withdraw'; purpose_version: number };
export type ObjectionForm = { scope: 'direct_marketing' | 'processing' | 'automated_decisions'; purpose?: string; grounds?: string };
export type RequestForm = {
  type: (typeof PAGE_REQUEST_TYPES)[number];
  details?: string;
  code?: string;
  category?: RectificationCategory;
  field?: string;
  value?: string;
  restriction_ground?: RestrictionGroundKey;
};
const SEPARATE_FORMS = new Set<string>(['erasure', 'rectification', 'restriction']);
export type CodeAction = 'erasure' | 'export';

/** A message for the next page view, and the code forms to offer (action → until, epoch seconds). */
export type Result = { flash: Flash; ref?: string; codeSent?: { action: CodeAction; until: number }; codeUsed?: CodeAction };

export class UpstreamBusy extends Error {
  constructor(readonly status: 429 | 503) {
    super('The subject API is busy or unavailable');
  }
}

export type Download = { stream: Readable; filename: string };

export function createPreferencesService(deps: { client: MeClient; csrf: Csrf; clock: () => Date }) {
  const { client, csrf, clock } = deps;
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);

  /** The subject API refused the token (401): an expired link reads differently from a forged one. */
  function refused(token: string): Error {
    const claims = peekClaims(token);
    return claims && claims.exp <= nowSeconds() ? new PreferencesLinkExpired() : new PreferencesLinkInvalid();
  }

  function failed(status: number, token: string): never {
    if (status === 401) throw refused(token);
    if (status === 429) throw new UpstreamBusy(429);
    throw new UpstreamBusy(503);
  }

  async function post(caller: Caller, path: string, body: Record<string, unknown>) {
    const answer = await client.post(caller, path, body);
    if (answer.status === 401) throw refused(caller.token);
    if (answer.status >= 500 && answer.status !== 503) throw new UpstreamBusy(503);
    return { status: answer.status, code: typeof answer.body?.code === 'string' ? answer.body.code : '', body: answer.body ?? {} };
  }

  /** Problems every action shares: a code that is wrong, missing or cannot be sent, a limit reached. */
  function common(status: number, code: string): Flash {
    if (code === 'CODE_INVALID') return 'code_invalid';
    if (code === 'CODE_REQUIRED') return 'code_required';
    if (code === 'NO_EMAIL_IDENTIFIER') return 'no_email';
    if (code === 'CODE_UNAVAILABLE' || status === 503) return 'code_unavailable';
    if (status === 429) return 'too_soon';
    return 'failed';
  }

  return {
    /** Opens the person's view with their token; their jti and expiry come with it (for the CSRF token and the cookie). */
    async open(caller: Caller): Promise<{ me: Me; jti: string; exp: number }> {
      const claims = peekClaims(caller.token);
      if (!claims) throw new PreferencesLinkInvalid();
      const res = await client.me(caller);
      if (res.status !== 200 || !res.me) failed(res.status, caller.token);
      return { me: res.me!, jti: claims.jti, exp: claims.exp };
    },

    /** Art. 7(3): withdrawing is the same one click as granting, with no code and no reason asked. */
    async consent(caller: Caller, form: ConsentForm): Promise<Result> {
      const r = await post(caller, '/v1/me/consents', { purpose: form.purpose, action: form.action, purpose_version: form.purpose_version });
      if (r.status === 201) return { flash: form.action === 'grant' ? 'granted' : 'withdrawn' };
      // A newer text than the one shown: the person reads it again before choosing (Art. 7(1), consent is specific).
      if (r.status === 409 && r.code !== 'NOT_ON_CONSENT') return { flash: 'stale' };
      return { flash: common(r.status, r.code) };
    },

    /** Art. 21(2)-(3): direct marketing stops at once; Art. 21(1): other processing is assessed; Art. 22. */
    async object(caller: Caller, form: ObjectionForm): Promise<Result> {
      const body: Record<string, unknown> = { scope: form.scope };
      if (form.purpose) body.purposes = [form.purpose];
      if (form.scope === 'processing' && form.grounds?.trim()) body.grounds = form.grounds.trim();
      const r = await post(caller, '/v1/me/objections', body);
      if (r.status !== 201) return { flash: common(r.status, r.code) };
      const flash: Flash =
        form.scope === 'automated_decisions' ? 'objected_automated' : form.scope === 'processing' ? 'objected_processing' : form.purpose ? 'objected_purpose' : 'objected_marketing';
      return { flash };
    },

    /** Any rights request; an erasure only with the one-time code (Art. 32), which the subject API checks. */
    async request(caller: Caller, form: RequestForm): Promise<Result> {
      const body: Record<string, unknown> = { type: form.type };
      if (form.details?.trim()) body.details = form.details.trim();
      if (form.type === 'erasure' && form.code) body.code = form.code;
      // Art. 16: what to correct; Art. 18(1): on which ground to restrict.
      if (form.type === 'rectification') body.corrections = [{ category: form.category ?? 'other', field: form.field?.trim() ?? '', value: form.value?.trim() ?? '' }];
      if (form.type === 'restriction' && form.restriction_ground) body.restriction_ground = form.restriction_ground;
      const r = await post(caller, '/v1/me/rights-requests', body);
      if (r.status === 201) return form.type === 'erasure' ? { flash: 'erasure_filed', codeUsed: 'erasure' } : { flash: 'request_filed' };
      return { flash: common(r.status, r.code) };
    },

    async sendCode(caller: Caller, action: CodeAction): Promise<Result> {
      const r = await post(caller, '/v1/me/codes', { action });
      if (r.status === 202) {
        const expires = Date.parse(String(r.body.expires_at ?? ''));
        const until = Number.isFinite(expires) ? Math.floor(expires / 1000) : nowSeconds() + 600;
        const sentTo = typeof r.body.sent_to === 'string' ? r.body.sent_to : undefined;
        return { flash: 'code_sent', ref: sentTo, codeSent: { action, until } };
      }
      return { flash: common(r.status, r.code) };
    },

    /** Art. 15(3), 20: the package with the one-time code, streamed through; a refusal becomes a message. */
    async download(caller: Caller, requestId: string, code: string): Promise<Download | Result> {
      const res = await client.download(caller, requestId, code);
      if (res.status === 200 && 'stream' in res) {
        const given = /filename="([^"]+)"/.exec(String(res.headers['content-disposition'] ?? ''))?.[1];
        return { stream: res.stream, filename: (given ?? `export-${requestId}.zip`).replace(/[^A-Za-z0-9._-]/g, '_') };
      }
      const body = 'body' in res ? res.body : null;
      const errorCode = typeof body?.code === 'string' ? body.code : '';
      if (res.status === 401) throw refused(caller.token);
      if (res.status === 409) return { flash: 'not_ready' };
      if (res.status === 410) return { flash: 'gone' };
      return { flash: common(res.status, errorCode) };
    },

    /** The view model of the page: the person's data as the subject API gave it, in their language. */
    view(me: Me, o: { lang: PageLocale; jti: string; nonce: string; flash: { flash: Flash; ref?: string } | null; codes: Partial<Record<CodeAction, number>> }): PageView {
      const t = PAGE_TEXTS[o.lang];
      const dateFormat = new Intl.DateTimeFormat(o.lang, { dateStyle: 'long', timeZone: 'UTC' });
      const date = (iso: string | null) => {
        const ms = iso ? Date.parse(iso) : NaN;
        return Number.isFinite(ms) ? dateFormat.format(new Date(ms)) : '—';
      };
      const open = (action: CodeAction) => (o.codes[action] ?? 0) > nowSeconds();
      const typeTitle = (type: string) => (t.rights.types as Record<string, { title: string }>)[type]?.title ?? type;
      const flashText = o.flash ? (o.flash.flash === 'code_sent' && o.flash.ref ? t.codeSentTo(o.flash.ref) : t.flash[o.flash.flash]) : null;
      const basisOf = (b: string) => (t.legalBases as Record<string, string>)[b] ?? b;
      return {
        lang: o.lang,
        t,
        nonce: o.nonce,
        brand: brandColor(me.controller.brand_color),
        org: me.controller.name,
        title: t.title,
        languages: languages(o.lang),
        footer: t.footer,
        csrf: csrf.token(o.jti),
        flash: o.flash && flashText ? { text: flashText, error: ERROR_FLASHES.has(o.flash.flash) } : null,
        purposes: me.purposes.map((p, i) => ({
          id: `purpose-${i}`,
          key: p.key,
          version: p.version,
          title: p.title,
          description: p.description,
          basis: basisOf(p.legal_basis),
          categories: (p.data_categories ?? []).join(', '),
          retention: p.retention ?? t.purposes.notRecorded,
          automated: p.automated_decisions,
          onConsent: p.legal_basis === 'consent',
          consent: p.consent,
          consentText: p.legal_basis === 'consent' ? t.consent[p.consent] : null,
          canGrant: p.can_grant,
          canWithdraw: p.can_withdraw,
        })),
        marketing: {
          all: me.subject.marketing_objection,
          purposes: me.purposes.filter((p) => p.direct_marketing).map((p) => ({ key: p.key, title: p.title, objected: p.objected || !p.can_object })),
        },
        processing: me.purposes
          .map((p, i) => ({ p, i }))
          .filter(({ p }) => !p.direct_marketing && (p.can_object || p.objected))
          .map(({ p, i }) => ({ id: `objection-${i}`, key: p.key, title: p.title, objected: p.objected })),
        automatedObjected: me.subject.automated_decision_objection,
        // Erasure, rectification and restriction ask for more than a type: each has a form of its own.
        requestTypes: PAGE_REQUEST_TYPES.filter((type) => !SEPARATE_FORMS.has(type)).map((type) => ({ value: type, ...t.rights.types[type] })),
        rectificationCategories: RECTIFICATION_CATEGORIES.map((value) => ({ value, title: t.rectification.categories[value] })),
        restrictionGrounds: RESTRICTION_GROUND_KEYS.map((value) => ({ value, title: t.restriction.grounds[value] })),
        erasureCodeSent: open('erasure'),
        exportCodeSent: open('export'),
        requests: me.requests.map((r) => ({
          type: typeTitle(r.type),
          status: t.requests.statuses[r.status] ?? r.status,
          received: date(r.received_at),
          // The controller's calendar day (the legal deadline), not an instant shown in the wrong zone.
          due: date(r.due_date ? `${r.due_date}T00:00:00Z` : null),
          extended: r.extended === true,
        })),
        exports: me.exports.map((x, i) => ({ id: `export-${i}`, requestId: x.request_id, label: t.exports.item(typeTitle(x.type), date(x.approved_at)), ready: x.status === 'ready' })),
      };
    },
  };
}

export type PreferencesService = ReturnType<typeof createPreferencesService>;

/** The language switcher's links: plain links, so it works without script. */
export function languages(current: PageLocale) {
  return PAGE_LOCALES.map((code) => ({ code, name: PAGE_TEXTS[code].languageName, href: `/preferences?lang=${code}`, current: code === current }));
}

/** The page's language: the one chosen on the page, else the one the subject API answered in (it follows the
 * browser's Accept-Language, then the tenant's default locale). */
export function pageLocale(chosen: PageLocale | null, answered: string | undefined): PageLocale {
  return chosen ?? (isPageLocale(answered) ? answered : 'en');
}
