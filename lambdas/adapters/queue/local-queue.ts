import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../shared/logger.js';
import { systemClock } from '../clock.js';
import type { Clock, Queue, QueueName, SendOptions, WorkerHandler } from '../ports.js';
import { encodeMessage } from './sqs-queue.js';

/**
 * The local implementation of the Queue port: an in-process queue with the semantics
 * the workers rely on in AWS (SQS standard queue + Lambda event source mapping with
 * ReportBatchItemFailures + a redrive policy to a dead-letter queue):
 *
 * - at-least-once delivery, in batches, as real `SQSEvent`s to the same `WorkerHandler`s;
 * - a received message is invisible for the visibility timeout; if the handler throws,
 *   rejects, or outlives its function timeout, the whole batch is received again once
 *   that timeout ends; with `{ batchItemFailures }` only the listed messages are;
 * - a message that fails on its `maxReceiveCount`-th receive is dead-lettered;
 * - `delaySeconds` postpones first visibility; messages wait while no handler is registered.
 *
 * All times come from the injected clock, so tests drive visibility timeouts and delays
 * deterministically with a ManualClock (advance it, then `drain()` or `pollOnce()` again).
 * Only `start()`'s polling and `drain()`'s guard use real timers.
 */

const ACCOUNT_ID = '000000000000';
const REGION = 'local';

export interface LocalQueueOptions {
  /** Source of every queue timestamp (send, receive, visibility, function deadline). Default: the system clock. */
  clock?: Clock;
  /** Real-time pause of an idle poller started by `start()`, in ms. Default 100. */
  pollIntervalMs?: number;
  /** Called after a message is moved to its queue's dead-letter list. Errors are logged, never rethrown. */
  onDeadLetter?: (queue: QueueName, message: DeadLetter) => void | Promise<void>;
}

/** The event source mapping and queue settings of one worker (Lambda/SQS defaults). */
export interface RegisterOptions {
  /** Messages per invocation, 1-10000. Default 10. */
  batchSize?: number;
  /** How long a received message stays invisible. Default 30; must be >= functionTimeoutSeconds, as Lambda requires. */
  visibilityTimeoutSeconds?: number;
  /** The redrive policy: receives before a failing message is dead-lettered, 1-1000. Default 5. */
  maxReceiveCount?: number;
  /** The worker's Lambda timeout; drives `context.getRemainingTimeInMillis()`. Default 30. */
  functionTimeoutSeconds?: number;
  /** The consumer of this queue's dead-letter queue (a function on the DLQ in AWS), called once per dead-lettered message. */
  onDeadLetter?: (message: DeadLetter) => void | Promise<void>;
}

/** A message in a dead-letter list. */
export interface DeadLetter {
  messageId: string;
  /** The raw body as sent (JSON text). */
  body: string;
  receiveCount: number;
  /** Epoch ms, from the injected clock. */
  sentTimestamp: number;
  deadLetteredAt: number;
  /** Why its last delivery failed. */
  reason: string;
}

/** Counts as SQS's approximate queue attributes report them. */
export interface QueueStats {
  /** Receivable now (ApproximateNumberOfMessages). */
  visible: number;
  /** Received and within their visibility timeout, whether their handler still runs or failed (ApproximateNumberOfMessagesNotVisible). */
  inFlight: number;
  /** Never received and still within their delay (ApproximateNumberOfMessagesDelayed). */
  delayed: number;
  deadLettered: number;
}

export interface DrainResult {
  /** Batches delivered by this drain. */
  batches: number;
  /** Messages in those batches (redeliveries count again). */
  messages: number;
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly sentTimestamp: number;
  firstReceiveTimestamp: number | undefined;
  receiveCount: number;
  /** Epoch ms from which the message can be received: the end of its delay, then of its visibility timeout. */
  visibleAt: number;
  /** The handle of the latest receive; a verdict carrying an older one is stale and ignored. */
  receiptHandle: string | undefined;
  lastError: string | undefined;
}

/** What a batch's handler was given: the messages' state at receive time. */
type Received = Readonly<StoredMessage> & { readonly receiptHandle: string };

interface Consumer {
  readonly handler: WorkerHandler;
  readonly functionName: string;
  readonly batchSize: number;
  readonly visibilityTimeoutMs: number;
  readonly maxReceiveCount: number;
  readonly functionTimeoutMs: number;
  readonly onDeadLetter: RegisterOptions['onDeadLetter'];
}

interface QueueState {
  /** Insertion-ordered, so delivery is roughly first-in first-out (SQS standard queues promise no order). */
  readonly messages: Map<string, StoredMessage>;
  readonly deadLetters: DeadLetter[];
  consumer: Consumer | undefined;
}

export class LocalQueue implements Queue {
  readonly #clock: Clock;
  readonly #pollIntervalMs: number;
  readonly #onDeadLetter: LocalQueueOptions['onDeadLetter'];
  readonly #queues = new Map<QueueName, QueueState>();
  /** Work under way: running batches and dead-letter callbacks. These promises never reject. */
  readonly #pending = new Set<Promise<void>>();
  /** The poll loops started by `start()`, one per registered queue. */
  readonly #pollers = new Map<QueueName, Promise<void>>();
  /** Wakes the poll loops' sleeps, so that `stop()` need not wait out an interval. */
  readonly #wakers = new Set<() => void>();
  #running = false;

  constructor(options: LocalQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#pollIntervalMs = options.pollIntervalMs ?? 100;
    this.#onDeadLetter = options.onDeadLetter;
  }

  async send(queue: QueueName, body: unknown, options: SendOptions = {}): Promise<{ messageId: string }> {
    const json = encodeMessage(body, options);
    const now = this.#now();
    const messageId = randomUUID();
    this.#state(queue).messages.set(messageId, {
      messageId,
      body: json,
      md5OfBody: createHash('md5').update(json, 'utf8').digest('hex'),
      sentTimestamp: now,
      firstReceiveTimestamp: undefined,
      receiveCount: 0,
      visibleAt: now + (options.delaySeconds ?? 0) * 1000,
      receiptHandle: undefined,
      lastError: undefined,
    });
    return { messageId };
  }

  /** Attaches the worker of a queue (its event source mapping). One handler per queue. */
  register(queue: QueueName, handler: WorkerHandler, options: RegisterOptions = {}): void {
    const state = this.#state(queue);
    if (state.consumer) throw new Error(`LocalQueue: a handler is already registered for queue "${queue}"`);
    const batchSize = integerIn('batchSize', options.batchSize ?? 10, 1, 10_000);
    const visibilityTimeoutSeconds = integerIn('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds ?? 30, 0, 43_200);
    const maxReceiveCount = integerIn('maxReceiveCount', options.maxReceiveCount ?? 5, 1, 1_000);
    const functionTimeoutSeconds = integerIn('functionTimeoutSeconds', options.functionTimeoutSeconds ?? 30, 1, 900);
    if (visibilityTimeoutSeconds < functionTimeoutSeconds) {
      // Lambda refuses such an event source mapping: a message would reappear while its handler still runs.
      throw new Error(
        `LocalQueue: visibilityTimeoutSeconds (${visibilityTimeoutSeconds}) of "${queue}" is less than functionTimeoutSeconds (${functionTimeoutSeconds})`,
      );
    }
    state.consumer = {
      handler,
      functionName: `${queue}-worker`,
      batchSize,
      visibilityTimeoutMs: visibilityTimeoutSeconds * 1000,
      maxReceiveCount,
      functionTimeoutMs: functionTimeoutSeconds * 1000,
      onDeadLetter: options.onDeadLetter,
    };
    if (this.#running) this.#startPoller(queue);
  }

  /** Starts background polling of every registered queue. Its timers are unref'd: they never keep the process alive. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const [queue, state] of this.#queues) if (state.consumer) this.#startPoller(queue);
  }

  /** Stops polling and resolves once every batch under way (from any caller) has finished. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const wake of [...this.#wakers]) wake();
    await Promise.all(this.#pollers.values()); // each loop removes itself once it ends
    await this.#idle();
  }

  /**
   * Receives one batch from `queue` and runs its handler to completion.
   * Resolves to the number of messages delivered: 0 when none is visible or no handler is registered.
   */
  async pollOnce(queue: QueueName): Promise<number> {
    const state = this.#queues.get(queue);
    const consumer = state?.consumer;
    if (!state || !consumer) return 0;
    const batch = this.#receive(queue, state, consumer);
    if (batch.length === 0) return 0;
    await this.#track(this.#process(queue, state, consumer, batch));
    return batch.length;
  }

  /**
   * For tests and scripts: delivers batches from every registered queue until no message
   * is visible and no batch is running (including those the poller started). Messages
   * still within a delay or visibility timeout stay: advance the clock and drain again.
   * Rejects if that takes more than `timeoutMs` of real time (default 10 s), e.g. when a
   * handler hangs or keeps re-enqueueing.
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<DrainResult> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new Error(`LocalQueue.drain: still busy after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#drainLoop(() => expired), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(queue: QueueName): QueueStats {
    const state = this.#queues.get(queue);
    const stats: QueueStats = { visible: 0, inFlight: 0, delayed: 0, deadLettered: state?.deadLetters.length ?? 0 };
    const now = this.#now();
    for (const message of state?.messages.values() ?? []) {
      if (message.visibleAt <= now) stats.visible += 1;
      else if (message.receiveCount === 0) stats.delayed += 1;
      else stats.inFlight += 1;
    }
    return stats;
  }

  /** The queue's dead-letter list, oldest first (copies). */
  deadLetters(queue: QueueName): DeadLetter[] {
    return (this.#queues.get(queue)?.deadLetters ?? []).map((message) => ({ ...message }));
  }

  #now(): number {
    return this.#clock.now().getTime();
  }

  #state(queue: QueueName): QueueState {
    let state = this.#queues.get(queue);
    if (!state) {
      state = { messages: new Map(), deadLetters: [], consumer: undefined };
      this.#queues.set(queue, state);
    }
    return state;
  }

  /**
   * Claims up to a batch of visible messages, synchronously, so concurrent callers
   * (the poller, drain, pollOnce) never receive the same message at once.
   */
  #receive(queue: QueueName, state: QueueState, consumer: Consumer): Received[] {
    const now = this.#now();
    const batch: Received[] = [];
    for (const message of state.messages.values()) {
      if (batch.length === consumer.batchSize) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= consumer.maxReceiveCount) {
        // SQS's redrive: the receive that would exceed maxReceiveCount moves the message instead.
        // Failed deliveries are dead-lettered at once (#settle); this catches messages whose
        // visibility timeout ran out before their handler's verdict.
        this.#deadLetter(queue, state, message, message.lastError ?? 'visibility timeout expired before the handler finished');
        continue;
      }
      const receiptHandle = randomBytes(48).toString('base64');
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= now;
      message.receiptHandle = receiptHandle;
      message.visibleAt = now + consumer.visibilityTimeoutMs;
      batch.push({ ...message, receiptHandle });
    }
    return batch;
  }

  /** Invokes the handler as Lambda would, then applies its verdict. Never rejects. */
  async #process(queue: QueueName, state: QueueState, consumer: Consumer, batch: Received[]): Promise<void> {
    const deadline = this.#now() + consumer.functionTimeoutMs;
    const event: SQSEvent = { Records: batch.map((message) => this.#record(queue, message)) };
    let failed: Set<string>;
    let reason = '';
    try {
      const response = await consumer.handler(event, this.#context(consumer, deadline));
      // Lambda would have killed the invocation at its deadline, whatever it went on to return.
      if (this.#now() >= deadline) throw new Error(`Task timed out after ${consumer.functionTimeoutMs / 1000} seconds`);
      failed = reportedFailures(response, new Set(batch.map((message) => message.messageId)));
      reason = 'reported in batchItemFailures';
    } catch (error) {
      failed = new Set(batch.map((message) => message.messageId));
      reason = error instanceof Error ? error.message : String(error);
      logger.warn('local queue: batch failed, its messages will be retried', {
        queue,
        messageIds: [...failed],
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
    this.#settle(queue, state, consumer, batch, failed, reason);
  }

  /** Deletes the batch's successes; failures wait out their visibility timeout, or are dead-lettered. */
  #settle(queue: QueueName, state: QueueState, consumer: Consumer, batch: Received[], failed: Set<string>, reason: string): void {
    for (const received of batch) {
      const message = state.messages.get(received.messageId);
      // Received again since (its visibility timeout ran out meanwhile): this verdict is stale,
      // as a DeleteMessage with an outdated receipt handle may be on SQS. Keeping the message
      // errs on the side of at-least-once.
      if (!message || message.receiptHandle !== received.receiptHandle) continue;
      if (!failed.has(message.messageId)) {
        state.messages.delete(message.messageId);
        continue;
      }
      message.lastError = reason;
      // SQS would move it on the next receive attempt, after the visibility timeout; moving it
      // now is observably the same except that tests need not advance the clock once more.
      if (message.receiveCount >= consumer.maxReceiveCount) this.#deadLetter(queue, state, message, reason);
    }
  }

  #deadLetter(queue: QueueName, state: QueueState, message: StoredMessage, reason: string): void {
    state.messages.delete(message.messageId);
    const deadLetter: DeadLetter = {
      messageId: message.messageId,
      body: message.body,
      receiveCount: message.receiveCount,
      sentTimestamp: message.sentTimestamp,
      deadLetteredAt: this.#now(),
      reason,
    };
    state.deadLetters.push(deadLetter);
    logger.error('local queue: message dead-lettered', { queue, messageId: message.messageId, receiveCount: message.receiveCount, reason });
    const global = this.#onDeadLetter;
    const own = state.consumer?.onDeadLetter;
    if (global || own) {
      void this.#track(
        (async () => {
          try {
            await own?.({ ...deadLetter });
            await global?.(queue, { ...deadLetter });
          } catch (error) {
            logger.error('local queue: onDeadLetter callback failed', { queue, messageId: message.messageId, error: String(error) });
          }
        })(),
      );
    }
  }

  #record(queue: QueueName, message: Received): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: ACCOUNT_ID,
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      },
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${queue}`,
      awsRegion: REGION,
    };
  }

  #context(consumer: Consumer, deadline: number): Context {
    const { functionName } = consumer;
    const day = new Date(this.#now()).toISOString().slice(0, 10).replaceAll('-', '/');
    const unsupported = (): never => {
      throw new Error('LocalQueue: context.done/fail/succeed are not supported; return a promise');
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName}`,
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.#now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }

  /** Registers work under way so that drain() and stop() can wait for it. */
  #track(work: Promise<void>): Promise<void> {
    this.#pending.add(work);
    void work.then(() => this.#pending.delete(work));
    return work;
  }

  async #idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  async #drainLoop(cancelled: () => boolean): Promise<DrainResult> {
    const result: DrainResult = { batches: 0, messages: 0 };
    while (!cancelled()) {
      const queues = [...this.#queues].filter(([, state]) => state.consumer).map(([queue]) => queue);
      const delivered = (await Promise.all(queues.map((queue) => this.pollOnce(queue)))).filter((count) => count > 0);
      result.batches += delivered.length;
      result.messages += delivered.reduce((sum, count) => sum + count, 0);
      if (delivered.length === 0) {
        if (this.#pending.size === 0) break;
        // Work started elsewhere (the poller, a callback) may still send messages or fail some.
        await Promise.race(this.#pending);
      }
    }
    return result;
  }

  #startPoller(queue: QueueName): void {
    if (!this.#pollers.has(queue)) this.#pollers.set(queue, this.#pollLoop(queue));
  }

  async #pollLoop(queue: QueueName): Promise<void> {
    while (this.#running) {
      const delivered = await this.pollOnce(queue);
      // After a batch, only yield to the event loop before the next one; when idle, wait an interval.
      if (this.#running) await this.#sleep(delivered > 0 ? 0 : this.#pollIntervalMs);
    }
    this.#pollers.delete(queue);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#wakers.add(wake);
    });
  }
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`LocalQueue: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * The messages a partial batch response reports as failed, read as Lambda reads it: no
 * response or no/empty batchItemFailures is complete success; an itemIdentifier that is
 * missing, empty or not a message of the batch makes the whole batch fail (thrown here).
 */
function reportedFailures(response: unknown, batchIds: ReadonlySet<string>): Set<string> {
  const failures: unknown = typeof response === 'object' && response !== null ? (response as { batchItemFailures?: unknown }).batchItemFailures : undefined;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new Error('invalid partial batch response: batchItemFailures is not a list');
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id: unknown = typeof failure === 'object' && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || !batchIds.has(id)) {
      throw new Error(`invalid partial batch response: itemIdentifier ${JSON.stringify(id)} is not a message of the batch`);
    }
    failed.add(id);
  }
  return failed;
}
