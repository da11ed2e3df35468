/**
 * Section use cases (board columns): ordered by a double precision position within
 * their project. Sections of projects the caller cannot see answer 404; changing them
 * needs edit rights on the project (403 otherwise). Tasks move between sections
 * through the task use cases (tasks.addProject), so the task rules stay in one place.
 */
import { sql } from 'kysely';
import { keysetPage, toNumber, type KeysetPage } from '../../db/query.js';
import { canEditTask, canSeeTask, taskVisible, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, movedTo, nextPosition, positionBetween, touchRows, viewerForSection, type Db } from './common.js';
import { projectCompact, sectionCompact } from './present.js';
import { assertProjectEditable, assertProjectVisible, type Page } from './projects.js';
import { addProject } from './tasks.js';

const bad = (field: string, why: string) => new BadRequestError(`${field}: ${why}`, [{ message: `${field}: ${why}` }]);

/** The viewer and project of a section of a project the caller can see (404 otherwise). */
export async function sectionViewer(db: Db, principal: Principal, sectionGid: string): Promise<{ viewer: Viewer; projectGid: string }> {
  const found = await viewerForSection(db, principal, sectionGid);
  await assertProjectVisible(db, found.viewer, found.projectGid);
  return found;
}

interface Placement {
  before?: string | null | undefined;
  after?: string | null | undefined;
  /** The field names to report in errors. */
  fields: [string, string];
}

/**
 * Where a section goes: before or after another section of the same project, or at the
 * end. `moving` is the section being moved (never its own anchor or neighbour).
 */
async function sectionPosition(db: Db, projectGid: string, where: Placement, moving?: string): Promise<number | null> {
  const [beforeField, afterField] = where.fields;
  if (where.before && where.after) throw bad('data', `${beforeField} and ${afterField} cannot both be given`);
  const anchor = where.before ?? where.after;
  if (!anchor) return moving ? null : nextPosition(db, 'sections', 'project_gid', projectGid);
  const field = where.before ? beforeField : afterField;
  if (anchor === moving) throw bad(`data.${field}`, 'a section cannot be placed relative to itself');
  const a = await db.selectFrom('sections').select('position').where('gid', '=', anchor).where('project_gid', '=', projectGid).where('deleted_at', 'is', null).executeTakeFirst();
  if (!a) throw bad(`data.${field}`, 'not a section of this project');
  let neighbours = db.selectFrom('sections').select('position').where('project_gid', '=', projectGid).where('deleted_at', 'is', null);
  if (moving) neighbours = neighbours.where('gid', '<>', moving);
  if (where.before) {
    const n = await neighbours.where('position', '<', a.position).orderBy('position', 'desc').executeTakeFirst();
    return positionBetween(n?.position ?? null, a.position);
  }
  const n = await neighbours.where('position', '>', a.position).orderBy('position').executeTakeFirst();
  return positionBetween(a.position, n?.position ?? null);
}

export async function createSection(deps: AppDeps, viewer: Viewer, projectGid: string, input: { name: string; insert_before?: string | null; insert_after?: string | null }): Promise<string> {
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    const position = (await sectionPosition(db, projectGid, { before: input.insert_before, after: input.insert_after, fields: ['insert_before', 'insert_after'] }))!;
    await db.insertInto('sections').values({ gid, project_gid: projectGid, name: input.name, position, created_at: now, modified_at: now }).execute();
  });
  return gid;
}

/** Renames a section and, with insert_before/insert_after, moves it. */
export async function updateSection(deps: AppDeps, viewer: Viewer, sectionGid: string, projectGid: string, input: { name?: string; insert_before?: string | null; insert_after?: string | null }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    const set: Record<string, unknown> = {};
    if (input.name !== undefined) set.name = input.name;
    const position = await sectionPosition(db, projectGid, { before: input.insert_before, after: input.insert_after, fields: ['insert_before', 'insert_after'] }, sectionGid);
    if (position !== null) set.position = position;
    if (Object.keys(set).length) await db.updateTable('sections').set({ ...set, modified_at: movedTo(now) }).where('gid', '=', sectionGid).execute();
  });
}

/** As in Asana: only an empty section can be deleted, and never a project's last one. */
export async function deleteSection(deps: AppDeps, viewer: Viewer, sectionGid: string, projectGid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    const tasks = await db
      .selectFrom('task_projects as tp')
      .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
      .select(sql<number>`count(*)`.as('n'))
      .where('tp.section_gid', '=', sectionGid)
      .where('t.deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (toNumber(tasks.n) > 0) throw new BadRequestError('Sections must be empty to be deleted; move or delete their tasks first');
    const sections = await db.selectFrom('sections').select(sql<number>`count(*)`.as('n')).where('project_gid', '=', projectGid).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
    if (toNumber(sections.n) <= 1) throw new BadRequestError('The last remaining section of a project cannot be deleted');
    await db.updateTable('sections').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', sectionGid).execute();
    // Deleted tasks that were in it come back (if restored) without a section: their memberships change.
    const moved = await db.selectFrom('task_projects').select('task_gid').where('section_gid', '=', sectionGid).execute();
    await touchRows(
      db,
      'tasks',
      moved.map((m) => m.task_gid),
      now,
    );
    await db.updateTable('task_projects').set({ section_gid: null }).where('section_gid', '=', sectionGid).execute();
  });
}

/** POST /projects/{gid}/sections/insert: moves a section before or after another one. */
export async function insertSection(deps: AppDeps, viewer: Viewer, projectGid: string, input: { section: string; before_section?: string | null; after_section?: string | null }): Promise<void> {
  if (!input.before_section && !input.after_section) throw bad('data', 'give before_section or after_section');
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    const section = await db.selectFrom('sections').select('project_gid').where('gid', '=', input.section).where('deleted_at', 'is', null).executeTakeFirst();
    if (!section || section.project_gid !== projectGid) throw bad('data.section', 'not a section of this project (sections cannot be moved between projects)');
    const position = await sectionPosition(db, projectGid, { before: input.before_section, after: input.after_section, fields: ['before_section', 'after_section'] }, input.section);
    await db.updateTable('sections').set({ position: position!, modified_at: movedTo(now) }).where('gid', '=', input.section).execute();
  });
}

/**
 * POST /sections/{gid}/addTask: puts a task into the section (adding it to the project
 * if needed, and taking it out of the project's other sections): at the top unless
 * insert_before or insert_after names a task of the section.
 */
export async function addTaskToSection(deps: AppDeps, viewer: Viewer, sectionGid: string, projectGid: string, input: { task: string; insert_before?: string | null; insert_after?: string | null }): Promise<void> {
  const db = deps.database.db;
  if (!(await canSeeTask(db, viewer, input.task))) throw new NotFoundError('Task not found');
  if (!(await canEditTask(db, viewer, input.task))) throw new ForbiddenError('You can see this task but not change it');
  if (input.insert_before && input.insert_after) throw bad('data', 'insert_before and insert_after cannot both be given');
  const anchorField = input.insert_before ? 'insert_before' : 'insert_after';
  const anchor = input.insert_before ?? input.insert_after ?? null;
  const inSection = db
    .selectFrom('task_projects as tp')
    .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
    .select(['tp.task_gid', 'tp.position'])
    .where('tp.project_gid', '=', projectGid)
    .where('tp.section_gid', '=', sectionGid)
    .where('t.deleted_at', 'is', null);
  let insertBefore: string | null = input.insert_before ?? null;
  if (anchor) {
    if (anchor === input.task) throw bad(`data.${anchorField}`, 'a task cannot be placed relative to itself');
    if (!(await inSection.where('tp.task_gid', '=', anchor).executeTakeFirst())) throw bad(`data.${anchorField}`, 'not a task of this section');
  } else {
    const first = await inSection.where('tp.task_gid', '<>', input.task).orderBy('tp.position').orderBy('tp.task_gid').executeTakeFirst();
    insertBefore = first?.task_gid ?? null;
  }
  await addProject(deps, viewer, input.task, { project: projectGid, section: sectionGid, insert_before: insertBefore, insert_after: input.insert_after ?? null });
}

// --- Reads ------------------------------------------------------------------------

export interface SectionRow {
  gid: string;
  name: string;
  project_gid: string;
  project_name: string;
  created_at: Date;
  position: number;
}

const sectionQuery = (db: Db) =>
  db.selectFrom('sections as s').innerJoin('projects as p', 'p.gid', 's.project_gid').select(['s.gid', 's.name', 's.project_gid', 'p.name as project_name', 's.created_at', 's.position']).where('s.deleted_at', 'is', null);

/** SectionResponse. */
export function sectionView(s: SectionRow) {
  const project = projectCompact({ gid: s.project_gid, name: s.project_name });
  return { ...sectionCompact(s), created_at: iso(s.created_at), project, projects: [project] };
}

export async function getSection(db: Db, sectionGid: string): Promise<SectionRow> {
  const row = await sectionQuery(db).where('s.gid', '=', sectionGid).executeTakeFirst();
  if (!row) throw new NotFoundError('Section not found');
  return row;
}

export async function listSections(db: Db, viewer: Viewer, projectGid: string, page: Page): Promise<KeysetPage<SectionRow>> {
  await assertProjectVisible(db, viewer, projectGid);
  return keysetPage(db, sectionQuery(db).where('s.project_gid', '=', projectGid), { keys: [{ column: 'position' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

/** Tasks of a section the viewer can see, in board order. */
export async function listSectionTasks(db: Db, viewer: Viewer, sectionGid: string, projectGid: string, page: Page, completedSince?: Date | 'now'): Promise<KeysetPage<{ gid: string; name: string; resource_subtype: string; position: number }>> {
  let query = db
    .selectFrom('task_projects as tp')
    .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
    .select(['t.gid', 't.name', 't.resource_subtype', 'tp.position'])
    .where('tp.project_gid', '=', projectGid)
    .where('tp.section_gid', '=', sectionGid)
    .where(taskVisible(viewer, 't'));
  if (completedSince === 'now') query = query.where('t.completed', '=', false);
  else if (completedSince) query = query.where((eb) => eb.or([eb('t.completed', '=', false), eb('t.completed_at', '>=', completedSince)]));
  return keysetPage(db, query, { keys: [{ column: 'position' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}
