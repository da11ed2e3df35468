/**
 * The benchmark's second baseline (bench/engine-document.ts) writes the organization
 * export's own tasks and comments: compared here with the export's text on an organization
 * that has what the benchmark's data lacks (hostile text, deleted rows inside and outside
 * the 30-day window, another organization's projects and fields, tasks in several projects
 * of one team, empty and multi-valued custom field values, comments at the same instant
 * and at sub-millisecond instants), written in chunks small enough that every cursor runs.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CompiledQuery, sql } from 'kysely';
import { buildOrganizationExport } from '../../lambdas/domain/exports/organization-export.js';
import { renderPlanToString } from '../../lambdas/domain/exports/plan.js';
import { RESTORE_DAYS } from '../../lambdas/domain/work/tasks.js';
import { gidOf, organizationSql } from '../../bench/data.js';
import { writeDocument } from '../../bench/engine-document.js';
import type { EngineQuery } from '../../bench/export.js';
import { openEngine, type TestEngine } from '../support/engines.js';

const DAY = 86_400_000;
const NOW = new Date();
const BASE_URL = 'https://tasks.example.test';
const HOSTILE = 'Quote " backslash \\ newline \n tab \t nul-ish \u0001 \u001f DEL \u007f é 😀 \u2028 </script> =cmd|calc';

let engine: TestEngine;
let organizationGid: string;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

beforeAll(async () => {
  engine = await openEngine('pglite');
  const db = engine.db;
  const generated = organizationSql(60, { now: NOW });
  for (const statement of generated.statements) await sql.raw(statement).execute(db);
  organizationGid = generated.organization.organizationGid;
  const task = (i: number) => gidOf('task', i);
  const story = (i: number) => gidOf('story', i);

  // Hostile text in every kind of name the lists carry.
  await db.updateTable('users').set({ name: `User ${HOSTILE}` }).where('gid', 'in', [gidOf('user', 1), gidOf('user', 2)]).execute();
  await db.updateTable('projects').set({ name: `Project ${HOSTILE}` }).where('gid', '=', gidOf('project', 1)).execute();
  await db.updateTable('sections').set({ name: `Section ${HOSTILE}` }).where('gid', '=', gidOf('section', 1)).execute();
  await db.updateTable('teams').set({ name: `Team ${HOSTILE}` }).where('gid', '=', gidOf('team', 1)).execute();
  await db.updateTable('tags').set({ name: `Tag ${HOSTILE}` }).where('gid', '=', gidOf('tag', 0)).execute();
  await db.updateTable('custom_fields').set({ name: `Field ${HOSTILE}` }).where('gid', '=', gidOf('field', 3)).execute();
  await db.updateTable('custom_field_enum_options').set({ name: `Option ${HOSTILE}`, color: null, enabled: false }).where('gid', '=', gidOf('option', 5)).execute();
  await db.updateTable('tasks').set({ name: `Task ${HOSTILE}`, notes: HOSTILE.repeat(20), due_on: '2026-02-28', start_on: '2026-02-01' }).where('gid', '=', task(0)).execute();
  await db.updateTable('stories').set({ text: `Comment ${HOSTILE}`, edited_at: ago(1), is_pinned: true }).where('gid', '=', story(0)).execute();

  // Deleted within the window (kept) and before it (left out): tasks, comments, tags, a field.
  await db.updateTable('tasks').set({ deleted_at: ago(10) }).where('gid', '=', task(3)).execute();
  await db.updateTable('tasks').set({ deleted_at: ago(RESTORE_DAYS + 10) }).where('gid', '=', task(5)).execute();
  await db.updateTable('tasks').set({ deleted_at: ago(2) }).where('gid', '=', task(19)).execute(); // a subtask: its parent's num_subtasks drops
  await db.updateTable('stories').set({ deleted_at: ago(10) }).where('gid', '=', story(7)).execute();
  await db.updateTable('stories').set({ deleted_at: ago(RESTORE_DAYS + 10) }).where('gid', '=', story(8)).execute();
  await db.updateTable('tags').set({ deleted_at: ago(10) }).where('gid', '=', gidOf('tag', 1)).execute();
  await db.updateTable('tags').set({ deleted_at: ago(RESTORE_DAYS + 10) }).where('gid', '=', gidOf('tag', 2)).execute();
  await db.updateTable('custom_fields').set({ deleted_at: ago(RESTORE_DAYS + 10) }).where('gid', '=', gidOf('field', 4)).execute();

  // Another organization: a project and a field, both named by a task of ours (left out).
  const otherOrg = '9100000000000001';
  await db.insertInto('organizations').values({ gid: otherOrg, name: 'Other', plan: 'paid', created_at: NOW, modified_at: NOW }).execute();
  await db
    .insertInto('projects')
    .values({ gid: '9100000000000002', organization_gid: otherOrg, name: 'Foreign project', notes: '', color: 'none', privacy_setting: 'public_to_workspace', created_at: NOW, modified_at: NOW })
    .execute();
  await db.insertInto('custom_fields').values({ gid: '9100000000000003', organization_gid: otherOrg, name: 'Foreign field', resource_subtype: 'text', created_at: NOW }).execute();
  await db.insertInto('task_projects').values({ task_gid: task(1), project_gid: '9100000000000002', position: 1, added_at: ago(3) }).execute();
  await db.insertInto('task_custom_field_values').values({ task_gid: task(1), custom_field_gid: '9100000000000003', text_value: 'foreign' }).execute();

  // One task in four projects: two teams, one of them twice, one project without a section.
  const t2 = task(2);
  await db.deleteFrom('task_projects').where('task_gid', '=', t2).execute();
  const projects = [gidOf('project', 0), gidOf('project', 1), gidOf('project', 2), gidOf('project', 3)];
  for (const [i, projectGid] of projects.entries()) {
    await db.insertInto('task_projects').values({ task_gid: t2, project_gid: projectGid, section_gid: i === 2 ? null : gidOf('section', i * 4), position: i, added_at: ago(20 - i) }).execute();
  }
  // Custom field values: an empty text value, a negative and a whole number, an empty multi_enum.
  await db.updateTable('task_custom_field_values').set({ text_value: null }).where('task_gid', '=', task(4)).where('custom_field_gid', '=', gidOf('field', 0)).execute();
  await db.updateTable('task_custom_field_values').set({ number_value: '-12.75' }).where('custom_field_gid', '=', gidOf('field', 1)).where('task_gid', '=', task(0)).execute();
  await db.updateTable('task_custom_field_values').set({ number_value: '7' }).where('custom_field_gid', '=', gidOf('field', 1)).where('task_gid', '=', task(10)).execute();
  await db.updateTable('task_custom_field_values').set({ multi_values: sql`'[]'::jsonb` }).where('custom_field_gid', '=', gidOf('field', 3)).where('task_gid', '=', task(2)).execute();

  // Comments at sub-millisecond instants (every chunk's cursor then has microseconds), and
  // two on one task at the same instant (ordered by gid).
  await sql`update stories set created_at = created_at + interval '123 microseconds'`.execute(db);
  await db.updateTable('stories').set({ created_at: sql`'2026-01-01 00:00:00.123456+00'` }).where('gid', 'in', [story(10), story(60 + 10)]).execute();
  await db.updateTable('stories').set({ created_at: sql`'2026-01-01 00:00:00.123457+00'` }).where('gid', '=', story(12)).execute();
}, 60_000);

afterAll(async () => {
  await engine?.close();
});

describe("the engine's document (bench/engine-document.ts)", () => {
  test("is the export's tasks and comments, item for item, written in many chunks", async () => {
    const exported = JSON.parse(
      await renderPlanToString(await buildOrganizationExport(engine.db, { gid: '7000000000000009', organizationGid, createdAt: NOW, modifiedSince: null, requestedBy: { kind: 'user', gid: gidOf('user', 0) }, baseUrl: BASE_URL })),
    ) as Record<'tasks' | 'stories', unknown[]>;
    const query: EngineQuery = async (text, params) => (await engine.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, params))).rows;
    const written: Record<'tasks' | 'stories', string[]> = { tasks: [], stories: [] };
    const document = await writeDocument(query, { organizationGid, baseUrl: BASE_URL, cutoff: ago(RESTORE_DAYS), chunk: 7 }, (part, items) => written[part].push(...items));

    // The export's items are JSON.stringify's text of what it wrote.
    for (const part of ['tasks', 'stories'] as const) {
      expect([...written[part]].sort()).toEqual(exported[part].map((item) => JSON.stringify(item)).sort());
    }
    // The data has what it is meant to test, and the chunks ran past their first.
    const tasks = exported.tasks as { gid: string; teams: unknown[]; projects: unknown[]; custom_fields: { display_value: unknown }[] }[];
    expect(tasks.length).toBe(59); // 60, less the task deleted before the window
    const inFour = tasks.find((t) => t.gid === gidOf('task', 2))!;
    expect([inFour.projects.length, inFour.teams.length]).toEqual([4, 2]);
    expect(written.tasks.some((t) => t.includes('\\u0001') && t.includes('😀'))).toBe(true);
    expect(written.stories.length).toBe(exported.stories.length);
    expect(document.statements).toBeGreaterThanOrEqual(Math.ceil(59 / 7) + Math.ceil(written.stories.length / 7));
  });
});
