/**
 * The official Asana client library (npm `asana`, v3) against the real local runtime:
 * ApiClient's basePath points at our /api/1.0 and the session token goes in as the
 * library documents it (authentications.token.accessToken, sent as a Bearer token).
 * Everything below goes through the library's API classes, as an Asana integration would.
 *
 * Endpoints another engineer is still adding are probed in GET /api/1.0/openapi.json:
 * where they are missing, the test that needs them fails (naming which
 * operation is missing) and the object it would have created is inserted straight into
 * the database so the rest of the flow still runs through the library.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import Asana from 'asana';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { CHEAP_AUTH, uniqueEmail } from '../support/identity.js';

logger.setLogLevel('SILENT');

const dataDir = await mkdtemp(join(tmpdir(), 'asana-client-'));
const runtime: LocalRuntime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH });
afterAll(async () => {
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
});

const ourDocument = (await (await fetch(`${runtime.baseUrl}/api/1.0/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
const operationIds = new Set(Object.values(ourDocument.paths).flatMap((item) => Object.values(item).map((op) => op.operationId)));
/** A test that needs these operations: it fails, naming them, when the API lacks any. */
const testNeeding = (ids: string[], name: string, fn: () => Promise<void>) => {
  const missing = ids.filter((id) => !operationIds.has(id));
  test(name, missing.length ? async () => expect(missing).toEqual([]) : fn);
};

// --- The client, configured as the library documents ---------------------------------------

const client = Asana.ApiClient.instance;
client.basePath = `${runtime.baseUrl}/api/1.0`;
/** The bearer token slot the library documents (client.authentications.token.accessToken). */
const auth = client.authentications.token!;
const users = new Asana.UsersApi();
const workspaces = new Asana.WorkspacesApi();
const teams = new Asana.TeamsApi();
const projects = new Asana.ProjectsApi();
const sections = new Asana.SectionsApi();
const tasks = new Asana.TasksApi();
const stories = new Asana.StoriesApi();
const tags = new Asana.TagsApi();
const customFields = new Asana.CustomFieldsApi();
const customFieldSettings = new Asana.CustomFieldSettingsApi();

/** The state the tests build up, in order (Jest runs a file's tests one after another). */
const s = {} as {
  me: { gid: string; name: string; email: string };
  workspace: string;
  team: string;
  project: string;
  sections: [string, string, string];
  fields: { priority: string; high: string; low: string; estimate: string; note: string };
  task: string;
  subtasks: string[];
  story: string;
  tag: string;
};

beforeAll(async () => {
  const email = uniqueEmail('client');
  const res = await fetch(`${runtime.baseUrl}/api/1.0/auth/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { email, password: 'a long enough passphrase', name: 'Client Tester', organization_name: 'Client Org' } }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { data: { token: string; user: { gid: string }; organization: { gid: string } } };
  auth.accessToken = body.data.token;
  s.me = { gid: body.data.user.gid, name: 'Client Tester', email };
  s.workspace = body.data.organization.gid;
});

// --- Users and workspaces ------------------------------------------------------------------------

test('UsersApi.getUser("me") answers the token\'s user with their workspace', async () => {
  const result = await users.getUser('me', { opt_fields: 'name,email,workspaces,workspaces.name' });
  expect(result.data).toMatchObject({ gid: s.me.gid, resource_type: 'user', name: 'Client Tester' });
  expect(result.data.workspaces).toEqual([expect.objectContaining({ gid: s.workspace, resource_type: 'workspace', name: 'Client Org' })]);
});

test('a wrong token is refused with 401 and an Asana error body the library surfaces', async () => {
  const saved = auth.accessToken;
  auth.accessToken = 'not-a-token';
  try {
    await expect(users.getUser('me', {})).rejects.toMatchObject({ status: 401, response: { body: { errors: [expect.objectContaining({ message: expect.any(String) })] } } });
  } finally {
    auth.accessToken = saved;
  }
});

testNeeding(['getWorkspaces', 'getWorkspace'], 'WorkspacesApi lists and reads the workspace', async () => {
  const list = await workspaces.getWorkspaces({ limit: 10 });
  expect(list.data.map((w: { gid: string }) => w.gid)).toContain(s.workspace);
  const one = await workspaces.getWorkspace(s.workspace, {});
  expect(one.data).toMatchObject({ gid: s.workspace, resource_type: 'workspace', name: 'Client Org' });
});

// --- Teams -----------------------------------------------------------------------------------------

testNeeding(['createTeam', 'getTeam', 'getTeamsForWorkspace'], "TeamsApi creates a team in the workspace and reads it back, also among the workspace's teams", async () => {
  const created = await teams.createTeam({ data: { name: 'Platform', description: 'Builds things', organization: s.workspace, visibility: 'public' } }, {});
  expect(created.data).toMatchObject({ resource_type: 'team', name: 'Platform', description: 'Builds things', organization: { gid: s.workspace } });
  s.team = created.data.gid;
  const read = await teams.getTeam(s.team, {});
  expect(read.data).toMatchObject({ gid: s.team, name: 'Platform', visibility: 'public' });
  const list = await teams.getTeamsForWorkspace(s.workspace, {});
  expect(list.data.map((t: { gid: string }) => t.gid)).toContain(s.team);
});

/** Without POST /teams (not registered yet), the team is inserted directly, with the tester as its member. */
async function ensureTeam() {
  if (s.team) return;
  const db = runtime.deps.database.db;
  const now = new Date();
  s.team = runtime.deps.ids.gid();
  await db.insertInto('teams').values({ gid: s.team, organization_gid: s.workspace, name: 'Platform', visibility: 'public', created_by: s.me.gid, created_at: now, modified_at: now }).execute();
  await db.insertInto('team_memberships').values({ gid: runtime.deps.ids.gid(), team_gid: s.team, user_gid: s.me.gid, created_at: now }).execute();
}

// --- Projects and sections -----------------------------------------------------------------------

test('ProjectsApi creates a project in the team and reads it back', async () => {
  await ensureTeam();
  const created = await projects.createProjectForTeam({ data: { name: 'Launch', notes: 'The launch plan', due_on: '2031-05-01', default_view: 'board', privacy_setting: 'public_to_workspace' } }, s.team, {});
  expect(created.data).toMatchObject({
    resource_type: 'project',
    name: 'Launch',
    notes: 'The launch plan',
    due_on: '2031-05-01',
    default_view: 'board',
    team: { gid: s.team },
    workspace: { gid: s.workspace },
    owner: { gid: s.me.gid },
  });
  s.project = created.data.gid;
  const read = await projects.getProject(s.project, { opt_fields: 'name,team,team.name,members,privacy_setting' });
  expect(read.data).toMatchObject({ gid: s.project, name: 'Launch', team: { gid: s.team, name: 'Platform' }, privacy_setting: 'public_to_workspace' });
  expect(read.data.members.map((m: { gid: string }) => m.gid)).toEqual([s.me.gid]);
  const inTeam = await projects.getProjectsForTeam(s.team, {});
  expect(inTeam.data.map((p: { gid: string }) => p.gid)).toContain(s.project);
});

test('SectionsApi creates sections in order and reads them back', async () => {
  const todo = await sections.createSectionForProject(s.project, { body: { data: { name: 'To do' } } });
  const done = await sections.createSectionForProject(s.project, { body: { data: { name: 'Done' } } });
  const doing = await sections.createSectionForProject(s.project, { body: { data: { name: 'Doing', insert_before: done.data.gid } } });
  expect(todo.data).toMatchObject({ resource_type: 'section', name: 'To do', project: { gid: s.project } });
  s.sections = [todo.data.gid, doing.data.gid, done.data.gid];
  const list = await sections.getSectionsForProject(s.project, {});
  expect(list.data.map((x: { name: string }) => x.name)).toEqual(['To do', 'Doing', 'Done']);
  const one = await sections.getSection(doing.data.gid, {});
  expect(one.data).toMatchObject({ gid: doing.data.gid, name: 'Doing', project: { gid: s.project, name: 'Launch' } });
});

// --- Custom fields -------------------------------------------------------------------------------

testNeeding(['createCustomField', 'getCustomField', 'addCustomFieldSettingForProject', 'getCustomFieldSettingsForProject'], 'CustomFieldsApi creates enum, number and text fields; ProjectsApi adds them to the project', async () => {
  const priority = await customFields.createCustomField({ data: { workspace: s.workspace, name: 'Priority', resource_subtype: 'enum', enum_options: [{ name: 'High', color: 'red' }, { name: 'Low', color: 'green' }] } }, {});
  expect(priority.data).toMatchObject({ resource_type: 'custom_field', name: 'Priority', resource_subtype: 'enum' });
  expect(priority.data.enum_options.map((o: { name: string; color: string }) => [o.name, o.color])).toEqual([
    ['High', 'red'],
    ['Low', 'green'],
  ]);
  const estimate = await customFields.createCustomField({ data: { workspace: s.workspace, name: 'Estimate', resource_subtype: 'number', precision: 1 } }, {});
  const note = await customFields.createCustomField({ data: { workspace: s.workspace, name: 'Note', resource_subtype: 'text' } }, {});
  s.fields = { priority: priority.data.gid, high: priority.data.enum_options[0].gid, low: priority.data.enum_options[1].gid, estimate: estimate.data.gid, note: note.data.gid };

  const setting = await projects.addCustomFieldSettingForProject({ data: { custom_field: s.fields.priority, is_important: true } }, s.project, {});
  expect(setting.data).toMatchObject({ resource_type: 'custom_field_setting', is_important: true, custom_field: { gid: s.fields.priority }, project: { gid: s.project } });
  for (const f of [s.fields.estimate, s.fields.note]) await projects.addCustomFieldSettingForProject({ data: { custom_field: f } }, s.project, {});
  const settings = await customFieldSettings.getCustomFieldSettingsForProject(s.project, {});
  expect(settings.data.map((x: { custom_field: { gid: string } }) => x.custom_field.gid)).toEqual([s.fields.priority, s.fields.estimate, s.fields.note]);
  expect((await customFields.getCustomField(s.fields.estimate, {})).data).toMatchObject({ gid: s.fields.estimate, resource_subtype: 'number', precision: 1 });
});

/** Without the custom field endpoints, the fields and their project settings are inserted directly. */
async function ensureFields() {
  if (s.fields) return;
  const db = runtime.deps.database.db;
  const id = () => runtime.deps.ids.gid();
  const now = new Date();
  s.fields = { priority: id(), high: id(), low: id(), estimate: id(), note: id() };
  await db.insertInto('custom_fields').values({ gid: s.fields.priority, organization_gid: s.workspace, name: 'Priority', resource_subtype: 'enum', created_at: now }).execute();
  await db.insertInto('custom_field_enum_options').values({ gid: s.fields.high, custom_field_gid: s.fields.priority, name: 'High', color: 'red', position: 1 }).execute();
  await db.insertInto('custom_field_enum_options').values({ gid: s.fields.low, custom_field_gid: s.fields.priority, name: 'Low', color: 'green', position: 2 }).execute();
  await db.insertInto('custom_fields').values({ gid: s.fields.estimate, organization_gid: s.workspace, name: 'Estimate', resource_subtype: 'number', precision: 1, created_at: now }).execute();
  await db.insertInto('custom_fields').values({ gid: s.fields.note, organization_gid: s.workspace, name: 'Note', resource_subtype: 'text', created_at: now }).execute();
  let position = 1;
  for (const f of [s.fields.priority, s.fields.estimate, s.fields.note]) await db.insertInto('project_custom_field_settings').values({ gid: id(), project_gid: s.project, custom_field_gid: f, position: position++ }).execute();
}

// --- Tasks, subtasks, stories, tags ------------------------------------------------------------------

test('TasksApi creates a task in a section with custom field values and reads them back', async () => {
  await ensureFields();
  const created = await tasks.createTask(
    {
      data: {
        name: 'Write the plan',
        notes: 'Everything we need',
        workspace: s.workspace,
        assignee: s.me.gid,
        due_on: '2031-04-01',
        memberships: [{ project: s.project, section: s.sections[0] }],
        custom_fields: { [s.fields.priority]: s.fields.high, [s.fields.estimate]: 2.5, [s.fields.note]: 'Draft first' },
      },
    },
    {},
  );
  s.task = created.data.gid;
  expect(created.data).toMatchObject({
    resource_type: 'task',
    name: 'Write the plan',
    notes: 'Everything we need',
    completed: false,
    due_on: '2031-04-01',
    assignee: { gid: s.me.gid },
    workspace: { gid: s.workspace },
    memberships: [{ project: { gid: s.project }, section: { gid: s.sections[0], name: 'To do' } }],
  });

  const read = await tasks.getTask(s.task, { opt_fields: 'name,custom_fields,custom_fields.display_value,custom_fields.enum_value,custom_fields.number_value,custom_fields.text_value' });
  const byGid = Object.fromEntries(read.data.custom_fields.map((f: { gid: string }) => [f.gid, f]));
  expect(byGid[s.fields.priority]).toMatchObject({ enum_value: { gid: s.fields.high, name: 'High' }, display_value: 'High' });
  expect(byGid[s.fields.estimate]).toMatchObject({ number_value: 2.5, display_value: '2.5' });
  expect(byGid[s.fields.note]).toMatchObject({ text_value: 'Draft first', display_value: 'Draft first' });

  const updated = await tasks.updateTask({ data: { completed: true, custom_fields: { [s.fields.priority]: s.fields.low, [s.fields.note]: null } } }, s.task, {});
  expect(updated.data.completed).toBe(true);
  expect(updated.data.completed_at).toEqual(expect.any(String));
  const after = Object.fromEntries(updated.data.custom_fields.map((f: { gid: string }) => [f.gid, f]));
  expect(after[s.fields.priority]).toMatchObject({ enum_value: { gid: s.fields.low } });
  expect(after[s.fields.note]?.text_value ?? null).toBeNull();
});

test('SectionsApi moves the task to another section; TasksApi lists the section', async () => {
  await sections.addTaskForSection(s.sections[1], { body: { data: { task: s.task } } });
  const inDoing = await tasks.getTasksForSection(s.sections[1], {});
  expect(inDoing.data.map((t: { gid: string }) => t.gid)).toEqual([s.task]);
  const inTodo = await tasks.getTasksForSection(s.sections[0], {});
  expect(inTodo.data).toEqual([]);
});

test('TasksApi creates subtasks and reads them through the parent and the subtask', async () => {
  const first = await tasks.createSubtaskForTask({ data: { name: 'Outline', assignee: s.me.gid } }, s.task, {});
  const second = await tasks.createSubtaskForTask({ data: { name: 'Draft' } }, s.task, {});
  expect(first.data).toMatchObject({ resource_type: 'task', name: 'Outline', parent: { gid: s.task, name: 'Write the plan' } });
  s.subtasks = [first.data.gid, second.data.gid];
  const list = await tasks.getSubtasksForTask(s.task, {});
  expect(list.data.map((t: { name: string }) => t.name)).toEqual(['Outline', 'Draft']);
  const parent = await tasks.getTask(s.task, { opt_fields: 'num_subtasks' });
  expect(parent.data.num_subtasks).toBe(2);
  const child = await tasks.getTask(second.data.gid, {});
  expect(child.data.parent).toMatchObject({ gid: s.task });
});

test('StoriesApi comments on the task and reads the comment back', async () => {
  const created = await stories.createStoryForTask({ data: { text: 'Looks good to me' } }, s.task, {});
  expect(created.data).toMatchObject({ resource_type: 'story', resource_subtype: 'comment_added', text: 'Looks good to me', created_by: { gid: s.me.gid } });
  s.story = created.data.gid;
  const list = await stories.getStoriesForTask(s.task, {});
  expect(list.data.filter((x: { resource_subtype: string }) => x.resource_subtype === 'comment_added').map((x: { gid: string }) => x.gid)).toEqual([s.story]);
  const one = await stories.getStory(s.story, {});
  expect(one.data).toMatchObject({ gid: s.story, text: 'Looks good to me', target: { gid: s.task } });
  const edited = await stories.updateStory({ data: { text: 'Looks great' } }, s.story, {});
  expect(edited.data.text).toBe('Looks great');
});

test('TagsApi creates a tag; TasksApi.addTagForTask tags the task; both sides list it', async () => {
  const created = await tags.createTag({ data: { name: 'urgent', workspace: s.workspace, color: 'dark-red', notes: 'Do first' } }, {});
  expect(created.data).toMatchObject({ resource_type: 'tag', name: 'urgent', color: 'dark-red', notes: 'Do first', workspace: { gid: s.workspace } });
  s.tag = created.data.gid;
  const added = await tasks.addTagForTask({ data: { tag: s.tag } }, s.task);
  expect(added.data).toEqual({});
  const onTask = await tags.getTagsForTask(s.task, {});
  expect(onTask.data.map((t: { gid: string }) => t.gid)).toEqual([s.tag]);
  const tagged = await tasks.getTasksForTag(s.tag, {});
  expect(tagged.data.map((t: { gid: string }) => t.gid)).toEqual([s.task]);
  const inWorkspace = await tags.getTagsForWorkspace(s.workspace, {});
  expect(inWorkspace.data.map((t: { name: string }) => t.name)).toContain('urgent');
  expect((await tags.getTag(s.tag, {})).data).toMatchObject({ gid: s.tag, name: 'urgent' });
});

// Asana's TaskRequestBase.assignee, TaskCreateRequest.followers and TaskAddFollowersRequest /
// TaskRemoveFollowersRequest.followers take "me", an email or a user gid; we take gids only (400).
test('TasksApi names the assignee and followers as "me" or by email, as Asana documents', async () => {
  const created = await tasks.createTask({ data: { name: 'Mine', workspace: s.workspace, assignee: 'me', followers: [s.me.email] } }, {});
  expect(created.data.assignee).toMatchObject({ gid: s.me.gid });
  expect(created.data.followers.map((f: { gid: string }) => f.gid)).toEqual([s.me.gid]);
  const unassigned = await tasks.updateTask({ data: { assignee: null } }, created.data.gid, {});
  expect(unassigned.data.assignee).toBeNull();
  const reassigned = await tasks.updateTask({ data: { assignee: s.me.email } }, created.data.gid, {});
  expect(reassigned.data.assignee).toMatchObject({ gid: s.me.gid });
  const sub = await tasks.createSubtaskForTask({ data: { name: 'Mine too', assignee: 'me' } }, created.data.gid, {});
  expect(sub.data.assignee).toMatchObject({ gid: s.me.gid });
  const unfollowed = await tasks.removeFollowerForTask({ data: { followers: ['me'] } }, created.data.gid, {});
  expect(unfollowed.data.followers).toEqual([]);
  const followed = await tasks.addFollowersForTask({ data: { followers: [s.me.email] } }, created.data.gid, {});
  expect(followed.data.followers.map((f: { gid: string }) => f.gid)).toEqual([s.me.gid]);
});

test('a missing task rejects with 404 and Asana\'s error body', async () => {
  await expect(tasks.getTask('123456789', {})).rejects.toMatchObject({ status: 404, response: { body: { errors: [expect.objectContaining({ message: expect.any(String) })] } } });
});

// --- Pagination: the library's Collection.nextPage() follows our next_page --------------------------

test('Collection.nextPage() walks a list page by page (limit) until next_page is null', async () => {
  for (const name of ['T3', 'T4', 'T5', 'T6']) await tasks.createTask({ data: { name, memberships: [{ project: s.project, section: s.sections[2] }] } }, {});
  const all = await tasks.getTasksForProject(s.project, { limit: 100 });
  expect(all.data).toHaveLength(5);
  expect(all._response.next_page).toBeNull();

  let page = await tasks.getTasksForProject(s.project, { limit: 2 });
  const seen: string[] = [];
  const sizes: number[] = [];
  for (;;) {
    sizes.push(page.data.length);
    seen.push(...page.data.map((t: { gid: string }) => t.gid));
    if (page._response.next_page) {
      expect(page._response.next_page).toEqual({ offset: expect.any(String), path: expect.stringContaining(`/projects/${s.project}/tasks?`), uri: expect.stringContaining(`${runtime.baseUrl}/api/1.0/projects/${s.project}/tasks?`) });
    }
    const next = await page.nextPage();
    if (next.data === null) break;
    page = next as typeof page;
  }
  expect(sizes).toEqual([2, 2, 1]);
  expect(seen).toEqual(all.data.map((t: { gid: string }) => t.gid));
});
