import createError from '@fastify/error';

export const UnknownPurpose = createError<'UNKNOWN_PURPOSE', 422, [string]>('UNKNOWN_PURPOSE', '%s', 422);
export const ConsentNotApplicable = createError<'CONSENT_NOT_APPLICABLE', 422, [string]>('CONSENT_NOT_APPLICABLE', '%s', 422);
export const UnknownPurposeVersion = createError<'UNKNOWN_PURPOSE_VERSION', 422, [string]>('UNKNOWN_PURPOSE_VERSION', '%s', 422);
export const SubjectErased = createError<'SUBJECT_ERASED', 409, []>(
  'SUBJECT_ERASED',
  'The subject has been erased; no consent can be recorded for them',
  409,
);
