import type { Kysely } from 'kysely';
import type { DB, Organization, Role } from '../schema.js';
import { keysetPage, type KeysetPage } from '../query.js';

export type Executor = Kysely<DB>;

export interface CreateOrganization {
  gid: string;
  name: string;
  plan?: 'free' | 'paid';
  now: Date;
}

export const organizations = {
  async create(db: Executor, input: CreateOrganization): Promise<Organization> {
    return db
      .insertInto('organizations')
      .values({ gid: input.gid, name: input.name, plan: input.plan ?? 'free', created_at: input.now, modified_at: input.now })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async get(db: Executor, gid: string): Promise<Organization | undefined> {
    return db.selectFrom('organizations').selectAll().where('gid', '=', gid).where('deleted_at', 'is', null).executeTakeFirst();
  },

  async setPlan(db: Executor, gid: string, plan: 'free' | 'paid', now: Date): Promise<boolean> {
    const row = await db.updateTable('organizations').set({ plan, modified_at: now }).where('gid', '=', gid).returning('gid').executeTakeFirst();
    return row !== undefined;
  },

  /** The organizations a user belongs to, in name order, one keyset page at a time. */
  async listForUser(db: Executor, userGid: string, page: { limit: number; after?: string | null }): Promise<KeysetPage<Pick<Organization, 'gid' | 'name'>>> {
    const query = db
      .selectFrom('organizations as o')
      .innerJoin('organization_memberships as m', 'm.organization_gid', 'o.gid')
      .select(['o.gid', 'o.name'])
      .where('m.user_gid', '=', userGid)
      .where('m.removed_at', 'is', null)
      .where('o.deleted_at', 'is', null);
    return keysetPage(db, query, { keys: [{ column: 'name' }, { column: 'gid' }], ...page });
  },

  async addMember(db: Executor, input: { gid: string; organizationGid: string; userGid: string; role: Role; now: Date }): Promise<void> {
    await db
      .insertInto('organization_memberships')
      .values({ gid: input.gid, organization_gid: input.organizationGid, user_gid: input.userGid, role: input.role, created_at: input.now })
      .execute();
  },
};
