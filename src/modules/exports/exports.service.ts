// Access (Art. 15) and portability (Art. 20) exports: gathering every connected system's part through its export
// task, the uploads (streamed, checked, sealed chunk by chunk under the person's data key), the DPO's review before
// release (Art. 15(4)), the package handed out (each copy recorded, Art. 15(3)) and the deletion of the gathered
// data after the tenant's retention period or at once on erasure.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parser } from 'stream-json';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { bindTenant } from '../../db/tenant-scope.js';
import { open, seal } from '../../lib/crypto.js';
import { ServiceUnavailable, ValidationFailed, type FieldProblem } from '../../lib/errors.js';
import { createGate } from '../../lib/gate.js';
import { MAX_JSON_DEPTH } from '../../lib/json-body.js';
import { eventRow, type EventType } from '../outbox/outbox.events.js';
import type { OutboxRepo } from '../outbox/outbox.repo.js';
import type { PrivacyNoticeService } from '../privacy-notice/privacy-notice.service.js';
import { RequestNotFound } from '../rights-requests/rights-requests.errors.js';
import type { RequestRow, RightsRequestsRepo } from '../rights-requests/rights-requests.repo.js';
import { isOpen } from '../rights-requests/rights-requests.transitions.js';
import type { SubjectsRepo } from '../subjects/subjects.repo.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { SystemsRepo } from '../systems/systems.repo.js';
import { CallbackNotFound, CallbackUsed, TaskNotFound } from '../tasks/tasks.errors.js';
import { OPEN_TASK_STATUSES, type TasksRepo } from '../tasks/tasks.repo.js';
import type { TasksService } from '../tasks/tasks.service.js';
import type { CallbackTokens } from '../tasks/tasks.tokens.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import type { ExportCollector } from './exports.collect.js';
import type { PackageInput, SystemPartSource } from './exports.package.js';
import { ExportDataDeleted, ExportNotApproved, ExportNotFound, ExportRefused, PartTooLarge, UploadRefused } from './exports.errors.js';
import type { ExportsRepo, PackageRow } from './exports.repo.js';
import { RIGHTFUL_CATEGORIES, type ApproveExport, type ExportView } from './exports.schemas.js';
import type { ExportRedaction } from './exports.table.js';

type Actor = { tenantId: string; clientId: string };
type ExportKind = 'access' | 'portability';

export const EXPORT_READY = 'export.ready' as EventType;
export const EXPORT_EXPIRE_TOPIC = 'export.expire';
/** Parts are sealed in chunks of this many plaintext bytes, each on its own (a download decrypts one at a time). */
export const CHUNK_BYTES = 1024 * 1024;
const DAY_MS = 86_400_000;
const EXPORT_TYPES: readonly RequestRow['type'][] = ['access', 'portability'];
/** An export task the system has not answered yet. A failed one is answered: the DPO may approve without it (or
 * retry it); a system may still upload to it while the export is gathering. */
const WAITING: readonly string[] = ['pending', 'acknowledged'];

const chunkAad = (partId: string, seq: number) => `export-part:${partId}:${seq}`;
// The same binding as the request's other audit notes, so the audit trail reads it back.
const noteAad = (eventId: string) => `request-note:${eventId}`;

/** Where an upload comes from: the system, through its task's callback link; or a client with a service token. */
export type UploadTarget = { kind: 'callback'; token: string } | { kind: 'client'; actor: Actor; requestId: string; taskId: string };
export type UploadedPart = {
  task_id: string;
  request_id: string;
  system_id: string | null;
  task_status: 'completed';
  bytes: number;
  sha256: string;
  provided_categories: string[];
};

/**
 * Checks, token by token, that a part is one JSON object whose values (the categories) are arrays of objects or
 * objects, no deeper than the JSON depth limit. Returns the first problem, naming the field.
 */
function partChecker() {
  const stack: ('o' | 'a')[] = [];
  const keys = new Set<string>();
  let key = '';
  let index = -1;
  let done = false;
  const field = (...path: (string | number)[]) => ['(body)', ...path].join('.').replace(/^\(body\)\./, '');
  return {
    keys,
    get done() {
      return done;
    },
    push(tok: { name: string; value?: unknown }): FieldProblem | null {
      if (done) return { field: '(body)', message: 'must hold one JSON object only' };
      if (tok.name === 'keyValue') {
        if (stack.length === 1) {
          key = String(tok.value);
          keys.add(key);
        }
        return null;
      }
      const opens = tok.name === 'startObject' || tok.name === 'startArray';
      const closes = tok.name === 'endObject' || tok.name === 'endArray';
      if (closes) {
        stack.pop();
        if (stack.length === 0) done = true;
        return null;
      }
      if (!tok.name.endsWith('Value') && !opens) return null;
      if (stack.length === 0 && tok.name !== 'startObject') {
        return { field: '(body)', message: 'must be one JSON object whose values (the categories) are arrays of objects or objects' };
      }
      if (stack.length === 1) {
        if (!opens) return { field: field(key), message: 'must be an array of objects or an object' };
        index = -1;
      }
      if (stack.length === 2 && stack[1] === 'a') {
        index++;
        if (tok.name !== 'startObject') return { field: field(key, index), message: 'must be an object' };
      }
      if (opens) {
        stack.push(tok.name === 'startObject' ? 'o' : 'a');
        if (stack.length > MAX_JSON_DEPTH) return { field: field(key), message: `nesting deeper than ${MAX_JSON_DEPTH} levels is not accepted` };
      }
      return null;
    },
  };
}

/** provided_categories as given: comma-separated names, each 1-100 characters, at most 50, without repeats. */
function providedCategoriesOf(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const names = raw.split(',').map((s) => s.trim());
  const bad = names.find((n) => n.length === 0 || n.length > 100);
  if (bad !== undefined) throw new ValidationFailed([{ field: 'provided_categories', message: 'must be comma-separated category names of 1-100 characters each' }]);
  const unique = [...new Set(names)];
  if (unique.length > 50) throw new ValidationFailed([{ field: 'provided_categories', message: 'must name at most 50 categories' }]);
  return unique;
}

export function createExportsService(deps: {
  db: Db;
  repo: ExportsRepo;
  requests: RightsRequestsRepo;
  tasksRepo: TasksRepo;
  tasks: TasksService;
  /** The tasks service bound to an open transaction: an upload completes its task in the transaction that stores it. */
  tasksIn: (tx: Tx) => TasksService;
  tokens: CallbackTokens;
  subjectsRepo: SubjectsRepo;
  subjects: SubjectsService;
  systems: SystemsRepo;
  tenants: TenantsRepo;
  privacyNotice: PrivacyNoticeService;
  collector: ExportCollector;
  outbox: OutboxRepo;
  buildPackage: (input: PackageInput) => Readable;
  partMaxBytes: number;
  /** Packages built at once per process, and how many more may wait their turn (EXPORT_BUILDS_MAX). */
  builds?: { max: number; queue: number };
  clock?: () => Date;
}) {
  const builds = createGate(deps.builds?.max ?? 2, deps.builds?.queue ?? 32);
  const { db, repo, requests, tasksRepo, outbox } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function audit(r: Pick<RequestRow, 'id' | 'tenantId'>, actor: string, action: string, facts: Record<string, unknown>, at: Date, tx: Tx, note?: { text: string; key: Buffer }) {
    const id = crypto.randomUUID();
    await requests.appendNote(r, { id, action, actor, at, facts, noteSealed: note ? seal(note.key, Buffer.from(note.text), noteAad(id)) : null }, tx);
  }

  async function announceReady(r: RequestRow, at: Date, tx: Tx): Promise<void> {
    await outbox.insert([{ ...eventRow(r.tenantId, EXPORT_READY, { request_id: r.id, subject_id: r.subjectId, request_type: r.type as ExportKind }, at), refId: r.id }], tx);
    await audit(r, 'rightful', 'export.ready', { parts: (await repo.parts(r.tenantId, r.id, tx)).length }, at, tx);
  }

  /** The retention check: a job that looks again until the request is closed and the retention period is over. */
  function expireRow(tenantId: string, requestId: string, at: Date, id?: string) {
    return { ...(id ? { id } : {}), tenantId, topic: EXPORT_EXPIRE_TOPIC, payload: { request_id: requestId }, availableAt: at, refId: requestId };
  }

  async function view(tenantId: string, r: RequestRow, pkg: PackageRow, tx: Tx = db): Promise<ExportView> {
    const tasks = (await deps.tasks.list(tenantId, r.id, tx)).items.filter((t) => t.kind === 'export');
    const openTasks = tasks.filter((t) => (OPEN_TASK_STATUSES as string[]).includes(t.status));
    const waiting = tasks.filter((t) => WAITING.includes(t.status));
    const parts = await repo.parts(tenantId, r.id, tx);
    const status = pkg.dataDeletedAt ? 'deleted' : pkg.status === 'approved' ? 'approved' : waiting.length ? 'gathering' : 'ready';
    return {
      request_id: r.id,
      request_type: r.type as ExportKind,
      status,
      tasks: {
        total: tasks.length,
        open: waiting.length,
        completed: tasks.filter((t) => t.status === 'completed').length,
        failed: tasks.filter((t) => t.status === 'failed').length,
        waiting_on: openTasks.map((t) => ({ task_id: t.id, system_id: t.system_id, system_name: t.system_name, status: t.status as 'pending' | 'acknowledged' | 'failed' })),
      },
      parts: parts.map((p) => ({
        task_id: p.taskId,
        system_id: p.systemId,
        system_name: p.systemName,
        bytes: p.bytes,
        sha256: p.sha256,
        provided_categories: p.providedCategories,
        uploaded_at: p.uploadedAt.toISOString(),
      })),
      redactions: pkg.redactions,
      approved_at: pkg.approvedAt?.toISOString() ?? null,
      approved_by: pkg.approvedBy,
      copies: pkg.copies,
      data_deleted_at: pkg.dataDeletedAt?.toISOString() ?? null,
      created_at: pkg.createdAt.toISOString(),
    };
  }

  /**
   * Streams the body into sealed chunks of the part, checking as it goes: the size limit, valid UTF-8, one JSON
   * object of categories. Throws at the first problem (the caller's transaction then rolls everything back).
   */
  async function ingest(body: AsyncIterable<Buffer>, part: { id: string; tenantId: string }, key: Buffer, provided: string[], tx: Tx) {
    const hash = createHash('sha256');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const checker = partChecker();
    const tokens = parser.asStream({ streamValues: false }) as unknown as NodeJS.ReadWriteStream & { destroy(): void };
    let problem: FieldProblem | null = null;
    let syntax: Error | null = null;
    tokens.on('data', (tok: { name: string; value?: unknown }) => {
      problem ??= checker.push(tok);
    });
    tokens.on('error', (err: Error) => {
      syntax ??= err;
    });
    const refuse = (): never => {
      tokens.destroy();
      if (problem) throw new ValidationFailed([problem]);
      throw new ValidationFailed([{ field: '(body)', message: 'is not valid JSON' }]);
    };
    let bytes = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (all: boolean) => {
      while (pendingBytes >= CHUNK_BYTES || (all && pendingBytes > 0)) {
        const joined = Buffer.concat(pending);
        const take = joined.subarray(0, Math.min(CHUNK_BYTES, joined.length));
        const rest = joined.subarray(take.length);
        await repo.insertChunk({ partId: part.id, seq, tenantId: part.tenantId, sealed: seal(key, take, chunkAad(part.id, seq)) }, tx);
        seq++;
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
      }
    };
    for await (const raw of body) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      bytes += chunk.length;
      if (bytes > deps.partMaxBytes) {
        tokens.destroy();
        throw new PartTooLarge(deps.partMaxBytes);
      }
      try {
        decoder.decode(chunk, { stream: true });
      } catch {
        tokens.destroy();
        throw new ValidationFailed([{ field: '(body)', message: 'is not valid UTF-8' }]);
      }
      hash.update(chunk);
      let flowing = true;
      try {
        flowing = tokens.write(chunk);
      } catch (err) {
        // The tokenizer may throw at once on input it cannot parse.
        syntax ??= err as Error;
      }
      if (!flowing && !syntax) {
        await new Promise((resolve) => {
          tokens.once('drain', resolve);
          tokens.once('error', resolve);
        });
      }
      if (problem || syntax) refuse();
      pending.push(chunk);
      pendingBytes += chunk.length;
      await flush(false);
    }
    if (bytes === 0) throw new ValidationFailed([{ field: '(body)', message: 'is empty; send one JSON object (a system with nothing answers completed through its callback link instead)' }]);
    try {
      decoder.decode();
    } catch {
      throw new ValidationFailed([{ field: '(body)', message: 'is not valid UTF-8' }]);
    }
    try {
      tokens.end();
    } catch (err) {
      syntax ??= err as Error;
    }
    await finished(tokens).catch((err: Error) => {
      syntax ??= err;
    });
    if (problem || syntax || !checker.done) refuse();
    const unknown = provided.filter((c) => !checker.keys.has(c));
    if (unknown.length) throw new ValidationFailed([{ field: 'provided_categories', message: `names categories the part does not hold: ${unknown.join(', ')}` }]);
    await flush(true);
    return { bytes, chunks: seq, sha256: hash.digest('hex') };
  }

  /** Deletes the gathered data of these requests (their parts and chunks) and says so in their audit trails. */
  async function deleteData(tenantId: string, requestIds: string[], why: 'retention' | 'erasure', at: Date, tx: Tx): Promise<number> {
    const deleted = await repo.deleteData(tenantId, requestIds, at, tx);
    if (deleted) for (const id of requestIds) await audit({ id, tenantId }, 'rightful', 'export.data_deleted', { why }, at, tx);
    return deleted;
  }

  const service = {
    /**
     * Gathers an export: an open access or portability request whose identity is not awaited gets its export and
     * one task per system that handles export, each sent export.requested. With no such system, the export is ready
     * at once. The retention check is scheduled too.
     */
    async gather(actor: Actor, requestId: string): Promise<ExportView> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const r = await requests.lock(actor.tenantId, requestId, tx);
        if (!r) throw new RequestNotFound();
        if (!EXPORT_TYPES.includes(r.type)) throw new ExportRefused(`A ${r.type} request has no export: only access (Art. 15) and portability (Art. 20) requests do`);
        if (!isOpen(r.status)) throw new ExportRefused(`The request is ${r.status}: an export is gathered for an open request only`);
        if (r.status === 'awaiting_identity') throw new ExportRefused("The person's identity is not verified yet: record identity-verified first (Art. 12(6))");
        if (await repo.find(actor.tenantId, r.id, tx)) throw new ExportRefused('The export of this request was gathered already');
        const tenant = (await deps.tenants.findById(actor.tenantId, tx))!;
        const pkg = await repo.insertPackage({ requestId: r.id, tenantId: actor.tenantId, createdAt: now, updatedAt: now }, tx);
        const open_ = await deps.tasks.fanOut(actor, { id: r.id, tenantId: r.tenantId, subjectId: r.subjectId, dueDate: r.dueDate }, 'export', {}, tx);
        await audit(r, actor.clientId, 'export.gathering', { systems: open_ }, now, tx);
        if (open_ === 0) await announceReady(r, now, tx);
        await outbox.insert([expireRow(actor.tenantId, r.id, new Date(now.getTime() + tenant.exportRetentionDays * DAY_MS))], tx);
        return view(actor.tenantId, r, pkg, tx);
      });
    },

    async get(tenantId: string, requestId: string): Promise<ExportView> {
      const r = await requests.find(tenantId, requestId);
      if (!r) throw new RequestNotFound();
      const pkg = await repo.find(tenantId, requestId);
      if (!pkg) throw new ExportNotFound();
      return view(tenantId, r, pkg);
    },

    /**
     * A system's part: streamed, checked and sealed in the transaction that completes its task (and, through the
     * callback link, uses the link). A refused upload leaves nothing written and the task open.
     */
    async upload(target: UploadTarget, body: AsyncIterable<Buffer>, input: { providedCategories?: string; declaredBytes?: number }): Promise<UploadedPart> {
      const provided = providedCategoriesOf(input.providedCategories);
      if (input.declaredBytes !== undefined && input.declaredBytes > deps.partMaxBytes) throw new PartTooLarge(deps.partMaxBytes);
      const now = clock();
      // A callback link names a task of some tenant: the scope is named before the transaction takes its connection.
      const callbackTaskId = target.kind === 'callback' ? deps.tokens.taskIdOf(target.token) : null;
      if (target.kind === 'callback') {
        const owner = callbackTaskId && (await tasksRepo.tenantOf(callbackTaskId));
        if (!owner) throw new CallbackNotFound();
        bindTenant(owner);
      }
      return inTransaction(db, async (tx) => {
        let tenantId: string;
        let requestId: string;
        let taskId: string;
        if (target.kind === 'callback') {
          const found = callbackTaskId ? await tasksRepo.byId(callbackTaskId, tx) : undefined;
          if (!found || !deps.tokens.verify(target.token, found.id, found.sends)) throw new CallbackNotFound();
          ({ tenantId, requestId, id: taskId } = found);
        } else {
          ({ requestId, taskId } = target);
          tenantId = target.actor.tenantId;
        }
        // The request's row lock, then the task's, as every change to a request's tasks takes them.
        const r = await requests.lock(tenantId, requestId, tx);
        const t = r && (await tasksRepo.lock(tenantId, requestId, taskId, tx));
        if (!r || !t) throw new TaskNotFound();
        if (target.kind === 'callback' && t.callbackUsedAt) throw new CallbackUsed();
        if (t.kind !== 'export') throw new UploadRefused(`The task is a ${t.kind} task: data is uploaded to export tasks only`);
        if (!OPEN_TASK_STATUSES.includes(t.status)) throw new UploadRefused(`The task is ${t.status}: a part is uploaded once, to an open export task`);
        const pkg = await repo.find(tenantId, requestId, tx);
        if (!pkg || pkg.status !== 'gathering' || pkg.dataDeletedAt) throw new UploadRefused('The export is no longer gathering: it was approved, or its data was deleted');
        if (await repo.partOfTask(tenantId, t.id, tx)) throw new UploadRefused('A part was uploaded to this task already');
        const subject = await deps.subjectsRepo.find(tenantId, r.subjectId, tx);
        const key = subject && subject.status !== 'erased' ? deps.subjects.dataKeyOf(subject) : null;
        if (!key) throw new UploadRefused('The person was erased: nothing is kept about them');

        const partId = crypto.randomUUID();
        await repo.insertPart({ id: partId, tenantId, requestId, taskId: t.id, systemId: t.systemId, bytes: 0, chunks: 0, sha256: '', providedCategories: provided, uploadedAt: now }, tx);
        const stored = await ingest(body, { id: partId, tenantId }, key, provided, tx);
        await repo.finishPart(tenantId, partId, stored, tx);
        await audit(r, target.kind === 'callback' ? 'system callback' : target.actor.clientId, 'export.part_uploaded', { task_id: t.id, system_id: t.systemId, bytes: stored.bytes, sha256: stored.sha256, provided_categories: provided }, now, tx);
        // The upload is the task's final answer: completed in this same transaction (the last one makes it ready).
        const tasks = deps.tasksIn(tx);
        if (target.kind === 'callback') await tasks.callback(target.token, { status: 'completed' });
        else await tasks.transition(target.actor, requestId, t.id, 'complete', {});
        return { task_id: t.id, request_id: requestId, system_id: t.systemId, task_status: 'completed', bytes: stored.bytes, sha256: stored.sha256, provided_categories: provided };
      });
    },

    /** Called in the transaction of the answer after which no task of the request waits for its system (the last one
     * completed, or failed: the DPO may record that a system never answered): an export still gathering is ready. */
    async onAnswered(tenantId: string, requestId: string, tx: Tx): Promise<void> {
      const pkg = await repo.find(tenantId, requestId, tx);
      if (!pkg || pkg.status !== 'gathering' || pkg.dataDeletedAt) return;
      // Once: a failed task retried and then completed makes it no readier.
      if (await requests.hasEvent(tenantId, requestId, 'export.ready', {}, tx)) return;
      const r = await requests.find(tenantId, requestId, tx);
      if (r) await announceReady(r, clock(), tx);
    },

    /**
     * The DPO's review (Art. 15(4)): releases the export, withholding what would adversely affect others' rights and
     * freedoms (a system's whole part, or categories of it). Refused while an export task is open.
     */
    async approve(actor: Actor, requestId: string, input: ApproveExport): Promise<ExportView> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const r = await requests.lock(actor.tenantId, requestId, tx);
        if (!r) throw new RequestNotFound();
        const pkg = await repo.find(actor.tenantId, requestId, tx);
        if (!pkg) throw new ExportNotFound();
        if (pkg.dataDeletedAt) throw new ExportDataDeleted();
        if (pkg.status === 'approved') throw new ExportRefused('The export was approved already');
        const tasks = (await deps.tasks.list(actor.tenantId, requestId, tx)).items.filter((t) => t.kind === 'export');
        const open_ = tasks.filter((t) => WAITING.includes(t.status));
        if (open_.length) {
          throw new ExportRefused(
            `${open_.length} export task(s) still waiting for their system (${open_.map((t) => t.system_name ?? t.id).join(', ')}): wait for them, or record that a system did not answer (fail the task), then approve`,
          );
        }
        const systemsOfTasks = new Set(tasks.map((t) => t.system_id));
        const problems: FieldProblem[] = [];
        const seen = new Set<string | null>();
        const redactions = input.redactions ?? [];
        redactions.forEach((x, i) => {
          if (x.system_id !== null && !systemsOfTasks.has(x.system_id)) problems.push({ field: `redactions.${i}.system_id`, message: 'no export task of this request was sent to that system' });
          if (seen.has(x.system_id)) problems.push({ field: `redactions.${i}.system_id`, message: 'the part is named twice' });
          seen.add(x.system_id);
          if (x.system_id === null) {
            (x.categories ?? []).forEach((c, j) => {
              if (!(RIGHTFUL_CATEGORIES as readonly string[]).includes(c)) problems.push({ field: `redactions.${i}.categories.${j}`, message: `is not a category of Rightful's own part (${RIGHTFUL_CATEGORIES.join(', ')})` });
            });
          }
        });
        if (problems.length) throw new ValidationFailed(problems);
        const stored: ExportRedaction[] = redactions.map((x) => ({ system_id: x.system_id, categories: x.categories ? [...new Set(x.categories)] : null, reason_given: x.reason !== undefined }));
        const reasons = redactions.filter((x) => x.reason).map((x) => `${x.system_id ?? 'rightful'}: ${x.reason}`);
        const subject = await deps.subjectsRepo.find(actor.tenantId, r.subjectId, tx);
        const key = subject ? deps.subjects.dataKeyOf(subject) : null;
        const updated = await repo.update(actor.tenantId, requestId, { status: 'approved', redactions: stored, approvedAt: now, approvedBy: actor.clientId }, tx);
        await audit(r, actor.clientId, 'export.approved', { redactions: stored }, now, tx, reasons.length && key ? { text: reasons.join('\n'), key } : undefined);
        return view(actor.tenantId, r, updated, tx);
      });
    },

    /**
     * The package of an approved export, as a streamed ZIP: the systems' parts read chunk by chunk and decrypted as
     * they are read, Rightful's own part, the privacy notice in the request's language and the recipients. Each
     * copy is counted and recorded in the audit trail (`by`: who asked for it; `via`: how it is handed out).
     */
    async openPackageNow(tenantId: string, requestId: string, opts: { by: string; via: 'service' | 'link' | 'transmit' | 'portal' }): Promise<{ stream: Readable; filename: string; kind: ExportKind }> {
      const r = await requests.find(tenantId, requestId);
      if (!r) throw new RequestNotFound();
      const pkg = await repo.find(tenantId, requestId);
      if (!pkg) throw new ExportNotFound();
      if (pkg.dataDeletedAt) throw new ExportDataDeleted();
      if (pkg.status !== 'approved') throw new ExportNotApproved("The export is not approved yet: the DPO reviews it before release (Art. 15(4))");
      const subject = await deps.subjectsRepo.find(tenantId, r.subjectId);
      const key = subject && subject.status !== 'erased' ? deps.subjects.dataKeyOf(subject) : null;
      if (!subject || !key) throw new ExportDataDeleted();
      const kind = r.type as ExportKind;
      const redactionOf = new Map(pkg.redactions.map((x) => [x.system_id, x]));

      const own = await deps.collector.collect(tenantId, subject, kind);
      const ownRedaction = redactionOf.get(null);
      const rightful = ownRedaction ? (ownRedaction.categories ? Object.fromEntries(Object.entries(own).filter(([k]) => !ownRedaction.categories!.includes(k))) : {}) : own;

      const parts = await repo.parts(tenantId, requestId);
      const allSystems = await deps.systems.list(tenantId, { limit: 1000 });
      const byId = new Map(allSystems.map((s) => [s.id, s]));
      const systems: SystemPartSource[] = [];
      for (const p of parts) {
        const s = p.systemId ? (byId.get(p.systemId) ?? (await deps.systems.find(tenantId, p.systemId))) : undefined;
        const redaction = redactionOf.get(p.systemId);
        systems.push({
          system_id: p.systemId,
          system_name: s?.name ?? p.systemName ?? 'unknown system',
          recipient: s?.recipient ?? false,
          processor: s?.processor ?? false,
          provided_categories: p.providedCategories,
          redacted_categories: redaction ? (redaction.categories ?? ['*']) : [],
          read: async function* () {
            for (let seq = 0; seq < p.chunks; seq++) {
              const sealed = await repo.chunk(tenantId, p.id, seq);
              if (!sealed) throw new ExportDataDeleted();
              yield open(key, sealed, chunkAad(p.id, seq));
            }
          },
        });
      }
      const recipients = allSystems
        .filter((s) => s.recipient || s.processor)
        .map((s) => ({ name: s.name, kind: s.kind, processor: s.processor, data_categories: s.dataCategories }));
      const notice = await deps.privacyNotice.render(tenantId, r.locale ?? undefined).catch(() => null);
      const now = clock();
      const input: PackageInput = {
        kind,
        locale: r.locale ?? notice?.locale ?? 'en',
        generatedAt: now,
        requestId,
        subjectId: r.subjectId,
        rightful,
        systems,
        notice,
        recipients,
        redactions: pkg.redactions.map((x) => ({ system_id: x.system_id, categories: x.categories })),
      };
      await inTransaction(db, async (tx) => {
        // Counted under the request's row lock, so each copy has its own number in the audit trail.
        await requests.lock(tenantId, requestId, tx);
        const copy = await repo.countCopy(tenantId, requestId, tx);
        await audit(r, opts.by, 'export.copied', { via: opts.via, copy }, now, tx);
      });
      const stamp = now.toISOString().slice(0, 10);
      return { stream: deps.buildPackage(input), filename: `${kind}-export-${requestId}-${stamp}.zip`, kind };
    },

    /** Erasure (Art. 17): the person's gathered export data goes at once, in the erasure's transaction. */
    async deleteForSubject(tenantId: string, subjectId: string, tx: Tx): Promise<void> {
      const ids = await repo.requestsOfSubject(tenantId, subjectId, tx);
      await deleteData(tenantId, ids, 'erasure', clock(), tx);
    },

    /**
     * The retention check (topic export.expire): once the request is closed and the tenant's export_retention_days
     * have passed since, the gathered data is deleted; until then the check is scheduled again (`next`: the id its
     * next row takes, derived from this row's, so a check run twice schedules one follow-up).
     */
    async expire(tenantId: string, requestId: string, next: string): Promise<'deleted' | 'rescheduled' | 'nothing'> {
      const now = clock();
      return inTransaction(db, async (tx) => {
        const r = await requests.lock(tenantId, requestId, tx);
        const pkg = r && (await repo.find(tenantId, requestId, tx));
        if (!r || !pkg || pkg.dataDeletedAt) return 'nothing';
        const tenant = (await deps.tenants.findById(tenantId, tx))!;
        const period = tenant.exportRetentionDays * DAY_MS;
        const due = r.closedAt && !isOpen(r.status) ? new Date(r.closedAt.getTime() + period) : null;
        if (due && due <= now) {
          await deleteData(tenantId, [requestId], 'retention', now, tx);
          return 'deleted';
        }
        if (!(await outbox.findById(next, tx))) await outbox.insert([expireRow(tenantId, requestId, due ?? new Date(now.getTime() + period), next)], tx);
        return 'rescheduled';
      });
    },
  };

  // Building a package is CPU- and memory-heavy (every part read, decrypted, tokenized and deflated; Rightful's own
  // part assembled): a bounded number at once per process. Beyond it a download waits its turn; beyond the queue it
  // is a 503 with Retry-After. A place is held from Rightful's part being gathered until the package stream closes.
  const { openPackageNow, ...rest } = service;
  return {
    ...rest,
    /** The package of an approved export as a streamed ZIP: see openPackageNow. Waits for a place among the builds. */
    async openPackage(tenantId: string, requestId: string, opts: { by: string; via: 'service' | 'link' | 'transmit' | 'portal' }): Promise<{ stream: Readable; filename: string; kind: ExportKind }> {
      const release = await builds.enter();
      if (!release) throw new ServiceUnavailable('Too many export packages are being built at once; retry after Retry-After seconds');
      try {
        const opened = await openPackageNow(tenantId, requestId, opts);
        opened.stream.once('close', release);
        return opened;
      } catch (err) {
        release();
        throw err;
      }
    },
  };
}
export type ExportsService = ReturnType<typeof createExportsService>;
