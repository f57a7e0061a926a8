import type { FastifyRequest } from 'fastify';
import { Unauthorized } from '../../lib/errors.js';
import type { TenantContext } from './tenants.service.js';

export { default as tenantsRoutes } from './tenants.routes.js';
export type { TenantContext } from './tenants.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: TenantContext | null;
  }
}

/** The caller's tenant, resolved once per request by the hook in app.ts. */
export function tenantOf(request: FastifyRequest): TenantContext {
  if (!request.tenant) throw new Unauthorized('Authentication required');
  return request.tenant;
}
