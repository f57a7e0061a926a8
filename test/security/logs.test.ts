// INV-6: no personal data in logs. The app logs at trace level into memory while requests carry an email, a phone,
// evidence text and bearer tokens, succeeding and failing; none of those values appears in the log output.
import { Writable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { loggerOptions } from '../../src/app.js';
import { build, createPurpose, testConfig } from '../helper.js';

/** A trace-level logger writing into memory, and the lines it wrote. */
function captureLogs() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  // loggerOptions only reads the log level from the config; the database URL here is never used.
  const logger = { ...loggerOptions(testConfig('postgres://unused@127.0.0.1/unused')), level: 'trace', stream };
  return { lines, logger };
}

t.test('logs carry no identifiers, evidence or tokens', async (t) => {
  const { lines, logger } = captureLogs();
  const ta = await build(t, { logger });

  const EMAIL = 'Secret.Person+tag@Example.org';
  const PHONE = '+359888123456';
  const PHONE_LOCAL = '0888 123 456';
  const EVIDENCE = 'I agree to the zebra-striped newsletter 7f3k';
  const AGENT = 'AgentSmith/9.9 (pii-test)';
  const COLLECTOR = 'collector-j.doe-4411';
  const EXTERNAL = 'crm-ref-ext-99812';
  const secrets = [EMAIL, EMAIL.toLowerCase(), PHONE, '888123456', PHONE_LOCAL, EVIDENCE, AGENT, COLLECTOR, '203.0.113.77'];
  const tokens: string[] = [];
  const part = (tok: string, i: number) => tok.split('.')[i] ?? tok;
  const bearer = (scope?: string) => {
    const tok = ta.token(scope);
    tokens.push(tok);
    return { authorization: `Bearer ${tok}` };
  };
  const req = (o: InjectOptions) => ta.app.inject(o);

  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'contract-only', { legal_basis: 'contract' });

  const created = await req({
    method: 'POST',
    url: '/v1/subjects',
    headers: bearer(),
    payload: { external_ref: EXTERNAL, identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] },
  });
  t.equal(created.statusCode, 201, created.body);
  const subject = created.json().id;
  const evidence = { ip: '203.0.113.77', user_agent: AGENT, form_id: 'signup', collected_by: COLLECTOR, text_shown: EVIDENCE };

  const statuses: number[] = [created.statusCode];
  const record = async (o: InjectOptions) => {
    const res = await req(o);
    statuses.push(res.statusCode);
    // Error bodies carry no personal data either.
    if (res.statusCode >= 400) for (const s of secrets) t.notOk(res.body.includes(s), `${res.statusCode} body has no ${s}`);
    return res;
  };
  await record({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: bearer(), payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'web_form', evidence }] } });
  await record({ method: 'GET', url: `/v1/subjects/${subject}/consents/history`, headers: bearer() });
  await record({ method: 'GET', url: `/v1/subjects/${subject}`, headers: bearer() });
  await record({ method: 'POST', url: '/v1/subjects/lookup', headers: bearer(), payload: { identifiers: [{ type: 'email', value: EMAIL }] } });
  await record({ method: 'POST', url: '/v1/subjects/lookup', headers: bearer(), payload: { identifiers: [{ type: 'phone', value: PHONE }] } });
  await record({ method: 'POST', url: '/v1/consents/check', headers: bearer(), payload: { purpose: 'newsletter', identifiers: [{ type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] } });
  // Failing requests: a 422 with evidence, 400s whose bodies hold the values, a 404 lookup, 401s and a 403 with tokens.
  await record({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: bearer(), payload: { decisions: [{ purpose: 'contract-only', action: 'grant', source: 'api', evidence }] } });
  await record({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: bearer(), payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { ...evidence, extra: EMAIL } }] } });
  await record({ method: 'POST', url: '/v1/subjects', headers: bearer(), payload: { identifiers: [{ type: 'phone', value: `${PHONE_LOCAL} ${EMAIL}` }] } });
  await record({ method: 'POST', url: '/v1/subjects', headers: bearer(), payload: { identifiers: [{ type: 'email', value: EMAIL }], tenant_id: EMAIL } });
  await record({ method: 'POST', url: '/v1/subjects', headers: bearer(), payload: { identifiers: [{ type: 'email', value: `${EMAIL}\u0000` }] } });
  await record({ method: 'POST', url: '/v1/subjects', headers: { ...bearer(), 'content-type': 'application/json' }, payload: `{"identifiers":[{"type":"email","value":"${EMAIL}"}` });
  await record({ method: 'POST', url: '/v1/subjects', headers: { ...bearer(), 'content-type': 'text/plain' }, payload: EMAIL });
  await record({ method: 'POST', url: '/v1/subjects/lookup', headers: bearer(), payload: { identifiers: [{ type: 'email', value: `nobody-${EMAIL}` }] } });
  await record({ method: 'POST', url: '/v1/consents/check', headers: bearer(), payload: { purpose: 'missing', identifiers: [{ type: 'email', value: EMAIL }] } });
  await record({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${tokens[0] ?? ''}x` } });
  await record({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Bearer ${(tokens[0] ?? '').split('.').slice(0, 2).join('.')}.AAAA` } });
  await record({ method: 'GET', url: '/v1/purposes', headers: bearer('subjects:read') });
  await record({ method: 'GET', url: '/v1/purposes', headers: { authorization: `Basic ${Buffer.from(`${EMAIL}:pw`).toString('base64')}`, cookie: `session=${EMAIL}` } });
  // A path a client filled with personal data, and tokens that are credentials in their routes' paths.
  const unknown = await req({ method: 'GET', url: `/v1/people/${EMAIL}`, headers: bearer() });
  t.equal(unknown.statusCode, 404);
  t.notOk(unknown.body.toLowerCase().includes(EMAIL.toLowerCase()), 'the 404 does not echo the path');
  const pathTokens = ['Cb7x'.repeat(10) + 'abc', 'Ex9q'.repeat(10) + 'xyz'];
  await record({ method: 'POST', url: `/v1/task-callbacks/${pathTokens[0]}`, payload: { status: 'completed' } });
  await record({ method: 'GET', url: `/v1/exports/${pathTokens[1]}` });
  t.ok(statuses.some((s) => s >= 400 && s < 500) && statuses.some((s) => s < 300), `successes and failures were logged (${statuses})`);

  // Rate-limit keys in Redis carry the tenant and client only.
  const keys = await ta.app.redis!.keys(`${ta.config.redis!.prefix}*`);
  for (const k of keys) for (const s of secrets) t.notOk(k.includes(s), `redis key ${k} has no personal data`);

  const out = lines.join('');
  // The control: the logger really captured these requests (trace level logs each one with its id).
  t.ok(lines.length > statuses.length, `the log captured the requests (${lines.length} lines)`);
  t.match(out, /incoming request/, 'request logs are present');
  t.match(out, /request completed/, 'response logs are present');
  t.match(out, new RegExp(subject), 'ids are logged (they are not personal data)');
  for (const s of [...secrets, 'Secret.Person+tag', EXTERNAL]) {
    t.notOk(out.toLowerCase().includes(s.toLowerCase()), `the log does not contain ${s}`);
  }
  for (const tok of tokens) {
    t.notOk(out.includes(tok), 'no bearer token in the log');
    t.notOk(out.includes(part(tok, 2)), 'no token signature in the log');
    t.notOk(out.includes(part(tok, 1)), 'no token payload in the log');
  }
  t.notMatch(out, /Bearer /, 'no Authorization value in the log');
  for (const tok of pathTokens) t.notOk(out.includes(tok), 'no token from a path in the log');
  t.match(out, /\(no route\)/, 'an unknown path is logged as such');
  t.notMatch(out, /session=/, 'no cookie in the log');
});

t.test("a driver error's log line carries no query parameters: a 500 logs stack frames and codes only", async (t) => {
  const { lines, logger } = captureLogs();
  const ta = await build(t, { logger });
  const CANARY = 'canary-7f3a@example.com';

  const created = await ta.call({
    method: 'POST',
    url: '/v1/rights-requests',
    payload: { subject: { identifiers: [{ type: 'email', value: 'someone@example.com' }] }, type: 'access', channel: 'web' },
  });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json().id;
  // The database refuses any assignee holding the canary, so the failing UPDATE carries it among its parameters.
  await ta.sql.query("ALTER TABLE rights_requests ADD CONSTRAINT no_canary CHECK (assignee IS NULL OR strpos(assignee, 'canary-7f3a') = 0)");

  for (const [label, assignee] of [
    ['the canary', CANARY],
    // A parameter that reads like a driver's connection failure must not turn the error into a logged 503.
    ['the canary after a connection-failure phrase', `Connection terminated ${CANARY}`],
    // A parameter that reads like a stack frame must not pass for one.
    ['the canary on a line that reads like a stack frame', `x\n    at ${CANARY}`],
  ]) {
    lines.length = 0;
    const res = await ta.call({ method: 'POST', url: `/v1/rights-requests/${id}/assign`, payload: { assignee } });
    t.equal(res.statusCode, 500, `${label}: a 500 (${res.body})`);
    t.equal(res.json().code, 'INTERNAL', `${label}: INTERNAL`);
    t.notOk(res.body.includes('canary-7f3a'), `${label}: the 500 body does not carry it`);
    const rid = String(res.headers['x-request-id']);

    const out = lines.join('');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'unhandled error');
    t.ok(logged, `${label}: the 500 was logged`);
    t.equal(logged?.reqId, rid, `${label}: with the request id to quote`);
    const err = logged?.err as { stack?: string; cause?: Record<string, unknown> } | undefined;
    t.match(err?.stack, /^\s+at /, `${label}: with the stack frames`);
    t.equal(err?.cause?.code, '23514', `${label}: with the driver's code (check_violation)`);
    t.equal(err?.cause?.constraint, 'no_canary', `${label}: and the constraint name`);
    t.ok(out.includes(rid), `${label}: the log carries the request id`);
    t.notOk(out.includes('canary-7f3a'), `${label}: the log does not carry the canary`);
    t.notMatch(out, /params/i, `${label}: nor a params line`);
    t.notMatch(out, /Failed query|Failing row/, `${label}: nor the wrapper's message or the driver's detail`);
  }
});
