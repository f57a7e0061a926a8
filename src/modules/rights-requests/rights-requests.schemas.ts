import { z } from 'zod';
import { DateInput, InstantInput as Instant } from '../../lib/instants.js';
import { PageMeta } from '../../lib/schemas.js';
import { IDENTIFIER_TYPES } from '../../lib/identifiers.js';
import { IdentifierSchema } from '../subjects/subjects.schemas.js';
import { PurposeKeySchema } from '../purposes/purposes.schemas.js';
import { LocaleSchema } from '../tenants/tenants.schemas.js';
import {
  GROUND_KEYS,
  GROUNDS,
  LEGACY_GROUND_MAP,
  LEGACY_REJECTION_GROUNDS,
  NOTIFICATION_CHANNELS,
  OBJECTION_SCOPES,
  OUTCOMES,
  RESTRICTION_GROUND_KEYS,
  RESTRICTION_GROUNDS,
  ERASURE_EXEMPTION_GROUNDS,
  ERASURE_GROUND_KEYS,
  ERASURE_GROUNDS,
} from './rights-requests.catalogue.js';
import { REQUEST_CHANNELS, REQUEST_STATUSES, REQUEST_TYPES } from './rights-requests.table.js';
import type { TransitionAction } from './rights-requests.transitions.js';

const At = Instant.optional().describe('When it happened (defaults to now): not in the future, not before the previous transition, not before 1970-01-01T00:00:00Z');
const text = (max: number) => z.string().trim().min(1).max(max).meta({ pattern: '\\S' });

/** @deprecated the rejection grounds of the first version; `grounds` replaces them. */
export const REJECTION_GROUNDS = LEGACY_REJECTION_GROUNDS;

export const GroundSchema = z
  .enum(GROUND_KEYS)
  .meta({
    id: 'RefusalGround',
    description: `Why a request is refused in full or in part (Art. 12(4)); each is valid for the rights listed. ${GROUND_KEYS.map((g) => `${g}: ${GROUNDS[g].article}${GROUNDS[g].types ? ` (${GROUNDS[g].types.join(', ')} only)` : ''}`).join('; ')}`,
  });
export const RestrictionGroundSchema = z.enum(RESTRICTION_GROUND_KEYS).meta({
  id: 'RestrictionGround',
  description: `The Art. 18(1) ground of a restriction: ${RESTRICTION_GROUND_KEYS.map((g) => `${g} (${RESTRICTION_GROUNDS[g].article})`).join(', ')}`,
});
const NotifiedBy = z.enum(NOTIFICATION_CHANNELS).describe('How the person was told of the answer');

const ObjectionInput = z
  .object({
    scope: z
      .enum(OBJECTION_SCOPES)
      .describe('direct_marketing (Art. 21(2)-(3)): absolute, recorded at once; processing (Art. 21(1)): processing on legitimate interests or a public task, assessed by the DPO'),
    purposes: z
      .array(PurposeKeySchema)
      .min(1)
      .max(100)
      .optional()
      .describe('The purposes objected to; required for processing. For direct_marketing, absent means every direct-marketing purpose'),
  })
  .strict();

export const ErasureGroundSchema = z
  .enum(ERASURE_GROUND_KEYS)
  .meta({ id: 'ErasureGround', description: Object.entries(ERASURE_GROUNDS).map(([k, v]) => `${k}: ${v}`).join('; ') });

export const CorrectionSchema = z
  .object({
    category: text(100).describe(
      'The data category, as the connected systems know it (contact, address, identity, …); `identifier` corrects one of the identifiers Rightful finds the person by',
    ),
    field: text(100).describe('The field to correct; for category identifier, one of email, phone, crm_id, customer_id'),
    value: text(2000).describe('The correct value'),
  })
  .strict()
  .meta({
    id: 'Correction',
    description:
      'One correction a rectification asks for (Art. 16): stored encrypted under the subject\'s key, sent to the connected systems when the DPO approves (Art. 19); an identifier corrected replaces the one Rightful holds',
  });

export const CreateRequestBody = z
  .object({
    subject: z
      .union([
        z.object({ id: z.uuid() }).strict(),
        z.object({ identifiers: z.array(IdentifierSchema).min(1).max(20), external_ref: z.string().trim().min(1).max(200).meta({ pattern: '\\S' }).optional() }).strict(),
      ])
      .describe('The person: a subject id, or identifiers (a person not known yet becomes a new subject)'),
    type: z
      .enum(REQUEST_TYPES)
      .describe(
        'The right exercised (Arts. 13-22). A question about one\'s own data ("what do you hold about me, why, who got it?") is an `access` request (Art. 15); `information` is a request for the privacy notice (Arts. 13/14).',
      ),
    channel: z.enum(REQUEST_CHANNELS).describe('How the request came in: requests may be oral or written'),
    received_at: Instant.optional().describe('When the controller received it (defaults to now); may be in the past (not before 1970-01-01T00:00:00Z), never in the future'),
    locale: LocaleSchema.optional().describe("The person's language (defaults to the tenant's default locale): an information request's privacy notice is rendered in it (Art. 12(1))"),
    details: z.string().max(10_000).optional().describe('Free text (for rectification, the corrections are given in `corrections`). Stored encrypted.'),
    corrections: z
      .array(CorrectionSchema)
      .min(1)
      .max(50)
      .optional()
      .describe('Required for a rectification request, and only there: what to correct (Art. 16). Stored encrypted; the DPO approves them before they go out'),
    restriction_ground: RestrictionGroundSchema.optional().describe('Required for a restriction request, and only there: why processing is to be restricted (Art. 18(1)(a)-(d))'),
    erasure_ground: ErasureGroundSchema.optional().describe('For an erasure request only: the Art. 17(1) ground the person invokes (if not given here, the DPO records it on approve)'),
    objection: ObjectionInput.optional().describe('For an objection request only (defaults to direct_marketing for every direct-marketing purpose): what is objected to'),
    restrict_meanwhile: z
      .boolean()
      .optional()
      .describe('For an objection to processing only: restrict the processing until the objection is decided (Art. 18(1)(d)); the restricted flag is set at once and every system that handles restriction is sent `restriction.requested` (Art. 19); when the objection is decided, open restriction tasks are cancelled and the systems told get `restriction.lifted`'),
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (b.type === 'restriction' && !b.restriction_ground) issue(['restriction_ground'], 'is required for a restriction request: one of the Art. 18(1)(a)-(d) grounds');
    if (b.type !== 'restriction' && b.restriction_ground) issue(['restriction_ground'], 'is only for a restriction request (an objection to processing restricts with restrict_meanwhile)');
    if (b.type !== 'objection' && b.objection) issue(['objection'], 'is only for an objection request');
    if (b.type !== 'erasure' && b.erasure_ground) issue(['erasure_ground'], 'is only for an erasure request');
    if (b.type === 'rectification' && !b.corrections) issue(['corrections'], 'is required for a rectification request: what to correct (Art. 16)');
    if (b.type !== 'rectification' && b.corrections) issue(['corrections'], 'is only for a rectification request');
    const corrected = new Set<string>();
    (b.corrections ?? []).forEach((c, i) => {
      if (c.category !== 'identifier') return;
      if (!(IDENTIFIER_TYPES as readonly string[]).includes(c.field)) issue(['corrections', i, 'field'], `an identifier is one of ${IDENTIFIER_TYPES.join(', ')}`);
      else if (corrected.has(c.field)) issue(['corrections', i, 'field'], `the ${c.field} identifier is corrected twice: give one value`);
      corrected.add(c.field);
    });
    if (b.objection?.scope === 'processing' && !b.objection.purposes) issue(['objection', 'purposes'], 'is required for an objection to processing (Art. 21(1)): name the purposes');
    if (b.restrict_meanwhile && !(b.type === 'objection' && b.objection?.scope === 'processing')) {
      issue(['restrict_meanwhile'], 'is only for an objection to processing (Art. 18(1)(d)); an objection to direct marketing takes effect at once');
    }
  })
  .meta({ id: 'CreateRightsRequest' });
export type CreateRequest = z.infer<typeof CreateRequestBody>;

const RemediesSchema = z
  .object({
    supervisory_authority: z
      .object({ name: z.string(), url: z.string(), address: z.string().nullable() })
      .nullable()
      .describe('Where the person may lodge a complaint (Art. 77); null when the tenant has not configured it'),
    judicial_remedy: z.string().nullable().describe('How the person may seek a judicial remedy (Art. 79); null when the tenant has not configured it'),
    not_configured: z.array(z.enum(['supervisory_authority', 'judicial_remedy'])).describe('Tenant settings missing when the answer was given: the answer must still name them'),
    statement: z.string().describe('The sentence to give the person'),
  })
  .meta({ id: 'RefusalRemedies', description: 'What a refusal or partial refusal must tell the person (Art. 12(4)), from the tenant settings at the time of the answer' });

const HumanReviewOut = z
  .object({
    reviewer: z.string().describe('Who reviewed the decision'),
    subject_view: z.string().nullable().describe("The person's point of view (decrypted; null once the subject is erased)"),
    decision: z.string().nullable().describe('The decision after the review (decrypted; null once the subject is erased)'),
    decision_changed: z.boolean(),
  })
  .describe('The human review of an automated decision (Art. 22(3), WP251)');

export const OutcomeSchema = z
  .object({
    result: z.enum(OUTCOMES).nullable().describe('granted, partially_granted or refused; null while the request is open, and for requests closed before outcomes were recorded'),
    grounds: z.array(GroundSchema).describe('The grounds of a refusal or a partial refusal'),
    resolution: z.string().nullable().describe('The resolution note (decrypted)'),
    detail: z.string().nullable().describe('The reasons given for a refusal (decrypted)'),
    subject_notified_at: z.iso.datetime().nullable().describe('When the person was told of the answer'),
    notified_by: z.enum(NOTIFICATION_CHANNELS).nullable(),
    remedies: RemediesSchema.nullable().describe('For a refusal or partial refusal: the supervisory authority and the judicial remedy'),
    human_review: HumanReviewOut.nullable(),
    privacy_notice: z.record(z.string(), z.unknown()).nullable().describe('For an information request: the privacy notice as rendered for the request (PrivacyNotice)'),
    ground: z.enum(LEGACY_REJECTION_GROUNDS).nullable().describe('Deprecated: the rejection ground of the first version, when one was given'),
  })
  .meta({ id: 'RightsRequestOutcome', description: 'The answer to a request (Art. 12(4))' });
export type RequestOutcome = z.infer<typeof OutcomeSchema>;

export const RequestSchema = z
  .object({
    id: z.uuid(),
    subject_id: z.uuid(),
    type: z.enum(REQUEST_TYPES),
    channel: z.enum(REQUEST_CHANNELS),
    status: z.enum(REQUEST_STATUSES),
    locale: z.string().nullable().describe("The person's language"),
    received_at: z.iso.datetime(),
    due_date: z.iso.date().nullable().describe('The last day to answer, in the tenant\'s time zone; null while the clock is paused'),
    due_at: z.iso.datetime().nullable().describe('The end of due_date as an instant'),
    paused: z.boolean().describe('True while waiting for identity proof or a clarification (the clock is stopped)'),
    overdue: z.boolean().describe('Open and past due_at'),
    extended: z.boolean(),
    extension_reason: z.string().nullable(),
    subject_informed_at: z.iso.datetime().nullable().describe('When the person was told of the extension (Art. 12(3))'),
    identity_doubt: z.string().nullable().describe('The reasonable doubts stated when proof of identity was last asked (Art. 12(6); decrypted)'),
    restriction_ground: RestrictionGroundSchema.nullable().describe('Restriction requests (and objections restricting meanwhile: objection_pending): the Art. 18(1) ground'),
    erasure_ground: ErasureGroundSchema.nullable().describe('Erasure requests: the Art. 17(1) ground that applies'),
    waiting_on: z
      .array(z.object({ system_id: z.uuid().nullable(), system_name: z.string().nullable(), status: z.enum(['pending', 'acknowledged', 'failed']) }))
      .describe('The connected systems whose part of this request is still open (tasks pending, acknowledged or failed)'),
    objection: z
      .object({ scope: z.enum(OBJECTION_SCOPES), purposes: z.array(z.string()).nullable().describe('null: every direct-marketing purpose') })
      .nullable()
      .describe('Objection requests: what is objected to'),
    rejection_ground: z.enum(REJECTION_GROUNDS).nullable().describe('Deprecated: see outcome.grounds'),
    assignee: z.string().nullable(),
    details: z.string().nullable().describe('Decrypted free text'),
    corrections: z
      .array(z.object({ category: z.string(), field: z.string(), value: z.string() }))
      .nullable()
      .describe('Rectification requests: the corrections asked (decrypted; null for other types, and once the subject is erased)'),
    outcome: OutcomeSchema.nullable().describe('The answer: set when the request closes (and for an information request, from its creation, with the privacy notice)'),
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
    waiting_on_systems: z
      .array(z.object({ system_id: z.uuid().nullable(), system_name: z.string().nullable(), open_tasks: z.number().int() }))
      .describe('Connected systems with tasks still open (pending, acknowledged or failed): who has not answered'),
  })
  .meta({ id: 'RightsRequestStats', description: "The DPO's morning view" });

const Note = z.string().max(5000).optional();
const Notified = {
  subject_notified_at: Instant.describe('When the person was told of the answer: not in the future, not before the request was received'),
  notified_by: NotifiedBy,
};
const Grounds = z.array(GroundSchema).min(1).max(GROUND_KEYS.length);

export const HumanReviewInput = z
  .object({
    reviewer: text(200).describe('Who reviewed the automated decision: a person with the authority and competence to change it'),
    subject_view: text(10_000).describe("The person's point of view, as they expressed it (Art. 22(3)); stored encrypted"),
    decision: text(10_000).describe('The decision after the review; stored encrypted'),
    decision_changed: z.boolean().describe('Whether the review changed the automated decision'),
  })
  .strict()
  .describe('Required to complete an automated_decision request, and only there (Art. 22(3), WP251)');

export const TransitionBodies = {
  'request-identity': z
    .object({ at: At, reason: text(5000).describe('The reasonable doubts about the identity that justify asking for proof (Art. 12(6)); stored encrypted'), note: Note })
    .strict(),
  'identity-verified': z.object({ at: At, note: Note }).strict(),
  'request-clarification': z.object({ at: At, note: Note }).strict(),
  'clarification-received': z.object({ at: At, note: Note }).strict(),
  extend: z
    .object({
      at: At,
      reason: text(5000).describe('Why the extension is needed (complexity, number of requests); stored encrypted'),
      subject_informed_at: Instant.describe('When the person was told of the extension and why: not in the future, not before the request was received, not after the first deadline (Art. 12(3))'),
    })
    .strict(),
  reject: z
    .object({
      at: At,
      outcome: z.literal('refused').optional().describe('Always refused (the default)'),
      grounds: Grounds.optional().describe('The grounds of the refusal; required unless a legacy `ground` maps onto one'),
      ground: z.enum(LEGACY_REJECTION_GROUNDS).optional().describe('Deprecated: mapped onto grounds (manifestly_unfounded, excessive → art12_5_b; identity_not_verified → art11_2); legal_exemption needs grounds'),
      detail: text(5000).describe('The reasons given to the person; stored encrypted'),
      ...Notified,
    })
    .strict()
    .superRefine((b, ctx) => {
      if (!b.grounds && !(b.ground && LEGACY_GROUND_MAP[b.ground])) {
        ctx.addIssue({ code: 'custom', path: ['grounds'], message: b.ground ? `is required: "${b.ground}" names no article, give the exemption as a ground` : 'is required: at least one ground of refusal' });
      }
    }),
  complete: z
    .object({
      at: At,
      outcome: z.enum(['granted', 'partially_granted']).optional().describe('granted (the default) or partially_granted'),
      grounds: Grounds.optional().describe('Required for partially_granted (the grounds of what was refused); none for granted'),
      resolution: text(10_000).optional().describe('What was done; stored encrypted'),
      ...Notified,
      human_review: HumanReviewInput.optional(),
    })
    .strict()
    .superRefine((b, ctx) => {
      if (b.outcome === 'partially_granted' && !b.grounds) ctx.addIssue({ code: 'custom', path: ['grounds'], message: 'is required for partially_granted: the grounds of what was refused' });
      if (b.outcome !== 'partially_granted' && b.grounds) ctx.addIssue({ code: 'custom', path: ['grounds'], message: 'is only for partially_granted: a request granted in full has no grounds of refusal' });
    }),
  withdraw: z.object({ at: At, note: Note }).strict(),
  assign: z.object({ at: At, assignee: text(200).nullable() }).strict(),
  comment: z.object({ at: At, note: text(10_000) }).strict(),
  approve: z
    .object({
      at: At,
      identity: z
        .enum(['verified', 'not_needed'])
        .describe('verified: the identity was checked; not_needed: the DPO decided no check was needed (say why in identity_note) — Art. 12(6)'),
      identity_note: text(2000).optional().describe('Why no identity check was needed; required with not_needed; stored encrypted'),
      exemptions: z
        .array(
          z
            .object({
              system_id: z.uuid(),
              ground: z.enum(ERASURE_EXEMPTION_GROUNDS).describe('The Art. 17(3) ground for keeping data in this system'),
              categories: z.array(text(100)).min(1).max(50).describe('The data categories kept (the rest is erased)'),
              until: DateInput.optional().describe('When the retention ends (the data are erased then); none for open-ended grounds'),
              note: text(2000).optional().describe('Stored encrypted'),
            })
            .strict(),
        )
        .max(100)
        .optional()
        .describe('Erasure only: systems that keep some data under an Art. 17(3) ground (their tasks are exempt)'),
      erasure_ground: ErasureGroundSchema.optional().describe('Erasure only: the Art. 17(1) ground that applies; required unless recorded when the request was created'),
      public_disclosure: z.boolean().optional().describe('Erasure only: the controller made the data public, a task records informing the other controllers (Art. 17(2))'),
      note: Note,
    })
    .strict()
    .superRefine((b, ctx) => {
      if (b.identity === 'not_needed' && !b.identity_note) ctx.addIssue({ code: 'custom', path: ['identity_note'], message: 'is required when identity is not_needed: say why no check was needed' });
    }),
} as const satisfies Record<TransitionAction, z.ZodType>;
export type TransitionInputs = { [A in TransitionAction]: z.infer<(typeof TransitionBodies)[A]> };
export type { TransitionAction };
