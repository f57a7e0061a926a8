import { z } from 'zod';
import { DateInput, InstantInput as Instant } from '../../lib/instants.js';
import { PageMeta } from '../../lib/schemas.js';
import { IdentifierSchema } from '../subjects/subjects.schemas.js';
import { REQUEST_CHANNELS, REQUEST_STATUSES, REQUEST_TYPES } from './rights-requests.table.js';

const At = Instant.optional().describe('When it happened (defaults to now): not in the future, not before the previous transition, not before 1970-01-01T00:00:00Z');

export const REJECTION_GROUNDS = ['manifestly_unfounded', 'excessive', 'identity_not_verified', 'legal_exemption'] as const;

export const CreateRequestBody = z
  .object({
    subject: z
      .union([
        z.object({ id: z.uuid() }).strict(),
        z.object({ identifiers: z.array(IdentifierSchema).min(1).max(20), external_ref: z.string().trim().min(1).max(200).meta({ pattern: '\\S' }).optional() }).strict(),
      ])
      .describe('The person: a subject id, or identifiers (a person not known yet becomes a new subject)'),
    type: z.enum(REQUEST_TYPES).describe('The right exercised (Arts. 13-22)'),
    channel: z.enum(REQUEST_CHANNELS).describe('How the request came in: requests may be oral or written'),
    received_at: Instant.optional().describe('When the controller received it (defaults to now); may be in the past (not before 1970-01-01T00:00:00Z), never in the future'),
    details: z.string().max(10_000).optional().describe('Free text; for rectification, the corrections asked. Stored encrypted.'),
  })
  .strict()
  .meta({ id: 'CreateRightsRequest' });
export type CreateRequest = z.infer<typeof CreateRequestBody>;

export const RequestSchema = z
  .object({
    id: z.uuid(),
    subject_id: z.uuid(),
    type: z.enum(REQUEST_TYPES),
    channel: z.enum(REQUEST_CHANNELS),
    status: z.enum(REQUEST_STATUSES),
    received_at: z.iso.datetime(),
    due_date: z.iso.date().nullable().describe('The last day to answer, in the tenant\'s time zone; null while the clock is paused'),
    due_at: z.iso.datetime().nullable().describe('The end of due_date as an instant'),
    paused: z.boolean().describe('True while waiting for identity proof or a clarification (the clock is stopped)'),
    overdue: z.boolean().describe('Open and past due_at'),
    extended: z.boolean(),
    extension_reason: z.string().nullable(),
    rejection_ground: z.enum(REJECTION_GROUNDS).nullable(),
    assignee: z.string().nullable(),
    details: z.string().nullable().describe('Decrypted free text'),
    outcome: z.record(z.string(), z.unknown()).nullable().describe('Resolution note, rejection detail, or the privacy notice for an information request'),
    closed_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'RightsRequest', description: 'A data subject request and its legal deadline' });
export type RightsRequest = z.infer<typeof RequestSchema>;

export const RequestListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
  status: z.enum(REQUEST_STATUSES).optional(),
  type: z.enum(REQUEST_TYPES).optional(),
  subject_id: z.uuid().optional(),
  assignee: z.string().max(200).optional(),
  overdue: z.enum(['true', 'false']).optional().describe('true: open requests past due; false: the others'),
  due_before: DateInput.optional().describe('Only requests due on or before this date (1970-01-01 to 9999-12-31)'),
});

export const RequestListSchema = PageMeta.extend({ items: z.array(RequestSchema) }).meta({ id: 'RightsRequestList' });
export const RequestParams = z.object({ id: z.uuid() });

export const RequestEventSchema = z
  .object({
    seq: z.number().int(),
    action: z.string(),
    from_status: z.string().nullable(),
    to_status: z.string().nullable(),
    at: z.iso.datetime(),
    recorded_at: z.iso.datetime(),
    actor: z.string().describe('The client (token subject) that recorded it'),
    facts: z.record(z.string(), z.unknown()).nullable(),
    note: z.string().nullable(),
  })
  .meta({ id: 'RightsRequestEvent' });
export const RequestEventListSchema = PageMeta.extend({ items: z.array(RequestEventSchema) }).meta({ id: 'RightsRequestEventList' });

export const StatsSchema = z
  .object({
    open_by_status: z.record(z.string(), z.number().int()),
    open_by_type: z.record(z.string(), z.number().int()),
    overdue: z.number().int(),
    due_next_7_days: z.number().int(),
  })
  .meta({ id: 'RightsRequestStats', description: "The DPO's morning view" });

export const TransitionBodies = {
  'request-identity': z.object({ at: At, note: z.string().max(5000).optional() }).strict(),
  'identity-verified': z.object({ at: At, note: z.string().max(5000).optional() }).strict(),
  'request-clarification': z.object({ at: At, note: z.string().max(5000).optional() }).strict(),
  'clarification-received': z.object({ at: At, note: z.string().max(5000).optional() }).strict(),
  extend: z.object({ at: At, reason: z.string().trim().min(1).max(5000).meta({ pattern: '\\S' }) }).strict(),
  reject: z.object({ at: At, ground: z.enum(REJECTION_GROUNDS), detail: z.string().trim().min(1).max(5000).meta({ pattern: '\\S' }) }).strict(),
  complete: z.object({ at: At, resolution: z.string().trim().min(1).max(10_000).meta({ pattern: '\\S' }) }).strict(),
  withdraw: z.object({ at: At, note: z.string().max(5000).optional() }).strict(),
  assign: z.object({ at: At, assignee: z.string().trim().min(1).max(200).meta({ pattern: '\\S' }).nullable() }).strict(),
  comment: z.object({ at: At, note: z.string().trim().min(1).max(10_000).meta({ pattern: '\\S' }) }).strict(),
} as const;
export type TransitionAction = keyof typeof TransitionBodies;
