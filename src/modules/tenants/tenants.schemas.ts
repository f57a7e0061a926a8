import { z } from 'zod';

export const LocaleSchema = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'must be a language tag such as en, bg or pt-BR')
  .meta({ id: 'Locale', description: 'A BCP 47 language tag: language, optionally with a region (en, bg, pt-BR)', example: 'bg' });

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
});

export const UpdateTenantBody = TenantSettingsSchema.strict().meta({ id: 'UpdateTenant', description: 'Settings to change; absent fields stay as they are' });
export type UpdateTenant = z.infer<typeof UpdateTenantBody>;
