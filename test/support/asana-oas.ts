/**
 * Asana's own OpenAPI document (../shared/reference/asana_oas.yaml), loaded once and
 * turned into JSON Schema for Ajv, so tests can check our real answers against the
 * schema Asana declares for the same path and method.
 *
 * OpenAPI 3.0 is not JSON Schema, so the schemas are converted first:
 * - `allOf` whose members are all object schemas is merged into one object schema, later
 *   members overriding earlier ones property by property (Asana's documents rely on this:
 *   e.g. TaskUpdateRequest redeclares TaskBase's read-only `assignee`; plain JSON Schema
 *   `allOf` would require both declarations at once). Members that only annotate, like
 *   the `{nullable: true}` in `assignee: allOf [UserCompact, {nullable: true}]`, apply to
 *   the whole; aliases (`SectionBase: {$ref: SectionCompact}`) are followed;
 * - `nullable: true` becomes a `null` type (or `anyOf [null, ...]` without a type), and
 *   `null` joins an `enum` of a nullable schema;
 * - `$ref` siblings are dropped (OpenAPI 3.0 ignores them), except `nullable`;
 * - annotations Ajv does not need (example, x-*, readOnly, writeOnly, deprecated,
 *   discriminator, xml, externalDocs) are removed; request bodies are validated without
 *   the `readOnly` properties (OpenAPI: they are not sent, e.g. TaskBase.memberships).
 * Formats used by the document (date, date-time, uri, email, binary) are checked with
 * small local definitions, so only Ajv itself is needed (ajv 8 and yaml 2 are devDependencies).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

export const ASANA_OAS_FILE = process.env.ASANA_OAS_FILE ?? fileURLToPath(new URL('../../../shared/reference/asana_oas.yaml', import.meta.url));

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
const METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

type Schema = Record<string, any>;

export interface OasOperation {
  operationId: string;
  method: HttpMethod;
  /** The OAS path template, relative to /api/1.0, e.g. /tasks/{task_gid}. */
  path: string;
  tags: string[];
  /** The first 2xx status the operation declares, and its JSON body schema (OAS form). */
  successStatus: number | null;
  successSchema: Schema | null;
  /** The statuses of the error answers it declares (400, 401, 403, 404, 500...). */
  errorStatuses: number[];
  /** The JSON request body schema (OAS form), if the operation takes one. */
  requestSchema: Schema | null;
  /** The allowed values of opt_fields (dotted paths), if the operation takes it. */
  optFields: string[];
  /** The names of the query parameters it declares. */
  queryParams: string[];
}

export interface Validation {
  valid: boolean;
  /** Ajv's errors as "instancePath message (schemaPath)" lines. */
  errors: string[];
}

const DROP = new Set(['example', 'examples', 'readOnly', 'writeOnly', 'deprecated', 'discriminator', 'xml', 'externalDocs']);
/** Keywords whose value is a map of names to schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);
/** Keywords whose value is one schema or a list of schemas. */
const SCHEMA_VALUES = new Set(['items', 'additionalProperties', 'not', 'allOf', 'anyOf', 'oneOf', 'contains', 'propertyNames', 'if', 'then', 'else']);

const REF_PREFIX = '#/components/schemas/';
/** Two Ajv documents: answers as declared, and requests without the read-only properties (OpenAPI: readOnly properties are not sent). */
const AJV_DOC_ID = { response: 'asana-oas', request: 'asana-oas-request' } as const;
type Mode = keyof typeof AJV_DOC_ID;

/** Does a concrete or templated path match an OAS template? Template parameters match any one segment. */
export function pathMatches(template: string, path: string): boolean {
  const t = template.split('/');
  const p = path.split('/');
  return t.length === p.length && t.every((seg, i) => seg === p[i] || /^\{[^}]+\}$/.test(seg));
}

export class AsanaOas {
  readonly document: Schema;
  readonly operations: OasOperation[] = [];
  private readonly flatComponents = new Map<string, Schema>();
  private readonly inProgress = new Set<string>();
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(document: Schema) {
    this.document = document;
    for (const [path, item] of Object.entries<Schema>(document.paths ?? {})) {
      const shared: Schema[] = item.parameters ?? [];
      for (const method of METHODS) {
        const op: Schema | undefined = item[method.toLowerCase()];
        if (!op) continue;
        const responses = Object.entries<Schema>(op.responses ?? {});
        const success = responses.find(([status]) => /^2\d\d$/.test(status));
        const parameters = [...shared, ...(op.parameters ?? [])].map((p) => this.resolve(p));
        const optFieldsParam = parameters.find((p) => p.name === 'opt_fields');
        const requestBody = op.requestBody ? this.resolve(op.requestBody) : null;
        this.operations.push({
          operationId: op.operationId,
          method,
          path,
          tags: op.tags ?? [],
          successStatus: success ? Number(success[0]) : null,
          successSchema: success ? (this.resolve(success[1]).content?.['application/json']?.schema ?? null) : null,
          errorStatuses: responses.map(([s]) => s).filter((s) => /^[45]\d\d$/.test(s)).map(Number),
          requestSchema: requestBody?.content?.['application/json']?.schema ?? null,
          optFields: optFieldsParam?.schema?.items?.enum ?? [],
          queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name as string),
        });
      }
    }
    this.ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
    this.ajv.addFormat('date', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) });
    this.ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s)) });
    this.ajv.addFormat('uri', { type: 'string', validate: (s: string) => URL.canParse(s) && /^[a-z][a-z0-9+.-]*:/i.test(s) });
    this.ajv.addFormat('email', { type: 'string', validate: (s: string) => /^[^\s@]+@[^\s@]+$/.test(s) });
    this.ajv.addFormat('binary', true);
    for (const mode of ['response', 'request'] as const) {
      const definitions: Schema = {};
      for (const name of Object.keys(document.components?.schemas ?? {})) definitions[name] = this.toJsonSchema(this.component(name), mode);
      this.ajv.addSchema({ $id: AJV_DOC_ID[mode], definitions });
    }
  }

  /** The operation with this id. */
  byId(operationId: string): OasOperation | undefined {
    return this.operations.find((o) => o.operationId === operationId);
  }

  /**
   * The operation for a method and a path (concrete, or a template whose parameters may
   * be named differently): literal segments must agree; when several templates match,
   * the one with the most literal segments wins (/users/me/... before /users/{user_gid}/...).
   */
  find(method: string, path: string): OasOperation | undefined {
    const normalized = path.replace(/\{[^}]+\}/g, '{}');
    const candidates = this.operations.filter((o) => o.method === method.toUpperCase() && pathMatches(o.path, path) && !this.templateHasLiteralWhereParam(o.path, normalized));
    return candidates.sort((a, b) => literals(b.path) - literals(a.path))[0];
  }

  private templateHasLiteralWhereParam(template: string, normalized: string) {
    const t = template.split('/');
    return normalized.split('/').some((seg, i) => seg === '{}' && !/^\{[^}]+\}$/.test(t[i] ?? ''));
  }

  /** Validates a whole answer body (the {data...} envelope) against what the operation declares for that status. */
  validateResponse(op: OasOperation, status: number, body: unknown): Validation {
    const schema = this.responseSchema(op, status);
    if (!schema) return { valid: false, errors: [`${op.operationId} declares no JSON body for status ${status}`] };
    return this.run(`response:${op.operationId}:${status}`, schema, body, 'response');
  }

  /** Validates a request body ({data: ...}) against the operation's request schema. */
  validateRequest(op: OasOperation, body: unknown): Validation {
    if (!op.requestSchema) return { valid: false, errors: [`${op.operationId} takes no JSON body`] };
    return this.run(`request:${op.operationId}`, op.requestSchema, body, 'request');
  }

  /** Validates a value against a named component schema (e.g. "TaskResponse", "ErrorResponse"). */
  validateSchema(name: string, value: unknown): Validation {
    if (!this.document.components?.schemas?.[name]) throw new Error(`No schema ${name} in the OAS`);
    return this.run(`schema:${name}`, { $ref: `${REF_PREFIX}${name}` }, value, 'response');
  }

  /** The schema the operation declares for an answer with this status (OAS form), following components/responses. */
  responseSchema(op: OasOperation, status: number): Schema | null {
    if (status === op.successStatus) return op.successSchema;
    const raw = this.document.paths[op.path][op.method.toLowerCase()].responses?.[String(status)] ?? this.document.paths[op.path][op.method.toLowerCase()].responses?.default;
    if (!raw) return null;
    return this.resolve(raw).content?.['application/json']?.schema ?? null;
  }

  /** The component name of `data` in the success body ("TaskResponse", or for lists the item's "TaskCompact"). */
  dataSchemaName(op: OasOperation): string | null {
    const data = op.successSchema?.properties?.data;
    const ref: string | undefined = data?.$ref ?? data?.items?.$ref;
    return ref?.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : null;
  }

  /**
   * Properties present in a value that the schema does not declare (paths like
   * "data.hearted", "data.memberships[].section.foo"). Asana's schemas allow extra
   * properties, so these are not errors; they show where we answer more than Asana documents.
   */
  undeclaredFields(schema: Schema, value: unknown): string[] {
    const out = new Set<string>();
    this.walkUndeclared(schema, value, '', out, 0);
    return [...out].sort();
  }

  private walkUndeclared(schema: Schema | undefined, value: unknown, path: string, out: Set<string>, depth: number) {
    if (!schema || depth > 12 || value === null || typeof value !== 'object') return;
    const branches = this.branches(schema, 0);
    if (Array.isArray(value)) {
      const items = branches.map((b) => b.items).find(Boolean);
      for (const v of value.slice(0, 5)) this.walkUndeclared(items, v, `${path}[]`, out, depth + 1);
      return;
    }
    const props: Record<string, Schema> = Object.assign({}, ...branches.map((b) => b.properties ?? {}));
    const open = branches.some((b) => b.additionalProperties && typeof b.additionalProperties === 'object');
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const child = props[key];
      const where = path ? `${path}.${key}` : key;
      if (child) this.walkUndeclared(child, v, where, out, depth + 1);
      else if (!open) out.add(where);
    }
  }

  /** The schema and, through allOf/anyOf/oneOf, every schema whose properties may apply. */
  private branches(schema: Schema, depth: number): Schema[] {
    const s = this.deref(schema);
    if (!s || depth > 8) return [];
    return [s, ...[...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])].flatMap((b: Schema) => this.branches(b, depth + 1))];
  }

  /** A schema with its allOf merged and a component $ref followed. */
  private deref(schema: Schema): Schema {
    const s = this.flatten(schema);
    return typeof s?.$ref === 'string' && s.$ref.startsWith(REF_PREFIX) ? this.component(s.$ref.slice(REF_PREFIX.length)) : s;
  }

  private run(key: string, schema: Schema, value: unknown, mode: Mode): Validation {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.toJsonSchema(this.flatten(schema), mode));
      this.compiled.set(key, validate);
    }
    const valid = validate(value) as boolean;
    return { valid, errors: valid ? [] : (validate.errors ?? []).map(describe) };
  }

  /** Follows a $ref to components (responses, parameters, requestBodies, schemas) once. */
  private resolve(node: Schema): Schema {
    let current = node;
    for (let i = 0; i < 10 && typeof current?.$ref === 'string'; i++) {
      const parts = (current.$ref as string).replace(/^#\//, '').split('/');
      current = parts.reduce<Schema>((acc, part) => acc?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], this.document);
      if (!current) throw new Error(`Unresolvable $ref ${node.$ref as string}`);
    }
    return current;
  }

  /** A component schema with its allOf merged (memoized). */
  private component(name: string): Schema {
    const cached = this.flatComponents.get(name);
    if (cached) return cached;
    const raw = this.document.components?.schemas?.[name];
    if (!raw) throw new Error(`No schema ${name} in the OAS`);
    this.inProgress.add(name);
    let flat = this.flatten(raw);
    // An alias (SectionBase: {$ref: SectionCompact}) is the schema it names.
    const alias = typeof flat.$ref === 'string' && Object.keys(flat).length === 1 && flat.$ref.startsWith(REF_PREFIX) ? flat.$ref.slice(REF_PREFIX.length) : null;
    if (alias && !this.inProgress.has(alias)) flat = this.component(alias);
    this.inProgress.delete(name);
    this.flatComponents.set(name, flat);
    return flat;
  }

  /**
   * Merges allOf (recursively, through inline schemas; $refs in properties stay $refs).
   * A member that is a $ref is inlined when it is an object schema and not part of a cycle.
   */
  private flatten(node: Schema): Schema {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return node;
    if (typeof node.$ref === 'string' && Object.keys(node).length === 1) return node;
    const out: Schema = {};
    for (const [k, v] of Object.entries(node)) {
      if (SCHEMA_MAPS.has(k) && v && typeof v === 'object') out[k] = Object.fromEntries(Object.entries<Schema>(v).map(([n, s]) => [n, this.flatten(s)]));
      else if (SCHEMA_VALUES.has(k) && k !== 'allOf') out[k] = Array.isArray(v) ? v.map((s) => this.flatten(s)) : this.flatten(v);
      else if (k !== 'allOf') out[k] = v;
    }
    if (!Array.isArray(node.allOf)) return out;
    // Members that only annotate (e.g. {nullable: true}, {description}) apply to the whole.
    const modifiers = (node.allOf as Schema[]).filter(isModifier);
    const real = (node.allOf as Schema[]).filter((m) => !isModifier(m));
    const members = real.map((m) => this.memberForMerge(m));
    if (members.some((m) => m === null)) {
      const kept: Schema = { ...Object.assign({}, ...modifiers), ...out, allOf: real.map((m) => this.flatten(m)) };
      return kept;
    }
    const merged: Schema = {};
    for (const m of [...(members as Schema[]), ...modifiers, out]) {
      for (const [k, v] of Object.entries(m)) {
        if (k === 'properties') merged.properties = { ...(merged.properties ?? {}), ...v };
        else if (k === 'required') merged.required = [...new Set([...(merged.required ?? []), ...v])];
        else merged[k] = v;
      }
    }
    return merged;
  }

  /** An allOf member ready to merge, or null when it cannot be merged (not an object schema, or a cycle). */
  private memberForMerge(member: Schema): Schema | null {
    let resolved: Schema;
    if (typeof member.$ref === 'string' && member.$ref.startsWith(REF_PREFIX)) {
      const name = member.$ref.slice(REF_PREFIX.length);
      if (this.inProgress.has(name)) return null;
      resolved = this.component(name);
    } else resolved = this.flatten(member);
    const objectLike = resolved.type === 'object' || (resolved.type === undefined && resolved.properties !== undefined);
    return objectLike && !resolved.anyOf && !resolved.oneOf && !resolved.allOf ? resolved : null;
  }

  /**
   * OpenAPI 3.0 schema (already flattened) -> JSON Schema (draft-07) for Ajv. For
   * requests, read-only properties are left out (and out of `required`).
   */
  private toJsonSchema(node: Schema, mode: Mode): Schema {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return node;
    if (typeof node.$ref === 'string') {
      const ref = { $ref: node.$ref.startsWith(REF_PREFIX) ? `${AJV_DOC_ID[mode]}#/definitions/${node.$ref.slice(REF_PREFIX.length)}` : node.$ref };
      return node.nullable === true ? { anyOf: [{ type: 'null' }, ref] } : ref;
    }
    const out: Schema = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'nullable' || DROP.has(k) || k.startsWith('x-')) continue;
      if (SCHEMA_MAPS.has(k) && v && typeof v === 'object') {
        const entries = Object.entries<Schema>(v).filter(([, s]) => !(mode === 'request' && k === 'properties' && s?.readOnly === true));
        out[k] = Object.fromEntries(entries.map(([n, s]) => [n, this.toJsonSchema(s, mode)]));
      } else if (SCHEMA_VALUES.has(k)) out[k] = Array.isArray(v) ? v.map((s) => this.toJsonSchema(s, mode)) : typeof v === 'boolean' ? v : this.toJsonSchema(v, mode);
      else out[k] = v;
    }
    if (mode === 'request' && Array.isArray(out.required) && node.properties) out.required = out.required.filter((n: string) => node.properties[n]?.readOnly !== true);
    if (node.nullable === true) {
      if (out.type !== undefined) {
        const types = Array.isArray(out.type) ? out.type : [out.type];
        out.type = types.includes('null') ? types : [...types, 'null'];
        if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      } else return { anyOf: [{ type: 'null' }, out] };
    }
    return out;
  }
}

/** Keywords that constrain a value (a schema without any of them only annotates). */
const CONSTRAINING = ['$ref', 'type', 'properties', 'items', 'enum', 'allOf', 'anyOf', 'oneOf', 'not', 'format', 'required', 'additionalProperties', 'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'];
const isModifier = (member: Schema) => member && typeof member === 'object' && !CONSTRAINING.some((k) => k in member);

const literals = (template: string) => template.split('/').filter((s) => s && !s.startsWith('{')).length;

function describe(e: ErrorObject): string {
  const params = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : e.keyword === 'enum' ? ` ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : '';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${params} (${e.schemaPath})`;
}

let cached: AsanaOas | undefined;

/** The OAS, parsed and prepared once per test module. */
export function loadAsanaOas(file = ASANA_OAS_FILE): AsanaOas {
  if (cached && file === ASANA_OAS_FILE) return cached;
  const oas = new AsanaOas(parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 }) as Schema);
  if (file === ASANA_OAS_FILE) cached = oas;
  return oas;
}
