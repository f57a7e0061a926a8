// Rights requests: intake (subject, received_at, due date in the tenant's zone, sealed details, idempotency),
// the list with its filters and cursor, the audit trail, the DPO's stats, tenant isolation and scopes.
import t from 'tap';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { ALL_SCOPES, build, createSubject, type TestApp } from '../../helper.js';
import { assertProblem } from '../../helpers/problem.js';

const DAY = 86_400_000;

type Req = Record<string, any>;

async function open(ta: TestApp, payload: Record<string, unknown>, extra: { tenantId?: string; headers?: Record<string, string> } = {}): Promise<Req> {
  const res = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload, ...extra });
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`);
  return res.json();
}

const byEmail = (email: string) => ({ identifiers: [{ type: 'email', value: email }] });

/** app.inject as a named client (the token's `sub`), with all scopes. */
function as(ta: TestApp, sub: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return ta.app.inject({ ...opts, headers: { authorization: `Bearer ${ta.token(ALL_SCOPES, { sub })}`, ...(opts.headers ?? {}) } });
}

const fieldsOf = (body: Record<string, unknown>) => ((body.errors as { field: string }[] | undefined) ?? []).map((e) => e.field);

t.test('creation: the subject by id or by identifiers', async (t) => {
  const ta = await build(t);
  const known = await createSubject(ta, 'known@example.com');
  const subjectCount = async () => Number((await ta.sql.query('SELECT count(*) FROM subjects WHERE tenant_id = $1', [ta.tenantId])).rows[0].count);
  t.equal(await subjectCount(), 1);

  const byId = await open(ta, { subject: { id: known }, type: 'access', channel: 'web' });
  t.equal(byId.subject_id, known, 'a subject given by id');
  t.equal(byId.status, 'received');
  t.equal(byId.type, 'access');
  t.equal(byId.channel, 'web');

  const reused = await open(ta, { subject: byEmail('KNOWN@example.com'), type: 'erasure', channel: 'email' });
  t.equal(reused.subject_id, known, 'a known email reuses the subject (normalised)');
  t.equal(await subjectCount(), 1, 'no new subject for a known email');

  const fresh = await open(ta, { subject: byEmail('stranger@example.com'), type: 'access', channel: 'phone' });
  t.not(fresh.subject_id, known);
  t.equal(await subjectCount(), 2, 'an unknown person becomes a new subject');
  const subject = await ta.call({ method: 'GET', url: `/v1/subjects/${fresh.subject_id}` });
  t.equal(subject.statusCode, 200, 'the new subject exists');

  const again = await open(ta, { subject: byEmail('stranger@example.com'), type: 'portability', channel: 'letter' });
  t.equal(again.subject_id, fresh.subject_id, 'the person created by the first request is found by the second');
  t.equal(await subjectCount(), 2);

  const missing = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { id: '00000000-0000-4000-8000-000000000000' }, type: 'access', channel: 'web' },
  });
  assertProblem(t, missing, 404, 'SUBJECT_NOT_FOUND');
  const rows = await ta.sql.query('SELECT count(*) FROM rights_requests');
  t.equal(Number(rows.rows[0].count), 4, 'the refused request wrote nothing');

  // A subject of another tenant is unknown here.
  const other = await ta.newTenant('Other controller');
  const foreign = await createSubject(ta, 'foreign@example.com', other);
  const cross = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: foreign }, type: 'access', channel: 'web' } });
  assertProblem(t, cross, 404, 'SUBJECT_NOT_FOUND', "another tenant's subject");
});

t.test('received_at: defaults to now, may be in the past, never in the future', async (t) => {
  const now = new Date('2026-05-20T12:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const dflt = await open(ta, { subject: byEmail('a@example.com'), type: 'access', channel: 'web' });
  t.equal(dflt.received_at, now.toISOString(), 'defaults to now (the clock)');
  t.equal(dflt.due_date, '2026-06-22', '20 May → 20 June (Saturday) → Monday 22 June');

  const past = await open(ta, { subject: byEmail('a@example.com'), type: 'access', channel: 'letter', received_at: '2026-05-01T08:00:00Z' });
  t.equal(past.received_at, '2026-05-01T08:00:00.000Z', 'a past receipt is kept');
  t.equal(past.due_date, '2026-06-01', '1 May → 1 June (Monday)');

  const future = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: byEmail('a@example.com'), type: 'access', channel: 'web', received_at: new Date(now.getTime() + DAY).toISOString() },
  });
  const body = assertProblem(t, future, 400, 'VALIDATION_FAILED', 'future received_at');
  t.same(fieldsOf(body), ['received_at'], 'the problem names received_at');

  const notInstant = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: byEmail('a@example.com'), type: 'access', channel: 'web', received_at: '2026-05-01' } });
  t.ok(fieldsOf(assertProblem(t, notInstant, 400, 'VALIDATION_FAILED')).includes('received_at'), 'a bare date is not an instant');

  const badType = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: byEmail('a@example.com'), type: 'deletion', channel: 'web' } });
  t.ok(fieldsOf(assertProblem(t, badType, 400, 'VALIDATION_FAILED')).includes('type'));
  const badChannel = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: byEmail('a@example.com'), type: 'access', channel: 'fax' } });
  t.ok(fieldsOf(assertProblem(t, badChannel, 400, 'VALIDATION_FAILED')).includes('channel'));
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 2, 'refused requests wrote nothing');
});

t.test('due_date and due_at are computed in the tenant zone with its holidays', async (t) => {
  const ta = await build(t);
  const patched = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', holiday_calendar: 'BG' } });
  t.equal(patched.statusCode, 200, patched.body);
  const utcTenant = await ta.newTenant('A controller in UTC without holidays');

  const evening = await open(ta, { subject: byEmail('late@example.com'), type: 'access', channel: 'email', received_at: '2026-01-31T22:30:00Z' });
  t.equal(evening.due_date, '2026-03-02', '22:30 UTC on 31 Jan is 1 Feb in Sofia → 1 Mar is a Sunday → Monday 2 Mar');
  t.equal(evening.due_at, '2026-03-02T21:59:59.999Z', 'the end of 2 March in Sofia (UTC+2)');

  // 22:30 UTC on 2 Feb is 3 Feb in Sofia: one month is Tuesday 3 March, Liberation Day in Bulgaria → Wednesday 4 March.
  const holiday = await open(ta, { subject: byEmail('late@example.com'), type: 'access', channel: 'email', received_at: '2026-02-02T22:30:00Z' });
  t.equal(holiday.due_date, '2026-03-04', '3 March is a public holiday in BG → 4 March');
  t.equal(holiday.due_at, '2026-03-04T21:59:59.999Z');
  const inUtc = await open(ta, { subject: byEmail('late@example.com'), type: 'access', channel: 'email', received_at: '2026-02-02T22:30:00Z' }, { tenantId: utcTenant });
  t.equal(inUtc.due_date, '2026-03-02', 'the same instant for a UTC tenant without holidays: 2 Feb → Monday 2 March');
  t.equal(inUtc.due_at, '2026-03-02T23:59:59.999Z');

  // Orthodox Easter Monday 2026 (13 April) is public in BG; Sofia is on summer time by then (UTC+3).
  const easter = await open(ta, { subject: byEmail('late@example.com'), type: 'erasure', channel: 'letter', received_at: '2026-03-13T10:00:00Z' });
  t.equal(easter.due_date, '2026-04-14', '13 March → 13 April (Easter Monday in BG) → Tuesday 14 April');
  t.equal(easter.due_at, '2026-04-14T20:59:59.999Z', 'end of the day in Sofia summer time');

  const stored = await ta.sql.query('SELECT due_date::text AS d, due_at FROM rights_requests WHERE id = $1', [easter.id]);
  t.equal(stored.rows[0].d, '2026-04-14', 'the due date is stored as given');
  t.equal((stored.rows[0].due_at as Date).toISOString(), '2026-04-14T20:59:59.999Z');
  const got = await ta.call({ method: 'GET', url: `/v1/rights-requests/${easter.id}` });
  t.equal(got.json().due_date, '2026-04-14', 'GET answers the same deadline');
});

t.test('details come back decrypted but are stored sealed; Idempotency-Key replays the same request', async (t) => {
  const ta = await build(t);
  const details = 'Please correct my surname to Ivanova-Petrova and my street to Vitosha 42';
  const payload = { subject: byEmail('rect@example.com'), type: 'rectification', channel: 'email', details, corrections: [{ category: 'identity', field: 'surname', value: 'Ivanova-Petrova' }] };
  const first = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload, headers: { 'idempotency-key': 'crm-req-0001' } });
  t.equal(first.statusCode, 201, first.body);
  const created = first.json();
  t.equal(created.details, details, 'the answer carries the details in clear');
  const got = await ta.call({ method: 'GET', url: `/v1/rights-requests/${created.id}` });
  t.equal(got.json().details, details, 'GET decrypts them');
  const listed = await ta.call({ method: 'GET', url: '/v1/rights-requests' });
  t.equal(listed.json().items[0].details, details, 'the list decrypts them');

  const replay = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload, headers: { 'idempotency-key': 'crm-req-0001' } });
  t.equal(replay.statusCode, 201, 'a replay answers 201 again');
  t.equal(replay.json().id, created.id, 'the same request id');
  t.equal(replay.json().details, details, 'the replay presents the request with its details');
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 1, 'one request only');
  const createdEvents = await ta.sql.query(`SELECT count(*) FROM outbox WHERE payload->>'type' = 'request.created'`);
  t.equal(Number(createdEvents.rows[0].count), 1, 'one request.created only');

  const reused = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { ...payload, details: 'Something else entirely' },
    headers: { 'idempotency-key': 'crm-req-0001' },
  });
  assertProblem(t, reused, 409, 'IDEMPOTENCY_KEY_REUSED', 'the same key with another body');
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 1);

  // Behind the service's back: nowhere is the text in plaintext.
  const row = await ta.sql.query('SELECT details_sealed, row_to_json(r)::text AS j FROM rights_requests r WHERE id = $1', [created.id]);
  const sealed = row.rows[0].details_sealed as Buffer;
  t.ok(Buffer.isBuffer(sealed) && sealed.length > 0, 'details_sealed holds something');
  t.notOk(sealed.includes(Buffer.from('Ivanova')), 'details_sealed is not the plaintext');
  t.notOk(String(row.rows[0].j).includes('Ivanova'), 'no column of the request holds the text');
  t.notOk(String(row.rows[0].j).includes(Buffer.from('Ivanova').toString('hex')), 'not even hex-encoded');
  const keys = await ta.sql.query('SELECT row_to_json(k)::text AS j FROM idempotency_keys k');
  t.equal(keys.rows.length, 1, 'the key is stored');
  t.ok(String(keys.rows[0].j).includes(created.id), 'what is kept for replay names the request');
  t.notOk(String(keys.rows[0].j).includes('Ivanova'), 'idempotency_keys do not keep the details');
  for (const table of ['outbox', 'rights_request_events']) {
    const all = await ta.sql.query(`SELECT coalesce(string_agg(row_to_json(x)::text, ' '), '') AS j FROM ${table} x`);
    t.notOk(String(all.rows[0].j).includes('Ivanova'), `${table} does not hold the details`);
  }
});

t.test('list filters, overdue and stats follow the clock; another tenant never shows', async (t) => {
  let now = new Date('2026-03-10T10:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const other = await ta.newTenant('Other controller');
  const s1 = await createSubject(ta, 's1@example.com');
  const s2 = await createSubject(ta, 's2@example.com');
  const s3 = await createSubject(ta, 's3@example.com');
  const mk = (subject: string, type: string, received_at?: string) =>
    open(ta, { subject: { id: subject }, type, channel: 'web', ...(received_at ? { received_at } : {}), ...(type === 'restriction' ? { restriction_ground: 'accuracy_contested' } : {}) });

  const r1 = await mk(s1, 'access', '2026-01-05T10:00:00Z'); // due 5 Feb: overdue
  const r2 = await mk(s1, 'erasure', '2026-02-12T10:00:00Z'); // due Thu 12 Mar: within 7 days
  const r3 = await mk(s2, 'access'); // due Fri 10 Apr
  const r4 = await mk(s2, 'restriction'); // in_progress at once, due 10 Apr
  const r5 = await mk(s2, 'objection', '2026-01-02T10:00:00Z'); // completed at once; its old deadline is no longer overdue
  const r6 = await mk(s3, 'access', '2026-01-06T10:00:00Z'); // would be overdue, but paused below
  const r7 = await mk(s3, 'portability', '2026-03-01T10:00:00Z'); // awaiting identity below
  t.equal(r1.due_date, '2026-02-05');
  t.equal(r1.overdue, true, 'r1 is overdue on creation');
  t.equal(r2.due_date, '2026-03-12');
  t.equal(r2.overdue, false);
  t.equal(r4.status, 'in_progress');
  t.equal(r5.status, 'completed');
  t.equal(r5.overdue, false, 'a closed request is never overdue');
  const assigned = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r2.id}/assign`, payload: { assignee: 'dpo-anna' } });
  t.equal(assigned.json().status, 'awaiting_approval', 'an erasure assigned still waits for the approval (Art. 17)');
  const paused = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r6.id}/request-clarification`, payload: {} });
  t.equal(paused.json().due_date, null);
  t.equal(paused.json().overdue, false, 'a paused request is not overdue');
  const waiting = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r7.id}/request-identity`, payload: { reason: 'A second address on the letter' } });
  t.equal(waiting.json().status, 'awaiting_identity');

  // The other tenant: an overdue request, a paused one and a completed one, which must never leak into this tenant.
  const o1 = await open(ta, { subject: byEmail('o@example.com'), type: 'access', channel: 'web', received_at: '2026-01-05T10:00:00Z' }, { tenantId: other });
  const o2 = await open(ta, { subject: byEmail('o@example.com'), type: 'access', channel: 'web' }, { tenantId: other });
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${o2.id}/request-identity`, payload: { reason: 'A second address on the letter' }, tenantId: other });
  const o3 = await open(ta, { subject: byEmail('o@example.com'), type: 'objection', channel: 'web' }, { tenantId: other });
  const foreign = new Set([o1.id, o2.id, o3.id]);

  const name = new Map([r1, r2, r3, r4, r5, r6, r7].map((r, i) => [r.id as string, `r${i + 1}`]));
  const ids = async (query: string, tenantId?: string): Promise<string[]> => {
    const res = await ta.call({ method: 'GET', url: `/v1/rights-requests?${query}`, tenantId });
    t.equal(res.statusCode, 200, `${query}: ${res.body.slice(0, 200)}`);
    const items = res.json().items as Req[];
    for (const it of items) if (foreign.has(it.id)) t.fail(`${query}: another tenant's request ${it.id} is listed`);
    return items.map((it) => name.get(it.id) ?? `foreign:${it.id}`).sort();
  };

  t.same(await ids(''), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'], 'no filter: every request of the tenant, none of the other');
  t.same(await ids('status=received'), ['r1', 'r3', 'r6']);
  t.same(await ids('status=in_progress'), ['r4']);
  t.same(await ids('status=awaiting_approval'), ['r2']);
  t.same(await ids('status=awaiting_identity'), ['r7']);
  t.same(await ids('status=completed'), ['r5']);
  t.same(await ids('status=withdrawn'), []);
  t.same(await ids('type=access'), ['r1', 'r3', 'r6']);
  t.same(await ids('type=objection'), ['r5']);
  t.same(await ids(`subject_id=${s1}`), ['r1', 'r2']);
  t.same(await ids(`subject_id=${s3}&type=portability`), ['r7']);
  t.same(await ids('assignee=dpo-anna'), ['r2']);
  t.same(await ids('assignee=nobody'), []);
  t.same(await ids('overdue=true'), ['r1']);
  t.same(await ids('overdue=false'), ['r2', 'r3', 'r4', 'r5', 'r6', 'r7'], 'overdue=false: the others, paused and closed included');
  t.same(await ids('overdue=false&status=completed'), ['r5'], 'overdue=false combines with the other filters');
  t.same(await ids(`overdue=false&subject_id=${s1}`), ['r2']);
  t.same(await ids('overdue=true&type=erasure'), []);
  t.same(await ids('due_before=2026-03-12'), ['r1', 'r2', 'r5'], 'due on or before the date');
  t.same(await ids('due_before=2026-03-11'), ['r1', 'r5']);
  t.same(await ids('due_before=2026-04-10&status=received'), ['r1', 'r3'], 'a paused request has no due date');
  const listedR1 = (await ta.call({ method: 'GET', url: '/v1/rights-requests?overdue=true' })).json().items[0];
  t.equal(listedR1.overdue, true, 'the listed item says overdue');
  const badFilter = await ta.call({ method: 'GET', url: '/v1/rights-requests?status=open' });
  assertProblem(t, badFilter, 400, 'VALIDATION_FAILED', 'an unknown status');
  const badDate = await ta.call({ method: 'GET', url: '/v1/rights-requests?due_before=tomorrow' });
  assertProblem(t, badDate, 400, 'VALIDATION_FAILED', 'due_before is a date');

  // The other tenant sees only its own.
  const theirs = await ta.call({ method: 'GET', url: '/v1/rights-requests?overdue=false', tenantId: other });
  t.same((theirs.json().items as Req[]).map((r) => r.id).sort(), [o2.id, o3.id].sort(), "the other tenant's overdue=false");

  const stats = async (tenantId?: string) => {
    const res = await ta.call({ method: 'GET', url: '/v1/rights-requests/stats', tenantId });
    t.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  t.same(await stats(), {
    open_by_status: { received: 3, awaiting_approval: 1, in_progress: 1, awaiting_identity: 1 },
    open_by_type: { access: 3, erasure: 1, restriction: 1, portability: 1 },
    overdue: 1,
    due_next_7_days: 1,
    waiting_on_systems: [],
  }, '10 March: r1 overdue, r2 due on 12 March');
  t.same(await stats(other), { open_by_status: { received: 1, awaiting_identity: 1 }, open_by_type: { access: 2 }, overdue: 1, due_next_7_days: 0, waiting_on_systems: [] }, "the other tenant's view");

  now = new Date('2026-03-12T21:59:59Z');
  t.match(await stats(), { overdue: 1, due_next_7_days: 1 }, 'the last day of r2 is not over yet');
  now = new Date('2026-03-13T00:00:00Z');
  t.match(await stats(), { overdue: 2, due_next_7_days: 0 }, '13 March: r2 is overdue too');
  t.same(await ids('overdue=true'), ['r1', 'r2'], 'the list follows the clock');
  const r2now = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r2.id}` });
  t.equal(r2now.json().overdue, true, 'GET follows the clock');

  now = new Date('2026-04-04T00:00:00Z');
  t.match(await stats(), { overdue: 2, due_next_7_days: 2 }, '4 April: r3 and r4 fall due within 7 days (10 April)');
  const closed = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r3.id}/complete`, payload: { resolution: 'Sent', subject_notified_at: '2026-04-03T10:00:00Z', notified_by: 'email' } });
  t.equal(closed.statusCode, 200, closed.body);
  t.same(await stats(), {
    open_by_status: { received: 2, awaiting_approval: 1, in_progress: 1, awaiting_identity: 1 },
    open_by_type: { access: 2, erasure: 1, restriction: 1, portability: 1 },
    overdue: 2,
    due_next_7_days: 1,
    waiting_on_systems: [],
  }, 'a completed request leaves the morning view');

  const fresh = await ta.newTenant('Empty');
  t.same(await stats(fresh), { open_by_status: {}, open_by_type: {}, overdue: 0, due_next_7_days: 0, waiting_on_systems: [] }, 'an empty tenant');
});

t.test('cursor pagination: limit=2 across 5 requests', async (t) => {
  const ta = await build(t);
  const created: string[] = [];
  for (let i = 0; i < 5; i++) created.push((await open(ta, { subject: byEmail(`p${i}@example.com`), type: 'access', channel: 'web' })).id);
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page++) {
    const res: LightMyRequestResponse = await ta.call({ method: 'GET', url: `/v1/rights-requests?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
    t.equal(res.statusCode, 200, res.body);
    const body = res.json();
    sizes.push(body.items.length);
    seen.push(...body.items.map((r: Req) => r.id));
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  t.same(sizes, [2, 2, 1], 'three pages: 2, 2, 1');
  t.same(seen, [...created].reverse(), 'newest first, each request exactly once');
  const whole = await ta.call({ method: 'GET', url: '/v1/rights-requests?limit=50' });
  t.same(whole.json().items.map((r: Req) => r.id), seen, 'the pages concatenate to the unpaged list');
  t.equal(whole.json().next_cursor, null);

  // The cursor and a filter together.
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${created[1]}/withdraw`, payload: {} });
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${created[3]}/withdraw`, payload: {} });
  const p1 = await ta.call({ method: 'GET', url: '/v1/rights-requests?status=received&limit=2' });
  const p2 = await ta.call({ method: 'GET', url: `/v1/rights-requests?status=received&limit=2&cursor=${encodeURIComponent(p1.json().next_cursor)}` });
  t.same([...p1.json().items, ...p2.json().items].map((r: Req) => r.id), [created[4], created[2], created[0]]);
  t.equal(p2.json().next_cursor, null);
  const bad = await ta.call({ method: 'GET', url: '/v1/rights-requests?cursor=not-a-cursor' });
  assertProblem(t, bad, 400, undefined, 'a forged cursor');
});

t.test('GET /events: the audit trail in order, with who and when', async (t) => {
  const now = new Date('2026-03-10T10:00:00Z');
  const ta = await build(t, { clock: () => new Date(now) });
  const res = await as(ta, 'crm-intake', {
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: byEmail('trail@example.com'), type: 'access', channel: 'phone', received_at: '2026-03-02T09:00:00Z' },
  });
  t.equal(res.statusCode, 201, res.body);
  const id = res.json().id;
  t.equal(res.json().due_date, '2026-04-02');
  const step = async (sub: string, action: string, payload: Record<string, unknown>) => {
    const r = await as(ta, sub, { method: 'POST', url: `/v1/rights-requests/${id}/${action}`, payload });
    t.equal(r.statusCode, 200, `${action}: ${r.body}`);
    return r.json();
  };
  await step('dpo-anna', 'assign', { assignee: 'dpo-anna', at: '2026-03-03T10:00:00Z' });
  await step('dpo-boris', 'comment', { note: 'Called the subject back about the scope' });
  await step('dpo-anna', 'request-clarification', { at: '2026-03-04T10:00:00Z' });
  const resumed = await step('dpo-anna', 'clarification-received', { at: '2026-03-06T10:00:00Z' });
  t.equal(resumed.due_date, '2026-04-03', 'eu: 4 → 6 March pauses 1 day (exclusive) → Friday 3 April');
  await step('dpo-anna', 'complete', { resolution: 'Sent the copy by registered letter', subject_notified_at: '2026-03-09T10:00:00Z', notified_by: 'letter' });

  const ev = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events` });
  t.equal(ev.statusCode, 200, ev.body);
  const items = ev.json().items as Req[];
  t.same(items.map((e) => e.seq), [1, 2, 3, 4, 5, 6], 'seq in order');
  t.same(items.map((e) => [e.action, e.from_status, e.to_status, e.actor]), [
    ['created', null, 'received', 'crm-intake'],
    ['assign', 'received', 'in_progress', 'dpo-anna'],
    ['comment', 'in_progress', null, 'dpo-boris'],
    ['request-clarification', 'in_progress', null, 'dpo-anna'],
    ['clarification-received', 'in_progress', null, 'dpo-anna'],
    ['complete', 'in_progress', 'completed', 'dpo-anna'],
  ], 'what, from which status to which, and by which client');
  t.same(items.map((e) => e.at), [
    '2026-03-02T09:00:00.000Z',
    '2026-03-03T10:00:00.000Z',
    now.toISOString(),
    '2026-03-04T10:00:00.000Z',
    '2026-03-06T10:00:00.000Z',
    now.toISOString(),
  ], 'when it happened');
  t.ok(items.every((e) => e.recorded_at === now.toISOString()), 'when it was recorded');
  t.equal(items[1]!.facts.assignee, 'dpo-anna');
  t.equal(items[2]!.note, 'Called the subject back about the scope', 'the comment, decrypted');
  t.equal(items[3]!.facts.due_date, null, 'the pause took the due date away');
  t.equal(items[4]!.facts.due_date, '2026-04-03', 'and the resumption gave it back, moved');
  t.equal(items[5]!.note, 'Sent the copy by registered letter', 'the resolution note');
  const stored = await ta.sql.query(`SELECT coalesce(string_agg(row_to_json(e)::text, ' '), '') AS j FROM rights_request_events e`);
  t.notOk(String(stored.rows[0].j).includes('Called the subject'), 'notes are stored sealed');

  const p1 = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events?limit=4` });
  t.same(p1.json().items.map((e: Req) => e.seq), [1, 2, 3, 4]);
  t.type(p1.json().next_cursor, 'string');
  const p2 = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events?limit=4&cursor=${encodeURIComponent(p1.json().next_cursor)}` });
  t.same(p2.json().items.map((e: Req) => e.seq), [5, 6]);
  t.equal(p2.json().next_cursor, null);
});

const TRANSITION_BODIES: Record<string, Record<string, unknown>> = {
  'request-identity': { reason: 'The signature differs' },
  'identity-verified': {},
  'request-clarification': {},
  'clarification-received': {},
  extend: { reason: 'Many systems', subject_informed_at: '2020-01-01T00:00:00Z' },
  reject: { grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: 'Fifth identical request this month', subject_notified_at: '2020-01-01T00:00:00Z', notified_by: 'email' },
  complete: { resolution: 'Done', subject_notified_at: '2020-01-01T00:00:00Z', notified_by: 'email' },
  withdraw: {},
  assign: { assignee: 'dpo-anna' },
  comment: { note: 'A note' },
};

t.test("another tenant's request is 404 on GET, events and every transition", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const theirs = await open(ta, { subject: byEmail('theirs@example.com'), type: 'access', channel: 'web' }, { tenantId: other });
  const before = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${theirs.id}`, tenantId: other })).json();

  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/rights-requests/${theirs.id}` }), 404, 'RIGHTS_REQUEST_NOT_FOUND', 'GET');
  assertProblem(t, await ta.call({ method: 'GET', url: `/v1/rights-requests/${theirs.id}/events` }), 404, 'RIGHTS_REQUEST_NOT_FOUND', 'events');
  for (const [action, payload] of Object.entries(TRANSITION_BODIES)) {
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${theirs.id}/${action}`, payload });
    assertProblem(t, res, 404, 'RIGHTS_REQUEST_NOT_FOUND', action);
  }
  const after = await ta.call({ method: 'GET', url: `/v1/rights-requests/${theirs.id}`, tenantId: other });
  t.same(after.json(), before, "the other tenant's request is untouched");
  const events = await ta.sql.query('SELECT count(*) FROM rights_request_events WHERE request_id = $1', [theirs.id]);
  t.equal(Number(events.rows[0].count), 1, 'only its creation is in its audit trail');
  const outbox = await ta.sql.query(`SELECT count(*) FROM outbox WHERE ref_id = $1 AND payload->>'type' NOT IN ('request.deadline_approaching', 'request.overdue')`, [theirs.id]);
  t.equal(Number(outbox.rows[0].count), 1, 'and only request.created in the outbox');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/rights-requests/00000000-0000-4000-8000-000000000000' }), 404, 'RIGHTS_REQUEST_NOT_FOUND', 'an unknown id');
});

t.test('scopes: requests:read to read, requests:write to write', async (t) => {
  const ta = await build(t);
  const r = await open(ta, { subject: byEmail('scoped@example.com'), type: 'access', channel: 'web' });
  for (const url of ['/v1/rights-requests', '/v1/rights-requests/stats', `/v1/rights-requests/${r.id}`, `/v1/rights-requests/${r.id}/events`]) {
    assertProblem(t, await ta.call({ method: 'GET', url, scope: 'requests:write subjects:read' }), 403, 'FORBIDDEN', `GET ${url} without requests:read`);
    const ok = await ta.call({ method: 'GET', url, scope: 'requests:read' });
    t.equal(ok.statusCode, 200, `GET ${url} with requests:read`);
  }
  const post = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    scope: 'requests:read subjects:write',
    payload: { subject: byEmail('scoped@example.com'), type: 'erasure', channel: 'web' },
  });
  assertProblem(t, post, 403, 'FORBIDDEN', 'POST without requests:write');
  for (const [action, payload] of Object.entries(TRANSITION_BODIES)) {
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/${action}`, payload, scope: 'requests:read' });
    assertProblem(t, res, 403, 'FORBIDDEN', `${action} without requests:write`);
  }
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_requests')).rows[0].count), 1, 'no request created');
  t.equal(Number((await ta.sql.query('SELECT count(*) FROM rights_request_events')).rows[0].count), 1, 'no transition recorded');
  const writeOnly = await ta.call({ method: 'POST', url: '/v1/rights-requests', scope: 'requests:write', payload: { subject: byEmail('scoped@example.com'), type: 'erasure', channel: 'web' } });
  t.equal(writeOnly.statusCode, 201, 'requests:write alone is enough to open a request');
});
