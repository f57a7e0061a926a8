// Newest-first keyset pagination on (created_at, id): the condition for "after the last row of the previous page".
import { and, eq, lt, or, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

export type CreatedPosition = { createdAt: string; id: string };

export function olderThan(createdAt: AnyPgColumn, id: AnyPgColumn, before: CreatedPosition | undefined): SQL | undefined {
  if (!before) return undefined;
  const at = new Date(before.createdAt);
  return or(lt(createdAt, at), and(eq(createdAt, at), lt(id, before.id)));
}
