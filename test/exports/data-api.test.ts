/**
 * Every export kind on the Data API stand-in (Aurora's typed parameter binding, 1 MiB
 * responses), across many keyset pages: hundreds of tasks, a deep subtask chain, a task
 * with more comments than a page, and a small inline limit so the documents go through
 * the blob store and the redirect. The downloaded files parse and the JSON validates.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { routes } from '../../lambdas/http/route-table.js';
import { createExportRoutes } from '../../lambdas/http/routes/exports.js';
import { identityHarness, type IdentityHarness } from '../support/identity.js';
import { apiEvent, header } from '../support/http.js';
import { customField } from '../support/graph.js';
import { organizationWithRoles } from '../support/world.js';

const TOP = 240;
let h: IdentityHarness;
/** Export routes with a small inline limit in front of the real route table (first, so they answer even once the table has its own). */
let handler: ApiHandler;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let blobs: LocalBlobs;
let dir: string;
let projectGid: string;
let searchGid: string;
const expectedOrder: string[] = [];
const chain: string[] = [];

async function schema() {
  const doc = await readFile(new URL('../../docs/export-format.md', import.meta.url), 'utf8');
  const block = /<!-- export-schema:start -->\s*```json\n([\s\S]*?)```\s*<!-- export-schema:end -->/.exec(doc)!;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv.compile(JSON.parse(block[1]!));
}

/** GETs an export and follows a redirect to the blob store; returns the document's text. */
async function download(path: string): Promise<{ text: string; redirected: boolean }> {
  const res = await handler(apiEvent({ path: `/api/1.0${path}`, headers: { Authorization: `Bearer ${w.member.token}` } }));
  if (res.statusCode === 200) return { text: res.body, redirected: false };
  expect(res.statusCode).toBe(302);
  const location = new URL(header(res, 'location')!);
  const answer = await blobs.handleSignedRequest({ method: 'GET', url: `${location.pathname}${location.search}` });
  expect(answer.status).toBe(200);
  const chunks: Buffer[] = [];
  for await (const chunk of answer.body as Readable) chunks.push(chunk as Buffer);
  return { text: Buffer.concat(chunks).toString('utf8'), redirected: true };
}

beforeAll(async () => {
  h = await identityHarness({ engine: 'data-api', auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  handler = createApiHandler(h.deps, [...createExportRoutes({ inlineLimitBytes: 64 * 1024 }), ...routes]);
  w = await organizationWithRoles(h, 'Aurora org');
  dir = await mkdtemp(join(tmpdir(), 'exports-data-api-'));
  blobs = new LocalBlobs({ root: dir, baseUrl: 'http://127.0.0.1:9', secret: 'data-api-test', clock: h.clock });
  h.deps.blobs = blobs;
  const m = w.member.token;
  projectGid = (await h.call({ path: '/api/1.0/projects', token: m, body: { data: { workspace: w.org.gid, name: 'Aurora project' } } })).body.data.gid;
  const field = await customField(h, w.org.gid, 'enum', ['One', 'Two']);
  await h.engine.db.insertInto('project_custom_field_settings').values({ gid: h.deps.ids.gid(), project_gid: projectGid, custom_field_gid: field.gid, position: 1 }).execute();
  const tag = (await h.call({ path: '/api/1.0/tags', token: m, body: { data: { name: 'tagged', workspace: w.org.gid } } })).body.data.gid;

  const db = h.engine.db;
  const base = h.clock.now().getTime();
  const at = (i: number) => new Date(base + i * 1000);
  const tops = Array.from({ length: TOP }, (_, i) => ({ gid: h.deps.ids.gid(), i }));
  for (let s = 0; s < TOP; s += 60) {
    const batch = tops.slice(s, s + 60);
    await db.insertInto('tasks').values(batch.map((t) => ({ gid: t.gid, organization_gid: w.org.gid, name: `Report ${t.i}`, notes: `Notes ${t.i} ${'n'.repeat(2000)}`, assignee_gid: t.i % 2 ? w.member.gid : null, created_by: w.member.gid, created_at: at(t.i), modified_at: at(t.i) }))).execute();
    await db.insertInto('task_ancestors').values(batch.map((t) => ({ task_gid: t.gid, ancestor_gid: t.gid, depth: 0 }))).execute();
    await db.insertInto('task_projects').values(batch.map((t) => ({ task_gid: t.gid, project_gid: projectGid, position: t.i, added_at: at(t.i) }))).execute();
    await db.insertInto('task_custom_field_values').values(batch.filter((t) => t.i % 3 === 0).map((t) => ({ task_gid: t.gid, custom_field_gid: field.gid, enum_option_gid: field.options[t.i % 2]! }))).execute();
    await db.insertInto('task_tags').values(batch.filter((t) => t.i % 4 === 0).map((t) => ({ task_gid: t.gid, tag_gid: tag, added_at: at(t.i) }))).execute();
  }
  // A chain of subtasks four levels deep under the first task, through the API.
  let parent = tops[0]!.gid;
  for (let depth = 1; depth <= 4; depth++) {
    h.clock.advance(1000);
    parent = (await h.call({ path: `/api/1.0/tasks/${parent}/subtasks`, token: m, body: { data: { name: `Level ${depth} report`, assignee: w.member.gid } } })).body.data.gid;
    chain.push(parent);
  }
  expectedOrder.push(tops[0]!.gid, ...chain, ...tops.slice(1).map((t) => t.gid));
  // More comments on one task than a page holds, and one on another.
  const stories = Array.from({ length: 130 }, (_, i) => ({ gid: h.deps.ids.gid(), task_gid: tops[1]!.gid, text: `Comment ${i}`, created_by: w.member.gid, created_at: at(1000 + i), modified_at: at(1000 + i) }));
  stories.push({ gid: h.deps.ids.gid(), task_gid: chain[3]!, text: 'Deep comment', created_by: w.member.gid, created_at: at(2000), modified_at: at(2000) });
  for (let s = 0; s < stories.length; s += 50) await db.insertInto('stories').values(stories.slice(s, s + 50)).execute();
  await db.insertInto('attachments').values({ gid: h.deps.ids.gid(), organization_gid: w.org.gid, parent_type: 'task', parent_gid: tops[2]!.gid, name: 'a.txt', content_type: 'text/plain', size: 5, blob_key: 'attachments/x', created_at: at(3000) }).execute();
  searchGid = (await h.call({ path: '/api/1.0/saved_searches', token: m, body: { data: { name: 'Reports', workspace: w.org.gid, filters: { text: 'report', sort_by: 'created_at', sort_ascending: true } } } })).body.data.gid;
}, 180_000);

afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('on the Data API stand-in', () => {
  test('project JSON through the redirect: depth first across pages, comments across pages, valid', async () => {
    const { text, redirected } = await download(`/projects/${projectGid}/export.json`);
    expect(redirected).toBe(true);
    const doc = JSON.parse(text);
    const validate = await schema();
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    expect(doc.tasks.map((t: { gid: string }) => t.gid)).toEqual(expectedOrder);
    expect(doc.tasks[5].stories.map((s: { text: string }) => s.text)).toEqual(Array.from({ length: 130 }, (_, i) => `Comment ${i}`));
    expect(doc.tasks[4].stories.map((s: { text: string }) => s.text)).toEqual(['Deep comment']);
    expect(doc.tasks[4].parent.gid).toBe(chain[2]);
    expect(doc.summary).toMatchObject({ tasks: TOP + 4, subtasks: 4, stories: 131, attachments: 1, tags: 1, custom_fields: 1 });
  }, 120_000);

  test('project CSV through the redirect', async () => {
    const { text, redirected } = await download(`/projects/${projectGid}/export.csv`);
    expect(redirected).toBe(true);
    const rows = parse(text, { bom: true }) as string[][];
    expect(rows[0]!.at(-1)).toBe('Field enum');
    expect(rows.slice(1).map((r) => r[0])).toEqual(expectedOrder);
    expect(rows[1]!.at(-1)).toBe('One');
    expect(rows[5]![13]).toBe('Level 3 report');
  }, 120_000);

  test('My tasks and a saved search, JSON and CSV', async () => {
    const validate = await schema();
    const mine = JSON.parse((await download(`/users/me/my_tasks/export.json?workspace=${w.org.gid}`)).text);
    expect(validate(mine)).toBe(true);
    expect(mine.tasks).toHaveLength(TOP / 2 + 4);
    const mineCsv = parse((await download(`/users/me/my_tasks/export.csv?workspace=${w.org.gid}`)).text, { bom: true }) as string[][];
    expect(mineCsv).toHaveLength(TOP / 2 + 4 + 1);
    expect(mineCsv[0]!.at(-1)).toBe('Field enum');
    const found = JSON.parse((await download(`/saved_searches/${searchGid}/export.json`)).text);
    expect(validate(found)).toBe(true);
    expect(found.tasks).toHaveLength(TOP + 4);
    const foundCsv = parse((await download(`/saved_searches/${searchGid}/export.csv`)).text, { bom: true }) as string[][];
    expect(foundCsv.slice(1).map((r) => r[0]).sort()).toEqual([...expectedOrder].sort());
  }, 180_000);
});
