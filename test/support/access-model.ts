/**
 * A reference implementation of the access rules ("Members and guests"), written from
 * the rules stated in lambdas/domain/access/policy.ts's header comment and issue 4, as
 * a small pure function of a world held in memory. It deliberately shares no code (and
 * no SQL) with the policy module: the property test in
 * test/security/access-property.test.ts compares the two on random worlds.
 *
 * The rules, as implemented here:
 * - Nobody outside the organization sees anything in it.
 * - A project is never visible when it is deleted or its team is deleted.
 * - Anyone (guests included) sees a project they were added to (any access level).
 * - Full members (member, admin, super_admin) also see public_to_workspace projects, and
 *   private_to_team projects of teams they are full (not limited-access) members of.
 *   Being an admin or super admin adds nothing: private projects are for their members.
 * - A task is visible when it is not deleted and it, or one of its ancestors that is not
 *   deleted, is assigned to the viewer, followed by the viewer, or in a project the
 *   viewer can see. So a task in no project is private to its assignee and followers
 *   (and theirs of its ancestors), and subtasks come with their parent.
 * - Lists show exactly the visible objects; a visible task shows only its visible
 *   projects and only a visible parent.
 */

export type OrgRole = 'super_admin' | 'admin' | 'member' | 'guest';
export type Privacy = 'public_to_workspace' | 'private_to_team' | 'private';
export type TeamVisibility = 'public' | 'request_to_join' | 'secret';
export type AccessLevel = 'admin' | 'editor' | 'commenter' | 'viewer';

export interface ModelUser {
  id: string;
  /** The role in the world's organization; null: not a member of it. */
  role: OrgRole | null;
}

export interface ModelTeam {
  id: string;
  visibility: TeamVisibility;
  deleted: boolean;
  members: { user: string; limited: boolean }[];
}

export interface ModelProject {
  id: string;
  team: string | null;
  privacy: Privacy;
  deleted: boolean;
  members: { user: string; access: AccessLevel }[];
}

export interface ModelTask {
  id: string;
  /** The parent task (it must come earlier in `tasks`), or null. */
  parent: string | null;
  projects: string[];
  assignee: string | null;
  followers: string[];
  deleted: boolean;
}

/** One organization's work graph, as the reference sees it. */
export interface ModelWorld {
  users: ModelUser[];
  teams: ModelTeam[];
  projects: ModelProject[];
  tasks: ModelTask[];
}

const byId = <T extends { id: string }>(list: T[], id: string): T | undefined => list.find((x) => x.id === id);

export function roleOf(world: ModelWorld, userId: string): OrgRole | null {
  return byId(world.users, userId)?.role ?? null;
}

export const isFullMemberRole = (role: OrgRole | null): boolean => role === 'member' || role === 'admin' || role === 'super_admin';

export function canSeeProject(world: ModelWorld, userId: string, projectId: string): boolean {
  const role = roleOf(world, userId);
  const project = byId(world.projects, projectId);
  if (!role || !project || project.deleted) return false;
  const team = project.team ? byId(world.teams, project.team) : undefined;
  if (team?.deleted) return false;
  if (project.members.some((m) => m.user === userId)) return true;
  if (!isFullMemberRole(role)) return false;
  if (project.privacy === 'public_to_workspace') return true;
  if (project.privacy === 'private_to_team' && team) return team.members.some((m) => m.user === userId && !m.limited);
  return false;
}

/** The task and its ancestors, nearest first (stops on a cycle, which worlds never have). */
export function ancestorsAndSelf(world: ModelWorld, taskId: string): ModelTask[] {
  const out: ModelTask[] = [];
  let current = byId(world.tasks, taskId);
  while (current && !out.includes(current)) {
    out.push(current);
    current = current.parent ? byId(world.tasks, current.parent) : undefined;
  }
  return out;
}

export function canSeeTask(world: ModelWorld, userId: string, taskId: string): boolean {
  const task = byId(world.tasks, taskId);
  if (!roleOf(world, userId) || !task || task.deleted) return false;
  return ancestorsAndSelf(world, taskId).some(
    (a) => !a.deleted && (a.assignee === userId || a.followers.includes(userId) || a.projects.some((p) => canSeeProject(world, userId, p))),
  );
}

export function canSeeTeam(world: ModelWorld, userId: string, teamId: string): boolean {
  const role = roleOf(world, userId);
  const team = byId(world.teams, teamId);
  if (!role || !team || team.deleted) return false;
  if (team.members.some((m) => m.user === userId)) return true;
  return isFullMemberRole(role) && team.visibility !== 'secret';
}

// --- What lists must answer --------------------------------------------------------------

export const visibleProjects = (world: ModelWorld, userId: string): string[] => world.projects.filter((p) => canSeeProject(world, userId, p.id)).map((p) => p.id);

export const visibleTasks = (world: ModelWorld, userId: string): string[] => world.tasks.filter((t) => canSeeTask(world, userId, t.id)).map((t) => t.id);

/** GET /projects/{gid}/tasks: null (404) when the project is invisible; else its visible tasks. */
export function projectTaskList(world: ModelWorld, userId: string, projectId: string): string[] | null {
  if (!canSeeProject(world, userId, projectId)) return null;
  return world.tasks.filter((t) => t.projects.includes(projectId) && canSeeTask(world, userId, t.id)).map((t) => t.id);
}

/** GET /tasks/{gid}/subtasks: null (404) when the task is invisible; else its visible children. */
export function subtaskList(world: ModelWorld, userId: string, taskId: string): string[] | null {
  if (!canSeeTask(world, userId, taskId)) return null;
  return world.tasks.filter((t) => t.parent === taskId && canSeeTask(world, userId, t.id)).map((t) => t.id);
}

/** My tasks: the visible tasks assigned to the user. */
export const myTaskList = (world: ModelWorld, userId: string): string[] => world.tasks.filter((t) => t.assignee === userId && canSeeTask(world, userId, t.id)).map((t) => t.id);

/** What the full representation of a visible task may show: its visible projects and its parent when visible. */
export function taskView(world: ModelWorld, userId: string, taskId: string): { projects: string[]; parent: string | null; numSubtasks: number } | null {
  const task = byId(world.tasks, taskId);
  if (!task || !canSeeTask(world, userId, taskId)) return null;
  return {
    projects: task.projects.filter((p) => canSeeProject(world, userId, p)),
    parent: task.parent && canSeeTask(world, userId, task.parent) ? task.parent : null,
    numSubtasks: world.tasks.filter((t) => t.parent === taskId && canSeeTask(world, userId, t.id)).length,
  };
}

/** A readable one-line-per-object rendering of a world (for shrunk counterexamples). */
export function describeWorld(world: ModelWorld): string {
  const lines: string[] = [];
  for (const u of world.users) lines.push(`user ${u.id}: ${u.role ?? 'not in the organization'}`);
  for (const t of world.teams) lines.push(`team ${t.id}: ${t.visibility}${t.deleted ? ' DELETED' : ''} members=[${t.members.map((m) => `${m.user}${m.limited ? '(limited)' : ''}`).join(', ')}]`);
  for (const p of world.projects) lines.push(`project ${p.id}: ${p.privacy} team=${p.team ?? '-'}${p.deleted ? ' DELETED' : ''} members=[${p.members.map((m) => `${m.user}:${m.access}`).join(', ')}]`);
  for (const t of world.tasks) {
    lines.push(`task ${t.id}: parent=${t.parent ?? '-'} projects=[${t.projects.join(', ')}] assignee=${t.assignee ?? '-'} followers=[${t.followers.join(', ')}]${t.deleted ? ' DELETED' : ''}`);
  }
  return lines.join('\n');
}
