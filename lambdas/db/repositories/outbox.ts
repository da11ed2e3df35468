/**
 * Transactional outbox. enqueue() runs inside the caller's transaction, so the message
 * exists exactly when the event that caused it was committed. A relay claims due
 * messages with a lease (available_at moves forward), hands them on, and marks them
 * dispatched; a relay that dies leaves its lease to expire and the message is claimed
 * again (at-least-once; consumers deduplicate by the message gid).
 */
import { sql } from 'kysely';
import type { OutboxMessage, OutboxTopic } from '../schema.js';
import { json } from '../query.js';
import type { Executor } from './organizations.js';

export interface EnqueueInput {
  gid: string;
  topic: OutboxTopic;
  payload: unknown;
  now: Date;
  /** At most one message per (topic, dedupeKey): a second enqueue is ignored. */
  dedupeKey?: string;
}

export const outbox = {
  /** Returns false when a message with the same dedupe key already exists. */
  async enqueue(db: Executor, input: EnqueueInput): Promise<boolean> {
    const row = await db
      .insertInto('outbox_messages')
      .values({
        gid: input.gid,
        topic: input.topic,
        dedupe_key: input.dedupeKey ?? null,
        payload: json(input.payload),
        created_at: input.now,
        available_at: input.now,
      })
      .onConflict((oc) => oc.columns(['topic', 'dedupe_key']).where('dedupe_key', 'is not', null).doNothing())
      .returning('gid')
      .executeTakeFirst();
    return row !== undefined;
  },

  /**
   * Claims up to `limit` due messages of a topic for `leaseSeconds`. Claiming is one
   * conditional UPDATE, so two relays never hold the same message at once.
   */
  async claimDue(db: Executor, input: { topic: OutboxTopic; now: Date; limit: number; leaseSeconds: number }): Promise<OutboxMessage[]> {
    const leaseUntil = new Date(input.now.getTime() + input.leaseSeconds * 1000);
    return db
      .updateTable('outbox_messages')
      .set({ available_at: leaseUntil, attempts: sql`attempts + 1` })
      .where('gid', 'in', (q) =>
        q
          .selectFrom('outbox_messages')
          .select('gid')
          .where('topic', '=', input.topic)
          .where('dispatched_at', 'is', null)
          .where('available_at', '<=', input.now)
          .orderBy('available_at')
          .orderBy('gid')
          .limit(input.limit)
          .forUpdate()
          .skipLocked(),
      )
      .where('dispatched_at', 'is', null)
      .where('available_at', '<=', input.now)
      .returningAll()
      .execute();
  },

  /** Claims one message for a lease if it is due and not yet dispatched. */
  async claim(db: Executor, input: { gid: string; now: Date; leaseSeconds: number }): Promise<OutboxMessage | undefined> {
    return db
      .updateTable('outbox_messages')
      .set({ available_at: new Date(input.now.getTime() + input.leaseSeconds * 1000), attempts: sql`attempts + 1` })
      .where('gid', '=', input.gid)
      .where('dispatched_at', 'is', null)
      .where('available_at', '<=', input.now)
      .returningAll()
      .executeTakeFirst();
  },

  /** Due, undispatched messages (for the relay), oldest first. */
  async due(db: Executor, input: { topic: OutboxTopic; now: Date; limit: number }): Promise<string[]> {
    const rows = await db
      .selectFrom('outbox_messages')
      .select('gid')
      .where('topic', '=', input.topic)
      .where('dispatched_at', 'is', null)
      .where('available_at', '<=', input.now)
      .orderBy('available_at')
      .orderBy('gid')
      .limit(input.limit)
      .execute();
    return rows.map((r) => r.gid);
  },

  /** Marks a message delivered and drops its payload (it may hold one-time links). */
  async markDispatched(db: Executor, gid: string, now: Date): Promise<void> {
    await db.updateTable('outbox_messages').set({ dispatched_at: now, last_error: null, payload: json({ dispatched: true }) }).where('gid', '=', gid).execute();
  },

  /** Makes the message due again at retryAt, keeping a short, secret-free error note. */
  async markFailed(db: Executor, gid: string, input: { error: string; retryAt: Date }): Promise<void> {
    await db
      .updateTable('outbox_messages')
      .set({ available_at: input.retryAt, last_error: input.error.slice(0, 500) })
      .where('gid', '=', gid)
      .where('dispatched_at', 'is', null)
      .execute();
  },

  async pendingCount(db: Executor, topic: OutboxTopic): Promise<number> {
    const row = await db.selectFrom('outbox_messages').select((eb) => eb.fn.countAll().as('n')).where('topic', '=', topic).where('dispatched_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  },
};
