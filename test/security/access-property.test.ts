/**
 * Property test of the access model (issue 4): random worlds — people in every role
 * (guests included, and people outside the organization), teams of every visibility with
 * full and limited-access members, projects of every privacy setting with members,
 * tasks multi-homed in projects with assignees, followers and subtask chains, and
 * deleted teams, projects and tasks — are written into the database, and for every
 * (person, object) pair what the API answers is compared with the reference
 * implementation in test/support/access-model.ts:
 *
 *   GET /tasks/{gid}, GET /projects/{gid}                 200 exactly when visible, else 404;
 *                                                         a visible task shows only its visible projects and parent
 *   GET /projects/{gid}/tasks, GET /tasks/{gid}/subtasks   exactly the visible tasks (404 when the parent is invisible)
 *   GET /workspaces/{gid}/projects                         exactly the visible projects
 *   GET /workspaces/{gid}/tasks/search                     exactly the visible tasks
 *   GET /tasks?assignee=&workspace=                        exactly the visible tasks assigned to that person
 *   GET /user_task_lists/{gid}/tasks (My tasks)            exactly the visible tasks assigned to the person
 *
 * One migrated PGlite for the file; each run gets a new organization (the same five
 * people, with new roles, in every run: so everyone also belongs to many other
 * organizations, which must never matter). On a mismatch fast-check shrinks the world
 * and the failure prints the minimal one.
 *
 * FC_SEED, FC_NUM_RUNS override the seed and the number of runs.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import type { Role } from '../../lambdas/db/schema.js';
import { identityHarness, type Answer, type IdentityHarness } from '../support/identity.js';
import { person, type Person } from '../support/world.js';
import {
  ancestorsAndSelf,
  canSeeProject,
  canSeeTask,
  describeWorld,
  myTaskList,
  projectTaskList,
  subtaskList,
  taskView,
  visibleProjects,
  visibleTasks,
  type AccessLevel,
  type ModelWorld,
  type OrgRole,
  type Privacy,
  type TeamVisibility,
} from '../support/access-model.js';

const POOL_SIZE = 5;
const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 40);

let h: IdentityHarness;
let pool: Person[];

beforeAll(async () => {
  // Sessions must outlive nothing here (no clock jumps); defaults are fine.
  h = await identityHarness();
  pool = [];
  for (let i = 0; i < POOL_SIZE; i++) pool.push(await person(h, { name: `Pool person ${i}` }));
}, 60_000);

afterAll(async () => {
  await h?.close();
});

// --- Generating worlds -------------------------------------------------------------------

/** Mostly false (and false is where shrinking goes). */
const rarely = fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 });
const index = fc.nat({ max: 15 });
const roleArb = fc.constantFrom<OrgRole | null>('member', 'guest', 'admin', 'super_admin', null);
const privacyArb = fc.constantFrom<Privacy>('public_to_workspace', 'private_to_team', 'private');
const visibilityArb = fc.constantFrom<TeamVisibility>('public', 'request_to_join', 'secret');
const accessArb = fc.constantFrom<AccessLevel>('editor', 'viewer', 'commenter', 'admin');

/** The raw shape fast-check generates and shrinks; indexes are taken modulo the list they point into. */
const rawWorldArb = fc.record({
  roles: fc.array(roleArb, { minLength: 2, maxLength: POOL_SIZE, size: 'max' }),
  teams: fc.array(fc.record({ visibility: visibilityArb, deleted: rarely, members: fc.array(fc.record({ user: index, limited: fc.boolean() }), { maxLength: 4 }) }), { maxLength: 2 }),
  projects: fc.array(
    fc.record({ team: fc.option(index, { nil: null }), privacy: privacyArb, deleted: rarely, members: fc.array(fc.record({ user: index, access: accessArb }), { maxLength: 3 }) }),
    { minLength: 1, maxLength: 3, size: 'max' },
  ),
  tasks: fc.array(
    fc.record({
      parent: fc.option(index, { nil: null }),
      projects: fc.array(index, { maxLength: 2 }),
      assignee: fc.option(index, { nil: null }),
      followers: fc.array(index, { maxLength: 2 }),
      deleted: rarely,
    }),
    { minLength: 2, maxLength: 7, size: 'max' },
  ),
});
type RawWorld = typeof rawWorldArb extends fc.Arbitrary<infer T> ? T : never;

const uniq = <T>(list: T[]) => [...new Set(list)];

/** The model world a raw one stands for (ids u0.., tm0.., p0.., t0..; parents always earlier). */
function toModel(raw: RawWorld): ModelWorld {
  const users = raw.roles.map((role, i) => ({ id: `u${i}`, role }));
  const u = (i: number) => `u${i % users.length}`;
  const teams = raw.teams.map((t, i) => {
    const members = new Map<string, boolean>();
    for (const m of t.members) if (!members.has(u(m.user))) members.set(u(m.user), m.limited);
    return { id: `tm${i}`, visibility: t.visibility, deleted: t.deleted, members: [...members].map(([user, limited]) => ({ user, limited })) };
  });
  const projects = raw.projects.map((p, i) => {
    const team = p.team === null || teams.length === 0 ? null : `tm${p.team % teams.length}`;
    const members = new Map<string, AccessLevel>();
    for (const m of p.members) if (!members.has(u(m.user))) members.set(u(m.user), m.access);
    // private_to_team needs a team (the API refuses it otherwise).
    return { id: `p${i}`, team, privacy: p.privacy === 'private_to_team' && !team ? ('private' as const) : p.privacy, deleted: p.deleted, members: [...members].map(([user, access]) => ({ user, access })) };
  });
  const tasks = raw.tasks.map((t, i) => ({
    id: `t${i}`,
    parent: t.parent === null || i === 0 ? null : `t${t.parent % i}`,
    projects: uniq(t.projects.map((p) => `p${p % projects.length}`)),
    assignee: t.assignee === null ? null : u(t.assignee),
    followers: uniq(t.followers.map(u)),
    deleted: t.deleted,
  }));
  return { users, teams, projects, tasks };
}

// --- Writing a world ---------------------------------------------------------------------

interface Written {
  org: string;
  gid: Map<string, string>;
  id: Map<string, string>;
  token: Map<string, string>;
}

async function write(world: ModelWorld, run: number): Promise<Written> {
  const db = h.engine.db;
  const now = h.clock.now();
  const ids = h.deps.ids;
  const gid = new Map<string, string>();
  const token = new Map<string, string>();
  world.users.forEach((u, i) => {
    gid.set(u.id, pool[i]!.gid);
    token.set(u.id, pool[i]!.token);
  });
  const org = (await organizations.create(db, { gid: ids.gid(), name: `Property world ${run}`, now })).gid;
  const memberships = world.users.filter((u) => u.role).map((u) => ({ gid: ids.gid(), organization_gid: org, user_gid: gid.get(u.id)!, role: u.role as Role, created_at: now }));
  if (memberships.length) await db.insertInto('organization_memberships').values(memberships).execute();

  for (const t of world.teams) gid.set(t.id, ids.gid());
  for (const p of world.projects) gid.set(p.id, ids.gid());
  for (const t of world.tasks) gid.set(t.id, ids.gid());
  const g = (id: string) => gid.get(id)!;

  if (world.teams.length) {
    await db
      .insertInto('teams')
      .values(world.teams.map((t) => ({ gid: g(t.id), organization_gid: org, name: `Team ${t.id}`, visibility: t.visibility, created_at: now, modified_at: now, deleted_at: t.deleted ? now : null })))
      .execute();
    const tms = world.teams.flatMap((t) => t.members.map((m) => ({ gid: ids.gid(), team_gid: g(t.id), user_gid: g(m.user), is_limited_access: m.limited, created_at: now })));
    if (tms.length) await db.insertInto('team_memberships').values(tms).execute();
  }
  await db
    .insertInto('projects')
    .values(world.projects.map((p) => ({ gid: g(p.id), organization_gid: org, team_gid: p.team ? g(p.team) : null, name: `Project ${p.id}`, privacy_setting: p.privacy, created_at: now, modified_at: now, deleted_at: p.deleted ? now : null })))
    .execute();
  const pms = world.projects.flatMap((p) => p.members.map((m) => ({ gid: ids.gid(), project_gid: g(p.id), user_gid: g(m.user), access_level: m.access, created_at: now })));
  if (pms.length) await db.insertInto('project_memberships').values(pms).execute();

  await db
    .insertInto('tasks')
    .values(
      world.tasks.map((t) => ({
        gid: g(t.id),
        organization_gid: org,
        name: `Task ${t.id}`,
        parent_gid: t.parent ? g(t.parent) : null,
        assignee_gid: t.assignee ? g(t.assignee) : null,
        created_at: now,
        modified_at: now,
        deleted_at: t.deleted ? now : null,
      })),
    )
    .execute();
  await db
    .insertInto('task_ancestors')
    .values(world.tasks.flatMap((t) => ancestorsAndSelf(world, t.id).map((a, depth) => ({ task_gid: g(t.id), ancestor_gid: g(a.id), depth }))))
    .execute();
  const placements = world.tasks.flatMap((t, i) => t.projects.map((p) => ({ task_gid: g(t.id), project_gid: g(p), section_gid: null, position: i + 1, added_at: now })));
  if (placements.length) await db.insertInto('task_projects').values(placements).execute();
  const follows = world.tasks.flatMap((t) => t.followers.map((f) => ({ task_gid: g(t.id), user_gid: g(f), created_at: now })));
  if (follows.length) await db.insertInto('task_followers').values(follows).execute();
  return { org, gid, id: new Map([...gid].map(([k, v]) => [v, k])), token };
}

// --- Comparing -----------------------------------------------------------------------------

const get = (token: string, path: string) => h.call({ method: 'GET', path: `/api/1.0${path}`, token });

class Mismatch extends Error {}

function fail(world: ModelWorld, what: string, expected: unknown, actual: unknown): never {
  throw new Mismatch(`${what}\n  expected (reference): ${JSON.stringify(expected)}\n  actual (API):         ${JSON.stringify(actual)}\n--- world ---\n${describeWorld(world)}`);
}

/** The model ids of a list answer's gids (unknown gids are kept as they are: they are leaks). */
function idsOf(w: Written, res: Answer): string[] {
  return (res.body?.data ?? []).map((x: { gid: string }) => w.id.get(x.gid) ?? `foreign:${x.gid}`).sort();
}

async function compareList(world: ModelWorld, w: Written, who: string, path: string, expected: string[] | null) {
  const res = await get(w.token.get(who)!, path);
  const label = (p: string) => p.replace(/\d{5,}/g, (g) => w.id.get(g) ?? (g === w.org ? 'org' : g));
  if (expected === null) {
    if (res.status !== 404) fail(world, `${who}: GET ${label(path)} should be 404`, 404, [res.status, idsOf(w, res)]);
    return;
  }
  if (res.status !== 200) fail(world, `${who}: GET ${label(path)} should be 200`, 200, [res.status, res.body]);
  if (res.body.next_page) fail(world, `${who}: GET ${label(path)} should fit one page`, null, res.body.next_page);
  const actual = idsOf(w, res);
  const want = [...expected].sort();
  if (JSON.stringify(actual) !== JSON.stringify(want)) fail(world, `${who}: GET ${label(path)} lists exactly the visible objects`, want, actual);
}

const uniqAssignees = (world: ModelWorld) => uniq(world.tasks.map((t) => t.assignee).filter((a): a is string => a !== null));

async function checkWorld(world: ModelWorld, w: Written) {
  for (const user of world.users) {
    const who = user.id;
    const token = w.token.get(who)!;
    const inOrg = user.role !== null;

    // (b) single objects
    for (const p of world.projects) {
      const res = await get(token, `/projects/${w.gid.get(p.id)}`);
      const expected = canSeeProject(world, who, p.id) ? 200 : 404;
      if (res.status !== expected) fail(world, `${who}: GET /projects/${p.id}`, expected, res.status);
    }
    for (const t of world.tasks) {
      const res = await get(token, `/tasks/${w.gid.get(t.id)}`);
      const expected = canSeeTask(world, who, t.id) ? 200 : 404;
      if (res.status !== expected) fail(world, `${who}: GET /tasks/${t.id}`, expected, res.status);
      if (res.status !== 200) continue;
      const view = taskView(world, who, t.id)!;
      const shown = {
        projects: res.body.data.projects.map((p: { gid: string }) => w.id.get(p.gid) ?? `foreign:${p.gid}`).sort(),
        memberships: res.body.data.memberships.map((m: { project: { gid: string } }) => w.id.get(m.project.gid) ?? `foreign:${m.project.gid}`).sort(),
        parent: res.body.data.parent ? (w.id.get(res.body.data.parent.gid) ?? `foreign:${res.body.data.parent.gid}`) : null,
        numSubtasks: res.body.data.num_subtasks,
      };
      const want = { projects: [...view.projects].sort(), memberships: [...view.projects].sort(), parent: view.parent, numSubtasks: view.numSubtasks };
      if (JSON.stringify(shown) !== JSON.stringify(want)) fail(world, `${who}: GET /tasks/${t.id} shows only visible projects, parent and subtasks`, want, shown);
    }

    // (c) lists and search
    for (const p of world.projects) await compareList(world, w, who, `/projects/${w.gid.get(p.id)}/tasks?limit=100`, projectTaskList(world, who, p.id));
    for (const t of world.tasks) {
      if (world.tasks.some((c) => c.parent === t.id)) await compareList(world, w, who, `/tasks/${w.gid.get(t.id)}/subtasks?limit=100`, subtaskList(world, who, t.id));
    }
    await compareList(world, w, who, `/workspaces/${w.org}/projects?limit=100`, inOrg ? visibleProjects(world, who) : null);
    for (const assignee of uniqAssignees(world)) {
      const expected = inOrg ? visibleTasks(world, who).filter((t) => world.tasks.find((x) => x.id === t)!.assignee === assignee) : null;
      await compareList(world, w, who, `/tasks?assignee=${w.gid.get(assignee)}&workspace=${w.org}&limit=100`, expected);
    }
    await compareList(world, w, who, `/workspaces/${w.org}/tasks/search?limit=100`, inOrg ? visibleTasks(world, who) : null);
    const list = await get(token, `/users/me/user_task_list?workspace=${w.org}`);
    if (!inOrg) {
      if (list.status !== 404) fail(world, `${who}: GET /users/me/user_task_list of an organization they are not in`, 404, list.status);
    } else {
      if (list.status !== 200) fail(world, `${who}: GET /users/me/user_task_list`, 200, [list.status, list.body]);
      await compareList(world, w, who, `/user_task_lists/${list.body.data.gid}/tasks?limit=100`, myTaskList(world, who));
    }
  }
}

// --- The property --------------------------------------------------------------------------

test(
  'the API answers exactly what the reference access model allows, for random worlds',
  async () => {
    const started = Date.now();
    let run = 0;
    let pairs = 0;
    await fc.assert(
      fc.asyncProperty(rawWorldArb, async (raw) => {
        const world = toModel(raw);
        const written = await write(world, ++run);
        await checkWorld(world, written);
        pairs += world.users.length * (world.projects.length + world.tasks.length);
      }),
      { numRuns: NUM_RUNS, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) },
    );
    // Every run compared something: the property is not vacuous.
    expect(run).toBeGreaterThanOrEqual(NUM_RUNS);
    expect(pairs).toBeGreaterThan(NUM_RUNS);
    process.stdout.write(`access property: ${run} worlds, ${pairs} (person, object) pairs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  },
  300_000,
);

test('the reference model itself: the rules it encodes, on a hand-made world', () => {
  const world: ModelWorld = {
    users: [
      { id: 'member', role: 'member' },
      { id: 'admin', role: 'admin' },
      { id: 'guest', role: 'guest' },
      { id: 'limited', role: 'member' },
      { id: 'outsider', role: null },
    ],
    teams: [{ id: 'team', visibility: 'secret', deleted: false, members: [{ user: 'member', limited: false }, { user: 'limited', limited: true }, { user: 'guest', limited: false }] }],
    projects: [
      { id: 'open', team: null, privacy: 'public_to_workspace', deleted: false, members: [] },
      { id: 'teamOnly', team: 'team', privacy: 'private_to_team', deleted: false, members: [] },
      { id: 'secret', team: null, privacy: 'private', deleted: false, members: [{ user: 'guest', access: 'viewer' }] },
    ],
    tasks: [
      { id: 'inOpen', parent: null, projects: ['open'], assignee: null, followers: [], deleted: false },
      { id: 'private', parent: null, projects: [], assignee: 'limited', followers: [], deleted: false },
      { id: 'sub', parent: 'private', projects: [], assignee: null, followers: [], deleted: false },
      { id: 'inSecret', parent: null, projects: ['secret', 'open'], assignee: null, followers: [], deleted: false },
      { id: 'gone', parent: null, projects: ['open'], assignee: null, followers: [], deleted: true },
    ],
  };
  expect(visibleProjects(world, 'member')).toEqual(['open', 'teamOnly']);
  expect(visibleProjects(world, 'admin')).toEqual(['open']); // admins do not read private projects
  expect(visibleProjects(world, 'limited')).toEqual(['open']); // limited access: only what they were added to
  expect(visibleProjects(world, 'guest')).toEqual(['secret']); // guests: only what they were added to
  expect(visibleProjects(world, 'outsider')).toEqual([]);
  expect(visibleTasks(world, 'admin')).toEqual(['inOpen', 'inSecret']);
  expect(visibleTasks(world, 'limited')).toEqual(['inOpen', 'private', 'sub', 'inSecret']); // assignee sees the subtasks too
  expect(visibleTasks(world, 'guest')).toEqual(['inSecret']);
  expect(taskView(world, 'admin', 'inSecret')).toEqual({ projects: ['open'], parent: null, numSubtasks: 0 });
  expect(taskView(world, 'limited', 'sub')).toEqual({ projects: [], parent: 'private', numSubtasks: 0 });
  expect(projectTaskList(world, 'guest', 'open')).toBeNull();
});
