/**
 * Exports of task lists: My tasks (GET /users/me/my_tasks/export.json|.csv?workspace=)
 * and saved searches (GET /saved_searches/{gid}/export.json|.csv). The tasks are the
 * ones the list API shows the caller now (myTaskPages / searchTaskPages apply the access
 * policy), in the list's order; a subtask is a row of its own with its parent named.
 *
 * CSV columns are Asana's, then one per custom field that has a value on a listed task:
 * the header comes first, so a first pass over the list collects those fields (names in
 * alphabetical order, then gid), and a second pass writes the rows.
 */
import { sql } from 'kysely';
import { gidIn } from '../../db/query.js';
import { viewerIn, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import type { Db } from '../work/common.js';
import { ensureUserTaskList, myTaskPages, type MyTasksOptions } from '../work/my-tasks.js';
import { ownSavedSearch, searchTaskPages } from '../work/search.js';
import { CSV_CONTENT_TYPE, csvDocumentStart, csvRecords } from './csv.js';
import { coalesce, exportFilename, type ExportDocument, type ExportFormat } from './delivery.js';
import { exportHeader, jsonDocument, JSON_CONTENT_TYPE, type ExportKind } from './document.js';
import { assigneeEmails, csvHeader, csvRow, customFieldViews, newCollector, tagViews, taskBatches, tasksJson, TASK_BATCH_SIZE, type CsvField } from './task-rows.js';

/** Pages of gids, produced afresh each time it is called (the CSV reads the list twice). */
type GidPages = () => AsyncIterable<string[]>;

interface ListSource {
  kind: Exclude<ExportKind, 'project'>;
  viewer: Viewer;
  /** The list's own representation (user_task_list or saved_search). */
  view: { gid: string; resource_type: string; name: string };
  filename: string;
  pages: GidPages;
}

async function* gidsOf(pages: AsyncIterable<{ gid: string }[]>): AsyncGenerator<string[]> {
  for await (const page of pages) yield page.map((t) => t.gid);
}

/** My tasks in a workspace (404 when the caller is not a member of it). */
export async function myTasksExport(deps: AppDeps, principal: Principal, workspaceGid: string, format: ExportFormat, baseUrl: string, options: MyTasksOptions = {}): Promise<ExportDocument> {
  const viewer = await viewerIn(deps.database.db, principal, workspaceGid);
  const list = await ensureUserTaskList(deps, viewer);
  return listExport(deps, format, baseUrl, {
    kind: 'my_tasks',
    viewer,
    view: list,
    filename: exportFilename(`My Tasks - ${list.workspace.name}`, format),
    pages: () => gidsOf(myTaskPages(deps, viewer, options, TASK_BATCH_SIZE)),
  });
}

/** One of the caller's saved searches, run now (404 for other people's searches). */
export async function savedSearchExport(deps: AppDeps, principal: Principal, savedSearchGid: string, format: ExportFormat, baseUrl: string): Promise<ExportDocument> {
  const { view, viewer } = await ownSavedSearch(deps.database.db, principal, savedSearchGid);
  return listExport(deps, format, baseUrl, {
    kind: 'saved_search',
    viewer,
    view,
    filename: exportFilename(view.name, format),
    pages: () => gidsOf(searchTaskPages(deps, viewer, view.filters, TASK_BATCH_SIZE)),
  });
}

async function listExport(deps: AppDeps, format: ExportFormat, baseUrl: string, source: ListSource): Promise<ExportDocument> {
  const db = deps.database.db;
  const common = { format, filename: source.filename, organizationGid: source.viewer.organizationGid };
  if (format === 'csv') return { ...common, contentType: CSV_CONTENT_TYPE, disposition: 'attachment', chunks: coalesce(listCsv(db, baseUrl, source)) };
  const header = await exportHeader(db, source.viewer, source.kind, { gid: source.view.gid, resource_type: source.view.resource_type, name: source.view.name }, deps.clock.now());
  return { ...common, contentType: JSON_CONTENT_TYPE, disposition: 'inline', chunks: coalesce(listJson(db, baseUrl, source, header)) };
}

function listJson(db: Db, baseUrl: string, source: ListSource, header: unknown): AsyncGenerator<string> {
  const { viewer } = source;
  const collector = newCollector();
  const counts = { tags: 0, customFields: 0 };
  async function* tasks(): AsyncGenerator<string> {
    let first = true;
    for await (const batch of taskBatches(db, viewer, baseUrl, source.pages())) {
      yield* tasksJson(db, viewer, baseUrl, batch, collector, first);
      first = false;
    }
  }
  async function* tags() {
    for await (const page of tagViews(db, viewer, baseUrl, collector.tagGids)) {
      counts.tags += page.length;
      yield page;
    }
  }
  async function* customFields() {
    for await (const page of customFieldViews(db, viewer, collector.customFieldGids)) {
      counts.customFields += page.length;
      yield page;
    }
  }
  return jsonDocument([
    { key: 'export', value: header },
    { key: source.kind === 'my_tasks' ? 'user_task_list' : 'saved_search', value: source.view },
    { key: 'tasks', items: tasks },
    { key: 'tags', pages: tags },
    { key: 'custom_fields', pages: customFields },
    { key: 'summary', later: () => ({ ...collector.counts, tags: counts.tags, custom_fields: counts.customFields }) },
  ]);
}

/** Code-point order: the same on every machine, whatever its locale. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The custom fields with a value on any listed task: alphabetical by name, then gid. */
async function listedFields(db: Db, pages: GidPages): Promise<CsvField[]> {
  const fields = new Map<string, string>();
  for await (const gids of pages()) {
    const rows = await db
      .selectFrom('task_custom_field_values as v')
      .innerJoin('custom_fields as cf', 'cf.gid', 'v.custom_field_gid')
      .select(['cf.gid', 'cf.name'])
      .distinct()
      .where(gidIn('v.task_gid', gids))
      .where('cf.deleted_at', 'is', null)
      .where(sql<boolean>`(v.text_value is not null or v.number_value is not null or v.date_value is not null or v.enum_option_gid is not null or v.multi_values is not null)`)
      .execute();
    for (const r of rows) fields.set(r.gid, r.name);
  }
  return [...fields]
    .map(([gid, name]) => ({ gid, name }))
    .sort((a, b) => compare(a.name.toLowerCase(), b.name.toLowerCase()) || compare(a.name, b.name) || compare(a.gid, b.gid));
}

async function* listCsv(db: Db, baseUrl: string, source: ListSource): AsyncGenerator<string> {
  const fields = await listedFields(db, source.pages);
  yield csvDocumentStart(csvHeader(fields));
  for await (const batch of taskBatches(db, source.viewer, baseUrl, source.pages())) {
    const emails = await assigneeEmails(db, source.viewer, batch);
    yield csvRecords(batch.views.map((v) => csvRow(v, emails, fields)));
  }
}
