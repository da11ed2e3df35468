/**
 * The access policy: every decision about who may see or change what is made here, and
 * the SQL predicates every list, search, count and export uses come from here, so no
 * listing path can leak.
 *
 * Rules ("Members and guests"):
 * - Full members (member, admin, super_admin) see everything not marked private:
 *   public_to_workspace projects, private_to_team projects of teams they are full
 *   members of, and projects they were added to. Limited-access team members get no
 *   access from their team membership: only what they were added to.
 * - Guests see only projects and tasks they were explicitly added to, and what those
 *   contain.
 * - Private projects: only their members. Reading private projects is not an admin power.
 * - A task is visible when it, or any of its ancestors, is assigned to the viewer,
 *   followed by the viewer, or in a project the viewer can see. A task in no project
 *   and not shared is private: only its assignee and followers.
 * - Templates never reach further than what they were saved from: a project template no
 *   one the project does not (projectTemplateAudience), a task template only a task of
 *   its own project (isTaskTemplateSourceFor).
 * - Some things are one person's: a comment is edited and deleted by its author only, a
 *   saved search answers its owner only, a pending upload exists for its uploader only.
 * - Objects a caller may not see answer 404, not 403.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB, PrivacySetting, Role, TeamVisibility } from '../../db/schema.js';
import type { Principal } from '../auth/sessions.js';
import { ForbiddenError, NotFoundError, PaymentRequiredError } from '../errors.js';

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
  if (!allowed.includes(role)) throw new ForbiddenError(`Only ${allowed.map((r) => `${r.replace('_', ' ')}s`).join(' or ')} of this organization can ${action}`);
  return role;
}

/** A user acting inside one organization. */
export interface Viewer {
  userGid: string;
  organizationGid: string;
  role: Role;
}

export const isFullMember = (viewer: Viewer) => viewer.role !== 'guest';
export const isOrgAdmin = (viewer: Viewer) => viewer.role === 'admin' || viewer.role === 'super_admin';

/** The viewer for a principal in an organization; 404 when they are not a member (or not a user). */
export async function viewerIn(db: Kysely<DB>, principal: Principal, organizationGid: string): Promise<Viewer> {
  if (principal.kind !== 'user') throw new NotFoundError();
  const role = await organizationRole(db, principal.user.gid, organizationGid);
  if (!role) throw new NotFoundError();
  return { userGid: principal.user.gid, organizationGid, role };
}

const col = (alias: string, column: string) => sql.ref(`${alias}.${column}`);

/** Projects the viewer may see (alias names the projects row). Deleted projects never match. */
export function projectVisible(viewer: Viewer, alias = 'p'): RawBuilder<boolean> {
  const gid = col(alias, 'gid');
  const added = sql`exists (select 1 from project_memberships pv_pm where pv_pm.project_gid = ${gid} and pv_pm.user_gid = ${viewer.userGid})`;
  const byTeam = sql`(${col(alias, 'privacy_setting')} = 'private_to_team' and exists (select 1 from team_memberships pv_tm where pv_tm.team_gid = ${col(alias, 'team_gid')} and pv_tm.user_gid = ${viewer.userGid} and not pv_tm.is_limited_access))`;
  const grants = isFullMember(viewer) ? sql`(${added} or ${col(alias, 'privacy_setting')} = 'public_to_workspace' or ${byTeam})` : added;
  // A deleted team takes its projects with it.
  const teamAlive = sql`not exists (select 1 from teams pv_t where pv_t.gid = ${col(alias, 'team_gid')} and pv_t.deleted_at is not null)`;
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and ${teamAlive} and ${grants})`;
}

/** Tasks the viewer may see (alias names the tasks row). Deleted tasks never match. */
export function taskVisible(viewer: Viewer, alias = 't'): RawBuilder<boolean> {
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and exists (
    select 1 from task_ancestors tv_a join tasks tv_x on tv_x.gid = tv_a.ancestor_gid
    where tv_a.task_gid = ${col(alias, 'gid')} and tv_x.deleted_at is null and (
      tv_x.assignee_gid = ${viewer.userGid}
      or exists (select 1 from task_followers tv_f where tv_f.task_gid = tv_x.gid and tv_f.user_gid = ${viewer.userGid})
      or exists (select 1 from task_projects tv_tp join projects tv_p on tv_p.gid = tv_tp.project_gid where tv_tp.task_gid = tv_x.gid and ${projectVisible(viewer, 'tv_p')})
    )))`;
}

/** Teams the viewer may see: their own teams; full members also public and request-to-join teams. */
export function teamVisible(viewer: Viewer, alias = 'tm'): RawBuilder<boolean> {
  const member = sql`exists (select 1 from team_memberships tmv where tmv.team_gid = ${col(alias, 'gid')} and tmv.user_gid = ${viewer.userGid})`;
  const grants = isFullMember(viewer) ? sql`(${member} or ${col(alias, 'visibility')} in ('public', 'request_to_join'))` : member;
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and ${grants})`;
}

/** Messages: project messages follow the project; team messages are for the team's full members. */
export function messageVisible(viewer: Viewer, alias = 'msg'): RawBuilder<boolean> {
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and (
    (${col(alias, 'parent_type')} = 'project' and exists (select 1 from projects mv_p where mv_p.gid = ${col(alias, 'parent_gid')} and ${projectVisible(viewer, 'mv_p')}))
    or (${col(alias, 'parent_type')} = 'team' and exists (select 1 from team_memberships mv_tm join teams mv_t on mv_t.gid = mv_tm.team_gid where mv_tm.team_gid = ${col(alias, 'parent_gid')} and mv_tm.user_gid = ${viewer.userGid} and not mv_tm.is_limited_access and mv_t.deleted_at is null))
  ))`;
}

/**
 * Project templates: their owner; full members also public ones and those of teams they
 * are full (not limited-access) members of.
 */
export function projectTemplateVisible(viewer: Viewer, alias = 'pt'): RawBuilder<boolean> {
  const byTeam = sql`exists (select 1 from team_memberships ptv_tm join teams ptv_t on ptv_t.gid = ptv_tm.team_gid where ptv_tm.team_gid = ${col(alias, 'team_gid')} and ptv_tm.user_gid = ${viewer.userGid} and not ptv_tm.is_limited_access and ptv_t.deleted_at is null)`;
  const grants = isFullMember(viewer) ? sql`(${col(alias, 'owner_gid')} = ${viewer.userGid} or ${col(alias, 'is_public')} or ${byTeam})` : sql`${col(alias, 'owner_gid')} = ${viewer.userGid}`;
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and ${grants})`;
}

/** Task templates follow their project. */
export function taskTemplateVisible(viewer: Viewer, alias = 'tt'): RawBuilder<boolean> {
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and exists (select 1 from projects ttv_p where ttv_p.gid = ${col(alias, 'project_gid')} and ${projectVisible(viewer, 'ttv_p')}))`;
}

/** Tags: full members see the organization's tags; guests only tags on tasks they can see. */
export function tagVisible(viewer: Viewer, alias = 'tg'): RawBuilder<boolean> {
  const base = sql`${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid}`;
  if (isFullMember(viewer)) return sql<boolean>`(${base})`;
  return sql<boolean>`(${base} and exists (select 1 from task_tags gv_tt join tasks gv_t on gv_t.gid = gv_tt.task_gid where gv_tt.tag_gid = ${col(alias, 'gid')} and ${taskVisible(viewer, 'gv_t')}))`;
}

/** Custom fields: full members see the organization's; guests those used by projects they can see. */
export function customFieldVisible(viewer: Viewer, alias = 'cf'): RawBuilder<boolean> {
  const base = sql`${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid}`;
  if (isFullMember(viewer)) return sql<boolean>`(${base})`;
  return sql<boolean>`(${base} and exists (select 1 from project_custom_field_settings cv_s join projects cv_p on cv_p.gid = cv_s.project_gid where cv_s.custom_field_gid = ${col(alias, 'gid')} and ${projectVisible(viewer, 'cv_p')}))`;
}

/** Users the viewer may see in the organization: full members see every member; guests themselves and the members of projects they can see. */
export function userVisible(viewer: Viewer, alias = 'u'): RawBuilder<boolean> {
  const member = sql`exists (select 1 from organization_memberships uv_m where uv_m.user_gid = ${col(alias, 'gid')} and uv_m.organization_gid = ${viewer.organizationGid} and uv_m.removed_at is null)`;
  if (isFullMember(viewer)) return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${member})`;
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${member} and (${col(alias, 'gid')} = ${viewer.userGid} or exists (
    select 1 from project_memberships uv_pm join projects uv_p on uv_p.gid = uv_pm.project_gid where uv_pm.user_gid = ${col(alias, 'gid')} and ${projectVisible(viewer, 'uv_p')})))`;
}

/**
 * Users visible to at least one of the viewers (the caller in each of their
 * organizations): userVisible of any of them. With orgColumn (a column naming an
 * organization, e.g. of a membership row), only the viewer of that organization counts.
 * No viewers: nobody.
 */
export function userVisibleToAny(viewers: readonly Viewer[], alias = 'u', orgColumn?: string): RawBuilder<boolean> {
  if (viewers.length === 0) return sql<boolean>`false`;
  const each = viewers.map((v) => (orgColumn ? sql`(${sql.ref(orgColumn)} = ${v.organizationGid} and ${userVisible(v, alias)})` : userVisible(v, alias)));
  return sql<boolean>`(${sql.join(each, sql` or `)})`;
}

/** Saved searches are their owner's alone, in the organization they were saved in (alias names the saved_searches row). */
export function savedSearchVisible(viewer: Viewer, alias = 'ss'): RawBuilder<boolean> {
  return sql<boolean>`(${col(alias, 'deleted_at')} is null and ${col(alias, 'organization_gid')} = ${viewer.organizationGid} and ${col(alias, 'owner_gid')} = ${viewer.userGid})`;
}

// --- Decisions about single objects -------------------------------------------------

async function exists(db: Kysely<DB>, query: RawBuilder<{ ok: number }>): Promise<boolean> {
  return (await query.execute(db)).rows.length > 0;
}

export async function canSeeProject(db: Kysely<DB>, viewer: Viewer, projectGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from projects p where p.gid = ${projectGid} and ${projectVisible(viewer, 'p')}`);
}

export async function canSeeTask(db: Kysely<DB>, viewer: Viewer, taskGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from tasks t where t.gid = ${taskGid} and ${taskVisible(viewer, 't')}`);
}

export async function canSeeTeam(db: Kysely<DB>, viewer: Viewer, teamGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from teams tm where tm.gid = ${teamGid} and ${teamVisible(viewer, 'tm')}`);
}

export async function canSeeTag(db: Kysely<DB>, viewer: Viewer, tagGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from tags tg where tg.gid = ${tagGid} and ${tagVisible(viewer, 'tg')}`);
}

export async function canSeeCustomField(db: Kysely<DB>, viewer: Viewer, fieldGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from custom_fields cf where cf.gid = ${fieldGid} and ${customFieldVisible(viewer, 'cf')}`);
}

/**
 * Changing a project's settings, members or structure: its owner, its admins and
 * editors, full members for projects public to the organization, and organization
 * admins for projects they can see.
 */
export async function canEditProject(db: Kysely<DB>, viewer: Viewer, projectGid: string): Promise<boolean> {
  if (!(await canSeeProject(db, viewer, projectGid))) return false;
  if (isOrgAdmin(viewer)) return true;
  return exists(
    db,
    sql<{ ok: number }>`select 1 as ok from projects p where p.gid = ${projectGid} and (
      p.owner_gid = ${viewer.userGid}
      or exists (select 1 from project_memberships pm where pm.project_gid = p.gid and pm.user_gid = ${viewer.userGid} and pm.access_level in ('admin', 'editor'))
      or (${isFullMember(viewer)} and p.privacy_setting = 'public_to_workspace'))`,
  );
}

/**
 * Changing a task: anyone who can see it, except viewers and commenters of every project
 * that grants them access (guests added only as viewers cannot edit).
 */
export async function canEditTask(db: Kysely<DB>, viewer: Viewer, taskGid: string): Promise<boolean> {
  if (!(await canSeeTask(db, viewer, taskGid))) return false;
  if (isFullMember(viewer)) return true;
  return exists(
    db,
    sql<{ ok: number }>`select 1 as ok from task_ancestors a join tasks x on x.gid = a.ancestor_gid where a.task_gid = ${taskGid} and (
      x.assignee_gid = ${viewer.userGid}
      or exists (select 1 from task_followers f where f.task_gid = x.gid and f.user_gid = ${viewer.userGid})
      or exists (select 1 from task_projects tp join project_memberships pm on pm.project_gid = tp.project_gid where tp.task_gid = x.gid and pm.user_gid = ${viewer.userGid} and pm.access_level in ('admin', 'editor')))`,
  );
}

/** Creating a project: in a team the viewer can see (guests: their own teams), or without a team for full members. */
export async function canCreateProject(db: Kysely<DB>, viewer: Viewer, teamGid: string | null): Promise<boolean> {
  return teamGid ? canSeeTeam(db, viewer, teamGid) : isFullMember(viewer);
}

/** Adding a task to a project: anyone who sees it and is a full member, or a project editor or admin. */
export async function canAddTaskToProject(db: Kysely<DB>, viewer: Viewer, projectGid: string): Promise<boolean> {
  if (!(await canSeeProject(db, viewer, projectGid))) return false;
  if (isFullMember(viewer)) return true;
  return exists(db, sql<{ ok: number }>`select 1 as ok from project_memberships pm where pm.project_gid = ${projectGid} and pm.user_gid = ${viewer.userGid} and pm.access_level in ('admin', 'editor')`);
}

/** The role of someone invited into the organization through a team: admins invite members, anyone else only guests. */
export const invitationRole = (viewer: Viewer): 'member' | 'guest' => (isOrgAdmin(viewer) ? 'member' : 'guest');

/** Team settings and membership: organization admins and the team's full members. */
export async function canManageTeam(db: Kysely<DB>, viewer: Viewer, teamGid: string): Promise<boolean> {
  if (!(await canSeeTeam(db, viewer, teamGid))) return false;
  if (isOrgAdmin(viewer)) return true;
  if (!isFullMember(viewer)) return false;
  return exists(db, sql<{ ok: number }>`select 1 as ok from team_memberships m where m.team_gid = ${teamGid} and m.user_gid = ${viewer.userGid} and not m.is_limited_access`);
}

/** A full (not limited-access) member of a team that is not deleted. */
export async function isFullTeamMember(db: Kysely<DB>, viewer: Viewer, teamGid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from team_memberships m join teams t on t.gid = m.team_gid where m.team_gid = ${teamGid} and m.user_gid = ${viewer.userGid} and not m.is_limited_access and t.deleted_at is null and t.organization_gid = ${viewer.organizationGid}`);
}

// --- Messages (read access is messageVisible) ---------------------------------------

export type MessageParentType = 'team' | 'project';

/** Seeing where conversations are posted (to list or start them): the team, or the project, itself. */
export async function canSeeMessageParent(db: Kysely<DB>, viewer: Viewer, parent: { type: MessageParentType; gid: string }): Promise<boolean> {
  return parent.type === 'team' ? canSeeTeam(db, viewer, parent.gid) : canSeeProject(db, viewer, parent.gid);
}

/** Starting a conversation: a team's full members; on a project, whoever may add tasks to it. */
export async function canPostMessage(db: Kysely<DB>, viewer: Viewer, parent: { type: MessageParentType; gid: string }): Promise<boolean> {
  return parent.type === 'team' ? isFullTeamMember(db, viewer, parent.gid) : canAddTaskToProject(db, viewer, parent.gid);
}

/** Replying: whoever may post there, and the project's commenters. */
export async function canReplyToMessage(db: Kysely<DB>, viewer: Viewer, parent: { type: MessageParentType; gid: string }): Promise<boolean> {
  if (await canPostMessage(db, viewer, parent)) return true;
  if (parent.type !== 'project' || !(await canSeeProject(db, viewer, parent.gid))) return false;
  return exists(db, sql<{ ok: number }>`select 1 as ok from project_memberships pm where pm.project_gid = ${parent.gid} and pm.user_gid = ${viewer.userGid} and pm.access_level = 'commenter'`);
}

/** Editing a visible message: its author. Deleting: its author or an organization admin. */
export function canChangeMessage(viewer: Viewer, authorGid: string | null, action: 'edit' | 'delete'): boolean {
  if (authorGid !== null && authorGid === viewer.userGid) return true;
  return action === 'delete' && isOrgAdmin(viewer);
}

// --- Templates -----------------------------------------------------------------------

export async function canSeeProjectTemplate(db: Kysely<DB>, viewer: Viewer, gid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from project_templates pt where pt.gid = ${gid} and ${projectTemplateVisible(viewer, 'pt')}`);
}

export async function canSeeTaskTemplate(db: Kysely<DB>, viewer: Viewer, gid: string): Promise<boolean> {
  return exists(db, sql<{ ok: number }>`select 1 as ok from task_templates tt where tt.gid = ${gid} and ${taskTemplateVisible(viewer, 'tt')}`);
}

/** Saving a project as a template: full members who may edit the project. */
export async function canSaveProjectAsTemplate(db: Kysely<DB>, viewer: Viewer, projectGid: string): Promise<boolean> {
  return isFullMember(viewer) && (await canEditProject(db, viewer, projectGid));
}

/** Where a project template saved from a project goes: its team (null: its owner's alone), or why it may not go where asked. */
export type ProjectTemplateAudience = { ok: true; team: string | null } | { ok: false; field: 'data.public' | 'data.team'; reason: string };

/**
 * Who a project template may reach. A template shows its project's description and
 * instantiating it copies the sections, task names and notes, so it may not reach anyone
 * the project does not:
 * - public (every full member): only from a project public to the workspace;
 * - a team (its full members): any team the saver can see for a public project; only the
 *   project's own team for a private_to_team one; none for a private project, whose
 *   template stays its owner's.
 * `wanted.team` is the team asked for (checked visible by the caller); by default the
 * project's team, where the project's privacy allows it.
 */
export function projectTemplateAudience(project: { privacy_setting: PrivacySetting; team_gid: string | null }, wanted: { public?: boolean | undefined; team?: string | undefined }): ProjectTemplateAudience {
  if (wanted.public && project.privacy_setting !== 'public_to_workspace') return { ok: false, field: 'data.public', reason: 'only a project public to the workspace can be saved as a public template' };
  switch (project.privacy_setting) {
    case 'public_to_workspace':
      return { ok: true, team: wanted.team ?? project.team_gid };
    case 'private_to_team':
      if (wanted.team && wanted.team !== project.team_gid) return { ok: false, field: 'data.team', reason: 'a project private to its team can be saved only as a template of that team' };
      return { ok: true, team: project.team_gid };
    case 'private':
      if (wanted.team) return { ok: false, field: 'data.team', reason: "a private project's template is its owner's alone; it cannot be given to a team" };
      return { ok: true, team: null };
  }
}

/**
 * A task template shows its task (name, notes, subtasks) to everyone who can see its
 * project: only a live task of that project, or a subtask of one, may become one of its
 * templates, so a task from elsewhere (a private project, a private task) cannot reach
 * that audience through it. Who may save one: whoever may edit the project and see the task.
 */
export async function isTaskTemplateSourceFor(db: Kysely<DB>, taskGid: string, projectGid: string): Promise<boolean> {
  return exists(
    db,
    sql<{ ok: number }>`select 1 as ok from task_ancestors a join tasks x on x.gid = a.ancestor_gid join task_projects tp on tp.task_gid = x.gid
      where a.task_gid = ${taskGid} and tp.project_gid = ${projectGid} and x.deleted_at is null`,
  );
}

/** Deleting a visible project template: its owner or an organization admin. */
export const canDeleteProjectTemplate = (viewer: Viewer, ownerGid: string | null) => ownerGid === viewer.userGid || isOrgAdmin(viewer);

/** Deleting a visible task template: its creator or whoever may edit its project. */
export async function canDeleteTaskTemplate(db: Kysely<DB>, viewer: Viewer, createdBy: string | null, projectGid: string): Promise<boolean> {
  return createdBy === viewer.userGid || (await canEditProject(db, viewer, projectGid));
}

// --- Organizations and teams ----------------------------------------------------------

/** Creating a team: full members of the organization (the creator becomes its admin). */
export const canCreateTeam = (viewer: Viewer) => isFullMember(viewer);

/**
 * Removing someone from the organization: its admins and super admins; a super admin
 * only by a super admin. (Keeping at least one super admin is the use case's invariant.)
 */
export const canRemoveFromOrganization = (viewer: Viewer, targetRole: Role) => isOrgAdmin(viewer) && (targetRole !== 'super_admin' || viewer.role === 'super_admin');

/**
 * Adding a person to a team the viewer can see (POST /teams/{gid}/addUser):
 * - those who manage the team (canManageTeam) add anyone, with any is_limited_access;
 * - anyone else only themselves, as a full member of the organization, to a public team;
 * - joining oneself adds a membership and never changes one: a limited-access member
 *   cannot lift their own limitation (or change it at all) by joining again.
 * Answers 'allowed', 'not_allowed' (403: may not add this person), or
 * 'access_not_allowed' (403: may join but not change their access).
 */
export async function teamAddition(
  db: Kysely<DB>,
  viewer: Viewer,
  team: { gid: string; visibility: TeamVisibility },
  targetGid: string | null,
  isLimitedAccess: boolean | undefined,
): Promise<'allowed' | 'not_allowed' | 'access_not_allowed'> {
  if (await canManageTeam(db, viewer, team.gid)) return 'allowed';
  if (!(targetGid === viewer.userGid && team.visibility === 'public' && isFullMember(viewer))) return 'not_allowed';
  if (isLimitedAccess === undefined) return 'allowed';
  const current = await db.selectFrom('team_memberships').select('is_limited_access').where('team_gid', '=', team.gid).where('user_gid', '=', viewer.userGid).executeTakeFirst();
  return current && current.is_limited_access !== isLimitedAccess ? 'access_not_allowed' : 'allowed';
}

/** Removing a person from a team: anyone may leave; removing others is for those who manage the team (canManageTeam). */
export async function canRemoveFromTeam(db: Kysely<DB>, viewer: Viewer, teamGid: string, targetGid: string | null): Promise<boolean> {
  return targetGid === viewer.userGid || canManageTeam(db, viewer, teamGid);
}

// --- Tags, custom fields, comments, attachments, saved searches -----------------------

/** Creating, changing and deleting tags: full members (guests use the tags they can see). */
export const canChangeTags = (viewer: Viewer) => isFullMember(viewer);

/** Creating and changing custom field definitions and their enum options: full members. */
export const canChangeCustomFieldDefinitions = (viewer: Viewer) => isFullMember(viewer);

/**
 * Editing a comment's text or deleting it: its author only (not organization admins).
 * Pinning is for anyone who can see the task. Also answers a story's is_editable.
 */
export const canChangeComment = (viewer: Pick<Viewer, 'userGid'>, authorGid: string | null) => authorGid !== null && authorGid === viewer.userGid;

export type AttachmentParentRef = { type: 'task' | 'project'; gid: string; organizationGid: string };

/** Attachments are seen with their parent: a task or project the viewer can see, in the viewer's organization. */
export async function canSeeAttachmentParent(db: Kysely<DB>, viewer: Viewer, parent: AttachmentParentRef): Promise<boolean> {
  if (parent.organizationGid !== viewer.organizationGid) return false;
  return parent.type === 'task' ? canSeeTask(db, viewer, parent.gid) : canSeeProject(db, viewer, parent.gid);
}

/** Adding and deleting attachments: whoever may edit the parent task or project. */
export async function canEditAttachmentParent(db: Kysely<DB>, viewer: Viewer, parent: AttachmentParentRef): Promise<boolean> {
  return parent.type === 'task' ? canEditTask(db, viewer, parent.gid) : canEditProject(db, viewer, parent.gid);
}

/** An attachment still being uploaded (pending) exists for its uploader alone. */
export const isPendingUploadOf = (viewer: Viewer, uploaderGid: string | null) => uploaderGid !== null && uploaderGid === viewer.userGid;

/** A saved search answers its owner only (others get 404); savedSearchVisible is the same rule for lists. */
export const isSavedSearchOwner = (principal: Principal, ownerGid: string) => principal.kind === 'user' && principal.user.gid === ownerGid;

// --- Exports (asynchronous) ------------------------------------------------------------

/**
 * Who may request an asynchronous export of an organization:
 * - team CSV: admins and super admins (users) of a paid organization;
 * - full organization export: admins and super admins, or a service account of that
 *   organization with the `exports` scope.
 * A full organization export holds the whole organization, private projects and secret
 * teams included (and deleted objects): taking the organization's backup is the admin
 * power, reading private projects in the API is not. Synchronous exports (project, My
 * tasks, saved search) use the caller's visibility like every other read.
 * Non-members get 404, members without the role 403, a free organization 402.
 */
export async function exportRequesterRule(db: Kysely<DB>, principal: Principal, organizationGid: string, kind: 'team_csv' | 'organization'): Promise<void> {
  if (principal.kind === 'service_account') {
    if (principal.organizationGid !== organizationGid) throw new NotFoundError('Organization not found');
    if (kind !== 'organization') throw new ForbiddenError('Service accounts can request organization exports only');
    if (!principal.scopes.includes('exports')) throw new ForbiddenError('This service account does not have the exports scope');
    return;
  }
  await assertOrganizationRole(db, principal, organizationGid, ADMIN_ROLES, kind === 'organization' ? 'export the organization' : 'export teams');
  if (kind === 'team_csv') {
    const organization = await db.selectFrom('organizations').select('plan').where('gid', '=', organizationGid).executeTakeFirstOrThrow();
    if (organization.plan !== 'paid') throw new PaymentRequiredError('Team CSV export is a paid feature: this organization is on the free plan');
  }
}

/**
 * Who may read an export job and download its file, checked on every request: the user
 * who requested it while still a member of the organization, any current admin or super
 * admin of it, the service account that requested it, and (organization exports) any
 * service account of the organization with the `exports` scope.
 */
export async function exportJobReader(
  db: Kysely<DB>,
  principal: Principal,
  job: { organization_gid: string; kind: string; requested_by_user: string | null; requested_by_service_account: string | null },
): Promise<boolean> {
  if (principal.kind === 'service_account') {
    if (principal.organizationGid !== job.organization_gid) return false;
    return job.requested_by_service_account === principal.gid || (job.kind === 'organization' && principal.scopes.includes('exports'));
  }
  const role = await organizationRole(db, principal.user.gid, job.organization_gid);
  if (!role) return false;
  return job.requested_by_user === principal.user.gid || ADMIN_ROLES.includes(role);
}
