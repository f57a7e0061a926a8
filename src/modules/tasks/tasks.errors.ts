import createError from '@fastify/error';

export const TaskNotFound = createError<'TASK_NOT_FOUND', 404, []>('TASK_NOT_FOUND', 'No such task on this request', 404);
export const TaskTransitionRefused = createError<'TASK_TRANSITION_NOT_ALLOWED', 409, [string]>('TASK_TRANSITION_NOT_ALLOWED', '%s', 409);
/** Unknown, forged or superseded callback token: the same answer for each, so a token reveals nothing. */
export const CallbackNotFound = createError<'CALLBACK_NOT_FOUND', 404, []>('CALLBACK_NOT_FOUND', 'This callback link is not valid (it may have been replaced by a newer one)', 404);
export const CallbackUsed = createError<'CALLBACK_USED', 409, []>('CALLBACK_USED', 'This callback link was already used for a final answer', 409);
export const InvalidExemption = createError<'INVALID_EXEMPTION', 422, [string]>('INVALID_EXEMPTION', '%s', 422);
