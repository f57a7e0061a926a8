// buildApp(config): registers plugins, then modules. It never listens; server.ts does, and tests inject.
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { parseJsonBody } from './lib/json-body.js';
import { createKeyring } from './lib/keyring.js';
import { problem, shownPath } from './lib/problem.js';
import consentsRoutes from './modules/consents/consents.routes.js';
import outboxRoutes from './modules/outbox/outbox.routes.js';
import rightsRequestsRoutes from './modules/rights-requests/rights-requests.routes.js';
import privacyNoticeRoutes from './modules/privacy-notice/privacy-notice.routes.js';
import purposesRoutes from './modules/purposes/purposes.routes.js';
import subjectsRoutes from './modules/subjects/subjects.routes.js';
import systemsRoutes from './modules/systems/systems.routes.js';
import { webhooksSection } from './modules/outbox/outbox.openapi.js';
import tasksRoutes from './modules/tasks/tasks.routes.js';
import exportsRoutes from './modules/exports/exports.routes.js';
import exportLinksRoutes from './modules/exports/exports.links.routes.js';
import { tenantsRoutes } from './modules/tenants/index.js';
import webhookEndpointsRoutes from './modules/webhook-endpoints/webhook-endpoints.routes.js';
import meRoutes from './modules/me/me.routes.js';
import portalRoutes from './modules/portal/portal.routes.js';
import unsubscribeRoutes from './modules/unsubscribe/unsubscribe.routes.js';
import preferencesRoutes from './modules/preferences/preferences.routes.js';
import auth, { CLOCK_TOLERANCE_MS } from './plugins/auth.js';
import { inScopeOf } from './db/tenant-scope.js';
import { createDenylist } from './modules/tokens/tokens.denylist.js';
import { createServiceTokensRepo } from './modules/tokens/tokens.repo.js';
import db from './plugins/db.js';
import errors, { frameworkErrors } from './plugins/errors.js';
import health from './plugins/health.js';
import metrics from './plugins/metrics.js';
import { OUTBOX_QUEUE } from './modules/outbox/outbox.relay.js';
import { REQUEST_TYPES } from './modules/rights-requests/rights-requests.table.js';
import { OPEN_STATUSES } from './modules/rights-requests/rights-requests.transitions.js';
import overload from './plugins/overload.js';
import rateLimit from './plugins/rate-limit.js';
import redis from './plugins/redis.js';
import swagger from './plugins/swagger.js';
import { createServices, type Services } from './services.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    services: Services;
  }
}

export type BuildOptions = { clock?: () => Date; logger?: boolean | object };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Logs carry method, route, status and ids; never bodies, identifier values, evidence or the authorization header.
export function loggerOptions(config: Config): object {
  return {
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body', 'res.body', '*.identifiers', '*.evidence', '*.value'],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method: string; url: string; id: string; routeOptions?: { url?: string } }) => ({ method: req.method, url: shownPath(req), id: req.id }),
    },
  };
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config),
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    trustProxy: config.trustProxy,
    // Fastify's own 503 while closing is plain JSON without Retry-After; plugins/overload.ts answers a problem instead.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 100 },
    frameworkErrors,
    ajv: undefined,
    // Node's HTTP server must know the limits too, or a client trickling a body is never cut off.
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.http.requestTimeoutMs),
    } as object,
    // Requests the HTTP parser rejects (timeouts, malformed requests) still get a problem body.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      const status = timeout ? 408 : tooLarge ? 431 : 400;
      const body = JSON.stringify(
        timeout
          ? problem(408, 'REQUEST_TIMEOUT', 'Request timeout', 'The request was not received in time')
          : tooLarge
            ? problem(431, 'HEADERS_TOO_LARGE', 'Request header fields too large', 'The request headers are too large')
            : problem(400, 'BAD_REQUEST', 'Bad request', 'The HTTP request could not be parsed'),
      );
      socket.end(
        `HTTP/1.1 ${status} ${timeout ? 'Request Timeout' : tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
          `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${crypto.randomUUID()}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: Fastify's default text/plain parser would hand a string to the validator (a 400) instead of a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/problem+json'], { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.decorate('config', config);
  // Every request runs in a tenant scope, named once its token or link says whose it is (src/db/tenant-scope.ts).
  app.addHook('onRequest', (_request, _reply, done) => inScopeOf(null, done));
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(fp(async () => {}, { name: 'config' }));
  await app.register(errors);
  await app.register(overload);
  await app.register(db);
  await app.register(redis);
  app.decorate('services', createServices({ db: app.db, keyring: createKeyring(config), allowPrivateWebhooks: config.webhooks.allowPrivate, publicBaseUrl: config.publicBaseUrl, portalBaseUrl: config.portalBaseUrl, jwt: config.jwt, exportPartMaxBytes: config.exports.partMaxBytes, exportBuildsMax: config.exports.buildsMax, smtp: config.smtp, clock: opts.clock }));
  // Revoked jtis, whichever kind of token carries them; rows past their expiry (and the clock tolerance) drop out.
  const serviceTokens = createServiceTokensRepo(app.db);
  await app.register(auth, {
    denylist: createDenylist({ load: () => serviceTokens.revokedJtis(new Date(Date.now() - CLOCK_TOLERANCE_MS)) }),
    subjects: { isActive: (tenantId, subjectId) => app.services.me.isActive(tenantId, subjectId) },
  });
  app.decorateRequest('tenant', null);
  app.addHook('onRequest', async (request) => {
    const tenantId = request.principal?.tenantId ?? request.subjectPrincipal?.tenantId;
    if (tenantId) request.tenant = await app.services.tenants.context(tenantId);
  });
  await app.register(rateLimit);
  await app.register(swagger, { webhooks: webhooksSection });
  await app.register(health);
  await app.register(metrics, { clock: opts.clock, queueName: OUTBOX_QUEUE, requests: { types: REQUEST_TYPES, openStatuses: OPEN_STATUSES } });

  await app.register(tenantsRoutes);
  await app.register(purposesRoutes);
  await app.register(privacyNoticeRoutes);
  await app.register(subjectsRoutes);
  await app.register(consentsRoutes);
  await app.register(webhookEndpointsRoutes);
  await app.register(outboxRoutes);
  await app.register(rightsRequestsRoutes);
  await app.register(systemsRoutes);
  await app.register(tasksRoutes);
  await app.register(exportsRoutes);
  await app.register(exportLinksRoutes);
  await app.register(portalRoutes);
  await app.register(meRoutes);
  await app.register(unsubscribeRoutes);
  await app.register(preferencesRoutes, { clock: opts.clock });
  return app;
}
