/**
 * Project exports through the real handler: the JSON document (every kind of object,
 * depth-first subtasks, deleted things absent, only what the caller may see, validated
 * against the JSON Schema in docs/export-format.md), the CSV (columns, rows, subtasks,
 * custom fields, emails), access (guests, non-members, other organizations, deleted
 * projects), the session cookie on GET only, and download file names.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { exportRoutes } from '../../lambdas/http/routes/exports.js';
import { BASE_URL, identityHarness, type Answer, type IdentityHarness, apiCall, apiData } from '../support/identity.js';
import { apiEvent, header } from '../support/http.js';
import { customField } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;
/** A guest added to the project; a guest who was not; a member not in the (private) project; a user in no organization. */
let guestIn: Person;
let guestOut: Person;
let outsider: Person;
let nobody: Person;

const CSV_BASE = ['Task ID', 'Created At', 'Completed At', 'Last Modified', 'Name', 'Section/Column', 'Assignee', 'Assignee Email', 'Start Date', 'Due Date', 'Tags', 'Notes', 'Projects', 'Parent task'];

const call = (token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> => apiCall(h, token, method, path, data);
const post = (token: string, path: string, data: unknown) => apiData(h, token, 'POST', path, data);
/** A request whose answer may not be JSON (CSV, redirects). */
async function raw(init: { path: string; token?: string; cookie?: string; method?: string }): Promise<APIGatewayProxyResult> {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.Cookie = init.cookie;
  return h.handler(apiEvent({ method: init.method ?? 'GET', path: `/api/1.0${init.path}`, headers }));
}
const exportJson = async (token: string, projectGid: string) => {
  const res = await raw({ path: `/projects/${projectGid}/export.json`, token });
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body);
};
const exportCsv = async (token: string, projectGid: string) => {
  const res = await raw({ path: `/projects/${projectGid}/export.csv`, token });
  expect(res.statusCode).toBe(200);
  return { res, rows: parse(res.body, { bom: true, relax_column_count: false }) as string[][] };
};

/** The JSON Schema published in docs/export-format.md. */
async function exportSchemaValidator() {
  const doc = await readFile(new URL('../../docs/export-format.md', import.meta.url), 'utf8');
  const block = /<!-- export-schema:start -->\s*```json\n([\s\S]*?)```\s*<!-- export-schema:end -->/.exec(doc);
  if (!block) throw new Error('docs/export-format.md has no export schema block');
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv.compile(JSON.parse(block[1]!));
}

// The project and everything in it.
const f = {} as Record<'P' | 'Q' | 'S1' | 'S2' | 'A' | 'A1' | 'A1a' | 'A2' | 'A2x' | 'M' | 'B' | 'D' | 'T2' | 'tag' | 'hiddenTag' | 'F1' | 'F2' | 'opt' | 'comment' | 'deletedComment' | 'attachment' | 'pending' | 'deletedAttachment' | 'projectAttachment', string>;
const tick = () => h.clock.advance(1000);

async function attach(parentType: 'task' | 'project', parentGid: string, name: string, state: { pending?: boolean; deleted?: boolean } = {}) {
  const gid = h.deps.ids.gid();
  await h.engine.db
    .insertInto('attachments')
    .values({ gid, organization_gid: w.org.gid, parent_type: parentType, parent_gid: parentGid, name, content_type: 'application/pdf', size: 1234, blob_key: `attachments/${w.org.gid}/${gid}`, upload_state: state.pending ? 'pending' : 'complete', created_by: w.member.gid, created_at: h.clock.now(), deleted_at: state.deleted ? h.clock.now() : null })
    .execute();
  return gid;
}

beforeAll(async () => {
  h = await identityHarness({ extraRoutes: exportRoutes, auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  w = await organizationWithRoles(h, 'Export org');
  other = await organizationWithRoles(h, 'Other org');
  guestIn = await person(h, { organizationGid: w.org.gid, role: 'guest', name: 'Guest In' });
  guestOut = await person(h, { organizationGid: w.org.gid, role: 'guest', name: 'Guest Out' });
  outsider = await person(h, { organizationGid: w.org.gid, role: 'member', name: 'Outsider' });
  nobody = await person(h, { name: 'Nobody' });
  const m = w.member.token;

  // A private project with the guest as a member; a second private project the guest is not in.
  f.P = (await post(m, '/projects', { workspace: w.org.gid, name: 'Launch plan', privacy_setting: 'private', members: [guestIn.gid], followers: [w.admin.gid] })).gid;
  f.Q = (await post(m, '/projects', { workspace: w.org.gid, name: 'Secret side project', privacy_setting: 'private' })).gid;
  f.S1 = (await post(m, `/projects/${f.P}/sections`, { name: 'To do' })).gid;
  f.S2 = (await post(m, `/projects/${f.P}/sections`, { name: 'Done' })).gid;
  const F1 = await customField(h, w.org.gid, 'text');
  const F2 = await customField(h, w.org.gid, 'enum', ['Low', 'High']);
  Object.assign(f, { F1: F1.gid, F2: F2.gid, opt: F2.options[1] });
  for (const [i, field] of [F1.gid, F2.gid].entries()) {
    await h.engine.db.insertInto('project_custom_field_settings').values({ gid: h.deps.ids.gid(), project_gid: f.P, custom_field_gid: field, is_important: i === 0, position: i + 1 }).execute();
  }
  f.tag = (await post(m, '/tags', { name: 'urgent', workspace: w.org.gid })).gid;
  f.hiddenTag = (await post(m, '/tags', { name: 'on-some-other-task', workspace: w.org.gid })).gid;

  tick();
  f.A = (await post(m, '/tasks', { name: 'Write the plan', notes: 'Line one\nLine two', memberships: [{ project: f.P, section: f.S1 }], assignee: w.member.gid, followers: [w.admin.gid], tags: [f.tag], due_on: '2026-05-20', start_on: '2026-05-01', custom_fields: { [f.F1]: 'hello', [f.F2]: f.opt } })).gid;
  tick();
  await post(m, `/tasks/${f.A}/addProject`, { project: f.Q });
  tick();
  f.A1 = (await post(m, `/tasks/${f.A}/subtasks`, { name: 'Outline' })).gid;
  tick();
  f.A1a = (await post(m, `/tasks/${f.A1}/subtasks`, { name: 'Headings', assignee: guestIn.gid })).gid;
  tick();
  f.A2 = (await post(m, `/tasks/${f.A}/subtasks`, { name: 'Deleted subtask' })).gid;
  tick();
  f.A2x = (await post(m, `/tasks/${f.A2}/subtasks`, { name: 'Under a deleted subtask' })).gid;
  expect((await call(m, 'DELETE', `/tasks/${f.A2}`)).status).toBe(200);
  // Undelete the child alone: it stays out of the export because its parent is deleted.
  await h.engine.db.updateTable('tasks').set({ deleted_at: null }).where('gid', '=', f.A2x).execute();
  tick();
  f.M = (await post(m, `/tasks/${f.A}/subtasks`, { name: 'Subtask also in the project' })).gid;
  await post(m, `/tasks/${f.M}/addProject`, { project: f.P, section: f.S2 });
  tick();
  f.B = (await post(m, '/tasks', { name: 'Ship it', memberships: [{ project: f.P, section: f.S2 }], completed: true, assignee: outsider.gid })).gid;
  tick();
  f.D = (await post(m, '/tasks', { name: 'Deleted task', projects: [f.P] })).gid;
  expect((await call(m, 'DELETE', `/tasks/${f.D}`)).status).toBe(200);
  // A task of the other project, shared with the guest by assignment.
  f.T2 = (await post(m, '/tasks', { name: 'Shared with the guest', projects: [f.Q], assignee: guestIn.gid, tags: [f.hiddenTag] })).gid;

  f.comment = (await post(m, `/tasks/${f.A}/stories`, { text: 'First comment' })).gid;
  tick();
  f.deletedComment = (await post(m, `/tasks/${f.A}/stories`, { text: 'Deleted comment' })).gid;
  expect((await call(m, 'DELETE', `/stories/${f.deletedComment}`)).status).toBe(200);
  await post(guestIn.token, `/tasks/${f.A1a}/stories`, { text: 'A guest comment' });

  f.attachment = await attach('task', f.A, 'plan.pdf');
  f.pending = await attach('task', f.A, 'still-uploading.pdf', { pending: true });
  f.deletedAttachment = await attach('task', f.A, 'deleted.pdf', { deleted: true });
  f.projectAttachment = await attach('project', f.P, 'brief.pdf');

  await post(m, `/projects/${f.P}/project_statuses`, { title: 'Kickoff', text: 'Started', color: 'green' });
  tick();
  await post(m, `/projects/${f.P}/project_statuses`, { title: 'Slipping', text: 'Late', color: 'yellow' });
});

afterAll(async () => {
  await h?.close();
});

describe('JSON export', () => {
  let doc: any;
  beforeAll(async () => {
    doc = await exportJson(w.member.token, f.P);
  });

  test('answers inline as a JSON document the browser shows, never cached', async () => {
    const res = await raw({ path: `/projects/${f.P}/export.json`, token: w.member.token });
    expect(res.statusCode).toBe(200);
    expect(header(res, 'content-type')).toBe('application/json; charset=utf-8');
    expect(header(res, 'content-disposition')).toBe(`inline; filename="Launch plan.json"; filename*=UTF-8''Launch%20plan.json`);
    expect(header(res, 'cache-control')).toBe('no-store');
    expect(header(res, 'x-content-type-options')).toBe('nosniff');
  });

  test('validates against the JSON Schema in docs/export-format.md', async () => {
    const validate = await exportSchemaValidator();
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // The schema is not vacuous: a deleted task, a pre-signed attachment URL or an unknown part fail it.
    for (const broken of [
      { ...doc, tasks: [{ ...doc.tasks[0], deleted_at: '2026-01-01T00:00:00.000Z' }] },
      { ...doc, attachments: [{ ...doc.attachments[0], download_url: 'https://bucket.s3.amazonaws.com/x?X-Amz-Signature=abc' }] },
      { ...doc, extra: [] },
      { ...doc, export: { ...doc.export, kind: 'my_tasks' } },
    ]) {
      expect(validate(broken)).toBe(false);
    }
  });

  test('the header says what, when and for whom', () => {
    expect(doc.export).toEqual({
      format: 'asana-compatible-export',
      version: 1,
      kind: 'project',
      exported_at: h.clock.now().toISOString(),
      exported_by: { gid: w.member.gid, resource_type: 'user', name: w.member.name },
      workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Export org' },
      source: { gid: f.P, resource_type: 'project', name: 'Launch plan' },
    });
  });

  test('the project with members, followers, custom field settings and its current status', () => {
    expect(doc.project).toMatchObject({ gid: f.P, resource_type: 'project', name: 'Launch plan', privacy_setting: 'private', permalink_url: `${BASE_URL}/api/1.0/projects/${f.P}` });
    expect(doc.project.members.map((u: any) => u.gid).sort()).toEqual([w.member.gid, guestIn.gid, w.admin.gid].sort());
    expect(doc.project.followers.map((u: any) => u.gid)).toEqual([w.admin.gid]);
    expect(doc.project.custom_field_settings.map((s: any) => [s.custom_field.gid, s.is_important])).toEqual([
      [f.F1, true],
      [f.F2, false],
    ]);
    expect(doc.project.current_status).toMatchObject({ title: 'Slipping', color: 'yellow' });
  });

  test('sections in order, statuses newest first, project attachments', () => {
    expect(doc.sections.map((s: any) => [s.gid, s.name])).toEqual([
      [f.S1, 'To do'],
      [f.S2, 'Done'],
    ]);
    expect(doc.sections[0].project).toEqual({ gid: f.P, resource_type: 'project', name: 'Launch plan' });
    expect(doc.statuses.map((s: any) => [s.title, s.status_type])).toEqual([
      ['Slipping', 'at_risk'],
      ['Kickoff', 'on_track'],
    ]);
    expect(doc.attachments.map((a: any) => a.gid)).toEqual([f.projectAttachment]);
    expect(doc.attachments[0].parent).toEqual({ gid: f.P, resource_type: 'project', name: 'Launch plan' });
  });

  test('tasks depth first; deleted tasks, their subtrees and other projects’ tasks absent; a subtask also in the project once', () => {
    expect(doc.tasks.map((t: any) => t.gid)).toEqual([f.A, f.A1, f.A1a, f.M, f.B]);
    const byGid = new Map(doc.tasks.map((t: any) => [t.gid, t]));
    expect((byGid.get(f.A1a) as any).parent).toEqual({ gid: f.A1, resource_type: 'task', name: 'Outline', resource_subtype: 'default_task' });
    expect((byGid.get(f.M) as any).parent.gid).toBe(f.A);
    expect((byGid.get(f.M) as any).memberships).toEqual([{ project: { gid: f.P, resource_type: 'project', name: 'Launch plan' }, section: { gid: f.S2, resource_type: 'section', name: 'Done' } }]);
    const text = JSON.stringify(doc);
    for (const absent of [f.A2, f.A2x, f.D, f.T2, f.deletedComment, f.pending, f.deletedAttachment]) expect(text).not.toContain(absent);
    expect(text).not.toContain('Deleted comment');
    expect(text).not.toContain(`attachments/${w.org.gid}/`); // no blob keys
    expect(doc.summary).toEqual({ tasks: 5, subtasks: 3, stories: 2, attachments: 2, sections: 2, statuses: 2, tags: 1, custom_fields: 2 });
  });

  test('a task with its assignee, followers, tags, dates, custom field values, comments and attachments', () => {
    const a = doc.tasks[0];
    expect(a).toMatchObject({
      gid: f.A,
      name: 'Write the plan',
      notes: 'Line one\nLine two',
      assignee: { gid: w.member.gid, resource_type: 'user' },
      due_on: '2026-05-20',
      start_on: '2026-05-01',
      parent: null,
      num_subtasks: 2,
      tags: [{ gid: f.tag, resource_type: 'tag', name: 'urgent' }],
      permalink_url: `${BASE_URL}/api/1.0/tasks/${f.A}`,
    });
    expect(a.followers.map((u: any) => u.gid).sort()).toEqual([w.member.gid, w.admin.gid].sort());
    // The member may see the other project too.
    expect(a.projects.map((p: any) => p.gid)).toEqual([f.P, f.Q]);
    expect(a.custom_fields.map((v: any) => [v.gid, v.display_value])).toEqual(
      expect.arrayContaining([
        [f.F1, 'hello'],
        [f.F2, 'High'],
      ]),
    );
    expect(a.stories.map((s: any) => [s.gid, s.text, s.created_by.gid])).toEqual([[f.comment, 'First comment', w.member.gid]]);
    expect(a.attachments).toEqual([
      {
        gid: f.attachment,
        resource_type: 'attachment',
        resource_subtype: 'asana',
        name: 'plan.pdf',
        content_type: 'application/pdf',
        size: 1234,
        created_at: expect.any(String),
        created_by: { gid: w.member.gid, resource_type: 'user', name: w.member.name },
        host: 'asana',
        parent: { gid: f.A, resource_type: 'task', name: 'Write the plan' },
        permanent_url: `${BASE_URL}/api/1.0/attachments/${f.attachment}`,
        download_url: null,
        view_url: null,
      },
    ]);
    expect(doc.tasks[2].stories.map((s: any) => s.text)).toEqual(['A guest comment']);
    expect(doc.tasks[4]).toMatchObject({ gid: f.B, completed: true, completed_at: expect.any(String), stories: [], attachments: [] });
  });

  test('tag and custom field definitions for what the tasks use', () => {
    expect(doc.tags).toEqual([{ gid: f.tag, resource_type: 'tag', name: 'urgent', color: null, notes: '', created_at: expect.any(String), workspace: { gid: w.org.gid, resource_type: 'workspace', name: 'Export org' }, permalink_url: `${BASE_URL}/api/1.0/tags/${f.tag}` }]);
    expect(doc.custom_fields.map((c: any) => [c.gid, c.resource_subtype])).toEqual([
      [f.F1, 'text'],
      [f.F2, 'enum'],
    ]);
    expect(doc.custom_fields[1].enum_options.map((o: any) => o.name)).toEqual(['Low', 'High']);
  });

  test('the guest sees only what the guest may see: no invisible project on the tasks', async () => {
    const g = await exportJson(guestIn.token, f.P);
    expect(g.tasks.map((t: any) => t.gid)).toEqual([f.A, f.A1, f.A1a, f.M, f.B]);
    expect(g.tasks[0].projects.map((p: any) => p.gid)).toEqual([f.P]);
    expect(JSON.stringify(g)).not.toContain('Secret side project');
    expect((await exportSchemaValidator())(g)).toBe(true);
  });
});

describe('access', () => {
  test('guests not added, members outside a private project, other organizations and strangers get 404; no credentials 401', async () => {
    for (const who of [guestOut, outsider, other.admin, other.member, nobody]) {
      for (const ext of ['json', 'csv']) {
        const res = await raw({ path: `/projects/${f.P}/export.${ext}`, token: who.token });
        expect([who.name, ext, res.statusCode]).toEqual([who.name, ext, 404]);
        expect(res.body).not.toContain('Launch plan');
      }
    }
    expect((await raw({ path: `/projects/${f.P}/export.json` })).statusCode).toBe(401);
    expect((await raw({ path: `/projects/999999999999/export.json`, token: w.member.token })).statusCode).toBe(404);
  });

  test('a task shared with a guest does not open its project to them: the project export is 404', async () => {
    expect((await call(guestIn.token, 'GET', `/tasks/${f.T2}`)).status).toBe(200);
    expect((await raw({ path: `/projects/${f.Q}/export.json`, token: guestIn.token })).statusCode).toBe(404);
    expect((await raw({ path: `/projects/${f.Q}/export.csv`, token: guestIn.token })).statusCode).toBe(404);
  });

  test('access is checked on every request: removing the guest closes the permalink', async () => {
    const p = (await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'Short-lived access', privacy_setting: 'private', members: [guestIn.gid] })).gid;
    expect((await raw({ path: `/projects/${p}/export.json`, token: guestIn.token })).statusCode).toBe(200);
    await post(w.member.token, `/projects/${p}/removeMembers`, { members: [guestIn.gid] });
    expect((await raw({ path: `/projects/${p}/export.json`, token: guestIn.token })).statusCode).toBe(404);
    expect((await call(w.member.token, 'DELETE', `/projects/${p}`)).status).toBe(200);
    expect((await raw({ path: `/projects/${p}/export.json`, token: w.member.token })).statusCode).toBe(404);
  });

  test('the session cookie opens the permalink (GET); a cookie never authorizes a state change', async () => {
    const cookie = `theme=dark; session=${w.member.token}`;
    const viaCookie = await raw({ path: `/projects/${f.P}/export.json`, cookie });
    expect(viaCookie.statusCode).toBe(200);
    expect(JSON.parse(viaCookie.body).project.gid).toBe(f.P);
    expect((await raw({ path: `/projects/${f.P}/export.csv`, cookie })).statusCode).toBe(200);
    // Exports are read-only: no other method, whatever the credentials.
    expect((await raw({ method: 'POST', path: `/projects/${f.P}/export.json`, cookie })).statusCode).toBe(405);
    // A state-changing request with only the cookie is unauthenticated.
    const write = await h.handler(apiEvent({ method: 'POST', path: '/api/1.0/tasks', headers: { Cookie: cookie }, body: { data: { name: 'via cookie', projects: [f.P] } } }));
    expect(write.statusCode).toBe(401);
    expect((await raw({ path: `/projects/${f.P}/export.json`, cookie: 'session=not-a-real-token' })).statusCode).toBe(401);
  });
});

describe('CSV export', () => {
  let rows: string[][];
  let res: APIGatewayProxyResult;
  beforeAll(async () => {
    ({ res, rows } = await exportCsv(w.member.token, f.P));
  });

  test('a UTF-8 download with a BOM, CRLF records and exactly Asana’s columns plus the project’s custom fields in order', () => {
    expect(header(res, 'content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(header(res, 'content-disposition')).toBe(`attachment; filename="Launch plan.csv"; filename*=UTF-8''Launch%20plan.csv`);
    expect(res.body.startsWith('\uFEFFTask ID,Created At,')).toBe(true);
    expect(res.body.endsWith('\r\n')).toBe(true);
    expect(rows[0]).toEqual([...CSV_BASE, 'Field text', 'Field enum']);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
  });

  test('one row per task, depth first, subtasks with their parent named', () => {
    const body = rows.slice(1);
    expect(body.map((r) => r[0])).toEqual([f.A, f.A1, f.A1a, f.M, f.B]);
    const col = (name: string) => rows[0]!.indexOf(name);
    const a = body[0]!;
    expect(a[col('Name')]).toBe('Write the plan');
    expect(a[col('Section/Column')]).toBe('To do');
    expect(a[col('Assignee')]).toBe(w.member.name);
    expect(a[col('Assignee Email')]).toBe(w.member.email);
    expect(a[col('Start Date')]).toBe('2026-05-01');
    expect(a[col('Due Date')]).toBe('2026-05-20');
    expect(a[col('Created At')]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(a[col('Completed At')]).toBe('');
    expect(a[col('Tags')]).toBe('urgent');
    expect(a[col('Notes')]).toBe('Line one\nLine two');
    // A line break inside a cell is quoted, so no spreadsheet app starts a new row there.
    expect(res.body).toContain(',"Line one\nLine two",');
    expect(a[col('Projects')]).toBe('Launch plan, Secret side project');
    expect(a[col('Parent task')]).toBe('');
    expect(a[col('Field text')]).toBe('hello');
    expect(a[col('Field enum')]).toBe('High');
    expect(body.map((r) => r[col('Parent task')])).toEqual(['', 'Write the plan', 'Outline', 'Write the plan', '']);
    expect(body[3]![col('Section/Column')]).toBe('Done');
    expect(body[4]![col('Completed At')]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(body[4]![col('Assignee')]).toBe('Outsider');
  });

  test('the guest’s CSV shows only visible projects, and emails only of users the guest may see', async () => {
    const { rows: g } = await exportCsv(guestIn.token, f.P);
    const col = (name: string) => g[0]!.indexOf(name);
    expect(g[1]![col('Projects')]).toBe('Launch plan');
    // The member is in the guest's project; the outsider (assignee of B) is not.
    expect(g[1]![col('Assignee Email')]).toBe(w.member.email);
    expect(g[5]![col('Assignee')]).toBe('Outsider');
    expect(g[5]![col('Assignee Email')]).toBe('');
  });

  test('formula cells are neutralized and everything else survives the round trip; Unicode survives with the BOM', async () => {
    const nasty = ['=HYPERLINK("http://evil.example","click")', '+SUM(A1:A9)', '-2+3', '@cmd', '\tstarts with a tab', '\rstarts with CR', '\nstarts with LF', '＝fullwidth', "'=already quoted", 'plain, with "quotes"\r\nand lines', 'Ünïcödé 日本語 🎉 עברית'];
    const p = (await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'Formulas' })).gid;
    const gids: string[] = [];
    for (const name of nasty) {
      tick();
      gids.push((await post(w.member.token, '/tasks', { name: name.slice(0, 40), notes: name, projects: [p] })).gid);
    }
    const exported = await raw({ path: `/projects/${p}/export.csv`, token: w.member.token });
    expect(Buffer.from(exported.body, 'utf8').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const parsed = parse(exported.body, { bom: true }) as string[][];
    const col = (name: string) => parsed[0]!.indexOf(name);
    const dangerous = /^[=+\-@\t\r\n＝＋－＠]/;
    for (const [i, original] of nasty.entries()) {
      const row = parsed[i + 1]!;
      expect(row[col('Task ID')]).toBe(gids[i]);
      for (const [cell, text] of [
        [row[col('Notes')], original],
        [row[col('Name')], original.slice(0, 40)],
      ] as const) {
        expect(cell).toBe(dangerous.test(text) ? `'${text}` : text);
      }
    }
    // What a spreadsheet would see first in each cell is never a formula character.
    for (const row of parsed) for (const cell of row) expect(dangerous.test(cell)).toBe(false);
  });
});

describe('file names', () => {
  const cases: [string, string, string][] = [
    ['Q3 "Launch" / Plan\\v2', 'Q3 _Launch_ _ Plan_v2.csv', 'Q3%20_Launch_%20_%20Plan_v2.csv'],
    ['Bell\u0007 and\r\nnewline\u202Egnp.exe', 'Bell andnewlinegnp.exe.csv', 'Bell%20andnewlinegnp.exe.csv'],
    ['Café résumé – 日本', 'Caf_ r_sum_ _ __.csv', 'Caf%C3%A9%20r%C3%A9sum%C3%A9%20%E2%80%93%20%E6%97%A5%E6%9C%AC.csv'],
    ["100% (it's) *fun*", "100_ (it's) _fun_.csv", '100%25%20%28it%27s%29%20_fun_.csv'],
    ['...', 'export.csv', 'export.csv'],
  ];
  test.each(cases)('%j', async (name, ascii, encoded) => {
    const p = (await post(w.member.token, '/projects', { workspace: w.org.gid, name: 'placeholder' })).gid;
    await h.engine.db.updateTable('projects').set({ name }).where('gid', '=', p).execute();
    const res = await raw({ path: `/projects/${p}/export.csv`, token: w.member.token });
    expect(res.statusCode).toBe(200);
    const disposition = header(res, 'content-disposition')!;
    expect(disposition).toBe(`attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`);
    // Nothing that could end the header or the quoted string, or pick a directory.
    expect(disposition).not.toMatch(/[\r\n\u0000-\u001f\u007f]/);
    const quoted = /filename="([^"]*)"/.exec(disposition)![1]!;
    expect(quoted).not.toMatch(/[/\\"]/);
    const exact = decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(disposition)![1]!);
    expect(exact).not.toMatch(/[/\\\u0000-\u001f\u007f\u202e]/);
    expect(exact.endsWith('.csv')).toBe(true);
  });
});
