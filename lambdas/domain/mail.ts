/**
 * Mail that must not be lost goes through the transactional outbox: enqueueMail() runs
 * inside the caller's transaction; after commit, pokeMailWorker() asks the mail worker
 * to deliver now. If the poke is lost, the relay (relayDueMail) finds the message later.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { outbox } from '../db/repositories/outbox.js';
import type { AppDeps } from './deps.js';
import { logger } from '../shared/logger.js';

export interface OutgoingMail {
  to: string[];
  subject: string;
  text: string;
}

/** Returns the outbox gid, or null when a message with the same dedupe key exists. */
export async function enqueueMail(db: Kysely<DB>, deps: Pick<AppDeps, 'ids' | 'clock'>, mail: OutgoingMail, dedupeKey?: string): Promise<string | null> {
  const gid = deps.ids.gid();
  const created = await outbox.enqueue(db, { gid, topic: 'mail', payload: mail, now: deps.clock.now(), ...(dedupeKey ? { dedupeKey } : {}) });
  return created ? gid : null;
}

/** Best effort: a failure here delays the mail until the relay runs, it never loses it. */
export async function pokeMailWorker(deps: Pick<AppDeps, 'queue'>, outboxGids: (string | null)[]): Promise<void> {
  for (const gid of outboxGids) {
    if (!gid) continue;
    try {
      await deps.queue.send('mail', { outbox_gid: gid });
    } catch (error) {
      logger.warn('mail queue unavailable; the relay will deliver later', { outbox_gid: gid, error: error as Error });
    }
  }
}
