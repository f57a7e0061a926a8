// Load shedding: when the event loop lags, answer 503 with Retry-After at once instead of queueing without bound.
import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { problem } from '../lib/problem.js';
import { sendProblem } from './errors.js';

export default fp(
  async (app) => {
    // Draining on close: server.close() reaps idle sockets only, so a request arriving on a busy keep-alive connection
    // after close began is refused here, before it runs (nothing written), with Retry-After; Fastify adds
    // Connection: close, and the client retries on another instance or after the restart.
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', async (_request, reply) => {
      if (!closing) return;
      reply.header('retry-after', '1');
      return sendProblem(reply, problem(503, 'SHUTTING_DOWN', 'Service temporarily unavailable', 'This instance is shutting down; retry after Retry-After seconds'));
    });
    await app.register(underPressure, {
      maxEventLoopDelay: app.config.overload.maxEventLoopDelayMs,
      retryAfter: 10,
      pressureHandler: (_request, reply) => {
        reply.header('retry-after', '10');
        sendProblem(reply, problem(503, 'OVERLOADED', 'Service temporarily unavailable', 'The service is overloaded; retry after Retry-After seconds'));
      },
    });
  },
  { name: 'overload', dependencies: ['config', 'errors'] },
);
