/**
 * Our answers against Asana's own OpenAPI document (../shared/reference/asana_oas.yaml).
 *
 * The list of operations comes from the two documents: every operation of our
 * GET /api/1.0/openapi.json whose method and path Asana's document also has (our
 * /users/me answers Asana's /users/{user_gid}) is called against the real local runtime
 * with valid inputs, and each 2xx body is validated with Ajv against the schema Asana
 * declares for that path, method and status. Request bodies are validated against
 * Asana's request schemas too, so the inputs are ones Asana would accept. Lists are
 * also fetched with limit=1 and every opt_field Asana lists for them, and those items are
 * validated against the full (…Response) schema. Error bodies (400, 401, 403, 404) are
 * validated against the error responses the operation declares (ErrorResponse).
 *
 * Operations that exist on both sides but have no exercise here are listed in the
 * coverage summary. The exercises for teams and workspaces were written against their
 * route files while those were not in the route table yet (and checked with them
 * registered in a copy); they run as soon as the routes are registered.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { loadAsanaOas, type HttpMethod, type OasOperation } from '../support/asana-oas.js';
import { CHEAP_AUTH, uniqueEmail } from '../support/identity.js';

logger.setLogLevel('SILENT');

/**
 * Operations validated when this file was written (the routes registered then: tasks,
 * stories, tags, projects, project memberships, statuses, sections, search, user task
 * lists, users/me, audit log, custom fields, attachments, templates): 93 shared, 5 of
 * them known bugs. The suite fails if fewer validate.
 */
const MIN_VALIDATED = 88;

/**
 * Operations whose answers do not match Asana's schema because of a bug in the app;
 * each test is marked test.failing until the fix (given in the report) is applied.
 */
const JOB_NULLS = 'jobs answer new_project/new_project_template: null; Asana declares ProjectCompact/ProjectTemplateCompact (not nullable; only new_task is)';
const KNOWN_BUGS: Record<string, string> = {};

// --- The runtime, both documents, and what they share ---------------------------------------

const oas = loadAsanaOas();
const dataDir = await mkdtemp(join(tmpdir(), 'asana-schemas-'));
const runtime: LocalRuntime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH });
afterAll(async () => {
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
});

interface OurOperation {
  method: HttpMethod;
  path: string;
  operationId: string;
}
const ourDocument = (await (await fetch(`${runtime.baseUrl}/api/1.0/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
const ourOperations: OurOperation[] = Object.entries(ourDocument.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ['get', 'post', 'put', 'delete'].includes(method))
    .map(([method, op]) => ({ method: method.toUpperCase() as HttpMethod, path, operationId: op.operationId })),
);
/** Asana's operation -> our operations answering it (GET /users/{user_gid} is answered by /users/me and /users/{user_gid}). */
const shared = new Map<string, { asana: OasOperation; ours: OurOperation[] }>();
for (const ours of ourOperations) {
  const asana = oas.find(ours.method, ours.path);
  if (!asana) continue;
  const entry = shared.get(asana.operationId) ?? { asana, ours: [] };
  entry.ours.push(ours);
  shared.set(asana.operationId, entry);
}
const hasRoute = (method: HttpMethod, path: string) => ourOperations.some((o) => o.method === method && o.path === path);
const hasOperation = (operationId: string) => ourOperations.some((o) => o.operationId === operationId);

// --- Calling the API -----------------------------------------------------------------------

interface Call {
  method: HttpMethod;
  /** Relative to /api/1.0, with the parameters filled in. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** A multipart/form-data body instead of JSON (POST /attachments). */
  form?: FormData;
  token?: string | null;
}
interface Answer {
  status: number;
  body: any;
}

async function call(c: Call): Promise<Answer> {
  const qs = c.query && Object.keys(c.query).length ? `?${new URLSearchParams(c.query).toString()}` : '';
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = c.token === undefined ? ctx.token : c.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (c.body !== undefined) headers['Content-Type'] = 'application/json';
  const body = c.form ?? (c.body !== undefined ? JSON.stringify(c.body) : undefined);
  const res = await fetch(`${runtime.baseUrl}/api/1.0${c.path}${qs}`, { method: c.method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A call that must succeed (setup); returns `data`. */
async function must(c: Call): Promise<any> {
  const res = await call(c);
  if (res.status < 200 || res.status > 299) throw new Error(`${c.method} ${c.path} -> ${res.status} ${JSON.stringify(res.body)}`);
  return res.body?.data;
}

const get = (path: string, query?: Record<string, string>): Call => ({ method: 'GET', path, ...(query ? { query } : {}) });
const post = (path: string, data: unknown, query?: Record<string, string>): Call => ({ method: 'POST', path, body: { data }, ...(query ? { query } : {}) });
const put = (path: string, data: unknown): Call => ({ method: 'PUT', path, body: { data } });
const del = (path: string): Call => ({ method: 'DELETE', path });

// --- The world the exercises use -------------------------------------------------------------

interface World {
  token: string;
  me: string;
  workspace: string;
  otherToken: string;
  other: string;
  team: string;
  project: string;
  sections: [string, string];
  tasks: [string, string];
  subtask: string;
  tag: string;
  stories: [string, string];
  statusUpdate: string;
  userTaskList: string;
  fields: { text: string; enum: string; enumOptions: [string, string] };
}
const ctx = {} as World;

async function signUp(name: string) {
  const email = uniqueEmail(name.toLowerCase());
  const res = await call({ method: 'POST', path: '/auth/signup', token: null, body: { data: { email, password: 'a long enough passphrase', name, organization_name: `${name}'s Org` } } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, token: res.body.data.token as string, user: res.body.data.user.gid as string, organization: res.body.data.organization.gid as string };
}

const db = () => runtime.deps.database.db;
const newGid = () => runtime.deps.ids.gid();

/** A team with both users: through POST /teams when it exists, else straight into the database. */
async function makeTeam(name: string): Promise<string> {
  if (hasOperation('createTeam')) {
    const team = await must(post('/teams', { name, organization: ctx.workspace, visibility: 'public' }));
    await must(post(`/teams/${team.gid}/addUser`, { user: ctx.other }));
    return team.gid;
  }
  const gid = newGid();
  const now = new Date();
  await db().insertInto('teams').values({ gid, organization_gid: ctx.workspace, name, visibility: 'public', created_by: ctx.me, created_at: now, modified_at: now }).execute();
  for (const user of [ctx.me, ctx.other]) await db().insertInto('team_memberships').values({ gid: newGid(), team_gid: gid, user_gid: user, created_at: now }).execute();
  return gid;
}

/** Custom fields on the project: through the custom field endpoints when they exist, else straight into the database. */
async function makeFields(): Promise<World['fields']> {
  if (hasOperation('createCustomField') && hasOperation('addCustomFieldSettingForProject')) {
    const text = await must(post('/custom_fields', { workspace: ctx.workspace, name: 'Notes field', resource_subtype: 'text' }));
    const priority = await must(post('/custom_fields', { workspace: ctx.workspace, name: 'Priority', resource_subtype: 'enum', enum_options: [{ name: 'High', color: 'red' }, { name: 'Low', color: 'green' }] }));
    for (const f of [text.gid, priority.gid]) await must(post(`/projects/${ctx.project}/addCustomFieldSetting`, { custom_field: f }));
    return { text: text.gid, enum: priority.gid, enumOptions: [priority.enum_options[0].gid, priority.enum_options[1].gid] };
  }
  const now = new Date();
  const text = newGid();
  const priority = newGid();
  const options: [string, string] = [newGid(), newGid()];
  await db().insertInto('custom_fields').values({ gid: text, organization_gid: ctx.workspace, name: 'Notes field', resource_subtype: 'text', created_by: ctx.me, created_at: now }).execute();
  await db().insertInto('custom_fields').values({ gid: priority, organization_gid: ctx.workspace, name: 'Priority', resource_subtype: 'enum', created_by: ctx.me, created_at: now }).execute();
  await db().insertInto('custom_field_enum_options').values({ gid: options[0], custom_field_gid: priority, name: 'High', color: 'red', position: 1 }).execute();
  await db().insertInto('custom_field_enum_options').values({ gid: options[1], custom_field_gid: priority, name: 'Low', color: 'green', position: 2 }).execute();
  let position = 1;
  for (const f of [text, priority]) await db().insertInto('project_custom_field_settings').values({ gid: newGid(), project_gid: ctx.project, custom_field_gid: f, position: position++ }).execute();
  return { text, enum: priority, enumOptions: options };
}

beforeAll(async () => {
  const a = await signUp('Ada');
  const b = await signUp('Bob');
  Object.assign(ctx, { token: a.token, me: a.user, workspace: a.organization, otherToken: b.token, other: b.user });
  await db().insertInto('organization_memberships').values({ gid: newGid(), organization_gid: a.organization, user_gid: b.user, role: 'member', created_at: new Date() }).execute();
  ctx.team = await makeTeam('Platform');
  ctx.project = (await must(post('/projects', { name: 'Launch', workspace: ctx.workspace, team: ctx.team, notes: 'The launch plan', due_on: '2031-05-01', color: 'light-green' }))).gid;
  await must(post(`/projects/${ctx.project}/addMembers`, { members: ctx.other }));
  ctx.sections = [(await must(post(`/projects/${ctx.project}/sections`, { name: 'To do' }))).gid, (await must(post(`/projects/${ctx.project}/sections`, { name: 'Doing' }))).gid];
  ctx.fields = await makeFields();
  const t1 = await must(
    post('/tasks', {
      name: 'Write the plan',
      notes: 'Everything we need',
      assignee: ctx.me,
      due_on: '2031-04-01',
      start_on: '2031-03-01',
      memberships: [{ project: ctx.project, section: ctx.sections[0] }],
      followers: [ctx.other],
      custom_fields: { [ctx.fields.text]: 'Some text', [ctx.fields.enum]: ctx.fields.enumOptions[0] },
    }),
  );
  const t2 = await must(post('/tasks', { name: 'Review the plan', memberships: [{ project: ctx.project, section: ctx.sections[1] }], assignee: ctx.me }));
  ctx.tasks = [t1.gid, t2.gid];
  ctx.subtask = (await must(post(`/tasks/${t1.gid}/subtasks`, { name: 'Outline' }))).gid;
  await must(post(`/tasks/${t1.gid}/subtasks`, { name: 'Draft' }));
  ctx.tag = (await must(post('/tags', { name: 'urgent', workspace: ctx.workspace, color: 'dark-red' }))).gid;
  await must(post('/tags', { name: 'later', workspace: ctx.workspace }));
  for (const t of ctx.tasks) await must(post(`/tasks/${t}/addTag`, { tag: ctx.tag }));
  ctx.stories = [(await must(post(`/tasks/${t1.gid}/stories`, { text: 'First!' }))).gid, (await must(post(`/tasks/${t1.gid}/stories`, { text: 'Second' }))).gid];
  await must(post('/status_updates', { parent: ctx.project, title: 'Week 1', text: 'Started', status_type: 'on_track' }));
  ctx.statusUpdate = (await must(post('/status_updates', { parent: ctx.project, title: 'Week 2', text: 'Going well', status_type: 'at_risk' }))).gid;
  ctx.userTaskList = (await must(get('/users/me/user_task_list', { workspace: ctx.workspace }))).gid;
});

// --- The exercises: valid calls for each of Asana's operations --------------------------------

type Exercise = (w: World) => Promise<Call[]>;
const one = (c: Call): Call[] => [c];
/** A task in the first section of the project (see the memberships-section-null bug below for tasks in no section). */
const task = async (name: string, extra: Record<string, unknown> = {}) => (await must(post('/tasks', { name, memberships: [{ project: ctx.project, section: ctx.sections[0] }], ...extra }))).gid as string;
const project = async (name: string) => (await must(post('/projects', { name, workspace: ctx.workspace, team: ctx.team }))).gid as string;

const EXERCISES: Record<string, Exercise> = {
  // Users and workspaces
  getUser: async (w) => [get('/users/me'), ...(hasRoute('GET', '/users/{user_gid}') ? [get(`/users/${w.other}`), get(`/users/${w.me}`, { workspace: w.workspace })] : [])],
  getUsers: async (w) => one(get('/users', { workspace: w.workspace })),
  getWorkspaces: async () => one(get('/workspaces')),
  getWorkspace: async (w) => one(get(`/workspaces/${w.workspace}`)),
  updateWorkspace: async (w) => one(put(`/workspaces/${w.workspace}`, { name: "Ada's Org" })),
  getUsersForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/users`)),
  addUserForWorkspace: async (w) => {
    // Someone outside the workspace is named by email (their gid is not visible from here).
    const c = await signUp('Cid');
    return one(post(`/workspaces/${w.workspace}/addUser`, { user: c.email }));
  },
  removeUserForWorkspace: async (w) => {
    const d = await signUp('Dee');
    await db().insertInto('organization_memberships').values({ gid: newGid(), organization_gid: w.workspace, user_gid: d.user, role: 'member', created_at: new Date() }).execute();
    return one(post(`/workspaces/${w.workspace}/removeUser`, { user: d.user }));
  },
  getWorkspaceMembershipsForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/workspace_memberships`)),
  getWorkspaceMembershipsForUser: async () => one(get('/users/me/workspace_memberships')),
  getWorkspaceMembership: async (w) => {
    const list = await must(get(`/workspaces/${w.workspace}/workspace_memberships`));
    return one(get(`/workspace_memberships/${list[0].gid}`));
  },
  getAuditLogEvents: async (w) => one(get(`/workspaces/${w.workspace}/audit_log_events`)),
  createOrganizationExport: async (w) => one(post('/organization_exports', { organization: w.workspace })),
  getOrganizationExport: async (w) => {
    const requested = await must(post('/organization_exports', { organization: w.workspace }));
    return one(get(`/organization_exports/${requested.gid}`));
  },

  // Teams and team memberships
  createTeam: async (w) => one(post('/teams', { name: 'Design', organization: w.workspace, description: 'Pixels', visibility: 'request_to_join' })),
  getTeam: async (w) => one(get(`/teams/${w.team}`)),
  updateTeam: async (w) => one(put(`/teams/${w.team}`, { description: 'Builds the platform' })),
  getTeamsForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/teams`)),
  getTeamsForUser: async (w) => one(get('/users/me/teams', { organization: w.workspace })),
  addUserForTeam: async (w) => {
    const team = await makeTeam('Ops');
    await must(post(`/teams/${team}/removeUser`, { user: w.other }));
    return one(post(`/teams/${team}/addUser`, { user: w.other }));
  },
  removeUserForTeam: async (w) => one(post(`/teams/${await makeTeam('Support')}/removeUser`, { user: w.other })),
  getUsersForTeam: async (w) => one(get(`/teams/${w.team}/users`)),
  getTeamMemberships: async (w) => one(get('/team_memberships', { team: w.team })),
  getTeamMembershipsForTeam: async (w) => one(get(`/teams/${w.team}/team_memberships`)),
  getTeamMembershipsForUser: async (w) => one(get('/users/me/team_memberships', { workspace: w.workspace })),
  getTeamMembership: async (w) => {
    const list = await must(get(`/teams/${w.team}/team_memberships`));
    return one(get(`/team_memberships/${list[0].gid}`));
  },

  // Projects
  getProjects: async (w) => [get('/projects', { workspace: w.workspace }), get('/projects', { team: w.team })],
  createProject: async (w) => one(post('/projects', { name: 'Website', workspace: w.workspace, team: w.team, notes: 'New site', privacy_setting: 'private_to_team', default_view: 'board', due_on: '2031-01-31', start_on: '2031-01-01' })),
  getProject: async (w) => one(get(`/projects/${w.project}`)),
  updateProject: async (w) => one(put(`/projects/${w.project}`, { notes: 'The launch plan, revised', owner: w.me })),
  deleteProject: async () => one(del(`/projects/${await project('Doomed')}`)),
  duplicateProject: async (w) => one(post(`/projects/${w.project}/duplicate`, { name: 'Launch (copy)', include: 'members,notes,task_notes,task_assignee', team: w.team })),
  getProjectsForTeam: async (w) => one(get(`/teams/${w.team}/projects`)),
  createProjectForTeam: async (w) => one(post(`/teams/${w.team}/projects`, { name: 'Team roadmap' })),
  getProjectsForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/projects`)),
  createProjectForWorkspace: async (w) => one(post(`/workspaces/${w.workspace}/projects`, { name: 'Workspace roadmap', team: w.team })),
  addMembersForProject: async (w) => one(post(`/projects/${await project('Members in')}/addMembers`, { members: w.other })),
  removeMembersForProject: async (w) => {
    const p = await project('Members out');
    await must(post(`/projects/${p}/addMembers`, { members: w.other }));
    return one(post(`/projects/${p}/removeMembers`, { members: w.other }));
  },
  addFollowersForProject: async (w) => one(post(`/projects/${await project('Followers in')}/addFollowers`, { followers: w.other })),
  removeFollowersForProject: async (w) => {
    const p = await project('Followers out');
    await must(post(`/projects/${p}/addFollowers`, { followers: w.other }));
    return one(post(`/projects/${p}/removeFollowers`, { followers: w.other }));
  },
  getProjectMembershipsForProject: async (w) => one(get(`/projects/${w.project}/project_memberships`)),
  getProjectMembership: async (w) => {
    const list = await must(get(`/projects/${w.project}/project_memberships`));
    return one(get(`/project_memberships/${list[0].gid}`));
  },

  // Project statuses and status updates
  getProjectStatusesForProject: async (w) => one(get(`/projects/${w.project}/project_statuses`)),
  createProjectStatusForProject: async (w) => one(post(`/projects/${w.project}/project_statuses`, { title: 'Week 3', text: 'Slipping', color: 'yellow' })),
  getProjectStatus: async (w) => one(get(`/project_statuses/${w.statusUpdate}`)),
  deleteProjectStatus: async (w) => one(del(`/project_statuses/${(await must(post(`/projects/${w.project}/project_statuses`, { title: 'Oops', text: 'Wrong', color: 'red' }))).gid}`)),
  getStatusesForObject: async (w) => one(get('/status_updates', { parent: w.project })),
  createStatusForObject: async (w) => one(post('/status_updates', { parent: w.project, title: 'Week 4', text: 'Back on track', status_type: 'on_track' })),
  getStatus: async (w) => one(get(`/status_updates/${w.statusUpdate}`)),
  deleteStatus: async (w) => one(del(`/status_updates/${(await must(post('/status_updates', { parent: w.project, text: 'Wrong', status_type: 'off_track' }))).gid}`)),

  // Sections
  getSectionsForProject: async (w) => one(get(`/projects/${w.project}/sections`)),
  createSectionForProject: async (w) => one(post(`/projects/${w.project}/sections`, { name: 'Done', insert_after: w.sections[1] })),
  getSection: async (w) => one(get(`/sections/${w.sections[0]}`)),
  updateSection: async (w) => one(put(`/sections/${w.sections[1]}`, { name: 'In progress' })),
  deleteSection: async (w) => one(del(`/sections/${(await must(post(`/projects/${w.project}/sections`, { name: 'Empty' }))).gid}`)),
  addTaskForSection: async (w) => one(post(`/sections/${w.sections[1]}/addTask`, { task: await task('Moving') })),
  insertSectionForProject: async (w) => one(post(`/projects/${w.project}/sections/insert`, { section: w.sections[1], before_section: w.sections[0] })),

  // Tasks
  createTask: async (w) =>
    one(
      post('/tasks', {
        name: 'Ship it',
        notes: 'Really',
        workspace: w.workspace,
        memberships: [{ project: w.project, section: w.sections[1] }],
        assignee: w.me,
        due_on: '2031-06-01',
        followers: [w.other],
        tags: [w.tag],
        resource_subtype: 'default_task',
        custom_fields: { [w.fields.enum]: w.fields.enumOptions[1] },
      }),
    ),
  getTask: async (w) => [get(`/tasks/${w.tasks[0]}`), get(`/tasks/${w.subtask}`)],
  updateTask: async (w) => one(put(`/tasks/${w.tasks[1]}`, { completed: true, notes: 'Reviewed', due_on: '2031-04-15', custom_fields: { [w.fields.text]: 'Done' } })),
  deleteTask: async () => one(del(`/tasks/${await task('Doomed')}`)),
  duplicateTask: async (w) => one(post(`/tasks/${w.tasks[0]}/duplicate`, { name: 'Write the plan (copy)', include: 'notes,assignee,subtasks,tags,projects' })),
  getTasks: async (w) => [get('/tasks', { project: w.project }), get('/tasks', { assignee: 'me', workspace: w.workspace }), get('/tasks', { section: w.sections[0] })],
  getTasksForProject: async (w) => one(get(`/projects/${w.project}/tasks`)),
  getTasksForSection: async (w) => one(get(`/sections/${w.sections[0]}/tasks`)),
  getTasksForTag: async (w) => one(get(`/tags/${w.tag}/tasks`)),
  getTasksForUserTaskList: async (w) => one(get(`/user_task_lists/${w.userTaskList}/tasks`)),
  getSubtasksForTask: async (w) => one(get(`/tasks/${w.tasks[0]}/subtasks`)),
  createSubtaskForTask: async (w) => one(post(`/tasks/${w.tasks[0]}/subtasks`, { name: 'Polish', assignee: w.other })),
  setParentForTask: async (w) => one(post(`/tasks/${await task('Adopted')}/setParent`, { parent: w.tasks[1] })),
  addProjectForTask: async () => {
    const p = await project('Second home');
    const s = await must(post(`/projects/${p}/sections`, { name: 'Inbox' }));
    return one(post(`/tasks/${await task('Multi-homed')}/addProject`, { project: p, section: s.gid }));
  },
  removeProjectForTask: async (w) => {
    const p = await project('Temporary home');
    const t = await task('Visiting');
    await must(post(`/tasks/${t}/addProject`, { project: p }));
    return one(post(`/tasks/${t}/removeProject`, { project: p }));
  },
  addTagForTask: async (w) => one(post(`/tasks/${await task('Tag me')}/addTag`, { tag: w.tag })),
  removeTagForTask: async (w) => {
    const t = await task('Untag me', { tags: [w.tag] });
    return one(post(`/tasks/${t}/removeTag`, { tag: w.tag }));
  },
  addFollowersForTask: async (w) => one(post(`/tasks/${await task('Follow me')}/addFollowers`, { followers: [w.other] })),
  removeFollowerForTask: async (w) => one(post(`/tasks/${await task('Unfollow me', { followers: [w.other] })}/removeFollowers`, { followers: [w.other] })),
  searchTasksForWorkspace: async (w) => [get(`/workspaces/${w.workspace}/tasks/search`, { text: 'plan' }), get(`/workspaces/${w.workspace}/tasks/search`, { 'projects.any': w.project, sort_by: 'created_at', sort_ascending: 'true' })],

  // Stories
  getStoriesForTask: async (w) => one(get(`/tasks/${w.tasks[0]}/stories`)),
  createStoryForTask: async (w) => one(post(`/tasks/${w.tasks[0]}/stories`, { text: 'Looks good' })),
  getStory: async (w) => one(get(`/stories/${w.stories[0]}`)),
  updateStory: async (w) => one(put(`/stories/${w.stories[1]}`, { text: 'Second, edited' })),
  deleteStory: async (w) => one(del(`/stories/${(await must(post(`/tasks/${w.tasks[0]}/stories`, { text: 'Typo' }))).gid}`)),

  // Tags
  createTag: async (w) => one(post('/tags', { name: 'blocked', workspace: w.workspace, color: 'dark-orange', notes: 'Waiting on someone' })),
  createTagForWorkspace: async (w) => one(post(`/workspaces/${w.workspace}/tags`, { name: 'someday' })),
  getTags: async (w) => one(get('/tags', { workspace: w.workspace })),
  getTagsForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/tags`)),
  getTag: async (w) => one(get(`/tags/${w.tag}`)),
  updateTag: async (w) => one(put(`/tags/${w.tag}`, { notes: 'Do it now', color: 'dark-pink' })),
  deleteTag: async (w) => one(del(`/tags/${(await must(post('/tags', { name: 'doomed', workspace: w.workspace }))).gid}`)),
  getTagsForTask: async (w) => one(get(`/tasks/${w.tasks[0]}/tags`)),

  // User task lists
  getUserTaskListForUser: async (w) => [get('/users/me/user_task_list', { workspace: w.workspace }), get(`/users/${w.me}/user_task_list`, { workspace: w.workspace })],
  getUserTaskList: async (w) => one(get(`/user_task_lists/${w.userTaskList}`)),

  // Custom fields and settings
  createCustomField: async (w) => one(post('/custom_fields', { workspace: w.workspace, name: 'Estimate', resource_subtype: 'number', precision: 1, description: 'Days' })),
  getCustomField: async (w) => [get(`/custom_fields/${w.fields.enum}`), get(`/custom_fields/${w.fields.text}`)],
  // Asana's CustomFieldRequest requires workspace (unchanged) on updates too.
  updateCustomField: async (w) => one(put(`/custom_fields/${w.fields.text}`, { workspace: w.workspace, description: 'Free text' })),
  deleteCustomField: async (w) => one(del(`/custom_fields/${(await must(post('/custom_fields', { workspace: w.workspace, name: 'Doomed field', resource_subtype: 'text' }))).gid}`)),
  getCustomFieldsForWorkspace: async (w) => one(get(`/workspaces/${w.workspace}/custom_fields`)),
  createEnumOptionForCustomField: async (w) => one(post(`/custom_fields/${w.fields.enum}/enum_options`, { name: 'Medium', color: 'yellow', insert_after: w.fields.enumOptions[0] })),
  insertEnumOptionForCustomField: async (w) => one(post(`/custom_fields/${w.fields.enum}/enum_options/insert`, { enum_option: w.fields.enumOptions[1], before_enum_option: w.fields.enumOptions[0] })),
  updateEnumOption: async (w) => one(put(`/enum_options/${w.fields.enumOptions[0]}`, { name: 'Highest', color: 'red' })),
  getCustomFieldSettingsForProject: async (w) => one(get(`/projects/${w.project}/custom_field_settings`)),
  addCustomFieldSettingForProject: async (w) => {
    const field = await must(post('/custom_fields', { workspace: w.workspace, name: 'Due week', resource_subtype: 'date' }));
    return one(post(`/projects/${w.project}/addCustomFieldSetting`, { custom_field: field.gid, is_important: true }));
  },
  removeCustomFieldSettingForProject: async (w) => {
    const field = await must(post('/custom_fields', { workspace: w.workspace, name: 'Temporary', resource_subtype: 'text' }));
    await must(post(`/projects/${w.project}/addCustomFieldSetting`, { custom_field: field.gid }));
    return one(post(`/projects/${w.project}/removeCustomFieldSetting`, { custom_field: field.gid }));
  },

  // Attachments (multipart/form-data, as Asana takes them)
  createAttachmentForObject: async (w) => [
    { method: 'POST', path: '/attachments', form: fileForm(w.tasks[0], 'notes.txt') },
    { method: 'POST', path: '/attachments', form: linkForm(w.project) },
  ],
  getAttachment: async (w) => one(get(`/attachments/${await attachment(w.tasks[0])}`)),
  getAttachmentsForObject: async (w) => {
    await attachment(w.tasks[1]);
    await attachment(w.tasks[1]);
    return one(get('/attachments', { parent: w.tasks[1] }));
  },
  deleteAttachment: async (w) => one(del(`/attachments/${await attachment(w.tasks[0])}`)),

  // Templates
  projectSaveAsTemplate: async (w) => one(post(`/projects/${w.project}/saveAsTemplate`, { name: 'Launch template', team: w.team, public: false })),
  getProjectTemplates: async (w) => one(get('/project_templates', { workspace: w.workspace })),
  getProjectTemplatesForTeam: async (w) => one(get(`/teams/${w.team}/project_templates`)),
  getProjectTemplate: async (w) => one(get(`/project_templates/${await projectTemplate(w)}`)),
  deleteProjectTemplate: async (w) => one(del(`/project_templates/${await projectTemplate(w)}`)),
  instantiateProject: async (w) => one(post(`/project_templates/${await projectTemplate(w)}/instantiateProject`, { name: 'From template', team: w.team, public: false })),
  getTaskTemplates: async (w) => {
    await taskTemplate(w);
    return one(get('/task_templates', { project: w.project }));
  },
  getTaskTemplate: async (w) => one(get(`/task_templates/${await taskTemplate(w)}`)),
  deleteTaskTemplate: async (w) => one(del(`/task_templates/${await taskTemplate(w)}`)),
  instantiateTask: async (w) => one(post(`/task_templates/${await taskTemplate(w)}/instantiateTask`, { name: 'From task template' })),
};

function fileForm(parent: string, name: string): FormData {
  const form = new FormData();
  form.append('parent', parent);
  form.append('file', new Blob(['Plain text notes\n'], { type: 'text/plain' }), name);
  return form;
}
function linkForm(parent: string): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries({ parent, resource_subtype: 'external', name: 'Design doc', url: 'https://example.com/design' })) form.append(k, v);
  return form;
}
async function attachment(parent: string): Promise<string> {
  return (await must({ method: 'POST', path: '/attachments', form: fileForm(parent, `file-${newGid().slice(-4)}.txt`) })).gid as string;
}

async function projectTemplate(w: World): Promise<string> {
  const job = await must(post(`/projects/${w.project}/saveAsTemplate`, { name: `Template ${newGid().slice(-4)}`, team: w.team, public: false }));
  return job.new_project_template.gid as string;
}
async function taskTemplate(w: World): Promise<string> {
  return (await must(post(`/projects/${w.project}/task_templates`, { name: `Task template ${newGid().slice(-4)}`, task: w.tasks[0] }))).gid as string;
}

// --- Validating ------------------------------------------------------------------------------

const validated = new Set<string>();
const undeclared = new Map<string, Set<string>>();
let listsWithNextPage = 0;

const isList = (op: OasOperation) => op.successSchema?.properties?.data?.type === 'array';
const responseOf = (compactName: string | null) => (compactName?.endsWith('Compact') ? compactName.replace(/Compact$/, 'Response') : null);
/** Every top-level field Asana lets opt_fields ask for (list paging fields aside). */
const allOptFields = (op: OasOperation) => [...new Set(op.optFields.map((f) => f.split('.')[0]!))].filter((f) => !['offset', 'path', 'uri'].includes(f)).join(',');

function expectValid(label: string, result: { errors: string[] }) {
  expect({ call: label, errors: result.errors }).toEqual({ call: label, errors: [] });
}

async function validateCall(op: OasOperation, c: Call, collectUndeclared = true) {
  const label = `${c.method} ${c.path}${c.query ? `?${new URLSearchParams(c.query).toString()}` : ''}`;
  // JSON bodies are checked against Asana's request schema (multipart forms are not JSON).
  if (c.body !== undefined) expectValid(`request body of ${label} (Asana's ${op.operationId} request schema)`, oas.validateRequest(op, c.body));
  const res = await call(c);
  expect({ call: label, status: res.status, body: res.status === op.successStatus ? 'ok' : res.body }).toEqual({ call: label, status: op.successStatus, body: 'ok' });
  expectValid(label, oas.validateResponse(op, res.status, res.body));
  if (collectUndeclared && op.successSchema) noteUndeclared(op, oas.undeclaredFields(op.successSchema, res.body));
  return res;
}

function noteUndeclared(op: OasOperation, fields: string[]) {
  const seen = undeclared.get(op.operationId) ?? new Set<string>();
  for (const f of fields) seen.add(f);
  undeclared.set(op.operationId, seen);
}

const toExercise = [...shared.values()].filter(({ asana }) => EXERCISES[asana.operationId]);

for (const { asana: op, ours } of toExercise) {
  const bug = KNOWN_BUGS[op.operationId];
  const name = `${op.method} ${op.path} (${op.operationId}, ours: ${ours.map((o) => o.operationId).join(', ')}) answers as asana_oas.yaml declares${bug ? ` [KNOWN BUG: ${bug}]` : ''}`;
  (bug ? test.failing : test)(name, async () => {
    const calls = await EXERCISES[op.operationId]!(ctx);
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) {
      const res = await validateCall(op, c);
      if (isList(op)) {
        expect(Array.isArray(res.body.data)).toBe(true);
        // The same list a page at a time with every field Asana offers: items validate as full resources.
        const fields = allOptFields(op);
        const paged = await validateCall(op, { ...c, query: { ...(c.query ?? {}), limit: '1', ...(fields ? { opt_fields: fields } : {}) } }, false);
        expect(paged.body.data.length).toBeLessThanOrEqual(1);
        if (paged.body.next_page) listsWithNextPage++;
        const full = responseOf(oas.dataSchemaName(op));
        if (fields && full && oas.document.components.schemas[full]) {
          for (const item of paged.body.data) {
            expectValid(`${c.path} item with opt_fields as ${full}`, oas.validateSchema(full, item));
            noteUndeclared(op, oas.undeclaredFields({ $ref: `#/components/schemas/${full}` }, item).map((f) => `data[].${f}`));
          }
        }
      } else if (c.method === 'GET' && op.optFields.length) {
        // Single resources with every optional field asked for.
        await validateCall(op, { ...c, query: { ...(c.query ?? {}), opt_fields: allOptFields(op) } }, false);
      }
    }
    validated.add(op.operationId);
  });
}

// --- Errors ------------------------------------------------------------------------------------

async function expectErrorAnswer(operationId: string, c: Call, status: number) {
  const op = oas.byId(operationId)!;
  const res = await call(c);
  expect(res.status).toBe(status);
  expect(op.errorStatuses).toContain(status);
  expectValid(`${status} from ${c.method} ${c.path} (${operationId} declares it)`, oas.validateResponse(op, status, res.body));
  expectValid(`${status} from ${c.method} ${c.path} as ErrorResponse`, oas.validateSchema('ErrorResponse', res.body));
  expect(res.body.errors.length).toBeGreaterThan(0);
  for (const e of res.body.errors) expect(typeof e.message === 'string' && e.message.length > 0).toBe(true);
  return res.body;
}

test('401 without a token has the ErrorResponse body Asana declares', async () => {
  await expectErrorAnswer('getTask', { ...get(`/tasks/${ctx.tasks[0]}`), token: null }, 401);
  await expectErrorAnswer('createTask', { ...post('/tasks', { name: 'x', workspace: ctx.workspace }), token: null }, 401);
  await expectErrorAnswer('getTask', { ...get(`/tasks/${ctx.tasks[0]}`), token: 'not-a-real-token' }, 401);
});

test('404 for an unknown or invisible object has the ErrorResponse body Asana declares', async () => {
  await expectErrorAnswer('getTask', get('/tasks/123456789'), 404);
  await expectErrorAnswer('getProject', get('/projects/123456789'), 404);
  // Bob is in Ada's workspace, not in this private project.
  const secret = (await must(post('/projects', { name: 'Secret', workspace: ctx.workspace, team: ctx.team, privacy_setting: 'private' }))).gid as string;
  await expectErrorAnswer('getProject', { ...get(`/projects/${secret}`), token: ctx.otherToken }, 404);
});

test('400 for invalid input has the ErrorResponse body Asana declares, naming the field', async () => {
  const body = await expectErrorAnswer('createTask', post('/tasks', { name: 42, workspace: ctx.workspace }), 400);
  expect(JSON.stringify(body.errors)).toContain('name');
  await expectErrorAnswer('updateTask', put(`/tasks/${ctx.tasks[0]}`, { due_on: 'tomorrow' }), 400);
  await expectErrorAnswer('getTasksForProject', get(`/projects/${ctx.project}/tasks`, { limit: '500' }), 400);
});

test('403 for a visible object the caller may not change has the ErrorResponse body Asana declares', async () => {
  // Bob can see Ada's comment but cannot edit it.
  await expectErrorAnswer('updateStory', { ...put(`/stories/${ctx.stories[0]}`, { text: 'Mine now' }), token: ctx.otherToken }, 403);
});

// --- Known bugs found by these tests (test.failing until the fix in the report is applied) ----------

test('a task in a project but in none of its sections leaves memberships[].section out, as TaskResponse requires', async () => {
  // Asana's TaskResponse declares memberships[].section as SectionCompact (not nullable): in Asana every project task is in a section.
  const op = oas.byId('createTask')!;
  const body = { data: { name: 'Loose end', projects: [ctx.project] } };
  expectValid('request', oas.validateRequest(op, body));
  const res = await call({ method: 'POST', path: '/tasks', body });
  expect(res.status).toBe(201);
  expectValid('POST /tasks with projects: [a project that has sections]', oas.validateResponse(op, 201, res.body));
});

// --- Pagination and coverage --------------------------------------------------------------------

test('next_page follows Asana: null on the last page, {offset, path, uri} before it, and following it continues the list', async () => {
  const op = oas.byId('getTasksForProject')!;
  const first = await validateCall(op, get(`/projects/${ctx.project}/tasks`, { limit: '1' }));
  expect(first.body.next_page).toEqual({ offset: expect.any(String), path: expect.stringMatching(/^\/projects\/\d+\/tasks\?/), uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/1\.0\/projects\/\d+\/tasks\?/) });
  expectValid('next_page', oas.validateSchema('NextPage', first.body.next_page));
  const seen = [first.body.data[0].gid];
  let next = first.body.next_page;
  while (next) {
    const page = await call({ method: 'GET', path: next.path.split('?')[0], query: Object.fromEntries(new URLSearchParams(next.path.split('?')[1])) });
    expect(page.status).toBe(200);
    expectValid('following next_page.path', oas.validateResponse(op, 200, page.body));
    seen.push(...page.body.data.map((t: { gid: string }) => t.gid));
    next = page.body.next_page;
  }
  const all = await must(get(`/projects/${ctx.project}/tasks`));
  expect(seen).toEqual(all.map((t: { gid: string }) => t.gid));
  expect(new Set(seen).size).toBe(seen.length);
});

test('coverage: at least the known operations validate (summary printed)', () => {
  const sharedIds = [...shared.keys()].sort();
  const knownBugs = sharedIds.filter((id) => KNOWN_BUGS[id]);
  const noExercise = sharedIds.filter((id) => !EXERCISES[id]);
  const failed = sharedIds.filter((id) => EXERCISES[id] && !KNOWN_BUGS[id] && !validated.has(id));
  const oursOnly = ourOperations.filter((o) => !oas.find(o.method, o.path)).map((o) => `${o.method} ${o.path} (${o.operationId})`);
  const extras = [...undeclared.entries()].filter(([, f]) => f.size).map(([id, f]) => `  ${id}: ${[...f].join(', ')}`);
  const summary = [
    `Asana OAS compatibility: validated ${validated.size} of ${sharedIds.length} operations our openapi.json shares with asana_oas.yaml (${oas.operations.length} in Asana's document).`,
    `Lists checked with a next_page: ${listsWithNextPage}.`,
    `Shared, known bugs (test.failing) (${knownBugs.length}): ${knownBugs.join(', ') || 'none'}; also memberships-section-null (createTask etc.)`,
    `Shared, no exercise yet (${noExercise.length}): ${noExercise.join(', ') || 'none'}`,
    `Shared, exercised but failed (${failed.length}): ${failed.join(', ') || 'none'}`,
    `Ours only, not in Asana's document (${oursOnly.length}): ${oursOnly.join('; ')}`,
    `Fields we answer that Asana's schemas do not declare (allowed; for information):`,
    ...extras,
  ].join('\n');
  console.log(summary);
  expect(validated.size).toBeGreaterThanOrEqual(MIN_VALIDATED);
  expect(failed).toEqual([]);
  expect(listsWithNextPage).toBeGreaterThan(10);
});
