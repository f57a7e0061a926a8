import createError from '@fastify/error';

export const UnknownPurpose = createError<'UNKNOWN_PURPOSE', 422, [string]>('UNKNOWN_PURPOSE', '%s', 422);
export const ConsentNotApplicable = createError<'CONSENT_NOT_APPLICABLE', 422, [string]>('CONSENT_NOT_APPLICABLE', '%s', 422);
export const UnknownPurposeVersion = createError<'UNKNOWN_PURPOSE_VERSION', 422, [string]>('UNKNOWN_PURPOSE_VERSION', '%s', 422);
export const SubjectErased = createError<'SUBJECT_ERASED', 409, []>(
  'SUBJECT_ERASED',
  'The subject has been erased; no consent can be recorded for them',
  409,
);
/** Art. 7(1): the controller must be able to show how the person consented. */
export const ConsentProofMissing = createError<'CONSENT_PROOF_MISSING', 422, [string]>('CONSENT_PROOF_MISSING', '%s', 422);
/** Art. 21 objections apply to some purposes only: direct marketing (21(2)), legitimate interests or public task (21(1)). */
export const ObjectionNotApplicable = createError<'OBJECTION_NOT_APPLICABLE', 422, [string]>('OBJECTION_NOT_APPLICABLE', '%s', 422);
