// Opaque pagination cursors: base64url JSON tagged with the list they belong to; anything else is a 400.
import { ValidationFailed } from './errors.js';

export function encodeCursor(list: string, position: (string | number)[]): string {
  return Buffer.from(JSON.stringify([list, ...position])).toString('base64url');
}

export function decodeCursor(list: string, cursor: string | undefined, shape: ('string' | 'number')[]): (string | number)[] | null {
  if (cursor === undefined) return null;
  const invalid = new ValidationFailed([{ field: 'query.cursor', message: 'is not a cursor this list gave out' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed[0] !== list || parsed.length !== shape.length + 1) throw invalid;
  const position = parsed.slice(1) as unknown[];
  position.forEach((v, i) => {
    if (typeof v !== shape[i] || (typeof v === 'string' && (v.length > 100 || !v.isWellFormed() || v.includes('\u0000')))) throw invalid;
  });
  return position as (string | number)[];
}

/** The position in a newest-first list ordered by (created_at, id), from its cursor. */
export function decodeCreatedCursor(list: string, cursor: string | undefined): { createdAt: string; id: string } | undefined {
  const pos = decodeCursor(list, cursor, ['string', 'string']) as [string, string] | null;
  return pos ? { createdAt: pos[0], id: pos[1] } : undefined;
}

/** One page of a list fetched with limit + 1 rows: the items and the cursor to the next page (null on the last). */
export function pageOf<R extends { createdAt: Date; id: string }>(list: string, rows: R[], limit: number): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last ? encodeCursor(list, [last.createdAt.toISOString(), last.id]) : null };
}
