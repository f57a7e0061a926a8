// System tasks: one connected system's part of one rights request (erasure, rectification, restriction, export).
// Created by a request's fan-out, sent to each system addressed to it alone, answered by the system (callback link)
// or by a client, every change in the request's audit trail. When the last one closes, the request is told.
//
// An erasure task exempt until a date (Art. 17(3)(b): data the system must keep for a legal retention period) is
// reopened by Rightful when the period ends, and the system is then asked to erase, as any other was. By then
// Rightful has usually forgotten the person, so the erasure keeps, for each such task, the least the system needs to
// find them (its `external_ref` and the identifiers, as the task is sent), sealed under a key of the task's own: the
// system lawfully keeps the data until then and must be told to erase it then, and Rightful must not keep more than
// it takes to tell it, nor longer. The key and the sealed locator are destroyed when the task closes.
import { createHash } from 'node:crypto';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { inTenant } from '../../db/tenant-scope.js';
import { newWrappedKey, open, seal, unwrapKey } from '../../lib/crypto.js';
import { ValidationFailed } from '../../lib/errors.js';
import type { IdentifierType } from '../../lib/identifiers.js';
import type { Keyring } from '../../lib/keyring.js';
import { eventRow, type EventType } from '../outbox/outbox.events.js';
import type { NewOutboxRow, OutboxRepo } from '../outbox/outbox.repo.js';
import { addDays, localDate, startOfLocalDay } from '../rights-requests/rights-requests.deadlines.js';
import type { RightsRequestsRepo } from '../rights-requests/rights-requests.repo.js';
import { openTexts } from '../rights-requests/rights-requests.texts.js';
import type { SubjectRow, SubjectsRepo } from '../subjects/subjects.repo.js';
import type { SystemsRepo } from '../systems/systems.repo.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import { CallbackNotFound, CallbackUsed, InvalidExemption, TaskNotFound, TaskTransitionRefused } from './tasks.errors.js';
import { OPEN_TASK_STATUSES, type TaskRow, type TaskStatus, type TasksRepo, type TaskWithSystem } from './tasks.repo.js';
import type { Task, TaskAction } from './tasks.schemas.js';
import { ART19_GROUNDS, type TASK_KINDS, type TaskExemption } from './tasks.table.js';
import type { CallbackTokens } from './tasks.tokens.js';

type TaskKind = (typeof TASK_KINDS)[number];
type Actor = { tenantId: string; clientId: string };
/** Who changed a task: a client (its token `sub`), the system itself through its callback link, or Rightful (a task
 * reopened when its exemption ended, or cancelled with its request). */
type By = { kind: 'client'; id: string } | { kind: 'system' } | { kind: 'rightful' };

export const TASK_UPDATED = 'task.updated' as EventType;
/** The event each kind of task is sent as. */
export const TASK_EVENT: Record<Exclude<TaskKind, 'public_disclosure'>, EventType> = {
  erasure: 'erasure.requested' as EventType,
  rectification: 'rectification.requested' as EventType,
  restriction: 'restriction.requested' as EventType,
  restriction_lifted: 'restriction.lifted' as EventType,
  export: 'export.requested' as EventType,
};
export const TASK_SEND_TOPIC = 'task.send';
/** Reopens an erasure task exempt until a date once that date is over (payload: the task id). */
export const TASK_REOPEN_TOPIC = 'task.reopen';
/** The last `until` an exemption may name: its end, the next local midnight, must stay a four-digit year everywhere. */
export const LATEST_UNTIL = '9999-12-30';

/**
 * The task state machine as data: action → the statuses it applies to → the status it leads to. An exempt task may be
 * completed (the system erased what it kept, early) or exempt again (the DPO changes the ground, the categories or
 * the end date). Rightful's own moves are not actions a client can take: exempt → pending when the exemption's
 * period ends (reopen), and open → cancelled when a restriction ends without being granted.
 */
export const TASK_TRANSITIONS: Record<TaskAction, { from: readonly TaskStatus[]; to: TaskStatus }> = {
  acknowledge: { from: ['pending'], to: 'acknowledged' },
  complete: { from: ['pending', 'acknowledged', 'failed', 'exempt'], to: 'completed' },
  fail: { from: ['pending', 'acknowledged'], to: 'failed' },
  exempt: { from: ['pending', 'acknowledged', 'failed', 'exempt'], to: 'exempt' },
  retry: { from: ['failed'], to: 'pending' },
};

export type Exemption = { system_id: string; ground: string; categories: string[]; until?: string; note?: string };

/**
 * What the email to a system without an API says (a system reached by `contact_email`): ids, what is asked, the
 * due date, the person's CRM reference and the callback link. Never the person's identifiers or corrections.
 */
export type TaskMail = {
  to: string;
  tenantId: string;
  taskId: string;
  requestId: string;
  kind: Exclude<TaskKind, 'public_disclosure'>;
  systemName: string;
  dueDate: string | null;
  externalRef: string | null;
  callbackUrl: string;
  /** The task's send: one message id per send, so a mail sent twice after a crash is deduplicated. */
  sends: number;
};
/** Sends a task's email; throws when it could not (the outbox row is retried). Null: no SMTP transport configured. */
export type TaskMailer = ((mail: TaskMail) => Promise<void>) | null;
export type TaskRequest = { id: string; tenantId: string; subjectId: string; dueDate: string | null };

const reasonAad = (taskId: string) => `task-reason:${taskId}`;
const locatorAad = (taskId: string) => `task-locator:${taskId}`;
const locatorKeyAad = (taskId: string) => `task-locator-key:${taskId}`;

/** How a system finds the person: what a task's event carries as `subject`, and what a locator keeps of it. */
type Locator = { external_ref: string | null; identifiers: { type: IdentifierType; value: string }[] };

/** When an exemption's period is over: the first instant after `until` ends in the controller's time zone. */
export function exemptionEndsAt(until: string, timeZone: string): Date {
  return startOfLocalDay(addDays(until, 1), timeZone);
}

/** Whether a task in this status (exempt until `until`) still needs its locator: open, or exempt until a date. */
const keepsLocator = (status: TaskStatus, until: string | null | undefined) => OPEN_TASK_STATUSES.includes(status) || (status === 'exempt' && !!until);
const NO_LOCATOR = { locatorSealed: null, locatorKeyWrapped: null, locatorKeyId: null } as const;

/** The id of the event one send row writes, derived from the row's id: a send row run twice (its worker killed
 * after the commit, before the row was done) finds its event written and writes no second one, so the system never
 * gets the task under two webhook-ids. */
function eventIdOf(sendRowId: string): string {
  const h = createHash('sha256').update(`task-send-event:${sendRowId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function createTasksService(deps: {
  db: Db;
  repo: TasksRepo;
  systems: SystemsRepo;
  requests: RightsRequestsRepo;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  tenants: TenantsRepo;
  outbox: OutboxRepo;
  tokens: CallbackTokens;
  /** Wraps the key of each locator kept for an exemption that ends (Art. 17(3)(b)). */
  keyring: Keyring;
  publicBaseUrl: string;
  /** Called in the transaction that closed a request's last open task. Wired by the composition root. */
  onAllClosed: (tenantId: string, requestId: string, tx: Tx) => Promise<void>;
  /** Called in the transaction of an answer after which no task of the request waits for its system (none pending
   * or acknowledged: each completed, failed, exempt or cancelled) — a failed task is still open, but answered. */
  onAnswered?: (tenantId: string, requestId: string, tx: Tx) => Promise<void>;
  clock?: () => Date;
}) {
  const { db, repo, requests, subjectsRepo, subjects, outbox, tokens } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function keyOf(tenantId: string, subjectId: string, tx: Tx): Promise<Buffer | null> {
    const s = await subjectsRepo.find(tenantId, subjectId, tx);
    return s ? subjects.dataKeyOf(s) : null;
  }

  function present(t: TaskWithSystem, key: Buffer | null): Task {
    return {
      id: t.id,
      request_id: t.requestId,
      system_id: t.systemId,
      system_name: t.systemName,
      recipient: t.recipient || t.processor,
      reach: t.reach,
      kind: t.kind,
      status: t.status,
      exemption: t.exemption ? { ground: t.exemption.ground, categories: t.exemption.categories, until: t.exemption.until } : null,
      reason: t.reasonSealed && key ? open(key, t.reasonSealed, reasonAad(t.id)).toString('utf8') : null,
      sends: t.sends,
      notified_at: t.notifiedAt?.toISOString() ?? null,
      answered_at: t.answeredAt?.toISOString() ?? null,
      created_at: t.createdAt.toISOString(),
      updated_at: t.updatedAt.toISOString(),
    };
  }

  /** One line in the request's audit trail (`task.<status>`, or `action`) and one task.updated event. */
  async function record(t: TaskRow, from: TaskStatus | null, by: By, at: Date, extra: Record<string, unknown>, tx: Tx, action?: string): Promise<void> {
    const byText = by.kind === 'system' ? 'system callback' : by.kind === 'rightful' ? 'rightful' : by.id;
    await requests.appendNote(
      { tenantId: t.tenantId, id: t.requestId },
      { action: action ?? `task.${from === null ? 'created' : t.status}`, actor: byText, at, facts: { task_id: t.id, system_id: t.systemId, kind: t.kind, from, to: t.status, ...extra } },
      tx,
    );
    await outbox.insert(
      [{ ...eventRow(t.tenantId, TASK_UPDATED, { task_id: t.id, request_id: t.requestId, system_id: t.systemId, kind: t.kind, from, to: t.status, by: byText }, at), refId: t.requestId }],
      tx,
    );
  }

  function sendRow(t: TaskRow, at: Date) {
    return { id: crypto.randomUUID(), tenantId: t.tenantId, topic: TASK_SEND_TOPIC, payload: { task_id: t.id }, availableAt: at, refId: t.requestId };
  }

  /** The row that reopens a task exempt until a date, due when the period is over in the controller's time zone. */
  function reopenRow(t: TaskRow, until: string, timeZone: string) {
    return { id: crypto.randomUUID(), tenantId: t.tenantId, topic: TASK_REOPEN_TOPIC, payload: { task_id: t.id }, availableAt: exemptionEndsAt(until, timeZone), refId: t.requestId };
  }

  async function timeZoneOf(tenantId: string, tx: Tx): Promise<string> {
    return (await deps.tenants.findById(tenantId, tx))?.timezone ?? 'UTC';
  }

  /** An exemption's end date, from tomorrow in the controller's time zone (a period already over exempts nothing). */
  function untilProblem(until: string, timeZone: string): string | null {
    const today = localDate(clock(), timeZone);
    if (until <= today) return `must be a date after today (${today} in the controller's time zone): the period the data are kept for must not be over`;
    if (until > LATEST_UNTIL) return `must not be after ${LATEST_UNTIL}`;
    return null;
  }

  /** The locator kept for a task, opened; null when there is none. */
  function locatorOf(t: TaskRow): Locator | null {
    if (!t.locatorSealed || !t.locatorKeyWrapped || !t.locatorKeyId) return null;
    const key = unwrapKey(deps.keyring.all, t.locatorKeyId, t.locatorKeyWrapped, locatorKeyAad(t.id));
    return JSON.parse(open(key, t.locatorSealed, locatorAad(t.id)).toString('utf8')) as Locator;
  }

  /** The single-use link a system answers through, bound to the task's current send. */
  function callbackUrl(t: TaskRow): string {
    return `${deps.publicBaseUrl}/v1/task-callbacks/${tokens.issue(t.id, t.sends)}`;
  }

  /** A system reached by email while no SMTP transport is configured: said once per send in the audit trail, and
   * the task stays pending (the request's waiting_on names the system). */
  async function unreachable(t: TaskRow, tx: Tx): Promise<void> {
    if (await requests.hasEvent(t.tenantId, t.requestId, 'task.unreachable', { task_id: t.id, sends: t.sends }, tx)) return;
    const now = clock();
    await requests.appendNote(
      { tenantId: t.tenantId, id: t.requestId },
      {
        action: 'task.unreachable',
        actor: 'rightful',
        at: now,
        facts: { task_id: t.id, system_id: t.systemId, kind: t.kind, sends: t.sends, reach: 'email', why: 'no SMTP transport is configured (SMTP_URL): the system must be told by hand' },
      },
      tx,
    );
  }

  /**
   * Takes the request's row lock, then the task's: every change to a request's tasks, and every line they add to its
   * audit trail, is serialised behind the request (as its own transitions are). Without it two tasks of one request
   * closing at once would each take the same audit sequence number, and each see the other still open, so the
   * request would never complete.
   */
  async function lockTask(tenantId: string, requestId: string, taskId: string, tx: Tx): Promise<TaskRow | undefined> {
    if (!(await requests.lock(tenantId, requestId, tx))) return undefined;
    return repo.lock(tenantId, requestId, taskId, tx);
  }

  async function closedAll(t: TaskRow, tx: Tx): Promise<void> {
    if ((await repo.openCount(t.tenantId, t.requestId, tx)) === 0) await deps.onAllClosed(t.tenantId, t.requestId, tx);
  }

  async function answeredAll(t: TaskRow, tx: Tx): Promise<void> {
    if (deps.onAnswered && (await repo.openCount(t.tenantId, t.requestId, tx, ['pending', 'acknowledged'])) === 0) await deps.onAnswered(t.tenantId, t.requestId, tx);
  }

  /**
   * Whether `t` may be exempt on `input.ground`. Art. 17(3): an erasure task, naming the categories the system keeps.
   * Art. 19: a task of a recipient (processors included) that is not an export, with the reason telling it proved
   * impossible or would involve disproportionate effort; nothing is kept by it and no end date applies.
   */
  async function exemptable(t: TaskRow, input: { reason?: string; ground?: string; categories?: string[]; until?: string }, tx: Tx): Promise<void> {
    const art19 = (ART19_GROUNDS as readonly string[]).includes(input.ground ?? '');
    if (!art19) {
      if (t.kind !== 'erasure') throw new TaskTransitionRefused('Only an erasure task can be exempt on an Art. 17(3) ground; record what the system answered with complete or fail');
      if (!input.categories) throw new ValidationFailed([{ field: 'categories', message: 'is required with an Art. 17(3) ground: the data categories the system keeps' }]);
      return;
    }
    const problems = [
      ...(input.reason ? [] : [{ field: 'reason', message: 'is required with an Art. 19 ground: say why telling this recipient proves impossible or disproportionate' }]),
      ...(input.categories ? [{ field: 'categories', message: 'is not taken with an Art. 19 ground: the recipient keeps nothing by it' }] : []),
      ...(input.until ? [{ field: 'until', message: 'is not taken with an Art. 19 ground' }] : []),
    ];
    if (problems.length) throw new ValidationFailed(problems);
    if (t.kind === 'export' || t.kind === 'public_disclosure') throw new TaskTransitionRefused('Art. 19 concerns telling recipients of a rectification, an erasure or a restriction: not this task');
    const [system] = t.systemId ? await repo.systemsById(t.tenantId, [t.systemId], tx) : [];
    if (!system || !(system.recipient || system.processor)) {
      throw new TaskTransitionRefused("Art. 19 grounds apply to recipients only (systems marked recipient or processor): the controller's own systems must act");
    }
  }

  async function change(t: TaskRow, action: TaskAction, input: { reason?: string; ground?: string; categories?: string[]; until?: string }, by: By, tx: Tx): Promise<TaskRow> {
    const rule = TASK_TRANSITIONS[action];
    // Answering acknowledged twice (a retried callback) changes nothing.
    if (action === 'acknowledge' && t.status === 'acknowledged') return t;
    if (!rule.from.includes(t.status)) throw new TaskTransitionRefused(`Cannot ${action} a task that is ${t.status}`);
    if (t.kind === 'public_disclosure' && action === 'retry') throw new TaskTransitionRefused('The Art. 17(2) task is recorded by the DPO, not sent: complete it');
    if (action === 'exempt') await exemptable(t, input, tx);
    const now = clock();
    const until = action === 'exempt' ? (input.until ?? null) : null;
    const timeZone = until ? await timeZoneOf(t.tenantId, tx) : null;
    if (until) {
      const problem = untilProblem(until, timeZone!);
      if (problem) throw new ValidationFailed([{ field: 'until', message: problem }]);
    }
    const request = input.reason || until ? (await requests.find(t.tenantId, t.requestId, tx))! : null;
    if (until && !t.locatorSealed) {
      // Art. 17(3)(b): when the period ends the system is asked to erase; once Rightful has forgotten the person
      // without keeping a locator for this task, it could not say whom.
      const subject = await subjectsRepo.find(t.tenantId, request!.subjectId, tx);
      if (!subject || subject.status === 'erased') {
        throw new TaskTransitionRefused('Cannot exempt until a date once the person is erased: Rightful could no longer tell the system whom to erase when the period ends. Exempt without until, and tell the system by hand when it ends');
      }
    }
    const key = input.reason ? await keyOf(t.tenantId, request!.subjectId, tx) : null;
    const patch: Partial<TaskRow> = { status: rule.to };
    if (action !== 'retry') patch.answeredAt = now;
    if (input.reason && key) patch.reasonSealed = seal(key, Buffer.from(input.reason), reasonAad(t.id));
    if (action === 'exempt') patch.exemption = { ground: input.ground!, categories: input.categories ?? [], until };
    if (action === 'retry') Object.assign(patch, { sends: t.sends + 1, answeredAt: null, callbackUsedAt: null });
    // The task closes (completed, or exempt for good): the locator's key goes, and the locator with it.
    if (t.locatorSealed && !keepsLocator(rule.to, until)) Object.assign(patch, NO_LOCATOR);
    const updated = await repo.update(t.tenantId, t.id, patch, tx);
    await record(updated, t.status, by, now, { ...(input.reason ? { reason_given: true } : {}), ...(action === 'exempt' ? { ground: input.ground, until } : {}) }, tx);
    if (action === 'retry') await outbox.insert([sendRow(updated, now)], tx);
    if (until) await outbox.insert([reopenRow(updated, until, timeZone!)], tx);
    if (!OPEN_TASK_STATUSES.includes(updated.status)) await closedAll(updated, tx);
    if (updated.status !== 'pending' && updated.status !== 'acknowledged') await answeredAll(updated, tx);
    return updated;
  }

  return {
    /**
     * A request's fan-out: one task for every system to tell, exempt where the DPO kept data under Art. 17(3),
     * and a send row for each task that is not; for erasure with `publicDisclosure`, the Art. 17(2) task. An
     * exemption until a date schedules the task's reopening for when the period is over. `systemIds`: only those of
     * the systems that are among them (a lift goes to the systems that were told to restrict). In the caller's
     * transaction. Returns how many tasks are open (0: nothing to wait for).
     */
    async fanOut(
      actor: Actor,
      request: TaskRequest,
      kind: Exclude<TaskKind, 'public_disclosure'>,
      opts: { exemptions?: Exemption[]; publicDisclosure?: boolean; systemIds?: string[] },
      tx: Tx,
    ): Promise<number> {
      const now = clock();
      const timeZone = (opts.exemptions ?? []).some((e) => e.until) ? await timeZoneOf(actor.tenantId, tx) : 'UTC';
      const untilProblems = (opts.exemptions ?? []).flatMap((e, i) => {
        const problem = e.until ? untilProblem(e.until, timeZone) : null;
        return problem ? [{ field: `exemptions.${i}.until`, message: problem }] : [];
      });
      if (untilProblems.length) throw new ValidationFailed(untilProblems);
      // Locked for key share: a system deleted meanwhile either waits for this fan-out or is left out of it.
      const only = opts.systemIds ? new Set(opts.systemIds) : null;
      const systems = (await deps.systems.listHandling(actor.tenantId, kind === 'restriction_lifted' ? 'restriction' : kind, tx))
        .map((h) => h.system)
        .filter((s) => !only || only.has(s.id));
      const known = new Map(systems.map((s) => [s.id, s]));
      const exemptions = new Map<string, Exemption>();
      (opts.exemptions ?? []).forEach((e, i) => {
        if (!known.has(e.system_id)) throw new InvalidExemption(`exemptions.${i}.system_id: no connected system of this tenant is told of this request under that id`);
        if (exemptions.has(e.system_id)) throw new InvalidExemption(`exemptions.${i}.system_id: the system is named twice`);
        exemptions.set(e.system_id, e);
      });
      const key = await keyOf(actor.tenantId, request.subjectId, tx);
      const rows = systems.map((s) => {
        const id = crypto.randomUUID();
        const e = exemptions.get(s.id);
        return {
          id,
          tenantId: actor.tenantId,
          requestId: request.id,
          systemId: s.id,
          kind,
          status: (e ? 'exempt' : 'pending') as TaskStatus,
          exemption: e ? ({ ground: e.ground, categories: e.categories, until: e.until ?? null } satisfies TaskExemption) : null,
          reasonSealed: e?.note && key ? seal(key, Buffer.from(e.note), reasonAad(id)) : null,
          answeredAt: e ? now : null,
        };
      });
      if (kind === 'erasure' && opts.publicDisclosure) {
        rows.push({ id: crypto.randomUUID(), tenantId: actor.tenantId, requestId: request.id, systemId: null as unknown as string, kind: 'public_disclosure' as TaskKind as 'erasure', status: 'pending', exemption: null, reasonSealed: null, answeredAt: null });
      }
      const created = await repo.insertMany(rows, tx);
      for (const t of created) await record(t, null, { kind: 'client', id: actor.clientId }, now, t.exemption ? { ground: t.exemption.ground } : {}, tx);
      await outbox.insert(created.filter((t) => t.status === 'pending' && t.kind !== 'public_disclosure').map((t) => sendRow(t, now)), tx);
      await outbox.insert(created.flatMap((t) => (t.exemption?.until ? [reopenRow(t, t.exemption.until, timeZone)] : [])), tx);
      return created.filter((t) => OPEN_TASK_STATUSES.includes(t.status)).length;
    },

    /**
     * Art. 17(3)(b): in the erasure's transaction, before the subject is erased, keeps for each erasure task of the
     * request that is exempt until a date what its system will need to find the person when the period ends (the
     * `subject` its event carries: external_ref and identifiers), sealed under a fresh key of the task's own wrapped
     * by the master key. The subject's key is destroyed right after; this one goes when the task closes.
     */
    async keepLocators(tenantId: string, requestId: string, subject: SubjectRow, tx: Tx): Promise<number> {
      const kept = (await repo.forRequest(tenantId, requestId, tx)).filter((t) => t.kind === 'erasure' && t.status === 'exempt' && t.exemption?.until);
      if (kept.length === 0) return 0;
      const person = await subjects.present(tenantId, subject, tx);
      const locator: Locator = { external_ref: person.external_ref, identifiers: person.identifiers ?? [] };
      for (const t of kept) {
        const { key, wrapped, keyId } = newWrappedKey(deps.keyring.current, locatorKeyAad(t.id));
        await repo.update(tenantId, t.id, { locatorSealed: seal(key, Buffer.from(JSON.stringify(locator)), locatorAad(t.id)), locatorKeyWrapped: wrapped, locatorKeyId: keyId }, tx);
      }
      return kept.length;
    },

    /**
     * The job of topic task.reopen: an erasure task exempt until a date whose period is over goes back to pending
     * (Art. 17(3)(b): what was kept for the period must be erased when it ends), under the request's and the task's
     * locks: sent again (a new callback link), answered_at cleared, `task.reopened` in the audit trail (with the
     * ground and the date) and task.updated announced, by `rightful`. The request stays as it is (completed: the
     * person was answered, partially granted with the ground); its `waiting_on` names the system until it answers.
     * Nothing happens when the task is no longer exempt (completed, reopened already) or its request was refused or
     * withdrawn; a period that is not over (the exemption changed to a later date, or the controller's time zone
     * moved) is looked at again when it is.
     */
    async reopen(taskId: string): Promise<'reopened' | 'not_due' | 'skipped'> {
      return inTransaction(db, async (tx) => {
        const found = await repo.byId(taskId, tx);
        const t = found && (await lockTask(found.tenantId, found.requestId, found.id, tx));
        const until = t?.exemption?.until;
        if (!t || t.kind !== 'erasure' || t.status !== 'exempt' || !until) return 'skipped';
        const r = await requests.find(t.tenantId, t.requestId, tx);
        if (!r || r.status === 'rejected' || r.status === 'withdrawn') return 'skipped';
        const now = clock();
        const timeZone = await timeZoneOf(t.tenantId, tx);
        if (exemptionEndsAt(until, timeZone) > now) {
          await outbox.insert([reopenRow(t, until, timeZone)], tx);
          return 'not_due';
        }
        const updated = await repo.update(t.tenantId, t.id, { status: 'pending', sends: t.sends + 1, answeredAt: null, callbackUsedAt: null }, tx);
        await record(updated, t.status, { kind: 'rightful' }, now, { ground: t.exemption!.ground, until }, tx, 'task.reopened');
        await outbox.insert([sendRow(updated, now)], tx);
        return 'reopened';
      });
    },

    /**
     * Art. 18(3), 19: a request that held a restriction ended without it being granted (refused, withdrawn, or an
     * objection decided): its open restriction tasks are cancelled (by `rightful`, in the audit trail and announced),
     * so a send still queued sends nothing. Returns the systems that were told to restrict (the task was sent to
     * them, or they answered it): those, and only those, need to hear that it is lifted. In the caller's transaction,
     * under the request's row lock.
     */
    async cancelRestriction(tenantId: string, requestId: string, tx: Tx): Promise<string[]> {
      const now = clock();
      const tasks = (await repo.forRequest(tenantId, requestId, tx)).filter((t) => t.kind === 'restriction');
      const told = [...new Set(tasks.filter((t) => t.systemId && (t.notifiedAt || t.answeredAt)).map((t) => t.systemId!))];
      for (const open_ of tasks.filter((t) => OPEN_TASK_STATUSES.includes(t.status))) {
        const t = (await repo.lock(tenantId, requestId, open_.id, tx))!;
        const updated = await repo.update(tenantId, t.id, { status: 'cancelled', ...(t.locatorSealed ? NO_LOCATOR : {}) }, tx);
        await record(updated, t.status, { kind: 'rightful' }, now, { told: told.includes(t.systemId ?? '') }, tx);
      }
      return told;
    },

    async list(tenantId: string, requestId: string, tx: Tx = db): Promise<{ items: Task[] }> {
      const r = await requests.find(tenantId, requestId, tx);
      if (!r) throw new TaskNotFound();
      const key = await keyOf(tenantId, r.subjectId, tx);
      return { items: (await repo.forRequest(tenantId, requestId, tx)).map((t) => present(t, key)) };
    },

    /** Art. 19: the recipients told of the request (processors included), when and how, and what each answered. */
    async recipients(tenantId: string, requestId: string) {
      const r = await requests.find(tenantId, requestId);
      if (!r) throw new TaskNotFound();
      const tasks = (await repo.forRequest(tenantId, requestId)).filter((t) => t.systemId && (t.recipient || t.processor));
      return {
        request_id: requestId,
        items: tasks.map((t) => ({
          system_id: t.systemId!,
          system_name: t.systemName ?? '',
          processor: t.processor,
          told_at: t.notifiedAt?.toISOString() ?? null,
          how: t.reach,
          status: t.status,
          answered_at: t.answeredAt?.toISOString() ?? null,
        })),
      };
    },

    /** Per system, the open tasks waiting on it (the DPO's view of who has not answered). */
    async openBySystem(tenantId: string) {
      return (await repo.openBySystem(tenantId)).map((r) => ({ system_id: r.systemId, system_name: r.systemName, open_tasks: r.open }));
    },

    /** The systems each request still waits on. */
    async waitingOn(tenantId: string, requestIds: string[], tx: Tx = db) {
      const rows = await repo.waitingOn(tenantId, requestIds, tx);
      const out = new Map<string, { system_id: string | null; system_name: string | null; status: 'pending' | 'acknowledged' | 'failed' }[]>();
      for (const r of rows) {
        const list = out.get(r.requestId) ?? out.set(r.requestId, []).get(r.requestId)!;
        list.push({ system_id: r.systemId, system_name: r.systemName, status: r.status as 'pending' | 'acknowledged' | 'failed' });
      }
      return out;
    },

    /** A client answers for a system, or the DPO decides (exempt, retry). */
    async transition(actor: Actor, requestId: string, taskId: string, action: TaskAction, input: { reason?: string; ground?: string; categories?: string[]; until?: string }): Promise<Task> {
      return inTransaction(db, async (tx) => {
        const t = await lockTask(actor.tenantId, requestId, taskId, tx);
        if (!t) throw new TaskNotFound();
        await change(t, action, input, { kind: 'client', id: actor.clientId }, tx);
        const r = (await requests.find(actor.tenantId, requestId, tx))!;
        const key = await keyOf(actor.tenantId, r.subjectId, tx);
        return present((await repo.forRequest(actor.tenantId, requestId, tx)).find((x) => x.id === taskId)!, key);
      });
    },

    /** A system answers through the link it was sent: acknowledged any number of times, then one final answer. */
    async callback(token: string, body: { status: 'acknowledged' | 'completed' | 'failed'; reason?: string }): Promise<{ task_id: string; status: TaskStatus }> {
      const taskId = tokens.taskIdOf(token);
      const tenantId = taskId && (await repo.tenantOf(taskId));
      if (!taskId || !tenantId) throw new CallbackNotFound();
      // The scope is named before the transaction takes its connection: a connection is set for its checkout's tenant.
      return inTenant(tenantId, () => inTransaction(db, async (tx) => {
        const found = await repo.byId(taskId, tx);
        if (!found || !tokens.verify(token, found.id, found.sends)) throw new CallbackNotFound();
        const t = (await lockTask(found.tenantId, found.requestId, found.id, tx))!;
        if (t.callbackUsedAt) throw new CallbackUsed();
        const action: TaskAction = body.status === 'acknowledged' ? 'acknowledge' : body.status === 'completed' ? 'complete' : 'fail';
        if (action === 'fail' && !body.reason) throw new ValidationFailed([{ field: 'reason', message: 'is required when the task failed: say why' }]);
        const updated = await change(t, action, { reason: body.reason }, { kind: 'system' }, tx);
        const final = action !== 'acknowledge' ? await repo.update(t.tenantId, t.id, { callbackUsedAt: clock() }, tx) : updated;
        return { task_id: final.id, status: final.status };
      }));
    },

    /**
     * What a system is sent, built when it is sent (the outbox row and the stored delivery hold ids only): how to
     * find the person (its external_ref and identifiers), for a rectification the corrections, and the single-use
     * callback link. Once the person is erased, what an erasure task reopened after its exemption kept (its locator).
     * Null when the task is no longer open or the person is gone: nothing is sent then.
     */
    async sendBody(tenantId: string, data: Record<string, unknown>): Promise<Record<string, unknown> | null> {
      const t = await repo.byId(String(data.task_id));
      if (!t || t.tenantId !== tenantId || !['pending', 'acknowledged'].includes(t.status)) return null;
      const r = await requests.find(tenantId, t.requestId);
      const row = r && (await subjectsRepo.find(tenantId, r.subjectId));
      if (!r || !row) return null;
      if (row.status === 'erased') {
        // Rightful has forgotten the person; an erasure task reopened when its exemption ended kept what it needs.
        const locator = locatorOf(t);
        return locator ? { ...data, callback_url: callbackUrl(t), subject: locator } : null;
      }
      const subject = await subjects.present(tenantId, row);
      const corrections = t.kind === 'rectification' ? { corrections: openTexts(r, subjects.dataKeyOf(row)).corrections ?? [] } : {};
      // An export task: where the system PUTs its part (the same single-use token as its callback link).
      const upload = t.kind === 'export' ? { upload_url: `${callbackUrl(t)}/data` } : {};
      return {
        ...data,
        callback_url: callbackUrl(t),
        subject: { external_ref: subject.external_ref, identifiers: subject.identifiers ?? [] },
        ...corrections,
        ...upload,
      };
    },

    /**
     * The job of topic task.send: sends the task to its system, addressed to it alone: a webhook endpoint gets the
     * task's event; a contact email gets a mail through `mail` (sent outside the transaction, then notified_at is
     * recorded; a failure throws and the row is retried). Without a mailer the task stays pending and the audit
     * trail says, once per send, that the system could not be reached.
     */
    async send(
      taskId: string,
      opts: {
        /** The id of the outbox row being run (the task's send), from which the event's id is derived. */
        sendRowId: string;
        addressed: (t: TaskRow, endpointId: string, type: EventType, data: Record<string, string | number | boolean | null>) => NewOutboxRow;
        mail: TaskMailer;
      },
    ): Promise<'sent' | 'mailed' | 'unreachable' | 'skipped'> {
      const step = await inTransaction(db, async (tx): Promise<'sent' | 'unreachable' | 'skipped' | TaskMail> => {
        const found = await repo.byId(taskId, tx);
        // Under the request's and the task's row locks: a transition, or another run of this row, waits.
        const t = found && (await lockTask(found.tenantId, found.requestId, found.id, tx));
        if (!t || !['pending', 'acknowledged'].includes(t.status) || !t.systemId || t.kind === 'public_disclosure') return 'skipped';
        const [system] = (await repo.systemsById(t.tenantId, [t.systemId], tx)) ?? [];
        const r = await requests.find(t.tenantId, t.requestId, tx);
        if (!system || !r) return 'skipped';
        if (system.webhookEndpointId) {
          const eventId = eventIdOf(opts.sendRowId);
          if (await outbox.findById(eventId, tx)) return 'skipped';
          const data = { task_id: t.id, request_id: t.requestId, system_id: t.systemId, due_date: r.dueDate };
          await outbox.insert([{ ...opts.addressed(t, system.webhookEndpointId, TASK_EVENT[t.kind], data), id: eventId }], tx);
          await repo.update(t.tenantId, t.id, { notifiedAt: clock() }, tx);
          return 'sent';
        }
        if (!system.contactEmail) return 'skipped';
        if (!opts.mail) {
          await unreachable(t, tx);
          return 'unreachable';
        }
        const subject = await subjectsRepo.find(t.tenantId, r.subjectId, tx);
        if (!subject) return 'skipped';
        // After the erasure only a task that kept a locator (an exemption that ended) can still say whom.
        const locator = subject.status === 'erased' ? locatorOf(t) : null;
        if (subject.status === 'erased' && !locator) return 'skipped';
        return {
          to: system.contactEmail,
          tenantId: t.tenantId,
          taskId: t.id,
          requestId: t.requestId,
          kind: t.kind,
          systemName: system.name,
          dueDate: r.dueDate,
          externalRef: locator ? locator.external_ref : subject.externalRef,
          callbackUrl: callbackUrl(t),
          sends: t.sends,
        };
      });
      if (typeof step === 'string') return step;
      await opts.mail!(step);
      await inTransaction(db, (tx) => repo.update(step.tenantId, step.taskId, { notifiedAt: clock() }, tx));
      return 'mailed';
    },
  };
}
export type TasksService = ReturnType<typeof createTasksService>;
