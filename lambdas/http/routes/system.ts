import { sql } from 'kysely';
import { z } from 'zod';
import { dataBody, buildOpenApi } from '../openapi.js';
import { defineRoute, type RouteDef } from '../route.js';

const health = z.object({ status: z.literal('ok'), database: z.enum(['pglite', 'postgres', 'data-api']) }).meta({ id: 'Health' });

export const healthRoute = defineRoute({
  method: 'GET',
  path: '/health',
  scope: 'api',
  operationId: 'getHealth',
  summary: 'Service health',
  description: 'Answers when the service and its database are reachable; names the database engine in use.',
  tags: ['System'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'Healthy', schema: dataBody(health) } },
  async handle({ deps }) {
    await sql`select 1`.execute(deps.database.db);
    return { kind: 'data', data: { status: 'ok', database: deps.database.engine } };
  },
});

/** The document is built once per route table and cached; only its server URL varies. */
export function openApiRoute(routes: () => RouteDef[]) {
  let document: ReturnType<typeof buildOpenApi> | undefined;
  return defineRoute({
    method: 'GET',
    path: '/openapi.json',
    scope: 'api',
    operationId: 'getOpenApiDocument',
    summary: 'This API as an OpenAPI 3.1 document',
    tags: ['System'],
    auth: 'none',
    request: {},
    responses: { 200: { description: 'The OpenAPI document', schema: z.object({ openapi: z.string() }).loose() } },
    async handle({ meta }) {
      document ??= buildOpenApi(routes(), {
        title: 'Asana-compatible task backend',
        version: '1.0.0',
        description: "A self-hostable, Asana-compatible task API built around Asana's privacy and security promises.",
        serverUrl: '/api/1.0',
      });
      const body = JSON.stringify({ ...document, servers: [{ url: `${meta.baseUrl}/api/1.0` }] });
      return { kind: 'raw', status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body };
    },
  });
}
