// The accountability period and the purge (Art. 5(1)(e), 5(2)): an erased person's tombstone, ledger and request
// history are kept for the tenant's period, then purged by the worker, recorded and announced; verification then
// reports the chain as purged. Time is a clock shared by the API and the worker's relay.
import t from 'tap';
import { runPurge } from '../../../src/cli/purge.js';
import { build, createPurpose, grant, type TestApp } from '../../helper.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

const DAY = 86_400_000;
const settle = (ms = 1000) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await settle(100);
  }
}

async function subjectWith(ta: TestApp, email: string, tenantId?: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await ta.call({
    method: 'POST',
    url: '/v1/subjects',
    tenantId,
    headers,
    payload: { external_ref: `crm-${email}`, identifiers: [{ type: 'email', value: email }, { type: 'phone', value: '+359888123456' }] },
  });
  if (res.statusCode !== 201) throw new Error(`subject: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function system(ta: TestApp, name: string, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', tenantId, payload: { name, kind: 'crm', handles: ['erasure', 'export'], contact_email: 'dpo@crm.example' } });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

async function openRequest(ta: TestApp, subject: string, type: string, tenantId?: string): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', tenantId, payload: { subject: { id: subject }, type, channel: 'email', details: 'Free text about the person' } });
  if (res.statusCode !== 201) throw new Error(`request: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

/** An erasure through the real flow: requested, approved by the DPO, every task closed (or the DPO completes it). */
async function erase(ta: TestApp, subject: string, opts: { tenantId?: string; leaveTaskOpen?: boolean; at: () => Date }): Promise<{ requestId: string; taskIds: string[] }> {
  const requestId = await openRequest(ta, subject, 'erasure', opts.tenantId);
  const approved = await ta.call({
    method: 'POST',
    url: `/v1/rights-requests/${requestId}/approve`,
    tenantId: opts.tenantId,
    payload: { identity: 'not_needed', identity_note: 'Asked from the verified account', erasure_ground: 'consent_withdrawn' },
  });
  if (approved.statusCode !== 200) throw new Error(`approve: ${approved.statusCode} ${approved.body}`);
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${requestId}/tasks`, tenantId: opts.tenantId })).json().items as { id: string }[];
  if (opts.leaveTaskOpen) {
    // The system has not answered; the DPO completes the request anyway (Rightful forgets, the task stays open).
    const done = await ta.call({
      method: 'POST',
      url: `/v1/rights-requests/${requestId}/complete`,
      tenantId: opts.tenantId,
      payload: { subject_notified_at: opts.at().toISOString(), notified_by: 'email' },
    });
    if (done.statusCode !== 200) throw new Error(`complete: ${done.statusCode} ${done.body}`);
  } else {
    for (const task of tasks) {
      const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/tasks/${task.id}/complete`, tenantId: opts.tenantId, payload: {} });
      if (done.statusCode !== 200) throw new Error(`task: ${done.statusCode} ${done.body}`);
    }
  }
  const s = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}`, tenantId: opts.tenantId })).json();
  if (s.status !== 'erased') throw new Error(`not erased: ${JSON.stringify(s)}`);
  return { requestId, taskIds: tasks.map((x) => x.id) };
}

async function purgeRow(ta: TestApp, subject: string): Promise<{ status: string; available_at: Date; last_error: string | null } | undefined> {
  const res = await ta.sql.query(`SELECT status, available_at, last_error FROM outbox WHERE topic = 'subject.purge' AND ref_id = $1 ORDER BY created_at`, [subject]);
  return res.rows[0];
}

const purged = async (ta: TestApp, subject: string) => (await ta.sql.query('SELECT 1 FROM subject_purges WHERE subject_id = $1', [subject])).rowCount === 1;

/** What may still name a purged person's ids, and why (README "Accountability and purge"). */
const KEPT: Record<string, string> = {
  // The record of the purge itself.
  subject_purges: 'true',
  // Art. 21(3): the keyed hashes of an objector's identifiers stay, naming the erasure request that put them there.
  suppressions: 'true',
  // The purge row that ran, and events announced without a request they belong to (ids and facts, no personal data).
  outbox: `topic = 'subject.purge' OR (topic = 'event' AND ref_id IS NULL AND payload->>'type' IN ('subject.created', 'consent.granted', 'consent.withdrawn', 'subject.objected', 'subject.purged'))`,
  // The endpoint's delivery log of the announcement.
  webhook_deliveries: `event_type = 'subject.purged'`,
};

/** Every row of every table (uuid, text, json and array columns) that names one of `ids`, but what KEPT allows. */
async function leftovers(ta: TestApp, ids: string[]): Promise<string[]> {
  const cols = await ta.sql.query(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type IN ('uuid', 'text', 'jsonb', 'ARRAY', 'character varying')
      ORDER BY table_name, column_name`,
  );
  const found: string[] = [];
  for (const { table_name, column_name, data_type } of cols.rows) {
    const names = data_type === 'uuid' ? `"${column_name}" = ANY($1::uuid[])` : `EXISTS (SELECT 1 FROM unnest($1::text[]) i WHERE position(i in "${column_name}"::text) > 0)`;
    const kept = KEPT[table_name] ? ` AND NOT (${KEPT[table_name]})` : '';
    const q = await ta.sql.query(`SELECT count(*)::int AS n FROM "${table_name}" WHERE ${names}${kept}`, [ids]);
    if (q.rows[0].n > 0) found.push(`${table_name}.${column_name}: ${q.rows[0].n}`);
  }
  return found;
}

/** Every id that names the person or their history: the subject, requests, tasks, ledger events, objections. */
async function idsOf(ta: TestApp, subject: string): Promise<string[]> {
  const res = await ta.sql.query(
    `SELECT $1::uuid AS id
     UNION SELECT id FROM rights_requests WHERE subject_id = $1
     UNION SELECT t.id FROM system_tasks t JOIN rights_requests r ON r.id = t.request_id WHERE r.subject_id = $1
     UNION SELECT e.id FROM rights_request_events e JOIN rights_requests r ON r.id = e.request_id WHERE r.subject_id = $1
     UNION SELECT id FROM consent_events WHERE subject_id = $1
     UNION SELECT id FROM objections WHERE subject_id = $1`,
    [subject],
  );
  return res.rows.map((r) => r.id);
}

const purgedEvents = (r: Receiver) =>
  r.received.map((m) => JSON.parse(m.body) as { type: string; data: Record<string, unknown> }).filter((m) => m.type === 'subject.purged');

t.test('when the accountability period ends the worker purges every record of the erased person, records the purge and announces it', async (t) => {
  let now = new Date('2026-01-05T10:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastWorkerEnv() });
  const receiver = await startReceiver(t);
  t.equal((await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: receiver.url, event_types: ['subject.purged'] } })).statusCode, 201);
  const patched = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: 30 } });
  t.equal(patched.json().accountability_days, 30, 'the tenant sets its accountability period');

  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'similar-products', { legal_basis: 'legitimate_interests', direct_marketing: true, channels: ['email'] });
  await system(ta, 'CRM');
  // The person: created with an Idempotency-Key, a ledger with a grant and a withdrawal, an objection, a soft
  // opt-in, an access request answered, then an erasure whose task the CRM completes.
  const subject = await subjectWith(ta, 'purge-me@example.com', undefined, { 'idempotency-key': 'create-purge-me' });
  await grant(ta, subject, 'newsletter');
  await grant(ta, subject, 'newsletter', 'withdraw');
  t.equal((await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', purposes: ['similar-products'] } })).statusCode, 201);
  const softOptIn = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/soft-opt-ins`, payload: { purpose: 'similar-products', relationship_ref: 'order 7', opt_out_offered: true } });
  t.equal(softOptIn.statusCode, 201, softOptIn.body);
  const access = await openRequest(ta, subject, 'access');
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${access}/complete`, payload: { subject_notified_at: now.toISOString(), notified_by: 'email' } })).statusCode, 200);
  const { requestId, taskIds } = await erase(ta, subject, { at: clock });
  t.equal(taskIds.length, 1, 'the erasure had a task');
  // An export of the access request, as the exports module keeps it (package, a part with its chunk, a link).
  const partId = crypto.randomUUID();
  await ta.sql.query(`INSERT INTO export_packages (request_id, tenant_id) VALUES ($1, $2)`, [access, ta.tenantId]);
  await ta.sql.query(`INSERT INTO export_parts (id, tenant_id, request_id, task_id, bytes, chunks, sha256, uploaded_at) VALUES ($1, $2, $3, $4, 1, 1, 'x', now())`, [partId, ta.tenantId, access, taskIds[0]]);
  await ta.sql.query(`INSERT INTO export_part_chunks (part_id, seq, tenant_id, sealed) VALUES ($1, 0, $2, '\\x00')`, [partId, ta.tenantId]);
  await ta.sql.query(`INSERT INTO export_links (id, tenant_id, request_id, token_hash, expires_at, max_downloads, created_by) VALUES ($1, $2, $3, '\\x01', now(), 1, 'test')`, [crypto.randomUUID(), ta.tenantId, access]);

  // Beside it: an active person of the same tenant, and a person of another tenant erased at the same moment.
  const neighbour = await subjectWith(ta, 'stays@example.com');
  await grant(ta, neighbour, 'newsletter');
  const other = await ta.newTenant('Other controller');
  await createPurpose(ta, 'newsletter', { direct_marketing: true }, other);
  const foreign = await subjectWith(ta, 'purge-me@example.com', other);
  await grant(ta, foreign, 'newsletter', 'grant', other);
  await erase(ta, foreign, { tenantId: other, at: clock });

  const erasedAt = (await ta.sql.query('SELECT erased_at, ledger_seq, ledger_head FROM subjects WHERE id = $1', [subject])).rows[0];
  t.equal(erasedAt.ledger_seq, 2);
  const row = await purgeRow(ta, subject);
  t.equal(row?.status, 'pending', 'the erasure scheduled the purge in its transaction');
  t.equal(row?.available_at.getTime(), erasedAt.erased_at.getTime() + 30 * DAY, 'due when the accountability period ends');
  const payloads = await ta.sql.query(`SELECT payload FROM outbox WHERE topic = 'subject.purge'`);
  t.same(payloads.rows.map((r) => Object.keys(r.payload)), [['subject_id'], ['subject_id']], 'the purge row holds the subject id only');
  const ids = await idsOf(ta, subject);
  const before = (await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` })).json();
  t.match(before, { status: 'valid', valid: true, events_checked: 2, purged: null }, 'the erased ledger still verifies during the period');

  const worker = await startTestWorker(t, ta, { clock });
  await settle(1000);
  t.notOk(await purged(ta, subject), 'nothing is purged before the period ends');
  now = new Date(erasedAt.erased_at.getTime() + 30 * DAY + 60_000);
  await receiver.waitFor(() => purgedEvents(receiver).length >= 1);
  t.ok(worker);

  const record = (await ta.sql.query('SELECT * FROM subject_purges WHERE tenant_id = $1 AND subject_id = $2', [ta.tenantId, subject])).rows[0];
  t.match(record, { ledger_seq: 2, ledger_head: erasedAt.ledger_head, requests: 2 }, 'the purge is recorded with the chain as it stood and the number of requests');
  t.equal(record.erased_at.getTime(), erasedAt.erased_at.getTime());
  t.same(purgedEvents(receiver).map((e) => e.data), [{ subject_id: subject, purged_at: record.purged_at.toISOString() }], 'subject.purged is delivered');
  t.same(await leftovers(ta, ids), [], 'no table names the person, their requests, tasks, ledger events or objections any more');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE tenant_id = $1`, [ta.tenantId])).rows[0].n, 0, 'the stored answer to the creation is gone');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM export_part_chunks`)).rows[0].n, 0, 'the export chunks went with their part');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM suppressions WHERE tenant_id = $1 AND request_id = $2`, [ta.tenantId, requestId])).rows[0].n, 2, 'the suppression-list hashes stay (Art. 21(3))');
  t.equal((await purgeRow(ta, subject))?.status, 'done');

  const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.equal(verify.statusCode, 200);
  t.same(
    verify.json(),
    {
      subject_id: subject,
      status: 'purged',
      valid: false,
      events_checked: 0,
      first_invalid: null,
      purged: { erased_at: erasedAt.erased_at.toISOString(), purged_at: record.purged_at.toISOString(), ledger_seq: 2, ledger_head: erasedAt.ledger_head },
    },
    'verification reports the chain as purged, with the head hash it had',
  );
  for (const url of [`/v1/subjects/${subject}`, `/v1/subjects/${subject}/consents`, `/v1/subjects/${subject}/consents/history`, `/v1/rights-requests/${requestId}`]) {
    const res = await ta.call({ method: 'GET', url });
    t.equal(res.statusCode, 404, `${url} answers 404`);
  }
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify`, tenantId: other })).statusCode, 404, "another tenant cannot learn of the purge");
  t.equal((await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'purge-me@example.com' }] } })).json().results[0].reason, 'suppressed', 'the objector stays suppressed after the purge');

  // The neighbour and the other tenant's erased person (whose period is still the default three years) are untouched.
  t.match((await ta.call({ method: 'GET', url: `/v1/subjects/${neighbour}/consents/verify` })).json(), { status: 'valid', events_checked: 1 });
  t.match((await ta.call({ method: 'GET', url: `/v1/subjects/${foreign}/consents/verify`, tenantId: other })).json(), { status: 'valid', events_checked: 1, purged: null });
  t.equal((await purgeRow(ta, foreign))?.status, 'pending', "the other tenant's purge waits for its own period");
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM rights_requests WHERE tenant_id = $1', [other])).rows[0].n, 1);

  // Run twice: another purge row for the same person, and the operator's command, change nothing.
  await ta.sql.query(`INSERT INTO outbox (id, tenant_id, topic, payload, ref_id, available_at) VALUES (gen_random_uuid(), $1, 'subject.purge', $2, $3, $4)`, [
    ta.tenantId,
    { subject_id: subject },
    subject,
    now,
  ]);
  await waitUntil('the second purge row is done', async () => (await ta.sql.query(`SELECT 1 FROM outbox WHERE topic = 'subject.purge' AND ref_id = $1 AND status = 'done'`, [subject])).rowCount === 2);
  t.same(await runPurge(ta.config, { tenantId: ta.tenantId }), { due: 0, purged: 0, postponed: 0 }, 'the command finds nothing left to purge');
  t.equal((await ta.sql.query('SELECT count(*)::int AS n FROM subject_purges')).rows[0].n, 1, 'one purge record');
  t.equal((await ta.sql.query(`SELECT count(*)::int AS n FROM outbox WHERE payload->>'type' = 'subject.purged'`)).rows[0].n, 1, 'announced once');
});

t.test('a longer period set before the due time postpones the purge; a shorter one brings it forward', async (t) => {
  let now = new Date('2026-02-02T09:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastWorkerEnv() });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: 30 } });
  await system(ta, 'CRM');
  const subject = await subjectWith(ta, 'later@example.com');
  await erase(ta, subject, { at: clock });
  const erasedAt = (await ta.sql.query('SELECT erased_at FROM subjects WHERE id = $1', [subject])).rows[0].erased_at as Date;
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: 90 } })).statusCode, 200);
  await startTestWorker(t, ta, { clock });

  now = new Date(erasedAt.getTime() + 31 * DAY);
  await waitUntil('the purge row is scheduled again', async () => (await purgeRow(ta, subject))?.available_at.getTime() === erasedAt.getTime() + 90 * DAY);
  const row = (await purgeRow(ta, subject))!;
  t.equal(row.status, 'pending', 'not purged: the period now ends later');
  t.match(row.last_error, /^not due: the accountability period ends at /, 'the row says why');
  t.notOk(await purged(ta, subject));
  t.match((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json(), { status: 'erased' }, 'the tombstone stays');

  // Shortened to 60 days: the waiting purge comes forward to the new end, and runs then.
  t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: 60 } })).statusCode, 200);
  t.equal((await purgeRow(ta, subject))?.available_at.getTime(), erasedAt.getTime() + 60 * DAY, 'a shorter period brings the purge forward');
  now = new Date(erasedAt.getTime() + 60 * DAY + 1000);
  await waitUntil('the purge ran', () => purged(ta, subject));
  t.equal((await purgeRow(ta, subject))?.status, 'done');
});

t.test('the purge command runs every due purge now, in one tenant or all, and prints counts only', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const people: Record<string, string> = {};
  for (const [name, tenantId] of [['due', undefined], ['recent', undefined], ['foreign', other]] as const) {
    await ta.call({ method: 'PATCH', url: '/v1/tenant', tenantId, payload: { accountability_days: 60 } });
    people[name] = await subjectWith(ta, `${name}@example.com`, tenantId);
    await erase(ta, people[name]!, { tenantId, at: () => new Date() });
  }
  // No worker ran (it was down); two of them were erased long enough ago: moved back behind the service's back.
  await ta.sql.query(`UPDATE subjects SET erased_at = now() - interval '61 days' WHERE id = ANY($1::uuid[])`, [[people.due, people.foreign]]);
  const report = await runPurge(ta.config, { tenantId: ta.tenantId });
  t.same(report, { due: 1, purged: 1, postponed: 0 }, 'only the tenant named, only what is due');
  t.notMatch(JSON.stringify(report), /[0-9a-f]{8}-[0-9a-f]{4}/, 'no ids printed');
  t.ok(await purged(ta, people.due!));
  t.notOk(await purged(ta, people.recent!), 'a person erased within the period stays');
  t.notOk(await purged(ta, people.foreign!), "another tenant's person is not touched when a tenant is named");
  t.equal((await purgeRow(ta, people.due!))?.status, 'done', 'the waiting purge row is settled with the purge');
  t.equal((await purgeRow(ta, people.recent!))?.status, 'pending');
  t.same(await runPurge(ta.config), { due: 1, purged: 1, postponed: 0 }, 'without --tenant: every tenant');
  t.ok(await purged(ta, people.foreign!));
  t.same(await runPurge(ta.config), { due: 0, purged: 0, postponed: 0 }, 'run again: nothing left');
});

t.test('a person with an open request or an open task is not purged until it closes', async (t) => {
  let now = new Date('2026-03-02T09:00:00Z');
  const clock = () => new Date(now);
  const ta = await build(t, { clock, env: fastWorkerEnv() });
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: 30 } });
  await system(ta, 'CRM');
  const subject = await subjectWith(ta, 'still-open@example.com');
  const access = await openRequest(ta, subject, 'access');
  const { requestId, taskIds } = await erase(ta, subject, { at: clock, leaveTaskOpen: true });
  const erasedAt = (await ta.sql.query('SELECT erased_at FROM subjects WHERE id = $1', [subject])).rows[0].erased_at as Date;
  await startTestWorker(t, ta, { clock });

  now = new Date(erasedAt.getTime() + 30 * DAY + 1000);
  await waitUntil('postponed for the open request', async () => /open rights request/.test((await purgeRow(ta, subject))?.last_error ?? ''));
  const row = (await purgeRow(ta, subject))!;
  t.equal(row.available_at.getTime(), now.getTime() + DAY, 'looked at again a day later');
  t.notOk(await purged(ta, subject));

  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${access}/withdraw`, payload: {} })).statusCode, 200);
  now = new Date(now.getTime() + DAY + 1000);
  await waitUntil('postponed for the open task', async () => /open system task/.test((await purgeRow(ta, subject))?.last_error ?? ''));
  t.notOk(await purged(ta, subject), 'the CRM has not answered: the history stays');

  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${requestId}/tasks/${taskIds[0]}/complete`, payload: {} });
  t.equal(done.statusCode, 200, done.body);
  now = new Date(now.getTime() + DAY + 1000);
  await waitUntil('purged once nothing is open', () => purged(ta, subject));
  t.equal((await ta.sql.query('SELECT requests FROM subject_purges WHERE subject_id = $1', [subject])).rows[0].requests, 2);
});

t.test('accountability_days is validated: out of range or not an integer is a 400 naming it, and nothing changes', async (t) => {
  const ta = await build(t);
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().accountability_days, 1095, 'three years by default');
  for (const value of [29, 36501, 1.5, '365', null, -1]) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: value, name: 'Changed' } });
    t.equal(res.statusCode, 400, `${JSON.stringify(value)} is refused`);
    t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ field: 'accountability_days' }] });
  }
  t.match((await ta.call({ method: 'GET', url: '/v1/tenant' })).json(), { name: 'Test controller', accountability_days: 1095 }, 'nothing was written');
  for (const value of [30, 36500]) {
    t.equal((await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { accountability_days: value } })).json().accountability_days, value, `${value} is accepted`);
  }
  const unknown = await ta.call({ method: 'GET', url: `/v1/subjects/${crypto.randomUUID()}/consents/verify` });
  t.equal(unknown.statusCode, 404, 'a subject never known (nor purged) is a 404');
});

t.test('verification tells a broken chain from a purged one', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter');
  const subject = await subjectWith(ta, 'tampered@example.com');
  await grant(ta, subject, 'newsletter');
  // A row removed behind the service: not a purge, so the chain is broken.
  await ta.sql.query(`BEGIN; SET LOCAL rightful.erasure = 'on'; DELETE FROM consent_events WHERE subject_id = '${subject}'; COMMIT;`);
  const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.match(res.json(), { status: 'broken', valid: false, purged: null });
});
