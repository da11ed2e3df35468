/**
 * Task search (Asana's GET /workspaces/{gid}/tasks/search) and saved searches (our own
 * resource: a named set of the same filters, owned by a user, re-run on demand).
 *
 * Every result set is the viewer's visible tasks (taskVisible from the access policy)
 * narrowed by the filters, so a filter can never reveal a task the viewer could not
 * open. Filters that name other objects only see the viewer's view of them: a task
 * counts as "in project P" only when P is visible to the viewer (likewise sections and
 * tags), so `projects.not=<private project>` cannot reveal which visible tasks sit in
 * a project the viewer may not see. Unknown, invisible or foreign gids and emails match
 * nothing (no error), so a search is never an oracle for what exists; assignee.any,
 * followers.any and followers.not name only users the viewer may see (userVisible), so
 * they cannot confirm the email of an invisible assignee or follower.
 *
 * Results are keyset-paginated on (missing sort value, sort value, gid): stable pages
 * with bounded size; `searchTasks` answers one page, `searchTaskPages` yields all of
 * them (for exports).
 *
 * Used by lambdas/http/routes/search.ts and by the exports of saved searches.
 */
import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import { dateValue, decodeCursor, InvalidCursorError, json, keysetPage, type KeysetColumn } from '../../db/query.js';
import type { DB } from '../../db/schema.js';
import type { Principal } from '../auth/sessions.js';
import { isSavedSearchOwner, projectVisible, savedSearchVisible, tagVisible, taskVisible, userVisible, viewerIn, type Viewer } from '../access/policy.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { iso, type Db } from './common.js';
import { taskCompact, workspaceCompact } from './present.js';

// --- Filters -------------------------------------------------------------------------

/** "me", a user gid, or an email address (Asana's user identifiers). */
export type UserIdentifier = string;

export const SORT_FIELDS = ['due_date', 'created_at', 'completed_at', 'likes', 'modified_at', 'relevance'] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export const SEARCH_SUBTYPES = ['default_task', 'milestone', 'approval', 'custom'] as const;

/**
 * Validated search filters, named as Asana's query parameters. Lists are already split;
 * dates are 'YYYY-MM-DD' (null: "no date"); instants are ISO 8601 date-times. This is
 * also the canonical form a saved search stores.
 */
export interface SearchFilters {
  text?: string;
  resource_subtype?: (typeof SEARCH_SUBTYPES)[number];
  'assignee.any'?: UserIdentifier[];
  'assignee.not'?: UserIdentifier[];
  'projects.any'?: string[];
  'projects.not'?: string[];
  'projects.all'?: string[];
  'sections.any'?: string[];
  'sections.not'?: string[];
  'sections.all'?: string[];
  'tags.any'?: string[];
  'tags.not'?: string[];
  'tags.all'?: string[];
  'teams.any'?: string[];
  'followers.any'?: UserIdentifier[];
  'followers.not'?: UserIdentifier[];
  'created_by.any'?: UserIdentifier[];
  'created_by.not'?: UserIdentifier[];
  'liked_by.not'?: UserIdentifier[];
  'commented_on_by.not'?: UserIdentifier[];
  due_on?: string | null;
  'due_on.before'?: string;
  'due_on.after'?: string;
  /** Accepted for compatibility and ignored: tasks here have due dates, not due times. */
  'due_at.before'?: string;
  'due_at.after'?: string;
  start_on?: string | null;
  'start_on.before'?: string;
  'start_on.after'?: string;
  created_on?: string | null;
  'created_on.before'?: string;
  'created_on.after'?: string;
  'created_at.before'?: string;
  'created_at.after'?: string;
  completed_on?: string | null;
  'completed_on.before'?: string;
  'completed_on.after'?: string;
  'completed_at.before'?: string;
  'completed_at.after'?: string;
  modified_on?: string | null;
  'modified_on.before'?: string;
  'modified_on.after'?: string;
  'modified_at.before'?: string;
  'modified_at.after'?: string;
  has_attachment?: boolean;
  completed?: boolean;
  is_subtask?: boolean;
  /** Default modified_at; relevance (no ranking here) sorts as modified_at. */
  sort_by?: SortField;
  /** Default false (newest / largest first). */
  sort_ascending?: boolean;
}

export interface SearchPage {
  limit: number;
  offset: string | null;
}

export type TaskCompactView = ReturnType<typeof taskCompact>;

export interface SearchResult {
  tasks: TaskCompactView[];
  /** Cursor of the following page, or null on the last page. */
  next: string | null;
}

/** Search pages are bounded: Asana's maximum (and our default) is 100 tasks. */
export const SEARCH_MAX_LIMIT = 100;
/** Most words of `text` considered (each must appear in the name or the notes). */
const MAX_TEXT_TERMS = 20;

// --- SQL pieces ------------------------------------------------------------------------

/** A parenthesized list of bound values, never empty (the Data API refuses array parameters). */
const inList = (values: readonly string[]) => (values.length ? sql.join(values.map((v) => sql`${v}`)) : sql`null`);
const or = (parts: RawBuilder<boolean>[]) => sql<boolean>`(${sql.join(parts, sql` or `)})`;
const and = (parts: RawBuilder<boolean>[]) => sql<boolean>`(${sql.join(parts, sql` and `)})`;
const not = (p: RawBuilder<boolean>) => sql<boolean>`(not ${p})`;
const NOTHING = sql<boolean>`false`;

/** A LIKE pattern matching `term` literally anywhere (% _ and \ are escaped). */
export function containsPattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The task is in one of the projects, counting only projects the viewer can see. */
function inVisibleProject(viewer: Viewer, projectGids: readonly string[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from task_projects s_tp join projects s_p on s_p.gid = s_tp.project_gid
    where s_tp.task_gid = t.gid and s_tp.project_gid in (${inList(projectGids)}) and ${projectVisible(viewer, 's_p')})`;
}

/** The task is in one of the sections (of projects the viewer can see; deleted sections never match). */
function inVisibleSection(viewer: Viewer, sectionGids: readonly string[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from task_projects s_ts join sections s_s on s_s.gid = s_ts.section_gid join projects s_sp on s_sp.gid = s_ts.project_gid
    where s_ts.task_gid = t.gid and s_ts.section_gid in (${inList(sectionGids)}) and s_s.deleted_at is null and ${projectVisible(viewer, 's_sp')})`;
}

/** The task carries one of the tags (tags the viewer can see). */
function hasVisibleTag(viewer: Viewer, tagGids: readonly string[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from task_tags s_tt join tags s_tg on s_tg.gid = s_tt.tag_gid
    where s_tt.task_gid = t.gid and s_tt.tag_gid in (${inList(tagGids)}) and ${tagVisible(viewer, 's_tg')})`;
}

/** The task is in a visible project of one of the teams. */
function inTeam(viewer: Viewer, teamGids: readonly string[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from task_projects s_tm_tp join projects s_tm_p on s_tm_p.gid = s_tm_tp.project_gid
    where s_tm_tp.task_gid = t.gid and s_tm_p.team_gid in (${inList(teamGids)}) and ${projectVisible(viewer, 's_tm_p')})`;
}

const all = (gids: readonly string[], one: (gids: readonly string[]) => RawBuilder<boolean>) => and([...new Set(gids)].map((g) => one([g])));

/** A user-valued column (possibly null) is one of the users. */
const userIn = (column: string, users: readonly string[]) => (users.length ? sql<boolean>`${sql.ref(column)} in (${inList(users)})` : NOTHING);
/** ... is none of the users (null counts as none: an unassigned task is "not assigned to X"). */
const userNotIn = (column: string, users: readonly string[]) => (users.length ? sql<boolean>`(${sql.ref(column)} is null or ${sql.ref(column)} not in (${inList(users)}))` : sql<boolean>`true`);

/** The UTC calendar day of a timestamp column. */
const dayOf = (column: string) => sql`cast((${sql.ref(column)} at time zone 'UTC') as date)`;

function dateFilters(column: RawBuilder<unknown>, exact: string | null | undefined, before: string | undefined, after: string | undefined, nullable: boolean): RawBuilder<boolean>[] {
  const out: RawBuilder<boolean>[] = [];
  if (exact === null) out.push(nullable ? sql<boolean>`${column} is null` : NOTHING);
  else if (exact !== undefined) out.push(sql<boolean>`${column} = ${dateValue(exact)}`);
  if (before !== undefined) out.push(sql<boolean>`${column} < ${dateValue(before)}`);
  if (after !== undefined) out.push(sql<boolean>`${column} > ${dateValue(after)}`);
  return out;
}

function instantFilters(column: string, before: string | undefined, after: string | undefined): RawBuilder<boolean>[] {
  const out: RawBuilder<boolean>[] = [];
  if (before !== undefined) out.push(sql<boolean>`${sql.ref(column)} < ${new Date(before)}`);
  if (after !== undefined) out.push(sql<boolean>`${sql.ref(column)} > ${new Date(after)}`);
  return out;
}

/**
 * Resolves "me", gids and emails to user gids; unknown emails resolve to nothing. With
 * `visibleOnly`, gids and emails resolve only to users the viewer may see (userVisible),
 * so the filter cannot confirm who an invisible user is (an assignee's email, say).
 */
async function resolveUsers(db: Db, viewer: Viewer, refs: readonly UserIdentifier[] | undefined, visibleOnly: boolean): Promise<string[] | undefined> {
  if (!refs) return undefined;
  const out = new Set<string>();
  const gids: string[] = [];
  const emails: string[] = [];
  for (const ref of refs) {
    if (ref === 'me') out.add(viewer.userGid);
    else if (ref.includes('@')) emails.push(ref.trim().toLowerCase());
    else gids.push(ref);
  }
  if (!visibleOnly) for (const gid of gids) out.add(gid);
  const lookup = [...(emails.length ? [sql<boolean>`lower(u.email) in (${inList(emails)})`] : []), ...(visibleOnly && gids.length ? [sql<boolean>`u.gid in (${inList(gids)})`] : [])];
  if (lookup.length) {
    let query = db.selectFrom('users as u').select('u.gid').where(or(lookup));
    if (visibleOnly) query = query.where(userVisible(viewer, 'u'));
    for (const r of await query.execute()) out.add(r.gid);
  }
  return [...out];
}

/** The user filters that resolve only to users the viewer may see. */
/** Every people filter resolves only people the viewer may see, so a filter cannot confirm that an email exists. */
const VISIBLE_USER_FILTERS: ReadonlySet<keyof SearchFilters> = new Set(['assignee.any', 'assignee.not', 'followers.any', 'followers.not', 'created_by.any', 'created_by.not', 'liked_by.not', 'commented_on_by.not']);

/** The predicates of every filter, combined with AND. */
async function filterPredicates(db: Db, viewer: Viewer, f: SearchFilters): Promise<RawBuilder<boolean>[]> {
  const where: RawBuilder<boolean>[] = [];
  const [assigneeAny, assigneeNot, followersAny, followersNot, creatorAny, creatorNot, likedByNot, commentedByNot] = await Promise.all(
    (['assignee.any', 'assignee.not', 'followers.any', 'followers.not', 'created_by.any', 'created_by.not', 'liked_by.not', 'commented_on_by.not'] as const).map((k) => resolveUsers(db, viewer, f[k], VISIBLE_USER_FILTERS.has(k))),
  );

  if (f.text !== undefined) {
    const terms = f.text.split(/\s+/u).filter(Boolean).slice(0, MAX_TEXT_TERMS);
    for (const term of terms) {
      const pattern = containsPattern(term);
      where.push(sql<boolean>`(t.name ilike ${pattern} escape '\\' or t.notes ilike ${pattern} escape '\\')`);
    }
  }
  if (f.resource_subtype) where.push(sql<boolean>`t.resource_subtype = ${f.resource_subtype}`);

  if (assigneeAny) where.push(userIn('t.assignee_gid', assigneeAny));
  if (assigneeNot) where.push(userNotIn('t.assignee_gid', assigneeNot));
  if (creatorAny) where.push(userIn('t.created_by', creatorAny));
  if (creatorNot) where.push(userNotIn('t.created_by', creatorNot));
  if (followersAny) where.push(followersAny.length ? sql<boolean>`exists (select 1 from task_followers s_f where s_f.task_gid = t.gid and s_f.user_gid in (${inList(followersAny)}))` : NOTHING);
  if (followersNot?.length) where.push(sql<boolean>`not exists (select 1 from task_followers s_fn where s_fn.task_gid = t.gid and s_fn.user_gid in (${inList(followersNot)}))`);
  if (likedByNot?.length) where.push(sql<boolean>`not exists (select 1 from task_likes s_l where s_l.task_gid = t.gid and s_l.user_gid in (${inList(likedByNot)}))`);
  if (commentedByNot?.length) {
    where.push(sql<boolean>`not exists (select 1 from stories s_c where s_c.task_gid = t.gid and s_c.deleted_at is null and s_c.created_by in (${inList(commentedByNot)}))`);
  }

  // Asana: projects.any with sections.any means "in one of the projects, or in one of the sections".
  const projectsAny = f['projects.any'] ? inVisibleProject(viewer, f['projects.any']) : undefined;
  const sectionsAny = f['sections.any'] ? inVisibleSection(viewer, f['sections.any']) : undefined;
  if (projectsAny && sectionsAny) where.push(or([projectsAny, sectionsAny]));
  else if (projectsAny) where.push(projectsAny);
  else if (sectionsAny) where.push(sectionsAny);
  if (f['projects.not']) where.push(not(inVisibleProject(viewer, f['projects.not'])));
  if (f['projects.all']) where.push(all(f['projects.all'], (g) => inVisibleProject(viewer, g)));
  if (f['sections.not']) where.push(not(inVisibleSection(viewer, f['sections.not'])));
  if (f['sections.all']) where.push(all(f['sections.all'], (g) => inVisibleSection(viewer, g)));
  if (f['tags.any']) where.push(hasVisibleTag(viewer, f['tags.any']));
  if (f['tags.not']) where.push(not(hasVisibleTag(viewer, f['tags.not'])));
  if (f['tags.all']) where.push(all(f['tags.all'], (g) => hasVisibleTag(viewer, g)));
  if (f['teams.any']) where.push(inTeam(viewer, f['teams.any']));

  where.push(...dateFilters(sql`t.due_on`, f.due_on, f['due_on.before'], f['due_on.after'], true));
  where.push(...dateFilters(sql`t.start_on`, f.start_on, f['start_on.before'], f['start_on.after'], true));
  where.push(...dateFilters(dayOf('t.created_at'), f.created_on, f['created_on.before'], f['created_on.after'], false));
  where.push(...dateFilters(dayOf('t.completed_at'), f.completed_on, f['completed_on.before'], f['completed_on.after'], true));
  where.push(...dateFilters(dayOf('t.modified_at'), f.modified_on, f['modified_on.before'], f['modified_on.after'], false));
  where.push(...instantFilters('t.created_at', f['created_at.before'], f['created_at.after']));
  where.push(...instantFilters('t.completed_at', f['completed_at.before'], f['completed_at.after']));
  where.push(...instantFilters('t.modified_at', f['modified_at.before'], f['modified_at.after']));

  if (f.completed !== undefined) where.push(sql<boolean>`t.completed = ${f.completed}`);
  if (f.is_subtask !== undefined) where.push(f.is_subtask ? sql<boolean>`t.parent_gid is not null` : sql<boolean>`t.parent_gid is null`);
  if (f.has_attachment !== undefined) {
    const has = sql<boolean>`exists (select 1 from attachments s_a where s_a.parent_type = 'task' and s_a.parent_gid = t.gid and s_a.deleted_at is null and s_a.upload_state = 'complete')`;
    where.push(f.has_attachment ? has : not(has));
  }
  return where;
}

// --- Sorting -----------------------------------------------------------------------------

type KeyKind = 'int' | 'ts' | 'gid';

interface SortSpec {
  /** 1 when the task has no value for the sort field (such tasks always come last). */
  missing: RawBuilder<number>;
  key: RawBuilder<unknown>;
  kind: KeyKind;
}

const EPOCH = sql`cast('1970-01-01T00:00:00Z' as timestamptz)`;
const EPOCH_DAY = sql`cast('1970-01-01' as date)`;
const present = sql<number>`cast(0 as integer)`;

function sortSpec(by: SortField): SortSpec {
  switch (by) {
    case 'created_at':
      return { missing: present, key: sql`t.created_at`, kind: 'ts' };
    case 'completed_at':
      return { missing: sql<number>`(case when t.completed_at is null then 1 else 0 end)`, key: sql`coalesce(t.completed_at, ${EPOCH})`, kind: 'ts' };
    case 'due_date':
      // Days since 1970 as an integer: the same comparison on every engine and in cursors.
      return { missing: sql<number>`(case when t.due_on is null then 1 else 0 end)`, key: sql`(coalesce(t.due_on, ${EPOCH_DAY}) - ${EPOCH_DAY})`, kind: 'int' };
    case 'likes':
      return { missing: present, key: sql`(select cast(count(*) as integer) from task_likes s_lk where s_lk.task_gid = t.gid)`, kind: 'int' };
    case 'modified_at':
    case 'relevance':
      return { missing: present, key: sql`t.modified_at`, kind: 'ts' };
  }
}

/** Refuses cursors made for another sort (their values would not compare). */
function assertCursorFits(offset: string | null, kinds: KeyKind[]): void {
  if (!offset) return;
  const values = decodeCursor(offset, kinds.length);
  const fits = values.every((v, i) => {
    switch (kinds[i]) {
      case 'int':
        return typeof v === 'number' && Number.isInteger(v);
      case 'ts':
        return v !== null && typeof v === 'object';
      case 'gid':
        return typeof v === 'string' && /^\d{1,19}$/.test(v);
      default:
        return false;
    }
  });
  if (!fits) throw new InvalidCursorError();
}

// --- Search ------------------------------------------------------------------------------

type TaskRow = { gid: string; name: string; resource_subtype: string };

/** The query of the viewer's visible tasks matching the filters, with the sort columns. */
async function searchQuery(db: Db, viewer: Viewer, filters: SearchFilters): Promise<{ query: SelectQueryBuilder<DB, any, TaskRow>; keys: KeysetColumn[]; kinds: KeyKind[] }> {
  const spec = sortSpec(filters.sort_by ?? 'modified_at');
  const direction = filters.sort_ascending ? 'asc' : 'desc';
  let query = db
    .selectFrom('tasks as t')
    .select(['t.gid', 't.name', 't.resource_subtype'])
    .select([spec.missing.as('sort_missing'), spec.key.as('sort_key')])
    .where('t.organization_gid', '=', viewer.organizationGid)
    .where('t.deleted_at', 'is', null)
    .where(taskVisible(viewer, 't'));
  for (const p of await filterPredicates(db, viewer, filters)) query = query.where(p);
  const keys: KeysetColumn[] = [{ column: 'sort_missing' }, { column: 'sort_key', direction }, { column: 'gid', direction }];
  return { query: query as unknown as SelectQueryBuilder<DB, any, TaskRow>, keys, kinds: ['int', spec.kind, 'gid'] };
}

/**
 * One page of the viewer's visible tasks matching the filters, as compact tasks, in the
 * filters' sort order. `page.offset` is a cursor from a previous page's `next`.
 */
export async function searchTasks(deps: Pick<AppDeps, 'database'>, viewer: Viewer, filters: SearchFilters, page: SearchPage): Promise<SearchResult> {
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > SEARCH_MAX_LIMIT) throw new BadRequestError(`limit must be between 1 and ${SEARCH_MAX_LIMIT}`, [{ message: `limit: must be between 1 and ${SEARCH_MAX_LIMIT}` }]);
  const db = deps.database.db;
  const { query, keys, kinds } = await searchQuery(db, viewer, filters);
  assertCursorFits(page.offset, kinds);
  const result = await keysetPage(db, query, { keys, limit: page.limit, after: page.offset });
  return { tasks: result.rows.map((r) => taskCompact(r)), next: result.next };
}

/** Every page of a search, one at a time (memory bounded by the page size). */
export async function* searchTaskPages(deps: Pick<AppDeps, 'database'>, viewer: Viewer, filters: SearchFilters, pageSize = SEARCH_MAX_LIMIT): AsyncGenerator<TaskCompactView[]> {
  let offset: string | null = null;
  do {
    const page: SearchResult = await searchTasks(deps, viewer, filters, { limit: pageSize, offset });
    if (page.tasks.length) yield page.tasks;
    offset = page.next;
  } while (offset);
}

// --- Saved searches ----------------------------------------------------------------------

export interface SavedSearchView {
  gid: string;
  resource_type: 'saved_search';
  name: string;
  workspace: { gid: string; resource_type: 'workspace'; name: string };
  filters: SearchFilters;
  created_at: string | null;
  modified_at: string | null;
}

interface SavedSearchRow {
  gid: string;
  name: string;
  filters: unknown;
  created_at: Date;
  modified_at: Date;
  org_gid: string;
  org_name: string;
}

function savedSearchQuery(db: Db) {
  return db
    .selectFrom('saved_searches as ss')
    .innerJoin('organizations as o', 'o.gid', 'ss.organization_gid')
    .select(['ss.gid', 'ss.name', 'ss.filters', 'ss.created_at', 'ss.modified_at', 'ss.owner_gid', 'o.gid as org_gid', 'o.name as org_name'])
    .where('ss.deleted_at', 'is', null);
}

/** The stored filters (written only after validation) in their canonical form. */
function storedFilters(value: unknown): SearchFilters {
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as SearchFilters) : {};
}

function savedSearchView(r: SavedSearchRow): SavedSearchView {
  return {
    gid: r.gid,
    resource_type: 'saved_search',
    name: r.name,
    workspace: workspaceCompact({ gid: r.org_gid, name: r.org_name }),
    filters: storedFilters(r.filters),
    created_at: iso(r.created_at),
    modified_at: iso(r.modified_at),
  };
}

export const savedSearchCompact = (v: SavedSearchView) => ({ gid: v.gid, resource_type: v.resource_type, name: v.name });

/**
 * A saved search of the caller with the caller as viewer (their current role). Other
 * people's searches, deleted ones and those of organizations the caller left are 404.
 */
export async function ownSavedSearch(db: Db, principal: Principal, gid: string): Promise<{ view: SavedSearchView; viewer: Viewer }> {
  if (principal.kind !== 'user') throw new NotFoundError('Saved search not found');
  const row = await savedSearchQuery(db).where('ss.gid', '=', gid).executeTakeFirst();
  if (!row || !isSavedSearchOwner(principal, row.owner_gid)) throw new NotFoundError('Saved search not found');
  const viewer = await viewerIn(db, principal, row.org_gid);
  return { view: savedSearchView(row), viewer };
}

export async function createSavedSearch(deps: AppDeps, principal: Principal, input: { name: string; workspace: string; filters: SearchFilters }): Promise<SavedSearchView> {
  const db = deps.database.db;
  const viewer = await viewerIn(db, principal, input.workspace);
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  await db
    .insertInto('saved_searches')
    .values({ gid, organization_gid: viewer.organizationGid, owner_gid: viewer.userGid, name: input.name, filters: json(input.filters), created_at: now, modified_at: now })
    .execute();
  return (await ownSavedSearch(db, principal, gid)).view;
}

export async function updateSavedSearch(deps: AppDeps, principal: Principal, gid: string, input: { name?: string; filters?: SearchFilters }): Promise<SavedSearchView> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await ownSavedSearch(db, principal, gid);
    await db
      .updateTable('saved_searches')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.filters !== undefined ? { filters: json(input.filters) } : {}),
        modified_at: sql`greatest(modified_at, ${now})`,
      })
      .where('gid', '=', gid)
      .execute();
  });
  return (await ownSavedSearch(deps.database.db, principal, gid)).view;
}

export async function deleteSavedSearch(deps: AppDeps, principal: Principal, gid: string): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (db) => {
    await ownSavedSearch(db, principal, gid);
    await db.updateTable('saved_searches').set({ deleted_at: now, modified_at: sql`greatest(modified_at, ${now})` }).where('gid', '=', gid).execute();
  });
}

/** The caller's own saved searches in a workspace, oldest first. */
export async function listSavedSearches(deps: AppDeps, principal: Principal, workspaceGid: string, page: SearchPage): Promise<{ data: SavedSearchView[]; next: string | null }> {
  const db = deps.database.db;
  const viewer = await viewerIn(db, principal, workspaceGid);
  const query = savedSearchQuery(db).where(savedSearchVisible(viewer, 'ss'));
  const result = await keysetPage(db, query, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
  return { data: result.rows.map(savedSearchView), next: result.next };
}

/** Re-runs a saved search now, with the owner's current visibility. */
export async function runSavedSearch(deps: AppDeps, principal: Principal, gid: string, page: SearchPage): Promise<SearchResult & { viewer: Viewer }> {
  const { view, viewer } = await ownSavedSearch(deps.database.db, principal, gid);
  return { ...(await searchTasks(deps, viewer, view.filters, page)), viewer };
}
