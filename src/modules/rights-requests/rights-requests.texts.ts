// A request's sealed texts: the free text about the person kept on a request (and a rectification's corrections),
// sealed together under the subject's key, so erasure shreds them with it. The tasks module reads the corrections
// from here when it builds what a system is sent.
import { open, seal } from '../../lib/crypto.js';

const textsAad = (requestId: string) => `request-texts:${requestId}`;

/** One correction a rectification asks for (Art. 16): category `identifier` corrects one of Rightful's own. */
export type Correction = { category: string; field: string; value: string };

export type RequestTexts = {
  extension_reason?: string;
  resolution?: string;
  detail?: string;
  /** The reasonable doubts about identity given when proof was last asked (Art. 12(6)). */
  identity_doubt?: string;
  /** The human review of an automated decision (Art. 22(3)): the person's point of view, the decision after it. */
  subject_view?: string;
  review_decision?: string;
  /** Why the DPO approved an erasure or a rectification without checking identity. */
  identity_note?: string;
  /** A rectification's corrections, as the person asked them (Art. 16). */
  corrections?: Correction[];
};

type Sealed = { id: string; textsSealed: Buffer | null };

export function openTexts(r: Sealed, key: Buffer | null): RequestTexts {
  return r.textsSealed && key ? (JSON.parse(open(key, r.textsSealed, textsAad(r.id)).toString('utf8')) as RequestTexts) : {};
}

/** The sealed texts of a request with `add` merged in; null when nothing is left to seal or the key is gone. */
export function sealTexts(r: Sealed, key: Buffer | null, add: RequestTexts): Buffer | null {
  if (!key) return null;
  const texts = { ...openTexts(r, key), ...add };
  return Object.keys(texts).length ? seal(key, Buffer.from(JSON.stringify(texts)), textsAad(r.id)) : null;
}
