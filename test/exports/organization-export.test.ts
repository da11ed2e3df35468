/**
 * The organization export's content (buildOrganizationExport): the rendered document
 * validates against docs/schemas/organization-export.schema.json; it holds everything of
 * the organization (private projects, secret teams, deleted projects and teams, tasks
 * deleted within 30 days) and nothing of another organization or any secret; incremental
 * exports hold what changed plus tombstones, and miss no kind of change (renames of
 * sections, tags, fields and options, membership changes, removed relations, likes,
 * reinstatements, purged tasks); a resumed render (from every checkpoint, with
 * a freshly built plan) writes the same text; the statements per page do not grow with the
 * number of tasks; pages stay under 1 MiB with large notes.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sql, type Kysely } from 'kysely';
import { json, PAGE_BYTE_BUDGET } from '../../lambdas/db/query.js';
import type { DB } from '../../lambdas/db/schema.js';
import { hashPassword } from '../../lambdas/domain/auth/passwords.js';
import { createServiceAccount } from '../../lambdas/domain/auth/service-accounts.js';
import { hashToken } from '../../lambdas/domain/auth/tokens.js';
import { buildOrganizationExport, ORGANIZATION_EXPORT_SECTIONS, RELATION_ROWS } from '../../lambdas/domain/exports/organization-export.js';
import { purgeDeletedWork } from '../../lambdas/domain/work/retention.js';
import { renderPlan, renderPlanToString, type ExportJobContext, type ExportPosition } from '../../lambdas/domain/exports/plan.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { BASE_URL, identityHarness, type Answer, type IdentityHarness, apiCall, apiData } from '../support/identity.js';
import { customField, project, team } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

const DAY = 86_400_000;
const PASSWORD = 'Correct-horse-battery-staple-42';
const SSO_SECRET = 'sealed-oidc-client-secret-f00dfeed';
const LOGIN_IP = '198.51.100.1';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;
let limited: Person;
let validate: Awaited<ReturnType<typeof schemaValidator>>;
/** Secret material that must never appear in a document. */
const secrets: Record<string, string> = {};
/** The main organization's objects, by role in the tests. */
const f = {} as Record<
  | 'secretTeam' | 'deletedTeam' | 'privateProject' | 'deletedProject' | 'publicProject' | 'backlog' | 'tag' | 'text' | 'enum' | 'high' | 'multi' | 'optA' | 'optB' | 'people' | 'number' | 'date'
  | 'A' | 'A1' | 'secretTask' | 'deletedProjectTask' | 'D10' | 'D10child' | 'D40' | 'comment' | 'D40comment' | 'attachment' | 'projectAttachment' | 'status' | 'message' | 'reply' | 'projectTemplate' | 'taskTemplate' | 'serviceAccount',
  string
>;
/** Gids of the other organization's objects. */
const foreign: string[] = [];
const bigSnapshot = { version: 1, color: null, default_view: 'list', privacy_setting: 'public_to_workspace', relative_start_on: null, relative_due_on: null, requested_dates: [], sections: [{ name: 'Só' }], tasks: [{ name: 'Long', notes: 'ü"\n'.repeat(9000), resource_subtype: 'default_task', section: 0, relative_start_on: null, relative_due_on: 3, subtasks: [] }], custom_field_settings: [] };

async function schemaValidator() {
  const schema = JSON.parse(await readFile(new URL('../../docs/schemas/organization-export.schema.json', import.meta.url), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv.compile(schema);
}

const call = (token: string, method: string, path: string, data?: unknown): Promise<Answer> => apiCall(h, token, method, path, data);
const post = (token: string, path: string, data: unknown) => apiData(h, token, 'POST', path, data);
const tick = () => h.clock.advance(1000);

function job(overrides: Partial<ExportJobContext> = {}): ExportJobContext {
  return { gid: '7000000000000001', organizationGid: w.org.gid, createdAt: h.clock.now(), modifiedSince: null, requestedBy: { kind: 'user', gid: w.admin.gid }, baseUrl: BASE_URL, ...overrides };
}

type Doc = Record<string, any> & { export: Record<string, any> };
async function exportDoc(j: ExportJobContext, db: Kysely<DB> = h.engine.db): Promise<{ text: string; doc: Doc }> {
  const text = await renderPlanToString(await buildOrganizationExport(db, j));
  return { text, doc: JSON.parse(text) as Doc };
}
const gidsOf = (list: { gid: string }[]) => list.map((x) => x.gid);
const byGid = (list: { gid: string }[], gid: string) => list.find((x) => x.gid === gid) as Record<string, any> | undefined;
const expectValid = (doc: unknown) => expect(validate(doc) ? [] : validate.errors).toEqual([]);

async function attach(parentType: 'task' | 'project', parentGid: string, name: string) {
  const gid = h.deps.ids.gid();
  await h.engine.db
    .insertInto('attachments')
    .values({ gid, organization_gid: w.org.gid, parent_type: parentType, parent_gid: parentGid, name, content_type: 'application/pdf', size: 1234, blob_key: `attachments/${w.org.gid}/${gid}`, created_by: w.member.gid, created_at: h.clock.now() })
    .execute();
  secrets[`blob key ${name}`] = `attachments/${w.org.gid}/${gid}`;
  return gid;
}

/** An organization with `count` tasks, each with a project, section, tag, follower, like, custom field value and a liked comment; inserted in bulk. */
async function bulkOrganization(name: string, count: number, notes = (i: number) => `Notes ${i}`) {
  const db = h.engine.db;
  const now = h.clock.now();
  const org = (await bareOrganization(name)).gid;
  const someone = h.deps.ids.gid();
  await db.insertInto('users').values({ gid: someone, email: `bulk-${someone}@example.com`, name: 'Bulk person', created_at: now, modified_at: now }).execute();
  await db.insertInto('organization_memberships').values({ gid: h.deps.ids.gid(), organization_gid: org, user_gid: someone, role: 'member', created_at: now }).execute();
  const projectGid = await project(h, org, { name: `${name} project` });
  const sectionGid = h.deps.ids.gid();
  await db.insertInto('sections').values({ gid: sectionGid, project_gid: projectGid, name: 'Column', position: 1, created_at: now }).execute();
  const tagGid = h.deps.ids.gid();
  await db.insertInto('tags').values({ gid: tagGid, organization_gid: org, name: 'bulk', created_at: now }).execute();
  const fieldGid = h.deps.ids.gid();
  await db.insertInto('custom_fields').values({ gid: fieldGid, organization_gid: org, name: 'Bulk text', resource_subtype: 'text', created_at: now }).execute();
  const tasks = Array.from({ length: count }, (_, i) => ({ gid: h.deps.ids.gid(), i }));
  for (let s = 0; s < count; s += 100) {
    const batch = tasks.slice(s, s + 100);
    await db.insertInto('tasks').values(batch.map((t) => ({ gid: t.gid, organization_gid: org, name: `Task ${t.i}`, notes: notes(t.i), assignee_gid: someone, created_by: someone, created_at: now, modified_at: now }))).execute();
    await db.insertInto('task_ancestors').values(batch.map((t) => ({ task_gid: t.gid, ancestor_gid: t.gid, depth: 0 }))).execute();
    await db.insertInto('task_projects').values(batch.map((t) => ({ task_gid: t.gid, project_gid: projectGid, section_gid: sectionGid, position: t.i, added_at: now }))).execute();
    await db.insertInto('task_tags').values(batch.map((t) => ({ task_gid: t.gid, tag_gid: tagGid, added_at: now }))).execute();
    await db.insertInto('task_followers').values(batch.map((t) => ({ task_gid: t.gid, user_gid: someone, created_at: now }))).execute();
    await db.insertInto('task_likes').values(batch.map((t) => ({ task_gid: t.gid, user_gid: someone, created_at: now }))).execute();
    await db.insertInto('task_custom_field_values').values(batch.map((t) => ({ task_gid: t.gid, custom_field_gid: fieldGid, text_value: `value ${t.i}` }))).execute();
    const stories = batch.map((t) => ({ gid: h.deps.ids.gid(), task_gid: t.gid, text: `Comment on ${t.i}`, created_by: someone, created_at: now, modified_at: now }));
    await db.insertInto('stories').values(stories).execute();
    await db.insertInto('story_likes').values(stories.map((st) => ({ story_gid: st.gid, user_gid: someone, created_at: now }))).execute();
  }
  return { org, someone };
}

/** An organization row and nothing else. */
async function bareOrganization(name: string) {
  const now = h.clock.now();
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('organizations').values({ gid, name, created_at: now, modified_at: now }).execute();
  return { gid };
}

beforeAll(async () => {
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  validate = await schemaValidator();
  w = await organizationWithRoles(h, 'Acme Corp');
  other = await organizationWithRoles(h, 'Other Org');
  limited = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Limited member' });
  const m = w.member.token;
  const db = h.engine.db;

  // Secrets: a known password, sessions (every person() has one), SSO settings, a service account, an invitation.
  await db.updateTable('users').set({ password_hash: await hashPassword(PASSWORD, { logN: 4, r: 8, p: 1 }) }).where('gid', '=', w.member.gid).execute();
  const stored = await db.selectFrom('users').select('password_hash').where('gid', '=', w.member.gid).executeTakeFirstOrThrow();
  Object.assign(secrets, { password: PASSWORD, 'password hash': stored.password_hash!, 'session token': w.member.token, 'session token hash': hashToken(w.member.token), 'admin session hash': hashToken(w.admin.token), 'sso secret': SSO_SECRET, 'login ip': LOGIN_IP });
  await db.updateTable('organizations').set({ oidc_issuer: 'https://idp.example.test', oidc_client_id: 'client-123', oidc_client_secret_enc: SSO_SECRET }).where('gid', '=', w.org.gid).execute();
  const account = await createServiceAccount(h.deps, { organizationGid: w.org.gid, name: 'Backup bot', scopes: ['exports'], creatorGid: w.admin.gid, ip: '203.0.113.9', userAgent: 'jest' });
  f.serviceAccount = account.gid;
  Object.assign(secrets, { 'service account token': account.token, 'service account token hash': hashToken(account.token) });
  await post(w.admin.token, `/workspaces/${w.org.gid}/addUser`, { user: 'invitee@example.com' });
  await h.deliverMail();
  const invitationToken = /token=([A-Za-z0-9_-]{43})/.exec(h.mailTo('invitee@example.com')[0]!.text)![1]!;
  Object.assign(secrets, { 'invitation token': invitationToken, 'invitation token hash': hashToken(invitationToken) });

  // Teams: a secret one (the admin is not in it), one to be deleted.
  f.secretTeam = await team(h, w.org.gid, { visibility: 'secret', name: 'Secret team', members: [{ gid: w.member.gid }, { gid: limited.gid, limited: true }] });
  f.deletedTeam = await team(h, w.org.gid, { name: 'Deleted team', members: [{ gid: w.member.gid }] });
  // Projects: private in the secret team (only the member in it), one in the team to delete, a public one.
  f.privateProject = await project(h, w.org.gid, { team: f.secretTeam, privacy: 'private', members: [{ gid: w.member.gid, access: 'admin' }], name: 'Private project', owner: w.member.gid });
  f.deletedProject = await project(h, w.org.gid, { team: f.deletedTeam, name: 'Deleted project', members: [{ gid: w.member.gid }] });
  f.publicProject = (await post(m, '/projects', { workspace: w.org.gid, name: 'Public project', followers: [w.admin.gid], due_on: '2026-09-30' })).gid;
  f.backlog = (await post(m, `/projects/${f.publicProject}/sections`, { name: 'Backlog' })).gid;
  const fields = {
    text: await customField(h, w.org.gid, 'text'),
    enum: await customField(h, w.org.gid, 'enum', ['Low', 'High']),
    multi: await customField(h, w.org.gid, 'multi_enum', ['A', 'B']),
    people: await customField(h, w.org.gid, 'people'),
    number: await customField(h, w.org.gid, 'number'),
    date: await customField(h, w.org.gid, 'date'),
  };
  Object.assign(f, { text: fields.text.gid, enum: fields.enum.gid, high: fields.enum.options[1], multi: fields.multi.gid, optA: fields.multi.options[0], optB: fields.multi.options[1], people: fields.people.gid, number: fields.number.gid, date: fields.date.gid });
  for (const [i, field] of [f.text, f.enum].entries()) await db.insertInto('project_custom_field_settings').values({ gid: h.deps.ids.gid(), project_gid: f.publicProject, custom_field_gid: field, is_important: i === 0, position: i + 1 }).execute();
  f.tag = (await post(m, '/tags', { name: 'urgent', workspace: w.org.gid })).gid;

  // Tasks.
  tick();
  f.A = (
    await post(m, '/tasks', {
      name: 'Alpha',
      notes: 'Line one\nLine two',
      memberships: [{ project: f.publicProject, section: f.backlog }],
      assignee: w.member.gid,
      followers: [w.admin.gid],
      tags: [f.tag],
      due_on: '2026-05-20',
      start_on: '2026-05-01',
      custom_fields: { [f.text]: 'hello', [f.enum]: f.high, [f.multi]: [f.optB, f.optA], [f.people]: [w.admin.gid], [f.number]: 3.14159, [f.date]: { date: '2026-01-02' } },
    })
  ).gid;
  tick();
  f.A1 = (await post(m, `/tasks/${f.A}/subtasks`, { name: 'Alpha subtask' })).gid;
  await post(w.admin.token, `/tasks/${f.A}/like`, { liked: true });
  f.comment = (await post(m, `/tasks/${f.A}/stories`, { text: 'First comment' })).gid;
  await post(w.admin.token, `/stories/${f.comment}/like`, { liked: true });
  f.attachment = await attach('task', f.A, 'plan.pdf');
  f.projectAttachment = await attach('project', f.privateProject, 'brief.pdf');
  tick();
  f.secretTask = (await post(m, '/tasks', { name: 'Secret task', projects: [f.privateProject] })).gid;
  f.deletedProjectTask = (await post(m, '/tasks', { name: 'Task of a deleted project', projects: [f.deletedProject] })).gid;
  f.D10 = (await post(m, '/tasks', { name: 'Deleted ten days ago', projects: [f.publicProject] })).gid;
  f.D10child = (await post(m, `/tasks/${f.D10}/subtasks`, { name: 'Child of a deleted task' })).gid;
  f.D40 = (await post(m, '/tasks', { name: 'Deleted forty days ago', projects: [f.publicProject] })).gid;
  f.D40comment = (await post(m, `/tasks/${f.D40}/stories`, { text: 'On a long-deleted task' })).gid;
  const now = h.clock.now().getTime();
  await db.updateTable('tasks').set({ deleted_at: new Date(now - 10 * DAY) }).where('gid', '=', f.D10).execute();
  await db.updateTable('tasks').set({ deleted_at: new Date(now - 40 * DAY) }).where('gid', '=', f.D40).execute();
  await db.updateTable('projects').set({ deleted_at: h.clock.now() }).where('gid', '=', f.deletedProject).execute();
  await db.updateTable('teams').set({ deleted_at: h.clock.now() }).where('gid', '=', f.deletedTeam).execute();

  // Status, conversation, templates.
  f.status = (await post(m, `/projects/${f.publicProject}/project_statuses`, { title: 'Kickoff', text: 'Started', color: 'green' })).gid;
  f.message = (await post(m, '/messages', { parent: f.secretTeam, title: 'Secret plans', text: 'Let us plan' })).gid;
  f.reply = (await post(m, `/messages/${f.message}/replies`, { text: 'Agreed' })).gid;
  f.projectTemplate = h.deps.ids.gid();
  await db.insertInto('project_templates').values({ gid: f.projectTemplate, organization_gid: w.org.gid, team_gid: f.secretTeam, name: 'Big template', owner_gid: w.member.gid, template: json(bigSnapshot), created_at: h.clock.now() }).execute();
  f.taskTemplate = h.deps.ids.gid();
  await db.insertInto('task_templates').values({ gid: f.taskTemplate, project_gid: f.privateProject, name: 'Checklist', template: json({ version: 1, name: 'Checklist', notes: '', resource_subtype: 'default_task', section: null, relative_start_on: null, relative_due_on: null, subtasks: [] }), created_by: w.member.gid, created_at: h.clock.now() }).execute();

  // The other organization: a team, a project, a task, a tag, a field.
  const o = other.org.gid;
  const oTeam = await team(h, o, { name: 'Foreign team', visibility: 'secret', members: [{ gid: other.member.gid }] });
  const oProject = await project(h, o, { team: oTeam, name: 'Foreign project', members: [{ gid: other.member.gid }] });
  const oTask = (await post(other.member.token, '/tasks', { name: 'Foreign task', projects: [oProject] })).gid;
  const oTag = (await post(other.member.token, '/tags', { name: 'foreign-tag', workspace: o })).gid;
  const oComment = (await post(other.member.token, `/tasks/${oTask}/stories`, { text: 'Foreign comment' })).gid;
  foreign.push(o, oTeam, oProject, oTask, oTag, oComment, other.member.gid, other.admin.gid, other.superAdmin.gid, other.guest.gid);
  tick();
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe('a full export', () => {
  let text: string;
  let doc: Doc;
  beforeAll(async () => {
    ({ text, doc } = await exportDoc(job()));
  });

  test('the document parses, validates against the schema, and has every section in order', () => {
    expectValid(doc);
    expect(Object.keys(doc)).toEqual(['export', ...ORGANIZATION_EXPORT_SECTIONS]);
    expect(doc.export).toEqual({
      format: 'asana-compatible-export',
      version: 1,
      kind: 'organization',
      export_gid: '7000000000000001',
      exported_at: h.clock.now().toISOString(),
      exported_by: { gid: w.admin.gid, resource_type: 'user', name: w.admin.name },
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Acme Corp' },
      incremental: false,
      modified_since: null,
      deleted_since: new Date(h.clock.now().getTime() - 30 * DAY).toISOString(),
    });
    expect(doc.tombstones).toEqual([]);
    expect(text.endsWith('\n]\n}\n')).toBe(true);
  });

  test('the schema rejects mistakes (it is strict enough to matter)', () => {
    const broken = structuredClone(doc);
    broken.tasks[0].secret = 'x';
    broken.projects[0].deleted_at = 'yesterday';
    delete broken.teams[0].visibility;
    broken.attachments[0].download_url = 'https://bucket.example/signed';
    expect(validate(broken)).toBe(false);
    const paths = validate.errors!.map((e) => e.instancePath);
    expect(paths).toEqual(expect.arrayContaining(['/tasks/0', '/projects/0/deleted_at', '/teams/0', '/attachments/0/download_url']));
  });

  test('private projects, secret teams and what is in them are included', () => {
    const secretTeam = byGid(doc.teams, f.secretTeam)!;
    expect(secretTeam).toMatchObject({ name: 'Secret team', visibility: 'secret', deleted_at: null, organization: { gid: w.org.gid } });
    const privateProject = byGid(doc.projects, f.privateProject)!;
    expect(privateProject).toMatchObject({ privacy_setting: 'private', team: { gid: f.secretTeam, resource_type: 'team', name: 'Secret team' }, owner: { gid: w.member.gid }, deleted_at: null });
    expect(privateProject.project_memberships).toEqual([expect.objectContaining({ user: expect.objectContaining({ gid: w.member.gid }), access_level: 'admin' })]);
    const secretTask = byGid(doc.tasks, f.secretTask)!;
    expect(secretTask.projects).toEqual([{ gid: f.privateProject, resource_type: 'project', name: 'Private project' }]);
    expect(secretTask.teams).toEqual([{ gid: f.secretTeam, resource_type: 'team', name: 'Secret team' }]);
    expect(byGid(doc.messages, f.message)).toMatchObject({ title: 'Secret plans', parent: { gid: f.secretTeam, resource_type: 'team' }, reply_to: null, num_replies: 1 });
    expect(byGid(doc.messages, f.reply)).toMatchObject({ text: 'Agreed', reply_to: { gid: f.message, resource_type: 'message', title: 'Secret plans' } });
    expect(byGid(doc.attachments, f.projectAttachment)).toMatchObject({ parent: { gid: f.privateProject, resource_type: 'project' } });
    expect(byGid(doc.task_templates, f.taskTemplate)).toMatchObject({ project: { gid: f.privateProject }, snapshot: { name: 'Checklist' } });
    const memberships = doc.team_memberships.filter((m: { team: { gid: string } }) => m.team.gid === f.secretTeam);
    expect(memberships.map((m: { user: { gid: string }; is_limited_access: boolean }) => [m.user.gid, m.is_limited_access]).sort()).toEqual([[w.member.gid, false], [limited.gid, true]].sort());
  });

  test('deleted projects and teams are included with deleted_at, and so is what they hold', () => {
    expect(byGid(doc.teams, f.deletedTeam)!.deleted_at).toEqual(expect.any(String));
    expect(byGid(doc.projects, f.deletedProject)).toMatchObject({ deleted_at: expect.any(String), team: { gid: f.deletedTeam } });
    expect(byGid(doc.tasks, f.deletedProjectTask)).toMatchObject({ deleted_at: null, projects: [{ gid: f.deletedProject }] });
    for (const list of ['teams', 'projects', 'tasks', 'stories', 'attachments', 'messages', 'tags', 'custom_fields', 'sections', 'project_statuses', 'users']) {
      for (const item of doc[list]) expect(item).toHaveProperty('deleted_at');
    }
  });

  test('a task deleted 10 days ago is included with deleted_at, one deleted 40 days ago is not, children stay as they are', () => {
    const exportedAt = Date.parse(doc.export.exported_at);
    expect(exportedAt - Date.parse(byGid(doc.tasks, f.D10)!.deleted_at)).toBeGreaterThanOrEqual(10 * DAY);
    expect(exportedAt - Date.parse(byGid(doc.tasks, f.D10)!.deleted_at)).toBeLessThan(11 * DAY);
    expect(byGid(doc.tasks, f.D10child)).toMatchObject({ deleted_at: null, parent: { gid: f.D10, resource_type: 'task', name: 'Deleted ten days ago' } });
    expect(byGid(doc.tasks, f.D40)).toBeUndefined();
    expect(byGid(doc.stories, f.D40comment)).toBeUndefined();
    expect(text).not.toContain(f.D40);
  });

  test('tasks carry their fields, relations and custom field values', () => {
    const a = byGid(doc.tasks, f.A)!;
    expect(a).toMatchObject({
      name: 'Alpha',
      notes: 'Line one\nLine two',
      completed: false,
      assignee: { gid: w.member.gid, resource_type: 'user' },
      assignee_status: 'inbox',
      due_on: '2026-05-20',
      start_on: '2026-05-01',
      parent: null,
      num_subtasks: 1,
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Acme Corp' },
      memberships: [{ project: { gid: f.publicProject, resource_type: 'project', name: 'Public project' }, section: { gid: f.backlog, resource_type: 'section', name: 'Backlog' } }],
      teams: [],
      tags: [{ gid: f.tag, resource_type: 'tag', name: 'urgent' }],
      num_likes: 1,
      likes: [{ gid: w.admin.gid, user: { gid: w.admin.gid, resource_type: 'user', name: w.admin.name } }],
      permalink_url: `${BASE_URL}/api/1.0/tasks/${f.A}`,
    });
    expect(gidsOf(a.followers)).toEqual(expect.arrayContaining([w.admin.gid]));
    const values = Object.fromEntries(a.custom_fields.map((v: { gid: string; display_value: unknown }) => [v.gid, v.display_value]));
    expect(values).toEqual({ [f.text]: 'hello', [f.enum]: 'High', [f.multi]: 'B, A', [f.people]: w.admin.name, [f.number]: '3.14', [f.date]: '2026-01-02' });
    expect(byGid(doc.tasks, f.A1)).toMatchObject({ parent: { gid: f.A, resource_type: 'task', name: 'Alpha', resource_subtype: 'default_task' } });
    expect(byGid(doc.stories, f.comment)).toMatchObject({ text: 'First comment', target: { gid: f.A }, num_likes: 1, likes: [{ user: { gid: w.admin.gid } }], deleted_at: null });
    expect(byGid(doc.attachments, f.attachment)).toEqual(
      expect.objectContaining({ permanent_url: `${BASE_URL}/api/1.0/attachments/${f.attachment}`, download_url: null, view_url: null, parent: { gid: f.A, resource_type: 'task', name: 'Alpha', resource_subtype: 'default_task' } }),
    );
  });

  test('the rest of the organization: people, roles, invitations, projects, fields, templates', () => {
    const roles = Object.fromEntries(doc.workspace_memberships.map((m: { user: { gid: string }; role: string }) => [m.user.gid, m.role]));
    expect(roles).toMatchObject({ [w.superAdmin.gid]: 'super_admin', [w.admin.gid]: 'admin', [w.member.gid]: 'member', [w.guest.gid]: 'guest' });
    expect(byGid(doc.users, w.member.gid)).toEqual({ gid: w.member.gid, resource_type: 'user', name: w.member.name, email: w.member.email, created_at: expect.any(String), modified_at: expect.any(String), deleted_at: null });
    expect(doc.pending_invitations).toEqual([{ resource_type: 'invitation', email: 'invitee@example.com', role: 'member', created_at: expect.any(String) }]);
    const pub = byGid(doc.projects, f.publicProject)!;
    expect(pub).toMatchObject({ due_on: '2026-09-30', owner: { gid: w.member.gid }, privacy_setting: 'public_to_workspace', archived: false, team: null });
    expect(gidsOf(pub.followers)).toEqual([w.admin.gid]);
    expect(pub.custom_field_settings.map((s: { custom_field: { gid: string }; is_important: boolean }) => [s.custom_field.gid, s.is_important])).toEqual([[f.text, true], [f.enum, false]]);
    expect(doc.sections.filter((s: { project: { gid: string } }) => s.project.gid === f.publicProject).map((s: { name: string }) => s.name)).toContain('Backlog');
    expect(byGid(doc.project_statuses, f.status)).toMatchObject({ title: 'Kickoff', status_type: 'on_track', parent: { gid: f.publicProject } });
    expect(byGid(doc.custom_fields, f.enum)!.enum_options.map((o: { name: string }) => o.name)).toEqual(['Low', 'High']);
    expect(byGid(doc.custom_fields, f.number)).toMatchObject({ precision: 2 });
    expect(byGid(doc.tags, f.tag)).toMatchObject({ name: 'urgent', deleted_at: null });
    expect(byGid(doc.project_templates, f.projectTemplate)).toMatchObject({ team: { gid: f.secretTeam }, snapshot: bigSnapshot });
  });

  test('nothing of another organization', () => {
    for (const gid of foreign) expect(text).not.toContain(gid);
    expect(text).not.toContain('Other Org');
    expect(text).not.toContain('Foreign');
  });

  test('no secret material anywhere', () => {
    for (const [what, value] of Object.entries(secrets)) {
      expect([what, text.includes(value)]).toEqual([what, false]);
    }
    expect(text).not.toMatch(/password|token_hash|blob_key|X-Amz|Signature=|oidc|saml|ip_address/i);
  });

  test('a service account as the requester; the file name and the plan fields', async () => {
    const plan = await buildOrganizationExport(h.engine.db, job({ requestedBy: { kind: 'service_account', gid: f.serviceAccount }, createdAt: new Date('2026-03-04T23:59:00Z') }));
    expect(plan).toMatchObject({ contentType: 'application/json', gzip: true, filename: 'Acme Corp export 2026-03-04.json.gz', epilogue: '\n}\n' });
    const sa = JSON.parse(await renderPlanToString(plan));
    expect(sa.export.exported_by).toEqual({ gid: f.serviceAccount, resource_type: 'service_account', name: 'Backup bot' });
    expectValid(sa);
    const long = await bareOrganization(`Ünïcode/${'n'.repeat(120)}`);
    const longPlan = await buildOrganizationExport(h.engine.db, job({ organizationGid: long.gid, createdAt: new Date('2026-03-04T12:00:00Z') }));
    expect(longPlan.filename).toBe(`Ünïcode_${'n'.repeat(72)} export 2026-03-04.json.gz`);
  });
});

describe('resuming', () => {
  /** The whole text, and at every checkpoint the position and the text written before it. */
  async function renderWithCheckpoints(j: ExportJobContext, pageRows?: number, renderedPageBudget?: number) {
    let text = '';
    const checkpoints: { position: ExportPosition; before: string }[] = [];
    for await (const piece of renderPlan(await buildOrganizationExport(h.engine.db, j, { pageRows, renderedPageBudget }))) {
      if ('text' in piece) text += piece.text;
      else checkpoints.push({ position: piece.checkpoint, before: text });
    }
    return { text, checkpoints };
  }

  async function expectResumable(j: ExportJobContext, minCheckpoints: number, pageRows?: number, renderedPageBudget?: number) {
    const whole = await renderWithCheckpoints(j, pageRows, renderedPageBudget);
    expect(whole.checkpoints.length).toBeGreaterThanOrEqual(minCheckpoints);
    for (const { position, before } of whole.checkpoints) {
      let rest = '';
      for await (const piece of renderPlan(await buildOrganizationExport(h.engine.db, j, { pageRows, renderedPageBudget }), position)) if ('text' in piece) rest += piece.text;
      expect(before + rest).toBe(whole.text);
    }
    const doc = JSON.parse(whole.text) as Doc;
    const last = whole.checkpoints.at(-1)!.position;
    for (const name of ORGANIZATION_EXPORT_SECTIONS) expect([name, last.counts[name] ?? 0]).toEqual([name, doc[name].length]);
    return doc;
  }

  test('from every checkpoint, with a freshly built plan, the text is the same (many pages of tasks and stories)', async () => {
    const bulk = await bulkOrganization('Resume org', 100);
    const doc = await expectResumable(job({ organizationGid: bulk.org, requestedBy: { kind: 'user', gid: bulk.someone } }), ORGANIZATION_EXPORT_SECTIONS.length + 6, 30);
    expect(doc.tasks).toHaveLength(100);
    expect(new Set(gidsOf(doc.tasks)).size).toBe(100);
    expect(doc.stories).toHaveLength(100);
    expectValid(doc);
  }, 60_000);

  test('the main organization, from every checkpoint (small pages: the larger sections span several)', async () => {
    const doc = await expectResumable(job(), ORGANIZATION_EXPORT_SECTIONS.length + 3, 3);
    expectValid(doc);
    expect(gidsOf(doc.tasks)).toEqual([...gidsOf(doc.tasks)].sort());
  }, 60_000);

  test('a page whose rendered text would pass the budget ends at the last item that fits; the next page continues after it', async () => {
    const bulk = await bulkOrganization('Rendered budget org', 60);
    const j = job({ organizationGid: bulk.org, requestedBy: { kind: 'user', gid: bulk.someone } });
    const budget = 4096; // a few tasks' worth: most pages of 400 rows are cut
    const plan = await buildOrganizationExport(h.engine.db, j, { renderedPageBudget: budget });
    const tasks = plan.sections.find((s) => s.name === 'tasks')!;
    const sizes: number[] = [];
    let after: string | null = null;
    do {
      const page = await tasks.page(after);
      const bytes = page.items.reduce((n, item) => n + Buffer.byteLength(item) + 2, 0);
      if (page.items.length > 1) expect(bytes).toBeLessThanOrEqual(budget);
      sizes.push(page.items.length);
      after = page.next;
    } while (after);
    expect(sizes.length).toBeGreaterThan(5);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
    const cut = await expectResumable(j, 10, undefined, budget);
    expect(cut.tasks).toHaveLength(60);
    expect(JSON.stringify(cut)).toBe(JSON.stringify(JSON.parse((await renderWithCheckpoints(j)).text)));
  }, 60_000);

  test('with the production page size, the same document as with small pages', async () => {
    const small = await renderWithCheckpoints(job(), 3);
    const full = await renderWithCheckpoints(job());
    expect(small.text).toBe(full.text);
  });
});

describe('bounded work per page', () => {
  /** Statements per page call of a section (pages of 200 rows), and the items of each page. */
  async function pages(organizationGid: string, requester: string, name: string) {
    let statements = 0;
    const counting = h.engine.db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        statements++;
        return args.result;
      },
    });
    const plan = await buildOrganizationExport(counting, job({ organizationGid, requestedBy: { kind: 'user', gid: requester } }), { pageRows: 200 });
    const section = plan.sections.find((s) => s.name === name)!;
    const out: { statements: number; items: string[] }[] = [];
    let after: string | null = null;
    do {
      const start = statements;
      const page = await section.page(after);
      out.push({ statements: statements - start, items: page.items });
      after = page.next;
    } while (after);
    return out;
  }

  test('50 and 500 tasks: the same number of statements per page (no query per task or per named object)', async () => {
    const small = await bulkOrganization('Fifty', 50);
    const large = await bulkOrganization('Five hundred', 500);
    for (const name of ['tasks', 'stories']) {
      const a = await pages(small.org, small.someone, name);
      const b = await pages(large.org, large.someone, name);
      expect(a.map((p) => p.items.length)).toEqual([50]);
      expect(b.map((p) => p.items.length)).toEqual([200, 200, 100]);
      // A page: its rows and one statement per related list (tasks: projects, tags,
      // followers, likes, custom field values; comments: likes), whatever its size.
      const perPage = name === 'tasks' ? 6 : 2;
      // The objects those lists name (people, projects, sections, teams, tags) are read
      // by the first page that needs them, one statement per kind, and kept: the first
      // page of 50 tasks and of 500 costs the same, later pages only their own statements.
      expect(a[0]!.statements).toBe(b[0]!.statements);
      expect(b[0]!.statements).toBeGreaterThan(perPage);
      expect(b[0]!.statements).toBeLessThanOrEqual(perPage + (name === 'tasks' ? 5 : 1));
      expect(b.slice(1).map((p) => p.statements)).toEqual([perPage, perPage]);
    }
    const tasks = (await pages(large.org, large.someone, 'tasks')).flatMap((p) => p.items.map((i) => JSON.parse(i)));
    expect(tasks[0]).toMatchObject({ tags: [{ name: 'bulk' }], num_likes: 1, followers: [{ name: 'Bulk person' }], custom_fields: [{ display_value: expect.stringMatching(/^value /) }], memberships: [{ section: { name: 'Column' } }] });
  }, 60_000);

  test('pages stay under 1 MiB with large notes', async () => {
    const chunk = 'Ünïcödé "quoted" \\ text\n';
    const big = await bulkOrganization('Big notes', 40, (i) => `${i} ${chunk.repeat(Math.ceil(60_000 / chunk.length))}`);
    const result = await pages(big.org, big.someone, 'tasks');
    expect(result.length).toBeGreaterThan(2);
    expect(result.flatMap((p) => p.items)).toHaveLength(40);
    for (const page of result) expect(Buffer.byteLength(page.items.join(',\n'), 'utf8')).toBeLessThan(1024 * 1024);
  }, 60_000);
});

describe('an incremental export', () => {
  test('holds only what changed after modified_since, plus tombstones', async () => {
    h.clock.advance(3600_000);
    const since = h.clock.now();
    h.clock.advance(60_000);
    const m = w.member.token;
    expect((await call(m, 'PUT', `/tasks/${f.A}`, { name: 'Alpha renamed' })).status).toBe(200);
    const created = (await post(m, '/tasks', { name: 'Created later', projects: [f.privateProject] })).gid;
    expect((await call(m, 'DELETE', `/tasks/${f.A1}`)).status).toBe(200);
    expect((await call(m, 'DELETE', `/tags/${f.tag}`)).status).toBe(200);
    const comment = (await post(m, `/tasks/${f.secretTask}/stories`, { text: 'A later comment' })).gid;
    h.clock.advance(60_000);

    const { doc } = await exportDoc(job({ gid: '7000000000000002', modifiedSince: since }));
    expectValid(doc);
    expect(doc.export).toMatchObject({ incremental: true, modified_since: since.toISOString() });
    const tasks = gidsOf(doc.tasks);
    expect(tasks).toEqual(expect.arrayContaining([f.A, created, f.A1, f.secretTask]));
    for (const unchanged of [f.D10, f.D10child, f.deletedProjectTask]) expect(tasks).not.toContain(unchanged);
    for (const t of doc.tasks) expect(Date.parse(t.modified_at) > since.getTime() || Date.parse(t.deleted_at) > since.getTime()).toBe(true);
    expect(byGid(doc.tasks, f.A)!.name).toBe('Alpha renamed');
    expect(byGid(doc.tasks, f.A1)!.deleted_at).toEqual(expect.any(String));
    expect(gidsOf(doc.stories)).toEqual([comment]);
    expect(byGid(doc.tags, f.tag)!.deleted_at).toEqual(expect.any(String));
    for (const name of ['users', 'workspace_memberships', 'pending_invitations', 'teams', 'team_memberships', 'sections', 'project_statuses', 'custom_fields', 'attachments', 'messages', 'project_templates', 'task_templates']) {
      expect([name, doc[name]]).toEqual([name, []]);
    }
    expect(gidsOf(doc.projects)).not.toContain(f.deletedProject);
    const tombstones = doc.tombstones.map((t: { resource_type: string; gid: string }) => `${t.resource_type}:${t.gid}`);
    expect(tombstones).toEqual(expect.arrayContaining([`task:${f.A1}`, `tag:${f.tag}`]));
    expect(tombstones).not.toContain(`task:${f.D10}`);
    expect(tombstones).not.toContain(`project:${f.deletedProject}`);
    for (const t of doc.tombstones) expect(Date.parse(t.deleted_at)).toBeGreaterThan(since.getTime());
  });

  test('tombstones reach further back than the 30-day window', async () => {
    const { doc } = await exportDoc(job({ gid: '7000000000000003', modifiedSince: new Date(h.clock.now().getTime() - 60 * DAY) }));
    expectValid(doc);
    const tombstones = doc.tombstones.map((t: { resource_type: string; gid: string }) => `${t.resource_type}:${t.gid}`);
    expect(tombstones).toEqual(expect.arrayContaining([`task:${f.D40}`, `task:${f.D10}`, `project:${f.deletedProject}`, `team:${f.deletedTeam}`]));
    expect(gidsOf(doc.tasks)).not.toContain(f.D40);
  });
});

describe('an incremental export misses no change', () => {
  let jobs = 7_000_000_000_000_100;
  /** An incremental export since `since`, validated. */
  async function since(at: Date): Promise<Doc> {
    const { doc } = await exportDoc(job({ gid: String(++jobs), modifiedSince: at }));
    expectValid(doc);
    return doc;
  }
  const tombstones = (doc: Doc) => doc.tombstones.map((t: { resource_type: string; gid: string }) => `${t.resource_type}:${t.gid}`);
  /** Incremental exports since just before and since just after `change`. */
  async function around(change: () => Promise<unknown>): Promise<{ before: Doc; after: Doc }> {
    h.clock.advance(60_000);
    const start = h.clock.now();
    h.clock.advance(1000);
    await change();
    h.clock.advance(1000);
    const end = h.clock.now();
    h.clock.advance(1000);
    return { before: await since(start), after: await since(end) };
  }
  const ok = async (res: Promise<Answer>) => {
    const answer = await res;
    if (answer.status !== 200 && answer.status !== 201) throw new Error(`${answer.status} ${JSON.stringify(answer.body)}`);
    return answer;
  };
  /** Every array but the tombstones, empty: nothing changed after the change. */
  function expectNothing(doc: Doc) {
    for (const name of ORGANIZATION_EXPORT_SECTIONS) expect([name, doc[name]]).toEqual([name, []]);
  }

  test('a renamed section, and a moved one: the project\'s sections again, in board order', async () => {
    const m = w.member.token;
    const done = (await post(m, `/projects/${f.publicProject}/sections`, { name: 'Done' })).gid;
    const renamed = await around(() => ok(call(m, 'PUT', `/sections/${f.backlog}`, { name: 'Icebox' })));
    expect(byGid(renamed.before.sections, f.backlog)).toMatchObject({ name: 'Icebox', deleted_at: null, modified_at: expect.any(String) });
    expect(Date.parse(byGid(renamed.before.sections, f.backlog)!.modified_at)).toBeGreaterThan(Date.parse(renamed.before.export.modified_since));
    expectNothing(renamed.after);

    const moved = await around(() => ok(call(m, 'POST', `/projects/${f.publicProject}/sections/insert`, { section: done, before_section: f.backlog })));
    const order = moved.before.sections.filter((x: { project: { gid: string } }) => x.project.gid === f.publicProject).map((x: { gid: string }) => x.gid);
    expect(order.indexOf(done)).toBeLessThan(order.indexOf(f.backlog));
    expect(order.length).toBeGreaterThanOrEqual(2);
    expectNothing(moved.after);
  });

  test('a renamed tag, a renamed custom field, a renamed enum option', async () => {
    const m = w.member.token;
    const tag = (await post(m, '/tags', { name: 'later', workspace: w.org.gid })).gid;
    const tagged = await around(() => ok(call(m, 'PUT', `/tags/${tag}`, { name: 'much later', color: 'dark-blue' })));
    expect(gidsOf(tagged.before.tags)).toEqual([tag]);
    expect(tagged.before.tags[0]).toMatchObject({ name: 'much later', color: 'dark-blue', deleted_at: null });
    expectNothing(tagged.after);

    const field = await around(() => ok(call(m, 'PUT', `/custom_fields/${f.text}`, { name: 'Renamed text field' })));
    expect(gidsOf(field.before.custom_fields)).toEqual([f.text]);
    expect(field.before.custom_fields[0]).toMatchObject({ name: 'Renamed text field' });
    expectNothing(field.after);

    const option = await around(() => ok(call(m, 'PUT', `/enum_options/${f.high}`, { name: 'Highest', color: 'red' })));
    expect(gidsOf(option.before.custom_fields)).toEqual([f.enum]);
    expect(option.before.custom_fields[0].enum_options.map((o: { name: string }) => o.name)).toEqual(['Low', 'Highest']);
    expectNothing(option.after);
  });

  test('team memberships: made limited (the membership and its team), removed (a tombstone)', async () => {
    const someone = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Team hopper' });
    const tm = await team(h, w.org.gid, { name: 'Hoppers', members: [{ gid: w.member.gid }, { gid: someone.gid }] });
    const membership = (await h.engine.db.selectFrom('team_memberships').select('gid').where('team_gid', '=', tm).where('user_gid', '=', someone.gid).executeTakeFirstOrThrow()).gid;

    const limitedAccess = await around(() => ok(call(w.member.token, 'POST', `/teams/${tm}/addUser`, { user: someone.gid, is_limited_access: true })));
    expect(limitedAccess.before.team_memberships).toEqual([expect.objectContaining({ gid: membership, is_limited_access: true, user: expect.objectContaining({ gid: someone.gid }) })]);
    expect(gidsOf(limitedAccess.before.teams)).toEqual([tm]);
    expectNothing(limitedAccess.after);
    // The same access again changes nothing.
    const same = await around(() => ok(call(w.member.token, 'POST', `/teams/${tm}/addUser`, { user: someone.gid, is_limited_access: true })));
    expectNothing(same.before);

    const removed = await around(() => ok(call(w.member.token, 'POST', `/teams/${tm}/removeUser`, { user: someone.gid })));
    expect(tombstones(removed.before)).toEqual([`team_membership:${membership}`]);
    expect(removed.before.team_memberships).toEqual([]);
    expect(gidsOf(removed.before.teams)).toEqual([tm]);
    expect(tombstones(removed.after)).toEqual([]);
    expectNothing(removed.after);
  });

  test('a follower, a tag and a like taken off a task: the task again, without them; a like on a comment: the comment again', async () => {
    const m = w.member.token;
    const tag = (await post(m, '/tags', { name: 'transient', workspace: w.org.gid })).gid;
    await post(m, `/tasks/${f.secretTask}/addTag`, { tag });
    await post(m, `/tasks/${f.secretTask}/addFollowers`, { followers: [limited.gid] });
    await post(w.member.token, `/tasks/${f.secretTask}/like`, { liked: true });

    const unfollowed = await around(() => ok(call(m, 'POST', `/tasks/${f.secretTask}/removeFollowers`, { followers: [limited.gid] })));
    expect(gidsOf(unfollowed.before.tasks)).toEqual([f.secretTask]);
    expect(gidsOf(unfollowed.before.tasks[0].followers)).not.toContain(limited.gid);
    expectNothing(unfollowed.after);

    const untagged = await around(() => ok(call(m, 'POST', `/tasks/${f.secretTask}/removeTag`, { tag })));
    expect(gidsOf(untagged.before.tasks)).toEqual([f.secretTask]);
    expect(untagged.before.tasks[0].tags).toEqual([]);
    expectNothing(untagged.after);

    const unliked = await around(() => ok(call(m, 'POST', `/tasks/${f.secretTask}/like`, { liked: false })));
    expect(gidsOf(unliked.before.tasks)).toEqual([f.secretTask]);
    expect(unliked.before.tasks[0]).toMatchObject({ likes: [], num_likes: 0 });
    expectNothing(unliked.after);

    const liked = await around(() => ok(call(w.admin.token, 'POST', `/tasks/${f.A}/like`, { liked: false })));
    expect(gidsOf(liked.before.tasks)).toEqual([f.A]);
    expect(liked.before.tasks[0].num_likes).toBe(0);

    const comment = await around(() => ok(call(m, 'POST', `/stories/${f.comment}/like`, { liked: true })));
    expect(gidsOf(comment.before.stories)).toEqual([f.comment]);
    expect(comment.before.stories[0].likes.map((l: { user: { gid: string } }) => l.user.gid).sort()).toEqual([w.admin.gid, w.member.gid].sort());
    expect(comment.before.tasks).toEqual([]);
    expectNothing(comment.after);
  });

  test('a project member and a custom field setting removed: tombstones, and the project again', async () => {
    const m = w.member.token;
    await post(m, `/projects/${f.publicProject}/addMembers`, { members: [limited.gid] });
    const membership = (await h.engine.db.selectFrom('project_memberships').select('gid').where('project_gid', '=', f.publicProject).where('user_gid', '=', limited.gid).executeTakeFirstOrThrow()).gid;
    const setting = (await h.engine.db.selectFrom('project_custom_field_settings').select('gid').where('project_gid', '=', f.publicProject).where('custom_field_gid', '=', f.enum).executeTakeFirstOrThrow()).gid;

    const member = await around(() => ok(call(m, 'POST', `/projects/${f.publicProject}/removeMembers`, { members: [limited.gid] })));
    expect(tombstones(member.before)).toEqual([`project_membership:${membership}`]);
    expect(gidsOf(member.before.projects)).toEqual([f.publicProject]);
    expect(gidsOf(member.before.projects[0].members)).not.toContain(limited.gid);
    expectNothing(member.after);
    expect(tombstones(member.after)).toEqual([]);

    const field = await around(() => ok(call(m, 'POST', `/projects/${f.publicProject}/removeCustomFieldSetting`, { custom_field: f.enum })));
    expect(tombstones(field.before)).toEqual([`custom_field_setting:${setting}`]);
    expect(field.before.projects[0].custom_field_settings.map((x: { gid: string }) => x.gid)).not.toContain(setting);
    expect(tombstones(field.after)).toEqual([]);
  });

  test('a person reinstated in the organization, with a role again: the user and the membership', async () => {
    const returning = await person(h, { organizationGid: w.org.gid, role: 'guest', name: 'Returning guest' });
    await post(w.admin.token, `/workspaces/${w.org.gid}/removeUser`, { user: returning.gid });
    const membership = (await h.engine.db.selectFrom('organization_memberships').select('gid').where('organization_gid', '=', w.org.gid).where('user_gid', '=', returning.gid).executeTakeFirstOrThrow()).gid;

    const reinstated = await around(() => ok(call(w.admin.token, 'POST', `/workspaces/${w.org.gid}/addUser`, { user: returning.gid })));
    expect(reinstated.before.workspace_memberships).toEqual([expect.objectContaining({ gid: membership, role: 'member', is_active: true, removed_at: null })]);
    expect(gidsOf(reinstated.before.users)).toEqual([returning.gid]);
    expect(tombstones(reinstated.before)).toEqual([]);
    expectNothing(reinstated.after);
  });

  test('a task purged 31 days after deletion, with its comment and attachment, and an attachment purged on its own: tombstones with the original deleted_at', async () => {
    const m = w.member.token;
    const doomed = (await post(m, '/tasks', { name: 'Purged later', projects: [f.publicProject] })).gid;
    const comment = (await post(m, `/tasks/${doomed}/stories`, { text: 'Gone with the task' })).gid;
    const file = await attach('task', doomed, 'purged.pdf');
    const loose = await attach('project', f.publicProject, 'deleted-alone.pdf');
    h.clock.advance(60_000);
    const start = h.clock.now();
    h.clock.advance(1000);
    const deletedAt = h.clock.now();
    await ok(call(m, 'DELETE', `/tasks/${doomed}`));
    await ok(call(m, 'DELETE', `/attachments/${loose}`));
    h.clock.advance(1000);
    const end = h.clock.now();

    h.clock.advance(31 * DAY);
    const purged = await purgeDeletedWork({ ...h.deps, clock: h.clock, blobs: { ...h.deps.blobs, delete: async () => undefined } });
    expect(purged.tasks).toBeGreaterThanOrEqual(1);
    expect(await h.engine.db.selectFrom('tasks').select('gid').where('gid', '=', doomed).execute()).toEqual([]);
    expect(await h.engine.db.selectFrom('attachments').select('gid').where('gid', 'in', [file, loose]).execute()).toEqual([]);

    const before = await since(start);
    const expected = [`task:${doomed}`, `story:${comment}`, `attachment:${file}`, `attachment:${loose}`];
    expect(tombstones(before)).toEqual(expect.arrayContaining(expected));
    for (const key of expected) expect(before.tombstones.find((t: { resource_type: string; gid: string }) => `${t.resource_type}:${t.gid}` === key).deleted_at).toBe(deletedAt.toISOString());
    // One tombstone per object.
    expect(new Set(tombstones(before)).size).toBe(before.tombstones.length);
    expect(gidsOf(before.tasks)).not.toContain(doomed);
    const after = await since(end);
    for (const key of expected) expect(tombstones(after)).not.toContain(key);
    // The purge reaches far back: tasks deleted before the first export are tombstoned with their deletion time.
    expect(tombstones(await since(new Date(deletedAt.getTime() - 90 * DAY)))).toEqual(expect.arrayContaining([`task:${f.D40}`, `task:${f.D10}`, `task:${doomed}`]));
  });
});

describe('on the Data API stand-in (typed parameters, 64 KB rows, 1 MiB responses)', () => {
  let engine: TestEngine;
  const g = (() => {
    let n = 8_100_000_000_000_000;
    return () => String(++n);
  })();
  const at = new Date('2026-02-01T10:00:00.000Z');
  const org = g();
  const [alice, bob] = [g(), g()];
  const teamGid = g();
  const projectGid = g();
  const deletedProject = g();
  const multi = g();
  const people = g();
  const options = [g(), g()];
  const tasks = Array.from({ length: 230 }, () => g());
  const followers = Array.from({ length: 800 }, () => g());
  const crowd = Array.from({ length: RELATION_ROWS + 150 }, () => g());
  const followerName = (i: number) => `F${i} "q" \\ \u2028 😀 ${'\u0001'.repeat(180)}`;
  const [otherTeam, sameTeamProject, otherTeamProject, section] = [g(), g(), g(), g()];
  /** tasks[2]: six projects and their sections named with 1,024 quotes (their JSON is twice that, and the Data API escapes it again), each in a team of its own. */
  const heavy = Array.from({ length: 6 }, () => ({ team: g(), project: g(), section: g() }));
  const quotes = (n: number, i: number) => `${i}${'"'.repeat(n - String(i).length)}`;

  beforeAll(async () => {
    engine = await openEngine('data-api');
    const db = engine.db;
    await db.insertInto('organizations').values({ gid: org, name: 'Aurora', created_at: at, modified_at: at }).execute();
    await db.insertInto('users').values([alice, bob].map((gid, i) => ({ gid, email: `p${i}-${gid}@example.com`, name: `Person ${i}`, created_at: at, modified_at: at }))).execute();
    await db.insertInto('organization_memberships').values([alice, bob].map((u, i) => ({ gid: g(), organization_gid: org, user_gid: u, role: i ? 'member' : 'admin', created_at: at }))).execute();
    await db.insertInto('teams').values({ gid: teamGid, organization_gid: org, name: 'Hidden', visibility: 'secret', created_at: at, modified_at: at }).execute();
    await db.insertInto('team_memberships').values({ gid: g(), team_gid: teamGid, user_gid: bob, created_at: at }).execute();
    await db.insertInto('projects').values([
      { gid: projectGid, organization_gid: org, team_gid: teamGid, name: 'Private', privacy_setting: 'private', owner_gid: bob, due_on: sql`cast('2026-04-01' as date)`, created_at: at, modified_at: at },
      { gid: deletedProject, organization_gid: org, name: 'Gone', created_at: at, modified_at: at, deleted_at: at },
    ]).execute();
    await db.insertInto('project_memberships').values({ gid: g(), project_gid: projectGid, user_gid: bob, access_level: 'admin', created_at: at }).execute();
    await db.insertInto('custom_fields').values([
      { gid: multi, organization_gid: org, name: 'Multi', resource_subtype: 'multi_enum', created_at: at },
      { gid: people, organization_gid: org, name: 'People', resource_subtype: 'people', created_at: at },
    ]).execute();
    await db.insertInto('custom_field_enum_options').values(options.map((gid, i) => ({ gid, custom_field_gid: multi, name: `Option ${i}`, position: i }))).execute();
    for (let s = 0; s < tasks.length; s += 50) {
      const batch = tasks.slice(s, s + 50);
      await db.insertInto('tasks').values(batch.map((gid, i) => ({ gid, organization_gid: org, name: `Task ${s + i}`, notes: `ü ${'x'.repeat(4000)}`, assignee_gid: bob, due_on: sql`cast('2026-03-01' as date)`, created_at: at, modified_at: at }))).execute();
      await db.insertInto('task_projects').values(batch.map((gid, i) => ({ task_gid: gid, project_gid: projectGid, position: s + i, added_at: at }))).execute();
      await db.insertInto('task_likes').values(batch.map((gid) => ({ task_gid: gid, user_gid: alice, created_at: at }))).execute();
    }
    await db.insertInto('task_custom_field_values').values([
      { task_gid: tasks[0]!, custom_field_gid: multi, multi_values: json([options[1], options[0]]) },
      { task_gid: tasks[0]!, custom_field_gid: people, multi_values: json([alice, bob]) },
    ]).execute();
    // tasks[1]: a task's lists (escaping, order, names weighing more than one statement reads): 800
    // followers whose names escape to ~1.2 KB each (more than one statement's 768 KiB), and
    // three projects, two of them in one team.
    for (let s = 0; s < followers.length; s += 200) {
      const batch = followers.slice(s, s + 200);
      await db.insertInto('users').values(batch.map((gid, i) => ({ gid, email: `f${s + i}-${gid}@example.com`, name: followerName(s + i), created_at: at, modified_at: at }))).execute();
      await db.insertInto('task_followers').values(batch.map((user_gid, i) => ({ task_gid: tasks[1]!, user_gid, created_at: new Date(at.getTime() + (followers.length - s - i) * 1000) }))).execute();
    }
    // tasks[2]: the heaviest memberships, and 64 likes by people with heavy names.
    await db.insertInto('teams').values(heavy.map((x, i) => ({ gid: x.team, organization_gid: org, name: quotes(256, i), visibility: 'public' as const, created_at: at, modified_at: at }))).execute();
    await db.insertInto('projects').values(heavy.map((x, i) => ({ gid: x.project, organization_gid: org, team_gid: x.team, name: quotes(1024, i), created_at: at, modified_at: at }))).execute();
    await db.insertInto('sections').values(heavy.map((x, i) => ({ gid: x.section, project_gid: x.project, name: quotes(1024, i), position: 1, created_at: at }))).execute();
    await db.insertInto('task_projects').values(heavy.map((x, i) => ({ task_gid: tasks[2]!, project_gid: x.project, section_gid: x.section, position: 0, added_at: new Date(at.getTime() + (i + 1) * 1000) }))).execute();
    await db.insertInto('task_likes').values(followers.slice(0, 64).map((user_gid, i) => ({ task_gid: tasks[2]!, user_gid, created_at: new Date(at.getTime() + 60_000 + i * 1000) }))).execute();
    await db.insertInto('teams').values({ gid: otherTeam, organization_gid: org, name: 'Other "team" \\ \u2028', visibility: 'public', created_at: at, modified_at: at }).execute();
    await db.insertInto('projects').values([
      { gid: sameTeamProject, organization_gid: org, team_gid: teamGid, name: 'Second in Hidden', created_at: at, modified_at: at },
      { gid: otherTeamProject, organization_gid: org, team_gid: otherTeam, name: 'Quote " and \u0007 bell', created_at: at, modified_at: at },
    ]).execute();
    await db.insertInto('sections').values({ gid: section, project_gid: otherTeamProject, name: 'Tab\there 😀', position: 1, created_at: at }).execute();
    await db.insertInto('task_projects').values([
      { task_gid: tasks[1]!, project_gid: otherTeamProject, section_gid: section, position: 0, added_at: new Date(at.getTime() + 1000) },
      { task_gid: tasks[1]!, project_gid: sameTeamProject, position: 0, added_at: new Date(at.getTime() + 2000) },
    ]).execute();
    const story = g();
    await db.insertInto('stories').values({ gid: story, task_gid: tasks[0]!, text: 'Hello', created_by: bob, created_at: at, modified_at: new Date(at.getTime() + 5 * DAY) }).execute();
    await db.insertInto('story_likes').values({ story_gid: story, user_gid: alice, created_at: at }).execute();
    await db.insertInto('one_time_tokens').values({ token_hash: hashToken('aurora-invitation'), purpose: 'invitation', organization_gid: org, email: 'new@example.com', role: 'guest', created_by: alice, created_at: at, expires_at: new Date(at.getTime() + 20 * DAY) }).execute();
    await db.insertInto('project_templates').values({ gid: g(), organization_gid: org, team_gid: teamGid, name: 'Template', owner_gid: bob, template: json(bigSnapshot), created_at: at }).execute();
    await db.insertInto('messages').values({ gid: g(), organization_gid: org, parent_type: 'team', parent_gid: teamGid, title: 'Hi', text: 'Team talk', author_gid: bob, created_at: at, modified_at: at }).execute();
    // tasks[3]: more followers and likes than one statement reads (RELATION_ROWS): the list
    // continues in the next statement after its last row (a timestamp key bound again).
    for (let s = 0; s < crowd.length; s += 500) {
      const batch = crowd.slice(s, s + 500);
      await db.insertInto('users').values(batch.map((gid, i) => ({ gid, email: `c${s + i}-${gid}@example.com`, name: `Crowd ${s + i}`, created_at: at, modified_at: at }))).execute();
      await db.insertInto('task_followers').values(batch.map((user_gid, i) => ({ task_gid: tasks[3]!, user_gid, created_at: new Date(at.getTime() + (s + i) * 1000) }))).execute();
      await db.insertInto('task_likes').values(batch.map((user_gid, i) => ({ task_gid: tasks[3]!, user_gid, created_at: new Date(at.getTime() + (s + i) * 10) }))).execute();
    }
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
  });

  test('a task\'s lists: escaped as JSON.stringify would, in order, however long, with the heaviest names', async () => {
    const { doc } = await exportDoc({ gid: g(), organizationGid: org, createdAt: new Date(at.getTime() + 10 * DAY), modifiedSince: null, requestedBy: { kind: 'user' as const, gid: alice }, baseUrl: BASE_URL }, engine.db);
    const task = byGid(doc.tasks, tasks[1]!)!;
    // Followers oldest first (the last inserted is the oldest); each name survives the round trip exactly.
    const expected = followers.map((gid, i) => ({ gid, resource_type: 'user', name: followerName(i) })).reverse();
    expect(task.followers).toEqual(expected);
    // More than one statement's worth (768 KiB) of names: read in pages, none lost or repeated.
    expect(Buffer.byteLength(JSON.stringify(task.followers))).toBeGreaterThan(PAGE_BYTE_BUDGET);
    const compact = (gid: string, name: string) => ({ gid, resource_type: 'project', name });
    expect(task.projects).toEqual([compact(projectGid, 'Private'), compact(otherTeamProject, 'Quote " and \u0007 bell'), compact(sameTeamProject, 'Second in Hidden')]);
    expect(task.memberships).toEqual([
      { project: compact(projectGid, 'Private'), section: null },
      { project: compact(otherTeamProject, 'Quote " and \u0007 bell'), section: { gid: section, resource_type: 'section', name: 'Tab\there 😀' } },
      { project: compact(sameTeamProject, 'Second in Hidden'), section: null },
    ]);
    // Each team once, in the order of its first project.
    expect(task.teams).toEqual([
      { gid: teamGid, resource_type: 'team', name: 'Hidden' },
      { gid: otherTeam, resource_type: 'team', name: 'Other "team" \\ \u2028' },
    ]);
    expect(task).toMatchObject({ num_likes: 1, likes: [{ gid: alice, user: { gid: alice, resource_type: 'user', name: 'Person 0' } }], tags: [] });

    const heavyTask = byGid(doc.tasks, tasks[2]!)!;
    expect(heavyTask.memberships).toEqual([
      { project: compact(projectGid, 'Private'), section: null },
      ...heavy.map((x, i) => ({ project: compact(x.project, quotes(1024, i)), section: { gid: x.section, resource_type: 'section', name: quotes(1024, i) } })),
    ]);
    expect(heavyTask.teams).toEqual([{ gid: teamGid, resource_type: 'team', name: 'Hidden' }, ...heavy.map((x, i) => ({ gid: x.team, resource_type: 'team', name: quotes(256, i) }))]);
    // Likes across rows: counted over all of them, in order (alice's first, then the 64).
    expect(heavyTask.num_likes).toBe(65);
    expect(heavyTask.likes.map((l: { gid: string; user: { name: string } }) => [l.gid, l.user.name])).toEqual([[alice, 'Person 0'], ...followers.slice(0, 64).map((gid, i) => [gid, followerName(i)])]);
  });

  test('a list longer than one statement reads: every item once, in order', async () => {
    const { doc } = await exportDoc({ gid: g(), organizationGid: org, createdAt: new Date(at.getTime() + 10 * DAY), modifiedSince: null, requestedBy: { kind: 'user' as const, gid: alice }, baseUrl: BASE_URL }, engine.db);
    const task = byGid(doc.tasks, tasks[3]!)!;
    expect(task.followers).toEqual(crowd.map((gid, i) => ({ gid, resource_type: 'user', name: `Crowd ${i}` })));
    // Every task of this organization is liked by alice too, first (the earliest, with crowd[0]; her gid is smaller).
    expect(task.num_likes).toBe(crowd.length + 1);
    expect(task.likes.map((l: { gid: string }) => l.gid)).toEqual([alice, ...crowd]);
  }, 60_000);

  test('a full and an incremental export render and validate', async () => {
    const context = { gid: g(), organizationGid: org, createdAt: new Date(at.getTime() + 10 * DAY), modifiedSince: null, requestedBy: { kind: 'user' as const, gid: alice }, baseUrl: BASE_URL };
    const { doc } = await exportDoc(context, engine.db);
    expectValid(doc);
    expect(doc.tasks).toHaveLength(230);
    expect(byGid(doc.projects, deletedProject)!.deleted_at).toBe(at.toISOString());
    const values = Object.fromEntries(byGid(doc.tasks, tasks[0]!)!.custom_fields.map((v: { gid: string; display_value: string }) => [v.gid, v.display_value]));
    expect(values).toEqual({ [multi]: 'Option 1, Option 0', [people]: 'Person 0, Person 1' });
    expect(doc.tasks[0]).toMatchObject({ due_on: '2026-03-01', num_likes: 1 });
    expect(doc.stories[0]).toMatchObject({ text: 'Hello', num_likes: 1 });
    expect(doc.pending_invitations).toEqual([{ resource_type: 'invitation', email: 'new@example.com', role: 'guest', created_at: at.toISOString() }]);
    expect(doc.project_templates[0].snapshot).toEqual(bigSnapshot);
    expect(engine.standIn!.statements).toBeGreaterThan(0);

    const incremental = (await exportDoc({ ...context, modifiedSince: new Date(at.getTime() + DAY) }, engine.db)).doc;
    expectValid(incremental);
    expect(gidsOf(incremental.stories)).toHaveLength(1);
    expect(incremental.tasks).toEqual([]);
    expect(incremental.tombstones).toEqual([]);
  }, 60_000);
});
