// Art. 19: every recipient is told of a rectification, erasure or restriction, "unless this proves impossible or
// involves disproportionate effort" — which the DPO records, with why, per recipient. It keeps nothing, so the
// request is not partial for it; the controller's own systems can never be let off this way.
import t from 'tap';
import { build, type TestApp } from '../../helper.js';

const ENV = { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } };

async function system(ta: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await ta.call({ method: 'POST', url: '/v1/systems', payload: { kind: 'crm', handles: ['erasure'], contact_email: 'privacy@system.example', ...body } });
  if (res.statusCode !== 201) throw new Error(`system: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

t.test('a recipient that cannot be told is recorded as such; the erasure completes as granted', async (t) => {
  const ta = await build(t, ENV);
  const partner = await system(ta, { name: 'Former partner', recipient: true });
  await system(ta, { name: 'Own CRM' });
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'art19@example.com' }] } })).json().id;
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } })).json();
  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } })).statusCode, 200);
  const tasks = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/tasks` })).json().items as { id: string; system_id: string }[];
  const partnerTask = tasks.find((x) => x.system_id === partner)!;
  const ownTask = tasks.find((x) => x.system_id !== partner)!;
  const exempt = (id: string, payload: Record<string, unknown>) => ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/tasks/${id}/exempt`, payload });

  const noReason = await exempt(partnerTask.id, { ground: 'art19_impossible' });
  t.equal(noReason.statusCode, 400);
  t.match(noReason.json().errors, [{ field: 'reason' }], 'why it is impossible must be said');
  const withCategories = await exempt(partnerTask.id, { ground: 'art19_impossible', reason: 'The partner was dissolved in 2024', categories: ['contact'] });
  t.equal(withCategories.statusCode, 400);
  t.match(withCategories.json().errors, [{ field: 'categories' }]);
  const own = await exempt(ownTask.id, { ground: 'art19_disproportionate_effort', reason: 'Too much work' });
  t.equal(own.statusCode, 409, "the controller's own system is never let off by Art. 19");
  const art17NoCategories = await exempt(ownTask.id, { ground: 'art17_3_b_legal_obligation' });
  t.equal(art17NoCategories.statusCode, 400);
  t.match(art17NoCategories.json().errors, [{ field: 'categories' }], 'an Art. 17(3) exemption names what is kept');

  const ok = await exempt(partnerTask.id, { ground: 'art19_impossible', reason: 'The partner was dissolved in 2024' });
  t.equal(ok.statusCode, 200, ok.body);
  t.match(ok.json(), { status: 'exempt', exemption: { ground: 'art19_impossible', categories: [], until: null }, reason: 'The partner was dissolved in 2024' });
  t.equal((await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json().status, 'in_progress', 'the own system still has to act');

  t.equal((await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/tasks/${ownTask.id}/complete`, payload: {} })).statusCode, 200);
  const done = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json();
  t.match(done, { status: 'completed', outcome: { result: 'granted', grounds: [] } }, 'not partial: the recipient keeps nothing by Art. 19');
  const trail = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/events` })).json().items as { action: string; facts: Record<string, unknown> }[];
  t.ok(trail.some((e) => e.action === 'task.exempt' && e.facts.ground === 'art19_impossible' && e.facts.reason_given === true), 'the audit trail records the ground and that a reason was given');
  const recipients = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}/recipients` })).json();
  t.match(recipients.items, [{ system_id: partner, status: 'exempt', told_at: null }], 'the recipients list shows it was not told');
});

t.test('Art. 19 grounds apply to rectification tasks of recipients; not to exports', async (t) => {
  const ta = await build(t, ENV);
  const partner = await system(ta, { name: 'Reseller', recipient: true, handles: ['rectification'] });
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'rect19@example.com' }] } })).json().id;
  const created = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { id: subject }, type: 'rectification', channel: 'web', corrections: [{ category: 'contact', field: 'name', value: 'New Name' }] },
  });
  t.equal(created.statusCode, 201, created.body);
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${created.json().id}/approve`, payload: { identity: 'verified' } });
  t.equal(approved.statusCode, 200, approved.body);
  const [task] = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${created.json().id}/tasks` })).json().items as { id: string; system_id: string }[];
  t.equal(task?.system_id, partner);
  const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${created.json().id}/tasks/${task!.id}/exempt`, payload: { ground: 'art19_disproportionate_effort', reason: 'Data disclosed once, on paper, in 2019' } });
  t.equal(res.statusCode, 200, res.body);
  const art17 = await ta.call({ method: 'GET', url: `/v1/rights-requests/${created.json().id}` });
  t.equal(art17.json().status, 'completed', 'its only task closed: the rectification completes');
});
