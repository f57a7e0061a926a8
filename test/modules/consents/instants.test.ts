// Client-supplied instants keep to 1970-01-01..9999-12-31, and a ledger written with a year-0 instant before that
// rule (it could not be read back) reads, verifies and is repaired.
import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';
import { chainHash } from '../../../src/modules/consents/consents.ledger.js';
import { runRepair } from '../../../src/cli/repair.js';

t.test('client instants out of range are refused with 400 naming the field', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const subject = await createSubject(ta, 'ana@example.com');
  const outOfRange = ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '1969-12-31T23:59:59Z', '9999-12-31T23:59:59-01:00'];
  for (const at of outOfRange) {
    const consent = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { occurred_at: at, decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    t.equal(consent.statusCode, 400, `occurred_at ${at}`);
    t.ok(consent.json().errors.some((e: { field: string }) => e.field === 'occurred_at'), 'names occurred_at');

    const objection = await ta.call({ method: 'POST', url: `/v1/subjects/${subject}/objections`, payload: { scope: 'direct_marketing', occurred_at: at } });
    t.equal(objection.statusCode, 400, `objection occurred_at ${at}`);

    const request = await ta.call({
      method: 'POST',
      url: '/v1/rights-requests',
      payload: { subject: { id: subject }, type: 'access', channel: 'email', received_at: at },
    });
    t.equal(request.statusCode, 400, `received_at ${at}`);
    t.ok(request.json().errors.some((e: { field: string }) => e.field === 'received_at'), 'names received_at');
  }
  for (const due of ['0000-01-01', '1969-12-31', '2024-02-30']) {
    const list = await ta.call({ method: 'GET', url: `/v1/rights-requests?due_before=${due}` });
    t.equal(list.statusCode, 400, `due_before ${due}`);
    t.equal(list.json().errors[0].field, 'query.due_before');
  }
  const ok = await ta.call({
    method: 'POST',
    url: `/v1/subjects/${subject}/consents`,
    payload: { occurred_at: '1970-01-01T00:00:00Z', decisions: [{ purpose: 'newsletter', action: 'grant', source: 'written', evidence: { collected_by: 'front-desk' } }] },
  });
  t.equal(ok.statusCode, 201, 'the first instant of the range is accepted');
  const state = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
  t.equal(state.json().purposes[0].since, '1970-01-01T00:00:00.000Z');
  const rr = await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'email' } });
  const transition = await ta.call({ method: 'POST', url: `/v1/rights-requests/${rr.json().id}/comment`, payload: { note: 'x', at: '0000-01-01T00:00:00Z' } });
  t.equal(transition.statusCode, 400, 'a transition at year 0 is refused');
});

t.test('a ledger poisoned with a year-0 instant reads, verifies, and is repaired without breaking its chain', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const subject = await createSubject(ta, 'boris@example.com');
  const first = (await grant(ta, subject, 'newsletter')).events[0];

  // What the service wrote before the range check: a withdrawal with occurred_at 0000-01-01 (1 BC in Postgres),
  // correctly chained, and a projection that ignored it (a year-0 decision never "occurred last").
  const id = crypto.randomUUID();
  const recordedAt = new Date(Date.now() + 1); // recorded after the grant, as the service would have
  const fields = {
    id,
    tenantId: ta.tenantId,
    subjectId: subject,
    seq: 2,
    purposeKey: 'newsletter',
    purposeVersion: 1,
    action: 'withdraw',
    source: 'api',
    occurredAt: new Date('0000-01-01T00:00:00Z'),
    recordedAt,
    evidenceSealed: null,
  };
  const hash = chainHash(first.hash, fields);
  await ta.sql.query(
    `INSERT INTO consent_events (id, tenant_id, subject_id, seq, purpose_key, purpose_version, action, source, occurred_at, recorded_at, prev_hash, hash)
     VALUES ($1, $2, $3, 2, 'newsletter', 1, 'withdraw', 'api', '0001-01-01 00:00:00+00 BC', $4, $5, $6)`,
    [id, ta.tenantId, subject, recordedAt, first.hash, hash],
  );
  await ta.sql.query('UPDATE subjects SET ledger_seq = 2, ledger_head = $1 WHERE id = $2', [hash, subject]);
  const stored = await ta.sql.query('SELECT occurred_at::text AS v FROM consent_events WHERE id = $1', [id]);
  t.equal(stored.rows[0].v, '0001-01-01 00:00:00+00 BC', 'Postgres holds 1 BC');

  const history = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history` });
  t.equal(history.statusCode, 200, 'the history reads before the repair');
  t.equal(history.json().items[1].occurred_at, '0000-01-01T00:00:00.000Z');
  const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.same(verify.json(), { subject_id: subject, status: 'valid', valid: true, events_checked: 2, first_invalid: null, purged: null }, 'and verifies');
  const before = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
  t.equal(before.statusCode, 200);
  t.equal(before.json().purposes[0].status, 'granted', 'the poisoned withdrawal was ignored by the projection');

  const report = await runRepair(ta.config);
  t.same(report, { ledger_events_corrected: 1, ledgers_repaired: 1, requests_sealed: 0 });
  t.same(await runRepair(ta.config), { ledger_events_corrected: 0, ledgers_repaired: 0, requests_sealed: 0 }, 'a second run changes nothing');

  const after = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history` });
  const event = after.json().items[1];
  t.equal(event.occurred_at, recordedAt.toISOString(), 'occurred_at reads as the recorded_at');
  t.equal(event.correction.recorded_occurred_at, '0000-01-01T00:00:00.000Z', 'the value the hash covers is shown beside it');
  t.equal(event.hash, hash, 'the event itself is unchanged');
  const reverify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.equal(reverify.json().valid, true, 'the chain still verifies after the repair');
  const state = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
  t.equal(state.json().purposes[0].status, 'withdrawn', 'the withdrawal takes effect at its corrected time');
  t.equal(state.json().purposes[0].since, recordedAt.toISOString());
  const check = await ta.call({ method: 'POST', url: '/v1/consents/check', payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: 'boris@example.com' }] } });
  t.equal(check.json().results[0].reason, 'consent_withdrawn');

  const next = await grant(ta, subject, 'newsletter');
  t.equal(next.events[0].prev_hash, hash, 'the ledger goes on from the repaired chain');
});
