// Column types shared by every module's tables.
import { customType } from 'drizzle-orm/pg-core';
import { parsePgTimestamptz } from '../lib/instants.js';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** A timestamptz(3) given by a client (when a decision occurred, a request was received): read with a parser that
 * also understands the years before 1 AD that rows written before the range check may hold, so no read fails. */
export const clientInstant = customType<{ data: Date; driverData: string }>({
  dataType: () => 'timestamp (3) with time zone',
  fromDriver: (value) => parsePgTimestamptz(value),
  toDriver: (value) => value.toISOString(),
});
