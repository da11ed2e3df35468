/**
 * Sections through the HTTP handler: Asana's shapes, ordering with insert_before /
 * insert_after and the insert (reorder) endpoint, addTask moving tasks between
 * sections, section task lists (keyset pages, visibility, opt_fields), deletion rules
 * and access (404 for sections of invisible projects, 403 without edit rights).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
import { projectRoutes } from '../../lambdas/http/routes/projects.js';
import { sectionRoutes } from '../../lambdas/http/routes/sections.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;
let teamMember: Person;
let team: string;

async function call(token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> {
  return apiCall(h, token, method, path, data);
}
const get = (token: string | undefined, path: string) => call(token, 'GET', path);
const post = (token: string, path: string, data: unknown) => call(token, 'POST', path, data);
const put = (token: string, path: string, data: unknown) => call(token, 'PUT', path, data);
const del = (token: string, path: string) => call(token, 'DELETE', path);
const messages = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { message: string }) => e.message);

async function makeTeam(name: string, members: Person[]): Promise<string> {
  const now = h.deps.clock.now();
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('teams').values({ gid, organization_gid: w.org.gid, name, visibility: 'public', created_at: now, modified_at: now }).execute();
  for (const m of members) await h.engine.db.insertInto('team_memberships').values({ gid: h.deps.ids.gid(), team_gid: gid, user_gid: m.gid, created_at: now }).execute();
  return gid;
}

async function project(token: string, data: Record<string, unknown> = {}): Promise<string> {
  const res = await post(token, '/projects', { workspace: w.org.gid, name: 'Board', ...data });
  expect(res.status).toBe(201);
  return res.body.data.gid;
}

async function section(token: string, projectGid: string, name: string, place: Record<string, unknown> = {}): Promise<string> {
  const res = await post(token, `/projects/${projectGid}/sections`, { name, ...place });
  expect(res.status).toBe(201);
  return res.body.data.gid;
}

async function task(token: string, projectGid: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await post(token, '/tasks', { name, projects: [projectGid], ...extra });
  expect(res.status).toBe(201);
  return res.body.data.gid;
}

const sectionNames = async (token: string, projectGid: string) => (await get(token, `/projects/${projectGid}/sections`)).body.data.map((s: { name: string }) => s.name);
const taskNames = async (token: string, sectionGid: string) => (await get(token, `/sections/${sectionGid}/tasks`)).body.data.map((t: { name: string }) => t.name);

beforeAll(async () => {
  // On the Data API stand-in: the production engine's parameter binding rules (dates, timestamps, doubles in cursors).
  h = await identityHarness({ engine: 'data-api', extraRoutes: [...projectRoutes, ...sectionRoutes] });
  w = await organizationWithRoles(h, 'Acme');
  other = await organizationWithRoles(h, 'Other');
  teamMember = await person(h, { organizationGid: w.org.gid, role: 'member' });
  team = await makeTeam('Design', [teamMember, w.member]);
});
afterAll(async () => h?.close());

describe('sections', () => {
  test('POST creates at the end with the full representation; GET lists compact in order', async () => {
    const p = await project(w.member.token);
    const res = await post(w.member.token, `/projects/${p}/sections`, { name: 'To do' });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ gid: expect.any(String), resource_type: 'section', name: 'To do', created_at: h.deps.clock.now().toISOString(), project: { gid: p, resource_type: 'project', name: 'Board' }, projects: [{ gid: p, resource_type: 'project', name: 'Board' }] });
    await section(w.member.token, p, 'Doing');
    await section(w.member.token, p, 'Done');
    const list = await get(w.member.token, `/projects/${p}/sections`);
    expect(list.body.data.map((s: any) => s.name)).toEqual(['To do', 'Doing', 'Done']);
    expect(list.body.data[0]).toEqual({ gid: res.body.data.gid, resource_type: 'section', name: 'To do' });
    expect(list.body.next_page).toBeNull();
    const one = await get(w.member.token, `/sections/${res.body.data.gid}`);
    expect(one.body.data).toEqual(res.body.data);
    const full = await get(w.member.token, `/projects/${p}/sections?opt_fields=name,project`);
    expect(full.body.data[1]).toEqual({ gid: expect.any(String), resource_type: 'section', name: 'Doing', project: { gid: p, resource_type: 'project', name: 'Board' } });
  });

  test('insert_before and insert_after place new sections; both at once or a foreign anchor is 400', async () => {
    const p = await project(w.member.token);
    const a = await section(w.member.token, p, 'A');
    const c = await section(w.member.token, p, 'C');
    await section(w.member.token, p, 'B', { insert_before: c });
    await section(w.member.token, p, 'A2', { insert_after: a });
    await section(w.member.token, p, 'Z', { insert_after: c });
    await section(w.member.token, p, 'Start', { insert_before: a });
    expect(await sectionNames(w.member.token, p)).toEqual(['Start', 'A', 'A2', 'B', 'C', 'Z']);
    const both = await post(w.member.token, `/projects/${p}/sections`, { name: 'X', insert_before: a, insert_after: c });
    expect(both.status).toBe(400);
    expect(messages(both).join()).toContain('insert_before and insert_after');
    const elsewhere = await section(w.member.token, await project(w.member.token), 'Elsewhere');
    const foreign = await post(w.member.token, `/projects/${p}/sections`, { name: 'X', insert_before: elsewhere });
    expect(foreign.status).toBe(400);
    expect(messages(foreign)).toEqual(['data.insert_before: not a section of this project']);
    const empty = await post(w.member.token, `/projects/${p}/sections`, { name: '   ' });
    expect(empty.status).toBe(400);
    expect(messages(empty).join()).toContain('data.name');
    expect(await sectionNames(w.member.token, p)).toHaveLength(6);
  });

  test('lists paginate with limit/offset/next_page', async () => {
    const p = await project(w.member.token);
    for (const n of ['1', '2', '3', '4', '5']) await section(w.member.token, p, n);
    const first = await get(w.member.token, `/projects/${p}/sections?limit=2`);
    expect(first.body.data.map((s: any) => s.name)).toEqual(['1', '2']);
    expect(first.body.next_page.path).toBe(`/projects/${p}/sections?limit=2&offset=${first.body.next_page.offset}`);
    const second = await get(w.member.token, `/projects/${p}/sections?limit=2&offset=${first.body.next_page.offset}`);
    expect(second.body.data.map((s: any) => s.name)).toEqual(['3', '4']);
    const third = await get(w.member.token, `/projects/${p}/sections?limit=2&offset=${second.body.next_page.offset}`);
    expect(third.body.data.map((s: any) => s.name)).toEqual(['5']);
    expect(third.body.next_page).toBeNull();
    expect((await get(w.member.token, `/projects/${p}/sections?limit=101`)).status).toBe(400);
  });

  test('PUT renames and moves; POST /projects/{gid}/sections/insert reorders', async () => {
    const p = await project(w.member.token);
    const [a, b, c, d] = [await section(w.member.token, p, 'A'), await section(w.member.token, p, 'B'), await section(w.member.token, p, 'C'), await section(w.member.token, p, 'D')];
    const renamed = await put(w.member.token, `/sections/${a}`, { name: 'Alpha' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ gid: a, name: 'Alpha', project: { gid: p } });
    expect((await put(w.member.token, `/sections/${a}`, { name: '' })).status).toBe(400);
    const moved = await put(w.member.token, `/sections/${a}`, { insert_after: c });
    expect(moved.body.data.name).toBe('Alpha');
    expect(await sectionNames(w.member.token, p)).toEqual(['B', 'C', 'Alpha', 'D']);
    const insert = await post(w.member.token, `/projects/${p}/sections/insert`, { section: d, before_section: b });
    expect(insert.status).toBe(200);
    expect(insert.body).toEqual({ data: {} });
    expect(await sectionNames(w.member.token, p)).toEqual(['D', 'B', 'C', 'Alpha']);
    await post(w.member.token, `/projects/${p}/sections/insert`, { section: b, after_section: a });
    expect(await sectionNames(w.member.token, p)).toEqual(['D', 'C', 'Alpha', 'B']);
    await post(w.member.token, `/projects/${p}/sections/insert`, { section: c, after_section: d });
    expect(await sectionNames(w.member.token, p)).toEqual(['D', 'C', 'Alpha', 'B']);
    const neither = await post(w.member.token, `/projects/${p}/sections/insert`, { section: c });
    expect(neither.status).toBe(400);
    const self = await post(w.member.token, `/projects/${p}/sections/insert`, { section: c, before_section: c });
    expect(self.status).toBe(400);
    expect(messages(self).join()).toContain('data.before_section');
    const otherProject = await project(w.member.token);
    const stranger = await section(w.member.token, otherProject, 'Stranger');
    const across = await post(w.member.token, `/projects/${p}/sections/insert`, { section: stranger, before_section: b });
    expect(across.status).toBe(400);
    expect(messages(across).join()).toContain('data.section');
    const missing = await post(w.member.token, `/projects/${p}/sections/insert`, { before_section: b });
    expect(missing.status).toBe(400);
    expect(messages(missing).join()).toContain('data.section');
  });

  test('DELETE removes only an empty section and never the last one', async () => {
    const p = await project(w.member.token);
    const a = await section(w.member.token, p, 'A');
    const b = await section(w.member.token, p, 'B');
    const t = await task(w.member.token, p, 'Busy');
    await post(w.member.token, `/sections/${a}/addTask`, { task: t });
    const busy = await del(w.member.token, `/sections/${a}`);
    expect(busy.status).toBe(400);
    expect(messages(busy)[0]).toMatch(/must be empty/);
    const ok = await del(w.member.token, `/sections/${b}`);
    expect(ok.status).toBe(200);
    expect((await get(w.member.token, `/sections/${b}`)).status).toBe(404);
    expect(await sectionNames(w.member.token, p)).toEqual(['A']);
    await del(w.member.token, `/tasks/${t}`);
    const last = await del(w.member.token, `/sections/${a}`);
    expect(last.status).toBe(400);
    expect(messages(last)[0]).toMatch(/last remaining section/);
    // A deleted task does not keep a section from being deleted.
    const c = await section(w.member.token, p, 'C');
    const t2 = await task(w.member.token, p, 'Gone soon');
    await post(w.member.token, `/sections/${c}/addTask`, { task: t2 });
    await del(w.member.token, `/tasks/${t2}`);
    expect((await del(w.member.token, `/sections/${c}`)).status).toBe(200);
  });
});

describe('tasks in sections', () => {
  test('addTask moves a task between sections, to the top by default or next to another task', async () => {
    const p = await project(w.member.token);
    const todo = await section(w.member.token, p, 'To do');
    const done = await section(w.member.token, p, 'Done');
    const [t1, t2, t3, t4] = [await task(w.member.token, p, 'T1'), await task(w.member.token, p, 'T2'), await task(w.member.token, p, 'T3'), await task(w.member.token, p, 'T4')];
    for (const t of [t1, t2, t3]) expect((await post(w.member.token, `/sections/${todo}/addTask`, { task: t })).body).toEqual({ data: {} });
    expect(await taskNames(w.member.token, todo)).toEqual(['T3', 'T2', 'T1']);
    await post(w.member.token, `/sections/${todo}/addTask`, { task: t4, insert_after: t2 });
    expect(await taskNames(w.member.token, todo)).toEqual(['T3', 'T2', 'T4', 'T1']);
    await post(w.member.token, `/sections/${todo}/addTask`, { task: t3, insert_before: t1 });
    expect(await taskNames(w.member.token, todo)).toEqual(['T2', 'T4', 'T3', 'T1']);
    await post(w.member.token, `/sections/${done}/addTask`, { task: t4 });
    expect(await taskNames(w.member.token, todo)).toEqual(['T2', 'T3', 'T1']);
    expect(await taskNames(w.member.token, done)).toEqual(['T4']);
    const view = await get(w.member.token, `/tasks/${t4}`);
    expect(view.body.data.memberships).toEqual([{ project: { gid: p, resource_type: 'project', name: 'Board' }, section: { gid: done, resource_type: 'section', name: 'Done' } }]);
    const notThere = await post(w.member.token, `/sections/${done}/addTask`, { task: t1, insert_before: t2 });
    expect(notThere.status).toBe(400);
    expect(messages(notThere)).toEqual(['data.insert_before: not a task of this section']);
    const both = await post(w.member.token, `/sections/${done}/addTask`, { task: t1, insert_before: t4, insert_after: t4 });
    expect(both.status).toBe(400);
    const itself = await post(w.member.token, `/sections/${done}/addTask`, { task: t4, insert_after: t4 });
    expect(itself.status).toBe(400);
    const missing = await post(w.member.token, `/sections/${done}/addTask`, {});
    expect(missing.status).toBe(400);
    expect(messages(missing).join()).toContain('data.task');
  });

  test('addTask also brings a task from outside the project into it', async () => {
    const p = await project(w.member.token);
    const s = await section(w.member.token, p, 'Inbox');
    const loose = await post(w.member.token, '/tasks', { name: 'Loose', workspace: w.org.gid });
    expect((await post(w.member.token, `/sections/${s}/addTask`, { task: loose.body.data.gid })).status).toBe(200);
    expect(await taskNames(w.member.token, s)).toEqual(['Loose']);
    const projects = (await get(w.member.token, `/tasks/${loose.body.data.gid}`)).body.data.projects.map((x: any) => x.gid);
    expect(projects).toEqual([p]);
  });

  test('GET /sections/{gid}/tasks: keyset pages, compact or full, completed_since, never deleted or foreign rows', async () => {
    const p = await project(w.member.token);
    const s = await section(w.member.token, p, 'Col');
    const gids: string[] = [];
    for (const n of ['A', 'B', 'C', 'D', 'E']) {
      const t = await task(w.member.token, p, n);
      gids.push(t);
      await post(w.member.token, `/sections/${s}/addTask`, { task: t, ...(gids.length > 1 ? { insert_after: gids[gids.length - 2] } : {}) });
    }
    const first = await get(w.member.token, `/sections/${s}/tasks?limit=2`);
    expect(first.body.data).toEqual([
      { gid: gids[0], resource_type: 'task', name: 'A', resource_subtype: 'default_task' },
      { gid: gids[1], resource_type: 'task', name: 'B', resource_subtype: 'default_task' },
    ]);
    const rest: string[] = [];
    let offset = first.body.next_page.offset;
    while (offset) {
      const page = await get(w.member.token, `/sections/${s}/tasks?limit=2&offset=${offset}`);
      rest.push(...page.body.data.map((t: any) => t.name));
      offset = page.body.next_page?.offset;
    }
    expect(rest).toEqual(['C', 'D', 'E']);
    await put(w.member.token, `/tasks/${gids[1]}`, { completed: true });
    await del(w.member.token, `/tasks/${gids[2]}`);
    expect(await taskNames(w.member.token, s)).toEqual(['A', 'B', 'D', 'E']);
    const open = await get(w.member.token, `/sections/${s}/tasks?completed_since=now`);
    expect(open.body.data.map((t: any) => t.name)).toEqual(['A', 'D', 'E']);
    const full = await get(w.member.token, `/sections/${s}/tasks?limit=1&opt_fields=name,completed,memberships.section.name`);
    expect(full.body.data).toEqual([{ gid: gids[0], resource_type: 'task', name: 'A', completed: false, memberships: [{ section: { gid: s, resource_type: 'section', name: 'Col' } }] }]);
    // A task of another section of the project is not listed.
    const s2 = await section(w.member.token, p, 'Other');
    await post(w.member.token, `/sections/${s2}/addTask`, { task: gids[4] });
    expect(await taskNames(w.member.token, s)).toEqual(['A', 'B', 'D']);
    const badSince = await get(w.member.token, `/sections/${s}/tasks?completed_since=yesterday`);
    expect(badSince.status).toBe(400);
    expect(messages(badSince).join()).toContain('query.completed_since');
  });
});

describe('access', () => {
  test('sections of projects the caller cannot see are 404 for every endpoint', async () => {
    const p = await project(teamMember.token, { privacy_setting: 'private' });
    const s = await section(teamMember.token, p, 'Secret');
    const t = await task(teamMember.token, p, 'Hidden');
    for (const who of [w.admin, w.superAdmin, w.member, w.guest, other.member]) {
      expect((await get(who.token, `/projects/${p}/sections`)).status).toBe(404);
      expect((await get(who.token, `/sections/${s}`)).status).toBe(404);
      expect((await get(who.token, `/sections/${s}/tasks`)).status).toBe(404);
      expect((await post(who.token, `/projects/${p}/sections`, { name: 'X' })).status).toBe(404);
      expect((await put(who.token, `/sections/${s}`, { name: 'X' })).status).toBe(404);
      expect((await del(who.token, `/sections/${s}`)).status).toBe(404);
      expect((await post(who.token, `/sections/${s}/addTask`, { task: t })).status).toBe(404);
      expect((await post(who.token, `/projects/${p}/sections/insert`, { section: s, before_section: s })).status).toBe(404);
    }
    expect((await get(undefined, `/sections/${s}`)).status).toBe(401);
    expect((await get(teamMember.token, `/sections/${s}`)).body.data.name).toBe('Secret');
    expect(await taskNames(teamMember.token, s)).toEqual([]);
  });

  test('guests work only in projects they were added to; view-only access cannot move tasks (403)', async () => {
    const p = await project(w.member.token);
    const s = await section(w.member.token, p, 'Todo');
    const t = await task(w.member.token, p, 'Shared');
    expect((await get(w.guest.token, `/sections/${s}`)).status).toBe(404);
    await post(w.member.token, `/projects/${p}/addMembers`, { members: w.guest.gid });
    expect((await get(w.guest.token, `/sections/${s}`)).status).toBe(200);
    expect((await post(w.guest.token, `/sections/${s}/addTask`, { task: t })).status).toBe(200);
    expect(await taskNames(w.guest.token, s)).toEqual(['Shared']);
    await h.engine.db.updateTable('project_memberships').set({ access_level: 'viewer' }).where('project_gid', '=', p).where('user_gid', '=', w.guest.gid).execute();
    const s2 = await section(w.member.token, p, 'Later');
    expect((await post(w.guest.token, `/sections/${s2}/addTask`, { task: t })).status).toBe(403);
    expect((await post(w.guest.token, `/projects/${p}/sections`, { name: 'Mine' })).status).toBe(403);
    expect(await taskNames(w.member.token, s)).toEqual(['Shared']);
    // A task the guest cannot see cannot be moved into a section they can.
    const privateTask = await post(w.member.token, '/tasks', { name: 'Private', workspace: w.org.gid });
    await h.engine.db.updateTable('project_memberships').set({ access_level: 'editor' }).where('project_gid', '=', p).where('user_gid', '=', w.guest.gid).execute();
    expect((await post(w.guest.token, `/sections/${s}/addTask`, { task: privateTask.body.data.gid })).status).toBe(404);
    // Nor a task of another organization.
    const foreignProject = await post(other.member.token, '/projects', { workspace: other.org.gid, name: 'Theirs' });
    const foreignTask = await post(other.member.token, '/tasks', { name: 'Theirs', projects: [foreignProject.body.data.gid] });
    expect((await post(w.member.token, `/sections/${s}/addTask`, { task: foreignTask.body.data.gid })).status).toBe(404);
  });

  test('full team members see private_to_team sections but cannot change them without edit rights', async () => {
    const p = await project(teamMember.token, { team, privacy_setting: 'private_to_team' });
    const a = await section(teamMember.token, p, 'A');
    const b = await section(teamMember.token, p, 'B');
    expect(await sectionNames(w.member.token, p)).toEqual(['A', 'B']);
    expect((await post(w.member.token, `/projects/${p}/sections`, { name: 'C' })).status).toBe(403);
    expect((await put(w.member.token, `/sections/${a}`, { name: 'Z' })).status).toBe(403);
    expect((await del(w.member.token, `/sections/${b}`)).status).toBe(403);
    expect((await post(w.member.token, `/projects/${p}/sections/insert`, { section: b, before_section: a })).status).toBe(403);
    expect(await sectionNames(teamMember.token, p)).toEqual(['A', 'B']);
    expect((await get(w.admin.token, `/sections/${a}`)).status).toBe(404);
  });

  test('sections of a deleted project vanish', async () => {
    const p = await project(w.member.token);
    const s = await section(w.member.token, p, 'Col');
    await del(w.member.token, `/projects/${p}`);
    expect((await get(w.member.token, `/sections/${s}`)).status).toBe(404);
    expect((await get(w.member.token, `/projects/${p}/sections`)).status).toBe(404);
    expect((await get(w.member.token, `/sections/${s}/tasks`)).status).toBe(404);
  });
});
