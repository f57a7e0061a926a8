// INV-5 over the whole contract: every operation that names a resource in its path, called by another tenant with
// every scope, answers 404 (never 403, never 2xx) for a real resource of tenant A, and changes nothing of it.
// Generated from the spec; a path parameter without a way to create its resource fails the first test.
import t from 'tap';
import { build } from '../helper.js';
import { assertProblem } from '../helpers/problem.js';
import { creatorFor, minimal, operations, pathParams, urlOf, type Operation, type Resource, type Spec, patient, settled } from '../helpers/spec.js';

// Operations with a path parameter that no service token reaches, by how they authenticate: they are outside a
// tenant-B-token matrix by construction, and each kind is proven by its own tests.
const OUTSIDE: Record<string, string> = {
  public: 'no service token reaches it: a capability token (task callback, export or unsubscribe link, the preference page) names the tenant; forged ones are fuzzed',
  subject: "a subject token reaches only its own subject's data; the portal's tests prove it",
  metrics: 'the metrics token is not a tenant credential',
};

// Bodies where the minimal value the schema allows is refused by rules zod cannot put in the schema (400 before the
// resource is looked up); the matrix needs a body the service accepts as well-formed.
const BODIES: Record<string, unknown> = {
  // grounds is optional in the schema only because a deprecated `ground` may stand in for it; a refusal is told to
  // the person, and says when and how (Art. 12(4)).
  'POST /v1/rights-requests/{id}/reject': {
    ground: 'manifestly_unfounded',
    detail: 'The request repeats one answered last week',
    subject_notified_at: new Date(Date.now() - 60_000).toISOString(),
    notified_by: 'email',
  },
};

const withParams = (ops: Operation[]) => ops.filter((op) => pathParams(op).length > 0);

t.test('every operation with a path parameter has a way to create its resource, or is outside the matrix by its authentication', async (t) => {
  const ta = await build(t);
  const spec = ta.app.swagger() as unknown as Spec;
  await settled(ta.app);
  for (const op of withParams(operations(spec))) {
    if (op.auth.kind === 'service') t.ok(creatorFor(op.path), `${op.method} ${op.path}: a creator for {${pathParams(op).map((p) => p.name).join('}, {')}}`);
    else t.ok(OUTSIDE[op.auth.kind], `${op.method} ${op.path} (${op.auth.kind}): ${OUTSIDE[op.auth.kind]}`);
  }
});

t.test("tenant B's all-scope token gets 404 for each of tenant A's resources, and A's resource is unchanged", async (t) => {
  const ta = patient(await build(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } }));
  const spec = ta.app.swagger() as unknown as Spec;
  await settled(ta.app);
  const tenantB = await ta.newTenant('Tenant B');
  const resources = new Map<unknown, Resource>();
  const ops = withParams(operations(spec)).filter((op) => op.auth.kind === 'service');
  t.ok(ops.length >= 45, `${ops.length} operations name a resource`);
  for (const op of ops) {
    const creator = creatorFor(op.path);
    if (!creator) continue; // failed in the coverage test above
    if (!resources.has(creator)) resources.set(creator, await creator(ta, ta.tenantId));
    const resource = resources.get(creator)!;
    const name = `${op.method} ${op.path}`;
    const query = Object.fromEntries(op.parameters.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, minimal(spec, p.schema)]));
    const body = op.body ? (BODIES[name] ?? minimal(spec, op.body.schema)) : undefined;
    const before = await resource.read();
    const res = await ta.call({
      method: op.method as 'GET',
      url: urlOf(op, resource.params, query),
      tenantId: tenantB,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    assertProblem(t, res, 404, undefined, `${name} as tenant B`);
    if (op.method !== 'GET') t.same(await resource.read(), before, `${name}: tenant A's resource reads the same afterwards`);
  }
  // The owner still reaches every resource the matrix used: the 404s were about the caller, not the ids.
  for (const resource of resources.values()) {
    const [url, first] = Object.entries((await resource.read()) as Record<string, { status: number }>)[0]!;
    t.equal(first.status, 200, `tenant A reads ${url}`);
  }
});
