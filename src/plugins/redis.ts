// Redis, when REDIS_URL is set: rate-limit counters shared by every API process. Commands fail fast while it is down
// instead of buffering. Without it (`app.redis` null) rate limits are counted in memory, per process.
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    /** null when Redis is not configured. */
    redis: Redis | null;
  }
}

export default fp(
  async (app) => {
    if (!app.config.redis) {
      app.decorate('redis', null);
      return;
    }
    const redis = new Redis(app.config.redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 1000,
      lazyConnect: true,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    redis.on('error', (err) => app.log.debug({ err: { message: err.message } }, 'redis error'));
    // The API starts even while Redis is down: rate limits fall back to memory, readiness reports the outage.
    await redis.connect().catch((err: Error) => app.log.warn({ err: { message: err.message } }, 'redis not reachable at start'));
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
  },
  { name: 'redis', dependencies: ['config'] },
);
