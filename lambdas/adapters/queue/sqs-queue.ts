import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Queue, QueueName, SendOptions } from '../ports.js';

/**
 * SQS limits that both queue implementations enforce at send time, so that a message
 * the local queue accepts is one SQS accepts too (and vice versa).
 */
export const MAX_DELAY_SECONDS = 900;
/** SQS's classic (and default) MaximumMessageSize: 256 KiB of UTF-8. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/**
 * Characters SQS refuses in a message body: JSON.stringify already escapes control
 * characters and lone surrogates, but leaves the noncharacters U+FFFE and U+FFFF.
 */
const FORBIDDEN_BODY_CHARS = /[\uFFFE\uFFFF]/;

/**
 * Serializes a message body to JSON and checks it against SQS's rules; throws on a
 * body SQS would reject or that is not JSON (undefined, a function, a bigint).
 */
export function encodeMessage(body: unknown, options: SendOptions = {}): string {
  const { delaySeconds } = options;
  if (delaySeconds !== undefined && !(Number.isInteger(delaySeconds) && delaySeconds >= 0 && delaySeconds <= MAX_DELAY_SECONDS)) {
    throw new RangeError(`delaySeconds must be an integer from 0 to ${MAX_DELAY_SECONDS}, got ${delaySeconds}`);
  }
  const json: string | undefined = JSON.stringify(body);
  if (json === undefined) throw new TypeError('queue message body must be JSON-serializable');
  if (Buffer.byteLength(json, 'utf8') > MAX_MESSAGE_BYTES) {
    throw new RangeError(`queue message body exceeds ${MAX_MESSAGE_BYTES} bytes`);
  }
  if (FORBIDDEN_BODY_CHARS.test(json)) throw new RangeError('queue message body contains U+FFFE or U+FFFF, which SQS rejects');
  return json;
}

export interface SqsQueueOptions {
  /** Created once at module scope by the handler and injected, so connections are reused across invocations. */
  client: SQSClient;
  /** The queue URL of every logical queue (from the stack's environment variables). */
  urls: Record<QueueName, string>;
}

/** The AWS implementation of the Queue port. */
export class SqsQueue implements Queue {
  readonly #client: SQSClient;
  readonly #urls: Record<QueueName, string>;

  constructor(options: SqsQueueOptions) {
    this.#client = options.client;
    this.#urls = options.urls;
  }

  async send(queue: QueueName, body: unknown, options: SendOptions = {}): Promise<{ messageId: string }> {
    const messageBody = encodeMessage(body, options);
    const output = await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#urls[queue],
        MessageBody: messageBody,
        // Omitted rather than 0 when not given, so the queue's own DelaySeconds applies.
        ...(options.delaySeconds !== undefined ? { DelaySeconds: options.delaySeconds } : {}),
      }),
    );
    if (!output.MessageId) throw new Error(`SQS SendMessage to ${queue} returned no MessageId`);
    return { messageId: output.MessageId };
  }
}
