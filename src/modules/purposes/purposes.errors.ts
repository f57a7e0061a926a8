import createError from '@fastify/error';

export const PurposeNotFound = createError<'PURPOSE_NOT_FOUND', 404, [string]>('PURPOSE_NOT_FOUND', 'No purpose with the key "%s"', 404);
export const PurposeExists = createError<'PURPOSE_EXISTS', 409, [string]>(
  'PURPOSE_EXISTS',
  'A purpose with the key "%s" exists already; change it with PATCH',
  409,
);
