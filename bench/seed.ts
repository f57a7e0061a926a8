// Seeds the bench database: one tenant, three purposes and a population of subjects with emails — some granted,
// some withdrawn, some with no decision, some objected.
//
// The first CANARY subjects go through the services (the code the API runs); the rest are written in bulk with the
// same crypto and hash-chain functions the services use (blind index, sealed identifier, wrapped data key,
// chainHash), then a sample of them is read back through the services (decrypt, verify the chain, check) so a
// drift between this seeder and the services fails the run instead of skewing it.
//
// Run alone: DATABASE_URL=postgres://…/rightful_bench node --import tsx bench/seed.ts [subjects]
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createDb, createPool } from '../src/db/client.js';
import { blindIndex, newWrappedKey, seal } from '../src/lib/crypto.js';
import { normaliseEmail } from '../src/lib/identifiers.js';
import { createKeyring } from '../src/lib/keyring.js';
import { chainHash } from '../src/modules/consents/consents.ledger.js';
import { consentEvents, consentState } from '../src/modules/consents/consents.table.js';
import { CreatePurposeBody } from '../src/modules/purposes/purposes.schemas.js';
import { subjectIdentifiers, subjects as subjectsTable } from '../src/modules/subjects/subjects.table.js';
import { createServices } from '../src/services.js';

export type Profile = 'granted' | 'withdrawn' | 'no_consent' | 'objected';
export type SeedResult = {
  tenantId: string;
  /** Subjects [bulkFrom, subjects) have the ids bulkIdOf(i). */
  bulkFrom: number;
  subjectIds: string[];
  purposes: { consent: string; profiling: string; contract: string };
  counts: Record<Profile | 'subjects' | 'events' | 'via_services' | 'bulk', number>;
  seconds: number;
};

const CANARY = 200;
const BATCH = 1000;

/** The id of the i-th bulk-seeded subject: a valid v4-shaped UUID whose last group is i in decimal, so pgbench
 * (bench/consent-write.sql) can address a random seeded subject without an extra lookup. */
export const bulkIdOf = (i: number) => `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** The email of the i-th seeded subject; mixed case on purpose so normalisation has work to do. */
export const emailOf = (i: number) => `Bench.User.${i}@Example.com`;

/** What the i-th subject gets: 60% granted, 20% granted then withdrawn, 10% nothing, 10% granted then objected. */
export function profileOf(i: number): Profile {
  const r = i % 10;
  if (r < 6) return 'granted';
  if (r < 8) return 'withdrawn';
  if (r < 9) return 'no_consent';
  return 'objected';
}

type Decision = { purpose: string; action: 'grant' | 'withdraw'; source: 'web_form' | 'api'; evidence?: { form_id: string } };

function decisionsOf(i: number, p: SeedResult['purposes']): Decision[] {
  const profile = profileOf(i);
  if (profile === 'no_consent') return [];
  const d: Decision[] = [{ purpose: p.consent, action: 'grant', source: 'web_form', evidence: { form_id: 'signup-form' } }];
  if (i % 3 === 0) d.push({ purpose: p.profiling, action: 'grant', source: 'web_form', evidence: { form_id: 'signup-form' } });
  if (profile === 'withdrawn') d.push({ purpose: p.consent, action: 'withdraw', source: 'api' });
  return d;
}

async function pooled(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        await work(i);
      }
    }),
  );
}

export async function seed(opts: { databaseUrl: string; subjects: number; log?: (s: string) => void }): Promise<SeedResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  // Seeding only: these sessions' commits need not wait for the WAL flush (nothing else on the server is affected).
  const seedUrl = new URL(opts.databaseUrl);
  seedUrl.searchParams.set('options', '-c synchronous_commit=off');
  const config = loadConfig({ ...process.env, DATABASE_URL: seedUrl.toString(), DATABASE_POOL_MAX: '8', LOG_LEVEL: 'warn' });
  const pool = createPool(config.database, console, { owner: true });
  const db = createDb(pool);
  const keyring = createKeyring(config);
  // (cast: the factory's options grow with the service; only db and keyring matter for seeding)
  const services = createServices({ db, keyring, allowPrivateWebhooks: false } as Parameters<typeof createServices>[0]);
  try {
    const tenant = await services.tenants.create({ name: 'Bench controller' });
    const ctx = await services.tenants.context(tenant.id);
    const purposes = { consent: 'newsletter', profiling: 'profiling', contract: 'service_emails' };
    const purpose = (key: string, extra: object) =>
      services.purposes.create(
        tenant.id,
        CreatePurposeBody.parse({
          key,
          legal_basis: 'consent',
          retention: '2 years after the last contact',
          translations: {
            en: {
              title: `Title of ${key}`,
              description: `Why we process data for ${key}`,
              ...('automated_decisions' in extra ? { automated_decision_logic: `How ${key} decides` } : {}),
            },
          },
          ...('automated_decisions' in extra ? { automated_decision_exception: 'explicit_consent' } : {}),
          ...extra,
        }),
      );
    const versions = new Map<string, number>();
    for (const [key, extra] of [
      [purposes.consent, { direct_marketing: true }],
      [purposes.profiling, { automated_decisions: true }],
      [purposes.contract, { legal_basis: 'contract' }],
    ] as const) {
      versions.set(key, (await purpose(key, extra)).version);
    }

    const n = opts.subjects;
    const subjectIds: string[] = new Array(n);
    const counts: SeedResult['counts'] = { subjects: n, granted: 0, withdrawn: 0, no_consent: 0, objected: 0, events: 0, via_services: 0, bulk: 0 };
    for (let i = 0; i < n; i++) counts[profileOf(i)]++;

    // 1. Canary subjects through the services.
    const canary = Math.min(CANARY, n);
    await pooled(canary, 8, async (i) => {
      const { subject } = await services.subjects.findOrCreate(ctx, { external_ref: `crm-${i}`, identifiers: [{ type: 'email', value: emailOf(i) }] });
      subjectIds[i] = subject.id;
      const decisions = decisionsOf(i, purposes);
      if (decisions.length) await services.consents.record(tenant.id, subject.id, { decisions });
      counts.events += decisions.length;
      if (profileOf(i) === 'objected') await services.consents.object(tenant.id, subject.id, { scope: 'direct_marketing' });
    });
    counts.via_services = canary;

    // 2. The rest in bulk, batch by batch, each batch in one transaction.
    const batches: [number, number][] = [];
    for (let s = canary; s < n; s += BATCH) batches.push([s, Math.min(n, s + BATCH)]);
    await pooled(batches.length, 4, async (b) => {
      const [from, to] = batches[b]!;
      const subjectRows: (typeof subjectsTable.$inferInsert)[] = [];
      const identifierRows: (typeof subjectIdentifiers.$inferInsert)[] = [];
      const eventRows: (typeof consentEvents.$inferInsert)[] = [];
      const stateRows: (typeof consentState.$inferInsert)[] = [];
      const base = Date.now() - 86_400_000;
      for (let i = from; i < to; i++) {
        const id = bulkIdOf(i);
        subjectIds[i] = id;
        const { key, wrapped, keyId } = newWrappedKey(keyring.current, `subject-data-key:${id}`);
        const email = normaliseEmail(emailOf(i));
        if (!email.ok) throw new Error(`seed email ${i} does not normalise`);
        identifierRows.push({
          tenantId: tenant.id,
          subjectId: id,
          type: 'email',
          blindIndex: blindIndex(ctx.indexKey, 'email', email.value),
          valueSealed: seal(key, Buffer.from(email.value, 'utf8'), `identifier:${id}:email`),
        });
        const at = new Date(base + i);
        let seq = 0;
        let head: string | null = null;
        const latest = new Map<string, typeof consentEvents.$inferInsert>();
        for (const d of decisionsOf(i, purposes)) {
          const fields = {
            id: crypto.randomUUID(),
            tenantId: tenant.id,
            subjectId: id,
            seq: ++seq,
            purposeKey: d.purpose,
            purposeVersion: versions.get(d.purpose)!,
            action: d.action,
            source: d.source,
            occurredAt: at,
            recordedAt: at,
            evidenceSealed: null,
          };
          const hash = chainHash(head, fields);
          const row = { ...fields, prevHash: head, hash };
          head = hash;
          eventRows.push(row);
          latest.set(d.purpose, row);
        }
        for (const r of latest.values()) {
          stateRows.push({
            tenantId: tenant.id,
            subjectId: id,
            purposeKey: r.purposeKey,
            status: r.action === 'grant' ? 'granted' : 'withdrawn',
            purposeVersion: r.purposeVersion,
            since: r.occurredAt,
            eventId: r.id,
          });
        }
        const objected = profileOf(i) === 'objected';
        subjectRows.push({
          id,
          tenantId: tenant.id,
          externalRef: `crm-${i}`,
          dataKeyWrapped: wrapped,
          keyId,
          ledgerSeq: seq,
          ledgerHead: head,
          marketingObjection: objected,
          marketingObjectionAt: objected ? at : null,
          createdAt: at,
          updatedAt: at,
        });
      }
      await db.transaction(async (tx) => {
        await tx.insert(subjectsTable).values(subjectRows);
        await tx.insert(subjectIdentifiers).values(identifierRows);
        for (let k = 0; k < eventRows.length; k += BATCH) await tx.insert(consentEvents).values(eventRows.slice(k, k + BATCH));
        for (let k = 0; k < stateRows.length; k += BATCH) await tx.insert(consentState).values(stateRows.slice(k, k + BATCH));
      });
      counts.events += eventRows.length;
      counts.bulk += to - from;
      if (b % 5 === 4) log(`  seeded ${counts.via_services + counts.bulk}/${n} subjects`);
    });
    await pool.query('ANALYZE');

    // 3. Read a sample of bulk subjects back through the services: the seeder must match what they write.
    for (const i of [canary, canary + 1, canary + 6, canary + 8, canary + 9, n - 1].filter((i) => i >= canary && i < n)) {
      const s = await services.subjects.get(tenant.id, subjectIds[i]!);
      const email = normaliseEmail(emailOf(i));
      if (!email.ok || s.identifiers?.[0]?.value !== email.value) throw new Error(`seed check: subject ${i} identifiers do not decrypt`);
      const v = await services.consents.verify(tenant.id, subjectIds[i]!);
      if (!v.valid) throw new Error(`seed check: subject ${i} chain invalid: ${JSON.stringify(v.first_invalid)}`);
    }
    const sample = Array.from({ length: 20 }, (_, k) => k * 7 + (n > canary ? canary : 0)).filter((i) => i < n);
    const checked = await services.consents.check(ctx, purposes.consent, sample.map((i) => ({ type: 'email' as const, value: emailOf(i) })));
    const expect = { granted: 'consent_granted', withdrawn: 'consent_withdrawn', no_consent: 'no_consent', objected: 'objected' } as const;
    sample.forEach((i, k) => {
      const got = checked.results[k]!.reason;
      if (got !== expect[profileOf(i)]) throw new Error(`seed check: subject ${i} checks as ${got}, expected ${expect[profileOf(i)]}`);
    });
    return { tenantId: tenant.id, bulkFrom: canary, subjectIds, purposes, counts, seconds: (Date.now() - started) / 1000 };
  } finally {
    await pool.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('set DATABASE_URL to the bench database');
  const r = await seed({ databaseUrl: url, subjects: Number(process.argv[2] ?? 20_000), log: console.log });
  console.log(JSON.stringify({ tenantId: r.tenantId, counts: r.counts, seconds: r.seconds }));
}
