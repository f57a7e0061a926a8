// Worker jobs of rights requests: DPO alerts by email. When SMTP_URL is set and the tenant has a dpo_email, new
// requests and deadline reminders are mailed as well as sent to webhooks: each such event adds an email row to its
// fan-out, and topic email.dpo sends it. The mail holds ids, types, dates and the names of the connected systems
// that have not answered, never personal data. Reminders sent to webhooks name those systems too (`waiting_on`,
// read when the reminder is sent, not when it was scheduled).
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { inTransaction, type Db } from '../../db/client.js';
import { createMailer } from '../../lib/mail.js';
import type { Dispatcher } from '../outbox/outbox.dispatcher.js';
import type { EventBodies, EventPayload, EventType } from '../outbox/outbox.events.js';
import type { NewOutboxRow, OutboxRepo, OutboxRow } from '../outbox/outbox.repo.js';
import { createTasksRepo, type TasksRepo } from '../tasks/tasks.repo.js';
import { createTenantsRepo, type TenantsRepo } from '../tenants/tenants.repo.js';

export const EMAIL_TOPIC = 'email.dpo';
/** An email row: the event it tells the DPO of. */
export const DpoEmailPayloadSchema = z.object({ event_id: z.uuid() });
const ALERTED = new Set(['request.created', 'request.deadline_approaching', 'request.overdue']);
const REMINDERS: EventType[] = ['request.deadline_approaching', 'request.overdue'];

/** A connected system whose task for a request is still open. */
export type Waiting = { system_id: string | null; system_name: string | null; status: 'pending' | 'acknowledged' | 'failed' };

/** The open tasks of one request, by system: who has not answered. */
async function waitingOn(tasks: TasksRepo, tenantId: string, requestId: string): Promise<Waiting[]> {
  return (await tasks.waitingOn(tenantId, [requestId])).map((w) => ({
    system_id: w.systemId,
    system_name: w.systemName,
    status: w.status as Waiting['status'],
  }));
}

export function composeDpoAlert(event: EventPayload, waiting: Waiting[] = []): { subject: string; text: string } {
  const d = event.data;
  const what = `${String(d.request_type ?? 'rights')} request ${String(d.request_id)}`;
  if (event.type === 'request.created') {
    return { subject: `New ${what}`, text: `A new ${what} was received. It is due on ${String(d.due_date)}.` };
  }
  // Systems are named by the name the tenant gave them (not personal data); the Art. 17(2) task has none.
  const systems = waiting.length
    ? `\n\nStill waiting on:\n${waiting.map((w) => `- ${w.system_name ?? 'informing other controllers (Art. 17(2))'}: ${w.status}${w.system_id ? ` (system ${w.system_id})` : ''}`).join('\n')}`
    : '';
  if (event.type === 'request.overdue') {
    return { subject: `Overdue: ${what}`, text: `The ${what} was due on ${String(d.due_date)} and is still open.${systems}` };
  }
  return {
    subject: `Due in ${String(d.days_left)} days: ${what}`,
    text: `The ${what} is due on ${String(d.due_date)} (${String(d.days_left)} days left).${systems}`,
  };
}

export function createDpoAlerts(deps: {
  db: Db;
  outbox: OutboxRepo;
  tenants: TenantsRepo;
  smtp: { url: string; from: string } | null;
  retryDelaysMs: number[];
  log: Logger;
}) {
  const { db, outbox, tenants, log } = deps;
  const mailer = createMailer(deps.smtp);
  const tasks = createTasksRepo(db);

  return {
    /** The email rows an event needs, to be written in the fan-out's transaction. */
    async rowsFor(event: OutboxRow): Promise<NewOutboxRow[]> {
      const type = String(event.payload.type);
      if (!mailer || !ALERTED.has(type)) return [];
      const tenant = await tenants.findById(event.tenantId);
      if (!tenant?.dpoEmail) return [];
      return [{ tenantId: event.tenantId, topic: EMAIL_TOPIC, payload: { event_id: event.id }, refId: event.refId ?? undefined, availableAt: event.availableAt }];
    },

    /** Sends one alert (the row is then done); a failure is retried on the webhook schedule, then the row is dead. */
    async send(row: OutboxRow, eventId: string): Promise<void> {
      const event = await outbox.findById(eventId);
      const tenant = await tenants.findById(row.tenantId);
      if (!mailer || !event || !tenant?.dpoEmail) {
        await outbox.finish(row.id, 'cancelled', 'no SMTP transport or no DPO address', db);
        return;
      }
      const payload = event.payload as unknown as EventPayload;
      const waiting = REMINDERS.includes(payload.type) ? await waitingOn(tasks, row.tenantId, String(payload.data.request_id)) : [];
      const { subject, text } = composeDpoAlert(payload, waiting);
      try {
        await mailer.send({
          to: tenant.dpoEmail,
          subject: `[Rightful] ${subject}`,
          text,
          // Mail clients deduplicate on Message-ID if a crash makes the worker send it twice.
          messageId: `<${eventId}@rightful>`,
          headers: { 'X-Rightful-Event': String(event.payload.type) },
        });
      } catch (err) {
        const delay = deps.retryDelaysMs[row.attempts - 1];
        const reason = (err as Error).message;
        log.warn({ outbox_id: row.id, reason }, 'DPO alert not sent');
        await inTransaction(db, async (tx) => {
          if (delay === undefined) await outbox.finish(row.id, 'dead', reason, tx);
          else await outbox.retryAt(row.id, new Date(Date.now() + delay), reason, tx);
        });
      }
    },

    close(): void {
      mailer?.close();
    },
  };
}
export type DpoAlerts = ReturnType<typeof createDpoAlerts>;

/** The send-time body of the reminders: the stored data with the systems that have not answered at that moment. */
export function reminderBodies(db: Db): EventBodies {
  const tasks = createTasksRepo(db);
  const build = async (tenantId: string, data: Record<string, unknown>) => ({ ...data, waiting_on: await waitingOn(tasks, tenantId, String(data.request_id)) });
  return new Map(REMINDERS.map((type) => [type, build]));
}

/** DPO emails: an email row added to the fan-out of each alerted event, and topic email.dpo that sends it; and the
 * reminders' send-time bodies. */
export function registerRightsRequestsJobs(
  dispatcher: Dispatcher,
  deps: { config: Pick<Config, 'smtp' | 'webhooks'>; db: Db; outbox: OutboxRepo; log: Logger; bodies: EventBodies },
): DpoAlerts {
  for (const [type, build] of reminderBodies(deps.db)) deps.bodies.set(type, build);
  const alerts = createDpoAlerts({
    db: deps.db,
    outbox: deps.outbox,
    tenants: createTenantsRepo(deps.db),
    smtp: deps.config.smtp,
    retryDelaysMs: deps.config.webhooks.retryDelaysMs,
    log: deps.log,
  });
  dispatcher.onEvent((row) => alerts.rowsFor(row));
  dispatcher.register(EMAIL_TOPIC, { payload: DpoEmailPayloadSchema, handle: (row, payload) => alerts.send(row, payload.event_id) });
  dispatcher.onClose(() => alerts.close());
  return alerts;
}
