// A local SMTP server that keeps every mail it is sent, for tests of what Rightful emails (DPO alerts, task mails,
// one-time codes). No TLS, no auth; closed when the test ends.
import { SMTPServer } from 'smtp-server';

export type Mail = {
  /** The envelope's recipients, comma-separated. */
  to: string;
  /** The message as received. */
  raw: string;
  /** The message with folded headers unfolded and quoted-printable decoded: what a reader sees. */
  text: string;
};

export async function startSmtpSink(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; url: string; mails: Mail[] }> {
  const mails: Mail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => {
        // Long headers are folded, and quoted-printable bodies wrap long lines and escape "=": read them as written.
        const text = raw
          .replace(/\r?\n[ \t]+/g, ' ')
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw, text });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  const port = (smtp.server.address() as { port: number }).port;
  return { port, url: `smtp://127.0.0.1:${port}`, mails };
}
