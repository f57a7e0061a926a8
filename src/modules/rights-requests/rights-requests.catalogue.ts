// The legal vocabulary of a request's answer, in one place: outcomes, grounds of refusal (with the article each
// rests on and the rights it can answer), Art. 18(1) restriction grounds, and how the person was told.
import { REQUEST_TYPES } from './rights-requests.table.js';

type RequestType = (typeof REQUEST_TYPES)[number];

/** Art. 12(4): the controller acts on the request, in full or in part, or says why it does not. */
export const OUTCOMES = ['granted', 'partially_granted', 'refused'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const NOTIFICATION_CHANNELS = ['email', 'letter', 'phone', 'in_person', 'web'] as const;

/** Grounds of a refusal or a partial refusal. `types`: the rights the ground can answer (null: any). */
export const GROUNDS = {
  art11_2_cannot_identify: { article: 'Art. 11(2)', types: null, title: 'The controller is not in a position to identify the data subject' },
  art12_5_a_fee: { article: 'Art. 12(5)(a)', types: null, title: 'A reasonable fee is charged for a manifestly unfounded or excessive request' },
  art12_5_b_manifestly_unfounded_or_excessive: { article: 'Art. 12(5)(b)', types: null, title: 'The request is manifestly unfounded or excessive' },
  art15_4_rights_of_others: {
    article: 'Art. 15(4)',
    types: ['access', 'portability'],
    title: 'Handing over the data would adversely affect the rights and freedoms of others (Art. 15(4), Art. 20(4))',
  },
  art17_1_no_ground_applies: { article: 'Art. 17(1)', types: ['erasure'], title: 'None of the grounds for erasure applies' },
  art17_3_a_expression: { article: 'Art. 17(3)(a)', types: ['erasure'], title: 'Needed for exercising the right of freedom of expression and information' },
  art17_3_b_legal_obligation: {
    article: 'Art. 17(3)(b)',
    types: ['erasure'],
    title: 'Needed to comply with a legal obligation, or for a task in the public interest or in the exercise of official authority',
  },
  art17_3_c_public_health: { article: 'Art. 17(3)(c)', types: ['erasure'], title: 'Needed for reasons of public interest in the area of public health' },
  art17_3_d_archiving_research: {
    article: 'Art. 17(3)(d)',
    types: ['erasure'],
    title: 'Needed for archiving in the public interest, scientific or historical research or statistical purposes',
  },
  art17_3_e_legal_claims: { article: 'Art. 17(3)(e)', types: ['erasure'], title: 'Needed for the establishment, exercise or defence of legal claims' },
  art20_not_applicable: {
    article: 'Art. 20(1)',
    types: ['portability'],
    title: 'Portability applies only to data the subject provided, processed by automated means on consent or contract',
  },
  art21_1_compelling_grounds: {
    article: 'Art. 21(1)',
    types: ['objection'],
    title: 'Compelling legitimate grounds for the processing override the interests, rights and freedoms of the data subject, or it serves legal claims',
  },
  art23_restriction: { article: 'Art. 23', types: null, title: 'A restriction of the right by Union or Member State law' },
} as const satisfies Record<string, { article: string; types: readonly RequestType[] | null; title: string }>;
export type Ground = keyof typeof GROUNDS;
export const GROUND_KEYS = Object.keys(GROUNDS) as [Ground, ...Ground[]];

/** The Art. 17(3) grounds that keep data despite an erasure: rejection grounds, and per-system exemptions. */
export const ERASURE_EXEMPTION_GROUNDS = [
  'art17_3_a_expression',
  'art17_3_b_legal_obligation',
  'art17_3_c_public_health',
  'art17_3_d_archiving_research',
  'art17_3_e_legal_claims',
] as const satisfies readonly Ground[];

/** Art. 17(1)(a)-(f): the ground the person invokes for erasure. */
export const ERASURE_GROUNDS = {
  no_longer_necessary: 'Art. 17(1)(a): the data are no longer necessary for the purposes they were collected for',
  consent_withdrawn: 'Art. 17(1)(b): consent is withdrawn and there is no other legal ground',
  objection: 'Art. 17(1)(c): the person objects under Art. 21(1) with no overriding grounds, or under Art. 21(2)',
  unlawful_processing: 'Art. 17(1)(d): the data have been unlawfully processed',
  legal_obligation: 'Art. 17(1)(e): erasure is required by a legal obligation',
  child_information_society: 'Art. 17(1)(f): collected in relation to information society services offered to a child',
} as const;
export const ERASURE_GROUND_KEYS = Object.keys(ERASURE_GROUNDS) as [keyof typeof ERASURE_GROUNDS, ...(keyof typeof ERASURE_GROUNDS)[]];

export function groundApplies(ground: Ground, type: RequestType): boolean {
  const types = GROUNDS[ground].types as readonly RequestType[] | null;
  return types === null || types.includes(type);
}

/** The rejection grounds of the first API version, still accepted as `ground` on reject and mapped onto `grounds`.
 * legal_exemption names no article: the exemption must be given in `grounds`. */
export const LEGACY_REJECTION_GROUNDS = ['manifestly_unfounded', 'excessive', 'identity_not_verified', 'legal_exemption'] as const;
export type LegacyRejectionGround = (typeof LEGACY_REJECTION_GROUNDS)[number];
export const LEGACY_GROUND_MAP: Record<LegacyRejectionGround, Ground | null> = {
  manifestly_unfounded: 'art12_5_b_manifestly_unfounded_or_excessive',
  excessive: 'art12_5_b_manifestly_unfounded_or_excessive',
  identity_not_verified: 'art11_2_cannot_identify',
  legal_exemption: null,
};

/** Art. 18(1)(a)-(d): why processing is to be restricted. */
export const RESTRICTION_GROUNDS = {
  accuracy_contested: { article: 'Art. 18(1)(a)', title: 'The accuracy of the data is contested, for the time needed to verify it' },
  unlawful_processing: { article: 'Art. 18(1)(b)', title: 'The processing is unlawful and the data subject asks for restriction instead of erasure' },
  needed_for_legal_claims: {
    article: 'Art. 18(1)(c)',
    title: 'The controller no longer needs the data, but the data subject needs them for legal claims',
  },
  objection_pending: {
    article: 'Art. 18(1)(d)',
    title: 'The data subject objected under Art. 21(1), pending the verification whether the controller\'s grounds override',
  },
} as const;
export type RestrictionGround = keyof typeof RESTRICTION_GROUNDS;
export const RESTRICTION_GROUND_KEYS = Object.keys(RESTRICTION_GROUNDS) as [RestrictionGround, ...RestrictionGround[]];

export const OBJECTION_SCOPES = ['direct_marketing', 'processing'] as const;
