/**
 * Which deployed function serves each route of the route table. API Gateway sends every
 * route to the function of its group (lib/constructs/route-api.ts), and each function
 * loads only its group's routes (lambdas/handlers/{auth,exports,api}.ts), so that each
 * gets the size and the grants its routes need and nothing more (lib/functions.ts). The
 * local server serves the whole table in one process, as before.
 *
 * The rule, by route module under lambdas/http/routes/ (a route's method and path name it):
 *
 * - 'auth', identity: who the caller is and how they prove it. Every route of auth.ts
 *   (sign-up, login, logout, invitation acceptance, "not me" links, password reset and
 *   change: the routes that hash passwords), sso-oidc.ts and sso-saml.ts (SSO logins),
 *   and, of me.ts, the caller's sessions and login history (listMySessions,
 *   revokeMySession, listMyLogins). Not GET /users/me (getCurrentUser): Asana's profile
 *   read, which every client calls first and which handles no credential. Not admin.ts
 *   (invitations sent, service accounts, SSO settings, audit log): organization
 *   administration, served by 'api'.
 * - 'exports': every route of exports.ts (synchronous project, My tasks and saved-search
 *   exports: large documents written under exports/adhoc/) and of export-jobs.ts
 *   (organization and team export jobs: requests sent to the exports queue, their status
 *   and download, signed from exports/jobs/).
 * - 'api': every other route.
 *
 * A new route in one of those modules joins its group by being added to the module's
 * list; a new module is 'api' unless it is added to group-auth.ts or group-exports.ts.
 */
import { AUTH_GROUP } from './group-auth.js';
import { EXPORTS_GROUP } from './group-exports.js';
import type { RouteDef } from './route.js';

/** The deployed functions that serve routes. */
export const FUNCTION_GROUPS = ['auth', 'exports', 'api'] as const;
export type FunctionGroup = (typeof FUNCTION_GROUPS)[number];

/**
 * The routes of each group but 'api', by module (see the rule above). Each list has a
 * module of its own (group-auth.ts, group-exports.ts) that its handler imports alone, so
 * a function's bundle holds its routes' code and not the rest of the table; this module
 * and the route table are for the API's description (lib/, the local server, tests).
 */
const MEMBERS: Record<Exclude<FunctionGroup, 'api'>, readonly RouteDef[]> = {
  auth: AUTH_GROUP,
  exports: EXPORTS_GROUP,
};

/** A route is its method and path: the same pair never appears twice in the table. */
const routeKey = (route: Pick<RouteDef, 'method' | 'path'>) => `${route.method} ${route.path}`;

const GROUP_OF = new Map<string, FunctionGroup>();
for (const [group, members] of Object.entries(MEMBERS) as [FunctionGroup, readonly RouteDef[]][]) {
  for (const route of members) {
    const other = GROUP_OF.get(routeKey(route));
    if (other && other !== group) throw new Error(`${routeKey(route)} is in two function groups: ${other} and ${group}`);
    GROUP_OF.set(routeKey(route), group);
  }
}

/** The deployed function that serves a route (matched by method and path). */
export function functionGroup(route: Pick<RouteDef, 'method' | 'path'>): FunctionGroup {
  return GROUP_OF.get(routeKey(route)) ?? 'api';
}

/** The routes of `table` (the deployed route table: apiRoutes()) that a group's function serves, in table order. */
export function routesFor(group: FunctionGroup, table: readonly RouteDef[]): RouteDef[] {
  return table.filter((route) => functionGroup(route) === group);
}
