import { z } from 'zod';
import { LocaleSchema } from '../tenants/tenants.schemas.js';
import { PageMeta } from '../../lib/schemas.js';
import { isCountryCode } from './purposes.countries.js';

export const LEGAL_BASES = ['consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

/** Channels the purpose reaches people by; email and sms on a basis other than consent need a soft opt-in (ePrivacy Art. 13(2)). */
export const CHANNELS = ['email', 'sms', 'phone', 'post', 'online'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The Chapter V ground each transfer to a third country rests on (Art. 13(1)(f), 14(1)(f)). There is no "other":
 * a transfer without one of these grounds is not lawful, so the register cannot record one. */
export const TRANSFER_SAFEGUARDS = [
  'adequacy_decision', // Art. 45
  'standard_contractual_clauses', // Art. 46(2)(c)-(d)
  'binding_corporate_rules', // Art. 46(2)(b), 47
  'code_of_conduct', // Art. 46(2)(e)
  'certification', // Art. 46(2)(f)
  'public_authority_instrument', // Art. 46(2)(a)
  'ad_hoc_clauses', // Art. 46(3)(a), authorised by the supervisory authority
  'derogation_art49', // Art. 49
] as const;
export type TransferSafeguard = (typeof TRANSFER_SAFEGUARDS)[number];

/** Whether providing the data is required, and by what (Art. 13(2)(e)). */
export const PROVISION_REQUIREMENTS = ['statutory', 'contractual', 'contract_prerequisite', 'none'] as const;
export type ProvisionRequirement = (typeof PROVISION_REQUIREMENTS)[number];

/** Where the data comes from (Art. 13 when from the person, Art. 14(2)(f) otherwise). */
export const DATA_SOURCES = ['data_subject', 'third_party', 'public_source'] as const;
export type DataSource = (typeof DATA_SOURCES)[number];

/** The Art. 22(2) exception a solely automated decision with legal or similarly significant effects relies on. */
export const AUTOMATED_DECISION_EXCEPTIONS = ['contract', 'law', 'explicit_consent'] as const;
export type AutomatedDecisionException = (typeof AUTOMATED_DECISION_EXCEPTIONS)[number];

export const PurposeKeySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be 1-64 characters: lower-case letters, digits, _ . -, starting with a letter or digit')
  .meta({ id: 'PurposeKey', description: 'Stable key of a purpose, chosen by the tenant', example: 'newsletter' });

const text = (max: number) => z.string().trim().min(1).max(max).meta({ pattern: '\\S' });

const Translation = z
  .object({
    title: text(200),
    description: text(4000),
    legitimate_interests: text(4000)
      .optional()
      .describe('The legitimate interests pursued (Art. 13(1)(d), 14(2)(b)); required in every locale of a purpose on legitimate interests, refused on any other'),
    automated_decision_logic: text(4000)
      .optional()
      .describe('Meaningful information about the logic involved, and the significance and envisaged consequences (Art. 13(2)(f), 14(2)(g)); required in every locale when automated_decisions is true, refused otherwise'),
    provision_consequences: text(2000)
      .optional()
      .describe('The possible consequences of not providing the data (Art. 13(2)(e)); required in every locale when provision_requirement is statutory, contractual or contract_prerequisite'),
    source_detail: text(1000)
      .optional()
      .describe('Which source the data comes from (Art. 14(2)(f)); required in every locale when data_source is third_party or public_source'),
  })
  .strict();

const Translations = z
  .record(LocaleSchema, Translation)
  .refine((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 50, 'must hold 1 to 50 locales')
  .meta({ minProperties: 1, maxProperties: 50 })
  .describe('The texts shown to the data subject, per locale');

const Channels = z
  .array(z.enum(CHANNELS))
  .max(CHANNELS.length)
  .refine((c) => new Set(c).size === c.length, 'must not repeat a channel')
  .meta({ uniqueItems: true })
  .describe('How people are contacted for this purpose; email and sms marketing on a basis other than consent needs a soft opt-in (ePrivacy Art. 13(2))');

const Transfer = z
  .object({
    country: z
      .string()
      .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 country code in capitals, such as US, CH or JP')
      .meta({ pattern: '^[A-Z]{2}$', minLength: 2, maxLength: 2, example: 'US' })
      .describe('The third country, ISO 3166-1 alpha-2'),
    safeguard: z
      .enum(TRANSFER_SAFEGUARDS)
      .describe(
        'adequacy_decision: Art. 45; standard_contractual_clauses: Art. 46(2)(c)-(d); binding_corporate_rules: Art. 47; code_of_conduct: Art. 46(2)(e); certification: Art. 46(2)(f); public_authority_instrument: Art. 46(2)(a); ad_hoc_clauses: Art. 46(3)(a); derogation_art49: Art. 49',
      ),
  })
  .strict();

const Transfers = z
  .array(Transfer)
  .max(20)
  .refine((ts) => new Set(ts.map((x) => `${x.country}/${x.safeguard}`)).size === ts.length, 'must not repeat a country with the same safeguard')
  .describe('Transfers to third countries and the safeguard each relies on (Art. 13(1)(f), 14(1)(f))');

const content = {
  legal_basis: z.enum(LEGAL_BASES).describe('Art. 6(1) lawful basis; only consent-based purposes accept consent grants'),
  direct_marketing: z.boolean().describe('Direct marketing: an Art. 21 objection blocks it whatever the consent state'),
  automated_decisions: z.boolean().describe('Involves solely automated decisions, profiling included, with legal or similarly significant effects (Art. 22)'),
  data_categories: z.array(text(100)).max(50).describe('Categories of personal data processed, e.g. email, purchase history (Art. 14(1)(d))'),
  retention: text(500).describe('How long the data is kept, or the criteria that decide it (Art. 13(2)(a))'),
  recipients: z.array(text(200)).max(50).describe('Recipients, processors included, named where known (Art. 13(1)(e), CJEU C-154/21)'),
  channels: Channels,
  transfers: Transfers,
  provision_requirement: z
    .enum(PROVISION_REQUIREMENTS)
    .nullable()
    .describe('Whether providing the data is a statutory or contractual requirement, or needed to enter a contract (Art. 13(2)(e)); null when not stated'),
  data_source: z.enum(DATA_SOURCES).nullable().describe('Where the data comes from (Art. 14(2)(f)); null when not stated'),
  automated_decision_exception: z
    .enum(AUTOMATED_DECISION_EXCEPTIONS)
    .nullable()
    .describe('The Art. 22(2) exception the automated decisions rely on: contract (a), law (b), explicit_consent (c); required when automated_decisions is true, null otherwise'),
  translations: Translations,
};

export const CreatePurposeBody = z
  .object({
    key: PurposeKeySchema,
    legal_basis: content.legal_basis,
    direct_marketing: content.direct_marketing.default(false),
    automated_decisions: content.automated_decisions.default(false),
    data_categories: content.data_categories.default([]),
    retention: content.retention,
    recipients: content.recipients.default([]),
    channels: content.channels.default([]),
    transfers: content.transfers.default([]),
    provision_requirement: content.provision_requirement.default(null),
    data_source: content.data_source.default(null),
    automated_decision_exception: content.automated_decision_exception.default(null),
    translations: Translations,
  })
  .strict()
  .meta({
    id: 'CreatePurpose',
    description:
      'A new purpose in the register; it starts at version 1. Its legal basis is fixed for good: processing on another basis is another purpose.',
  });
export type CreatePurpose = z.infer<typeof CreatePurposeBody>;

export const UpdatePurposeBody = z
  .object({
    legal_basis: content.legal_basis.optional().describe('Accepted only when it is the current basis: the basis of a purpose never changes (409 LEGAL_BASIS_FIXED)'),
    direct_marketing: content.direct_marketing.optional(),
    automated_decisions: content.automated_decisions.optional(),
    data_categories: content.data_categories.optional(),
    retention: content.retention.optional(),
    recipients: content.recipients.optional(),
    channels: content.channels.optional(),
    transfers: content.transfers.optional(),
    provision_requirement: content.provision_requirement.optional(),
    data_source: content.data_source.optional(),
    automated_decision_exception: content.automated_decision_exception.optional(),
    translations: Translations.optional().describe('Replaces the whole set of locales: send every locale the purpose keeps'),
    requires_reconsent: z
      .boolean()
      .optional()
      .describe(
        'true: the new version changes the purpose so that consents given for earlier versions no longer count (Art. 7, EDPB Guidelines 05/2020); it publishes a new version even with no other change, and campaign checks answer reconsent_needed for grants of earlier versions. Consent-based purposes only.',
      ),
  })
  .strict()
  .meta({ id: 'UpdatePurpose', description: 'Fields to change. Any change of content publishes a new version; the old one stays readable.' });
export type UpdatePurpose = z.infer<typeof UpdatePurposeBody>;

const opt = z.string().optional();
export const PurposeSchema = z
  .object({
    key: PurposeKeySchema,
    version: z.number().int().describe('Current version; grows by one with every change of content'),
    legal_basis: z.enum(LEGAL_BASES),
    direct_marketing: z.boolean(),
    automated_decisions: z.boolean(),
    data_categories: z.array(z.string()),
    retention: z.string(),
    recipients: z.array(z.string()),
    channels: z.array(z.enum(CHANNELS)),
    transfers: z.array(z.object({ country: z.string(), safeguard: z.enum(TRANSFER_SAFEGUARDS) })),
    provision_requirement: z.enum(PROVISION_REQUIREMENTS).nullable(),
    data_source: z.enum(DATA_SOURCES).nullable(),
    automated_decision_exception: z.enum(AUTOMATED_DECISION_EXCEPTIONS).nullable(),
    translations: z.record(
      z.string(),
      z.object({
        title: z.string(),
        description: z.string(),
        legitimate_interests: opt,
        automated_decision_logic: opt,
        provision_consequences: opt,
        source_detail: opt,
      }),
    ),
    requires_reconsent: z.boolean().describe('This version asked for fresh consent: grants for earlier versions no longer count'),
    reconsent_from_version: z
      .number()
      .int()
      .nullable()
      .describe('The latest version up to this one that required fresh consent; consents granted for an earlier version need renewing. Null when none did.'),
    created_at: z.iso.datetime().describe('When this version was published'),
  })
  .meta({ id: 'Purpose', description: 'One version of a purpose in the register of processing' });
export type Purpose = z.infer<typeof PurposeSchema>;

export const PurposeListSchema = PageMeta.extend({ items: z.array(PurposeSchema) }).meta({ id: 'PurposeList' });
export const PurposeParams = z.object({ key: PurposeKeySchema });
