// GET /metrics in Prometheus text format: HTTP requests by route pattern, the outbox, the queue, webhook deliveries,
// rights requests and the process itself. Off unless METRICS_TOKEN (bearer, on the API's port) or METRICS_PORT (a
// listener of its own on HOST) is set: metrics tell an outsider how busy the service is.
import { Queue } from 'bullmq';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { Unauthorized } from '../lib/errors.js';
import { bearerMatches, createMetrics, METRICS_TOKEN_WANTED, startMetricsServer, type Metrics, type QueueCounts, type RequestVocabulary } from '../lib/metrics.js';
import { problem, ProblemSchema } from '../lib/problem.js';
import { sendProblem } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The port of the separate metrics listener once the API listens (METRICS_PORT); null without one. */
    metricsPort: number | null;
  }
}

const Exposition = z.string().describe('Prometheus text exposition format 0.0.4 (see the README section "Metrics" for the series)');

export const METRICS_DESCRIPTION = [
  'Prometheus metrics of this API process, in text format 0.0.4. Off by default: with `METRICS_TOKEN` set it answers here',
  'to `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); with only `METRICS_PORT` set it answers on that separate',
  'port and is a 404 here; with neither it is a 404. Series: `rightful_http_requests_total` and',
  '`rightful_http_request_duration_seconds` by method, route pattern and status; `rightful_outbox_due_rows`,',
  '`rightful_outbox_oldest_due_age_seconds`; `rightful_queue_jobs` by queue and state (with Redis);',
  '`rightful_webhook_deliveries` by outcome; `rightful_rights_requests_open` and `rightful_rights_requests_overdue` by',
  "request type, all tenants; `rightful_metrics_source_up`; and Node's default process metrics (event-loop lag, heap,",
  'GC, CPU). Database and queue figures are read at most every 5 seconds. Labels never carry ids, tenants or personal data.',
].join(' ');

/** `queueName`: the outbox's BullMQ queue; `requests`: the rights requests' vocabulary (both from app.ts, which
 * composes the modules: this plugin names none). */
export default fp<{ clock?: () => Date; queueName: string; requests: RequestVocabulary }>(
  async (app, opts) => {
    const { token, port } = app.config.metrics;
    let metrics: Metrics | null = null;
    app.decorate('metricsPort', null);

    if (token !== null || port !== null) {
      const redis = app.redis;
      const redisConfig = app.config.redis;
      // Made on the first scrape, on the API's Redis connection (BullMQ leaves a connection it was given open).
      let queue: Queue | null = null;
      const outboxJobs: QueueCounts = () => {
        if (!queue && redis && redisConfig) {
          queue = new Queue(opts.queueName, { connection: redis, prefix: redisConfig.prefix });
          queue.on('error', (err) => app.log.debug({ err: { message: err.message } }, 'metrics queue error'));
        }
        return queue!.getJobCounts('waiting', 'active', 'delayed');
      };
      const m = createMetrics({
        pool: app.pool,
        requests: opts.requests,
        clock: opts.clock,
        http: true,
        queues: redis && redisConfig ? { [opts.queueName]: outboxJobs } : undefined,
        onSourceError: (source, err) => app.log.warn({ source, err: { message: err.message } }, 'metrics source unavailable'),
      });
      metrics = m;
      app.addHook('onResponse', async (request, reply) => {
        // The route pattern (/v1/subjects/:id), never the URL: ids stay out of the labels and the series stay few.
        m.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      });

      let server: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
      if (port !== null) {
        // Only a listening API opens it (tests that inject never do); it serves GET /metrics and nothing else.
        app.addHook('onListen', async () => {
          try {
            server = await startMetricsServer(m, { token, port, host: app.config.host }, (err) =>
              app.log.error({ err: { message: err.message } }, 'metrics not rendered'),
            );
            app.metricsPort = server.port;
            app.log.info({ metrics_port: server.port }, 'metrics listening');
          } catch (err) {
            app.log.error({ err: { message: (err as Error).message }, metrics_port: port }, 'metrics listener could not start');
          }
        });
      }
      app.addHook('onClose', async () => {
        await server?.close();
        await (queue as Queue | null)?.close().catch(() => {});
      });
    }

    app.get(
      '/metrics',
      {
        schema: {
          operationId: 'getMetrics',
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description: METRICS_DESCRIPTION,
          security: [{ metricsToken: [] }],
          response: {
            200: { description: 'The metrics', content: { 'text/plain': { schema: Exposition } } },
            401: ProblemSchema.describe('UNAUTHORIZED: no Authorization header, or not the metrics token'),
            404: ProblemSchema.describe('ROUTE_NOT_FOUND: metrics are off, or served only on the separate METRICS_PORT'),
            429: ProblemSchema.describe('Rate limit reached; retry after Retry-After seconds'),
            503: ProblemSchema.describe('The process is overloaded and sheds load; retry after Retry-After seconds'),
          },
        },
      },
      async (request, reply) => {
        if (!metrics || token === null) {
          return sendProblem(reply, problem(404, 'ROUTE_NOT_FOUND', 'Not found', `No route ${request.method} /metrics`));
        }
        if (!bearerMatches(request.headers.authorization, token)) {
          throw new Unauthorized(METRICS_TOKEN_WANTED);
        }
        const { contentType, body } = await metrics.render();
        return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
      },
    );
  },
  { name: 'metrics', dependencies: ['db', 'redis', 'errors'] },
);
