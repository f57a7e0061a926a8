// The worker opens an endpoint's sealed signing secret once and remembers it under the sealed bytes: a rotated or
// re-keyed secret is opened anew, a sealed value that does not open is never answered from memory, and the memory is
// bounded.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { seal } from '../../../src/lib/crypto.js';
import type { Keyring } from '../../../src/lib/keyring.js';
import { activeSecrets, cachedSecretOpener, secretAad } from '../../../src/modules/webhook-endpoints/webhook-endpoints.jobs.js';
import type { EndpointRow } from '../../../src/modules/webhook-endpoints/webhook-endpoints.repo.js';

const master = { id: 'k1', key: randomBytes(32) };
const keyring: Keyring = { current: master, all: new Map([[master.id, master.key]]) };

function endpoint(id: string, current: string, previous?: string): EndpointRow {
  const now = new Date();
  return {
    id,
    tenantId: crypto.randomUUID(),
    url: 'https://receiver.example/hook',
    eventTypes: ['*'],
    description: null,
    status: 'active',
    disabledReason: null,
    secretSealed: seal(master.key, Buffer.from(current), secretAad(id, 'current')),
    previousSecretSealed: previous ? seal(master.key, Buffer.from(previous), secretAad(id, 'previous')) : null,
    previousSecretExpiresAt: previous ? new Date(now.getTime() + 60_000) : null,
    keyId: master.id,
    failingSince: null,
    deletedAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

t.test('a remembered secret is the one its sealed bytes hold, through rotation', async (t) => {
  const openWith = cachedSecretOpener(keyring);
  const id = crypto.randomUUID();
  const first = endpoint(id, 'whsec_first');
  t.same(activeSecrets(keyring, first, new Date(), openWith), ['whsec_first']);
  t.same(activeSecrets(keyring, first, new Date(), openWith), ['whsec_first'], 'the same again, from memory');
  // Rotation: a new current secret, the old one kept as previous for its grace period.
  const rotated = endpoint(id, 'whsec_second', 'whsec_first');
  t.same(activeSecrets(keyring, rotated, new Date(), openWith), ['whsec_second', 'whsec_first'], 'after rotation the new secret signs, beside the previous one');
  t.same(activeSecrets(keyring, rotated, new Date(Date.now() + 120_000), openWith), ['whsec_second'], 'and alone once the grace period is over');
  t.same(activeSecrets(keyring, endpoint(crypto.randomUUID(), 'whsec_other'), new Date(), openWith), ['whsec_other'], "another endpoint's secret is its own");
});

t.test('sealed bytes that do not open are refused every time, never answered from memory', async (t) => {
  const openWith = cachedSecretOpener(keyring);
  const e = endpoint(crypto.randomUUID(), 'whsec_real');
  t.same(activeSecrets(keyring, e, new Date(), openWith), ['whsec_real']);
  const tampered = Buffer.from(e.secretSealed);
  tampered[tampered.length - 1]! ^= 1;
  t.throws(() => activeSecrets(keyring, { ...e, secretSealed: tampered }, new Date(), openWith), 'a tampered secret does not open');
  t.throws(() => activeSecrets(keyring, { ...e, secretSealed: tampered }, new Date(), openWith), 'nor the second time');
  t.throws(() => activeSecrets(keyring, { ...e, keyId: 'k-unknown' }, new Date(), openWith), { message: /master key k-unknown is not configured/ }, 'a secret under a master key this process lacks is refused, remembered or not');
  t.same(activeSecrets(keyring, e, new Date(), openWith), ['whsec_real'], 'the real one still opens');
});

t.test('memory is bounded: the oldest entry goes first', async (t) => {
  const opened: string[] = [];
  const counting: Keyring = { current: master, all: new Proxy(keyring.all, { get: (m, p) => (p === 'get' ? (k: string) => (opened.push(k), m.get(k)) : Reflect.get(m, p, m)) }) };
  const openWith = cachedSecretOpener(counting, 2);
  const [a, b, c] = ['a', 'b', 'c'].map((s) => endpoint(crypto.randomUUID(), `whsec_${s}`));
  for (const e of [a!, b!, a!, b!]) activeSecrets(counting, e, new Date(), openWith);
  t.equal(opened.length, 2, 'two endpoints within the bound: each opened once');
  activeSecrets(counting, c!, new Date(), openWith);
  activeSecrets(counting, a!, new Date(), openWith);
  t.equal(opened.length, 4, 'a third pushed the oldest out, so it is opened again');
});
