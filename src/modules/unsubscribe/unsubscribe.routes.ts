// One-click unsubscribe (RFC 8058): the CRM mints a link per person and purpose; mail providers POST it with the body
// List-Unsubscribe=One-Click, as a form. Only these routes accept form bodies (small ones): the parsers are
// registered in this encapsulated plugin, so every other route still answers 415 to them.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BadRequest } from '../../lib/errors.js';
import { problems } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import { PurposeKeySchema } from '../purposes/purposes.schemas.js';
import { SubjectParams } from '../subjects/subjects.schemas.js';

const FORM_LIMIT = 4096;

const CreateLinkBody = z.object({ purpose: PurposeKeySchema }).strict().meta({ id: 'CreateUnsubscribeLink' });
const UnsubscribeLinkSchema = z
  .object({
    url: z.string().describe('PUBLIC_BASE_URL + /v1/unsubscribe/{token}; the token holds ids and a MAC only, and does not expire'),
    list_unsubscribe: z.string().describe('The value of the List-Unsubscribe header: <url>'),
    list_unsubscribe_post: z.literal('List-Unsubscribe=One-Click').describe('The value of the List-Unsubscribe-Post header (RFC 8058)'),
  })
  .meta({ id: 'UnsubscribeLink', description: 'The headers to put in every email of the purpose to the person' });
const TokenParams = z.object({ token: z.string().max(100).describe('The token from the link (75 base64url characters)') });
const OneClickBody = z
  .object({ 'List-Unsubscribe': z.literal('One-Click') })
  .strict()
  .meta({ id: 'OneClickUnsubscribe', description: 'List-Unsubscribe=One-Click, as application/x-www-form-urlencoded or multipart/form-data (RFC 8058)' });
const UnsubscribedSchema = z
  .object({ unsubscribed: z.literal(true) })
  .meta({ id: 'Unsubscribed', description: 'The person is unsubscribed from the purpose (also when they already were)' });
const HTML = z.string().describe('A small self-contained HTML page');

// ------------------------------------------------------------------ the page

type Texts = { heading: string; question: (t: string) => string; button: string; done: (t: string) => string };
const TEXTS: Record<string, Texts> = {
  en: { heading: 'Unsubscribe', question: (t) => `Stop receiving “${t}”?`, button: 'Unsubscribe', done: (t) => `You are unsubscribed from “${t}”.` },
  bg: { heading: 'Отписване', question: (t) => `Да спрем ли „${t}“?`, button: 'Отпиши ме', done: (t) => `Отписахте се от „${t}“.` },
  de: { heading: 'Abmelden', question: (t) => `„${t}“ nicht mehr erhalten?`, button: 'Abmelden', done: (t) => `Sie sind von „${t}“ abgemeldet.` },
};
const textsOf = (locale: string) => TEXTS[locale] ?? TEXTS[locale.split('-')[0]!] ?? TEXTS.en!;

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}button{font-size:1rem;padding:.6rem 1.2rem;background:#1a56db;color:#fff;border:0;border-radius:.3rem;cursor:pointer}';
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function sendPage(reply: FastifyReply, locale: string, heading: string, body: string): FastifyReply {
  const html = `<!doctype html><html lang="${escapeHtml(locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(heading)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(heading)}</h1>${body}</body></html>`;
  return reply
    .code(200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .send(html);
}

// ------------------------------------------------------------------ form bodies

/** The fields of a multipart/form-data body (RFC 7578), enough for the one short field mail providers send. */
function multipartFields(contentType: string, body: string): Record<string, string> {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  if (!m) throw new BadRequest('A multipart/form-data body needs a boundary');
  const boundary = `--${m[1] ?? m[2]}`;
  const fields: [string, string][] = [];
  for (const part of body.split(boundary).slice(1)) {
    if (part.startsWith('--')) break;
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) throw new BadRequest('A part of the multipart/form-data body is malformed');
    const name = /content-disposition:\s*form-data;[^\r\n]*?\bname="([^"\r\n]*)"/i.exec(part.slice(0, split))?.[1];
    if (name !== undefined) fields.push([name, part.slice(split + 4).replace(/\r\n$/, '')]);
  }
  // fromEntries defines own properties: a field named __proto__ stays a field.
  return Object.fromEntries(fields);
}

const wantsHtml = (request: FastifyRequest) => /\btext\/html\b/i.test(String(request.headers.accept ?? ''));

const routes: FastifyPluginAsyncZod = async (app) => {
  const { unsubscribe } = app.services;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (req, body, done) => {
    try {
      done(null, multipartFields(String(req.headers['content-type'] ?? ''), body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.post(
    '/v1/subjects/:id/unsubscribe-links',
    {
      config: { scopes: ['subjects:write'] },
      schema: {
        operationId: 'createUnsubscribeLink',
        tags: ['subjects'],
        summary: 'Mint a one-click unsubscribe link for emails (RFC 8058; Art. 21(2), 7(3))',
        description:
          'For every email of `purpose` to the person, put `List-Unsubscribe: <url>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` in the headers (and the url in the footer). The token in the url holds the tenant and subject ids and a locator of the purpose, signed with a key derived from the master key: no personal data, and no expiry, since emails are read months later; the same person and purpose always give the same url. The purpose must be direct marketing (any legal basis) or rest on consent, else a 422 UNSUBSCRIBE_NOT_APPLICABLE; an unknown purpose is a 422 UNKNOWN_PURPOSE; an unknown subject, or another tenant\'s, a 404; an erased one a 409 SUBJECT_ERASED. Scope subjects:write.',
        params: SubjectParams,
        body: CreateLinkBody,
        response: { 201: UnsubscribeLinkSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return unsubscribe.createLink(principalOf(request).tenantId, request.params.id, request.body.purpose);
    },
  );

  app.get(
    '/v1/unsubscribe/:token',
    {
      schema: {
        operationId: 'unsubscribePage',
        tags: ['subjects'],
        summary: 'The unsubscribe page (no login)',
        description:
          "A small HTML page naming the purpose (its title, nothing about the person) with one button that POSTs List-Unsubscribe=One-Click to the same URL. Opening it changes nothing, so a mail scanner following links does not unsubscribe anyone (RFC 8058). Escaped text, no script, a strict Content-Security-Policy, Cache-Control: no-store, Referrer-Policy: no-referrer. A token that names nothing is a 404.",
        security: [],
        params: TokenParams,
        response: {
          200: { description: 'The page with the unsubscribe button', content: { 'text/html': { schema: HTML } } },
          ...problems(404),
        },
      },
    },
    async (request, reply) => {
      const { title, locale } = await unsubscribe.page(request.params.token);
      const T = textsOf(locale);
      const action = `/v1/unsubscribe/${encodeURIComponent(request.params.token)}`;
      return sendPage(
        reply,
        locale,
        T.heading,
        `<p>${escapeHtml(T.question(title))}</p><form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">${escapeHtml(T.button)}</button></form>`,
      );
    },
  );

  app.post(
    '/v1/unsubscribe/:token',
    {
      schema: {
        operationId: 'unsubscribeOneClick',
        tags: ['subjects'],
        summary: 'One-click unsubscribe (RFC 8058; no login)',
        description: `What a mail provider sends when the person clicks "unsubscribe": the body List-Unsubscribe=One-Click, as application/x-www-form-urlencoded or multipart/form-data (at most ${FORM_LIMIT} bytes). For a direct-marketing purpose (whatever its legal basis) it records an upheld objection to that purpose at once (Art. 21(2)-(3)); for a purpose on consent that is granted, a withdrawal (Art. 7(3)); both with source web_form and evidence form_id list-unsubscribe (and the user agent). Answers 200 {"unsubscribed": true}, also on a repeat (which records nothing new) and for a person who was erased (nothing left to stop); a browser posting the page's form (Accept: text/html) gets a confirmation page instead. Another body is a 400; a token that names nothing a 404.`,
        security: [],
        consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'],
        params: TokenParams,
        body: OneClickBody,
        response: {
          200: {
            description: 'Unsubscribed: {"unsubscribed": true}, or for a browser (Accept: text/html) a confirmation page',
            content: { 'application/json': { schema: UnsubscribedSchema }, 'text/html': { schema: HTML } },
          },
          ...problems(404, 413, 415),
        },
      },
    },
    async (request, reply) => {
      await unsubscribe.unsubscribe(request.params.token, request.headers['user-agent']);
      if (wantsHtml(request)) {
        const { title, locale } = await unsubscribe.page(request.params.token);
        const T = textsOf(locale);
        return sendPage(reply, locale, T.heading, `<p>${escapeHtml(T.done(title))}</p>`);
      }
      return reply.code(200).header('cache-control', 'no-store').send({ unsubscribed: true as const });
    },
  );
};
export default routes;
