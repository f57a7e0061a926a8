// Every operation that names scopes in the contract refuses a token of the right tenant that holds every scope but
// those: a 403 problem, before anything is read or written. Generated from the spec, so a new operation is covered
// the moment it is routed.
import t from 'tap';
import { SCOPES } from '../../src/plugins/auth.js';
import { build } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';
import { minimal, operations, pathParams, urlOf, type Spec, patient, settled } from '../helpers/spec.js';

t.test('each scoped operation answers 403 FORBIDDEN to a token holding every scope except its own', async (t) => {
  const ta = patient(await build(t));
  const spec = ta.app.swagger() as unknown as Spec;
  await settled(ta.app);
  const scoped = operations(spec).filter((op) => op.auth.kind === 'service' && op.auth.scopes.length > 0);
  t.ok(scoped.length >= 60, `the contract lists scopes on ${scoped.length} operations`);
  for (const op of scoped) {
    const needed = op.auth.kind === 'service' ? op.auth.scopes : [];
    const others = SCOPES.filter((s) => !needed.includes(s));
    const params = Object.fromEntries(pathParams(op).map((p) => [p.name, String(minimal(spec, p.schema))]));
    const query = Object.fromEntries(op.parameters.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, minimal(spec, p.schema)]));
    const name = `${op.method} ${op.path} without ${needed.join(' ')}`;
    const res = await ta.call({
      method: op.method as 'GET',
      url: urlOf(op, params, query),
      scope: others.join(' '),
      ...(op.body ? { payload: minimal(spec, op.body.schema) as object } : {}),
    });
    const body = assertProblem(t, res, 403, 'FORBIDDEN', name);
    t.match(body.detail, needed.join(' '), `${name}: the problem names the missing scope`);
  }
});

t.test('a token with no scopes at all is refused by every scoped operation, and accepted where none is needed', async (t) => {
  const ta = patient(await build(t));
  const spec = ta.app.swagger() as unknown as Spec;
  await settled(ta.app);
  for (const op of operations(spec).filter((o) => o.auth.kind === 'service' && o.method === 'GET' && pathParams(o).length === 0)) {
    const needed = op.auth.kind === 'service' ? op.auth.scopes : [];
    const res = await ta.call({ method: 'GET', url: op.path, scope: '' });
    t.equal(res.statusCode, needed.length ? 403 : 200, `GET ${op.path} with an empty scope`);
  }
});
