/**
 * Task search (Asana's GET /workspaces/{gid}/tasks/search), My tasks (user task lists)
 * and saved searches (our resource: POST/GET/PUT/DELETE /saved_searches, re-run with
 * GET /saved_searches/{gid}/tasks). One zod schema validates the search's query
 * parameters and a saved search's filters; the use cases are in
 * lambdas/domain/work/search.ts and my-tasks.ts.
 */
import { z } from 'zod';
import type { Viewer } from '../../domain/access/policy.js';
import type { AppDeps } from '../../domain/deps.js';
import { BadRequestError } from '../../domain/errors.js';
import { myTasks, ownUserTaskList, userTaskListForUser } from '../../domain/work/my-tasks.js';
import {
  createSavedSearch,
  deleteSavedSearch,
  listSavedSearches,
  ownSavedSearch,
  runSavedSearch,
  savedSearchCompact,
  searchTasks,
  SEARCH_MAX_LIMIT,
  SEARCH_SUBTYPES,
  SORT_FIELDS,
  updateSavedSearch,
  type SearchFilters,
  type SearchResult,
} from '../../domain/work/search.js';
import { viewerIn } from '../../domain/access/policy.js';
import { loadTaskViews } from '../../domain/work/task-views.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type RequestMeta } from '../route.js';
import { gid, LONG_TEXT_BYTES } from '../schemas.js';
import { taskCompactSchema } from './tasks.js';

// --- The filter schema (query parameters of the search = filters of a saved search) ------

const MAX_LIST = 100;

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'must be a real date');
const dayOrNull = z
  .union([day, z.literal('null'), z.null()])
  .transform((v) => (v === 'null' ? null : v))
  .meta({ description: 'A date YYYY-MM-DD, or null for "no date".' });
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });
const bool = z
  .union([z.boolean(), z.enum(['true', 'false'], { message: 'must be true or false' })])
  .transform((v) => v === true || v === 'true')
  .meta({ description: 'true or false' });

/** A comma-separated list (or, in a saved search's JSON, an array) of 1-100 items. */
const list = (item: z.ZodType<string, string>, what: string) =>
  z
    .union([z.string().max(MAX_LIST * 330), z.array(z.string()).max(MAX_LIST)])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()))
    .pipe(z.array(item).min(1, `must list at least one ${what}`).max(MAX_LIST, `must list at most ${MAX_LIST} ${what}s`))
    .meta({ description: `Comma-separated list of ${what}s.` });
const userIdentifier = z
  .string()
  .max(320)
  .regex(/^(me|\d{1,19}|[^\s@/,]+@[^\s@/,]+\.[^\s@/,]+)$/, 'must be "me", a user gid or an email address');
const gids = (what: string) => list(gid, what);
const users = list(userIdentifier, 'user identifier ("me", a gid or an email)');

const filterShape = {
  text: z
    .string()
    .max(1024)
    .transform((v) => v.trim() || undefined)
    .optional()
    .meta({ description: 'Words that must all appear in the name or the notes (case-insensitive, literal).' }),
  resource_subtype: z.enum(SEARCH_SUBTYPES).optional(),
  'assignee.any': users.optional(),
  'assignee.not': users.optional(),
  'projects.any': gids('project gid').optional(),
  'projects.not': gids('project gid').optional(),
  'projects.all': gids('project gid').optional(),
  'sections.any': gids('section gid').optional(),
  'sections.not': gids('section gid').optional(),
  'sections.all': gids('section gid').optional(),
  'tags.any': gids('tag gid').optional(),
  'tags.not': gids('tag gid').optional(),
  'tags.all': gids('tag gid').optional(),
  'teams.any': gids('team gid').optional(),
  'followers.any': users.optional(),
  'followers.not': users.optional(),
  'created_by.any': users.optional(),
  'created_by.not': users.optional(),
  'liked_by.not': users.optional(),
  'commented_on_by.not': users.optional(),
  due_on: dayOrNull.optional(),
  'due_on.before': day.optional(),
  'due_on.after': day.optional(),
  'due_at.before': instant.optional().meta({ description: 'Accepted and ignored (tasks have due dates, not times).' }),
  'due_at.after': instant.optional().meta({ description: 'Accepted and ignored (tasks have due dates, not times).' }),
  start_on: dayOrNull.optional(),
  'start_on.before': day.optional(),
  'start_on.after': day.optional(),
  created_on: dayOrNull.optional(),
  'created_on.before': day.optional(),
  'created_on.after': day.optional(),
  'created_at.before': instant.optional(),
  'created_at.after': instant.optional(),
  completed_on: dayOrNull.optional(),
  'completed_on.before': day.optional(),
  'completed_on.after': day.optional(),
  'completed_at.before': instant.optional(),
  'completed_at.after': instant.optional(),
  modified_on: dayOrNull.optional(),
  'modified_on.before': day.optional(),
  'modified_on.after': day.optional(),
  'modified_at.before': instant.optional(),
  'modified_at.after': instant.optional(),
  has_attachment: bool.optional(),
  completed: bool.optional(),
  is_subtask: bool.optional(),
  sort_by: z.enum(SORT_FIELDS).optional().meta({ description: 'Default modified_at; relevance sorts as modified_at.' }),
  sort_ascending: bool.optional().meta({ description: 'Default false.' }),
};
const FILTER_NAMES = Object.keys(filterShape) as (keyof typeof filterShape)[];

/** Asana filters this backend does not implement: refused, never silently ignored. */
const UNSUPPORTED = /^(portfolios\.|assigned_by\.|custom_fields\.|custom_types\.|is_blocking$|is_blocked$)/;

/** The filters of a saved search: exactly the search's parameters (unknown names are refused). */
export const searchFiltersSchema = z
  .strictObject(filterShape)
  .meta({ id: 'SearchFilters', description: "Asana's task search parameters; lists as comma-separated strings or arrays, booleans as true/false." });

/**
 * A saved search's filters as stored: at most LONG_TEXT_BYTES as JSON (100 emails in each
 * of ten user lists would weigh 320 KB, more than the Data API returns in one row).
 */
const savedFiltersSchema = searchFiltersSchema.refine((filters) => Buffer.byteLength(JSON.stringify(definedFilters(filters))) <= LONG_TEXT_BYTES, `must be at most ${LONG_TEXT_BYTES} bytes as JSON`);

/** Drops absent filters (a saved search stores only the ones given). */
function definedFilters(value: Record<string, unknown>): SearchFilters {
  const out: Record<string, unknown> = {};
  for (const name of FILTER_NAMES) if (value[name] !== undefined) out[name] = value[name];
  return out as SearchFilters;
}

function refuseUnsupported(meta: RequestMeta) {
  const bad = Object.keys(meta.rawQuery).filter((k) => UNSUPPORTED.test(k));
  if (bad.length) throw new BadRequestError('Unsupported search filter', bad.map((k) => ({ message: `query.${k}: this filter is not supported` })));
}

// --- Answers -------------------------------------------------------------------------

const savedSearchSchema = z
  .object({
    gid,
    resource_type: z.literal('saved_search'),
    name: z.string(),
    workspace: z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }),
    filters: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    modified_at: z.string(),
  })
  .meta({ id: 'SavedSearch' });
const savedSearchListItem = savedSearchSchema.partial().extend({ gid, resource_type: z.literal('saved_search'), name: z.string() }).meta({ id: 'SavedSearchListItem' });
const userTaskListSchema = z
  .object({
    gid,
    resource_type: z.literal('user_task_list'),
    name: z.string(),
    owner: z.object({ gid, resource_type: z.literal('user'), name: z.string() }),
    workspace: z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }),
  })
  .meta({ id: 'UserTaskList' });
const searchLimit = (query: { limit?: number }) => query.limit ?? SEARCH_MAX_LIMIT;

/** Compact tasks, or the full representation (projected by the framework) with opt_fields. */
async function taskList(deps: AppDeps, viewer: Viewer, result: SearchResult, meta: RequestMeta, full: boolean) {
  if (!full) return { kind: 'list' as const, next: result.next, data: result.tasks };
  const views = await loadTaskViews(deps.database.db, result.tasks.map((t) => t.gid), viewer, meta.baseUrl);
  return { kind: 'list' as const, next: result.next, data: result.tasks.map((t) => views.get(t.gid)).filter(Boolean) };
}

const completedSince = z.union([z.literal('now'), z.iso.datetime({ offset: true })], { message: 'must be "now" or an ISO 8601 date-time' }).optional();
const savedParams = z.object({ saved_search_gid: gid });
const name = z.string().trim().min(1).max(256);

// --- Routes ----------------------------------------------------------------------------

export const searchTasksRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/tasks/search',
  scope: 'api',
  operationId: 'searchTasksForWorkspace',
  summary: 'Search tasks in a workspace',
  description:
    'Only tasks you can see are searched. Filters naming projects, sections or tags count only those you can see; unknown gids match nothing. ' +
    'Pages hold at most 100 tasks (the default) and continue with next_page; custom field, portfolio, assigned_by and dependency filters are refused.',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: z.object({ workspace_gid: gid }), query: z.object(filterShape) },
  responses: { 200: { description: 'Matching tasks, compact (full with opt_fields)', schema: listBody(taskCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    refuseUnsupported(meta);
    const viewer = await viewerIn(deps.database.db, principal, params.workspace_gid);
    const result = await searchTasks(deps, viewer, definedFilters(query), { limit: searchLimit(query as { limit?: number }), offset: page.offset });
    return taskList(deps, viewer, result, meta, Boolean(query.opt_fields));
  },
});

export const userTaskListForUserRoute = defineRoute({
  method: 'GET',
  path: '/users/{user_gid}/user_task_list',
  scope: 'api',
  operationId: 'getUserTaskListForUser',
  summary: "Get a user's task list (your own: others answer 403, or 404 when you cannot see them)",
  tags: ['User task lists'],
  auth: 'user',
  request: {
    params: z.object({ user_gid: userIdentifier }),
    query: z.object({ workspace: gid }),
  },
  responses: { 200: { description: 'The user task list', schema: dataBody(userTaskListSchema) } },
  async handle({ principal, params, query, deps }) {
    return { kind: 'data', data: await userTaskListForUser(deps, principal, query.workspace, params.user_gid) };
  },
});

export const getUserTaskListRoute = defineRoute({
  method: 'GET',
  path: '/user_task_lists/{user_task_list_gid}',
  scope: 'api',
  operationId: 'getUserTaskList',
  summary: 'Get a user task list (your own)',
  tags: ['User task lists'],
  auth: 'user',
  request: { params: z.object({ user_task_list_gid: gid }) },
  responses: { 200: { description: 'The user task list', schema: dataBody(userTaskListSchema) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: (await ownUserTaskList(deps.database.db, principal, params.user_task_list_gid)).view };
  },
});

export const userTaskListTasksRoute = defineRoute({
  method: 'GET',
  path: '/user_task_lists/{user_task_list_gid}/tasks',
  scope: 'api',
  operationId: 'getTasksForUserTaskList',
  summary: 'Tasks in your My tasks: assigned to you in the workspace and visible to you, oldest first',
  tags: ['Tasks'],
  auth: 'user',
  request: { params: z.object({ user_task_list_gid: gid }), query: z.object({ completed_since: completedSince }) },
  responses: { 200: { description: 'Tasks, compact (full with opt_fields)', schema: listBody(taskCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const { viewer } = await ownUserTaskList(deps.database.db, principal, params.user_task_list_gid);
    const since = query.completed_since === undefined ? undefined : query.completed_since === 'now' ? deps.clock.now() : new Date(query.completed_since);
    const result = await myTasks(deps, viewer, since ? { completedSince: since } : {}, page);
    return taskList(deps, viewer, result, meta, Boolean(query.opt_fields));
  },
});

export const createSavedSearchRoute = defineRoute({
  method: 'POST',
  path: '/saved_searches',
  scope: 'api',
  operationId: 'createSavedSearch',
  summary: 'Save a task search (our resource; filters as the search endpoint names them)',
  tags: ['Saved searches'],
  auth: 'user',
  request: { body: z.object({ name, workspace: gid, filters: savedFiltersSchema }) },
  responses: { 201: { description: 'The saved search', schema: dataBody(savedSearchSchema) } },
  async handle({ principal, body, deps }) {
    return { kind: 'data', status: 201, data: await createSavedSearch(deps, principal, { name: body.name, workspace: body.workspace, filters: definedFilters(body.filters) }) };
  },
});

export const listSavedSearchesRoute = defineRoute({
  method: 'GET',
  path: '/saved_searches',
  scope: 'api',
  operationId: 'getSavedSearches',
  summary: 'Your saved searches in a workspace, oldest first',
  tags: ['Saved searches'],
  auth: 'user',
  request: { query: z.object({ workspace: gid }) },
  responses: { 200: { description: 'Saved searches, compact (full with opt_fields)', schema: listBody(savedSearchListItem) } },
  async handle({ principal, query, page, deps }) {
    const list = await listSavedSearches(deps, principal, query.workspace, page);
    return { kind: 'list', next: list.next, data: query.opt_fields ? list.data : list.data.map(savedSearchCompact) };
  },
});

export const getSavedSearchRoute = defineRoute({
  method: 'GET',
  path: '/saved_searches/{saved_search_gid}',
  scope: 'api',
  operationId: 'getSavedSearch',
  summary: 'Get one of your saved searches',
  tags: ['Saved searches'],
  auth: 'user',
  request: { params: savedParams },
  responses: { 200: { description: 'The saved search', schema: dataBody(savedSearchSchema) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: (await ownSavedSearch(deps.database.db, principal, params.saved_search_gid)).view };
  },
});

export const updateSavedSearchRoute = defineRoute({
  method: 'PUT',
  path: '/saved_searches/{saved_search_gid}',
  scope: 'api',
  operationId: 'updateSavedSearch',
  summary: 'Rename one of your saved searches or replace its filters',
  tags: ['Saved searches'],
  auth: 'user',
  request: { params: savedParams, body: z.object({ name: name.optional(), filters: savedFiltersSchema.optional() }) },
  responses: { 200: { description: 'The saved search', schema: dataBody(savedSearchSchema) } },
  async handle({ principal, params, body, deps }) {
    const input = { ...(body.name !== undefined ? { name: body.name } : {}), ...(body.filters !== undefined ? { filters: definedFilters(body.filters) } : {}) };
    return { kind: 'data', data: await updateSavedSearch(deps, principal, params.saved_search_gid, input) };
  },
});

export const deleteSavedSearchRoute = defineRoute({
  method: 'DELETE',
  path: '/saved_searches/{saved_search_gid}',
  scope: 'api',
  operationId: 'deleteSavedSearch',
  summary: 'Delete one of your saved searches',
  tags: ['Saved searches'],
  auth: 'user',
  request: { params: savedParams },
  responses: { 200: { description: 'Deleted', schema: dataBody(z.object({})) } },
  async handle({ principal, params, deps }) {
    await deleteSavedSearch(deps, principal, params.saved_search_gid);
    return { kind: 'data', data: {} };
  },
});

export const savedSearchTasksRoute = defineRoute({
  method: 'GET',
  path: '/saved_searches/{saved_search_gid}/tasks',
  scope: 'api',
  operationId: 'getTasksForSavedSearch',
  summary: 'Run one of your saved searches now (with what you can see now)',
  tags: ['Saved searches'],
  auth: 'user',
  request: { params: savedParams },
  responses: { 200: { description: 'Matching tasks, compact (full with opt_fields)', schema: listBody(taskCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const result = await runSavedSearch(deps, principal, params.saved_search_gid, { limit: searchLimit(query as { limit?: number }), offset: page.offset });
    return taskList(deps, result.viewer, result, meta, Boolean(query.opt_fields));
  },
});

export const searchRoutes = [
  searchTasksRoute,
  userTaskListForUserRoute,
  getUserTaskListRoute,
  userTaskListTasksRoute,
  createSavedSearchRoute,
  listSavedSearchesRoute,
  getSavedSearchRoute,
  updateSavedSearchRoute,
  deleteSavedSearchRoute,
  savedSearchTasksRoute,
];
