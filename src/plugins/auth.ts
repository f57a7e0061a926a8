// Service tokens: HS256 JWTs with sub, tid, scope, exp. Every route that declares `config.scopes` requires one.
import jwt from '@fastify/jwt';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { Forbidden, Unauthorized } from '../lib/errors.js';

export const SCOPES = [
  'purposes:read',
  'purposes:write',
  'subjects:read',
  'subjects:write',
  'consents:read',
  'consents:write',
  'requests:read',
  'requests:write',
  'requests:admin',
  'exports:read',
  'webhooks:admin',
  'systems:admin',
  'tenant:admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export type Principal = { tenantId: string; clientId: string; scopes: ReadonlySet<string> };

const Claims = z.object({
  sub: z.string().min(1).max(200),
  tid: z.uuid(),
  scope: z.string().max(2000),
  exp: z.number(),
});

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Scopes a token must carry for this route; absent means the route is public. */
    scopes?: Scope[];
  }
}

export default fp(
  async (app) => {
    const { secret, issuer, audience } = app.config.jwt;
    await app.register(jwt, {
      secret,
      sign: { algorithm: 'HS256', iss: issuer, aud: audience },
      verify: {
        algorithms: ['HS256'],
        allowedIss: issuer,
        allowedAud: audience,
        // allowedIss/allowedAud only check a claim that is present: iss and aud must be required too.
        requiredClaims: ['sub', 'tid', 'scope', 'exp', 'iss', 'aud'],
        clockTolerance: 30_000,
        cache: 10_000,
      },
    });
    app.decorateRequest('principal', null);

    app.addHook('onRequest', async (request) => {
      const required = request.routeOptions.config.scopes;
      if (!required) return;
      const header = request.headers.authorization;
      if (!header || !/^Bearer [A-Za-z0-9._~+/=-]+$/.test(header) || header.length > 8192) {
        throw new Unauthorized('Send a service token as "Authorization: Bearer <token>"');
      }
      let payload: unknown;
      try {
        payload = await request.jwtVerify();
      } catch {
        // Every verification failure (signature, alg, expiry, claims, malformed) is the same 401 to the caller.
        throw new Unauthorized('The bearer token is not valid or has expired');
      }
      const claims = Claims.safeParse(payload);
      if (!claims.success) throw new Unauthorized('The bearer token lacks a valid sub, tid, scope or exp claim');
      const scopes = new Set(claims.data.scope.split(' ').filter(Boolean));
      const missing = required.filter((s) => !scopes.has(s));
      if (missing.length > 0) throw new Forbidden(`This operation needs the scope ${missing.join(' ')}`);
      request.principal = { tenantId: claims.data.tid, clientId: claims.data.sub, scopes };
    });
  },
  { name: 'auth', dependencies: ['config'] },
);

/** The caller of a route that declared scopes; the auth hook has already run. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw new Unauthorized('Authentication required');
  return request.principal;
}
