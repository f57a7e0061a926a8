import { z } from 'zod';
import { LEGAL_BASES } from '../purposes/purposes.schemas.js';

export const PrivacyNoticeQuery = z.object({
  locale: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'must be a language tag such as en, bg or pt-BR')
    .optional()
    .describe("Wanted locale; each purpose falls back to the tenant's default locale, then to any locale it has"),
});

export const PrivacyNoticeSchema = z
  .object({
    controller: z.string().describe("The controller's name (the tenant)"),
    locale: z.string().describe('The locale asked for (or the default)'),
    purposes: z.array(
      z.object({
        key: z.string(),
        version: z.number().int(),
        locale: z.string().describe('The locale this purpose is shown in, after fallback'),
        title: z.string(),
        description: z.string(),
        legal_basis: z.enum(LEGAL_BASES),
        direct_marketing: z.boolean(),
        automated_decisions: z.boolean(),
        data_categories: z.array(z.string()),
        retention: z.string(),
        recipients: z.array(z.string()),
        withdrawable: z.boolean().describe('True for consent-based purposes: consent can be withdrawn at any time (Art. 7(3))'),
        objectable: z.boolean().describe('True where the subject may object (Art. 21): direct marketing, legitimate interests, public task'),
      }),
    ),
    rights: z
      .array(z.object({ right: z.string(), article: z.string() }))
      .describe('The rights the data subject has under Arts. 15-22 GDPR'),
  })
  .meta({ id: 'PrivacyNotice', description: 'The register rendered for one locale: what a CRM shows to inform the data subject' });
export type PrivacyNotice = z.infer<typeof PrivacyNoticeSchema>;
