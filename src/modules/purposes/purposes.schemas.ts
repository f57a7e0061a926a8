import { z } from 'zod';
import { LocaleSchema } from '../tenants/tenants.schemas.js';
import { PageMeta } from '../../lib/schemas.js';

export const LEGAL_BASES = ['consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'] as const;

export const PurposeKeySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be 1-64 characters: lower-case letters, digits, _ . -, starting with a letter or digit')
  .meta({ id: 'PurposeKey', description: 'Stable key of a purpose, chosen by the tenant', example: 'newsletter' });

const Translation = z
  .object({
    title: z.string().trim().min(1).max(200).meta({ pattern: '\\S' }),
    description: z.string().trim().min(1).max(4000).meta({ pattern: '\\S' }),
  })
  .strict();

const Translations = z
  .record(LocaleSchema, Translation)
  .refine((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 50, 'must hold 1 to 50 locales')
  .meta({ minProperties: 1, maxProperties: 50 })
  .describe('Title and description per locale, as shown to the data subject');

const content = {
  legal_basis: z.enum(LEGAL_BASES).describe('Art. 6(1) lawful basis; only consent-based purposes accept consent grants'),
  direct_marketing: z.boolean().describe('Direct marketing: an Art. 21 objection blocks it whatever the consent state'),
  automated_decisions: z.boolean().describe('Involves automated decisions or profiling (Art. 22)'),
  data_categories: z.array(z.string().trim().min(1).max(100).meta({ pattern: '\\S' })).max(50).describe('Categories of personal data processed, e.g. email, purchase history'),
  retention: z.string().trim().min(1).max(500).meta({ pattern: '\\S' }).describe('How long the data is kept, or the criteria that decide it'),
  recipients: z.array(z.string().trim().min(1).max(200).meta({ pattern: '\\S' })).max(50).describe('Recipients or categories of recipients'),
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
    translations: Translations,
  })
  .strict()
  .meta({ id: 'CreatePurpose', description: 'A new purpose in the register; it starts at version 1' });
export type CreatePurpose = z.infer<typeof CreatePurposeBody>;

export const UpdatePurposeBody = z
  .object({
    legal_basis: content.legal_basis.optional(),
    direct_marketing: content.direct_marketing.optional(),
    automated_decisions: content.automated_decisions.optional(),
    data_categories: content.data_categories.optional(),
    retention: content.retention.optional(),
    recipients: content.recipients.optional(),
    translations: Translations.optional().describe('Replaces the whole set of locales: send every locale the purpose keeps'),
  })
  .strict()
  .meta({ id: 'UpdatePurpose', description: 'Fields to change. Any change of content publishes a new version; the old one stays readable.' });
export type UpdatePurpose = z.infer<typeof UpdatePurposeBody>;

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
    translations: z.record(z.string(), z.object({ title: z.string(), description: z.string() })),
    created_at: z.iso.datetime().describe('When this version was published'),
  })
  .meta({ id: 'Purpose', description: 'One version of a purpose in the register of processing' });
export type Purpose = z.infer<typeof PurposeSchema>;

export const PurposeListSchema = PageMeta.extend({ items: z.array(PurposeSchema) }).meta({ id: 'PurposeList' });
export const PurposeParams = z.object({ key: PurposeKeySchema });
