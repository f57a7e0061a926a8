import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';

t.test('a grant is recorded, shown in the state and chained in the history', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  const subject = await createSubject(ta, 'ana@example.com');
  const first = await grant(ta, subject, 'newsletter');
  t.equal(first.events.length, 1);
  t.equal(first.events[0].seq, 1);
  t.equal(first.events[0].prev_hash, null);

  const state = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
  t.equal(state.statusCode, 200);
  t.same(state.json().purposes.map((p: { purpose: string; status: string }) => [p.purpose, p.status]), [['newsletter', 'granted']]);

  const second = await grant(ta, subject, 'newsletter', 'withdraw');
  t.equal(second.events[0].prev_hash, first.events[0].hash);
  const after = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
  t.equal(after.json().purposes[0].status, 'withdrawn');

  const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
  t.same(verify.json(), { subject_id: subject, valid: true, events_checked: 2, first_invalid: null });
});
