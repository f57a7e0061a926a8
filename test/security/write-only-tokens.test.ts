// A token that may write but not read subjects never gets decrypted identifiers back (they are for subjects:read).
import t from 'tap';
import { build, createPurpose } from '../helper.js';

t.test('write-only tokens get ids and flags, never decrypted identifiers', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const created = await ta.call({
    method: 'POST',
    url: '/v1/subjects',
    payload: { external_ref: 'crm-42', identifiers: [{ type: 'email', value: 'ana@example.com' }, { type: 'phone', value: '+359 88 123 4567' }] },
  });
  t.equal(created.statusCode, 201);
  t.equal(created.json().identifiers.length, 2, 'a token with subjects:read sees the identifiers');
  const id = created.json().id;

  t.test('subjects:write alone, sending the external_ref or one known phone, learns nothing more', async (t) => {
    for (const payload of [{ external_ref: 'crm-42' }, { identifiers: [{ type: 'phone', value: '+359881234567' }] }]) {
      for (const idempotencyKey of [undefined, 'retry-me']) {
        const res = await ta.call({
          method: 'POST',
          url: '/v1/subjects',
          scope: 'subjects:write',
          payload,
          headers: idempotencyKey ? { 'idempotency-key': `${idempotencyKey}-${JSON.stringify(payload).length}` } : {},
        });
        t.equal(res.statusCode, 200);
        t.equal(res.json().id, id);
        t.notOk('identifiers' in res.json(), 'no identifiers in the answer');
        t.notMatch(res.body, /ana@example\.com|359881234567/);
      }
    }
  });

  t.test('consents:write alone records an objection and gets the flags only', async (t) => {
    for (const scope of ['consents:write', 'consents:write subjects:write']) {
      const res = await ta.call({ method: 'POST', url: `/v1/subjects/${id}/objections`, scope, payload: { scope: 'direct_marketing' } });
      t.ok(res.statusCode === 201 || res.statusCode === 200, `${scope}: ${res.statusCode}`);
      t.equal(res.json().subject.marketing_objection, true);
      t.notOk('identifiers' in res.json().subject, `${scope}: no identifiers`);
      t.notMatch(res.body, /ana@example\.com|359881234567/);
    }
    const replay = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${id}/objections`,
      scope: 'consents:write',
      payload: { scope: 'automated_decisions' },
      headers: { 'idempotency-key': 'objection-1' },
    });
    const again = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${id}/objections`,
      scope: 'consents:write',
      payload: { scope: 'automated_decisions' },
      headers: { 'idempotency-key': 'objection-1' },
    });
    t.equal(again.headers['idempotent-replayed'], 'true');
    t.notOk('identifiers' in replay.json().subject || 'identifiers' in again.json().subject, 'a replay hides them too');
    const reader = await ta.call({ method: 'POST', url: `/v1/subjects/${id}/objections`, scope: 'consents:write subjects:read', payload: { scope: 'direct_marketing' } });
    t.equal(reader.json().subject.identifiers.length, 2, 'with subjects:read the identifiers are there');
  });
});
