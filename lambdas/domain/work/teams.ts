/**
 * Teams and team memberships.
 *
 * Visibility and permissions come from the access policy: teamVisible/canSeeTeam (own
 * teams; full members also public and request-to-join teams), canManageTeam (workspace
 * admins and the team's full members), userVisible for every person shown. Invisible
 * teams and deleted teams answer 404; visible teams the caller may not change, 403.
 */
import { sql } from 'kysely';
import { keysetPage } from '../../db/query.js';
import type { Role, TeamVisibility, User } from '../../db/schema.js';
import { canCreateTeam, canManageTeam, canRemoveFromTeam, canSeeTeam, teamAddition, teamVisible, userVisible, viewerIn, type Viewer, invitationRole } from '../access/policy.js';
import { invitationEmail } from '../auth/emails.js';
import type { LoginContext, Principal } from '../auth/sessions.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { recordAudit } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { enqueueMail, pokeMailWorker } from '../mail.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, recordDeletions, touchRows, viewerForObject, type Db } from './common.js';
import { teamCompact, userCompact, workspaceCompact } from './present.js';
import { callerViewers, requireVisibleUser, userRefMatches, userViews, visibleUser, type Listed, type PageRequest, type UserRef } from './workspaces.js';

export const TEAM_VISIBILITIES = ['public', 'request_to_join', 'secret'] as const satisfies readonly TeamVisibility[];

export interface TeamFields {
  name?: string | undefined;
  description?: string | undefined;
  /** Asana's rich text; stored as the plain-text description. */
  html_description?: string | undefined;
  visibility?: TeamVisibility | undefined;
}

export interface CreateTeamInput extends TeamFields {
  name: string;
  organization: string;
}

// --- Descriptions ----------------------------------------------------------------------

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** The plain-text description as Asana's html_description. */
export const htmlDescription = (text: string) => `<body>${escapeHtml(text)}</body>`;

/** The text of an html_description (tags dropped, line breaks and entities kept). */
export function textOfHtml(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&nbsp;', ' ')
    .replaceAll('&amp;', '&');
}

const descriptionOf = (input: TeamFields) => (input.html_description !== undefined ? textOfHtml(input.html_description) : input.description);

// --- Reading ---------------------------------------------------------------------------

/** The viewer for a team the caller may see; 404 for unknown, deleted and invisible teams. */
export async function viewerForTeam(db: Db, principal: Principal, teamGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(db, principal, 'teams', teamGid);
  if (!(await canSeeTeam(db, viewer, teamGid))) throw new NotFoundError('Team not found');
  return viewer;
}

/** Teams the viewer may see, with what the full representation needs (the creator only when visible). */
function teamQuery(db: Db, viewer: Viewer) {
  return db
    .selectFrom('teams as t')
    .innerJoin('organizations as o', 'o.gid', 't.organization_gid')
    .leftJoin('users as c', (j) => j.onRef('c.gid', '=', 't.created_by').on(userVisible(viewer, 'c')))
    .select(['t.gid', 't.name', 't.description', 't.visibility', 't.created_at', 'o.gid as org_gid', 'o.name as org_name', 'c.gid as creator_gid', 'c.name as creator_name'])
    .where(teamVisible(viewer, 't'));
}

type TeamRow = { gid: string; name: string; description: string; visibility: TeamVisibility; created_at: Date; org_gid: string; org_name: string; creator_gid: string | null; creator_name: string | null };

export function teamView(t: TeamRow, baseUrl: string, full = true): Record<string, unknown> {
  if (!full) return teamCompact(t);
  return {
    ...teamCompact(t),
    description: t.description,
    html_description: htmlDescription(t.description),
    organization: workspaceCompact({ gid: t.org_gid, name: t.org_name }),
    visibility: t.visibility,
    permalink_url: `${baseUrl}/api/1.0/teams/${t.gid}`,
    created_at: iso(t.created_at),
    created_by: t.creator_gid ? userCompact({ gid: t.creator_gid, name: t.creator_name ?? '' }) : null,
  };
}

export async function getTeam(db: Db, principal: Principal, teamGid: string, baseUrl: string) {
  const viewer = await viewerForTeam(db, principal, teamGid);
  const row = await teamQuery(db, viewer).where('t.gid', '=', teamGid).executeTakeFirst();
  if (!row) throw new NotFoundError('Team not found');
  return teamView(row, baseUrl);
}

const teamKeys = { keys: [{ column: 'name' }, { column: 'gid' }] };

/** GET /workspaces/{gid}/teams: the teams of a workspace the caller may see, by name. */
export async function listWorkspaceTeams(db: Db, principal: Principal, workspaceGid: string, page: PageRequest, baseUrl: string, full: boolean): Promise<Listed> {
  const viewer = await viewerIn(db, principal, workspaceGid);
  const result = await keysetPage(db, teamQuery(db, viewer), { ...teamKeys, limit: page.limit, after: page.offset });
  return { data: result.rows.map((t) => teamView(t, baseUrl, full)), next: result.next };
}

/** GET /users/{gid}/teams?organization=: the teams of a visible user that the caller may see. */
export async function listUserTeams(db: Db, principal: Principal, ref: UserRef, organizationGid: string, page: PageRequest, baseUrl: string, full: boolean): Promise<Listed> {
  const viewer = await viewerIn(db, principal, organizationGid);
  const target = await requireVisibleUser(db, viewer, ref);
  const query = teamQuery(db, viewer).where((eb) => eb.exists(eb.selectFrom('team_memberships as m').select('m.gid').whereRef('m.team_gid', '=', 't.gid').where('m.user_gid', '=', target.gid)));
  const result = await keysetPage(db, query, { ...teamKeys, limit: page.limit, after: page.offset });
  return { data: result.rows.map((t) => teamView(t, baseUrl, full)), next: result.next };
}

/** GET /teams/{gid}/users: the team's members the caller may see, by name. */
export async function listTeamUsers(db: Db, principal: Principal, teamGid: string, page: PageRequest, full: boolean): Promise<Listed> {
  const viewer = await viewerForTeam(db, principal, teamGid);
  const query = db
    .selectFrom('users as u')
    .select(['u.gid', 'u.name', 'u.email'])
    .where(userVisible(viewer, 'u'))
    .where((eb) => eb.exists(eb.selectFrom('team_memberships as m').select('m.gid').whereRef('m.user_gid', '=', 'u.gid').where('m.team_gid', '=', teamGid)));
  const result = await keysetPage(db, query, { keys: [{ column: 'name' }, { column: 'gid' }], limit: page.limit, after: page.offset });
  return { data: full ? await userViews(db, await callerViewers(db, principal), result.rows) : result.rows.map(userCompact), next: result.next };
}

// --- Team memberships ------------------------------------------------------------------

/** Memberships of teams the viewer may see, of people the viewer may see. */
function membershipQuery(db: Db, viewer: Viewer) {
  return db
    .selectFrom('team_memberships as tm')
    .innerJoin('teams as t', 't.gid', 'tm.team_gid')
    .innerJoin('users as u', 'u.gid', 'tm.user_gid')
    .leftJoin('organization_memberships as om', (j) => j.onRef('om.user_gid', '=', 'tm.user_gid').onRef('om.organization_gid', '=', 't.organization_gid').on('om.removed_at', 'is', null))
    .select(['tm.gid', 'tm.is_limited_access', 'tm.is_admin', 'tm.created_at', 'u.gid as user_gid', 'u.name as user_name', 't.gid as team_gid', 't.name as team_name', 'om.role'])
    .where(teamVisible(viewer, 't'))
    .where(userVisible(viewer, 'u'));
}

type MembershipRow = { gid: string; is_limited_access: boolean; is_admin: boolean; user_gid: string; user_name: string; team_gid: string; team_name: string; role: Role | null };

/** Asana's team_membership (compact and full are the same fields). */
export function teamMembershipView(m: MembershipRow): Record<string, unknown> {
  return {
    gid: m.gid,
    resource_type: 'team_membership',
    user: userCompact({ gid: m.user_gid, name: m.user_name }),
    team: teamCompact({ gid: m.team_gid, name: m.team_name }),
    is_guest: m.role === 'guest',
    is_limited_access: m.is_limited_access,
    is_admin: m.is_admin,
  };
}

const membershipKeys = { keys: [{ column: 'created_at' }, { column: 'gid' }] };

export interface MembershipFilter {
  team?: string | undefined;
  user?: UserRef | undefined;
  workspace?: string | undefined;
}

/** GET /team_memberships (team, or user with workspace), /teams/{gid}/team_memberships and /users/{gid}/team_memberships. */
export async function listTeamMemberships(db: Db, principal: Principal, filter: MembershipFilter, page: PageRequest): Promise<Listed> {
  let query;
  if (filter.team) {
    const viewer = await viewerForTeam(db, principal, filter.team);
    if (filter.workspace && filter.workspace !== viewer.organizationGid) throw new BadRequestError('The team is not in that workspace', [{ message: 'query.workspace: the team is not in this workspace' }]);
    query = membershipQuery(db, viewer).where('tm.team_gid', '=', filter.team);
    if (filter.user) query = query.where(userRefMatches(viewer.userGid, filter.user));
  } else if (filter.user && filter.workspace) {
    const viewer = await viewerIn(db, principal, filter.workspace);
    const target = await requireVisibleUser(db, viewer, filter.user);
    query = membershipQuery(db, viewer).where('tm.user_gid', '=', target.gid);
  } else {
    const missing = filter.user ? 'query.workspace: required with user' : 'query.team: give team, or user together with workspace';
    throw new BadRequestError('Give a team, or a user together with a workspace', [{ message: missing }]);
  }
  const result = await keysetPage(db, query, { ...membershipKeys, limit: page.limit, after: page.offset });
  return { data: result.rows.map(teamMembershipView), next: result.next };
}

export async function getTeamMembership(db: Db, principal: Principal, membershipGid: string) {
  const found = await db.selectFrom('team_memberships as tm').innerJoin('teams as t', 't.gid', 'tm.team_gid').select('t.organization_gid').where('tm.gid', '=', membershipGid).executeTakeFirst();
  if (!found) throw new NotFoundError('Team membership not found');
  const viewer = await viewerIn(db, principal, found.organization_gid);
  const row = await membershipQuery(db, viewer).where('tm.gid', '=', membershipGid).executeTakeFirst();
  if (!row) throw new NotFoundError('Team membership not found');
  return teamMembershipView(row);
}

async function membershipOf(db: Db, viewer: Viewer, teamGid: string, userGid: string) {
  const row = await membershipQuery(db, viewer).where('tm.team_gid', '=', teamGid).where('tm.user_gid', '=', userGid).executeTakeFirstOrThrow();
  return teamMembershipView(row);
}

// --- Writing ---------------------------------------------------------------------------

/** POST /teams: full members of the organization create teams; the creator becomes a member (and team admin). */
export async function createTeam(deps: AppDeps, principal: Principal, input: CreateTeamInput): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerIn(db, principal, input.organization);
    if (!canCreateTeam(viewer)) throw new ForbiddenError('Guests cannot create teams');
    await db
      .insertInto('teams')
      .values({ gid, organization_gid: viewer.organizationGid, name: input.name, description: descriptionOf(input) ?? '', visibility: input.visibility ?? 'request_to_join', created_by: viewer.userGid, created_at: now, modified_at: now })
      .execute();
    await db.insertInto('team_memberships').values({ gid: deps.ids.gid(), team_gid: gid, user_gid: viewer.userGid, is_limited_access: false, is_admin: true, created_at: now, modified_at: now }).execute();
  });
  return gid;
}

async function assertCanManage(db: Db, viewer: Viewer, teamGid: string, action: string) {
  if (!(await canManageTeam(db, viewer, teamGid))) throw new ForbiddenError(`Only the team's members and workspace admins can ${action}`);
}

/** PUT /teams/{gid}: name, description and visibility (team members and workspace admins). */
export async function updateTeam(deps: AppDeps, principal: Principal, teamGid: string, input: TeamFields & { organization?: string | undefined }, ctx: Pick<LoginContext, 'ip' | 'userAgent'>): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerForTeam(db, principal, teamGid);
    await assertCanManage(db, viewer, teamGid, 'change this team');
    if (input.organization !== undefined && input.organization !== viewer.organizationGid) throw new BadRequestError('A team cannot move to another workspace', [{ message: 'data.organization: a team cannot move to another workspace' }]);
    const before = await db.selectFrom('teams').select(['visibility']).where('gid', '=', teamGid).executeTakeFirstOrThrow();
    const set: Record<string, unknown> = { modified_at: sql`greatest(modified_at, ${now})` };
    if (input.name !== undefined) set.name = input.name;
    const description = descriptionOf(input);
    if (description !== undefined) set.description = description;
    if (input.visibility !== undefined) set.visibility = input.visibility;
    await db.updateTable('teams').set(set).where('gid', '=', teamGid).execute();
    if (input.visibility !== undefined && input.visibility !== before.visibility) {
      await recordAudit(db, deps, { organizationGid: viewer.organizationGid, type: 'team_privacy_settings_changed', category: 'access_control', actor: { type: 'user', gid: viewer.userGid }, resource: { type: 'team', gid: teamGid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { old_value: before.visibility, new_value: input.visibility } });
    }
  });
}

/** DELETE /teams/{gid}: soft delete (workspace admins and the team's full members); the team vanishes from the API. */
export async function deleteTeam(deps: AppDeps, principal: Principal, teamGid: string, ctx: Pick<LoginContext, 'ip' | 'userAgent'>): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerForTeam(db, principal, teamGid);
    await assertCanManage(db, viewer, teamGid, 'delete this team');
    await db.updateTable('teams').set({ deleted_at: now, modified_at: sql`greatest(modified_at, ${now})` }).where('gid', '=', teamGid).where('deleted_at', 'is', null).execute();
    await recordAudit(db, deps, { organizationGid: viewer.organizationGid, type: 'team_deleted', category: 'access_control', actor: { type: 'user', gid: viewer.userGid }, resource: { type: 'team', gid: teamGid }, ip: ctx.ip, userAgent: ctx.userAgent });
  });
}

export interface TeamInvitation {
  gid: string;
  resource_type: 'invitation';
  email: string;
  role: 'member' | 'guest';
  team: ReturnType<typeof teamCompact>;
  workspace: ReturnType<typeof workspaceCompact>;
  expires_at: string;
}

/**
 * Invites an email that is not in the organization yet: a single-use invitation token
 * carrying the team (one_time_tokens.team_gid), an audit record and the invitation
 * email through the outbox, all in the caller's transaction. Accepting it joins the
 * organization and the team (acceptInvitation).
 */
export async function inviteToTeam(
  db: Db,
  deps: AppDeps,
  input: { viewer: Viewer; inviter: Pick<User, 'gid' | 'name'>; team: { gid: string; name: string }; email: string },
  ctx: LoginContext,
): Promise<{ invitation: TeamInvitation; outboxGid: string | null }> {
  const now = deps.clock.now();
  const token = newToken();
  const expiresAt = new Date(now.getTime() + deps.config.auth.invitationSeconds * 1000);
  const gid = deps.ids.gid();
  const email = input.email.trim();
  const role = invitationRole(input.viewer);
  const org = await db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', input.viewer.organizationGid).executeTakeFirstOrThrow();
  await db
    .insertInto('one_time_tokens')
    .values({ token_hash: hashToken(token), purpose: 'invitation', organization_gid: org.gid, email, role, team_gid: input.team.gid, created_by: input.inviter.gid, created_at: now, expires_at: expiresAt })
    .execute();
  await recordAudit(db, deps, { organizationGid: org.gid, type: 'user_invited', category: 'user_access', actor: { type: 'user', gid: input.inviter.gid }, resource: { type: 'team', gid: input.team.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { email, role, invitation_gid: gid, team_gid: input.team.gid } });
  const mail = invitationEmail({ to: email, organizationName: org.name, inviterName: input.inviter.name, role, acceptUrl: `${ctx.baseUrl}/api/1.0/auth/invitations/accept?token=${token}` });
  const outboxGid = await enqueueMail(db, deps, { ...mail, text: `${mail.text}\n\nAccepting also adds you to the team "${input.team.name}".` });
  return {
    invitation: { gid, resource_type: 'invitation', email, role, team: teamCompact(input.team), workspace: workspaceCompact(org), expires_at: expiresAt.toISOString() },
    outboxGid,
  };
}

export type AddedToTeam = { kind: 'membership'; membership: Record<string, unknown> } | { kind: 'invitation'; invitation: TeamInvitation };

/**
 * POST /teams/{gid}/addUser. Who may add whom is the policy's teamAddition (workspace
 * admins and the team's full members add people; full members may also join public
 * teams themselves, without changing an existing membership). A person already in the
 * team keeps their membership (is_limited_access is updated when given). An email that
 * is not in the organization gets an emailed invitation that also joins the team.
 */
export async function addUserToTeam(deps: AppDeps, principal: Principal, teamGid: string, input: { user: UserRef; is_limited_access?: boolean | undefined }, ctx: LoginContext): Promise<AddedToTeam> {
  if (principal.kind !== 'user') throw new NotFoundError();
  const now = deps.clock.now();
  const outcome = await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerForTeam(db, principal, teamGid);
    const team = await db.selectFrom('teams').select(['gid', 'name', 'visibility']).where('gid', '=', teamGid).executeTakeFirstOrThrow();
    const target = await visibleUser(db, viewer, input.user);
    const decision = await teamAddition(db, viewer, team, target?.gid ?? null, input.is_limited_access);
    if (decision === 'not_allowed') {
      throw new ForbiddenError(team.visibility === 'public' ? "Only the team's members and workspace admins can add other people" : "Only the team's members and workspace admins can add people to this team");
    }
    if (decision === 'access_not_allowed') throw new ForbiddenError("Only the team's full members and workspace admins can change a member's access");
    if (!target) {
      if (!input.user.includes('@')) throw new BadRequestError('No such user in this workspace', [{ message: 'data.user: no such user in this workspace; invite people who are not in it yet by email' }]);
      if (input.is_limited_access) throw new BadRequestError('Limited access cannot be given to someone not in the workspace yet', [{ message: 'data.is_limited_access: add people with limited access once they have joined the workspace' }]);
      const sent = await inviteToTeam(db, deps, { viewer, inviter: principal.user, team, email: input.user }, ctx);
      return { kind: 'invitation' as const, ...sent };
    }
    const values = { gid: deps.ids.gid(), team_gid: teamGid, user_gid: target.gid, is_limited_access: input.is_limited_access ?? false, is_admin: false, created_at: now, modified_at: now };
    const limited = input.is_limited_access;
    // A row comes back when the membership was created or its access changed (not when it stays as it was).
    const changed = await db
      .insertInto('team_memberships')
      .values(values)
      .onConflict((oc) =>
        limited === undefined
          ? oc.columns(['team_gid', 'user_gid']).doNothing()
          : oc
              .columns(['team_gid', 'user_gid'])
              .doUpdateSet({ is_limited_access: limited, modified_at: sql`greatest(team_memberships.modified_at, ${now})` })
              .where('team_memberships.is_limited_access', '<>', limited),
      )
      .returning('gid')
      .execute();
    // The team's members changed: the team moves too.
    if (changed.length) await touchRows(db, 'teams', teamGid, now);
    return { kind: 'membership' as const, membership: await membershipOf(db, viewer, teamGid, target.gid) };
  });
  if (outcome.kind === 'invitation') {
    await pokeMailWorker(deps, [outcome.outboxGid]);
    return { kind: 'invitation', invitation: outcome.invitation };
  }
  return outcome;
}

/** POST /teams/{gid}/removeUser: workspace admins and the team's full members remove people; anyone may leave (canRemoveFromTeam). */
export async function removeUserFromTeam(deps: AppDeps, principal: Principal, teamGid: string, ref: UserRef): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const viewer = await viewerForTeam(db, principal, teamGid);
    const target = await visibleUser(db, viewer, ref);
    if (!(await canRemoveFromTeam(db, viewer, teamGid, target?.gid ?? null))) throw new ForbiddenError("Only the team's members and workspace admins can remove people from this team");
    if (!target) throw new BadRequestError('No such user in this workspace', [{ message: 'data.user: no such user in this workspace' }]);
    const removed = await db.deleteFrom('team_memberships').where('team_gid', '=', teamGid).where('user_gid', '=', target.gid).returning('gid').execute();
    await recordDeletions(
      db,
      removed.map((m) => ({ organizationGid: viewer.organizationGid, resourceType: 'team_membership' as const, gid: m.gid, deletedAt: now })),
    );
    if (removed.length) await touchRows(db, 'teams', teamGid, now);
  });
}
