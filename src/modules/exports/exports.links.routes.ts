// Download links (issued with a service token; used by the person in a browser, without one) and the Art. 20(2)
// transmission to another controller. The person's pages are small self-contained HTML: escaped values, no script,
// a strict Content-Security-Policy, nothing cached, no referrer.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from '../../lib/problem.js';
import { IdempotencyHeaders, problems, type ProblemStatus } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import { sendProblem } from '../../plugins/errors.js';
import { problem } from '../../lib/problem.js';
import { RequestParams } from '../rights-requests/rights-requests.schemas.js';
import { EXPORT_LINK_MAX_DOWNLOADS, EXPORT_LINK_TTL_HOURS } from '../tenants/tenants.schemas.js';
import { CODE_MAX_ATTEMPTS, packageHeaders } from './exports.links.js';

const tags = ['rights-requests'];

const FeeSchema = z
  .object({
    amount: z.string().regex(/^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$/, 'must be a decimal amount such as 12.50').describe('The fee, a decimal amount with at most two decimals'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as EUR').describe('ISO 4217 currency code'),
  })
  .strict()
  .describe('Art. 15(3): a reasonable fee based on administrative costs for a further copy; recorded in the audit trail. Refused (400) on the first copy, which is free');

const CreateLinkBody = z
  .object({
    ttl_hours: z.number().int().min(EXPORT_LINK_TTL_HOURS.min).max(EXPORT_LINK_TTL_HOURS.max).optional().describe("Hours the link lives, 1-720; default the tenant's export_link_ttl_hours (168)"),
    max_downloads: z.number().int().min(EXPORT_LINK_MAX_DOWNLOADS.min).max(EXPORT_LINK_MAX_DOWNLOADS.max).optional().describe("Downloads the link allows, 1-20; default the tenant's export_link_max_downloads (3)"),
    fee: FeeSchema.optional(),
  })
  .strict()
  .meta({ id: 'CreateExportLink', description: 'A download link for the person; every field is optional' });

const ExportLinkCreatedSchema = z
  .object({
    id: z.uuid(),
    url: z.string().describe('PUBLIC_BASE_URL + /v1/exports/{token}: hand it to the person. Shown once; only a hash of the token is kept'),
    expires_at: z.iso.datetime(),
    max_downloads: z.number().int(),
  })
  .meta({ id: 'ExportLinkCreated', description: 'A new download link; the url is shown only in this answer' });

const ExportLinkSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(['active', 'expired', 'exhausted', 'revoked', 'locked']).describe('locked: five wrong codes were entered'),
    expires_at: z.iso.datetime(),
    max_downloads: z.number().int(),
    downloads: z.number().int(),
    revoked_at: z.iso.datetime().nullable(),
    created_by: z.string().describe('The client that issued it'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'ExportLink', description: 'A download link, without its token' });

const LinkParams = z.object({ id: z.uuid(), link_id: z.uuid() });
const TokenParams = z.object({ token: z.string().max(100).describe('The token from the link (43 base64url characters)') });
const CodeBody = z
  .object({ code: z.string().regex(/^[0-9]{6}$/, 'must be the 6 digits of the code sent by email') })
  .strict()
  .meta({ id: 'ExportDownloadCode', description: 'The one-time code; as JSON or as an HTML form (application/x-www-form-urlencoded)' });
const CodeSentSchema = z
  .object({ sent: z.literal(true), expires_at: z.iso.datetime().describe('The code works once, until then') })
  .meta({ id: 'ExportCodeSent', description: 'A one-time code was emailed to the person' });

const TransmitBody = z
  .object({ url: z.string().max(2000).describe("The receiving controller's endpoint: https, a public address (as for webhook endpoints)") })
  .strict()
  .meta({ id: 'TransmitExport', description: 'Where to send the portability package (Art. 20(2))' });
const TransmitResultSchema = z
  .object({
    webhook_id: z.string().describe('The webhook-id header sent: msg_<uuid>'),
    url: z.string(),
    status_code: z.number().int().nullable().describe("The receiver's answer (2xx)"),
    transmitted_at: z.iso.datetime(),
    duration_ms: z.number().int(),
    bytes: z.number().int().describe('Size of the ZIP sent'),
    error: z.null(),
  })
  .meta({ id: 'TransmitResult', description: 'The package was delivered: the receiver answered 2xx' });
const TransmissionSecretSchema = z
  .object({ secret: z.string().describe('whsec_ + base64 of 32 bytes; changes only when the master key changes') })
  .meta({ id: 'TransmissionSecret', description: "The tenant's key for transmissions' webhook-signature, to give to receiving controllers" });

const HTML = z.string().describe('A self-contained HTML page');
const HTML_STATUSES = new Set([400, 403, 404, 409, 410, 413, 415, 429, 503]);

/** The person's routes answer a browser (Accept: text/html) with a page, anything else with problem+json. */
function pageOrProblem(...extra: ProblemStatus[]) {
  const out: Record<number, unknown> = {};
  for (const [status, schema] of Object.entries(problems(...extra))) {
    const s = Number(status);
    out[s] = HTML_STATUSES.has(s)
      ? {
          description: `${(schema as z.ZodType).description ?? 'Problem'}. A browser (Accept: text/html) gets an HTML page saying the same`,
          content: { 'application/problem+json': { schema }, 'text/html': { schema: HTML } },
        }
      : schema;
  }
  return out;
}
const gone = (what: string) => ({
  description: `${what}. JSON clients get a problem (EXPORT_LINK_GONE, detail says why), browsers (Accept: text/html) an HTML page`,
  content: { 'application/problem+json': { schema: ProblemSchema }, 'text/html': { schema: HTML } },
});
const GONE_WHY = 'The link has expired, its downloads are used up, it was revoked, it is locked after 5 wrong codes, or the data was deleted';

// ------------------------------------------------------------------ pages

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}button{font-size:1rem;padding:.5rem 1rem}input{font-size:1.2rem;letter-spacing:.2em;width:8ch}.note{color:#555;font-size:.9rem}';
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function codeForms(token: string, opts: { codeSent: boolean }): string {
  const t = encodeURIComponent(token);
  const ask = `<form method="post" action="/v1/exports/${t}/code"><button type="submit">${opts.codeSent ? 'Send a new code' : 'Email me a code'}</button></form>`;
  const enter = `<form method="post" action="/v1/exports/${t}/download"><p><label for="code">Code from the email</label><br><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required> <button type="submit">Download</button></p></form>`;
  return `${ask}${enter}<p class="note">The code is valid for 10 minutes and works once. After ${CODE_MAX_ATTEMPTS} wrong codes the link locks.</p>`;
}

function sendPage(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .send(page(title, body));
}

const wantsHtml = (request: FastifyRequest) => /\btext\/html\b/i.test(String(request.headers.accept ?? ''));
const isPersonRoute = (request: FastifyRequest) => request.routeOptions.url?.startsWith('/v1/exports/') ?? false;

const routes: FastifyPluginAsyncZod = async (app) => {
  const { exportLinks, exportTransmissions, idempotency } = app.services;

  // An HTML form posts application/x-www-form-urlencoded; only these routes accept it, and only a small body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // On the person's routes, a browser gets the problem as a page; everything else goes to the one error handler.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (!isPersonRoute(request) || !wantsHtml(request) || !HTML_STATUSES.has(status)) throw err;
    const detail = status === 400 ? 'The code must be the 6 digits from the email.' : typeof err.code === 'string' && err.code.startsWith('EXPORT_') ? err.message : 'The request could not be handled.';
    if (status === 429 || status === 503) reply.header('retry-after', '60');
    const token = (request.params as { token?: string }).token ?? '';
    const retry = status === 400 || err.code === 'EXPORT_CODE_INVALID' || err.code === 'EXPORT_CODE_TOO_SOON' || err.code === 'EXPORT_CODE_NOT_SENT';
    const title = status === 410 ? 'This link no longer works' : status === 404 ? 'Link not found' : 'Download your data';
    return sendPage(reply, status, title, `<p>${escapeHtml(detail)}</p>${retry ? codeForms(token, { codeSent: true }) : ''}`);
  });

  app.post(
    '/v1/rights-requests/:id/export-links',
    {
      config: { scopes: ['exports:read'] },
      schema: {
        operationId: 'createExportLink',
        tags,
        summary: 'Issue a download link for the person (Art. 15(3), 20)',
        description:
          "A link to hand to the person: `url` is PUBLIC_BASE_URL + /v1/exports/{token} (32 random bytes, base64url; only its SHA-256 is kept, so the url is shown only in this answer). It lives `ttl_hours` (1-720, default the tenant's export_link_ttl_hours, 168) and allows `max_downloads` downloads (1-20, default export_link_max_downloads, 3). Each download needs a one-time code mailed to the person's email identifier (Art. 32). The first copy is free (Art. 15(3)); for a further one a `fee` ({amount, currency}) may be recorded in the audit trail — a fee on the first copy is a 400. Refused with a 409 EXPORT_NOT_APPROVED until the DPO has approved the package (Art. 15(4)), and with a 410 EXPORT_DATA_DELETED once its data is deleted. Scope exports:read.",
        headers: IdempotencyHeaders,
        params: RequestParams,
        body: CreateLinkBody,
        response: {
          201: ExportLinkCreatedSchema,
          ...problems(404, 409, 413, 415),
          410: ProblemSchema.describe('The gathered data has been deleted (EXPORT_DATA_DELETED)'),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const created = await idempotency.respond(
        request,
        reply,
        async (tx) => ({ status: 201, body: await exportLinks.create(p, request.params.id, request.body, tx) }),
        exportLinks.createdReplay,
      );
      return { id: created.id, url: created.url, expires_at: created.expires_at, max_downloads: created.max_downloads };
    },
  );

  app.get(
    '/v1/rights-requests/:id/export-links',
    {
      config: { scopes: ['exports:read'] },
      schema: {
        operationId: 'listExportLinks',
        tags,
        summary: "A request's download links",
        description: 'Every link issued for the request, newest first, with its status (active, expired, exhausted, revoked, locked) and the downloads made; never the token. Scope exports:read.',
        params: RequestParams,
        response: { 200: z.object({ items: z.array(ExportLinkSchema) }).meta({ id: 'ExportLinkList' }), ...problems(404) },
      },
    },
    async (request) => exportLinks.list(principalOf(request).tenantId, request.params.id),
  );

  app.delete(
    '/v1/rights-requests/:id/export-links/:link_id',
    {
      config: { scopes: ['exports:read'] },
      schema: {
        operationId: 'revokeExportLink',
        tags,
        summary: 'Revoke a download link',
        description: 'The link stops working at once (410 for the person); recorded in the audit trail. Revoking a revoked link changes nothing. An unknown link, or another tenant\'s, is a 404. Scope exports:read.',
        params: LinkParams,
        response: { 204: z.null().describe('Revoked'), ...problems(404) },
      },
    },
    async (request, reply) => {
      await exportLinks.revoke(principalOf(request), request.params.id, request.params.link_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/exports/:token',
    {
      schema: {
        operationId: 'exportLinkPage',
        tags,
        summary: "The person's download page (no service token)",
        description:
          "What the person opens: an HTML page naming the controller, with a button that emails a one-time code to the person's email identifier (POST …/code) and a form that takes the code and downloads the ZIP (POST …/download). Escaped values, no script, a strict Content-Security-Policy, Cache-Control: no-store, Referrer-Policy: no-referrer. An unknown token is a 404; an expired, exhausted, revoked or locked link, or one whose data was deleted, is a 410 — an HTML page for a browser (Accept: text/html), a problem otherwise.",
        security: [],
        params: TokenParams,
        response: {
          200: { description: 'The download page', content: { 'text/html': { schema: HTML } } },
          ...pageOrProblem(404),
          410: gone(GONE_WHY),
        },
      },
    },
    async (request, reply) => {
      const { token } = request.params;
      const info = await exportLinks.page(token);
      const left = `${info.downloadsLeft} download${info.downloadsLeft === 1 ? '' : 's'}`;
      return sendPage(
        reply,
        200,
        'Download your data',
        `<p>${escapeHtml(info.controller)} has prepared a copy of your personal data for you.</p><p>To protect it, we email a one-time code to your address on file; enter it below to download the file (ZIP). This link works until ${escapeHtml(info.expiresAt.toISOString().replace('T', ' ').slice(0, 16))} UTC, for ${left}.</p>${codeForms(token, { codeSent: info.codeSentUntil !== null })}`,
      );
    },
  );

  app.post(
    '/v1/exports/:token/code',
    {
      schema: {
        operationId: 'sendExportCode',
        tags,
        summary: 'Email the person a one-time code (Art. 32; no service token)',
        description:
          "Sends a 6-digit code, valid 10 minutes and usable once, to the person's email identifier; the email holds the code and the controller's name only. A new code replaces the previous one (at most one a minute: 429 EXPORT_CODE_TOO_SOON). Without an SMTP transport (SMTP_URL) or without an email identifier the link cannot release the package: 409 EXPORT_CODE_UNAVAILABLE, and the CRM must fetch the package with a service token instead. A failed send is a 503 EXPORT_CODE_NOT_SENT. Takes no body (an empty form or JSON object is fine). A browser (Accept: text/html) gets the page again with the code form.",
        security: [],
        params: TokenParams,
        body: z.object({}).strict().nullish(),
        response: {
          202: { description: 'The code was sent', content: { 'application/json': { schema: CodeSentSchema }, 'text/html': { schema: HTML } } },
          ...pageOrProblem(404, 409, 413, 415),
          410: gone(GONE_WHY),
        },
      },
    },
    async (request, reply) => {
      const { token } = request.params;
      const sent = await exportLinks.sendCode(token);
      if (wantsHtml(request)) {
        return sendPage(reply, 202, 'Download your data', `<p>We have emailed you a code. It is valid for 10 minutes.</p>${codeForms(token, { codeSent: true })}`);
      }
      return reply.code(202).header('cache-control', 'no-store').send({ sent: true as const, expires_at: sent.expiresAt.toISOString() });
    },
  );

  app.post(
    '/v1/exports/:token/download',
    {
      schema: {
        operationId: 'downloadExport',
        tags,
        summary: 'Download the package with the one-time code (no service token)',
        description: `Takes \`code\` (JSON, or an HTML form post) and streams the package as application/zip. The code works once; each download counts against the link's budget and is recorded, with its time, in the request's audit trail (export.downloaded). A wrong or expired code is a 403 EXPORT_CODE_INVALID saying how many attempts are left; the ${CODE_MAX_ATTEMPTS}th wrong code locks the link for good (410; issue a new link). A browser (Accept: text/html) gets problems as HTML pages.`,
        security: [],
        params: TokenParams,
        body: CodeBody,
        response: {
          200: {
            description: 'The package (ZIP): manifest and files, with Content-Disposition: attachment',
            content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } },
          },
          ...pageOrProblem(403, 404, 413, 415),
          410: gone(GONE_WHY),
        },
      },
    },
    async (request, reply) => {
      const opened = await exportLinks.download(request.params.token, request.body.code);
      return reply
        .code(200)
        .headers({ ...packageHeaders(opened.filename), 'referrer-policy': 'no-referrer' })
        .send(opened.stream as never);
    },
  );

  app.post(
    '/v1/rights-requests/:id/transmit',
    {
      config: { scopes: ['requests:admin'] },
      schema: {
        operationId: 'transmitExport',
        tags,
        summary: 'Send a portability package to another controller (Art. 20(2))',
        description:
          "POSTs the approved portability package to `url` as application/zip, signed like a webhook (webhook-id, webhook-timestamp, webhook-signature: v1,base64 HMAC-SHA256 over `id.timestamp.` followed by the raw ZIP bytes, keyed with the tenant's transmission secret, GET /v1/transmission-secret). The URL passes the webhook address guard: https only, no credentials, public addresses only, checked again at connect time; no redirects are followed; the whole exchange is bounded (5 minutes). The answer (status code, when, size) is recorded in the audit trail (export.transmitted or export.transmission_failed). A receiver that does not answer 2xx, or cannot be reached, is a 502 TRANSMISSION_FAILED. Only for portability requests (409 NOT_PORTABILITY); 409 before the DPO approved the package, 410 once its data is deleted. Scope requests:admin.",
        params: RequestParams,
        body: TransmitBody,
        response: {
          200: TransmitResultSchema,
          ...problems(404, 409, 413, 415),
          410: ProblemSchema.describe('The gathered data has been deleted'),
          502: ProblemSchema.describe('The receiver did not answer 2xx in time, or could not be reached (TRANSMISSION_FAILED; the detail says which)'),
        },
      },
    },
    async (request, reply) => {
      const result = await exportTransmissions.transmit(principalOf(request), request.params.id, request.body.url);
      if (result.error) return sendProblem(reply, problem(502, 'TRANSMISSION_FAILED', 'Bad gateway', `The package was not delivered: ${result.error}`));
      return { ...result, error: null };
    },
  );

  app.get(
    '/v1/transmission-secret',
    {
      config: { scopes: ['requests:admin'] },
      schema: {
        operationId: 'getTransmissionSecret',
        tags,
        summary: "The key that signs the tenant's Art. 20(2) transmissions",
        description:
          "Give it to a receiving controller so it can check a transmission's webhook-signature: HMAC-SHA256, keyed with the base64-decoded part after whsec_, over the webhook-id, a dot, the webhook-timestamp, a dot, then the raw body bytes; compare it with the value after v1,. Derived from the master key and the tenant id: it changes only when the master key does. Scope requests:admin.",
        response: { 200: TransmissionSecretSchema, ...problems() },
      },
    },
    async (request) => ({ secret: exportTransmissions.secret(principalOf(request).tenantId) }),
  );
};
export default routes;
