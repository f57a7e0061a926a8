import { z } from 'zod';
import {
  AUTOMATED_DECISION_EXCEPTIONS,
  CHANNELS,
  DATA_SOURCES,
  LEGAL_BASES,
  PROVISION_REQUIREMENTS,
  TRANSFER_SAFEGUARDS,
} from '../purposes/purposes.schemas.js';
import { ContactSchema, SupervisoryAuthoritySchema } from '../tenants/tenants.schemas.js';
import { HEADINGS, RIGHTS } from './privacy-notice.texts.js';

export const PrivacyNoticeQuery = z.object({
  locale: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'must be a language tag such as en, bg or pt-BR')
    .optional()
    .describe("Wanted locale; each purpose falls back to the tenant's default locale, then to any locale it has"),
});

const NoticePurpose = z.object({
  key: z.string(),
  version: z.number().int(),
  locale: z.string().describe("The locale this purpose's texts are shown in, after fallback"),
  title: z.string(),
  description: z.string(),
  legal_basis: z.enum(LEGAL_BASES).describe('Art. 13(1)(c), 14(1)(c)'),
  legal_basis_text: z.string().describe('The legal basis in words, in texts_locale'),
  legitimate_interests: z.string().nullable().describe('The legitimate interests pursued (Art. 13(1)(d)); null unless the basis is legitimate_interests'),
  direct_marketing: z.boolean(),
  automated_decisions: z.boolean(),
  data_categories: z.array(z.string()).describe('Art. 14(1)(d)'),
  retention: z.string().describe('Art. 13(2)(a)'),
  recipients: z.array(z.string()).describe('Art. 13(1)(e)'),
  channels: z.array(z.enum(CHANNELS)),
  transfers: z
    .array(
      z.object({
        country: z.string().describe('ISO 3166-1 alpha-2'),
        country_name: z.string().describe('The country named in the requested locale'),
        safeguard: z.enum(TRANSFER_SAFEGUARDS),
        safeguard_text: z.string(),
      }),
    )
    .describe('Transfers to third countries and their safeguards (Art. 13(1)(f)); how to obtain a copy is in transfers_note'),
  provision: z
    .object({
      requirement: z.enum(PROVISION_REQUIREMENTS),
      text: z.string(),
      consequences: z.string().nullable().describe('What follows from not providing the data'),
    })
    .nullable()
    .describe('Whether providing the data is required, and the consequences of not providing it (Art. 13(2)(e)); null when not stated'),
  source: z
    .object({ type: z.enum(DATA_SOURCES), text: z.string(), detail: z.string().nullable() })
    .nullable()
    .describe('Where the data comes from (Art. 14(2)(f)); null when not stated'),
  automated_decision: z
    .object({
      exception: z.enum(AUTOMATED_DECISION_EXCEPTIONS).nullable(),
      exception_text: z.string().nullable().describe('The Art. 22(2) exception relied on'),
      logic: z.string().nullable().describe('Meaningful information about the logic involved and the consequences (Art. 13(2)(f))'),
    })
    .nullable()
    .describe('Present when the purpose involves automated decisions (Art. 22)'),
  withdrawable: z.boolean().describe('True for consent-based purposes: consent can be withdrawn at any time (Art. 7(3))'),
  objectable: z.boolean().describe('True where the subject may object (Art. 21): direct marketing, legitimate interests, public task'),
});

export const NoticeMissingSchema = z.object({
  item: z.string().describe('What is missing: a tenant setting (controller_contact, dpo_contact, supervisory_authority) or purposes.<key>.<field>'),
  article: z.string().describe('The article that requires it'),
});

export const PrivacyNoticeSchema = z
  .object({
    controller: z.string().describe("The controller's name (the tenant), Art. 13(1)(a)"),
    controller_contact: ContactSchema.nullable().describe("The controller's contact details (Art. 13(1)(a))"),
    dpo_contact: ContactSchema.nullable().describe("The data protection officer's contact details (Art. 13(1)(b))"),
    locale: z.string().describe('The locale asked for (or the default)'),
    texts_locale: z.string().describe("The locale of the notice's own headings and rights texts: the one asked for, else the tenant's default, else en (en, bg and de exist)"),
    headings: z.object(Object.fromEntries(HEADINGS.map((h) => [h, z.string()])) as Record<(typeof HEADINGS)[number], z.ZodString>),
    purposes: z.array(NoticePurpose),
    transfers_note: z.string().describe('How to obtain a copy of the safeguards of transfers (Art. 13(1)(f))'),
    rights: z
      .array(
        z.object({
          right: z.enum(RIGHTS),
          article: z.string(),
          title: z.string(),
          text: z.string(),
        }),
      )
      .describe('The rights of the data subject (Arts. 7(3), 15-18, 20, 22, 77); the right to object is apart, in right_to_object'),
    right_to_object: z
      .object({
        article: z.literal('Art. 21'),
        title: z.string(),
        text: z.string().describe('Art. 21(1): processing on legitimate interests or a public task'),
        direct_marketing_text: z.string().describe('Art. 21(2)-(3): direct marketing, absolute'),
        purposes: z.array(z.string()).describe('Keys of the purposes the right to object applies to'),
      })
      .describe('The right to object, stated explicitly and apart from any other information (Art. 21(4))'),
    supervisory_authority: SupervisoryAuthoritySchema.nullable().describe('Where to complain (Art. 13(2)(d), 77)'),
    missing: z
      .array(NoticeMissingSchema)
      .describe('What the law requires in the notice and the register does not give yet; empty when the notice is complete'),
  })
  .meta({ id: 'PrivacyNotice', description: 'The register rendered for one locale: what a CRM shows to inform the data subject (Arts. 13 and 14)' });
export type PrivacyNotice = z.infer<typeof PrivacyNoticeSchema>;
export type NoticeMissing = z.infer<typeof NoticeMissingSchema>;
