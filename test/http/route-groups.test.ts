/**
 * The route table split between the deployed functions (lambdas/http/route-groups.ts):
 * every deployed route in exactly one group, the groups as intended (the auth and exports
 * operation ids are listed here, so a route changes function only on purpose), each
 * group's handler answering every one of its routes with that route, the exports function
 * working without the app secret and the mail queue it is not granted, and the local
 * server still serving the whole table.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueName } from '../../lambdas/adapters/ports.js';
import type { AppDeps } from '../../lambdas/domain/deps.js';
import { createApiHandler } from '../../lambdas/http/api.js';
import { FUNCTION_GROUPS, functionGroup, routesFor, type FunctionGroup } from '../../lambdas/http/route-groups.js';
import { AUTH_GROUP } from '../../lambdas/http/group-auth.js';
import { EXPORTS_GROUP } from '../../lambdas/http/group-exports.js';
import { deployedRoutes, fullPath, type RouteDef } from '../../lambdas/http/route.js';
import { apiRoutes, routes } from '../../lambdas/http/route-table.js';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { project } from '../support/graph.js';
import { apiEvent, TEST_CONFIG } from '../support/http.js';
import { CHEAP_AUTH, identityHarness, signUp } from '../support/identity.js';

/** The identity routes: auth.ts, sso-oidc.ts, sso-saml.ts, and the caller's sessions and logins from me.ts. */
const AUTH = [
  // routes/auth.ts
  'signUp',
  'logIn',
  'logOut',
  'acceptInvitation',
  'showInvitationPage',
  'acceptInvitationForm',
  'reportLoginNotMe',
  'showLoginNotMePage',
  'confirmLoginNotMeForm',
  'requestPasswordReset',
  'showPasswordResetPage',
  'completePasswordReset',
  'completePasswordResetForm',
  'changePassword',
  // routes/sso-oidc.ts
  'startOidcLogin',
  'completeOidcLogin',
  // routes/sso-saml.ts
  'getSamlServiceProviderMetadata',
  'startSamlLogin',
  'samlAssertionConsumerService',
  // routes/me.ts: sessions and login history
  'listMySessions',
  'revokeMySession',
  'listMyLogins',
];

/** exports.ts (synchronous exports) and export-jobs.ts (export jobs, status, download). */
const EXPORTS = [
  'exportProjectJson',
  'exportProjectCsv',
  'exportMyTasksJson',
  'exportMyTasksCsv',
  'exportSavedSearchJson',
  'exportSavedSearchCsv',
  'createOrganizationExport',
  'getOrganizationExport',
  'createTeamExport',
  'getExport',
  'downloadExport',
];

/** Near misses that stay in api: Asana's profile read and organization administration. */
const STAYS_IN_API = ['getCurrentUser', 'inviteToOrganization', 'createServiceAccount', 'listServiceAccounts', 'revokeServiceAccount', 'getSsoSettings', 'updateSsoSettings', 'getAuditLogEvents', 'getHealth', 'getOpenApiDocument'];

const ids = (list: RouteDef[]) => list.map((r) => r.operationId).sort();
const GID = '1000000000000001';
/** A request path API Gateway maps to this route's resource (every parameter a gid). */
const samplePath = (route: RouteDef) => fullPath(route).replace(/\{[a-z_]+\}/g, GID);

beforeAll(() => logger.setLogLevel('SILENT'));
afterAll(() => logger.setLogLevel('INFO'));

describe('function groups', () => {
  test('every deployed route is in exactly one group, and the groups cover the deployed table', () => {
    const deployed = apiRoutes();
    const grouped = FUNCTION_GROUPS.flatMap((group) => routesFor(group, apiRoutes()).map((route) => ({ group, route })));
    expect(grouped.length).toBe(deployed.length);
    for (const route of deployed) {
      const where = grouped.filter((g) => g.route === route).map((g) => g.group);
      expect([route.operationId, where]).toEqual([route.operationId, [functionGroup(route)]]);
    }
    for (const group of FUNCTION_GROUPS) expect([group, routesFor(group, apiRoutes()).length > 0]).toEqual([group, true]);
    // Local-only helpers are deployed nowhere.
    expect(grouped.some((g) => g.route.scope !== 'api')).toBe(false);
  });

  test('auth: exactly the identity routes', () => {
    expect(ids(routesFor('auth', apiRoutes()))).toEqual([...AUTH].sort());
    // Everything under /auth/ is identity (the WAF's strict rate rule covers the same prefix).
    for (const route of apiRoutes()) if (route.path.startsWith('/auth/')) expect([route.operationId, functionGroup(route)]).toEqual([route.operationId, 'auth']);
    for (const route of routesFor('auth', apiRoutes())) expect([route.operationId, /^\/(auth\/|users\/me\/(password|sessions|logins)\b)/.test(route.path)]).toEqual([route.operationId, true]);
  });

  test('exports: exactly the synchronous exports and the export job routes', () => {
    expect(ids(routesFor('exports', apiRoutes()))).toEqual([...EXPORTS].sort());
  });

  test('api: everything else, including the near misses', () => {
    const api = ids(routesFor('api', apiRoutes()));
    expect(api).toEqual(ids(apiRoutes().filter((r) => !AUTH.includes(r.operationId) && !EXPORTS.includes(r.operationId))));
    for (const id of STAYS_IN_API) expect([id, api.includes(id)]).toEqual([id, true]);
  });

  test("the auth and exports handlers' own route lists (group-auth.ts, group-exports.ts) are their groups, in table order", () => {
    // The handlers import these lists alone (not the route table), so that their bundles hold their routes' code only.
    expect(deployedRoutes(AUTH_GROUP)).toEqual(routesFor('auth', apiRoutes()));
    expect(deployedRoutes(EXPORTS_GROUP)).toEqual(routesFor('exports', apiRoutes()));
  });

  test('a copy of a route (same method and path) is in the same group', () => {
    for (const route of apiRoutes()) expect(functionGroup({ method: route.method, path: route.path })).toBe(functionGroup(route));
    expect(functionGroup({ method: 'GET', path: '/widgets' })).toBe('api');
  });
});

describe("each function's handler", () => {
  /** The route with its inputs and auth stripped: it answers its own operation id. */
  const stub = (route: RouteDef): RouteDef => {
    const { bodyFormat: _format, ...rest } = route;
    return { ...rest, auth: 'none', request: {}, handle: async () => ({ kind: 'data', data: route.operationId }) };
  };
  const deps = { config: TEST_CONFIG } as unknown as AppDeps;
  const answer = async (table: RouteDef[], route: RouteDef) => {
    const result = await createApiHandler(deps, table)(apiEvent({ method: route.method, path: samplePath(route) }));
    return result.statusCode === 200 ? (JSON.parse(result.body) as { data: string }).data : `${result.statusCode} ${result.body}`;
  };

  test.each(FUNCTION_GROUPS)('%s: a request for each of its routes reaches that route (what API Gateway sends it, it answers)', async (group: FunctionGroup) => {
    const table = routesFor(group, apiRoutes()).map(stub);
    for (const route of routesFor(group, apiRoutes())) expect([route.operationId, await answer(table, route)]).toEqual([route.operationId, route.operationId]);
  });

  test('the whole table (the local server) answers every deployed route with that route', async () => {
    const table = routes.map(stub);
    for (const route of apiRoutes()) expect([route.operationId, await answer(table, route)]).toEqual([route.operationId, route.operationId]);
  });
});

describe('the exports function as granted (lib/functions.ts: no app secret, sends to the exports queue only)', () => {
  test('every exports route answers without the app secret and sends nothing but export jobs', async () => {
    const h = await identityHarness();
    try {
      const owner = await signUp(h);
      const projectGid = await project(h, owner.organizationGid);
      // From here on, as deployed: the secret is unreadable, and queue sends are recorded.
      let secretReads = 0;
      h.deps.secrets = {
        get: async () => {
          secretReads++;
          throw new Error('the exports function is not granted the app secret');
        },
      };
      const sent: QueueName[] = [];
      const queue = h.deps.queue;
      h.deps.queue = { send: (name, body, options) => (sent.push(name), queue.send(name, body, options)) };
      const handler = createApiHandler(h.deps, routesFor('exports', apiRoutes()));
      const called = new Set<string>();
      const call = async (operationId: string, method: string, path: string, body?: unknown) => {
        called.add(operationId);
        const result = await handler(apiEvent({ method, path: `/api/1.0${path}`, headers: { Authorization: `Bearer ${owner.token}`, 'User-Agent': 'jest' }, ...(body ? { body } : {}) }));
        expect([operationId, result.statusCode < 500]).toEqual([operationId, true]);
        return { status: result.statusCode, body: result.headers?.['Content-Type']?.toString().startsWith('application/json') ? (JSON.parse(result.body) as { data: { gid: string } }) : null };
      };

      for (const format of ['json', 'csv']) {
        const suffix = format === 'json' ? 'Json' : 'Csv';
        expect((await call(`exportProject${suffix}`, 'GET', `/projects/${projectGid}/export.${format}`)).status).toBe(200);
        expect((await call(`exportMyTasks${suffix}`, 'GET', `/users/me/my_tasks/export.${format}?workspace=${owner.organizationGid}`)).status).toBe(200);
        expect((await call(`exportSavedSearch${suffix}`, 'GET', `/saved_searches/${GID}/export.${format}`)).status).toBe(404);
      }
      const created = await call('createOrganizationExport', 'POST', '/organization_exports', { data: { organization: owner.organizationGid } });
      expect(created.status).toBe(201);
      const jobGid = created.body!.data.gid;
      expect((await call('getOrganizationExport', 'GET', `/organization_exports/${jobGid}`)).status).toBe(200);
      expect((await call('getExport', 'GET', `/exports/${jobGid}`)).status).toBe(200);
      expect((await call('downloadExport', 'GET', `/exports/${jobGid}/download`)).status).toBe(409); // not finished
      expect((await call('createTeamExport', 'POST', `/organizations/${owner.organizationGid}/team_exports`)).status).toBe(402); // free plan

      expect([...called].sort()).toEqual([...EXPORTS].sort());
      expect(secretReads).toBe(0);
      expect(sent).toEqual(['exports']);
    } finally {
      await h.close();
    }
  });
});

describe('the local server', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'route-groups-'));
    runtime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('serves every route of every group in one process (it uses the whole table)', async () => {
    for (const route of routes) {
      const res = await fetch(`${runtime.baseUrl}${samplePath(route)}`, { method: route.method, redirect: 'manual' });
      const text = await res.text();
      // Anything but "no such route" (404) or "method not allowed" (405): the route was found.
      expect([route.operationId, res.status === 405 || (res.status === 404 && text.includes('No such route'))]).toEqual([route.operationId, false]);
    }
  }, 60_000);
});
