// Problems of download links and transmissions: stable codes a CRM (or the person's browser) can branch on.
import createError from '@fastify/error';

export const ExportLinkNotFound = createError<'EXPORT_LINK_NOT_FOUND', 404, []>('EXPORT_LINK_NOT_FOUND', 'No such download link', 404);
/** Expired, exhausted, revoked, locked after too many wrong codes, or its data deleted: the reason is in the detail. */
export const ExportLinkGone = createError<'EXPORT_LINK_GONE', 410, [string]>('EXPORT_LINK_GONE', '%s', 410);
/** Art. 32: without a way to send the one-time code, the link cannot release the package. */
export const ExportCodeUnavailable = createError<'EXPORT_CODE_UNAVAILABLE', 409, [string]>('EXPORT_CODE_UNAVAILABLE', '%s', 409);
export const ExportCodeInvalid = createError<'EXPORT_CODE_INVALID', 403, [string]>('EXPORT_CODE_INVALID', '%s', 403);
export const ExportCodeNotSent = createError<'EXPORT_CODE_NOT_SENT', 503, []>(
  'EXPORT_CODE_NOT_SENT',
  'The code could not be sent by email just now; retry shortly',
  503,
);
export const ExportCodeTooSoon = createError<'EXPORT_CODE_TOO_SOON', 429, []>(
  'EXPORT_CODE_TOO_SOON',
  'A code was sent less than a minute ago; retry after Retry-After seconds',
  429,
);
/** Art. 20(2) concerns portability only. */
export const NotPortability = createError<'NOT_PORTABILITY', 409, []>(
  'NOT_PORTABILITY',
  'Only a portability request (Art. 20) can be transmitted to another controller',
  409,
);
export const TransmissionFailed = createError<'TRANSMISSION_FAILED', 502, [string]>('TRANSMISSION_FAILED', '%s', 502);
