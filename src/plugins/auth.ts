// Service tokens: HS256 JWTs with sub, tid, scope, exp. Every route that declares `config.scopes` requires one.
import jwt from '@fastify/jwt';
import fp from 'fastify-plugin';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import createError from '@fastify/error';
import { Forbidden, Unauthorized } from '../lib/errors.js';

const TooManyAuthFailures = createError<'RATE_LIMITED', 429, []>(
  'RATE_LIMITED',
  'Too many failed authentications from this address; retry after Retry-After seconds',
  429,
);

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

    // Failed authentications per client IP: the route rate limit only knows authenticated callers, so guessing
    // tokens is slowed here. In memory, per instance; a fixed one-minute window.
    const failures = new Map<string, { count: number; resetAt: number }>();
    const limit = app.config.rateLimit.authFailuresPerMinute;
    const failed = (ip: string) => {
      const now = Date.now();
      const entry = failures.get(ip);
      if (!entry || entry.resetAt <= now) {
        if (failures.size >= 50_000) failures.clear();
        failures.set(ip, { count: 1, resetAt: now + 60_000 });
      } else entry.count++;
    };

    app.addHook('onRequest', async (request, reply) => {
      const required = request.routeOptions.config.scopes;
      if (!required) return;
      const entry = failures.get(request.ip);
      if (entry && entry.count >= limit && entry.resetAt > Date.now()) {
        reply.header('retry-after', String(Math.ceil((entry.resetAt - Date.now()) / 1000)));
        throw new TooManyAuthFailures();
      }
      try {
        await authenticate(request, required);
      } catch (err) {
        if (err instanceof Unauthorized) failed(request.ip);
        throw err;
      }
    });

    async function authenticate(request: FastifyRequest, required: Scope[]): Promise<void> {
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
    }
  },
  { name: 'auth', dependencies: ['config'] },
);

/** The caller of a route that declared scopes; the auth hook has already run. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw new Unauthorized('Authentication required');
  return request.principal;
}
