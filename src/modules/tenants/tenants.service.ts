import { withTenant } from '../../db/tenant-scope.js';
import { newWrappedKey, unwrapKey } from '../../lib/crypto.js';
import { canonicalTimeZone, isKnownCalendar } from '../../lib/calendars.js';
import { ValidationFailed, type FieldProblem } from '../../lib/errors.js';
import type { Keyring } from '../../lib/keyring.js';
import { UnknownTenant } from './tenants.errors.js';
import type { TenantRow, TenantsRepo } from './tenants.repo.js';
import {
  ACCOUNTABILITY_DAYS,
  BRAND_COLOR_MIN_CONTRAST,
  EXPORT_LINK_MAX_DOWNLOADS,
  EXPORT_LINK_TTL_HOURS,
  EXPORT_RETENTION_DAYS,
  PORTAL_TOKEN_HOURS,
  type Tenant,
  type UpdateTenant,
} from './tenants.schemas.js';

/** What a request needs of its tenant on every call: settings and the unwrapped blind-index key. */
export type TenantContext = {
  id: string;
  timezone: string;
  defaultLocale: string;
  indexKey: Buffer;
};

const CONTEXT_TTL_MS = 30_000;
const CONTEXT_CACHE_MAX = 10_000;

export function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    timezone: row.timezone,
    deadline_policy: row.deadlinePolicy,
    holiday_calendar: row.holidayCalendar,
    reminder_offsets_days: row.reminderOffsetsDays,
    default_locale: row.defaultLocale,
    dpo_email: row.dpoEmail,
    controller_contact: row.controllerContact ?? null,
    dpo_contact: row.dpoContact ?? null,
    supervisory_authority: row.supervisoryAuthority ?? null,
    judicial_remedy: row.judicialRemedy ?? null,
    suppress_erased: row.suppressErased,
    accountability_days: row.accountabilityDays,
    export_retention_days: row.exportRetentionDays,
    export_link_ttl_hours: row.exportLinkTtlHours,
    export_link_max_downloads: row.exportLinkMaxDownloads,
    portal_token_hours: row.portalTokenHours,
    brand_color: row.brandColor,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The contrast ratio of a #rrggbb colour against white (WCAG 2.2 relative luminance). */
export function contrastWithWhite(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  return 1.05 / (luminance + 0.05);
}

/** Validates settings and returns them with the time zone in its canonical spelling and the colour in lower case. */
function checkSettings<T extends UpdateTenant>(raw: T): T {
  const s = raw.brand_color ? { ...raw, brand_color: raw.brand_color.toLowerCase() } : raw;
  const problems: FieldProblem[] = [];
  const timezone = s.timezone === undefined ? undefined : canonicalTimeZone(s.timezone);
  if (s.timezone !== undefined && !timezone) problems.push({ field: 'timezone', message: 'is not a known IANA time zone' });
  if (s.holiday_calendar != null && !isKnownCalendar(s.holiday_calendar)) {
    problems.push({ field: 'holiday_calendar', message: 'is not a known holiday calendar (ISO 3166 country or country-region code such as BG, DE-BY, GB-SCT)' });
  }
  if (s.reminder_offsets_days && new Set(s.reminder_offsets_days).size !== s.reminder_offsets_days.length) {
    problems.push({ field: 'reminder_offsets_days', message: 'must not repeat a day' });
  }
  // White text on the page's buttons must stay readable (WCAG 2.2 AA, SC 1.4.3).
  if (s.brand_color && contrastWithWhite(s.brand_color) < BRAND_COLOR_MIN_CONTRAST) {
    const ratio = Math.floor(contrastWithWhite(s.brand_color) * 100) / 100;
    problems.push({ field: 'brand_color', message: `has a contrast of ${ratio}:1 against white; white text on it needs at least ${BRAND_COLOR_MIN_CONTRAST}:1 (WCAG 2.2 AA)` });
  }
  if (problems.length) throw new ValidationFailed(problems);
  return timezone === undefined || timezone === null ? s : { ...s, timezone };
}

export function createTenantsService(deps: { repo: TenantsRepo; keyring: Keyring; now?: () => number }) {
  const { repo, keyring } = deps;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { ctx: TenantContext; expires: number }>();

  function indexKeyAad(tenantId: string): string {
    return `tenant-index-key:${tenantId}`;
  }

  return {
    async create(raw: { name: string } & UpdateTenant): Promise<Tenant> {
      const input = checkSettings(raw);
      const id = crypto.randomUUID();
      const { wrapped, keyId } = newWrappedKey(keyring.current, indexKeyAad(id));
      // The new tenant's row is written in its own scope: row-level security accepts no other.
      const row = await withTenant(id, () => repo.insert({
        id,
        name: input.name,
        timezone: input.timezone ?? 'UTC',
        deadlinePolicy: input.deadline_policy ?? 'eu',
        holidayCalendar: input.holiday_calendar ?? null,
        reminderOffsetsDays: input.reminder_offsets_days ?? [7, 2],
        defaultLocale: input.default_locale ?? 'en',
        dpoEmail: input.dpo_email ?? null,
        controllerContact: input.controller_contact ?? null,
        dpoContact: input.dpo_contact ?? null,
        supervisoryAuthority: input.supervisory_authority ?? null,
        judicialRemedy: input.judicial_remedy ?? null,
        suppressErased: input.suppress_erased ?? true,
        accountabilityDays: input.accountability_days ?? ACCOUNTABILITY_DAYS.default,
        exportRetentionDays: input.export_retention_days ?? EXPORT_RETENTION_DAYS.default,
        exportLinkTtlHours: input.export_link_ttl_hours ?? EXPORT_LINK_TTL_HOURS.default,
        exportLinkMaxDownloads: input.export_link_max_downloads ?? EXPORT_LINK_MAX_DOWNLOADS.default,
        portalTokenHours: input.portal_token_hours ?? PORTAL_TOKEN_HOURS.default,
        brandColor: input.brand_color ?? null,
        indexKeyWrapped: wrapped,
        keyId,
      }));
      return toTenant(row);
    },

    async get(tenantId: string): Promise<Tenant> {
      const row = await repo.findById(tenantId);
      if (!row) throw new UnknownTenant();
      return toTenant(row);
    },

    async update(tenantId: string, raw: UpdateTenant): Promise<Tenant> {
      const patch = checkSettings(raw);
      const row = await repo.update(tenantId, {
        name: patch.name,
        timezone: patch.timezone,
        deadlinePolicy: patch.deadline_policy,
        holidayCalendar: patch.holiday_calendar,
        reminderOffsetsDays: patch.reminder_offsets_days,
        defaultLocale: patch.default_locale,
        dpoEmail: patch.dpo_email,
        controllerContact: patch.controller_contact,
        dpoContact: patch.dpo_contact,
        supervisoryAuthority: patch.supervisory_authority,
        judicialRemedy: patch.judicial_remedy,
        suppressErased: patch.suppress_erased,
        accountabilityDays: patch.accountability_days,
        exportRetentionDays: patch.export_retention_days,
        exportLinkTtlHours: patch.export_link_ttl_hours,
        exportLinkMaxDownloads: patch.export_link_max_downloads,
        portalTokenHours: patch.portal_token_hours,
        brandColor: patch.brand_color,
      });
      if (!row) throw new UnknownTenant();
      cache.delete(tenantId);
      return toTenant(row);
    },

    /** Cached briefly: the hot path must not read the tenant row and unwrap its key on every call. */
    async context(tenantId: string): Promise<TenantContext> {
      const hit = cache.get(tenantId);
      if (hit && hit.expires > now()) return hit.ctx;
      const row = await repo.findById(tenantId);
      if (!row) throw new UnknownTenant();
      const ctx: TenantContext = {
        id: row.id,
        timezone: row.timezone,
        defaultLocale: row.defaultLocale,
        indexKey: unwrapKey(keyring.all, row.keyId, row.indexKeyWrapped, indexKeyAad(row.id)),
      };
      if (cache.size >= CONTEXT_CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(tenantId, { ctx, expires: now() + CONTEXT_TTL_MS });
      return ctx;
    },
  };
}
export type TenantsService = ReturnType<typeof createTenantsService>;
