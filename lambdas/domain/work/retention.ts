/**
 * Retention of deleted work: tasks deleted more than 30 days ago are removed for good,
 * with their stories, likes, links, custom field values, attachment rows and blobs;
 * attachments deleted on their own go the same way, and so do large uploads never
 * completed (after PENDING_UPLOAD_TTL_SECONDS). Deleted projects and teams are kept.
 * Runs in bounded batches, each in its own transaction.
 *
 * What is purged leaves a tombstone: before the rows go, the same transaction records the
 * tasks, their comments and their (completed) attachments in deleted_objects with the
 * instant they were deleted, so incremental exports list them as deleted however long
 * ago that was. Uploads never completed were never exported and leave none.
 */
import { sql, type RawBuilder } from 'kysely';
import type { DeletedObjectType } from '../../db/schema.js';
import type { AppDeps } from '../deps.js';
import { movedTo, type Db } from './common.js';
import { RESTORE_DAYS } from './tasks.js';
import { PENDING_UPLOAD_TTL_SECONDS } from './attachments.js';
import { logger } from '../../shared/logger.js';

const BATCH = 200;

export interface TaskPurgeResult {
  tasks: number;
  attachments: number;
  blobsDeleted: number;
}

/** Tombstones for the rows a select names: (organization_gid, gid, deleted_at) per row, as `resourceType`. */
async function tombstones(db: Db, resourceType: DeletedObjectType, rows: RawBuilder<unknown>): Promise<void> {
  await sql`insert into deleted_objects (organization_gid, resource_type, gid, deleted_at)
    select x.organization_gid, ${sql.lit(resourceType)}, x.gid, x.deleted_at from (${rows}) x
    on conflict (resource_type, gid) do nothing`.execute(db);
}

export async function purgeDeletedWork(deps: Pick<AppDeps, 'database' | 'clock' | 'blobs'>): Promise<TaskPurgeResult> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - RESTORE_DAYS * 86_400_000);
  const db = deps.database.db;
  const result: TaskPurgeResult = { tasks: 0, attachments: 0, blobsDeleted: 0 };
  for (;;) {
    const batch = (await db.selectFrom('tasks').select('gid').where('deleted_at', '<', cutoff).orderBy('deleted_at').limit(BATCH).execute()).map((r) => r.gid);
    if (batch.length === 0) break;
    const blobKeys = await db.transaction().execute(async (trx) => {
      const inBatch = sql.join(batch);
      // Comments and attachments went when their task was deleted, unless they went before.
      await tombstones(trx, 'task', sql`select t.organization_gid, t.gid, t.deleted_at from tasks t where t.gid in (${inBatch})`);
      await tombstones(trx, 'story', sql`select t.organization_gid, s.gid, least(s.deleted_at, t.deleted_at) as deleted_at from stories s join tasks t on t.gid = s.task_gid where s.task_gid in (${inBatch})`);
      await tombstones(
        trx,
        'attachment',
        sql`select a.organization_gid, a.gid, least(a.deleted_at, t.deleted_at) as deleted_at from attachments a join tasks t on t.gid = a.parent_gid
          where a.parent_type = 'task' and a.parent_gid in (${inBatch}) and a.upload_state = 'complete'`,
      );
      const attachments = await trx.selectFrom('attachments').select(['gid', 'blob_key']).where('parent_type', '=', 'task').where('parent_gid', 'in', batch).execute();
      const stories = (await trx.selectFrom('stories').select('gid').where('task_gid', 'in', batch).execute()).map((s) => s.gid);
      if (stories.length) await trx.deleteFrom('story_likes').where('story_gid', 'in', stories).execute();
      await trx.deleteFrom('stories').where('task_gid', 'in', batch).execute();
      for (const table of ['task_likes', 'task_followers', 'task_tags', 'task_projects', 'task_custom_field_values'] as const) await trx.deleteFrom(table).where('task_gid', 'in', batch).execute();
      if (attachments.length) await trx.deleteFrom('attachments').where('gid', 'in', attachments.map((a) => a.gid)).execute();
      // A subtask restored on its own outlives its parent: it becomes a top-level task (a change of it).
      await trx.updateTable('tasks').set({ parent_gid: null, modified_at: movedTo(now) }).where('parent_gid', 'in', batch).where('gid', 'not in', batch).execute();
      await trx.deleteFrom('task_ancestors').where((eb) => eb.or([eb('task_gid', 'in', batch), eb('ancestor_gid', 'in', batch)])).execute();
      await sql`update tasks set parent_gid = null where gid in (${sql.join(batch)}) and parent_gid is not null`.execute(trx);
      await trx.deleteFrom('tasks').where('gid', 'in', batch).execute();
      result.attachments += attachments.length;
      return attachments.map((a) => a.blob_key);
    });
    result.tasks += batch.length;
    result.blobsDeleted += await deleteBlobs(deps, blobKeys);
  }
  // Attachments deleted on their own.
  for (;;) {
    const rows = await db.selectFrom('attachments').select(['gid', 'blob_key']).where('deleted_at', '<', cutoff).limit(BATCH).execute();
    if (rows.length === 0) break;
    await db.transaction().execute(async (trx) => {
      const gids = rows.map((r) => r.gid);
      await tombstones(trx, 'attachment', sql`select a.organization_gid, a.gid, a.deleted_at from attachments a where a.gid in (${sql.join(gids)}) and a.upload_state = 'complete'`);
      await trx.deleteFrom('attachments').where('gid', 'in', gids).execute();
    });
    result.attachments += rows.length;
    result.blobsDeleted += await deleteBlobs(deps, rows.map((r) => r.blob_key));
  }
  // Large uploads started and never completed, with whatever was PUT to their URL.
  const stalePending = new Date(deps.clock.now().getTime() - PENDING_UPLOAD_TTL_SECONDS * 1000);
  for (;;) {
    const rows = await db.selectFrom('attachments').select(['gid', 'blob_key']).where('upload_state', '=', 'pending').where('created_at', '<', stalePending).limit(BATCH).execute();
    if (rows.length === 0) break;
    await db.deleteFrom('attachments').where('gid', 'in', rows.map((r) => r.gid)).execute();
    result.attachments += rows.length;
    result.blobsDeleted += await deleteBlobs(deps, rows.map((r) => r.blob_key));
  }
  return result;
}

/** Rows go first: a blob left behind by a failure here is unreachable, never a dangling row. */
async function deleteBlobs(deps: Pick<AppDeps, 'blobs'>, keys: string[]): Promise<number> {
  let deleted = 0;
  for (const key of keys) {
    try {
      await deps.blobs.delete(key);
      deleted++;
    } catch (error) {
      logger.warn('purge: could not delete a blob', { error: error as Error });
    }
  }
  return deleted;
}
