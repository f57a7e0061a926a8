import createError from '@fastify/error';

export const SubjectNotFound = createError<'SUBJECT_NOT_FOUND', 404, []>('SUBJECT_NOT_FOUND', 'No such subject in this tenant', 404);
export const NoSubjectMatches = createError<'SUBJECT_NOT_FOUND', 404, []>(
  'SUBJECT_NOT_FOUND',
  'No subject in this tenant has these identifiers',
  404,
);
export const IdentifiersConflict = createError<'IDENTIFIERS_CONFLICT', 409, []>(
  'IDENTIFIERS_CONFLICT',
  'The identifiers given belong to different subjects',
  409,
);
