/** Teams and team memberships, in Asana's shapes. */
import { z } from 'zod';
import {
  addUserToTeam,
  createTeam,
  deleteTeam,
  getTeam,
  getTeamMembership,
  listTeamMemberships,
  listTeamUsers,
  listUserTeams,
  listWorkspaceTeams,
  removeUserFromTeam,
  TEAM_VISIBILITIES,
  textOfHtml,
  updateTeam,
} from '../../domain/work/teams.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid, longText } from '../schemas.js';
import { loginContext } from './auth.js';
import { userCompactSchema, userListItem, userRef, wantsFull, workspaceCompactSchema } from './workspaces.js';

const teamCompactSchema = z.object({ gid, resource_type: z.literal('team'), name: z.string() });
const visibility = z.enum(TEAM_VISIBILITIES).meta({ description: 'Who sees the team: public (every member), request_to_join (every member; joining needs approval), secret (only its members).' });
const teamFields = {
  description: z.string(),
  html_description: z.string(),
  organization: workspaceCompactSchema,
  visibility,
  permalink_url: z.string(),
  created_at: z.string(),
  created_by: userCompactSchema.nullable(),
};
const teamResponse = teamCompactSchema.extend(teamFields).meta({ id: 'TeamResponse' });
const teamListItem = teamCompactSchema.extend(z.object(teamFields).partial().shape).meta({ id: 'TeamListItem', description: 'Compact; with opt_fields, the requested fields of the full representation.' });

const teamMembership = z
  .object({ gid, resource_type: z.literal('team_membership'), user: userCompactSchema, team: teamCompactSchema, is_guest: z.boolean(), is_limited_access: z.boolean(), is_admin: z.boolean() })
  .meta({ id: 'TeamMembershipResponse' });
const teamInvitation = z
  .object({ gid, resource_type: z.literal('invitation'), email: z.string(), role: z.enum(['member', 'guest']), team: teamCompactSchema, workspace: workspaceCompactSchema, expires_at: z.string() })
  .meta({ id: 'TeamInvitation', description: 'The pending invitation emailed to someone who is not in the workspace yet; accepting it also joins the team.' });

const name = z.string().trim().min(1).max(256);
const DESCRIPTION_CHARS = 32_768;
const description = longText(DESCRIPTION_CHARS);
/** Stored as its text (the plain description), which is held to the description's limit. */
const htmlDescription = longText().refine((html) => textOfHtml(html).length <= DESCRIPTION_CHARS, `its text must be at most ${DESCRIPTION_CHARS} characters`);
const teamParams = z.object({ team_gid: gid });

export const createTeamRoute = defineRoute({
  method: 'POST',
  path: '/teams',
  scope: 'api',
  operationId: 'createTeam',
  summary: 'Create a team (full members); you become its member',
  tags: ['Teams'],
  auth: 'user',
  request: { body: z.object({ name, description: description.optional(), html_description: htmlDescription.optional(), organization: gid, visibility: visibility.optional() }) },
  responses: { 201: { description: 'The team', schema: dataBody(teamResponse) } },
  async handle({ principal, body, meta, deps }) {
    const teamGid = await createTeam(deps, principal, body);
    return { kind: 'data', status: 201, data: await getTeam(deps.database.db, principal, teamGid, meta.baseUrl) };
  },
});

export const getTeamRoute = defineRoute({
  method: 'GET',
  path: '/teams/{team_gid}',
  scope: 'api',
  operationId: 'getTeam',
  summary: 'Get a team',
  tags: ['Teams'],
  auth: 'user',
  request: { params: teamParams },
  responses: { 200: { description: 'The team', schema: dataBody(teamResponse) } },
  async handle({ principal, params, meta, deps }) {
    return { kind: 'data', data: await getTeam(deps.database.db, principal, params.team_gid, meta.baseUrl) };
  },
});

export const updateTeamRoute = defineRoute({
  method: 'PUT',
  path: '/teams/{team_gid}',
  scope: 'api',
  operationId: 'updateTeam',
  summary: "Change a team's name, description or visibility (its members and workspace admins)",
  tags: ['Teams'],
  auth: 'user',
  request: { params: teamParams, body: z.object({ name: name.optional(), description: description.optional(), html_description: htmlDescription.optional(), organization: gid.optional(), visibility: visibility.optional() }) },
  responses: { 200: { description: 'The team', schema: dataBody(teamResponse) } },
  async handle({ principal, params, body, meta, deps }) {
    await updateTeam(deps, principal, params.team_gid, body, loginContext(meta));
    return { kind: 'data', data: await getTeam(deps.database.db, principal, params.team_gid, meta.baseUrl) };
  },
});

export const deleteTeamRoute = defineRoute({
  method: 'DELETE',
  path: '/teams/{team_gid}',
  scope: 'api',
  operationId: 'deleteTeam',
  summary: 'Delete a team (its members and workspace admins)',
  description: 'The team is kept (soft-deleted) for organization exports and vanishes from the API.',
  tags: ['Teams'],
  auth: 'user',
  request: { params: teamParams },
  responses: { 200: { description: 'Deleted', schema: dataBody(z.object({})) } },
  async handle({ principal, params, meta, deps }) {
    await deleteTeam(deps, principal, params.team_gid, loginContext(meta));
    return { kind: 'data', data: {} };
  },
});

export const getTeamsForWorkspaceRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/teams',
  scope: 'api',
  operationId: 'getTeamsForWorkspace',
  summary: 'Teams of a workspace that you may see',
  description: 'Full members see public and request-to-join teams and their own secret teams; guests only their own teams.',
  tags: ['Teams'],
  auth: 'user',
  request: { params: z.object({ workspace_gid: gid }) },
  responses: { 200: { description: 'Teams, by name', schema: listBody(teamListItem) } },
  async handle({ principal, params, page, meta, deps }) {
    const list = await listWorkspaceTeams(deps.database.db, principal, params.workspace_gid, page, meta.baseUrl, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getTeamsForUserRoute = defineRoute({
  method: 'GET',
  path: '/users/{user_gid}/teams',
  scope: 'api',
  operationId: 'getTeamsForUser',
  summary: "A user's teams in an organization, those you may see",
  tags: ['Teams'],
  auth: 'user',
  request: { params: z.object({ user_gid: userRef }), query: z.object({ organization: gid }) },
  responses: { 200: { description: 'Teams, by name', schema: listBody(teamListItem) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const list = await listUserTeams(deps.database.db, principal, params.user_gid, query.organization, page, meta.baseUrl, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const addUserForTeamRoute = defineRoute({
  method: 'POST',
  path: '/teams/{team_gid}/addUser',
  scope: 'api',
  operationId: 'addUserForTeam',
  summary: 'Add a user to a team',
  description:
    "Workspace admins and the team's full members add people; full members may join public teams themselves. is_limited_access gives access only to what the person is added to. An email of someone not in the workspace gets an emailed invitation that also joins the team (as a member when an admin invites, as a guest otherwise); the answer is then the pending invitation.",
  tags: ['Teams'],
  auth: 'user',
  request: { params: teamParams, body: z.object({ user: userRef, is_limited_access: z.boolean().optional() }) },
  responses: { 200: { description: 'The team membership, or the pending invitation', schema: dataBody(z.union([teamMembership, teamInvitation])) } },
  async handle({ principal, params, body, meta, deps }) {
    const added = await addUserToTeam(deps, principal, params.team_gid, body, loginContext(meta));
    return { kind: 'data', data: added.kind === 'membership' ? added.membership : added.invitation };
  },
});

export const removeUserForTeamRoute = defineRoute({
  method: 'POST',
  path: '/teams/{team_gid}/removeUser',
  scope: 'api',
  operationId: 'removeUserForTeam',
  summary: 'Remove a user from a team (its members and workspace admins; anyone may leave)',
  tags: ['Teams'],
  auth: 'user',
  request: { params: teamParams, body: z.object({ user: userRef }) },
  responses: { 200: { description: 'Removed', schema: dataBody(z.object({})) } },
  async handle({ principal, params, body, deps }) {
    await removeUserFromTeam(deps, principal, params.team_gid, body.user);
    return { kind: 'data', data: {} };
  },
});

export const getUsersForTeamRoute = defineRoute({
  method: 'GET',
  path: '/teams/{team_gid}/users',
  scope: 'api',
  operationId: 'getUsersForTeam',
  summary: 'Members of a team that you may see',
  tags: ['Users'],
  auth: 'user',
  request: { params: teamParams },
  responses: { 200: { description: 'Users, by name', schema: listBody(userListItem) } },
  async handle({ principal, params, page, meta, deps }) {
    const list = await listTeamUsers(deps.database.db, principal, params.team_gid, page, wantsFull(meta));
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getTeamMembershipsRoute = defineRoute({
  method: 'GET',
  path: '/team_memberships',
  scope: 'api',
  operationId: 'getTeamMemberships',
  summary: 'Team memberships of a team, or of a user in a workspace',
  tags: ['Team memberships'],
  auth: 'user',
  request: { query: z.object({ team: gid.optional(), user: userRef.optional(), workspace: gid.optional() }) },
  responses: { 200: { description: 'Memberships, oldest first', schema: listBody(teamMembership) } },
  async handle({ principal, query, page, deps }) {
    const list = await listTeamMemberships(deps.database.db, principal, { team: query.team, user: query.user, workspace: query.workspace }, page);
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getTeamMembershipRoute = defineRoute({
  method: 'GET',
  path: '/team_memberships/{team_membership_gid}',
  scope: 'api',
  operationId: 'getTeamMembership',
  summary: 'Get a team membership',
  tags: ['Team memberships'],
  auth: 'user',
  request: { params: z.object({ team_membership_gid: gid }) },
  responses: { 200: { description: 'The membership', schema: dataBody(teamMembership) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: await getTeamMembership(deps.database.db, principal, params.team_membership_gid) };
  },
});

export const getTeamMembershipsForTeamRoute = defineRoute({
  method: 'GET',
  path: '/teams/{team_gid}/team_memberships',
  scope: 'api',
  operationId: 'getTeamMembershipsForTeam',
  summary: 'Memberships of a team',
  tags: ['Team memberships'],
  auth: 'user',
  request: { params: teamParams },
  responses: { 200: { description: 'Memberships, oldest first', schema: listBody(teamMembership) } },
  async handle({ principal, params, page, deps }) {
    const list = await listTeamMemberships(deps.database.db, principal, { team: params.team_gid }, page);
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const getTeamMembershipsForUserRoute = defineRoute({
  method: 'GET',
  path: '/users/{user_gid}/team_memberships',
  scope: 'api',
  operationId: 'getTeamMembershipsForUser',
  summary: "A user's team memberships in a workspace, those you may see",
  tags: ['Team memberships'],
  auth: 'user',
  request: { params: z.object({ user_gid: userRef }), query: z.object({ workspace: gid }) },
  responses: { 200: { description: 'Memberships, oldest first', schema: listBody(teamMembership) } },
  async handle({ principal, params, query, page, deps }) {
    const list = await listTeamMemberships(deps.database.db, principal, { user: params.user_gid, workspace: query.workspace }, page);
    return { kind: 'list', data: list.data, next: list.next };
  },
});

export const teamRoutes = [
  createTeamRoute,
  getTeamRoute,
  updateTeamRoute,
  deleteTeamRoute,
  getTeamsForWorkspaceRoute,
  getTeamsForUserRoute,
  addUserForTeamRoute,
  removeUserForTeamRoute,
  getUsersForTeamRoute,
  getTeamMembershipsRoute,
  getTeamMembershipRoute,
  getTeamMembershipsForTeamRoute,
  getTeamMembershipsForUserRoute,
];
