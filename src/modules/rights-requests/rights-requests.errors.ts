import createError from '@fastify/error';

export const RequestNotFound = createError<'RIGHTS_REQUEST_NOT_FOUND', 404, []>('RIGHTS_REQUEST_NOT_FOUND', 'No such rights request in this tenant', 404);
export const TransitionRefused = createError<'TRANSITION_NOT_ALLOWED', 409, [string]>('TRANSITION_NOT_ALLOWED', '%s', 409);
/** A rectification's corrected identifier cannot be used: it cannot be normalised, or another subject has it. */
export const InvalidCorrection = createError<'INVALID_CORRECTION', 422, [string]>('INVALID_CORRECTION', '%s', 422);
/** Art. 18(3): there is no restriction to lift, or an open request still holds it. */
export const RestrictionNotLiftable = createError<'RESTRICTION_NOT_LIFTABLE', 409, [string]>('RESTRICTION_NOT_LIFTABLE', '%s', 409);
