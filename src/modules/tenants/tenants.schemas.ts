import { z } from 'zod';

export const LocaleSchema = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'must be a language tag such as en, bg or pt-BR')
  .meta({ id: 'Locale', description: 'A BCP 47 language tag: language, optionally with a region (en, bg, pt-BR)', example: 'bg' });

const bounded = (max: number) => z.string().trim().min(1).max(max).meta({ pattern: '\\S' });
const HttpsUrlCheck = z.url({ protocol: /^https$/, hostname: z.regexes.domain });
// One refinement, so a bad URL is named once whatever is wrong with it.
const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => HttpsUrlCheck.safeParse(v).success, 'must be an https URL with a domain name')
  .meta({ format: 'uri', pattern: '^https://' })
  .describe('An https URL');

/** How a person reaches the controller or its DPO (Art. 13(1)(a)-(b), 14(1)(a)-(b)). */
export const ContactSchema = z
  .object({
    name: bounded(200).optional().describe('Name of the organisation, office or person'),
    address: bounded(500).optional().describe('Postal address'),
    email: z.email().max(254).optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9][0-9 ().\/-]{2,38}[0-9]$/, 'must be a telephone number: digits, spaces and + ( ) . / -')
      .optional(),
    url: httpsUrl.optional().describe('A contact form or page, https'),
  })
  .strict()
  .refine((c) => c.email !== undefined || c.address !== undefined || c.phone !== undefined || c.url !== undefined, {
    message: 'must give at least one way to reach it: email, address, phone or url',
  })
  .meta({ id: 'Contact', description: 'Contact details; at least one of email, address, phone or url' });

/** The authority a person may complain to (Art. 13(2)(d), 77), named in the notice and in every refusal (Art. 12(4)). */
export const SupervisoryAuthoritySchema = z
  .object({
    name: bounded(200),
    url: httpsUrl,
    address: bounded(500).optional(),
  })
  .strict()
  .meta({ id: 'SupervisoryAuthority', description: 'The supervisory authority competent for the controller' });

/** Accountability period (Art. 5(2), 5(1)(e)): days an erased person's tombstone, ledger and request history are
 * kept after the erasure before they are purged. 1095 days (three years) unless the tenant sets another. */
export const ACCOUNTABILITY_DAYS = { min: 30, max: 36_500, default: 1095 } as const;
/** Days an export's gathered data (the systems' parts) is kept after its request closes, then deleted. */
export const EXPORT_RETENTION_DAYS = { min: 1, max: 365, default: 30 } as const;
/** Download links for the person (Art. 15(3), 20): hours a link lives and downloads it allows, unless the CRM asks otherwise. */
export const EXPORT_LINK_TTL_HOURS = { min: 1, max: 720, default: 168 } as const;
export const EXPORT_LINK_MAX_DOWNLOADS = { min: 1, max: 20, default: 3 } as const;
/** Self-service: hours a portal link (a subject token) lives unless the CRM asks otherwise. */
export const PORTAL_TOKEN_HOURS = { min: 1, max: 720, default: 24 } as const;
/** The preference page's button colour, behind white text: WCAG 2.2 AA asks 4.5:1 for normal text (SC 1.4.3). */
export const BRAND_COLOR_MIN_CONTRAST = 4.5;

export const TenantSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    timezone: z.string().describe('IANA time zone of the controller; deadlines are counted in calendar days of this zone'),
    deadline_policy: z.enum(['eu', 'uk']).describe('eu: waiting for proof of identity pauses the clock; uk: the month restarts when proof arrives'),
    holiday_calendar: z.string().nullable().describe('ISO 3166 country or country-region code whose public holidays move a deadline, e.g. BG, DE-BY, GB-SCT'),
    reminder_offsets_days: z.array(z.number().int()).describe('Days before a deadline on which the DPO is reminded'),
    default_locale: LocaleSchema,
    dpo_email: z.string().nullable().describe('The DPO address that reminders and new-request alerts are emailed to (when the operator set SMTP_URL)'),
    suppress_erased: z
      .boolean()
      .describe('Every erased person goes on the direct-marketing suppression list (Art. 21(3)); when false, only those who objected to or withdrew from direct marketing'),
    accountability_days: z
      .number()
      .int()
      .describe("Days an erased person's tombstone, unreadable consent ledger and request history are kept after the erasure (accountability, Art. 5(2)), then purged (Art. 5(1)(e))"),
    export_retention_days: z
      .number()
      .int()
      .describe("Days an access or portability export's gathered data is kept after its request closes (for further copies), then deleted (Art. 5(1)(e)); at once on erasure"),
    export_link_ttl_hours: z.number().int().describe('Hours a download link for the person lives unless its issuer says otherwise'),
    export_link_max_downloads: z.number().int().describe('Downloads a link for the person allows unless its issuer says otherwise'),
    portal_token_hours: z.number().int().describe('Hours a portal link for the person lives unless its issuer says otherwise'),
    brand_color: z
      .string()
      .nullable()
      .describe("The preference page's colour (#rrggbb, lower case), used behind white text; null for the page's own"),
    controller_contact: ContactSchema.nullable().describe("The controller's contact details as the privacy notice shows them (Art. 13(1)(a))"),
    dpo_contact: ContactSchema.nullable().describe("The data protection officer's contact details as the privacy notice shows them (Art. 13(1)(b))"),
    supervisory_authority: SupervisoryAuthoritySchema.nullable().describe('Where a person may lodge a complaint (Art. 13(2)(d), 77); named in the notice and in refusals (Art. 12(4))'),
    judicial_remedy: z.string().nullable().describe('How a person may seek a judicial remedy (Art. 79), stated in refusals (Art. 12(4))'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Tenant', description: 'One controller organisation and its settings' });
export type Tenant = z.infer<typeof TenantSchema>;

export const TenantSettingsSchema = z.object({
  name: z.string().trim().min(1).max(200).meta({ pattern: '\\S' }).optional(),
  timezone: z.string().max(64).optional().describe('IANA time zone, e.g. Europe/Sofia; an unknown zone is a 400'),
  deadline_policy: z.enum(['eu', 'uk']).optional(),
  holiday_calendar: z
    .string()
    .max(8)
    .nullable()
    .optional()
    .describe('ISO 3166 country or country-region code (BG, DE, GB-ENG); null for weekends only; an unknown calendar is a 400'),
  reminder_offsets_days: z
    .array(z.number().int().min(1).max(60))
    .max(10)
    .optional()
    .describe('Days before the deadline to remind the DPO, e.g. [7, 2]'),
  default_locale: LocaleSchema.optional(),
  dpo_email: z.email().max(254).nullable().optional().describe('The DPO address for reminder emails; null to stop emails'),
  suppress_erased: z
    .boolean()
    .optional()
    .describe('Default true: every erased person is suppressed from direct marketing; false: only objectors and those who withdrew a marketing consent'),
  accountability_days: z
    .number()
    .int()
    .min(ACCOUNTABILITY_DAYS.min)
    .max(ACCOUNTABILITY_DAYS.max)
    .optional()
    .describe(
      `Days (${ACCOUNTABILITY_DAYS.min}–${ACCOUNTABILITY_DAYS.max}, default ${ACCOUNTABILITY_DAYS.default}) an erased person's records are kept after the erasure before they are purged (Art. 5(2), 5(1)(e)); a change applies to people already erased whose purge has not run yet`,
    ),
  export_retention_days: z
    .number()
    .int()
    .min(EXPORT_RETENTION_DAYS.min)
    .max(EXPORT_RETENTION_DAYS.max)
    .optional()
    .describe(
      `Days (${EXPORT_RETENTION_DAYS.min}–${EXPORT_RETENTION_DAYS.max}, default ${EXPORT_RETENTION_DAYS.default}) an export's gathered data is kept after its request closes, then deleted (Art. 5(1)(e)); a change applies to exports not yet deleted`,
    ),
  export_link_ttl_hours: z
    .number()
    .int()
    .min(EXPORT_LINK_TTL_HOURS.min)
    .max(EXPORT_LINK_TTL_HOURS.max)
    .optional()
    .describe(`Hours (${EXPORT_LINK_TTL_HOURS.min}–${EXPORT_LINK_TTL_HOURS.max}, default ${EXPORT_LINK_TTL_HOURS.default}) a new download link lives; links already issued keep theirs`),
  export_link_max_downloads: z
    .number()
    .int()
    .min(EXPORT_LINK_MAX_DOWNLOADS.min)
    .max(EXPORT_LINK_MAX_DOWNLOADS.max)
    .optional()
    .describe(`Downloads (${EXPORT_LINK_MAX_DOWNLOADS.min}–${EXPORT_LINK_MAX_DOWNLOADS.max}, default ${EXPORT_LINK_MAX_DOWNLOADS.default}) a new download link allows`),
  portal_token_hours: z
    .number()
    .int()
    .min(PORTAL_TOKEN_HOURS.min)
    .max(PORTAL_TOKEN_HOURS.max)
    .optional()
    .describe(`Hours (${PORTAL_TOKEN_HOURS.min}–${PORTAL_TOKEN_HOURS.max}, default ${PORTAL_TOKEN_HOURS.default}) a new portal link for the person lives; links already issued keep theirs`),
  brand_color: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour #rrggbb')
    .nullable()
    .optional()
    .describe(
      `The preference page's colour, #rrggbb (stored lower-case), used as the background of buttons with white text: its contrast against white must be at least ${BRAND_COLOR_MIN_CONTRAST}:1 (WCAG 2.2 AA), else a 400 naming brand_color; null for the page's own`,
    ),
  controller_contact: ContactSchema.nullable().optional().describe("The controller's contact details for the privacy notice (Art. 13(1)(a)); replaces the whole object; null to clear"),
  dpo_contact: ContactSchema.nullable().optional().describe("The DPO's contact details for the privacy notice (Art. 13(1)(b)); replaces the whole object; null to clear"),
  supervisory_authority: SupervisoryAuthoritySchema.nullable().optional().describe('The competent supervisory authority (Art. 13(2)(d), 77); null to clear'),
  judicial_remedy: bounded(2000).nullable().optional().describe('How to seek a judicial remedy (Art. 79), e.g. the competent court; null to clear'),
});

export const UpdateTenantBody = TenantSettingsSchema.strict().meta({ id: 'UpdateTenant', description: 'Settings to change; absent fields stay as they are' });
export type UpdateTenant = z.infer<typeof UpdateTenantBody>;
