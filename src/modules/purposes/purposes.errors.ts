import createError from '@fastify/error';

export const PurposeNotFound = createError<'PURPOSE_NOT_FOUND', 404, [string]>('PURPOSE_NOT_FOUND', 'No purpose with the key "%s"', 404);
export const PurposeExists = createError<'PURPOSE_EXISTS', 409, [string]>(
  'PURPOSE_EXISTS',
  'A purpose with the key "%s" exists already; change it with PATCH',
  409,
);
// EDPB Guidelines 05/2020 on consent, 121-123: the controller may not swap the lawful basis after the fact; other
// processing on another basis is another purpose, with its own notice.
export const LegalBasisFixed = createError<'LEGAL_BASIS_FIXED', 409, [string, string]>(
  'LEGAL_BASIS_FIXED',
  'The legal basis of "%s" is %s and cannot change once the purpose exists; register a new purpose for processing on another basis',
  409,
);
