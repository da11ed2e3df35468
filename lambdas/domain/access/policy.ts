/**
 * The access policy: every decision about who may see or do what is made here.
 * (The work-graph rules for projects and tasks join this module with their issue.)
 * An organization a caller does not belong to answers 404, as if it did not exist.
 */
import type { Kysely } from 'kysely';
import type { DB, Role } from '../../db/schema.js';
import type { Principal } from '../auth/sessions.js';
import { ForbiddenError, NotFoundError } from '../errors.js';

export async function organizationRole(db: Kysely<DB>, userGid: string, organizationGid: string): Promise<Role | null> {
  const row = await db
    .selectFrom('organization_memberships as m')
    .innerJoin('organizations as o', 'o.gid', 'm.organization_gid')
    .select('m.role')
    .where('m.organization_gid', '=', organizationGid)
    .where('m.user_gid', '=', userGid)
    .where('m.removed_at', 'is', null)
    .where('o.deleted_at', 'is', null)
    .executeTakeFirst();
  return row?.role ?? null;
}

export const ADMIN_ROLES: readonly Role[] = ['super_admin', 'admin'];

/** Passes when the user has one of the roles there; 404 for non-members, 403 for members without the role. */
export async function assertOrganizationRole(db: Kysely<DB>, principal: Principal, organizationGid: string, allowed: readonly Role[], action: string): Promise<Role> {
  if (principal.kind !== 'user') throw new ForbiddenError(`Service accounts cannot ${action}`);
  const role = await organizationRole(db, principal.user.gid, organizationGid);
  if (!role) throw new NotFoundError('Organization not found');
  if (!allowed.includes(role)) throw new ForbiddenError(`Only ${allowed.map((r) => r.replace('_', ' ')).join(' or ')}s of this organization can ${action}`);
  return role;
}
