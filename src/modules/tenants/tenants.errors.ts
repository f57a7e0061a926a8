import createError from '@fastify/error';

export const UnknownTenant = createError<'UNKNOWN_TENANT', 401, []>(
  'UNKNOWN_TENANT',
  'The token names a tenant that does not exist',
  401,
);
