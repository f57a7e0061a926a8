// The export package builder: what a person unzips after an access (Art. 15) or portability (Art. 20) request.
// Pure streaming code, so no database: packages are built from generated parts and read back with yauzl.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import yauzl from 'yauzl';
import { DATA_SCHEMA, PACKAGE_FORMAT } from '../../../src/modules/exports/exports.data-schema.js';
import { escapeHtml } from '../../../src/modules/exports/exports.html.js';
import { buildPackage, lazyList, PACKAGE_FILES, type PackageInput, type SystemPartSource } from '../../../src/modules/exports/exports.package.js';
import { PACKAGE_TEXTS } from '../../../src/modules/exports/exports.texts.js';
import type { PrivacyNotice } from '../../../src/modules/privacy-notice/privacy-notice.schemas.js';
import { NOTICE_TEXTS, RIGHT_ARTICLES, RIGHTS } from '../../../src/modules/privacy-notice/privacy-notice.texts.js';
import { collectUncaught } from '../../helpers/uncaught.js';

const SCRIPT = '<script>alert(1)</script>';
const ATTR = `"'><img src=x onerror=1>`;
const AUTHORITY_URL = 'https://www.cpdp.bg/';
const GENERATED_AT = new Date('2026-03-01T10:00:00.000Z');
const REQUEST_ID = '0b5c6a3e-6f1d-4c1e-9b8e-2a7d5c1f3e10';
const SUBJECT_ID = '7d1f0c2a-3b4e-4f5a-8c6d-9e0f1a2b3c4d';
const SYS_CRM = '11111111-1111-4111-8111-111111111111';
const SYS_SHOP = '22222222-2222-4222-8222-222222222222';
const SYS_HR = '33333333-3333-4333-8333-333333333333';

// ---- fixtures -----------------------------------------------------------------------------------------------

/** A part as a system uploads it: JSON bytes in small chunks, so multi-byte characters fall across chunk ends. */
function part(data: unknown, chunk = 997): () => AsyncIterable<Buffer> {
  return rawPart(JSON.stringify(data), chunk);
}

function rawPart(json: string, chunk = 997): () => AsyncIterable<Buffer> {
  const bytes = Buffer.from(json);
  return async function* () {
    for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
  };
}

function system(over: Partial<SystemPartSource> & Pick<SystemPartSource, 'system_name' | 'read'>): SystemPartSource {
  return { system_id: null, recipient: false, processor: false, provided_categories: [], redacted_categories: [], ...over };
}

/** The notice as PrivacyNoticeService.render gives it, in the locale's own texts, with hostile purpose texts. */
function noticeFor(locale: 'en' | 'bg' | 'de'): PrivacyNotice {
  const T = NOTICE_TEXTS[locale]!;
  return {
    controller: 'Example Shop Ltd',
    controller_contact: { name: 'Privacy desk', email: 'privacy@example.com' },
    dpo_contact: { email: 'dpo@example.com' },
    locale,
    texts_locale: locale,
    headings: T.headings,
    purposes: [
      {
        key: 'newsletter',
        version: 2,
        locale,
        title: `Newsletter ${SCRIPT}`,
        description: `Monthly news ${ATTR}`,
        legal_basis: 'consent',
        legal_basis_text: T.legalBases.consent,
        legitimate_interests: null,
        direct_marketing: true,
        automated_decisions: false,
        data_categories: ['email', 'name'],
        retention: 'Until you withdraw consent',
        recipients: ['Mailing service provider'],
        channels: ['email'],
        transfers: [{ country: 'US', country_name: 'United States', safeguard: 'standard_contractual_clauses', safeguard_text: T.safeguards.standard_contractual_clauses }],
        provision: { requirement: 'none', text: T.provision.none, consequences: null },
        source: { type: 'data_subject', text: T.sources.data_subject, detail: null },
        automated_decision: null,
        withdrawable: true,
        objectable: true,
      },
      {
        key: 'credit',
        version: 1,
        locale,
        title: 'Instalment check',
        description: 'Whether you may pay in instalments',
        legal_basis: 'contract',
        legal_basis_text: T.legalBases.contract,
        legitimate_interests: null,
        direct_marketing: false,
        automated_decisions: true,
        data_categories: ['payment history'],
        retention: '3 years after the contract ends',
        recipients: [],
        channels: [],
        transfers: [],
        provision: { requirement: 'contract_prerequisite', text: T.provision.contract_prerequisite, consequences: 'No instalments' },
        source: { type: 'third_party', text: T.sources.third_party, detail: 'Credit bureau Ltd' },
        automated_decision: { exception: 'contract', exception_text: T.exceptions.contract, logic: 'Scored on payment history; a low score means pay up front' },
        withdrawable: false,
        objectable: false,
      },
    ],
    transfers_note: T.safeguardsCopy,
    rights: RIGHTS.map((right) => ({
      right,
      article: RIGHT_ARTICLES[right],
      title: T.rights[right].title,
      text: right === 'complaint' ? `${T.rights.complaint.text} ${T.competentAuthority('CPDP', AUTHORITY_URL)}` : T.rights[right].text,
    })),
    right_to_object: {
      article: 'Art. 21',
      title: T.objection.title,
      text: T.objection.general,
      direct_marketing_text: T.objection.directMarketing,
      purposes: ['newsletter'],
    },
    supervisory_authority: { name: 'CPDP', url: AUTHORITY_URL },
    missing: [],
  };
}

/** Values a CSV must carry unchanged. */
const TRICKY = {
  comma: 'Sofia, Bulgaria',
  quote: 'He said "hello"',
  newline: 'line one\nline two',
  crlf: 'first\r\nsecond',
  unicode: 'Ана Иванова 😀 Müller',
  leading: '  spaced  ',
};

const RIGHTFUL = {
  identifiers: [
    { type: 'email', value: 'ana@example.com', verified: true },
    { type: 'phone', value: '+359888123456', verified: false },
  ],
  consents: [{ purpose: 'newsletter', purpose_version: 2, status: 'granted', at: '2026-01-05T09:00:00.000Z' }],
  ledger: [
    { seq: 1, type: 'granted', purpose: 'newsletter', hash: 'ab12', evidence: { form: 'signup', ip_hint: '203.0.113.0/24' } },
    { seq: 2, type: 'withdrawn', purpose: 'newsletter', hash: 'cd34', prev_hash: 'ab12' },
  ],
  restriction: null,
};

function accessInput(over: Partial<PackageInput> = {}): PackageInput {
  return {
    kind: 'access',
    locale: 'en',
    generatedAt: GENERATED_AT,
    requestId: REQUEST_ID,
    subjectId: SUBJECT_ID,
    rightful: RIGHTFUL,
    systems: [
      system({
        system_id: SYS_CRM,
        system_name: `CRM ${SCRIPT}`,
        recipient: false,
        processor: true,
        provided_categories: ['contacts'],
        redacted_categories: ['agent_notes'],
        // A number beyond double precision, as a system may send it.
        read: rawPart(
          JSON.stringify({
            contacts: [
              { name: TRICKY.unicode, city: TRICKY.comma },
              { name: 'Ana', note: TRICKY.quote, tags: ['a', 'b'], address: { street: 'Vitosha 1' } },
              { remark: TRICKY.newline, other: TRICKY.crlf, pad: TRICKY.leading, score: 12.5, big: 0, flag: true, none: null },
            ],
            agent_notes: [{ text: 'REDACTED-NOTE-about-colleague' }],
            segments: { tier: 'gold', since: '2024-01-01' },
          }).replace('"big":0', '"big":12345678901234567890'),
        ),
      }),
      system({
        system_id: SYS_HR,
        system_name: 'WHOLLY-WITHHELD-SYSTEM',
        redacted_categories: ['*'],
        read: part({ complaints: [{ text: 'REDACTED-WHOLE-PART-content' }] }),
      }),
      system({
        system_id: SYS_SHOP,
        system_name: `Shop ${ATTR}`,
        recipient: true,
        provided_categories: ['orders'],
        read: part({ orders: [{ id: 'o-1', total: 19.9 }], clickstream: [{ page: '/home' }, { page: '/cart' }] }),
      }),
    ],
    notice: noticeFor('en'),
    recipients: [
      { name: `CRM ${SCRIPT}`, kind: 'crm', processor: true, data_categories: ['contacts'] },
      { name: `Shop ${ATTR}`, kind: 'shop', processor: false, data_categories: ['orders'] },
    ],
    redactions: [
      { system_id: SYS_CRM, categories: ['agent_notes'] },
      { system_id: SYS_HR, categories: null },
    ],
    ...over,
  };
}

// ---- reading a package back ---------------------------------------------------------------------------------

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

type Unzipped = { names: string[]; files: Map<string, Buffer> };

async function unzip(zip: Buffer): Promise<Unzipped> {
  const zf = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const names: string[] = [];
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zf.on('error', reject);
    zf.on('end', () => resolve());
    zf.on('entry', (entry: yauzl.Entry) => {
      zf.openReadStreamPromise(entry)
        .then(collect)
        .then((bytes) => {
          names.push(entry.fileName);
          files.set(entry.fileName, bytes);
          zf.readEntry();
        }, reject);
    });
    zf.readEntry();
  });
  return { names, files };
}

async function build(input: PackageInput): Promise<Unzipped> {
  return unzip(await collect(buildPackage(input)));
}

const text = (u: Unzipped, name: string) => {
  const bytes = u.files.get(name);
  if (!bytes) throw new Error(`no ${name} in the package`);
  return bytes.toString('utf8');
};
const json = (u: Unzipped, name: string): unknown => JSON.parse(text(u, name));

/** RFC 4180: quoted fields may hold separators, quotes ("") and line breaks; records end with CRLF. */
function parseCsv(source: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (quoted) {
      if (c === '"' && source[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && source[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}

function csv(u: Unzipped, name: string): Record<string, string>[] {
  const raw = text(u, name);
  if (!raw.startsWith('\uFEFF')) throw new Error(`${name} has no BOM`);
  const [header, ...rows] = parseCsv(raw.slice(1));
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

/**
 * A JSON Schema 2020-12 check of the keywords data.schema.json uses (ajv is not a dependency of this project, so
 * the test validates by hand). An unknown keyword fails, so the schema cannot outgrow this check unnoticed.
 */
function validate(schema: Record<string, unknown>, value: unknown, root: Record<string, unknown>, path = '$'): string[] {
  const errors: string[] = [];
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v);
  for (const [keyword, arg] of Object.entries(schema)) {
    switch (keyword) {
      case '$schema':
      case '$id':
      case 'title':
      case 'description':
      case '$defs':
        break;
      case '$ref': {
        const name = String(arg).replace('#/$defs/', '');
        errors.push(...validate((root.$defs as Record<string, Record<string, unknown>>)[name]!, value, root, path));
        break;
      }
      case 'type': {
        const types = Array.isArray(arg) ? arg : [arg];
        const actual = typeOf(value);
        if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) errors.push(`${path}: ${actual} is not ${types.join('|')}`);
        break;
      }
      case 'const':
        if (value !== arg) errors.push(`${path}: not ${JSON.stringify(arg)}`);
        break;
      case 'enum':
        if (!(arg as unknown[]).includes(value)) errors.push(`${path}: not one of ${JSON.stringify(arg)}`);
        break;
      case 'format':
        if (typeof value === 'string' && arg === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) errors.push(`${path}: not a uuid`);
        if (typeof value === 'string' && arg === 'date-time' && Number.isNaN(Date.parse(value))) errors.push(`${path}: not a date-time`);
        break;
      case 'required':
        if (typeOf(value) === 'object') for (const k of arg as string[]) if (!Object.hasOwn(value as object, k)) errors.push(`${path}: ${k} is missing`);
        break;
      case 'properties':
        if (typeOf(value) === 'object') {
          for (const [k, s] of Object.entries(arg as Record<string, Record<string, unknown>>)) {
            if (Object.hasOwn(value as object, k)) errors.push(...validate(s, (value as Record<string, unknown>)[k], root, `${path}.${k}`));
          }
        }
        break;
      case 'additionalProperties':
        if (typeOf(value) === 'object') {
          const known = Object.keys((schema.properties as object | undefined) ?? {});
          for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
            if (known.includes(k)) continue;
            if (arg === false) errors.push(`${path}: ${k} is not allowed`);
            else if (typeof arg === 'object') errors.push(...validate(arg as Record<string, unknown>, v, root, `${path}.${k}`));
          }
        }
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((v, i) => errors.push(...validate(arg as Record<string, unknown>, v, root, `${path}[${i}]`)));
        break;
      case 'anyOf': {
        const branches = (arg as Record<string, unknown>[]).map((s) => validate(s, value, root, path));
        if (!branches.some((b) => b.length === 0)) errors.push(`${path}: matches no anyOf branch (${branches.flat().join('; ')})`);
        break;
      }
      default:
        throw new Error(`the test's validator does not know the keyword ${keyword}`);
    }
  }
  return errors;
}

const schemaErrors = (doc: unknown) => validate(DATA_SCHEMA as unknown as Record<string, unknown>, doc, DATA_SCHEMA as unknown as Record<string, unknown>);

// ---- tests --------------------------------------------------------------------------------------------------

t.test('an access package holds data.json, its schema, index.html, one CSV per category and the manifest last', async (t) => {
  const u = await build(accessInput());
  t.same(u.names, [
    'data.json',
    'data.schema.json',
    'index.html',
    'csv/rightful/identifiers.csv',
    'csv/rightful/consents.csv',
    'csv/rightful/ledger.csv',
    'csv/rightful/restriction.csv',
    'csv/crm_script_alert_1_script/contacts.csv',
    'csv/crm_script_alert_1_script/segments.csv',
    'csv/shop_img_src_x_onerror_1/orders.csv',
    'csv/shop_img_src_x_onerror_1/clickstream.csv',
    'manifest.json',
  ]);
  t.same(PACKAGE_FILES.access.filter((f) => !f.includes('<')), ['data.json', 'data.schema.json', 'index.html', 'manifest.json']);
  t.same(json(u, 'data.schema.json'), DATA_SCHEMA, 'data.schema.json is the published schema');
});

t.test('the same input gives the same bytes: entries in a fixed order, dated when the package was generated', async (t) => {
  const [a, b] = await Promise.all([collect(buildPackage(accessInput())), collect(buildPackage(accessInput()))]);
  t.ok(a.equals(b));
});

t.test("a list of Rightful's part read page by page (the ledger) packages exactly as the same list in memory", async (t) => {
  let reads = 0;
  const pages = lazyList(async function* () {
    reads++;
    for (const e of RIGHTFUL.ledger) {
      await new Promise((r) => setImmediate(r)); // as a page read from the database would
      yield e;
    }
  });
  const [inMemory, paged] = await Promise.all([collect(buildPackage(accessInput())), collect(buildPackage(accessInput({ rightful: { ...RIGHTFUL, ledger: pages } })))]);
  t.ok(paged.equals(inMemory), 'the same bytes');
  t.equal(reads, 3, 'read once for the CSV columns, once for data.json, once for the CSV: never held whole');
});

t.test('manifest.json lists every other file with its size and SHA-256, the kind and the redactions', async (t) => {
  for (const kind of ['access', 'portability'] as const) {
    const u = await build(accessInput({ kind }));
    const manifest = json(u, 'manifest.json') as {
      format: string;
      kind: string;
      request_id: string;
      generated_at: string;
      files: { name: string; size: number; sha256: string; category?: string; system?: number | null }[];
      redactions: unknown[];
    };
    t.equal(manifest.format, PACKAGE_FORMAT);
    t.equal(manifest.kind, kind);
    t.equal(manifest.request_id, REQUEST_ID);
    t.equal(manifest.generated_at, GENERATED_AT.toISOString());
    t.same(
      manifest.files.map((f) => f.name),
      u.names.filter((n) => n !== 'manifest.json'),
      `${kind}: every other file, in order`,
    );
    for (const f of manifest.files) {
      const bytes = u.files.get(f.name)!;
      t.equal(f.size, bytes.length, `${kind}: size of ${f.name}`);
      t.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), `${kind}: checksum of ${f.name}`);
    }
    t.same(manifest.redactions, [
      { system_id: SYS_CRM, categories: ['agent_notes'] },
      { system_id: SYS_HR, categories: null },
    ]);
    const contacts = manifest.files.find((f) => f.name.endsWith('/contacts.csv'))!;
    t.same([contacts.category, contacts.system], ['contacts', 0], 'a CSV names its category and its system in data.json');
    t.same(manifest.files.find((f) => f.name === 'csv/rightful/ledger.csv')!.system, null);
  }
});

t.test('data.json parses and validates against data.schema.json', async (t) => {
  const u = await build(accessInput());
  const doc = json(u, 'data.json') as {
    format: string;
    kind: string;
    request_id: string;
    subject_id: string;
    rightful: unknown;
    systems: { system_id: string | null; system_name: string; recipient: boolean; processor: boolean; data: Record<string, unknown> }[];
  };
  t.same(schemaErrors(doc), []);
  t.equal(doc.format, PACKAGE_FORMAT);
  t.equal(doc.subject_id, SUBJECT_ID);
  t.same(doc.rightful, RIGHTFUL, "Rightful's part as the service assembled it");
  t.same(
    doc.systems.map((s) => [s.system_id, s.system_name, s.recipient, s.processor, Object.keys(s.data)]),
    [
      [SYS_CRM, `CRM ${SCRIPT}`, false, true, ['contacts', 'segments']],
      [SYS_SHOP, `Shop ${ATTR}`, true, false, ['orders', 'clickstream']],
    ],
  );
  t.same(doc.systems[0]!.data.segments, { tier: 'gold', since: '2024-01-01' });
  t.match(text(u, 'data.json'), /"big":12345678901234567890,/, 'numbers are copied as written, beyond double precision');

  const portability = await build(accessInput({ kind: 'portability' }));
  t.same(schemaErrors(json(portability, 'data.json')), []);

  t.not(schemaErrors({ ...doc, systems: [{ ...doc.systems[0], data: { x: 'scalar' } }] }).length, 0, 'the check fails a category that is a bare value');
  t.not(schemaErrors({ ...doc, kind: 'erasure' }).length, 0, 'the check fails an unknown kind');
  const { systems: _, ...noSystems } = doc;
  t.not(schemaErrors(noSystems).length, 0, 'the check fails a missing property');
});

t.test('redacted categories and wholly redacted parts are absent from every file', async (t) => {
  for (const kind of ['access', 'portability'] as const) {
    const u = await build(accessInput({ kind }));
    for (const name of u.names) {
      const body = text(u, name);
      t.notOk(body.includes('REDACTED-NOTE-about-colleague'), `${kind}: ${name} holds no redacted category`);
      t.notOk(body.includes('agent_notes') && name !== 'manifest.json', `${kind}: ${name} does not name the redacted category`);
      t.notOk(body.includes('REDACTED-WHOLE-PART-content'), `${kind}: ${name} holds nothing of the withheld part`);
      t.notOk(body.includes('WHOLLY-WITHHELD-SYSTEM'), `${kind}: ${name} does not name the withheld part`);
      t.notOk(body.includes('complaints'), `${kind}: ${name} does not name the withheld part's categories`);
    }
  }
});

t.test('a withheld part is never read', async (t) => {
  let reads = 0;
  const input = accessInput();
  input.systems[1]!.read = async function* () {
    reads++;
    yield Buffer.from('{}');
  };
  await build(input);
  t.equal(reads, 0);
});

t.test('portability holds only the provided categories, and no index.html', async (t) => {
  const input = accessInput({ kind: 'portability' });
  input.systems.push(system({ system_id: null, system_name: 'Analytics', provided_categories: [], read: part({ scores: [{ s: 1 }] }) }));
  // A category both provided and withheld stays out.
  input.systems[2]!.provided_categories = ['orders', 'clickstream'];
  input.systems[2]!.redacted_categories = ['clickstream'];
  const u = await build(input);
  t.same(u.names, [
    'data.json',
    'data.schema.json',
    'csv/rightful/identifiers.csv',
    'csv/rightful/consents.csv',
    'csv/rightful/ledger.csv',
    'csv/rightful/restriction.csv',
    'csv/crm_script_alert_1_script/contacts.csv',
    'csv/shop_img_src_x_onerror_1/orders.csv',
    'manifest.json',
  ]);
  t.same(PACKAGE_FILES.portability.includes('index.html'), false);
  const doc = json(u, 'data.json') as { kind: string; systems: { system_name: string; data: Record<string, unknown> }[] };
  t.equal(doc.kind, 'portability');
  t.same(
    doc.systems.map((s) => [s.system_name, Object.keys(s.data)]),
    [
      [`CRM ${SCRIPT}`, ['contacts']],
      [`Shop ${ATTR}`, ['orders']],
    ],
    'a system with nothing the person provided is left out',
  );
  for (const name of u.names) {
    const body = text(u, name);
    t.notOk(body.includes('/cart') || body.includes('"tier"') || body.includes('Analytics'), `${name} holds no observed-only or inferred data`);
  }
});

t.test('CSV headers and rows round-trip: separators, quotes, line breaks, unicode, nested values', async (t) => {
  const u = await build(accessInput());
  const contacts = csv(u, 'csv/crm_script_alert_1_script/contacts.csv');
  const header = parseCsv(text(u, 'csv/crm_script_alert_1_script/contacts.csv').slice(1))[0];
  t.same(header, ['name', 'city', 'note', 'tags', 'address', 'remark', 'other', 'pad', 'score', 'big', 'flag', 'none'], 'the union of keys, in order of first appearance');
  t.same(contacts[0], { name: TRICKY.unicode, city: TRICKY.comma, note: '', tags: '', address: '', remark: '', other: '', pad: '', score: '', big: '', flag: '', none: '' });
  t.same(contacts[1]!.note, TRICKY.quote);
  t.same(contacts[1]!.tags, '["a","b"]', 'nested values as JSON text');
  t.same(JSON.parse(contacts[1]!.address!), { street: 'Vitosha 1' });
  t.same(
    [contacts[2]!.remark, contacts[2]!.other, contacts[2]!.pad, contacts[2]!.score, contacts[2]!.flag, contacts[2]!.none],
    [TRICKY.newline, TRICKY.crlf, TRICKY.leading, '12.5', 'true', ''],
  );
  t.same(csv(u, 'csv/crm_script_alert_1_script/segments.csv'), [{ tier: 'gold', since: '2024-01-01' }], 'a single record is one row');

  const ledger = csv(u, 'csv/rightful/ledger.csv');
  t.same(ledger.map((r) => [r.seq, r.type, r.hash, r.prev_hash]), [
    ['1', 'granted', 'ab12', ''],
    ['2', 'withdrawn', 'cd34', 'ab12'],
  ]);
  t.same(JSON.parse(ledger[0]!.evidence!), RIGHTFUL.ledger[0]!.evidence);
  t.same(csv(u, 'csv/rightful/identifiers.csv'), [
    { type: 'email', value: 'ana@example.com', verified: 'true' },
    { type: 'phone', value: '+359888123456', verified: 'false' },
  ]);
  t.equal(text(u, 'csv/rightful/restriction.csv'), '\uFEFF', 'no restriction: an empty table');

  const proto = await build(
    accessInput({ systems: [system({ system_name: 'Odd', read: rawPart('{"a":[{"__proto__":{"polluted":1},"k":"v"}]}') })] }),
  );
  t.same(
    csv(proto, 'csv/odd/a.csv').map((r) => Object.entries(r)),
    [
      [
        ['__proto__', '{"polluted":1}'],
        ['k', 'v'],
      ],
    ],
    'a __proto__ key is a column like any other',
  );
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'and pollutes nothing');
});

t.test('file names are sanitised: no traversal, no separators, no collisions, Rightful\'s folder kept apart', async (t) => {
  const u = await build(
    accessInput({
      rightful: { '../secrets': [{ a: 1 }], 'con': [{ b: 2 }] },
      systems: [
        system({ system_name: 'Rightful', read: part({ '../../etc/passwd': [{ x: 1 }], 'a/b': [{ x: 2 }], 'A/B': [{ x: 3 }], '': [{ x: 4 }], '..': [{ x: 5 }] }) }),
        system({ system_name: 'Shop', read: part({ orders: [{ x: 6 }] }) }),
        system({ system_name: 'shop', read: part({ orders: [{ x: 7 }] }) }),
        system({ system_name: '../..', read: part({ 'ä ö': [{ x: 8 }] }) }),
      ],
    }),
  );
  const csvs = u.names.filter((n) => n.startsWith('csv/'));
  t.same(csvs, [
    'csv/rightful/secrets.csv',
    'csv/rightful/_con.csv',
    'csv/rightful-2/etc_passwd.csv',
    'csv/rightful-2/a_b.csv',
    'csv/rightful-2/a_b-2.csv',
    'csv/rightful-2/unnamed.csv',
    'csv/rightful-2/unnamed-2.csv',
    'csv/shop/orders.csv',
    'csv/shop-2/orders.csv',
    'csv/unnamed/ä_ö.csv',
  ]);
  for (const n of u.names) {
    t.notOk(n.split('/').some((s) => s === '..' || s === '.' || s === ''), `${n} has no empty or dot segment`);
    t.equal(yauzl.validateFileName(n), null, `${n} is a valid ZIP entry name`);
  }
  const manifest = json(u, 'manifest.json') as { files: { name: string; category?: string }[] };
  t.equal(manifest.files.find((f) => f.name === 'csv/rightful-2/etc_passwd.csv')!.category, '../../etc/passwd', 'the manifest keeps the original name');
  t.same(csv(u, 'csv/shop-2/orders.csv'), [{ x: '7' }]);
});

const ART15_HEADINGS = ['purposes', 'data_categories', 'recipients', 'transfers', 'retention', 'source', 'automated_decisions', 'rights', 'right_to_object', 'complaint'] as const;

t.test('index.html in en, bg and de holds every Art. 15(1)-(2) item, the recipients by name and the authority', async (t) => {
  for (const locale of ['en', 'bg', 'de'] as const) {
    const u = await build(accessInput({ locale, notice: noticeFor(locale) }));
    const page = text(u, 'index.html');
    const T = NOTICE_TEXTS[locale]!;
    const P = PACKAGE_TEXTS[locale]!;
    t.match(page, `<html lang="${locale}">`);
    t.match(page, `<h1>${escapeHtml(P.title)}</h1>`);
    for (const h of ART15_HEADINGS) t.match(page, `<h2>${escapeHtml(T.headings[h])}</h2>`, `${locale}: heading ${h}`);
    for (const r of ['rectification', 'erasure', 'restriction'] as const) t.match(page, escapeHtml(T.rights[r].text), `${locale}: right to ${r}`);
    t.match(page, escapeHtml(T.objection.general), `${locale}: Art. 21(1)`);
    t.match(page, escapeHtml(T.objection.directMarketing), `${locale}: Art. 21(2)`);
    t.match(page, /<section class="object">\s*<h2>/, `${locale}: the right to object stands apart`);
    t.match(page, escapeHtml(T.safeguards.standard_contractual_clauses), `${locale}: the transfer's safeguard`);
    t.match(page, 'United States');
    t.match(page, '3 years after the contract ends', `${locale}: retention`);
    t.match(page, 'Credit bureau Ltd', `${locale}: the source`);
    t.match(page, 'Scored on payment history; a low score means pay up front', `${locale}: the logic of the automated decision`);
    t.match(page, escapeHtml(T.exceptions.contract));
    t.match(page, escapeHtml(`CRM ${SCRIPT}`), `${locale}: recipient named`);
    t.match(page, escapeHtml(`Shop ${ATTR}`), `${locale}: recipient named`);
    t.match(page, escapeHtml(P.processor), `${locale}: the processor marked`);
    t.match(page, `<a href="${AUTHORITY_URL}">${AUTHORITY_URL}</a>`, `${locale}: the authority's address`);
    t.match(page, escapeHtml(P.packageHeading));
    t.match(page, '<code>csv/crm_script_alert_1_script/contacts.csv</code></td></tr>');
    t.match(page, /<td>contacts<\/td><td class="n">3<\/td>/, `${locale}: records counted per category`);
    t.match(page, /<td>ledger<\/td><td class="n">2<\/td>/);
    t.match(page, escapeHtml(P.withheld), `${locale}: withheld information is mentioned`);
  }
});

t.test('index.html escapes every value and loads nothing', async (t) => {
  const u = await build(accessInput());
  const page = text(u, 'index.html');
  t.notOk(page.includes(SCRIPT), 'no raw script tag');
  t.notOk(page.includes(ATTR), 'no raw attribute breakout');
  t.notOk(/<script/i.test(page), 'no script at all');
  t.notOk(/<(img|link|iframe|object|embed|audio|video|base|form)\b|<[^>]*\s(src|srcset|action)=|@import|url\(/i.test(page), 'no external resource');
  t.same(page.match(/href="[^"]*"/g), [`href="${AUTHORITY_URL}"`], 'the only link is the authority');
  t.match(page, escapeHtml(`Newsletter ${SCRIPT}`), 'a purpose title, escaped');
  t.match(page, '&quot;&#39;&gt;&lt;img src=x onerror=1&gt;', 'a description, escaped');
  t.match(page, `content="default-src 'none'; style-src 'unsafe-inline'"`);
});

t.test('index.html falls back to en, or to the bare language', async (t) => {
  const fr = text(await build(accessInput({ locale: 'fr' })), 'index.html');
  t.match(fr, '<html lang="en">');
  t.match(fr, `<h2>${NOTICE_TEXTS.en!.headings.right_to_object}</h2>`);
  const deAt = text(await build(accessInput({ locale: 'de-AT', notice: noticeFor('de') })), 'index.html');
  t.match(deAt, '<html lang="de">');
  t.match(deAt, PACKAGE_TEXTS.de!.title);
});

t.test('index.html without a notice still states the rights and what the package holds', async (t) => {
  const page = text(await build(accessInput({ notice: null, recipients: [], redactions: [] })), 'index.html');
  const T = NOTICE_TEXTS.en!;
  for (const h of ART15_HEADINGS) t.match(page, `<h2>${escapeHtml(T.headings[h])}</h2>`);
  t.match(page, T.rights.complaint.text);
  t.match(page, PACKAGE_TEXTS.en!.noRecipients);
  t.notOk(page.includes(PACKAGE_TEXTS.en!.withheld));
});

t.test('a part that is not what it should be destroys the stream with an error that names no personal data', async (t) => {
  const unexpected = collectUncaught(t);
  const personal = 'jane.doe@example.com';
  const cases: [string, () => AsyncIterable<Buffer>, RegExp][] = [
    ['truncated JSON', async function* () { yield Buffer.from(`{"contacts":[{"email":"${personal}"`); }, /system part 1 \(system .*\) is not valid JSON/],
    ['trailing garbage', async function* () { yield Buffer.from(`{"contacts":[]} ${personal}`); }, /is not valid JSON/],
    ['a bad byte', async function* () { yield Buffer.concat([Buffer.from(`{"contacts":[{"email":"${personal}`), Buffer.from([0xff]), Buffer.from('"}]}')]); }, /is not valid UTF-8/],
    ['a top-level array', part([{ email: personal }]), /is not a JSON object of categories/],
    ['a bare value as category', part({ email: personal }), /neither a list of records nor a record/],
    ['a list of values', part({ emails: [personal] }), /a list item that is not a record/],
    ['a category twice', async function* () { yield Buffer.from(`{"a":[{"e":"${personal}"}],"a":[]}`); }, /names a category twice/],
    ['a failing read', async function* () { yield Buffer.from('{"contacts":['); throw new Error(`socket closed while sending ${personal}`); }, /system part 1 .* could not be read/],
  ];
  for (const [what, read, message] of cases) {
    const stream = buildPackage(accessInput({ systems: [system({ system_id: SYS_CRM, system_name: 'CRM', read })] }));
    const err = await collect(stream).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof Error, `${what}: the stream fails`);
    t.match((err as Error).message, message, `${what}: the message says what is wrong`);
    t.notOk(JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack, cause: (err as Error).cause }).includes(personal), `${what}: no personal data in the error`);
    t.ok(stream.destroyed, `${what}: the stream is destroyed`);
  }
  // A part that breaks after the scan (its second read differs) fails the same way, mid-package.
  let calls = 0;
  const truncated = async function* () {
    yield Buffer.from(`{"contacts":[{"e":"${personal}"`);
  };
  const fickle = system({ system_id: SYS_CRM, system_name: 'CRM', read: () => (++calls === 1 ? part({ contacts: [{ e: personal }] })() : truncated()) });
  const err = await collect(buildPackage(accessInput({ systems: [fickle] }))).then(() => null, (e: unknown) => e as Error);
  t.match(err?.message, /is not valid JSON/);
  t.notOk(err?.message.includes(personal));
  t.same(unexpected, [], 'nothing escapes as an uncaught error');
});

t.test('a reader that stops early releases the parts being read', async (t) => {
  const unexpected = collectUncaught(t);
  let open = 0;
  let released = 0;
  const endless = async function* () {
    open++;
    try {
      yield Buffer.from('{"events":[');
      for (let i = 0; ; i++) yield Buffer.from(`${i ? ',' : ''}{"i":${i},"pad":"${'x'.repeat(2000)}"}`);
    } finally {
      released++;
    }
  };
  const stream = buildPackage(accessInput({ systems: [system({ system_name: 'Feed', read: endless })] }));
  stream.resume();
  // The scan is still reading the endless part when the reader gives up.
  await new Promise((resolve) => setTimeout(resolve, 200));
  stream.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(open, 1);
  t.equal(released, 1, 'the part reader was closed');
  t.ok(stream.destroyed);

  // Mid-entry: the scan is done and data.json is being written when the reader stops after its first bytes.
  let opened = 0;
  let closed = 0;
  const large = async function* () {
    opened++;
    try {
      yield Buffer.from('{"events":[');
      for (let i = 0; i < 2000; i++) yield Buffer.from(`${i ? ',' : ''}{"i":${i},"pad":"${'y'.repeat(2000)}"}`);
      yield Buffer.from(']}');
    } finally {
      closed++;
    }
  };
  const midway = buildPackage(accessInput({ systems: [system({ system_name: 'Feed', read: large })] }));
  await new Promise<void>((resolve) => midway.once('readable', () => resolve()));
  t.ok(midway.read(), 'the first bytes arrive');
  midway.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(opened, 2, 'scanned, then read again for data.json');
  t.equal(closed, 2, 'every reader of the part was closed');
  t.same(unexpected, [], 'nothing escapes as an uncaught error');
});

t.test('a 20 MB part is streamed: heap growth stays far below the part size', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const records = 100_000;
  let partBytes = 0;
  const read = async function* () {
    partBytes = 0;
    let buf = '{"page_views":[';
    for (let i = 0; i < records; i++) {
      buf += `${i ? ',' : ''}${JSON.stringify({ id: i, at: '2026-01-01T00:00:00Z', page: `/products/${i}?ref=newsletter`, agent: 'Mozilla/5.0 (X11; Linux x86_64)', note: `Ана, "${i}"\n${'x'.repeat(60)}` })}`;
      if (buf.length > 1_000_000) {
        partBytes += Buffer.byteLength(buf);
        yield Buffer.from(buf);
        buf = '';
      }
    }
    buf += '],"profile":{"name":"Ана"}}';
    partBytes += Buffer.byteLength(buf);
    yield Buffer.from(buf);
  };
  const input = accessInput({ systems: [system({ system_id: SYS_SHOP, system_name: 'Web', read })], redactions: [] });

  gc();
  const baseline = process.memoryUsage().heapUsed;
  let peak = 0;
  const chunks: Buffer[] = [];
  const stream = buildPackage(input);
  for await (const c of stream) {
    chunks.push(c as Buffer);
    if (chunks.length % 8 === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
    }
  }
  t.ok(partBytes > 19_000_000, `the part is about 20 MB (${(partBytes / 1e6).toFixed(1)} MB)`);
  t.ok(peak < partBytes / 4, `peak live heap growth ${(peak / 1e6).toFixed(1)} MB, far below the part`);

  const u = await unzip(Buffer.concat(chunks));
  const rows = parseCsv(text(u, 'csv/web/page_views.csv').slice(1));
  t.equal(rows.length, records + 1, 'every record is a row');
  t.same(rows[records], [String(records - 1), '2026-01-01T00:00:00Z', `/products/${records - 1}?ref=newsletter`, 'Mozilla/5.0 (X11; Linux x86_64)', `Ана, "${records - 1}"\n${'x'.repeat(60)}`]);
  const doc = json(u, 'data.json') as { systems: { data: { page_views: unknown[]; profile: unknown } }[] };
  t.equal(doc.systems[0]!.data.page_views.length, records);
  t.same(doc.systems[0]!.data.profile, { name: 'Ана' });
  const manifest = json(u, 'manifest.json') as { files: { name: string; size: number }[] };
  t.equal(manifest.files.find((f) => f.name === 'data.json')!.size, u.files.get('data.json')!.length);
});
