// Why the preference page refuses a request. The page's error handler renders each as an HTML page in the
// person's language (never a problem document or a stack trace); the codes are for logs and tests.
import createError from '@fastify/error';

/** No token in the address and no cookie: the person reached the page without their link. */
export const PreferencesLinkMissing = createError<'PREFERENCES_LINK_MISSING', 401, []>('PREFERENCES_LINK_MISSING', 'Open the personal link the organisation sent', 401);
/** The token is not a well-formed JWT at all (truncated or mangled when copied). */
export const PreferencesLinkMalformed = createError<'PREFERENCES_LINK_MALFORMED', 400, []>('PREFERENCES_LINK_MALFORMED', 'The link could not be read', 400);
/** The subject API refused a token whose expiry has passed. */
export const PreferencesLinkExpired = createError<'PREFERENCES_LINK_EXPIRED', 401, []>('PREFERENCES_LINK_EXPIRED', 'The link has expired', 401);
/** The subject API refused the token otherwise: forged, revoked, or the person was erased. */
export const PreferencesLinkInvalid = createError<'PREFERENCES_LINK_INVALID', 401, []>('PREFERENCES_LINK_INVALID', 'The link is not valid', 401);
/** A form post without the page's CSRF token, with a wrong one, or from another site. */
export const PreferencesCsrfFailed = createError<'PREFERENCES_CSRF_FAILED', 403, []>('PREFERENCES_CSRF_FAILED', 'The form was not sent from this page', 403);
