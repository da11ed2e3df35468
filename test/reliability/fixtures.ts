/**
 * Shared pieces of the reliability suites: a world of real objects for every path
 * parameter of the route table (modelled on the authorization matrix's worlds), a
 * state mark of every table (row counts, and rows written since, by xmin), and the
 * checks every error answer must pass.
 */
import { join } from 'node:path';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { users } from '../../lambdas/db/repositories/users.js';
import { completeLogin } from '../../lambdas/domain/auth/sessions.js';
import { createServiceAccount } from '../../lambdas/domain/auth/service-accounts.js';
import { CHROME_MAC, type IdentityHarness } from '../support/identity.js';
import { project as insertProject, section as insertSection, taskTrio, team as insertTeam } from '../support/graph.js';
import { person, type Person } from '../support/world.js';

export { seededDataDir } from '../support/engines.js';

// --- People and worlds ---------------------------------------------------------------------

export interface Cast {
  org: string;
  /** Super admin of the organization, member of every world's team and project: the bad part of a request is the only thing wrong. */
  caller: Person;
  /** Another full member (followers, members, assignees). */
  other: Person;
  /** The caller's My tasks list. */
  userTaskList: string;
}

/** An organization (paid plan, so team exports work) with the people the suites call as. */
export async function cast(h: IdentityHarness): Promise<Cast> {
  const now = h.deps.clock.now();
  const org = (await organizations.create(h.engine.db, { gid: h.deps.ids.gid(), name: 'Reliability organization', now })).gid;
  await h.engine.db.updateTable('organizations').set({ plan: 'paid' }).where('gid', '=', org).execute();
  const caller = await person(h, { organizationGid: org, role: 'super_admin', name: 'Reliability caller' });
  const other = await person(h, { organizationGid: org, role: 'member', name: 'Reliability other' });
  const list = await h.call({ path: `/api/1.0/users/me/user_task_list?workspace=${org}`, token: caller.token });
  if (list.status !== 200) throw new Error(`setup: My tasks: ${list.status} ${JSON.stringify(list.body)}`);
  return { org, caller, other, userTaskList: list.body.data.gid };
}

/** Puts the shared people back in the organization with their roles (after routes that may remove them). */
export async function restoreCast(h: IdentityHarness, c: Cast): Promise<void> {
  for (const [user, role] of [
    [c.caller.gid, 'super_admin'],
    [c.other.gid, 'member'],
  ] as const) {
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: null, role }).where('organization_gid', '=', c.org).where('user_gid', '=', user).execute();
  }
}

/** Objects for every path parameter of the route table, all visible to and editable by the caller. */
export type World = Record<string, string>;

let worldCount = 0;

export async function buildWorld(h: IdentityHarness, c: Cast): Promise<World> {
  const n = ++worldCount;
  const db = h.engine.db;
  const now = h.clock.now();
  const gid = () => h.deps.ids.gid();
  const me = c.caller.gid;
  const team = await insertTeam(h, c.org, { visibility: 'public', members: [{ gid: me }, { gid: c.other.gid }], name: `Team W${n}` });
  const project = await insertProject(h, c.org, { team, privacy: 'public_to_workspace', owner: me, members: [{ gid: me, access: 'admin' }, { gid: c.other.gid, access: 'editor' }], name: `Project W${n}` });
  const section = await insertSection(h, project, `Section W${n}`, 1);
  const emptySection = await insertSection(h, project, `Empty section W${n}`, 2);
  const { task, task2, subtask } = await taskTrio(h, { organizationGid: c.org, project, section, createdBy: me, names: { task: `Task W${n}`, notes: 'notes', second: `Second task W${n}`, subtask: `Subtask W${n}` } });
  await db.insertInto('task_followers').values({ task_gid: task, user_gid: c.other.gid, created_at: now }).execute();
  const story = gid();
  await db.insertInto('stories').values({ gid: story, task_gid: task, text: `Comment W${n}`, created_by: me, created_at: now, modified_at: now }).execute();
  const tag = gid();
  await db.insertInto('tags').values({ gid: tag, organization_gid: c.org, name: `Tag W${n}`, created_by: me, created_at: now }).execute();
  await db.insertInto('task_tags').values({ task_gid: task, tag_gid: tag, added_at: now }).execute();
  const [field, option, option2, field2] = [gid(), gid(), gid(), gid()];
  await db
    .insertInto('custom_fields')
    .values([
      { gid: field, organization_gid: c.org, name: `Field W${n}`, resource_subtype: 'enum', created_by: me, created_at: now },
      { gid: field2, organization_gid: c.org, name: `Text field W${n}`, resource_subtype: 'text', created_by: me, created_at: now },
    ])
    .execute();
  await db
    .insertInto('custom_field_enum_options')
    .values([
      { gid: option, custom_field_gid: field, name: `Option W${n}`, position: 1 },
      { gid: option2, custom_field_gid: field, name: `Second option W${n}`, position: 2 },
    ])
    .execute();
  await db.insertInto('project_custom_field_settings').values({ gid: gid(), project_gid: project, custom_field_gid: field, position: 1 }).execute();
  const status = gid();
  await db.insertInto('project_statuses').values({ gid: status, project_gid: project, title: `Status W${n}`, text: 'on track', status_type: 'on_track', author_gid: me, created_at: now, modified_at: now }).execute();
  const message = gid();
  await db.insertInto('messages').values({ gid: message, organization_gid: c.org, parent_type: 'project', parent_gid: project, title: `Message W${n}`, text: 'Hello', author_gid: me, created_at: now, modified_at: now }).execute();
  const attachment = gid();
  const blobKey = `attachments/${c.org}/${attachment}`;
  await h.deps.blobs.put(blobKey, 'hello').catch(() => undefined);
  await db.insertInto('attachments').values({ gid: attachment, organization_gid: c.org, parent_type: 'task', parent_gid: task, name: `Attachment W${n}.txt`, content_type: 'text/plain', size: 5, blob_key: blobKey, created_by: me, created_at: now }).execute();
  const projectTemplate = gid();
  const template = { version: 1, color: null, default_view: 'list', privacy_setting: 'public_to_workspace', relative_start_on: null, relative_due_on: null, requested_dates: [], sections: [{ name: 'Doing' }], tasks: [], custom_field_settings: [] };
  await db.insertInto('project_templates').values({ gid: projectTemplate, organization_gid: c.org, team_gid: team, name: `Template W${n}`, owner_gid: me, is_public: false, template: JSON.stringify(template), created_at: now }).execute();
  const taskTemplate = gid();
  const taskTemplateDoc = { version: 1, name: 'From a template', notes: '', resource_subtype: 'default_task', section: null, relative_start_on: null, relative_due_on: null, subtasks: [] };
  await db.insertInto('task_templates').values({ gid: taskTemplate, project_gid: project, name: `Task template W${n}`, template: JSON.stringify(taskTemplateDoc), created_by: me, created_at: now }).execute();
  const savedSearch = gid();
  await db.insertInto('saved_searches').values({ gid: savedSearch, organization_gid: c.org, owner_gid: me, name: `Saved search W${n}`, filters: JSON.stringify({ text: 'task' }), created_at: now, modified_at: now }).execute();
  const orgExport = await finishedExport(h, c, 'organization');
  const teamExport = await finishedExport(h, c, 'team_csv');
  const session = (await completeLogin(h.deps, { user: (await db.selectFrom('users').selectAll().where('gid', '=', me).executeTakeFirstOrThrow()) as never, method: 'signup', ctx: { ip: '198.51.100.2', userAgent: CHROME_MAC, baseUrl: 'https://tasks.example.test' } })).sessionGid;
  const serviceAccount = (await createServiceAccount(h.deps, { organizationGid: c.org, name: `Account W${n}`, scopes: ['exports'], creatorGid: me, ip: '198.51.100.1', userAgent: CHROME_MAC })).gid;
  // Someone routes may remove from the workspace (the shared people must stay in it).
  const victim = (await users.create(db, { gid: gid(), email: `victim-w${n}-${Date.now().toString(36)}@example.com`, name: `Removable W${n}`, now })).gid;
  await organizations.addMember(db, { gid: gid(), organizationGid: c.org, userGid: victim, role: 'member', now });
  const membership = async (table: 'project_memberships' | 'team_memberships' | 'organization_memberships', column: 'project_gid' | 'team_gid' | 'organization_gid', value: string, user = c.other.gid) =>
    (
      await db
        .selectFrom(table as 'project_memberships')
        .select('gid')
        .where(column as 'project_gid', '=', value)
        .where('user_gid', '=', user)
        .executeTakeFirstOrThrow()
    ).gid;

  return {
    // Path parameters by name
    workspace_gid: c.org,
    organization_gid: c.org,
    org_gid: c.org,
    team_gid: team,
    project_gid: project,
    section_gid: section,
    task_gid: task,
    story_gid: story,
    tag_gid: tag,
    custom_field_gid: field,
    enum_option_gid: option,
    project_status_gid: status,
    status_update_gid: status,
    user_gid: c.other.gid,
    user_task_list_gid: c.userTaskList,
    project_membership_gid: await membership('project_memberships', 'project_gid', project),
    team_membership_gid: await membership('team_memberships', 'team_gid', team),
    workspace_membership_gid: await membership('organization_memberships', 'organization_gid', c.org),
    saved_search_gid: savedSearch,
    session_gid: session,
    service_account_gid: serviceAccount,
    attachment_gid: attachment,
    message_gid: message,
    project_template_gid: projectTemplate,
    task_template_gid: taskTemplate,
    organization_export_gid: orgExport,
    export_gid: teamExport,
    // Other objects bodies and queries name
    task2,
    subtask,
    emptySection,
    option2,
    field2,
    me,
    other: c.other.gid,
    victim,
  };
}

async function finishedExport(h: IdentityHarness, c: Cast, kind: 'organization' | 'team_csv'): Promise<string> {
  const g = h.deps.ids.gid();
  const now = h.clock.now();
  const key = `exports/jobs/${c.org}/${g}.${kind === 'organization' ? 'json.gz' : 'csv'}`;
  await h.deps.blobs.put(key, 'export bytes').catch(() => undefined);
  const manifest = { counts: {}, bytes: 12, source_bytes: 12, sha256: '0'.repeat(64), content_type: 'text/csv; charset=utf-8', gzip: kind === 'organization', filename: `Reliability.csv` };
  await h.engine.db
    .insertInto('export_jobs')
    .values({ gid: g, organization_gid: c.org, kind, state: 'finished', requested_by_user: c.caller.gid, base_url: 'https://tasks.example.test', created_at: now, modified_at: now, finished_at: now, expires_at: new Date(now.getTime() + 7 * 86_400_000), blob_key: key, manifest: JSON.stringify(manifest) })
    .execute();
  return g;
}

// --- State marks: test/support/state-mark.ts ----------------------------------------------

export { stateChanges, stateMark, type StateMark } from '../support/state-mark.js';

// --- Answers -------------------------------------------------------------------------------

/** Text that must never reach a client: stack frames, file paths, SQL and driver messages. */
const INTERNALS = [
  /\bat (?:async )?[\w$.<>]+ \(/, // stack frame "at fn ("
  /\bat (?:file:\/\/|\/)[^\s]+:\d+:\d+/, // stack frame "at /path/file.js:1:2"
  /\.(?:ts|js|mjs|cjs):\d+(?::\d+)?/, // file:line
  /node_modules|\/work\/|\/lambdas\//,
  /syntax error at or near|invalid input syntax|violates (?:foreign key|not-null|check|unique)|duplicate key value|relation "|column "[^"]*" (?:does not exist|of relation)|current transaction is aborted|unterminated quoted|invalid byte sequence|SQLSTATE|SQLState|pglite|kysely|ZodError|TypeError|RangeError|ReferenceError|Cannot read propert|undefined is not|is not a function/i,
];
const SQL_TEXT = /\b(?:select\s+[\w*"]+(?:\s*,\s*[\w*".]+)*\s+from|insert\s+into|update\s+"?\w+"?\s+set|delete\s+from)\b/i;

/** Problems with an error answer (status 4xx expected). `echoes` are parts of the request the message may repeat. */
export function errorBodyProblems(status: number, headers: Record<string, string | undefined>, body: string, echoes: string[] = []): string[] {
  const problems: string[] = [];
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  if (!/^application\/json\b/i.test(type)) problems.push(`error answer is not JSON (Content-Type ${JSON.stringify(type)})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    problems.push(`error answer does not parse as JSON: ${body.slice(0, 120)}`);
    return problems;
  }
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) problems.push(`no "errors" array in ${body.slice(0, 160)}`);
  else {
    for (const e of errors) if (typeof e !== 'object' || e === null || typeof (e as { message?: unknown }).message !== 'string' || !(e as { message: string }).message) problems.push(`an error without a message: ${JSON.stringify(e).slice(0, 120)}`);
  }
  if (status >= 500) return problems;
  let text = body;
  // The message may quote what the client sent (a path, a field name); that is not a leak.
  for (const e of echoes.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) text = text.split(JSON.stringify(e).slice(1, -1)).join('').split(e).join('');
  for (const re of INTERNALS) if (re.test(text)) problems.push(`the error answer shows internals (${re}): ${body.slice(0, 200)}`);
  if (SQL_TEXT.test(text)) problems.push(`the error answer shows SQL: ${body.slice(0, 200)}`);
  return problems;
}
