// The service factories, wired once: the API builds them here, and so will the worker.
import type { Db } from './db/client.js';
import type { Keyring } from './lib/keyring.js';
import { createConsentsRepo } from './modules/consents/consents.repo.js';
import { createConsentsService } from './modules/consents/consents.service.js';
import { createIdempotencyRepo } from './modules/idempotency/idempotency.repo.js';
import { createIdempotencyService } from './modules/idempotency/idempotency.service.js';
import { createPrivacyNoticeService } from './modules/privacy-notice/privacy-notice.service.js';
import { createPurposesRepo } from './modules/purposes/purposes.repo.js';
import { createPurposesService } from './modules/purposes/purposes.service.js';
import { createSubjectsRepo } from './modules/subjects/subjects.repo.js';
import { createSubjectsService } from './modules/subjects/subjects.service.js';
import { createTenantsRepo } from './modules/tenants/tenants.repo.js';
import { createTenantsService } from './modules/tenants/tenants.service.js';
import { createOutboxRepo } from './modules/outbox/outbox.repo.js';
import { createWebhookEndpointsRepo } from './modules/webhook-endpoints/webhook-endpoints.repo.js';
import { createWebhookEndpointsService } from './modules/webhook-endpoints/webhook-endpoints.service.js';
import { createRightsRequestsRepo } from './modules/rights-requests/rights-requests.repo.js';
import { createRightsRequestsService } from './modules/rights-requests/rights-requests.service.js';
import { createSystemsRepo } from './modules/systems/systems.repo.js';
import { createTasksRepo } from './modules/tasks/tasks.repo.js';
import { createTasksService } from './modules/tasks/tasks.service.js';
import { createCallbackTokens } from './modules/tasks/tasks.tokens.js';
import { createSystemsService } from './modules/systems/systems.service.js';

export function createServices(deps: { db: Db; keyring: Keyring; allowPrivateWebhooks: boolean; publicBaseUrl?: string; clock?: () => Date }) {
  const { db, keyring } = deps;
  const outbox = createOutboxRepo(db);
  const tenantsRepo = createTenantsRepo(db);
  const tenants = createTenantsService({ repo: tenantsRepo, keyring });
  const purposesRepo = createPurposesRepo(db);
  const subjectsRepo = createSubjectsRepo(db);
  const subjects = createSubjectsService({ db, repo: subjectsRepo, keyring, outbox });
  const privacyNotice = createPrivacyNoticeService({ purposes: purposesRepo, tenants });
  const consents = createConsentsService({ db, repo: createConsentsRepo(db), subjectsRepo, subjects, purposes: purposesRepo, outbox, clock: deps.clock });
  const requestsRepo = createRightsRequestsRepo(db);
  const systemsRepo = createSystemsRepo(db);
  // Tasks tell their request when the last one closes; the request service fans out tasks: wired both ways here.
  const tasks = createTasksService({
    db,
    repo: createTasksRepo(db),
    systems: systemsRepo,
    requests: requestsRepo,
    subjectsRepo,
    subjects,
    outbox,
    tokens: createCallbackTokens(keyring),
    publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
    onAllClosed: (tenantId, requestId, tx) => rightsRequests.finishFanOut(tenantId, requestId, tx),
    clock: deps.clock,
  });
  const rightsRequests = createRightsRequestsService({
    db,
    repo: requestsRepo,
    tenants: tenantsRepo,
    subjectsRepo,
    subjects,
    consents,
    privacyNotice,
    outbox,
    tasks,
    clock: deps.clock,
  });
  return {
    tenants,
    purposes: createPurposesService({ db, repo: purposesRepo }),
    privacyNotice,
    subjects,
    consents,
    rightsRequests,
    tasks,
    webhookEndpoints: createWebhookEndpointsService({
      db,
      repo: createWebhookEndpointsRepo(db),
      outbox,
      keyring,
      allowPrivate: deps.allowPrivateWebhooks,
      clock: deps.clock,
    }),
    systems: createSystemsService({ db, repo: systemsRepo, clock: deps.clock }),
    idempotency: createIdempotencyService({ db, repo: createIdempotencyRepo() }),
  };
}
export type Services = ReturnType<typeof createServices>;
