/**
 * Small routes that exercise what the real route table does not yet: bodies with
 * nested fields, path and query parameters, lists with next_page, every HttpError,
 * database errors, 500s, raw and redirect answers. Shared by the HTTP test files.
 */
import { sql } from 'kysely';
import { z } from 'zod';
import { decodeCursor } from '../../lambdas/db/query.js';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GoneError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../../lambdas/http/errors.js';
import { dataBody, listBody } from '../../lambdas/http/openapi.js';
import { defineRoute, type RouteDef } from '../../lambdas/http/route.js';
import { compact, gid } from '../../lambdas/http/schemas.js';

/** Secrets that a failing route puts in its error message: they must reach neither the body nor the logs. */
export const SECRET_TOKEN = 'tok_9fQeXx2LrW7cZb1Vd5YhKs8PmNa3TuGj';
export const SECRET_PASSWORD = 'Hunter2-Sup3rS3cret';
export const BOOM_MESSAGE = `upstream said: Authorization: Bearer ${SECRET_TOKEN} rejected for password=${SECRET_PASSWORD}`;

const user = z.object({ ...compact('user'), name: z.string(), email: z.string() }).meta({ id: 'TestUser' });
const tag = z.object({ ...compact('tag'), name: z.string(), color: z.string() });
export const thing = z
  .object({ ...compact('thing'), name: z.string(), notes: z.string(), owner: user, tags: z.array(tag) })
  .meta({ id: 'TestThing' });
export type Thing = z.infer<typeof thing>;

export function makeThing(gidValue: string, name = `Thing ${gidValue}`): Thing {
  return {
    gid: gidValue,
    resource_type: 'thing',
    name,
    notes: 'secretive notes',
    owner: { gid: '1100000000000001', resource_type: 'user', name: 'Ada', email: 'ada@example.test' },
    tags: [
      { gid: '1200000000000001', resource_type: 'tag', name: 'red', color: 'dark-red' },
      { gid: '1200000000000002', resource_type: 'tag', name: 'blue', color: 'light-blue' },
    ],
  };
}

export const ALL_THINGS: Thing[] = ['1000000000000001', '1000000000000002', '1000000000000003'].map((g) => makeThing(g));

const echoBody = z.object({
  name: z.string().min(1),
  notes: z.object({ text: z.string().max(10), tags: z.array(z.string().min(1)) }).optional(),
  count: z.number().int().optional(),
});

export const echoRoute = defineRoute({
  method: 'POST',
  path: '/echo',
  scope: 'api',
  operationId: 'testEcho',
  summary: 'Echoes the validated body',
  tags: ['Test'],
  auth: 'none',
  request: { body: echoBody },
  responses: { 201: { description: 'The body as validated', schema: dataBody(echoBody) } },
  async handle({ body }) {
    return { kind: 'data', status: 201, data: body };
  },
});

export const getThingRoute = defineRoute({
  method: 'GET',
  path: '/things/{thing_gid}',
  scope: 'api',
  operationId: 'testGetThing',
  summary: 'A thing',
  tags: ['Test'],
  auth: 'none',
  request: { params: z.object({ thing_gid: gid }), query: z.object({ include_archived: z.enum(['true', 'false']).optional() }) },
  responses: { 200: { description: 'The thing', schema: dataBody(thing) } },
  async handle({ params, query }) {
    return { kind: 'data', data: { ...makeThing(params.thing_gid), archived_included: query.include_archived ?? null } };
  },
});

export const putThingRoute = defineRoute({
  method: 'PUT',
  path: '/things/{thing_gid}',
  scope: 'api',
  operationId: 'testUpdateThing',
  summary: 'Renames a thing',
  tags: ['Test'],
  auth: 'none',
  request: { params: z.object({ thing_gid: gid }), body: z.object({ name: z.string().min(1) }) },
  responses: { 200: { description: 'The thing', schema: dataBody(thing) } },
  async handle({ params, body }) {
    return { kind: 'data', data: makeThing(params.thing_gid, body.name) };
  },
});

/** Two pages: the first (no offset) has next "abc", the page at offset "abc" is the last. */
export const listThingsRoute = defineRoute({
  method: 'GET',
  path: '/things',
  scope: 'api',
  operationId: 'testListThings',
  summary: 'Things, paginated',
  tags: ['Test'],
  auth: 'none',
  request: { query: z.object({ workspace: gid.optional() }) },
  responses: { 200: { description: 'A page of things', schema: listBody(thing) } },
  async handle({ query }) {
    const q = query as { offset?: string; limit?: number };
    if (q.offset === 'abc') return { kind: 'list', data: ALL_THINGS.slice(2), next: null };
    if (q.offset !== undefined) throw new BadRequestError('unknown offset');
    return { kind: 'list', data: ALL_THINGS.slice(0, q.limit ?? 2), next: 'abc' };
  },
});

/** A list whose offset is a real keyset cursor: garbage is an InvalidCursorError. */
export const cursorListRoute = defineRoute({
  method: 'GET',
  path: '/cursor-things',
  scope: 'api',
  operationId: 'testListCursorThings',
  summary: 'Things behind a keyset cursor',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'A page of things', schema: listBody(thing) } },
  async handle({ query }) {
    const q = query as { offset?: string };
    if (q.offset !== undefined) decodeCursor(q.offset, 2);
    return { kind: 'list', data: [], next: null };
  },
});

/** Inserts the same primary key twice: a real unique violation from the database. */
export const uniqueRoute = defineRoute({
  method: 'POST',
  path: '/unique',
  scope: 'api',
  operationId: 'testUniqueViolation',
  summary: 'Violates a unique constraint',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 201: { description: 'Never' } },
  async handle({ deps }) {
    await sql`create temporary table if not exists http_test_unique (k int primary key)`.execute(deps.database.db);
    await sql`insert into http_test_unique (k) values (1), (1)`.execute(deps.database.db);
    return { kind: 'data', status: 201, data: null };
  },
});

/** A SQL error whose text names internals (table, parameter) that must not leak. */
export const sqlErrorRoute = defineRoute({
  method: 'GET',
  path: '/sql-error',
  scope: 'api',
  operationId: 'testSqlError',
  summary: 'Fails in the database',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'Never' } },
  async handle({ deps }) {
    await sql`select secret_column from internal_no_such_table where password = ${SECRET_PASSWORD}`.execute(deps.database.db);
    return { kind: 'data', data: null };
  },
});

export const boomRoute = defineRoute({
  method: 'GET',
  path: '/boom',
  scope: 'api',
  operationId: 'testBoom',
  summary: 'Throws a plain Error with secrets in its message',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'Never' } },
  async handle() {
    throw new Error(BOOM_MESSAGE);
  },
});

export const httpErrors = {
  bad_request: () => new BadRequestError('bad things', [{ message: 'data.x: nope' }, { message: 'data.y: nope' }]),
  unauthorized: () => new UnauthorizedError(),
  forbidden: () => new ForbiddenError(),
  not_found: () => new NotFoundError('No such thing'),
  method_not_allowed: () => new MethodNotAllowedError(['GET', 'POST']),
  conflict: () => new ConflictError('Already there'),
  gone: () => new GoneError(),
  payload_too_large: () => new PayloadTooLargeError(10),
  unsupported_media_type: () => new UnsupportedMediaTypeError(),
  too_many_requests: () => new TooManyRequestsError(29.2),
} as const;
export type HttpErrorKind = keyof typeof httpErrors;

export const errorRoute = defineRoute({
  method: 'GET',
  path: '/errors/{kind}',
  scope: 'api',
  operationId: 'testThrowHttpError',
  summary: 'Throws the named HttpError',
  tags: ['Test'],
  auth: 'none',
  request: { params: z.object({ kind: z.enum(Object.keys(httpErrors) as [HttpErrorKind, ...HttpErrorKind[]]) }) },
  responses: { 200: { description: 'Never' } },
  async handle({ params }) {
    throw httpErrors[params.kind]();
  },
});

export const redirectRoute = defineRoute({
  method: 'GET',
  path: '/redirect',
  scope: 'api',
  operationId: 'testRedirect',
  summary: 'Redirects',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 303: { description: 'Elsewhere' } },
  async handle() {
    return { kind: 'redirect', location: 'https://downloads.example.test/file?sig=x', status: 303 };
  },
});

export const RAW_BYTES = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);

export const rawRoute = defineRoute({
  method: 'GET',
  path: '/download',
  scope: 'api',
  operationId: 'testDownload',
  summary: 'Binary download',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'Bytes', contentType: 'application/octet-stream' } },
  async handle() {
    return { kind: 'raw', status: 200, headers: { 'Content-Type': 'application/octet-stream', 'Content-Disposition': 'attachment; filename="x.bin"' }, body: RAW_BYTES };
  },
});

export const localOnlyRoute = defineRoute({
  method: 'GET',
  path: '/test-helper',
  scope: 'local',
  operationId: 'testLocalHelper',
  summary: 'Local only',
  tags: ['Test'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'ok' } },
  async handle() {
    return { kind: 'data', data: { local: true } };
  },
});

export const testRoutes: RouteDef[] = [
  echoRoute,
  getThingRoute,
  putThingRoute,
  listThingsRoute,
  cursorListRoute,
  uniqueRoute,
  sqlErrorRoute,
  boomRoute,
  errorRoute,
  redirectRoute,
  rawRoute,
  localOnlyRoute,
];
