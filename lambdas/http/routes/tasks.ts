/** Tasks: Asana's task endpoints. Access decisions come from the policy module. */
import { sql, type SelectQueryBuilder } from 'kysely';
import { z } from 'zod';
import { keysetPage, type KeysetColumn } from '../../db/query.js';
import type { DB } from '../../db/schema.js';
import { canSeeProject, canSeeTag, taskVisible, viewerIn, type Viewer } from '../../domain/access/policy.js';
import { viewerForObject } from '../../domain/work/common.js';
import { taskCompact } from '../../domain/work/present.js';
import { loadTaskViews } from '../../domain/work/task-views.js';
import {
  addProject,
  assertTaskVisible,
  changeFollowers,
  changeTags,
  createTask,
  deleteTask,
  duplicateTask,
  organizationOfNewTask,
  removeProject,
  restoreTask,
  setLiked,
  setParent,
  updateTask,
} from '../../domain/work/tasks.js';
import type { AppDeps } from '../../domain/deps.js';
import { BadRequestError, NotFoundError } from '../../domain/errors.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type RouteInput, type RouteSchemas, type UserPrincipal } from '../route.js';
import { gid, longText } from '../schemas.js';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(d)), 'must be a real date');
const name = z.string().max(1024);
const notes = longText();
const gidList = z.array(gid).max(100);
/** How Asana names a user in task bodies: "me", an email address, or a user gid. */
const userIdentifier = z
  .string()
  .trim()
  .max(320)
  .regex(/^(me|\d{1,19}|[^\s@/,]+@[^\s@/,]+\.[^\s@/,]+)$/, 'must be "me", an email or a user gid')
  .meta({ description: 'A user: "me", an email address, or a user gid.', example: 'me' });

export const taskCompactSchema = z.object({ gid, resource_type: z.literal('task'), name: z.string(), resource_subtype: z.string() }).meta({ id: 'TaskCompact' });
const userRef = z.object({ gid, resource_type: z.literal('user'), name: z.string() });
const projectRef = z.object({ gid, resource_type: z.literal('project'), name: z.string() });
export const taskSchema = taskCompactSchema
  .extend({
    notes: z.string(),
    completed: z.boolean(),
    completed_at: z.string().nullable(),
    assignee: userRef.nullable(),
    assignee_status: z.enum(['inbox', 'today', 'upcoming', 'later']),
    due_on: z.string().nullable(),
    start_on: z.string().nullable(),
    created_at: z.string(),
    modified_at: z.string(),
    parent: taskCompactSchema.nullable(),
    num_subtasks: z.number(),
    projects: z.array(projectRef),
    memberships: z.array(z.object({ project: projectRef, section: z.object({ gid, resource_type: z.literal('section'), name: z.string() }).optional() })),
    tags: z.array(z.object({ gid, resource_type: z.literal('tag'), name: z.string() })),
    followers: z.array(userRef),
    likes: z.array(z.object({ gid, user: userRef })),
    liked: z.boolean(),
    num_likes: z.number(),
    custom_fields: z.array(z.object({ gid, resource_type: z.literal('custom_field'), name: z.string(), display_value: z.string().nullable() }).loose()),
    workspace: z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }),
    permalink_url: z.string(),
  })
  .loose()
  .meta({ id: 'Task' });

const writable = {
  name: name.optional(),
  notes: notes.optional(),
  resource_subtype: z.enum(['default_task', 'milestone', 'approval']).optional(),
  completed: z.boolean().optional(),
  assignee: userIdentifier.nullable().optional(),
  assignee_status: z.enum(['inbox', 'today', 'upcoming', 'later']).optional(),
  due_on: day.nullable().optional(),
  start_on: day.nullable().optional(),
  custom_fields: z.record(gid, z.unknown()).optional(),
};
const createBody = z.object({
  ...writable,
  workspace: gid.optional(),
  projects: gidList.optional(),
  memberships: z.array(z.object({ project: gid, section: gid.optional() })).max(100).optional(),
  parent: gid.nullable().optional(),
  followers: z.array(userIdentifier).max(100).optional(),
  tags: gidList.optional(),
});
const taskParams = z.object({ task_gid: gid });
const ok = dataBody(z.object({}));

async function taskAnswer(deps: AppDeps, viewer: Viewer, taskGid: string, baseUrl: string) {
  const view = (await loadTaskViews(deps.database.db, [taskGid], viewer, baseUrl)).get(taskGid);
  if (!view) throw new NotFoundError('Task not found');
  return view;
}

/** The viewer for a task the caller can see (404 otherwise). */
async function visibleTask(deps: AppDeps, principal: UserPrincipal, taskGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(deps.database.db, principal, 'tasks', taskGid);
  await assertTaskVisible(deps.database.db, viewer, taskGid);
  return viewer;
}

/**
 * One page of tasks from `base` (which selects gid and the sort keys), visible to the
 * viewer, compact or (with opt_fields) full.
 */
export async function taskPage<S extends RouteSchemas>(
  input: RouteInput<S, 'user'>,
  viewer: Viewer,
  base: SelectQueryBuilder<DB, 'tasks' | any, { gid: string } & Record<string, unknown>>,
  keys: KeysetColumn[],
) {
  const { deps, page, query, meta } = input;
  const result = await keysetPage(deps.database.db, base.where(taskVisible(viewer, 't')), { keys, limit: page.limit, after: page.offset });
  const gids = result.rows.map((r) => r.gid);
  if (query.opt_fields) {
    const views = await loadTaskViews(deps.database.db, gids, viewer, meta.baseUrl);
    return { kind: 'list' as const, next: result.next, data: gids.map((g) => views.get(g)).filter(Boolean) };
  }
  return { kind: 'list' as const, next: result.next, data: result.rows.map((r) => taskCompact(r as unknown as { gid: string; name: string; resource_subtype: string })) };
}

const completedSince = z.union([z.literal('now'), z.iso.datetime({ offset: true })]).optional();

function applyCompletedSince<Q extends SelectQueryBuilder<DB, any, any>>(q: Q, since: string | undefined, now: Date): Q {
  if (!since) return q;
  const at = since === 'now' ? now : new Date(since);
  return q.where(sql<boolean>`(t.completed = false or t.completed_at >= ${at})`) as Q;
}

export const createTaskRoute = defineRoute({
  method: 'POST',
  path: '/tasks',
  scope: 'api',
  operationId: 'createTask',
  summary: 'Create a task',
  tags: ['Tasks'],
  auth: 'user',
  request: { body: createBody },
  responses: { 201: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, body, meta, deps }) {
    const organizationGid = await organizationOfNewTask(deps.database.db, body);
    const viewer = await viewerIn(deps.database.db, principal, organizationGid);
    const created = await createTask(deps, viewer, body);
    return { kind: 'data', status: 201, data: await taskAnswer(deps, viewer, created, meta.baseUrl) };
  },
});

export const getTaskRoute = defineRoute({
  method: 'GET',
  path: '/tasks/{task_gid}',
  scope: 'api',
  operationId: 'getTask',
  summary: 'Get a task',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams },
  responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, params, meta, deps }) {
    const viewer = await visibleTask(deps, principal, params.task_gid);
    return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
  },
});

export const updateTaskRoute = defineRoute({
  method: 'PUT',
  path: '/tasks/{task_gid}',
  scope: 'api',
  operationId: 'updateTask',
  summary: 'Update a task',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: z.object(writable) },
  responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, params, body, meta, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await updateTask(deps, viewer, params.task_gid, body);
    return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
  },
});

export const deleteTaskRoute = defineRoute({
  method: 'DELETE',
  path: '/tasks/{task_gid}',
  scope: 'api',
  operationId: 'deleteTask',
  summary: 'Delete a task (it can be restored for 30 days)',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams },
  responses: { 200: { description: 'Deleted', schema: ok } },
  async handle({ principal, params, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await deleteTask(deps, viewer, params.task_gid);
    return { kind: 'data', data: {} };
  },
});

export const restoreTaskRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/restore',
  scope: 'api',
  operationId: 'restoreTask',
  summary: 'Restore a task deleted in the past 30 days (with the subtasks deleted with it)',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams },
  responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, params, meta, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await restoreTask(deps, viewer, params.task_gid);
    return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
  },
});

export const listTasksRoute = defineRoute({
  method: 'GET',
  path: '/tasks',
  scope: 'api',
  operationId: 'getTasks',
  summary: 'Tasks of a project, a section, or an assignee in a workspace',
  tags: ['Tasks'],
  auth: 'user',
  request: {
    query: z.object({
      project: gid.optional(),
      section: gid.optional(),
      assignee: z.union([gid, z.literal('me')]).optional(),
      workspace: gid.optional(),
      completed_since: completedSince,
      modified_since: z.iso.datetime({ offset: true }).optional(),
    }),
  },
  responses: { 200: { description: 'Tasks', schema: listBody(taskCompactSchema) } },
  async handle(input) {
    const { principal, query, deps } = input;
    const db = deps.database.db;
    let organizationGid: string;
    let base: SelectQueryBuilder<DB, any, { gid: string } & Record<string, unknown>> = db.selectFrom('tasks as t').select(['t.gid', 't.name', 't.resource_subtype']);
    let keys: KeysetColumn[] = [{ column: 'gid' }];
    let projectGid: string | undefined;
    if (query.project || query.section) {
      projectGid = query.project ?? (await db.selectFrom('sections').select('project_gid').where('gid', '=', query.section!).where('deleted_at', 'is', null).executeTakeFirst())?.project_gid;
      if (!projectGid) throw new NotFoundError();
      const p = await db.selectFrom('projects').select('organization_gid').where('gid', '=', projectGid).executeTakeFirst();
      if (!p) throw new NotFoundError();
      organizationGid = p.organization_gid;
      let inProject = db
        .selectFrom('tasks as t')
        .innerJoin('task_projects as tp', 'tp.task_gid', 't.gid')
        .select(['t.gid', 't.name', 't.resource_subtype', 'tp.position'])
        .where('tp.project_gid', '=', projectGid);
      if (query.section) inProject = inProject.where('tp.section_gid', '=', query.section);
      base = inProject;
      keys = [{ column: 'position' }, { column: 'gid' }];
    } else if (query.assignee && query.workspace) {
      organizationGid = query.workspace;
      const assignee = query.assignee === 'me' ? principal.user.gid : query.assignee;
      base = db.selectFrom('tasks as t').select(['t.gid', 't.name', 't.resource_subtype']).where('t.assignee_gid', '=', assignee).where('t.organization_gid', '=', query.workspace);
    } else {
      throw new BadRequestError('Give project, section, or assignee with workspace', [{ message: 'query: must specify project, section, or assignee and workspace' }]);
    }
    const viewer = await viewerIn(db, principal, organizationGid);
    // The project named, or the section's: 404 when the caller may not see it (nor learn that the section exists).
    if (projectGid && !(await canSeeProject(db, viewer, projectGid))) throw new NotFoundError();
    base = applyCompletedSince(base, query.completed_since, deps.clock.now());
    if (query.modified_since) base = base.where(sql<boolean>`t.modified_at >= ${new Date(query.modified_since)}`);
    return taskPage(input, viewer, base, keys);
  },
});

export const projectTasksRoute = defineRoute({
  method: 'GET',
  path: '/projects/{project_gid}/tasks',
  scope: 'api',
  operationId: 'getTasksForProject',
  summary: 'Tasks in a project, in project order',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: z.object({ project_gid: gid }), query: z.object({ completed_since: completedSince }) },
  responses: { 200: { description: 'Tasks', schema: listBody(taskCompactSchema) } },
  async handle(input) {
    const { principal, params, query, deps } = input;
    const db = deps.database.db;
    const viewer = await viewerForObject(db, principal, 'projects', params.project_gid);
    if (!(await canSeeProject(db, viewer, params.project_gid))) throw new NotFoundError('Project not found');
    let base = db.selectFrom('tasks as t').innerJoin('task_projects as tp', 'tp.task_gid', 't.gid').select(['t.gid', 't.name', 't.resource_subtype', 'tp.position']).where('tp.project_gid', '=', params.project_gid);
    base = applyCompletedSince(base, query.completed_since, deps.clock.now());
    return taskPage(input, viewer, base, [{ column: 'position' }, { column: 'gid' }]);
  },
});

export const subtasksRoute = defineRoute({
  method: 'GET',
  path: '/tasks/{task_gid}/subtasks',
  scope: 'api',
  operationId: 'getSubtasksForTask',
  summary: 'Subtasks of a task',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams },
  responses: { 200: { description: 'Subtasks', schema: listBody(taskCompactSchema) } },
  async handle(input) {
    const { principal, params, deps } = input;
    const viewer = await visibleTask(deps, principal, params.task_gid);
    const base = deps.database.db.selectFrom('tasks as t').select(['t.gid', 't.name', 't.resource_subtype', 't.created_at']).where('t.parent_gid', '=', params.task_gid);
    return taskPage(input, viewer, base, [{ column: 'created_at' }, { column: 'gid' }]);
  },
});

export const createSubtaskRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/subtasks',
  scope: 'api',
  operationId: 'createSubtaskForTask',
  summary: 'Create a subtask',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: createBody.omit({ parent: true, workspace: true }) },
  responses: { 201: { description: 'The subtask', schema: dataBody(taskSchema) } },
  async handle({ principal, params, body, meta, deps }) {
    const viewer = await visibleTask(deps, principal, params.task_gid);
    const created = await createTask(deps, viewer, { ...body, parent: params.task_gid });
    return { kind: 'data', status: 201, data: await taskAnswer(deps, viewer, created, meta.baseUrl) };
  },
});

export const setParentRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/setParent',
  scope: 'api',
  operationId: 'setParentForTask',
  summary: 'Make a task a subtask of another, or a top-level task (parent: null)',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: z.object({ parent: gid.nullable(), insert_before: gid.nullable().optional(), insert_after: gid.nullable().optional() }) },
  responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, params, body, meta, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await setParent(deps, viewer, params.task_gid, body);
    return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
  },
});

export const addProjectRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/addProject',
  scope: 'api',
  operationId: 'addProjectForTask',
  summary: 'Add a task to a project (multi-homing), optionally in a section or position',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: z.object({ project: gid, section: gid.nullable().optional(), insert_before: gid.nullable().optional(), insert_after: gid.nullable().optional() }) },
  responses: { 200: { description: 'Added', schema: ok } },
  async handle({ principal, params, body, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await addProject(deps, viewer, params.task_gid, body);
    return { kind: 'data', data: {} };
  },
});

export const removeProjectRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/removeProject',
  scope: 'api',
  operationId: 'removeProjectForTask',
  summary: 'Remove a task from a project',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: z.object({ project: gid }) },
  responses: { 200: { description: 'Removed', schema: ok } },
  async handle({ principal, params, body, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await removeProject(deps, viewer, params.task_gid, body.project);
    return { kind: 'data', data: {} };
  },
});

const tagRoute = (add: boolean) =>
  defineRoute({
    method: 'POST',
    path: `/tasks/{task_gid}/${add ? 'addTag' : 'removeTag'}`,
    scope: 'api',
    operationId: add ? 'addTagForTask' : 'removeTagForTask',
    summary: add ? 'Add a tag to a task' : 'Remove a tag from a task',
    tags: ['Tasks'],
    auth: 'user',
    request: { params: taskParams, body: z.object({ tag: gid }) },
    responses: { 200: { description: 'Done', schema: ok } },
    async handle({ principal, params, body, deps }) {
      const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
      await changeTags(deps, viewer, params.task_gid, body.tag, add);
      return { kind: 'data', data: {} };
    },
  });

const followersRoute = (add: boolean) =>
  defineRoute({
    method: 'POST',
    path: `/tasks/{task_gid}/${add ? 'addFollowers' : 'removeFollowers'}`,
    scope: 'api',
    operationId: add ? 'addFollowersForTask' : 'removeFollowerForTask',
    summary: add ? 'Add followers (collaborators) to a task' : 'Remove followers from a task',
    tags: ['Tasks'],
    auth: 'user',
    request: { params: taskParams, body: z.object({ followers: z.array(userIdentifier).min(1).max(100) }) },
    responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
    async handle({ principal, params, body, meta, deps }) {
      const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
      await changeFollowers(deps, viewer, params.task_gid, body.followers, add);
      return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
    },
  });

export const likeTaskRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/like',
  scope: 'api',
  operationId: 'likeTask',
  summary: 'Like or unlike a task ({"liked": true|false})',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: taskParams, body: z.object({ liked: z.boolean() }) },
  responses: { 200: { description: 'The task', schema: dataBody(taskSchema) } },
  async handle({ principal, params, body, meta, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    await setLiked(deps, viewer, params.task_gid, body.liked);
    return { kind: 'data', data: await taskAnswer(deps, viewer, params.task_gid, meta.baseUrl) };
  },
});

const DUPLICATE_INCLUDES = ['notes', 'assignee', 'subtasks', 'attachments', 'tags', 'followers', 'projects', 'dates', 'parent'] as const;

export const duplicateTaskRoute = defineRoute({
  method: 'POST',
  path: '/tasks/{task_gid}/duplicate',
  scope: 'api',
  operationId: 'duplicateTask',
  summary: 'Duplicate a task (done at once; answers with a finished job)',
  tags: ['Tasks'],
  auth: 'user',
  request: {
    params: taskParams,
    body: z.object({ name: name.min(1), include: z.union([z.array(z.enum(DUPLICATE_INCLUDES)), z.string().max(200)]).optional() }),
  },
  responses: { 201: { description: 'The job', schema: dataBody(z.object({ gid, resource_type: z.literal('job'), resource_subtype: z.string(), status: z.string(), new_task: taskCompactSchema }).loose()) } },
  async handle({ principal, params, body, deps }) {
    const include = typeof body.include === 'string' ? body.include.split(',').map((s) => s.trim()).filter(Boolean) : (body.include ?? []);
    const bad = include.filter((i) => !(DUPLICATE_INCLUDES as readonly string[]).includes(i));
    if (bad.length) throw new BadRequestError('Unknown include', [{ message: `data.include: unknown values ${bad.join(', ')}` }]);
    const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
    const copy = await duplicateTask(deps, viewer, params.task_gid, { name: body.name, include });
    const row = await deps.database.db.selectFrom('tasks').select(['gid', 'name', 'resource_subtype']).where('gid', '=', copy).executeTakeFirstOrThrow();
    return { kind: 'data', status: 201, data: { gid: deps.ids.gid(), resource_type: 'job', resource_subtype: 'duplicate_task', status: 'succeeded', new_task: taskCompact(row) } };
  },
});

export const tagTasksRoute = defineRoute({
  method: 'GET',
  path: '/tags/{tag_gid}/tasks',
  scope: 'api',
  operationId: 'getTasksForTag',
  summary: 'Tasks with a tag',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: z.object({ tag_gid: gid }) },
  responses: { 200: { description: 'Tasks', schema: listBody(taskCompactSchema) } },
  async handle(input) {
    const { principal, params, deps } = input;
    const db = deps.database.db;
    const viewer = await viewerForObject(db, principal, 'tags', params.tag_gid);
    if (!(await canSeeTag(db, viewer, params.tag_gid))) throw new NotFoundError('Tag not found');
    const base = db.selectFrom('tasks as t').innerJoin('task_tags as tt', 'tt.task_gid', 't.gid').select(['t.gid', 't.name', 't.resource_subtype', 'tt.added_at']).where('tt.tag_gid', '=', params.tag_gid);
    return taskPage(input, viewer, base, [{ column: 'added_at' }, { column: 'gid' }]);
  },
});

export const taskRoutes = [
  createTaskRoute,
  getTaskRoute,
  updateTaskRoute,
  deleteTaskRoute,
  restoreTaskRoute,
  listTasksRoute,
  projectTasksRoute,
  subtasksRoute,
  createSubtaskRoute,
  setParentRoute,
  addProjectRoute,
  removeProjectRoute,
  tagRoute(true),
  tagRoute(false),
  followersRoute(true),
  followersRoute(false),
  likeTaskRoute,
  duplicateTaskRoute,
  tagTasksRoute,
];
