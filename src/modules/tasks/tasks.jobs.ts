// The worker's part of system tasks: topic task.send sends a task to its system, addressed to it alone. A system
// with a webhook endpoint gets the task's event, whose data (how to find the person, the callback link) is built at
// send time and never stored; a system reached by `contact_email` gets an email when SMTP is configured. Topic
// task.reopen reopens an erasure task exempt until a date when the period is over (Art. 17(3)(b)), which sends it.
//
// What the email holds, and why: ids, what is asked, the due date, the person's CRM reference (`external_ref`, a
// pseudonymous key that means nothing outside the controller's systems) and the callback link. Never the person's
// identifiers (email, phone) or a rectification's corrections: mail is stored and forwarded in places the
// controller does not control, and a misaddressed or intercepted mail must not say who the person is. The contact
// finds the person by the CRM reference, or asks the controller's DPO (the mail's Reply-To) for the rest.
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { createMailer } from '../../lib/mail.js';
import type { Dispatcher } from '../outbox/outbox.dispatcher.js';
import { addressedEventRow, type EventBodies, type EventType } from '../outbox/outbox.events.js';
import { createTenantsRepo } from '../tenants/tenants.repo.js';
import type { TaskMail, TaskMailer, TasksService } from './tasks.service.js';
import { TASK_EVENT, TASK_REOPEN_TOPIC, TASK_SEND_TOPIC } from './tasks.service.js';

/** What each kind of task asks, in the mail's words. */
const ASKED: Record<TaskMail['kind'], { title: string; text: string }> = {
  erasure: { title: 'Erasure requested', text: 'to erase the personal data it holds about one person (Art. 17 GDPR)' },
  rectification: { title: 'Rectification requested', text: 'to rectify (correct) the personal data it holds about one person (Art. 16 GDPR)' },
  restriction: { title: 'Restriction requested', text: "to restrict the processing of one person's data to storage (Art. 18 GDPR)" },
  restriction_lifted: { title: 'Restriction lifted', text: "to lift the restriction of processing of one person's data: it may process them again (Art. 18(3) GDPR)" },
  export: { title: 'Data requested', text: 'for the personal data it holds about one person (Art. 15, 20 GDPR)' },
};

/** The email a system without an API is sent for its task: no personal data but the CRM reference. */
export function composeTaskMail(mail: TaskMail, dpoEmail: string | null): { subject: string; text: string } {
  const asked = ASKED[mail.kind];
  const ask = dpoEmail ? `the controller's data protection officer (${dpoEmail}, or reply to this email)` : "the controller's data protection officer";
  const who = mail.externalRef
    ? `The person's reference in the controller's CRM: ${mail.externalRef}`
    : 'No CRM reference is recorded for this person.';
  const needs = mail.kind === 'rectification' ? "the person's identifiers and the corrections" : "the person's identifiers";
  return {
    subject: `${asked.title}: rights request ${mail.requestId}`,
    text: [
      `${mail.systemName} is asked ${asked.text}.`,
      '',
      `Rights request: ${mail.requestId}`,
      `Task: ${mail.taskId}`,
      `Due: ${mail.dueDate ? `${mail.dueDate} (the controller's legal deadline; please act well before it)` : 'no date yet (the deadline is paused)'}`,
      who,
      '',
      `For data protection, ${needs} are not sent by email: ask ${ask} for them, quoting the request.`,
      '',
      'Answer through this link, with an HTTP POST of a JSON body: {"status": "acknowledged"} when you have it in hand,',
      'then {"status": "completed"} when it is done, or {"status": "failed", "reason": "why"}. Or tell the DPO, who records',
      'your answer.',
      mail.callbackUrl,
      '',
      'The link answers for this task only: keep this email confidential.',
    ].join('\n'),
  };
}

/** Sends task emails through the configured SMTP transport; null without one. */
function createTaskMailer(smtp: { url: string; from: string } | null, db: Db): { mail: TaskMailer; close(): void } {
  const mailer = createMailer(smtp);
  if (!mailer) return { mail: null, close: () => {} };
  const tenants = createTenantsRepo(db);
  return {
    async mail(m) {
      const tenant = await tenants.findById(m.tenantId);
      const { subject, text } = composeTaskMail(m, tenant?.dpoEmail ?? null);
      await mailer.send({
        to: m.to,
        ...(tenant?.dpoEmail ? { replyTo: tenant.dpoEmail } : {}),
        subject: `[Rightful] ${subject}`,
        text,
        // One message id per send of the task: a mail sent again after a crash is deduplicated by mail clients.
        messageId: `<task-${m.taskId}-${m.sends}@rightful>`,
        headers: { 'X-Rightful-Task': m.taskId },
      });
    },
    close: () => mailer.close(),
  };
}

/** Registers topics task.send and task.reopen, and the send-time bodies of the events tasks are sent as. */
export function registerTasksJobs(
  dispatcher: Pick<Dispatcher, 'register' | 'onClose'>,
  deps: { tasks: TasksService; bodies: EventBodies; config: Pick<Config, 'smtp'>; db: Db },
): void {
  for (const [type, build] of taskEventBodies(deps.tasks)) deps.bodies.set(type, build);
  const mailer = createTaskMailer(deps.config.smtp, deps.db);
  dispatcher.register(TASK_SEND_TOPIC, {
    payload: z.object({ task_id: z.uuid() }),
    handle: async (row, payload) => {
      await deps.tasks.send(payload.task_id, {
        sendRowId: row.id,
        addressed: (t, endpointId, type, data) => ({ ...addressedEventRow(t.tenantId, type as never, data as never, endpointId), refId: t.requestId }),
        mail: mailer.mail,
      });
    },
  });
  dispatcher.register(TASK_REOPEN_TOPIC, {
    payload: z.object({ task_id: z.uuid() }),
    handle: async (_row, payload) => {
      await deps.tasks.reopen(payload.task_id);
    },
  });
  dispatcher.onClose(() => mailer.close());
}

/** The send-time bodies of the events a task is sent as. */
export function taskEventBodies(tasks: TasksService): EventBodies {
  return new Map(Object.values(TASK_EVENT).map((type) => [type as EventType, (tenantId: string, data: Record<string, unknown>) => tasks.sendBody(tenantId, data)]));
}
