import t from 'tap';
import { ALL_SCOPES, build, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

const ALL_BUT_ADMIN = ALL_SCOPES.split(' ').filter((s) => s !== 'tenant:admin').join(' ');

t.test("GET /v1/tenant returns the caller's tenant with its default settings", async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'GET', url: '/v1/tenant' });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.id, ta.tenantId);
  t.equal(body.name, 'Test controller');
  t.equal(body.timezone, 'UTC');
  t.equal(body.deadline_policy, 'eu');
  t.equal(body.holiday_calendar, null);
  t.same(body.reminder_offsets_days, [7, 2]);
  t.equal(body.default_locale, 'en');
  t.ok(!Number.isNaN(Date.parse(body.created_at)));
  t.notOk('index_key_wrapped' in body, 'the wrapped index key never leaves the service');
  t.notOk('key_id' in body);
});

t.test("each token sees its own tenant, never another's", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  const mine = await ta.call({ method: 'GET', url: '/v1/tenant' });
  const theirs = await ta.call({ method: 'GET', url: '/v1/tenant', tenantId: other });
  t.equal(mine.json().id, ta.tenantId);
  t.equal(theirs.json().id, other);
  t.equal(theirs.json().name, 'Other controller');
});

t.test('any valid token may read the tenant, even one with no scopes', async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'GET', url: '/v1/tenant', scope: 'subjects:read' });
  t.equal(res.statusCode, 200);
  t.equal(res.json().id, ta.tenantId);
});

t.test('GET /v1/tenant without a token is a 401', async (t) => {
  const ta = await build(t);
  const res = await ta.app.inject({ method: 'GET', url: '/v1/tenant' });
  assertProblem(t, res, 401, 'UNAUTHORIZED');
});

t.test('a token naming a tenant that does not exist is a 401 UNKNOWN_TENANT', async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'GET', url: '/v1/tenant', tenantId: crypto.randomUUID() });
  assertProblem(t, res, 401, 'UNKNOWN_TENANT');
});

t.test('PATCH /v1/tenant changes the settings and GET shows them', async (t) => {
  const ta = await build(t);
  const before = (await ta.call({ method: 'GET', url: '/v1/tenant' })).json();
  await new Promise((r) => setTimeout(r, 5));
  const res = await ta.call({
    method: 'PATCH',
    url: '/v1/tenant',
    payload: {
      name: 'Acme EOOD',
      timezone: 'Europe/Sofia',
      deadline_policy: 'uk',
      holiday_calendar: 'BG',
      reminder_offsets_days: [10, 3, 1],
      default_locale: 'bg',
    },
  });
  t.equal(res.statusCode, 200, res.body);
  const patched = res.json();
  t.match(patched, {
    id: ta.tenantId,
    name: 'Acme EOOD',
    timezone: 'Europe/Sofia',
    deadline_policy: 'uk',
    holiday_calendar: 'BG',
    reminder_offsets_days: [10, 3, 1],
    default_locale: 'bg',
    created_at: before.created_at,
  });
  t.ok(Date.parse(patched.updated_at) > Date.parse(before.updated_at), 'updated_at moves forward');

  const again = (await ta.call({ method: 'GET', url: '/v1/tenant' })).json();
  t.same(again, patched);

  const row = (await ta.sql.query('SELECT timezone, deadline_policy, holiday_calendar, reminder_offsets_days, default_locale FROM tenants WHERE id = $1', [ta.tenantId])).rows[0];
  t.same(row, { timezone: 'Europe/Sofia', deadline_policy: 'uk', holiday_calendar: 'BG', reminder_offsets_days: [10, 3, 1], default_locale: 'bg' });
});

t.test('PATCH changes only the fields given; the others stay as they were', async (t) => {
  const ta = await build(t);
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', holiday_calendar: 'BG' } });
  const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { deadline_policy: 'uk' } });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { timezone: 'Europe/Sofia', holiday_calendar: 'BG', deadline_policy: 'uk', reminder_offsets_days: [7, 2], name: 'Test controller' });
});

t.test('holiday_calendar null means weekends only', async (t) => {
  const ta = await build(t);
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { holiday_calendar: 'DE-BY' } });
  const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { holiday_calendar: null } });
  t.equal(res.statusCode, 200);
  t.equal(res.json().holiday_calendar, null);
});

t.test("PATCH changes only the caller's tenant", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other controller');
  await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia', name: 'Renamed' } });
  const theirs = (await ta.call({ method: 'GET', url: '/v1/tenant', tenantId: other })).json();
  t.equal(theirs.timezone, 'UTC');
  t.equal(theirs.name, 'Other controller');
});

for (const timezone of ['Europe/Sofiaa', 'Mars/Olympus_Mons', 'Not a zone', '+02:00']) {
  t.test(`an unknown IANA time zone (${JSON.stringify(timezone)}) is a 400 naming timezone and changes nothing`, async (t) => {
    const ta = await build(t);
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone } });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.same(fields(body), ['timezone']);
    t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().timezone, 'UTC');
  });
}

for (const holiday_calendar of ['XX', 'GB-XYZ', 'DE-ZZ', 'bg', 'Bulgaria']) {
  t.test(`an unknown holiday calendar (${holiday_calendar}) is a 400 naming holiday_calendar and changes nothing`, async (t) => {
    const ta = await build(t);
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { holiday_calendar } });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.same(fields(body), ['holiday_calendar']);
    t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().holiday_calendar, null);
  });
}

t.test('a bad time zone and a bad calendar together are both named, and neither is applied', async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Nowhere/Town', holiday_calendar: 'XX', deadline_policy: 'uk' } });
  const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
  t.same(fields(body), ['holiday_calendar', 'timezone']);
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().deadline_policy, 'eu', 'the valid field in a rejected PATCH is not applied');
});

t.test('known time zones and holiday calendars are accepted', async (t) => {
  const ta = await build(t);
  for (const timezone of ['Europe/Sofia', 'Europe/London', 'America/New_York', 'UTC']) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { timezone } });
    t.equal(res.statusCode, 200, `${timezone}: ${res.body}`);
    t.equal(res.json().timezone, timezone);
  }
  for (const holiday_calendar of ['BG', 'DE-BY', 'GB-SCT', 'DE', 'GB-ENG']) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { holiday_calendar } });
    t.equal(res.statusCode, 200, `${holiday_calendar}: ${res.body}`);
    t.equal(res.json().holiday_calendar, holiday_calendar);
  }
});

for (const [field, value] of [
  ['id', '00000000-0000-4000-8000-000000000000'],
  ['index_key_wrapped', 'AAAA'],
  ['key_id', 'k0'],
  ['tenant_id', '00000000-0000-4000-8000-000000000000'],
  ['created_at', '2020-01-01T00:00:00Z'],
] as const) {
  t.test(`an unknown field (${field}) in PATCH is a 400 naming it and changes nothing`, async (t) => {
    const ta = await build(t);
    const rowBefore = (await ta.sql.query('SELECT * FROM tenants WHERE id = $1', [ta.tenantId])).rows[0];
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: 'Hijacked', [field]: value } });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.same(fields(body), [field]);
    const rowAfter = (await ta.sql.query('SELECT * FROM tenants WHERE id = $1', [ta.tenantId])).rows[0];
    t.same(rowAfter, rowBefore);
  });
}

t.test('reminder offsets must be whole days between 1 and 60, without repeats', async (t) => {
  const ta = await build(t);
  for (const reminder_offsets_days of [[7, 7], [0], [61], [1.5], ['7']]) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { reminder_offsets_days } });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.ok(fields(body).every((f) => f.startsWith('reminder_offsets_days')), `${JSON.stringify(reminder_offsets_days)} → ${fields(body)}`);
  }
  t.same((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().reminder_offsets_days, [7, 2]);
});

t.test('a bad deadline policy or locale is a 400 naming the field', async (t) => {
  const ta = await build(t);
  const policy = assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { deadline_policy: 'us' } }), 400, 'VALIDATION_FAILED');
  t.same(fields(policy), ['deadline_policy']);
  const locale = assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { default_locale: 'English' } }), 400, 'VALIDATION_FAILED');
  t.same(fields(locale), ['default_locale']);
  const name = assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { name: '   ' } }), 400, 'VALIDATION_FAILED');
  t.same(fields(name), ['name']);
});

t.test('PATCH /v1/tenant needs the scope tenant:admin', async (t) => {
  const ta = await build(t);
  const denied = await ta.call({ method: 'PATCH', url: '/v1/tenant', scope: ALL_BUT_ADMIN, payload: { timezone: 'Europe/Sofia' } });
  const body = assertProblem(t, denied, 403, 'FORBIDDEN');
  t.match(body.detail, /tenant:admin/);
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().timezone, 'UTC', 'a refused PATCH changes nothing');

  const allowed = await ta.call({ method: 'PATCH', url: '/v1/tenant', scope: 'tenant:admin', payload: { timezone: 'Europe/Sofia' } });
  t.equal(allowed.statusCode, 200);
  t.equal(allowed.json().timezone, 'Europe/Sofia');
});

t.test('PATCH without a token is a 401', async (t) => {
  const ta = await build(t);
  const res = await ta.app.inject({ method: 'PATCH', url: '/v1/tenant', payload: { timezone: 'Europe/Sofia' } });
  assertProblem(t, res, 401, 'UNAUTHORIZED');
});

const LEGAL = {
  controller_contact: { name: 'Acme Ltd', address: '1 Vitosha Blvd, 1000 Sofia', email: 'privacy@acme.example', phone: '+359 2 123 4567', url: 'https://acme.example/privacy' },
  dpo_contact: { name: 'Data Protection Officer', email: 'dpo@acme.example' },
  supervisory_authority: { name: 'Commission for Personal Data Protection', url: 'https://www.cpdp.bg', address: '2 Prof. Tsvetan Lazarov Blvd, 1592 Sofia' },
  judicial_remedy: 'You may appeal to the Administrative Court of Sofia City (Art. 79 GDPR).',
};

t.test('the controller, DPO contact, supervisory authority and judicial remedy are set, read and cleared (Art. 13(1)(a)-(b), 13(2)(d), 12(4))', async (t) => {
  const ta = await build(t);
  const before = (await ta.call({ method: 'GET', url: '/v1/tenant' })).json();
  t.match(before, { controller_contact: null, dpo_contact: null, supervisory_authority: null, judicial_remedy: null }, 'none is set on a new tenant');

  const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: LEGAL });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), LEGAL);
  t.match((await ta.call({ method: 'GET', url: '/v1/tenant' })).json(), LEGAL, 'GET shows them');

  const replaced = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { dpo_contact: { url: 'https://acme.example/dpo' } } });
  t.same(replaced.json().dpo_contact, { url: 'https://acme.example/dpo' }, 'a contact is replaced whole');
  t.same(replaced.json().controller_contact, LEGAL.controller_contact, 'the others stay');

  const cleared = await ta.call({
    method: 'PATCH',
    url: '/v1/tenant',
    payload: { controller_contact: null, dpo_contact: null, supervisory_authority: null, judicial_remedy: null },
  });
  t.match(cleared.json(), { controller_contact: null, dpo_contact: null, supervisory_authority: null, judicial_remedy: null });
});

t.test('bad legal settings are a 400 naming the field and change nothing', async (t) => {
  const ta = await build(t);
  const cases: [Record<string, unknown>, string[]][] = [
    [{ controller_contact: { name: 'Acme Ltd' } }, ['controller_contact']],
    [{ controller_contact: {} }, ['controller_contact']],
    [{ controller_contact: { email: 'not-an-email' } }, ['controller_contact.email']],
    [{ controller_contact: { url: 'http://acme.example' } }, ['controller_contact.url']],
    [{ controller_contact: { url: 'javascript:alert(1)' } }, ['controller_contact.url']],
    [{ controller_contact: { phone: 'call me maybe' } }, ['controller_contact.phone']],
    [{ controller_contact: { address: 'x'.repeat(501) } }, ['controller_contact.address']],
    [{ controller_contact: { email: 'a@acme.example', fax: '123' } }, ['controller_contact.fax']],
    [{ dpo_contact: { name: 'x'.repeat(201), email: 'dpo@acme.example' } }, ['dpo_contact.name']],
    [{ dpo_contact: 'dpo@acme.example' }, ['dpo_contact']],
    [{ supervisory_authority: { name: 'CPDP' } }, ['supervisory_authority.url']],
    [{ supervisory_authority: { name: 'CPDP', url: 'http://www.cpdp.bg' } }, ['supervisory_authority.url']],
    [{ supervisory_authority: { url: 'https://www.cpdp.bg' } }, ['supervisory_authority.name']],
    [{ judicial_remedy: 'x'.repeat(2001) }, ['judicial_remedy']],
    [{ judicial_remedy: '   ' }, ['judicial_remedy']],
  ];
  for (const [payload, expected] of cases) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/tenant', payload: { ...payload, name: 'Renamed' } });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED', JSON.stringify(payload).slice(0, 80))), expected, JSON.stringify(payload).slice(0, 80));
  }
  t.match((await ta.call({ method: 'GET', url: '/v1/tenant' })).json(), { name: 'Test controller', controller_contact: null, dpo_contact: null });
});

t.test('the legal settings need the scope tenant:admin to change', async (t) => {
  const ta = await build(t);
  const denied = await ta.call({ method: 'PATCH', url: '/v1/tenant', scope: ALL_BUT_ADMIN, payload: { supervisory_authority: LEGAL.supervisory_authority } });
  assertProblem(t, denied, 403, 'FORBIDDEN');
  t.equal((await ta.call({ method: 'GET', url: '/v1/tenant' })).json().supervisory_authority, null);
});
