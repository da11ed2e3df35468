/** Teams and team memberships through the API, with the members/guests access rules. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { canSeeProject } from '../../lambdas/domain/access/policy.js';
import { hashToken } from '../../lambdas/domain/auth/tokens.js';
import { project } from '../support/graph.js';
import { uniqueEmail, type IdentityHarness } from '../support/identity.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
import { callApi, gids, keys, pages as pagesOf, peopleSuite, type RolesWorld } from './people-suite.js';

let h: IdentityHarness;
let w: RolesWorld;
let outsider: Person;
beforeAll(async () => {
  ({ h, w, outsider } = await peopleSuite());
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string, method: string, path: string, data?: unknown) => callApi(h, token, method, path, data);
const get = (token: string, path: string) => api(token, 'GET', path);
const userGids = (items: { user: { gid: string } }[]) => items.map((i) => i.user.gid);
const pages = (token: string, path: string, limit: number) => pagesOf(h, token, path, limit);

/** Creates a team through the API as `creator`; returns its gid. */
async function newTeam(creator: Person, organizationGid: string, init: { name?: string; visibility?: 'public' | 'request_to_join' | 'secret'; description?: string } = {}) {
  const res = await api(creator.token, 'POST', '/teams', { name: init.name ?? `Team ${Math.random().toString(36).slice(2, 8)}`, organization: organizationGid, visibility: init.visibility ?? 'public', ...(init.description ? { description: init.description } : {}) });
  expect(res.status).toBe(201);
  return res.body.data.gid as string;
}

const addUser = (token: string, teamGid: string, data: unknown) => api(token, 'POST', `/teams/${teamGid}/addUser`, data);
const invitationToken = (text: string) => new URL(/(https:\S+accept\S+)/.exec(text)![1]!).searchParams.get('token')!;

describe('creating and reading teams', () => {
  test('a full member creates a team, answered in full, and becomes its member', async () => {
    const res = await api(w.member.token, 'POST', '/teams', { name: 'Marketing', description: 'Launches <and> campaigns', organization: w.org.gid, visibility: 'request_to_join' });
    expect(res.status).toBe(201);
    const t = res.body.data;
    expect(t).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'team',
      name: 'Marketing',
      description: 'Launches <and> campaigns',
      html_description: '<body>Launches &lt;and&gt; campaigns</body>',
      organization: { gid: w.org.gid, resource_type: 'workspace', name: 'Acme' },
      visibility: 'request_to_join',
      permalink_url: `https://tasks.example.test/api/1.0/teams/${t.gid}`,
      created_at: h.deps.clock.now().toISOString(),
      created_by: { gid: w.member.gid, resource_type: 'user', name: w.member.name },
    });
    expect((await get(w.admin.token, `/teams/${t.gid}`)).body.data).toEqual(t);
    const members = await get(w.member.token, `/teams/${t.gid}/team_memberships`);
    expect(members.body.data).toEqual([{ gid: expect.any(String), resource_type: 'team_membership', user: { gid: w.member.gid, resource_type: 'user', name: w.member.name }, team: { gid: t.gid, resource_type: 'team', name: 'Marketing' }, is_guest: false, is_limited_access: false, is_admin: true }]);
    // opt_fields projects the answer.
    expect((await get(w.member.token, `/teams/${t.gid}?opt_fields=name,organization.name`)).body.data).toEqual({ gid: t.gid, resource_type: 'team', name: 'Marketing', organization: { gid: w.org.gid, resource_type: 'workspace', name: 'Acme' } });
  });

  test('html_description is stored as text; visibility defaults to request_to_join', async () => {
    const res = await api(w.admin.token, 'POST', '/teams', { name: 'Ops', html_description: '<body>On call &amp; <strong>alerts</strong></body>', organization: w.org.gid });
    expect(res.body.data).toMatchObject({ description: 'On call & alerts', html_description: '<body>On call &amp; alerts</body>', visibility: 'request_to_join' });
  });

  test("html_description: its text is held to the description's 32,768 characters, whatever the markup weighs", async () => {
    const count = async () => Number((await h.engine.db.selectFrom('teams').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const tooLong = await api(w.admin.token, 'POST', '/teams', { name: 'Long', html_description: `<body>${'a'.repeat(32_769)}</body>`, organization: w.org.gid });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].message).toMatch(/html_description: its text must be at most 32768 characters/);
    expect(await count()).toBe(before);
    const markup = await api(w.admin.token, 'POST', '/teams', { name: 'Marked up', html_description: `<body>${'<b></b>'.repeat(1000)}${'a'.repeat(32_768)}</body>`, organization: w.org.gid });
    expect(markup.status).toBe(201);
    expect(markup.body.data.description).toBe('a'.repeat(32_768));
  });

  test('guests cannot create teams, outsiders get 404, bad input is 400 with field paths and creates nothing', async () => {
    const count = async () => Number((await h.engine.db.selectFrom('teams').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    expect((await api(w.guest.token, 'POST', '/teams', { name: 'Guests', organization: w.org.gid })).status).toBe(403);
    expect((await api(outsider.token, 'POST', '/teams', { name: 'Spies', organization: w.org.gid })).status).toBe(404);
    const noName = await api(w.member.token, 'POST', '/teams', { organization: w.org.gid });
    expect(noName.status).toBe(400);
    expect(noName.body.errors.map((e: { message: string }) => e.message)).toEqual([expect.stringMatching(/^data\.name: /)]);
    const badVisibility = await api(w.member.token, 'POST', '/teams', { name: 'X', organization: w.org.gid, visibility: 'hidden' });
    expect(badVisibility.status).toBe(400);
    expect(badVisibility.body.errors[0].message).toMatch(/^data\.visibility: /);
    const noOrg = await api(w.member.token, 'POST', '/teams', { name: 'X' });
    expect(noOrg.status).toBe(400);
    expect(noOrg.body.errors[0].message).toMatch(/^data\.organization: /);
    expect((await api(w.member.token, 'POST', '/teams', { name: 'x'.repeat(257), organization: w.org.gid })).status).toBe(400);
    expect(await count()).toBe(before);
  });
});

describe('who sees which teams', () => {
  test('members see public and request-to-join teams and their own secret teams; guests only their own; outsiders nothing', async () => {
    const o = await organizationWithRoles(h, 'Visibility');
    const creator = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const pub = await newTeam(creator, o.org.gid, { name: 'pub', visibility: 'public' });
    const rtj = await newTeam(creator, o.org.gid, { name: 'rtj', visibility: 'request_to_join' });
    const secret = await newTeam(creator, o.org.gid, { name: 'secret', visibility: 'secret' });
    const mySecret = await newTeam(o.member, o.org.gid, { name: 'my secret', visibility: 'secret' });
    const guestTeam = await newTeam(creator, o.org.gid, { name: 'with guest', visibility: 'secret' });
    expect((await addUser(creator.token, guestTeam, { user: o.guest.gid })).status).toBe(200);

    const listed = async (p: Person) => new Set(gids((await get(p.token, `/workspaces/${o.org.gid}/teams?limit=100`)).body.data));
    expect(await listed(o.member)).toEqual(new Set([pub, rtj, mySecret]));
    expect(await listed(creator)).toEqual(new Set([pub, rtj, secret, guestTeam]));
    expect(await listed(o.guest)).toEqual(new Set([guestTeam]));
    // Reading secret teams is not an admin power either.
    expect(await listed(o.admin)).toEqual(new Set([pub, rtj]));

    for (const t of [pub, rtj, mySecret]) expect((await get(o.member.token, `/teams/${t}`)).status).toBe(200);
    for (const t of [secret, guestTeam]) expect((await get(o.member.token, `/teams/${t}`)).status).toBe(404);
    expect((await get(o.guest.token, `/teams/${guestTeam}`)).status).toBe(200);
    for (const t of [pub, rtj, secret, mySecret]) expect((await get(o.guest.token, `/teams/${t}`)).status).toBe(404);
    for (const t of [pub, rtj, secret, mySecret, guestTeam]) {
      expect((await get(outsider.token, `/teams/${t}`)).status).toBe(404);
      expect((await get(outsider.token, `/teams/${t}/users`)).status).toBe(404);
      expect((await get(outsider.token, `/teams/${t}/team_memberships`)).status).toBe(404);
      expect((await addUser(outsider.token, t, { user: 'me' })).status).toBe(404);
    }
    expect((await get(outsider.token, `/workspaces/${o.org.gid}/teams`)).status).toBe(404);
    // Everything about a secret team is 404 to non-members, writes included.
    expect((await api(o.member.token, 'PUT', `/teams/${secret}`, { name: 'mine now' })).status).toBe(404);
    expect((await api(o.member.token, 'DELETE', `/teams/${secret}`)).status).toBe(404);
    expect((await addUser(o.member.token, secret, { user: 'me' })).status).toBe(404);
    expect((await get(o.member.token, `/teams/${secret}/users`)).status).toBe(404);
    expect((await get(o.member.token, `/team_memberships?team=${secret}`)).status).toBe(404);
  });

  test('GET /workspaces/{gid}/teams pages by name and never includes invisible or deleted teams; opt_fields gives full teams', async () => {
    const o = await organizationWithRoles(h, 'Paging');
    const visible: string[] = [];
    for (const name of ['e', 'a', 'd', 'b', 'c']) visible.push(await newTeam(o.admin, o.org.gid, { name: `team ${name}`, visibility: name === 'd' ? 'request_to_join' : 'public' }));
    const hidden = await newTeam(o.superAdmin, o.org.gid, { name: 'team aa', visibility: 'secret' });
    const deleted = await newTeam(o.member, o.org.gid, { name: 'team ab', visibility: 'public' });
    expect((await api(o.member.token, 'DELETE', `/teams/${deleted}`)).status).toBe(200);
    const got = await pages(o.member.token, `/workspaces/${o.org.gid}/teams`, 2);
    expect(got.map((p) => p.length)).toEqual([2, 2, 1]);
    const all = got.flat();
    expect(all.map((t) => t.name)).toEqual(['team a', 'team b', 'team c', 'team d', 'team e']);
    for (const t of all) expect(keys(t)).toEqual(['gid', 'name', 'resource_type']);
    expect(gids(all)).not.toContain(hidden);
    expect(gids(all)).not.toContain(deleted);
    const full = await get(o.member.token, `/workspaces/${o.org.gid}/teams?opt_fields=visibility,created_by&limit=1`);
    expect(full.body.data).toEqual([{ gid: visible[1], resource_type: 'team', visibility: 'public', created_by: { gid: o.admin.gid, resource_type: 'user', name: o.admin.name } }]);
    const bad = await get(o.member.token, `/workspaces/${o.org.gid}/teams?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^query\.limit: /);
    expect((await get(o.member.token, `/workspaces/${o.org.gid}/teams?offset=garbage`)).status).toBe(400);
  });

  test("GET /users/{gid}/teams lists a user's teams the caller may see", async () => {
    const o = await organizationWithRoles(h, 'User teams');
    const pub = await newTeam(o.admin, o.org.gid, { name: 'public one' });
    const secret = await newTeam(o.admin, o.org.gid, { name: 'secret one', visibility: 'secret' });
    await newTeam(o.member, o.org.gid, { name: 'not theirs' });
    expect(gids((await get(o.admin.token, `/users/me/teams?organization=${o.org.gid}`)).body.data)).toEqual([pub, secret]);
    expect(gids((await get(o.member.token, `/users/${o.admin.gid}/teams?organization=${o.org.gid}`)).body.data)).toEqual([pub]);
    // A guest cannot see the admin at all.
    expect((await get(o.guest.token, `/users/${o.admin.gid}/teams?organization=${o.org.gid}`)).status).toBe(404);
    expect((await get(outsider.token, `/users/${o.admin.gid}/teams?organization=${o.org.gid}`)).status).toBe(404);
    const missing = await get(o.member.token, `/users/${o.admin.gid}/teams`);
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toMatch(/^query\.organization: /);
  });
});

describe('changing and deleting teams', () => {
  test('team members and admins change a team (modified_at moves); other members get 403; guests 403; bad input 400', async () => {
    const o = await organizationWithRoles(h, 'Changes');
    const t = await newTeam(o.member, o.org.gid, { name: 'Before', visibility: 'public' });
    expect((await addUser(o.member.token, t, { user: o.guest.gid })).status).toBe(200);
    const before = await h.engine.db.selectFrom('teams').select('modified_at').where('gid', '=', t).executeTakeFirstOrThrow();
    h.clock.advance(30_000);
    const res = await api(o.member.token, 'PUT', `/teams/${t}`, { name: 'After', description: 'New words', visibility: 'secret' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ gid: t, name: 'After', description: 'New words', html_description: '<body>New words</body>', visibility: 'secret' });
    const after = await h.engine.db.selectFrom('teams').select('modified_at').where('gid', '=', t).executeTakeFirstOrThrow();
    expect(after.modified_at.getTime()).toBeGreaterThan(before.modified_at.getTime());
    const audit = await h.engine.db.selectFrom('audit_log_events').select('details').where('event_type', '=', 'team_privacy_settings_changed').where('resource_gid', '=', t).execute();
    expect(audit).toEqual([{ details: { old_value: 'public', new_value: 'secret' } }]);

    h.clock.advance(1000);
    expect((await api(o.admin.token, 'PUT', `/teams/${t}`, { visibility: 'public' })).status).toBe(404); // secret, and the admin is not in it
    const pub = await newTeam(o.member, o.org.gid, { name: 'Shared' });
    const other = await person(h, { organizationGid: o.org.gid, role: 'member' });
    expect((await api(other.token, 'PUT', `/teams/${pub}`, { name: 'Taken over' })).status).toBe(403);
    expect((await api(o.admin.token, 'PUT', `/teams/${pub}`, { name: 'Renamed by admin' })).body.data.name).toBe('Renamed by admin');
    expect((await api(o.guest.token, 'PUT', `/teams/${t}`, { name: 'Guest rename' })).status).toBe(403);
    expect((await api(outsider.token, 'PUT', `/teams/${pub}`, { name: 'x' })).status).toBe(404);
    const bad = await api(o.member.token, 'PUT', `/teams/${pub}`, { visibility: 'everyone' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.visibility: /);
    const move = await api(o.member.token, 'PUT', `/teams/${pub}`, { organization: outsider.gid });
    expect(move.status).toBe(400);
    expect(move.body.errors[0].message).toMatch(/^data\.organization: /);
    expect((await get(o.member.token, `/teams/${pub}`)).body.data.name).toBe('Renamed by admin');
  });

  test('deleting is for team members and admins; a deleted team vanishes everywhere', async () => {
    const o = await organizationWithRoles(h, 'Deletes');
    const t = await newTeam(o.member, o.org.gid, { name: 'Doomed' });
    const other = await person(h, { organizationGid: o.org.gid, role: 'member' });
    expect((await api(other.token, 'DELETE', `/teams/${t}`)).status).toBe(403);
    const membership = (await get(o.member.token, `/teams/${t}/team_memberships`)).body.data[0].gid;
    const res = await api(o.member.token, 'DELETE', `/teams/${t}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({});
    for (const p of [o.member, o.admin, other]) {
      expect((await get(p.token, `/teams/${t}`)).status).toBe(404);
      expect(gids((await get(p.token, `/workspaces/${o.org.gid}/teams`)).body.data)).not.toContain(t);
    }
    expect((await get(o.member.token, `/team_memberships/${membership}`)).status).toBe(404);
    expect((await get(o.member.token, `/teams/${t}/users`)).status).toBe(404);
    expect((await get(o.member.token, `/users/me/teams?organization=${o.org.gid}`)).body.data).toEqual([]);
    expect((await get(o.member.token, `/users/me/team_memberships?workspace=${o.org.gid}`)).body.data).toEqual([]);
    expect((await api(o.member.token, 'DELETE', `/teams/${t}`)).status).toBe(404);
    expect((await api(o.member.token, 'PUT', `/teams/${t}`, { name: 'Back' })).status).toBe(404);
    // Kept in the database (soft delete).
    const row = await h.engine.db.selectFrom('teams').select('deleted_at').where('gid', '=', t).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
    // Admins may delete a team they are not in.
    const t2 = await newTeam(o.member, o.org.gid, { name: 'Also doomed' });
    expect((await api(o.admin.token, 'DELETE', `/teams/${t2}`)).status).toBe(200);
  });
});

describe('team membership', () => {
  test('addUser by gid, with is_limited_access stored and returned; is_guest for guests; listed and fetched', async () => {
    const o = await organizationWithRoles(h, 'Members');
    const t = await newTeam(o.member, o.org.gid, { name: 'Core', visibility: 'secret' });
    const limited = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const added = await addUser(o.member.token, t, { user: limited.gid, is_limited_access: true });
    expect(added.status).toBe(200);
    expect(added.body.data).toEqual({ gid: expect.any(String), resource_type: 'team_membership', user: { gid: limited.gid, resource_type: 'user', name: limited.name }, team: { gid: t, resource_type: 'team', name: 'Core' }, is_guest: false, is_limited_access: true, is_admin: false });
    const stored = await h.engine.db.selectFrom('team_memberships').select('is_limited_access').where('gid', '=', added.body.data.gid).executeTakeFirstOrThrow();
    expect(stored.is_limited_access).toBe(true);
    expect((await get(limited.token, `/team_memberships/${added.body.data.gid}`)).body.data.is_limited_access).toBe(true);
    const guest = await addUser(o.member.token, t, { user: o.guest.email });
    expect(guest.body.data).toMatchObject({ user: { gid: o.guest.gid }, is_guest: true, is_limited_access: false });

    // Adding again keeps the membership; is_limited_access changes only when given.
    const again = await addUser(o.member.token, t, { user: limited.gid });
    expect(again.body.data).toMatchObject({ gid: added.body.data.gid, is_limited_access: true });
    expect((await addUser(o.member.token, t, { user: limited.gid, is_limited_access: false })).body.data.is_limited_access).toBe(false);

    const users = await get(o.member.token, `/teams/${t}/users`);
    expect(new Set(gids(users.body.data))).toEqual(new Set([o.member.gid, limited.gid, o.guest.gid]));
    for (const u of users.body.data) expect(keys(u)).toEqual(['gid', 'name', 'resource_type']);
    expect((await get(o.member.token, `/teams/${t}/users?opt_fields=email`)).body.data.map((u: { email: string }) => u.email).sort()).toEqual([o.member.email, limited.email, o.guest.email].sort());
    // The guest, though in the team, sees only the people a guest may see.
    expect(gids((await get(o.guest.token, `/teams/${t}/users`)).body.data)).toEqual([o.guest.gid]);
    expect(userGids((await get(o.guest.token, `/teams/${t}/team_memberships`)).body.data)).toEqual([o.guest.gid]);
    expect((await get(o.guest.token, `/team_memberships/${added.body.data.gid}`)).status).toBe(404);
    expect((await get(o.admin.token, `/team_memberships/${added.body.data.gid}`)).status).toBe(404); // secret team
    expect((await get(o.admin.token, `/users?team=${t}`)).status).toBe(404);
  });

  test('who may add whom: team members and admins; members join public teams themselves; 400 for people not in the workspace', async () => {
    const o = await organizationWithRoles(h, 'Joining');
    const pub = await newTeam(o.superAdmin, o.org.gid, { name: 'Open' });
    const rtj = await newTeam(o.superAdmin, o.org.gid, { name: 'Ask first', visibility: 'request_to_join' });
    const other = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const joined = await addUser(o.member.token, pub, { user: 'me' });
    expect(joined.status).toBe(200);
    expect(joined.body.data.user.gid).toBe(o.member.gid);
    expect((await addUser(o.member.token, rtj, { user: 'me' })).status).toBe(403);
    expect((await addUser(other.token, rtj, { user: o.member.gid })).status).toBe(403);
    // Now a member of the public team, o.member may add others to it.
    expect((await addUser(o.member.token, pub, { user: other.gid })).status).toBe(200);
    // Admins manage teams they are not in (if they can see them).
    expect((await addUser(o.admin.token, rtj, { user: other.gid })).status).toBe(200);
    // Guests cannot add anyone, not even to teams they are in.
    expect((await addUser(o.superAdmin.token, pub, { user: o.guest.gid })).status).toBe(200);
    expect((await addUser(o.guest.token, pub, { user: o.admin.gid })).status).toBe(403);

    const strangerGid = (await get(outsider.token, '/users/me')).body.data.gid;
    const stranger = await addUser(o.superAdmin.token, pub, { user: strangerGid });
    expect(stranger.status).toBe(400);
    expect(stranger.body.errors[0].message).toMatch(/^data\.user: /);
    const bad = await addUser(o.superAdmin.token, pub, { user: 'nobody', is_limited_access: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { message: string }) => e.message.split(':')[0]).sort()).toEqual(['data.is_limited_access', 'data.user']);
    const members = await get(o.superAdmin.token, `/teams/${pub}/team_memberships?limit=100`);
    expect(new Set(userGids(members.body.data))).toEqual(new Set([o.superAdmin.gid, o.member.gid, other.gid, o.guest.gid]));
  });

  test('removeUser: team members and admins remove people, anyone may leave; the removed lose a secret team', async () => {
    const o = await organizationWithRoles(h, 'Leaving');
    const t = await newTeam(o.member, o.org.gid, { name: 'Inner circle', visibility: 'secret' });
    const a = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const b = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const limited = await person(h, { organizationGid: o.org.gid, role: 'member' });
    for (const p of [a, b]) expect((await addUser(o.member.token, t, { user: p.gid })).status).toBe(200);
    expect((await addUser(o.member.token, t, { user: limited.gid, is_limited_access: true })).status).toBe(200);
    // A limited-access member sees the team but cannot manage it.
    expect((await get(limited.token, `/teams/${t}`)).status).toBe(200);
    expect((await api(limited.token, 'POST', `/teams/${t}/removeUser`, { user: a.gid })).status).toBe(403);
    expect((await api(limited.token, 'PUT', `/teams/${t}`, { name: 'x' })).status).toBe(403);

    const removed = await api(a.token, 'POST', `/teams/${t}/removeUser`, { user: b.gid });
    expect(removed.status).toBe(200);
    expect(removed.body.data).toEqual({});
    expect((await get(b.token, `/teams/${t}`)).status).toBe(404);
    expect((await api(a.token, 'POST', `/teams/${t}/removeUser`, { user: 'me' })).status).toBe(200);
    expect((await get(a.token, `/teams/${t}`)).status).toBe(404);
    expect(new Set(userGids((await get(o.member.token, `/teams/${t}/team_memberships`)).body.data))).toEqual(new Set([o.member.gid, limited.gid]));
    const missing = await api(o.member.token, 'POST', `/teams/${t}/removeUser`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toMatch(/^data\.user: /);
  });

  test('team_memberships by team, by user and workspace, per team and per user, in pages; 400 without a filter', async () => {
    const o = await organizationWithRoles(h, 'Memberships');
    const t = await newTeam(o.admin, o.org.gid, { name: 'Big' });
    const people: Person[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await person(h, { organizationGid: o.org.gid, role: 'member' });
      people.push(p);
      h.clock.advance(10);
      expect((await addUser(o.admin.token, t, { user: p.gid })).status).toBe(200);
    }
    const viaQuery = await pages(o.member.token, `/team_memberships?team=${t}`, 2);
    expect(viaQuery.map((p) => p.length)).toEqual([2, 2, 1]);
    // Oldest first: the creator, then in the order added.
    expect(userGids(viaQuery.flat() as never)).toEqual([o.admin.gid, ...gids(people)]);
    const viaTeam = await pages(o.member.token, `/teams/${t}/team_memberships`, 3);
    expect(gids(viaTeam.flat())).toEqual(gids(viaQuery.flat()));
    for (const m of viaTeam.flat()) expect(keys(m)).toEqual(['gid', 'is_admin', 'is_guest', 'is_limited_access', 'resource_type', 'team', 'user']);

    const secret = await newTeam(people[0]!, o.org.gid, { name: 'Hidden', visibility: 'secret' });
    const ofUser = await get(o.member.token, `/team_memberships?user=${people[0]!.gid}&workspace=${o.org.gid}`);
    expect(ofUser.body.data.map((m: { team: { gid: string } }) => m.team.gid)).toEqual([t]);
    const own = await get(people[0]!.token, `/users/me/team_memberships?workspace=${o.org.gid}`);
    expect(own.body.data.map((m: { team: { gid: string } }) => m.team.gid)).toEqual([t, secret]);
    const byEmail = await get(o.member.token, `/users/${encodeURIComponent(people[1]!.email)}/team_memberships?workspace=${o.org.gid}`);
    expect(byEmail.body.data.map((m: { user: { gid: string } }) => m.user.gid)).toEqual([people[1]!.gid]);
    const one = await get(o.member.token, `/team_memberships/${viaQuery[0]![0]!.gid}`);
    expect(one.body.data).toMatchObject({ resource_type: 'team_membership', user: { gid: o.admin.gid }, team: { gid: t, name: 'Big' }, is_admin: true });

    const none = await get(o.member.token, '/team_memberships');
    expect(none.status).toBe(400);
    expect(none.body.errors[0].message).toMatch(/^query\.team: /);
    const userOnly = await get(o.member.token, `/team_memberships?user=${o.admin.gid}`);
    expect(userOnly.status).toBe(400);
    expect(userOnly.body.errors[0].message).toMatch(/^query\.workspace: /);
    const noWorkspace = await get(o.member.token, `/users/${o.admin.gid}/team_memberships`);
    expect(noWorkspace.status).toBe(400);
    expect(noWorkspace.body.errors[0].message).toMatch(/^query\.workspace: /);
    expect((await get(outsider.token, `/team_memberships?user=${o.admin.gid}&workspace=${o.org.gid}`)).status).toBe(404);
    expect((await get(outsider.token, `/team_memberships/${viaQuery[0]![0]!.gid}`)).status).toBe(404);
    expect((await get(o.guest.token, `/team_memberships?user=${o.admin.gid}&workspace=${o.org.gid}`)).status).toBe(404);
    expect((await get(o.member.token, '/team_memberships/12345')).status).toBe(404);
  });

  test('the stored is_limited_access flag is what the access policy reads: limited members get no private_to_team project', async () => {
    const o = await organizationWithRoles(h, 'Limited');
    const t = await newTeam(o.member, o.org.gid, { name: 'Product' });
    const limited = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const full = await person(h, { organizationGid: o.org.gid, role: 'member' });
    expect((await addUser(o.member.token, t, { user: limited.gid, is_limited_access: true })).body.data.is_limited_access).toBe(true);
    expect((await addUser(o.member.token, t, { user: full.gid })).body.data.is_limited_access).toBe(false);
    const p = await project(h, o.org.gid, { team: t, privacy: 'private_to_team' });
    const sees = (u: Person) => canSeeProject(h.engine.db, { userGid: u.gid, organizationGid: o.org.gid, role: 'member' }, p);
    expect(await sees(full)).toBe(true);
    expect(await sees(limited)).toBe(false);
  });
});

describe('adding people who are not in the workspace yet', () => {
  test('an email not in the workspace gets exactly one invitation, carrying the team; accepting joins the workspace', async () => {
    const o = await organizationWithRoles(h, 'Invitations');
    const t = await newTeam(o.member, o.org.gid, { name: 'Design', visibility: 'request_to_join' });
    const email = uniqueEmail('newcomer');
    const res = await addUser(o.admin.token, t, { user: email });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ resource_type: 'invitation', email, role: 'member', team: { gid: t, resource_type: 'team', name: 'Design' }, workspace: { gid: o.org.gid } });
    await h.deliverMail();
    const mails = h.mailTo(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toContain('invited you to Invitations');
    expect(mails[0]!.text).toContain('"Design"');
    const token = invitationToken(mails[0]!.text);
    const row = await h.engine.db.selectFrom('one_time_tokens').select(['team_gid', 'organization_gid', 'role', 'email', 'purpose']).where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow();
    expect(row).toEqual({ team_gid: t, organization_gid: o.org.gid, role: 'member', email, purpose: 'invitation' });
    const audit = await h.engine.db.selectFrom('audit_log_events').select('details').where('event_type', '=', 'user_invited').where('organization_gid', '=', o.org.gid).execute();
    expect(audit).toEqual([{ details: expect.objectContaining({ email, team_gid: t, role: 'member' }) }]);
    // Not a member of anything yet.
    expect(userGids((await get(o.member.token, `/teams/${t}/team_memberships`)).body.data)).toEqual([o.member.gid]);

    const accepted = await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token, name: 'Newcomer', password: 'a fine long passphrase' } } });
    expect(accepted.status).toBe(201);
    expect((await get(accepted.body.data.token, `/workspaces/${o.org.gid}`)).status).toBe(200);
  });

  test('accepting a team invitation also joins the team', async () => {
    const o = await organizationWithRoles(h, 'Team invitations');
    const t = await newTeam(o.member, o.org.gid, { name: 'Research', visibility: 'secret' });
    const email = uniqueEmail('researcher');
    expect((await addUser(o.member.token, t, { user: email })).status).toBe(200);
    await h.deliverMail();
    expect(h.mailTo(email)).toHaveLength(1);
    const accepted = await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token: invitationToken(h.mailTo(email)[0]!.text), name: 'Researcher', password: 'a fine long passphrase' } } });
    expect(accepted.status).toBe(201);
    const newcomer = accepted.body.data.token as string;
    expect((await get(newcomer, `/workspaces/${o.org.gid}`)).status).toBe(200);
    const team = await get(newcomer, `/teams/${t}`);
    expect(team.status).toBe(200);
    const memberships = await get(o.member.token, `/teams/${t}/team_memberships`);
    expect(memberships.body.data.find((m: { user: { gid: string } }) => m.user.gid === accepted.body.data.user.gid)).toMatchObject({ is_limited_access: false, is_guest: true });
  });

  test('members invite only as guests; limited access cannot be promised to strangers; outsiders and non-managers send nothing', async () => {
    const o = await organizationWithRoles(h, 'Guest invites');
    const t = await newTeam(o.member, o.org.gid, { name: 'Partners' });
    const email = uniqueEmail('partner');
    const res = await addUser(o.member.token, t, { user: email });
    expect(res.body.data).toMatchObject({ resource_type: 'invitation', role: 'guest' });
    const limited = await addUser(o.member.token, t, { user: uniqueEmail('limited'), is_limited_access: true });
    expect(limited.status).toBe(400);
    expect(limited.body.errors[0].message).toMatch(/^data\.is_limited_access: /);
    const other = await person(h, { organizationGid: o.org.gid, role: 'member' });
    const quiet = uniqueEmail('quiet');
    expect((await addUser(other.token, t, { user: quiet })).status).toBe(403);
    expect((await addUser(outsider.token, t, { user: quiet })).status).toBe(404);
    await h.deliverMail();
    expect(h.mailTo(email)).toHaveLength(1);
    expect(h.mailTo(quiet)).toHaveLength(0);
    expect(await h.engine.db.selectFrom('one_time_tokens').select('email').where('team_gid', '=', t).execute()).toEqual([{ email }]);
  });
});
