/**
 * Workspaces (our organizations), users and workspace memberships, in Asana's shapes.
 * Lists answer compact representations, or the full ones when opt_fields is given (the
 * framework then keeps the requested fields); single GETs answer the full ones.
 */
import { z } from 'zod';
import {
  addUserToWorkspace,
  getUser,
  getWorkspace,
  getWorkspaceMembership,
  listUserWorkspaceMemberships,
  listUsers,
  listWorkspaceMemberships,
  listWorkspaces,
  listWorkspaceUsers,
  removeUserFromWorkspace,
  updateWorkspace,
} from '../../domain/work/workspaces.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute, type RequestMeta } from '../route.js';
import { gid } from '../schemas.js';
import { loginContext } from './auth.js';

/** Lists answer full representations when opt_fields asks for fields. */
export const wantsFull = (meta: RequestMeta) => Boolean(meta.rawQuery.opt_fields);

/** How Asana names a user: "me", an email address, or a gid. */
export const userRef = z
  .string()
  .trim()
  .min(1)
  .max(320)
  .regex(/^(me|\d{1,19}|[^\s@/]+@[^\s@/]+\.[^\s@/]+)$/, 'must be "me", a user gid or an email address')
  .meta({ description: 'A string identifying a user: "me", an email address, or the gid of a user.', example: 'me' });

export const workspaceCompactSchema = z.object({ gid, resource_type: z.literal('workspace'), name: z.string() });
export const userCompactSchema = z.object({ gid, resource_type: z.literal('user'), name: z.string() });

const workspaceFields = { email_domains: z.array(z.string()), is_organization: z.boolean() };
export const workspaceResponse = workspaceCompactSchema.extend(workspaceFields).meta({ id: 'WorkspaceResponse' });
const workspaceListItem = workspaceCompactSchema.extend(z.object(workspaceFields).partial().shape).meta({ id: 'WorkspaceListItem', description: 'Compact; with opt_fields, the requested fields of the full representation.' });

const userFields = { email: z.string(), photo: z.null(), workspaces: z.array(workspaceCompactSchema) };
export const userResponse = userCompactSchema.extend(userFields).meta({ id: 'UserResponse' });
export const userListItem = userCompactSchema.extend(z.object(userFields).partial().shape).meta({ id: 'UserListItem', description: 'Compact; with opt_fields, the requested fields of the full representation.' });

const membershipCompact = z.object({ gid, resource_type: z.literal('workspace_membership'), user: userCompactSchema, workspace: workspaceCompactSchema });
const membershipFields = {
  user_task_list: z.object({ gid, resource_type: z.literal('user_task_list'), name: z.string(), owner: userCompactSchema, workspace: workspaceCompactSchema }).nullable(),
  is_active: z.boolean(),
  is_admin: z.boolean(),
  is_guest: z.boolean(),
  is_view_only: z.boolean(),
  vacation_dates: z.null(),
  created_at: z.string(),
};
const membershipResponse = membershipCompact.extend(membershipFields).meta({ id: 'WorkspaceMembershipResponse' });
const membershipListItem = membershipCompact.extend(z.object(membershipFields).partial().shape).meta({ id: 'WorkspaceMembershipListItem' });

const workspaceInvitation = z
  .object({ gid, resource_type: z.literal('invitation'), email: z.string(), role: z.string(), expires_at: z.string(), workspace: workspaceCompactSchema })
  .meta({ id: 'WorkspaceInvitation', description: 'The pending invitation emailed to someone who is not in the workspace yet.' });

const workspaceParams = z.object({ workspace_gid: gid });
const userParams = z.object({ user_gid: userRef });

export const getWorkspacesRoute = defineRoute({
  method: 'GET',
  path: '/workspaces',
  scope: 'api',
  operationId: 'getWorkspaces',
  summary: 'The workspaces (organizations) you belong to',
  tags: ['Workspaces'],
  auth: 'user',
  request: {},
  responses: { 200: { description: 'Workspaces, by name', schema: listBody(workspaceListItem) } },
  async handle({ principal, page, meta, deps }) {
    const list = await listWorkspaces(deps.database.db, principal, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getWorkspaceRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}',
  scope: 'api',
  operationId: 'getWorkspace',
  summary: 'Get a workspace',
  tags: ['Workspaces'],
  auth: 'user',
  request: { params: workspaceParams },
  responses: { 200: { description: 'The workspace', schema: dataBody(workspaceResponse) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: await getWorkspace(deps.database.db, principal, params.workspace_gid) };
  },
});

export const updateWorkspaceRoute = defineRoute({
  method: 'PUT',
  path: '/workspaces/{workspace_gid}',
  scope: 'api',
  operationId: 'updateWorkspace',
  summary: 'Rename a workspace (admins)',
  tags: ['Workspaces'],
  auth: 'user',
  request: { params: workspaceParams, body: z.object({ name: z.string().trim().min(1).max(256).optional() }) },
  responses: { 200: { description: 'The workspace', schema: dataBody(workspaceResponse) } },
  async handle({ principal, params, body, meta, deps }) {
    return { kind: 'data', data: await updateWorkspace(deps, principal, params.workspace_gid, body, loginContext(meta)) };
  },
});

export const getWorkspaceUsersRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/users',
  scope: 'api',
  operationId: 'getUsersForWorkspace',
  summary: 'Users of a workspace that you may see',
  description: 'Full members see every member; guests see themselves and the members of projects they can see.',
  tags: ['Users'],
  auth: 'user',
  request: { params: workspaceParams },
  responses: { 200: { description: 'Users, by name', schema: listBody(userListItem) } },
  async handle({ principal, params, page, meta, deps }) {
    const list = await listWorkspaceUsers(deps.database.db, principal, params.workspace_gid, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const addUserForWorkspaceRoute = defineRoute({
  method: 'POST',
  path: '/workspaces/{workspace_gid}/addUser',
  scope: 'api',
  operationId: 'addUserForWorkspace',
  summary: 'Add a user to a workspace (admins)',
  description:
    'A member (or someone removed earlier, who is reinstated as a member) answers with the user. An email of someone not in the workspace gets an emailed invitation (role member); the answer is then the pending invitation, whether or not the email has an account.',
  tags: ['Workspaces'],
  auth: 'user',
  request: { params: workspaceParams, body: z.object({ user: userRef }) },
  responses: { 200: { description: 'The user, or the pending invitation', schema: dataBody(z.union([userResponse, workspaceInvitation])) } },
  async handle({ principal, params, body, meta, deps }) {
    const added = await addUserToWorkspace(deps, principal, params.workspace_gid, body.user, loginContext(meta));
    return { kind: 'data', data: added.kind === 'user' ? added.user : added.invitation };
  },
});

export const removeUserForWorkspaceRoute = defineRoute({
  method: 'POST',
  path: '/workspaces/{workspace_gid}/removeUser',
  scope: 'api',
  operationId: 'removeUserForWorkspace',
  summary: 'Remove a user from a workspace (admins)',
  description: "Ends the membership and removes the person's team and project memberships in the workspace. Recorded in the audit log.",
  tags: ['Workspaces'],
  auth: 'user',
  request: { params: workspaceParams, body: z.object({ user: userRef }) },
  responses: { 200: { description: 'Removed', schema: dataBody(z.object({})) } },
  async handle({ principal, params, body, meta, deps }) {
    await removeUserFromWorkspace(deps, principal, params.workspace_gid, body.user, loginContext(meta));
    return { kind: 'data', data: {} };
  },
});

export const getWorkspaceMembershipsForWorkspaceRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/workspace_memberships',
  scope: 'api',
  operationId: 'getWorkspaceMembershipsForWorkspace',
  summary: 'Memberships of a workspace whose users you may see',
  tags: ['Workspace memberships'],
  auth: 'user',
  request: { params: workspaceParams, query: z.object({ user: userRef.optional() }) },
  responses: { 200: { description: 'Memberships, oldest first', schema: listBody(membershipListItem) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const list = await listWorkspaceMemberships(deps.database.db, principal, params.workspace_gid, { user: query.user }, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getWorkspaceMembershipRoute = defineRoute({
  method: 'GET',
  path: '/workspace_memberships/{workspace_membership_gid}',
  scope: 'api',
  operationId: 'getWorkspaceMembership',
  summary: 'Get a workspace membership',
  tags: ['Workspace memberships'],
  auth: 'user',
  request: { params: z.object({ workspace_membership_gid: gid }) },
  responses: { 200: { description: 'The membership', schema: dataBody(membershipResponse) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: await getWorkspaceMembership(deps.database.db, principal, params.workspace_membership_gid) };
  },
});

export const getWorkspaceMembershipsForUserRoute = defineRoute({
  method: 'GET',
  path: '/users/{user_gid}/workspace_memberships',
  scope: 'api',
  operationId: 'getWorkspaceMembershipsForUser',
  summary: "A user's memberships in the workspaces you share with them",
  tags: ['Workspace memberships'],
  auth: 'user',
  request: { params: userParams },
  responses: { 200: { description: 'Memberships, oldest first', schema: listBody(membershipListItem) } },
  async handle({ principal, params, page, meta, deps }) {
    const list = await listUserWorkspaceMemberships(deps.database.db, principal, params.user_gid, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getUserRoute = defineRoute({
  method: 'GET',
  path: '/users/{user_gid}',
  scope: 'api',
  operationId: 'getUser',
  summary: 'Get a user you may see ("me", a gid or an email)',
  description: 'Workspaces lists only the workspaces you share with the user. Users you may not see answer 404.',
  tags: ['Users'],
  auth: 'user',
  request: { params: userParams, query: z.object({ workspace: gid.optional() }) },
  responses: { 200: { description: 'The user', schema: dataBody(userResponse) } },
  async handle({ principal, params, query, deps }) {
    return { kind: 'data', data: await getUser(deps.database.db, principal, params.user_gid, query.workspace) };
  },
});

export const getUsersRoute = defineRoute({
  method: 'GET',
  path: '/users',
  scope: 'api',
  operationId: 'getUsers',
  summary: 'Users you may see, in a workspace, a team, or all your workspaces',
  tags: ['Users'],
  auth: 'user',
  request: { query: z.object({ workspace: gid.optional(), team: gid.optional() }) },
  responses: { 200: { description: 'Users, by name', schema: listBody(userListItem) } },
  async handle({ principal, query, page, meta, deps }) {
    const list = await listUsers(deps.database.db, principal, { workspace: query.workspace, team: query.team }, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const workspaceRoutes = [
  getWorkspacesRoute,
  getWorkspaceRoute,
  updateWorkspaceRoute,
  getWorkspaceUsersRoute,
  addUserForWorkspaceRoute,
  removeUserForWorkspaceRoute,
  getWorkspaceMembershipsForWorkspaceRoute,
  getWorkspaceMembershipRoute,
  getWorkspaceMembershipsForUserRoute,
  getUserRoute,
  getUsersRoute,
];
