/** Workspaces, users and workspace memberships through the API, with the members/guests access rules. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { project, team } from '../support/graph.js';
import type { IdentityHarness } from '../support/identity.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
import { callApi, gids, keys, pages as pagesOf, peopleSuite, type RolesWorld } from './people-suite.js';

let h: IdentityHarness;
let w: RolesWorld;
/** Someone with an organization of their own and no part in w. */
let outsider: Person;
beforeAll(async () => {
  ({ h, w, outsider } = await peopleSuite());
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string, method: string, path: string, data?: unknown) => callApi(h, token, method, path, data);
const get = (token: string, path: string) => api(token, 'GET', path);
const pages = (token: string, path: string, limit: number) => pagesOf(h, token, path, limit);

/** A fresh organization with one person per role (tests that change membership use their own). */
const freshOrg = (name = 'Fresh') => organizationWithRoles(h, name);

describe('GET /workspaces and /workspaces/{gid}', () => {
  test('lists only your organizations, compact, by name, in keyset pages', async () => {
    const me = await person(h, {});
    const names = ['Delta', 'Alpha', 'Charlie', 'Bravo'];
    const orgGids: string[] = [];
    for (const name of names) {
      const o = await organizations.create(h.engine.db, { gid: h.deps.ids.gid(), name, now: h.deps.clock.now() });
      await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: o.gid, userGid: me.gid, role: 'member', now: h.deps.clock.now() });
      orgGids.push(o.gid);
    }
    // One they were removed from (Delta), one deleted (Charlie): neither is listed.
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: h.deps.clock.now() }).where('organization_gid', '=', orgGids[0]!).where('user_gid', '=', me.gid).execute();
    await h.engine.db.updateTable('organizations').set({ deleted_at: h.deps.clock.now() }).where('gid', '=', orgGids[2]!).execute();
    const echo = await organizations.create(h.engine.db, { gid: h.deps.ids.gid(), name: 'Echo', now: h.deps.clock.now() });
    await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: echo.gid, userGid: me.gid, role: 'guest', now: h.deps.clock.now() });
    const got = await pages(me.token, '/workspaces', 2);
    expect(got.map((p) => p.length)).toEqual([2, 1]);
    const all = got.flat();
    expect(all.map((o) => o.name)).toEqual(['Alpha', 'Bravo', 'Echo']);
    for (const o of all) expect(keys(o)).toEqual(['gid', 'name', 'resource_type']);
    expect(all.every((o) => (o as unknown as { resource_type: string }).resource_type === 'workspace')).toBe(true);
    expect(gids(all)).not.toContain(w.org.gid);

    const full = await get(me.token, '/workspaces?opt_fields=name,is_organization');
    expect(full.body.data[0]).toEqual({ gid: orgGids[1], resource_type: 'workspace', name: 'Alpha', is_organization: true });
    expect(full.body.next_page).toBeNull();
  });

  test('a workspace in full for its members; 404 for everyone else; 400 for a malformed gid', async () => {
    for (const p of [w.superAdmin, w.admin, w.member, w.guest]) {
      const res = await get(p.token, `/workspaces/${w.org.gid}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ gid: w.org.gid, resource_type: 'workspace', name: 'Acme', email_domains: [], is_organization: true });
    }
    expect((await get(outsider.token, `/workspaces/${w.org.gid}`)).status).toBe(404);
    expect((await get(w.member.token, '/workspaces/999999999999')).status).toBe(404);
    const bad = await get(w.member.token, '/workspaces/acme');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^path\.workspace_gid: /);
    expect((await h.call({ path: `/api/1.0/workspaces/${w.org.gid}` })).status).toBe(401);
  });

  test('PUT renames (admins only), moves modified_at and is audited; bad input is 400 with the field path', async () => {
    const o = await freshOrg('Old name');
    const before = await h.engine.db.selectFrom('organizations').select('modified_at').where('gid', '=', o.org.gid).executeTakeFirstOrThrow();
    h.clock.advance(60_000);
    const res = await api(o.admin.token, 'PUT', `/workspaces/${o.org.gid}`, { name: 'New name' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ gid: o.org.gid, name: 'New name', is_organization: true });
    const after = await h.engine.db.selectFrom('organizations').select(['modified_at', 'name']).where('gid', '=', o.org.gid).executeTakeFirstOrThrow();
    expect(after.name).toBe('New name');
    expect(after.modified_at.getTime()).toBeGreaterThan(before.modified_at.getTime());
    const audit = await h.engine.db.selectFrom('audit_log_events').select(['details', 'actor_gid']).where('organization_gid', '=', o.org.gid).where('event_type', '=', 'workspace_name_changed').execute();
    expect(audit).toEqual([{ details: { old_value: 'Old name', new_value: 'New name' }, actor_gid: o.admin.gid }]);

    expect((await api(o.member.token, 'PUT', `/workspaces/${o.org.gid}`, { name: 'Mine' })).status).toBe(403);
    expect((await api(o.guest.token, 'PUT', `/workspaces/${o.org.gid}`, { name: 'Mine' })).status).toBe(403);
    expect((await api(outsider.token, 'PUT', `/workspaces/${o.org.gid}`, { name: 'Mine' })).status).toBe(404);
    const bad = await api(o.admin.token, 'PUT', `/workspaces/${o.org.gid}`, { name: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.name: /);
    expect((await get(o.member.token, `/workspaces/${o.org.gid}`)).body.data.name).toBe('New name');
  });
});

describe('users', () => {
  test('members see every member, by name, compact, in pages; guests see themselves and people on their projects', async () => {
    const o = await freshOrg();
    const extra = await Promise.all(['zed', 'amy', 'mo'].map((name) => person(h, { organizationGid: o.org.gid, role: 'member', name })));
    const everyone = [o.superAdmin, o.admin, o.member, o.guest, ...extra];
    const got = await pages(o.member.token, `/workspaces/${o.org.gid}/users`, 3);
    expect(got.map((p) => p.length)).toEqual([3, 3, 1]);
    const listed = got.flat();
    expect(new Set(gids(listed))).toEqual(new Set(gids(everyone)));
    // By name (in the database's collation), then gid.
    const ordered = await h.engine.db.selectFrom('users').select('gid').where('gid', 'in', gids(everyone)).orderBy('name').orderBy('gid').execute();
    expect(gids(listed)).toEqual(gids(ordered));
    for (const u of listed) expect(keys(u)).toEqual(['gid', 'name', 'resource_type']);

    // The guest: alone, until they share a project with someone.
    expect(gids((await get(o.guest.token, `/workspaces/${o.org.gid}/users`)).body.data)).toEqual([o.guest.gid]);
    await project(h, o.org.gid, { privacy: 'private', members: [{ gid: o.guest.gid }, { gid: extra[0]!.gid }] });
    expect(new Set(gids((await get(o.guest.token, `/workspaces/${o.org.gid}/users`)).body.data))).toEqual(new Set([o.guest.gid, extra[0]!.gid]));

    // A removed member is no longer listed.
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: h.deps.clock.now() }).where('user_gid', '=', extra[1]!.gid).execute();
    expect(gids((await get(o.member.token, `/workspaces/${o.org.gid}/users?limit=100`)).body.data)).not.toContain(extra[1]!.gid);
    expect((await get(outsider.token, `/workspaces/${o.org.gid}/users`)).status).toBe(404);
  });

  test('opt_fields gives the full representation in lists', async () => {
    const res = await get(w.member.token, `/workspaces/${w.org.gid}/users?opt_fields=email,workspaces&limit=100`);
    expect(res.status).toBe(200);
    const admin = res.body.data.find((u: { gid: string }) => u.gid === w.admin.gid);
    expect(admin).toEqual({ gid: w.admin.gid, resource_type: 'user', email: w.admin.email, workspaces: [{ gid: w.org.gid, resource_type: 'workspace', name: 'Acme' }] });
  });

  test('GET /users/{gid} ("me", gid or email) shows only the workspaces you share; invisible users are 404', async () => {
    const o = await freshOrg('Shared');
    // o.member is also in w, which o.admin is not part of.
    await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: w.org.gid, userGid: o.member.gid, role: 'member', now: h.deps.clock.now() });
    const seen = await get(o.admin.token, `/users/${o.member.gid}`);
    expect(seen.status).toBe(200);
    expect(seen.body.data).toEqual({ gid: o.member.gid, resource_type: 'user', name: o.member.name, email: o.member.email, photo: null, workspaces: [{ gid: o.org.gid, resource_type: 'workspace', name: 'Shared' }] });
    const both = await get(w.member.token, `/users/${o.member.gid}`);
    expect(gids(both.body.data.workspaces)).toEqual([w.org.gid]);
    const byEmail = await get(o.admin.token, `/users/${encodeURIComponent(o.member.email)}`);
    expect(byEmail.body.data.gid).toBe(o.member.gid);

    const me = await get(o.member.token, `/users/me?opt_fields=name,workspaces`);
    expect(me.status).toBe(200);
    expect(new Set(gids(me.body.data.workspaces))).toEqual(new Set([o.org.gid, w.org.gid]));
    const meViaGid = await get(o.member.token, `/users/${o.member.gid}`);
    expect(meViaGid.body.data.email).toBe(o.member.email);

    expect((await get(o.guest.token, `/users/${o.member.gid}`)).status).toBe(404);
    expect((await get(o.guest.token, `/users/${o.guest.gid}`)).status).toBe(200);
    expect((await get(outsider.token, `/users/${o.member.gid}`)).status).toBe(404);
    expect((await get(outsider.token, `/users/${encodeURIComponent(o.member.email)}`)).status).toBe(404);
    expect((await get(o.admin.token, '/users/123456789')).status).toBe(404);
    expect((await get(o.admin.token, `/users/${o.member.gid}?workspace=${w.org.gid}`)).status).toBe(404);
    const bad = await get(o.admin.token, '/users/not-a-user');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^path\.user_gid: /);
  });

  test('GET /users filters by workspace or team, and otherwise spans your workspaces', async () => {
    const o = await freshOrg();
    const teamGid = await team(h, o.org.gid, { visibility: 'public', members: [{ gid: o.member.gid }, { gid: o.guest.gid }] });
    const inWorkspace = await get(o.admin.token, `/users?workspace=${o.org.gid}`);
    expect(new Set(gids(inWorkspace.body.data))).toEqual(new Set([o.superAdmin.gid, o.admin.gid, o.member.gid, o.guest.gid]));
    expect(new Set(gids((await get(o.admin.token, `/users?team=${teamGid}`)).body.data))).toEqual(new Set([o.member.gid, o.guest.gid]));
    // A guest on the team still sees only what a guest may see: themselves.
    expect((await get(o.guest.token, `/users?team=${teamGid}`)).body.data.map((u: { gid: string }) => u.gid)).toEqual([o.guest.gid]);
    expect((await get(outsider.token, `/users?team=${teamGid}`)).status).toBe(404);
    expect((await get(outsider.token, `/users?workspace=${o.org.gid}`)).status).toBe(404);
    const mine = await get(outsider.token, '/users?limit=100');
    expect(gids(mine.body.data)).toEqual([outsider.gid]);
    const bad = await get(o.admin.token, '/users?workspace=x');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^query\.workspace: /);
  });
});

describe('workspace memberships', () => {
  test('listed for a workspace (visible users only), one by gid in full, and per user', async () => {
    const o = await freshOrg();
    const list = await get(o.member.token, `/workspaces/${o.org.gid}/workspace_memberships`);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(4);
    for (const m of list.body.data) {
      expect(keys(m)).toEqual(['gid', 'resource_type', 'user', 'workspace']);
      expect(m).toMatchObject({ resource_type: 'workspace_membership', workspace: { gid: o.org.gid, resource_type: 'workspace', name: 'Fresh' } });
    }
    const paged = await pages(o.member.token, `/workspaces/${o.org.gid}/workspace_memberships`, 3);
    expect(paged.map((p) => p.length)).toEqual([3, 1]);
    expect(new Set(gids(paged.flat()))).toEqual(new Set(gids(list.body.data)));

    const guests = await get(o.guest.token, `/workspaces/${o.org.gid}/workspace_memberships`);
    expect(guests.body.data.map((m: { user: { gid: string } }) => m.user.gid)).toEqual([o.guest.gid]);
    const mine = await get(o.member.token, `/workspaces/${o.org.gid}/workspace_memberships?user=me`);
    expect(mine.body.data.map((m: { user: { gid: string } }) => m.user.gid)).toEqual([o.member.gid]);

    const guestMembership = list.body.data.find((m: { user: { gid: string } }) => m.user.gid === o.guest.gid);
    const one = await get(o.member.token, `/workspace_memberships/${guestMembership.gid}`);
    expect(one.status).toBe(200);
    expect(one.body.data).toMatchObject({ gid: guestMembership.gid, resource_type: 'workspace_membership', user: { gid: o.guest.gid }, is_active: true, is_admin: false, is_guest: true, is_view_only: false, user_task_list: null });
    expect(Date.parse(one.body.data.created_at)).not.toBeNaN();
    const adminMembership = list.body.data.find((m: { user: { gid: string } }) => m.user.gid === o.admin.gid);
    expect((await get(o.member.token, `/workspace_memberships/${adminMembership.gid}`)).body.data).toMatchObject({ is_admin: true, is_guest: false });
    // A guest cannot see a member's membership; nobody outside can see any.
    expect((await get(o.guest.token, `/workspace_memberships/${adminMembership.gid}`)).status).toBe(404);
    expect((await get(outsider.token, `/workspace_memberships/${guestMembership.gid}`)).status).toBe(404);
    expect((await get(outsider.token, `/workspaces/${o.org.gid}/workspace_memberships`)).status).toBe(404);

    const forUser = await get(o.admin.token, `/users/${o.member.gid}/workspace_memberships?opt_fields=is_guest,workspace`);
    expect(forUser.body.data).toEqual([{ gid: expect.any(String), resource_type: 'workspace_membership', is_guest: false, workspace: { gid: o.org.gid, resource_type: 'workspace', name: 'Fresh' } }]);
    expect((await get(outsider.token, `/users/${o.member.gid}/workspace_memberships`)).status).toBe(404);
    expect((await get(o.guest.token, `/users/${o.member.gid}/workspace_memberships`)).status).toBe(404);
  });
});

describe('addUser and removeUser', () => {
  test('admins add by email: exactly one invitation email; accepting it joins the workspace', async () => {
    const o = await freshOrg('Invites');
    const email = `New.Person.${Date.now()}@example.com`;
    const res = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: email });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ resource_type: 'invitation', email, role: 'member', workspace: { gid: o.org.gid } });
    await h.deliverMail();
    const mails = h.mailTo(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toContain('invited you to Invites');
    const token = new URL(/(https:\S+accept\S+)/.exec(mails[0]!.text)![1]!).searchParams.get('token')!;
    const accepted = await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token, name: 'New Person', password: 'a fine long passphrase' } } });
    expect(accepted.status).toBe(201);
    const joined = await get(accepted.body.data.token, `/workspaces/${o.org.gid}`);
    expect(joined.status).toBe(200);
    const users = await get(o.member.token, `/workspaces/${o.org.gid}/users?opt_fields=email`);
    expect(users.body.data.map((u: { email: string }) => u.email)).toContain(email);
  });

  test('adding a member answers with the user; gids of strangers, members and guests doing it, and bad bodies are refused', async () => {
    const o = await freshOrg();
    const same = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: o.member.gid });
    expect(same.status).toBe(200);
    expect(same.body.data).toMatchObject({ gid: o.member.gid, resource_type: 'user', email: o.member.email });
    const byEmail = await api(o.superAdmin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: o.guest.email.toUpperCase() });
    expect(byEmail.body.data.gid).toBe(o.guest.gid);
    await h.deliverMail();
    expect(h.mailTo(o.guest.email)).toHaveLength(0);

    const stranger = await get(outsider.token, '/users/me');
    const byGid = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: stranger.body.data.gid });
    expect(byGid.status).toBe(400);
    expect(byGid.body.errors[0].message).toMatch(/^data\.user: /);
    expect((await get(outsider.token, `/workspaces/${o.org.gid}`)).status).toBe(404);

    expect((await api(o.member.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: 'someone@example.com' })).status).toBe(403);
    expect((await api(o.guest.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: 'someone@example.com' })).status).toBe(403);
    expect((await api(outsider.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: 'someone@example.com' })).status).toBe(404);
    await h.deliverMail();
    expect(h.mailTo('someone@example.com')).toHaveLength(0);
    const bad = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: 'not an email' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.user: /);
    const missing = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toMatch(/^data\.user: /);
  });

  test('removal ends access to the workspace, its teams and projects, is audited, and can be undone by addUser', async () => {
    const o = await freshOrg();
    const teamGid = await team(h, o.org.gid, { visibility: 'secret', members: [{ gid: o.member.gid }, { gid: o.admin.gid }] });
    const projectGid = await project(h, o.org.gid, { privacy: 'private', members: [{ gid: o.member.gid }] });
    expect((await get(o.member.token, `/teams/${teamGid}`)).status).toBe(200);

    const res = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.member.email });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({});
    expect((await get(o.member.token, `/workspaces/${o.org.gid}`)).status).toBe(404);
    expect((await get(o.member.token, `/workspaces/${o.org.gid}/users`)).status).toBe(404);
    expect((await get(o.member.token, `/teams/${teamGid}`)).status).toBe(404);
    expect(gids((await get(o.member.token, '/workspaces')).body.data)).not.toContain(o.org.gid);
    expect(gids((await get(o.admin.token, `/workspaces/${o.org.gid}/users?limit=100`)).body.data)).not.toContain(o.member.gid);
    expect((await get(o.admin.token, `/users/${o.member.gid}`)).status).toBe(404);
    const teamRows = await h.engine.db.selectFrom('team_memberships').select('user_gid').where('team_gid', '=', teamGid).execute();
    expect(teamRows.map((r) => r.user_gid)).toEqual([o.admin.gid]);
    expect(await h.engine.db.selectFrom('project_memberships').select('user_gid').where('project_gid', '=', projectGid).execute()).toEqual([]);
    const audit = await get(o.superAdmin.token, `/workspaces/${o.org.gid}/audit_log_events?event_type=user_removed_from_workspace`);
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({ actor: { actor_type: 'user', gid: o.admin.gid }, resource: { resource_type: 'user', gid: o.member.gid }, details: { role: 'member', team_memberships_removed: 1, project_memberships_removed: 1 } });

    const again = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.member.gid });
    expect(again.status).toBe(404);
    const back = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/addUser`, { user: o.member.gid });
    expect(back.status).toBe(200);
    expect(back.body.data.gid).toBe(o.member.gid);
    expect((await get(o.member.token, `/workspaces/${o.org.gid}`)).status).toBe(200);
    // Reinstated as a member, without the old team and project memberships.
    expect((await get(o.member.token, `/teams/${teamGid}`)).status).toBe(404);
  });

  test('only admins remove people; admins cannot remove super admins; the last super admin stays', async () => {
    const o = await freshOrg();
    expect((await api(o.member.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.guest.gid })).status).toBe(403);
    expect((await api(o.guest.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.member.gid })).status).toBe(403);
    expect((await api(outsider.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.member.gid })).status).toBe(404);
    expect((await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.superAdmin.gid })).status).toBe(403);
    expect((await api(o.superAdmin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: 'me' })).status).toBe(409);
    expect((await get(o.superAdmin.token, `/workspaces/${o.org.gid}`)).status).toBe(200);
    expect((await get(o.member.token, `/workspaces/${o.org.gid}`)).status).toBe(200);
    expect((await get(o.guest.token, `/workspaces/${o.org.gid}`)).status).toBe(200);
    const bad = await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: 42 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.user: /);
    // An admin removes a guest.
    expect((await api(o.admin.token, 'POST', `/workspaces/${o.org.gid}/removeUser`, { user: o.guest.gid })).status).toBe(200);
    expect((await get(o.guest.token, `/workspaces/${o.org.gid}`)).status).toBe(404);
  });
});
