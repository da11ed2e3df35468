/**
 * Synchronous exports: a project (JSON permalink and CSV download), My tasks and saved
 * searches. Paths are ours (Asana has no public endpoint for them). Access is checked on
 * every request with the caller's access policy; the session cookie works too (GET only),
 * so a permalink opens in a browser tab. Small documents are answered inline; larger
 * ones are written to the blob store and answered with a redirect to a download valid
 * for 5 minutes (lambdas/domain/exports/delivery.ts). The JSON format is described in
 * docs/export-format.md.
 */
import { z } from 'zod';
import { deliverExport, type DeliveryOptions, type ExportDocument, type ExportFormat } from '../../domain/exports/delivery.js';
import { myTasksExport, savedSearchExport } from '../../domain/exports/list-exports.js';
import { projectExport } from '../../domain/exports/project-export.js';
import type { AppDeps } from '../../domain/deps.js';
import { defineRoute, type Reply, type RouteDef } from '../route.js';
import { gid } from '../schemas.js';

const FORMATS: { format: ExportFormat; suffix: string; contentType: string; what: string }[] = [
  { format: 'json', suffix: 'Json', contentType: 'application/json', what: 'JSON document (docs/export-format.md), shown in the browser' },
  { format: 'csv', suffix: 'Csv', contentType: 'text/csv', what: "CSV download (UTF-8 with BOM, Asana's project CSV columns)" },
];

const completedSince = z
  .union([z.literal('now'), z.iso.datetime({ offset: true })], { message: 'must be "now" or an ISO 8601 date-time' })
  .optional()
  .meta({ description: 'Only incomplete tasks and those completed since then ("now": incomplete only).' });

function responses(what: string, contentType: string) {
  return {
    200: { description: `The export: a ${what}`, contentType },
    302: { description: 'The export is too large to answer inline: Location is a download of it, valid for 5 minutes. The permalink itself stays the same.' },
  };
}

async function answer(deps: AppDeps, doc: ExportDocument, options: DeliveryOptions): Promise<Reply> {
  const delivered = await deliverExport(deps, doc, options);
  if (delivered.kind === 'redirect') return { kind: 'redirect', status: 302, location: delivered.location };
  return { kind: 'raw', status: 200, headers: delivered.headers, body: delivered.body };
}

/** The export routes; tests pass delivery options (a smaller inline limit, a progress hook). */
export function createExportRoutes(options: DeliveryOptions = {}): RouteDef[] {
  return FORMATS.flatMap(({ format, suffix, contentType, what }) => [
    defineRoute({
      method: 'GET',
      path: `/projects/{project_gid}/export.${format}`,
      scope: 'api',
      operationId: `exportProject${suffix}`,
      summary: `Export a project as a ${what}`,
      description:
        'The project with its sections, tasks and subtasks (all levels), comments, attachments (metadata and the API link, never a pre-signed URL), tags, followers, custom fields and status updates, as the caller may see them. ' +
        'The same URL every time; access is checked on every request; the session cookie is accepted (GET only).',
      tags: ['Exports'],
      auth: 'user',
      request: { params: z.object({ project_gid: gid }) },
      responses: responses(what, contentType),
      async handle({ principal, params, meta, deps }) {
        return answer(deps, await projectExport(deps, principal, params.project_gid, format, meta.baseUrl), options);
      },
    }),
    defineRoute({
      method: 'GET',
      path: `/users/me/my_tasks/export.${format}`,
      scope: 'api',
      operationId: `exportMyTasks${suffix}`,
      summary: `Export your My tasks in a workspace as a ${what}`,
      tags: ['Exports'],
      auth: 'user',
      request: { query: z.object({ workspace: gid, completed_since: completedSince }) },
      responses: responses(what, contentType),
      async handle({ principal, query, meta, deps }) {
        const since = query.completed_since === undefined ? undefined : query.completed_since === 'now' ? deps.clock.now() : new Date(query.completed_since);
        return answer(deps, await myTasksExport(deps, principal, query.workspace, format, meta.baseUrl, since ? { completedSince: since } : {}), options);
      },
    }),
    defineRoute({
      method: 'GET',
      path: `/saved_searches/{saved_search_gid}/export.${format}`,
      scope: 'api',
      operationId: `exportSavedSearch${suffix}`,
      summary: `Run one of your saved searches now and export the tasks as a ${what}`,
      tags: ['Exports'],
      auth: 'user',
      request: { params: z.object({ saved_search_gid: gid }) },
      responses: responses(what, contentType),
      async handle({ principal, params, meta, deps }) {
        return answer(deps, await savedSearchExport(deps, principal, params.saved_search_gid, format, meta.baseUrl), options);
      },
    }),
  ]);
}

export const exportRoutes: RouteDef[] = createExportRoutes();
