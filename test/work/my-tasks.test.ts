/** My tasks (user task lists): only the owner reads them, and they hold only the owner's visible assigned tasks. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { myTaskPages } from '../../lambdas/domain/work/my-tasks.js';
import { searchRoutes } from '../../lambdas/http/routes/search.js';
import { identityHarness, type IdentityHarness, apiCall } from '../support/identity.js';
import { project } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let owner: Person;
let colleague: Person;
let p: string;
let privateP: string;
beforeAll(async () => {
  h = await identityHarness({ extraRoutes: searchRoutes });
  w = await organizationWithRoles(h, 'My tasks org');
  owner = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Owner Person' });
  colleague = await person(h, { organizationGid: w.org.gid, role: 'member' });
  p = await project(h, w.org.gid);
  privateP = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: colleague.gid }] });
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string, method: string, path: string, data?: unknown) => apiCall(h, token, method, path, data);
const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((t) => t.name);
const listFor = (who: Person, user: string, workspace = w.org.gid) => api(who.token, 'GET', `/users/${encodeURIComponent(user)}/user_task_list?workspace=${workspace}`);
const listRows = async (userGid: string) => h.engine.db.selectFrom('user_task_lists').selectAll().where('user_gid', '=', userGid).execute();

async function newTask(token: string, data: Record<string, unknown>) {
  const res = await api(token, 'POST', '/tasks', data);
  if (res.status !== 201) throw new Error(`task: ${res.status} ${JSON.stringify(res.body)}`);
  h.clock.advance(1000);
  return res.body.data as { gid: string; name: string };
}

describe('the user task list', () => {
  test('created on first access, once; the same list by "me", gid and email', async () => {
    expect(await listRows(owner.gid)).toHaveLength(0);
    const res = await listFor(owner, 'me');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'user_task_list',
      name: 'My Tasks',
      owner: { gid: owner.gid, resource_type: 'user', name: 'Owner Person' },
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'My tasks org' },
    });
    expect((await listFor(owner, owner.gid)).body.data.gid).toBe(res.body.data.gid);
    expect((await listFor(owner, owner.email.toUpperCase())).body.data.gid).toBe(res.body.data.gid);
    expect(await listRows(owner.gid)).toHaveLength(1);
    const byGid = await api(owner.token, 'GET', `/user_task_lists/${res.body.data.gid}`);
    expect(byGid.status).toBe(200);
    expect(byGid.body.data).toEqual(res.body.data);
  });

  test('one list per workspace', async () => {
    const second = await organizationWithRoles(h, 'Second org');
    await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: second.org.gid, userGid: owner.gid, role: 'member', now: h.clock.now() });
    const here = (await listFor(owner, 'me')).body.data;
    const there = (await listFor(owner, 'me', second.org.gid)).body.data;
    expect(there.gid).not.toBe(here.gid);
    expect(there.workspace.gid).toBe(second.org.gid);
    expect(await listRows(owner.gid)).toHaveLength(2);
  });

  test("someone else's list: 403 when you can see them, 404 otherwise, and nothing is created", async () => {
    const fresh = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const asked = await listFor(colleague, fresh.gid);
    expect(asked.status).toBe(403);
    expect((await listFor(w.admin, fresh.email)).status).toBe(403);
    expect(await listRows(fresh.gid)).toHaveLength(0);
    // A guest cannot see members they share no project with.
    expect((await listFor(w.guest, fresh.gid)).status).toBe(404);
    expect((await listFor(colleague, '999999999999')).status).toBe(404);
    expect((await listFor(colleague, 'nobody@nowhere.example')).status).toBe(404);
    const stranger = await organizationWithRoles(h, 'Stranger org');
    expect((await listFor(stranger.superAdmin, 'me', w.org.gid)).status).toBe(404);
    expect(await listRows(stranger.superAdmin.gid)).toHaveLength(0);

    const mine = (await listFor(owner, 'me')).body.data.gid;
    expect((await api(colleague.token, 'GET', `/user_task_lists/${mine}`)).status).toBe(403);
    expect((await api(colleague.token, 'GET', `/user_task_lists/${mine}/tasks`)).status).toBe(403);
    expect((await api(w.guest.token, 'GET', `/user_task_lists/${mine}/tasks`)).status).toBe(404);
    expect((await api(stranger.superAdmin.token, 'GET', `/user_task_lists/${mine}`)).status).toBe(404);
    expect((await api(stranger.superAdmin.token, 'GET', `/user_task_lists/${mine}/tasks`)).status).toBe(404);
    expect((await api(owner.token, 'GET', '/user_task_lists/999999999999')).status).toBe(404);
  });

  test('bad parameters are 400s naming them', async () => {
    const noWorkspace = await api(owner.token, 'GET', '/users/me/user_task_list');
    expect(noWorkspace.status).toBe(400);
    expect(noWorkspace.body.errors[0].message).toMatch(/^query\.workspace/);
    const badUser = await api(owner.token, 'GET', `/users/not%20a%20user/user_task_list?workspace=${w.org.gid}`);
    expect(badUser.status).toBe(400);
    expect(badUser.body.errors[0].message).toMatch(/^path\.user_gid/);
    expect((await api(owner.token, 'GET', '/user_task_lists/abc')).status).toBe(400);
    const mine = (await listFor(owner, 'me')).body.data.gid;
    const badSince = await api(owner.token, 'GET', `/user_task_lists/${mine}/tasks?completed_since=yesterday`);
    expect(badSince.status).toBe(400);
    expect(badSince.body.errors[0].message).toMatch(/^query\.completed_since/);
    expect((await h.call({ path: `/api/1.0/user_task_lists/${mine}/tasks` })).status).toBe(401);
  });
});

describe('tasks in My tasks', () => {
  let listGid: string;
  beforeAll(async () => {
    listGid = (await listFor(owner, 'me')).body.data.gid;
    await newTask(w.member.token, { name: 'mine 1', projects: [p], assignee: owner.gid });
    await newTask(colleague.token, { name: 'mine in a private project', projects: [privateP], assignee: owner.gid });
    await newTask(owner.token, { name: 'mine private', workspace: w.org.gid, assignee: owner.gid });
    await newTask(w.member.token, { name: 'not mine', projects: [p], assignee: w.member.gid });
    await newTask(owner.token, { name: 'followed, not assigned', projects: [p] });
    const done = await newTask(w.member.token, { name: 'mine done', projects: [p], assignee: owner.gid });
    await api(w.member.token, 'PUT', `/tasks/${done.gid}`, { completed: true });
    const deleted = await newTask(w.member.token, { name: 'mine deleted', projects: [p], assignee: owner.gid });
    await api(w.member.token, 'DELETE', `/tasks/${deleted.gid}`);
    const parent = await newTask(w.member.token, { name: 'parent', projects: [p] });
    await api(w.member.token, 'POST', `/tasks/${parent.gid}/subtasks`, { name: 'mine subtask', assignee: owner.gid });
    h.clock.advance(1000);
    // Assigned to the owner in another workspace: not in this list.
    const second = await organizationWithRoles(h, 'Other workspace');
    await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: second.org.gid, userGid: owner.gid, role: 'member', now: h.clock.now() });
    await newTask(second.member.token, { name: 'mine elsewhere', projects: [await project(h, second.org.gid)], assignee: owner.gid });
  });

  test("the owner's assigned tasks in this workspace, oldest first; deleted ones and other workspaces' left out", async () => {
    const res = await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks`);
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['mine 1', 'mine in a private project', 'mine private', 'mine done', 'mine subtask']);
    expect(res.body.data[0]).toEqual({ gid: expect.any(String), resource_type: 'task', name: 'mine 1', resource_subtype: 'default_task' });
    expect(res.body.next_page).toBeNull();
  });

  test('tasks that stop being visible or assigned leave the list', async () => {
    const t = await newTask(w.member.token, { name: 'mine briefly', projects: [p], assignee: owner.gid });
    expect(names(await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks`))).toContain('mine briefly');
    await api(w.member.token, 'PUT', `/tasks/${t.gid}`, { assignee: w.member.gid });
    expect(names(await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks`))).not.toContain('mine briefly');
    await api(w.member.token, 'PUT', `/tasks/${t.gid}`, { assignee: owner.gid });
    expect(names(await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks`))).toContain('mine briefly');
    await api(w.member.token, 'DELETE', `/tasks/${t.gid}`);
    expect(names(await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks`))).not.toContain('mine briefly');
  });

  test('completed_since: "now" leaves completed tasks out; an instant keeps those completed since', async () => {
    const now = await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks?completed_since=now`);
    expect(names(now)).not.toContain('mine done');
    expect(names(now)).toContain('mine 1');
    const past = await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks?completed_since=${encodeURIComponent(new Date(h.clock.now().getTime() - 3_600_000).toISOString())}`);
    expect(names(past)).toContain('mine done');
  });

  test('keyset pages of one are stable and complete; opt_fields gives the full task', async () => {
    const seen: string[] = [];
    let path: string | null = `/user_task_lists/${listGid}/tasks?limit=1`;
    while (path) {
      const res = await api(owner.token, 'GET', path);
      expect(res.body.data.length).toBeLessThanOrEqual(1);
      seen.push(...names(res));
      path = res.body.next_page?.path ?? null;
    }
    expect(seen).toEqual(['mine 1', 'mine in a private project', 'mine private', 'mine done', 'mine subtask']);
    const full = await api(owner.token, 'GET', `/user_task_lists/${listGid}/tasks?opt_fields=name,assignee,completed&limit=1`);
    expect(full.body.data).toEqual([{ gid: expect.any(String), resource_type: 'task', name: 'mine 1', completed: false, assignee: { gid: owner.gid, resource_type: 'user', name: 'Owner Person' } }]);
  });

  test('the export iterator yields the same tasks in bounded pages', async () => {
    const pages: string[][] = [];
    for await (const page of myTaskPages(h.deps, { userGid: owner.gid, organizationGid: w.org.gid, role: 'member' }, {}, 2)) pages.push(page.map((t) => t.name));
    expect(pages.map((pg) => pg.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(['mine 1', 'mine in a private project', 'mine private', 'mine done', 'mine subtask']);
  });

  test('an owner removed from the workspace can no longer read the list', async () => {
    const leaver = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const gid = (await listFor(leaver, 'me')).body.data.gid;
    await newTask(w.member.token, { name: 'for the leaver', projects: [p], assignee: leaver.gid });
    expect(names(await api(leaver.token, 'GET', `/user_task_lists/${gid}/tasks`))).toEqual(['for the leaver']);
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: h.clock.now() }).where('user_gid', '=', leaver.gid).where('organization_gid', '=', w.org.gid).execute();
    expect((await api(leaver.token, 'GET', `/user_task_lists/${gid}/tasks`)).status).toBe(404);
    expect((await listFor(leaver, 'me')).status).toBe(404);
  });
});
