/**
 * The export routes fit the route table: a valid OpenAPI document with them added,
 * unique operation ids, GET only with a user session, and no existing route that would
 * answer one of their paths first.
 */
import { describe, expect, test } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { fullPath } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { exportRoutes } from '../../lambdas/http/routes/exports.js';

const PARAM = /\{([a-z_]+)\}/g;
const pattern = (path: string) => new RegExp(`^${path.split(PARAM).map((part, i) => (i % 2 === 1 ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}/?$`);

describe('export routes', () => {
  test('exactly the six synchronous export endpoints, GET only, for user sessions', () => {
    expect(exportRoutes.map((r) => `${r.method} ${fullPath(r)}`).sort()).toEqual(
      [
        'GET /api/1.0/projects/{project_gid}/export.csv',
        'GET /api/1.0/projects/{project_gid}/export.json',
        'GET /api/1.0/saved_searches/{saved_search_gid}/export.csv',
        'GET /api/1.0/saved_searches/{saved_search_gid}/export.json',
        'GET /api/1.0/users/me/my_tasks/export.csv',
        'GET /api/1.0/users/me/my_tasks/export.json',
      ].sort(),
    );
    expect(exportRoutes.every((r) => r.auth === 'user' && r.scope === 'api' && !r.request.body)).toBe(true);
  });

  test('with the route table they make a valid OpenAPI document with unique operation ids', async () => {
    const all = [...routes.filter((r) => !exportRoutes.some((e) => e.path === r.path && e.method === r.method)), ...exportRoutes];
    const ids = all.map((r) => r.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const doc = buildOpenApi(all, { title: 't', version: '1', description: 'd', serverUrl: 'https://example.test/api/1.0' });
    const result = await new Validator().validate(doc as Parameters<Validator['validate']>[0]);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  test('no route already in the table answers an export path first', () => {
    const samples = ['/api/1.0/projects/123/export.json', '/api/1.0/projects/123/export.csv', '/api/1.0/users/me/my_tasks/export.json', '/api/1.0/users/me/my_tasks/export.csv', '/api/1.0/saved_searches/123/export.json', '/api/1.0/saved_searches/123/export.csv'];
    for (const path of samples) {
      const clashing = routes.filter((r) => r.method === 'GET' && !exportRoutes.includes(r) && pattern(fullPath(r)).test(path));
      expect({ path, clashing: clashing.map((r) => r.operationId) }).toEqual({ path, clashing: [] });
      expect(exportRoutes.filter((r) => pattern(fullPath(r)).test(path))).toHaveLength(1);
    }
  });
});
