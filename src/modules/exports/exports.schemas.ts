import { z } from 'zod';
import { TASK_STATUSES } from '../tasks/tasks.table.js';

/** Rightful's own part of an export: the categories a redaction of it (system_id null) may name. */
export const RIGHTFUL_CATEGORIES = ['identifiers', 'consents', 'ledger', 'objections', 'restriction', 'requests', 'purposes'] as const;

const Category = z.string().trim().min(1).max(100).meta({ pattern: '\\S' });

export const ExportParams = z.object({ id: z.uuid() });
export const PartParams = z.object({ id: z.uuid(), task_id: z.uuid() });
export const UploadCallbackParams = z.object({ token: z.string().min(1).max(200) });

export const UploadQuery = z
  .object({
    provided_categories: z
      .string()
      .max(2000)
      .optional()
      .describe(
        'Comma-separated names of the categories (top-level keys of the body) that the person provided, observed data included (WP242): what a portability export carries (Art. 20). Each 1-100 characters, at most 50.',
      ),
  })
  .strict();

export const UploadedPartSchema = z
  .object({
    task_id: z.uuid(),
    request_id: z.uuid(),
    system_id: z.uuid().nullable(),
    task_status: z.enum(TASK_STATUSES).describe('The task after the upload: completed'),
    bytes: z.number().int().describe('Size of the part as uploaded'),
    sha256: z.string().describe('SHA-256 of the part as uploaded, hex'),
    provided_categories: z.array(z.string()),
  })
  .meta({ id: 'ExportPartUploaded', description: "A system's part of an export, stored (sealed) and its task completed" });

const Redaction = z.object({
  system_id: z.uuid().nullable().describe("The system whose part is redacted; null: Rightful's own part"),
  categories: z.array(z.string()).nullable().describe('The categories removed; null: the whole part'),
  reason_given: z.boolean().describe('Whether the DPO gave a reason (kept sealed in the audit trail)'),
});

export const ExportSchema = z
  .object({
    request_id: z.uuid(),
    request_type: z.enum(['access', 'portability']),
    status: z
      .enum(['gathering', 'ready', 'approved', 'deleted'])
      .describe(
        "gathering: export tasks still waiting for their system; ready: every system answered (or its task was failed), waiting for the DPO's review; approved: the DPO released it (Art. 15(4)); deleted: the gathered data was deleted (retention or erasure)",
      ),
    tasks: z
      .object({
        total: z.number().int(),
        open: z.number().int().describe('Tasks still waiting for their system (pending or acknowledged)'),
        completed: z.number().int(),
        failed: z.number().int(),
        waiting_on: z
          .array(z.object({ task_id: z.uuid(), system_id: z.uuid().nullable(), system_name: z.string().nullable(), status: z.enum(['pending', 'acknowledged', 'failed']) }))
          .describe('The export tasks not closed yet (a failed one until it is retried and answered, or completed)'),
      })
      .describe("The systems' export tasks"),
    parts: z.array(
      z.object({
        task_id: z.uuid(),
        system_id: z.uuid().nullable(),
        system_name: z.string().nullable(),
        bytes: z.number().int(),
        sha256: z.string(),
        provided_categories: z.array(z.string()),
        uploaded_at: z.iso.datetime(),
      }),
    ),
    redactions: z.array(Redaction).describe("What the DPO removed before release (Art. 15(4): others' rights and freedoms)"),
    approved_at: z.iso.datetime().nullable(),
    approved_by: z.string().nullable(),
    copies: z.number().int().describe('Copies handed out (downloads by the service, links used, transmissions); Art. 15(3): the first is free'),
    data_deleted_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Export', description: 'An access (Art. 15) or portability (Art. 20) export: its gathering, the review and the copies' });
export type ExportView = z.infer<typeof ExportSchema>;

export const ApproveExportBody = z
  .object({
    redactions: z
      .array(
        z
          .object({
            system_id: z.uuid().nullable().describe("The system whose part is redacted; null for Rightful's own part"),
            categories: z
              .array(Category)
              .min(1)
              .max(50)
              .optional()
              .describe(`The categories to remove (top-level keys of the system's part; for Rightful's own part: ${RIGHTFUL_CATEGORIES.join(', ')}); absent: the whole part`),
            reason: z.string().trim().min(1).max(2000).meta({ pattern: '\\S' }).optional().describe('Why, for the record; stored encrypted'),
          })
          .strict(),
      )
      .max(100)
      .optional()
      .describe("Art. 15(4): what is withheld because it would adversely affect others' rights and freedoms"),
  })
  .strict()
  .meta({ id: 'ApproveExport' });
export type ApproveExport = z.infer<typeof ApproveExportBody>;
