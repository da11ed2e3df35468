/**
 * The API handler end to end, as API Gateway calls it: envelopes, routing, validation,
 * body limits, security headers, the error mapping and the request id. The real route
 * table plus the small test routes of test-routes.ts, over a real PGlite database.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { encodeCursor, InvalidCursorError } from '../../lambdas/db/query.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { mapError, TooManyRequestsError } from '../../lambdas/http/errors.js';
import { routes } from '../../lambdas/http/route-table.js';
import { logger } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { apiEvent, header, jsonBody, PUBLIC_BASE_URL, testDeps, TEST_CONFIG, TEST_DOMAIN, type EventInit } from '../support/http.js';
import { ALL_THINGS, BOOM_MESSAGE, makeThing, RAW_BYTES, SECRET_PASSWORD, SECRET_TOKEN, testRoutes } from './test-routes.js';

const API = '/api/1.0';
const GID = '1000000000000007';
const BASE = PUBLIC_BASE_URL.replace(/\/$/, ''); // https://api.example.test/prod

let engine: TestEngine;
let handler: ApiHandler;

beforeAll(async () => {
  // The request logs are the subject of logging.test.ts; keep this suite's output readable.
  logger.setLogLevel('SILENT');
  engine = await openEngine('pglite');
  handler = createApiHandler(testDeps(engine), [...routes, ...testRoutes]);
});
afterAll(async () => {
  logger.setLogLevel('INFO');
  await engine?.close();
});

const call = (init: EventInit, context?: { awsRequestId?: string }) => handler(apiEvent(init), context);
const get = (path: string, init: Omit<EventInit, 'path'> = {}) => call({ ...init, path: API + path });
const post = (path: string, body: unknown, init: Omit<EventInit, 'path' | 'body'> = {}) => call({ method: 'POST', ...init, path: API + path, body });

type ErrorsBody = { errors: { message: string; help?: string; request_id?: string }[] };
const messages = (result: APIGatewayProxyResult) => jsonBody<ErrorsBody>(result).errors.map((e) => e.message);

function expectSecurityHeaders(result: APIGatewayProxyResult, requestId?: string) {
  const hsts = header(result, 'Strict-Transport-Security') ?? '';
  expect(hsts).toMatch(/max-age=(\d+)/);
  expect(Number(/max-age=(\d+)/.exec(hsts)?.[1])).toBeGreaterThanOrEqual(31_536_000);
  expect(hsts).toContain('includeSubDomains');
  expect(header(result, 'X-Content-Type-Options')).toBe('nosniff');
  expect(header(result, 'Content-Security-Policy')).toContain("default-src 'none'");
  expect(header(result, 'Cache-Control')).toBe('no-store');
  const id = header(result, 'X-Request-Id');
  expect(id).toBeTruthy();
  if (requestId !== undefined) expect(id).toBe(requestId);
}

/** A JSON body of exactly `bytes` UTF-8 bytes: {"data":{"name":"xxx…"}}. */
function bodyOfSize(bytes: number): string {
  const shell = JSON.stringify({ data: { name: '' } });
  return JSON.stringify({ data: { name: 'x'.repeat(bytes - Buffer.byteLength(shell)) } });
}

describe('envelopes', () => {
  test('a resource is answered as {"data": ...} in JSON', async () => {
    const result = await get(`/things/${GID}`, { query: { include_archived: 'true' } });
    expect(result.statusCode).toBe(200);
    expect(header(result, 'Content-Type')).toMatch(/^application\/json\b/);
    expect(jsonBody(result)).toEqual({ data: { ...makeThing(GID), archived_included: 'true' } });
  });

  test('a handler status is kept and only validated body fields reach the handler', async () => {
    const result = await post('/echo', { data: { name: 'Ada', count: 3, gid: '1', is_admin: true } });
    expect(result.statusCode).toBe(201);
    expect(jsonBody(result)).toEqual({ data: { name: 'Ada', count: 3 } });
  });

  test('health answers {"data":{"status":"ok","database":"pglite"}}', async () => {
    const result = await get('/health');
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toStrictEqual({ data: { status: 'ok', database: 'pglite' } });
  });

  test('a list answers {data: [...], next_page: {offset, path, uri}} built from the public base URL and the query', async () => {
    const result = await get('/things', { query: { limit: '2', workspace: '1500000000000001' } });
    expect(result.statusCode).toBe(200);
    const body = jsonBody<{ data: unknown[]; next_page: { offset: string; path: string; uri: string } | null }>(result);
    expect(Object.keys(body).sort()).toEqual(['data', 'next_page']);
    expect(body.data).toEqual(ALL_THINGS.slice(0, 2));
    const next = body.next_page!;
    expect(Object.keys(next).sort()).toEqual(['offset', 'path', 'uri']);
    expect(next.offset).toBe('abc');
    // The uri is absolute, on the public origin (trailing slash of the base not doubled).
    expect(next.uri).toBe(`${BASE}${API}/things?limit=2&workspace=1500000000000001&offset=abc`);
    expect(next.uri).not.toContain('prod//');
    // path is the relative form of the same request.
    expect(next.uri.endsWith(next.path)).toBe(true);
    expect(next.path).toMatch(/\/things\?/);
    const url = new URL(next.uri);
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: '2', workspace: '1500000000000001', offset: 'abc' });
  });

  test('next_page replaces the offset, keeps opt_fields and encodes the query', async () => {
    const result = await get('/things', { query: { limit: '1', opt_fields: 'name,owner.name' } });
    const next = jsonBody<{ next_page: { uri: string; path: string } }>(result).next_page;
    const url = new URL(next.uri);
    expect(url.origin + url.pathname).toBe(`${BASE}${API}/things`);
    expect(url.searchParams.getAll('offset')).toEqual(['abc']);
    expect(url.searchParams.get('opt_fields')).toBe('name,owner.name');
    expect(url.searchParams.get('limit')).toBe('1');
  });

  test('without a configured public base URL, next_page links to the API Gateway domain and stage; a Host header cannot redirect it', async () => {
    const derived = createApiHandler(testDeps(engine, { config: { ...TEST_CONFIG, publicBaseUrl: undefined } }), testRoutes);
    const uriOf = async (init: EventInit) => jsonBody<{ next_page: { uri: string } }>(await derived(apiEvent(init))).next_page.uri;
    expect(await uriOf({ path: `${API}/things?limit=1`, headers: { Host: 'evil.example' } })).toBe(`https://${TEST_DOMAIN}/prod${API}/things?limit=1&offset=abc`);
    expect(await uriOf({ path: `${API}/things?limit=1`, stage: '$default' })).toBe(`https://${TEST_DOMAIN}${API}/things?limit=1&offset=abc`);
    expect(await uriOf({ path: `${API}/things?limit=1`, domainName: 'tasks.example.org', stage: 'v1' })).toBe(`https://tasks.example.org/v1${API}/things?limit=1&offset=abc`);
  });

  test('next_page is null on the last page (present, not omitted)', async () => {
    const result = await get('/things', { query: { offset: 'abc', limit: '2' } });
    expect(result.statusCode).toBe(200);
    const body = jsonBody<{ data: unknown[]; next_page: unknown }>(result);
    expect(body).toHaveProperty('next_page', null);
    expect(body.data).toEqual(ALL_THINGS.slice(2));
  });

  test('opt_fields keeps gid and resource_type and the requested fields, nested and through arrays', async () => {
    const result = await get(`/things/${GID}`, { query: { opt_fields: 'name,owner.name,tags.color' } });
    expect(result.statusCode).toBe(200);
    expect(jsonBody(result)).toStrictEqual({
      data: {
        gid: GID,
        resource_type: 'thing',
        name: `Thing ${GID}`,
        owner: { gid: '1100000000000001', resource_type: 'user', name: 'Ada' },
        tags: [
          { gid: '1200000000000001', resource_type: 'tag', color: 'dark-red' },
          { gid: '1200000000000002', resource_type: 'tag', color: 'light-blue' },
        ],
      },
    });
  });

  test('opt_fields: a whole object wins over its dotted fields, in either order; unknown fields are ignored', async () => {
    for (const fields of ['owner,owner.name', 'owner.name,owner']) {
      const result = await get(`/things/${GID}`, { query: { opt_fields: fields } });
      expect(jsonBody(result)).toStrictEqual({ data: { gid: GID, resource_type: 'thing', owner: makeThing(GID).owner } });
    }
    const unknown = await get(`/things/${GID}`, { query: { opt_fields: 'no_such_field' } });
    expect(jsonBody(unknown)).toStrictEqual({ data: { gid: GID, resource_type: 'thing' } });
  });

  test('opt_fields projects every item of a list and leaves next_page alone', async () => {
    const result = await get('/things', { query: { opt_fields: 'notes', limit: '2' } });
    const body = jsonBody<{ data: unknown[]; next_page: { offset: string } }>(result);
    expect(body.data).toStrictEqual(ALL_THINGS.slice(0, 2).map((t) => ({ gid: t.gid, resource_type: 'thing', notes: t.notes })));
    expect(body.next_page.offset).toBe('abc');
  });

  test('opt_fields that is not a list of field names is a 400', async () => {
    const result = await get(`/things/${GID}`, { query: { opt_fields: 'name;drop table' } });
    expect(result.statusCode).toBe(400);
    expect(messages(result).some((m) => m.startsWith('query.opt_fields: '))).toBe(true);
  });

  test('opt_pretty pretty-prints (as opt_pretty=true and as a bare opt_pretty); compact otherwise', async () => {
    const compact = await get(`/things/${GID}`);
    expect(compact.body).not.toContain('\n');
    for (const path of [`/things/${GID}?opt_pretty=true`, `/things/${GID}?opt_pretty`]) {
      const pretty = await get(path);
      expect(pretty.statusCode).toBe(200);
      expect(pretty.body).toBe(JSON.stringify(JSON.parse(compact.body), null, 2));
    }
    const prettyError = await get('/things/not-a-gid?opt_pretty=true');
    expect(prettyError.statusCode).toBe(400);
    expect(prettyError.body).toContain('\n  "errors"');
  });
});

describe('routing', () => {
  test('an unknown path is a 404 {"errors":[{"message"}]}', async () => {
    for (const path of [`${API}/no-such-thing`, '/not-the-api/health', `${API}`, '/']) {
      const result = await call({ path });
      expect(result.statusCode).toBe(404);
      const body = jsonBody<ErrorsBody>(result);
      expect(Object.keys(body)).toEqual(['errors']);
      expect(body.errors).toHaveLength(1);
      expect(Object.keys(body.errors[0]!)).toEqual(['message']);
      expect(typeof body.errors[0]!.message).toBe('string');
    }
  });

  test('local-scope routes live under /_local, not under the API base', async () => {
    expect((await call({ path: '/_local/test-helper' })).statusCode).toBe(200);
    expect((await get('/test-helper')).statusCode).toBe(404);
  });

  test('a known path with the wrong method is a 405 with an Allow header listing the methods', async () => {
    const result = await call({ method: 'DELETE', path: `${API}/things/${GID}` });
    expect(result.statusCode).toBe(405);
    expect(header(result, 'Allow')?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'PUT']);
    expect(messages(result)).toEqual(['Method Not Allowed']);
    expectSecurityHeaders(result);

    const health = await call({ method: 'POST', path: `${API}/health`, body: { data: {} } });
    expect(health.statusCode).toBe(405);
    expect(header(health, 'Allow')).toBe('GET, HEAD');
  });

  test('the method decides between routes on the same path', async () => {
    const put = await call({ method: 'PUT', path: `${API}/things/${GID}`, body: { data: { name: 'Renamed' } } });
    expect(put.statusCode).toBe(200);
    expect(jsonBody<{ data: { name: string } }>(put).data.name).toBe('Renamed');
  });

  test('a trailing slash is accepted; a double one is not', async () => {
    const health = await call({ path: `${API}/health/` });
    expect(health.statusCode).toBe(200);
    const thing = await call({ path: `${API}/things/${GID}/` });
    expect(thing.statusCode).toBe(200);
    expect(jsonBody<{ data: { gid: string } }>(thing).data.gid).toBe(GID);
    expect((await call({ path: `${API}/health//` })).statusCode).toBe(404);
  });

  test('HEAD runs the GET route and answers its status and headers without a body', async () => {
    const result = await call({ method: 'HEAD', path: `${API}/health`, requestId: 'head-req-1' });
    expect(result.statusCode).toBe(200);
    expect(result.body).toBe('');
    expectSecurityHeaders(result, 'head-req-1');
    const missing = await call({ method: 'HEAD', path: `${API}/nope` });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toBe('');
    const wrong = await call({ method: 'HEAD', path: `${API}/echo` });
    expect(wrong.statusCode).toBe(405);
    expect(header(wrong, 'Allow')).toBe('POST');
  });

  test('path parameters are URL-decoded; bad encoding is a 400', async () => {
    const encoded = await get(`/things/%31${GID.slice(1)}`);
    expect(encoded.statusCode).toBe(200);
    expect(jsonBody<{ data: { gid: string } }>(encoded).data.gid).toBe(GID);
    const bad = await get('/things/%E0%A4%A');
    expect(bad.statusCode).toBe(400);
  });
});

describe('validation', () => {
  test('an invalid body is a 400 naming every failing field path under data', async () => {
    const result = await post('/echo', { data: { name: '', notes: { text: 'far too long', tags: ['ok', ''] }, count: 1.5 } });
    expect(result.statusCode).toBe(400);
    const found = messages(result);
    for (const path of ['data.name', 'data.notes.text', 'data.notes.tags.1', 'data.count']) {
      expect(found.some((m) => m.startsWith(`${path}: `))).toBe(true);
    }
    expect(found).toHaveLength(4);
    expect(found.some((m) => m.startsWith('data.notes.tags.0'))).toBe(false);
  });

  test('a missing required field is named', async () => {
    const result = await post('/echo', { data: { notes: { text: 'x', tags: [] } } });
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual([expect.stringMatching(/^data\.name: /)]);
  });

  test('an invalid path parameter (not a gid) is a 400 naming path.<param>', async () => {
    const result = await get('/things/abc');
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual(['path.thing_gid: must be a gid (a string of digits)']);
    expect((await get('/things/12345678901234567890')).statusCode).toBe(400); // 20 digits
  });

  test.each(['0', '101', '-1', '1.5', 'ten', ''])('limit=%j is a 400 naming query.limit', async (limit) => {
    const result = await get('/things', { query: { limit } });
    expect(result.statusCode).toBe(400);
    expect(messages(result).some((m) => m.startsWith('query.limit: '))).toBe(true);
  });

  test.each(['1', '100'])('limit=%s is accepted', async (limit) => {
    expect((await get('/things', { query: { limit } })).statusCode).toBe(200);
  });

  test('a route query parameter is validated too', async () => {
    const result = await get(`/things/${GID}`, { query: { include_archived: 'maybe' } });
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual([expect.stringMatching(/^query\.include_archived: /)]);
  });

  test('a query parameter given twice is a 400', async () => {
    const result = await get('/things?limit=1&limit=2');
    expect(result.statusCode).toBe(400);
    expect(messages(result).join(' ')).toMatch(/limit/);
    expect((await get(`/things/${GID}?opt_fields=name&opt_fields=notes`)).statusCode).toBe(400);
  });

  test('a body that is not JSON is a 400', async () => {
    const result = await post('/echo', '{"data": {"name": ', { headers: { 'Content-Type': 'application/json' } });
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual([expect.stringMatching(/JSON/)]);
  });

  test.each([
    ['text/plain', '{"data":{"name":"x"}}'],
    ['application/x-www-form-urlencoded', 'data=x'],
    ['multipart/form-data; boundary=x', '--x--'],
    ['application/jsonp', '{"data":{"name":"x"}}'],
  ])('Content-Type %s is a 415', async (contentType, body) => {
    const result = await post('/echo', body, { headers: { 'Content-Type': contentType } });
    expect(result.statusCode).toBe(415);
    expect(messages(result)).toHaveLength(1);
  });

  test('a body without Content-Type is a 415', async () => {
    expect((await post('/echo', '{"data":{"name":"x"}}')).statusCode).toBe(415);
  });

  test.each(['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json'])('Content-Type %s is JSON', async (contentType) => {
    const result = await post('/echo', '{"data":{"name":"x"}}', { headers: { 'content-type': contentType } });
    expect(result.statusCode).toBe(201);
  });

  test.each([
    ['no "data"', '{"name":"x"}'],
    ['an array', '[{"data":{"name":"x"}}]'],
    ['null', 'null'],
    ['a string', '"data"'],
  ])('a body with %s is a 400', async (_what, body) => {
    const result = await post('/echo', body, { headers: { 'Content-Type': 'application/json' } });
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual([expect.stringContaining('"data"')]);
  });

  test('a route that takes a body answers 400 when there is none', async () => {
    const result = await call({ method: 'POST', path: `${API}/echo` });
    expect(result.statusCode).toBe(400);
    expect(messages(result)).toEqual([expect.stringContaining('"data"')]);
  });

  test('a base64-encoded body (isBase64Encoded) is decoded and parsed', async () => {
    const raw = JSON.stringify({ data: { name: 'Zoë ☃', notes: { text: 'hi', tags: ['a'] } } });
    const result = await post('/echo', Buffer.from(raw, 'utf8').toString('base64'), { headers: { 'Content-Type': 'application/json' }, isBase64Encoded: true });
    expect(result.statusCode).toBe(201);
    expect(jsonBody(result)).toEqual({ data: { name: 'Zoë ☃', notes: { text: 'hi', tags: ['a'] } } });

    const garbage = await post('/echo', Buffer.from('not json').toString('base64'), { headers: { 'Content-Type': 'application/json' }, isBase64Encoded: true });
    expect(garbage.statusCode).toBe(400);
  });
});

describe('body size limit', () => {
  const max = TEST_CONFIG.maxBodyBytes;
  const json = { 'Content-Type': 'application/json' };

  test('a body of exactly maxBodyBytes passes; one byte more is a 413', async () => {
    const atLimit = bodyOfSize(max);
    expect(Buffer.byteLength(atLimit)).toBe(max);
    expect((await post('/echo', atLimit, { headers: json })).statusCode).toBe(201);

    const over = bodyOfSize(max + 1);
    const result = await post('/echo', over, { headers: json });
    expect(result.statusCode).toBe(413);
    expect(messages(result)).toEqual([expect.stringContaining(String(max))]);
    expectSecurityHeaders(result);
  });

  test('the limit counts UTF-8 bytes, not characters', async () => {
    const body = JSON.stringify({ data: { name: 'é'.repeat(Math.ceil(max / 2)) } }); // fewer chars than max, more bytes
    expect(body.length).toBeLessThan(max + 100);
    expect(Buffer.byteLength(body)).toBeGreaterThan(max);
    expect((await post('/echo', body, { headers: json })).statusCode).toBe(413);
  });

  test('a base64-encoded body is measured decoded', async () => {
    const atLimit = Buffer.from(bodyOfSize(max)).toString('base64'); // longer than max as text
    expect(atLimit.length).toBeGreaterThan(max);
    expect((await post('/echo', atLimit, { headers: json, isBase64Encoded: true })).statusCode).toBe(201);
    const over = Buffer.from(bodyOfSize(max + 1)).toString('base64');
    expect((await post('/echo', over, { headers: json, isBase64Encoded: true })).statusCode).toBe(413);
  });

  test('the limit applies before the content type is looked at', async () => {
    const result = await post('/echo', 'x'.repeat(max + 1), { headers: { 'Content-Type': 'text/plain' } });
    expect(result.statusCode).toBe(413);
  });
});

describe('security headers', () => {
  const cases: [string, EventInit, number][] = [
    ['200 JSON', { path: `${API}/health` }, 200],
    ['201 JSON', { method: 'POST', path: `${API}/echo`, body: { data: { name: 'x' } } }, 201],
    ['200 list', { path: `${API}/things` }, 200],
    ['400', { path: `${API}/things/abc` }, 400],
    ['401', { path: `${API}/errors/unauthorized` }, 401],
    ['404', { path: `${API}/nope` }, 404],
    ['405', { method: 'DELETE', path: `${API}/health` }, 405],
    ['409', { method: 'POST', path: `${API}/unique` }, 409],
    ['415', { method: 'POST', path: `${API}/echo`, body: 'x', headers: { 'Content-Type': 'text/plain' } }, 415],
    ['429', { path: `${API}/errors/too_many_requests` }, 429],
    ['500', { path: `${API}/boom` }, 500],
    ['303 redirect', { path: `${API}/redirect` }, 303],
    ['200 raw', { path: `${API}/download` }, 200],
    ['200 raw openapi', { path: `${API}/openapi.json` }, 200],
    ['HEAD', { method: 'HEAD', path: `${API}/health` }, 200],
  ];
  test.each(cases)('%s carries HSTS, nosniff, CSP, no-store and X-Request-Id', async (_name, init, status) => {
    const result = await call({ ...init, requestId: `sec-${status}-req` });
    expect(result.statusCode).toBe(status);
    expectSecurityHeaders(result, `sec-${status}-req`);
  });
});

describe('raw and redirect answers', () => {
  test('a binary raw answer is base64-encoded with its own headers', async () => {
    const result = await get('/download');
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body, 'base64')).toEqual(RAW_BYTES);
    expect(header(result, 'Content-Type')).toBe('application/octet-stream');
    expect(header(result, 'Content-Disposition')).toBe('attachment; filename="x.bin"');
  });

  test('a redirect carries Location and no body', async () => {
    const result = await get('/redirect');
    expect(result.statusCode).toBe(303);
    expect(header(result, 'Location')).toBe('https://downloads.example.test/file?sig=x');
    expect(result.body).toBe('');
  });
});

describe('errors', () => {
  function expectNothingInternal(body: string) {
    for (const leak of [SECRET_TOKEN, SECRET_PASSWORD, 'upstream said', BOOM_MESSAGE, 'Bearer', 'password', 'internal_no_such_table', 'secret_column', 'relation', 'select', 'SQLState', '    at ', '.ts:', 'node_modules', 'Error:']) {
      expect(body).not.toContain(leak);
    }
  }

  test('a thrown Error is a 500 with message, help and the request id, and nothing of the error', async () => {
    const result = await call({ path: `${API}/boom`, requestId: 'req-500-abc' });
    expect(result.statusCode).toBe(500);
    expect(header(result, 'Content-Type')).toMatch(/^application\/json\b/);
    const body = jsonBody<ErrorsBody>(result);
    expect(body).toStrictEqual({ errors: [{ message: 'Server Error', help: expect.any(String), request_id: 'req-500-abc' }] });
    expect(body.errors[0]!.help!.length).toBeGreaterThan(0);
    expect(header(result, 'X-Request-Id')).toBe('req-500-abc');
    expectNothingInternal(result.body);
  });

  test('a database error is a 500 without SQL, table names or parameters', async () => {
    const result = await call({ path: `${API}/sql-error`, requestId: 'req-sql-1' });
    expect(result.statusCode).toBe(500);
    expect(jsonBody<ErrorsBody>(result).errors).toEqual([{ message: 'Server Error', help: expect.any(String), request_id: 'req-sql-1' }]);
    expectNothingInternal(result.body);
  });

  test('without an API Gateway request id, the Lambda request id (or a fresh one) is used, in the header and the body alike', async () => {
    const fromLambda = await call({ path: `${API}/boom`, requestId: null }, { awsRequestId: 'lambda-req-9' });
    expect(jsonBody<ErrorsBody>(fromLambda).errors[0]!.request_id).toBe('lambda-req-9');
    expect(header(fromLambda, 'X-Request-Id')).toBe('lambda-req-9');

    const fresh = await call({ path: `${API}/boom`, requestId: null });
    const id = jsonBody<ErrorsBody>(fresh).errors[0]!.request_id!;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(header(fresh, 'X-Request-Id')).toBe(id);
    const again = await call({ path: `${API}/boom`, requestId: null });
    expect(jsonBody<ErrorsBody>(again).errors[0]!.request_id).not.toBe(id);
  });

  test.each([
    ['bad_request', 400, ['data.x: nope', 'data.y: nope'], {}],
    ['unauthorized', 401, ['Not Authorized'], { 'WWW-Authenticate': 'Bearer' }],
    ['forbidden', 403, ['Forbidden'], {}],
    ['not_found', 404, ['No such thing'], {}],
    ['method_not_allowed', 405, ['Method Not Allowed'], { Allow: 'GET, POST' }],
    ['conflict', 409, ['Already there'], {}],
    ['gone', 410, ['Gone'], {}],
    ['payload_too_large', 413, ['Request body is larger than 10 bytes'], {}],
    ['unsupported_media_type', 415, [expect.stringContaining('application/json')], {}],
    ['too_many_requests', 429, [expect.any(String)], { 'Retry-After': '30' }],
  ] as [string, number, unknown[], Record<string, string>][])('%s is a %i with its entries and headers', async (kind, status, expected, headers) => {
    const result = await get(`/errors/${kind}`, { requestId: `err-${kind}` });
    expect(result.statusCode).toBe(status);
    const body = jsonBody<ErrorsBody>(result);
    expect(body.errors.map((e) => e.message)).toEqual(expected);
    expect(body.errors.every((e) => e.request_id === undefined)).toBe(true);
    for (const [name, value] of Object.entries(headers)) expect(header(result, name)).toBe(value);
    expectSecurityHeaders(result, `err-${kind}`);
  });

  test('401 carries WWW-Authenticate: Bearer; 429 carries Retry-After in whole seconds, at least 1', async () => {
    const unauthorized = await get('/errors/unauthorized');
    expect(header(unauthorized, 'WWW-Authenticate')).toMatch(/^Bearer\b/);
    const limited = await get('/errors/too_many_requests');
    expect(header(limited, 'Retry-After')).toMatch(/^\d+$/);
    expect(new TooManyRequestsError(0).headers['Retry-After']).toBe('1');
    expect(new TooManyRequestsError(0.2).headers['Retry-After']).toBe('1');
    expect(new TooManyRequestsError(59.01).headers['Retry-After']).toBe('60');
  });

  test('a unique violation from the database is a 409 that names nothing internal', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await post('/unique', undefined);
      expect(result.statusCode).toBe(409);
      expect(jsonBody<ErrorsBody>(result)).toStrictEqual({ errors: [{ message: expect.any(String) }] });
      expect(result.body).not.toMatch(/http_test_unique|duplicate key|23505|pkey/);
    }
  });

  test('an invalid pagination cursor (InvalidCursorError) is a 400; a valid one passes', async () => {
    for (const offset of ['!!!', 'bm90LWpzb24', encodeCursor(['only-one'])]) {
      const result = await get('/cursor-things', { query: { offset } });
      expect(result.statusCode).toBe(400);
      expect(messages(result)).toEqual([new InvalidCursorError().message]);
    }
    const ok = await get('/cursor-things', { query: { offset: encodeCursor(['a', 1]) } });
    expect(ok.statusCode).toBe(200);
    expect(jsonBody(ok)).toEqual({ data: [], next_page: null });
  });

  test('mapError recognizes unique violations from every engine', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "x"'), { code: '23505' });
    const dataApiError = new Error('ERROR: duplicate key value violates unique constraint "x"; SQLState: 23505');
    for (const error of [pgError, dataApiError]) expect(mapError(error, 'r').status).toBe(409);
    expect(mapError(Object.assign(new Error('fk'), { code: '23503' }), 'r').status).toBe(500);
    expect(mapError('a thrown string', 'r')).toMatchObject({ status: 500, internal: true });
    expect(mapError(new InvalidCursorError(), 'r')).toMatchObject({ status: 400, internal: false });
  });
});
