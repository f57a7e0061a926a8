import t from 'tap';
import { build, createPurpose } from '../../helper.js';

t.test('open, extend and complete a request', async (t) => {
  const ta = await build(t);
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', holiday_calendar: 'BG' } });
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const res = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'req@example.com' }] }, type: 'access', channel: 'email', received_at: '2026-01-31T22:30:00Z', details: 'All my data please' },
  });
  t.equal(res.statusCode, 201, res.body);
  const r = res.json();
  t.equal(r.due_date, '2026-03-02', '1 Feb in Sofia → 1 Mar (Sunday) → Monday 2 Mar');
  t.equal(r.details, 'All my data please');
  const ext = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/extend`, payload: { reason: 'Many systems', at: '2026-02-10T10:00:00Z', subject_informed_at: '2026-02-10T10:30:00Z' } });
  t.equal(ext.statusCode, 200, ext.body);
  t.equal(ext.json().due_date, '2026-05-04', '1 May holiday+weekend → Monday 4 May? ');
  const done = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/complete`, payload: { resolution: 'Sent the export', subject_notified_at: new Date().toISOString(), notified_by: 'email' } });
  t.equal(done.statusCode, 200);
  t.equal(done.json().status, 'completed');
  const again = await ta.call({ method: 'POST', url: `/v1/rights-requests/${r.id}/complete`, payload: { resolution: 'x', subject_notified_at: new Date().toISOString(), notified_by: 'email' } });
  t.equal(again.statusCode, 409);
  const events = await ta.call({ method: 'GET', url: `/v1/rights-requests/${r.id}/events` });
  t.same(events.json().items.map((e: { action: string }) => e.action), ['created', 'extend', 'complete']);
  const stats = await ta.call({ method: 'GET', url: '/v1/rights-requests/stats' });
  t.equal(stats.statusCode, 200, stats.body);
  const pending = await ta.sql.query(`SELECT payload->>'type' AS type, status FROM outbox WHERE ref_id = $1 ORDER BY created_at`, [r.id]);
  t.ok(pending.rows.length > 0);
  t.ok(pending.rows.filter((x) => x.type === 'request.deadline_approaching' || x.type === 'request.overdue').every((x) => x.status !== 'pending'), 'no reminder left pending after completion');
});
