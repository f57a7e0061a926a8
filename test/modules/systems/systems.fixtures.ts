// Shared bits for the systems tests: a system, a webhook endpoint to reach one, and an open task behind the
// service's back (the tasks module writes them; here only their rows matter).
import type { TestApp } from '../../helper.js';
import { createSubject } from '../../helper.js';

/** Webhook endpoints in these tests are never delivered to: loopback must be allowed to register one. */
export const ENV = { WEBHOOK_ALLOW_PRIVATE: 'true' };
export const HOOK = 'http://127.0.0.1:9/hook';

export type System = {
  id: string;
  name: string;
  kind: string;
  data_categories: string[];
  handles: string[];
  recipient: boolean;
  processor: boolean;
  webhook_endpoint_id: string | null;
  contact_email: string | null;
  created_at: string;
  updated_at: string;
};

export async function createSystem(ta: TestApp, body: Record<string, unknown> = {}, tenantId?: string): Promise<System> {
  const payload = { name: 'Mailing tool', kind: 'mailing', ...(body.webhook_endpoint_id ? {} : { contact_email: 'privacy@mailer.example' }), ...body };
  const res = await ta.call({ method: 'POST', url: '/v1/systems', tenantId, payload });
  if (res.statusCode !== 201) throw new Error(`createSystem: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function createEndpoint(ta: TestApp, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', tenantId, payload: { url: HOOK, event_types: ['*'] } });
  if (res.statusCode !== 201) throw new Error(`createEndpoint: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

/** A rights request of a new subject, inserted as a row; its id. */
export async function insertRequest(ta: TestApp, tenantId = ta.tenantId): Promise<string> {
  const subjectId = await createSubject(ta, `${crypto.randomUUID()}@example.com`, tenantId);
  const requestId = crypto.randomUUID();
  await ta.sql.query(
    `INSERT INTO rights_requests (id, tenant_id, subject_id, type, channel, status, received_at, last_transition_at)
     VALUES ($1, $2, $3, 'erasure', 'email', 'in_progress', now(), now())`,
    [requestId, tenantId, subjectId],
  );
  return requestId;
}

/** A task of `systemId` in `status` for a new rights request, inserted as rows; the task's id. */
export async function insertTask(ta: TestApp, systemId: string, status: string, tenantId = ta.tenantId): Promise<string> {
  const requestId = await insertRequest(ta, tenantId);
  const taskId = crypto.randomUUID();
  await ta.sql.query(`INSERT INTO system_tasks (id, tenant_id, request_id, system_id, kind, status) VALUES ($1, $2, $3, $4, 'erasure', $5)`, [
    taskId,
    tenantId,
    requestId,
    systemId,
    status,
  ]);
  return taskId;
}
