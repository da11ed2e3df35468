/**
 * What the teams and workspaces suites share: one harness on the Data API stand-in with
 * the workspace and team routes, an organization with one person per role, an outsider
 * (a super admin of another organization), and the API helpers they read answers with.
 */
import { expect } from '@jest/globals';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { teamRoutes } from '../../lambdas/http/routes/teams.js';
import { workspaceRoutes } from '../../lambdas/http/routes/workspaces.js';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';
import type { RolesWorld } from './team-world.js';

export type { RolesWorld };

export interface PeopleSuite {
  h: IdentityHarness;
  /** "Acme", with one person per role. */
  w: RolesWorld;
  /** Someone with an organization of their own and no part in w. */
  outsider: Person;
}

export async function peopleSuite(): Promise<PeopleSuite> {
  // On the Data API stand-in: parameters bound as Aurora's Data API binds them.
  const h = await identityHarness({ engine: 'data-api', extraRoutes: [...workspaceRoutes, ...teamRoutes] });
  const w = await organizationWithRoles(h, 'Acme');
  const other = await organizations.create(h.engine.db, { gid: h.deps.ids.gid(), name: 'Elsewhere', now: h.deps.clock.now() });
  const outsider = await person(h, { organizationGid: other.gid, role: 'super_admin' });
  return { h, w, outsider };
}

/** An API call as `token`, with `data` as the JSON body's data. */
export const callApi = (h: IdentityHarness, token: string, method: string, path: string, data?: unknown): Promise<Answer> =>
  apiCall(h, token, method, path, data);

export const keys = (o: object) => Object.keys(o).sort();
export const gids = (items: { gid: string }[]) => items.map((i) => i.gid);

/** Follows next_page from a first request with ?limit=; returns the pages (each checked against the limit and Asana's next_page shape). */
export async function pages(h: IdentityHarness, token: string, path: string, limit: number) {
  const out: { gid: string; name?: string }[][] = [];
  let next: string | null = `${path}${path.includes('?') ? '&' : '?'}limit=${limit}`;
  while (next) {
    const res = await callApi(h, token, 'GET', next);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    out.push(res.body.data);
    if (res.body.next_page) {
      expect(res.body.next_page.uri).toBe(`https://tasks.example.test/api/1.0${res.body.next_page.path}`);
      expect(res.body.next_page.path).toContain(`offset=${res.body.next_page.offset}`);
    }
    next = res.body.next_page ? res.body.next_page.path : null;
    expect(out.length).toBeLessThan(50);
  }
  return out;
}
