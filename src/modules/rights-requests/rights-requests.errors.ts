import createError from '@fastify/error';

export const RequestNotFound = createError<'RIGHTS_REQUEST_NOT_FOUND', 404, []>('RIGHTS_REQUEST_NOT_FOUND', 'No such rights request in this tenant', 404);
export const TransitionRefused = createError<'TRANSITION_NOT_ALLOWED', 409, [string]>('TRANSITION_NOT_ALLOWED', '%s', 409);
