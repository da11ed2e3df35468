/**
 * The API as an API Gateway REST proxy handler: route matching, input validation with
 * zod, Asana envelopes, security headers, the body size limit, structured logs with
 * the request id, and the one error mapping. The Lambda entry (handlers/api.ts) and the
 * local server (local-server.ts) both call this.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import { logger as rootLogger } from '../shared/logger.js';
import type { AppDeps } from './deps.js';
import { listEnvelope, parseOptFields, project } from './envelope.js';
import { BadRequestError, ForbiddenError, UnauthorizedError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError, mapError, type ErrorEntry } from './errors.js';
import { API_BASE_PATH, DEFAULT_PAGE_LIMIT, fullPath, queryShape, type AuthLevel, type MultipartBody, type Reply, type RequestMeta, type RouteDef } from './route.js';
import { authenticate, type Principal } from '../domain/auth/sessions.js';
import { SESSION_COOKIE } from './cookies.js';
import { SECURITY_HEADERS } from './security-headers.js';

export type ApiHandler = (event: APIGatewayProxyEvent, context?: Partial<Context>) => Promise<APIGatewayProxyResult>;

interface CompiledRoute {
  route: RouteDef;
  pattern: RegExp;
  query: z.ZodObject;
}

const PARAM = /\{([a-z_]+)\}/g;

function compile(route: RouteDef): CompiledRoute {
  const source = fullPath(route)
    .split(PARAM)
    .map((part, i) => (i % 2 === 1 ? `(?<${part}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const query = z.object(queryShape(route));
  return { route, pattern: new RegExp(`^${source}/?$`), query };
}

/** zod issues as Asana-style error entries naming the failing field paths. */
function issuesToEntries(error: z.ZodError, prefix: string): ErrorEntry[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return { message: `${path}: ${issue.message}` };
  });
}

function validate<T extends z.ZodType>(schema: T, value: unknown, prefix: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BadRequestError(`Invalid ${prefix || 'request'}`, issuesToEntries(parsed.error, prefix));
  return parsed.data;
}

function lowerCaseHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

function queryParameters(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    if (!v) continue;
    if (v.length > 1) throw new BadRequestError(`Query parameter ${k} was given more than once`);
    out[k] = v[0]!;
  }
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined && !(k in out)) out[k] = v;
  return out;
}

function readBody(event: APIGatewayProxyEvent, headers: Record<string, string>, maxBytes: number, format: 'json' | 'form' | 'multipart'): unknown {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const type = headers['content-type'] ?? '';
  if (format === 'multipart') {
    if (!/^multipart\/form-data\s*;/i.test(type)) throw new UnsupportedMediaTypeError('Request body must be multipart/form-data (Content-Type: multipart/form-data; boundary=...)');
    const body: MultipartBody = { contentType: type, bytes: raw };
    return body;
  }
  if (format === 'form') {
    if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new UnsupportedMediaTypeError('Request body must be a form (Content-Type: application/x-www-form-urlencoded)');
    const fields: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
      if (k in fields) throw new BadRequestError(`Form field ${k} was given more than once`);
      fields[k] = v;
    }
    return fields;
  }
  // application/json or a +json type, optionally with parameters (not application/json-seq, application/jsonp...).
  if (!/^application\/(json|[a-z0-9.+-]+\+json)\s*(;|$)/i.test(type)) throw new UnsupportedMediaTypeError();
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequestError('Could not parse the request body as JSON');
  }
}

/** An unpaired UTF-16 surrogate: not a character, and not encodable as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text the database can store: PostgreSQL text and jsonb cannot hold U+0000, and an
 * unpaired surrogate (JSON allows "\udc90") is not Unicode (PGlite even encodes one next
 * to other non-ASCII text as invalid UTF-8 and fails the statement). Either, anywhere in
 * the input (a value or a key), is refused here with a 400 naming the field, instead of
 * failing in the database with a 500 (or being stored differently by each engine).
 * Iterative, so deeply nested JSON cannot overflow the stack.
 */
function assertStorableText(value: unknown, prefix: string): void {
  const at = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));
  const problem = (s: string) => (s.includes('\u0000') ? 'NUL (\\u0000) characters' : LONE_SURROGATE.test(s) ? 'unpaired UTF-16 surrogates (invalid Unicode)' : null);
  const check = (s: string, path: () => string, what: 'value' | 'key') => {
    const p = problem(s);
    if (p) throw new BadRequestError(`Invalid ${prefix || 'request'}`, [{ message: `${path() || 'body'}: ${what === 'key' ? 'a property name contains' : 'must not contain'} ${p}` }]);
  };
  // Paths are built for containers only; a leaf's path only when it is refused.
  const pending: [unknown, string][] = [[value, prefix]];
  while (pending.length) {
    const [v, path] = pending.pop()!;
    if (typeof v === 'string') check(v, () => path, 'value');
    else if (Array.isArray(v)) {
      v.forEach((item: unknown, i) => {
        if (typeof item === 'string') check(item, () => at(path, i), 'value');
        else if (item !== null && typeof item === 'object') pending.push([item, at(path, i)]);
      });
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      for (const [k, item] of Object.entries(v)) {
        check(k, () => path, 'key');
        if (typeof item === 'string') check(item, () => at(path, k), 'value');
        else if (item !== null && typeof item === 'object') pending.push([item, at(path, k)]);
      }
    }
  }
}

function baseHeaders(requestId: string): Record<string, string> {
  return { ...SECURITY_HEADERS, 'X-Request-Id': requestId };
}

function jsonResult(status: number, body: unknown, requestId: string, pretty: boolean, extra: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { ...baseHeaders(requestId), 'Content-Type': 'application/json; charset=utf-8', ...extra },
    body: JSON.stringify(body, null, pretty ? 2 : undefined),
  };
}

export function createApiHandler(deps: AppDeps, routes: RouteDef[]): ApiHandler {
  const compiled = routes.map(compile);
  const maxBytes = deps.config.maxBodyBytes;

  return async function handle(event, context) {
    const started = Date.now();
    const requestId = event.requestContext?.requestId || context?.awsRequestId || randomUUID();
    const log = rootLogger.createChild({ persistentKeys: { request_id: requestId } });
    const method = event.httpMethod.toUpperCase();
    const path = event.path;
    let operation = 'unmatched';
    let pretty = false;
    let result: APIGatewayProxyResult;
    const baseUrl = publicBaseUrl(deps.config.publicBaseUrl, event);
    try {
      const matches = compiled.map((c) => ({ c, m: c.pattern.exec(path) })).filter((x) => x.m);
      if (matches.length === 0) throw new NotFoundError(`No such route: ${method} ${path.slice(0, 200)}`);
      const hit = matches.find((x) => x.c.route.method === method || (method === 'HEAD' && x.c.route.method === 'GET'));
      if (!hit) throw new MethodNotAllowedError([...new Set(matches.flatMap((x) => (x.c.route.method === 'GET' ? ['GET', 'HEAD'] : [x.c.route.method])))]);
      const { route, query: querySchema } = hit.c;
      operation = route.operationId;

      const headers = lowerCaseHeaders(event);
      const rawQuery = queryParameters(event);
      pretty = rawQuery.opt_pretty === 'true' || rawQuery.opt_pretty === '';
      const rawParams = Object.fromEntries(Object.entries(hit.m!.groups ?? {}).map(([k, v]) => [k, safeDecode(v)]));
      assertStorableText(rawParams, 'path');
      const params = route.request.params ? validate(route.request.params, rawParams, 'path') : {};
      assertStorableText(rawQuery, 'query');
      const query = validate(querySchema, rawQuery, 'query') as Record<string, unknown>;
      const rawBody = readBody(event, headers, maxBytes, route.bodyFormat ?? 'json');
      if (route.bodyFormat !== 'multipart') assertStorableText(rawBody, route.bodyFormat === 'form' ? 'form' : '');
      let body: unknown = {};
      if (route.request.body && (route.bodyFormat === 'form' || route.bodyFormat === 'multipart')) {
        body = validate(route.request.body, rawBody ?? {}, 'form');
      } else if (route.request.body) {
        if (rawBody === undefined || rawBody === null || typeof rawBody !== 'object' || Array.isArray(rawBody) || !('data' in rawBody)) {
          throw new BadRequestError('The request body must be a JSON object with a "data" property');
        }
        body = validate(route.request.body, (rawBody as { data: unknown }).data, 'data');
      }
      const meta: RequestMeta = {
        requestId,
        baseUrl,
        sourceIp: event.requestContext?.identity?.sourceIp ?? '',
        userAgent: headers['user-agent'] ?? '',
        headers,
        path,
        rawQuery,
      };
      const principal = route.auth === 'none' ? null : await authenticateRequest(deps, headers, method, route.auth);
      const page = { limit: (query.limit as number | undefined) ?? DEFAULT_PAGE_LIMIT, offset: (query.offset as string | undefined) ?? null };
      const reply = await route.handle({ principal, params, query, page, body, meta, deps } as never);
      result = render(reply, { requestId, pretty, path, query: rawQuery, optFields: parseOptFields(query.opt_fields as string | undefined), baseUrl });
    } catch (error) {
      const mapped = mapError(error, requestId);
      if (mapped.internal) log.error('request failed', { error: error as Error, method, operation });
      result = jsonResult(mapped.status, mapped.body, requestId, pretty, mapped.headers);
    }
    if (method === 'HEAD') result = { ...result, body: '' };
    log.info('request', { method, operation, status: result.statusCode, duration_ms: Date.now() - started });
    return result;
  };
}

/** The configured origin, or the one API Gateway was called on (https://{domainName}/{stage}). */
function publicBaseUrl(configured: string | undefined, event: APIGatewayProxyEvent): string {
  if (configured) return configured.replace(/\/+$/, '');
  const domain = event.requestContext?.domainName ?? event.headers?.Host ?? event.headers?.host ?? 'localhost';
  const stage = event.requestContext?.stage;
  return `https://${domain}${stage && stage !== '$default' ? `/${stage}` : ''}`;
}

/** The bearer token, or on GET/HEAD the session cookie (never for state-changing requests). */
export function requestToken(headers: Record<string, string>, method: string): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  if (bearer) return bearer[1]!;
  if (method !== 'GET' && method !== 'HEAD') return null;
  for (const part of (headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) return rest.join('=') || null;
  }
  return null;
}

async function authenticateRequest(deps: AppDeps, headers: Record<string, string>, method: string, level: AuthLevel): Promise<Principal> {
  const token = requestToken(headers, method);
  const principal = token ? await authenticate(deps, token) : null;
  if (!principal) throw new UnauthorizedError();
  if (level === 'user' && principal.kind !== 'user') throw new ForbiddenError('This endpoint needs a user session; service accounts cannot use it');
  return principal;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new BadRequestError('The path is not valid URL encoding');
  }
}

interface RenderContext {
  requestId: string;
  pretty: boolean;
  path: string;
  query: Record<string, string>;
  optFields: string[][] | null;
  baseUrl: string;
}

function render(reply: Reply, ctx: RenderContext): APIGatewayProxyResult {
  const shape = (data: unknown) => (ctx.optFields ? project(data, ctx.optFields) : data);
  switch (reply.kind) {
    case 'data':
      return jsonResult(reply.status ?? 200, { data: shape(reply.data) }, ctx.requestId, ctx.pretty, reply.headers);
    case 'list': {
      let next = null;
      if (reply.next) {
        const search = new URLSearchParams({ ...ctx.query, offset: reply.next });
        const relative = `${ctx.path}?${search.toString()}`;
        // Asana's next_page.path is relative to the API base; uri is absolute.
        const path = relative.startsWith(`${API_BASE_PATH}/`) ? relative.slice(API_BASE_PATH.length) : relative;
        next = { offset: reply.next, path, uri: `${ctx.baseUrl}${relative}` };
      }
      return jsonResult(200, listEnvelope(reply.data.map(shape), next), ctx.requestId, ctx.pretty);
    }
    case 'raw': {
      const binary = Buffer.isBuffer(reply.body);
      return {
        statusCode: reply.status,
        headers: { ...baseHeaders(ctx.requestId), ...reply.headers },
        body: binary ? (reply.body as Buffer).toString('base64') : (reply.body as string),
        isBase64Encoded: binary,
      };
    }
    case 'redirect':
      return { statusCode: reply.status ?? 302, headers: { ...baseHeaders(ctx.requestId), Location: reply.location }, body: '' };
  }
}
