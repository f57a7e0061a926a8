// The export's problems: stable codes a CRM can branch on.
import createError from '@fastify/error';

export const ExportNotFound = createError<'EXPORT_NOT_FOUND', 404, []>('EXPORT_NOT_FOUND', 'No export was gathered for this rights request', 404);
/** Gathering an export for a request that cannot have one (another type, closed, identity awaited), or twice. */
export const ExportRefused = createError<'EXPORT_NOT_ALLOWED', 409, [string]>('EXPORT_NOT_ALLOWED', '%s', 409);
/** An upload to a task that is not an open export task of an export still gathering. */
export const UploadRefused = createError<'EXPORT_UPLOAD_NOT_ALLOWED', 409, [string]>('EXPORT_UPLOAD_NOT_ALLOWED', '%s', 409);
export const PartTooLarge = createError<'EXPORT_PART_TOO_LARGE', 413, [number]>(
  'EXPORT_PART_TOO_LARGE',
  'The uploaded part exceeds the limit of %s bytes (EXPORT_PART_MAX_BYTES); nothing was stored',
  413,
);
export const ExportNotApproved = createError<'EXPORT_NOT_APPROVED', 409, [string]>('EXPORT_NOT_APPROVED', '%s', 409);
/** The gathered data was deleted (the retention period after the request closed, or the person's erasure). */
export const ExportDataDeleted = createError<'EXPORT_DATA_DELETED', 410, []>(
  'EXPORT_DATA_DELETED',
  "The export's gathered data was deleted (its retention period ended, or the person was erased)",
  410,
);
