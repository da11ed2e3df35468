/**
 * Regression tests for bugs found while writing the HTTP suite (log leaks of database
 * values and secrets in free text, OpenAPI paths, next_page.path).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { defineRoute, fullPath } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { logger, REDACTED, redactText } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { apiEvent, jsonBody, PUBLIC_BASE_URL, testDeps } from '../support/http.js';
import { SECRET_PASSWORD, sqlErrorRoute, testRoutes } from './test-routes.js';

const API = '/api/1.0';
let engine: TestEngine;

beforeAll(async () => {
  engine = await openEngine('pglite');
});
afterAll(async () => {
  logger.setLogLevel('INFO');
  await engine?.close();
});

function captureOutput(): { stop(): string } {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = ((chunk: unknown) => (chunks.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  return {
    stop() {
      process.stdout.write = out;
      process.stderr.write = err;
      return chunks.join('');
    },
  };
}

describe('logging.test.ts: database errors must not put bound values or row contents in the logs', () => {
  const notNullRoute = defineRoute({
    method: 'POST',
    path: '/not-null',
    scope: 'api',
    operationId: 'testNotNull',
    summary: 'Violates a not-null constraint with a secret in the row',
    tags: ['Test'],
    auth: 'none',
    request: {},
    responses: { 201: { description: 'Never' } },
    async handle({ deps }) {
      await sql`create temporary table if not exists http_test_row (a text not null, b text)`.execute(deps.database.db);
      await sql`insert into http_test_row (a, b) values (null, ${SECRET_PASSWORD})`.execute(deps.database.db);
      return { kind: 'data', status: 201, data: null };
    },
  });

  test.each([
    ['a failing query (PGlite puts the bind parameters in error.params)', 'GET', '/sql-error'],
    ['a constraint violation (PostgreSQL puts the failing row in error.detail)', 'POST', '/not-null'],
  ])('%s', async (_what, method, path) => {
    logger.setLogLevel('INFO');
    const handler: ApiHandler = createApiHandler(testDeps(engine), [sqlErrorRoute, notNullRoute]);
    let status = 0;
    let text = '';
    const capture = captureOutput();
    try {
      status = (await handler(apiEvent({ method, path: API + path, requestId: 'pending-sql' }))).statusCode;
    } finally {
      text = capture.stop();
    }
    expect(status).toBe(500);
    expect(text).toContain('pending-sql');
    expect(text).not.toContain(SECRET_PASSWORD);
  });
});

describe('logging.test.ts: redactText misses common credential spellings', () => {
  test.each([
    ['access_token=abc123&x=1', `access_token=${REDACTED}&x=1`],
    ['refresh_token=abc123', `refresh_token=${REDACTED}`],
    ['client_secret=abc123', `client_secret=${REDACTED}`],
    ['api_key=abc123', `api_key=${REDACTED}`],
    ['secret=abc123', `secret=${REDACTED}`],
    ['Cookie: session=abc123; theme=dark', `Cookie: session=${REDACTED}; theme=dark`],
    ['{"password":"hunter2","name":"Ada"}', `{"password":"${REDACTED}","name":"Ada"}`],
    ['{"token": "abc123"}', `{"token": "${REDACTED}"}`],
    ['postgres://app:pw123@db.internal:5432/app', `postgres://app:${REDACTED}@db.internal:5432/app`],
    ['Failing row contains (null, hunter2).', `Failing row contains (${REDACTED}).`],
    ['Key (lower(email))=(ada@example.test) already exists.', `Key (lower(email))=(${REDACTED}) already exists.`],
  ])('%j -> %j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});

describe('openapi.test.ts: the server URL and the path keys both carry /api/1.0', () => {
  test('server URL + path key is the URL the route answers on', () => {
    const base = PUBLIC_BASE_URL.replace(/\/$/, '');
    const doc = buildOpenApi(routes, { title: 't', version: '1', description: 'd', serverUrl: `${base}${API}` }) as { servers: { url: string }[]; paths: Record<string, Record<string, { operationId: string }>> };
    for (const route of routes.filter((r) => r.scope === 'api')) {
      const key = Object.keys(doc.paths).find((k) => doc.paths[k]?.[route.method.toLowerCase()]?.operationId === route.operationId);
      expect(`${doc.servers[0]!.url}${key}`).toBe(`${base}${fullPath(route)}`);
    }
  });
});

describe('api.test.ts: next_page.path is relative to the API base, as in Asana', () => {
  test('path is /things?..., uri is base + /api/1.0 + path', async () => {
    logger.setLogLevel('SILENT');
    const handler = createApiHandler(testDeps(engine), testRoutes);
    const result = await handler(apiEvent({ path: `${API}/things?limit=2` }));
    const next = jsonBody<{ next_page: { path: string; uri: string } }>(result).next_page;
    expect(next.path).toBe('/things?limit=2&offset=abc');
    expect(next.uri).toBe(`${PUBLIC_BASE_URL.replace(/\/$/, '')}${API}/things?limit=2&offset=abc`);
  });
});
