// Routes of access and portability exports: gathering, the systems' uploads, the DPO's review, the export's state
// and the package for a CRM that delivers it itself.
import type { Readable } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from '../../lib/problem.js';
import { problems, type ProblemStatus } from '../../lib/schemas.js';
import { principalOf } from '../../plugins/auth.js';
import {
  ApproveExportBody,
  ExportParams,
  ExportSchema,
  PartParams,
  RIGHTFUL_CATEGORIES,
  UploadCallbackParams,
  UploadedPartSchema,
  UploadQuery,
} from './exports.schemas.js';

const tags = ['rights-requests'];

/** The body of an upload, for the contract only: the route reads it as a stream, checking it as it arrives. */
const PartBody = z.unknown().meta({
  id: 'ExportPart',
  type: 'object',
  description:
    "A system's part of an export: one JSON object whose keys are the system's data categories and whose values are arrays of objects (records) or objects. Streamed; at most EXPORT_PART_MAX_BYTES (default 50 MB).",
  additionalProperties: { anyOf: [{ type: 'array', items: { type: 'object' } }, { type: 'object' }] },
  example: { contacts: [{ email: 'person@example.com', name: 'A. Person' }], preferences: { newsletter: true } },
});

const UPLOAD_TEXT =
  'The body is one JSON object of data categories, each an array of objects or an object, streamed and never held whole: above EXPORT_PART_MAX_BYTES (default 50 MB) it is a 413 EXPORT_PART_TOO_LARGE; not valid UTF-8, not JSON, or not of that shape, a 400 VALIDATION_FAILED naming the field. It is sealed in chunks of 1 MiB under the person\'s data key (crypto-shredded on erasure), with its SHA-256 and size, and the task is completed in the same transaction: a refused upload stores nothing and leaves the task open. `provided_categories` names the categories the person provided (observed data included): what a portability export carries (Art. 20). A task that is not an open export task of an export still gathering, or that has a part already, is a 409 EXPORT_UPLOAD_NOT_ALLOWED. A system with nothing to give answers `completed` through its callback link instead.';

/** Uploads take the body as a raw stream: this plugin's own parser hands it through, so it is counted, checked and
 * sealed as it arrives. Encapsulated: every other route keeps the strict JSON parser. */
const uploads: FastifyPluginAsyncZod = async (app) => {
  const { exports } = app.services;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (_request, payload, done) => done(null, payload));
  const declared = (h: string | undefined) => (h && /^\d+$/.test(h) ? Number(h) : undefined);

  app.put(
    '/v1/task-callbacks/:token/data',
    {
      schema: {
        operationId: 'uploadExportPartByCallback',
        tags,
        summary: "A system uploads its part of an export (no service token)",
        description: `The system's answer to export.requested, through the \`upload_url\` it was sent (its task's callback link, bound to the task's current send). The upload is the final answer: the task is completed and the link used (a 409 CALLBACK_USED afterwards). An unknown or superseded link is a 404 CALLBACK_NOT_FOUND. ${UPLOAD_TEXT}`,
        security: [],
        params: UploadCallbackParams,
        querystring: UploadQuery,
        body: PartBody,
        response: { 200: UploadedPartSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) =>
      exports.upload({ kind: 'callback', token: request.params.token }, request.body as Readable, {
        providedCategories: request.query.provided_categories,
        declaredBytes: declared(request.headers['content-length']),
      }),
  );

  app.put(
    '/v1/rights-requests/:id/tasks/:task_id/data',
    {
      config: { scopes: ['requests:write'] },
      schema: {
        operationId: 'uploadExportPart',
        tags,
        summary: "Upload a system's part of an export for it",
        description: `A client uploads the data a system gave (a system without an API, its export sent by other means). ${UPLOAD_TEXT}`,
        params: PartParams,
        querystring: UploadQuery,
        body: PartBody,
        response: { 200: UploadedPartSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) =>
      exports.upload({ kind: 'client', actor: principalOf(request), requestId: request.params.id, taskId: request.params.task_id }, request.body as Readable, {
        providedCategories: request.query.provided_categories,
        declaredBytes: declared(request.headers['content-length']),
      }),
  );
};

/** 410: the export's gathered data was deleted. */
const gone = { 410: ProblemSchema.describe("The export's gathered data was deleted: its retention period after the request closed ended, or the person was erased (EXPORT_DATA_DELETED)") };

/** Problem responses, each declared with its media type (an operation whose success is not JSON). */
function problemsAs(...extra: ProblemStatus[]) {
  return Object.fromEntries(
    Object.entries({ ...problems(...extra), ...gone }).map(([status, schema]) => [
      status,
      { description: schema.description ?? 'Problem', content: { 'application/problem+json': { schema } } },
    ]),
  );
}

const PackageSchema = z.string().meta({
  format: 'binary',
  description: 'The package: a ZIP archive, streamed',
  headers: {
    'content-disposition': { type: 'string', description: 'attachment; filename="<kind>-export-<request id>-<date>.zip"' },
  },
});

const others: FastifyPluginAsyncZod = async (app) => {
  const { exports } = app.services;

  app.post(
    '/v1/rights-requests/:id/gather',
    {
      config: { scopes: ['requests:admin'] },
      schema: {
        operationId: 'gatherExport',
        tags,
        summary: 'Gather the export of an access or portability request (Art. 15, 20)',
        description:
          "Starts the export of an open access (Art. 15) or portability (Art. 20) request whose identity is not awaited: every connected system that handles export gets a task and is sent export.requested, addressed to it alone, with the person's identifiers, its callback link and the `upload_url` it PUTs its part to. When every export task is closed (or at once, with no such system) the export is ready and export.ready is sent: the DPO then reviews it. The gathered data is deleted the tenant's export_retention_days after the request closes, or at once if the person is erased. Another type of request, a closed one, one awaiting identity, or gathering twice is a 409 EXPORT_NOT_ALLOWED. Scope requests:admin.",
        params: ExportParams,
        response: { 200: ExportSchema, ...problems(404, 409, 413, 415) },
      },
    },
    async (request) => exports.gather(principalOf(request), request.params.id),
  );

  app.get(
    '/v1/rights-requests/:id/export',
    {
      config: { scopes: ['requests:read'] },
      schema: {
        operationId: 'getExport',
        tags,
        summary: "An export's state",
        description:
          "Its status (gathering, ready, approved, deleted), the systems' export tasks (who has not answered yet), the parts uploaded (system, size, SHA-256, categories provided), the DPO's redactions and the copies handed out. A request without an export is a 404 EXPORT_NOT_FOUND.",
        params: ExportParams,
        response: { 200: ExportSchema, ...problems(404) },
      },
    },
    async (request) => exports.get(principalOf(request).tenantId, request.params.id),
  );

  app.post(
    '/v1/rights-requests/:id/export/approve',
    {
      config: { scopes: ['requests:admin'] },
      schema: {
        operationId: 'approveExport',
        tags,
        summary: "The DPO's review: release the export (Art. 15(4))",
        description: `The DPO releases the export once every export task is closed (a system that never answers: fail its task, then approve; otherwise a 409 EXPORT_NOT_ALLOWED), withholding with \`redactions\` what would adversely affect the rights and freedoms of others (Art. 15(4)): a system's whole part, or categories of it (\`system_id\` null: Rightful's own part, whose categories are ${RIGHTFUL_CATEGORIES.join(', ')}). What was redacted, and whether a reason was given, is in the audit trail; the reasons are stored encrypted. Approving twice is a 409; an export whose data was deleted, a 410. Scope requests:admin.`,
        params: ExportParams,
        body: ApproveExportBody,
        response: { 200: ExportSchema, ...problems(404, 409, 413, 415), ...gone },
      },
    },
    async (request) => exports.approve(principalOf(request), request.params.id, request.body),
  );

  app.get(
    '/v1/rights-requests/:id/export/package',
    {
      config: { scopes: ['exports:read'] },
      schema: {
        operationId: 'downloadExportPackage',
        tags,
        summary: 'Download the package of an approved export',
        description:
          "For a CRM that delivers the package to the person itself (handed only to the verified person, Art. 32): the ZIP, streamed, as the person's download link gives it. Each download is a copy, counted and recorded in the audit trail (Art. 15(3): the first copy is free). Before the DPO's approval it is a 409 EXPORT_NOT_APPROVED; once the gathered data was deleted (retention, erasure), a 410 EXPORT_DATA_DELETED. Scope exports:read.",
        params: ExportParams,
        produces: ['application/zip'],
        response: { 200: PackageSchema, ...problemsAs(404, 409) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const opened = await exports.openPackage(principal.tenantId, request.params.id, { by: principal.clientId, via: 'service' });
      return reply.type('application/zip').header('content-disposition', `attachment; filename="${opened.filename}"`).send(opened.stream as never);
    },
  );
};

export default fp(
  async (app) => {
    await app.register(uploads);
    await app.register(others);
  },
  { name: 'exports-routes' },
);
