/**
 * `npm start -- --seed demo` (or SEED=demo): a realistic demo organization to try the
 * product with. Built through the same use cases the API runs (so access rules,
 * followers and modified_at are real); idempotent: a second run only prints the logins.
 */
import type { Role } from '../db/schema.js';
import { organizations } from '../db/repositories/organizations.js';
import { users } from '../db/repositories/users.js';
import { hashPassword } from '../domain/auth/passwords.js';
import type { AppDeps } from '../domain/deps.js';
import type { Viewer } from '../domain/access/policy.js';
import { createProject, deleteProject, createStatus } from '../domain/work/projects.js';
import { createSection } from '../domain/work/sections.js';
import { addComment, likeStory } from '../domain/work/stories.js';
import { createTask, deleteTask, setLiked } from '../domain/work/tasks.js';

export const DEMO_ORGANIZATION = 'Analytical Engines (demo)';

export interface DemoLogin {
  email: string;
  password: string;
  role: Role;
  name: string;
}

export const DEMO_LOGINS: DemoLogin[] = [
  { email: 'ada@demo.example', password: 'demo: notes on the engine', role: 'super_admin', name: 'Ada Lovelace' },
  { email: 'charles@demo.example', password: 'demo: difference engine', role: 'admin', name: 'Charles Babbage' },
  { email: 'mary@demo.example', password: 'demo: mechanical turk', role: 'member', name: 'Mary Somerville' },
  { email: 'grace@demo.example', password: 'demo: first compiler', role: 'member', name: 'Grace Hopper' },
  { email: 'guest@demo.example', password: 'demo: just visiting', role: 'guest', name: 'Gus Guest' },
];

export async function seedDemo(deps: AppDeps): Promise<{ created: boolean; organizationGid: string; logins: DemoLogin[] }> {
  const db = deps.database.db;
  const existing = await db.selectFrom('organizations').select('gid').where('name', '=', DEMO_ORGANIZATION).executeTakeFirst();
  if (existing) return { created: false, organizationGid: existing.gid, logins: DEMO_LOGINS };

  const now = deps.clock.now();
  const day = (offset: number) => new Date(now.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  const org = await organizations.create(db, { gid: deps.ids.gid(), name: DEMO_ORGANIZATION, plan: 'paid', now });
  const people: Record<string, { gid: string; viewer: Viewer }> = {};
  for (const login of DEMO_LOGINS) {
    const user = await users.create(db, { gid: deps.ids.gid(), email: login.email, name: login.name, now });
    await db.updateTable('users').set({ password_hash: await hashPassword(login.password, deps.config.auth.scrypt), password_changed_at: now }).where('gid', '=', user.gid).execute();
    await organizations.addMember(db, { gid: deps.ids.gid(), organizationGid: org.gid, userGid: user.gid, role: login.role, now });
    people[login.email.split('@')[0]!] = { gid: user.gid, viewer: { userGid: user.gid, organizationGid: org.gid, role: login.role } };
  }
  const { ada, charles, mary, grace, guest } = people as Record<'ada' | 'charles' | 'mary' | 'grace' | 'guest', { gid: string; viewer: Viewer }>;

  const team = async (name: string, visibility: 'public' | 'request_to_join' | 'secret', members: { gid: string; limited?: boolean }[], description: string) => {
    const gid = deps.ids.gid();
    await db.insertInto('teams').values({ gid, organization_gid: org.gid, name, description, visibility, created_by: ada.gid, created_at: now, modified_at: now }).execute();
    for (const m of members) await db.insertInto('team_memberships').values({ gid: deps.ids.gid(), team_gid: gid, user_gid: m.gid, is_limited_access: m.limited ?? false, created_at: now }).execute();
    return gid;
  };
  const engineering = await team('Engineering', 'public', [{ gid: ada.gid }, { gid: charles.gid }, { gid: grace.gid }], 'Building the Analytical Engine.');
  const research = await team('Research', 'request_to_join', [{ gid: mary.gid }, { gid: ada.gid }, { gid: grace.gid, limited: true }], 'Mathematics and notes.');
  const board = await team('Board', 'secret', [{ gid: ada.gid }, { gid: charles.gid }], 'Funding and governance.');

  // Custom fields from the organization's library.
  const field = async (name: string, type: 'text' | 'number' | 'enum' | 'multi_enum' | 'date' | 'people', options: string[] = []) => {
    const gid = deps.ids.gid();
    await db.insertInto('custom_fields').values({ gid, organization_gid: org.gid, name, resource_subtype: type, precision: type === 'number' ? 1 : null, created_by: ada.gid, created_at: now }).execute();
    const optionGids: string[] = [];
    for (const [i, o] of options.entries()) {
      const og = deps.ids.gid();
      optionGids.push(og);
      await db.insertInto('custom_field_enum_options').values({ gid: og, custom_field_gid: gid, name: o, color: ['red', 'yellow', 'green', 'blue'][i % 4]!, position: i }).execute();
    }
    return { gid, options: optionGids };
  };
  const priority = await field('Priority', 'enum', ['High', 'Medium', 'Low']);
  const estimate = await field('Estimate (days)', 'number');
  const reviewers = await field('Reviewers', 'people');

  const tag = async (name: string, color: string) => {
    const gid = deps.ids.gid();
    await db.insertInto('tags').values({ gid, organization_gid: org.gid, name, color, created_by: ada.gid, created_at: now }).execute();
    return gid;
  };
  const blocker = await tag('blocker', 'dark-red');
  const idea = await tag('idea', 'light-green');

  const engine = await createProject(deps, ada.viewer, { name: 'Analytical Engine', notes: 'The general-purpose machine.', team: engineering, privacy_setting: 'public_to_workspace', due_on: day(60), default_view: 'board', members: [charles.gid, grace.gid] });
  const notes = await createProject(deps, mary.viewer, { name: 'Notes on the Engine', team: research, privacy_setting: 'private_to_team', due_on: day(30) });
  const funding = await createProject(deps, charles.viewer, { name: 'Funding 1843', team: board, privacy_setting: 'private', members: [ada.gid] });
  const retired = await createProject(deps, ada.viewer, { name: 'Difference Engine No. 1 (retired)', team: engineering });
  for (const [i, f] of [priority, estimate, reviewers].entries()) {
    await db.insertInto('project_custom_field_settings').values({ gid: deps.ids.gid(), project_gid: engine, custom_field_gid: f.gid, is_important: i === 0, position: i }).execute();
  }
  // The guest is added to one project only.
  await db.insertInto('project_memberships').values({ gid: deps.ids.gid(), project_gid: notes, user_gid: guest.gid, access_level: 'commenter', created_at: now }).execute();

  const sections: Record<string, string> = {};
  for (const s of ['To do', 'Doing', 'Done']) sections[s] = await createSection(deps, ada.viewer, engine, { name: s });

  const task = (viewer: Viewer, input: Parameters<typeof createTask>[2]) => createTask(deps, viewer, input);
  const mill = await task(ada.viewer, {
    name: 'Design the mill',
    notes: 'The arithmetic unit: addition, subtraction, multiplication, division.',
    memberships: [{ project: engine, section: sections['Doing']! }],
    assignee: charles.gid,
    due_on: day(7),
    tags: [blocker],
    custom_fields: { [priority.gid]: priority.options[0], [estimate.gid]: 12.5, [reviewers.gid]: [ada.gid, grace.gid] },
  });
  for (const name of ['Carry mechanism', 'Gear tolerances', 'Anticipating carriage']) await task(ada.viewer, { name, parent: mill, assignee: grace.gid, due_on: day(5) });
  const store = await task(charles.viewer, { name: 'Build the store (memory)', memberships: [{ project: engine, section: sections['To do']! }], assignee: grace.gid, custom_fields: { [priority.gid]: priority.options[1] } });
  await task(grace.viewer, { name: 'Punched card reader', memberships: [{ project: engine, section: sections['To do']! }], tags: [idea], start_on: day(10), due_on: day(20) });
  await task(ada.viewer, { name: 'Print table of Bernoulli numbers', memberships: [{ project: engine, section: sections['Done']! }], completed: true, assignee: ada.gid });
  const noteG = await task(mary.viewer, { name: 'Note G: computing Bernoulli numbers', projects: [notes], assignee: ada.gid, followers: [guest.gid], due_on: day(14) });
  await task(mary.viewer, { name: 'Translate Menabrea’s paper', projects: [notes], assignee: mary.gid, completed: true });
  await task(charles.viewer, { name: 'Letter to the Chancellor', projects: [funding], assignee: charles.gid, due_on: day(3), notes: 'Confidential.' });
  await task(ada.viewer, { name: 'Personal: reply to Mr. De Morgan', workspace: org.gid, assignee: ada.gid });

  const c1 = await addComment(deps, grace.viewer, mill, { text: 'The carry mechanism needs another revision.' });
  await addComment(deps, charles.viewer, mill, { text: 'Agreed. I will sketch anticipating carriage.' });
  await likeStory(deps, ada.viewer, c1, true);
  await setLiked(deps, ada.viewer, mill, true);
  await setLiked(deps, grace.viewer, mill, true);
  await addComment(deps, guest.viewer, noteG, { text: 'A wonderful note.' });
  await createStatus(deps, ada.viewer, engine, { title: 'Week 12', text: 'The mill is on schedule; the store is waiting for parts.', status_type: 'on_track' });

  // An attachment on a task (a small PDF-like file in the blob store).
  const attachmentGid = deps.ids.gid();
  const key = `attachments/${org.gid}/${attachmentGid}`;
  await deps.blobs.put(key, '%PDF-1.4\n% demo attachment\n', { contentType: 'application/pdf' });
  await db.insertInto('attachments').values({ gid: attachmentGid, organization_gid: org.gid, parent_type: 'task', parent_gid: mill, name: 'mill-drawing.pdf', content_type: 'application/pdf', size: 27, blob_key: key, created_by: charles.gid, created_at: now }).execute();

  // Messages to a team and a project, with a reply.
  const message = deps.ids.gid();
  await db.insertInto('messages').values({ gid: message, organization_gid: org.gid, parent_type: 'team', parent_gid: engineering, title: 'Kick-off', text: 'Welcome to the Analytical Engine project.', author_gid: ada.gid, created_at: now, modified_at: now }).execute();
  await db.insertInto('messages').values({ gid: deps.ids.gid(), organization_gid: org.gid, parent_type: 'team', parent_gid: engineering, reply_to_gid: message, text: 'Glad to be here.', author_gid: grace.gid, created_at: now, modified_at: now }).execute();
  await db.insertInto('messages').values({ gid: deps.ids.gid(), organization_gid: org.gid, parent_type: 'project', parent_gid: notes, title: 'Draft ready', text: 'Notes A to G are drafted.', author_gid: mary.gid, created_at: now, modified_at: now }).execute();

  // Recently deleted work: a deleted project (kept) and deleted tasks (restorable for 30 days).
  await task(ada.viewer, { name: 'Old calculation tables', projects: [retired] });
  await deleteProject(deps, ada.viewer, retired);
  const abandoned = await task(charles.viewer, { name: 'Steam-powered prototype', memberships: [{ project: engine, section: sections['To do']! }] });
  await deleteTask(deps, charles.viewer, abandoned);
  const duplicate = await task(grace.viewer, { name: 'Duplicate of: Build the store', projects: [engine] });
  await deleteTask(deps, grace.viewer, duplicate);
  void store;
  return { created: true, organizationGid: org.gid, logins: DEMO_LOGINS };
}
