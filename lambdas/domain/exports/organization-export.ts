/**
 * The organization export (asynchronous, JSON, gzip): everything in one organization, for
 * its admins, super admins and service accounts with the `exports` scope (authorization
 * is checked before a job is created; this module only builds the document). The format
 * is documented in docs/export-format.md ("Organization export") and described by
 * docs/schemas/organization-export.schema.json.
 *
 * This is the admin's backup of the organization, not a view through the access policy:
 * every query is scoped by the organization alone (private projects, secret teams and
 * their contents included, nothing of any other organization). Deleted projects and teams
 * are always included; every other deleted object only when it was deleted in the 30 days
 * before the job was created (RESTORE_DAYS, the purge's horizon). Each object carries
 * `deleted_at` (null while alive).
 *
 * The plan is a function of the job row and the data (never the clock): sections are read
 * in keyset pages (keysetPage: at most PAGE_ROWS rows and under the Data API's 1 MiB), and
 * for each page every related list (memberships, followers, likes, tags, custom field
 * values ...) is read with one query for the whole page, itself keyset-paged by bytes, so
 * the number of statements per page does not grow with the number of rows. The lists of
 * tasks and comments are read as bare keys (task and user, task and project ...) and
 * rendered with the people, projects, sections, teams and tags they name, each read and
 * rendered once per export (ReferenceCache, references.ts); tasks and comments are written
 * as text (RenderedJson): the largest sections build no object per related row.
 *
 * Incremental exports (`modified_since`) hold the objects whose modified_at (or deleted_at)
 * is later, and tombstones: soft-deleted objects and the deletion log (deleted_objects:
 * rows deleted for good, purged ones included), one per object. The work-graph use cases
 * keep modified_at on every change, relations included (docs/export-format.md).
 *
 * Secrets never enter the document: every query names its columns (no password or token
 * hashes, sessions, SSO settings, login history, service-account tokens, invitation
 * tokens, blob keys or pre-signed URLs).
 */
import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import { cursorAfter, dateOnly, gidIn, decodeCursor, keysetPage, toNumber, type KeysetColumn } from '../../db/query.js';
import { iso, type Db } from '../work/common.js';
import { enumOptionView } from '../work/custom-fields.js';
import { customFieldValueView, type ChosenValues } from '../work/task-views.js';
import { maybe, projectCompact, sectionCompact, tagCompact, taskCompact, teamCompact, userCompact, workspaceCompact } from '../work/present.js';
import { RESTORE_DAYS } from '../work/tasks.js';
import { teamMembershipView, teamView } from '../work/teams.js';
import { exportFilename } from './delivery.js';
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION } from './document.js';
import type { ExportJobContext, ExportPlan, ExportSection } from './plan.js';
import { ReferenceCache, type ReferenceKind } from './references.js';
import { allPages, attachmentView } from './task-rows.js';

/** Rows per page of a section (also bounded by keysetPage's byte budget and RENDERED_PAGE_BUDGET). */
export const PAGE_ROWS = 400;
/** Comments per page: smaller items, so more of them fit a page. */
const STORY_PAGE_ROWS = 1000;
/** Templates per page: each carries its whole snapshot (read in slices, see snapshots()). */
export const TEMPLATE_PAGE_ROWS = 20;
/** The most text one page of a section renders to (JSON with separators), like a database page's budget. */
export const RENDERED_PAGE_BUDGET = 768 * 1024;
/** Rows per statement of a related list (also bounded by keysetPage's byte budget). */
export const RELATION_ROWS = 5000;
/** Characters per slice of a template snapshot: at most 32 KB in UTF-8, far below the Data API's 64 KB per row. */
const SNAPSHOT_SLICE_CHARS = 8000;

/** The sections of the document, in order (the names are the document's keys). */
export const ORGANIZATION_EXPORT_SECTIONS = [
  'users',
  'workspace_memberships',
  'pending_invitations',
  'teams',
  'team_memberships',
  'projects',
  'sections',
  'project_statuses',
  'tags',
  'custom_fields',
  'tasks',
  'stories',
  'attachments',
  'messages',
  'project_templates',
  'task_templates',
  'tombstones',
] as const;

export const ORGANIZATION_EXPORT_CONTENT_TYPE = 'application/json';

type Rows<Row> = SelectQueryBuilder<any, any, Row>;

/** What every query of one export is filtered by. */
interface Scope {
  organizationGid: string;
  /** Rows per page: null for each section's own (PAGE_ROWS...); tests set fewer to get many pages out of little data. */
  pageRows: number | null;
  /** The most text a page renders to (RENDERED_PAGE_BUDGET; tests set less). */
  renderedPageBudget: number;
  /** Deleted objects other than projects and teams are included when deleted at or after this instant. */
  cutoff: Date;
  /** Incremental exports: only objects changed after this. */
  since: Date | null;
  baseUrl: string;
}

const ref = (alias: string, column: string) => sql.ref(`${alias}.${column}`);

/** Alive, or deleted within the 30-day window. */
function kept(scope: Scope, alias: string, column = 'deleted_at'): RawBuilder<boolean> {
  return sql<boolean>`(${ref(alias, column)} is null or ${ref(alias, column)} >= ${scope.cutoff})`;
}

/** Changed after `since` (any of the columns; nulls ignored). Always true in a full export. */
function changed(scope: Scope, alias: string, columns: string[]): RawBuilder<boolean> {
  if (!scope.since) return sql<boolean>`true`;
  return sql<boolean>`greatest(${sql.join(columns.map((c) => ref(alias, c)))}) > ${scope.since}`;
}

/**
 * Incremental exports: a row of `table` belonging to the object (`table.parent = alias.column`)
 * changed after `since` (an object is exported again when what it holds changed). Always
 * true in a full export.
 */
function changedChild(scope: Scope, table: 'sections' | 'custom_field_enum_options' | 'project_custom_field_settings', parent: string, alias: string, column = 'gid'): RawBuilder<boolean> {
  if (!scope.since) return sql<boolean>`true`;
  const since = sql<boolean>`${table === 'sections' ? sql`greatest(cx.modified_at, cx.deleted_at)` : sql`cx.modified_at`} > ${scope.since}`;
  return sql<boolean>`exists (select 1 from ${sql.table(table)} cx where ${sql.ref(`cx.${parent}`)} = ${ref(alias, column)} and ${since})`;
}

/** Every row of a related query (one statement unless its rows weigh more than a page). */
async function related<Row extends object>(db: Db, query: Rows<Row>, keys: KeysetColumn[]): Promise<Row[]> {
  const out: Row[] = [];
  for await (const rows of allPages(db, query, keys, RELATION_ROWS)) out.push(...rows);
  return out;
}

function groupBy<R, K extends keyof R>(rows: R[], key: K): Map<R[K], R[]> {
  const out = new Map<R[K], R[]>();
  for (const r of rows) {
    const list = out.get(r[key]);
    if (list) list.push(r);
    else out.set(r[key], [r]);
  }
  return out;
}

/** An item of a section that is already JSON text (written as is instead of stringified). */
class RenderedJson {
  constructor(readonly text: string) {}
}

/** The rendered items of one list, joined by commas (without brackets), and how many there are. */
interface RenderedList {
  count: number;
  text: string;
}

const NO_LIST: RenderedList = { count: 0, text: '' };

/**
 * Owners' lists rendered from bare relation rows (in list order, grouped by owner): each
 * row's item, or nothing when it names an object the export leaves out.
 */
function renderLists<R>(rows: R[], owner: (row: R) => string, item: (row: R) => string | null): Map<string, RenderedList> {
  const out = new Map<string, RenderedList>();
  for (const row of rows) {
    const text = item(row);
    if (text === null) continue;
    const key = owner(row);
    const list = out.get(key);
    if (list) {
      list.count += 1;
      list.text += `,${text}`;
    } else out.set(key, { count: 1, text });
  }
  return out;
}

/**
 * A list of objects per owner (a task's tags, followers or likes, a comment's likes), from
 * the relation's rows: `owner`, `at` (when added: the list's order) and the `named`
 * object's gid. Each item is the named object's compact JSON, or `item` of it.
 */
async function namedList(
  db: Db,
  references: ReferenceCache,
  kind: ReferenceKind,
  query: Rows<{ owner: string; at: Date; named: string }>,
  item: (gid: string, json: string) => string = (_gid, json) => json,
): Promise<Map<string, RenderedList>> {
  const rows = await related(db, query, [{ column: 'owner' }, { column: 'at' }, { column: 'named' }]);
  const found = await references.resolve(kind, rows.map((r) => r.named));
  return renderLists(
    rows,
    (r) => r.owner,
    (r) => {
      const named = found.get(r.named);
      return named ? item(r.named, named.json) : null;
    },
  );
}

/** The likes of tasks or comments (`owners`), rendered: `{"gid": <user>, "user": <user compact>}` in the order given. */
function likesOf(db: Db, references: ReferenceCache, table: 'task_likes' | 'story_likes', owners: string[]): Promise<Map<string, RenderedList>> {
  const query =
    table === 'task_likes'
      ? db.selectFrom('task_likes as l').select(['l.task_gid as owner', 'l.created_at as at', 'l.user_gid as named']).where(gidIn('l.task_gid', owners))
      : db.selectFrom('story_likes as l').select(['l.story_gid as owner', 'l.created_at as at', 'l.user_gid as named']).where(gidIn('l.story_gid', owners));
  return namedList(db, references, 'user', query, (gid, json) => `{"gid":${JSON.stringify(gid)},"user":${json}}`);
}

/** A JSON value that an engine may hand back as text (the Data API) or parsed (PGlite, node-postgres). */
function parsed<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

const user = (gid: string | null, name: string | null) => (gid ? userCompact({ gid, name: name ?? '' }) : null);
/** The same as JSON text ('null' when there is no one). */
const userJson = (gid: string | null, name: string | null) => JSON.stringify(user(gid, name));

/** One array of the document, read in keyset pages. */
function jsonSection<Row extends object>(
  db: Db,
  scope: Scope,
  name: string,
  source: {
    /** The rows; a function of the cursor when a page can bound a joined table too (see storiesSection). */
    query: Rows<Row> | ((after: string | null) => Rows<Row>);
    keys: KeysetColumn[];
    limit?: number;
    render: (rows: Row[]) => Promise<unknown[]> | unknown[];
  },
): ExportSection {
  return {
    name,
    open: `,\n${JSON.stringify(name)}:[`,
    close: '\n]',
    separator: ',\n',
    async page(after, early) {
      const query = typeof source.query === 'function' ? source.query(after) : source.query;
      const page = await keysetPage(db, query, { keys: source.keys, limit: Math.min(source.limit ?? PAGE_ROWS, scope.pageRows ?? Infinity), after });
      // The next page can be read while this one's lists are read and rendered.
      early?.(page.next);
      const values = page.rows.length ? await source.render(page.rows) : [];
      if (values.length !== page.rows.length) throw new Error(`section ${name} rendered ${values.length} items for ${page.rows.length} rows`);
      // The rendered text is bounded too (related lists make an item larger than its row):
      // a page that would pass the budget ends after the last item that fits (always at
      // least one), and the next page starts after that item's row.
      const items: string[] = [];
      let bytes = 0;
      for (const value of values) {
        const item = value instanceof RenderedJson ? value.text : JSON.stringify(value);
        bytes += Buffer.byteLength(item) + 2;
        if (items.length > 0 && bytes > scope.renderedPageBudget) return { items, next: cursorAfter(page.rows[items.length - 1]!, source.keys) };
        items.push(item);
      }
      return { items, next: page.next };
    },
  };
}

function emptySection(name: string): ExportSection {
  return { name, open: `,\n${JSON.stringify(name)}:[`, close: '\n]', separator: ',\n', page: async () => ({ items: [], next: null }) };
}

// --- People ------------------------------------------------------------------------------

/** Everyone who is or was a member of the organization (removed members too: they authored things). */
function usersSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('users as u')
    .innerJoin('organization_memberships as m', (j) => j.onRef('m.user_gid', '=', 'u.gid').on('m.organization_gid', '=', scope.organizationGid))
    // Named columns only: never password hashes or anything else of the account's credentials.
    .select(['u.gid', 'u.name', 'u.email', 'u.created_at', 'u.modified_at', 'u.deleted_at'])
    .where(sql<boolean>`(${changed(scope, 'u', ['modified_at', 'deleted_at'])} or ${changed(scope, 'm', ['modified_at', 'removed_at'])})`);
  return jsonSection(db, scope, 'users', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) => rows.map((u) => ({ ...userCompact(u), email: u.email, created_at: iso(u.created_at), modified_at: iso(u.modified_at), deleted_at: iso(u.deleted_at) })),
  });
}

function workspaceMembershipsSection(db: Db, scope: Scope, workspace: { gid: string; name: string }): ExportSection {
  const query = db
    .selectFrom('organization_memberships as m')
    .innerJoin('users as u', 'u.gid', 'm.user_gid')
    .select(['m.gid', 'm.role', 'm.created_at', 'm.modified_at', 'm.removed_at', 'u.gid as user_gid', 'u.name as user_name'])
    .where('m.organization_gid', '=', scope.organizationGid)
    .where(changed(scope, 'm', ['modified_at', 'removed_at']));
  return jsonSection(db, scope, 'workspace_memberships', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) =>
      rows.map((m) => ({
        gid: m.gid,
        resource_type: 'workspace_membership',
        user: userCompact({ gid: m.user_gid, name: m.user_name }),
        workspace: workspaceCompact(workspace),
        role: m.role,
        is_admin: m.role === 'admin' || m.role === 'super_admin',
        is_guest: m.role === 'guest',
        is_active: m.removed_at === null,
        created_at: iso(m.created_at),
        modified_at: iso(m.modified_at),
        removed_at: iso(m.removed_at),
      })),
  });
}

/**
 * Invitations not accepted yet and not expired when the export was requested: email,
 * role and when it was sent, nothing else (the token's hash is never read; the page key
 * is a digest of it, which stays in the export's checkpoints and unlocks nothing).
 */
function invitationsSection(db: Db, scope: Scope, createdAt: Date): ExportSection {
  const query = db
    .selectFrom('one_time_tokens as ot')
    .select(['ot.email', 'ot.role', 'ot.created_at', sql<string>`md5(ot.token_hash)`.as('ref')])
    .where('ot.purpose', '=', 'invitation')
    .where('ot.organization_gid', '=', scope.organizationGid)
    .where('ot.used_at', 'is', null)
    .where('ot.expires_at', '>', createdAt)
    .where(changed(scope, 'ot', ['created_at']));
  return jsonSection(db, scope, 'pending_invitations', {
    query,
    keys: [{ column: 'created_at' }, { column: 'ref' }],
    render: (rows) => rows.map((i) => ({ resource_type: 'invitation', email: i.email ?? '', role: i.role ?? 'member', created_at: iso(i.created_at) })),
  });
}

// --- Teams -------------------------------------------------------------------------------

function teamsSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('teams as t')
    .innerJoin('organizations as o', 'o.gid', 't.organization_gid')
    .leftJoin('users as c', 'c.gid', 't.created_by')
    .select(['t.gid', 't.name', 't.description', 't.visibility', 't.created_at', 't.modified_at', 't.deleted_at', 'o.gid as org_gid', 'o.name as org_name', 'c.gid as creator_gid', 'c.name as creator_name'])
    .where('t.organization_gid', '=', scope.organizationGid)
    .where(changed(scope, 't', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'teams', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) => rows.map((t) => ({ ...teamView(t, scope.baseUrl), modified_at: iso(t.modified_at), deleted_at: iso(t.deleted_at) })),
  });
}

function teamMembershipsSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('team_memberships as tm')
    .innerJoin('teams as t', 't.gid', 'tm.team_gid')
    .innerJoin('users as u', 'u.gid', 'tm.user_gid')
    .leftJoin('organization_memberships as om', (j) => j.onRef('om.user_gid', '=', 'tm.user_gid').onRef('om.organization_gid', '=', 't.organization_gid'))
    .select(['tm.gid', 'tm.is_limited_access', 'tm.is_admin', 'tm.created_at', 'tm.modified_at', 'u.gid as user_gid', 'u.name as user_name', 't.gid as team_gid', 't.name as team_name', 'om.role'])
    .where('t.organization_gid', '=', scope.organizationGid)
    .where(changed(scope, 'tm', ['modified_at']));
  return jsonSection(db, scope, 'team_memberships', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) => rows.map((m) => ({ ...teamMembershipView(m), created_at: iso(m.created_at), modified_at: iso(m.modified_at) })),
  });
}

// --- Projects ----------------------------------------------------------------------------

function projectsSection(db: Db, scope: Scope, workspace: { gid: string; name: string }): ExportSection {
  const query = db
    .selectFrom('projects as p')
    .leftJoin('teams as tm', 'tm.gid', 'p.team_gid')
    .leftJoin('users as ow', 'ow.gid', 'p.owner_gid')
    .leftJoin('users as cr', 'cr.gid', 'p.created_by')
    .select(['p.gid', 'p.name', 'p.notes', 'p.color', 'p.due_on', 'p.start_on', 'p.privacy_setting', 'p.archived', 'p.completed', 'p.completed_at', 'p.default_view', 'p.created_at', 'p.modified_at', 'p.deleted_at'])
    .select(['tm.gid as team_gid', 'tm.name as team_name', 'ow.gid as owner_gid', 'ow.name as owner_name', 'cr.gid as creator_gid', 'cr.name as creator_name'])
    .where('p.organization_gid', '=', scope.organizationGid)
    .where(sql<boolean>`(${changed(scope, 'p', ['modified_at', 'deleted_at'])} or ${changedChild(scope, 'project_custom_field_settings', 'project_gid', 'p')})`);
  return jsonSection(db, scope, 'projects', {
    query,
    keys: [{ column: 'gid' }],
    async render(rows) {
      const gids = rows.map((p) => p.gid);
      const [members, followers, settings] = await Promise.all([
        related(
          db,
          db.selectFrom('project_memberships as m').innerJoin('users as u', 'u.gid', 'm.user_gid').select(['m.gid', 'm.project_gid', 'm.access_level', 'm.created_at', 'u.gid as user_gid', 'u.name as user_name']).where(gidIn('m.project_gid', gids)),
          [{ column: 'project_gid' }, { column: 'created_at' }, { column: 'gid' }],
        ),
        related(db, db.selectFrom('project_followers as f').innerJoin('users as u', 'u.gid', 'f.user_gid').select(['f.project_gid', 'f.created_at', 'u.gid as user_gid', 'u.name as user_name']).where(gidIn('f.project_gid', gids)), [
          { column: 'project_gid' },
          { column: 'created_at' },
          { column: 'user_gid' },
        ]),
        related(
          db,
          db
            .selectFrom('project_custom_field_settings as cs')
            .innerJoin('custom_fields as cf', 'cf.gid', 'cs.custom_field_gid')
            .select(['cs.gid', 'cs.project_gid', 'cs.is_important', 'cs.position', 'cf.gid as field_gid', 'cf.name as field_name', 'cf.resource_subtype as field_subtype'])
            .where(gidIn('cs.project_gid', gids))
            .where(kept(scope, 'cf')),
          [{ column: 'project_gid' }, { column: 'position' }, { column: 'gid' }],
        ),
      ]);
      const [mBy, fBy, sBy] = [groupBy(members, 'project_gid'), groupBy(followers, 'project_gid'), groupBy(settings, 'project_gid')];
      return rows.map((p) => {
        const compact = projectCompact(p);
        const due = dateOnly(p.due_on as string | Date | null);
        return {
          ...compact,
          notes: p.notes,
          color: p.color,
          archived: p.archived,
          completed: p.completed,
          completed_at: iso(p.completed_at),
          created_at: iso(p.created_at),
          modified_at: iso(p.modified_at),
          deleted_at: iso(p.deleted_at),
          due_on: due,
          start_on: dateOnly(p.start_on as string | Date | null),
          default_view: p.default_view,
          privacy_setting: p.privacy_setting,
          public: p.privacy_setting === 'public_to_workspace',
          owner: user(p.owner_gid, p.owner_name),
          created_by: user(p.creator_gid, p.creator_name),
          team: maybe(p.team_gid, (gid) => teamCompact({ gid, name: p.team_name ?? '' })),
          workspace: workspaceCompact(workspace),
          members: (mBy.get(p.gid) ?? []).map((m) => userCompact({ gid: m.user_gid, name: m.user_name })),
          project_memberships: (mBy.get(p.gid) ?? []).map((m) => ({
            gid: m.gid,
            resource_type: 'project_membership',
            user: userCompact({ gid: m.user_gid, name: m.user_name }),
            access_level: m.access_level,
            created_at: iso(m.created_at),
          })),
          followers: (fBy.get(p.gid) ?? []).map((f) => userCompact({ gid: f.user_gid, name: f.user_name })),
          custom_field_settings: (sBy.get(p.gid) ?? []).map((s) => ({
            gid: s.gid,
            resource_type: 'custom_field_setting',
            custom_field: { gid: s.field_gid, resource_type: 'custom_field', name: s.field_name, resource_subtype: s.field_subtype },
            is_important: s.is_important,
          })),
          permalink_url: `${scope.baseUrl}/api/1.0/projects/${p.gid}`,
        };
      });
    },
  });
}

function sectionsSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('sections as s')
    .innerJoin('projects as p', 'p.gid', 's.project_gid')
    .select(['s.gid', 's.name', 's.position', 's.created_at', 's.modified_at', 's.deleted_at', 's.project_gid', 'p.name as project_name'])
    .where('p.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 's'))
    // Incremental: every section of a project one of whose sections changed, so the array
    // gives that project's whole board order again (a section created or moved changes it).
    .where(changedChild(scope, 'sections', 'project_gid', 's', 'project_gid'));
  return jsonSection(db, scope, 'sections', {
    query,
    keys: [{ column: 'project_gid' }, { column: 'position' }, { column: 'gid' }],
    render: (rows) =>
      rows.map((s) => ({ ...sectionCompact(s), project: projectCompact({ gid: s.project_gid, name: s.project_name }), created_at: iso(s.created_at), modified_at: iso(s.modified_at), deleted_at: iso(s.deleted_at) })),
  });
}

function statusesSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('project_statuses as s')
    .innerJoin('projects as p', 'p.gid', 's.project_gid')
    .leftJoin('users as u', 'u.gid', 's.author_gid')
    .select(['s.gid', 's.title', 's.text', 's.status_type', 's.created_at', 's.modified_at', 's.deleted_at', 's.project_gid', 'p.name as project_name', 'u.gid as author_gid', 'u.name as author_name'])
    .where('p.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 's'))
    .where(changed(scope, 's', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'project_statuses', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) =>
      rows.map((s) => ({
        gid: s.gid,
        resource_type: 'status_update',
        resource_subtype: 'project_status_update',
        title: s.title,
        text: s.text,
        status_type: s.status_type,
        author: user(s.author_gid, s.author_name),
        created_at: iso(s.created_at),
        modified_at: iso(s.modified_at),
        deleted_at: iso(s.deleted_at),
        parent: projectCompact({ gid: s.project_gid, name: s.project_name }),
      })),
  });
}

// --- Tags and custom fields --------------------------------------------------------------

function tagsSection(db: Db, scope: Scope, workspace: { gid: string; name: string }): ExportSection {
  const query = db
    .selectFrom('tags as g')
    .leftJoin('users as u', 'u.gid', 'g.created_by')
    .select(['g.gid', 'g.name', 'g.color', 'g.notes', 'g.created_at', 'g.modified_at', 'g.deleted_at', 'u.gid as creator_gid', 'u.name as creator_name'])
    .where('g.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 'g'))
    .where(changed(scope, 'g', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'tags', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) =>
      rows.map((t) => ({
        ...tagCompact(t),
        color: t.color,
        notes: t.notes,
        created_at: iso(t.created_at),
        created_by: user(t.creator_gid, t.creator_name),
        modified_at: iso(t.modified_at),
        deleted_at: iso(t.deleted_at),
        workspace: workspaceCompact(workspace),
        permalink_url: `${scope.baseUrl}/api/1.0/tags/${t.gid}`,
      })),
  });
}

function customFieldsSection(db: Db, scope: Scope, workspace: { gid: string; name: string }): ExportSection {
  const query = db
    .selectFrom('custom_fields as cf')
    .leftJoin('users as u', 'u.gid', 'cf.created_by')
    .select(['cf.gid', 'cf.name', 'cf.description', 'cf.resource_subtype', 'cf.precision', 'cf.created_at', 'cf.modified_at', 'cf.deleted_at', 'u.gid as creator_gid', 'u.name as creator_name'])
    .where('cf.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 'cf'))
    .where(sql<boolean>`(${changed(scope, 'cf', ['modified_at', 'deleted_at'])} or ${changedChild(scope, 'custom_field_enum_options', 'custom_field_gid', 'cf')})`);
  return jsonSection(db, scope, 'custom_fields', {
    query,
    keys: [{ column: 'gid' }],
    async render(rows) {
      const enums = rows.filter((f) => f.resource_subtype === 'enum' || f.resource_subtype === 'multi_enum').map((f) => f.gid);
      const options = enums.length
        ? await related(db, db.selectFrom('custom_field_enum_options as e').select(['e.gid', 'e.custom_field_gid', 'e.name', 'e.color', 'e.enabled', 'e.position']).where(gidIn('e.custom_field_gid', enums)), [
            { column: 'custom_field_gid' },
            { column: 'position' },
            { column: 'gid' },
          ])
        : [];
      const oBy = groupBy(options, 'custom_field_gid');
      return rows.map((f) => ({
        gid: f.gid,
        resource_type: 'custom_field',
        name: f.name,
        resource_subtype: f.resource_subtype,
        type: f.resource_subtype,
        description: f.description,
        ...(f.resource_subtype === 'number' ? { precision: f.precision ?? 0 } : {}),
        ...(enums.includes(f.gid) ? { enum_options: (oBy.get(f.gid) ?? []).map(enumOptionView) } : {}),
        created_at: iso(f.created_at),
        created_by: user(f.creator_gid, f.creator_name),
        modified_at: iso(f.modified_at),
        deleted_at: iso(f.deleted_at),
        workspace: workspaceCompact(workspace),
      }));
    },
  });
}

// --- Tasks -------------------------------------------------------------------------------

type ValueRow = {
  task_gid: string;
  field_gid: string;
  field_name: string;
  field_subtype: string;
  field_precision: number | null;
  text_value: string | null;
  number_value: string | null;
  date_value: unknown;
  enum_gid: string | null;
  enum_name: string | null;
  enum_color: string | null;
  enum_enabled: boolean | null;
  multi_options: unknown;
  multi_people: unknown;
};

/** A task's value of a custom field, as the tasks API shows it (task-views.ts). */
function customFieldValue(v: ValueRow) {
  return customFieldValueView(
    { gid: v.field_gid, name: v.field_name, resource_subtype: v.field_subtype, precision: v.field_precision, text_value: v.text_value, number_value: v.number_value, date_value: v.date_value, enum_gid: v.enum_gid, enum_name: v.enum_name, enum_color: v.enum_color, enum_enabled: v.enum_enabled },
    { options: parsed<ChosenValues['options']>(v.multi_options, []), people: parsed<ChosenValues['people']>(v.multi_people, []) },
  );
}

/** A task's projects, memberships (project and section) and teams, each rendered (joined by commas). */
interface ProjectLists {
  projects: string;
  memberships: string;
  teams: string;
}

const NO_PROJECT_LISTS: ProjectLists = { projects: '', memberships: '', teams: '' };

/** The projects lists of tasks: in the order the task was added to them; each team once, in the order of its first project. */
async function projectListsOf(db: Db, references: ReferenceCache, tasks: string[]): Promise<Map<string, ProjectLists>> {
  const rows = await related(db, db.selectFrom('task_projects as tp').select(['tp.task_gid', 'tp.added_at', 'tp.project_gid', 'tp.section_gid']).where(gidIn('tp.task_gid', tasks)), [
    { column: 'task_gid' },
    { column: 'added_at' },
    { column: 'project_gid' },
  ]);
  const projects = await references.resolve('project', rows.map((r) => r.project_gid));
  const [sections, teams] = await Promise.all([
    references.resolve('section', rows.map((r) => r.section_gid)),
    references.resolve('team', [...projects.values()].map((p) => p?.team ?? null)),
  ]);
  const out = new Map<string, ProjectLists & { seenTeams: Set<string> }>();
  for (const r of rows) {
    const project = projects.get(r.project_gid);
    if (!project) continue; // not in this organization
    const section = r.section_gid ? sections.get(r.section_gid) : null;
    const membership = `{"project":${project.json},"section":${section ? section.json : 'null'}}`;
    const team = project.team ? teams.get(project.team) : null;
    const lists = out.get(r.task_gid);
    if (!lists) {
      out.set(r.task_gid, { projects: project.json, memberships: membership, teams: team ? team.json : '', seenTeams: new Set(team ? [project.team!] : []) });
      continue;
    }
    lists.projects += `,${project.json}`;
    lists.memberships += `,${membership}`;
    if (team && !lists.seenTeams.has(project.team!)) {
      lists.seenTeams.add(project.team!);
      lists.teams += lists.teams ? `,${team.json}` : team.json;
    }
  }
  return out;
}

/** The organization's tasks (subtasks included): alive, or deleted within the window. */
function tasksSection(db: Db, scope: Scope, workspace: { gid: string; name: string }, references: ReferenceCache): ExportSection {
  const query = db
    .selectFrom('tasks as t')
    .leftJoin('users as a', 'a.gid', 't.assignee_gid')
    .leftJoin('users as c', 'c.gid', 't.created_by')
    .leftJoin('tasks as par', 'par.gid', 't.parent_gid')
    .select(['t.gid', 't.name', 't.notes', 't.resource_subtype', 't.completed', 't.completed_at', 't.assignee_status', 't.due_on', 't.start_on', 't.created_at', 't.modified_at', 't.deleted_at'])
    .select(['a.gid as assignee_gid', 'a.name as assignee_name', 'c.gid as creator_gid', 'c.name as creator_name', 't.parent_gid', 'par.name as parent_name', 'par.resource_subtype as parent_subtype'])
    .select(sql<number>`(select count(*) from tasks st where st.parent_gid = t.gid and st.deleted_at is null)`.as('num_subtasks'))
    .where('t.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 't'))
    .where(changed(scope, 't', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'tasks', {
    query,
    keys: [{ column: 'gid' }],
    async render(rows) {
      const gids = rows.map((t) => t.gid);
      const [memberships, tags, followers, likes, values] = await Promise.all([
        projectListsOf(db, references, gids),
        namedList(db, references, 'tag', db.selectFrom('task_tags as tt').select(['tt.task_gid as owner', 'tt.added_at as at', 'tt.tag_gid as named']).where(gidIn('tt.task_gid', gids))),
        namedList(db, references, 'user', db.selectFrom('task_followers as f').select(['f.task_gid as owner', 'f.created_at as at', 'f.user_gid as named']).where(gidIn('f.task_gid', gids))),
        likesOf(db, references, 'task_likes', gids),
        related(
          db,
          db
            .selectFrom('task_custom_field_values as v')
            .innerJoin('custom_fields as f', 'f.gid', 'v.custom_field_gid')
            .leftJoin('custom_field_enum_options as e', 'e.gid', 'v.enum_option_gid')
            .select(['v.task_gid', 'f.gid as field_gid', 'f.name as field_name', 'f.resource_subtype as field_subtype', 'f.precision as field_precision', 'v.text_value', 'v.number_value', 'v.date_value'])
            .select(['e.gid as enum_gid', 'e.name as enum_name', 'e.color as enum_color', 'e.enabled as enum_enabled'])
            // Multi-valued fields name their options and people here, in the order chosen (no
            // query per value): each list is looked up by primary key (= any of its gids).
            .select(
              sql<unknown>`(select json_agg(json_build_object('gid', mo.gid, 'name', mo.name, 'color', mo.color, 'enabled', mo.enabled) order by array_position(mx.gids, mo.gid))
                from (select array(select jsonb_array_elements_text(coalesce(v.multi_values, '[]'::jsonb))) as gids) mx join custom_field_enum_options mo on mo.gid = any(mx.gids)
                where f.resource_subtype = 'multi_enum')`.as('multi_options'),
            )
            .select(
              sql<unknown>`(select json_agg(json_build_object('gid', mu.gid, 'name', mu.name) order by array_position(mx.gids, mu.gid))
                from (select array(select jsonb_array_elements_text(coalesce(v.multi_values, '[]'::jsonb))) as gids) mx join users mu on mu.gid = any(mx.gids)
                where f.resource_subtype = 'people')`.as('multi_people'),
            )
            .where(gidIn('v.task_gid', gids))
            .where('f.organization_gid', '=', scope.organizationGid)
            .where(kept(scope, 'f')),
          [{ column: 'task_gid' }, { column: 'field_gid' }],
        ),
      ]);
      const vBy = groupBy(values, 'task_gid');
      const workspaceJson = JSON.stringify(workspaceCompact(workspace));
      // Each task is written as text: the lists arrive rendered, the rest is JSON.stringify of
      // scalars (the same document as stringifying the object, without building it).
      return rows.map((t) => {
        const m = memberships.get(t.gid) ?? NO_PROJECT_LISTS;
        const likeList = likes.get(t.gid) ?? NO_LIST;
        const s = JSON.stringify;
        return new RenderedJson(
          `{"gid":${s(t.gid)},"resource_type":"task","name":${s(t.name)},"resource_subtype":${s(t.resource_subtype)},"notes":${s(t.notes)},"completed":${s(t.completed)},` +
            `"completed_at":${s(iso(t.completed_at))},"assignee":${userJson(t.assignee_gid, t.assignee_name)},"assignee_status":${s(t.assignee_status)},` +
            `"due_on":${s(dateOnly(t.due_on as string | Date | null))},"start_on":${s(dateOnly(t.start_on as string | Date | null))},"created_at":${s(iso(t.created_at))},` +
            `"created_by":${userJson(t.creator_gid, t.creator_name)},"modified_at":${s(iso(t.modified_at))},"deleted_at":${s(iso(t.deleted_at))},` +
            `"parent":${t.parent_gid ? s(taskCompact({ gid: t.parent_gid, name: t.parent_name ?? '', resource_subtype: t.parent_subtype ?? 'default_task' })) : 'null'},` +
            `"num_subtasks":${toNumber(t.num_subtasks)},"workspace":${workspaceJson},"projects":[${m.projects}],"memberships":[${m.memberships}],"teams":[${m.teams}],` +
            `"tags":[${(tags.get(t.gid) ?? NO_LIST).text}],"followers":[${(followers.get(t.gid) ?? NO_LIST).text}],"likes":[${likeList.text}],"num_likes":${likeList.count},` +
            `"custom_fields":${s((vBy.get(t.gid) ?? []).map(customFieldValue))},"permalink_url":${s(`${scope.baseUrl}/api/1.0/tasks/${t.gid}`)}}`,
        );
      });
    },
  });
}

/** Comments on the exported tasks, grouped by task, oldest first, with their likes. */
function storiesSection(db: Db, scope: Scope, references: ReferenceCache): ExportSection {
  const query = db
    .selectFrom('stories as s')
    .innerJoin('tasks as t', 't.gid', 's.task_gid')
    .leftJoin('users as u', 'u.gid', 's.created_by')
    .select(['s.gid', 's.task_gid', 's.resource_subtype', 's.text', 's.is_pinned', 's.created_at', 's.modified_at', 's.edited_at', 's.deleted_at', 'u.gid as author_gid', 'u.name as author_name', 't.name as task_name', 't.resource_subtype as task_subtype'])
    .where('t.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 't'))
    .where(kept(scope, 's'))
    .where(changed(scope, 's', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'stories', {
    // Pages run in task order: bounding the tasks joined to those at or after the cursor's
    // task keeps each page an index range on both tables (otherwise every page rescans them).
    query: (after) => (after ? query.where('t.gid', '>=', String(decodeCursor(after, 3)[0])) : query),
    keys: [{ column: 'task_gid' }, { column: 'created_at' }, { column: 'gid' }],
    limit: STORY_PAGE_ROWS,
    async render(rows) {
      const likes = await likesOf(db, references, 'story_likes', rows.map((story) => story.gid));
      const s = JSON.stringify;
      return rows.map((story) => {
        const liked = likes.get(story.gid) ?? NO_LIST;
        return new RenderedJson(
          `{"gid":${s(story.gid)},"resource_type":"story","resource_subtype":${s(story.resource_subtype)},"type":"comment","text":${s(story.text)},"is_pinned":${s(story.is_pinned)},` +
            `"is_edited":${story.edited_at !== null},"created_at":${s(iso(story.created_at))},"created_by":${userJson(story.author_gid, story.author_name)},` +
            `"modified_at":${s(iso(story.modified_at))},"deleted_at":${s(iso(story.deleted_at))},` +
            `"target":${s(taskCompact({ gid: story.task_gid, name: story.task_name, resource_subtype: story.task_subtype }))},"likes":[${liked.text}],"num_likes":${liked.count}}`,
        );
      });
    },
  });
}

/** Attachments of exported tasks and of projects: metadata and the API's URL, never the bytes, blob key or a signed URL. */
function attachmentsSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('attachments as a')
    .leftJoin('tasks as t', (j) => j.onRef('t.gid', '=', 'a.parent_gid').on('a.parent_type', '=', 'task'))
    .leftJoin('projects as p', (j) => j.onRef('p.gid', '=', 'a.parent_gid').on('a.parent_type', '=', 'project'))
    .leftJoin('users as u', 'u.gid', 'a.created_by')
    .select(['a.gid', 'a.name', 'a.resource_subtype', 'a.url', 'a.content_type', 'a.size', 'a.created_at', 'a.modified_at', 'a.deleted_at', 'a.parent_type', 'a.parent_gid', 'u.gid as creator_gid', 'u.name as creator_name'])
    .select(['t.name as task_name', 't.resource_subtype as task_subtype', 'p.name as project_name'])
    .where('a.organization_gid', '=', scope.organizationGid)
    .where('a.upload_state', '=', 'complete')
    .where(kept(scope, 'a'))
    .where(sql<boolean>`((t.gid is not null and t.organization_gid = ${scope.organizationGid} and ${kept(scope, 't')}) or (p.gid is not null and p.organization_gid = ${scope.organizationGid}))`)
    .where(changed(scope, 'a', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'attachments', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) =>
      rows.map((a) => {
        const parent =
          a.parent_type === 'task' ? taskCompact({ gid: a.parent_gid, name: a.task_name ?? '', resource_subtype: a.task_subtype ?? 'default_task' }) : projectCompact({ gid: a.parent_gid, name: a.project_name ?? '' });
        return { ...attachmentView(a, parent, scope.baseUrl), modified_at: iso(a.modified_at), deleted_at: iso(a.deleted_at) };
      }),
  });
}

// --- Messages and templates --------------------------------------------------------------

/** Conversations of teams and projects; a reply is a message of its own with `reply_to` set. */
function messagesSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('messages as m')
    .leftJoin('users as u', 'u.gid', 'm.author_gid')
    .leftJoin('teams as tm', (j) => j.onRef('tm.gid', '=', 'm.parent_gid').on('m.parent_type', '=', 'team'))
    .leftJoin('projects as p', (j) => j.onRef('p.gid', '=', 'm.parent_gid').on('m.parent_type', '=', 'project'))
    .leftJoin('messages as orig', 'orig.gid', 'm.reply_to_gid')
    .select(['m.gid', 'm.title', 'm.text', 'm.parent_type', 'm.parent_gid', 'm.reply_to_gid', 'm.created_at', 'm.modified_at', 'm.deleted_at', 'u.gid as author_gid', 'u.name as author_name'])
    .select(['tm.name as team_name', 'p.name as project_name', 'orig.title as reply_to_title'])
    .select(sql<number>`(select count(*) from messages rc where rc.reply_to_gid = m.gid and rc.deleted_at is null)`.as('num_replies'))
    .where('m.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 'm'))
    .where(changed(scope, 'm', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'messages', {
    query,
    keys: [{ column: 'gid' }],
    render: (rows) =>
      rows.map((m) => ({
        gid: m.gid,
        resource_type: 'message',
        title: m.title,
        text: m.text,
        author: user(m.author_gid, m.author_name),
        created_at: iso(m.created_at),
        modified_at: iso(m.modified_at),
        deleted_at: iso(m.deleted_at),
        parent: { gid: m.parent_gid, resource_type: m.parent_type, name: (m.parent_type === 'team' ? m.team_name : m.project_name) ?? '' },
        reply_to: maybe(m.reply_to_gid, (gid) => ({ gid, resource_type: 'message' as const, title: m.reply_to_title })),
        num_replies: toNumber(m.num_replies),
      })),
  });
}

/**
 * Templates' saved structures (jsonb of any size), for a page of templates: read as text
 * slices, keyset-paged by bytes across the whole page (a few statements per page however
 * many templates it holds), never a row over the Data API's 64 KB.
 */
async function snapshots(db: Db, table: 'project_templates' | 'task_templates', gids: string[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  if (!gids.length) return out;
  const slices = sql<{ gid: string; i: number; part: string }>`(
    select x.gid, s.i, substr(x.doc, s.i * ${sql.lit(SNAPSHOT_SLICE_CHARS)} + 1, ${sql.lit(SNAPSHOT_SLICE_CHARS)}) as part
    from (select tpl.gid, tpl.template::text as doc from ${sql.table(table)} tpl where tpl.gid in (${sql.join(gids)})) x
    cross join generate_series(0, greatest(0, (length(x.doc) - 1) / ${sql.lit(SNAPSHOT_SLICE_CHARS)})) as s(i)
  )`;
  const text = new Map<string, string[]>();
  for (const row of await related(db, db.selectFrom(slices.as('slices')).select(['slices.gid', 'slices.i', 'slices.part']), [{ column: 'gid' }, { column: 'i' }])) {
    const parts = text.get(row.gid) ?? [];
    parts.push(row.part);
    text.set(row.gid, parts);
  }
  for (const [gid, parts] of text) out.set(gid, JSON.parse(parts.join('')));
  return out;
}

function projectTemplatesSection(db: Db, scope: Scope, workspace: { gid: string; name: string }): ExportSection {
  const query = db
    .selectFrom('project_templates as pt')
    .leftJoin('users as u', 'u.gid', 'pt.owner_gid')
    .leftJoin('teams as tm', 'tm.gid', 'pt.team_gid')
    .select(['pt.gid', 'pt.name', 'pt.description', 'pt.is_public', 'pt.created_at', 'pt.modified_at', 'pt.deleted_at', 'u.gid as owner_gid', 'u.name as owner_name', 'tm.gid as team_gid', 'tm.name as team_name'])
    .where('pt.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 'pt'))
    .where(changed(scope, 'pt', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'project_templates', {
    query,
    keys: [{ column: 'gid' }],
    limit: TEMPLATE_PAGE_ROWS,
    async render(rows) {
      const snaps = await snapshots(
        db,
        'project_templates',
        rows.map((t) => t.gid),
      );
      return rows.map((t) => ({
        gid: t.gid,
        resource_type: 'project_template',
        name: t.name,
        description: t.description,
        public: t.is_public,
        owner: user(t.owner_gid, t.owner_name),
        team: maybe(t.team_gid, (gid) => teamCompact({ gid, name: t.team_name ?? '' })),
        workspace: workspaceCompact(workspace),
        created_at: iso(t.created_at),
        modified_at: iso(t.modified_at),
        deleted_at: iso(t.deleted_at),
        snapshot: snaps.get(t.gid) ?? null,
      }));
    },
  });
}

function taskTemplatesSection(db: Db, scope: Scope): ExportSection {
  const query = db
    .selectFrom('task_templates as tt')
    .innerJoin('projects as p', 'p.gid', 'tt.project_gid')
    .leftJoin('users as u', 'u.gid', 'tt.created_by')
    .select(['tt.gid', 'tt.name', 'tt.created_at', 'tt.modified_at', 'tt.deleted_at', 'p.gid as project_gid', 'p.name as project_name', 'u.gid as creator_gid', 'u.name as creator_name'])
    .where('p.organization_gid', '=', scope.organizationGid)
    .where(kept(scope, 'tt'))
    .where(changed(scope, 'tt', ['modified_at', 'deleted_at']));
  return jsonSection(db, scope, 'task_templates', {
    query,
    keys: [{ column: 'gid' }],
    limit: TEMPLATE_PAGE_ROWS,
    async render(rows) {
      const snaps = await snapshots(
        db,
        'task_templates',
        rows.map((t) => t.gid),
      );
      return rows.map((t) => ({
        gid: t.gid,
        resource_type: 'task_template',
        name: t.name,
        project: projectCompact({ gid: t.project_gid, name: t.project_name }),
        created_by: user(t.creator_gid, t.creator_name),
        created_at: iso(t.created_at),
        modified_at: iso(t.modified_at),
        deleted_at: iso(t.deleted_at),
        snapshot: snaps.get(t.gid) ?? null,
      }));
    },
  });
}

// --- Tombstones --------------------------------------------------------------------------

/**
 * Incremental exports: everything of the organization deleted (or, for workspace
 * memberships, ended) after `since`, whether or not it is still within the 30-day window,
 * so a copy made from earlier exports can drop it: soft-deleted rows, and the deletion log
 * (rows deleted for good: memberships, custom field settings, purged tasks, comments and
 * attachments). One tombstone per object (the latest deletion if both know it).
 */
function tombstonesSection(db: Db, scope: Scope, since: Date): ExportSection {
  const org = scope.organizationGid;
  const rows = sql<{ resource_type: string; gid: string; deleted_at: Date }>`(
    select 'task' as resource_type, x.gid, x.deleted_at from tasks x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'project', x.gid, x.deleted_at from projects x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'team', x.gid, x.deleted_at from teams x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'section', x.gid, x.deleted_at from sections x join projects xp on xp.gid = x.project_gid where xp.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'status_update', x.gid, x.deleted_at from project_statuses x join projects xp on xp.gid = x.project_gid where xp.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'tag', x.gid, x.deleted_at from tags x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'custom_field', x.gid, x.deleted_at from custom_fields x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'story', x.gid, x.deleted_at from stories x join tasks xt on xt.gid = x.task_gid where xt.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'attachment', x.gid, x.deleted_at from attachments x where x.organization_gid = ${org} and x.upload_state = 'complete' and x.deleted_at > ${since}
    union all select 'message', x.gid, x.deleted_at from messages x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'project_template', x.gid, x.deleted_at from project_templates x where x.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'task_template', x.gid, x.deleted_at from task_templates x join projects xp on xp.gid = x.project_gid where xp.organization_gid = ${org} and x.deleted_at > ${since}
    union all select 'user', x.gid, x.deleted_at from users x join organization_memberships xm on xm.user_gid = x.gid and xm.organization_gid = ${org} where x.deleted_at > ${since}
    union all select 'workspace_membership', x.gid, x.removed_at from organization_memberships x where x.organization_gid = ${org} and x.removed_at > ${since}
    union all select x.resource_type, x.gid, x.deleted_at from deleted_objects x where x.organization_gid = ${org} and x.deleted_at > ${since}
  )`;
  const unique = sql<{ resource_type: string; gid: string; deleted_at: Date }>`(select d.resource_type, d.gid, max(d.deleted_at) as deleted_at from ${rows} as d (resource_type, gid, deleted_at) group by d.resource_type, d.gid)`;
  return jsonSection(db, scope, 'tombstones', {
    query: db.selectFrom(unique.as('tombstones')).select(['tombstones.resource_type', 'tombstones.gid', 'tombstones.deleted_at']),
    keys: [{ column: 'resource_type' }, { column: 'gid' }],
    render: (rows) => rows.map((r) => ({ resource_type: r.resource_type, gid: r.gid, deleted_at: iso(r.deleted_at) })),
  });
}

// --- The plan ----------------------------------------------------------------------------

/** The requester as the header names them: a compact user, or the service account. */
async function exportedBy(db: Db, job: ExportJobContext) {
  if (job.requestedBy.kind === 'service_account') {
    const account = await db.selectFrom('service_accounts').select(['gid', 'name']).where('gid', '=', job.requestedBy.gid).executeTakeFirstOrThrow();
    return { gid: account.gid, resource_type: 'service_account' as const, name: account.name };
  }
  return userCompact(await db.selectFrom('users').select(['gid', 'name']).where('gid', '=', job.requestedBy.gid).executeTakeFirstOrThrow());
}

/**
 * The organization export of a job. Rebuilt from the job by every invocation of the
 * export worker: nothing in it depends on the clock or on an earlier invocation.
 * `options.pageRows` and `options.renderedPageBudget` make pages smaller (tests); a resumed
 * export must use the same. `options.referenceCacheBytes` keeps fewer references (tests).
 */
export async function buildOrganizationExport(db: Db, job: ExportJobContext, options: { pageRows?: number; renderedPageBudget?: number; referenceCacheBytes?: number } = {}): Promise<ExportPlan> {
  const organization = await db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', job.organizationGid).executeTakeFirstOrThrow();
  const workspace = { gid: organization.gid, name: organization.name };
  const cutoff = new Date(job.createdAt.getTime() - RESTORE_DAYS * 86_400_000);
  const scope: Scope = { organizationGid: organization.gid, pageRows: options.pageRows ?? null, renderedPageBudget: options.renderedPageBudget ?? RENDERED_PAGE_BUDGET, cutoff, since: job.modifiedSince, baseUrl: job.baseUrl.replace(/\/+$/, '') };
  // Shared by the tasks and comments sections: the people, projects and tags they name, rendered once.
  const references = new ReferenceCache(db, { organizationGid: organization.gid, cutoff }, options.referenceCacheBytes);
  const header = {
    format: EXPORT_FORMAT,
    version: EXPORT_FORMAT_VERSION,
    kind: 'organization',
    export_gid: job.gid,
    exported_at: job.createdAt.toISOString(),
    exported_by: await exportedBy(db, job),
    workspace: workspaceCompact(workspace),
    incremental: job.modifiedSince !== null,
    modified_since: iso(job.modifiedSince),
    deleted_since: cutoff.toISOString(),
  };
  const sections: ExportSection[] = [
    usersSection(db, scope),
    workspaceMembershipsSection(db, scope, workspace),
    invitationsSection(db, scope, job.createdAt),
    teamsSection(db, scope),
    teamMembershipsSection(db, scope),
    projectsSection(db, scope, workspace),
    sectionsSection(db, scope),
    statusesSection(db, scope),
    tagsSection(db, scope, workspace),
    customFieldsSection(db, scope, workspace),
    tasksSection(db, scope, workspace, references),
    storiesSection(db, scope, references),
    attachmentsSection(db, scope),
    messagesSection(db, scope),
    projectTemplatesSection(db, scope, workspace),
    taskTemplatesSection(db, scope),
    job.modifiedSince ? tombstonesSection(db, scope, job.modifiedSince) : emptySection('tombstones'),
  ];
  return {
    contentType: ORGANIZATION_EXPORT_CONTENT_TYPE,
    // The name is cut first, so the date survives exportFilename's 100 characters.
    filename: `${exportFilename(`${Array.from(organization.name).slice(0, 80).join('')} export ${job.createdAt.toISOString().slice(0, 10)}`, 'json')}.gz`,
    gzip: true,
    prologue: `{"export":${JSON.stringify(header)}`,
    sections,
    epilogue: '\n}\n',
  };
}
