/**
 * Tasks for exports, a batch at a time: full task views (loadTaskViews: a fixed number
 * of queries per batch, showing only the projects, tags and parent the viewer may see),
 * and for JSON their comments and attachments; for CSV one row per task in Asana's
 * project CSV columns.
 *
 * Batches hold at most TASK_BATCH_SIZE tasks and are split further so the tasks' text
 * fits one Data API response. Comments and attachments are read through keyset cursors
 * in the order the tasks are written, so a task with any number of comments never holds
 * more than one page of them in memory.
 */
import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import { gidIn, keysetPage, PAGE_BYTE_BUDGET, toNumber, type KeysetColumn, type KeysetPage } from '../../db/query.js';
import { customFieldVisible, tagVisible, userVisible, type Viewer } from '../access/policy.js';
import { iso, type Db } from '../work/common.js';
import { loadStoryViews } from '../work/stories.js';
import { loadTaskViews } from '../work/task-views.js';
import { tagCompact, userCompact, workspaceCompact } from '../work/present.js';
import type { CsvRecord } from './csv.js';

export const TASK_BATCH_SIZE = 100;
/** What the text of one batch of tasks may weigh (names, notes), leaving room for the other columns. */
const TASK_BATCH_BYTES = PAGE_BYTE_BUDGET / 2;
/** Allowance per task for the other columns of the task query, as the Data API encodes them. */
const TASK_ROW_OVERHEAD = 1024;

export type TaskView = Record<string, unknown> & { gid: string; name: string };

// --- Paging helpers -------------------------------------------------------------------

/** Every row of a query, one keyset page at a time. */
export async function* allPages<Row extends object>(db: Db, query: SelectQueryBuilder<any, any, Row>, keys: KeysetColumn[], limit = TASK_BATCH_SIZE): AsyncGenerator<Row[]> {
  let after: string | null = null;
  do {
    const page: KeysetPage<Row> = await keysetPage(db, query, { keys, limit, after });
    if (page.rows.length) yield page.rows;
    after = page.next;
  } while (after);
}

/** `values` cut into lists of at most `size`. */
export function chunked<T>(values: readonly T[], size = TASK_BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** The position of a row's task in the batch (0-based), for ordering rows the way tasks are written. */
function ordinal(column: string, gids: readonly string[]): RawBuilder<number> {
  return sql<number>`(case ${sql.ref(column)} ${sql.join(
    gids.map((g, i) => sql`when ${g} then ${sql.lit(i)}`),
    sql` `,
  )} end)`;
}

/** Splits gids (in order) into runs whose names and notes fit one response. */
async function weighed(db: Db, gids: string[]): Promise<string[][]> {
  if (gids.length === 0) return [];
  const rows = await db.selectFrom('tasks as t').select(['t.gid', sql<number>`octet_length(t.name) + octet_length(t.notes)`.as('bytes')]).where(gidIn('t.gid', gids)).execute();
  const weight = new Map(rows.map((r) => [r.gid, toNumber(r.bytes) + TASK_ROW_OVERHEAD]));
  const out: string[][] = [];
  let run: string[] = [];
  let bytes = 0;
  for (const gid of gids) {
    const w = weight.get(gid);
    if (w === undefined) continue; // purged since the page was read
    if (run.length && bytes + w > TASK_BATCH_BYTES) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(gid);
    bytes += w;
  }
  if (run.length) out.push(run);
  return out;
}

// --- Task batches ----------------------------------------------------------------------

export interface TaskBatch {
  /** Views in the order given, without tasks deleted since their page was read. */
  views: TaskView[];
}

/** Full task views for pages of task gids, in order, in weighed batches. */
export async function* taskBatches(db: Db, viewer: Viewer, baseUrl: string, pages: AsyncIterable<string[]>): AsyncGenerator<TaskBatch> {
  for await (const page of pages) {
    for (const gids of await weighed(db, page)) {
      const views = await loadTaskViews(db, gids, viewer, baseUrl, { sectionless: 'null' });
      const ordered = gids.map((g) => views.get(g)).filter((v): v is TaskView => v !== undefined && !v.deleted_at);
      if (ordered.length) yield { views: ordered };
    }
  }
}

// --- JSON: tasks with their comments and attachments ---------------------------------

/** What a JSON export collects while writing tasks, for the sections written after them. */
export interface TaskCollector {
  tagGids: Set<string>;
  customFieldGids: Set<string>;
  counts: { tasks: number; subtasks: number; stories: number; attachments: number };
}

export const newCollector = (): TaskCollector => ({ tagGids: new Set(), customFieldGids: new Set(), counts: { tasks: 0, subtasks: 0, stories: 0, attachments: 0 } });

/** Rows for one batch, read page by page in task order and handed out per task. */
class BatchCursor<Row extends { ord: number }, View> {
  #rows: { ord: number; view: View }[] = [];
  #after: string | null = null;
  #done = false;

  constructor(
    private readonly db: Db,
    private readonly query: SelectQueryBuilder<any, any, Row>,
    private readonly keys: KeysetColumn[],
    private readonly present: (rows: Row[]) => Promise<View[]>,
  ) {}

  /** The views for the task at `ord`; tasks must be asked for in increasing order. */
  async *for(ord: number): AsyncGenerator<View> {
    for (;;) {
      if (this.#rows.length === 0) {
        if (this.#done) return;
        const page: KeysetPage<Row> = await keysetPage(this.db, this.query, { keys: this.keys, limit: TASK_BATCH_SIZE, after: this.#after });
        this.#after = page.next;
        this.#done = page.next === null;
        const views = await this.present(page.rows);
        this.#rows = page.rows.map((r, i) => ({ ord: toNumber(r.ord), view: views[i]! }));
        if (this.#rows.length === 0) return;
      }
      const first = this.#rows[0]!;
      if (first.ord > ord) return;
      this.#rows.shift();
      if (first.ord === ord) yield first.view;
    }
  }
}

/** The attachment as exported: metadata and the API's access-controlled URL, never a pre-signed one. */
export function attachmentView(
  a: { gid: string; name: string; resource_subtype: 'asana' | 'external'; url: string | null; content_type: string; size: string | number | null; created_at: Date; creator_gid: string | null; creator_name: string | null },
  parent: { gid: string; resource_type: string; name: string },
  baseUrl: string,
) {
  const external = a.resource_subtype === 'external';
  return {
    gid: a.gid,
    resource_type: 'attachment' as const,
    resource_subtype: a.resource_subtype,
    name: a.name,
    content_type: a.content_type,
    size: a.size === null || external ? null : toNumber(a.size),
    created_at: iso(a.created_at),
    created_by: a.creator_gid ? userCompact({ gid: a.creator_gid, name: a.creator_name ?? '' }) : null,
    host: external ? ('external' as const) : ('asana' as const),
    parent,
    permanent_url: `${baseUrl}/api/1.0/attachments/${a.gid}`,
    download_url: null,
    // An external attachment is its link: exported as is (a file's bytes never are).
    view_url: external ? a.url : null,
  };
}

export function attachmentQuery(db: Db, parentType: 'task' | 'project', parentGids: string[]) {
  return db
    .selectFrom('attachments as a')
    .leftJoin('users as u', 'u.gid', 'a.created_by')
    .select(['a.gid', 'a.name', 'a.resource_subtype', 'a.url', 'a.content_type', 'a.size', 'a.created_at', 'a.parent_gid', 'u.gid as creator_gid', 'u.name as creator_name', ordinal('a.parent_gid', parentGids).as('ord')])
    .where('a.parent_type', '=', parentType)
    .where(gidIn('a.parent_gid', parentGids))
    .where('a.deleted_at', 'is', null)
    .where('a.upload_state', '=', 'complete');
}

export const ATTACHMENT_KEYS: KeysetColumn[] = [{ column: 'ord' }, { column: 'created_at' }, { column: 'gid' }];

/**
 * The JSON text of a batch's tasks, each as the API's task representation plus its
 * comments (`stories`) and `attachments`; `first` says whether a comma is needed before
 * the first one.
 */
export async function* tasksJson(db: Db, viewer: Viewer, baseUrl: string, batch: TaskBatch, collector: TaskCollector, first: boolean): AsyncGenerator<string> {
  const gids = batch.views.map((v) => v.gid);
  const stories = new BatchCursor(
    db,
    db.selectFrom('stories as s').select(['s.gid', 's.text', 's.created_at', ordinal('s.task_gid', gids).as('ord')]).where(gidIn('s.task_gid', gids)).where('s.deleted_at', 'is', null),
    [{ column: 'ord' }, { column: 'created_at' }, { column: 'gid' }],
    async (rows) => {
      const views = await loadStoryViews(db, rows.map((r) => r.gid), viewer.userGid);
      return rows.map((r) => views.get(r.gid)!);
    },
  );
  const attachments = new BatchCursor(db, attachmentQuery(db, 'task', gids), ATTACHMENT_KEYS, async (rows) =>
    rows.map((r) => {
      const task = batch.views[toNumber(r.ord)]!;
      return attachmentView(r, { gid: task.gid, resource_type: 'task', name: task.name }, baseUrl);
    }),
  );
  for (const [ord, view] of batch.views.entries()) {
    collector.counts.tasks += 1;
    if (view.parent) collector.counts.subtasks += 1;
    for (const t of (view.tags as { gid: string }[]) ?? []) collector.tagGids.add(t.gid);
    for (const f of (view.custom_fields as { gid: string }[]) ?? []) collector.customFieldGids.add(f.gid);
    const task = JSON.stringify(view);
    yield `${first && ord === 0 ? '' : ','}\n${task.slice(0, -1)},"stories":[`;
    let n = 0;
    for await (const story of stories.for(ord)) {
      yield `${n++ ? ',' : ''}${JSON.stringify(story)}`;
    }
    collector.counts.stories += n;
    yield '],"attachments":[';
    n = 0;
    for await (const attachment of attachments.for(ord)) {
      yield `${n++ ? ',' : ''}${JSON.stringify(attachment)}`;
    }
    collector.counts.attachments += n;
    yield ']}';
  }
}

/** Full tags for gids the viewer may see (tag pages of TASK_BATCH_SIZE). */
export async function* tagViews(db: Db, viewer: Viewer, baseUrl: string, gids: Iterable<string>): AsyncGenerator<Record<string, unknown>[]> {
  for (const chunk of chunked([...gids])) {
    const query = db
      .selectFrom('tags as g')
      .innerJoin('organizations as o', 'o.gid', 'g.organization_gid')
      .select(['g.gid', 'g.name', 'g.color', 'g.notes', 'g.created_at', 'o.gid as org_gid', 'o.name as org_name'])
      .where(gidIn('g.gid', chunk))
      .where(tagVisible(viewer, 'g'));
    for await (const rows of allPages(db, query, [{ column: 'gid' }])) {
      yield rows.map((t) => ({ ...tagCompact(t), color: t.color, notes: t.notes, created_at: iso(t.created_at), workspace: workspaceCompact({ gid: t.org_gid, name: t.org_name }), permalink_url: `${baseUrl}/api/1.0/tags/${t.gid}` }));
    }
  }
}

/** Custom field definitions (with enum options) for gids the viewer may see, in the order given. */
export async function* customFieldViews(db: Db, viewer: Viewer, gids: Iterable<string>): AsyncGenerator<Record<string, unknown>[]> {
  for (const chunk of chunked([...gids])) {
    const fields = await db
      .selectFrom('custom_fields as cf')
      .select(['cf.gid', 'cf.name', 'cf.description', 'cf.resource_subtype', 'cf.precision', 'cf.created_at'])
      .where(gidIn('cf.gid', chunk))
      .where(customFieldVisible(viewer, 'cf'))
      .execute();
    const options = new Map<string, { gid: string; resource_type: 'enum_option'; name: string; color: string | null; enabled: boolean }[]>();
    const optionQuery = db.selectFrom('custom_field_enum_options as e').select(['e.gid', 'e.custom_field_gid', 'e.name', 'e.color', 'e.enabled', 'e.position']).where(gidIn('e.custom_field_gid', chunk));
    for await (const rows of allPages(db, optionQuery, [{ column: 'custom_field_gid' }, { column: 'position' }, { column: 'gid' }], 500)) {
      for (const o of rows) options.set(o.custom_field_gid, [...(options.get(o.custom_field_gid) ?? []), { gid: o.gid, resource_type: 'enum_option', name: o.name, color: o.color, enabled: o.enabled }]);
    }
    const byGid = new Map(fields.map((f) => [f.gid, f]));
    yield chunk
      .map((g) => byGid.get(g))
      .filter((f) => f !== undefined)
      .map((f) => ({
        gid: f.gid,
        resource_type: 'custom_field',
        name: f.name,
        resource_subtype: f.resource_subtype,
        type: f.resource_subtype,
        description: f.description,
        created_at: iso(f.created_at),
        ...(f.resource_subtype === 'number' ? { precision: f.precision ?? 0 } : {}),
        ...(f.resource_subtype === 'enum' || f.resource_subtype === 'multi_enum' ? { enum_options: options.get(f.gid) ?? [] } : {}),
      }));
  }
}

// --- CSV: Asana's project CSV columns --------------------------------------------------

export const CSV_COLUMNS = ['Task ID', 'Created At', 'Completed At', 'Last Modified', 'Name', 'Section/Column', 'Assignee', 'Assignee Email', 'Start Date', 'Due Date', 'Tags', 'Notes', 'Projects', 'Parent task'] as const;

export interface CsvField {
  gid: string;
  name: string;
}

/** Emails of a batch's assignees, for the ones the viewer may see in the organization (as the users API shows them). */
export async function assigneeEmails(db: Db, viewer: Viewer, batch: TaskBatch): Promise<Map<string, string>> {
  const gids = [...new Set(batch.views.map((v) => (v.assignee as { gid: string } | null)?.gid).filter((g): g is string => Boolean(g)))];
  if (!gids.length) return new Map();
  const rows = await db.selectFrom('users as u').select(['u.gid', 'u.email']).where(gidIn('u.gid', gids)).where(userVisible(viewer, 'u')).execute();
  return new Map(rows.map((r) => [r.gid, r.email]));
}

const day = (value: unknown) => (typeof value === 'string' ? value.slice(0, 10) : '');
const names = (list: unknown) => ((list as { name: string }[] | undefined) ?? []).map((x) => x.name).join(', ');

/**
 * One CSV row: the task's gid, dates as YYYY-MM-DD (UTC), the section of the exported
 * project (or of the task's first visible project when the export is not of a project),
 * names joined with ", ", then the display value of each custom field column.
 */
export function csvRow(view: TaskView, emails: Map<string, string>, fields: CsvField[], projectGid?: string): CsvRecord {
  const memberships = (view.memberships as { project: { gid: string }; section: { name: string } | null }[] | undefined) ?? [];
  const membership = projectGid ? memberships.find((m) => m.project.gid === projectGid) : memberships[0];
  const assignee = view.assignee as { gid: string; name: string } | null;
  const values = new Map(((view.custom_fields as { gid: string; display_value: string | null }[] | undefined) ?? []).map((f) => [f.gid, f.display_value]));
  return [
    view.gid,
    day(view.created_at),
    view.completed ? day(view.completed_at) : '',
    day(view.modified_at),
    view.name,
    membership?.section?.name ?? '',
    assignee?.name ?? '',
    assignee ? (emails.get(assignee.gid) ?? '') : '',
    day(view.start_on),
    day(view.due_on),
    names(view.tags),
    (view.notes as string | undefined) ?? '',
    names(view.projects),
    (view.parent as { name: string } | null)?.name ?? '',
    ...fields.map((f) => values.get(f.gid) ?? ''),
  ];
}

/** The header: Asana's columns, then one per custom field. */
export const csvHeader = (fields: CsvField[]) => [...CSV_COLUMNS, ...fields.map((f) => f.name)];
