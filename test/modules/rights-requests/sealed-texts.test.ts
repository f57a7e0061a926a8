// Free text about a person on a rights request (extension reason, rejection detail, resolution) is sealed under
// the subject's key: readable through the API, absent from a database dump; plaintext from before is sealed by repair.
import t from 'tap';
import { build, createSubject } from '../../helper.js';
import { runRepair } from '../../../src/cli/repair.js';

const CANARY = '+359 88 765 4321';

async function dump(ta: Awaited<ReturnType<typeof build>>, requestId: string): Promise<string> {
  const r = await ta.sql.query('SELECT row_to_json(r)::text AS j FROM rights_requests r WHERE id = $1', [requestId]);
  const e = await ta.sql.query('SELECT row_to_json(e)::text AS j FROM rights_request_events e WHERE request_id = $1', [requestId]);
  return [...r.rows, ...e.rows].map((x) => x.j).join('\n');
}

t.test('extension reason, rejection detail and resolution are stored sealed, and read back', async (t) => {
  const ta = await build(t);
  const subject = await createSubject(ta, 'ana@example.com');
  const open = async () => (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'phone' } })).json().id;

  const extended = await open();
  const ext = await ta.call({ method: 'POST', url: `/v1/rights-requests/${extended}/extend`, payload: { reason: `Many systems; she asked to be called at ${CANARY}`, subject_informed_at: new Date().toISOString() } });
  t.equal(ext.statusCode, 200);
  t.equal(ext.json().extension_reason, `Many systems; she asked to be called at ${CANARY}`, 'the API shows the reason');
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${extended}/complete`, payload: { resolution: `Export sent; confirmed by phone ${CANARY}`, subject_notified_at: new Date().toISOString(), notified_by: 'phone' } });
  t.equal(done.json().outcome.resolution, `Export sent; confirmed by phone ${CANARY}`);
  t.equal(done.json().extension_reason, `Many systems; she asked to be called at ${CANARY}`, 'completing keeps the reason');

  const rejected = await open();
  const rej = await ta.call({ method: 'POST', url: `/v1/rights-requests/${rejected}/reject`, payload: { ground: 'excessive', detail: `Third request this week from ${CANARY}`, subject_notified_at: new Date().toISOString(), notified_by: 'letter' } });
  t.match(rej.json().outcome, { result: 'refused', ground: 'excessive', grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], detail: `Third request this week from ${CANARY}` });

  for (const id of [extended, rejected]) {
    const raw = await dump(ta, id);
    t.notMatch(raw, /765 4321/, 'no free text in plaintext in the request or its audit trail');
    const events = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events` });
    t.ok(events.json().items.some((e: { note: string | null }) => e.note?.includes(CANARY)), 'the audit trail shows it, decrypted');
  }
  const got = await ta.call({ method: 'GET', url: `/v1/rights-requests/${extended}` });
  t.equal(got.json().extension_reason, `Many systems; she asked to be called at ${CANARY}`);
});

t.test('repair seals plaintext that requests written before still hold', async (t) => {
  const ta = await build(t);
  const subject = await createSubject(ta, 'boris@example.com');
  const id = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'email' } })).json().id;
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/extend`, payload: { reason: 'sealed already', subject_informed_at: new Date().toISOString() } });
  // What the service wrote before: the reason and the detail in plaintext columns, the reason in the audit facts.
  await ta.sql.query(
    `UPDATE rights_requests SET texts_sealed = NULL, extension_reason = $2, status = 'rejected', outcome = $3 WHERE id = $1`,
    [id, `Call ${CANARY}`, JSON.stringify({ ground: 'excessive', detail: `Wrote from ${CANARY}` })],
  );
  await ta.sql.query(`UPDATE rights_request_events SET facts = $2 WHERE request_id = $1 AND action = 'extend'`, [id, JSON.stringify({ reason: `Call ${CANARY}` })]);
  const before = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}` });
  t.equal(before.json().extension_reason, `Call ${CANARY}`, 'legacy plaintext still reads');

  const report = await runRepair(ta.config);
  t.equal(report.requests_sealed, 1);
  t.notMatch(await dump(ta, id), /765 4321/, 'nothing left in plaintext');
  const after = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}` });
  t.equal(after.json().extension_reason, `Call ${CANARY}`);
  t.match(after.json().outcome, { result: 'refused', grounds: ['art12_5_b_manifestly_unfounded_or_excessive'], ground: 'excessive', detail: `Wrote from ${CANARY}` });
  const events = await ta.call({ method: 'GET', url: `/v1/rights-requests/${id}/events` });
  t.same(events.json().items.find((e: { action: string }) => e.action === 'extend').facts, { reason_given: true });
  t.equal((await runRepair(ta.config)).requests_sealed, 0, 'a second run finds nothing');
});
