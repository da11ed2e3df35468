/**
 * Loading tasks for answers and exports: a fixed number of queries for any number of
 * tasks (one per facet), never one per task. What a task refers to is shown only when
 * the viewer may see it: its projects and sections, its tags, its parent, its custom fields.
 */
import { sql } from 'kysely';
import { dateOnly, toNumber } from '../../db/query.js';
import type { Db } from './common.js';
import { iso } from './common.js';
import { customFieldVisible, projectVisible, tagVisible, taskVisible, type Viewer } from '../access/policy.js';
import { enumOptionView } from './custom-fields.js';
import { maybe, projectCompact, sectionCompact, tagCompact, taskCompact, userCompact, workspaceCompact } from './present.js';

export interface CustomFieldValueView {
  gid: string;
  resource_type: 'custom_field';
  name: string;
  resource_subtype: string;
  type: string;
  display_value: string | null;
  text_value?: string | null;
  number_value?: number | null;
  date_value?: { date: string; date_time: null } | null;
  enum_value?: { gid: string; resource_type: 'enum_option'; name: string; color: string | null; enabled: boolean } | null;
  multi_enum_values?: { gid: string; resource_type: 'enum_option'; name: string; color: string | null; enabled: boolean }[];
  people_value?: { gid: string; resource_type: 'user'; name: string }[];
  precision?: number;
}

export interface TaskViewOptions {
  /**
   * A membership in no section of its project: 'omit' leaves `section` out, as Asana's API
   * (TaskResponse.memberships[].section is a SectionCompact, never null); 'null' keeps
   * `section: null`, as the export format documents.
   */
  sectionless?: 'omit' | 'null';
}

export async function loadTaskViews(db: Db, gids: string[], viewer: Viewer, baseUrl: string, shape: TaskViewOptions = {}): Promise<Map<string, Record<string, unknown>>> {
  const viewerGid = viewer.userGid;
  const out = new Map<string, Record<string, unknown>>();
  if (gids.length === 0) return out;
  const [tasks, memberships, tags, followers, likes, values, subtasks, parents] = await Promise.all([
    db
      .selectFrom('tasks as t')
      .innerJoin('organizations as o', 'o.gid', 't.organization_gid')
      .leftJoin('users as a', 'a.gid', 't.assignee_gid')
      .leftJoin('users as c', 'c.gid', 't.created_by')
      .leftJoin('tasks as par', 'par.gid', 't.parent_gid')
      .select(['t.gid', 't.name', 't.notes', 't.resource_subtype', 't.completed', 't.completed_at', 't.assignee_gid', 't.assignee_status', 't.due_on', 't.start_on', 't.created_at', 't.modified_at', 't.deleted_at', 't.parent_gid'])
      .select(['o.gid as org_gid', 'o.name as org_name', 'a.name as assignee_name', 'c.gid as creator_gid', 'c.name as creator_name', 'par.name as parent_name', 'par.resource_subtype as parent_subtype'])
      .where('t.gid', 'in', gids)
      .execute(),
    db
      .selectFrom('task_projects as tp')
      .innerJoin('projects as p', 'p.gid', 'tp.project_gid')
      .leftJoin('sections as s', 's.gid', 'tp.section_gid')
      .select(['tp.task_gid', 'p.gid as project_gid', 'p.name as project_name', 's.gid as section_gid', 's.name as section_name'])
      .where('tp.task_gid', 'in', gids)
      .where(projectVisible(viewer, 'p'))
      .orderBy('tp.added_at')
      .execute(),
    db.selectFrom('task_tags as tt').innerJoin('tags as g', 'g.gid', 'tt.tag_gid').select(['tt.task_gid', 'g.gid', 'g.name']).where('tt.task_gid', 'in', gids).where(tagVisible(viewer, 'g')).orderBy('tt.added_at').execute(),
    db.selectFrom('task_followers as f').innerJoin('users as u', 'u.gid', 'f.user_gid').select(['f.task_gid', 'u.gid', 'u.name']).where('f.task_gid', 'in', gids).orderBy('f.created_at').execute(),
    db.selectFrom('task_likes as l').innerJoin('users as u', 'u.gid', 'l.user_gid').select(['l.task_gid', 'u.gid', 'u.name']).where('l.task_gid', 'in', gids).orderBy('l.created_at').execute(),
    db
      .selectFrom('task_custom_field_values as v')
      .innerJoin('custom_fields as f', 'f.gid', 'v.custom_field_gid')
      .leftJoin('custom_field_enum_options as e', 'e.gid', 'v.enum_option_gid')
      .select(['v.task_gid', 'f.gid', 'f.name', 'f.resource_subtype', 'f.precision', 'v.text_value', 'v.number_value', 'v.date_value', 'v.multi_values', 'e.gid as enum_gid', 'e.name as enum_name', 'e.color as enum_color', 'e.enabled as enum_enabled'])
      .where('v.task_gid', 'in', gids)
      .where(customFieldVisible(viewer, 'f'))
      .execute(),
    db.selectFrom('tasks as t').select(['t.parent_gid', sql<number>`count(*)`.as('n')]).where('t.parent_gid', 'in', gids).where(taskVisible(viewer, 't')).groupBy('t.parent_gid').execute(),
    db.selectFrom('tasks as par').innerJoin('tasks as child', 'child.parent_gid', 'par.gid').select('par.gid').where('child.gid', 'in', gids).where(taskVisible(viewer, 'par')).execute(),
  ]);
  const visibleParents = new Set(parents.map((p) => p.gid));
  // Names for multi-valued custom fields (enum options, people), one query each.
  const multiGids = [...new Set(values.flatMap((v) => (Array.isArray(v.multi_values) ? v.multi_values : [])))];
  const [options, people] = multiGids.length
    ? await Promise.all([
        db.selectFrom('custom_field_enum_options').select(['gid', 'name', 'color', 'enabled']).where('gid', 'in', multiGids).execute(),
        db.selectFrom('users').select(['gid', 'name']).where('gid', 'in', multiGids).execute(),
      ])
    : [[], []];
  const optionByGid = new Map(options.map((o) => [o.gid, o]));
  const personByGid = new Map(people.map((p) => [p.gid, p]));
  const group = <R extends { task_gid: string }>(rows: R[]) => {
    const m = new Map<string, R[]>();
    for (const r of rows) m.set(r.task_gid, [...(m.get(r.task_gid) ?? []), r]);
    return m;
  };
  const [mByTask, tByTask, fByTask, lByTask, vByTask] = [group(memberships), group(tags), group(followers), group(likes), group(values)];
  const subCount = new Map(subtasks.map((s) => [s.parent_gid!, toNumber(s.n)]));

  for (const t of tasks) {
    const ms = mByTask.get(t.gid) ?? [];
    const likers = lByTask.get(t.gid) ?? [];
    out.set(t.gid, {
      gid: t.gid,
      resource_type: 'task',
      name: t.name,
      resource_subtype: t.resource_subtype,
      notes: t.notes,
      completed: t.completed,
      completed_at: iso(t.completed_at),
      assignee: t.assignee_gid ? userCompact({ gid: t.assignee_gid, name: t.assignee_name ?? '' }) : null,
      assignee_status: t.assignee_status,
      due_on: dateOnly(t.due_on as string | Date | null),
      due_at: null,
      start_on: dateOnly(t.start_on as string | Date | null),
      start_at: null,
      created_at: iso(t.created_at),
      created_by: t.creator_gid ? { gid: t.creator_gid, resource_type: 'user' } : null,
      modified_at: iso(t.modified_at),
      parent: t.parent_gid && visibleParents.has(t.parent_gid) ? taskCompact({ gid: t.parent_gid, name: t.parent_name ?? '', resource_subtype: t.parent_subtype ?? 'default_task' }) : null,
      num_subtasks: subCount.get(t.gid) ?? 0,
      projects: ms.map((m) => projectCompact({ gid: m.project_gid, name: m.project_name })),
      memberships: ms.map((m) => {
        const section = maybe(m.section_gid, (g) => sectionCompact({ gid: g, name: m.section_name ?? '' }));
        return { project: projectCompact({ gid: m.project_gid, name: m.project_name }), ...(section || shape.sectionless === 'null' ? { section } : {}) };
      }),
      tags: (tByTask.get(t.gid) ?? []).map(tagCompact),
      followers: (fByTask.get(t.gid) ?? []).map(userCompact),
      likes: likers.map((u) => ({ gid: u.gid, user: userCompact(u) })),
      liked: likers.some((u) => u.gid === viewerGid),
      num_likes: likers.length,
      hearted: likers.some((u) => u.gid === viewerGid),
      hearts: likers.map((u) => ({ gid: u.gid, user: userCompact(u) })),
      num_hearts: likers.length,
      custom_fields: (vByTask.get(t.gid) ?? []).map((v) =>
        customFieldValueView(v, {
          options: v.resource_subtype === 'multi_enum' ? resolved(v.multi_values, optionByGid) : [],
          people: v.resource_subtype === 'people' ? resolved(v.multi_values, personByGid) : [],
        }),
      ),
      workspace: workspaceCompact({ gid: t.org_gid, name: t.org_name }),
      permalink_url: `${baseUrl}/api/1.0/tasks/${t.gid}`,
      ...(t.deleted_at ? { deleted_at: iso(t.deleted_at) } : {}),
    });
  }
  return out;
}

/** The gids' entries of `byGid`, in order, skipping gids it does not hold. */
function resolved<T>(gids: string[] | null, byGid: Map<string, T>): T[] {
  return (gids ?? []).flatMap((g) => (byGid.has(g) ? [byGid.get(g)!] : []));
}

type ValueRow = CustomFieldValueRow & { multi_values: string[] | null };

/** A task's value of one custom field, with the field's definition (and its enum option when it has one). */
export interface CustomFieldValueRow {
  gid: string;
  name: string;
  resource_subtype: string;
  precision: number | null;
  text_value: string | null;
  number_value: string | null;
  date_value: unknown;
  enum_gid: string | null;
  enum_name: string | null;
  enum_color: string | null;
  enum_enabled: boolean | null;
}

/** What a multi-valued field holds, resolved, in the order chosen (only the list of the field's type is read). */
export interface ChosenValues {
  options: { gid: string; name: string; color: string | null; enabled: boolean }[];
  people: { gid: string; name: string }[];
}

/** A task's custom field value as the tasks API shows it; the organization export writes the same. */
export function customFieldValueView(v: CustomFieldValueRow, chosen: ChosenValues): CustomFieldValueView {
  const base = { gid: v.gid, resource_type: 'custom_field' as const, name: v.name, resource_subtype: v.resource_subtype, type: v.resource_subtype };
  switch (v.resource_subtype) {
    case 'text':
      return { ...base, text_value: v.text_value, display_value: v.text_value };
    case 'number': {
      const n = v.number_value === null ? null : Number(v.number_value);
      return { ...base, precision: v.precision ?? 0, number_value: n, display_value: n === null ? null : n.toFixed(v.precision ?? 0) };
    }
    case 'date': {
      const d = dateOnly(v.date_value as string | Date | null);
      return { ...base, date_value: d ? { date: d, date_time: null } : null, display_value: d };
    }
    case 'enum': {
      const option = v.enum_gid ? enumOptionView({ gid: v.enum_gid, name: v.enum_name ?? '', color: v.enum_color, enabled: v.enum_enabled ?? true }) : null;
      return { ...base, enum_value: option, display_value: option?.name ?? null };
    }
    case 'multi_enum': {
      const options = chosen.options.map(enumOptionView);
      return { ...base, multi_enum_values: options, display_value: options.length ? options.map((o) => o.name).join(', ') : null };
    }
    default: {
      const people = chosen.people.map(userCompact);
      return { ...base, people_value: people, display_value: people.length ? people.map((p) => p.name).join(', ') : null };
    }
  }
}
