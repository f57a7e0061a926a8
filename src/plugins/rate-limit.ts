// Per-client rate limits: keyed by tenant and token subject once authenticated (tenant and data subject for a
// subject token), by IP before. Redis-backed when Redis
// is configured (shared by every API process), and a Redis outage never takes the API down (skipOnError). Without
// Redis the counters live in this process's memory: right for one process, and N processes would allow N times the limit.
import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';

export default fp(
  async (app) => {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: app.config.rateLimit.max,
      timeWindow: app.config.rateLimit.windowMs,
      ...(app.redis && app.config.redis ? { redis: app.redis, nameSpace: `${app.config.redis.prefix}:rl:` } : {}),
      skipOnError: true,
      // A subject token is one person: keyed by tenant and subject (tid:sid), so one person cannot exhaust another's.
      keyGenerator: (request) =>
        request.principal
          ? `c:${request.principal.tenantId}:${request.principal.clientId}`
          : request.subjectPrincipal
            ? `s:${request.subjectPrincipal.tenantId}:${request.subjectPrincipal.subjectId}`
            : `ip:${request.ip}`,
      // By route, not by URL: a query string (`/healthz?x`) must not make a health check count against the address.
      allowList: (request) => request.routeOptions.url === '/healthz' || request.routeOptions.url === '/readyz',
    });
  },
  { name: 'rate-limit', dependencies: ['redis', 'auth'] },
);
