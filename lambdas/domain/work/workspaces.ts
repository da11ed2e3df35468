/**
 * Workspaces (our organizations), their users and workspace memberships.
 *
 * Who may see what comes from the access policy (viewerIn, userVisible, userVisibleToAny,
 * isOrgAdmin, canRemoveFromOrganization, canSeeTeam); this module only combines those
 * predicates. Objects the caller may not see answer 404; visible things the caller may
 * not change answer 403.
 */
import { sql, type RawBuilder } from 'kysely';
import { keysetPage } from '../../db/query.js';
import type { Role } from '../../db/schema.js';
import { ADMIN_ROLES, canRemoveFromOrganization, canSeeTeam, isOrgAdmin, userVisible, userVisibleToAny, viewerIn, type Viewer } from '../access/policy.js';
import { invite } from '../auth/accounts.js';
import type { LoginContext, Principal } from '../auth/sessions.js';
import { recordAudit } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, movedTo, recordDeletions, touchRows, viewerForObject, type Db } from './common.js';
import { userCompact, workspaceCompact } from './present.js';

export interface PageRequest {
  limit: number;
  offset: string | null;
}

export interface Listed<T = Record<string, unknown>> {
  data: T[];
  next: string | null;
}

/** "me", an email address, or a user gid: how Asana names a user in paths, queries and bodies. */
export type UserRef = string;

/** The most organizations one person's answers consider (a person is in a handful). */
const MAX_ORGANIZATIONS = 200;

// --- Viewers and user references ------------------------------------------------------

/** The caller as a viewer in every organization they belong to (roles from the policy). */
export async function callerViewers(db: Db, principal: Principal): Promise<Viewer[]> {
  if (principal.kind !== 'user') return [];
  const orgs = await db
    .selectFrom('organization_memberships as m')
    .innerJoin('organizations as o', 'o.gid', 'm.organization_gid')
    .select('m.organization_gid')
    .where('m.user_gid', '=', principal.user.gid)
    .where('m.removed_at', 'is', null)
    .where('o.deleted_at', 'is', null)
    .orderBy('m.organization_gid')
    .limit(MAX_ORGANIZATIONS)
    .execute();
  const viewers: Viewer[] = [];
  for (const o of orgs) viewers.push(await viewerIn(db, principal, o.organization_gid));
  return viewers;
}

const isEmailRef = (ref: UserRef) => ref.includes('@');

/** The users row (alias) is the one the reference names. */
export function userRefMatches(callerGid: string, ref: UserRef, alias = 'u'): RawBuilder<boolean> {
  if (ref === 'me') return sql<boolean>`${sql.ref(`${alias}.gid`)} = ${callerGid}`;
  if (isEmailRef(ref)) return sql<boolean>`lower(${sql.ref(`${alias}.email`)}) = ${ref.trim().toLowerCase()}`;
  return sql<boolean>`${sql.ref(`${alias}.gid`)} = ${ref}`;
}

export interface UserRow {
  gid: string;
  name: string;
  email: string;
}

/** The user a reference names, if the viewer may see them in the viewer's organization. */
export async function visibleUser(db: Db, viewer: Viewer, ref: UserRef): Promise<UserRow | undefined> {
  return db
    .selectFrom('users as u')
    .select(['u.gid', 'u.name', 'u.email'])
    .where(userRefMatches(viewer.userGid, ref))
    .where(userVisible(viewer, 'u'))
    .executeTakeFirst();
}

/** Like visibleUser, but 404 when there is no such visible user. */
export async function requireVisibleUser(db: Db, viewer: Viewer, ref: UserRef): Promise<UserRow> {
  const user = await visibleUser(db, viewer, ref);
  if (!user) throw new NotFoundError('User not found');
  return user;
}

// --- Representations -------------------------------------------------------------------

export const workspaceFull = (o: { gid: string; name: string }) => ({ ...workspaceCompact(o), email_domains: [] as string[], is_organization: true });

/**
 * Full user representations for a page of users, with the workspaces each belongs to
 * that the caller shares with them and may see them in (one query for the whole page).
 */
export async function userViews(db: Db, viewers: Viewer[], rows: UserRow[]): Promise<Record<string, unknown>[]> {
  if (rows.length === 0) return [];
  const memberships = await db
    .selectFrom('organization_memberships as m')
    .innerJoin('organizations as o', 'o.gid', 'm.organization_gid')
    .innerJoin('users as u', 'u.gid', 'm.user_gid')
    .select(['m.user_gid', 'o.gid', 'o.name'])
    .where(
      'm.user_gid',
      'in',
      rows.map((r) => r.gid),
    )
    .where('m.removed_at', 'is', null)
    .where('o.deleted_at', 'is', null)
    .where(userVisibleToAny(viewers, 'u', 'm.organization_gid'))
    .orderBy('o.name')
    .orderBy('o.gid')
    .execute();
  return rows.map((u) => ({
    ...userCompact(u),
    email: u.email,
    photo: null,
    workspaces: memberships.filter((m) => m.user_gid === u.gid).map(workspaceCompact),
  }));
}

async function usersAnswer(db: Db, viewers: Viewer[], rows: UserRow[], full: boolean): Promise<Record<string, unknown>[]> {
  return full ? userViews(db, viewers, rows) : rows.map(userCompact);
}

// --- Workspaces ------------------------------------------------------------------------

/** The caller's organizations, by name. */
export async function listWorkspaces(db: Db, principal: Principal, page: PageRequest, full: boolean): Promise<Listed> {
  if (principal.kind !== 'user') throw new NotFoundError();
  const query = db
    .selectFrom('organizations as o')
    .innerJoin('organization_memberships as m', 'm.organization_gid', 'o.gid')
    .select(['o.gid', 'o.name'])
    .where('m.user_gid', '=', principal.user.gid)
    .where('m.removed_at', 'is', null)
    .where('o.deleted_at', 'is', null);
  const result = await keysetPage(db, query, { keys: [{ column: 'name' }, { column: 'gid' }], limit: page.limit, after: page.offset });
  return { data: result.rows.map((o) => (full ? workspaceFull(o) : workspaceCompact(o))), next: result.next };
}

export async function getWorkspace(db: Db, principal: Principal, workspaceGid: string) {
  await viewerIn(db, principal, workspaceGid);
  const org = await db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', workspaceGid).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
  return workspaceFull(org);
}

/** Renames an organization (admins and super admins). */
export async function updateWorkspace(deps: AppDeps, principal: Principal, workspaceGid: string, input: { name?: string | undefined }, ctx: Pick<LoginContext, 'ip' | 'userAgent'>) {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerIn(db, principal, workspaceGid);
    if (!isOrgAdmin(viewer)) throw new ForbiddenError('Only admins of this workspace can change it');
    if (input.name === undefined) return;
    const before = await db.selectFrom('organizations').select('name').where('gid', '=', workspaceGid).executeTakeFirstOrThrow();
    await db
      .updateTable('organizations')
      .set({ name: input.name, modified_at: sql`greatest(modified_at, ${now})` })
      .where('gid', '=', workspaceGid)
      .execute();
    if (before.name !== input.name) {
      await recordAudit(db, deps, { organizationGid: workspaceGid, type: 'workspace_name_changed', category: 'admin_settings', actor: { type: 'user', gid: viewer.userGid }, resource: { type: 'workspace', gid: workspaceGid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { old_value: before.name, new_value: input.name } });
    }
  });
  return getWorkspace(deps.database.db, principal, workspaceGid);
}

// --- Users -----------------------------------------------------------------------------

const userKeys = { keys: [{ column: 'name' }, { column: 'gid' }] };

/** Users of a workspace the caller may see, by name. */
export async function listWorkspaceUsers(db: Db, principal: Principal, workspaceGid: string, page: PageRequest, full: boolean): Promise<Listed> {
  const viewer = await viewerIn(db, principal, workspaceGid);
  const query = db.selectFrom('users as u').select(['u.gid', 'u.name', 'u.email']).where(userVisible(viewer, 'u'));
  const result = await keysetPage(db, query, { ...userKeys, limit: page.limit, after: page.offset });
  return { data: await usersAnswer(db, full ? await callerViewers(db, principal) : [], result.rows, full), next: result.next };
}

/** GET /users: in a workspace, in a team, or across every workspace of the caller. */
export async function listUsers(db: Db, principal: Principal, filter: { workspace?: string | undefined; team?: string | undefined }, page: PageRequest, full: boolean): Promise<Listed> {
  if (principal.kind !== 'user') throw new NotFoundError();
  let query = db.selectFrom('users as u').select(['u.gid', 'u.name', 'u.email']);
  if (filter.team) {
    const viewer = await viewerForObject(db, principal, 'teams', filter.team);
    if (!(await canSeeTeam(db, viewer, filter.team))) throw new NotFoundError('Team not found');
    if (filter.workspace && filter.workspace !== viewer.organizationGid) throw new BadRequestError('The team is not in that workspace', [{ message: 'query.team: not a team of the given workspace' }]);
    const team = filter.team;
    query = query.where(userVisible(viewer, 'u')).where((eb) => eb.exists(eb.selectFrom('team_memberships as tm').select('tm.gid').whereRef('tm.user_gid', '=', 'u.gid').where('tm.team_gid', '=', team)));
  } else if (filter.workspace) {
    query = query.where(userVisible(await viewerIn(db, principal, filter.workspace), 'u'));
  } else {
    const viewers = await callerViewers(db, principal);
    query = query.where((eb) => eb.or([eb('u.gid', '=', principal.user.gid), userVisibleToAny(viewers, 'u')])).where('u.deleted_at', 'is', null);
  }
  const result = await keysetPage(db, query, { ...userKeys, limit: page.limit, after: page.offset });
  return { data: await usersAnswer(db, full ? await callerViewers(db, principal) : [], result.rows, full), next: result.next };
}

/**
 * One user ("me", a gid or an email): visible when the caller may see them in an
 * organization they share (or, with `workspace`, in that one); 404 otherwise.
 */
export async function getUser(db: Db, principal: Principal, ref: UserRef, workspace?: string): Promise<Record<string, unknown>> {
  if (principal.kind !== 'user') throw new NotFoundError();
  const viewers = workspace ? [await viewerIn(db, principal, workspace)] : await callerViewers(db, principal);
  const self = ref === 'me' || ref === principal.user.gid;
  const row = await db
    .selectFrom('users as u')
    .select(['u.gid', 'u.name', 'u.email'])
    .where(userRefMatches(principal.user.gid, ref))
    .where('u.deleted_at', 'is', null)
    .where(self && !workspace ? sql<boolean>`true` : userVisibleToAny(viewers, 'u'))
    .executeTakeFirst();
  if (!row) throw new NotFoundError('User not found');
  return (await userViews(db, viewers, [row]))[0]!;
}

// --- Workspace memberships -------------------------------------------------------------

function membershipQuery(db: Db) {
  return db
    .selectFrom('organization_memberships as m')
    .innerJoin('users as u', 'u.gid', 'm.user_gid')
    .innerJoin('organizations as o', 'o.gid', 'm.organization_gid')
    .leftJoin('user_task_lists as utl', (j) => j.onRef('utl.user_gid', '=', 'm.user_gid').onRef('utl.organization_gid', '=', 'm.organization_gid'))
    .select(['m.gid', 'm.role', 'm.created_at', 'm.removed_at', 'u.gid as user_gid', 'u.name as user_name', 'o.gid as org_gid', 'o.name as org_name', 'utl.gid as utl_gid'])
    .where('m.removed_at', 'is', null)
    .where('o.deleted_at', 'is', null);
}

type MembershipRow = { gid: string; role: Role; created_at: Date; removed_at: Date | null; user_gid: string; user_name: string; org_gid: string; org_name: string; utl_gid: string | null };

function membershipView(m: MembershipRow, full: boolean): Record<string, unknown> {
  const user = userCompact({ gid: m.user_gid, name: m.user_name });
  const workspace = workspaceCompact({ gid: m.org_gid, name: m.org_name });
  const compact = { gid: m.gid, resource_type: 'workspace_membership', user, workspace };
  if (!full) return compact;
  return {
    ...compact,
    user_task_list: m.utl_gid ? { gid: m.utl_gid, resource_type: 'user_task_list', name: 'My Tasks', owner: user, workspace } : null,
    is_active: m.removed_at === null,
    is_admin: ADMIN_ROLES.includes(m.role),
    is_guest: m.role === 'guest',
    is_view_only: false,
    vacation_dates: null,
    created_at: iso(m.created_at),
  };
}

const membershipKeys = { keys: [{ column: 'created_at' }, { column: 'gid' }] };

/** Memberships of a workspace whose users the caller may see (optionally of one user). */
export async function listWorkspaceMemberships(db: Db, principal: Principal, workspaceGid: string, filter: { user?: UserRef | undefined }, page: PageRequest, full: boolean): Promise<Listed> {
  const viewer = await viewerIn(db, principal, workspaceGid);
  let query = membershipQuery(db).where('m.organization_gid', '=', workspaceGid).where(userVisible(viewer, 'u'));
  if (filter.user) query = query.where(userRefMatches(viewer.userGid, filter.user));
  const result = await keysetPage(db, query, { ...membershipKeys, limit: page.limit, after: page.offset });
  return { data: result.rows.map((m) => membershipView(m, full)), next: result.next };
}

export async function getWorkspaceMembership(db: Db, principal: Principal, membershipGid: string) {
  const found = await db.selectFrom('organization_memberships').select('organization_gid').where('gid', '=', membershipGid).executeTakeFirst();
  if (!found) throw new NotFoundError('Workspace membership not found');
  const viewer = await viewerIn(db, principal, found.organization_gid);
  const row = await membershipQuery(db).where('m.gid', '=', membershipGid).where(userVisible(viewer, 'u')).executeTakeFirst();
  if (!row) throw new NotFoundError('Workspace membership not found');
  return membershipView(row, true);
}

/** A user's memberships in the workspaces the caller shares with them and may see them in. */
export async function listUserWorkspaceMemberships(db: Db, principal: Principal, ref: UserRef, page: PageRequest, full: boolean): Promise<Listed> {
  if (principal.kind !== 'user') throw new NotFoundError();
  const viewers = await callerViewers(db, principal);
  const target = await db.selectFrom('users as u').select('u.gid').where(userRefMatches(principal.user.gid, ref)).where('u.deleted_at', 'is', null).where(userVisibleToAny(viewers, 'u')).executeTakeFirst();
  if (!target) throw new NotFoundError('User not found');
  const query = membershipQuery(db).where('m.user_gid', '=', target.gid).where(userVisibleToAny(viewers, 'u', 'm.organization_gid'));
  const result = await keysetPage(db, query, { ...membershipKeys, limit: page.limit, after: page.offset });
  return { data: result.rows.map((m) => membershipView(m, full)), next: result.next };
}

// --- Adding and removing people --------------------------------------------------------

export type AddedToWorkspace =
  | { kind: 'user'; user: Record<string, unknown> }
  | { kind: 'invitation'; invitation: { gid: string; resource_type: 'invitation'; email: string; role: string; expires_at: string; workspace: ReturnType<typeof workspaceCompact> } };

/**
 * POST /workspaces/{gid}/addUser (admins). A member answers with the user; a person
 * removed earlier is reinstated as a member; an email of someone not in the workspace
 * gets an emailed invitation (the answer is the pending invitation, the same whether or
 * not the email has an account elsewhere). A gid of someone who was never in the
 * workspace is refused: people join through invitations.
 */
export async function addUserToWorkspace(deps: AppDeps, principal: Principal, workspaceGid: string, ref: UserRef, ctx: LoginContext): Promise<AddedToWorkspace> {
  const db = deps.database.db;
  if (principal.kind !== 'user') throw new NotFoundError();
  const now = deps.clock.now();
  const outcome = await db.transaction().execute(async (trx) => {
    const viewer = await viewerIn(trx, principal, workspaceGid);
    if (!isOrgAdmin(viewer)) throw new ForbiddenError('Only admins of this workspace can add people');
    const user = await trx.selectFrom('users as u').select(['u.gid', 'u.name', 'u.email']).where(userRefMatches(viewer.userGid, ref)).where('u.deleted_at', 'is', null).executeTakeFirst();
    const membership = user ? await trx.selectFrom('organization_memberships').select(['gid', 'removed_at']).where('organization_gid', '=', workspaceGid).where('user_gid', '=', user.gid).executeTakeFirst() : undefined;
    if (user && membership) {
      if (membership.removed_at) {
        await trx.updateTable('organization_memberships').set({ removed_at: null, role: 'member', modified_at: movedTo(now) }).where('gid', '=', membership.gid).execute();
        await recordAudit(trx, deps, { organizationGid: workspaceGid, type: 'user_added_to_workspace', category: 'user_access', actor: { type: 'user', gid: viewer.userGid }, resource: { type: 'user', gid: user.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { role: 'member', reinstated: true } });
      }
      return { kind: 'member' as const, user, viewer };
    }
    if (!isEmailRef(ref)) throw new BadRequestError('No such user in this workspace', [{ message: 'data.user: no such user in this workspace; add people who are not in it yet by email' }]);
    return { kind: 'invite' as const };
  });
  if (outcome.kind === 'member') return { kind: 'user', user: (await userViews(db, await callerViewers(db, principal), [outcome.user]))[0]! };
  try {
    const sent = await invite(deps, { organizationGid: workspaceGid, email: ref, role: 'member', inviter: principal.user }, ctx);
    const org = await db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', workspaceGid).executeTakeFirstOrThrow();
    return { kind: 'invitation', invitation: { gid: sent.gid, resource_type: 'invitation', email: sent.email, role: sent.role, expires_at: sent.expires_at.toISOString(), workspace: workspaceCompact(org) } };
  } catch (error) {
    // Someone joined between the check and the invitation: answer as for a member.
    if (error instanceof ConflictError) return addUserToWorkspace(deps, principal, workspaceGid, ref, ctx);
    throw error;
  }
}

/**
 * POST /workspaces/{gid}/removeUser (admins). Ends the membership (removed_at) and
 * removes the person's team and project memberships in that organization; their
 * sessions stay (they may belong to other organizations), but nothing in this one
 * answers them any more. Admins cannot remove super admins, and the last super admin
 * cannot be removed. Recorded in the audit log.
 */
export async function removeUserFromWorkspace(deps: AppDeps, principal: Principal, workspaceGid: string, ref: UserRef, ctx: Pick<LoginContext, 'ip' | 'userAgent'>): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerIn(db, principal, workspaceGid);
    if (!isOrgAdmin(viewer)) throw new ForbiddenError('Only admins of this workspace can remove people');
    const target = await requireVisibleUser(db, viewer, ref);
    const membership = await db.selectFrom('organization_memberships').select(['gid', 'role']).where('organization_gid', '=', workspaceGid).where('user_gid', '=', target.gid).where('removed_at', 'is', null).executeTakeFirstOrThrow();
    if (!canRemoveFromOrganization(viewer, membership.role)) throw new ForbiddenError('Only super admins can remove a super admin');
    if (membership.role === 'super_admin') {
      const others = await db.selectFrom('organization_memberships').select('gid').where('organization_gid', '=', workspaceGid).where('role', '=', 'super_admin').where('removed_at', 'is', null).where('user_gid', '<>', target.gid).executeTakeFirst();
      if (!others) throw new ConflictError('The last super admin of a workspace cannot be removed');
    }
    await db.updateTable('organization_memberships').set({ removed_at: now, modified_at: movedTo(now) }).where('gid', '=', membership.gid).execute();
    const teams = await db
      .deleteFrom('team_memberships')
      .where('user_gid', '=', target.gid)
      .where('team_gid', 'in', (eb) => eb.selectFrom('teams').select('gid').where('organization_gid', '=', workspaceGid))
      .returning(['gid', 'team_gid'])
      .execute();
    const projects = await db
      .deleteFrom('project_memberships')
      .where('user_gid', '=', target.gid)
      .where('project_gid', 'in', (eb) => eb.selectFrom('projects').select('gid').where('organization_gid', '=', workspaceGid))
      .returning(['gid', 'project_gid'])
      .execute();
    // Tombstones for the memberships, and their teams and projects move (their members changed).
    await recordDeletions(db, [
      ...teams.map((m) => ({ organizationGid: workspaceGid, resourceType: 'team_membership' as const, gid: m.gid, deletedAt: now })),
      ...projects.map((m) => ({ organizationGid: workspaceGid, resourceType: 'project_membership' as const, gid: m.gid, deletedAt: now })),
    ]);
    await touchRows(
      db,
      'teams',
      teams.map((m) => m.team_gid),
      now,
    );
    await touchRows(
      db,
      'projects',
      projects.map((m) => m.project_gid),
      now,
    );
    await recordAudit(db, deps, {
      organizationGid: workspaceGid,
      type: 'user_removed_from_workspace',
      category: 'user_access',
      actor: { type: 'user', gid: viewer.userGid },
      resource: { type: 'user', gid: target.gid },
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      details: { role: membership.role, team_memberships_removed: teams.length, project_memberships_removed: projects.length },
    });
  });
}
