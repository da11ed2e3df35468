/**
 * Mailer for `npm start` and tests: each message becomes an RFC 5322 .eml file in an
 * outbox directory (normally `$LOCAL_DATA_DIR/outbox`), which `GET /_local/outbox`
 * lists through listOutbox so a developer can follow invitation and reset links.
 *
 * File names are `<UTC time, ms>-<per-process sequence>-<gid>.eml`: they sort by send
 * time (the sequence orders messages sent within the same millisecond) and never clash.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { systemClock } from '../clock.js';
import { cryptoIds } from '../ids.js';
import type { Clock, Ids, Mailer, MailMessage } from '../ports.js';
import { composeMessage } from './compose.js';

export interface LocalMailerOptions {
  /** The outbox directory; created on first send. */
  dir: string;
  from: string;
  clock?: Clock;
  ids?: Ids;
}

export interface OutboxEntry {
  gid: string;
  to: string[];
  subject: string;
  text: string;
  /** Every http(s) URL in the text body, in order of appearance, without duplicates. */
  links: string[];
  /** When the message was sent, ISO 8601. */
  sent_at: string;
}

const EML_NAME = /^(\d{8}T\d{9}Z)-(\d{6})-(\d+)\.eml$/;
let sequence = 0; // module-wide, so two mailers on one outbox still order their messages

export class LocalMailer implements Mailer {
  readonly #dir: string;
  readonly #from: string;
  readonly #clock: Clock;
  readonly #ids: Ids;

  constructor(options: LocalMailerOptions) {
    this.#dir = options.dir;
    this.#from = options.from;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? cryptoIds;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const sentAt = this.#clock.now();
    const gid = this.#ids.gid();
    const bytes = await composeMessage(message, this.#from, { date: sentAt });
    sequence = (sequence + 1) % 1_000_000;
    const stamp = sentAt.toISOString().replace(/[-:.]/g, ''); // 20260101T120000123Z
    const name = `${stamp}-${String(sequence).padStart(6, '0')}-${gid}.eml`;

    // Written under a dot-name that listOutbox ignores, then renamed: never half a message.
    await mkdir(this.#dir, { recursive: true });
    const tmp = join(this.#dir, `.${randomBytes(9).toString('base64url')}.tmp`);
    try {
      await writeFile(tmp, bytes, { flag: 'wx', mode: 0o600 });
      await rename(tmp, join(this.#dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { messageId: gid };
  }

  /** The outbox, newest first. */
  async listOutbox(): Promise<OutboxEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const files = names
      .map((name) => ({ name, match: EML_NAME.exec(name) }))
      .filter((f): f is { name: string; match: RegExpExecArray } => f.match !== null)
      .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));

    return Promise.all(
      files.map(async ({ name, match }) => {
        const parsed = await simpleParser(await readFile(join(this.#dir, name)));
        const text = parsed.text ?? '';
        return {
          gid: match[3]!,
          to: addresses(parsed.to),
          subject: parsed.subject ?? '',
          text,
          links: extractLinks(text),
          sent_at: parseStamp(match[1]!),
        };
      }),
    );
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((o) => o.value.flatMap((a) => (a.address ? [a.address] : [])));
}

/** "20260101T120000123Z" → "2026-01-01T12:00:00.123Z" */
function parseStamp(stamp: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(stamp)!;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

/**
 * http(s) URLs in plain text. A URL ends at whitespace, <, > or a quote; punctuation
 * that ends a sentence or closes a bracket around the URL is not part of it.
 */
export function extractLinks(text: string): string[] {
  const links = (text.match(/\bhttps?:\/\/[^\s<>"']+/gi) ?? []).map((url) => url.replace(/[.,;:!?)\]}]+$/, ''));
  return [...new Set(links)];
}
