/**
 * Project templates and task templates.
 *
 * A template stores a snapshot (jsonb) of a structure, never people or absolute dates:
 * - project template: sections in order; top-level tasks in project order with their
 *   section, names, notes, subtype and subtasks (recursively, in subtask order); the
 *   project's custom field settings, color, default view and privacy. Dates are kept
 *   as days after the project's start date (its start_on, or else its earliest task
 *   date): the template then asks for one date variable ("Start date", Asana's
 *   requested_dates), and instantiation lays the dates out from the date given (or
 *   today). No assignees, followers, tags, custom field values or completion.
 * - task template: one task with its subtasks, dates as days after the task's start
 *   (or the day it was saved), instantiated into the template's project.
 *
 * Visibility (decided in policy.ts): a project
 * template is visible to its owner, and to full members of the organization when it is
 * public or belongs to a team they are a full member of; it never reaches further than
 * the project it was saved from (projectTemplateAudience), and names its team only to
 * those who can see the team. A task template follows its project, and is saved only
 * from a task of that project (isTaskTemplateSourceFor). Invisible ones answer 404,
 * visible but not allowed 403.
 *
 * Instantiation creates the project rows directly (the projects use cases are being
 * built in parallel) and the tasks through createTask, all in one transaction.
 */
import { sql, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import { dateOnly, dateValue, json, keysetPage, readLargeJson, type KeysetColumn, type KeysetPage } from '../../db/query.js';
import type { DB, PrivacySetting } from '../../db/schema.js';
import {
  canAddTaskToProject,
  canCreateProject,
  canDeleteProjectTemplate,
  canDeleteTaskTemplate,
  canEditProject,
  canSaveProjectAsTemplate,
  canSeeProject,
  canSeeProjectTemplate,
  canSeeTask,
  canSeeTaskTemplate,
  canSeeTeam,
  isTaskTemplateSourceFor,
  projectTemplateAudience,
  projectTemplateVisible,
  taskTemplateVisible,
  teamVisible,
  viewerIn,
  type Viewer,
} from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, movedTo, viewerForObject, type Db } from './common.js';
import { projectCompact, teamCompact, userCompact } from './present.js';
import { createTask, type CreateTaskInput } from './tasks.js';

type Subtype = 'default_task' | 'milestone' | 'approval';
type DefaultView = 'list' | 'board' | 'calendar' | 'timeline';

/** One task of a template, with its subtasks. */
export interface TemplateTask {
  name: string;
  notes: string;
  resource_subtype: Subtype;
  /** Index into the project template's sections; null: in no section (always null in task templates). */
  section: number | null;
  /** Days after the start date; null: no date. */
  relative_start_on: number | null;
  relative_due_on: number | null;
  subtasks: TemplateTask[];
}

export interface DateVariable {
  gid: string;
  name: string;
  description: string;
}

export interface ProjectSnapshot {
  version: 1;
  color: string | null;
  default_view: DefaultView;
  privacy_setting: PrivacySetting;
  relative_start_on: number | null;
  relative_due_on: number | null;
  requested_dates: DateVariable[];
  sections: { name: string }[];
  tasks: TemplateTask[];
  custom_field_settings: { custom_field: string; is_important: boolean }[];
}

export interface TaskSnapshot extends TemplateTask {
  version: 1;
}

/** The one date variable a project template with dates asks for. */
export const START_DATE: DateVariable = { gid: '1', name: 'Start date', description: 'The first day of the project: task dates are laid out from it.' };
/** Templates hold at most this many tasks (subtasks included), and this many sections. */
export const MAX_TEMPLATE_TASKS = 2000;
export const MAX_TEMPLATE_SECTIONS = 500;

export interface Page {
  limit: number;
  offset: string | null;
}

const bad = (field: string, why: string) => new BadRequestError(`${field}: ${why}`, [{ message: `${field}: ${why}` }]);

/**
 * LOCAL HELPER — createTask opens its own transaction. To instantiate a template in one
 * transaction, createTask gets deps whose database is the open transaction (its
 * transaction() runs the callback in it) and whose clock moves forward by at least a
 * millisecond per reading, so subtasks (listed by created_at) keep the template's
 * order. Proposed instead: a createTask variant in tasks.ts that takes the Db to run on.
 */
function depsInTransaction(deps: AppDeps, trx: Transaction<DB>): AppDeps {
  const flat = new Proxy(trx, {
    get(target, prop) {
      if (prop === 'transaction') return () => ({ execute: <T>(fn: (db: Transaction<DB>) => Promise<T>) => fn(target) });
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  let last = 0;
  const clock = {
    now: () => {
      last = Math.max(deps.clock.now().getTime(), last + 1);
      return new Date(last);
    },
  };
  return { ...deps, database: { ...deps.database, db: flat as Kysely<DB> }, clock };
}

// --- Dates -----------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const dayNumber = (day: string) => Date.parse(`${day}T00:00:00Z`) / DAY_MS;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const today = (deps: AppDeps) => deps.clock.now().toISOString().slice(0, 10);
/** Whole days from anchor to day (never negative); null without a date. */
const relative = (day: string | null, anchor: string | null) => (day && anchor ? Math.max(0, Math.round(dayNumber(day) - dayNumber(anchor))) : null);

// --- Snapshots -------------------------------------------------------------------------

/** Every row of a keyset-paged query (each page bounded by the Data API's limits); 400 above `max`. */
async function allRows<Row extends object>(db: Db, query: SelectQueryBuilder<any, any, Row>, keys: KeysetColumn[], max: number, what: string, field: string): Promise<Row[]> {
  const out: Row[] = [];
  let after: string | null = null;
  do {
    const page: KeysetPage<Row> = await keysetPage(db, query, { keys, limit: 100, after });
    out.push(...page.rows);
    if (out.length > max) throw bad(field, `has more than ${max} ${what}; a template holds at most ${max}`);
    after = page.next;
  } while (after);
  return out;
}

interface TaskRow {
  gid: string;
  parent_gid: string | null;
  name: string;
  notes: string;
  resource_subtype: Subtype;
  due_on: string | Date | null;
  start_on: string | Date | null;
}

const TASK_COLUMNS = ['t.gid', 't.parent_gid', 't.name', 't.notes', 't.resource_subtype', 't.due_on', 't.start_on'] as const;

/** The live (not deleted) descendants of some tasks, each parent's children in subtask order (created_at, gid). */
async function descendantsOf(db: Db, roots: string[], max: number, field: string): Promise<TaskRow[]> {
  const out: TaskRow[] = [];
  for (let i = 0; i < roots.length; i += 500) {
    const query = db
      .selectFrom('task_ancestors as a')
      .innerJoin('tasks as t', 't.gid', 'a.task_gid')
      .select([...TASK_COLUMNS, 't.created_at'])
      .where('a.ancestor_gid', 'in', roots.slice(i, i + 500))
      .where('a.depth', '>', 0)
      .where('t.deleted_at', 'is', null);
    out.push(...(await allRows(db, query, [{ column: 'created_at' }, { column: 'gid' }], max - out.length, 'tasks', field)));
  }
  return out;
}

function treeBuilder(descendants: TaskRow[], anchor: string | null) {
  const children = new Map<string, TaskRow[]>();
  for (const d of descendants) if (d.parent_gid) children.set(d.parent_gid, [...(children.get(d.parent_gid) ?? []), d]);
  const build = (t: TaskRow, section: number | null): TemplateTask => ({
    name: t.name,
    notes: t.notes,
    resource_subtype: t.resource_subtype,
    section,
    relative_start_on: relative(dateOnly(t.start_on), anchor),
    relative_due_on: relative(dateOnly(t.due_on), anchor),
    subtasks: (children.get(t.gid) ?? []).map((c) => build(c, null)),
  });
  return build;
}

function earliest(days: (string | null)[]): string | null {
  return days.filter((d): d is string => d !== null).sort()[0] ?? null;
}

/** The structure of a project as a template snapshot. */
export async function snapshotProject(db: Db, projectGid: string, field = 'path.project_gid'): Promise<ProjectSnapshot> {
  const project = await db.selectFrom('projects').select(['color', 'default_view', 'privacy_setting', 'start_on', 'due_on']).where('gid', '=', projectGid).executeTakeFirstOrThrow();
  const sections = await allRows(db, db.selectFrom('sections').select(['gid', 'name', 'position']).where('project_gid', '=', projectGid).where('deleted_at', 'is', null), [{ column: 'position' }, { column: 'gid' }], MAX_TEMPLATE_SECTIONS, 'sections', field);
  const sectionIndex = new Map(sections.map((s, i) => [s.gid, i]));
  // Top-level tasks: in the project, and no ancestor of theirs is (those come as subtasks).
  const roots = await allRows(
    db,
    db
      .selectFrom('task_projects as tp')
      .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
      .select([...TASK_COLUMNS, 'tp.section_gid', 'tp.position'])
      .where('tp.project_gid', '=', projectGid)
      .where('t.deleted_at', 'is', null)
      .where(sql<boolean>`not exists (select 1 from task_ancestors sa join task_projects sp on sp.task_gid = sa.ancestor_gid where sa.task_gid = t.gid and sa.depth > 0 and sp.project_gid = ${projectGid})`),
    [{ column: 'position' }, { column: 'gid' }],
    MAX_TEMPLATE_TASKS,
    'tasks',
    field,
  );
  const descendants = await descendantsOf(db, roots.map((r) => r.gid), MAX_TEMPLATE_TASKS - roots.length, field);
  const anchor = dateOnly(project.start_on) ?? earliest([...roots, ...descendants].flatMap((t) => [dateOnly(t.start_on), dateOnly(t.due_on)]).concat(dateOnly(project.due_on)));
  const build = treeBuilder(descendants, anchor);
  const settings = await db
    .selectFrom('project_custom_field_settings as s')
    .innerJoin('custom_fields as cf', 'cf.gid', 's.custom_field_gid')
    .select(['s.custom_field_gid', 's.is_important'])
    .where('s.project_gid', '=', projectGid)
    .where('cf.deleted_at', 'is', null)
    .orderBy('s.position')
    .orderBy('s.gid')
    .limit(1000)
    .execute();
  return {
    version: 1,
    color: project.color,
    default_view: project.default_view,
    privacy_setting: project.privacy_setting,
    relative_start_on: relative(dateOnly(project.start_on), anchor),
    relative_due_on: relative(dateOnly(project.due_on), anchor),
    requested_dates: anchor ? [START_DATE] : [],
    sections: sections.map((s) => ({ name: s.name })),
    tasks: roots.map((r) => build(r, r.section_gid ? (sectionIndex.get(r.section_gid) ?? null) : null)),
    custom_field_settings: settings.map((s) => ({ custom_field: s.custom_field_gid, is_important: s.is_important })),
  };
}

/** A task and its subtasks as a template snapshot; dates relative to its start (or today). */
export async function snapshotTask(db: Db, taskGid: string, day: string, field = 'data.task'): Promise<TaskSnapshot> {
  const root = await db.selectFrom('tasks as t').select(TASK_COLUMNS).where('t.gid', '=', taskGid).executeTakeFirstOrThrow();
  const descendants = await descendantsOf(db, [taskGid], MAX_TEMPLATE_TASKS - 1, field);
  return { version: 1, ...treeBuilder(descendants, dateOnly(root.start_on) ?? day)(root, null) };
}

/** Creates a task of a template and its subtasks, in order. */
async function createFromTemplate(deps: AppDeps, viewer: Viewer, t: TemplateTask, placement: Pick<CreateTaskInput, 'memberships' | 'projects' | 'parent'>, at: (days: number | null) => string | null, name?: string): Promise<string> {
  const created = await createTask(deps, viewer, { ...placement, name: name ?? t.name, notes: t.notes, resource_subtype: t.resource_subtype, due_on: at(t.relative_due_on), start_on: at(t.relative_start_on) });
  for (const s of t.subtasks) await createFromTemplate(deps, viewer, s, { parent: created }, at);
  return created;
}

// --- Project templates -------------------------------------------------------------------

/** The viewer for a project template the caller can see (404 otherwise). */
export async function projectTemplateViewer(db: Db, principal: Principal, gid: string): Promise<Viewer> {
  const viewer = await viewerForObject(db, principal, 'project_templates', gid);
  if (!(await canSeeProjectTemplate(db, viewer, gid))) throw new NotFoundError('Project template not found');
  return viewer;
}

const htmlDescription = (text: string) => `<body>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</body>`;

/** A project template the viewer can see; its team only when the viewer may see that too (a secret team is its members' business). */
export async function projectTemplateView(db: Db, viewer: Viewer, gid: string): Promise<Record<string, unknown>> {
  const t = await db
    .selectFrom('project_templates as pt')
    .leftJoin('users as u', 'u.gid', 'pt.owner_gid')
    .leftJoin('teams as tm', (j) => j.onRef('tm.gid', '=', 'pt.team_gid').on(teamVisible(viewer, 'tm')))
    .select(['pt.gid', 'pt.name', 'pt.description', 'pt.is_public', 'pt.owner_gid', 'u.name as owner_name', 'tm.gid as team_gid', 'tm.name as team_name', 'pt.created_at'])
    .select(sql<string | null>`pt.template ->> 'color'`.as('color'))
    .select(sql<string | null>`(pt.template -> 'requested_dates')::text`.as('requested_dates'))
    .where('pt.gid', '=', gid)
    .executeTakeFirstOrThrow();
  return {
    gid: t.gid,
    resource_type: 'project_template',
    name: t.name,
    description: t.description,
    html_description: htmlDescription(t.description),
    public: t.is_public,
    owner: t.owner_gid ? userCompact({ gid: t.owner_gid, name: t.owner_name ?? '' }) : null,
    team: t.team_gid ? teamCompact({ gid: t.team_gid, name: t.team_name ?? '' }) : null,
    requested_dates: JSON.parse(t.requested_dates ?? '[]') as DateVariable[],
    color: t.color,
    requested_roles: [],
    created_at: iso(t.created_at),
  };
}

/** Visible project templates of the viewer's organization, or of one team, by name. */
export function listProjectTemplates(db: Db, viewer: Viewer, filter: { team?: string | undefined }, page: Page): Promise<KeysetPage<{ gid: string; name: string }>> {
  let query = db.selectFrom('project_templates as pt').select(['pt.gid', 'pt.name']).where(projectTemplateVisible(viewer, 'pt'));
  if (filter.team) query = query.where('pt.team_gid', '=', filter.team);
  return keysetPage(db, query, { keys: [{ column: 'name' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

/** The viewer for a team the caller can see (404 otherwise). */
export async function teamViewer(db: Db, principal: Principal, teamGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(db, principal, 'teams', teamGid);
  if (!(await canSeeTeam(db, viewer, teamGid))) throw new NotFoundError('Team not found');
  return viewer;
}

export interface SaveAsTemplateInput {
  name: string;
  team?: string | undefined;
  workspace?: string | undefined;
  public?: boolean | undefined;
}

/** Saves a project's structure as a project template in its team (or the team given). */
export async function saveProjectAsTemplate(deps: AppDeps, viewer: Viewer, projectGid: string, input: SaveAsTemplateInput): Promise<string> {
  const db = deps.database.db;
  if (!(await canSeeProject(db, viewer, projectGid))) throw new NotFoundError('Project not found');
  if (!(await canSaveProjectAsTemplate(db, viewer, projectGid))) throw new ForbiddenError('Only full members who can edit this project can save it as a template');
  if (input.workspace && input.workspace !== viewer.organizationGid) throw bad('data.workspace', 'the project is not in that workspace');
  if (input.team && !(await canSeeTeam(db, viewer, input.team))) throw new NotFoundError('Team not found');
  const project = await db.selectFrom('projects').select(['team_gid', 'notes', 'privacy_setting']).where('gid', '=', projectGid).executeTakeFirstOrThrow();
  const audience = projectTemplateAudience(project, input);
  if (!audience.ok) throw bad(audience.field, audience.reason);
  const snapshot = await snapshotProject(db, projectGid);
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await db
    .insertInto('project_templates')
    .values({
      gid,
      organization_gid: viewer.organizationGid,
      team_gid: audience.team,
      name: input.name,
      description: project.notes,
      is_public: input.public ?? false,
      owner_gid: viewer.userGid,
      template: json(snapshot),
      created_at: now,
      modified_at: now,
    })
    .execute();
  return gid;
}

export async function deleteProjectTemplate(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const db = deps.database.db;
  if (!(await canSeeProjectTemplate(db, viewer, gid))) throw new NotFoundError('Project template not found');
  const t = await db.selectFrom('project_templates').select('owner_gid').where('gid', '=', gid).executeTakeFirstOrThrow();
  if (!canDeleteProjectTemplate(viewer, t.owner_gid)) throw new ForbiddenError('Only the owner of the template or an organization admin can delete it');
  const now = deps.clock.now();
  await db.updateTable('project_templates').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', gid).where('deleted_at', 'is', null).execute();
}

export interface InstantiateProjectInput {
  name: string;
  team?: string | undefined;
  public?: boolean | undefined;
  privacy_setting?: PrivacySetting | undefined;
  is_strict?: boolean | undefined;
  requested_dates?: { gid: string; value?: string | null | undefined }[] | undefined;
}

/** A new project from a template: its sections, custom field settings, tasks and subtasks, in order, in one transaction. */
export async function instantiateProject(deps: AppDeps, viewer: Viewer, templateGid: string, input: InstantiateProjectInput): Promise<string> {
  const db = deps.database.db;
  if (!(await canSeeProjectTemplate(db, viewer, templateGid))) throw new NotFoundError('Project template not found');
  const template = await db.selectFrom('project_templates').select(['team_gid', 'description']).where('gid', '=', templateGid).executeTakeFirstOrThrow();
  const snapshot = (await readLargeJson(db, 'project_templates', 'template', 'gid', templateGid)) as ProjectSnapshot;

  let teamGid: string | null = null;
  if (input.team) {
    if (!(await canSeeTeam(db, viewer, input.team))) throw new NotFoundError('Team not found');
    teamGid = input.team;
  } else if (template.team_gid) {
    if (!(await canSeeTeam(db, viewer, template.team_gid))) throw bad('data.team', "the template's team is not one you can create projects in; give a team");
    teamGid = template.team_gid;
  }
  if (!(await canCreateProject(db, viewer, teamGid))) throw new ForbiddenError('Guests can create projects only in teams they belong to');

  const privacy: PrivacySetting =
    input.privacy_setting ??
    (input.public !== undefined ? (input.public ? 'public_to_workspace' : teamGid ? 'private_to_team' : 'private') : snapshot.privacy_setting === 'private_to_team' && !teamGid ? 'private' : snapshot.privacy_setting);
  if (privacy === 'private_to_team' && !teamGid) throw bad('data.privacy_setting', 'private_to_team needs a team');

  const given = new Map<string, string>();
  for (const [i, d] of (input.requested_dates ?? []).entries()) {
    if (!snapshot.requested_dates.some((v) => v.gid === d.gid)) throw bad(`data.requested_dates.${i}.gid`, `the template has no date variable ${d.gid}`);
    if (d.value) given.set(d.gid, d.value);
  }
  let start: string | null = null;
  if (snapshot.requested_dates.length) {
    start = given.get(START_DATE.gid) ?? null;
    if (!start && input.is_strict) throw bad('data.requested_dates', `a value is required for "${START_DATE.name}" (gid ${START_DATE.gid})`);
    start ??= today(deps);
  }
  const at = (days: number | null) => (days !== null && start ? addDays(start, days) : null);

  const projectGid = deps.ids.gid();
  await db.transaction().execute(async (trx) => {
    const inTrx = depsInTransaction(deps, trx);
    const now = inTrx.clock.now();
    const startOn = at(snapshot.relative_start_on);
    const dueOn = at(snapshot.relative_due_on);
    await trx
      .insertInto('projects')
      .values({
        gid: projectGid,
        organization_gid: viewer.organizationGid,
        team_gid: teamGid,
        name: input.name,
        notes: template.description,
        color: snapshot.color,
        owner_gid: viewer.userGid,
        start_on: startOn ? dateValue(startOn) : null,
        due_on: dueOn ? dateValue(dueOn) : null,
        privacy_setting: privacy,
        default_view: snapshot.default_view,
        created_by: viewer.userGid,
        created_at: now,
        modified_at: now,
      })
      .execute();
    // The creator is the owner and an admin member, as with any new project.
    await trx.insertInto('project_memberships').values({ gid: deps.ids.gid(), project_gid: projectGid, user_gid: viewer.userGid, access_level: 'admin', created_at: now }).execute();
    const sections: string[] = [];
    for (const [i, s] of snapshot.sections.entries()) {
      const sectionGid = deps.ids.gid();
      await trx.insertInto('sections').values({ gid: sectionGid, project_gid: projectGid, name: s.name, position: i + 1, created_at: now, modified_at: now }).execute();
      sections.push(sectionGid);
    }
    // Custom fields deleted since the template was saved are left out.
    const fieldGids = snapshot.custom_field_settings.map((s) => s.custom_field);
    const live = new Set(
      fieldGids.length ? (await trx.selectFrom('custom_fields').select('gid').where('gid', 'in', fieldGids).where('organization_gid', '=', viewer.organizationGid).where('deleted_at', 'is', null).execute()).map((f) => f.gid) : [],
    );
    for (const [i, s] of snapshot.custom_field_settings.filter((f) => live.has(f.custom_field)).entries()) {
      await trx.insertInto('project_custom_field_settings').values({ gid: deps.ids.gid(), project_gid: projectGid, custom_field_gid: s.custom_field, is_important: s.is_important, position: i + 1, modified_at: now }).execute();
    }
    for (const t of snapshot.tasks) {
      const section = t.section !== null ? sections[t.section] : undefined;
      await createFromTemplate(inTrx, viewer, t, { memberships: [{ project: projectGid, ...(section ? { section } : {}) }] }, at);
    }
  });
  return projectGid;
}

// --- Task templates ----------------------------------------------------------------------

/** The viewer for a task template the caller can see (404 otherwise), with its project. */
export async function taskTemplateViewer(db: Db, principal: Principal, gid: string): Promise<{ viewer: Viewer; projectGid: string }> {
  const row = await db.selectFrom('task_templates as tt').innerJoin('projects as p', 'p.gid', 'tt.project_gid').select(['p.organization_gid', 'p.gid']).where('tt.gid', '=', gid).executeTakeFirst();
  if (!row) throw new NotFoundError('Task template not found');
  const viewer = await viewerIn(db, principal, row.organization_gid);
  if (!(await canSeeTaskTemplate(db, viewer, gid))) throw new NotFoundError('Task template not found');
  return { viewer, projectGid: row.gid };
}

const RECIPE_SUBTYPE: Record<Subtype, string> = { default_task: 'default_task', milestone: 'milestone_task', approval: 'approval_task' };

/** Asana's TaskTemplateRecipe for a stored task snapshot. */
function recipe(t: TemplateTask, project: { gid: string; name: string } | null) {
  return {
    name: t.name,
    task_resource_subtype: RECIPE_SUBTYPE[t.resource_subtype],
    description: t.notes,
    html_description: htmlDescription(t.notes),
    memberships: project ? [projectCompact(project)] : [],
    relative_start_on: t.relative_start_on,
    relative_due_on: t.relative_due_on,
    due_time: null,
    dependencies: [],
    dependents: [],
    followers: [],
    attachments: [],
    subtasks: t.subtasks.map((s) => ({ name: s.name, task_resource_subtype: RECIPE_SUBTYPE[s.resource_subtype] })),
    custom_fields: [],
  };
}

export async function taskTemplateView(db: Db, gid: string): Promise<Record<string, unknown>> {
  const t = await db
    .selectFrom('task_templates as tt')
    .innerJoin('projects as p', 'p.gid', 'tt.project_gid')
    .leftJoin('users as u', 'u.gid', 'tt.created_by')
    .select(['tt.gid', 'tt.name', 'tt.created_at', 'tt.created_by', 'u.name as creator_name', 'p.gid as project_gid', 'p.name as project_name'])
    .where('tt.gid', '=', gid)
    .executeTakeFirstOrThrow();
  const snapshot = (await readLargeJson(db, 'task_templates', 'template', 'gid', gid)) as TaskSnapshot;
  const project = { gid: t.project_gid, name: t.project_name };
  return {
    gid: t.gid,
    resource_type: 'task_template',
    name: t.name,
    project: projectCompact(project),
    template: recipe(snapshot, project),
    created_by: t.created_by ? userCompact({ gid: t.created_by, name: t.creator_name ?? '' }) : null,
    created_at: iso(t.created_at),
  };
}

/** Task templates of a project the viewer can see, oldest first. */
export function listTaskTemplates(db: Db, viewer: Viewer, projectGid: string, page: Page): Promise<KeysetPage<{ gid: string; name: string; created_at: Date }>> {
  const query = db.selectFrom('task_templates as tt').select(['tt.gid', 'tt.name', 'tt.created_at']).where('tt.project_gid', '=', projectGid).where(taskTemplateVisible(viewer, 'tt'));
  return keysetPage(db, query, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

/** Saves a task the viewer can see (with its subtasks) as a template of a project they may edit. */
export async function saveTaskTemplate(deps: AppDeps, viewer: Viewer, projectGid: string, input: { name: string; task: string }): Promise<string> {
  const db = deps.database.db;
  if (!(await canSeeProject(db, viewer, projectGid))) throw new NotFoundError('Project not found');
  if (!(await canEditProject(db, viewer, projectGid))) throw new ForbiddenError('You can see this project but not change it');
  if (!(await canSeeTask(db, viewer, input.task))) throw new NotFoundError('Task not found');
  if (!(await isTaskTemplateSourceFor(db, input.task, projectGid))) throw bad('data.task', 'only a task of this project (or a subtask of one) can become its template');
  const snapshot = await snapshotTask(db, input.task, today(deps));
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await db.insertInto('task_templates').values({ gid, project_gid: projectGid, name: input.name, template: json(snapshot), created_by: viewer.userGid, created_at: now, modified_at: now }).execute();
  return gid;
}

export async function deleteTaskTemplate(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const db = deps.database.db;
  const t = await db.selectFrom('task_templates').select(['created_by', 'project_gid']).where('gid', '=', gid).executeTakeFirst();
  if (!t || !(await canSeeTaskTemplate(db, viewer, gid))) throw new NotFoundError('Task template not found');
  if (!(await canDeleteTaskTemplate(db, viewer, t.created_by, t.project_gid))) throw new ForbiddenError('Only the creator of the template or an editor of its project can delete it');
  const now = deps.clock.now();
  await db.updateTable('task_templates').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', gid).where('deleted_at', 'is', null).execute();
}

/** A new task (with its subtasks) in the template's project; dates laid out from today. Named after the template unless a name is given. */
export async function instantiateTask(deps: AppDeps, viewer: Viewer, templateGid: string, input: { name?: string | undefined }): Promise<string> {
  const db = deps.database.db;
  if (!(await canSeeTaskTemplate(db, viewer, templateGid))) throw new NotFoundError('Task template not found');
  const row = await db.selectFrom('task_templates').select(['name', 'project_gid']).where('gid', '=', templateGid).executeTakeFirstOrThrow();
  if (!(await canAddTaskToProject(db, viewer, row.project_gid))) throw new ForbiddenError('Only full members and project editors can add tasks to this project');
  const snapshot = (await readLargeJson(db, 'task_templates', 'template', 'gid', templateGid)) as TaskSnapshot;
  const day = today(deps);
  const at = (days: number | null) => (days !== null ? addDays(day, days) : null);
  return db.transaction().execute((trx) => createFromTemplate(depsInTransaction(deps, trx), viewer, snapshot, { projects: [row.project_gid] }, at, input.name ?? row.name));
}

