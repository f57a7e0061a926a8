// Problems of one-click unsubscribe links: stable codes, and never a word about the person.
import createError from '@fastify/error';

export const UnsubscribeLinkNotFound = createError<'UNSUBSCRIBE_LINK_NOT_FOUND', 404, []>('UNSUBSCRIBE_LINK_NOT_FOUND', 'No such unsubscribe link', 404);
/** List-Unsubscribe stops a purpose the person can refuse by one click: direct marketing (Art. 21(2)) or consent (Art. 7(3)). */
export const UnsubscribeNotApplicable = createError<'UNSUBSCRIBE_NOT_APPLICABLE', 422, [string]>('UNSUBSCRIBE_NOT_APPLICABLE', '%s', 422);
export const UnsubscribeSubjectErased = createError<'SUBJECT_ERASED', 409, []>('SUBJECT_ERASED', 'The subject has been erased; no unsubscribe link can be issued', 409);
