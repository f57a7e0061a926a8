// Problems of portal links and one-time codes: stable codes the person's page (or the CRM) can branch on.
import createError from '@fastify/error';

export const PortalSubjectErased = createError<'SUBJECT_ERASED', 409, []>('SUBJECT_ERASED', 'The subject has been erased; no portal link can be issued', 409);
/** Art. 32: an action that destroys or hands out the person's data asks for a one-time code sent to their email. */
export const CodeRequired = createError<'CODE_REQUIRED', 403, []>(
  'CODE_REQUIRED',
  'This action needs a one-time code: ask for one with POST /v1/me/codes and send it as `code`',
  403,
);
export const CodeInvalid = createError<'CODE_INVALID', 403, [string]>('CODE_INVALID', '%s', 403);
export const NoEmailIdentifier = createError<'NO_EMAIL_IDENTIFIER', 409, []>(
  'NO_EMAIL_IDENTIFIER',
  'There is no email address on file to send a one-time code to; ask the controller to act on the request',
  409,
);
export const CodeUnavailable = createError<'CODE_UNAVAILABLE', 503, []>(
  'CODE_UNAVAILABLE',
  'One-time codes cannot be sent: no email transport is configured (SMTP_URL)',
  503,
);
export const CodeNotSent = createError<'CODE_NOT_SENT', 503, []>('CODE_NOT_SENT', 'The code could not be sent by email just now; retry shortly', 503);
/** At most one code a minute per action; the problem leaves as RATE_LIMITED with Retry-After. */
export const CodeTooSoon = createError<'RATE_LIMITED', 429, []>('RATE_LIMITED', 'A code was sent less than a minute ago; retry after Retry-After seconds', 429);
