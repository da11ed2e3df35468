/**
 * Projects, project memberships and status updates: Asana's endpoints and shapes.
 * Access decisions come from the policy module through the project use cases.
 */
import { z } from 'zod';
import { viewerIn, type Viewer } from '../../domain/access/policy.js';
import type { AppDeps } from '../../domain/deps.js';
import { BadRequestError } from '../../domain/errors.js';
import {
  changePeople,
  createProject,
  createStatus,
  deleteProject,
  deleteStatus,
  DUPLICATE_INCLUDES,
  duplicateProject,
  getProjectMembership,
  listProjectMemberships,
  listProjects,
  listStatuses,
  listTeamProjects,
  loadProjectViews,
  membershipCompactView,
  membershipView,
  projectStatusView,
  projectView,
  projectViewer,
  STATUS_TYPE,
  statusUpdateView,
  statusViewer,
  updateProject,
  userList,
  viewerForNewProject,
  type CreateProjectInput,
  type DuplicateInclude,
  type ProjectFields,
  type StatusRow,
} from '../../domain/work/projects.js';
import { viewerForObject } from '../../domain/work/common.js';
import { projectCompact } from '../../domain/work/present.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type UserPrincipal } from '../route.js';
import { gid, longText } from '../schemas.js';

/** opt_fields as validated by the framework (common to every route, so not in each route's own query type). */
const optFieldsOf = (query: unknown) => (query as { opt_fields?: string }).opt_fields;

// --- Schemas ----------------------------------------------------------------------

const day = z.iso.date({ error: 'must be a date YYYY-MM-DD' });
const PROJECT_COLORS = ['dark-pink', 'dark-green', 'dark-blue', 'dark-red', 'dark-teal', 'dark-brown', 'dark-orange', 'dark-purple', 'dark-warm-gray', 'light-pink', 'light-green', 'light-blue', 'light-red', 'light-teal', 'light-brown', 'light-orange', 'light-purple', 'light-warm-gray', 'none'] as const;
/** "me", an email or a user gid. */
const userIdentifier = z.string().trim().min(1).max(320);
/** Asana takes a comma-separated string; an array is accepted too. */
const users = z.union([z.string().max(20_000), z.array(userIdentifier).max(100)]).meta({ description: 'Users: a comma-separated string (or an array) of "me", emails or user gids.' });
const archivedQuery = z.enum(['true', 'false']).optional().meta({ description: 'Only projects whose archived field has this value.' });

const writable = {
  name: z.string().trim().min(1).max(1024).optional(),
  notes: longText().optional(),
  color: z.enum(PROJECT_COLORS).nullable().optional(),
  default_view: z.enum(['list', 'board', 'calendar', 'timeline']).optional(),
  due_on: day.nullable().optional(),
  due_date: day.nullable().optional().meta({ description: 'Deprecated: use due_on.' }),
  start_on: day.nullable().optional(),
  privacy_setting: z.enum(['public_to_workspace', 'private_to_team', 'private']).optional(),
  public: z.boolean().optional().meta({ description: 'Deprecated: use privacy_setting.' }),
  archived: z.boolean().optional(),
  completed: z.boolean().optional(),
  owner: userIdentifier.nullable().optional(),
  team: gid.optional(),
};
const createBody = z.object({ ...writable, name: z.string().trim().min(1).max(1024), workspace: gid.optional(), members: users.optional(), followers: users.optional() });
const updateBody = z.object(writable);

const userRef = z.object({ gid, resource_type: z.literal('user'), name: z.string() });
const projectCompactSchema = z.object({ gid, resource_type: z.literal('project'), name: z.string() }).meta({ id: 'ProjectCompact' });
const projectStatusCompactSchema = z.object({ gid, resource_type: z.literal('project_status'), title: z.string() }).meta({ id: 'ProjectStatusCompact' });
const projectStatusSchema = projectStatusCompactSchema
  .extend({ text: z.string(), html_text: z.string().optional(), color: z.enum(['green', 'yellow', 'red', 'blue', 'complete']), author: userRef.nullable(), created_by: userRef.nullable(), created_at: z.string(), modified_at: z.string() })
  .meta({ id: 'ProjectStatusResponse' });
const statusUpdateCompactSchema = z.object({ gid, resource_type: z.literal('status_update'), title: z.string(), resource_subtype: z.literal('project_status_update') }).meta({ id: 'StatusUpdateCompact' });
const statusUpdateSchema = statusUpdateCompactSchema
  .extend({
    text: z.string(),
    html_text: z.string().optional(),
    status_type: z.enum(['on_track', 'at_risk', 'off_track', 'on_hold', 'complete']),
    author: userRef.nullable(),
    created_by: userRef.nullable(),
    created_at: z.string(),
    modified_at: z.string(),
    parent: projectCompactSchema,
    liked: z.boolean(),
    likes: z.array(z.object({ gid, user: userRef })),
    num_likes: z.number(),
  })
  .loose()
  .meta({ id: 'StatusUpdateResponse' });
const projectSchema = projectCompactSchema
  .extend({
    archived: z.boolean(),
    color: z.string().nullable(),
    completed: z.boolean(),
    completed_at: z.string().nullable(),
    created_at: z.string(),
    modified_at: z.string(),
    current_status: projectStatusSchema.nullable(),
    current_status_update: statusUpdateCompactSchema.nullable(),
    custom_field_settings: z.array(z.object({ gid, resource_type: z.literal('custom_field_setting') }).loose()),
    default_view: z.enum(['list', 'board', 'calendar', 'timeline']),
    due_on: z.string().nullable(),
    due_date: z.string().nullable(),
    start_on: z.string().nullable(),
    notes: z.string(),
    html_notes: z.string().optional(),
    members: z.array(userRef),
    followers: z.array(userRef),
    owner: userRef.nullable(),
    team: z.object({ gid, resource_type: z.literal('team'), name: z.string() }).nullable(),
    workspace: z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }),
    privacy_setting: z.enum(['public_to_workspace', 'private_to_team', 'private']),
    public: z.boolean(),
    permalink_url: z.string(),
  })
  .loose()
  .meta({ id: 'ProjectResponse' });
const membershipCompactSchema = z.object({ gid, resource_type: z.literal('project_membership'), member: userRef, access_level: z.enum(['admin', 'editor', 'commenter', 'viewer']) }).meta({ id: 'ProjectMembershipCompact' });
const membershipSchema = membershipCompactSchema.extend({ parent: projectCompactSchema, user: userRef, project: projectCompactSchema, write_access: z.enum(['full_write', 'comment_only']) }).meta({ id: 'ProjectMembershipNormalResponse' });
const jobSchema = z
  .object({ gid, resource_type: z.literal('job'), resource_subtype: z.string(), status: z.enum(['not_started', 'in_progress', 'succeeded', 'failed']), new_project: projectCompactSchema, new_task: z.null() })
  .meta({ id: 'JobResponse' });
const ok = dataBody(z.object({}));

const projectParams = z.object({ project_gid: gid });

// --- Helpers ----------------------------------------------------------------------

/** The fields of a request body as the use cases take them (legacy aliases folded in). */
function projectFields(body: z.infer<typeof updateBody>): ProjectFields {
  const { due_date, ...rest } = body;
  const fields: ProjectFields = { ...rest };
  if (rest.due_on === undefined && due_date !== undefined) fields.due_on = due_date;
  return fields;
}

function createInput(body: z.infer<typeof createBody>): CreateProjectInput {
  const { members, followers, workspace, ...rest } = body;
  return { ...projectFields(rest), ...(workspace ? { workspace } : {}), members: userList(members), followers: userList(followers) };
}

async function projectAnswer(deps: AppDeps, viewer: Viewer, gid: string, baseUrl: string, optFields: string | undefined) {
  return projectView(deps.database.db, viewer, gid, baseUrl, optFields !== undefined);
}

/** A page of projects: compact, or full when opt_fields asks for fields. */
async function projectList(deps: AppDeps, viewer: Viewer, rows: { gid: string; name: string }[], next: string | null, baseUrl: string, optFields: string | undefined) {
  if (!optFields) return { kind: 'list' as const, next, data: rows.map(projectCompact) };
  const views = await loadProjectViews(deps.database.db, viewer, rows.map((r) => r.gid), baseUrl, true);
  return { kind: 'list' as const, next, data: rows.map((r) => views.get(r.gid)).filter((v) => v !== undefined) };
}

const archivedFilter = (value: 'true' | 'false' | undefined) => (value === undefined ? {} : { archived: value === 'true' });

async function createAndAnswer(deps: AppDeps, principal: UserPrincipal, input: CreateProjectInput, baseUrl: string, optFields: string | undefined) {
  const viewer = await viewerForNewProject(deps.database.db, principal, input);
  const created = await createProject(deps, viewer, input);
  return { kind: 'data' as const, status: 201, data: await projectAnswer(deps, viewer, created, baseUrl, optFields) };
}

// --- Projects ---------------------------------------------------------------------

export const getProjectsRoute = defineRoute({
  method: 'GET',
  path: '/projects',
  scope: 'api',
  operationId: 'getProjects',
  summary: 'Get multiple projects',
  description: 'Projects of a workspace (or of a team) the caller can see. Without workspace or team, the workspace of a caller who belongs to exactly one.',
  tags: ['Projects'],
  auth: 'user',
  request: { query: z.object({ workspace: gid.optional(), team: gid.optional(), archived: archivedQuery }) },
  responses: { 200: { description: 'Projects', schema: listBody(projectCompactSchema) } },
  async handle({ principal, query, page, meta, deps }) {
    const db = deps.database.db;
    if (query.team) {
      const { viewer, page: result } = await listTeamProjects(db, principal, query.team, archivedFilter(query.archived).archived, page);
      if (query.workspace && query.workspace !== viewer.organizationGid) throw new BadRequestError('query.team: the team is not in that workspace', [{ message: 'query.team: the team is not in that workspace' }]);
      return projectList(deps, viewer, result.rows, result.next, meta.baseUrl, optFieldsOf(query));
    }
    let workspace = query.workspace;
    if (!workspace) {
      const orgs = await db.selectFrom('organization_memberships as m').innerJoin('organizations as o', 'o.gid', 'm.organization_gid').select('o.gid').where('m.user_gid', '=', principal.user.gid).where('m.removed_at', 'is', null).where('o.deleted_at', 'is', null).limit(2).execute();
      if (orgs.length !== 1) throw new BadRequestError('query.workspace: Missing input: give a workspace or a team', [{ message: 'query.workspace: Missing input: give a workspace or a team' }]);
      workspace = orgs[0]!.gid;
    }
    const viewer = await viewerIn(db, principal, workspace);
    const result = await listProjects(db, viewer, archivedFilter(query.archived), page);
    return projectList(deps, viewer, result.rows, result.next, meta.baseUrl, optFieldsOf(query));
  },
});

export const createProjectRoute = defineRoute({
  method: 'POST',
  path: '/projects',
  scope: 'api',
  operationId: 'createProject',
  summary: 'Create a project',
  description: 'In a workspace, or in a team (then the workspace is the team\'s). The creator becomes a member and, unless another owner is named, the owner.',
  tags: ['Projects'],
  auth: 'user',
  request: { body: createBody },
  responses: { 201: { description: 'The project', schema: dataBody(projectSchema) } },
  async handle({ principal, body, query, meta, deps }) {
    return createAndAnswer(deps, principal, createInput(body), meta.baseUrl, optFieldsOf(query));
  },
});

export const createProjectForTeamRoute = defineRoute({
  method: 'POST',
  path: '/teams/{team_gid}/projects',
  scope: 'api',
  operationId: 'createProjectForTeam',
  summary: 'Create a project in a team',
  tags: ['Projects'],
  auth: 'user',
  request: { params: z.object({ team_gid: gid }), body: createBody.omit({ team: true }) },
  responses: { 201: { description: 'The project', schema: dataBody(projectSchema) } },
  async handle({ principal, params, body, query, meta, deps }) {
    return createAndAnswer(deps, principal, { ...createInput(body), team: params.team_gid }, meta.baseUrl, optFieldsOf(query));
  },
});

export const createProjectForWorkspaceRoute = defineRoute({
  method: 'POST',
  path: '/workspaces/{workspace_gid}/projects',
  scope: 'api',
  operationId: 'createProjectForWorkspace',
  summary: 'Create a project in a workspace',
  tags: ['Projects'],
  auth: 'user',
  request: { params: z.object({ workspace_gid: gid }), body: createBody.omit({ workspace: true }) },
  responses: { 201: { description: 'The project', schema: dataBody(projectSchema) } },
  async handle({ principal, params, body, query, meta, deps }) {
    return createAndAnswer(deps, principal, { ...createInput(body), workspace: params.workspace_gid }, meta.baseUrl, optFieldsOf(query));
  },
});

export const getProjectRoute = defineRoute({
  method: 'GET',
  path: '/projects/{project_gid}',
  scope: 'api',
  operationId: 'getProject',
  summary: 'Get a project',
  tags: ['Projects'],
  auth: 'user',
  request: { params: projectParams },
  responses: { 200: { description: 'The project', schema: dataBody(projectSchema) } },
  async handle({ principal, params, query, meta, deps }) {
    const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
    return { kind: 'data', data: await projectAnswer(deps, viewer, params.project_gid, meta.baseUrl, optFieldsOf(query)) };
  },
});

export const updateProjectRoute = defineRoute({
  method: 'PUT',
  path: '/projects/{project_gid}',
  scope: 'api',
  operationId: 'updateProject',
  summary: 'Update a project',
  tags: ['Projects'],
  auth: 'user',
  request: { params: projectParams, body: updateBody },
  responses: { 200: { description: 'The project', schema: dataBody(projectSchema) } },
  async handle({ principal, params, body, query, meta, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
    await updateProject(deps, viewer, params.project_gid, projectFields(body));
    return { kind: 'data', data: await projectAnswer(deps, viewer, params.project_gid, meta.baseUrl, optFieldsOf(query)) };
  },
});

export const deleteProjectRoute = defineRoute({
  method: 'DELETE',
  path: '/projects/{project_gid}',
  scope: 'api',
  operationId: 'deleteProject',
  summary: 'Delete a project',
  description: 'The project vanishes from the API; it is kept (soft-deleted) for organization exports.',
  tags: ['Projects'],
  auth: 'user',
  request: { params: projectParams },
  responses: { 200: { description: 'Deleted', schema: ok } },
  async handle({ principal, params, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
    await deleteProject(deps, viewer, params.project_gid);
    return { kind: 'data', data: {} };
  },
});

export const duplicateProjectRoute = defineRoute({
  method: 'POST',
  path: '/projects/{project_gid}/duplicate',
  scope: 'api',
  operationId: 'duplicateProject',
  summary: 'Duplicate a project',
  description: 'Copies the project with its sections and tasks, plus what `include` names. The copy is made before answering, so the job has succeeded.',
  tags: ['Projects'],
  auth: 'user',
  request: {
    params: projectParams,
    body: z.object({
      name: z.string().trim().min(1).max(1024),
      include: z.union([z.string().max(1000), z.array(z.string().max(100)).max(20)]).optional(),
      team: gid.optional(),
    }),
  },
  responses: { 201: { description: 'The finished job', schema: dataBody(jobSchema) } },
  async handle({ principal, params, body, deps }) {
    const include = userList(body.include);
    const unknown = include.filter((i) => !(DUPLICATE_INCLUDES as readonly string[]).includes(i));
    if (unknown.length) throw new BadRequestError(`data.include: unknown ${unknown.join(', ')}`, [{ message: `data.include: unknown ${unknown.join(', ')}; use ${DUPLICATE_INCLUDES.join(', ')}` }]);
    const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
    const copy = await duplicateProject(deps, viewer, params.project_gid, { name: body.name, include: include as DuplicateInclude[], ...(body.team ? { team: body.team } : {}) });
    return {
      kind: 'data',
      status: 201,
      data: { gid: deps.ids.gid(), resource_type: 'job', resource_subtype: 'duplicate_project', status: 'succeeded', new_project: projectCompact({ gid: copy, name: body.name }), new_task: null },
    };
  },
});

export const getTeamProjectsRoute = defineRoute({
  method: 'GET',
  path: '/teams/{team_gid}/projects',
  scope: 'api',
  operationId: 'getProjectsForTeam',
  summary: "Get a team's projects",
  tags: ['Projects'],
  auth: 'user',
  request: { params: z.object({ team_gid: gid }), query: z.object({ archived: archivedQuery }) },
  responses: { 200: { description: 'Projects', schema: listBody(projectCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const { viewer, page: result } = await listTeamProjects(deps.database.db, principal, params.team_gid, archivedFilter(query.archived).archived, page);
    return projectList(deps, viewer, result.rows, result.next, meta.baseUrl, optFieldsOf(query));
  },
});

export const getWorkspaceProjectsRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/projects',
  scope: 'api',
  operationId: 'getProjectsForWorkspace',
  summary: 'Get all projects in a workspace',
  tags: ['Projects'],
  auth: 'user',
  request: { params: z.object({ workspace_gid: gid }), query: z.object({ archived: archivedQuery }) },
  responses: { 200: { description: 'Projects', schema: listBody(projectCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const viewer = await viewerIn(deps.database.db, principal, params.workspace_gid);
    const result = await listProjects(deps.database.db, viewer, archivedFilter(query.archived), page);
    return projectList(deps, viewer, result.rows, result.next, meta.baseUrl, optFieldsOf(query));
  },
});

function peopleRoute(kind: 'members' | 'followers', add: boolean) {
  const verb = add ? 'add' : 'remove';
  const Kind = kind === 'members' ? 'Members' : 'Followers';
  return defineRoute({
    method: 'POST',
    path: `/projects/{project_gid}/${verb}${Kind}`,
    scope: 'api',
    operationId: `${verb}${Kind}ForProject`,
    summary: `${add ? 'Add' : 'Remove'} ${kind === 'members' ? 'users' : 'followers'} ${add ? 'to' : 'from'} a project`,
    description: kind === 'followers' ? 'Followers are a subset of members: adding a follower also makes them a member.' : add ? 'New members get editor access.' : 'Removing a member also removes them as a follower. Anyone may remove themselves.',
    tags: ['Projects'],
    auth: 'user',
    request: { params: projectParams, body: kind === 'members' ? z.object({ members: users }) : z.object({ followers: users }) },
    responses: { 200: { description: 'The project', schema: dataBody(projectSchema) } },
    async handle({ principal, params, body, query, meta, deps }) {
      const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
      const list = userList((body as { members?: string | string[]; followers?: string | string[] })[kind]);
      await changePeople(deps, viewer, params.project_gid, { kind, add, users: list });
      return { kind: 'data', data: await projectAnswer(deps, viewer, params.project_gid, meta.baseUrl, optFieldsOf(query)) };
    },
  });
}

// --- Project memberships ----------------------------------------------------------

export const getProjectMembershipsRoute = defineRoute({
  method: 'GET',
  path: '/projects/{project_gid}/project_memberships',
  scope: 'api',
  operationId: 'getProjectMembershipsForProject',
  summary: 'Get memberships from a project',
  tags: ['Project memberships'],
  auth: 'user',
  request: { params: projectParams, query: z.object({ user: userIdentifier.optional() }) },
  responses: { 200: { description: 'Memberships', schema: listBody(membershipCompactSchema) } },
  async handle({ principal, params, query, page, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
    const result = await listProjectMemberships(deps.database.db, viewer, params.project_gid, query.user, page);
    return { kind: 'list', next: result.next, data: result.rows.map(optFieldsOf(query) ? membershipView : membershipCompactView) };
  },
});

export const getProjectMembershipRoute = defineRoute({
  method: 'GET',
  path: '/project_memberships/{project_membership_gid}',
  scope: 'api',
  operationId: 'getProjectMembership',
  summary: 'Get a project membership',
  tags: ['Project memberships'],
  auth: 'user',
  request: { params: z.object({ project_membership_gid: gid }) },
  responses: { 200: { description: 'The membership', schema: dataBody(membershipSchema) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: membershipView(await getProjectMembership(deps.database.db, principal, params.project_membership_gid)) };
  },
});

// --- Project statuses (legacy) and status updates ---------------------------------

const statusParams = z.object({ project_status_gid: gid });
const statusUpdateParams = z.object({ status_update_gid: gid });

async function statusPage(deps: AppDeps, viewer: Viewer, projectGid: string, page: { limit: number; offset: string | null }, createdSince?: Date) {
  return listStatuses(deps.database.db, viewer, projectGid, page, createdSince);
}

export const getProjectStatusesRoute = defineRoute({
  method: 'GET',
  path: '/projects/{project_gid}/project_statuses',
  scope: 'api',
  operationId: 'getProjectStatusesForProject',
  summary: 'Get statuses from a project (newest first)',
  tags: ['Project statuses'],
  auth: 'user',
  request: { params: projectParams },
  responses: { 200: { description: 'Statuses', schema: listBody(projectStatusCompactSchema) } },
  async handle({ principal, params, query, page, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
    const result = await statusPage(deps, viewer, params.project_gid, page);
    const full = optFieldsOf(query) !== undefined;
    return { kind: 'list', next: result.next, data: result.rows.map((s) => (full ? projectStatusView(s, true) : { gid: s.gid, resource_type: 'project_status', title: s.title })) };
  },
});

export const createProjectStatusRoute = defineRoute({
  method: 'POST',
  path: '/projects/{project_gid}/project_statuses',
  scope: 'api',
  operationId: 'createProjectStatusForProject',
  summary: 'Create a project status',
  description: 'Deprecated by Asana in favour of POST /status_updates; both write the same statuses. color maps to status_type: green on_track, yellow at_risk, red off_track, blue on_hold, complete complete.',
  tags: ['Project statuses'],
  auth: 'user',
  request: { params: projectParams, body: z.object({ title: z.string().max(1024).optional(), text: longText().optional(), color: z.enum(['green', 'yellow', 'red', 'blue', 'complete']) }) },
  responses: { 201: { description: 'The status', schema: dataBody(projectStatusSchema) } },
  async handle({ principal, params, body, query, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', params.project_gid);
    const status = await createStatus(deps, viewer, params.project_gid, { ...(body.title !== undefined ? { title: body.title } : {}), ...(body.text !== undefined ? { text: body.text } : {}), status_type: STATUS_TYPE[body.color] });
    return { kind: 'data', status: 201, data: projectStatusView(status, optFieldsOf(query) !== undefined) };
  },
});

export const getProjectStatusRoute = defineRoute({
  method: 'GET',
  path: '/project_statuses/{project_status_gid}',
  scope: 'api',
  operationId: 'getProjectStatus',
  summary: 'Get a project status',
  tags: ['Project statuses'],
  auth: 'user',
  request: { params: statusParams },
  responses: { 200: { description: 'The status', schema: dataBody(projectStatusSchema) } },
  async handle({ principal, params, query, deps }) {
    const { status } = await statusViewer(deps.database.db, principal, params.project_status_gid);
    return { kind: 'data', data: projectStatusView(status, optFieldsOf(query) !== undefined) };
  },
});

export const deleteProjectStatusRoute = defineRoute({
  method: 'DELETE',
  path: '/project_statuses/{project_status_gid}',
  scope: 'api',
  operationId: 'deleteProjectStatus',
  summary: 'Delete a project status',
  tags: ['Project statuses'],
  auth: 'user',
  request: { params: statusParams },
  responses: { 200: { description: 'Deleted', schema: ok } },
  async handle({ principal, params, deps }) {
    const { viewer, status } = await statusViewer(deps.database.db, principal, params.project_status_gid);
    await deleteStatus(deps, viewer, status);
    return { kind: 'data', data: {} };
  },
});

const statusUpdateCompact = (s: StatusRow) => ({ gid: s.gid, resource_type: 'status_update' as const, title: s.title, resource_subtype: 'project_status_update' as const });

export const getStatusUpdatesRoute = defineRoute({
  method: 'GET',
  path: '/status_updates',
  scope: 'api',
  operationId: 'getStatusesForObject',
  summary: 'Get status updates from an object (newest first)',
  tags: ['Status updates'],
  auth: 'user',
  request: { query: z.object({ parent: gid.meta({ description: 'The project whose status updates to list.' }), created_since: z.iso.datetime({ offset: true }).optional() }) },
  responses: { 200: { description: 'Status updates', schema: listBody(statusUpdateCompactSchema) } },
  async handle({ principal, query, page, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', query.parent);
    const result = await statusPage(deps, viewer, query.parent, page, query.created_since ? new Date(query.created_since) : undefined);
    const full = optFieldsOf(query) !== undefined;
    return { kind: 'list', next: result.next, data: result.rows.map((s) => (full ? statusUpdateView(s, true) : statusUpdateCompact(s))) };
  },
});

export const createStatusUpdateRoute = defineRoute({
  method: 'POST',
  path: '/status_updates',
  scope: 'api',
  operationId: 'createStatusForObject',
  summary: 'Create a status update',
  description: 'On a project (the only parent supported). A complete status also marks the project complete.',
  tags: ['Status updates'],
  auth: 'user',
  request: {
    body: z.object({
      parent: gid,
      title: z.string().max(1024).optional(),
      text: longText(),
      status_type: z.enum(['on_track', 'at_risk', 'off_track', 'on_hold', 'complete']),
    }),
  },
  responses: { 201: { description: 'The status update', schema: dataBody(statusUpdateSchema) } },
  async handle({ principal, body, query, deps }) {
    const viewer = await viewerForObject(deps.database.db, principal, 'projects', body.parent);
    const status = await createStatus(deps, viewer, body.parent, { ...(body.title !== undefined ? { title: body.title } : {}), text: body.text, status_type: body.status_type });
    return { kind: 'data', status: 201, data: statusUpdateView(status, optFieldsOf(query) !== undefined) };
  },
});

export const getStatusUpdateRoute = defineRoute({
  method: 'GET',
  path: '/status_updates/{status_update_gid}',
  scope: 'api',
  operationId: 'getStatus',
  summary: 'Get a status update',
  tags: ['Status updates'],
  auth: 'user',
  request: { params: statusUpdateParams },
  responses: { 200: { description: 'The status update', schema: dataBody(statusUpdateSchema) } },
  async handle({ principal, params, query, deps }) {
    const { status } = await statusViewer(deps.database.db, principal, params.status_update_gid);
    return { kind: 'data', data: statusUpdateView(status, optFieldsOf(query) !== undefined) };
  },
});

export const deleteStatusUpdateRoute = defineRoute({
  method: 'DELETE',
  path: '/status_updates/{status_update_gid}',
  scope: 'api',
  operationId: 'deleteStatus',
  summary: 'Delete a status update',
  tags: ['Status updates'],
  auth: 'user',
  request: { params: statusUpdateParams },
  responses: { 200: { description: 'Deleted', schema: ok } },
  async handle({ principal, params, deps }) {
    const { viewer, status } = await statusViewer(deps.database.db, principal, params.status_update_gid);
    await deleteStatus(deps, viewer, status);
    return { kind: 'data', data: {} };
  },
});

export const projectRoutes = [
  getProjectsRoute,
  createProjectRoute,
  getProjectRoute,
  updateProjectRoute,
  deleteProjectRoute,
  duplicateProjectRoute,
  getTeamProjectsRoute,
  createProjectForTeamRoute,
  getWorkspaceProjectsRoute,
  createProjectForWorkspaceRoute,
  peopleRoute('members', true),
  peopleRoute('members', false),
  peopleRoute('followers', true),
  peopleRoute('followers', false),
  getProjectMembershipsRoute,
  getProjectMembershipRoute,
  getProjectStatusesRoute,
  createProjectStatusRoute,
  getProjectStatusRoute,
  deleteProjectStatusRoute,
  getStatusUpdatesRoute,
  createStatusUpdateRoute,
  getStatusUpdateRoute,
  deleteStatusUpdateRoute,
];
