// Per-client rate limits: keyed by tenant and token subject once authenticated, by IP before. Redis-backed when Redis
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
      keyGenerator: (request) => (request.principal ? `c:${request.principal.tenantId}:${request.principal.clientId}` : `ip:${request.ip}`),
      allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
    });
  },
  { name: 'rate-limit', dependencies: ['redis', 'auth'] },
);
