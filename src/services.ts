// The service factories, wired once: the API builds them here, and so will the worker.
import type { Db, Tx } from './db/client.js';
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
import { createExportCollector } from './modules/exports/exports.collect.js';
import { createExportsRepo } from './modules/exports/exports.repo.js';
import { createExportsService } from './modules/exports/exports.service.js';
import { buildPackage } from './modules/exports/exports.package.js';
import { createCodeMailer, createExportLinksRepo, createExportLinksService } from './modules/exports/exports.links.js';
import { createTransmitService } from './modules/exports/exports.transmit.js';
import { createMailer } from './lib/mail.js';
import { createMeService } from './modules/me/me.service.js';
import { createPortalCodes, createPortalCodesRepo } from './modules/portal/portal.codes.js';
import { createPortalLinks } from './modules/portal/portal.links.js';
import { createUnsubscribeService } from './modules/unsubscribe/unsubscribe.service.js';
import { createUnsubscribeTokens } from './modules/unsubscribe/unsubscribe.tokens.js';

export function createServices(deps: {
  db: Db;
  keyring: Keyring;
  allowPrivateWebhooks: boolean;
  publicBaseUrl?: string;
  /** The largest export part a system may upload (EXPORT_PART_MAX_BYTES). */
  exportPartMaxBytes?: number;
  /** Export packages built at once per process (EXPORT_BUILDS_MAX). */
  exportBuildsMax?: number;
  /** The SMTP transport the download links' one-time codes are mailed through (SMTP_URL); null or absent: none. */
  smtp?: { url: string; from: string } | null;
  /** The JWT secret, issuer and audience that subject tokens (portal links) are derived from and carry. */
  jwt?: { secret: string; issuer: string; audience: string };
  /** Where portal links send the person (PORTAL_BASE_URL). */
  portalBaseUrl?: string;
  clock?: () => Date;
}) {
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
  const tokens = createCallbackTokens(keyring);
  const tasksRepo = createTasksRepo(db);
  const tasksDeps = {
    db,
    repo: tasksRepo,
    systems: systemsRepo,
    requests: requestsRepo,
    subjectsRepo,
    subjects,
    tenants: tenantsRepo,
    outbox,
    tokens,
    keyring,
    publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
    // An erasure, rectification or restriction completes when every task is closed.
    onAllClosed: (tenantId: string, requestId: string, tx: Tx) => rightsRequests.finishFanOut(tenantId, requestId, tx),
    // An export is ready for the DPO's review once every system answered (a failed one included).
    onAnswered: (tenantId: string, requestId: string, tx: Tx) => exports.onAnswered(tenantId, requestId, tx),
    clock: deps.clock,
  };
  const tasks = createTasksService(tasksDeps);
  const portalCodesRepo = createPortalCodesRepo(db);
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
    alsoErase: [(tenantId, subjectId, tx) => exports.deleteForSubject(tenantId, subjectId, tx), (tenantId, subjectId, tx) => portalCodesRepo.deleteForSubject(tenantId, subjectId, tx)],
    clock: deps.clock,
  });
  const exportsRepo = createExportsRepo(db);
  const exports = createExportsService({
    db,
    repo: exportsRepo,
    requests: requestsRepo,
    tasksRepo,
    tasks,
    tasksIn: (tx) => createTasksService({ ...tasksDeps, db: tx as Db }),
    tokens,
    subjectsRepo,
    subjects,
    systems: systemsRepo,
    tenants: tenantsRepo,
    privacyNotice,
    collector: createExportCollector({ subjects, consents, rightsRequests, purposes: purposesRepo }),
    outbox,
    buildPackage,
    partMaxBytes: deps.exportPartMaxBytes ?? 52_428_800,
    builds: { max: deps.exportBuildsMax ?? 2, queue: 32 },
    clock: deps.clock,
  });
  // Self-service for the person (Art. 7(3), 12, 21, 32): portal links, one-time codes, /v1/me, one-click unsubscribe.
  const portalCodes = createPortalCodes({
    db,
    repo: portalCodesRepo,
    keyring,
    mailer: createMailer(deps.smtp ?? null),
    subjects,
    tenants: tenantsRepo,
    clock: deps.clock,
  });
  const me = createMeService({
    tenants: tenantsRepo,
    subjectsRepo,
    purposes: purposesRepo,
    consents,
    privacyNotice,
    rightsRequests,
    requests: requestsRepo,
    packages: exportsRepo,
    openPackage: (tenantId, requestId, opts) => exports.openPackage(tenantId, requestId, opts),
    codes: portalCodes,
  });
  return {
    tenants,
    me,
    portalLinks: createPortalLinks({
      subjectsRepo,
      tenants: tenantsRepo,
      jwt: deps.jwt ?? null,
      portalBaseUrl: deps.portalBaseUrl ?? deps.publicBaseUrl ?? 'http://localhost:3000',
      clock: deps.clock,
    }),
    unsubscribe: createUnsubscribeService({
      db,
      tokens: createUnsubscribeTokens(keyring),
      purposes: purposesRepo,
      subjectsRepo,
      tenants: tenantsRepo,
      consents,
      publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
    }),
    purposes: createPurposesService({ db, repo: purposesRepo }),
    privacyNotice,
    subjects,
    consents,
    rightsRequests,
    tasks,
    exports,
    // Download links for the person (one-time code by email, Art. 32) and Art. 20(2) transmissions.
    exportLinks: createExportLinksService({
      db,
      repo: createExportLinksRepo(db),
      packages: exportsRepo,
      requests: requestsRepo,
      tenants: tenantsRepo,
      subjects,
      keyring,
      mailer: createCodeMailer(deps.smtp ?? null),
      openPackage: (tenantId, requestId, opts) => exports.openPackage(tenantId, requestId, opts),
      publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
      clock: deps.clock,
    }),
    exportTransmissions: createTransmitService({
      db,
      requests: requestsRepo,
      keyring,
      openPackage: (tenantId, requestId, opts) => exports.openPackage(tenantId, requestId, opts),
      allowPrivate: deps.allowPrivateWebhooks,
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
    systems: createSystemsService({ db, repo: systemsRepo, clock: deps.clock }),
    idempotency: createIdempotencyService({ db, repo: createIdempotencyRepo() }),
  };
}
export type Services = ReturnType<typeof createServices>;
