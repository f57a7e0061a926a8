// Rights requests: intake, the state machine with its audit trail, the legal deadline and its reminders.
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { open, seal } from '../../lib/crypto.js';
import { decodeCreatedCursor, decodeCursor, encodeCursor, pageOf } from '../../lib/cursor.js';
import { pastInstant } from '../../lib/instants.js';
import { eventRow, type EventType } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import type { PrivacyNoticeService } from '../privacy-notice/privacy-notice.service.js';
import { SubjectNotFound } from '../subjects/subjects.errors.js';
import type { SubjectRow, SubjectsRepo } from '../subjects/subjects.repo.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { TenantRow, TenantsRepo } from '../tenants/tenants.repo.js';
import type { TenantContext } from '../tenants/tenants.service.js';
import type { ConsentsService } from '../consents/consents.service.js';
import { computeDeadline, extensionAllowed, reminderSchedule, type Deadline, type DeadlineInput } from './rights-requests.deadlines.js';
import { RequestNotFound, TransitionRefused } from './rights-requests.errors.js';
import type { RequestFilters, RequestRow, RightsRequestsRepo } from './rights-requests.repo.js';
import type { CreateRequest, RightsRequest, TransitionAction } from './rights-requests.schemas.js';
import type { StoredPause } from './rights-requests.table.js';

const REMINDER_TYPES = ['request.deadline_approaching', 'request.overdue'];
const OPEN_STATUSES = new Set(['received', 'awaiting_identity', 'in_progress']);

const detailsAad = (requestId: string) => `request-details:${requestId}`;
const noteAad = (eventId: string) => `request-note:${eventId}`;
const textsAad = (requestId: string) => `request-texts:${requestId}`;

/** Free text about the person kept on a request, sealed together under the subject's key. */
type RequestTexts = { extension_reason?: string; resolution?: string; detail?: string };

type Actor = { tenantId: string; clientId: string };
type TransitionInput = { at?: string; note?: string; reason?: string; ground?: string; detail?: string; resolution?: string; assignee?: string | null };

export function createRightsRequestsService(deps: {
  db: Db;
  repo: RightsRequestsRepo;
  tenants: TenantsRepo;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  consents: ConsentsService;
  privacyNotice: PrivacyNoticeService;
  outbox: OutboxRepo;
  clock?: () => Date;
}) {
  const { db, repo, tenants, subjectsRepo, subjects, consents, privacyNotice, outbox } = deps;
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

  function textsOf(r: Pick<RequestRow, 'id' | 'textsSealed'>, key: Buffer | null): RequestTexts {
    return r.textsSealed && key ? (JSON.parse(open(key, r.textsSealed, textsAad(r.id)).toString('utf8')) as RequestTexts) : {};
  }

  /** The sealed texts of a request with `add` merged in; null when nothing is left to seal or the key is gone. */
  function sealTexts(r: Pick<RequestRow, 'id' | 'textsSealed'>, key: Buffer | null, add: RequestTexts): Buffer | null {
    if (!key) return null;
    const texts = { ...textsOf(r, key), ...add };
    return Object.keys(texts).length ? seal(key, Buffer.from(JSON.stringify(texts)), textsAad(r.id)) : null;
  }

  function present(r: RequestRow, subject: SubjectRow | undefined, now: Date): RightsRequest {
    const key = subject ? subjects.dataKeyOf(subject) : null;
    const texts = textsOf(r, key);
    const outcome = r.outcome || texts.resolution || texts.detail ? { ...(r.outcome ?? {}), ...(texts.resolution ? { resolution: texts.resolution } : {}), ...(texts.detail ? { detail: texts.detail } : {}) } : null;
    return {
      id: r.id,
      subject_id: r.subjectId,
      type: r.type,
      channel: r.channel,
      status: r.status,
      received_at: r.receivedAt.toISOString(),
      due_date: r.dueDate,
      due_at: r.dueAt?.toISOString() ?? null,
      paused: OPEN_STATUSES.has(r.status) && r.pauses.some((p) => p.to === null),
      overdue: OPEN_STATUSES.has(r.status) && r.dueAt !== null && r.dueAt < now,
      extended: r.extended,
      extension_reason: texts.extension_reason ?? r.extensionReason,
      rejection_ground: r.rejectionGround as RightsRequest['rejection_ground'],
      assignee: r.assignee,
      details: r.detailsSealed && key ? open(key, r.detailsSealed, detailsAad(r.id)).toString('utf8') : null,
      outcome,
      closed_at: r.closedAt?.toISOString() ?? null,
      created_at: r.createdAt.toISOString(),
      updated_at: r.updatedAt.toISOString(),
    };
  }

  function eventData(r: RequestRow, extra: Record<string, string | number | boolean | null> = {}) {
    return { request_id: r.id, subject_id: r.subjectId, request_type: r.type, status: r.status, due_date: r.dueDate, ...extra };
  }

  /** Replaces the request's pending reminders with those of its current deadline. `catchUp`: reminders whose time
   * has passed are sent at once (a request entered late); otherwise only future ones are scheduled. */
  async function reschedule(tenant: TenantRow, r: RequestRow, now: Date, catchUp: boolean, tx: Tx): Promise<void> {
    await outbox.cancelPendingFor(r.id, REMINDER_TYPES, tx);
    if (!OPEN_STATUSES.has(r.status) || !r.dueDate) return;
    const rows = reminderSchedule({ dueDate: r.dueDate, timeZone: tenant.timezone, offsetsDays: tenant.reminderOffsetsDays })
      .filter((rem) => catchUp || rem.at > now)
      .map((rem) => ({
        ...eventRow(
          r.tenantId,
          rem.type,
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
          const found = await subjects.findOrCreate(ctx, { identifiers: input.subject.identifiers, external_ref: input.subject.external_ref }, tx);
          subject = await subjectsRepo.find(ctx.id, found.subject.id, tx);
        }
        const id = crypto.randomUUID();
        const key = subjects.dataKeyOf(subject!);
        const deadline = computeDeadline({ receivedAt, timeZone: tenant.timezone, policy: tenant.deadlinePolicy, holidayCalendar: tenant.holidayCalendar });
        let r = await repo.insert(
          {
            id,
            tenantId: ctx.id,
            subjectId: subject!.id,
            type: input.type,
            channel: input.channel,
            status: 'received',
            receivedAt,
            detailsSealed: input.details && key ? seal(key, Buffer.from(input.details), detailsAad(id)) : null,
            ...deadlineFields(deadline),
            lastTransitionAt: receivedAt,
          },
          tx,
        );
        await audit(r, actor, 'created', null, 'received', receivedAt, now, { channel: input.channel, due_date: r.dueDate }, undefined, key, tx);
        const events: { type: EventType; data: ReturnType<typeof eventData> }[] = [{ type: 'request.created', data: eventData(r) }];

        // Effects that the law wants at once, whatever happens to the request afterwards.
        const effectAt = receivedAt.toISOString();
        let closeWith: { resolution: string; privacy_notice?: unknown } | null = null;
        if (input.type === 'objection') {
          await consents.object(ctx.id, subject!.id, 'direct_marketing', effectAt, tx);
          closeWith = { resolution: 'The objection to direct marketing is recorded: every direct-marketing purpose is blocked for the subject.' };
        } else if (input.type === 'information') {
          closeWith = { resolution: 'The privacy notice is attached.', privacy_notice: await privacyNotice.render(ctx.id, undefined) };
        } else if (input.type === 'automated_decision') {
          await consents.object(ctx.id, subject!.id, 'automated_decisions', effectAt, tx);
        } else if (input.type === 'restriction') {
          await subjectsRepo.setFlags(ctx.id, subject!.id, { restricted: true, restrictedAt: receivedAt }, tx);
        }
        if (closeWith) {
          const { resolution, ...rest } = closeWith;
          r = await repo.update(
            r.id,
            { status: 'completed', outcome: Object.keys(rest).length ? rest : null, textsSealed: sealTexts(r, key, { resolution }), closedAt: now, lastTransitionAt: receivedAt },
            tx,
          );
          await audit(r, actor, 'complete', 'received', 'completed', receivedAt, now, { automatic: true }, undefined, key, tx);
          events.push({ type: 'request.status_changed', data: eventData(r, { from: 'received', to: 'completed' }) });
          events.push({ type: 'request.completed', data: eventData(r) });
        } else if (input.type === 'automated_decision' || input.type === 'restriction') {
          r = await repo.update(r.id, { status: 'in_progress' }, tx);
          await audit(r, actor, 'effect_applied', 'received', 'in_progress', receivedAt, now, { flag: input.type === 'restriction' ? 'restricted' : 'automated_decision_objection' }, undefined, key, tx);
          events.push({ type: 'request.status_changed', data: eventData(r, { from: 'received', to: 'in_progress' }) });
        }
        await outbox.insert(events.map((e) => ({ ...eventRow(ctx.id, e.type, e.data, now), refId: r.id })), tx);
        await reschedule(tenant, r, now, true, tx);
        return present(r, subject, now);
      });
    },

    async get(tenantId: string, id: string): Promise<RightsRequest> {
      const r = await repo.find(tenantId, id);
      if (!r) throw new RequestNotFound();
      return present(r, await subjectsRepo.find(tenantId, r.subjectId), clock());
    },

    async list(tenantId: string, f: RequestFilters, page: { limit: number; cursor?: string }) {
      const now = clock();
      const rows = await repo.list(tenantId, f, now, { before: decodeCreatedCursor('rights-requests', page.cursor), limit: page.limit + 1 });
      const { items, next_cursor } = pageOf('rights-requests', rows, page.limit);
      const subjectRows = new Map((await subjectsRepo.findMany(tenantId, [...new Set(items.map((r) => r.subjectId))])).map((x) => [x.id, x]));
      return { items: items.map((r) => present(r, subjectRows.get(r.subjectId), now)), next_cursor };
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
      return { open_by_status: byStatus, open_by_type: byType, overdue, due_next_7_days: soon };
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

    /** One transition: refused with a 409 when the state does not allow it; recorded in the audit trail; announced
     * through the outbox; the deadline and its reminders follow in the same transaction. */
    async transition(actor: Actor, id: string, action: TransitionAction, input: TransitionInput): Promise<RightsRequest> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const r = await repo.lock(actor.tenantId, id, tx);
        if (!r) throw new RequestNotFound();
        const tenant = (await tenants.findById(actor.tenantId, tx))!;
        const subject = await subjectsRepo.find(actor.tenantId, r.subjectId, tx);
        const key = subject ? subjects.dataKeyOf(subject) : null;
        const at = pastInstant('at', input.at, now, r.lastTransitionAt);
        const isOpen = OPEN_STATUSES.has(r.status);
        const openPause = r.pauses.find((p) => p.to === null);
        const refuse = (why: string): never => {
          throw new TransitionRefused(`Cannot ${action} a request that is ${r.status}${why ? `: ${why}` : ''}`);
        };

        let status = r.status;
        let pauses: StoredPause[] = r.pauses;
        const patch: Partial<RequestRow> = {};
        const facts: Record<string, unknown> = {};
        switch (action) {
          case 'request-identity':
            if (r.status !== 'received' && r.status !== 'in_progress') refuse('');
            if (openPause) refuse(`the clock is already paused for ${openPause.kind}`);
            status = 'awaiting_identity';
            pauses = [...pauses, { kind: 'identity', from: at.toISOString(), to: null }];
            break;
          case 'identity-verified':
            if (r.status !== 'awaiting_identity') refuse('');
            status = 'in_progress';
            pauses = pauses.map((p) => (p.to === null ? { ...p, to: at.toISOString() } : p));
            break;
          case 'request-clarification':
            if (r.status !== 'received' && r.status !== 'in_progress') refuse('');
            if (openPause) refuse(`the clock is already paused for ${openPause.kind}`);
            pauses = [...pauses, { kind: 'clarification', from: at.toISOString(), to: null }];
            break;
          case 'clarification-received':
            // A request closed while paused keeps its open pause: closed is closed, whatever it was waiting for.
            if (!isOpen) refuse('');
            if (!openPause || openPause.kind !== 'clarification') refuse('no clarification was asked for');
            pauses = pauses.map((p) => (p.to === null ? { ...p, to: at.toISOString() } : p));
            break;
          case 'extend':
            if (!isOpen) refuse('');
            if (r.extended) refuse('it was extended already; the deadline can be extended only once');
            if (!extensionAllowed(deadlineInput(tenant, r), at)) refuse('the first month has run out; an extension must be decided within it');
            patch.extended = true;
            patch.textsSealed = sealTexts(r, key, { extension_reason: input.reason! });
            facts.reason_given = true;
            break;
          case 'reject':
            if (!isOpen) refuse('');
            status = 'rejected';
            patch.rejectionGround = input.ground!;
            patch.outcome = { ground: input.ground };
            patch.textsSealed = sealTexts(r, key, { detail: input.detail! });
            facts.ground = input.ground;
            break;
          case 'complete':
            if (r.status !== 'received' && r.status !== 'in_progress') refuse(r.status === 'awaiting_identity' ? 'identity is not verified yet' : '');
            if (openPause) refuse('a clarification is still awaited');
            status = 'completed';
            patch.textsSealed = sealTexts(r, key, { resolution: input.resolution! });
            break;
          case 'withdraw':
            if (!isOpen) refuse('');
            status = 'withdrawn';
            break;
          case 'assign':
            if (!isOpen) refuse('');
            patch.assignee = input.assignee ?? null;
            facts.assignee = input.assignee ?? null;
            if (r.status === 'received' && input.assignee) status = 'in_progress';
            break;
          case 'comment':
            break;
        }
        if (action === 'reject' && input.detail) facts.detail_given = true;
        const closes = OPEN_STATUSES.has(r.status) && !OPEN_STATUSES.has(status);
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
        const note = input.note ?? (action === 'reject' ? input.detail : action === 'complete' ? input.resolution : action === 'extend' ? input.reason : undefined);
        if (updated.dueDate !== r.dueDate) facts.due_date = updated.dueDate;
        await audit(updated, actor, action, r.status, status === r.status ? null : status, at, now, Object.keys(facts).length ? facts : null, note, key, tx);

        const events: { type: EventType; data: ReturnType<typeof eventData> }[] = [];
        if (status !== r.status) events.push({ type: 'request.status_changed', data: eventData(updated, { from: r.status, to: status, action }) });
        if (action === 'extend') events.push({ type: 'request.extended', data: eventData(updated) });
        if (status === 'completed') events.push({ type: 'request.completed', data: eventData(updated) });
        await outbox.insert(events.map((e) => ({ ...eventRow(actor.tenantId, e.type, e.data, now), refId: updated.id })), tx);
        if (closes || updated.dueDate !== r.dueDate || (updated.dueDate === null) !== (r.dueDate === null)) await reschedule(tenant, updated, now, false, tx);
        return present(updated, subject, now);
      });
    },
  };
}
export type RightsRequestsService = ReturnType<typeof createRightsRequestsService>;
