// Portal links: a CRM mints one for a person (in an email, behind a "manage your data" button) and the person's
// browser carries the subject token it holds to /v1/me. Nothing is stored: the token is its own record, signed.
import { signSubjectToken } from '../../lib/subject-tokens.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectsRepo } from '../subjects/subjects.repo.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import { PortalSubjectErased } from './portal.errors.js';

export type PortalLink = { url: string; token: string; expires_at: string };

export function createPortalLinks(deps: {
  subjectsRepo: Pick<SubjectsRepo, 'find'>;
  tenants: Pick<TenantsRepo, 'findById'>;
  /** Null where no API runs (the worker, the CLI): no link can be minted there. */
  jwt: { secret: string; issuer: string; audience: string } | null;
  portalBaseUrl: string;
  clock?: () => Date;
}) {
  const clock = deps.clock ?? (() => new Date());
  return {
    /** A link for one subject of the tenant; another tenant's subject is a 404 like an unknown one. */
    async create(tenantId: string, subjectId: string, input: { ttl_hours?: number }): Promise<PortalLink> {
      const subject = await deps.subjectsRepo.find(tenantId, subjectId);
      if (!subject) throw new SubjectNotFound();
      if (subject.status === 'erased') throw new PortalSubjectErased();
      if (!deps.jwt) throw new Error('portal links need the JWT secret (config.jwt)');
      const hours = input.ttl_hours ?? (await deps.tenants.findById(tenantId))!.portalTokenHours;
      const { token, expiresAt } = signSubjectToken(
        deps.jwt.secret,
        { tid: tenantId, sid: subjectId, ttlSeconds: hours * 3600, iss: deps.jwt.issuer, aud: deps.jwt.audience },
        clock(),
      );
      return { url: `${deps.portalBaseUrl}/preferences?token=${token}`, token, expires_at: expiresAt.toISOString() };
    },
  };
}
export type PortalLinks = ReturnType<typeof createPortalLinks>;
