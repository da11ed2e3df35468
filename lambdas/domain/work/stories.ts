/**
 * Stories: comments on tasks, with likes. Visible with their task; only the author edits or
 * deletes (canChangeComment). Posting or deleting a comment moves the task's modified_at;
 * a like moves the comment's (incremental exports write it again with its likes).
 */
import { canChangeComment, canSeeTask, type Viewer } from '../access/policy.js';
import type { AppDeps } from '../deps.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { iso, movedTo, touchRows, type Db } from './common.js';
import { taskCompact, userCompact } from './present.js';

export async function storyTask(db: Db, storyGid: string): Promise<{ taskGid: string; organizationGid: string; authorGid: string | null } | null> {
  const row = await db
    .selectFrom('stories as s')
    .innerJoin('tasks as t', 't.gid', 's.task_gid')
    .select(['t.gid', 't.organization_gid', 's.created_by'])
    .where('s.gid', '=', storyGid)
    .where('s.deleted_at', 'is', null)
    .executeTakeFirst();
  return row ? { taskGid: row.gid, organizationGid: row.organization_gid, authorGid: row.created_by } : null;
}

export async function loadStoryViews(db: Db, gids: string[], viewerGid: string): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!gids.length) return out;
  const [rows, likes] = await Promise.all([
    db
      .selectFrom('stories as s')
      .innerJoin('tasks as t', 't.gid', 's.task_gid')
      .leftJoin('users as u', 'u.gid', 's.created_by')
      .select(['s.gid', 's.text', 's.resource_subtype', 's.is_pinned', 's.created_at', 's.edited_at', 's.created_by', 'u.name as author_name', 't.gid as task_gid', 't.name as task_name', 't.resource_subtype as task_subtype'])
      .where('s.gid', 'in', gids)
      .execute(),
    db.selectFrom('story_likes as l').innerJoin('users as u', 'u.gid', 'l.user_gid').select(['l.story_gid', 'u.gid', 'u.name']).where('l.story_gid', 'in', gids).orderBy('l.created_at').execute(),
  ]);
  for (const s of rows) {
    const likers = likes.filter((l) => l.story_gid === s.gid);
    out.set(s.gid, {
      gid: s.gid,
      resource_type: 'story',
      resource_subtype: s.resource_subtype,
      type: 'comment',
      text: s.text,
      is_pinned: s.is_pinned,
      is_editable: canChangeComment({ userGid: viewerGid }, s.created_by),
      is_edited: s.edited_at !== null,
      created_at: iso(s.created_at),
      created_by: s.created_by ? userCompact({ gid: s.created_by, name: s.author_name ?? '' }) : null,
      target: taskCompact({ gid: s.task_gid, name: s.task_name, resource_subtype: s.task_subtype }),
      liked: likers.some((l) => l.gid === viewerGid),
      likes: likers.map((l) => ({ gid: l.gid, user: userCompact(l) })),
      num_likes: likers.length,
      hearted: likers.some((l) => l.gid === viewerGid),
      hearts: likers.map((l) => ({ gid: l.gid, user: userCompact(l) })),
      num_hearts: likers.length,
    });
  }
  return out;
}

export async function addComment(deps: AppDeps, viewer: Viewer, taskGid: string, input: { text: string; is_pinned?: boolean }): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    if (!(await canSeeTask(db, viewer, taskGid))) throw new NotFoundError('Task not found');
    await db.insertInto('stories').values({ gid, task_gid: taskGid, text: input.text, is_pinned: input.is_pinned ?? false, created_by: viewer.userGid, created_at: now, modified_at: now }).execute();
    await touchRows(db, 'tasks', taskGid, now);
  });
  return gid;
}

async function visibleStory(db: Db, viewer: Viewer, storyGid: string) {
  const story = await storyTask(db, storyGid);
  if (!story || story.organizationGid !== viewer.organizationGid || !(await canSeeTask(db, viewer, story.taskGid))) throw new NotFoundError('Story not found');
  return story;
}

export async function updateComment(deps: AppDeps, viewer: Viewer, storyGid: string, input: { text?: string; is_pinned?: boolean }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const story = await visibleStory(db, viewer, storyGid);
    if (input.text !== undefined && !canChangeComment(viewer, story.authorGid)) throw new ForbiddenError('Only the author can edit a comment');
    await db
      .updateTable('stories')
      .set({ ...(input.text !== undefined ? { text: input.text, edited_at: now } : {}), ...(input.is_pinned !== undefined ? { is_pinned: input.is_pinned } : {}), modified_at: movedTo(now) })
      .where('gid', '=', storyGid)
      .execute();
  });
}

export async function deleteComment(deps: AppDeps, viewer: Viewer, storyGid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const story = await visibleStory(db, viewer, storyGid);
    if (!canChangeComment(viewer, story.authorGid)) throw new ForbiddenError('Only the author can delete a comment');
    await db.updateTable('stories').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', storyGid).execute();
    await touchRows(db, 'tasks', story.taskGid, now);
  });
}

export async function likeStory(deps: AppDeps, viewer: Viewer, storyGid: string, liked: boolean): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await visibleStory(db, viewer, storyGid);
    if (liked) await db.insertInto('story_likes').values({ story_gid: storyGid, user_gid: viewer.userGid, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
    else await db.deleteFrom('story_likes').where('story_gid', '=', storyGid).where('user_gid', '=', viewer.userGid).execute();
    await touchRows(db, 'stories', storyGid, now);
  });
}

export { visibleStory };
