// The person's own API (/v1/me), reached with a subject token.
//
// Deviations from the self-service contract, kept small:
// - POST /v1/me/rights-requests also takes `corrections` (required for, and only for, rectification) and
//   `restriction_ground` (required for, and only for, restriction), as POST /v1/rights-requests does: without them
//   those two requests could not be filed at all.
// - POST /v1/me/objections always answers 201, also when everything was recorded already (`objected` then lists
//   the purposes already objected to that the call named).
import { z } from 'zod';
import { LEGAL_BASES, PurposeKeySchema } from '../purposes/purposes.schemas.js';
import { CorrectionSchema, RestrictionGroundSchema } from '../rights-requests/rights-requests.schemas.js';
import { REQUEST_STATUSES, REQUEST_TYPES } from '../rights-requests/rights-requests.table.js';
import { CODE_ACTIONS } from '../portal/portal.codes.js';

export const ME_LOCALES = ['en', 'bg', 'de'] as const;
export type MeLocale = (typeof ME_LOCALES)[number];

const SubjectFlags = z
  .object({
    id: z.uuid(),
    restricted: z.boolean().describe('Art. 18: processing restricted to storage'),
    marketing_objection: z.boolean().describe('Art. 21(2): objected to every direct-marketing purpose'),
    automated_decision_objection: z.boolean().describe('Art. 22: objected to automated decisions and profiling'),
  })
  .meta({ id: 'MeSubject', description: "The person's flags; never their identifiers" });

const MePurpose = z
  .object({
    key: z.string(),
    version: z.number().int().describe('The current version: send it back as purpose_version when granting or withdrawing'),
    title: z.string(),
    description: z.string(),
    legal_basis: z.enum(LEGAL_BASES),
    direct_marketing: z.boolean(),
    automated_decisions: z.boolean(),
    data_categories: z.array(z.string()),
    retention: z.string().nullable(),
    consent: z.enum(['granted', 'withdrawn', 'none']).describe('The consent state; none when never decided (or the basis is not consent)'),
    can_grant: z.boolean().describe('The basis is consent and it is not granted'),
    can_withdraw: z.boolean().describe('The basis is consent and it is granted: withdrawing is as easy as granting (Art. 7(3))'),
    objected: z.boolean().describe('An objection is in force for this purpose (Art. 21, 22)'),
    can_object: z.boolean().describe('Not objected yet, and objectable: direct marketing always (Art. 21(2)), other processing on legitimate interests or public task (Art. 21(1))'),
  })
  .meta({ id: 'MePurpose' });

const MeRequestItem = z.object({
  id: z.uuid(),
  type: z.enum(REQUEST_TYPES),
  status: z.enum(REQUEST_STATUSES),
  received_at: z.iso.datetime(),
  due_date: z.iso.date().nullable().describe("The last day to answer (Art. 12(3)), in the controller's time zone; null while the clock is stopped"),
  due_at: z.iso.datetime().nullable().describe('The end of due_date as an instant; null while the clock is stopped'),
});

export const MeSchema = z
  .object({
    controller: z.object({
      name: z.string(),
      brand_color: z.string().nullable().describe('#rrggbb with at least 4.5:1 contrast against white, or null'),
      default_locale: z.string(),
    }),
    locale: z.enum(ME_LOCALES).describe('The locale of the texts: the first of Accept-Language that is en, bg or de, else the tenant default, else en'),
    subject: SubjectFlags,
    purposes: z.array(MePurpose).describe('Every purpose in the register, with its state for the person'),
    requests: z.array(MeRequestItem).describe("The person's own rights requests, newest first"),
    exports: z
      .array(
        z.object({
          request_id: z.uuid(),
          type: z.enum(['access', 'portability']),
          status: z.enum(['ready', 'deleted']).describe('ready: approved by the DPO and downloadable with a code; deleted: its data is gone'),
          approved_at: z.iso.datetime().nullable(),
        }),
      )
      .describe('Exports approved for release (Art. 15(3), 20)'),
  })
  .meta({ id: 'Me', description: 'What the controller processes about the person, and their choices' });
export type Me = z.infer<typeof MeSchema>;

export const MeConsentBody = z
  .object({
    purpose: PurposeKeySchema,
    action: z.enum(['grant', 'withdraw']),
    purpose_version: z.number().int().min(1).describe('The version the page showed; an older one is a 409 PURPOSE_VERSION_STALE'),
  })
  .strict()
  .meta({ id: 'MeConsent' });
export type MeConsent = z.infer<typeof MeConsentBody>;

export const MeConsentResultSchema = z
  .object({ purpose: z.string(), consent: z.enum(['granted', 'withdrawn']), event_id: z.uuid().describe('The ledger event') })
  .meta({ id: 'MeConsentResult' });

export const MeObjectionBody = z
  .object({
    scope: z
      .enum(['direct_marketing', 'processing', 'automated_decisions'])
      .describe('direct_marketing: Art. 21(2)-(3), at once; processing: Art. 21(1), opens an objection request the controller assesses; automated_decisions: Art. 22'),
    purposes: z.array(PurposeKeySchema).min(1).max(50).optional().describe('Required for processing; for direct_marketing, none means every direct-marketing purpose'),
    grounds: z.string().trim().min(1).max(5000).meta({ pattern: '\\S' }).optional().describe('For processing: the grounds relating to the particular situation (stored encrypted)'),
  })
  .strict()
  .meta({ id: 'MeObjection' });
export type MeObjection = z.infer<typeof MeObjectionBody>;

export const MeObjectionResultSchema = z
  .object({
    subject: SubjectFlags,
    objected: z.array(z.string()).describe('The purposes named that are now objected to (upheld) or, for processing, pending assessment'),
    request_id: z.uuid().nullable().describe('For processing: the objection request that carries the assessment and its deadline'),
  })
  .meta({ id: 'MeObjectionResult' });

export const MeRequestListSchema = z
  .object({ items: z.array(MeRequestItem.extend({ extended: z.boolean().describe('The deadline was extended by two months (Art. 12(3))') })) })
  .meta({ id: 'MeRequestList' });

export const MeCreateRequestBody = z
  .object({
    type: z.enum(REQUEST_TYPES),
    details: z.string().trim().min(1).max(5000).meta({ pattern: '\\S' }).optional().describe('What the person asks, in their words (stored encrypted)'),
    code: z.string().max(20).optional().describe('For erasure: the one-time code from POST /v1/me/codes (action erasure)'),
    corrections: z.array(CorrectionSchema).min(1).max(50).optional().describe('Required for rectification, and only there: what to correct (Art. 16)'),
    restriction_ground: RestrictionGroundSchema.optional().describe('Required for restriction, and only there (Art. 18(1))'),
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (b.type === 'rectification' && !b.corrections) issue('corrections', 'is required for a rectification request: what to correct (Art. 16)');
    if (b.type !== 'rectification' && b.corrections) issue('corrections', 'is only for a rectification request');
    if (b.type === 'restriction' && !b.restriction_ground) issue('restriction_ground', 'is required for a restriction request');
    if (b.type !== 'restriction' && b.restriction_ground) issue('restriction_ground', 'is only for a restriction request');
  })
  .meta({ id: 'MeCreateRequest' });
export type MeCreateRequest = z.infer<typeof MeCreateRequestBody>;

export const MeRequestCreatedSchema = MeRequestItem.meta({ id: 'MeRequestCreated' });

export const MeCodeBody = z.object({ action: z.enum(CODE_ACTIONS) }).strict().meta({ id: 'MeCodeRequest' });
export const MeCodeSentSchema = z
  .object({
    expires_at: z.iso.datetime().describe('The code works once, until then (10 minutes)'),
    sent_to: z.string().describe('The masked email address it was sent to, e.g. j•••@example.com'),
  })
  .meta({ id: 'MeCodeSent' });

export const MeDownloadParams = z.object({ request_id: z.uuid() });
export const MeDownloadBody = z
  .object({ code: z.string().regex(/^[0-9]{6}$/, 'must be the 6 digits of the code sent by email') })
  .strict()
  .meta({ id: 'MeDownload' });
