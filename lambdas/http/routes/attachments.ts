/**
 * Attachments: Asana's attachment endpoints, and our two-step upload for large files.
 *
 * - POST /attachments takes multipart/form-data as Asana does (parent, file; or
 *   resource_subtype=external with url and name). The body is limited by the API's
 *   maximum body size (MAX_BODY_BYTES, 1 MiB by default; on AWS also Lambda's 6 MB
 *   invocation payload, about 4.4 MB of file once API Gateway has base64-encoded it).
 *   It is parsed with Node's built-in WHATWG FormData parser (undici's, in Node core).
 * - Larger files (up to 100 MiB): POST /attachments/upload_urls {parent, name,
 *   content_type, size} gives a signed PUT URL (15 minutes) for a pending attachment;
 *   PUT the bytes there with the given headers, then POST /attachments/{gid}/complete.
 * - GET /attachments/{gid} carries a download_url that works for 5 minutes and makes the
 *   browser download the file (Content-Disposition: attachment) rather than render it.
 */
import { z } from 'zod';
import type { AppDeps } from '../../domain/deps.js';
import { BadRequestError, type ErrorEntry } from '../../domain/errors.js';
import {
  attachLink,
  attachmentCompact,
  completeUpload,
  deleteAttachment,
  getAttachment,
  listAttachments,
  MAX_ATTACHMENT_BYTES,
  MAX_NAME_LENGTH,
  MAX_URL_LENGTH,
  normalizeContentType,
  startUpload,
  uploadAttachment,
} from '../../domain/work/attachments.js';
import type { Principal } from '../../domain/auth/sessions.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type MultipartBody } from '../route.js';
import { gid } from '../schemas.js';

export const attachmentCompactSchema = z
  .object({ gid, resource_type: z.literal('attachment'), name: z.string(), resource_subtype: z.string() })
  .meta({ id: 'AttachmentCompact' });

const parentSchema = z.object({ gid, resource_type: z.enum(['task', 'project']), name: z.string(), resource_subtype: z.string().optional() });

export const attachmentSchema = attachmentCompactSchema
  .extend({
    created_at: z.string(),
    download_url: z.string().nullable().meta({ description: 'A signed URL that downloads the file for 5 minutes; null for external attachments.' }),
    permanent_url: z.string().nullable().meta({ description: 'This attachment in the API (GET /attachments/{attachment_gid}), for a fresh download_url.' }),
    host: z.enum(['asana', 'external']),
    parent: parentSchema.nullable(),
    size: z.number().optional().meta({ description: 'Bytes; only for resource_subtype asana.' }),
    view_url: z.string().nullable().meta({ description: 'The link of an external attachment; null for files.' }),
    connected_to_app: z.boolean(),
  })
  .meta({ id: 'Attachment' });

const uploadSchema = z
  .object({
    attachment: attachmentCompactSchema.extend({ upload_state: z.literal('pending') }),
    upload_url: z.string().meta({ description: 'Accepts one PUT of the file until expires_at.' }),
    upload_method: z.literal('PUT'),
    upload_headers: z.record(z.string(), z.string()).meta({ description: 'Headers the PUT must carry (the signed Content-Type).' }),
    expires_at: z.string(),
  })
  .meta({ id: 'AttachmentUpload' });

/** What the framework hands a multipart route: the raw body and its Content-Type. */
const multipartBody = z.custom<MultipartBody>(
  (v) => typeof v === 'object' && v !== null && Buffer.isBuffer((v as MultipartBody).bytes) && typeof (v as MultipartBody).contentType === 'string',
  'must be a multipart/form-data body',
);

/** The form fields of POST /attachments besides the file (unknown fields are ignored). */
const uploadFields = z.object({
  parent: gid.meta({ description: 'The task or project to attach to.' }),
  resource_subtype: z.enum(['asana', 'external']).default('asana'),
  name: z.string().min(1).max(MAX_NAME_LENGTH).optional().meta({ description: 'Required for external attachments; for files it replaces the file name.' }),
  url: z.string().min(1).max(MAX_URL_LENGTH).optional().meta({ description: 'The http(s) link of an external attachment.' }),
  connect_to_app: z.enum(['true', 'false']).optional(),
});

/** The form as documented in OpenAPI: the fields and the file part. */
const uploadFormDoc = uploadFields.extend({
  file: z.string().optional().meta({ format: 'binary', description: 'The file (required unless resource_subtype is external). Its part Content-Type is stored and served back.' }),
});

const attachmentParams = z.object({ attachment_gid: gid });

/** The form's fields and its one file, parsed; 400 for anything malformed, repeated or misplaced. */
export async function parseUploadForm(body: MultipartBody): Promise<{ fields: z.infer<typeof uploadFields>; file: File | undefined }> {
  let form: FormData;
  try {
    form = await new Response(body.bytes, { headers: { 'content-type': body.contentType } }).formData();
  } catch {
    throw new BadRequestError('Could not parse the multipart/form-data body');
  }
  const fields: Record<string, string> = {};
  let file: File | undefined;
  for (const [key, value] of form.entries()) {
    if (key in fields || (key === 'file' && file)) throw new BadRequestError(`form.${key}: was given more than once`);
    if (typeof value !== 'string') {
      if (key !== 'file') throw new BadRequestError(`form.${key}: only the field "file" may carry a file`);
      file = value;
    } else {
      if (key === 'file') throw new BadRequestError('form.file: must be a file part (with a filename)');
      fields[key] = value;
    }
  }
  const parsed = uploadFields.safeParse(fields);
  if (!parsed.success) {
    const entries: ErrorEntry[] = parsed.error.issues.map((issue) => ({ message: `${['form', ...issue.path.map(String)].join('.')}: ${issue.message}` }));
    throw new BadRequestError('Invalid form', entries);
  }
  return { fields: parsed.data, file };
}

/** The last segment of a file name as some clients send it (C:\fakepath\x.png -> x.png). */
const baseName = (name: string) => name.split(/[/\\]/).pop() ?? '';

async function createFromForm(deps: AppDeps, principal: Principal, body: MultipartBody): Promise<string> {
  const { fields, file } = await parseUploadForm(body);
  if (fields.resource_subtype === 'external') {
    if (file) throw new BadRequestError('form.file: external attachments have no file');
    if (fields.url === undefined) throw new BadRequestError('form.url: required for external attachments');
    if (fields.name === undefined) throw new BadRequestError('form.name: required for external attachments');
    return attachLink(deps, principal, { parent: fields.parent, name: fields.name, url: fields.url });
  }
  if (fields.url !== undefined) throw new BadRequestError('form.url: only external attachments have a url');
  if (!file) throw new BadRequestError('form.file: required (a file part), unless resource_subtype is external');
  const name = fields.name ?? baseName(file.name);
  if (!name.trim()) throw new BadRequestError('form.file: the file part needs a filename (or give form.name)');
  const bytes = new Uint8Array(await file.arrayBuffer());
  return uploadAttachment(deps, principal, { parent: fields.parent, name, contentType: file.type, bytes });
}

export const attachmentRoutes = [
  defineRoute({
    method: 'POST',
    path: '/attachments',
    scope: 'api',
    operationId: 'createAttachmentForObject',
    summary: 'Upload an attachment',
    description:
      'multipart/form-data with parent and file (or resource_subtype=external with url and name). Direct uploads are limited by the maximum request body size; larger files (up to 100 MiB) go through POST /attachments/upload_urls.',
    tags: ['Attachments'],
    auth: 'user',
    bodyFormat: 'multipart',
    request: { body: multipartBody, form: uploadFormDoc },
    responses: { 200: { description: 'The attachment', schema: dataBody(attachmentSchema) } },
    async handle({ principal, body, meta, deps }) {
      const created = await createFromForm(deps, principal, body);
      return { kind: 'data', data: await getAttachment(deps, principal, created, meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/attachments/upload_urls',
    scope: 'api',
    operationId: 'createAttachmentUploadUrl',
    summary: 'Start uploading a large attachment (ours)',
    description: `Creates a pending attachment and a signed URL that accepts one PUT of the file (with upload_headers) for 15 minutes; then POST /attachments/{attachment_gid}/complete. At most ${MAX_ATTACHMENT_BYTES} bytes (100 MiB).`,
    tags: ['Attachments'],
    auth: 'user',
    request: {
      body: z.object({
        parent: gid,
        name: z.string().min(1).max(MAX_NAME_LENGTH),
        content_type: z.string().max(255).refine((v) => normalizeContentType(v) !== null, 'must be a MIME type such as image/png'),
        size: z.number().int().min(0).meta({ description: `Bytes, at most ${MAX_ATTACHMENT_BYTES}; the upload must have exactly this size.` }),
      }),
    },
    responses: { 201: { description: 'The pending attachment and where to PUT the file', schema: dataBody(uploadSchema) } },
    async handle({ principal, body, deps }) {
      const started = await startUpload(deps, principal, { parent: body.parent, name: body.name, contentType: body.content_type, size: body.size });
      return {
        kind: 'data',
        status: 201,
        data: {
          attachment: { ...attachmentCompact({ gid: started.gid, name: started.name, resource_subtype: 'asana' }), upload_state: 'pending' },
          upload_url: started.uploadUrl,
          upload_method: 'PUT',
          upload_headers: { 'Content-Type': started.contentType },
          expires_at: started.expiresAt.toISOString(),
        },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/attachments/{attachment_gid}/complete',
    scope: 'api',
    operationId: 'completeAttachmentUpload',
    summary: 'Finish uploading a large attachment (ours)',
    description: 'After the PUT to upload_url: checks the file is there with the declared size (409 while nothing was uploaded, 400 on a size mismatch) and makes the attachment visible.',
    tags: ['Attachments'],
    auth: 'user',
    request: { params: attachmentParams },
    responses: { 200: { description: 'The attachment', schema: dataBody(attachmentSchema) } },
    async handle({ principal, params, meta, deps }) {
      await completeUpload(deps, principal, params.attachment_gid);
      return { kind: 'data', data: await getAttachment(deps, principal, params.attachment_gid, meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/attachments/{attachment_gid}',
    scope: 'api',
    operationId: 'getAttachment',
    summary: 'Get an attachment, with a fresh download_url',
    tags: ['Attachments'],
    auth: 'user',
    request: { params: attachmentParams },
    responses: { 200: { description: 'The attachment', schema: dataBody(attachmentSchema) } },
    async handle({ principal, params, meta, deps }) {
      return { kind: 'data', data: await getAttachment(deps, principal, params.attachment_gid, meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/attachments',
    scope: 'api',
    operationId: 'getAttachmentsForObject',
    summary: 'Attachments of a task or project, oldest first',
    tags: ['Attachments'],
    auth: 'user',
    request: { query: z.object({ parent: gid.meta({ description: 'The task or project.' }) }) },
    responses: { 200: { description: 'Attachments', schema: listBody(attachmentCompactSchema) } },
    async handle({ principal, query, page, meta, deps }) {
      const result = await listAttachments(deps, principal, query.parent, page, { full: Boolean(query.opt_fields), baseUrl: meta.baseUrl });
      return { kind: 'list', next: result.next, data: result.rows };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/attachments/{attachment_gid}',
    scope: 'api',
    operationId: 'deleteAttachment',
    summary: 'Delete an attachment',
    tags: ['Attachments'],
    auth: 'user',
    request: { params: attachmentParams },
    responses: { 200: { description: 'Deleted', schema: dataBody(z.object({})) } },
    async handle({ principal, params, deps }) {
      await deleteAttachment(deps, principal, params.attachment_gid);
      return { kind: 'data', data: {} };
    },
  }),
];
