// Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)).
import { createHmac, randomBytes } from 'node:crypto';

/** A new signing secret in the Standard Webhooks form: "whsec_" + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const s = streamSigner(secret, id, timestampSeconds);
  s.update(body);
  return s.signature();
}

/** The same signature over a body that is streamed (a package too large to hold): feed each chunk, then read it. */
export function streamSigner(secret: string, id: string, timestampSeconds: number): { update(chunk: Buffer | string): void; signature(): string } {
  const hmac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.`);
  return {
    update: (chunk) => void hmac.update(chunk),
    signature: () => `v1,${hmac.digest('base64')}`,
  };
}

/** The webhook-signature header: one signature per active secret, space-separated. */
export function signatureHeader(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' ');
}
