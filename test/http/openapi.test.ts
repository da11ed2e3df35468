/**
 * The OpenAPI 3.1 document: served through the handler, valid against the OpenAPI 3.1
 * schema (@seriousme/openapi-schema-validator), complete for the api-scope routes,
 * without local helpers, with every $ref resolvable; and, for the test routes, carrying
 * the request body schemas and the path and query parameters.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { z } from 'zod';
import { createApiHandler } from '../../lambdas/http/api.js';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { API_BASE_PATH, defineRoute, fullPath, type RouteDef } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { logger } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { apiEvent, header, PUBLIC_BASE_URL, testDeps } from '../support/http.js';
import { testRoutes } from './test-routes.js';

type Json = Record<string, unknown>;
type Operation = { operationId: string; summary: string; tags: string[]; parameters: Parameter[]; responses: Record<string, Json>; requestBody?: Json };
type Parameter = { name: string; in: string; required: boolean; description?: string; schema: Json };
type Doc = { openapi: string; info: Json; servers: { url: string }[]; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

async function expectValid(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
  if (!result.valid) console.error('OpenAPI validation errors:', JSON.stringify(result.errors, null, 2));
  expect(result.errors).toBeUndefined();
  expect(result.valid).toBe(true);
}

/** Every $ref in the document, with where it was found. */
function refs(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refs(v, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Json).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refs(v, `${at}/${k}`)));
}

function resolve(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Json)[key] : undefined), doc);
}

function expectRefsResolve(doc: Doc) {
  const found = refs(doc);
  for (const { ref, at } of found) {
    expect({ ref, at, startsWithComponents: ref.startsWith('#/components/schemas/') }).toEqual({ ref, at, startsWithComponents: true });
    expect({ ref, at, resolved: resolve(doc, ref) !== undefined }).toEqual({ ref, at, resolved: true });
  }
  expect(JSON.stringify(doc)).not.toContain('$defs');
  return found.length;
}

/**
 * The operation of a route. The path key is the route's path relative to the server URL
 * or (as the generator currently writes it) with the /api/1.0 base; see the report on
 * the server URL.
 */
function operationOf(doc: Doc, route: Pick<RouteDef, 'path' | 'method' | 'scope'>): Operation | undefined {
  const item = doc.paths[route.path] ?? doc.paths[fullPath(route)];
  return item?.[route.method.toLowerCase()];
}

function allOperations(doc: Doc): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => [path, m, op] as [string, string, Operation]));
}

function expectPathParamsMatchTemplates(doc: Doc) {
  for (const [path, method, op] of allOperations(doc)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = op.parameters.filter((p) => p.in === 'path').map((p) => p.name).sort();
    expect({ path, method, declared }).toEqual({ path, method, declared: templated });
    for (const p of op.parameters.filter((p) => p.in === 'path')) expect(p.required).toBe(true);
    const keys = op.parameters.map((p) => `${p.in}:${p.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  }
}

describe('GET /api/1.0/openapi.json (the real route table)', () => {
  let engine: TestEngine;
  let doc: Doc;
  let raw: string;

  beforeAll(async () => {
    logger.setLogLevel('SILENT');
    engine = await openEngine('pglite');
    const handler = createApiHandler(testDeps(engine), routes);
    const result = await handler(apiEvent({ path: `${API_BASE_PATH}/openapi.json`, requestId: 'oas-1' }));
    expect(result.statusCode).toBe(200);
    expect(header(result, 'Content-Type')).toMatch(/^application\/json\b/);
    expect(header(result, 'X-Request-Id')).toBe('oas-1');
    expect(header(result, 'X-Content-Type-Options')).toBe('nosniff');
    raw = result.body;
    doc = JSON.parse(raw) as Doc;
    const again = await handler(apiEvent({ path: `${API_BASE_PATH}/openapi.json` }));
    expect(again.body).toBe(raw);
  });
  afterAll(async () => {
    logger.setLogLevel('INFO');
    await engine?.close();
  });

  test('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await expectValid(doc);
  });

  test('the validator is not vacuous: broken copies of the document are rejected', async () => {
    const noInfo: Json = { ...structuredClone(doc) };
    delete noInfo.info;
    const badParameter = structuredClone(doc);
    const firstOp = Object.values(Object.values(badParameter.paths)[0]!)[0]!;
    firstOp.parameters.push({ name: 'x', in: 'body', required: false, schema: {} });
    for (const broken of [noInfo, badParameter]) {
      const result = await new Validator().validate(broken as Json);
      expect(result.valid).toBe(false);
    }
  });

  test('names the API and its server on the public base URL', () => {
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.servers).toHaveLength(1);
    expect(doc.servers[0]!.url).toBe(`${PUBLIC_BASE_URL.replace(/\/$/, '')}${API_BASE_PATH}`);
  });

  test('every api-scope route appears under its path and method with its operationId, summary and tags', () => {
    const apiRoutes = routes.filter((r) => r.scope === 'api');
    expect(apiRoutes.length).toBeGreaterThan(0);
    for (const route of apiRoutes) {
      const op = operationOf(doc, route);
      expect({ route: `${route.method} ${route.path}`, operationId: op?.operationId }).toEqual({ route: `${route.method} ${route.path}`, operationId: route.operationId });
      expect(op!.summary).toBe(route.summary);
      expect(op!.tags).toEqual(route.tags);
      expect(op!.responses['4XX']).toBeDefined();
      expect(op!.responses['5XX']).toBeDefined();
      for (const status of Object.keys(route.responses)) expect(op!.responses[status]).toBeDefined();
    }
    // Nothing else: one operation per api route, operationIds unique.
    const ops = allOperations(doc);
    expect(ops).toHaveLength(apiRoutes.length);
    const ids = ops.map(([, , op]) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('local-scope routes (/_local) do not appear', () => {
    const local = routes.filter((r) => r.scope === 'local');
    expect(local.length).toBeGreaterThan(0);
    expect(raw).not.toContain('/_local');
    const ids = allOperations(doc).map(([, , op]) => op.operationId);
    for (const route of local) {
      expect(ids).not.toContain(route.operationId);
      expect(operationOf(doc, route)).toBeUndefined();
    }
  });

  test('every $ref resolves to a component that exists', () => {
    expect(expectRefsResolve(doc)).toBeGreaterThan(0);
    expect(doc.components.schemas.ErrorResponse).toBeDefined();
    expect(doc.components.schemas.Health).toBeDefined();
  });

  test('path parameters match the path templates', () => {
    expectPathParamsMatchTemplates(doc);
  });

  test('health documents its answer', () => {
    const op = operationOf(doc, { method: 'GET', path: '/health', scope: 'api' })!;
    const schema = (op.responses['200'] as { content: Record<string, { schema: Json }> }).content['application/json']!.schema;
    expect(schema).toMatchObject({ type: 'object', required: ['data'], properties: { data: { $ref: '#/components/schemas/Health' } } });
    expect(doc.components.schemas.Health).toMatchObject({ properties: { status: { const: 'ok' }, database: { enum: ['pglite', 'postgres', 'data-api'] } } });
  });
});

describe('buildOpenApi with the test routes', () => {
  const searchRoute = defineRoute({
    method: 'GET',
    path: '/search',
    scope: 'api',
    operationId: 'testSearch',
    summary: 'Search with a required query parameter',
    tags: ['Test'],
    auth: 'none',
    request: { query: z.object({ text: z.string().min(1).meta({ description: 'What to look for.' }), resource_subtype: z.enum(['default_task', 'milestone']).optional() }) },
    responses: { 200: { description: 'ok' } },
    async handle() {
      return { kind: 'data', data: [] };
    },
  });
  const doc = buildOpenApi([...testRoutes, searchRoute], { title: 'Test API', version: '0.0.1', description: 'Test routes', serverUrl: 'https://api.example.test/api/1.0' }) as Doc;
  const op = (method: RouteDef['method'], path: string) => {
    const found = operationOf(doc, { method, path, scope: 'api' });
    expect(found).toBeDefined();
    return found!;
  };
  const param = (o: Operation, location: string, name: string) => o.parameters.find((p) => p.in === location && p.name === name);
  const bodySchema = (o: Operation) => ((o.requestBody as { content: Record<string, { schema: Json }> }).content['application/json']!.schema as Json);

  test('is a valid OpenAPI 3.1 document whose $refs all resolve', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await expectValid(doc);
    expectRefsResolve(doc);
    expectPathParamsMatchTemplates(doc);
  });

  test('the request body is {"data": <schema>} with the required fields, nested', () => {
    const echo = op('POST', '/echo');
    expect(echo.requestBody).toMatchObject({ required: true });
    const schema = bodySchema(echo);
    expect(schema).toMatchObject({ type: 'object', required: ['data'] });
    const data = (schema.properties as { data: Json }).data;
    expect(data).toMatchObject({
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1 },
        count: { type: 'integer' },
        notes: { type: 'object', required: expect.arrayContaining(['text', 'tags']), properties: { text: { type: 'string', maxLength: 10 }, tags: { type: 'array', items: { type: 'string', minLength: 1 } } } },
      },
    });
    expect(data.required).not.toContain('notes');
    expect(data.required).not.toContain('count');

    const put = op('PUT', '/things/{thing_gid}');
    expect((bodySchema(put).properties as { data: Json }).data).toMatchObject({ required: ['name'], properties: { name: { type: 'string' } } });
  });

  test('routes without a body have no requestBody', () => {
    expect(op('GET', '/things/{thing_gid}').requestBody).toBeUndefined();
    expect(op('GET', '/things').requestBody).toBeUndefined();
  });

  test('path parameters are required and carry their schema', () => {
    const get = op('GET', '/things/{thing_gid}');
    expect(param(get, 'path', 'thing_gid')).toMatchObject({ required: true, schema: { type: 'string', pattern: expect.any(String) } });
    expect(new RegExp((param(get, 'path', 'thing_gid')!.schema as { pattern: string }).pattern).test('1204567890123456')).toBe(true);
    expect(new RegExp((param(get, 'path', 'thing_gid')!.schema as { pattern: string }).pattern).test('abc')).toBe(false);
    expect(param(get, 'path', 'thing_gid')!.description).toBeTruthy();
    expect(param(op('GET', '/errors/{kind}'), 'path', 'kind')).toMatchObject({ required: true, schema: { enum: expect.arrayContaining(['unauthorized', 'too_many_requests']) } });
  });

  test('query parameters: the common ones everywhere, the route\'s own, required only when required', () => {
    const get = op('GET', '/things/{thing_gid}');
    expect(param(get, 'query', 'opt_fields')).toMatchObject({ required: false, schema: { type: 'string' } });
    expect(param(get, 'query', 'opt_pretty')).toMatchObject({ required: false });
    expect(param(get, 'query', 'include_archived')).toMatchObject({ required: false, schema: { enum: ['true', 'false'] } });
    expect(param(get, 'query', 'limit')).toBeUndefined();

    const search = op('GET', '/search');
    expect(param(search, 'query', 'text')).toMatchObject({ required: true, description: 'What to look for.', schema: { type: 'string', minLength: 1 } });
    expect(param(search, 'query', 'text')!.schema).not.toHaveProperty('description');
    expect(param(search, 'query', 'resource_subtype')).toMatchObject({ required: false });
  });

  test('lists take limit (1-100) and offset and document next_page', () => {
    const list = op('GET', '/things');
    expect(param(list, 'query', 'limit')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } });
    expect(param(list, 'query', 'offset')).toMatchObject({ required: false, schema: { type: 'string' } });
    expect(param(list, 'query', 'workspace')).toMatchObject({ required: false });
    const schema = (list.responses['200'] as { content: Record<string, { schema: Json }> }).content['application/json']!.schema;
    expect(schema).toMatchObject({
      type: 'object',
      properties: { data: { type: 'array', items: { $ref: '#/components/schemas/TestThing' } }, next_page: { $ref: '#/components/schemas/NextPage' } },
    });
    expect(doc.components.schemas.NextPage).toMatchObject({ anyOf: expect.arrayContaining([{ type: 'null' }]) });
    expect(doc.components.schemas.TestThing).toMatchObject({ properties: { owner: { $ref: '#/components/schemas/TestUser' } } });
  });

  test('errors are documented as ErrorResponse', () => {
    for (const [, , o] of allOperations(doc)) {
      for (const status of ['4XX', '5XX']) {
        expect(o.responses[status]).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } });
      }
    }
    expect(doc.components.schemas.ErrorResponse).toMatchObject({ required: ['errors'] });
  });

  test('local-scope test routes are left out', () => {
    expect(JSON.stringify(doc)).not.toContain('testLocalHelper');
    expect(JSON.stringify(doc)).not.toContain('/test-helper');
  });
});
