// The person's own API: every route takes a subject token (a portal link's), never a service token, and reaches only
// that person's data. Localised by Accept-Language (en, bg, de), falling back to the tenant's default locale.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from '../../lib/problem.js';
import { problems } from '../../lib/schemas.js';
import { subjectOf } from '../../plugins/auth.js';
import { tenantOf } from '../tenants/index.js';
import { PORTAL_CODE_MAX_ATTEMPTS } from '../portal/portal.codes.js';
import { packageHeaders } from '../exports/exports.links.js';
import {
  MeCodeBody,
  MeCodeSentSchema,
  MeConsentBody,
  MeConsentResultSchema,
  MeCreateRequestBody,
  MeDownloadBody,
  MeDownloadParams,
  MeObjectionBody,
  MeObjectionResultSchema,
  MeRequestCreatedSchema,
  MeRequestListSchema,
  MeSchema,
} from './me.schemas.js';

const tags = ['me'];
const config = { subject: true };
const LanguageHeaders = z.object({
  'accept-language': z.string().max(500).optional().describe('The texts are in the first of en, bg, de it names; else the tenant default locale'),
});
const codeProblem = (what: string) => ProblemSchema.describe(what);

const routes: FastifyPluginAsyncZod = async (app) => {
  const { me } = app.services;
  const person = (request: Parameters<typeof subjectOf>[0]) => {
    const s = subjectOf(request);
    return { tenantId: s.tenantId, subjectId: s.subjectId };
  };

  app.get(
    '/v1/me',
    {
      config,
      schema: {
        operationId: 'getMe',
        tags,
        summary: 'What the controller processes about me, and my choices (Art. 12-15, 21)',
        description:
          "For the person holding a subject token (a portal link's): the controller's name and colour, every purpose of the register in the person's language (Accept-Language: en, bg or de; else the tenant's default locale) with its legal basis, data categories and retention, the consent state and what the person can do about it (grant or withdraw where the basis is consent, Art. 7(3); object where Art. 21 allows), the person's own rights requests with their due dates (newest first) and the exports approved for them. Never the person's identifiers. A service token here is a 401, as is an expired, forged or erased person's token.",
        headers: LanguageHeaders,
        response: { 200: MeSchema, ...problems(404) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return me.overview(person(request), request.headers['accept-language']);
    },
  );

  app.post(
    '/v1/me/consents',
    {
      config,
      schema: {
        operationId: 'recordMyConsent',
        tags,
        summary: 'Give or withdraw my consent (Art. 7)',
        description:
          "Grants or withdraws consent for one purpose, with the version the page showed (`purpose_version`): an older version than the register's current one is a 409 PURPOSE_VERSION_STALE, so the person reads the current text first (Art. 7(1)). Recorded in the consent ledger at once, source web_form, with the browser's user agent and form_id portal as evidence; withdrawing is the same single call as granting (Art. 7(3)). A purpose on another legal basis is a 409 NOT_ON_CONSENT (an objection may apply); an unknown purpose a 404.",
        body: MeConsentBody,
        response: { 201: MeConsentResultSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return me.consent(person(request), request.body, request.headers['user-agent']);
    },
  );

  app.post(
    '/v1/me/objections',
    {
      config,
      schema: {
        operationId: 'recordMyObjection',
        tags,
        summary: 'Object (Art. 21, 22)',
        description:
          'The same rules as POST /v1/subjects/{id}/objections. direct_marketing: absolute and at once (Art. 21(2)-(3)), for every direct-marketing purpose or the ones named. processing (purposes required; `grounds` optional, up to 5000 characters): opens an objection request the controller assesses within the deadline (Art. 21(1)); request_id names it. automated_decisions: Art. 22. Source web_form, form_id portal. A purpose the objection cannot apply to is a 422 OBJECTION_NOT_APPLICABLE; an unknown one a 422 UNKNOWN_PURPOSE.',
        body: MeObjectionBody,
        response: { 201: MeObjectionResultSchema, ...problems(404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return me.object(tenantOf(request), person(request), request.body, request.headers['user-agent']);
    },
  );

  app.get(
    '/v1/me/rights-requests',
    {
      config,
      schema: {
        operationId: 'listMyRightsRequests',
        tags,
        summary: 'My rights requests',
        description: "The person's own requests, newest first (up to 200), each with its status and due date (Art. 12(3)) and whether the deadline was extended.",
        response: { 200: MeRequestListSchema, ...problems(404) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return me.requests(person(request));
    },
  );

  app.post(
    '/v1/me/rights-requests',
    {
      config,
      schema: {
        operationId: 'fileMyRightsRequest',
        tags,
        summary: 'File a rights request (Arts. 15-22)',
        description: `Files a request by the web channel, received now: its deadline is counted from receipt like any other (Art. 12(3)), and the DPO is alerted as usual. An erasure needs \`code\`, a one-time code from POST /v1/me/codes with action erasure (Art. 32: a forwarded portal link alone cannot erase someone): without one it is a 403 CODE_REQUIRED; a wrong, expired or used one a 403 CODE_INVALID (${PORTAL_CODE_MAX_ATTEMPTS} wrong attempts spend the code). A rectification needs \`corrections\`, a restriction \`restriction_ground\`. The request's language is the first of Accept-Language that is en, bg or de (else the tenant default).`,
        headers: LanguageHeaders,
        body: MeCreateRequestBody,
        response: {
          201: MeRequestCreatedSchema,
          ...problems(404, 409, 413, 415, 422),
          403: codeProblem('An erasure without a code (CODE_REQUIRED), or with a wrong, expired or used one (CODE_INVALID)'),
        },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return me.fileRequest(tenantOf(request), person(request), request.body, request.headers['accept-language']);
    },
  );

  app.post(
    '/v1/me/codes',
    {
      config,
      schema: {
        operationId: 'sendMyCode',
        tags,
        summary: 'Email me a one-time code (Art. 32)',
        description:
          "Sends a 6-digit code to the person's email identifier, for `action` erasure (filing an erasure request) or export (downloading an export). The code lives 10 minutes, allows 5 attempts and works once; a new one replaces the previous one of that action; at most one a minute per action (429 with Retry-After). Only a keyed hash of it is kept. `sent_to` is the masked address. No email identifier: 409 NO_EMAIL_IDENTIFIER; no email transport (SMTP_URL): 503 CODE_UNAVAILABLE; a failed send: 503 CODE_NOT_SENT.",
        body: MeCodeBody,
        response: { 202: MeCodeSentSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      try {
        const sent = await me.sendCode(person(request), request.body.action);
        return reply.code(202).header('cache-control', 'no-store').send(sent);
      } catch (err) {
        const wait = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        if (wait) reply.header('retry-after', String(wait));
        throw err;
      }
    },
  );

  app.post(
    '/v1/me/exports/:request_id/download',
    {
      config,
      schema: {
        operationId: 'downloadMyExport',
        tags,
        summary: 'Download my export with a one-time code (Art. 15(3), 20, 32)',
        description:
          "Streams the approved package of the person's access or portability request as application/zip, against a code from POST /v1/me/codes with action export (a wrong, expired or used one is a 403 CODE_INVALID). Each download is a copy, recorded in the request's audit trail (export.copied, via portal; Art. 15(3)). Not approved yet: 409 EXPORT_NOT_APPROVED; its data deleted: 410 EXPORT_DATA_DELETED; another person's request, or not an export: 404.",
        params: MeDownloadParams,
        body: MeDownloadBody,
        response: {
          200: { description: 'The package (ZIP), with Content-Disposition: attachment', content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } } },
          ...problems(404, 409, 413, 415),
          403: codeProblem('A wrong, expired or used code (CODE_INVALID)'),
          410: ProblemSchema.describe('The gathered data has been deleted (EXPORT_DATA_DELETED)'),
        },
      },
    },
    async (request, reply) => {
      const opened = await me.download(person(request), request.params.request_id, request.body.code);
      return reply.code(200).headers(packageHeaders(opened.filename)).send(opened.stream as never);
    },
  );
};
export default routes;
