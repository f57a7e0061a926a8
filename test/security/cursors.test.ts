// Forged pagination cursors: whatever a cursor decodes to, every paginated list answers 400 on query.cursor — never
// a 500 — and the cursors the lists give out keep working.
import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../helper.js';
import { assertProblem, errorFields } from '../helpers/problem.js';
import { fastWorkerEnv } from '../helpers/worker-env.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

t.test('every paginated list refuses a forged cursor with 400 on query.cursor', async (t) => {
  const ta = await build(t, { env: fastWorkerEnv() });
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'offers', { direct_marketing: true });
  await ta.call({ method: 'PATCH', url: '/v1/purposes/newsletter', payload: { retention: '3 years after the last contact' } });
  const subject = await createSubject(ta, 'ana@example.com');
  await grant(ta, subject, 'newsletter');
  await grant(ta, subject, 'newsletter', 'withdraw');
  const request = (await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'access', channel: 'email' } })).json();
  await ta.call({ method: 'POST', url: `/v1/rights-requests/${request.id}/comment`, payload: { note: 'called back' } });
  await ta.call({ method: 'POST', url: '/v1/rights-requests', payload: { subject: { id: subject }, type: 'erasure', channel: 'email' } });
  const hook = (await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/hook', event_types: ['consent.granted'] } })).json();
  await ta.call({ method: 'POST', url: '/v1/webhook-endpoints', payload: { url: 'http://127.0.0.1:9/other', event_types: ['consent.granted'] } });

  // Each list with the tag of its cursors and the shape of a valid position.
  const lists: { url: string; tag: string; seq: boolean; pages?: false }[] = [
    { url: '/v1/purposes', tag: 'purposes', seq: false },
    { url: '/v1/purposes/newsletter/versions', tag: 'purpose-versions', seq: true },
    { url: `/v1/subjects/${subject}/consents/history`, tag: 'consent-history', seq: true },
    { url: '/v1/rights-requests', tag: 'rights-requests', seq: false },
    { url: `/v1/rights-requests/${request.id}/events`, tag: 'request-events', seq: true },
    { url: '/v1/webhook-endpoints', tag: 'webhook-endpoints', seq: false },
    // No worker runs here, so no delivery is made: a well-formed cursor is still checked below.
    { url: `/v1/webhook-endpoints/${hook.id}/deliveries`, tag: 'webhook-deliveries', seq: false, pages: false },
  ];
  const badNumbers = [1.5, -1, 3e9, 2 ** 53 + 1, 1e300, '1', null, true, [1], { a: 1 }];
  const badInstants = ['garbage', '0000-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '2024-02-30T00:00:00.000Z', '', 7];
  const badIds = ['not-a-uuid', "' OR 1=1--", 1, null, '00000000-0000-0000-0000-00000000000g'];
  for (const list of lists) {
    const forged: string[] = ['%%%', 'a'.repeat(401), b64('not json'), b64([]), b64(['other-list', 1]), b64({ 0: list.tag })];
    if (list.seq) for (const n of badNumbers) forged.push(b64([list.tag, n]));
    else if (list.tag === 'purposes') forged.push(b64([list.tag, '']), b64([list.tag, 'x'.repeat(101)]), b64([list.tag, '\ud800']), b64([list.tag, 5]));
    else {
      for (const at of badInstants) forged.push(b64([list.tag, at, '00000000-0000-4000-8000-000000000000']));
      for (const id of badIds) forged.push(b64([list.tag, '2026-01-01T00:00:00.000Z', id]));
    }
    for (const cursor of forged) {
      const res = await ta.call({ method: 'GET', url: `${list.url}?limit=1&cursor=${encodeURIComponent(cursor)}` });
      const body = assertProblem(t, res, 400, 'VALIDATION_FAILED', `${list.tag} ${Buffer.from(cursor, 'base64url').toString('utf8').slice(0, 60)}`);
      t.same(errorFields(body), ['query.cursor']);
    }
    // A well-formed position is accepted, whatever rows it falls between.
    const wellFormed = b64(list.seq ? [list.tag, 1] : list.tag === 'purposes' ? [list.tag, 'a'] : [list.tag, '2026-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']);
    t.equal((await ta.call({ method: 'GET', url: `${list.url}?cursor=${wellFormed}` })).statusCode, 200, `${list.tag} well-formed cursor`);
    if (list.pages === false) continue;
    // The cursor the list gives out is accepted and leads to the next page.
    const first = await ta.call({ method: 'GET', url: `${list.url}?limit=1` });
    t.equal(first.statusCode, 200, `${list.tag} first page`);
    const next = first.json().next_cursor;
    t.type(next, 'string', `${list.tag} has a second page`);
    const second = await ta.call({ method: 'GET', url: `${list.url}?limit=1&cursor=${encodeURIComponent(next)}` });
    t.equal(second.statusCode, 200, `${list.tag} second page`);
    t.equal(second.json().items.length, 1);
  }
});
