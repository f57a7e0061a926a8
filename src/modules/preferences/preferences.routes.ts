// The reference preference page: server-rendered HTML over the subject API (/v1/me), which a CRM can link to as it
// is or copy. The person arrives with a portal link (?token=…); the token moves into an HttpOnly cookie and out of
// the address bar; every form posts back here with a CSRF token, and each answer is a redirect with a short message
// (Post/Redirect/Get). No JSON, no problem documents: every refusal is a page in the person's language.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from '../../lib/problem.js';
import { APP_JS, STYLE_CSS } from './preferences.assets.js';
import { createMeClient, type Caller } from './preferences.client.js';
import { createCsrf } from './preferences.csrf.js';
import { PreferencesCsrfFailed, PreferencesLinkExpired, PreferencesLinkInvalid, PreferencesLinkMalformed, PreferencesLinkMissing } from './preferences.errors.js';
import {
  CODE_FORM_SECONDS,
  COOKIES,
  DEFAULT_BRAND,
  PAGE_PATH,
  addCookies,
  clearCookie,
  cookie,
  langCookie,
  newNonce,
  peekClaims,
  readCookies,
  sameOrigin,
  securityHeaders,
} from './preferences.http.js';
import { UpstreamBusy, createPreferencesService, languages, pageLocale, type CodeAction, type Result } from './preferences.service.js';
import { FLASHES, PAGE_REQUEST_TYPES, PAGE_TEXTS, RECTIFICATION_CATEGORIES, RESTRICTION_GROUND_KEYS, isPageLocale, localeFromAcceptLanguage, type Flash, type PageLocale } from './preferences.texts.js';
import { renderMessage, renderPage } from './preferences.views.js';
import { packageHeaders } from '../exports/exports.links.js';

const tags = ['preferences'];
/** A flash message lives for the one page view after the redirect (a minute at most, should that view never come). */
const FLASH_SECONDS = 60;
/** A subject token: three base64url parts (at most 2048 characters; a longer query value is refused as malformed too). */
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// ------------------------------------------------------------------ contract

const html = (description: string) => z.string().describe(description);
const SET_COOKIE = { type: 'string', description: 'The page\'s cookies: HttpOnly, Path=/preferences, SameSite=Lax, Secure over https' };
const Redirect = (description: string) =>
  z.null().meta({ description, headers: { location: { type: 'string', description: 'Always /preferences' }, 'set-cookie': SET_COOKIE } });
/** 429 and 503 may also come from the service's load shedding, before this page's error handler. */
const busy = (status: 429 | 503) => ({
  description: status === 429 ? 'Too many requests from this address; an HTML page says to wait (Retry-After)' : 'Temporarily unavailable; an HTML page says to try again (Retry-After)',
  content: { 'text/html': { schema: html('An HTML page') }, 'application/problem+json': { schema: ProblemSchema } },
});
const pages = {
  400: html('The form or the link could not be read: an HTML page saying what to do'),
  401: html('No link, or an expired, forged or revoked one, or the person was erased: an HTML page asking them to get a new link from the organisation'),
  403: html('The form was not sent from this page (missing or wrong CSRF token, or another site\'s Origin): an HTML page; nothing was recorded'),
  413: html('The form is too large: an HTML page'),
  415: html('The form is not application/x-www-form-urlencoded: an HTML page'),
  429: busy(429),
  503: busy(503),
};
const postResponses = (what: string) => ({ 303: Redirect(`${what}; back to /preferences, which shows a short message about the outcome`), ...pages });
const common = { tags, security: [] as never[], produces: ['text/html'], consumes: ['application/x-www-form-urlencoded'] };

const Csrf = z.string().max(100).optional().describe('The CSRF token the page put in the form (checked before anything else: missing or wrong is a 403)');
const ConsentForm = z
  .object({
    csrf: Csrf,
    purpose: z.string().min(1).max(100),
    action: z.enum(['grant', 'withdraw']),
    purpose_version: z.coerce.number().int().min(1).max(2_147_483_647).describe('The version the page showed'),
  })
  .strict()
  .meta({ id: 'PreferencesConsentForm' });
const ObjectionForm = z
  .object({
    csrf: Csrf,
    scope: z.enum(['direct_marketing', 'processing', 'automated_decisions']),
    purpose: z.string().max(100).optional().describe('One purpose; none for all direct marketing or for automated decisions'),
    grounds: z.string().max(5000).optional().describe('For processing: the grounds relating to the particular situation'),
  })
  .strict()
  .meta({ id: 'PreferencesObjectionForm' });
const RequestForm = z
  .object({
    csrf: Csrf,
    type: z.enum(PAGE_REQUEST_TYPES),
    details: z.string().max(5000).optional(),
    code: z.string().max(20).optional().describe('For erasure: the one-time code from the email'),
    category: z.enum(RECTIFICATION_CATEGORIES).optional().describe('For rectification'),
    field: z.string().max(100).optional().describe('For rectification: what is wrong'),
    value: z.string().max(2000).optional().describe('For rectification: the correct value'),
    restriction_ground: z.enum(RESTRICTION_GROUND_KEYS).optional().describe('For restriction: the Art. 18(1) ground'),
  })
  .strict()
  .meta({ id: 'PreferencesRequestForm' });
const CodeForm = z.object({ csrf: Csrf, action: z.enum(['erasure', 'export']) }).strict().meta({ id: 'PreferencesCodeForm' });
const DownloadForm = z.object({ csrf: Csrf, code: z.string().max(20) }).strict().meta({ id: 'PreferencesDownloadForm' });

// ------------------------------------------------------------------ cookies that carry state between views

function readFlash(value: string | undefined): { flash: Flash; ref?: string } | null {
  if (!value) return null;
  const [kind, ref] = value.split('|', 2);
  if (!(FLASHES as readonly string[]).includes(kind ?? '')) return null;
  // The reference is the masked address the code went to; anything longer or stranger is not ours.
  return { flash: kind as Flash, ...(ref && ref.length <= 254 && !/[\s<>]/.test(ref) ? { ref } : {}) };
}

function readCodes(value: string | undefined): Partial<Record<CodeAction, number>> {
  const out: Partial<Record<CodeAction, number>> = {};
  for (const m of (value ?? '').matchAll(/(erasure|export)\.([0-9]{1,12})/g)) out[m[1] as CodeAction] = Number(m[2]);
  return out;
}
const writeCodes = (codes: Partial<Record<CodeAction, number>>) =>
  Object.entries(codes)
    .map(([a, until]) => `${a}.${until}`)
    .join('-');

// ------------------------------------------------------------------ routes

const routes: FastifyPluginAsyncZod<{ clock?: () => Date }> = async (app, opts) => {
  const clock = opts.clock ?? (() => new Date());
  const csrf = createCsrf(app.config.jwt.secret);
  const service = createPreferencesService({ client: createMeClient(app), csrf, clock });
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);

  // Forms post application/x-www-form-urlencoded; only this page's routes accept it.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  /** The language the person chose on the page (now, or before: the cookie), if any. */
  function chosenLocale(request: FastifyRequest): PageLocale | null {
    const asked = (request.query as { lang?: unknown } | undefined)?.lang;
    if (isPageLocale(asked)) return asked;
    const stored = readCookies(request)[COOKIES.lang];
    return isPageLocale(stored) ? stored : null;
  }

  function caller(request: FastifyRequest, token: string): Caller {
    const ua = request.headers['user-agent'];
    // The chosen language goes to the subject API as Accept-Language, so purpose texts come in it too.
    return { token, language: chosenLocale(request) ?? request.headers['accept-language'], userAgent: typeof ua === 'string' ? ua.slice(0, 1000) : undefined, ip: request.ip };
  }

  const tokenOf = (request: FastifyRequest): string => {
    const token = readCookies(request)[COOKIES.token];
    if (!token) throw new PreferencesLinkMissing();
    return token;
  };

  function sendMessage(request: FastifyRequest, reply: FastifyReply, status: number, kind: 'missing' | 'expired' | 'invalid' | 'malformed' | 'csrf' | 'badForm' | 'busy' | 'broken') {
    const lang = chosenLocale(request) ?? localeFromAcceptLanguage(request.headers['accept-language']) ?? 'en';
    const t = PAGE_TEXTS[lang];
    const nonce = newNonce();
    const heading = t.error[`${kind}Title`];
    const body = renderMessage({
      lang,
      t,
      nonce,
      brand: DEFAULT_BRAND,
      org: null,
      languages: languages(lang),
      title: heading,
      heading,
      text: t.error[kind],
      // Where the person still has a working page, offer the way back to it.
      back: kind === 'csrf' || kind === 'badForm' || kind === 'busy' || kind === 'broken',
    });
    return securityHeaders(reply, nonce).code(status).type('text/html; charset=utf-8').send(body);
  }

  function redirect(request: FastifyRequest, reply: FastifyReply, result: Result, cookies: string[] = []): FastifyReply {
    const codes = readCodes(readCookies(request)[COOKIES.codes]);
    if (result.codeSent) codes[result.codeSent.action] = Math.min(result.codeSent.until, nowSeconds() + CODE_FORM_SECONDS);
    if (result.codeUsed) delete codes[result.codeUsed];
    const live = Object.fromEntries(Object.entries(codes).filter(([, until]) => until > nowSeconds()));
    const keep = Math.max(0, ...Object.values(live)) - nowSeconds();
    addCookies(reply, [
      ...cookies,
      cookie(request, COOKIES.flash, result.ref ? `${result.flash}|${result.ref}` : result.flash, FLASH_SECONDS),
      keep > 0 ? cookie(request, COOKIES.codes, writeCodes(live), keep) : clearCookie(request, COOKIES.codes),
    ]);
    return securityHeaders(reply).code(303).header('location', PAGE_PATH).send();
  }

  // Every refusal is a page in the person's language; never JSON, never a stack trace.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    const fromCookie = (request.query as { token?: unknown } | undefined)?.token === undefined;
    // A link the subject API refuses is no use in the cookie either.
    const forget = () => fromCookie && addCookies(reply, [clearCookie(request, COOKIES.token)]);
    if (err instanceof PreferencesLinkMissing) return sendMessage(request, reply, 401, 'missing');
    if (err instanceof PreferencesLinkExpired) return forget(), sendMessage(request, reply, 401, 'expired');
    if (err instanceof PreferencesLinkInvalid) return forget(), sendMessage(request, reply, 401, 'invalid');
    if (err instanceof PreferencesLinkMalformed) return sendMessage(request, reply, 400, 'malformed');
    if (err instanceof PreferencesCsrfFailed) return sendMessage(request, reply, 403, 'csrf');
    const status = err instanceof UpstreamBusy ? err.status : (err.statusCode ?? 500);
    if (status === 429 || status === 503) {
      if (!reply.hasHeader('retry-after')) reply.header('retry-after', status === 429 ? '60' : '30');
      return sendMessage(request, reply, status, status === 429 ? 'busy' : 'broken');
    }
    if (status === 400 && request.method === 'GET') return sendMessage(request, reply, 400, 'malformed');
    if (status === 400 || status === 413 || status === 415) return sendMessage(request, reply, status, 'badForm');
    request.log.error({ err: { name: err.name, code: err.code } }, 'preference page error');
    return sendMessage(request, reply, 500, 'broken');
  });

  // Art. 32 and CSRF: a post must come from this site and carry the token bound to the person's link, before its
  // body is even validated, so a forged post learns nothing and records nothing.
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'POST') return;
    if (!sameOrigin(request)) throw new PreferencesCsrfFailed();
    const claims = peekClaims(tokenOf(request));
    if (!claims) throw new PreferencesLinkInvalid();
    if (!csrf.verify(claims.jti, (request.body as { csrf?: unknown } | null | undefined)?.csrf)) throw new PreferencesCsrfFailed();
  });

  app.get(
    PAGE_PATH,
    {
      schema: {
        ...common,
        operationId: 'preferencePage',
        summary: 'The reference preference page (HTML)',
        description:
          "What the person opens from a portal link (POST /v1/subjects/{id}/portal-links). With `token`, the page checks it against GET /v1/me, keeps it in an HttpOnly cookie (Path=/preferences, SameSite=Lax, Secure over https, until the token expires) and answers 303 to /preferences, so the token leaves the address bar and the history. Without, it renders from the cookie: every purpose with its legal basis and the person's consent (grant and withdraw buttons where the basis is consent, Art. 7(3)), the right to object in a section of its own (Art. 21(4)), the person's rights requests with their status and due date, a form for each kind of request, erasure behind a one-time code, and exports ready to download. `lang` (en, bg, de) picks the language and is remembered in a cookie; otherwise Accept-Language, else the tenant's default locale. Headers: a strict Content-Security-Policy, Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff, Cache-Control: no-store. No link, or an expired or forged one, is an HTML page (401) saying to ask the organisation for a new link.",
        querystring: z
          .object({
            token: z.string().max(2048).optional().describe('The subject token from the portal link; moved into a cookie at once'),
            lang: z.string().max(10).optional().describe('en, bg or de; anything else is ignored'),
          })
          .strict(),
        response: {
          200: html('The page').meta({ headers: { 'set-cookie': SET_COOKIE, 'content-security-policy': { type: 'string', description: "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-…'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" } } }),
          303: Redirect('The token from the link is now in a cookie: on to /preferences'),
          400: pages[400],
          401: pages[401],
          429: pages[429],
          503: pages[503],
        },
      },
    },
    async (request, reply) => {
      const { token, lang } = request.query;
      const cookies = readCookies(request);
      const set: string[] = isPageLocale(lang) && lang !== cookies[COOKIES.lang] ? [langCookie(request, lang)] : [];
      if (token !== undefined) {
        if (!TOKEN.test(token)) throw new PreferencesLinkMalformed();
        const opened = await service.open(caller(request, token));
        addCookies(reply, [...set, cookie(request, COOKIES.token, token, opened.exp - nowSeconds())]);
        return securityHeaders(reply).code(303).header('location', PAGE_PATH).send();
      }
      const opened = await service.open(caller(request, tokenOf(request)));
      const flash = readFlash(cookies[COOKIES.flash]);
      if (cookies[COOKIES.flash] !== undefined) set.push(clearCookie(request, COOKIES.flash));
      const nonce = newNonce();
      const view = service.view(opened.me, { lang: pageLocale(chosenLocale(request), opened.me.locale), jti: opened.jti, nonce, flash, codes: readCodes(cookies[COOKIES.codes]) });
      addCookies(reply, set);
      return securityHeaders(reply, nonce).code(200).type('text/html; charset=utf-8').send(renderPage(view));
    },
  );

  app.post(
    `${PAGE_PATH}/consents`,
    {
      schema: {
        ...common,
        operationId: 'preferencePageConsent',
        summary: 'Give or withdraw consent from the page (Art. 7(3))',
        description: 'The page\'s consent buttons: POST /v1/me/consents with the version shown. Withdrawing is the same single click as granting.',
        body: ConsentForm,
        response: postResponses('Recorded, or refused (a newer text, a code problem)'),
      },
    },
    async (request, reply) => redirect(request, reply, await service.consent(caller(request, tokenOf(request)), request.body)),
  );

  app.post(
    `${PAGE_PATH}/objections`,
    {
      schema: {
        ...common,
        operationId: 'preferencePageObjection',
        summary: 'Object from the page (Art. 21, 22)',
        description: 'The page\'s objection buttons: POST /v1/me/objections. Direct marketing (all, or one purpose) stops at once; an objection to other processing opens a request the controller assesses; automated decisions set the flag.',
        body: ObjectionForm,
        response: postResponses('Recorded'),
      },
    },
    async (request, reply) => redirect(request, reply, await service.object(caller(request, tokenOf(request)), request.body)),
  );

  app.post(
    `${PAGE_PATH}/requests`,
    {
      schema: {
        ...common,
        operationId: 'preferencePageRequest',
        summary: 'File a rights request from the page (Arts. 15-22)',
        description: 'POST /v1/me/rights-requests by the web channel. Erasure needs the one-time code (step 2 of the page\'s erasure form); rectification says what to correct; restriction its Art. 18(1) ground.',
        body: RequestForm,
        response: postResponses('Filed, or refused (a wrong or missing code)'),
      },
    },
    async (request, reply) => redirect(request, reply, await service.request(caller(request, tokenOf(request)), request.body)),
  );

  app.post(
    `${PAGE_PATH}/codes`,
    {
      schema: {
        ...common,
        operationId: 'preferencePageCode',
        summary: 'Email the person a one-time code (Art. 32)',
        description: 'POST /v1/me/codes: the code that an erasure request or an export download needs. The page then offers the code form for 10 minutes.',
        body: CodeForm,
        response: postResponses('Sent, or refused (no email address, no mail transport, asked too soon)'),
      },
    },
    async (request, reply) => redirect(request, reply, await service.sendCode(caller(request, tokenOf(request)), request.body.action)),
  );

  app.post(
    `${PAGE_PATH}/exports/:request_id/download`,
    {
      schema: {
        ...common,
        operationId: 'preferencePageDownload',
        summary: 'Download an export with the one-time code (Art. 15(3), 20)',
        description: 'POST /v1/me/exports/{request_id}/download, the ZIP streamed through. A wrong code, or a package not ready or deleted, is a redirect back to the page with a message.',
        params: z.object({ request_id: z.uuid() }),
        body: DownloadForm,
        response: {
          200: {
            description: 'The package (ZIP), with Content-Disposition: attachment',
            content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } },
          },
          ...postResponses('Refused: back to the page with a message'),
        },
      },
    },
    async (request, reply) => {
      const out = await service.download(caller(request, tokenOf(request)), request.params.request_id, request.body.code);
      if (!('stream' in out)) return redirect(request, reply, out);
      return securityHeaders(reply).code(200).headers(packageHeaders(out.filename)).send(out.stream);
    },
  );

  const asset = (path: string, type: string, body: string, operationId: string, summary: string) =>
    app.get(
      path,
      {
        schema: {
          tags,
          security: [],
          produces: [type],
          operationId,
          summary,
          description: 'A static file of the page (its Content-Security-Policy allows only files from this origin).',
          response: { 200: z.string().describe(summary), 429: busy(429), 503: busy(503) },
        },
      },
      async (_request, reply) =>
        reply.code(200).type(`${type}; charset=utf-8`).header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff').send(body),
    );
  asset(`${PAGE_PATH}/style.css`, 'text/css', STYLE_CSS, 'preferencePageStyle', 'The page\'s stylesheet');
  asset(`${PAGE_PATH}/app.js`, 'text/javascript', APP_JS, 'preferencePageScript', 'The page\'s optional script (confirm before erasure, no double submits)');
};
export default routes;
