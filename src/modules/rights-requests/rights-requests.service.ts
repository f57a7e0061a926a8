// Rights requests: intake, the state machine with its audit trail, the legal deadline and its reminders.
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { open, seal } from '../../lib/crypto.js';
import { decodeCreatedCursor, decodeCursor, encodeCursor, pageOf } from '../../lib/cursor.js';
import { ValidationFailed } from '../../lib/errors.js';
import type { IdentifierType } from '../../lib/identifiers.js';
import { pastInstant } from '../../lib/instants.js';
import { eventRow, type EventType } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import type { PrivacyNoticeService } from '../privacy-notice/privacy-notice.service.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectRow, SubjectsRepo } from '../subjects/subjects.repo.js';
import { purgeRow } from '../subjects/subjects.purge.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { TenantRow, TenantsRepo } from '../tenants/tenants.repo.js';
import type { TenantContext } from '../tenants/tenants.service.js';
import type { ConsentsService } from '../consents/consents.service.js';
import type { Exemption, TasksService } from '../tasks/tasks.service.js';
import { ART19_GROUNDS } from '../tasks/tasks.table.js';
import {
  GROUNDS,
  groundApplies,
  LEGACY_GROUND_MAP,
  type Ground,
  type LegacyRejectionGround,
  type NOTIFICATION_CHANNELS,
  type Outcome,
  type RestrictionGround,
} from './rights-requests.catalogue.js';
import { computeDeadline, extensionAllowed, firstDeadline, reminderSchedule, type Deadline, type DeadlineInput } from './rights-requests.deadlines.js';
import { InvalidCorrection, RequestNotFound, RestrictionNotLiftable, TransitionRefused } from './rights-requests.errors.js';
import type { RequestFilters, RequestRow, RightsRequestsRepo } from './rights-requests.repo.js';
import type { CreateRequest, RequestOutcome, RightsRequest } from './rights-requests.schemas.js';
import type { StoredPause } from './rights-requests.table.js';
import { openTexts, sealTexts, type RequestTexts } from './rights-requests.texts.js';
import { allowedFrom, isOpen as isOpenStatus, TRANSITIONS, type Status, type TransitionAction } from './rights-requests.transitions.js';

const REMINDER_TYPES = ['request.deadline_approaching', 'request.overdue'];

const detailsAad = (requestId: string) => `request-details:${requestId}`;
const noteAad = (eventId: string) => `request-note:${eventId}`;
type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
type Remedies = NonNullable<RequestOutcome['remedies']>;

/** What the outcome column holds: the facts of the answer, never free text about the person. */
type StoredOutcome = {
  result?: Outcome;
  grounds?: Ground[];
  subject_notified_at?: string;
  notified_by?: NotificationChannel;
  remedies?: Remedies;
  human_review?: { reviewer: string; decision_changed: boolean };
  privacy_notice?: Record<string, unknown>;
  automatic?: boolean;
  /** Legacy: the rejection ground of the first version. */
  ground?: LegacyRejectionGround;
  /** An erasure's or a rectification's approval: how identity was settled, and when. */
  approval?: { identity: 'verified' | 'not_needed'; at: string; by: string };
  /** A restriction granted, then lifted (Art. 18(3)): when, when the person was told before, by whom. */
  restriction_lifted?: { at: string; subject_informed_at: string; by: string };
};

/** Requests whose approval or intake fans out tasks to the connected systems, and what each task asks. */
const FAN_OUT_KIND = { erasure: 'erasure', rectification: 'rectification', restriction: 'restriction' } as const;
type FanOutType = keyof typeof FAN_OUT_KIND;
const fansOut = (type: RequestRow['type']): type is FanOutType => type in FAN_OUT_KIND;
/** Requests the DPO approves before anything goes out: an erasure (Art. 17), a rectification's corrections (Art. 16). */
const APPROVED_TYPES: readonly RequestRow['type'][] = ['erasure', 'rectification'];

type Actor = { tenantId: string; clientId: string };
/** Every transition body, merged: each action reads its own fields (the route has validated them). */
export type TransitionInput = {
  at?: string;
  note?: string;
  reason?: string;
  detail?: string;
  resolution?: string;
  assignee?: string | null;
  subject_informed_at?: string;
  outcome?: Outcome;
  grounds?: Ground[];
  ground?: LegacyRejectionGround;
  subject_notified_at?: string;
  notified_by?: NotificationChannel;
  human_review?: { reviewer: string; subject_view: string; decision: string; decision_changed: boolean };
  identity?: 'verified' | 'not_needed';
  identity_note?: string;
  exemptions?: Exemption[];
  public_disclosure?: boolean;
  erasure_ground?: string;
};

/** An instant the client gives about the past (not in the future), bounded by the request's own dates. */
function boundedInstant(field: string, value: string, now: Date, notBefore: { at: Date; what: string }, notAfter?: { at: Date; what: string }): Date {
  const d = pastInstant(field, value, now);
  if (d < notBefore.at) throw new ValidationFailed([{ field, message: `must not be before ${notBefore.what} (${notBefore.at.toISOString()})` }]);
  if (notAfter && d > notAfter.at) throw new ValidationFailed([{ field, message: `must not be after ${notAfter.what} (${notAfter.at.toISOString()})` }]);
  return d;
}

/** The grounds given, without repeats, each checked against the right asked. */
function checkedGrounds(grounds: Ground[], type: RequestRow['type']): Ground[] {
  const unique = [...new Set(grounds)];
  const problems = unique.flatMap((g) =>
    groundApplies(g, type) ? [] : [{ field: `grounds.${grounds.indexOf(g)}`, message: `${g} (${GROUNDS[g].article}) does not apply to a ${type} request` }],
  );
  if (problems.length) throw new ValidationFailed(problems);
  return unique;
}

/** Art. 12(4): a refusal names where to complain and how to seek a judicial remedy; the tenant settings say which. */
function remediesOf(tenant: TenantRow): Remedies {
  const sa = tenant.supervisoryAuthority ? { name: tenant.supervisoryAuthority.name, url: tenant.supervisoryAuthority.url, address: tenant.supervisoryAuthority.address ?? null } : null;
  const jr = tenant.judicialRemedy?.trim() ? tenant.judicialRemedy : null;
  const missing: Remedies['not_configured'] = [];
  if (!sa) missing.push('supervisory_authority');
  if (!jr) missing.push('judicial_remedy');
  const authority = sa
    ? `${sa.name} (${sa.url}${sa.address ? `; ${sa.address}` : ''})`
    : "a supervisory authority (not configured: the controller has not set the tenant's supervisory_authority)";
  const court = jr ?? "not configured: the controller has not set the tenant's judicial_remedy";
  return {
    supervisory_authority: sa,
    judicial_remedy: jr,
    not_configured: missing,
    statement: `You may lodge a complaint with ${authority} (Art. 77 GDPR) and seek a judicial remedy (Art. 79 GDPR): ${court}.`,
  };
}

export function createRightsRequestsService(deps: {
  db: Db;
  repo: RightsRequestsRepo;
  tenants: TenantsRepo;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  consents: ConsentsService;
  privacyNotice: PrivacyNoticeService;
  outbox: OutboxRepo;
  tasks: TasksService;
  /** Deletes the person's gathered export data (the systems' parts) on erasure. */
  /** What other modules keep of the person (gathered export data, portal one-time codes), deleted in the erasure's
   * transaction before the subject's key goes. */
  alsoErase: ((tenantId: string, subjectId: string, tx: Tx) => Promise<void>)[];
  clock?: () => Date;
}) {
  const { db, repo, tenants, subjectsRepo, subjects, consents, privacyNotice, outbox, tasks } = deps;
  const clock = deps.clock ?? (() => new Date());

  function deadlineInput(tenant: TenantRow, r: Pick<RequestRow, 'receivedAt' | 'extended' | 'pauses'>): DeadlineInput {
    return {
      receivedAt: r.receivedAt,
      timeZone: tenant.timezone,
      policy: tenant.deadlinePolicy,
      holidayCalendar: tenant.holidayCalendar,
      extended: r.extended,
      pauses: r.pauses,
    };
  }

  function presentOutcome(r: RequestRow, texts: RequestTexts): RequestOutcome | null {
    const o = (r.outcome ?? null) as StoredOutcome | null;
    if (!o && !texts.resolution && !texts.detail) return null;
    const legacyGround = o?.ground && LEGACY_GROUND_MAP[o.ground];
    return {
      // A request rejected before outcomes were recorded was refused; one completed then may have been in part.
      result: o?.result ?? (r.status === 'rejected' ? 'refused' : null),
      grounds: o?.grounds ?? (legacyGround ? [legacyGround] : []),
      resolution: texts.resolution ?? null,
      detail: texts.detail ?? null,
      subject_notified_at: o?.subject_notified_at ?? null,
      notified_by: o?.notified_by ?? null,
      remedies: o?.remedies ?? null,
      human_review: o?.human_review ? { ...o.human_review, subject_view: texts.subject_view ?? null, decision: texts.review_decision ?? null } : null,
      privacy_notice: o?.privacy_notice ?? null,
      ground: o?.ground ?? null,
    };
  }

  type Waiting = RightsRequest['waiting_on'];
  async function presentOne(r: RequestRow, subject: SubjectRow | undefined, now: Date, tx: Tx = db): Promise<RightsRequest> {
    return present(r, subject, now, (await tasks.waitingOn(r.tenantId, [r.id], tx)).get(r.id) ?? []);
  }

  function present(r: RequestRow, subject: SubjectRow | undefined, now: Date, waiting: Waiting): RightsRequest {
    const key = subject ? subjects.dataKeyOf(subject) : null;
    const texts = openTexts(r, key);
    const open_ = isOpenStatus(r.status);
    return {
      id: r.id,
      subject_id: r.subjectId,
      type: r.type,
      channel: r.channel,
      status: r.status,
      locale: r.locale,
      received_at: r.receivedAt.toISOString(),
      due_date: r.dueDate,
      due_at: r.dueAt?.toISOString() ?? null,
      paused: open_ && r.pauses.some((p) => p.to === null),
      overdue: open_ && r.dueAt !== null && r.dueAt < now,
      extended: r.extended,
      extension_reason: texts.extension_reason ?? r.extensionReason,
      subject_informed_at: r.subjectInformedAt?.toISOString() ?? null,
      identity_doubt: texts.identity_doubt ?? null,
      restriction_ground: r.restrictionGround as RestrictionGround | null,
      erasure_ground: r.erasureGround as RightsRequest['erasure_ground'],
      waiting_on: waiting,
      objection: r.objection ? { scope: r.objection.scope, purposes: r.objection.purposes } : null,
      rejection_ground: r.rejectionGround as RightsRequest['rejection_ground'],
      assignee: r.assignee,
      details: r.detailsSealed && key ? open(key, r.detailsSealed, detailsAad(r.id)).toString('utf8') : null,
      corrections: r.type === 'rectification' && texts.corrections ? texts.corrections : null,
      outcome: presentOutcome(r, texts),
      closed_at: r.closedAt?.toISOString() ?? null,
      created_at: r.createdAt.toISOString(),
      updated_at: r.updatedAt.toISOString(),
    };
  }

  /**
   * Rightful forgets (Art. 17): the subject's data key is destroyed (crypto-shredding: evidence, notes and every
   * sealed text become unreadable), identifier rows and encrypted details go, the ledger rows stay and still verify,
   * the subject becomes an `erased` tombstone. Before that, the identifiers' keyed hashes go on the suppression list
   * when the person refused direct marketing (or the tenant suppresses every erased person): a later import of the
   * same email is not marketed to (Art. 21(3)). Erasure tasks exempt until a date keep a sealed locator of their own.
   */
  async function eraseSubject(r: RequestRow, tenant: TenantRow, now: Date, tx: Tx): Promise<void> {
    const subject = await subjectsRepo.lock(r.tenantId, r.subjectId, tx);
    if (!subject || subject.status === 'erased') return;
    if (tenant.suppressErased || subject.marketingObjection || (await consents.refusedMarketing(r.tenantId, r.subjectId, tx))) {
      await consents.suppress(r.tenantId, r.subjectId, r.id, tx);
    }
    await repo.forgetTextsOf(r.tenantId, r.subjectId, tx);
    for (const erase of deps.alsoErase) await erase(r.tenantId, r.subjectId, tx);
    // Art. 17(3)(b): a system exempt until a date is asked to erase when it ends; what it needs to find the person
    // is kept for it, under a key of its task's own, before the subject's key goes.
    await tasks.keepLocators(r.tenantId, r.id, subject, tx);
    await subjects.erase(r.tenantId, r.subjectId, now, tx);
    await outbox.insert([{ ...eventRow(r.tenantId, 'subject.erased' as EventType, { subject_id: r.subjectId, request_id: r.id }, now), refId: r.id }], tx);
    // Art. 5(2), 5(1)(e): the tombstone, ledger and history are kept for the accountability period, then purged.
    await outbox.insert([purgeRow(r.tenantId, r.subjectId, now, tenant.accountabilityDays)], tx);
  }

  /**
   * The last task of a request's fan-out closed: the request completes, in the same transaction. An approved erasure
   * first has Rightful erase its own copy (exempt tasks make the answer a partial grant with their Art. 17(3)
   * grounds); an approved rectification has been applied everywhere; a restriction is in effect everywhere and
   * stays until lifted (Art. 18(3)). A request that is no longer in progress (closed by the DPO meanwhile, or a
   * restriction's `restriction_lifted` tasks) is left as it is.
   */
  async function finishFanOut(tenantId: string, requestId: string, tx: Tx): Promise<void> {
    const now = clock();
    const r = await repo.lock(tenantId, requestId, tx);
    if (!r || !fansOut(r.type) || r.status !== 'in_progress') return;
    const tenant = (await tenants.findById(tenantId, tx))!;
    const all = await tasks.list(tenantId, requestId, tx);
    // Art. 17(3) exemptions keep data: the erasure is partial. Art. 19 ones (a recipient not told, as impossible or
    // disproportionate) keep nothing: they stay in the audit trail and the recipients list, not in the outcome.
    const exempt = all.items.filter((t) => t.status === 'exempt' && t.exemption && !(ART19_GROUNDS as readonly string[]).includes(t.exemption.ground));
    const grounds = [...new Set(exempt.map((t) => t.exemption!.ground))] as Ground[];
    const result: Outcome = exempt.length ? 'partially_granted' : 'granted';
    const outcome = {
      ...((r.outcome ?? {}) as StoredOutcome),
      result,
      grounds,
      automatic: true,
      ...(result === 'partially_granted' ? { remedies: remediesOf(tenant) } : {}),
    } satisfies StoredOutcome;
    const updated = await repo.update(r.id, { status: 'completed', outcome, closedAt: now, lastTransitionAt: now }, tx);
    await audit(updated, { tenantId, clientId: 'rightful' }, 'complete', r.status, 'completed', now, now, { automatic: true, outcome: result, tasks: all.items.length, exempt: exempt.length }, undefined, null, tx);
    if (r.type === 'erasure') await eraseSubject(updated, tenant, now, tx);
    await outbox.insert(
      [
        { ...eventRow(tenantId, 'request.status_changed' as EventType, eventData(updated, { from: r.status, to: 'completed', action: 'complete' }), now), refId: r.id },
        { ...eventRow(tenantId, 'request.completed' as EventType, eventData(updated), now), refId: r.id },
      ],
      tx,
    );
    await reschedule(tenant, updated, now, false, tx);
  }

  /** The request as a task's fan-out needs it. */
  const taskRequest = (r: RequestRow) => ({ id: r.id, tenantId: r.tenantId, subjectId: r.subjectId, dueDate: r.dueDate });

  /** Lifts the subject's restricted flag that `r` held (a restriction, or an objection restricting meanwhile), unless
   * another restriction still holds it: an open request restricting, or a restriction granted. Under the subject's
   * row lock, so two requests closing at once cannot both see the other still holding it. */
  async function releaseRestriction(r: RequestRow, tx: Tx): Promise<'lifted' | 'kept'> {
    const subject = await subjectsRepo.lock(r.tenantId, r.subjectId, tx);
    if (!subject) return 'kept';
    if ((await repo.restrictionHolders(r.tenantId, r.subjectId, r.id, tx)) > 0) return 'kept';
    if (subject.restricted) await subjectsRepo.setFlags(r.tenantId, r.subjectId, { restricted: false, restrictedAt: null }, tx);
    return 'lifted';
  }

  function eventData(r: RequestRow, extra: Record<string, string | number | boolean | null> = {}) {
    return { request_id: r.id, subject_id: r.subjectId, request_type: r.type, status: r.status, due_date: r.dueDate, ...extra };
  }

  /** Replaces the request's pending reminders with those of its current deadline. `catchUp`: reminders whose time
   * has passed are sent at once (a request entered late); otherwise only future ones are scheduled. */
  async function reschedule(tenant: TenantRow, r: RequestRow, now: Date, catchUp: boolean, tx: Tx): Promise<void> {
    await outbox.cancelPendingFor(r.id, REMINDER_TYPES, tx);
    if (!isOpenStatus(r.status) || !r.dueDate) return;
    const rows = reminderSchedule({ dueDate: r.dueDate, timeZone: tenant.timezone, offsetsDays: tenant.reminderOffsetsDays })
      .filter((rem) => catchUp || rem.at > now)
      .map((rem) => ({
        ...eventRow(
          r.tenantId,
          rem.type as EventType,
          eventData(r, { due_at: r.dueAt?.toISOString() ?? null, days_left: rem.type === 'request.overdue' ? 0 : rem.offsetDays }),
          rem.at > now ? rem.at : now,
        ),
        availableAt: rem.at > now ? rem.at : now,
        refId: r.id,
      }));
    await outbox.insert(rows, tx);
  }

  async function audit(
    r: RequestRow,
    actor: Actor,
    action: string,
    from: string | null,
    to: string | null,
    at: Date,
    now: Date,
    facts: Record<string, unknown> | null,
    note: string | undefined,
    key: Buffer | null,
    tx: Tx,
  ): Promise<void> {
    const id = crypto.randomUUID();
    await repo.insertEvent(
      {
        id,
        tenantId: r.tenantId,
        requestId: r.id,
        seq: await repo.nextSeq(r.id, tx),
        action,
        fromStatus: from,
        toStatus: to,
        at,
        recordedAt: now,
        actor: actor.clientId,
        facts,
        noteSealed: note && key ? seal(key, Buffer.from(note), noteAad(id)) : null,
      },
      tx,
    );
  }

  function deadlineFields(d: Deadline) {
    return { dueDate: d.dueDate, dueAt: d.dueAt };
  }

  return {
    finishFanOut,

    async create(ctx: TenantContext, actor: Actor, input: CreateRequest, outer: Tx = db): Promise<RightsRequest> {
      const now = clock();
      const receivedAt = pastInstant('received_at', input.received_at, now);
      return inTransaction(outer, async (tx) => {
        const tenant = (await tenants.findById(ctx.id, tx))!;
        let subject: SubjectRow | undefined;
        if ('id' in input.subject) {
          subject = await subjectsRepo.find(ctx.id, input.subject.id, tx);
          if (!subject) throw new SubjectNotFound();
        } else {
          // A person first met through their request is known only from it: not to be marketed to (Art. 5(1)(b)).
          const found = await subjects.findOrCreate(ctx, { identifiers: input.subject.identifiers, external_ref: input.subject.external_ref }, tx, 'rights_request');
          subject = await subjectsRepo.find(ctx.id, found.subject.id, tx);
        }
        const id = crypto.randomUUID();
        const key = subjects.dataKeyOf(subject!);
        const locale = input.locale ?? tenant.defaultLocale;
        const objection =
          input.type === 'objection'
            ? { scope: input.objection?.scope ?? 'direct_marketing', purposes: input.objection?.purposes ? [...new Set(input.objection.purposes)] : null }
            : null;
        // An objection to processing may restrict it until decided: the Art. 18(1)(d) ground, held on the request.
        const restrictionGround: RestrictionGround | null =
          input.type === 'restriction' ? input.restriction_ground! : objection?.scope === 'processing' && input.restrict_meanwhile ? 'objection_pending' : null;
        const deadline = computeDeadline({ receivedAt, timeZone: tenant.timezone, policy: tenant.deadlinePolicy, holidayCalendar: tenant.holidayCalendar });
        let r = await repo.insert(
          {
            id,
            tenantId: ctx.id,
            subjectId: subject!.id,
            type: input.type,
            channel: input.channel,
            status: APPROVED_TYPES.includes(input.type) ? 'awaiting_approval' : 'received',
            erasureGround: input.erasure_ground ?? null,
            locale,
            objection,
            restrictionGround,
            receivedAt,
            detailsSealed: input.details && key ? seal(key, Buffer.from(input.details), detailsAad(id)) : null,
            // Art. 16: what to correct, sealed with the request's other texts (shredded with the subject).
            textsSealed: input.corrections ? sealTexts({ id, textsSealed: null }, key, { corrections: input.corrections }) : null,
            ...deadlineFields(deadline),
            lastTransitionAt: receivedAt,
          },
          tx,
        );
        const createdFacts = { channel: input.channel, due_date: r.dueDate, ...(input.corrections ? { corrections: input.corrections.length } : {}) };
        await audit(r, actor, 'created', null, r.status, receivedAt, now, createdFacts, undefined, key, tx);
        const events: { type: EventType; data: ReturnType<typeof eventData> }[] = [{ type: 'request.created', data: eventData(r) }];
        // Art. 16, 17: the DPO decides every erasure and confirms every rectification's corrections; alerted at once.
        if (r.status === 'awaiting_approval') events.push({ type: 'request.review_required' as EventType, data: eventData(r) });

        // Effects that the law wants at once, whatever happens to the request afterwards.
        const effectAt = receivedAt.toISOString();
        let closeWith: { resolution: string } | null = null;
        let effect: Record<string, unknown> | null = null;
        let outcome: StoredOutcome | null = null;
        if (objection?.scope === 'direct_marketing') {
          // Art. 21(3): absolute, nothing to assess.
          await consents.object(ctx.id, subject!.id, { scope: 'direct_marketing', purposes: objection.purposes ?? undefined, occurred_at: effectAt, requestId: id }, tx);
          closeWith = {
            resolution: objection.purposes
              ? `The objection to direct marketing is recorded: ${objection.purposes.join(', ')} ${objection.purposes.length === 1 ? 'is' : 'are'} blocked for the subject.`
              : 'The objection to direct marketing is recorded: every direct-marketing purpose is blocked for the subject.',
          };
          outcome = { result: 'granted', grounds: [], automatic: true };
        } else if (objection?.scope === 'processing') {
          // Art. 21(1): pending until the DPO decides (complete: upheld; reject with compelling grounds: refused).
          await consents.object(ctx.id, subject!.id, { scope: 'processing', purposes: objection.purposes!, occurred_at: effectAt, requestId: id }, tx);
          effect = { objection: 'pending', purposes: objection.purposes };
          if (restrictionGround) {
            await subjectsRepo.setFlags(ctx.id, subject!.id, { restricted: true, restrictedAt: receivedAt }, tx);
            effect.flag = 'restricted';
            effect.restriction_ground = restrictionGround;
          }
        } else if (input.type === 'information') {
          // Art. 12(1), 13/14: the notice in the person's language; the request completes when it is recorded as sent.
          outcome = { privacy_notice: (await privacyNotice.render(ctx.id, locale)) as unknown as Record<string, unknown> };
          effect = { privacy_notice: 'attached', locale };
        } else if (input.type === 'automated_decision') {
          await consents.object(ctx.id, subject!.id, { scope: 'automated_decisions', occurred_at: effectAt }, tx);
          effect = { flag: 'automated_decision_objection' };
        } else if (input.type === 'restriction') {
          await subjectsRepo.setFlags(ctx.id, subject!.id, { restricted: true, restrictedAt: receivedAt }, tx);
          effect = { flag: 'restricted', restriction_ground: restrictionGround };
        }
        if (closeWith) {
          r = await repo.update(
            r.id,
            { status: 'completed', outcome, textsSealed: sealTexts(r, key, { resolution: closeWith.resolution }), closedAt: now, lastTransitionAt: receivedAt },
            tx,
          );
          await audit(r, actor, 'complete', 'received', 'completed', receivedAt, now, { automatic: true, outcome: 'granted' }, undefined, key, tx);
          events.push({ type: 'request.status_changed', data: eventData(r, { from: 'received', to: 'completed' }) });
          events.push({ type: 'request.completed', data: eventData(r) });
        } else if (effect) {
          r = await repo.update(r.id, { status: 'in_progress', outcome }, tx);
          await audit(r, actor, 'effect_applied', 'received', 'in_progress', receivedAt, now, effect, undefined, key, tx);
          events.push({ type: 'request.status_changed', data: eventData(r, { from: 'received', to: 'in_progress' }) });
        }
        await outbox.insert(events.map((e) => ({ ...eventRow(ctx.id, e.type, e.data, now), refId: r.id })), tx);
        // Art. 18, 19: every system that handles restriction, and every recipient, is told at once. A restriction
        // request stays in progress; it completes when the last of them answers (or when the DPO completes it). An
        // objection restricting meanwhile (Art. 18(1)(d)) tells them too, and stays open for the DPO's decision.
        if (restrictionGround) await tasks.fanOut(actor, taskRequest(r), 'restriction', {}, tx);
        await reschedule(tenant, r, now, true, tx);
        return presentOne(r, subject, now, tx);
      });
    },

    async get(tenantId: string, id: string): Promise<RightsRequest> {
      const r = await repo.find(tenantId, id);
      if (!r) throw new RequestNotFound();
      return presentOne(r, await subjectsRepo.find(tenantId, r.subjectId), clock());
    },

    async list(tenantId: string, f: RequestFilters, page: { limit: number; cursor?: string }) {
      const now = clock();
      const rows = await repo.list(tenantId, f, now, { before: decodeCreatedCursor('rights-requests', page.cursor), limit: page.limit + 1 });
      const { items, next_cursor } = pageOf('rights-requests', rows, page.limit);
      const subjectRows = new Map((await subjectsRepo.findMany(tenantId, [...new Set(items.map((r) => r.subjectId))])).map((x) => [x.id, x]));
      const waiting = await tasks.waitingOn(tenantId, items.map((r) => r.id));
      return { items: items.map((r) => present(r, subjectRows.get(r.subjectId), now, waiting.get(r.id) ?? [])), next_cursor };
    },

    async events(tenantId: string, id: string, page: { limit: number; cursor?: string }) {
      const r = await repo.find(tenantId, id);
      if (!r) throw new RequestNotFound();
      const subject = await subjectsRepo.find(tenantId, r.subjectId);
      const key = subject ? subjects.dataKeyOf(subject) : null;
      const [after] = decodeCursor('request-events', page.cursor, ['seq'] as const) ?? [0];
      const rows = await repo.events(tenantId, id, after!, page.limit + 1);
      const items = rows.slice(0, page.limit);
      return {
        items: items.map((e) => ({
          seq: e.seq,
          action: e.action,
          from_status: e.fromStatus,
          to_status: e.toStatus,
          at: e.at.toISOString(),
          recorded_at: e.recordedAt.toISOString(),
          actor: e.actor,
          facts: e.facts ?? null,
          note: e.noteSealed && key ? open(key, e.noteSealed, noteAad(e.id)).toString('utf8') : null,
        })),
        next_cursor: rows.length > page.limit ? encodeCursor('request-events', [items.at(-1)!.seq]) : null,
      };
    },

    async stats(tenantId: string) {
      const rows = await repo.stats(tenantId, clock());
      const byStatus: Record<string, number> = {};
      const byType: Record<string, number> = {};
      let overdue = 0;
      let soon = 0;
      for (const row of rows) {
        byStatus[row.status] = (byStatus[row.status] ?? 0) + row.n;
        byType[row.type] = (byType[row.type] ?? 0) + row.n;
        overdue += row.overdue;
        soon += row.due_soon;
      }
      return { open_by_status: byStatus, open_by_type: byType, overdue, due_next_7_days: soon, waiting_on_systems: await tasks.openBySystem(tenantId) };
    },

    /** Seals the free text that requests written before it was sealed still hold in plaintext (an operator command,
     * across every tenant; idempotent). Returns how many requests were mended. */
    async sealPlaintextTexts(): Promise<number> {
      let mended = 0;
      for (;;) {
        const batch = await repo.withPlaintextTexts(100);
        if (batch.length === 0) return mended;
        for (const r of batch) {
          await inTransaction(db, async (tx) => {
            const subject = await subjectsRepo.find(r.tenantId, r.subjectId, tx);
            const key = subject ? subjects.dataKeyOf(subject) : null;
            const legacy = (r.outcome ?? {}) as { resolution?: unknown; detail?: unknown };
            const add: RequestTexts = {};
            if (r.extensionReason) add.extension_reason = r.extensionReason;
            if (typeof legacy.resolution === 'string') add.resolution = legacy.resolution;
            if (typeof legacy.detail === 'string') add.detail = legacy.detail;
            // Without a key (an erased subject) the text is dropped, as erasure would have made it unreadable.
            await repo.replacePlaintextTexts(r, sealTexts(r, key, add), tx);
          });
          mended++;
        }
      }
    },

    /**
     * Art. 18(3): lifts a restriction granted, once the person has been told (`subject_informed_at`, not after the
     * lift). Refused while the subject is not restricted, or while an open request still restricts it (a restriction
     * request, an objection to processing pending). The lift is recorded in the audit trail of each granted
     * restriction that held the flag (the reason sealed as its note), and the latest one fans out
     * `restriction.lifted` to every system that handles restriction and every recipient (Art. 19).
     */
    async liftRestriction(actor: Actor, subjectId: string, input: { subject_informed_at: string; reason?: string }) {
      const now = clock();
      const informed = pastInstant('subject_informed_at', input.subject_informed_at, now);
      if (informed > now) {
        throw new ValidationFailed([{ field: 'subject_informed_at', message: 'must not be after the lift (now): the person is told before the restriction is lifted (Art. 18(3))' }]);
      }
      return inTransaction(db, async (tx) => {
        if (!(await subjectsRepo.find(actor.tenantId, subjectId, tx))) throw new SubjectNotFound();
        // Requests before the subject, as a transition locks them: the two cannot wait for each other.
        const held = await repo.lockGrantedRestrictions(actor.tenantId, subjectId, tx);
        const subject = (await subjectsRepo.lock(actor.tenantId, subjectId, tx))!;
        if (!subject.restricted) throw new RestrictionNotLiftable("The subject's processing is not restricted");
        if ((await repo.openRestrictionHolders(actor.tenantId, subjectId, tx)) > 0) {
          throw new RestrictionNotLiftable('An open request still restricts the processing (a restriction request, or an objection to processing pending, Art. 18(1)(d)): decide it first');
        }
        const latest = held.at(-1);
        if (latest && informed < latest.receivedAt) {
          throw new ValidationFailed([{ field: 'subject_informed_at', message: `must not be before the restriction was requested (${latest.receivedAt.toISOString()})` }]);
        }
        const updatedSubject = await subjectsRepo.setFlags(actor.tenantId, subjectId, { restricted: false, restrictedAt: null }, tx);
        const key = subjects.dataKeyOf(subject);
        const lifted = { at: now.toISOString(), subject_informed_at: informed.toISOString(), by: actor.clientId };
        for (const h of held) {
          const updated = await repo.update(h.id, { outcome: { ...((h.outcome ?? {}) as StoredOutcome), restriction_lifted: lifted } satisfies StoredOutcome }, tx);
          const facts = { subject_informed_at: lifted.subject_informed_at, reason_given: input.reason !== undefined, ...(h === latest ? {} : { systems_told_with: latest!.id }) };
          await audit(updated, actor, 'restriction_lifted', null, null, now, now, facts, input.reason, key, tx);
        }
        if (latest) await tasks.fanOut(actor, taskRequest(latest), 'restriction_lifted', {}, tx);
        return { subject: await subjects.present(actor.tenantId, updatedSubject, tx), request_id: latest?.id ?? null, lifted_at: lifted.at };
      });
    },

    /** One transition, as the table in rights-requests.transitions.ts allows it: refused with a 409 otherwise;
     * recorded in the audit trail; announced through the outbox; the deadline and its reminders follow in the same
     * transaction, and so do its effects on the subject (the restricted flag, the objections decided). */
    async transition(actor: Actor, id: string, action: TransitionAction, input: TransitionInput, ctx?: TenantContext): Promise<RightsRequest> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const r = await repo.lock(actor.tenantId, id, tx);
        if (!r) throw new RequestNotFound();
        const tenant = (await tenants.findById(actor.tenantId, tx))!;
        const subject = await subjectsRepo.find(actor.tenantId, r.subjectId, tx);
        const key = subject ? subjects.dataKeyOf(subject) : null;
        const at = pastInstant('at', input.at, now, r.lastTransitionAt);
        const openPause = r.pauses.find((p) => p.to === null);
        const refuse = (why: string): never => {
          throw new TransitionRefused(`Cannot ${action} a request that is ${r.status}${why ? `: ${why}` : ''}`);
        };
        if (!allowedFrom(action, r.status)) refuse(action === 'complete' && r.status === 'awaiting_identity' ? 'identity is not verified yet' : '');
        const notified = () => ({
          subject_notified_at: boundedInstant('subject_notified_at', input.subject_notified_at!, now, { at: r.receivedAt, what: 'the request was received' }).toISOString(),
          notified_by: input.notified_by!,
        });

        let status: Status = TRANSITIONS[action].to ?? r.status;
        let pauses: StoredPause[] = r.pauses;
        const patch: Partial<RequestRow> = {};
        const facts: Record<string, unknown> = {};
        let note = input.note;
        switch (action) {
          case 'request-identity': {
            if (openPause) refuse(`the clock is already paused for ${openPause.kind}`);
            // Art. 12(3), 12(6): the doubts must be raised while the first month runs; the clock cannot stop afterwards.
            const first = firstDeadline(deadlineInput(tenant, r), at);
            if (at > first.dueAt) refuse(`the first deadline (${first.dueDate}) has passed; proof of identity must be asked for within the first month (Art. 12(3), 12(6))`);
            pauses = [...pauses, { kind: 'identity', from: at.toISOString(), to: null }];
            patch.textsSealed = sealTexts(r, key, { identity_doubt: input.reason! });
            facts.reason_given = true;
            note ??= input.reason;
            break;
          }
          case 'identity-verified':
            pauses = pauses.map((p) => (p.to === null ? { ...p, to: at.toISOString() } : p));
            // An erasure or a rectification goes back to the DPO's decision unless it was approved already.
            if (APPROVED_TYPES.includes(r.type) && !(r.outcome as StoredOutcome | null)?.approval) status = 'awaiting_approval';
            break;
          case 'approve': {
            if (!APPROVED_TYPES.includes(r.type)) refuse('only an erasure or a rectification request is approved');
            if (r.type === 'erasure') {
              const ground = input.erasure_ground ?? r.erasureGround;
              if (!ground) throw new ValidationFailed([{ field: 'erasure_ground', message: 'is required: the Art. 17(1) ground that applies was not recorded when the request was created' }]);
              patch.erasureGround = ground;
              Object.assign(facts, { identity: input.identity, erasure_ground: ground, exemptions: (input.exemptions ?? []).length, public_disclosure: input.public_disclosure ?? false });
            } else {
              const erasureOnly = (['exemptions', 'erasure_ground', 'public_disclosure'] as const).filter((f) => input[f] !== undefined);
              if (erasureOnly.length) throw new ValidationFailed(erasureOnly.map((field) => ({ field, message: 'is only for an erasure request' })));
              const corrections = openTexts(r, key).corrections ?? [];
              // Art. 16: an identifier corrected is corrected here too, so the person is found by it from now on.
              const identifiers = corrections.flatMap((c, i) => (c.category === 'identifier' ? [{ type: c.field as IdentifierType, value: c.value, field: `corrections.${i}.value` }] : []));
              if (identifiers.length) {
                if (!ctx) throw new Error('approving a rectification of identifiers needs the tenant context');
                await subjectsRepo.lock(r.tenantId, r.subjectId, tx);
                const problems = await subjects.replaceIdentifiers(ctx, r.subjectId, identifiers, tx);
                if (problems.length) throw new InvalidCorrection(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
              }
              Object.assign(facts, { identity: input.identity, corrections: corrections.length }, identifiers.length ? { identifiers_corrected: identifiers.map((i) => i.type) } : {});
            }
            patch.outcome = { ...((r.outcome ?? {}) as StoredOutcome), approval: { identity: input.identity!, at: at.toISOString(), by: actor.clientId } } satisfies StoredOutcome;
            if (input.identity_note) patch.textsSealed = sealTexts(r, key, { identity_note: input.identity_note });
            note ??= input.identity_note;
            break;
          }
          case 'request-clarification':
            if (openPause) refuse(`the clock is already paused for ${openPause.kind}`);
            pauses = [...pauses, { kind: 'clarification', from: at.toISOString(), to: null }];
            break;
          case 'clarification-received':
            // A request closed while paused keeps its open pause: closed is closed, whatever it was waiting for.
            if (!openPause || openPause.kind !== 'clarification') refuse('no clarification was asked for');
            pauses = pauses.map((p) => (p.to === null ? { ...p, to: at.toISOString() } : p));
            break;
          case 'extend': {
            if (r.extended) refuse('it was extended already; the deadline can be extended only once');
            const input_ = deadlineInput(tenant, r);
            if (!extensionAllowed(input_, at)) refuse('the first month has run out; an extension must be decided within it (Art. 12(3))');
            // Art. 12(3): the person is told of the extension, with the reasons, within the first month.
            const first = firstDeadline(input_, at);
            const informed = boundedInstant(
              'subject_informed_at',
              input.subject_informed_at!,
              now,
              { at: r.receivedAt, what: 'the request was received' },
              { at: first.dueAt, what: `the first deadline, ${first.dueDate}: the person must be told within the first month (Art. 12(3))` },
            );
            patch.extended = true;
            patch.subjectInformedAt = informed;
            patch.textsSealed = sealTexts(r, key, { extension_reason: input.reason! });
            facts.reason_given = true;
            facts.subject_informed_at = informed.toISOString();
            note ??= input.reason;
            break;
          }
          case 'reject': {
            const legacy = input.ground ? LEGACY_GROUND_MAP[input.ground] : null;
            const grounds = checkedGrounds([...(input.grounds ?? []), ...(legacy ? [legacy] : [])], r.type);
            const told = notified();
            patch.rejectionGround = input.ground ?? null;
            patch.outcome = {
              ...((r.outcome ?? {}) as StoredOutcome),
              result: 'refused',
              grounds,
              ...told,
              remedies: remediesOf(tenant),
              ...(input.ground ? { ground: input.ground } : {}),
            } satisfies StoredOutcome;
            patch.textsSealed = sealTexts(r, key, { detail: input.detail! });
            Object.assign(facts, { outcome: 'refused', grounds, notified_by: told.notified_by, detail_given: true }, input.ground ? { ground: input.ground } : {});
            note ??= input.detail;
            break;
          }
          case 'complete': {
            if (openPause) refuse('a clarification is still awaited');
            const result = input.outcome ?? 'granted';
            const grounds = checkedGrounds(input.grounds ?? [], r.type);
            // Art. 22(3): the person's right to obtain human intervention, express their view and contest the decision.
            if (r.type === 'automated_decision' && !input.human_review) {
              throw new ValidationFailed([{ field: 'human_review', message: 'is required to complete an automated_decision request: the human review (Art. 22(3))' }]);
            }
            if (r.type !== 'automated_decision' && input.human_review) {
              throw new ValidationFailed([{ field: 'human_review', message: 'is only for an automated_decision request' }]);
            }
            const told = notified();
            const review = input.human_review;
            patch.outcome = {
              ...((r.outcome ?? {}) as StoredOutcome),
              result,
              grounds,
              ...told,
              ...(result === 'partially_granted' ? { remedies: remediesOf(tenant) } : {}),
              ...(review ? { human_review: { reviewer: review.reviewer, decision_changed: review.decision_changed } } : {}),
            } satisfies StoredOutcome;
            const texts: RequestTexts = {};
            if (input.resolution) texts.resolution = input.resolution;
            if (review) Object.assign(texts, { subject_view: review.subject_view, review_decision: review.decision });
            if (Object.keys(texts).length) patch.textsSealed = sealTexts(r, key, texts);
            Object.assign(facts, { outcome: result, notified_by: told.notified_by }, grounds.length ? { grounds } : {});
            if (review) Object.assign(facts, { human_review: true, reviewer: review.reviewer, decision_changed: review.decision_changed });
            note ??= input.resolution;
            break;
          }
          case 'withdraw':
            break;
          case 'assign':
            patch.assignee = input.assignee ?? null;
            facts.assignee = input.assignee ?? null;
            if (r.status === 'received' && input.assignee) status = 'in_progress';
            break;
          case 'comment':
            break;
        }

        const closes = isOpenStatus(r.status) && !isOpenStatus(status);
        if (closes && r.type === 'objection' && r.objection?.scope === 'processing') {
          // Art. 21(1): upheld unless compelling legitimate grounds were shown (the refusal gives them, with reasons);
          // a request the person withdraws takes its objections with it.
          const decision = status === 'completed' ? 'upheld' : status === 'withdrawn' ? 'withdrawn' : 'refused';
          await consents.decideObjections(actor.tenantId, r.id, decision, tx);
          facts.objections = decision;
        }
        // A restriction granted stays until lifted (Art. 18(3)); one refused or withdrawn, or an objection decided,
        // no longer holds the flag.
        const restrictionEnds = closes && r.restrictionGround !== null && !(r.type === 'restriction' && status === 'completed');
        if (restrictionEnds) facts.restriction = await releaseRestriction(r, tx);

        const timed = action !== 'comment';
        const deadline = computeDeadline(deadlineInput(tenant, { ...r, pauses, extended: patch.extended ?? r.extended }));
        const updated = await repo.update(
          r.id,
          {
            ...patch,
            status,
            pauses,
            ...(closes ? {} : deadlineFields(deadline)),
            ...(closes ? { closedAt: now } : {}),
            ...(timed ? { lastTransitionAt: at } : {}),
          },
          tx,
        );
        if (updated.dueDate !== r.dueDate) facts.due_date = updated.dueDate;
        await audit(updated, actor, action, r.status, status === r.status ? null : status, at, now, Object.keys(facts).length ? facts : null, note, key, tx);
        if (closes && r.type === 'erasure' && status === 'completed') await eraseSubject(updated, tenant, now, tx);

        const events: { type: EventType; data: ReturnType<typeof eventData> }[] = [];
        if (status !== r.status) events.push({ type: 'request.status_changed', data: eventData(updated, { from: r.status, to: status, action }) });
        if (action === 'extend') events.push({ type: 'request.extended', data: eventData(updated) });
        if (status === 'completed') events.push({ type: 'request.completed', data: eventData(updated) });
        await outbox.insert(events.map((e) => ({ ...eventRow(actor.tenantId, e.type, e.data, now), refId: updated.id })), tx);
        if (closes || updated.dueDate !== r.dueDate || (updated.dueDate === null) !== (r.dueDate === null)) await reschedule(tenant, updated, now, false, tx);
        if (restrictionEnds) {
          // Art. 18(3), 19: its restriction tasks still open are cancelled; if the flag is lifted, the systems that
          // were told to restrict are told it is lifted, or they would restrict for ever (those never told need not be).
          const told = await tasks.cancelRestriction(r.tenantId, r.id, tx);
          if (facts.restriction === 'lifted' && told.length) await tasks.fanOut(actor, taskRequest(updated), 'restriction_lifted', { systemIds: told }, tx);
        }
        if (action === 'approve' && fansOut(r.type)) {
          const open_ = await tasks.fanOut(actor, taskRequest(updated), FAN_OUT_KIND[r.type], { exemptions: input.exemptions, publicDisclosure: input.public_disclosure }, tx);
          // No system to wait for: the request completes at once (an erasure once Rightful has erased its own copy).
          if (open_ === 0) await finishFanOut(actor.tenantId, updated.id, tx);
          const final = (await repo.find(actor.tenantId, updated.id, tx))!;
          return presentOne(final, await subjectsRepo.find(actor.tenantId, r.subjectId, tx), now, tx);
        }
        return presentOne(updated, subject, now, tx);
      });
    },
  };
}
export type RightsRequestsService = ReturnType<typeof createRightsRequestsService>;
