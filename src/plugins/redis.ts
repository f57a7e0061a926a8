// Redis: rate-limit counters today, queues later. Commands fail fast while it is down instead of buffering.
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
  }
}

export default fp(
  async (app) => {
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
