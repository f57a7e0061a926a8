// Service tokens: HS256 JWTs with sub, tid, scope, exp (minted by the CLI), or RS256/ES256 tokens from the operator's
// identity provider, verified against its JWKS. Every route that declares `config.scopes` requires one; a token
// whose jti was revoked is refused. Routes that declare `config.subject` take a subject token instead (one person's
// own data, src/lib/subject-tokens.ts), and nothing else.
import jwt from '@fastify/jwt';
import fp from 'fastify-plugin';
import { jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import createError from '@fastify/error';
import type { OidcConfig } from '../config.js';
import { Forbidden, Unauthorized } from '../lib/errors.js';
import { createJwksStore, IDP_ALGORITHMS, JwksUnavailable, type JwksStore } from '../lib/jwks.js';
import { verifySubjectToken } from '../lib/subject-tokens.js';
import { bindTenant } from '../db/tenant-scope.js';

const TooManyAuthFailures = createError<'RATE_LIMITED', 429, []>(
  'RATE_LIMITED',
  'Too many failed authentications from this address; retry after Retry-After seconds',
  429,
);

const IdpUnavailable = createError<'IDP_UNAVAILABLE', 503, []>(
  'IDP_UNAVAILABLE',
  "The identity provider's signing keys cannot be fetched; retry after Retry-After seconds",
  503,
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
/** The one person a subject token speaks for. */
export type SubjectPrincipal = { tenantId: string; subjectId: string; jti: string };

const Claims = z.object({
  sub: z.string().min(1).max(200),
  tid: z.uuid(),
  scope: z.string().max(2000),
  exp: z.number(),
  // fast-jwt checks nbf and exp but not iat; a NumericDate when present, checked below.
  iat: z.number().optional(),
  jti: z.string().min(1).max(200).optional(),
});

/** The claims of an identity provider's token once its signature, iss, aud, exp and nbf are checked. */
const IdpClaims = z.object({
  sub: z.string().min(1).max(200),
  iat: z.number().optional(),
  jti: z.string().min(1).max(200).optional(),
});
const TenantId = z.uuid();
const MAX_SCOPES = 200;

type Verified = { tenantId: string; sub: string; scopes: Set<string>; iat?: number; jti?: string };

/** How far a token's clock may run ahead of (or behind) ours: applies to exp, nbf and iat alike. */
export const CLOCK_TOLERANCE_MS = 30_000;
const FAILURE_WINDOW_MS = 60_000;
/** At most this many addresses are tracked; see createFailureCounter. */
const MAX_TRACKED_ADDRESSES = 50_000;

/** Failed authentications per address in a fixed one-minute window, in memory and per instance. Bounded: when full,
 * windows that have ended are dropped first (oldest first: entries are kept in the order their windows began),
 * then the oldest live one, so a flood of new addresses cannot wipe every address's count at once. */
export function createFailureCounter(o: { limit: number; windowMs?: number; capacity?: number; now?: () => number }) {
  const windowMs = o.windowMs ?? FAILURE_WINDOW_MS;
  const capacity = o.capacity ?? MAX_TRACKED_ADDRESSES;
  const now = o.now ?? Date.now;
  const entries = new Map<string, { count: number; resetAt: number }>();
  return {
    /** Counts a failure; the answer says whether the address is now over the limit and for how many seconds. */
    fail(address: string): { blocked: boolean; retryAfterSeconds: number } {
      const t = now();
      let entry = entries.get(address);
      if (!entry || entry.resetAt <= t) {
        entries.delete(address);
        for (const [key, e] of entries) {
          if (entries.size < capacity && e.resetAt > t) break;
          entries.delete(key);
        }
        entry = { count: 0, resetAt: t + windowMs };
        entries.set(address, entry);
      }
      entry.count++;
      return { blocked: entry.count > o.limit, retryAfterSeconds: Math.max(1, Math.ceil((entry.resetAt - t) / 1000)) };
    },
    get size() {
      return entries.size;
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    subjectPrincipal: SubjectPrincipal | null;
  }
  interface FastifyContextConfig {
    /** Scopes a token must carry for this route; absent means the route is public. */
    scopes?: Scope[];
    /** The route takes a subject token (the person's own data), and no service token. */
    subject?: boolean;
  }
}

/** Whether a token's jti was revoked: composed by app.ts from the tokens module (a denylist over service_tokens). */
export type RevocationCheck = { isRevoked(jti: string): Promise<boolean> };
/** Whether a subject still exists and is not erased: an erased person's token reaches nothing (Art. 17). */
export type SubjectCheck = { isActive(tenantId: string, subjectId: string): Promise<boolean> };

export default fp<{ denylist: RevocationCheck; subjects?: SubjectCheck }>(
  async (app, opts) => {
    const { secret, issuer, audience } = app.config.jwt;
    const oidc = app.config.oidc;
    const keys = oidc
      ? createJwksStore({ urls: oidc.jwksUrls, cacheTtlMs: oidc.cacheTtlMs, cooldownMs: oidc.cooldownMs, timeoutMs: oidc.timeoutMs, log: app.log })
      : null;
    // Revoked jtis, whichever kind of token carries them.
    const { denylist } = opts;
    await app.register(jwt, {
      secret,
      sign: { algorithm: 'HS256', iss: issuer, aud: audience },
      verify: {
        algorithms: ['HS256'],
        allowedIss: issuer,
        allowedAud: audience,
        // allowedIss/allowedAud only check a claim that is present: iss and aud must be required too.
        requiredClaims: ['sub', 'tid', 'scope', 'exp', 'iss', 'aud'],
        clockTolerance: CLOCK_TOLERANCE_MS,
        cache: 10_000,
      },
    });
    app.decorateRequest('principal', null);
    app.decorateRequest('subjectPrincipal', null);

    // Failed authentications per client address (request.ip: the proxy's address unless TRUST_PROXY is set): the
    // route rate limit only knows authenticated callers, so guessing tokens is slowed here. An address over the
    // limit gets 429 instead of 401 for its failures only: a token that verifies is always served, so one client
    // failing behind a shared proxy address cannot lock out the others.
    const failures = createFailureCounter({ limit: app.config.rateLimit.authFailuresPerMinute });

    app.addHook('onRequest', async (request, reply) => {
      const required = request.routeOptions.config.scopes;
      const subject = request.routeOptions.config.subject === true;
      if (!required && !subject) return;
      try {
        if (subject) await authenticateSubject(request);
        else await authenticate(request, required!);
      } catch (err) {
        if (err instanceof IdpUnavailable && oidc) reply.header('retry-after', String(Math.max(1, Math.ceil(oidc.cooldownMs / 1000))));
        if (err instanceof Unauthorized) {
          const { blocked, retryAfterSeconds } = failures.fail(request.ip);
          if (blocked) {
            reply.header('retry-after', String(retryAfterSeconds));
            throw new TooManyAuthFailures();
          }
        }
        throw err;
      }
    });

    async function authenticate(request: FastifyRequest, required: Scope[]): Promise<void> {
      // Node keeps the first of two Authorization headers and drops the other: which one a proxy or a client meant
      // is unknowable, so a request with more than one is refused rather than run as the first one's tenant.
      if (authorizationHeaderCount(request.raw.rawHeaders) > 1) {
        throw new Unauthorized('Send exactly one Authorization header');
      }
      const header = request.headers.authorization;
      if (!header || !/^Bearer [A-Za-z0-9._~+/=-]+$/.test(header) || header.length > 8192) {
        throw new Unauthorized('Send a service token as "Authorization: Bearer <token>"');
      }
      const token = header.slice('Bearer '.length);
      // The header's alg only picks the verifier; each verifier accepts its own algorithms and no other, so an
      // HS256 token signed with an IdP's public key meets the HS256 secret and fails, and `none` fails both.
      const v = keys && oidc && (IDP_ALGORITHMS as readonly unknown[]).includes(headerAlg(token)) ? await verifyIdpToken(token, keys, oidc) : await verifyServiceToken(request);
      // An iat in the future means a wrong clock or a forged token; like nbf and exp, it gets the clock tolerance.
      if (v.iat !== undefined && v.iat * 1000 > Date.now() + CLOCK_TOLERANCE_MS) {
        throw new Unauthorized('The bearer token was issued in the future');
      }
      // Tokens without a jti (minted before jtis were given) cannot be revoked; they work until they expire.
      if (v.jti !== undefined && (await denylist.isRevoked(v.jti))) throw new Unauthorized('The bearer token has been revoked');
      bindTenant(v.tenantId);
      const missing = required.filter((s) => !v.scopes.has(s));
      if (missing.length > 0) throw new Forbidden(`This operation needs the scope ${missing.join(' ')}`);
      request.principal = { tenantId: v.tenantId, clientId: v.sub, scopes: v.scopes };
    }

    /** A subject token, verified with its own derived key: a service token fails here, as this one fails there. */
    async function authenticateSubject(request: FastifyRequest): Promise<void> {
      if (authorizationHeaderCount(request.raw.rawHeaders) > 1) throw new Unauthorized('Send exactly one Authorization header');
      const header = request.headers.authorization;
      if (!header || !/^Bearer [A-Za-z0-9._~+/=-]+$/.test(header) || header.length > 8192) {
        throw new Unauthorized('Send a subject token as "Authorization: Bearer <token>"');
      }
      const v = verifySubjectToken(secret, header.slice('Bearer '.length), { iss: issuer, aud: audience });
      if (!v) throw new Unauthorized('The subject token is not valid or has expired');
      if (await denylist.isRevoked(v.jti)) throw new Unauthorized('The subject token has been revoked');
      bindTenant(v.tenantId);
      if (opts.subjects && !(await opts.subjects.isActive(v.tenantId, v.subjectId))) throw new Unauthorized('The subject token is not valid or has expired');
      request.subjectPrincipal = { tenantId: v.tenantId, subjectId: v.subjectId, jti: v.jti };
    }

    async function verifyServiceToken(request: FastifyRequest): Promise<Verified> {
      let payload: unknown;
      try {
        payload = await request.jwtVerify();
      } catch {
        // Every verification failure (signature, alg, expiry, claims, malformed) is the same 401 to the caller.
        throw new Unauthorized('The bearer token is not valid or has expired');
      }
      const claims = Claims.safeParse(payload);
      if (!claims.success) throw new Unauthorized('The bearer token lacks a valid sub, tid, scope or exp claim');
      const { tid, sub, scope, iat, jti } = claims.data;
      return { tenantId: tid, sub, scopes: new Set(scope.split(' ').filter(Boolean)), iat, jti };
    }

    async function verifyIdpToken(token: string, store: JwksStore, o: OidcConfig): Promise<Verified> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, (h) => store.getKey(h), {
          algorithms: [...IDP_ALGORITHMS],
          issuer: o.issuers,
          audience: o.audience,
          requiredClaims: ['sub', 'exp', 'iss', 'aud'],
          clockTolerance: CLOCK_TOLERANCE_MS / 1000,
        }));
      } catch (err) {
        if (err instanceof JwksUnavailable) throw new IdpUnavailable();
        throw new Unauthorized('The bearer token is not valid or has expired');
      }
      const claims = IdpClaims.safeParse(payload);
      if (!claims.success) throw new Unauthorized('The bearer token lacks a valid sub, iat or jti claim');
      const tenant = TenantId.safeParse(claimAt(payload, o.tenantClaim));
      if (!tenant.success) throw new Unauthorized(`The bearer token's ${o.tenantClaim} claim does not name a tenant`);
      return { tenantId: tenant.data, sub: claims.data.sub, scopes: idpScopes(claimAt(payload, o.scopeClaim)), iat: claims.data.iat, jti: claims.data.jti };
    }
  },
  { name: 'auth', dependencies: ['config', 'db'] },
);

/** The alg a token's header names, or undefined when the header is not readable JSON. */
function headerAlg(token: string): unknown {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? (header as { alg?: unknown }).alg : undefined;
  } catch {
    return undefined;
  }
}

/** A claim by name, or by a dotted path into nested objects (`realm_access.roles`) when no claim has that name
 * (namespaced claims such as `https://example.com/tid` contain dots themselves). */
function claimAt(payload: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let at: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Scopes from a space-separated string (`scope`) or an array claim (`scp`, `roles`); names outside SCOPES are
 * the IdP's business and are ignored. */
function idpScopes(claim: unknown): Set<string> {
  const names = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim.filter((x): x is string => typeof x === 'string') : [];
  return new Set(names.slice(0, MAX_SCOPES).filter((s) => (SCOPES as readonly string[]).includes(s)));
}

function authorizationHeaderCount(rawHeaders: string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === 'authorization') n++;
  return n;
}

/** The person behind a route that declared `subject`; the auth hook has already run. */
export function subjectOf(request: { subjectPrincipal: SubjectPrincipal | null }): SubjectPrincipal {
  if (!request.subjectPrincipal) throw new Unauthorized('Authentication required');
  return request.subjectPrincipal;
}

/** The caller of a route that declared scopes; the auth hook has already run. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw new Unauthorized('Authentication required');
  return request.principal;
}
