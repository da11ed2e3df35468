/**
 * One Mailer contract, run against LocalMailer (.eml files in a temp dir) and SesMailer
 * (aws-sdk-client-mock): the bytes each one sends parse back to the message given.
 * Then what only one of them has: SES request fields, the local outbox listing.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { simpleParser, type AddressObject } from 'mailparser';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { sequentialIds } from '../../lambdas/adapters/ids.js';
import { LocalMailer, extractLinks } from '../../lambdas/adapters/mail/local-mailer.js';
import { SesMailer } from '../../lambdas/adapters/mail/ses-mailer.js';
import type { Mailer, MailMessage } from '../../lambdas/adapters/ports.js';

const FROM = 'Tasks <noreply@tasks.example>';

interface Harness {
  mailer: Mailer;
  /** The raw bytes of every message sent so far, in send order. */
  sent(): Promise<Buffer[]>;
  cleanup(): Promise<void>;
}

const mailers: Array<[string, () => Promise<Harness>]> = [
  [
    'LocalMailer',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
      return {
        mailer: new LocalMailer({ dir, from: FROM }),
        sent: async () => {
          const names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
          return Promise.all(names.map((n) => readFile(join(dir, n))));
        },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'SesMailer',
    async () => {
      const client = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });
      const mock = mockClient(client);
      mock.on(SendEmailCommand).resolves({ MessageId: 'ses-message-1' });
      return {
        mailer: new SesMailer({ client, from: FROM, configurationSetName: 'tasks' }),
        sent: async () => mock.commandCalls(SendEmailCommand).map((c) => Buffer.from(c.args[0].input.Content!.Raw!.Data!)),
        cleanup: async () => mock.restore(),
      };
    },
  ],
];

const addressesOf = (field: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((o) => o.value.map((a) => a.address));

describe.each(mailers)('Mailer contract: %s', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  test('sends an RFC 5322 message that parses back to the same To, From, Subject and text', async () => {
    const message: MailMessage = {
      to: ['ana@example.com', 'Bo Li <bo@example.org>'],
      subject: 'Réunion ✓ — you were invited',
      text: 'Hi!\nAccept here: https://tasks.example/invite?token=abc\n\nThanks',
    };
    const { messageId } = await h.mailer.send(message);
    expect(messageId).toEqual(expect.any(String));
    expect(messageId.length).toBeGreaterThan(0);

    const raw = await h.sent();
    expect(raw).toHaveLength(1);
    const parsed = await simpleParser(raw[0]!);
    expect(addressesOf(parsed.to)).toEqual(['ana@example.com', 'bo@example.org']);
    expect(addressesOf(parsed.from)).toEqual(['noreply@tasks.example']);
    expect(parsed.subject).toBe(message.subject);
    expect(parsed.text?.trimEnd()).toBe(message.text);
    expect(parsed.messageId).toMatch(/^<.+@.+>$/);
    expect(parsed.date).toBeInstanceOf(Date);
  });

  test('html becomes an alternative part and custom headers are kept', async () => {
    await h.mailer.send({
      to: ['ana@example.com'],
      subject: 'Digest',
      text: 'plain body',
      html: '<p>html <b>body</b></p>',
      headers: { 'List-Unsubscribe': '<https://tasks.example/unsubscribe/xyz>', 'X-Entity-Ref-ID': 'digest-42' },
    });
    const parsed = await simpleParser((await h.sent())[0]!);
    expect(parsed.text?.trim()).toBe('plain body');
    expect(parsed.html).toContain('<p>html <b>body</b></p>');
    expect(parsed.headers.get('x-entity-ref-id')).toBe('digest-42');
    expect(parsed.headerLines.find((l) => l.key === 'list-unsubscribe')?.line).toBe(
      'List-Unsubscribe: <https://tasks.example/unsubscribe/xyz>',
    );
  });

  test('neither a CRLF in the subject nor a custom header can add or redirect recipients', async () => {
    await h.mailer.send({
      to: ['ana@example.com'],
      subject: 'Hello\r\nBcc: eve@evil.example',
      text: 'x',
      headers: { To: 'eve@evil.example', From: 'ceo@tasks.example' },
    });
    const parsed = await simpleParser((await h.sent())[0]!);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(addressesOf(parsed.to)).toEqual(['ana@example.com']);
    expect(addressesOf(parsed.from)).toEqual(['noreply@tasks.example']);
    expect(parsed.subject).not.toContain('\n');
  });
});

describe('SesMailer', () => {
  let client: SESv2Client;
  let mock: AwsClientStub<SESv2Client>;
  beforeEach(() => {
    client = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });
    mock = mockClient(client);
  });
  afterEach(() => mock.restore());

  test('sends raw content with From, To and the configuration set, and returns the SES MessageId', async () => {
    mock.on(SendEmailCommand).resolves({ MessageId: '0100018c-abc' });
    const mailer = new SesMailer({ client, from: FROM, configurationSetName: 'tasks-events' });
    expect(await mailer.send({ to: ['ana@example.com', 'bo@example.org'], subject: 'S', text: 'T' })).toEqual({
      messageId: '0100018c-abc',
    });
    const input = mock.commandCalls(SendEmailCommand)[0]!.args[0].input;
    expect(input.FromEmailAddress).toBe(FROM);
    expect(input.Destination).toEqual({ ToAddresses: ['ana@example.com', 'bo@example.org'] });
    expect(input.ConfigurationSetName).toBe('tasks-events');
    expect(input.Content?.Simple).toBeUndefined();
    expect(Buffer.from(input.Content!.Raw!.Data!).toString()).toMatch(/^Subject: S\r$/m);
  });

  test('omits the configuration set when none is configured', async () => {
    mock.on(SendEmailCommand).resolves({ MessageId: 'm' });
    await new SesMailer({ client, from: FROM }).send({ to: ['a@example.com'], subject: 'S', text: 'T' });
    expect(mock.commandCalls(SendEmailCommand)[0]!.args[0].input.ConfigurationSetName).toBeUndefined();
  });

  test('fails when SES returns no MessageId, and passes SES errors on', async () => {
    mock.on(SendEmailCommand).resolvesOnce({}).rejectsOnce(new Error('MessageRejected'));
    const mailer = new SesMailer({ client, from: FROM });
    await expect(mailer.send({ to: ['a@example.com'], subject: 'S', text: 'T' })).rejects.toThrow(/MessageId/);
    await expect(mailer.send({ to: ['a@example.com'], subject: 'S', text: 'T' })).rejects.toThrow('MessageRejected');
  });
});

describe('LocalMailer', () => {
  let dir: string;
  let clock: ManualClock;
  let mailer: LocalMailer;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'local-mailer-')), 'outbox'); // created on first send
    clock = new ManualClock('2026-05-04T09:15:30.250Z');
    mailer = new LocalMailer({ dir, from: FROM, clock, ids: sequentialIds(1_000_000_000_000_001) });
  });
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  test('an empty or missing outbox lists as []', async () => {
    expect(await mailer.listOutbox()).toEqual([]);
  });

  test('writes one time-sortable .eml per message and nothing else; returns its gid', async () => {
    expect(await mailer.send({ to: ['a@example.com'], subject: 'One', text: 'x' })).toEqual({ messageId: '1000000000000001' });
    clock.advance(1);
    await mailer.send({ to: ['a@example.com'], subject: 'Two', text: 'y' });
    const names = await readdir(dir);
    expect(names.sort()).toEqual([
      expect.stringMatching(/^20260504T091530250Z-\d{6}-1000000000000001\.eml$/),
      expect.stringMatching(/^20260504T091530251Z-\d{6}-1000000000000002\.eml$/),
    ]);
    const parsed = await simpleParser(await readFile(join(dir, names[0]!)));
    expect(parsed.subject).toBe('One');
    expect(parsed.date?.toISOString()).toBe('2026-05-04T09:15:30.000Z'); // Date header: whole seconds
  });

  test('listOutbox: newest first, with recipients, text, links and sent_at', async () => {
    await mailer.send({
      to: ['ana@example.com', 'Bo <bo@example.org>'],
      subject: 'Invitation',
      text: 'Join: https://tasks.example/invite?t=abc&x=1. Docs (https://docs.example/start). Again https://tasks.example/invite?t=abc&x=1',
    });
    clock.advance(60_000);
    await mailer.send({ to: ['ana@example.com'], subject: 'Reset', text: 'Reset at http://localhost:3000/reset/xyz, soon.' });
    clock.advance(1);
    await mailer.send({ to: ['carl@example.com'], subject: 'No links', text: 'Nothing to click.' });

    expect(await mailer.listOutbox()).toEqual([
      {
        gid: '1000000000000003',
        to: ['carl@example.com'],
        subject: 'No links',
        text: expect.stringMatching(/^Nothing to click\.\s*$/),
        links: [],
        sent_at: '2026-05-04T09:16:30.251Z',
      },
      {
        gid: '1000000000000002',
        to: ['ana@example.com'],
        subject: 'Reset',
        text: expect.stringContaining('http://localhost:3000/reset/xyz'),
        links: ['http://localhost:3000/reset/xyz'],
        sent_at: '2026-05-04T09:16:30.250Z',
      },
      {
        gid: '1000000000000001',
        to: ['ana@example.com', 'bo@example.org'],
        subject: 'Invitation',
        text: expect.stringContaining('Join:'),
        links: ['https://tasks.example/invite?t=abc&x=1', 'https://docs.example/start'],
        sent_at: '2026-05-04T09:15:30.250Z',
      },
    ]);
  });

  test('messages sent within the same millisecond keep their send order', async () => {
    // Descending gids, so only the sequence in the file name can give the order.
    let next = 9_000_000_000_000_000;
    mailer = new LocalMailer({ dir, from: FROM, clock, ids: { gid: () => String(next--), token: () => 't' } });
    for (const subject of ['first', 'second', 'third']) await mailer.send({ to: ['a@example.com'], subject, text: 'x' });
    expect((await mailer.listOutbox()).map((e) => e.subject)).toEqual(['third', 'second', 'first']);
  });

  test('ignores temp files and anything that is not an outbox .eml', async () => {
    await mailer.send({ to: ['a@example.com'], subject: 'Real', text: 'x' });
    await writeFile(join(dir, '.half-written.tmp'), 'From: x\r\nSubject: partial');
    await writeFile(join(dir, 'notes.eml'), 'Subject: stray');
    expect((await mailer.listOutbox()).map((e) => e.subject)).toEqual(['Real']);
  });
});

describe('extractLinks', () => {
  test('finds http(s) URLs in order, deduplicated, without trailing punctuation', () => {
    expect(
      extractLinks(
        'See https://a.example/x?y=1&z=2, then <http://b.example/path>. Or "https://c.example/q"! ' +
          'Not ftp://d.example or mailto:e@example.com. Again: https://a.example/x?y=1&z=2.',
      ),
    ).toEqual(['https://a.example/x?y=1&z=2', 'http://b.example/path', 'https://c.example/q']);
    expect(extractLinks('no links here')).toEqual([]);
  });
});
