import { z } from 'zod';
import { PageMeta, PageQuery } from '../../lib/schemas.js';
import { SYSTEM_HANDLES } from './systems.table.js';

export const SYSTEM_KINDS = ['crm', 'mailing', 'warehouse', 'payment', 'analytics', 'support', 'other'] as const;
export type SystemKind = (typeof SYSTEM_KINDS)[number];
export type SystemHandle = (typeof SYSTEM_HANDLES)[number];

const unique = (xs: readonly string[]) => new Set(xs).size === xs.length;

const Name = z.string().trim().min(1).max(200).meta({ pattern: '\\S' }).describe('What the controller calls the system (1-200 characters, not blank)');
const Kind = z.enum(SYSTEM_KINDS).describe('What sort of system it is');
const DataCategories = z
  .array(z.string().trim().min(1).max(100).meta({ pattern: '\\S' }))
  .max(50)
  .refine(unique, 'must not repeat a category')
  .meta({ uniqueItems: true })
  .describe('The categories of personal data the system holds (at most 50, each 1-100 characters, not blank, none repeated)');
const Handles = z
  .array(z.enum(SYSTEM_HANDLES))
  .max(SYSTEM_HANDLES.length)
  .refine(unique, 'must not repeat an action')
  .meta({ uniqueItems: true })
  .describe('What the system is asked to carry out for a rights request: a task is created for it for each of these. Empty: it is kept for the record (and told as a recipient, when it is one)');
const Recipient = z
  .boolean()
  .describe(
    'A recipient the data was disclosed to (Art. 4(9)): told of every rectification, erasure and restriction (Art. 19), whatever it handles. Always true for a processor; defaults to the value of processor',
  );
const Processor = z
  .boolean()
  .describe('A processor acting for the controller (Art. 4(8), 28). Processors are recipients (Art. 4(9)), so processor true makes recipient true; processor true with recipient false is a 422 PROCESSOR_IS_RECIPIENT');
const EndpointId = z
  .uuid()
  .describe('Reach the system through this webhook endpoint of the tenant (not deleted; else a 422 UNKNOWN_WEBHOOK_ENDPOINT): it receives the events addressed to this system, whatever event types it subscribes to');
const ContactEmail = z
  .email()
  .max(254)
  .describe('Reach a system without an API through its contact: emailed a link to answer each task');

const REACH = 'exactly one of webhook_endpoint_id and contact_email';

export const CreateSystemBody = z
  .object({
    name: Name,
    kind: Kind,
    data_categories: DataCategories.default([]),
    handles: Handles.default([]),
    recipient: Recipient.optional(),
    processor: Processor.default(false),
    webhook_endpoint_id: EndpointId.optional(),
    contact_email: ContactEmail.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const both = b.webhook_endpoint_id !== undefined && b.contact_email !== undefined;
    const neither = b.webhook_endpoint_id === undefined && b.contact_email === undefined;
    if (both || neither) {
      for (const path of ['webhook_endpoint_id', 'contact_email']) ctx.addIssue({ code: 'custom', path: [path], message: `give ${REACH}` });
    }
  })
  .meta({
    id: 'CreateSystem',
    description: `A connected system and how it is reached: ${REACH}`,
    oneOf: [{ required: ['webhook_endpoint_id'] }, { required: ['contact_email'] }],
  });
export type CreateSystem = z.infer<typeof CreateSystemBody>;

export const UpdateSystemBody = z
  .object({
    name: Name.optional(),
    kind: Kind.optional(),
    data_categories: DataCategories.optional(),
    handles: Handles.optional(),
    recipient: Recipient.optional(),
    processor: Processor.optional(),
    webhook_endpoint_id: EndpointId.optional().describe('Switch to this webhook endpoint (contact_email is cleared)'),
    contact_email: ContactEmail.optional().describe('Switch to email (webhook_endpoint_id is cleared)'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.webhook_endpoint_id !== undefined && b.contact_email !== undefined) {
      for (const path of ['webhook_endpoint_id', 'contact_email']) ctx.addIssue({ code: 'custom', path: [path], message: `give at most one: a system is reached by ${REACH}` });
    }
  })
  .meta({
    id: 'UpdateSystem',
    description: `The fields to change; those left out keep their value. Giving webhook_endpoint_id or contact_email switches the reach to it (at most one of them: a system is reached by ${REACH}).`,
  });
export type UpdateSystem = z.infer<typeof UpdateSystemBody>;

export const SystemSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    kind: z.enum(SYSTEM_KINDS),
    data_categories: z.array(z.string()),
    handles: z.array(z.enum(SYSTEM_HANDLES)),
    recipient: z.boolean().describe('Told of every rectification, erasure and restriction (Art. 19); true for every processor'),
    processor: z.boolean(),
    webhook_endpoint_id: z.uuid().nullable().describe('Set when the system is reached through a webhook endpoint; then contact_email is null'),
    contact_email: z.string().nullable().describe('Set when the system is reached by email; then webhook_endpoint_id is null'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'System', description: 'A connected system that holds personal data and acts on, or is told of, rights requests' });
export type System = z.infer<typeof SystemSchema>;

export const SystemListQuery = PageQuery.extend({
  handles: z.enum(SYSTEM_HANDLES).optional().describe('Only the systems that handle this action'),
  recipient: z.enum(['true', 'false']).optional().describe('true: only recipients (processors included); false: only the others'),
});
export const SystemListSchema = PageMeta.extend({ items: z.array(SystemSchema) }).meta({ id: 'SystemList' });
export const SystemParams = z.object({ id: z.uuid() });
