/** Tasks, subtasks, multi-homing, tags, followers, likes, stories and custom field values through the API. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { identityHarness, type IdentityHarness, apiCall } from '../support/identity.js';
import { customField, project, section, team } from '../support/graph.js';
import { organizationWithRoles, person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
beforeAll(async () => {
  // Sessions outlive the clock jumps of the restore test.
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  w = await organizationWithRoles(h);
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string, method: string, path: string, data?: unknown) => apiCall(h, token, method, path, data);

describe('task lifecycle', () => {
  test('create, read, update, delete, restore; modified_at moves forward', async () => {
    const p = await project(h, w.org.gid);
    const created = await api(w.member.token, 'POST', '/tasks', { name: 'Write report', notes: 'Quarterly', projects: [p], due_on: '2026-12-24', assignee: w.member.gid });
    expect(created.status).toBe(201);
    const t = created.body.data;
    expect(t).toMatchObject({ resource_type: 'task', name: 'Write report', notes: 'Quarterly', completed: false, completed_at: null, due_on: '2026-12-24', assignee: { gid: w.member.gid }, assignee_status: 'inbox', num_subtasks: 0, workspace: { gid: w.org.gid } });
    expect(t.projects).toEqual([{ gid: p, resource_type: 'project', name: expect.any(String) }]);
    expect(t.followers.map((f: { gid: string }) => f.gid)).toEqual([w.member.gid]);

    h.clock.advance(5000);
    const updated = await api(w.member.token, 'PUT', `/tasks/${t.gid}`, { completed: true, name: 'Write the report', due_on: null });
    expect(updated.body.data).toMatchObject({ completed: true, name: 'Write the report', due_on: null });
    expect(updated.body.data.completed_at).not.toBeNull();
    expect(Date.parse(updated.body.data.modified_at)).toBeGreaterThan(Date.parse(t.modified_at));

    expect((await api(w.member.token, 'DELETE', `/tasks/${t.gid}`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
    const list = await api(w.member.token, 'GET', `/projects/${p}/tasks`);
    expect(list.body.data).toEqual([]);
    h.clock.advance(29 * 86_400_000);
    expect((await api(w.member.token, 'POST', `/tasks/${t.gid}/restore`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/tasks/${t.gid}`)).body.data.name).toBe('Write the report');
    expect((await api(w.member.token, 'DELETE', `/tasks/${t.gid}`)).status).toBe(200);
    h.clock.advance(31 * 86_400_000);
    const member = await person(h, { organizationGid: w.org.gid, role: 'member' }); // fresh session after the time jump
    expect((await api(member.token, 'POST', `/tasks/${t.gid}/restore`)).status).toBe(410);
  });

  test('bad input is refused with field paths and changes nothing', async () => {
    const p = await project(h, w.org.gid);
    const before = await h.engine.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const bad = await api(w.member.token, 'POST', '/tasks', { name: 'x', projects: [p], due_on: '2026-13-45' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.due_on/);
    expect((await api(w.member.token, 'POST', '/tasks', { name: 'no home' })).status).toBe(400);
    expect((await api(w.member.token, 'POST', '/tasks', { name: 'x', projects: [p], assignee: '1234' })).status).toBe(400);
    const after = await h.engine.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});

describe('visibility', () => {
  test('a task in no project is private to its assignee and followers', async () => {
    const mine = await api(w.member.token, 'POST', '/tasks', { name: 'Private', workspace: w.org.gid });
    expect(mine.status).toBe(201);
    const other = await person(h, { organizationGid: w.org.gid, role: 'member' });
    expect((await api(other.token, 'GET', `/tasks/${mine.body.data.gid}`)).status).toBe(404);
    expect((await api(w.admin.token, 'GET', `/tasks/${mine.body.data.gid}`)).status).toBe(404);
    await api(w.member.token, 'POST', `/tasks/${mine.body.data.gid}/addFollowers`, { followers: [other.gid] });
    expect((await api(other.token, 'GET', `/tasks/${mine.body.data.gid}`)).status).toBe(200);
  });

  test('guests see only tasks they were added to, and their subtasks', async () => {
    const p = await project(h, w.org.gid);
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Public task', projects: [p] })).body.data;
    const sub = (await api(w.member.token, 'POST', `/tasks/${t.gid}/subtasks`, { name: 'Sub' })).body.data;
    expect((await api(w.member.token, 'GET', `/tasks/${t.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
    expect((await api(w.guest.token, 'GET', `/projects/${p}/tasks`)).status).toBe(404);
    await api(w.member.token, 'POST', `/tasks/${t.gid}/addFollowers`, { followers: [w.guest.gid] });
    expect((await api(w.guest.token, 'GET', `/tasks/${t.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/tasks/${sub.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/tasks/${t.gid}/subtasks`)).body.data.map((s: { gid: string }) => s.gid)).toEqual([sub.gid]);
  });

  test('tasks of a private project are invisible to non-members, org admins included', async () => {
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }] });
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Secret plan', projects: [p] })).body.data;
    for (const who of [w.admin, w.superAdmin, w.guest]) {
      expect((await api(who.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/tasks/${t.gid}/stories`)).status).toBe(404);
    }
    const outsider = await organizationWithRoles(h, 'Other');
    expect((await api(outsider.superAdmin.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
  });

  test("a visible task never reveals the private projects it is also in, nor an invisible parent", async () => {
    const open = await project(h, w.org.gid, { name: 'Open project' });
    const secret = await project(h, w.org.gid, { name: 'Secret merger', privacy: 'private', members: [{ gid: w.member.gid }] });
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Shared', projects: [open, secret] })).body.data;
    expect(t.projects.map((p: { name: string }) => p.name).sort()).toEqual(['Open project', 'Secret merger']);
    for (const path of [`/tasks/${t.gid}`, `/projects/${open}/tasks?opt_fields=projects.name,memberships.project.name`]) {
      const res = await api(w.admin.token, 'GET', path);
      expect(JSON.stringify(res.body)).not.toContain('Secret merger');
      expect(JSON.stringify(res.body)).not.toContain(secret);
    }
    const hiddenParent = (await api(w.member.token, 'POST', '/tasks', { name: 'Hidden parent', projects: [secret] })).body.data;
    const sub = (await api(w.member.token, 'POST', `/tasks/${hiddenParent.gid}/subtasks`, { name: 'For the guest', assignee: w.guest.gid })).body.data;
    const seen = await api(w.guest.token, 'GET', `/tasks/${sub.gid}`);
    expect(seen.status).toBe(200);
    expect(seen.body.data.parent).toBeNull();
    expect(JSON.stringify(seen.body)).not.toContain('Hidden parent');
  });

  test('private_to_team: full team members see it, limited-access members only when added', async () => {
    const limited = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const full = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const tm = await team(h, w.org.gid, { members: [{ gid: full.gid }, { gid: limited.gid, limited: true }] });
    const p = await project(h, w.org.gid, { team: tm, privacy: 'private_to_team' });
    const t = (await api(full.token, 'POST', '/tasks', { name: 'Team task', projects: [p] })).body.data;
    expect((await api(limited.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
    expect((await api(w.member.token, 'GET', `/tasks/${t.gid}`)).status).toBe(404);
    await h.engine.db.insertInto('project_memberships').values({ gid: h.deps.ids.gid(), project_gid: p, user_gid: limited.gid, access_level: 'editor', created_at: h.clock.now() }).execute();
    expect((await api(limited.token, 'GET', `/tasks/${t.gid}`)).status).toBe(200);
  });

  test('a guest added to a project only as viewer can read but not change its tasks', async () => {
    const p = await project(h, w.org.gid, { members: [{ gid: w.guest.gid, access: 'viewer' }] });
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Read only', projects: [p] })).body.data;
    expect((await api(w.guest.token, 'GET', `/tasks/${t.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'PUT', `/tasks/${t.gid}`, { name: 'Changed' })).status).toBe(403);
    expect((await api(w.guest.token, 'POST', '/tasks', { name: 'New', projects: [p] })).status).toBe(404);
  });
});

describe('structure', () => {
  test('subtasks, setParent (no cycles), multi-homing with sections, project order and pagination', async () => {
    const p1 = await project(h, w.org.gid);
    const p2 = await project(h, w.org.gid);
    const s2 = await section(h, p2, 'Doing', 1);
    const gids: string[] = [];
    for (let i = 0; i < 5; i++) gids.push((await api(w.member.token, 'POST', '/tasks', { name: `T${i}`, projects: [p1] })).body.data.gid);
    const page1 = await api(w.member.token, 'GET', `/projects/${p1}/tasks?limit=2`);
    expect(page1.body.data.map((t: { name: string }) => t.name)).toEqual(['T0', 'T1']);
    expect(page1.body.next_page.path).toContain(`/projects/${p1}/tasks?limit=2&offset=`);
    const page2 = await api(w.member.token, 'GET', page1.body.next_page.path);
    expect(page2.body.data.map((t: { name: string }) => t.name)).toEqual(['T2', 'T3']);

    await api(w.member.token, 'POST', `/tasks/${gids[4]}/setParent`, { parent: gids[0] });
    await api(w.member.token, 'POST', `/tasks/${gids[3]}/setParent`, { parent: gids[4] });
    const cycle = await api(w.member.token, 'POST', `/tasks/${gids[0]}/setParent`, { parent: gids[3] });
    expect(cycle.status).toBe(400);
    expect((await api(w.member.token, 'GET', `/tasks/${gids[0]}`)).body.data.num_subtasks).toBe(1);
    expect((await api(w.member.token, 'GET', `/tasks/${gids[3]}`)).body.data.parent.gid).toBe(gids[4]);

    expect((await api(w.member.token, 'POST', `/tasks/${gids[1]}/addProject`, { project: p2, section: s2 })).status).toBe(200);
    const t1 = (await api(w.member.token, 'GET', `/tasks/${gids[1]}`)).body.data;
    expect(t1.memberships).toEqual(expect.arrayContaining([expect.objectContaining({ project: expect.objectContaining({ gid: p2 }), section: expect.objectContaining({ gid: s2, name: 'Doing' }) })]));
    expect((await api(w.member.token, 'POST', `/tasks/${gids[1]}/addProject`, { project: p1, section: s2 })).status).toBe(400);
    await api(w.member.token, 'POST', `/tasks/${gids[1]}/removeProject`, { project: p2 });
    expect((await api(w.member.token, 'GET', `/tasks/${gids[1]}`)).body.data.projects.map((p: { gid: string }) => p.gid)).toEqual([p1]);
  });

  test('opt_fields selects fields of listed tasks', async () => {
    const p = await project(h, w.org.gid);
    await api(w.member.token, 'POST', '/tasks', { name: 'With fields', projects: [p], notes: 'n', assignee: w.member.gid });
    const res = await api(w.member.token, 'GET', `/projects/${p}/tasks?opt_fields=name,assignee.name,notes`);
    expect(res.body.data).toEqual([{ gid: expect.any(String), resource_type: 'task', name: 'With fields', notes: 'n', assignee: { gid: w.member.gid, resource_type: 'user', name: w.member.name } }]);
  });

  test('duplicate copies what was asked, subtasks included', async () => {
    const p = await project(h, w.org.gid);
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Original', notes: 'keep', projects: [p] })).body.data;
    await api(w.member.token, 'POST', `/tasks/${t.gid}/subtasks`, { name: 'Child' });
    const job = await api(w.member.token, 'POST', `/tasks/${t.gid}/duplicate`, { name: 'Copy', include: ['notes', 'subtasks', 'projects'] });
    expect(job.status).toBe(201);
    expect(job.body.data).toMatchObject({ resource_type: 'job', status: 'succeeded', new_task: { name: 'Copy' } });
    const copy = (await api(w.member.token, 'GET', `/tasks/${job.body.data.new_task.gid}`)).body.data;
    expect(copy).toMatchObject({ notes: 'keep', num_subtasks: 1, projects: [expect.objectContaining({ gid: p })] });
  });
});

describe('tags, likes, stories, custom fields', () => {
  test('tags on tasks; tag task lists show only visible tasks', async () => {
    const tag = (await api(w.member.token, 'POST', '/tags', { name: 'urgent', workspace: w.org.gid, color: 'dark-red' })).body.data;
    expect(tag).toMatchObject({ resource_type: 'tag', name: 'urgent', color: 'dark-red' });
    const open = (await api(w.member.token, 'POST', '/tasks', { name: 'Open', projects: [await project(h, w.org.gid)], tags: [tag.gid] })).body.data;
    const hidden = (await api(w.member.token, 'POST', '/tasks', { name: 'Hidden', workspace: w.org.gid, tags: [tag.gid] })).body.data;
    const other = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const list = await api(other.token, 'GET', `/tags/${tag.gid}/tasks`);
    expect(list.body.data.map((t: { gid: string }) => t.gid)).toEqual([open.gid]);
    expect((await api(w.member.token, 'GET', `/tags/${tag.gid}/tasks`)).body.data.map((t: { gid: string }) => t.gid).sort()).toEqual([open.gid, hidden.gid].sort());
    expect((await api(w.guest.token, 'GET', `/tags/${tag.gid}`)).status).toBe(404);
    await api(w.member.token, 'POST', `/tasks/${open.gid}/removeTag`, { tag: tag.gid });
    expect((await api(w.member.token, 'GET', `/tasks/${open.gid}/tags`)).body.data).toEqual([]);
  });

  test('likes and comments', async () => {
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Likeable', projects: [await project(h, w.org.gid)] })).body.data;
    const liked = await api(w.admin.token, 'POST', `/tasks/${t.gid}/like`, { liked: true });
    expect(liked.body.data).toMatchObject({ liked: true, num_likes: 1, likes: [{ user: { gid: w.admin.gid } }] });
    const c = await api(w.admin.token, 'POST', `/tasks/${t.gid}/stories`, { text: 'Looks good' });
    expect(c.status).toBe(201);
    expect(c.body.data).toMatchObject({ resource_type: 'story', type: 'comment', text: 'Looks good', created_by: { gid: w.admin.gid } });
    expect((await api(w.member.token, 'PUT', `/stories/${c.body.data.gid}`, { text: 'Edited by someone else' })).status).toBe(403);
    expect((await api(w.admin.token, 'PUT', `/stories/${c.body.data.gid}`, { text: 'Looks great' })).body.data).toMatchObject({ text: 'Looks great', is_edited: true });
    expect((await api(w.member.token, 'POST', `/stories/${c.body.data.gid}/like`, { liked: true })).body.data.num_likes).toBe(1);
    const stories = await api(w.member.token, 'GET', `/tasks/${t.gid}/stories`);
    expect(stories.body.data.map((s: { text: string }) => s.text)).toEqual(['Looks great']);
    expect((await api(w.guest.token, 'GET', `/stories/${c.body.data.gid}`)).status).toBe(404);
    expect((await api(w.admin.token, 'DELETE', `/stories/${c.body.data.gid}`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/tasks/${t.gid}/stories`)).body.data).toEqual([]);
  });

  test('modified_at moves with a task\'s relations (likes, followers) and a comment\'s likes, never on a refused change', async () => {
    const t = (await api(w.member.token, 'POST', '/tasks', { name: 'Watched', projects: [await project(h, w.org.gid)] })).body.data;
    const modified = async () => Date.parse((await api(w.member.token, 'GET', `/tasks/${t.gid}`)).body.data.modified_at);
    const storyModified = async (gid: string) => (await h.engine.db.selectFrom('stories').select('modified_at').where('gid', '=', gid).executeTakeFirstOrThrow()).modified_at.getTime();
    let last = await modified();
    const moved = async (what: string, change: () => Promise<{ status: number }>) => {
      h.clock.advance(1000);
      expect([what, (await change()).status]).toEqual([what, 200]);
      const now = await modified();
      expect([what, now]).toEqual([what, h.clock.now().getTime()]);
      expect(now).toBeGreaterThan(last);
      last = now;
    };
    await moved('like', () => api(w.admin.token, 'POST', `/tasks/${t.gid}/like`, { liked: true }));
    await moved('unlike', () => api(w.admin.token, 'POST', `/tasks/${t.gid}/like`, { liked: false }));
    await moved('add a follower', () => api(w.member.token, 'POST', `/tasks/${t.gid}/addFollowers`, { followers: [w.admin.gid] }));
    await moved('remove a follower', () => api(w.member.token, 'POST', `/tasks/${t.gid}/removeFollowers`, { followers: [w.admin.gid] }));

    // A refused change moves nothing (the transaction rolls back).
    h.clock.advance(1000);
    expect((await api(w.guest.token, 'POST', `/tasks/${t.gid}/like`, { liked: true })).status).toBe(404);
    expect(await modified()).toBe(last);

    const c = (await api(w.member.token, 'POST', `/tasks/${t.gid}/stories`, { text: 'Like me' })).body.data.gid;
    const posted = await storyModified(c);
    h.clock.advance(1000);
    expect((await api(w.admin.token, 'POST', `/stories/${c}/like`, { liked: true })).status).toBe(200);
    expect(await storyModified(c)).toBe(h.clock.now().getTime());
    expect(await storyModified(c)).toBeGreaterThan(posted);
  });

  test('custom field values of every type round-trip with display values', async () => {
    const text = await customField(h, w.org.gid, 'text');
    const num = await customField(h, w.org.gid, 'number');
    const en = await customField(h, w.org.gid, 'enum', ['Low', 'High']);
    const multi = await customField(h, w.org.gid, 'multi_enum', ['A', 'B', 'C']);
    const date = await customField(h, w.org.gid, 'date');
    const people = await customField(h, w.org.gid, 'people');
    const res = await api(w.member.token, 'POST', '/tasks', {
      name: 'Fielded',
      projects: [await project(h, w.org.gid)],
      custom_fields: { [text.gid]: 'hello', [num.gid]: 3.14159, [en.gid]: en.options[1], [multi.gid]: [multi.options[0], multi.options[2]], [date.gid]: { date: '2026-02-03' }, [people.gid]: [w.admin.gid] },
    });
    expect(res.status).toBe(201);
    const byGid = Object.fromEntries(res.body.data.custom_fields.map((f: { gid: string }) => [f.gid, f]));
    expect(byGid[text.gid]).toMatchObject({ text_value: 'hello', display_value: 'hello' });
    expect(byGid[num.gid]).toMatchObject({ number_value: 3.14159, display_value: '3.14' });
    expect(byGid[en.gid]).toMatchObject({ enum_value: { gid: en.options[1], name: 'High' }, display_value: 'High' });
    expect(byGid[multi.gid].display_value).toBe('A, C');
    expect(byGid[date.gid]).toMatchObject({ date_value: { date: '2026-02-03' }, display_value: '2026-02-03' });
    expect(byGid[people.gid].people_value.map((u: { gid: string }) => u.gid)).toEqual([w.admin.gid]);
    const wrong = await api(w.member.token, 'PUT', `/tasks/${res.body.data.gid}`, { custom_fields: { [en.gid]: multi.options[0] } });
    expect(wrong.status).toBe(400);
    const cleared = await api(w.member.token, 'PUT', `/tasks/${res.body.data.gid}`, { custom_fields: { [text.gid]: null } });
    expect(cleared.body.data.custom_fields.map((f: { gid: string }) => f.gid)).not.toContain(text.gid);
  });
});
