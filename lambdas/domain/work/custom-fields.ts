/**
 * Custom field use cases: definitions (text, number, enum, multi_enum, date, people),
 * their enum options, and the settings that put a field on a project. Values on tasks
 * are written by the task use cases (tasks.ts) and presented by task-views.ts.
 *
 * Access: full members see the organization's custom fields, guests only those used by
 * projects they can see (customFieldVisible, canSeeCustomField); invisible fields answer
 * 404. Only full members create or change definitions and options
 * (canChangeCustomFieldDefinitions; 403 for guests). Putting a field on
 * a project, or taking it off, needs edit rights on the project (canEditProject).
 *
 * Decisions: names are unique (case-insensitively) among a workspace's live fields, as
 * in Asana; a field's type never changes; enum and multi_enum fields keep at least one
 * enabled option and at most 500 options; options are never deleted, only disabled.
 * Deleting a field is soft: it vanishes from every answer (also from tasks and project
 * settings). Taking a field off a project keeps the values tasks have for it.
 *
 * Change tracking: every change of a field, option or setting moves its modified_at; a
 * change of a field's options moves the field's, and of a project's settings the
 * project's (they are exported inside them); a setting taken off a project is recorded in
 * deleted_objects (a tombstone in incremental exports).
 */
import { sql } from 'kysely';
import { keysetPage, type KeysetPage } from '../../db/query.js';
import type { CustomFieldType } from '../../db/schema.js';
import { canChangeCustomFieldDefinitions, canSeeCustomField, customFieldVisible, viewerIn, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import { movedTo, recordDeletions, touchRows, viewerForObject, type Db } from './common.js';
import { projectCompact, userCompact } from './present.js';
import { assertProjectEditable, assertProjectVisible, type Page } from './projects.js';

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'enum', 'multi_enum', 'date', 'people'] as const satisfies readonly CustomFieldType[];
/** Asana's palette for enum options. */
export const ENUM_OPTION_COLORS = ['none', 'red', 'orange', 'yellow-orange', 'yellow', 'yellow-green', 'green', 'blue-green', 'aqua', 'blue', 'indigo', 'purple', 'magenta', 'hot-pink', 'pink', 'cool-gray'] as const;
export type EnumOptionColor = (typeof ENUM_OPTION_COLORS)[number];
export const MAX_ENUM_OPTIONS = 500;
export const MAX_PRECISION = 6;

export interface EnumOptionInput {
  name: string;
  color?: EnumOptionColor | undefined;
  enabled?: boolean | undefined;
}

export interface CreateCustomFieldInput {
  /** When given, must be the viewer's organization (the field's workspace is fixed at creation). */
  workspace?: string | undefined;
  name: string;
  description?: string | undefined;
  resource_subtype: CustomFieldType;
  precision?: number | undefined;
  enum_options?: EnumOptionInput[] | undefined;
}

/** PUT /custom_fields/{gid}: name, description and precision change; the rest is refused when it would change. */
export interface UpdateCustomFieldInput {
  name?: string | undefined;
  description?: string | undefined;
  precision?: number | undefined;
  resource_subtype?: CustomFieldType | undefined;
  /** Deprecated alias of resource_subtype. */
  type?: CustomFieldType | undefined;
  enum_options?: unknown[] | undefined;
  workspace?: string | undefined;
}

export interface AddSettingInput {
  /** A field's gid, or (as Asana allows) a new field to create in the project's workspace. */
  custom_field: string | CreateCustomFieldInput;
  is_important?: boolean | undefined;
  insert_before?: string | null | undefined;
  insert_after?: string | null | undefined;
}

const bad = (field: string, why: string) => new BadRequestError(`${field}: ${why}`, [{ message: `${field}: ${why}` }]);
const isEnum = (type: string) => type === 'enum' || type === 'multi_enum';

// --- Access -----------------------------------------------------------------------

async function assertFieldVisible(db: Db, viewer: Viewer, fieldGid: string): Promise<void> {
  if (!(await canSeeCustomField(db, viewer, fieldGid))) throw new NotFoundError('Custom field not found');
}

function assertCanChangeDefinitions(viewer: Viewer): void {
  if (!canChangeCustomFieldDefinitions(viewer)) throw new ForbiddenError('Guests cannot create or change custom fields');
}

/** The viewer for a custom field the caller can see; 404 otherwise (unknown, deleted, other organization, not visible). */
export async function customFieldViewer(db: Db, principal: Principal, fieldGid: string): Promise<Viewer> {
  const viewer = await viewerForObject(db, principal, 'custom_fields', fieldGid);
  await assertFieldVisible(db, viewer, fieldGid);
  return viewer;
}

/** The viewer and field of an enum option whose field the caller can see; 404 otherwise. */
export async function enumOptionViewer(db: Db, principal: Principal, optionGid: string): Promise<{ viewer: Viewer; fieldGid: string }> {
  const row = await db.selectFrom('custom_field_enum_options as e').innerJoin('custom_fields as cf', 'cf.gid', 'e.custom_field_gid').select(['cf.gid', 'cf.organization_gid']).where('e.gid', '=', optionGid).executeTakeFirst();
  if (!row) throw new NotFoundError('Enum option not found');
  const viewer = await viewerIn(db, principal, row.organization_gid);
  await assertFieldVisible(db, viewer, row.gid);
  return { viewer, fieldGid: row.gid };
}

// --- Ordered lists (enum options of a field, settings of a project) ----------------

type OrderedList = { table: 'custom_field_enum_options'; parent: 'custom_field_gid'; alias: null } | { table: 'project_custom_field_settings'; parent: 'project_gid'; alias: 'custom_field_gid' };
const OPTIONS: OrderedList = { table: 'custom_field_enum_options', parent: 'custom_field_gid', alias: null };
const SETTINGS: OrderedList = { table: 'project_custom_field_settings', parent: 'project_gid', alias: 'custom_field_gid' };

interface Placement {
  before?: string | null | undefined;
  after?: string | null | undefined;
  /** The request fields naming the anchors, for error paths. */
  fields: [string, string];
  /** What an anchor must be, for error messages. */
  what: string;
  /** The row being moved (never its own anchor). */
  moving?: string;
}

async function orderedRows(db: Db, list: OrderedList, parentGid: string) {
  const alias = list.alias ? sql.ref(list.alias) : sql`null`;
  const result = await sql<{ gid: string; alias: string | null; position: number }>`select gid, ${alias} as alias, position from ${sql.table(list.table)} where ${sql.ref(list.parent)} = ${parentGid} order by position, gid`.execute(db);
  return result.rows.map((r) => ({ ...r, position: Number(r.position) }));
}

/**
 * The position for a row placed before or after an anchor (a row gid; for settings also
 * the custom field's gid), or at the end. When the gap between neighbours is exhausted
 * the list is renumbered first.
 */
async function positionFor(db: Db, list: OrderedList, parentGid: string, where: Placement, now: Date): Promise<number | null> {
  const [beforeField, afterField] = where.fields;
  if (where.before && where.after) throw bad('data', `${beforeField} and ${afterField} cannot both be given`);
  const anchor = where.before ?? where.after;
  const field = `data.${where.before ? beforeField : afterField}`;
  if (anchor && anchor === where.moving) throw bad(field, 'cannot place an item relative to itself');
  for (let attempt = 0; attempt < 2; attempt++) {
    const rows = (await orderedRows(db, list, parentGid)).filter((r) => r.gid !== where.moving);
    if (!anchor) return where.moving ? null : (rows.at(-1)?.position ?? 0) + 1;
    const i = rows.findIndex((r) => r.gid === anchor || r.alias === anchor);
    if (i < 0) throw bad(field, `not ${where.what}`);
    const [low, high] = where.before ? [rows[i - 1]?.position ?? null, rows[i]!.position] : [rows[i]!.position, rows[i + 1]?.position ?? null];
    const position = low === null ? high! - 1 : high === null ? low + 1 : (low + high) / 2;
    if ((low === null || position > low) && (high === null || position < high)) return position;
    // Doubles ran out between the neighbours: spread the list out and try again.
    for (const [n, r] of (await orderedRows(db, list, parentGid)).entries()) {
      await sql`update ${sql.table(list.table)} set position = ${n + 1}, modified_at = greatest(modified_at, ${now}) where gid = ${r.gid}`.execute(db);
    }
  }
  throw new Error('could not find a position between neighbours');
}

// --- Custom fields ----------------------------------------------------------------

async function assertNameFree(db: Db, organizationGid: string, name: string, except: string | undefined, field = 'data.name'): Promise<void> {
  let q = db.selectFrom('custom_fields').select('gid').where('organization_gid', '=', organizationGid).where('deleted_at', 'is', null).where(sql<boolean>`lower(name) = lower(${name})`);
  if (except) q = q.where('gid', '<>', except);
  if (await q.executeTakeFirst()) throw bad(field, 'a custom field with this name already exists in the workspace');
}

function checkNewField(input: CreateCustomFieldInput, prefix: string): void {
  const type = input.resource_subtype;
  if (input.precision !== undefined && type !== 'number') throw bad(`${prefix}.precision`, 'only number fields have a precision');
  const options = input.enum_options ?? [];
  if (options.length && !isEnum(type)) throw bad(`${prefix}.enum_options`, 'only enum and multi_enum fields have options');
  if (isEnum(type) && !options.some((o) => o.enabled !== false)) throw bad(`${prefix}.enum_options`, 'an enum field needs at least one enabled option');
  if (options.length > MAX_ENUM_OPTIONS) throw bad(`${prefix}.enum_options`, `a field has at most ${MAX_ENUM_OPTIONS} options`);
}

/** Writes a new field in the caller's transaction; `prefix` names the request object in errors. */
async function insertCustomField(db: Db, deps: AppDeps, viewer: Viewer, input: CreateCustomFieldInput, prefix: string): Promise<string> {
  assertCanChangeDefinitions(viewer);
  if (input.workspace !== undefined && input.workspace !== viewer.organizationGid) throw bad(`${prefix}.workspace`, "must be the project's workspace");
  checkNewField(input, prefix);
  const gid = deps.ids.gid();
  const type = input.resource_subtype;
  const now = deps.clock.now();
  await assertNameFree(db, viewer.organizationGid, input.name, undefined, `${prefix}.name`);
  await db
    .insertInto('custom_fields')
    .values({ gid, organization_gid: viewer.organizationGid, name: input.name, description: input.description ?? '', resource_subtype: type, precision: type === 'number' ? (input.precision ?? 0) : null, created_by: viewer.userGid, created_at: now, modified_at: now })
    .execute();
  for (const [i, o] of (input.enum_options ?? []).entries()) {
    await db.insertInto('custom_field_enum_options').values({ gid: deps.ids.gid(), custom_field_gid: gid, name: o.name, color: o.color ?? 'none', enabled: o.enabled ?? true, position: i + 1, modified_at: now }).execute();
  }
  return gid;
}

export async function createCustomField(deps: AppDeps, viewer: Viewer, input: CreateCustomFieldInput): Promise<string> {
  return deps.database.db.transaction().execute((db) => insertCustomField(db, deps, viewer, input, 'data'));
}

export async function updateCustomField(deps: AppDeps, viewer: Viewer, fieldGid: string, input: UpdateCustomFieldInput): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertFieldVisible(db, viewer, fieldGid);
    assertCanChangeDefinitions(viewer);
    const field = await db.selectFrom('custom_fields').select(['resource_subtype', 'organization_gid']).where('gid', '=', fieldGid).executeTakeFirstOrThrow();
    for (const key of ['resource_subtype', 'type'] as const) {
      if (input[key] !== undefined && input[key] !== field.resource_subtype) throw bad(`data.${key}`, `the type of a custom field cannot be changed (it is ${field.resource_subtype})`);
    }
    if (input.workspace !== undefined && input.workspace !== field.organization_gid) throw bad('data.workspace', 'a custom field cannot move to another workspace');
    if (input.enum_options !== undefined) throw bad('data.enum_options', 'change options through /custom_fields/{gid}/enum_options and /enum_options/{gid}');
    if (input.precision !== undefined && field.resource_subtype !== 'number') throw bad('data.precision', 'only number fields have a precision');
    const set: Record<string, unknown> = {};
    if (input.name !== undefined) {
      await assertNameFree(db, field.organization_gid, input.name, fieldGid);
      set.name = input.name;
    }
    if (input.description !== undefined) set.description = input.description;
    if (input.precision !== undefined) set.precision = input.precision;
    if (Object.keys(set).length) await db.updateTable('custom_fields').set({ ...set, modified_at: movedTo(now) }).where('gid', '=', fieldGid).execute();
  });
}

/** Soft delete: the field vanishes from every answer, with its values on tasks and its project settings. */
export async function deleteCustomField(deps: AppDeps, viewer: Viewer, fieldGid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertFieldVisible(db, viewer, fieldGid);
    assertCanChangeDefinitions(viewer);
    await db.updateTable('custom_fields').set({ deleted_at: now, modified_at: movedTo(now) }).where('gid', '=', fieldGid).where('deleted_at', 'is', null).execute();
  });
}

/** Custom fields of a workspace the viewer can see, by name. */
export async function listCustomFields(db: Db, viewer: Viewer, page: Page): Promise<KeysetPage<{ gid: string; name: string }>> {
  const base = db.selectFrom('custom_fields as cf').select(['cf.gid', 'cf.name']).where(customFieldVisible(viewer, 'cf'));
  return keysetPage(db, base, { keys: [{ column: 'name' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

// --- Enum options -----------------------------------------------------------------

async function assertEnumField(db: Db, fieldGid: string): Promise<void> {
  const field = await db.selectFrom('custom_fields').select('resource_subtype').where('gid', '=', fieldGid).executeTakeFirstOrThrow();
  if (!isEnum(field.resource_subtype)) throw bad('custom_field_gid', `a ${field.resource_subtype} field has no enum options`);
}

export async function createEnumOption(deps: AppDeps, viewer: Viewer, fieldGid: string, input: EnumOptionInput & { insert_before?: string | undefined; insert_after?: string | undefined }): Promise<string> {
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertFieldVisible(db, viewer, fieldGid);
    assertCanChangeDefinitions(viewer);
    await assertEnumField(db, fieldGid);
    const count = await db.selectFrom('custom_field_enum_options').select(sql<number>`count(*)`.as('n')).where('custom_field_gid', '=', fieldGid).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_ENUM_OPTIONS) throw bad('data', `a field has at most ${MAX_ENUM_OPTIONS} options (disabled ones included)`);
    const position = (await positionFor(db, OPTIONS, fieldGid, { before: input.insert_before, after: input.insert_after, fields: ['insert_before', 'insert_after'], what: 'an option of this field' }, now))!;
    await db.insertInto('custom_field_enum_options').values({ gid, custom_field_gid: fieldGid, name: input.name, color: input.color ?? 'none', enabled: input.enabled ?? true, position, modified_at: now }).execute();
    await touchRows(db, 'custom_fields', fieldGid, now);
  });
  return gid;
}

/** POST /custom_fields/{gid}/enum_options/insert: moves an option before or after another one. */
export async function insertEnumOption(deps: AppDeps, viewer: Viewer, fieldGid: string, input: { enum_option: string; before_enum_option?: string | undefined; after_enum_option?: string | undefined }): Promise<void> {
  if (!input.before_enum_option && !input.after_enum_option) throw bad('data', 'give before_enum_option or after_enum_option');
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertFieldVisible(db, viewer, fieldGid);
    assertCanChangeDefinitions(viewer);
    const option = await db.selectFrom('custom_field_enum_options').select('gid').where('gid', '=', input.enum_option).where('custom_field_gid', '=', fieldGid).executeTakeFirst();
    if (!option) throw bad('data.enum_option', 'not an option of this field');
    const position = await positionFor(db, OPTIONS, fieldGid, { before: input.before_enum_option, after: input.after_enum_option, fields: ['before_enum_option', 'after_enum_option'], what: 'an option of this field', moving: input.enum_option }, now);
    await db.updateTable('custom_field_enum_options').set({ position: position!, modified_at: movedTo(now) }).where('gid', '=', input.enum_option).execute();
    await touchRows(db, 'custom_fields', fieldGid, now);
  });
}

/**
 * PUT /enum_options/{gid}. A disabled option stays on the tasks that have it but cannot
 * be chosen again (tasks.writeCustomFields); a field keeps at least one enabled option.
 */
export async function updateEnumOption(deps: AppDeps, viewer: Viewer, fieldGid: string, optionGid: string, input: { name?: string | undefined; color?: EnumOptionColor | undefined; enabled?: boolean | undefined }): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertFieldVisible(db, viewer, fieldGid);
    assertCanChangeDefinitions(viewer);
    if (input.enabled === false) {
      const others = await db.selectFrom('custom_field_enum_options').select('gid').where('custom_field_gid', '=', fieldGid).where('enabled', '=', true).where('gid', '<>', optionGid).executeTakeFirst();
      if (!others) throw bad('data.enabled', 'an enum field needs at least one enabled option');
    }
    const set: Record<string, unknown> = {};
    if (input.name !== undefined) set.name = input.name;
    if (input.color !== undefined) set.color = input.color;
    if (input.enabled !== undefined) set.enabled = input.enabled;
    if (Object.keys(set).length) {
      await db.updateTable('custom_field_enum_options').set({ ...set, modified_at: movedTo(now) }).where('gid', '=', optionGid).execute();
      await touchRows(db, 'custom_fields', fieldGid, now);
    }
  });
}

// --- Project settings -------------------------------------------------------------

/**
 * Puts a field on a project (at the end, or before/after another setting of the project,
 * named by the setting's or its field's gid). The field must be visible to the viewer.
 */
export async function addCustomFieldSetting(deps: AppDeps, viewer: Viewer, projectGid: string, input: AddSettingInput): Promise<string> {
  const gid = deps.ids.gid();
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    let fieldGid: string;
    if (typeof input.custom_field === 'string') {
      fieldGid = input.custom_field;
      await assertFieldVisible(db, viewer, fieldGid);
      const existing = await db.selectFrom('project_custom_field_settings').select('gid').where('project_gid', '=', projectGid).where('custom_field_gid', '=', fieldGid).executeTakeFirst();
      if (existing) throw bad('data.custom_field', 'the custom field is already on this project');
    } else fieldGid = await insertCustomField(db, deps, viewer, input.custom_field, 'data.custom_field');
    const position = (await positionFor(db, SETTINGS, projectGid, { before: input.insert_before, after: input.insert_after, fields: ['insert_before', 'insert_after'], what: 'a custom field setting of this project' }, now))!;
    await db.insertInto('project_custom_field_settings').values({ gid, project_gid: projectGid, custom_field_gid: fieldGid, is_important: input.is_important ?? false, position, modified_at: now }).execute();
    await touchRows(db, 'projects', projectGid, now);
  });
  return gid;
}

/** Takes a field off a project; values tasks have for it are kept. */
export async function removeCustomFieldSetting(deps: AppDeps, viewer: Viewer, projectGid: string, fieldGid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await assertProjectEditable(db, viewer, projectGid);
    const removed = await db.deleteFrom('project_custom_field_settings').where('project_gid', '=', projectGid).where('custom_field_gid', '=', fieldGid).returning('gid').execute();
    if (removed.length === 0) throw bad('data.custom_field', 'the custom field is not on this project');
    const project = await db.selectFrom('projects').select('organization_gid').where('gid', '=', projectGid).executeTakeFirstOrThrow();
    await recordDeletions(
      db,
      removed.map((r) => ({ organizationGid: project.organization_gid, resourceType: 'custom_field_setting' as const, gid: r.gid, deletedAt: now })),
    );
    await touchRows(db, 'projects', projectGid, now);
  });
}

export interface SettingRow {
  gid: string;
  project_gid: string;
  project_name: string;
  custom_field_gid: string;
  is_important: boolean;
  position: number;
}

const settingQuery = (db: Db) =>
  db
    .selectFrom('project_custom_field_settings as s')
    .innerJoin('custom_fields as cf', 'cf.gid', 's.custom_field_gid')
    .innerJoin('projects as p', 'p.gid', 's.project_gid')
    .select(['s.gid', 's.project_gid', 'p.name as project_name', 's.custom_field_gid', 's.is_important', 's.position'])
    .where('cf.deleted_at', 'is', null);

/** The settings of a project the viewer can see, in the project's order. */
export async function listCustomFieldSettings(db: Db, viewer: Viewer, projectGid: string, page: Page): Promise<KeysetPage<SettingRow>> {
  await assertProjectVisible(db, viewer, projectGid);
  return keysetPage(db, settingQuery(db).where('s.project_gid', '=', projectGid), { keys: [{ column: 'position' }, { column: 'gid' }], limit: page.limit, after: page.offset });
}

export async function getCustomFieldSetting(db: Db, settingGid: string): Promise<SettingRow> {
  return settingQuery(db).where('s.gid', '=', settingGid).executeTakeFirstOrThrow();
}

// --- Presentation -----------------------------------------------------------------

export interface EnumOptionView {
  gid: string;
  resource_type: 'enum_option';
  name: string;
  enabled: boolean;
  color: string;
}

export const enumOptionView = (o: { gid: string; name: string; enabled: boolean; color: string | null }): EnumOptionView => ({ gid: o.gid, resource_type: 'enum_option', name: o.name, enabled: o.enabled, color: o.color ?? 'none' });

export async function getEnumOption(db: Db, optionGid: string): Promise<EnumOptionView> {
  return enumOptionView(await db.selectFrom('custom_field_enum_options').select(['gid', 'name', 'enabled', 'color']).where('gid', '=', optionGid).executeTakeFirstOrThrow());
}

/** CustomFieldCompact keys (Asana's compact carries enum_options for enum fields). */
const COMPACT_KEYS = ['gid', 'resource_type', 'name', 'resource_subtype', 'type', 'representation_type', 'enum_options'] as const;

export function customFieldCompactOf(full: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(COMPACT_KEYS.filter((k) => k in full).map((k) => [k, full[k]]));
}

/** Full custom field representations (CustomFieldResponse) in two queries for any number of fields. */
export async function loadCustomFieldViews(db: Db, gids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  if (gids.length === 0) return out;
  const [fields, options] = await Promise.all([
    db
      .selectFrom('custom_fields as cf')
      .leftJoin('users as u', 'u.gid', 'cf.created_by')
      .select(['cf.gid', 'cf.name', 'cf.description', 'cf.resource_subtype', 'cf.precision', 'u.gid as creator_gid', 'u.name as creator_name'])
      .where('cf.gid', 'in', gids)
      .execute(),
    db.selectFrom('custom_field_enum_options').select(['gid', 'custom_field_gid', 'name', 'enabled', 'color']).where('custom_field_gid', 'in', gids).orderBy('position').orderBy('gid').execute(),
  ]);
  const optionsBy = new Map<string, EnumOptionView[]>();
  for (const o of options) optionsBy.set(o.custom_field_gid, [...(optionsBy.get(o.custom_field_gid) ?? []), enumOptionView(o)]);
  for (const f of fields) {
    out.set(f.gid, {
      gid: f.gid,
      resource_type: 'custom_field',
      name: f.name,
      description: f.description,
      resource_subtype: f.resource_subtype,
      type: f.resource_subtype,
      representation_type: f.resource_subtype,
      ...(f.resource_subtype === 'number' ? { precision: f.precision ?? 0 } : {}),
      ...(isEnum(f.resource_subtype) ? { enum_options: optionsBy.get(f.gid) ?? [] } : {}),
      created_by: f.creator_gid ? userCompact({ gid: f.creator_gid, name: f.creator_name ?? '' }) : null,
      is_global_to_workspace: true,
      has_notifications_enabled: false,
      format: 'none',
      currency_code: null,
      custom_label: null,
      custom_label_position: null,
      is_formula_field: false,
      is_value_read_only: false,
      id_prefix: null,
      asana_created_field: null,
    });
  }
  return out;
}

export async function customFieldView(db: Db, fieldGid: string): Promise<Record<string, unknown>> {
  const view = (await loadCustomFieldViews(db, [fieldGid])).get(fieldGid);
  if (!view) throw new NotFoundError('Custom field not found');
  return view;
}

/** CustomFieldSettingResponse; the field compact, or full when `full`. */
export async function settingViews(db: Db, rows: SettingRow[], full: boolean): Promise<Record<string, unknown>[]> {
  const fields = await loadCustomFieldViews(db, [...new Set(rows.map((r) => r.custom_field_gid))]);
  return rows.map((r) => {
    const field = fields.get(r.custom_field_gid)!;
    const project = projectCompact({ gid: r.project_gid, name: r.project_name });
    return { gid: r.gid, resource_type: 'custom_field_setting', custom_field: full ? field : customFieldCompactOf(field), project, parent: project, is_important: r.is_important };
  });
}
