// Opaque pagination cursors: base64url JSON tagged with the list they belong to. Decoded and validated here, in one
// place, so nothing a client forges reaches SQL: any cursor this file does not accept is a 400 on `query.cursor`.
import { ValidationFailed } from './errors.js';
import { instantInRange } from './instants.js';

/** What one position part of a cursor may hold. */
type Part = 'seq' | 'key' | 'instant' | 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Sequence numbers and versions are Postgres `integer` columns.
const MAX_SEQ = 2_147_483_647;

const validPart: Record<Part, (v: unknown) => boolean> = {
  seq: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_SEQ,
  key: (v) => typeof v === 'string' && v.length > 0 && v.length <= 100 && v.isWellFormed() && !v.includes('\u0000'),
  uuid: (v) => typeof v === 'string' && UUID.test(v),
  // Only what this service writes: a UTC instant in toISOString form, inside the range every stored instant keeps.
  instant: (v) => {
    if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v)) return false;
    const d = new Date(v);
    // The round trip refuses dates that do not exist (2024-02-30 would roll over to March).
    return instantInRange(d) && d.toISOString() === v;
  },
};

type PartType<P extends Part> = P extends 'seq' ? number : string;

export function encodeCursor(list: string, position: (string | number)[]): string {
  return Buffer.from(JSON.stringify([list, ...position])).toString('base64url');
}

/** The position a cursor of `list` holds, each part checked against `shape`; null when no cursor was sent. */
export function decodeCursor<const S extends readonly Part[]>(
  list: string,
  cursor: string | undefined,
  shape: S,
): { [I in keyof S]: PartType<S[I]> } | null {
  if (cursor === undefined) return null;
  const invalid = new ValidationFailed([{ field: 'query.cursor', message: 'is not a cursor this list gave out' }]);
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed[0] !== list || parsed.length !== shape.length + 1) throw invalid;
  const position = parsed.slice(1) as unknown[];
  if (!position.every((v, i) => validPart[shape[i]!](v))) throw invalid;
  return position as { [I in keyof S]: PartType<S[I]> };
}

/** The position in a newest-first list ordered by (created_at, id), from its cursor. */
export function decodeCreatedCursor(list: string, cursor: string | undefined): { createdAt: string; id: string } | undefined {
  const pos = decodeCursor(list, cursor, ['instant', 'uuid'] as const);
  return pos ? { createdAt: pos[0], id: pos[1] } : undefined;
}

/** One page of a list fetched with limit + 1 rows: the items and the cursor to the next page (null on the last). */
export function pageOf<R extends { createdAt: Date; id: string }>(list: string, rows: R[], limit: number): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last ? encodeCursor(list, [last.createdAt.toISOString(), last.id]) : null };
}
