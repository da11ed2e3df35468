/**
 * My tasks and saved search exports through the real handler: the tasks the lists show
 * the caller (and nothing they could not open), JSON valid against the published schema,
 * CSV with the union of custom fields in a stable order, subtasks as rows with their
 * parent, and access (other people's lists and other organizations are 404).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { exportRoutes } from '../../lambdas/http/routes/exports.js';
import { identityHarness, type IdentityHarness, apiData } from '../support/identity.js';
import { apiEvent, header } from '../support/http.js';
import { customField } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;
let colleague: Person;
const CSV_BASE = ['Task ID', 'Created At', 'Completed At', 'Last Modified', 'Name', 'Section/Column', 'Assignee', 'Assignee Email', 'Start Date', 'Due Date', 'Tags', 'Notes', 'Projects', 'Parent task'];
const f = {} as Record<'P' | 'Q' | 'S' | 'zeta' | 'alpha' | 'unused' | 'T1' | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'G1' | 'search' | 'R1' | 'R2' | 'R3', string>;

const post = (token: string, path: string, data: unknown) => apiData(h, token, 'POST', path, data);
async function raw(path: string, token?: string): Promise<APIGatewayProxyResult> {
  return h.handler(apiEvent({ path: `/api/1.0${path}`, headers: token ? { Authorization: `Bearer ${token}` } : {} }));
}
async function json(path: string, token: string) {
  const res = await raw(path, token);
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body);
}
async function csv(path: string, token: string) {
  const res = await raw(path, token);
  expect(res.statusCode).toBe(200);
  return { res, rows: parse(res.body, { bom: true }) as string[][] };
}
async function schema() {
  const doc = await readFile(new URL('../../docs/export-format.md', import.meta.url), 'utf8');
  const block = /<!-- export-schema:start -->\s*```json\n([\s\S]*?)```\s*<!-- export-schema:end -->/.exec(doc)!;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv.compile(JSON.parse(block[1]!));
}
const tick = () => h.clock.advance(1000);

beforeAll(async () => {
  h = await identityHarness({ extraRoutes: exportRoutes, auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  w = await organizationWithRoles(h, 'List org');
  other = await organizationWithRoles(h, 'Other org');
  colleague = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Colleague' });
  const m = w.member.token;
  f.P = (await post(m, '/projects', { workspace: w.org.gid, name: 'Public project' })).gid;
  f.S = (await post(m, `/projects/${f.P}/sections`, { name: 'Doing' })).gid;
  // A private project of the admin: tasks in it assigned to the member stay visible to them, the project does not.
  f.Q = (await post(w.admin.token, '/projects', { workspace: w.org.gid, name: 'Admin private project', privacy_setting: 'private' })).gid;
  // Field names chosen so alphabetical order differs from creation order and from case-sensitive order.
  const zeta = await customField(h, w.org.gid, 'text');
  const alpha = await customField(h, w.org.gid, 'number');
  const unused = await customField(h, w.org.gid, 'date');
  await h.engine.db.updateTable('custom_fields').set({ name: 'Zeta notes' }).where('gid', '=', zeta.gid).execute();
  await h.engine.db.updateTable('custom_fields').set({ name: 'alpha score' }).where('gid', '=', alpha.gid).execute();
  Object.assign(f, { zeta: zeta.gid, alpha: alpha.gid, unused: unused.gid });

  tick();
  f.T1 = (await post(m, '/tasks', { name: 'Mine in P', memberships: [{ project: f.P, section: f.S }], assignee: w.member.gid, custom_fields: { [f.zeta]: '=1+1' } })).gid;
  tick();
  f.T2 = (await post(m, `/tasks/${f.T1}/subtasks`, { name: 'My subtask', assignee: w.member.gid, custom_fields: { [f.alpha]: -2.5 } })).gid;
  tick();
  f.T3 = (await post(w.admin.token, '/tasks', { name: 'Mine in a private project', projects: [f.Q], assignee: w.member.gid })).gid;
  tick();
  f.T4 = (await post(m, '/tasks', { name: 'Done already', projects: [f.P], assignee: w.member.gid, completed: true })).gid;
  tick();
  f.T5 = (await post(m, '/tasks', { name: 'Deleted mine', projects: [f.P], assignee: w.member.gid })).gid;
  expect((await h.call({ method: 'DELETE', path: `/api/1.0/tasks/${f.T5}`, token: m })).status).toBe(200);
  f.T6 = (await post(m, '/tasks', { name: 'Someone else’s', projects: [f.P], assignee: colleague.gid })).gid;
  // The guest is assigned a task of a project they are not in.
  f.G1 = (await post(m, '/tasks', { name: 'For the guest', projects: [f.P], assignee: w.guest.gid })).gid;

  // A saved search for "report": one match in a project the member cannot see.
  tick();
  f.R1 = (await post(m, '/tasks', { name: 'Alpha report', projects: [f.P], custom_fields: { [f.zeta]: 'r1' } })).gid;
  tick();
  f.R2 = (await post(w.admin.token, '/tasks', { name: 'Hidden report', projects: [f.Q] })).gid;
  tick();
  f.R3 = (await post(m, `/tasks/${f.R1}/subtasks`, { name: 'Sub report' })).gid;
  f.search = (await post(m, '/saved_searches', { name: 'Reports: "all" / 2026', workspace: w.org.gid, filters: { text: 'report', sort_by: 'created_at', sort_ascending: true } })).gid;
});

afterAll(async () => {
  await h?.close();
});

describe('My tasks', () => {
  test('JSON: the tasks assigned to me that I can see, oldest first, valid against the schema', async () => {
    const doc = await json(`/users/me/my_tasks/export.json?workspace=${w.org.gid}`, w.member.token);
    expect((await schema())(doc)).toBe(true);
    expect(doc.export).toMatchObject({ kind: 'my_tasks', source: { resource_type: 'user_task_list', name: 'My Tasks' }, exported_by: { gid: w.member.gid } });
    expect(doc.user_task_list).toMatchObject({ resource_type: 'user_task_list', owner: { gid: w.member.gid }, workspace: { gid: w.org.gid } });
    expect(doc.tasks.map((t: any) => t.gid)).toEqual([f.T1, f.T2, f.T3, f.T4]);
    const t3 = doc.tasks[2];
    expect(t3.projects).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('Admin private project');
    expect(doc.tasks[1].parent.gid).toBe(f.T1);
    expect(doc.custom_fields.map((c: any) => c.gid)).toEqual([f.zeta, f.alpha]);
    expect(doc.summary).toEqual({ tasks: 4, subtasks: 1, stories: 0, attachments: 0, tags: 0, custom_fields: 2 });
  });

  test('CSV: Asana’s columns plus the fields with values, by name; subtasks with their parent; completed_since', async () => {
    const { res, rows } = await csv(`/users/me/my_tasks/export.csv?workspace=${w.org.gid}`, w.member.token);
    expect(header(res, 'content-disposition')).toBe(`attachment; filename="My Tasks - List org.csv"; filename*=UTF-8''My%20Tasks%20-%20List%20org.csv`);
    expect(rows[0]).toEqual([...CSV_BASE, 'alpha score', 'Zeta notes']);
    const col = (name: string) => rows[0]!.indexOf(name);
    expect(rows.slice(1).map((r) => [r[0], r[col('Parent task')], r[col('Projects')], r[col('Section/Column')]])).toEqual([
      [f.T1, '', 'Public project', 'Doing'],
      [f.T2, 'Mine in P', '', ''],
      [f.T3, '', '', ''],
      [f.T4, '', 'Public project', ''],
    ]);
    // Formula-looking values are neutralized, numbers included.
    expect(rows[1]![col('Zeta notes')]).toBe("'=1+1");
    expect(rows[2]![col('alpha score')]).toBe("'-2.50");
    const since = await csv(`/users/me/my_tasks/export.csv?workspace=${w.org.gid}&completed_since=now`, w.member.token);
    expect(since.rows.slice(1).map((r) => r[0])).toEqual([f.T1, f.T2, f.T3]);
  });

  test('a guest’s My tasks: the task assigned to them, without the project they are not in', async () => {
    const doc = await json(`/users/me/my_tasks/export.json?workspace=${w.org.gid}`, w.guest.token);
    expect(doc.tasks.map((t: any) => [t.gid, t.projects])).toEqual([[f.G1, []]]);
    const { rows } = await csv(`/users/me/my_tasks/export.csv?workspace=${w.org.gid}`, w.guest.token);
    expect(rows).toEqual([CSV_BASE, [f.G1, expect.any(String), '', expect.any(String), 'For the guest', '', w.guest.name, w.guest.email, '', '', '', '', '', '']]);
  });

  test('a workspace I am not in is 404; the workspace is required', async () => {
    expect((await raw(`/users/me/my_tasks/export.json?workspace=${other.org.gid}`, w.member.token)).statusCode).toBe(404);
    expect((await raw(`/users/me/my_tasks/export.csv?workspace=${w.org.gid}`, other.member.token)).statusCode).toBe(404);
    const missing = await raw('/users/me/my_tasks/export.json', w.member.token);
    expect(missing.statusCode).toBe(400);
    expect(JSON.parse(missing.body).errors[0].message).toMatch(/^query\.workspace/);
    expect((await raw(`/users/me/my_tasks/export.json?workspace=${w.org.gid}`)).statusCode).toBe(401);
  });
});

describe('saved searches', () => {
  test('JSON: the search run now with what I can see, in its order; valid against the schema', async () => {
    const doc = await json(`/saved_searches/${f.search}/export.json`, w.member.token);
    expect((await schema())(doc)).toBe(true);
    expect(doc.export).toMatchObject({ kind: 'saved_search', source: { gid: f.search, resource_type: 'saved_search', name: 'Reports: "all" / 2026' } });
    expect(doc.saved_search).toMatchObject({ gid: f.search, filters: { text: 'report' } });
    expect(doc.tasks.map((t: any) => t.gid)).toEqual([f.R1, f.R3]);
    expect(JSON.stringify(doc)).not.toContain('Hidden report');
    // The admin's own run of the same filters would find the hidden task: the export is the owner's view.
    const admins = await post(w.admin.token, '/saved_searches', { name: 'Admin reports', workspace: w.org.gid, filters: { text: 'report', sort_by: 'created_at', sort_ascending: true } });
    const adminDoc = await json(`/saved_searches/${admins.gid}/export.json`, w.admin.token);
    expect(adminDoc.tasks.map((t: any) => t.gid)).toEqual([f.R1, f.R2, f.R3]);
  });

  test('CSV: subtask rows name their parent; the file is named after the search', async () => {
    const { res, rows } = await csv(`/saved_searches/${f.search}/export.csv`, w.member.token);
    expect(header(res, 'content-disposition')).toBe(`attachment; filename="Reports_ _all_ _ 2026.csv"; filename*=UTF-8''Reports_%20_all_%20_%202026.csv`);
    expect(rows[0]).toEqual([...CSV_BASE, 'Zeta notes']);
    expect(rows.slice(1).map((r) => [r[0], r[4], r[13], r[14]])).toEqual([
      [f.R1, 'Alpha report', '', 'r1'],
      [f.R3, 'Sub report', 'Alpha report', ''],
    ]);
  });

  test('someone else’s saved search, or one in another organization, is 404', async () => {
    for (const who of [colleague, w.admin, other.admin]) {
      expect((await raw(`/saved_searches/${f.search}/export.json`, who.token)).statusCode).toBe(404);
      expect((await raw(`/saved_searches/${f.search}/export.csv`, who.token)).statusCode).toBe(404);
    }
    expect((await raw('/saved_searches/999999999/export.json', w.member.token)).statusCode).toBe(404);
  });
});
