// What the systems service hands the tasks fan-out: listHandling (who acts, who is told under Art. 19, and why)
// and find (deleted systems included, for history); and that a delete cannot slip past a fan-out in progress.
import t from 'tap';
import { sql } from 'drizzle-orm';
import { inTransaction } from '../../../src/db/client.js';
import { build, type TestApp } from '../../helper.js';
import { assertProblem } from '../../helpers/problem.js';
import { waitUntil } from '../../helpers/webhooks.js';
import { createEndpoint, createSystem, ENV, insertRequest } from './systems.fixtures.js';

t.test('listHandling: the systems that handle the action, plus every recipient for erasure, rectification and restriction', async (t) => {
  const ta = await build(t, { env: ENV });
  const endpoint = await createEndpoint(ta);
  const crm = await createSystem(ta, { name: 'crm', kind: 'crm', handles: ['erasure', 'rectification', 'export'], webhook_endpoint_id: endpoint });
  const mailer = await createSystem(ta, { name: 'mailer', handles: ['erasure'], recipient: true });
  const payroll = await createSystem(ta, { name: 'payroll', kind: 'payment', processor: true });
  const partner = await createSystem(ta, { name: 'partner', kind: 'other', recipient: true });
  await createSystem(ta, { name: 'archive', kind: 'other' });
  const gone = await createSystem(ta, { name: 'gone', handles: ['erasure'], recipient: true });
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/systems/${gone.id}` })).statusCode, 204);
  const other = await ta.newTenant('Other');
  await createSystem(ta, { name: 'theirs', handles: ['erasure', 'export'], recipient: true }, other);

  const { systems } = ta.app.services;
  const why = async (handle: 'erasure' | 'rectification' | 'restriction' | 'export') =>
    (await ta.scoped(() => systems.listHandling(ta.tenantId, handle))).map((h) => [h.system.name, h.handles, h.recipient]);

  t.same(
    await why('erasure'),
    [
      ['crm', true, false],
      ['mailer', true, true],
      ['payroll', false, true],
      ['partner', false, true],
    ],
    'erasure: the handlers, and the recipients (a processor among them) to be told; oldest first; not the deleted, not the other tenant',
  );
  t.same(
    await why('rectification'),
    [
      ['crm', true, false],
      ['mailer', false, true],
      ['payroll', false, true],
      ['partner', false, true],
    ],
  );
  t.same(
    await why('restriction'),
    [
      ['mailer', false, true],
      ['payroll', false, true],
      ['partner', false, true],
    ],
    'restriction: nobody handles it, every recipient is told',
  );
  t.same(await why('export'), [['crm', true, false]], 'export: only the handlers; Art. 19 does not reach exports');

  const [first] = await ta.scoped(() => systems.listHandling(ta.tenantId, 'erasure'));
  t.match(first!.system, {
    id: crm.id,
    tenantId: ta.tenantId,
    kind: 'crm',
    handles: ['erasure', 'rectification', 'export'],
    webhookEndpointId: endpoint,
    contactEmail: null,
    deletedAt: null,
  }, 'each row is the whole system record, with its reach');
  const byId = new Map((await ta.scoped(() => systems.listHandling(ta.tenantId, 'erasure'))).map((h) => [h.system.id, h.system]));
  t.equal(byId.get(mailer.id)?.contactEmail, 'privacy@mailer.example');
  t.equal(byId.get(payroll.id)?.recipient, true, 'a processor is stored as a recipient');
  t.ok(byId.has(partner.id));

  const found = await ta.scoped(() => systems.find(ta.tenantId, gone.id));
  t.match(found, { id: gone.id, name: 'gone', deletedAt: Date }, 'find() returns a deleted system, for the history of its tasks');
  t.equal(await ta.scoped(() => systems.find(ta.tenantId, crypto.randomUUID())), undefined, 'and nothing for an unknown id');
  // Inside a caller's transaction too.
  const inTx = await ta.scoped(() => inTransaction(ta.app.db, (tx) => systems.find(ta.tenantId, crm.id, tx)));
  t.equal(inTx?.name, 'crm');
});

/** Backends of the test database waiting for a lock. */
async function lockWaits(ta: TestApp): Promise<number> {
  const { rows } = await ta.sql.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
  return rows[0].n;
}

t.test('a delete waits for a fan-out that listed the system, then sees the task it created and is refused', async (t) => {
  const ta = await build(t, { env: ENV });
  const sys = await createSystem(ta, { handles: ['erasure'] });
  const requestId = await insertRequest(ta);
  let deleted: ReturnType<TestApp['call']> | undefined;
  await ta.scoped(() => inTransaction(ta.app.db, async (tx) => {
    const listed = await ta.app.services.systems.listHandling(ta.tenantId, 'erasure', tx);
    t.same(listed.map((h) => h.system.id), [sys.id]);
    deleted = ta.call({ method: 'DELETE', url: `/v1/systems/${sys.id}` });
    await waitUntil(async () => (await lockWaits(ta)) > 0, 10_000, 'the delete waits for the fan-out');
    // The fan-out writes its task in its own transaction (as a row here: the tasks module is not under test).
    await tx.execute(sql`INSERT INTO system_tasks (id, tenant_id, request_id, system_id, kind) VALUES (${crypto.randomUUID()}, ${ta.tenantId}, ${requestId}, ${sys.id}, 'erasure')`);
  }));
  assertProblem(t, await deleted!, 409, 'SYSTEM_HAS_OPEN_TASKS', 'the delete saw the task the fan-out created');
  t.equal((await ta.call({ method: 'GET', url: `/v1/systems/${sys.id}` })).statusCode, 200, 'the system is still there');
});

t.test('a fan-out that meets a delete in progress waits for it and leaves the deleted system out', async (t) => {
  const ta = await build(t, { env: ENV });
  const sys = await createSystem(ta, { handles: ['erasure'] });
  const kept = await createSystem(ta, { name: 'kept', recipient: true });
  // A delete in progress, as the service makes it: the row locked FOR UPDATE, then marked deleted, not yet committed.
  const deleting = await ta.sql.connect();
  try {
    await deleting.query('BEGIN');
    await deleting.query('SELECT id FROM systems WHERE id = $1 FOR UPDATE', [sys.id]);
    await deleting.query('UPDATE systems SET deleted_at = now() WHERE id = $1', [sys.id]);
    const fanOut = ta.scoped(() => inTransaction(ta.app.db, (tx) => ta.app.services.systems.listHandling(ta.tenantId, 'erasure', tx)));
    await waitUntil(async () => (await lockWaits(ta)) > 0, 10_000, 'the fan-out waits for the delete');
    await deleting.query('COMMIT');
    t.same((await fanOut).map((h) => h.system.id), [kept.id], 'the system deleted meanwhile is not listed');
  } finally {
    deleting.release();
  }
});
