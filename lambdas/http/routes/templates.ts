/**
 * Project templates and task templates: Asana's endpoints (getProjectTemplates,
 * getProjectTemplatesForTeam, getProjectTemplate, deleteProjectTemplate,
 * instantiateProject, projectSaveAsTemplate, getTaskTemplates, getTaskTemplate,
 * deleteTaskTemplate, instantiateTask) and our own POST /projects/{gid}/task_templates,
 * which saves a task as a task template (Asana has no public endpoint for that).
 * Saving and instantiating finish before answering; the answer is a succeeded job.
 */
import { z } from 'zod';
import { canSeeProject, viewerIn } from '../../domain/access/policy.js';
import { BadRequestError, NotFoundError } from '../../domain/errors.js';
import { viewerForObject } from '../../domain/work/common.js';
import { projectCompact, taskCompact } from '../../domain/work/present.js';
import {
  deleteProjectTemplate,
  deleteTaskTemplate,
  instantiateProject,
  instantiateTask,
  listProjectTemplates,
  listTaskTemplates,
  projectTemplateView,
  projectTemplateViewer,
  saveProjectAsTemplate,
  saveTaskTemplate,
  taskTemplateView,
  taskTemplateViewer,
  teamViewer,
} from '../../domain/work/templates.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid } from '../schemas.js';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(d)), 'must be a real date');
const templateName = z.string().trim().min(1).max(1024);
const userRef = z.object({ gid, resource_type: z.literal('user'), name: z.string() });
const ok = dataBody(z.object({}));

export const projectTemplateCompactSchema = z.object({ gid, resource_type: z.literal('project_template'), name: z.string() }).meta({ id: 'ProjectTemplateCompact' });
export const projectTemplateSchema = projectTemplateCompactSchema
  .extend({
    description: z.string(),
    html_description: z.string(),
    public: z.boolean(),
    owner: userRef.nullable(),
    team: z.object({ gid, resource_type: z.literal('team'), name: z.string() }).nullable(),
    requested_dates: z.array(z.object({ gid: z.string(), name: z.string(), description: z.string() })),
    color: z.string().nullable(),
    requested_roles: z.array(z.object({ gid: z.string(), name: z.string() })),
    created_at: z.string(),
  })
  .meta({ id: 'ProjectTemplate' });

export const taskTemplateCompactSchema = z.object({ gid, resource_type: z.literal('task_template'), name: z.string() }).meta({ id: 'TaskTemplateCompact' });
const recipeCompact = z.object({ name: z.string(), task_resource_subtype: z.enum(['default_task', 'milestone_task', 'approval_task']) });
export const taskTemplateSchema = taskTemplateCompactSchema
  .extend({
    project: z.object({ gid, resource_type: z.literal('project'), name: z.string() }).nullable(),
    template: recipeCompact
      .extend({
        description: z.string(),
        html_description: z.string(),
        memberships: z.array(z.object({ gid, resource_type: z.literal('project'), name: z.string() })),
        relative_start_on: z.number().int().nullable(),
        relative_due_on: z.number().int().nullable(),
        due_time: z.string().nullable(),
        subtasks: z.array(recipeCompact),
      })
      .loose(),
    created_by: userRef.nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'TaskTemplate' });

const jobSchema = z
  .object({
    gid,
    resource_type: z.literal('job'),
    resource_subtype: z.string(),
    status: z.enum(['not_started', 'in_progress', 'succeeded', 'failed']),
    new_project: z.object({ gid, resource_type: z.literal('project'), name: z.string() }).optional(),
    new_task: z.object({ gid, resource_type: z.literal('task'), name: z.string(), resource_subtype: z.string() }).nullable(),
    new_project_template: projectTemplateCompactSchema.optional(),
  })
  .meta({ id: 'TemplateJob' });

/**
 * A job that already finished (the work is done before answering). As Asana's JobCompact
 * declares, new_task is null when there is none, new_project and new_project_template are
 * left out (they are not nullable).
 */
const succeededJob = (id: string, subtype: string, made: { new_project?: unknown; new_task?: unknown; new_project_template?: unknown }) => ({
  gid: id,
  resource_type: 'job',
  resource_subtype: subtype,
  status: 'succeeded',
  new_task: made.new_task ?? null,
  ...(made.new_project ? { new_project: made.new_project } : {}),
  ...(made.new_project_template ? { new_project_template: made.new_project_template } : {}),
});

const projectTemplateParams = z.object({ project_template_gid: gid });
const taskTemplateParams = z.object({ task_template_gid: gid });

export const templateRoutes = [
  // --- Project templates -------------------------------------------------------------
  defineRoute({
    method: 'POST',
    path: '/projects/{project_gid}/saveAsTemplate',
    scope: 'api',
    operationId: 'projectSaveAsTemplate',
    summary: 'Save a project as a project template (sections, tasks, subtasks, custom field settings, relative dates)',
    description:
      'Full members who can edit the project. A template never reaches further than its project: a public project’s goes to its team unless another is given, and public makes it visible to every full member of the organization; a private_to_team project’s stays in that team; a private project’s is its owner’s alone.',
    tags: ['Project templates'],
    auth: 'user',
    request: { params: z.object({ project_gid: gid }), body: z.object({ name: templateName, team: gid.optional(), workspace: gid.optional(), public: z.boolean().optional() }) },
    responses: { 201: { description: 'The finished job, with the new template', schema: dataBody(jobSchema) } },
    async handle({ principal, params, body, deps }) {
      const db = deps.database.db;
      const viewer = await viewerForObject(db, principal, 'projects', params.project_gid);
      const created = await saveProjectAsTemplate(deps, viewer, params.project_gid, body);
      return { kind: 'data', status: 201, data: succeededJob(deps.ids.gid(), 'save_as_template', { new_project_template: { gid: created, resource_type: 'project_template', name: body.name } }) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/project_templates',
    scope: 'api',
    operationId: 'getProjectTemplates',
    summary: 'Project templates of a workspace or a team that you can see',
    tags: ['Project templates'],
    auth: 'user',
    request: { query: z.object({ workspace: gid.optional(), team: gid.optional() }) },
    responses: { 200: { description: 'Project templates', schema: listBody(projectTemplateCompactSchema) } },
    async handle({ principal, query, page, deps }) {
      const db = deps.database.db;
      if (!query.workspace && !query.team) throw new BadRequestError('Give workspace or team', [{ message: 'query: give workspace or team' }]);
      const viewer = query.team ? await teamViewer(db, principal, query.team) : await viewerIn(db, principal, query.workspace!);
      if (query.workspace && query.workspace !== viewer.organizationGid) throw new BadRequestError('The team is not in that workspace', [{ message: 'query.team: not a team of that workspace' }]);
      const result = await listProjectTemplates(db, viewer, { team: query.team }, page);
      return { kind: 'list', next: result.next, data: query.opt_fields ? await Promise.all(result.rows.map((r) => projectTemplateView(db, viewer, r.gid))) : result.rows.map((r) => ({ gid: r.gid, resource_type: 'project_template', name: r.name })) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/teams/{team_gid}/project_templates',
    scope: 'api',
    operationId: 'getProjectTemplatesForTeam',
    summary: "A team's project templates that you can see",
    tags: ['Project templates'],
    auth: 'user',
    request: { params: z.object({ team_gid: gid }) },
    responses: { 200: { description: 'Project templates', schema: listBody(projectTemplateCompactSchema) } },
    async handle({ principal, params, query, page, deps }) {
      const db = deps.database.db;
      const viewer = await teamViewer(db, principal, params.team_gid);
      const result = await listProjectTemplates(db, viewer, { team: params.team_gid }, page);
      return { kind: 'list', next: result.next, data: query.opt_fields ? await Promise.all(result.rows.map((r) => projectTemplateView(db, viewer, r.gid))) : result.rows.map((r) => ({ gid: r.gid, resource_type: 'project_template', name: r.name })) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/project_templates/{project_template_gid}',
    scope: 'api',
    operationId: 'getProjectTemplate',
    summary: 'Get a project template',
    tags: ['Project templates'],
    auth: 'user',
    request: { params: projectTemplateParams },
    responses: { 200: { description: 'The project template', schema: dataBody(projectTemplateSchema) } },
    async handle({ principal, params, deps }) {
      const viewer = await projectTemplateViewer(deps.database.db, principal, params.project_template_gid);
      return { kind: 'data', data: await projectTemplateView(deps.database.db, viewer, params.project_template_gid) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/project_templates/{project_template_gid}',
    scope: 'api',
    operationId: 'deleteProjectTemplate',
    summary: 'Delete a project template (its owner or an organization admin)',
    tags: ['Project templates'],
    auth: 'user',
    request: { params: projectTemplateParams },
    responses: { 200: { description: 'Deleted', schema: ok } },
    async handle({ principal, params, deps }) {
      const viewer = await projectTemplateViewer(deps.database.db, principal, params.project_template_gid);
      await deleteProjectTemplate(deps, viewer, params.project_template_gid);
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/project_templates/{project_template_gid}/instantiateProject',
    scope: 'api',
    operationId: 'instantiateProject',
    summary: 'Create a project from a project template',
    description: 'The project gets the template’s sections, custom field settings, tasks and subtasks in order; task dates are laid out from the "Start date" variable (requested_dates, default today; is_strict makes it required).',
    tags: ['Project templates'],
    auth: 'user',
    request: {
      params: projectTemplateParams,
      body: z.object({
        name: z.string().trim().min(1).max(1024),
        team: gid.optional(),
        public: z.boolean().optional(),
        privacy_setting: z.enum(['public_to_workspace', 'private_to_team', 'private']).optional(),
        is_strict: z.boolean().optional(),
        requested_dates: z.array(z.object({ gid: z.string().max(64), value: day.nullable().optional() })).max(20).optional(),
        requested_roles: z.array(z.object({ gid: z.string().max(64), value: z.string().max(256) })).max(0, 'this template has no roles').optional(),
      }),
    },
    responses: { 201: { description: 'The finished job, with the new project', schema: dataBody(jobSchema) } },
    async handle({ principal, params, body, deps }) {
      const viewer = await projectTemplateViewer(deps.database.db, principal, params.project_template_gid);
      const created = await instantiateProject(deps, viewer, params.project_template_gid, body);
      return { kind: 'data', status: 201, data: succeededJob(deps.ids.gid(), 'instantiate_project', { new_project: projectCompact({ gid: created, name: body.name }) }) };
    },
  }),

  // --- Task templates ------------------------------------------------------------------
  defineRoute({
    method: 'POST',
    path: '/projects/{project_gid}/task_templates',
    scope: 'api',
    operationId: 'createTaskTemplateForProject',
    summary: 'Save a task (with its subtasks) as a task template of a project (not in Asana’s API)',
    description: 'Whoever may edit the project, from a task of that project (or a subtask of one) they can see. Dates become days after the task’s start (or the day it is saved).',
    tags: ['Task templates'],
    auth: 'user',
    request: { params: z.object({ project_gid: gid }), body: z.object({ name: templateName, task: gid }) },
    responses: { 201: { description: 'The task template', schema: dataBody(taskTemplateSchema) } },
    async handle({ principal, params, body, deps }) {
      const db = deps.database.db;
      const viewer = await viewerForObject(db, principal, 'projects', params.project_gid);
      const created = await saveTaskTemplate(deps, viewer, params.project_gid, body);
      return { kind: 'data', status: 201, data: await taskTemplateView(db, created) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/task_templates',
    scope: 'api',
    operationId: 'getTaskTemplates',
    summary: 'Task templates of a project',
    tags: ['Task templates'],
    auth: 'user',
    request: { query: z.object({ project: gid }) },
    responses: { 200: { description: 'Task templates', schema: listBody(taskTemplateCompactSchema) } },
    async handle({ principal, query, page, deps }) {
      const db = deps.database.db;
      const viewer = await viewerForObject(db, principal, 'projects', query.project);
      if (!(await canSeeProject(db, viewer, query.project))) throw new NotFoundError('Project not found');
      const result = await listTaskTemplates(db, viewer, query.project, page);
      return { kind: 'list', next: result.next, data: query.opt_fields ? await Promise.all(result.rows.map((r) => taskTemplateView(db, r.gid))) : result.rows.map((r) => ({ gid: r.gid, resource_type: 'task_template', name: r.name })) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/task_templates/{task_template_gid}',
    scope: 'api',
    operationId: 'getTaskTemplate',
    summary: 'Get a task template',
    tags: ['Task templates'],
    auth: 'user',
    request: { params: taskTemplateParams },
    responses: { 200: { description: 'The task template', schema: dataBody(taskTemplateSchema) } },
    async handle({ principal, params, deps }) {
      await taskTemplateViewer(deps.database.db, principal, params.task_template_gid);
      return { kind: 'data', data: await taskTemplateView(deps.database.db, params.task_template_gid) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/task_templates/{task_template_gid}',
    scope: 'api',
    operationId: 'deleteTaskTemplate',
    summary: 'Delete a task template (its creator or an editor of its project)',
    tags: ['Task templates'],
    auth: 'user',
    request: { params: taskTemplateParams },
    responses: { 200: { description: 'Deleted', schema: ok } },
    async handle({ principal, params, deps }) {
      const { viewer } = await taskTemplateViewer(deps.database.db, principal, params.task_template_gid);
      await deleteTaskTemplate(deps, viewer, params.task_template_gid);
      return { kind: 'data', data: {} };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/task_templates/{task_template_gid}/instantiateTask',
    scope: 'api',
    operationId: 'instantiateTask',
    summary: 'Create a task (with its subtasks) from a task template, in the template’s project',
    tags: ['Task templates'],
    auth: 'user',
    request: { params: taskTemplateParams, body: z.object({ name: z.string().trim().min(1).max(1024).optional() }) },
    responses: { 201: { description: 'The finished job, with the new task', schema: dataBody(jobSchema) } },
    async handle({ principal, params, body, deps }) {
      const db = deps.database.db;
      const { viewer } = await taskTemplateViewer(db, principal, params.task_template_gid);
      const created = await instantiateTask(deps, viewer, params.task_template_gid, body);
      const task = await db.selectFrom('tasks').select(['gid', 'name', 'resource_subtype']).where('gid', '=', created).executeTakeFirstOrThrow();
      return { kind: 'data', status: 201, data: succeededJob(deps.ids.gid(), 'instantiate_task', { new_task: taskCompact(task) }) };
    },
  }),
];
