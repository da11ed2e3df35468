/** Direct inserts for work-graph fixtures (teams, projects, sections, custom fields) in tests. */
import type { PrivacySetting, TeamVisibility } from '../../lambdas/db/schema.js';
import type { IdentityHarness } from './identity.js';

export async function team(h: IdentityHarness, organizationGid: string, init: { visibility?: TeamVisibility; members?: { gid: string; limited?: boolean }[]; name?: string } = {}) {
  const now = h.deps.clock.now();
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('teams').values({ gid, organization_gid: organizationGid, name: init.name ?? `Team ${gid.slice(-4)}`, visibility: init.visibility ?? 'public', created_at: now, modified_at: now }).execute();
  for (const m of init.members ?? []) await h.engine.db.insertInto('team_memberships').values({ gid: h.deps.ids.gid(), team_gid: gid, user_gid: m.gid, is_limited_access: m.limited ?? false, created_at: now }).execute();
  return gid;
}

export async function project(h: IdentityHarness, organizationGid: string, init: { team?: string | null; privacy?: PrivacySetting; members?: { gid: string; access?: 'admin' | 'editor' | 'commenter' | 'viewer' }[]; name?: string; owner?: string } = {}) {
  const now = h.deps.clock.now();
  const gid = h.deps.ids.gid();
  await h.engine.db
    .insertInto('projects')
    .values({ gid, organization_gid: organizationGid, team_gid: init.team ?? null, name: init.name ?? `Project ${gid.slice(-4)}`, privacy_setting: init.privacy ?? 'public_to_workspace', owner_gid: init.owner ?? null, created_at: now, modified_at: now })
    .execute();
  for (const m of init.members ?? []) await h.engine.db.insertInto('project_memberships').values({ gid: h.deps.ids.gid(), project_gid: gid, user_gid: m.gid, access_level: m.access ?? 'editor', created_at: now }).execute();
  return gid;
}

export async function section(h: IdentityHarness, projectGid: string, name: string, position: number) {
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('sections').values({ gid, project_gid: projectGid, name, position, created_at: h.deps.clock.now() }).execute();
  return gid;
}

export async function customField(h: IdentityHarness, organizationGid: string, type: 'text' | 'number' | 'enum' | 'multi_enum' | 'date' | 'people', options: string[] = []) {
  const gid = h.deps.ids.gid();
  await h.engine.db.insertInto('custom_fields').values({ gid, organization_gid: organizationGid, name: `Field ${type}`, resource_subtype: type, precision: type === 'number' ? 2 : null, created_at: h.deps.clock.now() }).execute();
  const optionGids: string[] = [];
  for (const [i, name] of options.entries()) {
    const o = h.deps.ids.gid();
    optionGids.push(o);
    await h.engine.db.insertInto('custom_field_enum_options').values({ gid: o, custom_field_gid: gid, name, position: i }).execute();
  }
  return { gid, options: optionGids };
}

/**
 * Three tasks of a fixture world: a task in `section` with a subtask, and a second task in
 * the project outside any section (rows, ancestry and project membership).
 */
export async function taskTrio(h: IdentityHarness, init: { organizationGid: string; project: string; section: string; createdBy: string; names: { task: string; notes: string; second: string; subtask: string } }) {
  const db = h.engine.db;
  const now = h.deps.clock.now();
  const [task, task2, subtask] = [h.deps.ids.gid(), h.deps.ids.gid(), h.deps.ids.gid()];
  const { organizationGid: organization_gid, createdBy: created_by, names } = init;
  await db
    .insertInto('tasks')
    .values([
      { gid: task, organization_gid, name: names.task, notes: names.notes, created_by, created_at: now, modified_at: now },
      { gid: task2, organization_gid, name: names.second, created_by, created_at: now, modified_at: now },
      { gid: subtask, organization_gid, name: names.subtask, parent_gid: task, created_by, created_at: now, modified_at: now },
    ])
    .execute();
  await db
    .insertInto('task_ancestors')
    .values([
      { task_gid: task, ancestor_gid: task, depth: 0 },
      { task_gid: task2, ancestor_gid: task2, depth: 0 },
      { task_gid: subtask, ancestor_gid: subtask, depth: 0 },
      { task_gid: subtask, ancestor_gid: task, depth: 1 },
    ])
    .execute();
  await db
    .insertInto('task_projects')
    .values([
      { task_gid: task, project_gid: init.project, section_gid: init.section, position: 1, added_at: now },
      { task_gid: task2, project_gid: init.project, section_gid: null, position: 2, added_at: now },
    ])
    .execute();
  return { task, task2, subtask };
}
