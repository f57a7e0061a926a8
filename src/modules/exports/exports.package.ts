// The export package: a ZIP built as it is read, for access (Art. 15(3)) and portability (Art. 20(1)). Parts from
// connected systems are streamed through a JSON tokenizer record by record and never parsed whole, so memory stays
// bounded by the largest record whatever a part's size; each entry is hashed while it is written, and manifest.json,
// last, lists every file with its size and SHA-256 and what the DPO withheld (Art. 15(4), C-487/21).
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { ZipArchive } from 'archiver';
import { stringify } from 'csv-stringify/sync';
import Assembler from 'stream-json/assembler.js';
import { jsonParser } from 'stream-json/parser.js';
import type { PrivacyNotice } from '../privacy-notice/privacy-notice.schemas.js';
import { DATA_SCHEMA, PACKAGE_FORMAT } from './exports.data-schema.js';
import { renderIndex, type PackageSummary } from './exports.html.js';

export type PackageKind = 'access' | 'portability';

/**
 * A list of Rightful's own part read page by page each time the package needs it (the columns of its CSV, data.json,
 * the CSV), never held whole: a person's ledger may hold tens of thousands of events. `read()` may be called more
 * than once and must yield the same records each time.
 */
export type LazyList = { readonly lazy: true; read(): AsyncIterable<unknown> };
export const lazyList = (read: () => AsyncIterable<unknown>): LazyList => ({ lazy: true, read });
const isLazy = (v: unknown): v is LazyList => typeof v === 'object' && v !== null && (v as { lazy?: unknown }).lazy === true && typeof (v as LazyList).read === 'function';
/** A connected system's part: a JSON object whose keys are data categories, each an array of flat records
 * (objects of scalars; nested values are written to CSV as JSON text) or a single object. */
export type SystemPartSource = {
  system_id: string | null;
  system_name: string;
  recipient: boolean;
  processor: boolean;
  /** Categories the person provided, observed data included (WP242): what portability carries. */
  provided_categories: string[];
  /** Categories the DPO removed before release (Art. 15(4)); ['*'] removes the whole part. */
  redacted_categories: string[];
  /** The part's plaintext JSON bytes, in chunks of at most ~1 MB; may be called more than once. */
  read(): AsyncIterable<Buffer>;
};
export type PackageInput = {
  kind: PackageKind;
  /** The tenant's or request's locale; texts fall back to en (use noticeLocale). */
  locale: string;
  generatedAt: Date;
  requestId: string;
  subjectId: string;
  /** Rightful's own part, already assembled by the service (identifiers, consent state, the full ledger with
   * hashes, objections, restriction, requests with audit trails, purposes with the version each decision was
   * shown). A plain JSON-able object; may hold ~10,000 ledger events (a few MB). Portability: the service passes
   * only what the person provided (identifiers, consents). */
  rightful: Record<string, unknown>;
  systems: SystemPartSource[];
  /** For index.html (access only): the notice as PrivacyNoticeService.render gives it in the locale, and the
   * recipients actually named (CJEU C-154/21): the systems marked recipient or processor. */
  notice: PrivacyNotice | null;
  recipients: { name: string; kind: string; processor: boolean; data_categories: string[] }[];
  /** Redactions the DPO recorded, listed (not their content) in the manifest so the copy is faithful (C-487/21). */
  redactions: { system_id: string | null; categories: string[] | null }[];
};

/** File names the package holds, for the docs and tests; `<system>` and `<category>` stand for sanitised names. */
export const PACKAGE_FILES: { access: string[]; portability: string[] } = {
  access: ['data.json', 'data.schema.json', 'index.html', 'csv/rightful/<category>.csv', 'csv/<system>/<category>.csv', 'manifest.json'],
  portability: ['data.json', 'data.schema.json', 'csv/rightful/<category>.csv', 'csv/<system>/<category>.csv', 'manifest.json'],
};

/** Raised for a part that cannot be packaged; its message names the part by position and id, never its content. */
export class PackageError extends Error {
  override name = 'PackageError';
}

type JsonRecord = Record<string, unknown>;
type Category = { name: string; columns: string[]; records: number };
type Plan = {
  source: SystemPartSource;
  index: number;
  slug: string;
  keep: (category: string) => boolean;
  categories: Category[];
  /** Aborted when the package fails or its reader goes away: reading stops and the part's reader is released. */
  signal: AbortSignal;
};
type ManifestFile = { name: string; size: number; sha256: string; category?: string; system?: number | null };

const CSV_BATCH = 256;
const TOKENIZE_SLICE = 64 * 1024;
const UTF8_BOM = Buffer.from('\uFEFF');

// ---- names --------------------------------------------------------------------------------------------------

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/** A path segment from a free name: letters, digits, _ and -, lower case (unzipped on case-insensitive disks too),
 * no dots or slashes; names that meet after sanitising get -2, -3… in the order they come. */
function slugger(reserved: string[] = []) {
  const used = new Set(reserved);
  return (name: string): string => {
    let base = name
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}_-]+/gu, '_')
      .replace(/^[_-]+|[_-]+$/g, '');
    base = Array.from(base).slice(0, 64).join(''); // by code point: a cut never splits a surrogate pair
    if (base === '') base = 'unnamed';
    if (RESERVED.test(base)) base = `_${base}`;
    let slug = base;
    for (let n = 2; used.has(slug); n++) slug = `${base}-${n}`;
    used.add(slug);
    return slug;
  };
}

// ---- values -------------------------------------------------------------------------------------------------

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

function isPlainObject(v: unknown): v is JsonRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rightful's own category as records: a list's items (in memory or read page by page), a single object, or a lone
 * value under `value`. */
async function* ownRecords(value: unknown): AsyncGenerator<JsonRecord> {
  const normal = (v: unknown): JsonRecord => {
    const plain: unknown = JSON.parse(JSON.stringify(v) ?? 'null');
    return isPlainObject(plain) ? plain : { value: plain };
  };
  if (value === null || value === undefined) return;
  if (isLazy(value)) for await (const item of value.read()) yield normal(item);
  else if (Array.isArray(value)) for (const item of value) yield normal(item);
  else yield normal(value);
}

/** JSON text of a value in small pieces: objects and arrays one member at a time, two levels deep; a lazy list
 * read page by page, one item at a time. */
async function* jsonPieces(value: unknown, depth = 2): AsyncGenerator<string> {
  if (isLazy(value)) {
    yield '[';
    let first = true;
    for await (const item of value.read()) {
      yield `${first ? '' : ','}${JSON.stringify(item) ?? 'null'}`;
      first = false;
    }
    yield ']';
  } else if (depth > 0 && Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      const item: unknown = value[i];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') yield 'null';
      else yield* jsonPieces(item, depth - 1);
    }
    yield ']';
  } else if (depth > 0 && isPlainObject(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    yield '{';
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      yield `${first ? '' : ','}${JSON.stringify(k)}:`;
      first = false;
      yield* jsonPieces(v, depth - 1);
    }
    yield '}';
  } else {
    yield JSON.stringify(value) ?? 'null';
  }
}

// ---- system parts -------------------------------------------------------------------------------------------

/** A part's bytes, with a read failure reported by position and id only. */
async function* partBytes(plan: Plan): AsyncGenerator<Buffer> {
  const label = partLabel(plan);
  let iterator: AsyncIterator<Buffer>;
  try {
    iterator = plan.source.read()[Symbol.asyncIterator]();
  } catch {
    throw new PackageError(`${label} could not be read`);
  }
  try {
    for (;;) {
      let step: IteratorResult<Buffer>;
      try {
        step = await iterator.next();
      } catch {
        throw new PackageError(`${label} could not be read`);
      }
      if (step.done) return;
      if (plan.signal.aborted) throw new PackageError(`${label} was not read to its end`);
      yield step.value;
    }
  } finally {
    await iterator.return?.().catch(() => undefined);
  }
}

function partLabel(plan: Plan): string {
  return `system part ${plan.index + 1}${plan.source.system_id ? ` (system ${plan.source.system_id})` : ''}`;
}

type Token = { name: string; value?: unknown };
/** A category begins (record null) or one of its records. Categories come whole, one after another. */
type PartEvent = { category: string; record: JsonRecord | null };

// The bare tokenizer is driven by hand, a whole chunk of tokens at a time: a stream hop per token costs more than
// the parsing itself. Its protocol marks "no value" and "several values" with these registered symbols.
const NONE = Symbol.for('object-stream.none');
const MANY = Symbol.for('object-stream.many');

/** A part's tokens, chunk by chunk; bytes that are not UTF-8 or text that is not JSON are a PackageError. */
async function* partTokens(plan: Plan): AsyncGenerator<Token[]> {
  const label = partLabel(plan);
  const tokenize = jsonParser({ packValues: true, streamValues: false }) as unknown as (text: string | symbol) => unknown;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const tokens = (text: string | symbol): Token[] => {
    let out: unknown;
    try {
      out = tokenize(text);
    } catch {
      throw new PackageError(`${label} is not valid JSON`);
    }
    if (out === NONE || out === undefined) return [];
    if (typeof out === 'object' && out !== null && (out as Record<symbol, unknown>)[MANY] === 1) return (out as { values: Token[] }).values;
    return [out as Token];
  };
  const decode = (bytes?: Buffer): string => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw new PackageError(`${label} is not valid UTF-8`);
    }
  };
  // Tokenized 64 KiB at a time: a chunk's tokens are held at once, and a 1 MB chunk makes about 100,000 of them.
  // Between slices the event loop runs, so a large part never holds the process for more than a few milliseconds.
  for await (const bytes of partBytes(plan)) {
    for (let at = 0; at < bytes.length; at += TOKENIZE_SLICE) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      yield tokens(decode(bytes.subarray(at, at + TOKENIZE_SLICE)));
    }
  }
  yield [...tokens(decode()), ...tokens(NONE)];
}

/**
 * Walks a part's tokens: the top level must be an object; each kept category an array of objects or one object.
 * Categories not kept are skipped token by token, never assembled. In `records` mode it assembles one record at a
 * time; in `text` mode it writes the kept categories back as JSON text, numbers exactly as they came. Any other
 * shape is a PackageError naming the part only.
 */
class PartWalker {
  private state: 'start' | 'top' | 'value' | 'array' | 'record' | 'skip' | 'end' = 'start';
  private category = '';
  private seen = new Set<string>();
  private depth = 0;
  private single = false;
  // One assembler for all the part's records, each assembled in turn (it is ready for the next once a record ends):
  // an assembler per record made V8 move about 0.65 byte into the old generation per byte of part assembled,
  // garbage that waits there for a full collection.
  private readonly asm: Assembler | null;
  private comma = false;
  text = '';
  events: PartEvent[] = [];

  constructor(
    private readonly label: string,
    private readonly keep: (category: string) => boolean,
    private readonly mode: 'records' | 'text',
  ) {
    this.asm = mode === 'records' ? new Assembler() : null;
  }

  private write(tok: Token) {
    if (this.mode !== 'text') return;
    switch (tok.name) {
      case 'startObject':
      case 'startArray':
        this.text += `${this.comma ? ',' : ''}${tok.name === 'startObject' ? '{' : '['}`;
        this.comma = false;
        break;
      case 'endObject':
      case 'endArray':
        this.text += tok.name === 'endObject' ? '}' : ']';
        this.comma = true;
        break;
      case 'keyValue':
        this.text += `${this.comma ? ',' : ''}${JSON.stringify(tok.value)}:`;
        this.comma = false;
        break;
      case 'stringValue':
        this.text += `${this.comma ? ',' : ''}${JSON.stringify(tok.value)}`;
        this.comma = true;
        break;
      case 'numberValue':
        this.text += `${this.comma ? ',' : ''}${String(tok.value)}`;
        this.comma = true;
        break;
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.text += `${this.comma ? ',' : ''}${tok.name === 'nullValue' ? 'null' : tok.name === 'trueValue' ? 'true' : 'false'}`;
        this.comma = true;
        break;
    }
  }

  private beginRecord(tok: Token, single: boolean) {
    this.single = single;
    this.state = 'record';
    this.depth = 1;
    if (this.asm) this.asm.consume(tok as never);
    else this.write(tok);
  }

  feed(tokens: Token[]) {
    for (const tok of tokens) {
      switch (this.state) {
        case 'record': {
          if (tok.name === 'startObject' || tok.name === 'startArray') this.depth++;
          else if (tok.name === 'endObject' || tok.name === 'endArray') this.depth--;
          if (this.asm) this.asm.consume(tok as never);
          else this.write(tok);
          if (this.depth === 0) {
            if (this.asm) this.events.push({ category: this.category, record: this.asm.current as JsonRecord });
            this.state = this.single ? 'top' : 'array';
          }
          break;
        }
        case 'start':
          if (tok.name !== 'startObject') throw new PackageError(`${this.label} is not a JSON object of categories`);
          this.write(tok);
          this.state = 'top';
          break;
        case 'top':
          if (tok.name === 'endObject') {
            this.write(tok);
            this.state = 'end';
          } else if (tok.name === 'keyValue') {
            this.category = String(tok.value);
            if (this.seen.has(this.category)) throw new PackageError(`${this.label} names a category twice`);
            this.seen.add(this.category);
            if (this.keep(this.category)) {
              this.write(tok);
              this.events.push({ category: this.category, record: null });
              this.state = 'value';
            } else {
              this.state = 'skip';
              this.depth = 0;
            }
          }
          break;
        case 'skip':
          if (tok.name === 'startObject' || tok.name === 'startArray') this.depth++;
          else if (tok.name === 'endObject' || tok.name === 'endArray') this.depth--;
          if (this.depth === 0) this.state = 'top';
          break;
        case 'value':
          if (tok.name === 'startArray') {
            this.write(tok);
            this.state = 'array';
          } else if (tok.name === 'startObject') {
            this.beginRecord(tok, true);
          } else {
            throw new PackageError(`${this.label} has a category that is neither a list of records nor a record`);
          }
          break;
        case 'array':
          if (tok.name === 'endArray') {
            this.write(tok);
            this.state = 'top';
          } else if (tok.name === 'startObject') {
            this.beginRecord(tok, false);
          } else {
            throw new PackageError(`${this.label} has a list item that is not a record`);
          }
          break;
        case 'end':
          break;
      }
    }
  }

  finish() {
    if (this.state !== 'end') throw new PackageError(`${this.label} is not valid JSON`);
  }
}

/** The part as events (`records`) or as filtered JSON text (`text`), one chunk of the part at a time. */
async function* walkPart(plan: Plan, mode: 'records' | 'text'): AsyncGenerator<{ events: PartEvent[]; text: string }> {
  const walker = new PartWalker(partLabel(plan), plan.keep, mode);
  for await (const tokens of partTokens(plan)) {
    walker.feed(tokens);
    const { events, text } = walker;
    walker.events = [];
    walker.text = '';
    yield { events, text };
  }
  walker.finish();
}

async function* partEvents(plan: Plan): AsyncGenerator<PartEvent> {
  for await (const { events } of walkPart(plan, 'records')) yield* events;
}

/** First read: the kept categories in order, the union of their records' keys, and how many records each has. */
async function scanPart(plan: Plan): Promise<Category[]> {
  const categories: Category[] = [];
  let current: Category | null = null;
  let columns = new Set<string>();
  for await (const ev of partEvents(plan)) {
    if (ev.record === null) {
      columns = new Set();
      current = { name: ev.category, columns: [], records: 0 };
      categories.push(current);
    } else if (current) {
      current.records++;
      for (const k of Object.keys(ev.record)) {
        if (!columns.has(k)) {
          columns.add(k);
          current.columns.push(k);
        }
      }
    }
  }
  return categories;
}

/** The part's JSON text with the categories not kept removed. */
async function* filteredPart(plan: Plan): AsyncGenerator<Buffer> {
  for await (const { text } of walkPart(plan, 'text')) if (text) yield Buffer.from(text);
}

// ---- CSV ----------------------------------------------------------------------------------------------------

/** RFC 4180 text (CRLF; fields with separators, quotes or line breaks quoted), UTF-8 with a BOM for spreadsheets. */
async function* csvPieces(columns: string[], records: AsyncIterable<JsonRecord> | Iterable<JsonRecord>): AsyncGenerator<Buffer> {
  const options = { record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;
  yield UTF8_BOM;
  if (columns.length === 0) {
    for await (const _ of records) void _;
    return;
  }
  yield Buffer.from(stringify([columns], options));
  let batch: string[][] = [];
  for await (const r of records) {
    batch.push(columns.map((c) => cell(Object.hasOwn(r, c) ? r[c] : undefined)));
    if (batch.length >= CSV_BATCH) {
      yield Buffer.from(stringify(batch, options));
      batch = [];
    }
  }
  if (batch.length) yield Buffer.from(stringify(batch, options));
}

/** The union of the records' keys in order of first appearance, and how many records there are. */
async function columnsOf(records: AsyncIterable<JsonRecord>): Promise<{ columns: string[]; records: number }> {
  const columns = new Set<string>();
  let count = 0;
  for await (const r of records) {
    count++;
    for (const k of Object.keys(r)) columns.add(k);
  }
  return { columns: [...columns], records: count };
}

// ---- the package --------------------------------------------------------------------------------------------

function planParts(input: PackageInput, signal: AbortSignal): Plan[] {
  const slug = slugger(['rightful']);
  const plans: Plan[] = [];
  input.systems.forEach((source, index) => {
    if (source.redacted_categories.includes('*')) return;
    const redacted = new Set(source.redacted_categories);
    const provided = new Set(source.provided_categories);
    const portability = input.kind === 'portability';
    // Portability carries only what the person provided (Art. 20(1), WP242); a system with none of it is left out.
    if (portability && ![...provided].some((c) => !redacted.has(c))) return;
    const keep = portability ? (c: string) => provided.has(c) && !redacted.has(c) : (c: string) => !redacted.has(c);
    plans.push({ source, index, slug: slug(source.system_name), keep, categories: [], signal });
  });
  return plans;
}

/** The package as a ZIP stream, built as it is read: never held whole in memory. Errors (a part that is not valid
 * JSON, a read failure) destroy the stream with an Error whose message holds no personal data. */
export function buildPackage(input: PackageInput): Readable {
  // The archive holds at most 64 KiB of deflated output for a slow reader (archiver's default is 1 MiB).
  const zip = new ZipArchive({ zlib: { level: 6 }, highWaterMark: 64 * 1024 });
  const out = new PassThrough();
  let finished = false;
  let current: Readable | null = null;
  let stop: ((err: Error) => void) | null = null;
  const cancel = new AbortController();

  const fail = (err: unknown) => {
    if (finished) return;
    finished = true;
    const safe = err instanceof PackageError ? err : new PackageError('the export package could not be built');
    cancel.abort();
    stop?.(safe);
    current?.destroy();
    zip.abort();
    out.destroy(safe);
  };
  zip.on('error', fail);
  zip.on('end', () => {
    finished = true;
  });
  zip.on('warning', fail);
  // The reader went away: stop reading parts.
  out.on('close', () => {
    if (!finished) fail(new PackageError('the export package was not read to its end'));
  });
  zip.pipe(out);

  const files: ManifestFile[] = [];
  const entry = (name: string, pieces: AsyncIterable<Buffer> | Iterable<Buffer>, meta: Omit<ManifestFile, 'name' | 'size' | 'sha256'> = {}) =>
    new Promise<void>((resolve, reject) => {
      const hash = createHash('sha256');
      let size = 0;
      async function* measured() {
        for await (const piece of pieces) {
          hash.update(piece);
          size += piece.length;
          yield piece;
        }
      }
      const source = Readable.from(measured(), { objectMode: false });
      current = source;
      const onEntry = (data: { name: string }) => {
        if (data.name !== name) return;
        zip.off('entry', onEntry);
        stop = null;
        current = null;
        files.push({ name, size, sha256: hash.digest('hex'), ...meta });
        resolve();
      };
      stop = (err) => {
        zip.off('entry', onEntry);
        reject(err);
      };
      source.on('error', (err) => fail(err));
      zip.on('entry', onEntry);
      zip.append(source, { name, date: input.generatedAt });
    });

  const run = async () => {
    const plans = planParts(input, cancel.signal);
    for (const plan of plans) plan.categories = await scanPart(plan);

    // Names are fixed before anything is written, so index.html can list them.
    const ownSlug = slugger();
    const own: { category: string; file: string; records: number; columns: string[] }[] = [];
    for (const [category, value] of Object.entries(input.rightful)) {
      if (value === undefined) continue;
      const { columns, records } = await columnsOf(ownRecords(value));
      own.push({ category, file: `csv/rightful/${ownSlug(category)}.csv`, records, columns });
    }
    const systemFiles = plans.map((plan) => {
      const catSlug = slugger();
      return plan.categories.map((c) => ({ ...c, file: `csv/${plan.slug}/${catSlug(c.name)}.csv` }));
    });
    const access = input.kind === 'access';
    const names = [
      'data.json',
      'data.schema.json',
      ...(access ? ['index.html'] : []),
      ...own.map((o) => o.file),
      ...systemFiles.flatMap((s) => s.map((c) => c.file)),
      'manifest.json',
    ];

    await entry('data.json', dataJson(input, plans));
    await entry('data.schema.json', [Buffer.from(`${JSON.stringify(DATA_SCHEMA, null, 2)}\n`)]);
    if (access) {
      const summary: PackageSummary = {
        rightful: own.map((o) => ({ category: o.category, records: o.records, file: o.file })),
        systems: plans.map((plan, i) => ({
          name: plan.source.system_name,
          categories: systemFiles[i]!.map((c) => ({ category: c.name, records: c.records, file: c.file })),
        })),
        files: names,
        withheld: input.redactions.length > 0,
      };
      await entry('index.html', [Buffer.from(renderIndex(input, summary))]);
    }
    for (const o of own) await entry(o.file, csvPieces(o.columns, ownRecords(input.rightful[o.category])), { category: o.category, system: null });
    for (let i = 0; i < plans.length; i++) await systemCsvs(plans[i]!, systemFiles[i]!, i, entry);

    const manifest = {
      format: PACKAGE_FORMAT,
      kind: input.kind,
      request_id: input.requestId,
      generated_at: input.generatedAt.toISOString(),
      files,
      redactions: input.redactions.map((r) => ({ system_id: r.system_id, categories: r.categories })),
    };
    zip.append(`${JSON.stringify(manifest, null, 2)}\n`, { name: 'manifest.json', date: input.generatedAt });
    await zip.finalize();
    finished = true;
  };
  run().catch(fail);
  return out;
}

type EntryFn = (name: string, pieces: AsyncIterable<Buffer>, meta: { category: string; system: number }) => Promise<void>;

/** The last read of a part: its kept categories come one after another, so each CSV entry takes its records in turn. */
async function systemCsvs(plan: Plan, categories: (Category & { file: string })[], position: number, entry: EntryFn) {
  if (categories.length === 0) return;
  const events = partEvents(plan);
  try {
    let next = await events.next();
    for (const c of categories) {
      if (next.done || next.value.record !== null || next.value.category !== c.name) throw new PackageError(`${partLabel(plan)} changed while it was read`);
      async function* rows(): AsyncGenerator<JsonRecord> {
        for (;;) {
          next = await events.next();
          if (next.done || next.value.record === null) return;
          yield next.value.record;
        }
      }
      await entry(c.file, csvPieces(c.columns, rows()), { category: c.name, system: position });
    }
  } finally {
    await events.return(undefined);
  }
}

async function* dataJson(input: PackageInput, plans: Plan[]): AsyncGenerator<Buffer> {
  const b = (s: string) => Buffer.from(s);
  yield b(
    `{"format":${JSON.stringify(PACKAGE_FORMAT)},"kind":${JSON.stringify(input.kind)},"request_id":${JSON.stringify(input.requestId)},` +
      `"subject_id":${JSON.stringify(input.subjectId)},"generated_at":${JSON.stringify(input.generatedAt.toISOString())},"rightful":`,
  );
  // Pieces of Rightful's own part are gathered into chunks of about 64 KiB.
  let pending = '';
  for await (const piece of jsonPieces(input.rightful)) {
    pending += piece;
    if (pending.length >= 65536) {
      yield b(pending);
      pending = '';
    }
  }
  yield b(`${pending},"systems":[`);
  for (let i = 0; i < plans.length; i++) {
    const s = plans[i]!.source;
    yield b(
      `${i > 0 ? ',' : ''}{"system_id":${JSON.stringify(s.system_id)},"system_name":${JSON.stringify(s.system_name)},` +
        `"recipient":${JSON.stringify(s.recipient)},"processor":${JSON.stringify(s.processor)},"data":`,
    );
    yield* filteredPart(plans[i]!);
    yield b('}');
  }
  yield b(']}\n');
}
