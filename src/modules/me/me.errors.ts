// Problems of the person's own API: stable codes the preference page can branch on.
import createError from '@fastify/error';

/** Art. 7(3) concerns consent: a purpose on another basis has none to give or withdraw (an objection may apply). */
export const NotOnConsent = createError<'NOT_ON_CONSENT', 409, [string]>('NOT_ON_CONSENT', '%s', 409);
/** Art. 7(1): consent is given to the text shown; the page showed an older version than the register holds. */
export const PurposeVersionStale = createError<'PURPOSE_VERSION_STALE', 409, [string]>('PURPOSE_VERSION_STALE', '%s', 409);
