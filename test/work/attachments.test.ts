/**
 * Attachments through the API handler with a real blob store (LocalBlobs in a temp dir):
 * multipart uploads, downloads through signed URLs, the two-step upload for large files,
 * access rules, deletion, sizes and bad input.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { purgeDeletedWork } from '../../lambdas/domain/work/retention.js';
import { MAX_ATTACHMENT_BYTES } from '../../lambdas/domain/work/attachments.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { routes } from '../../lambdas/http/route-table.js';
import { attachmentRoutes } from '../../lambdas/http/routes/attachments.js';
import { loadAsanaOas } from '../support/asana-oas.js';
import { BASE_URL, identityHarness, type Answer, type IdentityHarness } from '../support/identity.js';
import { project } from '../support/graph.js';
import { apiEvent, header } from '../support/http.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let blobs: LocalBlobs;
let handler: ApiHandler;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attachments-test-'));
  // Sessions outlive the clock jumps of the expiry and purge tests.
  h = await identityHarness({ extraRoutes: attachmentRoutes, auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  blobs = new LocalBlobs({ root: dir, baseUrl: BASE_URL, secret: 'attachments-test-secret', clock: { now: () => h.clock.now() } });
  // The harness's own handler has a blob store that fails every call: use a real one.
  handler = createApiHandler({ ...h.deps, blobs }, [...routes.filter((r) => !attachmentRoutes.includes(r)), ...attachmentRoutes]);
  w = await organizationWithRoles(h);
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// --- Helpers ------------------------------------------------------------------------

type Part = { name: string; value: string } | { name: string; filename: string; type?: string; data: Uint8Array };

/** A multipart/form-data body, built by hand as a browser or curl would send it. */
function multipart(parts: Part[]): { bytes: Buffer; contentType: string } {
  const boundary = `----attachments${randomUUID().replaceAll('-', '')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if ('filename' in part) head += `; filename="${part.filename}"${part.type ? `\r\nContent-Type: ${part.type}` : ''}`;
    chunks.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'), 'data' in part ? Buffer.from(part.data) : Buffer.from(part.value, 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function send(init: { method?: string; path: string; token?: string; data?: unknown; form?: { bytes: Buffer; contentType: string }; raw?: { body: string; contentType: string } }): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let body: unknown;
  let isBase64Encoded = false;
  if (init.form) {
    headers['Content-Type'] = init.form.contentType;
    body = init.form.bytes.toString('base64'); // as API Gateway hands over binary media types
    isBase64Encoded = true;
  } else if (init.raw) {
    headers['Content-Type'] = init.raw.contentType;
    body = init.raw.body;
  } else if (init.data !== undefined) {
    body = { data: init.data };
  }
  const method = init.method ?? (body === undefined ? 'GET' : 'POST');
  const result = await handler(apiEvent({ method, path: `/api/1.0${init.path}`, headers, body, isBase64Encoded }));
  const all: Record<string, string> = {};
  for (const k of Object.keys(result.headers ?? {})) all[k.toLowerCase()] = header(result, k)!;
  return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : null, headers: all };
}

const upload = (token: string, parent: string, file: { filename: string; type?: string; data: Uint8Array }, extra: Part[] = []) =>
  send({ path: '/attachments', token, form: multipart([{ name: 'parent', value: parent }, ...extra, { name: 'file', ...file }]) });

async function download(url: string) {
  const answer = await blobs.handleSignedRequest({ method: 'GET', url });
  const bytes = answer.body instanceof Readable ? Buffer.concat((await answer.body.toArray()) as Buffer[]) : Buffer.from(answer.body ?? '');
  return { status: answer.status, headers: answer.headers, bytes };
}

async function put(url: string, bytes: Uint8Array, contentType: string) {
  return blobs.handleSignedRequest({ method: 'PUT', url, headers: { 'content-type': contentType }, body: Readable.from([Buffer.from(bytes)]) });
}

async function newTask(who: Person, projectGid: string, name = 'Task with files'): Promise<string> {
  const res = await send({ path: '/tasks', token: who.token, data: { name, projects: [projectGid] } });
  expect(res.status).toBe(201);
  return res.body.data.gid as string;
}

const gids = (res: Answer) => (res.body.data as { gid: string }[]).map((a) => a.gid);
const countRows = async () => Number((await h.engine.db.selectFrom('attachments').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

/** Bytes that look like multipart framing, to show the parser does not cut files short. */
const tricky = () => Buffer.concat([randomBytes(1000), Buffer.from('\r\n--\r\n------attachments\r\n\r\n'), Buffer.from([0, 255, 13, 10, 0]), randomBytes(1000)]);

// --- Multipart uploads --------------------------------------------------------------

describe('multipart uploads', () => {
  test('a member uploads a file to a task; the bytes come back through a 5-minute download_url', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const before = (await send({ path: `/tasks/${t}`, token: w.member.token })).body.data.modified_at;
    h.clock.advance(1000);
    const bytes = tricky();
    const res = await upload(w.member.token, t, { filename: 'report.bin', type: 'application/octet-stream', data: bytes });
    expect(res.status).toBe(200);
    const a = res.body.data;
    expect(a).toMatchObject({
      resource_type: 'attachment',
      name: 'report.bin',
      resource_subtype: 'asana',
      host: 'asana',
      size: bytes.length,
      parent: { gid: t, resource_type: 'task', name: 'Task with files', resource_subtype: 'default_task' },
      view_url: null,
      connected_to_app: false,
      permanent_url: `${BASE_URL}/api/1.0/attachments/${a.gid}`,
    });
    expect(Date.parse(a.created_at)).toBe(h.clock.now().getTime());
    expect(a.download_url.startsWith(`${BASE_URL}/_local/blobs/attachments/${w.org.gid}/${a.gid}?`)).toBe(true);

    const got = await download(a.download_url);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.headers['Content-Disposition']).toBe(`attachment; filename="report.bin"; filename*=UTF-8''report.bin`);
    // Attaching changes the task.
    expect(Date.parse((await send({ path: `/tasks/${t}`, token: w.member.token })).body.data.modified_at)).toBeGreaterThan(Date.parse(before));

    // Short-lived: the URL stops working after 5 minutes; a new GET signs a fresh one.
    h.clock.advance(301_000);
    expect((await download(a.download_url)).status).toBe(403);
    const again = await send({ path: `/attachments/${a.gid}`, token: w.member.token });
    expect(again.status).toBe(200);
    expect(again.body.data.download_url).not.toBe(a.download_url);
    expect((await download(again.body.data.download_url)).bytes.equals(bytes)).toBe(true);
  });

  test('images, PDFs and video keep their declared type; everything downloads as an attachment', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const files = [
      { filename: 'photo.png', type: 'image/png', served: 'image/png' },
      { filename: 'scan.pdf', type: 'application/pdf', served: 'application/pdf' },
      { filename: 'clip.mp4', type: 'video/mp4', served: 'video/mp4' },
      { filename: 'screen.webm', type: 'Video/WebM; codecs="vp9"', served: 'video/webm' },
      // HTML is stored and served as declared, but never rendered from our origin.
      { filename: 'page.html', type: 'text/html', served: 'text/html' },
    ];
    for (const f of files) {
      h.clock.advance(1000); // lists are oldest first
      const data = randomBytes(257);
      const res = await upload(w.member.token, t, { filename: f.filename, type: f.type, data });
      expect(res.status).toBe(200);
      const row = await h.engine.db.selectFrom('attachments').select('content_type').where('gid', '=', res.body.data.gid).executeTakeFirstOrThrow();
      expect(row.content_type).toBe(f.served);
      const got = await download(res.body.data.download_url);
      expect(got.bytes.equals(data)).toBe(true);
      expect(got.headers['Content-Type']).toBe(f.served);
      expect(got.headers['Content-Disposition']).toMatch(new RegExp(`^attachment; filename="${f.filename.replace('.', '\\.')}"`));
      expect(got.headers['X-Content-Type-Options']).toBe('nosniff');
    }
    const list = await send({ path: `/attachments?parent=${t}`, token: w.member.token });
    expect(list.body.data.map((a: { name: string }) => a.name)).toEqual(files.map((f) => f.filename));
  });

  test('file names never reach blob keys; a path is cut to its last segment, UTF-8 names survive', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const sneaky = await upload(w.member.token, t, { filename: '../../../etc/passwd', type: 'text/plain', data: Buffer.from('x') });
    expect(sneaky.status).toBe(200);
    expect(sneaky.body.data.name).toBe('passwd');
    const row = await h.engine.db.selectFrom('attachments').select(['blob_key', 'organization_gid']).where('gid', '=', sneaky.body.data.gid).executeTakeFirstOrThrow();
    expect(row.blob_key).toBe(`attachments/${w.org.gid}/${sneaky.body.data.gid}`);

    const unicode = await upload(w.member.token, t, { filename: 'Résumé (final).pdf', type: 'application/pdf', data: Buffer.from('%PDF-1.7') });
    expect(unicode.body.data.name).toBe('Résumé (final).pdf');
    const got = await download(unicode.body.data.download_url);
    expect(got.headers['Content-Disposition']).toBe(`attachment; filename="R_sum_ (final).pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%28final%29.pdf`);

    // A name field replaces the file's name.
    const renamed = await upload(w.member.token, t, { filename: 'IMG_0001.JPG', type: 'image/jpeg', data: Buffer.from('jpeg') }, [{ name: 'name', value: 'Whiteboard.jpg' }]);
    expect(renamed.body.data.name).toBe('Whiteboard.jpg');
  });

  test('attachments on a project; keyset pages of a parent, compact by default, full with opt_fields', async () => {
    const p = await project(h, w.org.gid);
    const other = await project(h, w.org.gid);
    const made: string[] = [];
    for (const name of ['one.txt', 'two.txt', 'three.txt']) {
      h.clock.advance(1000);
      const res = await upload(w.member.token, p, { filename: name, type: 'text/plain', data: Buffer.from(name) });
      expect(res.body.data.parent).toEqual({ gid: p, resource_type: 'project', name: expect.any(String) });
      made.push(res.body.data.gid);
    }
    await upload(w.member.token, other, { filename: 'elsewhere.txt', type: 'text/plain', data: Buffer.from('x') });

    const page1 = await send({ path: `/attachments?parent=${p}&limit=2`, token: w.member.token });
    expect(page1.status).toBe(200);
    expect(page1.body.data).toEqual([
      { gid: made[0], resource_type: 'attachment', name: 'one.txt', resource_subtype: 'asana' },
      { gid: made[1], resource_type: 'attachment', name: 'two.txt', resource_subtype: 'asana' },
    ]);
    expect(page1.body.next_page.path).toContain(`/attachments?parent=${p}&limit=2&offset=`);
    const page2 = await send({ path: page1.body.next_page.path, token: w.member.token });
    expect(gids(page2)).toEqual([made[2]]);
    expect(page2.body.next_page).toBeNull();

    const full = await send({ path: `/attachments?parent=${p}&opt_fields=name,size,download_url,parent.name`, token: w.member.token });
    expect(full.body.data).toHaveLength(3);
    expect(full.body.data[1]).toEqual({ gid: made[1], resource_type: 'attachment', name: 'two.txt', size: 7, download_url: expect.any(String), parent: { gid: p, resource_type: 'project', name: expect.any(String) } });
    expect((await download(full.body.data[1].download_url)).bytes.toString()).toBe('two.txt');
  });

  test('external attachments: a named http(s) link without bytes', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const link = (fields: Part[]) => send({ path: '/attachments', token: w.member.token, form: multipart([{ name: 'parent', value: t }, { name: 'resource_subtype', value: 'external' }, ...fields]) });
    const res = await link([{ name: 'url', value: 'https://docs.example.com/spec?v=2' }, { name: 'name', value: 'Spec' }]);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Spec', resource_subtype: 'external', host: 'external', view_url: 'https://docs.example.com/spec?v=2', download_url: null });
    expect(res.body.data).not.toHaveProperty('size');
    expect((await send({ path: `/attachments?parent=${t}`, token: w.member.token })).body.data).toEqual([{ gid: res.body.data.gid, resource_type: 'attachment', name: 'Spec', resource_subtype: 'external' }]);

    const before = await countRows();
    expect((await link([{ name: 'url', value: 'javascript:alert(1)' }, { name: 'name', value: 'x' }])).status).toBe(400);
    expect((await link([{ name: 'url', value: 'not a url' }, { name: 'name', value: 'x' }])).status).toBe(400);
    expect((await link([{ name: 'url', value: 'https://example.com' }])).body.errors[0].message).toMatch(/^form\.name/);
    expect((await link([{ name: 'name', value: 'x' }])).body.errors[0].message).toMatch(/^form\.url/);
    expect((await link([{ name: 'url', value: 'https://example.com' }, { name: 'name', value: 'x' }, { name: 'file', filename: 'a.txt', type: 'text/plain', data: Buffer.from('a') }])).status).toBe(400);
    expect(await countRows()).toBe(before);
  });
});

describe("Asana's contract", () => {
  test("answers validate against Asana's schemas, with no field Asana does not declare", async () => {
    const oas = loadAsanaOas();
    const op = (id: string) => oas.operations.find((o) => o.operationId === id)!;
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const created = await upload(w.member.token, t, { filename: 'contract.pdf', type: 'application/pdf', data: Buffer.from('%PDF') });
    const link = await send({ path: '/attachments', token: w.member.token, form: multipart([{ name: 'parent', value: t }, { name: 'resource_subtype', value: 'external' }, { name: 'url', value: 'https://example.com/x' }, { name: 'name', value: 'X' }]) });
    const got = await send({ path: `/attachments/${created.body.data.gid}`, token: w.member.token });
    const list = await send({ path: `/attachments?parent=${t}&limit=1`, token: w.member.token });
    const full = await send({ path: `/attachments?parent=${t}&opt_fields=${op('getAttachment').optFields.map((f) => f.split('.')[0]).join(',')}`, token: w.member.token });
    const checks: [string, Answer][] = [
      ['createAttachmentForObject', created],
      ['createAttachmentForObject', link],
      ['getAttachment', got],
      ['getAttachmentsForObject', list],
      ['getAttachmentsForObject', full],
      ['deleteAttachment', await send({ method: 'DELETE', path: `/attachments/${link.body.data.gid}`, token: w.member.token })],
      ['getAttachment', await send({ path: `/attachments/${link.body.data.gid}`, token: w.member.token })],
    ];
    for (const [id, answer] of checks) expect({ id, status: answer.status, errors: oas.validateResponse(op(id), answer.status, answer.body).errors }).toEqual({ id, status: answer.status, errors: [] });
    expect(got.status).toBe(200);
    expect(list.body.next_page).not.toBeNull();
    expect(oas.undeclaredFields(op('getAttachment').successSchema!, got.body)).toEqual([]);
  });
});

// --- Large uploads ------------------------------------------------------------------

describe('large uploads through upload_urls', () => {
  test('PUT to the signed URL, then complete: the attachment appears with its bytes', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const bytes = randomBytes(200_000); // bigger than the API's body limit in these tests (64 KiB)
    const started = await send({ path: '/attachments/upload_urls', token: w.member.token, data: { parent: t, name: 'demo.mov', content_type: 'video/quicktime', size: bytes.length } });
    expect(started.status).toBe(201);
    const { attachment, upload_url, upload_headers, expires_at } = started.body.data;
    expect(attachment).toEqual({ gid: expect.any(String), resource_type: 'attachment', name: 'demo.mov', resource_subtype: 'asana', upload_state: 'pending' });
    expect(upload_headers).toEqual({ 'Content-Type': 'video/quicktime' });
    expect(Date.parse(expires_at)).toBe(h.clock.now().getTime() + 15 * 60_000);
    expect(upload_url.startsWith(`${BASE_URL}/_local/blobs/attachments/${w.org.gid}/${attachment.gid}?`)).toBe(true);

    // Pending: invisible, even to its uploader, until completed.
    expect((await send({ path: `/attachments/${attachment.gid}`, token: w.member.token })).status).toBe(404);
    expect(gids(await send({ path: `/attachments?parent=${t}`, token: w.member.token }))).toEqual([]);
    // Completing before the upload: nothing there yet.
    const early = await send({ method: 'POST', path: `/attachments/${attachment.gid}/complete`, token: w.member.token });
    expect(early.status).toBe(409);

    // The signed Content-Type must be sent.
    expect((await put(upload_url, bytes, 'application/octet-stream')).status).toBe(403);
    expect((await put(upload_url, bytes, 'video/quicktime')).status).toBe(200);
    const done = await send({ method: 'POST', path: `/attachments/${attachment.gid}/complete`, token: w.member.token });
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({ gid: attachment.gid, name: 'demo.mov', size: bytes.length, parent: { gid: t } });
    const got = await download(done.body.data.download_url);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.headers['Content-Type']).toBe('video/quicktime');
    expect(got.headers['Content-Disposition']).toMatch(/^attachment; filename="demo\.mov"/);
    expect(gids(await send({ path: `/attachments?parent=${t}`, token: w.member.token }))).toEqual([attachment.gid]);
    // Completing twice changes nothing.
    expect((await send({ method: 'POST', path: `/attachments/${attachment.gid}/complete`, token: w.member.token })).status).toBe(200);
  });

  test('a different size is refused and the upload discarded; only the uploader can complete', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const started = (await send({ path: '/attachments/upload_urls', token: w.member.token, data: { parent: t, name: 'a.pdf', content_type: 'application/pdf', size: 10 } })).body.data;
    const key = `attachments/${w.org.gid}/${started.attachment.gid}`;
    expect((await put(started.upload_url, Buffer.alloc(11), 'application/pdf')).status).toBe(200);
    const other = await person(h, { organizationGid: w.org.gid, role: 'member' });
    expect((await send({ method: 'POST', path: `/attachments/${started.attachment.gid}/complete`, token: other.token })).status).toBe(404);
    const wrong = await send({ method: 'POST', path: `/attachments/${started.attachment.gid}/complete`, token: w.member.token });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0].message).toMatch(/11 bytes but 10/);
    expect(await blobs.head(key)).toBeNull();
    // Still pending: the right bytes can follow while the URL lasts.
    expect((await put(started.upload_url, Buffer.alloc(10, 1), 'application/pdf')).status).toBe(200);
    expect((await send({ method: 'POST', path: `/attachments/${started.attachment.gid}/complete`, token: w.member.token })).body.data.size).toBe(10);
  });

  test('upload URLs expire after 15 minutes; uploads never completed are purged after a day', async () => {
    const p = await project(h, w.org.gid);
    const started = (await send({ path: '/attachments/upload_urls', token: w.member.token, data: { parent: p, name: 'late.bin', content_type: 'application/octet-stream', size: 3 } })).body.data;
    const abandoned = (await send({ path: '/attachments/upload_urls', token: w.member.token, data: { parent: p, name: 'abandoned.bin', content_type: 'application/octet-stream', size: 3 } })).body.data;
    expect((await put(abandoned.upload_url, Buffer.from('abc'), 'application/octet-stream')).status).toBe(200);
    h.clock.advance(15 * 60_000 + 1000);
    expect((await put(started.upload_url, Buffer.from('abc'), 'application/octet-stream')).status).toBe(403);

    h.clock.advance(24 * 3600_000);
    await purgeDeletedWork({ ...h.deps, blobs });
    const left = await h.engine.db.selectFrom('attachments').select('gid').where('gid', 'in', [started.attachment.gid, abandoned.attachment.gid]).execute();
    expect(left).toEqual([]);
    expect(await blobs.head(`attachments/${w.org.gid}/${abandoned.attachment.gid}`)).toBeNull();
  });

  test('more than 100 MiB is 413; bad requests are 400 and create nothing', async () => {
    const p = await project(h, w.org.gid);
    const start = (data: Record<string, unknown>) => send({ path: '/attachments/upload_urls', token: w.member.token, data: { parent: p, name: 'big.mp4', content_type: 'video/mp4', size: 5, ...data } });
    const before = await countRows();
    expect((await start({ size: MAX_ATTACHMENT_BYTES + 1 })).status).toBe(413);
    expect((await start({ content_type: 'not a type' })).body.errors[0].message).toMatch(/^data\.content_type/);
    expect((await start({ size: -1 })).status).toBe(400);
    expect((await start({ size: 1.5 })).status).toBe(400);
    expect((await start({ name: '' })).status).toBe(400);
    expect((await start({ name: '\u0000\u0007' })).status).toBe(400);
    expect((await start({ parent: 'abc' })).body.errors[0].message).toMatch(/^data\.parent/);
    expect(await countRows()).toBe(before);
    expect((await start({ size: MAX_ATTACHMENT_BYTES })).status).toBe(201);
  });
});

// --- Access -------------------------------------------------------------------------

describe('access follows the parent', () => {
  test('guests not added and other organizations get 404 for everything', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const a = (await upload(w.member.token, t, { filename: 'plan.pdf', type: 'application/pdf', data: Buffer.from('%PDF') })).body.data;
    const outsider = (await organizationWithRoles(h, 'Elsewhere')).superAdmin;
    for (const who of [w.guest, outsider]) {
      expect((await send({ path: `/attachments/${a.gid}`, token: who.token })).status).toBe(404);
      expect((await send({ path: `/attachments?parent=${t}`, token: who.token })).status).toBe(404);
      expect((await send({ path: `/attachments?parent=${p}`, token: who.token })).status).toBe(404);
      expect((await send({ method: 'DELETE', path: `/attachments/${a.gid}`, token: who.token })).status).toBe(404);
      expect((await upload(who.token, t, { filename: 'x.txt', type: 'text/plain', data: Buffer.from('x') })).status).toBe(404);
      expect((await send({ path: '/attachments/upload_urls', token: who.token, data: { parent: t, name: 'x', content_type: 'text/plain', size: 1 } })).status).toBe(404);
    }
    expect((await send({ path: `/attachments/${a.gid}` })).status).toBe(401);
    expect((await send({ path: `/attachments/${a.gid}`, token: w.member.token })).status).toBe(200);
  });

  test('a guest added as viewer reads but cannot add or delete (403); as editor they can add', async () => {
    const p = await project(h, w.org.gid, { members: [{ gid: w.guest.gid, access: 'viewer' }] });
    const t = await newTask(w.member, p);
    const a = (await upload(w.member.token, t, { filename: 'read-me.txt', type: 'text/plain', data: Buffer.from('hello') })).body.data;
    const seen = await send({ path: `/attachments/${a.gid}`, token: w.guest.token });
    expect(seen.status).toBe(200);
    expect((await download(seen.body.data.download_url)).bytes.toString()).toBe('hello');
    expect(gids(await send({ path: `/attachments?parent=${t}`, token: w.guest.token }))).toEqual([a.gid]);
    expect((await upload(w.guest.token, t, { filename: 'mine.txt', type: 'text/plain', data: Buffer.from('x') })).status).toBe(403);
    expect((await upload(w.guest.token, p, { filename: 'mine.txt', type: 'text/plain', data: Buffer.from('x') })).status).toBe(403);
    expect((await send({ path: '/attachments/upload_urls', token: w.guest.token, data: { parent: t, name: 'x', content_type: 'text/plain', size: 1 } })).status).toBe(403);
    expect((await send({ method: 'DELETE', path: `/attachments/${a.gid}`, token: w.guest.token })).status).toBe(403);
    expect((await send({ path: `/attachments/${a.gid}`, token: w.guest.token })).status).toBe(200);

    const editable = await project(h, w.org.gid, { members: [{ gid: w.guest.gid, access: 'editor' }] });
    const t2 = await newTask(w.member, editable);
    expect((await upload(w.guest.token, t2, { filename: 'mine.txt', type: 'text/plain', data: Buffer.from('x') })).status).toBe(200);
  });

  test('private projects: their attachments are invisible to non-members, org admins included', async () => {
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid }] });
    const t = await newTask(w.member, p);
    const onTask = (await upload(w.member.token, t, { filename: 'secret.pdf', type: 'application/pdf', data: Buffer.from('s') })).body.data;
    const onProject = (await upload(w.member.token, p, { filename: 'secret.png', type: 'image/png', data: Buffer.from('s') })).body.data;
    for (const who of [w.admin, w.superAdmin]) {
      for (const a of [onTask, onProject]) expect((await send({ path: `/attachments/${a.gid}`, token: who.token })).status).toBe(404);
      expect((await send({ path: `/attachments?parent=${p}`, token: who.token })).status).toBe(404);
      expect((await send({ path: `/attachments?parent=${t}`, token: who.token })).status).toBe(404);
      expect((await upload(who.token, p, { filename: 'x.txt', type: 'text/plain', data: Buffer.from('x') })).status).toBe(404);
    }
    expect((await send({ path: `/attachments/${onProject.gid}`, token: w.member.token })).status).toBe(200);
  });

  test('deleted attachments are 404 and gone from lists, the blob waits for the purge; a deleted task hides its attachments', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const keep = (await upload(w.member.token, t, { filename: 'keep.txt', type: 'text/plain', data: Buffer.from('keep') })).body.data;
    const drop = (await upload(w.member.token, t, { filename: 'drop.txt', type: 'text/plain', data: Buffer.from('drop') })).body.data;
    const other = await person(h, { organizationGid: w.org.gid, role: 'member' });
    expect((await send({ method: 'DELETE', path: `/attachments/${drop.gid}`, token: other.token })).status).toBe(200);
    expect((await send({ path: `/attachments/${drop.gid}`, token: w.member.token })).status).toBe(404);
    expect(gids(await send({ path: `/attachments?parent=${t}`, token: w.member.token }))).toEqual([keep.gid]);
    expect((await send({ method: 'DELETE', path: `/attachments/${drop.gid}`, token: w.member.token })).status).toBe(404);
    const row = await h.engine.db.selectFrom('attachments').select(['deleted_at', 'blob_key']).where('gid', '=', drop.gid).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
    expect(await blobs.head(row.blob_key)).toEqual({ size: 4, contentType: 'text/plain' });

    expect((await send({ method: 'DELETE', path: `/tasks/${t}`, token: w.member.token })).status).toBe(200);
    expect((await send({ path: `/attachments/${keep.gid}`, token: w.member.token })).status).toBe(404);
    expect((await send({ path: `/attachments?parent=${t}`, token: w.member.token })).status).toBe(404);
    expect((await send({ method: 'POST', path: `/tasks/${t}/restore`, token: w.member.token })).status).toBe(200);
    expect((await send({ path: `/attachments/${keep.gid}`, token: w.member.token })).status).toBe(200);
  });
});

// --- Bad input and sizes ------------------------------------------------------------

describe('bad input and sizes', () => {
  test('malformed, incomplete or misdirected uploads are refused and store nothing', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const file = { name: 'file', filename: 'a.txt', type: 'text/plain', data: Buffer.from('a') };
    const post = (form: { bytes: Buffer; contentType: string }) => send({ path: '/attachments', token: w.member.token, form });
    const before = await countRows();

    const noParent = await post(multipart([file]));
    expect(noParent.status).toBe(400);
    expect(noParent.body.errors[0].message).toMatch(/^form\.parent/);
    expect((await post(multipart([{ name: 'parent', value: 'task-1' }, file]))).body.errors[0].message).toMatch(/^form\.parent/);
    expect((await post(multipart([{ name: 'parent', value: t }]))).body.errors[0].message).toMatch(/^form\.file/);
    expect((await post(multipart([{ name: 'parent', value: t }, { name: 'file', value: 'not a file part' }]))).body.errors[0].message).toMatch(/^form\.file/);
    expect((await post(multipart([{ name: 'parent', value: t }, file, file]))).status).toBe(400);
    expect((await post(multipart([{ name: 'parent', value: t }, { name: 'parent', value: t }, file]))).status).toBe(400);
    expect((await post(multipart([{ name: 'parent', value: t }, { ...file, name: 'other' }]))).status).toBe(400);
    expect((await post(multipart([{ name: 'parent', value: t }, { ...file, filename: '   ' }]))).status).toBe(400);
    expect((await post(multipart([{ name: 'parent', value: t }, { name: 'resource_subtype', value: 'dropbox' }, file]))).status).toBe(400);
    expect((await post({ bytes: Buffer.from('this is not multipart'), contentType: 'multipart/form-data; boundary=xyz' })).status).toBe(400);
    expect((await send({ method: 'POST', path: '/attachments', token: w.member.token, raw: { body: '', contentType: 'multipart/form-data; boundary=xyz' } })).status).toBe(400);
    expect((await send({ path: '/attachments', token: w.member.token, data: { parent: t } })).status).toBe(415);
    // A well-formed gid that is neither a task nor a project.
    expect((await post(multipart([{ name: 'parent', value: '123456789' }, file]))).status).toBe(404);
    expect(await countRows()).toBe(before);

    expect((await send({ path: '/attachments', token: w.member.token })).body.errors[0].message).toMatch(/^query\.parent/);
    expect((await send({ path: '/attachments/upload_urls', token: w.member.token })).status).toBe(400);
    expect((await send({ path: '/attachments/12345678901', token: w.member.token })).status).toBe(404);
  });

  test('a direct upload larger than the maximum body size is 413 (large files use upload_urls)', async () => {
    const p = await project(h, w.org.gid);
    const t = await newTask(w.member, p);
    const max = h.deps.config.maxBodyBytes;
    const before = await countRows();
    const over = await upload(w.member.token, t, { filename: 'big.mp4', type: 'video/mp4', data: randomBytes(max + 1) });
    expect(over.status).toBe(413);
    expect(await countRows()).toBe(before);
    const under = await upload(w.member.token, t, { filename: 'fits.mp4', type: 'video/mp4', data: randomBytes(max - 1024) });
    expect(under.status).toBe(200);
    expect(under.body.data.size).toBe(max - 1024);
  });
});
