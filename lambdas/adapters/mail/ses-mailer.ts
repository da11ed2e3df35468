/** Mailer on SES v2: sends the composed RFC 5322 bytes as raw content. */
import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { Mailer, MailMessage } from '../ports.js';
import { composeMessage } from './compose.js';

export interface SesMailerOptions {
  client: SESv2Client;
  /** The From address, e.g. "Tasks <noreply@example.com>"; its domain must be verified in SES. */
  from: string;
  /** Configuration set for bounce/complaint events and sending metrics. */
  configurationSetName?: string;
}

export class SesMailer implements Mailer {
  readonly #client: SESv2Client;
  readonly #from: string;
  readonly #configurationSetName: string | undefined;

  constructor(options: SesMailerOptions) {
    this.#client = options.client;
    this.#from = options.from;
    this.#configurationSetName = options.configurationSetName;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const data = await composeMessage(message, this.#from);
    const out = await this.#client.send(
      new SendEmailCommand({
        FromEmailAddress: this.#from,
        Destination: { ToAddresses: message.to },
        Content: { Raw: { Data: data } },
        ConfigurationSetName: this.#configurationSetName,
      }),
    );
    if (!out.MessageId) throw new Error('SES SendEmail returned no MessageId');
    return { messageId: out.MessageId };
  }
}
