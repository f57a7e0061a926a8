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

export function createServices(deps: { db: Db; keyring: Keyring; allowPrivateWebhooks: boolean; clock?: () => Date }) {
  const { db, keyring } = deps;
  const outbox = createOutboxRepo(db);
  const tenantsRepo = createTenantsRepo(db);
  const tenants = createTenantsService({ repo: tenantsRepo, keyring });
  const purposesRepo = createPurposesRepo(db);
  const subjectsRepo = createSubjectsRepo(db);
  const subjects = createSubjectsService({ db, repo: subjectsRepo, keyring, outbox });
  const privacyNotice = createPrivacyNoticeService({ purposes: purposesRepo, tenants });
  const consents = createConsentsService({ db, repo: createConsentsRepo(db), subjectsRepo, subjects, purposes: purposesRepo, outbox, clock: deps.clock });
  return {
    tenants,
    purposes: createPurposesService({ db, repo: purposesRepo }),
    privacyNotice,
    subjects,
    consents,
    rightsRequests: createRightsRequestsService({
      db,
      repo: createRightsRequestsRepo(db),
      tenants: tenantsRepo,
      subjectsRepo,
      subjects,
      consents,
      privacyNotice,
      outbox,
      clock: deps.clock,
    }),
    webhookEndpoints: createWebhookEndpointsService({
      db,
      repo: createWebhookEndpointsRepo(db),
      outbox,
      keyring,
      allowPrivate: deps.allowPrivateWebhooks,
      clock: deps.clock,
    }),
    idempotency: createIdempotencyService({ db, repo: createIdempotencyRepo() }),
  };
}
export type Services = ReturnType<typeof createServices>;
