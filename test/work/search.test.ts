/** Task search (every filter, sorting, pagination, visibility) and saved searches, through the API. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { searchTaskPages, searchTasks } from '../../lambdas/domain/work/search.js';
import { searchRoutes } from '../../lambdas/http/routes/search.js';
import { identityHarness, type IdentityHarness, apiCall } from '../support/identity.js';
import { project, section, team } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

const DAY = 86_400_000;
let h: IdentityHarness;
beforeAll(async () => {
  // Sessions outlive the clock jumps between fixtures.
  h = await identityHarness({ extraRoutes: searchRoutes, auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string, method: string, path: string, data?: unknown) => apiCall(h, token, method, path, data);
const search = (token: string, workspace: string, params: Record<string, string> = {}) => api(token, 'GET', `/workspaces/${workspace}/tasks/search?${new URLSearchParams(params).toString()}`);
const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((t) => t.name);
const sorted = (xs: string[]) => [...xs].sort();

async function newTask(token: string, data: Record<string, unknown>) {
  const res = await api(token, 'POST', '/tasks', data);
  if (res.status !== 201) throw new Error(`task: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { gid: string; name: string; created_at: string; modified_at: string; completed_at: string | null };
}

async function newTag(token: string, workspace: string, name: string) {
  const res = await api(token, 'POST', '/tags', { name, workspace });
  if (res.status !== 201) throw new Error(`tag: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.gid as string;
}

async function attach(organizationGid: string, taskGid: string, deleted = false) {
  const now = h.clock.now();
  await h.engine.db
    .insertInto('attachments')
    .values({ gid: h.deps.ids.gid(), organization_gid: organizationGid, parent_type: 'task', parent_gid: taskGid, name: 'file.pdf', content_type: 'application/pdf', size: 10, blob_key: `k/${taskGid}`, created_at: now, deleted_at: deleted ? now : null })
    .execute();
}

/** Walks every page with next_page.path; returns the names in order. */
async function walk(token: string, firstPath: string): Promise<string[]> {
  const seen: string[] = [];
  let path: string | null = firstPath;
  for (let i = 0; path && i < 100; i++) {
    const res = await api(token, 'GET', path);
    expect(res.status).toBe(200);
    seen.push(...names(res));
    path = res.body.next_page?.path ?? null;
  }
  return seen;
}

describe('every filter', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  let other: Person;
  const d = {} as Record<'p1' | 'p2' | 's1' | 's2' | 'team' | 'tagA' | 'tagB' | 'alpha' | 'beta' | 'gamma' | 'delta' | 'epsilon', string> & {
    created: Record<string, string>;
    completedAt: string;
    beforeLastChange: string;
    lastChangeDay: string;
  };
  const ALL = ['Alpha report', 'Beta plan', 'Gamma', 'Delta sub', 'Epsilon'];

  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Search org');
    other = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Other Member' });
    const m = w.member.token;
    d.team = await team(h, w.org.gid, { members: [{ gid: w.member.gid }] });
    d.p1 = await project(h, w.org.gid);
    d.p2 = await project(h, w.org.gid, { team: d.team });
    d.s1 = await section(h, d.p1, 'Now', 1);
    d.s2 = await section(h, d.p1, 'Later', 2);
    d.tagA = await newTag(m, w.org.gid, 'tag-a');
    d.tagB = await newTag(m, w.org.gid, 'tag-b');
    d.created = {};
    const alpha = await newTask(m, { name: 'Alpha report', notes: 'Quarterly numbers', memberships: [{ project: d.p1, section: d.s1 }], assignee: w.member.gid, tags: [d.tagA], due_on: '2026-03-10', start_on: '2026-03-01' });
    h.clock.advance(DAY);
    const beta = await newTask(m, { name: 'Beta plan', notes: 'Roadmap for spring', memberships: [{ project: d.p1, section: d.s2 }], assignee: other.gid, tags: [d.tagA, d.tagB], due_on: '2026-03-20', resource_subtype: 'milestone', completed: true });
    h.clock.advance(DAY);
    const gamma = await newTask(m, { name: 'Gamma', projects: [d.p2], tags: [d.tagB] });
    h.clock.advance(DAY);
    const deltaRes = await api(m, 'POST', `/tasks/${alpha.gid}/subtasks`, { name: 'Delta sub', assignee: w.member.gid });
    const delta = deltaRes.body.data;
    h.clock.advance(DAY);
    const epsilon = await newTask(other.token, { name: 'Epsilon', projects: [d.p1, d.p2], followers: [w.admin.gid] });
    const zeta = await newTask(m, { name: 'Zeta deleted', notes: 'report', projects: [d.p1] });
    expect((await api(m, 'DELETE', `/tasks/${zeta.gid}`)).status).toBe(200);
    Object.assign(d, { alpha: alpha.gid, beta: beta.gid, gamma: gamma.gid, delta: delta.gid, epsilon: epsilon.gid });
    for (const t of [alpha, beta, gamma, delta, epsilon]) d.created[t.name] = t.created_at;
    d.completedAt = beta.completed_at!;
    expect((await api(m, 'POST', `/tasks/${alpha.gid}/like`, { liked: true })).status).toBe(200);
    expect((await api(m, 'POST', `/tasks/${gamma.gid}/stories`, { text: 'A comment' })).status).toBe(201);
    await attach(w.org.gid, gamma.gid);
    await attach(w.org.gid, alpha.gid, true);
    h.clock.advance(DAY);
    d.beforeLastChange = h.clock.now().toISOString();
    h.clock.advance(1000);
    const changed = await api(m, 'PUT', `/tasks/${gamma.gid}`, { notes: 'Changed last' });
    d.lastChangeDay = changed.body.data.modified_at.slice(0, 10);
  });

  const day = (iso: string) => iso.slice(0, 10);
  const cases: [string, () => Record<string, string>, string[]][] = [
    ['no filter', () => ({}), ALL],
    ['text in the name', () => ({ text: 'report' }), ['Alpha report']],
    ['text is case-insensitive', () => ({ text: 'REPORT' }), ['Alpha report']],
    ['text in the notes', () => ({ text: 'roadmap' }), ['Beta plan']],
    ['text: every word must appear (name or notes)', () => ({ text: 'quarterly alpha' }), ['Alpha report']],
    ['text: words from different tasks match nothing', () => ({ text: 'alpha roadmap' }), []],
    ['text without a match', () => ({ text: 'zebra' }), []],
    ['resource_subtype milestone', () => ({ resource_subtype: 'milestone' }), ['Beta plan']],
    ['resource_subtype default_task', () => ({ resource_subtype: 'default_task' }), ['Alpha report', 'Gamma', 'Delta sub', 'Epsilon']],
    ['resource_subtype custom (none here)', () => ({ resource_subtype: 'custom' }), []],
    ['assignee.any me', () => ({ 'assignee.any': 'me' }), ['Alpha report', 'Delta sub']],
    ['assignee.any gid', () => ({ 'assignee.any': other.gid }), ['Beta plan']],
    ['assignee.any email (any case)', () => ({ 'assignee.any': other.email.toUpperCase() }), ['Beta plan']],
    ['assignee.any several', () => ({ 'assignee.any': `me,${other.gid}` }), ['Alpha report', 'Beta plan', 'Delta sub']],
    ['assignee.any unknown email', () => ({ 'assignee.any': 'nobody@nowhere.example' }), []],
    ['assignee.not me (unassigned included)', () => ({ 'assignee.not': 'me' }), ['Beta plan', 'Gamma', 'Epsilon']],
    ['projects.any', () => ({ 'projects.any': d.p2 }), ['Gamma', 'Epsilon']],
    ['projects.any several', () => ({ 'projects.any': `${d.p1},${d.p2}` }), ['Alpha report', 'Beta plan', 'Gamma', 'Epsilon']],
    ['projects.any unknown gid', () => ({ 'projects.any': '999999999999' }), []],
    ['projects.not', () => ({ 'projects.not': d.p1 }), ['Gamma', 'Delta sub']],
    ['projects.all', () => ({ 'projects.all': `${d.p1},${d.p2}` }), ['Epsilon']],
    ['sections.any', () => ({ 'sections.any': d.s1 }), ['Alpha report']],
    ['sections.not', () => ({ 'sections.not': d.s1 }), ['Beta plan', 'Gamma', 'Delta sub', 'Epsilon']],
    ['sections.all of two sections', () => ({ 'sections.all': `${d.s1},${d.s2}` }), []],
    ['sections.all of one', () => ({ 'sections.all': d.s2 }), ['Beta plan']],
    ['projects.any with sections.any is a union', () => ({ 'projects.any': d.p2, 'sections.any': d.s1 }), ['Alpha report', 'Gamma', 'Epsilon']],
    ['tags.any', () => ({ 'tags.any': d.tagA }), ['Alpha report', 'Beta plan']],
    ['tags.any several', () => ({ 'tags.any': `${d.tagA},${d.tagB}` }), ['Alpha report', 'Beta plan', 'Gamma']],
    ['tags.not', () => ({ 'tags.not': d.tagA }), ['Gamma', 'Delta sub', 'Epsilon']],
    ['tags.all', () => ({ 'tags.all': `${d.tagA},${d.tagB}` }), ['Beta plan']],
    ['teams.any', () => ({ 'teams.any': d.team }), ['Gamma', 'Epsilon']],
    ['followers.any', () => ({ 'followers.any': w.admin.gid }), ['Epsilon']],
    ['followers.any (assignee and creator follow)', () => ({ 'followers.any': other.gid }), ['Beta plan', 'Epsilon']],
    ['followers.not', () => ({ 'followers.not': other.gid }), ['Alpha report', 'Gamma', 'Delta sub']],
    ['created_by.any', () => ({ 'created_by.any': other.gid }), ['Epsilon']],
    ['created_by.any me', () => ({ 'created_by.any': 'me' }), ['Alpha report', 'Beta plan', 'Gamma', 'Delta sub']],
    ['created_by.not', () => ({ 'created_by.not': other.email }), ['Alpha report', 'Beta plan', 'Gamma', 'Delta sub']],
    ['liked_by.not', () => ({ 'liked_by.not': 'me' }), ['Beta plan', 'Gamma', 'Delta sub', 'Epsilon']],
    ['commented_on_by.not', () => ({ 'commented_on_by.not': 'me' }), ['Alpha report', 'Beta plan', 'Delta sub', 'Epsilon']],
    ['completed true', () => ({ completed: 'true' }), ['Beta plan']],
    ['completed false', () => ({ completed: 'false' }), ['Alpha report', 'Gamma', 'Delta sub', 'Epsilon']],
    ['is_subtask true', () => ({ is_subtask: 'true' }), ['Delta sub']],
    ['is_subtask false', () => ({ is_subtask: 'false' }), ['Alpha report', 'Beta plan', 'Gamma', 'Epsilon']],
    ['has_attachment true (deleted attachments do not count)', () => ({ has_attachment: 'true' }), ['Gamma']],
    ['has_attachment false', () => ({ has_attachment: 'false' }), ['Alpha report', 'Beta plan', 'Delta sub', 'Epsilon']],
    ['due_on', () => ({ due_on: '2026-03-10' }), ['Alpha report']],
    ['due_on null', () => ({ due_on: 'null' }), ['Gamma', 'Delta sub', 'Epsilon']],
    ['due_on.before (exclusive)', () => ({ 'due_on.before': '2026-03-20' }), ['Alpha report']],
    ['due_on.after (exclusive)', () => ({ 'due_on.after': '2026-03-10' }), ['Beta plan']],
    ['due_on range', () => ({ 'due_on.after': '2026-03-09', 'due_on.before': '2026-03-21' }), ['Alpha report', 'Beta plan']],
    ['start_on', () => ({ start_on: '2026-03-01' }), ['Alpha report']],
    ['start_on null', () => ({ start_on: 'null' }), ['Beta plan', 'Gamma', 'Delta sub', 'Epsilon']],
    ['start_on.before', () => ({ 'start_on.before': '2026-03-02' }), ['Alpha report']],
    ['start_on.after', () => ({ 'start_on.after': '2026-03-01' }), []],
    ['created_at.before', () => ({ 'created_at.before': d.created.Gamma! }), ['Alpha report', 'Beta plan']],
    ['created_at.after', () => ({ 'created_at.after': d.created.Gamma! }), ['Delta sub', 'Epsilon']],
    ['created_on', () => ({ created_on: day(d.created.Gamma!) }), ['Gamma']],
    ['created_on.before', () => ({ 'created_on.before': day(d.created.Gamma!) }), ['Alpha report', 'Beta plan']],
    ['created_on.after', () => ({ 'created_on.after': day(d.created.Gamma!) }), ['Delta sub', 'Epsilon']],
    ['completed_at.after', () => ({ 'completed_at.after': new Date(Date.parse(d.completedAt) - 1000).toISOString() }), ['Beta plan']],
    ['completed_at.before', () => ({ 'completed_at.before': new Date(Date.parse(d.completedAt) - 1000).toISOString() }), []],
    ['completed_on', () => ({ completed_on: day(d.completedAt) }), ['Beta plan']],
    ['completed_on null', () => ({ completed_on: 'null' }), ['Alpha report', 'Gamma', 'Delta sub', 'Epsilon']],
    ['modified_at.after', () => ({ 'modified_at.after': d.beforeLastChange }), ['Gamma']],
    ['modified_at.before', () => ({ 'modified_at.before': d.beforeLastChange }), ['Alpha report', 'Beta plan', 'Delta sub', 'Epsilon']],
    ['modified_on', () => ({ modified_on: d.lastChangeDay }), ['Gamma']],
    ['modified_on.before', () => ({ 'modified_on.before': d.lastChangeDay }), ['Alpha report', 'Beta plan', 'Delta sub', 'Epsilon']],
    ['due_at is accepted and ignored', () => ({ 'due_at.before': '2000-01-01T00:00:00Z' }), ALL],
    ['filters combine with AND', () => ({ 'projects.any': d.p1, completed: 'false', 'assignee.any': 'me' }), ['Alpha report']],
  ];

  test.each(cases)('%s', async (_label, params, expected) => {
    const res = await search(w.member.token, w.org.gid, params());
    expect(res.status).toBe(200);
    expect(sorted(names(res))).toEqual(sorted(expected));
    expect(res.body.data.every((t: Record<string, unknown>) => Object.keys(t).sort().join() === 'gid,name,resource_subtype,resource_type')).toBe(true);
  });

  test('opt_fields answers the full representation, projected', async () => {
    const res = await search(w.member.token, w.org.gid, { text: 'report', opt_fields: 'name,assignee.name,tags.name,due_on' });
    expect(res.body.data).toEqual([
      { gid: d.alpha, resource_type: 'task', name: 'Alpha report', due_on: '2026-03-10', assignee: { gid: w.member.gid, resource_type: 'user', name: w.member.name }, tags: [{ gid: d.tagA, resource_type: 'tag', name: 'tag-a' }] },
    ]);
  });

  test('sort orders: modified_at (default, newest first), created_at, due_date, completed_at, likes', async () => {
    const order = async (params: Record<string, string>) => names(await search(w.member.token, w.org.gid, params));
    const byCreated = ['Alpha report', 'Beta plan', 'Gamma', 'Delta sub', 'Epsilon'];
    expect(await order({ sort_by: 'created_at', sort_ascending: 'true' })).toEqual(byCreated);
    expect(await order({ sort_by: 'created_at' })).toEqual([...byCreated].reverse());
    // Gamma changed last; alpha was touched when delta became its subtask (after beta was created).
    const modified = (await search(w.member.token, w.org.gid, { opt_fields: 'name,modified_at' })).body.data as { name: string; modified_at: string }[];
    expect(modified[0]!.name).toBe('Gamma');
    expect(modified.map((t) => t.modified_at)).toEqual([...modified.map((t) => t.modified_at)].sort().reverse());
    expect(await order({})).toEqual(await order({ sort_by: 'modified_at', sort_ascending: 'false' }));
    // Tasks without the value come last in both directions.
    const due = await order({ sort_by: 'due_date', sort_ascending: 'true' });
    expect(due.slice(0, 2)).toEqual(['Alpha report', 'Beta plan']);
    const dueDesc = await order({ sort_by: 'due_date' });
    expect(dueDesc.slice(0, 2)).toEqual(['Beta plan', 'Alpha report']);
    expect(sorted(dueDesc.slice(2))).toEqual(sorted(['Gamma', 'Delta sub', 'Epsilon']));
    expect((await order({ sort_by: 'completed_at' }))[0]).toBe('Beta plan');
    expect((await order({ sort_by: 'completed_at', sort_ascending: 'true' }))[0]).toBe('Beta plan');
    await api(other.token, 'POST', `/tasks/${d.epsilon}/like`, { liked: true });
    await api(w.admin.token, 'POST', `/tasks/${d.epsilon}/like`, { liked: true });
    const likes = await order({ sort_by: 'likes' });
    expect(likes.slice(0, 2)).toEqual(['Epsilon', 'Alpha report']);
    expect((await order({ sort_by: 'likes', sort_ascending: 'true' })).slice(-2)).toEqual(['Alpha report', 'Epsilon']);
  });

  test.each([
    ['modified_at', 'false'],
    ['created_at', 'true'],
    ['due_date', 'true'],
    ['due_date', 'false'],
    ['completed_at', 'false'],
    ['likes', 'false'],
  ])('pages of one (sort_by=%s, ascending=%s) add up to the unpaged answer', async (sortBy, ascending) => {
    const params = new URLSearchParams({ sort_by: sortBy, sort_ascending: ascending });
    const whole = names(await search(w.member.token, w.org.gid, Object.fromEntries(params)));
    expect(whole).toHaveLength(5);
    params.set('limit', '1');
    expect(await walk(w.member.token, `/workspaces/${w.org.gid}/tasks/search?${params.toString()}`)).toEqual(whole);
  });

  test('an offset made for another sort is refused', async () => {
    const first = await search(w.member.token, w.org.gid, { sort_by: 'likes', limit: '1' });
    expect(first.body.next_page).not.toBeNull();
    const mixed = await search(w.member.token, w.org.gid, { sort_by: 'modified_at', limit: '1', offset: first.body.next_page.offset });
    expect(mixed.status).toBe(400);
    expect((await search(w.member.token, w.org.gid, { offset: 'not-a-cursor!' })).status).toBe(400);
  });
});

describe('text is matched literally', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Text org');
    const p = await project(h, w.org.gid);
    for (const name of ['100% done', '100 percent done', 'snake_case', 'snakeXcase', "O'Brien's task", 'Überprüfung', '日本語のタスク', 'back\\slash', 'backslash', 'Émilie café']) await newTask(w.member.token, { name, projects: [p] });
  });

  test.each([
    ['100%', ['100% done']],
    ['%', ['100% done']],
    ['_', ['snake_case']],
    ['snake_case', ['snake_case']],
    ["O'Brien", ["O'Brien's task"]],
    ["'", ["O'Brien's task"]],
    ['überprüfung', ['Überprüfung']],
    ['ÜBER', ['Überprüfung']],
    ['日本', ['日本語のタスク']],
    ['\\', ['back\\slash']],
    ['ÉMILIE CAFÉ', ['Émilie café']],
    ["'; drop table tasks; --", []],
    ["%' or '1'='1", []],
  ])('text=%j', async (text, expected) => {
    const res = await search(w.member.token, w.org.gid, { text });
    expect(res.status).toBe(200);
    expect(sorted(names(res))).toEqual(sorted(expected));
  });

  test('the tasks table survived the injection attempts', async () => {
    expect(names(await search(w.member.token, w.org.gid, {}))).toHaveLength(10);
  });
});

describe('search never reveals invisible tasks', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  let owner: Person;
  let outsider: Person;
  let limited: Person;
  const g = {} as Record<'publicP' | 'privateP' | 'teamP' | 'open' | 'secret' | 'shared' | 'mine' | 'teamTask' | 'guestTask' | 'guestSub', string>;

  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Visibility org');
    owner = await person(h, { organizationGid: w.org.gid, role: 'member' });
    outsider = await person(h, { organizationGid: w.org.gid, role: 'member' });
    limited = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const tm = await team(h, w.org.gid, { members: [{ gid: owner.gid }, { gid: limited.gid, limited: true }] });
    g.publicP = await project(h, w.org.gid);
    g.privateP = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: owner.gid }] });
    g.teamP = await project(h, w.org.gid, { team: tm, privacy: 'private_to_team' });
    const tick = () => h.clock.advance(1000);
    g.open = (await newTask(owner.token, { name: 'vis open', projects: [g.publicP] })).gid;
    tick();
    g.secret = (await newTask(owner.token, { name: 'vis secret', projects: [g.privateP] })).gid;
    tick();
    // Visible to everyone through the public project, also filed in the private one.
    g.shared = (await newTask(owner.token, { name: 'vis shared', projects: [g.publicP, g.privateP] })).gid;
    tick();
    g.mine = (await newTask(owner.token, { name: 'vis mine', workspace: w.org.gid })).gid;
    tick();
    g.teamTask = (await newTask(owner.token, { name: 'vis team', projects: [g.teamP] })).gid;
    tick();
    g.guestTask = (await newTask(owner.token, { name: 'vis guest', projects: [g.publicP], followers: [w.guest.gid] })).gid;
    tick();
    g.guestSub = (await api(owner.token, 'POST', `/tasks/${g.guestTask}/subtasks`, { name: 'vis guest sub' })).body.data.gid;
  });

  const visibleTo = async (who: Person, params: Record<string, string> = {}) => sorted(names(await search(who.token, w.org.gid, { text: 'vis', ...params })));

  test('each role sees exactly what the access policy allows', async () => {
    const everyone = ['vis open', 'vis shared', 'vis guest', 'vis guest sub'];
    expect(await visibleTo(owner)).toEqual(sorted([...everyone, 'vis secret', 'vis mine', 'vis team']));
    expect(await visibleTo(outsider)).toEqual(sorted(everyone));
    expect(await visibleTo(limited)).toEqual(sorted(everyone));
    // Reading private projects and private tasks is not an admin power.
    expect(await visibleTo(w.admin)).toEqual(sorted(everyone));
    expect(await visibleTo(w.superAdmin)).toEqual(sorted(everyone));
    // Guests: only what they were added to, and its subtasks.
    expect(await visibleTo(w.guest)).toEqual(sorted(['vis guest', 'vis guest sub']));
  });

  test('filters that name invisible things reveal nothing', async () => {
    // Naming the private project directly or by exclusion: the outsider learns nothing about it.
    expect(await visibleTo(outsider, { 'projects.any': g.privateP })).toEqual([]);
    expect(await visibleTo(outsider, { 'projects.not': g.privateP })).toEqual(await visibleTo(outsider));
    expect(await visibleTo(outsider, { 'projects.all': `${g.publicP},${g.privateP}` })).toEqual([]);
    expect(await visibleTo(owner, { 'projects.not': g.privateP })).not.toContain('vis shared');
    expect(await visibleTo(owner, { 'projects.all': `${g.publicP},${g.privateP}` })).toEqual(['vis shared']);
    // Asking for the owner's tasks does not bring back their private ones.
    expect(await visibleTo(outsider, { 'created_by.any': owner.gid })).toEqual(sorted(['vis open', 'vis shared', 'vis guest', 'vis guest sub']));
    // A guest cannot see the public project itself, so no task counts as "in" it for them.
    expect(await visibleTo(w.guest, { 'projects.any': g.publicP })).toEqual([]);
    expect(await visibleTo(w.guest, { 'projects.not': g.publicP })).toEqual(sorted(['vis guest', 'vis guest sub']));
  });

  test('pages and next_page count only visible tasks', async () => {
    const res = await search(w.guest.token, w.org.gid, { text: 'vis', limit: '2' });
    expect(res.body.data).toHaveLength(2);
    expect(res.body.next_page).toBeNull();
    const one = await search(w.guest.token, w.org.gid, { text: 'vis', limit: '1' });
    const rest = await api(w.guest.token, 'GET', one.body.next_page.path);
    expect(rest.body.next_page).toBeNull();
    expect(sorted([...names(one), ...names(rest)])).toEqual(sorted(['vis guest', 'vis guest sub']));
  });

  test('losing access and deletion take effect at once', async () => {
    await api(owner.token, 'POST', `/tasks/${g.open}/addFollowers`, { followers: [w.guest.gid] });
    expect(await visibleTo(w.guest)).toContain('vis open');
    await api(owner.token, 'POST', `/tasks/${g.open}/removeFollowers`, { followers: [w.guest.gid] });
    expect(await visibleTo(w.guest)).not.toContain('vis open');
    const gone = await newTask(owner.token, { name: 'vis gone', projects: [g.publicP] });
    expect(await visibleTo(outsider)).toContain('vis gone');
    await api(owner.token, 'DELETE', `/tasks/${gone.gid}`);
    expect(await visibleTo(outsider)).not.toContain('vis gone');
  });

  test('other organizations: their members get 404, and never see these tasks in their own workspace', async () => {
    const stranger = await organizationWithRoles(h, 'Stranger org');
    expect((await search(stranger.superAdmin.token, w.org.gid, { text: 'vis' })).status).toBe(404);
    expect((await search(stranger.member.token, w.org.gid)).status).toBe(404);
    const own = await search(stranger.superAdmin.token, stranger.org.gid, { text: 'vis' });
    expect(own.status).toBe(200);
    expect(own.body.data).toEqual([]);
    // Filters naming this organization's objects find nothing from the other one.
    expect((await search(stranger.superAdmin.token, stranger.org.gid, { 'projects.any': g.publicP })).body.data).toEqual([]);
  });

  test('the domain function applies the same visibility, page by page', async () => {
    const viewer = { userGid: w.guest.gid, organizationGid: w.org.gid, role: 'guest' as const };
    const one = await searchTasks(h.deps, viewer, { text: 'vis' }, { limit: 100, offset: null });
    expect(sorted(one.tasks.map((t) => t.name))).toEqual(sorted(['vis guest', 'vis guest sub']));
    const pages: string[][] = [];
    for await (const page of searchTaskPages(h.deps, { userGid: owner.gid, organizationGid: w.org.gid, role: 'member' }, { text: 'vis', sort_by: 'created_at', sort_ascending: true }, 2)) pages.push(page.map((t) => t.name));
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect(pages.flat()).toEqual(['vis open', 'vis secret', 'vis shared', 'vis mine', 'vis team', 'vis guest', 'vis guest sub']);
    await expect(searchTasks(h.deps, viewer, {}, { limit: 101, offset: null })).rejects.toMatchObject({ status: 400 });
  });
});

describe('user filters name only users the viewer may see', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  let hidden: Person;
  let hiddenFollower: Person;
  let colleague: Person;

  beforeAll(async () => {
    w = await organizationWithRoles(h, 'User filter org');
    hidden = await person(h, { organizationGid: w.org.gid, role: 'member' });
    hiddenFollower = await person(h, { organizationGid: w.org.gid, role: 'member' });
    colleague = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const open = await project(h, w.org.gid);
    const shared = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.guest.gid }, { gid: colleague.gid }, { gid: w.member.gid }] });
    // The guest follows this task, so sees it (and its assignee), but not its project or the people in it.
    await newTask(w.member.token, { name: 'who hidden', projects: [open], assignee: hidden.gid, followers: [w.guest.gid, hiddenFollower.gid] });
    await newTask(w.member.token, { name: 'who colleague', projects: [shared], assignee: colleague.gid, followers: [colleague.gid] });
  });

  const found = async (who: Person, params: Record<string, string> = {}) => {
    const res = await search(who.token, w.org.gid, { text: 'who', ...params });
    expect(res.status).toBe(200);
    return sorted(names(res));
  };

  test('the fixture: the guest sees both tasks, but neither the assignee nor the follower of the first', async () => {
    expect(await found(w.guest)).toEqual(['who colleague', 'who hidden']);
    for (const p of [hidden, hiddenFollower]) expect((await api(w.guest.token, 'GET', `/users/${p.gid}?workspace=${w.org.gid}`)).status).toBe(404);
    expect((await api(w.guest.token, 'GET', `/users/${colleague.gid}?workspace=${w.org.gid}`)).status).toBe(200);
  });

  test('a guest cannot confirm the email (or gid) of an invisible assignee or follower', async () => {
    expect(await found(w.guest, { 'assignee.any': hidden.email })).toEqual([]);
    expect(await found(w.guest, { 'assignee.any': hidden.email.toUpperCase() })).toEqual([]);
    expect(await found(w.guest, { 'assignee.any': hidden.gid })).toEqual([]);
    expect(await found(w.guest, { 'followers.any': hiddenFollower.email })).toEqual([]);
    expect(await found(w.guest, { 'followers.any': hiddenFollower.gid })).toEqual([]);
    // Excluding an invisible follower excludes nothing: the answer is the same as for an unknown email.
    expect(await found(w.guest, { 'followers.not': hiddenFollower.email })).toEqual(await found(w.guest, { 'followers.not': 'nobody@nowhere.example' }));
    expect(await found(w.guest, { 'followers.not': hiddenFollower.email })).toEqual(['who colleague', 'who hidden']);
  });

  test('users the guest may see still filter, by email, gid and me', async () => {
    expect(await found(w.guest, { 'assignee.any': colleague.email })).toEqual(['who colleague']);
    expect(await found(w.guest, { 'assignee.any': colleague.gid })).toEqual(['who colleague']);
    expect(await found(w.guest, { 'followers.any': colleague.email })).toEqual(['who colleague']);
    expect(await found(w.guest, { 'followers.not': colleague.email })).toEqual(['who hidden']);
    expect(await found(w.guest, { 'followers.any': 'me' })).toEqual(['who hidden']);
  });

  test('full members see every member, so their filters are unchanged', async () => {
    expect(await found(w.member, { 'assignee.any': hidden.email })).toEqual(['who hidden']);
    expect(await found(w.member, { 'assignee.any': hidden.gid })).toEqual(['who hidden']);
    expect(await found(w.member, { 'followers.any': hiddenFollower.email })).toEqual(['who hidden']);
    expect(await found(w.member, { 'followers.not': hiddenFollower.email })).toEqual(['who colleague']);
  });
});

describe('page size and stability', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  let p: string;
  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Big org');
    p = await project(h, w.org.gid);
    const start = h.clock.now().getTime();
    // 105 tasks written directly (a second apart), all in a public project.
    for (let i = 0; i < 105; i++) {
      const gid = h.deps.ids.gid();
      const at = new Date(start + i * 1000);
      await h.engine.db.insertInto('tasks').values({ gid, organization_gid: w.org.gid, name: `bulk ${String(i).padStart(3, '0')}`, created_by: w.member.gid, created_at: at, modified_at: at }).execute();
      await h.engine.db.insertInto('task_ancestors').values({ task_gid: gid, ancestor_gid: gid, depth: 0 }).execute();
      await h.engine.db.insertInto('task_projects').values({ task_gid: gid, project_gid: p, section_gid: null, position: i, added_at: at }).execute();
    }
    h.clock.advance(200_000);
  });

  test('pages hold 100 tasks by default and at most 100', async () => {
    const first = await search(w.member.token, w.org.gid);
    expect(first.body.data).toHaveLength(100);
    expect(first.body.next_page).toMatchObject({ offset: expect.any(String), path: expect.stringContaining(`/workspaces/${w.org.gid}/tasks/search?`) });
    const second = await api(w.member.token, 'GET', first.body.next_page.path);
    expect(second.body.data).toHaveLength(5);
    expect(second.body.next_page).toBeNull();
    const tooMany = await search(w.member.token, w.org.gid, { limit: '101' });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].message).toMatch(/^query\.limit/);
  });

  test('a task created while paging neither repeats nor shifts the rest', async () => {
    const seen: string[] = [];
    let res = await search(w.member.token, w.org.gid, { limit: '30' });
    seen.push(...names(res));
    // Newest first: the new task sorts before the cursor, so later pages are unaffected.
    await newTask(w.member.token, { name: 'bulk new', projects: [p] });
    while (res.body.next_page) {
      res = await api(w.member.token, 'GET', res.body.next_page.path);
      seen.push(...names(res));
    }
    expect(seen).toHaveLength(105);
    expect(new Set(seen).size).toBe(105);
    expect(seen[0]).toBe('bulk 104');
    expect(seen.at(-1)).toBe('bulk 000');
    expect(seen).not.toContain('bulk new');
    expect(names(await search(w.member.token, w.org.gid, { limit: '1' }))).toEqual(['bulk new']);
  });

  test('ties on the sort key are broken by gid, consistently across pages', async () => {
    // Every bulk task has the same due date: order falls back to gid.
    await h.engine.db.updateTable('tasks').set({ due_on: sql`cast('2026-05-01' as date)` }).where('organization_gid', '=', w.org.gid).execute();
    const all = await walk(w.member.token, `/workspaces/${w.org.gid}/tasks/search?sort_by=due_date&sort_ascending=true&limit=7`);
    expect(all).toHaveLength(106);
    const gids = (await search(w.member.token, w.org.gid, { sort_by: 'due_date', sort_ascending: 'true', opt_fields: 'name' })).body.data.map((t: { gid: string }) => t.gid);
    expect(gids).toEqual([...gids].sort());
  });
});

describe('bad parameters', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Bad org');
  });

  test.each([
    ['projects.any', 'abc'],
    ['projects.not', '1,,2'],
    ['sections.all', '12x'],
    ['tags.any', ''],
    ['teams.any', 'x'],
    ['assignee.any', 'not a user'],
    ['followers.not', 'me,someone@'],
    ['created_by.any', '1;drop'],
    ['due_on', '2026-02-30'],
    ['due_on.before', 'tomorrow'],
    ['start_on.after', '2026-1-1'],
    ['created_on', '20260101'],
    ['created_at.after', '2026-01-01'],
    ['modified_at.before', 'yesterday'],
    ['completed_at.after', '2026-13-01T00:00:00Z'],
    ['due_at.before', 'soon'],
    ['completed', 'yes'],
    ['is_subtask', '1'],
    ['has_attachment', 'maybe'],
    ['sort_by', 'name'],
    ['sort_ascending', 'up'],
    ['resource_subtype', 'bug'],
    ['text', 'x'.repeat(1025)],
    ['limit', '0'],
  ])('%s=%j is a 400 naming the parameter', async (name, value) => {
    const res = await search(w.member.token, w.org.gid, { [name]: value });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { message: string }) => e.message).join('\n')).toContain(`query.${name}`);
  });

  test('unsupported Asana filters are refused rather than ignored', async () => {
    for (const name of ['custom_fields.123.value', 'portfolios.any', 'assigned_by.any', 'is_blocked']) {
      const res = await search(w.member.token, w.org.gid, { [name]: '1' });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].message).toContain(name);
    }
  });

  test('a bad workspace gid is a 400, a workspace you are not in a 404, no session a 401', async () => {
    const bad = await api(w.member.token, 'GET', '/workspaces/abc/tasks/search');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^path\.workspace_gid/);
    expect((await search(w.member.token, '123456789')).status).toBe(404);
    expect((await h.call({ path: `/api/1.0/workspaces/${w.org.gid}/tasks/search` })).status).toBe(401);
  });
});

describe('saved searches', () => {
  let w: Awaited<ReturnType<typeof organizationWithRoles>>;
  let owner: Person;
  let p: string;
  let privateP: string;
  beforeAll(async () => {
    w = await organizationWithRoles(h, 'Saved org');
    owner = await person(h, { organizationGid: w.org.gid, role: 'member' });
    p = await project(h, w.org.gid);
    privateP = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: owner.gid }, { gid: w.member.gid }] });
  });

  const save = (who: Person, data: unknown) => api(who.token, 'POST', '/saved_searches', data);

  test('create, read, list, update, delete', async () => {
    const created = await save(owner, { name: 'My open work', workspace: w.org.gid, filters: { 'assignee.any': 'me', completed: 'false', 'projects.any': [p], due_on: null, sort_by: 'due_date' } });
    expect(created.status).toBe(201);
    const s = created.body.data;
    expect(s).toEqual({
      gid: expect.any(String),
      resource_type: 'saved_search',
      name: 'My open work',
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Saved org' },
      filters: { 'assignee.any': ['me'], completed: false, 'projects.any': [p], due_on: null, sort_by: 'due_date' },
      created_at: expect.any(String),
      modified_at: expect.any(String),
    });
    expect((await api(owner.token, 'GET', `/saved_searches/${s.gid}`)).body.data).toEqual(s);

    h.clock.advance(1000);
    const second = (await save(owner, { name: 'Second', workspace: w.org.gid, filters: {} })).body.data;
    expect((await save(w.member, { name: 'Not yours', workspace: w.org.gid, filters: {} })).status).toBe(201);
    const list = await api(owner.token, 'GET', `/saved_searches?workspace=${w.org.gid}`);
    expect(list.body.data).toEqual([
      { gid: s.gid, resource_type: 'saved_search', name: 'My open work' },
      { gid: second.gid, resource_type: 'saved_search', name: 'Second' },
    ]);
    const full = await api(owner.token, 'GET', `/saved_searches?workspace=${w.org.gid}&opt_fields=name,filters&limit=1`);
    expect(full.body.data).toEqual([{ gid: s.gid, resource_type: 'saved_search', name: 'My open work', filters: s.filters }]);
    expect(full.body.next_page).not.toBeNull();

    h.clock.advance(60_000);
    const updated = await api(owner.token, 'PUT', `/saved_searches/${s.gid}`, { name: 'Renamed', filters: { text: 'invoice' } });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({ name: 'Renamed', filters: { text: 'invoice' }, created_at: s.created_at });
    expect(Date.parse(updated.body.data.modified_at)).toBeGreaterThan(Date.parse(s.modified_at));
    const renamedOnly = await api(owner.token, 'PUT', `/saved_searches/${s.gid}`, { name: 'Renamed again' });
    expect(renamedOnly.body.data.filters).toEqual({ text: 'invoice' });

    expect((await api(owner.token, 'DELETE', `/saved_searches/${s.gid}`)).status).toBe(200);
    expect((await api(owner.token, 'GET', `/saved_searches/${s.gid}`)).status).toBe(404);
    expect((await api(owner.token, 'GET', `/saved_searches/${s.gid}/tasks`)).status).toBe(404);
    expect((await api(owner.token, 'PUT', `/saved_searches/${s.gid}`, { name: 'x' })).status).toBe(404);
    expect((await api(owner.token, 'GET', `/saved_searches?workspace=${w.org.gid}`)).body.data.map((x: { gid: string }) => x.gid)).toEqual([second.gid]);
  });

  test('only the owner can read, change, delete or run a saved search', async () => {
    const s = (await save(owner, { name: 'Private search', workspace: w.org.gid, filters: { text: 'x' } })).body.data;
    const stranger = await organizationWithRoles(h, 'Elsewhere');
    for (const who of [w.member, w.admin, w.superAdmin, w.guest, stranger.superAdmin]) {
      expect((await api(who.token, 'GET', `/saved_searches/${s.gid}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/saved_searches/${s.gid}/tasks`)).status).toBe(404);
      expect((await api(who.token, 'PUT', `/saved_searches/${s.gid}`, { name: 'Hijacked' })).status).toBe(404);
      expect((await api(who.token, 'DELETE', `/saved_searches/${s.gid}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/saved_searches?workspace=${w.org.gid}`)).body.data?.map((x: { gid: string }) => x.gid) ?? []).not.toContain(s.gid);
    }
    expect((await api(owner.token, 'GET', `/saved_searches/${s.gid}`)).body.data.name).toBe('Private search');
    expect((await api(stranger.superAdmin.token, 'GET', `/saved_searches?workspace=${w.org.gid}`)).status).toBe(404);
    expect((await save(stranger.superAdmin, { name: 'x', workspace: w.org.gid, filters: {} })).status).toBe(404);
  });

  test('re-running reflects new tasks and lost access', async () => {
    const s = (await save(owner, { name: 'Launch', workspace: w.org.gid, filters: { text: 'launch', sort_by: 'created_at', sort_ascending: true } })).body.data;
    const run = async () => names(await api(owner.token, 'GET', `/saved_searches/${s.gid}/tasks`));
    await newTask(w.member.token, { name: 'launch public', projects: [p] });
    h.clock.advance(1000);
    await newTask(w.member.token, { name: 'launch private', projects: [privateP] });
    expect(await run()).toEqual(['launch public', 'launch private']);
    h.clock.advance(1000);
    await newTask(w.member.token, { name: 'launch later', projects: [p] });
    expect(await run()).toEqual(['launch public', 'launch private', 'launch later']);
    // The owner leaves the private project: its tasks drop out of the saved search.
    await h.engine.db.deleteFrom('project_memberships').where('project_gid', '=', privateP).where('user_gid', '=', owner.gid).execute();
    expect(await run()).toEqual(['launch public', 'launch later']);
    const full = await api(owner.token, 'GET', `/saved_searches/${s.gid}/tasks?opt_fields=name,projects&limit=1`);
    expect(full.body.data).toEqual([{ gid: expect.any(String), resource_type: 'task', name: 'launch public', projects: [{ gid: p, resource_type: 'project', name: expect.any(String) }] }]);
    expect(names(await api(owner.token, 'GET', full.body.next_page.path))).toEqual(['launch later']);
  });

  test('"me" in saved filters is the owner; an owner removed from the workspace loses the search', async () => {
    const leaver = await person(h, { organizationGid: w.org.gid, role: 'member' });
    await newTask(w.member.token, { name: 'for the leaver', projects: [p], assignee: leaver.gid });
    const s = (await save(leaver, { name: 'Mine', workspace: w.org.gid, filters: { 'assignee.any': 'me' } })).body.data;
    expect(names(await api(leaver.token, 'GET', `/saved_searches/${s.gid}/tasks`))).toEqual(['for the leaver']);
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: h.clock.now() }).where('user_gid', '=', leaver.gid).where('organization_gid', '=', w.org.gid).execute();
    expect((await api(leaver.token, 'GET', `/saved_searches/${s.gid}/tasks`)).status).toBe(404);
    expect((await api(leaver.token, 'GET', `/saved_searches/${s.gid}`)).status).toBe(404);
  });

  test('filters are validated by the search schema', async () => {
    const bad = async (filters: unknown, field: string) => {
      const res = await save(owner, { name: 'Bad', workspace: w.org.gid, filters });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { message: string }) => e.message).join('\n')).toContain(field);
    };
    await bad({ 'due_on.before': '2026-02-31' }, 'data.filters.due_on.before');
    await bad({ 'projects.any': ['12', 'abc'] }, 'data.filters.projects.any');
    await bad({ sort_by: 'name' }, 'data.filters.sort_by');
    await bad({ completed: 'maybe' }, 'data.filters.completed');
    await bad({ 'custom_fields.1.value': 'x' }, 'custom_fields.1.value');
    await bad({ limit: 5 }, 'limit');
    await bad('text=x', 'data.filters');
    const noName = await save(owner, { name: ' ', workspace: w.org.gid, filters: {} });
    expect(noName.status).toBe(400);
    expect(noName.body.errors[0].message).toMatch(/^data\.name/);
    expect((await save(owner, { name: 'x', workspace: 'abc', filters: {} })).status).toBe(400);
    const count = await h.engine.db.selectFrom('saved_searches').select((eb) => eb.fn.countAll().as('n')).where('name', '=', 'Bad').executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
    const s = (await save(owner, { name: 'Good', workspace: w.org.gid, filters: {} })).body.data;
    expect((await api(owner.token, 'PUT', `/saved_searches/${s.gid}`, { filters: { 'tags.all': 'x' } })).status).toBe(400);
    expect((await api(owner.token, 'GET', `/saved_searches/${s.gid}`)).body.data.filters).toEqual({});
  });
});
