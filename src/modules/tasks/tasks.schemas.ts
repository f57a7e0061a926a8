import { z } from 'zod';
import { DateInput } from '../../lib/instants.js';
import { ERASURE_EXEMPTION_GROUNDS } from '../rights-requests/rights-requests.catalogue.js';
import { ART19_GROUNDS, TASK_KINDS, TASK_STATUSES } from './tasks.table.js';

const Reason = z.string().trim().min(1).max(2000).meta({ pattern: '\\S' });

export const TaskSchema = z
  .object({
    id: z.uuid(),
    request_id: z.uuid(),
    system_id: z.uuid().nullable().describe('null for the Art. 17(2) task of informing other controllers'),
    system_name: z.string().nullable(),
    recipient: z.boolean().describe('The system is a recipient the data was disclosed to (Art. 19), processors included'),
    reach: z.enum(['webhook', 'email']).nullable().describe('How the system is told: an addressed webhook, or an email to its contact'),
    kind: z.enum(TASK_KINDS),
    status: z
      .enum(TASK_STATUSES)
      .describe(
        'pending (not sent yet, or not answered), acknowledged, completed, failed (may be retried), exempt (Art. 17(3)), or cancelled (by Rightful: its request ended without what it asked being due any more, e.g. a restriction refused or withdrawn)',
      ),
    exemption: z
      .object({ ground: z.string(), categories: z.array(z.string()), until: z.iso.date().nullable() })
      .nullable()
      .describe(
        "Art. 17(3): the ground, the data categories kept and until when. When `until` is over (the next midnight in the controller's time zone) Rightful reopens the task: it goes back to pending, is sent again and the system is asked to erase (Art. 17(3)(b)); the exemption then stays as the record of what was kept until when",
      ),
    reason: z.string().nullable().describe('Why it failed or was exempted, decrypted (null once the person is erased)'),
    sends: z.number().int().describe('How many times the task was sent to its system (a retry sends again)'),
    notified_at: z.iso.datetime().nullable().describe('When the system was last sent the task'),
    answered_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'SystemTask', description: "One connected system's part of one rights request" });
export type Task = z.infer<typeof TaskSchema>;

export const TaskListSchema = z.object({ items: z.array(TaskSchema) }).meta({ id: 'SystemTaskList' });

export const RecipientsSchema = z
  .object({
    request_id: z.uuid(),
    items: z.array(
      z.object({
        system_id: z.uuid(),
        system_name: z.string(),
        processor: z.boolean(),
        told_at: z.iso.datetime().nullable().describe('When it was sent the task (null: not yet, or exempt)'),
        how: z.enum(['webhook', 'email']).nullable(),
        status: z.enum(TASK_STATUSES).describe('What it answered'),
        answered_at: z.iso.datetime().nullable(),
      }),
    ),
  })
  .meta({ id: 'RequestRecipients', description: 'Art. 19: every recipient told of the request, when and how, and what it answered' });

export const TASK_ACTIONS = ['acknowledge', 'complete', 'fail', 'exempt', 'retry'] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];

export const TaskActionBodies = {
  acknowledge: z.object({ reason: Reason.optional() }).strict(),
  complete: z.object({ reason: Reason.optional() }).strict(),
  fail: z.object({ reason: Reason.describe('Why the system could not do it; stored encrypted') }).strict(),
  exempt: z
    .object({
      ground: z
        .enum([...ERASURE_EXEMPTION_GROUNDS, ...ART19_GROUNDS])
        .describe(
          'An Art. 17(3) ground (erasure tasks: the system keeps the data named in `categories`), or an Art. 19 ground (any task of a recipient but an export: telling this recipient proves impossible, or involves disproportionate effort — `reason` required, saying why; the request is not partial for it, Rightful and the other systems still act)',
        ),
      categories: z
        .array(z.string().trim().min(1).max(100))
        .min(1)
        .max(50)
        .optional()
        .describe('Art. 17(3) grounds: the data categories the system keeps (required). Not taken with an Art. 19 ground'),
      until: DateInput.optional().describe(
        "When the period the data are kept for ends: a date after today in the controller's time zone, at most 9999-12-30. The task is reopened and sent to the system the day after (Art. 17(3)(b)). None for an open-ended ground",
      ),
      reason: Reason.optional().describe('Why; required with an Art. 19 ground; stored encrypted'),
    })
    .strict(),
  retry: z.object({ reason: Reason.optional() }).strict(),
} as const satisfies Record<TaskAction, z.ZodType>;

export const TaskParams = z.object({ id: z.uuid(), task_id: z.uuid() });
export const CallbackParams = z.object({ token: z.string().min(1).max(200) });
export const CallbackBody = z
  .object({
    status: z.enum(['acknowledged', 'completed', 'failed']),
    reason: Reason.optional().describe('Why it failed (required for failed); stored encrypted'),
  })
  .strict()
  .meta({ id: 'TaskCallback' });
export const CallbackAnswerSchema = z
  .object({ task_id: z.uuid(), status: z.enum(TASK_STATUSES) })
  .meta({ id: 'TaskCallbackAnswer', description: 'The task as it stands after the answer' });
