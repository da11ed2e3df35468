/**
 * Long texts on Aurora's terms (the Data API stand-in: rows of at most 64 KB, responses of
 * at most 1 MiB). Whatever the API accepts must be readable again: a text at the limit
 * (LONG_TEXT_BYTES, counted as JSON in UTF-8) next to the longest names the database
 * allows, written with the characters that weigh most, comes back through every read
 * (the object, its lists, the project export in JSON and CSV, the organization export).
 * One byte more is a 400 that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse } from 'csv-parse/sync';
import { renderPlanToString } from '../../lambdas/domain/exports/plan.js';
import { buildOrganizationExport } from '../../lambdas/domain/exports/organization-export.js';
import { LONG_TEXT_BYTES } from '../../lambdas/http/schemas.js';
import { BASE_URL, identityHarness, type Answer, type IdentityHarness, apiCall, apiData } from '../support/identity.js';
import { stateChanges, stateMark } from '../support/state-mark.js';
import { organizationWithRoles } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;

/** A text of exactly LONG_TEXT_BYTES as JSON: two-byte characters, and a quote (escaped: two bytes) to end on. */
function atLimit(tag: string): string {
  const rest = LONG_TEXT_BYTES - tag.length - 2;
  return `${tag}${'a'.repeat(rest % 2)}${'é'.repeat(Math.floor(rest / 2))}"`;
}
/** The heaviest names: control characters escape to six bytes each. */
const heavyName = (chars: number) => '\u0001'.repeat(chars);

const call = (method: string, path: string, data?: unknown): Promise<Answer> => apiCall(h, w.admin.token, method, path, data);
const created = (path: string, data: unknown): Promise<{ gid: string } & Record<string, unknown>> => apiData(h, w.admin.token, 'POST', path, data);
const read = (path: string) => apiData(h, w.admin.token, 'GET', path);

beforeAll(async () => {
  h = await identityHarness({ engine: 'data-api' });
  w = await organizationWithRoles(h, 'Long texts');
  // The people read next to a task (assignee, creator, author) with the longest, heaviest names.
  await h.engine.db.updateTable('users').set({ name: heavyName(256) }).where('gid', 'in', [w.admin.gid, w.member.gid]).execute();
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('a text at the limit is read back everywhere', () => {
  let project: string;
  let parent: string;
  let child: string;
  let story: string;

  beforeAll(async () => {
    project = (await created('/projects', { workspace: w.org.gid, name: heavyName(1024), notes: atLimit('project') })).gid;
    const section = (await created(`/projects/${project}/sections`, { name: heavyName(1024) })).gid;
    parent = (await created('/tasks', { workspace: w.org.gid, name: heavyName(1024), notes: atLimit('parent'), assignee: w.member.gid, projects: [project] })).gid;
    await created(`/sections/${section}/addTask`, { task: parent });
    child = (await created(`/tasks/${parent}/subtasks`, { name: heavyName(1024), notes: atLimit('child'), assignee: w.member.gid })).gid;
    story = (await created(`/tasks/${parent}/stories`, { text: atLimit('comment') })).gid;
  }, 60_000);

  test('tasks, their lists, comments and the project', async () => {
    expect((await read(`/tasks/${parent}`)).notes).toBe(atLimit('parent'));
    expect((await read(`/tasks/${child}`)).notes).toBe(atLimit('child'));
    expect((await read(`/projects/${project}/tasks?opt_fields=name,notes,assignee.name,parent.name`)).map((t: { notes: string }) => t.notes)).toEqual([atLimit('parent')]);
    expect((await read(`/tasks/${parent}/subtasks?opt_fields=name,notes,parent.name`)).map((t: { notes: string }) => t.notes)).toEqual([atLimit('child')]);
    expect((await read(`/stories/${story}`)).text).toBe(atLimit('comment'));
    expect((await read(`/tasks/${parent}/stories?opt_fields=text,created_by.name,target.name`)).map((s: { text?: string }) => s.text)).toContain(atLimit('comment'));
    expect((await read(`/projects/${project}`)).notes).toBe(atLimit('project'));
  });

  test('the project export, JSON and CSV', async () => {
    const json = await call('GET', `/projects/${project}/export.json`);
    expect(json.status).toBe(200);
    expect(JSON.stringify(json.body)).toContain(JSON.stringify(atLimit('child')).slice(1, -1));
    const csv = await h.handler({ httpMethod: 'GET', path: `/api/1.0/projects/${project}/export.csv`, headers: { Authorization: `Bearer ${w.admin.token}` } } as never);
    expect(csv.statusCode).toBe(200);
    const records: string[][] = parse(Buffer.from(csv.body, csv.isBase64Encoded ? 'base64' : 'utf8').toString('utf8'), { bom: true, relax_column_count: true });
    const cells = records.flat();
    expect(cells).toContain(atLimit('parent'));
    expect(cells).toContain(atLimit('child'));
  });

  test('the organization export', async () => {
    const text = await renderPlanToString(
      await buildOrganizationExport(h.engine.db, { gid: '7100000000000001', organizationGid: w.org.gid, createdAt: h.clock.now(), modifiedSince: null, requestedBy: { kind: 'user', gid: w.admin.gid }, baseUrl: BASE_URL }),
    );
    const doc = JSON.parse(text);
    const notes = Object.fromEntries(doc.tasks.map((t: { gid: string; notes: string }) => [t.gid, t.notes]));
    expect(notes).toEqual({ [parent]: atLimit('parent'), [child]: atLimit('child') });
    expect(doc.stories.map((s: { text: string }) => s.text)).toContain(atLimit('comment'));
  });
});

describe('each field: one byte over the limit is a 400 that changes nothing; at the limit it is stored and read back', () => {
  const over = (tag: string) => `${atLimit(tag)}x`;
  let project: string;
  let task: string;
  let team: string;

  beforeAll(async () => {
    project = (await created('/projects', { workspace: w.org.gid, name: heavyName(1024) })).gid;
    task = (await created('/tasks', { workspace: w.org.gid, name: heavyName(1024), projects: [project] })).gid;
    team = (await created('/teams', { organization: w.org.gid, name: heavyName(256) })).gid;
  });

  /** [field, method, path, body with the text, where the stored object is read back (from the answer's gid) and the property holding the text]. */
  const cases: [string, string, () => string, (text: string) => Record<string, unknown>, (gid: string) => string, string][] = [
    ['task notes', 'POST', () => '/tasks', (text) => ({ workspace: w.org.gid, name: heavyName(1024), notes: text }), (gid) => `/tasks/${gid}`, 'notes'],
    ['task notes (update)', 'PUT', () => `/tasks/${task}`, (text) => ({ notes: text }), (gid) => `/tasks/${gid}`, 'notes'],
    ['comment text', 'POST', () => `/tasks/${task}/stories`, (text) => ({ text }), (gid) => `/stories/${gid}`, 'text'],
    ['project notes', 'PUT', () => `/projects/${project}`, (text) => ({ notes: text }), (gid) => `/projects/${gid}`, 'notes'],
    ['status update text', 'POST', () => '/status_updates', (text) => ({ parent: project, title: heavyName(1024), text, status_type: 'on_track' }), (gid) => `/status_updates/${gid}`, 'text'],
    ['message text', 'POST', () => '/messages', (text) => ({ parent: team, title: heavyName(1024), text }), (gid) => `/messages/${gid}`, 'text'],
    ['tag notes', 'POST', () => '/tags', (text) => ({ workspace: w.org.gid, name: heavyName(256), notes: text }), (gid) => `/tags/${gid}`, 'notes'],
    ['custom field description', 'POST', () => '/custom_fields', (text) => ({ workspace: w.org.gid, name: heavyName(256), resource_subtype: 'text', description: text }), (gid) => `/custom_fields/${gid}`, 'description'],
    ['team html_description', 'PUT', () => `/teams/${team}`, (text) => ({ html_description: text }), (gid) => `/teams/${gid}`, 'description'],
  ];

  test.each(cases)('%s', async (_, method, path, body, readPath, property) => {
    const mark = await stateMark(h);
    const res = await call(method, path(), body(over('z')));
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(new RegExp(`must be at most ${LONG_TEXT_BYTES} bytes`));
    expect(await stateChanges(h, mark)).toEqual([]);
    // The same request at the limit is accepted, and what it stored reads back whole.
    const ok = await call(method, path(), body(atLimit('z')));
    expect([200, 201]).toContain(ok.status);
    expect((await read(readPath(ok.body.data.gid)))[property]).toBe(atLimit('z'));
  });
});

test('a saved search: filters over the limit are a 400 that changes nothing; at the limit they are stored and read back', async () => {
  const emails = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}-${'e'.repeat(280)}@example.com`);
  const filters = (n: number) => ({ 'assignee.any': emails(Math.min(n, 100), 'a'), 'followers.any': emails(Math.max(0, n - 100), 'f') });
  const weight = (n: number) => Buffer.byteLength(JSON.stringify(filters(n)));
  // The most emails that fit, and one more (with the request still under the body limit).
  let fit = 0;
  while (weight(fit + 1) <= LONG_TEXT_BYTES) fit += 1;
  expect(fit).toBeGreaterThan(100);
  const mark = await stateMark(h);
  const refused = await call('POST', '/saved_searches', { name: 'Too much', workspace: w.org.gid, filters: filters(fit + 1) });
  expect(refused.status).toBe(400);
  expect(refused.body.errors[0].message).toMatch(new RegExp(`must be at most ${LONG_TEXT_BYTES} bytes`));
  expect(await stateChanges(h, mark)).toEqual([]);
  const saved = await created('/saved_searches', { name: heavyName(256), workspace: w.org.gid, filters: filters(fit) });
  expect((await read(`/saved_searches/${saved.gid}`)).filters).toEqual(filters(fit));
});
