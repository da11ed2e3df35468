/**
 * Exports larger than Lambda's 6 MB response limit, end to end over the local HTTP
 * server: a project of 3,000 tasks with long notes (rows inserted in bulk), opened with
 * the session cookie as a browser tab would, answers 302 to a short-lived signed
 * download of a file written while it was generated; the file parses (CSV with csv-parse,
 * JSON against the published schema). Memory: the delivery never holds more than the
 * inline threshold plus a chunk (its progress hook), and the JavaScript heap, measured
 * after forced garbage collections during the export, grows by far less than the document.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { INLINE_LIMIT_BYTES, type DeliveryProgress } from '../../lambdas/domain/exports/delivery.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { createLocalHttpServer, createRequestListener } from '../../lambdas/http/local-server.js';
import { routes } from '../../lambdas/http/route-table.js';
import { createExportRoutes } from '../../lambdas/http/routes/exports.js';
import { identityHarness, type IdentityHarness } from '../support/identity.js';
import { apiEvent, header } from '../support/http.js';
import { customField } from '../support/graph.js';
import { organizationWithRoles } from '../support/world.js';

const TASKS = 3000;
const SUBTASK_EVERY = 10; // every 10th task is a subtask of the task before it
const NOTES_BYTES = 5000;
const LAMBDA_LIMIT = 6 * 1024 * 1024;

let h: IdentityHarness;
/** The real route table behind export routes with a progress hook (first, so they answer even once the table has its own). */
let handler: ApiHandler;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let server: Server;
let origin: string;
let dir: string;
let projectGid: string;
let fieldGid: string;
const order: { gid: string; name: string; parent: string | null }[] = [];
let onProgress: ((p: DeliveryProgress) => void) | undefined;

/** A garbage collector to call, if the runtime lets us expose one. */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const gc = exposeGc();

async function schema() {
  const doc = await readFile(new URL('../../docs/export-format.md', import.meta.url), 'utf8');
  const block = /<!-- export-schema:start -->\s*```json\n([\s\S]*?)```\s*<!-- export-schema:end -->/.exec(doc)!;
  const ajv = new Ajv2020({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv.compile(JSON.parse(block[1]!));
}

/** Notes of about NOTES_BYTES: text, non-ASCII characters, line breaks, and now and then a formula. */
const notes = (i: number) => `${i % 500 === 0 ? '=SUM(A1:A2) ' : ''}Task ${i} — Ünïcödé 日本 🎉\n${'Lorem ipsum dolor sit amet, "quoted", '.repeat(Math.ceil(NOTES_BYTES / 38))}`.slice(0, NOTES_BYTES);

beforeAll(async () => {
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  handler = createApiHandler(h.deps, [...createExportRoutes({ onProgress: (p) => onProgress?.(p) }), ...routes]);
  w = await organizationWithRoles(h, 'Big org');
  dir = await mkdtemp(join(tmpdir(), 'large-export-'));

  // The local server in front of the harness's handler, serving signed blob URLs too.
  server = createLocalHttpServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', () => ready()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const blobs = new LocalBlobs({ root: join(dir, 'blobs'), baseUrl: origin, secret: 'large-export-test', clock: h.clock });
  h.deps.blobs = blobs;
  server.on('request', createRequestListener({ handler, blobs, maxBodyBytes: 1024 * 1024 }));

  const create = await h.call({ path: '/api/1.0/projects', token: w.member.token, body: { data: { workspace: w.org.gid, name: 'Big “export” / 2026' } } });
  projectGid = create.body.data.gid;
  const section = await h.call({ path: `/api/1.0/projects/${projectGid}/sections`, token: w.member.token, body: { data: { name: 'Backlog' } } });
  const field = await customField(h, w.org.gid, 'text');
  fieldGid = field.gid;
  await h.engine.db.insertInto('project_custom_field_settings').values({ gid: h.deps.ids.gid(), project_gid: projectGid, custom_field_gid: fieldGid, position: 1 }).execute();

  // 3,000 tasks in bulk: 2,700 in the project and 300 subtasks, a comment on every third.
  const db = h.engine.db;
  const base = h.clock.now().getTime();
  let previousTop = '';
  const rows: { gid: string; i: number; sub: boolean; parent: string | null; name: string }[] = [];
  for (let i = 0; i < TASKS; i++) {
    const gid = h.deps.ids.gid();
    const sub = i % SUBTASK_EVERY === SUBTASK_EVERY - 1;
    const name = `Task ${String(i).padStart(4, '0')}`;
    rows.push({ gid, i, sub, parent: sub ? previousTop : null, name });
    order.push({ gid, name, parent: sub ? order.find((o) => o.gid === previousTop)!.name : null });
    if (!sub) previousTop = gid;
  }
  for (let start = 0; start < rows.length; start += 500) {
    const batch = rows.slice(start, start + 500);
    const at = (r: (typeof rows)[number]) => new Date(base + r.i);
    await db.insertInto('tasks').values(batch.map((r) => ({ gid: r.gid, organization_gid: w.org.gid, name: r.name, notes: notes(r.i), assignee_gid: w.member.gid, parent_gid: r.parent, created_by: w.member.gid, created_at: at(r), modified_at: at(r) }))).execute();
    await db.insertInto('task_ancestors').values(batch.flatMap((r) => [{ task_gid: r.gid, ancestor_gid: r.gid, depth: 0 }, ...(r.parent ? [{ task_gid: r.gid, ancestor_gid: r.parent, depth: 1 }] : [])])).execute();
    const tops = batch.filter((r) => !r.sub);
    await db.insertInto('task_projects').values(tops.map((r) => ({ task_gid: r.gid, project_gid: projectGid, section_gid: section.body.data.gid, position: r.i, added_at: at(r) }))).execute();
    await db.insertInto('task_custom_field_values').values(tops.map((r) => ({ task_gid: r.gid, custom_field_gid: fieldGid, text_value: `value ${r.i}` }))).execute();
    const commented = batch.filter((r) => r.i % 3 === 0);
    await db.insertInto('stories').values(commented.map((r) => ({ gid: h.deps.ids.gid(), task_gid: r.gid, text: `Comment on ${r.name}`, created_by: w.member.gid, created_at: at(r), modified_at: at(r) }))).execute();
  }

  // Warm up: run both exports once on a small project, so one-time costs (compiled code,
  // caches) are not counted as the big export's memory.
  const small = await h.call({ path: '/api/1.0/projects', token: w.member.token, body: { data: { workspace: w.org.gid, name: 'Warm-up' } } });
  await h.call({ path: '/api/1.0/tasks', token: w.member.token, body: { data: { name: 'One', projects: [small.body.data.gid] } } });
  for (const ext of ['csv', 'json']) {
    const res = await fetch(`${origin}/api/1.0/projects/${small.body.data.gid}/export.${ext}`, { headers: { Cookie: `session=${w.member.token}` }, redirect: 'manual' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
}, 120_000);

afterAll(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs a request while sampling memory after a forced collection about every 512 KiB of
 * document: the JavaScript heap (objects and strings), and separately the memory outside
 * it (Buffers, which include the embedded database's WebAssembly memory, so they are
 * reported, not asserted; what the delivery holds there is asserted through its hook).
 */
async function measured<T>(run: () => Promise<T>) {
  const samples: { phase: string; bytes: number; heap: number; buffers: number }[] = [];
  let last: DeliveryProgress | undefined;
  let nextSampleAt = 0;
  gc?.();
  const base = process.memoryUsage();
  onProgress = (p) => {
    last = p;
    if (gc && p.totalBytes >= nextSampleAt) {
      nextSampleAt = p.totalBytes + 512 * 1024;
      gc();
      const m = process.memoryUsage();
      samples.push({ phase: p.phase, bytes: p.totalBytes, heap: m.heapUsed - base.heapUsed, buffers: m.arrayBuffers - base.arrayBuffers });
    }
  };
  try {
    const result = await run();
    const peak = (key: 'heap' | 'buffers', phase?: string) => Math.max(0, ...samples.filter((s) => !phase || s.phase === phase).map((s) => s[key]));
    if (process.env.EXPORT_MEMORY_TRACE) console.log(samples.map((s) => `${s.phase} at ${MiB(s.bytes)}: heap ${MiB(s.heap)}, buffers ${MiB(s.buffers)}`).join('\n'));
    // While the rest of the document streams out, the heap must stay flat however much is written.
    const uploading = samples.filter((s) => s.phase === 'uploading');
    const drift = uploading.length > 1 ? { heap: uploading.at(-1)!.heap - uploading[0]!.heap, bytes: uploading.at(-1)!.bytes - uploading[0]!.bytes } : { heap: 0, bytes: 0 };
    return { result, progress: last!, samples: samples.length, heapGrowth: peak('heap'), uploadingHeapGrowth: peak('heap', 'uploading'), buffersGrowth: peak('buffers'), drift };
  } finally {
    onProgress = undefined;
  }
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

describe('an export over 6 MB', () => {
  test('CSV over HTTP with the session cookie: 302 to a 5-minute download that parses, with bounded memory', async () => {
    const permalink = `${origin}/api/1.0/projects/${projectGid}/export.csv`;
    const { result: first, progress, heapGrowth, uploadingHeapGrowth, buffersGrowth, samples, drift } = await measured(() => fetch(permalink, { headers: { Cookie: `session=${w.member.token}` }, redirect: 'manual' }));
    expect(first.status).toBe(302);
    const location = first.headers.get('location')!;
    expect(location.startsWith(`${origin}/_local/blobs/exports/adhoc/${w.org.gid}/`)).toBe(true);
    expect(location).toMatch(/\.csv\?/);
    const expires = Number(new URL(location).searchParams.get('expires'));
    expect(expires - Math.floor(h.clock.now().getTime() / 1000)).toBe(300);

    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="Big _export_ _ 2026.csv"; filename*=UTF-8''Big%20%E2%80%9Cexport%E2%80%9D%20_%202026.csv`);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(progress.totalBytes);
    expect(bytes.length).toBeGreaterThan(LAMBDA_LIMIT * 2);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(bytes.toString('utf8'), { bom: true }) as string[][];
    expect(rows[0]).toEqual(['Task ID', 'Created At', 'Completed At', 'Last Modified', 'Name', 'Section/Column', 'Assignee', 'Assignee Email', 'Start Date', 'Due Date', 'Tags', 'Notes', 'Projects', 'Parent task', 'Field text']);
    expect(rows).toHaveLength(TASKS + 1);
    expect(rows.slice(1).map((r) => [r[0], r[4], r[13]])).toEqual(order.map((o) => [o.gid, o.name, o.parent ?? '']));
    expect(rows[1]![11]).toBe(`'${notes(0)}`);
    expect(rows[2]![11]).toBe(notes(1));
    expect(rows[2]![14]).toBe('value 1');
    expect(rows[10]![5]).toBe(''); // a subtask: no section of its own

    // The download link is short-lived; the permalink is what users keep.
    h.clock.advance(301_000);
    expect((await fetch(location)).status).toBe(403);

    // Memory: the delivery held at most the threshold plus one chunk of rows ...
    expect(progress.maxHeldBytes).toBeLessThanOrEqual(INLINE_LIMIT_BYTES + 1024 * 1024);
    expect(progress.maxHeldBytes).toBeLessThan(bytes.length / 3);
    // ... and the heap grew by far less than the document.
    console.log(
      `CSV export: document ${MiB(bytes.length)} (${TASKS} tasks), delivery held at most ${MiB(progress.maxHeldBytes)}; ` +
        `after GC, heap growth peak ${MiB(heapGrowth)} (${MiB(uploadingHeapGrowth)} once uploading; ${MiB(drift.heap)} more while ${MiB(drift.bytes)} more were written), ` +
        `buffers growth peak ${MiB(buffersGrowth)} (${samples} samples${gc ? '' : ', no gc available'})`,
    );
    if (gc) {
      expect(samples).toBeGreaterThan(10);
      expect(heapGrowth).toBeLessThan(bytes.length / 3);
      // Holding the whole document would make this at least its size; GC timing adds noise.
      expect(heapGrowth + progress.maxHeldBytes).toBeLessThan(bytes.length * 0.75);
      expect(drift.bytes).toBeGreaterThan(8 * 1024 * 1024);
      expect(drift.heap).toBeLessThan(1024 * 1024);
    }
  }, 300_000);

  test('JSON with a bearer token: 302, and the downloaded document is complete and valid', async () => {
    const { result, progress, heapGrowth, uploadingHeapGrowth, buffersGrowth, samples, drift } = await measured(() => handler(apiEvent({ path: `/api/1.0/projects/${projectGid}/export.json`, headers: { Authorization: `Bearer ${w.member.token}` } })));
    expect(result.statusCode).toBe(302);
    expect(result.body).toBe('');
    const location = header(result, 'location')!;
    expect(location).toMatch(new RegExp(`^${origin}/_local/blobs/exports/adhoc/${w.org.gid}/[A-Za-z0-9_-]+\\.json\\?`));
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(download.headers.get('content-disposition')).toMatch(/^inline; filename="Big _export_ _ 2026\.json"/);
    const text = await download.text();
    expect(Buffer.byteLength(text)).toBe(progress.totalBytes);
    expect(progress.totalBytes).toBeGreaterThan(LAMBDA_LIMIT * 2);
    const doc = JSON.parse(text);
    const validate = await schema();
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    expect(doc.tasks.map((t: { gid: string }) => t.gid)).toEqual(order.map((o) => o.gid));
    expect(doc.summary).toEqual({ tasks: TASKS, subtasks: TASKS / SUBTASK_EVERY, stories: TASKS / 3, attachments: 0, sections: 1, statuses: 0, tags: 0, custom_fields: 1 });
    expect(doc.tasks[3].stories.map((s: { text: string }) => s.text)).toEqual(['Comment on Task 0003']);
    expect(doc.tasks[4].stories).toEqual([]);
    expect(progress.maxHeldBytes).toBeLessThanOrEqual(INLINE_LIMIT_BYTES + 1024 * 1024);
    console.log(
      `JSON export: document ${MiB(progress.totalBytes)}, delivery held at most ${MiB(progress.maxHeldBytes)}; ` +
        `after GC, heap growth peak ${MiB(heapGrowth)} (${MiB(uploadingHeapGrowth)} once uploading; ${MiB(drift.heap)} more while ${MiB(drift.bytes)} more were written), buffers growth peak ${MiB(buffersGrowth)} (${samples} samples)`,
    );
    if (gc) {
      expect(heapGrowth).toBeLessThan(progress.totalBytes / 3);
      expect(heapGrowth + progress.maxHeldBytes).toBeLessThan(progress.totalBytes * 0.75);
      expect(drift.bytes).toBeGreaterThan(8 * 1024 * 1024);
      expect(drift.heap).toBeLessThan(1024 * 1024);
    }
  }, 300_000);
});
