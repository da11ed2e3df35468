/**
 * My tasks (Asana's user_task_list): one list per user and organization, created on
 * first access, holding the tasks assigned to its owner in that organization that the
 * owner can see (taskVisible). Only the owner reads it: others who can see the owner get
 * 403, everyone else 404 (as for any object they may not know exists).
 *
 * `myTasks` / `myTaskPages` take a viewer (the owner) and are what the My tasks exports
 * use.
 */
import { sql } from 'kysely';
import { keysetPage } from '../../db/query.js';
import type { Principal } from '../auth/sessions.js';
import { taskVisible, userVisible, viewerIn, type Viewer } from '../access/policy.js';
import type { AppDeps } from '../deps.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { Db } from './common.js';
import { taskCompact, userCompact, workspaceCompact } from './present.js';
import type { SearchPage, SearchResult, TaskCompactView } from './search.js';

export interface UserTaskListView {
  gid: string;
  resource_type: 'user_task_list';
  name: 'My Tasks';
  owner: { gid: string; resource_type: 'user'; name: string };
  workspace: { gid: string; resource_type: 'workspace'; name: string };
}

export interface MyTasksOptions {
  /** Only incomplete tasks and those completed at or after this instant (Asana's completed_since; 'now' = incomplete only). */
  completedSince?: Date;
}

const OWN_ONLY = 'You can only read your own My Tasks';

async function listView(db: Db, gid: string): Promise<UserTaskListView | undefined> {
  const row = await db
    .selectFrom('user_task_lists as l')
    .innerJoin('users as u', 'u.gid', 'l.user_gid')
    .innerJoin('organizations as o', 'o.gid', 'l.organization_gid')
    .select(['l.gid', 'u.gid as user_gid', 'u.name as user_name', 'o.gid as org_gid', 'o.name as org_name'])
    .where('l.gid', '=', gid)
    .where('o.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  return { gid: row.gid, resource_type: 'user_task_list', name: 'My Tasks', owner: userCompact({ gid: row.user_gid, name: row.user_name }), workspace: workspaceCompact({ gid: row.org_gid, name: row.org_name }) };
}

/** 403 when the viewer can see the other user in the organization, 404 otherwise. */
async function refuseOthers(db: Db, viewer: Viewer, ownerGid: string): Promise<never> {
  const visible = await sql<{ ok: number }>`select 1 as ok from users u where u.gid = ${ownerGid} and ${userVisible(viewer, 'u')}`.execute(db);
  if (visible.rows.length) throw new ForbiddenError(OWN_ONLY);
  throw new NotFoundError();
}

/** The user an identifier names ("me", a gid or an email), if any. */
async function resolveUserRef(db: Db, viewer: Viewer, ref: string): Promise<string | undefined> {
  if (ref === 'me') return viewer.userGid;
  if (ref.includes('@')) return (await db.selectFrom('users').select('gid').where(sql<boolean>`lower(email) = ${ref.trim().toLowerCase()}`).executeTakeFirst())?.gid;
  return ref;
}

/** The viewer's own list in their organization, created on first access. */
export async function ensureUserTaskList(deps: Pick<AppDeps, 'database' | 'clock' | 'ids'>, viewer: Viewer): Promise<UserTaskListView> {
  const db = deps.database.db;
  await db
    .insertInto('user_task_lists')
    .values({ gid: deps.ids.gid(), user_gid: viewer.userGid, organization_gid: viewer.organizationGid, created_at: deps.clock.now() })
    .onConflict((oc) => oc.columns(['user_gid', 'organization_gid']).doNothing())
    .execute();
  const row = await db.selectFrom('user_task_lists').select('gid').where('user_gid', '=', viewer.userGid).where('organization_gid', '=', viewer.organizationGid).executeTakeFirstOrThrow();
  return (await listView(db, row.gid))!;
}

/** GET /users/{user_gid}/user_task_list?workspace= */
export async function userTaskListForUser(deps: AppDeps, principal: Principal, workspaceGid: string, userRef: string): Promise<UserTaskListView> {
  const db = deps.database.db;
  const viewer = await viewerIn(db, principal, workspaceGid);
  const userGid = await resolveUserRef(db, viewer, userRef);
  if (!userGid) throw new NotFoundError();
  if (userGid !== viewer.userGid) return refuseOthers(db, viewer, userGid);
  return ensureUserTaskList(deps, viewer);
}

/** A list by gid, for its owner (with the owner as viewer). */
export async function ownUserTaskList(db: Db, principal: Principal, gid: string): Promise<{ view: UserTaskListView; viewer: Viewer }> {
  const view = await listView(db, gid);
  if (!view) throw new NotFoundError();
  const viewer = await viewerIn(db, principal, view.workspace.gid);
  if (view.owner.gid !== viewer.userGid) return refuseOthers(db, viewer, view.owner.gid);
  return { view, viewer };
}

/** One page of the viewer's My tasks: assigned to them, in their organization, visible to them; oldest first. */
export async function myTasks(deps: Pick<AppDeps, 'database'>, viewer: Viewer, options: MyTasksOptions, page: SearchPage): Promise<SearchResult> {
  const db = deps.database.db;
  let query = db
    .selectFrom('tasks as t')
    .select(['t.gid', 't.name', 't.resource_subtype', 't.created_at'])
    .where('t.assignee_gid', '=', viewer.userGid)
    .where('t.organization_gid', '=', viewer.organizationGid)
    .where('t.deleted_at', 'is', null)
    .where(taskVisible(viewer, 't'));
  if (options.completedSince) query = query.where(sql<boolean>`(t.completed = false or t.completed_at >= ${options.completedSince})`);
  const result = await keysetPage(db, query, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
  return { tasks: result.rows.map((r) => taskCompact(r)), next: result.next };
}

/** Every page of the viewer's My tasks (for exports). */
export async function* myTaskPages(deps: Pick<AppDeps, 'database'>, viewer: Viewer, options: MyTasksOptions = {}, pageSize = 100): AsyncGenerator<TaskCompactView[]> {
  let offset: string | null = null;
  do {
    const page: SearchResult = await myTasks(deps, viewer, options, { limit: pageSize, offset });
    if (page.tasks.length) yield page.tasks;
    offset = page.next;
  } while (offset);
}
