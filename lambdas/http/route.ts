/**
 * What a route is: method, path (under /api/1.0, or /_local for local-only helpers),
 * zod schemas for every input, the answers it documents, and a handler. The route
 * table (route-table.ts) feeds the Lambda handler, the local server, the OpenAPI
 * document and, later, API Gateway.
 */
import type { z } from 'zod';
import { commonQuery, pageQuery } from './schemas.js';
import type { AppDeps } from './deps.js';
import type { Principal } from '../domain/auth/sessions.js';

/**
 * Who may call a route: 'none' (public), 'user' (a user session), 'principal' (a user
 * session or a service account). Cookies count only on GET.
 */
export type AuthLevel = 'none' | 'user' | 'principal';
export type UserPrincipal = Extract<Principal, { kind: 'user' }>;
type PrincipalFor<A extends AuthLevel> = A extends 'user' ? UserPrincipal : A extends 'principal' ? Principal : null;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export const API_BASE_PATH = '/api/1.0';
export const DEFAULT_PAGE_LIMIT = 50;
export const LOCAL_BASE_PATH = '/_local';

export interface RequestMeta {
  requestId: string;
  sourceIp: string;
  userAgent: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The full path as requested (with base path). */
  path: string;
  /** The public origin of this API without trailing slash, for links in answers and mail. */
  baseUrl: string;
  /** Raw query string parameters (already validated copies are in `query`). */
  rawQuery: Record<string, string>;
}

export type Reply =
  | { kind: 'data'; status?: number; data: unknown; headers?: Record<string, string> }
  | { kind: 'list'; data: unknown[]; next: string | null }
  | { kind: 'raw'; status: number; headers: Record<string, string>; body: string | Buffer }
  | { kind: 'redirect'; location: string; status?: 302 | 303 | 307 };

export interface RouteSchemas {
  params?: z.ZodObject;
  query?: z.ZodObject;
  /**
   * The schema of `data` in the request body; absent means the route takes no body.
   * With bodyFormat 'multipart' it validates the MultipartBody the route is handed.
   */
  body?: z.ZodType;
  /**
   * With bodyFormat 'multipart': the form's fields (files as strings with format
   * "binary"), for the OpenAPI document. The route parses the body and checks them.
   */
  form?: z.ZodObject;
}

/** A multipart/form-data request body as the framework hands it over, unparsed. */
export interface MultipartBody {
  /** The request's Content-Type header, boundary included. */
  contentType: string;
  /** The raw body, at most maxBodyBytes. */
  bytes: Buffer;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : Record<string, never>;

export interface RouteInput<S extends RouteSchemas, A extends AuthLevel = AuthLevel> {
  principal: PrincipalFor<A>;
  params: Infer<S['params']>;
  /** The route's own query parameters plus the common ones every route accepts. */
  query: Infer<S['query']> & { opt_fields?: string; opt_pretty?: string };
  /** For list routes: the validated limit (default DEFAULT_PAGE_LIMIT) and offset token. */
  page: { limit: number; offset: string | null };
  body: Infer<S['body']>;
  meta: RequestMeta;
  deps: AppDeps;
}

export interface ResponseDoc {
  description: string;
  /** The schema of the whole JSON body (use dataBody/listBody from openapi.ts), if JSON. */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteDef<S extends RouteSchemas = RouteSchemas, A extends AuthLevel = AuthLevel> {
  method: HttpMethod;
  /** Path relative to the base, with {name} parameters, e.g. /projects/{project_gid}. */
  path: string;
  scope: 'api' | 'local';
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: A;
  /**
   * 'json' (default): a JSON body whose `data` the body schema validates.
   * 'form': an HTML form post (application/x-www-form-urlencoded) whose fields the body
   * schema validates directly (browser-facing endpoints such as a SAML ACS).
   * 'multipart': a multipart/form-data upload (Content-Type checked), handed over
   * unparsed as a MultipartBody that the body schema validates; the route parses it.
   * Bodies are limited by maxBodyBytes like any other.
   */
  bodyFormat?: 'json' | 'form' | 'multipart';
  request: S;
  responses: Record<number, ResponseDoc>;
  handle(input: RouteInput<S, A>): Promise<Reply>;
}

/** Identity function that infers the handler's input types from the schemas and auth level. */
export function defineRoute<S extends RouteSchemas, A extends AuthLevel>(def: RouteDef<S, A>): RouteDef {
  return def as unknown as RouteDef;
}

/** The routes deployed behind API Gateway (not the local-only ones), in order. */
export const deployedRoutes = (routes: readonly RouteDef[]): RouteDef[] => routes.filter((route) => route.scope === 'api');

export const fullPath = (route: Pick<RouteDef, 'scope' | 'path'>) => (route.scope === 'api' ? API_BASE_PATH : LOCAL_BASE_PATH) + route.path;

/** A list route answers with {data: [...], next_page}; it takes limit and offset. */
export function isListRoute(route: RouteDef): boolean {
  return Object.values(route.responses).some((r) => r.schema !== undefined && 'shape' in r.schema && 'next_page' in (r.schema as z.ZodObject).shape);
}

/** Every query parameter a route accepts: the common ones, pagination for lists, its own. */
export function queryShape(route: RouteDef): Record<string, z.ZodType> {
  return { ...commonQuery, ...(isListRoute(route) ? pageQuery : {}), ...(route.request.query?.shape ?? {}) };
}
