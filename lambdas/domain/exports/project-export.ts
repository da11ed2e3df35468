/**
 * Project exports (GET /projects/{gid}/export.json and export.csv): the project as the
 * caller may see it, checked on every request (projects the caller cannot open are 404).
 *
 * Tasks are written depth first: each top-level task of the project (in project order),
 * then its subtasks at every level (oldest first, as the subtasks API lists them). A
 * task of the project is top-level unless it is reached as a subtask of another task of
 * the project, so a subtask that was also added to the project is written once, under its
 * parent. Deleted tasks, and the subtrees under them, are not exported.
 *
 * Tasks are read in keyset pages: pages of top-level tasks, and for each page the
 * subtrees under them, in depth-first order, a page at a time (the order is a path of
 * fixed-width keys, so a page never needs the whole tree in memory).
 */
import { sql, type RawBuilder } from 'kysely';
import { taskVisible, type Viewer } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import type { AppDeps } from '../deps.js';
import type { Db } from '../work/common.js';
import { iso } from '../work/common.js';
import { listStatuses, projectView, projectViewer, statusUpdateView } from '../work/projects.js';
import { projectCompact } from '../work/present.js';
import { CSV_CONTENT_TYPE, csvDocumentStart, csvRecords } from './csv.js';
import { coalesce, exportFilename, type ExportDocument, type ExportFormat } from './delivery.js';
import { exportHeader, jsonDocument, JSON_CONTENT_TYPE } from './document.js';
import {
  allPages,
  assigneeEmails,
  ATTACHMENT_KEYS,
  attachmentQuery,
  attachmentView,
  csvHeader,
  csvRow,
  customFieldViews,
  newCollector,
  tagViews,
  taskBatches,
  tasksJson,
  TASK_BATCH_SIZE,
  type CsvField,
} from './task-rows.js';

type ProjectView = Record<string, unknown> & { gid: string; name: string; custom_field_settings: { custom_field: { gid: string; name: string } }[] };

/** The project export in a format, after checking the caller may open the project (404 otherwise). */
export async function projectExport(deps: AppDeps, principal: Principal, projectGid: string, format: ExportFormat, baseUrl: string): Promise<ExportDocument> {
  const db = deps.database.db;
  const viewer = await projectViewer(db, principal, projectGid);
  const project = (await projectView(db, viewer, projectGid, baseUrl)) as ProjectView;
  const common = { format, filename: exportFilename(project.name, format), organizationGid: viewer.organizationGid };
  if (format === 'csv') return { ...common, contentType: CSV_CONTENT_TYPE, disposition: 'attachment', chunks: coalesce(projectCsv(db, viewer, project, baseUrl)) };
  const header = await exportHeader(db, viewer, 'project', projectCompact(project), deps.clock.now());
  return { ...common, contentType: JSON_CONTENT_TYPE, disposition: 'inline', chunks: coalesce(projectJson(db, viewer, project, header, baseUrl)) };
}

// --- The project's tasks, depth first ------------------------------------------------

/**
 * True when the task (alias t) is not reached from another task of the project: no
 * ancestor is in the project with no deleted task between them.
 */
function topLevelIn(projectGid: string): RawBuilder<boolean> {
  return sql<boolean>`not exists (
    select 1 from task_ancestors ex_a
    join task_projects ex_tp on ex_tp.task_gid = ex_a.ancestor_gid and ex_tp.project_gid = ${projectGid}
    where ex_a.task_gid = t.gid and ex_a.depth > 0 and not exists (
      select 1 from task_ancestors ex_b join tasks ex_bt on ex_bt.gid = ex_b.ancestor_gid
      where ex_b.task_gid = t.gid and ex_b.depth > 0 and ex_b.depth <= ex_a.depth and ex_bt.deleted_at is not null))`;
}

/**
 * The subtrees under some top-level tasks, visible and not deleted, each row with its
 * depth-first sort key: the top-level task's rank in the page, then per level the
 * subtask's creation time (microseconds) and gid, all fixed-width digits compared
 * byte-wise (collation "C").
 */
function subtreeQuery(db: Db, viewer: Viewer, projectGid: string, topLevel: string[]) {
  const rows = sql<{ gid: string; path: string }>`(
    with recursive tree (gid, path) as (
      select r.gid, lpad(cast(r.rank as text), 6, '0')
      from (
        select tp.task_gid as gid, row_number() over (order by tp.position, tp.task_gid) as rank
        from task_projects tp where tp.project_gid = ${projectGid} and tp.task_gid in (${sql.join(topLevel)})
      ) r
      union all
      select c.gid, tree.path || lpad(cast(cast(floor(extract(epoch from c.created_at) * 1000000) as bigint) as text), 17, '0') || lpad(c.gid, 19, '0')
      from tree join tasks c on c.parent_gid = tree.gid
      where c.deleted_at is null
    )
    select tree.gid, tree.path collate "C" as path from tree join tasks t on t.gid = tree.gid where ${taskVisible(viewer, 't')}
  )`;
  return db.selectFrom(rows.as('tree_rows')).select(['tree_rows.gid', 'tree_rows.path']);
}

/** Pages of the project's task gids (subtasks included) in depth-first order. */
export async function* projectTaskPages(db: Db, viewer: Viewer, projectGid: string): AsyncGenerator<string[]> {
  const topLevel = db
    .selectFrom('task_projects as tp')
    .innerJoin('tasks as t', 't.gid', 'tp.task_gid')
    .select(['t.gid', 'tp.position'])
    .where('tp.project_gid', '=', projectGid)
    .where('t.deleted_at', 'is', null)
    .where(taskVisible(viewer, 't'))
    .where(topLevelIn(projectGid));
  for await (const tops of allPages(db, topLevel, [{ column: 'position' }, { column: 'gid' }])) {
    for await (const rows of allPages(db, subtreeQuery(db, viewer, projectGid, tops.map((r) => r.gid)), [{ column: 'path' }], TASK_BATCH_SIZE)) {
      yield rows.map((r) => r.gid);
    }
  }
}

// --- JSON ------------------------------------------------------------------------------

/** Counts the items of a paged source as they go by. */
async function* counted<T>(pages: AsyncIterable<T[]>, count: { n: number }): AsyncGenerator<T[]> {
  for await (const page of pages) {
    count.n += page.length;
    yield page;
  }
}

async function* sectionPages(db: Db, project: ProjectView) {
  const query = db.selectFrom('sections as s').select(['s.gid', 's.name', 's.created_at', 's.position']).where('s.project_gid', '=', project.gid).where('s.deleted_at', 'is', null);
  for await (const rows of allPages(db, query, [{ column: 'position' }, { column: 'gid' }])) {
    yield rows.map((s) => ({ gid: s.gid, resource_type: 'section', name: s.name, created_at: iso(s.created_at), project: projectCompact(project) }));
  }
}

async function* statusPages(db: Db, viewer: Viewer, projectGid: string) {
  let offset: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof listStatuses>> = await listStatuses(db, viewer, projectGid, { limit: TASK_BATCH_SIZE, offset });
    if (page.rows.length) yield page.rows.map((s) => statusUpdateView(s));
    offset = page.next;
  } while (offset);
}

async function* projectAttachmentPages(db: Db, project: ProjectView, baseUrl: string) {
  for await (const rows of allPages(db, attachmentQuery(db, 'project', [project.gid]), ATTACHMENT_KEYS)) {
    yield rows.map((a) => attachmentView(a, projectCompact(project), baseUrl));
  }
}

function projectJson(db: Db, viewer: Viewer, project: ProjectView, header: unknown, baseUrl: string): AsyncGenerator<string> {
  const collector = newCollector();
  // The project's own fields first, in its order; then any other field the tasks have values for.
  for (const s of project.custom_field_settings) collector.customFieldGids.add(s.custom_field.gid);
  const counts = { sections: { n: 0 }, statuses: { n: 0 }, projectAttachments: { n: 0 }, tags: { n: 0 }, customFields: { n: 0 } };
  async function* tasks(): AsyncGenerator<string> {
    let first = true;
    for await (const batch of taskBatches(db, viewer, baseUrl, projectTaskPages(db, viewer, project.gid))) {
      yield* tasksJson(db, viewer, baseUrl, batch, collector, first);
      first = false;
    }
  }
  return jsonDocument([
    { key: 'export', value: header },
    { key: 'project', value: project },
    { key: 'sections', pages: () => counted(sectionPages(db, project), counts.sections) },
    { key: 'statuses', pages: () => counted(statusPages(db, viewer, project.gid), counts.statuses) },
    { key: 'attachments', pages: () => counted(projectAttachmentPages(db, project, baseUrl), counts.projectAttachments) },
    { key: 'tasks', items: tasks },
    { key: 'tags', pages: () => counted(tagViews(db, viewer, baseUrl, collector.tagGids), counts.tags) },
    { key: 'custom_fields', pages: () => counted(customFieldViews(db, viewer, collector.customFieldGids), counts.customFields) },
    {
      key: 'summary',
      later: () => ({
        ...collector.counts,
        attachments: collector.counts.attachments + counts.projectAttachments.n,
        sections: counts.sections.n,
        statuses: counts.statuses.n,
        tags: counts.tags.n,
        custom_fields: counts.customFields.n,
      }),
    },
  ]);
}

// --- CSV -------------------------------------------------------------------------------

async function* projectCsv(db: Db, viewer: Viewer, project: ProjectView, baseUrl: string): AsyncGenerator<string> {
  const fields: CsvField[] = project.custom_field_settings.map((s) => ({ gid: s.custom_field.gid, name: s.custom_field.name }));
  yield csvDocumentStart(csvHeader(fields));
  for await (const batch of taskBatches(db, viewer, baseUrl, projectTaskPages(db, viewer, project.gid))) {
    const emails = await assigneeEmails(db, viewer, batch);
    yield csvRecords(batch.views.map((v) => csvRow(v, emails, fields, project.gid)));
  }
}
