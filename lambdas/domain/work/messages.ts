/**
 * Messages: conversations posted to a team or a project, with replies (our own paths
 * under /messages, Asana-style shapes). A reply is a message row with reply_to_gid set
 * and the same parent as its message, so every read is filtered by the policy's
 * messageVisible and nothing else decides who sees a message.
 *
 * Who may do what (decided in policy.ts):
 * - post to a team: its full (not limited-access) members;
 * - post to a project: whoever can see it and is a full member of the organization or
 *   an editor/admin of the project;
 * - reply: whoever may post there, and also the project's commenters;
 * - edit: the author only; delete: the author, or an organization admin who can see it.
 * Invisible messages (and parents) answer 404, visible but not allowed 403.
 */
import { sql } from 'kysely';
import { keysetPage, toNumber, type KeysetPage } from '../../db/query.js';
import { canChangeMessage, canPostMessage, canReplyToMessage, canSeeMessageParent, messageVisible, viewerIn, type MessageParentType, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { iso, viewerForObject, type Db } from './common.js';
import { userCompact } from './present.js';

export type { MessageParentType };

export interface MessageParent {
  type: MessageParentType;
  gid: string;
  organizationGid: string;
  name: string;
}

export interface Page {
  limit: number;
  offset: string | null;
}

/** A team or project that is not deleted, by gid (gids are unique across tables). */
export async function findParent(db: Db, gid: string): Promise<MessageParent | null> {
  const team = await db.selectFrom('teams').select(['gid', 'organization_gid', 'name']).where('gid', '=', gid).where('deleted_at', 'is', null).executeTakeFirst();
  if (team) return { type: 'team', gid: team.gid, organizationGid: team.organization_gid, name: team.name };
  const project = await db.selectFrom('projects').select(['gid', 'organization_gid', 'name']).where('gid', '=', gid).where('deleted_at', 'is', null).executeTakeFirst();
  if (project) return { type: 'project', gid: project.gid, organizationGid: project.organization_gid, name: project.name };
  return null;
}

/** The viewer for a parent the caller can see (404 for unknown, other organizations, invisible). */
export async function parentViewer(db: Db, principal: Principal, parentGid: string): Promise<{ viewer: Viewer; parent: MessageParent }> {
  const parent = await findParent(db, parentGid);
  if (!parent) throw new NotFoundError('Team or project not found');
  const viewer = await viewerIn(db, principal, parent.organizationGid);
  if (!(await canSeeMessageParent(db, viewer, parent))) throw new NotFoundError('Team or project not found');
  return { viewer, parent };
}

// --- Reading --------------------------------------------------------------------------

/**
 * Messages the viewer may see, with everything a view needs (the text too, so keyset
 * pages are sized against the Data API's limits with it). The number of replies counts
 * the replies the viewer may see, like every count.
 */
function visibleMessages(db: Db, viewer: Viewer) {
  return db
    .selectFrom('messages as msg')
    .leftJoin('users as au', 'au.gid', 'msg.author_gid')
    .select(['msg.gid', 'msg.title', 'msg.text', 'msg.author_gid', 'au.name as author_name', 'msg.parent_type', 'msg.parent_gid', 'msg.reply_to_gid', 'msg.created_at', 'msg.modified_at'])
    .select(sql<string | number>`(select count(*) from messages rc where rc.reply_to_gid = msg.gid and ${messageVisible(viewer, 'rc')})`.as('num_replies'))
    .where(messageVisible(viewer, 'msg'));
}

export type MessageRow = Awaited<ReturnType<ReturnType<typeof visibleMessages>['executeTakeFirstOrThrow']>>;

/** A message the viewer may see, or 404. */
export async function visibleMessage(db: Db, viewer: Viewer, gid: string): Promise<MessageRow> {
  const row = await visibleMessages(db, viewer).where('msg.gid', '=', gid).executeTakeFirst();
  if (!row) throw new NotFoundError('Message not found');
  return row;
}

/** The viewer for a message the caller can see (404 otherwise). */
export async function messageViewer(db: Db, principal: Principal, gid: string): Promise<{ viewer: Viewer; message: MessageRow }> {
  const viewer = await viewerForObject(db, principal, 'messages', gid);
  return { viewer, message: await visibleMessage(db, viewer, gid) };
}

export const messageCompact = (m: MessageRow) => ({
  gid: m.gid,
  resource_type: 'message' as const,
  title: m.title,
  text: m.text,
  author: m.author_gid ? userCompact({ gid: m.author_gid, name: m.author_name ?? '' }) : null,
  created_at: iso(m.created_at),
});

/** Full views of message rows: two more queries at most (parent names, titles replied to), whatever the count. */
export async function messageViews(db: Db, rows: MessageRow[]): Promise<Record<string, unknown>[]> {
  if (!rows.length) return [];
  const teamGids = [...new Set(rows.filter((r) => r.parent_type === 'team').map((r) => r.parent_gid))];
  const projectGids = [...new Set(rows.filter((r) => r.parent_type === 'project').map((r) => r.parent_gid))];
  const replyTo = [...new Set(rows.map((r) => r.reply_to_gid).filter((g): g is string => g !== null))];
  const [teams, projects, originals] = await Promise.all([
    teamGids.length ? db.selectFrom('teams').select(['gid', 'name']).where('gid', 'in', teamGids).execute() : [],
    projectGids.length ? db.selectFrom('projects').select(['gid', 'name']).where('gid', 'in', projectGids).execute() : [],
    replyTo.length ? db.selectFrom('messages').select(['gid', 'title']).where('gid', 'in', replyTo).execute() : [],
  ]);
  const names = new Map([...teams, ...projects].map((p) => [p.gid, p.name]));
  const titles = new Map(originals.map((o) => [o.gid, o.title]));
  return rows.map((m) => ({
    ...messageCompact(m),
    parent: { gid: m.parent_gid, resource_type: m.parent_type, name: names.get(m.parent_gid) ?? '' },
    reply_to: m.reply_to_gid ? { gid: m.reply_to_gid, resource_type: 'message' as const, title: titles.get(m.reply_to_gid) ?? null } : null,
    modified_at: iso(m.modified_at),
    num_replies: toNumber(m.num_replies),
  }));
}

export async function messageView(db: Db, viewer: Viewer, gid: string): Promise<Record<string, unknown>> {
  const [view] = await messageViews(db, [await visibleMessage(db, viewer, gid)]);
  return view!;
}

/** Conversations of a team or project the viewer can see, newest first. */
export function listMessages(db: Db, viewer: Viewer, parent: MessageParent, page: Page): Promise<KeysetPage<MessageRow>> {
  const base = visibleMessages(db, viewer).where('msg.parent_type', '=', parent.type).where('msg.parent_gid', '=', parent.gid).where('msg.reply_to_gid', 'is', null);
  return keysetPage(db, base, { keys: [{ column: 'created_at', direction: 'desc' }, { column: 'gid', direction: 'desc' }], limit: page.limit, after: page.offset });
}

/** Replies to a message, oldest first (the conversation's order). */
export function listReplies(db: Db, viewer: Viewer, messageGid: string, page: Page): Promise<KeysetPage<MessageRow>> {
  const base = visibleMessages(db, viewer).where('msg.reply_to_gid', '=', messageGid);
  return keysetPage(db, base, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

// --- Writing --------------------------------------------------------------------------

export async function postMessage(deps: AppDeps, viewer: Viewer, parent: MessageParent, input: { title: string; text: string }): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    if (!(await canPostMessage(db, viewer, parent))) throw new ForbiddenError(parent.type === 'team' ? 'Only full members of the team can post messages to it' : 'Only full members and project editors can post messages to this project');
    await db
      .insertInto('messages')
      .values({ gid, organization_gid: parent.organizationGid, parent_type: parent.type, parent_gid: parent.gid, reply_to_gid: null, title: input.title, text: input.text, author_gid: viewer.userGid, created_at: now, modified_at: now })
      .execute();
  });
  return gid;
}

/** Replies to a message (a reply to a reply joins the same conversation); the message's modified_at moves forward. */
export async function replyToMessage(deps: AppDeps, viewer: Viewer, messageGid: string, input: { text: string }): Promise<string> {
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await deps.database.db.transaction().execute(async (db) => {
    const message = await visibleMessage(db, viewer, messageGid);
    const root = message.reply_to_gid ?? message.gid;
    if (!(await canReplyToMessage(db, viewer, { type: message.parent_type, gid: message.parent_gid }))) throw new ForbiddenError('You can read this conversation but not reply to it');
    await db
      .insertInto('messages')
      .values({ gid, organization_gid: viewer.organizationGid, parent_type: message.parent_type, parent_gid: message.parent_gid, reply_to_gid: root, title: null, text: input.text, author_gid: viewer.userGid, created_at: now, modified_at: now })
      .execute();
    await db.updateTable('messages').set({ modified_at: sql`greatest(modified_at, ${now})` }).where('gid', '=', root).execute();
  });
  return gid;
}

export async function updateMessage(deps: AppDeps, viewer: Viewer, gid: string, input: { title?: string | undefined; text?: string | undefined }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const message = await visibleMessage(db, viewer, gid);
    if (!canChangeMessage(viewer, message.author_gid, 'edit')) throw new ForbiddenError('Only the author can edit a message');
    if (input.title !== undefined && message.reply_to_gid !== null) throw new BadRequestError('Replies have no title', [{ message: 'data.title: replies have no title' }]);
    await db
      .updateTable('messages')
      .set({ ...(input.title !== undefined ? { title: input.title } : {}), ...(input.text !== undefined ? { text: input.text } : {}), modified_at: sql`greatest(modified_at, ${now})` })
      .where('gid', '=', gid)
      .execute();
  });
}

/** Soft deletion; a conversation's replies go with it (same deleted_at). */
export async function deleteMessage(deps: AppDeps, viewer: Viewer, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    const message = await visibleMessage(db, viewer, gid);
    if (!canChangeMessage(viewer, message.author_gid, 'delete')) throw new ForbiddenError('Only the author or an organization admin can delete a message');
    await db
      .updateTable('messages')
      .set({ deleted_at: now, modified_at: sql`greatest(modified_at, ${now})` })
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('gid', '=', gid), eb('reply_to_gid', '=', gid)]))
      .execute();
    if (message.reply_to_gid) await db.updateTable('messages').set({ modified_at: sql`greatest(modified_at, ${now})` }).where('gid', '=', message.reply_to_gid).execute();
  });
}
