import { sql } from 'kysely';
import type { User } from '../schema.js';
import type { Executor } from './organizations.js';

export const users = {
  async create(db: Executor, input: { gid: string; email: string; name: string; now: Date }): Promise<User> {
    return db
      .insertInto('users')
      .values({ gid: input.gid, email: input.email, name: input.name, created_at: input.now, modified_at: input.now })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async get(db: Executor, gid: string): Promise<User | undefined> {
    return db.selectFrom('users').selectAll().where('gid', '=', gid).where('deleted_at', 'is', null).executeTakeFirst();
  },

  /** Emails are unique without regard to case (a unique index on lower(email)). */
  async findByEmail(db: Executor, email: string): Promise<User | undefined> {
    return db.selectFrom('users').selectAll().where(sql`lower(email)`, '=', email.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
  },
};
