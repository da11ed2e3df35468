/**
 * Asynchronous exports: Asana's organization exports (POST /organization_exports, GET
 * /organization_exports/{gid}), our team CSV exports for admins of paid organizations,
 * and the emailed download link of both (GET /exports/{gid}/download). The jobs, the
 * access rules and the worker are lambdas/domain/exports/jobs.ts and
 * lambdas/workers/exports.ts; the formats are docs/export-format.md.
 */
import { z } from 'zod';
import { downloadExport, exportJobView, organizationExportView, readableJob, requestExport } from '../../domain/exports/jobs.js';
import { dataBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { compact, gid } from '../schemas.js';

const progress = z.object({ entities_done: z.number().int(), rows_written: z.number().int(), bytes_written: z.number().int() }).meta({ id: 'ExportProgress' });
const manifest = z
  .object({
    counts: z.record(z.string(), z.number().int()),
    bytes: z.number().int(),
    source_bytes: z.number().int(),
    sha256: z.string(),
    content_type: z.string(),
    gzip: z.boolean(),
    filename: z.string(),
  })
  .meta({ id: 'ExportManifest', description: 'Objects written per section, the stored size, the SHA-256 of the stored file.' });
const state = z.enum(['pending', 'started', 'finished', 'error']);

const organizationExport = z
  .object({
    gid,
    resource_type: z.literal('organization_export'),
    created_at: z.string(),
    download_url: z.string().nullable().meta({ description: 'A download of the finished export, signed afresh on every read and valid for 1 hour; never stored. Null until finished and after expiry.' }),
    state,
    organization: z.object(compact('workspace')).extend({ name: z.string() }),
    modified_since: z.string().nullable(),
    progress,
    manifest: manifest.nullable(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'OrganizationExport' });

const exportJob = z
  .object({
    gid,
    resource_type: z.literal('export'),
    kind: z.enum(['team_csv', 'organization']),
    state,
    organization: z.object(compact('workspace')).extend({ name: z.string() }),
    requested_by: z.object({ gid, resource_type: z.enum(['user', 'service_account']), name: z.string().optional() }),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    expires_at: z.string().nullable(),
    modified_since: z.string().nullable(),
    progress,
    manifest: manifest.nullable(),
    download_link: z.string().nullable(),
  })
  .meta({ id: 'ExportJob' });

const meta = (m: { sourceIp: string; userAgent: string }) => ({ ip: m.sourceIp, userAgent: m.userAgent });

export const createOrganizationExportRoute = defineRoute({
  method: 'POST',
  path: '/organization_exports',
  scope: 'api',
  operationId: 'createOrganizationExport',
  summary: 'Request a full export of an organization (admins, super admins, service accounts with the exports scope)',
  description:
    'Starts a JSON export of the whole organization (gzip-compressed), deleted projects and teams and tasks deleted in the past 30 days included. ' +
    'With modified_since, only what changed since then plus tombstones for deletions. Poll GET /organization_exports/{gid}; users who request one are also emailed a download link.',
  tags: ['Organization exports'],
  auth: 'principal',
  request: { body: z.object({ organization: gid, modified_since: z.iso.datetime({ offset: true }).optional() }) },
  responses: { 201: { description: 'The export was requested', schema: dataBody(organizationExport) } },
  async handle({ principal, body, meta: m, deps }) {
    const since = body.modified_since ? new Date(body.modified_since) : null;
    const job = await requestExport(deps, principal, { organizationGid: body.organization, kind: 'organization', modifiedSince: since, baseUrl: m.baseUrl, ...meta(m) });
    return { kind: 'data', status: 201, data: await organizationExportView(deps, job) };
  },
});

export const getOrganizationExportRoute = defineRoute({
  method: 'GET',
  path: '/organization_exports/{organization_export_gid}',
  scope: 'api',
  operationId: 'getOrganizationExport',
  summary: 'Get the state of an organization export',
  description: 'When finished, download_url is a fresh download valid for 1 hour (request the status again for a new one).',
  tags: ['Organization exports'],
  auth: 'principal',
  request: { params: z.object({ organization_export_gid: gid }) },
  responses: { 200: { description: 'The export', schema: dataBody(organizationExport) } },
  async handle({ principal, params, deps }) {
    const job = await readableJob(deps, principal, params.organization_export_gid, 'organization');
    return { kind: 'data', data: await organizationExportView(deps, job) };
  },
});

export const createTeamExportRoute = defineRoute({
  method: 'POST',
  path: '/organizations/{organization_gid}/team_exports',
  scope: 'api',
  operationId: 'createTeamExport',
  summary: 'Request a CSV export of the teams of an organization (admins and super admins of paid organizations)',
  description:
    'One row per team: Team, Member count, Privacy, Created on, Created by, Description, Member (email), Limited access member (email), Pending invite (email). The requester is emailed a download link when it is ready.',
  tags: ['Organization exports'],
  auth: 'user',
  request: { params: z.object({ organization_gid: gid }) },
  responses: {
    202: { description: 'The export was requested', schema: dataBody(z.object({ gid, resource_type: z.literal('export'), state })) },
    402: { description: 'The organization is on the free plan: team exports are a paid feature' },
  },
  async handle({ principal, params, meta: m, deps }) {
    const job = await requestExport(deps, principal, { organizationGid: params.organization_gid, kind: 'team_csv', baseUrl: m.baseUrl, ...meta(m) });
    return { kind: 'data', status: 202, data: { gid: job.gid, resource_type: 'export', state: job.state } };
  },
});

export const getExportRoute = defineRoute({
  method: 'GET',
  path: '/exports/{export_gid}',
  scope: 'api',
  operationId: 'getExport',
  summary: 'Get the state of an asynchronous export (team CSV or organization)',
  tags: ['Organization exports'],
  auth: 'principal',
  request: { params: z.object({ export_gid: gid }) },
  responses: { 200: { description: 'The export', schema: dataBody(exportJob) } },
  async handle({ principal, params, deps }) {
    return { kind: 'data', data: await exportJobView(deps, await readableJob(deps, principal, params.export_gid)) };
  },
});

export const downloadExportRoute = defineRoute({
  method: 'GET',
  path: '/exports/{export_gid}/download',
  scope: 'api',
  operationId: 'downloadExport',
  summary: 'Download a finished export (the emailed link)',
  description:
    'Checks access on every request (the requester, or an admin of the organization; the session cookie is accepted) and redirects to a download signed for 5 minutes. ' +
    '409 while the export is not finished, 410 after the link lifetime (7 days by default).',
  tags: ['Organization exports'],
  auth: 'principal',
  request: { params: z.object({ export_gid: gid }) },
  responses: {
    302: { description: 'Location: the file, signed for 5 minutes' },
    409: { description: 'Not finished yet, or failed' },
    410: { description: 'Expired: request a new export' },
  },
  async handle({ principal, params, meta: m, deps }) {
    return { kind: 'redirect', status: 302, location: await downloadExport(deps, principal, params.export_gid, meta(m)) };
  },
});

export const exportJobRoutes = [createOrganizationExportRoute, getOrganizationExportRoute, createTeamExportRoute, getExportRoute, downloadExportRoute];
