// Who may do what to a system: scopes (writes systems:admin, reads requests:read), tenant isolation (404 and no
// write), and deletion refused while the system has open tasks.
import t from 'tap';
import { ALL_SCOPES, build } from '../../helper.js';
import { assertProblem } from '../../helpers/problem.js';
import { snapshot } from '../../helpers/snapshot.js';
import { createEndpoint, createSystem, ENV, insertTask, type System } from './systems.fixtures.js';

const without = (scope: string) => ALL_SCOPES.split(' ').filter((s) => s !== scope).join(' ');

t.test('writes need systems:admin and reads requests:read (403 otherwise), and a refused call writes nothing', async (t) => {
  const ta = await build(t, { env: ENV });
  const sys = await createSystem(ta);
  const create = { name: 'CRM', kind: 'crm', contact_email: 'privacy@crm.example' };
  const writes: [string, string, object?][] = [
    ['POST', '/v1/systems', create],
    ['PATCH', `/v1/systems/${sys.id}`, { name: 'x' }],
    ['DELETE', `/v1/systems/${sys.id}`],
  ];
  const reads: [string, string][] = [
    ['GET', '/v1/systems'],
    ['GET', `/v1/systems/${sys.id}`],
  ];
  const before = await snapshot(ta);
  for (const [method, url, payload] of writes) {
    assertProblem(t, await ta.call({ method: method as 'GET', url, payload, scope: without('systems:admin') }), 403, 'FORBIDDEN', `${method} ${url} without systems:admin`);
    assertProblem(t, await ta.call({ method: method as 'GET', url, payload, scope: 'requests:read' }), 403, 'FORBIDDEN', `${method} ${url} with requests:read alone`);
  }
  for (const [method, url] of reads) {
    assertProblem(t, await ta.call({ method: method as 'GET', url, scope: without('requests:read') }), 403, 'FORBIDDEN', `${method} ${url} without requests:read`);
    // The auth plugin requires every scope a route names; reads name requests:read, so systems:admin alone cannot read.
    assertProblem(t, await ta.call({ method: method as 'GET', url, scope: 'systems:admin' }), 403, 'FORBIDDEN', `${method} ${url} with systems:admin alone`);
    t.equal((await ta.call({ method: method as 'GET', url, scope: 'requests:read' })).statusCode, 200, `${method} ${url}: requests:read alone is enough`);
    t.equal((await ta.call({ method: method as 'GET', url, scope: 'systems:admin requests:read' })).statusCode, 200, `${method} ${url}: an administrator's token reads`);
  }
  for (const [method, url] of [...writes, ...reads]) {
    assertProblem(t, await ta.app.inject({ method: method as 'GET', url }), 401, 'UNAUTHORIZED', `${method} ${url} without a token`);
  }
  t.same(await snapshot(ta), before, 'nothing was written');

  const created = await ta.call({ method: 'POST', url: '/v1/systems', payload: create, scope: 'systems:admin' });
  t.equal(created.statusCode, 201, 'systems:admin alone is enough to create');
  t.equal((await ta.call({ method: 'PATCH', url: `/v1/systems/${sys.id}`, payload: { name: 'y' }, scope: 'systems:admin' })).statusCode, 200, '...to change');
  t.equal((await ta.call({ method: 'DELETE', url: `/v1/systems/${sys.id}`, scope: 'systems:admin' })).statusCode, 204, '...and to delete');
});

t.test("another tenant's system ids answer 404 on every route, like unknown ids, and nothing is written", async (t) => {
  const ta = await build(t, { env: ENV });
  const a = await createSystem(ta, { handles: ['erasure'], recipient: true });
  const tenantB = await ta.newTenant('B');
  const b = await createSystem(ta, { name: 'B system' }, tenantB);
  const endpointB = await createEndpoint(ta, tenantB);
  const before = await snapshot(ta);
  const asB = (method: string, url: string, payload?: object) => ta.call({ method: method as 'GET', url, payload, tenantId: tenantB });
  for (const [method, payload] of [
    ['GET'],
    ['PATCH', { name: 'stolen' }],
    ['PATCH', { webhook_endpoint_id: endpointB }],
    ['DELETE'],
  ] as const) {
    const foreign = assertProblem(t, await asB(method, `/v1/systems/${a.id}`, payload), 404, 'SYSTEM_NOT_FOUND', `B: ${method} A's system`);
    const unknownId = crypto.randomUUID();
    const unknown = assertProblem(t, await asB(method, `/v1/systems/${unknownId}`, payload), 404, 'SYSTEM_NOT_FOUND', `B: ${method} an unknown id`);
    t.same({ ...foreign, instance: '' }, { ...unknown, instance: '' }, `${method}: foreign and unknown ids are indistinguishable (apart from the echoed path)`);
  }
  t.same((await asB('GET', '/v1/systems')).json().items.map((s: System) => s.id), [b.id], 'B lists only its own');
  t.same((await asB('GET', '/v1/systems?handles=erasure')).json().items, [], "B's filters do not reach A's systems");
  t.same(await snapshot(ta), before, 'nothing was written');
  t.equal(await ta.scoped(() => ta.app.services.systems.find(tenantB, a.id)), undefined, "find() does not cross tenants");
  t.same((await ta.scoped(() => ta.app.services.systems.listHandling(tenantB, 'erasure'))).map((h) => h.system.id), [], 'nor does listHandling()');
  t.equal((await ta.call({ method: 'GET', url: `/v1/systems/${a.id}` })).statusCode, 200, 'A still sees its system');
});

t.test('delete is refused (409 SYSTEM_HAS_OPEN_TASKS) while a task is pending, acknowledged or failed', async (t) => {
  const ta = await build(t, { env: ENV });
  const del = (id: string) => ta.call({ method: 'DELETE', url: `/v1/systems/${id}` });
  for (const status of ['pending', 'acknowledged', 'failed']) {
    const sys = await createSystem(ta, { name: `with a ${status} task`, handles: ['erasure'] });
    const task = await insertTask(ta, sys.id, status);
    const before = await snapshot(ta);
    const body = assertProblem(t, await del(sys.id), 409, 'SYSTEM_HAS_OPEN_TASKS', `a ${status} task`);
    t.match(body.detail, /1 open task/, 'the detail counts them');
    t.same(await snapshot(ta), before, 'nothing was written');
    t.equal((await ta.call({ method: 'GET', url: `/v1/systems/${sys.id}` })).statusCode, 200, 'the system is still there');
    // Once the task is finished, the system can go; the task still names it.
    await ta.sql.query(`UPDATE system_tasks SET status = 'completed' WHERE id = $1`, [task]);
    t.equal((await del(sys.id)).statusCode, 204, `deleted once the ${status} task is completed`);
    const { rows } = await ta.sql.query('SELECT s.name, s.deleted_at IS NOT NULL AS deleted FROM system_tasks t JOIN systems s ON s.id = t.system_id WHERE t.id = $1', [task]);
    t.same(rows, [{ name: `with a ${status} task`, deleted: true }], 'the past task still names its system');
  }
  for (const status of ['completed', 'exempt']) {
    const sys = await createSystem(ta, { name: `with a ${status} task` });
    await insertTask(ta, sys.id, status);
    t.equal((await del(sys.id)).statusCode, 204, `a ${status} task does not hold the system`);
  }
  const busy = await createSystem(ta, { name: 'busy' });
  await insertTask(ta, busy.id, 'pending');
  await insertTask(ta, busy.id, 'failed');
  t.match(assertProblem(t, await del(busy.id), 409, 'SYSTEM_HAS_OPEN_TASKS', 'two open tasks').detail, /2 open task/);
});
