/**
 * The mail worker: SQS messages name outbox rows; each is claimed (a lease, so two
 * deliveries of the same message never send twice at once), sent through the Mailer
 * port, and marked dispatched. A failure leaves the row pending with a growing delay and
 * reports the record as a batch item failure. The relay re-enqueues due rows, so mail
 * survives a mail outage longer than the queue's retries.
 */
import type { SQSBatchItemFailure, SQSEvent } from 'aws-lambda';
import { outbox } from '../db/repositories/outbox.js';
import type { AppDeps } from '../domain/deps.js';
import type { OutgoingMail } from '../domain/mail.js';
import type { WorkerHandler } from '../adapters/ports.js';
import { logger } from '../shared/logger.js';

/** While a worker holds a message, nobody else sends it. */
const LEASE_SECONDS = 120;

/** Retry delay after the n-th failed attempt: 30 s, 1 min, 2 min ... capped at 1 h. */
export const retryDelaySeconds = (attempts: number) => Math.min(30 * 2 ** Math.max(0, attempts - 1), 3600);

type MailDeps = Pick<AppDeps, 'database' | 'clock' | 'mailer' | 'queue'>;

export function createMailWorker(deps: MailDeps): WorkerHandler {
  return async (event: SQSEvent) => {
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      let gid: string | undefined;
      try {
        gid = (JSON.parse(record.body) as { outbox_gid?: unknown }).outbox_gid as string | undefined;
      } catch {
        gid = undefined;
      }
      if (typeof gid !== 'string') {
        logger.error('mail worker: malformed message dropped', { message_id: record.messageId });
        continue;
      }
      if (!(await deliver(deps, gid))) failures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures: failures };
  };
}

/** Sends one outbox message if it is due; false when sending failed (retry later). */
export async function deliver(deps: MailDeps, gid: string): Promise<boolean> {
  const db = deps.database.db;
  const now = deps.clock.now();
  let message: Awaited<ReturnType<typeof outbox.claim>>;
  try {
    message = await outbox.claim(db, { gid, now, leaseSeconds: LEASE_SECONDS });
  } catch (error) {
    // Only this record is retried, not the whole batch.
    logger.warn('mail delivery: could not claim the message; will retry', { outbox_gid: gid, error: error as Error });
    return false;
  }
  // Already sent, leased by another worker, or not due yet: nothing to do here.
  if (!message) return true;
  // The claim took so long that its lease has already run out: another worker may hold the
  // message now, so sending would risk a duplicate. Leave it to that worker (or the relay).
  if (deps.clock.now().getTime() >= new Date(message.available_at).getTime()) return true;
  try {
    const mail = message.payload as OutgoingMail;
    await deps.mailer.send({ to: mail.to, subject: mail.subject, text: mail.text, headers: { 'X-Outbox-Id': gid } });
    await outbox.markDispatched(db, gid, deps.clock.now());
    return true;
  } catch (error) {
    const retryAt = new Date(deps.clock.now().getTime() + retryDelaySeconds(message.attempts) * 1000);
    await outbox.markFailed(db, gid, { error: error instanceof Error ? error.name : 'send failed', retryAt }).catch(() => undefined);
    logger.warn('mail delivery failed; will retry', { outbox_gid: gid, attempts: message.attempts, error: error as Error });
    return false;
  }
}

/** The relay: enqueues every due, undispatched mail (scheduled every minute; locally on a timer). */
export async function relayDueMail(deps: MailDeps, limit = 500): Promise<number> {
  const gids = await outbox.due(deps.database.db, { topic: 'mail', now: deps.clock.now(), limit });
  for (const gid of gids) await deps.queue.send('mail', { outbox_gid: gid });
  return gids.length;
}
