// The erasure fan-out through the worker: each system receives erasure.requested addressed to it alone, signed, with
// how to find the person and its callback link built at send time; answering through the link closes the request.
import t from 'tap';
import { eventBodySchema } from '../../../src/modules/outbox/outbox.catalogue.js';
import { addressedEventRow } from '../../../src/modules/outbox/outbox.events.js';
import { build } from '../../helper.js';
import { startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, waitUntil } from '../../helpers/webhooks.js';
import { fastWorkerEnv, startTestWorker } from '../../helpers/worker-env.js';

t.test('approval sends each system its task, and their answers complete the erasure', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  const crmHook = await startReceiver(t);
  const mailHook = await startReceiver(t);
  const crmEndpoint = await createEndpoint(ta, crmHook.url, ['request.completed']);
  const mailEndpoint = await createEndpoint(ta, mailHook.url, ['request.completed']);
  const system = async (name: string, endpointId: string) =>
    (await ta.call({ method: 'POST', url: '/v1/systems', payload: { name, kind: 'crm', handles: ['erasure'], webhook_endpoint_id: endpointId } })).json().id;
  const crm = await system('CRM', crmEndpoint.id);
  const mail = await system('Mailing', mailEndpoint.id);
  await startTestWorker(t, ta);

  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: 'crm-77', identifiers: [{ type: 'email', value: 'fan.out@example.com' }] } })).json().id;
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'consent_withdrawn' } })).json();
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  t.equal(approved.statusCode, 200, approved.body);

  const tasksOf = (r: typeof crmHook) => r.received.map((x) => JSON.parse(x.body)).filter((b) => b.type === 'erasure.requested');
  await waitUntil(() => tasksOf(crmHook).length >= 1 && tasksOf(mailHook).length >= 1, 15_000, 'both systems told');
  const [toCrm] = tasksOf(crmHook);
  const [toMail] = tasksOf(mailHook);
  t.match(toCrm.data, { request_id: req.id, system_id: crm, subject: { external_ref: 'crm-77', identifiers: [{ type: 'email', value: 'fan.out@example.com' }] } });
  t.match(toMail.data, { system_id: mail });
  t.not(toCrm.data.task_id, toMail.data.task_id, 'each system gets its own task, addressed to it alone');
  const stored = await ta.sql.query(`SELECT body FROM webhook_deliveries WHERE tenant_id = $1`, [ta.tenantId]);
  t.notMatch(JSON.stringify(stored.rows), /fan\.out@example\.com|callback/, 'what was sent is not stored: built at send time');

  for (const body of [toCrm, toMail]) {
    const path = new URL(body.data.callback_url).pathname;
    const res = await ta.app.inject({ method: 'POST', url: path, payload: { status: 'completed' } });
    t.equal(res.statusCode, 200, res.body);
  }
  const done = (await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json();
  t.match(done, { status: 'completed', outcome: { result: 'granted' } });
  t.equal((await ta.call({ method: 'GET', url: `/v1/subjects/${subject}` })).json().status, 'erased');
  const ids = (r: typeof crmHook) => new Set(r.received.filter((x) => JSON.parse(x.body).type === 'erasure.requested').map((x) => x.headers['webhook-id']));
  t.equal(ids(crmHook).size, 1, 'one webhook-id per task, however often it was sent');
});

t.test('an approved rectification reaches each system through the worker as rectification.requested, with the corrections (Art. 16, 19)', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  const hook = await startReceiver(t);
  const endpoint = await createEndpoint(ta, hook.url, ['request.completed']);
  const crm = (await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'CRM', kind: 'crm', handles: ['rectification'], webhook_endpoint_id: endpoint.id } })).json().id;
  await startTestWorker(t, ta);

  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { external_ref: 'crm-88', identifiers: [{ type: 'email', value: 'typo@example.com' }] } })).json().id;
  const corrections = [
    { category: 'identifier', field: 'email', value: 'Fixed@Example.com' },
    { category: 'address', field: 'street', value: 'Vitosha 42' },
  ];
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'rectification', channel: 'web', corrections } })).json();
  const approved = await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  t.equal(approved.statusCode, 200, approved.body);

  const sent = () => hook.received.map((x) => JSON.parse(x.body)).filter((b) => b.type === 'rectification.requested');
  await waitUntil(() => sent().length >= 1, 15_000, 'the system told');
  const body = eventBodySchema('rectification.requested').strict().parse(sent()[0]);
  t.match(body.data, { request_id: req.id, system_id: crm, subject: { external_ref: 'crm-88', identifiers: [{ type: 'email', value: 'fixed@example.com' }] }, corrections }, 'the corrected identifier, and every correction as asked');
  const stored = await ta.sql.query(`SELECT body FROM webhook_deliveries WHERE tenant_id = $1`, [ta.tenantId]);
  t.notMatch(JSON.stringify(stored.rows), /Vitosha|fixed@example/i, 'the corrections are not stored: built at send time');
  const res = await ta.app.inject({ method: 'POST', url: new URL(String(body.data.callback_url)).pathname, payload: { status: 'completed' } });
  t.equal(res.statusCode, 200, res.body);
  t.match((await ta.call({ method: 'GET', url: `/v1/rights-requests/${req.id}` })).json(), { status: 'completed', outcome: { result: 'granted' } });
});

t.test('a task send run twice (its worker killed before the row was done) writes one event: one webhook-id per send', async (t) => {
  const ta = await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const endpoint = await createEndpoint(ta, 'http://127.0.0.1:9/hook', ['request.completed']);
  await ta.call({ method: 'POST', url: '/v1/systems', payload: { name: 'CRM', kind: 'crm', handles: ['erasure'], webhook_endpoint_id: endpoint.id } });
  const subject = (await ta.call({ method: 'POST', url: '/v1/subjects', payload: { identifiers: [{ type: 'email', value: 'twice@example.com' }] } })).json().id;
  const req = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'web', erasure_ground: 'objection' } })).json();
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${req.id}/approve`, payload: { identity: 'verified' } });
  const [row] = (await ta.sql.query(`SELECT id, payload FROM outbox WHERE topic = 'task.send'`)).rows;
  const run = () =>
    ta.scoped(() => ta.app.services.tasks.send(row.payload.task_id, {
      sendRowId: row.id,
      addressed: (x, endpointId, type, data) => ({ ...addressedEventRow(x.tenantId, type as never, data as never, endpointId), refId: x.requestId }),
      mail: null,
    }));
  t.equal(await run(), 'sent');
  t.equal(await run(), 'skipped', 'the second run finds its event written');
  const events = await ta.sql.query(`SELECT id FROM outbox WHERE payload->>'type' = 'erasure.requested'`);
  t.equal(events.rowCount, 1, 'one event, so one webhook-id');
});
