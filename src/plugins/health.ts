// /healthz: the process is alive. /readyz: Postgres (and Redis, when configured) answer, so the instance can take traffic.
import fp from 'fastify-plugin';
import { z } from 'zod';
import { problem, ProblemSchema } from '../lib/problem.js';
import { sendProblem } from './errors.js';

const Health = z.object({ status: z.literal('ok') });
const Checks = z.object({
  postgres: z.enum(['ok', 'down']),
  redis: z.enum(['ok', 'down']).optional().describe('Absent when the deployment runs without Redis (REDIS_URL unset)'),
});
const Ready = z.object({ status: z.literal('ready'), checks: Checks });
const NotReady = ProblemSchema.extend({ checks: Checks }).describe('NOT_READY: a dependency is down; checks names which');

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export default fp(
  async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          operationId: 'getLiveness',
          tags: ['health'],
          summary: 'Liveness',
          description: 'Answers 200 while the process runs; it checks no dependency, so an orchestrator never restarts the API for a database outage.',
          security: [],
          response: { 200: Health },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          operationId: 'getReadiness',
          tags: ['health'],
          summary: 'Readiness',
          description:
            'Answers 200 when Postgres and Redis both answer within two seconds, else 503 naming the dependency that is down. A deployment without Redis (REDIS_URL unset) checks Postgres only, and `checks` has no `redis`.',
          security: [],
          response: { 200: Ready, 503: NotReady },
        },
      },
      async (_request, reply) => {
        const redisClient = app.redis;
        const [pg, redis] = await Promise.all([
          within(2000, app.pool.query('SELECT 1')).then(() => 'ok' as const, () => 'down' as const),
          redisClient ? within(2000, redisClient.ping()).then(() => 'ok' as const, () => 'down' as const) : null,
        ]);
        const ready = pg === 'ok' && redis !== 'down';
        const checks: Record<string, 'ok' | 'down'> = redis ? { postgres: pg, redis } : { postgres: pg };
        if (!ready) {
          const down = Object.entries(checks).filter(([, v]) => v === 'down').map(([k]) => k).join(' and ');
          return sendProblem(reply, problem(503, 'NOT_READY', 'Service temporarily unavailable', `${down} did not answer within two seconds`, { checks }));
        }
        return { status: 'ready' as const, checks };
      },
    );
  },
  { name: 'health', dependencies: ['db', 'redis'] },
);
