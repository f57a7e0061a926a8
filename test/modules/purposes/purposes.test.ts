import t from 'tap';
import { build, createPurpose, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

const NEWSLETTER = {
  key: 'newsletter',
  legal_basis: 'consent',
  direct_marketing: true,
  data_categories: ['email', 'name'],
  retention: 'Until consent is withdrawn',
  recipients: ['Mailing provider'],
  translations: {
    en: { title: 'Newsletter', description: 'Monthly news about our products' },
    bg: { title: 'Бюлетин', description: 'Месечни новини за нашите продукти' },
  },
};

async function walk(ta: TestApp, url: string, limit: number, tenantId?: string) {
  const pages: { items: { key: string; version: number }[]; next_cursor: string | null }[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep = url.includes('?') ? '&' : '?';
    const res = await ta.call({
      method: 'GET',
      url: `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      tenantId,
    });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    const page = res.json();
    pages.push(page);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return pages;
}

t.test('POST /v1/purposes creates a purpose at version 1', async (t) => {
  const ta = await build(t);
  const res = await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER });
  t.equal(res.statusCode, 201, res.body);
  const body = res.json();
  t.match(body, {
    key: 'newsletter',
    version: 1,
    legal_basis: 'consent',
    direct_marketing: true,
    automated_decisions: false,
    data_categories: ['email', 'name'],
    retention: 'Until consent is withdrawn',
    recipients: ['Mailing provider'],
  });
  t.same(body.translations, NEWSLETTER.translations);
  t.ok(!Number.isNaN(Date.parse(body.created_at)));
  const rows = (await ta.sql.query('SELECT key, version FROM purpose_versions WHERE tenant_id = $1', [ta.tenantId])).rows;
  t.same(rows, [{ key: 'newsletter', version: 1 }], 'version 1 is kept in the version history');
});

t.test('optional fields default to false and empty lists', async (t) => {
  const ta = await build(t);
  const res = await ta.call({
    method: 'POST',
    url: '/v1/purposes',
    payload: { key: 'billing', legal_basis: 'contract', retention: '10 years', translations: { en: { title: 'Billing', description: 'Invoices' } } },
  });
  t.equal(res.statusCode, 201, res.body);
  t.match(res.json(), { direct_marketing: false, automated_decisions: false, data_categories: [], recipients: [] });
});

t.test('a key in use is a 409 PURPOSE_EXISTS and the first purpose is unchanged', async (t) => {
  const ta = await build(t);
  const first = await createPurpose(ta, 'newsletter');
  const dup = await ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...NEWSLETTER, retention: 'Forever' } });
  const body = assertProblem(t, dup, 409, 'PURPOSE_EXISTS');
  t.match(body.detail, /newsletter/);
  const now = await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' });
  t.same(now.json(), first);
});

t.test('concurrent creations of one key: exactly one 201, the rest 409', async (t) => {
  const ta = await build(t);
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...NEWSLETTER, retention: `attempt ${i}` } })),
  );
  const statuses = results.map((r) => r.statusCode).sort();
  t.same(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
  const count = (await ta.sql.query('SELECT count(*)::int AS n FROM purpose_versions WHERE tenant_id = $1', [ta.tenantId])).rows[0].n;
  t.equal(count, 1);
});

t.test('two tenants may use the same key for their own purposes', async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other');
  await createPurpose(ta, 'newsletter');
  const theirs = await ta.call({ method: 'POST', url: '/v1/purposes', tenantId: other, payload: { ...NEWSLETTER, retention: 'Other text' } });
  t.equal(theirs.statusCode, 201);
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json().retention, '2 years after the last contact');
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter', tenantId: other })).json().retention, 'Other text');
});

t.test('GET /v1/purposes/{key} returns the purpose as created', async (t) => {
  const ta = await build(t);
  const created = (await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER })).json();
  const res = await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), created);
});

t.test('the list walks every purpose in key order with cursor pagination', async (t) => {
  const ta = await build(t);
  const keys = ['echo', 'alpha', 'delta', 'charlie', 'bravo'];
  for (const k of keys) await createPurpose(ta, k);

  const pages = await walk(ta, '/v1/purposes', 2);
  t.same(pages.map((p) => p.items.map((i) => i.key)), [['alpha', 'bravo'], ['charlie', 'delta'], ['echo']]);
  t.ok(pages[0]!.next_cursor && pages[1]!.next_cursor, 'every page but the last has a cursor');
  t.equal(pages[2]!.next_cursor, null, 'the last page has next_cursor null');

  const all = (await ta.call({ method: 'GET', url: '/v1/purposes' })).json();
  t.same(all.items.map((i: { key: string }) => i.key), ['alpha', 'bravo', 'charlie', 'delta', 'echo']);
  t.equal(all.next_cursor, null);

  const exact = await walk(ta, '/v1/purposes', 5);
  t.equal(exact.length, 1, 'a page exactly as long as the list has no next cursor');
  t.equal(exact[0]!.next_cursor, null);
});

t.test("the list shows only the caller's purposes", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Other');
  await createPurpose(ta, 'alpha');
  await createPurpose(ta, 'bravo', {}, other);
  const mine = (await ta.call({ method: 'GET', url: '/v1/purposes' })).json();
  t.same(mine.items.map((i: { key: string }) => i.key), ['alpha']);
  const theirs = (await ta.call({ method: 'GET', url: '/v1/purposes', tenantId: other })).json();
  t.same(theirs.items.map((i: { key: string }) => i.key), ['bravo']);
});

t.test('a garbage or foreign cursor is a 400 naming the cursor', async (t) => {
  const ta = await build(t);
  for (const k of ['alpha', 'bravo', 'charlie']) await createPurpose(ta, k);
  await ta.call({ method: 'PATCH', url: '/v1/purposes/alpha', payload: { retention: 'v2' } });
  await ta.call({ method: 'PATCH', url: '/v1/purposes/alpha', payload: { retention: 'v3' } });
  const versionsCursor = (await ta.call({ method: 'GET', url: '/v1/purposes/alpha/versions?limit=1' })).json().next_cursor;
  t.type(versionsCursor, 'string');
  const purposesCursor = (await ta.call({ method: 'GET', url: '/v1/purposes?limit=1' })).json().next_cursor;
  t.type(purposesCursor, 'string');

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const bad = {
    garbage: 'not-a-cursor!!',
    'base64 of non-JSON': Buffer.from('hello').toString('base64url'),
    'a cursor of the versions list': versionsCursor,
    'the right list with the wrong shape': b64(['purposes', 7]),
    'the right list with extra positions': b64(['purposes', 'alpha', 'x']),
    'an object': b64({ list: 'purposes', after: 'alpha' }),
  };
  for (const [what, cursor] of Object.entries(bad)) {
    const res = await ta.call({ method: 'GET', url: `/v1/purposes?limit=1&cursor=${encodeURIComponent(cursor)}` });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.match(fields(body), [/cursor$/], what);
  }
  const foreign = await ta.call({ method: 'GET', url: `/v1/purposes/alpha/versions?cursor=${encodeURIComponent(purposesCursor)}` });
  assertProblem(t, foreign, 400, 'VALIDATION_FAILED');
});

t.test('limit outside 1-200 is a 400', async (t) => {
  const ta = await build(t);
  for (const limit of ['0', '201', 'ten', '-1']) {
    const res = await ta.call({ method: 'GET', url: `/v1/purposes?limit=${limit}` });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.match(fields(body), [/limit$/], `limit=${limit}`);
  }
});

t.test('PATCH with changed text publishes version 2; the old text stays readable', async (t) => {
  const ta = await build(t);
  const v1 = (await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER })).json();
  const newText = { en: { title: 'Newsletter', description: 'Weekly news about our products and offers' } };
  const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { translations: newText } });
  t.equal(res.statusCode, 200, res.body);
  const v2 = res.json();
  t.equal(v2.version, 2);
  t.same(v2.translations, newText);
  t.equal(v2.retention, NEWSLETTER.retention, 'fields not in the PATCH are carried over');
  t.same(v2.data_categories, NEWSLETTER.data_categories);

  t.same((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json(), v2, 'GET shows the current version');

  const versions = await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions' });
  t.equal(versions.statusCode, 200);
  const list = versions.json();
  t.same(list.items.map((i: { version: number }) => i.version), [2, 1], 'newest first');
  t.same(list.items[1].translations, NEWSLETTER.translations, 'version 1 still has the old text');
  t.same(list.items[1], v1);
  t.same(list.items[0].translations, newText);
  t.equal(list.next_cursor, null);
});

t.test('PATCH with identical content keeps the version', async (t) => {
  const ta = await build(t);
  const v1 = (await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER })).json();
  const { key: _key, ...content } = NEWSLETTER;
  // The same translations in another key order, and the same text with surrounding blanks (trimmed on input).
  const same = {
    ...content,
    retention: `  ${content.retention} `,
    translations: { bg: NEWSLETTER.translations.bg, en: NEWSLETTER.translations.en },
  };
  for (const payload of [same, {}, { legal_basis: 'consent' }, { direct_marketing: true }]) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().version, 1, JSON.stringify(payload));
  }
  const versions = (await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions' })).json();
  t.same(versions.items, [v1]);
});

t.test('a change of any content but the legal basis publishes a new version', async (t) => {
  const ta = await build(t);
  await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER });
  const withLogic = {
    en: { ...NEWSLETTER.translations.en, automated_decision_logic: 'Offers are chosen by a score of past purchases' },
    bg: { ...NEWSLETTER.translations.bg, automated_decision_logic: 'Офертите се избират по оценка на покупките' },
  };
  const changes = [
    { direct_marketing: false },
    { automated_decisions: true, automated_decision_exception: 'explicit_consent', translations: withLogic },
    { data_categories: ['email'] },
    { retention: '1 year' },
    { recipients: [] },
    { channels: ['email'] },
  ];
  let expected = 1;
  for (const payload of changes) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload });
    t.equal(res.statusCode, 200, res.body);
    expected++;
    t.equal(res.json().version, expected, JSON.stringify(payload));
    t.match(res.json(), payload);
  }
  const versions = (await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions' })).json();
  t.same(versions.items.map((i: { version: number }) => i.version), [7, 6, 5, 4, 3, 2, 1]);
  t.ok(versions.items.every((v: { legal_basis: string }) => v.legal_basis === 'consent'), 'every version keeps the basis');
});

t.test('the versions list is cursor-paginated newest first', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'p');
  for (const retention of ['r2', 'r3', 'r4']) await ta.call({ method: 'PATCH', url: '/v1/purposes/p', payload: { retention } });
  const pages = await walk(ta, '/v1/purposes/p/versions', 3);
  t.same(pages.map((p) => p.items.map((i) => i.version)), [[4, 3, 2], [1]]);
  t.equal(pages.at(-1)!.next_cursor, null);
  const ones = await walk(ta, '/v1/purposes/p/versions', 1);
  t.same(ones.map((p) => p.items.map((i) => i.version)), [[4], [3], [2], [1]]);
});

t.test('an unknown legal basis is a 400 naming legal_basis', async (t) => {
  const ta = await build(t);
  const create = await ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...NEWSLETTER, legal_basis: 'because_we_can' } });
  t.same(fields(assertProblem(t, create, 400, 'VALIDATION_FAILED')), ['legal_basis']);
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).statusCode, 404, 'nothing was created');

  await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER });
  const patch = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { legal_basis: 'Consent' } });
  t.same(fields(assertProblem(t, patch, 400, 'VALIDATION_FAILED')), ['legal_basis']);
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json().version, 1);
});

t.test('bad purpose content is a 400 naming each field', async (t) => {
  const ta = await build(t);
  const cases: [Record<string, unknown>, RegExp[]][] = [
    [{ key: 'Newsletter' }, [/^key$/]],
    [{ key: 'has space' }, [/^key$/]],
    [{ key: '' }, [/^key$/]],
    [{ key: 'x'.repeat(65) }, [/^key$/]],
    [{ translations: {} }, [/^translations/]],
    [{ translations: { EN: { title: 'x', description: 'y' } } }, [/^translations/]],
    [{ translations: { en: { title: '', description: 'y' } } }, [/^translations\.en\.title$/]],
    [{ translations: { en: { title: 'x' } } }, [/^translations\.en\.description$/]],
    [{ retention: '' }, [/^retention$/]],
    [{ direct_marketing: 'yes' }, [/^direct_marketing$/]],
  ];
  for (const [override, expected] of cases) {
    const res = await ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...NEWSLETTER, ...override } });
    const body = assertProblem(t, res, 400, 'VALIDATION_FAILED');
    t.match(fields(body), expected, JSON.stringify(override));
  }
  const missing = await ta.call({ method: 'POST', url: '/v1/purposes', payload: { key: 'x' } });
  t.match(fields(assertProblem(t, missing, 400, 'VALIDATION_FAILED')), ['legal_basis', 'retention', 'translations']);
  t.same((await ta.call({ method: 'GET', url: '/v1/purposes' })).json().items, [], 'nothing was created');
});

t.test('unknown fields are a 400 naming them (no mass assignment of version or tenant_id)', async (t) => {
  const ta = await build(t);
  const create = await ta.call({ method: 'POST', url: '/v1/purposes', payload: { ...NEWSLETTER, version: 9, tenant_id: crypto.randomUUID() } });
  t.same(fields(assertProblem(t, create, 400, 'VALIDATION_FAILED')), ['tenant_id', 'version']);
  await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER });
  const patch = await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { key: 'renamed', retention: 'x' } });
  t.same(fields(assertProblem(t, patch, 400, 'VALIDATION_FAILED')), ['key']);
  const cur = (await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json();
  t.equal(cur.version, 1);
  t.equal(cur.retention, NEWSLETTER.retention);
});

t.test('an unknown purpose is a 404 PURPOSE_NOT_FOUND on get, patch and versions', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'known');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/nope' }), 404, 'PURPOSE_NOT_FOUND');
  assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/purposes/nope', payload: { retention: 'x' } }), 404, 'PURPOSE_NOT_FOUND');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/nope/versions' }), 404, 'PURPOSE_NOT_FOUND');
  const count = (await ta.sql.query('SELECT count(*)::int AS n FROM purpose_versions')).rows[0].n;
  t.equal(count, 1, 'a PATCH of an unknown key creates nothing');
});

t.test("another tenant can neither see nor change a tenant's purpose (404)", async (t) => {
  const ta = await build(t);
  const other = await ta.newTenant('Intruder');
  const mine = (await ta.call({ method: 'POST', url: '/v1/purposes', payload: NEWSLETTER })).json();
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/newsletter', tenantId: other }), 404, 'PURPOSE_NOT_FOUND');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions', tenantId: other }), 404, 'PURPOSE_NOT_FOUND');
  assertProblem(
    t,
    await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', tenantId: other, payload: { legal_basis: 'legitimate_interests' } }),
    404,
    'PURPOSE_NOT_FOUND',
  );
  t.same((await ta.call({ method: 'GET', url: '/v1/purposes', tenantId: other })).json().items, []);
  t.same((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json(), mine, 'the owner sees it unchanged');
});

t.test('reading needs purposes:read and writing needs purposes:write', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'known');
  assertProblem(t, await ta.call({ method: 'POST', url: '/v1/purposes', scope: 'purposes:read', payload: NEWSLETTER }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'PATCH', url: '/v1/purposes/known', scope: 'purposes:read', payload: { retention: 'x' } }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes', scope: 'subjects:read' }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/known', scope: 'purposes:write' }), 403, 'FORBIDDEN');
  assertProblem(t, await ta.call({ method: 'GET', url: '/v1/purposes/known/versions', scope: 'purposes:write' }), 403, 'FORBIDDEN');
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/known', scope: 'purposes:read' })).statusCode, 200);
  t.equal((await ta.call({ method: 'POST', url: '/v1/purposes', scope: 'purposes:write', payload: NEWSLETTER })).statusCode, 201);
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/known' })).json().version, 1, 'the refused PATCH changed nothing');
  assertProblem(t, await ta.app.inject({ method: 'GET', url: '/v1/purposes' }), 401, 'UNAUTHORIZED');
});

t.test('Idempotency-Key: a retried create returns the first answer, another body is a 409', async (t) => {
  const ta = await build(t);
  const headers = { 'idempotency-key': 'purpose-create-1' };
  const first = await ta.call({ method: 'POST', url: '/v1/purposes', headers, payload: NEWSLETTER });
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const retry = await ta.call({ method: 'POST', url: '/v1/purposes', headers, payload: NEWSLETTER });
  t.equal(retry.statusCode, 201, 'a retry is not a PURPOSE_EXISTS');
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(retry.json(), first.json());
  const reuse = await ta.call({ method: 'POST', url: '/v1/purposes', headers, payload: { ...NEWSLETTER, key: 'other' } });
  assertProblem(t, reuse, 409, 'IDEMPOTENCY_KEY_REUSED');
  t.equal((await ta.call({ method: 'GET', url: '/v1/purposes/other' })).statusCode, 404);
});
