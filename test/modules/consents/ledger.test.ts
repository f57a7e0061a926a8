import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';

t.test('consent ledger', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter', { direct_marketing: true });
  await createPurpose(ta, 'profiling', { automated_decisions: true });
  await createPurpose(ta, 'billing', { legal_basis: 'contract' });

  t.test('a grant is recorded, shown in the state and chained in the history', async (t) => {
    const subject = await createSubject(ta, 'ana@example.com');
    const first = await grant(ta, subject, 'newsletter');
    t.equal(first.events.length, 1);
    t.equal(first.events[0].seq, 1);
    t.equal(first.events[0].prev_hash, null);
    t.match(first.events[0].hash, /^[0-9a-f]{64}$/);

    const state = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
    t.equal(state.statusCode, 200);
    t.same(state.json().purposes.map((p: { purpose: string; status: string; purpose_version: number }) => [p.purpose, p.status, p.purpose_version]), [
      ['newsletter', 'granted', 1],
    ]);

    const second = await grant(ta, subject, 'newsletter', 'withdraw');
    t.equal(second.events[0].prev_hash, first.events[0].hash, 'each event links to the one before');
    const after = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
    t.equal(after.json().purposes[0].status, 'withdrawn', 'withdrawal takes effect at once');
    t.equal(after.json().purposes[0].event_id, second.events[0].id);

    const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.same(verify.json(), { subject_id: subject, status: 'valid', valid: true, events_checked: 2, first_invalid: null, purged: null });
  });

  t.test('several decisions in one call are chained in order, and evidence is kept encrypted', async (t) => {
    const subject = await createSubject(ta, 'boris@example.com');
    const res = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: {
        occurred_at: '2026-01-15T10:00:00+02:00',
        decisions: [
          {
            purpose: 'newsletter',
            action: 'grant',
            source: 'web_form',
            evidence: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0', form_id: 'signup-v3', text_shown: 'Send me the monthly newsletter' },
          },
          { purpose: 'profiling', action: 'grant', source: 'web_form', evidence: { form_id: 'signup-form' } },
        ],
      },
    });
    t.equal(res.statusCode, 201);
    const events = res.json().events;
    t.same(events.map((e: { seq: number }) => e.seq), [1, 2]);
    t.equal(events[1].prev_hash, events[0].hash);
    t.equal(events[0].occurred_at, '2026-01-15T08:00:00.000Z', 'occurred_at is kept, in UTC');
    t.equal(events[0].evidence.text_shown, 'Send me the monthly newsletter');

    const raw = await ta.sql.query('SELECT evidence_sealed FROM consent_events WHERE id = $1', [events[0].id]);
    const stored: Buffer = raw.rows[0].evidence_sealed;
    t.ok(stored.length > 0);
    t.notOk(stored.includes(Buffer.from('monthly newsletter')), 'the text shown is not stored in plaintext');
    t.notOk(stored.includes(Buffer.from('203.0.113.7')), 'the IP is not stored in plaintext');

    const history = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history` });
    t.equal(history.statusCode, 200);
    t.equal(history.json().items[0].evidence.form_id, 'signup-v3', 'history decrypts evidence for the caller');
    t.same(history.json().items[1].evidence, { form_id: 'signup-form' }, 'every grant says how it was collected');
  });

  t.test('history is cursor-paginated in ledger order', async (t) => {
    const subject = await createSubject(ta, 'pages@example.com');
    for (let i = 0; i < 5; i++) await grant(ta, subject, 'newsletter', i % 2 ? 'withdraw' : 'grant');
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history${q}` });
      t.equal(page.statusCode, 200);
      seen.push(...page.json().items.map((e: { seq: number }) => e.seq));
      cursor = page.json().next_cursor;
      pages++;
    } while (cursor && pages < 10);
    t.same(seen, [1, 2, 3, 4, 5]);
    t.equal(pages, 3);
    const bad = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/history?cursor=bm9wZQ` });
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().code, 'VALIDATION_FAILED');
  });

  t.test('the state keeps the decision that occurred last, whatever order they are recorded in', async (t) => {
    const subject = await createSubject(ta, 'late-paper@example.com');
    await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { occurred_at: '2026-03-01T12:00:00Z', decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api' }] },
    });
    // A paper form signed earlier is entered afterwards: it joins the ledger but does not override the later withdrawal.
    await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { occurred_at: '2026-02-01T12:00:00Z', decisions: [{ purpose: 'newsletter', action: 'grant', source: 'written', evidence: { collected_by: 'front-desk' } }] },
    });
    const state = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents` });
    t.equal(state.json().purposes[0].status, 'withdrawn');
    t.equal(state.json().purposes[0].since, '2026-03-01T12:00:00.000Z');
  });

  t.test('refusals', async (t) => {
    const subject = await createSubject(ta, 'refused@example.com');
    const notConsent = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'billing', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    t.equal(notConsent.statusCode, 422);
    t.equal(notConsent.headers['content-type'], 'application/problem+json');
    t.equal(notConsent.json().code, 'CONSENT_NOT_APPLICABLE');
    t.match(notConsent.json().detail, /contract/);

    const unknown = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'nope', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    t.equal(unknown.statusCode, 422);
    t.equal(unknown.json().code, 'UNKNOWN_PURPOSE');

    const version = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' }, purpose_version: 9 }] },
    });
    t.equal(version.statusCode, 422);
    t.equal(version.json().code, 'UNKNOWN_PURPOSE_VERSION');

    const future = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { occurred_at: '2999-01-01T00:00:00Z', decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    t.equal(future.statusCode, 400);
    t.same(future.json().errors, [{ field: 'occurred_at', message: 'must not be in the future' }]);

    const badSource = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'carrier_pigeon' }] },
    });
    t.equal(badSource.statusCode, 400);
    t.equal(badSource.json().errors[0].field, 'decisions.0.source');

    const massAssign = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' }, hash: 'x' }] },
    });
    t.equal(massAssign.statusCode, 400);
    t.same(massAssign.json().errors, [{ field: 'decisions.0.hash', message: 'is not a known field' }]);

    const missing = await ta.call({
      method: 'POST',
      url: '/v1/subjects/00000000-0000-4000-8000-000000000000/consents',
      payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
    });
    t.equal(missing.statusCode, 404);

    const count = await ta.sql.query('SELECT count(*)::int AS n FROM consent_events WHERE subject_id = $1', [subject]);
    t.equal(count.rows[0].n, 0, 'nothing was written by any refused request');
  });

  t.test('a grant names the purpose version shown, and old versions stay valid to name', async (t) => {
    await ta.call({
      method: 'PATCH',
      url: '/v1/purposes/newsletter',
      payload: { translations: { en: { title: 'Newsletter', description: 'Weekly now' } } },
    });
    const subject = await createSubject(ta, 'versions@example.com');
    const res = await ta.call({
      method: 'POST',
      url: `/v1/subjects/${subject}/consents`,
      payload: {
        decisions: [
          { purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' }, purpose_version: 1 },
          { purpose: 'profiling', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } },
        ],
      },
    });
    t.equal(res.statusCode, 201);
    t.same(res.json().events.map((e: { purpose_version: number }) => e.purpose_version), [1, 1]);
    const current = await grant(ta, subject, 'newsletter');
    t.equal(current.events[0].purpose_version, 2, 'the current version is the default');
  });
});
