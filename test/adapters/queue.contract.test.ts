import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import type { Queue, QueueName, WorkerHandler } from '../../lambdas/adapters/ports.js';
import { LocalQueue, type DeadLetter, type RegisterOptions } from '../../lambdas/adapters/queue/local-queue.js';
import { MAX_MESSAGE_BYTES, SqsQueue } from '../../lambdas/adapters/queue/sqs-queue.js';
import { logger } from '../../lambdas/shared/logger.js';

const QUEUE_NAMES: QueueName[] = ['exports', 'mail'];
const URLS: Record<QueueName, string> = {
  exports: 'https://sqs.eu-west-1.amazonaws.com/123456789012/exports',
  mail: 'https://sqs.eu-west-1.amazonaws.com/123456789012/mail',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(() => {
  // The local queue logs every failed batch and dead letter; the tests provoke many.
  logger.setLogLevel('SILENT');
});

// ---------------------------------------------------------------------------------------
// The contract: what any Queue implementation does, observed at its consumer side.
// ---------------------------------------------------------------------------------------

interface Delivery {
  messageId: string;
  body: string;
  delaySeconds: number;
}

interface QueueHarness {
  queue: Queue;
  /** Everything that has reached the consumer side of `name`, in order. */
  delivered(name: QueueName): Promise<Delivery[]>;
}

function describeQueueContract(name: string, makeHarness: () => QueueHarness): void {
  describe(`Queue contract: ${name}`, () => {
    test('send resolves to a message id and delivers the JSON body to the named queue only', async () => {
      const { queue, delivered } = makeHarness();
      const body = { kind: 'export', workspace: '1204000000000001', names: ['Zoë', '東京', '🚀'] };

      const { messageId } = await queue.send('exports', body);

      expect(messageId).toMatch(/\S/);
      expect(await delivered('exports')).toEqual([{ messageId, body: JSON.stringify(body), delaySeconds: 0 }]);
      expect(await delivered('mail')).toEqual([]);
    });

    test('each message gets its own id', async () => {
      const { queue, delivered } = makeHarness();
      const first = await queue.send('mail', { n: 1 });
      const second = await queue.send('mail', { n: 1 });

      expect(first.messageId).not.toBe(second.messageId);
      expect((await delivered('mail')).map((d) => d.messageId).sort()).toEqual([first.messageId, second.messageId].sort());
    });

    test('delaySeconds delays the message by that many seconds', async () => {
      const { queue, delivered } = makeHarness();
      const late = await queue.send('mail', 'late', { delaySeconds: 7 });
      const soon = await queue.send('mail', 'soon', { delaySeconds: 0 });

      const byId = new Map((await delivered('mail')).map((d) => [d.messageId, d]));
      expect(byId.get(late.messageId)).toEqual({ messageId: late.messageId, body: '"late"', delaySeconds: 7 });
      expect(byId.get(soon.messageId)).toEqual({ messageId: soon.messageId, body: '"soon"', delaySeconds: 0 });
    });

    test('accepts a body of exactly the maximum size', async () => {
      const { queue, delivered } = makeHarness();
      const body = 'x'.repeat(MAX_MESSAGE_BYTES - 2); // plus the two quotes of the JSON string
      await queue.send('exports', body);
      expect((await delivered('exports'))[0]?.body.length).toBe(MAX_MESSAGE_BYTES);
    });

    test.each([
      ['an undefined body', undefined, {}],
      ['a function body', () => 1, {}],
      ['a body over the size limit', 'x'.repeat(MAX_MESSAGE_BYTES - 1), {}],
      ['a body with U+FFFF, which SQS rejects', 'a\uFFFFb', {}],
      ['a negative delay', {}, { delaySeconds: -1 }],
      ['a delay over 900 s', {}, { delaySeconds: 901 }],
      ['a fractional delay', {}, { delaySeconds: 1.5 }],
    ])('rejects %s and sends nothing', async (_, body, options) => {
      const { queue, delivered } = makeHarness();
      await expect(queue.send('exports', body, options)).rejects.toThrow();
      expect(await delivered('exports')).toEqual([]);
    });

    test('any JSON value arrives as its JSON text', async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          const { queue, delivered } = makeHarness();
          const { messageId } = await queue.send('exports', value);
          expect(await delivered('exports')).toEqual([{ messageId, body: JSON.stringify(value), delaySeconds: 0 }]);
        }),
        { numRuns: 40 },
      );
    });
  });
}

/** SQS's consumer side, as far as a unit test sees it: the SendMessage requests. */
function sqsHarness(): QueueHarness {
  const client = new SQSClient({ region: 'eu-west-1' });
  const sent: Array<{ input: SendMessageCommandInput; messageId: string }> = [];
  mockClient(client)
    .on(SendMessageCommand)
    .callsFake((input: SendMessageCommandInput) => {
      const messageId = `sqs-message-${sent.length + 1}`;
      sent.push({ input, messageId });
      return { MessageId: messageId };
    });
  return {
    queue: new SqsQueue({ client, urls: URLS }),
    delivered: async (name) =>
      sent
        .filter(({ input }) => input.QueueUrl === URLS[name])
        .map(({ input, messageId }) => ({ messageId, body: input.MessageBody ?? '', delaySeconds: input.DelaySeconds ?? 0 })),
  };
}

/** The local queue's consumer side: its handlers, with the delay measured on the clock. */
function localHarness(): QueueHarness {
  const clock = new ManualClock();
  const queue = new LocalQueue({ clock });
  const deliveries: Record<QueueName, Delivery[]> = { exports: [], mail: [] };
  for (const name of QUEUE_NAMES) {
    queue.register(name, async (event) => {
      for (const record of event.Records) {
        const delayMs = clock.now().getTime() - Number(record.attributes.SentTimestamp);
        deliveries[name].push({ messageId: record.messageId, body: record.body, delaySeconds: delayMs / 1000 });
      }
    });
  }
  return {
    queue,
    delivered: async (name) => {
      await queue.drain();
      // Step through delays a second at a time, so each delivery happens the second its delay ends.
      while (QUEUE_NAMES.some((n) => queue.stats(n).delayed > 0)) {
        clock.advance(1000);
        await queue.drain();
      }
      return deliveries[name];
    },
  };
}

describeQueueContract('SqsQueue', sqsHarness);
describeQueueContract('LocalQueue', localHarness);

// ---------------------------------------------------------------------------------------
// LocalQueue: the SQS + Lambda semantics the workers rely on.
// ---------------------------------------------------------------------------------------

interface Invocation {
  event: SQSEvent;
  context: Context;
  remainingAtStart: number;
}

type Behaviour = (event: SQSEvent, call: number) => Promise<SQSBatchResponse | void> | SQSBatchResponse | void;

/** A LocalQueue on a ManualClock with one recording handler on `exports`. */
function local(behaviour: Behaviour = () => undefined, options: RegisterOptions = {}, onDeadLetter?: (q: QueueName, m: DeadLetter) => void) {
  const clock = new ManualClock('2026-03-01T12:00:00.000Z');
  const queue = new LocalQueue(onDeadLetter ? { clock, onDeadLetter } : { clock });
  const invocations: Invocation[] = [];
  const handler: WorkerHandler = (event, context) => {
    invocations.push({ event, context, remainingAtStart: context.getRemainingTimeInMillis() });
    // Not async: a behaviour that throws synchronously reaches the queue as such.
    return Promise.resolve(behaviour(event, invocations.length));
  };
  queue.register('exports', handler, options);
  /** The records of each invocation, as [messageId, ApproximateReceiveCount] pairs. */
  const deliveries = () => invocations.map((i) => i.event.Records.map((r) => [r.messageId, r.attributes.ApproximateReceiveCount]));
  return { clock, queue, invocations, deliveries };
}

const EMPTY = { visible: 0, inFlight: 0, delayed: 0, deadLettered: 0 };

describe('LocalQueue', () => {
  test('hands the handler real SQSEvent records', async () => {
    const { clock, queue, invocations } = local();
    const sentAt = clock.now().getTime();
    const { messageId } = await queue.send('exports', { export: 'e1', userName: 'Zoë' });
    clock.advance(250);

    await queue.drain();

    const body = '{"export":"e1","userName":"Zoë"}';
    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.event).toStrictEqual({
      Records: [
        {
          messageId,
          receiptHandle: expect.stringMatching(/^[A-Za-z0-9+/=]{40,}$/),
          body,
          attributes: {
            ApproximateReceiveCount: '1',
            SentTimestamp: String(sentAt),
            SenderId: '000000000000',
            ApproximateFirstReceiveTimestamp: String(sentAt + 250),
          },
          messageAttributes: {},
          md5OfBody: createHash('md5').update(body, 'utf8').digest('hex'),
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:local:000000000000:exports',
          awsRegion: 'local',
        },
      ],
    });
    expect(messageId).toMatch(UUID);
  });

  test('hands the handler a Lambda context whose remaining time follows the clock', async () => {
    let remainingAfter15s = -1;
    const { clock, queue, invocations } = local(
      (_, call) => {
        if (call === 1) {
          clock.advance(15_000);
          remainingAfter15s = invocations[0]!.context.getRemainingTimeInMillis();
        }
      },
      { functionTimeoutSeconds: 60, visibilityTimeoutSeconds: 60 },
    );
    await queue.send('exports', 1);
    await queue.drain();
    await queue.send('exports', 2);
    await queue.drain();

    const [first, second] = invocations;
    expect(first?.remainingAtStart).toBe(60_000);
    expect(remainingAfter15s).toBe(45_000);
    expect(first?.context).toMatchObject({
      functionName: 'exports-worker',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:exports-worker',
      memoryLimitInMB: '512',
      logGroupName: '/aws/lambda/exports-worker',
      logStreamName: expect.stringMatching(/^2026\/03\/01\/\[\$LATEST\][0-9a-f]{32}$/),
      awsRequestId: expect.stringMatching(UUID),
    });
    expect(second?.context.awsRequestId).toMatch(UUID);
    expect(second?.context.awsRequestId).not.toBe(first?.context.awsRequestId);
  });

  test('delivers batches of at most batchSize messages; pollOnce delivers one batch', async () => {
    const { queue, invocations } = local(() => undefined, { batchSize: 4 });
    const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => queue.send('exports', { i })));

    expect(await queue.pollOnce('exports')).toBe(4);
    expect(invocations.map((i) => i.event.Records.length)).toEqual([4]);
    expect(queue.stats('exports')).toEqual({ ...EMPTY, visible: 6 });

    expect(await queue.drain()).toEqual({ batches: 2, messages: 6 });
    expect(invocations.map((i) => i.event.Records.length)).toEqual([4, 4, 2]);
    const deliveredIds = invocations.flatMap((i) => i.event.Records.map((r) => r.messageId));
    expect(deliveredIds.sort()).toEqual(sent.map((s) => s.messageId).sort());
    expect(queue.stats('exports')).toEqual(EMPTY);
    expect(await queue.pollOnce('exports')).toBe(0);
  });

  test('keeps messages sent while no handler is registered until one is', async () => {
    const { queue } = local();
    await queue.send('mail', { to: 'a@example.com' });

    expect(await queue.drain()).toEqual({ batches: 0, messages: 0 });
    expect(await queue.pollOnce('mail')).toBe(0);
    expect(queue.stats('mail')).toEqual({ ...EMPTY, visible: 1 });

    const bodies: string[] = [];
    queue.register('mail', async (event) => {
      bodies.push(...event.Records.map((r) => r.body));
    });
    await queue.drain();
    expect(bodies).toEqual(['{"to":"a@example.com"}']);
    expect(queue.stats('mail')).toEqual(EMPTY);
  });

  test('delaySeconds keeps a message invisible until its delay has passed', async () => {
    const { clock, queue, invocations } = local();
    const sentAt = clock.now().getTime();
    await queue.send('exports', 'later', { delaySeconds: 10 });

    expect(queue.stats('exports')).toEqual({ ...EMPTY, delayed: 1 });
    clock.advance(9_999);
    await queue.drain();
    expect(invocations).toHaveLength(0);
    expect(queue.stats('exports')).toEqual({ ...EMPTY, delayed: 1 });

    clock.advance(1);
    expect(queue.stats('exports')).toEqual({ ...EMPTY, visible: 1 });
    await queue.drain();
    expect(invocations[0]?.event.Records[0]?.attributes.ApproximateFirstReceiveTimestamp).toBe(String(sentAt + 10_000));
  });

  test('a failed batch is received again only when its visibility timeout ends', async () => {
    const { clock, queue, invocations, deliveries } = local(
      (_, call) => {
        if (call === 1) throw new Error('database unavailable');
      },
      { visibilityTimeoutSeconds: 45 },
    );
    const firstReceivedAt = clock.now().getTime();
    const { messageId } = await queue.send('exports', 'job');

    await queue.drain();
    expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 1 });
    clock.advance(44_999);
    await queue.drain();
    expect(deliveries()).toEqual([[[messageId, '1']]]);

    clock.advance(1);
    await queue.drain();
    expect(deliveries()).toEqual([[[messageId, '1']], [[messageId, '2']]]);
    const [first, second] = invocations.map((i) => i.event.Records[0]!);
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    expect(second?.attributes.ApproximateFirstReceiveTimestamp).toBe(String(firstReceivedAt));
    expect(queue.stats('exports')).toEqual(EMPTY);
  });

  test.each([
    ['rejects', (): Promise<void> => Promise.reject(new Error('crash'))],
    [
      'throws synchronously',
      (): void => {
        throw new Error('crash');
      },
    ],
    ['outlives its function timeout', 'timeout' as const],
  ])('no message is lost when the handler %s', async (_, failure) => {
    let failing = true;
    const { clock, queue, invocations } = local(
      () => {
        if (!failing) return;
        if (failure !== 'timeout') return failure();
        clock.advance(10_000); // Lambda would kill it now; its success does not count
      },
      { functionTimeoutSeconds: 10, visibilityTimeoutSeconds: 20 },
    );
    const sent = await Promise.all(['a', 'b', 'c'].map((body) => queue.send('exports', body)));

    await queue.drain();
    expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 3 });

    failing = false;
    clock.advance(20_000);
    await queue.drain();
    expect(invocations).toHaveLength(2);
    expect(invocations[1]?.event.Records.map((r) => [r.messageId, r.body, r.attributes.ApproximateReceiveCount])).toEqual(
      sent.map(({ messageId }, i) => [messageId, JSON.stringify(['a', 'b', 'c'][i]), '2']),
    );
    expect(queue.stats('exports')).toEqual(EMPTY);
  });

  test('partial batch response: only the reported messages are retried, the others are deleted', async () => {
    const { clock, queue, deliveries } = local((event, call) =>
      call === 1 ? { batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }] } : undefined,
    );
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((body) => queue.send('exports', body)));

    await queue.drain();
    expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 1 });
    clock.advance(30_000);
    await queue.drain();

    expect(deliveries()).toEqual([
      [
        [a?.messageId, '1'],
        [b?.messageId, '1'],
        [c?.messageId, '1'],
      ],
      [[b?.messageId, '2']],
    ]);
    expect(queue.stats('exports')).toEqual(EMPTY);
  });

  test('a batchItemFailures entry that names no message of the batch fails the whole batch, as on Lambda', async () => {
    const { clock, queue, deliveries } = local((_, call) => (call === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } : undefined));
    await queue.send('exports', 'a');
    await queue.send('exports', 'b');

    await queue.drain();
    expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 2 });
    clock.advance(30_000);
    await queue.drain();
    expect(deliveries()[1]?.map(([, count]) => count)).toEqual(['2', '2']);
  });

  test('a message that fails on its maxReceiveCount-th receive is dead-lettered', async () => {
    const onDeadLetter = jest.fn<(queue: QueueName, message: DeadLetter) => void>();
    const { clock, queue, deliveries } = local(
      (event) => {
        // 'poison' always fails; 'fine' succeeds, so the dead letter does not take its batch-mates along.
        const poison = event.Records.filter((r) => r.body === '"poison"');
        if (poison.length > 0) return { batchItemFailures: poison.map((r) => ({ itemIdentifier: r.messageId })) };
      },
      { maxReceiveCount: 3 },
      onDeadLetter,
    );
    const poison = await queue.send('exports', 'poison');
    const sentAt = clock.now().getTime();
    await queue.send('exports', 'fine');

    for (let receive = 1; receive <= 3; receive++) {
      await queue.drain();
      if (receive < 3) {
        expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 1 });
        clock.advance(30_000);
      }
    }
    const poisonCounts = deliveries().flatMap((batch) => batch.filter(([id]) => id === poison.messageId).map(([, count]) => count));
    expect(poisonCounts).toEqual(['1', '2', '3']);

    const expected: DeadLetter = {
      messageId: poison.messageId,
      body: '"poison"',
      receiveCount: 3,
      sentTimestamp: sentAt,
      deadLetteredAt: sentAt + 60_000,
      reason: 'reported in batchItemFailures',
    };
    expect(queue.deadLetters('exports')).toEqual([expected]);
    expect(onDeadLetter.mock.calls).toEqual([['exports', expected]]);
    expect(queue.stats('exports')).toEqual({ ...EMPTY, deadLettered: 1 });

    clock.advance(3_600_000);
    expect(await queue.drain()).toEqual({ batches: 0, messages: 0 });
  });

  test('the dead letter records why the last delivery failed', async () => {
    const { queue } = local(() => Promise.reject(new Error('template missing')), { maxReceiveCount: 1 });
    await queue.send('exports', 'x');
    await queue.drain();
    expect(queue.deadLetters('exports').map((m) => [m.receiveCount, m.reason])).toEqual([[1, 'template missing']]);
  });

  test('a message that succeeds on its last allowed receive is not dead-lettered', async () => {
    const { clock, queue, deliveries } = local(
      (_, call) => {
        if (call === 1) throw new Error('transient');
      },
      { maxReceiveCount: 2 },
    );
    await queue.send('exports', 'x');
    await queue.drain();
    clock.advance(30_000);
    await queue.drain();

    expect(deliveries().map((batch) => batch[0]?.[1])).toEqual(['1', '2']);
    expect(queue.deadLetters('exports')).toEqual([]);
    expect(queue.stats('exports')).toEqual(EMPTY);
  });

  test('drain also processes messages that handlers send while it runs', async () => {
    const { queue } = local(async (event) => {
      for (const record of event.Records) await queue.send('mail', { about: JSON.parse(record.body) });
    });
    const mail: string[] = [];
    queue.register('mail', async (event) => {
      mail.push(...event.Records.map((r) => r.body));
    });
    await queue.send('exports', 'e1');

    expect(await queue.drain()).toEqual({ batches: 2, messages: 2 });
    expect(mail).toEqual(['{"about":"e1"}']);
  });

  test('drain rejects when a handler never finishes', async () => {
    const { queue } = local(() => new Promise<void>(() => {}));
    await queue.send('exports', 'stuck');
    await expect(queue.drain({ timeoutMs: 50 })).rejects.toThrow('still busy after 50 ms');
  });

  test('register refuses a visibility timeout shorter than the function timeout, and a second handler', () => {
    const queue = new LocalQueue({ clock: new ManualClock() });
    expect(() => queue.register('mail', async () => {}, { visibilityTimeoutSeconds: 30, functionTimeoutSeconds: 60 })).toThrow(
      /less than functionTimeoutSeconds/,
    );
    expect(() => queue.register('mail', async () => {}, { batchSize: 0 })).toThrow(/batchSize/);
    queue.register('mail', async () => {});
    expect(() => queue.register('mail', async () => {})).toThrow(/already registered/);
  });

  /** A handler that holds its batch until released. */
  function gatedHandler() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const state = { finished: 0, bodies: [] as string[] };
    const handler: WorkerHandler = async (event) => {
      state.bodies.push(...event.Records.map((r) => r.body));
      started();
      await gate;
      state.finished += 1;
    };
    return { handler, running, release, state };
  }

  /** Whether `promise` settles within `ms` of real time. */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
    return Promise.race([promise.then(() => true), sleep(ms).then(() => false)]);
  }

  /** A handler whose every invocation waits for its own release; `calls` are in invocation order. */
  function heldHandler() {
    const calls: Array<{ release: () => void; receiveCount: string | undefined }> = [];
    const handler: WorkerHandler = (event) =>
      new Promise<void>((resolve) => calls.push({ release: resolve, receiveCount: event.Records[0]?.attributes.ApproximateReceiveCount }));
    return { handler, calls };
  }

  test('a verdict on a message received again since is ignored (its receipt handle is stale)', async () => {
    const clock = new ManualClock();
    const queue = new LocalQueue({ clock });
    const held = heldHandler();
    queue.register('exports', held.handler, { maxReceiveCount: 2 });
    await queue.send('exports', 'slow');

    const first = queue.pollOnce('exports');
    clock.advance(30_000); // the first invocation times out; the message is visible again
    const second = queue.pollOnce('exports');
    expect(held.calls.map((c) => c.receiveCount)).toEqual(['1', '2']);

    held.calls[0]?.release();
    await first; // a failure (timeout) on receive 2 of 2 would dead-letter the message, were it not stale
    expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 1 });

    held.calls[1]?.release();
    await second;
    expect(queue.stats('exports')).toEqual(EMPTY);
    expect(queue.deadLetters('exports')).toEqual([]);
  });

  test('a message whose last allowed delivery outlives its visibility timeout is dead-lettered when next received', async () => {
    const clock = new ManualClock();
    const queue = new LocalQueue({ clock });
    const held = heldHandler();
    queue.register('exports', held.handler, { maxReceiveCount: 1 });
    const { messageId } = await queue.send('exports', 'slow');

    const first = queue.pollOnce('exports');
    clock.advance(30_000);
    const second = queue.pollOnce('exports');
    expect(held.calls).toHaveLength(1); // not delivered a second time
    expect(await second).toBe(0);
    expect(queue.deadLetters('exports')).toEqual([expect.objectContaining({ messageId, receiveCount: 1, reason: expect.stringMatching(/visibility timeout/) })]);

    held.calls[0]?.release();
    await first;
    expect(queue.stats('exports')).toEqual({ ...EMPTY, deadLettered: 1 });
  });

  test('stop() also waits for a batch that pollOnce started', async () => {
    const queue = new LocalQueue({ clock: new ManualClock() });
    const gated = gatedHandler();
    queue.register('exports', gated.handler);
    await queue.send('exports', 'x');
    const polling = queue.pollOnce('exports');
    await gated.running;

    const stopping = queue.stop();
    expect(await settlesWithin(stopping, 30)).toBe(false);
    gated.release();
    await stopping;
    expect(gated.state.finished).toBe(1);
    expect(await polling).toBe(1);
  });

  test('drain waits for batches that the background poller started', async () => {
    const queue = new LocalQueue({ pollIntervalMs: 5 });
    const gated = gatedHandler();
    queue.register('exports', gated.handler);
    queue.start();
    try {
      await queue.send('exports', 'x');
      await gated.running;

      const draining = queue.drain();
      expect(await settlesWithin(draining, 30)).toBe(false);
      gated.release();
      await draining;
      expect(gated.state.finished).toBe(1);
      expect(queue.stats('exports')).toEqual(EMPTY);
    } finally {
      gated.release();
      await queue.stop();
    }
  });

  describe('start() / stop() on the system clock', () => {
    test('start() delivers in the background without keeping the process alive', async () => {
      const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const queue = new LocalQueue({ pollIntervalMs: 5 });
      const received: string[] = [];
      let delivered!: () => void;
      const deliveredOnce = new Promise<void>((resolve) => (delivered = resolve));
      queue.register('mail', async (event) => {
        received.push(...event.Records.map((r) => r.body));
        delivered();
      });
      const before = refTimers();

      queue.start();
      try {
        await sleep(20); // the poller is idle, sleeping on its timer
        expect(refTimers()).toBe(before);
        await queue.send('mail', 'hello');
        await deliveredOnce;
        expect(received).toEqual(['"hello"']);
      } finally {
        await queue.stop();
      }
      expect(queue.stats('mail')).toEqual(EMPTY);
    });

    test('stop() waits for the batch in flight, then no more are received', async () => {
      const queue = new LocalQueue({ pollIntervalMs: 5 });
      const gated = gatedHandler();
      queue.register('exports', gated.handler);
      queue.start();
      await queue.send('exports', 'slow');
      await gated.running;

      const stopping = queue.stop();
      expect(await settlesWithin(stopping, 30)).toBe(false);
      expect(queue.stats('exports')).toEqual({ ...EMPTY, inFlight: 1 });

      gated.release();
      await stopping;
      expect(gated.state.finished).toBe(1);
      expect(queue.stats('exports')).toEqual(EMPTY);

      await queue.send('exports', 'after stop');
      await sleep(30);
      expect(gated.state.bodies).toEqual(['"slow"']);
      expect(queue.stats('exports')).toEqual({ ...EMPTY, visible: 1 });
    });
  });
});

// ---------------------------------------------------------------------------------------
// SqsQueue: the exact requests it makes.
// ---------------------------------------------------------------------------------------

describe('SqsQueue', () => {
  function sqs() {
    const client = new SQSClient({ region: 'eu-west-1' });
    const mock = mockClient(client);
    return { mock, queue: new SqsQueue({ client, urls: URLS }) };
  }

  test('sends the JSON body to the URL of the named queue, with DelaySeconds when given', async () => {
    const { mock, queue } = sqs();
    mock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });

    await expect(queue.send('mail', { to: ['a@example.com'], subject: 'Hi' }, { delaySeconds: 120 })).resolves.toEqual({ messageId: 'm-1' });

    expect(mock.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueueUrl: URLS.mail, MessageBody: '{"to":["a@example.com"],"subject":"Hi"}', DelaySeconds: 120 },
    ]);
  });

  test('omits DelaySeconds when no delay is given, so the queue default applies', async () => {
    const { mock, queue } = sqs();
    mock.on(SendMessageCommand).resolves({ MessageId: 'm-2' });

    await queue.send('exports', { exportId: '42' });

    expect(mock.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueueUrl: URLS.exports, MessageBody: '{"exportId":"42"}' },
    ]);
  });

  test('rejects when SQS fails or returns no MessageId', async () => {
    const { mock, queue } = sqs();
    mock.on(SendMessageCommand).rejectsOnce(new Error('AccessDenied')).resolvesOnce({});

    await expect(queue.send('exports', 1)).rejects.toThrow('AccessDenied');
    await expect(queue.send('exports', 2)).rejects.toThrow('returned no MessageId');
    expect(mock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });
});
