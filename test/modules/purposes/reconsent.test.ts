// Re-consent (Art. 7, EDPB Guidelines 05/2020): a change that earlier consents do not cover asks for them anew.
import t from 'tap';
import { createPurposesRepo, reconsentNeeded } from '../../../src/modules/purposes/purposes.repo.js';
import { build, createPurpose, type TestApp } from '../../helper.js';
import { assertProblem, fields } from '../../helpers/problem.js';

async function patch(ta: TestApp, key: string, payload: Record<string, unknown>) {
  const res = await ta.call({ method: 'PATCH', url: `/v1/purposes/${key}`, payload });
  if (res.statusCode !== 200) throw new Error(`PATCH ${key}: ${res.statusCode} ${res.body}`);
  return res.json();
}

t.test('requires_reconsent publishes a version that asks for fresh consent, even without other change (Art. 7, EDPB Guidelines 05/2020)', async (t) => {
  const ta = await build(t);
  const v1 = await createPurpose(ta, 'newsletter', { direct_marketing: true });
  t.match(v1, { version: 1, requires_reconsent: false, reconsent_from_version: null });

  const v2 = await patch(ta, 'newsletter', { requires_reconsent: true });
  t.match(v2, { version: 2, requires_reconsent: true, reconsent_from_version: 2 });
  const rows = (await ta.sql.query('SELECT version, requires_reconsent FROM purpose_versions WHERE tenant_id = $1 ORDER BY version', [ta.tenantId])).rows;
  t.same(rows, [
    { version: 1, requires_reconsent: false },
    { version: 2, requires_reconsent: true },
  ]);
  const purpose = (await ta.sql.query('SELECT version, reconsent_from_version FROM purposes WHERE tenant_id = $1', [ta.tenantId])).rows[0];
  t.same(purpose, { version: 2, reconsent_from_version: 2 });

  const retried = await patch(ta, 'newsletter', { requires_reconsent: true });
  t.equal(retried.version, 2, 'a retry on a version that already asks for it publishes nothing (consents given meanwhile stay valid)');

  const v3 = await patch(ta, 'newsletter', { retention: 'One year after the last newsletter' });
  t.match(v3, { version: 3, requires_reconsent: false, reconsent_from_version: 2 }, 'a later change keeps the threshold');
  const v4 = await patch(ta, 'newsletter', {
    translations: { en: { title: 'Newsletter and partner offers', description: 'Our news and offers of our partners' } },
    requires_reconsent: true,
  });
  t.match(v4, { version: 4, requires_reconsent: true, reconsent_from_version: 4 });
  const v5 = await patch(ta, 'newsletter', { retention: 'Two years', requires_reconsent: false });
  t.match(v5, { version: 5, requires_reconsent: false, reconsent_from_version: 4 });

  const versions = (await ta.call({ method: 'GET', url: '/v1/purposes/newsletter/versions' })).json();
  t.same(
    versions.items.map((v: { version: number; requires_reconsent: boolean; reconsent_from_version: number | null }) => [v.version, v.requires_reconsent, v.reconsent_from_version]),
    [
      [5, false, 4],
      [4, true, 4],
      [3, false, 2],
      [2, true, 2],
      [1, false, null],
    ],
    'each version shows the threshold as it stood when it was current',
  );
  t.same((await ta.call({ method: 'GET', url: '/v1/purposes/newsletter' })).json(), v5);
});

t.test('requires_reconsent on a purpose not based on consent is a 400 naming it, and publishes nothing (Art. 7)', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'billing', { legal_basis: 'contract' });
  for (const payload of [{ requires_reconsent: true }, { requires_reconsent: true, retention: '10 years' }]) {
    const res = await ta.call({ method: 'PATCH', url: '/v1/purposes/billing', payload });
    t.same(fields(assertProblem(t, res, 400, 'VALIDATION_FAILED')), ['requires_reconsent'], JSON.stringify(payload));
  }
  t.equal((await patch(ta, 'billing', { requires_reconsent: false })).version, 1, 'false asks for nothing');
  const created = await ta.call({
    method: 'POST',
    url: '/v1/purposes',
    payload: { key: 'x', legal_basis: 'consent', retention: '1 year', requires_reconsent: true, translations: { en: { title: 'x', description: 'y' } } },
  });
  t.same(fields(assertProblem(t, created, 400, 'VALIDATION_FAILED')), ['requires_reconsent'], 'a new purpose has no earlier consents to renew');
});

t.test('the purposes repository gives a consent check the re-consent threshold and the channels with the purpose (Art. 7, ePrivacy Art. 13)', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true, channels: ['sms', 'email'] });
  await patch(ta, 'newsletter', { requires_reconsent: true });
  const repo = createPurposesRepo(ta.app.db);
  const row = await ta.scoped(() => repo.find(ta.tenantId, 'newsletter'));
  t.ok(row);
  t.match(row, { key: 'newsletter', version: 2, channels: ['email', 'sms'], reconsentFromVersion: 2, requiresReconsent: true });
  t.equal(reconsentNeeded(row!, 1), true, 'a grant of version 1 no longer counts');
  t.equal(reconsentNeeded(row!, 2), false);
  const [many] = await ta.scoped(() => repo.findMany(ta.tenantId, ['newsletter']));
  t.equal(many?.reconsentFromVersion, 2);
  await createPurpose(ta, 'other');
  t.equal(reconsentNeeded((await ta.scoped(() => repo.find(ta.tenantId, 'other')))!, 1), false, 'no threshold: every version counts');
});
