// Outgoing email over the configured SMTP transport (SMTP_URL): DPO alerts, task mails to systems without an API,
// one-time download codes. A failure is thrown as `smtp: <code>` only: an SMTP error may quote an address.
import nodemailer from 'nodemailer';

export type OutgoingMail = {
  to: string;
  subject: string;
  text: string;
  replyTo?: string;
  /** Lets mail clients deduplicate a message sent twice after a crash. */
  messageId?: string;
  headers?: Record<string, string>;
};

export type Mailer = { send(mail: OutgoingMail): Promise<void>; close(): void };

/** The mailer of the configured transport; null without one. */
export function createMailer(smtp: { url: string; from: string } | null): Mailer | null {
  if (!smtp) return null;
  const transport = nodemailer.createTransport(smtp.url);
  return {
    async send(mail) {
      try {
        await transport.sendMail({ from: smtp.from, ...mail });
      } catch (err) {
        throw new Error(`smtp: ${(err as { code?: string }).code ?? 'send failed'}`);
      }
    },
    close: () => transport.close(),
  };
}
