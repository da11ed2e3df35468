/** Tags: organization-wide labels on tasks. */
import { z } from 'zod';
import { keysetPage } from '../../db/query.js';
import { canChangeTags, canSeeTag, tagVisible, viewerIn, type Viewer } from '../../domain/access/policy.js';
import type { AppDeps } from '../../domain/deps.js';
import { ForbiddenError, NotFoundError } from '../../domain/errors.js';
import { iso, movedTo, viewerForObject } from '../../domain/work/common.js';
import { assertTaskVisible } from '../../domain/work/tasks.js';
import { tagCompact, workspaceCompact } from '../../domain/work/present.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type UserPrincipal } from '../route.js';
import { gid, longText } from '../schemas.js';

const COLORS = ['dark-pink', 'dark-green', 'dark-blue', 'dark-red', 'dark-teal', 'dark-brown', 'dark-orange', 'dark-purple', 'dark-warm-gray', 'light-pink', 'light-green', 'light-blue', 'light-red', 'light-teal', 'light-brown', 'light-orange', 'light-purple', 'light-warm-gray'] as const;
const tagCompactSchema = z.object({ gid, resource_type: z.literal('tag'), name: z.string() }).meta({ id: 'TagCompact' });
const tagSchema = tagCompactSchema.extend({ color: z.string().nullable(), notes: z.string(), created_at: z.string(), followers: z.array(z.unknown()), workspace: z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }), permalink_url: z.string() }).meta({ id: 'Tag' });
const fields = { name: z.string().trim().min(1).max(256), color: z.enum(COLORS).nullable().optional(), notes: longText().optional() };

async function tagAnswer(deps: AppDeps, tagGid: string, baseUrl: string) {
  const t = await deps.database.db.selectFrom('tags as g').innerJoin('organizations as o', 'o.gid', 'g.organization_gid').select(['g.gid', 'g.name', 'g.color', 'g.notes', 'g.created_at', 'o.gid as org_gid', 'o.name as org_name']).where('g.gid', '=', tagGid).executeTakeFirstOrThrow();
  return { ...tagCompact(t), color: t.color, notes: t.notes, created_at: iso(t.created_at), followers: [], workspace: workspaceCompact({ gid: t.org_gid, name: t.org_name }), permalink_url: `${baseUrl}/api/1.0/tags/${t.gid}` };
}

async function visibleTag(deps: AppDeps, principal: UserPrincipal, tagGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(deps.database.db, principal, 'tags', tagGid);
  if (!(await canSeeTag(deps.database.db, viewer, tagGid))) throw new NotFoundError('Tag not found');
  return viewer;
}

async function createTag(deps: AppDeps, viewer: Viewer, body: { name: string; color?: string | null; notes?: string | undefined }) {
  if (!canChangeTags(viewer)) throw new ForbiddenError('Guests cannot create tags');
  const tagGid = deps.ids.gid();
  const now = deps.clock.now();
  await deps.database.db.insertInto('tags').values({ gid: tagGid, organization_gid: viewer.organizationGid, name: body.name, color: body.color ?? null, notes: body.notes ?? '', created_by: viewer.userGid, created_at: now, modified_at: now }).execute();
  return tagGid;
}

function listTagsIn(deps: AppDeps, viewer: Viewer, page: { limit: number; offset: string | null }) {
  const base = deps.database.db.selectFrom('tags as tg').select(['tg.gid', 'tg.name']).where(tagVisible(viewer, 'tg'));
  return keysetPage(deps.database.db, base, { keys: [{ column: 'name' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

export const tagRoutes = [
  defineRoute({
    method: 'POST',
    path: '/tags',
    scope: 'api',
    operationId: 'createTag',
    summary: 'Create a tag',
    tags: ['Tags'],
    auth: 'user',
    request: { body: z.object({ ...fields, workspace: gid }) },
    responses: { 201: { description: 'The tag', schema: dataBody(tagSchema) } },
    async handle({ principal, body, meta, deps }) {
      const viewer = await viewerIn(deps.database.db, principal, body.workspace);
      return { kind: 'data', status: 201, data: await tagAnswer(deps, await createTag(deps, viewer, body), meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/workspaces/{workspace_gid}/tags',
    scope: 'api',
    operationId: 'createTagForWorkspace',
    summary: 'Create a tag in a workspace',
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ workspace_gid: gid }), body: z.object(fields) },
    responses: { 201: { description: 'The tag', schema: dataBody(tagSchema) } },
    async handle({ principal, params, body, meta, deps }) {
      const viewer = await viewerIn(deps.database.db, principal, params.workspace_gid);
      return { kind: 'data', status: 201, data: await tagAnswer(deps, await createTag(deps, viewer, body), meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/tags',
    scope: 'api',
    operationId: 'getTags',
    summary: 'Tags of a workspace',
    tags: ['Tags'],
    auth: 'user',
    request: { query: z.object({ workspace: gid }) },
    responses: { 200: { description: 'Tags', schema: listBody(tagCompactSchema) } },
    async handle({ principal, query, page, deps }) {
      const viewer = await viewerIn(deps.database.db, principal, query.workspace);
      const result = await listTagsIn(deps, viewer, page);
      return { kind: 'list', next: result.next, data: result.rows.map(tagCompact) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/workspaces/{workspace_gid}/tags',
    scope: 'api',
    operationId: 'getTagsForWorkspace',
    summary: 'Tags of a workspace',
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ workspace_gid: gid }) },
    responses: { 200: { description: 'Tags', schema: listBody(tagCompactSchema) } },
    async handle({ principal, params, page, deps }) {
      const viewer = await viewerIn(deps.database.db, principal, params.workspace_gid);
      const result = await listTagsIn(deps, viewer, page);
      return { kind: 'list', next: result.next, data: result.rows.map(tagCompact) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/tags/{tag_gid}',
    scope: 'api',
    operationId: 'getTag',
    summary: 'Get a tag',
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ tag_gid: gid }) },
    responses: { 200: { description: 'The tag', schema: dataBody(tagSchema) } },
    async handle({ principal, params, meta, deps }) {
      await visibleTag(deps, principal, params.tag_gid);
      return { kind: 'data', data: await tagAnswer(deps, params.tag_gid, meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/tags/{tag_gid}',
    scope: 'api',
    operationId: 'updateTag',
    summary: 'Update a tag',
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ tag_gid: gid }), body: z.object({ name: fields.name.optional(), color: fields.color, notes: fields.notes }) },
    responses: { 200: { description: 'The tag', schema: dataBody(tagSchema) } },
    async handle({ principal, params, body, meta, deps }) {
      const viewer = await visibleTag(deps, principal, params.tag_gid);
      if (!canChangeTags(viewer)) throw new ForbiddenError('Guests cannot change tags');
      const changes = { ...(body.name !== undefined ? { name: body.name } : {}), ...(body.color !== undefined ? { color: body.color } : {}), ...(body.notes !== undefined ? { notes: body.notes } : {}) };
      // An empty update ({"data": {}}) changes nothing; an UPDATE without SET would be a syntax error (500).
      if (Object.keys(changes).length) await deps.database.db.updateTable('tags').set({ ...changes, modified_at: movedTo(deps.clock.now()) }).where('gid', '=', params.tag_gid).execute();
      return { kind: 'data', data: await tagAnswer(deps, params.tag_gid, meta.baseUrl) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/tags/{tag_gid}',
    scope: 'api',
    operationId: 'deleteTag',
    summary: 'Delete a tag',
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ tag_gid: gid }) },
    responses: { 200: { description: 'Deleted', schema: dataBody(z.object({})) } },
    async handle({ principal, params, deps }) {
      const viewer = await visibleTag(deps, principal, params.tag_gid);
      if (!canChangeTags(viewer)) throw new ForbiddenError('Guests cannot delete tags');
      const now = deps.clock.now();
      await deps.database.db.updateTable('tags').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', params.tag_gid).execute();
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/tasks/{task_gid}/tags',
    scope: 'api',
    operationId: 'getTagsForTask',
    summary: "A task's tags",
    tags: ['Tags'],
    auth: 'user',
    request: { params: z.object({ task_gid: gid }) },
    responses: { 200: { description: 'Tags', schema: listBody(tagCompactSchema) } },
    async handle({ principal, params, page, deps }) {
      const db = deps.database.db;
      const viewer = await viewerForObject(db, principal, 'tasks', params.task_gid);
      await assertTaskVisible(db, viewer, params.task_gid);
      const base = db.selectFrom('tags as tg').innerJoin('task_tags as tt', 'tt.tag_gid', 'tg.gid').select(['tg.gid', 'tg.name', 'tt.added_at']).where('tt.task_gid', '=', params.task_gid).where('tg.deleted_at', 'is', null);
      const result = await keysetPage(db, base, { keys: [{ column: 'added_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
      return { kind: 'list', next: result.next, data: result.rows.map(tagCompact) };
    },
  }),
];
