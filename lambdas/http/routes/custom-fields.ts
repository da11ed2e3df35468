/**
 * Custom fields, enum options and project custom field settings: Asana's endpoints and
 * shapes. Access decisions come from the policy module through the custom field use
 * cases; values on tasks are written through the task endpoints (custom_fields).
 */
import { z } from 'zod';
import { viewerIn } from '../../domain/access/policy.js';
import type { AppDeps } from '../../domain/deps.js';
import {
  addCustomFieldSetting,
  createCustomField,
  createEnumOption,
  CUSTOM_FIELD_TYPES,
  customFieldCompactOf,
  customFieldView,
  customFieldViewer,
  deleteCustomField,
  ENUM_OPTION_COLORS,
  enumOptionViewer,
  getCustomFieldSetting,
  getEnumOption,
  insertEnumOption,
  listCustomFields,
  listCustomFieldSettings,
  loadCustomFieldViews,
  MAX_ENUM_OPTIONS,
  MAX_PRECISION,
  removeCustomFieldSetting,
  settingViews,
  updateCustomField,
  updateEnumOption,
} from '../../domain/work/custom-fields.js';
import { projectViewer } from '../../domain/work/projects.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid, longText } from '../schemas.js';

/** opt_fields as validated by the framework (common to every route, so not in each route's own query type). */
const optFieldsOf = (query: unknown) => (query as { opt_fields?: string }).opt_fields;

// --- Schemas ----------------------------------------------------------------------

const fieldType = z.enum(CUSTOM_FIELD_TYPES);
const fieldName = z.string().trim().min(1).max(256);
const description = longText();
const precision = z.number().int().min(0).max(MAX_PRECISION).meta({ description: 'Digits after the decimal point (number fields only).' });
const color = z.enum(ENUM_OPTION_COLORS);
const optionName = z.string().trim().min(1).max(256);
const enumOptionInput = z.object({ name: optionName, color: color.optional(), enabled: z.boolean().optional() });

const userRef = z.object({ gid, resource_type: z.literal('user'), name: z.string() });
const projectRef = z.object({ gid, resource_type: z.literal('project'), name: z.string() });
const enumOptionSchema = z.object({ gid, resource_type: z.literal('enum_option'), name: z.string(), enabled: z.boolean(), color: z.string() }).meta({ id: 'EnumOption' });
const customFieldCompactSchema = z
  .object({ gid, resource_type: z.literal('custom_field'), name: z.string(), resource_subtype: fieldType, type: fieldType, representation_type: fieldType, enum_options: z.array(enumOptionSchema).optional() })
  .meta({ id: 'CustomFieldCompact' });
const customFieldSchema = customFieldCompactSchema
  .extend({
    description: z.string(),
    precision: z.number().optional(),
    created_by: userRef.nullable(),
    is_global_to_workspace: z.boolean(),
    has_notifications_enabled: z.boolean(),
    format: z.literal('none'),
  })
  .loose()
  .meta({ id: 'CustomFieldResponse' });
const settingSchema = z
  .object({ gid, resource_type: z.literal('custom_field_setting'), custom_field: customFieldCompactSchema.loose(), project: projectRef, parent: projectRef, is_important: z.boolean() })
  .meta({ id: 'CustomFieldSettingResponse' });
const ok = dataBody(z.object({}));

/** CustomFieldCreateRequest (the subset we keep: no formats, formulas or reference fields). */
const createFieldBody = z.object({
  workspace: gid,
  name: fieldName,
  description: description.optional(),
  resource_subtype: fieldType,
  precision: precision.optional(),
  enum_options: z.array(enumOptionInput).max(MAX_ENUM_OPTIONS).optional(),
  format: z.literal('none').optional().meta({ description: "Only 'none' is supported." }),
});
/** CustomFieldRequest: type, workspace and options are accepted only unchanged/absent, so a client echoing the object back is told what cannot change. */
const updateFieldBody = z.object({
  name: fieldName.optional(),
  description: description.optional(),
  precision: precision.optional(),
  resource_subtype: fieldType.optional(),
  type: fieldType.optional(),
  enum_options: z.array(z.unknown()).optional(),
  workspace: gid.optional(),
  format: z.literal('none').optional(),
});
const createOptionBody = enumOptionInput.extend({ insert_before: gid.optional(), insert_after: gid.optional() });
const insertOptionBody = z.object({ enum_option: gid, before_enum_option: gid.optional(), after_enum_option: gid.optional() });
const updateOptionBody = z.object({ name: optionName.optional(), color: color.optional(), enabled: z.boolean().optional() });
const addSettingBody = z.object({
  custom_field: z.union([gid, createFieldBody.extend({ workspace: gid.optional() })]).meta({ description: 'A custom field gid, or a new custom field to create in the project\'s workspace.' }),
  is_important: z.boolean().optional(),
  insert_before: gid.nullable().optional().meta({ description: 'A custom field setting (or custom field) of the project before which the new setting goes.' }),
  insert_after: gid.nullable().optional().meta({ description: 'A custom field setting (or custom field) of the project after which the new setting goes.' }),
});

const fieldParams = z.object({ custom_field_gid: gid });
const projectParams = z.object({ project_gid: gid });

async function fieldAnswer(deps: AppDeps, fieldGid: string) {
  return { kind: 'data' as const, data: await customFieldView(deps.database.db, fieldGid) };
}

// --- Custom fields ----------------------------------------------------------------

export const customFieldRoutes = [
  defineRoute({
    method: 'POST',
    path: '/custom_fields',
    scope: 'api',
    operationId: 'createCustomField',
    summary: 'Create a custom field',
    description: 'Full members only. Names are unique within a workspace; enum and multi_enum fields need at least one enabled option.',
    tags: ['Custom fields'],
    auth: 'user',
    request: { body: createFieldBody },
    responses: { 201: { description: 'The custom field', schema: dataBody(customFieldSchema) } },
    async handle({ principal, body, deps }) {
      const viewer = await viewerIn(deps.database.db, principal, body.workspace);
      const created = await createCustomField(deps, viewer, body);
      return { ...(await fieldAnswer(deps, created)), status: 201 };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/custom_fields/{custom_field_gid}',
    scope: 'api',
    operationId: 'getCustomField',
    summary: 'Get a custom field',
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: fieldParams },
    responses: { 200: { description: 'The custom field', schema: dataBody(customFieldSchema) } },
    async handle({ principal, params, deps }) {
      await customFieldViewer(deps.database.db, principal, params.custom_field_gid);
      return fieldAnswer(deps, params.custom_field_gid);
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/custom_fields/{custom_field_gid}',
    scope: 'api',
    operationId: 'updateCustomField',
    summary: 'Update a custom field',
    description: "Name, description and precision. A field's type and workspace never change; options change through the enum option endpoints.",
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: fieldParams, body: updateFieldBody },
    responses: { 200: { description: 'The custom field', schema: dataBody(customFieldSchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await customFieldViewer(deps.database.db, principal, params.custom_field_gid);
      await updateCustomField(deps, viewer, params.custom_field_gid, body);
      return fieldAnswer(deps, params.custom_field_gid);
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/custom_fields/{custom_field_gid}',
    scope: 'api',
    operationId: 'deleteCustomField',
    summary: 'Delete a custom field',
    description: 'The field vanishes from the API, with its values on tasks and its project settings.',
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: fieldParams },
    responses: { 200: { description: 'Deleted', schema: ok } },
    async handle({ principal, params, deps }) {
      const viewer = await customFieldViewer(deps.database.db, principal, params.custom_field_gid);
      await deleteCustomField(deps, viewer, params.custom_field_gid);
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/workspaces/{workspace_gid}/custom_fields',
    scope: 'api',
    operationId: 'getCustomFieldsForWorkspace',
    summary: "A workspace's custom fields",
    description: 'By name. Guests see only the fields of projects they can see.',
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: z.object({ workspace_gid: gid }) },
    responses: { 200: { description: 'Custom fields', schema: listBody(customFieldCompactSchema) } },
    async handle({ principal, params, query, page, deps }) {
      const db = deps.database.db;
      const viewer = await viewerIn(db, principal, params.workspace_gid);
      const result = await listCustomFields(db, viewer, page);
      const views = await loadCustomFieldViews(db, result.rows.map((r) => r.gid));
      const full = optFieldsOf(query) !== undefined;
      const data = result.rows.map((r) => views.get(r.gid)).filter((v) => v !== undefined).map((v) => (full ? v : customFieldCompactOf(v)));
      return { kind: 'list', next: result.next, data };
    },
  }),

  // --- Enum options ---------------------------------------------------------------

  defineRoute({
    method: 'POST',
    path: '/custom_fields/{custom_field_gid}/enum_options',
    scope: 'api',
    operationId: 'createEnumOptionForCustomField',
    summary: 'Create an enum option',
    description: `At the end, or before/after another option of the field; at most ${MAX_ENUM_OPTIONS} options (disabled ones included).`,
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: fieldParams, body: createOptionBody },
    responses: { 201: { description: 'The enum option', schema: dataBody(enumOptionSchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await customFieldViewer(deps.database.db, principal, params.custom_field_gid);
      const created = await createEnumOption(deps, viewer, params.custom_field_gid, body);
      return { kind: 'data', status: 201, data: await getEnumOption(deps.database.db, created) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/custom_fields/{custom_field_gid}/enum_options/insert',
    scope: 'api',
    operationId: 'insertEnumOptionForCustomField',
    summary: "Reorder a custom field's enum",
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: fieldParams, body: insertOptionBody },
    responses: { 200: { description: 'The moved enum option', schema: dataBody(enumOptionSchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await customFieldViewer(deps.database.db, principal, params.custom_field_gid);
      await insertEnumOption(deps, viewer, params.custom_field_gid, body);
      return { kind: 'data', data: await getEnumOption(deps.database.db, body.enum_option) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/enum_options/{enum_option_gid}',
    scope: 'api',
    operationId: 'updateEnumOption',
    summary: 'Update an enum option',
    description: 'A disabled option stays on the tasks that have it but cannot be chosen again. A field keeps at least one enabled option.',
    tags: ['Custom fields'],
    auth: 'user',
    request: { params: z.object({ enum_option_gid: gid }), body: updateOptionBody },
    responses: { 200: { description: 'The enum option', schema: dataBody(enumOptionSchema) } },
    async handle({ principal, params, body, deps }) {
      const { viewer, fieldGid } = await enumOptionViewer(deps.database.db, principal, params.enum_option_gid);
      await updateEnumOption(deps, viewer, fieldGid, params.enum_option_gid, body);
      return { kind: 'data', data: await getEnumOption(deps.database.db, params.enum_option_gid) };
    },
  }),

  // --- Project settings -----------------------------------------------------------

  defineRoute({
    method: 'GET',
    path: '/projects/{project_gid}/custom_field_settings',
    scope: 'api',
    operationId: 'getCustomFieldSettingsForProject',
    summary: "A project's custom fields",
    description: 'In the project\'s order; the custom field compact, or full when opt_fields is given.',
    tags: ['Custom field settings'],
    auth: 'user',
    request: { params: projectParams },
    responses: { 200: { description: 'Custom field settings', schema: listBody(settingSchema) } },
    async handle({ principal, params, query, page, deps }) {
      const db = deps.database.db;
      const viewer = await projectViewer(db, principal, params.project_gid);
      const result = await listCustomFieldSettings(db, viewer, params.project_gid, page);
      return { kind: 'list', next: result.next, data: await settingViews(db, result.rows, optFieldsOf(query) !== undefined) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/projects/{project_gid}/addCustomFieldSetting',
    scope: 'api',
    operationId: 'addCustomFieldSettingForProject',
    summary: 'Add a custom field to a project',
    description: 'Needs edit rights on the project. At the end, or before/after another setting of the project.',
    tags: ['Projects'],
    auth: 'user',
    request: { params: projectParams, body: addSettingBody },
    responses: { 200: { description: 'The custom field setting', schema: dataBody(settingSchema) } },
    async handle({ principal, params, body, query, deps }) {
      const db = deps.database.db;
      const viewer = await projectViewer(db, principal, params.project_gid);
      const created = await addCustomFieldSetting(deps, viewer, params.project_gid, body);
      const [view] = await settingViews(db, [await getCustomFieldSetting(db, created)], optFieldsOf(query) !== undefined);
      return { kind: 'data', data: view };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/projects/{project_gid}/removeCustomFieldSetting',
    scope: 'api',
    operationId: 'removeCustomFieldSettingForProject',
    summary: 'Remove a custom field from a project',
    description: 'Needs edit rights on the project. Values tasks have for the field are kept.',
    tags: ['Projects'],
    auth: 'user',
    request: { params: projectParams, body: z.object({ custom_field: gid }) },
    responses: { 200: { description: 'Removed', schema: ok } },
    async handle({ principal, params, body, deps }) {
      const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
      await removeCustomFieldSetting(deps, viewer, params.project_gid, body.custom_field);
      return { kind: 'data', data: {} };
    },
  }),
];
