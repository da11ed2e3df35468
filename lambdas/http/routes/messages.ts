/**
 * Messages: conversations posted to a team or a project, with replies. Asana has no
 * public endpoint for them, so the paths are ours (under /messages); the shapes are
 * Asana-style (gid, resource_type "message", compact author and parent).
 */
import { z } from 'zod';
import { BadRequestError } from '../../domain/errors.js';
import {
  deleteMessage,
  listMessages,
  listReplies,
  messageCompact,
  messageView,
  messageViewer,
  messageViews,
  parentViewer,
  postMessage,
  replyToMessage,
  updateMessage,
  type MessageRow,
} from '../../domain/work/messages.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid, longText } from '../schemas.js';

const userRef = z.object({ gid, resource_type: z.literal('user'), name: z.string() });
export const messageCompactSchema = z
  .object({ gid, resource_type: z.literal('message'), title: z.string().nullable(), text: z.string(), author: userRef.nullable(), created_at: z.string() })
  .meta({ id: 'MessageCompact' });
export const messageSchema = messageCompactSchema
  .extend({
    parent: z.object({ gid, resource_type: z.enum(['team', 'project']), name: z.string() }),
    reply_to: z.object({ gid, resource_type: z.literal('message'), title: z.string().nullable() }).nullable(),
    modified_at: z.string(),
    num_replies: z.number(),
  })
  .meta({ id: 'Message' });

const title = z.string().trim().min(1).max(1024);
const text = longText(65_536, 1);
const messageParams = z.object({ message_gid: gid });
const ok = dataBody(z.object({}));

/** Compact items, or full ones when opt_fields asks for fields (the framework projects them). */
async function listAnswer(db: Parameters<typeof messageViews>[0], rows: MessageRow[], next: string | null, optFields: string | undefined) {
  return { kind: 'list' as const, next, data: optFields ? await messageViews(db, rows) : rows.map(messageCompact) };
}

export const messageRoutes = [
  defineRoute({
    method: 'POST',
    path: '/messages',
    scope: 'api',
    operationId: 'createMessage',
    summary: 'Post a message (start a conversation) to a team or a project',
    description: 'Team messages: full members of the team. Project messages: whoever can see the project and is a full member of the organization or an editor of the project.',
    tags: ['Messages'],
    auth: 'user',
    request: { body: z.object({ parent: gid, title, text }) },
    responses: { 201: { description: 'The message', schema: dataBody(messageSchema) } },
    async handle({ principal, body, deps }) {
      const db = deps.database.db;
      const { viewer, parent } = await parentViewer(db, principal, body.parent);
      const created = await postMessage(deps, viewer, parent, body);
      return { kind: 'data', status: 201, data: await messageView(db, viewer, created) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/messages',
    scope: 'api',
    operationId: 'getMessages',
    summary: 'Conversations of a team or a project, newest first',
    tags: ['Messages'],
    auth: 'user',
    request: { query: z.object({ parent: gid }) },
    responses: { 200: { description: 'Messages', schema: listBody(messageCompactSchema) } },
    async handle({ principal, query, page, deps }) {
      const db = deps.database.db;
      const { viewer, parent } = await parentViewer(db, principal, query.parent);
      const result = await listMessages(db, viewer, parent, page);
      return listAnswer(db, result.rows, result.next, query.opt_fields);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/messages/{message_gid}',
    scope: 'api',
    operationId: 'getMessage',
    summary: 'Get a message (or a reply), with its number of replies',
    tags: ['Messages'],
    auth: 'user',
    request: { params: messageParams },
    responses: { 200: { description: 'The message', schema: dataBody(messageSchema) } },
    async handle({ principal, params, deps }) {
      const db = deps.database.db;
      const { message } = await messageViewer(db, principal, params.message_gid);
      const [view] = await messageViews(db, [message]);
      return { kind: 'data', data: view };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/messages/{message_gid}',
    scope: 'api',
    operationId: 'updateMessage',
    summary: 'Edit your message (title and text) or your reply (text)',
    tags: ['Messages'],
    auth: 'user',
    request: {
      params: messageParams,
      body: z.object({ title: title.optional(), text: text.optional() }).refine((b) => b.title !== undefined || b.text !== undefined, { message: 'give title or text' }),
    },
    responses: { 200: { description: 'The message', schema: dataBody(messageSchema) } },
    async handle({ principal, params, body, deps }) {
      const db = deps.database.db;
      const { viewer } = await messageViewer(db, principal, params.message_gid);
      await updateMessage(deps, viewer, params.message_gid, body);
      return { kind: 'data', data: await messageView(db, viewer, params.message_gid) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/messages/{message_gid}',
    scope: 'api',
    operationId: 'deleteMessage',
    summary: 'Delete a message with its replies (its author or an organization admin)',
    tags: ['Messages'],
    auth: 'user',
    request: { params: messageParams },
    responses: { 200: { description: 'Deleted', schema: ok } },
    async handle({ principal, params, deps }) {
      const { viewer } = await messageViewer(deps.database.db, principal, params.message_gid);
      await deleteMessage(deps, viewer, params.message_gid);
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/messages/{message_gid}/replies',
    scope: 'api',
    operationId: 'getRepliesForMessage',
    summary: 'Replies to a message, oldest first',
    tags: ['Messages'],
    auth: 'user',
    request: { params: messageParams },
    responses: { 200: { description: 'Replies', schema: listBody(messageCompactSchema) } },
    async handle({ principal, params, query, page, deps }) {
      const db = deps.database.db;
      const { viewer, message } = await messageViewer(db, principal, params.message_gid);
      if (message.reply_to_gid !== null) throw new BadRequestError('Replies have no replies', [{ message: 'path.message_gid: is a reply; list the replies of the message it answers' }]);
      const result = await listReplies(db, viewer, params.message_gid, page);
      return listAnswer(db, result.rows, result.next, query.opt_fields);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/messages/{message_gid}/replies',
    scope: 'api',
    operationId: 'createReplyForMessage',
    summary: 'Reply to a message',
    description: 'Whoever may post to the team or project may reply; so may the project’s commenters. A reply to a reply joins the same conversation.',
    tags: ['Messages'],
    auth: 'user',
    request: { params: messageParams, body: z.object({ text }) },
    responses: { 201: { description: 'The reply', schema: dataBody(messageSchema) } },
    async handle({ principal, params, body, deps }) {
      const db = deps.database.db;
      const { viewer } = await messageViewer(db, principal, params.message_gid);
      const created = await replyToMessage(deps, viewer, params.message_gid, body);
      return { kind: 'data', status: 201, data: await messageView(db, viewer, created) };
    },
  }),
];
