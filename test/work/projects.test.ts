/**
 * Projects, project memberships and status updates through the HTTP handler: Asana's
 * shapes, the access model (public_to_workspace / private_to_team / private, guests,
 * limited-access team members, admins not exempt, other organizations), soft deletion,
 * keyset pagination, validation with field paths, modified_at and date round-trips.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
import { projectRoutes } from '../../lambdas/http/routes/projects.js';
import { sectionRoutes } from '../../lambdas/http/routes/sections.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { routes } from '../../lambdas/http/route-table.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;
/** A full member of `team`, a limited-access member of it, and a member in no team. */
let teamMember: Person;
let limited: Person;
let loner: Person;
let team: string;
let secretTeam: string;

async function call(token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> {
  return apiCall(h, token, method, path, data);
}
const get = (token: string | undefined, path: string) => call(token, 'GET', path);
const post = (token: string, path: string, data: unknown) => call(token, 'POST', path, data);
const put = (token: string, path: string, data: unknown) => call(token, 'PUT', path, data);
const del = (token: string, path: string) => call(token, 'DELETE', path);
const messages = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { message: string }) => e.message);

/** Teams are inserted directly (the team endpoints are another suite's subject). */
async function makeTeam(name: string, members: { who: Person; limited?: boolean }[], visibility: 'public' | 'request_to_join' | 'secret' = 'public'): Promise<string> {
  const now = h.deps.clock.now();
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('teams').values({ gid, organization_gid: w.org.gid, name, visibility, created_at: now, modified_at: now }).execute();
  for (const m of members) await h.engine.db.insertInto('team_memberships').values({ gid: h.deps.ids.gid(), team_gid: gid, user_gid: m.who.gid, is_limited_access: m.limited ?? false, created_at: now }).execute();
  return gid;
}

async function makeProject(token: string, data: Record<string, unknown>): Promise<any> {
  const res = await post(token, '/projects', { workspace: w.org.gid, name: 'Project', ...data });
  expect(res.status).toBe(201);
  return res.body.data;
}

/** Every item of a list, following next_page.offset. */
async function walk(token: string, path: string, limit: number): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let offset: string | undefined;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await get(token, `${path}${sep}limit=${limit}${offset ? `&offset=${offset}` : ''}`);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    items.push(...res.body.data);
    offset = res.body.next_page?.offset;
    pages++;
    expect(pages).toBeLessThan(100);
  } while (offset);
  return { items, pages };
}

beforeAll(async () => {
  // On the Data API stand-in: the production engine's parameter binding rules (dates, timestamps, doubles in cursors).
  h = await identityHarness({ engine: 'data-api', extraRoutes: [...projectRoutes, ...sectionRoutes] });
  w = await organizationWithRoles(h, 'Acme');
  other = await organizationWithRoles(h, 'Other');
  teamMember = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Tess Team' });
  limited = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Lim Ited' });
  loner = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Lone R' });
  team = await makeTeam('Engineering', [{ who: teamMember }, { who: limited, limited: true }, { who: w.member }]);
  secretTeam = await makeTeam('Secret', [{ who: teamMember }], 'secret');
});
afterAll(async () => h?.close());

describe('creating and reading projects', () => {
  test('POST /projects answers 201 with the full Asana representation; the creator is owner and member', async () => {
    const res = await post(w.member.token, '/projects', {
      workspace: w.org.gid,
      name: '  Launch  ',
      notes: 'Ship <it> & celebrate',
      due_on: '2026-03-31',
      start_on: '2026-03-01',
      color: 'dark-green',
      default_view: 'board',
    });
    expect(res.status).toBe(201);
    const p = res.body.data;
    expect(p).toMatchObject({
      resource_type: 'project',
      name: 'Launch',
      notes: 'Ship <it> & celebrate',
      due_on: '2026-03-31',
      due_date: '2026-03-31',
      start_on: '2026-03-01',
      color: 'dark-green',
      default_view: 'board',
      archived: false,
      completed: false,
      completed_at: null,
      privacy_setting: 'public_to_workspace',
      public: true,
      owner: { gid: w.member.gid, resource_type: 'user', name: w.member.name },
      members: [{ gid: w.member.gid, resource_type: 'user', name: w.member.name }],
      followers: [],
      team: null,
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Acme' },
      current_status: null,
      current_status_update: null,
      custom_field_settings: [],
    });
    expect(p.gid).toMatch(/^\d+$/);
    expect(p.permalink_url).toContain(p.gid);
    expect(new Date(p.created_at).toISOString()).toBe(p.created_at);
    expect(p.modified_at).toBe(p.created_at);
    expect(p.html_notes).toBeUndefined();
    const again = await get(w.member.token, `/projects/${p.gid}`);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(p);
  });

  test('opt_fields projects the answer and opts in to html_notes', async () => {
    const p = await makeProject(w.member.token, { notes: 'a < b' });
    const res = await get(w.member.token, `/projects/${p.gid}?opt_fields=name,html_notes,owner.name`);
    expect(res.body.data).toEqual({ gid: p.gid, resource_type: 'project', name: 'Project', html_notes: '<body>a &lt; b</body>', owner: { gid: w.member.gid, resource_type: 'user', name: w.member.name } });
  });

  test('POST /teams/{team}/projects and POST /workspaces/{ws}/projects; followers and members at creation', async () => {
    const inTeam = await post(w.member.token, `/teams/${team}/projects`, { name: 'Team project', privacy_setting: 'private_to_team', followers: `${teamMember.gid}`, members: [loner.email] });
    expect(inTeam.status).toBe(201);
    expect(inTeam.body.data.team).toEqual({ gid: team, resource_type: 'team', name: 'Engineering' });
    expect(inTeam.body.data.privacy_setting).toBe('private_to_team');
    expect(inTeam.body.data.public).toBe(false);
    expect(inTeam.body.data.followers.map((f: any) => f.gid)).toEqual([teamMember.gid]);
    expect(inTeam.body.data.members.map((m: any) => m.gid).sort()).toEqual([w.member.gid, teamMember.gid, loner.gid].sort());
    const inWorkspace = await post(w.member.token, `/workspaces/${w.org.gid}/projects`, { name: 'Workspace project', owner: null });
    expect(inWorkspace.status).toBe(201);
    expect(inWorkspace.body.data).toMatchObject({ owner: null, team: null, workspace: { gid: w.org.gid } });
  });

  test('a project needs a workspace or a team; a team of another workspace is refused', async () => {
    const none = await post(w.member.token, '/projects', { name: 'Nowhere' });
    expect(none.status).toBe(400);
    expect(messages(none).join()).toContain('data.workspace');
    const mismatch = await post(w.member.token, '/projects', { name: 'X', team, workspace: other.org.gid });
    expect(mismatch.status).toBe(400);
    expect(messages(mismatch).join()).toContain('data.team');
    const foreign = await post(other.member.token, `/teams/${team}/projects`, { name: 'Sneaky' });
    expect(foreign.status).toBe(404);
  });

  test('guests create projects only in teams they belong to; nobody in a secret team they are not in', async () => {
    const guestNoTeam = await post(w.guest.token, '/projects', { workspace: w.org.gid, name: 'Guest project' });
    expect(guestNoTeam.status).toBe(403);
    const memberSecret = await post(w.member.token, `/teams/${secretTeam}/projects`, { name: 'Not mine' });
    expect(memberSecret.status).toBe(404);
    const insider = await post(teamMember.token, `/teams/${secretTeam}/projects`, { name: 'Mine' });
    expect(insider.status).toBe(201);
  });

  test('bad input answers 400 naming the failing fields', async () => {
    const res = await post(w.member.token, '/projects', { workspace: w.org.gid, due_on: '2026-02-30', privacy_setting: 'everyone', color: 'chartreuse' });
    expect(res.status).toBe(400);
    const text = messages(res).join('\n');
    expect(text).toContain('data.name');
    expect(text).toContain('data.due_on');
    expect(text).toContain('data.privacy_setting');
    expect(text).toContain('data.color');
    const noTeam = await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'X', privacy_setting: 'private_to_team' });
    expect(noTeam.status).toBe(400);
    expect(messages(noTeam)).toEqual(['data.privacy_setting: private_to_team needs a team']);
    const badOwner = await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'X', owner: other.member.gid });
    expect(badOwner.status).toBe(400);
    expect(messages(badOwner).join()).toContain('data.owner');
    const badMembers = await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'X', members: 'me,not-a-user' });
    expect(badMembers.status).toBe(400);
    expect(messages(badMembers).join()).toContain('data.members');
    const startAfterDue = await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'X', due_on: '2026-01-01', start_on: '2026-02-01' });
    expect(startAfterDue.status).toBe(400);
    expect(messages(startAfterDue).join()).toContain('data.start_on');
    expect((await get(w.member.token, '/projects/not-a-gid')).status).toBe(400);
    expect((await get(undefined, `/projects/${(await makeProject(w.member.token, {})).gid}`)).status).toBe(401);
  });
});

describe('who sees which project', () => {
  let pub: string;
  let teamOnly: string;
  let priv: string;
  let privTeam: string;
  beforeAll(async () => {
    pub = (await makeProject(w.member.token, { name: 'Public' })).gid;
    teamOnly = (await makeProject(teamMember.token, { name: 'Team only', team, privacy_setting: 'private_to_team' })).gid;
    priv = (await makeProject(loner.token, { name: 'Private', privacy_setting: 'private' })).gid;
    privTeam = (await makeProject(teamMember.token, { name: 'Private in team', team, privacy_setting: 'private' })).gid;
  });

  const status = async (who: Person, gid: string) => (await get(who.token, `/projects/${gid}`)).status;

  test('public_to_workspace: every full member and admin, not guests, not other organizations', async () => {
    for (const who of [w.member, w.admin, w.superAdmin, loner, limited]) expect(await status(who, pub)).toBe(200);
    expect(await status(w.guest, pub)).toBe(404);
    expect(await status(other.member, pub)).toBe(404);
    expect(await status(other.superAdmin, pub)).toBe(404);
  });

  test("private_to_team: the team's full members, not limited-access members (until added), not others", async () => {
    expect(await status(teamMember, teamOnly)).toBe(200);
    expect(await status(w.member, teamOnly)).toBe(200);
    expect(await status(limited, teamOnly)).toBe(404);
    expect(await status(loner, teamOnly)).toBe(404);
    expect(await status(w.admin, teamOnly)).toBe(404);
    expect(await status(w.guest, teamOnly)).toBe(404);
    const added = await post(teamMember.token, `/projects/${teamOnly}/addMembers`, { members: limited.gid });
    expect(added.status).toBe(200);
    expect(await status(limited, teamOnly)).toBe(200);
  });

  test('private: only its members; organization admins and super admins are not exempt', async () => {
    expect(await status(loner, priv)).toBe(200);
    for (const who of [w.member, w.admin, w.superAdmin, teamMember, w.guest]) expect(await status(who, priv)).toBe(404);
    expect(await status(teamMember, privTeam)).toBe(200);
    expect(await status(w.member, privTeam)).toBe(404);
  });

  test('guests see exactly the projects they were added to', async () => {
    const before = await walk(w.guest.token, `/workspaces/${w.org.gid}/projects`, 100);
    expect(before.items).toEqual([]);
    expect((await post(loner.token, `/projects/${priv}/addMembers`, { members: [w.guest.email] })).status).toBe(200);
    expect(await status(w.guest, priv)).toBe(200);
    const after = await walk(w.guest.token, `/workspaces/${w.org.gid}/projects`, 100);
    expect(after.items.map((p) => p.gid)).toEqual([priv]);
    expect((await post(loner.token, `/projects/${priv}/removeMembers`, { members: w.guest.gid })).status).toBe(200);
    expect(await status(w.guest, priv)).toBe(404);
  });

  test('lists never include projects the caller cannot see', async () => {
    const adminList = (await walk(w.admin.token, `/workspaces/${w.org.gid}/projects`, 100)).items.map((p) => p.gid);
    expect(adminList).toContain(pub);
    expect(adminList).not.toContain(teamOnly);
    expect(adminList).not.toContain(priv);
    expect(adminList).not.toContain(privTeam);
    const teamList = (await walk(teamMember.token, `/teams/${team}/projects`, 100)).items.map((p) => p.gid);
    expect(teamList).toContain(teamOnly);
    expect(teamList).toContain(privTeam);
    expect(teamList).not.toContain(pub);
    const memberTeamList = (await walk(w.member.token, `/teams/${team}/projects`, 100)).items.map((p) => p.gid);
    expect(memberTeamList).toContain(teamOnly);
    expect(memberTeamList).not.toContain(privTeam);
    expect((await get(other.member.token, `/workspaces/${w.org.gid}/projects`)).status).toBe(404);
    expect((await get(other.member.token, `/teams/${team}/projects`)).status).toBe(404);
    expect((await get(w.member.token, `/teams/${secretTeam}/projects`)).status).toBe(404);
  });
});

describe('listing', () => {
  let listOrg: Awaited<ReturnType<typeof organizationWithRoles>>;
  let made: string[];
  beforeAll(async () => {
    listOrg = await organizationWithRoles(h, 'Listing');
    made = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(listOrg.member.token, '/projects', { workspace: listOrg.org.gid, name: `P${i}`, archived: i === 4 });
      made.push(res.body.data.gid);
    }
    // One the member cannot see.
    await post(listOrg.admin.token, '/projects', { workspace: listOrg.org.gid, name: 'Hidden', privacy_setting: 'private' });
  });

  test('limit/offset pages with next_page cover every visible project exactly once, in gid order', async () => {
    const first = await get(listOrg.member.token, `/workspaces/${listOrg.org.gid}/projects?limit=2`);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_page).toMatchObject({ offset: expect.any(String), path: expect.stringContaining(`/workspaces/${listOrg.org.gid}/projects?limit=2&offset=`), uri: expect.stringContaining('https://') });
    expect(first.body.data[0]).toEqual({ gid: expect.any(String), resource_type: 'project', name: expect.stringMatching(/^P\d$/) });
    const all = await walk(listOrg.member.token, `/workspaces/${listOrg.org.gid}/projects`, 2);
    expect(all.pages).toBe(3);
    const gids = all.items.map((p) => p.gid);
    expect(gids).toEqual([...made].sort());
    expect(new Set(gids).size).toBe(5);
  });

  test('archived filters; GET /projects by workspace, by team, and for a one-organization user without either', async () => {
    const archived = await get(listOrg.member.token, `/workspaces/${listOrg.org.gid}/projects?archived=true`);
    expect(archived.body.data.map((p: any) => p.gid)).toEqual([made[4]]);
    const live = await get(listOrg.member.token, `/projects?workspace=${listOrg.org.gid}&archived=false`);
    expect(live.body.data.map((p: any) => p.gid).sort()).toEqual(made.slice(0, 4).sort());
    const implicit = await get(listOrg.member.token, '/projects');
    expect(implicit.status).toBe(200);
    expect(implicit.body.data).toHaveLength(5);
    const byTeam = await get(w.member.token, `/projects?team=${team}`);
    expect(byTeam.status).toBe(200);
    expect(byTeam.body.data.length).toBeGreaterThan(0);
    const wrongWorkspace = await get(w.member.token, `/projects?team=${team}&workspace=${listOrg.org.gid}`);
    expect(wrongWorkspace.status).toBe(400);
    const badArchived = await get(listOrg.member.token, `/projects?workspace=${listOrg.org.gid}&archived=maybe`);
    expect(badArchived.status).toBe(400);
    expect(messages(badArchived).join()).toContain('query.archived');
  });

  test('lists are compact by default and full with opt_fields', async () => {
    const res = await get(listOrg.member.token, `/workspaces/${listOrg.org.gid}/projects?limit=1&opt_fields=name,archived,owner`);
    expect(res.body.data[0]).toEqual({ gid: expect.any(String), resource_type: 'project', name: expect.any(String), archived: expect.any(Boolean), owner: { gid: listOrg.member.gid, resource_type: 'user', name: listOrg.member.name } });
    expect(res.body.next_page.path).toContain('opt_fields=name%2Carchived%2Cowner');
  });

  test('an offset that is not ours answers 400', async () => {
    const res = await get(listOrg.member.token, `/workspaces/${listOrg.org.gid}/projects?offset=garbage!`);
    expect(res.status).toBe(400);
  });
});

describe('updating and deleting', () => {
  test('PUT changes fields, keeps modified_at current and round-trips dates as YYYY-MM-DD', async () => {
    const p = await makeProject(w.member.token, { due_on: '2026-05-01' });
    h.clock.advance(60_000);
    const res = await put(w.member.token, `/projects/${p.gid}`, { name: 'Renamed', notes: 'New notes', start_on: '2026-04-15', due_on: '2026-05-20', color: 'light-blue', archived: true, default_view: 'calendar' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Renamed', notes: 'New notes', start_on: '2026-04-15', due_on: '2026-05-20', due_date: '2026-05-20', color: 'light-blue', archived: true, default_view: 'calendar' });
    expect(new Date(res.body.data.modified_at).getTime()).toBe(new Date(p.modified_at).getTime() + 60_000);
    expect(res.body.data.created_at).toBe(p.created_at);
    const cleared = await put(w.member.token, `/projects/${p.gid}`, { due_date: null, start_on: null });
    expect(cleared.body.data).toMatchObject({ due_on: null, due_date: null, start_on: null });
    const badDates = await put(w.member.token, `/projects/${p.gid}`, { due_on: '2026-01-01', start_on: '2026-06-01' });
    expect(badDates.status).toBe(400);
    expect(messages(badDates).join()).toContain('data.start_on');
  });

  test('privacy, legacy public, owner, team and completion', async () => {
    const p = await makeProject(w.member.token, {});
    const priv = await put(w.member.token, `/projects/${p.gid}`, { public: false });
    expect(priv.body.data).toMatchObject({ privacy_setting: 'private', public: false });
    const moved = await put(w.member.token, `/projects/${p.gid}`, { team, privacy_setting: 'private_to_team', owner: teamMember.email });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ team: { gid: team }, privacy_setting: 'private_to_team', owner: { gid: teamMember.gid } });
    expect(moved.body.data.members.map((m: any) => m.gid)).toContain(teamMember.gid);
    const done = await put(w.member.token, `/projects/${p.gid}`, { completed: true });
    expect(done.body.data.completed).toBe(true);
    expect(done.body.data.completed_at).toBe(h.deps.clock.now().toISOString());
    const secret = await put(w.member.token, `/projects/${p.gid}`, { team: secretTeam });
    expect(secret.status).toBe(404);
  });

  test('visible but not editable answers 403; invisible answers 404', async () => {
    const p = await makeProject(teamMember.token, { team, privacy_setting: 'private_to_team' });
    // w.member is a full member of the team: sees it, but is neither owner nor an editor.
    expect((await get(w.member.token, `/projects/${p.gid}`)).status).toBe(200);
    expect((await put(w.member.token, `/projects/${p.gid}`, { name: 'Mine now' })).status).toBe(403);
    expect((await del(w.member.token, `/projects/${p.gid}`)).status).toBe(403);
    expect((await put(loner.token, `/projects/${p.gid}`, { name: 'Mine now' })).status).toBe(404);
    expect((await put(other.admin.token, `/projects/${p.gid}`, { name: 'Mine now' })).status).toBe(404);
    expect((await get(teamMember.token, `/projects/${p.gid}`)).body.data.name).toBe('Project');
  });

  test('DELETE is soft: the project vanishes from GET, lists, memberships, statuses and sections', async () => {
    const p = await makeProject(w.member.token, { name: 'Doomed' });
    const status = await post(w.member.token, '/status_updates', { parent: p.gid, text: 'fine', status_type: 'on_track' });
    const section = await post(w.member.token, `/projects/${p.gid}/sections`, { name: 'Col' });
    const memberships = await get(w.member.token, `/projects/${p.gid}/project_memberships`);
    const res = await del(w.member.token, `/projects/${p.gid}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: {} });
    expect((await get(w.member.token, `/projects/${p.gid}`)).status).toBe(404);
    const list = await walk(w.member.token, `/workspaces/${w.org.gid}/projects`, 100);
    expect(list.items.map((x) => x.gid)).not.toContain(p.gid);
    expect((await get(w.member.token, `/status_updates/${status.body.data.gid}`)).status).toBe(404);
    expect((await get(w.member.token, `/sections/${section.body.data.gid}`)).status).toBe(404);
    expect((await get(w.member.token, `/project_memberships/${memberships.body.data[0].gid}`)).status).toBe(404);
    expect((await del(w.member.token, `/projects/${p.gid}`)).status).toBe(404);
    const row = await h.engine.db.selectFrom('projects').select('deleted_at').where('gid', '=', p.gid).executeTakeFirstOrThrow();
    expect(row.deleted_at).toBeInstanceOf(Date);
  });
});

describe('members and followers', () => {
  test('addMembers takes a comma-separated string or an array of gids, emails and "me"; removeMembers takes them away', async () => {
    const p = await makeProject(w.member.token, { privacy_setting: 'private' });
    const added = await post(w.member.token, `/projects/${p.gid}/addMembers`, { members: `${loner.gid}, ${limited.email}` });
    expect(added.status).toBe(200);
    expect(added.body.data.members.map((m: any) => m.gid).sort()).toEqual([w.member.gid, loner.gid, limited.gid].sort());
    expect((await get(loner.token, `/projects/${p.gid}`)).status).toBe(200);
    const again = await post(w.member.token, `/projects/${p.gid}/addMembers`, { members: [loner.gid, 'me'] });
    expect(again.body.data.members).toHaveLength(3);
    const removed = await post(w.member.token, `/projects/${p.gid}/removeMembers`, { members: [loner.gid] });
    expect(removed.body.data.members.map((m: any) => m.gid)).not.toContain(loner.gid);
    expect((await get(loner.token, `/projects/${p.gid}`)).status).toBe(404);
  });

  test('followers are a subset of members; removing a member removes the follower', async () => {
    const p = await makeProject(w.member.token, { privacy_setting: 'private' });
    const followed = await post(w.member.token, `/projects/${p.gid}/addFollowers`, { followers: loner.gid });
    expect(followed.status).toBe(200);
    expect(followed.body.data.followers.map((f: any) => f.gid)).toEqual([loner.gid]);
    expect(followed.body.data.members.map((m: any) => m.gid)).toContain(loner.gid);
    const unfollowed = await post(w.member.token, `/projects/${p.gid}/removeFollowers`, { followers: [loner.gid] });
    expect(unfollowed.body.data.followers).toEqual([]);
    expect(unfollowed.body.data.members.map((m: any) => m.gid)).toContain(loner.gid);
    await post(w.member.token, `/projects/${p.gid}/addFollowers`, { followers: loner.gid });
    const gone = await post(w.member.token, `/projects/${p.gid}/removeMembers`, { members: loner.gid });
    expect(gone.body.data.followers).toEqual([]);
    expect(gone.body.data.members.map((m: any) => m.gid)).not.toContain(loner.gid);
  });

  test('changing members needs edit rights (403), except removing yourself; bad users are 400 with the field', async () => {
    const p = await makeProject(teamMember.token, { team, privacy_setting: 'private_to_team' });
    expect((await post(w.member.token, `/projects/${p.gid}/addMembers`, { members: w.member.gid })).status).toBe(403);
    expect((await post(w.member.token, `/projects/${p.gid}/addFollowers`, { followers: 'me' })).status).toBe(403);
    await post(teamMember.token, `/projects/${p.gid}/addFollowers`, { followers: w.guest.gid });
    await h.engine.db.updateTable('project_memberships').set({ access_level: 'viewer' }).where('project_gid', '=', p.gid).where('user_gid', '=', w.guest.gid).execute();
    expect((await post(w.guest.token, `/projects/${p.gid}/removeFollowers`, { followers: teamMember.gid })).status).toBe(403);
    const leave = await post(w.guest.token, `/projects/${p.gid}/removeMembers`, { members: 'me' });
    expect(leave.status).toBe(200);
    expect((await get(w.guest.token, `/projects/${p.gid}`)).status).toBe(404);
    const stranger = await post(teamMember.token, `/projects/${p.gid}/addMembers`, { members: other.member.gid });
    expect(stranger.status).toBe(400);
    expect(messages(stranger).join()).toContain('data.members');
    const empty = await post(teamMember.token, `/projects/${p.gid}/addMembers`, { members: ' , ' });
    expect(empty.status).toBe(400);
    const missing = await post(teamMember.token, `/projects/${p.gid}/addMembers`, {});
    expect(missing.status).toBe(400);
    expect(messages(missing).join()).toContain('data.members');
  });

  test('addMembers changes modified_at', async () => {
    const p = await makeProject(w.member.token, {});
    h.clock.advance(5_000);
    const res = await post(w.member.token, `/projects/${p.gid}/addMembers`, { members: loner.gid });
    expect(new Date(res.body.data.modified_at).getTime() - new Date(p.modified_at).getTime()).toBe(5_000);
  });

  test('project memberships: list (compact, filtered by user, paginated) and GET one', async () => {
    const p = await makeProject(w.member.token, { privacy_setting: 'private', members: [loner.gid, limited.gid] });
    const list = await walk(w.member.token, `/projects/${p.gid}/project_memberships`, 2);
    expect(list.pages).toBe(2);
    expect(list.items).toHaveLength(3);
    const creator = list.items.find((m) => m.member.gid === w.member.gid);
    expect(creator).toEqual({ gid: expect.any(String), resource_type: 'project_membership', member: { gid: w.member.gid, resource_type: 'user', name: w.member.name }, access_level: 'admin' });
    const filtered = await get(w.member.token, `/projects/${p.gid}/project_memberships?user=${encodeURIComponent(loner.email)}`);
    expect(filtered.body.data).toHaveLength(1);
    expect(filtered.body.data[0]).toMatchObject({ member: { gid: loner.gid }, access_level: 'editor' });
    const one = await get(loner.token, `/project_memberships/${filtered.body.data[0].gid}`);
    expect(one.status).toBe(200);
    expect(one.body.data).toEqual({
      gid: filtered.body.data[0].gid,
      resource_type: 'project_membership',
      member: { gid: loner.gid, resource_type: 'user', name: loner.name },
      access_level: 'editor',
      parent: { gid: p.gid, resource_type: 'project', name: 'Project' },
      user: { gid: loner.gid, resource_type: 'user', name: loner.name },
      project: { gid: p.gid, resource_type: 'project', name: 'Project' },
      write_access: 'full_write',
    });
    expect((await get(w.admin.token, `/project_memberships/${filtered.body.data[0].gid}`)).status).toBe(404);
    expect((await get(w.admin.token, `/projects/${p.gid}/project_memberships`)).status).toBe(404);
    const full = await get(w.member.token, `/projects/${p.gid}/project_memberships?opt_fields=parent,write_access`);
    expect(full.body.data[0]).toEqual({ gid: expect.any(String), resource_type: 'project_membership', parent: { gid: p.gid, resource_type: 'project', name: 'Project' }, write_access: 'full_write' });
  });
});

describe('status updates (both APIs, one table)', () => {
  test('a legacy project status is a status update and the other way round; colors map to status types', async () => {
    const p = await makeProject(w.member.token, {});
    const legacy = await post(w.member.token, `/projects/${p.gid}/project_statuses`, { title: 'Week 1', text: 'Slipping', color: 'yellow' });
    expect(legacy.status).toBe(201);
    expect(legacy.body.data).toMatchObject({ resource_type: 'project_status', title: 'Week 1', text: 'Slipping', color: 'yellow', author: { gid: w.member.gid }, created_by: { gid: w.member.gid } });
    const asUpdate = await get(w.member.token, `/status_updates/${legacy.body.data.gid}`);
    expect(asUpdate.body.data).toMatchObject({ gid: legacy.body.data.gid, resource_type: 'status_update', resource_subtype: 'project_status_update', status_type: 'at_risk', title: 'Week 1', parent: { gid: p.gid, resource_type: 'project' }, num_likes: 0, liked: false });
    h.clock.advance(1_000);
    const current = await post(w.member.token, '/status_updates', { parent: p.gid, title: 'Week 2', text: 'Back on track', status_type: 'on_track' });
    expect(current.status).toBe(201);
    expect(current.body.data).toMatchObject({ resource_type: 'status_update', status_type: 'on_track', text: 'Back on track' });
    const asLegacy = await get(w.member.token, `/project_statuses/${current.body.data.gid}`);
    expect(asLegacy.body.data).toMatchObject({ resource_type: 'project_status', color: 'green', title: 'Week 2' });
    for (const [type, color] of [['off_track', 'red'], ['on_hold', 'blue']] as const) {
      const s = await post(w.member.token, '/status_updates', { parent: p.gid, text: type, status_type: type });
      expect((await get(w.member.token, `/project_statuses/${s.body.data.gid}`)).body.data.color).toBe(color);
    }
  });

  test('current_status is the latest; lists are newest first and paginate; deleting falls back', async () => {
    const p = await makeProject(w.member.token, {});
    const gids: string[] = [];
    for (const [i, t] of (['on_track', 'at_risk', 'off_track'] as const).entries()) {
      h.clock.advance(1_000);
      gids.push((await post(w.member.token, '/status_updates', { parent: p.gid, title: `S${i}`, text: '', status_type: t })).body.data.gid);
    }
    const project = await get(w.member.token, `/projects/${p.gid}`);
    expect(project.body.data.current_status).toMatchObject({ gid: gids[2], color: 'red', title: 'S2' });
    expect(project.body.data.current_status_update).toEqual({ gid: gids[2], resource_type: 'status_update', title: 'S2', resource_subtype: 'project_status_update' });
    const legacyList = await walk(w.member.token, `/projects/${p.gid}/project_statuses`, 2);
    expect(legacyList.items).toEqual([2, 1, 0].map((i) => ({ gid: gids[i], resource_type: 'project_status', title: `S${i}` })));
    const updates = await walk(w.member.token, `/status_updates?parent=${p.gid}`, 2);
    expect(updates.pages).toBe(2);
    expect(updates.items.map((s) => s.gid)).toEqual([gids[2], gids[1], gids[0]]);
    expect(updates.items[0]).toEqual({ gid: gids[2], resource_type: 'status_update', title: 'S2', resource_subtype: 'project_status_update' });
    const since = new Date(h.deps.clock.now().getTime() - 1_500).toISOString();
    const recent = await get(w.member.token, `/status_updates?parent=${p.gid}&created_since=${encodeURIComponent(since)}`);
    expect(recent.body.data.map((s: any) => s.gid)).toEqual([gids[2], gids[1]]);
    expect((await del(w.member.token, `/status_updates/${gids[2]}`)).status).toBe(200);
    expect((await get(w.member.token, `/status_updates/${gids[2]}`)).status).toBe(404);
    expect((await del(w.member.token, `/project_statuses/${gids[1]}`)).status).toBe(200);
    expect((await get(w.member.token, `/project_statuses/${gids[1]}`)).status).toBe(404);
    expect((await get(w.member.token, `/projects/${p.gid}`)).body.data.current_status.gid).toBe(gids[0]);
    const full = await get(w.member.token, `/status_updates?parent=${p.gid}&opt_fields=status_type,html_text`);
    expect(full.body.data).toEqual([{ gid: gids[0], resource_type: 'status_update', status_type: 'on_track', html_text: '<body></body>' }]);
  });

  test('a complete status marks the project complete', async () => {
    const p = await makeProject(w.member.token, {});
    await post(w.member.token, `/projects/${p.gid}/project_statuses`, { text: 'Done!', color: 'complete' });
    const res = await get(w.member.token, `/projects/${p.gid}`);
    expect(res.body.data).toMatchObject({ completed: true, completed_at: h.deps.clock.now().toISOString(), current_status: { color: 'complete' } });
  });

  test('statuses follow the project: 404 where it is invisible, 403 to post without edit rights; bad input 400', async () => {
    const p = await makeProject(teamMember.token, { team, privacy_setting: 'private_to_team' });
    const s = await post(teamMember.token, '/status_updates', { parent: p.gid, text: 'ok', status_type: 'on_track' });
    expect(s.status).toBe(201);
    expect((await get(loner.token, `/status_updates/${s.body.data.gid}`)).status).toBe(404);
    expect((await get(w.admin.token, `/project_statuses/${s.body.data.gid}`)).status).toBe(404);
    expect((await get(other.member.token, `/status_updates?parent=${p.gid}`)).status).toBe(404);
    expect((await get(w.guest.token, `/projects/${p.gid}/project_statuses`)).status).toBe(404);
    expect((await post(loner.token, '/status_updates', { parent: p.gid, text: 'hi', status_type: 'on_track' })).status).toBe(404);
    expect((await get(w.member.token, `/status_updates/${s.body.data.gid}`)).status).toBe(200);
    expect((await post(w.member.token, '/status_updates', { parent: p.gid, text: 'hi', status_type: 'on_track' })).status).toBe(403);
    expect((await del(w.member.token, `/status_updates/${s.body.data.gid}`)).status).toBe(403);
    const bad = await post(teamMember.token, '/status_updates', { parent: p.gid, status_type: 'achieved' });
    expect(bad.status).toBe(400);
    expect(messages(bad).join('\n')).toContain('data.status_type');
    expect(messages(bad).join('\n')).toContain('data.text');
    const badColor = await post(teamMember.token, `/projects/${p.gid}/project_statuses`, { text: 'x', color: 'purple' });
    expect(badColor.status).toBe(400);
    expect(messages(badColor).join()).toContain('data.color');
    const noParent = await get(teamMember.token, '/status_updates');
    expect(noParent.status).toBe(400);
    expect(messages(noParent).join()).toContain('query.parent');
  });
});

describe('duplicating', () => {
  test('copies settings, sections and tasks in their sections; notes and members only when included', async () => {
    const p = await makeProject(w.member.token, { name: 'Template', notes: 'Read me', color: 'dark-red', members: [loner.gid] });
    const todo = (await post(w.member.token, `/projects/${p.gid}/sections`, { name: 'To do' })).body.data.gid;
    const done = (await post(w.member.token, `/projects/${p.gid}/sections`, { name: 'Done' })).body.data.gid;
    const t1 = await post(w.member.token, '/tasks', { name: 'First', notes: 'n1', memberships: [{ project: p.gid, section: todo }] });
    expect(t1.status).toBe(201);
    await post(w.member.token, '/tasks', { name: 'Second', memberships: [{ project: p.gid, section: done }] });
    const res = await post(w.member.token, `/projects/${p.gid}/duplicate`, { name: 'Copy', include: 'members,notes,task_notes' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ resource_type: 'job', resource_subtype: 'duplicate_project', status: 'succeeded', new_project: { resource_type: 'project', name: 'Copy' }, new_task: null });
    const copyGid = res.body.data.new_project.gid;
    const copy = (await get(w.member.token, `/projects/${copyGid}`)).body.data;
    expect(copy).toMatchObject({ name: 'Copy', notes: 'Read me', color: 'dark-red', owner: { gid: w.member.gid } });
    expect(copy.members.map((m: any) => m.gid).sort()).toEqual([w.member.gid, loner.gid].sort());
    const sections = (await get(w.member.token, `/projects/${copyGid}/sections`)).body.data;
    expect(sections.map((s: any) => s.name)).toEqual(['To do', 'Done']);
    const todoTasks = (await get(w.member.token, `/sections/${sections[0].gid}/tasks?opt_fields=name,notes`)).body.data;
    expect(todoTasks.map((t: any) => [t.name, t.notes])).toEqual([['First', 'n1']]);
    const doneTasks = (await get(w.member.token, `/sections/${sections[1].gid}/tasks`)).body.data;
    expect(doneTasks.map((t: any) => t.name)).toEqual(['Second']);
    const bare = await post(w.member.token, `/projects/${p.gid}/duplicate`, { name: 'Bare' });
    const bareProject = (await get(w.member.token, `/projects/${bare.body.data.new_project.gid}`)).body.data;
    expect(bareProject.notes).toBe('');
    expect(bareProject.members.map((m: any) => m.gid)).toEqual([w.member.gid]);
    const bad = await post(w.member.token, `/projects/${p.gid}/duplicate`, { name: 'X', include: 'everything' });
    expect(bad.status).toBe(400);
    expect(messages(bad).join()).toContain('data.include');
    expect((await post(w.guest.token, `/projects/${p.gid}/duplicate`, { name: 'X' })).status).toBe(404);
  });
});

describe('the OpenAPI document with these routes', () => {
  test('is valid, names every operation once, and declares list pagination', async () => {
    const mine = [...projectRoutes, ...sectionRoutes];
    const doc = buildOpenApi([...routes.filter((r) => !mine.includes(r)), ...mine], { title: 't', version: '1', description: 'd', serverUrl: '/api/1.0' }) as any;
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    const ids = Object.values(doc.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['getProjects', 'createProject', 'addMembersForProject', 'removeFollowersForProject', 'getStatusesForObject', 'insertSectionForProject', 'addTaskForSection', 'getTasksForSection']) expect(ids).toContain(id);
    const list = doc.paths['/projects/{project_gid}/sections'].get;
    expect(list.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['project_gid', 'limit', 'offset', 'opt_fields']));
    const create = doc.paths['/projects'].post;
    expect(create.requestBody.content['application/json'].schema.properties.data.required).toContain('name');
  });
});
