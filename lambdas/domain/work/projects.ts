/**
 * Project use cases: projects, their members and followers, project memberships and
 * status updates (one table read and written by both of Asana's status APIs).
 * Every visibility and edit decision comes from the access policy; writes keep
 * modified_at. Invisible projects (and everything in them) answer 404; visible ones the
 * caller may not change answer 403.
 */
import { sql } from 'kysely';
import { dateOnly, dateValue, keysetPage, type KeysetPage } from '../../db/query.js';
import type { PrivacySetting } from '../../db/schema.js';
import { users } from '../../db/repositories/users.js';
import { canCreateProject, canEditProject, canSeeProject, canSeeTeam, isFullMember, organizationRole, projectVisible, teamVisible, viewerIn, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, recordDeletions, touchRows, viewerForObject, type Db } from './common.js';
import { projectCompact, teamCompact, userCompact, workspaceCompact } from './present.js';
import { addProject, duplicateTask } from './tasks.js';

export type ProjectColor = string | null;
export type DefaultView = 'list' | 'board' | 'calendar' | 'timeline';
export type StatusType = 'on_track' | 'at_risk' | 'off_track' | 'on_hold' | 'complete';
export type StatusColor = 'green' | 'yellow' | 'red' | 'blue' | 'complete';

export interface Page {
  limit: number;
  offset: string | null;
}

/** Writable project fields (Asana's ProjectRequest / ProjectUpdateRequest). */
export interface ProjectFields {
  name?: string;
  notes?: string;
  color?: ProjectColor;
  default_view?: DefaultView;
  due_on?: string | null;
  start_on?: string | null;
  privacy_setting?: PrivacySetting;
  /** Legacy: true = public_to_workspace. */
  public?: boolean;
  archived?: boolean;
  completed?: boolean;
  owner?: string | null;
  team?: string;
}

export interface CreateProjectInput extends ProjectFields {
  workspace?: string;
  /** User identifiers: "me", an email or a user gid. */
  members?: string[];
  followers?: string[];
}

const bad = (field: string, why: string) => new BadRequestError(`${field}: ${why}`, [{ message: `${field}: ${why}` }]);

// --- Access -----------------------------------------------------------------------

/** The viewer for a project the caller can see; 404 otherwise (unknown, other organization, deleted, not visible). */
export async function projectViewer(db: Db, principal: Principal, projectGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(db, principal, 'projects', projectGid);
  await assertProjectVisible(db, viewer, projectGid);
  return viewer;
}

export async function assertProjectVisible(db: Db, viewer: Viewer, projectGid: string): Promise<void> {
  if (!(await canSeeProject(db, viewer, projectGid))) throw new NotFoundError('Project not found');
}

export async function assertProjectEditable(db: Db, viewer: Viewer, projectGid: string): Promise<void> {
  await assertProjectVisible(db, viewer, projectGid);
  if (!(await canEditProject(db, viewer, projectGid))) throw new ForbiddenError('You can see this project but not change it');
}

/** A team the viewer can see (404 otherwise, also for teams of other organizations). */
async function assertTeamVisible(db: Db, viewer: Viewer, teamGid: string): Promise<void> {
  if (!(await canSeeTeam(db, viewer, teamGid))) throw new NotFoundError('Team not found');
}

/** Creating a project (the rule is the policy's canCreateProject): 404 for an invisible team, 403 for a guest without a team. */
async function assertCanCreateProject(db: Db, viewer: Viewer, teamGid: string | null): Promise<void> {
  if (await canCreateProject(db, viewer, teamGid)) return;
  if (teamGid) throw new NotFoundError('Team not found');
  throw new ForbiddenError('Guests can create projects only in teams they belong to');
}

/** The viewer for a new project: from its team or its workspace (both must agree). */
export async function viewerForNewProject(db: Db, principal: Principal, input: { team?: string; workspace?: string }): Promise<Viewer> {
  if (input.team) {
    const viewer = await viewerForObject(db, principal, 'teams', input.team);
    if (input.workspace && input.workspace !== viewer.organizationGid) throw bad('data.team', 'the team is not in that workspace');
    return viewer;
  }
  if (input.workspace) return viewerIn(db, principal, input.workspace);
  throw bad('data.workspace', 'Missing input: give a workspace or a team');
}

// --- Users named in requests ------------------------------------------------------

/** Resolves "me", an email or a user gid to a member of the viewer's organization (400 otherwise). */
export async function resolveUser(db: Db, viewer: Viewer, identifier: string, field: string): Promise<string> {
  let gid = identifier.trim();
  if (gid === 'me') return viewer.userGid;
  if (gid.includes('@')) {
    const user = await users.findByEmail(db, gid);
    if (!user) throw bad(field, `${identifier} is not a member of this workspace`);
    gid = user.gid;
  } else if (!/^\d{1,19}$/.test(gid)) throw bad(field, `${identifier} is not "me", an email or a user gid`);
  if (!(await organizationRole(db, gid, viewer.organizationGid))) throw bad(field, `${identifier} is not a member of this workspace`);
  return gid;
}

export async function resolveUsers(db: Db, viewer: Viewer, identifiers: string[], field: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of identifiers) {
    const gid = await resolveUser(db, viewer, id, field);
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}

/** "a,b" or ["a","b"] as a list of identifiers. */
export function userList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : value.split(',');
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

// --- Writes -----------------------------------------------------------------------

function privacyOf(input: ProjectFields, teamGid: string | null, current: PrivacySetting | null): PrivacySetting | undefined {
  if (input.privacy_setting !== undefined) return input.privacy_setting;
  if (input.public !== undefined) return input.public ? 'public_to_workspace' : teamGid ? 'private_to_team' : 'private';
  return current === null ? 'public_to_workspace' : undefined;
}

function checkDates(due: string | null, start: string | null) {
  if (due && start && start > due) throw bad('data.start_on', 'must not be after due_on');
}

async function addMember(db: Db, deps: AppDeps, projectGid: string, userGid: string, accessLevel: 'admin' | 'editor', now: Date) {
  await db.insertInto('project_memberships').values({ gid: deps.ids.gid(), project_gid: projectGid, user_gid: userGid, access_level: accessLevel, created_at: now }).onConflict((oc) => oc.columns(['project_gid', 'user_gid']).doNothing()).execute();
}

async function addFollower(db: Db, projectGid: string, userGid: string, now: Date) {
  await db.insertInto('project_followers').values({ project_gid: projectGid, user_gid: userGid, created_at: now }).onConflict((oc) => oc.columns(['project_gid', 'user_gid']).doNothing()).execute();
}

/** Members, followers, custom field settings and statuses are part of the project: changing them moves its modified_at. */
async function touch(db: Db, projectGid: string, now: Date) {
  await touchRows(db, 'projects', projectGid, now);
}

/** Creates a project; the creator becomes a member (admin) and, unless another is named, its owner. */
export async function createProject(deps: AppDeps, viewer: Viewer, input: CreateProjectInput): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    const teamGid = input.team ?? null;
    await assertCanCreateProject(db, viewer, teamGid);
    const privacy = privacyOf(input, teamGid, null)!;
    if (privacy === 'private_to_team' && !teamGid) throw bad('data.privacy_setting', 'private_to_team needs a team');
    const owner = input.owner === undefined ? viewer.userGid : input.owner === null ? null : await resolveUser(db, viewer, input.owner, 'data.owner');
    const members = await resolveUsers(db, viewer, input.members ?? [], 'data.members');
    const followers = await resolveUsers(db, viewer, input.followers ?? [], 'data.followers');
    checkDates(input.due_on ?? null, input.start_on ?? null);
    await db
      .insertInto('projects')
      .values({
        gid,
        organization_gid: viewer.organizationGid,
        team_gid: teamGid,
        name: input.name ?? '',
        notes: input.notes ?? '',
        color: input.color ?? null,
        owner_gid: owner,
        due_on: input.due_on ? dateValue(input.due_on) : null,
        start_on: input.start_on ? dateValue(input.start_on) : null,
        privacy_setting: privacy,
        archived: input.archived ?? false,
        completed: input.completed ?? false,
        completed_at: input.completed ? now : null,
        default_view: input.default_view ?? 'list',
        created_by: viewer.userGid,
        created_at: now,
        modified_at: now,
      })
      .execute();
    await addMember(db, deps, gid, viewer.userGid, 'admin', now);
    if (owner) await addMember(db, deps, gid, owner, 'admin', now);
    // Followers are a subset of members, as in Asana.
    for (const m of [...members, ...followers]) await addMember(db, deps, gid, m, 'editor', now);
    for (const f of followers) await addFollower(db, gid, f, now);
  });
  return gid;
}

export async function updateProject(deps: AppDeps, viewer: Viewer, gid: string, input: ProjectFields): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, gid);
    const current = await db.selectFrom('projects').select(['team_gid', 'privacy_setting', 'due_on', 'start_on']).where('gid', '=', gid).executeTakeFirstOrThrow();
    const set: Record<string, unknown> = { modified_at: sql`greatest(modified_at, ${now})` };
    let teamGid = current.team_gid;
    if (input.team !== undefined && input.team !== current.team_gid) {
      await assertTeamVisible(db, viewer, input.team);
      teamGid = input.team;
      set.team_gid = input.team;
    }
    const privacy = privacyOf(input, teamGid, current.privacy_setting) ?? current.privacy_setting;
    if (privacy === 'private_to_team' && !teamGid) throw bad('data.privacy_setting', 'private_to_team needs a team');
    if (privacy !== current.privacy_setting) set.privacy_setting = privacy;
    const due = input.due_on !== undefined ? input.due_on : dateOnly(current.due_on as string | Date | null);
    const start = input.start_on !== undefined ? input.start_on : dateOnly(current.start_on as string | Date | null);
    checkDates(due, start);
    if (input.name !== undefined) set.name = input.name;
    if (input.notes !== undefined) set.notes = input.notes;
    if (input.color !== undefined) set.color = input.color;
    if (input.default_view !== undefined) set.default_view = input.default_view;
    if (input.archived !== undefined) set.archived = input.archived;
    if (input.due_on !== undefined) set.due_on = input.due_on ? dateValue(input.due_on) : null;
    if (input.start_on !== undefined) set.start_on = input.start_on ? dateValue(input.start_on) : null;
    if (input.completed !== undefined) {
      set.completed = input.completed;
      set.completed_at = input.completed ? sql`coalesce(completed_at, ${now})` : null;
    }
    if (input.owner !== undefined) {
      const owner = input.owner === null ? null : await resolveUser(db, viewer, input.owner, 'data.owner');
      set.owner_gid = owner;
      if (owner) await addMember(db, deps, gid, owner, 'admin', now);
    }
    await db.updateTable('projects').set(set).where('gid', '=', gid).execute();
  });
}

/** Soft delete: the project vanishes from the API (kept for organization exports). */
export async function deleteProject(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, gid);
    await db.updateTable('projects').set({ deleted_at: now, modified_at: sql`greatest(modified_at, ${now})` }).where('gid', '=', gid).where('deleted_at', 'is', null).execute();
  });
}

/**
 * Adds or removes members or followers. Changing them needs edit rights on the project,
 * except that anyone who sees it may remove themselves. Followers are a subset of
 * members: adding a follower adds a member, removing a member removes the follower.
 */
export async function changePeople(deps: AppDeps, viewer: Viewer, gid: string, input: { kind: 'members' | 'followers'; add: boolean; users: string[] }): Promise<void> {
  const now = deps.clock.now();
  const field = `data.${input.kind}`;
  if (input.users.length === 0) throw bad(field, 'Missing input: name at least one user');
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectVisible(db, viewer, gid);
    const mayEdit = await canEditProject(db, viewer, gid);
    if (input.add && !mayEdit) throw new ForbiddenError(`You can see this project but not change its ${input.kind}`);
    const people = await resolveUsers(db, viewer, input.users, field);
    const onlySelf = !input.add && people.every((p) => p === viewer.userGid);
    if (!onlySelf && !mayEdit) throw new ForbiddenError(`You can see this project but not change its ${input.kind}`);
    for (const p of people) {
      if (input.add) {
        await addMember(db, deps, gid, p, 'editor', now);
        if (input.kind === 'followers') await addFollower(db, gid, p, now);
      } else {
        await db.deleteFrom('project_followers').where('project_gid', '=', gid).where('user_gid', '=', p).execute();
        if (input.kind === 'members') {
          const removed = await db.deleteFrom('project_memberships').where('project_gid', '=', gid).where('user_gid', '=', p).returning('gid').execute();
          await recordDeletions(
            db,
            removed.map((m) => ({ organizationGid: viewer.organizationGid, resourceType: 'project_membership' as const, gid: m.gid, deletedAt: now })),
          );
        }
      }
    }
    await touch(db, gid, now);
  });
}

// --- Reads ------------------------------------------------------------------------

export interface ProjectListFilter {
  teamGid?: string;
  archived?: boolean;
}

/** Projects of the viewer's organization they may see, in gid order. */
export async function listProjects(db: Db, viewer: Viewer, filter: ProjectListFilter, page: Page): Promise<KeysetPage<{ gid: string; name: string }>> {
  let query = db.selectFrom('projects as p').select(['p.gid', 'p.name']).where(projectVisible(viewer, 'p'));
  if (filter.teamGid !== undefined) query = query.where('p.team_gid', '=', filter.teamGid);
  if (filter.archived !== undefined) query = query.where('p.archived', '=', filter.archived);
  return keysetPage(db, query, { keys: [{ column: 'gid' }], limit: page.limit, after: page.offset });
}

/** Projects listed for a team the viewer can see (404 for teams they cannot). */
export async function listTeamProjects(db: Db, principal: Principal, teamGid: string, archived: boolean | undefined, page: Page) {
  const viewer = await viewerForObject(db, principal, 'teams', teamGid);
  await assertTeamVisible(db, viewer, teamGid);
  return { viewer, page: await listProjects(db, viewer, { teamGid, ...(archived === undefined ? {} : { archived }) }, page) };
}

const escapeHtml = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

export const STATUS_COLOR: Record<StatusType, StatusColor> = { on_track: 'green', at_risk: 'yellow', off_track: 'red', on_hold: 'blue', complete: 'complete' };
export const STATUS_TYPE: Record<StatusColor, StatusType> = { green: 'on_track', yellow: 'at_risk', red: 'off_track', blue: 'on_hold', complete: 'complete' };

export interface StatusRow {
  gid: string;
  project_gid: string;
  project_name: string;
  title: string;
  text: string;
  status_type: StatusType;
  author_gid: string | null;
  author_name: string | null;
  created_at: Date;
  modified_at: Date;
}

function statusCore(s: StatusRow, optIn: boolean) {
  const author = s.author_gid ? userCompact({ gid: s.author_gid, name: s.author_name ?? '' }) : null;
  return {
    title: s.title,
    text: s.text,
    ...(optIn ? { html_text: `<body>${escapeHtml(s.text)}</body>` } : {}),
    author,
    created_by: author,
    created_at: iso(s.created_at),
    modified_at: iso(s.modified_at),
  };
}

/** The legacy representation (ProjectStatusResponse). */
export function projectStatusView(s: StatusRow, optIn = false) {
  return { gid: s.gid, resource_type: 'project_status' as const, ...statusCore(s, optIn), color: STATUS_COLOR[s.status_type] };
}

/** The current representation (StatusUpdateResponse). */
export function statusUpdateView(s: StatusRow, optIn = false) {
  return {
    gid: s.gid,
    resource_type: 'status_update' as const,
    resource_subtype: 'project_status_update' as const,
    ...statusCore(s, optIn),
    status_type: s.status_type,
    parent: projectCompact({ gid: s.project_gid, name: s.project_name }),
    liked: false,
    likes: [],
    num_likes: 0,
    hearted: false,
    hearts: [],
    num_hearts: 0,
    reaction_summary: [],
  };
}

const statusQuery = (db: Db) =>
  db
    .selectFrom('project_statuses as s')
    .innerJoin('projects as p', 'p.gid', 's.project_gid')
    .leftJoin('users as u', 'u.gid', 's.author_gid')
    .select(['s.gid', 's.project_gid', 'p.name as project_name', 's.title', 's.text', 's.status_type', 's.author_gid', 'u.name as author_name', 's.created_at', 's.modified_at'])
    .where('s.deleted_at', 'is', null);

/**
 * Full project representations for any number of projects, in a fixed number of
 * queries. `optIn` adds Asana's opt-in fields (html_notes).
 */
export async function loadProjectViews(db: Db, viewer: Viewer, gids: string[], baseUrl: string, optIn = false): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  if (gids.length === 0) return out;
  const [projects, members, followers, statuses, settings] = await Promise.all([
    db
      .selectFrom('projects as p')
      .innerJoin('organizations as o', 'o.gid', 'p.organization_gid')
      // The team only when the viewer may see it (a secret team is its members' business).
      .leftJoin('teams as t', (j) => j.onRef('t.gid', '=', 'p.team_gid').on(teamVisible(viewer, 't')))
      .leftJoin('users as ow', 'ow.gid', 'p.owner_gid')
      .select(['p.gid', 'p.name', 'p.notes', 'p.color', 'p.due_on', 'p.start_on', 'p.privacy_setting', 'p.archived', 'p.completed', 'p.completed_at', 'p.default_view', 'p.created_at', 'p.modified_at', 'p.deleted_at'])
      .select(['o.gid as org_gid', 'o.name as org_name', 't.gid as team_gid', 't.name as team_name', 'ow.gid as owner_gid', 'ow.name as owner_name'])
      .where('p.gid', 'in', gids)
      .execute(),
    db.selectFrom('project_memberships as m').innerJoin('users as u', 'u.gid', 'm.user_gid').select(['m.project_gid', 'u.gid', 'u.name']).where('m.project_gid', 'in', gids).orderBy('m.created_at').orderBy('m.gid').execute(),
    db.selectFrom('project_followers as f').innerJoin('users as u', 'u.gid', 'f.user_gid').select(['f.project_gid', 'u.gid', 'u.name']).where('f.project_gid', 'in', gids).orderBy('f.created_at').orderBy('u.gid').execute(),
    statusQuery(db).where('s.project_gid', 'in', gids).distinctOn('s.project_gid').orderBy('s.project_gid').orderBy('s.created_at', 'desc').orderBy('s.gid', 'desc').execute(),
    db
      .selectFrom('project_custom_field_settings as cs')
      .innerJoin('custom_fields as cf', 'cf.gid', 'cs.custom_field_gid')
      .select(['cs.gid', 'cs.project_gid', 'cs.is_important', 'cf.gid as field_gid', 'cf.name as field_name', 'cf.resource_subtype as field_subtype', 'cf.precision as field_precision', 'cf.description as field_description'])
      .where('cs.project_gid', 'in', gids)
      .where('cf.deleted_at', 'is', null)
      .orderBy('cs.position')
      .execute(),
  ]);
  const group = <R extends { project_gid: string }>(rows: R[]) => {
    const m = new Map<string, R[]>();
    for (const r of rows) m.set(r.project_gid, [...(m.get(r.project_gid) ?? []), r]);
    return m;
  };
  const [mBy, fBy, sBy] = [group(members), group(followers), group(settings)];
  const statusBy = new Map(statuses.map((s) => [s.project_gid, s as StatusRow]));
  for (const p of projects) {
    const status = statusBy.get(p.gid);
    const compact = projectCompact({ gid: p.gid, name: p.name });
    const due = dateOnly(p.due_on as string | Date | null);
    out.set(p.gid, {
      ...compact,
      archived: p.archived,
      color: p.color,
      completed: p.completed,
      completed_at: iso(p.completed_at),
      created_at: iso(p.created_at),
      modified_at: iso(p.modified_at),
      current_status: status ? projectStatusView(status) : null,
      current_status_update: status ? { gid: status.gid, resource_type: 'status_update', title: status.title, resource_subtype: 'project_status_update' } : null,
      custom_field_settings: (sBy.get(p.gid) ?? []).map((s) => ({
        gid: s.gid,
        resource_type: 'custom_field_setting',
        custom_field: { gid: s.field_gid, resource_type: 'custom_field', name: s.field_name, resource_subtype: s.field_subtype, type: s.field_subtype, description: s.field_description, ...(s.field_subtype === 'number' ? { precision: s.field_precision ?? 0 } : {}) },
        is_important: s.is_important,
        parent: compact,
        project: compact,
      })),
      custom_fields: [],
      default_view: p.default_view,
      due_on: due,
      due_date: due,
      start_on: dateOnly(p.start_on as string | Date | null),
      notes: p.notes,
      ...(optIn ? { html_notes: `<body>${escapeHtml(p.notes)}</body>` } : {}),
      members: (mBy.get(p.gid) ?? []).map(userCompact),
      followers: (fBy.get(p.gid) ?? []).map(userCompact),
      owner: p.owner_gid ? userCompact({ gid: p.owner_gid, name: p.owner_name ?? '' }) : null,
      team: p.team_gid ? teamCompact({ gid: p.team_gid, name: p.team_name ?? '' }) : null,
      workspace: workspaceCompact({ gid: p.org_gid, name: p.org_name }),
      privacy_setting: p.privacy_setting,
      public: p.privacy_setting === 'public_to_workspace',
      default_access_level: 'editor',
      minimum_access_level_for_customization: 'admin',
      minimum_access_level_for_sharing: 'admin',
      icon: null,
      permalink_url: `${baseUrl}/api/1.0/projects/${p.gid}`,
      ...(p.deleted_at ? { deleted_at: iso(p.deleted_at) } : {}),
    });
  }
  return out;
}

/** The full representation of one project (the caller must already have been checked). */
export async function projectView(db: Db, viewer: Viewer, gid: string, baseUrl: string, optIn = false): Promise<Record<string, unknown>> {
  const view = (await loadProjectViews(db, viewer, [gid], baseUrl, optIn)).get(gid);
  if (!view) throw new NotFoundError('Project not found');
  return view;
}

// --- Project memberships ----------------------------------------------------------

export interface MembershipRow {
  gid: string;
  project_gid: string;
  project_name: string;
  user_gid: string;
  user_name: string;
  access_level: 'admin' | 'editor' | 'commenter' | 'viewer';
  created_at: Date;
}

export function membershipCompactView(m: MembershipRow) {
  return { gid: m.gid, resource_type: 'project_membership' as const, member: userCompact({ gid: m.user_gid, name: m.user_name }), access_level: m.access_level };
}

/** ProjectMembershipNormalResponse. */
export function membershipView(m: MembershipRow) {
  const project = projectCompact({ gid: m.project_gid, name: m.project_name });
  return { ...membershipCompactView(m), parent: project, user: userCompact({ gid: m.user_gid, name: m.user_name }), project, write_access: m.access_level === 'admin' || m.access_level === 'editor' ? 'full_write' : 'comment_only' };
}

const membershipQuery = (db: Db) =>
  db
    .selectFrom('project_memberships as m')
    .innerJoin('projects as p', 'p.gid', 'm.project_gid')
    .innerJoin('users as u', 'u.gid', 'm.user_gid')
    .select(['m.gid', 'm.project_gid', 'p.name as project_name', 'm.user_gid', 'u.name as user_name', 'm.access_level', 'm.created_at']);

export async function listProjectMemberships(db: Db, viewer: Viewer, projectGid: string, user: string | undefined, page: Page): Promise<KeysetPage<MembershipRow>> {
  await assertProjectVisible(db, viewer, projectGid);
  let query = membershipQuery(db).where('m.project_gid', '=', projectGid);
  if (user !== undefined) query = query.where('m.user_gid', '=', await resolveUser(db, viewer, user, 'query.user'));
  return keysetPage(db, query, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

export async function getProjectMembership(db: Db, principal: Principal, gid: string): Promise<MembershipRow> {
  const row = await membershipQuery(db).where('m.gid', '=', gid).executeTakeFirst();
  if (!row) throw new NotFoundError('Project membership not found');
  await projectViewer(db, principal, row.project_gid);
  return row;
}

// --- Status updates ---------------------------------------------------------------

/** The viewer for a status update of a project they can see (404 otherwise). */
export async function statusViewer(db: Db, principal: Principal, statusGid: string): Promise<{ viewer: Viewer; status: StatusRow }> {
  const status = await statusQuery(db).where('s.gid', '=', statusGid).executeTakeFirst();
  if (!status) throw new NotFoundError('Status update not found');
  const viewer = await projectViewer(db, principal, status.project_gid);
  return { viewer, status: status as StatusRow };
}

/** Posts a status update; a "complete" status also marks the project complete. */
export async function createStatus(deps: AppDeps, viewer: Viewer, projectGid: string, input: { title?: string; text?: string; status_type: StatusType }): Promise<StatusRow> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  return deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    await db.insertInto('project_statuses').values({ gid, project_gid: projectGid, title: input.title ?? '', text: input.text ?? '', status_type: input.status_type, author_gid: viewer.userGid, created_at: now, modified_at: now }).execute();
    const set: Record<string, unknown> = { modified_at: sql`greatest(modified_at, ${now})` };
    if (input.status_type === 'complete') {
      set.completed = true;
      set.completed_at = sql`coalesce(completed_at, ${now})`;
    }
    await db.updateTable('projects').set(set).where('gid', '=', projectGid).execute();
    return (await statusQuery(db).where('s.gid', '=', gid).executeTakeFirstOrThrow()) as StatusRow;
  });
}

export async function deleteStatus(deps: AppDeps, viewer: Viewer, status: StatusRow): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, status.project_gid);
    await db.updateTable('project_statuses').set({ deleted_at: now, modified_at: now }).where('gid', '=', status.gid).execute();
    await touch(db, status.project_gid, now);
  });
}

/** Status updates of a project, newest first. */
export async function listStatuses(db: Db, viewer: Viewer, projectGid: string, page: Page, createdSince?: Date): Promise<KeysetPage<StatusRow>> {
  await assertProjectVisible(db, viewer, projectGid);
  let query = statusQuery(db).where('s.project_gid', '=', projectGid);
  if (createdSince) query = query.where('s.created_at', '>=', createdSince);
  const page_ = await keysetPage(db, query, { keys: [{ column: 'created_at', direction: 'desc' }, { column: 'gid', direction: 'desc' }], limit: page.limit, after: page.offset });
  return page_ as KeysetPage<StatusRow>;
}

// --- Duplication ------------------------------------------------------------------

/** What POST /projects/{gid}/duplicate may include (Asana's names). */
export const DUPLICATE_INCLUDES = ['members', 'notes', 'forms', 'allocations', 'task_notes', 'task_assignee', 'task_subtasks', 'task_attachments', 'task_dates', 'task_dependencies', 'task_followers', 'task_tags', 'task_projects', 'task_templates'] as const;
export type DuplicateInclude = (typeof DUPLICATE_INCLUDES)[number];

const TASK_INCLUDES: Partial<Record<DuplicateInclude, string>> = { task_notes: 'notes', task_assignee: 'assignee', task_dates: 'dates', task_tags: 'tags', task_followers: 'followers', task_subtasks: 'subtasks' };

/**
 * Copies a project: its settings, sections and tasks (always), its notes and members
 * when asked, and task details as asked. Runs to completion before answering; the
 * answer is a succeeded job, as Asana's is when it finishes.
 */
export async function duplicateProject(deps: AppDeps, viewer: Viewer, gid: string, input: { name: string; include: DuplicateInclude[]; team?: string }): Promise<string> {
  const db = deps.database.db;
  await assertProjectVisible(db, viewer, gid);
  const include = new Set(input.include);
  const source = await db.selectFrom('projects').selectAll().where('gid', '=', gid).executeTakeFirstOrThrow();
  const teamGid = input.team ?? source.team_gid ?? undefined;
  const members = include.has('members') ? (await db.selectFrom('project_memberships').select('user_gid').where('project_gid', '=', gid).execute()).map((m) => m.user_gid) : [];
  const copy = await createProject(deps, viewer, {
    name: input.name,
    notes: include.has('notes') ? source.notes : '',
    color: source.color,
    default_view: source.default_view,
    privacy_setting: source.privacy_setting === 'private_to_team' && !teamGid ? 'private' : source.privacy_setting,
    ...(teamGid ? { team: teamGid } : { workspace: source.organization_gid }),
    members,
  });
  // Sections, in order.
  const sectionMap = new Map<string, string>();
  const sections = await db.selectFrom('sections').select(['gid', 'name', 'position']).where('project_gid', '=', gid).where('deleted_at', 'is', null).orderBy('position').orderBy('gid').execute();
  const now = deps.clock.now();
  for (const s of sections) {
    const newGid = deps.ids.gid();
    await db.insertInto('sections').values({ gid: newGid, project_gid: copy, name: s.name, position: s.position, created_at: now, modified_at: now }).execute();
    sectionMap.set(s.gid, newGid);
  }
  // Tasks, in project order; subtasks come along with their parents when asked for.
  const taskInclude = [...include].map((i) => TASK_INCLUDES[i]).filter((i): i is string => i !== undefined);
  const withSubtasks = include.has('task_subtasks');
  let after: string | null = null;
  do {
    const base = db
      .selectFrom('task_projects as tp')
      .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
      .select(['t.gid', 't.name', 'tp.section_gid', 'tp.position'])
      .where('tp.project_gid', '=', gid)
      .where('t.deleted_at', 'is', null)
      .where((eb) => (withSubtasks ? eb.or([eb('t.parent_gid', 'is', null), eb.not(eb.exists(eb.selectFrom('task_projects as pp').select('pp.task_gid').whereRef('pp.task_gid', '=', 't.parent_gid').where('pp.project_gid', '=', gid)))]) : eb.lit(true)));
    const page: KeysetPage<{ gid: string; name: string; section_gid: string | null; position: number }> = await keysetPage(db, base, { keys: [{ column: 'position' }, { column: 'gid' }], limit: 100, after });
    for (const t of page.rows) {
      const taskCopy = await duplicateTask(deps, viewer, t.gid, { name: t.name, include: taskInclude });
      const section = t.section_gid ? sectionMap.get(t.section_gid) : undefined;
      await addProject(deps, viewer, taskCopy, { project: copy, ...(section ? { section } : {}) });
    }
    after = page.next;
  } while (after);
  return copy;
}
