/**
 * Messages (conversations on teams and projects) and their replies through the HTTP
 * handler: shapes, newest-first keyset pages, replies, editing and soft deletion, and
 * the access rules (full vs limited team members, guests by project access level,
 * private projects hidden from admins, other organizations), bad input with field paths.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { project, team } from '../support/graph.js';
import { person, type Person } from '../support/world.js';
import { messageRoutes } from '../../lambdas/http/routes/messages.js';
import { templateRoutes } from '../../lambdas/http/routes/templates.js';
import { teamWorld, type RolesWorld } from './team-world.js';

let h: IdentityHarness;
let w: RolesWorld;
let other: RolesWorld;
/** Full member of `tm`, another full member, a limited-access member, a member in no team. */
let teamMember: Person;
let teamMate: Person;
let limited: Person;
let loner: Person;
let tm: string;
let secretTeam: string;

beforeAll(async () => {
  h = await identityHarness({ extraRoutes: [...messageRoutes, ...templateRoutes] });
  ({ w, other, teamMember, teamMate, limited, loner, tm, secretTeam } = await teamWorld(h, 'Design'));
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> =>
  apiCall(h, token, method, path, data);
const errors = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { message: string }) => e.message);
const titles = (a: Answer): (string | null)[] => a.body.data.map((m: { title: string | null }) => m.title);
const texts = (a: Answer): string[] => a.body.data.map((m: { text: string }) => m.text);

async function post(who: Person, parent: string, title: string, text = `${title} text`): Promise<string> {
  const res = await api(who.token, 'POST', '/messages', { parent, title, text });
  if (res.status !== 201) throw new Error(`post failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.gid as string;
}

describe('team conversations', () => {
  test('post, read, list newest first in keyset pages, opt_fields, edit, delete', async () => {
    const created = await api(teamMember.token, 'POST', '/messages', { parent: tm, title: 'Kickoff', text: 'Welcome, everyone' });
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'message',
      title: 'Kickoff',
      text: 'Welcome, everyone',
      author: { gid: teamMember.gid, resource_type: 'user', name: teamMember.name },
      parent: { gid: tm, resource_type: 'team', name: 'Design' },
      reply_to: null,
      created_at: expect.any(String),
      modified_at: expect.any(String),
      num_replies: 0,
    });
    h.clock.advance(1000);
    await post(teamMate, tm, 'Second');
    h.clock.advance(1000);
    await post(teamMember, tm, 'Third');

    const page1 = await api(teamMate.token, 'GET', `/messages?parent=${tm}&limit=2`);
    expect(page1.status).toBe(200);
    expect(titles(page1)).toEqual(['Third', 'Second']);
    expect(Object.keys(page1.body.data[0]).sort()).toEqual(['author', 'created_at', 'gid', 'resource_type', 'text', 'title']);
    expect(page1.body.next_page.path).toContain(`/messages?parent=${tm}&limit=2&offset=`);
    const page2 = await api(teamMate.token, 'GET', page1.body.next_page.path);
    expect(titles(page2)).toEqual(['Kickoff']);
    expect(page2.body.next_page).toBeNull();

    const projected = await api(teamMate.token, 'GET', `/messages?parent=${tm}&opt_fields=num_replies,parent.name`);
    expect(projected.body.data[0]).toEqual({ gid: expect.any(String), resource_type: 'message', num_replies: 0, parent: { gid: tm, resource_type: 'team', name: 'Design' } });

    h.clock.advance(5000);
    const edited = await api(teamMember.token, 'PUT', `/messages/${created.body.data.gid}`, { title: 'Kickoff (agenda)' });
    expect(edited.status).toBe(200);
    expect(edited.body.data).toMatchObject({ title: 'Kickoff (agenda)', text: 'Welcome, everyone' });
    expect(Date.parse(edited.body.data.modified_at)).toBeGreaterThan(Date.parse(created.body.data.modified_at));

    expect((await api(teamMember.token, 'DELETE', `/messages/${created.body.data.gid}`)).status).toBe(200);
    expect((await api(teamMember.token, 'GET', `/messages/${created.body.data.gid}`)).status).toBe(404);
    expect(titles(await api(teamMate.token, 'GET', `/messages?parent=${tm}`))).toEqual(['Third', 'Second']);
    const row = await h.engine.db.selectFrom('messages').select('deleted_at').where('gid', '=', created.body.data.gid).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
  });

  test('only full team members read and post; limited members, other members, guests and other organizations do not', async () => {
    const m = await post(teamMember, tm, 'Team only');
    // Limited-access members and members outside the team see the (public) team but not its messages.
    for (const who of [limited, loner, w.admin, w.superAdmin]) {
      expect((await api(who.token, 'GET', `/messages/${m}`)).status).toBe(404);
      const list = await api(who.token, 'GET', `/messages?parent=${tm}`);
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual([]);
      expect((await api(who.token, 'POST', '/messages', { parent: tm, title: 'x', text: 'y' })).status).toBe(403);
      expect((await api(who.token, 'POST', `/messages/${m}/replies`, { text: 'me too' })).status).toBe(404);
    }
    // Guests (not in the team) and other organizations cannot see the team at all.
    for (const who of [w.guest, other.superAdmin, other.member]) {
      expect((await api(who.token, 'GET', `/messages/${m}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/messages?parent=${tm}`)).status).toBe(404);
      expect((await api(who.token, 'POST', '/messages', { parent: tm, title: 'x', text: 'y' })).status).toBe(404);
    }
    // Secret teams are invisible to non-members: 404, not 403.
    expect((await api(loner.token, 'POST', '/messages', { parent: secretTeam, title: 'x', text: 'y' })).status).toBe(404);
    expect((await api(loner.token, 'GET', `/messages?parent=${secretTeam}`)).status).toBe(404);
    expect((await api(teamMember.token, 'POST', '/messages', { parent: secretTeam, title: 'Hush', text: 'y' })).status).toBe(201);
    // Once the limited member gets full access, the conversation appears.
    await h.engine.db.updateTable('team_memberships').set({ is_limited_access: false }).where('team_gid', '=', tm).where('user_gid', '=', limited.gid).execute();
    expect((await api(limited.token, 'GET', `/messages/${m}`)).status).toBe(200);
    await h.engine.db.updateTable('team_memberships').set({ is_limited_access: true }).where('team_gid', '=', tm).where('user_gid', '=', limited.gid).execute();
    expect((await api(undefined, 'GET', `/messages?parent=${tm}`)).status).toBe(401);
  });

  test('messages of a deleted team vanish', async () => {
    const t2 = await team(h, w.org.gid, { members: [{ gid: teamMember.gid }] });
    const m = await post(teamMember, t2, 'Before deletion');
    expect((await api(teamMember.token, 'GET', `/messages/${m}`)).status).toBe(200);
    await h.engine.db.updateTable('teams').set({ deleted_at: h.clock.now() }).where('gid', '=', t2).execute();
    expect((await api(teamMember.token, 'GET', `/messages/${m}`)).status).toBe(404);
    expect((await api(teamMember.token, 'GET', `/messages?parent=${t2}`)).status).toBe(404);
  });
});

describe('project conversations', () => {
  test('full members post to public projects; guests by access level: editors post, commenters reply, viewers read', async () => {
    const editor = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const commenter = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const viewer = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const p = await project(h, w.org.gid, { name: 'Website', members: [{ gid: editor.gid, access: 'editor' }, { gid: commenter.gid, access: 'commenter' }, { gid: viewer.gid, access: 'viewer' }] });
    const created = await api(loner.token, 'POST', '/messages', { parent: p, title: 'Launch date', text: 'Friday?' });
    expect(created.status).toBe(201);
    expect(created.body.data.parent).toEqual({ gid: p, resource_type: 'project', name: 'Website' });
    const m = created.body.data.gid;

    h.clock.advance(1000);
    expect((await api(editor.token, 'POST', '/messages', { parent: p, title: 'From a guest editor', text: 'ok' })).status).toBe(201);
    for (const who of [commenter, viewer]) {
      expect((await api(who.token, 'GET', `/messages/${m}`)).status).toBe(200);
      expect(titles(await api(who.token, 'GET', `/messages?parent=${p}`))).toEqual(['From a guest editor', 'Launch date']);
      expect((await api(who.token, 'POST', '/messages', { parent: p, title: 'no', text: 'no' })).status).toBe(403);
    }
    expect((await api(commenter.token, 'POST', `/messages/${m}/replies`, { text: 'Friday works' })).status).toBe(201);
    expect((await api(viewer.token, 'POST', `/messages/${m}/replies`, { text: 'me too' })).status).toBe(403);
    // A guest not added to the project does not know it exists.
    expect((await api(w.guest.token, 'GET', `/messages/${m}`)).status).toBe(404);
    expect((await api(w.guest.token, 'GET', `/messages?parent=${p}`)).status).toBe(404);
    expect((await api(w.guest.token, 'POST', '/messages', { parent: p, title: 'x', text: 'y' })).status).toBe(404);
    expect((await api(other.superAdmin.token, 'GET', `/messages/${m}`)).status).toBe(404);
    expect((await api(other.superAdmin.token, 'POST', '/messages', { parent: p, title: 'x', text: 'y' })).status).toBe(404);
  });

  test('private projects: only their members, organization admins included; private_to_team: full team members', async () => {
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }] });
    const m = await post(w.member, p, 'Confidential');
    for (const who of [w.admin, w.superAdmin, loner, w.guest]) {
      expect((await api(who.token, 'GET', `/messages/${m}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/messages?parent=${p}`)).status).toBe(404);
      expect((await api(who.token, 'POST', `/messages/${m}/replies`, { text: 'x' })).status).toBe(404);
      expect((await api(who.token, 'DELETE', `/messages/${m}`)).status).toBe(404);
    }
    const teamProject = await project(h, w.org.gid, { team: tm, privacy: 'private_to_team' });
    const tmsg = await post(teamMate, teamProject, 'Team project note');
    expect((await api(teamMember.token, 'GET', `/messages/${tmsg}`)).status).toBe(200);
    expect((await api(limited.token, 'GET', `/messages/${tmsg}`)).status).toBe(404);
    expect((await api(loner.token, 'GET', `/messages/${tmsg}`)).status).toBe(404);
    // A deleted project takes its messages with it.
    await h.engine.db.updateTable('projects').set({ deleted_at: h.clock.now() }).where('gid', '=', teamProject).execute();
    expect((await api(teamMate.token, 'GET', `/messages/${tmsg}`)).status).toBe(404);
  });
});

describe('replies', () => {
  test('replies: oldest first, counted, a reply to a reply joins the conversation, deleted with their message', async () => {
    const p = await project(h, w.org.gid);
    const m = await post(w.member, p, 'Retro');
    const before = (await api(w.member.token, 'GET', `/messages/${m}`)).body.data;
    h.clock.advance(1000);
    const r1 = await api(loner.token, 'POST', `/messages/${m}/replies`, { text: 'Went well' });
    expect(r1.status).toBe(201);
    expect(r1.body.data).toMatchObject({ resource_type: 'message', title: null, text: 'Went well', author: { gid: loner.gid }, reply_to: { gid: m, resource_type: 'message', title: 'Retro' }, parent: { gid: p, resource_type: 'project' } });
    h.clock.advance(1000);
    const r2 = await api(w.admin.token, 'POST', `/messages/${r1.body.data.gid}/replies`, { text: 'Agreed' });
    expect(r2.status).toBe(201);
    expect(r2.body.data.reply_to.gid).toBe(m);

    const after = (await api(w.member.token, 'GET', `/messages/${m}`)).body.data;
    expect(after.num_replies).toBe(2);
    expect(Date.parse(after.modified_at)).toBeGreaterThan(Date.parse(before.modified_at));
    const replies = await api(w.member.token, 'GET', `/messages/${m}/replies?limit=1`);
    expect(texts(replies)).toEqual(['Went well']);
    expect(texts(await api(w.member.token, 'GET', replies.body.next_page.path))).toEqual(['Agreed']);
    // Replies are not conversations: not listed with them, no title, no replies of their own.
    expect(titles(await api(w.member.token, 'GET', `/messages?parent=${p}`))).toEqual(['Retro']);
    const titled = await api(loner.token, 'PUT', `/messages/${r1.body.data.gid}`, { title: 'No' });
    expect(titled.status).toBe(400);
    expect(errors(titled)).toEqual(['data.title: replies have no title']);
    expect((await api(loner.token, 'PUT', `/messages/${r1.body.data.gid}`, { text: 'Went very well' })).body.data.text).toBe('Went very well');
    const nested = await api(w.member.token, 'GET', `/messages/${r1.body.data.gid}/replies`);
    expect(nested.status).toBe(400);
    expect(errors(nested)[0]).toMatch(/^path\.message_gid/);

    expect((await api(w.member.token, 'DELETE', `/messages/${m}`)).status).toBe(200);
    expect((await api(loner.token, 'GET', `/messages/${r1.body.data.gid}`)).status).toBe(404);
    expect((await api(w.admin.token, 'GET', `/messages/${r2.body.data.gid}`)).status).toBe(404);
  });

  test('deleting a reply lowers the count', async () => {
    const p = await project(h, w.org.gid);
    const m = await post(w.member, p, 'Count me');
    const r = (await api(loner.token, 'POST', `/messages/${m}/replies`, { text: 'one' })).body.data.gid;
    expect((await api(w.member.token, 'GET', `/messages/${m}`)).body.data.num_replies).toBe(1);
    expect((await api(loner.token, 'DELETE', `/messages/${r}`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/messages/${m}`)).body.data.num_replies).toBe(0);
    expect((await api(w.member.token, 'GET', `/messages/${m}/replies`)).body.data).toEqual([]);
  });
});

describe('editing and deleting', () => {
  test('only the author edits; the author or an organization admin deletes', async () => {
    const p = await project(h, w.org.gid);
    const m = await post(w.member, p, 'Mine', 'original');
    const denied = await api(loner.token, 'PUT', `/messages/${m}`, { text: 'hijacked' });
    expect(denied.status).toBe(403);
    expect((await api(w.admin.token, 'PUT', `/messages/${m}`, { text: 'admin edit' })).status).toBe(403);
    expect((await api(w.member.token, 'GET', `/messages/${m}`)).body.data.text).toBe('original');
    expect((await api(loner.token, 'DELETE', `/messages/${m}`)).status).toBe(403);
    expect((await api(w.member.token, 'GET', `/messages/${m}`)).status).toBe(200);
    expect((await api(w.admin.token, 'DELETE', `/messages/${m}`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/messages/${m}`)).status).toBe(404);
    expect((await api(w.member.token, 'PUT', `/messages/${m}`, { text: 'too late' })).status).toBe(404);
  });
});

describe('bad input', () => {
  test('400 with the failing field paths, and nothing is written', async () => {
    const p = await project(h, w.org.gid);
    const count = async () => Number((await h.engine.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const missing = await api(w.member.token, 'POST', '/messages', { parent: p, text: 'no title' });
    expect(missing.status).toBe(400);
    expect(errors(missing)[0]).toMatch(/^data\.title: /);
    const empty = await api(w.member.token, 'POST', '/messages', { parent: p, title: 'Empty', text: '' });
    expect(errors(empty)[0]).toMatch(/^data\.text: /);
    const badParent = await api(w.member.token, 'POST', '/messages', { parent: 'project-1', title: 'x', text: 'y' });
    expect(errors(badParent)[0]).toMatch(/^data\.parent: /);
    expect((await api(w.member.token, 'POST', '/messages', { parent: '12345', title: 'x', text: 'y' })).status).toBe(404);
    const noParent = await api(w.member.token, 'GET', '/messages');
    expect(noParent.status).toBe(400);
    expect(errors(noParent)[0]).toMatch(/^query\.parent: /);
    const m = await post(w.member, p, 'Valid');
    const nothing = await api(w.member.token, 'PUT', `/messages/${m}`, {});
    expect(nothing.status).toBe(400);
    expect(errors(nothing)).toEqual(['data: give title or text']);
    const badPath = await api(w.member.token, 'GET', '/messages/abc');
    expect(badPath.status).toBe(400);
    expect(errors(badPath)[0]).toMatch(/^path\.message_gid: /);
    expect(errors(await api(w.member.token, 'GET', `/messages?parent=${p}&limit=500`))[0]).toMatch(/^query\.limit: /);
    expect(errors(await api(w.member.token, 'POST', `/messages/${m}/replies`, { text: 5 }))[0]).toMatch(/^data\.text: /);
    expect(await count()).toBe(before + 1);
  });
});
