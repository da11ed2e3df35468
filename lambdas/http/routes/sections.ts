/** Sections (board columns): Asana's section endpoints. Access comes from the policy module through the use cases. */
import { z } from 'zod';
import { loadTaskViews } from '../../domain/work/task-views.js';
import { sectionCompact, taskCompact } from '../../domain/work/present.js';
import { projectViewer } from '../../domain/work/projects.js';
import { addTaskToSection, createSection, deleteSection, getSection, insertSection, listSections, listSectionTasks, sectionView, sectionViewer, updateSection } from '../../domain/work/sections.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid } from '../schemas.js';

/** opt_fields as validated by the framework (common to every route, so not in each route's own query type). */
const optFieldsOf = (query: unknown) => (query as { opt_fields?: string }).opt_fields;

const name = z.string().trim().min(1, 'cannot be empty').max(1024);
const projectRef = z.object({ gid, resource_type: z.literal('project'), name: z.string() });
const sectionCompactSchema = z.object({ gid, resource_type: z.literal('section'), name: z.string() }).meta({ id: 'SectionCompact' });
const sectionSchema = sectionCompactSchema.extend({ created_at: z.string(), project: projectRef, projects: z.array(projectRef) }).meta({ id: 'SectionResponse' });
const taskCompactSchema = z.object({ gid, resource_type: z.literal('task'), name: z.string(), resource_subtype: z.string() }).loose();
const ok = dataBody(z.object({}));
const projectParams = z.object({ project_gid: gid });
const sectionParams = z.object({ section_gid: gid });
const placement = { insert_before: gid.nullable().optional(), insert_after: gid.nullable().optional() };

export const getSectionsRoute = defineRoute({
  method: 'GET',
  path: '/projects/{project_gid}/sections',
  scope: 'api',
  operationId: 'getSectionsForProject',
  summary: 'Get sections in a project, in order',
  tags: ['Sections'],
  auth: 'user',
  request: { params: projectParams },
  responses: { 200: { description: 'Sections', schema: listBody(sectionCompactSchema) } },
  async handle({ principal, params, query, page, deps }) {
    const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
    const result = await listSections(deps.database.db, viewer, params.project_gid, page);
    return { kind: 'list', next: result.next, data: result.rows.map(optFieldsOf(query) ? sectionView : sectionCompact) };
  },
});

export const createSectionRoute = defineRoute({
  method: 'POST',
  path: '/projects/{project_gid}/sections',
  scope: 'api',
  operationId: 'createSectionForProject',
  summary: 'Create a section in a project',
  description: 'At the end of the project unless insert_before or insert_after names a section of it.',
  tags: ['Sections'],
  auth: 'user',
  request: { params: projectParams, body: z.object({ name, ...placement }) },
  responses: { 201: { description: 'The section', schema: dataBody(sectionSchema) } },
  async handle({ principal, params, body, deps }) {
    const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
    const created = await createSection(deps, viewer, params.project_gid, body);
    return { kind: 'data', status: 201, data: sectionView(await getSection(deps.database.db, created)) };
  },
});

export const getSectionRoute = defineRoute({
  method: 'GET',
  path: '/sections/{section_gid}',
  scope: 'api',
  operationId: 'getSection',
  summary: 'Get a section',
  tags: ['Sections'],
  auth: 'user',
  request: { params: sectionParams },
  responses: { 200: { description: 'The section', schema: dataBody(sectionSchema) } },
  async handle({ principal, params, deps }) {
    await sectionViewer(deps.database.db, principal, params.section_gid);
    return { kind: 'data', data: sectionView(await getSection(deps.database.db, params.section_gid)) };
  },
});

export const updateSectionRoute = defineRoute({
  method: 'PUT',
  path: '/sections/{section_gid}',
  scope: 'api',
  operationId: 'updateSection',
  summary: 'Update a section',
  description: 'Renames it; insert_before or insert_after also moves it.',
  tags: ['Sections'],
  auth: 'user',
  request: { params: sectionParams, body: z.object({ name: name.optional(), ...placement }) },
  responses: { 200: { description: 'The section', schema: dataBody(sectionSchema) } },
  async handle({ principal, params, body, deps }) {
    const { viewer, projectGid } = await sectionViewer(deps.database.db, principal, params.section_gid);
    await updateSection(deps, viewer, params.section_gid, projectGid, body);
    return { kind: 'data', data: sectionView(await getSection(deps.database.db, params.section_gid)) };
  },
});

export const deleteSectionRoute = defineRoute({
  method: 'DELETE',
  path: '/sections/{section_gid}',
  scope: 'api',
  operationId: 'deleteSection',
  summary: 'Delete a section',
  description: 'As in Asana, a section must be empty to be deleted (400 otherwise), and the last remaining section of a project cannot be deleted.',
  tags: ['Sections'],
  auth: 'user',
  request: { params: sectionParams },
  responses: { 200: { description: 'Deleted', schema: ok } },
  async handle({ principal, params, deps }) {
    const { viewer, projectGid } = await sectionViewer(deps.database.db, principal, params.section_gid);
    await deleteSection(deps, viewer, params.section_gid, projectGid);
    return { kind: 'data', data: {} };
  },
});

export const addTaskForSectionRoute = defineRoute({
  method: 'POST',
  path: '/sections/{section_gid}/addTask',
  scope: 'api',
  operationId: 'addTaskForSection',
  summary: 'Add task to section',
  description: "Moves the task into this section (adding it to the section's project if needed, and out of the project's other sections): at the top, unless insert_before or insert_after names a task of the section.",
  tags: ['Sections'],
  auth: 'user',
  request: { params: sectionParams, body: z.object({ task: gid, ...placement }) },
  responses: { 200: { description: 'Added', schema: ok } },
  async handle({ principal, params, body, deps }) {
    const { viewer, projectGid } = await sectionViewer(deps.database.db, principal, params.section_gid);
    await addTaskToSection(deps, viewer, params.section_gid, projectGid, body);
    return { kind: 'data', data: {} };
  },
});

export const insertSectionRoute = defineRoute({
  method: 'POST',
  path: '/projects/{project_gid}/sections/insert',
  scope: 'api',
  operationId: 'insertSectionForProject',
  summary: 'Move or insert sections',
  description: 'Moves a section immediately before or after another section of the same project; one of before_section or after_section is required.',
  tags: ['Sections'],
  auth: 'user',
  request: { params: projectParams, body: z.object({ section: gid, before_section: gid.nullable().optional(), after_section: gid.nullable().optional() }) },
  responses: { 200: { description: 'Moved', schema: ok } },
  async handle({ principal, params, body, deps }) {
    const viewer = await projectViewer(deps.database.db, principal, params.project_gid);
    await insertSection(deps, viewer, params.project_gid, body);
    return { kind: 'data', data: {} };
  },
});

export const getSectionTasksRoute = defineRoute({
  method: 'GET',
  path: '/sections/{section_gid}/tasks',
  scope: 'api',
  operationId: 'getTasksForSection',
  summary: 'Get tasks from a section, in board order',
  tags: ['Tasks'],
  auth: 'user',
  request: {
    params: sectionParams,
    query: z.object({ completed_since: z.union([z.literal('now'), z.iso.datetime({ offset: true })]).optional().meta({ description: 'Only tasks incomplete or completed since this time ("now": only incomplete ones).' }) }),
  },
  responses: { 200: { description: 'Tasks', schema: listBody(taskCompactSchema) } },
  async handle({ principal, params, query, page, meta, deps }) {
    const db = deps.database.db;
    const { viewer, projectGid } = await sectionViewer(db, principal, params.section_gid);
    const since = query.completed_since === undefined ? undefined : query.completed_since === 'now' ? ('now' as const) : new Date(query.completed_since);
    const result = await listSectionTasks(db, viewer, params.section_gid, projectGid, page, since);
    if (!optFieldsOf(query)) return { kind: 'list', next: result.next, data: result.rows.map(taskCompact) };
    const views = await loadTaskViews(db, result.rows.map((r) => r.gid), viewer, meta.baseUrl);
    return { kind: 'list', next: result.next, data: result.rows.map((r) => views.get(r.gid)).filter((v) => v !== undefined) };
  },
});

export const sectionRoutes = [getSectionsRoute, createSectionRoute, getSectionRoute, updateSectionRoute, deleteSectionRoute, addTaskForSectionRoute, insertSectionRoute, getSectionTasksRoute];
