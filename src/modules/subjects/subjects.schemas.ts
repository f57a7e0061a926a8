import { z } from 'zod';
import { IDENTIFIER_TYPES } from '../../lib/identifiers.js';
import { InstantInput } from '../../lib/instants.js';

export const IdentifierSchema = z
  .object({
    type: z.enum(IDENTIFIER_TYPES).describe('email (trimmed, lower-cased, NFC), phone (E.164; give it with + and the country code), crm_id or customer_id (trimmed, NFC)'),
    value: z.string().min(1).max(320),
  })
  .strict()
  .meta({ id: 'Identifier', description: 'One way of recognising a person; stored encrypted and found through a keyed blind index' });
export type IdentifierInput = z.infer<typeof IdentifierSchema>;

export const ExternalRefSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .meta({ pattern: '\\S' })
  .describe("The CRM's own record key for this person (an opaque reference, not a contact detail); unique in the tenant");

export const CreateSubjectBody = z
  .object({
    external_ref: ExternalRefSchema.optional(),
    identifiers: z.array(IdentifierSchema).max(20).default([]),
  })
  .strict()
  .refine((b) => b.external_ref !== undefined || b.identifiers.length > 0, {
    message: 'give an external_ref or at least one identifier',
    path: ['identifiers'],
  })
  .meta({
    id: 'CreateSubject',
    description: 'A person to find or create by identifiers and/or CRM reference: an external_ref, at least one identifier, or both',
    anyOf: [{ required: ['external_ref'] }, { required: ['identifiers'], properties: { identifiers: { minItems: 1 } } }],
  });
export type CreateSubject = z.infer<typeof CreateSubjectBody>;

export const LookupSubjectBody = z
  .object({ identifiers: z.array(IdentifierSchema).min(1).max(20) })
  .strict()
  .meta({ id: 'LookupSubject', description: 'Identifiers to find a subject by (sent in a body so they never appear in URLs or access logs)' });

export const SubjectSchema = z
  .object({
    id: z.uuid(),
    external_ref: z.string().nullable(),
    status: z.enum(['active', 'erased']),
    origin: z
      .enum(['crm', 'rights_request'])
      .describe('crm: added by the CRM; rights_request: known only from a rights request they made, so never marketed to without a grant for the purpose (Art. 5(1)(b))'),
    identifiers: z
      .array(z.object({ type: z.enum(IDENTIFIER_TYPES), value: z.string() }))
      .optional()
      .describe('Normalised identifiers, decrypted for the caller; present only when the token holds subjects:read (a write-only token gets ids and flags)'),
    marketing_objection: z.boolean().describe('Art. 21: objected to direct marketing; every direct-marketing purpose is blocked'),
    marketing_objection_at: z.iso.datetime().nullable(),
    automated_decision_objection: z.boolean().describe('Art. 22: objected to automated decisions and profiling'),
    automated_decision_objection_at: z.iso.datetime().nullable(),
    restricted: z.boolean().describe('Art. 18: processing restricted to storage'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Subject', description: 'One data subject in the tenant' });
export type Subject = z.infer<typeof SubjectSchema>;

export const SubjectParams = z.object({ id: z.uuid() });

export const LiftRestrictionBody = z
  .object({
    subject_informed_at: InstantInput.describe(
      'When the person was told that the restriction will be lifted (Art. 18(3): before it is lifted): not in the future, not before the restriction was requested',
    ),
    reason: z.string().trim().min(1).max(5000).meta({ pattern: '\\S' }).optional().describe('Why it is lifted (the accuracy was verified, the legal claim settled, …); stored encrypted'),
  })
  .strict()
  .meta({ id: 'LiftRestriction' });

export const RestrictionLiftSchema = z
  .object({
    subject: SubjectSchema,
    request_id: z
      .uuid()
      .nullable()
      .describe('The restriction request that held the restriction: the lift is in its audit trail, and its tasks of kind restriction_lifted tell the systems (null when no granted restriction held it)'),
    lifted_at: z.iso.datetime(),
  })
  .meta({ id: 'RestrictionLift', description: 'A restriction lifted (Art. 18(3)), and the request that records it' });
