/**
 * The authorization matrix (issue 4): every API route of the live route table × every
 * role, with the expected answer.
 *
 * The matrix is GENERATED from `routes` (lambdas/http/route-table.ts): a new route is
 * covered as soon as it is registered, and the test for it FAILS until it has
 *   - a fixture for each of its path parameters (FIXTURES, keyed by parameter name), and
 *   - an expectation (EXPECTATIONS, keyed by operationId: who gets what, plus a sample
 *     body and query when it needs them); public routes (auth 'none') must instead be
 *     listed in PUBLIC_ROUTES, so no route becomes public by accident.
 *
 * Roles: anonymous, a service account of the organization, a super admin of another
 * organization, and in the organization: guest, limited-access team member, member,
 * non-member (a full member not added to the project), admin, super admin.
 *
 * Each route runs against fixture worlds built in the organization, one per scenario:
 * a project that is private, private_to_team (with a guest added as viewer),
 * private_to_team with the limited-access member added, or public_to_workspace; with a
 * team, sections, tasks, a subtask, a comment, a tag, a custom field, a status update.
 * Expected answers (status classes): ok (2xx), hidden (404: the caller may not know it
 * exists), denied (visible, not allowed: 403, or 404 where the code prefers it), forbidden
 * (403), unauth (401).
 *
 * On top of the status:
 * - refused mutating calls must not change anything: every work-graph and identity
 *   table's row count, and no row written since the refused calls started (xmin);
 * - no answer, to anyone, contains the name of an object the caller may not see (and no
 *   successful answer its gid unless the request named it).
 *
 * Bugs found and not fixed yet are listed in KNOWN_BUGS: their route's test is
 * `test.failing` (it passes while the bug is there, and fails once it is fixed: then
 * remove the entry).
 *
 * Outsiders (anonymous, the service account, the other organization) answer the same
 * in every scenario, so they are asked in the first one only.
 *
 * AUTHZ_MATRIX_PENDING=1 also covers route modules that exist but may not be registered
 * yet (teams, workspaces, custom fields, messages, templates, attachments), to check
 * their expectations before they land in the table.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import type { PrivacySetting, Role } from '../../lambdas/db/schema.js';
import type { AccessLevel } from '../support/access-model.js';
import { users as userRepo } from '../../lambdas/db/repositories/users.js';
import { completeLogin } from '../../lambdas/domain/auth/sessions.js';
import { createServiceAccount } from '../../lambdas/domain/auth/service-accounts.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import type { RouteDef } from '../../lambdas/http/route.js';
import { fullPath } from '../../lambdas/http/route.js';
import { routes as liveRoutes } from '../../lambdas/http/route-table.js';
import { CHROME_MAC, identityHarness, type Answer, type IdentityHarness } from '../support/identity.js';
import { stateChanges, stateMark } from '../support/state-mark.js';
import { project as insertProject, section as insertSection, taskTrio, team as insertTeam } from '../support/graph.js';
import { apiEvent } from '../support/http.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

// --- Roles ---------------------------------------------------------------------------------

const ROLES = ['anonymous', 'serviceAccount', 'otherOrg', 'guest', 'limited', 'member', 'nonMember', 'admin', 'superAdmin'] as const;
type RoleName = (typeof ROLES)[number];
type UserRole = Exclude<RoleName, 'anonymous' | 'serviceAccount'>;

/** The organization role of each role (null: not in the organization). */
const ORG_ROLE: Record<RoleName, Role | null> = {
  anonymous: null,
  serviceAccount: null,
  otherOrg: null,
  guest: 'guest',
  limited: 'member',
  member: 'member',
  nonMember: 'member',
  admin: 'admin',
  superAdmin: 'super_admin',
};
const FULL_ROLES: RoleName[] = ['limited', 'member', 'nonMember', 'admin', 'superAdmin'];
/** Roles whose answers cannot depend on the project scenario. */
const OUTSIDERS: RoleName[] = ['anonymous', 'serviceAccount', 'otherOrg'];

// --- Scenarios: what each role may do with the project and its tasks -----------------------

type Level = 'none' | 'read' | 'edit';
interface Grants {
  project: Level;
  task: Level;
  /** May add tasks to (and post messages in) the project. */
  addTask: boolean;
}
const NO_GRANTS: Grants = { project: 'none', task: 'none', addTask: false };
const EDITOR: Grants = { project: 'edit', task: 'edit', addTask: true };
/** A full team member of a private_to_team project: reads the project, changes its tasks. */
const TEAM_MEMBER: Grants = { project: 'read', task: 'edit', addTask: true };
const VIEWER: Grants = { project: 'read', task: 'read', addTask: false };

type ScenarioName = 'private' | 'team' | 'teamLimited' | 'public';
interface Scenario {
  description: string;
  privacy: PrivacySetting;
  owner: UserRole | null;
  members: [UserRole, AccessLevel][];
  grants: Partial<Record<RoleName, Grants>>;
}

/**
 * In every scenario the team (request_to_join) has `member` as full member and `limited`
 * as limited-access member; admins, super admins, non-members and the guest are not in it.
 */
const SCENARIOS: Record<ScenarioName, Scenario> = {
  private: {
    description: 'a private project: only its members, never admins',
    privacy: 'private',
    owner: 'member',
    members: [['member', 'editor']],
    grants: { member: EDITOR },
  },
  team: {
    description: 'a private_to_team project with a guest added as viewer',
    privacy: 'private_to_team',
    owner: null,
    members: [['guest', 'viewer']],
    grants: { member: TEAM_MEMBER, guest: VIEWER },
  },
  teamLimited: {
    description: 'a private_to_team project the limited-access member was added to',
    privacy: 'private_to_team',
    owner: null,
    members: [['limited', 'editor']],
    grants: { member: TEAM_MEMBER, limited: EDITOR },
  },
  public: {
    description: 'a public_to_workspace project',
    privacy: 'public_to_workspace',
    owner: 'member',
    members: [['member', 'editor']],
    grants: { member: EDITOR, nonMember: EDITOR, limited: EDITOR, admin: EDITOR, superAdmin: EDITOR },
  },
};
const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

// --- Expectations --------------------------------------------------------------------------

/** ok: 2xx; hidden: 404; denied: 403 or 404 (visible, not allowed); forbidden: 403; unauth: 401; any: below 500 (self-service routes). */
type Expect = 'ok' | 'hidden' | 'denied' | 'forbidden' | 'unauth' | 'any';

interface Ctx {
  role: UserRole;
  scenario: ScenarioName;
  inOrg: boolean;
  full: boolean;
  orgRole: Role | null;
  g: Grants;
}
type Rule = (c: Ctx) => Expect;

const level = (l: Level, need: 'read' | 'edit'): Expect => (l === 'none' ? 'hidden' : need === 'read' || l === 'edit' ? 'ok' : 'denied');
const R = {
  anyUser: (): Expect => 'ok',
  self: (): Expect => 'any',
  orgMember: (c: Ctx): Expect => (c.inOrg ? 'ok' : 'hidden'),
  fullMember: (c: Ctx): Expect => (!c.inOrg ? 'hidden' : c.full ? 'ok' : 'forbidden'),
  orgRoles:
    (...roles: Role[]): Rule =>
    (c) =>
      !c.inOrg ? 'hidden' : roles.includes(c.orgRole!) ? 'ok' : 'forbidden',
  /** Objects of `member` only (saved searches, sessions): everyone else 404. */
  membersOwn: (c: Ctx): Expect => (c.role === 'member' ? 'ok' : 'hidden'),
  /** `member`'s My tasks: 403 for those who can see member, 404 for the rest. */
  membersTaskList: (c: Ctx): Expect => (c.role === 'member' ? 'ok' : c.inOrg ? 'denied' : 'hidden'),
  seeProject: (c: Ctx) => level(c.g.project, 'read'),
  editProject: (c: Ctx) => level(c.g.project, 'edit'),
  seeTask: (c: Ctx) => level(c.g.task, 'read'),
  editTask: (c: Ctx) => level(c.g.task, 'edit'),
  addTask: (c: Ctx): Expect => (c.g.project === 'none' ? 'hidden' : c.g.addTask ? 'ok' : 'denied'),
  /** The comment and the message are member's: only the author changes them. */
  authorOfTaskThing: (c: Ctx): Expect => (c.g.task === 'none' ? 'hidden' : c.role === 'member' ? 'ok' : 'denied'),
  authorOfProjectThing: (c: Ctx): Expect => (c.g.project === 'none' ? 'hidden' : c.role === 'member' ? 'ok' : 'denied'),
  /** Tags: full members see the organization's; guests those on tasks they see (the tag is on the task). */
  seeTag: (c: Ctx): Expect => (c.inOrg && (c.full || c.g.task !== 'none') ? 'ok' : 'hidden'),
  editTag: (c: Ctx): Expect => (R.seeTag(c) === 'hidden' ? 'hidden' : c.full ? 'ok' : 'denied'),
  /** Custom fields: full members see the organization's; guests those used by projects they see. */
  seeField: (c: Ctx): Expect => (c.inOrg && (c.full || c.g.project !== 'none') ? 'ok' : 'hidden'),
  editField: (c: Ctx): Expect => (R.seeField(c) === 'hidden' ? 'hidden' : c.full ? 'ok' : 'denied'),
  /** The team is request_to_join: every full member sees it; the guest is not in it. */
  seeTeam: (c: Ctx): Expect => (c.inOrg && c.full ? 'ok' : 'hidden'),
  /** Team settings and people: workspace admins and the team's full members. */
  manageTeam: (c: Ctx): Expect => (R.seeTeam(c) === 'hidden' ? 'hidden' : ['admin', 'superAdmin', 'member'].includes(c.role) ? 'ok' : 'denied'),
  /** An export job requested by admin: admins and super admins of the organization read it, nobody else learns it exists. */
  exportReaders: (c: Ctx): Expect => (c.inOrg && (c.orgRole === 'admin' || c.orgRole === 'super_admin') ? 'ok' : 'hidden'),
  /** `member` as a person: every full member sees them; the guest shares no project with them. */
  seeMember: (c: Ctx): Expect => (c.inOrg && c.full ? 'ok' : 'hidden'),
};

type Fx = World;
type Sample<T> = (f: Fx, n: number) => T | Promise<T>;

interface Spec {
  rule: Rule;
  body?: Sample<unknown>;
  /** A body sent as is (multipart and form routes). */
  raw?: Sample<{ contentType: string; body: string }>;
  query?: Sample<Record<string, string>>;
  /** Path parameters other than the FIXTURES default. */
  params?: Sample<Record<string, string>>;
  /** Allowed calls undo the fixture (deleted, removed, revoked): each allowed role gets a fresh world. */
  destructive?: boolean;
  /** The call ends or endangers the caller's session: each call uses a new session of the role. */
  freshSession?: boolean;
  /** The answer does not depend on the project scenario: run in the first scenario only. */
  once?: boolean;
  /** For auth 'principal' routes: what the organization's service account gets. */
  serviceAccount?: Expect;
}

const unique = (prefix: string, n: number) => `${prefix} ${n} ${Date.now().toString(36)}`;

/** A multipart/form-data body with text fields and one file. */
function multipart(fields: Record<string, string>, file: { name: string; filename: string; contentType: string; content: string }) {
  const boundary = `matrix${Date.now().toString(36)}`;
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n${file.content}\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join('')}--${boundary}--\r\n` };
}
const once = (rule: Rule, extra: Omit<Spec, 'rule' | 'once'> = {}): Spec => ({ rule, once: true, ...extra });

/** Every operationId of an API route needs an entry (a new route without one fails the matrix). */
const EXPECTATIONS: Record<string, Spec> = {
  // The caller's own account
  logOut: once(R.anyUser, { freshSession: true }),
  changePassword: once(R.self, { freshSession: true, body: () => ({ current_password: 'not the password', new_password: 'a brand new long passphrase' }) }),
  getCurrentUser: once(R.anyUser),
  listMySessions: once(R.anyUser),
  revokeMySession: once(R.membersOwn, { destructive: true, params: async (f) => ({ session_gid: await f.get('session_gid') }) }),
  listMyLogins: once(R.anyUser),

  // Organization administration
  inviteToOrganization: once(R.orgRoles('admin', 'super_admin'), { body: (_f, n) => ({ email: `invitee-${n}-${Date.now().toString(36)}@example.com`, role: 'member' }) }),
  createServiceAccount: once(R.orgRoles('super_admin'), { body: (_f, n) => ({ name: unique('Exporter', n), scopes: ['exports'] }) }),
  listServiceAccounts: once(R.orgRoles('super_admin')),
  revokeServiceAccount: once(R.orgRoles('super_admin'), { destructive: true }),
  getAuditLogEvents: once(R.orgRoles('super_admin')),
  getSsoSettings: once(R.orgRoles('super_admin')),
  updateSsoSettings: once(R.orgRoles('super_admin'), { body: () => ({ required: false }) }),

  // Tasks
  createTask: { rule: R.addTask, body: (f) => ({ name: 'Matrix task', projects: [f.project] }) },
  getTask: { rule: R.seeTask },
  updateTask: { rule: R.editTask, body: () => ({ notes: 'changed by the matrix' }) },
  deleteTask: { rule: R.editTask, destructive: true },
  restoreTask: { rule: R.editTask },
  getTasks: { rule: R.seeProject, query: (f) => ({ project: f.project }) },
  getTasksForProject: { rule: R.seeProject },
  getSubtasksForTask: { rule: R.seeTask },
  createSubtaskForTask: { rule: R.editTask, body: () => ({ name: 'Matrix subtask' }) },
  setParentForTask: { rule: R.editTask, body: (f) => ({ parent: f.task2 }) },
  addProjectForTask: { rule: R.editTask, body: (f) => ({ project: f.project }) },
  removeProjectForTask: { rule: R.editTask, destructive: true, body: (f) => ({ project: f.project }) },
  addTagForTask: { rule: R.editTask, body: (f) => ({ tag: f.tag }) },
  removeTagForTask: { rule: R.editTask, body: (f) => ({ tag: f.tag }) },
  addFollowersForTask: { rule: R.editTask, body: (f) => ({ followers: [f.people.member] }) },
  removeFollowerForTask: { rule: R.editTask, body: (f) => ({ followers: [f.people.nonMember] }) },
  likeTask: { rule: R.seeTask, body: () => ({ liked: true }) },
  duplicateTask: { rule: R.seeTask, body: () => ({ name: 'Matrix copy' }) },
  getTasksForTag: { rule: R.seeTag },

  // Stories
  getStoriesForTask: { rule: R.seeTask },
  createStoryForTask: { rule: R.seeTask, body: () => ({ text: 'A matrix comment' }) },
  getStory: { rule: R.seeTask },
  updateStory: { rule: R.authorOfTaskThing, body: () => ({ text: 'Edited by the matrix' }) },
  deleteStory: { rule: R.authorOfTaskThing, destructive: true },
  likeStory: { rule: R.seeTask, body: () => ({ liked: true }) },

  // Tags
  createTag: once(R.fullMember, { body: (f, n) => ({ name: unique('Matrix tag', n), workspace: f.org }) }),
  createTagForWorkspace: once(R.fullMember, { body: (_f, n) => ({ name: unique('Matrix tag', n) }) }),
  getTags: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  getTagsForWorkspace: once(R.orgMember),
  getTag: { rule: R.seeTag },
  updateTag: { rule: R.editTag, body: () => ({ notes: 'changed by the matrix' }) },
  deleteTag: { rule: R.editTag, destructive: true },
  getTagsForTask: { rule: R.seeTask },

  // Projects
  getProjects: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  createProject: once(R.fullMember, { body: (f) => ({ name: 'Matrix project', workspace: f.org }) }),
  getProject: { rule: R.seeProject },
  updateProject: { rule: R.editProject, body: () => ({ notes: 'changed by the matrix' }) },
  deleteProject: { rule: R.editProject, destructive: true },
  // Duplicating copies into the project's team: a guest outside the team is refused.
  duplicateProject: { rule: (c) => (c.g.project !== 'none' && c.role === 'guest' ? 'denied' : R.seeProject(c)), body: () => ({ name: 'Matrix project copy' }) },
  getProjectsForTeam: once(R.seeTeam),
  createProjectForTeam: once(R.seeTeam, { body: () => ({ name: 'Matrix team project' }) }),
  getProjectsForWorkspace: once(R.orgMember),
  createProjectForWorkspace: once(R.fullMember, { body: () => ({ name: 'Matrix project' }) }),
  addMembersForProject: { rule: R.editProject, body: (f) => ({ members: [f.people.nonMember] }) },
  removeMembersForProject: { rule: R.editProject, body: (f) => ({ members: [f.people.nonMember] }) },
  addFollowersForProject: { rule: R.editProject, body: (f) => ({ followers: [f.people.nonMember] }) },
  removeFollowersForProject: { rule: R.editProject, body: (f) => ({ followers: [f.people.nonMember] }) },
  getProjectMembershipsForProject: { rule: R.seeProject },
  getProjectMembership: { rule: R.seeProject },
  getProjectStatusesForProject: { rule: R.seeProject },
  createProjectStatusForProject: { rule: R.editProject, body: () => ({ title: 'Matrix status', color: 'green' }) },
  getProjectStatus: { rule: R.seeProject },
  deleteProjectStatus: { rule: R.editProject, destructive: true },
  getStatusesForObject: { rule: R.seeProject, query: (f) => ({ parent: f.project }) },
  createStatusForObject: { rule: R.editProject, body: (f) => ({ parent: f.project, text: 'Matrix status', status_type: 'on_track' }) },
  getStatus: { rule: R.seeProject },
  deleteStatus: { rule: R.editProject, destructive: true },

  // Sections
  getSectionsForProject: { rule: R.seeProject },
  createSectionForProject: { rule: R.editProject, body: () => ({ name: 'Matrix section' }) },
  getSection: { rule: R.seeProject },
  updateSection: { rule: R.editProject, body: () => ({ name: 'Renamed by the matrix' }) },
  deleteSection: { rule: R.editProject, destructive: true, params: (f) => ({ section_gid: f.emptySection }) },
  addTaskForSection: { rule: R.editTask, body: (f) => ({ task: f.task2 }) },
  insertSectionForProject: { rule: R.editProject, body: (f) => ({ section: f.emptySection, before_section: f.section }) },
  getTasksForSection: { rule: R.seeProject },

  // Search, My tasks, saved searches
  searchTasksForWorkspace: once(R.orgMember),
  getUserTaskListForUser: once(R.membersTaskList, { query: (f) => ({ workspace: f.org }) }),
  getUserTaskList: once(R.membersTaskList),
  getTasksForUserTaskList: once(R.membersTaskList),
  createSavedSearch: once(R.orgMember, { body: (f) => ({ name: 'Matrix search', workspace: f.org, filters: { text: 'matrix' } }) }),
  getSavedSearches: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  getSavedSearch: once(R.membersOwn),
  updateSavedSearch: once(R.membersOwn, { body: () => ({ name: 'Renamed by the matrix' }) }),
  deleteSavedSearch: once(R.membersOwn, { destructive: true }),
  getTasksForSavedSearch: once(R.membersOwn),

  // Exports (access-controlled: what the caller can see, nothing more)
  exportProjectJson: { rule: R.seeProject },
  exportProjectCsv: { rule: R.seeProject },
  exportMyTasksJson: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  exportMyTasksCsv: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  exportSavedSearchJson: once(R.membersOwn),
  exportSavedSearchCsv: once(R.membersOwn),
  // Asynchronous exports: requested by admins (organization exports also by the exports service account);
  // a job is read and downloaded by its requester (here admin) and the organization's admins.
  createOrganizationExport: once(R.orgRoles('admin', 'super_admin'), { body: (f) => ({ organization: f.org }), serviceAccount: 'ok' }),
  createTeamExport: once(R.orgRoles('admin', 'super_admin')),
  getOrganizationExport: once(R.exportReaders, { serviceAccount: 'ok' }),
  getExport: once(R.exportReaders, { serviceAccount: 'hidden' }),
  downloadExport: once(R.exportReaders, { serviceAccount: 'hidden' }),

  // Attachments (the attachment is on the task)
  createAttachmentForObject: { rule: R.editTask, raw: (f) => multipart({ parent: f.task }, { name: 'file', filename: 'matrix.txt', contentType: 'text/plain', content: 'hello' }) },
  createAttachmentUploadUrl: { rule: R.editTask, body: (f) => ({ parent: f.task, name: 'big.bin', content_type: 'application/octet-stream', size: 10 }) },
  completeAttachmentUpload: { rule: R.editTask },
  getAttachment: { rule: R.seeTask },
  getAttachmentsForObject: { rule: R.seeTask, query: (f) => ({ parent: f.task }) },
  deleteAttachment: { rule: R.editTask, destructive: true },

  // Teams and team memberships
  createTeam: once(R.fullMember, { body: (f, n) => ({ name: unique('Matrix team', n), organization: f.org }) }),
  getTeam: once(R.seeTeam),
  updateTeam: once(R.manageTeam, { body: () => ({ description: 'changed by the matrix' }) }),
  deleteTeam: once(R.manageTeam, { destructive: true }),
  getTeamsForWorkspace: once(R.orgMember),
  getTeamsForUser: once(R.seeMember, { query: (f) => ({ organization: f.org }) }),
  addUserForTeam: once(R.manageTeam, { body: (f) => ({ user: f.people.nonMember }) }),
  removeUserForTeam: once(R.manageTeam, { body: (f) => ({ user: f.people.admin }) }),
  getUsersForTeam: once(R.seeTeam),
  getTeamMemberships: once(R.seeTeam, { query: (f) => ({ team: f.team }) }),
  getTeamMembership: once(R.seeTeam),
  getTeamMembershipsForTeam: once(R.seeTeam),
  getTeamMembershipsForUser: once(R.seeMember, { query: (f) => ({ workspace: f.org }) }),

  // Workspaces and users
  getWorkspaces: once(R.anyUser),
  getWorkspace: once(R.orgMember),
  updateWorkspace: once(R.orgRoles('admin', 'super_admin'), { body: () => ({}) }),
  getUsersForWorkspace: once(R.orgMember),
  addUserForWorkspace: once(R.orgRoles('admin', 'super_admin'), { body: (f) => ({ user: f.people.nonMember }) }),
  removeUserForWorkspace: once(R.orgRoles('admin', 'super_admin'), { destructive: true, body: async (f) => ({ user: await f.get('victim_user_gid') }) }),
  getWorkspaceMembershipsForWorkspace: once(R.orgMember),
  getWorkspaceMembership: once(R.seeMember),
  getWorkspaceMembershipsForUser: once(R.seeMember),
  getUser: once(R.seeMember),
  getUsers: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),

  // Custom fields
  createCustomField: once(R.fullMember, { body: (f, n) => ({ workspace: f.org, name: unique('Matrix field', n), resource_subtype: 'text' }) }),
  getCustomField: { rule: R.seeField },
  updateCustomField: { rule: R.editField, body: () => ({ description: 'changed by the matrix' }) },
  deleteCustomField: { rule: R.editField, destructive: true },
  getCustomFieldsForWorkspace: once(R.orgMember),
  createEnumOptionForCustomField: { rule: R.editField, body: (_f, n) => ({ name: unique('Option', n) }) },
  insertEnumOptionForCustomField: { rule: R.editField, body: (f) => ({ enum_option: f.option2, before_enum_option: f.option }) },
  updateEnumOption: { rule: R.editField, body: () => ({ color: 'blue' }) },
  getCustomFieldSettingsForProject: { rule: R.seeProject },
  addCustomFieldSettingForProject: { rule: R.editProject, destructive: true, body: async (f) => ({ custom_field: await f.get('custom_field_2_gid') }) },
  removeCustomFieldSettingForProject: { rule: R.editProject, destructive: true, body: (f) => ({ custom_field: f.field }) },

  // Messages (the message is posted to the project by member)
  createMessage: { rule: R.addTask, body: (f) => ({ parent: f.project, title: 'Matrix message', text: 'Hello' }) },
  getMessages: { rule: R.seeProject, query: (f) => ({ parent: f.project }) },
  getMessage: { rule: R.seeProject },
  updateMessage: { rule: R.authorOfProjectThing, body: () => ({ text: 'Edited by the matrix' }) },
  deleteMessage: { rule: (c) => (c.g.project === 'none' ? 'hidden' : c.role === 'member' || c.role === 'admin' || c.role === 'superAdmin' ? 'ok' : 'denied'), destructive: true },
  getRepliesForMessage: { rule: R.seeProject },
  createReplyForMessage: { rule: R.addTask, body: () => ({ text: 'A matrix reply' }) },

  // Templates (the project template is member's, in the team, not public)
  projectSaveAsTemplate: { rule: (c) => (c.g.project !== 'none' && !c.full ? 'denied' : R.editProject(c)), body: () => ({ name: 'Matrix template' }) },
  getProjectTemplates: once(R.orgMember, { query: (f) => ({ workspace: f.org }) }),
  getProjectTemplatesForTeam: once(R.seeTeam),
  getProjectTemplate: once(R.membersOwn),
  deleteProjectTemplate: once(R.membersOwn, { destructive: true }),
  instantiateProject: once(R.membersOwn, { body: () => ({ name: 'Matrix instance' }) }),
  createTaskTemplateForProject: { rule: R.editProject, body: (f) => ({ name: 'Matrix task template', task: f.task }) },
  getTaskTemplates: { rule: R.seeProject, query: (f) => ({ project: f.project }) },
  getTaskTemplate: { rule: R.seeProject },
  deleteTaskTemplate: { rule: (c) => (c.g.project === 'none' ? 'hidden' : c.role === 'member' || c.g.project === 'edit' ? 'ok' : 'denied'), destructive: true },
  instantiateTask: { rule: R.addTask, body: () => ({ name: 'Matrix instance task' }) },
};

/**
 * Routes anyone may call without a session. A route whose auth is 'none' and is not
 * listed here fails the matrix: making a route public must be a deliberate decision.
 */
const PUBLIC_ROUTES = new Set([
  'getHealth',
  'getOpenApiDocument',
  'signUp',
  'logIn',
  'acceptInvitation',
  'reportLoginNotMe',
  'showLoginNotMePage',
  'confirmLoginNotMeForm',
  'showInvitationPage',
  'acceptInvitationForm',
  'showPasswordResetPage',
  'completePasswordResetForm',
  'requestPasswordReset',
  'completePasswordReset',
  'startOidcLogin',
  'completeOidcLogin',
  'getSamlServiceProviderMetadata',
  'startSamlLogin',
  'samlAssertionConsumerService',
]);

/**
 * Access bugs found by this matrix and not fixed yet (operationId -> what is wrong; the
 * fix is in the report of the session that found it). Their tests are `test.failing`.
 */
const KNOWN_BUGS: Record<string, string> = {};

// --- The harness -------------------------------------------------------------------------

let h: IdentityHarness;
let org: string;
let people: Record<UserRole, Person>;
let serviceAccountToken: string;
let memberTaskList: string;
let worldCount = 0;
let blobRoot: string | undefined;

beforeAll(async () => {
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  // Attachments and exports sign blob URLs: a real (local) blob store instead of the harness's unused one.
  blobRoot = await mkdtemp(join(tmpdir(), 'authz-matrix-blobs-'));
  h.deps.blobs = new LocalBlobs({ root: blobRoot, baseUrl: 'https://tasks.example.test', secret: 'authz-matrix', clock: h.clock });
  const a = await organizationWithRoles(h, 'Matrix organization');
  const b = await organizationWithRoles(h, 'Another organization');
  org = a.org.gid;
  // Team exports are a paid feature: the matrix organization is on the paid plan (the free plan's 402 is tested in test/exports).
  await h.engine.db.updateTable('organizations').set({ plan: 'paid' }).where('gid', '=', org).execute();
  people = {
    guest: a.guest,
    limited: await person(h, { organizationGid: org, role: 'member', name: 'Limited member' }),
    member: a.member,
    nonMember: await person(h, { organizationGid: org, role: 'member', name: 'Non-member' }),
    admin: a.admin,
    superAdmin: a.superAdmin,
    otherOrg: b.superAdmin,
  };
  serviceAccountToken = (await createServiceAccount(h.deps, { organizationGid: org, name: 'Matrix exporter', scopes: ['exports'], creatorGid: a.superAdmin.gid, ip: '198.51.100.1', userAgent: CHROME_MAC })).token;
  const list = await h.call({ path: `/api/1.0/users/me/user_task_list?workspace=${org}`, token: people.member.token });
  if (list.status !== 200) throw new Error(`setup: My tasks of member: ${list.status} ${JSON.stringify(list.body)}`);
  memberTaskList = list.body.data.gid;
  handler = h.handler;
  for (const s of SCENARIO_NAMES) sharedWorlds.set(s, await buildWorld(s));
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (blobRoot) await rm(blobRoot, { recursive: true, force: true });
});

// --- Fixture worlds ------------------------------------------------------------------------

/** Texts and gids no one outside `allowed` may ever receive. */
interface Secret {
  text: string;
  gid: string;
  allowed: Set<RoleName>;
  what: string;
  world: number;
}
const secrets: Secret[] = [];
const sharedWorlds = new Map<ScenarioName, World>();

interface World {
  n: number;
  scenario: ScenarioName;
  org: string;
  team: string;
  project: string;
  section: string;
  emptySection: string;
  task: string;
  task2: string;
  subtask: string;
  story: string;
  tag: string;
  field: string;
  option: string;
  option2: string;
  status: string;
  people: Record<UserRole, string>;
  /** A fixture by path parameter name (or one of the extra names), created on first use. */
  get(name: string): Promise<string>;
}

const grantsOf = (scenario: ScenarioName, role: RoleName): Grants => SCENARIOS[scenario].grants[role] ?? NO_GRANTS;

async function buildWorld(scenario: ScenarioName): Promise<World> {
  const def = SCENARIOS[scenario];
  const n = ++worldCount;
  const db = h.engine.db;
  const now = h.clock.now();
  const gid = () => h.deps.ids.gid();
  const tag = `W${n}-${scenario}`;
  const name = (what: string) => `SECRET ${what} of ${tag}`;

  const team = await insertTeam(h, org, { visibility: 'request_to_join', members: [{ gid: people.member.gid }, { gid: people.limited.gid, limited: true }], name: `Team of ${tag}` });
  const project = await insertProject(h, org, {
    team,
    privacy: def.privacy,
    name: name('project'),
    members: def.members.map(([role, access]) => ({ gid: people[role].gid, access })),
    ...(def.owner ? { owner: people[def.owner].gid } : {}),
  });
  const section = await insertSection(h, project, name('section'), 1);
  const emptySection = await insertSection(h, project, name('empty section'), 2);
  const { task, task2, subtask } = await taskTrio(h, { organizationGid: org, project, section, createdBy: people.member.gid, names: { task: name('task'), notes: name('notes'), second: name('second task'), subtask: name('subtask') } });
  const story = gid();
  await db.insertInto('stories').values({ gid: story, task_gid: task, text: name('comment'), created_by: people.member.gid, created_at: now, modified_at: now }).execute();
  const tagGid = gid();
  await db.insertInto('tags').values({ gid: tagGid, organization_gid: org, name: name('tag'), created_by: people.member.gid, created_at: now }).execute();
  await db.insertInto('task_tags').values({ task_gid: task, tag_gid: tagGid, added_at: now }).execute();
  const [field, option, option2] = [gid(), gid(), gid()];
  await db.insertInto('custom_fields').values({ gid: field, organization_gid: org, name: name('field'), resource_subtype: 'enum', created_by: people.member.gid, created_at: now }).execute();
  await db
    .insertInto('custom_field_enum_options')
    .values([
      { gid: option, custom_field_gid: field, name: name('option'), position: 1 },
      { gid: option2, custom_field_gid: field, name: name('second option'), position: 2 },
    ])
    .execute();
  await db.insertInto('project_custom_field_settings').values({ gid: gid(), project_gid: project, custom_field_gid: field, position: 1 }).execute();
  const status = gid();
  await db.insertInto('project_statuses').values({ gid: status, project_gid: project, title: name('status'), text: name('status text'), status_type: 'on_track', author_gid: people.member.gid, created_at: now, modified_at: now }).execute();

  const who = (kind: 'project' | 'task' | 'tag' | 'field') =>
    new Set<RoleName>(
      (['guest', 'limited', 'member', 'nonMember', 'admin', 'superAdmin'] as const).filter((r) => {
        const grants = grantsOf(scenario, r);
        if (kind === 'project') return grants.project !== 'none';
        if (kind === 'task') return grants.task !== 'none';
        if (kind === 'tag') return FULL_ROLES.includes(r) || grants.task !== 'none';
        return FULL_ROLES.includes(r) || grants.project !== 'none';
      }),
    );
  const seesProject = who('project');
  const seesTask = who('task');
  const secret = (text: string, g: string, allowed: Set<RoleName>, what: string) => secrets.push({ text, gid: g, allowed, what, world: n });
  secret(name('project'), project, seesProject, 'project');
  secret(name('section'), section, seesProject, 'section');
  secret(name('empty section'), emptySection, seesProject, 'section');
  secret(name('status'), status, seesProject, 'status update');
  secret(name('task'), task, seesTask, 'task');
  secret(name('notes'), '', seesTask, 'task notes');
  secret(name('second task'), task2, seesTask, 'task');
  secret(name('subtask'), subtask, seesTask, 'subtask');
  secret(name('comment'), story, seesTask, 'comment');
  secret(name('tag'), tagGid, who('tag'), 'tag');
  secret(name('field'), field, who('field'), 'custom field');

  const peopleGids = Object.fromEntries(Object.entries(people).map(([k, p]) => [k, p.gid])) as Record<UserRole, string>;
  const lazy = new Map<string, Promise<string>>();
  const world: World = {
    n,
    scenario,
    org,
    team,
    project,
    section,
    emptySection,
    task,
    task2,
    subtask,
    story,
    tag: tagGid,
    field,
    option,
    option2,
    status,
    people: peopleGids,
    get(key) {
      const direct = FIXTURES[key];
      if (!direct) return Promise.reject(new MissingFixture(key));
      if (!lazy.has(key)) lazy.set(key, Promise.resolve(direct(world)));
      return lazy.get(key)!;
    },
  };
  return world;
}

/** A finished export job of the organization requested by admin, with its file. */
async function finishedExport(w: World, kind: 'organization' | 'team_csv'): Promise<string> {
  const g = h.deps.ids.gid();
  const now = h.clock.now();
  const key = `exports/jobs/${w.org}/${g}.${kind === 'organization' ? 'json.gz' : 'csv'}`;
  await h.deps.blobs.put(key, 'export bytes');
  const manifest = { counts: {}, bytes: 12, source_bytes: 12, sha256: '0'.repeat(64), content_type: 'text/csv; charset=utf-8', gzip: kind === 'organization', filename: `Matrix ${w.n}.csv` };
  await h.engine.db
    .insertInto('export_jobs')
    .values({ gid: g, organization_gid: w.org, kind, state: 'finished', requested_by_user: w.people.admin, base_url: 'https://tasks.example.test', created_at: now, modified_at: now, finished_at: now, expires_at: new Date(now.getTime() + 7 * 86_400_000), blob_key: key, manifest: JSON.stringify(manifest) })
    .execute();
  return g;
}

class MissingFixture extends Error {
  constructor(readonly param: string) {
    super(`no fixture for {${param}}`);
  }
}

/**
 * A fixture for each path parameter name (and a few extra objects bodies use). A route
 * with a parameter not listed here fails the matrix until one is added.
 */
const FIXTURES: Record<string, (w: World) => string | Promise<string>> = {
  workspace_gid: (w) => w.org,
  organization_gid: (w) => w.org,
  org_gid: (w) => w.org,
  team_gid: (w) => w.team,
  project_gid: (w) => w.project,
  section_gid: (w) => w.section,
  task_gid: (w) => w.task,
  story_gid: (w) => w.story,
  tag_gid: (w) => w.tag,
  custom_field_gid: (w) => w.field,
  enum_option_gid: (w) => w.option,
  project_status_gid: (w) => w.status,
  status_update_gid: (w) => w.status,
  user_gid: (w) => w.people.member,
  user_task_list_gid: () => memberTaskList,
  project_membership_gid: async (w) => (await h.engine.db.selectFrom('project_memberships').select('gid').where('project_gid', '=', w.project).orderBy('created_at').executeTakeFirstOrThrow()).gid,
  team_membership_gid: async (w) => (await h.engine.db.selectFrom('team_memberships').select('gid').where('team_gid', '=', w.team).where('user_gid', '=', w.people.member).executeTakeFirstOrThrow()).gid,
  workspace_membership_gid: async (w) => (await h.engine.db.selectFrom('organization_memberships').select('gid').where('organization_gid', '=', w.org).where('user_gid', '=', w.people.member).executeTakeFirstOrThrow()).gid,
  saved_search_gid: async (w) => {
    const g = h.deps.ids.gid();
    const now = h.clock.now();
    await h.engine.db.insertInto('saved_searches').values({ gid: g, organization_gid: w.org, owner_gid: w.people.member, name: `Saved search of world ${w.n}`, filters: JSON.stringify({ text: 'secret' }), created_at: now, modified_at: now }).execute();
    return g;
  },
  session_gid: async () => {
    const user = (await userRepo.findByEmail(h.engine.db, people.member.email))!;
    return (await completeLogin(h.deps, { user, method: 'signup', ctx: { ip: '198.51.100.2', userAgent: CHROME_MAC, baseUrl: 'https://tasks.example.test' } })).sessionGid;
  },
  service_account_gid: async (w) => (await createServiceAccount(h.deps, { organizationGid: w.org, name: `Revocable ${w.n}`, scopes: ['exports'], creatorGid: people.superAdmin.gid, ip: '198.51.100.1', userAgent: CHROME_MAC })).gid,
  attachment_gid: async (w) => {
    const g = h.deps.ids.gid();
    await h.engine.db.insertInto('attachments').values({ gid: g, organization_gid: w.org, parent_type: 'task', parent_gid: w.task, name: `SECRET attachment of W${w.n}-${w.scenario}`, content_type: 'text/plain', size: 5, blob_key: `matrix/${g}`, created_by: w.people.member, created_at: h.clock.now() }).execute();
    const seesTask = new Set<RoleName>((['guest', 'limited', 'member', 'nonMember', 'admin', 'superAdmin'] as const).filter((r) => grantsOf(w.scenario, r).task !== 'none'));
    secrets.push({ text: `SECRET attachment of W${w.n}-${w.scenario}`, gid: g, allowed: seesTask, what: 'attachment', world: w.n });
    return g;
  },
  message_gid: async (w) => {
    const g = h.deps.ids.gid();
    const now = h.clock.now();
    await h.engine.db.insertInto('messages').values({ gid: g, organization_gid: w.org, parent_type: 'project', parent_gid: w.project, title: `Message of W${w.n}`, text: `SECRET message of W${w.n}-${w.scenario}`, author_gid: w.people.member, created_at: now, modified_at: now }).execute();
    const seesProject = new Set<RoleName>((['guest', 'limited', 'member', 'nonMember', 'admin', 'superAdmin'] as const).filter((r) => grantsOf(w.scenario, r).project !== 'none'));
    secrets.push({ text: `SECRET message of W${w.n}-${w.scenario}`, gid: g, allowed: seesProject, what: 'message', world: w.n });
    return g;
  },
  project_template_gid: async (w) => {
    const g = h.deps.ids.gid();
    const template = { version: 1, color: null, default_view: 'list', privacy_setting: 'private', relative_start_on: null, relative_due_on: null, requested_dates: [], sections: [{ name: 'Doing' }], tasks: [], custom_field_settings: [] };
    await h.engine.db.insertInto('project_templates').values({ gid: g, organization_gid: w.org, team_gid: w.team, name: `Template of W${w.n}`, owner_gid: w.people.member, is_public: false, template: JSON.stringify(template), created_at: h.clock.now() }).execute();
    return g;
  },
  task_template_gid: async (w) => {
    const g = h.deps.ids.gid();
    const template = { version: 1, name: 'From a template', notes: '', resource_subtype: 'default_task', section: null, relative_start_on: null, relative_due_on: null, subtasks: [] };
    await h.engine.db.insertInto('task_templates').values({ gid: g, project_gid: w.project, name: `Task template of W${w.n}`, template: JSON.stringify(template), created_by: w.people.member, created_at: h.clock.now() }).execute();
    return g;
  },
  custom_field_2_gid: async (w) => {
    const g = h.deps.ids.gid();
    await h.engine.db.insertInto('custom_fields').values({ gid: g, organization_gid: w.org, name: `Second field of W${w.n}`, resource_subtype: 'text', created_at: h.clock.now() }).execute();
    return g;
  },
  organization_export_gid: (w) => finishedExport(w, 'organization'),
  export_gid: (w) => finishedExport(w, 'team_csv'),
  victim_user_gid: async () => (await person(h, { organizationGid: org, role: 'member', name: 'Removable member' })).gid,
};

// --- Calling -------------------------------------------------------------------------------

function tokenOf(role: RoleName): string | undefined {
  if (role === 'anonymous') return undefined;
  if (role === 'serviceAccount') return serviceAccountToken;
  return people[role].token;
}

async function freshToken(role: RoleName): Promise<string | undefined> {
  if (role === 'anonymous' || role === 'serviceAccount') return tokenOf(role);
  const user = (await userRepo.findByEmail(h.engine.db, people[role].email))!;
  return (await completeLogin(h.deps, { user, method: 'signup', ctx: { ip: '198.51.100.3', userAgent: CHROME_MAC, baseUrl: 'https://tasks.example.test' } })).token;
}

const pathParams = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

interface Prepared {
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
}

let sampleCounter = 0;

async function prepare(route: RouteDef, spec: Spec | undefined, w: World): Promise<Prepared> {
  const n = ++sampleCounter;
  const overrides = spec?.params ? await spec.params(w, n) : {};
  let path = fullPath(route);
  for (const p of pathParams(route.path)) path = path.replace(`{${p}}`, encodeURIComponent(overrides[p] ?? (await w.get(p))));
  const query = spec?.query ? await spec.query(w, n) : {};
  const qs = new URLSearchParams(query).toString();
  const prepared: Prepared = { method: route.method, path: qs ? `${path}?${qs}` : path };
  if (spec?.raw) {
    const raw = await spec.raw(w, n);
    prepared.body = raw.body;
    prepared.contentType = raw.contentType;
  } else if (route.request.body) prepared.body = { data: spec?.body ? await spec.body(w, n) : {} };
  return prepared;
}

/** The handler the matrix calls: the harness's, or one that also serves the pending routes. */
let handler: ApiHandler;

async function send(p: Prepared, token: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = { 'User-Agent': CHROME_MAC };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (p.contentType) headers['Content-Type'] = p.contentType;
  const result = await handler(apiEvent({ method: p.method, path: p.path, headers, body: p.body, sourceIp: '198.51.100.7' }));
  let body: unknown = null;
  try {
    body = result.body ? JSON.parse(result.body) : null;
  } catch {
    body = result.body; // HTML pages, metadata documents
  }
  return { status: result.statusCode, body, headers: {} };
}

function matches(expect: Expect, status: number): boolean {
  switch (expect) {
    case 'ok':
      // A redirect to the thing asked for (an export download) is a success too.
      return (status >= 200 && status < 300) || status === 302;
    case 'hidden':
      return status === 404;
    case 'denied':
      return status === 403 || status === 404;
    case 'forbidden':
      return status === 403;
    case 'unauth':
      return status === 401;
    case 'any':
      return status < 500;
  }
}

/** Names (anywhere) and gids (in successful answers, unless the request named them) the role may not receive. */
function leaks(role: RoleName, p: Prepared, res: Answer): string[] {
  const text = JSON.stringify(res.body ?? '');
  const asked = `${p.path} ${JSON.stringify(p.body ?? '')}`;
  const found: string[] = [];
  for (const s of secrets) {
    if (s.allowed.has(role)) continue;
    if (text.includes(s.text)) found.push(`the ${s.what} name "${s.text}"`);
    else if (s.gid && res.status < 300 && text.includes(`"${s.gid}"`) && !asked.includes(s.gid)) found.push(`the gid of the ${s.what} "${s.text}"`);
  }
  return found;
}

/** Row counts of every table a refused call could change, and the transaction id they started at. */
const STATE_TABLES = [
  'organizations',
  'organization_memberships',
  'users',
  'sessions',
  'service_accounts',
  'one_time_tokens',
  'outbox_messages',
  'teams',
  'team_memberships',
  'projects',
  'project_memberships',
  'project_followers',
  'project_statuses',
  'sections',
  'tasks',
  'task_ancestors',
  'task_projects',
  'task_followers',
  'task_likes',
  'tags',
  'task_tags',
  'stories',
  'story_likes',
  'custom_fields',
  'custom_field_enum_options',
  'project_custom_field_settings',
  'task_custom_field_values',
  'attachments',
  'messages',
  'project_templates',
  'task_templates',
  'user_task_lists',
  'saved_searches',
] as const;

// --- Running one route ---------------------------------------------------------------------

const coverage = { routes: 0, calls: 0, cells: new Set<string>() };

function contextFor(role: UserRole, scenario: ScenarioName): Ctx {
  const orgRole = ORG_ROLE[role];
  return { role, scenario, inOrg: orgRole !== null, full: orgRole !== null && orgRole !== 'guest', orgRole, g: grantsOf(scenario, role) };
}

function expectationFor(route: RouteDef, spec: Spec, role: RoleName, scenario: ScenarioName): Expect {
  if (route.auth !== 'none' && role === 'anonymous') return 'unauth';
  if (role === 'serviceAccount') {
    if (route.auth === 'user') return 'forbidden';
    if (spec.serviceAccount === undefined) throw new Error(`${route.operationId} accepts service accounts (auth 'principal'): say what the organization's service account gets (serviceAccount in its EXPECTATIONS entry)`);
    return spec.serviceAccount;
  }
  return spec.rule(contextFor(role as UserRole, scenario));
}

function describeAnswer(res: Answer): string {
  const body = JSON.stringify(res.body ?? '');
  return `${res.status} ${body.length > 160 ? `${body.slice(0, 160)}…` : body}`;
}

async function runPublicRoute(route: RouteDef): Promise<string[]> {
  const failures: string[] = [];
  const w = sharedWorlds.get(SCENARIO_NAMES[0]!)!;
  const answers: Answer[] = [];
  for (const role of ['anonymous', 'member'] as const) {
    const p = await prepare(route, undefined, w);
    const res = await send(p, tokenOf(role));
    coverage.calls++;
    coverage.cells.add(`${route.operationId}:${role}`);
    answers.push(res);
    if (res.status >= 500) failures.push(`${role}: public route failed: ${describeAnswer(res)}`);
    for (const l of leaks(role, p, res)) failures.push(`${role}: LEAK of ${l}`);
  }
  if (route.method === 'GET' && answers[0]!.status !== answers[1]!.status) failures.push(`a public GET answers differently with a session (${answers[0]!.status} anonymous, ${answers[1]!.status} with a session)`);
  return failures;
}

async function check(route: RouteDef, spec: Spec, role: RoleName, scenario: ScenarioName, w: World, failures: string[]) {
  const expected = expectationFor(route, spec, role, scenario);
  const p = await prepare(route, spec, w);
  const token = spec.freshSession ? await freshToken(role) : tokenOf(role);
  const res = await send(p, token);
  coverage.calls++;
  coverage.cells.add(`${route.operationId}:${role}`);
  const where = `[${scenario}] ${role}`;
  if (!matches(expected, res.status)) failures.push(`${where}: expected ${expected}, got ${describeAnswer(res)}`);
  for (const l of leaks(role, p, res)) failures.push(`${where}: LEAK of ${l} (status ${res.status})`);
  return expected;
}

async function runRoute(route: RouteDef): Promise<string[]> {
  const missing = pathParams(route.path).filter((p) => !FIXTURES[p]);
  const spec = EXPECTATIONS[route.operationId];
  const overrides = spec?.params ? Object.keys(await spec.params(sharedWorlds.get('private')!, 0)) : [];
  const unfixed = missing.filter((p) => !overrides.includes(p));
  if (unfixed.length) {
    throw new Error(`${route.method} ${route.path} (${route.operationId}): no fixture for path parameter(s) ${unfixed.map((p) => `{${p}}`).join(', ')}. Add one to FIXTURES in test/security/authz-matrix.test.ts (keyed by parameter name).`);
  }
  if (route.auth === 'none') {
    if (!PUBLIC_ROUTES.has(route.operationId)) {
      throw new Error(`${route.method} ${route.path} (${route.operationId}) needs no session (auth 'none'). If it must be public, add it to PUBLIC_ROUTES in test/security/authz-matrix.test.ts; otherwise give it auth 'user' or 'principal'.`);
    }
    return runPublicRoute(route);
  }
  if (!spec) {
    throw new Error(
      `${route.method} ${route.path} (${route.operationId}) has no expectation. Add an entry to EXPECTATIONS in test/security/authz-matrix.test.ts: who may call it (a rule over role and scenario), and a sample body/query if it needs one.`,
    );
  }
  const failures: string[] = [];
  const scenarios = spec.once ? [SCENARIO_NAMES[0]!] : SCENARIO_NAMES;
  for (const [i, scenario] of scenarios.entries()) {
    // Outsiders get the same answer in every scenario: asked in the first one only.
    const roles = i === 0 ? ROLES : ROLES.filter((r) => !OUTSIDERS.includes(r));
    if (route.method === 'GET') {
      const w = sharedWorlds.get(scenario)!;
      for (const role of roles) await check(route, spec, role, scenario, w, failures);
      continue;
    }
    // A mutating route: refused calls first, on a fresh world, and they must change nothing.
    let w = await buildWorld(scenario);
    await prepare(route, spec, w); // creates the lazy fixtures before the state is marked
    const refused = roles.filter((r) => !['ok', 'any'].includes(expectationFor(route, spec, r, scenario)));
    const allowed = roles.filter((r) => !refused.includes(r));
    const mark = await stateMark(h, STATE_TABLES);
    for (const role of refused) await check(route, spec, role, scenario, w, failures);
    const changes = await stateChanges(h, mark);
    if (changes.length) {
      // Find who changed what, each on a world of its own.
      for (const role of refused) {
        const own = await buildWorld(scenario);
        await prepare(route, spec, own);
        const m = await stateMark(h, STATE_TABLES);
        await check(route, spec, role, scenario, own, []);
        const c = await stateChanges(h, m);
        if (c.length) failures.push(`[${scenario}] ${role}: a refused call changed state: ${c.join('; ')}`);
      }
      if (!failures.some((f) => f.includes('refused call changed state'))) failures.push(`[${scenario}] refused calls changed state: ${changes.join('; ')}`);
    }
    for (const [i, role] of allowed.entries()) {
      if (i > 0 && spec.destructive) w = await buildWorld(scenario);
      await check(route, spec, role, scenario, w, failures);
      // This world's secrets may now be known to more people (members added, tasks moved).
      for (const s of secrets) if (s.world === w.n) s.allowed = new Set(ROLES);
    }
  }
  return failures;
}

// --- The tests -----------------------------------------------------------------------------

async function pendingRoutes(): Promise<RouteDef[]> {
  if (process.env.AUTHZ_MATRIX_PENDING !== '1') return [];
  return pendingRoutesFrom(['teams', 'teamRoutes'], ['workspaces', 'workspaceRoutes'], ['custom-fields', 'customFieldRoutes'], ['messages', 'messageRoutes'], ['templates', 'templateRoutes'], ['attachments', 'attachmentRoutes']);
}

const registered = liveRoutes.filter((r) => r.scope === 'api');
const apiRoutes = registered;
const extra: RouteDef[] = [];

describe('authorization matrix: every API route x every role', () => {
  beforeAll(async () => {
    const known = new Set(registered.map((r) => r.operationId));
    for (const r of await pendingRoutes()) if (!known.has(r.operationId)) extra.push(r);
    if (extra.length) {
      // Unregistered routes are served by a handler built with them (identityHarness's extraRoutes).
      handler = createApiHandler(h.deps, [...liveRoutes, ...extra]);
    }
  });

  test('the route table is not empty and every route has a unique operationId', () => {
    expect(apiRoutes.length).toBeGreaterThan(50);
    const ids = apiRoutes.map((r) => r.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  // Reads first, then writes (each write gets fresh worlds anyway).
  const ordered = [...apiRoutes].sort((a, b) => Number(a.method !== 'GET') - Number(b.method !== 'GET'));
  for (const route of ordered) {
    const title = `${route.method} ${route.path} (${route.operationId})`;
    const bug = KNOWN_BUGS[route.operationId];
    const run = async () => {
      const failures = await runRoute(route);
      coverage.routes++;
      if (failures.length) throw new Error(`${title}:\n  ${failures.join('\n  ')}`);
    };
    if (bug) test.failing(`KNOWN ACCESS BUG (remove from KNOWN_BUGS once fixed): ${title}: ${bug}`, run, 120_000);
    else test(title, run, 120_000);
  }

  test('pending (unregistered) route modules, when AUTHZ_MATRIX_PENDING=1', async () => {
    const failures: string[] = [];
    for (const route of extra) {
      try {
        const f = await runRoute(route);
        coverage.routes++;
        if (f.length) failures.push(`${route.method} ${route.path} (${route.operationId}):\n    ${f.join('\n    ')}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    if (failures.length) throw new Error(failures.join('\n'));
  }, 600_000);

  test('coverage report', () => {
    const total = apiRoutes.length + extra.length;
    process.stdout.write(`authz matrix: ${coverage.routes}/${total} routes run, ${coverage.cells.size} route x role cells, ${coverage.calls} calls, ${worldCount} fixture worlds\n`);
    expect(coverage.cells.size).toBeGreaterThan(0);
  });
});

// --- Access bugs the generated matrix does not reach ---------------------------------------
//
// Each is the expectation the access rules demand, marked `test.failing` while the bug is
// there (the fix is in the report that found it). Once fixed, the test fails: turn it
// into a plain `test`.

describe('access regressions outside the generated matrix', () => {
  /** A handler serving the live routes plus, if not registered yet, the pending module that has `operationId`. */
  async function handlerWith(operationId: string): Promise<ApiHandler> {
    if (liveRoutes.some((r) => r.operationId === operationId)) return h.handler;
    const pending = (await pendingRoutesFrom(['teams', 'teamRoutes'])).filter((r) => !liveRoutes.some((l) => l.operationId === r.operationId));
    return createApiHandler(h.deps, [...liveRoutes, ...pending]);
  }
  const call = async (via: ApiHandler, token: string, method: string, path: string, data?: unknown) => {
    const saved = handler;
    handler = via;
    try {
      return await send({ method, path: `/api/1.0${path}`, ...(data === undefined ? {} : { body: { data } }) }, token);
    } finally {
      handler = saved;
    }
  };

  test('removeProject cannot take a task out of a private project the caller cannot see (404, nothing changes)', async () => {
    const secret = await insertProject(h, org, { privacy: 'private', members: [{ gid: people.member.gid }], name: 'Secret board' });
    const open = await insertProject(h, org, { name: 'Open board' });
    const task = (await call(h.handler, people.member.token, 'POST', '/tasks', { name: 'Shared task', projects: [open, secret] })).body.data.gid as string;
    const res = await call(h.handler, people.nonMember.token, 'POST', `/tasks/${task}/removeProject`, { project: secret });
    const still = await h.engine.db.selectFrom('task_projects').select('project_gid').where('task_gid', '=', task).where('project_gid', '=', secret).executeTakeFirst();
    expect({ status: res.status, stillInSecretProject: still !== undefined }).toEqual({ status: 404, stillInSecretProject: true });
  });

  test('GET /tasks?section= of a private project is 404 to non-members, as for ?project=', async () => {
    const w = sharedWorlds.get('private')!;
    const bySection = await call(h.handler, people.nonMember.token, 'GET', `/tasks?section=${w.section}`);
    const byProject = await call(h.handler, people.nonMember.token, 'GET', `/tasks?project=${w.project}`);
    expect({ bySection: bySection.status, byProject: byProject.status }).toEqual({ bySection: 404, byProject: 404 });
  });

  test('restoring a task deleted over 30 days ago is 404 to those who could not see it (no 410 oracle)', async () => {
    const w = await buildWorld('private');
    const longAgo = new Date(h.clock.now().getTime() - 31 * 86_400_000);
    await h.engine.db.updateTable('tasks').set({ deleted_at: longAgo }).where('gid', '=', w.task2).execute();
    const outsider = await call(h.handler, people.nonMember.token, 'POST', `/tasks/${w.task2}/restore`);
    const owner = await call(h.handler, people.member.token, 'POST', `/tasks/${w.task2}/restore`);
    expect({ nonMember: outsider.status, member: owner.status }).toEqual({ nonMember: 404, member: 410 });
  });

  test('a limited-access member of a public team cannot lift their own limitation with addUser (403, still no access)', async () => {
    const via = await handlerWith('addUserForTeam');
    const team = await insertTeam(h, org, { visibility: 'public', members: [{ gid: people.member.gid }, { gid: people.limited.gid, limited: true }], name: 'Public team' });
    const teamOnly = await insertProject(h, org, { team, privacy: 'private_to_team', name: 'Team-only roadmap' });
    const before = await call(via, people.limited.token, 'GET', `/projects/${teamOnly}`);
    const res = await call(via, people.limited.token, 'POST', `/teams/${team}/addUser`, { user: people.limited.gid, is_limited_access: false });
    const after = await call(via, people.limited.token, 'GET', `/projects/${teamOnly}`);
    const row = await h.engine.db.selectFrom('team_memberships').select('is_limited_access').where('team_gid', '=', team).where('user_gid', '=', people.limited.gid).executeTakeFirstOrThrow();
    expect({ before: before.status, addUser: res.status, stillLimited: row.is_limited_access, after: after.status }).toEqual({ before: 404, addUser: 403, stillLimited: true, after: 404 });
  });

  test("a project's full representation does not name its secret team to people who may not see the team", async () => {
    const team = await insertTeam(h, org, { visibility: 'secret', members: [{ gid: people.member.gid }], name: 'SECRET team: acquisition of Initech' });
    const p = await insertProject(h, org, { team, privacy: 'public_to_workspace', name: 'Office move' });
    const asTeamMember = await call(h.handler, people.member.token, 'GET', `/projects/${p}`);
    const asNonMember = await call(h.handler, people.nonMember.token, 'GET', `/projects/${p}`);
    const listed = await call(h.handler, people.nonMember.token, 'GET', `/workspaces/${org}/projects?opt_fields=team.name&limit=100`);
    expect(JSON.stringify(asTeamMember.body)).toContain('acquisition of Initech');
    expect({ get: JSON.stringify(asNonMember.body).includes('acquisition of Initech'), list: JSON.stringify(listed.body).includes('acquisition of Initech') }).toEqual({ get: false, list: false });
  });
});

async function pendingRoutesFrom(...modules: [string, string][]): Promise<RouteDef[]> {
  const out: RouteDef[] = [];
  for (const [file, name] of modules) {
    const path = `../../lambdas/http/routes/${file}.js`;
    const mod = (await import(path)) as Record<string, RouteDef[]>;
    out.push(...(mod[name] ?? []));
  }
  return out;
}
