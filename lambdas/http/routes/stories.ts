/** Stories (comments) on tasks. */
import { z } from 'zod';
import { keysetPage } from '../../db/query.js';
import { viewerIn } from '../../domain/access/policy.js';
import type { AppDeps } from '../../domain/deps.js';
import { NotFoundError } from '../../domain/errors.js';
import { viewerForObject } from '../../domain/work/common.js';
import { addComment, deleteComment, likeStory, loadStoryViews, storyTask, updateComment, visibleStory } from '../../domain/work/stories.js';
import { assertTaskVisible } from '../../domain/work/tasks.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type UserPrincipal } from '../route.js';
import { gid, longText } from '../schemas.js';

const storySchema = z
  .object({ gid, resource_type: z.literal('story'), resource_subtype: z.string(), text: z.string(), created_at: z.string(), created_by: z.object({ gid, resource_type: z.literal('user'), name: z.string() }).nullable() })
  .loose()
  .meta({ id: 'Story' });
const text = longText(65_536, 1);
const storyParams = z.object({ story_gid: gid });

async function storyViewer(deps: AppDeps, principal: UserPrincipal, storyGid: string) {
  const story = await storyTask(deps.database.db, storyGid);
  if (!story) throw new NotFoundError('Story not found');
  const viewer = await viewerIn(deps.database.db, principal, story.organizationGid);
  await visibleStory(deps.database.db, viewer, storyGid);
  return viewer;
}

async function storyAnswer(deps: AppDeps, storyGid: string, viewerGid: string) {
  return (await loadStoryViews(deps.database.db, [storyGid], viewerGid)).get(storyGid)!;
}

export const storyRoutes = [
  defineRoute({
    method: 'GET',
    path: '/tasks/{task_gid}/stories',
    scope: 'api',
    operationId: 'getStoriesForTask',
    summary: 'Comments on a task, oldest first',
    tags: ['Stories'],
    auth: 'user',
    request: { params: z.object({ task_gid: gid }) },
    responses: { 200: { description: 'Stories', schema: listBody(storySchema) } },
    async handle({ principal, params, page, deps }) {
      const db = deps.database.db;
      const viewer = await viewerForObject(db, principal, 'tasks', params.task_gid);
      await assertTaskVisible(db, viewer, params.task_gid);
      const base = db.selectFrom('stories').select(['gid', 'created_at']).where('task_gid', '=', params.task_gid).where('deleted_at', 'is', null);
      const result = await keysetPage(db, base, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
      const views = await loadStoryViews(db, result.rows.map((r) => r.gid), viewer.userGid);
      return { kind: 'list', next: result.next, data: result.rows.map((r) => views.get(r.gid)) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/tasks/{task_gid}/stories',
    scope: 'api',
    operationId: 'createStoryForTask',
    summary: 'Comment on a task',
    tags: ['Stories'],
    auth: 'user',
    request: { params: z.object({ task_gid: gid }), body: z.object({ text, is_pinned: z.boolean().optional() }) },
    responses: { 201: { description: 'The story', schema: dataBody(storySchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await viewerForObject(deps.database.db, principal, 'tasks', params.task_gid);
      const created = await addComment(deps, viewer, params.task_gid, body);
      return { kind: 'data', status: 201, data: await storyAnswer(deps, created, viewer.userGid) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/stories/{story_gid}',
    scope: 'api',
    operationId: 'getStory',
    summary: 'Get a story',
    tags: ['Stories'],
    auth: 'user',
    request: { params: storyParams },
    responses: { 200: { description: 'The story', schema: dataBody(storySchema) } },
    async handle({ principal, params, deps }) {
      const viewer = await storyViewer(deps, principal, params.story_gid);
      return { kind: 'data', data: await storyAnswer(deps, params.story_gid, viewer.userGid) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/stories/{story_gid}',
    scope: 'api',
    operationId: 'updateStory',
    summary: 'Edit your comment, or pin it',
    tags: ['Stories'],
    auth: 'user',
    request: { params: storyParams, body: z.object({ text: text.optional(), is_pinned: z.boolean().optional() }) },
    responses: { 200: { description: 'The story', schema: dataBody(storySchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await storyViewer(deps, principal, params.story_gid);
      await updateComment(deps, viewer, params.story_gid, body);
      return { kind: 'data', data: await storyAnswer(deps, params.story_gid, viewer.userGid) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/stories/{story_gid}',
    scope: 'api',
    operationId: 'deleteStory',
    summary: 'Delete your comment',
    tags: ['Stories'],
    auth: 'user',
    request: { params: storyParams },
    responses: { 200: { description: 'Deleted', schema: dataBody(z.object({})) } },
    async handle({ principal, params, deps }) {
      const viewer = await storyViewer(deps, principal, params.story_gid);
      await deleteComment(deps, viewer, params.story_gid);
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/stories/{story_gid}/like',
    scope: 'api',
    operationId: 'likeStory',
    summary: 'Like or unlike a comment ({"liked": true|false})',
    tags: ['Stories'],
    auth: 'user',
    request: { params: storyParams, body: z.object({ liked: z.boolean() }) },
    responses: { 200: { description: 'The story', schema: dataBody(storySchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await storyViewer(deps, principal, params.story_gid);
      await likeStory(deps, viewer, params.story_gid, body.liked);
      return { kind: 'data', data: await storyAnswer(deps, params.story_gid, viewer.userGid) };
    },
  }),
];
