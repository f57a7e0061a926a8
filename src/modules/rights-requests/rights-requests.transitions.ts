// The request state machine as data: which action is allowed from which status and where it leads. The service
// guards with it, the routes document themselves from it, and transitionsMarkdown() renders the README table.
import { REQUEST_STATUSES } from './rights-requests.table.js';

export type Status = (typeof REQUEST_STATUSES)[number];

export const OPEN_STATUSES = ['received', 'awaiting_approval', 'awaiting_identity', 'in_progress'] as const satisfies readonly Status[];
export const CLOSED_STATUSES = ['completed', 'rejected', 'withdrawn'] as const satisfies readonly Status[];
const ACTIVE = ['received', 'in_progress'] as const satisfies readonly Status[];

export type Transition = {
  /** Statuses the action is allowed from. */
  from: readonly Status[];
  /** The status it leads to; null: the status does not change. */
  to: Status | null;
  /** What else must hold, as the README says it (the service enforces it). */
  when?: string;
  /** Where the status goes otherwise than `to` says. */
  toNote?: string;
  /** What the body carries, as the README says it. */
  carries?: string;
  /** What happens to the clock. */
  clock: string;
  /** The scope the action needs, when not requests:write. */
  scope?: 'requests:admin';
  operationId: string;
  summary: string;
  description: string;
};

export const TRANSITIONS = {
  'request-identity': {
    from: [...ACTIVE, 'awaiting_approval'],
    to: 'awaiting_identity',
    when: 'no pause open; recorded no later than the first deadline',
    carries: '`reason`: the reasonable doubts, Art. 12(6)',
    clock: '`eu`: paused; `uk`: will restart',
    operationId: 'requestIdentityProof',
    summary: 'Ask for proof of identity (Art. 12(6))',
    description:
      'With the reasonable doubts about the identity that justify asking (`reason`, stored encrypted). Refused once the first month (the deadline without extension) has run out: the clock cannot be stopped after the fact. Under the tenant policy eu the clock pauses until identity-verified; under uk the month restarts from the day the proof arrives.',
  },
  'identity-verified': {
    from: ['awaiting_identity'],
    to: 'in_progress',
    toNote: 'an erasure or rectification not yet approved goes back to awaiting_approval',
    clock: '`eu`: the days waited are added; `uk`: one month from the proof day',
    operationId: 'recordIdentityVerified',
    summary: 'Record that identity is proven',
    description: 'The clock runs again (eu: the days waited are added to the deadline; uk: one month from this day).',
  },
  'request-clarification': {
    from: ACTIVE,
    to: null,
    when: 'no pause open',
    toNote: '`paused: true`',
    clock: 'paused',
    operationId: 'requestClarification',
    summary: 'Ask the subject to clarify the scope',
    description: 'For a large request: the clock pauses until clarification-received (the status does not change; `paused` is true).',
  },
  'clarification-received': {
    from: OPEN_STATUSES,
    to: null,
    when: 'a clarification is awaited',
    clock: 'the days between are added (`eu` exclusively, `uk` inclusively)',
    operationId: 'recordClarificationReceived',
    summary: 'Record the clarification',
    description: 'Ends the clarification pause. The days paused are added to the deadline: policy eu counts the days between the two dates exclusively, uk inclusively.',
  },
  extend: {
    from: OPEN_STATUSES,
    to: null,
    when: 'once; decided (`at`) and the person told (`subject_informed_at`) no later than the first deadline',
    carries: '`reason`, `subject_informed_at`',
    clock: 'three months from the start',
    operationId: 'extendRightsRequest',
    summary: 'Extend the deadline (Art. 12(3))',
    description:
      'Once only, with the reason, decided before the first month (the deadline without extension) has run out, and only once the person has been told: `subject_informed_at` (not in the future, not before the request was received, not after the first deadline). The new deadline is three months from the start (moved to a working day).',
  },
  approve: {
    from: ['awaiting_approval'],
    to: 'in_progress',
    when: 'an erasure or rectification request; identity verified, or recorded as not needed',
    carries: '`identity` (verified or not_needed, with `identity_note`); for erasure `erasure_ground`, `exemptions`, `public_disclosure`',
    clock: '',
    scope: 'requests:admin',
    operationId: 'approveRightsRequest',
    summary: 'Approve an erasure (Art. 17) or a rectification (Art. 16)',
    description:
      'The DPO decides (scope requests:admin). An erasure: every connected system that handles erasure, and every recipient the data was disclosed to (Art. 19, processors included), gets a task and is sent erasure.requested, addressed to it alone. `exemptions` keep data in one system under an Art. 17(3) ground, for the categories and until the date named (the task is exempt). `public_disclosure: true` (the controller made the data public) adds a task to inform the other controllers (Art. 17(2)). When every task is closed, Rightful erases its own copy (the data key is destroyed, identifiers and details go, the ledger stays verifiable) and the request completes. A rectification (no `erasure_ground`, `exemptions` or `public_disclosure`): the DPO confirms the corrections, an identifier corrected replaces the one Rightful holds (a value that cannot be normalised, or that another subject has, is a 422 INVALID_CORRECTION and nothing changes), and every system that handles rectification, and every recipient, is sent rectification.requested with the corrections; the request completes when every task is closed. With no system to tell, either completes at once.',
  },
  reject: {
    from: OPEN_STATUSES,
    to: 'rejected',
    carries: '`outcome` refused, `grounds`, `detail`, `subject_notified_at`, `notified_by`',
    clock: 'reminders cancelled',
    operationId: 'rejectRightsRequest',
    summary: 'Refuse the request (Art. 12(4))',
    description:
      'With the grounds (from the catalogue, each valid for the right asked), the reasons in `detail` (stored encrypted) and when and how the person was told. The answer (`outcome`) names the supervisory authority and the judicial remedy from the tenant settings, or says they are not configured. A restriction request rejected lifts the restricted flag unless another restriction holds it; an objection to processing rejected (art21_1_compelling_grounds) is refused. Either way its restriction tasks still open are cancelled, and when the flag is lifted the systems that were told to restrict are sent restriction.lifted (Art. 18(3), 19).',
  },
  complete: {
    from: ACTIVE,
    to: 'completed',
    when: 'no pause open',
    carries: '`outcome` granted or partially_granted, `grounds` (partially_granted), `subject_notified_at`, `notified_by`; `human_review` for `automated_decision`',
    clock: 'reminders cancelled',
    operationId: 'completeRightsRequest',
    summary: 'Complete the request (Art. 12(4))',
    description:
      'Records the answer: `outcome` granted or partially_granted (a partial refusal gives its grounds, and its answer names the supervisory authority and the judicial remedy), and when and how the person was told. An automated_decision request needs the human review (Art. 22(3)): reviewer, the person\'s point of view, the decision, and whether it changed. An information request completes once the notice was sent. An objection to processing completed is upheld; if it restricted the processing meanwhile (Art. 18(1)(d)), the flag is lifted unless another restriction holds it, its restriction tasks still open are cancelled and the systems that were told to restrict are sent restriction.lifted. Refused while identity or a clarification is awaited.',
  },
  withdraw: {
    from: OPEN_STATUSES,
    to: 'withdrawn',
    clock: 'reminders cancelled',
    operationId: 'withdrawRightsRequest',
    summary: 'The subject withdrew the request',
    description:
      'Closes the request and cancels its reminders. A restriction request (or an objection restricting meanwhile) withdrawn lifts the restricted flag unless another restriction holds it; its restriction tasks still open are cancelled, and when the flag is lifted the systems that were told to restrict are sent restriction.lifted (Art. 18(3), 19).',
  },
  assign: {
    from: OPEN_STATUSES,
    to: null,
    toNote: 'a received request assigned to someone goes in_progress',
    carries: '`assignee`',
    clock: '',
    operationId: 'assignRightsRequest',
    summary: 'Assign the request',
    description: 'Sets (or with null clears) who handles it; assigning a received request puts it in progress.',
  },
  comment: {
    from: REQUEST_STATUSES,
    to: null,
    carries: '`note`',
    clock: '',
    operationId: 'commentRightsRequest',
    summary: 'Add a comment to the audit trail',
    description: 'Adds a note (stored encrypted) to the audit trail; the state does not change.',
  },
} as const satisfies Record<string, Transition>;

export type TransitionAction = keyof typeof TRANSITIONS;
export const TRANSITION_ACTIONS = Object.keys(TRANSITIONS) as TransitionAction[];

export function isOpen(status: Status): boolean {
  return (OPEN_STATUSES as readonly Status[]).includes(status);
}

export function allowedFrom(action: TransitionAction, status: Status): boolean {
  return (TRANSITIONS[action].from as readonly Status[]).includes(status);
}

function fromText(from: readonly Status[]): string {
  if (from.length === REQUEST_STATUSES.length) return 'any';
  if (from.length === OPEN_STATUSES.length && OPEN_STATUSES.every((s) => from.includes(s))) return 'open';
  return from.join(', ');
}

/** One sentence for an operation's description: where the action is allowed and where it leads. */
export function transitionSentence(action: TransitionAction): string {
  const t: Transition = TRANSITIONS[action];
  const from = fromText(t.from);
  const where = from === 'any' ? 'From any status' : from === 'open' ? 'From any open status' : `From ${t.from.join(' or ')}`;
  return `${where}${t.to ? ` to ${t.to}` : ', the status unchanged'}${t.toNote ? ` (${t.toNote})` : ''}${t.when ? `; allowed when: ${t.when}` : ''}.`;
}

/** The README's transitions table. */
export function transitionsMarkdown(): string {
  const rows = TRANSITION_ACTIONS.map((action) => {
    const t: Transition = TRANSITIONS[action];
    const what = t.carries ? `\`${action}\` (${t.carries})` : `\`${action}\``;
    const to = (t.to ?? '(unchanged)') + (t.toNote ? `; ${t.toNote}` : '');
    const from = fromText(t.from) + (t.when ? `; ${t.when}` : '');
    return `| ${what} | ${from} | ${to} | ${t.clock} |`;
  });
  return ['| action | from | to | clock |', '|---|---|---|---|', ...rows].join('\n');
}
