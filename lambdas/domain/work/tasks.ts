/**
 * Task use cases. Access decisions come from the policy module; writes keep modified_at:
 * a change of a task's relations (projects, sections, tags, followers, likes, comments,
 * subtasks) moves it too, so incremental exports write the task again.
 */
import { sql } from 'kysely';
import { dateValue, json } from '../../db/query.js';
import type { AssigneeStatus } from '../../db/schema.js';
import { users } from '../../db/repositories/users.js';
import { canAddTaskToProject, canEditTask, canSeeProject, canSeeTag, canSeeTask, customFieldVisible, organizationRole, type Viewer } from '../access/policy.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, GoneError, NotFoundError } from '../errors.js';
import { movedTo, nextPosition, positionBetween, touchRows, type Db } from './common.js';

export interface TaskFields {
  name?: string;
  notes?: string;
  resource_subtype?: 'default_task' | 'milestone' | 'approval';
  completed?: boolean;
  assignee?: string | null;
  assignee_status?: AssigneeStatus;
  due_on?: string | null;
  start_on?: string | null;
  custom_fields?: Record<string, unknown>;
}

export interface CreateTaskInput extends TaskFields {
  workspace?: string;
  projects?: string[];
  memberships?: { project: string; section?: string }[];
  parent?: string | null;
  followers?: string[];
  tags?: string[];
}

export const RESTORE_DAYS = 30;

async function assertMember(db: Db, viewer: Viewer, userGid: string, field: string) {
  if (!(await organizationRole(db, userGid, viewer.organizationGid))) throw new BadRequestError(`${field}: user ${userGid} is not a member of this workspace`, [{ message: `${field}: not a member of this workspace` }]);
}

/** "me", an email or a user gid, as the gid it names ("me" is the viewer; an unknown email names nobody). */
async function userGidOf(db: Db, viewer: Viewer, identifier: string): Promise<string | undefined> {
  const id = identifier.trim();
  if (id === 'me') return viewer.userGid;
  if (id.includes('@')) return (await users.findByEmail(db, id))?.gid;
  return id;
}

/** "me", an email or a user gid naming a member of the viewer's organization (400 otherwise). */
async function memberGid(db: Db, viewer: Viewer, identifier: string, field: string): Promise<string> {
  const gid = await userGidOf(db, viewer, identifier);
  if (!gid) throw new BadRequestError(`${field}: ${identifier} is not a member of this workspace`, [{ message: `${field}: not a member of this workspace` }]);
  await assertMember(db, viewer, gid, field);
  return gid;
}

async function touch(db: Db, gid: string, now: Date) {
  await touchRows(db, 'tasks', gid, now);
}

/** The parent of a task (its num_subtasks changes when the task comes, goes or moves). */
async function parentOf(db: Db, gid: string): Promise<string | null> {
  return (await db.selectFrom('tasks').select('parent_gid').where('gid', '=', gid).executeTakeFirst())?.parent_gid ?? null;
}

export async function assertTaskVisible(db: Db, viewer: Viewer, gid: string) {
  if (!(await canSeeTask(db, viewer, gid))) throw new NotFoundError('Task not found');
}

async function assertTaskEditable(db: Db, viewer: Viewer, gid: string) {
  await assertTaskVisible(db, viewer, gid);
  if (!(await canEditTask(db, viewer, gid))) throw new ForbiddenError('You can see this task but not change it');
}

/** The enum option gids a task has now for a field (enum or multi_enum). */
async function currentOptions(db: Db, taskGid: string, fieldGid: string): Promise<Set<string>> {
  const row = await db.selectFrom('task_custom_field_values').select(['enum_option_gid', 'multi_values']).where('task_gid', '=', taskGid).where('custom_field_gid', '=', fieldGid).executeTakeFirst();
  return new Set([...(row?.enum_option_gid ? [row.enum_option_gid] : []), ...(Array.isArray(row?.multi_values) ? row.multi_values : [])]);
}

/**
 * Validates and writes custom field values (text, number, enum, multi_enum, date, people).
 * Only fields the viewer can see; disabled enum options only when the task already has them.
 */
async function writeCustomFields(db: Db, viewer: Viewer, taskGid: string, values: Record<string, unknown>) {
  for (const [fieldGid, value] of Object.entries(values)) {
    // Only fields the viewer can see (guests: fields of their projects); deleted ones never match.
    const field = await db.selectFrom('custom_fields as cf').select(['cf.gid', 'cf.resource_subtype']).where('cf.gid', '=', fieldGid).where(customFieldVisible(viewer, 'cf')).executeTakeFirst();
    const bad = (why: string) => new BadRequestError(`custom_fields.${fieldGid}: ${why}`, [{ message: `data.custom_fields.${fieldGid}: ${why}` }]);
    if (!field) throw bad('no such custom field in this workspace');
    if (value === null) {
      await db.deleteFrom('task_custom_field_values').where('task_gid', '=', taskGid).where('custom_field_gid', '=', fieldGid).execute();
      continue;
    }
    const row = { task_gid: taskGid, custom_field_gid: fieldGid, text_value: null as string | null, number_value: null as number | null, date_value: null as unknown, enum_option_gid: null as string | null, multi_values: null as unknown };
    switch (field.resource_subtype) {
      case 'text':
        if (typeof value !== 'string' || value.length > 10_000) throw bad('must be a string of at most 10000 characters');
        row.text_value = value;
        break;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('must be a number');
        row.number_value = value;
        break;
      case 'date': {
        const day = typeof value === 'object' && value !== null ? (value as { date?: unknown }).date : value;
        if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw bad('must be {"date": "YYYY-MM-DD"}');
        row.date_value = dateValue(day);
        break;
      }
      case 'enum': {
        if (typeof value !== 'string') throw bad('must be an enum option gid');
        const opt = await db.selectFrom('custom_field_enum_options').select(['gid', 'enabled']).where('gid', '=', value).where('custom_field_gid', '=', fieldGid).executeTakeFirst();
        if (!opt) throw bad('is not an option of this field');
        // A disabled option stays on tasks that have it, but cannot be newly chosen.
        if (!opt.enabled && !(await currentOptions(db, taskGid, fieldGid)).has(value)) throw bad(`option ${value} is disabled`);
        row.enum_option_gid = value;
        break;
      }
      case 'multi_enum': {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || value.length > 100) throw bad('must be a list of enum option gids');
        if (value.length) {
          const opts = await db.selectFrom('custom_field_enum_options').select(['gid', 'enabled']).where('gid', 'in', value as string[]).where('custom_field_gid', '=', fieldGid).execute();
          if (opts.length !== new Set(value).size) throw bad('contains an option of another field');
          const disabled = opts.filter((o) => !o.enabled);
          if (disabled.length) {
            const current = await currentOptions(db, taskGid, fieldGid);
            const added = disabled.find((o) => !current.has(o.gid));
            if (added) throw bad(`option ${added.gid} is disabled`);
          }
        }
        row.multi_values = json([...new Set(value as string[])]);
        break;
      }
      default: {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || value.length > 100) throw bad('must be a list of user gids');
        for (const u of value as string[]) await assertMember(db, viewer, u, `data.custom_fields.${fieldGid}`);
        row.multi_values = json([...new Set(value as string[])]);
      }
    }
    await db
      .insertInto('task_custom_field_values')
      .values(row as never)
      .onConflict((oc) => oc.columns(['task_gid', 'custom_field_gid']).doUpdateSet(row as never))
      .execute();
  }
}

/** Organization of a new task: from the workspace, the first project or the parent. */
export async function organizationOfNewTask(db: Db, input: CreateTaskInput): Promise<string> {
  const project = input.projects?.[0] ?? input.memberships?.[0]?.project;
  if (project) {
    const p = await db.selectFrom('projects').select('organization_gid').where('gid', '=', project).executeTakeFirst();
    if (!p) throw new NotFoundError('Project not found');
    if (input.workspace && input.workspace !== p.organization_gid) throw new BadRequestError('The project is not in that workspace');
    return p.organization_gid;
  }
  if (input.parent) {
    const t = await db.selectFrom('tasks').select('organization_gid').where('gid', '=', input.parent).executeTakeFirst();
    if (!t) throw new NotFoundError('Parent task not found');
    return t.organization_gid;
  }
  if (input.workspace) return input.workspace;
  throw new BadRequestError('A task needs a workspace, a project or a parent', [{ message: 'data: give workspace, projects, memberships or parent' }]);
}

export async function createTask(deps: AppDeps, viewer: Viewer, input: CreateTaskInput): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    const placements: { project: string; section?: string | undefined }[] = [...(input.memberships ?? []), ...(input.projects ?? []).map((project) => ({ project }))];
    for (const m of placements) {
      if (!(await canAddTaskToProject(db, viewer, m.project))) throw new NotFoundError('Project not found');
    }
    if (input.parent) await assertTaskEditable(db, viewer, input.parent);
    const assignee = input.assignee ? await memberGid(db, viewer, input.assignee, 'data.assignee') : null;
    const named: string[] = [];
    for (const f of input.followers ?? []) named.push(await memberGid(db, viewer, f, 'data.followers'));
    await db
      .insertInto('tasks')
      .values({
        gid,
        organization_gid: viewer.organizationGid,
        name: input.name ?? '',
        notes: input.notes ?? '',
        resource_subtype: input.resource_subtype ?? 'default_task',
        completed: input.completed ?? false,
        completed_at: input.completed ? now : null,
        assignee_gid: assignee,
        assignee_status: input.assignee_status ?? 'inbox',
        due_on: input.due_on ? dateValue(input.due_on) : null,
        start_on: input.start_on ? dateValue(input.start_on) : null,
        parent_gid: input.parent ?? null,
        created_by: viewer.userGid,
        created_at: now,
        modified_at: now,
      })
      .execute();
    await db.insertInto('task_ancestors').values({ task_gid: gid, ancestor_gid: gid, depth: 0 }).execute();
    if (input.parent) {
      await sql`insert into task_ancestors (task_gid, ancestor_gid, depth) select ${gid}, ancestor_gid, depth + 1 from task_ancestors where task_gid = ${input.parent}`.execute(db);
      await touch(db, input.parent, now);
    }
    const seen = new Set<string>();
    for (const m of placements) {
      if (seen.has(m.project)) continue;
      seen.add(m.project);
      await placeInProject(db, gid, m.project, m.section ?? null, now);
    }
    // The creator and the assignee follow the task, as in Asana.
    const followers = new Set([viewer.userGid, ...named, ...(assignee ? [assignee] : [])]);
    for (const f of followers) await db.insertInto('task_followers').values({ task_gid: gid, user_gid: f, created_at: now }).execute();
    for (const tag of input.tags ?? []) await addTag(db, viewer, gid, tag, now);
    if (input.custom_fields) await writeCustomFields(db, viewer, gid, input.custom_fields);
  });
  return gid;
}

async function placeInProject(db: Db, taskGid: string, projectGid: string, sectionGid: string | null, now: Date, where?: { insertBefore?: string | null; insertAfter?: string | null }) {
  if (sectionGid) {
    const s = await db.selectFrom('sections').select('project_gid').where('gid', '=', sectionGid).where('deleted_at', 'is', null).executeTakeFirst();
    if (!s || s.project_gid !== projectGid) throw new BadRequestError('The section is not in that project', [{ message: 'data.section: not a section of the project' }]);
  }
  let position = await nextPosition(db, 'task_projects', 'project_gid', projectGid);
  const anchor = where?.insertBefore ?? where?.insertAfter;
  if (anchor) {
    const a = await db.selectFrom('task_projects').select('position').where('task_gid', '=', anchor).where('project_gid', '=', projectGid).executeTakeFirst();
    if (!a) throw new BadRequestError('insert_before/insert_after must name a task in the project');
    const neighbour = where?.insertBefore
      ? await db.selectFrom('task_projects').select('position').where('project_gid', '=', projectGid).where('position', '<', a.position).orderBy('position', 'desc').executeTakeFirst()
      : await db.selectFrom('task_projects').select('position').where('project_gid', '=', projectGid).where('position', '>', a.position).orderBy('position').executeTakeFirst();
    position = where?.insertBefore ? positionBetween(neighbour?.position ?? null, a.position) : positionBetween(a.position, neighbour?.position ?? null);
  }
  await db
    .insertInto('task_projects')
    .values({ task_gid: taskGid, project_gid: projectGid, section_gid: sectionGid, position, added_at: now })
    .onConflict((oc) => oc.columns(['task_gid', 'project_gid']).doUpdateSet({ section_gid: sectionGid, position }))
    .execute();
}

export async function updateTask(deps: AppDeps, viewer: Viewer, gid: string, input: TaskFields): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    const set: Record<string, unknown> = { modified_at: sql`greatest(modified_at, ${now})` };
    if (input.name !== undefined) set.name = input.name;
    if (input.notes !== undefined) set.notes = input.notes;
    if (input.resource_subtype !== undefined) set.resource_subtype = input.resource_subtype;
    if (input.completed !== undefined) {
      set.completed = input.completed;
      set.completed_at = input.completed ? sql`coalesce(completed_at, ${now})` : null;
    }
    const assignee = input.assignee ? await memberGid(db, viewer, input.assignee, 'data.assignee') : input.assignee;
    if (assignee !== undefined) set.assignee_gid = assignee;
    if (input.assignee_status !== undefined) set.assignee_status = input.assignee_status;
    if (input.due_on !== undefined) set.due_on = input.due_on ? dateValue(input.due_on) : null;
    if (input.start_on !== undefined) set.start_on = input.start_on ? dateValue(input.start_on) : null;
    await db.updateTable('tasks').set(set).where('gid', '=', gid).execute();
    if (assignee) await db.insertInto('task_followers').values({ task_gid: gid, user_gid: assignee, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
    if (input.custom_fields) await writeCustomFields(db, viewer, gid, input.custom_fields);
  });
}

/** Soft-deletes a task and its subtasks (one deleted_at, so they are restored together). */
export async function deleteTask(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    await sql`update tasks set deleted_at = ${now}, modified_at = greatest(modified_at, ${now}) where deleted_at is null and gid in (select task_gid from task_ancestors where ancestor_gid = ${gid})`.execute(db);
    const parent = await parentOf(db, gid);
    if (parent) await touch(db, parent, now);
  });
}

/** Restores a task deleted less than 30 days ago, with the subtasks deleted with it. */
export async function restoreTask(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const task = await db.selectFrom('tasks').select(['deleted_at', 'organization_gid']).where('gid', '=', gid).executeTakeFirst();
    if (!task || task.organization_gid !== viewer.organizationGid) throw new NotFoundError('Task not found');
    // Not deleted: nothing to restore, but the answer is the task, so the caller must be allowed to change it.
    if (!task.deleted_at) return assertTaskEditable(db, viewer, gid);
    // Whoever could change it before deletion may restore it: check with the deletion undone
    // (any refusal below rolls the transaction back).
    await sql`update tasks set deleted_at = null, modified_at = greatest(modified_at, ${now}) where deleted_at = ${task.deleted_at} and gid in (select task_gid from task_ancestors where ancestor_gid = ${gid})`.execute(db);
    if (!(await canEditTask(db, viewer, gid))) throw new NotFoundError('Task not found');
    // Only after the access check: otherwise 410 tells anyone which gids are long-deleted tasks.
    if (now.getTime() - task.deleted_at.getTime() > RESTORE_DAYS * 86_400_000) throw new GoneError('Deleted tasks can be restored for 30 days; this one is gone');
    const parent = await parentOf(db, gid);
    if (parent) await touch(db, parent, now);
  });
}

/** Moves a task under another parent (or to top level); keeps the ancestry closure right. */
export async function setParent(deps: AppDeps, viewer: Viewer, gid: string, input: { parent: string | null; insert_before?: string | null; insert_after?: string | null }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    if (input.parent) {
      await assertTaskEditable(db, viewer, input.parent);
      const cycle = await db.selectFrom('task_ancestors').select('task_gid').where('task_gid', '=', input.parent).where('ancestor_gid', '=', gid).executeTakeFirst();
      if (cycle) throw new BadRequestError('A task cannot become a subtask of itself or of its own subtasks', [{ message: 'data.parent: would create a cycle' }]);
    }
    const previous = await parentOf(db, gid);
    // Remove the old ancestors of the subtree, then add the new ones.
    await sql`delete from task_ancestors where task_gid in (select task_gid from task_ancestors where ancestor_gid = ${gid}) and ancestor_gid in (select ancestor_gid from task_ancestors where task_gid = ${gid} and ancestor_gid <> ${gid})`.execute(db);
    if (input.parent) {
      await sql`insert into task_ancestors (task_gid, ancestor_gid, depth)
        select sub.task_gid, sup.ancestor_gid, sub.depth + sup.depth + 1
        from task_ancestors sub cross join task_ancestors sup
        where sub.ancestor_gid = ${gid} and sup.task_gid = ${input.parent}`.execute(db);
    }
    await db.updateTable('tasks').set({ parent_gid: input.parent, modified_at: movedTo(now) }).where('gid', '=', gid).execute();
    // Both parents' subtasks changed.
    await touchRows(db, 'tasks', [previous, input.parent].filter((p): p is string => p !== null), now);
  });
}

export async function addProject(deps: AppDeps, viewer: Viewer, gid: string, input: { project: string; section?: string | null; insert_before?: string | null; insert_after?: string | null }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    if (!(await canAddTaskToProject(db, viewer, input.project))) throw new NotFoundError('Project not found');
    await placeInProject(db, gid, input.project, input.section ?? null, now, { insertBefore: input.insert_before ?? null, insertAfter: input.insert_after ?? null });
    await touch(db, gid, now);
  });
}

export async function removeProject(deps: AppDeps, viewer: Viewer, gid: string, projectGid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    // Taking a task out of a project changes the project: the same rule as putting it in.
    if (!(await canSeeProject(db, viewer, projectGid))) throw new NotFoundError('Project not found');
    if (!(await canAddTaskToProject(db, viewer, projectGid))) throw new ForbiddenError('You can see this project but not change its tasks');
    await db.deleteFrom('task_projects').where('task_gid', '=', gid).where('project_gid', '=', projectGid).execute();
    await touch(db, gid, now);
  });
}

async function addTag(db: Db, viewer: Viewer, taskGid: string, tagGid: string, now: Date) {
  if (!(await canSeeTag(db, viewer, tagGid))) throw new NotFoundError('Tag not found');
  await db.insertInto('task_tags').values({ task_gid: taskGid, tag_gid: tagGid, added_at: now }).onConflict((oc) => oc.doNothing()).execute();
}

export async function changeTags(deps: AppDeps, viewer: Viewer, gid: string, tagGid: string, add: boolean): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    if (add) await addTag(db, viewer, gid, tagGid, now);
    else await db.deleteFrom('task_tags').where('task_gid', '=', gid).where('tag_gid', '=', tagGid).execute();
    await touch(db, gid, now);
  });
}

export async function changeFollowers(deps: AppDeps, viewer: Viewer, gid: string, people: string[], add: boolean): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskEditable(db, viewer, gid);
    for (const identifier of people) {
      if (add) {
        const u = await memberGid(db, viewer, identifier, 'data.followers');
        await db.insertInto('task_followers').values({ task_gid: gid, user_gid: u, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
      } else {
        const u = await userGidOf(db, viewer, identifier);
        if (u) await db.deleteFrom('task_followers').where('task_gid', '=', gid).where('user_gid', '=', u).execute();
      }
    }
    await touch(db, gid, now);
  });
}

export async function setLiked(deps: AppDeps, viewer: Viewer, gid: string, liked: boolean): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertTaskVisible(db, viewer, gid);
    if (liked) await db.insertInto('task_likes').values({ task_gid: gid, user_gid: viewer.userGid, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
    else await db.deleteFrom('task_likes').where('task_gid', '=', gid).where('user_gid', '=', viewer.userGid).execute();
    // Unlike Asana, a like moves the task's modified_at (its likes are part of what is exported).
    await touch(db, gid, now);
  });
}

/** Copies a task (name given; notes, assignee, projects, tags, followers, subtasks as asked). */
export async function duplicateTask(deps: AppDeps, viewer: Viewer, gid: string, input: { name: string; include?: string[] }): Promise<string> {
  const include = new Set(input.include ?? []);
  const db = deps.database.db;
  await assertTaskVisible(db, viewer, gid);
  const source = await db.selectFrom('tasks').selectAll().where('gid', '=', gid).executeTakeFirstOrThrow();
  const projects = include.has('projects') ? await db.selectFrom('task_projects').select(['project_gid', 'section_gid']).where('task_gid', '=', gid).execute() : [];
  const tags = include.has('tags') ? (await db.selectFrom('task_tags').select('tag_gid').where('task_gid', '=', gid).execute()).map((t) => t.tag_gid) : [];
  const followers = include.has('followers') ? (await db.selectFrom('task_followers').select('user_gid').where('task_gid', '=', gid).execute()).map((f) => f.user_gid) : [];
  const copy = await createTask(deps, viewer, {
    workspace: source.organization_gid,
    name: input.name,
    notes: include.has('notes') ? source.notes : '',
    resource_subtype: source.resource_subtype,
    assignee: include.has('assignee') ? source.assignee_gid : null,
    due_on: include.has('dates') ? ((source.due_on as string | null) ?? null) : null,
    start_on: include.has('dates') ? ((source.start_on as string | null) ?? null) : null,
    parent: include.has('parent') ? source.parent_gid : null,
    memberships: projects.map((p) => ({ project: p.project_gid, ...(p.section_gid ? { section: p.section_gid } : {}) })),
    tags,
    followers,
  });
  if (include.has('subtasks')) {
    const subtasks = await db.selectFrom('tasks').select(['gid', 'name']).where('parent_gid', '=', gid).where('deleted_at', 'is', null).orderBy('created_at').execute();
    for (const s of subtasks) {
      const child = await duplicateTask(deps, viewer, s.gid, { name: s.name, include: [...include].filter((i) => i !== 'parent' && i !== 'projects') });
      await setParent(deps, viewer, child, { parent: copy });
    }
  }
  return copy;
}
