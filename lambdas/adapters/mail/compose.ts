/**
 * Builds the RFC 5322 bytes of an outgoing message. Both mailers send exactly these
 * bytes (SES as raw content, the local mailer as an .eml file), so what a developer
 * sees in .local/outbox is what recipients get.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { MailMessage } from '../ports.js';

export interface ComposeOptions {
  /** The Date header; defaults to now. */
  date?: Date;
}

export async function composeMessage(message: MailMessage, from: string, options: ComposeOptions = {}): Promise<Buffer> {
  const composer = new MailComposer({
    from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    // Custom headers go first; MailComposer then sets From/To/Subject/Date over them,
    // so a custom header cannot redirect the message.
    ...(message.headers ? { headers: message.headers } : {}),
    date: options.date ?? new Date(),
    // Message content is always given inline: never let it name a file or URL to read.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile().build();
}
