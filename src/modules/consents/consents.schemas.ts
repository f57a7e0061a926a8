import { z } from 'zod';
import { InstantInput as Instant } from '../../lib/instants.js';
import { PageMeta } from '../../lib/schemas.js';
import { PurposeKeySchema } from '../purposes/purposes.schemas.js';
import { IdentifierSchema, SubjectSchema } from '../subjects/subjects.schemas.js';

export const CONSENT_SOURCES = ['web_form', 'crm_user', 'import', 'api', 'verbal', 'written'] as const;
export const CHECK_REASONS = [
  'consent_granted',
  'no_consent',
  'consent_withdrawn',
  'reconsent_needed',
  'objected',
  'restricted',
  'erasure_pending',
  'request_only',
  'suppressed',
  'unknown_subject',
  'legal_basis',
] as const;


export const EvidenceSchema = z
  .object({
    ip: z.union([z.ipv4(), z.ipv6()]).optional().describe('IP address the decision came from'),
    user_agent: z.string().max(1000).optional(),
    form_id: z.string().max(200).optional().describe('Which form, page or screen collected it; required for grants from web_form and api'),
    collected_by: z.string().max(200).optional().describe('Who collected it (a CRM user, a call agent); required for grants from crm_user, verbal and written'),
    proof_reference: z.string().max(500).optional().describe('Where the original proof of an imported grant is kept (file, system and record); required for grants from import'),
    text_shown: z.string().max(10000).optional().describe('The wording the subject agreed to or withdrew from'),
  })
  .strict()
  .meta({ id: 'ConsentEvidence', description: 'Proof of how the decision was collected; encrypted at rest under the subject\'s key' });

export const DecisionSchema = z
  .object({
    purpose: PurposeKeySchema,
    action: z.enum(['grant', 'withdraw']),
    purpose_version: z.number().int().min(1).optional().describe('The version shown to the subject; defaults to the current one'),
    source: z.enum(CONSENT_SOURCES),
    evidence: EvidenceSchema.optional(),
  })
  .strict();

export const RecordConsentsBody = z
  .object({
    decisions: z.array(DecisionSchema).min(1).max(100),
    occurred_at: Instant.optional().describe('When the subject decided (defaults to now); not in the future, not before 1970-01-01T00:00:00Z'),
  })
  .strict()
  .meta({ id: 'RecordConsents', description: 'One or more decisions of one subject, appended to the ledger in order' });
export type RecordConsents = z.infer<typeof RecordConsentsBody>;

export const ConsentEventSchema = z
  .object({
    id: z.uuid(),
    subject_id: z.uuid(),
    seq: z.number().int().describe('Position in the subject\'s ledger, from 1'),
    purpose: z.string(),
    purpose_version: z.number().int(),
    action: z.enum(['grant', 'withdraw']),
    source: z.enum(CONSENT_SOURCES),
    evidence: EvidenceSchema.nullable().describe('Decrypted evidence; null when none was given or the subject was erased'),
    occurred_at: z.iso.datetime(),
    recorded_at: z.iso.datetime(),
    prev_hash: z.string().nullable().describe('hash of the previous event; null for the first'),
    hash: z.string().describe('sha256 over prev_hash and the canonical event, hex'),
    correction: z
      .object({
        recorded_occurred_at: z.string().describe('The occurred_at the event holds and its hash covers (ISO 8601; may be before year 1)'),
        reason: z.string(),
        corrected_at: z.iso.datetime(),
      })
      .nullable()
      .describe(
        'Set when the event was written with an occurred_at outside 1970-01-01..9999-12-31 (before that range was enforced): occurred_at then shows the correction (the recorded_at), and recomputing the hash takes recorded_occurred_at',
      ),
  })
  .meta({ id: 'ConsentEvent', description: 'One entry of the append-only consent ledger' });
export type ConsentEvent = z.infer<typeof ConsentEventSchema>;

export const RecordedConsentsSchema = z.object({ events: z.array(ConsentEventSchema) }).meta({ id: 'RecordedConsents' });

export const ConsentStateSchema = z
  .object({
    subject_id: z.uuid(),
    purposes: z.array(
      z.object({
        purpose: z.string(),
        status: z.enum(['granted', 'withdrawn']),
        since: z.iso.datetime().describe('occurred_at of the decision in force'),
        purpose_version: z.number().int().describe('The purpose version that decision was given for'),
        event_id: z.uuid(),
      }),
    ),
  })
  .meta({ id: 'ConsentState', description: 'Current consent per purpose; purposes never decided on are absent' });
export type ConsentState = z.infer<typeof ConsentStateSchema>;

export const ConsentHistorySchema = PageMeta.extend({ items: z.array(ConsentEventSchema) }).meta({ id: 'ConsentHistory' });

export const VerifyResultSchema = z
  .object({
    subject_id: z.uuid(),
    status: z
      .enum(['valid', 'broken', 'purged'])
      .describe(
        "valid: the chain recomputes and its tip is the head kept on the subject; broken: a row was changed, removed or reordered (first_invalid names it); purged: the subject was erased and, at the end of the tenant's accountability period, its ledger was deleted (Art. 5(1)(e)); `purged` says when and what the chain's head was",
      ),
    valid: z.boolean().describe('true only when status is valid'),
    events_checked: z.number().int().describe('Events recomputed; 0 for a purged ledger'),
    first_invalid: z
      .object({
        event_id: z.uuid(),
        seq: z.number().int(),
        reason: z.enum(['hash_mismatch', 'prev_hash_mismatch', 'sequence_gap', 'head_mismatch']),
      })
      .nullable()
      .describe('The first event that does not match the chain; null when valid or purged, and when every event of the chain is missing'),
    purged: z
      .object({
        erased_at: z.iso.datetime().describe('When Rightful erased the subject'),
        purged_at: z.iso.datetime().describe('When the tombstone, ledger and request history were deleted'),
        ledger_seq: z.number().int().describe("The chain's length when it was purged"),
        ledger_head: z.string().nullable().describe("The chain's head hash when it was purged (null for a subject that never had an event): compare it with a hash kept elsewhere"),
      })
      .nullable()
      .describe('The record of the purge; null unless status is purged'),
  })
  .meta({ id: 'LedgerVerification' });
export type VerifyResult = z.infer<typeof VerifyResultSchema>;

export const ObjectionBody = z
  .object({
    scope: z
      .enum(['direct_marketing', 'processing', 'automated_decisions'])
      .describe(
        'direct_marketing: Art. 21(2)-(3), absolute and at once, for every direct-marketing purpose or for the purposes named. processing: Art. 21(1), processing on legitimate interests or public task, assessed by the controller (the purposes are required). automated_decisions: Art. 22, automated decisions and profiling.',
      ),
    purposes: z.array(PurposeKeySchema).min(1).max(50).optional().describe('The purposes objected to; none for direct_marketing means every direct-marketing purpose'),
    // The channels a rights request can come in by (an objection to processing opens one).
    channel: z
      .enum(['web', 'email', 'phone', 'letter', 'in_person'])
      .optional()
      .describe('For scope processing: how the objection came in (default web); it opens a rights request of type objection'),
    source: z.enum(CONSENT_SOURCES).optional().describe('How the objection was collected, as for consent decisions (default api)'),
    evidence: EvidenceSchema.optional().describe('Proof of how it was made (form, collector, the text shown); encrypted at rest, so an objection is as provable as a grant'),
    occurred_at: Instant.optional().describe('When the subject objected (defaults to now); not in the future, not before 1970-01-01T00:00:00Z'),
  })
  .strict()
  .meta({ id: 'RecordObjection' });
export type ObjectionInput = z.infer<typeof ObjectionBody>;

const ObjectionProof = z.object({ source: z.enum(CONSENT_SOURCES).nullable(), evidence: EvidenceSchema.nullable() });

export const ObjectionSchema = z
  .object({
    id: z.uuid(),
    purpose: z.string(),
    scope: z.enum(['direct_marketing', 'processing']),
    status: z
      .enum(['pending', 'upheld', 'refused', 'withdrawn'])
      .describe('upheld: the purpose answers objected for the person; pending: being assessed (Art. 21(1)); refused: compelling legitimate grounds were shown; withdrawn: the person withdrew the request'),
    request_id: z.uuid().nullable().describe('The rights request that carries the assessment'),
    source: z.enum(CONSENT_SOURCES).nullable().describe('How it was collected'),
    evidence: EvidenceSchema.nullable().describe('Decrypted proof of how it was made; null when none was given or the person was erased'),
    occurred_at: z.iso.datetime(),
    decided_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Objection', description: 'An objection to one purpose' });
export type Objection = z.infer<typeof ObjectionSchema>;

export const ObjectionResultSchema = z
  .object({
    subject: SubjectSchema.describe('The subject with its flags (identifiers only for a token with subjects:read)'),
    objections: z.array(ObjectionSchema).describe('The objections to single purposes this call recorded'),
    request_id: z.uuid().nullable().describe('For scope processing: the rights request of type objection that carries the assessment and its deadline'),
  })
  .meta({ id: 'ObjectionResult' });

export const ObjectionListSchema = z
  .object({
    subject_id: z.uuid(),
    marketing_objection: z.boolean().describe('Objected to every direct-marketing purpose (Art. 21(2))'),
    marketing_objection_proof: ObjectionProof.nullable().describe('How the objection to all direct marketing was made'),
    automated_decision_objection: z.boolean().describe('Objected to automated decisions (Art. 22)'),
    automated_decision_objection_proof: ObjectionProof.nullable().describe('How the objection to automated decisions was made'),
    items: z.array(ObjectionSchema).describe('Objections to single purposes'),
  })
  .meta({ id: 'ObjectionList' });
export type ObjectionList = z.infer<typeof ObjectionListSchema>;

export const SoftOptInBody = z
  .object({
    purpose: PurposeKeySchema,
    relationship_ref: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .meta({ pattern: '\\S' })
      .describe('The sale or the negotiation for one that the contact details were obtained in (an order or contract reference)'),
    opt_out_offered: z.literal(true).describe('The person was offered, free and simply, to refuse such use when the details were collected; must be true'),
    collected_at: Instant.optional().describe('When the details were collected (defaults to now); not in the future'),
  })
  .strict()
  .meta({ id: 'RecordSoftOptIn', description: 'ePrivacy Art. 13(2): own similar products marketed to an existing customer by email or SMS' });
export type SoftOptInInput = z.infer<typeof SoftOptInBody>;

export const SoftOptInSchema = z
  .object({
    subject_id: z.uuid(),
    purpose: z.string(),
    relationship_ref: z.string(),
    collected_at: z.iso.datetime(),
    recorded_at: z.iso.datetime(),
  })
  .meta({ id: 'SoftOptIn' });
export type SoftOptIn = z.infer<typeof SoftOptInSchema>;

export const CheckBody = z
  .object({
    purpose: PurposeKeySchema,
    identifiers: z.array(IdentifierSchema).min(1).max(10_000),
  })
  .strict()
  .meta({ id: 'ConsentCheck', description: 'Which of these people may be contacted for this purpose?' });

export const CheckResultSchema = z
  .object({
    purpose: z.string(),
    purpose_version: z.number().int(),
    results: z.array(
      z.object({
        allowed: z.boolean(),
        reason: z.enum(CHECK_REASONS),
        subject_id: z.uuid().nullable(),
      }),
    ).describe('One per identifier, in the order asked'),
  })
  .meta({ id: 'ConsentCheckResult' });
export type CheckResult = z.infer<typeof CheckResultSchema>;
