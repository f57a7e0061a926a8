// Load shedding: when the event loop lags, answer 503 with Retry-After at once instead of queueing without bound.
import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { problem } from '../lib/problem.js';
import { sendProblem } from './errors.js';

export default fp(
  async (app) => {
    await app.register(underPressure, {
      maxEventLoopDelay: 1000,
      retryAfter: 10,
      pressureHandler: (_request, reply) => {
        reply.header('retry-after', '10');
        sendProblem(reply, problem(503, 'OVERLOADED', 'Service temporarily unavailable', 'The service is overloaded; retry after Retry-After seconds'));
      },
    });
  },
  { name: 'overload', dependencies: ['errors'] },
);
