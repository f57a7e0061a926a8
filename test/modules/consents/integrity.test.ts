import t from 'tap';
import { build, createPurpose, createSubject, grant } from '../../helper.js';

t.test('ledger integrity', async (t) => {
  const ta = await build(t);
  await createPurpose(ta, 'newsletter');
  await createPurpose(ta, 'offers');

  t.test('the database refuses UPDATE, DELETE and TRUNCATE on the ledger', async (t) => {
    const subject = await createSubject(ta, 'append-only@example.com');
    await grant(ta, subject, 'newsletter');
    await t.rejects(ta.sql.query(`UPDATE consent_events SET action = 'withdraw' WHERE subject_id = $1`, [subject]), /append-only/);
    await t.rejects(ta.sql.query('DELETE FROM consent_events WHERE subject_id = $1', [subject]), /append-only/);
    await t.rejects(ta.sql.query('TRUNCATE consent_events CASCADE'), /append-only/);
    const n = await ta.sql.query('SELECT count(*)::int AS n FROM consent_events WHERE subject_id = $1', [subject]);
    t.equal(n.rows[0].n, 1);
  });

  t.test('a row changed behind the service is found by verify', async (t) => {
    const subject = await createSubject(ta, 'tampered@example.com');
    await grant(ta, subject, 'newsletter');
    const second = await grant(ta, subject, 'offers');
    await grant(ta, subject, 'newsletter', 'withdraw');
    // Someone with database access turns the trigger off and rewrites the second event.
    const client = await ta.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only');
      await client.query(`UPDATE consent_events SET occurred_at = occurred_at - interval '1 day' WHERE id = $1`, [second.events[0].id]);
      await client.query('ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.equal(res.statusCode, 200);
    t.equal(res.json().valid, false);
    t.same(res.json().first_invalid, { event_id: second.events[0].id, seq: 2, reason: 'hash_mismatch' });
  });

  t.test('a rewritten row with a recomputed hash still breaks the chain after it', async (t) => {
    const subject = await createSubject(ta, 'rehashed@example.com');
    await grant(ta, subject, 'newsletter');
    const second = await grant(ta, subject, 'newsletter', 'withdraw');
    const third = await grant(ta, subject, 'offers');
    const client = await ta.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only');
      await client.query(`UPDATE consent_events SET action = 'grant', hash = repeat('a', 64) WHERE id = $1`, [second.events[0].id]);
      await client.query('ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.equal(res.json().valid, false);
    t.equal(res.json().first_invalid.seq, 2, 'the forged row itself no longer hashes to its stored value');
    t.not(third.events[0].prev_hash, 'a'.repeat(64));
  });

  t.test('a deleted last event is found through the head kept on the subject', async (t) => {
    const subject = await createSubject(ta, 'truncated@example.com');
    await grant(ta, subject, 'newsletter');
    await grant(ta, subject, 'offers');
    const client = await ta.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only');
      await client.query('DELETE FROM consent_events WHERE subject_id = $1 AND seq = 2', [subject]);
      await client.query('ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const res = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.equal(res.json().valid, false);
    t.equal(res.json().first_invalid.reason, 'head_mismatch');
  });

  t.test('50 concurrent grants on one subject leave a valid chain of 50 events', async (t) => {
    const subject = await createSubject(ta, 'concurrent@example.com');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ta.call({
          method: 'POST',
          url: `/v1/subjects/${subject}/consents`,
          payload: { decisions: [{ purpose: i % 2 ? 'newsletter' : 'offers', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
        }),
      ),
    );
    t.same(results.map((r) => r.statusCode), Array(50).fill(201));
    const verify = await ta.call({ method: 'GET', url: `/v1/subjects/${subject}/consents/verify` });
    t.same(verify.json(), { subject_id: subject, status: 'valid', valid: true, events_checked: 50, first_invalid: null, purged: null });
    const seqs = await ta.sql.query('SELECT seq FROM consent_events WHERE subject_id = $1 ORDER BY seq', [subject]);
    t.same(seqs.rows.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1), 'no fork, no gap');
  });

  t.test('writes for different subjects do not wait for each other', async (t) => {
    const a = await createSubject(ta, 'lock-a@example.com');
    const b = await createSubject(ta, 'lock-b@example.com');
    // Hold subject A's row lock in an open transaction, as a slow writer would.
    const client = await ta.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE', [a]);
      const started = Date.now();
      const res = await grant(ta, b, 'newsletter');
      t.equal(res.events.length, 1, 'subject B was written while A was locked');
      t.ok(Date.now() - started < 2000, 'without waiting for the lock on A');
      const pendingA = ta.call({
        method: 'POST',
        url: `/v1/subjects/${a}/consents`,
        payload: { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] },
      });
      await new Promise((r) => setTimeout(r, 200));
      await client.query('COMMIT');
      t.equal((await pendingA).statusCode, 201, 'the write for A went through once the lock was released');
    } finally {
      client.release();
    }
  });

  t.test('Idempotency-Key: a retry returns the first answer and writes nothing more', async (t) => {
    const subject = await createSubject(ta, 'retry@example.com');
    const send = (body: object, key = 'grant-123') =>
      ta.call({ method: 'POST', url: `/v1/subjects/${subject}/consents`, headers: { 'idempotency-key': key }, payload: body });
    const body = { decisions: [{ purpose: 'newsletter', action: 'grant', source: 'api', evidence: { form_id: 'signup-form' } }] };
    const first = await send(body);
    const again = await send(body);
    t.equal(first.statusCode, 201);
    t.equal(again.statusCode, 201);
    t.same(again.json(), first.json());
    t.equal(again.headers['idempotent-replayed'], 'true');
    const other = await send({ decisions: [{ purpose: 'newsletter', action: 'withdraw', source: 'api' }] });
    t.equal(other.statusCode, 409);
    t.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED');
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => send(body, 'grant-concurrent')));
    t.same(new Set(concurrent.map((r) => r.json().events[0].id)).size, 1, 'concurrent retries share one answer');
    const n = await ta.sql.query('SELECT count(*)::int AS n FROM consent_events WHERE subject_id = $1', [subject]);
    t.equal(n.rows[0].n, 2, 'one event per distinct key');
    const badKey = await send(body, 'x'.repeat(256));
    t.equal(badKey.statusCode, 400);
  });
});
