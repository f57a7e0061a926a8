// The event catalogue: every event type Rightful sends, when, to whom, and the zod schema of its `data`. It types
// eventRow(), validates event rows before they are fanned out, and generates the README's events table and the
// `webhooks` section of openapi.yaml.
import { z } from 'zod';
import { IDENTIFIER_TYPES } from '../../lib/identifiers.js';

/**
 * Copies of the rights-requests and tasks vocabularies (the outbox imports no module). They cannot drift silently:
 * a producer whose status or kind is not listed here no longer compiles at its eventRow() call.
 */
const REQUEST_TYPES = ['access', 'rectification', 'erasure', 'restriction', 'portability', 'objection', 'automated_decision', 'information'] as const;
const REQUEST_STATUSES = ['received', 'awaiting_approval', 'awaiting_identity', 'in_progress', 'completed', 'rejected', 'withdrawn'] as const;
const TASK_KINDS = ['erasure', 'rectification', 'restriction', 'restriction_lifted', 'export', 'public_disclosure'] as const;
const TASK_STATUSES = ['pending', 'acknowledged', 'completed', 'failed', 'exempt', 'cancelled'] as const;

/** Who gets an event: every endpoint subscribed to its type (or to `*`), the one endpoint the row names
 * (`to_endpoint_id`), or the endpoint being tested. */
export type Audience = 'subscribers' | 'addressed' | 'tested';

export type CatalogueEntry = {
  /** When the event is written; the README's "when" column and the webhook's summary. */
  when: string;
  audience: Audience;
  /** The `data` the receiver gets. */
  data: z.ZodObject;
  /** The `data` the outbox row and the stored delivery hold, when a body builder completes it at send time (with
   * personal data that must never rest in the outbox or the delivery log). Absent: the same as `data`. */
  stored?: z.ZodObject;
};

const uuid = (what: string) => z.uuid().describe(what);
const instant = (what: string) => z.iso.datetime().describe(what);

const request = {
  request_id: uuid('The rights request'),
  subject_id: uuid('The data subject the request is about'),
  request_type: z.enum(REQUEST_TYPES).describe('The right exercised'),
  status: z.enum(REQUEST_STATUSES).describe("The request's status"),
  due_date: z.iso.date().nullable().describe("The last day to answer, in the tenant's time zone; null while the clock waits (uk policy, awaiting identity)"),
};
const reminder = {
  ...request,
  due_at: z.iso.datetime().nullable().describe('The end of the last day to answer, as an instant'),
  days_left: z.int().min(0).max(366).describe('Days left until due_date; 0 when overdue'),
};
/** A reminder as sent: with the systems that have not answered, read at send time (they change after it is scheduled). */
const reminderSent = {
  ...reminder,
  waiting_on: z
    .array(
      z.object({
        system_id: z.uuid().nullable().describe('The connected system; null for the task of informing other controllers (Art. 17(2))'),
        system_name: z.string().nullable(),
        status: z.enum(['pending', 'acknowledged', 'failed']).describe("The system's task: not sent or not answered, acknowledged, or failed"),
      }),
    )
    .describe('The connected systems whose part of the request is still open when the reminder is sent: who has not answered'),
};
const consent = {
  subject_id: uuid('The data subject'),
  purpose: z.string().describe('The purpose key'),
  purpose_version: z.int().min(1).describe('The version of the purpose text the subject was shown'),
  source: z.string().describe('How the decision was collected: web_form, crm_user, import, api, verbal or written'),
  occurred_at: instant('When the subject decided'),
  ledger_event_id: uuid('The consent ledger event'),
};
const taskStored = {
  task_id: uuid("The system's task; answer it through callback_url"),
  request_id: uuid('The rights request the task belongs to'),
  system_id: uuid('The connected system the event is addressed to'),
  due_date: z.iso.date().nullable().describe("The request's last day to answer; the system should act well before it"),
};
const taskSent = {
  ...taskStored,
  callback_url: z.url().describe('A single-use link the system POSTs its answer to (acknowledged, completed or failed); built at each send'),
  subject: z
    .object({
      external_ref: z.string().nullable().describe("The person's reference in the CRM"),
      identifiers: z
        .array(z.object({ type: z.enum(IDENTIFIER_TYPES), value: z.string().describe('Normalised: email trimmed and lower-cased, phone E.164') }))
        .describe("The person's identifiers, to find them in the system"),
    })
    .describe('Who the task is about: read at send time, never stored in the outbox or the delivery log'),
};

/** Every event type. The order is the README's and the spec's. */
export const EVENT_CATALOGUE = {
  'subject.created': {
    when: 'A new subject is recorded',
    audience: 'subscribers',
    data: z.object({ subject_id: uuid('The new subject') }),
  },
  'consent.granted': {
    when: 'A grant is appended to the consent ledger',
    audience: 'subscribers',
    data: z.object(consent),
  },
  'consent.withdrawn': {
    when: 'A withdrawal is appended to the consent ledger',
    audience: 'subscribers',
    data: z.object(consent),
  },
  'subject.objected': {
    when: 'An objection is recorded (Art. 21 or 22), or an objection to processing is decided',
    audience: 'subscribers',
    data: z.object({
      subject_id: uuid('The data subject'),
      scope: z.enum(['direct_marketing', 'processing', 'automated_decisions']).describe('Art. 21(2)-(3), Art. 21(1) or Art. 22'),
      purpose: z.string().nullable().describe('The purpose objected to; null for every direct-marketing purpose, or for automated decisions'),
      status: z.enum(['pending', 'upheld', 'refused', 'withdrawn']).describe('pending while an objection to processing is assessed'),
      occurred_at: instant('When the subject objected'),
    }),
  },
  'request.created': {
    when: 'A rights request is received',
    audience: 'subscribers',
    data: z.object(request),
  },
  'request.review_required': {
    when: "A request waits for the DPO's decision (an erasure or a rectification to approve or reject)",
    audience: 'subscribers',
    data: z.object(request),
  },
  'request.status_changed': {
    when: 'A request moves from one status to another',
    audience: 'subscribers',
    data: z.object({
      ...request,
      from: z.enum(REQUEST_STATUSES).describe('The status before'),
      to: z.enum(REQUEST_STATUSES).describe('The status after'),
      action: z.string().optional().describe("The transition (as in the request's audit trail); absent when the request changed on intake"),
    }),
  },
  'request.extended': {
    when: 'The deadline is extended by two months (Art. 12(3))',
    audience: 'subscribers',
    data: z.object(request),
  },
  'request.completed': {
    when: 'A request is completed',
    audience: 'subscribers',
    data: z.object(request),
  },
  'request.deadline_approaching': {
    when: "An open request's deadline is near (the tenant's reminder offsets, e.g. 7 and 2 days)",
    audience: 'subscribers',
    stored: z.object(reminder),
    data: z.object(reminderSent),
  },
  'request.overdue': {
    when: "An open request's deadline has passed",
    audience: 'subscribers',
    stored: z.object(reminder),
    data: z.object(reminderSent),
  },
  'task.updated': {
    when: "A connected system's task for a request is created or changes status",
    audience: 'subscribers',
    data: z.object({
      task_id: uuid('The task'),
      request_id: uuid('The rights request the task belongs to'),
      system_id: z.uuid().nullable().describe('The connected system; null for a task on no one system (informing other controllers, Art. 17(2))'),
      kind: z.enum(TASK_KINDS).describe('What the task asks of the system'),
      from: z.enum(TASK_STATUSES).nullable().describe('The status before; null when the task was created'),
      to: z.enum(TASK_STATUSES).describe('The status after'),
      by: z.string().describe('Who changed it: "system callback", "rightful" (Rightful itself: an exempt task reopened when its Art. 17(3) period ended, or a task cancelled with its request), or the client (its token\'s sub)'),
    }),
  },
  'erasure.requested': {
    when: "A connected system is asked to erase the subject's data (Art. 17)",
    audience: 'addressed',
    stored: z.object(taskStored),
    data: z.object(taskSent),
  },
  'rectification.requested': {
    when: "A connected system is asked to rectify the subject's data (Art. 16, 19)",
    audience: 'addressed',
    stored: z.object(taskStored),
    data: z.object({
      ...taskSent,
      corrections: z
        .array(
          z.object({
            category: z.string().describe('The data category'),
            field: z.string().describe('The field to correct'),
            value: z.string().describe('The correct value'),
          }),
        )
        .describe('What to correct: read at send time, never stored in the outbox or the delivery log'),
    }),
  },
  'restriction.requested': {
    when: "A connected system is asked to restrict processing of the subject's data to storage (Art. 18)",
    audience: 'addressed',
    stored: z.object(taskStored),
    data: z.object(taskSent),
  },
  'restriction.lifted': {
    when: 'A connected system is told the restriction is lifted (Art. 18(3))',
    audience: 'addressed',
    stored: z.object(taskStored),
    data: z.object(taskSent),
  },
  'export.requested': {
    when: 'A connected system is asked for the data it holds about the subject (Art. 15, 20)',
    audience: 'addressed',
    stored: z.object(taskStored),
    data: z.object({
      ...taskSent,
      upload_url: z
        .url()
        .describe(
          'Where the system PUTs its part (application/json: one object of data categories, each an array of objects or an object; `?provided_categories=` names those the person provided); the upload completes the task. Built at each send',
        ),
    }),
  },
  'export.ready': {
    when: "Every connected system asked for an access or portability export has answered (its part uploaded, nothing to give, or its task recorded as failed), or none was asked: the export waits for the DPO's review (Art. 15(4)); announced once",
    audience: 'subscribers',
    data: z.object({
      request_id: uuid('The access or portability request'),
      subject_id: uuid('The data subject'),
      request_type: z.enum(['access', 'portability']).describe('The right exercised'),
    }),
  },
  'subject.erased': {
    when: "Rightful erased its own copy of the subject's data at the end of an erasure (the ledger stays, unreadable)",
    audience: 'subscribers',
    data: z.object({ subject_id: uuid('The erased subject (now a tombstone)'), request_id: uuid('The erasure request') }),
  },
  'subject.purged': {
    when: "An erased subject's tombstone, ledger and request history were purged at the end of the tenant's accountability period (Art. 5(1)(e), 5(2))",
    audience: 'subscribers',
    data: z.object({ subject_id: uuid('The purged subject (only the purge record and suppression-list hashes remain)'), purged_at: instant('When it was purged') }),
  },
  ping: {
    when: 'A test sent by `POST /v1/webhook-endpoints/{id}/test`',
    audience: 'tested',
    data: z.object({ endpoint_id: uuid('The endpoint tested') }),
  },
} as const satisfies Record<string, CatalogueEntry>;

type Catalogue = typeof EVENT_CATALOGUE;
export type EventType = keyof Catalogue;
export const ALL_EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as EventType[];

/** The event types an endpoint can subscribe to (the others reach one endpoint only). */
export type SubscribableEventType = { [K in EventType]: Catalogue[K]['audience'] extends 'subscribers' ? K : never }[EventType];
export const EVENT_TYPES = ALL_EVENT_TYPES.filter((t) => EVENT_CATALOGUE[t].audience === 'subscribers') as [SubscribableEventType, ...SubscribableEventType[]];

type StoredSchemaOf<T extends EventType> = T extends EventType ? (Catalogue[T] extends { stored: infer S extends z.ZodType } ? S : Catalogue[T]['data']) : never;
/** What an event row of type T holds as `data` (what eventRow() takes). */
export type StoredEventData<T extends EventType> = z.input<StoredSchemaOf<T>>;
/** What the receiver of an event of type T gets as `data`. */
export type SentEventData<T extends EventType> = z.output<Catalogue[T]['data']>;

export const storedSchemaOf = (type: EventType): z.ZodObject => {
  const entry: CatalogueEntry = EVENT_CATALOGUE[type];
  return entry.stored ?? entry.data;
};
export const sentSchemaOf = (type: EventType): z.ZodObject => EVENT_CATALOGUE[type].data;

/** The body a receiver gets for an event of `type`: `{type, timestamp, data}`. */
export function eventBodySchema(type: EventType) {
  const entry: CatalogueEntry = EVENT_CATALOGUE[type];
  return z
    .object({
      type: z.literal(type).describe('The event type'),
      timestamp: z.iso.datetime().describe('When the event happened'),
      data: entry.data,
    })
    .describe(entry.when);
}

/** Fields of `sent` that `stored` lacks: what a body builder adds at send time. */
export function addedAtSend(type: EventType): string[] {
  const entry: CatalogueEntry = EVENT_CATALOGUE[type];
  if (!entry.stored) return [];
  const stored = new Set(Object.keys(entry.stored.shape));
  return Object.keys(entry.data.shape).filter((k) => !stored.has(k));
}

const AUDIENCE_TEXT: Record<Audience, string> = {
  subscribers: 'subscribers',
  addressed: 'the addressed endpoint only',
  tested: 'the tested endpoint',
};

type JsonSchema = { type?: string | string[]; enum?: unknown[]; const?: unknown; anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema };

function describeField(name: string, s: JsonSchema, required: boolean): string {
  const variants = s.anyOf ?? [s];
  const nullable = variants.some((v) => v.type === 'null' || (Array.isArray(v.type) && v.type.includes('null')));
  const main = variants.find((v) => v.type !== 'null') ?? s;
  const notes: string[] = [];
  if (main.enum && main.enum.length <= 4) {
    const values = main.enum.map((v) => `\`${String(v)}\``);
    notes.push(values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values[0]!);
  }
  if (nullable) notes.push('nullable');
  if (!required) notes.push('optional');
  let text = `\`${name}\``;
  if (main.type === 'object' && main.properties) text += ` {${fieldsOf(main).join(', ')}}`;
  if (main.type === 'array' && main.items?.properties) text += ` [{${fieldsOf(main.items).join(', ')}}]`;
  return notes.length ? `${text} (${notes.join('; ')})` : text;
}

function fieldsOf(s: JsonSchema): string[] {
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, p]) => describeField(name, p, required.has(name)));
}

/** The README's events table, generated: `npm run openapi` writes it between the events markers. */
export function eventsMarkdown(): string {
  const lines = ['| event type | when | sent to | `data` |', '|---|---|---|---|'];
  const seen: { type: EventType; fields: string[] }[] = [];
  for (const type of ALL_EVENT_TYPES) {
    const fields = fieldsOf(z.toJSONSchema(sentSchemaOf(type), { io: 'output' }) as JsonSchema);
    const added = new Set(addedAtSend(type));
    // "as `x`, and …" when the fields start with those of an earlier event: the request.* events share five.
    const base = seen.find((s) => s.fields.length >= 2 && s.fields.length <= fields.length && s.fields.every((f, i) => f === fields[i]));
    const own = fields.slice(base?.fields.length ?? 0).map((f) => {
      const name = /^`([^`]+)`/.exec(f)?.[1] ?? '';
      return added.has(name) ? `${f} (added at send time, never stored)` : f;
    });
    const data = base ? [`as \`${base.type}\``, ...(own.length ? [`and ${own.join(', ')}`] : [])].join(', ') : own.join(', ');
    lines.push(`| \`${type}\` | ${EVENT_CATALOGUE[type].when.replace(/\|/g, '\\|')} | ${AUDIENCE_TEXT[EVENT_CATALOGUE[type].audience]} | ${data} |`);
    if (!base) seen.push({ type, fields });
  }
  return `${lines.join('\n')}\n`;
}
