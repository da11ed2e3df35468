/**
 * Project templates and task templates through the HTTP handler: saving a project's
 * structure, instantiating it (sections, tasks, subtasks in order; relative dates; no
 * people; one transaction), template visibility (owner, public, full team members;
 * guests, limited members, other organizations, private projects), task templates
 * following their project, bad input with field paths, and a template larger than the
 * Data API's 64 KB row limit on the Data API stand-in.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { project, section } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
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
  h.clock.set('2026-05-04T10:00:00.000Z');
  ({ w, other, teamMember, teamMate, limited, loner, tm, secretTeam } = await teamWorld(h, 'Launch team'));
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string | undefined, method: string, path: string, data?: unknown, harness: IdentityHarness = h): Promise<Answer> =>
  apiCall(harness, token, method, path, data);
const errors = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { message: string }) => e.message);
const names = (a: Answer): string[] => a.body.data.map((x: { name: string }) => x.name);
const gids = (a: Answer): string[] => a.body.data.map((x: { gid: string }) => x.gid);

async function created(res: Answer): Promise<any> {
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

async function newTask(who: Person, data: Record<string, unknown>, harness: IdentityHarness = h) {
  return created(await api(who.token, 'POST', '/tasks', data, harness));
}
async function subtask(who: Person, parent: string, name: string, data: Record<string, unknown> = {}) {
  h.clock.advance(1000); // subtasks are listed by creation time
  return created(await api(who.token, 'POST', `/tasks/${parent}/subtasks`, { name, ...data }));
}
const saveAsTemplate = (who: Person, projectGid: string, data: Record<string, unknown>) => api(who.token, 'POST', `/projects/${projectGid}/saveAsTemplate`, data);
const instantiate = (who: Person, templateGid: string, data: Record<string, unknown>) => api(who.token, 'POST', `/project_templates/${templateGid}/instantiateProject`, data);

/** Sections of a project in order, straight from the database (the section routes are another suite's). */
async function sectionNames(projectGid: string): Promise<string[]> {
  return (await h.engine.db.selectFrom('sections').select('name').where('project_gid', '=', projectGid).where('deleted_at', 'is', null).orderBy('position').execute()).map((s) => s.name);
}

/**
 * A launch project: sections (inserted out of order), tasks in a custom order, subtasks
 * two levels deep, an assignee, a completed task, a deleted task, dates, a custom field.
 */
async function launchProject(owner: Person) {
  const p = await project(h, w.org.gid, { team: tm, name: 'Launch', privacy: 'public_to_workspace', owner: owner.gid, members: [{ gid: owner.gid, access: 'admin' }] });
  await h.engine.db.updateTable('projects').set({ notes: 'How we launch <things>', color: 'dark-green', start_on: '2026-06-01', due_on: '2026-06-30' } as never).where('gid', '=', p).execute();
  const done = await section(h, p, 'Done', 3);
  const todo = await section(h, p, 'To do', 1);
  const doing = await section(h, p, 'Doing', 2);
  const field = { gid: h.deps.ids.gid() };
  await h.engine.db.insertInto('custom_fields').values({ gid: field.gid, organization_gid: w.org.gid, name: `Field ${field.gid}`, resource_subtype: 'text', created_at: h.clock.now() }).execute();
  await h.engine.db.insertInto('project_custom_field_settings').values({ gid: h.deps.ids.gid(), project_gid: p, custom_field_gid: field.gid, is_important: true, position: 1 }).execute();
  const a = await newTask(owner, { name: 'Write plan', notes: 'Outline first', memberships: [{ project: p, section: todo }], assignee: w.member.gid, start_on: '2026-06-03', due_on: '2026-06-05' });
  const b = await newTask(owner, { name: 'Build', memberships: [{ project: p, section: doing }], completed: true, resource_subtype: 'milestone' });
  const c = await newTask(owner, { name: 'Loose end', projects: [p] });
  const d = await newTask(owner, { name: 'Gather input', memberships: [{ project: p, section: todo }] });
  const e = await newTask(owner, { name: 'Deleted idea', memberships: [{ project: p, section: done }] });
  await api(owner.token, 'DELETE', `/tasks/${e.gid}`);
  // "Gather input" moves before "Write plan".
  expect((await api(owner.token, 'POST', `/tasks/${d.gid}/addProject`, { project: p, section: todo, insert_before: a.gid })).status).toBe(200);
  const a1 = await subtask(owner, a.gid, 'Draft', { due_on: '2026-06-04' });
  await subtask(owner, a.gid, 'Review');
  await subtask(owner, a1.gid, 'Outline');
  return { p, sections: { todo, doing, done }, field, tasks: { a, b, c, d, e, a1 } };
}

describe('project templates', () => {
  test('saveAsTemplate, then instantiateProject: sections, tasks and subtasks in order, dates laid out from the start date, no people', async () => {
    const src = await launchProject(teamMember);
    const tasksBefore = Number((await h.engine.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const job = await saveAsTemplate(teamMember, src.p, { name: 'Launch template', public: true });
    expect(job.status).toBe(201);
    expect(job.body.data).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'job',
      resource_subtype: 'save_as_template',
      status: 'succeeded',
      new_task: null,
      new_project_template: { gid: expect.stringMatching(/^\d+$/), resource_type: 'project_template', name: 'Launch template' },
    });
    const templateGid = job.body.data.new_project_template.gid;
    // Saving copies, it does not create tasks.
    expect(Number((await h.engine.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(tasksBefore);

    const template = await api(teamMember.token, 'GET', `/project_templates/${templateGid}`);
    expect(template.status).toBe(200);
    expect(template.body.data).toEqual({
      gid: templateGid,
      resource_type: 'project_template',
      name: 'Launch template',
      description: 'How we launch <things>',
      html_description: '<body>How we launch &lt;things&gt;</body>',
      public: true,
      owner: { gid: teamMember.gid, resource_type: 'user', name: teamMember.name },
      team: { gid: tm, resource_type: 'team', name: 'Launch team' },
      requested_dates: [{ gid: '1', name: 'Start date', description: expect.any(String) }],
      color: 'dark-green',
      requested_roles: [],
      created_at: expect.any(String),
    });

    const made = await instantiate(teamMate, templateGid, { name: 'Launch 2', requested_dates: [{ gid: '1', value: '2027-03-01' }] });
    expect(made.status).toBe(201);
    expect(made.body.data).toMatchObject({ resource_type: 'job', resource_subtype: 'instantiate_project', status: 'succeeded', new_project: { gid: expect.any(String), resource_type: 'project', name: 'Launch 2' }, new_task: null });
    const np = made.body.data.new_project.gid as string;

    const row = await h.engine.db.selectFrom('projects').selectAll().where('gid', '=', np).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'Launch 2', team_gid: tm, owner_gid: teamMate.gid, created_by: teamMate.gid, privacy_setting: 'public_to_workspace', color: 'dark-green', notes: 'How we launch <things>' });
    expect(String(row.start_on).slice(0, 10)).toBe('2027-03-01');
    expect(String(row.due_on).slice(0, 10)).toBe('2027-03-30');
    const membership = await h.engine.db.selectFrom('project_memberships').select(['user_gid', 'access_level']).where('project_gid', '=', np).execute();
    expect(membership).toEqual([{ user_gid: teamMate.gid, access_level: 'admin' }]);
    expect(await sectionNames(np)).toEqual(['To do', 'Doing', 'Done']);
    const settings = await h.engine.db.selectFrom('project_custom_field_settings').select(['custom_field_gid', 'is_important']).where('project_gid', '=', np).execute();
    expect(settings).toEqual([{ custom_field_gid: src.field.gid, is_important: true }]);

    // Top-level tasks in the source's order; the deleted one and the subtasks are not project tasks.
    const list = await api(teamMate.token, 'GET', `/projects/${np}/tasks`);
    expect(names(list)).toEqual(['Gather input', 'Write plan', 'Build', 'Loose end']);
    const [gather, plan, build, loose] = gids(list) as [string, string, string, string];
    const planTask = (await api(teamMate.token, 'GET', `/tasks/${plan}`)).body.data;
    expect(planTask).toMatchObject({ name: 'Write plan', notes: 'Outline first', assignee: null, completed: false, start_on: '2027-03-03', due_on: '2027-03-05', num_subtasks: 2 });
    expect(planTask.memberships).toEqual([{ project: { gid: np, resource_type: 'project', name: 'Launch 2' }, section: { gid: expect.any(String), resource_type: 'section', name: 'To do' } }]);
    expect(planTask.followers.map((f: { gid: string }) => f.gid)).toEqual([teamMate.gid]);
    expect((await api(teamMate.token, 'GET', `/tasks/${gather}`)).body.data.memberships[0].section.name).toBe('To do');
    const buildTask = (await api(teamMate.token, 'GET', `/tasks/${build}`)).body.data;
    expect(buildTask).toMatchObject({ completed: false, resource_subtype: 'milestone', due_on: null });
    expect(buildTask.memberships[0].section.name).toBe('Doing');
    expect((await api(teamMate.token, 'GET', `/tasks/${loose}`)).body.data.memberships[0]).not.toHaveProperty('section');

    const subs = await api(teamMate.token, 'GET', `/tasks/${plan}/subtasks`);
    expect(names(subs)).toEqual(['Draft', 'Review']);
    const draft = (await api(teamMate.token, 'GET', `/tasks/${subs.body.data[0].gid}`)).body.data;
    expect(draft).toMatchObject({ due_on: '2027-03-04', parent: { gid: plan }, projects: [] });
    expect(names(await api(teamMate.token, 'GET', `/tasks/${draft.gid}/subtasks`))).toEqual(['Outline']);

    // The source project is untouched.
    expect(names(await api(teamMember.token, 'GET', `/projects/${src.p}/tasks`))).toEqual(['Gather input', 'Write plan', 'Build', 'Loose end']);
  });

  test('dates: today without a start date, required with is_strict, unknown variables refused; templates without dates ask for none', async () => {
    const src = await launchProject(teamMember);
    const templateGid = (await saveAsTemplate(teamMember, src.p, { name: 'Dated' })).body.data.new_project_template.gid;
    const today = h.clock.now().toISOString().slice(0, 10);
    const job = await instantiate(teamMember, templateGid, { name: 'From today' });
    expect(job.status).toBe(201);
    const np = job.body.data.new_project.gid;
    const plan = (await api(teamMember.token, 'GET', `/projects/${np}/tasks`)).body.data[1].gid;
    const expected = new Date(Date.parse(`${today}T00:00:00Z`) + 4 * 86_400_000).toISOString().slice(0, 10);
    expect((await api(teamMember.token, 'GET', `/tasks/${plan}`)).body.data.due_on).toBe(expected);

    const strict = await instantiate(teamMember, templateGid, { name: 'Strict', is_strict: true });
    expect(strict.status).toBe(400);
    expect(errors(strict)[0]).toMatch(/^data\.requested_dates: /);
    const unknown = await instantiate(teamMember, templateGid, { name: 'Unknown', requested_dates: [{ gid: '9', value: '2027-01-01' }] });
    expect(errors(unknown)[0]).toMatch(/^data\.requested_dates\.0\.gid: /);
    const badDate = await instantiate(teamMember, templateGid, { name: 'Bad', requested_dates: [{ gid: '1', value: '2027-02-30x' }] });
    expect(errors(badDate)[0]).toMatch(/^data\.requested_dates\.0\.value: /);

    const plain = await project(h, w.org.gid, { team: tm, members: [{ gid: teamMember.gid, access: 'admin' }] });
    await newTask(teamMember, { name: 'Undated', projects: [plain] });
    const plainTemplate = (await saveAsTemplate(teamMember, plain, { name: 'Undated' })).body.data.new_project_template.gid;
    expect((await api(teamMember.token, 'GET', `/project_templates/${plainTemplate}`)).body.data.requested_dates).toEqual([]);
    const fromPlain = await instantiate(teamMember, plainTemplate, { name: 'No dates', requested_dates: [] });
    const t = (await api(teamMember.token, 'GET', `/projects/${fromPlain.body.data.new_project.gid}/tasks?opt_fields=due_on,start_on`)).body.data;
    expect(t).toEqual([{ gid: expect.any(String), resource_type: 'task', due_on: null, start_on: null }]);
  });

  test('visibility: the owner; full members when public or in a team they fully belong to; never guests, limited members of private ones, other organizations', async () => {
    const src = await launchProject(teamMember);
    const teamOnly = (await saveAsTemplate(teamMember, src.p, { name: 'A team template' })).body.data.new_project_template.gid;
    const open = (await saveAsTemplate(teamMember, src.p, { name: 'B public template', public: true })).body.data.new_project_template.gid;
    const mine = (await saveAsTemplate(teamMember, src.p, { name: 'C personal', team: secretTeam })).body.data.new_project_template.gid;
    await h.engine.db.updateTable('project_templates').set({ team_gid: null }).where('gid', '=', mine).execute();

    const sees = async (who: Person, gid: string) => (await api(who.token, 'GET', `/project_templates/${gid}`)).status;
    expect(await sees(teamMember, teamOnly)).toBe(200);
    expect(await sees(teamMate, teamOnly)).toBe(200);
    expect(await sees(teamMember, mine)).toBe(200);
    for (const who of [limited, loner, w.admin, w.superAdmin, w.guest, other.superAdmin]) expect(await sees(who, teamOnly)).toBe(404);
    for (const who of [teamMate, w.admin, w.guest, other.member]) expect(await sees(who, mine)).toBe(404);
    for (const who of [limited, loner, w.admin, teamMate]) expect(await sees(who, open)).toBe(200);
    for (const who of [w.guest, other.superAdmin]) expect(await sees(who, open)).toBe(404);

    const inWorkspace = async (who: Person) => gids(await api(who.token, 'GET', `/project_templates?workspace=${w.org.gid}&limit=100`));
    expect(await inWorkspace(teamMate)).toEqual(expect.arrayContaining([teamOnly, open]));
    expect(await inWorkspace(teamMate)).not.toContain(mine);
    expect(await inWorkspace(loner)).toContain(open);
    expect(await inWorkspace(loner)).not.toContain(teamOnly);
    expect(await inWorkspace(w.guest)).toEqual([]);
    expect((await api(other.member.token, 'GET', `/project_templates?workspace=${w.org.gid}`)).status).toBe(404);
    const ofTeam = await api(loner.token, 'GET', `/project_templates?team=${tm}`);
    expect(gids(ofTeam)).toContain(open);
    expect(gids(ofTeam)).not.toContain(teamOnly);
    expect(gids(await api(teamMate.token, 'GET', `/teams/${tm}/project_templates?limit=100`))).toEqual(expect.arrayContaining([teamOnly, open]));
    expect((await api(loner.token, 'GET', `/project_templates?team=${secretTeam}`)).status).toBe(404);
    expect((await api(loner.token, 'GET', `/teams/${secretTeam}/project_templates`)).status).toBe(404);
    const listed = await api(teamMate.token, 'GET', `/project_templates?team=${tm}&limit=1`);
    expect(listed.body.data).toHaveLength(1);
    expect(Object.keys(listed.body.data[0]).sort()).toEqual(['gid', 'name', 'resource_type']);
    expect(listed.body.next_page).not.toBeNull();

    // Instantiating needs to see the template; a guest cannot.
    expect((await instantiate(w.guest, open, { name: 'x' })).status).toBe(404);
    expect((await instantiate(limited, teamOnly, { name: 'x' })).status).toBe(404);
  });

  // A template shows its project's description, sections, task names and notes (and
  // instantiating it copies them): it may not reach anyone the project does not.
  test("a private project's template stays its owner's: the team's other members neither see, list nor instantiate it", async () => {
    const hidden = await project(h, w.org.gid, { team: tm, privacy: 'private', name: 'Hidden launch', members: [{ gid: teamMember.gid, access: 'admin' }] });
    await newTask(teamMember, { name: 'Acquire a competitor', projects: [hidden] });
    const own = await saveAsTemplate(teamMember, hidden, { name: 'Hidden structure' });
    expect(own.status).toBe(201);
    const t = own.body.data.new_project_template.gid;
    expect((await api(teamMember.token, 'GET', `/project_templates/${t}`)).body.data).toMatchObject({ name: 'Hidden structure', team: null, owner: { gid: teamMember.gid } });
    expect((await api(teamMate.token, 'GET', `/project_templates/${t}`)).status).toBe(404);
    expect(gids(await api(teamMate.token, 'GET', `/teams/${tm}/project_templates?limit=100`))).not.toContain(t);
    expect(gids(await api(teamMate.token, 'GET', `/project_templates?workspace=${w.org.gid}&limit=100`))).not.toContain(t);
    expect((await instantiate(teamMate, t, { name: 'Peek', team: tm })).status).toBe(404);
    // Naming a team does not widen it either.
    const toTeam = await saveAsTemplate(teamMember, hidden, { name: 'Shared structure', team: tm });
    expect(toTeam.status).toBe(400);
    expect(errors(toTeam)).toEqual(["data.team: a private project's template is its owner's alone; it cannot be given to a team"]);
  });

  test("a private_to_team project's template stays in its team", async () => {
    const teamOnly = await project(h, w.org.gid, { team: tm, privacy: 'private_to_team', name: 'Team plans', members: [{ gid: teamMember.gid, access: 'admin' }] });
    const elsewhere = await saveAsTemplate(teamMember, teamOnly, { name: 'Moved', team: secretTeam });
    expect(elsewhere.status).toBe(400);
    expect(errors(elsewhere)).toEqual(["data.team: a project private to its team can be saved only as a template of that team"]);
    const inTeam = (await saveAsTemplate(teamMember, teamOnly, { name: 'Team structure', team: tm })).body.data.new_project_template.gid;
    const byDefault = (await saveAsTemplate(teamMember, teamOnly, { name: 'Team structure again' })).body.data.new_project_template.gid;
    for (const t of [inTeam, byDefault]) {
      expect((await api(teamMate.token, 'GET', `/project_templates/${t}`)).body.data.team).toEqual({ gid: tm, resource_type: 'team', name: 'Launch team' });
      for (const who of [limited, loner, w.admin]) expect((await api(who.token, 'GET', `/project_templates/${t}`)).status).toBe(404);
    }
  });

  test('a public template of a secret team does not name the team to those who cannot see it', async () => {
    const open = await project(h, w.org.gid, { team: tm, name: 'Open plans', members: [{ gid: teamMember.gid, access: 'admin' }] });
    const t = (await saveAsTemplate(teamMember, open, { name: 'Open structure', team: secretTeam, public: true })).body.data.new_project_template.gid;
    expect((await api(teamMember.token, 'GET', `/project_templates/${t}`)).body.data.team).toEqual({ gid: secretTeam, resource_type: 'team', name: 'Secret' });
    const read = await api(loner.token, 'GET', `/project_templates/${t}`);
    expect(read.status).toBe(200);
    expect(read.body.data.team).toBeNull();
    const listed = await api(loner.token, 'GET', `/project_templates?workspace=${w.org.gid}&opt_fields=name,team&limit=100`);
    expect(listed.body.data.find((x: { gid: string }) => x.gid === t)).toMatchObject({ gid: t, name: 'Open structure', team: null });
    expect(JSON.stringify(listed.body)).not.toContain(secretTeam);
  });

  test('deleting: the owner or an organization admin; deleted templates vanish', async () => {
    const src = await launchProject(teamMember);
    const t = (await saveAsTemplate(teamMember, src.p, { name: 'Doomed', public: true })).body.data.new_project_template.gid;
    expect((await api(teamMate.token, 'DELETE', `/project_templates/${t}`)).status).toBe(403);
    expect((await api(w.guest.token, 'DELETE', `/project_templates/${t}`)).status).toBe(404);
    expect((await api(w.admin.token, 'DELETE', `/project_templates/${t}`)).status).toBe(200);
    expect((await api(teamMember.token, 'GET', `/project_templates/${t}`)).status).toBe(404);
    expect(gids(await api(teamMember.token, 'GET', `/project_templates?team=${tm}&limit=100`))).not.toContain(t);
    expect((await instantiate(teamMember, t, { name: 'x' })).status).toBe(404);
    const own = (await saveAsTemplate(teamMember, src.p, { name: 'Mine to delete' })).body.data.new_project_template.gid;
    expect((await api(teamMember.token, 'DELETE', `/project_templates/${own}`)).status).toBe(200);
  });

  test('saving needs a full member who can edit the project', async () => {
    const guestEditor = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const viewer = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }, { gid: guestEditor.gid, access: 'editor' }, { gid: viewer.gid, access: 'viewer' }] });
    expect((await saveAsTemplate(guestEditor, p, { name: 'x' })).status).toBe(403);
    expect((await saveAsTemplate(viewer, p, { name: 'x' })).status).toBe(403);
    for (const who of [loner, w.admin, w.guest, other.superAdmin]) expect((await saveAsTemplate(who, p, { name: 'x' })).status).toBe(404);
    expect((await saveAsTemplate(w.member, p, { name: 'x', team: secretTeam })).status).toBe(404);
    expect((await saveAsTemplate(w.member, p, { name: 'x', workspace: other.org.gid })).status).toBe(400);
    expect((await saveAsTemplate(w.member, p, { name: 'Private plan' })).status).toBe(201);
  });

  test('instantiating: privacy follows the source unless given; the team must be one the caller can use; guests need a team', async () => {
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }] });
    await newTask(w.member, { name: 'Hidden work', projects: [p] });
    const leak = await saveAsTemplate(w.member, p, { name: 'Made public', public: true });
    expect(leak.status).toBe(400);
    expect(errors(leak)).toEqual(['data.public: only a project public to the workspace can be saved as a public template']);
    const t = (await saveAsTemplate(w.member, p, { name: 'Private structure' })).body.data.new_project_template.gid;
    const job = await instantiate(w.member, t, { name: 'Private copy' });
    expect(job.status).toBe(201);
    const np = job.body.data.new_project.gid;
    expect((await h.engine.db.selectFrom('projects').select(['privacy_setting', 'team_gid']).where('gid', '=', np).executeTakeFirstOrThrow())).toEqual({ privacy_setting: 'private', team_gid: null });
    expect((await api(w.admin.token, 'GET', `/projects/${np}/tasks`)).status).toBe(404);
    expect(names(await api(w.member.token, 'GET', `/projects/${np}/tasks`))).toEqual(['Hidden work']);
    const open = await instantiate(w.member, t, { name: 'Open copy', public: true });
    expect((await h.engine.db.selectFrom('projects').select('privacy_setting').where('gid', '=', open.body.data.new_project.gid).executeTakeFirstOrThrow()).privacy_setting).toBe('public_to_workspace');
    const noTeam = await instantiate(w.member, t, { name: 'x', privacy_setting: 'private_to_team' });
    expect(noTeam.status).toBe(400);
    expect(errors(noTeam)).toEqual(['data.privacy_setting: private_to_team needs a team']);

    // A public template of a secret team: others must name a team they can use.
    const src = await launchProject(teamMember);
    const secretTemplate = (await saveAsTemplate(teamMember, src.p, { name: 'Secret but public', team: secretTeam, public: true })).body.data.new_project_template.gid;
    const noUsableTeam = await instantiate(loner, secretTemplate, { name: 'x' });
    expect(noUsableTeam.status).toBe(400);
    expect(errors(noUsableTeam)[0]).toMatch(/^data\.team: /);
    expect((await instantiate(loner, secretTemplate, { name: 'x', team: secretTeam })).status).toBe(404);
    expect((await instantiate(loner, secretTemplate, { name: 'x', team: other.org.gid })).status).toBe(404);
    const inTeam = await instantiate(loner, secretTemplate, { name: 'In the launch team', team: tm });
    expect(inTeam.status).toBe(201);
    expect((await h.engine.db.selectFrom('projects').select('team_gid').where('gid', '=', inTeam.body.data.new_project.gid).executeTakeFirstOrThrow()).team_gid).toBe(tm);

    // A guest's own template (saved while a member) without a team: guests cannot create team-less projects.
    const demoted = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const q = await project(h, w.org.gid, { members: [{ gid: demoted.gid, access: 'admin' }] });
    const own = (await saveAsTemplate(demoted, q, { name: 'Mine' })).body.data.new_project_template.gid;
    await h.engine.db.updateTable('organization_memberships').set({ role: 'guest' }).where('user_gid', '=', demoted.gid).where('organization_gid', '=', w.org.gid).execute();
    expect((await instantiate(demoted, own, { name: 'x' })).status).toBe(403);
  });

  test('instantiation is one transaction: a failure part-way leaves no project, sections or tasks', async () => {
    const src = await launchProject(teamMember);
    const t = (await saveAsTemplate(teamMember, src.p, { name: 'Broken' })).body.data.new_project_template.gid;
    // Corrupt the third task: its name breaks the tasks table's length check.
    await h.engine.db.updateTable('project_templates').set({ template: sql`jsonb_set(template, '{tasks,2,name}', to_jsonb(repeat('x', 2000)))` }).where('gid', '=', t).execute();
    const count = async (table: 'projects' | 'sections' | 'tasks') => Number((await h.engine.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await Promise.all([count('projects'), count('sections'), count('tasks')]);
    const res = await instantiate(teamMember, t, { name: 'Half-made' });
    expect(res.status).toBe(500);
    expect(await Promise.all([count('projects'), count('sections'), count('tasks')])).toEqual(before);
    expect(await h.engine.db.selectFrom('projects').select('gid').where('name', '=', 'Half-made').execute()).toEqual([]);
  });

  test('bad input: 400 with field paths', async () => {
    const src = await launchProject(teamMember);
    const noName = await saveAsTemplate(teamMember, src.p, { public: true });
    expect(noName.status).toBe(400);
    expect(errors(noName)[0]).toMatch(/^data\.name: /);
    expect(errors(await saveAsTemplate(teamMember, src.p, { name: 'x', public: 'yes' }))[0]).toMatch(/^data\.public: /);
    expect(errors(await saveAsTemplate(teamMember, src.p, { name: 'x', team: 'design' }))[0]).toMatch(/^data\.team: /);
    const t = (await saveAsTemplate(teamMember, src.p, { name: 'Valid' })).body.data.new_project_template.gid;
    expect(errors(await instantiate(teamMember, t, { name: '  ' }))[0]).toMatch(/^data\.name: /);
    expect(errors(await instantiate(teamMember, t, { name: 'x', privacy_setting: 'secret' }))[0]).toMatch(/^data\.privacy_setting: /);
    const listWithout = await api(teamMember.token, 'GET', '/project_templates');
    expect(listWithout.status).toBe(400);
    expect(errors(listWithout)).toEqual(['query: give workspace or team']);
    expect(errors(await api(teamMember.token, 'GET', '/project_templates/xyz'))[0]).toMatch(/^path\.project_template_gid: /);
    expect((await api(undefined, 'GET', `/project_templates/${t}`)).status).toBe(401);
  });
});

describe('task templates', () => {
  async function taskSource() {
    const p = await project(h, w.org.gid, { team: tm, members: [{ gid: teamMember.gid, access: 'admin' }] });
    const root = await newTask(teamMember, { name: 'Bug report', notes: 'Steps to reproduce', projects: [p], assignee: w.member.gid, start_on: '2026-05-10', due_on: '2026-05-13' });
    const triage = await subtask(teamMember, root.gid, 'Triage', { due_on: '2026-05-11' });
    await subtask(teamMember, root.gid, 'Fix', { resource_subtype: 'approval' });
    await subtask(teamMember, root.gid, 'Verify');
    await subtask(teamMember, triage.gid, 'Label');
    return { p, root };
  }

  test('save a task as a template, read it, list it, instantiate it with its subtasks', async () => {
    const { p, root } = await taskSource();
    const res = await api(teamMember.token, 'POST', `/projects/${p}/task_templates`, { name: 'Bug', task: root.gid });
    expect(res.status).toBe(201);
    const tt = res.body.data;
    expect(tt).toMatchObject({
      resource_type: 'task_template',
      name: 'Bug',
      project: { gid: p, resource_type: 'project' },
      created_by: { gid: teamMember.gid, resource_type: 'user', name: teamMember.name },
      template: {
        name: 'Bug report',
        task_resource_subtype: 'default_task',
        description: 'Steps to reproduce',
        memberships: [{ gid: p, resource_type: 'project' }],
        relative_start_on: 0,
        relative_due_on: 3,
        subtasks: [
          { name: 'Triage', task_resource_subtype: 'default_task' },
          { name: 'Fix', task_resource_subtype: 'approval_task' },
          { name: 'Verify', task_resource_subtype: 'default_task' },
        ],
      },
    });
    expect((await api(teamMate.token, 'GET', `/task_templates/${tt.gid}`)).body.data).toEqual(tt);
    const list = await api(teamMate.token, 'GET', `/task_templates?project=${p}`);
    expect(list.body.data).toEqual([{ gid: tt.gid, resource_type: 'task_template', name: 'Bug' }]);

    const job = await api(teamMate.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, {});
    expect(job.status).toBe(201);
    expect(job.body.data).toMatchObject({ resource_type: 'job', resource_subtype: 'instantiate_task', status: 'succeeded', new_task: { gid: expect.any(String), resource_type: 'task', name: 'Bug' } });
    expect(job.body.data).not.toHaveProperty('new_project');
    const today = h.clock.now().toISOString().slice(0, 10);
    const plus = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
    const made = (await api(teamMate.token, 'GET', `/tasks/${job.body.data.new_task.gid}`)).body.data;
    expect(made).toMatchObject({ name: 'Bug', notes: 'Steps to reproduce', assignee: null, start_on: today, due_on: plus(3), projects: [{ gid: p }], num_subtasks: 3 });
    const subs = await api(teamMate.token, 'GET', `/tasks/${made.gid}/subtasks`);
    expect(names(subs)).toEqual(['Triage', 'Fix', 'Verify']);
    expect((await api(teamMate.token, 'GET', `/tasks/${subs.body.data[0].gid}`)).body.data.due_on).toBe(plus(1));
    expect((await api(teamMate.token, 'GET', `/tasks/${subs.body.data[1].gid}`)).body.data.resource_subtype).toBe('approval');
    expect(names(await api(teamMate.token, 'GET', `/tasks/${subs.body.data[0].gid}/subtasks`))).toEqual(['Label']);
    expect(names(await api(teamMate.token, 'GET', `/projects/${p}/tasks`))).toEqual(['Bug report', 'Bug']);

    const named = await api(teamMate.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, { name: 'Login bug' });
    expect(named.body.data.new_task.name).toBe('Login bug');
  });

  test('task templates follow their project: private projects, guests by access level, other organizations', async () => {
    const guestViewer = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const guestEditor = await person(h, { organizationGid: w.org.gid, role: 'guest' });
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }, { gid: guestViewer.gid, access: 'viewer' }, { gid: guestEditor.gid, access: 'editor' }] });
    const task = await newTask(w.member, { name: 'Checklist', projects: [p] });
    const tt = (await api(w.member.token, 'POST', `/projects/${p}/task_templates`, { name: 'Checklist', task: task.gid })).body.data;
    for (const who of [w.admin, w.superAdmin, loner, w.guest, other.superAdmin]) {
      expect((await api(who.token, 'GET', `/task_templates/${tt.gid}`)).status).toBe(404);
      expect((await api(who.token, 'GET', `/task_templates?project=${p}`)).status).toBe(404);
      expect((await api(who.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, {})).status).toBe(404);
      expect((await api(who.token, 'DELETE', `/task_templates/${tt.gid}`)).status).toBe(404);
    }
    expect((await api(guestViewer.token, 'GET', `/task_templates/${tt.gid}`)).status).toBe(200);
    expect((await api(guestViewer.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, {})).status).toBe(403);
    expect((await api(guestViewer.token, 'DELETE', `/task_templates/${tt.gid}`)).status).toBe(403);
    expect((await api(guestViewer.token, 'POST', `/projects/${p}/task_templates`, { name: 'x', task: task.gid })).status).toBe(403);
    expect((await api(guestEditor.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, {})).status).toBe(201);
    // A task the caller cannot see cannot become a template.
    const privateTask = await newTask(loner, { name: 'My private task', workspace: w.org.gid });
    expect((await api(w.member.token, 'POST', `/projects/${p}/task_templates`, { name: 'x', task: privateTask.gid })).status).toBe(404);

    expect((await api(guestEditor.token, 'DELETE', `/task_templates/${tt.gid}`)).status).toBe(200);
    expect((await api(w.member.token, 'GET', `/task_templates/${tt.gid}`)).status).toBe(404);
    expect((await api(w.member.token, 'GET', `/task_templates?project=${p}`)).body.data).toEqual([]);

    // Deleting the project hides its templates.
    const tt2 = (await api(w.member.token, 'POST', `/projects/${p}/task_templates`, { name: 'Again', task: task.gid })).body.data;
    await h.engine.db.updateTable('projects').set({ deleted_at: h.clock.now() }).where('gid', '=', p).execute();
    expect((await api(w.member.token, 'GET', `/task_templates/${tt2.gid}`)).status).toBe(404);
  });

  test('a task template shows its task to everyone who sees the project: only a task of that project (or a subtask of one) can become one', async () => {
    const open = await project(h, w.org.gid, { team: tm, name: 'Open board', members: [{ gid: teamMember.gid, access: 'admin' }] });
    const closed = await project(h, w.org.gid, { privacy: 'private', name: 'Closed board', members: [{ gid: teamMember.gid, access: 'admin' }] });
    const secret = await newTask(teamMember, { name: 'Reorganization', notes: 'Confidential', projects: [closed] });
    const mine = await newTask(teamMember, { name: 'My own errand', workspace: w.org.gid });
    for (const task of [secret, mine]) {
      const res = await api(teamMember.token, 'POST', `/projects/${open}/task_templates`, { name: 'Copied', task: task.gid });
      expect(res.status).toBe(400);
      expect(errors(res)).toEqual(['data.task: only a task of this project (or a subtask of one) can become its template']);
    }
    expect((await api(loner.token, 'GET', `/task_templates?project=${open}`)).body.data).toEqual([]);
    // Its own tasks, subtasks of them and tasks it shares with other projects can.
    const own = await newTask(teamMember, { name: 'Checklist', projects: [open] });
    const step = await subtask(teamMember, own.gid, 'Step');
    const shared = await newTask(teamMember, { name: 'Shared', projects: [closed, open] });
    for (const task of [own, step, shared]) expect((await api(teamMember.token, 'POST', `/projects/${open}/task_templates`, { name: task.name, task: task.gid })).status).toBe(201);
    expect(names(await api(loner.token, 'GET', `/task_templates?project=${open}`)).sort()).toEqual(['Checklist', 'Shared', 'Step']);
  });

  test('bad input: 400 with field paths', async () => {
    const { p, root } = await taskSource();
    expect(errors(await api(teamMember.token, 'POST', `/projects/${p}/task_templates`, { name: 'x', task: 'bug' }))[0]).toMatch(/^data\.task: /);
    expect(errors(await api(teamMember.token, 'POST', `/projects/${p}/task_templates`, { task: root.gid }))[0]).toMatch(/^data\.name: /);
    const noProject = await api(teamMember.token, 'GET', '/task_templates');
    expect(noProject.status).toBe(400);
    expect(errors(noProject)[0]).toMatch(/^query\.project: /);
    const tt = (await api(teamMember.token, 'POST', `/projects/${p}/task_templates`, { name: 'Valid', task: root.gid })).body.data;
    expect(errors(await api(teamMember.token, 'POST', `/task_templates/${tt.gid}/instantiateTask`, { name: 7 }))[0]).toMatch(/^data\.name: /);
    expect(errors(await api(teamMember.token, 'DELETE', '/task_templates/tt-1'))[0]).toMatch(/^path\.task_template_gid: /);
  });
});

describe('on the Data API stand-in', () => {
  let d: IdentityHarness;
  beforeAll(async () => {
    d = await identityHarness({ engine: 'data-api', extraRoutes: [...messageRoutes, ...templateRoutes] });
  });
  afterAll(async () => {
    await d?.close();
  });

  test('a template larger than the 64 KB row limit is saved, read and instantiated', async () => {
    const org = await organizationWithRoles(d, 'Big');
    const p = await project(d, org.org.gid, { members: [{ gid: org.member.gid, access: 'admin' }] });
    const notes = (i: number) => `Task ${i} "notes" — ${'ünïcode & quotes " \\ '.repeat(150)}`;
    for (let i = 0; i < 30; i++) await newTask(org.member, { name: `Big ${i}`, notes: notes(i), projects: [p] }, d);
    const job = await api(org.member.token, 'POST', `/projects/${p}/saveAsTemplate`, { name: 'Big one' }, d);
    expect(job.status).toBe(201);
    const size = await d.engine.db.selectFrom('project_templates').select((eb) => eb.fn<number>('octet_length', [eb.cast('template', 'text')]).as('n')).where('gid', '=', job.body.data.new_project_template.gid).executeTakeFirstOrThrow();
    expect(Number(size.n)).toBeGreaterThan(64 * 1024);
    const made = await api(org.member.token, 'POST', `/project_templates/${job.body.data.new_project_template.gid}/instantiateProject`, { name: 'Big copy' }, d);
    expect(made.status).toBe(201);
    const list = await api(org.member.token, 'GET', `/projects/${made.body.data.new_project.gid}/tasks?limit=100&opt_fields=name,notes`, undefined, d);
    expect(list.body.data).toHaveLength(30);
    expect(list.body.data.map((t: { name: string }) => t.name)).toEqual(Array.from({ length: 30 }, (_, i) => `Big ${i}`));
    expect(list.body.data.every((t: { name: string; notes: string }) => t.notes === notes(Number(t.name.slice(4))))).toBe(true);

    // A task template of the copy, from one of its tasks (a task template takes only a task of its project).
    const tt = await api(org.member.token, 'POST', `/projects/${made.body.data.new_project.gid}/task_templates`, { name: 'One', task: list.body.data[0].gid }, d);
    expect(tt.status).toBe(201);
    expect(tt.body.data.template.description).toBe(notes(0));
  });
});
