/**
 * Attachments: files (and links) on tasks and projects.
 *
 * - Access follows the parent: whoever can see the task or project sees its attachments;
 *   adding and deleting need edit rights on it (policy.ts decides both:
 *   canSeeAttachmentParent, canEditAttachmentParent, isPendingUploadOf). Invisible
 *   parents and their attachments answer 404.
 * - Bytes live in the blob store under attachments/<organization gid>/<attachment gid>:
 *   no user input ever reaches a key. The client's file name and declared content type
 *   are stored as given (cleaned); downloads go through short-lived signed URLs whose
 *   Content-Disposition is `attachment`, so nothing renders inline from our origin.
 * - Two ways in: the bytes in the request (multipart POST /attachments, limited by the
 *   API's maximum body size), or, for large files, a pending attachment with a signed PUT
 *   URL, completed once the blob is there with the declared size (checked with head).
 *   Pending attachments are visible only to their uploader, through completion; the purge
 *   drops those never completed (PENDING_UPLOAD_TTL_SECONDS).
 * - Deleting is soft (deleted_at); the purge removes rows and blobs 30 days later.
 */
import { keysetPage, toNumber, type KeysetPage } from '../../db/query.js';
import type { AttachmentsTable } from '../../db/schema.js';
import { canEditAttachmentParent, canSeeAttachmentParent, isPendingUploadOf, viewerIn, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ConflictError, ForbiddenError, HttpError, NotFoundError } from '../errors.js';
import { iso, movedTo, touchRows, type Db } from './common.js';
import { projectCompact, taskCompact } from './present.js';

/** The largest attachment, whichever way it is uploaded (direct uploads are also limited by the body size). */
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
/** How long a download_url works. */
export const DOWNLOAD_URL_SECONDS = 5 * 60;
/** How long an upload_url accepts the PUT. */
export const UPLOAD_URL_SECONDS = 15 * 60;
/** Pending uploads older than this are purged with whatever was PUT. */
export const PENDING_UPLOAD_TTL_SECONDS = 24 * 3600;
export const MAX_NAME_LENGTH = 1024;
export const MAX_URL_LENGTH = 2048;
/** The content type stored for external (link) attachments, which have no bytes. */
const LINK_CONTENT_TYPE = 'text/uri-list';

export type ParentType = AttachmentsTable['parent_type'];

export interface AttachmentParent {
  type: ParentType;
  gid: string;
  organizationGid: string;
}

/** The blob key of an attachment: ids only, never the file name. */
export const attachmentBlobKey = (organizationGid: string, attachmentGid: string) => `attachments/${organizationGid}/${attachmentGid}`;

// --- Values -------------------------------------------------------------------------

const TOKEN = "[a-z0-9!#$%&'*+.^_`|~-]+";
const MIME_ESSENCE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/**
 * The essence of a declared content type ("Image/PNG; x=y" -> "image/png"), or null when
 * it is not a syntactically valid MIME type. Only the essence is stored and served.
 */
export function normalizeContentType(value: string | null | undefined): string | null {
  const essence = (value ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return essence.length <= 255 && MIME_ESSENCE.test(essence) ? essence : null;
}

/** A file name without control characters or surrounding blanks, 1 to 1024 characters. */
export function cleanName(name: string, field = 'name'): string {
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!clean) throw new BadRequestError(`${field}: must not be empty`);
  if (clean.length > MAX_NAME_LENGTH) throw new BadRequestError(`${field}: must be at most ${MAX_NAME_LENGTH} characters`);
  return clean;
}

/** An http(s) URL for an external attachment (no javascript:, data: or file: links). */
export function externalUrl(value: string, field = 'url'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadRequestError(`${field}: must be an absolute http or https URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError(`${field}: must be an http or https URL`);
  if (value.length > MAX_URL_LENGTH) throw new BadRequestError(`${field}: must be at most ${MAX_URL_LENGTH} characters`);
  return value;
}

function tooLarge(): HttpError {
  return new HttpError(413, `Attachments can be at most ${MAX_ATTACHMENT_BYTES} bytes (100 MiB)`);
}

// --- Access -------------------------------------------------------------------------

async function findParent(db: Db, gid: string): Promise<AttachmentParent | null> {
  const task = await db.selectFrom('tasks').select('organization_gid').where('gid', '=', gid).executeTakeFirst();
  if (task) return { type: 'task', gid, organizationGid: task.organization_gid };
  const project = await db.selectFrom('projects').select('organization_gid').where('gid', '=', gid).executeTakeFirst();
  return project ? { type: 'project', gid, organizationGid: project.organization_gid } : null;
}

async function assertParentVisible(db: Db, viewer: Viewer, parent: AttachmentParent): Promise<void> {
  if (!(await canSeeAttachmentParent(db, viewer, parent))) throw new NotFoundError(`${parent.type === 'task' ? 'Task' : 'Project'} not found`);
}

async function assertParentEditable(db: Db, viewer: Viewer, parent: AttachmentParent): Promise<void> {
  await assertParentVisible(db, viewer, parent);
  if (!(await canEditAttachmentParent(db, viewer, parent))) throw new ForbiddenError(`You can see this ${parent.type} but not change its attachments`);
}

/** The viewer and the parent (a task or project the caller can see); 404 otherwise. */
async function visibleParent(db: Db, principal: Principal, parentGid: string): Promise<{ viewer: Viewer; parent: AttachmentParent }> {
  const parent = await findParent(db, parentGid);
  if (!parent) throw new NotFoundError('Parent not found: it must be a task or a project');
  const viewer = await viewerIn(db, principal, parent.organizationGid);
  await assertParentVisible(db, viewer, parent);
  return { viewer, parent };
}

/** As visibleParent, and the caller may change it (403 when visible but read-only). */
async function editableParent(db: Db, principal: Principal, parentGid: string): Promise<{ viewer: Viewer; parent: AttachmentParent }> {
  const found = await visibleParent(db, principal, parentGid);
  await assertParentEditable(db, found.viewer, found.parent);
  return found;
}

const ROW_COLUMNS = ['gid', 'organization_gid', 'parent_type', 'parent_gid', 'name', 'resource_subtype', 'url', 'content_type', 'size', 'blob_key', 'upload_state', 'created_by', 'created_at'] as const;

async function liveRow(db: Db, gid: string) {
  return db.selectFrom('attachments').select(ROW_COLUMNS).where('gid', '=', gid).where('deleted_at', 'is', null).executeTakeFirst();
}
type AttachmentRow = NonNullable<Awaited<ReturnType<typeof liveRow>>>;

const parentOf = (row: AttachmentRow): AttachmentParent => ({ type: row.parent_type, gid: row.parent_gid, organizationGid: row.organization_gid });

/**
 * A live attachment the caller can see, with their viewer; 404 otherwise. Pending uploads
 * exist only for their uploader, and only where `pending` is set (completing, deleting).
 */
async function visibleRow(db: Db, principal: Principal, gid: string, options: { pending?: boolean } = {}): Promise<{ viewer: Viewer; row: AttachmentRow }> {
  const row = await liveRow(db, gid);
  if (!row) throw new NotFoundError('Attachment not found');
  const viewer = await viewerIn(db, principal, row.organization_gid);
  if (row.upload_state === 'pending' && !(options.pending && isPendingUploadOf(viewer, row.created_by))) throw new NotFoundError('Attachment not found');
  try {
    await assertParentVisible(db, viewer, parentOf(row));
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError('Attachment not found');
    throw error;
  }
  return { viewer, row };
}

async function touchParent(db: Db, parent: AttachmentParent, now: Date): Promise<void> {
  await touchRows(db, parent.type === 'task' ? 'tasks' : 'projects', parent.gid, now);
}

// --- Use cases ----------------------------------------------------------------------

export interface UploadInput {
  parent: string;
  name: string;
  /** As declared by the client; invalid types are stored as application/octet-stream. */
  contentType: string;
  bytes: Uint8Array;
}

/** Stores the bytes and creates a complete attachment; returns its gid. */
export async function uploadAttachment(deps: AppDeps, principal: Principal, input: UploadInput): Promise<string> {
  const db = deps.database.db;
  const name = cleanName(input.name);
  if (input.bytes.length > MAX_ATTACHMENT_BYTES) throw tooLarge();
  const contentType = normalizeContentType(input.contentType) ?? 'application/octet-stream';
  // Checked before any bytes are stored, and again with the row.
  const { viewer, parent } = await editableParent(db, principal, input.parent);
  const gid = deps.ids.gid();
  const key = attachmentBlobKey(parent.organizationGid, gid);
  await deps.blobs.put(key, input.bytes, { contentType });
  const now = deps.clock.now();
  try {
    await db.transaction().execute(async (trx) => {
      await assertParentEditable(trx, viewer, parent);
      await trx
        .insertInto('attachments')
        .values({ gid, organization_gid: parent.organizationGid, parent_type: parent.type, parent_gid: parent.gid, name, content_type: contentType, size: input.bytes.length, blob_key: key, upload_state: 'complete', created_by: viewer.userGid, created_at: now, modified_at: now })
        .execute();
      await touchParent(trx, parent, now);
    });
  } catch (error) {
    // No row, no blob: an unreachable blob would only wait for nobody.
    await deps.blobs.delete(key).catch(() => undefined);
    throw error;
  }
  return gid;
}

/** Attaches a link (Asana's resource_subtype "external"): a name and an http(s) URL, no bytes. */
export async function attachLink(deps: AppDeps, principal: Principal, input: { parent: string; name: string; url: string }): Promise<string> {
  const db = deps.database.db;
  const name = cleanName(input.name);
  const url = externalUrl(input.url);
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await db.transaction().execute(async (trx) => {
    const { viewer, parent } = await editableParent(trx, principal, input.parent);
    await trx
      .insertInto('attachments')
      .values({
        gid,
        organization_gid: parent.organizationGid,
        parent_type: parent.type,
        parent_gid: parent.gid,
        name,
        resource_subtype: 'external',
        url,
        content_type: LINK_CONTENT_TYPE,
        size: null,
        // Nothing is stored under it; the purge deletes it like any other (a no-op).
        blob_key: attachmentBlobKey(parent.organizationGid, gid),
        upload_state: 'complete',
        created_by: viewer.userGid,
        created_at: now,
        modified_at: now,
      })
      .execute();
    await touchParent(trx, parent, now);
  });
  return gid;
}

export interface StartedUpload {
  gid: string;
  name: string;
  contentType: string;
  uploadUrl: string;
  expiresAt: Date;
}

/**
 * Large files, step one: a pending attachment and a signed URL that accepts one PUT of
 * its bytes (with the declared Content-Type) for UPLOAD_URL_SECONDS.
 */
export async function startUpload(deps: AppDeps, principal: Principal, input: { parent: string; name: string; contentType: string; size: number }): Promise<StartedUpload> {
  const db = deps.database.db;
  const name = cleanName(input.name);
  const contentType = normalizeContentType(input.contentType);
  if (!contentType) throw new BadRequestError('content_type: must be a MIME type such as image/png');
  if (!Number.isSafeInteger(input.size) || input.size < 0) throw new BadRequestError('size: must be a whole number of bytes');
  if (input.size > MAX_ATTACHMENT_BYTES) throw tooLarge();
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  let key = '';
  await db.transaction().execute(async (trx) => {
    const { viewer, parent } = await editableParent(trx, principal, input.parent);
    key = attachmentBlobKey(parent.organizationGid, gid);
    await trx
      .insertInto('attachments')
      .values({ gid, organization_gid: parent.organizationGid, parent_type: parent.type, parent_gid: parent.gid, name, content_type: contentType, size: input.size, blob_key: key, upload_state: 'pending', created_by: viewer.userGid, created_at: now, modified_at: now })
      .execute();
  });
  const uploadUrl = await deps.blobs.signedPutUrl(key, { expiresInSeconds: UPLOAD_URL_SECONDS, contentType });
  return { gid, name, contentType, uploadUrl, expiresAt: new Date(now.getTime() + UPLOAD_URL_SECONDS * 1000) };
}

/**
 * Large files, step two: the uploader confirms; the blob must exist with the declared
 * size (409 while nothing was uploaded; 400 and the blob discarded when the size differs).
 * Needs edit rights on the parent; completing a complete attachment changes nothing.
 */
export async function completeUpload(deps: AppDeps, principal: Principal, gid: string): Promise<void> {
  const db = deps.database.db;
  const { viewer, row } = await visibleRow(db, principal, gid, { pending: true });
  await assertParentEditable(db, viewer, parentOf(row));
  if (row.upload_state === 'complete') return;
  const declared = toNumber(row.size);
  const head = await deps.blobs.head(row.blob_key);
  if (!head) throw new ConflictError('Nothing has been uploaded for this attachment yet: PUT the file to its upload_url first');
  if (head.size !== declared) {
    await deps.blobs.delete(row.blob_key);
    throw new BadRequestError(`The uploaded file has ${head.size} bytes but ${declared} were declared; upload the right file again`);
  }
  const now = deps.clock.now();
  await db.transaction().execute(async (trx) => {
    await assertParentEditable(trx, viewer, parentOf(row));
    // Completing is when the attachment appears (in the API and in incremental exports).
    await trx.updateTable('attachments').set({ upload_state: 'complete', modified_at: movedTo(now) }).where('gid', '=', gid).where('deleted_at', 'is', null).execute();
    await touchParent(trx, parentOf(row), now);
  });
}

/** Soft-deletes an attachment (the blob stays until the purge). Needs edit rights on the parent. */
export async function deleteAttachment(deps: AppDeps, principal: Principal, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (trx) => {
    const { viewer, row } = await visibleRow(trx, principal, gid, { pending: true });
    await assertParentEditable(trx, viewer, parentOf(row));
    await trx.updateTable('attachments').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', gid).where('deleted_at', 'is', null).execute();
    await touchParent(trx, parentOf(row), now);
  });
}

// --- Reading ------------------------------------------------------------------------

export const attachmentCompact = (a: { gid: string; name: string; resource_subtype: string }) => ({
  gid: a.gid,
  resource_type: 'attachment' as const,
  name: a.name,
  resource_subtype: a.resource_subtype,
});

/**
 * Asana's full representations of attachment rows, in their order, with a fresh signed
 * download_url each (a fixed number of queries for any number of rows).
 */
async function attachmentViews(deps: AppDeps, rows: AttachmentRow[], baseUrl: string): Promise<Record<string, unknown>[]> {
  const db = deps.database.db;
  const taskGids = rows.filter((r) => r.parent_type === 'task').map((r) => r.parent_gid);
  const projectGids = rows.filter((r) => r.parent_type === 'project').map((r) => r.parent_gid);
  const [tasks, projects] = await Promise.all([
    taskGids.length ? db.selectFrom('tasks').select(['gid', 'name', 'resource_subtype']).where('gid', 'in', taskGids).execute() : [],
    projectGids.length ? db.selectFrom('projects').select(['gid', 'name']).where('gid', 'in', projectGids).execute() : [],
  ]);
  const parents = new Map<string, Record<string, unknown>>([...tasks.map((t) => [t.gid, taskCompact(t)] as const), ...projects.map((p) => [p.gid, projectCompact(p)] as const)]);
  return Promise.all(
    rows.map(async (r) => {
      const external = r.resource_subtype === 'external';
      return {
        ...attachmentCompact(r),
        created_at: iso(r.created_at),
        download_url: external ? null : await deps.blobs.signedGetUrl(r.blob_key, { expiresInSeconds: DOWNLOAD_URL_SECONDS, downloadFilename: r.name, contentType: r.content_type }),
        permanent_url: `${baseUrl}/api/1.0/attachments/${r.gid}`,
        host: external ? 'external' : 'asana',
        parent: parents.get(r.parent_gid) ?? null,
        ...(external ? {} : { size: toNumber(r.size) }),
        view_url: external ? r.url : null,
        connected_to_app: false,
      };
    }),
  );
}

/** The full representation of an attachment the caller can see; 404 otherwise. */
export async function getAttachment(deps: AppDeps, principal: Principal, gid: string, baseUrl: string): Promise<Record<string, unknown>> {
  const { row } = await visibleRow(deps.database.db, principal, gid);
  return (await attachmentViews(deps, [row], baseUrl))[0]!;
}

/**
 * One page of a visible parent's attachments, oldest first: compact, or full (with
 * download URLs) when `full`. 404 when the caller cannot see the parent.
 */
export async function listAttachments(
  deps: AppDeps,
  principal: Principal,
  parentGid: string,
  page: { limit: number; offset: string | null },
  options: { full: boolean; baseUrl: string },
): Promise<KeysetPage<Record<string, unknown>>> {
  const db = deps.database.db;
  const { parent } = await visibleParent(db, principal, parentGid);
  const base = db
    .selectFrom('attachments')
    .select(['gid', 'name', 'resource_subtype', 'created_at'])
    .where('parent_type', '=', parent.type)
    .where('parent_gid', '=', parent.gid)
    .where('deleted_at', 'is', null)
    .where('upload_state', '=', 'complete');
  const result = await keysetPage(db, base, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
  if (!options.full || result.rows.length === 0) return { next: result.next, rows: result.rows.map(attachmentCompact) };
  const byGid = new Map((await db.selectFrom('attachments').select(ROW_COLUMNS).where('gid', 'in', result.rows.map((r) => r.gid)).execute()).map((r) => [r.gid, r]));
  const rows = result.rows.map((r) => byGid.get(r.gid)).filter((r): r is AttachmentRow => r !== undefined);
  return { next: result.next, rows: await attachmentViews(deps, rows, options.baseUrl) };
}
